package xz

import (
	"bytes"
	"io"
	"testing"

	"github.com/ulikunitz/xz"
)

// benchmarkDecode decodes 4 MB of sample data compressed by xz -6 with
// decoder, for comparing this package with ulikunitz/xz:
//
//	go test ./internal/archive/xz -run NONE -bench Decode
func benchmarkDecode(b *testing.B, args []string, newReader func(io.Reader) (io.Reader, error)) {
	data := sample(4<<20, 11)
	enc := xzCLI(b, data, args...)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r, err := newReader(bytes.NewReader(enc))
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, r); err != nil || n != int64(len(data)) {
			b.Fatal(n, err)
		}
	}
}

func ours(r io.Reader) (io.Reader, error) { return NewReader(r, testMaxDict) }

func ulikunitz(r io.Reader) (io.Reader, error) { return xz.NewReader(r) }

func BenchmarkDecode(b *testing.B) {
	for _, c := range []struct {
		name string
		args []string
	}{{"6", []string{"-6"}}, {"0", []string{"-0"}}, {"6-sha256", []string{"-6", "--check=sha256"}}} {
		b.Run("ours-"+c.name, func(b *testing.B) { benchmarkDecode(b, c.args, ours) })
		b.Run("ulikunitz-"+c.name, func(b *testing.B) { benchmarkDecode(b, c.args, ulikunitz) })
	}
}

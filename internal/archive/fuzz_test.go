package archive

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/ulikunitz/xz/lzma"
)

// lzmaOf is data as a .lzma file, by ulikunitz/xz's writer (an end
// marker, no size, as the xz command writes).
func lzmaOf(tb testing.TB, data []byte) []byte {
	tb.Helper()
	var b bytes.Buffer
	w, err := lzma.WriterConfig{DictCap: 4096}.NewWriter(&b)
	if err != nil {
		tb.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// FuzzWalk: no input panics, and none makes the walk decompress more than
// its limit allows (plus one read buffer per level).
func FuzzWalk(f *testing.F) {
	inner := mkZip(f, file{Name: "a.txt", Data: []byte("hello\n")}, file{Name: "b/c.env", Data: []byte("x=1\n")})
	for _, seed := range [][]byte{
		inner,
		mkTar(f, file{Name: "a", Data: []byte("hello")}),
		mkGzip(f, mkTar(f, file{Name: "in.zip", Data: inner})),
		mkZstd(f, []byte("hello hello\n")),
		mkXz(f, mkTar(f, file{Name: "a", Data: []byte("x")})),
		mkGzip(f, []byte("plain\n")),
		lzmaOf(f, mkTar(f, file{Name: "a", Data: []byte("x")})),
		zipWithMethod(f, 14, 2, "a.env", zipLzmaMember(lzmaOf(f, []byte("x=1\n"))), []byte("x=1\n")),
	} {
		f.Add(seed)
	}
	lim := Limits{MaxDepth: 3, MaxExpanded: 1 << 20, MaxRatio: 100, RatioFloor: 64 << 10, MaxBuffer: 1 << 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		if Detect(data) == None {
			return
		}
		var read int64
		Walk(context.Background(), "f", bytes.NewReader(data), int64(len(data)), lim, func(m Member) error {
			n, err := io.Copy(io.Discard, m.Reader)
			read += n
			return err
		})
		if read > lim.MaxExpanded+4*(64<<10) {
			t.Fatalf("read %d bytes past a limit of %d", read, lim.MaxExpanded)
		}
	})
}

package xz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/ulikunitz/xz/lzma"
)

// lzmaCLI compresses data to .lzma with the xz command (always with an
// end marker and no size), skipping the test without it.
func lzmaCLI(tb testing.TB, data []byte, args ...string) []byte {
	tb.Helper()
	return xzCLI(tb, data, append([]string{"--format=lzma"}, args...)...)
}

// ulikunitzLzma compresses data to .lzma with ulikunitz/xz's writer, which
// can also declare the size and leave the end marker out.
func ulikunitzLzma(tb testing.TB, data []byte, cfg lzma.WriterConfig) []byte {
	tb.Helper()
	return compressWith(tb, data, func(w io.Writer) (io.WriteCloser, error) { return cfg.NewWriter(w) })
}

func decodeAlone(data []byte, maxDict int64) ([]byte, error) {
	r, err := NewAloneReader(bytes.NewReader(data), maxDict)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// TestLZMA1RoundTripCLI decodes what xz --format=lzma writes, read whole
// and a byte at a time, across the input buffer's refills.
func TestLZMA1RoundTripCLI(t *testing.T) {
	cases := []struct {
		n    int
		args []string
	}{
		{0, nil},
		{1, nil},
		{5000, nil},
		{200_000, []string{"-0"}},
		{300_000, []string{"--lzma1=dict=64KiB,lc=0,lp=4,pb=0"}},
		{100_000, []string{"--lzma1=dict=4KiB,lc=4,lp=0,pb=4"}},
		{50_000, []string{"-9e"}},
	}
	for i, c := range cases {
		data := sample(c.n, uint64(i))
		enc := lzmaCLI(t, data, c.args...)
		if !IsAlone(enc[:min(len(enc), AloneHeaderLen+1)]) {
			t.Errorf("%d bytes, %v: IsAlone refuses xz's output", c.n, c.args)
		}
		got, err := decodeAlone(enc, testMaxDict)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes, %v: decoded %d bytes, err %v", c.n, c.args, len(got), err)
		}
		if c.n > 10_000 {
			continue
		}
		r, err := NewAloneReader(iotest.OneByteReader(bytes.NewReader(enc)), testMaxDict)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := io.ReadAll(iotest.OneByteReader(r)); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes, %v, a byte at a time: decoded %d bytes, err %v", c.n, c.args, len(got), err)
		}
	}
}

// TestLZMA1DeclaredSize: data ended by its declared size, with and without
// an end marker after it, stops there; an end marker before it, or data
// after it, is an error.
func TestLZMA1DeclaredSize(t *testing.T) {
	data := sample(70_000, 3)
	noMarker := ulikunitzLzma(t, data, lzma.WriterConfig{DictCap: 1 << 16, Size: int64(len(data))})
	if got, err := decodeAlone(noMarker, testMaxDict); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("size, no end marker: decoded %d bytes, err %v", len(got), err)
	}
	marked := ulikunitzLzma(t, data, lzma.WriterConfig{DictCap: 1 << 16, Size: int64(len(data)), EOSMarker: true})
	if got, err := decodeAlone(marked, testMaxDict); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("size and end marker: decoded %d bytes, err %v", len(got), err)
	}
	// A smaller size declared is an error: the data goes on past it.
	for n := 1000; n < 1010; n++ {
		short := bytes.Clone(marked)
		binary.LittleEndian.PutUint64(short[5:13], uint64(n))
		if got, err := decodeAlone(short, testMaxDict); err == nil {
			t.Fatalf("size %d declared, %d encoded: decoded %d bytes, no error", n, len(data), len(got))
		}
	}
	long := bytes.Clone(marked)
	binary.LittleEndian.PutUint64(long[5:13], uint64(len(data)+1))
	if _, err := decodeAlone(long, testMaxDict); err == nil {
		t.Fatal("an end marker before the declared size: no error")
	}
}

// TestLZMA1Truncated cuts .lzma files at every length (the long one at
// every 97th): each cut is an error, never a shorter clean end.
func TestLZMA1Truncated(t *testing.T) {
	small := lzmaCLI(t, sample(3000, 4))
	sized := ulikunitzLzma(t, sample(3000, 4), lzma.WriterConfig{DictCap: 4096, Size: 3000})
	long := lzmaCLI(t, sample(150_000, 5), "-1")
	for _, c := range []struct {
		enc  []byte
		step int
	}{{small, 1}, {sized, 1}, {long, 97}} {
		for n := 0; n < len(c.enc); n += c.step {
			if _, err := decodeAlone(c.enc[:n], testMaxDict); err == nil {
				t.Fatalf("cut at %d of %d: no error", n, len(c.enc))
			}
		}
	}
}

// TestLZMA1Limits: a dictionary over the limit is refused before any
// memory is allocated for it, and properties the decoder does not support
// are named.
func TestLZMA1Limits(t *testing.T) {
	enc := lzmaCLI(t, sample(1000, 6), "-9") // a 64 MiB dictionary
	if _, err := decodeAlone(enc, 8<<20); !errors.Is(err, ErrDictTooLarge) {
		t.Fatalf("got %v, want ErrDictTooLarge", err)
	}
	if _, err := decodeAlone(enc, 64<<20); err != nil {
		t.Fatalf("within the limit: %v", err)
	}
	bad := bytes.Clone(enc)
	bad[0] = 8 + 9*1 // lc=8, lp=1
	if _, err := decodeAlone(bad, testMaxDict); !errors.Is(err, ErrLZMAProps) {
		t.Fatalf("lc=8: got %v, want ErrLZMAProps", err)
	}
	bad[0] = 225
	if _, err := decodeAlone(bad, testMaxDict); err == nil {
		t.Fatal("properties byte 225: no error")
	}
}

// TestIsAlone: xz's rules for .lzma headers.
func TestIsAlone(t *testing.T) {
	head := func(props byte, dict uint32, size uint64, first byte) []byte {
		h := []byte{props}
		h = binary.LittleEndian.AppendUint32(h, dict)
		h = binary.LittleEndian.AppendUint64(h, size)
		return append(h, first)
	}
	for _, c := range []struct {
		h    []byte
		want bool
	}{
		{head(0x5d, 1<<23, 1<<64-1, 0), true},
		{head(0x5d, 3<<20, 1000, 0), true},
		{head(0x5d, 0xFFFFFFFF, 1000, 0), true},
		{head(0x5d, 5<<20, 1000, 0), false},   // not 2^n or 2^n + 2^(n-1)
		{head(0x5d, 3<<20+1, 1000, 0), false}, // nor this
		{head(0, 0, 0, 0), false},             // zeros
		{head(0, 2048, 0, 0), false},          // under 4 KiB
		{head(0x5d, 1<<23, 1<<40, 0), false},  // 1 TiB declared
		{head(0x5d, 1<<23, 1000, 1), false},   // a range coder starts with 0
		{head(225, 1<<23, 1<<64-1, 0), false}, // properties out of range
		{head(0x5d, 1<<23, 1<<64-1, 0)[:13], false},
		{[]byte("]hello world, this is text"), false},
	} {
		if got := IsAlone(c.h); got != c.want {
			t.Errorf("IsAlone(% x) = %v, want %v", c.h, got, c.want)
		}
	}
}

// TestZipLZMA reads zip method 14's framing: the 4-byte header, the
// properties, the data, ended by size or by an end marker.
func TestZipLZMA(t *testing.T) {
	data := sample(20_000, 7)
	enc := lzmaCLI(t, data, "--lzma1=dict=1MiB")
	member := append([]byte{9, 20, 5, 0}, enc[:5]...)
	member = append(member, enc[AloneHeaderLen:]...)
	for _, size := range []int64{int64(len(data)), -1} {
		r, err := NewZipLZMAReader(bytes.NewReader(member), size, testMaxDict)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("size %d: decoded %d bytes, err %v", size, len(got), err)
		}
	}
	bad := bytes.Clone(member)
	bad[2] = 6
	if _, err := NewZipLZMAReader(bytes.NewReader(bad), -1, testMaxDict); err == nil {
		t.Fatal("properties size 6: no error")
	}
}

package zstd

import (
	"bytes"
	"errors"
	"io"
	"testing"

	kzstd "github.com/klauspost/compress/zstd"
)

const (
	fuzzWindow = 1 << 20 // the window bound both decoders get
	fuzzLimit  = 1 << 20 // output read from each, bounding the work per input
)

// klauspost decodes data with klauspost's decoder, as internal/archive
// configures it, reading at most fuzzLimit bytes.
func klauspost(tb testing.TB, data []byte) ([]byte, error) {
	tb.Helper()
	d, err := kzstd.NewReader(bytes.NewReader(data), kzstd.WithDecoderConcurrency(1), kzstd.WithDecoderLowmem(true),
		kzstd.WithDecoderMaxWindow(fuzzWindow), kzstd.WithDecoderMaxMemory(64<<20))
	if err != nil {
		tb.Fatal(err)
	}
	defer d.Close()
	return io.ReadAll(io.LimitReader(d, fuzzLimit))
}

// ours decodes data, reading at most fuzzLimit bytes.
func ours(tb testing.TB, data []byte) ([]byte, error) {
	tb.Helper()
	r, err := NewReader(bytes.NewReader(data), fuzzWindow)
	if err != nil {
		tb.Fatal(err)
	}
	return io.ReadAll(io.LimitReader(r, fuzzLimit))
}

// compare checks data against klauspost's decoder: what it decodes, ours
// decodes to the same bytes; what ours decodes without error, it decodes
// too when strict (corruption of a valid frame must not pass unnoticed
// where klauspost notices).
func compare(t *testing.T, data []byte, strict bool) {
	t.Helper()
	got, err := ours(t, data)
	want, kerr := klauspost(t, data)
	switch {
	case kerr == nil && err != nil:
		t.Fatalf("klauspost decodes %d bytes, ours fails: %v", len(want), err)
	case err == nil && kerr != nil && strict:
		t.Fatalf("ours decodes %d bytes, klauspost fails: %v", len(got), kerr)
	case err == nil && kerr == nil && !bytes.Equal(got, want):
		t.Fatalf("ours decodes %d bytes, klauspost %d different ones", len(got), len(want))
	}
	if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, io.ErrUnexpectedEOF) &&
		!errors.Is(err, ErrChecksum) && !errors.Is(err, ErrWindowTooLarge) && !errors.Is(err, ErrDictionary) {
		t.Fatalf("error of no known kind: %v", err)
	}
}

// seeds are frames made at test time for the fuzz corpus and the corruption
// tests: small, covering each kind of block, literals and table mode.
func seeds(tb testing.TB) [][]byte {
	text := []byte("The quick brown fox jumps over the lazy dog; the lazy dog sleeps. 0123456789 the quick fox\n")
	var out [][]byte
	for _, o := range [][]kzstd.EOption{
		{kzstd.WithEncoderLevel(kzstd.SpeedFastest), kzstd.WithEncoderCRC(false)},
		{kzstd.WithEncoderLevel(kzstd.SpeedBestCompression), kzstd.WithEncoderCRC(false)},
		{kzstd.WithEncoderLevel(kzstd.SpeedBetterCompression), kzstd.WithWindowSize(1 << 10), kzstd.WithSingleSegment(false)},
		{kzstd.WithNoEntropyCompression(true)},
	} {
		enc, err := kzstd.NewWriter(nil, o...)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out,
			enc.EncodeAll(text, nil),
			enc.EncodeAll(bytes.Repeat(text, 30), nil),
			enc.EncodeAll(bytes.Repeat([]byte{'a'}, 3000), nil),
			enc.EncodeAll(nil, nil))
		enc.Close()
	}
	// Two blocks: the second repeats the first's tables.
	var buf bytes.Buffer
	enc, err := kzstd.NewWriter(&buf, kzstd.WithWindowSize(1<<10), kzstd.WithEncoderConcurrency(1))
	if err != nil {
		tb.Fatal(err)
	}
	for range 3 {
		enc.Write(bytes.Repeat(text, 8))
		enc.Flush()
	}
	if err := enc.Close(); err != nil {
		tb.Fatal(err)
	}
	out = append(out, buf.Bytes())
	// Hand-made: direct Huffman weights in four streams, and two-byte
	// sequence counts with RLE tables.
	lits := []byte("abbaabababbbaaabbbababaab")
	blk := append(huffAB(lits, 4), 0)
	out = append(out, frame{size: -1, window: 2 << 3, blocks: [][]byte{block(true, 2, len(blk), blk)}}.bytes())
	many, _ := manySequences(300)
	out = append(out, many)
	return out
}

// TestCorruption flips every bit of small frames and truncates them at every
// length: the result is an error, or what klauspost makes of it.
func TestCorruption(t *testing.T) {
	for _, seed := range seeds(t) {
		for i := range len(seed) * 8 {
			b := bytes.Clone(seed)
			b[i/8] ^= 1 << (i % 8)
			compare(t, b, true)
		}
		for n := 1; n < len(seed); n++ {
			got, err := ours(t, seed[:n])
			if err == nil {
				t.Fatalf("%d-byte prefix of a %d-byte frame decodes to %q without error", n, len(seed), got)
			}
		}
	}
}

// FuzzZstd compares with klauspost's decoder on arbitrary input.
func FuzzZstd(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		compare(t, data, false)
	})
}

// TestEmptyInput: an empty stream is empty output, as klauspost has it.
func TestEmptyInput(t *testing.T) {
	compare(t, nil, true)
	if got, err := ours(t, nil); err != nil || len(got) != 0 {
		t.Fatalf("got %q, %v", got, err)
	}
}

package inflate

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

// oracle decodes src with compress/zlib: what it yields, how many bytes of
// src the stream took, and its error.
func oracle(src []byte) ([]byte, int, error) {
	br := bytes.NewReader(src)
	zr, err := zlib.NewReader(br)
	if err != nil {
		return nil, 0, err
	}
	out, err := io.ReadAll(zr)
	return out, len(src) - br.Len(), err
}

// check holds Zlib to the oracle on src: the same content and length when
// the oracle accepts the stream; a refusal of every size when it does not.
func check(t testing.TB, d *Decoder, src []byte) {
	t.Helper()
	want, wantN, wantErr := oracle(src)
	if wantErr != nil {
		for _, size := range []int{len(want), len(want) + 1, 0} {
			if n, err := d.Zlib(make([]byte, size), src); err == nil {
				t.Fatalf("compress/zlib refuses the stream (%v) after %d bytes; Zlib into %d bytes accepts it (%d bytes of input)",
					wantErr, len(want), size, n)
			}
		}
		return
	}
	got := make([]byte, len(want))
	n, err := d.Zlib(got, src)
	if err != nil {
		t.Fatalf("Zlib into %d bytes: %v; compress/zlib accepts the stream", len(want), err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Zlib decoded %d bytes unlike compress/zlib", len(want))
	}
	if n != wantN {
		t.Fatalf("Zlib took %d bytes of input, compress/zlib %d", n, wantN)
	}
	if _, err := d.Zlib(make([]byte, len(want)+1), src); !errors.Is(err, ErrShorter) {
		t.Fatalf("Zlib into one byte more than the stream holds: %v, want ErrShorter", err)
	}
	if len(want) > 0 {
		if _, err := d.Zlib(make([]byte, len(want)-1), src); !errors.Is(err, ErrLonger) {
			t.Fatalf("Zlib into one byte less than the stream holds: %v, want ErrLonger", err)
		}
	}
}

func compress(t testing.TB, data []byte, level int) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := zlib.NewWriterLevel(&b, level)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	w.Close()
	return b.Bytes()
}

// samples are contents shaped like what packs hold: text, source, binary,
// runs, noise, and the empty content.
func samples() map[string][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	noise := make([]byte, 70000)
	for i := range noise {
		noise[i] = byte(r.Uint32())
	}
	var text bytes.Buffer
	for i := 0; text.Len() < 300000; i++ {
		fmt.Fprintf(&text, "line %d: the quick brown fox %x jumps over %d lazy dogs\n", i, r.Uint32()%512, i%17)
	}
	skewed := make([]byte, 100000) // few symbols, long codes: subtables
	for i := range skewed {
		v := r.ExpFloat64() * 3
		skewed[i] = byte(min(v, 255))
	}
	wide := make([]byte, 50000) // all 256 literals at once
	for i := range wide {
		wide[i] = byte(i*7 + i/256)
	}
	return map[string][]byte{
		"empty":  {},
		"one":    {'x'},
		"short":  []byte("tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor A <a@example.invalid> 1 +0000\n"),
		"run":    bytes.Repeat([]byte{'a'}, 100000),
		"period": bytes.Repeat([]byte("abcdefg"), 20000),
		"noise":  noise,
		"text":   text.Bytes(),
		"skewed": skewed,
		"wide":   wide,
	}
}

// TestRoundTrip: every level of compress/zlib (stored, Huffman-only, fixed
// and dynamic blocks, long and overlapping matches) decodes to the input.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	var d Decoder
	for name, data := range samples() {
		for _, level := range []int{flate.HuffmanOnly, flate.NoCompression, flate.BestSpeed, 2, 5, flate.DefaultCompression, flate.BestCompression} {
			src := compress(t, data, level)
			got := make([]byte, len(data))
			n, err := d.Zlib(got, append(src, "trailing"...))
			if err != nil {
				t.Fatalf("%s, level %d: %v", name, level, err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("%s, level %d: decoded content differs", name, level)
			}
			if n != len(src) {
				t.Fatalf("%s, level %d: took %d bytes, the stream is %d", name, level, n, len(src))
			}
			check(t, &d, src)
		}
	}
}

// TestTruncated: a stream cut anywhere is refused, never read as shorter
// content.
func TestTruncated(t *testing.T) {
	t.Parallel()
	var d Decoder
	for name, data := range samples() {
		if len(data) > 5000 {
			data = data[:5000]
		}
		for _, level := range []int{flate.NoCompression, flate.BestSpeed, flate.DefaultCompression} {
			src := compress(t, data, level)
			for cut := 0; cut < len(src); cut++ {
				if _, err := d.Zlib(make([]byte, len(data)), src[:cut]); err == nil {
					t.Fatalf("%s, level %d, cut at %d of %d: accepted", name, level, cut, len(src))
				}
			}
		}
	}
}

// TestCorrupted: with any one bit flipped, Zlib accepts and refuses what
// compress/zlib does, content and length alike.
func TestCorrupted(t *testing.T) {
	t.Parallel()
	var d Decoder
	for _, data := range samples() {
		if len(data) > 300 {
			data = data[:300]
		}
		for _, level := range []int{flate.NoCompression, flate.BestSpeed, flate.DefaultCompression} {
			src := compress(t, data, level)
			for bit := 0; bit < 8*len(src); bit++ {
				c := bytes.Clone(src)
				c[bit/8] ^= 1 << (bit % 8)
				check(t, &d, c)
			}
		}
	}
}

// TestHeader: what is not a zlib stream of deflate is refused as such.
func TestHeader(t *testing.T) {
	var d Decoder
	good := compress(t, []byte("hello"), 6)
	for _, tc := range []struct {
		name string
		src  []byte
		want error
	}{
		{"empty", nil, io.ErrUnexpectedEOF},
		{"one byte", good[:1], io.ErrUnexpectedEOF},
		{"not deflate", append([]byte{0x79, good[1]}, good[2:]...), ErrHeader},
		{"window too large", []byte{0x88, 0x1c, 0x01, 0, 0, 0xff, 0xff}, ErrHeader},
		{"bad check bits", append([]byte{good[0], good[1] ^ 1}, good[2:]...), ErrHeader},
		{"dictionary", []byte{0x78, 0xbb, 0, 0, 0, 0}, ErrDictionary},
		{"checksum", append(bytes.Clone(good[:len(good)-1]), good[len(good)-1]^1), ErrChecksum},
		{"no checksum", good[:len(good)-4], io.ErrUnexpectedEOF},
	} {
		if _, err := d.Zlib(make([]byte, 5), tc.src); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestHandBuilt: streams no encoder writes, built bit by bit: the corners
// of RFC 1951 that git's zlib never takes but a forged pack may.
func TestHandBuilt(t *testing.T) {
	var d Decoder
	for _, tc := range []struct {
		name string
		bits string // deflate bits in stream order, "." separated for reading
	}{
		// Fixed block: literal 'a' (0x61 -> code 0x30+0x61=0x91, 8 bits),
		// then a length 3 / distance 1 copy, then end of block.
		{"fixed overlap", "1.10.10010001.0000001.00000.0000000"},
		// A distance before the start of the output.
		{"distance too far", "1.10.0000001.00001.0000000"},
		// Length symbol 286 (fixed code 11000110), which deflate forbids.
		{"length 286", "1.10.11000110.0000000"},
		// Distance symbol 30 (fixed code 11110) after literal 'a'.
		{"distance 30", "1.10.10010001.0000001.11110.0000000"},
		// Block type 3.
		{"block type 3", "1.11.0000000"},
		// Stored block with a bad complement.
		{"stored length", "1.00.00000.00000001000000000000000100000000"},
		// Two blocks: a non-final stored empty block, then fixed 'a'.
		{"stored then fixed", "0.00.00000.0000000000000000" + "1111111111111111" + "1.10.10010001.0000000"},
	} {
		src := zlibWrap(bitsToBytes(tc.name, tc.bits))
		t.Run(tc.name, func(t *testing.T) { check(t, &d, src) })
	}
}

// zlibWrap puts a zlib header (and a checksum of what a valid stream
// decodes to, from the oracle's raw decoder) around raw deflate data.
func zlibWrap(raw []byte) []byte {
	out, _ := io.ReadAll(flate.NewReader(bytes.NewReader(raw)))
	sum := adler32(out)
	src := append([]byte{0x78, 0x9c}, raw...)
	return append(src, byte(sum>>24), byte(sum>>16), byte(sum>>8), byte(sum))
}

// bitsToBytes packs bits written in stream order ("." ignored): a Huffman
// code is written most significant bit first, as RFC 1951 draws it.
func bitsToBytes(name, s string) []byte {
	var out []byte
	n := 0
	for _, c := range s {
		if c == '.' {
			continue
		}
		if n%8 == 0 {
			out = append(out, 0)
		}
		if c == '1' {
			out[n/8] |= 1 << (n % 8)
		} else if c != '0' {
			panic(name + ": bad bit")
		}
		n++
	}
	return out
}

// TestBuildCompleteness: codes over-subscribed or incomplete are refused,
// the single one-bit code and the empty code are not.
func TestBuildCompleteness(t *testing.T) {
	var table [litlenSize]uint32
	var entries symbolEntries
	entries.fill()
	for _, tc := range []struct {
		lens []uint8
		ok   bool
	}{
		{[]uint8{1, 1}, true},
		{[]uint8{1, 1, 1}, false},
		{[]uint8{1, 2}, false},
		{[]uint8{1}, true},
		{[]uint8{0, 0, 0}, true},
		{[]uint8{2}, false},
		{[]uint8{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 15}, true},
		{[]uint8{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, false},
	} {
		if got := build(table[:], litlenBits, tc.lens, entries.litlen[:]); got != tc.ok {
			t.Errorf("lengths %v: build %v, want %v", tc.lens, got, tc.ok)
		}
	}
}

package zstd

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

// Frames built by hand for the paths no encoder at hand takes: direct
// (4-bit) Huffman weights, and blocks of more than 0x7F00 sequences. Each is
// checked against the content it was built from and against klauspost.

// bitWriter writes a bit stream that bitReader reads backward: the value
// written last is read first.
type bitWriter struct {
	b    []byte
	nbit uint
}

func (w *bitWriter) write(v uint64, k uint) {
	for i := uint(0); i < k; i++ {
		if w.nbit%8 == 0 {
			w.b = append(w.b, 0)
		}
		w.b[len(w.b)-1] |= byte(v>>i&1) << (w.nbit % 8)
		w.nbit++
	}
}

// close writes the end mark and returns the stream.
func (w *bitWriter) close() []byte {
	w.write(1, 1)
	return w.b
}

// huffAB encodes literals of only 'a' and 'b' with one-bit codes ('a' 0,
// 'b' 1) described by direct weights: symbols 0 to 97 listed, 'a' weight 1,
// 'b' (98, the last) implied.
func huffAB(lits []byte, streams int) []byte {
	tree := []byte{127 + 98}
	nib := make([]byte, 49)
	nib[97/2] = 1 // symbol 97 is odd: the low nibble
	tree = append(tree, nib...)
	stream := func(p []byte) []byte {
		var w bitWriter
		for i := len(p) - 1; i >= 0; i-- {
			w.write(uint64(p[i]-'a'), 1)
		}
		return w.close()
	}
	body := tree
	if streams == 1 {
		body = append(body, stream(lits)...)
	} else {
		seg := (len(lits) + 3) / 4
		var parts [4][]byte
		for i := range parts {
			parts[i] = stream(lits[min(i*seg, len(lits)):min((i+1)*seg, len(lits))])
		}
		for _, p := range parts[:3] {
			body = append(body, byte(len(p)), byte(len(p)>>8))
		}
		for _, p := range parts {
			body = append(body, p...)
		}
	}
	// Literals header: compressed, size format 0 (one stream, 10-bit sizes)
	// or 2 (four streams, 14-bit sizes).
	var hdr []byte
	if streams == 1 {
		h := uint32(2) | uint32(len(lits))<<4 | uint32(len(body))<<14
		hdr = []byte{byte(h), byte(h >> 8), byte(h >> 16)}
	} else {
		h := uint32(2) | 2<<2 | uint32(len(lits))<<4 | uint32(len(body))<<18
		hdr = []byte{byte(h), byte(h >> 8), byte(h >> 16), byte(h >> 24)}
	}
	return append(hdr, body...)
}

func TestDirectHuffmanWeights(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct {
		n, streams int
	}{{1, 1}, {9, 1}, {1000, 1}, {6, 4}, {7, 4}, {1000, 4}, {4001, 4}} {
		lits := make([]byte, c.n)
		for i := range lits {
			lits[i] = 'a' + byte(rng.IntN(2))
		}
		blk := append(huffAB(lits, c.streams), 0) // no sequences
		data := frame{size: int64(len(lits)), window: 2 << 3, checksum: true, content: lits,
			blocks: [][]byte{block(true, 2, len(blk), blk)}}.bytes()
		got, err := decode(data, 1<<20)
		if err != nil || !bytes.Equal(got, lits) {
			t.Fatalf("%d literals in %d streams: got %q, %v", c.n, c.streams, got, err)
		}
		compare(t, data, true)
	}
}

// manySequences is a frame of a 4-byte raw block and a compressed block of
// n matches, each three bytes long (match length code 0) with no literals
// (literal length code 0) and offset code 0: with no literals, offset
// value 1 means the second repeat offset, which swaps with the first, so
// the offsets alternate 4, 1, 4, 1, ... Every table is RLE: no bits at all.
func manySequences(n int) (data, want []byte) {
	want = []byte("abcd")
	for i := range n {
		off := 4
		if i%2 == 1 {
			off = 1
		}
		for range 3 {
			want = append(want, want[len(want)-off])
		}
	}
	blk := []byte{0} // raw literals, none
	switch {
	case n < 128:
		blk = append(blk, byte(n))
	case n < 0x7F00:
		blk = append(blk, byte(n>>8)+128, byte(n))
	default:
		blk = append(blk, 255, byte(n-0x7F00), byte((n-0x7F00)>>8))
	}
	blk = append(blk, 1<<6|1<<4|1<<2, 0, 0, 0, 1) // RLE modes, symbols 0, empty stream
	data = frame{size: int64(len(want)), window: 7 << 3, checksum: true, content: want, blocks: [][]byte{
		block(false, 0, 4, []byte("abcd")),
		block(true, 2, len(blk), blk),
	}}.bytes()
	return data, want
}

func TestManySequences(t *testing.T) {
	for _, n := range []int{1, 127, 128, 0x7EFF, 0x7F00, 0x7F00 + 300, maxBlockSize / 3} {
		data, want := manySequences(n)
		got, err := decode(data, 1<<20)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%d sequences: %d bytes, %v", n, len(got), err)
		}
		compare(t, data, true)
	}
	// One more sequence makes the block exceed 128 KiB.
	data, _ := manySequences(maxBlockSize/3 + 1)
	if _, err := decode(data, 1<<20); err == nil {
		t.Fatal("a block decoding to more than 128 KiB was accepted")
	}
}

// oneMatch is a compressed block of one sequence with no literals: a
// three-byte match at offset, every table RLE.
func oneMatch(offset int) []byte {
	v := offset + 3 // offset values 1 to 3 are repeat codes
	code := 0
	for v>>(code+1) != 0 {
		code++
	}
	var w bitWriter
	w.write(uint64(v-1<<code), uint(code))
	return append([]byte{0, 1, 1<<6 | 1<<4 | 1<<2, 0, byte(code), 0}, w.close()...)
}

// TestMatchBounds: a match may reach back the whole window, not further,
// even when more output precedes it.
func TestMatchBounds(t *testing.T) {
	kib := bytes.Repeat([]byte("0123456789abcdef"), 64)
	mk := func(offset int) []byte {
		m := oneMatch(offset)
		return frame{size: -1, window: 0, blocks: [][]byte{ // a 1 KiB window
			block(false, 0, len(kib), kib),
			block(false, 0, len(kib), kib),
			block(true, 2, len(m), m),
		}}.bytes()
	}
	for _, off := range []int{1, 16, 1000, 1024} {
		got, err := decode(mk(off), 1<<20)
		want := append(bytes.Clone(kib), kib...)
		for range 3 {
			want = append(want, want[len(want)-off])
		}
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("offset %d: %q..., %v", off, got[min(len(got), 2048):], err)
		}
		compare(t, mk(off), true)
	}
	for _, off := range []int{1025, 2048, 2049, 1 << 20} {
		if _, err := decode(mk(off), 1<<20); !errors.Is(err, ErrCorrupt) {
			t.Errorf("offset %d beyond a 1 KiB window: err = %v", off, err)
		}
		compare(t, mk(off), true) // klauspost refuses it too
	}
	// Before any output, no offset is valid.
	m := oneMatch(1)
	if _, err := decode(frame{size: -1, blocks: [][]byte{block(true, 2, len(m), m)}}.bytes(), 1<<20); !errors.Is(err, ErrCorrupt) {
		t.Errorf("match before any output: err = %v", err)
	}
}

// TestMemoryBound: however much a frame decodes to, the buffer stays within
// two windows and a block.
func TestMemoryBound(t *testing.T) {
	blocks := make([][]byte, 200)
	for i := range blocks {
		blocks[i] = block(i == len(blocks)-1, 1, 64<<10, []byte{byte(i)})
	}
	data := frame{size: -1, window: 6 << 3, blocks: blocks}.bytes() // 64 KiB window
	r, err := NewReader(bytes.NewReader(data), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5000)
	var total, most int
	for {
		n, err := r.Read(buf)
		total += n
		most = max(most, cap(r.hist))
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if total != len(blocks)*64<<10 {
		t.Fatalf("decoded %d bytes", total)
	}
	if limit := 2*64<<10 + 64<<10; most > limit {
		t.Fatalf("buffer grew to %d bytes, over %d", most, limit)
	}
}

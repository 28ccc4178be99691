package zstd

import (
	"encoding/binary"
	"math/bits"
)

const maxHuffBits = 11

// huffTable decodes Huffman-coded literals: indexed by the next maxBits bits
// of a stream, each entry holds a symbol (high byte) and its code length
// (low byte).
type huffTable struct {
	maxBits uint
	e       [1 << maxHuffBits]uint16
}

// literals decodes the literals section at the front of a compressed block
// (RFC 8878 section 3.1.1.3.1) and returns the literals and the rest of the
// block. Raw literals are returned in place.
func (z *Reader) literals(b []byte) (lits, rest []byte, err error) {
	if len(b) == 0 {
		return nil, nil, corrupt("empty compressed block")
	}
	typ, format := b[0]&3, b[0]>>2&3
	if typ < 2 { // raw or RLE
		var size, hl int
		switch format {
		case 0, 2:
			size, hl = int(b[0]>>3), 1
		case 1:
			if len(b) < 2 {
				return nil, nil, corrupt("truncated literals header")
			}
			size, hl = int(b[0]>>4)|int(b[1])<<4, 2
		case 3:
			if len(b) < 3 {
				return nil, nil, corrupt("truncated literals header")
			}
			size, hl = int(b[0]>>4)|int(b[1])<<4|int(b[2])<<12, 3
		}
		if size > z.blockMax {
			return nil, nil, corrupt("%d literals exceed the block limit of %d", size, z.blockMax)
		}
		b = b[hl:]
		if typ == 0 {
			if len(b) < size {
				return nil, nil, corrupt("raw literals run past the block")
			}
			return b[:size], b[size:], nil
		}
		if len(b) < 1 {
			return nil, nil, corrupt("RLE literals run past the block")
		}
		lits = z.litBuf(size)
		for i := range lits {
			lits[i] = b[0]
		}
		return lits, b[1:], nil
	}
	hl, sizeBits, streams := 3, uint(10), 4
	switch format {
	case 0:
		streams = 1
	case 2:
		hl, sizeBits = 4, 14
	case 3:
		hl, sizeBits = 5, 18
	}
	if len(b) < hl {
		return nil, nil, corrupt("truncated literals header")
	}
	var h uint64
	for i := hl - 1; i >= 0; i-- {
		h = h<<8 | uint64(b[i])
	}
	mask := uint64(1)<<sizeBits - 1
	size, csize := int(h>>4&mask), int(h>>(4+sizeBits)&mask)
	if size > z.blockMax {
		return nil, nil, corrupt("%d literals exceed the block limit of %d", size, z.blockMax)
	}
	b = b[hl:]
	if len(b) < csize {
		return nil, nil, corrupt("compressed literals run past the block")
	}
	in, rest := b[:csize], b[csize:]
	if typ == 2 {
		n, err := z.huff.read(in)
		if err != nil {
			return nil, nil, err
		}
		z.huffValid = true
		in = in[n:]
	} else if !z.huffValid {
		return nil, nil, corrupt("treeless literals without a previous Huffman table")
	}
	lits = z.litBuf(size)
	if streams == 1 {
		err = z.huff.decode(lits, in)
	} else {
		err = z.huff.decode4(lits, in)
	}
	if err != nil {
		return nil, nil, err
	}
	return lits, rest, nil
}

// litBuf returns the literal buffer, n bytes long.
func (z *Reader) litBuf(n int) []byte {
	if cap(z.lits) < n {
		z.lits = make([]byte, max(n, min(z.blockMax, maxBlockSize)))
	}
	return z.lits[:n]
}

// read reads a Huffman tree description (RFC 8878 section 4.2.1) from the
// front of b and returns the bytes it took.
func (h *huffTable) read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, corrupt("missing Huffman tree description")
	}
	var w [256]uint8
	var nw, n int
	if hb := int(b[0]); hb >= 128 {
		nw = hb - 127
		n = 1 + (nw+1)/2
		if len(b) < n {
			return 0, corrupt("truncated Huffman weights")
		}
		for i := 0; i < nw; i++ {
			c := b[1+i/2]
			if i%2 == 0 {
				c >>= 4
			}
			w[i] = c & 15
		}
	} else {
		n = 1 + hb
		if len(b) < n {
			return 0, corrupt("truncated Huffman weights")
		}
		var err error
		if nw, err = fseWeights(b[1:n], &w); err != nil {
			return 0, err
		}
	}
	var sum uint32
	for _, x := range w[:nw] {
		if x > maxHuffBits {
			return 0, corrupt("Huffman weight %d exceeds %d", x, maxHuffBits)
		}
		if x > 0 {
			sum += 1 << (x - 1)
		}
	}
	if sum == 0 {
		return 0, corrupt("Huffman weights all zero")
	}
	maxBits := uint(bits.Len32(sum))
	if maxBits > maxHuffBits {
		return 0, corrupt("Huffman codes longer than %d bits", maxHuffBits)
	}
	left := uint32(1)<<maxBits - sum
	if left&(left-1) != 0 {
		return 0, corrupt("Huffman weights do not make a prefix code")
	}
	w[nw] = uint8(bits.Len32(left))
	nsym := nw + 1
	var rank1 int
	for _, x := range w[:nsym] {
		if x == 1 {
			rank1++
		}
	}
	if rank1 < 2 || rank1&1 != 0 {
		return 0, corrupt("Huffman weights do not make a prefix code")
	}
	// Codes are assigned from the longest (weight 1) up, symbols in order
	// within a weight: each takes 2^(weight-1) consecutive table entries.
	pos := 0
	for x := uint8(1); x <= uint8(maxBits); x++ {
		e := uint16(maxBits + 1 - uint(x))
		span := 1 << (x - 1)
		for s, y := range w[:nsym] {
			if y != x {
				continue
			}
			v := uint16(s)<<8 | e
			for i := pos; i < pos+span; i++ {
				h.e[i] = v
			}
			pos += span
		}
	}
	h.maxBits = maxBits
	return n, nil
}

// fseWeights decodes FSE-compressed Huffman weights: two states sharing one
// table take turns until the stream runs out (RFC 8878 section 4.2.1.2).
func fseWeights(b []byte, w *[256]uint8) (int, error) {
	var norm [256]int16
	nsym, log, n, err := readCounts(b, &norm, 12, 6)
	if err != nil {
		return 0, err
	}
	var t fseTable
	if err := t.build(norm[:nsym], log); err != nil {
		return 0, err
	}
	var br bitReader
	if err := br.init(b[n:]); err != nil {
		return 0, err
	}
	s := [2]uint64{br.read(log), br.read(log)}
	count := 0
	for i := 0; ; i ^= 1 {
		if count >= 255 {
			return 0, corrupt("too many Huffman weights")
		}
		e := t.e[s[i]]
		w[count] = e.sym
		count++
		s[i] = uint64(e.base) + br.read(uint(e.nb))
		if br.over > 0 {
			if count >= 255 {
				return 0, corrupt("too many Huffman weights")
			}
			w[count] = t.e[s[i^1]].sym
			count++
			return count, nil
		}
	}
}

// decode decodes one Huffman stream that fills dst exactly.
func (h *huffTable) decode(dst, src []byte) error {
	var br bitReader
	if err := br.init(src); err != nil {
		return err
	}
	i := 0
	for ; br.off >= 8 && i+4 <= len(dst); i += 4 {
		h.four(&br, dst[i:i+4])
	}
	return h.tail(&br, dst[i:])
}

// four decodes four symbols into d. The caller makes sure br has 8 bytes
// left to load: a refill then leaves at least 57 bits, enough for four
// codes of at most 11 bits.
func (h *huffTable) four(br *bitReader, d []byte) {
	br.refill()
	mb := h.maxBits
	mask := uint64(1)<<mb - 1
	v, n := br.v, br.n
	e := h.e[v>>(n-mb)&mask]
	n -= uint(e & 0xFF)
	d[0] = byte(e >> 8)
	e = h.e[v>>(n-mb)&mask]
	n -= uint(e & 0xFF)
	d[1] = byte(e >> 8)
	e = h.e[v>>(n-mb)&mask]
	n -= uint(e & 0xFF)
	d[2] = byte(e >> 8)
	e = h.e[v>>(n-mb)&mask]
	n -= uint(e & 0xFF)
	d[3] = byte(e >> 8)
	br.n = n
}

// tail decodes the symbols that fill dst, checking each against the end of
// the stream, and checks the stream is then consumed exactly.
func (h *huffTable) tail(br *bitReader, dst []byte) error {
	mb := h.maxBits
	mask := uint64(1)<<mb - 1
	for i := range dst {
		if br.n < mb {
			br.refill()
		}
		var e uint16
		if br.n >= mb {
			e = h.e[br.v>>(br.n-mb)&mask]
		} else {
			e = h.e[br.v<<(mb-br.n)&mask]
		}
		nb := uint(e & 0xFF)
		if nb > br.n {
			return corrupt("Huffman stream overrun")
		}
		br.n -= nb
		dst[i] = byte(e >> 8)
	}
	if !br.done() {
		return corrupt("Huffman stream not consumed exactly")
	}
	return nil
}

// decode4 decodes the four streams behind a jump table that fill dst,
// interleaved: the four are independent, so the processor overlaps them.
func (h *huffTable) decode4(dst, src []byte) error {
	if len(src) < 6 {
		return corrupt("truncated Huffman jump table")
	}
	s1 := int(binary.LittleEndian.Uint16(src))
	s2 := int(binary.LittleEndian.Uint16(src[2:]))
	s3 := int(binary.LittleEndian.Uint16(src[4:]))
	src = src[6:]
	if s1+s2+s3 > len(src) {
		return corrupt("Huffman streams run past the literals")
	}
	seg := (len(dst) + 3) / 4
	if 3*seg > len(dst) {
		return corrupt("too few literals for four streams")
	}
	var br [4]bitReader
	for i, p := range [4][]byte{src[:s1], src[s1 : s1+s2], src[s1+s2 : s1+s2+s3], src[s1+s2+s3:]} {
		if err := br[i].init(p); err != nil {
			return err
		}
	}
	d0, d1, d2, d3 := dst[:seg], dst[seg:2*seg], dst[2*seg:3*seg], dst[3*seg:]
	i := 0
	for ; i+4 <= len(d3) && br[0].off >= 8 && br[1].off >= 8 && br[2].off >= 8 && br[3].off >= 8; i += 4 {
		h.four(&br[0], d0[i:i+4])
		h.four(&br[1], d1[i:i+4])
		h.four(&br[2], d2[i:i+4])
		h.four(&br[3], d3[i:i+4])
	}
	for k, d := range [4][]byte{d0, d1, d2, d3} {
		if err := h.tail(&br[k], d[i:]); err != nil {
			return err
		}
	}
	return nil
}

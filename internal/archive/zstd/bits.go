package zstd

import (
	"encoding/binary"
	"math/bits"
)

// bitReader reads a backward bit stream (RFC 8878 section 4.1): the last
// byte's highest set bit marks the end of padding, and bits are read from
// there towards the first byte, each value most significant bit first.
type bitReader struct {
	in   []byte
	off  int    // in[:off] is not loaded yet
	v    uint64 // loaded bits: the unread ones are the low n bits
	n    uint
	over uint // bits read past the start of the stream, as zeros
}

// init starts reading in, which must be a whole bit stream.
func (br *bitReader) init(in []byte) error {
	if len(in) == 0 {
		return corrupt("empty bit stream")
	}
	last := in[len(in)-1]
	if last == 0 {
		return corrupt("bit stream without an end mark")
	}
	*br = bitReader{in: in, off: len(in)}
	br.refill()
	br.n -= uint(9 - bits.Len8(last))
	return nil
}

// refill loads bytes until at least 57 bits are unread or the input is all
// loaded.
func (br *bitReader) refill() {
	if br.off >= 8 {
		k := (63 - br.n) >> 3
		u := binary.LittleEndian.Uint64(br.in[br.off-8:])
		br.v = br.v<<(k*8) | u>>(64-k*8)
		br.off -= int(k)
		br.n += k * 8
		return
	}
	for br.n <= 56 && br.off > 0 {
		br.off--
		br.v = br.v<<8 | uint64(br.in[br.off])
		br.n += 8
	}
}

// read returns the next k bits, k <= 32. Bits past the start of the stream
// read as zeros and are counted in over.
func (br *bitReader) read(k uint) uint64 {
	if br.n < k {
		return br.readSlow(k)
	}
	return br.get(k)
}

// get returns the next k bits, k <= 32, of the at least k loaded.
func (br *bitReader) get(k uint) uint64 {
	br.n -= k
	return br.v >> br.n & (1<<k - 1)
}

// readSlow is read when the loaded bits do not suffice.
func (br *bitReader) readSlow(k uint) uint64 {
	br.refill()
	if br.n < k {
		v := br.v << (k - br.n) & (1<<k - 1)
		br.over += k - br.n
		br.n = 0
		return v
	}
	br.n -= k
	return br.v >> br.n & (1<<k - 1)
}

// done reports whether the stream was read exactly to its start.
func (br *bitReader) done() bool {
	return br.n == 0 && br.off == 0 && br.over == 0
}

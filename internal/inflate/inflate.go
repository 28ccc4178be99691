// Package inflate decodes zlib streams (RFC 1950, 1951) held whole in memory
// into a buffer of the size they are declared to inflate to, as git's
// objects are. Knowing both ends lets it write straight into the result,
// with no window or reader in between, and read 64 bits of input at a time:
// about twice as fast as compress/flate and klauspost/compress on the small
// streams a pack is made of (BenchmarkZlibSmall, BenchmarkZlibCorpus). Its results and refusals are those of compress/zlib, which the
// tests and FuzzZlib hold it to.
package inflate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Errors a stream is refused with, besides io.ErrUnexpectedEOF for a
// stream cut short.
var (
	// ErrHeader: the stream does not start with a zlib header of deflate.
	ErrHeader = errors.New("zlib: invalid header")
	// ErrDictionary: the stream needs a preset dictionary.
	ErrDictionary = errors.New("zlib: needs a preset dictionary")
	// ErrChecksum: the content does not match the stream's Adler-32.
	ErrChecksum = errors.New("zlib: invalid checksum")
	// ErrLonger: the stream holds more than the buffer's size.
	ErrLonger = errors.New("longer than its header says")
	// ErrShorter: the stream ends before filling the buffer.
	ErrShorter = errors.New("shorter than its header says")
	// ErrCorrupt: the deflate data is not well formed.
	ErrCorrupt = errors.New("flate: corrupt input")
)

// Decoder inflates streams; its tables are reused from one stream to the
// next. A Decoder is not safe for concurrent use; its zero value is ready.
type Decoder struct {
	litlen  [litlenSize]uint32
	dist    [distSize]uint32
	codelen [codelenSize]uint32
	// The fixed code's tables, built on first use.
	fixedLitlen [litlenSize]uint32
	fixedDist   [distSize]uint32
	entries     symbolEntries
	ready       bool // entries and the fixed tables are built
	lens        [288 + 32]uint8
}

// Zlib decodes the zlib stream at the start of src into dst, which it must
// fill exactly, and checks its Adler-32. It returns how many bytes of src
// the stream took: what follows is not read.
func (d *Decoder) Zlib(dst, src []byte) (int, error) {
	if len(src) < 2 {
		return 0, io.ErrUnexpectedEOF
	}
	cmf, flg := src[0], src[1]
	if cmf&0x0f != 8 || cmf>>4 > 7 || (uint(cmf)<<8|uint(flg))%31 != 0 {
		return 0, ErrHeader
	}
	if flg&0x20 != 0 {
		return 0, ErrDictionary
	}
	n, err := d.Deflate(dst, src[2:])
	if err != nil {
		return 0, err
	}
	n += 2
	if len(src)-n < 4 {
		return 0, io.ErrUnexpectedEOF
	}
	if binary.BigEndian.Uint32(src[n:]) != adler32(dst) {
		return 0, ErrChecksum
	}
	return n + 4, nil
}

// Deflate decodes the raw deflate stream at the start of src into dst,
// which it must fill exactly, and returns how many bytes of src it took.
func (d *Decoder) Deflate(dst, src []byte) (int, error) {
	if !d.ready {
		d.entries.fill()
		d.buildFixed()
		d.ready = true
	}
	s := state{src: src, dst: dst}
	for {
		s.refill()
		final := s.bitbuf&1 != 0
		typ := s.bitbuf >> 1 & 3
		s.consume(3)
		var err error
		switch typ {
		case 0:
			err = s.stored()
		case 1:
			err = s.codes(&d.fixedLitlen, &d.fixedDist)
		case 2:
			if err = d.dynamic(&s); err == nil {
				err = s.codes(&d.litlen, &d.dist)
			}
		default:
			err = fmt.Errorf("%w: block type 3", ErrCorrupt)
		}
		if err != nil {
			return 0, err
		}
		if final {
			break
		}
	}
	// The stream ends with the byte its last bit is in.
	s.consume(s.bitsleft & 7)
	used := s.in - int(s.bitsleft>>3)
	if used > len(src) {
		return 0, io.ErrUnexpectedEOF
	}
	if s.out != len(dst) {
		return 0, ErrShorter
	}
	return used, nil
}

// state is a stream being decoded.
type state struct {
	src, dst []byte
	in, out  int // next byte of src to load (past its end: zeros), of dst to write
	bitbuf   uint64
	bitsleft uint // bits held in bitbuf; the bits above are zeros or the input's next bits
}

// refill loads input until bitbuf holds at least 56 bits. Past the end of
// src it loads zeros, which the checks on s.in then catch as a stream cut
// short.
func (s *state) refill() {
	if s.in+8 <= len(s.src) {
		s.bitbuf |= binary.LittleEndian.Uint64(s.src[s.in:]) << (s.bitsleft & 63)
		s.in += int(63-s.bitsleft) >> 3
		s.bitsleft |= 56
		return
	}
	s.in, s.bitbuf, s.bitsleft = refillTail(s.src, s.in, s.bitbuf, s.bitsleft)
}

// refillTail is refill's byte-at-a-time path for the last 8 bytes of src
// and past them, on the state as values (codes keeps it in locals).
func refillTail(src []byte, in int, bitbuf uint64, bitsleft uint) (int, uint64, uint) {
	for bitsleft < 56 {
		if in < len(src) {
			bitbuf |= uint64(src[in]) << (bitsleft & 63)
		}
		in++
		bitsleft += 8
	}
	return in, bitbuf, bitsleft
}

func (s *state) consume(n uint) {
	s.bitbuf >>= n & 63
	s.bitsleft -= n
}

// overrun says whether the stream has been read past the end of src (by
// more than the refill's look-ahead).
func (s *state) overrun() bool {
	return s.in-int(s.bitsleft>>3) > len(s.src)
}

// stored copies a stored block.
func (s *state) stored() error {
	s.consume(s.bitsleft & 7)
	// Return the whole bytes still in bitbuf to the input.
	s.in -= int(s.bitsleft >> 3)
	s.bitbuf, s.bitsleft = 0, 0
	if s.in+4 > len(s.src) {
		return io.ErrUnexpectedEOF
	}
	n := int(binary.LittleEndian.Uint16(s.src[s.in:]))
	if uint16(n) != ^binary.LittleEndian.Uint16(s.src[s.in+2:]) {
		return fmt.Errorf("%w: stored block length", ErrCorrupt)
	}
	s.in += 4
	if s.in+n > len(s.src) {
		if s.out+(len(s.src)-s.in) > len(s.dst) {
			return ErrLonger
		}
		return io.ErrUnexpectedEOF
	}
	if s.out+n > len(s.dst) {
		return ErrLonger
	}
	copy(s.dst[s.out:], s.src[s.in:s.in+n])
	s.in += n
	s.out += n
	return nil
}

// buildFixed builds the tables of the fixed code (RFC 1951, 3.2.6).
func (d *Decoder) buildFixed() {
	var lens [288]uint8
	for i := range lens {
		switch {
		case i < 144:
			lens[i] = 8
		case i < 256:
			lens[i] = 9
		case i < 280:
			lens[i] = 7
		default:
			lens[i] = 8
		}
	}
	build(d.fixedLitlen[:], litlenBits, lens[:], d.entries.litlen[:])
	var dl [32]uint8
	for i := range dl {
		dl[i] = 5
	}
	build(d.fixedDist[:], distBits, dl[:], d.entries.dist[:])
}

// codeOrder is the order in which a dynamic block's header gives the
// code-length code's lengths.
var codeOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

// dynamic reads a dynamic block's header and builds its tables.
func (d *Decoder) dynamic(s *state) error {
	s.refill()
	nlit := int(s.bitbuf&0x1f) + 257
	ndist := int(s.bitbuf>>5&0x1f) + 1
	nclen := int(s.bitbuf>>10&0xf) + 4
	s.consume(14)
	if nlit > 286 || ndist > 30 {
		return fmt.Errorf("%w: %d literal/length and %d distance codes", ErrCorrupt, nlit, ndist)
	}
	var cl [19]uint8
	for i := 0; i < nclen; i++ {
		if s.bitsleft < 3 {
			s.refill()
		}
		cl[codeOrder[i]] = uint8(s.bitbuf & 7)
		s.consume(3)
	}
	if !build(d.codelen[:], codelenBits, cl[:], d.entries.codes[:]) {
		return fmt.Errorf("%w: code-length code", ErrCorrupt)
	}
	lens := d.lens[:nlit+ndist]
	for i := 0; i < len(lens); {
		if s.bitsleft < 7+7 {
			s.refill()
			if s.overrun() {
				return io.ErrUnexpectedEOF
			}
		}
		e := d.codelen[s.bitbuf&(codelenSize-1)]
		if e&fInvalid != 0 {
			return fmt.Errorf("%w: code-length symbol", ErrCorrupt)
		}
		s.consume(uint(e & 0xff))
		sym := e >> 16
		if sym < 16 {
			lens[i] = uint8(sym)
			i++
			continue
		}
		var rep int
		var v uint8
		switch sym {
		case 16:
			if i == 0 {
				return fmt.Errorf("%w: repeat with no length before", ErrCorrupt)
			}
			v = lens[i-1]
			rep = 3 + int(s.bitbuf&3)
			s.consume(2)
		case 17:
			rep = 3 + int(s.bitbuf&7)
			s.consume(3)
		default:
			rep = 11 + int(s.bitbuf&0x7f)
			s.consume(7)
		}
		if i+rep > len(lens) {
			return fmt.Errorf("%w: code lengths past the last symbol", ErrCorrupt)
		}
		for ; rep > 0; rep-- {
			lens[i] = v
			i++
		}
	}
	if s.overrun() {
		return io.ErrUnexpectedEOF
	}
	if !build(d.litlen[:], litlenBits, lens[:nlit], d.entries.litlen[:]) {
		return fmt.Errorf("%w: literal/length code", ErrCorrupt)
	}
	if !build(d.dist[:], distBits, lens[nlit:], d.entries.dist[:]) {
		return fmt.Errorf("%w: distance code", ErrCorrupt)
	}
	return nil
}

// codes decodes a Huffman-coded block with the given tables.
func (s *state) codes(litlen *[litlenSize]uint32, dist *[distSize]uint32) error {
	// The loop keeps the state in locals, written back on return.
	src, dst := s.src, s.dst
	in, out := s.in, s.out
	bitbuf, bitsleft := s.bitbuf, s.bitsleft
	defer func() { s.in, s.out, s.bitbuf, s.bitsleft = in, out, bitbuf, bitsleft }()
	for {
		// Refill to at least 56 bits: a length with its extra bits and a
		// distance code take at most 15+5+15 = 35, its extra bits 13 more.
		if in+8 <= len(src) {
			bitbuf |= binary.LittleEndian.Uint64(src[in:]) << (bitsleft & 63)
			in += int(63-bitsleft) >> 3
			bitsleft |= 56
		} else {
			in, bitbuf, bitsleft = refillTail(src, in, bitbuf, bitsleft)
			if in-int(bitsleft>>3) > len(src)+8 {
				// Well past the end: the block cannot end in the input.
				return io.ErrUnexpectedEOF
			}
		}
		e := litlen[bitbuf&(1<<litlenBits-1)]
		if e&fSub != 0 {
			e = litlen[(e>>16+uint32(bitbuf>>litlenBits)&(1<<(e>>8&extraMask)-1))&(litlenSize-1)]
		}
		bitbuf >>= e & 63
		bitsleft -= uint(e & 0xff)
		if e&fLiteral != 0 {
			// Literals follow one another while the bits last: the next
			// code's lookup is all that waits on the last.
			for {
				if out >= len(dst) {
					return ErrLonger
				}
				dst[out] = byte(e >> 16)
				out++
				if bitsleft < 15 {
					break
				}
				e = litlen[bitbuf&(1<<litlenBits-1)]
				if e&(fLiteral|fSub) != fLiteral {
					break // decoded again after the refill
				}
				bitbuf >>= e & 63
				bitsleft -= uint(e & 0xff)
			}
			continue
		}
		if e&(fEnd|fInvalid) != 0 {
			if e&fEnd != 0 {
				if in-int(bitsleft>>3) > len(src) {
					return io.ErrUnexpectedEOF
				}
				return nil
			}
			return fmt.Errorf("%w: invalid literal/length code", ErrCorrupt)
		}
		extra := uint(e >> 8 & extraMask)
		length := int(e>>16) + int(bitbuf&(1<<(extra&63)-1))
		bitbuf >>= extra & 63
		bitsleft -= extra
		e = dist[bitbuf&(1<<distBits-1)]
		if e&fSub != 0 {
			e = dist[(e>>16+uint32(bitbuf>>distBits)&(1<<(e>>8&extraMask)-1))&(distSize-1)]
		}
		if e&fInvalid != 0 {
			return fmt.Errorf("%w: invalid distance code", ErrCorrupt)
		}
		bitbuf >>= e & 63
		bitsleft -= uint(e & 0xff)
		if bitsleft < 13 {
			if in+8 <= len(src) {
				bitbuf |= binary.LittleEndian.Uint64(src[in:]) << (bitsleft & 63)
				in += int(63-bitsleft) >> 3
				bitsleft |= 56
			} else {
				in, bitbuf, bitsleft = refillTail(src, in, bitbuf, bitsleft)
			}
		}
		extra = uint(e >> 8 & extraMask)
		distance := int(e>>16) + int(bitbuf&(1<<(extra&63)-1))
		bitbuf >>= extra & 63
		bitsleft -= extra
		if distance > out {
			return fmt.Errorf("%w: distance %d before the start", ErrCorrupt, distance)
		}
		if length > len(dst)-out {
			return ErrLonger
		}
		from := out - distance
		if distance >= 8 && length+8 <= len(dst)-out {
			// Eight bytes at a time, each word's source already written;
			// the last word may spill past the copy, into what later
			// output overwrites.
			for i := 0; i < length; i += 8 {
				binary.LittleEndian.PutUint64(dst[out+i:], binary.LittleEndian.Uint64(dst[from+i:]))
			}
			out += length
			continue
		}
		if distance >= length {
			copy(dst[out:out+length], dst[from:from+length])
			out += length
			continue
		}
		// An overlapping copy repeats the last distance bytes: copy them
		// in runs that double.
		end := out + length
		for out < end {
			out += copy(dst[out:end], dst[from:out])
		}
	}
}

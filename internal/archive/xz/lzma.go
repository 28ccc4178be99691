package xz

import (
	"errors"
	"fmt"
)

// The LZMA decoder, written from the LZMA specification (Igor Pavlov's
// lzma-specification.txt): a range decoder over adaptive binary
// probabilities driving literal, match and repeated-match decoding.

const (
	probBits     = 11
	probInit     = 1 << (probBits - 1)
	moveBits     = 5
	numStates    = 12
	maxPosStates = 1 << 4
	minMatch     = 2
	endPosModel  = 14  // distance slots below this use the pos models
	numFullDists = 128 // 1 << (endPosModel / 2)
	alignBits    = 4
	litSize      = 0x300 // probabilities per literal coder
	maxLcLp      = 4     // LZMA2 allows lc+lp <= 4
	endMarker    = 0xFFFFFFFF
)

var (
	errRangeInit = errors.New("xz: corrupt LZMA data: bad range coder start")
	errTinyChunk = errors.New("xz: corrupt LZMA2 data: LZMA chunk under 5 bytes, the range coder's start")
	errDistance  = errors.New("xz: corrupt LZMA data: match distance beyond the dictionary")
	errEndMarker = errors.New("xz: corrupt LZMA data: end marker inside an LZMA2 chunk")
	errOverrun   = errors.New("xz: corrupt LZMA2 data: chunk shorter than its symbols")
	errLcLp      = errors.New("xz: corrupt LZMA2 data: lc + lp over 4")
	errChunkEnd  = errors.New("xz: corrupt LZMA2 data: chunk does not end where its symbols do")
)

type prob uint16

// rangeDec decodes bits from one LZMA2 chunk's compressed bytes.
//
// in[:end] holds the chunk's bytes and rcPad zero bytes follow, so that the
// bit decoder needs no end-of-input branch and stays small enough to
// inline. Decoding checks before each symbol that it has not read past
// end; a symbol reads at most one byte per bit it decodes, fewer than 50
// (a match: 2 kind bits, 10 length bits, 6 slot bits, 26 direct bits and 4
// align bits), so a symbol started before end never reads past the
// padding. The decode loop is bounded by its output, so corrupt input ends
// in an error, never a runaway.
type rangeDec struct {
	in   []byte
	end  int
	pos  int
	rng  uint32
	code uint32
}

// rcPad is the zero padding after a chunk's bytes in rangeDec.in.
const rcPad = 64

// init starts decoding in[:end]; in has rcPad bytes more.
func (rc *rangeDec) init(in []byte, end int) error {
	if end < 5 {
		return errTinyChunk
	}
	if in[0] != 0 {
		return errRangeInit
	}
	rc.in = in
	rc.end = end
	rc.pos = 5
	rc.rng = 0xFFFFFFFF
	rc.code = uint32(in[1])<<24 | uint32(in[2])<<16 | uint32(in[3])<<8 | uint32(in[4])
	if rc.code == rc.rng {
		return errRangeInit
	}
	return nil
}

// overrun reports whether decoding read past the chunk's bytes.
func (rc *rangeDec) overrun() bool { return rc.pos > rc.end }

// finish normalizes after the last bit (the bit decoders normalize before
// each bit, not after) and reports whether the chunk's bytes were all used
// and the range coder ended cleanly.
func (rc *rangeDec) finish() bool {
	if rc.rng < 1<<24 {
		rc.rng <<= 8
		rc.code = rc.code<<8 | uint32(rc.in[rc.pos])
		rc.pos++
	}
	return rc.pos == rc.end && rc.code == 0
}

// bit decodes one bit with the probability *p and adapts it.
func (rc *rangeDec) bit(p *prob) uint32 {
	if rc.rng < 1<<24 {
		rc.rng <<= 8
		rc.code = rc.code<<8 | uint32(rc.in[rc.pos])
		rc.pos++
	}
	bound := (rc.rng >> probBits) * uint32(*p)
	if rc.code < bound {
		rc.rng = bound
		*p += (1<<probBits - *p) >> moveBits
		return 0
	}
	rc.rng -= bound
	rc.code -= bound
	*p -= *p >> moveBits
	return 1
}

// tree decodes a bits-wide symbol, most significant bit first.
func (rc *rangeDec) tree(probs []prob, bits uint) uint32 {
	m := uint32(1)
	for range bits {
		m = m<<1 | rc.bit(&probs[m])
	}
	return m - 1<<bits
}

// reverse decodes a bits-wide symbol, least significant bit first.
func (rc *rangeDec) reverse(probs []prob, bits uint32) uint32 {
	m, sym := uint32(1), uint32(0)
	for i := range bits {
		b := rc.bit(&probs[m])
		m = m<<1 | b
		sym |= b << i
	}
	return sym
}

// direct decodes bits bits of equal probability.
func (rc *rangeDec) direct(bits uint32) uint32 {
	var res uint32
	for range bits {
		if rc.rng < 1<<24 {
			rc.rng <<= 8
			rc.code = rc.code<<8 | uint32(rc.in[rc.pos])
			rc.pos++
		}
		rc.rng >>= 1
		rc.code -= rc.rng
		t := 0 - rc.code>>31 // all ones if code went below zero
		rc.code += rc.rng & t
		res = res<<1 + t + 1
	}
	return res
}

// lenDec decodes a match length, less minMatch.
type lenDec struct {
	choice, choice2 prob
	low, mid        [maxPosStates][1 << 3]prob
	high            [1 << 8]prob
}

func (l *lenDec) reset() {
	l.choice, l.choice2 = probInit, probInit
	for i := range l.low {
		fill(l.low[i][:])
		fill(l.mid[i][:])
	}
	fill(l.high[:])
}

func (l *lenDec) decode(rc *rangeDec, posState uint32) uint32 {
	if rc.bit(&l.choice) == 0 {
		return rc.tree(l.low[posState][:], 3)
	}
	if rc.bit(&l.choice2) == 0 {
		return 8 + rc.tree(l.mid[posState][:], 3)
	}
	return 16 + rc.tree(l.high[:], 8)
}

func fill(p []prob) {
	for i := range p {
		p[i] = probInit
	}
}

// lzmaDec is the LZMA state an LZMA2 stream carries from chunk to chunk.
type lzmaDec struct {
	lc, lp, pb uint
	state      uint32
	rep        [4]uint32 // the last four distances, less one
	pending    int       // bytes of the last match not yet written

	isMatch    [numStates << 4]prob
	isRep      [numStates]prob
	isRepG0    [numStates]prob
	isRepG1    [numStates]prob
	isRepG2    [numStates]prob
	isRep0Long [numStates << 4]prob
	posSlot    [4][1 << 6]prob
	posDec     [1 + numFullDists - endPosModel]prob
	align      [1 << alignBits]prob
	matchLen   lenDec
	repLen     lenDec
	lit        [litSize << maxLcLp]prob

	rc rangeDec
}

// setProps sets lc, lp and pb from an LZMA2 properties byte.
func (z *lzmaDec) setProps(b byte) error {
	if b >= 9*5*5 {
		return fmt.Errorf("xz: corrupt LZMA2 data: properties byte %#x out of range", b)
	}
	lc, lp, pb := uint(b%9), uint(b/9%5), uint(b/45)
	if lc+lp > maxLcLp {
		return fmt.Errorf("%w (lc=%d, lp=%d)", errLcLp, lc, lp)
	}
	z.lc, z.lp, z.pb = lc, lp, pb
	return nil
}

// reset resets the state and the probabilities.
func (z *lzmaDec) reset() {
	z.state = 0
	z.rep = [4]uint32{}
	z.pending = 0
	fill(z.isMatch[:])
	fill(z.isRep[:])
	fill(z.isRepG0[:])
	fill(z.isRepG1[:])
	fill(z.isRepG2[:])
	fill(z.isRep0Long[:])
	for i := range z.posSlot {
		fill(z.posSlot[i][:])
	}
	fill(z.posDec[:])
	fill(z.align[:])
	z.matchLen.reset()
	z.repLen.reset()
	fill(z.lit[:litSize<<(z.lc+z.lp)])
}

// decodeDist decodes a match distance (less one) for a length (less
// minMatch) of l.
func (z *lzmaDec) decodeDist(l uint32) uint32 {
	rc := &z.rc
	slot := rc.tree(z.posSlot[min(l, 3)][:], 6)
	if slot < 4 {
		return slot
	}
	nd := slot>>1 - 1
	dist := (2 | slot&1) << nd
	if slot < endPosModel {
		return dist + rc.reverse(z.posDec[dist-slot:], nd)
	}
	dist += rc.direct(nd-alignBits) << alignBits
	return dist + rc.reverse(z.align[:], alignBits)
}

// decode writes exactly n bytes into d: the rest of a match an earlier
// call cut short first, then new symbols. A match longer than what is left
// of n is cut and its tail kept in pending.
func (z *lzmaDec) decode(d *dict, n int) error {
	left, err := z.decodeN(d, n)
	d.added(n - left)
	return err
}

// decodeN is decode, returning how many of the n bytes it did not write
// (an error stops it early) and leaving d.total and d.unread to its
// caller: dict.put stays small enough to inline.
func (z *lzmaDec) decodeN(d *dict, n int) (int, error) {
	pos := uint32(d.total) // the LZMA position of the next byte
	if z.pending > 0 {
		k := min(z.pending, n)
		d.copyMatch(int(z.rep[0])+1, k)
		z.pending -= k
		n -= k
		pos += uint32(k)
	}
	rc := &z.rc
	pbMask := uint32(1)<<z.pb - 1
	lpMask := uint32(1)<<z.lp - 1
	lc := z.lc
	state := z.state
	defer func() { z.state = state }()
	for n > 0 {
		if rc.overrun() {
			return n, errOverrun
		}
		posState := pos & pbMask
		if rc.bit(&z.isMatch[state<<4|posState]) == 0 {
			prev := uint32(d.prev())
			ls := (pos&lpMask)<<lc | prev>>(8-lc)
			probs := z.lit[ls*litSize : ls*litSize+litSize]
			sym := uint32(1)
			if state >= 7 {
				if !d.reaches(z.rep[0]) {
					return n, errDistance
				}
				match := uint32(d.back(int(z.rep[0]) + 1))
				for sym < 0x100 {
					mb := match >> 7 & 1
					match <<= 1
					b := rc.bit(&probs[(1+mb)<<8|sym])
					sym = sym<<1 | b
					if mb != b {
						break
					}
				}
			}
			for sym < 0x100 {
				sym = sym<<1 | rc.bit(&probs[sym])
			}
			d.put(byte(sym))
			n--
			pos++
			switch {
			case state < 4:
				state = 0
			case state < 10:
				state -= 3
			default:
				state -= 6
			}
			continue
		}
		var l uint32
		if rc.bit(&z.isRep[state]) == 0 {
			z.rep[3], z.rep[2], z.rep[1] = z.rep[2], z.rep[1], z.rep[0]
			l = z.matchLen.decode(rc, posState)
			if state < 7 {
				state = 7
			} else {
				state = 10
			}
			z.rep[0] = z.decodeDist(l)
			if z.rep[0] == endMarker {
				return n, errEndMarker
			}
		} else {
			if rc.bit(&z.isRepG0[state]) == 0 {
				if rc.bit(&z.isRep0Long[state<<4|posState]) == 0 {
					if !d.reaches(z.rep[0]) {
						return n, errDistance
					}
					if state < 7 {
						state = 9
					} else {
						state = 11
					}
					d.put(d.back(int(z.rep[0]) + 1))
					n--
					pos++
					continue
				}
			} else {
				var dist uint32
				if rc.bit(&z.isRepG1[state]) == 0 {
					dist = z.rep[1]
				} else {
					if rc.bit(&z.isRepG2[state]) == 0 {
						dist = z.rep[2]
					} else {
						dist = z.rep[3]
						z.rep[3] = z.rep[2]
					}
					z.rep[2] = z.rep[1]
				}
				z.rep[1] = z.rep[0]
				z.rep[0] = dist
			}
			l = z.repLen.decode(rc, posState)
			if state < 7 {
				state = 8
			} else {
				state = 11
			}
		}
		if !d.reaches(z.rep[0]) {
			return n, errDistance
		}
		length := int(l) + minMatch
		k := min(length, n)
		d.copyMatch(int(z.rep[0])+1, k)
		n -= k
		pos += uint32(k)
		z.pending = length - k
	}
	return 0, nil
}

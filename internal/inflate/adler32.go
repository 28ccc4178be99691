package inflate

import "encoding/binary"

// adlerMod is the Adler-32 modulus, the largest prime below 2^16.
const adlerMod = 65521

// adlerBlock is how many bytes adler32 sums before reducing: its 64-bit
// sums cannot overflow within one (b·65520 + 255·b²/2 < 2^64).
const adlerBlock = 1 << 16

// adler32 is the Adler-32 checksum of p (RFC 1950). Eight bytes at a time,
// the second sum gains 8·s1 plus the bytes weighted 8, 7, …, 1: both come
// from multiplying the even and the odd bytes, spread in 16-bit lanes, by
// a constant whose top lane gathers the dot product. It is several times
// faster than summing byte after byte, whose every step waits for the last.
func adler32(p []byte) uint32 {
	const (
		lanes = 0x00ff00ff00ff00ff
		ones  = 0x0001000100010001
		even  = 8<<48 | 6<<32 | 4<<16 | 2 // weights of bytes 0, 2, 4, 6
		odd   = 7<<48 | 5<<32 | 3<<16 | 1 // of bytes 1, 3, 5, 7
	)
	s1, s2 := uint64(1), uint64(0)
	for len(p) > 0 {
		q := p[:min(len(p), adlerBlock)]
		p = p[len(q):]
		for len(q) >= 8 {
			w := binary.LittleEndian.Uint64(q)
			e, o := w&lanes, w>>8&lanes
			s2 += 8*s1 + (e*even)>>48 + (o*odd)>>48
			s1 += ((e + o) * ones) >> 48
			q = q[8:]
		}
		for _, c := range q {
			s1 += uint64(c)
			s2 += s1
		}
		s1 %= adlerMod
		s2 %= adlerMod
	}
	return uint32(s2<<16 | s1)
}

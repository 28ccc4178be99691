package zstd

import (
	"encoding/binary"
	"math/bits"
)

// XXH64 primes, from the xxHash specification.
const (
	xxPrime1 uint64 = 11400714785074694791
	xxPrime2 uint64 = 14029467366897019727
	xxPrime3 uint64 = 1609587929392839161
	xxPrime4 uint64 = 9650029242287828579
	xxPrime5 uint64 = 2870177450012600261
)

// xxh64 is a streaming XXH64 digest with seed 0: the content checksum of a
// zstd frame is the low 32 bits of its sum.
type xxh64 struct {
	v     [4]uint64
	buf   [32]byte
	nbuf  int
	total uint64
}

func (x *xxh64) reset() {
	x.v = [4]uint64{6983438078262162902, xxPrime2, 0, 7046029288634856825} // prime1+prime2, prime2, 0, -prime1 (mod 2^64)
	x.nbuf = 0
	x.total = 0
}

func xxRound(acc, lane uint64) uint64 {
	return bits.RotateLeft64(acc+lane*xxPrime2, 31) * xxPrime1
}

func (x *xxh64) write(p []byte) {
	x.total += uint64(len(p))
	if x.nbuf > 0 {
		n := copy(x.buf[x.nbuf:], p)
		x.nbuf += n
		p = p[n:]
		if x.nbuf < 32 {
			return
		}
		x.stripes(x.buf[:])
		x.nbuf = 0
	}
	n := len(p) &^ 31
	x.stripes(p[:n])
	x.nbuf = copy(x.buf[:], p[n:])
}

// stripes consumes p, a multiple of 32 bytes long.
func (x *xxh64) stripes(p []byte) {
	v0, v1, v2, v3 := x.v[0], x.v[1], x.v[2], x.v[3]
	for ; len(p) >= 32; p = p[32:] {
		v0 = xxRound(v0, binary.LittleEndian.Uint64(p))
		v1 = xxRound(v1, binary.LittleEndian.Uint64(p[8:]))
		v2 = xxRound(v2, binary.LittleEndian.Uint64(p[16:]))
		v3 = xxRound(v3, binary.LittleEndian.Uint64(p[24:]))
	}
	x.v = [4]uint64{v0, v1, v2, v3}
}

func (x *xxh64) sum64() uint64 {
	var h uint64
	if x.total >= 32 {
		v := x.v
		h = bits.RotateLeft64(v[0], 1) + bits.RotateLeft64(v[1], 7) +
			bits.RotateLeft64(v[2], 12) + bits.RotateLeft64(v[3], 18)
		for _, vi := range v {
			h ^= xxRound(0, vi)
			h = h*xxPrime1 + xxPrime4
		}
	} else {
		h = xxPrime5
	}
	h += x.total
	p := x.buf[:x.nbuf]
	for ; len(p) >= 8; p = p[8:] {
		h ^= xxRound(0, binary.LittleEndian.Uint64(p))
		h = bits.RotateLeft64(h, 27)*xxPrime1 + xxPrime4
	}
	if len(p) >= 4 {
		h ^= uint64(binary.LittleEndian.Uint32(p)) * xxPrime1
		h = bits.RotateLeft64(h, 23)*xxPrime2 + xxPrime3
		p = p[4:]
	}
	for _, b := range p {
		h ^= uint64(b) * xxPrime5
		h = bits.RotateLeft64(h, 11) * xxPrime1
	}
	h ^= h >> 33
	h *= xxPrime2
	h ^= h >> 29
	h *= xxPrime3
	h ^= h >> 32
	return h
}

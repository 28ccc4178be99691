package odb

import "errors"

var errBadDelta = errors.New("corrupt delta")

// deltaSizes reads the source and target sizes at the start of a delta.
func deltaSizes(delta []byte) (src, dst, n int, err error) {
	src, a := varint(delta)
	if a == 0 {
		return 0, 0, 0, errBadDelta
	}
	dst, b := varint(delta[a:])
	if b == 0 {
		return 0, 0, 0, errBadDelta
	}
	return src, dst, a + b, nil
}

func varint(b []byte) (int, int) {
	v, shift := 0, 0
	for i, c := range b {
		if shift > 56 {
			return 0, 0
		}
		v |= int(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}

// applyDelta applies a git delta to base, writing into dst (reused when
// large enough), and returns the result.
func applyDelta(base, delta, dst []byte) ([]byte, error) {
	srcSize, dstSize, n, err := deltaSizes(delta)
	if err != nil {
		return nil, err
	}
	if srcSize != len(base) {
		return nil, errBadDelta
	}
	if cap(dst) < dstSize {
		dst = make([]byte, 0, dstSize)
	}
	dst = dst[:0]
	d := delta[n:]
	for len(d) > 0 {
		op := d[0]
		d = d[1:]
		switch {
		case op&0x80 != 0:
			var off, size uint
			for i := uint(0); i < 4; i++ {
				if op&(1<<i) != 0 {
					if len(d) == 0 {
						return nil, errBadDelta
					}
					off |= uint(d[0]) << (8 * i)
					d = d[1:]
				}
			}
			for i := uint(0); i < 3; i++ {
				if op&(0x10<<i) != 0 {
					if len(d) == 0 {
						return nil, errBadDelta
					}
					size |= uint(d[0]) << (8 * i)
					d = d[1:]
				}
			}
			if size == 0 {
				size = 0x10000
			}
			if off+size > uint(len(base)) || off+size < off {
				return nil, errBadDelta
			}
			dst = append(dst, base[off:off+size]...)
		case op != 0:
			if int(op) > len(d) {
				return nil, errBadDelta
			}
			dst = append(dst, d[:op]...)
			d = d[op:]
		default:
			return nil, errBadDelta
		}
	}
	if len(dst) != dstSize {
		return nil, errBadDelta
	}
	return dst, nil
}

package odb

import (
	"errors"
	"fmt"
)

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

// varint decodes a delta header's size: at most 63 bits, so the value
// never overflows an int.
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
	return applyDeltaMax(base, delta, dst, maxObject)
}

// deltaOp is one instruction of a delta: a copy of size bytes from the
// base at off, or an insert of the size bytes that follow it.
type deltaOp struct {
	copy      bool
	off, size uint
}

// nextOp decodes the instruction at the start of d.
func nextOp(d []byte, baseLen int) (deltaOp, []byte, error) {
	op := d[0]
	d = d[1:]
	switch {
	case op&0x80 != 0:
		var off, size uint
		for i := uint(0); i < 4; i++ {
			if op&(1<<i) != 0 {
				if len(d) == 0 {
					return deltaOp{}, nil, errBadDelta
				}
				off |= uint(d[0]) << (8 * i)
				d = d[1:]
			}
		}
		for i := uint(0); i < 3; i++ {
			if op&(0x10<<i) != 0 {
				if len(d) == 0 {
					return deltaOp{}, nil, errBadDelta
				}
				size |= uint(d[0]) << (8 * i)
				d = d[1:]
			}
		}
		if size == 0 {
			size = 0x10000
		}
		if off+size > uint(baseLen) || off+size < off {
			return deltaOp{}, nil, errBadDelta
		}
		return deltaOp{copy: true, off: off, size: size}, d, nil
	case op != 0:
		if int(op) > len(d) {
			return deltaOp{}, nil, errBadDelta
		}
		return deltaOp{size: uint(op)}, d, nil
	}
	return deltaOp{}, nil, errBadDelta
}

// applyDeltaMax is applyDelta for a result of at most limit bytes. The
// instructions are checked first: a buffer is allocated only for a result
// they really build and the limit allows, whatever size the delta declares.
func applyDeltaMax(base, delta, dst []byte, limit int64) ([]byte, error) {
	srcSize, dstSize, n, err := deltaSizes(delta)
	if err != nil {
		return nil, err
	}
	if srcSize != len(base) {
		return nil, fmt.Errorf("%w: base is %d bytes, the delta expects %d", errBadDelta, len(base), srcSize)
	}
	if int64(dstSize) > limit {
		return nil, fmt.Errorf("%w: result declares %d bytes, over the %d-byte limit", ErrLimit, dstSize, limit)
	}
	total := 0
	for d := delta[n:]; len(d) > 0; {
		op, rest, err := nextOp(d, len(base))
		if err != nil {
			return nil, err
		}
		total += int(op.size)
		if total > dstSize {
			return nil, fmt.Errorf("%w: builds more than the %d bytes it declares", errBadDelta, dstSize)
		}
		if !op.copy {
			rest = rest[op.size:]
		}
		d = rest
	}
	if total != dstSize {
		return nil, fmt.Errorf("%w: builds %d bytes, declares %d", errBadDelta, total, dstSize)
	}
	if cap(dst) < dstSize {
		dst = make([]byte, 0, dstSize)
	}
	dst = dst[:0]
	for d := delta[n:]; len(d) > 0; {
		op, rest, _ := nextOp(d, len(base))
		if op.copy {
			dst = append(dst, base[op.off:op.off+op.size]...)
		} else {
			dst = append(dst, rest[:op.size]...)
			rest = rest[op.size:]
		}
		d = rest
	}
	return dst, nil
}

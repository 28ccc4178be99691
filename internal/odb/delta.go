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

// checkFirst is the result size from which a delta's instructions are
// checked before its result's buffer is allocated: a forged delta may
// declare any size up to the limit, and a buffer that large must not exist
// for a result the instructions do not build. Below it, allocating first
// costs at most this much, and the instructions are checked as applied.
const checkFirst = 1 << 20

// applyDeltaMax applies a git delta to base, writing into dst (reused when
// large enough), for a result of at most limit bytes. A
// buffer is allocated only for a result the instructions really build and
// the limit allows, whatever size the delta declares.
func applyDeltaMax(base, delta, dst []byte, limit int64) ([]byte, error) {
	return applyDeltaGrow(base, delta, dst, limit, 0)
}

// applyDeltaGrow is applyDeltaMax that gives a buffer it allocates room
// for extra/8 more of the result's size, so that a caller building
// versions of a file that grow a little reuses it.
func applyDeltaGrow(base, delta, dst []byte, limit int64, extra int) ([]byte, error) {
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
	ops := delta[n:]
	if cap(dst) < dstSize {
		if dstSize > checkFirst {
			if err := checkOps(ops, len(base), dstSize); err != nil {
				return nil, err
			}
		}
		dst = make([]byte, dstSize, int64(dstSize)+min(int64(dstSize)*int64(extra)/8, limit-int64(dstSize)))
	}
	dst = dst[:dstSize]
	pos := 0
	for d := ops; len(d) > 0; {
		op, rest, err := nextOp(d, len(base))
		if err != nil {
			return nil, err
		}
		if op.size > uint(dstSize-pos) {
			return nil, fmt.Errorf("%w: builds more than the %d bytes it declares", errBadDelta, dstSize)
		}
		if op.copy {
			pos += copy(dst[pos:], base[op.off:op.off+op.size])
		} else {
			pos += copy(dst[pos:], rest[:op.size])
			rest = rest[op.size:]
		}
		d = rest
	}
	if pos != dstSize {
		return nil, fmt.Errorf("%w: builds %d bytes, declares %d", errBadDelta, pos, dstSize)
	}
	return dst, nil
}

// checkOps checks that a delta's instructions build exactly size bytes
// from a base of baseLen bytes.
func checkOps(ops []byte, baseLen, size int) error {
	total := 0
	for d := ops; len(d) > 0; {
		op, rest, err := nextOp(d, baseLen)
		if err != nil {
			return err
		}
		total += int(op.size)
		if total > size {
			return fmt.Errorf("%w: builds more than the %d bytes it declares", errBadDelta, size)
		}
		if !op.copy {
			rest = rest[op.size:]
		}
		d = rest
	}
	if total != size {
		return fmt.Errorf("%w: builds %d bytes, declares %d", errBadDelta, total, size)
	}
	return nil
}

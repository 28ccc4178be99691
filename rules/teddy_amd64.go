package rules

import "golang.org/x/sys/cpu"

// useAVX2 says whether teddy.find may run its AVX2 loop.
var useAVX2 = cpu.X86.HasAVX2

// teddyAVX2 looks at the 32-position blocks of data from position from on,
// while a block and the three bytes past it are in data, and returns the start
// of the first block where a fingerprint may start, with one bit per
// candidate position in mask; mask is 0 when no block had one, i then being
// the first position not looked at.
//
//go:noescape
func teddyAVX2(masks *[2 * fpLen][32]byte, data []byte, from int) (i int, mask uint32)

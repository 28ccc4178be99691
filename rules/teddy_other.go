//go:build !amd64

package rules

// useAVX2 is false: teddy.find looks at each position in turn.
const useAVX2 = false

func teddyAVX2(masks *[2 * fpLen][32]byte, data []byte, from int) (int, uint32) { return from, 0 }

//go:build !amd64

package rules

// setAVX2 does nothing: without amd64 there is no AVX2 loop to turn off.
func setAVX2(bool) {}

package inflate

import (
	"compress/flate"
	"testing"
)

// FuzzZlib holds Zlib to compress/zlib on any input: the same content,
// length and acceptance. Seeds are short streams of every block type
// (short, so that the fuzzer's minimizing stays quick).
func FuzzZlib(f *testing.F) {
	for _, data := range samples() {
		if len(data) > 300 {
			data = data[:300]
		}
		for _, level := range []int{flate.HuffmanOnly, flate.NoCompression, flate.BestSpeed, flate.DefaultCompression} {
			f.Add(compress(f, data, level))
		}
	}
	var d Decoder
	f.Fuzz(func(t *testing.T, src []byte) { check(t, &d, src) })
}

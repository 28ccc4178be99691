package inflate

import (
	"bytes"
	"compress/flate"
	"io"
	"testing"

	kzlib "github.com/klauspost/compress/zlib"
)

// klauspost decodes src as odb's streaming path (inflateAt) does, with
// klauspost's zlib reader: the content, and whether the stream is
// accepted whole (its checksum read, nothing after the content).
func klauspost(src []byte, size int) ([]byte, bool) {
	zr, err := kzlib.NewReader(bytes.NewReader(src))
	if err != nil {
		return nil, false
	}
	dst := make([]byte, size)
	if _, err := io.ReadFull(zr, dst); err != nil {
		return nil, false
	}
	var one [1]byte
	n, err := zr.Read(one[:])
	return dst, n == 0 && err == io.EOF
}

// TestRedteamAgreesWithStreamingPath: odb inflates a packed object with
// Zlib when its compressed bytes are in memory and with klauspost's zlib
// reader otherwise (inflateAt): which one runs depends on the object's
// size and the read. The two must accept and refuse the same streams,
// and agree on content, or an object reads differently by the path it
// takes. Every one-bit corruption of short streams of each block type (the sizes around theirs are
// checked against compress/zlib by TestCorrupted).
func TestRedteamAgreesWithStreamingPath(t *testing.T) {
	t.Parallel()
	var d Decoder
	for name, data := range samples() {
		if len(data) > 80 {
			data = data[:80]
		}
		for _, level := range []int{flate.NoCompression, flate.BestSpeed, flate.DefaultCompression, flate.HuffmanOnly} {
			src := compress(t, data, level)
			for bit := -1; bit < 8*len(src); bit++ {
				c := src
				if bit >= 0 {
					c = bytes.Clone(src)
					c[bit/8] ^= 1 << (bit % 8)
				}
				for _, size := range []int{len(data)} {
					kout, kok := klauspost(c, size)
					got := make([]byte, size)
					_, err := d.Zlib(got, c)
					if kok != (err == nil) || kok && !bytes.Equal(got, kout) {
						t.Fatalf("%s, level %d, bit %d flipped, into %d bytes: klauspost accepts %v, Zlib: %v",
							name, level, bit, size, kok, err)
					}
				}
			}
		}
	}
}

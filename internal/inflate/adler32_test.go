package inflate

import (
	"bytes"
	stdadler "hash/adler32"
	"math/rand/v2"
	"testing"
)

// TestAdler32 holds adler32 to hash/adler32 on every length up to 300, on
// noise and on all-0xff (the largest sums), and across reductions.
func TestAdler32(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	noise := make([]byte, 3*adlerBlock+77)
	for i := range noise {
		noise[i] = byte(r.Uint32())
	}
	ff := bytes.Repeat([]byte{0xff}, len(noise))
	for _, data := range [][]byte{noise, ff} {
		for n := 0; n <= 300; n++ {
			if got, want := adler32(data[:n]), stdadler.Checksum(data[:n]); got != want {
				t.Fatalf("%d bytes: %#08x, want %#08x", n, got, want)
			}
		}
		for _, n := range []int{adlerBlock - 1, adlerBlock, adlerBlock + 1, len(data)} {
			if got, want := adler32(data[:n]), stdadler.Checksum(data[:n]); got != want {
				t.Fatalf("%d bytes: %#08x, want %#08x", n, got, want)
			}
		}
	}
}

func BenchmarkAdler32(b *testing.B) {
	data := bytes.Repeat([]byte("tree entries and deltas "), 1000)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		adler32(data)
	}
}

func BenchmarkAdler32Std(b *testing.B) {
	data := bytes.Repeat([]byte("tree entries and deltas "), 1000)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		stdadler.Checksum(data)
	}
}

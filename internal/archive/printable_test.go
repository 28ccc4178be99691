package archive

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// printableByByte is Printable as first written, one byte at a time with
// every run ended at every byte: the oracle for the faster printer.
func printableByByte(data []byte) []byte {
	var ascii []byte
	var u16 [2][]byte
	var lead [2]byte
	var out []byte
	for off, c := range data {
		if printableByte(c) {
			ascii = append(ascii, c)
			if len(ascii) >= maxRun {
				out = cut(out, &ascii)
			}
		} else {
			out = end(out, &ascii)
		}
		a := off & 1
		b := 1 - a
		if c == 0 && printableByte(lead[b]) {
			u16[b] = append(u16[b], lead[b])
			if len(u16[b]) >= maxRun {
				out = cut(out, &u16[b])
			}
		} else {
			out = end(out, &u16[b])
		}
		lead[b] = 0
		lead[a] = c
	}
	out = end(out, &ascii)
	out = end(out, &u16[0])
	return end(out, &u16[1])
}

// binaryLike is n bytes shaped like a compiled Android resource table or
// a .dex file: binary fields between ASCII strings (some length-prefixed),
// UTF-16LE strings at both alignments, long runs of text and of zeros.
func binaryLike(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	var b []byte
	for len(b) < n {
		switch r.IntN(6) {
		case 0, 1: // binary fields
			for range r.IntN(64) {
				b = append(b, byte(r.Uint32()))
			}
		case 2: // a length-prefixed ASCII string
			s := words(r, 3+r.IntN(40))
			b = append(b, byte(len(s)))
			b = append(b, s...)
		case 3: // UTF-16LE, either alignment
			if r.IntN(2) == 0 {
				b = append(b, 0x81)
			}
			for _, c := range words(r, 2+r.IntN(30)) {
				b = append(b, c, 0)
			}
		case 4: // zeros
			b = append(b, make([]byte, r.IntN(100))...)
		case 5: // a long printable run
			b = append(b, words(r, r.IntN(3*maxRun/2))...)
		}
	}
	return b[:n]
}

func words(r *rand.Rand, n int) []byte {
	const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.=: \t"
	b := make([]byte, n)
	for i := range b {
		b[i] = chars[r.IntN(len(chars))]
	}
	return b
}

// TestPrintableMatchesByteByByte compares the printer with the oracle on
// binary-like data, whole and written in chunks of every size class.
func TestPrintableMatchesByteByByte(t *testing.T) {
	for seed := range uint64(8) {
		data := binaryLike(seed, 200_000)
		want := printableByByte(data)
		if got := Printable(data); !bytes.Equal(got, want) {
			t.Fatalf("seed %d: Printable differs from the byte-by-byte oracle (%d bytes, want %d)", seed, len(got), len(want))
		}
		for _, chunk := range []int{1, 2, 3, 7, 64, 4099} {
			var p printer
			var got []byte
			for i := 0; i < len(data); i += chunk {
				got = p.write(got, data[i:min(i+chunk, len(data))])
			}
			if got = p.flush(got); !bytes.Equal(got, want) {
				t.Fatalf("seed %d, chunks of %d: output differs from the oracle", seed, chunk)
			}
		}
	}
}

// FuzzPrintable: any bytes, written in two pieces cut anywhere, give the
// oracle's runs.
func FuzzPrintable(f *testing.F) {
	f.Add(binaryLike(1, 300), uint16(17))
	f.Add([]byte("\x05hello\x00a\x00b\x00c\x00d\x00e\x00f\x00\x00"), uint16(3))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		want := printableByByte(data)
		c := min(int(cut), len(data))
		var p printer
		got := p.flush(p.write(p.write(nil, data[:c]), data[c:]))
		if !bytes.Equal(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
}

func BenchmarkPrintable(b *testing.B) {
	data := binaryLike(3, 8<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		Printable(data)
	}
}

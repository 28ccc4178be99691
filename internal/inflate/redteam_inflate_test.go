package inflate

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"testing"
)

// TestRedteamFlushedStreams: a writer flushed every few bytes ends each
// Huffman block with an empty stored block (a sync marker) that starts at
// any bit offset, often with whole bytes still held in the bit buffer
// from a 64-bit refill, and follows it with a new block: Zlib agrees with
// compress/zlib on content, length and every truncation of them.
func TestRedteamFlushedStreams(t *testing.T) {
	t.Parallel()
	var d Decoder
	data := samples()["text"][:3000]
	for _, level := range []int{flate.HuffmanOnly, flate.NoCompression, flate.BestSpeed, flate.DefaultCompression} {
		for _, every := range []int{1, 3, 17, 300} {
			var b bytes.Buffer
			w, err := zlib.NewWriterLevel(&b, level)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < len(data); i += every {
				w.Write(data[i:min(i+every, len(data))])
				w.Flush()
			}
			w.Close()
			src := b.Bytes()
			check(t, &d, src)
			check(t, &d, append(bytes.Clone(src), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
			for cut := len(src) - 40; cut < len(src); cut++ {
				if _, err := d.Zlib(make([]byte, len(data)), src[:cut]); err == nil {
					t.Fatalf("level %d, flushed every %d: cut at %d of %d accepted", level, every, cut, len(src))
				}
			}
		}
	}
}

// TestRedteamManyEmptyBlocks: thousands of empty blocks of each kind
// (fixed: 10 bits each, so every alignment; stored: 5 bytes each) before
// the final one decode in time linear in the stream, to the same result
// as compress/zlib.
func TestRedteamManyEmptyBlocks(t *testing.T) {
	var d Decoder
	for _, kind := range []string{"fixed", "stored"} {
		var bits []byte
		put := func(v uint, n int) { // n bits of v, lowest first
			for i := 0; i < n; i++ {
				bits = append(bits, byte(v>>i&1))
			}
		}
		for i := 0; i < 5000; i++ {
			if kind == "fixed" {
				put(0b010, 3) // not final, fixed
				put(0, 7)     // end of block: code 0000000
			} else {
				put(0b000, 3)
				for len(bits)%8 != 0 {
					bits = append(bits, 0)
				}
				put(0, 16)
				put(0xffff, 16)
			}
		}
		put(0b011, 3)      // final, fixed
		put(0b10001001, 8) // 'a': code 10010001, first bit first
		put(0, 7)
		raw := make([]byte, (len(bits)+7)/8)
		for i, b := range bits {
			raw[i/8] |= b << (i % 8)
		}
		src := zlibWrap(raw)
		if out, _, err := oracle(src); err != nil || string(out) != "a" {
			t.Fatalf("%s: compress/zlib decodes %q, %v", kind, out, err)
		}
		check(t, &d, src)
	}
}

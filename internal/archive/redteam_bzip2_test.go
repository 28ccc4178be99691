package archive

import (
	"bytes"
	"compress/bzip2"
	"context"
	"io"
	"os/exec"
	"testing"
)

// bzStreamOf compresses data with the bzip2 command at level.
func bzStreamOf(t testing.TB, level string, data []byte) []byte {
	t.Helper()
	if _, err := exec.LookPath("bzip2"); err != nil {
		t.Skip("no bzip2 command to build a .bz2 test stream")
	}
	cmd := exec.Command("bzip2", "-"+level, "-c")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bzip2: %v", err)
	}
	return out
}

// bzRepeatBlock is a stream at the level of one, whose only block is
// repeated n times: n tiny blocks, each a few dozen bytes.
func bzRepeatBlock(t testing.TB, one []byte, n int) []byte {
	t.Helper()
	b := oneBlock(t, one)
	w := bitWriter{out: append([]byte(nil), one[:4]...)}
	all := make([]bzSpan, n)
	for i := range n {
		for p := b.lo; p < b.hi; {
			k := min(56, int(b.hi-p))
			w.write(readBits(one, p, k), k)
			p += int64(k)
		}
		all[i] = b
	}
	w.write(bzEndMagic, 48)
	w.write(uint64(combined(all)), 32)
	return w.flush()
}

// oneBlock finds the block of a one-block stream (bzipBlocks wants two at
// least).
func oneBlock(t testing.TB, data []byte) bzSpan {
	t.Helper()
	var w uint64
	var lo, end int64 = -1, -1
	for p := int64(0); p < int64(len(data))*8; p++ {
		w = w<<1 | uint64(data[p>>3]>>(7-p&7)&1)
		switch w & (1<<48 - 1) {
		case bzBlockMagic:
			lo = p - 47
		case bzEndMagic:
			end = p - 47
		}
	}
	if lo != 32 || end < lo {
		t.Fatalf("no single block: block at bit %d, end at %d", lo, end)
	}
	return bzSpan{lo: lo, hi: end, crc: uint32(readBits(data, lo+48, 32))}
}

// TestRedteamBzip2TinyBlocks: a stream of twenty thousand blocks of a few
// dozen bytes each is decoded as compress/bzip2 decodes it, by few
// decoders: each allocates a table of 3.6 MB, and one per four blocks (as
// before bzChunks bounded runs by their compressed size) made 18 GB of
// allocation and seconds of work from 600 kB.
func TestRedteamBzip2TinyBlocks(t *testing.T) {
	data := bzRepeatBlock(t, bzStreamOf(t, "9", []byte("a")), 20000)
	blocks := bzipBlocks(data)
	if len(blocks) != 20000 {
		t.Fatalf("%d blocks, want 20000", len(blocks))
	}
	chunks := bzChunks(blocks, 9, 2, 0)
	const table = 4 * 900_000
	if tables := len(chunks) * table; tables > 32*len(data)+table {
		t.Fatalf("%d chunks, %d bytes of decoder tables for %d bytes of input", len(chunks), tables, len(data))
	}
	want, got, wantErr, gotErr, how := readBoth(t, data, maxBzBlockOut)
	if wantErr != nil || gotErr != nil || !bytes.Equal(got, want) || len(got) != 20000 || how != "parallel" {
		t.Fatalf("%s: errors %v, %v; %d bytes, want %d", how, gotErr, wantErr, len(got), len(want))
	}
}

func BenchmarkRedteamTinyBlocks(b *testing.B) {
	data := bzRepeatBlock(b, bzStreamOf(b, "9", []byte("a")), 20000)
	b.Logf("%d bytes, %d blocks", len(data), len(bzipBlocks(data)))
	b.Run("sequential", func(b *testing.B) {
		for b.Loop() {
			n, err := io.Copy(io.Discard, bzip2.NewReader(bytes.NewReader(data)))
			if err != nil || n != 20000 {
				b.Fatal(n, err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		for b.Loop() {
			r, stop := newBzip2(context.Background(), data)
			n, err := io.Copy(io.Discard, r)
			stop()
			if err != nil || n != 20000 {
				b.Fatal(n, err)
			}
		}
	})
}

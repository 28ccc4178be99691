package archive

import (
	"bytes"
	"compress/bzip2"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"testing"
)

// mkBzip2Blocks compresses with `bzip2 -1`: 100 kB blocks, so that a
// megabyte of text makes a stream of many blocks.
func mkBzip2Blocks(t testing.TB, data []byte) []byte {
	t.Helper()
	if _, err := exec.LookPath("bzip2"); err != nil {
		t.Skip("no bzip2 command to build a .bz2 test stream (the standard library cannot write bzip2)")
	}
	cmd := exec.Command("bzip2", "-1", "-c")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bzip2: %v", err)
	}
	return out
}

// bzText is n bytes of varied text lines.
func bzText(n int) []byte {
	r := rand.New(rand.NewPCG(3, 4))
	var b bytes.Buffer
	for b.Len() < n {
		fmt.Fprintf(&b, "line %d: value=%x words %d\n", b.Len(), r.Uint64(), r.IntN(1000))
	}
	return b.Bytes()[:n]
}

// readBoth decodes data with compress/bzip2 and with newBzip2Bounded, and
// says how the latter did it: "parallel", "streamed a chunk" (a chunk too
// large to hold was decoded again block by block), "fell back" (to the
// sequential decoder, after a block failed or one block alone was too
// large to hold) or "sequential" (not cut into blocks).
func readBoth(t *testing.T, data []byte, maxOut int) (want, got []byte, wantErr, gotErr error, how string) {
	t.Helper()
	want, wantErr = io.ReadAll(bzip2.NewReader(bytes.NewReader(data)))
	r, stop := newBzip2Bounded(context.Background(), data, maxOut)
	defer stop()
	got, gotErr = io.ReadAll(r)
	how = "sequential"
	if p, ok := r.(*parallelBzip2); ok {
		how = "parallel"
		if p.parts > 0 {
			how = "streamed a chunk"
		}
		if p.seq != nil {
			how = "fell back"
		}
	}
	return want, got, wantErr, gotErr, how
}

// TestParallelBzip2 decodes streams of many blocks in parallel and checks
// the output against compress/bzip2's: whole, with a corrupt block (the
// sequential decoder's bytes and error), with a chunk too large to hold
// (decoded again block by block), with a block too large to hold (the rest
// to the sequential decoder), and streams it must not cut (one
// block, concatenated streams, trailing bytes).
func TestParallelBzip2(t *testing.T) {
	text := bzText(1 << 20)
	good := mkBzip2Blocks(t, text)
	if n := len(bzipBlocks(good)); n < 5 {
		t.Fatalf("%d blocks in a 1 MB stream of bzip2 -1: want many", n)
	}
	t.Run("whole", func(t *testing.T) {
		want, got, wantErr, gotErr, how := readBoth(t, good, maxBzBlockOut)
		if wantErr != nil || gotErr != nil || !bytes.Equal(got, want) || !bytes.Equal(got, text) || how != "parallel" {
			t.Fatalf("%s: errors %v, %v; %d bytes, want %d", how, wantErr, gotErr, len(got), len(want))
		}
	})
	t.Run("corrupt block", func(t *testing.T) {
		blocks := bzipBlocks(good)
		for _, b := range []int{0, 3, len(blocks) - 1} {
			bad := bytes.Clone(good)
			bad[(blocks[b].lo+blocks[b].hi)/16] ^= 0x55
			want, got, wantErr, gotErr, how := readBoth(t, bad, maxBzBlockOut)
			if wantErr == nil || gotErr == nil || wantErr.Error() != gotErr.Error() || !bytes.Equal(got, want) || how != "fell back" {
				t.Fatalf("block %d, %s: errors %v, %v; %d bytes, want %d", b, how, gotErr, wantErr, len(got), len(want))
			}
		}
	})
	t.Run("block too large to hold", func(t *testing.T) {
		want, got, wantErr, gotErr, how := readBoth(t, good, 1000)
		if wantErr != nil || gotErr != nil || !bytes.Equal(got, want) || how != "fell back" {
			t.Fatalf("%s: errors %v, %v; %d bytes, want %d", how, wantErr, gotErr, len(got), len(want))
		}
	})
	t.Run("chunk too large to hold, its blocks not", func(t *testing.T) {
		// Chunks of two 100 kB blocks, 150 kB held: each chunk is decoded
		// again block by block, the workers going on.
		want, got, wantErr, gotErr, how := readBoth(t, good, 150_000)
		if wantErr != nil || gotErr != nil || !bytes.Equal(got, want) || how != "streamed a chunk" {
			t.Fatalf("%s: errors %v, %v; %d bytes, want %d", how, wantErr, gotErr, len(got), len(want))
		}
	})
	t.Run("chunk too large to hold, mid-stream", func(t *testing.T) {
		// A long run of one byte is a few kB in one block, megabytes out.
		runs := append(append(bytes.Clone(text[:300_000]), bytes.Repeat([]byte("x"), 3<<20)...), text[300_000:600_000]...)
		data := mkBzip2Blocks(t, runs)
		want, got, wantErr, gotErr, how := readBoth(t, data, 1<<20)
		if wantErr != nil || gotErr != nil || !bytes.Equal(got, want) || !bytes.Equal(got, runs) || how != "fell back" {
			t.Fatalf("%s: errors %v, %v; %d bytes, want %d", how, wantErr, gotErr, len(got), len(want))
		}
		r, stop := newBzip2Bounded(context.Background(), data, 1<<20)
		defer stop()
		if _, err := io.Copy(io.Discard, r); err != nil {
			t.Fatal(err)
		}
		if p := r.(*parallelBzip2); p.next == 0 || p.skip != 0 {
			t.Fatalf("went on from chunk %d, skipping %d: want the chunks before the large one decoded in parallel", p.next, p.skip)
		}
	})
	small := mkBzip2Blocks(t, text[:1000])
	for name, data := range map[string][]byte{
		"one block":      small,
		"two streams":    append(bytes.Clone(good), good...),
		"trailing bytes": append(bytes.Clone(good), "junk"...),
		"truncated":      good[:len(good)-20],
	} {
		t.Run(name, func(t *testing.T) {
			if bzipBlocks(data) != nil {
				t.Fatal("cut into blocks")
			}
			want, got, wantErr, gotErr, how := readBoth(t, data, maxBzBlockOut)
			if fmt.Sprint(wantErr) != fmt.Sprint(gotErr) || !bytes.Equal(got, want) || how != "sequential" {
				t.Fatalf("%s: errors %v, %v; %d bytes, want %d", how, gotErr, wantErr, len(got), len(want))
			}
		})
	}
}

// TestParallelBzip2Cancel: a cancelled decode ends with the context's
// error instead of waiting for blocks never decoded.
func TestParallelBzip2Cancel(t *testing.T) {
	data := mkBzip2Blocks(t, bzText(1<<20))
	ctx, cancel := context.WithCancel(context.Background())
	r, stop := newBzip2(ctx, data)
	defer stop()
	if _, err := io.ReadFull(r, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	cancel()
	_, err := io.ReadAll(r)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

// TestWalkBzip2Blocks: a .bz2 of many blocks walked as a file is read
// whole and in order.
func TestWalkBzip2Blocks(t *testing.T) {
	text := bzText(1 << 20)
	got := walk(t, "big.txt.bz2", mkBzip2Blocks(t, text), DefaultLimits())
	if got.err != nil || got.members["big.txt.bz2"] != string(text) {
		t.Fatalf("err %v, %d bytes", got.err, len(got.members["big.txt.bz2"]))
	}
}

// BenchmarkBzip2 decodes a stream of many blocks with compress/bzip2 alone
// and with the blocks decoded in parallel.
func BenchmarkBzip2(b *testing.B) {
	text := bzText(4 << 20)
	data := mkBzip2Blocks(b, text)
	b.Run("sequential", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			io.Copy(io.Discard, bzip2.NewReader(bytes.NewReader(data)))
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			r, stop := newBzip2(context.Background(), data)
			io.Copy(io.Discard, r)
			stop()
		}
	})
}

// TestBzip2ShorterThanItsSize: a .bz2 that yields fewer bytes than its
// size said (the file shrank between stat and read) is an error naming the
// short read, not a decode of zeros.
func TestBzip2ShorterThanItsSize(t *testing.T) {
	data := mkBzip2(t, bytes.Repeat([]byte("some text\n"), 1000))
	short := bytes.NewReader(data[:len(data)/2])
	_, err := Walk(context.Background(), "x.bz2", short, int64(len(data)), DefaultLimits(), func(Member) error { return nil })
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("error %v, want io.ErrUnexpectedEOF", err)
	}
}

// TestParallelBzip2ReadAfterEnd: read again after its end (as a member's
// reader may be), the parallel decoder says io.EOF again, not the
// cancellation that freed its workers (that made a clean .bz2 blob an
// error in gemscan git).
func TestParallelBzip2ReadAfterEnd(t *testing.T) {
	data := mkBzip2Blocks(t, bzText(1<<20))
	r, stop := newBzip2(context.Background(), data)
	defer stop()
	if _, ok := r.(*parallelBzip2); !ok {
		t.Fatalf("%T: want the parallel decoder", r)
	}
	if _, err := io.ReadAll(r); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if n, err := r.Read(make([]byte, 10)); n != 0 || err != io.EOF {
			t.Fatalf("read %d after the end: %d, %v; want 0, io.EOF", i, n, err)
		}
	}
}

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
	"runtime"
	"slices"
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

// TestRedteamBzip2TinyBlocks: streams of blocks of a few dozen bytes each
// are decoded as compress/bzip2 decodes them, with few decoders. Each
// decoder allocates a table of 3.6 MB at level 9; one per four blocks (as
// before bzChunks bounded runs by their compressed size) made 18 GB of
// allocation and seconds of work from 600 kB of tiny blocks, and 270 MB
// from the 210 kB of one large block and 300 tiny ones. A stream of tiny
// blocks only is not cut at all (minBzBlockAvg).
func TestRedteamBzip2TinyBlocks(t *testing.T) {
	const table = 4 * 900_000
	tiny := bzRepeatBlock(t, bzStreamOf(t, "9", []byte("a")), 20000)
	if n := len(bzipBlocksAvg(context.Background(), tiny, 1)); n != 20000 {
		t.Fatalf("%d blocks, want 20000", n)
	}
	if bzipBlocks(tiny) != nil {
		t.Fatal("a stream of 20000 blocks of 22 bytes is cut into blocks")
	}
	if _, _, wantErr, gotErr, how := readBoth(t, tiny, maxBzBlockOut); wantErr != nil || gotErr != nil || how != "sequential" {
		t.Fatalf("tiny blocks, %s: errors %v, %v", how, gotErr, wantErr)
	}

	r := rand.New(rand.NewPCG(11, 12))
	big := make([]byte, 200_000)
	for i := range big {
		big[i] = byte(r.IntN(256))
	}
	blocks := tinyBlocks(t, "9", string(big))
	blocks = append(blocks, slices.Repeat(tinyBlocks(t, "9", "a", "b", "c"), 100)...)
	mixed := bzBuild('9', blocks)
	spans := bzipBlocks(mixed)
	if len(spans) != 301 {
		t.Fatalf("%d blocks in one large block and 300 tiny ones", len(spans))
	}
	chunks := bzChunks(spans, 9, 2, 0)
	if tables := len(chunks) * table; tables > table/(900_000/minInDiv)*len(mixed)+table {
		t.Fatalf("%d chunks, %d bytes of decoder tables for %d bytes of input", len(chunks), tables, len(mixed))
	}
	want, got, wantErr, gotErr, how := readBoth(t, mixed, maxBzBlockOut)
	if wantErr != nil || gotErr != nil || !bytes.Equal(got, want) || len(got) != 200_300 || how != "parallel" {
		t.Fatalf("%s: errors %v, %v; %d bytes, want %d", how, gotErr, wantErr, len(got), len(want))
	}
}

// bzBlockBits is one block of a stream: its bits, from its magic on.
type bzBlockBits struct {
	data   []byte // the stream holding it
	lo, hi int64
}

// tinyBlocks compresses each text alone at level and returns their blocks.
func tinyBlocks(t testing.TB, level string, texts ...string) []bzBlockBits {
	t.Helper()
	var out []bzBlockBits
	for _, s := range texts {
		one := bzStreamOf(t, level, []byte(s))
		b := oneBlock(t, one)
		out = append(out, bzBlockBits{one, b.lo, b.hi})
	}
	return out
}

// bzBuild lays blocks out as one stream with header "BZh"+level and the
// combined CRC of their CRC fields.
func bzBuild(level byte, blocks []bzBlockBits) []byte {
	w := bitWriter{out: []byte{'B', 'Z', 'h', level}}
	var spans []bzSpan
	for _, b := range blocks {
		for p := b.lo; p < b.hi; {
			k := min(56, int(b.hi-p))
			w.write(readBits(b.data, p, k), k)
			p += int64(k)
		}
		spans = append(spans, bzSpan{crc: uint32(readBits(b.data, b.lo+48, 32))})
	}
	w.write(bzEndMagic, 48)
	w.write(uint64(combined(spans)), 32)
	return w.flush()
}

// setBits overwrites n bits of data at bit offset at with v.
func setBits(data []byte, at int64, n int, v uint64) {
	for i := 0; i < n; i++ {
		p := at + int64(i)
		bit := byte(v>>(n-1-i)) & 1
		data[p>>3] = data[p>>3]&^(0x80>>(p&7)) | bit<<7>>(p&7)
	}
}

// fixTrailer rewrites the stream CRC after the last end-of-stream magic as
// the fold of the CRC fields after every block magic before it, so that a
// forged stream passes bzipBlocks' check and reaches the parallel decoder.
func fixTrailer(data []byte) []byte {
	data = bytes.Clone(data)
	var w uint64
	var spans []bzSpan
	end := int64(-1)
	for p := int64(0); p < int64(len(data))*8; p++ {
		w = w<<1 | uint64(data[p>>3]>>(7-p&7)&1)
		if p < 79 {
			continue
		}
		switch w & (1<<48 - 1) {
		case bzBlockMagic:
			if at := p - 47; at+80 <= int64(len(data))*8 {
				spans = append(spans, bzSpan{crc: uint32(readBits(data, at+48, 32))})
			}
		case bzEndMagic:
			end = p - 47
		}
	}
	if end >= 0 && end+80 <= int64(len(data))*8 {
		setBits(data, end+48, 32, uint64(combined(spans)))
	}
	return data
}

// diffBzip2 decodes data with compress/bzip2 and with the parallel decoder
// (chunks of at least minIn compressed bytes, up to maxOut bytes out,
// blocks of any size) and
// fails unless both give the same bytes and the same error.
func diffBzip2(t testing.TB, data []byte, maxOut, minIn int) (how string) {
	t.Helper()
	want, wantErr := io.ReadAll(bzip2.NewReader(bytes.NewReader(data)))
	r, stop := newBzip2Tuned(context.Background(), data, bzTuning{maxOut: maxOut, minIn: minIn, minAvg: 1})
	defer stop()
	got, gotErr := io.ReadAll(r)
	how = "sequential"
	if p, ok := r.(*parallelBzip2); ok {
		how = "parallel"
		if p.seq != nil {
			how = "fell back"
		}
	}
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || !bytes.Equal(got, want) {
		t.Fatalf("%s: error %v, want %v; %d bytes, want %d (equal prefix: %v)", how, gotErr, wantErr,
			len(got), len(want), bytes.HasPrefix(want, got) || bytes.HasPrefix(got, want))
	}
	return how
}

// forgeBase is a stream of twelve small blocks of distinct text at level
// 1, so that the parallel decoder (chunks of any size) cuts it into six
// runs on two workers.
func forgeBase(t testing.TB) ([]byte, []bzBlockBits) {
	var texts []string
	for i := range 12 {
		texts = append(texts, fmt.Sprintf("block %d: %s\n", i, bytes.Repeat([]byte{byte('a' + i)}, 40+i)))
	}
	blocks := tinyBlocks(t, "1", texts...)
	return bzBuild('1', blocks), blocks
}

// TestRedteamBzip2Forged: streams forged to mislead the cutting at block
// magics decode to the sequential decoder's bytes and error, whichever way
// the parallel decoder goes.
func TestRedteamBzip2Forged(t *testing.T) {
	good, blocks := forgeBase(t)
	spans := bzipBlocksAvg(context.Background(), good, 1)
	if len(spans) != 12 {
		t.Fatalf("%d blocks", len(spans))
	}
	if how := diffBzip2(t, good, maxBzBlockOut, 1); how != "parallel" {
		t.Fatalf("good stream: %s", how)
	}
	type forged struct {
		name string
		data []byte
		how  string // the path the parallel decoder must take, "" any
	}
	var cases []forged
	for k, s := range spans {
		mid := (s.lo + 48 + 32 + s.hi) / 2
		for _, fix := range []bool{false, true} {
			for _, m := range []struct {
				name  string
				magic uint64
			}{{"block magic", bzBlockMagic}, {"end magic", bzEndMagic}} {
				d := bytes.Clone(good)
				setBits(d, mid, 48, m.magic)
				name := fmt.Sprintf("%s inside block %d", m.name, k)
				if fix {
					d, name = fixTrailer(d), name+", stream CRC fixed"
				}
				cases = append(cases, forged{name, d, ""})
			}
		}
		d := bytes.Clone(good)
		setBits(d, s.lo+48, 32, uint64(s.crc^1))
		cases = append(cases, forged{fmt.Sprintf("wrong block CRC %d", k), d, "sequential"})
		cases = append(cases, forged{fmt.Sprintf("wrong block CRC %d, stream CRC fixed", k), fixTrailer(d), "fell back"})
		d = bytes.Clone(good)
		setBits(d, s.lo+48+32, 1, 1)
		cases = append(cases, forged{fmt.Sprintf("randomised block %d", k), d, "fell back"})
	}
	// The last block's magic inside the end of the one before it: the
	// cut makes a block shorter than its header.
	d := bytes.Clone(good)
	setBits(d, spans[5].hi-20, 48, bzBlockMagic)
	cases = append(cases, forged{"block magic over a block boundary", fixTrailer(d), ""})
	wrong := bytes.Clone(good)
	wrong[len(wrong)-2] ^= 0x10
	cases = append(cases, forged{"wrong stream CRC", wrong, "sequential"})
	swapped := append(append([]bzBlockBits{}, blocks[1], blocks[0]), blocks[2:]...)
	cases = append(cases, forged{"blocks swapped", bzBuild('1', swapped), "parallel"})
	cases = append(cases, forged{"two streams", append(bytes.Clone(good), good...), "sequential"})
	cases = append(cases, forged{"trailing garbage", append(bytes.Clone(good), 0), "sequential"})
	cases = append(cases, forged{"padding bits set", func() []byte {
		d := bytes.Clone(good)
		d[len(d)-1] |= 0xff >> (8 - (8-(len(d)*8-int(spans[11].hi)-80)%8)%8)
		return d
	}(), ""})
	for cut := 1; cut < len(good); cut += 7 {
		cases = append(cases, forged{fmt.Sprintf("truncated to %d", cut), good[:cut], "sequential"})
	}
	for _, lvl := range []byte{'0', '1', '9', 'a'} {
		d := bytes.Clone(good)
		d[3] = lvl
		cases = append(cases, forged{"level " + string(lvl), d, ""})
	}
	paths := map[string]int{}
	for _, c := range cases {
		for _, maxOut := range []int{maxBzBlockOut, 30} {
			how := diffBzip2(t, c.data, maxOut, 1)
			paths[how]++
			if c.how != "" && maxOut == maxBzBlockOut && how != c.how {
				t.Errorf("%s: decoded %s, want %s", c.name, how, c.how)
			}
		}
	}
	t.Logf("paths taken: %v", paths)
	if paths["fell back"] < 24 || paths["parallel"] == 0 {
		t.Fatalf("paths taken: %v: the forgeries do not reach the parallel decoder", paths)
	}
}

// FuzzRedteamBzip2 decodes any input, as it is and with its stream CRC
// rewritten to pass the cutting's check, sequentially and in parallel
// (chunks of any size, small output buffers): same bytes, same error.
func FuzzRedteamBzip2(f *testing.F) {
	good, _ := forgeBase(f)
	f.Add(good, uint16(0))
	spans := bzipBlocksAvg(context.Background(), good, 1)
	d := bytes.Clone(good)
	setBits(d, (spans[3].lo+spans[3].hi)/2, 48, bzBlockMagic)
	f.Add(d, uint16(40))
	f.Add(append(bytes.Clone(good), good...), uint16(7))
	f.Fuzz(func(t *testing.T, data []byte, maxOut uint16) {
		out := int(maxOut)
		if out == 0 {
			out = maxBzBlockOut
		}
		diffBzip2(t, data, out, 1)
		diffBzip2(t, fixTrailer(data), out, 1)
	})
}

// TestRedteamBzip2StopWaits: once the stop function returns, no worker of
// the parallel decoder runs on (one did until the end of its chunk, up to
// 8 MB of output, after a scan had returned).
func TestRedteamBzip2StopWaits(t *testing.T) {
	data := mkBzip2Blocks(t, bzText(1<<20))
	r, stop := newBzip2(context.Background(), data)
	if _, ok := r.(*parallelBzip2); !ok {
		t.Fatal("not decoded in parallel")
	}
	if _, err := io.ReadFull(r, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	if !decoderRunning() {
		t.Fatal("no decoder goroutine seen before stop: the check below proves nothing")
	}
	stop()
	// Count the decoder's own goroutines, by their stacks: a bare
	// runtime.NumGoroutine also counts the runtime's finalizer goroutine
	// while it runs a finalizer, whenever a GC happens to queue one.
	if decoderRunning() {
		t.Fatal("a goroutine of the parallel decoder runs on after stop returned")
	}
	if _, err := io.ReadAll(r); !errors.Is(err, context.Canceled) {
		t.Fatalf("read after stop: %v", err)
	}
}

// TestRedteamBzip2CutCancelled: cutting a stream into blocks, a bit at a
// time, stops when the scan is cancelled, and the reader then ends with the
// context's error.
func TestRedteamBzip2CutCancelled(t *testing.T) {
	data := mkBzip2Blocks(t, bzText(1<<20))
	if bzipBlocks(data) == nil {
		t.Fatal("not cut")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if b := bzipBlocksAvg(ctx, data, minBzBlockAvg); b != nil {
		t.Fatalf("cut into %d blocks after the scan was cancelled", len(b))
	}
	r, stop := newBzip2(ctx, data)
	defer stop()
	w := &walker{ctx: ctx, lim: DefaultLimits()}
	if _, err := io.ReadAll(&expanding{r: r, w: w}); !errors.Is(err, context.Canceled) {
		t.Fatalf("read after cancel: %v", err)
	}
}

// cancelOnRead cancels a context at its first read, then reads r.
type cancelOnRead struct {
	r      io.Reader
	cancel func()
	read   int // bytes
}

func (c *cancelOnRead) Read(b []byte) (int, error) {
	c.cancel()
	n, err := c.r.Read(b)
	c.read += n
	return n, err
}

// TestRedteamBzip2SkipCancelled: after a late chunk fails, the sequential
// decoder re-decodes and discards everything already handed out (up to the
// expansion limit); an interrupt during that ends it at once instead of
// after the whole skip.
func TestRedteamBzip2SkipCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := &cancelOnRead{r: bytes.NewReader(make([]byte, 64<<20)), cancel: cancel}
	p := &parallelBzip2{outer: ctx, seq: src, skip: 64 << 20}
	n, err := p.Read(make([]byte, 10))
	if n != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("read %d, %v", n, err)
	}
	if src.read > 1<<20 {
		t.Fatalf("%d bytes skipped after the interrupt", src.read)
	}
}

// TestRedteamBzip2Workers: however many cores, one stream is decoded by at
// most maxBzWorkers workers, holding as many buffers and one more.
func TestRedteamBzip2Workers(t *testing.T) {
	data := mkBzip2Blocks(t, bzText(1<<20))
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(64))
	r, stop := newBzip2(context.Background(), data)
	defer stop()
	p, ok := r.(*parallelBzip2)
	if !ok {
		t.Fatal("not decoded in parallel")
	}
	if n := cap(p.bufs); n > maxBzWorkers+1 {
		t.Fatalf("%d buffers for 64 cores, want %d at most", n, maxBzWorkers+1)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, bzText(1<<20)) {
		t.Fatalf("%d bytes, %v", len(got), err)
	}
}

// decoderRunning tells whether any goroutine of a parallel bzip2 decoder
// (the feeder or a worker started by newBzip2Tuned) exists.
func decoderRunning() bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return bytes.Contains(buf, []byte("archive.newBzip2Tuned.func"))
}

package archive

import (
	"bytes"
	"compress/bzip2"
	"context"
	"errors"
	"io"
	"runtime"
	"sync"
)

// bzip2 decompresses at about 20 MB/s (inverting the Burrows–Wheeler
// transform chases pointers through a 3.6 MB table), so one .bz2 holding a
// large text (Go's own regexp/testdata/re2-exhaustive.txt.bz2: 428 KB, 64
// MB of text) takes seconds on one core while the others idle. Its blocks
// are independent: each one, cut out of the stream at its 48-bit magic and
// given a stream header, an end-of-stream marker and its own CRC as the
// stream's, is a valid single-block stream that compress/bzip2 decodes on a
// core of its own.
//
// Workers decode chunks of consecutive blocks (one stream each, the
// blocks' CRCs folded into the chunk's), at most a few chunks ahead of the
// reader, each into a buffer of bounded size.
//
// The cutting trusts nothing. The stream must be one stream, laid out as
// "BZh" + level, blocks, end-of-stream marker, combined CRC and at most
// seven bits of padding; every chunk must decode without error (each block
// is checked against its own CRC), and the blocks' CRCs must combine into
// the stream's. A magic that happens to occur inside compressed data makes
// a chunk fail; then the stream is decoded again from its start by
// compress/bzip2 alone, the bytes already handed out skipped: the output is
// the sequential decoder's, byte for byte, errors included. A chunk that
// expands past its buffer is decoded again one block at a time, each block
// checked before it is handed out, while the workers go on with the chunks
// after it; a single block that expands past it sends the stream to the
// sequential decoder.

// Block and end-of-stream magics of bzip2.
const (
	bzBlockMagic = 0x314159265359
	bzEndMagic   = 0x177245385090
)

// maxBzBlockOut bounds the decompressed bytes of one chunk of blocks held
// while it waits its turn; from a chunk that yields more (runs of one byte
// expand up to fifty-fold), the rest of the stream goes to one sequential
// decoder, which streams.
const maxBzBlockOut = 8 << 20

// maxBzWorkers bounds the workers of one stream. Each holds a decoder table
// (3.6 MB at level 9) and one buffer of up to maxBzBlockOut, one more buffer
// being read: about 12 MB a worker, so with one per core a 64-core machine
// would hold 750 MB for one .bz2, and as much again for each other file
// the scan reads at the same time (TestRedteamBzip2Workers).
const maxBzWorkers = 4

// bzSpan is one block: its bits [lo, hi) in the stream and its CRC.
type bzSpan struct {
	lo, hi int64
	crc    uint32
}

// minBzBlockAvg is the fewest compressed bytes per block, on average, of a
// stream decoded in parallel. bzip2 writes blocks that small only for runs
// of one byte (a bomb, stopped by the expansion limits whichever decoder
// reads it); a stream forged of a million blocks of a few dozen bytes each
// costs more to cut (24 bytes of bzSpan and a bit-by-bit copy per block)
// than to decode sequentially: more than twice the CPU and seven times the
// memory of compress/bzip2 alone (TestRedteamBzip2TinyBlocks).
const minBzBlockAvg = 512

// bzipBlocks splits a whole bzip2 stream into its blocks, or returns nil
// when data is not exactly one stream of at least two blocks, averaging
// minBzBlockAvg bytes at least.
func bzipBlocks(data []byte) []bzSpan {
	return bzipBlocksAvg(context.Background(), data, minBzBlockAvg)
}

// bzipBlocksAvg is bzipBlocks with blocks averaging minAvg bytes at least;
// it returns nil once ctx is done. It looks at each bit, about 30 ns a byte:
// most of a second for a stream of 32 MB, too long to ignore an interrupt
// (TestRedteamBzip2CutCancelled).
func bzipBlocksAvg(ctx context.Context, data []byte, minAvg int) []bzSpan {
	maxBlocks := len(data)/max(1, minAvg) + 1
	if len(data) < 14 || string(data[:3]) != "BZh" || data[3] < '1' || data[3] > '9' {
		return nil
	}
	total := int64(len(data)) * 8
	var blocks []bzSpan
	var w uint64
	end := int64(-1)
	// Bit p is the last of a 48-bit window: the magic at p-47.
	for p := int64(0); p < total; p++ {
		if p&(1<<20-1) == 0 && ctx.Err() != nil {
			return nil
		}
		w = w<<1 | uint64(data[p>>3]>>(7-p&7)&1)
		if p < 32+47 {
			continue
		}
		switch w & (1<<48 - 1) {
		case bzBlockMagic:
			if end >= 0 || len(blocks) == maxBlocks {
				return nil
			}
			at := p - 47
			if len(blocks) == 0 && at != 32 {
				return nil
			}
			if len(blocks) > 0 {
				blocks[len(blocks)-1].hi = at
			}
			blocks = append(blocks, bzSpan{lo: at})
		case bzEndMagic:
			if end >= 0 || len(blocks) == 0 {
				return nil
			}
			end = p - 47
			blocks[len(blocks)-1].hi = end
		}
	}
	// The stream's CRC follows the end marker, then padding to a byte.
	if end < 0 || len(blocks) < 2 || total-(end+48+32) < 0 || total-(end+48+32) > 7 {
		return nil
	}
	for i := range blocks {
		if blocks[i].hi-blocks[i].lo < 48+32 {
			return nil
		}
		blocks[i].crc = uint32(readBits(data, blocks[i].lo+48, 32))
	}
	if combined(blocks) != uint32(readBits(data, end+48, 32)) {
		return nil
	}
	return blocks
}

// combined is the stream CRC of blocks, as bzip2 folds block CRCs.
func combined(blocks []bzSpan) uint32 {
	var c uint32
	for _, b := range blocks {
		c = (c<<1 | c>>31) ^ b.crc
	}
	return c
}

// readBits reads n (<= 57) bits of data from bit offset at, most
// significant first.
func readBits(data []byte, at int64, n int) uint64 {
	var v uint64
	for i := 0; i < n; i++ {
		p := at + int64(i)
		v = v<<1 | uint64(data[p>>3]>>(7-p&7)&1)
	}
	return v
}

// bitWriter appends bits to a byte slice, most significant first.
type bitWriter struct {
	out  []byte
	acc  uint64
	nacc int
}

func (b *bitWriter) write(v uint64, n int) {
	for n > 0 {
		k := min(n, 32)
		n -= k
		b.acc = b.acc<<k | v>>n&(1<<k-1)
		b.nacc += k
		for b.nacc >= 8 {
			b.nacc -= 8
			b.out = append(b.out, byte(b.acc>>b.nacc))
		}
	}
}

func (b *bitWriter) flush() []byte {
	if b.nacc > 0 {
		b.out = append(b.out, byte(b.acc<<(8-b.nacc)))
		b.nacc = 0
	}
	return b.out
}

// chunkStream makes blocks, consecutive in data, a stream of their own.
func chunkStream(data []byte, blocks []bzSpan) []byte {
	lo, hi := blocks[0].lo, blocks[len(blocks)-1].hi
	b := bitWriter{out: make([]byte, 0, (hi-lo)/8+16)}
	b.out = append(b.out, data[:4]...)
	p := lo
	for ; p+56 <= hi; p += 56 {
		b.write(readBits(data, p, 56), 56)
	}
	b.write(readBits(data, p, int(hi-p)), int(hi-p))
	b.write(bzEndMagic, 48)
	b.write(uint64(combined(blocks)), 32)
	return b.flush()
}

// bzChunks cuts blocks (of a stream at level, 1 to 9) into the runs that
// workers decode as one stream each: about chunkOut bytes of output by the
// level's block size, at least two runs per worker where there are blocks
// enough, and at least minIn compressed bytes per run but the last (0: the
// level's block size / minInDiv).
//
// Each run costs a decoder whose table takes four bytes per byte of the
// level's block size, allocated and cleared before the first block. Without
// the last bound a stream of tiny blocks (a few dozen bytes each) made one
// table of 3.6 MB per four of them: gigabytes of allocation and seconds
// from a file of a megabyte that the sequential decoder, allocating its
// table once, reads in milliseconds (TestRedteamBzip2TinyBlocks). With it a
// table costs at most about 110 bytes per compressed byte. The runs are
// slices of blocks.
func bzChunks(blocks []bzSpan, level, workers, minIn int) [][]bzSpan {
	blockSize := level * 100_000
	if minIn == 0 {
		minIn = blockSize / minInDiv
	}
	per := max(1, min(chunkOut/blockSize, len(blocks)/(2*workers)))
	var chunks [][]bzSpan
	for rest := blocks; len(rest) > 0; {
		n := min(per, len(rest))
		for n < len(rest) && (rest[n-1].hi-rest[0].lo)/8 < int64(minIn) {
			n++
		}
		chunks = append(chunks, rest[:n])
		rest = rest[n:]
	}
	return chunks
}

// minInDiv sets the least compressed input of a run (but the last): the
// level's block size divided by it, 32 kB at level 9. A table then costs at
// most about 110 bytes per compressed byte, while a run of text compressed
// a hundred-fold and more (test data, logs) still fits maxBzBlockOut: a
// run of 112 kB of those expanded past it and sent the whole stream to the
// sequential decoder, on one core.
const minInDiv = 28

// chunkOut is about how many decompressed bytes a chunk of blocks, decoded
// by one worker as one stream, is made to hold: the fewer chunks, the fewer
// decoders (each allocates a table four times the block size) and buffers.
const chunkOut = 4 << 20

// bzResult is one chunk's output, or why the chunk failed.
type bzResult struct {
	out []byte
	err error
}

// parallelBzip2 reads a bzip2 stream held whole in memory, decoding chunks
// of its blocks on several cores; see the comment at the top of this file.
type parallelBzip2 struct {
	ctx     context.Context // cancelled by stop, at the end and on falling back
	outer   context.Context // the scan's, which readSeq obeys
	data    []byte
	cancel  context.CancelFunc
	results []chan bzResult // one per chunk, in order
	next    int             // the chunk whose output is read next
	cur     []byte          // what is left of the current chunk's output
	emitted int64           // bytes handed out
	seq     io.Reader       // the sequential decoder, once fallen back
	// pending are the blocks of a chunk too large to hold, decoded one at
	// a time as they are read (pendingAt is the first one's index in
	// blocks), each checked before it is handed out; parts counts such
	// chunks.
	pending   []bzSpan
	pendingAt int
	parts     int
	spare     []byte // the buffer pending blocks decode into
	maxOut    int
	eof       bool  // every chunk was read
	skip      int64 // bytes seq must still discard
	// bufs holds one output buffer per chunk decoded or being decoded and
	// not yet read: taking one is the right to decode a chunk, so memory
	// stays within a few chunks.
	bufs chan []byte
	held []byte // the buffer of the chunk being read
	// blocks are the stream's blocks, chunks the runs of them decoded as
	// one.
	blocks []bzSpan
	chunks [][]bzSpan
}

// newBzip2 returns a reader of the bzip2 stream data, decoding blocks in
// parallel when the stream can be cut into them, and a function that stops
// the decoding and returns once no worker runs: compress/bzip2 cannot be
// interrupted, but a worker looks at the context between its reads, each
// at most one block's decoding (TestRedteamBzip2StopWaits).
func newBzip2(ctx context.Context, data []byte) (io.Reader, func()) {
	return newBzip2Tuned(ctx, data, bzTuning{maxOut: maxBzBlockOut, minAvg: minBzBlockAvg})
}

// bzTuning holds the bounds of the parallel decoder, which tests lower.
type bzTuning struct {
	maxOut int // bytes of a chunk's output held (maxBzBlockOut)
	minIn  int // compressed bytes of a chunk but the last, at least (0: see bzChunks)
	minAvg int // compressed bytes per block on average, at least (minBzBlockAvg)
}

// newBzip2Bounded is newBzip2 holding at most maxOut bytes of a chunk.
func newBzip2Bounded(ctx context.Context, data []byte, maxOut int) (io.Reader, func()) {
	return newBzip2Tuned(ctx, data, bzTuning{maxOut: maxOut, minAvg: minBzBlockAvg})
}

// newBzip2Tuned is newBzip2 within the bounds tu.
func newBzip2Tuned(ctx context.Context, data []byte, tu bzTuning) (io.Reader, func()) {
	blocks := bzipBlocksAvg(ctx, data, tu.minAvg)
	if blocks == nil {
		return bzip2.NewReader(bytes.NewReader(data)), func() {}
	}
	workers := min(runtime.GOMAXPROCS(0), len(blocks), maxBzWorkers)
	chunks := bzChunks(blocks, int(data[3]-'0'), workers, tu.minIn)
	outer := ctx
	ctx, cancel := context.WithCancel(ctx)
	p := &parallelBzip2{ctx: ctx, outer: outer, data: data, cancel: cancel, results: make([]chan bzResult, len(chunks)),
		bufs: make(chan []byte, workers+1), blocks: blocks, chunks: chunks, maxOut: tu.maxOut}
	for i := range p.results {
		p.results[i] = make(chan bzResult, 1)
	}
	for range workers + 1 {
		p.bufs <- nil
	}
	type job struct {
		i   int
		buf []byte
	}
	next := make(chan job)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(next)
		for i := range chunks {
			var buf []byte
			select {
			case buf = <-p.bufs:
			case <-ctx.Done():
				return
			}
			select {
			case next <- job{i, buf}:
			case <-ctx.Done():
				return
			}
		}
	})
	for range workers {
		wg.Go(func() {
			for j := range next {
				out, err := decodeChunk(ctx, chunkStream(data, chunks[j.i]), j.buf[:0], tu.maxOut)
				p.results[j.i] <- bzResult{out, err}
			}
		})
	}
	return p, func() {
		cancel()
		wg.Wait()
	}
}

// decodeChunk decodes a stream into buf, up to maxOut bytes.
func decodeChunk(ctx context.Context, stream, buf []byte, maxOut int) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return buf, err
	}
	r := bzip2.NewReader(bytes.NewReader(stream))
	for {
		if err := ctx.Err(); err != nil {
			return buf, err
		}
		if len(buf) > maxOut {
			return buf, errBzBlockTooLarge
		}
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(len(buf)+max(1<<20, len(buf)), maxOut+1))
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), maxOut+1)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

var errBzBlockTooLarge = errors.New("bzip2 chunk expands past the parallel decoder's buffer")

func (p *parallelBzip2) Read(b []byte) (int, error) {
	if p.seq != nil {
		return p.readSeq(b)
	}
	if p.eof {
		// Read again after its end (as a member's reader may be): the
		// end again, not the cancellation that freed the workers.
		return 0, io.EOF
	}
	if err := p.ctx.Err(); err != nil {
		return 0, err
	}
	for len(p.cur) == 0 {
		if len(p.pending) > 0 {
			if !p.decodePending() {
				return p.readSeq(b)
			}
			continue
		}
		if p.next == len(p.results) {
			p.cancel()
			p.eof = true
			return 0, io.EOF
		}
		var r bzResult
		select {
		case r = <-p.results[p.next]:
		case <-p.ctx.Done():
			return 0, p.ctx.Err()
		}
		if p.held != nil || p.next > 0 {
			p.bufs <- p.held // the previous chunk's buffer, free again
		}
		p.held = r.out
		if r.err != nil && p.ctx.Err() != nil {
			return 0, p.ctx.Err()
		}
		if errors.Is(r.err, errBzBlockTooLarge) {
			// The blocks before this chunk are out: this chunk's blocks
			// are decoded one at a time as they are read, while the
			// workers go on with the chunks after it.
			for _, c := range p.chunks[:p.next] {
				p.pendingAt += len(c)
			}
			p.pending = p.chunks[p.next]
			p.next++
			p.parts++
			return p.Read(b)
		}
		if r.err != nil {
			// Decode the stream the ordinary way instead, from its start.
			p.cancel()
			p.seq = bzip2.NewReader(bytes.NewReader(p.data))
			p.skip = p.emitted
			return p.readSeq(b)
		}
		p.next++
		p.cur = r.out
	}
	n := copy(b, p.cur)
	p.cur = p.cur[n:]
	p.emitted += int64(n)
	return n, nil
}

// decodePending decodes the next pending block into p.cur, checked (its
// CRC) before any of it is handed out, as a chunk's output is. A block
// that fails, or alone expands past maxOut, sends the stream to the
// sequential decoder (which streams), as a chunk's error does. It reports
// false when p.seq is to be read instead.
func (p *parallelBzip2) decodePending() bool {
	out, err := decodeChunk(p.outer, chunkStream(p.data, p.pending[:1]), p.spare[:0], p.maxOut)
	p.spare = out
	if err != nil {
		// The stream as it is, from its start, the bytes handed out
		// skipped: a stream rebuilt from the blocks on would end (and
		// fail) otherwise than this one does.
		p.cancel()
		p.seq = bzip2.NewReader(bytes.NewReader(p.data))
		p.skip = p.emitted
		p.pending = nil
		return false
	}
	p.pending, p.pendingAt = p.pending[1:], p.pendingAt+1
	p.cur = out
	return true
}

// readSeq reads from the sequential decoder, first discarding what the
// parallel one already handed out.
//
// Decoding again what was handed out can take as long as the parallel
// decoding did (up to the expansion limit, a gigabyte, tens of seconds), so
// the scan's context is looked at after each megabyte
// (TestRedteamBzip2SkipCancelled).
func (p *parallelBzip2) readSeq(b []byte) (int, error) {
	for p.skip > 0 {
		if err := p.outer.Err(); err != nil {
			return 0, err
		}
		n, err := io.CopyN(io.Discard, p.seq, min(p.skip, 1<<20))
		p.skip -= n
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
	}
	return p.seq.Read(b)
}

// Package zstd decodes Zstandard data (RFC 8878): one or more frames back to
// back, skippable frames skipped, content checksums verified.
//
// It exists so that gemscan need not link github.com/klauspost/compress/zstd,
// whose package initialisation runs on every start-up, and gemscan starts
// once per commit in a pre-commit hook. Nothing here is computed at package
// initialisation: each Reader builds the tables it needs on first use.
// TestKlauspost and TestCLI check it on what klauspost's encoder and the
// zstd command write; FuzzZstd and TestCorruption against klauspost's
// decoder on anything else.
//
// The decoder fails closed: malformed or truncated input is an error, never a
// panic or a short read, and memory is bounded by the window limit given to
// NewReader. Dictionaries are not supported.
package zstd

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// Error is a zstd decoding error that can be matched with errors.Is.
type Error string

// Error returns the message, which starts with "zstd: ".
func (e Error) Error() string { return string(e) }

// Errors that decoding may wrap.
const (
	// ErrCorrupt: the input is not valid zstd data.
	ErrCorrupt Error = "zstd: corrupt input"
	// ErrWindowTooLarge: a frame needs a window larger than the limit given to
	// NewReader.
	ErrWindowTooLarge Error = "zstd: window too large"
	// ErrDictionary: a frame needs a dictionary.
	ErrDictionary Error = "zstd: dictionaries are not supported"
	// ErrChecksum: a frame's content does not match its checksum.
	ErrChecksum Error = "zstd: checksum mismatch"
)

const (
	frameMagic    = 0xFD2FB528
	skipMagic     = 0x184D2A50 // through 0x184D2A5F
	maxBlockSize  = 128 << 10
	minWindowLog  = 10
	initialBuffer = 64 << 10
	// maxWindowLimit keeps two windows and a block within an int.
	maxWindowLimit = math.MaxInt/2 - maxBlockSize
)

// corrupt returns an ErrCorrupt that says what is wrong.
func corrupt(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, a...)...)
}

// truncated reports input that ended inside what.
func truncated(what string, err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("zstd: read %s: %w", what, err)
}

// Reader decompresses a zstd stream.
type Reader struct {
	in        *bufio.Reader
	maxWindow int64
	err       error // sticky: returned once the pending output is read

	// hist holds the window (the frame's latest output, which matches copy
	// from) followed by output that Read has not returned yet, hist[rpos:].
	hist []byte
	rpos int

	block []byte // a compressed block's bytes
	lits  []byte // decoded literals

	// The current frame.
	inFrame   bool
	lastBlock bool
	window    int // window size in bytes
	blockMax  int // largest block, compressed or not
	outMax    int // largest output the current block may have
	hasSize   bool
	size      uint64 // content size, if hasSize
	produced  uint64
	checksum  bool
	xx        xxh64

	// State that compressed blocks carry over to the next block of a frame.
	rep        [3]int
	huff       huffTable
	huffValid  bool
	ll, of, ml *fseTable // nil: no previous table to repeat

	// Per-Reader table storage: each of ll, of and ml points into one of these.
	llOwn, ofOwn, mlOwn fseTable
	llPre, ofPre, mlPre fseTable
	predefined          bool
}

// NewReader returns a Reader of the data r decompresses. maxWindow bounds
// the window a frame may ask for, and so the memory the Reader holds (about
// twice maxWindow, allocated as output grows). Nothing is read from r until
// the first Read.
func NewReader(r io.Reader, maxWindow int64) (*Reader, error) {
	if maxWindow < 1<<minWindowLog || maxWindow > maxWindowLimit {
		return nil, fmt.Errorf("zstd: window limit %d is outside %d to %d", maxWindow, 1<<minWindowLog, int64(maxWindowLimit))
	}
	return &Reader{in: bufio.NewReaderSize(r, 32<<10), maxWindow: maxWindow}, nil
}

// Read reads decompressed data. An error, including truncated or corrupt
// input, is returned once all the output decoded before it has been read.
func (z *Reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for z.rpos == len(z.hist) {
		if z.err != nil {
			return 0, z.err
		}
		z.err = z.next()
	}
	n := copy(p, z.hist[z.rpos:])
	z.rpos += n
	return n, nil
}

// next decodes the next piece of the stream: a frame header, a block, or a
// frame's end. It returns io.EOF at the clean end of the stream.
func (z *Reader) next() error {
	switch {
	case !z.inFrame:
		return z.frameHeader()
	case z.lastBlock:
		return z.frameEnd()
	}
	return z.nextBlock()
}

// frameHeader reads a frame header, or skips a skippable frame.
func (z *Reader) frameHeader() error {
	var b [14]byte
	n, err := io.ReadFull(z.in, b[:4])
	if n == 0 && err == io.EOF {
		return io.EOF
	}
	if err != nil {
		return truncated("frame magic", err)
	}
	magic := binary.LittleEndian.Uint32(b[:])
	if magic&^0xF == skipMagic {
		if _, err := io.ReadFull(z.in, b[:4]); err != nil {
			return truncated("skippable frame size", err)
		}
		size := int64(binary.LittleEndian.Uint32(b[:]))
		if n, err := io.CopyN(io.Discard, z.in, size); err != nil {
			return truncated(fmt.Sprintf("skippable frame (%d of %d bytes)", n, size), err)
		}
		return nil
	}
	if magic != frameMagic {
		return corrupt("not a zstd frame (magic %#08x)", magic)
	}
	desc, err := z.in.ReadByte()
	if err != nil {
		return truncated("frame header", err)
	}
	if desc&0x08 != 0 {
		return corrupt("reserved bit set in frame header")
	}
	single := desc&0x20 != 0
	fcsLen := [4]int{0, 2, 4, 8}[desc>>6]
	if desc>>6 == 0 && single {
		fcsLen = 1
	}
	didLen := [4]int{0, 1, 2, 4}[desc&3]
	hlen := fcsLen + didLen
	if !single {
		hlen++
	}
	h := b[:hlen]
	if _, err := io.ReadFull(z.in, h); err != nil {
		return truncated("frame header", err)
	}
	var window uint64
	if !single {
		exp, mant := uint64(h[0]>>3), uint64(h[0]&7)
		base := uint64(1) << (minWindowLog + exp)
		window = base + base/8*mant
		h = h[1:]
	}
	var did uint32
	for i := didLen - 1; i >= 0; i-- {
		did = did<<8 | uint32(h[i])
	}
	h = h[didLen:]
	if did != 0 {
		return fmt.Errorf("%w (frame needs dictionary %d)", ErrDictionary, did)
	}
	z.hasSize = fcsLen > 0
	z.size = 0
	for i := fcsLen - 1; i >= 0; i-- {
		z.size = z.size<<8 | uint64(h[i])
	}
	if fcsLen == 2 {
		z.size += 256
	}
	if single {
		window = z.size
	}
	// The window the header declares must be within the limit, even when
	// the content is smaller (klauspost and the zstd command refuse it
	// too); memory grows with the output actually made.
	if window > uint64(z.maxWindow) {
		return fmt.Errorf("%w: frame needs %d bytes, the limit is %d", ErrWindowTooLarge, window, z.maxWindow)
	}
	z.window = int(window)
	z.blockMax = min(z.window, maxBlockSize)
	z.checksum = desc&0x04 != 0
	z.xx.reset()
	z.produced = 0
	z.inFrame, z.lastBlock = true, false
	z.rep = [3]int{1, 4, 8}
	z.huffValid = false
	z.ll, z.of, z.ml = nil, nil, nil
	z.hist, z.rpos = z.hist[:0], 0
	return nil
}

// frameEnd checks a frame's content size and checksum once its last block
// is decoded.
func (z *Reader) frameEnd() error {
	if z.hasSize && z.produced != z.size {
		return corrupt("frame content is %d bytes, its header says %d", z.produced, z.size)
	}
	if z.checksum {
		var b [4]byte
		if _, err := io.ReadFull(z.in, b[:]); err != nil {
			return truncated("content checksum", err)
		}
		want := binary.LittleEndian.Uint32(b[:])
		if got := uint32(z.xx.sum64()); got != want {
			return fmt.Errorf("%w: content hashes to %#08x, the frame says %#08x", ErrChecksum, got, want)
		}
	}
	z.inFrame = false
	return nil
}

// nextBlock decodes one block onto the end of z.hist.
func (z *Reader) nextBlock() error {
	var b [3]byte
	if _, err := io.ReadFull(z.in, b[:]); err != nil {
		return truncated("block header", err)
	}
	h := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
	z.lastBlock = h&1 != 0
	size := int(h >> 3)
	if size > z.blockMax {
		return corrupt("block of %d bytes exceeds the frame's limit of %d", size, z.blockMax)
	}
	// A block may not make the content longer than the header says, nor
	// need more room than that.
	z.outMax = z.blockMax
	if z.hasSize {
		z.outMax = int(min(uint64(z.outMax), z.size-z.produced))
	}
	typ := (h >> 1) & 3
	if typ < 2 && size > z.outMax {
		return corrupt("block of %d bytes exceeds the frame's content size or block limit", size)
	}
	z.reserve(z.outMax)
	start := len(z.hist)
	switch typ {
	case 0: // raw
		z.hist = z.hist[:start+size]
		if _, err := io.ReadFull(z.in, z.hist[start:]); err != nil {
			z.hist = z.hist[:start]
			return truncated("raw block", err)
		}
	case 1: // RLE
		c, err := z.in.ReadByte()
		if err != nil {
			return truncated("RLE block", err)
		}
		z.hist = z.hist[:start+size]
		out := z.hist[start:]
		for i := range out {
			out[i] = c
		}
	case 2:
		if cap(z.block) < size {
			z.block = make([]byte, z.blockMax)
		}
		in := z.block[:size]
		if _, err := io.ReadFull(z.in, in); err != nil {
			return truncated("compressed block", err)
		}
		if err := z.compressed(in); err != nil {
			z.hist = z.hist[:start]
			return err
		}
	default:
		return corrupt("reserved block type")
	}
	out := z.hist[start:]
	z.produced += uint64(len(out))
	if z.hasSize && z.produced > z.size {
		z.hist = z.hist[:start]
		return corrupt("frame content exceeds the %d bytes its header says", z.size)
	}
	if z.checksum {
		z.xx.write(out)
	}
	return nil
}

// reserve makes room for n more bytes at the end of z.hist, keeping the
// window. Read has returned all of z.hist when a block is decoded, so the
// window is all that must be kept.
func (z *Reader) reserve(n int) {
	if cap(z.hist)-len(z.hist) >= n {
		return
	}
	if len(z.hist) > z.window {
		copy(z.hist, z.hist[len(z.hist)-z.window:])
		z.hist = z.hist[:z.window]
		z.rpos = len(z.hist)
		if cap(z.hist)-len(z.hist) >= n {
			return
		}
	}
	// Sliding copies the window once per window of output at most, and the
	// buffer never exceeds two windows and a block, nor what the content
	// size says is left. Growing eightfold keeps reallocation cheap while
	// memory follows the output actually made.
	limit := 2*z.window + z.blockMax
	if z.hasSize {
		limit = int(min(uint64(limit), uint64(len(z.hist))+z.size-z.produced))
	}
	c := max(min(max(8*cap(z.hist), initialBuffer), limit), len(z.hist)+n)
	h := make([]byte, len(z.hist), c)
	copy(h, z.hist)
	z.hist = h
}

package odb

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/zlib"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gemscan-dev/gemscan/internal/gitdir"
	"github.com/gemscan-dev/gemscan/internal/inflate"
)

// pack is one pack file with its index. The index is not decoded until
// a caller needs all of it (LoadIndexes, Blobs): a lookup reads just the
// fan-out bucket it needs, so opening a large repository to read a handful
// of objects (a pre-commit check) costs microseconds, not a decode of every
// index.
type pack struct {
	db   *DB
	path string // without extension
	f    *os.File
	size int64

	idxf   *os.File
	count  int64
	fanout [256]uint32

	once sync.Once
	idx  atomic.Pointer[packIndex]
	err  error
}

// packIndex is a whole version 2 .idx file in memory. Lookups only read
// it, so any number of goroutines may share it.
type packIndex struct {
	fanout *[256]uint32
	names  []byte // count × 20, sorted
	off32  []byte // count × 4
	off64  []byte // 8 bytes per offset past 2 GiB

	// order is the objects in pack order, sorted on first need (the
	// blob pass): a scan of a few commits does not pay for it.
	orderOnce sync.Once
	order     atomic.Pointer[packOrder]
	count     int64
}

// packOrder is a pack's objects in pack order: byOff[k] is the position in
// the index of the object at offs[k], offs ascending. It tells where each
// object's compressed bytes end (the next object's offset), so an object
// is read whole in one read.
type packOrder struct {
	offs  []int64
	byOff []int32
}

// sorted returns the objects in pack order, sorting them the first time;
// nil when some offset cannot be read (an error planPack reports).
func (ix *packIndex) sorted() *packOrder {
	ix.orderOnce.Do(func() {
		type ent struct {
			off int64
			pos int32
		}
		ents := make([]ent, ix.count)
		for i := range ents {
			off, ok := ix.offset(i)
			if !ok {
				return
			}
			ents[i] = ent{off, int32(i)}
		}
		slices.SortFunc(ents, func(a, b ent) int { return cmp.Compare(a.off, b.off) })
		o := &packOrder{offs: make([]int64, ix.count), byOff: make([]int32, ix.count)}
		for k, e := range ents {
			o.offs[k], o.byOff[k] = e.off, e.pos
		}
		ix.order.Store(o)
	})
	return ix.order.Load()
}

// end returns where the compressed bytes of the object at off end: the
// next object's offset, or the pack's trailing checksum; false when off is
// not where an object starts.
func (p *pack) end(off int64) (int64, bool) {
	ix := p.idx.Load()
	if ix == nil {
		return 0, false
	}
	o := ix.order.Load() // not sorted yet: the caller reads as it can
	if o == nil {
		return 0, false
	}
	k, ok := slices.BinarySearch(o.offs, off)
	if !ok {
		return 0, false
	}
	if k+1 < len(o.offs) {
		return o.offs[k+1], true
	}
	return p.size - 20, true
}

// idx v2 layout.
const (
	idxHeader  = 8
	idxFanout  = 256 * 4
	idxNameOff = idxHeader + idxFanout
)

func openPack(base string) (*pack, error) {
	idxf, err := gitdir.OpenFile(base + ".idx")
	if err != nil {
		return nil, fmt.Errorf("open pack index: %w", err)
	}
	p := &pack{path: base, idxf: idxf}
	var head [idxNameOff]byte
	if _, err := io.ReadFull(idxf, head[:]); err != nil {
		idxf.Close()
		return nil, fmt.Errorf("read pack index %s.idx: %w", base, err)
	}
	if string(head[:4]) != "\xfftOc" || binary.BigEndian.Uint32(head[4:8]) != 2 {
		idxf.Close()
		return nil, fmt.Errorf("read pack index %s.idx: not a version 2 index", base)
	}
	for i := range p.fanout {
		p.fanout[i] = binary.BigEndian.Uint32(head[idxHeader+4*i:])
		if i > 0 && p.fanout[i] < p.fanout[i-1] {
			idxf.Close()
			return nil, fmt.Errorf("read pack index %s.idx: fan-out table is not sorted", base)
		}
	}
	p.count = int64(p.fanout[255])
	// The fan-out's object count decides every table's size: check it
	// against the file before anything is read or allocated from it.
	ist, err := idxf.Stat()
	if err != nil {
		idxf.Close()
		return nil, fmt.Errorf("read pack index %s.idx: %w", base, err)
	}
	if min, max := idxSize(p.count, 0), idxSize(p.count, p.count); ist.Size() < min || ist.Size() > max {
		idxf.Close()
		return nil, fmt.Errorf("read pack index %s.idx: %d bytes cannot hold the %d objects its fan-out table counts", base, ist.Size(), p.count)
	}
	f, err := gitdir.OpenFile(base + ".pack")
	if err != nil {
		idxf.Close()
		return nil, fmt.Errorf("open pack: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		idxf.Close()
		return nil, fmt.Errorf("open pack: %w", err)
	}
	p.f, p.size = f, st.Size()
	if err := p.checkHeader(); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// idxSize is the size of a version 2 index of n objects, large of them at
// offsets past 2 GiB.
func idxSize(n, large int64) int64 {
	return idxNameOff + n*(20+4+4) + large*8 + 2*20
}

// checkHeader checks the pack's header against its index.
func (p *pack) checkHeader() error {
	var head [12]byte
	if p.size < 12+20 {
		return fmt.Errorf("read pack %s.pack: too short (%d bytes)", p.path, p.size)
	}
	if _, err := p.f.ReadAt(head[:], 0); err != nil {
		return fmt.Errorf("read pack %s.pack: %w", p.path, err)
	}
	if string(head[:4]) != "PACK" {
		return fmt.Errorf("read pack %s.pack: not a pack file", p.path)
	}
	if v := binary.BigEndian.Uint32(head[4:8]); v != 2 && v != 3 {
		return fmt.Errorf("read pack %s.pack: unsupported version %d", p.path, v)
	}
	if n := int64(binary.BigEndian.Uint32(head[8:12])); n != p.count {
		return fmt.Errorf("read pack %s.pack: holds %d objects, its index %d", p.path, n, p.count)
	}
	// Every object takes at least two bytes (a header and some data).
	if p.count > (p.size-12-20)/2 {
		return fmt.Errorf("read pack %s.pack: %d bytes cannot hold %d objects", p.path, p.size, p.count)
	}
	return nil
}

// loadIndex reads the whole index into memory, checking its trailing
// checksum (as go-git's decoder and git do), so that lookups touch no file.
func (p *pack) loadIndex() (*packIndex, error) {
	p.once.Do(func() {
		st, err := p.idxf.Stat()
		if err != nil {
			p.err = fmt.Errorf("read pack index %s.idx: %w", p.path, err)
			return
		}
		// openPack checked the size against the object count.
		data := make([]byte, st.Size())
		if _, err := p.idxf.ReadAt(data, 0); err != nil {
			p.err = fmt.Errorf("read pack index %s.idx: %w", p.path, err)
			return
		}
		body, sum := data[:len(data)-20], data[len(data)-20:]
		if got := sha1.Sum(body); !bytes.Equal(got[:], sum) {
			p.err = fmt.Errorf("read pack index %s.idx: checksum mismatch: the index is corrupt", p.path)
			return
		}
		n := p.count
		names := int64(idxNameOff)
		crcs := names + n*20
		offs := crcs + n*4
		large := offs + n*4
		ix := &packIndex{fanout: &p.fanout, names: data[names:crcs], off32: data[offs:large], off64: data[large : len(data)-40]}
		if len(ix.off64)%8 != 0 {
			p.err = fmt.Errorf("read pack index %s.idx: %d bytes of large offsets, not a multiple of 8", p.path, len(ix.off64))
			return
		}
		ix.count = n
		p.idx.Store(ix)
	})
	return p.idx.Load(), p.err
}

// search returns the position of h in the index.
func (ix *packIndex) search(h plumbing.Hash) (int, bool) {
	lo := 0
	if h[0] > 0 {
		lo = int(ix.fanout[h[0]-1])
	}
	hi := int(ix.fanout[h[0]])
	// Names are uniformly distributed: interpolating on their first eight
	// bytes lands next to the name in two or three probes, each a cache
	// miss in an index of megabytes, where halving takes a dozen. Every
	// other step halves, so a forged index is searched in O(log n) all
	// the same.
	key := binary.BigEndian.Uint64(h[:8])
	names := ix.names
	prefix := func(i int) uint64 { return binary.BigEndian.Uint64(names[i*20 : i*20+8]) }
	for step := 0; lo < hi; step++ {
		m := int(uint(lo+hi) >> 1)
		if step%2 == 0 && hi-lo > 8 {
			kl, kh := prefix(lo), prefix(hi-1)
			if key <= kl {
				m = lo
			} else if key >= kh {
				m = hi - 1
			} else {
				m = lo + int(float64(key-kl)/float64(kh-kl)*float64(hi-1-lo))
				m = min(max(m, lo), hi-1)
			}
		}
		k := prefix(m)
		c := 0
		switch {
		case k < key:
			c = -1
		case k > key:
			c = 1
		default:
			c = bytes.Compare(names[m*20+8:m*20+20], h[8:])
		}
		switch {
		case c == 0:
			return m, true
		case c < 0:
			lo = m + 1
		default:
			hi = m
		}
	}
	return 0, false
}

// offset returns the pack offset of the object at position i; false for a
// large-offset slot the index does not hold.
func (ix *packIndex) offset(i int) (int64, bool) {
	off := binary.BigEndian.Uint32(ix.off32[i*4:])
	if off&0x80000000 == 0 {
		return int64(off), true
	}
	j := int(off & 0x7fffffff)
	if j >= len(ix.off64)/8 {
		return 0, false
	}
	v := binary.BigEndian.Uint64(ix.off64[j*8:])
	return int64(v), v <= 1<<62
}

// hash returns the name of the object at position i.
func (ix *packIndex) hash(i int) plumbing.Hash {
	var h plumbing.Hash
	copy(h[:], ix.names[i*20:])
	return h
}

func (p *pack) close() error {
	p.idxf.Close()
	return p.f.Close()
}

// find returns the offset of h in the pack.
func (p *pack) find(h plumbing.Hash) (int64, bool) {
	if ix := p.idx.Load(); ix != nil {
		i, ok := ix.search(h)
		if !ok {
			return 0, false
		}
		return ix.offset(i)
	}
	// Read only h's fan-out bucket of names.
	lo := int64(0)
	if h[0] > 0 {
		lo = int64(p.fanout[h[0]-1])
	}
	hi := int64(p.fanout[h[0]])
	if hi <= lo {
		return 0, false
	}
	names := make([]byte, (hi-lo)*20)
	if _, err := p.idxf.ReadAt(names, idxNameOff+lo*20); err != nil {
		return 0, false
	}
	n := int(hi - lo)
	i := sort.Search(n, func(i int) bool { return bytes.Compare(names[i*20:i*20+20], h[:]) >= 0 })
	if i == n || !bytes.Equal(names[i*20:i*20+20], h[:]) {
		return 0, false
	}
	pos := lo + int64(i)
	var b [8]byte
	offTable := idxNameOff + p.count*20 + p.count*4
	if _, err := p.idxf.ReadAt(b[:4], offTable+pos*4); err != nil {
		return 0, false
	}
	off := int64(binary.BigEndian.Uint32(b[:4]))
	if off&0x80000000 != 0 {
		big := offTable + p.count*4 + (off&0x7fffffff)*8
		if _, err := p.idxf.ReadAt(b[:], big); err != nil {
			return 0, false
		}
		off = int64(binary.BigEndian.Uint64(b[:]))
	}
	return off, true
}

// validOffset reports whether an object can start at off.
func (p *pack) validOffset(off int64) bool { return off >= 12 && off < p.size-20 }

// header is a pack object's header.
type header struct {
	t       Type
	size    int64 // inflated size (of the delta, for deltas)
	data    int64 // offset of the zlib stream
	baseOff int64 // ofsDelta: base object's offset
	baseRef plumbing.Hash
}

var errBadHeader = errors.New("corrupt pack object header")

// parseHeader decodes the header at the start of b, which holds the bytes
// of the pack from offset off.
func parseHeader(b []byte, off int64) (header, error) {
	if len(b) == 0 {
		return header{}, errBadHeader
	}
	c := b[0]
	h := header{t: Type(c >> 4 & 7), size: int64(c & 15)}
	i, shift := 1, 4
	for c&0x80 != 0 {
		if i >= len(b) || shift > 56 {
			return header{}, errBadHeader
		}
		c = b[i]
		h.size |= int64(c&0x7f) << shift
		shift += 7
		i++
	}
	switch h.t {
	case Commit, Tree, Blob, Tag:
	case ofsDelta:
		if i >= len(b) {
			return header{}, errBadHeader
		}
		c = b[i]
		i++
		rel := int64(c & 0x7f)
		for c&0x80 != 0 {
			if i >= len(b) || rel > 1<<48 {
				return header{}, errBadHeader
			}
			c = b[i]
			i++
			rel = (rel+1)<<7 | int64(c&0x7f)
		}
		h.baseOff = off - rel
		if h.baseOff < 12 || h.baseOff >= off {
			return header{}, errBadHeader
		}
	case refDelta:
		if i+20 > len(b) {
			return header{}, errBadHeader
		}
		copy(h.baseRef[:], b[i:i+20])
		i += 20
	default:
		return header{}, errBadHeader
	}
	h.data = off + int64(i)
	return h, nil
}

func (p *pack) header(off int64) (header, error) {
	var buf [64]byte
	n, err := p.f.ReadAt(buf[:], off)
	if n == 0 && err != nil {
		return header{}, fmt.Errorf("read pack %s at %d: %w", p.path, off, err)
	}
	return parseHeader(buf[:n], off)
}

// window serves a pack's bytes from a buffer read ahead: objects stored
// close together in the pack (a delta family, mostly) then cost one read
// between them instead of one each.
type window struct {
	p   *pack
	off int64
	buf []byte
}

// windowSize is how much a window reads ahead; an object whose compressed
// bytes exceed half of it is read on its own.
const windowSize = 256 << 10

// slice returns the pack's bytes [off, end), reading a new window when the
// current one does not hold them; false when they are too many for one.
func (w *window) slice(p *pack, off, end int64) ([]byte, bool, error) {
	if end-off > windowSize/2 || off < 0 || end < off {
		return nil, false, nil
	}
	if w.p == p && off >= w.off && end <= w.off+int64(len(w.buf)) {
		return w.buf[off-w.off : end-w.off], true, nil
	}
	if w.buf == nil {
		w.buf = make([]byte, windowSize)
	}
	n := min(int64(windowSize), p.size-off)
	if n < end-off {
		return nil, false, fmt.Errorf("read pack %s at %d: %w", p.path, off, io.ErrUnexpectedEOF)
	}
	m, err := p.f.ReadAt(w.buf[:n], off)
	if int64(m) < end-off {
		w.p = nil
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return nil, false, fmt.Errorf("read pack %s at %d: %w", p.path, off, err)
	}
	w.p, w.off, w.buf = p, off, w.buf[:m]
	return w.buf[:end-off], true, nil
}

// inflater is a reusable zlib decoder with its input buffers, for objects
// whose compressed bytes are not in memory (see inflateMem for those). flate
// reads a *bufio.Reader through a fast path of its own, several times faster
// than calling ReadByte through an interface for every byte: br reads src.
type inflater struct {
	src chunkReader
	br  *bufio.Reader
	zr  io.ReadCloser
	one [1]byte // the read past the end (a local would escape to the heap)
}

var inflaters = sync.Pool{New: func() any {
	inf := &inflater{}
	inf.br = bufio.NewReaderSize(&inf.src, 16<<10)
	return inf
}}

// done returns inf to the pool, holding on to no caller's data.
func (inf *inflater) done() {
	inf.src.ctx, inf.src.r = nil, nil
	inf.br.Reset(&inf.src)
	inflaters.Put(inf)
}

// chunkReader reads a pack from an offset in chunks that start small and
// double, so inflating a small object reads little more than the object,
// and it implements io.ByteReader so flate reads it directly.
type chunkReader struct {
	ctx      context.Context
	r        io.ReaderAt
	off, end int64 // next offset to read; where the readable extent ends
	buf      []byte
	pos      int
	next     int // size of the next chunk
	err      error
}

func (c *chunkReader) reset(ctx context.Context, r io.ReaderAt, off, end int64, first int) {
	c.ctx, c.r, c.off, c.end, c.pos, c.err = ctx, r, off, end, 0, nil
	if cap(c.buf) > maxChunk {
		c.buf = nil // a pooled reader keeps no large buffer
	}
	c.buf = c.buf[:0]
	c.next = min(first, maxChunk)
}

// maxChunk is the largest read a chunkReader makes: between two reads it
// checks its context, so inflating a huge object stops soon after a cancel.
const maxChunk = 256 << 10

func (c *chunkReader) fill() bool {
	if c.err != nil {
		return false
	}
	if err := c.ctx.Err(); err != nil {
		c.err = err
		return false
	}
	n := int64(c.next)
	if c.off+n > c.end {
		n = c.end - c.off
	}
	if n <= 0 {
		c.err = io.EOF
		return false
	}
	if int64(cap(c.buf)) < n {
		c.buf = make([]byte, n)
	}
	c.buf = c.buf[:n]
	m, err := c.r.ReadAt(c.buf, c.off)
	c.buf, c.pos = c.buf[:m], 0
	c.off += int64(m)
	if c.next < maxChunk {
		c.next *= 2
	}
	if m == 0 {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		c.err = err
		return false
	}
	return true
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if c.pos == len(c.buf) && !c.fill() {
		return 0, c.err
	}
	n := copy(p, c.buf[c.pos:])
	c.pos += n
	return n, nil
}

func (c *chunkReader) ReadByte() (byte, error) {
	if c.pos == len(c.buf) && !c.fill() {
		return 0, c.err
	}
	b := c.buf[c.pos]
	c.pos++
	return b, nil
}

// inflateAt decompresses the zlib stream at off, which ends by end, into dst,
// which must have exactly the inflated size. first is the size of the first
// read: the whole extent when it is known, or a guess.
func inflateAt(ctx context.Context, r io.ReaderAt, off, end int64, first int, dst []byte) error {
	inf := inflaters.Get().(*inflater)
	defer inf.done()
	inf.src.reset(ctx, r, off, end, max(first, 64))
	inf.br.Reset(&inf.src)
	return inf.inflate(ctx, inf.br, dst)
}

// inflateMem decompresses the zlib stream src, which must hold exactly
// len(dst) bytes once inflated, with a decoder made for whole streams in
// memory (the caller bounds the work: see memInflateMax).
func inflateMem(ctx context.Context, src, dst []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d := memDecoders.Get().(*inflate.Decoder)
	_, err := d.Zlib(dst, src)
	memDecoders.Put(d)
	if err != nil {
		return fmt.Errorf("corrupt zlib stream: %w", err)
	}
	return nil
}

var memDecoders = sync.Pool{New: func() any { return new(inflate.Decoder) }}

// memInflateMax is the largest object inflated from memory in one go: the
// context is checked before it, so a cancel waits for at most this much.
const memInflateMax = 16 << 20

func (inf *inflater) inflate(ctx context.Context, src io.Reader, dst []byte) error {
	var err error
	if inf.zr == nil {
		inf.zr, err = zlib.NewReader(src)
	} else {
		err = inf.zr.(zlib.Resetter).Reset(src, nil)
	}
	if err != nil {
		return fmt.Errorf("corrupt zlib stream: %w", err)
	}
	if _, err := io.ReadFull(inf.zr, dst); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return fmt.Errorf("corrupt zlib stream: %w", err)
	}
	// The stream must end here: one more byte is corruption, and so is
	// an end whose checksum does not match (ReadFull drops the error that
	// comes with the last bytes; the reader keeps it for this read).
	switch n, err := inf.zr.Read(inf.one[:]); {
	case n != 0:
		return errors.New("corrupt zlib stream: longer than its header says")
	case err == io.EOF:
		return nil
	case err == nil:
		return errors.New("corrupt zlib stream: no end after the declared size")
	default:
		return fmt.Errorf("corrupt zlib stream: %w", err)
	}
}

// inflatePrefix decompresses the first len(dst) bytes of the zlib stream at
// off, which ends by end: enough to read a delta's sizes without inflating
// the delta.
func inflatePrefix(ctx context.Context, r io.ReaderAt, off, end int64, dst []byte) error {
	inf := inflaters.Get().(*inflater)
	defer inf.done()
	inf.src.reset(ctx, r, off, end, 64)
	inf.br.Reset(&inf.src)
	var err error
	if inf.zr == nil {
		inf.zr, err = zlib.NewReader(inf.br)
	} else {
		err = inf.zr.(zlib.Resetter).Reset(inf.br, nil)
	}
	if err == nil {
		_, err = io.ReadFull(inf.zr, dst)
	}
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return fmt.Errorf("corrupt zlib stream: %w", err)
	}
	return nil
}

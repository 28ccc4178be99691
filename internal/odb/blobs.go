package odb

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/go-git/go-git/v5/plumbing"
)

// Progress counts a Blobs pass as it runs; read it from another goroutine.
type Progress struct {
	Total atomic.Int64 // blobs to scan, known once planning is done
	Done  atomic.Int64 // blobs scanned
	Bytes atomic.Int64 // bytes of blob content scanned
}

// BlobsOptions configure a Blobs pass.
type BlobsOptions struct {
	// Want selects the blobs to visit; nil visits every blob.
	Want func(plumbing.Hash) bool
	// Workers inflate and visit in parallel; 0 means one per CPU.
	Workers int
	// Progress, when set, is updated as the pass runs.
	Progress *Progress
	// MaxSize, when positive, skips wanted blobs larger than it without
	// inflating them (unless another wanted blob is a delta on them) and
	// reports each to OnSkip.
	MaxSize int64
	OnSkip  func(h plumbing.Hash, size int64)
}

// BlobFunc visits one blob. data is valid only during the call, and calls
// come from several goroutines at once.
type BlobFunc func(h plumbing.Hash, data []byte)

// Blobs inflates every wanted blob of the database exactly once and calls fn
// with it. Pack objects are visited family by family: a delta is rebuilt from
// its base, which was inflated just before, so no object is inflated twice
// and commits and trees are not inflated at all. A corrupt or missing object
// is reported as an error naming it; everything else is still visited.
func (db *DB) Blobs(ctx context.Context, opts BlobsOptions, fn BlobFunc) []error {
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.Progress == nil {
		opts.Progress = &Progress{}
	}
	want := opts.Want
	if want == nil {
		want = func(plumbing.Hash) bool { return true }
	}
	var errs []error
	var errMu sync.Mutex
	report := func(err error) {
		errMu.Lock()
		errs = append(errs, err)
		errMu.Unlock()
	}
	// Plan every pack first, so the total is known before work starts.
	var plans []*packPlan
	for i, p := range db.packs {
		pl, err := planPack(p, i, want)
		if err != nil {
			report(err)
			continue
		}
		plans = append(plans, pl)
		opts.Progress.Total.Add(pl.wanted)
	}
	loose, err := db.looseHashes()
	if err != nil {
		report(err)
	}
	var looseWanted []looseObject
	for _, lo := range loose {
		if want(lo.hash) && !db.inAnyPack(lo.hash) {
			looseWanted = append(looseWanted, lo)
		}
	}
	opts.Progress.Total.Add(int64(len(looseWanted)))

	type job struct {
		plan  *packPlan
		root  int32
		loose *looseObject
	}
	jobs := make(chan job, 64)
	var wg sync.WaitGroup
	for w := 0; w < opts.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wk := &walker{db: db, fn: fn, prog: opts.Progress, report: report, max: opts.MaxSize, skip: opts.OnSkip}
			for j := range jobs {
				if ctx.Err() != nil {
					continue
				}
				if j.loose != nil {
					wk.loose(*j.loose)
				} else {
					wk.family(j.plan, j.root)
				}
			}
		}()
	}
	for _, pl := range plans {
		for _, r := range pl.roots {
			jobs <- job{plan: pl, root: r}
		}
	}
	for i := range looseWanted {
		jobs <- job{loose: &looseWanted[i]}
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		report(err)
	}
	return errs
}

// packPlan is what one sequential read of a pack's headers tells: each
// object's type, extent and delta base, and the families worth inflating.
type packPlan struct {
	p      *pack
	hashes []plumbing.Hash
	offs   []int64
	data   []int64 // zlib stream offsets
	sizes  []int64 // inflated sizes (of the delta, for deltas)
	types  []Type  // resolved type (the root's, for deltas)
	base   []int32 // index of the delta base, -1 for none, -2 for a base outside the pack
	ext    map[int32]plumbing.Hash
	emit   []bool // visit this object (a wanted blob seen in no earlier pack)
	// children in CSR form: kids[kidStart[i]:kidStart[i+1]]
	kidStart []int32
	kids     []int32
	needed   []bool // the object or a descendant is to be emitted
	roots    []int32
	wanted   int64
}

func planPack(p *pack, packIndex int, want func(plumbing.Hash) bool) (*packPlan, error) {
	idx, err := p.loadIndex()
	if err != nil {
		return nil, err
	}
	iter, err := idx.Entries()
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", p.path, err)
	}
	type ent struct {
		off int64
		h   plumbing.Hash
	}
	var ents []ent
	for {
		e, err := iter.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("pack %s index: %w", p.path, err)
		}
		ents = append(ents, ent{int64(e.Offset), e.Hash})
	}
	iter.Close()
	sort.Slice(ents, func(i, j int) bool { return ents[i].off < ents[j].off })
	n := len(ents)
	pl := &packPlan{p: p, hashes: make([]plumbing.Hash, n), offs: make([]int64, n), data: make([]int64, n),
		sizes: make([]int64, n), types: make([]Type, n), base: make([]int32, n), ext: map[int32]plumbing.Hash{},
		emit: make([]bool, n), needed: make([]bool, n)}
	for i, e := range ents {
		pl.hashes[i], pl.offs[i] = e.h, e.off
	}
	// One sequential read of the pack: parse each header, skip the data.
	br := bufio.NewReaderSize(io.NewSectionReader(p.f, 0, p.size), 1<<20)
	pos := int64(0)
	rawType := make([]Type, n)
	refBase := map[int32]plumbing.Hash{}
	for i := range ents {
		if _, err := br.Discard(int(pl.offs[i] - pos)); err != nil {
			return nil, fmt.Errorf("pack %s: read at %d: %w", p.path, pl.offs[i], err)
		}
		pos = pl.offs[i]
		b, _ := br.Peek(64)
		h, err := parseHeader(b, pos)
		if err != nil {
			return nil, fmt.Errorf("pack %s: object %s at %d: %w", p.path, pl.hashes[i], pos, err)
		}
		rawType[i], pl.data[i], pl.sizes[i] = h.t, h.data, h.size
		pl.base[i] = -1
		switch h.t {
		case ofsDelta:
			j := sort.Search(i, func(k int) bool { return pl.offs[k] >= h.baseOff })
			if j >= i || pl.offs[j] != h.baseOff {
				return nil, fmt.Errorf("pack %s: object %s: delta base at %d is not an object", p.path, pl.hashes[i], h.baseOff)
			}
			pl.base[i] = int32(j)
		case refDelta:
			refBase[int32(i)] = h.baseRef
		}
	}
	// Resolve REF_DELTA bases within the pack, or mark them external.
	index := func(h plumbing.Hash) (int32, bool) {
		off, ok := p.find(h)
		if !ok {
			return 0, false
		}
		j := sort.Search(n, func(k int) bool { return pl.offs[k] >= off })
		return int32(j), j < n && pl.offs[j] == off
	}
	for i, h := range refBase {
		if j, ok := index(h); ok && j != i {
			pl.base[i] = j
		} else {
			pl.base[i] = -2
			pl.ext[i] = h
		}
	}
	// Resolve each object's type through its base chain (memoised).
	var resolve func(i int32, depth int) Type
	resolve = func(i int32, depth int) Type {
		if pl.types[i] != 0 || depth > 10000 {
			return pl.types[i]
		}
		switch rawType[i] {
		case ofsDelta, refDelta:
			switch b := pl.base[i]; {
			case b >= 0:
				pl.types[i] = resolve(b, depth+1)
			case b == -2:
				if t, _, err := p.db.Read(pl.ext[i]); err == nil {
					pl.types[i] = t
				}
			}
		default:
			pl.types[i] = rawType[i]
		}
		return pl.types[i]
	}
	counts := make([]int32, n+1)
	for i := 0; i < n; i++ {
		t := resolve(int32(i), 0)
		if t == Blob && want(pl.hashes[i]) && !p.db.inPackBefore(pl.hashes[i], packIndex) {
			pl.emit[i] = true
			pl.wanted++
		}
		if b := pl.base[i]; b >= 0 {
			counts[b+1]++
		}
	}
	pl.kidStart = make([]int32, n+1)
	for i := 0; i < n; i++ {
		pl.kidStart[i+1] = pl.kidStart[i] + counts[i+1]
	}
	pl.kids = make([]int32, pl.kidStart[n])
	fill := append([]int32(nil), pl.kidStart[:n]...)
	for i := 0; i < n; i++ {
		if b := pl.base[i]; b >= 0 {
			pl.kids[fill[b]] = int32(i)
			fill[b]++
		}
	}
	// A family is worth inflating only if it holds an object to emit.
	for i := 0; i < n; i++ {
		if !pl.emit[i] {
			continue
		}
		for j := int32(i); j >= 0 && !pl.needed[j]; j = pl.base[j] {
			pl.needed[j] = true
		}
	}
	for i := 0; i < n; i++ {
		if pl.needed[i] && pl.base[i] < 0 {
			pl.roots = append(pl.roots, int32(i))
		}
	}
	return pl, nil
}

// end returns where object i's compressed data ends: the next object's
// offset, or the pack's trailing checksum.
func (pl *packPlan) end(i int32) int64 {
	if int(i)+1 < len(pl.offs) {
		return pl.offs[i+1]
	}
	return pl.p.size - 20
}

// extent returns the length of object i's compressed data.
func (pl *packPlan) extent(i int32) int {
	return int(pl.end(i) - pl.data[i])
}

// walker inflates families for one goroutine, reusing its buffers.
type walker struct {
	db     *DB
	fn     BlobFunc
	prog   *Progress
	report func(error)
	delta  []byte
	bufs   [][]byte // one buffer per delta depth
	max    int64
	skip   func(plumbing.Hash, int64)
}

// tooLarge reports whether object i is a leaf too large to inflate, and
// says so to the skip callback.
func (w *walker) tooLarge(pl *packPlan, i int32, size int64) bool {
	if w.max <= 0 || size <= w.max {
		return false
	}
	for _, k := range pl.kids[pl.kidStart[i]:pl.kidStart[i+1]] {
		if pl.needed[k] {
			return false // a wanted delta needs it as its base
		}
	}
	if pl.emit[i] && w.skip != nil {
		w.skip(pl.hashes[i], size)
	}
	return true
}

func (w *walker) buf(depth int, size int64) []byte {
	for len(w.bufs) <= depth {
		w.bufs = append(w.bufs, nil)
	}
	if int64(cap(w.bufs[depth])) < size {
		w.bufs[depth] = make([]byte, size, size+size/4)
	}
	return w.bufs[depth][:size]
}

func (w *walker) visit(h plumbing.Hash, data []byte) {
	w.fn(h, data)
	w.prog.Done.Add(1)
	w.prog.Bytes.Add(int64(len(data)))
}

// family inflates the root and rebuilds its needed descendants depth-first.
func (w *walker) family(pl *packPlan, root int32) {
	var data []byte
	if pl.base[root] == -2 {
		// A delta on a base outside this pack (a thin pack, or an
		// alternate's object).
		_, base, err := w.db.Read(pl.ext[root])
		if err != nil {
			w.report(fmt.Errorf("object %s: delta base %s: %w", pl.hashes[root], pl.ext[root], err))
			return
		}
		if w.delta, err = w.inflateRaw(pl, root); err != nil {
			w.report(err)
			return
		}
		out, err := applyDelta(base, w.delta, w.buf(0, 0))
		if err != nil {
			w.report(fmt.Errorf("object %s: %w", pl.hashes[root], err))
			return
		}
		w.bufs[0] = out
		data = out
	} else {
		if w.tooLarge(pl, root, pl.sizes[root]) {
			return
		}
		if pl.sizes[root] > maxObject {
			w.report(fmt.Errorf("object %s: too large to scan (%d bytes)", pl.hashes[root], pl.sizes[root]))
			return
		}
		data = w.buf(0, pl.sizes[root])
		if err := inflate(pl.p.f, pl.data[root], pl.end(root), pl.extent(root), data); err != nil {
			w.report(fmt.Errorf("object %s in pack %s: %w", pl.hashes[root], pl.p.path, err))
			return
		}
	}
	if pl.emit[root] {
		w.visit(pl.hashes[root], data)
	}
	w.children(pl, root, data, 1)
	w.release()
}

// keepBuf is the largest buffer a walker keeps between families: a family
// of large blobs needs one buffer per delta depth, and keeping them all
// would hold that memory for the rest of the pass.
const keepBuf = 1 << 20

func (w *walker) release() {
	for i, b := range w.bufs {
		if cap(b) > keepBuf {
			w.bufs[i] = nil
		}
	}
	if cap(w.delta) > keepBuf {
		w.delta = nil
	}
}

func (w *walker) inflateRaw(pl *packPlan, i int32) ([]byte, error) {
	if pl.sizes[i] > maxObject {
		return nil, fmt.Errorf("object %s: delta too large (%d bytes)", pl.hashes[i], pl.sizes[i])
	}
	if int64(cap(w.delta)) < pl.sizes[i] {
		w.delta = make([]byte, pl.sizes[i])
	}
	d := w.delta[:pl.sizes[i]]
	if err := inflate(pl.p.f, pl.data[i], pl.end(i), pl.extent(i), d); err != nil {
		return nil, fmt.Errorf("object %s in pack %s: %w", pl.hashes[i], pl.p.path, err)
	}
	return d, nil
}

func (w *walker) children(pl *packPlan, parent int32, data []byte, depth int) {
	for _, k := range pl.kids[pl.kidStart[parent]:pl.kidStart[parent+1]] {
		if !pl.needed[k] {
			continue
		}
		delta, err := w.inflateRaw(pl, k)
		if err != nil {
			w.report(err)
			continue
		}
		_, size, _, err := deltaSizes(delta)
		if err != nil {
			w.report(fmt.Errorf("object %s: %w", pl.hashes[k], err))
			continue
		}
		if w.tooLarge(pl, k, int64(size)) {
			continue
		}
		out, err := applyDelta(data, delta, w.buf(depth, int64(size))[:0])
		if err != nil {
			w.report(fmt.Errorf("object %s: %w", pl.hashes[k], err))
			continue
		}
		w.bufs[depth] = out
		if pl.emit[k] {
			w.visit(pl.hashes[k], out)
		}
		w.children(pl, k, out, depth+1)
	}
}

func (w *walker) loose(lo looseObject) {
	t, data, err := readLooseMax(lo.dir, lo.hash, w.max)
	if errors.Is(err, errTooLarge) {
		if w.skip != nil && t == Blob {
			w.skip(lo.hash, int64(len(data)))
		}
		return
	}
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			w.report(fmt.Errorf("object %s: %w", lo.hash, err))
		}
		return
	}
	if t == Blob {
		w.visit(lo.hash, data)
	}
}

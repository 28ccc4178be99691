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
	// MaxSize, when positive, skips wanted blobs larger than it and
	// reports each to OnSkip instead of visiting it. Such a blob is
	// inflated only when a blob to visit is stored as a delta on it.
	MaxSize int64
	OnSkip  func(h plumbing.Hash, size int64)

	budget int64      // tests: bytes of bases a walker holds (see heldBudget)
	stats  *walkStats // tests: filled by a single worker
}

// heldBudget is how many bytes of bases a walker keeps for later children
// of a family. A delta chain holds none (a base is dropped as its last
// child is built), so this matters only where families branch: twice the
// largest blob scanned, at least 8 MiB; 64 MiB without a size limit.
func (o BlobsOptions) heldBudget() int64 {
	switch {
	case o.budget > 0:
		return o.budget
	case o.MaxSize > 0:
		return max(2*o.MaxSize, 8<<20)
	}
	return 64 << 20
}

// BlobFunc visits one blob. data is valid only during the call, and calls
// come from several goroutines at once.
type BlobFunc func(h plumbing.Hash, data []byte)

// Blobs inflates every wanted blob of the database exactly once and calls fn
// with it. Pack objects are visited family by family: a delta is rebuilt from
// its base, which was inflated just before, so no object is inflated twice
// and commits and trees are not inflated at all. Memory stays a few object
// buffers per worker whatever the depth of delta chains. A corrupt, missing
// or forged object (a delta chain that loops or runs deeper than git
// writes, a size over the limits) is reported as an error naming it;
// everything else is still visited. Cancelling ctx stops the pass soon
// after, with ctx's error among those returned.
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
		if ctx.Err() != nil {
			break
		}
		pl, err := planPack(ctx, p, i, want, report)
		if err != nil {
			if ctx.Err() == nil {
				report(err)
			}
			continue
		}
		plans = append(plans, pl)
		opts.Progress.Total.Add(pl.wanted)
	}
	loose, err := db.looseHashes(ctx)
	if err != nil && ctx.Err() == nil {
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
			wk := &walker{ctx: ctx, db: db, fn: fn, prog: opts.Progress, report: report, max: opts.MaxSize, skip: opts.OnSkip,
				budget: opts.heldBudget(), stats: &walkStats{}}
			if opts.stats != nil {
				wk.stats = opts.stats
			}
			for j := range jobs {
				if ctx.Err() != nil {
					continue // drain
				}
				if j.loose != nil {
					wk.loose(*j.loose)
				} else {
					wk.family(j.plan, j.root)
				}
			}
		}()
	}
feed:
	for _, pl := range plans {
		for _, r := range pl.roots {
			if ctx.Err() != nil {
				break feed
			}
			jobs <- job{plan: pl, root: r}
		}
	}
	for i := range looseWanted {
		if ctx.Err() != nil {
			break
		}
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
	p     *pack
	ix    *packIndex
	pos   []int32 // position in the index (its name is there)
	offs  []int64
	hdr   []uint8 // header length: the zlib stream starts at offs+hdr
	sizes []int64 // inflated sizes (of the delta, for deltas)
	types []Type  // resolved type (the root's, for deltas)
	base  []int32 // index of the delta base, -1 for none, -2 for a base outside the pack
	ext   map[int32]plumbing.Hash
	emit  []bool // visit this object (a wanted blob seen in no earlier pack)
	// children in CSR form: kids[kidStart[i]:kidStart[i+1]]
	kidStart []int32
	kids     []int32
	needed   []bool // the object or a descendant is to be emitted
	roots    []int32
	wanted   int64
}

// Markers in packPlan.base.
const (
	noBase  = -1 // a whole object
	extBase = -2 // a REF_DELTA on an object outside this pack
)

// planFailure is why an object of a pack cannot be read: its own fault
// (origin == itself) or that of the base it is a delta on.
type planFailure struct {
	origin int32
	err    error
}

func planPack(ctx context.Context, p *pack, packIndex int, want func(plumbing.Hash) bool, report func(error)) (*packPlan, error) {
	ix, err := p.loadIndex()
	if err != nil {
		return nil, err
	}
	order := ix.sorted()
	if order == nil {
		for i := 0; i < int(p.count); i++ {
			if _, ok := ix.offset(i); !ok {
				return nil, fmt.Errorf("pack %s index: object %s has a large offset the index does not hold", p.path, ix.hash(i))
			}
		}
		return nil, fmt.Errorf("pack %s index: its offsets cannot be sorted", p.path)
	}
	n := len(order.offs)
	// The index's tables in pack order are shared: the plan only reads them.
	pl := &packPlan{p: p, ix: ix, pos: order.byOff, offs: order.offs, hdr: make([]uint8, n),
		sizes: make([]int64, n), types: make([]Type, n), base: make([]int32, n), ext: map[int32]plumbing.Hash{},
		emit: make([]bool, n), needed: make([]bool, n)}
	// An object that cannot be read fails alone: its error is kept, and
	// the deltas on it inherit it; every other object is still planned.
	failed := map[int32]planFailure{}
	fail := func(i int32, err error) { failed[i] = planFailure{origin: i, err: err} }
	// One sequential read of the pack: parse each header, skip the data.
	br := bufio.NewReaderSize(io.NewSectionReader(p.f, 0, p.size), 1<<20)
	pos := int64(0)
	rawType := make([]Type, n)
	refBase := map[int32]plumbing.Hash{}
	for i := 0; i < n; i++ {
		if i%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		pl.base[i] = noBase
		off := pl.offs[i]
		if !p.validOffset(off) {
			fail(int32(i), fmt.Errorf("%w: index places it at %d, outside the pack", errBadHeader, off))
			continue
		}
		if _, err := br.Discard(int(off - pos)); err != nil {
			return nil, fmt.Errorf("pack %s: read at %d: %w", p.path, off, err)
		}
		pos = off
		b, _ := br.Peek(64)
		h, err := parseHeader(b, pos)
		if err != nil {
			fail(int32(i), err)
			continue
		}
		rawType[i], pl.hdr[i], pl.sizes[i] = h.t, uint8(h.data-off), h.size // a header is at most the 64 bytes peeked
		switch h.t {
		case ofsDelta:
			j := sort.Search(i, func(k int) bool { return pl.offs[k] >= h.baseOff })
			if j >= i || pl.offs[j] != h.baseOff {
				fail(int32(i), fmt.Errorf("%w: delta base at %d is not an object", errBadHeader, h.baseOff))
				continue
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
		if j, ok := index(h); ok {
			pl.base[i] = j // j == i is a loop, found below
		} else {
			pl.base[i] = extBase
			pl.ext[i] = h
		}
	}
	pl.resolve(ctx, rawType, failed)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pl.reportFailures(failed, want, report)

	counts := make([]int32, n+1)
	for i := 0; i < n; i++ {
		if _, bad := failed[int32(i)]; bad {
			continue
		}
		if pl.types[i] == Blob && want(pl.hash(int32(i))) && !p.db.inPackBefore(pl.hash(int32(i)), packIndex) {
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
		if _, bad := failed[int32(i)]; bad {
			continue
		}
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

// resolve gives every object its type, that of the whole object at the end
// of its delta chain, without recursion: a chain is walked up once, with
// the objects on it remembered, and the answer handed down. A chain that
// comes back to an object on it (REF_DELTAs naming each other or
// themselves) fails all its objects; so does one deeper than git writes.
func (pl *packPlan) resolve(ctx context.Context, rawType []Type, failed map[int32]planFailure) {
	n := len(pl.offs)
	depth := make([]int32, n) // 0: not resolved yet; else depth+1
	onPath := make([]bool, n)
	var path []int32
	for start := 0; start < n; start++ {
		if depth[start] != 0 {
			continue
		}
		if _, bad := failed[int32(start)]; bad {
			continue
		}
		path = path[:0]
		j := int32(start)
		var t Type
		var d int32
		var inherit *planFailure
		for {
			if depth[j] != 0 {
				t, d = pl.types[j], depth[j]
				break
			}
			if f, bad := failed[j]; bad {
				inherit = &f
				break
			}
			if onPath[j] {
				f := planFailure{origin: j, err: fmt.Errorf("%w: delta chain loops back to this object", ErrLimit)}
				failed[j] = f
				inherit = &f
				break
			}
			onPath[j] = true
			path = append(path, j)
			b := pl.base[j]
			if b == noBase {
				t, d = rawType[j], 0
				path = path[:len(path)-1]
				onPath[j] = false
				pl.types[j], depth[j] = t, 1
				d = 1
				break
			}
			if b == extBase {
				et, err := pl.p.db.typeOf(ctx, pl.ext[j])
				path = path[:len(path)-1]
				onPath[j] = false
				if err != nil {
					f := planFailure{origin: j, err: fmt.Errorf("delta base %s: %w", pl.ext[j], err)}
					failed[j] = f
					inherit = &f
					break
				}
				t, d = et, 1
				pl.types[j], depth[j] = t, 1
				break
			}
			j = b
		}
		// Hand the answer down the path, deepest base first.
		for k := len(path) - 1; k >= 0; k-- {
			i := path[k]
			onPath[i] = false
			if inherit != nil {
				if _, bad := failed[i]; !bad {
					failed[i] = planFailure{origin: inherit.origin, err: inherit.err}
				}
				continue
			}
			d++
			if d > maxDeltaDepth+1 {
				f := planFailure{origin: i, err: fmt.Errorf("%w: delta chain deeper than %d", ErrLimit, maxDeltaDepth)}
				failed[i] = f
				inherit = &f
				continue
			}
			pl.types[i], depth[i] = t, d
		}
	}
}

// reportFailures reports one error per object that cannot be read through
// its own fault, counting the wanted objects that depend on it. Failures
// nothing wanted depends on are not reported (a range scan reads only
// some blobs; every object is wanted in a full scan).
func (pl *packPlan) reportFailures(failed map[int32]planFailure, want func(plumbing.Hash) bool, report func(error)) {
	type tally struct {
		self bool
		deps int
	}
	byOrigin := map[int32]*tally{}
	for i, f := range failed {
		tl := byOrigin[f.origin]
		if tl == nil {
			tl = &tally{}
			byOrigin[f.origin] = tl
		}
		if !want(pl.hash(i)) {
			continue
		}
		if i == f.origin {
			tl.self = true
		} else {
			tl.deps++
		}
	}
	origins := make([]int32, 0, len(byOrigin))
	for o := range byOrigin {
		origins = append(origins, o)
	}
	sort.Slice(origins, func(a, b int) bool { return origins[a] < origins[b] })
	for _, o := range origins {
		tl := byOrigin[o]
		if !tl.self && tl.deps == 0 {
			continue
		}
		err := fmt.Errorf("object %s in pack %s at %d: %w", pl.hash(o), pl.p.path, pl.offs[o], failed[o].err)
		if tl.deps > 0 {
			err = fmt.Errorf("%w (and %d object(s) stored as deltas on it)", err, tl.deps)
		}
		report(err)
	}
}

// end returns where object i's compressed data ends: the next object's
// offset, or the pack's trailing checksum.
func (pl *packPlan) end(i int32) int64 {
	if int(i)+1 < len(pl.offs) {
		return pl.offs[i+1]
	}
	return pl.p.size - 20
}

// hash returns object i's name.
func (pl *packPlan) hash(i int32) plumbing.Hash { return pl.ix.hash(int(pl.pos[i])) }

// data returns where object i's compressed data starts.
func (pl *packPlan) data(i int32) int64 { return pl.offs[i] + int64(pl.hdr[i]) }

// extent returns the length of object i's compressed data.
func (pl *packPlan) extent(i int32) int64 {
	return pl.end(i) - pl.data(i)
}

// walker inflates families for one goroutine, reusing its buffers.
type walker struct {
	ctx    context.Context
	db     *DB
	fn     BlobFunc
	prog   *Progress
	report func(error)
	max    int64
	skip   func(plumbing.Hash, int64)

	// budget bounds the bytes of bases held for later children: past it,
	// bases are dropped and rebuilt when needed.
	budget int64
	stats  *walkStats

	delta []byte   // the delta being applied
	win   window   // pack bytes read ahead
	free  [][]byte // spare object buffers (two at most)
	hint  [20]byte // a delta's first bytes: its two sizes, 10 bytes each at most

	// Per family, indexed by position in nodes.
	nodes  []int32         // the family's needed objects, preorder
	pos    map[int32]int32 // object → position in nodes
	span   []int32         // positions in its subtree (itself included)
	scan   []bool          // visit it
	keep   []bool          // it or a descendant is visited
	weight []int32         // objects kept in its subtree
	broken []bool          // its delta cannot be read
	// exact is set once the sizes of its subtree are known (see refine):
	// until then, an object to visit is assumed to fit the size limit.
	exact []bool
}

// get returns a buffer of n bytes, reusing a spare one when it fits.
func (w *walker) get(n int64) []byte {
	best := -1
	for i, b := range w.free {
		if int64(cap(b)) >= n && (best < 0 || cap(b) < cap(w.free[best])) {
			best = i
		}
	}
	if best < 0 {
		return make([]byte, n)
	}
	b := w.free[best]
	w.free[best] = w.free[len(w.free)-1]
	w.free = w.free[:len(w.free)-1]
	return b[:n]
}

// put gives a buffer back; past two spares, it is left to the collector.
func (w *walker) put(b []byte) {
	if b == nil {
		return
	}
	if len(w.free) < 2 {
		w.free = append(w.free, b)
		return
	}
	small := 0
	for i := range w.free {
		if cap(w.free[i]) < cap(w.free[small]) {
			small = i
		}
	}
	if cap(b) > cap(w.free[small]) {
		w.free[small] = b
	}
}

// walkStats counts what walkers did, for tests.
type walkStats struct {
	peakHeld         int64 // most bytes of bases held at once
	dropped, rebuilt int
	built            int64 // bytes of objects built from deltas
}

// keepBuf is the largest buffer a walker keeps between families, so the
// memory of one family of large blobs is not held for the rest of the pass.
const keepBuf = 1 << 20

func (w *walker) release() {
	kept := w.free[:0]
	for _, b := range w.free {
		if cap(b) <= keepBuf {
			kept = append(kept, b)
		}
	}
	clear(w.free[len(kept):])
	w.free = kept
	if cap(w.delta) > keepBuf {
		w.delta = nil
	}
}

func (w *walker) visit(h plumbing.Hash, data []byte) {
	w.fn(h, data)
	w.prog.Done.Add(1)
	w.prog.Bytes.Add(int64(len(data)))
}

// fail reports that object x of the family cannot be read, with how many
// of the objects to build depend on it.
func (w *walker) fail(pl *packPlan, x int32, err error) {
	if w.ctx.Err() != nil {
		return // the pass reports the cancellation once
	}
	err = fmt.Errorf("object %s in pack %s at %d: %w", pl.hash(w.nodes[x]), pl.p.path, pl.offs[w.nodes[x]], err)
	if deps := w.dependents(pl, x); deps > 0 {
		err = fmt.Errorf("%w (and %d object(s) stored as deltas on it)", err, deps)
	}
	w.report(err)
}

// dependents counts the objects to build below family position x.
func (w *walker) dependents(pl *packPlan, x int32) int {
	n := 0
	stack := []int32{w.nodes[x]}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, k := range pl.kids[pl.kidStart[i]:pl.kidStart[i+1]] {
			if pl.needed[k] {
				n++
				stack = append(stack, k)
			}
		}
	}
	return n
}

// inflateDelta inflates delta i into the walker's delta buffer.
func (w *walker) inflateDelta(pl *packPlan, i int32) ([]byte, error) {
	if err := checkSize(pl.sizes[i], 0, pl.extent(i)); err != nil {
		return nil, fmt.Errorf("delta: %w", err)
	}
	if int64(cap(w.delta)) < pl.sizes[i] {
		w.delta = make([]byte, pl.sizes[i])
	}
	d := w.delta[:pl.sizes[i]]
	if err := w.inflate(pl, i, d); err != nil {
		return nil, err
	}
	return d, nil
}

// inflate inflates object i into dst, from the walker's window when its
// compressed bytes fit one.
func (w *walker) inflate(pl *packPlan, i int32, dst []byte) error {
	if int64(len(dst)) <= memInflateMax {
		src, ok, err := w.win.slice(pl.p, pl.data(i), pl.end(i))
		if err != nil {
			return err
		}
		if ok {
			return inflateMem(w.ctx, src, dst)
		}
	}
	return inflateAt(w.ctx, pl.p.f, pl.data(i), pl.end(i), int(pl.extent(i)), dst)
}

// resultSize reads the size a delta declares for its result from the
// delta's first bytes, without inflating the rest.
func (w *walker) resultSize(pl *packPlan, i int32) (int64, error) {
	n := min(int64(len(w.hint)), pl.sizes[i])
	if err := inflatePrefix(w.ctx, pl.p.f, pl.data(i), pl.end(i), w.hint[:n]); err != nil {
		return 0, err
	}
	_, dst, _, err := deltaSizes(w.hint[:n])
	if err != nil {
		return 0, err
	}
	return int64(dst), nil
}

// family inflates the root and rebuilds its needed descendants
// depth-first, the child with the largest subtree last: a parent's buffer
// is dropped as its last child is built, so a chain of any depth holds two
// objects at once, and a branching family at most about log2(size). Under
// a size limit, an object found too large (by its header, or by its
// delta's first bytes once inflated) has its subtree's sizes read before
// it is built (refine), so a blob too large to visit is built only when a
// blob to visit is stored as a delta on it.
func (w *walker) family(pl *packPlan, root int32) {
	defer w.release()
	w.plan(pl, root)
	if !w.keep[0] {
		return
	}
	lim := limitFor(pl.types[root])
	data, err := w.rootData(pl, root, lim)
	if err == errNotBuilt {
		return // too large, and nothing to visit below it
	}
	if err != nil {
		w.fail(pl, 0, err)
		return
	}
	var stack []frame
	held := int64(0) // bytes held by the frames
	push := func(x int32, data []byte) {
		kids := w.keptKids(pl, x)
		if len(kids) == 0 {
			w.put(data)
			return
		}
		stack = append(stack, frame{x: x, data: data, kids: kids})
		held += int64(cap(data))
		held = w.evict(stack, held)
	}
	if w.scan[0] {
		w.visit(pl.hash(root), data)
	}
	push(0, data)
	for len(stack) > 0 {
		if w.ctx.Err() != nil {
			for _, f := range stack {
				w.put(f.data)
			}
			return
		}
		top := &stack[len(stack)-1]
		if top.data == nil {
			// Dropped to stay within the budget: rebuild it from the
			// nearest ancestor still held, or from the root.
			d, err := w.rebuild(pl, stack, top.x, lim)
			if err != nil {
				w.fail(pl, top.x, err)
				stack = stack[:len(stack)-1]
				continue
			}
			top.data = d
			held += int64(cap(d))
			held = w.evict(stack, held)
		}
		x := top.kids[top.next]
		top.next++
		k := w.nodes[x]
		base := top.data
		last := top.next == len(top.kids)
		if last {
			stack = stack[:len(stack)-1] // base is dropped once k is built
			held -= int64(cap(base))
		}
		out, err := w.build(pl, x, base, lim)
		if last {
			w.put(base)
		}
		if err == errNotBuilt {
			continue // too large, and nothing to visit below it
		}
		if err != nil {
			w.fail(pl, x, err)
			continue
		}
		if w.scan[x] {
			w.visit(pl.hash(k), out)
		}
		push(x, out)
	}
}

// frame is an object of a family whose children are being built.
type frame struct {
	x    int32  // position in the family's nodes
	data []byte // its content; nil when dropped to save memory
	kids []int32
	next int
}

// evict drops the buffers of frames below the top, deepest first, until
// those held fit the budget, and returns the bytes still held. The top
// frame's buffer is the next base: it stays.
func (w *walker) evict(stack []frame, held int64) int64 {
	for i := len(stack) - 2; i >= 0 && held > w.budget; i-- {
		if d := stack[i].data; d != nil {
			held -= int64(cap(d))
			stack[i].data = nil
			w.stats.dropped++
		}
	}
	if held > w.stats.peakHeld {
		w.stats.peakHeld = held
	}
	return held
}

// rebuild rebuilds family position x from the nearest ancestor the stack
// still holds, or from the root, without visiting anything.
func (w *walker) rebuild(pl *packPlan, stack []frame, x int32, lim int64) ([]byte, error) {
	var path []int32 // objects to build, x first
	var cur []byte
	for i := w.nodes[x]; ; i = pl.base[i] {
		found := false
		for _, f := range stack {
			if w.nodes[f.x] == i && f.data != nil {
				cur, found = f.data, true
				break
			}
		}
		if found {
			break
		}
		path = append(path, i)
		if i == w.nodes[0] {
			break
		}
	}
	own := false // cur is a buffer of our own, not a frame's
	if cur == nil {
		root := path[len(path)-1]
		path = path[:len(path)-1]
		d, err := w.rootData(pl, root, lim)
		if err != nil {
			return nil, err
		}
		cur, own = d, true
	}
	for j := len(path) - 1; j >= 0; j-- {
		k := path[j]
		out, err := w.build(pl, w.pos[k], cur, lim)
		if own {
			w.put(cur)
		}
		if err != nil {
			return nil, err
		}
		cur, own = out, true
		w.stats.rebuilt++
	}
	return cur, nil
}

// errNotBuilt is build's answer for an object it found too large to visit
// with nothing to visit stored as a delta on it: skipped, not an error.
var errNotBuilt = errors.New("not built")

// build applies the delta at family position x to base. The result's
// buffer is allocated only once the delta's instructions are checked,
// unless a spare one is large enough.
func (w *walker) build(pl *packPlan, x int32, base []byte, lim int64) ([]byte, error) {
	k := w.nodes[x]
	delta, err := w.inflateDelta(pl, k)
	if err != nil {
		return nil, err
	}
	var dst []byte
	if _, size, _, err := deltaSizes(delta); err == nil {
		if w.max > 0 && int64(size) > w.max && !w.exact[x] {
			if w.refine(pl, x); !w.keep[x] {
				return nil, errNotBuilt
			}
		}
		dst = w.spare(int64(size))
	}
	out, err := applyDeltaGrow(base, delta, dst, lim, 1)
	if err != nil {
		w.put(dst)
		return nil, fmt.Errorf("%s: %w", pl.types[k], err)
	}
	w.stats.built += int64(len(out))
	return out, nil
}

// spare returns a spare buffer of n bytes, or nil when none is as large.
func (w *walker) spare(n int64) []byte {
	for _, b := range w.free {
		if int64(cap(b)) >= n {
			return w.get(n)[:0]
		}
	}
	return nil
}

// rootData inflates the family's root, or rebuilds it on its base outside
// the pack (a thin pack, or an alternate's object).
func (w *walker) rootData(pl *packPlan, root int32, lim int64) ([]byte, error) {
	if pl.base[root] == extBase {
		base, err := w.db.read(w.ctx, pl.ext[root], 0)
		if err != nil {
			return nil, fmt.Errorf("delta base %s: %w", pl.ext[root], err)
		}
		defer w.db.release(base)
		return w.build(pl, 0, base.data, lim)
	}
	if err := checkSize(pl.sizes[root], pl.types[root], pl.extent(root)); err != nil {
		return nil, err
	}
	data := w.get(pl.sizes[root])
	if err := w.inflate(pl, root, data); err != nil {
		w.put(data)
		return nil, err
	}
	return data, nil
}

// plan lists the family's needed objects and decides what to build:
// every object to visit and what it is built from. Sizes are not read
// here: a delta's is learnt as it is built.
func (w *walker) plan(pl *packPlan, root int32) {
	w.nodes = w.nodes[:0]
	if w.pos == nil {
		w.pos = map[int32]int32{}
	}
	clear(w.pos)
	stack := []int32{root}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		w.pos[i] = int32(len(w.nodes))
		w.nodes = append(w.nodes, i)
		for _, k := range pl.kids[pl.kidStart[i]:pl.kidStart[i+1]] {
			if pl.needed[k] {
				stack = append(stack, k)
			}
		}
	}
	n := len(w.nodes)
	w.span = resize(w.span, n)
	w.scan = resize(w.scan, n)
	w.keep = resize(w.keep, n)
	w.weight = resize(w.weight, n)
	w.broken = resize(w.broken, n)
	w.exact = resize(w.exact, n)
	for x, i := range w.nodes {
		w.scan[x], w.broken[x] = pl.emit[i], false
		w.exact[x] = w.max <= 0 // without a limit, sizes decide nothing
		w.span[x] = 1
	}
	for x := n - 1; x > 0; x-- {
		w.span[w.pos[pl.base[w.nodes[x]]]] += w.span[x]
	}
	w.mark(pl, 0)
	if !w.exact[0] && pl.base[root] == noBase && pl.sizes[root] > w.max {
		w.refine(pl, 0) // a whole object too large: is anything below to visit?
	}
}

// mark sets keep and weight over the subtree at family position x from
// scan and broken: what is visited, and what it is built from. Children
// come after their parent in preorder, so one backward pass sums subtrees.
func (w *walker) mark(pl *packPlan, x int32) {
	end := x + w.span[x]
	for y := x; y < end; y++ {
		w.keep[y], w.weight[y] = false, 0
	}
	for y := end - 1; y >= x; y-- {
		if w.broken[y] {
			w.keep[y], w.weight[y] = false, 0
			continue
		}
		if w.scan[y] {
			w.keep[y] = true
			w.weight[y]++
		}
		if y > x && w.keep[y] {
			p := w.pos[pl.base[w.nodes[y]]]
			w.keep[p] = true
			w.weight[p] += w.weight[y]
		}
	}
}

// refine reads the size of every object in the subtree at family position
// x (a delta's first bytes tell its result's), decides which to visit and
// which are too large (reported to OnSkip), and marks again what to build.
// It runs only below an object found too large, so a size limit costs no
// extra inflating on the families that fit it.
func (w *walker) refine(pl *packPlan, x int32) {
	end := x + w.span[x]
	for y := x; y < end; y++ {
		i := w.nodes[y]
		w.exact[y], w.scan[y] = true, false
		if w.broken[y] {
			continue
		}
		size := pl.sizes[i]
		if pl.base[i] != noBase {
			var err error
			if size, err = w.resultSize(pl, i); err != nil {
				w.broken[y] = true
				w.fail(pl, y, fmt.Errorf("delta: %w", err))
				continue
			}
		}
		if size > limitFor(pl.types[i]) {
			w.broken[y] = true
			w.fail(pl, y, fmt.Errorf("%w: %s declares %d bytes, over the %d-byte limit", ErrLimit, pl.types[i], size, limitFor(pl.types[i])))
			continue
		}
		if pl.emit[i] {
			if size <= w.max {
				w.scan[y] = true
			} else if w.skip != nil {
				w.skip(pl.hash(i), size)
			}
		}
	}
	w.mark(pl, x)
}

// keptKids returns the kept children of family position x, heaviest last.
func (w *walker) keptKids(pl *packPlan, x int32) []int32 {
	i := w.nodes[x]
	var kids []int32
	for _, k := range pl.kids[pl.kidStart[i]:pl.kidStart[i+1]] {
		if !pl.needed[k] {
			continue
		}
		if y := w.pos[k]; w.keep[y] {
			kids = append(kids, y)
		}
	}
	sort.SliceStable(kids, func(a, b int) bool { return w.weight[kids[a]] < w.weight[kids[b]] })
	return kids
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

func (w *walker) loose(lo looseObject) {
	t, data, err := readLooseWant(lo.dir, lo.hash, Blob, w.max)
	var wrong errWrongType
	switch {
	case errors.As(err, &wrong):
		return // a commit, tree or tag
	case errors.Is(err, errTooLarge):
		if w.skip != nil && t == Blob {
			w.skip(lo.hash, 0)
		}
		return
	case errors.Is(err, ErrNotFound):
		return // removed since listed (a concurrent gc)
	case err != nil:
		w.report(fmt.Errorf("object %s: %w", lo.hash, err))
		return
	}
	w.visit(lo.hash, data)
}

package scanner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gemscan-dev/gemscan/internal/odb"
)

// tree reads and parses a tree, caching recent ones.
func (h *history) tree(t plumbing.Hash) ([]odb.TreeEntry, error) {
	if es, ok := h.trees[t]; ok {
		return es, nil
	}
	data, err := h.r.db.ReadType(t, odb.Tree)
	if err != nil {
		return nil, err
	}
	es, err := odb.ParseTree(data)
	if err != nil {
		return nil, fmt.Errorf("tree %s: %w", t, err)
	}
	if len(h.trees) > 4096 {
		clear(h.trees)
	}
	h.trees[t] = es
	return es, nil
}

// pathTable numbers paths: intros and removals name a path by its id.
type pathTable struct {
	ids  map[string]int32
	list []string // by id
}

// id returns p's id, numbering it if it is new.
func (t *pathTable) id(p string) int32 {
	if id, ok := t.ids[p]; ok {
		return id
	}
	if t.ids == nil {
		t.ids = map[string]int32{}
	}
	id := int32(len(t.list))
	t.ids[p] = id
	t.list = append(t.list, p)
	return id
}

// maxTreeDepth bounds how deep a diff descends into nested trees: git's own
// default for core.maxTreeDepth. Honest trees are far shallower; a forged
// one that nests without end is refused.
const maxTreeDepth = 2048

// maxDiffEntries bounds the tree entries one commit's diff visits. Trees
// may share subtrees, so a few kilobytes of forged trees can name 2^40
// paths; real commits stay well below this (a checkout of the largest
// public monorepos holds a few million files).
const maxDiffEntries = 1 << 21

// diffRun is the number of consecutive commits a diff worker takes at a
// time: enough to keep the trees it reads warm in the object cache, few
// enough that the workers finish together.
const diffRun = 256

// diffAll records, for each selected commit, the blobs it introduced: a
// blob is new at a path only if no parent had that blob at that path (git's
// combined-diff rule for merges). It descends only into subtrees that differ
// from every parent's. Workers diff runs of consecutive commits in
// parallel; their results are merged in commit order, so intros, removals
// and errors come out as one worker would have made them.
func (h *history) diffAll(ctx context.Context) {
	h.trees = map[plumbing.Hash][]odb.TreeEntry{}
	h.needed = map[plumbing.Hash]bool{}
	h.submods = map[string]bool{}
	h.removals = map[string][]int32{}
	h.missingTrees = map[plumbing.Hash]bool{}
	h.partial = h.r.partialClone()
	size := diffRun
	if h.runSize > 0 {
		size = h.runSize
	}
	runs := make([]*diffOut, (len(h.order)+size-1)/size)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := min(runtime.GOMAXPROCS(0), len(runs)); w > 0; w-- {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var scratch [][][]treeChange
			for {
				r := int(next.Add(1) - 1)
				if r >= len(runs) || ctx.Err() != nil {
					return
				}
				out := &diffOut{removals: map[string][]int32{}}
				out.scratch = scratch
				h.diffRun(ctx, h.order[r*size:min((r+1)*size, len(h.order))], out)
				scratch, out.scratch = out.scratch, nil
				runs[r] = out
			}
		}()
	}
	wg.Wait()
	for _, out := range runs {
		if out == nil {
			break // cancelled
		}
		h.merge(out)
	}
	for p := range h.submods {
		h.res.Stats.Notes = append(h.res.Stats.Notes, fmt.Sprintf("submodule %s is not entered: scan its own repository", p))
	}
	sort.Strings(h.res.Stats.Notes)
}

// diffOut is what diffing a run of commits found, with path ids of its own.
type diffOut struct {
	intros       []intro
	paths        pathTable // the run's own path ids
	removals     map[string][]int32
	submods      []string
	missingTrees []plumbing.Hash
	errs         []error
	commits      int64
	scratch      [][][]treeChange // lists of changes by depth, reused
}

func (o *diffOut) errorf(format string, args ...any) {
	o.errs = append(o.errs, fmt.Errorf(format, args...))
}

// diffRun diffs a run of commits (positions in h.nodes, in h.order).
func (h *history) diffRun(ctx context.Context, commits []int32, out *diffOut) {
	since := h.opts.Since.Unix()
	for _, i := range commits {
		if ctx.Err() != nil {
			return
		}
		n := &h.nodes[i]
		if !h.opts.Since.IsZero() && n.commitTime < since {
			continue
		}
		out.commits++
		d := &differ{h: h, out: out, ctx: ctx, commit: n.hash, root: n.tree, order: n.order, onPath: map[plumbing.Hash]bool{}}
		d.tree(h.parentTrees(n, out), n.tree, "")
	}
}

// merge adds a run's results to the history's, after the runs before it.
func (h *history) merge(out *diffOut) {
	h.res.Stats.Commits += out.commits
	h.res.Errors = append(h.res.Errors, out.errs...)
	ids := make([]int32, len(out.paths.list))
	for i, p := range out.paths.list {
		ids[i] = h.paths.id(p)
	}
	for _, in := range out.intros {
		in.path = ids[in.path]
		h.intros = append(h.intros, in)
		h.needed[in.blob] = true
	}
	for p, orders := range out.removals {
		h.removals[p] = append(h.removals[p], orders...)
	}
	for _, p := range out.submods {
		h.submods[p] = true
	}
	for _, t := range out.missingTrees {
		h.missingTrees[t] = true
	}
}

// parentTrees returns the root trees of n's parents. A parent that cannot
// be read counts as the empty tree (the zero hash), so that everything the
// commit holds is scanned: better to over-report than to miss. The failure
// is reported all the same.
func (h *history) parentTrees(n *commitNode, out *diffOut) []plumbing.Hash {
	if h.shallow[n.hash] {
		return nil
	}
	trees := make([]plumbing.Hash, 0, n.nParents)
	for _, p := range h.parentsOf(n) {
		if j, ok := h.byH[p]; ok {
			trees = append(trees, h.nodes[j].tree)
			continue
		}
		// A parent outside the range: diff against it all the same.
		info, err := h.readCommit(p)
		if err != nil {
			out.errorf("commit %s: parent %s: %w (compared with the empty tree instead)", n.hash, p, err)
			trees = append(trees, plumbing.ZeroHash)
			continue
		}
		trees = append(trees, info.Tree)
	}
	return trees
}

// differ diffs one commit's tree against its parents' trees.
type differ struct {
	h      *history
	out    *diffOut
	ctx    context.Context
	commit plumbing.Hash
	root   plumbing.Hash // the commit's tree
	order  int32
	onPath map[plumbing.Hash]bool // trees being descended: one seen again loops
	depth  int
	visits int
	stop   bool // a loop, a bomb or cancellation: this commit's diff ends
}

// fail ends the commit's diff with err.
func (d *differ) fail(err error) {
	if !d.stop {
		d.stop = true
		d.out.errorf("commit %s: %w", d.commit, err)
	}
}

// readTree reads a tree into a view the caller releases; errors are
// reported and the zero hash reads as the empty tree.
func (d *differ) readTree(t plumbing.Hash, prefix string) (odb.View, bool) {
	if t.IsZero() {
		return odb.View{}, true
	}
	v, err := d.h.r.db.ReadView(d.ctx, t, odb.Tree)
	if errors.Is(err, odb.ErrNotFound) && d.h.partial {
		// A partial clone without trees (--filter=tree:0): counted in one
		// error by checkMissing rather than one per commit.
		d.out.missingTrees = append(d.out.missingTrees, t)
		return odb.View{}, false
	}
	if err != nil {
		d.out.errorf("commit %s: tree %s (%s): %w", d.commit, t, displayDir(prefix), err)
		return odb.View{}, false
	}
	return v, true
}

func displayDir(prefix string) string {
	if prefix == "" {
		return "the root"
	}
	return prefix
}

// removed records that the commit removed e (at prefix) from its first
// parent's tree.
func (d *differ) removed(prefix string, e odb.RawEntry) {
	var p string
	switch kindOf(e) {
	case kindTree:
		p = prefix + string(e.Name) + "/"
	case kindBlob:
		p = prefix + string(e.Name)
	default:
		return
	}
	d.out.removals[p] = append(d.out.removals[p], d.order)
}

// entryKind is what git makes of a tree entry's mode, as its canon_mode
// does (and odb's IsTree and IsBlob): a directory, a file (regular,
// executable or symbolic link), or anything else, which git takes for a
// gitlink. Forged trees may use modes git never writes (40755, 120644,
// 100600); git still checks out the files under them.
type entryKind uint8

const (
	kindGitlink entryKind = iota
	kindTree
	kindBlob
)

func kindOf(e odb.RawEntry) entryKind {
	switch {
	case e.IsTree():
		return kindTree
	case e.IsBlob():
		return kindBlob
	}
	return kindGitlink
}

// treeChange is an entry of the commit's tree that one parent's tree does not
// hold as it is.
type treeChange struct {
	e   odb.RawEntry
	off int // where e starts in the commit's tree data
	// base is the parent's tree at the same name, when it is a tree with
	// other content (the diff descends into both).
	base    plumbing.Hash
	hasBase bool
}

// against lists, in tree order, the entries of cur (the commit's tree at
// prefix) that old (parent k's tree there, nil when absent or unreadable)
// does not hold as they are. Runs of entries the two trees share byte for
// byte are skipped without being decoded, and so is all that is left once
// the rest of both trees is the same. It counts the entries it visits
// against the commit's budget, whichever the parent (a forged merge may name
// thousands); only for the first parent (k == 0) does it record the
// removals. When end is not negative, it stops before the entries of cur
// past offset end. It returns
// the error of an entry of cur that cannot be decoded, after the changes
// before it; an entry of old that cannot be decoded is reported, and the
// rest of old counts as absent.
func (d *differ) against(out []treeChange, cur []byte, curHash plumbing.Hash, old []byte, oldHash plumbing.Hash, k, end int, prefix string) ([]treeChange, error) {
	first := k == 0
	ci := odb.TreeIter{Data: cur}
	oi := odb.TreeIter{Data: old}
	var oe odb.RawEntry
	var oAt []byte // old's data from oe on, when oHave
	oHave := false // oe is decoded: oi is past it
	loadOld := func() {
		at := oi.Data
		e, ok, err := oi.Next()
		if err != nil {
			d.out.errorf("commit %s: tree %s (%s): %w", d.commit, oldHash, displayDir(prefix), err)
			oi.Data, ok = nil, false
		}
		oe, oHave, oAt = e, ok, at
	}
	for !d.stop {
		pi := odb.TreeIter{Data: oi.Data}
		if oHave {
			pi.Data = oAt
		}
		// Both iterators stand where an entry starts: when what is left of
		// the two trees is byte for byte the same, so are its entries, and
		// nothing more differs. A diff mostly ends this way right after the
		// entry that changed, without decoding the rest of a large tree.
		if len(ci.Data) == len(pi.Data) && bytes.Equal(ci.Data, pi.Data) {
			oi.Data, oHave = nil, false
			break
		}
		if n := ci.SkipSame(&pi); n > 0 {
			oi.Data, oHave = pi.Data, false
			if !d.visit(n) {
				return out, nil
			}
		}
		off := len(cur) - len(ci.Data)
		if end >= 0 && off > end {
			break
		}
		ce, ok, err := ci.Next()
		if err != nil {
			return out, fmt.Errorf("tree %s (%s): %w", curHash, displayDir(prefix), err)
		}
		if !ok {
			break
		}
		if !d.visit(1) {
			return out, nil
		}
		if !oHave {
			loadOld()
		}
		for oHave && odb.CompareEntries(oe, ce) < 0 {
			if first {
				d.removed(prefix, oe)
			}
			loadOld()
		}
		if oHave && odb.CompareEntries(oe, ce) == 0 {
			oHave = false // consumed: not a removal
			oKind := kindOf(oe)
			if oe.Hash == ce.Hash && oKind == kindOf(ce) {
				// The parent had it (only a file's mode may differ). A
				// gitlink named like the blob that replaces it held no
				// blob: its name is all the two share.
				continue
			}
			out = append(out, treeChange{e: ce, off: off, base: oe.Hash, hasBase: oKind == kindTree})
			continue
		}
		out = append(out, treeChange{e: ce, off: off})
	}
	if first && !d.stop {
		if !oHave {
			loadOld()
		}
		for oHave {
			d.removed(prefix, oe)
			loadOld()
		}
	}
	return out, nil
}

// visit counts n more tree entries visited by the commit's diff, and ends
// the diff (false) past the budget or once ctx is cancelled.
func (d *differ) visit(n int) bool {
	before := d.visits
	d.visits += n
	if d.visits > d.h.maxEntries {
		d.fail(fmt.Errorf("tree %s: more than %d entries to compare in one commit: the repository is forged or too large to scan", d.root, d.h.maxEntries))
		return false
	}
	if d.visits/4096 != before/4096 && d.ctx.Err() != nil {
		d.stop = true // ScanGit reports the cancellation
		return false
	}
	return true
}

// tree records the blobs under cur (at prefix) that no tree of olds holds
// at the same path.
func (d *differ) tree(olds []plumbing.Hash, cur plumbing.Hash, prefix string) {
	if d.stop {
		return
	}
	for _, o := range olds {
		if o == cur {
			return // unchanged from a parent: nothing new below
		}
	}
	if d.onPath[cur] {
		d.fail(fmt.Errorf("tree %s contains itself (at %s): the repository is corrupt or forged", cur, displayDir(prefix)))
		return
	}
	if d.depth >= maxTreeDepth {
		d.fail(fmt.Errorf("tree %s (%s): trees nested deeper than %d levels", cur, displayDir(prefix), maxTreeDepth))
		return
	}
	curView, ok := d.readTree(cur, prefix)
	if !ok {
		return
	}
	defer curView.Release() // after the lists naming its entries are cleared
	curData := curView.Data
	// Every tree is sorted in git's order: compare cur with each parent's
	// in turn. An entry is new only if it differs from every parent's.
	// The lists of changes of this depth, reused from commit to commit.
	o, level := d.out, d.depth
	for len(o.scratch) <= level {
		o.scratch = append(o.scratch, nil)
	}
	lists, n := o.scratch[level], max(len(olds), 1)
	if cap(lists) < n {
		lists = append(lists[:cap(lists)], make([][]treeChange, n-cap(lists))...)
	}
	lists = lists[:n] // the lists past len kept theirs: reused too
	defer func() {
		for k := range lists {
			clear(lists[k]) // keep no names into tree data alive
			lists[k] = lists[k][:0]
		}
		o.scratch[level] = lists
	}()
	var curErr error
	for k := range lists {
		if k > 0 && len(lists[0]) == 0 {
			// Nothing differs from the first parent's: nothing is new,
			// whatever the other parents hold.
			for j := range lists[k:] {
				lists[k+j] = lists[k+j][:0]
			}
			break
		}
		var oldView odb.View
		var oldHash plumbing.Hash
		if k < len(olds) {
			oldHash = olds[k]
			oldView, _ = d.readTree(oldHash, prefix)
		}
		// Another parent matters only for the entries that differ from
		// the first's: its comparison stops past the last of them.
		end := -1
		if k > 0 {
			end = lists[0][len(lists[0])-1].off
		}
		var err error
		lists[k], err = d.against(lists[k][:0], curData, cur, oldView.Data, oldHash, k, end, prefix)
		oldView.Release() // the lists keep no part of it
		if err != nil && curErr == nil {
			curErr = err
		}
		if d.stop {
			return
		}
	}
	d.onPath[cur] = true
	d.depth++
	defer func() {
		delete(d.onPath, cur)
		d.depth--
	}()
	pos := make([]int, len(lists))
	var bases []plumbing.Hash
	for _, c := range lists[0] {
		if d.stop {
			return
		}
		bases = bases[:0]
		if c.hasBase {
			bases = append(bases, c.base)
		}
		same := false
		for k := 1; k < len(lists); k++ {
			l := lists[k]
			for pos[k] < len(l) && l[pos[k]].off < c.off {
				pos[k]++
			}
			if pos[k] == len(l) || l[pos[k]].off != c.off {
				same = true // parent k had it as it is
				break
			}
			if l[pos[k]].hasBase {
				bases = append(bases, l[pos[k]].base)
			}
		}
		if same {
			continue
		}
		n := c.e
		switch kindOf(n) {
		case kindTree:
			d.tree(append([]plumbing.Hash(nil), bases...), n.Hash, prefix+string(n.Name)+"/")
		case kindBlob:
			o := d.out
			o.intros = append(o.intros, intro{path: o.paths.id(prefix + string(n.Name)), blob: n.Hash, order: d.order})
		default:
			d.out.submods = append(d.out.submods, prefix+string(n.Name))
		}
	}
	if curErr != nil {
		d.out.errorf("commit %s: %w", d.commit, curErr)
	}
}

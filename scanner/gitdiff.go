package scanner

import (
	"context"
	"errors"
	"fmt"
	"sort"

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

func (h *history) pathID(p string) int32 {
	if id, ok := h.paths[p]; ok {
		return id
	}
	id := int32(len(h.pathList))
	h.paths[p] = id
	h.pathList = append(h.pathList, p)
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

// diffAll records, for each selected commit, the blobs it introduced: a
// blob is new at a path only if no parent had that blob at that path (git's
// combined-diff rule for merges). It descends only into subtrees that differ
// from every parent's.
func (h *history) diffAll(ctx context.Context) {
	h.trees = map[plumbing.Hash][]odb.TreeEntry{}
	h.needed = map[plumbing.Hash]bool{}
	h.submods = map[string]bool{}
	h.removals = map[string][]int32{}
	h.missingTrees = map[plumbing.Hash]bool{}
	h.partial = h.r.partialClone()
	since := h.opts.Since.Unix()
	for _, i := range h.order {
		if ctx.Err() != nil {
			return
		}
		n := &h.nodes[i]
		if !h.opts.Since.IsZero() && n.info.CommitTime < since {
			continue
		}
		h.res.Stats.Commits++
		d := &differ{h: h, ctx: ctx, commit: n.hash, root: n.info.Tree, order: n.order, onPath: map[plumbing.Hash]bool{}}
		d.tree(h.parentTrees(n), n.info.Tree, "")
	}
	for p := range h.submods {
		h.res.Stats.Notes = append(h.res.Stats.Notes, fmt.Sprintf("submodule %s is not entered: scan its own repository", p))
	}
	sort.Strings(h.res.Stats.Notes)
}

// parentTrees returns the root trees of n's parents. A parent that cannot
// be read counts as the empty tree (the zero hash), so that everything the
// commit holds is scanned: better to over-report than to miss. The failure
// is reported all the same.
func (h *history) parentTrees(n *commitNode) []plumbing.Hash {
	if h.shallow[n.hash] {
		return nil
	}
	trees := make([]plumbing.Hash, 0, len(n.info.Parents))
	for _, p := range n.info.Parents {
		if j, ok := h.byH[p]; ok {
			trees = append(trees, h.nodes[j].info.Tree)
			continue
		}
		// A parent outside the range: diff against it all the same.
		info, err := h.readCommit(p)
		if err != nil {
			h.errorf("commit %s: parent %s: %w (compared with the empty tree instead)", n.hash, p, err)
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
		d.h.errorf("commit %s: %w", d.commit, err)
	}
}

// readTree returns a tree's data; errors are reported and the zero hash
// reads as the empty tree.
func (d *differ) readTree(t plumbing.Hash, prefix string) ([]byte, bool) {
	if t.IsZero() {
		return nil, true
	}
	data, err := d.h.r.db.ReadType(t, odb.Tree)
	if errors.Is(err, odb.ErrNotFound) && d.h.partial {
		// A partial clone without trees (--filter=tree:0): counted in one
		// error by checkMissing rather than one per commit.
		d.h.missingTrees[t] = true
		return nil, false
	}
	if err != nil {
		d.h.errorf("commit %s: tree %s (%s): %w", d.commit, t, displayDir(prefix), err)
		return nil, false
	}
	return data, true
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
	switch {
	case e.IsTree():
		p = prefix + string(e.Name) + "/"
	case e.IsBlob():
		p = prefix + string(e.Name)
	default:
		return
	}
	d.h.removals[p] = append(d.h.removals[p], d.order)
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
	curData, ok := d.readTree(cur, prefix)
	if !ok {
		return
	}
	// Every tree is sorted in git's order: merge cur with each parent's.
	its := make([]odb.TreeIter, len(olds))
	heads := make([]odb.RawEntry, len(olds))
	have := make([]bool, len(olds))
	next := func(k int) {
		e, ok, err := its[k].Next()
		if err != nil {
			// The rest of that parent's tree counts as absent.
			d.h.errorf("commit %s: tree %s (%s): %w", d.commit, olds[k], displayDir(prefix), err)
			ok = false
		}
		heads[k], have[k] = e, ok
	}
	for k, o := range olds {
		if data, ok := d.readTree(o, prefix); ok {
			its[k].Data = data
		}
		next(k)
	}
	d.onPath[cur] = true
	d.depth++
	defer func() {
		delete(d.onPath, cur)
		d.depth--
	}()
	ni := odb.TreeIter{Data: curData}
	var bases []plumbing.Hash
	for !d.stop {
		n, ok, err := ni.Next()
		if err != nil {
			d.h.errorf("commit %s: tree %s (%s): %w", d.commit, cur, displayDir(prefix), err)
			return
		}
		if !ok {
			for len(olds) > 0 && have[0] {
				d.removed(prefix, heads[0])
				next(0)
			}
			return
		}
		if d.visits++; d.visits > d.h.maxEntries {
			d.fail(fmt.Errorf("tree %s: more than %d entries to compare in one commit: the repository is forged or too large to scan", d.root, d.h.maxEntries))
			return
		}
		if d.visits%4096 == 0 && d.ctx.Err() != nil {
			d.stop = true // ScanGit reports the cancellation
			return
		}
		bases = bases[:0]
		same := false
		for k := range olds {
			for have[k] && odb.CompareEntries(heads[k], n) < 0 {
				if k == 0 {
					d.removed(prefix, heads[0])
				}
				next(k)
			}
			if have[k] && odb.CompareEntries(heads[k], n) == 0 {
				if heads[k].Hash == n.Hash {
					same = true // a parent had it (only a mode may differ)
				} else if heads[k].IsTree() {
					bases = append(bases, heads[k].Hash)
				}
				next(k) // consumed: not a removal
			}
		}
		if same {
			continue
		}
		switch {
		case n.IsTree():
			d.tree(append([]plumbing.Hash(nil), bases...), n.Hash, prefix+string(n.Name)+"/")
		case n.Mode == odb.ModeGitlink:
			d.h.submods[prefix+string(n.Name)] = true
		case n.IsBlob():
			h := d.h
			h.intros = append(h.intros, intro{path: h.pathID(prefix + string(n.Name)), blob: n.Hash, order: d.order})
			h.needed[n.Hash] = true
		}
	}
}

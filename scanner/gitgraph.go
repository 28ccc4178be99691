package scanner

import (
	"bytes"
	"container/heap"
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gemscan-dev/gemscan/internal/odb"
)

// graph loads every commit reachable from the tips (or in the range) and
// orders the selected ones parents first, oldest first among the ready.
func (h *history) graph(ctx context.Context) error {
	r := h.r
	var err error
	if h.shallow, err = r.shallow(); err != nil {
		return err
	}
	h.byH = map[plumbing.Hash]int32{}
	var starts []plumbing.Hash
	var selected map[plumbing.Hash]bool // nil: everything reachable from starts
	include, excludeRevs := h.opts.Include, h.opts.Exclude
	symmetric := false // include[0]...include[1]
	if h.opts.Range != "" {
		rg, err := parseRange(h.opts.Range)
		if err != nil {
			return err
		}
		if rg.symmetric {
			if len(include) > 0 || len(excludeRevs) > 0 {
				return fmt.Errorf("--range %q: a symmetric range (A...B) cannot be combined with other revisions", h.opts.Range)
			}
			symmetric = true
			include = []string{rg.from, rg.to}
		} else {
			include = append(include, rg.to)
			excludeRevs = append(excludeRevs, rg.from)
		}
	}
	if len(include) > 0 {
		for _, rev := range include {
			c, err := r.resolve(rev)
			if err != nil {
				return fmt.Errorf("range: %w", err)
			}
			starts = append(starts, c)
		}
		var excl []plumbing.Hash
		for _, rev := range excludeRevs {
			c, err := r.resolve(rev)
			if err != nil {
				return fmt.Errorf("range: %w", err)
			}
			excl = append(excl, c)
		}
		if len(h.opts.ExcludeRefs) > 0 {
			tips, err := r.tipsUnder(h.opts.ExcludeRefs)
			if err != nil {
				return err
			}
			excl = append(excl, tips...)
		}
		switch {
		case symmetric:
			// A...B: what either reaches and the other does not, i.e.
			// both sides without their merge bases, as git log reads it.
			// Each side is an ordinary walk that stops near the bases.
			a, b := starts[0], starts[1]
			sel, err := selectCommits(ctx, []plumbing.Hash{a}, append([]plumbing.Hash{b}, excl...), h.shallow, h.readCommit)
			if err != nil {
				return err
			}
			other, err := selectCommits(ctx, []plumbing.Hash{b}, append([]plumbing.Hash{a}, excl...), h.shallow, h.readCommit)
			if err != nil {
				return err
			}
			for c := range other {
				sel[c] = true
			}
			selected = sel
		case len(excl) > 0:
			sel, err := selectCommits(ctx, starts, excl, h.shallow, h.readCommit)
			if err != nil {
				return err
			}
			selected = sel
		}
	} else {
		tips, errs := r.tips(h.opts.Branches)
		h.res.Errors = append(h.res.Errors, errs...)
		for _, t := range tips {
			starts = append(starts, t.commit)
			if h.tipNames == nil {
				h.tipNames = map[plumbing.Hash]string{}
			}
			if _, ok := h.tipNames[t.commit]; !ok {
				h.tipNames[t.commit] = t.name
			}
		}
	}
	// Load the commits: a stack walk, every commit read once.
	stack := append([]plumbing.Hash(nil), starts...)
	for steps := 0; len(stack) > 0; steps++ {
		if steps%256 == 0 && ctx.Err() != nil {
			return fmt.Errorf("load commits: %w", ctx.Err())
		}
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if _, ok := h.byH[c]; ok || selected != nil && !selected[c] {
			continue
		}
		info, err := h.readCommit(c)
		if err != nil {
			if name, ok := h.tipNames[c]; ok {
				err = fmt.Errorf("ref %s: %w", name, err)
			}
			h.res.Errors = append(h.res.Errors, err)
			continue
		}
		h.byH[c] = int32(len(h.nodes))
		h.nodes = append(h.nodes, commitNode{hash: c, tree: info.Tree, commitTime: info.CommitTime,
			parentAt: int32(len(h.parentHashes)), nParents: int32(len(info.Parents))})
		h.parentHashes = append(h.parentHashes, info.Parents...)
		if h.shallow[c] {
			continue
		}
		for _, p := range info.Parents {
			if _, ok := h.byH[p]; !ok && (selected == nil || selected[p]) {
				stack = append(stack, p)
			}
		}
	}
	// A selected commit whose parents the shallow clone cut off means the
	// history to scan goes on where it cannot be read: the scan is
	// incomplete. (A range the clone holds whole selects none of them.)
	cut := 0
	for i := range h.nodes {
		n := &h.nodes[i]
		if h.shallow[n.hash] && n.nParents > 0 && (h.opts.Since.IsZero() || n.commitTime >= h.opts.Since.Unix()) {
			cut++
		}
	}
	if cut > 0 {
		h.res.Errors = append(h.res.Errors, fmt.Errorf(
			"shallow clone: the history behind %d scanned commit(s) is not present and was not scanned "+
				"(fetch it: git fetch --unshallow, or scan a range the clone holds with --range)", cut))
	}
	// Link parents (only those in the graph), then Kahn's algorithm.
	children := make([][]int32, len(h.nodes))
	pending := make([]int, len(h.nodes))
	for i := range h.nodes {
		n := &h.nodes[i]
		n.linkAt = int32(len(h.links))
		if h.shallow[n.hash] {
			continue
		}
		for _, p := range h.parentsOf(n) {
			if j, ok := h.byH[p]; ok {
				h.links = append(h.links, j)
				n.nLinks++
				children[j] = append(children[j], int32(i))
				pending[i]++
			}
		}
	}
	q := &readyQueue{nodes: h.nodes}
	for i := range h.nodes {
		if pending[i] == 0 {
			heap.Push(q, int32(i))
		}
	}
	for q.Len() > 0 {
		i := heap.Pop(q).(int32)
		h.nodes[i].order = int32(len(h.order))
		h.order = append(h.order, i)
		for _, c := range children[i] {
			if pending[c]--; pending[c] == 0 {
				heap.Push(q, c)
			}
		}
	}
	if len(h.order) < len(h.nodes) {
		h.breakCycle(pending)
	}
	return nil
}

// revRange is a parsed --range.
type revRange struct {
	from, to  string
	symmetric bool // from...to
}

// parseRange reads a range as git writes it: "A..B" (reachable from B, not
// from A), "A...B" (reachable from either, not from both) and either with
// one side left out, which means HEAD ("..B", "A..", "A...").
func parseRange(spec string) (revRange, error) {
	var rg revRange
	var ok bool
	if rg.from, rg.to, ok = strings.Cut(spec, "..."); ok {
		rg.symmetric = true
	} else if rg.from, rg.to, ok = strings.Cut(spec, ".."); !ok {
		return rg, fmt.Errorf("--range %q: want A..B, A...B, ..B or A.. (a missing side is HEAD)", spec)
	}
	if rg.from == "" && rg.to == "" {
		return rg, fmt.Errorf("--range %q: name at least one side (A..B, ..B, A..)", spec)
	}
	if strings.Contains(rg.to, "..") || strings.Contains(rg.from, "..") {
		return rg, fmt.Errorf("--range %q: want A..B or A...B", spec)
	}
	if rg.from == "" {
		rg.from = "HEAD"
	}
	if rg.to == "" {
		rg.to = "HEAD"
	}
	return rg, nil
}

// breakCycle handles commits the topological sort could not place: each
// is on a cycle of parent links or behind one, which only forged objects
// can make. The error names a commit on the cycle; the unplaced commits are
// still scanned (after the others, in hash order) so their content is not
// lost.
func (h *history) breakCycle(pending []int) {
	// Every unplaced commit has an unplaced parent: follow them until one
	// comes back.
	start := int32(-1)
	for i := range h.nodes {
		if pending[i] > 0 {
			start = int32(i)
			break
		}
	}
	seen := map[int32]bool{}
	x := start
	for !seen[x] {
		seen[x] = true
		for _, p := range h.linksOf(x) {
			if pending[p] > 0 {
				x = p
				break
			}
		}
	}
	h.errorf("commit %s: the history loops back on itself (a commit is its own ancestor): "+
		"the repository is corrupt or forged", h.nodes[x].hash)
	var rest []int32
	for i := range h.nodes {
		if pending[i] > 0 {
			rest = append(rest, int32(i))
		}
	}
	sort.Slice(rest, func(a, b int) bool {
		return bytes.Compare(h.nodes[rest[a]].hash[:], h.nodes[rest[b]].hash[:]) < 0
	})
	for _, i := range rest {
		h.nodes[i].order = int32(len(h.order))
		h.order = append(h.order, i)
	}
}

// parentsOf returns the parents n names, in the graph or not.
func (h *history) parentsOf(n *commitNode) []plumbing.Hash {
	return h.parentHashes[n.parentAt : n.parentAt+n.nParents]
}

// linksOf returns node x's parents that are in the graph.
func (h *history) linksOf(x int32) []int32 {
	n := &h.nodes[x]
	return h.links[n.linkAt : n.linkAt+n.nLinks]
}

// readCommit reads and parses commit c. Its content is only viewed:
// CommitInfo copies what it keeps, so the buffer goes back to the
// database for the next object (85k commits in git/git's history).
func (h *history) readCommit(c plumbing.Hash) (odb.CommitInfo, error) {
	v, err := h.r.db.ReadView(context.Background(), c, odb.Commit)
	if err != nil {
		return odb.CommitInfo{}, fmt.Errorf("read commit: %w", err)
	}
	info, err := odb.ParseCommit(v.Data)
	v.Release()
	if err != nil {
		return info, fmt.Errorf("commit %s: %w", c, err)
	}
	return info, nil
}

// readyQueue orders commits whose parents are done by commit time.
type readyQueue struct {
	nodes []commitNode
	items []int32
}

func (q *readyQueue) Len() int { return len(q.items) }
func (q *readyQueue) Less(i, j int) bool {
	a, b := &q.nodes[q.items[i]], &q.nodes[q.items[j]]
	if a.commitTime != b.commitTime {
		return a.commitTime < b.commitTime
	}
	return bytes.Compare(a.hash[:], b.hash[:]) < 0
}
func (q *readyQueue) Swap(i, j int) { q.items[i], q.items[j] = q.items[j], q.items[i] }
func (q *readyQueue) Push(x any)    { q.items = append(q.items, x.(int32)) }
func (q *readyQueue) Pop() any {
	x := q.items[len(q.items)-1]
	q.items = q.items[:len(q.items)-1]
	return x
}

package scanner

import (
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/gemscan-dev/gemscan/internal/odb"
)

// revSkew is how far a commit's date may run ahead of its parent's (clock
// skew) without the walk losing exactness: it stops only when everything
// still queued is excluded and older, by more than this, than every
// selected commit, so nothing queued can reach one of them.
const revSkew = 24 * 60 * 60

// revNode is one commit the walk has read.
type revNode struct {
	hash     plumbing.Hash
	info     odb.CommitInfo
	excluded bool // reachable from an exclude revision
	queued   bool
	popped   bool
}

// selectCommits returns the commits reachable from some include revision
// and from no exclude revision: `git rev-list INCLUDE… --not EXCLUDE…`.
// Like git it walks newest first from both sides at once, and it stops
// once everything still queued is excluded and dated well before every
// selected commit, so excluding a long history (every ref a server already
// has) reads only the commits near the new ones, not the whole history.
// Commits that share a date (scripted histories) only make it read more.
// A commit date off by more than revSkew can only make it select more
// commits, never fewer: a commit is dropped only once it is proven to be
// an ancestor of an exclude revision. read loads a commit; shallow lists
// commits whose parents are absent.
func selectCommits(ctx context.Context, include, exclude []plumbing.Hash, shallow map[plumbing.Hash]bool,
	read func(plumbing.Hash) (odb.CommitInfo, error)) (map[plumbing.Hash]bool, error) {
	w := &revWalk{nodes: map[plumbing.Hash]*revNode{}, shallow: shallow, read: read}
	for _, c := range exclude {
		if err := w.add(c, true); err != nil {
			return nil, err
		}
	}
	for _, c := range include {
		if err := w.add(c, false); err != nil {
			return nil, err
		}
	}
	oldest := int64(math.MaxInt64) // the oldest commit popped as selected
	for w.q.Len() > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if w.wanted == 0 && w.q[0].info.CommitTime < oldest-revSkew {
			break
		}
		n := heap.Pop(&w.q).(*revNode)
		n.queued, n.popped = false, true
		if !n.excluded {
			w.wanted--
			oldest = min(oldest, n.info.CommitTime)
		}
		if w.shallow[n.hash] {
			continue
		}
		for _, p := range n.info.Parents {
			if err := w.add(p, n.excluded); err != nil {
				return nil, err
			}
		}
	}
	sel := map[plumbing.Hash]bool{}
	for h, n := range w.nodes {
		if n.popped && !n.excluded {
			sel[h] = true
		}
	}
	return sel, nil
}

type revWalk struct {
	nodes   map[plumbing.Hash]*revNode
	q       revQueue
	wanted  int // queued commits not (yet) known to be excluded
	shallow map[plumbing.Hash]bool
	read    func(plumbing.Hash) (odb.CommitInfo, error)
}

// add queues commit c, or marks it excluded if it was read already.
func (w *revWalk) add(c plumbing.Hash, excluded bool) error {
	if n, ok := w.nodes[c]; ok {
		if excluded {
			w.exclude(n)
		}
		return nil
	}
	info, err := w.read(c)
	if err != nil {
		return fmt.Errorf("commit %s: %w", c, err)
	}
	n := &revNode{hash: c, info: info, excluded: excluded, queued: true}
	w.nodes[c] = n
	heap.Push(&w.q, n)
	if !excluded {
		w.wanted++
	}
	return nil
}

// exclude marks n and every ancestor of it the walk has read as excluded.
func (w *revWalk) exclude(n *revNode) {
	stack := []*revNode{n}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if x.excluded {
			continue
		}
		x.excluded = true
		if x.queued {
			w.wanted--
		}
		if !x.popped || w.shallow[x.hash] {
			continue // its parents are not queued yet: they inherit the mark then
		}
		for _, p := range x.info.Parents {
			if pn, ok := w.nodes[p]; ok && !pn.excluded {
				stack = append(stack, pn)
			}
		}
	}
}

// revQueue pops the newest commit first.
type revQueue []*revNode

func (q revQueue) Len() int { return len(q) }
func (q revQueue) Less(i, j int) bool {
	if q[i].info.CommitTime != q[j].info.CommitTime {
		return q[i].info.CommitTime > q[j].info.CommitTime
	}
	return bytes.Compare(q[i].hash[:], q[j].hash[:]) < 0
}
func (q revQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *revQueue) Push(x any)   { *q = append(*q, x.(*revNode)) }
func (q *revQueue) Pop() any {
	old := *q
	n := old[len(old)-1]
	*q = old[:len(old)-1]
	return n
}

// tipsUnder returns the commits named by every ref whose full name starts
// with one of prefixes. A ref naming a tree or a blob (a tag can) has no
// history and is passed over; any other ref that cannot be read is an
// error, since excluding less than asked would be safe but silently
// excluding nothing is not what the caller wants either.
func (r *repo) tipsUnder(prefixes []string) ([]plumbing.Hash, error) {
	iter, err := r.refs.IterReferences()
	if err != nil {
		return nil, fmt.Errorf("list refs: %w", err)
	}
	var out []plumbing.Hash
	var ferr error
	err = iter.ForEach(func(ref *plumbing.Reference) error {
		name := ref.Name().String()
		if ref.Type() != plumbing.HashReference || !hasAnyPrefix(name, prefixes) {
			return nil
		}
		c, err := r.peel(ref.Hash())
		if err != nil {
			if errors.Is(err, errNotCommit) {
				return nil // a tag on a tree or a blob: scanned apart
			}
			ferr = fmt.Errorf("ref %s: %w", name, err)
			return storer.ErrStop
		}
		out = append(out, c)
		return nil
	})
	if ferr != nil {
		return nil, ferr
	}
	if err != nil {
		return nil, fmt.Errorf("list refs: %w", err)
	}
	if slices.Contains(prefixes, "refs/") {
		more, err := r.otherWorktreeTips()
		if err != nil {
			return nil, err
		}
		out = append(out, more...)
	}
	return out, nil
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// useObjectDirs reads objects from dir and alternates instead of the
// repository's own objects directory.
func (r *repo) useObjectDirs(dir string, alternates []string) error {
	db, err := odb.OpenDirs(dir, alternates)
	if err != nil {
		return fmt.Errorf("open objects %s: %w", dir, err)
	}
	r.db.Close()
	r.db = db
	return nil
}

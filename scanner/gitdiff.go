package scanner

import (
	"context"
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

// diffAll records, for each selected commit, the blobs it introduced
// relative to its first parent, descending only into subtrees that changed.
func (h *history) diffAll(ctx context.Context) {
	h.trees = map[plumbing.Hash][]odb.TreeEntry{}
	h.needed = map[plumbing.Hash]bool{}
	h.submods = map[string]bool{}
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
		var parentTree plumbing.Hash
		if len(n.info.Parents) > 0 && !h.shallow[n.hash] {
			p := n.info.Parents[0]
			if j, ok := h.byH[p]; ok {
				parentTree = h.nodes[j].info.Tree
			} else if info, err := h.readCommit(p); err == nil {
				// A parent outside the range: diff against it all the same.
				parentTree = info.Tree
			} else {
				h.errorf("commit %s: parent: %v", n.hash, err)
			}
		}
		if err := h.diffTree(parentTree, n.info.Tree, "", n.order); err != nil {
			h.errorf("commit %s: %v", n.hash, err)
		}
	}
	for p := range h.submods {
		h.res.Stats.Notes = append(h.res.Stats.Notes, fmt.Sprintf("submodule %s is not entered: scan its own repository", p))
	}
	sort.Strings(h.res.Stats.Notes)
}

func (h *history) diffTree(old, cur plumbing.Hash, prefix string, order int32) error {
	if old == cur {
		return nil
	}
	curData, err := h.r.db.ReadType(cur, odb.Tree)
	if err != nil {
		return err
	}
	var oldData []byte
	if !old.IsZero() {
		if oldData, err = h.r.db.ReadType(old, odb.Tree); err != nil {
			return err
		}
	}
	// Both trees are sorted in git's order: merge them.
	oi, ni := odb.TreeIter{Data: oldData}, odb.TreeIter{Data: curData}
	o, haveO, err := oi.Next()
	if err != nil {
		return fmt.Errorf("tree %s: %w", old, err)
	}
	for {
		n, ok, err := ni.Next()
		if err != nil {
			return fmt.Errorf("tree %s: %w", cur, err)
		}
		if !ok {
			return nil
		}
		for haveO && odb.CompareEntries(o, n) < 0 {
			if o, haveO, err = oi.Next(); err != nil {
				return fmt.Errorf("tree %s: %w", old, err)
			}
		}
		had := haveO && odb.CompareEntries(o, n) == 0
		if had && o.Hash == n.Hash && o.Mode == n.Mode {
			continue
		}
		switch {
		case n.IsTree():
			var base plumbing.Hash
			if had {
				base = o.Hash
			}
			if err := h.diffTree(base, n.Hash, prefix+string(n.Name)+"/", order); err != nil {
				return err
			}
		case n.Mode == odb.ModeGitlink:
			h.submods[prefix+string(n.Name)] = true
		case n.IsBlob():
			if had && o.Hash == n.Hash {
				continue // only the mode changed
			}
			h.intros = append(h.intros, intro{path: h.pathID(prefix + string(n.Name)), blob: n.Hash, order: order})
			h.needed[n.Hash] = true
		}
	}
}

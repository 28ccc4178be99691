package scanner

import (
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gemscan-dev/gemscan/internal/odb"
)

// credKey identifies one credential at one path.
type credKey struct {
	rule, value string
	path        int32
}

// attribute turns blob hits into findings: one per credential per path,
// at the earliest commit (parents-first order) that put it there.
func (h *history) attribute() {
	if len(h.hits) == 0 {
		return
	}
	ignore := h.headIgnore()
	first := map[credKey]int{} // → index in h.intros
	for i, in := range h.intros {
		for _, hit := range h.hits[in.blob] {
			k := credKey{hit.Rule, hit.Value, in.path}
			if _, ok := first[k]; !ok {
				first[k] = i
			}
		}
	}
	headTree, hasHead := plumbing.ZeroHash, false
	if c, ok := h.r.head(); ok {
		if info, err := h.readCommit(c); err == nil {
			headTree, hasHead = info.Tree, true
		}
	}
	for k, i := range first {
		in := h.intros[i]
		p := h.pathList[in.path]
		if ignore != nil && ignore.matches(p) {
			continue
		}
		var f Finding
		for _, hit := range h.hits[in.blob] {
			if hit.Rule == k.rule && hit.Value == k.value {
				f = hit
				break
			}
		}
		n := &h.nodes[h.order[in.order]]
		f.File, f.Path = p, p
		f.Commit = n.hash.String()
		f.Author, f.Date = n.info.Author, n.info.When()
		if hasHead {
			f.InHead = h.inTree(headTree, p, k.rule, k.value)
		}
		h.res.Findings = append(h.res.Findings, f)
	}
}

// inTree reports whether the blob at path in tree holds the credential.
func (h *history) inTree(tree plumbing.Hash, path, rule, value string) bool {
	b, ok := h.lookup(tree, path)
	if !ok {
		return false
	}
	hits, scanned := h.hits[b]
	if !scanned && !h.needed[b] {
		// Not introduced by any scanned commit (outside --range or
		// --since): read it now.
		data, err := h.r.db.ReadType(b, odb.Blob)
		if err != nil {
			return false
		}
		if text, ok := textOf(data, h.opts.Binary); ok {
			hits, _ = ScanBytes(h.opts.detector(), text, "", "")
		}
	}
	for _, hit := range hits {
		if hit.Rule == rule && hit.Value == value {
			return true
		}
	}
	return false
}

// lookup finds the blob at path in tree.
func (h *history) lookup(tree plumbing.Hash, path string) (plumbing.Hash, bool) {
	parts := strings.Split(path, "/")
	cur := tree
	for i, part := range parts {
		es, err := h.tree(cur)
		if err != nil {
			return plumbing.ZeroHash, false
		}
		found := false
		for _, e := range es {
			if e.Name == part {
				if i == len(parts)-1 {
					return e.Hash, e.IsBlob()
				}
				if !e.IsTree() {
					return plumbing.ZeroHash, false
				}
				cur, found = e.Hash, true
				break
			}
		}
		if !found {
			return plumbing.ZeroHash, false
		}
	}
	return plumbing.ZeroHash, false
}

// headIgnore reads .gemscanignore from HEAD's tree.
func (h *history) headIgnore() ignoreSet {
	c, ok := h.r.head()
	if !ok {
		return nil
	}
	info, err := h.readCommit(c)
	if err != nil {
		return nil
	}
	b, ok := h.lookup(info.Tree, IgnoreFile)
	if !ok {
		return nil
	}
	data, err := h.r.db.ReadType(b, odb.Blob)
	if err != nil {
		return nil
	}
	return ignoreSet{{matcher: compileIgnore(data)}}
}

package scanner

import (
	"crypto/sha1"
	"fmt"
	"hash"
	"sort"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gemscan-dev/gemscan/internal/odb"
)

// stageMerged is the stage of an entry that is not in conflict.
const stageMerged = 0

// treeOf computes what git write-tree would for a range of the index, so
// that only directories whose hash differs from HEAD's are read. A
// directory the index's cache-tree still vouches for costs nothing; the
// others are hashed from their entries (once: results are memoised).
type treeOf struct {
	entries *indexEntries
	memo    map[string]dirHash
	buf     []byte
	h       hash.Hash
	// err is the first cache-tree entry found inconsistent with the
	// entries: the tree git would commit is then not the entries'.
	err error
}

type dirHash struct {
	hash plumbing.Hash
	ok   bool // false when an entry is unmerged or intent-to-add
}

// groupEnd returns the end of the run of entries, from i, below dir
// ("a/b/").
func (t *treeOf) groupEnd(i, hi int, dir string) int {
	return i + sort.Search(hi-i, func(k int) bool {
		n := t.entries.Name(i + k)
		return !strings.HasPrefix(n, dir) && n > dir
	})
}

// each calls file for each entry directly in dir and sub for each
// subdirectory's range, in index (= tree) order.
func (t *treeOf) each(lo, hi int, dir string, file func(e int, name string), sub func(lo, hi int, name string)) {
	for i := lo; i < hi; {
		rest := t.entries.Name(i)[len(dir):]
		if t.entries.Mode(i) == modeTree {
			// A sparse directory entry ("out/"): one entry, like a file.
			file(i, strings.TrimSuffix(rest, "/"))
			i++
			continue
		}
		if slash := strings.IndexByte(rest, '/'); slash >= 0 {
			name := rest[:slash]
			j := t.groupEnd(i, hi, dir+name+"/")
			sub(i, j, name)
			i = j
			continue
		}
		file(i, rest)
		i++
	}
}

// hash returns the tree hash of entries[lo:hi], the directory dir: the
// one its cache-tree entry vouches for, when valid, as git write-tree
// and git commit take it.
func (t *treeOf) hash(lo, hi int, dir string, ct *cacheTree) dirHash {
	if vouched(lo, hi, ct) {
		return dirHash{ct.hash(), true}
	}
	if ct.valid() && t.err == nil {
		// git takes a valid entry's tree (and skips as many index
		// entries as it counts) whatever the entries below it are.
		t.err = fmt.Errorf("%w: its cache-tree (TREE extension) says %s holds %d entries, and the index has %d there: "+
			"git would commit the tree %s it names, which gemscan cannot judge from the entries",
			errBadIndex, displayDir(dir), ct.count(), hi-lo, ct.hash())
	}
	return t.hashEntries(lo, hi, dir, ct)
}

// vouched reports whether ct, the cache-tree entry of entries[lo:hi],
// gives the directory's hash.
func vouched(lo, hi int, ct *cacheTree) bool { return ct.valid() && ct.count() == hi-lo }

// hashEntries is hash computed from the directory's entries (and its
// subdirectories' cache-tree entries), whatever its own cache-tree entry
// says.
func (t *treeOf) hashEntries(lo, hi int, dir string, ct *cacheTree) dirHash {
	if r, ok := t.memo[dir]; ok {
		return r
	}
	// Children first: their hashes go into this directory's object.
	type kid struct {
		name  string
		entry int // < 0 for a subdirectory
		sub   dirHash
	}
	var kids []kid
	ok := true
	x := t.entries
	t.each(lo, hi, dir, func(e int, name string) {
		if x.Stage(e) != stageMerged || x.IntentToAdd(e) {
			ok = false
		}
		kids = append(kids, kid{name: name, entry: e})
	}, func(l, h int, name string) {
		r := t.hash(l, h, dir+name+"/", ct.child(name))
		ok = ok && r.ok
		kids = append(kids, kid{name: name, entry: -1, sub: r})
	})
	res := dirHash{ok: ok}
	if ok {
		b := t.buf[:0]
		for _, k := range kids {
			if k.entry < 0 {
				b = append(b, "40000 "...)
				b = append(b, k.name...)
				b = append(b, 0)
				b = append(b, k.sub.hash[:]...)
				continue
			}
			b = strconv.AppendUint(b, uint64(x.Mode(k.entry)), 8)
			b = append(b, ' ')
			b = append(b, k.name...)
			b = append(b, 0)
			h := x.hash(k.entry)
			b = append(b, h[:]...)
		}
		t.buf = b
		if t.h == nil {
			t.h = sha1.New()
		}
		t.h.Reset()
		var head [32]byte
		t.h.Write(strconv.AppendInt(append(head[:0], "tree "...), int64(len(b)), 10))
		t.h.Write([]byte{0})
		t.h.Write(b)
		t.h.Sum(res.hash[:0])
	}
	t.memo[dir] = res
	return res
}

// changes finds the staged files that differ from HEAD, reading HEAD's tree
// only where the index's directory hashes differ from it.
func (s *staged) changes() error {
	return s.compare(s.newTreeOf(), 0, s.entries.Len(), "", s.cacheTree, s.head)
}

func (s *staged) newTreeOf() *treeOf {
	return &treeOf{entries: s.entries, memo: map[string]dirHash{}}
}

func (s *staged) compare(t *treeOf, lo, hi int, dir string, ct *cacheTree, headTree plumbing.Hash) error {
	if err := s.ctx.Err(); err != nil {
		return fmt.Errorf("compare the index with HEAD: %w", err)
	}
	r := t.hash(lo, hi, dir, ct)
	if t.err != nil {
		return t.err
	}
	if r.ok && r.hash == headTree {
		// git commits HEAD's tree here: nothing below dir is added.
		return nil
	}
	if vouched(lo, hi, ct) {
		// git commits the tree the cache-tree names, and the comparison
		// below reads the entries: a stale or forged cache-tree naming a
		// tree that holds a key, over entries that do not, would pass
		// that key unread. They must agree.
		if r := t.hashEntries(lo, hi, dir, ct); t.err != nil {
			return t.err
		} else if h := ct.hash(); !r.ok || r.hash != h {
			return fmt.Errorf("%w: its cache-tree (TREE extension) names tree %s for %s, which its entries do not make: "+
				"git would commit that tree, which gemscan cannot judge from the entries", errBadIndex, h, displayDir(dir))
		}
	}
	var head []odb.TreeEntry
	if !headTree.IsZero() {
		data, err := s.db.ReadType(headTree, odb.Tree)
		if err == nil {
			if head, err = odb.ParseTree(data); err != nil {
				err = fmt.Errorf("tree %s: %w", headTree, err)
			}
		}
		if err != nil {
			// Compare with an empty directory instead: every staged
			// file below it is judged (over-report rather than miss).
			s.errs = append(s.errs, fmt.Errorf("read HEAD's %s: %w", displayDir(dir), err))
			head = nil
		}
	}
	inHead := make(map[string]odb.TreeEntry, len(head))
	for _, e := range head {
		key := e.Name
		if e.IsTree() {
			key += "/"
		}
		inHead[key] = e
	}
	var err error
	x := s.entries
	t.each(lo, hi, dir, func(e int, name string) {
		if x.Mode(e) == modeTree {
			// A sparse index keeps a directory outside the sparse cone
			// as one entry with its tree's hash.
			old, had := inHead[name+"/"]
			delete(inHead, name+"/")
			if (!had || old.Hash != x.hash(e)) && err == nil {
				err = fmt.Errorf("%s: a sparse-index directory differs from HEAD; gemscan reads only expanded entries "+
					"(run 'git sparse-checkout disable' or scan with 'gemscan dir')", x.Name(e))
			}
			return
		}
		old, had := inHead[name]
		delete(inHead, name)
		// A symbolic link's blob (its target) is committed as any file's
		// and scanned as gemscan git scans it; a gitlink names a commit
		// of another repository.
		if x.Stage(e) != stageMerged || x.IntentToAdd(e) || x.Mode(e) == modeGitlink {
			return
		}
		h := x.hash(e)
		if had && old.Hash == h {
			return
		}
		// A copy: the entry's name lives in the index's mapping, which
		// ends with the scan, and paths outlive it in findings.
		c := change{path: strings.Clone(x.Name(e)), new: h}
		if had && old.IsBlob() {
			c.old = old.Hash
		}
		s.changed = append(s.changed, c)
	}, func(l, h int, name string) {
		old := inHead[name+"/"]
		delete(inHead, name+"/")
		if err == nil {
			err = s.compare(t, l, h, dir+name+"/", ct.child(name), old.Hash)
		}
	})
	if err != nil {
		return err
	}
	// What HEAD has and the index does not: deletions (and rename sources).
	for _, e := range inHead {
		switch {
		case e.IsBlob():
			s.deleted = append(s.deleted, e.Hash)
		case e.IsTree() && len(s.deleted) < maxRenameSources:
			s.collectBlobs(e.Hash, 0)
		}
	}
	return nil
}

// maxRenameSources bounds how many removed files are read as possible
// sources of renamed ones.
const maxRenameSources = 256

func (s *staged) collectBlobs(tree plumbing.Hash, depth int) {
	if depth > 32 || len(s.deleted) >= maxRenameSources {
		return
	}
	data, err := s.db.ReadType(tree, odb.Tree)
	if err != nil {
		return
	}
	es, err := odb.ParseTree(data)
	if err != nil {
		return
	}
	for _, e := range es {
		switch {
		case e.IsBlob():
			s.deleted = append(s.deleted, e.Hash)
		case e.IsTree():
			s.collectBlobs(e.Hash, depth+1)
		}
	}
}

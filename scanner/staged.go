package scanner

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gemscan-dev/gemscan/internal/gitdir"
	"github.com/gemscan-dev/gemscan/internal/odb"
)

// StagedOptions tune a scan of staged changes.
type StagedOptions struct {
	Options
	// AllLines reports every credential in a staged file, not only those
	// on lines the commit adds.
	AllLines bool
	// Files, when set, limits the scan to these paths (relative to the
	// work tree's top), as the pre-commit framework passes them. A listed
	// file that the commit does not change is judged whole, and then so are
	// all listed files: that is a `pre-commit run --all-files`.
	Files []string
}

// ScanStaged scans what is staged for the next commit in the repository
// holding dir: the index against HEAD (or against nothing before the first
// commit). Staged content is read from the object database, never from the
// working tree, so a file edited after `git add` is judged by what was added.
func ScanStaged(dir string, opts StagedOptions) *Result {
	start := time.Now()
	res := &Result{}
	defer func() { res.Stats.Duration = time.Since(start) }()
	s, err := openStaged(dir)
	if err != nil {
		res.Errors = append(res.Errors, err)
		return res
	}
	defer s.db.Close()
	if err := s.changes(); err != nil {
		res.Errors = append(res.Errors, err)
		return res
	}
	s.scan(res, opts)
	SortFindings(res.Findings)
	return res
}

// staged is a repository's index compared with its HEAD.
type staged struct {
	top, gitDir, commonDir string
	db                     *odb.DB
	entries                []indexEntry
	cacheTree              *cacheTree
	head                   plumbing.Hash // HEAD's tree; zero before the first commit
	changed                []change
	deleted                []plumbing.Hash // blobs at paths the commit removes
}

// change is a staged file whose content differs from HEAD's.
type change struct {
	path     string
	new, old plumbing.Hash // old is zero for an added file
}

func openStaged(dir string) (*staged, error) {
	d, err := gitdir.Find(dir)
	if err != nil {
		return nil, err
	}
	if d.WorkTree == "" {
		return nil, fmt.Errorf("%s is a bare repository: nothing is staged there", dir)
	}
	if err := gitdir.CheckSupported(d); err != nil {
		return nil, err
	}
	s := &staged{top: d.WorkTree, gitDir: d.GitDir, commonDir: d.CommonDir}
	if s.db, err = odb.Open(filepath.Join(s.commonDir, "objects")); err != nil {
		return nil, err
	}
	if err := s.readIndex(); err != nil {
		s.db.Close()
		return nil, err
	}
	commit, err := s.resolveHead()
	if err != nil {
		s.db.Close()
		return nil, err
	}
	if !commit.IsZero() {
		data, err := s.db.ReadType(commit, odb.Commit)
		if err != nil {
			s.db.Close()
			return nil, fmt.Errorf("read HEAD: %w", err)
		}
		info, err := odb.ParseCommit(data)
		if err != nil {
			s.db.Close()
			return nil, fmt.Errorf("read HEAD %s: %w", commit, err)
		}
		s.head = info.Tree
	}
	return s, nil
}

func (s *staged) readIndex() error {
	f, err := os.Open(filepath.Join(s.gitDir, "index"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil // nothing staged yet
		}
		return fmt.Errorf("read index: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("read index: %w", err)
	}
	data := make([]byte, st.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return fmt.Errorf("read index: %w", err)
	}
	if s.entries, s.cacheTree, err = parseIndexWithTree(data); err != nil {
		return fmt.Errorf("read index %s: %w", f.Name(), err)
	}
	return nil
}

// resolveHead reads HEAD without opening the whole repository: a loose ref
// or a line of packed-refs. It returns the zero hash on an unborn branch.
func (s *staged) resolveHead() (plumbing.Hash, error) {
	data, err := os.ReadFile(filepath.Join(s.gitDir, "HEAD"))
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read HEAD: %w", err)
	}
	ref := strings.TrimSpace(string(data))
	for i := 0; i < 8; i++ {
		name, sym := strings.CutPrefix(ref, "ref:")
		if !sym {
			h, ok := hexHash(ref)
			if !ok || len(ref) != 40 {
				return plumbing.ZeroHash, fmt.Errorf("HEAD: bad object name %q", ref)
			}
			return h, nil
		}
		name = strings.TrimSpace(name)
		var next string
		for _, d := range []string{s.gitDir, s.commonDir} {
			if b, err := os.ReadFile(filepath.Join(d, filepath.FromSlash(name))); err == nil {
				next = strings.TrimSpace(string(b))
				break
			}
		}
		if next == "" {
			if next, err = packedRef(filepath.Join(s.commonDir, "packed-refs"), name); err != nil {
				return plumbing.ZeroHash, err
			}
		}
		if next == "" {
			return plumbing.ZeroHash, nil // unborn branch: the first commit
		}
		ref = next
	}
	return plumbing.ZeroHash, errors.New("HEAD: too many levels of symbolic refs")
}

func packedRef(path, name string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", nil
		}
		return "", fmt.Errorf("read packed-refs: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if h, n, ok := strings.Cut(line, " "); ok && n == name {
			return h, nil
		}
	}
	return "", sc.Err()
}

// stageMerged is the stage of an entry that is not in conflict.
const stageMerged = 0

// treeOf computes what git write-tree would for a range of the index, so
// that only directories whose hash differs from HEAD's are read. A
// directory the index's cache-tree still vouches for costs nothing; the
// others are hashed from their entries (once: results are memoised).
type treeOf struct {
	entries []indexEntry
	memo    map[string]dirHash
	buf     []byte
	h       hash.Hash
}

type dirHash struct {
	hash plumbing.Hash
	ok   bool // false when an entry is unmerged or intent-to-add
}

// groupEnd returns the end of the run of entries, from i, below dir
// ("a/b/").
func (t *treeOf) groupEnd(i, hi int, dir string) int {
	return i + sort.Search(hi-i, func(k int) bool {
		n := t.entries[i+k].Name
		return !strings.HasPrefix(n, dir) && n > dir
	})
}

// each calls file for each entry directly in dir and sub for each
// subdirectory's range, in index (= tree) order.
func (t *treeOf) each(lo, hi int, dir string, file func(e *indexEntry, name string), sub func(lo, hi int, name string)) {
	for i := lo; i < hi; {
		e := &t.entries[i]
		rest := e.Name[len(dir):]
		if e.Mode == modeTree {
			// A sparse directory entry ("out/"): one entry, like a file.
			file(e, strings.TrimSuffix(rest, "/"))
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
		file(e, rest)
		i++
	}
}

// hash returns the tree hash of entries[lo:hi], the directory dir.
func (t *treeOf) hash(lo, hi int, dir string, ct *cacheTree) dirHash {
	if ct.valid() && ct.count == hi-lo {
		return dirHash{ct.hash, true}
	}
	if r, ok := t.memo[dir]; ok {
		return r
	}
	// Children first: their hashes go into this directory's object.
	type kid struct {
		name  string
		entry *indexEntry
		sub   dirHash
	}
	var kids []kid
	ok := true
	t.each(lo, hi, dir, func(e *indexEntry, name string) {
		if e.Stage != stageMerged || e.IntentToAdd {
			ok = false
		}
		kids = append(kids, kid{name: name, entry: e})
	}, func(l, h int, name string) {
		r := t.hash(l, h, dir+name+"/", ct.child(name))
		ok = ok && r.ok
		kids = append(kids, kid{name: name, sub: r})
	})
	res := dirHash{ok: ok}
	if ok {
		b := t.buf[:0]
		for _, k := range kids {
			if k.entry == nil {
				b = append(b, "40000 "...)
				b = append(b, k.name...)
				b = append(b, 0)
				b = append(b, k.sub.hash[:]...)
				continue
			}
			b = strconv.AppendUint(b, uint64(k.entry.Mode), 8)
			b = append(b, ' ')
			b = append(b, k.name...)
			b = append(b, 0)
			b = append(b, k.entry.Hash[:]...)
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
	t := &treeOf{entries: s.entries, memo: map[string]dirHash{}}
	return s.compare(t, 0, len(s.entries), "", s.cacheTree, s.head)
}

func (s *staged) compare(t *treeOf, lo, hi int, dir string, ct *cacheTree, headTree plumbing.Hash) error {
	if r := t.hash(lo, hi, dir, ct); r.ok && r.hash == headTree {
		return nil
	}
	var head []odb.TreeEntry
	if !headTree.IsZero() {
		data, err := s.db.ReadType(headTree, odb.Tree)
		if err != nil {
			return fmt.Errorf("read HEAD tree: %w", err)
		}
		if head, err = odb.ParseTree(data); err != nil {
			return fmt.Errorf("read HEAD tree %s: %w", headTree, err)
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
	t.each(lo, hi, dir, func(e *indexEntry, name string) {
		if e.Mode == modeTree {
			// A sparse index keeps a directory outside the sparse cone
			// as one entry with its tree's hash.
			old, had := inHead[name+"/"]
			delete(inHead, name+"/")
			if (!had || old.Hash != e.Hash) && err == nil {
				err = fmt.Errorf("%s: a sparse-index directory differs from HEAD; gemscan reads only expanded entries "+
					"(run 'git sparse-checkout disable' or scan with 'gemscan dir')", e.Name)
			}
			return
		}
		old, had := inHead[name]
		delete(inHead, name)
		if e.Stage != stageMerged || e.IntentToAdd || e.Mode == modeGitlink || e.Mode == modeSymlink {
			return
		}
		if had && old.Hash == e.Hash {
			return
		}
		c := change{path: e.Name, new: e.Hash}
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

// scan reads the changed blobs and keeps the findings on added lines.
func (s *staged) scan(res *Result, opts StagedOptions) {
	det := opts.detector()
	todo := s.changed
	allLines := opts.AllLines
	if opts.Files != nil {
		byPath := make(map[string]*indexEntry, len(s.entries))
		for i := range s.entries {
			if e := &s.entries[i]; e.Stage == stageMerged {
				byPath[e.Name] = e
			}
		}
		todo = nil
		isChanged := map[string]change{}
		for _, c := range s.changed {
			isChanged[c.path] = c
		}
		for _, f := range opts.Files {
			f = strings.TrimPrefix(filepath.ToSlash(f), "./")
			if c, ok := isChanged[f]; ok {
				todo = append(todo, c)
			} else if e, ok := byPath[f]; ok && e.Mode != modeGitlink && e.Mode != modeSymlink {
				// Listed but unchanged: an all-files run judges it whole.
				todo = append(todo, change{path: f, new: e.Hash})
				allLines = true
			}
		}
	}
	ignore := s.ignoreFile()
	var renameLines map[string]int
	for _, c := range todo {
		if ignore != nil && ignore.matches(c.path) {
			continue
		}
		data, err := s.db.ReadType(c.new, odb.Blob)
		if err != nil {
			res.Errors = append(res.Errors, fmt.Errorf("read staged %s: %w", c.path, err))
			continue
		}
		if opts.MaxFileSize > 0 && int64(len(data)) > opts.MaxFileSize {
			res.Stats.TooLarge++
			continue
		}
		res.Stats.Bytes += int64(len(data))
		if s.scanArchive(res, c, data, &opts.Options, allLines) {
			continue
		}
		text, ok := textOf(data, opts.Binary)
		if !ok {
			res.Stats.Binary++
			continue
		}
		data = text
		res.Stats.Files++
		fs, allowed := ScanBytes(det, data, c.path, c.path)
		res.Stats.Allowed += int64(allowed)
		if len(fs) == 0 {
			continue
		}
		if allLines {
			res.Findings = append(res.Findings, fs...)
			continue
		}
		var old map[string]int
		if !c.old.IsZero() {
			od, err := s.db.ReadType(c.old, odb.Blob)
			if err != nil {
				res.Errors = append(res.Errors, fmt.Errorf("read HEAD's %s: %w", c.path, err))
				continue
			}
			od, _ = textOf(od, true)
			old = lineCounts(nil, od)
		} else {
			// A new path: a file renamed or moved here keeps its lines.
			if renameLines == nil {
				renameLines = map[string]int{}
				for _, b := range s.deleted {
					if od, err := s.db.ReadType(b, odb.Blob); err == nil {
						od, _ = textOf(od, true)
						lineCounts(renameLines, od)
					}
				}
			}
			old = maps.Clone(renameLines)
		}
		added := addedLines(data, old)
		for _, f := range fs {
			if added[f.Line] || f.SecretLine > 0 && added[f.SecretLine] {
				res.Findings = append(res.Findings, f)
			}
		}
	}
}

// ignoreFile reads the staged .gemscanignore at the top of the work tree.
func (s *staged) ignoreFile() ignoreSet {
	i := sort.Search(len(s.entries), func(i int) bool { return s.entries[i].Name >= IgnoreFile })
	if i == len(s.entries) || s.entries[i].Name != IgnoreFile || s.entries[i].Stage != stageMerged {
		return nil
	}
	data, err := s.db.ReadType(s.entries[i].Hash, odb.Blob)
	if err != nil {
		return nil
	}
	return ignoreSet{{matcher: compileIgnore(data)}}
}

// eachLine calls fn with each line of data (without its line ending) and
// its 1-based number.
func eachLine(data []byte, fn func(n int, line []byte)) {
	for n := 1; len(data) > 0; n++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		fn(n, bytes.TrimSuffix(line, []byte{'\r'}))
	}
}

// lineCounts adds data's lines to m, a multiset of lines.
func lineCounts(m map[string]int, data []byte) map[string]int {
	if m == nil {
		m = map[string]int{}
	}
	eachLine(data, func(_ int, line []byte) { m[string(line)]++ })
	return m
}

// addedLines returns the numbers of data's lines that old (a multiset of
// lines, consumed) does not account for.
func addedLines(data []byte, old map[string]int) map[int]bool {
	added := map[int]bool{}
	eachLine(data, func(n int, line []byte) {
		if old[string(line)] > 0 {
			old[string(line)]--
		} else {
			added[n] = true
		}
	})
	return added
}

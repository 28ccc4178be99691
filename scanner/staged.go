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
	if s.entries, err = parseIndex(data); err != nil {
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

// dirNode is one directory of the index, with the tree hash git would
// write for it.
type dirNode struct {
	name  string
	kids  []node // in git tree order
	hash  plumbing.Hash
	valid bool // false when an entry is unmerged or intent-to-add
}

type node struct {
	dir   *dirNode    // a directory, or
	entry *indexEntry // a file
}

func (n node) name() string {
	if n.dir != nil {
		return n.dir.name
	}
	return n.entry.Name[strings.LastIndexByte(n.entry.Name, '/')+1:]
}

// build groups index entries (in index order) into directories.
func build(entries []indexEntry) *dirNode {
	root := &dirNode{valid: true}
	stack := []*dirNode{root}
	cur := "" // the directory at the top of the stack
	for i := range entries {
		e := &entries[i]
		dir := ""
		if j := strings.LastIndexByte(e.Name, '/'); j >= 0 {
			dir = e.Name[:j]
		}
		if dir != cur {
			// Pop to the deepest directory that contains dir...
			for cur != "" && dir != cur && !strings.HasPrefix(dir, cur+"/") {
				stack = stack[:len(stack)-1]
				if j := strings.LastIndexByte(cur, '/'); j >= 0 {
					cur = cur[:j]
				} else {
					cur = ""
				}
			}
			// ... then push the directories below it.
			if rest := strings.TrimPrefix(dir[len(cur):], "/"); rest != "" {
				for _, name := range strings.Split(rest, "/") {
					n := &dirNode{name: name, valid: true}
					top := stack[len(stack)-1]
					top.kids = append(top.kids, node{dir: n})
					stack = append(stack, n)
				}
			}
			cur = dir
		}
		top := stack[len(stack)-1]
		top.kids = append(top.kids, node{entry: e})
	}
	root.computeHash()
	return root
}

// computeHash computes the tree hashes bottom-up, as git write-tree would.
func (d *dirNode) computeHash() {
	var t treeHasher
	t.hash(d)
}

// treeHasher serialises directories into one reused buffer.
type treeHasher struct {
	buf []byte
	h   hash.Hash
}

func (t *treeHasher) hash(d *dirNode) {
	for _, k := range d.kids {
		if k.dir != nil {
			t.hash(k.dir)
			if !k.dir.valid {
				d.valid = false
			}
		} else if e := k.entry; e.Stage != stageMerged || e.IntentToAdd {
			d.valid = false
		}
	}
	if !d.valid {
		return
	}
	b := t.buf[:0]
	for _, k := range d.kids {
		if k.dir != nil {
			b = append(b, "40000 "...)
			b = append(b, k.dir.name...)
			b = append(b, 0)
			b = append(b, k.dir.hash[:]...)
			continue
		}
		b = strconv.AppendUint(b, uint64(k.entry.Mode), 8)
		b = append(b, ' ')
		b = append(b, k.name()...)
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
	t.h.Sum(d.hash[:0])
}

// changes finds the staged files that differ from HEAD, reading HEAD's tree
// only where the index's directory hashes differ from it.
func (s *staged) changes() error {
	return s.compare(build(s.entries), s.head, "")
}

func (s *staged) compare(d *dirNode, headTree plumbing.Hash, prefix string) error {
	if d.valid && d.hash == headTree {
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
	for _, k := range d.kids {
		if k.dir != nil {
			old := inHead[k.dir.name+"/"]
			delete(inHead, k.dir.name+"/")
			if err := s.compare(k.dir, old.Hash, prefix+k.dir.name+"/"); err != nil {
				return err
			}
			continue
		}
		e := k.entry
		old, had := inHead[k.name()]
		delete(inHead, k.name())
		if e.Stage != stageMerged || e.IntentToAdd || e.Mode == modeGitlink || e.Mode == modeSymlink {
			continue
		}
		if had && old.Hash == e.Hash {
			continue
		}
		c := change{path: e.Name, new: e.Hash}
		if had && old.IsBlob() {
			c.old = old.Hash
		}
		s.changed = append(s.changed, c)
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
	var renameLines map[string]int
	for _, c := range todo {
		data, err := s.db.ReadType(c.new, odb.Blob)
		if err != nil {
			res.Errors = append(res.Errors, fmt.Errorf("read staged %s: %w", c.path, err))
			continue
		}
		if opts.MaxFileSize > 0 && int64(len(data)) > opts.MaxFileSize {
			res.Stats.TooLarge++
			continue
		}
		if !opts.Binary && bytes.IndexByte(data[:min(len(data), binarySniff)], 0) >= 0 {
			res.Stats.Binary++
			continue
		}
		res.Stats.Files++
		res.Stats.Bytes += int64(len(data))
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
			old = lineCounts(nil, od)
		} else {
			// A new path: a file renamed or moved here keeps its lines.
			if renameLines == nil {
				renameLines = map[string]int{}
				for _, b := range s.deleted {
					if od, err := s.db.ReadType(b, odb.Blob); err == nil {
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

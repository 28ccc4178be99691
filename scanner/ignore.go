package scanner

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"

	ignore "github.com/sabhiram/go-gitignore"

	"github.com/gemscan-dev/gemscan/internal/gitdir"
)

// IgnoreFile is the name of gemscan's own ignore file, read at the root of a
// scan (and of the repository holding it): gitignore syntax, paths relative
// to the directory holding it.
const IgnoreFile = ".gemscanignore"

// ignorePattern is one pattern line of an ignore file.
type ignorePattern struct {
	m      *ignore.GitIgnore // the pattern alone, without its "!"
	negate bool
	// basename: the pattern has no slash (but a trailing one), so it
	// matches an entry's name at any depth and is matched against the name
	// alone. The walk never enters an ignored directory, so an entry's
	// parents need no matching.
	basename bool
	// parts is how many path components the pattern spans, 0 when a "**"
	// lets it span any number: a pattern is only matched against paths of
	// its length, so a deep path costs no regular expression per shallow
	// pattern.
	parts int
	// A basename pattern of the common shapes (name, *.ext, prefix*) is
	// compared as a string, with no regular expression: lit is the literal
	// part, glob says where the "*" is, dirOnly that the pattern ended in
	// "/". m is nil then.
	lit     string
	glob    globKind
	dirOnly bool
}

// globKind is the shape of a basename pattern compared without m.
type globKind int

const (
	globExact  globKind = iota + 1 // name
	globSuffix                     // *name
	globPrefix                     // name*
	globAll                        // *
)

// matchName matches a basename pattern compared as a string.
func (p *ignorePattern) matchName(name string, dir bool) bool {
	if p.dirOnly && !dir {
		return false
	}
	switch p.glob {
	case globExact:
		return name == p.lit
	case globSuffix:
		return strings.HasSuffix(name, p.lit)
	case globPrefix:
		return strings.HasPrefix(name, p.lit)
	default:
		return true
	}
}

// simpleGlob returns the shape of a basename pattern body that needs no
// regular expression, or 0.
func simpleGlob(body string) (globKind, string) {
	const meta = "*?[\\"
	switch {
	case body == "*":
		return globAll, ""
	case !strings.ContainsAny(body, meta):
		return globExact, body
	case strings.HasPrefix(body, "*") && !strings.ContainsAny(body[1:], meta):
		return globSuffix, body[1:]
	case strings.HasSuffix(body, "*") && !strings.ContainsAny(body[:len(body)-1], meta):
		return globPrefix, body[:len(body)-1]
	}
	return 0, ""
}

// ignoreFile is one file's patterns. A file at or below the scan root is
// anchored at base, its directory relative to the root ("" for the root),
// depth components deep; a file above the root sees paths with prefix, the
// root's path below the file's directory, and its depth is minus the
// components of prefix.
type ignoreFile struct {
	patterns []ignorePattern
	base     string
	prefix   string
	above    bool
	depth    int
}

// ignoreChain is the ignore files in force in one directory, its own first,
// then its ancestors' (parent); nil is no file.
type ignoreChain struct {
	file   *ignoreFile
	parent *ignoreChain
}

// ignoreSets are the two kinds of ignore files in force in one directory:
// git's (.gitignore, .git/info/exclude), which never apply to tracked
// files, and gemscan's (.gemscanignore), which always do.
type ignoreSets struct {
	git, gemscan *ignoreChain
}

// ignored reports whether git's ignore files ignore the entry rel (slash
// path relative to the scan root, a directory with a trailing slash), name
// its last component, depth its number of components.
func (s ignoreSets) ignored(rel, name string, depth int, dir bool) bool {
	return s.git.matches(rel, name, depth, dir)
}

// excluded reports whether .gemscanignore excludes the entry (see ignored).
func (s ignoreSets) excluded(rel, name string, depth int, dir bool) bool {
	return s.gemscan.matches(rel, name, depth, dir)
}

// matches applies git's precedence: the deepest file with a matching
// pattern decides, and in it the last matching pattern. The cost is linear
// in the number of patterns in force: each is matched at most once, against
// the entry's name or a path of the pattern's own length.
func (c *ignoreChain) matches(rel, name string, depth int, dir bool) bool {
	ignored, _ := c.matchesWork(rel, name, depth, dir)
	return ignored
}

// matchesWork is matches, also returning the bytes handed to pattern
// matching (TestDeepIgnoreWorkIsLinear bounds it).
func (c *ignoreChain) matchesWork(rel, name string, depth int, dir bool) (ignored bool, work int) {
	for ; c != nil; c = c.parent {
		ignored, decided := c.file.match(rel, name, depth, dir, &work)
		if decided {
			return ignored, work
		}
	}
	return false, work
}

func (f *ignoreFile) match(rel, name string, depth int, dir bool, work *int) (ignored, decided bool) {
	var sub string // rel relative to the file's directory, made when needed
	subDepth := depth - f.depth
	leaf := name
	if dir {
		leaf += "/"
	}
	for i := len(f.patterns) - 1; i >= 0; i-- {
		p := &f.patterns[i]
		if p.glob != 0 {
			*work += len(name)
			if p.matchName(name, dir) {
				return !p.negate, true
			}
			continue
		}
		target := leaf
		if !p.basename {
			if p.parts > 0 && p.parts != subDepth {
				continue
			}
			if sub == "" {
				switch {
				case f.above:
					sub = f.prefix + rel
				case f.base == "":
					sub = rel
				default:
					sub = rel[len(f.base)+1:]
				}
			}
			target = sub
		}
		*work += len(target)
		if p.m.MatchesPath(target) {
			return !p.negate, true
		}
	}
	return false, false
}

// compilePatterns compiles gitignore-style patterns, one per line, for the
// walk.
func compilePatterns(data []byte) []ignorePattern {
	var out []ignorePattern
	for _, line := range strings.Split(string(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.Trim(line, " \r")
		p := ignorePattern{}
		if strings.HasPrefix(line, "!") {
			p.negate, line = true, line[1:]
		}
		body := strings.TrimSuffix(line, "/")
		if body == "" || body == "/" {
			continue
		}
		switch {
		case strings.Contains(body, "**"):
			p.parts = 0
		default:
			p.parts = strings.Count(strings.TrimPrefix(body, "/"), "/") + 1
		}
		p.basename = !strings.Contains(body, "/")
		if p.basename {
			if p.glob, p.lit = simpleGlob(body); p.glob != 0 {
				p.dirOnly = strings.HasSuffix(line, "/")
				out = append(out, p)
				continue
			}
		}
		if !p.basename && !strings.HasPrefix(line, "/") && !strings.HasPrefix(line, "**/") {
			// A slash in the middle anchors a pattern at its file's
			// directory, as git does (the library would float it).
			line = "/" + line
		}
		// The library turns "?" into a literal and leaves "[!…]" to the
		// regular expression syntax; git means any one character but "/",
		// and a negated class.
		line = strings.ReplaceAll(strings.ReplaceAll(line, "?", "[^/]"), "[!", "[^")
		p.m = ignore.CompileIgnoreLines(line)
		out = append(out, p)
	}
	return out
}

// maxIgnoreFile bounds the size of an ignore file gemscan reads.
const maxIgnoreFile = 16 << 20

// maxIndexFile bounds the size of an index gemscan reads to tell tracked
// files from ignored ones (an index of a million files is about 100 MiB).
const maxIndexFile = 1 << 30

// readIgnore reads a gitignore-style file; a missing file is no error, and
// no patterns. It never blocks on a FIFO in the file's place.
func readIgnore(path string) ([]ignorePattern, error) {
	data, err := readRegular(path, maxIgnoreFile)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil, nil
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return compilePatterns(data), nil
}

// rootIgnores collects the patterns that apply at a scan root from outside
// its own tree walk: .git/info/exclude and the .gitignore files above the
// root up to the top of the enclosing git work tree (unless noIgnore), and
// .gemscanignore at the work tree's top and at the root.
func rootIgnores(root string, noIgnore bool) (ignoreSets, []error) {
	var sets ignoreSets
	var errs []error
	// add puts a file in a chain; files are added from the least to the
	// most specific.
	add := func(chain **ignoreChain, path string, f ignoreFile) {
		ps, err := readIgnore(path)
		if err != nil {
			errs = append(errs, err)
		}
		if len(ps) > 0 {
			f.patterns = ps
			*chain = &ignoreChain{file: &f, parent: *chain}
		}
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return sets, []error{fmt.Errorf("resolve %s: %w", root, err)}
	}
	top := ""
	if d, err := gitdir.Find(abs); err == nil {
		top = d.WorkTree
	}
	// aboveFile is a file in dir, an ancestor of the root.
	aboveFile := func(dir string) ignoreFile {
		below, _ := filepath.Rel(dir, abs)
		prefix := filepath.ToSlash(below) + "/"
		return ignoreFile{above: true, prefix: prefix, depth: -strings.Count(prefix, "/")}
	}
	switch {
	case top != "" && top != abs:
		var dirs []string // the root's ancestors up to top, top last
		for dir := abs; dir != top; {
			dir = filepath.Dir(dir)
			dirs = append(dirs, dir)
		}
		if !noIgnore {
			add(&sets.git, filepath.Join(top, ".git", "info", "exclude"), aboveFile(top))
			for i := len(dirs) - 1; i >= 0; i-- {
				add(&sets.git, filepath.Join(dirs[i], ".gitignore"), aboveFile(dirs[i]))
			}
		}
		add(&sets.gemscan, filepath.Join(top, IgnoreFile), aboveFile(top))
	case top == abs && !noIgnore:
		add(&sets.git, filepath.Join(top, ".git", "info", "exclude"), ignoreFile{})
	}
	add(&sets.gemscan, filepath.Join(abs, IgnoreFile), ignoreFile{})
	return sets, errs
}

// rootIgnored reports whether git's ignore files ignore the directory root
// itself, or a directory between it and the top of its work tree: then
// every untracked file below root is ignored too.
func rootIgnored(root string) (bool, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return false, fmt.Errorf("resolve %s: %w", root, err)
	}
	d, err := gitdir.Find(abs)
	if err != nil || d.WorkTree == "" || d.WorkTree == abs {
		return false, nil
	}
	below, err := filepath.Rel(d.WorkTree, abs)
	if err != nil {
		return false, fmt.Errorf("resolve %s: %w", root, err)
	}
	var chain *ignoreChain
	add := func(path, base string, depth int) error {
		ps, err := readIgnore(path)
		if len(ps) > 0 {
			chain = &ignoreChain{file: &ignoreFile{patterns: ps, base: base, depth: depth}, parent: chain}
		}
		return err
	}
	if err := add(filepath.Join(d.WorkTree, ".git", "info", "exclude"), "", 0); err != nil {
		return false, err
	}
	rel := ""
	for depth, name := range strings.Split(filepath.ToSlash(below), "/") {
		if err := add(filepath.Join(d.WorkTree, filepath.FromSlash(rel), ".gitignore"), strings.TrimSuffix(rel, "/"), depth); err != nil {
			return false, err
		}
		rel += name + "/"
		if chain.matches(rel, name, depth+1, true) {
			return true, nil
		}
	}
	return false, nil
}

// childIgnores returns the sets in force inside directory rel (depth
// components deep), adding the directory's own .gitignore if it has one and
// noIgnore is not set.
func childIgnores(sets ignoreSets, absDir, rel string, depth int, entries []fs.DirEntry, noIgnore bool) (ignoreSets, error) {
	if noIgnore {
		return sets, nil
	}
	for _, e := range entries {
		if e.Name() == ".gitignore" && e.Type().IsRegular() {
			ps, err := readIgnore(filepath.Join(absDir, ".gitignore"))
			if err != nil || len(ps) == 0 {
				return sets, err
			}
			f := &ignoreFile{patterns: ps, base: strings.TrimSuffix(rel, "/"), depth: depth}
			sets.git = &ignoreChain{file: f, parent: sets.git}
			return sets, nil
		}
	}
	return sets, nil
}

// trackedSet is what a repository's index lists, for the walk of a
// directory in its work tree: git never ignores a tracked file.
type trackedSet struct {
	files map[string]bool // file paths relative to the work tree
	dirs  map[string]bool // their directories, with a trailing slash
	// sparse holds the directories a sparse index lists as one entry:
	// everything below them is tracked.
	sparse []string
	// prefix is the walked root's path below the work tree ("" or ending
	// in "/"); base is the work tree's path below the walked root, for a
	// repository found inside the walk.
	prefix, base string
}

// has reports whether rel (relative to the walked root; a directory ends
// in "/") is tracked, or for a directory holds a tracked file. A nil set
// tracks nothing.
func (t *trackedSet) has(rel string) bool {
	if t == nil || !strings.HasPrefix(rel, t.base) {
		return false
	}
	p := t.prefix + rel[len(t.base):]
	if t.files[p] || t.dirs[p] {
		return true
	}
	for _, d := range t.sparse {
		if strings.HasPrefix(p, d) || strings.HasPrefix(d, p) && strings.HasSuffix(p, "/") {
			return true
		}
	}
	return false
}

// rootTracked reads the index of the repository holding root: nil with no
// error when root is in no repository or the index does not exist yet; an
// error when a .git is there but cannot be read.
func rootTracked(root string) (*trackedSet, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", root, err)
	}
	d, err := gitdir.Find(abs)
	switch {
	case errors.Is(err, gitdir.ErrNoRepository):
		return nil, nil // not in a work tree: nothing is tracked
	case err != nil:
		// A .git that cannot be read: which ignored files git tracks
		// is unknown.
		return nil, fmt.Errorf("read the repository holding %s to tell tracked files from ignored ones: %w", root, err)
	case d.WorkTree == "":
		return nil, nil // a bare repository has no work tree to track
	}
	t, err := readTracked(d)
	if t != nil {
		if rel, err := filepath.Rel(d.WorkTree, abs); err == nil && rel != "." {
			t.prefix = filepath.ToSlash(rel) + "/"
		}
	}
	return t, err
}

// nestedTracked reads the index of the repository whose work tree is abs,
// found at rel in the walk.
func nestedTracked(abs, rel string) (*trackedSet, error) {
	d, err := gitdir.Open(abs)
	if err != nil {
		return nil, fmt.Errorf("read the repository %s to tell tracked files from ignored ones: %w", abs, err)
	}
	t, err := readTracked(d)
	if t != nil {
		t.base = rel
	}
	return t, err
}

// nestedExclude is the .git/info/exclude of the repository whose work
// tree is abs, found at rel (depth components deep) in the walk.
func nestedExclude(abs, rel string, depth int, col *collector) *ignoreChain {
	d, err := gitdir.Open(abs)
	if err != nil {
		return nil // nestedTracked reported it
	}
	ps, err := readIgnore(filepath.Join(d.GitDir, "info", "exclude"))
	if err != nil {
		col.addErr(err)
	}
	if len(ps) == 0 {
		return nil
	}
	return &ignoreChain{file: &ignoreFile{patterns: ps, base: strings.TrimSuffix(rel, "/"), depth: depth}}
}

// readTracked reads a repository's index: nil with no error when it does
// not exist yet.
func readTracked(d gitdir.Dirs) (*trackedSet, error) {
	if err := gitdir.CheckSupported(d); err != nil {
		// The index holds object names of the repository's format.
		return nil, fmt.Errorf("cannot tell tracked files from ignored ones (scan them all with --no-ignore): %w", err)
	}
	path := filepath.Join(d.GitDir, "index")
	data, err := readRegular(path, maxIndexFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the index %s to tell tracked files from ignored ones: %w", path, err)
	}
	entries, err := parseIndex(data)
	if err != nil {
		return nil, fmt.Errorf("read the index %s to tell tracked files from ignored ones: %w", path, err)
	}
	t := &trackedSet{files: make(map[string]bool, len(entries)), dirs: map[string]bool{}}
	for _, e := range entries {
		name := e.Name
		if e.Mode == modeTree {
			t.sparse = append(t.sparse, strings.TrimSuffix(name, "/")+"/")
		} else {
			t.files[name] = true
		}
		for i := strings.LastIndexByte(name, '/'); i > 0; i = strings.LastIndexByte(name[:i], '/') {
			if t.dirs[name[:i+1]] {
				break
			}
			t.dirs[name[:i+1]] = true
		}
	}
	return t, nil
}

// ignoreSet matches whole paths against gitignore-style patterns where no
// walk prunes ignored directories (a .gemscanignore read from a commit or
// the index): a pattern matching a parent directory matches the path.
type ignoreSet []ignoreRules

// ignoreRules is one file's patterns in an ignoreSet, anchored at base.
type ignoreRules struct {
	base    string
	prefix  string
	above   bool
	matcher *ignore.GitIgnore
}

// matches reports whether rel (slash-separated, relative to the root, with
// a trailing slash for a directory) is ignored.
func (s ignoreSet) matches(rel string) bool {
	for _, r := range s {
		var sub string
		switch {
		case r.above:
			sub = r.prefix + rel
		case r.base == "":
			sub = rel
		case strings.HasPrefix(rel, r.base+"/"):
			sub = rel[len(r.base)+1:]
		default:
			continue
		}
		if r.matcher.MatchesPath(sub) {
			return true
		}
	}
	return false
}

// compileIgnore compiles gitignore-style patterns into one whole-path
// matcher (see ignoreSet).
func compileIgnore(data []byte) *ignore.GitIgnore {
	lines := strings.Split(string(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))), "\n")
	return ignore.CompileIgnoreLines(lines...)
}

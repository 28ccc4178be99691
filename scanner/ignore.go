package scanner

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
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

// ignoreRules is one file's patterns. A file at or below the scan root is
// anchored at base, its directory relative to the root ("" for the root); a
// file above the root sees paths with prefix, the root's path below it.
type ignoreRules struct {
	base    string
	prefix  string
	above   bool
	matcher *ignore.GitIgnore
	// gemscan marks IgnoreFile's patterns: they hide findings, they do
	// not stop the walk (see ignoreSet.hides).
	gemscan bool
}

// ignoreSet holds the patterns in force in one directory: its own and its
// ancestors'.
type ignoreSet []ignoreRules

// matches reports whether rel (slash-separated, relative to the scan root,
// with a trailing slash for a directory) is ignored.
func (s ignoreSet) matches(rel string) bool { return s.match(rel, false) }

// match reports whether a pattern of IgnoreFile (gemscan) or of the other
// ignore files matches rel.
func (s ignoreSet) match(rel string, gemscan bool) bool {
	for _, r := range s {
		if r.gemscan != gemscan {
			continue
		}
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

// readIgnore reads a gitignore-style file; a missing file is no error.
func readIgnore(path string) (*ignore.GitIgnore, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil, nil
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return compileIgnore(data), nil
}

// compileIgnore compiles gitignore-style patterns.
func compileIgnore(data []byte) *ignore.GitIgnore {
	lines := strings.Split(string(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))), "\n")
	return ignore.CompileIgnoreLines(lines...)
}

// rootIgnores collects the patterns that apply at a scan root from outside
// its own tree walk: the .gitignore files above the root up to the top of the
// enclosing git work tree, .git/info/exclude, and .gemscanignore at the
// work tree's top and at the root.
func rootIgnores(root string) (ignoreSet, []error) {
	var set ignoreSet
	var errs []error
	add := func(path string, r ignoreRules) {
		m, err := readIgnore(path)
		if err != nil {
			errs = append(errs, err)
		}
		if m != nil {
			r.matcher = m
			set = append(set, r)
		}
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, []error{fmt.Errorf("resolve %s: %w", root, err)}
	}
	top := ""
	if d, err := gitdir.Find(abs); err == nil {
		top = d.WorkTree
	}
	if top != "" && top != abs {
		for dir := abs; dir != top; {
			dir = filepath.Dir(dir)
			below, _ := filepath.Rel(dir, abs)
			r := ignoreRules{above: true, prefix: filepath.ToSlash(below) + "/"}
			add(filepath.Join(dir, ".gitignore"), r)
			if dir == top {
				add(filepath.Join(top, ".git", "info", "exclude"), r)
				add(filepath.Join(top, IgnoreFile), ignoreRules{above: true, prefix: r.prefix, gemscan: true})
			}
		}
	} else if top == abs {
		add(filepath.Join(top, ".git", "info", "exclude"), ignoreRules{})
	}
	add(filepath.Join(abs, IgnoreFile), ignoreRules{gemscan: true})
	return set, errs
}

// childIgnores returns the set in force inside directory rel, adding the
// directory's own .gitignore if it has one.
func childIgnores(set ignoreSet, absDir, rel string, entries []fs.DirEntry) (ignoreSet, error) {
	for _, e := range entries {
		if e.Name() == ".gitignore" && e.Type().IsRegular() {
			m, err := readIgnore(filepath.Join(absDir, ".gitignore"))
			if err != nil || m == nil {
				return set, err
			}
			out := make(ignoreSet, len(set), len(set)+1)
			copy(out, set)
			return append(out, ignoreRules{base: strings.TrimSuffix(rel, "/"), matcher: m}), nil
		}
	}
	return set, nil
}

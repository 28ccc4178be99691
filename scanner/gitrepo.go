package scanner

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gemscan-dev/gemscan/internal/gitdir"
	"github.com/gemscan-dev/gemscan/internal/odb"
)

// repo is an opened git repository: go-git for refs and configuration, odb
// for objects.
type repo struct {
	gitDir    string // the repository's own git directory
	commonDir string // where objects, refs and shallow live (differs for worktrees)
	workTree  string // "" for a bare repository
	gg        *git.Repository
	db        *odb.DB
}

// openRepo opens a work tree, a .git directory or a bare repository.
func openRepo(path string) (*repo, error) {
	d, err := gitdir.Open(path)
	if err != nil {
		return nil, err
	}
	r := &repo{gitDir: d.GitDir, commonDir: d.CommonDir, workTree: d.WorkTree}
	openPath := d.WorkTree
	if openPath == "" {
		openPath = d.GitDir
	}
	r.gg, err = git.PlainOpenWithOptions(openPath, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", path, err)
	}
	r.db, err = odb.Open(filepath.Join(r.commonDir, "objects"))
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", path, err)
	}
	return r, nil
}

func (r *repo) close() { r.db.Close() }

// shallow returns the commits at the boundary of a shallow clone.
func (r *repo) shallow() (map[plumbing.Hash]bool, error) {
	f, err := os.Open(filepath.Join(r.commonDir, "shallow"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("read shallow file: %w", err)
	}
	defer f.Close()
	out := map[plumbing.Hash]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); len(s) == 40 {
			out[plumbing.NewHash(s)] = true
		}
	}
	return out, sc.Err()
}

// partialClone reports whether objects may be missing on purpose (a
// promisor remote: git clone --filter).
func (r *repo) partialClone() bool {
	cfg, err := r.gg.Config()
	if err != nil {
		return false
	}
	if cfg.Raw.Section("extensions").Option("partialclone") != "" {
		return true
	}
	for _, s := range cfg.Raw.Section("remote").Subsections {
		if s.Option("promisor") == "true" {
			return true
		}
	}
	return false
}

// head returns the commit HEAD points at, or false for an unborn branch.
func (r *repo) head() (plumbing.Hash, bool) {
	ref, err := r.gg.Head()
	if err != nil {
		return plumbing.ZeroHash, false
	}
	h, err := r.peel(ref.Hash())
	if err != nil {
		return plumbing.ZeroHash, false
	}
	return h, true
}

// peel follows annotated tags to the object they finally name and
// returns it if it is a commit.
func (r *repo) peel(h plumbing.Hash) (plumbing.Hash, error) {
	for i := 0; i < 16; i++ {
		t, data, err := r.db.Read(h)
		if err != nil {
			return h, err
		}
		switch t {
		case odb.Commit:
			return h, nil
		case odb.Tag:
			target, _, err := odb.ParseTag(data)
			if err != nil {
				return h, fmt.Errorf("tag %s: %w", h, err)
			}
			h = target
		default:
			return h, fmt.Errorf("%s names a %s, not a commit", h, t)
		}
	}
	return h, fmt.Errorf("tag %s: too many levels of tags", h)
}

// tip is a ref and the commit it names.
type tip struct {
	name   string
	commit plumbing.Hash
}

// tips lists the commits named by every ref (branches, tags, remotes,
// stash, HEAD), or by the refs matching branches when given.
func (r *repo) tips(branches []string) ([]tip, []error) {
	var out []tip
	var errs []error
	iter, err := r.gg.Storer.IterReferences()
	if err != nil {
		return nil, []error{fmt.Errorf("list refs: %w", err)}
	}
	add := func(name string, h plumbing.Hash) {
		if len(branches) > 0 && !matchesRef(name, branches) {
			return
		}
		c, err := r.peel(h)
		if err != nil {
			if errors.Is(err, odb.ErrNotFound) {
				errs = append(errs, fmt.Errorf("ref %s: %w", name, err))
			}
			// A tag on a tree or blob names no history to scan.
			return
		}
		out = append(out, tip{name, c})
	}
	_ = iter.ForEach(func(ref *plumbing.Reference) error {
		if ref.Type() == plumbing.HashReference {
			add(ref.Name().String(), ref.Hash())
		}
		return nil
	})
	if ref, err := r.gg.Storer.Reference(plumbing.HEAD); err == nil && ref.Type() == plumbing.HashReference {
		add("HEAD", ref.Hash()) // a detached HEAD
	}
	for _, b := range branches {
		found := false
		for _, t := range out {
			if matchesRef(t.name, []string{b}) {
				found = true
			}
		}
		if !found {
			if h, err := r.gg.ResolveRevision(plumbing.Revision(b)); err == nil {
				if c, err := r.peel(*h); err == nil {
					out = append(out, tip{b, c})
					continue
				}
			}
			errs = append(errs, fmt.Errorf("--branch %s: no such ref or revision", b))
		}
	}
	return out, errs
}

func matchesRef(name string, pats []string) bool {
	for _, p := range pats {
		for _, prefix := range []string{"", "refs/", "refs/heads/", "refs/tags/", "refs/remotes/"} {
			if name == prefix+p {
				return true
			}
		}
	}
	return false
}

// resolve turns a revision (a ref name, a hash, HEAD~2 …) into a commit.
func (r *repo) resolve(rev string) (plumbing.Hash, error) {
	h, err := r.gg.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		if len(rev) == 40 {
			if h2, ok := hexHash(rev); ok {
				return r.peel(h2)
			}
		}
		return plumbing.ZeroHash, fmt.Errorf("resolve %q: %w", rev, err)
	}
	return r.peel(*h)
}

func hexHash(s string) (plumbing.Hash, bool) {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return plumbing.ZeroHash, false
		}
	}
	return plumbing.NewHash(s), true
}

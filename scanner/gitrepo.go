package scanner

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gemscan-dev/gemscan/internal/gitdir"
	"github.com/gemscan-dev/gemscan/internal/odb"
)

// repo is an opened git repository: gitdir's reader for refs and
// configuration (not go-git's Repository or storage, whose packages pull
// in transports, regular expressions compiled at start-up and
// encoding/gob: milliseconds of start-up a pre-commit run notices), odb
// for objects.
type repo struct {
	gitDir    string       // the repository's own git directory
	commonDir string       // where objects, refs and shallow live (differs for worktrees)
	workTree  string       // "" for a bare repository
	refs      *gitdir.Refs // loose and packed refs
	db        *odb.DB
}

// openRepo opens a work tree, a .git directory or a bare repository.
// A directory inside a work tree opens the work tree, as git does.
func openRepo(path string) (*repo, error) {
	d, err := gitdir.Open(path)
	if err != nil {
		var ferr error
		if d, ferr = gitdir.Find(path); ferr != nil {
			return nil, err
		}
	}
	if err := gitdir.CheckSupported(d); err != nil {
		return nil, err
	}
	r := &repo{gitDir: d.GitDir, commonDir: d.CommonDir, workTree: d.WorkTree, refs: d.Refs()}
	r.db, err = odb.Open(filepath.Join(r.commonDir, "objects"))
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", path, err)
	}
	return r, nil
}

func (r *repo) close() { r.db.Close() }

// shallow returns the commits at the boundary of a shallow clone.
func (r *repo) shallow() (map[plumbing.Hash]bool, error) {
	f, err := gitdir.OpenFile(filepath.Join(r.commonDir, "shallow"))
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
func (r *repo) partialClone() bool { return isPartialClone(r.commonDir) }

// isPartialClone reports whether the configuration of the repository whose
// common directory is commonDir makes it a partial clone:
// extensions.partialClone or a promisor remote. An unreadable
// configuration says no: missing objects are then reported as corruption.
func isPartialClone(commonDir string) bool {
	cfg, err := gitdir.ReadConfig(filepath.Join(commonDir, "config"))
	if err != nil {
		return false
	}
	if v, _ := cfg.Get("extensions", "", "partialclone"); v != "" {
		return true
	}
	for _, e := range cfg.Entries() {
		if e.Section == "remote" && e.Subsection != "" && e.Key == "promisor" && e.Bool() {
			return true
		}
	}
	return false
}

// head returns the commit HEAD points at; ok is false on an unborn
// branch. A HEAD that names something unreadable or not a commit is an
// error.
func (r *repo) head() (c plumbing.Hash, ok bool, err error) {
	ref, err := r.refs.Resolve(plumbing.HEAD)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, false, nil
	}
	if err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("resolve HEAD: %w", err)
	}
	h, err := r.peel(ref.Hash())
	if err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("HEAD: %w", err)
	}
	return h, true, nil
}

// errNotCommit says that a ref or tag names a tree or a blob: a tag on a
// tree (git's own repository has one) names no history to scan.
var errNotCommit = errors.New("not a commit")

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
		case odb.Tree, odb.Blob:
			return h, fmt.Errorf("%s names a %s, %w", h, t, errNotCommit)
		default:
			return h, fmt.Errorf("object %s has unexpected type %s", h, t)
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
// stash, HEAD, the other worktrees' HEADs and per-worktree refs), or by
// the refs matching branches when given.
func (r *repo) tips(branches []string) ([]tip, []error) {
	var out []tip
	var errs []error
	// A ref that cannot be read is an error (if it is one asked for), and
	// the others are still scanned.
	refs, bad, err := r.refs.List()
	if err != nil {
		return nil, []error{fmt.Errorf("list refs: %w", err)}
	}
	for _, b := range bad {
		if b.Name == "HEAD" {
			continue // reported below, where HEAD is read
		}
		if len(branches) == 0 || matchesRef(b.Name, branches) {
			errs = append(errs, b)
		}
	}
	add := func(name string, h plumbing.Hash) {
		if len(branches) > 0 && !matchesRef(name, branches) {
			return
		}
		c, err := r.peel(h)
		if err != nil {
			// The one harmless case: a tag on a tree or blob names no
			// history to scan. Anything else (a missing or corrupt
			// object, a branch on a tree) hides that ref's history.
			if !(errors.Is(err, errNotCommit) && strings.HasPrefix(name, "refs/tags/")) {
				errs = append(errs, fmt.Errorf("ref %s: %w", name, err))
			}
			return
		}
		out = append(out, tip{name, c})
	}
	for _, ref := range refs {
		switch {
		case ref.Type() == plumbing.HashReference:
			add(ref.Name().String(), ref.Hash())
		case ref.Name() == plumbing.HEAD:
			// Read below.
		case len(branches) == 0 || matchesRef(ref.Name().String(), branches):
			// A symbolic ref usually names a ref listed here too
			// (origin/HEAD), but may name one that is not (a pseudo-ref
			// such as ORIG_HEAD), whose history git pushes with it.
			t, err := r.refs.Resolve(ref.Name())
			switch {
			case err == nil:
				add(ref.Name().String(), t.Hash())
			case !errors.Is(err, plumbing.ErrReferenceNotFound): // dangling: nothing to scan
				errs = append(errs, fmt.Errorf("ref %s: %w", ref.Name(), err))
			}
		}
	}
	switch ref, err := r.refs.Resolve(plumbing.HEAD); {
	case err == nil:
		add("HEAD", ref.Hash()) // a detached HEAD, or a branch listed above
	case !errors.Is(err, plumbing.ErrReferenceNotFound):
		errs = append(errs, fmt.Errorf("read HEAD: %w", err))
	}
	// git's --all also holds the other worktrees' HEADs and per-worktree
	// refs (worktrees/<id>/HEAD, main-worktree/refs/bisect/bad): a
	// detached HEAD there can hold commits no branch has.
	others, bad, err := r.refs.OtherWorktrees()
	if err != nil {
		errs = append(errs, fmt.Errorf("list refs: %w", err))
	}
	for _, b := range bad {
		if len(branches) == 0 || matchesRef(b.Name, branches) {
			errs = append(errs, b)
		}
	}
	for _, ref := range others {
		add(ref.Name().String(), ref.Hash())
	}
	for _, b := range branches {
		found := false
		for _, t := range out {
			if matchesRef(t.name, []string{b}) {
				found = true
			}
		}
		if !found {
			c, err := r.resolve(b)
			if err != nil {
				errs = append(errs, fmt.Errorf("--branch %s: %w", b, err))
				continue
			}
			out = append(out, tip{b, c})
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

// resolve turns a revision into a commit: HEAD, a ref name (full, or
// short as git searches it: refs/, refs/tags/, refs/heads/, refs/remotes/),
// a full or abbreviated hash, each followed by any ~N and ^N steps.
func (r *repo) resolve(rev string) (plumbing.Hash, error) {
	base, steps := rev, ""
	if i := strings.IndexAny(rev, "~^"); i >= 0 {
		base, steps = rev[:i], rev[i:]
	}
	h, err := r.resolveBase(base)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("resolve %q: %w", rev, err)
	}
	var walked map[plumbing.Hash]bool
	for steps != "" {
		op := steps[0]
		steps = steps[1:]
		n := 1
		j := 0
		for j < len(steps) && steps[j] >= '0' && steps[j] <= '9' {
			j++
		}
		if j > 0 {
			var err error
			if n, err = strconv.Atoi(steps[:j]); err != nil {
				return plumbing.ZeroHash, fmt.Errorf("resolve %q: %w", rev, err)
			}
			steps = steps[j:]
		}
		if op == '^' && n == 0 {
			continue
		}
		count := 1
		parent := n
		if op == '~' {
			count, parent = n, 1
		}
		for ; count > 0; count-- {
			data, err := r.db.ReadType(h, odb.Commit)
			if err != nil {
				return plumbing.ZeroHash, fmt.Errorf("resolve %q: %w", rev, err)
			}
			info, err := odb.ParseCommit(data)
			if err != nil {
				return plumbing.ZeroHash, fmt.Errorf("resolve %q: commit %s: %w", rev, h, err)
			}
			if parent > len(info.Parents) {
				return plumbing.ZeroHash, fmt.Errorf("resolve %q: commit %s has no parent %d", rev, h, parent)
			}
			if op == '~' {
				// A forged history can loop: ~N must not walk it N times.
				if walked == nil {
					walked = map[plumbing.Hash]bool{}
				}
				if walked[h] {
					return plumbing.ZeroHash, fmt.Errorf("resolve %q: commit %s: the history loops back on itself", rev, h)
				}
				walked[h] = true
			}
			h = info.Parents[parent-1]
		}
	}
	return h, nil
}

func (r *repo) resolveBase(name string) (plumbing.Hash, error) {
	if len(name) == 40 {
		// A full object name is that object, as git reads it: no ref
		// lookups, no prefix search over every pack index.
		if h, ok := hexHash(name); ok {
			return r.peel(h)
		}
	}
	for _, full := range []string{name, "refs/" + name, "refs/tags/" + name, "refs/heads/" + name,
		"refs/remotes/" + name, "refs/remotes/" + name + "/HEAD"} {
		if full != "HEAD" && !strings.HasPrefix(full, "refs/") {
			continue
		}
		ref, err := r.refs.Resolve(plumbing.ReferenceName(full))
		if errors.Is(err, plumbing.ErrReferenceNotFound) {
			continue
		}
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("ref %s: %w", full, err)
		}
		return r.peel(ref.Hash())
	}
	if len(name) >= 4 && len(name) <= 40 {
		if _, ok := hexHash(name); ok {
			h, err := r.db.Expand(name)
			if err != nil {
				return plumbing.ZeroHash, err
			}
			return r.peel(h)
		}
	}
	return plumbing.ZeroHash, fmt.Errorf("no ref or object named %q", name)
}

func hexHash(s string) (plumbing.Hash, bool) {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return plumbing.ZeroHash, false
		}
	}
	if len(s) != 40 {
		return plumbing.ZeroHash, true
	}
	return plumbing.NewHash(s), true
}

// otherWorktreeTips returns the commits named by the other worktrees'
// HEADs and per-worktree refs, which git's --not --all excludes with the
// refs under refs/ (tipsUnder's "refs/"). As tipsUnder does, it passes
// over a ref naming a tree or a blob and fails on any other it cannot
// read.
func (r *repo) otherWorktreeTips() ([]plumbing.Hash, error) {
	refs, bad, err := r.refs.OtherWorktrees()
	if err != nil {
		return nil, fmt.Errorf("list refs: %w", err)
	}
	if len(bad) > 0 {
		return nil, bad[0]
	}
	var out []plumbing.Hash
	for _, ref := range refs {
		c, err := r.peel(ref.Hash())
		if err != nil {
			if errors.Is(err, errNotCommit) {
				continue
			}
			return nil, fmt.Errorf("ref %s: %w", ref.Name(), err)
		}
		out = append(out, c)
	}
	return out, nil
}

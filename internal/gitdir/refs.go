package gitdir

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// Refs reads a repository's references: loose files, packed-refs and
// symbolic refs, with a linked worktree's own HEAD and per-worktree refs
// read from its git directory and the rest from the common directory.
//
// It replaces go-git's storage/filesystem for the few reads gemscan makes:
// that package links go-git's config (regular expressions compiled at
// start-up), its packfile and object cache code, go-billy and encoding/gob,
// all of which every gemscan run paid for before main. TestRefsMatchGoGit
// checks it against go-git's storage on real repositories.
type Refs struct {
	d Dirs
}

// Refs returns the reader of d's references.
func (d Dirs) Refs() *Refs { return &Refs{d: d} }

// RefError is a ref List could not read.
type RefError struct {
	Name string // the ref's full name
	Err  error
}

func (e *RefError) Error() string { return e.Err.Error() }
func (e *RefError) Unwrap() error { return e.Err }

// ErrBadRef is wrapped by the errors for a ref whose file or packed-refs
// line cannot be read as a ref.
var ErrBadRef = errors.New("bad ref")

// perWorktree reports whether name lives in a linked worktree's own git
// directory (git's is_per_worktree_ref): pseudo-refs such as HEAD, and
// refs/bisect/, refs/worktree/ and refs/rewritten/.
func perWorktree(name string) bool {
	if !strings.HasPrefix(name, "refs/") {
		return true
	}
	for _, p := range []string{"refs/bisect/", "refs/worktree/", "refs/rewritten/"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// checkName refuses a name that would read a file outside the ref store:
// git's refname_is_safe (plumbing.ReferenceName.IsSafe), and no control
// characters or backslashes.
func checkName(name string) error {
	if !plumbing.ReferenceName(name).IsSafe() {
		return fmt.Errorf("%w: %q is not under refs/ nor a pseudo-ref", ErrBadRef, name)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return fmt.Errorf("%w: %q", ErrBadRef, name)
		}
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("%w: %q", ErrBadRef, name)
		}
	}
	return nil
}

func (r *Refs) dirFor(name string) string {
	if perWorktree(name) {
		return r.d.GitDir
	}
	return r.d.CommonDir
}

// parseRef reads the content of a loose ref file: "ref: NAME" or an object
// name.
func parseRef(name string, data []byte) (*plumbing.Reference, error) {
	s := strings.TrimSpace(string(data))
	if t, ok := strings.CutPrefix(s, "ref:"); ok {
		t = strings.TrimSpace(t)
		if t == "" {
			return nil, fmt.Errorf("%w %s: empty symbolic ref", ErrBadRef, name)
		}
		return plumbing.NewSymbolicReference(plumbing.ReferenceName(name), plumbing.ReferenceName(t)), nil
	}
	h, ok := parseHash(s)
	if !ok {
		return nil, fmt.Errorf("%w %s: %q is not an object name", ErrBadRef, name, abbrev(s))
	}
	return plumbing.NewHashReference(plumbing.ReferenceName(name), h), nil
}

func abbrev(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// parseHash reads a full hexadecimal object name.
func parseHash(s string) (plumbing.Hash, bool) {
	if len(s) != 40 {
		return plumbing.ZeroHash, false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return plumbing.ZeroHash, false
		}
	}
	return plumbing.NewHash(s), true
}

// readLoose reads the loose ref file of name: nil, nil when there is none.
func (r *Refs) readLoose(name string) (*plumbing.Reference, error) {
	path := filepath.Join(r.dirFor(name), filepath.FromSlash(name))
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return nil, nil // a directory of refs (refs/heads/a of refs/heads/a/b)
	}
	data, err := ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("read ref %s: %w", name, err)
	}
	return parseRef(name, data)
}

// packed calls fn with each ref of packed-refs, in file order, until fn
// returns false. Peeled lines ("^…") and comments are skipped.
func (r *Refs) packed(fn func(*plumbing.Reference) bool) error {
	path := filepath.Join(r.d.CommonDir, "packed-refs")
	f, err := OpenFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("read packed-refs: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSuffix(sc.Bytes(), []byte{'\r'})
		if len(line) == 0 || line[0] == '#' || line[0] == '^' {
			continue
		}
		hex, name, ok := bytes.Cut(line, []byte{' '})
		h, hok := parseHash(string(hex))
		if !ok || !hok || len(name) == 0 || bytes.IndexByte(name, ' ') >= 0 {
			return fmt.Errorf("%w: packed-refs line %d: %q", ErrBadRef, n, abbrev(string(line)))
		}
		if !fn(plumbing.NewHashReference(plumbing.ReferenceName(name), h)) {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read packed-refs: %w", err)
	}
	return nil
}

// Reference reads the ref name without following it: a symbolic ref is
// returned as such. plumbing.ErrReferenceNotFound when it does not exist.
func (r *Refs) Reference(name plumbing.ReferenceName) (*plumbing.Reference, error) {
	n := string(name)
	if err := checkName(n); err != nil {
		return nil, err
	}
	ref, err := r.readLoose(n)
	if err != nil || ref != nil {
		return ref, err
	}
	if perWorktree(n) && !strings.HasPrefix(n, "refs/") {
		// Pseudo-refs (HEAD, ORIG_HEAD…) are never packed.
		return nil, plumbing.ErrReferenceNotFound
	}
	var found *plumbing.Reference
	if err := r.packed(func(p *plumbing.Reference) bool {
		if p.Name() == name {
			found = p
			return false
		}
		return true
	}); err != nil {
		return nil, err
	}
	if found == nil {
		return nil, plumbing.ErrReferenceNotFound
	}
	return found, nil
}

// maxSymrefDepth bounds chains of symbolic refs, as git's does (5 there;
// a little more here costs nothing).
const maxSymrefDepth = 10

// Resolve reads name and follows symbolic refs to the hash ref they end
// at. plumbing.ErrReferenceNotFound when a ref on the way does not exist
// (an unborn branch).
func (r *Refs) Resolve(name plumbing.ReferenceName) (*plumbing.Reference, error) {
	for i := 0; i <= maxSymrefDepth; i++ {
		ref, err := r.Reference(name)
		if err != nil {
			return nil, err
		}
		if ref.Type() == plumbing.HashReference {
			return ref, nil
		}
		name = ref.Target()
	}
	return nil, fmt.Errorf("%w %s: more than %d levels of symbolic refs", ErrBadRef, name, maxSymrefDepth)
}

// All lists every ref: HEAD first, then the loose refs under refs/ in name
// order, then the packed refs no loose file overrides, in file order (the
// order go-git's storage listed them in). A ref that cannot be read fails
// the whole list; List reports it and lists the others.
func (r *Refs) All() ([]*plumbing.Reference, error) {
	refs, bad, err := r.List()
	if err == nil && len(bad) > 0 {
		err = bad[0]
	}
	if err != nil {
		return nil, err
	}
	return refs, nil
}

// List is All that goes on past loose refs it cannot read (an empty or
// garbled file, one it may not open) and returns their errors in bad: a
// scan can read the rest and still fail. err is for what stops the whole
// list: a ref directory or packed-refs it cannot read.
func (r *Refs) List() (refs []*plumbing.Reference, bad []*RefError, err error) {
	var out []*plumbing.Reference
	head, err := r.readLoose("HEAD")
	if err != nil {
		bad = append(bad, &RefError{"HEAD", err})
	} else if head != nil {
		out = append(out, head)
	}
	seen := map[plumbing.ReferenceName]bool{}
	if err := r.walk("refs", &out, seen, &bad); err != nil {
		return nil, nil, err
	}
	packed := map[plumbing.ReferenceName]bool{}
	err = r.packed(func(p *plumbing.Reference) bool {
		if packed[p.Name()] {
			// git lists both values (for-each-ref) and resolves the name
			// to one: the other's history would go unread.
			bad = append(bad, &RefError{p.Name().String(),
				fmt.Errorf("%w %s: packed-refs lists it more than once", ErrBadRef, p.Name())})
			return true
		}
		packed[p.Name()] = true
		if !seen[p.Name()] {
			seen[p.Name()] = true
			out = append(out, p)
		}
		return true
	})
	if err != nil {
		return nil, nil, err
	}
	return out, bad, nil
}

// IterReferences is All as go-git's storer iterator (ForEach stops on
// storer.ErrStop).
func (r *Refs) IterReferences() (storer.ReferenceIter, error) {
	refs, err := r.All()
	if err != nil {
		return nil, err
	}
	return storer.NewReferenceSliceIter(refs), nil
}

// walk adds the loose refs below the directory rel ("refs", "refs/heads"),
// and the errors of those it cannot read to bad. A broken loose ref is
// still seen: its packed line, older, must not stand in for it.
func (r *Refs) walk(rel string, out *[]*plumbing.Reference, seen map[plumbing.ReferenceName]bool, bad *[]*RefError) error {
	names, dirs, err := r.list(rel)
	if err != nil {
		return err
	}
	for _, n := range names {
		name := rel + "/" + n
		if dirs[n] {
			if err := r.walk(name, out, seen, bad); err != nil {
				return err
			}
			continue
		}
		ref, err := r.readLoose(name)
		if err != nil {
			*bad = append(*bad, &RefError{name, err})
			seen[plumbing.ReferenceName(name)] = true
			continue
		}
		if ref != nil && !seen[ref.Name()] {
			seen[ref.Name()] = true
			*out = append(*out, ref)
		}
	}
	return nil
}

// list returns the names in the ref directory rel, sorted, and which are
// directories. In a linked worktree the per-worktree directories come
// from its own git directory, the rest from the common directory.
func (r *Refs) list(rel string) ([]string, map[string]bool, error) {
	dirs := map[string]bool{}
	var names []string
	add := func(base string, keep func(string) bool) error {
		es, err := os.ReadDir(filepath.Join(base, filepath.FromSlash(rel)))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return fmt.Errorf("list refs: %w", err)
		}
		for _, e := range es {
			if !keep(e.Name()) {
				continue
			}
			names = append(names, e.Name())
			dirs[e.Name()] = e.IsDir()
		}
		return nil
	}
	if r.d.GitDir == r.d.CommonDir {
		err := add(r.d.CommonDir, func(string) bool { return true })
		return names, dirs, err
	}
	own := func(n string) bool { return perWorktree(rel + "/" + n + "/") }
	if err := add(r.dirFor(rel+"/"), func(n string) bool { return !own(n) }); err != nil {
		return nil, nil, err
	}
	if err := add(r.d.GitDir, own); err != nil {
		return nil, nil, err
	}
	slices.Sort(names)
	return names, dirs, nil
}

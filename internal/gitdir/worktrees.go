package gitdir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
)

// perWorktreeDirs are the ref directories each worktree keeps for itself
// (git's is_per_worktree_ref; HEAD apart).
var perWorktreeDirs = [...]string{"refs/bisect", "refs/worktree", "refs/rewritten"}

// OtherWorktrees lists what the repository's other worktrees hold that
// List does not: the HEAD and the per-worktree refs (refs/bisect/,
// refs/worktree/, refs/rewritten/) of every worktree but the one r reads,
// named as git names them ("worktrees/<id>/HEAD",
// "worktrees/<id>/refs/bisect/bad", "main-worktree/HEAD" from a linked
// worktree). git's --all includes them: a detached HEAD in another
// worktree can hold commits no branch has, and git keeps them until that
// worktree is pruned.
//
// Each ref is returned resolved, as a hash ref. A HEAD that names a
// shared ref (a branch, which List lists) is left out; an unborn one
// holds nothing. A worktree directory without HEAD or that is not a
// directory is skipped, as git skips it; one whose work tree was deleted
// (git worktree prune would remove it) is still read. Refs that cannot be
// read (a garbled or unreadable HEAD, a FIFO) are returned in bad and the
// others still listed; err is for a directory that cannot be listed.
func (r *Refs) OtherWorktrees() (refs []*plumbing.Reference, bad []*RefError, err error) {
	type wt struct {
		prefix string
		refs   *Refs
	}
	var wts []wt
	if r.d.GitDir != r.d.CommonDir {
		wts = append(wts, wt{"main-worktree/", Dirs{GitDir: r.d.CommonDir, CommonDir: r.d.CommonDir}.Refs()})
	}
	dir := filepath.Join(r.d.CommonDir, "worktrees")
	es, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("list worktrees: %w", err)
	}
	own, ownErr := os.Stat(r.d.GitDir)
	if ownErr != nil {
		return nil, nil, fmt.Errorf("list worktrees: %w", ownErr)
	}
	for _, e := range es {
		g := filepath.Join(dir, e.Name())
		st, err := os.Stat(g) // follows a symbolic link, as git does
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // a dangling symbolic link: git finds no worktree there
			}
			return nil, nil, fmt.Errorf("list worktrees: %w", err)
		}
		if !st.IsDir() || os.SameFile(st, own) {
			continue
		}
		wts = append(wts, wt{"worktrees/" + e.Name() + "/", Dirs{GitDir: g, CommonDir: r.d.CommonDir}.Refs()})
	}
	for _, w := range wts {
		rs, b, err := w.refs.ownRefs(w.prefix)
		if err != nil {
			return nil, nil, err
		}
		refs = append(refs, rs...)
		bad = append(bad, b...)
	}
	return refs, bad, nil
}

// ownRefs lists the HEAD and per-worktree refs of the worktree r reads,
// resolved, their names prefixed with prefix.
func (r *Refs) ownRefs(prefix string) (refs []*plumbing.Reference, bad []*RefError, err error) {
	// HEAD is read as a file: a directory there is an error, not a
	// directory of refs as readLoose takes it.
	data, err := ReadFile(filepath.Join(r.d.GitDir, "HEAD"))
	switch {
	case errors.Is(err, os.ErrNotExist):
		// No HEAD: git reads no ref there either.
	case err != nil:
		bad = append(bad, &RefError{prefix + "HEAD", fmt.Errorf("read ref %sHEAD: %w", prefix, err)})
	default:
		head, err := parseRef(prefix+"HEAD", data)
		if err != nil {
			bad = append(bad, &RefError{prefix + "HEAD", err})
			break
		}
		if head.Type() == plumbing.SymbolicReference {
			t := head.Target().String()
			if err := checkName(t); err != nil {
				bad = append(bad, &RefError{prefix + "HEAD", fmt.Errorf("ref %sHEAD: %w", prefix, err)})
				break
			}
			if strings.HasPrefix(t, "refs/") && !perWorktree(t) {
				break // a branch: List lists it
			}
		}
		ref, err := r.resolveFrom(head)
		switch {
		case err == nil:
			refs = append(refs, ref)
		case !errors.Is(err, plumbing.ErrReferenceNotFound): // unborn: nothing to list
			bad = append(bad, &RefError{prefix + "HEAD", fmt.Errorf("ref %sHEAD: %w", prefix, err)})
		}
	}
	for _, d := range perWorktreeDirs {
		var loose []*plumbing.Reference
		var b []*RefError
		if err := r.walk(d, &loose, map[plumbing.ReferenceName]bool{}, &b); err != nil {
			return nil, nil, fmt.Errorf("worktree %s: %w", strings.TrimSuffix(prefix, "/"), err)
		}
		for _, e := range b {
			bad = append(bad, &RefError{prefix + e.Name, fmt.Errorf("%s: %w", prefix+e.Name, e.Err)})
		}
		for _, l := range loose {
			name := prefix + l.Name().String()
			ref, err := r.resolveFrom(l)
			switch {
			case err == nil:
				refs = append(refs, plumbing.NewHashReference(plumbing.ReferenceName(name), ref.Hash()))
			case !errors.Is(err, plumbing.ErrReferenceNotFound):
				bad = append(bad, &RefError{name, fmt.Errorf("ref %s: %w", name, err)})
			}
		}
	}
	return refs, bad, nil
}

// resolveFrom follows ref, read from r's worktree, to a hash ref named
// as ref is.
func (r *Refs) resolveFrom(ref *plumbing.Reference) (*plumbing.Reference, error) {
	if ref.Type() == plumbing.HashReference {
		return ref, nil
	}
	t, err := r.Resolve(ref.Target())
	if err != nil {
		return nil, err
	}
	return plumbing.NewHashReference(ref.Name(), t.Hash()), nil
}

package gitdir

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gemscan-dev/gemscan/internal/gittest"
)

func refNames(refs []*plumbing.Reference) []string {
	var out []string
	for _, r := range refs {
		out = append(out, r.Name().String())
	}
	return out
}

func badNames(bad []*RefError) []string {
	var out []string
	for _, b := range bad {
		out = append(out, b.Name)
	}
	return out
}

// TestWorktreeRefsMatchGit: from the main work tree, the linked
// worktree's per-worktree refs are listed under the names git resolves
// (git rev-parse worktrees/wt/refs/bisect/bad), with git's values; its
// HEAD, which names a branch List lists, is left out. From the linked
// worktree nothing of its own is listed again.
func TestWorktreeRefsMatchGit(t *testing.T) {
	t.Parallel()
	main, wt := refsRepo(t)
	refs, bad, err := open(t, main).Refs().OtherWorktrees()
	if err != nil || len(bad) > 0 {
		t.Fatalf("OtherWorktrees: bad %v, err %v", bad, err)
	}
	want := []string{"worktrees/wt/refs/bisect/bad", "worktrees/wt/refs/worktree/mine"}
	if got := refNames(refs); !slices.Equal(got, want) {
		t.Fatalf("refs %v, want %v", got, want)
	}
	for _, r := range refs {
		if r.Type() != plumbing.HashReference {
			t.Errorf("%s is not resolved: %v", r.Name(), r)
		}
		if h := gittest.Run(t, main, "rev-parse", r.Name().String()); h != r.Hash().String() {
			t.Errorf("%s = %s, git says %s", r.Name(), r.Hash(), h)
		}
	}
	refs, bad, err = open(t, wt).Refs().OtherWorktrees()
	if err != nil || len(bad) > 0 || len(refs) > 0 {
		t.Fatalf("from the worktree: refs %v, bad %v, err %v; want none (main's HEAD is a branch)", describe(refs), bad, err)
	}
}

// TestWorktreeRefsHostile: what a worktrees/ directory may hold. A
// detached HEAD is listed, and so is a HEAD naming one of its worktree's
// own refs; entries git finds no worktree in are skipped; a HEAD that
// cannot be read as a ref, or names a file outside the ref store, is an
// error for that worktree only.
func TestWorktreeRefsHostile(t *testing.T) {
	t.Parallel()
	main, _ := refsRepo(t)
	dir := copyRefs(t, main)
	d := open(t, dir)
	head := gittest.Run(t, dir, "rev-parse", "HEAD")
	one := gittest.Run(t, dir, "rev-parse", "HEAD~1")
	wts := filepath.Join(d.CommonDir, "worktrees")
	write(t, wts, "det/HEAD", head+"\n")
	write(t, wts, "own/HEAD", "ref: refs/bisect/x\n")
	write(t, wts, "own/refs/bisect/x", one+"\n")
	write(t, wts, "branch/HEAD", "ref: refs/heads/a\n")
	write(t, wts, "unborn/HEAD", "ref: refs/heads/none\n")
	write(t, wts, "garbled/HEAD", "nonsense\n")
	write(t, wts, "escape/HEAD", "ref: refs/../../../config\n")
	write(t, wts, "badref/HEAD", "ref: refs/heads/a\n")
	write(t, wts, "badref/refs/worktree/w", "0123\n")
	write(t, wts, "nohead/gitdir", "/nonexistent/.git\n")
	write(t, wts, "file", "not a worktree\n")
	if err := os.Mkdir(filepath.Join(wts, "dirhead"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(wts, "dirhead", "HEAD"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(wts, "gone"), filepath.Join(wts, "dangling")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(wts, "det"), filepath.Join(wts, "link")); err != nil {
		t.Fatal(err)
	}
	// (git rev-parse reads worktrees/own/HEAD's target in the current
	// worktree; git's --all, as this reader, in its own.)
	if got := gittest.Run(t, dir, "rev-parse", "worktrees/det/HEAD"); got != head {
		t.Fatalf("git resolves worktrees/det/HEAD to %q", got)
	}

	refs, bad, err := d.Refs().OtherWorktrees()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range refs {
		got[r.Name().String()] = r.Hash().String()
	}
	want := map[string]string{
		"worktrees/det/HEAD":          head,
		"worktrees/link/HEAD":         head,
		"worktrees/own/HEAD":          one,
		"worktrees/own/refs/bisect/x": one,
	}
	if len(got) != len(want) {
		t.Errorf("refs %v, want %v", got, want)
	}
	for n, h := range want {
		if got[n] != h {
			t.Errorf("%s = %q, want %s", n, got[n], h)
		}
	}
	wantBad := []string{"worktrees/badref/refs/worktree/w", "worktrees/dirhead/HEAD", "worktrees/escape/HEAD", "worktrees/garbled/HEAD"}
	if g := badNames(bad); !slices.Equal(g, wantBad) {
		t.Fatalf("bad %v, want %v", g, wantBad)
	}
	for _, b := range bad {
		if !strings.Contains(b.Error(), b.Name) {
			t.Errorf("error %q does not name %s", b, b.Name)
		}
		if b.Name == "worktrees/dirhead/HEAD" {
			if !errors.Is(b, ErrNotRegular) {
				t.Errorf("%s: %v, want ErrNotRegular", b.Name, b)
			}
		} else if !errors.Is(b, ErrBadRef) {
			t.Errorf("%s: %v, want ErrBadRef", b.Name, b)
		}
	}
}

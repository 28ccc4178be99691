//go:build unix

package gitdir

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// TestWorktreeFIFOsAreRefused: a FIFO as another worktree's HEAD or
// per-worktree ref is an error for that ref, never a read that blocks
// the scan forever.
func TestWorktreeFIFOsAreRefused(t *testing.T) {
	t.Parallel()
	main, _ := refsRepo(t)
	dir := copyRefs(t, main)
	d := open(t, dir)
	wts := filepath.Join(d.CommonDir, "worktrees")
	write(t, wts, "b/HEAD", "ref: refs/heads/a\n")
	for _, p := range []string{"a", "b/refs/worktree"} {
		if err := os.MkdirAll(filepath.Join(wts, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"a/HEAD", "b/refs/worktree/f"} {
		if err := syscall.Mkfifo(filepath.Join(wts, p), 0o644); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
	}
	_, bad, err := d.Refs().OtherWorktrees()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"worktrees/a/HEAD", "worktrees/b/refs/worktree/f"}
	if names := badNames(bad); !slices.Equal(names, want) {
		t.Fatalf("bad %v, want %v", names, want)
	}
	for _, b := range bad {
		if !errors.Is(b, ErrNotRegular) {
			t.Errorf("%s: %v, want ErrNotRegular", b.Name, b)
		}
	}
}

package gitdir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gemscan-dev/gemscan/internal/gittest"
)

// TestListDuplicatePackedRef: packed-refs naming a ref twice (git's
// for-each-ref lists both values) is an error for that ref, never the first
// value silently standing for both.
func TestListDuplicatePackedRef(t *testing.T) {
	gittest.Need(t)
	dir := t.TempDir()
	gittest.Run(t, dir, "init", "-q", "-b", "main")
	gittest.RunAt(t, dir, 1, "commit", "-q", "--allow-empty", "-m", "one")
	one := strings.TrimSpace(gittest.Run(t, dir, "rev-parse", "HEAD"))
	gittest.RunAt(t, dir, 2, "commit", "-q", "--allow-empty", "-m", "two")
	two := strings.TrimSpace(gittest.Run(t, dir, "rev-parse", "HEAD"))
	gittest.Run(t, dir, "pack-refs", "--all")
	packed := filepath.Join(dir, ".git", "packed-refs")
	f, err := os.OpenFile(packed, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(one + " refs/heads/side\n" + two + " refs/heads/side\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if out := gittest.Run(t, dir, "for-each-ref", "refs/heads/side"); strings.Count(out, "refs/heads/side") != 2 {
		t.Fatalf("git lists %q, want both values", out)
	}

	refs, bad, err := open(t, dir).Refs().List()
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 1 || bad[0].Name != "refs/heads/side" || !errors.Is(bad[0], ErrBadRef) {
		t.Fatalf("bad %v, want refs/heads/side listed twice", bad)
	}
	if got := describe(refs); !strings.Contains(strings.Join(got, " "), "refs/heads/main") {
		t.Errorf("refs %v: the others are still listed", got)
	}
}

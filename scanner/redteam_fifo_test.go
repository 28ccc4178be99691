//go:build unix

package scanner

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/gemscan-dev/gemscan/internal/gitdir"
)

// TestStagedFIFOIsRefused: a FIFO as the index or as HEAD's branch is an
// error, never a read that waits forever for a writer.
func TestStagedFIFOIsRefused(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"index", "refs/heads/main", "shallow"} {
		t.Run(file, func(t *testing.T) {
			r := newRepo(t)
			r.write("a.txt", "a\n")
			r.commit("one")
			r.write("b.txt", "b\n")
			r.git("add", "b.txt")
			p := filepath.Join(r.dir, ".git", filepath.FromSlash(file))
			os.Remove(p)
			if err := syscall.Mkfifo(p, 0o644); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
			var errs []error
			if file == "shallow" {
				_, res := scanRepo(t, r.dir, GitOptions{})
				errs = res.Errors
			} else {
				errs = ScanStaged(r.dir, StagedOptions{}).Errors
			}
			if len(errs) == 0 || !errors.Is(errs[0], gitdir.ErrNotRegular) {
				t.Fatalf("errors %v, want ErrNotRegular", errs)
			}
		})
	}
}

//go:build unix

package gitdir

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gemscan-dev/gemscan/internal/gittest"
)

// TestFIFOsAreRefused: a FIFO where git keeps a file (a ref, HEAD,
// packed-refs, config, commondir, .git) is refused with ErrNotRegular;
// reading it would block the scan forever (no writer ever comes).
func TestFIFOsAreRefused(t *testing.T) {
	gittest.Need(t)
	fifo := func(t *testing.T, p string) {
		t.Helper()
		os.Remove(p)
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
	}
	// A copy of the shared repository's refs, where the FIFO goes.
	repo := func(t *testing.T) string {
		main, _ := refsRepo(t)
		return copyRefs(t, main)
	}
	for _, c := range []struct {
		name, file string
		read       func(dir string) error
	}{
		{"ref", "refs/heads/f", func(dir string) error { _, err := open(t, dir).Refs().All(); return err }},
		{"HEAD", "HEAD", func(dir string) error {
			_, err := open(t, dir).Refs().Resolve(plumbing.HEAD)
			return err
		}},
		{"packed-refs", "packed-refs", func(dir string) error { _, err := open(t, dir).Refs().All(); return err }},
		{"config", "config", func(dir string) error { return CheckSupported(open(t, dir)) }},
		{"commondir", "commondir", func(dir string) error { _, err := Open(dir); return err }},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := repo(t)
			fifo(t, filepath.Join(dir, ".git", c.file))
			if err := c.read(dir); !errors.Is(err, ErrNotRegular) {
				t.Fatalf("err %v, want ErrNotRegular", err)
			}
		})
	}
	t.Run(".git", func(t *testing.T) {
		dir := t.TempDir()
		fifo(t, filepath.Join(dir, ".git"))
		if _, err := Open(dir); !errors.Is(err, ErrNotRegular) {
			t.Fatalf("err %v, want ErrNotRegular", err)
		}
	})
}

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

// TestObjectFIFOIsRefused: a FIFO in the object database (a loose object,
// a pack, its index, the alternates file) is an error in the history scan
// and in the staged scan, never an open that waits forever for a writer.
func TestObjectFIFOIsRefused(t *testing.T) {
	t.Parallel()
	cases := map[string]func(r *gitRepo) string{
		"loose object": func(r *gitRepo) string {
			return filepath.Join(".git", "objects", filepath.FromSlash(looseName(r.git("rev-parse", "HEAD:b.txt"))))
		},
		"alternates": func(r *gitRepo) string { return filepath.Join(".git", "objects", "info", "alternates") },
		"pack": func(r *gitRepo) string {
			r.git("repack", "-a", "-d", "-q")
			return packFile(r, ".pack")
		},
		"pack index": func(r *gitRepo) string {
			r.git("repack", "-a", "-d", "-q")
			return packFile(r, ".idx")
		},
	}
	for name, target := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := newRepo(t)
			r.write("a.txt", "a\n")
			r.commit("one")
			r.write("b.txt", "b\n")
			r.commit("two")
			r.write("c.txt", "c\n")
			r.git("add", "c.txt")
			p := filepath.Join(r.dir, target(r))
			os.Remove(p)
			if err := syscall.Mkfifo(p, 0o644); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
			_, res := scanRepo(t, r.dir, GitOptions{})
			if !hasNotRegular(res.Errors) {
				t.Errorf("history scan: errors %v, want ErrNotRegular", res.Errors)
			}
			if name != "loose object" { // the staged scan reads only c.txt's blob and HEAD's trees
				if errs := ScanStaged(r.dir, StagedOptions{}).Errors; !hasNotRegular(errs) {
					t.Errorf("staged scan: errors %v, want ErrNotRegular", errs)
				}
			}
		})
	}
}

func looseName(h string) string { return h[:2] + "/" + h[2:] }

func packFile(r *gitRepo, ext string) string {
	r.t.Helper()
	m, err := filepath.Glob(filepath.Join(r.dir, ".git", "objects", "pack", "*"+ext))
	if err != nil || len(m) != 1 {
		r.t.Fatalf("packs %v (%v)", m, err)
	}
	rel, _ := filepath.Rel(r.dir, m[0])
	return rel
}

func hasNotRegular(errs []error) bool {
	for _, err := range errs {
		if errors.Is(err, gitdir.ErrNotRegular) {
			return true
		}
	}
	return false
}

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

// TestCheckSupportedRefusesUnknownFormats: what git refuses to read
// (a format version above 1, an unknown extension from version 1), and
// what gemscan cannot read (reftable refs, sha256 objects), is refused
// with ErrUnsupported; what it can read passes.
func TestCheckSupportedRefusesUnknownFormats(t *testing.T) {
	gittest.Need(t)
	for _, c := range []struct {
		name   string
		config [][2]string
		ok     bool
		want   string
	}{
		{"plain", nil, true, ""},
		{"v1 partial clone", [][2]string{{"core.repositoryformatversion", "1"}, {"extensions.partialClone", "origin"}}, true, ""},
		{"v1 worktree config", [][2]string{{"core.repositoryformatversion", "1"}, {"extensions.worktreeConfig", "true"}}, true, ""},
		{"files refs", [][2]string{{"core.repositoryformatversion", "1"}, {"extensions.refStorage", "files"}}, true, ""},
		{"unknown v0", [][2]string{{"extensions.frobnicate", "yes"}}, true, ""},
		{"reftable", [][2]string{{"core.repositoryformatversion", "1"}, {"extensions.refStorage", "reftable"}}, false, "reftable"},
		{"reftable v0", [][2]string{{"extensions.refStorage", "reftable"}}, false, "reftable"},
		{"sha256", [][2]string{{"core.repositoryformatversion", "1"}, {"extensions.objectFormat", "sha256"}}, false, "sha256"},
		{"unknown v1", [][2]string{{"core.repositoryformatversion", "1"}, {"extensions.frobnicate", "yes"}}, false, "frobnicate"},
		{"version 2", [][2]string{{"core.repositoryformatversion", "2"}}, false, "version 2"},
		{"version garbage", [][2]string{{"core.repositoryformatversion", "one"}}, false, "not a number"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			gittest.Run(t, dir, "init", "-q", "-b", "main")
			for _, kv := range c.config {
				gittest.Run(t, dir, "config", kv[0], kv[1])
			}
			err := CheckSupported(open(t, dir))
			if c.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want ErrUnsupported naming %q", err, c.want)
			}
		})
	}
}

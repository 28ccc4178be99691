package scanner

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gemscan-dev/gemscan/internal/gittest"
	"github.com/gemscan-dev/gemscan/internal/odb"
)

// TestSelectCommitsMatchesRevList checks selectCommits against git rev-list
// on a history with branches, merges, tags and commits whose dates run
// backwards (clock skew), for several include/exclude combinations; and that
// excluding a long history reads only the commits near the new ones.
func TestSelectCommitsMatchesRevList(t *testing.T) {
	t.Parallel()
	gittest.Need(t)
	dir := t.TempDir()
	n := 0
	git := func(args ...string) string {
		t.Helper()
		n += 60
		return gittest.RunAt(t, dir, n, args...)
	}
	commit := func(msg string) {
		t.Helper()
		git("commit", "-q", "--allow-empty", "-m", msg)
	}
	git("init", "-q", "-b", "main")
	// 200 days of history, a commit a day up to 2024-01-01, in one
	// fast-import; the commits below are dated minutes into 2024.
	var stream strings.Builder
	for i := 0; i < 200; i++ {
		msg := fmt.Sprintf("main %d", i)
		fmt.Fprintf(&stream, "commit refs/heads/main\ncommitter Ada <ada@example.invalid> %d +0000\ndata %d\n%s\n", 1704067200-(200-i)*86400, len(msg), msg)
	}
	fi := exec.Command("git", "fast-import", "--quiet")
	fi.Dir, fi.Env, fi.Stdin = dir, gittest.Env(0), strings.NewReader(stream.String())
	if out, err := fi.CombinedOutput(); err != nil {
		t.Fatalf("fast-import: %v\n%s", err, out)
	}
	git("reset", "-q", "--hard", "main")
	git("tag", "v1")
	git("checkout", "-q", "-b", "feature")
	for i := 0; i < 5; i++ {
		commit(fmt.Sprintf("feature %d", i))
	}
	git("checkout", "-q", "main")
	commit("main after fork")
	git("merge", "-q", "--no-ff", "-m", "merge feature", "feature")
	// Commits dated hours before their parents (clock skew), and on
	// another branch a year before (more skew than the walk allows for).
	skewed := func(branch, date string) {
		t.Helper()
		git("checkout", "-q", "-b", branch, "v1")
		for i := 0; i < 3; i++ {
			cmd := exec.Command("git", "commit", "-q", "--allow-empty", "-m", fmt.Sprintf("%s %d", branch, i))
			cmd.Dir = dir
			cmd.Env = append(gittest.Env(0), fmt.Sprintf("GIT_COMMITTER_DATE=%s:%02dZ", date, i))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("commit: %v\n%s", err, out)
			}
		}
	}
	skewed("ancient", "2023-01-01T00:00")
	skewed("skewed", "2023-12-30T20:00")
	git("checkout", "-q", "-b", "topic", "feature~2")
	commit("topic 1")
	git("merge", "-q", "--no-ff", "-m", "merge main into topic", "main")
	commit("topic 2")

	db, err := odb.Open(filepath.Join(dir, ".git", "objects"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	reads := 0
	read := func(h plumbing.Hash) (odb.CommitInfo, error) {
		reads++
		data, err := db.ReadType(h, odb.Commit)
		if err != nil {
			return odb.CommitInfo{}, err
		}
		return odb.ParseCommit(data)
	}
	resolve := func(revs string) []plumbing.Hash {
		var hs []plumbing.Hash
		for _, r := range strings.Fields(revs) {
			hs = append(hs, plumbing.NewHash(gittest.Run(t, dir, "rev-parse", r+"^{commit}")))
		}
		return hs
	}
	for _, tc := range []struct {
		include, exclude string
		superset         bool
	}{
		{"main", "v1", false},
		{"topic", "main", false},
		{"main", "topic", false},
		{"topic skewed", "main feature", false},
		{"skewed", "main", false},
		{"main", "skewed", false},
		{"feature", "main", false},
		{"main topic skewed", "v1~100", false},
		{"main", "", false},
		{"main", "ancient", true},
		{"ancient", "main", false},
	} {
		t.Run(tc.include+" --not "+tc.exclude, func(t *testing.T) {
			args := append([]string{"rev-list"}, strings.Fields(tc.include)...)
			if tc.exclude != "" {
				args = append(append(args, "--not"), strings.Fields(tc.exclude)...)
			}
			want := strings.Fields(gittest.Run(t, dir, args...))
			reads = 0
			sel, err := selectCommits(context.Background(), resolve(tc.include), resolve(tc.exclude), nil, read)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for h := range sel {
				got = append(got, h.String())
			}
			sort.Strings(got)
			sort.Strings(want)
			if tc.superset {
				// More skew than revSkew: more may be selected, never less.
				for _, w := range want {
					if !sel[plumbing.NewHash(w)] {
						t.Fatalf("commit %s of rev-list's %d is not selected", w, len(want))
					}
				}
				return
			}
			if !slices.Equal(got, want) {
				t.Fatalf("selected %d commits, rev-list %d\ngot  %v\nwant %v", len(got), len(want), got, want)
			}
			if tc.include == "main" && tc.exclude == "v1" && reads > 20 {
				t.Errorf("excluding 200 days of history read %d commits", reads)
			}
		})
	}

	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := selectCommits(ctx, resolve("main"), nil, nil, read); err != context.Canceled {
			t.Fatalf("err %v, want context.Canceled", err)
		}
	})
	t.Run("unreadable commit", func(t *testing.T) {
		bad := plumbing.NewHash(strings.Repeat("ab", 20))
		if _, err := selectCommits(context.Background(), resolve("main"), []plumbing.Hash{bad}, nil, read); err == nil ||
			!strings.Contains(err.Error(), bad.String()) {
			t.Fatalf("err %v, want one naming %s", err, bad)
		}
	})
}

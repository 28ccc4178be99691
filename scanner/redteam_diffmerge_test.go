package scanner

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gemscan-dev/gemscan/internal/gittest"
)

// redteamMergeHistory writes, with one git fast-import, a history of
// commits commits whose every commit after the first has one to five
// parents (octopus merges) picked among all earlier commits. A merge's
// tree takes each path from a random parent (or drops it), then edits a
// few paths, some back to a blob another parent or path held: entries
// that differ from the first parent but match a later one, in every
// position of a directory. Every commit has a branch of its own. It
// returns the repository's directory.
func redteamMergeHistory(t *testing.T, seed uint64, commits int) string {
	t.Helper()
	gittest.Need(t)
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	dir := filepath.Join(t.TempDir(), "repo.git")
	gittest.Run(t, filepath.Dir(dir), "init", "-q", "--bare", dir)
	var s strings.Builder
	const blobs = 24
	for b := 1; b <= blobs; b++ {
		body := fmt.Sprintf("blob %d\n", b)
		fmt.Fprintf(&s, "blob\nmark :%d\ndata %d\n%s\n", b, len(body), body)
	}
	// Paths in a few directories, nested, some names sorting around a
	// directory's ("d", "d.txt", "d-") as git's tree order has it.
	var paths []string
	for _, d := range []string{"", "d/", "d/e/", "d-/", "z/"} {
		for _, f := range []string{"a", "d.txt", "d-", "m", "y", "zz"} {
			paths = append(paths, d+f)
		}
	}
	trees := make([]map[string]int, 0, commits)
	for c := 0; c < commits; c++ {
		tree := map[string]int{}
		var parents []int
		if c == 0 {
			for _, p := range paths {
				if r.IntN(2) == 0 {
					tree[p] = 1 + r.IntN(blobs)
				}
			}
		} else {
			n := min(1+r.IntN(5), c)
			if r.IntN(3) == 0 {
				n = 1
			}
			for len(parents) < n {
				p := r.IntN(c)
				if !slices.Contains(parents, p) {
					parents = append(parents, p)
				}
			}
			for _, p := range paths {
				src := trees[parents[r.IntN(len(parents))]]
				if b, ok := src[p]; ok && r.IntN(12) != 0 {
					tree[p] = b
				}
			}
			for e := r.IntN(4); e > 0; e-- {
				p := paths[r.IntN(len(paths))]
				switch r.IntN(4) {
				case 0:
					delete(tree, p)
				case 1: // a blob some parent holds elsewhere
					src := trees[parents[r.IntN(len(parents))]]
					for _, b := range src {
						tree[p] = b
						break
					}
				default:
					tree[p] = 1 + r.IntN(blobs)
				}
			}
		}
		trees = append(trees, tree)
		fmt.Fprintf(&s, "commit refs/heads/c%d\nmark :%d\ncommitter Ada <ada@example.invalid> %d +0000\ndata 0\n",
			c, 1000+c, 1704067200+c)
		for i, p := range parents {
			if i == 0 {
				fmt.Fprintf(&s, "from :%d\n", 1000+p)
			} else {
				fmt.Fprintf(&s, "merge :%d\n", 1000+p)
			}
		}
		s.WriteString("deleteall\n")
		ps := slices.Sorted(maps.Keys(tree))
		for _, p := range ps {
			fmt.Fprintf(&s, "M 100644 :%d %s\n", tree[p], p)
		}
		s.WriteString("\n")
	}
	gittest.FastImport(t, dir, s.String())
	return dir
}

// TestRedteamOctopusDiffMatchesWholeTrees holds the diff (stopping at
// identical rests, other parents read only up to the first's last change,
// not at all when nothing differs from it) to the rule applied to whole
// flattened trees, on histories of octopus merges whose trees mix their
// parents' entries path by path.
func TestRedteamOctopusDiffMatchesWholeTrees(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 3; seed++ {
		repo := redteamMergeHistory(t, seed, 70)
		r, err := openRepo(repo)
		if err != nil {
			t.Fatal(err)
		}
		h := &history{r: r, res: &Result{}, maxEntries: maxDiffEntries, runSize: 1 << 20}
		if err := h.graph(context.Background()); err != nil {
			t.Fatal(err)
		}
		h.diffAll(context.Background())
		r.close()
		if len(h.res.Errors) != 0 || h.res.Stats.Commits != 70 {
			t.Fatalf("seed %d: %d commits, errors %v", seed, h.res.Stats.Commits, h.res.Errors)
		}
		merges := 0
		for i := range h.nodes {
			if len(h.parentsOf(&h.nodes[i])) > 2 {
				merges++
			}
		}
		if merges < 5 {
			t.Fatalf("seed %d: only %d octopus merges", seed, merges)
		}
		want := naiveIntros(t, repo, h)
		got := map[string]bool{}
		for _, in := range h.intros {
			got[fmt.Sprintf("%s %s %d", h.paths.list[in.path], in.blob, in.order)] = true
		}
		if !maps.Equal(got, want) {
			var missing, extra []string
			for k := range want {
				if !got[k] {
					missing = append(missing, k)
				}
			}
			for k := range got {
				if !want[k] {
					extra = append(extra, k)
				}
			}
			sort.Strings(missing)
			sort.Strings(extra)
			t.Fatalf("seed %d: the diff misses %d intros %v and adds %d %v", seed, len(missing), missing, len(extra), extra)
		}
	}
}

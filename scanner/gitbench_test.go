package scanner

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gemscan-dev/gemscan/internal/gittest"
	"github.com/gemscan-dev/gemscan/internal/odb"
)

// benchHistory is a generated history shaped like a real project's: a root
// of 120 entries with three directories of 200 files, 800 commits that
// each edit a few files, and a side branch merged every 25 commits. It is
// repacked as git gc would, so trees and blobs are stored as deltas.
var benchHistory struct {
	once sync.Once
	dir  string
	err  error
}

func benchRepo(b *testing.B) string {
	b.Helper()
	gittest.Need(b)
	benchHistory.once.Do(func() {
		dir, err := os.MkdirTemp("", "gemscan-bench-history-")
		if err != nil {
			benchHistory.err = err
			return
		}
		benchHistory.dir = filepath.Join(dir, "repo.git")
		benchHistory.err = buildBenchHistory(benchHistory.dir, 800)
	})
	if benchHistory.err != nil {
		b.Fatal(benchHistory.err)
	}
	return benchHistory.dir
}

// buildBenchHistory writes the history, with commits commits after the
// first, into a new bare repository at dir. Some commits remove a file.
func buildBenchHistory(dir string, commits int) error {
	var s strings.Builder
	file := func(path string, rev int) {
		var body strings.Builder
		for l := 0; l < 40; l++ {
			fmt.Fprintf(&body, "line %d of %s, revision %d\n", l, path, rev*(l%3))
		}
		fmt.Fprintf(&s, "M 100644 inline %s\ndata %d\n%s\n", path, body.Len(), body.String())
	}
	path := func(i int) string {
		switch d := i % 4; d {
		case 0:
			return fmt.Sprintf("root-%03d.txt", i/4%120)
		default:
			return fmt.Sprintf("%s/file-%03d.c", []string{"", "src", "docs", "t"}[d], i/4%200)
		}
	}
	mark := 0
	commit := func(branch string, from, merge int, edits []int) int {
		mark++
		fmt.Fprintf(&s, "commit refs/heads/%s\nmark :%d\ncommitter Ada <ada@example.invalid> %d +0000\ndata 2\nc\n",
			branch, mark, 1700000000+mark*60)
		if from > 0 {
			fmt.Fprintf(&s, "from :%d\n", from)
		}
		if merge > 0 {
			fmt.Fprintf(&s, "merge :%d\n", merge)
		}
		for _, e := range edits {
			file(path(e), mark)
		}
		return mark
	}
	var all []int
	for i := 0; i < 4*200; i++ {
		all = append(all, i)
	}
	main := commit("main", 0, 0, all)
	side := main
	for i := 1; i <= commits; i++ {
		if i%25 == 0 {
			main = commit("main", main, side, []int{i * 7, i*7 + 1, i*7 + 2}) // edits of its own too
			side = main
			continue
		}
		if i%3 == 0 {
			side = commit("side", side, 0, []int{i * 13, i*13 + 1})
			continue
		}
		main = commit("main", main, 0, []int{i * 5, i*5 + 2, i*5 + 3})
		if i%10 == 1 {
			fmt.Fprintf(&s, "D %s\n", path(i*11)) // a removal (put back by a later edit)
		}
	}
	if out, err := exec.Command("git", "init", "-q", "--bare", "-b", "main", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("git init: %v: %s", err, out)
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(s.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("fast-import: %v: %s", err, out)
	}
	if out, err := exec.Command("git", "-C", dir, "repack", "-adfq", "--depth=50", "--window=50").CombinedOutput(); err != nil {
		return fmt.Errorf("repack: %v: %s", err, out)
	}
	return nil
}

// BenchmarkHistory scans the whole generated history, as gemscan git does.
func BenchmarkHistory(b *testing.B) {
	repo := benchRepo(b)
	b.ReportAllocs()
	for b.Loop() {
		res := ScanGit(context.Background(), repo, GitOptions{Options: Options{MaxFileSize: 10 << 20}})
		if len(res.Errors) > 0 || res.Stats.Commits != 801 {
			b.Fatalf("%d commits, errors %v", res.Stats.Commits, res.Errors)
		}
	}
}

// BenchmarkHistoryDiff diffs every commit of the generated history against
// its parents: the part of a history scan that reads trees.
func BenchmarkHistoryDiff(b *testing.B) {
	repo := benchRepo(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r, err := openRepo(repo)
		if err != nil {
			b.Fatal(err)
		}
		if err := r.db.LoadIndexes(); err != nil {
			b.Fatal(err)
		}
		h := &history{r: r, res: &Result{}, maxEntries: maxDiffEntries}
		if err := h.graph(ctx); err != nil {
			b.Fatal(err)
		}
		h.diffAll(ctx)
		r.close()
		if len(h.res.Errors) > 0 || len(h.intros) < 2000 {
			b.Fatalf("%d intros, errors %v", len(h.intros), h.res.Errors)
		}
	}
}

// TestDiffRunsMerge: diffing the history in runs of a few commits on
// several workers finds what one run of all commits finds, in the same
// order: intros, paths, removals and errors.
func TestDiffRunsMerge(t *testing.T) {
	gittest.Need(t)
	t.Parallel()
	repo := filepath.Join(t.TempDir(), "repo.git")
	if err := buildBenchHistory(repo, 150); err != nil {
		t.Fatal(err)
	}
	diff := func(runSize int) *history {
		r, err := openRepo(repo)
		if err != nil {
			t.Fatal(err)
		}
		defer r.close()
		h := &history{r: r, res: &Result{}, maxEntries: maxDiffEntries, runSize: runSize}
		if err := h.graph(context.Background()); err != nil {
			t.Fatal(err)
		}
		h.diffAll(context.Background())
		return h
	}
	one := diff(1 << 20)
	if len(one.intros) < 800 || len(one.removals) == 0 || len(one.res.Errors) != 0 || one.res.Stats.Commits != 151 {
		t.Fatalf("%d intros, %d commits, errors %v", len(one.intros), one.res.Stats.Commits, one.res.Errors)
	}
	// The diff skips what it can (subtrees, runs of entries and rests
	// that are the same bytes, other parents past the first's changes):
	// it finds what the rule finds on every commit's whole tree.
	want := naiveIntros(t, repo, one)
	got := map[string]bool{}
	for _, in := range one.intros {
		got[fmt.Sprintf("%s %s %d", one.paths.list[in.path], in.blob, in.order)] = true
	}
	if !maps.Equal(got, want) || len(got) != len(one.intros) {
		t.Fatalf("the diff found %d intros (%d distinct), the whole trees %d", len(one.intros), len(got), len(want))
	}
	for _, size := range []int{1, 3, 7} {
		h := diff(size)
		if !slices.Equal(h.intros, one.intros) || !slices.Equal(h.paths.list, one.paths.list) ||
			!maps.EqualFunc(h.removals, one.removals, slices.Equal) || h.res.Stats.Commits != one.res.Stats.Commits ||
			!maps.Equal(h.needed, one.needed) || len(h.res.Errors) != 0 {
			t.Fatalf("runs of %d: %d intros, %d paths, %d removed paths; one run: %d, %d, %d (errors %v)", size,
				len(h.intros), len(h.paths.list), len(h.removals), len(one.intros), len(one.paths.list), len(one.removals), h.res.Errors)
		}
	}
}

// naiveIntros applies the diff's rule to every commit's whole tree,
// flattened: a blob is new at a path when no parent had that blob there.
// It returns "path blob order" for each. h is a diffed history of repo.
func naiveIntros(t *testing.T, repo string, h *history) map[string]bool {
	t.Helper()
	r, err := openRepo(repo)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	flat := map[plumbing.Hash]map[string]plumbing.Hash{}
	var flatten func(tree plumbing.Hash, prefix string, into map[string]plumbing.Hash)
	flatten = func(tree plumbing.Hash, prefix string, into map[string]plumbing.Hash) {
		data, err := r.db.ReadType(tree, odb.Tree)
		if err != nil {
			t.Fatal(err)
		}
		es, err := odb.ParseTree(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			switch {
			case e.IsTree():
				flatten(e.Hash, prefix+e.Name+"/", into)
			case e.IsBlob():
				into[prefix+e.Name] = e.Hash
			}
		}
	}
	treeOf := func(tree plumbing.Hash) map[string]plumbing.Hash {
		if m, ok := flat[tree]; ok {
			return m
		}
		m := map[string]plumbing.Hash{}
		flatten(tree, "", m)
		flat[tree] = m
		return m
	}
	want := map[string]bool{}
	for _, i := range h.order {
		n := &h.nodes[i]
		var parents []map[string]plumbing.Hash
		for _, p := range h.parentsOf(n) {
			if j, ok := h.byH[p]; ok {
				parents = append(parents, treeOf(h.nodes[j].tree))
			}
		}
		for path, blob := range treeOf(n.tree) {
			isNew := true
			for _, pm := range parents {
				if b, ok := pm[path]; ok && b == blob {
					isNew = false
				}
			}
			if isNew {
				want[fmt.Sprintf("%s %s %d", path, blob, n.order)] = true
			}
		}
	}
	return want
}

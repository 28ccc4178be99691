package scanner

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gemscan-dev/gemscan/internal/testkeys"
)

func stagedValues(t *testing.T, dir string, opts StagedOptions) []string {
	t.Helper()
	res := ScanStaged(dir, opts)
	if len(res.Errors) > 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	var out []string
	for _, f := range res.Findings {
		out = append(out, f.File+":"+strconv.Itoa(f.Line)+"="+f.Value)
	}
	return out
}

func expectValues(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestStagedCases(t *testing.T) {
	t.Parallel()
	g := testkeys.New(51)
	r := newRepo(t)
	old := g.APIKey()
	r.write("config/old.env", "OLD="+old+"\n")
	r.write("docs/readme.md", "hello\n")
	// A directory after a nested one, at every depth: the index's order
	// climbs back up the tree.
	r.write("x/y/z/deep.txt", "1\n")
	r.write("x/y/mid.txt", "2\n")
	r.write("x/top.txt", "3\n")
	r.write("x.txt", "4\n")
	for i := 0; i < 30; i++ {
		r.write(filepath.Join("pkg", "p"+strconv.Itoa(i), "f.go"), "package p\n")
	}
	r.commit("base")

	// Nothing staged.
	expectValues(t, stagedValues(t, r.dir, StagedOptions{}))

	// A modified file: only the added line is reported, not the old key.
	k1 := g.AQKey()
	r.write("config/old.env", "OLD="+old+"\nNEW="+k1+"\n")
	r.git("add", "config/old.env")
	expectValues(t, stagedValues(t, r.dir, StagedOptions{}), "config/old.env:2="+k1)
	// --all-lines judges the whole file.
	expectValues(t, stagedValues(t, r.dir, StagedOptions{AllLines: true}),
		"config/old.env:1="+old, "config/old.env:2="+k1)

	// Edited after git add: the staged content is judged.
	r.write("config/old.env", "OLD="+old+"\n")
	expectValues(t, stagedValues(t, r.dir, StagedOptions{}), "config/old.env:2="+k1)
	r.git("add", "config/old.env")
	expectValues(t, stagedValues(t, r.dir, StagedOptions{}))

	// A new file with a space and non-ASCII in its name, with CRLF.
	k2 := g.APIKey()
	r.write("dir with space/clé.env", "A=1\r\nKEY="+k2+"\r\n")
	r.git("add", "-A")
	expectValues(t, stagedValues(t, r.dir, StagedOptions{}), "dir with space/clé.env:2="+k2)
	r.commit("add clé")

	// A rename keeps its lines: nothing is added.
	r.git("mv", "dir with space/clé.env", "moved.env")
	expectValues(t, stagedValues(t, r.dir, StagedOptions{}))
	// A rename with an edit reports only the new line.
	k3 := g.AQKey()
	os.WriteFile(filepath.Join(r.dir, "moved.env"), []byte("A=1\r\nKEY="+k2+"\r\nMORE="+k3+"\r\n"), 0o644)
	r.git("add", "moved.env")
	expectValues(t, stagedValues(t, r.dir, StagedOptions{}), "moved.env:3="+k3)
	r.commit("move")

	// A copy adds the credential at a new place.
	r.git("rm", "-q", "--cached", "docs/readme.md")
	r.write("copy.env", "KEY="+k2+"\n")
	r.git("add", "copy.env")
	got := stagedValues(t, r.dir, StagedOptions{})
	if len(got) != 1 || !strings.HasPrefix(got[0], "copy.env:1=") {
		t.Errorf("copy: %v", got)
	}
	r.git("reset", "-q")

	// A deletion scans nothing.
	r.git("rm", "-q", "moved.env")
	expectValues(t, stagedValues(t, r.dir, StagedOptions{}))
	r.git("reset", "-q", "--hard")

	// A binary file is scanned, unless SkipBinary skips it.
	r.write("bin.dat", "\x00\x01KEY="+k3+"\n")
	r.git("add", "bin.dat")
	expectValues(t, stagedValues(t, r.dir, StagedOptions{}), "bin.dat:1="+k3)
	expectValues(t, stagedValues(t, r.dir, StagedOptions{Options: Options{SkipBinary: true}}))
	r.git("reset", "-q")
	os.Remove(filepath.Join(r.dir, "bin.dat"))

	// Deep in an unchanged tree: the index's directory hashes match HEAD's
	// everywhere else, so exactly one file is read.
	k4 := g.APIKey()
	r.write("pkg/p17/f.go", "package p\nconst k = \""+k4+"\"\n")
	r.git("add", "pkg/p17/f.go")
	expectValues(t, stagedValues(t, r.dir, StagedOptions{}), "pkg/p17/f.go:2="+k4)
	if res := ScanStaged(r.dir, StagedOptions{}); res.Stats.Files != 1 {
		t.Errorf("scanned %d files for one staged change", res.Stats.Files)
	}

	// From a subdirectory.
	expectValues(t, stagedValues(t, filepath.Join(r.dir, "docs"), StagedOptions{}), "pkg/p17/f.go:2="+k4)

	// Files given (pre-commit): a listed unchanged file makes the run judge
	// listed files whole.
	expectValues(t, stagedValues(t, r.dir, StagedOptions{Files: []string{"pkg/p17/f.go"}}), "pkg/p17/f.go:2="+k4)
	expectValues(t, stagedValues(t, r.dir, StagedOptions{Files: []string{"moved.env", "docs/readme.md"}}),
		"moved.env:2="+k2, "moved.env:3="+k3)

	// After git gc the HEAD objects are packed (and deltified).
	r.git("gc", "-q")
	expectValues(t, stagedValues(t, r.dir, StagedOptions{}), "pkg/p17/f.go:2="+k4)
}

func TestStagedFirstCommit(t *testing.T) {
	t.Parallel()
	g := testkeys.New(52)
	r := newRepo(t)
	k := g.AQKey()
	r.write("a.env", "K="+k+"\n")
	r.git("add", "a.env")
	expectValues(t, stagedValues(t, r.dir, StagedOptions{}), "a.env:1="+k)
}

func TestStagedWorktreeAlternatesMerge(t *testing.T) {
	t.Parallel()
	g := testkeys.New(53)
	r := newRepo(t)
	r.write("a.txt", "a\n")
	r.write("conflict.txt", "base\n")
	r.commit("base")
	r.git("gc", "-q")

	// A linked worktree: its own index and HEAD, the common objects.
	wt := filepath.Join(t.TempDir(), "wt")
	r.git("worktree", "add", "-q", "-b", "wt", wt)
	k := g.APIKey()
	os.WriteFile(filepath.Join(wt, "w.env"), []byte("K="+k+"\n"), 0o644)
	runGit(t, wt, 1, "add", "w.env")
	expectValues(t, stagedValues(t, wt, StagedOptions{}), "w.env:1="+k)
	expectValues(t, stagedValues(t, r.dir, StagedOptions{}))

	// A clone that borrows objects through alternates.
	clone := filepath.Join(t.TempDir(), "clone")
	runGit(t, ".", 0, "clone", "-q", "--shared", r.dir, clone)
	k2 := g.AQKey()
	os.WriteFile(filepath.Join(clone, "a.txt"), []byte("a\nK="+k2+"\n"), 0o644)
	runGit(t, clone, 1, "add", "a.txt")
	expectValues(t, stagedValues(t, clone, StagedOptions{}), "a.txt:2="+k2)

	// A commit in the middle of a merge: conflicts are skipped until
	// resolved, then the resolution is judged.
	r.conflictedMerge()
	expectValues(t, stagedValues(t, r.dir, StagedOptions{}))
	k3 := g.APIKey()
	r.write("conflict.txt", "resolved "+k3+"\n")
	r.git("add", "conflict.txt")
	expectValues(t, stagedValues(t, r.dir, StagedOptions{}), "conflict.txt:1="+k3)
}

// TestCacheTreeAgreesWithHashing compares the changes found with the
// index's cache-tree and without it (every directory hashed from its
// entries), and checks the cache-tree spares that hashing.
func TestCacheTreeAgreesWithHashing(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	for i := 0; i < 5; i++ {
		for j := 0; j < 4; j++ {
			r.write(filepath.Join("d"+strconv.Itoa(i), "s"+strconv.Itoa(j), "f.txt"), "x\n")
		}
		r.write(filepath.Join("d"+strconv.Itoa(i), "top.txt"), "y\n")
	}
	r.commit("base")
	r.write("d3/s1/f.txt", "changed\n")
	r.write("d3/new.txt", "new\n")
	r.git("rm", "-q", "d1/top.txt")
	// Named paths: "add -A" re-adds racily clean files (written in the
	// same second as the index), which invalidates their directories too.
	r.git("add", "d3/s1/f.txt", "d3/new.txt")
	run := func(useTree bool) ([]string, int) {
		s, err := openStaged(r.dir, StagedOptions{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.close()
		if !useTree {
			s.cacheTree = nil
		} else if s.cacheTree == nil {
			t.Fatal("git wrote no cache-tree")
		}
		tr := s.newTreeOf()
		if err := s.compare(tr, 0, s.entries.Len(), "", s.cacheTree, s.head); err != nil {
			t.Fatal(err)
		}
		var paths []string
		for _, c := range s.changed {
			paths = append(paths, c.path)
		}
		return paths, len(tr.memo)
	}
	with, hashedWith := run(true)
	without, hashedWithout := run(false)
	want := "d3/new.txt d3/s1/f.txt"
	if strings.Join(with, " ") != want || strings.Join(without, " ") != want {
		t.Errorf("changes with cache-tree %v, without %v, want %s", with, without, want)
	}
	if hashedWith >= hashedWithout {
		t.Errorf("hashed %d directories with the cache-tree, %d without", hashedWith, hashedWithout)
	}
}

func TestStagedSplitAndSparseIndexes(t *testing.T) {
	t.Parallel()
	g := testkeys.New(54)
	r := newRepo(t)
	r.write("in/a.txt", "a\n")
	r.write("out/b.txt", "b\n")
	r.commit("base")
	k := g.APIKey()

	// A sparse index: out/ collapses to one tree entry; a key staged in
	// the cone is still found.
	r.git("sparse-checkout", "init", "--cone", "--sparse-index")
	r.git("sparse-checkout", "set", "in")
	r.write("in/a.txt", "a\nK="+k+"\n")
	r.git("add", "in/a.txt")
	s, err := openStaged(r.dir, StagedOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sparse := false
	for _, e := range s.entries.all() {
		sparse = sparse || e.Mode == modeTree && e.Name == "out/"
	}
	if !sparse {
		t.Fatalf("git wrote no sparse directory entry: %+v", s.entries.all())
	}
	// Without the cache-tree too: the sparse entry hashes as a subtree.
	tr := s.newTreeOf()
	if err := s.compare(tr, 0, s.entries.Len(), "", nil, s.head); err != nil || len(s.changed) != 1 || s.changed[0].path != "in/a.txt" {
		t.Fatalf("without cache-tree: %v, %+v", err, s.changed)
	}
	s.close()
	expectValues(t, stagedValues(t, r.dir, StagedOptions{}), "in/a.txt:2="+k)
	r.git("sparse-checkout", "disable")

	// A split index is refused, never passed.
	r.git("update-index", "--split-index")
	res := ScanStaged(r.dir, StagedOptions{})
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), "split") {
		t.Fatalf("split index: errors %v", res.Errors)
	}
}

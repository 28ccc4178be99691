package scanner

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/gemscan-dev/gemscan/internal/testkeys"
)

// TestGitHeadLocationAndRemoval: a finding still in HEAD carries its place
// in HEAD's version of the file; one that is gone names the commit that
// removed it from HEAD's history.
func TestGitHeadLocationAndRemoval(t *testing.T) {
	t.Parallel()
	g := testkeys.New(70)
	r := newRepo(t)
	r.write("base.txt", "base\n")
	base := r.commit("base")
	moved := g.APIKey()
	r.write("f.txt", "k="+moved+"\n")
	addF := r.commit("add")
	r.write("f.txt", "a\nb\nc\n   k="+moved+"\n")
	r.commit("move it down")

	deleted := g.AQKey()
	r.write("g.txt", "k="+deleted+"\n")
	r.commit("add g")
	os.Remove(filepath.Join(r.dir, "g.txt"))
	deleteG := r.commit("delete g")

	edited := g.APIKey()
	r.write("d/h.txt", "k="+edited+"\n")
	r.commit("add h")
	r.write("d/h.txt", "nothing here\n")
	editH := r.commit("edit h")

	again := g.AQKey()
	r.write("r.txt", "k="+again+"\n")
	r.commit("add r")
	r.write("r.txt", "x\n")
	r.commit("remove r")
	r.write("r.txt", "k="+again+"\n")
	r.commit("re-add r")
	r.write("r.txt", "y\n")
	lastRemoval := r.commit("remove r again")

	deep := g.APIKey()
	r.write("e/deep/x.txt", "k="+deep+"\n")
	r.write("keep.txt", "keep\n")
	r.commit("add e")
	os.RemoveAll(filepath.Join(r.dir, "e"))
	removeDir := r.commit("remove e")

	r.git("checkout", "-q", "-b", "side")
	sideKey := g.APIKey()
	r.write("side.txt", "k="+sideKey+"\n")
	r.commit("side")
	r.git("checkout", "-q", "main")

	res := ScanGit(context.Background(), r.dir, GitOptions{})
	noErrors(t, res)
	want := map[string]struct {
		inHead               bool
		line, hLine, hColumn int
		removedBy            string
	}{
		moved:   {true, 1, 4, 6, ""},
		deleted: {false, 1, 0, 0, deleteG},
		edited:  {false, 1, 0, 0, editH},
		again:   {false, 1, 0, 0, lastRemoval},
		deep:    {false, 1, 0, 0, removeDir},
		sideKey: {false, 1, 0, 0, ""},
	}
	if len(res.Findings) != len(want) {
		t.Fatalf("got %d findings, want %d: %v", len(res.Findings), len(want), res.Findings)
	}
	for _, f := range res.Findings {
		w, ok := want[f.Value]
		if !ok {
			t.Errorf("unexpected finding %s in %s", f.Value, f.File)
			continue
		}
		if f.InHead != w.inHead || f.Line != w.line || f.HeadLine != w.hLine || f.HeadColumn != w.hColumn || f.RemovedBy != w.removedBy {
			t.Errorf("%s: in_head=%v line=%d head=%d:%d removed_by=%.7s; want %v %d %d:%d %.7s", f.File,
				f.InHead, f.Line, f.HeadLine, f.HeadColumn, f.RemovedBy, w.inHead, w.line, w.hLine, w.hColumn, w.removedBy)
		}
	}

	// A range that stops before HEAD: HEAD's version is read to place it.
	res = ScanGit(context.Background(), r.dir, GitOptions{Range: base + ".." + addF})
	noErrors(t, res)
	if len(res.Findings) != 1 || !res.Findings[0].InHead || res.Findings[0].Line != 1 || res.Findings[0].HeadLine != 4 {
		t.Errorf("range before HEAD: %+v", res.Findings)
	}
}

// TestGitRefErrors: every ref that cannot be resolved to a commit is an
// error naming it, except a tag on a tree or blob.
func TestGitRefErrors(t *testing.T) {
	t.Parallel()
	g := testkeys.New(71)
	r := newRepo(t)
	mainKey := g.APIKey()
	r.write("main.txt", "k="+mainKey+"\n")
	r.commit("main")
	r.git("tag", "tree-tag", "HEAD^{tree}")
	r.git("tag", "-a", "-m", "blob", "blob-tag", "HEAD:main.txt")

	t.Run("a tag on a tree or blob is harmless", func(t *testing.T) {
		got, res := scanRepo(t, r.dir, GitOptions{})
		noErrors(t, res)
		if len(got) != 1 || got[0].value != mainKey {
			t.Errorf("findings %v", got)
		}
	})

	r.git("checkout", "-q", "-b", "b")
	r.write("b.txt", "k="+g.AQKey()+"\n")
	tip := r.commit("b")
	r.git("checkout", "-q", "main")
	gitDir := filepath.Join(r.dir, ".git")
	writeLoose(t, gitDir, tip, "commit", []byte("tree nonsense\n"))
	r.git("checkout", "-q", "-b", "c")
	r.write("c.txt", "k="+g.AQKey()+"\n")
	cTip := r.commit("c")
	r.git("checkout", "-q", "main")
	os.Chmod(filepath.Join(gitDir, "objects", cTip[:2], cTip[2:]), 0o644)
	if err := os.WriteFile(filepath.Join(gitDir, "objects", cTip[:2], cTip[2:]), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	setRef(t, gitDir, "refs/heads/on-a-tree", r.git("rev-parse", "HEAD^{tree}"))
	setRef(t, gitDir, "refs/heads/missing", "0123456789012345678901234567890123456789")

	got, res := scanRepo(t, r.dir, GitOptions{})
	for _, ref := range []string{"refs/heads/b", "refs/heads/c", "refs/heads/on-a-tree", "refs/heads/missing"} {
		if !errorsMention(res.Errors, ref) {
			t.Errorf("errors %v do not name %s", res.Errors, ref)
		}
	}
	if errorsMention(res.Errors, "tree-tag") || errorsMention(res.Errors, "blob-tag") {
		t.Errorf("a tag on a tree or blob was reported: %v", res.Errors)
	}
	if len(got) != 1 || got[0].value != mainKey {
		t.Errorf("the intact branch's finding was lost: %v", got)
	}
}

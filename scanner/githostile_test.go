package scanner

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gemscan-dev/gemscan/internal/gittest"
	"github.com/gemscan-dev/gemscan/internal/testkeys"
	"github.com/gemscan-dev/gemscan/rules"
)

// objectID returns the hex SHA-1 git gives an object of type typ.
func objectID(typ string, data []byte) string {
	sum := sha1.Sum(append([]byte(fmt.Sprintf("%s %d\x00", typ, len(data))), data...))
	return hex.EncodeToString(sum[:])
}

// writeLoose writes a loose object under name, which need not be its hash:
// forged repositories name objects whatever they like.
func writeLoose(t *testing.T, gitDir, name, typ string, data []byte) {
	t.Helper()
	var buf bytes.Buffer
	z := zlib.NewWriter(&buf)
	fmt.Fprintf(z, "%s %d\x00", typ, len(data))
	z.Write(data)
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(gitDir, "objects", name[:2], name[2:])
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// treeEntry is one entry of a forged tree object.
type treeEntry struct{ mode, name, hash string }

func treeData(t *testing.T, es ...treeEntry) []byte {
	t.Helper()
	var b []byte
	for _, e := range es {
		h, err := hex.DecodeString(e.hash)
		if err != nil || len(h) != 20 {
			t.Fatalf("bad hash %q", e.hash)
		}
		b = append(b, e.mode+" "+e.name+"\x00"...)
		b = append(b, h...)
	}
	return b
}

func commitData(tree string, parents ...string) []byte {
	s := "tree " + tree + "\n"
	for _, p := range parents {
		s += "parent " + p + "\n"
	}
	s += "author Ada <ada@example.invalid> 1704067200 +0000\ncommitter Ada <ada@example.invalid> 1704067200 +0000\n\nforged\n"
	return []byte(s)
}

// setRef points a loose ref at h without git's checks on the object.
func setRef(t *testing.T, gitDir, ref, h string) {
	t.Helper()
	p := filepath.Join(gitDir, filepath.FromSlash(ref))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(h+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// errorsMention reports whether some error's text holds s.
func errorsMention(errs []error, s string) bool {
	for _, e := range errs {
		if strings.Contains(e.Error(), s) {
			return true
		}
	}
	return false
}

// TestGitMergesJudgedLikeGit: a merge introduces only what no parent had
// at that path, so a branch that merged its base in is not blamed for the
// base's keys, while a key written while resolving a conflict is caught.
func TestGitMergesJudgedLikeGit(t *testing.T) {
	t.Parallel()
	g := testkeys.New(60)
	r := newRepo(t)
	r.write("conflict.txt", "start\n")
	r.commit("base")
	r.git("checkout", "-q", "-b", "pr")
	r.write("pr.txt", "the change\n")
	r.commit("pr work")
	r.git("checkout", "-q", "main")
	baseKey := g.APIKey()
	r.write("base.txt", "k="+baseKey+"\n")
	onBase := r.commit("someone else's key, on the base")
	r.write("conflict.txt", "main side\n")
	r.commit("main edits conflict.txt")
	mainTip := r.git("rev-parse", "HEAD")

	// "Update branch": pr merges main in; conflict.txt conflicts and is
	// resolved by writing a key.
	r.git("checkout", "-q", "pr")
	r.write("conflict.txt", "pr side\n")
	r.commit("pr edits conflict.txt")
	r.n++
	if _, err := gitTry(r, "merge", "-q", "main"); err == nil {
		t.Fatal("the merge did not conflict")
	}
	resolveKey := g.AQKey()
	r.write("conflict.txt", "resolved with "+resolveKey+"\n")
	r.git("add", "-A")
	r.git("commit", "-q", "-m", "merge main into pr")
	merge := r.git("rev-parse", "HEAD")
	// A clean merge of the base too, with the base as first parent.
	r.git("checkout", "-q", "-b", "integration", mainTip)
	r.n++
	r.git("merge", "-q", "--no-ff", "-m", "integrate", "pr")

	t.Run("range of the pull request", func(t *testing.T) {
		got, res := scanRepo(t, r.dir, GitOptions{Range: mainTip + ".." + merge})
		noErrors(t, res)
		expectFindings(t, got,
			found{rule: rules.GoogleGemini, path: "conflict.txt", commit: merge, inHead: true, value: resolveKey})
	})
	t.Run("whole history", func(t *testing.T) {
		got, res := scanRepo(t, r.dir, GitOptions{})
		noErrors(t, res)
		expectFindings(t, got,
			found{rule: rules.GoogleAPI, path: "base.txt", commit: onBase, inHead: true, value: baseKey},
			found{rule: rules.GoogleGemini, path: "conflict.txt", commit: merge, inHead: true, value: resolveKey})
	})
	t.Run("merge with the base first", func(t *testing.T) {
		got, res := scanRepo(t, r.dir, GitOptions{Range: merge + "..integration"})
		noErrors(t, res)
		expectFindings(t, got) // it adds nothing either parent lacked
	})
}

func gitTry(r *gitRepo, args ...string) (string, error) {
	r.t.Helper()
	return gittest.Try(r.dir, r.n, args...)
}

func errorsIs(errs []error, target error) bool {
	for _, e := range errs {
		if errors.Is(e, target) {
			return true
		}
	}
	return false
}

// TestGitUnreadableParentTree: a parent tree that cannot be read is an
// error, and the child is compared with the empty tree, so its new key is
// still found.
func TestGitUnreadableParentTree(t *testing.T) {
	t.Parallel()
	g := testkeys.New(61)
	r := newRepo(t)
	r.write("a.txt", "a\n")
	r.commit("one")
	parentTree := r.git("rev-parse", "HEAD^{tree}")
	k := g.APIKey()
	r.write("key.txt", "k="+k+"\n")
	child := r.commit("two")
	writeLoose(t, filepath.Join(r.dir, ".git"), parentTree, "tree", []byte("garbage, not a tree"))
	got, res := scanRepo(t, r.dir, GitOptions{})
	if !errorsMention(res.Errors, parentTree) {
		t.Errorf("errors %v do not name the unreadable tree %s", res.Errors, parentTree)
	}
	expectFindings(t, got, found{rule: rules.GoogleAPI, path: "key.txt", commit: child, inHead: true, value: k})
}

// TestGitCommitCycle: forged commits that are each other's parent are an
// error naming one of them, never silently dropped.
func TestGitCommitCycle(t *testing.T) {
	t.Parallel()
	g := testkeys.New(62)
	r := newRepo(t)
	r.write("a.txt", "a\n")
	r.commit("honest")
	k := g.APIKey()
	gitDir := filepath.Join(r.dir, ".git")
	blob := []byte("k=" + k + "\n")
	blobID := objectID("blob", blob)
	writeLoose(t, gitDir, blobID, "blob", blob)
	tree := treeData(t, treeEntry{"100644", "loop.txt", blobID})
	treeID := objectID("tree", tree)
	writeLoose(t, gitDir, treeID, "tree", tree)
	other := treeData(t, treeEntry{"100644", "other.txt", objectID("blob", []byte("a\n"))})
	otherID := objectID("tree", other)
	writeLoose(t, gitDir, otherID, "tree", other)
	// Two names whose objects name each other as parent.
	a, b := strings.Repeat("a1", 20), strings.Repeat("b2", 20)
	writeLoose(t, gitDir, a, "commit", commitData(treeID, b))
	writeLoose(t, gitDir, b, "commit", commitData(otherID, a))
	setRef(t, gitDir, "refs/heads/loop", a)

	t.Run("its own parent", func(t *testing.T) {
		self := strings.Repeat("e5", 20)
		writeLoose(t, gitDir, self, "commit", commitData(treeID, self))
		setRef(t, gitDir, "refs/heads/self", self)
		defer os.Remove(filepath.Join(gitDir, "refs", "heads", "self"))
		res := ScanGit(context.Background(), r.dir, GitOptions{Branches: []string{"self"}})
		if !errorsMention(res.Errors, self) {
			t.Fatalf("errors %v do not name the commit %s", res.Errors, self)
		}
		// ~N on a loop ends at once (it used to walk it N times), in the
		// loop check or, where loose objects' hashes are checked, at the
		// forged commit itself.
		res = ScanGit(context.Background(), r.dir, GitOptions{Range: "self~2000000000..self"})
		if !errorsMention(res.Errors, self) {
			t.Fatalf("errors %v do not name the commit %s", res.Errors, self)
		}
	})

	got, res := scanRepo(t, r.dir, GitOptions{})
	if !errorsMention(res.Errors, a) && !errorsMention(res.Errors, b) {
		t.Fatalf("errors %v name neither commit of the cycle", res.Errors)
	}
	if errorsMention(res.Errors, "loops back") {
		// The cycle was read (no hash check refused it): its content
		// is still scanned.
		if len(got) != 1 || got[0].value != k || got[0].path != "loop.txt" {
			t.Errorf("the cycle's key was lost: %v", got)
		}
	}
}

// TestGitTreeContainsItself: a forged tree naming itself as a subtree ends
// in an error naming it, not in an endless descent.
func TestGitTreeContainsItself(t *testing.T) {
	t.Parallel()
	g := testkeys.New(63)
	r := newRepo(t)
	r.write("a.txt", "a\n")
	r.commit("honest")
	gitDir := filepath.Join(r.dir, ".git")
	k := g.AQKey()
	blob := []byte("k=" + k + "\n")
	blobID := objectID("blob", blob)
	writeLoose(t, gitDir, blobID, "blob", blob)
	for name, self := range map[string]func(x, y string) ([]byte, []byte){
		"directly": func(x, _ string) ([]byte, []byte) {
			return treeData(t, treeEntry{"100644", "key.txt", blobID}, treeEntry{"40000", "sub", x}), nil
		},
		"through another tree": func(x, y string) ([]byte, []byte) {
			return treeData(t, treeEntry{"100644", "key.txt", blobID}, treeEntry{"40000", "sub", y}),
				treeData(t, treeEntry{"40000", "back", x}, treeEntry{"40000", "twice", x})
		},
	} {
		t.Run(name, func(t *testing.T) {
			x, y := strings.Repeat("c3", 20), strings.Repeat("d4", 20)
			dx, dy := self(x, y)
			writeLoose(t, gitDir, x, "tree", dx)
			if dy != nil {
				writeLoose(t, gitDir, y, "tree", dy)
			}
			c := commitData(x)
			cid := objectID("commit", c)
			writeLoose(t, gitDir, cid, "commit", c)
			setRef(t, gitDir, "refs/heads/selfish", cid)
			got, res := scanRepo(t, r.dir, GitOptions{})
			if !errorsMention(res.Errors, x) {
				t.Fatalf("errors %v do not name the tree %s", res.Errors, x)
			}
			if errorsMention(res.Errors, "contains itself") {
				if len(got) != 1 || got[0].value != k {
					t.Errorf("the key beside the loop was lost: %v", got)
				}
			}
		})
	}
}

// TestGitTreeBomb: honest-looking trees that share subtrees name 2^n
// paths; the diff stops at its budget with an error instead of growing.
func TestGitTreeBomb(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	gitDir := filepath.Join(r.dir, ".git")
	blob := []byte("x\n")
	level := objectID("blob", blob)
	writeLoose(t, gitDir, level, "blob", blob)
	level0 := treeData(t, treeEntry{"100644", "f", level})
	level = objectID("tree", level0)
	writeLoose(t, gitDir, level, "tree", level0)
	for i := 0; i < 40; i++ {
		d := treeData(t, treeEntry{"40000", "a", level}, treeEntry{"40000", "b", level})
		level = objectID("tree", d)
		writeLoose(t, gitDir, level, "tree", d)
	}
	c := commitData(level)
	cid := objectID("commit", c)
	writeLoose(t, gitDir, cid, "commit", c)
	setRef(t, gitDir, "refs/heads/main", cid)
	res := scanGit(context.Background(), r.dir, GitOptions{}, 5000)
	if !errorsMention(res.Errors, "more than 5000 entries") || !errorsMention(res.Errors, level) {
		t.Fatalf("errors %v do not refuse the tree bomb %s", res.Errors, level)
	}
}

// TestGitCancelled: a cancelled scan ends at once with the context's error.
func TestGitCancelled(t *testing.T) {
	t.Parallel()
	g := testkeys.New(64)
	r := newRepo(t)
	for i := 0; i < 3; i++ {
		r.write(fmt.Sprintf("f%d.txt", i), "k="+g.APIKey()+"\n")
		r.commit("c")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := ScanGit(ctx, r.dir, GitOptions{})
	if len(res.Errors) == 0 || !errorsIs(res.Errors, context.Canceled) {
		t.Fatalf("errors %v do not say the scan was cancelled", res.Errors)
	}
}

// partialClone makes a blob:none clone of a repository whose first commit
// held a key that a later commit removed: that blob is never fetched.
func partialClone(t *testing.T) (clone, removedKey, headKey string) {
	t.Helper()
	g := testkeys.New(65)
	origin := newRepo(t)
	origin.git("config", "uploadpack.allowFilter", "true")
	origin.git("config", "uploadpack.allowAnySHA1InWant", "true")
	removedKey, headKey = g.APIKey(), g.AQKey()
	origin.write("old.txt", "k="+removedKey+"\n")
	origin.write("old2.txt", "k2="+removedKey+"\n")
	origin.commit("old")
	os.Remove(filepath.Join(origin.dir, "old.txt"))
	os.Remove(filepath.Join(origin.dir, "old2.txt"))
	origin.write("head.txt", "k="+headKey+"\n")
	origin.commit("new")
	clone = filepath.Join(t.TempDir(), "partial")
	runGit(t, ".", 0, "clone", "-q", "--filter=blob:none", "file://"+origin.dir, clone)
	return clone, removedKey, headKey
}

// TestGitPartialCloneFailsClosed: blobs a partial clone never fetched are
// one error saying how many and why, not a note with a clean exit.
func TestGitPartialCloneFailsClosed(t *testing.T) {
	t.Parallel()
	clone, _, headKey := partialClone(t)
	got, res := scanRepo(t, clone, GitOptions{})
	if len(res.Errors) != 1 || !errors.Is(res.Errors[0], errMissingBlobs) ||
		!strings.Contains(res.Errors[0].Error(), "2 blob(s) missing") || !strings.Contains(res.Errors[0].Error(), "partial clone") {
		t.Fatalf("errors %v: want one error counting 2 missing blobs of a partial clone", res.Errors)
	}
	if len(got) != 1 || got[0].value != headKey {
		t.Errorf("the fetched blob's finding was lost: %v", got)
	}
}

// countdownCtx is a context that reports cancellation after its Err has
// been asked n times: cancellation mid-scan without a clock.
type countdownCtx struct {
	context.Context
	n atomic.Int64
}

func (c *countdownCtx) Err() error {
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

// TestGitCancelledMidScan: the commit loader and the diff look at ctx as
// they go, so a scan cancelled part way stops with ctx's error.
func TestGitCancelledMidScan(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	const commits = 3000
	var script strings.Builder
	for i := 1; i <= commits; i++ {
		fmt.Fprintf(&script, "commit refs/heads/main\ncommitter Ada <ada@example.invalid> %d +0000\ndata 1\nc\n", 1704067200+i)
		fmt.Fprintf(&script, "M 100644 inline f%d.txt\ndata 2\n%d\n\n", i%50, i%10)
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir, cmd.Env, cmd.Stdin = r.dir, gittest.Env(0), strings.NewReader(script.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("fast-import: %v\n%s", err, out)
	}
	full := ScanGit(context.Background(), r.dir, GitOptions{})
	noErrors(t, full)
	if full.Stats.Commits != commits {
		t.Fatalf("uncancelled scan saw %d commits, want %d", full.Stats.Commits, commits)
	}
	for _, after := range []int64{1, 3, 20} {
		ctx := &countdownCtx{Context: context.Background()}
		ctx.n.Store(after)
		res := ScanGit(ctx, r.dir, GitOptions{})
		if !errorsIs(res.Errors, context.Canceled) {
			t.Errorf("after %d checks: errors %v do not say the scan was cancelled", after, res.Errors)
		}
		if after == 1 && !errorsMention(res.Errors, "load commits") {
			t.Errorf("the commit loader did not stop: %v", res.Errors)
		}
		if res.Stats.Commits >= commits {
			t.Errorf("after %d checks: all %d commits were diffed", after, res.Stats.Commits)
		}
	}
}

// TestGitTreelessPartialClone: a clone without historical trees is one
// error counting them, not one per commit, and never a clean result.
func TestGitTreelessPartialClone(t *testing.T) {
	t.Parallel()
	g := testkeys.New(66)
	origin := newRepo(t)
	origin.git("config", "uploadpack.allowFilter", "true")
	for i := 0; i < 5; i++ {
		origin.write(fmt.Sprintf("d%d/f.txt", i), "k="+g.APIKey()+"\n")
		origin.commit("c")
	}
	clone := filepath.Join(t.TempDir(), "treeless")
	runGit(t, ".", 0, "clone", "-q", "--filter=tree:0", "file://"+origin.dir, clone)
	got, res := scanRepo(t, clone, GitOptions{})
	if !errorsIs(res.Errors, errMissingTrees) {
		t.Fatalf("errors %v do not count the missing trees", res.Errors)
	}
	if len(res.Errors) > 3 {
		t.Errorf("%d errors, want the missing trees (and blobs) counted once: %v", len(res.Errors), res.Errors)
	}
	// HEAD's trees and blobs are there: its keys are still reported
	// (over-reported as new in HEAD, the parents' trees being unknown).
	if len(got) != 5 {
		t.Errorf("findings %v, want the 5 keys in HEAD", got)
	}
}

// TestGitTooLargeVersionsCountedOnce: versions of a large file stored as
// deltas on each other are inflated as bases, but count only as skipped,
// never also as scanned.
func TestGitTooLargeVersionsCountedOnce(t *testing.T) {
	t.Parallel()
	g := testkeys.New(67)
	r := newRepo(t)
	big := strings.Repeat("filler line of a large file\n", 8000)
	const versions = 5
	for i := 0; i < versions; i++ {
		big += fmt.Sprintf("edit %d\n", i)
		r.write("big.txt", big)
		r.commit("edit")
	}
	r.write("small.txt", "k="+g.AQKey()+"\n")
	r.commit("small")
	r.git("gc", "-q", "--aggressive")
	got, res := scanRepo(t, r.dir, GitOptions{Options: Options{MaxFileSize: 64 << 10}})
	noErrors(t, res)
	if len(got) != 1 || got[0].path != "small.txt" {
		t.Errorf("findings %v", got)
	}
	if res.Stats.TooLarge != versions || res.Stats.Files != 1 {
		t.Errorf("scanned %d blobs, %d too large; want 1 and %d", res.Stats.Files, res.Stats.TooLarge, versions)
	}
}

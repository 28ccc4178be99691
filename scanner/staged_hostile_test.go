package scanner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gemscan-dev/gemscan/internal/testkeys"
)

// TestStagedPartialCloneFailsClosed: in a partial clone whose HEAD blobs
// were never fetched, a staged edit is judged whole (every line counts as
// added) and the missing blob is one error, never a clean result.
func TestStagedPartialCloneFailsClosed(t *testing.T) {
	t.Parallel()
	g := testkeys.New(80)
	origin := newRepo(t)
	origin.git("config", "uploadpack.allowFilter", "true")
	oldKey := g.APIKey()
	origin.write("f.txt", "k="+oldKey+"\n")
	origin.write("g.txt", "x\n")
	origin.commit("one")
	dir := filepath.Join(t.TempDir(), "partial")
	runGit(t, ".", 0, "clone", "-q", "--filter=blob:none", "--no-checkout", "file://"+origin.dir, dir)
	clone := &gitRepo{t: t, dir: dir, n: 5}
	clone.git("read-tree", "HEAD")
	newKey := g.AQKey()
	clone.write("f.txt", "k="+oldKey+"\nn="+newKey+"\n")
	clone.git("add", "f.txt")

	res := ScanStaged(dir, StagedOptions{})
	if len(res.Errors) != 1 || !errors.Is(res.Errors[0], errMissingBlobs) ||
		!strings.Contains(res.Errors[0].Error(), "1 blob(s) missing") || !strings.Contains(res.Errors[0].Error(), "partial clone") {
		t.Fatalf("errors %v: want one error counting 1 missing blob of a partial clone", res.Errors)
	}
	var got []string
	for _, f := range res.Findings {
		got = append(got, f.Value)
	}
	// HEAD's version is unknown: both lines are reported.
	if len(got) != 2 || !strings.Contains(strings.Join(got, " "), newKey) {
		t.Errorf("findings %v, want both keys", got)
	}
}

// TestStagedMissingBlobsAreOneError: staged blobs the database lacks are
// counted in one error naming them.
func TestStagedMissingBlobsAreOneError(t *testing.T) {
	t.Parallel()
	g := testkeys.New(81)
	r := newRepo(t)
	r.write("a.txt", "a\n")
	r.commit("one")
	k := g.APIKey()
	r.write("key.txt", "k="+k+"\n")
	r.git("add", "key.txt")
	ghosts := []string{strings.Repeat("1", 40), strings.Repeat("2", 40)}
	for i, gh := range ghosts {
		if _, err := gitTry(r, "update-index", "--add", "--cacheinfo", "100644,"+gh+",ghost"+string(rune('0'+i))+".txt"); err != nil {
			t.Skipf("this git refuses a missing object in the index: %v", err)
		}
	}
	res := ScanStaged(r.dir, StagedOptions{})
	if len(res.Errors) != 1 || !errors.Is(res.Errors[0], errMissingBlobs) ||
		!strings.Contains(res.Errors[0].Error(), "2 blob(s) missing") || !strings.Contains(res.Errors[0].Error(), ghosts[0]) {
		t.Fatalf("errors %v: want one error counting the 2 missing blobs", res.Errors)
	}
	if len(res.Findings) != 1 || res.Findings[0].Value != k {
		t.Errorf("the readable file's finding was lost: %v", res.Findings)
	}
}

// TestStagedCancelled: a cancelled staged scan ends with ctx's error.
func TestStagedCancelled(t *testing.T) {
	t.Parallel()
	g := testkeys.New(82)
	r := newRepo(t)
	r.write("a.txt", "a\n")
	r.commit("one")
	r.write("key.txt", "k="+g.APIKey()+"\n")
	r.git("add", "key.txt")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := ScanStagedContext(ctx, r.dir, StagedOptions{})
	if !errorsIs(res.Errors, context.Canceled) {
		t.Fatalf("errors %v do not say the scan was cancelled", res.Errors)
	}
	if len(res.Findings) != 0 {
		t.Errorf("a scan cancelled before it began reported %v", res.Findings)
	}
	// The same repository, not cancelled, has the finding: the test can
	// tell a cancelled scan from an empty one.
	if res := ScanStaged(r.dir, StagedOptions{}); len(res.Errors) != 0 || len(res.Findings) != 1 {
		t.Errorf("uncancelled: %v, %v", res.Errors, res.Findings)
	}
}

// TestStagedUnreadableIgnoreFile: a staged .gemscanignore that cannot be
// read is an error and hides nothing.
func TestStagedUnreadableIgnoreFile(t *testing.T) {
	t.Parallel()
	g := testkeys.New(83)
	r := newRepo(t)
	r.write("a.txt", "a\n")
	r.commit("one")
	k := g.APIKey()
	r.write("key.txt", "k="+k+"\n")
	r.write(IgnoreFile, "key.txt\n")
	r.git("add", "-A")
	h := r.git("rev-parse", ":"+IgnoreFile)
	p := filepath.Join(r.dir, ".git", "objects", h[:2], h[2:])
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := ScanStaged(r.dir, StagedOptions{})
	if !errorsMention(res.Errors, IgnoreFile) {
		t.Errorf("errors %v do not name %s", res.Errors, IgnoreFile)
	}
	if len(res.Findings) != 1 || res.Findings[0].Value != k {
		t.Errorf("findings %v, want the key the unreadable file would have hidden", res.Findings)
	}
}

// TestStagedUnreadableHead: a HEAD commit or tree that cannot be read is
// an error, and the staged files below it are judged whole rather than
// dropped.
func TestStagedUnreadableHead(t *testing.T) {
	t.Parallel()
	for _, what := range []string{"HEAD", "HEAD:dir"} {
		t.Run(what, func(t *testing.T) {
			g := testkeys.New(85)
			r := newRepo(t)
			r.write("dir/old.txt", "old\n")
			r.write("top.txt", "top\n")
			r.commit("one")
			k := g.APIKey()
			r.write("dir/new.txt", "k="+k+"\n")
			r.git("add", "-A")
			h := r.git("rev-parse", what)
			writeLoose(t, filepath.Join(r.dir, ".git"), h, "tree", []byte("not what it should be"))
			res := ScanStaged(r.dir, StagedOptions{})
			if !errorsMention(res.Errors, h) {
				t.Errorf("errors %v do not name %s", res.Errors, h)
			}
			if len(res.Findings) != 1 || res.Findings[0].Value != k {
				t.Errorf("findings %v, want the staged key", res.Findings)
			}
		})
	}
}

package scanner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gemscan-dev/gemscan/internal/gittest"
	"github.com/gemscan-dev/gemscan/internal/testkeys"
	"github.com/gemscan-dev/gemscan/rules"
)

// gitRepo drives the git CLI to build test repositories.
type gitRepo struct {
	t   *testing.T
	dir string
	n   int // commit counter, for distinct dates
}

func newRepo(t *testing.T) *gitRepo {
	t.Helper()
	gittest.Need(t)
	r := &gitRepo{t: t, dir: t.TempDir()}
	r.git("init", "-q", "-b", "main")
	return r
}

func (r *gitRepo) git(args ...string) string {
	r.t.Helper()
	return gittest.RunAt(r.t, r.dir, r.n, args...)
}

func runGit(t *testing.T, dir string, n int, args ...string) string {
	t.Helper()
	return gittest.RunAt(t, dir, n, args...)
}

// tryGit runs git and ignores its failure (a merge that conflicts).
func (r *gitRepo) tryGit(args ...string) {
	gittest.Try(r.dir, r.n, args...)
}

// conflictedMerge leaves the repository in the middle of a merge of a new
// branch, side, into main, with conflict.txt in conflict.
func (r *gitRepo) conflictedMerge() {
	r.t.Helper()
	r.git("checkout", "-q", "-b", "side")
	r.write("conflict.txt", "side\n")
	r.commit("side")
	r.git("checkout", "-q", "main")
	r.write("conflict.txt", "main\n")
	r.commit("main")
	r.tryGit("merge", "-q", "side")
	if _, err := os.Stat(filepath.Join(r.dir, ".git", "MERGE_HEAD")); err != nil {
		r.t.Fatalf("merge did not stop on a conflict: %v", err)
	}
}

func (r *gitRepo) write(path, content string) {
	r.t.Helper()
	p := filepath.Join(r.dir, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// commit stages everything and commits; it returns the commit hash.
func (r *gitRepo) commit(msg string) string {
	r.t.Helper()
	r.n++
	r.git("add", "-A")
	r.git("commit", "-q", "--allow-empty", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

// found is a finding reduced to what the tests check.
type found struct {
	rule, path, commit string
	inHead             bool
	value, secret      string
}

func (f found) String() string {
	return fmt.Sprintf("%s %s @%.7s head=%v", f.rule, f.path, f.commit, f.inHead)
}

func scanRepo(t *testing.T, dir string, opts GitOptions) ([]found, *Result) {
	t.Helper()
	res := ScanGit(context.Background(), dir, opts)
	var out []found
	for _, f := range res.Findings {
		out = append(out, found{f.Rule, f.File, f.Commit, f.InHead, f.Value, f.Secret()})
		// Every test commit has an author: attribution reads it again
		// (a tagged blob or tree has no commit).
		if f.Commit != "" && (f.Author != "Ada <ada@example.invalid>" || f.Date.IsZero()) {
			t.Errorf("finding %v: author %q, date %v", f, f.Author, f.Date)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, res
}

func expectFindings(t *testing.T, got []found, want ...found) {
	t.Helper()
	sort.Slice(want, func(i, j int) bool { return want[i].String() < want[j].String() })
	if len(got) != len(want) {
		t.Fatalf("got %d findings %v, want %d %v", len(got), got, len(want), want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.rule != w.rule || g.path != w.path || g.commit != w.commit || g.inHead != w.inHead {
			t.Errorf("finding %d: got %v, want %v", i, g, w)
		}
		if w.value != "" && g.value != w.value {
			t.Errorf("finding %d: value %q, want %q", i, g.value, w.value)
		}
		if w.secret != "" && g.secret != w.secret {
			t.Errorf("finding %d: secret %q, want %q", i, g.secret, w.secret)
		}
	}
}

func noErrors(t *testing.T, res *Result) {
	t.Helper()
	if len(res.Errors) > 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
}

func TestGitHistoryCases(t *testing.T) {
	t.Parallel()
	k := testkeys.New(41).Set()
	g := testkeys.New(42)
	r := newRepo(t)
	r.write("README.md", "hello\n")
	base := r.commit("base")

	// Still at HEAD, with its secret.
	r.write("config/app.env", "GEMINI_API_KEY="+k.ExchangeKey+"\nGEMINI_API_SECRET="+k.Secret+"\n")
	atHead := r.commit("add config")

	// Added then deleted.
	deletedKey := g.APIKey()
	r.write("old/leak.txt", "key="+deletedKey+"\n")
	added := r.commit("leak")
	os.RemoveAll(filepath.Join(r.dir, "old"))
	r.commit("remove leak")

	// Removed and re-added later: attributed to the first introduction.
	again := g.AQKey()
	r.write("again.txt", "k="+again+"\n")
	firstIntro := r.commit("first")
	r.write("again.txt", "nothing\n")
	r.commit("removed")
	r.write("again.txt", "k="+again+"\n# back\n")
	r.commit("re-added")

	// The same blob at two paths, and a rename.
	twin := g.APIKey()
	r.write("a/twin.txt", "k="+twin+"\n")
	r.write("b/twin.txt", "k="+twin+"\n")
	twins := r.commit("twins")
	r.git("mv", "b/twin.txt", "b/renamed.txt")
	renamed := r.commit("rename")

	// An unmerged branch.
	r.git("checkout", "-q", "-b", "feature")
	branchKey := g.AQKey()
	r.write("feature.txt", "k="+branchKey+"\n")
	onBranch := r.commit("feature work")
	r.git("checkout", "-q", "main")

	// A tag only: the branch is rewound past the tagged commit.
	tagKey := g.APIKey()
	r.write("tagged.txt", "k="+tagKey+"\n")
	tagged := r.commit("tagged")
	r.git("tag", "-a", "v1", "-m", "release")
	r.git("reset", "-q", "--hard", "HEAD~1")

	// Introduced in a merge resolution.
	mergeKey := g.APIKey()
	r.conflictedMerge()
	r.write("conflict.txt", "resolved with "+mergeKey+"\n")
	r.n++
	r.git("add", "-A")
	r.git("commit", "-q", "-m", "merge side")
	merge := r.git("rev-parse", "HEAD")

	want := []found{
		{rule: rules.ExchangeKey, path: "config/app.env", commit: atHead, inHead: true, value: k.ExchangeKey, secret: k.Secret},
		{rule: rules.GoogleAPI, path: "old/leak.txt", commit: added, inHead: false, value: deletedKey},
		{rule: rules.GoogleGemini, path: "again.txt", commit: firstIntro, inHead: true, value: again},
		{rule: rules.GoogleAPI, path: "a/twin.txt", commit: twins, inHead: true},
		{rule: rules.GoogleAPI, path: "b/twin.txt", commit: twins, inHead: false},
		{rule: rules.GoogleAPI, path: "b/renamed.txt", commit: renamed, inHead: true},
		{rule: rules.GoogleGemini, path: "feature.txt", commit: onBranch, inHead: false, value: branchKey},
		{rule: rules.GoogleAPI, path: "tagged.txt", commit: tagged, inHead: false, value: tagKey},
		{rule: rules.GoogleAPI, path: "conflict.txt", commit: merge, inHead: true, value: mergeKey},
	}
	t.Run("loose", func(t *testing.T) {
		got, res := scanRepo(t, r.dir, GitOptions{})
		noErrors(t, res)
		expectFindings(t, got, want...)
	})
	t.Run("gc aggressive and packed refs", func(t *testing.T) {
		r.git("gc", "-q", "--aggressive", "--prune=now")
		r.git("pack-refs", "--all")
		got, res := scanRepo(t, r.dir, GitOptions{})
		noErrors(t, res)
		expectFindings(t, got, want...)
	})
	t.Run("bare clone", func(t *testing.T) {
		bare := filepath.Join(t.TempDir(), "bare.git")
		runGit(t, ".", 0, "clone", "-q", "--bare", "--no-local", r.dir, bare)
		got, res := scanRepo(t, bare, GitOptions{})
		noErrors(t, res)
		// A bare clone copies branches and tags; HEAD is main.
		expectFindings(t, got, want...)
	})
	t.Run("dot git directory", func(t *testing.T) {
		got, res := scanRepo(t, filepath.Join(r.dir, ".git"), GitOptions{})
		noErrors(t, res)
		expectFindings(t, got, want...)
	})
	t.Run("range", func(t *testing.T) {
		got, res := scanRepo(t, r.dir, GitOptions{Range: base + ".." + added})
		noErrors(t, res)
		if res.Stats.Commits != 2 {
			t.Errorf("scanned %d commits, want 2", res.Stats.Commits)
		}
		expectFindings(t, got,
			found{rule: rules.ExchangeKey, path: "config/app.env", commit: atHead, inHead: true},
			found{rule: rules.GoogleAPI, path: "old/leak.txt", commit: added, inHead: false})
	})
	t.Run("branch", func(t *testing.T) {
		got, res := scanRepo(t, r.dir, GitOptions{Branches: []string{"feature"}})
		noErrors(t, res)
		for _, f := range got {
			if f.path == "tagged.txt" || f.path == "conflict.txt" {
				t.Errorf("--branch feature reported %v", f)
			}
		}
	})
}

func TestGitEmptyRepository(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	got, res := scanRepo(t, r.dir, GitOptions{})
	noErrors(t, res)
	if len(got) != 0 || res.Stats.Commits != 0 {
		t.Errorf("empty repository: %v, %d commits", got, res.Stats.Commits)
	}
}

func TestGitNotARepository(t *testing.T) {
	t.Parallel()
	res := ScanGit(context.Background(), t.TempDir(), GitOptions{})
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), "not a git repository") {
		t.Fatalf("errors: %v", res.Errors)
	}
}

func TestGitShallowClone(t *testing.T) {
	t.Parallel()
	g := testkeys.New(43)
	r := newRepo(t)
	oldKey := g.APIKey()
	r.write("old.txt", "k="+oldKey+"\n")
	r.commit("old")
	r.write("old.txt", "gone\n")
	r.commit("clean")
	newKey := g.AQKey()
	r.write("new.txt", "k="+newKey+"\n")
	r.commit("new")
	clone := filepath.Join(t.TempDir(), "shallow")
	runGit(t, ".", 0, "clone", "-q", "--depth", "1", "file://"+r.dir, clone)
	// What the clone holds is scanned, but the history behind it is not
	// there: the scan is incomplete (exit 2), never "clean".
	got, res := scanRepo(t, clone, GitOptions{})
	if len(got) != 1 || got[0].value != newKey || !got[0].inHead {
		t.Errorf("shallow clone: %v", got)
	}
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), "shallow clone: the history behind 1 scanned commit") {
		t.Errorf("errors %v: want one saying the shallow history was not scanned", res.Errors)
	}
	// A range the clone holds whole is complete.
	runGit(t, clone, 0, "fetch", "-q", "--deepen=1")
	got, res = scanRepo(t, clone, GitOptions{Range: "HEAD~1..HEAD"})
	noErrors(t, res)
	if len(got) != 1 || got[0].value != newKey {
		t.Errorf("range in a shallow clone: %v", got)
	}
}

func TestGitRemotesStashAlternates(t *testing.T) {
	t.Parallel()
	g := testkeys.New(44)
	src := newRepo(t)
	src.write("a.txt", "a\n")
	src.commit("a")
	src.git("checkout", "-q", "-b", "topic")
	remoteKey := g.APIKey()
	src.write("topic.txt", "k="+remoteKey+"\n")
	src.commit("topic")
	src.git("checkout", "-q", "main")
	src.git("gc", "-q")

	// A --shared clone borrows the source's objects and sees topic only as
	// a remote-tracking ref.
	dir := filepath.Join(t.TempDir(), "clone")
	runGit(t, ".", 0, "clone", "-q", "--shared", src.dir, dir)
	clone := &gitRepo{t: t, dir: dir, n: 10}
	stashKey := g.AQKey()
	clone.write("a.txt", "k="+stashKey+"\n")
	clone.git("stash", "-q")
	got, res := scanRepo(t, dir, GitOptions{})
	noErrors(t, res)
	var paths []string
	for _, f := range got {
		paths = append(paths, f.path+"="+f.value)
	}
	joined := strings.Join(paths, " ")
	if !strings.Contains(joined, "topic.txt="+remoteKey) || !strings.Contains(joined, "a.txt="+stashKey) {
		t.Errorf("remote-tracking or stash credential missing: %v", got)
	}
}

func TestGitCorruptObjectIsAnErrorNamingIt(t *testing.T) {
	t.Parallel()
	g := testkeys.New(45)
	r := newRepo(t)
	good := g.APIKey()
	r.write("good.txt", "k="+good+"\n")
	r.write("bad.txt", "something else\n")
	r.commit("c")
	h := r.git("rev-parse", "HEAD:bad.txt")
	p := filepath.Join(r.dir, ".git", "objects", h[:2], h[2:])
	os.Chmod(p, 0o644)
	os.WriteFile(p, []byte("garbage"), 0o644)
	got, res := scanRepo(t, r.dir, GitOptions{})
	if len(res.Errors) == 0 || !strings.Contains(fmt.Sprint(res.Errors), h) {
		t.Fatalf("errors %v do not name %s", res.Errors, h)
	}
	if len(got) != 1 || got[0].value != good {
		t.Errorf("the intact blob's finding was lost: %v", got)
	}
}

func TestResolveRevisions(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	c1 := r.commit("one")
	c2 := r.commit("two")
	r.git("checkout", "-q", "-b", "side", c1)
	s1 := r.commit("side")
	r.git("checkout", "-q", "main")
	r.n++
	r.git("merge", "-q", "--no-ff", "-m", "merge", "side")
	m := r.git("rev-parse", "HEAD")
	r.git("tag", "-a", "v1", "-m", "v1", c2)
	r.git("pack-refs", "--all")
	repo, err := openRepo(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.close()
	for rev, want := range map[string]string{
		"HEAD": m, "main": m, "refs/heads/main": m, "heads/main": m, "side": s1, "v1": c2, "tags/v1": c2,
		"HEAD~1": c2, "HEAD^": c2, "HEAD^2": s1, "HEAD~2": c1, "main^2~1": c1, m[:7]: m, c1: c1, "HEAD^0": m,
	} {
		got, err := repo.resolve(rev)
		if err != nil || got.String() != want {
			t.Errorf("resolve(%q) = %s, %v; want %s", rev, got, err, want)
		}
	}
	for _, bad := range []string{"nope", "HEAD~9", "HEAD^3", "zzzz", "HEAD~99999999999999999999999"} {
		if _, err := repo.resolve(bad); err == nil {
			t.Errorf("resolve(%q) succeeded", bad)
		}
	}
}

func TestGitSubmodulesAndLFSAreNoted(t *testing.T) {
	t.Parallel()
	g := testkeys.New(46)
	sub := newRepo(t)
	sub.write("inner.txt", "k="+g.APIKey()+"\n")
	sub.commit("inner")
	r := newRepo(t)
	r.write("big.bin", "version https://git-lfs.github.com/spec/v1\noid sha256:"+strings.Repeat("a", 64)+"\nsize 12345\n")
	r.commit("lfs pointer")
	r.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", sub.dir, "vendor/inner")
	r.commit("submodule")
	got, res := scanRepo(t, r.dir, GitOptions{})
	noErrors(t, res)
	if len(got) != 0 {
		t.Errorf("the submodule was entered: %v", got)
	}
	notes := strings.Join(res.Stats.Notes, "\n")
	if !strings.Contains(notes, "submodule vendor/inner is not entered") || !strings.Contains(notes, "1 Git LFS pointer file") {
		t.Errorf("notes: %q", notes)
	}
}

func TestGitLargeBlobsSkippedUnlessAsked(t *testing.T) {
	t.Parallel()
	g := testkeys.New(47)
	r := newRepo(t)
	k := g.APIKey()
	r.write("big.txt", strings.Repeat("filler line\n", 20000)+"k="+k+"\n")
	r.write("small.txt", "k="+g.AQKey()+"\n")
	r.commit("c")
	for _, packed := range []bool{false, true} {
		if packed {
			r.git("gc", "-q")
		}
		got, res := scanRepo(t, r.dir, GitOptions{Options: Options{MaxFileSize: 64 << 10}})
		noErrors(t, res)
		if len(got) != 1 || got[0].path != "small.txt" || res.Stats.TooLarge != 1 {
			t.Errorf("packed=%v: %v, %d too large", packed, got, res.Stats.TooLarge)
		}
		got, res = scanRepo(t, r.dir, GitOptions{})
		noErrors(t, res)
		if len(got) != 2 {
			t.Errorf("packed=%v, no limit: %v", packed, got)
		}
	}
}

func TestGitFromASubdirectory(t *testing.T) {
	t.Parallel()
	g := testkeys.New(48)
	r := newRepo(t)
	k := g.AQKey()
	r.write("a/b/c.txt", "k="+k+"\n")
	r.commit("c")
	got, res := scanRepo(t, filepath.Join(r.dir, "a", "b"), GitOptions{})
	noErrors(t, res)
	if len(got) != 1 || got[0].path != "a/b/c.txt" {
		t.Errorf("from a subdirectory: %v", got)
	}
}

func TestSHA256RepositoriesAreRefused(t *testing.T) {
	t.Parallel()
	gittest.Need(t)
	dir := t.TempDir()
	if _, err := gittest.Try(dir, 0, "init", "-q", "--object-format=sha256"); err != nil {
		t.Skip("this git cannot make sha256 repositories")
	}
	for name, errs := range map[string][]error{
		"git":    ScanGit(context.Background(), dir, GitOptions{}).Errors,
		"staged": ScanStaged(dir, StagedOptions{}).Errors,
	} {
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), "sha256") {
			t.Errorf("%s: errors %v", name, errs)
		}
	}
}

package scanner

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gemscan-dev/gemscan/internal/gitdir"
	"github.com/gemscan-dev/gemscan/internal/testkeys"
)

// worktreeRepo is a repository with a linked worktree "wt" whose detached
// HEAD and refs/bisect/bad hold keys no branch has, and a main worktree
// whose detached HEAD holds a third.
type worktreeRepo struct {
	main, wt             *gitRepo
	headKey, bisectKey   string // only on wt's HEAD, only on wt's refs/bisect/bad
	mainKey              string // only on the main worktree's detached HEAD
	headCommit, mainHead string
}

func newWorktreeRepo(t *testing.T, seed uint64) *worktreeRepo {
	t.Helper()
	g := testkeys.New(seed)
	w := &worktreeRepo{main: newRepo(t), headKey: g.APIKey(), bisectKey: g.AQKey(), mainKey: g.APIKey()}
	w.main.write("a.txt", "a\n")
	w.main.commit("one")
	wtDir := filepath.Join(t.TempDir(), "wt")
	w.main.git("worktree", "add", "-q", "--detach", wtDir)
	w.wt = &gitRepo{t: t, dir: wtDir, n: 10}
	w.wt.write("head.env", "K="+w.headKey+"\n")
	w.headCommit = w.wt.commit("on the detached HEAD only")
	w.wt.write("bisect.env", "K="+w.bisectKey+"\n")
	w.wt.commit("bisect only")
	w.wt.git("update-ref", "refs/bisect/bad", "HEAD")
	w.wt.git("reset", "-q", "--hard", "HEAD~1")
	w.main.n = 20
	w.main.git("checkout", "-q", "--detach")
	w.main.write("main.env", "K="+w.mainKey+"\n")
	w.mainHead = w.main.commit("on the main worktree's detached HEAD only")
	w.main.git("checkout", "-q", "main")
	w.main.git("checkout", "-q", "--detach", w.mainHead)
	// The oracle: git's --all reaches wt's HEAD from the main worktree and
	// the main worktree's HEAD from wt.
	if all := w.main.git("rev-list", "--all"); !strings.Contains(all, w.headCommit) {
		t.Fatalf("git rev-list --all in the main worktree misses %s", w.headCommit)
	}
	if all := w.wt.git("rev-list", "--all"); !strings.Contains(all, w.mainHead) {
		t.Fatalf("git rev-list --all in wt misses %s", w.mainHead)
	}
	return w
}

// refsOf returns the refs a whole-history scan names for value, and
// whether it found it.
func refsOf(res *Result, value string) ([]string, bool) {
	for _, f := range res.Findings {
		if f.Value == value {
			return f.Refs, true
		}
	}
	return nil, false
}

func wantFound(t *testing.T, res *Result, value, ref string) {
	t.Helper()
	refs, ok := refsOf(res, value)
	if !ok {
		t.Fatalf("%.10s… not found; findings %v", value, res.Findings)
	}
	if ref != "" && !slices.Contains(refs, ref) {
		t.Errorf("%.10s… found with refs %q, want %s among them", value, refs, ref)
	}
}

// TestWorktreeHeadsAreRoots: a whole-history scan reaches what git's
// --all reaches: every other worktree's HEAD (a detached HEAD holds
// commits no branch has) and per-worktree refs, named as git names them.
func TestWorktreeHeadsAreRoots(t *testing.T) {
	t.Parallel()
	w := newWorktreeRepo(t, 1101)
	t.Run("from the main worktree", func(t *testing.T) {
		_, res := scanRepo(t, w.main.dir, GitOptions{})
		noErrors(t, res)
		wantFound(t, res, w.headKey, "worktrees/wt/HEAD")
		wantFound(t, res, w.bisectKey, "worktrees/wt/refs/bisect/bad")
		wantFound(t, res, w.mainKey, "HEAD")
	})
	t.Run("from the linked worktree", func(t *testing.T) {
		_, res := scanRepo(t, w.wt.dir, GitOptions{})
		noErrors(t, res)
		wantFound(t, res, w.headKey, "HEAD")
		wantFound(t, res, w.bisectKey, "refs/bisect/bad")
		wantFound(t, res, w.mainKey, "main-worktree/HEAD")
	})
	t.Run("branch filter", func(t *testing.T) {
		_, res := scanRepo(t, w.main.dir, GitOptions{Branches: []string{"main"}})
		noErrors(t, res)
		for _, k := range []string{w.headKey, w.bisectKey, w.mainKey} {
			if _, ok := refsOf(res, k); ok {
				t.Errorf("--branch main finds %.10s…, which main does not hold", k)
			}
		}
		_, res = scanRepo(t, w.main.dir, GitOptions{Branches: []string{"worktrees/wt/HEAD"}})
		noErrors(t, res)
		if _, ok := refsOf(res, w.headKey); !ok || len(res.Findings) != 1 {
			t.Errorf("--branch worktrees/wt/HEAD: findings %v, want the worktree HEAD's key only", res.Findings)
		}
	})
	t.Run("not all", func(t *testing.T) {
		// git rev-list HEADCOMMIT --not --all lists nothing: another
		// worktree's HEAD is one of --all's refs.
		if out := w.main.git("rev-list", w.headCommit, "--not", "--all"); out != "" {
			t.Fatalf("git rev-list --not --all = %q", out)
		}
		_, res := scanRepo(t, w.main.dir, GitOptions{Include: []string{w.headCommit}, ExcludeRefs: []string{"refs/"}})
		noErrors(t, res)
		if len(res.Findings) != 0 {
			t.Errorf("findings %v: what another worktree's HEAD holds is not new", res.Findings)
		}
	})
	// The steps below change the repository.
	head := filepath.Join(w.main.dir, ".git", "worktrees", "wt", "HEAD")
	orig, err := os.ReadFile(head)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("garbled HEAD", func(t *testing.T) {
		if err := os.WriteFile(head, []byte("not a ref\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, res := scanRepo(t, w.main.dir, GitOptions{})
		if len(res.Errors) == 0 || !errors.Is(res.Errors[0], gitdir.ErrBadRef) || !strings.Contains(res.Errors[0].Error(), "worktrees/wt/HEAD") {
			t.Fatalf("errors %v, want worktrees/wt/HEAD's", res.Errors)
		}
		wantFound(t, res, w.bisectKey, "") // the rest is still scanned
	})
	t.Run("HEAD names a missing object", func(t *testing.T) {
		if err := os.WriteFile(head, []byte(strings.Repeat("ab", 20)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, res := scanRepo(t, w.main.dir, GitOptions{})
		if len(res.Errors) == 0 || !strings.Contains(res.Errors[0].Error(), "worktrees/wt/HEAD") {
			t.Fatalf("errors %v, want worktrees/wt/HEAD's", res.Errors)
		}
	})
	t.Run("HEAD is a directory", func(t *testing.T) {
		if err := os.Remove(head); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(head, 0o755); err != nil {
			t.Fatal(err)
		}
		_, res := scanRepo(t, w.main.dir, GitOptions{})
		if len(res.Errors) == 0 || !strings.Contains(res.Errors[0].Error(), "worktrees/wt/HEAD") {
			t.Fatalf("errors %v, want worktrees/wt/HEAD's", res.Errors)
		}
		if err := os.Remove(head); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("worktree deleted but not pruned", func(t *testing.T) {
		if err := os.RemoveAll(head); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(head, orig, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(w.wt.dir); err != nil {
			t.Fatal(err)
		}
		if out := w.main.git("worktree", "prune", "--dry-run", "-v"); !strings.Contains(out, "wt") {
			t.Fatalf("git would not prune wt: %q", out)
		}
		if all := w.main.git("rev-list", "--all"); !strings.Contains(all, w.headCommit) {
			t.Fatalf("git rev-list --all misses %s", w.headCommit)
		}
		_, res := scanRepo(t, w.main.dir, GitOptions{})
		noErrors(t, res)
		wantFound(t, res, w.headKey, "worktrees/wt/HEAD")
	})
}

// TestWorktreeOfBareRepository: a bare repository's linked worktree's
// detached HEAD is a root of the bare repository's audit.
func TestWorktreeOfBareRepository(t *testing.T) {
	t.Parallel()
	g := testkeys.New(1102)
	src := newRepo(t)
	src.write("a.txt", "a\n")
	src.commit("one")
	bare := filepath.Join(t.TempDir(), "bare.git")
	runGit(t, ".", 0, "clone", "-q", "--bare", src.dir, bare)
	wtDir := filepath.Join(t.TempDir(), "bwt")
	runGit(t, bare, 0, "worktree", "add", "-q", "--detach", wtDir)
	wt := &gitRepo{t: t, dir: wtDir, n: 10}
	k := g.APIKey()
	wt.write("k.env", "K="+k+"\n")
	wt.commit("detached")
	_, res := scanRepo(t, bare, GitOptions{})
	noErrors(t, res)
	wantFound(t, res, k, "worktrees/bwt/HEAD")
}

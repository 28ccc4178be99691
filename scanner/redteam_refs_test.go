package scanner

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gemscan-dev/gemscan/internal/gitdir"
	"github.com/gemscan-dev/gemscan/internal/testkeys"
)

// TestGitSymbolicRefsAreFollowed: a symbolic ref names history git lists
// and pushes with it (for-each-ref resolves it), even when its target is
// a pseudo-ref no ref listing holds; HEAD too. A loop of symbolic refs is
// an error; one naming a ref that does not exist holds nothing.
func TestGitSymbolicRefsAreFollowed(t *testing.T) {
	t.Parallel()
	g := testkeys.New(904)
	setup := func(t *testing.T) (r *gitRepo, leak, k string) {
		r = newRepo(t)
		r.write("a.txt", "a\n")
		r.commit("one")
		r.git("checkout", "-q", "-b", "side")
		k = g.APIKey()
		r.write("k.env", "K="+k+"\n")
		leak = r.commit("leak")
		r.git("checkout", "-q", "main")
		r.git("branch", "-D", "-q", "side")
		if err := os.WriteFile(filepath.Join(r.dir, ".git", "ORIG_HEAD"), []byte(leak+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return r, leak, k
	}
	for _, file := range []string{"refs/heads/alias", "HEAD"} {
		t.Run(file, func(t *testing.T) {
			r, leak, k := setup(t)
			if err := os.WriteFile(filepath.Join(r.dir, ".git", filepath.FromSlash(file)), []byte("ref: ORIG_HEAD\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if file != "HEAD" {
				if got := r.git("for-each-ref", "--format=%(objectname)", "refs/heads/alias"); got != leak {
					t.Fatalf("git resolves the alias to %q, want %s", got, leak)
				}
			}
			got, res := scanRepo(t, r.dir, GitOptions{})
			noErrors(t, res)
			if len(got) != 1 || got[0].value != k {
				t.Fatalf("findings %v, want the key behind the symbolic ref", got)
			}
		})
	}
	t.Run("loop", func(t *testing.T) {
		r, _, _ := setup(t)
		r.git("symbolic-ref", "refs/heads/s1", "refs/heads/s2")
		r.git("symbolic-ref", "refs/heads/s2", "refs/heads/s1")
		_, res := scanRepo(t, r.dir, GitOptions{})
		if len(res.Errors) == 0 || !errors.Is(res.Errors[0], gitdir.ErrBadRef) || !strings.Contains(res.Errors[0].Error(), "levels of symbolic refs") {
			t.Fatalf("errors %v, want the loop", res.Errors)
		}
	})
	t.Run("dangling", func(t *testing.T) {
		r, _, _ := setup(t)
		r.git("symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/gone")
		_, res := scanRepo(t, r.dir, GitOptions{})
		noErrors(t, res)
	})
}

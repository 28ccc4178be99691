package scanner

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/gemscan-dev/gemscan/internal/gittest"
	"github.com/gemscan-dev/gemscan/internal/testkeys"
)

// TestGitTagsOnBlobsAndTrees: a key that only a tag on a blob or on a tree
// reaches (no commit does) is found in a full audit, located in the tagged
// tree and named by its tag; a range scan, which follows commits, leaves
// them to the audit.
func TestGitTagsOnBlobsAndTrees(t *testing.T) {
	k := testkeys.New(95).Set()
	r := newRepo(t)
	r.write("README.md", "hello\n")
	r.commit("readme")
	hashObject := func(content string) string {
		t.Helper()
		cmd := exec.Command("git", "hash-object", "-w", "--stdin")
		cmd.Dir, cmd.Env, cmd.Stdin = r.dir, gittest.Env(0), strings.NewReader(content)
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	blob := hashObject("GOOGLE_API_KEY=" + k.APIKey + "\n")
	r.git("tag", "blobtag", blob)
	inner := hashObject("GEMINI_KEY=" + k.AQKey + "\n")
	mktree := func(entries string) string {
		t.Helper()
		cmd := exec.Command("git", "mktree")
		cmd.Dir, cmd.Env, cmd.Stdin = r.dir, gittest.Env(0), strings.NewReader(entries)
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	sub := mktree("100644 blob " + inner + "\tsecret.env\n")
	tree := mktree("040000 tree " + sub + "\tconfig\n")
	r.git("tag", "-a", "-m", "a tree", "treetag", tree)
	got, res := scanRepo(t, r.dir, GitOptions{})
	noErrors(t, res)
	expectFindings(t, got,
		found{rule: "google-api-key", path: "blobtag", value: k.APIKey},
		found{rule: "google-gemini-key", path: "config/secret.env", value: k.AQKey})
	for _, f := range res.Findings {
		want := "refs/tags/treetag"
		if f.File == "blobtag" {
			want = "refs/tags/blobtag"
		}
		if !slices.Equal(f.Refs, []string{want}) || f.Commit != "" {
			t.Errorf("%s: refs %v, commit %q; want [%s] and no commit", f.File, f.Refs, f.Commit, want)
		}
	}
	// A range follows commits only.
	got, res = scanRepo(t, r.dir, GitOptions{Include: []string{"HEAD"}})
	noErrors(t, res)
	expectFindings(t, got)
}

package scanner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gemscan-dev/gemscan/internal/testkeys"
)

// TestGitBrokenRefReported: a loose ref that cannot be read is an error
// naming it, and the other refs' history is still scanned (a key on main
// is found); a scan limited to other branches does not fail for it.
func TestGitBrokenRefReported(t *testing.T) {
	t.Parallel()
	k := testkeys.New(86).APIKey()
	r := newRepo(t)
	r.write("key.txt", "k="+k+"\n")
	r.commit("key")
	if err := os.WriteFile(filepath.Join(r.dir, ".git", "refs", "heads", "broken"), []byte("not a hash\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := ScanGit(context.Background(), r.dir, GitOptions{})
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), "refs/heads/broken") {
		t.Errorf("errors %v, want one naming refs/heads/broken", res.Errors)
	}
	if len(res.Findings) != 1 || res.Findings[0].Value != k {
		t.Errorf("findings %+v, want the key on main", res.Findings)
	}
	res = ScanGit(context.Background(), r.dir, GitOptions{Branches: []string{"main"}})
	if len(res.Errors) != 0 || len(res.Findings) != 1 {
		t.Errorf("--branch main: errors %v, %d findings", res.Errors, len(res.Findings))
	}
}

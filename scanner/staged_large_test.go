package scanner

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gemscan-dev/gemscan/internal/gittest"
	"github.com/gemscan-dev/gemscan/internal/testkeys"
)

// largeStagedRepo builds, with git fast-import, a repository of files
// spread over nested directories (dirs directories of perDir files), its
// index read from HEAD (with a complete cache-tree), and a one-line change
// to one file staged as `git add` would: the shape of a pre-commit check in
// a large work tree. No working tree is checked out; the scan reads only
// the index and objects.
func largeStagedRepo(tb testing.TB, dirs, perDir int) string {
	tb.Helper()
	gittest.Need(tb)
	dir := tb.TempDir()
	gittest.Run(tb, dir, "init", "-q", "-b", "main")
	var stream strings.Builder
	stream.WriteString("commit refs/heads/main\ncommitter Ada <ada@example.invalid> 1704067200 +0000\ndata 4\nbase\n")
	for d := 0; d < dirs; d++ {
		for f := 0; f < perDir; f++ {
			content := fmt.Sprintf("package p%d\n\n// file %d of directory %d\nfunc F%d() {}\n", d, f, d, f)
			fmt.Fprintf(&stream, "M 100644 inline src/g%d/d%d/f%d.go\ndata %d\n%s\n", d%10, d, f, len(content), content)
		}
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = dir
	cmd.Env = gittest.Env(0)
	cmd.Stdin = strings.NewReader(stream.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("fast-import: %v\n%s", err, out)
	}
	gittest.Run(tb, dir, "read-tree", "HEAD")
	path := "src/g3/d3/f1.go"
	old := gittest.Run(tb, dir, "cat-file", "blob", "HEAD:"+path)
	f := filepath.Join(tb.TempDir(), "new")
	if err := os.WriteFile(f, []byte(old+"\n// a staged line\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
	blob := gittest.Run(tb, dir, "hash-object", "-w", f)
	gittest.Run(tb, dir, "update-index", "--cacheinfo", "100644,"+blob+","+path)
	return dir
}

// BenchmarkStaged scans one staged change in a 12,000-file index (Go's
// src/ has 11.5k files in ~1,000 directories); bench/staged.sh times the
// whole process beside git diff --cached.
func BenchmarkStaged(b *testing.B) {
	dir := largeStagedRepo(b, 1000, 12)
	b.ReportAllocs()
	for b.Loop() {
		res := ScanStaged(dir, StagedOptions{})
		if len(res.Errors) > 0 || res.Stats.Files != 1 {
			b.Fatalf("errors %v, %d files scanned, want 1", res.Errors, res.Stats.Files)
		}
	}
}

// TestCacheTreeMatchesGit checks the cache-tree as parsed against git: in
// an index read from HEAD every directory is valid, with git's tree hash
// and entry count for it; after a change is staged, the directories above
// it, and only those, are invalid.
func TestCacheTreeMatchesGit(t *testing.T) {
	t.Parallel()
	dir := largeStagedRepo(t, 30, 2)
	data, err := os.ReadFile(filepath.Join(dir, ".git", "index"))
	if err != nil {
		t.Fatal(err)
	}
	_, root, err := parseIndexWithTree(data)
	if err != nil || root == nil {
		t.Fatalf("parse: %v, tree %v", err, root)
	}
	trees := map[string]string{} // git's tree hash of each directory
	for _, line := range strings.Split(gittest.Run(t, dir, "ls-tree", "-r", "-d", "HEAD"), "\n") {
		meta, path, _ := strings.Cut(line, "\t")
		trees[path] = strings.Fields(meta)[2]
	}
	files := strings.Fields(gittest.Run(t, dir, "ls-files"))
	var invalid []string
	checked := 0
	var walk func(c *cacheTree, path string)
	walk = func(c *cacheTree, path string) {
		if !c.valid() {
			invalid = append(invalid, path)
		} else {
			n := 0
			for _, f := range files {
				if strings.HasPrefix(f, path+"/") {
					n++
				}
			}
			if c.hash().String() != trees[path] || c.count() != n {
				t.Errorf("%s: hash %s, %d entries; git says %s, %d", path, c.hash(), c.count(), trees[path], n)
			}
			checked++
		}
		c.kids(func(i int32) bool {
			kid := &cacheTree{nodes: c.nodes, i: i}
			if got := c.child(kid.name()); got == nil || got.i != i {
				t.Errorf("%s: child(%q) is not its subdirectory", path, kid.name())
			}
			p := kid.name()
			if path != "" {
				p = path + "/" + kid.name()
			}
			walk(kid, p)
			return true
		})
	}
	walk(root, "")
	slices.Sort(invalid)
	if got, want := strings.Join(invalid, ","), ",src,src/g3,src/g3/d3"; got != want {
		t.Errorf("invalid directories %q, want %q", got, want)
	}
	// src, g0…g9 and d0…d29, less the three invalid.
	if checked != 1+10+30-3 {
		t.Errorf("checked %d valid directories, want 38", checked)
	}
	if root.child("nonexistent") != nil || root.child("src").child("g3").child("d3") == nil {
		t.Error("child lookups")
	}
}

// TestStagedLargeIndexChecksum: an index large enough that its checksum is
// computed beside the parse is still refused when corrupt, with that
// error alone and no findings, whether or not the corruption parses; and
// an intact one is scanned.
func TestStagedLargeIndexChecksum(t *testing.T) {
	t.Parallel()
	dir := largeStagedRepo(t, 300, 12)
	k := testkeys.New(85).APIKey()
	f := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(f, []byte("k="+k+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	blob := gittest.Run(t, dir, "hash-object", "-w", f)
	gittest.Run(t, dir, "update-index", "--add", "--cacheinfo", "100644,"+blob+",key.txt")
	path := filepath.Join(dir, ".git", "index")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < asyncChecksumSize {
		t.Fatalf("index of %d bytes: the checksum would not be computed concurrently", len(data))
	}
	if got := stagedValues(t, dir, StagedOptions{}); len(got) != 1 || got[0] != "key.txt:1="+k {
		t.Fatalf("intact index: %v", got)
	}
	for name, corrupt := range map[string]func(b []byte){
		"stat data":   func(b []byte) { b[12] ^= 1 },                                  // parses as before
		"entry order": func(b []byte) { b[bytes.Index(b, []byte("key.txt"))] = 0xff }, // out of order
		"entry count": func(b []byte) { b[8] = 0xff },                                 // cannot fit
	} {
		b := bytes.Clone(data)
		corrupt(b)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		res := ScanStaged(dir, StagedOptions{})
		if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), "checksum mismatch") || len(res.Findings) != 0 {
			t.Errorf("%s: errors %v, %d findings; want only a checksum mismatch", name, res.Errors, len(res.Findings))
		}
	}
}

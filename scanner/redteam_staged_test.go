package scanner

import (
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gemscan-dev/gemscan/internal/gittest"
	"github.com/gemscan-dev/gemscan/internal/testkeys"
)

// indexParts splits an index file (version 2 or 3) into its header and
// entries, and its extensions by signature, in file order.
func indexParts(t *testing.T, data []byte) (entries []byte, sigs []string, exts map[string][]byte) {
	t.Helper()
	body := data[:len(data)-sha1.Size]
	n := int(binary.BigEndian.Uint32(body[8:12]))
	pos := 12
	for i := 0; i < n; i++ {
		start := pos
		flags := binary.BigEndian.Uint16(body[pos+60:])
		pos += 62
		if flags&0x4000 != 0 {
			pos += 2
		}
		end := pos + strings.IndexByte(string(body[pos:]), 0)
		pos = start + (end-start+8)&^7
	}
	exts = map[string][]byte{}
	for p := pos; p < len(body); {
		sig, size := string(body[p:p+4]), int(binary.BigEndian.Uint32(body[p+4:]))
		sigs = append(sigs, sig)
		exts[sig] = body[p+8 : p+8+size]
		p += 8 + size
	}
	return body[:pos], sigs, exts
}

// spliceCacheTree rewrites the index at path with the TREE extension of
// the index file from, and a correct checksum: a forged (or stale)
// cache-tree over the current entries.
func spliceCacheTree(t *testing.T, path string, from []byte) {
	t.Helper()
	_, _, old := indexParts(t, from)
	if old["TREE"] == nil {
		t.Fatal("the donor index has no TREE extension")
	}
	setCacheTree(t, path, old["TREE"])
}

// TestStagedCacheTreeMustMatchEntries: git write-tree and git commit take
// a directory's tree from the index's cache-tree while it is valid. A
// cache-tree naming a tree that holds a key, over entries that do not,
// makes git commit the key: the scan, which compares entries, must refuse
// it (exit 2), never pass it. A cache-tree that vouches for HEAD's tree is
// what git commits too: nothing is added there.
func TestStagedCacheTreeMustMatchEntries(t *testing.T) {
	t.Parallel()
	g := testkeys.New(901)
	r := newRepo(t)
	r.write("README", "hi\n")
	r.write("d/f", "x\n")
	r.commit("init")
	clean := r.git("rev-parse", ":d/f")
	index := filepath.Join(r.dir, ".git", "index")

	// The forged state: d/f's entry is HEAD's, the cache-tree names the
	// tree of d/ with the key (written to the object database by
	// write-tree, as any tree could be).
	r.write("d/f", "x\nk="+g.APIKey()+"\n")
	r.git("add", "d/f")
	r.git("write-tree")
	evil, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	r.git("update-index", "--cacheinfo", "100644,"+clean+",d/f")
	r.write("README", "hello\n") // a real change, so that git commits
	r.git("add", "README")
	spliceCacheTree(t, index, evil)
	if got := r.git("write-tree"); got == r.git("rev-parse", "HEAD^{tree}") {
		t.Fatal("the forged cache-tree did not take: git writes HEAD's tree")
	}

	res := ScanStaged(r.dir, StagedOptions{})
	if len(res.Errors) != 1 || !errors.Is(res.Errors[0], errBadIndex) || !strings.Contains(res.Errors[0].Error(), "cache-tree") {
		t.Fatalf("errors %v, want one naming the cache-tree", res.Errors)
	}
	// git would indeed have committed the key.
	r.git("commit", "-q", "-m", "sneak")
	if !strings.Contains(r.git("show", "HEAD:d/f"), "k=") {
		t.Fatal("git did not commit the cache-tree's tree: the forgery proves nothing")
	}
}

// TestStagedStaleCacheTreeOfHEADHidesNothingGitCommits: a cache-tree that
// names HEAD's tree for a directory whose entries hold a key is what git
// commits (HEAD's tree): the key is not in the next commit, and the scan
// agrees; once anything invalidates the directory, git commits the
// entries, and the scan judges them.
func TestStagedStaleCacheTreeOfHEADHidesNothingGitCommits(t *testing.T) {
	t.Parallel()
	g := testkeys.New(902)
	r := newRepo(t)
	r.write("README", "hi\n")
	r.write("d/f", "x\n")
	r.commit("init")
	r.git("write-tree")
	index := filepath.Join(r.dir, ".git", "index")
	before, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	k := g.APIKey()
	r.write("d/f", "x\nk="+k+"\n")
	r.git("add", "d/f")
	spliceCacheTree(t, index, before)
	if got, head := r.git("write-tree"), r.git("rev-parse", "HEAD^{tree}"); got != head {
		t.Fatalf("git writes %s, want HEAD's tree %s", got, head)
	}
	if got := stagedValues(t, r.dir, StagedOptions{}); len(got) != 0 {
		t.Fatalf("findings %v: git commits HEAD's tree here", got)
	}
	r.write("d/g", "y\n")
	r.git("add", "d/g") // invalidates d/ and the root
	if got := stagedValues(t, r.dir, StagedOptions{}); len(got) != 1 || !strings.HasSuffix(got[0], k) {
		t.Fatalf("findings %v, want the key git now commits", got)
	}
}

// TestStagedSymlinkTargetIsScanned: git commits a symbolic link's target
// as a blob and gemscan git scans it; the staged scan must not pass the
// key the history scan then reports.
func TestStagedSymlinkTargetIsScanned(t *testing.T) {
	t.Parallel()
	g := testkeys.New(903)
	r := newRepo(t)
	r.write("a.txt", "a\n")
	r.commit("one")
	k := g.APIKey()
	if err := os.Symlink("k="+k, filepath.Join(r.dir, "link")); err != nil {
		t.Skipf("symlink: %v", err)
	}
	r.git("add", "link")
	if got := stagedValues(t, r.dir, StagedOptions{}); len(got) != 1 || got[0] != "link:1="+k {
		t.Fatalf("findings %v, want the key in link's target", got)
	}
	if got := stagedValues(t, r.dir, StagedOptions{Files: []string{"link"}}); len(got) != 1 {
		t.Fatalf("findings %v with link named, want the key", got)
	}
}

// setCacheTree rewrites the index at path with tree as its TREE
// extension's body, and a correct checksum.
func setCacheTree(t *testing.T, path string, tree []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	entries, sigs, exts := indexParts(t, data)
	if exts["TREE"] == nil {
		sigs = append([]string{"TREE"}, sigs...)
	}
	exts["TREE"] = tree
	out := append([]byte(nil), entries...)
	for _, s := range sigs {
		out = append(out, s...)
		out = binary.BigEndian.AppendUint32(out, uint32(len(exts[s])))
		out = append(out, exts[s]...)
	}
	sum := sha1.Sum(out)
	if err := os.WriteFile(path, append(out, sum[:]...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestStagedCacheTreeDuplicateDirectory: a cache-tree listing a
// directory twice, HEAD's tree first and a tree with a key last: git's
// reader keeps the last, the scan's lookup found the first. git 2.39 then
// refuses to write the tree; the scan refuses the index too, rather than
// depend on that.
func TestStagedCacheTreeDuplicateDirectory(t *testing.T) {
	t.Parallel()
	g := testkeys.New(905)
	r := newRepo(t)
	r.write("README", "hi\n")
	r.write("d/f", "x\n")
	r.commit("init")
	headD := r.git("rev-parse", "HEAD:d")
	r.write("d/f", "x\nk="+g.APIKey()+"\n")
	r.git("add", "d/f")
	evilD := r.git("write-tree", "--prefix=d/")
	r.git("reset", "-q")
	r.write("README", "hello\n")
	r.git("add", "README") // a real change, so that git commits
	index := filepath.Join(r.dir, ".git", "index")
	raw := func(hexName string) []byte {
		b, err := hex.DecodeString(hexName)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tree := []byte("\x00-1 2\n")
	tree = append(append(tree, "d\x001 0\n"...), raw(headD)...)
	tree = append(append(tree, "d\x001 0\n"...), raw(evilD)...)
	setCacheTree(t, index, tree)

	res := ScanStaged(r.dir, StagedOptions{})
	if len(res.Errors) != 1 || !errors.Is(res.Errors[0], errBadIndex) {
		t.Fatalf("errors %v (findings %d), want the duplicate refused", res.Errors, len(res.Findings))
	}
	// git commits either the last entry's tree or nothing.
	if out, err := gittest.Try(r.dir, 0, "commit", "-q", "-m", "sneak"); err == nil {
		if got := r.git("rev-parse", "HEAD:d"); got != evilD {
			t.Fatalf("git committed d/ as %s, not the last cache-tree entry %s", got, evilD)
		}
	} else if !strings.Contains(out, "cache-tree") {
		t.Fatalf("git commit failed for another reason: %s", out)
	}
}

// TestStagedCacheTreeCountMustMatch: git takes a valid cache-tree
// entry's tree, and skips as many index entries as it counts, even when
// that is not how many the directory holds. Such an entry naming a tree
// with a key, over clean entries, made git commit the key while the scan,
// which recomputed the directory from its entries, passed. It is refused.
func TestStagedCacheTreeCountMustMatch(t *testing.T) {
	t.Parallel()
	g := testkeys.New(906)
	r := newRepo(t)
	r.write("README", "hi\n")
	r.write("d/f", "x\n")
	r.commit("init")
	r.write("d/f", "x\nk="+g.APIKey()+"\n")
	r.git("add", "d/f")
	evilD := r.git("write-tree", "--prefix=d/")
	r.git("reset", "-q")
	r.write("README", "hello\n")
	r.git("add", "README")
	raw, err := hex.DecodeString(evilD)
	if err != nil {
		t.Fatal(err)
	}
	// The root invalid (README changed), d/ valid with 2 entries (it
	// has 1) and the key's tree.
	setCacheTree(t, filepath.Join(r.dir, ".git", "index"), append([]byte("\x00-1 1\nd\x002 0\n"), raw...))
	res := ScanStaged(r.dir, StagedOptions{})
	if len(res.Errors) != 1 || !errors.Is(res.Errors[0], errBadIndex) || !strings.Contains(res.Errors[0].Error(), "d/ holds 2 entries") {
		t.Fatalf("errors %v (findings %d), want the count refused", res.Errors, len(res.Findings))
	}
	// (write-tree rewrites the index's cache-tree: checked after.)
	if got := r.git("rev-parse", r.git("write-tree")+":d"); got != evilD {
		t.Fatalf("git writes d/ as %s, want the cache-tree's %s: the forgery proves nothing", got, evilD)
	}
}

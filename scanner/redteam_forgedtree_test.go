package scanner

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/gemscan-dev/gemscan/internal/testkeys"
	"github.com/gemscan-dev/gemscan/rules"
)

// forged is a repository whose objects a test writes by hand.
type forged struct {
	t      *testing.T
	r      *gitRepo
	gitDir string
}

func newForged(t *testing.T) *forged {
	r := newRepo(t)
	return &forged{t: t, r: r, gitDir: filepath.Join(r.dir, ".git")}
}

func (f *forged) object(typ string, data []byte) string {
	name := objectID(typ, data)
	writeLoose(f.t, f.gitDir, name, typ, data)
	return name
}

func (f *forged) blob(s string) string { return f.object("blob", []byte(s)) }

func (f *forged) tree(es ...treeEntry) string { return f.object("tree", treeData(f.t, es...)) }

func (f *forged) commit(tree string, parents ...string) string {
	return f.object("commit", commitData(tree, parents...))
}

// TestRedteamGitlinkThenBlobOfSameName: a forged parent holds a gitlink
// whose "commit" is named like a blob; its child turns the entry into a
// file holding that very blob. The blob is new at that path (the parent
// had no blob there: a gitlink is never read), so its key must be found.
// The diff took the entries as the same because their hashes are equal,
// whatever their modes: the key was never scanned, and the scan was clean.
func TestRedteamGitlinkThenBlobOfSameName(t *testing.T) {
	t.Parallel()
	g := testkeys.New(7101)
	f := newForged(t)
	k := g.APIKey()
	b := f.blob("k=" + k + "\n")
	other := f.blob("nothing\n")
	parent := f.commit(f.tree(treeEntry{"100644", "a.txt", other}, treeEntry{"160000", "f", b}))
	child := f.commit(f.tree(treeEntry{"100644", "a.txt", other}, treeEntry{"100644", "f", b}), parent)
	setRef(t, f.gitDir, "refs/heads/main", child)
	got, res := scanRepo(t, f.r.dir, GitOptions{})
	noErrors(t, res)
	expectFindings(t, got, found{rule: rules.GoogleAPI, path: "f", commit: child, inHead: true, value: k})
}

// TestRedteamNonCanonicalModes: git reads a tree entry's mode as its
// canon_mode does: 40755 is a directory, 120644 a symbolic link, any
// regular mode (100600) a file; git ls-tree -r and checkout list the
// files under them. A forged tree using such modes must not hide its keys:
// either they are found, or the scan reports an error.
func TestRedteamNonCanonicalModes(t *testing.T) {
	t.Parallel()
	g := testkeys.New(7102)
	f := newForged(t)
	kDir, kLink, kFile := g.APIKey(), g.AQKey(), g.APIKey()
	sub := f.tree(treeEntry{"100644", "s.txt", f.blob("k=" + kDir + "\n")})
	root := f.tree(
		treeEntry{"40755", "d", sub},
		treeEntry{"120644", "l", f.blob("k=" + kLink + "\n")},
		treeEntry{"100600", "r", f.blob("k=" + kFile + "\n")},
	)
	c := f.commit(root)
	setRef(t, f.gitDir, "refs/heads/main", c)
	ls := f.r.git("ls-tree", "-r", "--name-only", c)
	if ls != "d/s.txt\nl\nr" {
		t.Fatalf("git lists %q", ls)
	}
	got, res := scanRepo(t, f.r.dir, GitOptions{})
	paths := map[string]bool{}
	for _, x := range got {
		paths[x.path] = true
	}
	for _, p := range []string{"d/s.txt", "l", "r"} {
		if !paths[p] && len(res.Errors) == 0 {
			t.Errorf("the key git checks out at %s is neither found nor an error (findings %v)", p, got)
		}
	}
}

// TestRedteamMalformedTailSameAsParent: the parent's tree holds an entry
// git reads (a zero-padded mode, which git accepts) but the scanner cannot
// decode; the child edits an entry before it and keeps the rest of the
// tree byte for byte. A whole-history scan reports the entry at the commit
// that introduced it; a range scan of the child alone adds nothing.
func TestRedteamMalformedTailSameAsParent(t *testing.T) {
	t.Parallel()
	g := testkeys.New(7103)
	f := newForged(t)
	hidden := f.blob("k=" + g.APIKey() + "\n")
	tail := treeEntry{"0000000100644", "zz", hidden}
	parent := f.commit(f.tree(treeEntry{"100644", "a.txt", f.blob("one\n")}, tail))
	child := f.commit(f.tree(treeEntry{"100644", "a.txt", f.blob("two\n")}, tail), parent)
	setRef(t, f.gitDir, "refs/heads/main", child)
	if ls := f.r.git("ls-tree", "--name-only", child); ls != "a.txt\nzz" {
		t.Fatalf("git lists %q", ls)
	}
	_, res := scanRepo(t, f.r.dir, GitOptions{})
	if !errorsMention(res.Errors, "bad tree mode") {
		t.Errorf("whole history: errors %v do not report the undecodable entry", res.Errors)
	}
	// A range scan judges what the range adds. The child keeps the entry
	// byte for byte: its comparison stops at the identical rest without
	// decoding it (1e53831), and the entry, its key and its error belong
	// to the commit that introduced it, outside the range (the old code
	// reported the error here too, decoding the rest).
	got, _ := scanRepo(t, f.r.dir, GitOptions{Range: parent + ".." + child})
	expectFindings(t, got)
}

// TestRedteamMergeParentsMissing: a merge whose first parent's commit is
// missing, and one whose second parent's tree is a blob. Each failure is
// an error, and what the merge holds that no readable parent held is
// still found (the unreadable parent counts as empty).
func TestRedteamMergeParentsMissing(t *testing.T) {
	t.Parallel()
	g := testkeys.New(7104)
	f := newForged(t)
	base := f.blob("base\n")
	p2 := f.commit(f.tree(treeEntry{"100644", "a.txt", base}))
	missing := objectID("commit", []byte("never written"))
	k1, k2 := g.APIKey(), g.APIKey()
	kb1 := f.blob("k=" + k1 + "\n")
	m1 := f.commit(f.tree(treeEntry{"100644", "a.txt", base}, treeEntry{"100644", "k1.txt", kb1}), missing, p2)
	// The second merge: its first parent is m1, its second a commit whose
	// "tree" is a blob. It adds k2 and keeps k1.
	blobTree := f.commit(f.blob("not a tree\n"))
	m2 := f.commit(f.tree(treeEntry{"100644", "a.txt", base}, treeEntry{"100644", "k1.txt", kb1},
		treeEntry{"100644", "k2.txt", f.blob("k=" + k2 + "\n")}), m1, blobTree)
	setRef(t, f.gitDir, "refs/heads/main", m2)
	got, res := scanRepo(t, f.r.dir, GitOptions{})
	if !errorsMention(res.Errors, missing) {
		t.Errorf("errors %v do not name the missing parent %s", res.Errors, missing)
	}
	if !errorsMention(res.Errors, blobTree) && !errorsMention(res.Errors, "blob") {
		t.Errorf("errors %v do not report the parent whose tree is a blob", res.Errors)
	}
	expectFindings(t, got,
		found{rule: rules.GoogleAPI, path: "k1.txt", commit: m1, inHead: true, value: k1},
		found{rule: rules.GoogleAPI, path: "k2.txt", commit: m2, inHead: true, value: k2})
}

// TestRedteamOctopusBudget: the budget of entries one commit's diff may
// compare (maxDiffEntries) must hold for merges too. A forged merge of
// twelve parents whose root trees each hold one other entry, its own tree
// 600 entries: comparing it with every parent takes 12 × 600 entries, past
// a budget of 1,000, though each comparison alone stays under it. Only
// the first parent's comparisons were counted, so a merge of many parents
// with a large tree (a commit may name thousands of parents) ran for
// parents × entries, unbounded.
func TestRedteamOctopusBudget(t *testing.T) {
	t.Parallel()
	f := newForged(t)
	x := f.blob("x\n")
	var es []treeEntry
	for i := 0; i < 600; i++ {
		es = append(es, treeEntry{"100644", fmt.Sprintf("f%04d", i), x})
	}
	var parents []string
	for i := 0; i < 12; i++ {
		parents = append(parents, f.commit(f.tree(treeEntry{"100644", fmt.Sprintf("p%02d", i), x})))
	}
	merge := f.commit(f.tree(es...), parents...)
	setRef(t, f.gitDir, "refs/heads/main", merge)
	res := scanGit(context.Background(), f.r.dir, GitOptions{}, 1000)
	if !errorsMention(res.Errors, "more than 1000 entries") {
		t.Fatalf("errors %v: the merge's comparisons went past the budget unchecked", res.Errors)
	}
	// Under the budget the same merge is scanned without error.
	if res := scanGit(context.Background(), f.r.dir, GitOptions{}, 20000); len(res.Errors) != 0 {
		t.Fatalf("errors under the budget: %v", res.Errors)
	}
}

// TestRedteamNonCanonicalModesInHead: the keys under non-canonical modes
// are in HEAD's tree as git reads it, so their findings say in_head.
func TestRedteamNonCanonicalModesInHead(t *testing.T) {
	t.Parallel()
	g := testkeys.New(7105)
	f := newForged(t)
	kDir, kLink := g.APIKey(), g.AQKey()
	sub := f.tree(treeEntry{"100644", "s.txt", f.blob("k=" + kDir + "\n")})
	c := f.commit(f.tree(treeEntry{"40755", "d", sub}, treeEntry{"120644", "l", f.blob("k=" + kLink + "\n")}))
	setRef(t, f.gitDir, "refs/heads/main", c)
	got, res := scanRepo(t, f.r.dir, GitOptions{})
	noErrors(t, res)
	want := []found{
		{rule: rules.GoogleAPI, path: "d/s.txt", commit: c, inHead: true, value: kDir},
		{rule: rules.GoogleGemini, path: "l", commit: c, inHead: true, value: kLink},
	}
	expectFindings(t, got, want...)
}

// TestRedteamUnreadOtherParent: a merge (the range's only commit) that
// changes only a mode against its first parent introduces nothing, and its
// second parent's tree is no longer read: that tree being missing is not
// reported by a scan of the merge alone (before 519a006 every parent's
// root tree was read): nothing the range holds is missed, and the error is
// about an object outside it, which a whole-history scan reports.
func TestRedteamUnreadOtherParent(t *testing.T) {
	t.Parallel()
	f := newForged(t)
	a := f.blob("a\n")
	p1 := f.commit(f.tree(treeEntry{"100644", "a.sh", a}))
	gone := objectID("tree", []byte("never written"))
	p2 := f.commit(gone)
	m := f.commit(f.tree(treeEntry{"100755", "a.sh", a}), p1, p2)
	setRef(t, f.gitDir, "refs/heads/main", m)
	got, res := scanRepo(t, f.r.dir, GitOptions{Include: []string{m}, Exclude: []string{p1, p2}})
	expectFindings(t, got)
	if res.Stats.Commits != 1 {
		t.Fatalf("%d commits scanned, want the merge alone", res.Stats.Commits)
	}
	// The missing tree is the second parent's: the whole history, which
	// diffs that parent itself, reports it.
	_, res = scanRepo(t, f.r.dir, GitOptions{})
	if !errorsMention(res.Errors, gone) {
		t.Errorf("whole history: errors %v do not name the missing tree %s", res.Errors, gone)
	}
}

// TestRedteamBlobEntryNamesATree: a file entry that names a tree (which
// holds a key under it) is a corrupt repository: git cannot check it out.
// The scan must say so, not pass clean. A range scan reads its few blobs
// one by one and reports the wrong type; a whole-history scan walks the
// packs' blobs, never meets it, and checkMissing counts as missing only
// what the database does not hold at all.
func TestRedteamBlobEntryNamesATree(t *testing.T) {
	t.Parallel()
	g := testkeys.New(7106)
	f := newForged(t)
	sub := f.tree(treeEntry{"100644", "s.txt", f.blob("k=" + g.APIKey() + "\n")})
	base := f.commit(f.tree(treeEntry{"100644", "a", f.blob("a\n")}))
	c := f.commit(f.tree(treeEntry{"100644", "a", f.blob("a\n")}, treeEntry{"100644", "notablob", sub}), base)
	setRef(t, f.gitDir, "refs/heads/main", c)
	_, res := scanRepo(t, f.r.dir, GitOptions{Range: base + ".." + c})
	if !errorsMention(res.Errors, sub) {
		t.Errorf("range: errors %v do not name %s", res.Errors, sub)
	}
	_, res = scanRepo(t, f.r.dir, GitOptions{})
	if !errorsMention(res.Errors, sub) {
		t.Errorf("whole history: errors %v do not name %s", res.Errors, sub)
	}
}

package gittest

import (
	"path/filepath"
	"strings"
	"testing"
)

// Git itself is the oracle for the forging helpers: an honest pack or
// loose object written by them must read back through git unchanged.
func TestForgeReadByGit(t *testing.T) {
	Need(t)
	repo := t.TempDir()
	Run(t, repo, "init", "-q")
	objects := filepath.Join(repo, ".git", "objects")

	base := []byte(strings.Repeat("a line of the base blob\n", 3000))
	edited := append(append([]byte(nil), base[:100]...), "an inserted line\n"...)
	edited = append(edited, base[100:]...)
	third := []byte("inserted only\n")
	names := ForgePack(t, objects, []PackObject{
		{Type: PackBlob, Data: base},
		{Type: PackOfsDelta, Base: 0, Name: ObjectName("blob", edited), Data: Delta(int64(len(base)), int64(len(edited)),
			DeltaCopy(0, 100), DeltaInsert([]byte("an inserted line\n")), DeltaCopy(100, uint32(len(base)-100)))},
		{Type: PackRefDelta, BaseName: ObjectName("blob", base), Name: ObjectName("blob", third),
			Data: Delta(int64(len(base)), int64(len(third)), DeltaInsert(third))},
	})
	idx, _ := filepath.Glob(filepath.Join(objects, "pack", "*.idx"))
	if len(idx) != 1 {
		t.Fatalf("index files: %v", idx)
	}
	Run(t, repo, "verify-pack", idx[0])
	for i, want := range [][]byte{base, edited, third} {
		if got := Run(t, repo, "cat-file", "blob", names[i]); got != strings.TrimSpace(string(want)) {
			t.Errorf("object %d reads back as %d bytes, want %d", i, len(got), len(want))
		}
	}

	tree := ForgeLoose(t, objects, "", "tree", TreeEntry("100644", "f.txt", names[1]))
	if got := Run(t, repo, "ls-tree", tree); got != "100644 blob "+names[1]+"\tf.txt" {
		t.Errorf("ls-tree: %q", got)
	}
	Run(t, repo, "fsck", "--no-dangling")
}

package scanner

import (
	"bufio"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/format/index"
)

// TestParseIndexMatchesGoGit reads real indexes of versions 2, 3 (with an
// intent-to-add entry and a conflict) and 4 with both parsers.
func TestParseIndexMatchesGoGit(t *testing.T) {
	r := newRepo(t)
	r.write("a.txt", "a\n")
	r.write("dir/b.txt", "b\n")
	r.write("dir/sub/c with space.txt", "c\n")
	r.write("é/ü.txt", "d\n")
	r.write("conflict.txt", "base\n")
	r.commit("base")
	r.conflictedMerge()
	r.write("new.txt", "n\n")
	r.git("add", "-N", "new.txt")
	for _, version := range []string{"3", "2", "4"} {
		if version == "2" {
			// Versions 2 and 4 cannot hold intent-to-add entries.
			r.git("rm", "-q", "--cached", "new.txt")
		}
		r.git("update-index", "--index-version", version)
		path := filepath.Join(r.dir, ".git", "index")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseIndex(data)
		if err != nil {
			t.Fatalf("v%s: %v", version, err)
		}
		f, _ := os.Open(path)
		var want index.Index
		if err := index.NewDecoder(bufio.NewReader(f)).Decode(&want); err != nil {
			t.Fatalf("go-git v%s: %v", version, err)
		}
		f.Close()
		if len(got) != len(want.Entries) {
			t.Fatalf("v%s: %d entries, go-git %d", version, len(got), len(want.Entries))
		}
		stages := 0
		for i, w := range want.Entries {
			g := got[i]
			if g.Name != w.Name || g.Hash != w.Hash || g.Mode != uint32(w.Mode) || g.Stage != uint8(w.Stage) || g.IntentToAdd != w.IntentToAdd {
				t.Errorf("v%s entry %d: got %+v, go-git %s %v %o %d %v", version, i, g, w.Name, w.Hash, w.Mode, w.Stage, w.IntentToAdd)
			}
			if g.Stage > 0 {
				stages++
			}
		}
		if stages != 3 {
			t.Errorf("v%s: %d conflict stages, want 3", version, stages)
		}
		if version == "3" && !got[len(got)-1].IntentToAdd && !got[len(got)-2].IntentToAdd {
			// new.txt sorts last or next to last.
			t.Errorf("v3: no intent-to-add entry")
		}
	}
	if _, err := parseIndex([]byte("DIRC\x00\x00\x00\x02\x00\x00\x00\x09")); err == nil {
		t.Errorf("a truncated index parsed")
	}
}

package scanner

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gemscan-dev/gemscan/internal/testkeys"

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

// forgeIndex builds a version-2 index of the named entries (mode 100644,
// stage 0, a fixed blob hash) followed by exts, with a valid checksum.
func forgeIndex(names []string, exts []byte) []byte {
	b := []byte("DIRC\x00\x00\x00\x02")
	b = binary.BigEndian.AppendUint32(b, uint32(len(names)))
	for _, n := range names {
		start := len(b)
		var stat [40]byte
		binary.BigEndian.PutUint32(stat[24:], 0o100644)
		b = append(b, stat[:]...)
		b = append(b, bytes.Repeat([]byte{0xab}, 20)...)
		b = binary.BigEndian.AppendUint16(b, uint16(min(len(n), 0xfff)))
		b = append(b, n...)
		for pad := 8 - (len(b)-start)%8; pad > 0; pad-- {
			b = append(b, 0)
		}
	}
	b = append(b, exts...)
	sum := sha1.Sum(b)
	return append(b, sum[:]...)
}

func extension(sig string, body []byte) []byte {
	b := append([]byte(sig), 0, 0, 0, 0)
	binary.BigEndian.PutUint32(b[4:], uint32(len(body)))
	return append(b, body...)
}

// TestParseIndexHostile pins each forged index shape to its refusal.
func TestParseIndexHostile(t *testing.T) {
	if _, err := parseIndex(forgeIndex([]string{"a", "b/c"}, nil)); err != nil {
		t.Fatalf("the honest forged index: %v", err)
	}
	// 2 million nested TREE levels: 16 MiB that used to recurse without end.
	deep := bytes.Repeat([]byte("a\x00-1 1\n"), 2_000_000)
	deep = append(deep, "a\x00-1 0\n"...)
	trailerZero := forgeIndex([]string{"a"}, nil)
	clear(trailerZero[len(trailerZero)-20:])
	flipped := forgeIndex([]string{"abc"}, nil)
	flipped[12+62] ^= 1
	huge := forgeIndex(nil, nil)
	binary.BigEndian.PutUint32(huge[8:], 0xffffffff)
	sum := sha1.Sum(huge[:len(huge)-20])
	copy(huge[len(huge)-20:], sum[:])

	for name, c := range map[string]struct {
		data []byte
		want string // "" means it parses
	}{
		"skipHash zero trailer":  {trailerZero, ""},
		"checksum mismatch":      {flipped, "checksum mismatch"},
		"absurd entry count":     {huge, "4294967295 entries cannot fit"},
		"TREE 2M levels deep":    {forgeIndex([]string{"a"}, extension("TREE", deep)), "deeper than 2048"},
		"malformed TREE":         {forgeIndex([]string{"a"}, extension("TREE", []byte("x\x00zz\n"))), "TREE extension"},
		"entries out of order":   {forgeIndex([]string{"b", "a"}, nil), "out of order"},
		"duplicate entries":      {forgeIndex([]string{"a", "a"}, nil), "out of order"},
		"names 3000 levels deep": {forgeIndex([]string{strings.Repeat("d/", 3000) + "f"}, nil), "deeper than 2048"},
		"required extension":     {forgeIndex([]string{"a"}, extension("zzzz", nil)), `"zzzz" extension`},
		"optional extension":     {forgeIndex([]string{"a"}, extension("ZZZZ", []byte("x"))), ""},
		"stray bytes":            {forgeIndex([]string{"a"}, []byte("abc")), "stray bytes"},
	} {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, _, err := parseIndexWithTree(c.data)
			runtime.ReadMemStats(&after)
			if c.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, errBadIndex) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			// A refusal allocates little beyond what it read (bounded
			// recursion, no allocation from a declared count).
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
				t.Errorf("allocated %d bytes to refuse it", grew)
			}
		})
	}
}

// TestStagedIndexChecksum: a corrupted index is refused by ScanStaged, and
// an index git wrote with index.skipHash (zero trailer) is read.
func TestStagedIndexChecksum(t *testing.T) {
	g := testkeys.New(84)
	r := newRepo(t)
	r.write("a.txt", "a\n")
	r.commit("one")
	k := g.APIKey()
	r.write("key.txt", "k="+k+"\n")
	r.git("add", "key.txt")
	path := filepath.Join(r.dir, ".git", "index")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	clear(data[len(data)-20:])
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := stagedValues(t, r.dir, StagedOptions{}); len(got) != 1 || !strings.HasSuffix(got[0], k) {
		t.Errorf("skipHash index: %v", got)
	}
	// A real trailer, then one changed byte it no longer vouches for.
	sum := sha1.Sum(data[:len(data)-20])
	copy(data[len(data)-20:], sum[:])
	data[bytes.Index(data, []byte("key.txt"))] = 'K'
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	res := ScanStaged(r.dir, StagedOptions{})
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), "checksum mismatch") {
		t.Errorf("errors %v, want a checksum mismatch", res.Errors)
	}
}

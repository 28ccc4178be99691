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
	"strconv"
	"strings"
	"testing"

	"github.com/gemscan-dev/gemscan/internal/testkeys"

	"github.com/go-git/go-git/v5/plumbing/format/index"
)

// TestParseIndexMatchesGoGit reads real indexes of versions 2, 3 (with an
// intent-to-add entry and a conflict) and 4 with both parsers.
func TestParseIndexMatchesGoGit(t *testing.T) {
	t.Parallel()
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
			if g.Name != w.Name || g.hash(data) != w.Hash || uint32(g.Mode) != uint32(w.Mode) || g.Stage != uint8(w.Stage) || g.IntentToAdd != w.IntentToAdd {
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

// forgeIndexV4 builds a version-4 index of n entries, each named by the
// last name plus one byte: "a", "aa", "aaa"…, n²/2 bytes once expanded.
func forgeIndexV4(n int) []byte {
	b := []byte("DIRC\x00\x00\x00\x04")
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	for i := 0; i < n; i++ {
		var stat [40]byte
		binary.BigEndian.PutUint32(stat[24:], 0o100644)
		b = append(b, stat[:]...)
		b = append(b, bytes.Repeat([]byte{0xab}, 20)...)
		b = binary.BigEndian.AppendUint16(b, 0xfff)
		b = append(b, 0, 'a', 0) // strip nothing, add "a"
	}
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
	// Not parallel: it measures allocation with the process-wide
	// MemStats, which parallel tests' allocations would inflate (seen
	// failing under load). Sequential tests never overlap parallel ones.
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
	wideMode := forgeIndex([]string{"a"}, nil)
	binary.BigEndian.PutUint32(wideMode[12+24:], 0x10000|0o100644)
	sum0 := sha1.Sum(wideMode[:len(wideMode)-20])
	copy(wideMode[len(wideMode)-20:], sum0[:])
	huge := forgeIndex(nil, nil)
	binary.BigEndian.PutUint32(huge[8:], 0xffffffff)
	sum := sha1.Sum(huge[:len(huge)-20])
	copy(huge[len(huge)-20:], sum[:])

	for name, c := range map[string]struct {
		data []byte
		want string // "" means it parses
		// maxAlloc bounds what refusing it may allocate: 8 MiB unless
		// set (names expanding are allowed a small multiple of the file).
		maxAlloc uint64
	}{
		"skipHash zero trailer":  {data: trailerZero, want: ""},
		"checksum mismatch":      {data: flipped, want: "checksum mismatch"},
		"absurd entry count":     {data: huge, want: "4294967295 entries cannot fit"},
		"mode beyond 16 bits":    {data: wideMode, want: "has mode 300644"},
		"TREE 2M levels deep":    {data: forgeIndex([]string{"a"}, extension("TREE", deep)), want: "deeper than 2048"},
		"malformed TREE":         {data: forgeIndex([]string{"a"}, extension("TREE", []byte("x\x00zz\n"))), want: "TREE extension"},
		"entries out of order":   {data: forgeIndex([]string{"b", "a"}, nil), want: "out of order"},
		"duplicate entries":      {data: forgeIndex([]string{"a", "a"}, nil), want: "out of order"},
		"names 3000 levels deep": {data: forgeIndex([]string{strings.Repeat("d/", 3000) + "f"}, nil), want: "deeper than 2048"},
		"required extension":     {data: forgeIndex([]string{"a"}, extension("zzzz", nil)), want: `"zzzz" extension`},
		"optional extension":     {data: forgeIndex([]string{"a"}, extension("ZZZZ", []byte("x"))), want: ""},
		"stray bytes":            {data: forgeIndex([]string{"a"}, []byte("abc")), want: "stray bytes"},
		"v4 names expanding":     {data: forgeIndexV4(200_000), want: "expand to more than", maxAlloc: 10 * 13 << 20},
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
			limit := c.maxAlloc
			if limit == 0 {
				limit = 8 << 20
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > limit {
				t.Errorf("allocated %d bytes to refuse it", grew)
			}
		})
	}
}

// TestStagedIndexChecksum: a corrupted index is refused by ScanStaged, and
// an index git wrote with index.skipHash (zero trailer) is read.
func TestStagedIndexChecksum(t *testing.T) {
	t.Parallel()
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

// FuzzParseIndex: no input makes the index parser panic, loop or allocate
// from a declared size; what it accepts is consistent with its header.
// The checksum is recomputed so that the fuzzer reaches the parser proper.
func FuzzParseIndex(f *testing.F) {
	f.Add(forgeIndex([]string{"a", "b/c", "b/d/e"}, nil), false)
	f.Add(forgeIndex([]string{"x"}, extension("TREE", []byte("\x001 1\n"+strings.Repeat("\xab", 20)+"x\x001 0\n"+strings.Repeat("\xcd", 20)))), false)
	f.Add(forgeIndex([]string{"x"}, extension("TREE", bytes.Repeat([]byte("a\x00-1 1\n"), 100))), false)
	f.Fuzz(func(t *testing.T, data []byte, keepTrailer bool) {
		if !keepTrailer && len(data) >= 20 {
			sum := sha1.Sum(data[:len(data)-20])
			copy(data[len(data)-20:], sum[:])
		}
		entries, tree, err := parseIndexWithTree(data)
		if err != nil {
			return
		}
		if want := binary.BigEndian.Uint32(data[8:12]); uint32(len(entries)) != want {
			t.Fatalf("%d entries, header says %d", len(entries), want)
		}
		for i := 1; i < len(entries); i++ {
			if entries[i].Name < entries[i-1].Name {
				t.Fatalf("entries out of order accepted")
			}
		}
		_ = tree
	})
}

// TestCacheTreeDuplicateSubtrees: a directory of the cache-tree listing a
// subdirectory twice is refused whatever the order of the names (git's,
// which checkSubtreeNames takes in one pass, or any other) and however
// many there are; distinct names in any order are read.
func TestCacheTreeDuplicateSubtrees(t *testing.T) {
	t.Parallel()
	tree := func(names ...string) []byte {
		b := []byte("\x00-1 " + strconv.Itoa(len(names)) + "\n")
		for _, n := range names {
			b = append(b, n+"\x00-1 0\n"...)
		}
		return b
	}
	many := func(dup bool) []string {
		var ns []string
		for i := range 20 {
			ns = append(ns, "d"+strconv.Itoa(i))
		}
		if dup {
			ns = append(ns, "d7")
		}
		return ns
	}
	for name, c := range map[string]struct {
		names []string
		dup   bool
	}{
		"git's order":          {[]string{"b", "z", "aa", "ab"}, false},
		"other order":          {[]string{"z", "b", "ab", "aa"}, false},
		"adjacent duplicate":   {[]string{"a", "b", "b"}, true},
		"duplicate apart":      {[]string{"b", "a", "c", "b"}, true},
		"many, distinct":       {many(false), false},
		"many, one duplicated": {many(true), true},
	} {
		_, _, err := parseCacheTree(tree(c.names...))
		if c.dup != (err != nil && strings.Contains(err.Error(), "listed twice")) {
			t.Errorf("%s: %v (want a duplicate error: %v)", name, err, c.dup)
		}
	}
}

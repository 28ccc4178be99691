package scanner

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gemscan-dev/gemscan/internal/testkeys"
)

// packedEntry is an object's place in a pack, from git verify-pack -v.
type packedEntry struct {
	typ         string
	off, stored int64 // where its entry starts, its bytes in the pack
	delta       bool
}

// TestRedteamPackedStreamChecksums: packed objects are inflated from
// memory by internal/inflate. A tree, a deltified tree and a blob whose
// zlib checksum (the last byte of their stream) is flipped, each in a
// copy of the same repository, are each an error naming the object, never
// a clean scan.
func TestRedteamPackedStreamChecksums(t *testing.T) {
	t.Parallel()
	g := testkeys.New(7201)
	r := newRepo(t)
	for i := 0; i < 60; i++ {
		r.write(fmt.Sprintf("dir/file-%02d.txt", i), fmt.Sprintf("file %d\n", i))
	}
	r.write("dir/key.txt", "k="+g.APIKey()+"\n")
	r.commit("one")
	for i := 0; i < 3; i++ {
		r.write(fmt.Sprintf("dir/file-%02d.txt", i*7), "changed\n")
		r.commit("more")
	}
	r.git("repack", "-adq", "--depth=10", "--window=50")
	idx, err := filepath.Glob(filepath.Join(r.dir, ".git", "objects", "pack", "*.idx"))
	if err != nil || len(idx) != 1 {
		t.Fatalf("packs %v, %v", idx, err)
	}
	entries := map[string]packedEntry{}
	for _, l := range strings.Split(r.git("verify-pack", "-v", idx[0]), "\n") {
		f := strings.Fields(l)
		if len(f) < 5 || len(f[0]) != 40 {
			continue
		}
		stored, _ := strconv.ParseInt(f[3], 10, 64)
		off, _ := strconv.ParseInt(f[4], 10, 64)
		entries[f[0]] = packedEntry{typ: f[1], off: off, stored: stored, delta: len(f) > 5}
	}
	targets := map[string]string{
		"the root tree": r.git("rev-parse", "HEAD^{tree}"),
		"the key blob":  r.git("rev-parse", "HEAD:dir/key.txt"),
	}
	for name, e := range entries {
		if e.typ == "tree" && e.delta {
			targets["a deltified tree"] = name
			break
		}
	}
	if len(targets) != 3 {
		t.Logf("no tree is stored as a delta: that case is not run")
	}
	pack := strings.TrimSuffix(idx[0], ".idx") + ".pack"
	orig, err := os.ReadFile(pack)
	if err != nil {
		t.Fatal(err)
	}
	for what, name := range targets {
		e, ok := entries[name]
		if !ok {
			t.Fatalf("%s %s is not in the pack", what, name)
		}
		bad := append([]byte(nil), orig...)
		bad[e.off+e.stored-1] ^= 0x01
		if err := os.Chmod(pack, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(pack, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		_, res := scanRepo(t, r.dir, GitOptions{})
		if !errorsMention(res.Errors, name) {
			t.Errorf("%s %s with a wrong checksum: errors %v do not name it", what, name, res.Errors)
		}
	}
	if err := os.WriteFile(pack, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	got, res := scanRepo(t, r.dir, GitOptions{})
	noErrors(t, res)
	if len(got) != 1 {
		t.Fatalf("the intact pack: findings %v", got)
	}
}

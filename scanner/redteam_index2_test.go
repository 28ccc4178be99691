package scanner

import (
	"crypto/sha1"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/gemscan-dev/gemscan/internal/testkeys"
)

// TestRedteamStagedIndexMutations: an index with a key staged, its bytes
// mutated (flips, truncation, entries reordered, counts that lie,
// extensions that overrun) and its checksum fixed: the scan either
// reports the key (under whatever name the mutation gave it) or errors, never passes clean, never panics.
func TestRedteamStagedIndexMutations(t *testing.T) {
	t.Parallel()
	g := testkeys.New(931)
	r := newRepo(t)
	for _, f := range []string{"a/f1", "a/f2", "c/g1", "c/g2"} {
		r.write(f, f+"\n")
	}
	r.commit("init")
	r.write("a/b/key.txt", "k="+g.APIKey()+"\n")
	r.write("c/g1", "changed\n")
	r.git("add", "-A")
	index := filepath.Join(r.dir, ".git", "index")
	orig, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	body := orig[:len(orig)-sha1.Size]
	entries, sigs, exts := indexParts(t, orig)
	if len(sigs) == 0 || sigs[0] != "TREE" {
		t.Fatalf("extensions %v: want a TREE", sigs)
	}
	rest := body[len(entries):]
	withSum := func(b []byte) []byte {
		sum := sha1.Sum(b)
		return append(append([]byte(nil), b...), sum[:]...)
	}
	forged := map[string][]byte{}
	count := binary.BigEndian.Uint32(body[8:12])
	for _, d := range []int{-1, 1, 1000} {
		b := append([]byte(nil), body...)
		binary.BigEndian.PutUint32(b[8:], uint32(int(count)+d))
		forged["entry count off by "+itoa(d)] = withSum(b)
	}
	over := append([]byte(nil), body...)
	binary.BigEndian.PutUint32(over[len(entries)+4:], uint32(len(exts["TREE"])+1))
	forged["TREE size overruns"] = withSum(over)
	forged["TREE cut"] = withSum(body[:len(body)-3])
	forged["entries cut"] = withSum(append(append([]byte(nil), entries[:len(entries)-5]...), rest...))
	rng := rand.New(rand.NewPCG(931, 1))
	for i := range 60 {
		b := append([]byte(nil), body...)
		for range 1 + rng.IntN(3) {
			b[12+rng.IntN(len(b)-12)] ^= 1 << rng.IntN(8)
		}
		forged["flip "+itoa(i)] = withSum(b)
	}
	for what, data := range forged {
		if err := os.WriteFile(index, data, 0o644); err != nil {
			t.Fatal(err)
		}
		res := ScanStaged(r.dir, StagedOptions{})
		if len(res.Errors) == 0 && len(res.Findings) == 0 {
			t.Errorf("%s: clean scan, no error, the key not reported", what)
		}
	}
}

func itoa(n int) string {
	if n < 0 {
		return "-" + itoa(-n)
	}
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

package odb

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gemscan-dev/gemscan/internal/gittest"
)

// TestRedteamCacheSlotCollisions: objects whose pack offsets or names
// share an index slot displace each other there; a displaced object is
// never returned for the one that took its slot, nor the newcomer for it,
// and an object evicted while pinned keeps its content until unpinned.
func TestRedteamCacheSlotCollisions(t *testing.T) {
	c := newBaseCache(16 << 10)
	c.grow() // the indexes' first size, which the few objects here keep
	p1, p2 := &pack{path: "one"}, &pack{path: "two"}
	// Two offsets of one pack in the same slot.
	off1 := int64(12)
	off2 := off1 + 1
	for c.keySlot(cacheKey{p1, off2}) != c.keySlot(cacheKey{p1, off1}) {
		off2++
	}
	a := c.put(cacheKey{p1, off1}, Blob, []byte("content of a"), 0)
	b := c.put(cacheKey{p1, off2}, Blob, []byte("content of b"), 0)
	// The same offset in another pack: the same slot again.
	x := c.put(cacheKey{p2, off2}, Tree, []byte("content of x"), 0)
	if a == nil || b == nil || x == nil {
		t.Fatal("put refused an object")
	}
	for _, tc := range []struct {
		k    cacheKey
		want string // "" for a miss
	}{{cacheKey{p1, off1}, ""}, {cacheKey{p1, off2}, ""}, {cacheKey{p2, off2}, "content of x"}, {cacheKey{p2, off1}, ""}} {
		it, ok := c.get(tc.k)
		switch {
		case ok && tc.want == "":
			t.Errorf("get %v: %q, want a miss", tc.k.off, it.data)
		case !ok && tc.want != "":
			t.Errorf("get %v: a miss, want %q", tc.k.off, tc.want)
		case ok && string(it.data) != tc.want:
			t.Errorf("get %v: %q, want %q", tc.k.off, it.data, tc.want)
		}
		if ok {
			c.unpin(it)
		}
	}
	// Names in one slot: their first bytes decide it.
	h1 := plumbing.NewHash("aaaa" + strings.Repeat("1", 36))
	h2 := plumbing.NewHash("aaaa" + strings.Repeat("2", 36))
	c.name(a, h1)
	c.name(x, h2)
	if it, ok := c.getName(h1); ok {
		t.Errorf("getName of a displaced name: %q", it.data)
		c.unpin(it)
	}
	if it, ok := c.getName(h2); !ok || string(it.data) != "content of x" {
		t.Errorf("getName of x: %v", ok)
	} else {
		c.unpin(it)
	}
	// Naming a again (another name) changes nothing: it is named once.
	c.name(a, h2)
	if it, ok := c.getName(h2); !ok || it != x {
		t.Errorf("getName after renaming a: not x")
	} else {
		c.unpin(it)
	}
	// Fill the cache past its size while a, b and x are pinned: they are
	// evicted but keep their content; once unpinned, their buffers are
	// spares, and the items are found by no key or name.
	var fill []*cacheItem
	for i := 0; i < 20; i++ {
		it := c.put(cacheKey{p1, int64(1000 + i)}, Blob, bytes.Repeat([]byte{byte('0' + i)}, 1024), 0)
		if it == nil {
			t.Fatal("put refused a filler")
		}
		c.unpin(it)
		fill = append(fill, it)
	}
	for _, it := range []*cacheItem{a, b, x} {
		if !it.gone {
			t.Fatalf("%q not evicted", it.data)
		}
	}
	if string(a.data) != "content of a" || string(b.data) != "content of b" || string(x.data) != "content of x" {
		t.Fatal("a pinned object's content changed when it was evicted")
	}
	for _, it := range []*cacheItem{a, b, x} {
		c.unpin(it)
		if it.data != nil {
			t.Errorf("an evicted, unpinned object keeps its buffer")
		}
	}
	if it, ok := c.getName(h2); ok {
		t.Errorf("getName of evicted x: %q", it.data)
	}
	if it, ok := c.get(cacheKey{p2, off2}); ok {
		t.Errorf("get of evicted x: %q", it.data)
	}
}

// TestRedteamViewsOfCollidingNames reads, from several goroutines through
// a cache that evicts all the time, objects whose names share a slot of
// the name index, and objects at offsets sharing one of the offset index,
// holding views of both at once: every view hashes to its name.
func TestRedteamViewsOfCollidingNames(t *testing.T) {
	t.Parallel()
	gittest.Need(t)
	dir := t.TempDir()
	git(t, dir, "init", "-q", "-b", "main")
	// 1,500 blobs alike enough for a repack to store them as deltas:
	// among 1,500 names, ~30 pairs share a name slot.
	var s strings.Builder
	s.WriteString("commit refs/heads/main\ncommitter Ada <ada@example.invalid> 1704067200 +0000\ndata 0\n")
	base := strings.Repeat("a line shared by every blob of the test\n", 30)
	for i := 0; i < 1500; i++ {
		body := fmt.Sprintf("%sblob %d\n", base, i)
		fmt.Fprintf(&s, "M 100644 inline f%d\ndata %d\n%s\n", i, len(body), body)
	}
	if err := gitStdin(dir, s.String(), "fast-import", "--quiet"); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "repack", "-q", "-a", "-d", "-f", "--depth=20")
	var names []plumbing.Hash
	for _, l := range strings.Split(git(t, dir, "cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objecttype)"), "\n") {
		if h, typ, _ := strings.Cut(l, " "); typ == "blob" {
			names = append(names, plumbing.NewHash(h))
		}
	}
	if len(names) != 1500 {
		t.Fatalf("%d blobs", len(names))
	}
	db := openDB(t, dir+"/.git/objects")
	db.cache = newBaseCache(32 << 10)
	db.cache.grow() // slots at the indexes' first size also share slots once they grow
	if err := db.LoadIndexes(); err != nil {
		t.Fatal(err)
	}
	bySlot := map[int][]plumbing.Hash{}
	byKeySlot := map[int][]plumbing.Hash{}
	for _, h := range names {
		bySlot[db.cache.nameSlot(h)] = append(bySlot[db.cache.nameSlot(h)], h)
		p, off, ok := db.locate(h)
		if !ok {
			t.Fatalf("%s not in the pack", h)
		}
		byKeySlot[db.cache.keySlot(cacheKey{p, off})] = append(byKeySlot[db.cache.keySlot(cacheKey{p, off})], h)
	}
	var groups [][]plumbing.Hash
	for _, m := range []map[int][]plumbing.Hash{bySlot, byKeySlot} {
		for _, g := range m {
			if len(g) > 1 {
				groups = append(groups, g)
			}
		}
	}
	if len(groups) < 10 {
		t.Fatalf("only %d groups of colliding objects", len(groups))
	}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; round < 6; round++ {
				for gi := range groups {
					g := groups[(gi+w*5+round)%len(groups)]
					var views []View
					var hs []plumbing.Hash
					for i := range g {
						h := g[(i+w+round)%len(g)]
						v, err := db.ReadView(context.Background(), h, Blob)
						if err != nil {
							t.Error(err)
							return
						}
						views, hs = append(views, v), append(hs, h)
					}
					for i, v := range views {
						if got := hashObject(Blob, v.Data); got != hs[i] {
							t.Errorf("view of %s hashes to %s", hs[i], got)
						}
						v.Release()
					}
				}
			}
		}()
	}
	wg.Wait()
}

package odb

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gemscan-dev/gemscan/internal/gittest"
)

// One test per forged shape: each names the object in its error and
// allocates nothing the data cannot back.

func objectsDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "objects")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func openDB(t *testing.T, dir string) *DB {
	t.Helper()
	db, err := Open(dir)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// blobsPass runs Blobs and returns what it visited and skipped.
func blobsPass(t *testing.T, db *DB, max int64) (visited map[plumbing.Hash]int, skipped map[plumbing.Hash]bool, errs []error) {
	t.Helper()
	var mu sync.Mutex
	visited, skipped = map[plumbing.Hash]int{}, map[plumbing.Hash]bool{}
	errs = db.Blobs(context.Background(), BlobsOptions{Workers: 2, MaxSize: max,
		OnSkip: func(h plumbing.Hash, _ int64) { mu.Lock(); skipped[h] = true; mu.Unlock() }},
		func(h plumbing.Hash, data []byte) {
			if max > 0 && int64(len(data)) > max {
				t.Errorf("blob %s of %d bytes visited, over the %d limit", h, len(data), max)
			}
			if blobHash(data) != h {
				t.Errorf("blob %s: content hashes to %s", h, blobHash(data))
			}
			mu.Lock()
			visited[h]++
			mu.Unlock()
		})
	return visited, skipped, errs
}

// wantOneError checks errs is one error naming name and saying what.
func wantOneError(t *testing.T, errs []error, name, what string) {
	t.Helper()
	if len(errs) != 1 {
		t.Fatalf("got %d errors, want 1 naming %s: %v", len(errs), name, errs)
	}
	if msg := errs[0].Error(); !strings.Contains(msg, name) || !strings.Contains(msg, what) {
		t.Fatalf("error %q: want it to name %s and say %q", msg, name, what)
	}
}

func fakeName(s string) string { return gittest.ObjectName("blob", []byte("made-up name: "+s)) }

func TestHostileRefDeltaOnItself(t *testing.T) {
	dir := objectsDir(t)
	self := fakeName("self")
	gittest.ForgePack(t, dir, []gittest.PackObject{
		{Type: gittest.PackBlob, Data: []byte("an honest blob\n")},
		{Type: gittest.PackRefDelta, Name: self, BaseName: self, Data: gittest.Delta(5, 5, gittest.DeltaCopy(0, 5))},
	})
	db := openDB(t, dir)
	if _, _, err := db.Read(plumbing.NewHash(self)); !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), self) {
		t.Fatalf("Read: %v, want a loop error naming %s", err, self)
	}
	visited, _, errs := blobsPass(t, db, 0)
	wantOneError(t, errs, self, "loops")
	if len(visited) != 1 {
		t.Errorf("visited %d blobs, want the honest one", len(visited))
	}
}

func TestHostileRefDeltaCycle(t *testing.T) {
	dir := objectsDir(t)
	a, b := fakeName("a"), fakeName("b")
	d := gittest.Delta(5, 5, gittest.DeltaCopy(0, 5))
	gittest.ForgePack(t, dir, []gittest.PackObject{
		{Type: gittest.PackRefDelta, Name: a, BaseName: b, Data: d},
		{Type: gittest.PackRefDelta, Name: b, BaseName: a, Data: d},
	})
	db := openDB(t, dir)
	for _, h := range []string{a, b} {
		if _, err := db.ReadType(plumbing.NewHash(h), Blob); !errors.Is(err, ErrLimit) {
			t.Errorf("Read(%s): %v, want a loop error", h, err)
		}
	}
	_, _, errs := blobsPass(t, db, 0)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "loops") || !strings.Contains(errs[0].Error(), "1 object(s) stored as deltas on it") {
		t.Fatalf("errors %v: want one loop error counting the other object", errs)
	}
}

func TestHostileRefDeltaCycleAcrossPacks(t *testing.T) {
	dir := objectsDir(t)
	a, b := fakeName("a"), fakeName("b")
	d := gittest.Delta(5, 5, gittest.DeltaCopy(0, 5))
	gittest.ForgePack(t, dir, []gittest.PackObject{{Type: gittest.PackRefDelta, Name: a, BaseName: b, Data: d}})
	gittest.ForgePack(t, dir, []gittest.PackObject{{Type: gittest.PackRefDelta, Name: b, BaseName: a, Data: d}})
	db := openDB(t, dir)
	if _, _, err := db.Read(plumbing.NewHash(a)); !errors.Is(err, ErrLimit) {
		t.Fatalf("Read: %v, want a loop error", err)
	}
	_, _, errs := blobsPass(t, db, 0)
	if len(errs) != 2 {
		t.Fatalf("errors %v: want one per pack", errs)
	}
	for _, err := range errs {
		if !errors.Is(err, ErrLimit) {
			t.Errorf("%v: want a loop error", err)
		}
	}
}

// deepChain forges a blob and n deltas on it, each on the previous.
func deepChain(t *testing.T, dir string, n int, base []byte) []string {
	objs := []gittest.PackObject{{Type: gittest.PackBlob, Data: base}}
	for i := 1; i <= n; i++ {
		// Each version is the base with one byte changed, so names differ.
		v := append([]byte(nil), base...)
		v[i%len(v)] = byte('a' + i%26)
		v = append(v, fmt.Sprintf("%d", i)...)
		prev := len(objs[i-1].Data)
		if i > 1 {
			prev = len(base) + len(fmt.Sprintf("%d", i-1))
		}
		objs = append(objs, gittest.PackObject{Type: gittest.PackOfsDelta, Base: i - 1,
			Name: gittest.ObjectName("blob", v),
			Data: gittest.Delta(int64(prev), int64(len(v)), gittest.DeltaInsert(v))})
	}
	return gittest.ForgePack(t, dir, objs)
}

func TestHostileDeltaChainTooDeep(t *testing.T) {
	dir := objectsDir(t)
	names := deepChain(t, dir, maxDeltaDepth+3, []byte("a small base blob\n"))
	db := openDB(t, dir)
	if _, err := db.ReadType(plumbing.NewHash(names[maxDeltaDepth]), Blob); err != nil {
		t.Fatalf("a chain as deep as git writes: %v", err)
	}
	tooDeep := names[maxDeltaDepth+1]
	if _, err := db.ReadType(plumbing.NewHash(tooDeep), Blob); !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "deeper") {
		t.Fatalf("Read: %v, want a depth error", err)
	}
	visited, _, errs := blobsPass(t, db, 0)
	wantOneError(t, errs, tooDeep, "deeper than 4095")
	if !strings.Contains(errs[0].Error(), "2 object(s) stored as deltas on it") {
		t.Errorf("error %q: want the two deeper objects counted", errs[0])
	}
	if len(visited) != maxDeltaDepth+1 {
		t.Errorf("visited %d blobs, want %d", len(visited), maxDeltaDepth+1)
	}
}

func TestHostileDeltaDeclaresTerabyte(t *testing.T) {
	for _, max := range []int64{0, 10 << 20} {
		t.Run(fmt.Sprint("max=", max), func(t *testing.T) {
			dir := objectsDir(t)
			bomb := fakeName("bomb")
			gittest.ForgePack(t, dir, []gittest.PackObject{
				{Type: gittest.PackBlob, Data: []byte("hello")},
				{Type: gittest.PackOfsDelta, Base: 0, Name: bomb, Data: gittest.Delta(5, 1<<40, gittest.DeltaCopy(0, 5))},
			})
			db := openDB(t, dir)
			if _, _, err := db.Read(plumbing.NewHash(bomb)); !errors.Is(err, ErrLimit) {
				t.Fatalf("Read: %v, want a size error", err)
			}
			_, _, errs := blobsPass(t, db, max)
			wantOneError(t, errs, bomb, "1099511627776 bytes")
		})
	}
}

func TestHostileBaseDeclaresMoreThanItHolds(t *testing.T) {
	// A whole blob declaring 512 MiB in a few bytes, and a small wanted
	// delta on it: the base must not be allocated.
	dir := objectsDir(t)
	base := fakeName("base")
	names := gittest.ForgePack(t, dir, []gittest.PackObject{
		{Type: gittest.PackBlob, Name: base, Data: []byte("tiny"), Size: 512 << 20},
		{Type: gittest.PackOfsDelta, Base: 0, Data: gittest.Delta(512<<20, 4, gittest.DeltaCopy(0, 4))},
	})
	db := openDB(t, dir)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, errs := blobsPass(t, db, 10<<20)
	if _, _, err := db.Read(plumbing.NewHash(names[1])); err == nil || !strings.Contains(err.Error(), "cannot hold") {
		t.Errorf("Read: %v, want a size error", err)
	}
	runtime.ReadMemStats(&after)
	wantOneError(t, errs, base, "cannot hold")
	if !strings.Contains(errs[0].Error(), "1 object(s) stored as deltas on it") {
		t.Errorf("error %q: want the delta counted", errs[0])
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 64<<20 {
		t.Errorf("allocated %d bytes for a forged 512 MiB base", got)
	}
}

func TestHostileTreeDeclaresGigabyte(t *testing.T) {
	dir := objectsDir(t)
	entry := gittest.TreeEntry("100644", "f", fakeName("f"))
	loose := fakeName("loose tree")
	gittest.ForgeLooseRaw(t, dir, loose, append([]byte("tree 1073741824\x00"), entry...))
	packed := fakeName("packed tree")
	gittest.ForgePack(t, dir, []gittest.PackObject{{Type: gittest.PackTree, Name: packed, Data: entry, Size: 1 << 30}})
	db := openDB(t, dir)
	for _, h := range []string{loose, packed} {
		_, err := db.ReadType(plumbing.NewHash(h), Tree)
		if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), h) {
			t.Errorf("Read(%s): %v, want a size error naming it", h, err)
		}
	}
}

func TestHostileIndexFanout(t *testing.T) {
	dir := objectsDir(t)
	gittest.ForgePack(t, dir, []gittest.PackObject{{Type: gittest.PackBlob, Data: []byte("x")}})
	idx, _ := filepath.Glob(filepath.Join(dir, "pack", "*.idx"))
	data, err := os.ReadFile(idx[0])
	if err != nil {
		t.Fatal(err)
	}
	for i := 0x80; i < 256; i++ { // 4 billion objects, sorted
		binary.BigEndian.PutUint32(data[8+4*i:], 0xfffffff0)
	}
	if err := os.WriteFile(idx[0], data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir)
	if err == nil || !strings.Contains(err.Error(), "4294967280 objects") {
		t.Fatalf("Open: %v, want the index refused", err)
	}
}

func TestHostileForgedLooseObjects(t *testing.T) {
	dir := objectsDir(t)
	tree := gittest.ForgeLoose(t, dir, "", "tree", gittest.TreeEntry("100644", "f", fakeName("f")))
	commit := []byte("tree " + tree + "\nauthor A <a@b> 0 +0000\ncommitter A <a@b> 0 +0000\n\nm\n")
	honest := gittest.ForgeLoose(t, dir, "", "commit", commit)
	// Another commit's content under a made-up name, and a tree under the
	// commit's name.
	forgedCommit := fakeName("commit")
	gittest.ForgeLoose(t, dir, forgedCommit, "commit", commit)
	forgedTree := fakeName("tree")
	gittest.ForgeLoose(t, dir, forgedTree, "tree", gittest.TreeEntry("40000", "loop", fakeName("tree")))
	db := openDB(t, dir)
	if _, err := db.ReadType(plumbing.NewHash(honest), Commit); err != nil {
		t.Fatalf("honest commit: %v", err)
	}
	for h, typ := range map[string]Type{forgedCommit: Commit, forgedTree: Tree} {
		_, err := db.ReadType(plumbing.NewHash(h), typ)
		if err == nil || !strings.Contains(err.Error(), h) || !strings.Contains(err.Error(), "forged") {
			t.Errorf("Read(%s): %v, want it refused as forged", h, err)
		}
	}
}

func TestHostileCorruptHeaderFailsAlone(t *testing.T) {
	dir := objectsDir(t)
	bad := fakeName("bad")
	names := gittest.ForgePack(t, dir, []gittest.PackObject{
		{Type: gittest.PackBlob, Data: []byte("first\n")},
		{Name: bad, Raw: []byte{0x50, 0x01, 0x02}}, // type 5 does not exist
		{Type: gittest.PackBlob, Data: []byte("third\n")},
		{Type: gittest.PackOfsDelta, Base: 2, Name: gittest.ObjectName("blob", []byte("fourth")),
			Data: gittest.Delta(6, 6, gittest.DeltaInsert([]byte("fourth")))},
	})
	db := openDB(t, dir)
	visited, _, errs := blobsPass(t, db, 0)
	wantOneError(t, errs, bad, "corrupt pack object header")
	for _, i := range []int{0, 2, 3} {
		if visited[plumbing.NewHash(names[i])] != 1 {
			t.Errorf("blob %d not visited", i)
		}
	}
}

// TestDeepChainMemory: a chain of 60 versions of a 1 MiB blob costs about
// two buffers, not one per depth, and blobs over MaxSize are not built.
func TestDeepChainMemory(t *testing.T) {
	dir := objectsDir(t)
	base := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	names := deepChain(t, dir, 60, base)
	db := openDB(t, dir)
	if err := db.LoadIndexes(); err != nil {
		t.Fatal(err)
	}
	measure := func(max int64) (uint64, map[plumbing.Hash]int, map[plumbing.Hash]bool) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		visited, skipped, errs := blobsPass(t, db, max)
		runtime.ReadMemStats(&after)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		return after.TotalAlloc - before.TotalAlloc, visited, skipped
	}
	alloc, visited, skipped := measure(0)
	if len(visited) != len(names) || len(skipped) != 0 {
		t.Fatalf("visited %d, skipped %d of %d", len(visited), len(skipped), len(names))
	}
	// 61 MiB of blobs: one buffer per depth would allocate all of it.
	if alloc > 12<<20 {
		t.Errorf("rebuilding the chain allocated %d bytes", alloc)
	}
	alloc, visited, skipped = measure(1 << 19)
	if len(visited) != 0 || len(skipped) != len(names) {
		t.Fatalf("visited %d, skipped %d of %d", len(visited), len(skipped), len(names))
	}
	if alloc > 2<<20 {
		t.Errorf("skipping the chain allocated %d bytes", alloc)
	}
}

// TestTooLargeBaseOfSmallBlob: a blob over MaxSize that a small blob is a
// delta on is built but reported as skipped, never visited.
func TestTooLargeBaseOfSmallBlob(t *testing.T) {
	dir := objectsDir(t)
	big := bytes.Repeat([]byte("x"), 1<<20)
	small := []byte("a small file\n")
	names := gittest.ForgePack(t, dir, []gittest.PackObject{
		{Type: gittest.PackBlob, Data: big},
		{Type: gittest.PackOfsDelta, Base: 0, Name: gittest.ObjectName("blob", small),
			Data: gittest.Delta(1<<20, int64(len(small)), gittest.DeltaInsert(small))},
	})
	visited, skipped, errs := blobsPass(t, openDB(t, dir), 1<<10)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if !skipped[plumbing.NewHash(names[0])] || visited[plumbing.NewHash(names[0])] != 0 || visited[plumbing.NewHash(names[1])] != 1 {
		t.Fatalf("visited %v, skipped %v", visited, skipped)
	}
}

func TestCancel(t *testing.T) {
	dir := objectsDir(t)
	var objs []gittest.PackObject
	for i := 0; i < 200; i++ {
		objs = append(objs, gittest.PackObject{Type: gittest.PackBlob, Data: []byte(fmt.Sprintf("blob %d\n", i))})
	}
	names := gittest.ForgePack(t, dir, objs)
	db := openDB(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	n := 0
	errs := db.Blobs(ctx, BlobsOptions{Workers: 1}, func(plumbing.Hash, []byte) {
		mu.Lock()
		n++
		mu.Unlock()
		cancel()
	})
	if len(errs) != 1 || !errors.Is(errs[0], context.Canceled) {
		t.Fatalf("errors %v, want the cancellation alone", errs)
	}
	if n >= len(names) {
		t.Errorf("visited all %d blobs after the cancel", n)
	}
	if _, _, err := db.ReadContext(ctx, plumbing.NewHash(names[0])); !errors.Is(err, context.Canceled) {
		t.Errorf("ReadContext: %v, want context.Canceled", err)
	}
}

// TestDeltaSizesOfHugeBase: the sizes at the start of a delta on a base
// over 256 MiB take more than 8 bytes; reading them is not corruption.
func TestDeltaSizesOfHugeBase(t *testing.T) {
	dir := objectsDir(t)
	d := fakeName("delta")
	gittest.ForgePack(t, dir, []gittest.PackObject{
		{Type: gittest.PackBlob, Data: []byte("hello")},
		{Type: gittest.PackOfsDelta, Base: 0, Name: d, Data: gittest.Delta(1<<35, 1<<28+3, gittest.DeltaInsert([]byte("abc")))},
	})
	_, _, errs := blobsPass(t, openDB(t, dir), 1<<29)
	wantOneError(t, errs, d, "the delta expects 34359738368")
}

// TestBranchingFamilyWithinBudget: a family that branches at every level
// (a complete binary tree of deltas) holds at most its budget of bases,
// dropping and rebuilding them, and still visits every blob once.
func TestBranchingFamilyWithinBudget(t *testing.T) {
	dir := objectsDir(t)
	const size, levels = 64 << 10, 6
	content := func(i int) []byte {
		b := bytes.Repeat([]byte(fmt.Sprintf("node %03d ", i)), size/9)
		return b
	}
	objs := []gittest.PackObject{{Type: gittest.PackBlob, Data: content(0)}}
	for i := 1; i < 1<<levels-1; i++ {
		parent := (i - 1) / 2
		c := content(i)
		objs = append(objs, gittest.PackObject{Type: gittest.PackOfsDelta, Base: parent,
			Name: gittest.ObjectName("blob", c),
			Data: gittest.Delta(int64(len(content(parent))), int64(len(c)), gittest.DeltaInsert(c))})
	}
	names := gittest.ForgePack(t, dir, objs)
	db := openDB(t, dir)
	seen := map[plumbing.Hash]int{}
	stats := &walkStats{}
	budget := int64(3 * size)
	errs := db.Blobs(context.Background(), BlobsOptions{Workers: 1, budget: budget, stats: stats}, func(h plumbing.Hash, data []byte) {
		if blobHash(data) != h {
			t.Errorf("blob %s: content hashes to %s", h, blobHash(data))
		}
		seen[h]++
	})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, n := range names {
		if seen[plumbing.NewHash(n)] != 1 {
			t.Errorf("blob %s visited %d times", n, seen[plumbing.NewHash(n)])
		}
	}
	if stats.dropped == 0 || stats.rebuilt == 0 {
		t.Errorf("no base dropped (%d) or rebuilt (%d): the budget was never reached", stats.dropped, stats.rebuilt)
	}
	if stats.peakHeld > budget+size+1024 {
		t.Errorf("held %d bytes of bases, budget %d", stats.peakHeld, budget)
	}
}

// TestCancelInsideFamily: the walk through one family of deltas stops at
// the next object once ctx is cancelled.
func TestCancelInsideFamily(t *testing.T) {
	dir := objectsDir(t)
	deepChain(t, dir, 100, []byte("a small base blob\n"))
	db := openDB(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	errs := db.Blobs(ctx, BlobsOptions{Workers: 1}, func(plumbing.Hash, []byte) {
		n++
		cancel()
	})
	if len(errs) != 1 || !errors.Is(errs[0], context.Canceled) {
		t.Fatalf("errors %v, want the cancellation alone", errs)
	}
	if n != 1 {
		t.Errorf("visited %d blobs of the family after the cancel, want 1", n)
	}
}

func TestHostileIndexChecksum(t *testing.T) {
	dir := objectsDir(t)
	gittest.ForgePack(t, dir, []gittest.PackObject{{Type: gittest.PackBlob, Data: []byte("x")}})
	idx, _ := filepath.Glob(filepath.Join(dir, "pack", "*.idx"))
	data, err := os.ReadFile(idx[0])
	if err != nil {
		t.Fatal(err)
	}
	data[8+1024+3] ^= 0x40 // a bit of the object's name: lookups would miss it
	if err := os.WriteFile(idx[0], data, 0o644); err != nil {
		t.Fatal(err)
	}
	db := openDB(t, dir)
	if err := db.LoadIndexes(); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("LoadIndexes: %v, want the corrupt index refused", err)
	}
}

// TestTooLargeDeltaInFamily: under a size limit, a delta found too large
// as it is built is skipped; it is built only when a blob to visit is a
// delta on it, and a too-large leaf is never built at all.
func TestTooLargeDeltaInFamily(t *testing.T) {
	const big = 1 << 20
	root := bytes.Repeat([]byte("0123456789abcdef"), 16) // 256 bytes
	// A 1 MiB blob built from root by copying it 4096 times.
	var copies [][]byte
	for i := 0; i < big/len(root); i++ {
		copies = append(copies, gittest.DeltaCopy(0, uint32(len(root))))
	}
	large := bytes.Repeat(root, big/len(root))
	small := []byte("a small file\n")
	for _, tc := range []struct {
		name      string
		leafOnBig bool // a small blob is a delta on the large one
	}{{"large base of a small blob", true}, {"large leaf", false}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := objectsDir(t)
			objs := []gittest.PackObject{
				{Type: gittest.PackBlob, Data: root},
				{Type: gittest.PackOfsDelta, Base: 0, Name: gittest.ObjectName("blob", large),
					Data: gittest.Delta(int64(len(root)), big, copies...)},
			}
			if tc.leafOnBig {
				objs = append(objs, gittest.PackObject{Type: gittest.PackOfsDelta, Base: 1, Name: gittest.ObjectName("blob", small),
					Data: gittest.Delta(big, int64(len(small)), gittest.DeltaInsert(small))})
			}
			names := gittest.ForgePack(t, dir, objs)
			db := openDB(t, dir)
			stats := &walkStats{}
			visited := map[plumbing.Hash]int{}
			skipped := map[plumbing.Hash]bool{}
			errs := db.Blobs(context.Background(), BlobsOptions{Workers: 1, MaxSize: 1 << 10, stats: stats,
				OnSkip: func(h plumbing.Hash, _ int64) { skipped[h] = true }},
				func(h plumbing.Hash, data []byte) {
					if blobHash(data) != h {
						t.Errorf("blob %s: content hashes to %s", h, blobHash(data))
					}
					visited[h]++
				})
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if visited[plumbing.NewHash(names[0])] != 1 || visited[plumbing.NewHash(names[1])] != 0 || !skipped[plumbing.NewHash(names[1])] {
				t.Fatalf("visited %v, skipped %v", visited, skipped)
			}
			if tc.leafOnBig {
				if visited[plumbing.NewHash(names[2])] != 1 || stats.built < big {
					t.Fatalf("small blob visited %d times, %d bytes built", visited[plumbing.NewHash(names[2])], stats.built)
				}
			} else if stats.built != 0 {
				t.Fatalf("built %d bytes: the large leaf was built", stats.built)
			}
		})
	}
}

// TestHostileZlibChecksum: a blob whose content is intact but whose zlib
// checksum is not is corrupt, read alone or in the blob pass; its
// neighbours are still read.
func TestHostileZlibChecksum(t *testing.T) {
	dir := objectsDir(t)
	content := []byte("checksummed content\n")
	z := gittest.Deflate(content)
	z[len(z)-1] ^= 0xff // the adler-32 trailer's last byte
	// A blob's pack header: type 3, the size in the low four bits and on.
	raw := append([]byte{0x30 | 0x80 | byte(len(content)&15), byte(len(content) >> 4)}, z...)
	bad := gittest.ObjectName("blob", content)
	names := gittest.ForgePack(t, dir, []gittest.PackObject{
		{Type: gittest.PackBlob, Data: []byte("first\n")},
		{Name: bad, Raw: raw},
		{Type: gittest.PackBlob, Data: []byte("third\n")},
	})
	db := openDB(t, dir)
	if err := db.LoadIndexes(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ReadType(plumbing.NewHash(bad), Blob); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("read: error %v, want a checksum error", err)
	}
	visited, _, errs := blobsPass(t, db, 0)
	wantOneError(t, errs, bad, "checksum")
	for _, i := range []int{0, 2} {
		if visited[plumbing.NewHash(names[i])] != 1 {
			t.Errorf("blob %d not visited", i)
		}
	}
}

// TestHostileLooseZlibChecksum: the same for a loose object.
func TestHostileLooseZlibChecksum(t *testing.T) {
	dir := objectsDir(t)
	content := []byte("loose checksummed content\n")
	name := gittest.ForgeLoose(t, dir, "", "blob", content)
	p := filepath.Join(dir, name[:2], name[2:])
	z, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	z[len(z)-1] ^= 0xff
	if err := os.WriteFile(p, z, 0o644); err != nil {
		t.Fatal(err)
	}
	db := openDB(t, dir)
	if _, err := db.ReadType(plumbing.NewHash(name), Blob); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("read: error %v, want a checksum error", err)
	}
}

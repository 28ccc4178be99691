package odb

import (
	"bytes"
	"context"
	"crypto/sha1"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gemscan-dev/gemscan/internal/gittest"
)

func git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	return gittest.Run(t, dir, args...)
}

// makeRepo returns a fresh copy of a history whose files change a little
// each commit, so that a repack stores most blobs as deltas. The history is
// built once (80 git commands) and copied for each test that changes it;
// tests that only read it share one (looseRepo, packedRepo): on a
// filesystem where creating files is slow, every copy costs.
func makeRepo(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(looseRepo(t))); err != nil {
		t.Fatalf("copy the test history: %v", err)
	}
	return dir
}

// looseRepo returns the history, its objects loose, shared: read it only.
func looseRepo(t testing.TB) string {
	t.Helper()
	gittest.Need(t)
	repoTemplate.once.Do(func() { repoTemplate.dir, repoTemplate.err = buildRepo(t) })
	if repoTemplate.err != nil {
		t.Fatalf("build the test history: %v", repoTemplate.err)
	}
	return repoTemplate.dir
}

// packedRepo returns the history repacked into one pack of delta chains
// up to 50 deep (git repack -a -d -f --depth=50), shared: read it only.
func packedRepo(t testing.TB) string {
	t.Helper()
	loose := looseRepo(t)
	packedTemplate.once.Do(func() {
		dir, err := os.MkdirTemp("", "gemscan-odb-packed-")
		if err == nil {
			err = os.CopyFS(dir, os.DirFS(loose))
		}
		if err == nil {
			_, err = gittest.Try(dir, 0, "repack", "-q", "-a", "-d", "-f", "--depth=50")
		}
		packedTemplate.dir, packedTemplate.err = dir, err
	})
	if packedTemplate.err != nil {
		t.Fatalf("repack the test history: %v", packedTemplate.err)
	}
	return packedTemplate.dir
}

// repoTemplate and packedTemplate are the shared histories, removed by
// TestMain.
var repoTemplate, packedTemplate struct {
	once sync.Once
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, dir := range []string{repoTemplate.dir, packedTemplate.dir} {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}

// buildRepo writes the history with one git fast-import (one process, not
// 80 adds and commits), unpacks its objects loose as commits made one by
// one leave them, and checks HEAD out.
func buildRepo(t testing.TB) (string, error) {
	dir, err := os.MkdirTemp("", "gemscan-odb-history-")
	if err != nil {
		return "", err
	}
	git(t, dir, "init", "-q", "-b", "main")
	var lines []string
	for i := 0; i < 200; i++ {
		lines = append(lines, fmt.Sprintf("line %d of a file that changes slowly", i))
	}
	var s strings.Builder
	for c := 0; c < 40; c++ {
		lines[(c*7)%len(lines)] = fmt.Sprintf("edited in commit %d", c)
		msg := fmt.Sprintf("c%d\n", c)
		fmt.Fprintf(&s, "commit refs/heads/main\ncommitter Ada <ada@example.invalid> 1704067200 +0000\ndata %d\n%s", len(msg), msg)
		for f := 0; f < 3; f++ {
			content := strings.Join(lines, "\n") + fmt.Sprintf("\nfile %d\n", f)
			fmt.Fprintf(&s, "M 100644 inline dir%d/file.txt\ndata %d\n%s\n", f, len(content), content)
		}
	}
	if err := gitStdin(dir, s.String(), "fast-import", "--quiet"); err != nil {
		return dir, err
	}
	packs, err := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "pack-*"))
	if err != nil || len(packs) != 2 {
		return dir, fmt.Errorf("fast-import left %v (%v), want one pack and its index", packs, err)
	}
	var pack []byte
	for _, p := range packs {
		if strings.HasSuffix(p, ".pack") {
			if pack, err = os.ReadFile(p); err != nil {
				return dir, err
			}
		}
		if err := os.Remove(p); err != nil {
			return dir, err
		}
	}
	if err := gitStdin(dir, string(pack), "unpack-objects", "-q"); err != nil {
		return dir, err
	}
	git(t, dir, "reset", "-q", "--hard")
	return dir, nil
}

// gitStdin runs git in dir with input on its standard input.
func gitStdin(dir, input string, args ...string) error {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = gittest.Env(0)
	cmd.Stdin = strings.NewReader(input)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

func blobHash(data []byte) plumbing.Hash {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	var out plumbing.Hash
	copy(out[:], h.Sum(nil))
	return out
}

func allBlobs(t *testing.T, dir string) map[string]bool {
	out := git(t, dir, "cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objecttype)")
	m := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		if h, typ, ok := strings.Cut(l, " "); ok && typ == "blob" {
			m[h] = true
		}
	}
	return m
}

func checkBlobs(t *testing.T, dir string) {
	t.Helper()
	db, err := Open(filepath.Join(dir, ".git", "objects"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mu sync.Mutex
	seen := map[string]int{}
	errs := db.Blobs(context.Background(), BlobsOptions{Workers: 2}, func(h plumbing.Hash, data []byte) {
		if got := blobHash(data); got != h {
			t.Errorf("blob %s inflated to content hashing to %s", h, got)
		}
		mu.Lock()
		seen[h.String()]++
		mu.Unlock()
	})
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	want := allBlobs(t, dir)
	for h := range want {
		if seen[h] != 1 {
			t.Errorf("blob %s visited %d times, want once", h, seen[h])
		}
	}
	if len(seen) != len(want) {
		t.Errorf("visited %d blobs, repository has %d", len(seen), len(want))
	}
	// Random access agrees.
	for h := range want {
		typ, data, err := db.Read(plumbing.NewHash(h))
		if err != nil || typ != Blob || blobHash(data).String() != h {
			t.Fatalf("Read(%s) = %v, %v", h, typ, err)
		}
	}
}

func TestBlobsLoose(t *testing.T) {
	t.Parallel()
	checkBlobs(t, looseRepo(t))
}

func TestBlobsPackedWithDeltas(t *testing.T) {
	t.Parallel()
	dir := packedRepo(t)
	out := git(t, dir, "verify-pack", "-v", filepath.Join(dir, ".git", "objects", "pack", mustGlob(t, dir)))
	if !strings.Contains(out, "chain length") {
		t.Fatalf("repack made no deltas:\n%s", out)
	}
	checkBlobs(t, dir)
}

func TestBlobsMixedPacksAndLoose(t *testing.T) {
	t.Parallel()
	dir := makeRepo(t)
	git(t, dir, "repack", "-q", "-d")
	os.WriteFile(filepath.Join(dir, "new.txt"), []byte("after the repack\n"), 0o644)
	git(t, dir, "add", "new.txt")
	git(t, dir, "commit", "-q", "-m", "loose")
	// A second pack holding some of the same objects.
	git(t, dir, "repack", "-q")
	checkBlobs(t, dir)
}

func TestAlternates(t *testing.T) {
	t.Parallel()
	src := packedRepo(t)
	clone := filepath.Join(t.TempDir(), "clone")
	git(t, filepath.Dir(clone), "clone", "-q", "--shared", src, clone)
	os.WriteFile(filepath.Join(clone, "own.txt"), []byte("only in the clone\n"), 0o644)
	git(t, clone, "add", "own.txt")
	git(t, clone, "commit", "-q", "-m", "own")
	checkBlobs(t, clone)
}

func mustGlob(t *testing.T, dir string) string {
	m, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "*.idx"))
	if len(m) == 0 {
		t.Fatal("no pack")
	}
	return filepath.Base(m[0])
}

func TestCorruptObjectNamed(t *testing.T) {
	t.Parallel()
	dir := makeRepo(t)
	// Corrupt one loose blob.
	h := git(t, dir, "rev-parse", "HEAD:dir0/file.txt")
	p := filepath.Join(dir, ".git", "objects", h[:2], h[2:])
	os.Chmod(p, 0o644)
	os.WriteFile(p, []byte("not zlib"), 0o644)
	db, err := Open(filepath.Join(dir, ".git", "objects"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var mu sync.Mutex
	errs := db.Blobs(context.Background(), BlobsOptions{}, func(plumbing.Hash, []byte) { mu.Lock(); n++; mu.Unlock() })
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), h) {
		t.Fatalf("errors %v, want one naming %s", errs, h)
	}
	if n == 0 {
		t.Errorf("no other blob was visited")
	}
}

// TestIndexLookup checks pack lookups against git show-index, the oracle:
// every object at git's offset, before the index is loaded (a fan-out
// bucket read from the file) and after (the index in memory).
func TestIndexLookup(t *testing.T) {
	t.Parallel()
	dir := packedRepo(t)
	idx := filepath.Join(dir, ".git", "objects", "pack", mustGlob(t, dir))
	f, err := os.Open(idx)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command("git", "show-index")
	cmd.Stdin = f
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	want := map[plumbing.Hash]int64{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var off int64
		var name string
		if _, err := fmt.Sscanf(l, "%d %s", &off, &name); err != nil {
			t.Fatalf("show-index line %q: %v", l, err)
		}
		want[plumbing.NewHash(name)] = off
	}
	if len(want) < 100 {
		t.Fatalf("only %d objects", len(want))
	}
	db, err := Open(filepath.Join(dir, ".git", "objects"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	check := func(when string) {
		for h, off := range want {
			if _, got, ok := db.locate(h); !ok || got != off {
				t.Fatalf("%s: %s at %d (found %v), git says %d", when, h, got, ok, off)
			}
			missing := h
			missing[19] ^= 1
			if _, ok := want[missing]; !ok {
				if _, _, ok := db.locate(missing); ok {
					t.Fatalf("%s: found %s, which the pack does not hold", when, missing)
				}
			}
		}
	}
	check("before LoadIndexes")
	if err := db.LoadIndexes(); err != nil {
		t.Fatal(err)
	}
	check("after LoadIndexes")
}

// BenchmarkReadTree reads every commit's root tree, oldest first, as a
// history diff does, through a freshly opened database each time.
func BenchmarkReadTree(b *testing.B) {
	dir := packedRepo(b)
	var trees []plumbing.Hash
	for _, l := range strings.Fields(git(b, dir, "log", "--reverse", "--format=%T")) {
		trees = append(trees, plumbing.NewHash(l))
	}
	b.ReportAllocs()
	for b.Loop() {
		db, err := Open(filepath.Join(dir, ".git", "objects"))
		if err != nil {
			b.Fatal(err)
		}
		if err := db.LoadIndexes(); err != nil {
			b.Fatal(err)
		}
		for _, h := range trees {
			if _, err := db.ReadType(h, Tree); err != nil {
				b.Fatal(err)
			}
		}
		db.Close()
	}
}

// BenchmarkSkipSame compares a tree of 1,200 entries with a copy of it
// whose last entry differs, as diffing a directory where one file changed.
// Its modes are mixed as in git's t/: mostly executables.
func BenchmarkSkipSame(b *testing.B) {
	var tree []byte
	for i := 0; i < 1200; i++ {
		name := fmt.Sprintf("t%04d-%s.sh", i, strings.Repeat("x", i%17))
		mode := "100755"
		switch i % 16 {
		case 0:
			mode = "40000"
		case 1, 2:
			mode = "100644"
		}
		tree = append(tree, gittest.TreeEntry(mode, name, gittest.ObjectName("blob", []byte(name)))...)
	}
	other := bytes.Clone(tree)
	other[len(other)-1]++
	b.SetBytes(int64(len(tree)))
	for b.Loop() {
		x, y := TreeIter{Data: tree}, TreeIter{Data: other}
		if n := x.SkipSame(&y); n != 1199 {
			b.Fatalf("skipped %d", n)
		}
	}
}

// BenchmarkApplyDelta builds a 16 KiB tree-like object from a base that
// differs in one entry: two copies around a small insert, into a fresh
// buffer each time as a tree read does.
func BenchmarkApplyDelta(b *testing.B) {
	base := bytes.Repeat([]byte("100644 some-file-name.c\x00abcdefghijklmnopqrst"), 400)
	mid := len(base) / 2
	delta := gittest.Delta(int64(len(base)), int64(len(base)),
		gittest.DeltaCopy(0, uint32(mid)), gittest.DeltaInsert([]byte("0123456789")),
		gittest.DeltaCopy(uint32(mid+10), uint32(len(base)-mid-10)))
	b.SetBytes(int64(len(base)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := applyDeltaMax(base, delta, nil, 1<<30); err != nil {
			b.Fatal(err)
		}
	}
}

// TestViewsAndRecycledBuffers reads every tree and commit of a history
// from several goroutines through a cache small enough to evict and reuse
// buffers all the time: every view holds its object's content until
// released (its hash matches), and content returned by Read is never
// reused (still matching after all the reads).
func TestViewsAndRecycledBuffers(t *testing.T) {
	t.Parallel()
	dir := packedRepo(t)
	var objs []plumbing.Hash
	for _, l := range strings.Split(git(t, dir, "cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objecttype)"), "\n") {
		if h, typ, _ := strings.Cut(l, " "); typ == "tree" || typ == "commit" {
			objs = append(objs, plumbing.NewHash(h))
		}
	}
	db, err := Open(filepath.Join(dir, ".git", "objects"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.cache = newBaseCache(16 << 10)
	if err := db.LoadIndexes(); err != nil {
		t.Fatal(err)
	}
	type kept struct {
		h    plumbing.Hash
		t    Type
		data []byte
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var all []kept
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			type held struct {
				v View
				h plumbing.Hash
			}
			var views []held
			for round := 0; round < 5; round++ {
				for i := range objs {
					h := objs[(i*7+g*13+round)%len(objs)]
					v, err := db.ReadView(context.Background(), h, 0)
					if err != nil {
						t.Error(err)
						return
					}
					views = append(views, held{v, h})
					if len(views) == 3 { // hold a few at once
						for _, x := range views {
							if got := hashObject(x.v.o.t, x.v.Data); got != x.h {
								t.Errorf("view of %s hashes to %s", x.h, got)
							}
							x.v.Release()
						}
						views = views[:0]
					}
					if i%5 == 0 {
						typ, data, err := db.Read(h)
						if err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						all = append(all, kept{h, typ, data})
						mu.Unlock()
					}
				}
			}
			for _, x := range views {
				x.v.Release()
			}
		}()
	}
	wg.Wait()
	for _, k := range all {
		if got := hashObject(k.t, k.data); got != k.h {
			t.Fatalf("content Read returned for %s now hashes to %s: its buffer was reused", k.h, got)
		}
	}
	if len(all) == 0 {
		t.Fatal("nothing read")
	}
}

// BenchmarkIndexSearch looks names up in an index of 400,000, the size of
// git/git's: a history scan makes a lookup per commit and tree it reads.
func BenchmarkIndexSearch(b *testing.B) {
	const n = 400000
	names := make([]byte, 0, n*20)
	for i := 0; i < n; i++ {
		h := sha1.Sum([]byte(strconv.Itoa(i)))
		names = append(names, h[:]...)
	}
	hashes := make([]plumbing.Hash, n)
	for i := range hashes {
		copy(hashes[i][:], names[i*20:])
	}
	slices.SortFunc(hashes, func(x, y plumbing.Hash) int { return bytes.Compare(x[:], y[:]) })
	var fan [256]uint32
	sorted := make([]byte, 0, n*20)
	for _, h := range hashes {
		sorted = append(sorted, h[:]...)
		for c := int(h[0]); c < 256; c++ {
			fan[c]++
		}
	}
	ix := &packIndex{fanout: &fan, names: sorted}
	i := 0
	for b.Loop() {
		h := hashes[i*7919%n]
		if m, ok := ix.search(h); !ok || ix.hash(m) != h {
			b.Fatalf("%s not found", h)
		}
		i++
	}
}

// TestIndexSearch checks the interpolating search against a plain binary
// search on indexes whose names are spread evenly (real ones) and on
// forged ones that crowd names together or share long prefixes: every
// name is found, and made-up names between them are not.
func TestIndexSearch(t *testing.T) {
	shapes := map[string]func(i int) plumbing.Hash{
		"sha1": func(i int) plumbing.Hash { return plumbing.Hash(sha1.Sum([]byte(strconv.Itoa(i)))) },
		"shared prefix": func(i int) plumbing.Hash {
			var h plumbing.Hash
			h[0], h[1] = 0x42, 0x42
			h[17], h[18], h[19] = byte(i>>16), byte(i>>8), byte(i)
			return h
		},
		"crowded": func(i int) plumbing.Hash {
			var h plumbing.Hash
			h[0] = 0x42
			if i%100 == 0 {
				h[1] = 0xff // a few far away, most packed near the start
			}
			h[2], h[3], h[10] = byte(i>>8), byte(i), byte(i*7)
			return h
		},
	}
	for name, shape := range shapes {
		t.Run(name, func(t *testing.T) {
			var hashes []plumbing.Hash
			seen := map[plumbing.Hash]bool{}
			for i := 0; i < 5000; i++ {
				if h := shape(i); !seen[h] {
					seen[h] = true
					hashes = append(hashes, h)
				}
			}
			slices.SortFunc(hashes, func(x, y plumbing.Hash) int { return bytes.Compare(x[:], y[:]) })
			var fan [256]uint32
			var names []byte
			for _, h := range hashes {
				names = append(names, h[:]...)
				for c := int(h[0]); c < 256; c++ {
					fan[c]++
				}
			}
			ix := &packIndex{fanout: &fan, names: names}
			for i, h := range hashes {
				if m, ok := ix.search(h); !ok || m != i {
					t.Fatalf("%s: found %v at %d, want %d", h, ok, m, i)
				}
				miss := h
				miss[19] ^= 0x80
				miss[12] ^= 0x01
				_, want := slices.BinarySearchFunc(hashes, miss, func(x, y plumbing.Hash) int { return bytes.Compare(x[:], y[:]) })
				if _, ok := ix.search(miss); ok != want {
					t.Fatalf("%s: found %v, want %v", miss, ok, want)
				}
			}
		})
	}
}

// BenchmarkInflateObjects inflates every object of a repacked history from
// memory, as a history scan reads its commits, trees and deltas: most
// streams are a few hundred bytes, so the cost is mostly per stream.
func BenchmarkInflateObjects(b *testing.B) {
	db, err := Open(filepath.Join(packedRepo(b), ".git", "objects"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	p := db.packs[0]
	ix, err := p.loadIndex()
	if err != nil {
		b.Fatal(err)
	}
	type stream struct {
		src  []byte
		size int64
	}
	var streams []stream
	var total int64
	for k, off := range ix.sorted().offs {
		end, _ := p.end(off)
		raw := make([]byte, end-off)
		if _, err := p.f.ReadAt(raw, off); err != nil {
			b.Fatal(err)
		}
		h, err := parseHeader(raw, off)
		if err != nil {
			b.Fatalf("object %d: %v", k, err)
		}
		streams = append(streams, stream{raw[h.data-off:], h.size})
		total += h.size
	}
	dst := make([]byte, 1<<20)
	ctx := context.Background()
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range streams {
			if err := inflateMem(ctx, s.src, dst[:s.size]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// Package odb reads a git object database directly: loose objects, packs
// (with their .idx files) and alternates. It offers random
// access to one object (Read) and a fast pass that inflates every blob of
// the database exactly once (Blobs), which is what history scanning needs
// to cost about what reading every object once costs.
package odb

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gemscan-dev/gemscan/internal/gitdir"
)

// Type is a git object type.
type Type uint8

// Object types, numbered as in pack files.
const (
	Commit Type = 1
	Tree   Type = 2
	Blob   Type = 3
	Tag    Type = 4
	// ofsDelta and refDelta appear only inside packs.
	ofsDelta Type = 6
	refDelta Type = 7
)

func (t Type) String() string {
	switch t {
	case Commit:
		return "commit"
	case Tree:
		return "tree"
	case Blob:
		return "blob"
	case Tag:
		return "tag"
	}
	return fmt.Sprintf("type %d", t)
}

func parseType(s string) (Type, bool) {
	switch s {
	case "commit":
		return Commit, true
	case "tree":
		return Tree, true
	case "blob":
		return Blob, true
	case "tag":
		return Tag, true
	}
	return 0, false
}

// baseCacheSize bounds the cache of inflated objects (trees, mostly, read
// while diffing commits; deltified in chains, they share bases).
const baseCacheSize = 32 << 20

// ErrNotFound is returned for an object the database does not hold.
var ErrNotFound = errors.New("object not found")

// DB is an object database: an objects directory and its alternates.
type DB struct {
	dirs  []string // objects directories, own first
	packs []*pack

	cache *baseCache
}

// Open opens the objects directory dir (usually .git/objects) and every
// directory it borrows from through objects/info/alternates.
func Open(dir string) (*DB, error) {
	db := &DB{cache: newBaseCache(baseCacheSize)}
	seen := map[string]bool{}
	if err := db.addDir(dir, seen, 0); err != nil {
		return nil, err
	}
	return db, nil
}

func (db *DB) addDir(dir string, seen map[string]bool, depth int) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("objects directory %s: %w", dir, err)
	}
	if seen[abs] {
		return nil
	}
	seen[abs] = true
	if _, err := os.Stat(abs); err != nil {
		return fmt.Errorf("objects directory: %w", err)
	}
	db.dirs = append(db.dirs, abs)
	packs, err := filepath.Glob(filepath.Join(abs, "pack", "*.idx"))
	if err != nil {
		return err
	}
	sort.Strings(packs)
	for _, idx := range packs {
		p, err := openPack(strings.TrimSuffix(idx, ".idx"))
		if err != nil {
			return err
		}
		p.db = db
		db.packs = append(db.packs, p)
	}
	if depth >= 5 {
		return nil
	}
	f, err := gitdir.OpenFile(filepath.Join(abs, "info", "alternates"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("read alternates: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !filepath.IsAbs(line) {
			line = filepath.Join(abs, line)
		}
		if err := db.addDir(line, seen, depth+1); err != nil {
			return fmt.Errorf("alternate %s: %w", line, err)
		}
	}
	return sc.Err()
}

// LoadIndexes decodes every pack index in full, which makes lookups
// memory-only: worth it before reading many objects.
func (db *DB) LoadIndexes() error {
	for _, p := range db.packs {
		if _, err := p.loadIndex(); err != nil {
			return err
		}
	}
	return nil
}

// Close releases the pack files.
func (db *DB) Close() error {
	var first error
	for _, p := range db.packs {
		if err := p.close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Read returns an object's type and content.
func (db *DB) Read(h plumbing.Hash) (Type, []byte, error) {
	return db.ReadContext(context.Background(), h)
}

// ErrAmbiguous is returned for an abbreviated hash that names several
// objects.
var ErrAmbiguous = errors.New("ambiguous abbreviated hash")

// Expand returns the one object whose hash starts with prefix (lower-case
// hex, at least 4 digits).
func (db *DB) Expand(prefix string) (plumbing.Hash, error) {
	var found []plumbing.Hash
	add := func(h plumbing.Hash) {
		for _, f := range found {
			if f == h {
				return
			}
		}
		found = append(found, h)
	}
	for _, p := range db.packs {
		ix, err := p.loadIndex()
		if err != nil {
			return plumbing.ZeroHash, err
		}
		for i := 0; i < int(p.count); i++ {
			if h := ix.hash(i); strings.HasPrefix(h.String(), prefix) {
				add(h)
			}
		}
	}
	for _, d := range db.dirs {
		names, _ := os.ReadDir(filepath.Join(d, prefix[:2]))
		for _, n := range names {
			if strings.HasPrefix(prefix[:2]+n.Name(), prefix) {
				if h, ok := hashFromHex(prefix[:2] + n.Name()); ok {
					add(h)
				}
			}
		}
	}
	switch len(found) {
	case 0:
		return plumbing.ZeroHash, fmt.Errorf("%s: %w", prefix, ErrNotFound)
	case 1:
		return found[0], nil
	}
	return plumbing.ZeroHash, fmt.Errorf("%s: %w (%d objects)", prefix, ErrAmbiguous, len(found))
}

// ReadType reads an object and checks its type.
func (db *DB) ReadType(h plumbing.Hash, want Type) ([]byte, error) {
	return db.ReadTypeContext(context.Background(), h, want)
}

// inPackBefore reports whether h is in one of the first n packs.
func (db *DB) inPackBefore(h plumbing.Hash, n int) bool {
	for _, p := range db.packs[:n] {
		if _, ok := p.find(h); ok {
			return true
		}
	}
	return false
}

// inAnyPack reports whether some pack holds h.
func (db *DB) inAnyPack(h plumbing.Hash) bool { return db.inPackBefore(h, len(db.packs)) }

// baseCache keeps recently inflated pack objects, so reading a run of
// deltified trees does not re-inflate their shared bases. It owns their
// buffers: a reader pins an object while it uses its content, and an
// object evicted once no reader pins it gives its buffer back for the next
// object to be built in, unless it was lent to a caller for good (Read).
// A history diff reads gigabytes of trees this way without leaving them
// to the garbage collector.
//
// Objects are found through two direct-mapped indexes, by pack offset and
// by name: one slot each, a newcomer taking the slot of an object that
// hashes alike. An object that lost its slot is only found no more (it is
// read again if needed) and still leaves by the LRU order. A history scan
// puts and evicts half a million objects: map deletions alone cost it a
// third of a second. The indexes start small and double as the objects
// held outgrow them, so that a pre-commit check reading a few objects does
// not pay for pages of slots.
type baseCache struct {
	mu   sync.Mutex
	max  int
	size int // bytes held by cached objects' buffers
	// items finds cached objects by pack offset; byName those read by
	// name (Read, ReadView), so reading one again, as a history diff reads
	// each tree once as a commit's and once as its parent's, skips the
	// index lookup. Both have 1<<slotBits slots, nil until the first put.
	items, byName []*cacheItem
	slotBits      uint
	count         int        // objects cached
	head          *cacheItem // most recent
	tail          *cacheItem

	free      [64][][]byte // spare buffers by bits.Len of their capacity
	freeBytes int
}

type cacheKey struct {
	p   *pack
	off int64
}

type cacheItem struct {
	key        cacheKey
	name       plumbing.Hash // set when named in byName
	named      bool
	t          Type
	depth      int // delta chain depth
	data       []byte
	pins       int32 // readers using data
	lent       bool  // handed to a caller for good: never reused
	gone       bool  // evicted
	prev, next *cacheItem
}

// The cache's indexes start with 1<<minSlotBits slots and double while
// the objects held fill more than half of them, up to 1<<maxSlotBits:
// several times the objects a full cache holds (a few thousand trees of
// git's in 32 MiB).
const (
	minSlotBits = 8
	maxSlotBits = 15
)

// keySlot and nameSlot are the index slots of a pack offset and a name.
// Objects of two packs at the same offset share a slot: a repository has
// a few packs at most, and one of them large.
func (c *baseCache) keySlot(k cacheKey) int {
	return int(uint64(k.off) * 0x9e3779b97f4a7c15 >> (64 - c.slotBits))
}

func (c *baseCache) nameSlot(h plumbing.Hash) int {
	return int(binary.BigEndian.Uint32(h[:4]) >> (32 - c.slotBits))
}

// grow sizes the indexes for one object more, refilling them from the
// cached objects (the most recent last, so that they win shared slots).
// c.mu must be held.
func (c *baseCache) grow() {
	bits := c.slotBits
	if bits == 0 {
		bits = minSlotBits
	}
	for c.count+1 > 1<<bits/2 && bits < maxSlotBits {
		bits++
	}
	if bits == c.slotBits {
		return
	}
	c.slotBits = bits
	c.items, c.byName = make([]*cacheItem, 1<<bits), make([]*cacheItem, 1<<bits)
	for it := c.tail; it != nil; it = it.prev {
		c.items[c.keySlot(it.key)] = it
		if it.named {
			c.byName[c.nameSlot(it.name)] = it
		}
	}
}

func newBaseCache(max int) *baseCache {
	return &baseCache{max: max}
}

// getName returns the cached object named h, pinned.
func (c *baseCache) getName(h plumbing.Hash) (*cacheItem, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byName == nil {
		return nil, false
	}
	it := c.byName[c.nameSlot(h)]
	if it == nil || it.name != h {
		return nil, false
	}
	return c.pin(it)
}

// name records that it, pinned by the caller, is object h.
func (c *baseCache) name(it *cacheItem, h plumbing.Hash) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if it.gone || it.named {
		return
	}
	it.name, it.named = h, true
	c.byName[c.nameSlot(h)] = it
}

// get returns a cached object, pinned: its content stays as it is until
// unpin.
func (c *baseCache) get(k cacheKey) (*cacheItem, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.items == nil {
		return nil, false
	}
	it := c.items[c.keySlot(k)]
	if it == nil || it.key != k {
		return nil, false
	}
	return c.pin(it)
}

// pin pins it (nil: not cached) and makes it the most recently used.
// c.mu must be held.
func (c *baseCache) pin(it *cacheItem) (*cacheItem, bool) {
	if it == nil {
		return nil, false
	}
	it.pins++
	c.unlink(it)
	c.pushFront(it)
	return it, true
}

// unpin ends a reader's use of it.
func (c *baseCache) unpin(it *cacheItem) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it.pins--
	if it.gone && it.pins == 0 && !it.lent {
		c.recycleLocked(it.data)
		it.data = nil
	}
}

// lend unpins it and hands its content to the caller for good.
func (c *baseCache) lend(it *cacheItem) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it.lent = true
	it.pins--
}

// put caches data, which the cache then owns, and returns its item pinned;
// or it returns nil and the caller keeps data (too large to cache, or
// cached already by another reader).
func (c *baseCache) put(k cacheKey, t Type, data []byte, depth int) *cacheItem {
	if cap(data) > c.max/8 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.grow()
	slot := &c.items[c.keySlot(k)]
	if *slot != nil && (*slot).key == k {
		return nil
	}
	it := &cacheItem{key: k, t: t, data: data, depth: depth, pins: 1}
	*slot = it
	c.count++
	c.pushFront(it)
	c.size += cap(data)
	for c.size > c.max && c.tail != nil && c.tail != it {
		old := c.tail
		c.unlink(old)
		c.count--
		if s := &c.items[c.keySlot(old.key)]; *s == old {
			*s = nil
		}
		if old.named {
			if s := &c.byName[c.nameSlot(old.name)]; *s == old {
				*s = nil
			}
		}
		c.size -= cap(old.data)
		old.gone = true
		if old.pins == 0 && !old.lent {
			c.recycleLocked(old.data)
			old.data = nil
		}
	}
	return it
}

// alloc returns a buffer of n bytes, a spare one when one fits.
func (c *baseCache) alloc(n int) []byte {
	k := bits.Len(uint(n))
	c.mu.Lock()
	for _, b := range [2]int{k, k + 1} {
		if b >= len(c.free) {
			break
		}
		list := c.free[b]
		for i := len(list) - 1; i >= 0 && i >= len(list)-8; i-- {
			if cap(list[i]) >= n {
				buf := list[i]
				list[i] = list[len(list)-1]
				list[len(list)-1] = nil
				c.free[b] = list[:len(list)-1]
				c.freeBytes -= cap(buf)
				c.mu.Unlock()
				return buf[:n]
			}
		}
	}
	c.mu.Unlock()
	return make([]byte, n, n+n/8)
}

// recycle gives a buffer no one uses any more back for reuse.
func (c *baseCache) recycle(b []byte) {
	if b == nil {
		return
	}
	c.mu.Lock()
	c.recycleLocked(b)
	c.mu.Unlock()
}

// maxFreeShare bounds the bytes of spare buffers kept, as a share of the
// cache's size.
const maxFreeShare = 4

func (c *baseCache) recycleLocked(b []byte) {
	limit := c.max / maxFreeShare
	k := bits.Len(uint(cap(b)))
	if cap(b) == 0 || cap(b) > limit || k >= len(c.free) {
		return // left to the collector
	}
	// Full: drop spares of smaller sizes first, so that those of a past
	// phase (commits of a few hundred bytes) do not keep out the sizes
	// read now (trees).
	for j := 0; j < k && c.freeBytes+cap(b) > limit; j++ {
		for _, old := range c.free[j] {
			c.freeBytes -= cap(old)
		}
		clear(c.free[j])
		c.free[j] = c.free[j][:0]
	}
	if c.freeBytes+cap(b) > limit {
		return
	}
	c.free[k] = append(c.free[k], b[:0])
	c.freeBytes += cap(b)
}

func (c *baseCache) unlink(it *cacheItem) {
	if it.prev != nil {
		it.prev.next = it.next
	} else {
		c.head = it.next
	}
	if it.next != nil {
		it.next.prev = it.prev
	} else {
		c.tail = it.prev
	}
	it.prev, it.next = nil, nil
}

func (c *baseCache) pushFront(it *cacheItem) {
	it.next = c.head
	if c.head != nil {
		c.head.prev = it
	}
	c.head = it
	if c.tail == nil {
		c.tail = it
	}
}

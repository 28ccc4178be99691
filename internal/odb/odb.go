// Package odb reads a git object database directly: loose objects, packs
// (with their .idx files) and alternates. It offers random
// access to one object (Read) and a fast pass that inflates every blob of
// the database exactly once (Blobs), which is what history scanning needs
// to cost about what reading every object once costs.
package odb

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
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
	f, err := os.Open(filepath.Join(abs, "info", "alternates"))
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
// deltified trees does not re-inflate their shared bases.
type baseCache struct {
	mu    sync.Mutex
	max   int
	size  int
	items map[cacheKey]*cacheItem
	head  *cacheItem // most recent
	tail  *cacheItem
}

type cacheKey struct {
	p   *pack
	off int64
}

type cacheItem struct {
	key        cacheKey
	t          Type
	depth      int // delta chain depth
	data       []byte
	prev, next *cacheItem
}

func newBaseCache(max int) *baseCache {
	return &baseCache{max: max, items: map[cacheKey]*cacheItem{}}
}

// get returns a cached object with the depth of its delta chain.
func (c *baseCache) get(k cacheKey) (Type, []byte, int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.items[k]
	if !ok {
		return 0, nil, 0, false
	}
	c.unlink(it)
	c.pushFront(it)
	return it.t, it.data, it.depth, true
}

func (c *baseCache) put(k cacheKey, t Type, data []byte, depth int) {
	if len(data) > c.max/8 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[k]; ok {
		return
	}
	it := &cacheItem{key: k, t: t, data: data, depth: depth}
	c.items[k] = it
	c.pushFront(it)
	c.size += len(data)
	for c.size > c.max && c.tail != nil {
		old := c.tail
		c.unlink(old)
		delete(c.items, old.key)
		c.size -= len(old.data)
	}
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

package odb

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
)

// Limits on what a repository may make the reader allocate. Every size an
// object declares is checked against them, and against what its stored
// bytes could hold, before a buffer of that size exists.
const (
	// maxObject bounds any single object read into memory.
	maxObject = 1 << 30
	// maxMetaObject bounds commits, trees and tags. Git sets no such limit,
	// but the largest trees of real repositories (a directory of 100,000
	// files) are a few MiB: 64 MiB leaves a wide margin and stops a forged
	// "1 GiB tree" before it costs memory.
	maxMetaObject = 64 << 20
	// maxDeltaDepth bounds a delta chain. git pack-objects never writes a
	// deeper one (it caps --depth at 4095), so a longer chain is forged.
	maxDeltaDepth = 4095
	// maxRatio bounds how much a zlib stream can inflate: deflate's best
	// case is about 1032:1 (258-byte matches coded in a few bits).
	maxRatio = 1040
)

// ErrLimit is wrapped by errors for objects that break the reader's limits:
// delta chains that loop or run too deep, declared sizes too large.
var ErrLimit = errors.New("object beyond the reader's limits")

// errCorrupt is wrapped by errors for objects whose bytes contradict
// themselves.
var errCorrupt = errors.New("corrupt object")

// limitFor returns the largest size an object of type t may have.
func limitFor(t Type) int64 {
	switch t {
	case Commit, Tree, Tag:
		return maxMetaObject
	}
	return maxObject
}

// checkSize refuses a declared size over the limit for type t (any type
// when t is 0) or larger than compressed bytes of zlib could inflate to.
func checkSize(size int64, t Type, compressed int64) error {
	if size < 0 {
		return fmt.Errorf("%w: negative size", errBadHeader)
	}
	if lim := limitFor(t); size > lim {
		what := "object"
		if t != 0 {
			what = t.String()
		}
		return fmt.Errorf("%w: declares %d bytes, over the %d-byte limit for a %s", ErrLimit, size, lim, what)
	}
	if compressed >= 0 && size > compressed*maxRatio+64 {
		return fmt.Errorf("%w: declares %d bytes, which its %d compressed bytes cannot hold", errCorrupt, size, compressed)
	}
	return nil
}

// errWrongType is returned by read when the object is not of the wanted
// type; ReadType words it.
type errWrongType struct{ got, want Type }

func (e errWrongType) Error() string { return fmt.Sprintf("is a %s, want a %s", e.got, e.want) }

// ReadContext returns an object's type and content. It stops with ctx's
// error when ctx is cancelled.
func (db *DB) ReadContext(ctx context.Context, h plumbing.Hash) (Type, []byte, error) {
	o, err := db.read(ctx, h, 0)
	if err != nil {
		return 0, nil, fmt.Errorf("object %s: %w", h, err)
	}
	return o.t, db.keep(o), nil
}

// ReadTypeContext reads an object and checks its type; an object of
// another type is refused before it is inflated.
func (db *DB) ReadTypeContext(ctx context.Context, h plumbing.Hash, want Type) ([]byte, error) {
	o, err := db.read(ctx, h, want)
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", h, err)
	}
	return db.keep(o), nil
}

// View is an object's content lent until Release: the database may then
// build other objects in its buffer. Reading with views, a history diff
// leaves no garbage behind its gigabytes of trees.
type View struct {
	Data []byte
	o    object
	db   *DB
}

// Release ends the use of v.Data. It may be called once; the zero View's
// Release does nothing.
func (v View) Release() {
	if v.db != nil {
		v.db.release(v.o)
	}
}

// ReadView reads an object of type want (any when 0) into a View.
func (db *DB) ReadView(ctx context.Context, h plumbing.Hash, want Type) (View, error) {
	o, err := db.read(ctx, h, want)
	if err != nil {
		return View{}, fmt.Errorf("object %s: %w", h, err)
	}
	return View{Data: o.data, o: o, db: db}, nil
}

// object is an object's content as read: in a cached item the reader pins,
// or in a buffer of its own.
type object struct {
	t    Type
	data []byte
	it   *cacheItem // nil: data is the reader's own
}

// release ends the use of o's content.
func (db *DB) release(o object) {
	if o.it != nil {
		db.cache.unpin(o.it)
	} else {
		db.cache.recycle(o.data)
	}
}

// keep returns o's content for the caller to keep: never reused.
func (db *DB) keep(o object) []byte {
	if o.it != nil {
		db.cache.lend(o.it)
	}
	return o.data
}

// locate finds the pack holding h.
func (db *DB) locate(h plumbing.Hash) (*pack, int64, bool) {
	for _, p := range db.packs {
		if off, ok := p.find(h); ok {
			return p, off, true
		}
	}
	return nil, 0, false
}

// read reads object h. When want is not 0 an object of another type is
// refused with errWrongType once its type is known, before its content is
// inflated.
func (db *DB) read(ctx context.Context, h plumbing.Hash, want Type) (object, error) {
	if it, ok := db.cache.getName(h); ok {
		if want != 0 && it.t != want {
			db.cache.unpin(it)
			return object{}, errWrongType{it.t, want}
		}
		return object{t: it.t, data: it.data, it: it}, nil
	}
	if p, off, ok := db.locate(h); ok {
		o, err := db.readPacked(ctx, p, off, want)
		if err == nil && o.it != nil {
			db.cache.name(o.it, h)
		}
		return o, err
	}
	t, data, err := db.readLooseAny(ctx, h, want)
	return object{t: t, data: data}, err
}

// readLooseAny reads loose object h from the first objects directory that
// holds it.
func (db *DB) readLooseAny(ctx context.Context, h plumbing.Hash, want Type) (Type, []byte, error) {
	for _, d := range db.dirs {
		if err := ctx.Err(); err != nil {
			return 0, nil, err
		}
		t, data, err := readLooseWant(d, h, want, 0)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		return t, data, err
	}
	return 0, nil, ErrNotFound
}

// link is one delta of a chain being resolved.
type link struct {
	p   *pack
	off int64
	h   header
	// raw holds its compressed bytes when they were read with its header
	// (see readAhead); end is where they end, 0 when unknown.
	raw []byte
	end int64
}

// rawMax bounds the compressed bytes read with an object's header, and
// rawBudget those read for one chain: objects past them are read again,
// as a stream, when they are inflated.
const (
	rawMax    = 64 << 10
	rawBudget = 256 << 10
)

// scratch holds the compressed bytes of a chain's objects while it is
// resolved.
type scratch struct{ buf []byte }

var scratches = sync.Pool{New: func() any { return &scratch{buf: make([]byte, 0, rawBudget)} }}

// readLink reads the header of the object at (p, off) and, when the index
// tells where its bytes end and they are few, those bytes with it: one
// read instead of two. sc receives the bytes; nil reads the header only.
func (p *pack) readLink(off int64, sc *scratch) (link, error) {
	l := link{p: p, off: off}
	if end, ok := p.end(off); ok && end > off {
		l.end = end
		if n := end - off; sc != nil && n <= rawMax && int64(len(sc.buf))+n <= int64(cap(sc.buf)) {
			at := len(sc.buf)
			buf := sc.buf[at : at+int(n)]
			if _, err := p.f.ReadAt(buf, off); err != nil {
				return l, fmt.Errorf("read pack %s at %d: %w", p.path, off, err)
			}
			hd, err := parseHeader(buf, off)
			if err != nil {
				return l, err
			}
			sc.buf = sc.buf[:at+int(n)]
			l.h, l.raw = hd, buf[hd.data-off:]
			return l, nil
		}
	}
	hd, err := p.header(off)
	l.h = hd
	return l, err
}

// inflateLink inflates the object of l into dst.
func inflateLink(ctx context.Context, l link, dst []byte) error {
	if l.raw != nil && len(dst) <= memInflateMax {
		return inflateMem(ctx, l.raw, dst)
	}
	end, first := l.end, int(min(max(l.h.size/2, 4<<10), 64<<10))
	if end == 0 {
		end = l.p.size
	} else {
		first = int(end - l.h.data)
	}
	return inflateAt(ctx, l.p.f, l.h.data, end, first, dst)
}

// chainEnd is where a delta chain bottoms out: an object already in the
// cache (pinned: the caller unpins it), a whole object in a pack, or a
// loose object (its hash).
type chainEnd struct {
	cached  *cacheItem
	t       Type
	whole   link
	loose   plumbing.Hash
	isLoose bool
}

// chain follows delta bases from the object at (p, off) down to one stored
// whole, reading headers only. It refuses chains deeper than git writes and
// chains that come back to an object they passed (REF_DELTAs naming each
// other, across packs too). The links come back top object first.
func (db *DB) chain(ctx context.Context, p *pack, off int64, useCache bool, sc *scratch) ([]link, chainEnd, error) {
	var links []link
	var seen map[cacheKey]bool
	for {
		if err := ctx.Err(); err != nil {
			return nil, chainEnd{}, err
		}
		if useCache {
			if it, ok := db.cache.get(cacheKey{p, off}); ok {
				if len(links)+it.depth > maxDeltaDepth {
					db.cache.unpin(it)
					return nil, chainEnd{}, fmt.Errorf("%w: delta chain deeper than %d", ErrLimit, maxDeltaDepth)
				}
				return links, chainEnd{cached: it, t: it.t}, nil
			}
		}
		if !p.validOffset(off) {
			return nil, chainEnd{}, fmt.Errorf("pack %s: %w: offset %d is outside the pack", p.path, errBadHeader, off)
		}
		l, err := p.readLink(off, sc)
		if err != nil {
			return nil, chainEnd{}, fmt.Errorf("pack %s at %d: %w", p.path, off, err)
		}
		hd := l.h
		if hd.t != ofsDelta && hd.t != refDelta {
			return links, chainEnd{t: hd.t, whole: l}, nil
		}
		links = append(links, l)
		if len(links) > maxDeltaDepth {
			return nil, chainEnd{}, fmt.Errorf("%w: delta chain deeper than %d", ErrLimit, maxDeltaDepth)
		}
		if hd.t == ofsDelta {
			off = hd.baseOff // always before the delta: no loop possible
			continue
		}
		bp, boff, ok := db.locate(hd.baseRef)
		if !ok {
			return links, chainEnd{loose: hd.baseRef, isLoose: true}, nil
		}
		if seen == nil {
			seen = map[cacheKey]bool{{p, off}: true}
		}
		k := cacheKey{bp, boff}
		if seen[k] {
			return nil, chainEnd{}, fmt.Errorf("%w: delta chain loops back to base %s", ErrLimit, hd.baseRef)
		}
		seen[k] = true
		p, off = bp, boff
	}
}

// typeAt returns the type of the object at (p, off) from headers alone.
func (db *DB) typeAt(ctx context.Context, p *pack, off int64) (Type, error) {
	_, end, err := db.chain(ctx, p, off, true, nil)
	if err != nil {
		return 0, err
	}
	if end.cached != nil {
		db.cache.unpin(end.cached)
	}
	if end.isLoose {
		t, err := db.looseType(ctx, end.loose)
		if err != nil {
			return 0, fmt.Errorf("delta base %s: %w", end.loose, err)
		}
		return t, nil
	}
	return end.t, nil
}

// TypeOf returns the type of object h, inflating no more than the headers
// of its delta chain; ErrNotFound when the database does not hold it.
func (db *DB) TypeOf(ctx context.Context, h plumbing.Hash) (Type, error) {
	t, err := db.typeOf(ctx, h)
	if err != nil {
		return 0, fmt.Errorf("object %s: %w", h, err)
	}
	return t, nil
}

// typeOf returns the type of object h, inflating no more than headers.
func (db *DB) typeOf(ctx context.Context, h plumbing.Hash) (Type, error) {
	if p, off, ok := db.locate(h); ok {
		return db.typeAt(ctx, p, off)
	}
	return db.looseType(ctx, h)
}

// looseType reads a loose object's header.
func (db *DB) looseType(ctx context.Context, h plumbing.Hash) (Type, error) {
	for _, d := range db.dirs {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		t, _, err := readLooseWant(d, h, 0, 1)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil && !errors.Is(err, errTooLarge) {
			return 0, err
		}
		return t, nil
	}
	return 0, ErrNotFound
}

// readPacked reads the object at (p, off), resolving its delta chain
// iteratively: it holds at most the current base, one delta and its
// result, whatever the chain's depth. Buffers come from the cache's spares
// and go back to them.
func (db *DB) readPacked(ctx context.Context, p *pack, off int64, want Type) (object, error) {
	sc := scratches.Get().(*scratch)
	defer func() {
		sc.buf = sc.buf[:0]
		scratches.Put(sc)
	}()
	links, end, err := db.chain(ctx, p, off, true, sc)
	if err != nil {
		return object{}, err
	}
	c := db.cache
	var cur object
	depth := 0
	switch {
	case end.cached != nil:
		it := end.cached
		depth = it.depth
		cur = object{t: it.t, data: it.data, it: it}
		if want != 0 && cur.t != want {
			c.unpin(it)
			return object{}, errWrongType{cur.t, want}
		}
	case end.isLoose:
		t, err := db.looseType(ctx, end.loose)
		if err != nil {
			return object{}, fmt.Errorf("delta base %s: %w", end.loose, err)
		}
		if want != 0 && t != want {
			return object{}, errWrongType{t, want}
		}
		t, data, err := db.readLooseAny(ctx, end.loose, t)
		if err != nil {
			return object{}, fmt.Errorf("delta base %s: %w", end.loose, err)
		}
		cur = object{t: t, data: data}
	default:
		t := end.t
		if want != 0 && t != want {
			return object{}, errWrongType{t, want}
		}
		w := end.whole
		if err := checkSize(w.h.size, t, w.p.size-20-w.h.data); err != nil {
			return object{}, fmt.Errorf("pack %s at %d: %w", w.p.path, w.off, err)
		}
		data := c.alloc(int(w.h.size))
		if err := inflateLink(ctx, w, data); err != nil {
			c.recycle(data)
			return object{}, fmt.Errorf("pack %s at %d: %w", w.p.path, w.off, err)
		}
		cur = object{t: t, data: data, it: c.put(cacheKey{w.p, w.off}, t, data, 0)}
	}
	lim := limitFor(cur.t)
	for i := len(links) - 1; i >= 0; i-- {
		if err := ctx.Err(); err != nil {
			db.release(cur)
			return object{}, err
		}
		l := links[i]
		if err := checkSize(l.h.size, 0, l.p.size-20-l.h.data); err != nil {
			db.release(cur)
			return object{}, fmt.Errorf("pack %s at %d: delta: %w", l.p.path, l.off, err)
		}
		delta := c.alloc(int(l.h.size))
		if err := inflateLink(ctx, l, delta); err != nil {
			c.recycle(delta)
			db.release(cur)
			return object{}, fmt.Errorf("pack %s at %d: %w", l.p.path, l.off, err)
		}
		// A result up to checkFirst is built in a spare buffer; a larger
		// one only once its instructions are checked.
		var dst []byte
		if _, size, _, err := deltaSizes(delta); err == nil && size <= checkFirst && int64(size) <= lim {
			dst = c.alloc(size)
		}
		out, err := applyDeltaMax(cur.data, delta, dst, lim)
		c.recycle(delta)
		db.release(cur)
		if err != nil {
			c.recycle(dst)
			return object{}, fmt.Errorf("pack %s at %d: %s: %w", l.p.path, l.off, cur.t, err)
		}
		depth++
		cur = object{t: cur.t, data: out, it: c.put(cacheKey{l.p, l.off}, cur.t, out, depth)}
	}
	return cur, nil
}

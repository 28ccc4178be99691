package odb

import (
	"context"
	"errors"
	"fmt"

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
	t, data, err := db.read(ctx, h, 0)
	if err != nil {
		return 0, nil, fmt.Errorf("object %s: %w", h, err)
	}
	return t, data, nil
}

// ReadTypeContext reads an object and checks its type; an object of
// another type is refused before it is inflated.
func (db *DB) ReadTypeContext(ctx context.Context, h plumbing.Hash, want Type) ([]byte, error) {
	_, data, err := db.read(ctx, h, want)
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", h, err)
	}
	return data, nil
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
func (db *DB) read(ctx context.Context, h plumbing.Hash, want Type) (Type, []byte, error) {
	if p, off, ok := db.locate(h); ok {
		return db.readPacked(ctx, p, off, want)
	}
	return db.readLooseAny(ctx, h, want)
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
}

// chainEnd is where a delta chain bottoms out: an object already in the
// cache, a whole object in a pack, or a loose object (its hash).
type chainEnd struct {
	cached  bool
	depth   int // of the cached object's own chain
	t       Type
	data    []byte
	whole   link
	loose   plumbing.Hash
	isLoose bool
}

// chain follows delta bases from the object at (p, off) down to one stored
// whole, reading headers only. It refuses chains deeper than git writes and
// chains that come back to an object they passed (REF_DELTAs naming each
// other, across packs too). The links come back top object first.
func (db *DB) chain(ctx context.Context, p *pack, off int64, useCache bool) ([]link, chainEnd, error) {
	var links []link
	var seen map[cacheKey]bool
	for {
		if err := ctx.Err(); err != nil {
			return nil, chainEnd{}, err
		}
		if useCache {
			if t, data, depth, ok := db.cache.get(cacheKey{p, off}); ok {
				if len(links)+depth > maxDeltaDepth {
					return nil, chainEnd{}, fmt.Errorf("%w: delta chain deeper than %d", ErrLimit, maxDeltaDepth)
				}
				return links, chainEnd{cached: true, t: t, data: data, depth: depth}, nil
			}
		}
		if !p.validOffset(off) {
			return nil, chainEnd{}, fmt.Errorf("pack %s: %w: offset %d is outside the pack", p.path, errBadHeader, off)
		}
		hd, err := p.header(off)
		if err != nil {
			return nil, chainEnd{}, fmt.Errorf("pack %s at %d: %w", p.path, off, err)
		}
		l := link{p, off, hd}
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
	_, end, err := db.chain(ctx, p, off, true)
	if err != nil {
		return 0, err
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
// result, whatever the chain's depth.
func (db *DB) readPacked(ctx context.Context, p *pack, off int64, want Type) (Type, []byte, error) {
	links, end, err := db.chain(ctx, p, off, true)
	if err != nil {
		return 0, nil, err
	}
	var t Type
	var base []byte
	depth := 0
	switch {
	case end.cached:
		depth = end.depth
		t, base = end.t, end.data
		if want != 0 && t != want {
			return 0, nil, errWrongType{t, want}
		}
	case end.isLoose:
		if t, err = db.looseType(ctx, end.loose); err != nil {
			return 0, nil, fmt.Errorf("delta base %s: %w", end.loose, err)
		}
		if want != 0 && t != want {
			return 0, nil, errWrongType{t, want}
		}
		if t, base, err = db.readLooseAny(ctx, end.loose, t); err != nil {
			return 0, nil, fmt.Errorf("delta base %s: %w", end.loose, err)
		}
	default:
		t = end.t
		if want != 0 && t != want {
			return 0, nil, errWrongType{t, want}
		}
		w := end.whole
		if err := checkSize(w.h.size, t, w.p.size-20-w.h.data); err != nil {
			return 0, nil, fmt.Errorf("pack %s at %d: %w", w.p.path, w.off, err)
		}
		base = make([]byte, w.h.size)
		if err := inflate(ctx, w.p.f, w.h.data, w.p.size, int(min(max(w.h.size/2, 4<<10), 64<<10)), base); err != nil {
			return 0, nil, fmt.Errorf("pack %s at %d: %w", w.p.path, w.off, err)
		}
		db.cache.put(cacheKey{w.p, w.off}, t, base, 0)
	}
	lim := limitFor(t)
	for i := len(links) - 1; i >= 0; i-- {
		if err := ctx.Err(); err != nil {
			return 0, nil, err
		}
		l := links[i]
		if err := checkSize(l.h.size, 0, l.p.size-20-l.h.data); err != nil {
			return 0, nil, fmt.Errorf("pack %s at %d: delta: %w", l.p.path, l.off, err)
		}
		delta := make([]byte, l.h.size)
		if err := inflate(ctx, l.p.f, l.h.data, l.p.size, int(min(max(l.h.size/2, 4<<10), 64<<10)), delta); err != nil {
			return 0, nil, fmt.Errorf("pack %s at %d: %w", l.p.path, l.off, err)
		}
		out, err := applyDeltaMax(base, delta, nil, lim)
		if err != nil {
			return 0, nil, fmt.Errorf("pack %s at %d: %s: %w", l.p.path, l.off, t, err)
		}
		base = out
		depth++
		db.cache.put(cacheKey{l.p, l.off}, t, base, depth)
	}
	return t, base, nil
}

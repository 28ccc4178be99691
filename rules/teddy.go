package rules

import (
	"bytes"
	"math/bits"
	"slices"
)

// teddy finds every occurrence of a set of literals in one pass over the
// input, with the "Teddy" technique of packed multi-literal search: each
// literal is given a fingerprint, four consecutive bytes of it (three for a
// three-byte literal), and the fingerprints are sorted into eight buckets.
// For every input position and each of the four fingerprint bytes, two
// 16-entry tables indexed by the byte's low and high nibble give the
// buckets whose fingerprints allow that byte there; the bitwise AND of the
// eight lookups is the set of buckets whose fingerprint may start at the
// position. With AVX2 a lookup is one byte
// shuffle for 32 positions at once, so the input is read once at several
// GB/s, however many literals there are; only candidate positions (a bucket
// bit left) are checked against the bucket's literals.
//
// The anchor-byte search (literalSet) makes one pass per anchor byte; with
// the detector's forty literals that is eleven passes and a few percent of
// positions stopped at. It stays as the search on machines without AVX2 and
// as the oracle TestTeddyMatchesLiteralSet checks teddy against.
type teddy struct {
	// masks holds, for fingerprint bytes 0 to 3, the low-nibble table and
	// then the high-nibble table, each repeated in both 16-byte halves (a
	// 256-bit shuffle looks up within each half).
	masks   [2 * fpLen][32]byte
	buckets [8][]anchored // the literals of each bucket, off their fingerprint's offset in them
}

// fpLen is the length of a fingerprint; a literal shorter than that
// (three bytes at least) is its own fingerprint, which lets any byte follow.
const (
	fpLen    = 4
	fpMinLen = 3
)

// teddyFreq estimates how often byte c occurs in text, in percent, for
// choosing fingerprints and buckets: byteFreq where measured; otherwise
// lower-case letters and white space are common, other printable bytes
// uncommon and the rest rare.
func teddyFreq(c byte) float64 {
	if f, ok := measuredFreq(c); ok {
		return f
	}
	switch {
	case c >= 'a' && c <= 'z', c == ' ', c == '\n', c == '\t':
		return 3
	case c > ' ' && c < 0x7f:
		return 0.3
	}
	return 0.05
}

// newTeddy builds the search for lits, or returns nil when one is shorter
// than three bytes.
func newTeddy(lits []string) *teddy {
	// Each literal's fingerprint is its window whose bytes are the least
	// frequent; literals sharing a window share a fingerprint.
	var fps []string
	fpOf := make([]int, len(lits))
	offOf := make([]int, len(lits))
	for i, l := range lits {
		if len(l) < fpMinLen {
			return nil
		}
		n := min(fpLen, len(l))
		best, bestCost := 0, 1e300
		for off := 0; off+n <= len(l); off++ {
			c := 1.0
			for _, b := range []byte(l[off : off+n]) {
				c *= teddyFreq(b)
			}
			if slices.Contains(fps, l[off:off+n]) {
				c /= 2 // sharing a fingerprint keeps buckets tight
			}
			if c < bestCost {
				best, bestCost = off, c
			}
		}
		fp := l[best : best+n]
		j := slices.Index(fps, fp)
		if j < 0 {
			fps = append(fps, fp)
			j = len(fps) - 1
		}
		fpOf[i], offOf[i] = j, best
	}
	// Buckets start with one fingerprint each; while there are more than
	// eight, the two whose union lets through the least extra text merge.
	var freqs [256]float64
	for c := range freqs {
		freqs[c] = teddyFreq(byte(c)) / 100
	}
	groups := make([]fpGroup, len(fps))
	for i, fp := range fps {
		groups[i] = newFPGroup(fp, &freqs)
	}
	// extra[i][j] (i < j) is what merging groups i and j would let
	// through beyond the two; only the merged group's row and column change
	// after a merge.
	extra := make([][]float64, len(groups))
	score := func(i, j int) {
		m := groups[i].masks(&groups[j])
		extra[i][j] = m.estimate(&freqs) - groups[i].cost - groups[j].cost
	}
	for i := range groups {
		extra[i] = make([]float64, len(groups))
		for j := 0; j < i; j++ {
			score(j, i)
		}
	}
	alive := make([]bool, len(groups))
	for i := range alive {
		alive[i] = true
	}
	for n := len(groups); n > 8; n-- {
		bi, bj, bestCost := -1, -1, 1e300
		for i := range groups {
			for j := i + 1; alive[i] && j < len(groups); j++ {
				if alive[j] && extra[i][j] < bestCost {
					bi, bj, bestCost = i, j, extra[i][j]
				}
			}
		}
		groups[bi] = groups[bi].union(&groups[bj], &freqs)
		alive[bj] = false
		for k := range groups {
			switch {
			case !alive[k] || k == bi:
			case k < bi:
				score(k, bi)
			default:
				score(bi, k)
			}
		}
	}
	var kept []fpGroup
	for i, g := range groups {
		if alive[i] {
			kept = append(kept, g)
		}
	}
	groups = kept
	t := &teddy{}
	bucketOf := map[string]int{}
	for b, g := range groups {
		for _, fp := range g.fps {
			bucketOf[fp] = b
		}
		for k := 0; k < fpLen; k++ {
			for c := range 16 {
				if g.lo[k]&(1<<c) != 0 {
					t.masks[2*k][c] |= 1 << b
				}
				if g.hi[k]&(1<<c) != 0 {
					t.masks[2*k+1][c] |= 1 << b
				}
			}
		}
	}
	for k := range t.masks {
		copy(t.masks[k][16:], t.masks[k][:16])
	}
	for i, l := range lits {
		b := bucketOf[fps[fpOf[i]]]
		t.buckets[b] = append(t.buckets[b], anchored{lit: i, off: offOf[i], s: []byte(l)})
	}
	return t
}

// fpGroup is the fingerprints of one bucket, with the low and high nibbles
// each of their bytes lets through and an estimate of the share of input
// positions the bucket lets through: at each fingerprint byte, every byte
// whose low and high nibbles both occur there passes (a three-byte
// fingerprint lets any fourth byte pass).
type fpGroup struct {
	fps    []string
	lo, hi [fpLen]uint16
	cost   float64
}

func newFPGroup(fp string, freqs *[256]float64) fpGroup {
	g := fpGroup{fps: []string{fp}}
	for k := 0; k < fpLen; k++ {
		if k >= len(fp) {
			g.lo[k], g.hi[k] = 0xffff, 0xffff
			continue
		}
		g.lo[k], g.hi[k] = 1<<(fp[k]&15), 1<<(fp[k]>>4)
	}
	g.cost = g.estimate(freqs)
	return g
}

// union is the bucket holding the fingerprints of g and h.
func (g *fpGroup) union(h *fpGroup, freqs *[256]float64) fpGroup {
	u := g.masks(h)
	u.fps = append(slices.Clip(g.fps), h.fps...)
	u.cost = u.estimate(freqs)
	return u
}

// masks is the union of g and h without its fingerprints and cost.
func (g *fpGroup) masks(h *fpGroup) fpGroup {
	var u fpGroup
	for k := 0; k < fpLen; k++ {
		u.lo[k], u.hi[k] = g.lo[k]|h.lo[k], g.hi[k]|h.hi[k]
	}
	return u
}

func (g *fpGroup) estimate(freqs *[256]float64) float64 {
	cost := 1.0
	for k := 0; k < fpLen; k++ {
		sum := 0.0
		for his := g.hi[k]; his != 0; his &= his - 1 {
			hi := bits.TrailingZeros16(his)
			for los := g.lo[k]; los != 0; los &= los - 1 {
				sum += freqs[hi<<4|bits.TrailingZeros16(los)]
			}
		}
		cost *= sum
	}
	return cost
}

// bucketsAt returns the buckets whose fingerprint may start at data[i:]
// (len(data) >= i+fpMinLen); past the end of data, any byte may follow.
func (t *teddy) bucketsAt(data []byte, i int) uint8 {
	bs := uint8(0xff)
	for k := 0; k < fpLen && i+k < len(data); k++ {
		c := data[i+k]
		bs &= t.masks[2*k][c&15] & t.masks[2*k+1][c>>4]
	}
	return bs
}

// verify appends the literals of buckets bs that occur with their
// fingerprint at data[p:].
func (t *teddy) verify(data []byte, p int, bs uint8, hits []hit) []hit {
	for bs != 0 {
		b := bits.TrailingZeros8(bs)
		bs &= bs - 1
		for _, a := range t.buckets[b] {
			if st := p - a.off; st >= 0 && bytes.HasPrefix(data[st:], a.s) {
				hits = append(hits, hit{pos: st, lit: a.lit})
			}
		}
	}
	return hits
}

// find appends every occurrence of every literal in data to hits, ordered by
// position (then literal), and returns the extended slice.
func (t *teddy) find(data []byte, hits []hit) []hit { return t.search(data, hits, useAVX2) }

// search is find, with the AVX2 loop or without.
func (t *teddy) search(data []byte, hits []hit, simd bool) []hit {
	n0 := len(hits)
	i := 0
	if simd {
		for {
			var mask uint32
			i, mask = teddyAVX2(&t.masks, data, i)
			if mask == 0 {
				break
			}
			for mask != 0 {
				p := i + bits.TrailingZeros32(mask)
				mask &= mask - 1
				hits = t.verify(data, p, t.bucketsAt(data, p), hits)
			}
			i += 32
		}
	}
	for ; i+fpMinLen <= len(data); i++ {
		if bs := t.bucketsAt(data, i); bs != 0 {
			hits = t.verify(data, i, bs, hits)
		}
	}
	sortHits(hits[n0:])
	return hits
}

// sortHits orders hits by position, then literal.
func sortHits(hits []hit) {
	slices.SortFunc(hits, func(a, b hit) int {
		if a.pos != b.pos {
			return a.pos - b.pos
		}
		return a.lit - b.lit
	})
}

package rules

import (
	"bytes"
	"slices"
)

// literalSet finds every occurrence of a small set of literals.
//
// Each literal is anchored on one of its rare bytes (by measured byte
// frequencies in source code), sharing anchors where that is cheaper. The input is searched once per
// distinct anchor byte with bytes.IndexByte, which is vectorised and runs at
// several GB/s, and a literal is compared only where its anchor byte occurs.
// With a dozen anchors this beats both one bytes.Index pass per literal and
// a byte-at-a-time automaton (see BenchmarkDetectCode). Where AVX2 is
// available the detector uses teddy instead, which reads the input once
// for all literals; literalSet is then its oracle in tests.
type literalSet struct {
	groups []anchorGroup
}

type anchorGroup struct {
	b    byte
	lits []anchored
}

// anchored is a literal and the offset of its anchor byte in it.
type anchored struct {
	lit int
	off int
	s   []byte
}

// hit is one occurrence of literal lit at offset pos.
type hit struct {
	pos int
	lit int
}

// byteFreq is how often the bytes of the literals occur, in percent: the
// mean of what was measured over 300 MB of Go, Python and JavaScript sources
// and over the Go toolchain's src/ alone. Bytes not listed are taken to be
// common (3%). An array, not a map: it is data in the binary, where a map
// would be built by every process at start-up, whatever it does.
var byteFreq = [256]float64{
	'J': 0.040, 'Z': 0.054, '%': 0.065, 'j': 0.087, 'Q': 0.092, 'Y': 0.099, 'z': 0.116, 'W': 0.129, 'G': 0.181,
	'U': 0.190, 'X': 0.235, 'V': 0.280, 'B': 0.285, 'F': 0.306, 'L': 0.334, '\\': 0.341, 'M': 0.348, 'N': 0.352,
	'9': 0.377, '-': 0.394, '5': 0.424, 'C': 0.461, 'I': 0.473, 'R': 0.508, 'v': 0.547, '6': 0.561, 'E': 0.584,
	'3': 0.609, 'S': 0.645, 'y': 0.709, 'b': 0.783, 'A': 0.826, '2': 0.847, 'h': 0.931, '1': 1.093, 'm': 1.182,
	'.': 1.376, 'p': 1.408, 'u': 1.466, 'd': 1.685, 'c': 1.837, 'l': 2.022, '0': 2.397, 'o': 2.794, 's': 3.016,
	'i': 3.017, 'a': 3.192, 'n': 3.193, 'r': 3.385, 't': 4.207, 'e': 5.434,
}

func freq(c byte) float64 {
	if f, ok := measuredFreq(c); ok {
		return f
	}
	return 3
}

// measuredFreq returns byteFreq's value for c, if it lists c.
func measuredFreq(c byte) (float64, bool) {
	f := byteFreq[c]
	return f, f != 0
}

// passCost is the cost of one more IndexByte pass over the input, in the
// units of byteFreq: a pass costs about as much as checking hits on a byte
// that occurs 0.5% of the time.
const passCost = 0.5

func newLiteralSet(lits []string) *literalSet {
	s := &literalSet{}
	// Place the literals with the fewest good anchors first.
	order := make([]int, len(lits))
	for i := range order {
		order[i] = i
	}
	best := func(l string) float64 {
		m := 100.0
		for j := 0; j < len(l); j++ {
			m = min(m, freq(l[j]))
		}
		return m
	}
	slices.SortStableFunc(order, func(a, b int) int {
		fa, fb := best(lits[a]), best(lits[b])
		switch {
		case fa > fb:
			return -1
		case fa < fb:
			return 1
		}
		return 0
	})
	for _, i := range order {
		l := lits[i]
		if l == "" {
			panic("rules: empty literal")
		}
		// Anchor on the byte that adds the least cost: its hits, plus a
		// pass of its own unless a group already searches for it.
		off, cost := 0, 1e9
		for j := 0; j < len(l); j++ {
			c := freq(l[j])
			if !slices.ContainsFunc(s.groups, func(g anchorGroup) bool { return g.b == l[j] }) {
				c += passCost
			}
			if c < cost {
				off, cost = j, c
			}
		}
		a := anchored{lit: i, off: off, s: []byte(l)}
		g := slices.IndexFunc(s.groups, func(g anchorGroup) bool { return g.b == l[off] })
		if g < 0 {
			s.groups = append(s.groups, anchorGroup{b: l[off]})
			g = len(s.groups) - 1
		}
		s.groups[g].lits = append(s.groups[g].lits, a)
	}
	return s
}

// find appends every occurrence of every literal in data to hits, ordered by
// position (then literal), and returns the extended slice.
func (s *literalSet) find(data []byte, hits []hit) []hit {
	n0 := len(hits)
	for _, g := range s.groups {
		for i := 0; i < len(data); {
			j := bytes.IndexByte(data[i:], g.b)
			if j < 0 {
				break
			}
			p := i + j
			for _, a := range g.lits {
				if st := p - a.off; st >= 0 && data[st] == a.s[0] && bytes.HasPrefix(data[st:], a.s) {
					hits = append(hits, hit{pos: st, lit: a.lit})
				}
			}
			i = p + 1
		}
	}
	if len(s.groups) > 1 {
		sortHits(hits[n0:])
	}
	return hits
}

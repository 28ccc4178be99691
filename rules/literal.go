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
// a byte-at-a-time automaton (see BenchmarkDetectCode).
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

// byteFreq is how often the bytes of the literals occur, in percent, as
// measured over 300 MB of Go, Python and JavaScript sources. Bytes not
// listed are taken to be common (3%).
var byteFreq = map[byte]float64{
	'J': .030, 'Z': .042, '%': .048, 'Q': .060, 'Y': .068, 'X': .088, 'j': .100, 'z': .114,
	'W': .116, 'U': .144, 'G': .153, '\\': .175, 'V': .179, 'B': .199, 'F': .243, 'M': .257,
	'L': .277, '9': .297, '5': .329, 'N': .345, 'C': .372, 'R': .379, '6': .379, 'I': .393,
	'3': .435, 'v': .468, 'E': .498, 'S': .520, '-': .537, 'A': .542, '2': .609, 'b': .746,
	'y': .759, '1': .788, 'h': .958, 'm': 1.31, '.': 1.38, '0': 1.39, 'u': 1.45, 'p': 1.57,
	'd': 1.79, 'c': 1.86, 'l': 2.24, 'o': 3.07, 'i': 3.27, 'n': 3.30, 's': 3.43, 'a': 3.45,
	'r': 3.56, 't': 4.41, 'e': 6.00,
}

func freq(c byte) float64 {
	if f, ok := byteFreq[c]; ok {
		return f
	}
	return 3
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
// position, and returns the extended slice.
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
		slices.SortFunc(hits[n0:], func(a, b hit) int { return a.pos - b.pos })
	}
	return hits
}

package rules

import (
	"bytes"
	"math"
	"slices"
	"sort"
)

// Pairing of exchange keys with their API secrets, and exchange secrets
// found on their own.

const (
	// pairLines and pairBytes bound where a key's secret is looked for; a
	// candidate whose name does not say "secret" must be within
	// pairLinesUnnamed lines of the key.
	pairLines        = 8
	pairBytes        = 3072
	pairLinesUnnamed = 2
)

// secretCandidate is a token shaped like an exchange API secret.
type secretCandidate struct {
	start, end int
	entropy    float64
}

// secretTokens appends the secret-shaped tokens of data[lo:hi] to out.
func secretTokens(data []byte, lo, hi int, out []secretCandidate) []secretCandidate {
	for i := lo; i < hi; {
		if !isAlnum(data[i]) {
			i++
			continue
		}
		j := i
		for j < len(data) && isAlnum(data[j]) {
			j++
		}
		if n := j - i; n >= secretMinLen && n <= secretMaxLen && boundedLeft(data, i) &&
			boundedRight(data, j) && (j >= len(data) || data[j] != '=') {
			body := data[i:j]
			if bodyCheck(body, 3.5) == "" {
				out = append(out, secretCandidate{start: i, end: j, entropy: Entropy(body)})
			}
		}
		i = j
	}
	return out
}

// pairSecrets finds, for each exchange key, the API secrets that most
// plausibly belong to it and stores the best two in the key's Secrets. It
// returns the spans of the secrets it paired as first choice. Each key looks
// only at a bounded window around itself, so the work is linear in the input.
func pairSecrets(data []byte, keys []Match) map[span]bool {
	paired := map[span]bool{}
	if len(keys) == 0 {
		return paired
	}
	// Tokenise the union of the keys' windows once.
	var cands []secretCandidate
	wins := make([]span, len(keys))
	covered := 0
	for i, k := range keys {
		w := span{lineStart(data, k.Start, pairLines, pairBytes), lineEnd(data, k.End, pairLines, pairBytes)}
		wins[i] = w
		lo := max(w.lo, covered)
		if lo < w.hi {
			// Step back to a token boundary so no token is cut in two.
			for lo > w.lo && isAlnum(data[lo-1]) {
				lo--
			}
			cands = secretTokens(data, lo, w.hi, cands)
			covered = w.hi
		}
	}
	cands = slices.CompactFunc(cands, func(a, b secretCandidate) bool { return a.start == b.start })

	keyLines := lineNumbers(data, len(keys), func(i int) int { return keys[i].Start })
	candLines := lineNumbers(data, len(cands), func(i int) int { return cands[i].start })

	type scored struct {
		key, cand int
		score     float64
	}
	var all []scored
	perKey := make([][]scored, len(keys))
	for ki, k := range keys {
		w := wins[ki]
		// Only the nearest candidates on each side are worth scoring.
		at := sort.Search(len(cands), func(i int) bool { return cands[i].start >= k.Start })
		for ci := max(0, at-maxSide); ci < min(len(cands), at+maxSide); ci++ {
			c := cands[ci]
			if c.start < w.lo || c.end > w.hi {
				continue
			}
			lines := candLines[ci] - keyLines[ki]
			named := nameSaysSecret(data, c.start)
			if !named && (lines > pairLinesUnnamed || lines < -pairLinesUnnamed) {
				continue // a far token that does not say it is a secret
			}
			perKey[ki] = append(perKey[ki], scored{ki, ci, pairScore(data, k, c, lines, named)})
		}
		sort.SliceStable(perKey[ki], func(i, j int) bool { return perKey[ki][i].score > perKey[ki][j].score })
		all = append(all, perKey[ki]...)
	}
	// Greedy assignment, best score first: a secret serves one key.
	sort.SliceStable(all, func(i, j int) bool { return all[i].score > all[j].score })
	keyDone := make([]bool, len(keys))
	candUsed := make([]int, len(cands))
	for i := range candUsed {
		candUsed[i] = -1
	}
	for _, s := range all {
		if keyDone[s.key] || candUsed[s.cand] >= 0 {
			continue
		}
		keyDone[s.key] = true
		candUsed[s.cand] = s.key
		c := cands[s.cand]
		keys[s.key].Secrets = []Secret{{Value: string(data[c.start:c.end]), Start: c.start, End: c.end}}
		paired[span{c.start, c.end}] = true
	}
	// A runner-up that no other key took is kept as the second candidate.
	for ki := range keys {
		if len(keys[ki].Secrets) == 0 {
			continue
		}
		for _, s := range perKey[ki] {
			c := cands[s.cand]
			if candUsed[s.cand] < 0 {
				keys[ki].Secrets = append(keys[ki].Secrets, Secret{Value: string(data[c.start:c.end]), Start: c.start, End: c.end})
				break
			}
		}
	}
	return paired
}

// maxSide is how many candidates on each side of a key are scored.
const maxSide = 8

// lineNumbers returns the 0-based line of each of n ascending offsets, found
// by one sweep over data.
func lineNumbers(data []byte, n int, offset func(int) int) []int {
	out := make([]int, n)
	line, at := 0, 0
	for i := range out {
		off := offset(i)
		if off > at {
			line += bytes.Count(data[at:off], []byte{'\n'})
			at = off
		}
		out[i] = line
	}
	return out
}

// pairScore rates how plausibly candidate c is key k's secret; lines is the
// candidate's line minus the key's, named whether its name says "secret".
func pairScore(data []byte, k Match, c secretCandidate, lines int, named bool) float64 {
	score := c.entropy - 3.5
	if c.start >= k.End {
		score += 0.5 // secrets usually follow their key
	}
	score -= math.Abs(float64(lines))
	if named {
		score += 5
	}
	if k.Start > 0 && c.start > 0 && data[k.Start-1] == data[c.start-1] && !isAlnum(data[c.start-1]) {
		score++
	}
	if bytes.ContainsAny(data[c.start:c.end], "0123456789") {
		score += 0.5
	}
	return score
}

// nameSaysSecret reports whether the text just before pos, on the same line,
// names a secret (GEMINI_API_SECRET=, "secret": , api_secret: …).
func nameSaysSecret(data []byte, pos int) bool {
	lo := max(0, pos-48)
	if i := bytes.LastIndexByte(data[lo:pos], '\n'); i >= 0 {
		lo += i + 1
	}
	return indexFold(data[lo:pos], "secret") >= 0
}

// indexFold returns the index of the ASCII word w (lower case) in b, ignoring
// case, or -1.
func indexFold(b []byte, w string) int {
	for i := 0; i+len(w) <= len(b); i++ {
		j := 0
		for ; j < len(w); j++ {
			c := b[i+j]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != w[j] {
				break
			}
		}
		if j == len(w) {
			return i
		}
	}
	return -1
}

// loneSecrets reports exchange secrets that no key claimed but whose context
// names them as Gemini secrets: a line that says both "gemini" and "secret"
// before the value, or a "secret" line nested under a "gemini:" heading.
func loneSecrets(data []byte, contexts []int, paired map[span]bool) []Match {
	var out []Match
	seen := map[int]bool{}
	lastEnd := -1
	for _, pos := range contexts {
		if pos < lastEnd {
			continue // this line was already examined
		}
		ls := lineStart(data, pos, 0, 1024)
		le := lineEnd(data, pos, 0, 1024)
		lines := []span{{ls, le}}
		if opensSection(data[ls:le]) {
			lo := le
			for n := 0; n < 3 && lo < len(data); n++ {
				hi := lineEnd(data, lo, 0, 1024)
				lines = append(lines, span{lo, hi})
				lo = hi
			}
		}
		lastEnd = le
		for _, l := range lines {
			named := indexFold(data[l.lo:l.hi], "secret")
			if named < 0 {
				continue
			}
			for _, c := range secretTokens(data, l.lo+named, l.hi, nil) {
				if seen[c.start] || paired[span{c.start, c.end}] {
					continue
				}
				seen[c.start] = true
				out = append(out, Match{Rule: ExchangeSecret, Start: c.start, End: c.end,
					Value: string(data[c.start:c.end]), Confidence: High})
			}
		}
	}
	return out
}

// opensSection reports whether a line opens a nested block whose entries
// belong to it: a YAML "gemini:" key, a JSON "gemini": {, an INI [gemini].
func opensSection(line []byte) bool {
	t := bytes.TrimSpace(line)
	if len(t) == 0 {
		return false
	}
	switch t[len(t)-1] {
	case ':', '{':
		return true
	case ']':
		return t[0] == '['
	}
	return false
}

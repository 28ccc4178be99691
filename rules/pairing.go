package rules

import (
	"bytes"
	"cmp"
	"math"
	"slices"
	"sort"
)

// Pairing of exchange keys with their API secrets, and exchange secrets
// found on their own.
//
// Every step here looks at a bounded stretch of input around a hit, and the
// stretches are walked in order, so the work grows linearly with the input
// however many keys and candidates one line holds (TestDetectWorkIsLinear).

const (
	// pairLines and pairBytes bound where a key's secret is looked for; a
	// candidate whose name does not say "secret" must be within
	// pairLinesUnnamed lines of the key.
	pairLines        = 8
	pairBytes        = 3072
	pairLinesUnnamed = 2
	// maxSide is how many candidates on each side of a key are scored.
	maxSide = 8
	// nameBytes bounds how far before a value its name is looked for.
	nameBytes = 48
)

// secretCandidate is a token shaped like an exchange API secret.
type secretCandidate struct {
	start, end int
	entropy    float64
	line       int  // 0-based line number
	named      bool // its name says it is a secret
}

// secretTokens appends the secret-shaped tokens that start in data[lo:hi]
// to out. A run of token characters that began before lo is not a token of
// its own and is skipped. It reads at most secretMaxLen+1 bytes past hi.
func secretTokens(data []byte, lo, hi int, out []secretCandidate, w *work) []secretCandidate {
	i := lo
	for i < hi && i > 0 && isAlnum(data[i-1]) {
		i++
	}
	for i < hi {
		if !isAlnum(data[i]) {
			i++
			continue
		}
		j := i
		for lim := min(len(data), i+secretMaxLen+1); j < lim && isAlnum(data[j]); j++ {
		}
		if n := j - i; n > secretMaxLen {
			// Too long to be a secret: skip the rest of the run.
			for j < hi && isAlnum(data[j]) {
				j++
			}
		} else if n >= secretMinLen && boundedLeft(data, i) && boundedRight(data, j) &&
			(j >= len(data) || data[j] != '=') {
			body := data[i:j]
			if bodyCheck(body, 3.5) == "" {
				out = append(out, secretCandidate{start: i, end: j, entropy: Entropy(body)})
			}
		}
		i = j
	}
	w.bytes += max(0, i-lo)
	return out
}

// lineCursor numbers lines for offsets given in ascending order, with one
// pass over the input whatever the number of offsets.
type lineCursor struct {
	data     []byte
	at, line int
	start    int // offset where the line holding at starts
	w        *work
}

// lineOf returns the 0-based line of off and the offset where it starts.
// Offsets must not decrease from one call to the next.
func (c *lineCursor) lineOf(off int) (line, start int) {
	if off > c.at {
		seg := c.data[c.at:off]
		if n := bytes.Count(seg, []byte{'\n'}); n > 0 {
			c.line += n
			c.start = c.at + bytes.LastIndexByte(seg, '\n') + 1
		}
		c.w.bytes += off - c.at
		c.at = off
	}
	return c.line, c.start
}

// pairWindows returns, for each key, where its secret is looked for: from
// the start of the line pairLines above it to the end of the line pairLines
// below, but no further than pairBytes either way. Keys are in order; each
// reads only the newlines it needs that no earlier key read (the nearest
// pairLines+1 before it, back to where the last read ended, and as many after
// it), so many keys on one long line cost one pass over it, and keys far
// apart cost a few lines each.
func pairWindows(data []byte, keys []Match, w *work) []span {
	wins := make([]span, len(keys))
	var nls []int // newlines read so far that a window may still reach
	scanned := 0  // the newlines a window needs before scanned are in nls
	for i, k := range keys {
		lo := max(0, k.Start-pairBytes)
		hi := min(len(data), k.End+pairBytes)
		if scanned < lo {
			nls, scanned = nls[:0], lo
		}
		// Forget the newlines no later window can reach.
		if drop := sort.SearchInts(nls, lo); drop > len(nls)/2 {
			nls = append(nls[:0], nls[drop:]...)
		}
		if scanned < k.Start {
			mark, at := len(nls), k.Start
			for n := 0; n <= pairLines && at > scanned; n++ {
				j := bytes.LastIndexByte(data[scanned:at], '\n')
				if j < 0 {
					w.bytes += at - scanned
					break
				}
				w.bytes += at - (scanned + j)
				at = scanned + j
				nls = append(nls, at)
			}
			slices.Reverse(nls[mark:])
			scanned = k.End // a key holds no newline
		}
		for after := len(nls) - sort.SearchInts(nls, k.End); after <= pairLines && scanned < hi; after++ {
			j := bytes.IndexByte(data[scanned:hi], '\n')
			if j < 0 {
				w.bytes += hi - scanned
				scanned = hi
				break
			}
			w.bytes += j + 1
			nls = append(nls, scanned+j)
			scanned += j + 1
		}
		// The line pairLines above starts after the (pairLines+1)th
		// newline before the key; the one below ends after the
		// (pairLines+1)th newline from the key's end.
		if b := sort.SearchInts(nls, k.Start) - (pairLines + 1); b >= 0 {
			lo = max(lo, nls[b]+1)
		}
		if a := sort.SearchInts(nls, k.End) + pairLines; a < len(nls) {
			hi = min(hi, nls[a]+1)
		}
		wins[i] = span{lo, hi}
	}
	return wins
}

// pairSecrets finds, for each exchange key, the API secrets that most
// plausibly belong to it and stores the best two in the key's Secrets. It
// returns the spans of the secrets it paired as first choice. Keys look at
// the candidates within pairLines lines and pairBytes bytes, and score only
// the maxSide nearest on each side, so the work is linear in the input.
func pairSecrets(data []byte, keys []Match, w *work) map[span]bool {
	paired := map[span]bool{}
	if len(keys) == 0 {
		return paired
	}
	// Tokenise the union of the keys' windows once, in order.
	wins := pairWindows(data, keys, w)
	var cands []secretCandidate
	covered := 0
	for _, win := range wins {
		if lo := max(win.lo, covered); lo < win.hi {
			cands = secretTokens(data, lo, win.hi, cands, w)
			covered = win.hi
		}
	}

	keyLines := make([]int, len(keys))
	kc := lineCursor{data: data, w: w}
	for i, k := range keys {
		keyLines[i], _ = kc.lineOf(k.Start)
	}
	// Another application's secret is no candidate at all, not even a
	// runner-up.
	cc := lineCursor{data: data, w: w}
	var names entryNames
	kept := cands[:0]
	for _, c := range cands {
		var ls int
		c.line, ls = cc.lineOf(c.start)
		switch names.candidateName(data, ls, c.start, c.end, w) {
		case nameForeign:
			continue
		case nameSecret:
			c.named = true
		}
		kept = append(kept, c)
	}
	cands = kept

	// Each key's scored pairs, best first, are a slice of one array.
	buf := make([]scored, 0, min(len(keys)*2*maxSide, len(keys)*len(cands)))
	perKey := make([][]scored, len(keys))
	at := 0
	for ki, k := range keys {
		// Only the nearest candidates on each side are worth scoring.
		for at < len(cands) && cands[at].start < k.Start {
			at++
		}
		from := len(buf)
		for ci := max(0, at-maxSide); ci < min(len(cands), at+maxSide); ci++ {
			w.pairs++
			c := cands[ci]
			lines := c.line - keyLines[ki]
			if c.start < wins[ki].lo || c.end > wins[ki].hi {
				continue
			}
			if !c.named && (lines > pairLinesUnnamed || lines < -pairLinesUnnamed) {
				continue // a far token that does not say it is a secret
			}
			buf = append(buf, scored{ki, ci, pairScore(data, k, c, lines)})
		}
		perKey[ki] = buf[from:len(buf):len(buf)]
		slices.SortFunc(perKey[ki], byScore)
	}
	// Greedy assignment, best score first: a secret serves one key.
	all := slices.Clone(buf)
	slices.SortFunc(all, byScore)
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

// scored is a key–candidate pair with its score.
type scored struct {
	key, cand int
	score     float64
}

// byScore orders pairs best first; ties go to the earlier key, then to the
// earlier candidate, so the order never depends on the sort's algorithm.
func byScore(a, b scored) int {
	switch {
	case a.score != b.score:
		return cmp.Compare(b.score, a.score)
	case a.key != b.key:
		return a.key - b.key
	}
	return a.cand - b.cand
}

// pairScore rates how plausibly candidate c is key k's secret; lines is the
// candidate's line minus the key's.
func pairScore(data []byte, k Match, c secretCandidate, lines int) float64 {
	score := c.entropy - 3.5
	if c.start >= k.End {
		score += 0.5 // secrets usually follow their key
	}
	score -= math.Abs(float64(lines))
	if c.named {
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
func nameSaysSecret(data []byte, pos int, w *work) bool {
	lo := max(0, pos-nameBytes)
	if i := bytes.LastIndexByte(data[lo:pos], '\n'); i >= 0 {
		lo += i + 1
	}
	w.bytes += pos - lo
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
// before the value, a "secret" line nested under a "gemini:" heading, or the
// generic value (value:, default =) of an entry whose first line names a
// Gemini secret (- name: GEMINI_API_SECRET, variable "gemini_api_secret" {).
// Another application's secret (gemini: / session_secret: …) is not one.
func loneSecrets(data []byte, contexts []int, paired map[span]bool, w *work) []Match {
	type loneLine struct {
		span
		entry bool // a line of a named entry: only generic values count
	}
	var out []Match
	seen := map[int]bool{}
	lastEnd := -1
	for _, pos := range contexts {
		if pos < lastEnd {
			continue // this line was already examined
		}
		ls := lineStart(data, pos, 0, 1024)
		le := lineEnd(data, pos, 0, 1024)
		lines := []loneLine{{span: span{ls, le}}}
		if name := blockName(data[ls:le]); indexFold(name, "emini") >= 0 && classifyName(name) == nameSecret {
			lo := le
			for n := 0; n < blockLines && lo < len(data); n++ {
				hi := lineEnd(data, lo, 0, 1024)
				lines = append(lines, loneLine{span{lo, hi}, true})
				if blockEdge(data[lo:hi]) || blockName(data[lo:hi]) != nil {
					break
				}
				lo = hi
			}
		} else if opensSection(data[ls:le]) {
			lo := le
			for n := 0; n < 3 && lo < len(data); n++ {
				hi := lineEnd(data, lo, 0, 1024)
				lines = append(lines, loneLine{span: span{lo, hi}})
				lo = hi
			}
		}
		lastEnd = le
		for _, l := range lines {
			w.bytes += l.hi - l.lo
			from := l.lo
			if !l.entry {
				named := indexFold(data[l.lo:l.hi], "secret")
				if named < 0 {
					continue
				}
				from += named
			}
			for _, c := range secretTokens(data, from, l.hi, nil, w) {
				if seen[c.start] || paired[span{c.start, c.end}] {
					continue
				}
				label := data[0:0]
				if lo, hi := labelBefore(data, l.lo, c.start, w); hi > lo {
					label = data[lo:hi]
				}
				if foreignName(label) || l.entry && !genericLabel(label) {
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

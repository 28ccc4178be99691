package rules

import (
	"bytes"
	"encoding/base64"
	"math"
	"slices"
	"sort"
	"strings"
)

// Match is one credential found in a byte slice.
type Match struct {
	// Rule is the rule ID (see the RuleID constants).
	Rule string
	// Start and End delimit the reported text in the input: the credential
	// itself, or the encoded text that holds it when Encoding is not empty.
	Start, End int
	// Value is the credential, decoded.
	Value string
	// Secrets are the candidate API secrets for an exchange key, best first;
	// at most two. Empty for other rules and for unpaired keys.
	Secrets []Secret
	// Encoding names the encodings the credential was found under
	// ("base64", "escape", "percent"), or is empty for plain text.
	Encoding string
	// Confidence is High for the shapes every public example has and
	// Medium for shapes the rule accepts with less certainty.
	Confidence Confidence
}

// Secret is an exchange API secret paired with a key.
type Secret struct {
	Value      string
	Start, End int
}

// Confidence says how sure a rule is that a match is a real credential.
type Confidence string

// Confidence levels.
const (
	High   Confidence = "high"
	Medium Confidence = "medium"
)

// Rule IDs, fixed by the report contract.
const (
	ExchangeKey    = "gemini-exchange-key"
	ExchangeSecret = "gemini-exchange-secret"
	GoogleGemini   = "google-gemini-key"
	GoogleAPI      = "google-api-key"
)

// Lengths and limits of the key shapes.
const (
	exchangeBodyLen  = 20
	secretMinLen     = 27
	secretMaxLen     = 28
	googleAPIBodyLen = 35
	aqMinBody        = 40
	aqMaxBody        = 64
	aqExpectedBody   = 50
	aqExpectedStart  = "Ab8RN6"

	// pairLines and pairBytes bound where a key's secret is looked for; a
	// candidate whose name does not say "secret" must be within
	// pairLinesUnnamed lines of the key.
	pairLines        = 8
	pairBytes        = 3072
	pairLinesUnnamed = 2
	// decodeLines and decodeBytes bound the window decoded around a hit on
	// an encoded keyword.
	decodeLines = 6
	decodeBytes = 2048
	maxB64Run   = 64 << 10
	minB64Run   = 16
)

type litKind uint8

const (
	litExchange  litKind = iota // "account-", "master-"
	litGoogleAPI                // "AIza"
	litAQ                       // "AQ."
	litGemini                   // context word for lone secrets
	litEscaped                  // a keyword followed by an escape or percent-encoding
	litBase64                   // part of a keyword's base64 encoding
)

// Detector finds Gemini credentials in bytes. It is safe for concurrent use.
type Detector struct {
	lits  *literalSet
	kinds []litKind
	lens  []int
}

// Keywords returns the plain literals that every credential found in plain
// text contains; any input without one of them holds no plain credential.
func Keywords() []string {
	return []string{"account-", "master-", "AIza", "AQ."}
}

// RuleOf names the rule of a credential given on its own (a command-line
// argument, an environment variable) by its prefix, without validating it.
func RuleOf(v string) (string, bool) {
	switch {
	case strings.HasPrefix(v, "account-"), strings.HasPrefix(v, "master-"):
		return ExchangeKey, true
	case strings.HasPrefix(v, "AQ."):
		return GoogleGemini, true
	case strings.HasPrefix(v, "AIza"):
		return GoogleAPI, true
	}
	return "", false
}

// NewDetector builds a Detector with its keyword prefilter.
func NewDetector() *Detector {
	d := &Detector{}
	var lits []string
	add := func(k litKind, ss ...string) {
		for _, s := range ss {
			lits = append(lits, s)
			d.kinds = append(d.kinds, k)
			d.lens = append(d.lens, len(s))
		}
	}
	add(litExchange, "account-", "master-")
	add(litGoogleAPI, "AIza")
	add(litAQ, "AQ.")
	add(litGemini, "emini", "EMINI")
	for _, p := range []string{"account", "master", "AQ"} {
		add(litEscaped, p+`\u00`, p+`\x2`, p+`%2`)
	}
	// Base64 forms are searched for the prefixes every public example has
	// (AIzaSy…, AQ.Ab8…): their encodings are longer and share anchor bytes
	// with the other literals, which spares the prefilter two passes.
	seen := map[string]bool{}
	for _, kw := range []string{"account-", "master-", "AIzaSy", "AQ.Ab8"} {
		for _, v := range base64Variants(kw) {
			if !seen[v] {
				seen[v] = true
				add(litBase64, v)
			}
		}
	}
	d.lits = newLiteralSet(lits)
	return d
}

// base64Variants returns, for each of the three byte alignments, the part of
// the base64 encoding of kw that does not depend on the surrounding bytes, in
// the standard and the URL-safe alphabets.
func base64Variants(kw string) []string {
	var out []string
	for o := 0; o < 3; o++ {
		src := append(make([]byte, o), kw...)
		enc := base64.StdEncoding.EncodeToString(src)
		from := (8*o + 5) / 6
		to := 8 * (o + len(kw)) / 6
		if to-from < 3 {
			continue
		}
		s := enc[from:to]
		out = append(out, s)
		if u := base64ToURL(s); u != s {
			out = append(out, u)
		}
	}
	return out
}

func base64ToURL(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch c {
		case '+':
			b[i] = '-'
		case '/':
			b[i] = '_'
		}
	}
	return string(b)
}

// Detect returns every credential in data, ordered by position. It never
// modifies data and runs in time linear in len(data).
func (d *Detector) Detect(data []byte) []Match {
	return d.detect(data, true)
}

type span struct{ lo, hi int }

func (d *Detector) detect(data []byte, decode bool) []Match {
	hits := d.lits.find(data, nil)
	if len(hits) == 0 {
		return nil
	}
	var keys, out []Match
	var windows []span
	var contexts []int
	for _, h := range hits {
		switch d.kinds[h.lit] {
		case litExchange:
			if m, ok := exchangeKeyAt(data, h.pos, d.lens[h.lit]); ok {
				keys = append(keys, m)
			}
		case litGoogleAPI:
			if m, ok := googleAPIKeyAt(data, h.pos); ok {
				out = append(out, m)
			} else if escapeNear(data, h.pos, 4+googleAPIBodyLen) {
				windows = addWindow(data, windows, h.pos)
			}
		case litAQ:
			if m, ok := aqKeyAt(data, h.pos); ok {
				out = append(out, m)
			}
		case litGemini:
			contexts = append(contexts, h.pos)
		case litEscaped:
			windows = addWindow(data, windows, h.pos)
		case litBase64:
			if inBase64Run(data, h.pos, d.lens[h.lit]) {
				windows = addWindow(data, windows, h.pos)
			}
		}
	}
	paired := pairSecrets(data, keys)
	out = append(out, keys...)
	out = append(out, loneSecrets(data, contexts, paired)...)
	if decode && len(windows) > 0 {
		out = append(out, d.decodeWindows(data, windows, out)...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out
}

// boundedLeft reports whether the byte before pos does not continue a token.
// An escaped line break or tab ("\n" inside a JSON string) counts as a
// boundary too.
func boundedLeft(data []byte, pos int) bool {
	if pos == 0 || !isTokenChar(data[pos-1]) {
		return true
	}
	switch data[pos-1] {
	case 'n', 'r', 't':
		return pos >= 2 && data[pos-2] == '\\'
	}
	return false
}

// boundedRight reports whether the byte at end does not continue a token.
func boundedRight(data []byte, end int) bool {
	return end >= len(data) || !isTokenChar(data[end])
}

func exchangeKeyAt(data []byte, pos, prefixLen int) (Match, bool) {
	if !boundedLeft(data, pos) {
		return Match{}, false
	}
	start := pos + prefixLen
	end := start
	for end < len(data) && end-start <= exchangeBodyLen && isAlnum(data[end]) {
		end++
	}
	if end-start != exchangeBodyLen || !boundedRight(data, end) {
		return Match{}, false
	}
	if bodyCheck(data[start:end], 3.0) != "" {
		return Match{}, false
	}
	return Match{Rule: ExchangeKey, Start: pos, End: end, Value: string(data[pos:end]), Confidence: High}, true
}

func googleAPIKeyAt(data []byte, pos int) (Match, bool) {
	if !boundedLeft(data, pos) {
		return Match{}, false
	}
	start := pos + 4
	end := start
	for end < len(data) && end-start <= googleAPIBodyLen && isKeyChar(data[end]) {
		end++
	}
	if end-start != googleAPIBodyLen || !boundedRight(data, end) {
		return Match{}, false
	}
	if bodyCheck(data[start:end], 3.5) != "" {
		return Match{}, false
	}
	return Match{Rule: GoogleAPI, Start: pos, End: end, Value: string(data[pos:end]), Confidence: High}, true
}

func aqKeyAt(data []byte, pos int) (Match, bool) {
	if !boundedLeft(data, pos) || pos > 0 && data[pos-1] == '.' {
		return Match{}, false
	}
	start := pos + 3
	end := start
	for end < len(data) && end-start <= aqMaxBody && isKeyChar(data[end]) {
		end++
	}
	n := end - start
	if n < aqMinBody || n > aqMaxBody || !boundedRight(data, end) {
		return Match{}, false
	}
	// A dot followed by more token text makes this one segment of a
	// longer dotted token (a JWT, say), not a key.
	if end+1 < len(data) && data[end] == '.' && isKeyChar(data[end+1]) {
		return Match{}, false
	}
	if bodyCheck(data[start:end], 4.0) != "" {
		return Match{}, false
	}
	conf := Medium
	if n == aqExpectedBody && bytes.HasPrefix(data[start:end], []byte(aqExpectedStart)) {
		conf = High
	}
	return Match{Rule: GoogleGemini, Start: pos, End: end, Value: string(data[pos:end]), Confidence: conf}, true
}

// inBase64Run reports whether the n bytes at pos lie in a run of base64
// characters long enough to be decoded.
func inBase64Run(data []byte, pos, n int) bool {
	lo, hi := pos, pos+n
	for lo > 0 && hi-lo < minB64Run && isB64Char(data[lo-1]) {
		lo--
	}
	for hi < len(data) && hi-lo < minB64Run && isB64Char(data[hi]) {
		hi++
	}
	return hi-lo >= minB64Run
}

// escapeNear reports whether an escape or percent sign follows pos within n
// bytes: a key whose body is escaped needs decoding before it matches.
func escapeNear(data []byte, pos, n int) bool {
	end := min(len(data), pos+n)
	return bytes.IndexByte(data[pos:end], '\\') >= 0 || bytes.IndexByte(data[pos:end], '%') >= 0
}

// lineStart returns the offset of the start of the line that is `back`
// lines above the one holding pos, but no further back than limit bytes.
func lineStart(data []byte, pos, back, limit int) int {
	lo := max(0, pos-limit)
	i := pos
	for {
		j := bytes.LastIndexByte(data[lo:i], '\n')
		if j < 0 {
			return lo
		}
		i = lo + j
		if back == 0 {
			return i + 1
		}
		back--
	}
}

// lineEnd returns the offset just past the line that is `fwd` lines below
// the one holding pos, but no further than limit bytes.
func lineEnd(data []byte, pos, fwd, limit int) int {
	hi := min(len(data), pos+limit)
	i := pos
	for {
		j := bytes.IndexByte(data[i:hi], '\n')
		if j < 0 {
			return hi
		}
		i += j + 1
		if fwd == 0 {
			return i
		}
		fwd--
	}
}

// addWindow appends the decoding window around pos, unless the last window
// already reaches well past pos: hits are in order, so a run of hits costs
// one window, not one each.
func addWindow(data []byte, windows []span, pos int) []span {
	if n := len(windows); n > 0 && pos+decodeBytes/2 < windows[n-1].hi {
		return windows
	}
	return append(windows, span{lineStart(data, pos, decodeLines, decodeBytes), lineEnd(data, pos, decodeLines, decodeBytes)})
}

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

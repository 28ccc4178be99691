package rules

import (
	"bytes"
	"encoding/base64"
	"sort"
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
	words []string    // the literals the prefilter finds, indexed as kinds and lens
	fast  *teddy      // the prefilter where AVX2 runs it, else nil
	lits  *literalSet // the prefilter elsewhere, else nil
	kinds []litKind
	lens  []int
}

// prefix is one credential prefix with everything the detector needs to know
// about it. prefixes is the one table of them: the prefilter and Keywords
// read it.
type prefix struct {
	lit  string  // the prefix as written
	rule string  // the rule of credentials that start with it
	kind litKind // how a prefilter hit on lit is checked
	// escStem is the part before the first character that JSON or URL
	// encoding escapes ("" when escaped forms are found otherwise).
	escStem string
	// b64 is the longer prefix every public example has, searched for in
	// base64 text (a longer literal anchors better).
	b64 string
}

var prefixes = [...]prefix{
	{lit: "account-", rule: ExchangeKey, kind: litExchange, escStem: "account", b64: "account-"},
	{lit: "master-", rule: ExchangeKey, kind: litExchange, escStem: "master", b64: "master-"},
	// An escaped AIza key is found by escapeNear after its plain prefix.
	{lit: "AIza", rule: GoogleAPI, kind: litGoogleAPI, b64: "AIzaSy"},
	{lit: "AQ.", rule: GoogleGemini, kind: litAQ, escStem: "AQ", b64: "AQ.Ab8"},
}

// Keywords returns the plain literals that every credential found in plain
// text contains; any input without one of them holds no plain credential.
func Keywords() []string {
	out := make([]string, len(prefixes))
	for i, p := range prefixes {
		out[i] = p.lit
	}
	return out
}

// KeywordAt returns the length of the literal of Keywords that b starts
// with, or 0: where a plain credential would begin.
func KeywordAt(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	for _, p := range prefixes {
		if b[0] == p.lit[0] && len(b) >= len(p.lit) && string(b[:len(p.lit)]) == p.lit {
			return len(p.lit)
		}
	}
	return 0
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
	for _, p := range prefixes {
		add(p.kind, p.lit)
	}
	add(litGemini, "emini", "EMINI")
	for _, p := range prefixes {
		if p.escStem != "" {
			add(litEscaped, p.escStem+`\u00`, p.escStem+`\x2`, p.escStem+`%2`)
		}
	}
	// Base64 forms are searched for the prefixes every public example has
	// (AIzaSy…, AQ.Ab8…): their encodings are longer and share anchor bytes
	// with the other literals, which spares the prefilter two passes.
	seen := map[string]bool{}
	for _, p := range prefixes {
		for _, v := range base64Variants(p.b64) {
			if !seen[v] {
				seen[v] = true
				add(litBase64, v)
			}
		}
	}
	d.words = lits
	if useAVX2 {
		d.fast = newTeddy(lits)
	}
	if d.fast == nil {
		d.lits = newLiteralSet(lits)
	}
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
	var w work
	return d.detect(data, true, &w)
}

// work counts the steps detection takes beyond the prefilter's one pass:
// bytes examined around hits (pairing windows, names, lone-secret lines,
// decoding windows) and key–candidate comparisons. Tests bound it by the
// input's length to show that detection stays linear whatever the input
// (see TestDetectWorkIsLinear); nothing else reads it.
type work struct {
	bytes int // bytes examined after the prefilter
	pairs int // key–candidate pairs scored
}

type span struct{ lo, hi int }

func (d *Detector) detect(data []byte, decode bool, w *work) []Match {
	var hits []hit
	if d.fast != nil {
		hits = d.fast.find(data, nil)
	} else {
		hits = d.lits.find(data, nil)
	}
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
			} else if escapeNear(data, h.pos, d.lens[h.lit]+exchangeBodyLen) {
				windows = addWindow(data, windows, h.pos, w)
			}
		case litGoogleAPI:
			if m, ok := googleAPIKeyAt(data, h.pos); ok {
				out = append(out, m)
			} else if escapeNear(data, h.pos, 4+googleAPIBodyLen) {
				windows = addWindow(data, windows, h.pos, w)
			}
		case litAQ:
			if m, ok := aqKeyAt(data, h.pos); ok {
				out = append(out, m)
			} else if escapeNear(data, h.pos, 3+aqMaxBody) {
				windows = addWindow(data, windows, h.pos, w)
			}
		case litGemini:
			contexts = append(contexts, h.pos)
		case litEscaped:
			windows = addWindow(data, windows, h.pos, w)
		case litBase64:
			if inBase64Run(data, h.pos, d.lens[h.lit]) {
				windows = addWindow(data, windows, h.pos, w)
			}
		}
	}
	paired := pairSecrets(data, keys, w)
	out = append(out, keys...)
	out = append(out, loneSecrets(data, contexts, paired, w)...)
	if decode && len(windows) > 0 {
		out = append(out, d.decodeWindows(data, windows, out, w)...)
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

// boundedRight reports whether the byte at end does not continue a token,
// plainly or through an escape (AQ.…\u002d… is one token, found decoded).
func boundedRight(data []byte, end int) bool {
	return end >= len(data) || !isTokenChar(data[end]) && !escapesTokenChar(data[end:])
}

// escapesTokenChar reports whether b starts with a JSON, C or percent
// escape of a character that would continue a token.
func escapesTokenChar(b []byte) bool {
	if len(b) < 3 || b[0] != '\\' && b[0] != '%' {
		return false
	}
	if b[0] == '%' {
		return isHex(b[1]) && isHex(b[2]) && isTokenChar(unhex(b[1])<<4|unhex(b[2]))
	}
	n, dec := unescape(b)
	return n > 0 && len(dec) == 1 && isTokenChar(dec[0])
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
func addWindow(data []byte, windows []span, pos int, w *work) []span {
	if n := len(windows); n > 0 && pos+decodeBytes/2 < windows[n-1].hi {
		return windows
	}
	s := span{lineStart(data, pos, decodeLines, decodeBytes), lineEnd(data, pos, decodeLines, decodeBytes)}
	w.bytes += s.hi - s.lo
	return append(windows, s)
}

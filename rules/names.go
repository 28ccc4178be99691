package rules

import (
	"bytes"
	"strings"
)

// What a secret-shaped value's name says about it. The name is usually
// written just before the value on its line (GEMINI_API_SECRET=…,
// "apiSecret": "…"); configuration that lists entries as name/value pairs
// puts it on a line above (- name: GEMINI_API_SECRET / value: …), and
// signing code passes the secret straight to an HMAC call. Every lookup here
// reads a bounded stretch of the input around the value.

const (
	// labelBytes bounds how far before a value its own label is read.
	labelBytes = 64
	// blockLines and blockBytes bound how far above a value with a generic
	// label (value, default) the name of its entry is looked for;
	// sameLineNameBytes how far before it on its own line.
	blockLines        = 6
	blockBytes        = 512
	sameLineNameBytes = 160
	// hmacBytes bounds how far from a value an HMAC call is looked for.
	hmacBytes = 96
)

// nameKind is what a value's name says about it.
type nameKind uint8

const (
	nameNone    nameKind = iota // nothing either way
	nameSecret                  // it is a secret: "secret" in its name, or an HMAC key
	nameForeign                 // it is another application's secret
)

// otherApps are words that name what else a secret is for. Such a name that
// says nothing of Gemini, the exchange or an API is not a Gemini secret.
var otherApps = []string{
	"session", "webhook", "jwt", "cookie", "csrf", "xsrf", "oauth", "client",
	"signing", "encrypt", "nextauth", "django", "flask", "rails",
}

// otherVendors name other services; only "gemini" or "exchange" in the same
// name makes such a secret a candidate (STRIPE_API_SECRET is Stripe's).
var otherVendors = []string{
	"stripe", "github", "gitlab", "slack", "twilio", "sendgrid", "mailgun", "aws",
	"azure", "discord", "telegram", "paypal", "shopify", "coinbase", "binance",
	"kraken", "openai", "anthropic",
}

// foreignName reports whether name says it belongs to another application.
func foreignName(name []byte) bool {
	if len(name) == 0 || indexFold(name, "gemini") >= 0 || indexFold(name, "exchange") >= 0 {
		return false
	}
	for _, v := range otherVendors {
		if indexFold(name, v) >= 0 {
			return true
		}
	}
	if indexFold(name, "api") >= 0 {
		return false
	}
	for _, a := range otherApps {
		if indexFold(name, a) >= 0 {
			return true
		}
	}
	return false
}

// classifyName says what the name of an entry says about its value.
func classifyName(name []byte) nameKind {
	switch {
	case foreignName(name):
		return nameForeign
	case indexFold(name, "secret") >= 0 || indexFold(name, "hmac") >= 0:
		return nameSecret
	}
	return nameNone
}

func isIdentChar(c byte) bool { return isKeyChar(c) || c == '.' || c == '$' || c == '@' }

// normLabel reduces a label to its last dotted segment, lower case, without
// _ or -: "spring.gemini.Secret_Value" becomes "secretvalue".
func normLabel(label []byte) string {
	if i := bytes.LastIndexByte(label, '.'); i >= 0 {
		label = label[i+1:]
	}
	var buf [24]byte
	n := 0
	for _, c := range label {
		if c == '_' || c == '-' || c == '$' || c == '@' {
			continue
		}
		if n == len(buf) {
			return ""
		}
		buf[n] = lowerASCII(c)
		n++
	}
	return string(buf[:n])
}

// genericLabel reports whether a label says only that a value follows
// (value, default…): the name of the entry is written elsewhere.
func genericLabel(label []byte) bool {
	switch normLabel(label) {
	case "value", "val", "default", "defaultvalue", "secretvalue", "parametervalue", "secretstring", "plaintext":
		return true
	}
	return false
}

// bareLabel reports whether a label says what a value is but not whose:
// secret, key, token, value…
func bareLabel(label []byte) bool {
	if len(label) == 0 || genericLabel(label) {
		return len(label) > 0
	}
	switch normLabel(label) {
	case "secret", "secretkey", "key", "token", "password", "pass", "pwd":
		return true
	}
	return false
}

// nameLabel reports whether a label's value names the entry it opens: the
// name of an environment entry, a Postman variable's key, a parameter.
func nameLabel(label []byte) bool {
	switch normLabel(label) {
	case "name", "key", "parametername", "parameterkey", "envname", "secretname", "variable":
		return true
	}
	return false
}

// labelBefore returns the span of the label written just before the value
// at pos on its line: GEMINI_API_SECRET in GEMINI_API_SECRET="…", value in
// "value": "…", apiSecret in apiSecret: '…', or an empty span when the value
// follows no assignment (a function argument, a list item).
func labelBefore(data []byte, lineStart, pos int, w *work) (lo, hi int) {
	floor := max(lineStart, pos-labelBytes)
	w.bytes += pos - floor
	i := pos
	skip := func(set string) {
		for i > floor && strings.IndexByte(set, data[i-1]) >= 0 {
			i--
		}
	}
	skip(" \t\"'`\\")
	// A string prefix: b'…', r"…", f"…".
	if i < pos && i > floor && strings.IndexByte("bBrRuUf", data[i-1]) >= 0 &&
		(i-1 == floor || !isIdentChar(data[i-2])) {
		i--
		skip(" \t")
	}
	op := i
	skip(" \t=:>")
	if i == op {
		return pos, pos
	}
	skip(" \t\"'`\\[]")
	hi = i
	for i > floor && isIdentChar(data[i-1]) {
		i--
	}
	return i, hi
}

// valueAfterLabel returns the span of the name-like value that follows a
// label ending at i in data[:limit] ("name": "GEMINI_API_SECRET" gives
// GEMINI_API_SECRET), or an empty span.
func valueAfterLabel(data []byte, i, limit int) (lo, hi int) {
	skip := func(set string) {
		for i < limit && strings.IndexByte(set, data[i]) >= 0 {
			i++
		}
	}
	skip("\"'` \t\\")
	op := i
	skip("=:>")
	if i == op {
		return i, i
	}
	skip("\"'` \t\\")
	lo = i
	for i < limit && isIdentChar(data[i]) {
		i++
	}
	return lo, i
}

// lastNameInLine returns the value of the last name label in line
// ("name": "X", "value": … gives X), or nil.
func lastNameInLine(line []byte) []byte {
	var name []byte
	for i := 0; i < len(line); {
		if !isIdentChar(line[i]) {
			i++
			continue
		}
		j := i
		for j < len(line) && isIdentChar(line[j]) {
			j++
		}
		if (i == 0 || !isIdentChar(line[i-1])) && nameLabel(line[i:j]) {
			if lo, hi := valueAfterLabel(line, j, len(line)); hi > lo {
				name = line[lo:hi]
			}
		}
		i = j
	}
	return name
}

// blockName returns the name an entry's first line gives it, or nil:
// GEMINI_API_SECRET in "- name: GEMINI_API_SECRET" or
// `{"key": "GEMINI_API_SECRET",`, gemini_api_secret in
// `variable "gemini_api_secret" {`.
func blockName(line []byte) []byte {
	t := bytes.TrimLeft(line, " \t-{,")
	for _, kw := range []string{"variable ", "resource ", "output ", "data "} {
		if bytes.HasPrefix(t, []byte(kw)) {
			// The last quoted string names the block.
			rest := t[len(kw):]
			if e := bytes.LastIndexByte(rest, '"'); e > 0 {
				if s := bytes.LastIndexByte(rest[:e], '"'); s >= 0 {
					return rest[s+1 : e]
				}
			}
			return nil
		}
	}
	t = bytes.TrimLeft(t, "\"'")
	j := 0
	for j < len(t) && isIdentChar(t[j]) {
		j++
	}
	if !nameLabel(t[:j]) {
		return nil
	}
	if lo, hi := valueAfterLabel(t, j, len(t)); hi > lo {
		return t[lo:hi]
	}
	return nil
}

// blockEdge reports whether a line ends or opens an entry, so that no name
// above it belongs to the value below it.
func blockEdge(line []byte) bool {
	t := bytes.TrimSpace(line)
	return bytes.ContainsAny(t, "{}[]") || bytes.HasPrefix(t, []byte("- ")) || bytes.Equal(t, []byte("-"))
}

// entryNames finds the names of the entries that hold values with generic
// labels. It remembers the last line it looked above, so many values on one
// line cost one look.
type entryNames struct {
	lineStart int
	above     []byte
	section   []byte
	valid     bool
}

// enclosingName returns the name of the entry that holds a value whose own
// label (starting at labelLo, on the line starting at lineStart) is generic:
// a name label earlier on the same line, or the entry's first line a few
// lines above. It returns nil when there is none.
func (e *entryNames) enclosingName(data []byte, lineStart, labelLo int, w *work) []byte {
	lo := max(lineStart, labelLo-sameLineNameBytes)
	w.bytes += labelLo - lo
	if name := lastNameInLine(data[lo:labelLo]); name != nil {
		return name
	}
	e.look(data, lineStart, w)
	return e.above
}

// look finds, once per line, the entry name and the section heading above
// the line starting at lineStart.
func (e *entryNames) look(data []byte, lineStart int, w *work) {
	if !e.valid || e.lineStart != lineStart {
		e.lineStart, e.valid = lineStart, true
		e.above = nameAbove(data, lineStart, w)
		e.section = sectionAbove(data, lineStart, w)
	}
}

// indentOf returns the number of leading blanks of line.
func indentOf(line []byte) int {
	n := 0
	for n < len(line) && (line[n] == ' ' || line[n] == '\t') {
		n++
	}
	return n
}

// sectionAbove returns the heading of the section that holds the line
// starting at lineStart: an INI [session], a YAML session: or a JSON
// "session": { less indented than the line, up to blockLines lines and
// blockBytes bytes above it; nil when there is none.
func sectionAbove(data []byte, lineStart int, w *work) []byte {
	le := min(len(data), lineStart+blockBytes)
	if i := bytes.IndexByte(data[lineStart:le], '\n'); i >= 0 {
		le = lineStart + i
	}
	indent := indentOf(data[lineStart:le])
	floor := max(0, lineStart-blockBytes)
	end := lineStart
	for n := 0; n < blockLines && end > floor; n++ {
		start := bytes.LastIndexByte(data[floor:end-1], '\n') + 1 + floor
		w.bytes += end - start
		if start == floor && floor > 0 {
			return nil
		}
		line := data[start : end-1]
		end = start
		t := bytes.TrimSpace(line)
		switch {
		case len(t) == 0 || t[0] == '#' || t[0] == ';':
			continue
		case t[0] == '[' && t[len(t)-1] == ']':
			return t[1 : len(t)-1]
		case indentOf(line) < indent && (t[len(t)-1] == ':' || t[len(t)-1] == '{'):
			t = bytes.TrimRight(t[:len(t)-1], " \t:\"'")
			return bytes.TrimLeft(t, "\"'- ")
		}
	}
	return nil
}

// nameAbove returns the name given by the first line of the entry that
// the line starting at lineStart belongs to, looking up to blockLines lines
// and blockBytes bytes above it and stopping at a block edge, or nil.
func nameAbove(data []byte, lineStart int, w *work) []byte {
	floor := max(0, lineStart-blockBytes)
	end := lineStart // the line above ends just before end
	for n := 0; n < blockLines && end > floor; n++ {
		start := bytes.LastIndexByte(data[floor:end-1], '\n') + 1 + floor
		w.bytes += end - start
		if start == floor && floor > 0 {
			return nil // the line is longer than the budget
		}
		line := data[start : end-1]
		if name := blockName(line); name != nil {
			return name
		}
		if blockEdge(line) {
			return nil
		}
		end = start
	}
	return nil
}

// hmacKey reports whether the value at data[start:end] is the key argument of
// an HMAC-SHA384 call on its line: openssl dgst -sha384 -hmac "…",
// crypto.createHmac('sha384', '…'), hmac.new(b'…', m, hashlib.sha384),
// new SecretKeySpec("…".getBytes(), "HmacSHA384"). HMAC-SHA384 is how the
// exchange signs requests.
func hmacKey(data []byte, lineStart, start, end int, w *work) bool {
	before := data[max(lineStart, start-hmacBytes):start]
	after := data[end:min(len(data), end+hmacBytes)]
	if i := bytes.IndexByte(after, '\n'); i >= 0 {
		after = after[:i]
	}
	w.bytes += len(before) + len(after)
	inCall := false
	if h := lastIndexFold(before, "hmac"); h >= 0 {
		// Still inside the call: no statement ends and no parenthesis
		// closes between the call and the value.
		inCall = true
		depth := 0
		for _, c := range before[h:] {
			switch c {
			case '(':
				depth++
			case ')':
				depth--
			case ';':
				depth = -1
			}
			if depth < 0 {
				inCall = false
				break
			}
		}
	}
	if !inCall {
		if a := indexFold(after, "hmac"); a >= 0 && bytes.IndexByte(after[:a], ';') < 0 {
			inCall = true
		}
	}
	if !inCall && len(bytes.Trim(before, " \t\"'`bB")) == 0 && lineStart > 0 {
		// The value opens its line inside a call that the line above
		// opened, as formatters lay out long calls:
		//   hmac.new(
		//       b'…',
		//       payload, hashlib.sha384)
		prev := data[max(0, lineStart-1-hmacBytes) : lineStart-1]
		if i := bytes.LastIndexByte(prev, '\n'); i >= 0 {
			prev = prev[i+1:]
		}
		w.bytes += len(prev)
		if t := bytes.TrimRight(prev, " \t"); len(t) > 0 && t[len(t)-1] == '(' && indexFold(t, "hmac") >= 0 {
			inCall = true
			before = t
			// The digest is another argument, on a line of its own: read
			// on to the end of the call.
			after = data[end:min(len(data), end+hmacBytes)]
			if i := bytes.IndexByte(after, ')'); i >= 0 {
				after = after[:i]
			}
			w.bytes += len(after)
		}
	}
	return inCall && (bytes.Contains(before, []byte("384")) || bytes.Contains(after, []byte("384")))
}

// lastIndexFold returns the index of the last instance of the ASCII word w
// (lower case) in b, ignoring case, or -1.
func lastIndexFold(b []byte, w string) int {
	for i := len(b) - len(w); i >= 0; i-- {
		if indexFold(b[i:i+len(w)], w) == 0 {
			return i
		}
	}
	return -1
}

// candidateName says what the names around a secret-shaped value at
// data[start:end] say about it. Values must come in order of position.
func (e *entryNames) candidateName(data []byte, lineStart, start, end int, w *work) nameKind {
	lo, hi := labelBefore(data, lineStart, start, w)
	label := data[lo:hi]
	if foreignName(label) {
		return nameForeign
	}
	// A bare label (secret = …) takes the application its section names:
	// [session] / secret = … is the session's secret. A section named only
	// "client" is as often the Gemini client's settings.
	if bareLabel(label) {
		e.look(data, lineStart, w)
		if foreignName(e.section) && normLabel(e.section) != "client" {
			return nameForeign
		}
	}
	named := nameSaysSecret(data, start, w)
	if genericLabel(label) {
		switch classifyName(e.enclosingName(data, lineStart, lo, w)) {
		case nameForeign:
			return nameForeign
		case nameSecret:
			named = true
		}
	}
	// An HMAC key is passed as an argument, never assigned to a label.
	if named || hi == lo && hmacKey(data, lineStart, start, end, w) {
		return nameSecret
	}
	return nameNone
}

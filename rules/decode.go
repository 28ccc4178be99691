package rules

import (
	"encoding/base64"
	"sort"
	"unicode/utf8"
)

// Encoding names used in Match.Encoding.
const (
	EncBase64  = "base64"
	EncEscape  = "escape"
	EncPercent = "percent"
)

// segment maps a stretch of decoded text back to the input it came from.
// A copied segment maps byte for byte; a decoded one maps as a whole.
type segment struct {
	out      int // start in the decoded text
	lo, hi   int // span in the input
	encoding string
}

// decoded is a window of input with its escapes, percent-encoding and base64
// values replaced by what they encode.
type decoded struct {
	text []byte
	segs []segment
}

func (d *decoded) copyByte(data []byte, i int) {
	if n := len(d.segs); n > 0 && d.segs[n-1].encoding == "" && d.segs[n-1].hi == i {
		d.segs[n-1].hi++
	} else {
		d.segs = append(d.segs, segment{out: len(d.text), lo: i, hi: i + 1})
	}
	d.text = append(d.text, data[i])
}

func (d *decoded) emit(lo, hi int, enc string, b ...byte) {
	d.segs = append(d.segs, segment{out: len(d.text), lo: lo, hi: hi, encoding: enc})
	d.text = append(d.text, b...)
}

// origin maps an offset in the decoded text to the input. For an offset
// inside a decoded segment it returns the segment's start (or end, when
// end is true) and the segment's encoding.
func (d *decoded) origin(x int, end bool) (int, string) {
	i := sort.Search(len(d.segs), func(i int) bool { return d.segs[i].out > x }) - 1
	if end {
		// An end offset belongs to the segment holding its last byte.
		i = sort.Search(len(d.segs), func(i int) bool { return d.segs[i].out >= x }) - 1
	}
	if i < 0 {
		i = 0
	}
	s := d.segs[i]
	if s.encoding == "" {
		return s.lo + (x - s.out), ""
	}
	if end {
		return s.hi, s.encoding
	}
	return s.lo, s.encoding
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

func isB64Char(c byte) bool { return isAlnum(c) || c == '+' || c == '/' || c == '-' || c == '_' }

// decodeWindow decodes data[lo:hi]. A base64 run that starts in the window is
// followed to its end (up to maxB64Run), so hi may be exceeded.
func decodeWindow(data []byte, lo, hi int) *decoded {
	d := &decoded{text: make([]byte, 0, hi-lo)}
	for i := lo; i < hi; {
		c := data[i]
		switch {
		case c == '\\' && i+1 < len(data):
			if n, b := unescape(data[i:]); n > 0 {
				d.emit(i, i+n, EncEscape, b...)
				i += n
				continue
			}
		case c == '%' && i+2 < len(data) && isHex(data[i+1]) && isHex(data[i+2]):
			d.emit(i, i+3, EncPercent, unhex(data[i+1])<<4|unhex(data[i+2]))
			i += 3
			continue
		case isB64Char(c) && (i == 0 || !isB64Char(data[i-1])):
			j := i
			for j < len(data) && j-i < maxB64Run && isB64Char(data[j]) {
				j++
			}
			k := j
			for k < len(data) && k-j < 2 && data[k] == '=' {
				k++
			}
			if j-i >= minB64Run {
				if b, ok := decodeBase64Text(data[i:j]); ok {
					d.emit(i, k, EncBase64, b...)
					i = k
					continue
				}
			}
			for ; i < j; i++ {
				d.copyByte(data, i)
			}
			continue
		}
		d.copyByte(data, i)
		i++
	}
	return d
}

// unescape decodes one backslash escape at the start of b, returning its
// length and the bytes it stands for, or 0 when b holds no escape.
func unescape(b []byte) (int, []byte) {
	switch b[1] {
	case 'u':
		if len(b) >= 6 && isHex(b[2]) && isHex(b[3]) && isHex(b[4]) && isHex(b[5]) {
			r := rune(unhex(b[2]))<<12 | rune(unhex(b[3]))<<8 | rune(unhex(b[4]))<<4 | rune(unhex(b[5]))
			return 6, utf8.AppendRune(nil, r)
		}
	case 'x':
		if len(b) >= 4 && isHex(b[2]) && isHex(b[3]) {
			return 4, []byte{unhex(b[2])<<4 | unhex(b[3])}
		}
	case 'n':
		return 2, []byte{'\n'}
	case 't':
		return 2, []byte{'\t'}
	case 'r':
		return 2, []byte{'\r'}
	case '/', '\\', '"', '\'':
		return 2, []byte{b[1]}
	}
	return 0, nil
}

// decodeBase64Text decodes a base64 run (standard or URL-safe alphabet,
// padding stripped) and accepts it only when it decodes to text.
func decodeBase64Text(run []byte) ([]byte, bool) {
	enc := base64.RawStdEncoding
	for _, c := range run {
		if c == '-' || c == '_' {
			enc = base64.RawURLEncoding
			break
		}
	}
	n := len(run)
	if n%4 == 1 {
		n--
	}
	out := make([]byte, enc.DecodedLen(n))
	m, err := enc.Decode(out, run[:n])
	if err != nil || m == 0 {
		return nil, false
	}
	out = out[:m]
	bad := 0
	for _, c := range out {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' || c == 0x7f {
			bad++
		}
	}
	if bad > 0 || !utf8.Valid(out) {
		return nil, false
	}
	return out, true
}

// decodeWindows decodes the windows around hits on encoded keywords and
// returns what they hold that plain matching did not already find, with
// positions mapped back to the encoded text.
func (d *Detector) decodeWindows(data []byte, windows []span, plain []Match, w *work) []Match {
	sort.Slice(windows, func(i, j int) bool { return windows[i].lo < windows[j].lo })
	merged := windows[:1]
	for _, win := range windows[1:] {
		last := &merged[len(merged)-1]
		if win.lo <= last.hi {
			last.hi = max(last.hi, win.hi)
		} else {
			merged = append(merged, win)
		}
	}
	known := map[string]bool{}
	for _, m := range plain {
		known[m.Rule+"\x00"+m.Value] = true
	}
	var out []Match
	covered := 0
	for _, win := range merged {
		if win.hi <= covered {
			continue
		}
		lo := max(win.lo, covered)
		dec := decodeWindow(data, lo, win.hi)
		if n := len(dec.segs); n > 0 {
			covered = dec.segs[n-1].hi
			w.bytes += covered - lo
		}
		for _, m := range d.detect(dec.text, false, w) {
			if known[m.Rule+"\x00"+m.Value] {
				continue
			}
			known[m.Rule+"\x00"+m.Value] = true
			start, enc1 := dec.origin(m.Start, false)
			end, enc2 := dec.origin(m.End, true)
			m.Start, m.End = start, end
			m.Encoding = joinEnc(enc1, enc2)
			if m.Encoding == "" {
				m.Encoding = EncEscape
			}
			for i, s := range m.Secrets {
				m.Secrets[i].Start, _ = dec.origin(s.Start, false)
				m.Secrets[i].End, _ = dec.origin(s.End, true)
			}
			out = append(out, m)
		}
	}
	return out
}

func joinEnc(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "" || a == b:
		return a
	}
	return a + "+" + b
}

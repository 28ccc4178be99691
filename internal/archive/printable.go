package archive

import (
	"io"

	"github.com/gemscan-dev/gemscan/rules"
)

// MinRun is the shortest run of printable characters Printable keeps.
const MinRun = 6

// maxRun bounds a run held before it is written out: a longer run is split,
// and its last runCarry bytes start the next piece, so a credential that
// straddles the cut is whole on the next line.
const (
	maxRun   = 64 << 10
	runCarry = 256
)

// Printable returns the runs of at least MinRun printable ASCII characters
// in binary data — single bytes, or UTF-16LE code units (the character then
// a zero byte, at either alignment) — one run a line, in the order the runs
// end. A key in a compiled Android resource table, a .class constant pool
// or a .dex string table comes out on a line of its own, the name stored
// beside it usually on a line nearby.
func Printable(data []byte) []byte {
	var p printer
	out := p.write(nil, data)
	return p.flush(out)
}

// NewPrintableReader returns a reader of Printable's output for r's content,
// in bounded memory.
func NewPrintableReader(r io.Reader) io.Reader {
	return &printableReader{r: r, in: make([]byte, 64<<10)}
}

type printableReader struct {
	r    io.Reader
	p    printer
	in   []byte
	out  []byte
	err  error
	done bool
}

func (pr *printableReader) Read(b []byte) (int, error) {
	for len(pr.out) == 0 {
		if pr.done {
			return 0, pr.err
		}
		n, err := pr.r.Read(pr.in)
		pr.out = pr.p.write(pr.out[:0], pr.in[:n])
		if err != nil {
			pr.out = pr.p.flush(pr.out)
			pr.done = true
			pr.err = err
		}
	}
	n := copy(b, pr.out)
	pr.out = pr.out[n:]
	return n, nil
}

// printer finds printable runs in a stream: one ASCII run and a UTF-16LE
// run for each alignment.
type printer struct {
	off   int64
	ascii []byte
	u16   [2][]byte
	lead  [2]byte // first byte of the current code unit, per alignment
}

func printableByte(c byte) bool { return c >= 0x20 && c < 0x7f || c == '\t' }

// end writes a finished run to out if it is long enough, and empties it.
// A credential that a glued length byte may hide is written first, on a
// line of its own (see gluedKey).
func end(out []byte, run *[]byte) []byte {
	r := *run
	if len(r) < MinRun {
		*run = r[:0] // nor does it hold a credential
		return out
	}
	k := lengthPrefixed(r)
	out = gluedKey(out, r, k)
	if len(r)-k >= MinRun {
		out = append(out, r[k:]...)
		out = append(out, '\n')
	}
	*run = r[:0]
	return out
}

// cut writes a run that reached maxRun, as end does, and keeps its last
// runCarry bytes as the start of the next piece.
func cut(out []byte, run *[]byte) []byte {
	r := *run
	out = end(out, run)
	*run = r[:copy(r, r[len(r)-runCarry:])]
	return out
}

// lengthPrefixed returns how many bytes at the start of run are the length
// that binary formats store before a string, when it happens to be
// printable and so joins the run: compiled resource tables (a UTF-16
// length unit, or UTF-16 and UTF-8 length bytes), .dex string data and
// .class constants. "5AQ.Ab…" is a 53-character key after its length:
// left joined, it would not stand as a word of its own.
func lengthPrefixed(run []byte) int {
	n := len(run)
	switch {
	case n >= 3 && run[0] == run[1] && int(run[0]) == n-2:
		return 2
	case n >= 2 && int(run[0]) == n-1:
		return 1
	}
	return 0
}

// maxGlued is the most bytes of a string's length fields that can join
// its run: the UTF-16 and UTF-8 lengths of a resource table's string, or
// the low bytes of two-byte lengths (0x81 'A' 0x81 'A' before a 321-byte
// string leaves one).
const maxGlued = 2

// gluedKey writes, on a line of its own, a credential that starts within
// the first maxGlued bytes of run where the line end writes (run from
// skip) does not show it as a word: a byte end strips as a length was the
// credential's first letter (a 66-byte run "AIza…": 'A' is 65), or a
// length byte end cannot tell from text is glued to it ("AAIza…" after
// the 0x81 of a two-byte length). The line holds the credential's token
// only, so nothing else in run is written twice.
func gluedKey(out, run []byte, skip int) []byte {
	for i := 0; i <= maxGlued && i < len(run); i++ {
		if i == skip || i > skip && !rules.IsTokenChar(run[i-1]) {
			continue // end's line shows it, or shows it as a word
		}
		n := rules.KeywordAt(run[i:])
		if n == 0 {
			continue
		}
		e := i + n
		for e < len(run) && rules.IsTokenChar(run[e]) {
			e++
		}
		if e < len(run) && (run[e] == '\\' || run[e] == '%') {
			e = len(run) // an escape may go on with the token
		}
		out = append(out, run[i:e]...)
		return append(out, '\n')
	}
	return out
}

func (p *printer) write(out, data []byte) []byte {
	// Runs are ended only when they hold something (in binary data nearly
	// every byte ends an empty run), and a span of printable bytes is
	// handed to span whole.
	a := int(p.off & 1) // the alignment of data[i]
	for i := 0; i < len(data); {
		c := data[i]
		if printableByte(c) {
			j := i + 1
			for j < len(data) && printableByte(data[j]) {
				j++
			}
			out = p.span(out, data[i:j], a)
			a ^= (j - i) & 1
			i = j
			continue
		}
		if len(p.ascii) > 0 {
			out = end(out, &p.ascii)
		}
		// c is the first byte of a code unit at alignment a and the
		// second byte of one at the other alignment.
		b := 1 - a
		if c == 0 && printableByte(p.lead[b]) {
			p.u16[b] = append(p.u16[b], p.lead[b])
			if len(p.u16[b]) >= maxRun {
				out = cut(out, &p.u16[b])
			}
		} else if len(p.u16[b]) > 0 {
			out = end(out, &p.u16[b])
		}
		p.lead[b] = 0
		p.lead[a] = c
		a = b
		i++
	}
	p.off += int64(len(data))
	return out
}

// span takes s, printable bytes (so none zero) whose first is at alignment
// a, as write would one byte at a time: each joins the ASCII run, and ends
// the UTF-16 run of the alignment it would complete a code unit of. Those
// are ended by its first two bytes; the rest only extend the ASCII run.
func (p *printer) span(out, s []byte, a int) []byte {
	n := min(2, len(s))
	for _, c := range s[:n] {
		p.ascii = append(p.ascii, c)
		if len(p.ascii) >= maxRun {
			out = cut(out, &p.ascii)
		}
		b := 1 - a
		if len(p.u16[b]) > 0 {
			out = end(out, &p.u16[b])
		}
		p.lead[b] = 0
		p.lead[a] = c
		a = b
	}
	if len(s) == n {
		return out
	}
	for rest := s[n:]; len(rest) > 0; {
		take := min(maxRun-len(p.ascii), len(rest))
		p.ascii = append(p.ascii, rest[:take]...)
		rest = rest[take:]
		if len(p.ascii) >= maxRun {
			out = cut(out, &p.ascii)
		}
	}
	last := (a + len(s) - n - 1) & 1 // the alignment of s's last byte
	p.lead[last] = s[len(s)-1]
	p.lead[1-last] = 0
	return out
}

func (p *printer) flush(out []byte) []byte {
	out = end(out, &p.ascii)
	out = end(out, &p.u16[0])
	return end(out, &p.u16[1])
}

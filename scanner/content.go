package scanner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/gemscan-dev/gemscan/rules"
)

// AllowMarker on a line suppresses any finding on that line.
const AllowMarker = "gemscan:allow"

// Chunking of streamed input: each chunk overlaps the next by chunkOverlap
// bytes, and a match is reported by the chunk that holds its start in its
// own half of the overlap, so nothing is reported twice or lost at a seam.
const (
	chunkSize    = 4 << 20
	chunkOverlap = 64 << 10
)

// locator turns rule matches in a buffer into findings, computing lines and
// columns with one forward pass over the buffer.
type locator struct {
	data     []byte
	baseLine int // lines before data[0]
	at, line int // cursor: data[:at] holds line-1 newlines past baseLine
	// The line last looked at, so that many matches on one long line (a
	// minified file, a log line of keys) cost one pass over it, not one
	// each.
	lineLo, lineHi int  // its span; lineHi < 0 when none is cached
	lineAllowed    bool // whether it holds the allow marker
	colOff, col    int  // a known offset on it and its 1-based column
	// scanned counts the bytes the locator has looked at, for the test
	// that keeps its work linear.
	scanned int
}

func newLocator(data []byte, baseLine int) *locator {
	return &locator{data: data, baseLine: baseLine, line: 1, lineHi: -1}
}

// cacheLine caches the line holding off.
func (l *locator) cacheLine(off int) {
	if l.lineHi >= 0 && off >= l.lineLo && off <= l.lineHi {
		return
	}
	start := bytes.LastIndexByte(l.data[:off], '\n') + 1
	end := bytes.IndexByte(l.data[off:], '\n')
	if end < 0 {
		end = len(l.data)
	} else {
		end += off
	}
	l.lineLo, l.lineHi = start, end
	l.scanned += end - start
	l.lineAllowed = bytes.Contains(l.data[start:end], []byte(AllowMarker))
	l.colOff, l.col = start, 1
}

// lineOf returns the 1-based line of offset off and the offset where that
// line starts. The cursor moves from the last offset asked, so offsets that
// mostly ascend cost one pass over the buffer.
func (l *locator) lineOf(off int) (int, int) {
	if off < l.at {
		l.line -= bytes.Count(l.data[off:l.at], []byte{'\n'})
		l.scanned += l.at - off
	} else {
		l.line += bytes.Count(l.data[l.at:off], []byte{'\n'})
		l.scanned += off - l.at
	}
	l.at = off
	l.cacheLine(off)
	return l.baseLine + l.line, l.lineLo
}

// position returns the line and code-point column of off.
func (l *locator) position(off int) (int, int) {
	line, start := l.lineOf(off)
	if off < l.colOff {
		l.colOff, l.col = start, 1
	}
	l.col += utf8.RuneCount(l.data[l.colOff:off])
	l.scanned += off - l.colOff
	l.colOff = off
	return line, l.col
}

// allowed reports whether the line holding off carries the allow marker.
func (l *locator) allowed(off int) bool {
	l.cacheLine(off)
	return l.lineAllowed
}

// findings converts matches (ordered by Start) into findings at file/path,
// and those on a line marked gemscan:allow into allowed, to be shown as
// suppressed.
func (l *locator) findings(ms []rules.Match, file, path string) (out, allowed []Finding) {
	for _, m := range ms {
		f := Finding{Rule: m.Rule, File: file, Path: path, Value: m.Value,
			Encoding: m.Encoding, Confidence: m.Confidence}
		f.Line, f.Column = l.position(m.Start)
		f.EndLine, f.EndColumn = l.position(m.End)
		if len(m.Secrets) > 0 {
			f.SecretLine, _ = l.lineOf(m.Secrets[0].Start)
			for _, s := range m.Secrets {
				f.Secrets = append(f.Secrets, s.Value)
			}
		}
		if l.allowed(m.Start) || len(m.Secrets) > 0 && l.allowed(m.Secrets[0].Start) {
			allowed = append(allowed, f)
			continue
		}
		out = append(out, f)
	}
	return out, allowed
}

// textOf returns data as the UTF-8 text to scan: UTF-16 with a byte-order
// mark (PowerShell scripts, .reg files, some Windows configs) is transcoded,
// whatever its length (a stray odd byte at the end must not turn a file
// into "binary"), other data is returned as is: binary data (a NUL byte
// in its first 8 KiB) is scanned raw, keys in it being ASCII runs, unless
// scanBinary is false (--skip-binary); ok is false for skipped binary data.
func textOf(data []byte, scanBinary bool) (text []byte, ok bool) {
	if little, ok := utf16BOM(data); ok {
		return decodeUTF16(nil, data[2:], little), true
	}
	if !scanBinary && bytes.IndexByte(data[:min(len(data), binarySniff)], 0) >= 0 {
		return nil, false
	}
	return data, true
}

// Text returns data as the UTF-8 text the scanner reads: UTF-16 with a
// byte-order mark transcoded (whatever its length), anything else as it
// is; with skipBinary, data that looks binary is refused (ok false). Other
// packages that read blobs themselves use it to judge them the same way.
func Text(data []byte, skipBinary bool) (text []byte, ok bool) { return textOf(data, !skipBinary) }

// utf16BOM reports whether data starts with a UTF-16 byte-order mark, and
// which one.
func utf16BOM(data []byte) (little, ok bool) {
	if len(data) < 2 {
		return false, false
	}
	switch {
	case data[0] == 0xff && data[1] == 0xfe:
		return true, true
	case data[0] == 0xfe && data[1] == 0xff:
		return false, true
	}
	return false, false
}

// decodeUTF16 appends to out the UTF-8 of the UTF-16 code units in data (no
// byte-order mark); a trailing odd byte is dropped.
func decodeUTF16(out, data []byte, little bool) []byte {
	units := make([]uint16, 0, len(data)/2)
	for i := 0; i+1 < len(data); i += 2 {
		if little {
			units = append(units, uint16(data[i])|uint16(data[i+1])<<8)
		} else {
			units = append(units, uint16(data[i])<<8|uint16(data[i+1]))
		}
	}
	for _, r := range utf16.Decode(units) {
		out = utf8.AppendRune(out, r)
	}
	return out
}

// ScanBytes returns the findings in data, reported at file (display path)
// and path (scan-root-relative path), and those a gemscan:allow line
// suppresses.
func ScanBytes(det *rules.Detector, data []byte, file, path string) (findings, allowed []Finding) {
	ms := det.Detect(data)
	if len(ms) == 0 {
		return nil, nil
	}
	return newLocator(data, 0).findings(ms, file, path)
}

// MaxFindingsPerFile caps the distinct credentials one file or stream
// reports. Repeats of a reported credential in the same file are folded into
// it and cost nothing; past the cap, matches are only counted and the scan
// ends in an error, since unlisted credentials were neither shown nor
// verified.
const MaxFindingsPerFile = 1000

// findingSet collects one file's or stream's findings in bounded memory:
// the first occurrence of each credential (rule, value and paired secrets),
// at most MaxFindingsPerFile of them.
type findingSet struct {
	list    []Finding
	allowed []Finding // suppressed by gemscan:allow, folded and capped alike
	seen    map[string]struct{}
	repeats int64 // occurrences of a credential already in list
	over    int64 // matches past the cap, not kept
}

// add keeps the findings of fs and allowed that are new.
func (s *findingSet) add(fs, allowed []Finding) {
	for _, f := range fs {
		if s.keep(f, "", len(s.list)) {
			s.list = append(s.list, f)
		}
	}
	for _, f := range allowed {
		if s.keep(f, "allowed\x00", len(s.allowed)) {
			s.allowed = append(s.allowed, f)
		}
	}
}

// keep reports whether f is new to the set and fits under the cap (n kept
// so far), counting repeats and what the cap drops. A credential is the same
// one when its rule, value, secrets and path (an archive's member) are.
func (s *findingSet) keep(f Finding, kind string, n int) bool {
	k := kind + f.Rule + "\x00" + f.Value + "\x00" + strings.Join(f.Secrets, "\x00") + "\x00" + f.Path
	if _, ok := s.seen[k]; ok {
		s.repeats++
		return false
	}
	if n >= MaxFindingsPerFile {
		s.over++
		return false
	}
	if s.seen == nil {
		s.seen = make(map[string]struct{})
	}
	s.seen[k] = struct{}{}
	return true
}

// capErr is the error for matches dropped past the cap, nil if none were.
func (s *findingSet) capErr(file string) error {
	if s.over == 0 {
		return nil
	}
	return fmt.Errorf("%s: more than %d distinct credentials; %d further %s not reported "+
		"(the scan is incomplete: suppress known fixtures or split the input)",
		file, MaxFindingsPerFile, s.over, plural(s.over, "match was", "matches were"))
}

// plural picks the singular or plural form for n.
func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// repeatsNote is the note for repeats folded into earlier findings.
func repeatsNote(n int64) string {
	return fmt.Sprintf("%d further %s of credentials already reported in the same file %s not listed again",
		n, plural(n, "occurrence", "occurrences"), plural(n, "is", "are"))
}

// findingBatch is how many matches are turned into findings at a time, so
// that repeats are folded before many findings pile up.
const findingBatch = 1024

// scanText scans one file's text into a findingSet.
func scanText(det *rules.Detector, text []byte, file, path string) *findingSet {
	var s findingSet
	ms := det.Detect(text)
	loc := newLocator(text, 0)
	for len(ms) > 0 {
		n := min(len(ms), findingBatch)
		s.add(loc.findings(ms[:n], file, path))
		ms = ms[n:]
	}
	return &s
}

// ScanReader scans r in overlapping chunks, so memory stays bounded however
// long the input is, and returns what it found as the result of one file:
// findings (repeats folded, at most MaxFindingsPerFile), bytes read, and
// every error, with the findings made before it. ctx is checked before each
// read, and a read that blocks (an idle pipe or terminal) is abandoned when
// ctx is done: what was read so far is still scanned.
func ScanReader(ctx context.Context, det *rules.Detector, r io.Reader, file, path string) *Result {
	set, n, err := scanStream(ctx, det, r, file, path)
	res := &Result{Findings: set.list}
	res.Suppressed.Add(ReasonAllow, "", set.allowed...)
	st := &res.Stats
	st.Files, st.Bytes, st.Repeats = 1, n, set.repeats
	if set.repeats > 0 {
		st.Notes = append(st.Notes, repeatsNote(set.repeats))
	}
	if err != nil {
		res.Errors = append(res.Errors, err)
	}
	if err := set.capErr(file); err != nil {
		res.Errors = append(res.Errors, err)
	}
	return res
}

// scanStream is ScanReader's scan: the findings, the bytes read and the
// read error, if any.
func scanStream(ctx context.Context, det *rules.Detector, r io.Reader, file, path string) (*findingSet, int64, error) {
	var set findingSet
	n, err := scanChunks(ctx, det, &bomReader{r: r}, file, chunkSize, chunkOverlap, func(data []byte, baseLine int, ms []rules.Match) {
		loc := newLocator(data, baseLine)
		for len(ms) > 0 {
			n := min(len(ms), findingBatch)
			set.add(loc.findings(ms[:n], file, path))
			ms = ms[n:]
		}
	})
	return &set, n, err
}

// bomReader reads a stream as text: UTF-16 with a byte-order mark is
// transcoded to UTF-8 (scanned raw, its NULs between letters would hide
// every key), anything else passes unchanged.
type bomReader struct {
	r       io.Reader
	decided bool
}

func (b *bomReader) Read(p []byte) (int, error) {
	if b.decided || len(p) < 2 {
		return b.r.Read(p)
	}
	// The first read goes straight into p, as if unwrapped.
	b.decided = true
	n, err := b.r.Read(p)
	if n == 1 && err == nil {
		var m int
		m, err = io.ReadFull(b.r, p[1:2])
		n += m
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = io.EOF
		}
	}
	little, ok := utf16BOM(p[:n])
	if !ok {
		return n, err
	}
	head := append([]byte(nil), p[:n]...)
	rest := b.r
	if err != nil {
		rest = eofReader{err: err}
	}
	b.r = newUTF16Reader(io.MultiReader(bytes.NewReader(head), rest), little)
	return b.r.Read(p)
}

// eofReader ends a stream with err (io.EOF when the stream just ended).
type eofReader struct{ err error }

func (e eofReader) Read([]byte) (int, error) { return 0, e.err }

// utf16Reader transcodes UTF-16 with a byte-order mark into UTF-8 as it is
// read, for files too large to transcode whole.
type utf16Reader struct {
	r       io.Reader
	little  bool
	bomDone bool
	eof     bool
	raw     []byte // read buffer
	in      []byte // undecoded input: an odd byte or a pair's first half
	buf     []byte // decoded text
	out     []byte // the part of buf not yet returned
}

func newUTF16Reader(r io.Reader, little bool) *utf16Reader {
	return &utf16Reader{r: r, little: little, raw: make([]byte, 64<<10)}
}

func (u *utf16Reader) Read(p []byte) (int, error) {
	for len(u.out) == 0 {
		if u.eof && len(u.in) == 0 {
			return 0, io.EOF
		}
		if !u.eof {
			n, err := u.r.Read(u.raw)
			u.in = append(u.in, u.raw[:n]...)
			if err != nil {
				if !errors.Is(err, io.EOF) {
					return 0, err
				}
				u.eof = true
			}
		}
		if !u.bomDone {
			if len(u.in) < 2 && !u.eof {
				continue
			}
			u.in = u.in[min(2, len(u.in)):]
			u.bomDone = true
		}
		// Keep a trailing odd byte, and a high surrogate whose pair may
		// follow, for the next read; at the end decode everything.
		keep := 0
		if !u.eof {
			keep = len(u.in) % 2
			if last := len(u.in) - keep - 2; last >= 0 {
				if w := u.unit(u.in[last:]); w >= 0xd800 && w < 0xdc00 {
					keep += 2
				}
			}
		}
		u.buf = decodeUTF16(u.buf[:0], u.in[:len(u.in)-keep], u.little)
		u.out = u.buf
		u.in = append(u.in[:0], u.in[len(u.in)-keep:]...)
	}
	n := copy(p, u.out)
	u.out = u.out[n:]
	return n, nil
}

func (u *utf16Reader) unit(b []byte) uint16 {
	if u.little {
		return uint16(b[0]) | uint16(b[1])<<8
	}
	return uint16(b[0])<<8 | uint16(b[1])
}

// maxEmptyReads is how many reads in a row may return nothing before a
// reader is taken to be broken (io.ErrNoProgress).
const maxEmptyReads = 100

// scanChunks reads r in chunks of size bytes, each overlapping the next by
// overlap (even, well below size), and hands each chunk's matches, with the
// lines before the chunk, to found. It returns the bytes read and the read
// error, if any, wrapped with file; an interrupted scan still hands over the
// matches of the data read before ctx was done.
func scanChunks(ctx context.Context, det *rules.Detector, r io.Reader, file string, size, overlap int,
	found func(data []byte, baseLine int, ms []rules.Match)) (int64, error) {
	rd := startReads(ctx, r)
	defer rd.stop()
	buf := make([]byte, 0, size)
	var total int64
	baseLine := 0 // newlines before buf[0]
	first := true
	for {
		var err error
		for empty := 0; len(buf) < cap(buf) && err == nil; {
			var n int
			n, err = rd.read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			total += int64(n)
			if empty++; n > 0 {
				empty = 0
			} else if err == nil && empty >= maxEmptyReads {
				err = io.ErrNoProgress
			}
		}
		last := err != nil
		var readErr error
		switch {
		case err == nil, errors.Is(err, io.EOF):
		case ctx.Err() != nil && errors.Is(err, ctx.Err()):
			readErr = fmt.Errorf("read %s: interrupted after %d bytes: %w", file, total, err)
		default:
			// Scan what was read before the error, then report it.
			readErr = fmt.Errorf("read %s: %w", file, err)
		}
		lo, hi := 0, len(buf)
		if !first {
			lo = overlap / 2
		}
		if !last {
			hi = len(buf) - overlap/2
		}
		var ms []rules.Match
		for _, m := range det.Detect(buf) {
			if m.Start >= lo && m.Start < hi {
				ms = append(ms, m)
			}
		}
		if len(ms) > 0 {
			found(buf, baseLine, ms)
		}
		if last {
			return total, readErr
		}
		// Keep the overlap for the next chunk.
		keep := len(buf) - overlap
		baseLine += bytes.Count(buf[:keep], []byte{'\n'})
		copy(buf, buf[keep:])
		buf = buf[:overlap]
		first = false
	}
}

// asyncReads runs the reads of one reader on a goroutine of its own, so
// that a read blocked on an idle pipe cannot hold the scan past ctx.
type asyncReads struct {
	ctx     context.Context
	reqs    chan []byte
	results chan readResult
	done    chan struct{}
}

type readResult struct {
	n   int
	err error
}

func startReads(ctx context.Context, r io.Reader) *asyncReads {
	a := &asyncReads{ctx: ctx, reqs: make(chan []byte), results: make(chan readResult, 1), done: make(chan struct{})}
	go func() {
		for {
			select {
			case <-a.done:
				return
			case p := <-a.reqs:
				n, err := r.Read(p)
				a.results <- readResult{n, err} // buffered: never blocks
			}
		}
	}()
	return a
}

// read reads once into p, or returns ctx's error as soon as ctx is done. A
// read abandoned that way may still write into p afterwards: the caller
// must not reuse p, and no read may follow.
func (a *asyncReads) read(p []byte) (int, error) {
	if err := a.ctx.Err(); err != nil {
		return 0, err
	}
	select {
	case a.reqs <- p:
	case <-a.ctx.Done():
		return 0, a.ctx.Err()
	}
	select {
	case res := <-a.results:
		return res.n, res.err
	case <-a.ctx.Done():
		select {
		case res := <-a.results: // done as ctx was: keep what it read
			return res.n, res.err
		default:
			return 0, a.ctx.Err()
		}
	}
}

// stop ends the reading goroutine once its current read, if any, returns:
// a read blocked for good (a pipe whose writer never closes it) keeps it
// until the process exits.
func (a *asyncReads) stop() { close(a.done) }

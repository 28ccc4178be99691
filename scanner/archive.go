package scanner

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gemscan-dev/gemscan/internal/archive"
	"github.com/gemscan-dev/gemscan/internal/odb"
	"github.com/gemscan-dev/gemscan/rules"
)

// This file turns archives — zip, jar, apk, wheels, Office documents, tar,
// gzip, bzip2, zstd, xz — into findings in every mode: each member is run
// through the rules and located as "archive!member" (nested archives chain
// "!"), its line counted in the member. Binary members (resources.arsc,
// .class, .dex) are scanned for their printable runs, ASCII and UTF-16LE.

// memberBuffer is the largest member read whole; larger ones are streamed.
const memberBuffer = 8 << 20

// archiveLimits returns the archive limits opts ask for.
func (o *Options) archiveLimits() archive.Limits {
	lim := archive.DefaultLimits()
	switch {
	case o.MaxArchiveDepth < 0:
		lim.MaxDepth = 0
	case o.MaxArchiveDepth > 0:
		lim.MaxDepth = o.MaxArchiveDepth
	}
	return lim
}

// isArchive reports whether data, from its first bytes, is an archive to
// open. It looks at a fixed few bytes: files that are not archives cost
// nothing more.
func (o *Options) isArchive(data []byte) bool {
	return o.MaxArchiveDepth >= 0 && archive.Detect(data[:min(len(data), archive.SniffLen)]) != archive.None
}

// archiveScan is what scanning one archive found.
type archiveScan struct {
	findings []Finding
	allowed  []Finding // on gemscan:allow lines
	stats    archive.Stats
	tooLarge int64    // members over the size limit, not (wholly) scanned
	notes    []string // the scanner's own, merged into stats.Notes by walk
	err      error
}

// walk records what archive.Walk or WalkReader returned.
func (a *archiveScan) walk(st archive.Stats, err error) {
	a.stats, a.err = st, err
	a.stats.Notes = append(a.stats.Notes, a.notes...)
}

// scanArchive scans the members of the archive in r (size bytes), found at
// file (display path) and path (root-relative path); each finding's File
// and Path are those with the member's chain appended.
func scanArchive(ctx context.Context, det *rules.Detector, r io.ReaderAt, size int64, file, path string, opts *Options) archiveScan {
	var a archiveScan
	a.walk(archive.Walk(ctx, file, r, size, opts.archiveLimits(), a.member(ctx, det, file, path, opts.MaxFileSize)))
	return a
}

// member returns the callback that scans one member of an archive walked
// under the name file. Members are held to the file size limit (maxSize,
// 0 for none) as files are: one that declares a larger size is skipped,
// one of unknown size (a compressed stream) is scanned up to the limit.
func (a *archiveScan) member(ctx context.Context, det *rules.Detector, file, path string, maxSize int64) func(archive.Member) error {
	return func(m archive.Member) error {
		if maxSize > 0 && m.Size > maxSize {
			a.tooLarge++
			return nil
		}
		r := m.Reader
		if maxSize > 0 {
			r = io.LimitReader(m.Reader, maxSize)
		}
		chain := strings.TrimPrefix(m.Path, file)
		fs, allowed, err := scanMember(ctx, det, r, file+chain, path+chain)
		if member := strings.TrimPrefix(chain, "!"); chain != "" {
			for i := range fs {
				fs[i].Member = member
			}
			for i := range allowed {
				allowed[i].Member = member
			}
		}
		a.findings = append(a.findings, fs...)
		a.allowed = append(a.allowed, allowed...)
		if err != nil || maxSize <= 0 {
			return err
		}
		var one [1]byte
		if _, err := io.ReadFull(m.Reader, one[:]); err == nil {
			a.tooLarge++
			a.notes = append(a.notes, fmt.Sprintf(
				"%s: only the first %d bytes were scanned: it is larger than the file size limit", m.Path, maxSize))
		} else if !errors.Is(err, io.EOF) {
			return err
		}
		return nil
	}
}

// scanMember scans one member's content: text as text (UTF-16 with a
// byte-order mark transcoded), anything else for its printable runs. Text
// with a NUL past its first binarySniff bytes is read both ways, from that
// NUL on when the member is too large to hold (see printableSide).
func scanMember(ctx context.Context, det *rules.Detector, r io.Reader, file, path string) (fs, allowed []Finding, err error) {
	buf, err := io.ReadAll(io.LimitReader(r, memberBuffer+1))
	if err != nil {
		return nil, nil, err // the archive's walk names the member
	}
	if len(buf) <= memberBuffer {
		text, ok := textOf(buf, false)
		if !ok {
			text = archive.Printable(buf)
		}
		fs, allowed = ScanBytes(det, text, file, path)
		if ok && bytes.IndexByte(buf, 0) >= 0 {
			// Read as text, its head holding no NUL, yet a NUL further on:
			// binary after all (a resource table, a .dex), where a UTF-16
			// string reads as "A\x00I\x00z\x00…". Its printable runs are
			// scanned too, for what the text did not show.
			more, moreAllowed := ScanBytes(det, archive.Printable(buf), file, path)
			fs, allowed = addUnseen(fs, more), addUnseen(allowed, moreAllowed)
		}
		return fs, allowed, nil
	}
	var rest io.Reader = io.MultiReader(bytes.NewReader(buf), r)
	var side *printableSide
	if bytes.IndexByte(buf[:binarySniff], 0) >= 0 {
		// Binary, or UTF-16 (which the printable runs read too).
		rest = archive.NewPrintableReader(rest)
	} else {
		// Text so far; a NUL further on starts a scan of its printable
		// runs beside the text's.
		side = &printableSide{ctx: ctx, det: det, file: file, path: path, r: rest}
		rest = side
	}
	set, _, err := scanStream(ctx, det, rest, file, path)
	if err == nil {
		err = set.capErr(file)
	}
	fs, allowed = set.list, set.allowed
	if more, serr := side.finish(err); more != nil {
		fs, allowed = addUnseen(fs, more.list), addUnseen(allowed, more.allowed)
		if err == nil {
			err = serr
		}
		if err == nil {
			err = more.capErr(file)
		}
	}
	if u := errors.Unwrap(err); u != nil {
		err = u // "read FILE: …": the archive's walk names the member
	}
	return fs, allowed, err
}

// lateCarry is how many bytes before a streamed member's first NUL its
// printable scan starts with: the start of a UTF-16 string (one byte),
// and context for what follows.
const lateCarry = 4 << 10

// printableSide passes a streamed member, read as text, through to the
// text scan and, once a NUL byte shows (binary after all: a UTF-16 string
// there reads as "A\x00I\x00z\x00…", which the text scan misses), also to
// a scan of its printable runs on a goroutine of its own, from lateCarry
// bytes before that NUL; its lines are counted from there. The two scans
// read in step through a pipe, so memory stays bounded.
type printableSide struct {
	ctx        context.Context
	det        *rules.Detector
	file, path string
	r          io.Reader

	mu       sync.Mutex // feed may run on a read the text scan abandoned
	tail     []byte     // the last lateCarry bytes, until a NUL shows
	pw       *io.PipeWriter
	finished bool
	done     chan struct{}
	set      *findingSet // the printable scan's, once done is closed
	err      error
}

// Read reads for the text scan.
func (s *printableSide) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.feed(p[:n])
	}
	return n, err
}

// feed passes b to the printable scan, starting it at the first NUL. A
// failed write means that scan ended early: finish reports why.
func (s *printableSide) feed(b []byte) {
	s.mu.Lock()
	if s.finished {
		s.mu.Unlock()
		return
	}
	pw := s.pw
	var head []byte
	if pw == nil {
		if bytes.IndexByte(b, 0) < 0 {
			s.keep(b)
			s.mu.Unlock()
			return
		}
		pw = s.start()
		head = s.tail
		s.tail = nil
	}
	s.mu.Unlock()
	if _, err := pw.Write(head); err == nil {
		pw.Write(b) //nolint:errcheck // the scan's own error is finish's
	}
}

// keep keeps the last lateCarry bytes of what was read, b included.
func (s *printableSide) keep(b []byte) {
	if len(b) >= lateCarry {
		s.tail = append(s.tail[:0], b[len(b)-lateCarry:]...)
		return
	}
	if len(s.tail)+len(b) > 2*lateCarry {
		s.tail = s.tail[:copy(s.tail, s.tail[len(s.tail)-lateCarry:])]
	}
	s.tail = append(s.tail, b...)
}

// start starts the printable scan, reading from the pipe it returns.
func (s *printableSide) start() *io.PipeWriter {
	pr, pw := io.Pipe()
	s.pw, s.done = pw, make(chan struct{})
	go func() {
		defer close(s.done)
		s.set, _, s.err = scanStream(s.ctx, s.det, archive.NewPrintableReader(pr), s.file, s.path)
		pr.CloseWithError(errSideEnded) // a write after this fails, never blocks
	}()
	return pw
}

// errSideEnded is what a write to a printable scan that ended gets.
var errSideEnded = errors.New("the scan of printable runs ended")

// finish ends the printable scan once the text scan has ended with
// textErr, waits for it, and returns its findings (nil if no NUL showed)
// and error. s may be nil.
func (s *printableSide) finish(textErr error) (*findingSet, error) {
	if s == nil {
		return nil, nil
	}
	s.mu.Lock()
	s.finished = true
	pw := s.pw
	s.mu.Unlock()
	if pw == nil {
		return nil, nil
	}
	pw.CloseWithError(textErr) // nil: the printable scan reads to EOF
	<-s.done
	return s.set, s.err
}

// addUnseen appends to fs the findings of more whose rule and value fs
// does not hold.
func addUnseen(fs, more []Finding) []Finding {
	type key struct{ rule, value string }
	seen := map[key]bool{}
	for _, f := range fs {
		seen[key{f.Rule, f.Value}] = true
	}
	for _, f := range more {
		if k := (key{f.Rule, f.Value}); !seen[k] {
			seen[k] = true
			fs = append(fs, f)
		}
	}
	return fs
}

// addNotes adds notes to a stats' notes, keeping them sorted so that
// concurrent workers still give one order.
func addNotes(s *Stats, notes []string) {
	for _, n := range notes {
		i := sort.SearchStrings(s.Notes, n)
		s.Notes = slices.Insert(s.Notes, i, n)
	}
}

// scanArchiveFile scans the file of job j, whose content r holds, as an
// archive if its first bytes (head) say it is one; it reports whether it
// did.
func scanArchiveFile(ctx context.Context, det *rules.Detector, r io.ReaderAt, size int64, head []byte, j fileJob, opts *Options, col *collector) bool {
	if !opts.isArchive(head) {
		return false
	}
	a := scanArchive(ctx, det, r, size, j.file, j.path, opts)
	col.count(func(s *Stats) {
		s.Archives += a.stats.Archives
		s.Members += a.stats.Members
		s.TooLarge += a.tooLarge
		addNotes(s, a.stats.Notes)
	})
	var set findingSet
	set.add(a.findings, a.allowed)
	err := a.err
	if err == nil {
		err = set.capErr(j.file)
	}
	set.over = 0 // reported just above, or moot after an error
	col.addFile(j, &set, size, err)
	return true
}

// scanLargeArchive is scanArchiveFile for a file too large to be read
// whole: its members are read from the file at random. It reads the
// file's first bytes itself, wherever the file's offset is.
func scanLargeArchive(ctx context.Context, det *rules.Detector, f *os.File, j fileJob, opts *Options, col *collector) bool {
	head := make([]byte, archive.SniffLen)
	n, err := f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		col.addErr(fmt.Errorf("read %s: %w", j.file, err))
		return true
	}
	if !opts.isArchive(head[:n]) {
		return false
	}
	st, err := f.Stat()
	if err != nil {
		col.addErr(fmt.Errorf("read %s: %w", j.file, err))
		return true
	}
	return scanArchiveFile(ctx, det, f, st.Size(), head, j, opts, col)
}

// ScanStream scans a stream (standard input) named name to its end: an
// archive's members, or else its text in bounded memory.
func ScanStream(ctx context.Context, r io.Reader, name string, opts Options) *Result {
	start := time.Now()
	det := opts.detector()
	res := &Result{}
	// Reads that an interrupt abandons: sniffing an idle pipe must not hold
	// the scan.
	rd := startReads(ctx, r)
	defer rd.stop()
	cr := &countingReader{r: cancelableReader{rd}}
	br := bufio.NewReaderSize(cr, 4096)
	head, perr := br.Peek(archive.SniffLen)
	var rest io.Reader = br
	if perr != nil {
		// Peek hands the error over once (bufio forgets it): the stream is
		// what was peeked, then that error. Reading on would wait on a
		// terminal after its end-of-file.
		rest = io.MultiReader(bytes.NewReader(append([]byte(nil), head...)), eofReader{err: perr})
	}
	if perr != nil && ctx.Err() != nil {
		// Interrupted while the stream's first bytes were awaited: what
		// was read is still scanned and reported.
		if text, ok := textOf(head, true); ok {
			fs, allowed := ScanBytes(det, text, name, name)
			res.Findings = fs
			res.Suppressed.Add(ReasonAllow, "", allowed...)
		}
	} else if opts.isArchive(head) {
		var a archiveScan
		a.walk(archive.WalkReader(ctx, name, rest, opts.archiveLimits(), a.member(ctx, det, name, name, opts.MaxFileSize)))
		if a.err == nil {
			// Read what follows the archive: a pipe is read to its end.
			if _, err := io.Copy(io.Discard, rest); err != nil {
				a.err = fmt.Errorf("read %s: %w", name, err)
			}
		}
		res.Findings = a.findings
		res.Suppressed.Add(ReasonAllow, "", a.allowed...)
		res.Stats.Archives, res.Stats.Members = a.stats.Archives, a.stats.Members
		res.Stats.TooLarge = a.tooLarge
		addNotes(&res.Stats, a.stats.Notes)
		if a.err != nil {
			res.Errors = append(res.Errors, a.err)
		}
	} else {
		res = ScanReader(ctx, det, rest, name, name)
	}
	if err := ctx.Err(); err != nil && len(res.Errors) == 0 {
		res.Errors = append(res.Errors, fmt.Errorf("scan interrupted: %w", err))
	}
	res.Stats.Files, res.Stats.Bytes = 1, cr.n
	SortFindings(res.Findings)
	res.Stats.Duration = time.Since(start)
	return res
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// blobArchives gathers, during the git blob pass, what archive blobs held
// besides findings: counts, notes and errors, keyed by blob until the
// history says at which path each blob lives.
type blobArchives struct {
	mu       sync.Mutex
	archives int64
	members  int64
	tooLarge int64
	notes    map[plumbing.Hash][]string
	errs     map[plumbing.Hash]error
}

// scan scans blob b's data as an archive if it is one, returning its
// findings located within the blob ("!member…", with no path yet) and
// whether it was one.
func (ba *blobArchives) scan(ctx context.Context, det *rules.Detector, b plumbing.Hash, data []byte, opts *Options) (fs, allowed []Finding, ok bool) {
	if !opts.isArchive(data) {
		return nil, nil, false
	}
	a := scanArchive(ctx, det, bytes.NewReader(data), int64(len(data)), "", "", opts)
	ba.mu.Lock()
	defer ba.mu.Unlock()
	ba.archives += a.stats.Archives
	ba.members += a.stats.Members
	ba.tooLarge += a.tooLarge
	if len(a.stats.Notes) > 0 {
		if ba.notes == nil {
			ba.notes = map[plumbing.Hash][]string{}
		}
		ba.notes[b] = a.stats.Notes
	}
	if a.err != nil {
		if ba.errs == nil {
			ba.errs = map[plumbing.Hash]error{}
		}
		ba.errs[b] = a.err
	}
	return a.findings, a.allowed, true
}

// finish adds the archive counts, notes and errors to the history's result,
// naming each blob by the first path it was introduced at.
func (ba *blobArchives) finish(h *history) {
	h.res.Stats.Archives += ba.archives
	h.res.Stats.Members += ba.members
	h.res.Stats.TooLarge += ba.tooLarge
	if len(ba.notes) == 0 && len(ba.errs) == 0 {
		return
	}
	where := map[plumbing.Hash]string{}
	for _, in := range h.intros {
		if _, ok := where[in.blob]; !ok {
			where[in.blob] = h.paths.list[in.path]
		}
	}
	name := func(b plumbing.Hash) string {
		if p, ok := where[b]; ok {
			return p
		}
		return "blob " + b.String()
	}
	for b, notes := range ba.notes {
		for _, n := range notes {
			addNotes(&h.res.Stats, []string{name(b) + n})
		}
	}
	bs := make([]plumbing.Hash, 0, len(ba.errs))
	for b := range ba.errs {
		bs = append(bs, b)
	}
	slices.SortFunc(bs, func(x, y plumbing.Hash) int { return bytes.Compare(x[:], y[:]) })
	for _, b := range bs {
		h.res.Errors = append(h.res.Errors, &blobError{name(b), ba.errs[b]})
	}
}

// blobError names the path of an archive blob before an error met inside
// it, whose text starts with the member's chain ("!member: …") or with
// nothing (": gzip: …").
type blobError struct {
	path string
	err  error
}

func (e *blobError) Error() string {
	msg := e.err.Error()
	if strings.HasPrefix(msg, "!") || strings.HasPrefix(msg, ": ") {
		return e.path + msg
	}
	return e.path + ": " + msg
}

func (e *blobError) Unwrap() error { return e.err }

// scanArchive scans a staged blob that is an archive and adds its findings
// to res: all of them with allLines, else those whose credential at that
// member is not in the archive HEAD has at the path; ignored says that
// .gemscanignore hides the path. It reports whether data was an archive.
func (s *staged) scanArchive(res *Result, c change, data []byte, opts *Options, allLines, ignored bool) bool {
	if !opts.isArchive(data) {
		return false
	}
	det := opts.detector()
	ctx := context.TODO() // staged scans take no context yet
	a := scanArchive(ctx, det, bytes.NewReader(data), int64(len(data)), c.path, c.path, opts)
	res.Stats.Files++
	res.Stats.Archives += a.stats.Archives
	res.Stats.Members += a.stats.Members
	res.Stats.TooLarge += a.tooLarge
	addNotes(&res.Stats, a.stats.Notes)
	if a.err != nil {
		res.Errors = append(res.Errors, a.err)
	}
	keep := func(had map[credKeyAt]bool) {
		for _, f := range a.findings {
			if !had[credKeyAt{f.Rule, f.Value, f.Path}] {
				res.keep(f, ignored, false)
			}
		}
		for _, f := range a.allowed {
			if !had[credKeyAt{f.Rule, f.Value, f.Path}] {
				res.keep(f, ignored, true)
			}
		}
	}
	if allLines || c.old.IsZero() {
		keep(nil)
		return true
	}
	old, err := s.db.ReadType(c.old, odb.Blob)
	if err != nil {
		res.Errors = append(res.Errors, fmt.Errorf("read HEAD's %s: %w", c.path, err))
		return true
	}
	had := map[credKeyAt]bool{}
	if opts.isArchive(old) {
		// What HEAD's copy yields, even before an error, was there.
		o := scanArchive(ctx, det, bytes.NewReader(old), int64(len(old)), c.path, c.path, opts)
		for _, f := range append(o.findings, o.allowed...) {
			had[credKeyAt{f.Rule, f.Value, f.Path}] = true
		}
	}
	keep(had)
	return true
}

// credKeyAt identifies one credential at one path (members included).
type credKeyAt struct{ rule, value, path string }

// cancelableReader reads through asyncReads, each read into a buffer of its
// own (an abandoned read may still write into it).
type cancelableReader struct{ a *asyncReads }

func (c cancelableReader) Read(p []byte) (int, error) {
	buf := make([]byte, len(p))
	n, err := c.a.read(buf)
	copy(p, buf[:n])
	return n, err
}

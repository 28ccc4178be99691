// Package archive walks the members of archives and compressed files —
// zip (and .jar, .war, .apk, .aar, wheels, .nupkg, Office documents), tar,
// gzip, bzip2, zstd, xz and lzma — nested up to a depth limit, streaming each
// member to a callback without extracting anything to disk.
//
// Untrusted archives are bounded three ways: nesting depth, the bytes
// decompressed per outermost archive, and the ratio of those bytes to the
// archive's own size (zip bombs). Exceeding the last two is an error
// wrapping ErrLimit. What a walk cannot open (a nested archive past the
// depth limit, one too large to hold, a member compressed with a method it
// does not know) is not skipped quietly: the walk goes on with the rest and
// then returns an error wrapping ErrNotScanned, so the scan fails closed.
// Encrypted members are only noted: their content is not readable without
// a password.
package archive

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gemscan-dev/gemscan/internal/archive/xz"
)

// Format is a kind of archive or compressed stream.
type Format uint8

// Formats recognised by Detect.
const (
	None Format = iota
	Zip
	Tar
	Gzip
	Bzip2
	Zstd
	Xz
	Lzma
)

func (f Format) String() string {
	switch f {
	case Zip:
		return "zip"
	case Tar:
		return "tar"
	case Gzip:
		return "gzip"
	case Bzip2:
		return "bzip2"
	case Zstd:
		return "zstd"
	case Xz:
		return "xz"
	case Lzma:
		return "lzma"
	}
	return "none"
}

// SniffLen is how many leading bytes Detect needs to see every format: a
// tar header is 512 bytes, its checksum covering all of them.
const SniffLen = 512

// Detect names the format of data from its leading bytes (SniffLen of them
// suffice; fewer are fine for the formats whose magic fits). It looks at a
// fixed handful of bytes, so it costs the same on any input.
func Detect(head []byte) Format {
	switch {
	case len(head) >= 4 && head[0] == 'P' && head[1] == 'K' &&
		(head[2] == 3 && head[3] == 4 || head[2] == 5 && head[3] == 6 || head[2] == 7 && head[3] == 8):
		return Zip
	case len(head) >= 4 && head[0] == 0x1f && head[1] == 0x8b && head[2] == 8 && head[3]&0xe0 == 0:
		return Gzip
	case len(head) >= 10 && head[0] == 'B' && head[1] == 'Z' && head[2] == 'h' && head[3] >= '1' && head[3] <= '9' &&
		(string(head[4:10]) == "\x31\x41\x59\x26\x53\x59" || string(head[4:10]) == "\x17\x72\x45\x38\x50\x90"):
		return Bzip2
	case zstdMagic(head) || zstdSkippableFirst(head):
		return Zstd
	case len(head) >= 6 && string(head[:6]) == "\xfd7zXZ\x00":
		return Xz
	case len(head) >= 512 && string(head[257:262]) == "ustar" && tarChecksum(head[:512]):
		return Tar
	case len(head) > xz.AloneHeaderLen && head[xz.AloneHeaderLen] == 0 && xz.IsAlone(head[:xz.AloneHeaderLen+1]):
		// .lzma has no magic: its header is checked as xz checks it.
		return Lzma
	}
	return None
}

func zstdMagic(b []byte) bool {
	return len(b) >= 4 && b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd
}

// zstdSkippableFirst reports whether head starts with a zstd skippable
// frame (magic 0x184D2A50 to 0x184D2A5F, little-endian), as pzstd writes
// before every frame, followed by a zstd frame when head reaches that far.
func zstdSkippableFirst(head []byte) bool {
	if len(head) < 8 || head[0]&0xf0 != 0x50 || head[1] != 0x2a || head[2] != 0x4d || head[3] != 0x18 {
		return false
	}
	next := 8 + int64(binary.LittleEndian.Uint32(head[4:8]))
	if next+4 > int64(len(head)) {
		return true // the decoder judges what follows
	}
	return zstdMagic(head[next:])
}

// tarChecksum reports whether a tar header's checksum field (octal, at
// 148) matches the sum of its bytes, the field counted as spaces: a text
// file with "ustar" at offset 257 is not taken for a tarball.
func tarChecksum(h []byte) bool {
	field := bytes.TrimLeft(h[148:156], " ")
	if end := bytes.IndexAny(field, " \x00"); end >= 0 {
		field = field[:end]
	}
	if len(field) == 0 {
		return false
	}
	var want int64
	for _, c := range field {
		if c < '0' || c > '7' {
			return false
		}
		want = want*8 + int64(c-'0')
	}
	// Some writers sum signed bytes; archive/tar accepts either.
	var unsigned, signed int64
	for i, c := range h {
		if i >= 148 && i < 156 {
			c = ' '
		}
		unsigned += int64(c)
		signed += int64(int8(c))
	}
	return want == unsigned || want == signed
}

// Limits bound the work one outermost archive may cause.
type Limits struct {
	// MaxDepth is how many levels of archives are opened: 1 opens the
	// outermost archive only; 0 opens none.
	MaxDepth int
	// MaxExpanded bounds the bytes decompressed for one outermost archive,
	// counting every nested level: the work, not the memory, which stays
	// bounded by MaxBuffer per level whatever the archive holds.
	MaxExpanded int64
	// MaxRatio bounds decompressed bytes per byte of the outermost
	// archive, once more than RatioFloor bytes have been decompressed.
	MaxRatio   int64
	RatioFloor int64
	// MaxBuffer bounds a nested archive that must be held in memory to be
	// read (zip needs random access).
	MaxBuffer int64
}

// Default limits.
const (
	DefaultMaxDepth    = 3
	DefaultMaxExpanded = 1 << 30
	DefaultMaxRatio    = 1000
	DefaultRatioFloor  = 16 << 20
	DefaultMaxBuffer   = 32 << 20
	// MaxXzDict bounds the dictionary an xz or lzma stream (and the
	// window a zstd frame) may ask for (xz -9 uses 64 MiB); the decoder's
	// memory grows up to it.
	MaxXzDict = 64 << 20
)

// DefaultLimits returns the limits used unless a caller chooses others.
func DefaultLimits() Limits {
	return Limits{MaxDepth: DefaultMaxDepth, MaxExpanded: DefaultMaxExpanded, MaxRatio: DefaultMaxRatio,
		RatioFloor: DefaultRatioFloor, MaxBuffer: DefaultMaxBuffer}
}

// ErrLimit is wrapped by the errors of archives that exceed MaxExpanded or
// MaxRatio.
var ErrLimit = errors.New("archive limit exceeded (a decompression bomb?)")

// ErrNotScanned is wrapped by the error a walk returns when part of an
// archive could not be opened (too deeply nested, too large to hold, an
// unknown compression method): the rest was walked, that part was not.
var ErrNotScanned = errors.New("part of the archive was not scanned")

// Member is one file inside an archive.
type Member struct {
	// Path is the archive's name, "!", and the member's name within it;
	// a member of a nested archive chains "!" again:
	// "dist/app.war!WEB-INF/lib/core.jar!config.properties". A compressed
	// single file (.gz, .bz2, .zst, .xz) that holds no archive is its own
	// member: its Path is the file's name.
	Path string
	// Reader yields the member's content; it is valid only during the call.
	Reader io.Reader
	// Size is the member's declared size, -1 when unknown.
	Size int64
}

// Stats count what a walk opened.
type Stats struct {
	Archives int64 // archives opened, nested ones included
	Members  int64 // members handed to the callback
	// Notes are members that were not read, and why.
	Notes []string
}

// Walk opens the archive held in r (size bytes), whose name starts every
// member's Path, and calls fn with each member that is not itself an
// archive, nested archives being opened up to lim.MaxDepth. An error from
// fn ends the walk and is returned. Walk returns an error if r does not
// hold an archive (see Detect).
func Walk(ctx context.Context, name string, r io.ReaderAt, size int64, lim Limits, fn func(Member) error) (Stats, error) {
	w := &walker{ctx: ctx, lim: lim, fn: fn, input: size}
	head := make([]byte, min(size, SniffLen))
	if _, err := r.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return w.st, fmt.Errorf("read %s: %w", name, err)
	}
	f := Detect(head)
	if f == None {
		return w.st, fmt.Errorf("%s: not an archive", name)
	}
	if lim.MaxDepth < 1 {
		return w.st, nil
	}
	w.st.Archives++
	err := w.openAt(name, f, r, size, 1)
	return w.st, w.end(err)
}

// MaxStreamHold bounds a zip stream that WalkReader must hold in memory
// to read.
const MaxStreamHold = 256 << 20

// WalkReader is Walk for a stream (standard input): a zip, which needs
// random access, is held in memory, up to MaxStreamHold bytes.
func WalkReader(ctx context.Context, name string, r io.Reader, lim Limits, fn func(Member) error) (Stats, error) {
	w := &walker{ctx: ctx, lim: lim, fn: fn}
	br := bufio.NewReader(&inputCounter{r: r, w: w})
	head, err := br.Peek(SniffLen)
	if err != nil && !errors.Is(err, io.EOF) {
		return w.st, fmt.Errorf("read %s: %w", name, err)
	}
	f := Detect(head)
	if f == None {
		return w.st, fmt.Errorf("%s: not an archive", name)
	}
	if lim.MaxDepth < 1 {
		return w.st, nil
	}
	w.st.Archives++
	if f == Zip {
		data, err := readBounded(br, MaxStreamHold)
		if err != nil {
			return w.st, fmt.Errorf("read %s: %w", name, err)
		}
		if data == nil {
			return w.st, fmt.Errorf("%s: %w: a %s stream over %d bytes cannot be held in memory to be read (save it to a file)",
				name, ErrLimit, f, MaxStreamHold)
		}
		return w.st, w.end(w.openAt(name, f, bytes.NewReader(data), int64(len(data)), 1))
	}
	return w.st, w.end(w.openStream(name, f, br, 1))
}

type walker struct {
	ctx      context.Context
	lim      Limits
	fn       func(Member) error
	st       Stats
	expanded int64 // bytes decompressed so far
	input    int64 // bytes of the outermost archive (read so far, for a stream)
	unopened error // the first part not opened (ErrNotScanned), returned at the end
}

// check enforces MaxExpanded and MaxRatio.
func (w *walker) check() error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	if w.lim.MaxExpanded > 0 && w.expanded > w.lim.MaxExpanded {
		return fmt.Errorf("%w: more than %d bytes decompressed", ErrLimit, w.lim.MaxExpanded)
	}
	if w.lim.MaxRatio > 0 && w.expanded > w.lim.RatioFloor && w.expanded > w.lim.MaxRatio*max(w.input, 1) {
		return fmt.Errorf("%w: %d bytes decompressed from %d, a ratio over %d", ErrLimit, w.expanded, w.input, w.lim.MaxRatio)
	}
	return nil
}

func (w *walker) note(format string, args ...any) {
	w.st.Notes = append(w.st.Notes, fmt.Sprintf(format, args...))
}

// notOpened notes a part of the archive the walk cannot open and keeps the
// first such as the walk's error, returned once the rest is walked.
func (w *walker) notOpened(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	w.st.Notes = append(w.st.Notes, msg)
	if w.unopened == nil {
		w.unopened = fmt.Errorf("%s: %w", msg, ErrNotScanned)
	}
}

// end is the walk's error: err, or else the first part not opened.
func (w *walker) end(err error) error {
	if err == nil {
		err = w.unopened
	}
	return err
}

// expanding counts the bytes a decompressor yields against the limits.
type expanding struct {
	r io.Reader
	w *walker
}

func (e *expanding) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.w.expanded += int64(n)
	if cerr := e.w.check(); cerr != nil {
		return n, cerr
	}
	return n, err
}

// inputCounter counts the bytes of a streamed outermost archive.
type inputCounter struct {
	r io.Reader
	w *walker
}

func (c *inputCounter) Read(p []byte) (int, error) {
	if err := c.w.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	c.w.input += int64(n)
	return n, err
}

// readBounded reads r to its end, or returns nil data if it holds more than
// limit bytes.
func readBounded(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, nil
	}
	return data, nil
}

// openAt opens an archive that can be read at random.
func (w *walker) openAt(path string, f Format, r io.ReaderAt, size int64, depth int) error {
	switch f {
	case Zip:
		return w.zip(path, r, size, depth)
	case Bzip2:
		if size <= w.lim.MaxBuffer {
			// Held whole, its blocks are decoded in parallel.
			data := make([]byte, size)
			if n, err := r.ReadAt(data, 0); n < len(data) {
				// Shorter than its size said (the file shrank): what was
				// not read must not be decoded as zeros.
				if err == nil || errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return &pathError{path: path, err: err}
			}
			dr, stop := newBzip2(w.ctx, data)
			defer stop()
			return w.decompressed(path, dr, depth)
		}
	}
	return w.openStream(path, f, io.NewSectionReader(r, 0, size), depth)
}

// openStream opens an archive read front to back; a zip is held in memory
// first, up to MaxBuffer bytes.
func (w *walker) openStream(path string, f Format, r io.Reader, depth int) error {
	switch f {
	case Zip:
		data, err := readBounded(r, w.lim.MaxBuffer)
		if err != nil {
			return &pathError{path: path, err: err}
		}
		if data == nil {
			w.notOpened("%s: a nested %s archive over %d bytes is not opened (it would have to be held in memory)", path, f, w.lim.MaxBuffer)
			return nil
		}
		return w.openAt(path, f, bytes.NewReader(data), int64(len(data)), depth)
	case Tar:
		return w.tar(path, r, depth)
	}
	dr, closer, err := decompressor(f, r)
	if err != nil {
		return &pathError{path: path, err: err}
	}
	defer closer()
	return w.decompressed(path, dr, depth)
}

// decompressed handles the content of a compressed stream: a tar or zip
// inside is the same archive (app.tar.gz), anything else is the member.
func (w *walker) decompressed(path string, r io.Reader, depth int) error {
	br := bufio.NewReader(&expanding{r: r, w: w})
	head, err := br.Peek(SniffLen)
	if err != nil && !errors.Is(err, io.EOF) {
		return &pathError{path: path, err: err}
	}
	switch g := Detect(head); g {
	case None:
		return w.member(path, br, -1)
	case Tar, Zip:
		return w.openStream(path, g, br, depth)
	default:
		return w.nested(path, g, br, depth)
	}
}

// entry handles one member of a container: a nested archive or a file.
func (w *walker) entry(path string, r io.Reader, size int64, depth int) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	br := bufio.NewReader(r)
	head, err := br.Peek(SniffLen)
	if err != nil && !errors.Is(err, io.EOF) {
		return &pathError{path: path, err: err}
	}
	if g := Detect(head); g != None {
		return w.nested(path, g, br, depth)
	}
	return w.member(path, br, size)
}

func (w *walker) member(path string, r io.Reader, size int64) error {
	w.st.Members++
	if err := w.fn(Member{Path: path, Reader: r, Size: size}); err != nil {
		return wrapMember(path, err)
	}
	if err := w.check(); err != nil {
		return wrapMember(path, err)
	}
	return nil
}

// nested opens an archive found inside one at depth, if the limit allows.
func (w *walker) nested(path string, f Format, r io.Reader, depth int) error {
	if depth >= w.lim.MaxDepth {
		w.notOpened("%s: nested %s archive deeper than the archive depth limit (%d, --max-archive-depth) is not opened", path, f, w.lim.MaxDepth)
		return nil
	}
	w.st.Archives++
	return w.openStream(path, f, r, depth+1)
}

// memberName cleans a name stored in an archive for display.
func memberName(name string) string {
	name = strings.ReplaceAll(name, `\`, "/")
	for strings.HasPrefix(name, "./") {
		name = name[2:]
	}
	return strings.TrimLeft(name, "/")
}

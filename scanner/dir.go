package scanner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gemscan-dev/gemscan/rules"
)

// DefaultMaxFileSize is the size above which gemscan git skips blobs by
// default (an audit's bound on memory: a blob is inflated whole). Working
// trees, stdin and staged files have no default limit: files are streamed
// or read one at a time.
const DefaultMaxFileSize = 10 << 20

// binarySniff is how much of a file is searched for a NUL byte to decide
// that it is binary.
const binarySniff = 8 << 10

// streamThreshold is the size above which a file is scanned in chunks
// instead of read whole. With no default size limit, it bounds what each
// worker holds (2 per CPU): a tree of 30 MB files must not cost a
// gigabyte on a many-core machine.
const streamThreshold = 8 << 20

// Options tune a scan.
type Options struct {
	// Detector runs the rules; nil builds one.
	Detector *rules.Detector
	// MaxFileSize skips larger files; 0 means no limit.
	MaxFileSize int64
	// Workers is how many files are scanned at once; 0 means one per CPU.
	Workers int
	// SkipBinary skips files that look binary (a NUL byte in their first
	// 8 KiB) instead of scanning their raw bytes: keys compiled into
	// binaries are ASCII runs, so they are scanned by default.
	SkipBinary bool
	// NoIgnore scans untracked files that .gitignore files or
	// .git/info/exclude ignore (ScanPaths). .gemscanignore still applies.
	NoIgnore bool
	// MaxArchiveDepth is how many levels of nested archives are opened:
	// 0 means archive.DefaultMaxDepth (3), a negative depth opens none.
	MaxArchiveDepth int
}

func (o *Options) detector() *rules.Detector {
	if o.Detector == nil {
		o.Detector = rules.NewDetector()
	}
	return o.Detector
}

func (o *Options) workers() int {
	if o.Workers > 0 {
		return o.Workers
	}
	// Twice the CPUs: while one worker waits in a read, another scans.
	return 2 * runtime.GOMAXPROCS(0)
}

// Stats counts what a scan read and skipped.
type Stats struct {
	Files    int64 // files (or blobs) scanned
	Bytes    int64 // bytes scanned
	Commits  int64 // commits examined (git mode)
	Binary   int64 // files skipped as binary (only with SkipBinary)
	TooLarge int64 // files skipped for their size
	// TooLargePaths names some of the paths skipped for their size (git
	// mode: where the scanned commits introduced such a blob), sorted;
	// TooLargePathCount is how many there are in all.
	TooLargePaths     []string
	TooLargePathCount int
	Archives          int64 // archives opened, nested ones included
	Members           int64 // archive members scanned
	// IgnoredPaths counts untracked files and directories skipped because a
	// .gitignore or .git/info/exclude ignores them (a directory counts once).
	IgnoredPaths int64
	// Repeats counts occurrences of a credential already reported in the
	// same file or stream, folded into that finding.
	Repeats  int64
	Duration time.Duration
	// Notes are facts the user should know that are not errors (a shallow
	// history, a skipped submodule).
	Notes []string
	// Warnings are notes loud enough to print on standard error as well
	// (nothing scanned under a path because everything there is ignored);
	// each is also in Notes.
	Warnings []string
}

// Result is what a scan found, and every error it met on the way. A scan
// with errors is incomplete even when it found nothing.
type Result struct {
	Findings []Finding
	Errors   []error
	Stats    Stats
	// Suppressed holds what gemscan:allow, .gemscanignore and baselines hid.
	Suppressed Suppressions
}

// SortFindings orders findings by file, line, column and rule.
func SortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		return a.Rule < b.Rule
	})
}

type fileJob struct {
	abs, file, path string
	hidden          bool // by IgnoreFile: its findings are suppressed
}

// collector gathers results from concurrent workers.
type collector struct {
	mu  sync.Mutex
	res *Result
}

// addErr records an error.
func (c *collector) addErr(err error) {
	c.mu.Lock()
	c.res.Errors = append(c.res.Errors, err)
	c.mu.Unlock()
}

// addFile records one scanned file: its findings (suppressed, for a file
// IgnoreFile hides), the bytes read and the error that ended its reading,
// if any.
func (c *collector) addFile(j fileJob, s *findingSet, bytes int64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := &c.res.Stats
	st.Files++
	st.Bytes += bytes
	st.Repeats += s.repeats
	if j.hidden {
		c.res.Suppressed.Add(ReasonIgnoreFile, IgnoreFile, s.list...)
		c.res.Suppressed.Add(ReasonIgnoreFile, IgnoreFile, s.allowed...)
	} else {
		c.res.Findings = append(c.res.Findings, s.list...)
		c.res.Suppressed.Add(ReasonAllow, "", s.allowed...)
	}
	if err != nil {
		c.res.Errors = append(c.res.Errors, err)
	}
	if err := s.capErr(j.file); err != nil {
		c.res.Errors = append(c.res.Errors, err)
	}
}

func (c *collector) count(f func(*Stats)) {
	c.mu.Lock()
	f(&c.res.Stats)
	c.mu.Unlock()
}

// ScanPaths scans files and directory trees. Directories are walked without
// following symbolic links or entering .git. Files git tracks are always
// scanned; untracked files that .gitignore files or .git/info/exclude ignore
// are skipped and counted, unless opts.NoIgnore; .gemscanignore is always
// honoured. Files are scanned in parallel.
//
// A path named in paths is scanned whatever the ignore files say. A pipe
// named by an open descriptor (/dev/fd/N, /dev/stdin: process substitution)
// is read to its end. Other FIFOs, devices and sockets are refused when
// named (reading them could block forever or never end) and skipped inside
// trees, where files are opened without blocking and checked once open, so
// a file replaced by a FIFO during the walk cannot hang the scan.
func ScanPaths(ctx context.Context, paths []string, opts Options) *Result {
	start := time.Now()
	res := &Result{}
	col := &collector{res: res}
	det := opts.detector()
	jobs := make(chan fileJob, 256)
	var wg sync.WaitGroup
	for i := 0; i < opts.workers(); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for j := range jobs {
				if ctx.Err() != nil {
					continue
				}
				buf = scanFile(ctx, det, j, opts, col, buf)
			}
		}()
	}
	for _, p := range paths {
		if ctx.Err() != nil {
			break
		}
		info, err := os.Stat(p)
		if err != nil {
			col.addErr(fmt.Errorf("scan %s: %w", p, err))
			continue
		}
		switch mode := info.Mode(); {
		case mode.IsRegular():
			jobs <- fileJob{abs: p, file: filepath.ToSlash(p), path: filepath.ToSlash(filepath.Base(p))}
		case mode.IsDir():
			scanTree(ctx, p, opts, jobs, col)
		case mode&os.ModeNamedPipe != 0 && isOpenDescriptor(p):
			scanPipe(ctx, det, p, col)
		default:
			col.addErr(refuse(p, mode))
		}
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		res.Errors = append(res.Errors, fmt.Errorf("scan interrupted: %w", err))
	}
	if n := res.Stats.Repeats; n > 0 {
		res.Stats.Notes = append(res.Stats.Notes, repeatsNote(n))
	}
	SortFindings(res.Findings)
	res.Stats.Duration = time.Since(start)
	return res
}

// isOpenDescriptor reports whether path names one of this process's open
// descriptors, as process substitution (<(cmd)) and /dev/stdin do: a pipe
// reached that way is already connected and is read to its end.
func isOpenDescriptor(path string) bool {
	p := filepath.ToSlash(filepath.Clean(path))
	if p == "/dev/stdin" {
		return true
	}
	for _, dir := range []string{"/dev/fd/", "/proc/self/fd/", "/proc/" + strconv.Itoa(os.Getpid()) + "/fd/"} {
		if n, ok := strings.CutPrefix(p, dir); ok {
			if _, err := strconv.Atoi(n); err == nil {
				return true
			}
		}
	}
	return false
}

// refuse is the error for a named path that is neither a file, a directory
// nor an open pipe.
func refuse(path string, mode os.FileMode) error {
	var what string
	switch {
	case mode&os.ModeNamedPipe != 0:
		what = "a named pipe (FIFO): reading it could wait forever for a writer"
	case mode&os.ModeCharDevice != 0:
		what = "a character device: reading it may never end"
	case mode&os.ModeDevice != 0:
		what = "a block device"
	case mode&os.ModeSocket != 0:
		what = "a socket"
	default:
		what = "not a regular file (" + mode.Type().String() + ")"
	}
	return fmt.Errorf("scan %s: refusing to read it, it is %s; to scan what it holds, pipe it: cat %s | gemscan stdin",
		path, what, path)
}

// scanPipe reads the pipe at path (an open descriptor of this process) to
// its end.
func scanPipe(ctx context.Context, det *rules.Detector, path string, col *collector) {
	f, err := openPipe(path)
	if err != nil {
		col.addErr(fmt.Errorf("read %s: %w", path, err))
		return
	}
	file := filepath.ToSlash(path)
	set, n, err := scanStream(ctx, det, f, file, filepath.Base(file))
	f.Close() // also ends a read still blocked after ctx was done
	col.addFile(fileJob{file: file, path: filepath.Base(file)}, set, n, err)
}

// scanTree walks the directory root, sending its files to jobs.
func scanTree(ctx context.Context, root string, opts Options, jobs chan<- fileJob, col *collector) {
	ign, errs := rootIgnores(root, opts.NoIgnore)
	for _, err := range errs {
		col.addErr(err) // workers are adding theirs meanwhile
	}
	w := walker{ctx: ctx, root: root, jobs: jobs, col: col, noIgnore: opts.NoIgnore}
	var tracked *trackedSet
	var trackedErr error
	inIgnored := false
	if !opts.NoIgnore {
		tracked, trackedErr = rootTracked(root)
		var err error
		if inIgnored, err = rootIgnored(root); err != nil {
			col.addErr(err)
		}
	}
	w.walk(root, "", 0, ign, tracked, inIgnored, false)
	if trackedErr != nil && w.ignored > 0 {
		// Without the index, an ignored file may be a tracked one.
		col.addErr(trackedErr)
	}
	if w.sent == 0 && w.ignored > 0 && ctx.Err() == nil {
		msg := fmt.Sprintf("%s: nothing scanned, every file in it is ignored by .gitignore rules "+
			"(%d ignored %s); scan them with --no-ignore", root, w.ignored, plural(w.ignored, "path", "paths"))
		col.count(func(s *Stats) {
			s.Notes = append(s.Notes, msg)
			s.Warnings = append(s.Warnings, msg)
		})
	}
	col.count(func(s *Stats) { s.IgnoredPaths += w.ignored })
}

type walker struct {
	ctx      context.Context
	root     string
	jobs     chan<- fileJob
	col      *collector
	noIgnore bool
	// sent and ignored count the files sent to the workers and the paths
	// skipped by git's ignore files.
	sent, ignored int64
}

// walk sends the files below abs to the workers. rel is abs's slash path
// relative to the root ("" or ending in "/"), depth its number of
// components; tracked is what the index of the repository holding abs
// lists (nil: nothing); inIgnored says abs is an ignored directory entered
// only because git tracks files below it, so its untracked files are
// ignored.
//
// A path .gemscanignore names is still walked and scanned (hidden), so that
// what the ignore file hides is listed as suppressed, never silently lost.
func (w *walker) walk(abs, rel string, depth int, ign ignoreSets, tracked *trackedSet, inIgnored, hidden bool) {
	if w.ctx.Err() != nil {
		return
	}
	entries, err := os.ReadDir(abs)
	if err != nil {
		w.col.addErr(fmt.Errorf("read directory %s: %w", abs, err))
		return
	}
	if rel != "" && hasGitDir(entries) {
		// A repository of its own (a submodule, a nested clone): git
		// judges its files by its index and its own ignore files only.
		if tracked, err = nestedTracked(abs, rel); err != nil {
			w.col.addErr(err)
		}
		ign.git, inIgnored = nil, false
		if !w.noIgnore {
			ign.git = nestedExclude(abs, rel, depth, w.col)
		}
	}
	ign, err = childIgnores(ign, abs, rel, depth, entries, w.noIgnore)
	if err != nil {
		w.col.addErr(err)
	}
	for _, e := range entries {
		name := e.Name()
		t := e.Type()
		isDir := t.IsDir()
		switch {
		case name == ".git":
			continue
		case t&os.ModeSymlink != 0:
			continue
		case !isDir && !t.IsRegular():
			continue // FIFOs, devices, sockets: never opened
		}
		p := rel + name
		if isDir {
			p += "/"
		}
		hide := hidden || ign.excluded(p, name, depth+1, isDir)
		ignored := inIgnored || ign.ignored(p, name, depth+1, isDir)
		if ignored && !tracked.has(p) {
			w.ignored++
			continue
		}
		if isDir {
			w.walk(filepath.Join(abs, name), p, depth+1, ign, tracked, ignored, hide)
			continue
		}
		w.sent++
		w.jobs <- fileJob{abs: filepath.Join(abs, name), file: displayPath(w.root, p), path: p, hidden: hide}
	}
}

// errNotRegular is returned by readRegular for a path that is not a
// regular file.
var errNotRegular = errors.New("not a regular file")

// readRegular reads a small file whole without ever blocking: opened
// without blocking and checked once open, a FIFO or a device in its place is
// refused (errNotRegular) instead of waited on, and a file over limit bytes
// is refused too.
func readRegular(path string, limit int64) ([]byte, error) {
	f, err := openRaw(path)
	if err != nil {
		return nil, err
	}
	defer f.close()
	size, regular, err := f.stat()
	switch {
	case err != nil:
		return nil, err
	case !regular:
		return nil, errNotRegular
	case size > limit:
		return nil, fmt.Errorf("%d bytes, over the limit of %d", size, limit)
	}
	buf := make([]byte, 0, size+1)
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				return nil, fmt.Errorf("over the limit of %d bytes", limit)
			}
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := f.read(buf[len(buf):cap(buf)])
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}

// hasGitDir reports whether a directory's entries hold .git (a directory,
// or a file naming one).
func hasGitDir(entries []os.DirEntry) bool {
	for _, e := range entries {
		if e.Name() == ".git" {
			return true
		}
	}
	return false
}

// displayPath joins a root as the user gave it and a path below it.
func displayPath(root, rel string) string {
	if root == "." || root == "./" {
		return rel
	}
	return strings.TrimSuffix(filepath.ToSlash(root), "/") + "/" + rel
}

// scanFile scans one file, reusing buf for its contents, and returns buf.
// The file is opened without blocking, and anything but a regular file is
// skipped once open, unread: see ScanPaths.
func scanFile(ctx context.Context, det *rules.Detector, j fileJob, opts Options, col *collector, buf []byte) []byte {
	f, err := openRaw(j.abs)
	if err != nil {
		col.addErr(fmt.Errorf("read %s: %w", j.file, err))
		return buf
	}
	owned := true
	defer func() {
		if owned {
			f.close()
		}
	}()
	// The open file is checked before any read: the walk saw a regular
	// file, but a FIFO or a device may have taken its place since (opened
	// without blocking, it did not wait for a writer), and is skipped like
	// one seen in the walk.
	size, regular, err := f.stat()
	if err != nil {
		col.addErr(fmt.Errorf("read %s: %w", j.file, err))
		return buf
	}
	if !regular {
		return buf
	}
	tooLarge := func(size int64) bool { return opts.MaxFileSize > 0 && size > opts.MaxFileSize }
	if tooLarge(size) {
		col.count(func(s *Stats) { s.TooLarge++ })
		return buf
	}
	if size > streamThreshold {
		owned = false
		osf := f.file(j.abs)
		defer osf.Close()
		scanLargeFile(ctx, det, osf, j, opts, col)
		return buf
	}
	// Most files are small: one read into a buffer larger than the file
	// returns it whole (a regular file's read is short only at its end).
	// A read that filled the buffer may have left more (the file grew):
	// read on, growing the buffer, until a read comes back short.
	if cap(buf) < firstRead {
		buf = make([]byte, 0, firstRead)
	}
	buf = buf[:0]
	n, err := f.read(buf[:cap(buf)])
	if err != nil {
		col.addErr(fmt.Errorf("read %s: %w", j.file, err))
		return buf
	}
	buf = buf[:n]
	for full := n == cap(buf); full; {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), max(int(size)+1, 2*cap(buf)))
			copy(grown, buf)
			buf = grown
		}
		room := cap(buf) - len(buf)
		if n, err = f.read(buf[len(buf):cap(buf)]); err != nil {
			col.addErr(fmt.Errorf("read %s: %w", j.file, err))
			return buf
		}
		buf = buf[:len(buf)+n]
		full = n == room
	}
	if tooLarge(int64(len(buf))) {
		col.count(func(s *Stats) { s.TooLarge++ })
		return buf
	}
	if scanArchiveFile(ctx, det, bytes.NewReader(buf), int64(len(buf)), buf, j, &opts, col) {
		return buf
	}
	text, ok := textOf(buf, !opts.SkipBinary)
	if !ok {
		col.count(func(s *Stats) { s.Binary++ })
		return buf
	}
	col.addFile(j, scanText(det, text, j.file, j.path), int64(len(buf)), nil)
	return buf
}

// firstRead is the buffer a file is first read into.
const firstRead = 256 << 10

// scanLargeFile streams a file too large to read whole.
func scanLargeFile(ctx context.Context, det *rules.Detector, f *os.File, j fileJob, opts Options, col *collector) {
	head := make([]byte, binarySniff)
	n, err := f.ReadAt(head, 0) // the file's start, whatever the offset
	if err != nil && err != io.EOF {
		col.addErr(fmt.Errorf("read %s: %w", j.file, err))
		return
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		col.addErr(fmt.Errorf("read %s: %w", j.file, err))
		return
	}
	if scanLargeArchive(ctx, det, f, j, &opts, col) {
		return
	}
	// UTF-16 is text (scanStream transcodes it), whatever its NULs.
	if _, utf16 := utf16BOM(head[:n]); !utf16 && opts.SkipBinary && bytes.IndexByte(head[:n], 0) >= 0 {
		col.count(func(s *Stats) { s.Binary++ })
		return
	}
	set, read, err := scanStream(ctx, det, f, j.file, j.path)
	col.addFile(j, set, read, err)
}

package scanner

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gemscan-dev/gemscan/rules"
)

// DefaultMaxFileSize is the size above which files are skipped by default.
const DefaultMaxFileSize = 10 << 20

// binarySniff is how much of a file is searched for a NUL byte to decide
// that it is binary.
const binarySniff = 8 << 10

// streamThreshold is the size above which a file is scanned in chunks
// instead of read whole.
const streamThreshold = 32 << 20

// Options tune a scan.
type Options struct {
	// Detector runs the rules; nil builds one.
	Detector *rules.Detector
	// MaxFileSize skips larger files; 0 means no limit.
	MaxFileSize int64
	// Workers is how many files are scanned at once; 0 means one per CPU.
	Workers int
	// Binary scans files that look binary too.
	Binary bool
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
	Binary   int64 // files skipped as binary
	TooLarge int64 // files skipped for their size
	Archives int64 // archives opened, nested ones included
	Members  int64 // archive members scanned
	Duration time.Duration
	// Notes are facts the user should know that are not errors (a shallow
	// history, a skipped submodule).
	Notes []string
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

func (c *collector) add(fs, allowed []Finding, bytes int64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.res.Findings = append(c.res.Findings, fs...)
	c.res.Suppressed.Add(ReasonAllow, "", allowed...)
	c.res.Stats.Bytes += bytes
	if err != nil {
		c.res.Errors = append(c.res.Errors, err)
	}
}

func (c *collector) count(f func(*Stats)) {
	c.mu.Lock()
	f(&c.res.Stats)
	c.mu.Unlock()
}

// ScanPaths scans files and directory trees. Directories are walked without
// following symbolic links or entering .git, honouring .gitignore files,
// .git/info/exclude and .gemscanignore. Files are scanned in parallel.
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
			col.add(nil, nil, 0, fmt.Errorf("scan %s: %w", p, err))
			continue
		}
		if !info.IsDir() {
			jobs <- fileJob{abs: p, file: filepath.ToSlash(p), path: filepath.ToSlash(filepath.Base(p))}
			continue
		}
		ign, errs := rootIgnores(p)
		for _, err := range errs {
			col.add(nil, nil, 0, err) // workers are adding theirs meanwhile
		}
		w := walker{ctx: ctx, root: p, jobs: jobs, col: col}
		w.walk(p, "", ign)
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		res.Errors = append(res.Errors, fmt.Errorf("scan interrupted: %w", err))
	}
	SortFindings(res.Findings)
	res.Stats.Duration = time.Since(start)
	return res
}

type walker struct {
	ctx  context.Context
	root string
	jobs chan<- fileJob
	col  *collector
}

// walk sends the files below abs (rel is its slash path relative to the
// root, "" or ending in "/") to the workers.
func (w *walker) walk(abs, rel string, ign ignoreSet) {
	if w.ctx.Err() != nil {
		return
	}
	entries, err := os.ReadDir(abs)
	if err != nil {
		w.col.add(nil, nil, 0, fmt.Errorf("read directory %s: %w", abs, err))
		return
	}
	ign, err = childIgnores(ign, abs, rel, entries)
	if err != nil {
		w.col.add(nil, nil, 0, err)
	}
	for _, e := range entries {
		name := e.Name()
		t := e.Type()
		switch {
		case name == ".git":
			continue
		case t&os.ModeSymlink != 0:
			continue
		case t.IsDir():
			if ign.matches(rel + name + "/") {
				continue
			}
			w.walk(filepath.Join(abs, name), rel+name+"/", ign)
		case t.IsRegular():
			if ign.matches(rel + name) {
				continue
			}
			p := filepath.Join(abs, name)
			w.jobs <- fileJob{abs: p, file: displayPath(w.root, rel+name), path: rel + name, hidden: ign.hides(rel + name)}
		}
	}
}

// displayPath joins a root as the user gave it and a path below it.
func displayPath(root, rel string) string {
	if root == "." || root == "./" {
		return rel
	}
	return strings.TrimSuffix(filepath.ToSlash(root), "/") + "/" + rel
}

// scanFile scans one file, reusing buf for its contents, and returns buf.
func scanFile(ctx context.Context, det *rules.Detector, j fileJob, opts Options, col *collector, buf []byte) []byte {
	f, err := openRaw(j.abs)
	if err != nil {
		col.add(nil, nil, 0, fmt.Errorf("read %s: %w", j.file, err))
		return buf
	}
	owned := true
	defer func() {
		if owned {
			f.close()
		}
	}()
	// Most files are small: one read into a buffer larger than the file
	// returns it whole (a regular file's read is short only at its end),
	// with no stat. Larger files are sized and read on.
	if cap(buf) < firstRead {
		buf = make([]byte, 0, firstRead)
	}
	buf = buf[:0]
	n, err := f.read(buf[:cap(buf)])
	if err != nil {
		col.add(nil, nil, 0, fmt.Errorf("read %s: %w", j.file, err))
		return buf
	}
	buf = buf[:n]
	size := int64(n)
	if n == cap(buf) {
		st, err := f.size()
		if err != nil {
			col.add(nil, nil, 0, fmt.Errorf("read %s: %w", j.file, err))
			return buf
		}
		size = max(st, size)
	}
	if opts.MaxFileSize > 0 && size > opts.MaxFileSize {
		col.count(func(s *Stats) { s.TooLarge++ })
		return buf
	}
	if size > streamThreshold {
		owned = false
		osf := f.file(j.abs)
		defer osf.Close()
		return scanLargeFile(ctx, det, osf, j, opts, col, buf)
	}
	// A read that filled the buffer may have left more: read on, growing
	// the buffer, until a read comes back short.
	for full := n == cap(buf); full; {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), max(int(size)+1, 2*cap(buf)))
			copy(grown, buf)
			buf = grown
		}
		room := cap(buf) - len(buf)
		if n, err = f.read(buf[len(buf):cap(buf)]); err != nil {
			col.add(nil, nil, 0, fmt.Errorf("read %s: %w", j.file, err))
			return buf
		}
		buf = buf[:len(buf)+n]
		full = n == room
	}
	if scanArchiveFile(ctx, det, bytes.NewReader(buf), int64(len(buf)), buf, j, &opts, col) {
		return buf
	}
	text, ok := textOf(buf, opts.Binary)
	if !ok {
		col.count(func(s *Stats) { s.Binary++ })
		return buf
	}
	fs, allowed := ScanBytes(det, text, j.file, j.path)
	col.count(func(s *Stats) { s.Files++ })
	col.addFile(j, fs, allowed, int64(len(buf)), nil)
	return buf
}

// firstRead is the buffer a file is first read into.
const firstRead = 256 << 10

func scanLargeFile(ctx context.Context, det *rules.Detector, f *os.File, j fileJob, opts Options, col *collector, buf []byte) []byte {
	head := make([]byte, binarySniff)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF {
		col.add(nil, nil, 0, fmt.Errorf("read %s: %w", j.file, err))
		return buf
	}
	if scanLargeArchive(ctx, det, f, j, &opts, col) {
		return buf
	}
	if !opts.Binary && bytes.IndexByte(head[:n], 0) >= 0 {
		col.count(func(s *Stats) { s.Binary++ })
		return buf
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		col.add(nil, nil, 0, fmt.Errorf("read %s: %w", j.file, err))
		return buf
	}
	fs, allowed, read, err := ScanReader(det, f, j.file, j.path)
	col.count(func(s *Stats) { s.Files++ })
	col.addFile(j, fs, allowed, read, err)
	return buf
}

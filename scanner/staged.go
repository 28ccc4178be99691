package scanner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gemscan-dev/gemscan/internal/gitdir"
	"github.com/gemscan-dev/gemscan/internal/odb"
)

// StagedOptions tune a scan of staged changes.
type StagedOptions struct {
	Options
	// AllLines reports every credential in a staged file, not only those
	// on lines the commit adds.
	AllLines bool
	// Files, when set, limits the scan to these paths (relative to the
	// directory the scan is run in, as a shell passes them; the
	// pre-commit framework runs hooks from the work tree's top). A listed
	// file that the commit does not change is judged whole, and then so are
	// all listed files: that is a `pre-commit run --all-files`.
	Files []string
	// IndexFile, when set, is the index to read instead of the git
	// directory's (relative to the directory the scan runs in): git's
	// GIT_INDEX_FILE, which `git commit -a` and `git commit PATH…` set for
	// the pre-commit hook to a temporary index holding what they commit.
	IndexFile string
	// GitDir and WorkTree, when GitDir is set, are the repository's git
	// directory and work tree (relative to the directory the scan runs
	// in) instead of those found from it: git's GIT_DIR and GIT_WORK_TREE,
	// which `git --git-dir=… --work-tree=… commit` exports to the hook.
	// Without WorkTree, the directory the scan runs in is the work tree,
	// as git takes it.
	GitDir, WorkTree string
}

// NoteWholeFiles is the note a staged scan adds when files it was given
// are not staged changes and were judged whole, as `pre-commit run
// --all-files` asks: then no commit is being blocked, and reports say so.
const NoteWholeFiles = "files the commit does not change were judged whole (as 'pre-commit run --all-files' asks)"

// ScanStaged scans what is staged for the next commit in the repository
// holding dir: the index against HEAD (or against nothing before the first
// commit). Staged content is read from the object database, never from the
// working tree, so a file edited after `git add` is judged by what was added.
func ScanStaged(dir string, opts StagedOptions) *Result {
	return ScanStagedContext(context.Background(), dir, opts)
}

// ScanStagedContext is ScanStaged that stops soon after ctx is cancelled,
// with ctx's error in Result.Errors and what was found until then.
func ScanStagedContext(ctx context.Context, dir string, opts StagedOptions) *Result {
	start := time.Now()
	res := &Result{}
	defer func() { res.Stats.Duration = time.Since(start) }()
	defer addCtxErr(ctx, res)
	if ctx.Err() != nil {
		return res
	}
	// The index is mapped: a program truncating it under the scan makes
	// reading it fault, an error rather than a crash.
	var mapped []byte
	if err := catchFault(&mapped, func() error { scanStaged(ctx, dir, opts, res, &mapped); return nil }); err != nil {
		res.Errors = append(res.Errors, err)
	}
	return res
}

func scanStaged(ctx context.Context, dir string, opts StagedOptions, res *Result, mapped *[]byte) {
	s, err := openStaged(dir, opts, mapped)
	if err != nil {
		res.Errors = append(res.Errors, err)
		return
	}
	defer s.close()
	s.ctx = ctx
	err = s.changes()
	// The index was parsed while its checksum was computed: a corrupt
	// one is refused whatever the comparison made of it.
	if cerr := s.checkIndex(); cerr != nil {
		res.Errors = append(res.Errors, cerr)
		return
	}
	res.Errors = append(res.Errors, s.errs...)
	if err != nil {
		res.Errors = append(res.Errors, err)
		return
	}
	s.scan(res, opts)
	SortFindings(res.Findings)
}

// staged is a repository's index compared with its HEAD.
type staged struct {
	ctx                    context.Context
	top, gitDir, commonDir string
	indexPath              string // the index file read
	cwd                    string // the directory the scan runs in (absolute, as Find saw it)
	db                     *odb.DB
	index                  []byte // the index file's bytes (mapped), which entries point into
	entries                *indexEntries
	cacheTree              *cacheTree
	head                   plumbing.Hash // HEAD's tree; zero before the first commit
	changed                []change
	errs                   []error         // what could not be read; the scan went on
	unmap                  func()          // releases the index's bytes, which entries' names share
	verifyIndex            func() error    // the index's checksum, computed beside the parse
	deleted                []plumbing.Hash // blobs at paths the commit removes
}

// change is a staged file whose content differs from HEAD's.
type change struct {
	path     string
	new, old plumbing.Hash // old is zero for an added file
}

// openStaged opens the repository holding dir and reads its index and
// HEAD; mapped, when not nil, is set to the index's bytes as soon as they
// are read (for catchFault).
func openStaged(dir string, opts StagedOptions, mapped *[]byte) (*staged, error) {
	indexFile := opts.IndexFile
	var d gitdir.Dirs
	var err error
	if opts.GitDir != "" {
		rel := func(p string) string {
			if p == "" || filepath.IsAbs(p) {
				return p
			}
			return filepath.Join(dir, p)
		}
		wt := rel(opts.WorkTree)
		if wt == "" {
			wt = dir
		}
		d, err = gitdir.OpenGitDir(rel(opts.GitDir), wt)
	} else {
		d, err = gitdir.Find(dir)
	}
	if err != nil {
		return nil, err
	}
	if d.WorkTree == "" {
		return nil, fmt.Errorf("%s is a bare repository: nothing is staged there", dir)
	}
	if err := gitdir.CheckSupported(d); err != nil {
		return nil, err
	}
	s := &staged{ctx: context.Background(), top: d.WorkTree, gitDir: d.GitDir, commonDir: d.CommonDir}
	if s.cwd, err = filepath.Abs(dir); err != nil {
		return nil, err
	}
	s.indexPath = filepath.Join(s.gitDir, "index")
	if indexFile != "" {
		s.indexPath = indexFile
		if !filepath.IsAbs(indexFile) {
			s.indexPath = filepath.Join(s.cwd, indexFile)
		}
	}
	if s.db, err = odb.Open(filepath.Join(s.commonDir, "objects")); err != nil {
		return nil, err
	}
	opened := false
	defer func() {
		if !opened { // an error, or a fault reading the index
			s.close()
		}
	}()
	if err := s.readIndex(mapped); err != nil {
		return nil, err
	}
	commit, err := s.resolveHead()
	if err != nil {
		return nil, err
	}
	if !commit.IsZero() {
		// An unreadable HEAD is an error, and every staged file is judged
		// as if this were the first commit: over-report rather than miss.
		data, err := s.db.ReadType(commit, odb.Commit)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("read HEAD: %w", err))
		} else if info, err := odb.ParseCommit(data); err != nil {
			s.errs = append(s.errs, fmt.Errorf("read HEAD %s: %w", commit, err))
		} else {
			s.head = info.Tree
		}
	}
	opened = true
	return s, nil
}

func (s *staged) readIndex(mapped *[]byte) error {
	f, err := gitdir.OpenFile(s.indexPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && s.indexPath == filepath.Join(s.gitDir, "index") {
			return nil // nothing staged yet
		}
		return fmt.Errorf("read index: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("read index: %w", err)
	}
	data, unmap, err := mapIndex(f, st.Size())
	if err != nil {
		return fmt.Errorf("read index: %w", err)
	}
	// Entry names point into data: it stays until the scan is over, and
	// the paths that outlive it (changes, findings) are copies.
	s.unmap, s.index = unmap, data
	if mapped != nil {
		*mapped = data
	}
	s.entries, s.cacheTree, s.verifyIndex, err = parseIndexVerifyLater(data)
	if err != nil {
		if verr := s.verifyIndex(); verr != nil {
			err = verr
		}
		return fmt.Errorf("read index %s: %w", f.Name(), err)
	}
	return nil
}

// checkIndex waits for the index's checksum: until it has returned
// nil, nothing read from the index may be reported.
func (s *staged) checkIndex() error {
	if s.verifyIndex == nil {
		return nil // no index
	}
	if err := s.verifyIndex(); err != nil {
		return fmt.Errorf("read index %s: %w", s.indexPath, err)
	}
	return nil
}

// readIndexFile reads an index file into memory.
func readIndexFile(f *os.File, size int64) ([]byte, func(), error) {
	data := make([]byte, size)
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, nil, err
	}
	return data, func() {}, nil
}

// close releases the index and the object database. Nothing read from the
// index may be used afterwards.
func (s *staged) close() {
	s.db.Close()
	s.entries, s.cacheTree, s.index = nil, nil, nil
	if s.verifyIndex != nil {
		s.verifyIndex() // it reads the index's bytes
	}
	if s.unmap != nil {
		s.unmap()
		s.unmap = nil
	}
}

// resolveHead resolves HEAD to a commit, as gitdir reads refs (a linked
// worktree's HEAD from its own git directory, its branch from the common
// one). It returns the zero hash on an unborn branch; a HEAD that cannot
// be read is an error.
func (s *staged) resolveHead() (plumbing.Hash, error) {
	refs := gitdir.Dirs{WorkTree: s.top, GitDir: s.gitDir, CommonDir: s.commonDir}.Refs()
	if _, err := refs.Reference(plumbing.HEAD); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read HEAD: %w", err)
	}
	ref, err := refs.Resolve(plumbing.HEAD)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, nil // unborn branch: the first commit
	}
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("resolve HEAD: %w", err)
	}
	return ref.Hash(), nil
}

// repoPath turns a FILE argument, relative to the directory the scan runs
// in, into its path in the index.
func (s *staged) repoPath(arg string) (string, error) {
	p := arg
	if !filepath.IsAbs(p) {
		p = filepath.Join(s.cwd, p)
	}
	rel, err := filepath.Rel(s.top, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s: outside the work tree %s", arg, s.top)
	}
	return filepath.ToSlash(rel), nil
}

// scan reads the changed blobs and keeps the findings on added lines.
func (s *staged) scan(res *Result, opts StagedOptions) {
	det := opts.detector()
	todo := s.changed
	allLines := opts.AllLines
	if opts.Files != nil {
		byPath := make(map[string]int, s.entries.Len())
		for i := range s.entries.Len() {
			if s.entries.Stage(i) == stageMerged {
				byPath[s.entries.Name(i)] = i
			}
		}
		todo = nil
		isChanged := map[string]change{}
		for _, c := range s.changed {
			isChanged[c.path] = c
		}
		for _, arg := range opts.Files {
			f, err := s.repoPath(arg)
			if err != nil {
				res.Errors = append(res.Errors, err)
				continue
			}
			if c, ok := isChanged[f]; ok {
				todo = append(todo, c)
			} else if e, ok := byPath[f]; ok && s.entries.Mode(e) != modeGitlink {
				// Listed but unchanged: an all-files run judges it whole.
				todo = append(todo, change{path: f, new: s.entries.hash(e)})
				if !allLines {
					res.Stats.Notes = append(res.Stats.Notes, NoteWholeFiles)
				}
				allLines = true
			} else if !ok {
				// Neither staged nor tracked: judging nothing would pass
				// it as clean.
				res.Errors = append(res.Errors, fmt.Errorf("%s: not in the index (not staged, not tracked by git)", f))
			}
		}
	}
	ignore, err := s.ignoreFile()
	if err != nil {
		res.Errors = append(res.Errors, err)
	}
	// Blobs the scan needs and the database lacks (a partial clone's, or a
	// corrupt repository's) are one error, however many.
	missing := map[plumbing.Hash]bool{}
	defer func() {
		if len(missing) == 0 {
			return // the configuration need not be read
		}
		if err := missingBlobsError(len(missing), slices.Collect(maps.Keys(missing)), s.partialClone()); err != nil {
			res.Errors = append(res.Errors, err)
		}
	}()
	readErr := func(what string, b plumbing.Hash, err error) {
		if errors.Is(err, odb.ErrNotFound) {
			missing[b] = true
			return
		}
		res.Errors = append(res.Errors, fmt.Errorf("read %s: %w", what, err))
	}
	var renameLines map[string]int
	for _, c := range todo {
		if s.ctx.Err() != nil {
			return // ScanStagedContext reports it
		}
		// An ignored path is still scanned, to show what the ignore hides.
		ignored := ignore != nil && ignore.matches(c.path)
		data, err := s.db.ReadType(c.new, odb.Blob)
		if err != nil {
			readErr("staged "+c.path, c.new, err)
			continue
		}
		if opts.MaxFileSize > 0 && int64(len(data)) > opts.MaxFileSize {
			res.Stats.TooLarge++
			if res.Stats.TooLargePathCount++; len(res.Stats.TooLargePaths) < maxTooLargePaths {
				res.Stats.TooLargePaths = append(res.Stats.TooLargePaths, c.path)
			}
			continue
		}
		res.Stats.Bytes += int64(len(data))
		if s.scanArchive(res, c, data, &opts.Options, allLines, ignored) {
			continue
		}
		text, ok := textOf(data, !opts.SkipBinary)
		if !ok {
			res.Stats.Binary++
			continue
		}
		data = text
		res.Stats.Files++
		fs, allowed := ScanBytes(det, data, c.path, c.path)
		nfs := len(fs)
		fs = append(fs, allowed...) // fs[nfs:] are allowed
		if len(fs) == 0 {
			continue
		}
		if allLines {
			for i, f := range fs {
				res.keep(f, ignored, i >= nfs)
			}
			continue
		}
		var old map[string]int
		if !c.old.IsZero() {
			od, err := s.db.ReadType(c.old, odb.Blob)
			if err != nil {
				// Judge every line as added: better to over-report.
				readErr("HEAD's "+c.path, c.old, err)
				od = nil
			}
			od, _ = textOf(od, true)
			old = lineCounts(nil, od)
		} else {
			// A new path: a file renamed or moved here keeps its lines.
			if renameLines == nil {
				renameLines = map[string]int{}
				for _, b := range s.deleted {
					if od, err := s.db.ReadType(b, odb.Blob); err == nil {
						od, _ = textOf(od, true)
						lineCounts(renameLines, od)
					}
				}
			}
			old = maps.Clone(renameLines)
		}
		added := addedLines(data, old)
		for i, f := range fs {
			if added[f.Line] || f.SecretLine > 0 && added[f.SecretLine] {
				res.keep(f, ignored, i >= nfs)
			}
		}
	}
}

// ignoreFile reads the staged .gemscanignore at the top of the work tree.
// One that is staged but cannot be read is an error (and hides nothing).
func (s *staged) ignoreFile() (ignoreSet, error) {
	x := s.entries
	i := sort.Search(x.Len(), func(i int) bool { return x.Name(i) >= IgnoreFile })
	if i == x.Len() || x.Name(i) != IgnoreFile || x.Stage(i) != stageMerged {
		return nil, nil
	}
	data, err := s.db.ReadType(x.hash(i), odb.Blob)
	if err != nil {
		return nil, fmt.Errorf("read staged %s: %w", IgnoreFile, err)
	}
	return ignoreSet{{matcher: compileIgnore(data)}}, nil
}

// partialClone reports whether the repository is a partial clone (git
// clone --filter), whose missing blobs are expected and fetchable.
func (s *staged) partialClone() bool { return isPartialClone(s.commonDir) }

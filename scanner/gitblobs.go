package scanner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gemscan-dev/gemscan/internal/odb"
	"github.com/gemscan-dev/gemscan/rules"
)

// lfsPointer is how a Git LFS pointer file starts.
var lfsPointer = []byte("version https://git-lfs.github.com/spec/")

// scanBlobs reads every wanted blob (all, when want is nil) once and keeps
// what it holds. It may run while diffAll does: it touches only its own
// fields.
func (h *history) scanBlobs(ctx context.Context, want func(plumbing.Hash) bool) {
	det := h.opts.detector()
	h.hits = map[plumbing.Hash][]Finding{}
	h.allowHits = map[plumbing.Hash][]Finding{}
	var mu sync.Mutex
	h.seen = map[plumbing.Hash]bool{}
	seen := h.seen
	prog := &odb.Progress{}
	stop := make(chan struct{})
	var tick sync.WaitGroup
	if h.opts.OnProgress != nil {
		tick.Add(1)
		go func() {
			defer tick.Done()
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					h.opts.OnProgress(prog.Done.Load(), prog.Total.Load(), prog.Bytes.Load())
					return
				case <-t.C:
					h.opts.OnProgress(prog.Done.Load(), prog.Total.Load(), prog.Bytes.Load())
				}
			}
		}()
	}
	var st blobTally
	var errs []error
	if want != nil && len(h.needed) <= fewBlobs {
		// A short range (a push, a pull request) needs a handful of blobs:
		// read each directly rather than plan the whole pack.
		errs = h.readFewBlobs(ctx, prog, func(b plumbing.Hash, data []byte) { h.scanBlob(ctx, det, &mu, &st, b, data) })
	} else {
		errs = h.r.db.Blobs(ctx, odb.BlobsOptions{
			Want:     want,
			Workers:  runtime.GOMAXPROCS(0),
			Progress: prog,
			MaxSize:  h.opts.MaxFileSize,
			OnSkip: func(b plumbing.Hash, _ int64) {
				mu.Lock()
				seen[b] = true
				st.tooLarge++
				h.skipLarge(b)
				mu.Unlock()
			},
		}, func(b plumbing.Hash, data []byte) { h.scanBlob(ctx, det, &mu, &st, b, data) })
	}
	close(stop)
	tick.Wait()
	h.blobErrs = errs
	h.blobStats = Stats{Files: st.files, Bytes: st.size, Binary: st.binary, TooLarge: st.tooLarge}
	h.lfs = int(st.lfs)
}

// maxTooLargePaths is how many paths of blobs skipped for their size a
// scan names.
const maxTooLargePaths = 5

// fewBlobs is the most blobs the blob pass reads one by one; more are read
// in pack order, each delta family once.
const fewBlobs = 4096

// blobTally counts what the blob pass saw.
type blobTally struct {
	binary, tooLarge, lfs, files, size int64
}

// scanBlob scans one blob of the blob pass and records what it holds.
func (h *history) scanBlob(ctx context.Context, det *rules.Detector, mu *sync.Mutex, st *blobTally, b plumbing.Hash, data []byte) {
	var found, allowed []Finding
	var skipBinary, skipLarge, isLFS bool
	if h.opts.MaxFileSize > 0 && int64(len(data)) > h.opts.MaxFileSize {
		skipLarge = true
	} else if fs, al, ok := h.arch.scan(ctx, det, b, data, &h.opts.Options); ok {
		found, allowed = fs, al
	} else if text, ok := textOf(data, !h.opts.SkipBinary); !ok {
		skipBinary = true
	} else {
		isLFS = bytes.HasPrefix(text, lfsPointer)
		found, allowed = ScanBytes(det, text, "", "")
	}
	mu.Lock()
	defer mu.Unlock()
	h.seen[b] = true
	if !skipBinary && !skipLarge {
		// Counted as scanned only when scanned: a too-large blob
		// inflated as another's delta base is only "too large".
		st.files++
		st.size += int64(len(data))
	}
	if skipBinary {
		st.binary++
	}
	if skipLarge {
		st.tooLarge++
		h.skipLarge(b)
	}
	if isLFS {
		st.lfs++
	}
	if len(allowed) > 0 {
		h.allowHits[b] = allowed
	}
	if len(found) > 0 {
		h.hits[b] = found
	}
}

// skipLarge records a blob skipped for its size (under the blob pass's
// lock), for the summary to name its paths.
func (h *history) skipLarge(b plumbing.Hash) {
	if h.tooLarge == nil {
		h.tooLarge = map[plumbing.Hash]bool{}
	}
	h.tooLarge[b] = true
}

// tooLargePaths returns the paths (sorted, at most max) at which the
// scanned commits introduced a blob skipped for its size, and how many
// such paths there are.
func (h *history) tooLargePaths(max int) ([]string, int) {
	if len(h.tooLarge) == 0 {
		return nil, 0
	}
	ids := map[int32]bool{}
	for _, in := range h.intros {
		if h.tooLarge[in.blob] {
			ids[in.path] = true
		}
	}
	paths := make([]string, 0, len(ids))
	for id := range ids {
		paths = append(paths, h.paths.list[id])
	}
	sort.Strings(paths)
	return paths[:min(len(paths), max)], len(paths)
}

// readFewBlobs reads the needed blobs one by one, in hash order. A blob the
// database lacks is left unseen (checkMissing counts it); any other read
// error is reported.
func (h *history) readFewBlobs(ctx context.Context, prog *odb.Progress, scan func(plumbing.Hash, []byte)) []error {
	list := slices.SortedFunc(maps.Keys(h.needed), func(a, b plumbing.Hash) int { return bytes.Compare(a[:], b[:]) })
	prog.Total.Store(int64(len(list)))
	var errs []error
	for _, b := range list {
		if err := ctx.Err(); err != nil {
			return append(errs, err)
		}
		data, err := h.r.db.ReadType(b, odb.Blob)
		switch {
		case errors.Is(err, odb.ErrNotFound):
			continue
		case err != nil:
			errs = append(errs, fmt.Errorf("read blob %s: %w", b, err))
			continue
		}
		scan(b, data)
		prog.Done.Add(1)
		prog.Bytes.Add(int64(len(data)))
	}
	return errs
}

// checkMissing merges the blob pass's results and reports, as one error,
// the blobs the history names but the database does not hold: a scan that
// could not read them is incomplete, partial clone or not.
func (h *history) checkMissing(ctx context.Context) {
	h.res.Errors = append(h.res.Errors, h.blobErrs...)
	st := &h.res.Stats
	st.Files, st.Bytes = h.blobStats.Files, h.blobStats.Bytes
	st.Binary, st.TooLarge = h.blobStats.Binary, h.blobStats.TooLarge
	st.TooLargePaths, st.TooLargePathCount = h.tooLargePaths(maxTooLargePaths)
	h.arch.finish(h)
	if h.lfs > 0 {
		h.res.Stats.Notes = append(h.res.Stats.Notes, fmt.Sprintf(
			"%d Git LFS pointer file(s): their content is stored outside git and was not scanned", h.lfs))
	}
	if ctx.Err() != nil {
		return // the blob pass stopped early: unseen blobs are not missing
	}
	missing := map[plumbing.Hash]bool{}
	for _, b := range h.missingLate {
		missing[b] = true
	}
	var notBlobs []error
	for b := range h.needed {
		if !h.seen[b] && !missing[b] {
			switch t, err := h.r.db.TypeOf(ctx, b); {
			case errors.Is(err, odb.ErrNotFound):
				missing[b] = true
			case err != nil:
				notBlobs = append(notBlobs, fmt.Errorf("read a blob a tree names: %w", err))
			case t != odb.Blob:
				// A tree naming a tree (or a commit) as a file: git cannot
				// check it out, and what it holds was not scanned as a file.
				notBlobs = append(notBlobs, fmt.Errorf("object %s is a %s where a tree names a file: "+
					"the repository is corrupt, and it was not scanned", b, t))
			}
		}
	}
	slices.SortFunc(notBlobs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	h.res.Errors = append(h.res.Errors, notBlobs...)
	if err := missingBlobsError(len(missing), slices.Collect(maps.Keys(missing)), h.partial); err != nil {
		h.res.Errors = append(h.res.Errors, err)
	}
	if n := len(h.missingTrees); n > 0 {
		h.res.Errors = append(h.res.Errors, fmt.Errorf("%d %w: the repository is a partial clone (git clone "+
			"--filter=tree:…) and they were never fetched, so what they hold was not scanned; scan a clone that has them", n, errMissingTrees))
	}
}

// errMissingTrees is wrapped by the one error a scan of a partial clone
// returns for the trees it needed and could not find.
var errMissingTrees = errors.New("tree(s) missing")

// errMissingBlobs is wrapped by the one error a scan returns for the blobs
// it needed and could not find.
var errMissingBlobs = errors.New("blob(s) missing")

// missingBlobsError returns one error for n missing blobs (some of them
// listed), saying why they are missing and what to do, or nil for none.
func missingBlobsError(n int, some []plumbing.Hash, partial bool) error {
	if n == 0 {
		return nil
	}
	sort.Slice(some, func(i, j int) bool { return bytes.Compare(some[i][:], some[j][:]) < 0 })
	const show = 3
	var names []string
	for i, b := range some {
		if i == show {
			names = append(names, "…")
			break
		}
		names = append(names, b.String())
	}
	if partial {
		return fmt.Errorf("%d %w (%s): the repository is a partial clone (git clone --filter) and they were never "+
			"fetched, so they were not scanned; fetch them ('git backfill' with git 2.49 or later, or fetch these "+
			"objects from the promisor remote) or scan a full clone", n, errMissingBlobs, strings.Join(names, ", "))
	}
	return fmt.Errorf("%d %w from the object database (the repository is corrupt), so they were not scanned: %s",
		n, errMissingBlobs, strings.Join(names, ", "))
}

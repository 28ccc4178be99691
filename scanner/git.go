package scanner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gemscan-dev/gemscan/internal/odb"
)

// GitOptions select what history to scan.
type GitOptions struct {
	Options
	// Range "A..B" scans only what the commits reachable from B but not
	// from A introduced.
	Range string
	// Include and Exclude, like Range, select the commits reachable from
	// some Include revision and from no Exclude revision.
	Include, Exclude []string
	// IgnoreFrom, when set, is the commit (40 hex digits) whose tree's
	// .gemscanignore applies instead of HEAD's: a pull request must not
	// ignore its own findings.
	IgnoreFrom string
	// Branches limits the refs whose history is scanned.
	Branches []string
	// ExcludeRefs excludes the history of every ref whose full name starts
	// with one of these prefixes ("refs/" for all of them, as git's
	// --not --all; "refs/remotes/origin/" for what a remote has).
	ExcludeRefs []string
	// ObjectDir and AlternateObjectDirs, when set, replace the repository's
	// objects directory as GIT_OBJECT_DIRECTORY and
	// GIT_ALTERNATE_OBJECT_DIRECTORIES do (a pre-receive hook's quarantine).
	ObjectDir           string
	AlternateObjectDirs []string
	// Since skips commits committed before it.
	Since time.Time
	// OnProgress, when set, is called about five times a second during
	// the blob pass with the blobs done, the total and the bytes scanned.
	OnProgress func(done, total, bytes int64)
}

// commitNode is one commit of the scanned history. It holds no pointer,
// so the collector never walks the graph: parents live in the history's
// arenas, and the author is read again for the few commits that introduce
// a finding.
type commitNode struct {
	hash       plumbing.Hash
	tree       plumbing.Hash
	commitTime int64
	// parentHashes[parentAt : parentAt+nParents] are its parents, read
	// from the commit; links[linkAt : linkAt+nLinks] those in the graph.
	parentAt, nParents int32
	linkAt, nLinks     int32
	order              int32 // position in parents-first order
}

// intro says that commit order placed blob at path: no parent of the
// commit had that blob at that path.
type intro struct {
	path  int32
	blob  plumbing.Hash
	order int32
}

// ScanGit scans the history of the repository at path: every blob that any
// selected commit introduced is read and scanned once, then each credential
// is attributed, per path, to the earliest commit that introduced it there.
func ScanGit(ctx context.Context, path string, opts GitOptions) *Result {
	return scanGit(ctx, path, opts, maxDiffEntries)
}

// scanGit is ScanGit with a budget of tree entries per commit diff.
func scanGit(ctx context.Context, path string, opts GitOptions, maxEntries int) *Result {
	start := time.Now()
	res := &Result{}
	defer func() { res.Stats.Duration = time.Since(start) }()
	r, err := openRepo(path)
	if err != nil {
		res.Errors = append(res.Errors, err)
		return res
	}
	defer r.close()
	if opts.ObjectDir != "" {
		if err := r.useObjectDirs(opts.ObjectDir, opts.AlternateObjectDirs); err != nil {
			res.Errors = append(res.Errors, err)
			return res
		}
	}
	if err := r.db.LoadIndexes(); err != nil {
		res.Errors = append(res.Errors, err)
		return res
	}
	h := &history{r: r, res: res, opts: opts, maxEntries: maxEntries}
	whole := opts.Range == "" && len(opts.Include) == 0 && len(opts.Branches) == 0 && opts.Since.IsZero()
	blobCtx, stopBlobs := context.WithCancel(ctx)
	defer stopBlobs()
	var blobsDone chan struct{}
	if whole {
		// A whole-history audit scans (nearly) every blob anyway: scan them
		// all from the start, while the commits are loaded (seconds of one
		// core on a large history) and diffed.
		blobsDone = make(chan struct{})
		go func() {
			defer close(blobsDone)
			h.scanBlobs(blobCtx, nil)
		}()
	}
	// abandon stops the blob pass when the scan cannot go on.
	abandon := func() {
		stopBlobs()
		if blobsDone != nil {
			<-blobsDone
		}
	}
	if err := h.graph(ctx); err != nil {
		abandon()
		res.Errors = append(res.Errors, err)
		return res
	}
	if ctx.Err() != nil {
		abandon()
		addCtxErr(ctx, res)
		return res
	}
	if whole {
		h.diffAll(ctx)
		<-blobsDone
	} else {
		h.diffAll(ctx)
		h.scanBlobs(ctx, func(b plumbing.Hash) bool { return h.needed[b] })
	}
	h.attribute()
	if h.opts.Range == "" && len(h.opts.Include) == 0 && len(h.opts.Branches) == 0 {
		h.scanTagged(ctx)
	}
	h.checkMissing(ctx)
	SortFindings(res.Findings)
	addCtxErr(ctx, res)
	return res
}

type history struct {
	r    *repo
	res  *Result
	opts GitOptions
	// maxEntries bounds the tree entries one commit's diff visits.
	maxEntries int
	// runSize, when positive, replaces diffRun (tests).
	runSize int
	nodes   []commitNode
	// parentHashes and links are the arenas of commitNode's parents.
	parentHashes []plumbing.Hash
	links        []int32
	byH          map[plumbing.Hash]int32
	// tipNames names a ref for each tip commit, for errors.
	tipNames map[plumbing.Hash]string
	// selected commits, in parents-first order
	order []int32
	// intros in parents-first order
	intros  []intro
	paths   pathTable // every path the intros name
	needed  map[plumbing.Hash]bool
	hits    map[plumbing.Hash][]Finding // located, without path or attribution
	trees   map[plumbing.Hash][]odb.TreeEntry
	shallow map[plumbing.Hash]bool
	lfs     int
	submods map[string]bool
	// removals[p] lists the orders of the commits whose diff against
	// their first parent removed path p (a directory ends in "/").
	removals map[string][]int32
	// introsAt indexes h.intros by path, for the paths with findings.
	introsAt map[int32][]int
	// headHits holds the findings of HEAD's blobs read for attribution
	// (those on gemscan:allow lines too).
	headHits map[plumbing.Hash][]Finding
	// allowHits are the blob pass's hits on gemscan:allow lines, kept to be
	// shown as suppressed.
	allowHits map[plumbing.Hash][]Finding
	// introduced holds the blobs some selected commit introduced (set by
	// scanTagged).
	introduced map[plumbing.Hash]bool
	// partial is set for a partial clone, whose missing trees are
	// counted in missingTrees.
	partial      bool
	missingTrees map[plumbing.Hash]bool
	// missingLate are blobs attribution needed and the database lacks.
	missingLate []plumbing.Hash
	// written by scanBlobs, read after it returns
	seen      map[plumbing.Hash]bool
	blobErrs  []error
	blobStats Stats
	arch      blobArchives           // what archive blobs held besides findings
	tooLarge  map[plumbing.Hash]bool // blobs skipped for their size
}

func (h *history) errorf(format string, args ...any) {
	h.res.Errors = append(h.res.Errors, fmt.Errorf(format, args...))
}

// addCtxErr reports ctx's error once if the scan was cancelled: a cut-short
// scan is incomplete, never clean.
func addCtxErr(ctx context.Context, res *Result) {
	err := ctx.Err()
	if err == nil {
		return
	}
	for _, e := range res.Errors {
		if errors.Is(e, err) {
			return
		}
	}
	res.Errors = append(res.Errors, fmt.Errorf("scan interrupted: %w", err))
}

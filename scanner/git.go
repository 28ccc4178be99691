package scanner

import (
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
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
	// Branches limits the refs whose history is scanned.
	Branches []string
	// Since skips commits committed before it.
	Since time.Time
	// OnProgress, when set, is called about five times a second during
	// the blob pass with the blobs done, the total and the bytes scanned.
	OnProgress func(done, total, bytes int64)
}

// commitNode is one commit of the scanned history.
type commitNode struct {
	hash    plumbing.Hash
	info    odb.CommitInfo
	parents []int32 // indexes of parents that are in the graph
	order   int32   // position in parents-first order
}

// intro says that commit order placed blob at path: the blob is new at
// that path relative to the commit's first parent.
type intro struct {
	path  int32
	blob  plumbing.Hash
	order int32
}

// ScanGit scans the history of the repository at path: every blob that any
// selected commit introduced is read and scanned once, then each credential
// is attributed, per path, to the earliest commit that introduced it there.
func ScanGit(ctx context.Context, path string, opts GitOptions) *Result {
	start := time.Now()
	res := &Result{}
	defer func() { res.Stats.Duration = time.Since(start) }()
	r, err := openRepo(path)
	if err != nil {
		res.Errors = append(res.Errors, err)
		return res
	}
	defer r.close()
	if err := r.db.LoadIndexes(); err != nil {
		res.Errors = append(res.Errors, err)
		return res
	}
	h := &history{r: r, res: res, opts: opts, paths: map[string]int32{}}
	if err := h.graph(); err != nil {
		res.Errors = append(res.Errors, err)
		return res
	}
	if ctx.Err() != nil {
		res.Errors = append(res.Errors, ctx.Err())
		return res
	}
	if h.opts.Range == "" && len(h.opts.Include) == 0 && len(h.opts.Branches) == 0 && h.opts.Since.IsZero() {
		// A whole-history audit scans (nearly) every blob anyway: scan them
		// all while the commits are being diffed, on the other core.
		done := make(chan struct{})
		go func() {
			defer close(done)
			h.scanBlobs(ctx, nil)
		}()
		h.diffAll(ctx)
		<-done
	} else {
		h.diffAll(ctx)
		h.scanBlobs(ctx, func(b plumbing.Hash) bool { return h.needed[b] })
	}
	h.checkMissing()
	h.attribute()
	SortFindings(res.Findings)
	return res
}

type history struct {
	r     *repo
	res   *Result
	opts  GitOptions
	nodes []commitNode
	byH   map[plumbing.Hash]int32
	// selected commits, in parents-first order
	order []int32
	// intros in parents-first order
	intros   []intro
	paths    map[string]int32
	pathList []string
	needed   map[plumbing.Hash]bool
	hits     map[plumbing.Hash][]Finding // located, without path or attribution
	trees    map[plumbing.Hash][]odb.TreeEntry
	shallow  map[plumbing.Hash]bool
	lfs      int
	submods  map[string]bool
	// written by scanBlobs, read after it returns
	seen      map[plumbing.Hash]bool
	blobErrs  []error
	blobStats Stats
	arch      blobArchives
}

func (h *history) errorf(format string, args ...any) {
	h.res.Errors = append(h.res.Errors, fmt.Errorf(format, args...))
}

// graph loads every commit reachable from the tips (or in the range) and
// orders the selected ones parents first, oldest first among the ready.
func (h *history) graph() error {
	r := h.r
	var err error
	if h.shallow, err = r.shallow(); err != nil {
		return err
	}
	if len(h.shallow) > 0 {
		h.res.Stats.Notes = append(h.res.Stats.Notes, fmt.Sprintf(
			"the repository is a shallow clone: history behind %d boundary commit(s) is not present and was not scanned", len(h.shallow)))
	}
	h.byH = map[plumbing.Hash]int32{}
	var starts []plumbing.Hash
	exclude := map[plumbing.Hash]bool{}
	include, excludeRevs := h.opts.Include, h.opts.Exclude
	if h.opts.Range != "" {
		from, to, ok := strings.Cut(h.opts.Range, "..")
		if !ok || to == "" {
			return fmt.Errorf("--range %q: want A..B", h.opts.Range)
		}
		include = append(include, to)
		if from != "" {
			excludeRevs = append(excludeRevs, from)
		}
	}
	if len(include) > 0 {
		for _, rev := range include {
			c, err := r.resolve(rev)
			if err != nil {
				return fmt.Errorf("range: %w", err)
			}
			starts = append(starts, c)
		}
		for _, rev := range excludeRevs {
			c, err := r.resolve(rev)
			if err != nil {
				return fmt.Errorf("range: %w", err)
			}
			anc, err := h.ancestors(c)
			if err != nil {
				return err
			}
			for a := range anc {
				exclude[a] = true
			}
		}
	} else {
		tips, errs := r.tips(h.opts.Branches)
		h.res.Errors = append(h.res.Errors, errs...)
		for _, t := range tips {
			starts = append(starts, t.commit)
		}
	}
	// Load the commits: a stack walk, every commit read once.
	stack := append([]plumbing.Hash(nil), starts...)
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if _, ok := h.byH[c]; ok || exclude[c] {
			continue
		}
		info, err := h.readCommit(c)
		if err != nil {
			h.errorf("%v", err)
			continue
		}
		h.byH[c] = int32(len(h.nodes))
		h.nodes = append(h.nodes, commitNode{hash: c, info: info})
		if h.shallow[c] {
			continue
		}
		for _, p := range info.Parents {
			if _, ok := h.byH[p]; !ok && !exclude[p] {
				stack = append(stack, p)
			}
		}
	}
	// Link parents (only those in the graph), then Kahn's algorithm.
	children := make([][]int32, len(h.nodes))
	pending := make([]int, len(h.nodes))
	for i := range h.nodes {
		n := &h.nodes[i]
		if h.shallow[n.hash] {
			continue
		}
		for _, p := range n.info.Parents {
			if j, ok := h.byH[p]; ok {
				n.parents = append(n.parents, j)
				children[j] = append(children[j], int32(i))
				pending[i]++
			}
		}
	}
	q := &readyQueue{nodes: h.nodes}
	for i := range h.nodes {
		if pending[i] == 0 {
			heap.Push(q, int32(i))
		}
	}
	for q.Len() > 0 {
		i := heap.Pop(q).(int32)
		h.nodes[i].order = int32(len(h.order))
		h.order = append(h.order, i)
		for _, c := range children[i] {
			if pending[c]--; pending[c] == 0 {
				heap.Push(q, c)
			}
		}
	}
	return nil
}

func (h *history) readCommit(c plumbing.Hash) (odb.CommitInfo, error) {
	data, err := h.r.db.ReadType(c, odb.Commit)
	if err != nil {
		return odb.CommitInfo{}, fmt.Errorf("read commit: %w", err)
	}
	info, err := odb.ParseCommit(data)
	if err != nil {
		return info, fmt.Errorf("commit %s: %w", c, err)
	}
	return info, nil
}

// ancestors returns every commit reachable from c.
func (h *history) ancestors(c plumbing.Hash) (map[plumbing.Hash]bool, error) {
	seen := map[plumbing.Hash]bool{}
	stack := []plumbing.Hash{c}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[x] {
			continue
		}
		seen[x] = true
		if h.shallow[x] {
			continue
		}
		info, err := h.readCommit(x)
		if err != nil {
			return nil, err
		}
		stack = append(stack, info.Parents...)
	}
	return seen, nil
}

// readyQueue orders commits whose parents are done by commit time.
type readyQueue struct {
	nodes []commitNode
	items []int32
}

func (q *readyQueue) Len() int { return len(q.items) }
func (q *readyQueue) Less(i, j int) bool {
	a, b := &q.nodes[q.items[i]], &q.nodes[q.items[j]]
	if a.info.CommitTime != b.info.CommitTime {
		return a.info.CommitTime < b.info.CommitTime
	}
	return bytes.Compare(a.hash[:], b.hash[:]) < 0
}
func (q *readyQueue) Swap(i, j int) { q.items[i], q.items[j] = q.items[j], q.items[i] }
func (q *readyQueue) Push(x any)    { q.items = append(q.items, x.(int32)) }
func (q *readyQueue) Pop() any {
	x := q.items[len(q.items)-1]
	q.items = q.items[:len(q.items)-1]
	return x
}

// tree reads and parses a tree, caching recent ones.
func (h *history) tree(t plumbing.Hash) ([]odb.TreeEntry, error) {
	if es, ok := h.trees[t]; ok {
		return es, nil
	}
	data, err := h.r.db.ReadType(t, odb.Tree)
	if err != nil {
		return nil, err
	}
	es, err := odb.ParseTree(data)
	if err != nil {
		return nil, fmt.Errorf("tree %s: %w", t, err)
	}
	if len(h.trees) > 4096 {
		clear(h.trees)
	}
	h.trees[t] = es
	return es, nil
}

func (h *history) pathID(p string) int32 {
	if id, ok := h.paths[p]; ok {
		return id
	}
	id := int32(len(h.pathList))
	h.paths[p] = id
	h.pathList = append(h.pathList, p)
	return id
}

// diffAll records, for each selected commit, the blobs it introduced
// relative to its first parent, descending only into subtrees that changed.
func (h *history) diffAll(ctx context.Context) {
	h.trees = map[plumbing.Hash][]odb.TreeEntry{}
	h.needed = map[plumbing.Hash]bool{}
	h.submods = map[string]bool{}
	since := h.opts.Since.Unix()
	for _, i := range h.order {
		if ctx.Err() != nil {
			return
		}
		n := &h.nodes[i]
		if !h.opts.Since.IsZero() && n.info.CommitTime < since {
			continue
		}
		h.res.Stats.Commits++
		var parentTree plumbing.Hash
		if len(n.info.Parents) > 0 && !h.shallow[n.hash] {
			p := n.info.Parents[0]
			if j, ok := h.byH[p]; ok {
				parentTree = h.nodes[j].info.Tree
			} else if info, err := h.readCommit(p); err == nil {
				// A parent outside the range: diff against it all the same.
				parentTree = info.Tree
			} else {
				h.errorf("commit %s: parent: %v", n.hash, err)
			}
		}
		if err := h.diffTree(parentTree, n.info.Tree, "", n.order); err != nil {
			h.errorf("commit %s: %v", n.hash, err)
		}
	}
	for p := range h.submods {
		h.res.Stats.Notes = append(h.res.Stats.Notes, fmt.Sprintf("submodule %s is not entered: scan its own repository", p))
	}
	sort.Strings(h.res.Stats.Notes)
}

func (h *history) diffTree(old, cur plumbing.Hash, prefix string, order int32) error {
	if old == cur {
		return nil
	}
	curData, err := h.r.db.ReadType(cur, odb.Tree)
	if err != nil {
		return err
	}
	var oldData []byte
	if !old.IsZero() {
		if oldData, err = h.r.db.ReadType(old, odb.Tree); err != nil {
			return err
		}
	}
	// Both trees are sorted in git's order: merge them.
	oi, ni := odb.TreeIter{Data: oldData}, odb.TreeIter{Data: curData}
	o, haveO, err := oi.Next()
	if err != nil {
		return fmt.Errorf("tree %s: %w", old, err)
	}
	for {
		n, ok, err := ni.Next()
		if err != nil {
			return fmt.Errorf("tree %s: %w", cur, err)
		}
		if !ok {
			return nil
		}
		for haveO && odb.CompareEntries(o, n) < 0 {
			if o, haveO, err = oi.Next(); err != nil {
				return fmt.Errorf("tree %s: %w", old, err)
			}
		}
		had := haveO && odb.CompareEntries(o, n) == 0
		if had && o.Hash == n.Hash && o.Mode == n.Mode {
			continue
		}
		switch {
		case n.IsTree():
			var base plumbing.Hash
			if had {
				base = o.Hash
			}
			if err := h.diffTree(base, n.Hash, prefix+string(n.Name)+"/", order); err != nil {
				return err
			}
		case n.Mode == odb.ModeGitlink:
			h.submods[prefix+string(n.Name)] = true
		case n.IsBlob():
			if had && o.Hash == n.Hash {
				continue // only the mode changed
			}
			h.intros = append(h.intros, intro{path: h.pathID(prefix + string(n.Name)), blob: n.Hash, order: order})
			h.needed[n.Hash] = true
		}
	}
}

// lfsPointer is how a Git LFS pointer file starts.
var lfsPointer = []byte("version https://git-lfs.github.com/spec/")

// scanBlobs reads every wanted blob (all, when want is nil) once and keeps
// what it holds. It may run while diffAll does: it touches only its own
// fields.
func (h *history) scanBlobs(ctx context.Context, want func(plumbing.Hash) bool) {
	det := h.opts.detector()
	h.hits = map[plumbing.Hash][]Finding{}
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
	var binary, tooLarge, lfs, allowed, files, size int64
	errs := h.r.db.Blobs(ctx, odb.BlobsOptions{
		Want:     want,
		Workers:  runtime.GOMAXPROCS(0),
		Progress: prog,
		MaxSize:  h.opts.MaxFileSize,
		OnSkip: func(b plumbing.Hash, _ int64) {
			mu.Lock()
			seen[b] = true
			tooLarge++
			mu.Unlock()
		},
	}, func(b plumbing.Hash, data []byte) {
		var found []Finding
		var skipBinary, skipLarge, isLFS bool
		var nAllowed int
		if h.opts.MaxFileSize > 0 && int64(len(data)) > h.opts.MaxFileSize {
			skipLarge = true
		} else if fs, n, ok := h.arch.scan(ctx, det, b, data, &h.opts.Options); ok {
			found, nAllowed = fs, n
		} else if text, ok := textOf(data, h.opts.Binary); !ok {
			skipBinary = true
		} else {
			isLFS = bytes.HasPrefix(text, lfsPointer)
			found, nAllowed = ScanBytes(det, text, "", "")
		}
		mu.Lock()
		defer mu.Unlock()
		seen[b] = true
		files++
		size += int64(len(data))
		if skipBinary {
			binary++
		}
		if skipLarge {
			tooLarge++
		}
		if isLFS {
			lfs++
		}
		allowed += int64(nAllowed)
		if len(found) > 0 {
			h.hits[b] = found
		}
	})
	close(stop)
	tick.Wait()
	h.blobErrs = errs
	h.blobStats = Stats{Files: files, Bytes: size, Binary: binary, TooLarge: tooLarge, Allowed: allowed}
	h.lfs = int(lfs)
}

// checkMissing merges the blob pass's results and reports the blobs the
// history names but the database does not hold.
func (h *history) checkMissing() {
	h.res.Errors = append(h.res.Errors, h.blobErrs...)
	st := &h.res.Stats
	st.Files, st.Bytes = h.blobStats.Files, h.blobStats.Bytes
	st.Binary, st.TooLarge, st.Allowed = h.blobStats.Binary, h.blobStats.TooLarge, h.blobStats.Allowed
	h.arch.finish(h)
	if h.lfs > 0 {
		h.res.Stats.Notes = append(h.res.Stats.Notes, fmt.Sprintf(
			"%d Git LFS pointer file(s): their content is stored outside git and was not scanned", h.lfs))
	}
	var missing []string
	for b := range h.needed {
		if !h.seen[b] {
			if _, _, err := h.r.db.Read(b); errors.Is(err, odb.ErrNotFound) {
				missing = append(missing, b.String())
			}
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		if h.r.partialClone() {
			h.res.Stats.Notes = append(h.res.Stats.Notes, fmt.Sprintf(
				"partial clone: %d blob(s) are not present locally and were not scanned", len(missing)))
		} else {
			for _, m := range missing {
				h.errorf("object %s: %v", m, odb.ErrNotFound)
			}
		}
	}
}

// credKey identifies one credential at one path.
type credKey struct {
	rule, value string
	path        int32
}

// attribute turns blob hits into findings: one per credential per path,
// at the earliest commit (parents-first order) that put it there.
func (h *history) attribute() {
	if len(h.hits) == 0 {
		return
	}
	ignore := h.headIgnore()
	first := map[credKey]int{} // → index in h.intros
	for i, in := range h.intros {
		for _, hit := range h.hits[in.blob] {
			k := credKey{hit.Rule, hit.Value, in.path}
			if _, ok := first[k]; !ok {
				first[k] = i
			}
		}
	}
	headTree, hasHead := plumbing.ZeroHash, false
	if c, ok := h.r.head(); ok {
		if info, err := h.readCommit(c); err == nil {
			headTree, hasHead = info.Tree, true
		}
	}
	for k, i := range first {
		in := h.intros[i]
		p := h.pathList[in.path]
		if ignore != nil && ignore.matches(p) {
			continue
		}
		var f Finding
		for _, hit := range h.hits[in.blob] {
			if hit.Rule == k.rule && hit.Value == k.value {
				f = hit
				break
			}
		}
		n := &h.nodes[h.order[in.order]]
		f.File, f.Path = p+f.File, p+f.Path // an archive member's hit holds "!member"
		f.Commit = n.hash.String()
		f.Author, f.Date = n.info.Author, n.info.When()
		if hasHead {
			f.InHead = h.inTree(headTree, p, k.rule, k.value)
		}
		h.res.Findings = append(h.res.Findings, f)
	}
}

// inTree reports whether the blob at path in tree holds the credential.
func (h *history) inTree(tree plumbing.Hash, path, rule, value string) bool {
	b, ok := h.lookup(tree, path)
	if !ok {
		return false
	}
	hits, scanned := h.hits[b]
	if !scanned && !h.needed[b] {
		// Not introduced by any scanned commit (outside --range or
		// --since): read it now.
		data, err := h.r.db.ReadType(b, odb.Blob)
		if err != nil {
			return false
		}
		if text, ok := textOf(data, h.opts.Binary); ok {
			hits, _ = ScanBytes(h.opts.detector(), text, "", "")
		}
	}
	for _, hit := range hits {
		if hit.Rule == rule && hit.Value == value {
			return true
		}
	}
	return false
}

// lookup finds the blob at path in tree.
func (h *history) lookup(tree plumbing.Hash, path string) (plumbing.Hash, bool) {
	parts := strings.Split(path, "/")
	cur := tree
	for i, part := range parts {
		es, err := h.tree(cur)
		if err != nil {
			return plumbing.ZeroHash, false
		}
		found := false
		for _, e := range es {
			if e.Name == part {
				if i == len(parts)-1 {
					return e.Hash, e.IsBlob()
				}
				if !e.IsTree() {
					return plumbing.ZeroHash, false
				}
				cur, found = e.Hash, true
				break
			}
		}
		if !found {
			return plumbing.ZeroHash, false
		}
	}
	return plumbing.ZeroHash, false
}

// headIgnore reads .gemscanignore from HEAD's tree.
func (h *history) headIgnore() ignoreSet {
	c, ok := h.r.head()
	if !ok {
		return nil
	}
	info, err := h.readCommit(c)
	if err != nil {
		return nil
	}
	b, ok := h.lookup(info.Tree, IgnoreFile)
	if !ok {
		return nil
	}
	data, err := h.r.db.ReadType(b, odb.Blob)
	if err != nil {
		return nil
	}
	return ignoreSet{{matcher: compileIgnore(data)}}
}

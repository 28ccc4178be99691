package scanner

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gemscan-dev/gemscan/internal/odb"
)

// credKey identifies one credential at one path.
type credKey struct {
	rule, value string
	path        int32
	allowed     bool // on a gemscan:allow line
}

// headState is HEAD as attribution sees it.
type headState struct {
	tree plumbing.Hash
	ok   bool           // false on an unborn branch or an unreadable HEAD
	node int32          // HEAD's index in h.nodes, -1 when outside the graph
	anc  map[int32]bool // HEAD and its ancestors in the graph (by node)
}

// readHead resolves HEAD for attribution; failures are reported.
func (h *history) readHead() headState {
	st := headState{node: -1}
	c, ok, err := h.r.head()
	if err != nil {
		h.errorf("%w", err)
		return st
	}
	if !ok {
		return st
	}
	if j, in := h.byH[c]; in {
		st.tree, st.ok, st.node = h.nodes[j].tree, true, j
		return st
	}
	info, err := h.readCommit(c)
	if err != nil {
		h.errorf("HEAD: %w", err)
		return st
	}
	st.tree, st.ok = info.Tree, true
	return st
}

// headAncestors fills st.anc with HEAD and every ancestor of it in the graph.
func (h *history) headAncestors(st *headState) {
	if st.node < 0 || st.anc != nil {
		return
	}
	st.anc = map[int32]bool{}
	stack := []int32{st.node}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if st.anc[x] {
			continue
		}
		st.anc[x] = true
		stack = append(stack, h.linksOf(x)...)
	}
}

// attribute turns blob hits into findings: one per credential per path,
// at the earliest commit (parents-first order) that put it there. A finding
// still in HEAD gets its place in HEAD's version of the file; one that is
// not, the commit that removed it when HEAD's history shows it.
func (h *history) attribute() {
	if len(h.hits)+len(h.allowHits) == 0 {
		return
	}
	head := h.readHead()
	ignore := h.headIgnore(head)
	first := map[credKey]int{} // → index in h.intros
	for i, in := range h.intros {
		for _, hit := range h.hits[in.blob] {
			k := credKey{hit.Rule, hit.Value, in.path, false}
			if _, ok := first[k]; !ok {
				first[k] = i
			}
		}
		for _, hit := range h.allowHits[in.blob] {
			k := credKey{hit.Rule, hit.Value, in.path, true}
			if _, ok := first[k]; !ok {
				first[k] = i
			}
		}
	}
	h.introsAt = map[int32][]int{}
	for k := range first {
		h.introsAt[k.path] = nil
	}
	for i, in := range h.intros {
		if list, ok := h.introsAt[in.path]; ok {
			h.introsAt[in.path] = append(list, i)
		}
	}
	refs := h.refsReaching(first, head)
	for k, i := range first {
		in := h.intros[i]
		p := h.paths.list[in.path]
		hits := h.hits[in.blob]
		if k.allowed {
			hits = h.allowHits[in.blob]
		}
		var f Finding
		for _, hit := range hits {
			if hit.Rule == k.rule && hit.Value == k.value {
				f = hit
				break
			}
		}
		n := &h.nodes[h.order[in.order]]
		f.File, f.Path = p+f.File, p+f.Path // an archive member's hit holds "!member"
		f.Commit = n.hash.String()
		// The graph keeps no authors: read them for the commits that
		// introduce something.
		if info, err := h.readCommit(n.hash); err != nil {
			h.errorf("commit %s: %w (its author and date are not shown)", n.hash, err)
		} else {
			f.Author, f.Date = info.Author, info.When()
		}
		if names, ok := refs[h.order[in.order]]; ok {
			f.Refs = names
			if len(f.Refs) > MaxRefs {
				f.Refs, f.MoreRefs = f.Refs[:MaxRefs:MaxRefs], len(f.Refs)-MaxRefs
			}
		}
		if head.ok {
			if at, ok := h.inTree(head.tree, p, k.rule, k.value); ok {
				f.InHead = true
				f.HeadLine, f.HeadColumn = at.Line, at.Column
			} else if head.node >= 0 {
				h.headAncestors(&head)
				f.RemovedBy = h.removedBy(&head, k, in.order)
			}
		}
		h.res.keep(f, ignore != nil && ignore.matches(p), k.allowed)
	}
}

// MaxRefs is the most refs a finding names (Finding.Refs).
const MaxRefs = 10

// maxRefCommits bounds the introducing commits refsReaching names refs
// for: its work is the commits of the graph times this over 64.
const maxRefCommits = 64 * 64

// refsReaching names, for each introducing commit of first (by node), the
// refs whose history holds it: "where does this key live" when HEAD does
// not have it. Only a whole-history scan knows every ref's history; range
// and --branch scans get none. One pass over the commits in parents-first
// order per 64 introducing commits carries a bit for each to every
// descendant; a tip's bits are the introducing commits its ref reaches.
func (h *history) refsReaching(first map[credKey]int, head headState) map[int32][]string {
	if h.opts.Range != "" || len(h.opts.Include) > 0 || len(h.opts.Branches) > 0 {
		return nil
	}
	tips, _ := h.r.tips(nil) // errors were reported when the graph was loaded
	byNode := map[int32][]string{}
	for _, t := range tips {
		if j, ok := h.byH[t.commit]; ok {
			byNode[j] = append(byNode[j], t.name)
		}
	}
	if head.ok && head.node >= 0 {
		byNode[head.node] = append(byNode[head.node], "HEAD")
	}
	var intro []int32
	seen := map[int32]bool{}
	for _, i := range first {
		n := h.order[h.intros[i].order]
		if !seen[n] {
			seen[n] = true
			intro = append(intro, n)
		}
	}
	sort.Slice(intro, func(a, b int) bool { return intro[a] < intro[b] })
	if len(intro) > maxRefCommits {
		h.res.Stats.Notes = append(h.res.Stats.Notes, fmt.Sprintf(
			"findings come from %d commits: the refs holding them are named for the first %d only", len(intro), maxRefCommits))
		intro = intro[:maxRefCommits]
	}
	out := map[int32][]string{}
	bits := make([]uint64, len(h.nodes))
	for lo := 0; lo < len(intro); lo += 64 {
		batch := intro[lo:min(lo+64, len(intro))]
		clear(bits)
		for b, n := range batch {
			bits[n] |= 1 << b
		}
		for _, x := range h.order {
			for _, p := range h.linksOf(x) {
				bits[x] |= bits[p]
			}
		}
		for tipNode, names := range byNode {
			for b, n := range batch {
				if bits[tipNode]&(1<<b) != 0 {
					out[n] = append(out[n], names...)
				}
			}
		}
	}
	for n, names := range out {
		sort.Slice(names, func(a, b int) bool {
			ra, rb := refRank(names[a]), refRank(names[b])
			if ra != rb {
				return ra < rb
			}
			return names[a] < names[b]
		})
		out[n] = slices.Compact(names)
	}
	return out
}

// refRank orders ref names: HEAD, branches, tags, remote-tracking, others.
func refRank(name string) int {
	switch {
	case name == "HEAD":
		return 0
	case strings.HasPrefix(name, "refs/heads/"):
		return 1
	case strings.HasPrefix(name, "refs/tags/"):
		return 2
	case strings.HasPrefix(name, "refs/remotes/"):
		return 3
	}
	return 4
}

// removedBy returns the last commit of HEAD's history, after order from,
// whose diff against its first parent took the credential away from the
// path: deleted the file or a directory above it, or replaced the file by a
// version without the credential. It returns "" when the history diffed
// shows none (the credential was never on HEAD's line, or left it in a way
// only a merge's other parent shows).
func (h *history) removedBy(head *headState, k credKey, from int32) string {
	p := h.paths.list[k.path]
	type event struct {
		order  int32
		remove bool
	}
	var evs []event
	for _, o := range h.removals[p] {
		evs = append(evs, event{o, true})
	}
	for i := strings.IndexByte(p, '/'); i >= 0; {
		for _, o := range h.removals[p[:i+1]] {
			evs = append(evs, event{o, true})
		}
		j := strings.IndexByte(p[i+1:], '/')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	for _, o := range h.introsAt[k.path] {
		in := h.intros[o]
		holds := false
		for _, hit := range h.hits[in.blob] {
			if hit.Rule == k.rule && hit.Value == k.value {
				holds = true
				break
			}
		}
		evs = append(evs, event{in.order, !holds})
	}
	sort.SliceStable(evs, func(a, b int) bool { return evs[a].order < evs[b].order })
	last := ""
	for _, e := range evs {
		if e.order <= from {
			continue
		}
		n := h.order[e.order]
		if !head.anc[n] {
			continue
		}
		if e.remove {
			last = h.nodes[n].hash.String()
		} else {
			last = ""
		}
	}
	return last
}

// inTree returns where the blob at path in tree holds the credential, and
// false if it does not. A blob that should be read and cannot be is
// reported (a missing one is counted with the others).
func (h *history) inTree(tree plumbing.Hash, path, rule, value string) (Finding, bool) {
	b, ok, err := h.lookup(tree, path)
	if err != nil {
		h.errorf("HEAD's %s: %w", path, err)
		return Finding{}, false
	}
	if !ok {
		return Finding{}, false
	}
	hits, scanned := h.hits[b]
	if allowed, ok := h.allowHits[b]; ok {
		// On a gemscan:allow line, but in the tree all the same.
		hits, scanned = append(append([]Finding(nil), hits...), allowed...), true
	}
	if !scanned && !h.needed[b] {
		// Not introduced by any scanned commit (outside --range or
		// --since): read it now.
		if h.headHits == nil {
			h.headHits = map[plumbing.Hash][]Finding{}
		}
		if hits, scanned = h.headHits[b]; !scanned {
			data, err := h.r.db.ReadType(b, odb.Blob)
			switch {
			case errors.Is(err, odb.ErrNotFound):
				h.missingLate = append(h.missingLate, b)
			case err != nil:
				h.errorf("HEAD's %s: %w", path, err)
			default:
				if text, ok := textOf(data, !h.opts.SkipBinary); ok {
					var allowed []Finding
					hits, allowed = ScanBytes(h.opts.detector(), text, "", "")
					hits = append(hits, allowed...)
				}
			}
			h.headHits[b] = hits
		}
	}
	for _, hit := range hits {
		if hit.Rule == rule && hit.Value == value {
			return hit, true
		}
	}
	return Finding{}, false
}

// lookup finds the blob at path in tree; ok is false when there is none.
func (h *history) lookup(tree plumbing.Hash, path string) (b plumbing.Hash, ok bool, err error) {
	parts := strings.Split(path, "/")
	cur := tree
	for i, part := range parts {
		es, err := h.tree(cur)
		if err != nil {
			return plumbing.ZeroHash, false, err
		}
		found := false
		for _, e := range es {
			if e.Name == part {
				if i == len(parts)-1 {
					return e.Hash, e.IsBlob(), nil
				}
				if !e.IsTree() {
					return plumbing.ZeroHash, false, nil
				}
				cur, found = e.Hash, true
				break
			}
		}
		if !found {
			return plumbing.ZeroHash, false, nil
		}
	}
	return plumbing.ZeroHash, false, nil
}

// headIgnore reads .gemscanignore from HEAD's tree. A file that is there
// but cannot be read is an error: what it would have hidden is reported.
func (h *history) headIgnore(head headState) ignoreSet {
	tree, whose := head.tree, "HEAD's"
	if h.opts.IgnoreFrom != "" {
		// A pull request's own .gemscanignore does not count: its base's does.
		info, err := h.readCommit(plumbing.NewHash(h.opts.IgnoreFrom))
		if err != nil {
			h.errorf("read the %s of %.12s: %w", IgnoreFile, h.opts.IgnoreFrom, err)
			return nil
		}
		tree, whose = info.Tree, fmt.Sprintf("%.12s's", h.opts.IgnoreFrom)
	} else if !head.ok {
		return nil
	}
	b, ok, err := h.lookup(tree, IgnoreFile)
	if err != nil {
		h.errorf("read %s %s: %w", whose, IgnoreFile, err)
		return nil
	}
	if !ok {
		return nil
	}
	data, err := h.r.db.ReadType(b, odb.Blob)
	if err != nil {
		h.errorf("read %s %s: %w", whose, IgnoreFile, err)
		return nil
	}
	return ignoreSet{{matcher: compileIgnore(data)}}
}

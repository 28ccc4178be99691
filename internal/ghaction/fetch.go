package ghaction

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Spec is what to scan once the commits are present.
type Spec struct {
	// Full scans every ref's whole history.
	Full bool
	// Include and Exclude select the commits reachable from Include but
	// from none of Exclude.
	Include, Exclude []string
	// Commits is how many commits the range holds (0 for Full).
	Commits int
	// Notes say what had to be fetched or assumed.
	Notes []string
	// Empty marks a plan with nothing to scan (a deleted branch).
	Empty bool
}

// Git runs git in a repository. The remote is "origin".
type Git struct {
	Dir    string
	Remote string
	// Log, when set, receives a line for every fetch.
	Log func(string)
}

// gitEnv is the environment every git command runs in: no prompts, and
// every path taken literally (a path such as ":k.txt" or "*.txt" names that
// file, not pathspec magic or a glob).
func gitEnv() []string {
	return append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_LITERAL_PATHSPECS=1")
}

func (g *Git) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", g.Dir}, args...)...)
	cmd.Env = gitEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

func (g *Git) remote() string {
	if g.Remote == "" {
		return "origin"
	}
	return g.Remote
}

func (g *Git) fetch(ctx context.Context, args ...string) error {
	full := append([]string{"fetch", "--no-tags", "--quiet", g.remote()}, args...)
	if g.Log != nil {
		g.Log("git " + strings.Join(full, " "))
	}
	_, err := g.run(ctx, full...)
	return err
}

func (g *Git) hasCommit(ctx context.Context, sha string) bool {
	_, err := g.run(ctx, "cat-file", "-e", sha+"^{commit}")
	return err == nil
}

func (g *Git) shallow(ctx context.Context) (map[string]bool, error) {
	dir, err := g.run(ctx, "rev-parse", "--git-common-dir")
	if err != nil {
		return nil, err
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(g.Dir, dir)
	}
	data, err := os.ReadFile(filepath.Join(dir, "shallow"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, l := range strings.Fields(string(data)) {
		out[l] = true
	}
	return out, nil
}

// firstDepth is the depth of the first fetch; each deepening doubles it,
// and after maxDeepens the whole history is fetched.
const (
	firstDepth  = 64
	maxDeepens  = 6
	notRangeMsg = "make the checkout deeper (actions/checkout with fetch-depth: 0) or scan with 'gemscan git --range'"
)

// ensure fetches shas that are missing, with a bounded depth.
func (g *Git) ensure(ctx context.Context, shas ...string) []string {
	var missing []string
	for _, s := range shas {
		if s != "" && !g.hasCommit(ctx, s) {
			missing = append(missing, s)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := g.fetch(ctx, append([]string{fmt.Sprintf("--depth=%d", firstDepth)}, missing...)...); err != nil {
		// Fetch one by one: one unreachable commit must not hide the rest.
		for _, s := range missing {
			g.fetch(ctx, fmt.Sprintf("--depth=%d", firstDepth), s)
		}
	}
	var still []string
	for _, s := range missing {
		if !g.hasCommit(ctx, s) {
			still = append(still, s)
		}
	}
	return still
}

// complete lists the range's commits and reports whether the list is
// right: no listed commit sits on the shallow boundary, and the excluded
// side's history reaches back past the oldest listed commit.
func (g *Git) complete(ctx context.Context, include, exclude []string) (int, bool, error) {
	args := append([]string{"rev-list"}, include...)
	if len(exclude) > 0 {
		args = append(args, "--not")
		args = append(args, exclude...)
	}
	out, err := g.run(ctx, args...)
	if err != nil {
		return 0, false, err
	}
	shallow, err := g.shallow(ctx)
	if err != nil {
		return 0, false, err
	}
	n := 0
	for _, c := range strings.Fields(out) {
		n++
		if shallow[c] {
			return n, false, nil
		}
	}
	if len(shallow) == 0 || len(exclude) == 0 || n == 0 {
		return n, true, nil
	}
	// In a shallow checkout an exclusion only excludes what its own cut
	// history holds: a commit reachable from both sides, but from the
	// excluded side only through a missing parent of one of its shallow
	// boundary commits, would be listed as the range's. Such a commit is
	// older than that boundary; so the list is right once every listed
	// commit is newer than every boundary the excluded side reaches.
	known, err := g.run(ctx, append([]string{"rev-list"}, exclude...)...)
	if err != nil {
		return n, false, err
	}
	var bounds []string
	for _, c := range strings.Fields(known) {
		if shallow[c] {
			bounds = append(bounds, c)
		}
	}
	if len(bounds) == 0 {
		return n, true, nil
	}
	newestBound, err := g.dates(ctx, append([]string{"log", "--no-walk", "--format=%ct"}, bounds...), func(a, b int64) int64 { return max(a, b) })
	if err != nil {
		return n, false, err
	}
	oldestListed, err := g.dates(ctx, append(append([]string{"log", "--format=%ct"}, include...), append([]string{"--not"}, exclude...)...), func(a, b int64) int64 { return min(a, b) })
	if err != nil {
		return n, false, err
	}
	return n, oldestListed > newestBound, nil
}

// dates runs a git log printing Unix times and folds them with pick.
func (g *Git) dates(ctx context.Context, args []string, pick func(a, b int64) int64) (int64, error) {
	out, err := g.run(ctx, args...)
	if err != nil {
		return 0, err
	}
	var acc int64
	for i, f := range strings.Fields(out) {
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("git %s: bad date %q", args[0], f)
		}
		if i == 0 {
			acc = v
		} else {
			acc = pick(acc, v)
		}
	}
	return acc, nil
}

// deepen makes the shallow checkout deeper around wants: step i doubles
// the depth; past maxDeepens it fetches the whole history. It returns false
// once there is nothing deeper to fetch.
func (g *Git) deepen(ctx context.Context, step int, wants []string) (bool, error) {
	sh, err := g.shallow(ctx)
	if err != nil || len(sh) == 0 {
		return false, err
	}
	if step >= maxDeepens {
		return true, g.fetch(ctx, append([]string{"--unshallow"}, wants...)...)
	}
	return true, g.fetch(ctx, append([]string{fmt.Sprintf("--deepen=%d", firstDepth<<step)}, wants...)...)
}

// wants turns revisions into what fetch can ask for: shas as they are,
// remote-tracking refs as the branches they track.
func (g *Git) wants(revs []string) []string {
	var out []string
	prefix := "refs/remotes/" + g.remote() + "/"
	for _, r := range revs {
		if b, ok := strings.CutPrefix(r, prefix); ok {
			out = append(out, "+refs/heads/"+b+":"+r)
		} else if isSHA(r) {
			out = append(out, r)
		}
	}
	return out
}

// resolveRange deepens the checkout until the range is whole, or fails.
func (g *Git) resolveRange(ctx context.Context, include, exclude []string, spec *Spec) error {
	for step := 0; ; step++ {
		n, ok, err := g.complete(ctx, include, exclude)
		if err != nil {
			return err
		}
		if ok {
			spec.Commits = n
			return nil
		}
		more, err := g.deepen(ctx, step, g.wants(append(append([]string(nil), include...), exclude...)))
		if err != nil {
			return fmt.Errorf("the range %s is deeper than this checkout and fetching more failed: %w; %s",
				rangeText(include, exclude), err, notRangeMsg)
		}
		if !more {
			return fmt.Errorf("cannot resolve the range %s in this checkout; %s", rangeText(include, exclude), notRangeMsg)
		}
	}
}

// mergeBase finds the best common ancestor of a and b, deepening the
// checkout until it is found or the history is whole; "" means none.
func (g *Git) mergeBase(ctx context.Context, a, b string) (string, error) {
	for step := 0; ; step++ {
		if mb, err := g.run(ctx, "merge-base", a, b); err == nil && mb != "" {
			return mb, nil
		}
		more, err := g.deepen(ctx, step, []string{a, b})
		if err != nil {
			return "", fmt.Errorf("deepen the checkout: %w; %s", err, notRangeMsg)
		}
		if !more {
			return "", nil
		}
	}
}

func rangeText(include, exclude []string) string {
	s := strings.Join(short(include), " ")
	if len(exclude) > 0 {
		s = strings.Join(short(exclude), ",") + ".." + s
	}
	return s
}

func short(shas []string) []string {
	out := make([]string, len(shas))
	for i, s := range shas {
		if len(s) > 12 {
			s = s[:12]
		}
		out[i] = s
	}
	return out
}

// Prepare fetches what the plan needs and says what to scan. In a partial
// clone it also fetches every blob the scan will read: those of the range
// (or of every ref, for a full scan) and those of HEAD's tree.
func (g *Git) Prepare(ctx context.Context, p Plan) (Spec, error) {
	spec, err := g.prepare(ctx, p)
	if err != nil || spec.Empty {
		return spec, err
	}
	revs := []string{"--all"}
	if !spec.Full {
		revs = append(append(append([]string(nil), spec.Include...), "--not"), spec.Exclude...)
		if len(spec.Exclude) == 0 {
			revs = spec.Include
		}
	}
	n, err := g.FillBlobs(ctx, revs...)
	// The trees the findings are located in: HEAD's, and the range's heads'
	// (pull_request_target checks out the base).
	trees := spec.Include
	if _, herr := g.run(ctx, "rev-parse", "--verify", "--quiet", "HEAD^{commit}"); herr == nil {
		trees = append([]string{"HEAD"}, trees...)
	}
	if err == nil && len(trees) > 0 {
		var m int
		m, err = g.FillBlobs(ctx, append([]string{"--no-walk"}, trees...)...)
		n += m
	}
	if n > 0 {
		spec.Notes = append(spec.Notes, fmt.Sprintf("partial clone: fetched %d object(s) the scan needs from the remote", n))
	}
	return spec, err
}

func (g *Git) prepare(ctx context.Context, p Plan) (Spec, error) {
	var spec Spec
	switch {
	case p.Deleted:
		spec.Empty = true
		return spec, nil
	case p.Full:
		spec.Full = true
		if sh, _ := g.shallow(ctx); len(sh) > 0 {
			if err := g.fetch(ctx, "--unshallow", "--tags", "+refs/heads/*:refs/remotes/"+g.remote()+"/*"); err != nil {
				return spec, fmt.Errorf("fetch the whole history: %w; %s", err, notRangeMsg)
			}
			spec.Notes = append(spec.Notes, "fetched the whole history of the shallow checkout")
		} else {
			// Other branches and tags are part of the audit too: an audit
			// without them is incomplete, not clean.
			if err := g.fetch(ctx, "--tags", "+refs/heads/*:refs/remotes/"+g.remote()+"/*"); err != nil {
				return spec, fmt.Errorf("fetch the other branches and tags: %w", err)
			}
		}
		return spec, nil
	case p.NewBranch:
		return g.prepareNewBranch(ctx, p)
	}
	missing := g.ensure(ctx, p.Head, p.Base)
	if len(missing) > 0 && p.PR > 0 && contains(missing, p.Head) {
		// A fork's head is not advertised by sha: fetch the PR's ref.
		ref := fmt.Sprintf("+refs/pull/%d/head:refs/remotes/%s/pr/%d", p.PR, g.remote(), p.PR)
		if err := g.fetch(ctx, fmt.Sprintf("--depth=%d", firstDepth), ref); err == nil {
			missing = g.ensure(ctx, p.Head, p.Base)
		}
	}
	if contains(missing, p.Head) {
		return spec, fmt.Errorf("commit %.12s (the head of %s) is not in the checkout and could not be fetched; %s", p.Head, p.Describe(), notRangeMsg)
	}
	base := p.Base
	if contains(missing, base) {
		if p.Event != "push" {
			return spec, fmt.Errorf("commit %.12s (the base of %s) could not be fetched; %s", base, p.Describe(), notRangeMsg)
		}
		// A force-push whose old tip is gone: scan it as a new branch.
		spec.Notes = append(spec.Notes, fmt.Sprintf("the push's previous tip %.12s is gone (force-push): scanning what the default branch does not have, as for a new branch", base))
		p.NewBranch = true
		s2, err := g.prepareNewBranch(ctx, p)
		s2.Notes = append(spec.Notes, s2.Notes...)
		return s2, err
	}
	if p.Event == "push" {
		mb, err := g.mergeBase(ctx, base, p.Head)
		if err != nil {
			return spec, err
		}
		switch {
		case mb == "":
			spec.Notes = append(spec.Notes, fmt.Sprintf("force-push: %.12s and %.12s share no history; scanning what the default branch does not have, as for a new branch", base, p.Head))
			p.NewBranch = true
			s2, err := g.prepareNewBranch(ctx, p)
			s2.Notes = append(spec.Notes, s2.Notes...)
			return s2, err
		case mb != base:
			spec.Notes = append(spec.Notes, fmt.Sprintf("force-push: %.12s is no longer an ancestor of %.12s; scanning from their merge base %.12s", base, p.Head, mb))
			base = mb
		}
	}
	spec.Include, spec.Exclude = []string{p.Head}, []string{base}
	err := g.resolveRange(ctx, spec.Include, spec.Exclude, &spec)
	return spec, err
}

// prepareNewBranch scans what a push that created a branch brought. The
// other branches as they are when the job runs say nothing about what
// existed before the push: one push can create two branches holding the
// same new commit, or bring a whole imported repository. So only the
// default branch is left out, and only when this push did not create it;
// scanning a little more is fine, scanning nothing is not.
func (g *Git) prepareNewBranch(ctx context.Context, p Plan) (Spec, error) {
	var spec Spec
	if missing := g.ensure(ctx, p.Head); len(missing) > 0 {
		return spec, fmt.Errorf("commit %.12s (the pushed commit) could not be fetched; %s", p.Head, notRangeMsg)
	}
	spec.Include = []string{p.Head}
	switch {
	case p.DefaultBranch == "":
		spec.Notes = append(spec.Notes, "the event names no default branch: scanning the new branch's whole history")
	case !p.excludesDefault():
		spec.Notes = append(spec.Notes, fmt.Sprintf("this push created the default branch %s: scanning its whole history", p.DefaultBranch))
	default:
		ref := "refs/heads/" + p.DefaultBranch
		if _, err := g.run(ctx, "check-ref-format", ref); err != nil {
			return spec, fmt.Errorf("the event's default branch %q is not a branch name: %w", p.DefaultBranch, err)
		}
		tracking := "refs/remotes/" + g.remote() + "/" + p.DefaultBranch
		if err := g.fetch(ctx, fmt.Sprintf("--depth=%d", firstDepth), "+"+ref+":"+tracking); err != nil {
			// No default branch on the remote yet (an empty repository):
			// nothing is known to exist, so everything is new.
			spec.Notes = append(spec.Notes, fmt.Sprintf("could not fetch the default branch %s (%v): scanning the new branch's whole history", p.DefaultBranch, err))
		} else {
			spec.Exclude = []string{tracking}
		}
	}
	err := g.resolveRange(ctx, spec.Include, spec.Exclude, &spec)
	return spec, err
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

package ghaction

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// promisor returns the remote a partial clone (actions/checkout with
// filter: blob:none) fetches missing objects from, or "" for a repository
// that is not one.
func (g *Git) promisor(ctx context.Context) string {
	if name, err := g.run(ctx, "config", "--get", "extensions.partialClone"); err == nil && name != "" {
		return name
	}
	// "git fetch --filter" into a plain repository (what actions/checkout
	// does) marks the remote a promisor without that extension.
	if v, err := g.run(ctx, "config", "--type=bool", "--get", "remote."+g.remote()+".promisor"); err == nil && v == "true" {
		return g.remote()
	}
	out, _ := g.run(ctx, "config", "--type=bool", "--get-regexp", `^remote\..*\.promisor$`)
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, " "); ok && v == "true" {
			return strings.TrimSuffix(strings.TrimPrefix(k, "remote."), ".promisor")
		}
	}
	return "" // not a partial clone
}

// missingObjects lists the objects that revs (rev-list arguments) reach and
// the repository does not hold, without fetching them.
func (g *Git) missingObjects(ctx context.Context, revs []string) ([]string, error) {
	out, err := g.run(ctx, append([]string{"rev-list", "--objects", "--missing=print"}, revs...)...)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, l := range strings.Split(out, "\n") {
		if oid, ok := strings.CutPrefix(l, "?"); ok {
			missing = append(missing, oid)
		}
	}
	return missing, nil
}

// fillRounds bounds the fetches of FillBlobs: a treeless clone (filter
// tree:0) reveals the blobs under a missing tree only once the tree is
// there, so each round may uncover more.
const fillRounds = 4

// FillBlobs makes sure a partial clone holds every object revs (rev-list
// arguments, e.g. HEAD --not BASE) reach: it fetches the missing ones from
// the promisor remote in one request per round, as git's own lazy fetch
// does, and fails naming how many are still missing, and why. It does
// nothing in a repository that is not a partial clone (there, a missing
// object is corruption the scan reports).
func (g *Git) FillBlobs(ctx context.Context, revs ...string) (fetched int, err error) {
	remote := g.promisor(ctx)
	if remote == "" {
		return 0, nil
	}
	var why string
	for round := 0; ; round++ {
		missing, err := g.missingObjects(ctx, revs)
		if err != nil {
			return fetched, fmt.Errorf("list the objects of %s: %w", strings.Join(short(revs), " "), err)
		}
		if len(missing) == 0 {
			return fetched, nil
		}
		if round == fillRounds || why != "" {
			if why == "" {
				why = "the remote did not send them"
			}
			return fetched, fmt.Errorf("%d object(s) the scan needs (first %.12s) are missing from this partial clone and could not be fetched: %s; "+
				"check out without a filter (actions/checkout: remove filter: blob:none)", len(missing), missing[0], why)
		}
		if g.Log != nil {
			g.Log(fmt.Sprintf("git fetch %s: %d object(s) this partial clone lacks", remote, len(missing)))
		}
		cmd := exec.CommandContext(ctx, "git", "-C", g.Dir, "-c", "fetch.negotiationAlgorithm=noop", "fetch", remote, "--no-tags",
			"--no-write-fetch-head", "--recurse-submodules=no", "--filter=blob:none", "--stdin")
		cmd.Env = gitEnv()
		cmd.Stdin = strings.NewReader(strings.Join(missing, "\n") + "\n")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			why = fmt.Sprintf("fetching them from %s failed: %v: %s", remote, err, strings.TrimSpace(stderr.String()))
			continue
		}
		fetched += len(missing)
	}
}

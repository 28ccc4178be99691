// Package ghaction turns a GitHub Actions event into the commits gemscan
// must scan, and makes sure a shallow checkout holds them: it fetches what
// is missing, deepening as needed, instead of demanding fetch-depth: 0, and
// fails closed when the range still cannot be resolved.
package ghaction

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Plan is what an event asks to scan, before any fetching.
type Plan struct {
	// Event is the event's name (pull_request, push, …).
	Event string
	// Full asks for the whole history of every ref.
	Full bool
	// Base and Head delimit a range: the commits reachable from Head but
	// not from Base. Base is empty for a new branch (see NewBranch).
	Base, Head string
	// Before is a push's previous tip (may have been force-pushed away).
	Before string
	// NewBranch marks a push that created a branch: the commits that the
	// default branch does not have are scanned (all of them when the new
	// branch is the default branch, or the event names none).
	NewBranch bool
	// Ref is the pushed ref (refs/heads/x), or the PR's head ref.
	Ref string
	// PR is the pull request's number, 0 for other events.
	PR int
	// Deleted marks a push that deleted a branch: nothing to scan.
	Deleted bool
	// DefaultBranch is the repository's default branch (from the event's
	// repository.default_branch), "" when the event does not say.
	DefaultBranch string
}

// Describe says what the plan scans, for people.
func (p Plan) Describe() string {
	switch {
	case p.Deleted:
		return p.Event + ": a deleted branch, nothing to scan"
	case p.Full:
		return p.Event + ": the whole history"
	case p.NewBranch && p.excludesDefault():
		return fmt.Sprintf("%s: new branch %s, the commits up to %.12s that %s does not have", p.Event, strings.TrimPrefix(p.Ref, "refs/heads/"), p.Head, p.DefaultBranch)
	case p.NewBranch:
		return fmt.Sprintf("%s: new branch %s, the whole history of %.12s", p.Event, strings.TrimPrefix(p.Ref, "refs/heads/"), p.Head)
	case p.PR > 0:
		return fmt.Sprintf("%s #%d: %.12s..%.12s", p.Event, p.PR, p.Base, p.Head)
	}
	return fmt.Sprintf("%s: %.12s..%.12s", p.Event, p.Base, p.Head)
}

// excludesDefault reports whether a new branch's scan may leave out the
// default branch's commits: only what certainly existed before the push is
// left out, and the default branch did unless this push created it.
func (p Plan) excludesDefault() bool {
	return p.DefaultBranch != "" && p.Ref != "refs/heads/"+p.DefaultBranch
}

// SARIFCategory is the code scanning category of the plan's SARIF report
// (its automationDetails.id without the run part): one per event kind, so
// that each kind of analysis replaces its own previous one.
func (p Plan) SARIFCategory() string {
	if p.Full {
		return "gemscan/history"
	}
	return "gemscan/" + p.Event
}

const zeroSHA = "0000000000000000000000000000000000000000"

// payload holds the fields gemscan reads from the events it knows.
type payload struct {
	Before      string `json:"before"`
	After       string `json:"after"`
	Ref         string `json:"ref"`
	Deleted     bool   `json:"deleted"`
	Created     bool   `json:"created"`
	Forced      bool   `json:"forced"`
	PullRequest *struct {
		Number int `json:"number"`
		Base   struct {
			SHA string `json:"sha"`
			Ref string `json:"ref"`
		} `json:"base"`
		Head struct {
			SHA string `json:"sha"`
			Ref string `json:"ref"`
		} `json:"head"`
	} `json:"pull_request"`
	Repository struct {
		DefaultBranch string `json:"default_branch"`
	} `json:"repository"`
	MergeGroup *struct {
		BaseSHA string `json:"base_sha"`
		HeadSHA string `json:"head_sha"`
		HeadRef string `json:"head_ref"`
	} `json:"merge_group"`
}

// ParseEvent reads an event's name and payload (the file at
// GITHUB_EVENT_PATH) into a plan.
func ParseEvent(name string, data []byte) (Plan, error) {
	p := Plan{Event: name}
	switch name {
	case "workflow_dispatch", "schedule", "repository_dispatch":
		p.Full = true
		return p, nil
	}
	var ev payload
	if err := json.Unmarshal(data, &ev); err != nil {
		return p, fmt.Errorf("read %s event: %w", name, err)
	}
	p.DefaultBranch = ev.Repository.DefaultBranch
	switch name {
	case "pull_request", "pull_request_target":
		pr := ev.PullRequest
		if pr == nil || !isSHA(pr.Base.SHA) || !isSHA(pr.Head.SHA) {
			return p, fmt.Errorf("%s event without pull_request.base.sha and head.sha", name)
		}
		p.PR, p.Base, p.Head, p.Ref = pr.Number, pr.Base.SHA, pr.Head.SHA, pr.Head.Ref
	case "push":
		if !isSHA(ev.After) {
			return p, fmt.Errorf("push event without an after commit")
		}
		p.Ref, p.Before = ev.Ref, ev.Before
		switch {
		case ev.Deleted || ev.After == zeroSHA:
			p.Deleted = true
		case ev.Before == "" || ev.Before == zeroSHA || ev.Created:
			p.NewBranch, p.Head = true, ev.After
		default:
			p.Base, p.Head = ev.Before, ev.After
		}
	case "merge_group":
		mg := ev.MergeGroup
		if mg == nil || !isSHA(mg.BaseSHA) || !isSHA(mg.HeadSHA) {
			return p, fmt.Errorf("merge_group event without base_sha and head_sha")
		}
		p.Base, p.Head, p.Ref = mg.BaseSHA, mg.HeadSHA, mg.HeadRef
	default:
		return p, fmt.Errorf("event %q: gemscan knows pull_request, pull_request_target, push, merge_group, workflow_dispatch and schedule; use 'gemscan git --range' for others", name)
	}
	return p, nil
}

func isSHA(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

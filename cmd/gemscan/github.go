package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gemscan-dev/gemscan/internal/ghaction"
	"github.com/gemscan-dev/gemscan/report"
	"github.com/gemscan-dev/gemscan/rules"
	"github.com/gemscan-dev/gemscan/scanner"
)

// runGitHub is 'gemscan git --github': the event decides the commits, the
// change under review cannot suppress itself, and the runner always gets
// the masks and annotations on standard output. Every run writes the step
// outputs, complete=false whenever the exit status is 2: a scan that
// failed must not read as "0 findings".
func runGitHub(c *cli.Context, e *env, repo string, opts scanner.GitOptions) error {
	var out githubOutputs
	err := githubScan(c, e, repo, opts, &out)
	var code exitCode
	complete := err == nil || errors.As(err, &code) && (code == exitClean || code == exitFindings)
	if werr := writeGitHubOutputs(e, out.findings, out.sarif, complete); werr != nil {
		fmt.Fprintf(e.stderr, "gemscan: write report: %s\n", report.Sanitize(werr.Error()))
		if complete {
			return exitCode(exitError)
		}
	}
	return err
}

// githubOutputs are the step outputs a scan sets.
type githubOutputs struct {
	findings int
	sarif    string
}

func githubScan(c *cli.Context, e *env, repo string, opts scanner.GitOptions, outputs *githubOutputs) error {
	// The event decides what is scanned: a flag from the action's args
	// input must not narrow the gate.
	for _, name := range []string{"range", "branch", "since"} {
		if c.IsSet(name) {
			return fmt.Errorf("--%s cannot be used with --github: the event decides which commits are scanned, "+
				"and a narrower scan would let a leak through the check (run 'gemscan git --%s' without --github)", name, name)
		}
	}
	format, output, sarifPath := c.String("format"), c.String("output"), c.String("sarif")
	if !c.IsSet("format") {
		format = "github"
	}
	spec, plan, g, err := githubRange(c, e, repo)
	if err != nil {
		return err
	}
	if spec.Empty {
		fmt.Fprintf(e.stderr, "gemscan: %s\n", report.Sanitize(plan.Describe()))
		return nil
	}
	if spec.Full {
		fmt.Fprintf(e.stderr, "gemscan: %s\n", report.Sanitize(plan.Describe()))
	} else {
		fmt.Fprintf(e.stderr, "gemscan: %s: %d commit(s) to scan\n", report.Sanitize(plan.Describe()), spec.Commits)
	}
	opts.Include, opts.Exclude = spec.Include, spec.Exclude
	notes := spec.Notes
	if base := plan.SuppressionBase(); base != "" {
		// The change under review must not suppress itself: its own
		// .gemscanignore and baseline do not count, the base's do.
		opts.IgnoreFrom = base
		if path := c.String("baseline"); path != "" {
			file, cleanup, note, err := baseBaseline(c, g, base, path)
			defer cleanup()
			if err != nil {
				return fmt.Errorf("--github: %w", err)
			}
			if note != "" {
				notes = append(notes, note)
			}
			if err := c.Set("baseline", file); err != nil {
				return err
			}
		}
	}

	ignoreFrom := "HEAD"
	if opts.IgnoreFrom != "" {
		ignoreFrom = opts.IgnoreFrom
		// Read through git, so that a partial clone fetches it before the
		// scan, which reads the object database itself.
		if _, _, err := g.ReadFile(c.Context, ignoreFrom, scanner.IgnoreFile); err != nil {
			return fmt.Errorf("--github: %w", err)
		}
	}

	res := scanHistory(c, e, repo, opts)
	res.Stats.Notes = append(res.Stats.Notes, notes...)
	if err := tooLargeError(res, opts.MaxFileSize, "blob"); err != nil {
		res.Errors = append(res.Errors, err)
	}
	det := rules.NewDetector()
	head, err := g.ScannedHead(c.Context, plan)
	if err != nil {
		return fmt.Errorf("--github: %w", err)
	}
	var allows []ghaction.AllowNotice
	if !spec.Full {
		allows, err = g.AddedAllows(c.Context, det, opts.Include, opts.Exclude, head)
		if err != nil {
			res.Errors = append(res.Errors, fmt.Errorf("list the gemscan:allow comments %s adds: %w", plan.Who(), err))
		}
		allows = ghaction.MemberAllows(allows, res.Suppressed.List)
	}
	// Annotations point at HEAD: a finding still there moves to its line
	// in HEAD; one no longer there is annotated with the commits that
	// added and removed it.
	removedIn, err := g.LocateInHead(c.Context, det, head, opts.Include, res.Findings)
	if err != nil {
		res.Errors = append(res.Errors, fmt.Errorf("locate the findings in HEAD: %w", err))
	}
	// SARIF describes HEAD: what its tree holds, plus what the range added.
	var tree ghaction.TreeScan
	if sarifPath != "" {
		treeOpts := opts.Options // every file, whatever its size: the tree is not gated
		treeOpts.Detector, treeOpts.MaxFileSize = det, 0
		tree, err = g.ScanTree(c.Context, head, ignoreFrom, treeOpts)
		if err != nil {
			res.Errors = append(res.Errors, fmt.Errorf("scan HEAD's tree for the SARIF report: %w", err))
		}
	}
	target := repo
	if len(opts.Include) > 0 {
		target += " " + shortRange(opts.Exclude, opts.Include)
	}

	// finish applies the baseline, verifies and decides the exit code; the
	// reports are written below, so that standard output always carries
	// the workflow commands whatever --format and --output say.
	quiet := *e
	quiet.stdout = io.Discard
	for name, v := range map[string]string{"format": "json", "output": "", "sarif": ""} {
		if err := c.Set(name, v); err != nil {
			return err
		}
	}
	gate := finish(c, &quiet, "git", target, res)

	root, _ := reportRoot("git", target)
	r := &report.Report{Mode: "git", Target: target, Result: res, NoRedact: c.Bool("no-redact"),
		Root: root, Version: version(), SummaryPath: e.get("GITHUB_STEP_SUMMARY"),
		RemovedIn: removedIn, AutomationID: plan.SARIFCategory() + "/", NoAllowNotices: !spec.Full}
	werr := report.Write(e.stdout, "github", r)
	// A copy for --output never holds the masks (they carry credentials in
	// full) nor appends the job summary a second time.
	cp := *r
	cp.NoMasks, cp.SummaryPath = true, ""
	switch {
	case werr != nil:
	case output != "" && output != "-":
		werr = writeReportFile(output, cp.NoRedact, func(w io.Writer) error { return report.Write(w, format, &cp) })
	case format != "github":
		werr = report.Write(e.stdout, format, &cp)
	}
	if werr == nil {
		werr = ghaction.WriteAllowNotices(e.stdout, allows, plan.Who())
	}
	if werr == nil {
		werr = ghaction.AppendAllowSummary(r.SummaryPath, allows, plan.Who())
	}
	if sarifPath != "" && werr == nil {
		sr := cp
		sr.Result = headResult(c.String("baseline"), res, tree.Findings)
		werr = writeReportFile(sarifPath, sr.NoRedact, func(w io.Writer) error { return report.Write(w, "sarif", &sr) })
	}
	if werr == nil {
		outputs.findings, outputs.sarif = len(res.Findings), sarifPath
	}
	if werr != nil {
		fmt.Fprintf(e.stderr, "gemscan: write report: %s\n", report.Sanitize(werr.Error()))
		return exitCode(exitError)
	}
	return gate
}

// headResult is what the SARIF report describes: the range's findings and
// those of HEAD's tree (less what the baseline hides), once each.
func headResult(baseline string, res *scanner.Result, tree []scanner.Finding) *scanner.Result {
	head := &scanner.Result{Findings: append([]scanner.Finding(nil), res.Findings...), Errors: res.Errors, Stats: res.Stats}
	extra := &scanner.Result{Findings: tree}
	if baseline != "" {
		// finish read it already: an error here was reported there.
		if b, err := scanner.LoadBaseline(baseline); err == nil {
			b.Apply(extra, baseline)
		}
	}
	seen := map[string]bool{}
	for i := range head.Findings {
		seen[head.Findings[i].Fingerprint()] = true
	}
	for _, f := range extra.Findings {
		if fp := f.Fingerprint(); !seen[fp] {
			seen[fp] = true
			head.Findings = append(head.Findings, f)
		}
	}
	scanner.SortFindings(head.Findings)
	return head
}

// baseBaseline returns the file finish must read the baseline at path
// from: for a file inside the work tree, a temporary copy of the base
// commit's version (cleanup removes it). A baseline the base does not have
// hides nothing: the change under review cannot bring its own.
func baseBaseline(c *cli.Context, g *ghaction.Git, base, path string) (file string, cleanup func(), note string, err error) {
	cleanup = func() {}
	rel, inside, err := g.RepoPath(c.Context, path)
	if err != nil {
		return "", cleanup, "", fmt.Errorf("baseline %s: %w", path, err)
	}
	if !inside {
		// Not part of the checkout: the change cannot have written it.
		return path, cleanup, "", nil
	}
	data, ok, err := g.ReadFile(c.Context, base, rel)
	if err != nil {
		return "", cleanup, "", fmt.Errorf("baseline %s: %w", path, err)
	}
	dir, err := os.MkdirTemp("", "gemscan-baseline-")
	if err != nil {
		return "", cleanup, "", fmt.Errorf("baseline %s: %w", path, err)
	}
	cleanup = func() { os.RemoveAll(dir) }
	file = filepath.Join(dir, filepath.Base(rel))
	if !ok {
		// An empty report: nothing is accepted.
		data = []byte(`{"version": 1, "findings": []}`)
		note = fmt.Sprintf("the baseline %s is not in the base commit %.12s: it hides nothing in this change's scan", rel, base)
	} else {
		note = fmt.Sprintf("baseline %s read from the base commit %.12s, not from the change under review", rel, base)
	}
	if err := os.WriteFile(file, data, 0o600); err != nil {
		return "", cleanup, "", fmt.Errorf("baseline %s: %w", path, err)
	}
	return file, cleanup, note, nil
}

// githubRange reads the Actions event and prepares the checkout for it.
func githubRange(c *cli.Context, e *env, repo string) (ghaction.Spec, ghaction.Plan, *ghaction.Git, error) {
	name, path := e.get("GITHUB_EVENT_NAME"), e.get("GITHUB_EVENT_PATH")
	if name == "" {
		return ghaction.Spec{}, ghaction.Plan{}, nil, fmt.Errorf("--github: GITHUB_EVENT_NAME is not set (run it in GitHub Actions, or use --range)")
	}
	override := c.IsSet("base") || c.IsSet("head")
	switch name {
	case "pull_request", "pull_request_target", "merge_group":
		if override {
			return ghaction.Spec{}, ghaction.Plan{}, nil, fmt.Errorf("--github: --base and --head cannot be used on a %s event: "+
				"the event names the commits to scan, and another range could leave the change under review unscanned", name)
		}
	}
	var data []byte
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return ghaction.Spec{}, ghaction.Plan{}, nil, fmt.Errorf("--github: read the event: %w", err)
		}
	}
	plan, err := ghaction.ParseEvent(name, data)
	if err != nil {
		return ghaction.Spec{}, plan, nil, fmt.Errorf("--github: %w", err)
	}
	if base := c.String("base"); base != "" {
		// The workflow names the range itself (the action's base/head
		// inputs): scan exactly what head adds over base.
		head := c.String("head")
		if head == "" {
			head = "HEAD"
		}
		plan = ghaction.Plan{Event: name, Base: base, Head: head}
	} else if c.IsSet("head") {
		return ghaction.Spec{}, plan, nil, fmt.Errorf("--head needs --base")
	}
	g := &ghaction.Git{Dir: repo, Log: func(s string) { fmt.Fprintf(e.stderr, "gemscan: %s\n", report.Sanitize(s)) }}
	spec, err := g.Prepare(c.Context, plan)
	if err != nil {
		return spec, plan, g, fmt.Errorf("--github: %s: %w", plan.Describe(), err)
	}
	if override && !spec.Full && !spec.Empty && spec.Commits == 0 {
		return spec, plan, g, fmt.Errorf("--github: the range %s holds no commit: --base must be an ancestor of --head, "+
			"and an empty range would pass the check without scanning anything", plan.Describe())
	}
	return spec, plan, g, nil
}

func shortRange(exclude, include []string) string {
	short := func(revs []string) string {
		var out []string
		for _, r := range revs {
			if len(r) == 40 {
				r = r[:12]
			}
			out = append(out, r)
		}
		return strings.Join(out, ",")
	}
	if len(exclude) == 0 {
		return short(include)
	}
	return short(exclude) + ".." + short(include)
}

// writeGitHubOutputs appends the step outputs to GITHUB_OUTPUT.
func writeGitHubOutputs(e *env, findings int, sarif string, complete bool) error {
	path := e.get("GITHUB_OUTPUT")
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("write GITHUB_OUTPUT: %w", err)
	}
	_, werr := fmt.Fprintf(f, "findings=%d\nsarif-file=%s\ncomplete=%t\n", findings, sarif, complete)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("write GITHUB_OUTPUT: %w", werr)
	}
	return nil
}

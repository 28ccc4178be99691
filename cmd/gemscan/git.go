package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/urfave/cli/v2"

	"github.com/gemscan-dev/gemscan/scanner"
)

func gitCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "git",
		Usage:     "scan a repository's whole history: every commit of every branch, tag and remote",
		ArgsUsage: "[REPO]",
		Description: `Scans every blob that any commit reachable from any ref introduced — branches,
tags (annotated and lightweight), remote-tracking refs, refs/stash and a
detached HEAD — reading each unique blob once. Each credential is reported
once per path, attributed to the earliest commit that introduced it there
(author, date), with in_head telling whether HEAD still has it at that path
and the refs whose history holds it ("only on branch feature" when HEAD
does not reach it).
Binary blobs are scanned too; blobs over --max-file-size are skipped and
counted, and with --github that is an error (exit 2): a gate does not pass
what it did not read.
REPO is a work tree, a .git directory or a bare repository (default: .).
No git binary is needed.

Examples:
   gemscan git                               audit this repository's history
   gemscan git --format json -o audit.json /srv/repos/app.git
   gemscan git --range origin/main..HEAD     only what this branch adds
   gemscan git --range ..feature             the same as HEAD..feature
   gemscan git --range main...feature        both sides since they forked
   gemscan git --branch main --since 2025-01-01
   gemscan git --verify --fail-on live .     fail only on keys that still work`,
		Flags: append(scanFlags(e),
			&cli.StringFlag{Name: "range", Usage: "scan only what commits reachable from B but not from A introduced (`A..B`); " +
				"A...B: reachable from either but not both (not their merge base); a missing side is HEAD (..B, A..)"},
			&cli.StringSliceFlag{Name: "branch", Usage: "scan only the history of `REF` (repeatable; branch, tag or remote name)"},
			&cli.StringFlag{Name: "since", Usage: "skip commits committed before `DATE` (2006-01-02 or RFC 3339)"},
			&cli.StringFlag{Name: "max-file-size", Value: "10MiB", Usage: "skip blobs larger than `SIZE` (0: no limit); counted, and an error in a gate"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress display"},
			&cli.BoolFlag{Name: "github", Usage: "in GitHub Actions: scan the commits of the event (GITHUB_EVENT_NAME, GITHUB_EVENT_PATH), " +
				"fetching what a shallow checkout lacks; --format defaults to github and outputs go to GITHUB_OUTPUT"},
			&cli.StringFlag{Name: "base", Usage: "with --github: scan what --head adds over `REV` instead of the event's range (for unusual workflows)"},
			&cli.StringFlag{Name: "head", Usage: "with --github: the tip to scan (`REV`, default HEAD) when --base is given"},
		),
		Action: func(c *cli.Context) error {
			if err := checkScanFlags(c); err != nil {
				return err
			}
			if c.NArg() > 1 {
				return fmt.Errorf("one repository at a time (got %d)", c.NArg())
			}
			max, err := parseSize(c.String("max-file-size"))
			if err != nil {
				return err
			}
			opts := scanner.GitOptions{Options: scanner.Options{MaxFileSize: max, MaxArchiveDepth: archiveDepth(c)},
				Range: c.String("range"), Branches: c.StringSlice("branch")}
			if s := c.String("since"); s != "" {
				if opts.Since, err = parseDate(s); err != nil {
					return err
				}
			}
			repo := c.Args().First()
			if repo == "" {
				repo = "."
			}
			if c.Bool("github") {
				return runGitHub(c, e, repo, opts)
			}
			res := scanHistory(c, e, repo, opts)
			target := repo
			if opts.Range != "" {
				target += " " + opts.Range
			}
			return finish(c, e, "git", target, res)
		},
	}
}

// scanHistory runs the history scan with the progress display.
func scanHistory(c *cli.Context, e *env, repo string, opts scanner.GitOptions) *scanner.Result {
	var prog *progress
	if !c.Bool("quiet") {
		prog = newProgress(e.stderr)
	}
	if prog != nil {
		opts.OnProgress = prog.update
	}
	// History scans allocate in bursts (trees while diffing, deltas
	// while inflating); a soft limit keeps the heap near its live
	// size instead of twice that, at the cost of a little more
	// collection. GOMEMLIMIT overrides it.
	if e.get("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(historyMemoryLimit)
	}
	res := scanner.ScanGit(c.Context, repo, opts)
	prog.done()
	return res
}

// tooLargeError returns the error a gate (gemscan git --github,
// pre-receive, pre-push, staged) reports for the blobs the scan skipped as larger
// than max: what was not read was not judged, and a gate must not pass it
// as clean. It returns nil when none was skipped.
func tooLargeError(res *scanner.Result, max int64, what string) error {
	n := res.Stats.TooLarge
	if n == 0 {
		return nil
	}
	at := ""
	if paths := res.Stats.TooLargePaths; len(paths) > 0 {
		at = " (at " + strings.Join(paths, ", ")
		if more := res.Stats.TooLargePathCount - len(paths); more > 0 {
			at += fmt.Sprintf(" and %d more path(s)", more)
		}
		at += ")"
	}
	return fmt.Errorf("%d %s(s) larger than --max-file-size %s were not scanned%s, so what they hold was not "+
		"judged: raise the limit (--max-file-size 0 scans %ss of any size)", n, what, formatSize(max), at, what)
}

// formatSize writes a size as parseSize reads it.
func formatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprint(n)
}

// historyMemoryLimit is the soft heap limit of a history scan.
const historyMemoryLimit = 160 << 20

func parseDate(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--since %q: want a date like 2025-01-31 or 2025-01-31T12:00:00Z", s)
}

// progress draws a one-line progress display on a terminal.
type progress struct {
	w     io.Writer
	start time.Time
	drawn bool
}

// newProgress returns a display on w, or nil when w is not a terminal.
func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	if !ok || !isatty.IsTerminal(f.Fd()) {
		return nil
	}
	return &progress{w: w, start: time.Now()}
}

func (p *progress) update(done, total, bytes int64) {
	el := time.Since(p.start)
	rate := float64(bytes) / (1 << 20) / max(el.Seconds(), 1e-3)
	eta := "?"
	if done > 0 && total >= done {
		eta = (time.Duration(float64(el) * float64(total-done) / float64(done))).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r\033[Kscanning blobs: %d/%d, %.1f MiB, %.1f MiB/s, ETA %s", done, total, float64(bytes)/(1<<20), rate, eta)
	p.drawn = true
}

func (p *progress) done() {
	if p != nil && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

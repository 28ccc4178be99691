package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gemscan-dev/gemscan/internal/gitdir"
	"github.com/gemscan-dev/gemscan/report"
	"github.com/gemscan-dev/gemscan/rules"
	"github.com/gemscan-dev/gemscan/scanner"
)

const zeroOID = "0000000000000000000000000000000000000000"

// refUpdate is one line a pre-receive or pre-push hook reads: a ref moving
// from Old to New (zeroOID: created or deleted).
type refUpdate struct {
	Ref      string
	Old, New string
}

// pushFlags are the flags pre-receive and pre-push share.
func pushFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "baseline", Usage: "let findings whose fingerprint is listed in `FILE` (a gemscan JSON report) through " +
			"(default: git config gemscan.baseline)"},
		&cli.DurationFlag{Name: "timeout", Usage: "give up after `DURATION` (e.g. 30s); the push is then rejected unless --fail-open"},
		&cli.BoolFlag{Name: "fail-open", Usage: "let the push through when the scan cannot complete (corrupt object, timeout); findings still reject it"},
		&cli.StringFlag{Name: "max-file-size", Value: "10MiB", Usage: "skip blobs larger than `SIZE` (0: no limit); counted, and an error in a gate"},
		&cli.BoolFlag{Name: "no-color", Usage: "accepted for symmetry with the other commands: hook output is never coloured"},
	}
}

func preReceiveCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "pre-receive",
		Usage: "server-side push protection: reject pushes that add Gemini credentials (a git pre-receive hook)",
		Description: `Runs as a git server's pre-receive hook. It reads "<old> <new> <ref>" lines
on standard input and scans exactly the commits the push adds: those reachable
from the new tips and from no ref the server already has (new branches, tags
and force-pushes included; deletions add nothing). It reads the pushed objects
from git's quarantine directory (GIT_OBJECT_DIRECTORY, with the repository as
an alternate), so nothing reaches the repository before it is judged.

A push that adds a credential is rejected (exit 1) with, for each credential,
the ref, commit, path, line, the redacted value and what to do. A scan that
cannot complete (a corrupt object, a blob over --max-file-size, --timeout)
rejects the push too (exit 2), unless the operator chose --fail-open.

Bypass, visible and deliberate: the pusher names the finding,
   git push -o gemscan.allow=<fingerprint>
(the server needs: git config receive.advertisePushOptions true). Every bypass
is printed to the pusher and to the server's log (stderr). Operators can
accept old findings with a baseline: --baseline FILE or git config
gemscan.baseline FILE. A clean push is silent; with GEMSCAN_VERBOSE set
(to anything) it says how many commits were checked, and how long it took.

Install (plain git, on the server, in the bare repository):
   printf '#!/bin/sh\nexec /usr/local/bin/gemscan pre-receive\n' > hooks/pre-receive
   chmod +x hooks/pre-receive
See README "Push protection" for GitLab, Gitea/Forgejo and core.hooksPath.`,
		Flags: pushFlags(),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("pre-receive takes no arguments (it reads the pushed refs on standard input)")
			}
			updates, err := readUpdates(e.stdin, false)
			if err != nil {
				return err
			}
			repo := e.get("GIT_DIR")
			if repo == "" {
				repo = "."
			}
			opts := scanner.GitOptions{ExcludeRefs: []string{"refs/"}}
			if dir := e.get("GIT_OBJECT_DIRECTORY"); dir != "" {
				opts.ObjectDir = absUnder(repo, dir)
				for _, alt := range filepath.SplitList(e.get("GIT_ALTERNATE_OBJECT_DIRECTORIES")) {
					opts.AlternateObjectDirs = append(opts.AlternateObjectDirs, absUnder(repo, alt))
				}
			}
			return guardPush(c, e, "pre-receive", repo, updates, opts, pushOptions(e))
		},
	}
}

func prePushCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "pre-push",
		Usage:     "client-side push guard: stop a push that would send Gemini credentials (a git pre-push hook)",
		ArgsUsage: "[REMOTE [URL]]",
		Description: `Runs as a git pre-push hook (installed by 'gemscan install-hook --pre-push'). git
passes the remote's name and URL as arguments and "<local ref> <local sha>
<remote ref> <remote sha>" lines on standard input; gemscan scans the commits
being pushed that the remote does not have yet (not reachable from its
remote-tracking refs nor from the remote's old tip), so a key committed with
--no-verify, by a GUI client or before the hook was installed is caught
before it leaves the machine.

With --from-ref/--to-ref it scans FROM..TO instead; under the pre-commit
framework's pre-push stage (hook id gemscan-pre-push) it reads the range from
PRE_COMMIT_FROM_REF, PRE_COMMIT_TO_REF and PRE_COMMIT_REMOTE_NAME.`,
		Flags: append(pushFlags(),
			&cli.StringFlag{Name: "from-ref", Usage: "scan what `REV` --to-ref adds over this revision"},
			&cli.StringFlag{Name: "to-ref", Usage: "the tip being pushed (`REV`)"},
		),
		Action: func(c *cli.Context) error {
			if c.NArg() > 2 {
				return fmt.Errorf("pre-push takes at most the remote's name and URL (got %d arguments)", c.NArg())
			}
			opts := scanner.GitOptions{}
			var updates []refUpdate
			from, to := c.String("from-ref"), c.String("to-ref")
			if to == "" && e.get("PRE_COMMIT") != "" {
				// The pre-commit framework's pre-push stage read git's
				// input already and says what is pushed in its variables;
				// without PRE_COMMIT_TO_REF it pushes a whole new history.
				from, to = e.get("PRE_COMMIT_FROM_REF"), e.get("PRE_COMMIT_TO_REF")
				if to == "" {
					to = "HEAD"
				}
				if r := e.get("PRE_COMMIT_REMOTE_NAME"); r != "" {
					opts.ExcludeRefs = []string{"refs/remotes/" + r + "/"}
				}
			}
			if to != "" {
				updates = []refUpdate{{Ref: to, New: to, Old: zeroOID}}
				if from != "" {
					opts.Exclude = []string{from}
				}
			} else {
				var err error
				if updates, err = readUpdates(e.stdin, true); err != nil {
					return err
				}
				remote := c.Args().First()
				if remote != "" && !strings.Contains(remote, "/") && !strings.Contains(remote, ":") {
					opts.ExcludeRefs = []string{"refs/remotes/" + remote + "/"}
				}
			}
			return guardPush(c, e, "pre-push", ".", updates, opts, nil)
		},
	}
}

// absUnder makes a path git gave relative to the repository absolute.
func absUnder(repo, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(repo, p)
}

// readUpdates parses the hook's standard input: "<old> <new> <ref>" for
// pre-receive, "<local ref> <local sha> <remote ref> <remote sha>" for
// pre-push.
func readUpdates(r io.Reader, prePush bool) ([]refUpdate, error) {
	var out []refUpdate
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		var u refUpdate
		switch {
		case prePush && len(f) == 4:
			u = refUpdate{Ref: f[2], New: f[1], Old: f[3]}
		case !prePush && len(f) == 3:
			u = refUpdate{Old: f[0], New: f[1], Ref: f[2]}
		default:
			return nil, fmt.Errorf("standard input line %d: %s: not what git passes to a %s hook", n,
				strconv.Quote(sc.Text()), map[bool]string{true: "pre-push", false: "pre-receive"}[prePush])
		}
		if !isOID(u.New) || !isOID(u.Old) {
			return nil, fmt.Errorf("standard input line %d: %s: want object names", n, strconv.Quote(sc.Text()))
		}
		out = append(out, u)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read standard input: %w", err)
	}
	return out, nil
}

func isOID(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// pushOptions returns the values of "git push -o gemscan.allow=…".
func pushOptions(e *env) map[string]bool {
	allow := map[string]bool{}
	n, _ := strconv.Atoi(e.get("GIT_PUSH_OPTION_COUNT"))
	for i := 0; i < n && i < 1000; i++ {
		v, ok := strings.CutPrefix(e.get("GIT_PUSH_OPTION_"+strconv.Itoa(i)), "gemscan.allow=")
		if !ok {
			continue
		}
		for _, fp := range strings.Split(v, ",") {
			if fp = strings.TrimSpace(fp); fp != "" {
				allow[fp] = true
			}
		}
	}
	return allow
}

// pushFinding is a credential a push adds, with the ref that brings it.
type pushFinding struct {
	scanner.Finding
	ref string
}

// guardPush scans what the updates add and decides: exit 0 to let the push
// through, 1 (findings) or 2 (incomplete scan) to reject it.
func guardPush(c *cli.Context, e *env, hook, repo string, updates []refUpdate, base scanner.GitOptions, allow map[string]bool) error {
	max, err := parseSize(c.String("max-file-size"))
	if err != nil {
		return err
	}
	base.MaxFileSize = max
	ctx := c.Context
	if d := c.Duration("timeout"); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	baselinePath := c.String("baseline")
	if baselinePath == "" && hook == "pre-receive" {
		baselinePath = gitConfigValue(repo, "gemscan", "baseline")
	}
	var baseline scanner.Baseline
	var errs []error
	if baselinePath != "" {
		if baseline, err = scanner.LoadBaseline(absUnder(repo, baselinePath)); err != nil {
			errs = append(errs, err)
		}
	}
	start := time.Now()
	var found []pushFinding
	seen := map[string]bool{}
	var commits int64
	for _, u := range updates {
		if u.New == zeroOID {
			continue // a deletion adds nothing
		}
		opts := base
		opts.Include = []string{u.New}
		if u.Old != zeroOID && hook == "pre-push" {
			// The remote's old tip, when we have it, is history it has.
			opts.Exclude = append(append([]string(nil), opts.Exclude...), u.Old)
		}
		res := scanner.ScanGit(ctx, repo, opts)
		if hook == "pre-push" && len(res.Errors) > 0 && u.Old != zeroOID {
			// The remote's old tip may be unknown here (someone else
			// pushed it): scan without it rather than fail.
			opts.Exclude = base.Exclude
			res = scanner.ScanGit(ctx, repo, opts)
		}
		commits += res.Stats.Commits
		if err := tooLargeError(res, max, "blob"); err != nil {
			res.Errors = append(res.Errors, err)
		}
		for _, err := range res.Errors {
			errs = append(errs, fmt.Errorf("%s: %w", u.Ref, err))
		}
		for _, f := range res.Findings {
			key := f.Fingerprint() + f.Commit
			if seen[key] {
				continue
			}
			seen[key] = true
			found = append(found, pushFinding{f, u.Ref})
		}
		// What the pushed commits themselves mark as not to report
		// (gemscan:allow) or the server's .gemscanignore hides goes through,
		// but never silently: the pusher and the server's log see each.
		for _, sup := range res.Suppressed.List {
			key := "suppressed" + sup.Fingerprint() + sup.Commit
			if seen[key] {
				continue
			}
			seen[key] = true
			why := "a gemscan:allow comment in the pushed commit"
			if sup.Reason == scanner.ReasonIgnoreFile {
				why = "the repository's " + scanner.IgnoreFile
			}
			fmt.Fprintf(e.stderr, "gemscan: ALLOWED: %s lets %s through: %s %s:%d (%s, fingerprint %s, commit %.12s) — allowed by %s\n",
				hook, report.Sanitize(u.Ref), sup.Rule, report.Sanitize(sup.File), sup.Line, sup.Redacted(), sup.Fingerprint(), sup.Commit, why)
		}
		if n := res.Suppressed.Unlisted(); n > 0 {
			fmt.Fprintf(e.stderr, "gemscan: ALLOWED: %d more suppressed finding(s) in %s not listed\n", n, report.Sanitize(u.Ref))
		}
	}
	var blocked, allowed, accepted []pushFinding
	for _, f := range found {
		switch fp := f.Fingerprint(); {
		case baseline[fp]:
			accepted = append(accepted, f)
		case allow[fp]:
			allowed = append(allowed, f)
		default:
			blocked = append(blocked, f)
		}
	}
	w := e.stderr
	for _, f := range allowed {
		fmt.Fprintf(w, "gemscan: BYPASS: %s lets %s through: %s %s:%d (%s, fingerprint %s, commit %.12s) — allowed by push option gemscan.allow\n",
			hook, report.Sanitize(f.ref), f.Rule, report.Sanitize(f.File), f.Line, f.Redacted(), f.Fingerprint(), f.Commit)
	}
	if len(accepted) > 0 {
		fmt.Fprintf(w, "gemscan: %d finding(s) accepted by the baseline %s\n", len(accepted), report.Sanitize(baselinePath))
	}
	elapsed := time.Since(start).Round(time.Millisecond)
	if len(blocked) > 0 {
		writePushRejection(w, hook, blocked)
		return exitCode(exitFindings)
	}
	if len(errs) > 0 {
		for _, err := range errs {
			fmt.Fprintf(w, "gemscan: error: %s\n", report.Sanitize(err.Error()))
		}
		if c.Bool("fail-open") {
			fmt.Fprintf(w, "gemscan: WARNING: the scan did not complete, and --fail-open lets the push through unchecked\n")
			return nil
		}
		fmt.Fprintf(w, "gemscan: push rejected: the scan could not complete, so gemscan cannot vouch for it (the server operator can use --fail-open)\n")
		return exitCode(exitError)
	}
	if e.get("GEMSCAN_VERBOSE") != "" {
		fmt.Fprintf(w, "gemscan: %d commit(s) checked in %v: no Gemini credentials\n", commits, elapsed)
	}
	return nil
}

// writePushRejection tells the pusher what was found and the ways forward.
func writePushRejection(w io.Writer, hook string, fs []pushFinding) {
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].ref < fs[j].ref })
	verb := "push rejected"
	if hook == "pre-push" {
		verb = "push stopped before it left this machine"
	}
	fmt.Fprintf(w, "gemscan: %s: it adds %d Gemini credential(s)\n\n", verb, len(fs))
	for _, f := range fs {
		title := f.Rule
		if r, ok := rules.ByID(f.Rule); ok {
			title = r.Title
		}
		fmt.Fprintf(w, "  %s  commit %.12s  %s:%d:%d\n", report.Sanitize(f.ref), f.Commit, report.Sanitize(f.File), f.Line, f.Column)
		fmt.Fprintf(w, "    %s: %s\n", title, f.Redacted())
		fmt.Fprintf(w, "    fingerprint %s\n", f.Fingerprint())
	}
	fmt.Fprintf(w, "\nWhat to do:\n")
	fmt.Fprintf(w, "  1. Take the credential out of the commits you push (deleting it in a new commit is not enough:\n")
	fmt.Fprintf(w, "     history keeps it). Move the value to an environment variable or a secret store, then:\n")
	fmt.Fprintf(w, "       if it is in your last commit:   edit the file, git add it, git commit --amend\n")
	fmt.Fprintf(w, "       if it is in an older commit:    git rebase -i %.12s~1   (mark that commit 'edit',\n", fs[0].Commit)
	fmt.Fprintf(w, "                                       remove the value, git commit --amend, git rebase --continue)\n")
	fmt.Fprintf(w, "     and push again.\n")
	fmt.Fprintf(w, "  2. Revoke the credential if it was ever shared or pushed anywhere else: Gemini exchange keys in the\n")
	fmt.Fprintf(w, "     exchange's API settings; Google keys on the Google Cloud console's Credentials page (or AI Studio).\n")
	fmt.Fprintf(w, "  3. A deliberate test value? Mark its line with a 'gemscan:allow' comment, or push with\n")
	var fps []string
	for _, f := range fs {
		fps = append(fps, f.Fingerprint())
	}
	fmt.Fprintf(w, "       git push -o gemscan.allow=%s\n", strings.Join(fps, ","))
	fmt.Fprintf(w, "     (the bypass is logged).\n")
}

// gitConfigValue reads section.key from the repository's own config file
// (a bare repository's config, or .git/config), "" when it is not set.
func gitConfigValue(repo, section, key string) string {
	for _, file := range []string{filepath.Join(repo, "config"), filepath.Join(repo, ".git", "config")} {
		data, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		cfg, err := gitdir.ParseConfig(data)
		if err != nil {
			continue
		}
		v, _ := cfg.Get(section, "", key)
		return v
	}
	return ""
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/urfave/cli/v2"

	"github.com/gemscan-dev/gemscan/internal/gitdir"
	"github.com/gemscan-dev/gemscan/report"
	"github.com/gemscan-dev/gemscan/scanner"
)

// Exit codes, fixed by the CLI contract.
const (
	exitClean    = 0 // nothing reported
	exitFindings = 1 // findings reported
	exitError    = 2 // the scan could not run, or not completely
)

// exitCode is returned by actions to choose the process's exit code.
type exitCode int

func (e exitCode) Error() string { return "exit " + strconv.Itoa(int(e)) }

// env is the process environment, passed in so tests control it.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	vars           map[string]string // when set (tests), instead of environ
	// environ is the process's environment, KEY=value, read by get: the
	// few variables a run reads cost less to look up than a map of all
	// of them (a CI job's hundred) to build.
	environ []string
	// usageFailed is set when the CLI library reported a usage error
	// without returning one (an unknown command).
	usageFailed bool
}

func (e *env) get(k string) string {
	if e.vars != nil {
		return e.vars[k]
	}
	// The last definition wins, as it did in a map built in order.
	for i := len(e.environ) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(e.environ[i], k); ok && strings.HasPrefix(v, "=") {
			return v[1:]
		}
	}
	return ""
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, environ []string) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, environ: environ}
	if isVersionArgs(args) {
		printVersion(stdout)
		return exitClean
	}
	app := newAppFor(e, args)
	args, err := flagsAnywhere(app, args)
	if err == nil {
		err = app.RunContext(ctx, args)
	}
	var code exitCode
	var usage *usageError
	switch {
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "%s\n%s\n", report.Sanitize(usage.msg), usage.hint)
		return exitError
	case err == nil && e.usageFailed:
		return exitError
	case err == nil:
		return exitClean
	case errors.As(err, &code):
		return int(code)
	default:
		// Errors name paths from the scanned data: escape them, so that no
		// name can drive the terminal or forge a workflow command.
		fmt.Fprintf(stderr, "gemscan: %s\n", report.Sanitize(err.Error()))
		return exitError
	}
}

// isVersionArgs reports whether args ask only for the version, which needs
// none of the CLI's flags and commands: it is answered before they are
// built (gemscan version is timed against an empty program:
// bench/version.sh).
func isVersionArgs(args []string) bool {
	return len(args) == 2 && (args[1] == "--version" || args[1] == "-v" || args[1] == "version")
}

const appHelp = `gemscan finds leaked Gemini credentials and tells whether they still work.

It knows Gemini exchange API keys (account-…, master-…) with their secrets,
Google Gemini auth keys (AQ.…) and Google API keys (AIza…), in plain text and
hidden in base64, JSON escapes or percent-encoding.

Examples:
   gemscan dir .                      scan this working tree (honours .gitignore)
   gemscan git                        audit every commit of every branch and tag
   gemscan install-hook               block commits that add a key
   gemscan dir --verify .             ...and ask the providers which keys still work
   gemscan dir --format json src/     machine-readable report
   cat app.log | gemscan stdin        scan a stream

Flags may come before or after paths; "--" ends them.

Exit status: 0 nothing found, 1 credentials found, 2 the scan could not run
(bad flag, missing path, unreadable file): an error never looks clean.

Suppress a deliberate test fixture with "gemscan:allow" on its line, or list
paths in .gemscanignore (gitignore syntax) at the root of the scan.`

// commands are gemscan's commands, in the order its help lists them.
var commands = []struct {
	name string
	make func(*env) *cli.Command
}{
	{"dir", dirCommand},
	{"git", gitCommand},
	{"staged", stagedCommand},
	{"stdin", stdinCommand},
	{"verify", verifyCommand},
	{"baseline", baselineCommand},
	{"install-hook", installHookCommand},
	{"pre-receive", preReceiveCommand},
	{"pre-push", prePushCommand},
	{"version", versionCommand},
}

func newApp(e *env) *cli.App {
	cmds := make([]*cli.Command, len(commands))
	for i, c := range commands {
		cmds[i] = c.make(e)
	}
	app := appWith(e, cmds)
	app.Version = version()
	return app
}

// newAppFor returns the app that runs args: when args name a command, an
// app holding only that command, whose run and help (gemscan CMD --help)
// need no other; else the whole app (its help, "did you mean"). Building
// every command's flags and reading the build information would take a
// pre-commit check (gemscan staged, bench/staged.sh) some 0.2 ms for
// nothing.
func newAppFor(e *env, args []string) *cli.App {
	if len(args) >= 2 {
		for _, c := range commands {
			if c.name == args[1] {
				return appWith(e, []*cli.Command{c.make(e)})
			}
		}
	}
	return newApp(e)
}

// appWith returns the app running cmds.
func appWith(e *env, cmds []*cli.Command) *cli.App {
	return &cli.App{
		Name:                 "gemscan",
		Usage:                "find leaked Gemini API keys and check whether they are live",
		Description:          appHelp,
		HideVersion:          true, // run handles --version and -v: the same line as 'gemscan version'
		Writer:               e.stdout,
		ErrWriter:            e.stderr,
		Reader:               e.stdin,
		EnableBashCompletion: false,
		ExitErrHandler:       func(*cli.Context, error) {},
		OnUsageError:         onUsageError,
		Commands:             withUsageErrors(cmds),
		CommandNotFound: func(c *cli.Context, name string) {
			fmt.Fprintf(e.stderr, "gemscan: no command %q (see 'gemscan --help')\n", name)
			e.usageFailed = true
		},
	}
}

// onUsageError turns a mistake urfave/cli finds (a flag without its value,
// a value it cannot parse) into one line and a hint on standard error,
// instead of the whole help on standard output.
func onUsageError(c *cli.Context, err error, _ bool) error {
	cmd := "gemscan"
	if c.Command != nil && c.Command.Name != "" && c.Command.Name != "gemscan" {
		cmd += " " + c.Command.Name
	}
	return &usageError{msg: fmt.Sprintf("%s: %s", cmd, err), hint: fmt.Sprintf("see '%s --help'", cmd)}
}

// withUsageErrors gives every command onUsageError, and flags whose names
// are computed once (namesOnce).
func withUsageErrors(cmds []*cli.Command) []*cli.Command {
	for _, c := range cmds {
		c.OnUsageError = onUsageError
		c.Flags = namesOnce(c.Flags)
	}
	return cmds
}

// hintTerminalStdin says, on standard error, that gemscan is waiting for
// standard input when that is a terminal: a bare "gemscan stdin" otherwise
// looks hung.
func hintTerminalStdin(e *env) {
	if f, ok := e.stdin.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		fmt.Fprintln(e.stderr, "gemscan: reading standard input; end with Ctrl-D")
	}
}

// scanFlags are the flags every scanning command shares.
func scanFlags(e *env) []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "text",
			Usage: "report format: " + strings.Join(report.Formats(), ", ")},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the report to `FILE` instead of standard output"},
		&cli.StringFlag{Name: "sarif", Usage: "also write a SARIF 2.1.0 report to `FILE` (for code scanning uploads)"},
		&cli.BoolFlag{Name: "no-redact", Usage: "show credentials in full (they are redacted by default; report files are then written mode 0600)"},
		&cli.BoolFlag{Name: "no-color", Usage: "no colour in text output (also: NO_COLOR=1, TERM=dumb, or output that is not a terminal)"},
		&cli.StringFlag{Name: "baseline", Usage: "hide findings whose fingerprint is listed in `FILE`, an earlier JSON report"},
		&cli.UintFlag{Name: "max-archive-depth", Value: 3, Usage: "open archives (zip, jar, apk, tar, gz, …) nested up to `N` deep (one nested deeper fails the scan: exit 2); 0: do not open archives"},
		&cli.BoolFlag{Name: "verify", Usage: "check each credential with its provider (one harmless call each; see 'gemscan verify --help')"},
	}, verifyFlags(e)...)
}

// output is where a report goes.
type output struct {
	w     io.Writer
	close func() error
	color bool
}

func openOutput(c *cli.Context, e *env) (*output, error) {
	if name := c.String("output"); name != "" && name != "-" {
		f, err := createReport(name, c.Bool("no-redact"))
		if err != nil {
			return nil, fmt.Errorf("create report: %w", err)
		}
		return &output{w: f, close: f.Close}, nil
	}
	color := !c.Bool("no-color") && e.get("NO_COLOR") == "" && e.get("TERM") != "dumb"
	if f, ok := e.stdout.(*os.File); !ok || !isatty.IsTerminal(f.Fd()) {
		color = false
	}
	return &output{w: e.stdout, close: func() error { return nil }, color: color}, nil
}

// finish applies the baseline, verifies when asked, writes the report and
// turns the result into the exit code.
func finish(c *cli.Context, e *env, mode, target string, res *scanner.Result) error {
	if path := c.String("baseline"); path != "" {
		base, err := scanner.LoadBaseline(path)
		if err != nil {
			res.Errors = append(res.Errors, err)
		} else {
			base.Apply(res, path)
		}
	}
	if c.Bool("verify") && len(res.Findings) > 0 {
		v, err := newVerifier(c)
		if err != nil {
			return err
		}
		v.Findings(c.Context, res.Findings)
	}
	return finishVerified(c, e, mode, target, res)
}

// finishVerified writes the report and chooses the exit code: errors (2) win
// over findings (1); with --fail-on live every finding counts but those
// proven dead (invalid, blocked).
func finishVerified(c *cli.Context, e *env, mode, target string, res *scanner.Result) error {
	out, err := openOutput(c, e)
	if err != nil {
		return err
	}
	r := &report.Report{Mode: mode, Target: target, Result: res, NoRedact: c.Bool("no-redact"), Color: out.color,
		Version: version(), SummaryPath: e.get("GITHUB_STEP_SUMMARY"),
		Warn: func(msg string) { fmt.Fprintf(e.stderr, "gemscan: note: %s\n", report.Sanitize(msg)) }}
	// Errors first: a scan that could not run leads with why.
	for _, err := range res.Errors {
		fmt.Fprintf(e.stderr, "gemscan: error: %s\n", report.Sanitize(err.Error()))
	}
	r.Root, r.PathPrefix = reportRoot(mode, target)
	werr := report.Write(out.w, c.String("format"), r)
	if cerr := out.close(); werr == nil {
		werr = cerr
	}
	if path := c.String("sarif"); path != "" && werr == nil {
		werr = writeReportFile(path, r.NoRedact, func(w io.Writer) error { return report.Write(w, "sarif", r) })
	}
	if werr != nil {
		fmt.Fprintf(e.stderr, "gemscan: write report: %s\n", report.Sanitize(werr.Error()))
		return exitCode(exitError)
	}
	if len(res.Errors) > 0 {
		return exitCode(exitError)
	}
	if failsGate(c, res.Findings) {
		return exitCode(exitFindings)
	}
	return nil
}

// checkScanFlags validates the flags every scanning command shares.
func checkScanFlags(c *cli.Context) error {
	if err := checkFormat(c.String("format")); err != nil {
		return err
	}
	return checkFailOn(c, c.Bool("verify"))
}

// createReport creates (or truncates) a report file. A report holding
// credentials in full (--no-redact) is readable by its owner only, even if
// the file was there before with a wider mode.
func createReport(name string, secret bool) (*os.File, error) {
	mode := os.FileMode(0o666)
	if secret {
		mode = 0o600
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return nil, err
	}
	if secret {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o077 != 0 {
			if err := f.Chmod(0o600); err != nil {
				f.Close()
				return nil, fmt.Errorf("make %s private: %w", name, err)
			}
		}
	}
	return f, nil
}

// writeFile writes a file through write, reporting the first error.
func writeFile(path string, write func(io.Writer) error) error {
	return writeReportFile(path, false, write)
}

// writeReportFile writes a report file through write (owner-only when it
// holds credentials in full), reporting the first error.
func writeReportFile(path string, secret bool, write func(io.Writer) error) error {
	f, err := createReport(path, secret)
	if err != nil {
		return err
	}
	werr := write(f)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	return werr
}

// reportRoot returns the directory report paths are relative to, and what to
// put before them to make them relative to it: the work tree of the
// repository holding a scanned directory (code scanning reads URIs from
// the repository's root: "gemscan dir sub/" reports sub/key.env), else the
// scanned directory itself; or the repository's work tree in git modes.
func reportRoot(mode, target string) (root, prefix string) {
	switch mode {
	case "dir":
		st, err := os.Stat(target)
		if err != nil || !st.IsDir() {
			return "", ""
		}
		if d, err := gitdir.Find(target); err == nil && d.WorkTree != "" {
			top, err1 := filepath.EvalSymlinks(d.WorkTree)
			dir, err2 := filepath.EvalSymlinks(target)
			if err1 == nil && err2 == nil {
				if top, err1 = filepath.Abs(top); err1 == nil {
					dir, err2 = filepath.Abs(dir)
				}
			}
			if rel, err := filepath.Rel(top, dir); err1 == nil && err2 == nil && err == nil &&
				rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				if rel == "." {
					return d.WorkTree, ""
				}
				return d.WorkTree, filepath.ToSlash(rel) + "/"
			}
		}
		return target, ""
	case "git", "staged":
		if d, err := gitdir.Find(strings.Fields(target + " .")[0]); err == nil && d.WorkTree != "" {
			return d.WorkTree, ""
		}
	}
	return "", ""
}

func checkFormat(f string) error {
	for _, known := range report.Formats() {
		if f == known {
			return nil
		}
	}
	return fmt.Errorf("unknown --format %q (want one of %s)", f, strings.Join(report.Formats(), ", "))
}

// parseSize reads a size such as 10MiB, 512k, 2g or 1048576; 0 means no limit.
func parseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"gib", 1 << 30}, {"mib", 1 << 20}, {"kib", 1 << 10}, {"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10},
		{"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}, {"b", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q (examples: 10MiB, 512k, 0 for no limit)", s)
	}
	return n * mult, nil
}

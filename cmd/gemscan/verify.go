package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/fatih/color"
	"github.com/urfave/cli/v2"

	"github.com/gemscan-dev/gemscan/report"
	"github.com/gemscan-dev/gemscan/rules"
	"github.com/gemscan-dev/gemscan/scanner"
	"github.com/gemscan-dev/gemscan/verify"
)

// verifyFlags configure live verification; scanning commands take them with
// --verify, and `gemscan verify` always verifies. The provider URLs come
// only from the command line: an environment variable, which a CI job can
// inherit, never chooses where credentials are sent.
func verifyFlags(*env) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "fail-on", Value: "any",
			Usage: "when to exit 1: `MODE` any (every finding) or live (every finding not proven dead: " +
				"only invalid and blocked credentials pass; unknown, unverifiable and rejected ones fail)"},
		&cli.Float64Flag{Name: "rate", Value: 1,
			Usage: fmt.Sprintf("at most `N` verification requests per second to each provider (at most %d)", verify.MaxRate)},
		&cli.StringFlag{Name: "gemini-url", Value: verify.DefaultGeminiURL,
			Usage: "the exchange's API base `URL`: " + verify.DefaultGeminiURL + " or the sandbox " +
				verify.SandboxGeminiURL + " (or http://127.0.0.1:PORT for a local test server)"},
		&cli.StringFlag{Name: "google-url", Value: verify.DefaultGoogleURL,
			Usage: "Google's Generative Language API base `URL`: " + verify.DefaultGoogleURL +
				" (or http://127.0.0.1:PORT for a local test server)"},
	}
}

func verifierConfig(c *cli.Context) verify.Config {
	return verify.Config{
		GeminiURL:     c.String("gemini-url"),
		GoogleURL:     c.String("google-url"),
		RatePerSecond: c.Float64("rate"),
		UserAgent:     "gemscan/" + version() + " (secret scanner; checks whether a leaked key is live)",
	}
}

func newVerifier(c *cli.Context) (*verify.Verifier, error) {
	return verify.New(verifierConfig(c))
}

// checkFailOn validates the verification flags before anything is scanned
// or sent: --fail-on, and the provider URLs and --rate (refused, whether or
// not verifying, so a bad setting never waits for the end of a scan).
func checkFailOn(c *cli.Context, verifying bool) error {
	if r := c.Float64("rate"); !(r > 0) {
		return fmt.Errorf("--rate %v: want more than 0 and at most %d requests per second", r, verify.MaxRate)
	}
	if err := verify.CheckConfig(verifierConfig(c)); err != nil {
		return err
	}
	switch c.String("fail-on") {
	case "any":
		return nil
	case "live":
		if !verifying {
			return fmt.Errorf("--fail-on live needs --verify: without it no finding is proven dead")
		}
		return nil
	}
	return fmt.Errorf("unknown --fail-on %q (want any or live)", c.String("fail-on"))
}

// provenDead reports whether a finding's verification shows it cannot be
// used: only invalid and blocked credentials are.
func provenDead(f *scanner.Finding) bool {
	return f.Verification != nil &&
		(f.Verification.Status == scanner.StatusInvalid || f.Verification.Status == scanner.StatusBlocked)
}

// failsGate reports whether the findings make the run exit 1: with
// --fail-on any, any finding; with --fail-on live, any finding not proven
// dead (a gate that could not ask the provider stays shut).
func failsGate(c *cli.Context, fs []scanner.Finding) bool {
	for i := range fs {
		if c.String("fail-on") != "live" || !provenDead(&fs[i]) {
			return true
		}
	}
	return false
}

const verifyHelp = `Checks whether credentials still work, with one harmless call each:
  exchange keys: a signed POST /v1/roles (reads the key's role flags; the
                 secret never leaves this machine, only an HMAC signature;
                 the nonce is the current Unix time in seconds)
  Google keys:   GET /v1beta/models with the key in the x-goog-api-key
                 header (lists public model names; costs nothing)
Each key+secret pair is sent once per run, only to the provider's official
host (or a loopback test server named with --gemini-url/--google-url).

Where credentials come from, first match wins:
  arguments          KEY (an exchange key's secret as KEY:SECRET is accepted,
                     but a secret on the command line lands in shell history
                     and ps: prefer the environment or a report)
  --report FILE      a JSON report made with --no-redact (- for stdin)
  --env              GEMINI_API_KEY (with GEMINI_API_SECRET for an exchange
                     key) and GOOGLE_API_KEY
  standard input     a JSON report piped in (whenever stdin is not a terminal)
  the environment    as --env, when stdin is a terminal
Every value is checked against gemscan's rules first: a report whose rule
does not match its value is refused.

Examples:
   gemscan dir --no-redact --format json . | gemscan verify
   gemscan verify --report report.json --fail-on live
   gemscan verify --env          # the keys in the environment (see above)
   gemscan verify --env --gemini-url https://api.sandbox.gemini.com

The report has one line per credential: its status, what the provider said,
what whoever holds it can do, and how to revoke it.

Exit status: 2 the credentials could not be read or a flag is wrong;
otherwise with --fail-on any (the default) 1 if there was any credential,
and with --fail-on live 1 unless every credential is proven dead (invalid
or blocked): unknown, unverifiable and rejected credentials fail, 0 only
when all are dead.`

func verifyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:        "verify",
		Usage:       "check whether credentials are live (one harmless call each)",
		ArgsUsage:   "[KEY…]",
		Description: verifyHelp,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "text", Usage: "report format: text, json"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the report to `FILE`"},
			&cli.BoolFlag{Name: "no-redact", Usage: "show credentials in full"},
			&cli.BoolFlag{Name: "no-color", Usage: "no colour in text output"},
			&cli.StringFlag{Name: "report", Usage: "verify the findings of a JSON report made with --no-redact (`FILE`, - for stdin)"},
			&cli.BoolFlag{Name: "env", Usage: "verify GEMINI_API_KEY (with GEMINI_API_SECRET) and GOOGLE_API_KEY from the environment"},
		}, verifyFlags(e)...),
		Action: func(c *cli.Context) error {
			if f := c.String("format"); f != "text" && f != "json" {
				return fmt.Errorf("unknown --format %q for verify (want text or json)", f)
			}
			if err := checkFailOn(c, true); err != nil {
				return err
			}
			cl := verify.NewClassifier()
			var fs []scanner.Finding
			var err error
			switch {
			case c.NArg() > 0:
				if c.String("report") != "" || c.Bool("env") {
					return errors.New("give credentials as arguments, --report or --env, not several")
				}
				fs, err = credentialsFromArgs(cl, c.Args().Slice())
				if err == nil && slices.ContainsFunc(fs, func(f scanner.Finding) bool { return len(f.Secrets) > 0 }) {
					fmt.Fprintln(e.stderr, "gemscan: warning: a secret on the command line is kept in shell history "+
						"and shown by ps; prefer --env or a report on stdin")
				}
			case c.String("report") != "":
				if c.Bool("env") {
					return errors.New("give --report or --env, not both")
				}
				fs, err = credentialsFromReport(cl, e, c.String("report"))
			case c.Bool("env") || stdinIsTerminal(e):
				fs, err = credentialsFromEnv(cl, e)
			default:
				// Piped input: a report, whatever the environment holds.
				fs, err = credentialsFromReport(cl, e, "-")
			}
			if err != nil {
				return err
			}
			v, err := newVerifier(c)
			if err != nil {
				return err
			}
			v.Findings(c.Context, fs)
			out, err := openOutput(c, e)
			if err != nil {
				return err
			}
			werr := writeVerifyReport(out.w, c.String("format"), fs, verifyReportOptions{
				noRedact: c.Bool("no-redact"), color: out.color, sandbox: verify.IsSandbox(c.String("gemini-url")),
				failOn: c.String("fail-on")})
			if cerr := out.close(); werr == nil {
				werr = cerr
			}
			if werr != nil {
				fmt.Fprintf(e.stderr, "gemscan: write report: %v\n", werr)
				return exitCode(exitError)
			}
			if c.Context.Err() != nil {
				fmt.Fprintf(e.stderr, "gemscan: interrupted: %v\n", c.Context.Err())
				return exitCode(exitError)
			}
			if failsGate(c, fs) {
				return exitCode(exitFindings)
			}
			return nil
		},
	}
}

// classify names the rule of a credential given on its own, as the rules
// package recognises it.
func classify(cl *verify.Classifier, v string) (string, error) {
	if rule, ok := cl.Classify(v); ok && rule != rules.ExchangeSecret {
		return rule, nil
	}
	return "", fmt.Errorf("%s: not a Gemini credential (want account-…, master-…, AQ.… or AIza…)", scanner.Redact(v))
}

// checkSecret refuses a candidate secret the rules do not take for an
// exchange API secret.
func checkSecret(cl *verify.Classifier, s string) error {
	if rule, ok := cl.Classify(s); !ok || rule != rules.ExchangeSecret {
		return fmt.Errorf("%s: not an exchange API secret", scanner.Redact(s))
	}
	return nil
}

func credentialsFromArgs(cl *verify.Classifier, args []string) ([]scanner.Finding, error) {
	var fs []scanner.Finding
	for i, a := range args {
		key, secret, hasSecret := strings.Cut(a, ":")
		rule, err := classify(cl, key)
		if err != nil {
			return nil, fmt.Errorf("argument %d: %w", i+1, err)
		}
		f := scanner.Finding{Rule: rule, File: fmt.Sprintf("argument %d", i+1), Path: "argument", Value: key}
		if hasSecret {
			if rule != rules.ExchangeKey {
				return nil, fmt.Errorf("argument %d: only exchange keys take a :SECRET", i+1)
			}
			if err := checkSecret(cl, secret); err != nil {
				return nil, fmt.Errorf("argument %d: %w", i+1, err)
			}
			f.Secrets = []string{secret}
		}
		fs = append(fs, f)
	}
	return fs, nil
}

var errNothingToVerify = errors.New("nothing to verify: give keys as arguments, --report FILE, " +
	"a report on stdin, or --env with GEMINI_API_KEY (and GEMINI_API_SECRET) or GOOGLE_API_KEY set")

// stdinIsTerminal reports whether standard input is a terminal, or not a
// file at all (nothing piped in).
func stdinIsTerminal(e *env) bool {
	f, ok := e.stdin.(*os.File)
	if !ok {
		return e.stdin == nil
	}
	st, err := f.Stat()
	return err != nil || st.Mode()&os.ModeCharDevice != 0
}

func credentialsFromEnv(cl *verify.Classifier, e *env) ([]scanner.Finding, error) {
	var fs []scanner.Finding
	for _, name := range []string{"GEMINI_API_KEY", "GOOGLE_API_KEY"} {
		v := strings.TrimSpace(e.get(name))
		if v == "" {
			continue
		}
		rule, err := classify(cl, v)
		if err != nil {
			return nil, fmt.Errorf("$%s: %w", name, err)
		}
		f := scanner.Finding{Rule: rule, File: "$" + name, Path: "environment", Value: v}
		if s := strings.TrimSpace(e.get("GEMINI_API_SECRET")); s != "" && rule == rules.ExchangeKey {
			if err := checkSecret(cl, s); err != nil {
				return nil, fmt.Errorf("$GEMINI_API_SECRET: %w", err)
			}
			f.Secrets = []string{s}
		}
		fs = append(fs, f)
	}
	if len(fs) == 0 {
		return nil, errNothingToVerify
	}
	return fs, nil
}

// credentialsFromReport reads the findings of a JSON report written with
// --no-redact. Each value is classified again with the rules: a report
// edited to call an exchange secret a Google key (or the reverse) is
// refused, so no value goes to a provider it does not belong to.
func credentialsFromReport(cl *verify.Classifier, e *env, path string) ([]scanner.Finding, error) {
	var r io.Reader = e.stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("read report: %w", err)
		}
		defer f.Close()
		r = f
	}
	var doc struct {
		Version  int `json:"version"`
		Findings []struct {
			Rule    string   `json:"rule"`
			File    string   `json:"file"`
			Line    int      `json:"line"`
			Column  int      `json:"column"`
			Commit  string   `json:"commit"`
			Value   string   `json:"value"`
			Secret  string   `json:"secret"`
			Secrets []string `json:"secrets"`
		} `json:"findings"`
	}
	name := path
	if path == "-" {
		name = "from standard input"
	}
	if err := json.NewDecoder(r).Decode(&doc); err != nil || doc.Version != 1 {
		if errors.Is(err, io.EOF) && path == "-" {
			return nil, fmt.Errorf("%w (standard input is not a terminal but was empty; --env reads the environment)",
				errNothingToVerify)
		}
		return nil, fmt.Errorf("read report %s: not a gemscan JSON report", name)
	}
	var fs []scanner.Finding
	for i, jf := range doc.Findings {
		where := fmt.Sprintf("read report %s: finding %d", name, i+1)
		if jf.Value == "" {
			return nil, fmt.Errorf("%s has no value: write the report with --no-redact", where)
		}
		rule, ok := cl.Classify(jf.Value)
		switch {
		case !ok:
			return nil, fmt.Errorf("%s: the value is not a credential gemscan recognises; refusing to send it anywhere", where)
		case rule != jf.Rule:
			return nil, fmt.Errorf("%s: the report says %q but the value is a %s; refusing to send it anywhere",
				where, report.Sanitize(jf.Rule), rule)
		}
		f := scanner.Finding{Rule: rule, File: jf.File, Path: jf.File, Line: jf.Line, Column: jf.Column, Commit: jf.Commit, Value: jf.Value}
		switch {
		case len(jf.Secrets) > 0:
			f.Secrets = jf.Secrets
		case jf.Secret != "":
			f.Secrets = []string{jf.Secret}
		}
		if len(f.Secrets) > 0 && rule != rules.ExchangeKey {
			return nil, fmt.Errorf("%s: only exchange keys have secrets; refusing it", where)
		}
		for _, s := range f.Secrets {
			if err := checkSecret(cl, s); err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
		}
		fs = append(fs, f)
	}
	return fs, nil
}

// verifyReportOptions says how the verify report is written.
type verifyReportOptions struct {
	noRedact, color, sandbox bool
	failOn                   string
}

// verifiedCredential is one line of the verify report, and one object of
// its JSON form.
type verifiedCredential struct {
	Rule         string               `json:"rule"`
	Source       string               `json:"source"`
	File         string               `json:"file,omitempty"`
	Line         int                  `json:"line,omitempty"`
	Commit       string               `json:"commit,omitempty"`
	Redacted     string               `json:"redacted"`
	Value        string               `json:"value,omitempty"`
	ValueSHA256  string               `json:"value_sha256"`
	SecretSHA256 string               `json:"secret_sha256,omitempty"`
	Verification scanner.Verification `json:"verification"`
	Impact       string               `json:"impact,omitempty"`
	Revoke       string               `json:"revoke"`
}

// source says where a credential was read, for people.
func source(f *scanner.Finding) string {
	switch f.Path {
	case "argument":
		return "command line, " + f.File
	case "environment":
		return "environment, " + f.File
	}
	s := f.File
	if f.Line > 0 {
		s += ":" + strconv.Itoa(f.Line)
	}
	if f.Commit != "" {
		s += " @" + f.Commit[:min(12, len(f.Commit))]
	}
	return "report, " + s
}

func writeVerifyReport(w io.Writer, format string, fs []scanner.Finding, o verifyReportOptions) error {
	creds := make([]verifiedCredential, len(fs))
	counts := map[scanner.Status]int{}
	for i := range fs {
		f := &fs[i]
		res := scanner.Verification{Status: scanner.StatusUnknown, Detail: "not checked"}
		if f.Verification != nil {
			res = *f.Verification
		}
		counts[res.Status]++
		vc := verifiedCredential{Rule: f.Rule, Source: source(f), Redacted: f.Redacted(), ValueSHA256: f.ValueSHA256(),
			SecretSHA256: f.SecretSHA256(), Verification: res, Impact: verify.Impact(f.Rule, res),
			Revoke: verify.Revocation(f.Rule, res, o.sandbox)}
		if f.Path != "argument" && f.Path != "environment" {
			vc.File, vc.Line, vc.Commit = f.File, f.Line, f.Commit
		}
		if o.noRedact {
			vc.Value = f.Value
		}
		creds[i] = vc
	}
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Version     int                  `json:"version"`
			Mode        string               `json:"mode"`
			Credentials []verifiedCredential `json:"credentials"`
		}{1, "verify", creds})
	}
	ew := &verifyWriter{w: w}
	for _, vc := range creds {
		st := string(vc.Verification.Status)
		if o.color {
			st = statusColor(vc.Verification.Status).Sprint(st)
		}
		shown := vc.Redacted
		if o.noRedact {
			shown = vc.Value
		}
		line := fmt.Sprintf("%s  %s (%s) from %s: %s", st, report.Sanitize(shown), vc.Rule, report.Sanitize(vc.Source),
			report.Sanitize(vc.Verification.Detail))
		if vc.Impact != "" {
			line += ". Blast radius: " + vc.Impact
		}
		if vc.Verification.Status != scanner.StatusInvalid {
			line += ". Revoke: " + vc.Revoke
		}
		ew.printf("%s\n", line)
	}
	var parts []string
	for _, s := range []scanner.Status{scanner.StatusLive, scanner.StatusLiveRestricted, scanner.StatusLikelyLive,
		scanner.StatusRejected, scanner.StatusUnknown, scanner.StatusUnverifiable, scanner.StatusBlocked, scanner.StatusInvalid} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	dead := counts[scanner.StatusInvalid] + counts[scanner.StatusBlocked]
	ew.printf("\n%d %s checked: %s.", len(creds), plural(len(creds), "credential", "credentials"), strings.Join(parts, ", "))
	if n := len(creds) - dead; n > 0 {
		ew.printf(" %d not proven dead: revoke %s.", n, plural(n, "it", "them"))
	}
	ew.printf("\n")
	return ew.err
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func statusColor(s scanner.Status) *color.Color {
	switch {
	case s.IsLive():
		c := color.New(color.FgRed, color.Bold)
		c.EnableColor()
		return c
	case s == scanner.StatusInvalid || s == scanner.StatusBlocked:
		c := color.New(color.FgGreen)
		c.EnableColor()
		return c
	}
	c := color.New(color.FgYellow)
	c.EnableColor()
	return c
}

// verifyWriter prints freely and keeps the first write error.
type verifyWriter struct {
	w   io.Writer
	err error
}

func (v *verifyWriter) printf(format string, args ...any) {
	if v.err == nil {
		_, v.err = fmt.Fprintf(v.w, format, args...)
	}
}

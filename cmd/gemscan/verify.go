package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gemscan-dev/gemscan/rules"
	"github.com/gemscan-dev/gemscan/scanner"
	"github.com/gemscan-dev/gemscan/verify"
)

// verifyFlags configure live verification; scanning commands take them with
// --verify, and `gemscan verify` always verifies.
func verifyFlags(e *env) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "fail-on", Value: "any",
			Usage: "when to exit 1: `MODE` any (every finding) or live (only credentials verified live, live-restricted or likely-live)"},
		&cli.Float64Flag{Name: "rate", Value: 1, Usage: "at most `N` verification requests per second to each provider"},
		&cli.StringFlag{Name: "gemini-url", Value: orDefault(e.get("GEMSCAN_GEMINI_URL"), verify.DefaultGeminiURL),
			Usage: "the exchange's API base `URL` (sandbox: " + verify.SandboxGeminiURL + "; env GEMSCAN_GEMINI_URL)"},
		&cli.StringFlag{Name: "google-url", Value: orDefault(e.get("GEMSCAN_GOOGLE_URL"), verify.DefaultGoogleURL),
			Usage: "Google's Generative Language API base `URL` (env GEMSCAN_GOOGLE_URL)"},
	}
}

func orDefault(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

func newVerifier(c *cli.Context) (*verify.Verifier, error) {
	return verify.New(verify.Config{
		GeminiURL:     c.String("gemini-url"),
		GoogleURL:     c.String("google-url"),
		RatePerSecond: c.Float64("rate"),
		UserAgent:     "gemscan/" + version() + " (secret scanner; checks whether a leaked key is live)",
	})
}

func checkFailOn(c *cli.Context, verifying bool) error {
	switch c.String("fail-on") {
	case "any":
		return nil
	case "live":
		if !verifying {
			return fmt.Errorf("--fail-on live needs --verify: without it nothing is known to be live")
		}
		return nil
	}
	return fmt.Errorf("unknown --fail-on %q (want any or live)", c.String("fail-on"))
}

const verifyHelp = `Checks whether credentials still work, with one harmless call each:
  exchange keys: a signed POST /v1/roles (reads the key's role flags; the
                 secret never leaves this machine, only an HMAC signature;
                 the nonce is the current Unix time in seconds)
  Google keys:   GET /v1beta/models with the key in the x-goog-api-key
                 header (lists public model names; costs nothing)

Credentials come from the arguments (an exchange key and its secret as
KEY:SECRET), else from a JSON report made with --no-redact (--report FILE,
or - for stdin), else from the environment (GEMINI_API_KEY with
GEMINI_API_SECRET, GOOGLE_API_KEY), else from a report piped to stdin.

Examples:
   gemscan verify "$GEMINI_API_KEY:$GEMINI_API_SECRET"
   gemscan verify AQ.Ab8RN6...
   gemscan dir --no-redact --format json . | gemscan verify
   gemscan verify --gemini-url https://api.sandbox.gemini.com account-...:...

Exit status: 0 none is usable, 1 some credential is reported (with --fail-on
live: some credential is live), 2 nothing could be checked as asked.`

func verifyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:        "verify",
		Usage:       "check whether credentials are live (one harmless call each)",
		ArgsUsage:   "[CREDENTIAL…]",
		Description: verifyHelp,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "text", Usage: "report format: text, json"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the report to `FILE`"},
			&cli.BoolFlag{Name: "no-redact", Usage: "show credentials in full"},
			&cli.BoolFlag{Name: "no-color", Usage: "no colour in text output"},
			&cli.StringFlag{Name: "report", Usage: "verify the findings of a JSON report made with --no-redact (`FILE`, - for stdin)"},
		}, verifyFlags(e)...),
		Action: func(c *cli.Context) error {
			if err := checkFormat(c.String("format")); err != nil {
				return err
			}
			if err := checkFailOn(c, true); err != nil {
				return err
			}
			start := time.Now()
			var fs []scanner.Finding
			var err error
			switch {
			case c.NArg() > 0:
				fs, err = credentialsFromArgs(c.Args().Slice())
			case c.String("report") != "":
				fs, err = credentialsFromReport(e, c.String("report"))
			case hasEnvCredentials(e) || stdinIsTerminal(e):
				fs, err = credentialsFromEnv(e)
			default:
				// Piped input and no credentials in the environment: a report.
				fs, err = credentialsFromReport(e, "-")
			}
			if err != nil {
				return err
			}
			v, err := newVerifier(c)
			if err != nil {
				return err
			}
			v.Findings(c.Context, fs)
			res := &scanner.Result{Findings: fs}
			res.Stats.Duration = time.Since(start)
			return finishVerified(c, e, "verify", "credentials", res)
		},
	}
}

// classify names the rule of a credential by its prefix.
func classify(v string) (string, error) {
	if rule, ok := rules.RuleOf(v); ok {
		return rule, nil
	}
	return "", fmt.Errorf("%s: not a Gemini credential (want account-…, master-…, AQ.… or AIza…)", scanner.Redact(v))
}

func credentialsFromArgs(args []string) ([]scanner.Finding, error) {
	var fs []scanner.Finding
	for i, a := range args {
		key, secret, _ := strings.Cut(a, ":")
		rule, err := classify(key)
		if err != nil {
			return nil, err
		}
		f := scanner.Finding{Rule: rule, File: fmt.Sprintf("argument %d", i+1), Path: "argument", Value: key}
		if secret != "" {
			if rule != rules.ExchangeKey {
				return nil, fmt.Errorf("argument %d: only exchange keys take a :SECRET", i+1)
			}
			f.Secrets = []string{secret}
		}
		fs = append(fs, f)
	}
	return fs, nil
}

var errNothingToVerify = errors.New("nothing to verify: give credentials as arguments, --report FILE, " +
	"a report on stdin, or set GEMINI_API_KEY (and GEMINI_API_SECRET) or GOOGLE_API_KEY")

func hasEnvCredentials(e *env) bool {
	return strings.TrimSpace(e.get("GEMINI_API_KEY")) != "" || strings.TrimSpace(e.get("GOOGLE_API_KEY")) != ""
}

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

func credentialsFromEnv(e *env) ([]scanner.Finding, error) {
	var fs []scanner.Finding
	for _, name := range []string{"GEMINI_API_KEY", "GOOGLE_API_KEY"} {
		v := strings.TrimSpace(e.get(name))
		if v == "" {
			continue
		}
		rule, err := classify(v)
		if err != nil {
			return nil, fmt.Errorf("$%s: %w", name, err)
		}
		f := scanner.Finding{Rule: rule, File: "$" + name, Path: "environment", Value: v}
		if rule == rules.ExchangeKey {
			if s := strings.TrimSpace(e.get("GEMINI_API_SECRET")); s != "" {
				f.Secrets = []string{s}
			}
		}
		fs = append(fs, f)
	}
	if len(fs) == 0 {
		return nil, errNothingToVerify
	}
	return fs, nil
}

// credentialsFromReport reads the findings of a JSON report written with
// --no-redact.
func credentialsFromReport(e *env, path string) ([]scanner.Finding, error) {
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
	if err := json.NewDecoder(r).Decode(&doc); err != nil || doc.Version != 1 {
		if errors.Is(err, io.EOF) && path == "-" {
			return nil, errNothingToVerify
		}
		return nil, fmt.Errorf("read report %s: not a gemscan JSON report", path)
	}
	var fs []scanner.Finding
	for i, jf := range doc.Findings {
		if jf.Value == "" {
			return nil, fmt.Errorf("read report %s: finding %d has no value: write the report with --no-redact", path, i+1)
		}
		f := scanner.Finding{Rule: jf.Rule, File: jf.File, Path: jf.File, Line: jf.Line, Column: jf.Column, Commit: jf.Commit, Value: jf.Value}
		switch {
		case len(jf.Secrets) > 0:
			f.Secrets = jf.Secrets
		case jf.Secret != "":
			f.Secrets = []string{jf.Secret}
		}
		fs = append(fs, f)
	}
	return fs, nil
}

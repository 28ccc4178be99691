package report

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gemscan-dev/gemscan/internal/testkeys"
	"github.com/gemscan-dev/gemscan/rules"
	"github.com/gemscan-dev/gemscan/scanner"
)

// The golden files under testdata pin the report contract (JSON, SARIF)
// and the escaping of hostile names (text, github, job summary) byte for
// byte. After a deliberate change, rewrite them with
//
//	go test ./report -run Golden -update
//
// and review the diff.
var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// hostile is a report whose every piece of scanned data tries to escape:
// file names, an author, a provider's message, a note and an error holding
// terminal escapes, workflow commands, Markdown links, HTML and URI schemes.
func hostile(k testkeys.Set) *Report {
	when := time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC)
	commit := strings.Repeat("c0ffee", 6) + "abcd"
	res := &scanner.Result{Findings: []scanner.Finding{
		{Rule: rules.GoogleAPI, File: "e\n::warning file=x.go::forged", Line: 1, Column: 1, EndLine: 1, EndColumn: 40, Value: k.APIKey,
			Commit: commit, Author: "Mallory\x1b[8m <m@example.invalid>", Date: when, InHead: true},
		{Rule: rules.GoogleGemini, File: "\x1b[2J\x1b]0;pwned\x07clear.env", Line: 2, Column: 3, EndLine: 2, EndColumn: 56, Value: k.AQKey,
			Verification: &scanner.Verification{Status: scanner.StatusUnknown, Detail: "HTTP 503\n\x1b[31mretry later"}},
		{Rule: rules.ExchangeKey, File: "docs/`](https://evil.example/rotate) [Rotate your key here](https://evil.example).md", Line: 3, Column: 1,
			EndLine: 3, EndColumn: 29, SecretLine: 4, Value: k.ExchangeKey, Secrets: []string{k.Secret},
			Verification: &scanner.Verification{Status: scanner.StatusLive, Detail: "roles: trader | <b>admin</b> [x](y)"}},
		{Rule: rules.GoogleAPI, File: "https:/evil.example/x.env", Line: 1, Column: 1, EndLine: 1, EndColumn: 40, Value: k.APIKey},
		{Rule: rules.ExchangeSecret, File: "a|b<img src=x onerror=alert(1)>\u202eexe.env", Line: 5, Column: 7, EndLine: 5, EndColumn: 35, Value: k.Secret2,
			Verification: &scanner.Verification{Status: scanner.StatusUnverifiable, Detail: "a lone secret cannot be checked"}},
	}}
	for i := range res.Findings {
		res.Findings[i].Path = res.Findings[i].File
	}
	res.Suppressed.Add(scanner.ReasonAllow, "", scanner.Finding{Rule: rules.GoogleAPI, File: "test/``fixture``.go", Path: "test/``fixture``.go",
		Line: 9, Column: 2, Value: k.APIKey, Commit: commit, Author: "A <a@example.invalid>", Date: when})
	res.Suppressed.Add(scanner.ReasonIgnoreFile, scanner.IgnoreFile, scanner.Finding{Rule: rules.GoogleGemini, File: "fixtures/\x1b[8mfake.env",
		Path: "fixtures/\x1b[8mfake.env", Line: 1, Column: 3, Value: k.AQKey})
	res.Suppressed.Add(scanner.ReasonBaseline, "base|line.json", scanner.Finding{Rule: rules.GoogleAPI, File: "old.env", Path: "old.env",
		Line: 4, Column: 1, Value: k.APIKey})
	res.Errors = []error{errors.New("read directory e\n::warning ::forged: permission denied")}
	res.Stats = scanner.Stats{Files: 7, Bytes: 4096, Commits: 2,
		Notes: []string{"submodule \x1b]8;;https://evil.example\x07link\x1b]8;;\x07 was not scanned"}}
	return &Report{Mode: "git", Target: ". main..`pr`", Result: res, Root: "/src/repo", Version: "v1.2.3"}
}

func TestGoldenHostile(t *testing.T) {
	k := testkeys.New(5).Set()
	for _, format := range []string{"text", "json", "sarif", "github"} {
		t.Run(format, func(t *testing.T) {
			r := hostile(k)
			if format == "github" {
				r.SummaryPath = filepath.Join(t.TempDir(), "summary.md")
			}
			var buf bytes.Buffer
			if err := Write(&buf, format, r); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			if format == "text" || format == "github" {
				checkNoControls(t, out)
			}
			if format == "github" {
				checkWorkflowCommands(t, out)
			}
			golden(t, "hostile."+format, placeholders(out, k))
			if format == "github" {
				md, err := os.ReadFile(r.SummaryPath)
				if err != nil {
					t.Fatal(err)
				}
				checkNoControls(t, string(md))
				checkMarkdown(t, string(md))
				golden(t, "hostile.md", placeholders(string(md), k))
			}
		})
	}
}

// TestGoldenContract pins the JSON and SARIF documents for the ordinary
// sample: the machine contract tools rely on.
func TestGoldenContract(t *testing.T) {
	for _, format := range []string{"json", "sarif"} {
		t.Run(format, func(t *testing.T) {
			r, k := sample(t)
			r.Root = "/src/repo"
			r.Result.Suppressed.Add(scanner.ReasonBaseline, "base.json", scanner.Finding{Rule: rules.GoogleAPI, File: "old.env", Path: "old.env",
				Line: 4, Column: 1, Value: k.APIKey})
			var buf bytes.Buffer
			if err := Write(&buf, format, r); err != nil {
				t.Fatal(err)
			}
			golden(t, "sample."+format, placeholders(buf.String(), k))
		})
	}
}

// placeholders replaces every generated credential in out by its name, so
// that no credential-shaped value is stored in testdata (::add-mask:: lines
// print them in full by design).
func placeholders(out string, k testkeys.Set) string {
	return strings.NewReplacer(k.ExchangeKey, "<EXCHANGE_KEY>", k.MasterKey, "<MASTER_KEY>", k.Secret, "<SECRET>",
		k.Secret2, "<SECRET2>", k.AQKey, "<AQ_KEY>", k.APIKey, "<API_KEY>").Replace(out)
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -run Golden -update to create it)", err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < max(len(gl), len(wl)); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs from the golden file at line %d:\ngot:  %q\nwant: %q\n(run with -update after a deliberate change)", name, i+1, g, w)
			}
		}
	}
}

// checkNoControls fails on any control character but the newline: what a
// terminal or a log viewer would act on.
func checkNoControls(t *testing.T, out string) {
	t.Helper()
	for i, r := range out {
		if r < 0x20 && r != '\n' || r == 0x7f || r >= 0x80 && r < 0xa0 || r == '\u202e' {
			t.Fatalf("raw control character %U at byte %d: %q", r, i, out[max(i-20, 0):min(i+20, len(out))])
		}
	}
}

// checkWorkflowCommands checks that every line the github format prints is
// one of the commands it means to print, or its summary line: no scanned
// name can start a line of its own (the runner reads commands only at the
// start of a line).
func checkWorkflowCommands(t *testing.T, out string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		ok := false
		for _, p := range []string{"::add-mask::", "::error file=", "::warning file=", "::notice file=",
			"::error title=", "::warning title=", "::notice title="} {
			ok = ok || strings.HasPrefix(line, p)
		}
		if !ok && !strings.Contains(line, "Gemini credentials") {
			t.Errorf("unexpected line in workflow output: %q", line)
		}
	}
}

// checkMarkdown checks the job summary's table rows keep their cells, and
// that no scanned text forms a link or an HTML tag outside a code span.
func checkMarkdown(t *testing.T, md string) {
	t.Helper()
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| Location") {
			continue
		}
		cells := 0
		inCode := ""
		for i := 0; i < len(line); i++ {
			switch c := line[i]; {
			case c == '\\':
				i++ // an escaped character, in a cell or a code span
			case c == '`':
				n := 1
				for i+n < len(line) && line[i+n] == '`' {
					n++
				}
				fence := line[i : i+n]
				switch inCode {
				case "":
					inCode = fence
				case fence:
					inCode = ""
				}
				i += n - 1
			case inCode == "" && c == '|':
				cells++
			case inCode == "" && (c == '<' || c == '[' || c == ']' || c == '('):
				t.Errorf("unescaped %q outside a code span: %s", c, line)
			}
		}
		if cells != 5 || inCode != "" {
			t.Errorf("row with %d cell borders (want 5), open code span %q: %s", cells, inCode, line)
		}
	}
}

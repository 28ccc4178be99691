package report

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gemscan-dev/gemscan/internal/testkeys"
	"github.com/gemscan-dev/gemscan/rules"
	"github.com/gemscan-dev/gemscan/scanner"
)

// sample is a report with one finding of each kind, paths that need
// escaping, history attribution and verification answers.
func sample(t *testing.T) (*Report, testkeys.Set) {
	k := testkeys.New(71).Set()
	res := &scanner.Result{Findings: []scanner.Finding{
		{Rule: rules.ExchangeKey, File: "config/my app.env", Path: "config/my app.env", Line: 2, Column: 16, EndLine: 2, EndColumn: 44,
			SecretLine: 3, Value: k.ExchangeKey, Secrets: []string{k.Secret},
			Commit: strings.Repeat("ab", 20), Author: "Ada <ada@example.invalid>", Date: time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC), InHead: true,
			Verification: &scanner.Verification{Status: scanner.StatusLive, Detail: "roles: trader (can trade)"}},
		{Rule: rules.GoogleGemini, File: "src/clé,%:x.py", Path: "src/clé,%:x.py", Line: 1, Column: 5, EndLine: 1, EndColumn: 58, Value: k.AQKey,
			Verification: &scanner.Verification{Status: scanner.StatusInvalid, Detail: "Google says the key is not valid"}},
		{Rule: rules.GoogleAPI, File: "web/a.js", Path: "web/a.js", Line: 9, Column: 1, EndLine: 9, EndColumn: 40, Value: k.APIKey},
		{Rule: rules.ExchangeSecret, File: ".env", Path: ".env", Line: 1, Column: 19, EndLine: 1, EndColumn: 47, Value: k.Secret2},
	}}
	res.Stats.Commits = 3
	return &Report{Mode: "git", Target: ". base..head", Result: res, Root: t.TempDir(), Version: "v0.0.0-test"}, k
}

func secretsOf(k testkeys.Set) []string {
	return []string{k.ExchangeKey, k.Secret, k.Secret2, k.AQKey, k.APIKey}
}

func TestSARIF(t *testing.T) {
	r, k := sample(t)
	var buf bytes.Buffer
	if err := Write(&buf, "sarif", r); err != nil {
		t.Fatal(err)
	}
	for _, s := range secretsOf(k) {
		if strings.Contains(buf.String(), s) {
			t.Fatalf("the SARIF log holds a credential in full")
		}
	}
	var doc struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID   string `json:"id"`
						Help struct {
							Text string `json:"text"`
						} `json:"help"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			OriginalURIBaseIDs map[string]struct {
				URI string `json:"uri"`
			} `json:"originalUriBaseIds"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				Level     string `json:"level"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI       string `json:"uri"`
							URIBaseID string `json:"uriBaseId"`
						} `json:"artifactLocation"`
						Region struct {
							StartLine, StartColumn int
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
				PartialFingerprints map[string]string `json:"partialFingerprints"`
				Properties          map[string]any    `json:"properties"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	run := doc.Runs[0]
	if doc.Version != "2.1.0" || len(run.Tool.Driver.Rules) != 4 || len(run.Results) != 4 {
		t.Fatalf("version %s, %d rules, %d results", doc.Version, len(run.Tool.Driver.Rules), len(run.Results))
	}
	for _, rule := range run.Tool.Driver.Rules {
		if !strings.Contains(rule.Help.Text, "What to do") {
			t.Errorf("rule %s has no remediation in its help", rule.ID)
		}
	}
	if !strings.HasPrefix(run.OriginalURIBaseIDs["SRCROOT"].URI, "file:///") {
		t.Errorf("originalUriBaseIds: %+v", run.OriginalURIBaseIDs)
	}
	want := []struct{ uri, level string }{
		{"config/my%20app.env", "error"}, {"src/cl%C3%A9%2C%25%3Ax.py", "warning"}, {"web/a.js", "warning"}, {".env", "warning"},
	}
	for i, res := range run.Results {
		loc := res.Locations[0].PhysicalLocation
		if loc.ArtifactLocation.URI != want[i].uri || loc.ArtifactLocation.URIBaseID != "SRCROOT" || res.Level != want[i].level {
			t.Errorf("result %d: uri %q base %q level %s, want %q SRCROOT %s", i, loc.ArtifactLocation.URI,
				loc.ArtifactLocation.URIBaseID, res.Level, want[i].uri, want[i].level)
		}
		if res.PartialFingerprints[FingerprintKey] != r.Result.Findings[i].Fingerprint() {
			t.Errorf("result %d: partialFingerprints %v", i, res.PartialFingerprints)
		}
	}
	if p := run.Results[0].Properties; p["commit"] != strings.Repeat("ab", 20) || p["inHead"] != true {
		t.Errorf("commit facts missing from properties: %v", p)
	}
	validateSARIF(t, buf.Bytes())
}

// validateSARIF runs the Microsoft SARIF multitool's validator (npm package
// @microsoft/sarif-multitool) and fails on any error or warning it reports.
func validateSARIF(t *testing.T, doc []byte) {
	t.Helper()
	tool := os.Getenv("GEMSCAN_SARIF_VALIDATOR")
	if tool == "" {
		tool, _ = exec.LookPath("sarif-multitool")
	}
	if tool == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("no SARIF validator: set GEMSCAN_SARIF_VALIDATOR (.ci/run installs @microsoft/sarif-multitool)")
		}
		t.Skip("no SARIF validator (npm install @microsoft/sarif-multitool; set GEMSCAN_SARIF_VALIDATOR)")
	}
	path := filepath.Join(t.TempDir(), "report.sarif")
	if err := os.WriteFile(path, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, "validate", "--max-file-size-in-kb", "1000000", path).CombinedOutput()
	if err != nil {
		t.Fatalf("validator: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Analysis completed successfully") {
		t.Fatalf("validator did not complete:\n%s", out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, ": error ") || strings.Contains(line, ": warning ") {
			t.Errorf("validator: %s", line)
		}
	}
}

func TestSARIFEmpty(t *testing.T) {
	r := &Report{Mode: "dir", Target: ".", Result: &scanner.Result{}, Version: "v0.0.0-test"}
	var buf bytes.Buffer
	if err := Write(&buf, "sarif", r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"results": []`) {
		t.Errorf("an empty run must still list its results: %s", buf.String())
	}
	validateSARIF(t, buf.Bytes())
}

func TestGitHub(t *testing.T) {
	r, k := sample(t)
	r.SummaryPath = filepath.Join(t.TempDir(), "summary.md")
	os.WriteFile(r.SummaryPath, []byte("earlier step\n"), 0o644)
	var buf bytes.Buffer
	if err := Write(&buf, "github", r); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(buf.String(), "\n")
	// Every value is masked before anything else is printed.
	masks := 0
	for _, l := range lines {
		if !strings.HasPrefix(l, "::add-mask::") {
			break
		}
		masks++
	}
	if masks != 5 {
		t.Fatalf("%d add-mask commands first, want 5 (4 values and a paired secret):\n%s", masks, buf.String())
	}
	rest := strings.Join(lines[masks:], "\n")
	for _, s := range secretsOf(k) {
		if strings.Contains(rest, s) {
			t.Fatalf("a credential is printed after the masks")
		}
	}
	for _, want := range []string{
		"::error file=config/my app.env,line=2,col=16,endLine=2,title=Gemini exchange API key (gemini-exchange-key)::",
		"::warning file=src/clé%2C%25%3Ax.py,line=1,col=5,endLine=1,title=",
		"::error file=web/a.js,line=9,col=1,endLine=9,",
		"%0A", // multi-line messages are escaped
	} {
		if !strings.Contains(rest, want) {
			t.Errorf("missing %q in:\n%s", want, rest)
		}
	}
	sum, _ := os.ReadFile(r.SummaryPath)
	for _, want := range []string{"earlier step\n## gemscan", "4 Gemini credentials found** in 3 commits", "`config/my app.env:2`",
		`live\: roles\: trader \(can trade\)`, "### What to do", "Revoke"} {
		if !strings.Contains(string(sum), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	for _, s := range secretsOf(k) {
		if strings.Contains(string(sum), s) {
			t.Fatalf("the job summary holds a credential")
		}
	}
}

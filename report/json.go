package report

import (
	"encoding/json"
	"io"
	"time"

	"github.com/gemscan-dev/gemscan/scanner"
)

// JSONVersion is the version of the JSON report's shape.
const JSONVersion = 1

// JSONReport is the JSON report document (DESIGN.md §3).
type JSONReport struct {
	Version  int           `json:"version"`
	Scan     JSONScan      `json:"scan"`
	Findings []JSONFinding `json:"findings"`
	// Errors lists what stopped parts of the scan; a report with errors is
	// incomplete.
	Errors []string `json:"errors,omitempty"`
}

// JSONScan describes the scan.
type JSONScan struct {
	Mode       string   `json:"mode"`
	Target     string   `json:"target"`
	DurationMS int64    `json:"duration_ms"`
	Commits    int64    `json:"commits"`
	Files      int64    `json:"files"`
	Blobs      int64    `json:"blobs,omitempty"`
	Bytes      int64    `json:"bytes"`
	Skipped    *Skipped `json:"skipped,omitempty"`
	Notes      []string `json:"notes,omitempty"`
}

// Skipped counts what the scan passed over on purpose.
type Skipped struct {
	Binary   int64 `json:"binary,omitempty"`
	TooLarge int64 `json:"too_large,omitempty"`
	Allowed  int64 `json:"allowed,omitempty"`
	Baseline int64 `json:"baseline,omitempty"`
	// Ignored counts untracked paths .gitignore rules ignore (dir mode;
	// --no-ignore scans them), Excluded those .gemscanignore excludes.
	Ignored  int64 `json:"ignored,omitempty"`
	Excluded int64 `json:"gemscanignore,omitempty"`
}

// JSONFinding is one finding in the JSON report.
type JSONFinding struct {
	Rule         string                `json:"rule"`
	File         string                `json:"file"`
	Line         int                   `json:"line"`
	Column       int                   `json:"column"`
	SecretLine   int                   `json:"secret_line,omitempty"`
	Commit       string                `json:"commit"`
	Author       string                `json:"author"`
	Date         string                `json:"date"`
	InHead       bool                  `json:"in_head"`
	Redacted     string                `json:"redacted"`
	ValueSHA256  string                `json:"value_sha256"`
	SecretSHA256 string                `json:"secret_sha256,omitempty"`
	Fingerprint  string                `json:"fingerprint"`
	Encoding     string                `json:"encoding,omitempty"`
	Confidence   string                `json:"confidence,omitempty"`
	Value        string                `json:"value,omitempty"`
	Secret       string                `json:"secret,omitempty"`
	Secrets      []string              `json:"secrets,omitempty"`
	Verification *scanner.Verification `json:"verification,omitempty"`
}

// ToJSON builds the JSON document for r.
func ToJSON(r *Report) JSONReport {
	res := r.Result
	st := res.Stats
	out := JSONReport{
		Version: JSONVersion,
		Scan: JSONScan{Mode: r.Mode, Target: r.Target, DurationMS: st.Duration.Milliseconds(),
			Commits: st.Commits, Files: st.Files, Bytes: st.Bytes, Notes: st.Notes},
		Findings: make([]JSONFinding, 0, len(res.Findings)),
	}
	if r.Mode == "git" {
		// In history, what is scanned is blobs, each once.
		out.Scan.Blobs = st.Files
	}
	if st.Binary+st.TooLarge+st.Allowed+st.Ignored+st.IgnoredPaths+st.Excluded > 0 {
		out.Scan.Skipped = &Skipped{Binary: st.Binary, TooLarge: st.TooLarge, Allowed: st.Allowed, Baseline: st.Ignored,
			Ignored: st.IgnoredPaths, Excluded: st.Excluded}
	}
	for i := range res.Findings {
		f := &res.Findings[i]
		jf := JSONFinding{
			Rule: f.Rule, File: f.File, Line: f.Line, Column: f.Column, SecretLine: f.SecretLine,
			Commit: f.Commit, Author: f.Author, InHead: f.InHead,
			Redacted: f.Redacted(), ValueSHA256: f.ValueSHA256(), SecretSHA256: f.SecretSHA256(),
			Fingerprint: f.Fingerprint(), Encoding: f.Encoding, Confidence: string(f.Confidence),
			Verification: f.Verification,
		}
		if !f.Date.IsZero() {
			jf.Date = f.Date.Format(time.RFC3339)
		}
		if r.NoRedact {
			jf.Value = f.Value
			jf.Secret = f.Secret()
			if len(f.Secrets) > 1 {
				jf.Secrets = f.Secrets
			}
		}
		out.Findings = append(out.Findings, jf)
	}
	for _, err := range res.Errors {
		out.Errors = append(out.Errors, err.Error())
	}
	return out
}

func writeJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(ToJSON(r))
}

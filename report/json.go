package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"time"

	"github.com/gemscan-dev/gemscan/scanner"
)

// JSONVersion is the version of the JSON report's shape.
const JSONVersion = 1

// JSONReport is the JSON report document (DESIGN.md §3). writeJSON streams
// it field by field in this order; the type documents the shape and reads
// reports back.
type JSONReport struct {
	Version  int           `json:"version"`
	Scan     JSONScan      `json:"scan"`
	Findings []JSONFinding `json:"findings"`
	// Suppressed lists, redacted, the findings that gemscan:allow,
	// .gemscanignore or a baseline hid (at most
	// scanner.MaxListedSuppressed; Scan.SuppressedUnlisted counts the
	// rest).
	Suppressed []JSONSuppressed `json:"suppressed"`
	// Errors lists what stopped parts of the scan; a report with errors is
	// incomplete.
	Errors []string `json:"errors,omitempty"`
}

// JSONScan describes the scan.
type JSONScan struct {
	// Gemscan is the version of gemscan that wrote the report.
	Gemscan    string `json:"gemscan,omitempty"`
	Mode       string `json:"mode"`
	Target     string `json:"target"`
	DurationMS int64  `json:"duration_ms"`
	Commits    int64  `json:"commits"`
	Files      int64  `json:"files"`
	Blobs      int64  `json:"blobs,omitempty"`
	Bytes      int64  `json:"bytes"`
	// Archives counts the archives opened (nested ones included) and
	// Members the members scanned in them.
	Archives int64    `json:"archives,omitempty"`
	Members  int64    `json:"members,omitempty"`
	Skipped  *Skipped `json:"skipped,omitempty"`
	// SuppressedUnlisted counts suppressed findings left out of the
	// suppressed list to bound its size.
	SuppressedUnlisted int64    `json:"suppressed_unlisted,omitempty"`
	Notes              []string `json:"notes,omitempty"`
}

// Skipped counts what the scan passed over on purpose: files it did not
// read, and findings suppressed, by reason.
type Skipped struct {
	Binary   int64 `json:"binary,omitempty"`
	TooLarge int64 `json:"too_large,omitempty"`
	// Ignored counts untracked paths .gitignore rules ignore (dir mode;
	// --no-ignore scans them), unread.
	Ignored int64 `json:"ignored,omitempty"`
	// Allowed, IgnoreFile and Baseline count suppressed findings.
	Allowed    int64 `json:"allowed,omitempty"`
	IgnoreFile int64 `json:"ignore_file,omitempty"`
	Baseline   int64 `json:"baseline,omitempty"`
}

// JSONFinding is one finding in the JSON report.
type JSONFinding struct {
	Rule       string `json:"rule"`
	File       string `json:"file"`
	Line       int    `json:"line"`
	Column     int    `json:"column"`
	SecretLine int    `json:"secret_line,omitempty"`
	Commit     string `json:"commit"`
	Author     string `json:"author"`
	Date       string `json:"date"`
	// InHead (git mode: findings with a commit) says whether HEAD's tree
	// still has the credential at File; it means nothing elsewhere and is
	// left out.
	InHead *bool `json:"in_head,omitempty"`
	// Refs (git mode, whole history) names the refs whose history holds
	// the introducing commit; MoreRefs counts those left out.
	Refs         []string              `json:"refs,omitempty"`
	MoreRefs     int                   `json:"more_refs,omitempty"`
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

// JSONSuppressed is one suppressed finding in the JSON report: always
// redacted, never verified.
type JSONSuppressed struct {
	// Reason is "allow-comment", "ignore-file" or "baseline".
	Reason string `json:"reason"`
	// Source is where the suppression lives: the file holding the
	// gemscan:allow line, the ignore file, or the baseline file.
	Source string `json:"source"`
	JSONFinding
}

// jsonScan builds the scan section of the JSON report.
func jsonScan(r *Report) JSONScan {
	res := r.Result
	st := res.Stats
	out := JSONScan{Gemscan: r.Version, Mode: r.Mode, Target: r.Target, DurationMS: st.Duration.Milliseconds(),
		Commits: st.Commits, Files: st.Files, Bytes: st.Bytes, Notes: st.Notes, Archives: st.Archives, Members: st.Members,
		SuppressedUnlisted: res.Suppressed.Unlisted()}
	if r.Mode == "git" {
		// In history, what is scanned is blobs, each once.
		out.Blobs = st.Files
	}
	sup := &res.Suppressed
	if st.Binary+st.TooLarge+st.IgnoredPaths+sup.Total() > 0 {
		out.Skipped = &Skipped{Binary: st.Binary, TooLarge: st.TooLarge, Ignored: st.IgnoredPaths, Allowed: sup.Count(scanner.ReasonAllow),
			IgnoreFile: sup.Count(scanner.ReasonIgnoreFile), Baseline: sup.Count(scanner.ReasonBaseline)}
	}
	return out
}

// jsonFinding builds one finding of the JSON report; full says whether the
// credential may appear in full (--no-redact).
func jsonFinding(f *scanner.Finding, full bool) JSONFinding {
	jf := JSONFinding{
		Rule: f.Rule, File: f.File, Line: f.Line, Column: f.Column, SecretLine: f.SecretLine,
		Commit: f.Commit, Author: f.Author, Refs: f.Refs, MoreRefs: f.MoreRefs,
		Redacted: f.Redacted(), ValueSHA256: f.ValueSHA256(), SecretSHA256: f.SecretSHA256(),
		Fingerprint: f.Fingerprint(), Encoding: f.Encoding, Confidence: string(f.Confidence),
		Verification: f.Verification,
	}
	if f.Commit != "" {
		inHead := f.InHead
		jf.InHead = &inHead
	}
	if !f.Date.IsZero() {
		jf.Date = f.Date.Format(time.RFC3339)
	}
	if full {
		jf.Value = f.Value
		jf.Secret = f.Secret()
		if len(f.Secrets) > 1 {
			jf.Secrets = f.Secrets
		}
	}
	return jf
}

// writeJSON streams the JSON report: each finding is encoded and written on
// its own, so a report with a hundred thousand findings never exists whole
// in memory. The bytes are those json.Encoder with two-space indentation
// writes for the whole JSONReport.
func writeJSON(w io.Writer, r *Report) error {
	res := r.Result
	js := newJSONStream(w)
	js.raw("{")
	js.field("", true, "version", JSONVersion)
	js.field("", false, "scan", jsonScan(r))
	js.field("", false, "findings", nil)
	js.array("  ", len(res.Findings), func(i int) any { return jsonFinding(&res.Findings[i], r.NoRedact) })
	js.field("", false, "suppressed", nil)
	sup := sortedSuppressed(&res.Suppressed)
	js.array("  ", len(sup), func(i int) any {
		s := &sup[i]
		return JSONSuppressed{Reason: string(s.Reason), Source: s.Source, JSONFinding: jsonFinding(&s.Finding, false)}
	})
	if len(res.Errors) > 0 {
		js.field("", false, "errors", nil)
		js.array("  ", len(res.Errors), func(i int) any { return res.Errors[i].Error() })
	}
	js.raw("\n}\n")
	return js.flush()
}

// jsonStream writes a JSON document piece by piece, each value indented as
// it would be inside the whole document.
type jsonStream struct {
	w   *bufio.Writer
	buf bytes.Buffer
	enc *json.Encoder
	err error
}

func newJSONStream(w io.Writer) *jsonStream {
	js := &jsonStream{w: bufio.NewWriterSize(w, 64<<10)}
	js.enc = json.NewEncoder(&js.buf)
	js.enc.SetEscapeHTML(false)
	return js
}

func (js *jsonStream) raw(s string) {
	if js.err == nil {
		_, js.err = js.w.WriteString(s)
	}
}

// value writes v as it is indented at prefix.
func (js *jsonStream) value(prefix string, v any) {
	if js.err != nil {
		return
	}
	js.buf.Reset()
	js.enc.SetIndent(prefix, "  ")
	if js.err = js.enc.Encode(v); js.err != nil {
		return
	}
	_, js.err = js.w.Write(bytes.TrimSuffix(js.buf.Bytes(), []byte("\n")))
}

// array writes an array of n elements, indented as a value at prefix.
func (js *jsonStream) array(prefix string, n int, elem func(i int) any) {
	if n == 0 {
		js.raw("[]")
		return
	}
	js.raw("[")
	for i := 0; i < n && js.err == nil; i++ {
		if i > 0 {
			js.raw(",")
		}
		js.raw("\n" + prefix + "  ")
		js.value(prefix+"  ", elem(i))
	}
	js.raw("\n" + prefix + "]")
}

// field writes one field of an object indented at prefix ("," first unless
// it is the first).
func (js *jsonStream) field(prefix string, first bool, name string, v any) {
	if !first {
		js.raw(",")
	}
	js.raw("\n" + prefix + "  " + strconv.Quote(name) + ": ")
	if v != nil {
		js.value(prefix+"  ", v)
	}
}

func (js *jsonStream) flush() error {
	if js.err != nil {
		return js.err
	}
	return js.w.Flush()
}

package report

import (
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/gemscan-dev/gemscan/rules"
	"github.com/gemscan-dev/gemscan/scanner"
)

// SARIF 2.1.0 documents, as much of the format as gemscan writes.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool               sarifTool                   `json:"tool"`
	Invocations        []sarifInvocation           `json:"invocations"`
	OriginalURIBaseIDs map[string]sarifArtifactLoc `json:"originalUriBaseIds,omitempty"`
	Results            []sarifResult               `json:"results"`
	ColumnKind         string                      `json:"columnKind"`
	Properties         map[string]any              `json:"properties,omitempty"`
	AutomationDetails  *sarifAutomation            `json:"automationDetails,omitempty"`
}

type sarifAutomation struct {
	ID string `json:"id"`
}

// sarifInvocation says whether the scan ran to completion and what went
// wrong (errors) or should be known (a cap on results) on the way.
type sarifInvocation struct {
	ExecutionSuccessful        bool                `json:"executionSuccessful"`
	ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level   string    `json:"level"`
	Message sarifText `json:"message"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri"`
	Version        string      `json:"version,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name"`
	ShortDescription     sarifText      `json:"shortDescription"`
	FullDescription      sarifText      `json:"fullDescription"`
	Help                 sarifText      `json:"help"`
	DefaultConfiguration map[string]any `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties"`
}

type sarifArtifactLoc struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn"`
	EndLine     int `json:"endLine"`
	EndColumn   int `json:"endColumn"`
}

type sarifLocation struct {
	PhysicalLocation struct {
		ArtifactLocation sarifArtifactLoc `json:"artifactLocation"`
		Region           *sarifRegion     `json:"region,omitempty"`
	} `json:"physicalLocation"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Properties          map[string]any    `json:"properties,omitempty"`
}

// srcRoot is the base that result URIs are relative to.
const srcRoot = "SRCROOT"

// FingerprintKey names gemscan's fingerprint in SARIF partialFingerprints.
const FingerprintKey = "gemscan/v1"

// MaxSARIFResults is the most results a SARIF run holds: GitHub code
// scanning refuses an upload with more than 25,000 results in a run (and
// more than 10 MB gzipped). Findings beyond it are left out with a tool
// notification and a note, live ones kept first; the JSON report holds all.
const MaxSARIFResults = 25000

func writeSARIF(w io.Writer, r *Report) error {
	run, keep, ruleIndex := sarifRunOf(r)
	res := r.Result
	// The document is written field by field and its results one by one,
	// as json.Encoder would indent the whole: it never exists whole in
	// memory.
	js := newJSONStream(w)
	js.raw("{")
	js.field("", true, "$schema", sarifSchema)
	js.field("", false, "version", sarifVersion)
	js.field("", false, "runs", nil)
	js.raw("[\n    {")
	const in = "    " // the run's indentation
	js.field(in, true, "tool", run.Tool)
	js.field(in, false, "invocations", run.Invocations)
	if run.OriginalURIBaseIDs != nil {
		js.field(in, false, "originalUriBaseIds", run.OriginalURIBaseIDs)
	}
	js.field(in, false, "results", nil)
	n := len(res.Findings)
	if keep != nil {
		n = len(keep)
	}
	js.array(in+"  ", n, func(i int) any {
		if keep != nil {
			i = keep[i]
		}
		f := &res.Findings[i]
		return sarifResultOf(r, f, ruleIndex[f.Rule])
	})
	js.field(in, false, "columnKind", run.ColumnKind)
	if len(run.Properties) > 0 {
		js.field(in, false, "properties", run.Properties)
	}
	if run.AutomationDetails != nil {
		js.field(in, false, "automationDetails", run.AutomationDetails)
	}
	js.raw("\n    }\n  ]\n}\n")
	return js.flush()
}

const (
	sarifSchema  = "https://json.schemastore.org/sarif-2.1.0.json"
	sarifVersion = "2.1.0"
)

// sarifRunOf builds the SARIF run for r without its results, the indexes
// of the findings it keeps (nil: all) and each rule's index.
func sarifRunOf(r *Report) (run sarifRun, keep []int, ruleIndex map[string]int) {
	ruleIndex = map[string]int{}
	var srules []sarifRule
	for i, rule := range rules.All() {
		ruleIndex[rule.ID] = i
		srules = append(srules, sarifRule{
			ID:               rule.ID,
			Name:             sarifName(rule.ID),
			ShortDescription: sarifText{Text: rule.Title},
			FullDescription:  sarifText{Text: rule.Description},
			Help: sarifText{
				Text: rule.Description + "\n\nWhat to do: " + rule.Remediation + " Removing the key from the code does not un-leak it: revoke it first.",
				Markdown: "**" + rule.Title + "**\n\n" + rule.Description + "\n\n**What to do:** " + rule.Remediation +
					"\n\nRemoving the key from the code, or rewriting history, does not un-leak it: **revoke it first**. " +
					"A deliberate test fixture can be marked with `" + scanner.AllowMarker + "` on its line.",
			},
			DefaultConfiguration: map[string]any{"level": "error"},
			Properties:           map[string]any{"tags": []string{"security", "secrets", "gemini"}, "security-severity": "9.0", "precision": "high"},
		})
	}
	res := r.Result
	limit := MaxSARIFResults
	if r.sarifLimit > 0 {
		limit = r.sarifLimit
	}
	keep = sarifKept(res.Findings, limit)
	inv := sarifInvocation{ExecutionSuccessful: len(res.Errors) == 0}
	for _, err := range res.Errors {
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications,
			sarifNotification{Level: "error", Message: sarifText{Text: err.Error()}})
	}
	if keep != nil {
		note := fmt.Sprintf("%d findings, more than code scanning accepts in one run (%d): this SARIF log holds %d of them, live ones first; the JSON report (--format json) lists all",
			len(res.Findings), limit, limit)
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications,
			sarifNotification{Level: "warning", Message: sarifText{Text: note}})
		if r.Warn != nil {
			r.Warn(note)
		}
	}
	run = sarifRun{
		Tool:        sarifTool{Driver: sarifDriver{Name: "gemscan", InformationURI: "https://github.com/gemscan-dev/gemscan", Version: numericVersion(r.Version), Rules: srules}},
		Invocations: []sarifInvocation{inv},
		ColumnKind:  "unicodeCodePoints",
	}
	if r.AutomationID != "" {
		run.AutomationDetails = &sarifAutomation{ID: r.AutomationID}
	}
	if r.Root != "" {
		if abs, err := filepath.Abs(r.Root); err == nil {
			run.OriginalURIBaseIDs = map[string]sarifArtifactLoc{srcRoot: {URI: fileURI(filepath.ToSlash(abs) + "/")}}
		}
	}
	return run, keep, ruleIndex
}

// sarifKept returns the indexes of the findings a capped SARIF log keeps,
// in their order: live ones first, then the rest in order, up to limit. It
// returns nil when all fit.
func sarifKept(fs []scanner.Finding, limit int) []int {
	if len(fs) <= limit {
		return nil
	}
	take := make([]bool, len(fs))
	n := 0
	for pass := 0; pass < 2; pass++ {
		for i := range fs {
			if n == limit {
				break
			}
			live := fs[i].Verification != nil && fs[i].Verification.Status.IsLive()
			if !take[i] && (pass == 1 || live) {
				take[i] = true
				n++
			}
		}
	}
	keep := make([]int, 0, limit)
	for i, t := range take {
		if t {
			keep = append(keep, i)
		}
	}
	return keep
}

// sarifResultOf is the SARIF result for one finding.
func sarifResultOf(r *Report, f *scanner.Finding, ruleIndex int) sarifResult {
	rule, _ := rules.ByID(f.Rule)
	level := "warning"
	if f.Verification != nil && f.Verification.Status.IsLive() {
		level = "error"
	}
	msg := fmt.Sprintf("%s %s", rule.Title, f.Redacted())
	if f.Rule == rules.ExchangeKey && f.SecretLine > 0 {
		msg += fmt.Sprintf(", with its API secret on line %d", f.SecretLine)
	}
	if f.Verification != nil {
		msg += fmt.Sprintf(". Verification: %s (%s)", f.Verification.Status, Sanitize(f.Verification.Detail))
	}
	if f.Commit != "" {
		msg += fmt.Sprintf(". Introduced in commit %.12s", f.Commit)
	}
	var loc sarifLocation
	// Paths relative to the scanned root when there is one on disk.
	p := f.File
	if r.Root != "" && f.Path != "" {
		p = r.PathPrefix + f.Path
	}
	if archive, ok := inArchive(p, f.Member); ok {
		// Code scanning shows files of the repository: point at the
		// archive, and say where in it the message.
		loc.PhysicalLocation.ArtifactLocation = artifactOf(archive)
		msg += fmt.Sprintf(" (inside the archive, at %s line %d)", Sanitize(f.Member), max(f.Line, 1))
	} else {
		loc.PhysicalLocation.ArtifactLocation = artifactOf(p)
		loc.PhysicalLocation.Region = &sarifRegion{StartLine: max(f.Line, 1), StartColumn: max(f.Column, 1),
			EndLine: max(f.EndLine, f.Line, 1), EndColumn: max(f.EndColumn, 1)}
	}
	msg += ". " + rule.Remediation
	props := map[string]any{"redacted": f.Redacted(), "valueSha256": f.ValueSHA256()}
	if f.Commit != "" {
		props["commit"], props["author"], props["inHead"] = f.Commit, f.Author, f.InHead
		if !f.Date.IsZero() {
			props["date"] = f.Date.UTC().Format("2006-01-02T15:04:05Z")
		}
	}
	if f.Verification != nil {
		props["verification"] = f.Verification
	}
	return sarifResult{
		RuleID: f.Rule, RuleIndex: ruleIndex, Level: level,
		Message:             sarifText{Text: msg},
		Locations:           []sarifLocation{loc},
		PartialFingerprints: map[string]string{FingerprintKey: f.Fingerprint()},
		Properties:          props,
	}
}

// numericVersion makes a version start with a digit, as SARIF consumers
// compare versions: "v1.2.3" -> "1.2.3", "devel" -> "0.0.0-devel".
func numericVersion(v string) string {
	v = strings.TrimPrefix(v, "v")
	if v == "" {
		return "0.0.0"
	}
	if v[0] < '0' || v[0] > '9' {
		return "0.0.0-" + strings.TrimPrefix(v, "-")
	}
	return v
}

// sarifName turns a rule ID into the PascalCase name SARIF expects.
func sarifName(id string) string {
	var b strings.Builder
	for _, part := range strings.Split(id, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// artifactOf locates a file for SARIF: a relative path is a relative URI
// reference against SRCROOT, an absolute one a file URI.
func artifactOf(p string) sarifArtifactLoc {
	p = filepath.ToSlash(p)
	if strings.HasPrefix(p, "/") || filepath.IsAbs(p) {
		if !strings.HasPrefix(p, "/") {
			p = "/" + p // C:/x → file:///C:/x
		}
		return sarifArtifactLoc{URI: fileURI(p)}
	}
	return sarifArtifactLoc{URI: uriOf(p), URIBaseID: srcRoot}
}

// fileURI makes a file URI of an absolute slash-separated path.
func fileURI(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return "file://" + strings.Join(segs, "/")
}

// uriOf makes a relative URI reference (RFC 3986 relative-ref) of a
// relative slash-separated path: every segment is percent-encoded, ':'
// included, so that no first segment can read as a scheme ("https:",
// "javascript:") and no path as "//authority".
func uriOf(p string) string {
	p = strings.TrimLeft(strings.TrimPrefix(p, "./"), "/")
	return escapePath(p)
}

// escapePath percent-encodes each segment of a slash-separated path.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = strings.ReplaceAll(url.PathEscape(s), ":", "%3A")
	}
	return strings.Join(segs, "/")
}

package report

import (
	"encoding/json"
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
	OriginalURIBaseIDs map[string]sarifArtifactLoc `json:"originalUriBaseIds,omitempty"`
	Results            []sarifResult               `json:"results"`
	ColumnKind         string                      `json:"columnKind"`
	Properties         map[string]any              `json:"properties,omitempty"`
	AutomationDetails  *sarifAutomation            `json:"automationDetails,omitempty"`
	Invocations        []sarifInvocation           `json:"invocations"`
}

type sarifAutomation struct {
	ID string `json:"id"`
}

// sarifInvocation says whether the scan completed; its errors are the
// tool's notifications.
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
		Region           sarifRegion      `json:"region"`
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

func writeSARIF(w io.Writer, r *Report) error {
	ruleIndex := map[string]int{}
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
	run := sarifRun{
		Tool:       sarifTool{Driver: sarifDriver{Name: "gemscan", InformationURI: "https://github.com/gemscan-dev/gemscan", Version: numericVersion(r.Version), Rules: srules}},
		Results:    []sarifResult{},
		ColumnKind: "unicodeCodePoints",
	}
	if r.AutomationID != "" {
		run.AutomationDetails = &sarifAutomation{ID: r.AutomationID}
	}
	inv := sarifInvocation{ExecutionSuccessful: len(r.Result.Errors) == 0}
	for _, err := range r.Result.Errors {
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications,
			sarifNotification{Level: "error", Message: sarifText{Text: err.Error()}})
	}
	run.Invocations = []sarifInvocation{inv}
	if r.Root != "" {
		if abs, err := filepath.Abs(r.Root); err == nil {
			u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs) + "/"}
			run.OriginalURIBaseIDs = map[string]sarifArtifactLoc{srcRoot: {URI: u.String()}}
		}
	}
	for i := range r.Result.Findings {
		f := &r.Result.Findings[i]
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
			msg += fmt.Sprintf(". Verification: %s (%s)", f.Verification.Status, f.Verification.Detail)
		}
		if f.Commit != "" {
			msg += fmt.Sprintf(". Introduced in commit %.12s", f.Commit)
		}
		msg += ". " + rule.Remediation
		var loc sarifLocation
		// Paths relative to the scanned root when there is one on disk.
		p := f.File
		if r.Root != "" && f.Path != "" {
			p = f.Path
		}
		loc.PhysicalLocation.ArtifactLocation = sarifArtifactLoc{URI: uriOf(p), URIBaseID: srcRoot}
		loc.PhysicalLocation.Region = sarifRegion{StartLine: max(f.Line, 1), StartColumn: max(f.Column, 1),
			EndLine: max(f.EndLine, f.Line, 1), EndColumn: max(f.EndColumn, 1)}
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
		run.Results = append(run.Results, sarifResult{
			RuleID: f.Rule, RuleIndex: ruleIndex[f.Rule], Level: level,
			Message:             sarifText{Text: msg},
			Locations:           []sarifLocation{loc},
			PartialFingerprints: map[string]string{FingerprintKey: f.Fingerprint()},
			Properties:          props,
		})
	}
	doc := sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(doc)
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

// uriOf makes a relative URI reference of a slash-separated path.
func uriOf(p string) string {
	p = strings.TrimPrefix(filepath.ToSlash(p), "./")
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// Package report writes scan results for people and tools: text (for a
// terminal), json (the stable machine contract), sarif (code scanning) and
// github (workflow commands and a job summary). It never decides exit codes.
package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/gemscan-dev/gemscan/scanner"
)

// Report is everything a writer needs.
type Report struct {
	// Mode is the scan mode: "dir", "git", "staged", "stdin" or "verify".
	Mode string
	// Target is what was scanned (paths, a repository, a range).
	Target string
	// Result is the scan's outcome.
	Result *scanner.Result
	// NoRedact includes credentials in full.
	NoRedact bool
	// Color enables colour in text output.
	Color bool
	// Root is the directory result paths are relative to (for SARIF's
	// originalUriBaseIds); empty when they are relative to nothing on disk.
	Root string
	// PathPrefix, when set, goes before each finding's Path in SARIF URIs:
	// the scanned directory relative to Root ("sub/" for gemscan dir sub/
	// inside a repository whose work tree is Root), so URIs are relative to
	// the repository's root, as code scanning reads them.
	PathPrefix string
	// Version is gemscan's version, for tool metadata.
	Version string
	// SummaryPath, when set, is a file (GitHub's $GITHUB_STEP_SUMMARY) the
	// github format appends a Markdown job summary to.
	SummaryPath string
	// Warn, when set, is told what a writer left out or changed that the
	// user should know (a SARIF log capped at code scanning's limits); the
	// CLI prints it on standard error.
	Warn func(msg string)
	// NoMasks leaves out the github format's ::add-mask:: commands, which
	// carry credentials in full: for a copy written to a file while the
	// masks go to the runner on standard output.
	NoMasks bool
	// RemovedIn names, by fingerprint, the commit that removed a finding
	// no longer in HEAD, when known (github annotations say it).
	RemovedIn map[string]string
	// AutomationID, when set, is the SARIF run's automationDetails.id: the
	// code scanning category, stable for one kind of analysis.
	AutomationID string
	// NoAllowNotices leaves out the github format's notice for each finding
	// a gemscan:allow comment suppressed: gemscan git --github writes its
	// own, for the comments the change under review adds.
	NoAllowNotices bool
	// sarifLimit, when set, lowers MaxSARIFResults (tests validate a capped
	// log of a size the validator reads in seconds).
	sarifLimit int
}

// Formats lists the output formats, the default first.
var formats = []string{"text", "json", "sarif", "github"}

// Formats returns the names of the output formats, the default first.
func Formats() []string { return append([]string(nil), formats...) }

// Write writes r to w in the named format.
func Write(w io.Writer, format string, r *Report) error {
	switch format {
	case "text", "":
		return writeText(w, r)
	case "json":
		return writeJSON(w, r)
	case "sarif":
		return writeSARIF(w, r)
	case "github":
		return writeGitHub(w, r)
	}
	return fmt.Errorf("unknown format %q (want one of %s)", format, strings.Join(formats, ", "))
}

// shown returns the credential as the report may show it.
func (r *Report) shown(f *scanner.Finding) string {
	if r.NoRedact {
		return f.Value
	}
	return f.Redacted()
}

// inArchive splits the location of a credential found inside an archive:
// the archive's path (what code scanning and annotations can point at) and
// the member. ok is false for a credential in a plain file.
func inArchive(path, member string) (archive string, ok bool) {
	if member == "" || !strings.HasSuffix(path, "!"+member) {
		return path, false
	}
	return strings.TrimSuffix(path, "!"+member), true
}

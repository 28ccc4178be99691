package report

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gemscan-dev/gemscan/rules"
	"github.com/gemscan-dev/gemscan/scanner"
)

// writeGitHub writes GitHub Actions workflow commands: first ::add-mask::
// once for every distinct credential found (so nothing printed later can
// show one; none with NoMasks), then
// one ::error or ::warning annotation per finding, and, when SummaryPath is
// set, a Markdown job summary appended to it.
func writeGitHub(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	res := r.Result
	if !r.NoMasks {
		masked := map[string]bool{}
		for i := range res.Findings {
			f := &res.Findings[i]
			for _, v := range append([]string{f.Value}, f.Secrets...) {
				if v != "" && !masked[v] {
					masked[v] = true
					ew.printf("::add-mask::%s\n", EscapeData(v))
				}
			}
		}
	}
	for i := range res.Findings {
		f := &res.Findings[i]
		rule, _ := rules.ByID(f.Rule)
		cmd := "error"
		if v := f.Verification; v != nil && !v.Status.IsLive() && v.Status != scanner.StatusUnknown && v.Status != scanner.StatusUnverifiable {
			cmd = "warning" // verified dead: still to clean up, no longer urgent
		}
		gone := f.Commit != "" && !f.InHead
		var props []string
		where := ""
		if archive, ok := inArchive(f.File, f.Member); ok && !gone {
			// The annotation goes on the archive; the message says where
			// inside it the credential is.
			if !needsEscape(archive) {
				props = []string{"file=" + EscapeProperty(archive)}
			}
			where = fmt.Sprintf("%s:%d: ", QuoteName(f.File), max(f.Line, 1))
		} else if !gone {
			props, where = annotationAt(f.File, f.Line, f.Column, max(f.EndLine, f.Line, 1))
		}
		// A finding no longer in HEAD has no line to annotate: an annotation
		// on the file would point at code that is not there.
		props = append(props, "title="+EscapeProperty(rule.Title+" ("+f.Rule+")"))
		msg := where + fmt.Sprintf("%s %s", rule.Title, f.Redacted())
		if gone {
			msg += " in " + QuoteName(f.File)
		}
		if f.Rule == rules.ExchangeKey && f.SecretLine > 0 {
			msg += fmt.Sprintf(" with its API secret on line %d", f.SecretLine)
		}
		switch {
		case gone && r.RemovedIn[f.Fingerprint()] != "":
			msg += fmt.Sprintf(", added in commit %.12s and removed in %.12s (still in the history: revoke it)", f.Commit, r.RemovedIn[f.Fingerprint()])
		case gone:
			msg += fmt.Sprintf(", added in commit %.12s and no longer in HEAD (still in the history: revoke it)", f.Commit)
		case f.Commit != "":
			msg += fmt.Sprintf(", introduced in %.12s", f.Commit)
		}
		if f.Verification != nil {
			msg += fmt.Sprintf(". Verification: %s — %s", Sanitize(string(f.Verification.Status)), Sanitize(f.Verification.Detail))
		}
		msg += ".\n" + rule.Remediation
		ew.printf("::%s %s::%s\n", cmd, strings.Join(props, ","), EscapeData(msg))
	}
	// A gemscan:allow line is honoured, but shown: in a pull request it is
	// the change itself that says "do not report this".
	for _, s := range sortedSuppressed(&res.Suppressed) {
		if s.Reason != scanner.ReasonAllow || r.NoAllowNotices {
			continue
		}
		rule, _ := rules.ByID(s.Rule)
		props, where := annotationAt(s.File, s.Line, s.Column, max(s.EndLine, s.Line, 1))
		props = append(props, "title="+EscapeProperty("Allowed by "+scanner.AllowMarker))
		msg := where + fmt.Sprintf("%s %s is not reported: a %s comment on its line allows it", rule.Title, s.Redacted(), scanner.AllowMarker)
		if s.Commit != "" {
			msg += fmt.Sprintf(" (added in %.12s)", s.Commit)
		}
		msg += ". Make sure it is a test fixture, not a real key."
		ew.printf("::notice %s::%s\n", strings.Join(props, ","), EscapeData(msg))
	}
	for _, err := range res.Errors {
		ew.printf("::error title=gemscan could not scan everything::%s\n", EscapeData(Sanitize(err.Error())))
	}
	ew.printf("%s\n", summary(r, newPalette(false), countFiles(res.Findings)))
	if ew.err != nil {
		return ew.err
	}
	if r.SummaryPath != "" {
		f, err := os.OpenFile(r.SummaryPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("write job summary: %w", err)
		}
		werr := writeMarkdownSummary(f, r)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fmt.Errorf("write job summary: %w", werr)
		}
	}
	return nil
}

// annotationAt returns the properties that place an annotation at a file's
// line, or, for a name holding control characters (which the log would show
// raw in a property), no properties and the quoted name to start the message.
func annotationAt(file string, line, col, endLine int) (props []string, where string) {
	if needsEscape(file) {
		return nil, fmt.Sprintf("%s:%d: ", QuoteName(file), line)
	}
	return []string{
		"file=" + EscapeProperty(file),
		fmt.Sprintf("line=%d", max(line, 1)),
		fmt.Sprintf("col=%d", max(col, 1)),
		fmt.Sprintf("endLine=%d", endLine),
	}, ""
}

func countFiles(fs []scanner.Finding) int {
	seen := map[string]bool{}
	for _, f := range fs {
		seen[f.File] = true
	}
	return len(seen)
}

// EscapeData escapes a workflow command's message (not its control
// characters: Sanitize them first where the text is not gemscan's).
func EscapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// EscapeProperty escapes a workflow command's property value (as
// EscapeData, and ':' and ',').
func EscapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

func writeMarkdownSummary(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	res := r.Result
	st := res.Stats
	ew.printf("## gemscan\n\n")
	switch n := len(res.Findings); {
	case n == 0 && len(res.Errors) == 0:
		ew.printf("✅ No Gemini credentials found")
	case n == 0:
		ew.printf("❌ **Scan incomplete**: nothing found in what could be read, but what could not be read may hold credentials")
	default:
		ew.printf("❌ **%d Gemini %s found**", n, plural(n, "credential", "credentials"))
	}
	if st.Commits > 0 {
		ew.printf(" in %d %s (%s).\n\n", st.Commits, plural(int(st.Commits), "commit", "commits"), MarkdownCode(r.Target))
	} else {
		ew.printf(" (%d %s scanned).\n\n", st.Files, plural(int(st.Files), "file", "files"))
	}
	if u, verified := unchecked(res.Findings); verified && u > 0 {
		ew.printf("⚠️ %d %s could not be checked with %s provider (unknown or unverifiable): treat %s as live.\n\n",
			u, plural(u, "credential", "credentials"), plural(u, "its", "their"), plural(u, "it", "them"))
	}
	if len(res.Findings) > 0 {
		ew.printf("| Location | Credential | Commit | Status |\n|---|---|---|---|\n")
		for i := range res.Findings {
			if i == maxSummaryRows {
				ew.printf("\n… and %d more: the text, JSON or SARIF report lists every one.\n", len(res.Findings)-i)
				break
			}
			f := &res.Findings[i]
			rule, _ := rules.ByID(f.Rule)
			status := "not verified"
			if f.Verification != nil {
				status = string(f.Verification.Status) + ": " + f.Verification.Detail
			}
			commit := ""
			if f.Commit != "" {
				commit = fmt.Sprintf("`%.12s`", f.Commit)
			}
			ew.printf("| %s | %s %s | %s | %s |\n", MarkdownCode(fmt.Sprintf("%s:%d", f.File, f.Line)), MarkdownText(rule.Title), MarkdownCode(f.Redacted()), commit, MarkdownText(status))
		}
		ew.printf("\n### What to do\n\n")
		ew.printf("1. **Revoke** each credential with its provider first: a key that reached a pushed commit is leaked, " +
			"and removing it from the code or rewriting history does not change that.\n")
		ew.printf("2. Move the value to a secret store or an environment variable (GitHub: repository or environment secrets) and read it at run time.\n")
		ew.printf("3. A deliberate test fixture (not a real key): add `%s` on its line.\n", scanner.AllowMarker)
		ew.printf("4. Old, already revoked leaks: record them in a baseline (`gemscan baseline`) and pass it with `--baseline`.\n")
	}
	writeSuppressedMarkdown(ew, res)
	for i, err := range res.Errors {
		if i == maxSummaryRows {
			ew.printf("\n> ⚠️ … and %d more errors: the step's log lists every one.\n", len(res.Errors)-i)
			break
		}
		ew.printf("\n> ⚠️ %s\n", MarkdownCode(err.Error()))
	}
	for i, n := range st.Notes {
		if i == maxSummaryRows {
			ew.printf("\n> ℹ️ … and %d more notes: the JSON report lists every one.\n", len(st.Notes)-i)
			break
		}
		ew.printf("\n> ℹ️ %s\n", MarkdownCode(n))
	}
	return ew.err
}

// maxSummaryRows bounds each table and list of the job summary: GitHub
// refuses a step summary over 1 MiB.
const maxSummaryRows = 200

// writeSuppressedMarkdown lists what suppression hid, and why.
func writeSuppressedMarkdown(ew *errWriter, res *scanner.Result) {
	sup := &res.Suppressed
	if sup.Total() == 0 {
		return
	}
	ew.printf("\n### Suppressed (%d)\n\n", sup.Total())
	ew.printf("Not counted as findings: %s. A suppression in the change under review deserves a look.\n\n",
		strings.Join(suppressedCounts(sup), ", "))
	ew.printf("| Location | Credential | Suppressed by | Commit |\n|---|---|---|---|\n")
	list := sortedSuppressed(sup)
	for i := range list {
		if i == maxSummaryRows {
			break
		}
		s := &list[i]
		rule, _ := rules.ByID(s.Rule)
		commit := ""
		if s.Commit != "" {
			commit = fmt.Sprintf("`%.12s`", s.Commit)
		}
		by := MarkdownText(string(s.Reason)) + " " + MarkdownCode(s.Source)
		ew.printf("| %s | %s %s | %s | %s |\n", MarkdownCode(fmt.Sprintf("%s:%d", s.File, s.Line)), MarkdownText(rule.Title), MarkdownCode(s.Redacted()), by, commit)
	}
	if more := sup.Total() - int64(min(len(list), maxSummaryRows)); more > 0 {
		ew.printf("\n… and %d more: the JSON report lists them (up to %d).\n", more, scanner.MaxListedSuppressed)
	}
}

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
					ew.printf("::add-mask::%s\n", escapeData(v))
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
		props := []string{
			"file=" + escapeProperty(f.File),
			fmt.Sprintf("line=%d", max(f.Line, 1)),
			fmt.Sprintf("col=%d", max(f.Column, 1)),
			fmt.Sprintf("endLine=%d", max(f.EndLine, f.Line, 1)),
			"title=" + escapeProperty(rule.Title+" ("+f.Rule+")"),
		}
		gone := f.Commit != "" && !f.InHead
		if gone {
			// No line of HEAD holds it: an annotation on a file would
			// point at code that is not there.
			props = props[len(props)-1:]
		}
		msg := fmt.Sprintf("%s %s", rule.Title, f.Redacted())
		if gone {
			msg += " in " + f.File
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
			msg += fmt.Sprintf(". Verification: %s — %s", f.Verification.Status, f.Verification.Detail)
		}
		msg += ".\n" + rule.Remediation
		ew.printf("::%s %s::%s\n", cmd, strings.Join(props, ","), escapeData(msg))
	}
	for _, err := range res.Errors {
		ew.printf("::error title=gemscan could not scan everything::%s\n", escapeData(err.Error()))
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

func countFiles(fs []scanner.Finding) int {
	seen := map[string]bool{}
	for _, f := range fs {
		seen[f.File] = true
	}
	return len(seen)
}

// escapeData escapes a workflow command's message.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// escapeProperty escapes a workflow command's property value.
func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

// mdCell escapes text for a Markdown table cell.
func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;").Replace(s)
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
		ew.printf("⚠️ No Gemini credentials found, but the scan is incomplete")
	default:
		ew.printf("❌ **%d Gemini %s found**", n, plural(n, "credential", "credentials"))
	}
	if st.Commits > 0 {
		ew.printf(" in %d %s (%s).\n\n", st.Commits, plural(int(st.Commits), "commit", "commits"), mdCell(r.Target))
	} else {
		ew.printf(" (%d %s scanned).\n\n", st.Files, plural(int(st.Files), "file", "files"))
	}
	if len(res.Findings) > 0 {
		ew.printf("| Location | Credential | Commit | Status |\n|---|---|---|---|\n")
		for i := range res.Findings {
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
			ew.printf("| `%s:%d` | %s `%s` | %s | %s |\n", mdCell(f.File), f.Line, mdCell(rule.Title), mdCell(f.Redacted()), commit, mdCell(status))
		}
		ew.printf("\n### What to do\n\n")
		ew.printf("1. **Revoke** each credential with its provider first: a key that reached a pushed commit is leaked, " +
			"and removing it from the code or rewriting history does not change that.\n")
		ew.printf("2. Move the value to a secret store or an environment variable (GitHub: repository or environment secrets) and read it at run time.\n")
		ew.printf("3. A deliberate test fixture (not a real key): add `%s` on its line.\n", scanner.AllowMarker)
		ew.printf("4. Old, already revoked leaks: record them in a baseline (`gemscan baseline`) and pass it with `--baseline`.\n")
	}
	for _, err := range res.Errors {
		ew.printf("\n> ⚠️ %s\n", mdCell(err.Error()))
	}
	for _, n := range st.Notes {
		ew.printf("\n> ℹ️ %s\n", mdCell(n))
	}
	return ew.err
}

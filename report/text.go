package report

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/fatih/color"

	"github.com/gemscan-dev/gemscan/rules"
	"github.com/gemscan-dev/gemscan/scanner"
)

// palette holds the colours of the text report; all are plain when colour
// is off.
type palette struct {
	file, rule, bad, warn, good, dim *color.Color
}

func newPalette(on bool) palette {
	p := palette{
		file: color.New(color.Bold),
		rule: color.New(color.FgRed, color.Bold),
		bad:  color.New(color.FgRed),
		warn: color.New(color.FgYellow),
		good: color.New(color.FgGreen),
		dim:  color.New(color.Faint),
	}
	for _, c := range []*color.Color{p.file, p.rule, p.bad, p.warn, p.good, p.dim} {
		if on {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
	}
	return p
}

func writeText(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	p := newPalette(r.Color)
	res := r.Result
	titles := map[string]string{}
	for _, rule := range rules.All() {
		titles[rule.ID] = rule.Title
	}
	files := map[string]bool{}
	used := map[string]bool{}
	lastFile := ""
	for i := range res.Findings {
		f := &res.Findings[i]
		files[f.File] = true
		used[f.Rule] = true
		if f.File != lastFile {
			if lastFile != "" {
				ew.printf("\n")
			}
			ew.printf("%s\n", p.file.Sprint(QuoteName(f.File)))
			lastFile = f.File
		}
		ew.printf("  %s  %s  %s\n", p.dim.Sprintf("%d:%d", f.Line, f.Column), p.rule.Sprint(titles[f.Rule]), p.dim.Sprint(f.Rule))
		var facts []string
		facts = append(facts, r.shown(f))
		switch {
		case f.Rule == rules.ExchangeKey && f.SecretLine > 0:
			what := "its secret"
			if r.NoRedact {
				what = "secret " + f.Secret()
			}
			facts = append(facts, fmt.Sprintf("with %s on line %d", what, f.SecretLine))
		case f.Rule == rules.ExchangeKey:
			facts = append(facts, "no secret found beside it")
		}
		if f.Encoding != "" {
			facts = append(facts, "encoded as "+f.Encoding)
		}
		if f.Confidence == rules.Medium {
			facts = append(facts, "unusual shape")
		}
		ew.printf("      %s\n", strings.Join(facts, " · "))
		if f.Commit != "" {
			head := "removed from HEAD"
			switch {
			case f.InHead:
				head = "still in HEAD"
			case len(f.Refs) > 0 && f.Refs[0] != "HEAD":
				head = "only " + refList(f.Refs, f.MoreRefs)
			}
			ew.printf("      %s\n", p.dim.Sprintf("introduced in %.12s by %s on %s · %s",
				f.Commit, Sanitize(f.Author), f.Date.Format("2006-01-02"), head))
		} else if len(f.Refs) > 0 {
			// No commit has it: a tag names the blob or tree holding it.
			ew.printf("      %s\n", p.dim.Sprintf("in no commit · only %s", refList(f.Refs, f.MoreRefs)))
		}
		if v := f.Verification; v != nil {
			c := p.dim
			switch {
			case v.Status.IsLive():
				c = p.bad
			case v.Status == scanner.StatusUnknown || v.Status == scanner.StatusUnverifiable:
				c = p.warn
			case v.Status == scanner.StatusInvalid || v.Status == scanner.StatusRejected || v.Status == scanner.StatusBlocked:
				c = p.good
			}
			ew.printf("      %s %s\n", c.Sprintf("verification: %s", Sanitize(string(v.Status))), p.dim.Sprint("— "+Sanitize(v.Detail)))
			if v.Status.IsLive() {
				for _, line := range liveAdvice(f) {
					ew.printf("      %s %s\n", p.bad.Sprint("!"), line)
				}
			}
		}
	}
	if len(res.Findings) > 0 {
		ew.printf("\nWhat to do:\n")
		for _, rule := range rules.All() {
			if used[rule.ID] {
				ew.printf("  • %s: %s\n", rule.Title, rule.Remediation)
			}
		}
		ew.printf("  • Removing a key from the code does not un-leak it: revoke it first.\n")
		ew.printf("  • A deliberate test fixture: add %q on its line, or list its path in %s.\n",
			scanner.AllowMarker, scanner.IgnoreFile)
	}
	wholeFiles := slices.Contains(res.Stats.Notes, scanner.NoteWholeFiles)
	if r.Mode == "staged" && len(res.Findings) > 0 && wholeFiles {
		// pre-commit run --all-files: whole tracked files, nothing staged
		// to unstage, and the credentials are already committed.
		ew.printf("\n%s\n", p.bad.Sprint("Check failed: tracked files hold a Gemini credential. They are judged whole, not as a commit:"))
		ew.printf("  1. Move the value to an environment variable or a secret store, read it at run time, and commit that change.\n")
		ew.printf("  2. It is already in a commit: revoke the key. 'gemscan git' shows every commit and branch that holds it.\n")
		ew.printf("  3. A deliberate test fixture (not a real key)? Add %q on its line.\n", scanner.AllowMarker)
	} else if r.Mode == "staged" && len(res.Findings) > 0 {
		ew.printf("\n%s\n", p.bad.Sprint("Commit blocked: it would add a Gemini credential. Three ways forward:"))
		ew.printf("  1. Move the value to an environment variable or a secret store, read it at run time, and stage that change.\n")
		ew.printf("  2. Unstage it: git restore --staged <file> (then edit the file and git add it again).\n")
		ew.printf("  3. A deliberate test fixture (not a real key)? Add %q on its line and git add it again.\n", scanner.AllowMarker)
	}
	for _, n := range res.Stats.Notes {
		ew.printf("%s %s\n", p.warn.Sprint("note:"), Sanitize(n))
	}
	if ew.n > 0 {
		ew.printf("\n") // a blank line before the summary, never at the top
	}
	ew.printf("%s\n", summary(r, p, len(files)))
	return ew.err
}

// refList says where a finding lives, for "only …": "on branch feature",
// "in tag v1.2", "in refs/pull/4264/head", joined, with how many more.
func refList(refs []string, more int) string {
	parts := make([]string, 0, len(refs)+1)
	for _, r := range refs {
		r = Sanitize(r)
		switch {
		case strings.HasPrefix(r, "refs/heads/"):
			parts = append(parts, "on branch "+strings.TrimPrefix(r, "refs/heads/"))
		case strings.HasPrefix(r, "refs/tags/"):
			parts = append(parts, "in tag "+strings.TrimPrefix(r, "refs/tags/"))
		case strings.HasPrefix(r, "refs/remotes/"):
			parts = append(parts, "on remote-tracking branch "+strings.TrimPrefix(r, "refs/remotes/"))
		default:
			parts = append(parts, "in "+r)
		}
	}
	if more > 0 {
		parts = append(parts, fmt.Sprintf("%d more %s", more, plural(more, "ref", "refs")))
	}
	return strings.Join(parts, ", ")
}

// liveAdvice is what to do about a credential that works.
func liveAdvice(f *scanner.Finding) []string {
	where := "the Cloud console's Credentials page or Google AI Studio's API keys page"
	if f.Rule == rules.ExchangeKey || f.Rule == rules.ExchangeSecret {
		where = "the Gemini exchange's API settings page (Account > Settings > API)"
	}
	return []string{
		"revoke it now in " + where,
		"rewriting git history does not un-leak a key that was pushed: revoke, then clean up",
		fmt.Sprintf("find every other copy: gemscan git --format json . | grep %s", f.ValueSHA256()[:16]),
	}
}

func summary(r *Report, p palette, files int) string {
	st := r.Result.Stats
	scanned := fmt.Sprintf("scanned %d %s, %s in %s", st.Files, plural(int(st.Files), "file", "files"), humanBytes(st.Bytes), humanDuration(st.Duration))
	if r.Mode == "git" {
		scanned = fmt.Sprintf("scanned %d %s, %d %s, %s in %s", st.Commits, plural(int(st.Commits), "commit", "commits"),
			st.Files, plural(int(st.Files), "blob", "blobs"), humanBytes(st.Bytes), humanDuration(st.Duration))
	}
	if st.Archives > 0 {
		scanned += fmt.Sprintf(" (%d %s opened, %d %s scanned)", st.Archives, plural(int(st.Archives), "archive", "archives"),
			st.Members, plural(int(st.Members), "member", "members"))
	}
	var extra []string
	if st.Binary > 0 {
		extra = append(extra, fmt.Sprintf("%d binary", st.Binary))
	}
	if st.TooLarge > 0 {
		extra = append(extra, fmt.Sprintf("%d too large (see --max-file-size)", st.TooLarge))
	}
	if st.IgnoredPaths > 0 {
		extra = append(extra, fmt.Sprintf("%d ignored by .gitignore (--no-ignore scans them)", st.IgnoredPaths))
	}
	extra = append(extra, suppressedCounts(&r.Result.Suppressed)...)
	if len(extra) > 0 {
		scanned += "; skipped " + strings.Join(extra, ", ")
	}
	n := len(r.Result.Findings)
	var head string
	nothing := st.Files == 0 && st.Commits == 0 && st.Bytes == 0
	switch {
	case n == 0 && len(r.Result.Errors) > 0 && nothing:
		// The scan could not run at all: lead with why, not with "no
		// credentials found".
		head = p.bad.Sprintf("Scan failed, incomplete: %s", Sanitize(r.Result.Errors[0].Error()))
		if more := len(r.Result.Errors) - 1; more > 0 {
			head += p.bad.Sprintf(" (and %d more %s)", more, plural(more, "error", "errors"))
		}
		return head
	case n == 0 && len(r.Result.Errors) > 0:
		// Not "no credentials found": what was not read may hold one.
		head = p.bad.Sprintf("Scan incomplete (%d %s): nothing found in what could be read", len(r.Result.Errors), plural(len(r.Result.Errors), "error", "errors"))
	case n == 0:
		head = p.good.Sprint("No Gemini credentials found")
	default:
		head = p.bad.Sprintf("%d Gemini %s in %d %s", n, plural(n, "credential", "credentials"), files, plural(files, "file", "files"))
		if len(r.Result.Errors) > 0 {
			head += p.warn.Sprintf(" (scan incomplete: %d %s)", len(r.Result.Errors), plural(len(r.Result.Errors), "error", "errors"))
		}
		if u, verified := unchecked(r.Result.Findings); verified && u > 0 {
			head += p.warn.Sprintf("; %d could not be checked (unknown or unverifiable)", u)
		}
	}
	return head + p.dim.Sprint(" · "+scanned)
}

// suppressedCounts says how many findings each reason suppressed, as the
// summary line lists them.
func suppressedCounts(s *scanner.Suppressions) []string {
	var out []string
	for _, reason := range scanner.Reasons() {
		n := s.Count(reason)
		if n == 0 {
			continue
		}
		switch reason {
		case scanner.ReasonAllow:
			out = append(out, fmt.Sprintf("%d allowed by %s", n, scanner.AllowMarker))
		case scanner.ReasonIgnoreFile:
			out = append(out, fmt.Sprintf("%d ignored by %s", n, scanner.IgnoreFile))
		case scanner.ReasonBaseline:
			out = append(out, fmt.Sprintf("%d in the baseline", n))
		}
	}
	return out
}

// unchecked counts the findings verification could not settle (unknown,
// unverifiable, or not checked at all); verified says whether any finding
// was verified, i.e. whether --verify ran.
func unchecked(fs []scanner.Finding) (n int, verified bool) {
	for i := range fs {
		v := fs[i].Verification
		if v != nil {
			verified = true
		}
		if v == nil || v.Status == scanner.StatusUnknown || v.Status == scanner.StatusUnverifiable {
			n++
		}
	}
	return n, verified
}

// sortedSuppressed returns the listed suppressed findings ordered by file,
// line, column, rule and reason (sources add them in any order).
func sortedSuppressed(s *scanner.Suppressions) []scanner.Suppressed {
	out := slices.Clone(s.List)
	slices.SortStableFunc(out, func(a, b scanner.Suppressed) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column),
			cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Reason, b.Reason), cmp.Compare(a.Commit, b.Commit))
	})
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func humanDuration(d time.Duration) string {
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return d.Round(time.Millisecond).String()
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// errWriter remembers the first write error so a writer can print freely
// and check once.
type errWriter struct {
	w   io.Writer
	n   int // bytes written
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		var n int
		n, e.err = fmt.Fprintf(e.w, format, args...)
		e.n += n
	}
}

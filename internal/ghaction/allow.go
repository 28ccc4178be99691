package ghaction

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"

	"github.com/gemscan-dev/gemscan/report"
	"github.com/gemscan-dev/gemscan/rules"
	"github.com/gemscan-dev/gemscan/scanner"
)

// AllowNotice is a credential hidden by a gemscan:allow comment that the
// scanned commits add. Such comments are honoured (they are the escape
// hatch for test fixtures) but never silently: each one is shown.
//
// This is the seam to the scanner's list of suppressed findings: the
// notices are computed here from the range's diff, and could equally be
// the suppressed findings whose reason is the allow marker and whose
// allowing line a commit of the range added.
type AllowNotice struct {
	// Rule is the rule ID; Redacted the credential as reports show it.
	Rule, Redacted string
	// Path is the file, relative to the repository's root.
	Path string
	// Commit added the comment; Line is the credential's line there.
	Commit string
	Line   int
	// HeadLine and HeadColumn locate the credential in HEAD; 0 when HEAD
	// no longer has it at Path.
	HeadLine, HeadColumn int
	// Member is set for a credential inside an archive (Path then reads
	// "archive!member" and Line counts the member's lines): it has no
	// line of HEAD to annotate.
	Member bool
}

// MemberAllows adds to notices the credentials that gemscan:allow lines
// inside archive members hide, taken from the scan's own suppressed
// findings (suppressed, every one introduced by a commit of the scanned
// range): the range's diff cannot see into an archive. An archive the
// range changes may have held the comment before; better one notice too
// many than an allowed credential nobody is shown.
func MemberAllows(notices []AllowNotice, suppressed []scanner.Suppressed) []AllowNotice {
	for _, s := range suppressed {
		if s.Reason != scanner.ReasonAllow || s.Member == "" || s.Commit == "" {
			continue
		}
		notices = append(notices, AllowNotice{Rule: s.Rule, Redacted: scanner.Redact(s.Value), Path: s.Path,
			Commit: s.Commit, Line: s.Line, Member: true})
	}
	return notices
}

// allowDiff is what the range's diff says about added allow markers.
type allowDiff struct {
	// lines maps commit → path → the lines (in that commit's version)
	// that the commit added and that hold the allow marker.
	lines map[string]map[string]map[int]bool
	// raw maps commit → the paths whose diff is not line text (UTF-16
	// with the marker in it): their added lines are found by comparing
	// the decoded versions.
	raw map[string]map[string]bool
	// order lists the commits in the log's order; parents maps each to
	// its parents.
	order   []string
	parents map[string][]string
}

func (d *allowDiff) add(commit, path string, line int) {
	if d.lines[commit] == nil {
		d.lines[commit] = map[string]map[int]bool{}
	}
	if d.lines[commit][path] == nil {
		d.lines[commit][path] = map[int]bool{}
	}
	d.lines[commit][path][line] = true
}

// AddedAllows lists the credentials that gemscan:allow comments added by
// the commits reachable from include but from none of exclude hide, each
// once (at the earliest commit), located in head's tree when still there.
// A line counts as added by a merge only when no parent had it.
func (g *Git) AddedAllows(ctx context.Context, det *rules.Detector, include, exclude []string, head string) ([]AllowNotice, error) {
	// --text: a .gitattributes saying "-diff" must not hide a file's
	// lines; no textconv or external diff may rewrite them.
	args := []string{"-c", "core.quotePath=false", "log", "--reverse", "--format=%x00%H %P", "-p", "--cc", "-U0", "--text",
		"--no-color", "--no-ext-diff", "--no-textconv", "--no-renames", "--no-relative", "--no-show-signature",
		"--src-prefix=a/", "--dst-prefix=b/"}
	args = append(args, include...)
	if len(exclude) > 0 {
		args = append(append(args, "--not"), exclude...)
	}
	diff, err := g.addedAllowLines(ctx, args)
	if err != nil {
		return nil, err
	}
	for commit, paths := range diff.raw {
		for path := range paths {
			lines, err := g.addedMarkerLines(ctx, commit, diff.parents[commit], path)
			if err != nil {
				return nil, err
			}
			for _, n := range lines {
				diff.add(commit, path, n)
			}
		}
	}
	type key struct{ rule, value, path string }
	seen := map[key]bool{}
	var out []AllowNotice
	headHits := map[string][]scanner.Finding{}
	for _, commit := range diff.order {
		paths := make([]string, 0, len(diff.lines[commit]))
		for path := range diff.lines[commit] {
			paths = append(paths, path)
		}
		sort.Strings(paths)
		for _, path := range paths {
			lines := diff.lines[commit][path]
			data, ok, err := g.ReadFile(ctx, commit, path)
			if err != nil {
				return out, err
			}
			if ok {
				data, ok = scanner.Text(data, false)
			}
			if !ok {
				continue
			}
			for _, m := range det.Detect(data) {
				line := lineOf(data, m.Start)
				onMarker := lines[line]
				if !onMarker && len(m.Secrets) > 0 {
					onMarker = lines[lineOf(data, m.Secrets[0].Start)]
				}
				k := key{m.Rule, m.Value, path}
				if !onMarker || seen[k] {
					continue
				}
				seen[k] = true
				n := AllowNotice{Rule: m.Rule, Redacted: scanner.Redact(m.Value), Path: path, Commit: commit, Line: line}
				hits, cached := headHits[path]
				if !cached && head != "" {
					if hd, ok, err := g.ReadFile(ctx, head, path); err != nil {
						return out, err
					} else if text, isText := scanner.Text(hd, false); ok && isText {
						hits = locate(det, text)
					}
					headHits[path] = hits
				}
				for _, h := range hits {
					if h.Rule == m.Rule && h.Value == m.Value {
						n.HeadLine, n.HeadColumn = h.Line, h.Column
						break
					}
				}
				out = append(out, n)
			}
		}
	}
	return out, nil
}

// addedMarkerLines compares commit's version of path with its parents'
// as the scanner reads them (UTF-16 decoded) and returns the lines
// holding the allow marker that no parent's version has.
func (g *Git) addedMarkerLines(ctx context.Context, commit string, parents []string, path string) ([]int, error) {
	data, ok, err := g.ReadFile(ctx, commit, path)
	if err != nil || !ok {
		return nil, err
	}
	text, ok := scanner.Text(data, false)
	if !ok {
		return nil, nil
	}
	had := map[string]bool{}
	for _, p := range parents {
		if !g.hasCommit(ctx, p) {
			continue // cut off by a shallow checkout: the log diffed against nothing too
		}
		pd, ok, err := g.ReadFile(ctx, p, path)
		if err != nil {
			return nil, err
		}
		if pt, isText := scanner.Text(pd, false); ok && isText {
			for _, l := range strings.Split(string(pt), "\n") {
				had[l] = true
			}
		}
	}
	var out []int
	for i, l := range strings.Split(string(text), "\n") {
		if strings.Contains(l, scanner.AllowMarker) && !had[l] {
			out = append(out, i+1)
		}
	}
	return out, nil
}

// addedAllowLines runs the log and collects the added lines holding the
// allow marker.
func (g *Git) addedAllowLines(ctx context.Context, args []string) (*allowDiff, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", g.Dir}, args...)...)
	cmd.Env = gitEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("git log: %w", err)
	}
	diff, perr := parseAllowDiff(stdout)
	if perr != nil {
		io.Copy(io.Discard, stdout)
	}
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return diff, perr
}

// wideMarker is the allow marker as UTF-16 (either byte order) shows in a
// byte-wise diff: its characters with NUL bytes between them.
var wideMarker = strings.Join(strings.Split(scanner.AllowMarker, ""), "\x00")

// parseAllowDiff reads "git log -p --cc -U0 --text" output (commits
// introduced by a NUL, their hash and their parents' hashes) and keeps the
// lines every parent lacks that hold the allow marker.
func parseAllowDiff(r io.Reader) (*allowDiff, error) {
	d := &allowDiff{lines: map[string]map[string]map[int]bool{}, raw: map[string]map[string]bool{}, parents: map[string][]string{}}
	var commit, path string
	parents, next := 0, 0
	inHunk := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "\x00"):
			f := strings.Fields(strings.TrimPrefix(l, "\x00"))
			if len(f) == 0 {
				return nil, fmt.Errorf("git log: unexpected commit line %q", l)
			}
			commit, path, inHunk = f[0], "", false
			d.order = append(d.order, commit)
			d.parents[commit] = f[1:]
		case strings.HasPrefix(l, "diff --"):
			path, inHunk = "", false
		case !inHunk && strings.HasPrefix(l, "+++ "):
			p, err := diffPath(strings.TrimPrefix(l, "+++ "))
			if err != nil {
				return nil, fmt.Errorf("git log: %w", err)
			}
			path = ""
			if p != "/dev/null" {
				var ok bool
				if path, ok = strings.CutPrefix(p, "b/"); !ok {
					return nil, fmt.Errorf("git log: unexpected path line %q", l)
				}
			}
		case strings.HasPrefix(l, "@@"):
			at := len(l) - len(strings.TrimLeft(l, "@"))
			parents = at - 1
			fields := strings.Fields(l)
			if parents < 1 || len(fields) < parents+2 || !strings.HasPrefix(fields[parents+1], "+") {
				return nil, fmt.Errorf("git log: unexpected hunk header %q", l)
			}
			start, _, _ := strings.Cut(strings.TrimPrefix(fields[parents+1], "+"), ",")
			n, err := strconv.Atoi(start)
			if err != nil {
				return nil, fmt.Errorf("git log: unexpected hunk header %q", l)
			}
			next, inHunk = n, true
		case inHunk && len(l) >= parents && parents > 0:
			prefix := l[:parents]
			if strings.HasPrefix(l, `\`) || strings.ContainsRune(prefix, '-') {
				continue // "\ No newline at end of file", or a removed line
			}
			if strings.Trim(prefix, "+") == "" && path != "" {
				switch text := l[parents:]; {
				case strings.Contains(text, scanner.AllowMarker):
					d.add(commit, path, next)
				case strings.Contains(text, wideMarker):
					// UTF-16: git's lines are not the scanner's.
					if d.raw[commit] == nil {
						d.raw[commit] = map[string]bool{}
					}
					d.raw[commit][path] = true
				}
			}
			next++
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("git log: %w", err)
	}
	return d, nil
}

// diffPath reads the path of a "--- " or "+++ " line: git C-quotes a path
// with a quote, backslash or control character in it, and ends a path
// holding a space with a tab.
func diffPath(s string) (string, error) {
	if !strings.HasPrefix(s, `"`) {
		p, _, _ := strings.Cut(s, "\t")
		return p, nil
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			if rest := s[i+1:]; rest != "" && rest != "\t" {
				return "", fmt.Errorf("unexpected text after the quoted path %q", s)
			}
			return b.String(), nil
		case c != '\\':
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(s) {
			break
		}
		switch c := s[i]; c {
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'v':
			b.WriteByte('\v')
		case 'f':
			b.WriteByte('\f')
		case 'r':
			b.WriteByte('\r')
		case '"', '\\':
			b.WriteByte(c)
		default:
			if c < '0' || c > '3' || i+2 >= len(s) {
				return "", fmt.Errorf("bad escape in the quoted path %q", s)
			}
			n, err := strconv.ParseUint(s[i:i+3], 8, 8)
			if err != nil {
				return "", fmt.Errorf("bad escape in the quoted path %q", s)
			}
			b.WriteByte(byte(n))
			i += 2
		}
	}
	return "", fmt.Errorf("unterminated quoted path %q", s)
}

// lineOf returns the 1-based line holding offset off.
func lineOf(data []byte, off int) int {
	return bytes.Count(data[:off], []byte{'\n'}) + 1
}

// Who names the change a plan scans, for messages: "this PR", "this push".
func (p Plan) Who() string {
	switch p.Event {
	case "pull_request", "pull_request_target":
		return "this PR"
	case "merge_group":
		return "this merge group"
	case "push":
		return "this push"
	}
	return "the scanned commits"
}

// WriteAllowNotices writes one ::notice workflow command per notice: at
// its line in HEAD, or without a file when HEAD no longer has it.
func WriteAllowNotices(w io.Writer, notices []AllowNotice, who string) error {
	for _, n := range notices {
		rule, _ := rules.ByID(n.Rule)
		msg := fmt.Sprintf("%s %s is allowed by a gemscan:allow comment %s adds (commit %.12s, %s line %d). "+
			"Make sure it is a test fixture and not a real credential.", rule.Title, n.Redacted, who, n.Commit, n.Path, n.Line)
		props := []string{"title=" + escapeProperty("allowed by a gemscan:allow comment "+who+" adds")}
		if n.HeadLine > 0 {
			props = append([]string{"file=" + escapeProperty(n.Path), fmt.Sprintf("line=%d", n.HeadLine), fmt.Sprintf("col=%d", max(n.HeadColumn, 1))}, props...)
		}
		if _, err := fmt.Fprintf(w, "::notice %s::%s\n", strings.Join(props, ","), escapeData(msg)); err != nil {
			return err
		}
	}
	return nil
}

// AppendAllowSummary appends the notices to the Markdown job summary at
// path (nothing when there are none, or no path).
func AppendAllowSummary(path string, notices []AllowNotice, who string) error {
	if path == "" || len(notices) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n### ℹ️ %d %s allowed by `gemscan:allow` comments %s adds\n\n", len(notices), plural(len(notices), "credential", "credentials"), who)
	b.WriteString("Honoured, because that is how test fixtures are marked; review each one.\n\n")
	b.WriteString("| Location | Credential | Comment added in |\n|---|---|---|\n")
	for _, n := range notices {
		rule, _ := rules.ByID(n.Rule)
		loc := report.MarkdownCode(fmt.Sprintf("%s:%d", n.Path, n.HeadLine))
		switch {
		case n.Member:
			loc = report.MarkdownCode(fmt.Sprintf("%s:%d", n.Path, n.Line)) + " (in an archive)"
		case n.HeadLine == 0:
			loc = report.MarkdownCode(n.Path) + " (no longer in HEAD)"
		}
		fmt.Fprintf(&b, "| %s | %s %s | `%.12s` |\n", loc, report.MarkdownText(rule.Title), report.MarkdownCode(n.Redacted), n.Commit)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("write job summary: %w", err)
	}
	_, werr := f.WriteString(b.String())
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("write job summary: %w", werr)
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// escapeData escapes a workflow command's message, control characters
// included.
func escapeData(s string) string { return report.EscapeData(report.Sanitize(s)) }

// escapeProperty escapes a workflow command's property value, control
// characters included.
func escapeProperty(s string) string { return report.EscapeProperty(report.Sanitize(s)) }

package ghaction

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"unicode/utf16"

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
}

// addedLines maps commit → path → the lines (in that commit's version)
// that the commit added and that hold the allow marker.
type addedLines map[string]map[string]map[int]bool

// AddedAllows lists the credentials that gemscan:allow comments added by
// the commits reachable from include but from none of exclude hide, each
// once (at the earliest commit), located in head's tree when still there.
// A line counts as added by a merge only when no parent had it.
func (g *Git) AddedAllows(ctx context.Context, det *rules.Detector, include, exclude []string, head string) ([]AllowNotice, error) {
	args := []string{"-c", "core.quotePath=false", "log", "--reverse", "--format=%x00%H", "-p", "--cc", "-U0",
		"--no-color", "--no-ext-diff", "--no-textconv", "--no-renames", "--src-prefix=a/", "--dst-prefix=b/"}
	args = append(args, include...)
	if len(exclude) > 0 {
		args = append(append(args, "--not"), exclude...)
	}
	added, order, err := g.addedAllowLines(ctx, args)
	if err != nil {
		return nil, err
	}
	type key struct{ rule, value, path string }
	seen := map[key]bool{}
	var out []AllowNotice
	headHits := map[string][]scanner.Finding{}
	for _, commit := range order {
		for path, lines := range added[commit] {
			data, ok, err := g.ReadFile(ctx, commit, path)
			if err != nil {
				return out, err
			}
			if ok {
				data, ok = textOf(data)
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
					} else if text, isText := textOf(hd); ok && isText {
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

// addedAllowLines runs the log and collects the added lines holding the
// allow marker, with the commits in the log's order.
func (g *Git) addedAllowLines(ctx context.Context, args []string) (addedLines, []string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", g.Dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("git log: %w", err)
	}
	added, order, perr := parseAllowDiff(stdout)
	if perr != nil {
		io.Copy(io.Discard, stdout)
	}
	if err := cmd.Wait(); err != nil {
		return nil, nil, fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return added, order, perr
}

// parseAllowDiff reads "git log -p --cc -U0" output (commits introduced by
// a NUL and their hash) and keeps the lines every parent lacks that hold
// the allow marker.
func parseAllowDiff(r io.Reader) (addedLines, []string, error) {
	added := addedLines{}
	var order []string
	var commit, path string
	parents, next := 0, 0
	inHunk := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "\x00"):
			commit, path, inHunk = strings.TrimPrefix(l, "\x00"), "", false
			order = append(order, commit)
		case strings.HasPrefix(l, "diff --"):
			path, inHunk = "", false
		case !inHunk && strings.HasPrefix(l, "+++ "):
			p := strings.TrimPrefix(l, "+++ ")
			if strings.HasPrefix(p, `"`) {
				u, err := strconv.Unquote(p)
				if err != nil {
					return nil, nil, fmt.Errorf("git log: path %s: %w", p, err)
				}
				p = u
			}
			path = strings.TrimPrefix(p, "b/")
			if p == "/dev/null" {
				path = ""
			}
		case strings.HasPrefix(l, "@@"):
			at := len(l) - len(strings.TrimLeft(l, "@"))
			parents = at - 1
			fields := strings.Fields(l)
			if parents < 1 || len(fields) < parents+2 || !strings.HasPrefix(fields[parents+1], "+") {
				return nil, nil, fmt.Errorf("git log: unexpected hunk header %q", l)
			}
			start, _, _ := strings.Cut(strings.TrimPrefix(fields[parents+1], "+"), ",")
			n, err := strconv.Atoi(start)
			if err != nil {
				return nil, nil, fmt.Errorf("git log: unexpected hunk header %q", l)
			}
			next, inHunk = n, true
		case inHunk && len(l) >= parents && parents > 0:
			prefix := l[:parents]
			if strings.HasPrefix(l, `\`) || strings.ContainsRune(prefix, '-') {
				continue // "\ No newline at end of file", or a removed line
			}
			if strings.Trim(prefix, "+") == "" && path != "" && strings.Contains(l[parents:], scanner.AllowMarker) {
				if added[commit] == nil {
					added[commit] = map[string]map[int]bool{}
				}
				if added[commit][path] == nil {
					added[commit][path] = map[int]bool{}
				}
				added[commit][path][next] = true
			}
			next++
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("git log: %w", err)
	}
	return added, order, nil
}

// lineOf returns the 1-based line holding offset off.
func lineOf(data []byte, off int) int {
	return bytes.Count(data[:off], []byte{'\n'}) + 1
}

// textOf returns data as the text the scanner reads, as the scanner makes
// it: UTF-16 with a byte-order mark is transcoded, other data with a NUL
// byte in its first 8 KiB is binary (ok false).
func textOf(data []byte) (text []byte, ok bool) {
	if len(data) >= 2 && len(data)%2 == 0 && (data[0] == 0xff && data[1] == 0xfe || data[0] == 0xfe && data[1] == 0xff) {
		units := make([]uint16, 0, len(data)/2-1)
		for i := 2; i+1 < len(data); i += 2 {
			if data[0] == 0xff {
				units = append(units, uint16(data[i])|uint16(data[i+1])<<8)
			} else {
				units = append(units, uint16(data[i])<<8|uint16(data[i+1]))
			}
		}
		return []byte(string(utf16.Decode(units))), true
	}
	if bytes.IndexByte(data[:min(len(data), 8<<10)], 0) >= 0 {
		return nil, false
	}
	return data, true
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
		loc := fmt.Sprintf("`%s:%d`", mdCell(n.Path), n.HeadLine)
		if n.HeadLine == 0 {
			loc = fmt.Sprintf("`%s` (no longer in HEAD)", mdCell(n.Path))
		}
		fmt.Fprintf(&b, "| %s | %s `%s` | `%.12s` |\n", loc, mdCell(rule.Title), mdCell(n.Redacted), n.Commit)
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

// escapeData escapes a workflow command's message.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(report.Sanitize(s))
}

// escapeProperty escapes a workflow command's property value.
func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(report.Sanitize(s))
}

// mdCell escapes text for a Markdown table cell.
func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ", "<", "&lt;", ">", "&gt;", "`", "'").Replace(report.Sanitize(s))
}

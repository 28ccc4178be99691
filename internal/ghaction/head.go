package ghaction

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"unicode/utf8"

	ignore "github.com/sabhiram/go-gitignore"

	"github.com/gemscan-dev/gemscan/rules"
	"github.com/gemscan-dev/gemscan/scanner"
)

// locate returns every credential in data with its full location (line,
// column, end, paired secret's line), allowed or not: where a credential
// is, whatever hides it.
func locate(det *rules.Detector, data []byte) []scanner.Finding {
	var out []scanner.Finding
	pos := func(off int) (int, int) {
		start := bytes.LastIndexByte(data[:off], '\n') + 1
		return lineOf(data, off), utf8.RuneCount(data[start:off]) + 1
	}
	for _, m := range det.Detect(data) {
		f := scanner.Finding{Rule: m.Rule, Value: m.Value}
		f.Line, f.Column = pos(m.Start)
		f.EndLine, f.EndColumn = pos(m.End)
		if len(m.Secrets) > 0 {
			f.SecretLine = lineOf(data, m.Secrets[0].Start)
		}
		out = append(out, f)
	}
	return out
}

// LocateInHead moves each finding still in head's tree to where it is
// there, and sets InHead as head (not necessarily the checkout's HEAD) has
// it: the introducing commit's line goes stale once later commits edit the
// file, and annotations must point at the code as it is now. For the
// findings head no longer has, it
// returns the commit that removed each, when the history at hand tells
// (by fingerprint).
//
// The removal is searched for on the way from the finding's commit to head
// and, when head's history is cut there (a shallow checkout of a PR's
// merge commit), to each of tips (the range's heads).
func (g *Git) LocateInHead(ctx context.Context, det *rules.Detector, head string, tips []string, findings []scanner.Finding) (removedIn map[string]string, err error) {
	removedIn = map[string]string{}
	located := map[string][]scanner.Finding{}
	budget := maxRemovalReads
	for i := range findings {
		f := &findings[i]
		if f.Commit == "" {
			continue
		}
		hits, ok := located[f.Path]
		if !ok {
			data, found, err := g.ReadFile(ctx, head, f.Path)
			if err != nil {
				return removedIn, err
			}
			if text, isText := scanner.Text(data, false); found && isText {
				hits = locate(det, text)
			}
			located[f.Path] = hits
		}
		f.InHead = false
		for _, h := range hits {
			if h.Rule == f.Rule && h.Value == f.Value {
				f.Line, f.Column, f.EndLine, f.EndColumn, f.SecretLine = h.Line, h.Column, h.EndLine, h.EndColumn, h.SecretLine
				f.InHead = true
				break
			}
		}
		if !f.InHead {
			for _, tip := range append([]string{head}, tips...) {
				c, err := g.removedIn(ctx, f, tip, &budget)
				if err != nil {
					return removedIn, err
				}
				if c != "" {
					removedIn[f.Fingerprint()] = c
					break
				}
			}
		}
	}
	return removedIn, nil
}

// maxRemovalSearch bounds the commits read to find where one credential
// was removed, maxRemovalReads those read for all; past them the removal
// is "not known".
const (
	maxRemovalSearch = 200
	maxRemovalReads  = 500
)

// removedIn finds the first commit on the way from f's commit to tip
// whose version of f's path no longer holds the credential.
func (g *Git) removedIn(ctx context.Context, f *scanner.Finding, tip string, budget *int) (string, error) {
	out, err := g.run(ctx, "rev-list", "--reverse", "--topo-order", "--ancestry-path", "--full-history",
		f.Commit+".."+tip, "--", f.Path)
	if err != nil {
		return "", nil // a cut history (shallow): not known
	}
	for i, c := range strings.Fields(out) {
		if i >= maxRemovalSearch || *budget <= 0 {
			break
		}
		*budget--
		data, ok, err := g.ReadFile(ctx, c, f.Path)
		if err != nil {
			return "", err
		}
		if !ok || !bytes.Contains(data, []byte(f.Value)) {
			return c, nil
		}
	}
	return "", nil
}

// ScannedHead returns the commit whose tree the findings are located in
// and the SARIF report describes: the checkout (HEAD) when it is the
// plan's head or a merge of it (a PR's merge ref), else the plan's head
// (pull_request_target checks out the base by default).
func (g *Git) ScannedHead(ctx context.Context, p Plan) (string, error) {
	if p.Full || p.Head == "" {
		return "HEAD", nil
	}
	out, err := g.run(ctx, "cat-file", "commit", "HEAD")
	if err != nil {
		return "", fmt.Errorf("read HEAD: %w", err)
	}
	head, err := g.run(ctx, "rev-parse", "HEAD")
	if err != nil {
		return "", fmt.Errorf("read HEAD: %w", err)
	}
	if head == p.Head {
		return "HEAD", nil
	}
	// The commit object names its parents even where a shallow checkout
	// cut them off.
	hdr, _, _ := strings.Cut(out, "\n\n")
	for _, l := range strings.Split(hdr, "\n") {
		if l == "parent "+p.Head {
			return "HEAD", nil
		}
	}
	return p.Head, nil
}

// TreeScan is what ScanTree found in a commit's tree.
type TreeScan struct {
	Findings []scanner.Finding
	Files    int
}

// ScanTree scans every file of rev's tree as a history scan scans a blob,
// whatever its size: binary files raw, UTF-16 with a byte-order mark,
// archives' members (to opts' depth and limits), any length in bounded
// memory. gemscan:allow lines are honoured, and paths the .gemscanignore at
// ignoreFrom's root matches are left out (ignoreFrom "": none). The
// findings are attributed to nothing: they describe the tree. A file that
// cannot be read, or an archive member that cannot be expanded, is an
// error: code scanning must not show a tree as clean that was not read.
func (g *Git) ScanTree(ctx context.Context, rev, ignoreFrom string, opts scanner.Options) (TreeScan, error) {
	var ts TreeScan
	var ign *ignore.GitIgnore
	if ignoreFrom != "" {
		data, ok, err := g.ReadFile(ctx, ignoreFrom, scanner.IgnoreFile)
		if err != nil {
			return ts, err
		}
		if ok {
			ign = ignore.CompileIgnoreLines(strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")...)
		}
	}
	out, err := g.run(ctx, "ls-tree", "-r", "-z", "--full-tree", "-l", rev)
	if err != nil {
		return ts, fmt.Errorf("list the tree of %s: %w", rev, err)
	}
	type entry struct{ oid, path string }
	var entries []entry
	for _, rec := range strings.Split(out, "\x00") {
		meta, path, ok := strings.Cut(rec, "\t")
		f := strings.Fields(meta)
		if !ok || len(f) != 4 || f[1] != "blob" {
			continue // submodules (commits) have no content here
		}
		if ign != nil && ign.MatchesPath(path) {
			continue
		}
		entries = append(entries, entry{f[2], path})
	}
	if len(entries) == 0 {
		return ts, nil
	}
	cmd := exec.CommandContext(ctx, "git", "-C", g.Dir, "cat-file", "--batch")
	cmd.Env = gitEnv()
	var stdin strings.Builder
	for _, e := range entries {
		stdin.WriteString(e.oid + "\n")
	}
	cmd.Stdin = strings.NewReader(stdin.String())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return ts, err
	}
	if err := cmd.Start(); err != nil {
		return ts, fmt.Errorf("git cat-file: %w", err)
	}
	rd := bufio.NewReader(pipe)
	var rerr error
	for _, e := range entries {
		hdr, err := rd.ReadString('\n')
		if err != nil {
			rerr = fmt.Errorf("read %s from %s: %w", e.path, rev, err)
			break
		}
		f := strings.Fields(hdr)
		if len(f) != 3 || f[1] != "blob" {
			rerr = fmt.Errorf("read %s (%s) from %s: %s", e.path, e.oid, rev, strings.TrimSpace(hdr))
			break
		}
		n, err := strconv.Atoi(f[2])
		if err != nil {
			rerr = fmt.Errorf("read %s from %s: bad size %q", e.path, rev, f[2])
			break
		}
		blob := io.LimitReader(rd, int64(n))
		res := scanner.ScanStream(ctx, blob, e.path, opts)
		ts.Files++
		ts.Findings = append(ts.Findings, res.Findings...)
		if len(res.Errors) > 0 {
			rerr = fmt.Errorf("scan %s at %s: %w", e.path, rev, errors.Join(res.Errors...))
			break
		}
		if res.Stats.TooLarge > 0 {
			rerr = fmt.Errorf("scan %s at %s: %d archive members too large to scan", e.path, rev, res.Stats.TooLarge)
			break
		}
		// What the scan left unread of the blob, and the newline after it.
		if _, err := io.Copy(io.Discard, blob); err != nil {
			rerr = fmt.Errorf("read %s from %s: %w", e.path, rev, err)
			break
		}
		if b, err := rd.ReadByte(); err != nil || b != '\n' {
			rerr = fmt.Errorf("read %s from %s: git cat-file: no newline after the blob", e.path, rev)
			break
		}
		if ctx.Err() != nil {
			rerr = ctx.Err()
			break
		}
	}
	if rerr != nil {
		cmd.Process.Kill()
	}
	werr := cmd.Wait()
	if rerr != nil {
		return ts, rerr
	}
	if werr != nil {
		return ts, fmt.Errorf("git cat-file: %w: %s", werr, strings.TrimSpace(stderr.String()))
	}
	return ts, nil
}

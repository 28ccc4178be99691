package ghaction

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// SuppressionBase returns the commit whose .gemscanignore and baseline the
// scan of p must use: for pull_request, pull_request_target and merge_group
// events the base commit, so that the change under review cannot suppress
// its own findings; "" for other events (the checkout's own files apply).
func (p Plan) SuppressionBase() string {
	switch p.Event {
	case "pull_request", "pull_request_target", "merge_group":
		return p.Base
	}
	return ""
}

// ReadFile reads the file at path (slash-separated, relative to the
// repository's root) in rev's tree. ok is false when the tree holds no
// file there.
func (g *Git) ReadFile(ctx context.Context, rev, path string) (data []byte, ok bool, err error) {
	out, err := g.run(ctx, "ls-tree", "-z", "--full-tree", rev, "--", path)
	if err != nil {
		return nil, false, fmt.Errorf("read %s from %.12s: %w", path, rev, err)
	}
	if out == "" {
		return nil, false, nil
	}
	meta, _, _ := strings.Cut(out, "\t")
	if f := strings.Fields(meta); len(f) != 3 || f[1] != "blob" {
		return nil, false, fmt.Errorf("read %s from %.12s: not a file (%s)", path, rev, meta)
	}
	oid := strings.Fields(meta)[2]
	cmd := exec.CommandContext(ctx, "git", "-C", g.Dir, "cat-file", "blob", oid)
	cmd.Env = gitEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, false, fmt.Errorf("read %s from %.12s: %w: %s", path, rev, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), true, nil
}

// RepoPath turns a file system path into a path relative to the root of
// the repository's work tree; inside is false for a file outside it.
// Symbolic links are resolved only on the way to the work tree: below its
// top, the checkout (the change under review) decides what a path holds,
// so a link it adds cannot take a path of the checkout outside.
func (g *Git) RepoPath(ctx context.Context, fsPath string) (rel string, inside bool, err error) {
	top, err := g.run(ctx, "rev-parse", "--show-toplevel")
	if err != nil {
		return "", false, err
	}
	if top, err = filepath.EvalSymlinks(top); err != nil {
		return "", false, fmt.Errorf("resolve the work tree: %w", err)
	}
	abs, err := filepath.Abs(fsPath)
	if err != nil {
		return "", false, err
	}
	// The shortest ancestor of abs that is the work tree's top, if any.
	var prefixes []string
	for dir := abs; ; dir = filepath.Dir(dir) {
		prefixes = append(prefixes, dir)
		if filepath.Dir(dir) == dir {
			break
		}
	}
	for i := len(prefixes) - 1; i >= 0; i-- {
		if d, err := filepath.EvalSymlinks(prefixes[i]); err != nil || d != top {
			continue
		}
		r, err := filepath.Rel(prefixes[i], abs)
		if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
			return "", false, nil
		}
		return filepath.ToSlash(r), true, nil
	}
	return "", false, nil
}

// Package gittest runs the git CLI for tests that build real repositories:
// a fixed identity, commit dates that the caller advances, and no user or
// system configuration, so every machine builds the same history.
package gittest

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Env returns the environment for a git command whose commits are dated n
// seconds after 2024-01-01T00:00:00Z.
//
// Repositories are made lean, since tests build hundreds of them: no
// template (an empty GIT_TEMPLATE_DIR: no hook samples, no description),
// and no automatic maintenance after commits.
func Env(n int) []string {
	date := fmt.Sprintf("2024-01-01T%02d:%02d:%02dZ", n/3600, n/60%60, n%60)
	return append(os.Environ(), append(Lean(),
		"GIT_AUTHOR_NAME=Ada", "GIT_AUTHOR_EMAIL=ada@example.invalid",
		"GIT_COMMITTER_NAME=Ada", "GIT_COMMITTER_EMAIL=ada@example.invalid",
		"GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date)...)
}

// Lean returns the variables that keep git away from the user's and the
// system's configuration and make its repositories cheap to create: an
// empty template directory (git then copies nothing into a new .git) and
// maintenance.auto off (no "git maintenance run --auto" after each commit).
func Lean() []string {
	return []string{"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_TEMPLATE_DIR=",
		"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=maintenance.auto", "GIT_CONFIG_VALUE_0=false"}
}

// Need skips the test when git is not installed.
func Need(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
}

// Run runs git in dir and returns its trimmed output, failing the test on
// error.
func Run(t testing.TB, dir string, args ...string) string {
	t.Helper()
	return RunAt(t, dir, 0, args...)
}

// RunAt is Run with commits dated n seconds into 2024.
func RunAt(t testing.TB, dir string, n int, args ...string) string {
	t.Helper()
	out, err := Try(dir, n, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// Try runs git and returns its trimmed output and error, for commands that
// are expected to fail (a merge that conflicts).
func Try(dir string, n int, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = Env(n)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// FastImport feeds stream (git fast-import's format) to git fast-import in
// dir: one process for a history that would take two per commit with
// add and commit.
func FastImport(t testing.TB, dir, stream string) {
	t.Helper()
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir, cmd.Env, cmd.Stdin = dir, Env(0), strings.NewReader(stream)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git fast-import: %v\n%s", err, out)
	}
}

// QuotePath quotes a path for a FastImport stream, as git quotes paths
// (C style, octal escapes), so any name goes through.
func QuotePath(p string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, "\\%03o", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEscapeControl: what gemscan dir prints on stderr about a path cannot
// drive a terminal or forge a workflow command: a named path holding a
// newline, "::warning" and a terminal escape is shown escaped.
func TestEscapeControl(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e\n::warning file=x::boom\x1b[2J")
	var stdout, stderr strings.Builder
	code := run(context.Background(), []string{"gemscan", "dir", "--no-color", path}, strings.NewReader(""), &stdout, &stderr, os.Environ())
	if code != 2 {
		t.Errorf("exit %d for a missing path, want 2", code)
	}
	out := stdout.String() + stderr.String()
	if strings.Contains(out, "\x1b") || strings.Contains(out, "\n::warning") {
		t.Errorf("raw control characters reached the output:\n%q", out)
	}
	if !strings.Contains(stderr.String(), `e\n::warning file=x::boom\x1b[2J`) {
		t.Errorf("stderr does not name the path escaped:\n%s", stderr.String())
	}
}

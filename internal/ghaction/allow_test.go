package ghaction

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAllowSummaryCells: whatever a file is called, each notice stays one
// row of three cells, and its name shows as code, not as Markdown.
func TestAllowSummaryCells(t *testing.T) {
	path := filepath.Join(t.TempDir(), "summary.md")
	names := []string{"a|b.txt", "tick`s``.txt", "<img src=x onerror=alert(1)>.txt", "line\nbreak.txt", "[link](https://evil.example).txt"}
	var notices []AllowNotice
	for i, name := range names {
		notices = append(notices, AllowNotice{Rule: "google-gemini-key", Redacted: "AQ.Ab8R…" + strings.Repeat("|", i),
			Path: name, Commit: "0123456789abcdef", Line: 3, HeadLine: 3})
	}
	if err := AppendAllowSummary(path, notices, "this PR"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "| ") && !strings.HasPrefix(l, "| Location") {
			rows = append(rows, l)
		}
	}
	if len(rows) != len(names) {
		t.Fatalf("%d rows for %d notices:\n%s", len(rows), len(names), data)
	}
	for i, row := range rows {
		// GitHub splits cells at every pipe not escaped by a backslash,
		// code spans or not.
		cells := strings.Count(strings.ReplaceAll(row, `\|`, ""), "|") - 1
		if cells != 3 {
			t.Errorf("notice for %q: %d cells: %s", names[i], cells, row)
		}
		loc := strings.TrimSpace(strings.SplitN(strings.ReplaceAll(row[1:], `\|`, "\x00"), "|", 2)[0])
		if !strings.HasPrefix(loc, "`") || !strings.HasSuffix(loc, "`") {
			t.Errorf("notice for %q: the location is not one code span: %s", names[i], loc)
		}
		// In a code span the name is shown as it is (pipes aside): not
		// rewritten, not entity-encoded.
		if want := strings.ReplaceAll(strings.ReplaceAll(names[i], "\n", `\n`), "|", "\x00"); !strings.Contains(loc, want) {
			t.Errorf("notice for %q: location %s does not show the name as it is", names[i], loc)
		}
	}
}

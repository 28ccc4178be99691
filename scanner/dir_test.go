package scanner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gemscan-dev/gemscan/internal/testkeys"
)

// TestReadsWholeFiles checks files around the first read's buffer size
// and far beyond it (up to the streamed size) are read to their end.
func TestReadsWholeFiles(t *testing.T) {
	k := testkeys.New(91).Set()
	dir := t.TempDir()
	sizes := []int{0, 10, firstRead - 1, firstRead, firstRead + 1, 3*firstRead + 7, streamThreshold + 12345}
	for i, size := range sizes {
		line := "k=" + k.APIKey + "\n"
		filler := strings.Repeat("x", max(0, size-len(line)))
		// Break the filler into lines so it is text.
		filler = strings.ReplaceAll(filler, strings.Repeat("x", 99), strings.Repeat("x", 98)+"\n")
		name := filepath.Join(dir, "f"+string(rune('a'+i)))
		if err := os.WriteFile(name, []byte(filler+line), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res := ScanPaths(context.Background(), []string{dir}, Options{})
	if len(res.Errors) > 0 {
		t.Fatal(res.Errors)
	}
	if len(res.Findings) != len(sizes) {
		t.Fatalf("found %d keys at the ends of %d files", len(res.Findings), len(sizes))
	}
	var total int64
	for _, size := range sizes {
		total += int64(max(size, len("k="+k.APIKey+"\n")))
	}
	if res.Stats.Bytes != total {
		t.Errorf("read %d bytes, files hold %d", res.Stats.Bytes, total)
	}
}

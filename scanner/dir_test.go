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

func utf16le(s string) []byte {
	out := []byte{0xff, 0xfe}
	for _, r := range s {
		out = append(out, byte(r), byte(r>>8))
	}
	return out
}

// TestUTF16Text checks UTF-16 files with a byte-order mark are read as
// text (in the working tree and in history), and binary files scanned raw
// unless SkipBinary skips them.
func TestUTF16Text(t *testing.T) {
	k := testkeys.New(92).Set()
	r := newRepo(t)
	r.write("setup.ps1", string(utf16le("# setup\r\n$env:GEMINI_API_KEY = \""+k.AQKey+"\"\r\n")))
	r.write("blob.bin", "\x00\x01"+k.AQKey)
	r.commit("ps1")
	res := ScanPaths(context.Background(), []string{r.dir}, Options{SkipBinary: true})
	if len(res.Findings) != 1 || res.Findings[0].Path != "setup.ps1" || res.Findings[0].Line != 2 || res.Stats.Binary != 1 {
		t.Errorf("dir: %+v, %d binary", res.Findings, res.Stats.Binary)
	}
	got, gres := scanRepo(t, r.dir, GitOptions{Options: Options{SkipBinary: true}})
	noErrors(t, gres)
	if len(got) != 1 || got[0].path != "setup.ps1" {
		t.Errorf("git: %v", got)
	}
	res = ScanPaths(context.Background(), []string{r.dir}, Options{})
	if len(res.Findings) != 2 || res.Findings[0].Path != "blob.bin" || res.Stats.Binary != 0 {
		t.Errorf("dir, binary scanned: %+v, %d binary", res.Findings, res.Stats.Binary)
	}
	got, gres = scanRepo(t, r.dir, GitOptions{})
	noErrors(t, gres)
	if len(got) != 2 || got[0].path != "blob.bin" || gres.Stats.Binary != 0 {
		t.Errorf("git, binary scanned: %v", got)
	}
}

// TestLargeUTF16File: a UTF-16 file too large to read whole is streamed
// and transcoded, not skipped as binary for the NULs between its letters.
func TestLargeUTF16File(t *testing.T) {
	k := testkeys.New(93).Set()
	text := strings.Repeat("filler line of text\r\n", streamThreshold/40+1) + "$env:KEY = \"" + k.AQKey + "\"\r\n"
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "big.ps1"), append(utf16le(text), 0), 0o644); err != nil {
		t.Fatal(err)
	}
	res := ScanPaths(context.Background(), []string{dir}, Options{})
	noErrors(t, res)
	if len(res.Findings) != 1 || res.Findings[0].Line != strings.Count(text, "\n") || res.Stats.Binary != 0 {
		t.Errorf("findings %+v, %d binary", res.Findings, res.Stats.Binary)
	}
}

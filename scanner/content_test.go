package scanner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	"unicode/utf16"

	"github.com/gemscan-dev/gemscan/internal/testkeys"
	"github.com/gemscan-dev/gemscan/rules"
)

// TestScanChunksSeams puts credentials at every offset around the chunk
// seams and checks each is reported exactly once, on the right line and
// column, whatever the chunking.
func TestScanChunksSeams(t *testing.T) {
	det := rules.NewDetector()
	k := testkeys.New(21).Set()
	var text strings.Builder
	type want struct{ line, col int }
	var wants []want
	line := 1
	for i := 0; i < 400; i++ {
		pad := strings.Repeat("x", i%37)
		fmt.Fprintf(&text, "%s key=%s\n", pad, k.APIKey)
		wants = append(wants, want{line, len(pad) + 6})
		line++
		text.WriteString(strings.Repeat("filler ", i%11) + "\n")
		line++
	}
	data := []byte(text.String())
	whole, _ := ScanBytes(det, data, "f", "f")
	if len(whole) != len(wants) {
		t.Fatalf("ScanBytes found %d, want %d", len(whole), len(wants))
	}
	for _, size := range []int{1024, 1500, 4096} {
		for _, overlap := range []int{256, 512} {
			// A one-byte reader makes every read short.
			var got []Finding
			n, err := scanChunks(context.Background(), det, iotest.OneByteReader(bytes.NewReader(data)), "f", size, overlap,
				func(data []byte, baseLine int, ms []rules.Match) {
					fs, _ := newLocator(data, baseLine).findings(ms, "f", "f")
					got = append(got, fs...)
				})
			if err != nil || n != int64(len(data)) {
				t.Fatalf("size %d: read %d of %d, err %v", size, n, len(data), err)
			}
			if len(got) != len(wants) {
				t.Fatalf("size %d overlap %d: %d findings, want %d", size, overlap, len(got), len(wants))
			}
			for i, f := range got {
				if f.Line != wants[i].line || f.Column != wants[i].col {
					t.Errorf("size %d: finding %d at %d:%d, want %d:%d", size, i, f.Line, f.Column, wants[i].line, wants[i].col)
				}
			}
		}
	}
}

func TestReadErrorKeepsFindings(t *testing.T) {
	k := testkeys.New(2).Set()
	r := iotest.TimeoutReader(bytes.NewReader([]byte("a=" + k.AQKey + "\n")))
	res := ScanReader(context.Background(), rules.NewDetector(), r, "f", "f")
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), "read f") {
		t.Fatalf("errors = %v, want a wrapped read error", res.Errors)
	}
	if fs := res.Findings; len(fs) != 1 || fs[0].Value != k.AQKey {
		t.Errorf("findings before the error: %+v", fs)
	}
}

func TestFingerprint(t *testing.T) {
	a := Finding{Rule: rules.GoogleAPI, Path: "config/app.env", Value: "v", Line: 3}
	b := a
	b.Line, b.Commit = 40, "abc"
	c := a
	c.Path = `config\app.env`
	d := a
	d.Path = "other/app.env"
	if a.Fingerprint() != b.Fingerprint() || a.Fingerprint() != c.Fingerprint() {
		t.Errorf("fingerprint changed with line, commit or separators")
	}
	if a.Fingerprint() == d.Fingerprint() {
		t.Errorf("same fingerprint at two paths")
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"account-AbCdEf": "account-Ab…",
		"AIzaSyXYZ":      "AIzaSy…",
		"AQ.Ab8RN6":      "AQ.Ab…",
		"Secret123":      "Se…",
		"x":              "…",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRepeatsFolded: a log with the same key on every line reports it
// once, counts the other occurrences, and keeps no finding per line.
func TestRepeatsFolded(t *testing.T) {
	k := testkeys.New(51).Set()
	var b strings.Builder
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&b, "2026-01-01 request %d key=%s\n", i, k.AQKey)
	}
	// Streamed in small chunks, so repeats span many chunks.
	var set findingSet
	n, err := scanChunks(context.Background(), rules.NewDetector(), strings.NewReader(b.String()), "log", 64<<10, 1024,
		func(data []byte, baseLine int, ms []rules.Match) {
			set.add(newLocator(data, baseLine).findings(ms, "log", "log"))
		})
	if err != nil || n != int64(b.Len()) {
		t.Fatalf("read %d of %d: %v", n, b.Len(), err)
	}
	if len(set.list) != 1 || set.list[0].Line != 1 || set.repeats != 19999 || set.capErr("log") != nil {
		t.Errorf("%d findings (first at line %d), %d repeats", len(set.list), set.list[0].Line, set.repeats)
	}

	res := ScanReader(context.Background(), rules.NewDetector(), strings.NewReader(b.String()), "log", "log")
	if len(res.Findings) != 1 || res.Stats.Repeats != 19999 || len(res.Errors) != 0 ||
		len(res.Stats.Notes) != 1 || !strings.Contains(res.Stats.Notes[0], "19999 further occurrences") {
		t.Errorf("ScanReader: %d findings, %d repeats, errors %v, notes %q",
			len(res.Findings), res.Stats.Repeats, res.Errors, res.Stats.Notes)
	}
}

// TestFindingsCapped: past MaxFindingsPerFile distinct credentials a file
// reports no more, and the scan is incomplete (an error), since what was
// dropped was neither shown nor verified.
func TestFindingsCapped(t *testing.T) {
	g := testkeys.New(52)
	var b strings.Builder
	const extra = 7
	for i := 0; i < MaxFindingsPerFile+extra; i++ {
		fmt.Fprintf(&b, "key=%s\n", g.APIKey())
	}
	res := ScanReader(context.Background(), rules.NewDetector(), strings.NewReader(b.String()), "keys.txt", "keys.txt")
	if len(res.Findings) != MaxFindingsPerFile {
		t.Errorf("%d findings, want the cap %d", len(res.Findings), MaxFindingsPerFile)
	}
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), fmt.Sprintf("%d further matches", extra)) {
		t.Errorf("errors %v, want one counting the %d dropped", res.Errors, extra)
	}
	// The same through a file in a tree.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "keys.txt"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	dres := ScanPaths(context.Background(), []string{dir}, Options{})
	if len(dres.Findings) != MaxFindingsPerFile || len(dres.Errors) != 1 {
		t.Errorf("dir: %d findings, errors %v", len(dres.Findings), dres.Errors)
	}
}

// TestScanReaderCancelled: a read blocked on an input that never ends (a
// pipe kept open) is abandoned when ctx is done; what was read is scanned
// and the interruption is an error.
func TestScanReaderCancelled(t *testing.T) {
	k := testkeys.New(53).Set()
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *Result, 1)
	go func() { done <- ScanReader(ctx, rules.NewDetector(), pr, "stdin", "stdin") }()
	// io.Pipe's write returns when a read has taken all of it, and the
	// scan asks for a second read only once it holds the first: after two
	// writes the key is certainly in what the scan read.
	for _, s := range []string{"a=" + k.AQKey + "\n", "more\n"} {
		if _, err := io.WriteString(pw, s); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	var res *Result
	select {
	case res = <-done:
	case <-time.After(time.Minute):
		t.Fatal("ScanReader did not return when cancelled")
	}
	if len(res.Findings) != 1 || res.Findings[0].Value != k.AQKey || res.Stats.Bytes == 0 {
		t.Errorf("findings %+v after %d bytes", res.Findings, res.Stats.Bytes)
	}
	if len(res.Errors) != 1 || !errors.Is(res.Errors[0], context.Canceled) {
		t.Errorf("errors %v, want the interruption", res.Errors)
	}
	// Cancelled before it starts: no read at all.
	res = ScanReader(ctx, rules.NewDetector(), strings.NewReader("a="+k.AQKey), "f", "f")
	if res.Stats.Bytes != 0 || len(res.Errors) != 1 || !errors.Is(res.Errors[0], context.Canceled) {
		t.Errorf("after cancel: %d bytes, errors %v", res.Stats.Bytes, res.Errors)
	}
}

// utf16Of encodes s as UTF-16 with a byte-order mark.
func utf16Of(s string, little bool) []byte {
	out := []byte{0xfe, 0xff}
	if little {
		out = []byte{0xff, 0xfe}
	}
	for _, u := range utf16.Encode([]rune(s)) {
		if little {
			out = append(out, byte(u), byte(u>>8))
		} else {
			out = append(out, byte(u>>8), byte(u))
		}
	}
	return out
}

// TestUTF16OddLength: a stray byte at the end of UTF-16 text must not make
// it "binary" (a way to hide a key); the stream reader for large files
// decodes the same text whatever the read sizes, surrogate pairs included.
func TestUTF16OddLength(t *testing.T) {
	k := testkeys.New(54).Set()
	text := "# é 😀 setup\r\n$env:KEY = \"" + k.AQKey + "\"\r\n"
	for _, little := range []bool{true, false} {
		data := append(utf16Of(text, little), 0x00)
		got, ok := textOf(data, false)
		if !ok || string(got) != text {
			t.Errorf("little=%v: textOf = %q, %v", little, got, ok)
		}
		for _, r := range []io.Reader{bytes.NewReader(data), iotest.OneByteReader(bytes.NewReader(data)),
			iotest.HalfReader(bytes.NewReader(data))} {
			out, err := io.ReadAll(newUTF16Reader(r, little))
			if err != nil || string(out) != text {
				t.Errorf("little=%v: utf16Reader = %q, %v", little, out, err)
			}
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "setup.ps1"), append(utf16Of(text, true), 'x'), 0o644); err != nil {
		t.Fatal(err)
	}
	res := ScanPaths(context.Background(), []string{dir}, Options{})
	if len(res.Findings) != 1 || res.Findings[0].Line != 2 || res.Stats.Binary != 0 {
		t.Errorf("dir: %+v, %d binary", res.Findings, res.Stats.Binary)
	}
}

// TestStreamUTF16: UTF-16 piped into gemscan stdin (or read from a pipe) is
// transcoded like a file; other streams pass unchanged, even tiny ones.
func TestStreamUTF16(t *testing.T) {
	k := testkeys.New(55).Set()
	text := "line one\r\n$env:KEY = \"" + k.AQKey + "\"\r\n"
	for _, data := range [][]byte{utf16Of(text, true), append(utf16Of(text, false), 7), []byte(text)} {
		res := ScanReader(context.Background(), rules.NewDetector(), iotest.HalfReader(bytes.NewReader(data)), "s", "s")
		if len(res.Errors) > 0 || len(res.Findings) != 1 || res.Findings[0].Line != 2 {
			t.Errorf("%q: findings %+v, errors %v", data[:4], res.Findings, res.Errors)
		}
	}
	for _, in := range []string{"", "a", "ab", "abc"} {
		out, err := io.ReadAll(&bomReader{r: strings.NewReader(in)})
		if err != nil || string(out) != in {
			t.Errorf("%q read as %q, %v", in, out, err)
		}
	}
}

// TestManyKeysOnOneLineLinear: locating N credentials on one long line (a
// minified file, a log line) looks at each byte a bounded number of times,
// where it used to rescan the line for every match; every column is right.
func TestManyKeysOnOneLineLinear(t *testing.T) {
	g := testkeys.New(77)
	var line strings.Builder
	var keys []string
	for i := 0; i < 3000; i++ {
		k := g.Set().APIKey
		keys = append(keys, k)
		line.WriteString(`"k`)
		line.WriteString(strconv.Itoa(i))
		line.WriteString(`":"`)
		line.WriteString(k)
		line.WriteString(`",`)
	}
	data := []byte("header\n" + line.String() + "\n")
	det := rules.NewDetector()
	ms := det.Detect(data)
	l := newLocator(data, 0)
	fs, _ := l.findings(ms, "min.json", "min.json")
	if len(fs) != len(keys) {
		t.Fatalf("%d findings, want %d", len(fs), len(keys))
	}
	for i, f := range fs {
		want := strings.Index(line.String(), keys[i]) + 1 // ASCII: bytes are columns
		if f.Line != 2 || f.Column != want || f.Value != keys[i] {
			t.Fatalf("finding %d at %d:%d (%s…), want 2:%d", i, f.Line, f.Column, f.Value[:8], want)
		}
	}
	if l.scanned > 4*len(data) {
		t.Errorf("locating %d keys looked at %d bytes of a %d-byte input", len(fs), l.scanned, len(data))
	}
}

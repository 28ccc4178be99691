package scanner

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"

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

package scanner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gemscan-dev/gemscan/internal/testkeys"
	"github.com/gemscan-dev/gemscan/rules"
)

// hidden is a suppressed finding reduced to what the tests check.
func hidden(res *Result) []string {
	var out []string
	for _, s := range res.Suppressed.List {
		out = append(out, fmt.Sprintf("%s %s:%d %s by %s @%.7s", s.Reason, s.File, s.Line, s.Value, s.Source, s.Commit))
	}
	sort.Strings(out)
	return out
}

func expectHidden(t *testing.T, res *Result, want ...string) {
	t.Helper()
	got := hidden(res)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("suppressed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := res.Suppressed.Total(); n != int64(len(want)) {
		t.Errorf("%d suppressed counted, want %d", n, len(want))
	}
}

func TestSuppressedDir(t *testing.T) {
	k := testkeys.New(91).Set()
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.env", "KEY="+k.APIKey+" # gemscan:allow\nOTHER="+k.AQKey+"\n")
	// The marker on the paired secret's line allows the pair.
	write("b.env", "GEMINI_API_KEY="+k.ExchangeKey+"\nGEMINI_API_SECRET="+k.Secret+" # gemscan:allow\n")
	// .gemscanignore hides what it matches, but the walk still reads it
	// to list it; what .gitignore matches is skipped, not suppressed.
	if err := os.MkdirAll(filepath.Join(dir, "fixtures", "deep"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(IgnoreFile, "fixtures/\n*.bak\n")
	write(".gitignore", "*.bak\n")
	write("fixtures/deep/fake.env", "K="+k.AQOther+"\n\nJ="+k.APIKey+" # gemscan:allow\n")
	write("old.bak", "K="+k.APIKey+"\n")
	res := ScanPaths(context.Background(), []string{dir}, Options{})
	if len(res.Errors) > 0 {
		t.Fatal(res.Errors)
	}
	if len(res.Findings) != 1 || res.Findings[0].Value != k.AQKey {
		t.Fatalf("findings %+v, want the AQ. key alone", res.Findings)
	}
	pre := dir + "/"
	expectHidden(t, res,
		"allow-comment "+pre+"a.env:1 "+k.APIKey+" by "+pre+"a.env @",
		"allow-comment "+pre+"b.env:1 "+k.ExchangeKey+" by "+pre+"b.env @",
		"ignore-file "+pre+"fixtures/deep/fake.env:1 "+k.AQOther+" by "+IgnoreFile+" @",
		"ignore-file "+pre+"fixtures/deep/fake.env:3 "+k.APIKey+" by "+IgnoreFile+" @")
	if c := res.Suppressed.Count(ReasonAllow); c != 2 {
		t.Errorf("allow count %d, want 2", c)
	}
}

// A large file goes through the streaming reader: its allowed lines are kept
// too.
func TestSuppressedReader(t *testing.T) {
	k := testkeys.New(92).Set()
	data := strings.Repeat("filler line\n", 1000) + "K=" + k.APIKey + " // gemscan:allow\n"
	var fs, allowed []Finding
	_, err := scanChunks(context.Background(), rules.NewDetector(), strings.NewReader(data), "big.log", 4096, 512,
		func(buf []byte, baseLine int, ms []rules.Match) {
			f, a := newLocator(buf, baseLine).findings(ms, "big.log", "big.log")
			fs, allowed = append(fs, f...), append(allowed, a...)
		})
	if err != nil || len(fs) != 0 || len(allowed) != 1 || allowed[0].Line != 1001 || allowed[0].Value != k.APIKey {
		t.Fatalf("findings %v, allowed %+v, err %v", fs, allowed, err)
	}
}

func TestSuppressedGit(t *testing.T) {
	k := testkeys.New(93).Set()
	r := newRepo(t)
	r.write("fixture.go", "const k = \""+k.APIKey+"\" // gemscan:allow\n")
	r.write("fixtures/fake.env", "K="+k.AQKey+"\n")
	r.write(IgnoreFile, "fixtures/\n")
	r.write("kept_test.go", "const k = \""+k.AQOther+"\" // gemscan:allow\n")
	c1 := r.commit("fixtures")
	// The allow comment goes away: from this commit on it is a finding.
	r.write("fixture.go", "const k = \""+k.APIKey+"\"\n")
	c2 := r.commit("drop the marker")
	got, res := scanRepo(t, r.dir, GitOptions{})
	expectFindings(t, got, found{rule: "google-api-key", path: "fixture.go", commit: c2, inHead: true})
	expectHidden(t, res,
		fmt.Sprintf("allow-comment fixture.go:1 %s by fixture.go @%.7s", k.APIKey, c1),
		fmt.Sprintf("ignore-file fixtures/fake.env:1 %s by %s @%.7s", k.AQKey, IgnoreFile, c1),
		fmt.Sprintf("allow-comment kept_test.go:1 %s by kept_test.go @%.7s", k.AQOther, c1))
	for _, s := range res.Suppressed.List {
		if s.Author == "" || s.Date.IsZero() || !s.InHead {
			t.Errorf("suppressed %s is not attributed, or not seen in HEAD: %+v", s.File, s)
		}
	}
}

func TestSuppressedStaged(t *testing.T) {
	k := testkeys.New(94).Set()
	r := newRepo(t)
	r.write("old.env", "A="+k.APIKey+" # gemscan:allow\n")
	r.commit("old")
	r.write(IgnoreFile, "fixtures/\n")
	r.write("fixtures/fake.env", "K="+k.AQKey+"\n")
	// Only what the commit adds counts: the old allowed line is not shown.
	r.write("old.env", "A="+k.APIKey+" # gemscan:allow\nB="+k.Secret+"\nGEMINI_API_KEY="+k.ExchangeKey+" # gemscan:allow\n")
	r.git("add", "-A")
	res := ScanStaged(r.dir, StagedOptions{})
	if len(res.Errors) > 0 || len(res.Findings) != 0 {
		t.Fatalf("findings %+v, errors %v", res.Findings, res.Errors)
	}
	expectHidden(t, res,
		"allow-comment old.env:3 "+k.ExchangeKey+" by old.env @",
		"ignore-file fixtures/fake.env:1 "+k.AQKey+" by "+IgnoreFile+" @")
}

func TestBaselineApply(t *testing.T) {
	k := testkeys.New(95).Set()
	res := &Result{Findings: []Finding{
		{Rule: "google-api-key", File: "a", Path: "a", Line: 1, Value: k.APIKey},
		{Rule: "google-gemini-key", File: "b", Path: "b", Line: 2, Value: k.AQKey},
	}}
	Baseline{res.Findings[0].Fingerprint(): true}.Apply(res, "base.json")
	if len(res.Findings) != 1 || res.Findings[0].Value != k.AQKey {
		t.Fatalf("findings %+v", res.Findings)
	}
	expectHidden(t, res, "baseline a:1 "+k.APIKey+" by base.json @")
}

func TestSuppressionsBounded(t *testing.T) {
	var s Suppressions
	f := Finding{File: "log", Value: "x"}
	for i := 0; i < MaxListedSuppressed+5; i++ {
		s.Add(ReasonAllow, "", f)
	}
	s.Add(ReasonBaseline, "b.json", f, f)
	if len(s.List) != MaxListedSuppressed || s.Total() != MaxListedSuppressed+7 || s.Unlisted() != 7 ||
		s.Count(ReasonAllow) != MaxListedSuppressed+5 || s.Count(ReasonBaseline) != 2 || s.Count(ReasonIgnoreFile) != 0 {
		t.Fatalf("listed %d, total %d, unlisted %d, counts %v", len(s.List), s.Total(), s.Unlisted(), s.counts)
	}
	if s.List[0].Source != "log" {
		t.Errorf("an allow comment's source is the finding's own file, got %q", s.List[0].Source)
	}
}

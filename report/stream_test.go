package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/gemscan-dev/gemscan/internal/testkeys"
	"github.com/gemscan-dev/gemscan/rules"
	"github.com/gemscan-dev/gemscan/scanner"
)

// encodeWhole encodes v as one document the way the writers did before they
// streamed: the oracle for the streaming writers.
func encodeWhole(t *testing.T, v any) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestStreamedJSONIsTheDocument checks that the streamed JSON report is,
// byte for byte, json.Encoder's encoding of the whole JSONReport.
func TestStreamedJSONIsTheDocument(t *testing.T) {
	k := testkeys.New(5).Set()
	for name, r := range map[string]*Report{"hostile": hostile(k), "empty": {Mode: "dir", Target: ".", Result: &scanner.Result{}}} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, "json", r); err != nil {
				t.Fatal(err)
			}
			doc := JSONReport{Version: JSONVersion, Scan: jsonScan(r), Findings: []JSONFinding{}, Suppressed: []JSONSuppressed{}}
			for i := range r.Result.Findings {
				doc.Findings = append(doc.Findings, jsonFinding(&r.Result.Findings[i], r.NoRedact))
			}
			for _, s := range sortedSuppressed(&r.Result.Suppressed) {
				doc.Suppressed = append(doc.Suppressed, JSONSuppressed{Reason: string(s.Reason), Source: s.Source, JSONFinding: jsonFinding(&s.Finding, false)})
			}
			for _, err := range r.Result.Errors {
				doc.Errors = append(doc.Errors, err.Error())
			}
			if want := encodeWhole(t, doc); buf.String() != want {
				t.Fatalf("streamed:\n%s\nwhole:\n%s", buf.String(), want)
			}
			var back JSONReport
			if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestStreamedSARIFIsTheDocument does the same for SARIF.
func TestStreamedSARIFIsTheDocument(t *testing.T) {
	k := testkeys.New(5).Set()
	r := hostile(k)
	var buf bytes.Buffer
	if err := Write(&buf, "sarif", r); err != nil {
		t.Fatal(err)
	}
	run, keep, idx := sarifRunOf(r)
	if keep != nil {
		t.Fatal("a small report is capped")
	}
	run.Results = []sarifResult{}
	for i := range r.Result.Findings {
		f := &r.Result.Findings[i]
		run.Results = append(run.Results, sarifResultOf(r, f, idx[f.Rule]))
	}
	want := encodeWhole(t, sarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: []sarifRun{run}})
	if buf.String() != want {
		t.Fatalf("streamed:\n%s\nwhole:\n%s", buf.String(), want)
	}
}

// many makes n findings of one AIza key at distinct lines; every seventh
// one, from the end, verified live.
func many(n int) *Report {
	k := testkeys.New(8).Set()
	res := &scanner.Result{Findings: make([]scanner.Finding, n)}
	for i := range res.Findings {
		f := &res.Findings[i]
		*f = scanner.Finding{Rule: rules.GoogleAPI, File: "huge.log", Path: "huge.log", Line: i + 1, Column: 1, Value: k.APIKey}
		if (n-1-i)%7 == 0 {
			f.Verification = &scanner.Verification{Status: scanner.StatusLive, Detail: "lists models"}
		}
	}
	return &Report{Mode: "stdin", Target: "huge.log", Result: res, Version: "v1"}
}

// TestSARIFCapped: code scanning refuses more than 25,000 results in a run.
// The log keeps that many, live findings first, and says so both in the log
// and to the user.
func TestSARIFCapped(t *testing.T) {
	n := MaxSARIFResults + 1000
	r := many(n)
	var warned []string
	r.Warn = func(m string) { warned = append(warned, m) }
	var buf bytes.Buffer
	if err := Write(&buf, "sarif", r); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Runs []struct {
			Invocations []struct {
				ExecutionSuccessful        bool `json:"executionSuccessful"`
				ToolExecutionNotifications []struct {
					Level   string    `json:"level"`
					Message sarifText `json:"message"`
				} `json:"toolExecutionNotifications"`
			} `json:"invocations"`
			Results []struct {
				Level     string `json:"level"`
				Locations []struct {
					PhysicalLocation struct {
						Region struct {
							StartLine int `json:"startLine"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	run := doc.Runs[0]
	if len(run.Results) != MaxSARIFResults {
		t.Fatalf("%d results, want %d", len(run.Results), MaxSARIFResults)
	}
	live, last := 0, 0
	for _, res := range run.Results {
		if res.Level == "error" {
			live++
		}
		line := res.Locations[0].PhysicalLocation.Region.StartLine
		if line <= last {
			t.Fatalf("results out of order: line %d after %d", line, last)
		}
		last = line
	}
	if wantLive := (n + 6) / 7; live != wantLive {
		t.Errorf("%d live results kept, want all %d", live, wantLive)
	}
	inv := run.Invocations[0]
	if !inv.ExecutionSuccessful || len(inv.ToolExecutionNotifications) != 1 ||
		!strings.Contains(inv.ToolExecutionNotifications[0].Message.Text, fmt.Sprintf("%d findings", n)) {
		t.Errorf("invocation %+v", inv)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "--format json") {
		t.Errorf("warned %q", warned)
	}
	// A capped log is valid SARIF (checked on a small one: the validator
	// takes a minute over 25,000 results).
	small := many(130)
	small.sarifLimit = 100
	buf.Reset()
	if err := Write(&buf, "sarif", small); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "this SARIF log holds 100 of them") {
		t.Fatalf("the small log was not capped")
	}
	validateSARIF(t, buf.Bytes())

	// At the limit exactly, nothing is left out or said.
	r = many(MaxSARIFResults)
	r.Warn = func(m string) { t.Errorf("warned at the limit: %s", m) }
	if err := Write(io.Discard, "sarif", r); err != nil {
		t.Fatal(err)
	}
}

// TestSARIFErrors: an incomplete scan says so in its invocation.
func TestSARIFErrors(t *testing.T) {
	r := hostile(testkeys.New(5).Set())
	run, _, _ := sarifRunOf(r)
	inv := run.Invocations[0]
	if inv.ExecutionSuccessful || len(inv.ToolExecutionNotifications) != 1 || inv.ToolExecutionNotifications[0].Level != "error" {
		t.Errorf("invocation %+v", inv)
	}
}

// BenchmarkSARIF100k measures the writer on 100,000 findings: run with
// -benchmem; memory per op is what the writer allocates beyond the findings.
func BenchmarkSARIF100k(b *testing.B) {
	r := many(100000)
	var size int64
	for b.Loop() {
		cw := &countWriter{}
		if err := Write(cw, "sarif", r); err != nil {
			b.Fatal(err)
		}
		size = cw.n
	}
	b.ReportMetric(float64(size)/(1<<20), "MiB-out")
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// TestSummaryBounded: GitHub refuses a job summary over 1 MiB; a scan with
// a hundred thousand findings, suppressed findings and errors stays well
// under it and says what it left out.
func TestSummaryBounded(t *testing.T) {
	r := many(100000)
	for i := 0; i < 20000; i++ {
		r.Result.Suppressed.Add(scanner.ReasonAllow, "", r.Result.Findings[i])
		r.Result.Errors = append(r.Result.Errors, fmt.Errorf("object %040d: not found", i))
		r.Result.Stats.Notes = append(r.Result.Stats.Notes, "a note")
	}
	var buf bytes.Buffer
	if err := writeMarkdownSummary(&buf, r); err != nil {
		t.Fatal(err)
	}
	if buf.Len() > 256<<10 {
		t.Errorf("job summary of %d bytes", buf.Len())
	}
	for _, want := range []string{"and 99800 more", "and 19800 more: the JSON report", "and 19800 more errors", "and 19800 more notes"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("the summary does not say %q", want)
		}
	}
}

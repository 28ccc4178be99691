package scanner

import (
	"encoding/json"
	"fmt"
	"os"
)

// Baseline is a set of fingerprints of findings that are known and accepted
// (old leaks already revoked, say): findings listed in it are not reported.
type Baseline map[string]bool

// LoadBaseline reads the fingerprints of a JSON report written by gemscan.
func LoadBaseline(path string) (Baseline, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read baseline %s: %w", path, err)
	}
	var doc struct {
		Version  int `json:"version"`
		Findings []struct {
			Fingerprint string `json:"fingerprint"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("read baseline %s: not a gemscan JSON report: %w", path, err)
	}
	if doc.Version != 1 {
		return nil, fmt.Errorf("read baseline %s: not a gemscan JSON report (version %d)", path, doc.Version)
	}
	b := Baseline{}
	for _, f := range doc.Findings {
		if f.Fingerprint != "" {
			b[f.Fingerprint] = true
		}
	}
	return b, nil
}

// Apply moves the findings the baseline lists from res.Findings to
// res.Suppressed, naming source (the baseline file) as what hid them.
func (b Baseline) Apply(res *Result, source string) {
	kept := res.Findings[:0]
	for _, f := range res.Findings {
		if b[f.Fingerprint()] {
			res.Suppressed.Add(ReasonBaseline, source, f)
			continue
		}
		kept = append(kept, f)
	}
	clear(res.Findings[len(kept):])
	res.Findings = kept
}

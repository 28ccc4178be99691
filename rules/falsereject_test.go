package rules

import (
	"math/rand/v2"
	"sort"
	"testing"
)

// TestRandomBodyFalseRejections measures how often bodyCheck, with every
// check it makes, rejects random credential bodies of each shape the
// detector validates: a random key must essentially never be dropped, so the
// rate must stay below 1 in 100,000 per shape. It logs the rejections by
// reason, so a check that starts costing real keys shows by name.
func TestRandomBodyFalseRejections(t *testing.T) {
	if testing.Short() {
		t.Skip("measures 800,000 random bodies")
	}
	const (
		alnum   = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		urlSafe = alnum + "-_"
		draws   = 200_000
		maxRate = 1e-5
	)
	// Each shape is the body bodyCheck sees, with the minimum entropy its
	// caller in detect.go or pairing.go passes.
	shapes := []struct {
		name       string
		fixed      string // the body's constant start
		alphabet   string
		n          int // random characters after fixed
		minEntropy float64
	}{
		{"google api key (AIzaSy…)", "Sy", urlSafe, googleAPIBodyLen - 2, 3.5},
		{"google auth key (AQ.Ab8RN6…)", aqExpectedStart, urlSafe, aqExpectedBody - len(aqExpectedStart), 4.0},
		{"exchange key (account-/master-)", "", alnum, exchangeBodyLen, 3.0},
		{"exchange secret (28)", "", alnum, secretMaxLen, 3.5},
	}
	rng := rand.New(rand.NewPCG(2026, 11))
	for _, s := range shapes {
		body := make([]byte, len(s.fixed)+s.n)
		copy(body, s.fixed)
		reasons := map[string]int{}
		rejected := 0
		var sample []string
		for i := 0; i < draws; i++ {
			randomBody(rng, s.alphabet, body[len(s.fixed):])
			if why := bodyCheck(body, s.minEntropy); why != "" {
				rejected++
				reasons[why]++
				if len(sample) < 5 {
					sample = append(sample, string(body))
				}
			}
		}
		var names []string
		for r := range reasons {
			names = append(names, r)
		}
		sort.Strings(names)
		rate := float64(rejected) / draws
		t.Logf("%s: %d of %d random bodies rejected (%.1e)", s.name, rejected, draws, rate)
		for _, r := range names {
			t.Logf("  %s: %d", r, reasons[r])
		}
		if rate >= maxRate {
			t.Errorf("%s: bodyCheck rejects %.1e of random bodies, want below %.0e; e.g. %q", s.name, rate, maxRate, sample)
		}
	}
}

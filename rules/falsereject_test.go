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

// TestPlaceholderText pins the documentation placeholders the template-word
// rule must reject, each of which passes every other check, so that each
// case fails if the word rule stops catching it.
func TestPlaceholderText(t *testing.T) {
	for _, c := range []struct {
		body       string // as bodyCheck sees it, after AIza, AQ., account- …
		minEntropy float64
	}{
		{"SyYOUR_API_KEY_HERE_Q7mZ2kP9wX4vB8n", 3.5},                // AIzaSyYOUR_API_KEY_HERE…
		{"SyDummyKeyForTestingPurposes1234Abc", 3.5},                // two short words
		{"SyB_test_9Qm2Zk7PwLxR4vB8nJ3tR6yL1c", 3.5},                // a word as a token of its own
		{"Ab8RN6your-key-goes-here-Q7mZ2kP9wX4vB8nJ3tR6yL1cF", 4.0}, // AQ.Ab8RN6your-key-goes-here…
		{"Ab8RN6-mock-Q7mZ2kP9wX4vB8nJ3tR6yL1cFh5Gd8Ks2Wq9Ze", 4.0},
		{"ExampleKey7Qm2Zk9Pwx", 3.0}, // master-ExampleKey…
		{"YourKeyHere7Qm2Zk9Pw", 3.0},
		{"YOURAPIKEYGOESHERE42", 3.0},
		{"YourFakeValue9Qm2Zk7PwLxR4vB", 3.5}, // a secret
		{"FakeSecret9Qm2Zk7PwLxR4vB8nJ", 3.5},
	} {
		if why := bodyCheck([]byte(c.body), c.minEntropy); why != "placeholder text" {
			t.Errorf("bodyCheck(%q) = %q, want placeholder text", c.body, why)
		}
	}
}

// TestWordInRandomBody puts one short template word, in the cases it turns
// up in, at a random place in random bodies of every shape: the bodies must
// pass. Before the word rule was narrowed, every one was rejected. Now they
// are rejected only where the word happens to sit between - or _ separators
// or the body's end (two separators: (2/64)², for the URL-safe shapes),
// beside a second template word, or, for xxxx, beside another x (five in a
// row are repeated characters): well under one in a hundred.
func TestWordInRandomBody(t *testing.T) {
	const (
		alnum   = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		urlSafe = alnum + "-_"
		draws   = 2_000
		maxRate = 1e-2
	)
	words := []string{"Test", "Here", "Your", "Fake", "Mock", "Dummy", "TEST", "here", "hERe", "YoUr", "xxxx", "XXXX"}
	shapes := []struct {
		name       string
		fixed      string
		alphabet   string
		n          int
		minEntropy float64
	}{
		{"google api key", "Sy", urlSafe, googleAPIBodyLen - 2, 3.5},
		{"google auth key", aqExpectedStart, urlSafe, aqExpectedBody - len(aqExpectedStart), 4.0},
		{"exchange key", "", alnum, exchangeBodyLen, 3.0},
		{"exchange secret", "", alnum, secretMaxLen, 3.5},
	}
	rng := rand.New(rand.NewPCG(2026, 13))
	for _, s := range shapes {
		rejected := 0
		var sample []string
		body := make([]byte, len(s.fixed)+s.n)
		copy(body, s.fixed)
		for _, w := range words {
			for i := 0; i < draws; i++ {
				randomBody(rng, s.alphabet, body[len(s.fixed):])
				at := len(s.fixed) + rng.IntN(s.n-len(w)+1)
				copy(body[at:], w)
				if why := bodyCheck(body, s.minEntropy); why != "" {
					rejected++
					if len(sample) < 3 {
						sample = append(sample, string(body)+": "+why)
					}
				}
			}
		}
		n := draws * len(words)
		rate := float64(rejected) / float64(n)
		t.Logf("%s: %d of %d random bodies holding a template word rejected (%.1e) %q", s.name, rejected, n, rate, sample)
		if rate >= maxRate {
			t.Errorf("%s: %.1e of random bodies holding one template word rejected, want below %.0e", s.name, rate, maxRate)
		}
	}
}

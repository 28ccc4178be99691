package testkeys

import (
	"strings"
	"testing"

	"github.com/gemscan-dev/gemscan/rules"
)

// TestWordKeys checks that the word-holding keys hold one of Words and are
// reported, value for value, by the rule of their shape.
func TestWordKeys(t *testing.T) {
	det := rules.NewDetector()
	for seed := uint64(1); seed <= 20; seed++ {
		s := New(seed).Set()
		for _, c := range []struct {
			rule, prefix, value string
		}{
			{rules.ExchangeKey, "", s.ExchangeKeyWord},
			{rules.ExchangeSecret, "GEMINI_API_SECRET=", s.SecretWord},
			{rules.GoogleGemini, "", s.AQKeyWord},
			{rules.GoogleAPI, "", s.APIKeyWord},
		} {
			held := false
			for _, w := range Words {
				held = held || strings.Contains(c.value, w)
			}
			if !held {
				t.Errorf("seed %d: %s %q holds none of %q", seed, c.rule, c.value, Words)
			}
			ms := det.Detect([]byte(c.prefix + c.value))
			if len(ms) != 1 || ms[0].Rule != c.rule || ms[0].Value != c.value {
				t.Errorf("seed %d: %s %q reported as %+v", seed, c.rule, c.value, ms)
			}
		}
	}
}

package rules_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/gemscan-dev/gemscan/internal/testkeys"
	"github.com/gemscan-dev/gemscan/rules"
)

// workShapes build inputs of n repeated records, most of them on one long
// line, where a careless pairing would compare every key with every
// candidate or rescan the line once per key.
func workShapes(gen *testkeys.Generator) map[string]func(n int) string {
	g := newPool(gen)
	rep := func(n int, sep string, rec func() string) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteString(rec())
			b.WriteString(sep)
		}
		return b.String()
	}
	return map[string]func(n int) string{
		"keys on one line": func(n int) string {
			return rep(n, ",", func() string { return `"` + g.ExchangeKey("account-") + `"` })
		},
		"keys and secrets on one line": func(n int) string {
			return rep(n, ",", func() string { return `{"k":"` + g.ExchangeKey("account-") + `","s":"` + g.Secret(28) + `"}` })
		},
		"named pairs on one line": func(n int) string {
			return rep(n, ",", func() string {
				return `{"gemini_key":"` + g.ExchangeKey("account-") + `","gemini_secret":"` + g.Secret(28) + `"}`
			})
		},
		"keys before one long token run": func(n int) string {
			return rep(n, " ", func() string { return g.ExchangeKey("master-") }) + strings.Repeat("Ab3", 40*n)
		},
		"escaped keys on one line": func(n int) string {
			return rep(n, ",", func() string { return `"account\u002d` + g.ExchangeKey("account-")[8:] + `"` })
		},
		"base64 keys on one line": func(n int) string {
			return rep(n, ",", func() string { return base64.StdEncoding.EncodeToString([]byte(g.ExchangeKey("account-"))) })
		},
		"name and value on one line": func(n int) string {
			return rep(n, ",", func() string {
				return `{"name":"GEMINI_API_KEY","value":"` + g.ExchangeKey("account-") +
					`"},{"name":"GEMINI_API_SECRET","value":"` + g.Secret(28) + `"}`
			})
		},
		"env list": func(n int) string {
			return rep(n, "\n", func() string {
				return "- name: GEMINI_API_KEY\n  value: " + g.ExchangeKey("account-") +
					"\n- name: GEMINI_API_SECRET\n  value: " + g.Secret(28)
			})
		},
		"hmac calls": func(n int) string {
			return rep(n, ";", func() string {
				return `h=crypto.createHmac('sha384','` + g.Secret(28) + `');k="` + g.ExchangeKey("account-") + `"`
			})
		},
		"generic values after a long line": func(n int) string {
			return strings.Repeat("- name: GEMINI_API_SECRET # ", 20) + "\n" + rep(n, ",", func() string {
				return g.ExchangeKey("account-") + ` "value": "` + g.Secret(28) + `"`
			})
		},
		"unlabelled values on one line": func(n int) string {
			return rep(n, ",", func() string { return g.ExchangeKey("account-") + ",'" + g.Secret(28) + "'" })
		},
		"secrets under many names": func(n int) string {
			return rep(n, " ", func() string { return "value: " + g.Secret(28) + " gemini secret " + g.Secret(27) })
		},
	}
}

// poolSize is the number of distinct values of each kind in a pool; decoded
// matches are reported once per value.
const poolSize = 61

// pool hands out values from a fixed set of generated ones in turn:
// generating thousands of values costs more than the detection measured.
type pool struct {
	keys, masters, secrets, secrets27 []string
	i                                 int
}

func newPool(g *testkeys.Generator) *pool {
	p := &pool{}
	for i := 0; i < poolSize; i++ {
		p.keys = append(p.keys, g.ExchangeKey("account-"))
		p.masters = append(p.masters, g.ExchangeKey("master-"))
		p.secrets = append(p.secrets, g.Secret(28))
		p.secrets27 = append(p.secrets27, g.Secret(27))
	}
	return p
}

func (p *pool) next(vs []string) string {
	p.i++
	return vs[p.i%len(vs)]
}

func (p *pool) ExchangeKey(prefix string) string {
	if prefix == "master-" {
		return p.next(p.masters)
	}
	return p.next(p.keys)
}

func (p *pool) Secret(n int) string {
	if n == 27 {
		return p.next(p.secrets27)
	}
	return p.next(p.secrets)
}

// TestDetectWorkIsLinear bounds the work detection does beyond the
// prefilter, counted (not timed): the bytes it examines and the pairs it
// scores must grow in proportion to the input, so 16 times the records may
// cost no more than 16 times the work (with a little slack for the edges),
// and no shape may cost more than a few passes over its input.
func TestDetectWorkIsLinear(t *testing.T) {
	const (
		small, large = 500, 8000
		// A key takes 28 bytes at least and scores at most 16 candidates.
		bytesPerByte = 16.0 // bytes examined per input byte (10 at most today)
		pairsPerByte = 0.6  // pairs scored per input byte
	)
	det := rules.NewDetector()
	for name, build := range workShapes(testkeys.New(21)) {
		t.Run(name, func(t *testing.T) {
			type cost struct{ n, bytes, pairs, matches int }
			measure := func(n int) cost {
				data := []byte(build(n))
				ms, b, p := rules.DetectWork(det, data)
				return cost{len(data), b, p, len(ms)}
			}
			s, l := measure(small), measure(large)
			t.Logf("%d bytes: %d examined, %d pairs, %d matches; %d bytes: %d examined (%.1f a byte), %d pairs, %d matches",
				s.n, s.bytes, s.pairs, s.matches, l.n, l.bytes, float64(l.bytes)/float64(l.n), l.pairs, l.matches)
			if l.matches < poolSize {
				t.Errorf("%d matches in %d records: the shape does not exercise detection", l.matches, large)
			}
			grow := float64(l.n) / float64(s.n)
			for _, c := range []struct {
				what        string
				small, big  int
				perByte     float64
				perByteName string
			}{
				{"bytes examined", s.bytes, l.bytes, bytesPerByte, "per input byte"},
				{"pairs scored", s.pairs, l.pairs, pairsPerByte, "per input byte"},
			} {
				if ratio := float64(c.big) / float64(max(1, c.small)); ratio > grow*1.1 {
					t.Errorf("%s grew %.1f times for %.1f times the input: not linear", c.what, ratio, grow)
				}
				if per := float64(c.big) / float64(l.n); per > c.perByte {
					t.Errorf("%s: %s %.2f, want at most %.2f", c.what, c.perByteName, per, c.perByte)
				}
			}
		})
	}
}

// TestWorkCounterSeesQuadraticPairing checks that the counter would catch a
// pairing that scores every candidate: on one line of n keys and secrets the
// pairs scored stay a small multiple of n, far below n².
func TestWorkCounterSeesQuadraticPairing(t *testing.T) {
	g := testkeys.New(4)
	var b strings.Builder
	const n = 2000
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%s %s ", g.ExchangeKey("account-"), g.Secret(28))
	}
	_, _, pairs := rules.DetectWork(rules.NewDetector(), []byte(b.String()))
	if pairs == 0 || pairs > 16*n {
		t.Errorf("%d pairs scored for %d keys and %d candidates, want between 1 and %d", pairs, n, n, 16*n)
	}
}

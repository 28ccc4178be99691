package rules_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"text/template"

	"github.com/gemscan-dev/gemscan/internal/testkeys"
	"github.com/gemscan-dev/gemscan/rules"
)

// exampleFuncs are the encoders an Example's template may use.
var exampleFuncs = template.FuncMap{
	"b64":    func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
	"b64url": func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) },
	"jsesc": func(s string) string {
		return strings.NewReplacer("-", `\u002d`, ".", `\u002e`, "_", `\u005f`).Replace(s)
	},
	// jsbody escapes, as \u00XX, the characters of a key's body after
	// its first n bytes: every - and _, and the middle character, so
	// there is always at least one escape inside the body.
	"jsbody": func(n int, s string) string {
		var b strings.Builder
		b.WriteString(s[:n])
		mid := n + (len(s)-n)/2
		for i := n; i < len(s); i++ {
			if c := s[i]; c == '-' || c == '_' || i == mid {
				fmt.Fprintf(&b, `\u%04x`, c)
			} else {
				b.WriteByte(c)
			}
		}
		return b.String()
	},
	"pct": func(s string) string {
		var b strings.Builder
		for _, c := range []byte(s) {
			if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
				b.WriteByte(c)
			} else {
				fmt.Fprintf(&b, "%%%02X", c)
			}
		}
		return b.String()
	},
	"query": url.QueryEscape,
}

func expand(t *testing.T, text string, keys testkeys.Set) string {
	t.Helper()
	tmpl, err := template.New("example").Funcs(exampleFuncs).Parse(text)
	if err != nil {
		t.Fatalf("parse example: %v", err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, keys); err != nil {
		t.Fatalf("expand example: %v", err)
	}
	return b.String()
}

func field(keys testkeys.Set, name string) string {
	switch name {
	case "ExchangeKey":
		return keys.ExchangeKey
	case "MasterKey":
		return keys.MasterKey
	case "Secret":
		return keys.Secret
	case "Secret2":
		return keys.Secret2
	case "AQKey":
		return keys.AQKey
	case "AQOther":
		return keys.AQOther
	case "APIKey":
		return keys.APIKey
	case "Decoy":
		return keys.Decoy
	case "ExchangeKeyWord":
		return keys.ExchangeKeyWord
	case "SecretWord":
		return keys.SecretWord
	case "AQKeyWord":
		return keys.AQKeyWord
	case "APIKeyWord":
		return keys.APIKeyWord
	}
	panic("unknown example field " + name)
}

var defaultWant = map[string]string{
	rules.ExchangeKey:    "ExchangeKey",
	rules.ExchangeSecret: "Secret",
	rules.GoogleGemini:   "AQKey",
	rules.GoogleAPI:      "APIKey",
}

func lineOf(text string, off int) int { return strings.Count(text[:off], "\n") + 1 }

// TestExamples runs every example of every rule, with several generated key
// sets so that no example passes by the luck of one draw.
func TestExamples(t *testing.T) {
	det := rules.NewDetector()
	for seed := uint64(1); seed <= 5; seed++ {
		keys := testkeys.New(seed).Set()
		for _, r := range rules.All() {
			if len(r.Examples) == 0 {
				t.Errorf("rule %s has no examples", r.ID)
			}
			for _, ex := range r.Examples {
				t.Run(fmt.Sprintf("%s/%s/%d", r.ID, ex.Name, seed), func(t *testing.T) {
					text := expand(t, ex.Text, keys)
					ms := det.Detect([]byte(text))
					if !ex.Positive {
						for _, m := range ms {
							if m.Rule == r.ID {
								t.Errorf("reported %s %q in false-positive example:\n%s", m.Rule, m.Value, text)
							}
						}
						return
					}
					wantName := ex.Want
					if wantName == "" {
						wantName = defaultWant[r.ID]
					}
					want := field(keys, wantName)
					var got *rules.Match
					for i := range ms {
						if ms[i].Rule == r.ID && ms[i].Value == want {
							got = &ms[i]
						}
					}
					if got == nil {
						t.Fatalf("did not report %s %q in:\n%s\ngot %+v", r.ID, want, text, ms)
					}
					if ex.Line > 0 {
						if l := lineOf(text, got.Start); l != ex.Line {
							t.Errorf("reported on line %d, want %d", l, ex.Line)
						}
					}
					switch ex.Secret {
					case "":
					case "-":
						if len(got.Secrets) > 0 {
							t.Errorf("paired with %q, want no secret", got.Secrets[0].Value)
						}
					default:
						ws := field(keys, ex.Secret)
						if len(got.Secrets) == 0 || got.Secrets[0].Value != ws {
							t.Errorf("secrets %+v, want first %q", got.Secrets, ws)
						}
					}
					if ex.NotPaired != "" {
						bad := field(keys, ex.NotPaired)
						for _, s := range got.Secrets {
							if s.Value == bad {
								t.Errorf("paired with %s %q: %+v", ex.NotPaired, bad, got.Secrets)
							}
						}
					}
					if got.Start < 0 || got.End > len(text) || got.Start >= got.End {
						t.Errorf("bad span %d..%d", got.Start, got.End)
					}
				})
			}
		}
	}
}

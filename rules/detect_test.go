package rules_test

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/gemscan-dev/gemscan/internal/testkeys"
	"github.com/gemscan-dev/gemscan/rules"
)

// checkInvariants fails when a match is out of bounds or a plain-text match
// does not hold its value at its position.
func checkInvariants(t *testing.T, data []byte, ms []rules.Match) {
	t.Helper()
	for _, m := range ms {
		if m.Start < 0 || m.End > len(data) || m.Start >= m.End {
			t.Fatalf("match %s out of bounds: %d..%d of %d", m.Rule, m.Start, m.End, len(data))
		}
		if m.Encoding == "" && string(data[m.Start:m.End]) != m.Value {
			t.Fatalf("plain match %s: span holds %q, value %q", m.Rule, data[m.Start:m.End], m.Value)
		}
		if len(m.Secrets) > 2 {
			t.Fatalf("%d secrets, want at most 2", len(m.Secrets))
		}
	}
}

func FuzzDetect(f *testing.F) {
	k := testkeys.New(7).Set()
	f.Add([]byte("GEMINI_API_KEY=" + k.ExchangeKey + "\nGEMINI_API_SECRET=" + k.Secret + "\n"))
	f.Add([]byte(base64.StdEncoding.EncodeToString([]byte(k.AQKey + "\n" + k.APIKey))))
	f.Add([]byte(`{"k":"account\u002d` + k.ExchangeKey[8:] + `"}`))
	f.Add([]byte("AIza%2D%5F" + strings.Repeat("%41", 40)))
	f.Add([]byte("gemini:\n secret: " + k.Secret + "\n"))
	f.Add([]byte("- name: GEMINI_API_KEY\n  value: " + k.ExchangeKey + "\n- name: GEMINI_API_SECRET\n  value: " + k.Secret + "\n"))
	f.Add([]byte("variable \"gemini_api_secret\" {\n  default = \"" + k.Secret + "\"\n}\nkey = \"" + k.MasterKey + "\"\n"))
	f.Add([]byte("sig=$(openssl dgst -sha384 -hmac \"" + k.Secret + "\")\n-H 'X-GEMINI-APIKEY: " + k.ExchangeKey + "'\n"))
	f.Add([]byte(`{"k":"` + k.AQKey[:20] + `\u002d` + k.AQKey[21:] + `"}`))
	f.Add([]byte("GEMINI_API_KEY=" + k.ExchangeKey + "\nSESSION_SECRET=" + k.Secret + "\n"))
	det := rules.NewDetector()
	f.Fuzz(func(t *testing.T, data []byte) {
		checkInvariants(t, data, det.Detect(data))
	})
}

// hostile inputs are shaped to make a careless matcher backtrack or pair
// every key with every candidate.
func hostileInputs() map[string][]byte {
	k := testkeys.New(3).Set()
	return map[string][]byte{
		"keys and secrets":   bytes.Repeat([]byte(k.ExchangeKey+" "+k.Secret+" "), 20000),
		"one long line":      bytes.Repeat([]byte("account-"), 100000),
		"prefix storm":       bytes.Repeat([]byte("AQ.AIzaaccount-master-"), 40000),
		"base64 wall":        []byte(strings.Repeat(base64.StdEncoding.EncodeToString([]byte("account-"+strings.Repeat("a", 600))), 200)),
		"escapes":            bytes.Repeat([]byte(`account\u002d\u002d\u002d%2D%2D`), 30000),
		"gemini secret spam": bytes.Repeat([]byte("gemini secret "+k.Secret+" "), 20000),
	}
}

// TestHostileInputs checks the matches on each hostile input, and that
// detection's counted work stays within a few passes over it (see
// TestDetectWorkIsLinear for how the work grows with the input).
func TestHostileInputs(t *testing.T) {
	det := rules.NewDetector()
	for name, data := range hostileInputs() {
		t.Run(name, func(t *testing.T) {
			ms, examined, pairs := rules.DetectWork(det, data)
			checkInvariants(t, data, ms)
			if examined > 16*len(data) || pairs > len(data) {
				t.Errorf("%d bytes examined and %d pairs scored for %d bytes of input", examined, pairs, len(data))
			}
		})
	}
}

func TestKeysAndSecretsPairOneToOne(t *testing.T) {
	g := testkeys.New(11)
	var text strings.Builder
	var keys, secrets []string
	for i := 0; i < 4; i++ {
		keys = append(keys, g.ExchangeKey("account-"))
		secrets = append(secrets, g.Secret(28))
		text.WriteString("key" + string(rune('0'+i)) + "=" + keys[i] + "\nsecret" + string(rune('0'+i)) + "=" + secrets[i] + "\n")
	}
	ms := rules.NewDetector().Detect([]byte(text.String()))
	if len(ms) != 4 {
		t.Fatalf("got %d matches, want 4: %+v", len(ms), ms)
	}
	for i, m := range ms {
		if m.Value != keys[i] || len(m.Secrets) == 0 || m.Secrets[0].Value != secrets[i] {
			t.Errorf("key %d: got %s with %+v, want secret %s", i, m.Value, m.Secrets, secrets[i])
		}
	}
}

func TestDecodedMatchPointsAtEncodedText(t *testing.T) {
	k := testkeys.New(5).Set()
	enc := base64.StdEncoding.EncodeToString([]byte(k.APIKey))
	text := "a: 1\nb: " + enc + "\n"
	ms := rules.NewDetector().Detect([]byte(text))
	if len(ms) != 1 {
		t.Fatalf("got %+v", ms)
	}
	m := ms[0]
	if text[m.Start:m.End] != enc || m.Encoding != rules.EncBase64 || m.Value != k.APIKey {
		t.Errorf("got span %q encoding %q value %q", text[m.Start:m.End], m.Encoding, m.Value)
	}
}

func TestAQConfidence(t *testing.T) {
	k := testkeys.New(9).Set()
	det := rules.NewDetector()
	if ms := det.Detect([]byte(k.AQKey)); len(ms) != 1 || ms[0].Confidence != rules.High {
		t.Errorf("usual shape: %+v", ms)
	}
	if ms := det.Detect([]byte(k.AQOther)); len(ms) != 1 || ms[0].Confidence != rules.Medium {
		t.Errorf("other shape: %+v", ms)
	}
}

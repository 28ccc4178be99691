package rules

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSequenceFalseRejections measures how often the sequence check
// (sequential, which bodyCheck applies to every key and secret) rejects
// random credential bodies of every shape: it must stay below 1 in 100,000.
// A run one shorter than seqMinLen would reject more than that, which the
// test also measures, so seqMinLen is the shortest length that keeps the bar.
func TestSequenceFalseRejections(t *testing.T) {
	const (
		alnum   = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		urlSafe = alnum + "-_"
		draws   = 200_000
		maxRate = 1e-5
	)
	shapes := []struct {
		name     string
		alphabet string
		n        int
	}{
		{"exchange key", alnum, exchangeBodyLen},
		{"exchange secret", alnum, secretMaxLen},
		{"google api key", urlSafe, googleAPIBodyLen},
		{"google auth key", urlSafe, aqExpectedBody},
	}
	rng := rand.New(rand.NewPCG(2026, 12))
	shorter := 0 // bodies a run of seqMinLen-1 would have rejected
	total := 0
	for _, s := range shapes {
		rejected := 0
		body := make([]byte, s.n)
		for i := 0; i < draws; i++ {
			randomBody(rng, s.alphabet, body)
			if sequential(body) {
				rejected++
			}
			if l, _ := sequences(body); l >= seqMinLen-1 {
				shorter++
			}
		}
		total += draws
		rate := float64(rejected) / draws
		t.Logf("%s: %d of %d random bodies rejected as sequential (%.1e)", s.name, rejected, draws, rate)
		if rate >= maxRate {
			t.Errorf("%s: sequence check rejects %.1e of random bodies, want below %.0e", s.name, rate, maxRate)
		}
	}
	if rate := float64(shorter) / float64(total); rate < maxRate {
		t.Errorf("a run of %d would reject only %.1e of random bodies: seqMinLen could be shorter", seqMinLen-1, rate)
	} else {
		t.Logf("a run of %d would reject %.1e of random bodies", seqMinLen-1, rate)
	}
}

// randomBody fills body with characters drawn uniformly from alphabet (at
// most 64 characters), six random bits at a time.
func randomBody(rng *rand.Rand, alphabet string, body []byte) {
	var bits uint64
	left := 0
	for j := 0; j < len(body); {
		if left == 0 {
			bits, left = rng.Uint64(), 10
		}
		c := int(bits & 63)
		bits >>= 6
		left--
		if c < len(alphabet) {
			body[j] = alphabet[c]
			j++
		}
	}
}

func TestSequences(t *testing.T) {
	for _, c := range []struct {
		body           string
		longest, steps int
		rejected       bool
	}{
		{"aBcDeFgHiJkLmNoPqRsT", 20, 19, true},
		{"ZyXwVuTsRqPoNmLkJiHg", 20, 19, true},
		{"Q7x0123456Lm9Rt2Wv8K", 7, 8, true},
		{"Q7xabcdeLm9Rt2Wv8K4P", 5, 6, false},
		{"a1b2c3d4e5f6g7h8i9j0", 1, 0, false},
		{"abc123def456ghi789jk", 3, 13, true},
		{"abab", 2, 3, true},
		{"", 0, 0, false},
		{"9aZ0", 1, 0, false},
	} {
		l, s := sequences([]byte(c.body))
		if l != c.longest || s != c.steps {
			t.Errorf("sequences(%q) = %d, %d; want %d, %d", c.body, l, s, c.longest, c.steps)
		}
		if got := sequential([]byte(c.body)); got != c.rejected {
			t.Errorf("%q rejected = %v, want %v", c.body, got, c.rejected)
		}
	}
}

// TestCLog2cTable checks every constant of entropy's table.
func TestCLog2cTable(t *testing.T) {
	for c, got := range cLog2c {
		want := 0.0
		if c > 0 {
			want = float64(c) * math.Log2(float64(c))
		}
		if math.Abs(got-want) > 1e-12 {
			t.Errorf("cLog2c[%d] = %v, want %v", c, got, want)
		}
	}
}

// TestEntropyMatchesDefinition compares entropy with -Σ p·log2 p on bodies
// of every length up to well past the table's counts.
func TestEntropyMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for n := 0; n < 300; n++ {
		for _, alphabet := range []int{1, 2, 16, 64} {
			s := make([]byte, n)
			for i := range s {
				s[i] = byte('0' + r.IntN(alphabet))
			}
			var counts [256]int
			for _, c := range s {
				counts[c]++
			}
			want := 0.0
			for _, c := range counts {
				if c > 0 {
					p := float64(c) / float64(n)
					want -= p * math.Log2(p)
				}
			}
			if got := Entropy(s); math.Abs(got-want) > 1e-9 {
				t.Fatalf("Entropy(%q) = %v, want %v", s, got, want)
			}
		}
	}
}

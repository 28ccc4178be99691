// Package testkeys generates credential-shaped values at test time, so that
// no real-looking key is ever stored in the source tree. Every value it
// returns is one that the rules package reports.
package testkeys

import (
	"fmt"
	"math/rand/v2"

	"github.com/gemscan-dev/gemscan/rules"
)

const (
	alnum   = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	urlSafe = alnum + "-_"
)

// Set is one generated value of every shape the rules know.
type Set struct {
	ExchangeKey string // account-…
	MasterKey   string // master-…
	Secret      string // 28-character exchange secret
	Secret2     string // 27-character exchange secret
	Decoy       string // 28 random characters that are not a secret
	AQKey       string // AQ.Ab8RN6… (53 characters)
	AQOther     string // AQ. key of a less usual shape
	APIKey      string // AIza… (39 characters)

	// Keys whose random bodies hold one short word of template text
	// (Test, Here, Your, Fake, Mock, …, see Words) at a random place, as
	// about one random key in 5,000 does: they must still be reported.
	ExchangeKeyWord string
	SecretWord      string // 28 characters
	AQKeyWord       string
	APIKeyWord      string
}

// Words are short words of template text that random key bodies hold by
// chance, in the cases they turn up in.
var Words = []string{"Test", "Here", "Your", "Fake", "Mock", "Dummy", "TEST", "here", "hERe", "YoUr", "xxxx", "XXXX"}

// maxDraws bounds valid's redraws: a shape the rules reject every time is a
// bug to report, not a loop to hang in.
const maxDraws = 10_000

// Generator makes values from a seeded source, so a test's values are the
// same on every run.
type Generator struct {
	rng *rand.Rand
	det *rules.Detector
}

// New returns a Generator seeded with seed.
func New(seed uint64) *Generator {
	return &Generator{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), det: rules.NewDetector()}
}

func (g *Generator) body(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.rng.IntN(len(alphabet))]
	}
	return string(b)
}

// valid draws values from make until the rules report exactly that value
// with the given rule (a secret is judged after a GEMINI_API_SECRET= name).
func (g *Generator) valid(rule string, make func() string) string {
	prefix := ""
	if rule == rules.ExchangeSecret {
		prefix = "GEMINI_API_SECRET="
	}
	var v string
	for range maxDraws {
		v = make()
		ms := g.det.Detect([]byte(prefix + v))
		if len(ms) == 1 && ms[0].Rule == rule && ms[0].Value == v {
			return v
		}
	}
	panic(fmt.Sprintf("testkeys: the rules rejected %d draws of %s, the last %q", maxDraws, rule, v))
}

// withWord returns body with word written over it at a random place at or
// after from.
func (g *Generator) withWord(body string, from int, word string) string {
	i := from + g.rng.IntN(len(body)-from-len(word)+1)
	return body[:i] + word + body[i+len(word):]
}

// ExchangeKeyWith returns an exchange key with the given prefix whose body
// holds word.
func (g *Generator) ExchangeKeyWith(prefix, word string) string {
	return g.valid(rules.ExchangeKey, func() string { return prefix + g.withWord(g.body(alnum, 20), 0, word) })
}

// SecretWith returns an exchange API secret of n characters that holds word.
func (g *Generator) SecretWith(n int, word string) string {
	return g.valid(rules.ExchangeSecret, func() string { return g.withWord(g.body(alnum, n), 0, word) })
}

// AQKeyWith returns a Google auth key of the usual shape whose random part
// holds word.
func (g *Generator) AQKeyWith(word string) string {
	return g.valid(rules.GoogleGemini, func() string { return g.withWord("AQ.Ab8RN6"+g.body(urlSafe, 44), 9, word) })
}

// APIKeyWith returns a standard Google API key whose random part holds word.
func (g *Generator) APIKeyWith(word string) string {
	return g.valid(rules.GoogleAPI, func() string { return g.withWord("AIzaSy"+g.body(urlSafe, 33), 6, word) })
}

func (g *Generator) word() string { return Words[g.rng.IntN(len(Words))] }

// ExchangeKey returns an exchange key with the given prefix ("account-" or
// "master-").
func (g *Generator) ExchangeKey(prefix string) string {
	return g.valid(rules.ExchangeKey, func() string { return prefix + g.body(alnum, 20) })
}

// Secret returns an exchange API secret of n (27 or 28) characters.
func (g *Generator) Secret(n int) string {
	return g.valid(rules.ExchangeSecret, func() string { return g.body(alnum, n) })
}

// AQKey returns a Google auth key of the usual shape.
func (g *Generator) AQKey() string {
	return g.valid(rules.GoogleGemini, func() string { return "AQ.Ab8RN6" + g.body(urlSafe, 44) })
}

// APIKey returns a standard Google API key.
func (g *Generator) APIKey() string {
	return g.valid(rules.GoogleAPI, func() string { return "AIzaSy" + g.body(urlSafe, 33) })
}

// Set returns one value of every shape.
func (g *Generator) Set() Set {
	s := Set{
		ExchangeKey: g.ExchangeKey("account-"),
		MasterKey:   g.ExchangeKey("master-"),
		Secret:      g.Secret(28),
		Secret2:     g.Secret(27),
		Decoy:       g.body(alnum, 28),
		AQKey:       g.AQKey(),
		AQOther:     g.valid(rules.GoogleGemini, func() string { return "AQ." + g.body(urlSafe, 46) }),
		APIKey:      g.APIKey(),
	}
	// Drawn last, so the other fields keep the values they had before
	// these were added.
	s.ExchangeKeyWord = g.ExchangeKeyWith("account-", g.word())
	s.SecretWord = g.SecretWith(28, g.word())
	s.AQKeyWord = g.AQKeyWith(g.word())
	s.APIKeyWord = g.APIKeyWith(g.word())
	return s
}

package verify

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gemscan-dev/gemscan/rules"
	"github.com/gemscan-dev/gemscan/scanner"
)

// Config configures a Verifier. The zero value verifies against the real
// providers at one request per second per host.
type Config struct {
	// GeminiURL and GoogleURL are the providers' base URLs (defaults:
	// DefaultGeminiURL, DefaultGoogleURL). Only the official hosts over
	// https are accepted, or a loopback IP address for test servers; callers
	// take them from the command line, never from the environment.
	GeminiURL, GoogleURL string
	// RatePerSecond is the most requests per second sent to one host;
	// 0 means 1, and more than MaxRate is refused.
	RatePerSecond float64
	// MaxInFlight bounds the checks under way at once; 0 means 4.
	MaxInFlight int
	// Timeout bounds each request, connection included; 0 or more than
	// 8s means 8s.
	Timeout time.Duration
	// UserAgent identifies gemscan to the providers.
	UserAgent string
	// Now is the clock used for nonces; nil means time.Now.
	Now func() time.Time
}

// Verifier checks credentials with their providers. Each key+secret pair
// (each Google key) is sent at most once per Verifier, however often and
// with whatever other candidate secrets it is asked about, and the requests
// for one key are never under way at once.
type Verifier struct {
	gemini, google *url.URL
	client         *safeClient
	now            func() time.Time
	workers        int
	classifier     *Classifier

	mu    sync.Mutex
	cache map[pair]*cacheEntry
	keys  map[string]*sync.Mutex
}

// pair is what one request checks: a key, with a secret for exchange keys.
type pair struct{ key, secret string }

type cacheEntry struct {
	done chan struct{}
	v    scanner.Verification
}

// CheckConfig reports whether New would accept cfg, without building a
// Verifier: callers validate flags before a scan starts.
func CheckConfig(cfg Config) error {
	_, _, _, err := settle(cfg)
	return err
}

// New returns a Verifier, or an error (wrapping ErrRefused for a base URL
// that is not a provider's) for an unsafe configuration.
func New(cfg Config) (*Verifier, error) {
	cfg, gem, goo, err := settle(cfg)
	if err != nil {
		return nil, err
	}
	v := &Verifier{gemini: gem, google: goo, now: cfg.Now, workers: cfg.MaxInFlight, classifier: NewClassifier(),
		cache: map[pair]*cacheEntry{}, keys: map[string]*sync.Mutex{},
		client: newSafeClient(cfg.UserAgent, cfg.RatePerSecond, cfg.MaxInFlight, cfg.Timeout)}
	v.client.allow("POST", gem, rolesPath)
	v.client.allow("GET", goo, modelsPath)
	return v, nil
}

// settle fills in cfg's defaults and checks it, returning the providers'
// base URLs.
func settle(cfg Config) (Config, *url.URL, *url.URL, error) {
	if cfg.GeminiURL == "" {
		cfg.GeminiURL = DefaultGeminiURL
	}
	if cfg.GoogleURL == "" {
		cfg.GoogleURL = DefaultGoogleURL
	}
	if cfg.RatePerSecond == 0 {
		cfg.RatePerSecond = 1
	}
	if !(cfg.RatePerSecond > 0 && cfg.RatePerSecond <= MaxRate) {
		return cfg, nil, nil, fmt.Errorf("rate %v: want more than 0 and at most %d requests per second", cfg.RatePerSecond, MaxRate)
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 4
	}
	if cfg.Timeout <= 0 || cfg.Timeout > checkTimeout {
		cfg.Timeout = checkTimeout
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "gemscan (secret scanner; checks whether a leaked key is live)"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	gem, err := checkBaseURL(cfg.GeminiURL, geminiHosts)
	if err != nil {
		return cfg, nil, nil, fmt.Errorf("gemini exchange: %w", err)
	}
	goo, err := checkBaseURL(cfg.GoogleURL, googleHosts)
	if err != nil {
		return cfg, nil, nil, fmt.Errorf("google: %w", err)
	}
	return cfg, gem, goo, nil
}

// Credential is what is checked: a key, and for an exchange key the
// candidate secrets, best first.
type Credential struct {
	// Rule is the rule ID that found it. Check refuses a value the rules do
	// not recognise as that rule's.
	Rule    string
	Value   string
	Secrets []string
}

// maxSecrets is how many candidate secrets an exchange key is tried with.
const maxSecrets = 2

// Classifier names the rule that recognises a credential given on its own.
// It is safe for concurrent use.
type Classifier struct{ det *rules.Detector }

// NewClassifier builds a Classifier (it holds the rules' detector, which
// costs about a millisecond to build).
func NewClassifier() *Classifier { return &Classifier{det: rules.NewDetector()} }

// Classify names the rule that recognises value on its own: the rules
// package's detector must find exactly this value, and nothing else, in it.
// An exchange secret is judged as the value of a GEMINI_API_SECRET setting.
func (c *Classifier) Classify(value string) (string, bool) {
	if ms := c.det.Detect([]byte(value)); len(ms) == 1 && ms[0].Value == value && ms[0].Start == 0 && ms[0].End == len(value) &&
		ms[0].Encoding == "" && ms[0].Rule != rules.ExchangeSecret {
		return ms[0].Rule, true
	}
	const name = "GEMINI_API_SECRET="
	if ms := c.det.Detect([]byte(name + value)); len(ms) == 1 && ms[0].Rule == rules.ExchangeSecret && ms[0].Value == value &&
		ms[0].Encoding == "" {
		return rules.ExchangeSecret, true
	}
	return "", false
}

// Check verifies one credential. A key+secret pair (a Google key) already
// sent by this Verifier is answered from its cache.
func (v *Verifier) Check(ctx context.Context, c Credential) scanner.Verification {
	if rule, ok := v.classifier.Classify(c.Value); !ok || rule != c.Rule {
		return scanner.Verification{Status: scanner.StatusUnknown,
			Detail: fmt.Sprintf("not checked: the value is not a %s credential; nothing was sent", c.Rule)}
	}
	switch c.Rule {
	case rules.GoogleGemini, rules.GoogleAPI:
		return v.cached(ctx, pair{key: c.Value}, func() scanner.Verification { return v.googleCheck(ctx, c.Rule, c.Value) })
	case rules.ExchangeSecret:
		return scanner.Verification{Status: scanner.StatusUnverifiable,
			Detail: "a secret without its API key cannot be checked; find the key it belongs to"}
	case rules.ExchangeKey:
		if len(c.Secrets) == 0 {
			return scanner.Verification{Status: scanner.StatusUnverifiable,
				Detail: "no API secret was found beside the key; a key alone cannot be checked"}
		}
		// Requests for one key go one at a time, each pair at most once,
		// all with the same nonce in seconds: a failure is never retried
		// with a larger nonce.
		km := v.keyLock(c.Value)
		km.Lock()
		defer km.Unlock()
		nonce := v.now().Unix()
		var res scanner.Verification
		tried := 0
		for _, s := range c.Secrets {
			if tried == maxSecrets {
				break
			}
			tried++
			res = v.cached(ctx, pair{key: c.Value, secret: s}, func() scanner.Verification {
				return v.exchangeCheck(ctx, c.Value, s, nonce)
			})
			if res.Status != scanner.StatusRejected {
				break
			}
		}
		if res.Status == scanner.StatusRejected && tried > 1 {
			res.Detail += fmt.Sprintf(" (tried the %d most likely secrets)", tried)
		}
		return res
	}
	return scanner.Verification{Status: scanner.StatusUnverifiable, Detail: "no verifier for rule " + c.Rule}
}

// keyLock returns the mutex that serialises requests for one key.
func (v *Verifier) keyLock(key string) *sync.Mutex {
	v.mu.Lock()
	defer v.mu.Unlock()
	m := v.keys[key]
	if m == nil {
		m = &sync.Mutex{}
		v.keys[key] = m
	}
	return m
}

// cached returns the answer for p, running check only the first time p is
// asked about; concurrent callers wait for that one answer.
func (v *Verifier) cached(ctx context.Context, p pair, check func() scanner.Verification) scanner.Verification {
	v.mu.Lock()
	e, ok := v.cache[p]
	if !ok {
		e = &cacheEntry{done: make(chan struct{})}
		v.cache[p] = e
	}
	v.mu.Unlock()
	if ok {
		select {
		case <-e.done:
			return e.v
		case <-ctx.Done():
			return unknown("interrupted: %v", ctx.Err())
		}
	}
	e.v = check()
	close(e.done)
	return e.v
}

// Findings verifies every finding with a bounded pool of workers (and the
// client's limits) and stores the answers in their Verification fields.
func (v *Verifier) Findings(ctx context.Context, fs []scanner.Finding) {
	jobs := make(chan *scanner.Finding)
	var wg sync.WaitGroup
	for range min(v.workers, len(fs)) {
		wg.Go(func() {
			for f := range jobs {
				res := v.Check(ctx, Credential{Rule: f.Rule, Value: f.Value, Secrets: f.Secrets})
				f.Verification = &res
			}
		})
	}
	for i := range fs {
		jobs <- &fs[i]
	}
	close(jobs)
	wg.Wait()
}

func unknown(format string, args ...any) scanner.Verification {
	return scanner.Verification{Status: scanner.StatusUnknown, Detail: fmt.Sprintf(format, args...)}
}

func networkFailure(err error) scanner.Verification {
	if errors.Is(err, ErrRefused) {
		return unknown("%v", err)
	}
	return unknown("no answer: %v", err)
}

// oneLine trims a provider's text to one short line, with control and
// formatting characters (terminal escapes, bidirectional overrides) and
// invalid UTF-8 shown escaped as strconv.Quote shows them: whatever prints
// a Detail prints no raw provider bytes.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	var b strings.Builder
	n := 0
	for i := 0; i < len(s); n++ {
		if n == 200 {
			b.WriteString("…")
			break
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

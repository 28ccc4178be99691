package verify

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gemscan-dev/gemscan/rules"
	"github.com/gemscan-dev/gemscan/scanner"
)

// Config configures a Verifier. The zero value verifies against the real
// providers at one request per second per host.
type Config struct {
	// GeminiURL and GoogleURL are the providers' base URLs (defaults:
	// DefaultGeminiURL, DefaultGoogleURL). Only https is accepted, or plain
	// http to a loopback address for test servers.
	GeminiURL, GoogleURL string
	// RatePerSecond is the most requests per second sent to one host;
	// 0 means 1.
	RatePerSecond float64
	// MaxInFlight bounds the requests under way at once; 0 means 4.
	MaxInFlight int
	// Timeout bounds each request; 0 means 15s.
	Timeout time.Duration
	// UserAgent identifies gemscan to the providers.
	UserAgent string
	// Now is the clock used for nonces; nil means time.Now.
	Now func() time.Time
}

// Verifier checks credentials with their providers. Each distinct credential
// is checked at most once per Verifier, however often it is asked about.
type Verifier struct {
	gemini, google *url.URL
	client         *safeClient
	now            func() time.Time

	mu    sync.Mutex
	cache map[string]*cacheEntry
}

type cacheEntry struct {
	done chan struct{}
	v    scanner.Verification
}

// New returns a Verifier, or an error for an unsafe or malformed base URL.
func New(cfg Config) (*Verifier, error) {
	if cfg.GeminiURL == "" {
		cfg.GeminiURL = DefaultGeminiURL
	}
	if cfg.GoogleURL == "" {
		cfg.GoogleURL = DefaultGoogleURL
	}
	if cfg.RatePerSecond == 0 {
		cfg.RatePerSecond = 1
	}
	if cfg.RatePerSecond < 0 {
		return nil, fmt.Errorf("rate %v: must be positive", cfg.RatePerSecond)
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = 4
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "gemscan (secret scanner; checks whether a leaked key is live)"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	gem, err := checkBaseURL(cfg.GeminiURL)
	if err != nil {
		return nil, fmt.Errorf("gemini exchange %w", err)
	}
	goo, err := checkBaseURL(cfg.GoogleURL)
	if err != nil {
		return nil, fmt.Errorf("google %w", err)
	}
	v := &Verifier{gemini: gem, google: goo, now: cfg.Now, cache: map[string]*cacheEntry{},
		client: newSafeClient(cfg.UserAgent, cfg.RatePerSecond, cfg.MaxInFlight, cfg.Timeout)}
	v.client.allow("POST", gem, rolesPath)
	v.client.allow("GET", goo, modelsPath)
	return v, nil
}

// Credential is what is checked: a key, and for an exchange key the
// candidate secrets, best first.
type Credential struct {
	// Rule is the rule ID that found it.
	Rule    string
	Value   string
	Secrets []string
}

// maxSecrets is how many candidate secrets an exchange key is tried with.
const maxSecrets = 2

func (c Credential) cacheKey() string {
	s := c.Secrets
	if len(s) > maxSecrets {
		s = s[:maxSecrets]
	}
	return c.Rule + "\x00" + c.Value + "\x00" + strings.Join(s, "\x00")
}

// Check verifies one credential, reusing the answer for a credential
// already checked by this Verifier.
func (v *Verifier) Check(ctx context.Context, c Credential) scanner.Verification {
	k := c.cacheKey()
	v.mu.Lock()
	e, ok := v.cache[k]
	if !ok {
		e = &cacheEntry{done: make(chan struct{})}
		v.cache[k] = e
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
	e.v = v.check(ctx, c)
	close(e.done)
	return e.v
}

func (v *Verifier) check(ctx context.Context, c Credential) scanner.Verification {
	switch c.Rule {
	case rules.GoogleGemini, rules.GoogleAPI:
		return v.googleCheck(ctx, c.Value)
	case rules.ExchangeSecret:
		return scanner.Verification{Status: scanner.StatusUnverifiable,
			Detail: "a secret without its API key cannot be checked; find the key it belongs to"}
	case rules.ExchangeKey:
		if len(c.Secrets) == 0 {
			return scanner.Verification{Status: scanner.StatusUnverifiable,
				Detail: "no API secret was found beside the key; a key alone cannot be checked"}
		}
		// One nonce per key, in seconds; each key+secret pair gets exactly
		// one request, and a failure is never retried with a larger nonce.
		nonce := v.now().Unix()
		var res scanner.Verification
		for i, s := range c.Secrets {
			if i == maxSecrets {
				break
			}
			res = v.exchangeCheck(ctx, c.Value, s, nonce)
			if res.Status != scanner.StatusRejected {
				break
			}
		}
		if res.Status == scanner.StatusRejected && len(c.Secrets) > 1 {
			res.Detail += fmt.Sprintf(" (tried the %d most likely secrets)", min(len(c.Secrets), maxSecrets))
		}
		return res
	}
	return scanner.Verification{Status: scanner.StatusUnverifiable, Detail: "no verifier for rule " + c.Rule}
}

// Findings verifies every finding concurrently (within the client's limits)
// and stores the answers in their Verification fields.
func (v *Verifier) Findings(ctx context.Context, fs []scanner.Finding) {
	var wg sync.WaitGroup
	for i := range fs {
		wg.Add(1)
		go func(f *scanner.Finding) {
			defer wg.Done()
			res := v.Check(ctx, Credential{Rule: f.Rule, Value: f.Value, Secrets: f.Secrets})
			f.Verification = &res
		}(&fs[i])
	}
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

// oneLine trims a provider's message to one short line.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

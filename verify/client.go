// Package verify asks each provider, with the least intrusive call it offers,
// whether a leaked credential still works: a signed read-only POST /v1/roles
// for Gemini exchange keys, GET /v1beta/models for Google keys. It enforces
// its own safety rules in code: credentials go only to their provider's
// official host over https (or to a loopback test server), only to those
// two endpoints, with no redirects followed; every value is classified again
// with the rules before it is sent; timeouts, a per-host rate limit of at
// most MaxRate, a bounded pool of workers, and one request per key+secret
// pair per run. An exchange secret is never sent, only signatures made with
// it.
package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Default base URLs of the providers.
const (
	DefaultGeminiURL = "https://api.gemini.com"
	DefaultGoogleURL = "https://generativelanguage.googleapis.com"
	// SandboxGeminiURL is the exchange's sandbox, for sandbox keys.
	SandboxGeminiURL = "https://api.sandbox.gemini.com"
)

// The only hosts credentials are ever sent to, besides loopback test
// servers: an exchange key goes only to the exchange, a Google key only to
// Google.
var (
	geminiHosts = []string{"api.gemini.com", "api.sandbox.gemini.com"}
	googleHosts = []string{"generativelanguage.googleapis.com"}
)

// The only requests this package ever makes.
const (
	rolesPath  = "/v1/roles"
	modelsPath = "/v1beta/models"
)

// Time limits: a provider that does not accept the connection within
// connectTimeout, or does not answer the whole check within checkTimeout,
// is reported unknown.
const (
	connectTimeout = 3 * time.Second
	checkTimeout   = 8 * time.Second
)

// MaxRate is the most requests per second gemscan sends to one provider,
// whatever is asked: the exchange's guidance for its private API.
const MaxRate = 5

// maxBody bounds how much of a response is read.
const maxBody = 1 << 20

// safeClient sends only allow-listed requests, never follows redirects, and
// spaces requests to each host.
type safeClient struct {
	http      *http.Client
	userAgent string
	// allowed maps "METHOD host path" to true for the allowed requests.
	allowed  map[string]bool
	limiter  *hostLimiter
	inFlight chan struct{}
}

// ErrRefused is returned for a request outside the allow-list or to an
// unsafe URL; nothing was sent.
var ErrRefused = errors.New("request refused by gemscan's safety rules")

// checkBaseURL accepts the provider's official hosts over https with no
// path, port or query, and plain http or https to a loopback IP address
// with a port (a local test server). Anything else is refused: the URL
// decides where credentials are sent.
func checkBaseURL(raw string, official []string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: base URL %q: %v", ErrRefused, raw, err)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" ||
		(u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("%w: base URL %q: want scheme://host[:port] with no credentials, path, query or fragment",
			ErrRefused, raw)
	}
	u.Path, u.RawPath = "", ""
	host := u.Hostname()
	if isLoopback(host) {
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, fmt.Errorf("%w: base URL %q: scheme must be http or https", ErrRefused, raw)
		}
		return u, nil
	}
	host = strings.ToLower(host)
	if !slices.Contains(official, host) {
		return nil, fmt.Errorf("%w: base URL %q: credentials go only to %s, or to a loopback test server (http://127.0.0.1:PORT)",
			ErrRefused, raw, strings.Join(official, " or "))
	}
	if u.Scheme != "https" {
		return nil, fmt.Errorf("%w: base URL %q: scheme must be https (plain http is allowed only to loopback test servers)",
			ErrRefused, raw)
	}
	if p := u.Port(); p != "" && p != "443" {
		return nil, fmt.Errorf("%w: base URL %q: port must be 443", ErrRefused, raw)
	}
	u.Host = host
	return u, nil
}

// isLoopback reports whether host is a loopback IP address. Names (even
// "localhost") are refused: a resolver decides where they lead.
func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func newSafeClient(userAgent string, perSecond float64, maxInFlight int, timeout time.Duration) *safeClient {
	dialer := &net.Dialer{Timeout: connectTimeout}
	transport := &http.Transport{
		// HTTPS_PROXY is honoured: the proxy sees a CONNECT to the pinned
		// host, and TLS runs end to end with it.
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   connectTimeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   2,
		ForceAttemptHTTP2:     true,
	}
	return &safeClient{
		http: &http.Client{
			Transport: transport,
			Timeout:   timeout,
			// A redirect would carry credentials somewhere unvetted.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		userAgent: userAgent,
		allowed:   map[string]bool{},
		limiter:   newHostLimiter(perSecond),
		inFlight:  make(chan struct{}, max(1, maxInFlight)),
	}
}

func (c *safeClient) allow(method string, base *url.URL, path string) {
	c.allowed[method+" "+base.Host+" "+base.Path+path] = true
}

// response is what the classifiers need of an HTTP response.
type response struct {
	status   int
	body     []byte
	location string
}

// do sends req if it is allow-listed, after waiting for the host's rate
// limit and a free slot.
func (c *safeClient) do(ctx context.Context, req *http.Request) (*response, error) {
	u := req.URL
	if !c.allowed[req.Method+" "+u.Host+" "+u.Path] || u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("%w: %s %s is not an allowed verification endpoint", ErrRefused, req.Method, u.Redacted())
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) || u.Fragment != "" {
		return nil, fmt.Errorf("%w: %s is not https", ErrRefused, u.Redacted())
	}
	select {
	case c.inFlight <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-c.inFlight }()
	if err := c.limiter.wait(ctx, u.Host); err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", c.userAgent)
	resp, err := c.http.Do(req.WithContext(ctx))
	if err != nil {
		return nil, scrubURLError(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	return &response{status: resp.StatusCode, body: body, location: resp.Header.Get("Location")}, nil
}

// scrubURLError drops the URL from a client error: it never holds a secret
// here, but the message reads better without it.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", strings.ToLower(ue.Op), ue.Err)
	}
	return err
}

// hostLimiter spaces requests to each host at least interval apart. Its
// clock and its sleep are fields so tests can check the send times it
// reserves without depending on the wall clock.
type hostLimiter struct {
	mu       sync.Mutex
	interval time.Duration
	next     map[string]time.Time
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error
}

func newHostLimiter(perSecond float64) *hostLimiter {
	l := &hostLimiter{next: map[string]time.Time{}, now: time.Now, sleep: sleepCtx}
	if perSecond > 0 {
		l.interval = time.Duration(float64(time.Second) / perSecond)
	}
	return l
}

// reserve books the next send time for host and returns it with the time
// the booking was made.
func (l *hostLimiter) reserve(host string) (at, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now = l.now()
	at = l.next[host]
	if at.Before(now) {
		at = now
	}
	l.next[host] = at.Add(l.interval)
	return at, now
}

// wait blocks until host may be sent another request.
func (l *hostLimiter) wait(ctx context.Context, host string) error {
	at, now := l.reserve(host)
	if d := at.Sub(now); d > 0 {
		return l.sleep(ctx, d)
	}
	return ctx.Err()
}

// sleepCtx sleeps for d, or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

package verify

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gemscan-dev/gemscan/internal/fakeprov"
	"github.com/gemscan-dev/gemscan/internal/testkeys"
	"github.com/gemscan-dev/gemscan/rules"
	"github.com/gemscan-dev/gemscan/scanner"
)

// The exchange's documented test vector.
func TestSignVector(t *testing.T) {
	payload := "ewogICAgInJlcXVlc3QiOiAiL3YxL29yZGVyL3N0YXR1cyIsCiAgICAibm9uY2UiOiAxMjM0NTYsCgogICAgIm9yZGVyX2lkIjogMTg4MzQKfQo="
	want := "337cc8b4ea692cfe65b4a85fcc9f042b2e3f702ac956fd098d600ab15705775017beae402be773ceee10719ff70d710f"
	if got := Sign("1234abcd", payload); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

type fakes struct {
	ex *fakeprov.Exchange
	g  *fakeprov.Google
	v  *Verifier
}

func newFakes(t *testing.T, cfg Config) *fakes {
	t.Helper()
	f := &fakes{ex: fakeprov.NewExchange(), g: fakeprov.NewGoogle()}
	t.Cleanup(f.ex.Close)
	t.Cleanup(f.g.Close)
	cfg.GeminiURL, cfg.GoogleURL = f.ex.URL, f.g.URL
	if cfg.RatePerSecond == 0 {
		cfg.RatePerSecond = 1000
	}
	v, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.v = v
	return f
}

func TestExchangeStatuses(t *testing.T) {
	g := testkeys.New(31)
	cases := []struct {
		name    string
		acct    *fakeprov.Account // nil: key unknown to the exchange
		secret  string            // "" means the account's secret
		want    scanner.Status
		details string
	}{
		{"trader", &fakeprov.Account{Roles: map[string]bool{"isTrader": true}}, "", scanner.StatusLive, "trader (can trade)"},
		{"fund manager", &fakeprov.Account{Roles: map[string]bool{"isFundManager": true, "isTrader": true}}, "", scanner.StatusLive, "fund manager (can withdraw)"},
		{"master admin", &fakeprov.Account{Roles: map[string]bool{"isAccountAdmin": true, "isAuditor": true}}, "", scanner.StatusLive, "account admin"},
		{"missing role", &fakeprov.Account{Fail: "MissingRole", Status: 403}, "", scanner.StatusLiveRestricted, "MissingRole"},
		{"ip filtered", &fakeprov.Account{Fail: "RemoteAddressForbidden", Status: 403}, "", scanner.StatusLiveRestricted, "IP"},
		{"ip filtering failure", &fakeprov.Account{Fail: "ApiKeyIpFilteringFailure", Status: 403}, "", scanner.StatusLiveRestricted, "IP"},
		{"closed", &fakeprov.Account{Fail: "AccountClosed"}, "", scanner.StatusBlocked, "closed"},
		{"maintenance", &fakeprov.Account{Fail: "Maintenance", Status: 503}, "", scanner.StatusUnknown, "could not answer"},
		{"rate limited", &fakeprov.Account{Fail: "RateLimit", Status: 429}, "", scanner.StatusUnknown, "rate limited"},
		{"bad nonce", &fakeprov.Account{Fail: "InvalidNonce"}, "", scanner.StatusLikelyLive, "InvalidNonce"},
		{"wrong secret", &fakeprov.Account{}, g.Secret(28), scanner.StatusRejected, "InvalidSignature"},
		{"unknown key", nil, "", scanner.StatusInvalid, "InvalidApiKey"},
		{"verifier bug", &fakeprov.Account{Fail: "MissingPayloadHeader"}, "", scanner.StatusUnknown, "bug"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakes(t, Config{})
			key, secret := g.ExchangeKey("account-"), g.Secret(28)
			if c.acct != nil {
				a := *c.acct
				a.Secret = secret
				f.ex.Add(key, a)
			}
			if c.secret != "" {
				secret = c.secret
			}
			got := f.v.Check(context.Background(), Credential{Rule: rules.ExchangeKey, Value: key, Secrets: []string{secret}})
			if got.Status != c.want || !strings.Contains(got.Detail, c.details) {
				t.Errorf("got %s (%s), want %s with %q", got.Status, got.Detail, c.want, c.details)
			}
			if n := len(f.ex.Requests()); n != 1 {
				t.Errorf("%d requests, want exactly 1", n)
			}
		})
	}
}

func TestExchangeRequestShape(t *testing.T) {
	f := newFakes(t, Config{})
	k := testkeys.New(4).Set()
	f.ex.Add(k.MasterKey, fakeprov.Account{Secret: k.Secret, Roles: map[string]bool{"isAccountAdmin": true}})
	before := time.Now().Unix()
	got := f.v.Check(context.Background(), Credential{Rule: rules.ExchangeKey, Value: k.MasterKey, Secrets: []string{k.Secret}})
	after := time.Now().Unix()
	if got.Status != scanner.StatusLive {
		t.Fatalf("got %+v", got)
	}
	reqs := f.ex.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.Method != "POST" || r.Path != "/v1/roles" || r.RawQuery != "" {
		t.Errorf("request %s %s?%s", r.Method, r.Path, r.RawQuery)
	}
	// The nonce is Unix seconds: never milliseconds or nanoseconds, which
	// would raise the key's nonce floor and lock its owner out.
	if r.Nonce < before || r.Nonce > after {
		t.Errorf("nonce %d, want Unix seconds in [%d, %d]", r.Nonce, before, after)
	}
	if ua := r.Header.Get("User-Agent"); !strings.Contains(ua, "gemscan") {
		t.Errorf("User-Agent %q does not name gemscan", ua)
	}
	if strings.Contains(r.Dump(), k.Secret) {
		t.Errorf("the secret was sent:\n%s", r.Dump())
	}
}

func TestTimeBasedNonceKey(t *testing.T) {
	f := newFakes(t, Config{})
	k := testkeys.New(5).Set()
	f.ex.Add(k.ExchangeKey, fakeprov.Account{Secret: k.Secret, TimeNonce: true, Roles: map[string]bool{"isAuditor": true}})
	got := f.v.Check(context.Background(), Credential{Rule: rules.ExchangeKey, Value: k.ExchangeKey, Secrets: []string{k.Secret}})
	if got.Status != scanner.StatusLive {
		t.Fatalf("time-based nonce key: %+v", got)
	}
}

func TestSecondSecretTriedOnce(t *testing.T) {
	f := newFakes(t, Config{})
	k := testkeys.New(6).Set()
	f.ex.Add(k.ExchangeKey, fakeprov.Account{Secret: k.Secret2, Roles: map[string]bool{"isTrader": true}})
	got := f.v.Check(context.Background(), Credential{Rule: rules.ExchangeKey, Value: k.ExchangeKey,
		Secrets: []string{k.Secret, k.Secret2, k.Decoy}})
	if got.Status != scanner.StatusLive {
		t.Fatalf("got %+v", got)
	}
	reqs := f.ex.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2 (best two secrets, one each)", len(reqs))
	}
	if reqs[0].Nonce != reqs[1].Nonce {
		t.Errorf("nonces %d then %d: a second secret must not raise the nonce", reqs[0].Nonce, reqs[1].Nonce)
	}
	// Three wrong secrets: only the best two are tried.
	f2 := newFakes(t, Config{})
	f2.ex.Add(k.ExchangeKey, fakeprov.Account{Secret: "other"})
	got = f2.v.Check(context.Background(), Credential{Rule: rules.ExchangeKey, Value: k.ExchangeKey,
		Secrets: []string{k.Secret, k.Secret2, k.Decoy}})
	if got.Status != scanner.StatusRejected || len(f2.ex.Requests()) != 2 {
		t.Errorf("got %+v after %d requests, want rejected after 2", got, len(f2.ex.Requests()))
	}
}

func TestUnverifiableSendsNothing(t *testing.T) {
	f := newFakes(t, Config{})
	k := testkeys.New(7).Set()
	for _, c := range []Credential{
		{Rule: rules.ExchangeKey, Value: k.ExchangeKey},
		{Rule: rules.ExchangeSecret, Value: k.Secret},
	} {
		if got := f.v.Check(context.Background(), c); got.Status != scanner.StatusUnverifiable {
			t.Errorf("%s: got %+v", c.Rule, got)
		}
	}
	if n := len(f.ex.Requests()) + len(f.g.Requests()); n != 0 {
		t.Errorf("%d requests sent for unverifiable credentials", n)
	}
}

func TestGoogleStatuses(t *testing.T) {
	cases := []struct {
		name   string
		answer *fakeprov.GoogleAnswer
		want   scanner.Status
		detail string
	}{
		{"live", &fakeprov.GoogleAnswer{Status: 200}, scanner.StatusLive, "lists 2 models"},
		{"invalid", nil, scanner.StatusInvalid, "not valid"},
		{"expired", &fakeprov.GoogleAnswer{Status: 400, Reason: "API_KEY_INVALID", State: "INVALID_ARGUMENT", Message: "API key expired. Please renew the API key."}, scanner.StatusInvalid, "expired"},
		{"service disabled", &fakeprov.GoogleAnswer{Status: 403, Reason: "SERVICE_DISABLED", State: "PERMISSION_DENIED", Message: "Generative Language API has not been used in project 1 before or it is disabled."}, scanner.StatusLiveRestricted, "disabled"},
		{"referrer", &fakeprov.GoogleAnswer{Status: 403, Reason: "API_KEY_HTTP_REFERRER_BLOCKED", State: "PERMISSION_DENIED", Message: "Requests from referer <empty> are blocked."}, scanner.StatusLiveRestricted, "websites"},
		{"ip", &fakeprov.GoogleAnswer{Status: 403, Reason: "API_KEY_IP_ADDRESS_BLOCKED", State: "PERMISSION_DENIED"}, scanner.StatusLiveRestricted, "IP addresses"},
		{"android", &fakeprov.GoogleAnswer{Status: 403, Reason: "API_KEY_ANDROID_APP_BLOCKED", State: "PERMISSION_DENIED"}, scanner.StatusLiveRestricted, "Android"},
		{"ios", &fakeprov.GoogleAnswer{Status: 403, Reason: "API_KEY_IOS_APP_BLOCKED", State: "PERMISSION_DENIED"}, scanner.StatusLiveRestricted, "iOS"},
		{"other api", &fakeprov.GoogleAnswer{Status: 403, Reason: "API_KEY_SERVICE_BLOCKED", State: "PERMISSION_DENIED"}, scanner.StatusLiveRestricted, "other APIs"},
		{"leaked", &fakeprov.GoogleAnswer{Status: 403, Reason: "API_KEY_SERVICE_BLOCKED", State: "PERMISSION_DENIED", Message: "Your API key was reported as leaked. Please use another API key."}, scanner.StatusBlocked, "leaked"},
		{"suspended", &fakeprov.GoogleAnswer{Status: 403, Reason: "CONSUMER_SUSPENDED", State: "PERMISSION_DENIED"}, scanner.StatusBlocked, "suspended"},
		{"token type", &fakeprov.GoogleAnswer{Status: 401, Reason: "ACCESS_TOKEN_TYPE_UNSUPPORTED", State: "UNAUTHENTICATED"}, scanner.StatusLikelyLive, "ACCESS_TOKEN_TYPE_UNSUPPORTED"},
		{"quota", &fakeprov.GoogleAnswer{Status: 429, State: "RESOURCE_EXHAUSTED"}, scanner.StatusUnknown, "quota"},
		{"billing", &fakeprov.GoogleAnswer{Status: 402, State: "FAILED_PRECONDITION"}, scanner.StatusUnknown, "billing"},
		{"server", &fakeprov.GoogleAnswer{Status: 503, State: "UNAVAILABLE"}, scanner.StatusUnknown, "could not answer"},
	}
	g := testkeys.New(8)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakes(t, Config{})
			for _, key := range []string{g.AQKey(), g.APIKey()} {
				if c.answer != nil {
					f.g.Set(key, *c.answer)
				}
				rule := rules.GoogleAPI
				if strings.HasPrefix(key, "AQ.") {
					rule = rules.GoogleGemini
				}
				got := f.v.Check(context.Background(), Credential{Rule: rule, Value: key})
				if got.Status != c.want || !strings.Contains(got.Detail, c.detail) {
					t.Errorf("%s: got %s (%s), want %s with %q", rule, got.Status, got.Detail, c.want, c.detail)
				}
			}
			for _, r := range f.g.Requests() {
				if r.Method != "GET" || r.Path != "/v1beta/models" || r.RawQuery != "" || r.Header.Get("x-goog-api-key") == "" {
					t.Errorf("request %s %s?%s key header %q: the key goes in x-goog-api-key, never the URL",
						r.Method, r.Path, r.RawQuery, r.Header.Get("x-goog-api-key"))
				}
			}
		})
	}
}

func TestEachCredentialCheckedOnce(t *testing.T) {
	f := newFakes(t, Config{})
	k := testkeys.New(9).Set()
	f.g.Live(k.AQKey)
	f.ex.Add(k.ExchangeKey, fakeprov.Account{Secret: k.Secret, Roles: map[string]bool{"isTrader": true}})
	var fs []scanner.Finding
	for i := 0; i < 10; i++ {
		fs = append(fs,
			scanner.Finding{Rule: rules.GoogleGemini, Value: k.AQKey, File: "a"},
			scanner.Finding{Rule: rules.ExchangeKey, Value: k.ExchangeKey, Secrets: []string{k.Secret}, File: "b"})
	}
	f.v.Findings(context.Background(), fs)
	if n, m := len(f.g.Requests()), len(f.ex.Requests()); n != 1 || m != 1 {
		t.Errorf("google got %d requests, exchange %d; want 1 each", n, m)
	}
	for _, x := range fs {
		if x.Verification == nil || x.Verification.Status != scanner.StatusLive {
			t.Errorf("%s: %+v", x.Rule, x.Verification)
		}
	}
}

// TestRateLimitPerHost checks the send times the limiter reserves, on a
// frozen clock: six requests to one host are booked exactly 1/rate apart,
// whatever the machine's load.
func TestRateLimitPerHost(t *testing.T) {
	const rate = 20 // requests per second
	f := newFakes(t, Config{RatePerSecond: rate})
	t0 := time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	var waits []time.Duration
	lim := f.v.client.limiter
	lim.now = func() time.Time { return t0 }
	lim.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		return nil
	}
	g := testkeys.New(10)
	var fs []scanner.Finding
	for i := 0; i < 6; i++ {
		fs = append(fs, scanner.Finding{Rule: rules.GoogleAPI, Value: g.APIKey()})
	}
	f.v.Findings(context.Background(), fs)
	if n := len(f.g.Requests()); n != 6 {
		t.Fatalf("%d requests, want 6", n)
	}
	slices.Sort(waits)
	step := time.Second / rate
	want := []time.Duration{step, 2 * step, 3 * step, 4 * step, 5 * step}
	if !slices.Equal(waits, want) {
		t.Errorf("requests waited %v, want %v (the first leaves at once)", waits, want)
	}
}

func TestLimiterReserve(t *testing.T) {
	l := newHostLimiter(4)
	t0 := time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	l.now = func() time.Time { return now }
	step := 250 * time.Millisecond
	steps := []struct {
		host string
		want time.Time
	}{
		{"a", t0}, {"a", t0.Add(step)}, {"b", t0}, {"a", t0.Add(2 * step)}, {"b", t0.Add(step)},
	}
	for i, s := range steps {
		if at, _ := l.reserve(s.host); !at.Equal(s.want) {
			t.Errorf("step %d host %s: reserved %v, want %v", i, s.host, at.Sub(t0), s.want.Sub(t0))
		}
	}
	// After a quiet spell the next request leaves at once, without a burst
	// of saved-up slots.
	now = t0.Add(10 * time.Second)
	for i, want := range []time.Time{now, now.Add(step)} {
		if at, _ := l.reserve("a"); !at.Equal(want) {
			t.Errorf("after idle %d: reserved %v, want %v", i, at.Sub(t0), want.Sub(t0))
		}
	}
}

// TestLimiterWait runs the real sleep in a synctest bubble, where time is
// virtual: waits end exactly at the reserved times, and a cancelled
// context ends a wait at once.
func TestLimiterWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newHostLimiter(10)
		start := time.Now()
		var mu sync.Mutex
		var sent []time.Duration
		var wg sync.WaitGroup
		for i := 0; i < 3; i++ {
			wg.Go(func() {
				if err := l.wait(context.Background(), "h"); err != nil {
					t.Error(err)
				}
				mu.Lock()
				sent = append(sent, time.Since(start))
				mu.Unlock()
			})
		}
		wg.Wait()
		slices.Sort(sent)
		if want := []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond}; !slices.Equal(sent, want) {
			t.Errorf("sent at %v, want %v", sent, want)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- l.wait(ctx, "h") }()
		synctest.Wait()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled wait returned %v", err)
		}
		if d := time.Since(start); d != 200*time.Millisecond {
			t.Errorf("cancelled wait ended at %v, want at once (200ms)", d)
		}
	})
}

func TestRedirectNotFollowed(t *testing.T) {
	var elsewhere atomic.Int32
	f := newFakes(t, Config{})
	other := fakeprov.NewGoogle()
	defer other.Close()
	other.Server.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) })
	f.ex.Override = func(w http.ResponseWriter, r *http.Request) bool {
		http.Redirect(w, r, other.URL+"/v1/roles", http.StatusTemporaryRedirect)
		return true
	}
	k := testkeys.New(11).Set()
	got := f.v.Check(context.Background(), Credential{Rule: rules.ExchangeKey, Value: k.ExchangeKey, Secrets: []string{k.Secret}})
	if got.Status != scanner.StatusUnknown || !strings.Contains(got.Detail, "not followed") {
		t.Errorf("got %+v", got)
	}
	if elsewhere.Load() != 0 {
		t.Errorf("the redirect was followed")
	}
}

func TestRefusesOtherEndpoints(t *testing.T) {
	f := newFakes(t, Config{})
	for _, path := range []string{"/v1/account", "/v1/order/new", "/v1/withdraw/btc", "/v1/roles/../account"} {
		req, _ := http.NewRequest("POST", f.ex.URL+path, nil)
		if _, err := f.v.client.do(context.Background(), req); !errors.Is(err, ErrRefused) {
			t.Errorf("%s: err %v, want ErrRefused", path, err)
		}
	}
	req, _ := http.NewRequest("GET", f.g.URL+"/v1beta/models?key=x", nil)
	if _, err := f.v.client.do(context.Background(), req); !errors.Is(err, ErrRefused) {
		t.Errorf("key in query: err %v, want ErrRefused", err)
	}
	req, _ = http.NewRequest("GET", f.g.URL+"/v1beta/files", nil)
	if _, err := f.v.client.do(context.Background(), req); !errors.Is(err, ErrRefused) {
		t.Errorf("files: err %v, want ErrRefused", err)
	}
	if n := len(f.ex.Requests()) + len(f.g.Requests()); n != 0 {
		t.Errorf("%d refused requests reached a server", n)
	}
}

func TestNetworkFailureIsUnknown(t *testing.T) {
	f := newFakes(t, Config{Timeout: 2 * time.Second})
	f.ex.Close()
	f.g.Close()
	k := testkeys.New(12).Set()
	for _, c := range []Credential{
		{Rule: rules.ExchangeKey, Value: k.ExchangeKey, Secrets: []string{k.Secret}},
		{Rule: rules.GoogleAPI, Value: k.APIKey},
	} {
		if got := f.v.Check(context.Background(), c); got.Status != scanner.StatusUnknown {
			t.Errorf("%s: got %+v, want unknown", c.Rule, got)
		}
	}
}

func TestUnsafeBaseURLs(t *testing.T) {
	for _, u := range []string{"http://example.com", "ftp://127.0.0.1", "http://10.0.0.1:8080", "https://user:pw@api.gemini.com", "https://api.gemini.com?x=1", "://"} {
		if _, err := New(Config{GeminiURL: u}); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
	for _, u := range []string{"https://api.sandbox.gemini.com", "http://127.0.0.1:9", "http://[::1]:9", "http://localhost:9"} {
		if _, err := New(Config{GeminiURL: u}); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
}

// TestBasePathPrefix checks a base URL with a path (a server mounted below
// the root) reaches the endpoint under it, with a payload that names the
// whole path the server sees.
func TestBasePathPrefix(t *testing.T) {
	ex := fakeprov.NewExchange()
	defer ex.Close()
	k := testkeys.New(13).Set()
	ex.Add(k.ExchangeKey, fakeprov.Account{Secret: k.Secret, Roles: map[string]bool{"isTrader": true}})
	mux := http.NewServeMux()
	mux.Handle("/gemini/", ex.Config.Handler)
	mounted := httptest.NewServer(mux)
	defer mounted.Close()
	v, err := New(Config{GeminiURL: mounted.URL + "/gemini/", RatePerSecond: 100})
	if err != nil {
		t.Fatal(err)
	}
	got := v.Check(context.Background(), Credential{Rule: rules.ExchangeKey, Value: k.ExchangeKey, Secrets: []string{k.Secret}})
	if got.Status != scanner.StatusLive {
		t.Errorf("got %+v", got)
	}
	if reqs := ex.Requests(); len(reqs) != 1 || reqs[0].Path != "/gemini/v1/roles" {
		t.Errorf("requests %+v", reqs)
	}
}

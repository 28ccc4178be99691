package verify

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"github.com/gemscan-dev/gemscan/internal/provtest"
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
	ex *provtest.Exchange
	g  *provtest.Google
	v  *Verifier
}

// newFakes starts both fakes (Google answering standard keys as era says)
// and a Verifier pointed at them whose rate limiter books send times but
// does not sleep (TestRateLimitPerHost checks the times).
func newFakes(t *testing.T, cfg Config, era ...provtest.StandardKeys) *fakes {
	t.Helper()
	e := provtest.StandardAccepted
	if len(era) > 0 {
		e = era[0]
	}
	f := &fakes{ex: provtest.NewExchange(), g: provtest.NewGoogle(e)}
	t.Cleanup(f.ex.Close)
	t.Cleanup(f.g.Close)
	cfg.GeminiURL, cfg.GoogleURL = f.ex.URL, f.g.URL
	if cfg.RatePerSecond == 0 {
		cfg.RatePerSecond = MaxRate
	}
	v, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	v.client.limiter.sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	f.v = v
	return f
}

func TestExchangeStatuses(t *testing.T) {
	g := testkeys.New(31)
	roles := func(rs ...string) map[string]bool {
		m := map[string]bool{}
		for _, r := range rs {
			m[r] = true
		}
		return m
	}
	cases := []struct {
		name   string
		prefix string            // key prefix; "" means "account-"
		acct   *provtest.Account // nil: key unknown to the exchange
		secret string            // "" means the account's secret
		want   scanner.Status
		detail string
	}{
		{"trader", "", &provtest.Account{Roles: roles("isTrader")}, "", scanner.StatusLive, "trader (can trade)"},
		{"fund manager", "", &provtest.Account{Roles: roles("isFundManager", "isTrader")}, "", scanner.StatusLive, "fund manager (can withdraw)"},
		{"auditor", "", &provtest.Account{Roles: roles("isAuditor")}, "", scanner.StatusLive, "auditor (read-only)"},
		{"no roles granted", "", &provtest.Account{}, "", scanner.StatusLive, "no roles granted"},
		{"master admin", "master-", &provtest.Account{Roles: roles("isAccountAdmin", "isAuditor")}, "", scanner.StatusLive, "account admin"},
		{"missing role", "", &provtest.Account{Fail: "MissingRole", Status: 403}, "", scanner.StatusLiveRestricted, "MissingRole"},
		{"ip filtered", "", &provtest.Account{Fail: "RemoteAddressForbidden", Status: 403}, "", scanner.StatusLiveRestricted, "IP"},
		{"ip filtering failure", "", &provtest.Account{Fail: "ApiKeyIpFilteringFailure", Status: 403}, "", scanner.StatusLiveRestricted, "IP"},
		{"master missing accounts", "master-", &provtest.Account{Fail: "MissingAccounts"}, "", scanner.StatusLikelyLive, "master key"},
		{"master missing account name", "master-", &provtest.Account{Fail: "MissingAccountName"}, "", scanner.StatusLikelyLive, "master key"},
		{"master invalid account name", "master-", &provtest.Account{Fail: "InvalidAccountName"}, "", scanner.StatusLikelyLive, "master key"},
		{"closed", "", &provtest.Account{Fail: "AccountClosed"}, "", scanner.StatusBlocked, "closed"},
		{"maintenance", "", &provtest.Account{Fail: "Maintenance", Status: 503}, "", scanner.StatusUnknown, "could not answer"},
		{"system", "", &provtest.Account{Fail: "System", Status: 500}, "", scanner.StatusUnknown, "could not answer"},
		{"rate limited", "", &provtest.Account{Fail: "RateLimit", Status: 429}, "", scanner.StatusUnknown, "rate limited"},
		{"invalid nonce", "", &provtest.Account{Fail: "InvalidNonce"}, "", scanner.StatusLikelyLive,
			"the exchange knows this key but refused the nonce (InvalidNonce), as it does when the key's owner signs with millisecond nonces; the secret was not confirmed and the roles were not read"},
		{"bad nonce", "", &provtest.Account{Fail: "BadNonce"}, "", scanner.StatusLikelyLive, "the secret was not confirmed"},
		{"wrong secret", "", &provtest.Account{}, g.Secret(28), scanner.StatusRejected, "InvalidSignature"},
		{"unknown key", "", nil, "", scanner.StatusInvalid, "InvalidApiKey)"},
		{"unknown key, sandbox hint", "", nil, "", scanner.StatusInvalid, "may be a sandbox key: try --gemini-url https://api.sandbox.gemini.com"},
		{"verifier bug", "", &provtest.Account{Fail: "MissingPayloadHeader", Status: 401}, "", scanner.StatusUnknown, "bug"},
		{"endpoint mismatch", "", &provtest.Account{Fail: "EndpointMismatch"}, "", scanner.StatusUnknown, "bug"},
		{"unexpected", "", &provtest.Account{Fail: "SomethingNew", Status: 418}, "", scanner.StatusUnknown, "unexpected answer HTTP 418 (SomethingNew)"},
	}
	for _, field := range []string{"reason", "error"} {
		for _, c := range cases {
			t.Run(field+"/"+c.name, func(t *testing.T) {
				f := newFakes(t, Config{})
				f.ex.ErrorField = field
				prefix := c.prefix
				if prefix == "" {
					prefix = "account-"
				}
				key, secret := g.ExchangeKey(prefix), g.Secret(28)
				if c.acct != nil {
					a := *c.acct
					a.Secret = secret
					f.ex.Add(key, a)
				}
				if c.secret != "" {
					secret = c.secret
				}
				got := f.v.Check(context.Background(), Credential{Rule: rules.ExchangeKey, Value: key, Secrets: []string{secret}})
				if got.Status != c.want || !strings.Contains(got.Detail, c.detail) {
					t.Errorf("got %s (%s), want %s with %q", got.Status, got.Detail, c.want, c.detail)
				}
				if strings.Contains(got.Detail, "likely a valid signature") || strings.Contains(got.Detail, "likely does only") {
					t.Errorf("detail claims more than is known: %s", got.Detail)
				}
				if n := len(f.ex.Requests()); n != 1 {
					t.Errorf("%d requests, want exactly 1", n)
				}
			})
		}
	}
}

// TestExchange200NeedsRoles: a 200 is live only with the role flags in it;
// anything else answering 200 is not the exchange.
func TestExchange200NeedsRoles(t *testing.T) {
	k := testkeys.New(32).Set()
	for _, body := range []string{``, `{}`, `{"counterparty_id":"X"}`, `[]`, `<html>ok</html>`, `{"result":"ok"}`} {
		f := newFakes(t, Config{})
		f.ex.Override = func(w http.ResponseWriter, r *http.Request) bool {
			w.Write([]byte(body))
			return true
		}
		got := f.v.Check(context.Background(), Credential{Rule: rules.ExchangeKey, Value: k.ExchangeKey, Secrets: []string{k.Secret}})
		if got.Status != scanner.StatusUnknown || !strings.Contains(got.Detail, "without the role flags") {
			t.Errorf("200 %q: got %+v, want unknown", body, got)
		}
	}
}

// TestSandboxNoHint: the sandbox's own InvalidApiKey does not suggest the
// sandbox.
func TestSandboxNoHint(t *testing.T) {
	f := newFakes(t, Config{})
	u, _ := url.Parse(SandboxGeminiURL)
	f.v.gemini = u
	got := f.v.classifyExchange(&response{status: 400, body: []byte(`{"result":"error","reason":"InvalidApiKey","message":"Invalid API key"}`)})
	if got.Status != scanner.StatusInvalid || strings.Contains(got.Detail, "sandbox") {
		t.Errorf("got %+v", got)
	}
}

func TestExchangeRequestShape(t *testing.T) {
	f := newFakes(t, Config{})
	k := testkeys.New(4).Set()
	f.ex.Add(k.MasterKey, provtest.Account{Secret: k.Secret, Roles: map[string]bool{"isAccountAdmin": true}})
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
	f.ex.Add(k.ExchangeKey, provtest.Account{Secret: k.Secret, TimeNonce: true, Roles: map[string]bool{"isAuditor": true}})
	got := f.v.Check(context.Background(), Credential{Rule: rules.ExchangeKey, Value: k.ExchangeKey, Secrets: []string{k.Secret}})
	if got.Status != scanner.StatusLive {
		t.Fatalf("time-based nonce key: %+v", got)
	}
}

func TestSecondSecretTriedOnce(t *testing.T) {
	f := newFakes(t, Config{})
	k := testkeys.New(6).Set()
	f.ex.Add(k.ExchangeKey, provtest.Account{Secret: k.Secret2, Roles: map[string]bool{"isTrader": true}})
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
	f2.ex.Add(k.ExchangeKey, provtest.Account{Secret: "other"})
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
	type want struct {
		status scanner.Status
		detail string
	}
	leakedMsg := "Your API key was reported as leaked. Please use another API key."
	cases := []struct {
		name     string
		era      provtest.StandardKeys
		answer   *provtest.GoogleAnswer // nil: unknown to Google
		aq, aiza want
	}{
		{"live", provtest.StandardAccepted, &provtest.GoogleAnswer{Status: 200},
			want{scanner.StatusLive, "lists 2 models"}, want{scanner.StatusLive, "lists 2 models"}},
		{"invalid", provtest.StandardAccepted, nil,
			want{scanner.StatusInvalid, "not valid"}, want{scanner.StatusUnknown, "Gemini no longer accepts standard keys"}},
		{"expired", provtest.StandardAccepted, &provtest.GoogleAnswer{Status: 400, Reason: "API_KEY_INVALID", State: "INVALID_ARGUMENT", Message: "API key expired. Please renew the API key."},
			want{scanner.StatusInvalid, "expired"}, want{scanner.StatusUnknown, "cannot tell a deleted key from one still live for Maps, Firebase"}},
		{"not found", provtest.StandardAccepted, &provtest.GoogleAnswer{Status: 400, Reason: "API_KEY_INVALID", State: "INVALID_ARGUMENT", Message: "API key not found. Please pass a valid API key."},
			want{scanner.StatusInvalid, "not found"}, want{scanner.StatusUnknown, "no longer accepts standard keys"}},
		{"june: live standard key refused", provtest.StandardJune2026, &provtest.GoogleAnswer{Status: 200},
			want{scanner.StatusLive, "lists 2 models"}, want{scanner.StatusLiveRestricted, "standard key refused by Gemini"}},
		{"june: unknown standard key", provtest.StandardJune2026, nil,
			want{scanner.StatusInvalid, "not valid"}, want{scanner.StatusUnknown, "no longer accepts standard keys"}},
		{"september: live standard key", provtest.StandardSeptember2026, &provtest.GoogleAnswer{Status: 200},
			want{scanner.StatusLive, "lists 2 models"}, want{scanner.StatusUnknown, "Gemini no longer accepts standard keys"}},
		{"token type", provtest.StandardAccepted, &provtest.GoogleAnswer{Status: 401, Reason: "ACCESS_TOKEN_TYPE_UNSUPPORTED", State: "UNAUTHENTICATED"},
			want{scanner.StatusUnknown, "does not tell whether the key is live"}, want{scanner.StatusLiveRestricted, "standard key refused by Gemini"}},
		{"service disabled", provtest.StandardAccepted, &provtest.GoogleAnswer{Status: 403, Reason: "SERVICE_DISABLED", State: "PERMISSION_DENIED",
			Message: "Generative Language API has not been used in project 123456789012 before or it is disabled.", Metadata: map[string]string{"consumer": "projects/123456789012"}},
			want{scanner.StatusLiveRestricted, "disabled in the key's project in project 123456789012"}, want{scanner.StatusLiveRestricted, "in project 123456789012"}},
		{"project from message", provtest.StandardAccepted, &provtest.GoogleAnswer{Status: 403, Reason: "SERVICE_DISABLED", State: "PERMISSION_DENIED",
			Message: "Generative Language API has not been used in project 987654321 before or it is disabled."},
			want{scanner.StatusLiveRestricted, "in project 987654321"}, want{scanner.StatusLiveRestricted, "in project 987654321"}},
		{"referrer", provtest.StandardAccepted, &provtest.GoogleAnswer{Status: 403, Reason: "API_KEY_HTTP_REFERRER_BLOCKED", State: "PERMISSION_DENIED", Message: "Requests from referer <empty> are blocked."},
			want{scanner.StatusLiveRestricted, "websites"}, want{scanner.StatusLiveRestricted, "websites"}},
		{"ip", provtest.StandardAccepted, &provtest.GoogleAnswer{Status: 403, Reason: "API_KEY_IP_ADDRESS_BLOCKED", State: "PERMISSION_DENIED"},
			want{scanner.StatusLiveRestricted, "IP addresses"}, want{scanner.StatusLiveRestricted, "IP addresses"}},
		{"android", provtest.StandardAccepted, &provtest.GoogleAnswer{Status: 403, Reason: "API_KEY_ANDROID_APP_BLOCKED", State: "PERMISSION_DENIED"},
			want{scanner.StatusLiveRestricted, "Android"}, want{scanner.StatusLiveRestricted, "Android"}},
		{"ios", provtest.StandardAccepted, &provtest.GoogleAnswer{Status: 403, Reason: "API_KEY_IOS_APP_BLOCKED", State: "PERMISSION_DENIED"},
			want{scanner.StatusLiveRestricted, "iOS"}, want{scanner.StatusLiveRestricted, "iOS"}},
		{"other api", provtest.StandardAccepted, &provtest.GoogleAnswer{Status: 403, Reason: "API_KEY_SERVICE_BLOCKED", State: "PERMISSION_DENIED"},
			want{scanner.StatusLiveRestricted, "may be a Vertex AI express-mode key"}, want{scanner.StatusLiveRestricted, "restricted to other APIs (API_KEY_SERVICE_BLOCKED)"}},
		{"leaked, no details", provtest.StandardAccepted, &provtest.Leaked,
			want{scanner.StatusBlocked, "reported as leaked"}, want{scanner.StatusBlocked, "reported as leaked"}},
		{"leaked, with a reason", provtest.StandardAccepted, &provtest.GoogleAnswer{Status: 403, Reason: "API_KEY_SERVICE_BLOCKED", State: "PERMISSION_DENIED", Message: leakedMsg},
			want{scanner.StatusBlocked, "leaked"}, want{scanner.StatusBlocked, "leaked"}},
		{"suspended", provtest.StandardAccepted, &provtest.GoogleAnswer{Status: 403, Reason: "CONSUMER_SUSPENDED", State: "PERMISSION_DENIED"},
			want{scanner.StatusBlocked, "suspended"}, want{scanner.StatusBlocked, "suspended"}},
		{"quota", provtest.StandardAccepted, &provtest.GoogleAnswer{Status: 429, State: "RESOURCE_EXHAUSTED"},
			want{scanner.StatusUnknown, "quota"}, want{scanner.StatusUnknown, "quota"}},
		{"billing", provtest.StandardAccepted, &provtest.GoogleAnswer{Status: 402, State: "FAILED_PRECONDITION"},
			want{scanner.StatusUnknown, "billing"}, want{scanner.StatusUnknown, "billing"}},
		{"server", provtest.StandardAccepted, &provtest.GoogleAnswer{Status: 503, State: "UNAVAILABLE"},
			want{scanner.StatusUnknown, "could not answer"}, want{scanner.StatusUnknown, "could not answer"}},
		{"unexpected", provtest.StandardAccepted, &provtest.GoogleAnswer{Status: 403, State: "PERMISSION_DENIED", Reason: "SOMETHING_NEW"},
			want{scanner.StatusUnknown, "unexpected answer HTTP 403 PERMISSION_DENIED SOMETHING_NEW"}, want{scanner.StatusUnknown, "SOMETHING_NEW"}},
	}
	g := testkeys.New(8)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakes(t, Config{}, c.era)
			for _, k := range []struct {
				rule, key string
				want      want
			}{{rules.GoogleGemini, g.AQKey(), c.aq}, {rules.GoogleAPI, g.APIKey(), c.aiza}} {
				if c.answer != nil {
					f.g.Set(k.key, *c.answer)
				}
				got := f.v.Check(context.Background(), Credential{Rule: k.rule, Value: k.key})
				if got.Status != k.want.status || !strings.Contains(got.Detail, k.want.detail) {
					t.Errorf("%s: got %s (%s), want %s with %q", k.rule, got.Status, got.Detail, k.want.status, k.want.detail)
				}
			}
			reqs := f.g.Requests()
			if len(reqs) != 2 {
				t.Errorf("%d requests, want 2", len(reqs))
			}
			for _, r := range reqs {
				if r.Method != "GET" || r.Path != "/v1beta/models" || r.RawQuery != "" || r.Header.Get("x-goog-api-key") == "" {
					t.Errorf("request %s %s?%s key header %q: the key goes in x-goog-api-key, never the URL",
						r.Method, r.Path, r.RawQuery, r.Header.Get("x-goog-api-key"))
				}
			}
		})
	}
}

// TestGoogleCredentialsMissing: the answer to a request without a key is
// a verifier bug, never a status of the key.
func TestGoogleCredentialsMissing(t *testing.T) {
	g := provtest.NewGoogle(provtest.StandardAccepted)
	defer g.Close()
	resp, err := http.Get(g.URL + "/v1beta/models")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, rule := range []string{rules.GoogleGemini, rules.GoogleAPI} {
		got := classifyGoogle(rule, &response{status: resp.StatusCode, body: body})
		if got.Status != scanner.StatusUnknown || !strings.Contains(got.Detail, "CREDENTIALS_MISSING") {
			t.Errorf("%s: got %+v", rule, got)
		}
	}
}

func TestAdvice(t *testing.T) {
	cases := []struct {
		rule          string
		res           scanner.Verification
		sandbox       bool
		impact, steps string
	}{
		{rules.ExchangeKey, scanner.Verification{Status: scanner.StatusLive, Detail: "roles: trader (can trade), fund manager (can withdraw)"}, false,
			"can withdraw funds, trade", "https://exchange.gemini.com/settings/api"},
		{rules.ExchangeKey, scanner.Verification{Status: scanner.StatusLikelyLive, Detail: "master key"}, true,
			"at worst trade and withdraw", "https://exchange.sandbox.gemini.com/settings/api"},
		{rules.ExchangeKey, scanner.Verification{Status: scanner.StatusUnknown}, false, "not known; if it is live, it can do whatever its roles allow", "revoke the key"},
		{rules.GoogleAPI, scanner.Verification{Status: scanner.StatusUnknown}, false, "not known; if it is live, it can call every Google API", "credentials page"},
		{rules.GoogleAPI, scanner.Verification{Status: scanner.StatusBlocked}, false, "", "credentials page"},
		{rules.GoogleAPI, scanner.Verification{Status: scanner.StatusLiveRestricted, Detail: "the key is valid but x in project 123456789 (SERVICE_DISABLED)"}, false,
			"every Google API", "https://console.cloud.google.com/apis/credentials?project=123456789"},
		{rules.GoogleGemini, scanner.Verification{Status: scanner.StatusLive}, false, "Gemini API", "https://aistudio.google.com/apikey"},
		{rules.GoogleGemini, scanner.Verification{Status: scanner.StatusInvalid}, false, "", "credentials page of its project"},
	}
	for i, c := range cases {
		impact, steps := Impact(c.rule, c.res), Revocation(c.rule, c.res, c.sandbox)
		if !strings.Contains(impact, c.impact) || c.impact == "" && impact != "" || !strings.Contains(steps, c.steps) {
			t.Errorf("%d: impact %q, steps %q; want %q and %q", i, impact, steps, c.impact, c.steps)
		}
	}
}

// TestOneRequestPerPair: a key found with [S] and with [S, D] is sent with
// S once, and D never (S answered); pairs of one key never overlap.
func TestOneRequestPerPair(t *testing.T) {
	f := newFakes(t, Config{MaxInFlight: 4})
	k := testkeys.New(9).Set()
	g := testkeys.New(90)
	f.g.Live(k.AQKey)
	f.ex.Add(k.ExchangeKey, provtest.Account{Secret: k.Secret, Roles: map[string]bool{"isTrader": true}})
	var inFlight, overlap atomic.Int32
	f.ex.Override = func(w http.ResponseWriter, r *http.Request) bool {
		if inFlight.Add(1) > 1 {
			overlap.Add(1)
		}
		defer inFlight.Add(-1)
		return false
	}
	other := g.Secret(28)
	var fs []scanner.Finding
	for i := 0; i < 10; i++ {
		fs = append(fs,
			scanner.Finding{Rule: rules.GoogleGemini, Value: k.AQKey, File: "a"},
			scanner.Finding{Rule: rules.ExchangeKey, Value: k.ExchangeKey, Secrets: []string{k.Secret}, File: "b"},
			scanner.Finding{Rule: rules.ExchangeKey, Value: k.ExchangeKey, Secrets: []string{k.Secret, k.Secret2}, File: "c"},
			scanner.Finding{Rule: rules.ExchangeKey, Value: k.ExchangeKey, Secrets: []string{other, k.Secret}, File: "d"})
	}
	f.v.Findings(context.Background(), fs)
	if n := len(f.g.Requests()); n != 1 {
		t.Errorf("google got %d requests, want 1", n)
	}
	sent := map[string]int{}
	for _, r := range f.ex.Requests() {
		sent[r.Header.Get("X-GEMINI-SIGNATURE")]++
	}
	if len(f.ex.Requests()) != 2 || len(sent) != 2 {
		t.Errorf("exchange got %d requests (%d distinct signatures), want 2: (key, S) and (key, other) once each",
			len(f.ex.Requests()), len(sent))
	}
	if overlap.Load() != 0 {
		t.Errorf("%d requests for one key overlapped", overlap.Load())
	}
	for _, x := range fs {
		if x.Verification == nil || x.Verification.Status != scanner.StatusLive {
			t.Errorf("%s %s: %+v", x.Rule, x.File, x.Verification)
		}
	}
}

// TestWorkerPoolBounded: at most MaxInFlight checks are under way at once.
func TestWorkerPoolBounded(t *testing.T) {
	f := newFakes(t, Config{MaxInFlight: 3})
	var inFlight, peak atomic.Int32
	f.g.Config.Handler = func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := inFlight.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			defer inFlight.Add(-1)
			next.ServeHTTP(w, r)
		})
	}(f.g.Config.Handler)
	g := testkeys.New(91)
	var fs []scanner.Finding
	for i := 0; i < 40; i++ {
		fs = append(fs, scanner.Finding{Rule: rules.GoogleAPI, Value: g.APIKey()})
	}
	f.v.Findings(context.Background(), fs)
	if n := len(f.g.Requests()); n != 40 {
		t.Errorf("%d requests, want 40", n)
	}
	if p := peak.Load(); p > 3 || p < 1 {
		t.Errorf("%d requests under way at once, want 1 to 3", p)
	}
}

// TestMismatchedRuleSendsNothing: a value is sent only where the rules say
// it belongs, whatever rule the caller names.
func TestMismatchedRuleSendsNothing(t *testing.T) {
	f := newFakes(t, Config{})
	k := testkeys.New(92).Set()
	for _, c := range []Credential{
		{Rule: rules.GoogleAPI, Value: k.Secret},
		{Rule: rules.GoogleGemini, Value: k.ExchangeKey},
		{Rule: rules.GoogleAPI, Value: k.AQKey},
		{Rule: rules.ExchangeKey, Value: k.AQKey, Secrets: []string{k.Secret}},
		{Rule: rules.ExchangeKey, Value: k.ExchangeKey + "x", Secrets: []string{k.Secret}},
		{Rule: rules.GoogleAPI, Value: "prefix " + k.APIKey},
	} {
		if got := f.v.Check(context.Background(), c); got.Status != scanner.StatusUnknown || !strings.Contains(got.Detail, "nothing was sent") {
			t.Errorf("%s %q: got %+v", c.Rule, c.Value, got)
		}
	}
	if n := len(f.ex.Requests()) + len(f.g.Requests()); n != 0 {
		t.Errorf("%d requests sent for mismatched credentials", n)
	}
}

func TestClassify(t *testing.T) {
	k := testkeys.New(93).Set()
	c := NewClassifier()
	for v, want := range map[string]string{
		k.ExchangeKey: rules.ExchangeKey, k.MasterKey: rules.ExchangeKey, k.AQKey: rules.GoogleGemini,
		k.AQOther: rules.GoogleGemini, k.APIKey: rules.GoogleAPI, k.Secret: rules.ExchangeSecret, k.Secret2: rules.ExchangeSecret,
		"hello": "", "": "", k.APIKey + " " + k.AQKey: "", "account-xxxxxxxxxxxxxxxxxxxx": "",
	} {
		if got, ok := c.Classify(v); got != want || ok != (want != "") {
			t.Errorf("Classify(%q) = %q, %v; want %q", v, got, ok, want)
		}
	}
}

func TestRateCapped(t *testing.T) {
	for _, r := range []float64{MaxRate + 0.5, 100, -1} {
		if _, err := New(Config{RatePerSecond: r}); err == nil {
			t.Errorf("rate %v accepted", r)
		}
	}
	if _, err := New(Config{RatePerSecond: MaxRate}); err != nil {
		t.Errorf("rate %v refused: %v", float64(MaxRate), err)
	}
}

func TestTimeouts(t *testing.T) {
	if connectTimeout > 3*time.Second || checkTimeout > 8*time.Second {
		t.Fatalf("connect %v, check %v: want at most 3s and 8s", connectTimeout, checkTimeout)
	}
	for _, asked := range []time.Duration{0, time.Minute} {
		v, err := New(Config{Timeout: asked})
		if err != nil {
			t.Fatal(err)
		}
		if got := v.client.http.Timeout; got != checkTimeout {
			t.Errorf("Timeout %v: client timeout %v, want %v", asked, got, checkTimeout)
		}
	}
	// A provider that never answers is unknown once the timeout passes.
	f := newFakes(t, Config{Timeout: 50 * time.Millisecond})
	release := make(chan struct{})
	defer close(release)
	f.ex.Override = func(w http.ResponseWriter, r *http.Request) bool {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return true
	}
	k := testkeys.New(94).Set()
	got := f.v.Check(context.Background(), Credential{Rule: rules.ExchangeKey, Value: k.ExchangeKey, Secrets: []string{k.Secret}})
	if got.Status != scanner.StatusUnknown || !strings.Contains(got.Detail, "no answer") {
		t.Errorf("got %+v", got)
	}
}

// TestCancelled: a cancelled run sends nothing and reports unknown.
func TestCancelled(t *testing.T) {
	f := newFakes(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	k := testkeys.New(95).Set()
	fs := []scanner.Finding{{Rule: rules.GoogleAPI, Value: k.APIKey}, {Rule: rules.ExchangeKey, Value: k.ExchangeKey, Secrets: []string{k.Secret}}}
	f.v.Findings(ctx, fs)
	for _, x := range fs {
		if x.Verification == nil || x.Verification.Status != scanner.StatusUnknown {
			t.Errorf("%s: %+v", x.Rule, x.Verification)
		}
	}
	if n := len(f.ex.Requests()) + len(f.g.Requests()); n != 0 {
		t.Errorf("%d requests sent after cancellation", n)
	}
}

// TestRateLimitPerHost checks the send times the limiter reserves, on a
// frozen clock: six requests to one host are booked exactly 1/rate apart,
// whatever the machine's load.
func TestRateLimitPerHost(t *testing.T) {
	const rate = MaxRate // requests per second
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
	other := provtest.NewGoogle(provtest.StandardAccepted)
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

func TestBaseURLs(t *testing.T) {
	refused := []struct{ gemini, google string }{
		{gemini: "http://example.com"},
		{gemini: "https://example.com"},
		{gemini: "https://api.gemini.com.example.com"},
		{gemini: "https://api.gemini.com/v1"},
		{gemini: "https://api.gemini.com/prefix/"},
		{gemini: "http://api.gemini.com"},
		{gemini: "https://api.gemini.com:8443"},
		{gemini: "https://user:pw@api.gemini.com"},
		{gemini: "https://api.gemini.com?x=1"},
		{gemini: "https://api.gemini.com#x"},
		{gemini: "https://generativelanguage.googleapis.com"},
		{google: "https://api.gemini.com"},
		{google: "https://generativelanguage.googleapis.com/v1beta"},
		{google: "https://evil.example"},
		{gemini: "ftp://127.0.0.1"},
		{gemini: "http://10.0.0.1:8080"},
		{gemini: "http://localhost:9"},
		{gemini: "http://127.0.0.1:9/gemini"},
		{gemini: "://"},
		{gemini: "api.gemini.com"},
		{gemini: "https://api.gemini.com."},
		{gemini: "https://api.gemini.com@evil.example"},
		{gemini: "https://evil.example#@api.gemini.com"},
		{gemini: "http://127.1:9"},
		{gemini: "http://0x7f000001:9"},
		{gemini: "http://127.0.0.1.nip.io:9"},
		{google: "https://generativelanguage.googleapis.com?x=y"},
	}
	for _, u := range refused {
		_, err := New(Config{GeminiURL: u.gemini, GoogleURL: u.google})
		if !errors.Is(err, ErrRefused) {
			t.Errorf("%+v: err %v, want ErrRefused", u, err)
		}
		if CheckConfig(Config{GeminiURL: u.gemini, GoogleURL: u.google}) == nil {
			t.Errorf("%+v: CheckConfig accepted", u)
		}
	}
	for _, u := range []struct{ gemini, google string }{
		{"https://api.gemini.com", "https://generativelanguage.googleapis.com"},
		{"https://api.sandbox.gemini.com/", "https://generativelanguage.googleapis.com:443"},
		{"http://127.0.0.1:9", "http://[::1]:9"},
		{"https://127.0.0.1:9", ""},
		{"HTTPS://API.Gemini.com", "https://GenerativeLanguage.googleapis.com"},
	} {
		if _, err := New(Config{GeminiURL: u.gemini, GoogleURL: u.google}); err != nil {
			t.Errorf("%+v refused: %v", u, err)
		}
	}
}

// TestProviderTextEscaped: what a provider writes reaches a Detail with its
// control characters escaped, on one line, cut short.
func TestProviderTextEscaped(t *testing.T) {
	f := newFakes(t, Config{})
	g := testkeys.New(96)
	key := g.AQKey()
	f.g.Set(key, provtest.GoogleAnswer{Status: 403, State: "PERMISSION_DENIED\x1b]0;x\x07", Reason: "R\u202e\n" + strings.Repeat("é", 300)})
	got := f.v.Check(context.Background(), Credential{Rule: rules.GoogleGemini, Value: key})
	if strings.ContainsAny(got.Detail, "\x1b\x07\u202e\n") || !utf8.ValidString(got.Detail) {
		t.Errorf("raw control characters or invalid UTF-8 in %q", got.Detail)
	}
	if !strings.Contains(got.Detail, `PERMISSION_DENIED\x1b]0;x\a R\u202e`) || !strings.HasSuffix(got.Detail, "…") {
		t.Errorf("detail %q", got.Detail)
	}
}

// TestClassifyBodies reads answers as the providers write them, extra
// fields and unexpected types included.
func TestClassifyBodies(t *testing.T) {
	f := newFakes(t, Config{})
	exchange := []struct {
		status int
		body   string
		want   scanner.Status
	}{
		{200, `{"counterparty_id":"ABC","isAuditor":false,"isFundManager":true,"isTrader":true}`, scanner.StatusLive},
		{200, `{"isAuditor":true}`, scanner.StatusLive},
		{200, `{"isTrader":"yes"}`, scanner.StatusUnknown},
		{400, `{"result":"error","reason":"InvalidSignature","message":"InvalidSignature"}`, scanner.StatusRejected},
		{400, `{"error":"InvalidSignature"}`, scanner.StatusRejected},
		{403, `{"error":"MissingRole","message":"role required"}`, scanner.StatusLiveRestricted},
		{400, `{"result":"error","reason":{"nested":true},"message":"Invalid API key"}`, scanner.StatusInvalid},
		{400, `{"result":"error","error":"MissingAccounts","message":"Master API keys require an account"}`, scanner.StatusLikelyLive},
		{200, `{"result":"error","reason":"AccountClosed"}`, scanner.StatusBlocked},
		{502, `<html>Bad gateway</html>`, scanner.StatusUnknown},
		{400, `not json`, scanner.StatusUnknown},
	}
	for _, c := range exchange {
		if got := f.v.classifyExchange(&response{status: c.status, body: []byte(c.body)}); got.Status != c.want {
			t.Errorf("exchange %d %s: got %+v, want %s", c.status, c.body, got, c.want)
		}
	}
	google := []struct {
		rule   string
		status int
		body   string
		want   scanner.Status
	}{
		{rules.GoogleGemini, 400, `{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com","metadata":{"service":"generativelanguage.googleapis.com"}},{"@type":"type.googleapis.com/google.rpc.LocalizedMessage","locale":"en-US","message":"API key not valid. Please pass a valid API key."}]}}`, scanner.StatusInvalid},
		{rules.GoogleAPI, 400, `{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID"}]}}`, scanner.StatusUnknown},
		{rules.GoogleAPI, 401, `{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"ACCESS_TOKEN_TYPE_UNSUPPORTED","metadata":{"method":"google.ai.generativelanguage.v1beta.ModelService.ListModels","service":"generativelanguage.googleapis.com"}}]}}`, scanner.StatusLiveRestricted},
		{rules.GoogleGemini, 401, `{"error":{"code":401,"status":"UNAUTHENTICATED","details":[{"reason":"ACCESS_TOKEN_TYPE_UNSUPPORTED"}]}}`, scanner.StatusUnknown},
		{rules.GoogleGemini, 403, `{"error":{"code":403,"message":"Requests to this API generativelanguage.googleapis.com method google.ai.generativelanguage.v1beta.ModelService.ListModels are blocked.","status":"PERMISSION_DENIED","details":[{"@type":"type.googleapis.com/google.rpc.Help","links":[{"url":"https://x"}]},{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_SERVICE_BLOCKED","metadata":{"consumer":"projects/my-app-1234","weird":7}}]}}`, scanner.StatusLiveRestricted},
		{rules.GoogleAPI, 403, `{"error":{"code":403,"message":"Your API key was reported as leaked. Please use another API key.","status":"PERMISSION_DENIED"}}`, scanner.StatusBlocked},
		{rules.GoogleAPI, 200, `{"models":[]}`, scanner.StatusLive},
		{rules.GoogleAPI, 200, `{}`, scanner.StatusUnknown},
		{rules.GoogleAPI, 200, `<html>captive portal</html>`, scanner.StatusUnknown},
		{rules.GoogleAPI, 302, ``, scanner.StatusUnknown},
	}
	for _, c := range google {
		got := classifyGoogle(c.rule, &response{status: c.status, body: []byte(c.body)})
		if got.Status != c.want {
			t.Errorf("google %s %d %.60s: got %+v, want %s", c.rule, c.status, c.body, got, c.want)
		}
	}
	got := classifyGoogle(rules.GoogleGemini, &response{status: 403, body: []byte(google[4].body)})
	if !strings.Contains(got.Detail, "in project my-app-1234") {
		t.Errorf("project not named: %s", got.Detail)
	}
}

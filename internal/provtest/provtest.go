// Package provtest runs loopback fakes of the Gemini exchange's private REST
// API and Google's Generative Language API, for tests only (as httptest does
// for servers). They model the providers, not gemscan: the exchange fake
// checks header names, the payload's request path, the HMAC-SHA384 signature
// and the nonce rules, answers errors in either of the two body shapes the
// exchange uses, and names a counterparty only for master keys; the Google
// fake answers standard keys as Gemini did before June 2026, from June, and
// from September 2026. Both record what they received so tests can assert
// what was (and was not) sent.
package provtest

import (
	"crypto/hmac"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Request is what a fake received.
type Request struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte
	At                     time.Time
	// Nonce is the exchange payload's nonce (exchange fake only).
	Nonce int64
}

// Dump returns everything the request carried, as text.
func (r Request) Dump() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s?%s\n", r.Method, r.Path, r.RawQuery)
	for k, vs := range r.Header {
		fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(vs, ","))
	}
	b.Write(r.Body)
	return b.String()
}

type recorder struct {
	mu   sync.Mutex
	reqs []Request
}

func (rec *recorder) record(r *http.Request) Request {
	body, _ := io.ReadAll(r.Body)
	req := Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: body, At: time.Now()}
	return req
}

func (rec *recorder) add(req Request) {
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, req)
	rec.mu.Unlock()
}

// Requests returns what the fake has received so far.
func (rec *recorder) Requests() []Request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]Request(nil), rec.reqs...)
}

// Account is an exchange API key known to the fake.
type Account struct {
	Secret string
	// TimeNonce marks a key with a time-based nonce (±30 s of now).
	TimeNonce bool
	// Roles is the roles document answered on success.
	Roles map[string]bool
	// Fail, when set, is answered after a good signature and nonce:
	// a reason such as "MissingRole", "AccountClosed", "RemoteAddressForbidden".
	Fail string
	// Status is the HTTP status for Fail (default 400).
	Status int

	lastNonce int64
}

// Exchange is a fake of the exchange's private REST API.
type Exchange struct {
	*httptest.Server
	recorder
	mu       sync.Mutex
	accounts map[string]*Account
	// Override, when set, answers every request with this status and body
	// before any check (to simulate 429, 5xx, maintenance, redirects).
	Override func(w http.ResponseWriter, r *http.Request) bool
	// ErrorField names the field that carries an error's reason: "reason"
	// (the default) or "error", the two shapes the exchange's SDK fixtures
	// show.
	ErrorField string
}

// NewExchange starts an exchange fake on 127.0.0.1.
func NewExchange() *Exchange {
	e := &Exchange{accounts: map[string]*Account{}}
	e.Server = httptest.NewServer(http.HandlerFunc(e.serve))
	return e
}

// Add registers an API key.
func (e *Exchange) Add(key string, a Account) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.accounts[key] = &a
}

func (e *Exchange) fail(w http.ResponseWriter, status int, reason, msg string) {
	field := e.ErrorField
	if field == "" {
		field = "reason"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"result": "error", field: reason, "message": msg})
}

func (e *Exchange) serve(w http.ResponseWriter, r *http.Request) {
	req := e.record(r)
	defer func() { e.add(req) }()
	if e.Override != nil && e.Override(w, r) {
		return
	}
	if r.Method != http.MethodPost {
		e.fail(w, 405, "MethodNotAllowed", "POST only")
		return
	}
	for _, h := range []string{"X-GEMINI-APIKEY", "X-GEMINI-PAYLOAD", "X-GEMINI-SIGNATURE"} {
		if r.Header.Get(h) == "" {
			name := strings.TrimPrefix(h, "X-GEMINI-")
			e.fail(w, 401, "Missing"+strings.ToUpper(name[:1])+strings.ToLower(name[1:])+"Header", "missing header "+h)
			return
		}
	}
	if len(req.Body) != 0 || r.Header.Get("Content-Type") != "text/plain" || r.Header.Get("Cache-Control") != "no-cache" {
		e.fail(w, 400, "InvalidRequest", "private API requests carry an empty text/plain body and no-cache")
		return
	}
	payloadB64 := r.Header.Get("X-GEMINI-PAYLOAD")
	raw, err := base64.StdEncoding.DecodeString(payloadB64)
	var payload struct {
		Request string          `json:"request"`
		Nonce   json.RawMessage `json:"nonce"`
		Account string          `json:"account"`
	}
	if err != nil || json.Unmarshal(raw, &payload) != nil {
		e.fail(w, 400, "InvalidJson", "payload is not base64 JSON")
		return
	}
	if payload.Request != r.URL.Path {
		e.fail(w, 400, "EndpointMismatch", "payload request does not match the endpoint")
		return
	}
	var nonce int64
	if err := json.Unmarshal(payload.Nonce, &nonce); err != nil {
		e.fail(w, 400, "InvalidNonce", "nonce must be an integer")
		return
	}
	req.Nonce = nonce
	e.mu.Lock()
	defer e.mu.Unlock()
	acct, ok := e.accounts[r.Header.Get("X-GEMINI-APIKEY")]
	if !ok {
		e.fail(w, 400, "InvalidApiKey", "Invalid API key")
		return
	}
	m := hmac.New(sha512.New384, []byte(acct.Secret))
	m.Write([]byte(payloadB64))
	if !hmac.Equal([]byte(hex.EncodeToString(m.Sum(nil))), []byte(r.Header.Get("X-GEMINI-SIGNATURE"))) {
		e.fail(w, 400, "InvalidSignature", "InvalidSignature")
		return
	}
	if acct.TimeNonce {
		if d := nonce - time.Now().Unix(); d < -30 || d > 30 {
			e.fail(w, 400, "InvalidNonce", fmt.Sprintf("Nonce '%d' not within 30 seconds of server time", nonce))
			return
		}
	} else if nonce <= acct.lastNonce {
		e.fail(w, 400, "InvalidNonce", fmt.Sprintf("Nonce '%d' has not increased since your last call", nonce))
		return
	}
	acct.lastNonce = nonce
	if acct.Fail != "" {
		status := acct.Status
		if status == 0 {
			status = 400
		}
		e.fail(w, status, acct.Fail, acct.Fail)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	roles := map[string]any{}
	for _, k := range []string{"isAuditor", "isTrader", "isFundManager"} {
		roles[k] = acct.Roles[k]
	}
	if strings.HasPrefix(r.Header.Get("X-GEMINI-APIKEY"), "master-") {
		// Only a master (group) key names its counterparty and reports
		// whether it administers the group's accounts.
		roles["isAccountAdmin"] = acct.Roles["isAccountAdmin"]
		roles["counterparty_id"] = "ABC123"
	}
	json.NewEncoder(w).Encode(roles)
}

// GoogleAnswer is how the Google fake answers for one key.
type GoogleAnswer struct {
	Status  int
	Reason  string // error.details[].reason; no details when empty
	State   string // error.status
	Message string
	// Metadata is the ErrorInfo's metadata (e.g. "consumer": "projects/N").
	Metadata map[string]string
}

// Leaked is Google's answer for a key it blocked as leaked: a 403 with no
// details at all.
var Leaked = GoogleAnswer{Status: 403, State: "PERMISSION_DENIED",
	Message: "Your API key was reported as leaked. Please use another API key."}

// StandardKeys is how Gemini treats standard (AIza) Google API keys.
type StandardKeys int

// The eras of standard keys on Gemini.
const (
	// StandardAccepted: before June 2026, standard keys work like any key.
	StandardAccepted StandardKeys = iota
	// StandardJune2026: unrestricted standard keys are refused with 401
	// ACCESS_TOKEN_TYPE_UNSUPPORTED; unknown ones are API_KEY_INVALID.
	StandardJune2026
	// StandardSeptember2026: every standard key, live or not, gets 400
	// API_KEY_INVALID.
	StandardSeptember2026
)

// Google is a fake of the Generative Language API's model list.
type Google struct {
	*httptest.Server
	recorder
	mu   sync.Mutex
	keys map[string]GoogleAnswer
	era  StandardKeys
}

// NewGoogle starts a Google fake on 127.0.0.1 that answers standard keys as
// era says. Unknown keys get the API_KEY_INVALID answer.
func NewGoogle(era StandardKeys) *Google {
	g := &Google{keys: map[string]GoogleAnswer{}, era: era}
	g.Server = httptest.NewServer(http.HandlerFunc(g.serve))
	return g
}

// Live registers a key that works.
func (g *Google) Live(key string) { g.Set(key, GoogleAnswer{Status: 200}) }

// Set registers how to answer for key (before the era's rules apply).
func (g *Google) Set(key string, a GoogleAnswer) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.keys[key] = a
}

var (
	invalidKey = GoogleAnswer{Status: 400, Reason: "API_KEY_INVALID", State: "INVALID_ARGUMENT",
		Message: "API key not valid. Please pass a valid API key."}
	tokenType = GoogleAnswer{Status: 401, Reason: "ACCESS_TOKEN_TYPE_UNSUPPORTED", State: "UNAUTHENTICATED",
		Message: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential."}
	missing = GoogleAnswer{Status: 401, Reason: "CREDENTIALS_MISSING", State: "UNAUTHENTICATED",
		Message: "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential."}
)

func (g *Google) serve(w http.ResponseWriter, r *http.Request) {
	req := g.record(r)
	defer func() { g.add(req) }()
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodGet || r.URL.Path != "/v1beta/models" {
		w.WriteHeader(404)
		fmt.Fprint(w, `{"error":{"code":404,"message":"not found","status":"NOT_FOUND"}}`)
		return
	}
	key := r.Header.Get("x-goog-api-key")
	if key == "" {
		key = r.URL.Query().Get("key")
	}
	g.mu.Lock()
	a, ok := g.keys[key]
	era := g.era
	g.mu.Unlock()
	switch {
	case key == "":
		a = missing
	case strings.HasPrefix(key, "AIza") && era == StandardSeptember2026:
		a = invalidKey
	case !ok:
		a = invalidKey
	case strings.HasPrefix(key, "AIza") && era == StandardJune2026 && a.Status == 200:
		a = tokenType
	}
	if a.Status == 200 {
		fmt.Fprint(w, `{"models":[{"name":"models/gemini-2.5-flash"},{"name":"models/gemini-2.5-pro"}]}`)
		return
	}
	w.WriteHeader(a.Status)
	e := map[string]any{"code": a.Status, "message": a.Message, "status": a.State}
	if a.Reason != "" {
		info := map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": a.Reason, "domain": "googleapis.com"}
		if a.Metadata != nil {
			info["metadata"] = a.Metadata
		}
		e["details"] = []map[string]any{info}
	}
	json.NewEncoder(w).Encode(map[string]any{"error": e})
}

package verify

import (
	"context"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gemscan-dev/gemscan/scanner"
)

// Sign returns the exchange's signature of a base64 payload: the hex
// HMAC-SHA384 of the payload string, keyed with the API secret.
func Sign(secret, payloadB64 string) string {
	m := hmac.New(sha512.New384, []byte(secret))
	m.Write([]byte(payloadB64))
	return hex.EncodeToString(m.Sum(nil))
}

// rolesPayload is the JSON payload of a POST /v1/roles. The nonce is Unix
// seconds: keys with a time-based nonce accept only that, and every other key
// accepts any nonce above its last one, so seconds never push the key's
// floor above what its owner's own client will send next.
type rolesPayload struct {
	Request string `json:"request"`
	Nonce   int64  `json:"nonce"`
}

// exchangeCheck verifies one key with one secret: exactly one request.
func (v *Verifier) exchangeCheck(ctx context.Context, key, secret string, nonce int64) scanner.Verification {
	req, err := http.NewRequest(http.MethodPost, v.gemini.String()+rolesPath, http.NoBody)
	if err != nil {
		return unknown("build request: %v", err)
	}
	// The payload names the request's path, which the exchange checks
	// (under a base URL with a path, such as a proxy's, the whole path).
	payload, _ := json.Marshal(rolesPayload{Request: req.URL.Path, Nonce: nonce})
	b64 := base64.StdEncoding.EncodeToString(payload)
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Content-Length", "0")
	req.Header.Set("Cache-Control", "no-cache")
	req.Header.Set("X-GEMINI-APIKEY", key)
	req.Header.Set("X-GEMINI-PAYLOAD", b64)
	req.Header.Set("X-GEMINI-SIGNATURE", Sign(secret, b64))
	resp, err := v.client.do(ctx, req)
	if err != nil {
		return networkFailure(err)
	}
	return v.classifyExchange(resp)
}

// exchangeError is the exchange's error body. Its SDK fixtures show the
// reason under two names: {"reason": R} and {"error": R}.
type exchangeError struct {
	Result, Reason, Error, Message string
}

// parseExchangeError reads the error fields one by one, so a field of an
// unexpected type loses only itself.
func parseExchangeError(body []byte) (exchangeError, bool) {
	var e exchangeError
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) != nil {
		return e, false
	}
	_ = json.Unmarshal(doc["result"], &e.Result)
	_ = json.Unmarshal(doc["reason"], &e.Reason)
	_ = json.Unmarshal(doc["error"], &e.Error)
	_ = json.Unmarshal(doc["message"], &e.Message)
	return e, true
}

// roles is the body of a successful POST /v1/roles; a flag the exchange
// did not send stays nil.
type roles struct {
	IsAuditor      *bool `json:"isAuditor"`
	IsTrader       *bool `json:"isTrader"`
	IsFundManager  *bool `json:"isFundManager"`
	IsAccountAdmin *bool `json:"isAccountAdmin"`
}

func (ro roles) any() bool {
	return ro.IsAuditor != nil || ro.IsTrader != nil || ro.IsFundManager != nil || ro.IsAccountAdmin != nil
}

// isSandbox reports whether the base URL is the exchange's sandbox.
func (v *Verifier) isSandbox() bool { return v.gemini.Hostname() == sandboxHost }

// sandboxHost is SandboxGeminiURL's host.
const sandboxHost = "api.sandbox.gemini.com"

// IsSandbox reports whether the exchange base URL raw is the exchange's
// sandbox (SandboxGeminiURL's host).
func IsSandbox(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.Hostname() == sandboxHost
}

func (v *Verifier) classifyExchange(r *response) scanner.Verification {
	if r.status >= 300 && r.status < 400 {
		return unknown("HTTP %d redirect to %q not followed", r.status, oneLine(r.location))
	}
	e, isObject := parseExchangeError(r.body)
	reason := e.Reason
	if reason == "" {
		reason = e.Error
	}
	reason = oneLine(reason)
	if r.status == http.StatusOK && e.Result != "error" && reason == "" {
		var ro roles
		if !isObject || json.Unmarshal(r.body, &ro) != nil || !ro.any() {
			return unknown("HTTP 200 without the role flags of /v1/roles: not the exchange's answer")
		}
		return scanner.Verification{Status: scanner.StatusLive, Detail: describeRoles(ro)}
	}
	msg := oneLine(e.Message)
	switch {
	case reason == "InvalidApiKey" || strings.EqualFold(strings.TrimSuffix(msg, "."), "Invalid API key"):
		d := "the exchange does not know this API key (InvalidApiKey)"
		if !v.isSandbox() {
			d += "; it may be a sandbox key: try --gemini-url " + SandboxGeminiURL
		}
		return scanner.Verification{Status: scanner.StatusInvalid, Detail: d}
	case reason == "InvalidSignature":
		return scanner.Verification{Status: scanner.StatusRejected,
			Detail: "signature rejected (InvalidSignature): the key was revoked, or the secret beside it is not its secret"}
	case reason == "MissingRole":
		return scanner.Verification{Status: scanner.StatusLiveRestricted,
			Detail: "the key and secret work but the key lacks the role for /v1/roles (MissingRole)"}
	case reason == "RemoteAddressForbidden" || reason == "ApiKeyIpFilteringFailure":
		return scanner.Verification{Status: scanner.StatusLiveRestricted,
			Detail: fmt.Sprintf("the key works only from its allowed IP addresses (%s)", reason)}
	case reason == "MissingAccounts" || reason == "MissingAccountName" || reason == "InvalidAccountName":
		return scanner.Verification{Status: scanner.StatusLikelyLive,
			Detail: fmt.Sprintf("a master key: the exchange asks which account to act for (%s), which it does for a "+
				"master key it knows; roles not read (no second request is made)", reason)}
	case reason == "InvalidNonce" || reason == "BadNonce":
		return scanner.Verification{Status: scanner.StatusLikelyLive,
			Detail: fmt.Sprintf("the exchange knows this key but refused the nonce (%s), as it does when the key's owner "+
				"signs with millisecond nonces; the secret was not confirmed and the roles were not read", reason)}
	case reason == "AccountClosed":
		return scanner.Verification{Status: scanner.StatusBlocked, Detail: "the account is closed (AccountClosed)"}
	case r.status == http.StatusTooManyRequests || reason == "RateLimit" || reason == "RateLimited":
		return unknown("rate limited by the exchange (HTTP %d %s); try again later", r.status, reason)
	case reason == "Maintenance" || reason == "System" || r.status >= 500:
		return unknown("the exchange could not answer (HTTP %d %s)", r.status, reason)
	case strings.HasPrefix(reason, "Missing") && strings.HasSuffix(reason, "Header"),
		reason == "InvalidJson", reason == "EndpointMismatch":
		return unknown("gemscan sent a malformed request (%s): please report this bug", reason)
	}
	if reason == "" {
		reason = "no reason given"
	}
	return unknown("unexpected answer HTTP %d (%s)", r.status, reason)
}

func describeRoles(ro roles) string {
	on := func(b *bool) bool { return b != nil && *b }
	var rs []string
	if on(ro.IsAccountAdmin) {
		rs = append(rs, "account admin")
	}
	if on(ro.IsTrader) {
		rs = append(rs, "trader (can trade)")
	}
	if on(ro.IsFundManager) {
		rs = append(rs, "fund manager (can withdraw)")
	}
	if on(ro.IsAuditor) {
		rs = append(rs, "auditor (read-only)")
	}
	if len(rs) == 0 {
		return "the key and secret work; no roles granted"
	}
	return "roles: " + strings.Join(rs, ", ")
}

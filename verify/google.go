package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/gemscan-dev/gemscan/scanner"
)

// googleCheck lists the public Gemini models with the key in a header (never
// in the URL, where logs and proxies would keep it). It costs nothing and
// reads no user data.
func (v *Verifier) googleCheck(ctx context.Context, key string) scanner.Verification {
	req, err := http.NewRequest(http.MethodGet, v.google.String()+modelsPath, nil)
	if err != nil {
		return unknown("build request: %v", err)
	}
	req.Header.Set("x-goog-api-key", key)
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.do(ctx, req)
	if err != nil {
		return networkFailure(err)
	}
	return classifyGoogle(resp)
}

// googleError is Google's error body.
type googleError struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
		Details []struct {
			Reason   string            `json:"reason"`
			Metadata map[string]string `json:"metadata"`
		} `json:"details"`
	} `json:"error"`
}

// restrictions names the reasons that mean "valid key, not allowed here".
var restrictions = map[string]string{
	"SERVICE_DISABLED":              "the Generative Language API is disabled in the key's project",
	"API_KEY_SERVICE_BLOCKED":       "the key is restricted to other APIs",
	"API_KEY_HTTP_REFERRER_BLOCKED": "the key is restricted to certain websites (HTTP referrers)",
	"API_KEY_IP_ADDRESS_BLOCKED":    "the key is restricted to certain IP addresses",
	"API_KEY_ANDROID_APP_BLOCKED":   "the key is restricted to certain Android apps",
	"API_KEY_IOS_APP_BLOCKED":       "the key is restricted to certain iOS apps",
}

func classifyGoogle(r *response) scanner.Verification {
	if r.status >= 300 && r.status < 400 {
		return unknown("HTTP %d redirect to %q not followed", r.status, r.location)
	}
	if r.status == http.StatusOK {
		var ok struct {
			Models []json.RawMessage `json:"models"`
		}
		if err := json.Unmarshal(r.body, &ok); err != nil || ok.Models == nil {
			return unknown("HTTP 200 without a model list")
		}
		return scanner.Verification{Status: scanner.StatusLive,
			Detail: fmt.Sprintf("the key can call the Gemini API (lists %d models)", len(ok.Models))}
	}
	var e googleError
	_ = json.Unmarshal(r.body, &e)
	msg := oneLine(e.Error.Message)
	lower := strings.ToLower(msg)
	var reasons []string
	for _, d := range e.Error.Details {
		if d.Reason != "" {
			reasons = append(reasons, d.Reason)
		}
	}
	has := func(reason string) bool {
		for _, r := range reasons {
			if r == reason {
				return true
			}
		}
		return false
	}
	switch {
	case strings.Contains(lower, "reported as leaked"):
		return scanner.Verification{Status: scanner.StatusBlocked, Detail: "Google blocked the key: it was reported as leaked"}
	case has("CONSUMER_SUSPENDED"):
		return scanner.Verification{Status: scanner.StatusBlocked, Detail: "Google suspended the key's project (CONSUMER_SUSPENDED)"}
	case has("API_KEY_INVALID") || strings.Contains(lower, "api key not valid") || strings.Contains(lower, "api key expired"):
		what := "not valid"
		switch {
		case strings.Contains(lower, "expired"):
			what = "expired"
		case strings.Contains(lower, "not found"):
			what = "not found"
		}
		return scanner.Verification{Status: scanner.StatusInvalid, Detail: fmt.Sprintf("Google says the key is %s (API_KEY_INVALID)", what)}
	}
	for _, reason := range reasons {
		if why, ok := restrictions[reason]; ok {
			return scanner.Verification{Status: scanner.StatusLiveRestricted, Detail: fmt.Sprintf("the key is valid but %s (%s)", why, reason)}
		}
	}
	switch {
	case r.status == http.StatusUnauthorized && (has("ACCESS_TOKEN_TYPE_UNSUPPORTED") || strings.Contains(msg, "ACCESS_TOKEN_TYPE_UNSUPPORTED")):
		return scanner.Verification{Status: scanner.StatusLikelyLive,
			Detail: "Google recognised the credential but not for this call (ACCESS_TOKEN_TYPE_UNSUPPORTED)"}
	case r.status == http.StatusTooManyRequests || r.status == http.StatusPaymentRequired:
		return unknown("Google answered HTTP %d %s (quota or billing); try again later", r.status, e.Error.Status)
	case r.status >= 500:
		return unknown("Google could not answer (HTTP %d %s)", r.status, e.Error.Status)
	}
	status := e.Error.Status
	if len(reasons) > 0 {
		status += " " + strings.Join(reasons, ",")
	}
	return unknown("unexpected answer HTTP %d %s", r.status, strings.TrimSpace(status))
}

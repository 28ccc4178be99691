package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/gemscan-dev/gemscan/rules"

	"github.com/gemscan-dev/gemscan/scanner"
)

// googleCheck lists the public Gemini models with the key in a header (never
// in the URL, where logs and proxies would keep it). It costs nothing and
// reads no user data.
func (v *Verifier) googleCheck(ctx context.Context, rule, key string) scanner.Verification {
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
	return classifyGoogle(rule, resp)
}

// googleError is what classifyGoogle reads of Google's error body.
type googleError struct {
	Message, Status string
	Details         []googleDetail
}

type googleDetail struct {
	Reason   string
	Metadata map[string]string
}

// parseGoogleError reads error.message, error.status and each detail's
// reason and metadata, field by field: a field of an unexpected type (a
// detail kind gemscan does not know) loses only itself, never the reason
// beside it.
func parseGoogleError(body []byte) googleError {
	var e googleError
	var doc struct {
		Error map[string]json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &doc) != nil {
		return e
	}
	_ = json.Unmarshal(doc.Error["message"], &e.Message)
	_ = json.Unmarshal(doc.Error["status"], &e.Status)
	var details []map[string]json.RawMessage
	_ = json.Unmarshal(doc.Error["details"], &details)
	for _, raw := range details {
		var d googleDetail
		_ = json.Unmarshal(raw["reason"], &d.Reason)
		var meta map[string]json.RawMessage
		_ = json.Unmarshal(raw["metadata"], &meta)
		for k, v := range meta {
			var s string
			if json.Unmarshal(v, &s) == nil {
				if d.Metadata == nil {
					d.Metadata = map[string]string{}
				}
				d.Metadata[k] = s
			}
		}
		e.Details = append(e.Details, d)
	}
	return e
}

// restriction explains the reasons that mean "valid key, not allowed
// here". (A function, not a map every process would build at start-up.)
func restriction(reason string) (string, bool) {
	switch reason {
	case "SERVICE_DISABLED":
		return "the Generative Language API is disabled in the key's project", true
	case "API_KEY_SERVICE_BLOCKED":
		return "the key is restricted to other APIs", true
	case "API_KEY_HTTP_REFERRER_BLOCKED":
		return "the key is restricted to certain websites (HTTP referrers)", true
	case "API_KEY_IP_ADDRESS_BLOCKED":
		return "the key is restricted to certain IP addresses", true
	case "API_KEY_ANDROID_APP_BLOCKED":
		return "the key is restricted to certain Android apps", true
	case "API_KEY_IOS_APP_BLOCKED":
		return "the key is restricted to certain iOS apps", true
	}
	return "", false
}

// The key's project, in Google's error metadata ("projects/my-app-1234",
// "projects/123456") or message ("… in project 123456 before …"). Compiled
// on first use, not at start-up: most runs never verify.
var (
	projectIDRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(?:projects/)?([a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]{6,20})$`)
	})
	projectMsgRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\bproject ([0-9]{6,20})\b`) })
)

// classifyGoogle reads Google's answer for a key found by rule. The same
// answer means different things for standard (AIza) and auth (AQ.) keys:
// since September 2026 Gemini answers API_KEY_INVALID to every standard key.
func classifyGoogle(rule string, r *response) scanner.Verification {
	if r.status >= 300 && r.status < 400 {
		return unknown("HTTP %d redirect to %q not followed", r.status, oneLine(r.location))
	}
	standard := rule == rules.GoogleAPI
	if r.status == http.StatusOK {
		var ok struct {
			Models []json.RawMessage `json:"models"`
		}
		if err := json.Unmarshal(r.body, &ok); err != nil || ok.Models == nil {
			return unknown("HTTP 200 without a model list: not Google's answer")
		}
		return scanner.Verification{Status: scanner.StatusLive,
			Detail: fmt.Sprintf("the key can call the Gemini API (lists %d models)", len(ok.Models))}
	}
	e := parseGoogleError(r.body)
	msg := oneLine(e.Message)
	lower := strings.ToLower(msg)
	var reasons []string
	project := ""
	for _, d := range e.Details {
		if d.Reason != "" {
			reasons = append(reasons, oneLine(d.Reason))
		}
		for _, k := range []string{"consumer", "containerInfo", "project"} {
			if m := projectIDRe().FindStringSubmatch(d.Metadata[k]); project == "" && m != nil {
				project = m[1]
			}
		}
	}
	if m := projectMsgRe().FindStringSubmatch(msg); project == "" && m != nil {
		project = m[1]
	}
	inProject := ""
	if project != "" {
		inProject = " in project " + project
	}
	has := func(reason string) bool { return slices.Contains(reasons, reason) }
	switch {
	case strings.Contains(lower, "reported as leaked"):
		return scanner.Verification{Status: scanner.StatusBlocked, Detail: "Google blocked the key: it was reported as leaked" + inProject}
	case has("CONSUMER_SUSPENDED"):
		return scanner.Verification{Status: scanner.StatusBlocked, Detail: "Google suspended the key's project" + inProject + " (CONSUMER_SUSPENDED)"}
	case has("API_KEY_INVALID") || strings.Contains(lower, "api key not valid") || strings.Contains(lower, "api key expired"):
		if standard {
			return unknown("Gemini no longer accepts standard keys (API_KEY_INVALID for every AIza key since September 2026); " +
				"this cannot tell a deleted key from one still live for Maps, Firebase or other Google APIs")
		}
		what := "not valid"
		switch {
		case strings.Contains(lower, "expired"):
			what = "expired"
		case strings.Contains(lower, "not found"):
			what = "not found"
		}
		return scanner.Verification{Status: scanner.StatusInvalid, Detail: fmt.Sprintf("Google says the key is %s (API_KEY_INVALID)", what)}
	case r.status == http.StatusUnauthorized && (has("ACCESS_TOKEN_TYPE_UNSUPPORTED") || strings.Contains(msg, "ACCESS_TOKEN_TYPE_UNSUPPORTED")):
		if standard {
			return scanner.Verification{Status: scanner.StatusLiveRestricted,
				Detail: "standard key refused by Gemini (ACCESS_TOKEN_TYPE_UNSUPPORTED): Google knows it, and it may still work for other Google APIs" + inProject}
		}
		return unknown("Google did not accept this kind of credential for the call (ACCESS_TOKEN_TYPE_UNSUPPORTED); " +
			"this does not tell whether the key is live")
	case has("CREDENTIALS_MISSING"):
		return unknown("Google did not take the key as a credential for this API (CREDENTIALS_MISSING); " +
			"this does not tell whether the key is live")
	}
	for _, reason := range reasons {
		if why, ok := restriction(reason); ok {
			d := fmt.Sprintf("the key is valid but %s%s (%s)", why, inProject, reason)
			if reason == "API_KEY_SERVICE_BLOCKED" && !standard {
				d += "; an AQ. key refused this way may be a Vertex AI express-mode key, which works on Vertex AI"
			}
			return scanner.Verification{Status: scanner.StatusLiveRestricted, Detail: d}
		}
	}
	switch {
	case r.status == http.StatusTooManyRequests || r.status == http.StatusPaymentRequired:
		return unknown("Google answered HTTP %d %s (quota or billing); try again later", r.status, oneLine(e.Status))
	case r.status >= 500:
		return unknown("Google could not answer (HTTP %d %s)", r.status, oneLine(e.Status))
	}
	status := oneLine(e.Status)
	if len(reasons) > 0 {
		status += " " + strings.Join(reasons, ",")
	}
	return unknown("unexpected answer HTTP %d %s", r.status, strings.TrimSpace(status))
}

package verify

import (
	"regexp"
	"strings"
	"sync"

	"github.com/gemscan-dev/gemscan/rules"
	"github.com/gemscan-dev/gemscan/scanner"
)

// detailProjectRe finds the project classifyGoogle names in a detail.
// Compiled on first use, not at start-up: most runs never verify.
var detailProjectRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(` in project ([a-z0-9-]+)`) })

// Impact says what whoever holds a credential can do, given what its
// check found: "" for one proven dead, and what it could do if it is still
// live for one not proven either way.
func Impact(rule string, res scanner.Verification) string {
	switch {
	case res.Status.IsLive():
		return ruleImpact(rule, res)
	case res.Status == scanner.StatusInvalid, res.Status == scanner.StatusBlocked:
		return ""
	}
	if i := ruleImpact(rule, scanner.Verification{}); i != "" {
		return "not known; if it is live, it " + i
	}
	return ""
}

func ruleImpact(rule string, res scanner.Verification) string {
	switch rule {
	case rules.ExchangeKey, rules.ExchangeSecret:
		d := res.Detail
		var can []string
		if strings.Contains(d, "fund manager") {
			can = append(can, "withdraw funds")
		}
		if strings.Contains(d, "trader") {
			can = append(can, "trade")
		}
		if strings.Contains(d, "account admin") {
			can = append(can, "administer the group's accounts")
		}
		if strings.Contains(d, "auditor") {
			can = append(can, "read balances and history")
		}
		if len(can) == 0 {
			return "can do whatever its roles allow (not read): at worst trade and withdraw funds"
		}
		return "can " + strings.Join(can, ", ")
	case rules.GoogleGemini:
		return "can call the Gemini API billed to its project, and read the project's uploaded files and cached content"
	case rules.GoogleAPI:
		return "can call every Google API its project enables and its restrictions allow, billed to the project"
	}
	return ""
}

// Revocation gives the steps that revoke a credential at its provider.
// sandbox says the exchange's sandbox was asked.
func Revocation(rule string, res scanner.Verification, sandbox bool) string {
	switch rule {
	case rules.ExchangeKey, rules.ExchangeSecret:
		page := "https://exchange.gemini.com/settings/api"
		if sandbox {
			page = "https://exchange.sandbox.gemini.com/settings/api"
		}
		return "sign in to the Gemini exchange, open Settings › API (" + page + "; a master key under the group's " +
			"settings) and revoke the key; then create a new key and secret for whatever used it"
	case rules.GoogleGemini, rules.GoogleAPI:
		page := "https://console.cloud.google.com/apis/credentials"
		where := "its project"
		if m := detailProjectRe().FindStringSubmatch(res.Detail); m != nil {
			page += "?project=" + m[1]
			where = "project " + m[1]
		}
		steps := "delete or regenerate the key on the Google Cloud credentials page of " + where + " (" + page + ")"
		if rule == rules.GoogleGemini {
			steps += ", or in Google AI Studio (https://aistudio.google.com/apikey)"
		}
		return steps + "; then give its users a new, restricted key"
	}
	return ""
}

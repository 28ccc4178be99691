package provtest_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gemscan-dev/gemscan/internal/provtest"
	"github.com/gemscan-dev/gemscan/internal/testkeys"
	"github.com/gemscan-dev/gemscan/verify"
)

// post sends a signed POST /v1/roles to the exchange fake, leaving out the
// headers named in skip, and returns the status and decoded body.
func post(t *testing.T, ex *provtest.Exchange, key, secret string, skip ...string) (int, map[string]any) {
	t.Helper()
	payload := base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf(`{"request":"/v1/roles","nonce":%d}`, time.Now().Unix())))
	req, err := http.NewRequest("POST", ex.URL+"/v1/roles", nil)
	if err != nil {
		t.Fatal(err)
	}
	h := map[string]string{"Content-Type": "text/plain", "Cache-Control": "no-cache", "X-GEMINI-APIKEY": key,
		"X-GEMINI-PAYLOAD": payload, "X-GEMINI-SIGNATURE": verify.Sign(secret, payload)}
	for _, s := range skip {
		delete(h, s)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func TestExchangeModel(t *testing.T) {
	ex := provtest.NewExchange()
	defer ex.Close()
	k := testkeys.New(1).Set()
	ex.Add(k.ExchangeKey, provtest.Account{Secret: k.Secret, TimeNonce: true, Roles: map[string]bool{"isTrader": true}})
	ex.Add(k.MasterKey, provtest.Account{Secret: k.Secret, TimeNonce: true, Roles: map[string]bool{"isAccountAdmin": true}})

	status, body := post(t, ex, k.ExchangeKey, k.Secret)
	if _, ok := body["counterparty_id"]; status != 200 || ok || body["isTrader"] != true || body["isAuditor"] != false {
		t.Errorf("account key: %d %v; want roles and no counterparty_id", status, body)
	}
	if _, ok := body["isAccountAdmin"]; ok {
		t.Errorf("account key reports isAccountAdmin: %v", body)
	}
	status, body = post(t, ex, k.MasterKey, k.Secret)
	if _, ok := body["counterparty_id"]; status != 200 || !ok || body["isAccountAdmin"] != true {
		t.Errorf("master key: %d %v; want counterparty_id and isAccountAdmin", status, body)
	}
	status, body = post(t, ex, k.ExchangeKey, k.Secret, "X-GEMINI-SIGNATURE")
	if status != 401 || body["reason"] != "MissingSignatureHeader" {
		t.Errorf("missing signature: %d %v", status, body)
	}
	ex.ErrorField = "error"
	status, body = post(t, ex, k.ExchangeKey, k.Secret2)
	if _, ok := body["reason"]; status != 400 || body["error"] != "InvalidSignature" || ok {
		t.Errorf("error shape: %d %v", status, body)
	}
	status, body = post(t, ex, k.AQKey, k.Secret)
	if status != 400 || body["error"] != "InvalidApiKey" {
		t.Errorf("unknown key: %d %v", status, body)
	}
}

func TestGoogleModel(t *testing.T) {
	k := testkeys.New(2).Set()
	get := func(g *provtest.Google, key string) (int, string) {
		req, err := http.NewRequest("GET", g.URL+"/v1beta/models", nil)
		if err != nil {
			t.Fatal(err)
		}
		if key != "" {
			req.Header.Set("x-goog-api-key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	cases := []struct {
		era        provtest.StandardKeys
		key        string
		status     int
		has, hasnt string
	}{
		{provtest.StandardAccepted, k.APIKey, 200, `"models"`, "error"},
		{provtest.StandardJune2026, k.APIKey, 401, "ACCESS_TOKEN_TYPE_UNSUPPORTED", "models"},
		{provtest.StandardSeptember2026, k.APIKey, 400, "API_KEY_INVALID", "models"},
		{provtest.StandardSeptember2026, k.AQKey, 200, `"models"`, "error"},
		{provtest.StandardSeptember2026, k.AQOther, 400, "API_KEY_INVALID", "models"},
		{provtest.StandardSeptember2026, "", 401, "CREDENTIALS_MISSING", "models"},
		{provtest.StandardAccepted, k.MasterKey, 403, "reported as leaked", "details"},
	}
	for i, c := range cases {
		g := provtest.NewGoogle(c.era)
		g.Live(k.APIKey)
		g.Live(k.AQKey)
		g.Set(k.MasterKey, provtest.Leaked)
		status, body := get(g, c.key)
		g.Close()
		if status != c.status || !strings.Contains(body, c.has) || strings.Contains(body, c.hasnt) {
			t.Errorf("%d: %d %s; want %d with %q, without %q", i, status, body, c.status, c.has, c.hasnt)
		}
	}
}

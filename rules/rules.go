// Package rules knows what a Gemini credential looks like: the Gemini
// exchange's API keys and secrets, and Google's Gemini (AQ.) and API (AIza)
// keys. It holds the patterns, the keyword prefilter, the validation that
// rejects placeholders, the pairing of exchange keys with their secrets and
// the decoding of encoded text. Everything here is a pure function over bytes.
package rules

// Rule describes one kind of credential for people and report formats.
// Detection itself is done by a Detector, which implements every rule.
type Rule struct {
	// ID is the stable rule ID used in reports.
	ID string
	// Title is a short plain-language name.
	Title string
	// Description says what the credential is and what a leak allows.
	Description string
	// Remediation says what to do about a leak.
	Remediation string
	// Examples are text templates the rule must report (Positive) or must
	// not report. See Example.
	Examples []Example
}

// Example is a test case carried by its rule. Text is a text/template whose
// fields are credentials generated at test time, so that no credential-shaped
// value is ever stored in the source tree:
//
//	.ExchangeKey .MasterKey  exchange API keys (account-…, master-…)
//	.Secret .Secret2         exchange API secrets (28 and 27 characters)
//	.Decoy                   a random 28-character token that is not a secret
//	.AQKey                   a Google auth key of the usual shape (AQ.Ab8RN6…)
//	.AQOther                 an AQ. key of a less usual shape
//	.APIKey                  a standard Google API key (AIza…)
//	.ExchangeKeyWord .SecretWord .AQKeyWord .APIKeyWord
//	                         keys of those shapes whose random bodies hold
//	                         a short word of template text (Test, Here, …)
//
// and whose functions encode text: b64, b64url, jsesc (JSON \u escapes of
// - . _), jsbody N (JSON \u escapes inside the body, after N plain bytes),
// pct (percent-encoding).
type Example struct {
	Name string
	Text string
	// Positive says the rule must report Want; otherwise it must report
	// nothing at all.
	Positive bool
	// Want names the field whose value must be reported (default: the
	// rule's usual field).
	Want string
	// Secret names the field that must be paired as the key's first secret;
	// "-" means the key must be reported without a secret.
	Secret string
	// Line is the line the finding must be reported on (1-based); 0 skips
	// the check.
	Line int
	// NotPaired names a field that must not be among the key's secrets,
	// first or runner-up.
	NotPaired string
}

// All returns the four rules in report order.
func All() []Rule {
	return []Rule{exchangeKeyRule(), exchangeSecretRule(), googleGeminiRule(), googleAPIRule()}
}

// ByID returns the rule with the given ID.
func ByID(id string) (Rule, bool) {
	for _, r := range All() {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

func exchangeKeyRule() Rule {
	return Rule{
		ID:    ExchangeKey,
		Title: "Gemini exchange API key",
		Description: "An API key of the Gemini cryptocurrency exchange (account- or master- key). " +
			"With its API secret it can read balances and, depending on its roles, trade or withdraw funds.",
		Remediation: "Revoke the key in the exchange's API settings (Account > Settings > API), " +
			"create a new one, and keep it in an environment variable or secret store, never in the repository.",
		Examples: []Example{
			{Name: "env pair on next line", Positive: true, Secret: "Secret", Line: 1,
				Text: "GEMINI_API_KEY={{.ExchangeKey}}\nGEMINI_API_SECRET={{.Secret}}\n"},
			{Name: "master key", Positive: true, Want: "MasterKey", Secret: "Secret2",
				Text: "export GEMINI_MASTER_KEY=\"{{.MasterKey}}\"\nexport GEMINI_MASTER_SECRET=\"{{.Secret2}}\"\n"},
			{Name: "secret three lines down beside a decoy", Positive: true, Secret: "Secret", Line: 2,
				Text: "exchange:\n  api_key: \"{{.ExchangeKey}}\"\n  session: \"{{.Decoy}}\"\n  region: us\n  api_secret: \"{{.Secret}}\"\n"},
			{Name: "secret above the key", Positive: true, Secret: "Secret2", Line: 2,
				Text: "secret = '{{.Secret2}}'\nkey = '{{.ExchangeKey}}'\n"},
			{Name: "no secret nearby", Positive: true, Secret: "-",
				Text: "const key = \"{{.ExchangeKey}}\";\n"},
			{Name: "secret in a later section", Positive: true, Secret: "Secret", Line: 2,
				Text: "[keys]\nexchange_key = {{.ExchangeKey}}\nregion = us\ntimeout = 30\nretries = 3\n\n[secrets]\nexchange_secret = {{.Secret}}\n"},
			{Name: "an unnamed token four lines away is not its secret", Positive: true, Secret: "-",
				Text: "key: {{.ExchangeKey}}\na: 1\nb: 2\nc: 3\nrequest_id: {{.Decoy}}\n"},
			{Name: "minified js", Positive: true, Secret: "Secret", Line: 1,
				Text: `!function(){var a={id:"{{.Decoy}}",k:"{{.ExchangeKey}}",s:"{{.Secret}}",u:"https://api.gemini.com"};fetch(a.u)}();`},
			{Name: "crlf", Positive: true, Secret: "Secret", Line: 2,
				Text: "[gemini]\r\napi_key = {{.ExchangeKey}}\r\napi_secret = {{.Secret}}\r\n"},
			{Name: "notebook json", Positive: true, Secret: "Secret", Line: 4,
				Text: "{\n \"cells\": [{\n   \"source\": [\n    \"API_KEY = \\\"{{.ExchangeKey}}\\\"\\n\",\n    \"API_SECRET = \\\"{{.Secret}}\\\"\\n\"\n   ]\n }]\n}\n"},
			{Name: "yaml", Positive: true, Secret: "Secret", Line: 2,
				Text: "gemini:\n  key: {{.ExchangeKey}}\n  secret: {{.Secret}}\n  sandbox: false\n"},
			{Name: "toml", Positive: true, Secret: "Secret", Line: 2,
				Text: "[exchange.gemini]\nkey = \"{{.ExchangeKey}}\"\nsecret = \"{{.Secret}}\"\n"},
			{Name: "go source", Positive: true, Secret: "Secret", Line: 3,
				Text: "package main\n\nconst apiKey = \"{{.ExchangeKey}}\"\nconst apiSecret = \"{{.Secret}}\"\n"},
			{Name: "python source", Positive: true, Secret: "Secret", Line: 1,
				Text: "client = GeminiClient(api_key='{{.ExchangeKey}}', api_secret='{{.Secret}}')\n"},
			{Name: "typescript source", Positive: true, Secret: "Secret", Line: 2,
				Text: "export const gemini = {\n  apiKey: `{{.ExchangeKey}}`,\n  apiSecret: `{{.Secret}}`,\n};\n"},
			{Name: "kubernetes secret data", Positive: true, Secret: "Secret", Line: 6,
				Text: "apiVersion: v1\nkind: Secret\nmetadata:\n  name: gemini\ndata:\n  api-key: {{b64 .ExchangeKey}}\n  api-secret: {{b64 .Secret}}\n"},
			{Name: "base64 env file", Positive: true, Secret: "Secret", Line: 1,
				Text: "ENV_FILE={{b64 (printf \"GEMINI_API_KEY=%s\\nGEMINI_API_SECRET=%s\\n\" .ExchangeKey .Secret)}}\n"},
			{Name: "json unicode escapes", Positive: true, Secret: "Secret", Line: 1,
				Text: "{\"key\":\"{{jsesc .ExchangeKey}}\",\"secret\":\"{{.Secret}}\"}\n"},
			// The secret's name on a line above its value.
			{Name: "kubernetes env list", Positive: true, Secret: "Secret", Line: 5,
				Text: "    spec:\n      containers:\n        - env:\n            - name: GEMINI_API_KEY\n              value: \"{{.ExchangeKey}}\"\n" +
					"            - name: REQUEST_ID\n              value: \"{{.Decoy}}\"\n            - name: LOG_LEVEL\n              value: debug\n" +
					"            - name: GEMINI_API_SECRET\n              value: \"{{.Secret}}\"\n"},
			{Name: "ecs environment, one entry a line", Positive: true, Secret: "Secret2", Line: 3,
				Text: "\"environment\": [\n  {\"name\": \"REGION\", \"value\": \"us-east-1\"},\n  {\"name\": \"GEMINI_API_KEY\", \"value\": \"{{.ExchangeKey}}\"},\n" +
					"  {\"name\": \"SENTRY_DSN\", \"value\": \"https://sentry.invalid/1\"},\n  {\"name\": \"GEMINI_API_SECRET\", \"value\": \"{{.Secret2}}\"}\n]\n"},
			{Name: "ecs environment, name and value on lines", Positive: true, Secret: "Secret", Line: 4,
				Text: "\"environment\": [\n  {\n    \"name\": \"GEMINI_API_KEY\",\n    \"value\": \"{{.ExchangeKey}}\"\n  },\n" +
					"  {\n    \"name\": \"GEMINI_API_SECRET\",\n    \"value\": \"{{.Secret}}\"\n  }\n]\n"},
			{Name: "postman environment", Positive: true, Secret: "Secret", Line: 7,
				Text: "{\n  \"name\": \"Gemini production\",\n  \"values\": [\n    {\n      \"key\": \"apiKey\",\n      \"type\": \"default\",\n      \"value\": \"{{.ExchangeKey}}\",\n" +
					"      \"enabled\": true\n    },\n    {\n      \"key\": \"apiSecret\",\n      \"type\": \"secret\",\n      \"value\": \"{{.Secret}}\",\n      \"enabled\": true\n    }\n  ]\n}\n"},
			{Name: "terraform variables", Positive: true, Secret: "Secret", Line: 4,
				Text: "variable \"gemini_api_key\" {\n  type      = string\n  sensitive = true\n  default   = \"{{.ExchangeKey}}\"\n}\n\n" +
					"variable \"gemini_api_secret\" {\n  description = \"Signs exchange requests\"\n  type        = string\n  sensitive   = true\n  default     = \"{{.Secret}}\"\n}\n"},
			{Name: "a value named on the line above by another app", Positive: true, Secret: "-",
				Text: "- name: GEMINI_API_KEY\n  value: {{.ExchangeKey}}\n- name: SESSION_SECRET\n  value: {{.Secret}}\n"},
			{Name: "a generic value with no name nearby stays unnamed", Positive: true, Secret: "-",
				Text: "key = \"{{.ExchangeKey}}\"\nretries = 3\ntimeout = 30\nmode = \"fast\"\ndefault = \"{{.Decoy}}\"\n"},
			// The secret passed to an HMAC-SHA384 call.
			{Name: "openssl hmac", Positive: true, Secret: "Secret", Line: 9,
				Text: "#!/bin/sh\nnonce=$(date +%s)\npayload=$(printf '{\"request\":\"/v1/balances\",\"nonce\":%s}' \"$nonce\" | base64 -w0)\n" +
					"sig=$(printf %s \"$payload\" | openssl dgst -sha384 -hmac \"{{.Secret}}\" | cut -d' ' -f2)\n" +
					"curl -s -X POST https://api.gemini.com/v1/balances \\\n  -H 'Content-Type: text/plain' \\\n  -H 'Content-Length: 0' \\\n  -H 'Cache-Control: no-cache' \\\n" +
					"  -H 'X-GEMINI-APIKEY: {{.ExchangeKey}}' \\\n  -H \"X-GEMINI-PAYLOAD: $payload\" \\\n  -H \"X-GEMINI-SIGNATURE: $sig\"\n"},
			{Name: "node createHmac", Positive: true, Secret: "Secret2", Line: 8,
				Text: "const crypto = require('crypto');\n\nfunction sign(payload) {\n  return crypto.createHmac('sha384', '{{.Secret2}}').update(payload).digest('hex');\n}\n\n" +
					"const headers = {\n  'X-GEMINI-APIKEY': '{{.ExchangeKey}}',\n  'X-GEMINI-PAYLOAD': b64,\n  'X-GEMINI-SIGNATURE': sign(b64),\n};\n"},
			{Name: "python hmac.new", Positive: true, Secret: "Secret", Line: 7,
				Text: "import base64, hashlib, hmac, json, time\n\npayload = base64.b64encode(json.dumps({'request': '/v1/roles', 'nonce': int(time.time())}).encode())\n" +
					"signature = hmac.new(b'{{.Secret}}', payload, hashlib.sha384).hexdigest()\n\nheaders = {\n    'X-GEMINI-APIKEY': '{{.MasterKey}}',\n" +
					"    'X-GEMINI-PAYLOAD': payload,\n    'X-GEMINI-SIGNATURE': signature,\n}\n",
				Want: "MasterKey"},
			{Name: "python hmac.new over several lines", Positive: true, Secret: "Secret2", Line: 9,
				Text: "def sign(payload: bytes) -> str:\n    return hmac.new(\n        b\"{{.Secret2}}\",\n        payload,\n        hashlib.sha384,\n    ).hexdigest()\n\n\nAPI_KEY = \"{{.ExchangeKey}}\"\n"},
			{Name: "a sha256 hmac over several lines is not named", Positive: true, Secret: "-",
				Text: "def sign(payload: bytes) -> str:\n    return hmac.new(\n        b\"{{.Secret2}}\",\n        payload,\n        hashlib.sha256,\n    ).hexdigest()\n\n\nAPI_KEY = \"{{.ExchangeKey}}\"\n"},
			{Name: "java HmacSHA384", Positive: true, Secret: "Secret", Line: 6,
				Text: "Mac mac = Mac.getInstance(\"HmacSHA384\");\nmac.init(new javax.crypto.spec.SecretKeySpec(\n    \"{{.Secret}}\".getBytes(UTF_8), \"HmacSHA384\"));\n" +
					"String sig = HexFormat.of().formatHex(mac.doFinal(payload.getBytes(UTF_8)));\nrequest.setHeader(\"X-GEMINI-PAYLOAD\", payload);\n" +
					"request.setHeader(\"X-GEMINI-APIKEY\", \"{{.ExchangeKey}}\");\n"},
			{Name: "an hmac key for another scheme is not named", Positive: true, Secret: "-",
				Text: "sig = crypto.createHmac('sha256', '{{.Secret}}').update(body).digest('hex')\n\n\n\nconst key = '{{.ExchangeKey}}'\n"},
			// Other applications' secrets.
			{Name: "session secret after the key", Positive: true, Secret: "-",
				Text: "GEMINI_API_KEY={{.ExchangeKey}}\nSESSION_SECRET={{.Secret}}\n"},
			{Name: "other apps' secrets beside the right one", Positive: true, Secret: "Secret", NotPaired: "Secret2", Line: 2,
				Text: "STRIPE_API_SECRET={{.Secret2}}\nGEMINI_API_KEY={{.ExchangeKey}}\nGEMINI_API_SECRET={{.Secret}}\nWEBHOOK_SECRET={{.Decoy}}\n"},
			{Name: "jwt, cookie and csrf secrets", Positive: true, Secret: "-",
				Text: "gemini:\n  key: {{.ExchangeKey}}\njwt_secret: {{.Secret}}\ncookie_secret: {{.Secret2}}\n"},
			{Name: "oauth client secret", Positive: true, Secret: "-",
				Text: "{\"gemini_key\": \"{{.ExchangeKey}}\", \"oauth\": {\"client_secret\": \"{{.Secret}}\"}}\n"},
			{Name: "a secret in another app's ini section", Positive: true, Secret: "-",
				Text: "[gemini]\nkey = {{.ExchangeKey}}\n\n[session]\nsecret = {{.Secret}}\n"},
			{Name: "a secret under another app's yaml key", Positive: true, Secret: "Secret2", NotPaired: "Secret", Line: 3,
				Text: "gemini:\n  sandbox: false\n  key: {{.ExchangeKey}}\n  secret: {{.Secret2}}\nwebhook:\n  secret: {{.Secret}}\n"},
			{Name: "a gemini client section", Positive: true, Secret: "Secret", Line: 3,
				Text: "gemini:\n  client:\n    key: {{.ExchangeKey}}\n    timeout: 30\n    retries: 3\n    secret: {{.Secret}}\n"},
			{Name: "api names in a client section", Positive: true, Secret: "Secret", Line: 3,
				Text: "[client]\nurl = https://api.gemini.com\napi_key = {{.ExchangeKey}}\nname = bot\nlevel = 2\napi_secret = {{.Secret}}\n"},
			{Name: "signing secret", Positive: true, Secret: "-",
				Text: "export GEMINI_API_KEY={{.ExchangeKey}}\nexport SIGNING_SECRET={{.Secret}}\n"},
			{Name: "json escape inside the body", Positive: true, Secret: "Secret", Line: 2,
				Text: "{\n  \"key\": \"{{jsbody 8 .ExchangeKey}}\",\n  \"secret\": \"{{.Secret}}\"\n}\n"},
			{Name: "percent-encoded", Positive: true, Line: 1,
				Text: "https://example.invalid/cb?key={{pct .ExchangeKey}}&x=1\n"},
			{Name: "a template word inside a random key and secret", Positive: true, Want: "ExchangeKeyWord", Secret: "SecretWord", Line: 1,
				Text: "GEMINI_API_KEY={{.ExchangeKeyWord}}\nGEMINI_API_SECRET={{.SecretWord}}\n"},
			{Name: "placeholder x", Text: "GEMINI_API_KEY=account-XXXXXXXXXXXXXXXXXXXX\n"},
			{Name: "template words in camel case", Text: "GEMINI_API_KEY=account-YourKeyHere7Qm2Zk9Pw\n"},
			{Name: "example key", Text: "key: master-ExampleKey7Qm2Zk9Pwx\n"},
			{Name: "example key, too long", Text: "key: master-ExampleKeyExampleKey1\n"},
			{Name: "placeholder words", Text: "GEMINI_API_KEY=account-YOURAPIKEYGOESHERE42\n"},
			{Name: "template text", Text: "key: master-EXAMPLEKEY0000000000\n"},
			{Name: "sequential", Text: "key: account-abcdefghijklmnopqrst\n"},
			{Name: "alternating-case alphabet", Text: "GEMINI_API_KEY=account-aBcDeFgHiJkLmNoPqRsT\n"},
			{Name: "descending alternating case", Text: "key: master-ZyXwVuTsRqPoNmLkJiHg\n"},
			{Name: "letter and digit triples", Text: "key: account-abc123def456ghi789jk\n"},
			{Name: "repeated", Text: "key: account-aaaaaaaaaaaaaaaaaaa1\n"},
			{Name: "plain words", Text: "see account-ProjectSettingsPanel\n"},
			{Name: "glued to a longer word", Text: "subaccount-{{slice .ExchangeKey 8}}\n"},
			{Name: "longer token", Text: "id: {{.ExchangeKey}}9x\n"},
			{Name: "too short", Text: "account-{{slice .ExchangeKey 9}}\n"},
			{Name: "url path", Text: "https://example.invalid/{{.ExchangeKey}}/\n"},
			{Name: "hexadecimal id", Text: "ref: account-3f9a2b7c4d1e8f6a0b5c\n"},
			{Name: "git branch name", Text: "remotes/origin/{{.MasterKey}}\n"},
		},
	}
}

func exchangeSecretRule() Rule {
	return Rule{
		ID:    ExchangeSecret,
		Title: "Gemini exchange API secret",
		Description: "The secret half of a Gemini exchange API key, found without its key. " +
			"Whoever also has the key can sign requests as its owner.",
		Remediation: "Find the key this secret belongs to in the exchange's API settings, revoke it and create a new one; " +
			"keep secrets in a secret store, never in the repository.",
		Examples: []Example{
			{Name: "env", Positive: true, Want: "Secret", Line: 2,
				Text: "# exchange\nGEMINI_API_SECRET={{.Secret}}\n"},
			{Name: "yaml nested", Positive: true, Want: "Secret2", Line: 2,
				Text: "gemini:\n  api_secret: \"{{.Secret2}}\"\n"},
			{Name: "snake case", Positive: true, Want: "Secret", Line: 1,
				Text: "gemini_secret: {{.Secret}}\n"},
			{Name: "kubernetes env list", Positive: true, Want: "Secret", Line: 4,
				Text: "env:\n  - name: GEMINI_API_SECRET\n    # from the vault\n    value: \"{{.Secret}}\"\n  - name: LOG_LEVEL\n    value: info\n"},
			{Name: "terraform variable", Positive: true, Want: "Secret2", Line: 5,
				Text: "variable \"gemini_api_secret\" {\n  description = \"Exchange API secret\"\n  type        = string\n  sensitive   = true\n  default     = \"{{.Secret2}}\"\n}\n"},
			{Name: "postman variable", Positive: true, Want: "Secret", Line: 3,
				Text: "{\n  \"key\": \"geminiApiSecret\",\n  \"value\": \"{{.Secret}}\",\n  \"type\": \"secret\"\n}\n"},
			{Name: "cloudformation parameters", Positive: true, Want: "Secret2", Line: 5,
				Text: "[\n  {\"ParameterKey\": \"Stage\", \"ParameterValue\": \"prod\"},\n  {\n    \"ParameterKey\": \"GeminiApiSecret\",\n    \"ParameterValue\": \"{{.Secret2}}\"\n  }\n]\n"},
			{Name: "ecs entry on one line", Positive: true, Want: "Secret", Line: 1,
				Text: "{\"name\": \"GEMINI_API_SECRET\", \"value\": \"{{.Secret}}\"},\n"},
			{Name: "another app's secret under a gemini heading", Text: "gemini:\n  session_secret: {{.Secret}}\n  webhook_secret: {{.Secret2}}\n"},
			{Name: "a gemini entry that is not a secret", Text: "- name: GEMINI_SESSION_ID\n  value: {{.Secret}}\n"},
			{Name: "the value of the next entry", Text: "- name: GEMINI_API_SECRET\n  valueFrom:\n    secretKeyRef: {name: gemini, key: secret}\n- name: CACHE_TOKEN\n  value: {{.Secret}}\n"},
			{Name: "no gemini context", Text: "DB_SECRET={{.Secret}}\n"},
			{Name: "gemini but not a secret", Text: "GEMINI_SESSION_ID={{.Decoy}}\n"},
			{Name: "gemini comment above", Text: "# Gemini exchange settings\nDB_SECRET={{.Secret}}\n"},
			{Name: "a template word inside a random secret", Positive: true, Want: "SecretWord", Line: 1,
				Text: "GEMINI_API_SECRET={{.SecretWord}}\n"},
			{Name: "placeholder", Text: "GEMINI_API_SECRET=YOURGEMINIAPISECRETGOESHERE1\n"},
			{Name: "two template words", Text: "GEMINI_API_SECRET=YourFakeValue9Qm2Zk7PwLxR4vB\n"},
			{Name: "lower case word", Text: "GEMINI_API_SECRET=thisisnotarealsecretvaluexyz\n"},
			{Name: "alternating-case alphabet", Text: "GEMINI_API_SECRET=aBcDeFgHiJkLmNoPqRsTuVwXyZ12\n"},
			{Name: "longer token", Text: "GEMINI_API_SECRET={{.Secret}}{{.Secret2}}\n"},
			{Name: "a hash", Text: "gemini_secret_sha: 9c1f3e5a7b2d4f6e8a0c1b3d5f7e\n"},
		},
	}
}

func googleGeminiRule() Rule {
	return Rule{
		ID:    GoogleGemini,
		Title: "Google Gemini API key (AQ. auth key)",
		Description: "A Google AI Studio auth key (AQ.…) for the Gemini API (also used by Vertex AI express mode). " +
			"It lets anyone call Gemini on the owner's quota and bill, and read files and cached content they uploaded.",
		Remediation: "Delete the key in Google AI Studio (API keys page) or the Cloud console's Credentials page, " +
			"create a new one, and load it from an environment variable or secret manager.",
		Examples: []Example{
			{Name: "env", Positive: true, Want: "AQKey", Line: 1, Text: "GEMINI_API_KEY={{.AQKey}}\n"},
			{Name: "python", Positive: true, Want: "AQKey", Line: 2,
				Text: "from google import genai\nclient = genai.Client(api_key=\"{{.AQKey}}\")\n"},
			{Name: "other shape", Positive: true, Want: "AQOther", Line: 1, Text: "key: '{{.AQOther}}'\n"},
			{Name: "json escapes", Positive: true, Want: "AQKey", Line: 1, Text: "{\"k\":\"{{jsesc .AQKey}}\"}\n"},
			{Name: "json escapes inside the body", Positive: true, Want: "AQKey", Line: 2,
				Text: "{\n  \"GEMINI_API_KEY\": \"{{jsbody 9 .AQKey}}\"\n}\n"},
			{Name: "json escapes late in the body", Positive: true, Want: "AQOther", Line: 1,
				Text: "{\"key\":\"{{jsbody 45 .AQOther}}\"}\n"},
			{Name: "base64", Positive: true, Want: "AQKey", Line: 2, Text: "data:\n  key: {{b64 .AQKey}}\n"},
			{Name: "a template word inside a random key", Positive: true, Want: "AQKeyWord", Line: 1, Text: "GEMINI_API_KEY={{.AQKeyWord}}\n"},
			{Name: "placeholder", Text: "GEMINI_API_KEY=AQ.YOUR_API_KEY_HERE_0000000000000000000000000000000\n"},
			{Name: "placeholder after the usual start", Text: "GEMINI_API_KEY=AQ.Ab8RN6your-key-goes-here-Q7mZ2kP9wX4vB8nJ3tR6yL1cF\n"},
			{Name: "one template word as a token", Text: "key: AQ.Ab8RN6-mock-Q7mZ2kP9wX4vB8nJ3tR6yL1cFh5Gd8Ks2Wq9Ze\n"},
			{Name: "short", Text: "AQ.Ab8RN6abcdefghijk\n"},
			{Name: "alternating-case alphabet", Text: "GEMINI_API_KEY=AQ.Ab8RN6aBcDeFgHiJkLmNoPqRsTuVwXyZ_9tq2LmXw4Rk7Hq2Nd5Sz8\n"},
			{Name: "inside a dotted token", Text: "tok=eyJhbGciOi.{{.AQKey}}.sig\n"},
			{Name: "followed by a segment", Text: "tok={{.AQKey}}.c2lnbmF0dXJl\n"},
		},
	}
}

func googleAPIRule() Rule {
	return Rule{
		ID:    GoogleAPI,
		Title: "Google API key (AIza…)",
		Description: "A standard Google API key. Any such key can call the Gemini API once its project enables the " +
			"Generative Language API, and it may also unlock Maps, Firebase or other paid Google APIs.",
		Remediation: "Delete or rotate the key in the Cloud console's Credentials page (or Google AI Studio), " +
			"restrict its replacement to the APIs and apps that need it, and load it from configuration, not code.",
		Examples: []Example{
			{Name: "env", Positive: true, Want: "APIKey", Line: 1, Text: "GOOGLE_API_KEY={{.APIKey}}\n"},
			{Name: "js", Positive: true, Want: "APIKey", Line: 1, Text: "const firebaseConfig = {apiKey: \"{{.APIKey}}\"};\n"},
			{Name: "percent", Positive: true, Want: "APIKey", Line: 1, Text: "GET /v1?key={{pct .APIKey}} HTTP/1.1\n"},
			{Name: "json escapes", Positive: true, Want: "APIKey", Line: 1, Text: "{\"key\": \"{{jsesc .APIKey}}\"}\n"},
			{Name: "json escapes inside the body", Positive: true, Want: "APIKey", Line: 1,
				Text: "{\"apiKey\": \"{{jsbody 6 .APIKey}}\"}\n"},
			{Name: "base64 url", Positive: true, Want: "APIKey", Line: 1, Text: "cfg={{b64url .APIKey}}\n"},
			{Name: "placeholder", Text: "GOOGLE_API_KEY=AIzaSyXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\n"},
			{Name: "a template word inside a random key", Positive: true, Want: "APIKeyWord", Line: 1, Text: "GOOGLE_API_KEY={{.APIKeyWord}}\n"},
			{Name: "placeholder words", Text: "key=AIzaYOUR_GOOGLE_API_KEY_GOES_IN_HERE_XY\n"},
			{Name: "your api key here", Text: "GOOGLE_API_KEY=AIzaSyYOUR_API_KEY_HERE_Q7mZ2kP9wX4vB8n\n"},
			{Name: "dummy key for testing", Text: "apiKey: \"AIzaSyDummyKeyForTestingPurposes1234Abc\"\n"},
			{Name: "one template word as a token", Text: "k=AIzaSyB_test_9Qm2Zk7PwLxR4vB8nJ3tR6yL1c\n"},
			{Name: "too long", Text: "k={{.APIKey}}abc\n"},
			{Name: "alternating-case alphabet", Text: "GOOGLE_API_KEY=AIzaSyAbCdEfGhIjKlMnOpQrStUvWxYz01234567\n"},
			{Name: "glued", Text: "k=x{{.APIKey}}\n"},
		},
	}
}

package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/gemscan-dev/gemscan/internal/gittest"
	"github.com/gemscan-dev/gemscan/internal/provtest"
	"github.com/gemscan-dev/gemscan/internal/testkeys"
)

func TestMain(m *testing.M) {
	testscript.Main(cleanupAfter{m}, map[string]func(){
		"gemscan": func() {
			os.Exit(runMain(os.Args, os.Stdin, os.Stdout, os.Stderr, os.Environ()))
		},
	})
}

// cleanupAfter runs the tests, then removes what they shared.
type cleanupAfter struct{ m *testing.M }

func (c cleanupAfter) Run() int {
	code := c.m.Run()
	if testBinary.dir != "" {
		os.RemoveAll(testBinary.dir)
	}
	return code
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata",
		RequireExplicitExec: false,
		Setup:               setupKeys,
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "root":
				return os.Geteuid() == 0, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: scriptCmds(),
	})
}

// setupKeys puts freshly generated credentials in the script's environment,
// so no credential-shaped value is stored in testdata:
// $EXCHANGE_KEY $MASTER_KEY $SECRET $SECRET2 $DECOY $AQ_KEY $API_KEY, and
// the base64 of the exchange key as $EXCHANGE_KEY_B64.
func setupKeys(e *testscript.Env) error {
	k := testkeys.New(uint64(len(e.WorkDir))).Set()
	for name, v := range map[string]string{
		"EXCHANGE_KEY": k.ExchangeKey, "MASTER_KEY": k.MasterKey, "SECRET": k.Secret, "SECRET2": k.Secret2,
		"DECOY": k.Decoy, "AQ_KEY": k.AQKey, "API_KEY": k.APIKey,
		"EXCHANGE_KEY_B64": base64.StdEncoding.EncodeToString([]byte(k.ExchangeKey)),
		"SECRET_B64":       base64.StdEncoding.EncodeToString([]byte(k.Secret)),
	} {
		e.Setenv(name, v)
	}
	e.Setenv("NO_COLOR", "")
	for _, kv := range gittest.Lean() { // git init copies no template, commits start no maintenance
		k, v, _ := strings.Cut(kv, "=")
		e.Setenv(k, v)
	}

	// Loopback fakes of both providers, answering as they do since
	// September 2026. Their URLs reach gemscan only as flags
	// (--gemini-url $EXCHANGE_URL --google-url $GOOGLE_URL), never through
	// the environment. The exchange key with its secret is a live trader that
	// can withdraw (time-based nonce, so several runs in one second all
	// succeed); the master key's secret is wrong; $NONCE_KEY with $SECRET
	// gets InvalidNonce. The AQ. key is live, $AQ_DEAD is unknown to Google,
	// $AQ_LEAKED was blocked as leaked, $AQ_RESTRICTED is restricted to
	// other APIs, $AQ_HOSTILE gets an answer holding terminal escapes; the
	// AIza key gets Gemini's answer to every standard key.
	g := testkeys.New(uint64(len(e.WorkDir)) + 1000)
	more := map[string]string{"NONCE_KEY": g.ExchangeKey("account-"), "AQ_DEAD": g.AQKey(), "AQ_LEAKED": g.AQKey(),
		"AQ_RESTRICTED": g.AQKey(), "AQ_HOSTILE": g.AQKey()}
	for name, v := range more {
		e.Setenv(name, v)
	}
	ex, gg := provtest.NewExchange(), provtest.NewGoogle(provtest.StandardSeptember2026)
	e.Defer(ex.Close)
	e.Defer(gg.Close)
	ex.Add(k.ExchangeKey, provtest.Account{Secret: k.Secret, TimeNonce: true, Roles: map[string]bool{"isTrader": true, "isFundManager": true}})
	ex.Add(k.MasterKey, provtest.Account{Secret: "not-the-secret-in-the-file"})
	ex.Add(more["NONCE_KEY"], provtest.Account{Secret: k.Secret, Fail: "InvalidNonce"})
	gg.Live(k.AQKey)
	gg.Live(k.APIKey)
	gg.Set(more["AQ_LEAKED"], provtest.Leaked)
	gg.Set(more["AQ_RESTRICTED"], provtest.GoogleAnswer{Status: 403, Reason: "API_KEY_SERVICE_BLOCKED", State: "PERMISSION_DENIED",
		Metadata: map[string]string{"consumer": "projects/123456789012"}})
	// $AQ_HOSTILE's answer carries terminal escape sequences.
	gg.Set(more["AQ_HOSTILE"], provtest.GoogleAnswer{Status: 403, State: "PERMISSION_DENIED\x1b]0;owned\x07", Reason: "X\x1b[2J\u202e"})
	e.Setenv("EXCHANGE_URL", ex.URL)
	e.Setenv("GOOGLE_URL", gg.URL)
	e.Values["fakes"] = &providers{ex: ex, g: gg, secrets: []string{k.Secret, k.Secret2}}
	return nil
}

type providers struct {
	ex      *provtest.Exchange
	g       *provtest.Google
	secrets []string
}

func scriptCmds() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		// expand FILE...: replace $NAME and ${NAME} in files with the
		// script's environment, in place.
		"expand": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) == 0 {
				ts.Fatalf("usage: expand FILE...")
			}
			for _, f := range args {
				data := ts.ReadFile(f)
				out := os.Expand(data, func(k string) string {
					if k == "$" {
						return "$"
					}
					return ts.Getenv(k)
				})
				if err := os.WriteFile(ts.MkAbs(f), []byte(out), 0o666); err != nil {
					ts.Fatalf("expand %s: %v", f, err)
				}
			}
		},
		// chmod MODE FILE: change a file's mode (octal).
		"chmod": func(ts *testscript.TestScript, neg bool, args []string) {
			if len(args) != 2 {
				ts.Fatalf("usage: chmod MODE FILE")
			}
			var mode uint32
			if _, err := fmt.Sscanf(args[0], "%o", &mode); err != nil {
				ts.Fatalf("chmod: bad mode %q", args[0])
			}
			ts.Check(os.Chmod(ts.MkAbs(args[1]), os.FileMode(mode)))
		},
		// bigfile FILE SIZE LINE: write FILE of about SIZE bytes of filler
		// text, with LINE (expanded) at its end.
		"bigfile": func(ts *testscript.TestScript, neg bool, args []string) {
			if len(args) != 3 {
				ts.Fatalf("usage: bigfile FILE SIZE LINE")
			}
			var size int
			fmt.Sscanf(args[1], "%d", &size)
			filler := strings.Repeat("lorem ipsum dolor sit amet consectetur\n", size/39+1)
			ts.Check(os.MkdirAll(filepath.Dir(ts.MkAbs(args[0])), 0o777))
			ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(filler+args[2]+"\n"), 0o666))
		},
		// requests exchange|google N: the fake provider has received exactly
		// N requests, and none of them carried an exchange secret.
		"requests": func(ts *testscript.TestScript, neg bool, args []string) {
			if len(args) != 2 {
				ts.Fatalf("usage: requests exchange|google N")
			}
			p := ts.Value("fakes").(*providers)
			var reqs []provtest.Request
			switch args[0] {
			case "exchange":
				reqs = p.ex.Requests()
			case "google":
				reqs = p.g.Requests()
			default:
				ts.Fatalf("requests: unknown provider %q", args[0])
			}
			want, _ := strconv.Atoi(args[1])
			if len(reqs) != want {
				ts.Fatalf("%s received %d requests, want %d", args[0], len(reqs), want)
			}
			for _, r := range reqs {
				for _, sec := range p.secrets {
					if strings.Contains(r.Dump(), sec) {
						ts.Fatalf("a request to %s carried a secret", args[0])
					}
				}
			}
		},
		// capture NAME stdout|stderr REGEXP: set NAME to the first
		// submatch of REGEXP in the last command's output.
		"capture": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) != 3 {
				ts.Fatalf("usage: capture NAME stdout|stderr REGEXP")
			}
			m := regexp.MustCompile(args[2]).FindStringSubmatch(ts.ReadFile(args[1]))
			if len(m) < 2 {
				ts.Fatalf("capture: no match for %s in %s", args[2], args[1])
			}
			ts.Setenv(args[0], m[1])
		},
		// status N PROGRAM ARGS...: run PROGRAM and require exit status N
		// (stdout and stderr are kept for the next assertions).
		"status": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) < 2 {
				ts.Fatalf("usage: status N PROGRAM [ARGS...]")
			}
			want, err := strconv.Atoi(args[0])
			if err != nil {
				ts.Fatalf("status: bad exit status %q", args[0])
			}
			got := 0
			if err := ts.Exec(args[1], args[2:]...); err != nil {
				var ee *exec.ExitError
				if !errors.As(err, &ee) {
					ts.Fatalf("status: %v", err)
				}
				got = ee.ExitCode()
			}
			if got != want {
				ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
			}
		},
	}
}

// buildGemscan returns the path of a gemscan binary built from this
// package, once for all the tests that run it as a process of its own;
// TestMain removes it.
func buildGemscan(t *testing.T) string {
	t.Helper()
	testBinary.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		if testBinary.dir, testBinary.err = os.MkdirTemp("", "gemscan-test-bin-"); testBinary.err != nil {
			return
		}
		testBinary.path = filepath.Join(testBinary.dir, "gemscan")
		// Built as a release is (TestVersionFromLdflags checks the
		// stamps), and as the pre-commit test's go install builds, so
		// the two share compiled packages.
		build := exec.Command(goTool, "build", "-trimpath", "-ldflags", testLdflags, "-o", testBinary.path, ".")
		build.Env = append(build.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			testBinary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if testBinary.err != nil {
		t.Fatal(testBinary.err)
	}
	return testBinary.path
}

// testBinary is the build buildGemscan shares.
var testBinary struct {
	once      sync.Once
	dir, path string
	err       error
}

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gemscan-dev/gemscan/internal/gittest"
	"github.com/gemscan-dev/gemscan/internal/testkeys"
)

// actionFile is the part of action.yml the simulated runner needs.
type actionFile struct {
	Inputs map[string]struct {
		Default string `yaml:"default"`
	} `yaml:"inputs"`
	Outputs map[string]struct {
		Value string `yaml:"value"`
	} `yaml:"outputs"`
	Runs struct {
		Using string `yaml:"using"`
		Steps []struct {
			Name  string            `yaml:"name"`
			ID    string            `yaml:"id"`
			If    string            `yaml:"if"`
			Uses  string            `yaml:"uses"`
			Shell string            `yaml:"shell"`
			Run   string            `yaml:"run"`
			Env   map[string]string `yaml:"env"`
			With  map[string]string `yaml:"with"`
		} `yaml:"steps"`
	} `yaml:"runs"`
}

var expr = regexp.MustCompile(`\$\{\{\s*([^}]*?)\s*\}\}`)

// runAction runs action.yml's steps in order the way a runner does: each
// run step in bash -eo pipefail with the runner's environment, expressions
// substituted and `if:` conditions evaluated; the action is used from this
// checkout (github.action_ref is empty, so it builds from source), the
// source-build cache always misses and setup-go is satisfied by the Go
// running this test. It returns the scan step's output and exit status, and
// the step outputs.
func runAction(t *testing.T, workspace string, env []string, inputs map[string]string) (string, int, map[string]string) {
	t.Helper()
	data, err := os.ReadFile("../../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var a actionFile
	if err := yaml.Unmarshal(data, &a); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	if a.Runs.Using != "composite" {
		t.Fatalf("action.yml runs using %q, want composite", a.Runs.Using)
	}
	actionPath, _ := filepath.Abs("../..")
	values := map[string]string{"github.action_path": actionPath, "github.action_ref": ""}
	for name, in := range a.Inputs {
		values["inputs."+name] = in.Default
	}
	for k, v := range inputs {
		if _, ok := a.Inputs[k]; !ok {
			t.Fatalf("action.yml has no input %q", k)
		}
		values["inputs."+k] = v
	}
	lookup := func(k string) string {
		v, ok := values[k]
		if !ok && !strings.HasPrefix(k, "steps.") { // a skipped step's outputs are empty
			t.Fatalf("unknown expression %s", k)
		}
		return v
	}
	sub := func(s string) string {
		return expr.ReplaceAllStringFunc(s, func(m string) string { return lookup(expr.FindStringSubmatch(m)[1]) })
	}
	// cond evaluates the `if:` forms action.yml uses: X == 'v' and X != 'v'
	// joined by &&.
	cond := func(s string) bool {
		if s == "" {
			return true
		}
		for _, term := range strings.Split(s, "&&") {
			term = strings.TrimSpace(term)
			op := " == "
			if strings.Contains(term, " != ") {
				op = " != "
			}
			k, v, ok := strings.Cut(term, op)
			if !ok || !strings.HasPrefix(v, "'") || !strings.HasSuffix(v, "'") {
				t.Fatalf("if: %q: this test cannot evaluate %q", s, term)
			}
			if (lookup(strings.TrimSpace(k)) == strings.Trim(v, "'")) != (op == " == ") {
				return false
			}
		}
		return true
	}
	tmp := t.TempDir()
	env = append(env, "GITHUB_ACTION_PATH="+actionPath, "GITHUB_WORKSPACE="+workspace, "RUNNER_OS=Linux", "RUNNER_ARCH=X64")
	var scanOut string
	status := 0
	outputs := map[string]string{}
	for i, step := range a.Runs.Steps {
		if !cond(step.If) {
			continue
		}
		if step.Uses != "" {
			switch {
			case strings.HasPrefix(step.Uses, "actions/cache@"): // a miss
			case strings.HasPrefix(step.Uses, "actions/setup-go@"):
				if strings.Contains(step.With["go-version-file"]+step.With["go-version"], "${{") {
					t.Errorf("step %q: setup-go's version uses an expression (containers do not translate it)", step.Name)
				}
			default:
				t.Fatalf("step %q uses %s, which this test cannot simulate", step.Name, step.Uses)
			}
			continue
		}
		if step.Shell != "bash" {
			t.Fatalf("step %q: shell %q, want bash", step.Name, step.Shell)
		}
		outputFile := filepath.Join(tmp, fmt.Sprintf("github_output_%d", i))
		cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", sub(step.Run))
		cmd.Dir = workspace
		cmd.Env = append(append([]string(nil), env...), "GITHUB_OUTPUT="+outputFile)
		for k, v := range step.Env {
			cmd.Env = append(cmd.Env, k+"="+sub(v))
		}
		out, err := cmd.CombinedOutput()
		stepOutputs := map[string]string{}
		raw, _ := os.ReadFile(outputFile)
		for _, l := range strings.Split(string(raw), "\n") {
			if k, v, ok := strings.Cut(l, "="); ok {
				stepOutputs[k] = v
				if step.ID != "" {
					values["steps."+step.ID+".outputs."+k] = v
				}
			}
		}
		if step.ID == "scan" {
			scanOut = string(out)
			outputs = stepOutputs
			if err != nil {
				ee, ok := err.(*exec.ExitError)
				if !ok {
					t.Fatal(err)
				}
				status = ee.ExitCode()
			}
			continue
		}
		if err != nil {
			t.Fatalf("step %q failed: %v\n%s", step.Name, err, out)
		}
	}
	for name, o := range a.Outputs {
		if !strings.Contains(o.Value, "steps.scan.outputs."+name) {
			t.Errorf("output %s is not the scan step's", name)
		}
	}
	return scanOut, status, outputs
}

// TestActionOnPullRequest runs the action on a pull_request event in a
// one-commit-deep checkout (as actions/checkout makes) of a repository
// whose PR adds a key three commits above a fork point deep in history.
func TestActionOnPullRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds gemscan; skipped with -short")
	}
	gittest.Need(t)
	k := testkeys.New(81).Set()
	gitEnv := gittest.Env(0)
	git := func(dir string, args ...string) string {
		t.Helper()
		return gittest.Run(t, dir, args...)
	}
	src := t.TempDir()
	git(src, "init", "-q", "-b", "main")
	// A key committed long ago on main: not the PR's business.
	write(t, src, "old.env", "OLD="+k.APIKey+"\n")
	git(src, "add", "-A")
	git(src, "commit", "-q", "-m", "old leak")
	for i := 0; i < 80; i++ {
		write(t, src, "main.txt", strings.Repeat("x", i)+"\n")
		git(src, "add", "main.txt")
		git(src, "commit", "-q", "-m", "main")
	}
	git(src, "checkout", "-q", "-b", "pr", "HEAD~70")
	write(t, src, "pr.txt", "work\n")
	git(src, "add", "-A")
	git(src, "commit", "-q", "-m", "pr 1")
	write(t, src, "config/app.env", "GEMINI_API_KEY="+k.ExchangeKey+"\nGEMINI_API_SECRET="+k.Secret+"\n")
	git(src, "add", "-A")
	git(src, "commit", "-q", "-m", "pr 2")
	git(src, "merge", "-q", "--no-ff", "-m", "merge main into pr", "main")
	head := git(src, "rev-parse", "HEAD")
	base := git(src, "rev-parse", "main")
	bare := filepath.Join(t.TempDir(), "origin.git")
	git(".", "clone", "-q", "--bare", src, bare)
	git(bare, "config", "uploadpack.allowAnySHA1InWant", "true")
	workspace := filepath.Join(t.TempDir(), "ws")
	git(".", "clone", "-q", "--depth=1", "--branch", "main", "file://"+bare, workspace)

	ev, _ := json.Marshal(map[string]any{"number": 7, "pull_request": map[string]any{"number": 7,
		"base": map[string]string{"sha": base, "ref": "main"}, "head": map[string]string{"sha": head, "ref": "pr"}}})
	evPath := filepath.Join(t.TempDir(), "event.json")
	os.WriteFile(evPath, ev, 0o644)
	summary := filepath.Join(t.TempDir(), "summary.md")
	runnerTemp := t.TempDir()
	env := append(gitEnv, "GITHUB_EVENT_NAME=pull_request", "GITHUB_EVENT_PATH="+evPath,
		"GITHUB_STEP_SUMMARY="+summary, "RUNNER_TEMP="+runnerTemp, "GITHUB_ACTIONS=true", "CI=true")

	sarif := filepath.Join(workspace, "gemscan.sarif")
	out, status, outputs := runAction(t, workspace, env, map[string]string{"sarif-file": sarif})
	if status != 1 {
		t.Fatalf("scan step exited %d, want 1 (findings fail the check):\n%s", status, out)
	}
	if !strings.Contains(out, "gemscan: pull_request #7: ") || !strings.Contains(out, "3 commit(s) to scan") {
		t.Errorf("the step does not say what it scans:\n%s", out)
	}
	i := strings.Index(out, "::add-mask::"+k.ExchangeKey)
	j := strings.Index(out, "::error file=config/app.env,line=1,")
	if i < 0 || j < 0 || i > j {
		t.Errorf("want the mask before the annotation:\n%s", out)
	}
	if strings.Contains(out, "old.env") {
		t.Errorf("the old key on main was reported as part of the PR:\n%s", out)
	}
	if strings.Contains(strings.ReplaceAll(out, "::add-mask::"+k.ExchangeKey, ""), k.ExchangeKey) {
		t.Errorf("the key was printed outside its mask command")
	}
	if outputs["findings"] != "1" || outputs["sarif-file"] != sarif {
		t.Errorf("outputs %v", outputs)
	}
	if sum, _ := os.ReadFile(summary); !strings.Contains(string(sum), "1 Gemini credential found** in 3 commits") {
		t.Errorf("job summary:\n%s", sum)
	}
	doc, err := os.ReadFile(sarif)
	if err != nil || !strings.Contains(string(doc), `"uri": "config/app.env"`) {
		t.Errorf("SARIF: %v\n%s", err, doc)
	}

	// The same PR passes once the key is in a baseline made from the
	// whole repository.
	baseline := filepath.Join(t.TempDir(), "baseline.json")
	cmd := exec.Command(filepath.Join(runnerTemp, "gemscan-bin", "gemscan"), "baseline", "--git", baseline, src)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("baseline: %v\n%s", err, out)
	}
	before, _ := os.ReadFile(summary)
	out, status, outputs = runAction(t, workspace, env, map[string]string{"baseline": baseline, "summary": "false"})
	if status != 0 || outputs["findings"] != "0" {
		t.Errorf("with a baseline: status %d, outputs %v\n%s", status, outputs, out)
	}
	if after, _ := os.ReadFile(summary); !bytes.Equal(before, after) {
		t.Errorf("summary: false still wrote the job summary:\n%s", after[len(before):])
	}
}

// TestActionBaseHeadInputs: a workflow whose event names no range
// (workflow_dispatch would scan the whole history) scans exactly what head
// adds over base when the action is given both.
func TestActionBaseHeadInputs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds gemscan; skipped with -short")
	}
	gittest.Need(t)
	k := testkeys.New(82).Set()
	repo := t.TempDir()
	gittest.Run(t, repo, "init", "-q", "-b", "main")
	write(t, repo, "old.env", "OLD="+k.APIKey+"\n")
	gittest.Run(t, repo, "add", "-A")
	gittest.Run(t, repo, "commit", "-q", "-m", "old leak, before the range")
	base := gittest.Run(t, repo, "rev-parse", "HEAD")
	write(t, repo, "new.env", "GEMINI_KEY="+k.AQKey+"\n")
	gittest.Run(t, repo, "add", "-A")
	gittest.Run(t, repo, "commit", "-q", "-m", "new leak")
	head := gittest.Run(t, repo, "rev-parse", "HEAD")
	evPath := filepath.Join(t.TempDir(), "event.json")
	os.WriteFile(evPath, []byte(`{"inputs":{}}`), 0o644)
	env := append(gittest.Env(0), "GITHUB_EVENT_NAME=workflow_dispatch", "GITHUB_EVENT_PATH="+evPath,
		"RUNNER_TEMP="+t.TempDir(), "GITHUB_ACTIONS=true", "CI=true")
	out, status, outputs := runAction(t, repo, env, map[string]string{"base": base, "head": head})
	if status != 1 || outputs["findings"] != "1" {
		t.Fatalf("status %d, outputs %v\n%s", status, outputs, out)
	}
	if !strings.Contains(out, "new.env") || strings.Contains(out, "old.env") {
		t.Errorf("want only new.env reported:\n%s", out)
	}
}

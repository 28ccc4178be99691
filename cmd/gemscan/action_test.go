package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gemscan-dev/gemscan/internal/archive/archivetest"
	"github.com/gemscan-dev/gemscan/internal/gittest"
	"github.com/gemscan-dev/gemscan/internal/testkeys"
	"github.com/gemscan-dev/gemscan/scanner"
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

// prebuiltRunnerTemp returns a RUNNER_TEMP whose source-build directory
// already holds gemscan (buildGemscan's), as a restored actions/cache
// would: the action takes it "from the build cache" instead of building.
// TestActionOnPullRequest builds; the others need not build again.
func prebuiltRunnerTemp(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "gemscan-build"), 0o755); err != nil {
		t.Fatal(err)
	}
	bin, dst := buildGemscan(t), filepath.Join(dir, "gemscan-build", "gemscan")
	if os.Link(bin, dst) != nil { // another file system: copy
		data, err := os.ReadFile(bin)
		if err == nil {
			err = os.WriteFile(dst, data, 0o755)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestActionOnPullRequest runs the action on a pull_request event in a
// one-commit-deep checkout (as actions/checkout makes) of a repository
// whose PR adds a key three commits above a fork point deep in history.
func TestActionOnPullRequest(t *testing.T) {
	t.Parallel()
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
	// 80 commits on main, each changing main.txt, in one process.
	var stream strings.Builder
	for i := 0; i < 80; i++ {
		content := strings.Repeat("x", i) + "\n"
		fmt.Fprintf(&stream, "commit refs/heads/main\ncommitter Ada <ada@example.invalid> %d +0000\ndata 4\nmain\n", 1704067200+i)
		if i == 0 {
			stream.WriteString("from refs/heads/main^0\n")
		}
		fmt.Fprintf(&stream, "M 100644 inline main.txt\ndata %d\n%s\n", len(content), content)
	}
	gittest.FastImport(t, src, stream.String())
	git(src, "reset", "-q", "--hard")
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
	// The checkout of the PR (its head: the merge GitHub would make has
	// the same tree here).
	git(".", "clone", "-q", "--depth=1", "--branch", "pr", "file://"+bare, workspace)

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
	t.Parallel()
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
		"RUNNER_TEMP="+prebuiltRunnerTemp(t), "GITHUB_ACTIONS=true", "CI=true")
	out, status, outputs := runAction(t, repo, env, map[string]string{"base": base, "head": head})
	if status != 1 || outputs["findings"] != "1" || outputs["complete"] != "true" {
		t.Fatalf("status %d, outputs %v\n%s", status, outputs, out)
	}
	if !strings.Contains(out, "new.env") || strings.Contains(out, "old.env") {
		t.Errorf("want only new.env reported:\n%s", out)
	}
}

// prRepo is a bare origin holding a pull request (refs/pull/N/head and the
// merge GitHub makes, refs/pull/N/merge) and its event.
type prRepo struct {
	bare, base, head, merge string
	event                   string // the event payload's path
}

// newPR builds main (with baseFiles) and a PR branch whose commits write
// each map of prCommits in turn (an empty value deletes the file), with the
// merge GitHub makes: one fast-import straight into the bare origin.
func newPR(t *testing.T, baseFiles map[string]string, prCommits ...map[string]string) *prRepo {
	t.Helper()
	gittest.Need(t)
	if len(prCommits) == 0 {
		t.Fatal("newPR: a pull request needs a commit")
	}
	var s strings.Builder
	commit := func(ref string, mark int, msg string) {
		fmt.Fprintf(&s, "commit %s\nmark :%d\ncommitter Ada <ada@example.invalid> 1704067200 +0000\ndata %d\n%s\n",
			ref, mark, len(msg), msg)
	}
	put := func(files map[string]string) {
		for _, p := range slices.Sorted(maps.Keys(files)) {
			if files[p] == "" {
				fmt.Fprintf(&s, "D %s\n", gittest.QuotePath(p))
				continue
			}
			fmt.Fprintf(&s, "M 100644 inline %s\ndata %d\n%s\n", gittest.QuotePath(p), len(files[p]), files[p])
		}
	}
	tree := map[string]string{"README": "app\n"}
	maps.Copy(tree, baseFiles)
	commit("refs/heads/main", 1, "base")
	put(tree)
	for i, files := range prCommits {
		commit("refs/heads/pr", i+2, fmt.Sprintf("pr %d", i))
		fmt.Fprintf(&s, "from :%d\n", i+1)
		put(files)
		for p, c := range files {
			if c == "" {
				delete(tree, p)
			} else {
				tree[p] = c
			}
		}
	}
	head := len(prCommits) + 1
	// The merge's tree is the PR's: main has not moved since the fork.
	commit("refs/pull/1/merge", 1000, "Merge pr into main")
	fmt.Fprintf(&s, "from :1\nmerge :%d\ndeleteall\n", head)
	put(tree)
	fmt.Fprintf(&s, "reset refs/pull/1/head\nfrom :%d\n", head)

	r := &prRepo{bare: filepath.Join(t.TempDir(), "origin.git")}
	gittest.Run(t, ".", "init", "-q", "--bare", "-b", "main", r.bare)
	gittest.FastImport(t, r.bare, s.String())
	revs := strings.Fields(gittest.Run(t, r.bare, "rev-parse", "main", "pr", "refs/pull/1/merge"))
	if len(revs) != 3 {
		t.Fatalf("rev-parse: %q", revs)
	}
	r.base, r.head, r.merge = revs[0], revs[1], revs[2]
	cfg, err := os.OpenFile(filepath.Join(r.bare, "config"), os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = cfg.WriteString("[uploadpack]\n\tallowAnySHA1InWant = true\n\tallowFilter = true\n")
		if cerr := cfg.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	ev, err := json.Marshal(map[string]any{"number": 1, "pull_request": map[string]any{"number": 1,
		"base": map[string]string{"sha": r.base, "ref": "main"}, "head": map[string]string{"sha": r.head, "ref": "pr"}},
		"repository": map[string]string{"default_branch": "main"}})
	if err != nil {
		t.Fatal(err)
	}
	r.event = filepath.Join(t.TempDir(), "event.json")
	write(t, filepath.Dir(r.event), "event.json", string(ev))
	return r
}

// checkout makes the work tree actions/checkout makes for a pull request:
// git init, one fetch of the merge ref at depth 1 (with filter, when not
// empty, as for "filter: blob:none"), and a checkout of it.
func (r *prRepo) checkout(t *testing.T, filter string) string {
	t.Helper()
	ws := filepath.Join(t.TempDir(), "ws")
	git := func(args ...string) { t.Helper(); gittest.Run(t, ws, args...) }
	os.MkdirAll(ws, 0o755)
	git("init", "-q")
	git("remote", "add", "origin", "file://"+r.bare)
	fetch := []string{"-c", "protocol.version=2", "fetch", "--no-tags", "--prune", "--no-recurse-submodules", "--depth=1"}
	if filter != "" {
		fetch = append(fetch, "--filter="+filter)
	}
	git(append(fetch, "origin", "+"+r.merge+":refs/remotes/pull/1/merge")...)
	git("checkout", "-q", "--force", "refs/remotes/pull/1/merge")
	return ws
}

// runGitHubScan runs 'gemscan git --github' in-process in the work tree
// for the PR's event, returning stdout, stderr, the exit status and the
// job summary.
func runGitHubScan(t *testing.T, ws, eventName, eventPath string, args ...string) (string, string, int, string) {
	t.Helper()
	// testscript.Main put a "gemscan" on PATH that runs this binary's main:
	// a process of its own, in the checkout, so tests run side by side.
	bin, err := exec.LookPath("gemscan")
	if err != nil {
		t.Fatalf("no gemscan on PATH (testscript.Main puts one there): %v", err)
	}
	summary := filepath.Join(t.TempDir(), "summary.md")
	cmd := exec.Command(bin, append(append([]string{"git", "--github", "--quiet"}, args...), ".")...)
	cmd.Dir = ws
	cmd.Env = append(gittest.Env(0), "GITHUB_EVENT_NAME="+eventName, "GITHUB_EVENT_PATH="+eventPath,
		"GITHUB_STEP_SUMMARY="+summary, "GITHUB_ACTIONS=true")
	var stdout, stderr strings.Builder
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(""), &stdout, &stderr
	code := 0
	if err := cmd.Run(); err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("run gemscan: %v", err)
		}
		code = ee.ExitCode()
	}
	sum, _ := os.ReadFile(summary)
	return stdout.String(), stderr.String(), code, string(sum)
}

// TestGitHubPRCannotSuppressItself: a pull request that adds a
// .gemscanignore, or its own key to the baseline, still fails; one that
// marks its key gemscan:allow passes, and says so.
func TestGitHubPRCannotSuppressItself(t *testing.T) {
	t.Parallel()
	k := testkeys.New(91).Set()
	leak := "GEMINI_API_KEY=" + k.APIKey + "\n"
	fp := (&scanner.Finding{Rule: "google-api-key", Path: "app.env", Value: k.APIKey}).Fingerprint()
	baseline := `{"version": 1, "findings": [{"fingerprint": "` + fp + `"}]}`

	t.Run("gemscanignore", func(t *testing.T) {
		t.Parallel()
		r := newPR(t, nil, map[string]string{"app.env": leak, ".gemscanignore": "*\n"})
		out, errOut, code, _ := runGitHubScan(t, r.checkout(t, ""), "pull_request", r.event)
		if code != 1 || !strings.Contains(out, "::error file=app.env,line=1,") {
			t.Errorf("exit %d, want 1 with the key reported:\n%s\n%s", code, out, errOut)
		}
	})
	t.Run("baseline", func(t *testing.T) {
		t.Parallel()
		r := newPR(t, nil, map[string]string{"app.env": leak, ".gemscan-baseline.json": baseline})
		out, errOut, code, sum := runGitHubScan(t, r.checkout(t, ""), "pull_request", r.event, "--baseline", ".gemscan-baseline.json")
		if code != 1 || !strings.Contains(out, "::error file=app.env,line=1,") {
			t.Errorf("exit %d, want 1 with the key reported:\n%s\n%s", code, out, errOut)
		}
		if !strings.Contains(sum, "is not in the base commit") {
			t.Errorf("the summary does not say the PR's baseline was not used:\n%s", sum)
		}
	})
	t.Run("baseline from the base", func(t *testing.T) {
		t.Parallel()
		// The base's baseline still counts, even if the PR empties it.
		r := newPR(t, map[string]string{".gemscan-baseline.json": baseline},
			map[string]string{"app.env": leak, ".gemscan-baseline.json": `{"version": 1, "findings": []}`})
		out, errOut, code, _ := runGitHubScan(t, r.checkout(t, ""), "pull_request", r.event, "--baseline", ".gemscan-baseline.json")
		if code != 0 || strings.Contains(out, "::error") {
			t.Errorf("exit %d, want 0 (the base accepts the key):\n%s\n%s", code, out, errOut)
		}
	})
	t.Run("baseline through a symlink", func(t *testing.T) {
		t.Parallel()
		// The PR makes the baseline's directory a symlink to a file some
		// earlier step of the job wrote: it is still the checkout's path,
		// read from the base commit (which has none).
		r := newPR(t, nil, map[string]string{"app.env": leak})
		ws := r.checkout(t, "")
		outside := t.TempDir()
		write(t, outside, "baseline.json", baseline)
		if err := os.Symlink(outside, filepath.Join(ws, ".gemscan")); err != nil {
			t.Fatal(err)
		}
		out, errOut, code, _ := runGitHubScan(t, ws, "pull_request", r.event, "--baseline", ".gemscan/baseline.json")
		if code != 1 || !strings.Contains(out, "::error file=app.env,line=1,") {
			t.Errorf("exit %d, want 1 (a baseline outside the checkout, reached through it, hides nothing):\n%s\n%s", code, out, errOut)
		}
	})
	t.Run("allow", func(t *testing.T) {
		t.Parallel()
		r := newPR(t, nil, map[string]string{"fixtures/keys.txt": "x\n" + "KEY=" + k.AQKey + " # gemscan:allow\n"},
			map[string]string{"fixtures/keys.txt": "a\nb\nx\n" + "KEY=" + k.AQKey + " # gemscan:allow\n"})
		out, errOut, code, sum := runGitHubScan(t, r.checkout(t, ""), "pull_request", r.event)
		if code != 0 {
			t.Errorf("exit %d, want 0 (gemscan:allow is honoured):\n%s\n%s", code, out, errOut)
		}
		want := "::notice file=fixtures/keys.txt,line=4,col=5,title=allowed by a gemscan%3Aallow comment this PR adds::"
		if !strings.Contains(out, want) {
			t.Errorf("no notice at the key's line in HEAD, want %q:\n%s", want, out)
		}
		if !strings.Contains(sum, "allowed by `gemscan:allow` comments this PR adds") || !strings.Contains(sum, "fixtures/keys.txt:4") {
			t.Errorf("the job summary does not list the allowed key:\n%s", sum)
		}
		if strings.Contains(out+sum, k.AQKey) {
			t.Errorf("the key was printed in full")
		}
	})
}

// TestGitHubArgsCannotNarrow: --range, --branch and --since are refused in
// --github mode; masks and annotations reach stdout even with --output,
// and the file gets no mask (which holds the key in full).
func TestGitHubArgsCannotNarrow(t *testing.T) {
	t.Parallel()
	k := testkeys.New(92).Set()
	r := newPR(t, nil, map[string]string{"a.env": "K=" + k.APIKey + "\nL=" + k.APIKey + "\n", "b.env": "K=" + k.APIKey + "\n"})
	ws := r.checkout(t, "")
	for _, args := range [][]string{{"--range", "HEAD..HEAD"}, {"--branch", "main"}, {"--since", "2099-01-01"}} {
		out, errOut, code, _ := runGitHubScan(t, ws, "pull_request", r.event, args...)
		if code != 2 || !strings.Contains(errOut, args[0]+" cannot be used with --github") {
			t.Errorf("%v: exit %d, want 2 with a clear message:\n%s\n%s", args, code, out, errOut)
		}
	}
	file := filepath.Join(t.TempDir(), "report.txt")
	out, errOut, code, _ := runGitHubScan(t, ws, "pull_request", r.event, "--output", file)
	if code != 1 {
		t.Fatalf("exit %d:\n%s\n%s", code, out, errOut)
	}
	if n := strings.Count(out, "::add-mask::"+k.APIKey); n != 1 {
		t.Errorf("%d masks for one key on stdout, want 1:\n%s", n, out)
	}
	if !strings.Contains(out, "::error file=a.env,line=1,") || !strings.Contains(out, "::error file=b.env,line=1,") {
		t.Errorf("annotations are not on stdout:\n%s", out)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), k.APIKey) || !strings.Contains(string(data), "::error file=a.env") {
		t.Errorf("--output file holds the raw key, or not the report:\n%s", data)
	}
	jsonFile := filepath.Join(t.TempDir(), "report.json")
	out, _, _, _ = runGitHubScan(t, ws, "pull_request", r.event, "--format", "json", "--output", jsonFile)
	if !strings.Contains(out, "::add-mask::"+k.APIKey) || !strings.Contains(out, "::error file=a.env") {
		t.Errorf("--format json --output: no masks or annotations on stdout:\n%s", out)
	}
	if data, _ := os.ReadFile(jsonFile); !strings.Contains(string(data), `"findings"`) {
		t.Errorf("no JSON report in the file:\n%s", data)
	}
}

// TestActionArgsEveryLine: every line of a multi-line args input reaches
// gemscan (here the second line's --branch must be refused).
func TestActionArgsEveryLine(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds gemscan; skipped with -short")
	}
	k := testkeys.New(93).Set()
	r := newPR(t, nil, map[string]string{"a.env": "K=" + k.APIKey + "\n"})
	ws := r.checkout(t, "")
	env := append(gittest.Env(0), "GITHUB_EVENT_NAME=pull_request", "GITHUB_EVENT_PATH="+r.event,
		"RUNNER_TEMP="+prebuiltRunnerTemp(t), "GITHUB_ACTIONS=true")
	out, status, outputs := runAction(t, ws, env, map[string]string{"args": "--max-file-size 1MiB\n--no-such-flag\n"})
	if status != 2 || !strings.Contains(out, "no-such-flag") || outputs["complete"] == "true" {
		t.Errorf("status %d, outputs %v, want 2 refusing the second line's --no-such-flag:\n%s", status, outputs, out)
	}
}

// TestActionArgsCannotMoveRange: the args input cannot name the range
// (--base and --head come only from the action's own inputs), on any line
// and in any spelling; the refusal sets complete=false.
func TestActionArgsCannotMoveRange(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds gemscan; skipped with -short")
	}
	k := testkeys.New(94).Set()
	r := newPR(t, nil, map[string]string{"a.env": "K=" + k.APIKey + "\n"})
	ws := r.checkout(t, "")
	env := append(gittest.Env(0), "GITHUB_EVENT_NAME=workflow_dispatch", "GITHUB_EVENT_PATH="+r.event,
		"RUNNER_TEMP="+prebuiltRunnerTemp(t), "GITHUB_ACTIONS=true")
	for args, flag := range map[string]string{"--base HEAD": "--base", "--max-file-size 1MiB\n--head=HEAD": "--head", "-range HEAD..HEAD": "-range", "--github=false": "--github"} {
		out, status, outputs := runAction(t, ws, env, map[string]string{"args": args})
		if status != 2 || !strings.Contains(out, flag+" cannot be given in the args input") || outputs["complete"] != "false" {
			t.Errorf("args %q: status %d, outputs %v, want 2 refusing %s with complete=false:\n%s", args, status, outputs, flag, out)
		}
	}
}

// TestGitHubAllowNoticePathShapes: an allow comment the PR adds is
// announced whatever its file is called: with a space, a leading colon or
// a quote in the name, in UTF-16, or under a .gitattributes "-diff".
func TestGitHubAllowNoticePathShapes(t *testing.T) {
	t.Parallel()
	k := testkeys.New(98).Set()
	line := "tok=\"" + k.AQKey + "\" # gemscan:allow\n"
	utf16 := "\xff\xfe"
	for _, r := range line {
		utf16 += string([]byte{byte(r), 0})
	}
	for name, tc := range map[string]struct {
		files map[string]string
		file  string // the notice's file= property
	}{
		"space":      {map[string]string{"my fixture.txt": line}, "my fixture.txt"},
		"colon":      {map[string]string{":fixture.txt": line, "fixture.txt": "benign\n"}, "%3Afixture.txt"},
		"quote":      {map[string]string{`say "hi".txt`: line}, `say "hi".txt`},
		"attributes": {map[string]string{".gitattributes": "* -diff\n", "fixture.txt": line}, "fixture.txt"},
		"utf16":      {map[string]string{"fixture.txt": utf16}, "fixture.txt"},
	} {
		t.Run(name, func(t *testing.T) {
			r := newPR(t, nil, tc.files)
			out, errOut, code, sum := runGitHubScan(t, r.checkout(t, ""), "pull_request", r.event)
			want := "::notice file=" + tc.file + ",line=1,col=6,title=allowed by a gemscan%3Aallow comment this PR adds::"
			if code != 0 || !strings.Contains(out, want) {
				t.Errorf("exit %d, want 0 and %q:\n%s\n%s", code, want, out, errOut)
			}
			if !strings.Contains(sum, "allowed by `gemscan:allow` comments this PR adds") {
				t.Errorf("the job summary does not list the allowed key:\n%s", sum)
			}
		})
	}
}

// TestGitHubAllowNoticeInArchive: an allow comment inside a member of an
// archive the PR adds is announced too, though no diff shows it.
func TestGitHubAllowNoticeInArchive(t *testing.T) {
	t.Parallel()
	k := testkeys.New(100).Set()
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, err := zw.Create("k.txt")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "tok=\""+k.AQKey+"\" # gemscan:allow\n")
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	r := newPR(t, nil, map[string]string{"kit.zip": zb.String()})
	out, errOut, code, sum := runGitHubScan(t, r.checkout(t, ""), "pull_request", r.event)
	if code != 0 || !strings.Contains(out, "::notice title=allowed by a gemscan%3Aallow comment this PR adds::") ||
		!strings.Contains(out, "kit.zip!k.txt line 1)") {
		t.Errorf("exit %d, want 0 and a notice for kit.zip!k.txt:\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(sum, "`kit.zip!k.txt:1` (in an archive)") {
		t.Errorf("the job summary does not list the allowed key:\n%s", sum)
	}
}

// TestGitHubFindingInColonPath: a finding in a file whose name starts
// with a colon is annotated at its line in HEAD, not as gone.
func TestGitHubFindingInColonPath(t *testing.T) {
	t.Parallel()
	k := testkeys.New(99).Set()
	r := newPR(t, nil, map[string]string{":k.txt": "K=" + k.APIKey + "\n", "k.txt": "benign\n"})
	out, errOut, code, _ := runGitHubScan(t, r.checkout(t, ""), "pull_request", r.event)
	if code != 1 || !strings.Contains(out, "::error file=%3Ak.txt,line=1,col=3,") || strings.Contains(out, "no longer in HEAD") {
		t.Errorf("exit %d, want 1 with the key annotated in :k.txt:\n%s\n%s", code, out, errOut)
	}
}

// TestGitHubAnnotationsPointAtHead: in a blob:none checkout, a key the PR
// moved down three lines is annotated at its line in HEAD, and a key the
// PR added and then removed (its blob only in the history, never checked
// out) is fetched, reported, and annotated without a file, naming the
// commits that added and removed it.
func TestGitHubAnnotationsPointAtHead(t *testing.T) {
	t.Parallel()
	k := testkeys.New(94).Set()
	r := newPR(t, nil,
		map[string]string{"a.env": "K=" + k.APIKey + "\n", "b.env": "Q=" + k.AQKey + "\n"},
		map[string]string{"a.env": "#\n#\n#\nK=" + k.APIKey + "\n", "b.env": ""})
	ws := r.checkout(t, "blob:none")
	added := gittest.Run(t, ws, "rev-parse", r.head+"~1")
	out, errOut, code, _ := runGitHubScan(t, ws, "pull_request", r.event)
	if code != 1 {
		t.Fatalf("exit %d:\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "::error file=a.env,line=4,col=3,") {
		t.Errorf("a.env's key is not annotated at its line in HEAD (4):\n%s", out)
	}
	var gone string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "b.env") && strings.HasPrefix(l, "::error") {
			gone = l
		}
	}
	want := fmt.Sprintf("added in commit %.12s and removed in %.12s", added, r.head)
	if gone == "" || strings.Contains(gone, "file=") || !strings.Contains(gone, want) {
		t.Errorf("b.env's key: want an annotation without file= saying %q, got %q\n%s\n%s", want, gone, out, errOut)
	}
}

// TestGitHubSARIFDescribesHead: the SARIF of a PR scan holds the keys of
// HEAD's tree (an old one the PR did not add too) with a stable category;
// an incomplete scan says so in the SARIF.
func TestGitHubSARIFDescribesHead(t *testing.T) {
	t.Parallel()
	k := testkeys.New(95).Set()
	r := newPR(t, map[string]string{"old.env": "OLD=" + k.AQKey + "\n"}, map[string]string{"new.env": "NEW=" + k.APIKey + "\n"})
	ws := r.checkout(t, "")
	sarif := filepath.Join(t.TempDir(), "out.sarif")
	type doc struct {
		Runs []struct {
			AutomationDetails struct {
				ID string `json:"id"`
			} `json:"automationDetails"`
			Invocations []struct {
				ExecutionSuccessful        bool `json:"executionSuccessful"`
				ToolExecutionNotifications []struct {
					Message struct {
						Text string `json:"text"`
					} `json:"message"`
				} `json:"toolExecutionNotifications"`
			} `json:"invocations"`
			Results []struct {
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	read := func() doc {
		t.Helper()
		data, err := os.ReadFile(sarif)
		if err != nil {
			t.Fatal(err)
		}
		var d doc
		if err := json.Unmarshal(data, &d); err != nil || len(d.Runs) != 1 {
			t.Fatalf("SARIF: %v\n%s", err, data)
		}
		return d
	}
	out, errOut, code, _ := runGitHubScan(t, ws, "pull_request", r.event, "--sarif", sarif)
	if code != 1 || strings.Contains(out, "old.env") {
		t.Errorf("exit %d, want 1 with only the PR's key annotated:\n%s\n%s", code, out, errOut)
	}
	d := read()
	var uris []string
	for _, res := range d.Runs[0].Results {
		uris = append(uris, res.Locations[0].PhysicalLocation.ArtifactLocation.URI)
	}
	if strings.Join(uris, " ") != "new.env old.env" {
		t.Errorf("SARIF results at %v, want new.env and old.env", uris)
	}
	if id := d.Runs[0].AutomationDetails.ID; id != "gemscan/pull_request/" {
		t.Errorf("automationDetails.id %q", id)
	}
	if inv := d.Runs[0].Invocations; len(inv) != 1 || !inv[0].ExecutionSuccessful {
		t.Errorf("invocations %+v", inv)
	}

	// An unreadable baseline makes the scan incomplete.
	bad := filepath.Join(t.TempDir(), "baseline.json")
	write(t, filepath.Dir(bad), "baseline.json", "not json")
	_, _, code, _ = runGitHubScan(t, ws, "pull_request", r.event, "--sarif", sarif, "--baseline", bad)
	if code != 2 {
		t.Errorf("exit %d with an unreadable baseline, want 2", code)
	}
	d = read()
	if inv := d.Runs[0].Invocations; len(inv) != 1 || inv[0].ExecutionSuccessful || len(inv[0].ToolExecutionNotifications) == 0 ||
		!strings.Contains(inv[0].ToolExecutionNotifications[0].Message.Text, "baseline") {
		t.Errorf("an incomplete scan's SARIF: invocations %+v", inv)
	}
}

// TestGitHubSARIFWholeTree: the SARIF's picture of HEAD includes what the
// range scan never reads: a file larger than --max-file-size and a key in
// an archive member, both untouched by the PR (the gate passes).
func TestGitHubSARIFWholeTree(t *testing.T) {
	t.Parallel()
	k := testkeys.New(96).Set()
	big := strings.Repeat("filler line, nothing to see\n", 100) + "KEY=" + k.AQKey + "\n"
	kit := archivetest.Zip(t, archivetest.File{Name: "conf/k.env", Data: []byte("K=" + k.APIKey + "\n")})
	r := newPR(t, map[string]string{"big.txt": big, "kit.zip": string(kit)}, map[string]string{"new.txt": "clean\n"})
	sarif := filepath.Join(t.TempDir(), "out.sarif")
	out, errOut, code, _ := runGitHubScan(t, r.checkout(t, ""), "pull_request", r.event, "--max-file-size", "1KiB", "--sarif", sarif)
	if code != 0 {
		t.Fatalf("exit %d, want 0: the PR adds no key:\n%s\n%s", code, out, errOut)
	}
	data, err := os.ReadFile(sarif)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"uri": "big.txt"`, `"uri": "kit.zip"`} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("SARIF has no result at %s:\n%s", want, data)
		}
	}
}

// TestGitHubNoRedactFilesOwnerOnly: with --no-redact the --output copy and
// the SARIF file hold credentials in full: they are created owner-only, as
// in every other mode.
func TestGitHubNoRedactFilesOwnerOnly(t *testing.T) {
	t.Parallel()
	k := testkeys.New(97).Set()
	r := newPR(t, nil, map[string]string{"a.env": "K=" + k.APIKey + "\n"})
	dir := t.TempDir()
	out, sarif := filepath.Join(dir, "report.json"), filepath.Join(dir, "out.sarif")
	_, errOut, code, _ := runGitHubScan(t, r.checkout(t, ""), "pull_request", r.event,
		"--no-redact", "--format", "json", "--output", out, "--sarif", sarif)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, errOut)
	}
	for _, f := range []string{out, sarif} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if perm := st.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s: mode %o, want 600", filepath.Base(f), perm)
		}
	}
}

// TestGitHubPullRequestTargetBaseCheckout: pull_request_target checks out
// the base by default; the PR's key is still located (and annotated) in
// the PR's head, not reported as gone.
func TestGitHubPullRequestTargetBaseCheckout(t *testing.T) {
	t.Parallel()
	k := testkeys.New(96).Set()
	r := newPR(t, nil, map[string]string{"a.env": "K=" + k.APIKey + "\n"}, map[string]string{"a.env": "#\nK=" + k.APIKey + "\n"})
	ws := filepath.Join(t.TempDir(), "ws")
	gittest.Run(t, ".", "clone", "-q", "--depth=1", "--branch", "main", "file://"+r.bare, ws)
	out, errOut, code, _ := runGitHubScan(t, ws, "pull_request_target", r.event)
	if code != 1 || !strings.Contains(out, "::error file=a.env,line=2,col=3,") {
		t.Errorf("exit %d, want 1 with the key annotated at its line in the PR:\n%s\n%s", code, out, errOut)
	}
}

// TestGitHubPartialCloneFailsClosed: blobs a blob:none checkout lacks and
// cannot fetch end the scan with exit 2, saying how many.
func TestGitHubPartialCloneFailsClosed(t *testing.T) {
	t.Parallel()
	k := testkeys.New(97).Set()
	r := newPR(t, nil, map[string]string{"b.env": "Q=" + k.AQKey + "\n"}, map[string]string{"b.env": ""})
	ws := r.checkout(t, "blob:none")
	gittest.Run(t, ws, "fetch", "-q", "--filter=blob:none", "--depth=10", "origin", r.head, r.base)
	gittest.Run(t, ws, "remote", "set-url", "origin", "file://"+filepath.Join(t.TempDir(), "gone.git"))
	out, errOut, code, _ := runGitHubScan(t, ws, "pull_request", r.event)
	if code != 2 || !strings.Contains(errOut, "1 object(s) the scan needs") || !strings.Contains(errOut, "missing from this partial clone") {
		t.Errorf("exit %d, want 2 naming the missing blob:\n%s\n%s", code, out, errOut)
	}
}

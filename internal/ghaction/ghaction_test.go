package ghaction

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gemscan-dev/gemscan/internal/gittest"
	"github.com/gemscan-dev/gemscan/internal/testkeys"
	"github.com/gemscan-dev/gemscan/rules"
	"github.com/gemscan-dev/gemscan/scanner"
)

// event reads a recorded payload and fills in its commit placeholders.
func event(t *testing.T, name string, shas map[string]string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for k, v := range shas {
		s = strings.ReplaceAll(s, k, v)
	}
	return []byte(s)
}

func TestParseEvent(t *testing.T) {
	t.Parallel()
	a, b := strings.Repeat("a", 40), strings.Repeat("b", 40)
	shas := map[string]string{"HEADSHA": a, "BASESHA": b, "AFTERSHA": a, "BEFORESHA": b}
	for _, c := range []struct {
		file, name string
		want       Plan
	}{
		{"pull_request", "pull_request", Plan{Event: "pull_request", PR: 42, Base: b, Head: a, Ref: "feature/login", DefaultBranch: "main"}},
		{"pull_request_target", "pull_request_target", Plan{Event: "pull_request_target", PR: 42, Base: b, Head: a, Ref: "feature/login", DefaultBranch: "main"}},
		{"push", "push", Plan{Event: "push", Base: b, Head: a, Before: b, Ref: "refs/heads/main", DefaultBranch: "main"}},
		{"push_forced", "push", Plan{Event: "push", Base: b, Head: a, Before: b, Ref: "refs/heads/topic", DefaultBranch: "main"}},
		{"push_new_branch", "push", Plan{Event: "push", NewBranch: true, Head: a, Before: zeroSHA, Ref: "refs/heads/topic", DefaultBranch: "main"}},
		{"push_deleted", "push", Plan{Event: "push", Deleted: true, Before: b, Ref: "refs/heads/topic", DefaultBranch: "main"}},
		{"merge_group", "merge_group", Plan{Event: "merge_group", Base: b, Head: a, Ref: "refs/heads/gh-readonly-queue/main/pr-42-" + b, DefaultBranch: "main"}},
		{"workflow_dispatch", "workflow_dispatch", Plan{Event: "workflow_dispatch", Full: true}},
		{"schedule", "schedule", Plan{Event: "schedule", Full: true}},
	} {
		got, err := ParseEvent(c.name, event(t, c.file, shas))
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.file, got, c.want)
		}
	}
	if _, err := ParseEvent("issues", []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "--range") {
		t.Errorf("unknown event: %v", err)
	}
	if _, err := ParseEvent("pull_request", []byte(`{"pull_request": {}}`)); err == nil {
		t.Errorf("a pull_request without shas parsed")
	}
}

// remoteRepo is a bare "origin" with a long main branch (deeper than the
// first fetch) and a feature branch that forks deep in its history.
type remoteRepo struct {
	t       *testing.T
	bare    string
	main    []string // main's commits, oldest first
	feature []string
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return gittest.Run(t, dir, args...)
}

var (
	templateOnce sync.Once
	templateDir  string
	templateMain []string
	templateFeat []string
	templateErr  error
)

// buildTemplate makes the history once, with git fast-import.
func buildTemplate() {
	dir, err := os.MkdirTemp("", "gemscan-ghaction-")
	if err != nil {
		templateErr = err
		return
	}
	templateDir = filepath.Join(dir, "template.git")
	var stream strings.Builder
	commit := func(branch, msg, path, content string, mark int, from int) {
		fmt.Fprintf(&stream, "commit refs/heads/%s\nmark :%d\ncommitter Ada <ada@example.invalid> %d +0000\ndata %d\n%s\n",
			branch, mark, 1700000000+mark*60, len(msg), msg)
		if from > 0 {
			fmt.Fprintf(&stream, "from :%d\n", from)
		}
		fmt.Fprintf(&stream, "M 100644 inline %s\ndata %d\n%s\n", path, len(content), content)
	}
	for i := 0; i < 150; i++ {
		commit("main", fmt.Sprintf("main %d", i), "f.txt", fmt.Sprintf("%d\n", i), i+1, 0)
	}
	for i := 0; i < 3; i++ {
		from := 0
		if i == 0 {
			from = 41 // main[40]
		}
		commit("feature", fmt.Sprintf("feature %d", i), "g.txt", fmt.Sprintf("%d\n", i), 1000+i, from)
	}
	for _, args := range [][]string{{"init", "-q", "--bare", "-b", "main", templateDir}} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			templateErr = fmt.Errorf("git %v: %v: %s", args, err, out)
			return
		}
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = templateDir
	cmd.Stdin = strings.NewReader(stream.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		templateErr = fmt.Errorf("fast-import: %v: %s", err, out)
		return
	}
	list := func(rev string) []string {
		out, _ := exec.Command("git", "-C", templateDir, "rev-list", "--reverse", rev).Output()
		return strings.Fields(string(out))
	}
	templateMain = list("main")
	templateFeat = list("main..feature")
}

func newRemote(t *testing.T) *remoteRepo {
	t.Helper()
	gittest.Need(t)
	templateOnce.Do(buildTemplate)
	if templateErr != nil {
		t.Fatal(templateErr)
	}
	if len(templateMain) != 150 || len(templateFeat) != 3 {
		t.Fatalf("template history: %d main, %d feature commits", len(templateMain), len(templateFeat))
	}
	r := &remoteRepo{t: t, main: templateMain, feature: templateFeat}
	r.bare = filepath.Join(t.TempDir(), "origin.git")
	git(t, ".", "clone", "-q", "--bare", templateDir, r.bare)
	git(t, r.bare, "config", "uploadpack.allowAnySHA1InWant", "true")
	return r
}

func TestMain(m *testing.M) {
	code := m.Run()
	if templateDir != "" {
		os.RemoveAll(filepath.Dir(templateDir))
	}
	os.Exit(code)
}

// checkout is what actions/checkout makes by default: one commit deep.
func (r *remoteRepo) checkout(branch string) *Git {
	dir := filepath.Join(r.t.TempDir(), "work")
	git(r.t, ".", "clone", "-q", "--depth=1", "--branch", branch, "file://"+r.bare, dir)
	return &Git{Dir: dir}
}

func (r *remoteRepo) head(name string) string {
	return git(r.t, r.bare, "rev-parse", name)
}

func TestPrepareShallowPullRequest(t *testing.T) {
	t.Parallel()
	r := newRemote(t)
	g := r.checkout("main")
	p, _ := ParseEvent("pull_request", event(t, "pull_request", map[string]string{
		"HEADSHA": r.feature[2], "BASESHA": r.main[149]}))
	spec, err := g.Prepare(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	// The three feature commits, though the fork point is 109 commits
	// below main's tip and the checkout started one commit deep.
	if spec.Commits != 3 || spec.Include[0] != r.feature[2] || spec.Exclude[0] != r.main[149] {
		t.Errorf("spec %+v", spec)
	}
}

func TestPrepareForkPullRequestByRef(t *testing.T) {
	t.Parallel()
	r := newRemote(t)
	// The head is only reachable through refs/pull/N/head, as for a fork.
	git(t, r.bare, "update-ref", "refs/pull/42/head", r.feature[2])
	git(t, r.bare, "update-ref", "-d", "refs/heads/feature")
	git(t, r.bare, "config", "uploadpack.allowAnySHA1InWant", "false")
	g := r.checkout("main")
	p, _ := ParseEvent("pull_request_target", event(t, "pull_request_target", map[string]string{
		"HEADSHA": r.feature[2], "BASESHA": r.main[149]}))
	spec, err := g.Prepare(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Commits != 3 {
		t.Errorf("spec %+v", spec)
	}
}

func TestPreparePush(t *testing.T) {
	t.Parallel()
	r := newRemote(t)
	g := r.checkout("main")
	p, _ := ParseEvent("push", event(t, "push", map[string]string{"AFTERSHA": r.main[149], "BEFORESHA": r.main[144]}))
	spec, err := g.Prepare(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Commits != 5 {
		t.Errorf("spec %+v", spec)
	}
}

func TestPreparePushNewBranch(t *testing.T) {
	t.Parallel()
	r := newRemote(t)
	g := r.checkout("feature")
	p := parse(t, "push", event(t, "push_new_branch", map[string]string{"AFTERSHA": r.feature[2]}))
	p.Ref = "refs/heads/feature"
	spec, err := g.Prepare(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	// Only what the default branch (main) does not have.
	if spec.Commits != 3 {
		t.Errorf("spec %+v", spec)
	}
}

func TestPreparePushForced(t *testing.T) {
	t.Parallel()
	r := newRemote(t)
	// Rewrite feature: two new commits on the same fork point.
	src := filepath.Join(t.TempDir(), "src")
	git(t, ".", "clone", "-q", r.bare, src)
	git(t, src, "checkout", "-q", "-B", "feature", r.main[40])
	for i := 0; i < 2; i++ {
		os.WriteFile(filepath.Join(src, "h.txt"), []byte(fmt.Sprint(i)), 0o644)
		git(t, src, "add", "h.txt")
		git(t, src, "commit", "-q", "-m", "rewritten")
	}
	git(t, src, "push", "-q", "--force", "origin", "feature")
	after := r.head("feature")
	g := r.checkout("feature")
	p, _ := ParseEvent("push", event(t, "push_forced", map[string]string{"AFTERSHA": after, "BEFORESHA": r.feature[2]}))
	spec, err := g.Prepare(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Commits != 2 || spec.Exclude[0] != r.main[40] || !strings.Contains(strings.Join(spec.Notes, " "), "force-push") {
		t.Errorf("spec %+v (want the 2 new commits above the merge base %s)", spec, r.main[40])
	}
}

func TestPrepareMergeGroup(t *testing.T) {
	t.Parallel()
	r := newRemote(t)
	g := r.checkout("main")
	p, _ := ParseEvent("merge_group", event(t, "merge_group", map[string]string{"HEADSHA": r.feature[2], "BASESHA": r.main[40]}))
	spec, err := g.Prepare(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Commits != 3 {
		t.Errorf("spec %+v", spec)
	}
}

func TestPrepareFullHistory(t *testing.T) {
	t.Parallel()
	r := newRemote(t)
	g := r.checkout("main")
	p, _ := ParseEvent("schedule", nil)
	spec, err := g.Prepare(context.Background(), p)
	if err != nil || !spec.Full {
		t.Fatalf("spec %+v, err %v", spec, err)
	}
	if sh, _ := g.shallow(context.Background()); len(sh) != 0 {
		t.Errorf("still shallow after preparing a full scan")
	}
	if out := git(t, g.Dir, "rev-parse", "origin/feature"); out != r.feature[2] {
		t.Errorf("other branches not fetched: %s", out)
	}
}

func TestPrepareFailsClosed(t *testing.T) {
	t.Parallel()
	r := newRemote(t)
	g := r.checkout("main")
	p, _ := ParseEvent("pull_request", event(t, "pull_request", map[string]string{
		"HEADSHA": strings.Repeat("c", 40), "BASESHA": r.main[149]}))
	_, err := g.Prepare(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "fetch-depth: 0") {
		t.Fatalf("err = %v, want a message that says what to change", err)
	}
}

// parse is ParseEvent for events the test wrote: an error fails the test.
func parse(t *testing.T, name string, data []byte) Plan {
	t.Helper()
	p, err := ParseEvent(name, data)
	if err != nil {
		t.Fatalf("parse %s event: %v", name, err)
	}
	return p
}

// TestPreparePushTwoNewBranches: one push creates two branches holding the
// same new commit ("git push origin feature feature:refs/heads/feature-backup").
// Each event's job sees the other branch already there; both must still
// scan the new commits.
func TestPreparePushTwoNewBranches(t *testing.T) {
	t.Parallel()
	r := newRemote(t)
	git(t, r.bare, "update-ref", "refs/heads/feature-backup", r.feature[2])
	for _, branch := range []string{"feature", "feature-backup"} {
		t.Run(branch, func(t *testing.T) {
			g := r.checkout(branch)
			p := parse(t, "push", event(t, "push_new_branch", map[string]string{"AFTERSHA": r.feature[2]}))
			p.Ref = "refs/heads/" + branch
			spec, err := g.Prepare(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			if spec.Commits != 3 || len(spec.Exclude) != 1 || spec.Exclude[0] != "refs/remotes/origin/main" {
				t.Errorf("spec %+v, want the 3 commits main does not have", spec)
			}
		})
	}
}

// TestPreparePushImportedRepository: "git push --mirror" (or --all) into an
// empty repository creates every branch in one push. The default branch's
// event scans its whole history even though another branch holds all of it;
// the other branches' events scan what the default branch lacks.
func TestPreparePushImportedRepository(t *testing.T) {
	t.Parallel()
	r := newRemote(t)
	// "topic" holds all of main and one more commit.
	src := filepath.Join(t.TempDir(), "src")
	git(t, ".", "clone", "-q", r.bare, src)
	git(t, src, "checkout", "-q", "-b", "topic", r.main[149])
	os.WriteFile(filepath.Join(src, "t.txt"), []byte("t\n"), 0o644)
	git(t, src, "add", "t.txt")
	gittest.RunAt(t, src, 1, "commit", "-q", "-m", "topic")
	git(t, src, "push", "-q", "origin", "topic")
	topic := r.head("topic")
	for _, c := range []struct {
		branch, after string
		want          int
	}{{"main", r.main[149], 150}, {"topic", topic, 1}, {"feature", r.feature[2], 3}} {
		t.Run(c.branch, func(t *testing.T) {
			g := r.checkout(c.branch)
			p := parse(t, "push", event(t, "push_new_branch", map[string]string{"AFTERSHA": c.after}))
			p.Ref = "refs/heads/" + c.branch
			spec, err := g.Prepare(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			if spec.Commits != c.want {
				t.Errorf("spec %+v, want %d commits", spec, c.want)
			}
		})
	}
}

// prCheckout makes the work tree actions/checkout makes for pull request
// n: git init, one depth-1 fetch of the merge ref (with filter when not
// empty, as for "filter: blob:none"), and a checkout.
func (r *remoteRepo) prCheckout(n int, merge, filter string) *Git {
	dir := filepath.Join(r.t.TempDir(), "work")
	os.MkdirAll(dir, 0o755)
	git(r.t, dir, "init", "-q")
	git(r.t, dir, "remote", "add", "origin", "file://"+r.bare)
	args := []string{"-c", "protocol.version=2", "fetch", "--no-tags", "--prune", "--no-recurse-submodules", "--depth=1"}
	if filter != "" {
		args = append(args, "--filter="+filter)
	}
	ref := fmt.Sprintf("refs/remotes/pull/%d/merge", n)
	git(r.t, dir, append(args, "origin", "+"+merge+":"+ref)...)
	git(r.t, dir, "checkout", "-q", "--force", ref)
	return &Git{Dir: dir}
}

// TestPreparePartialClone: in a blob:none (or treeless) checkout, Prepare
// fetches every object of the range, not only those the checkout of HEAD
// brought.
func TestPreparePartialClone(t *testing.T) {
	t.Parallel()
	for _, filter := range []string{"blob:none", "tree:0"} {
		t.Run(filter, func(t *testing.T) {
			r := newRemote(t)
			git(t, r.bare, "config", "uploadpack.allowFilter", "true")
			g := r.prCheckout(42, r.feature[2], filter)
			if out := g.promisor(context.Background()); out != "origin" {
				t.Fatalf("the checkout is not a partial clone: %q", out)
			}
			p := parse(t, "pull_request", event(t, "pull_request", map[string]string{"HEADSHA": r.feature[2], "BASESHA": r.main[149]}))
			spec, err := g.Prepare(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			if spec.Commits != 3 {
				t.Errorf("spec %+v", spec)
			}
			missing, err := g.missingObjects(context.Background(), []string{r.feature[2], "--not", r.main[149]})
			if err != nil || len(missing) > 0 {
				t.Errorf("after Prepare: missing %v, err %v", missing, err)
			}
			if !strings.Contains(strings.Join(spec.Notes, "\n"), "partial clone: fetched") {
				t.Errorf("notes %q do not say what was fetched", spec.Notes)
			}
		})
	}
}

// TestPreparePartialCloneFailsClosed: blobs the remote cannot send end in
// an error naming how many are missing.
func TestPreparePartialCloneFailsClosed(t *testing.T) {
	t.Parallel()
	r := newRemote(t)
	git(t, r.bare, "config", "uploadpack.allowFilter", "true")
	g := r.prCheckout(42, r.feature[2], "blob:none")
	// Fetch the commits, then lose the remote.
	git(t, g.Dir, "fetch", "-q", "--filter=blob:none", "--depth=200", "origin", r.feature[2], r.main[149])
	git(t, g.Dir, "remote", "set-url", "origin", "file://"+filepath.Join(t.TempDir(), "gone.git"))
	p := parse(t, "pull_request", event(t, "pull_request", map[string]string{"HEADSHA": r.feature[2], "BASESHA": r.main[149]}))
	_, err := g.Prepare(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "missing from this partial clone and could not be fetched") {
		t.Fatalf("err = %v", err)
	}
}

// TestAddedAllows: an allow comment a PR commit adds is listed (located in
// HEAD); one that came in by merging the base branch ("Update branch") is
// not the PR's, and one on the base before the PR is not either.
func TestAddedAllows(t *testing.T) {
	t.Parallel()
	gittest.Need(t)
	k := testkeys.New(7).Set()
	dir := t.TempDir()
	run := func(args ...string) string { t.Helper(); return git(t, dir, args...) }
	put := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run("init", "-q", "-b", "main")
	put("old.txt", "A="+k.AQKey+" # gemscan:allow\n")
	put("conf.txt", "v=0\n")
	run("add", "-A")
	run("commit", "-q", "-m", "base")
	run("checkout", "-q", "-b", "pr")
	put("fixture.txt", "x\nB="+k.APIKey+" # gemscan:allow\n")
	put("conf.txt", "v=1\n")
	run("add", "-A")
	run("commit", "-q", "-m", "pr")
	added := run("rev-parse", "HEAD")
	run("checkout", "-q", "main")
	put("main.txt", "C="+k.ExchangeKey+" # gemscan:allow\n")
	put("conf.txt", "v=2\n")
	run("add", "-A")
	run("commit", "-q", "-m", "main moves on")
	base := run("rev-parse", "HEAD") // the event's base: the base branch's tip
	run("checkout", "-q", "pr")
	if _, err := gittest.Try(dir, 0, "merge", "-q", "--no-ff", "-m", "Update branch", "main"); err == nil {
		t.Fatal("the merge did not conflict")
	}
	// The conflict's resolution adds a line no parent has.
	put("conf.txt", "v=3\nD="+k.AQKey+" # gemscan:allow\n")
	run("add", "-A")
	run("commit", "-q", "--no-edit")
	head := run("rev-parse", "HEAD")

	g := &Git{Dir: dir}
	got, err := g.AddedAllows(context.Background(), rules.NewDetector(), []string{head}, []string{base}, "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	want := []AllowNotice{{Rule: rules.GoogleAPI, Redacted: scanner.Redact(k.APIKey), Path: "fixture.txt",
		Commit: added, Line: 2, HeadLine: 2, HeadColumn: 3},
		{Rule: rules.GoogleGemini, Redacted: scanner.Redact(k.AQKey), Path: "conf.txt",
			Commit: head, Line: 2, HeadLine: 2, HeadColumn: 3}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestParseAllowDiffQuotedPath(t *testing.T) {
	t.Parallel()
	diff := "\x00c1\ndiff --git \"a/t\\tab.txt\" \"b/t\\tab.txt\"\n--- /dev/null\n+++ \"b/t\\tab.txt\"\n@@ -0,0 +1,2 @@\n+x\n+k # gemscan:allow\n"
	d, err := parseAllowDiff(strings.NewReader(diff))
	if err != nil || len(d.order) != 1 || !d.lines["c1"]["t\tab.txt"][2] {
		t.Errorf("diff %+v, err %v", d, err)
	}
}

// TestDiffPath: the path of a "+++ " line as git writes it, C-quoted or
// not, ended with a tab when it holds a space.
func TestDiffPath(t *testing.T) {
	for in, want := range map[string]string{
		"b/plain.txt":                  "b/plain.txt",
		"b/my fixture.txt\t":           "b/my fixture.txt",
		`"b/say \"hi\".txt"`:           `b/say "hi".txt`,
		"\"b/say \\\"hi\\\" x.txt\"\t": `b/say "hi" x.txt`,
		`"b/caf\303\251\\.txt"`:        "b/caf\u00e9\\.txt",
		"/dev/null":                    "/dev/null",
	} {
		got, err := diffPath(in)
		if err != nil || got != want {
			t.Errorf("diffPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`"b/open`, `"b/x\9.txt"`, `"b/x" y`} {
		if got, err := diffPath(bad); err == nil {
			t.Errorf("diffPath(%q) = %q, want an error", bad, got)
		}
	}
}

// TestAddedAllowsPathShapes: an allow comment a PR adds is listed whatever
// its file's name or encoding, and whatever .gitattributes the PR adds.
func TestAddedAllowsPathShapes(t *testing.T) {
	gittest.Need(t)
	k := testkeys.New(9).Set()
	line := "tok=\"" + k.AQKey + "\" # gemscan:allow\n"
	utf16le := func(s string) []byte {
		out := []byte{0xff, 0xfe}
		for _, r := range s {
			out = append(out, byte(r), 0)
		}
		return out
	}
	for name, tc := range map[string]struct {
		path  string
		files map[string][]byte
	}{
		"space":      {"my fixture.txt", map[string][]byte{"my fixture.txt": []byte(line)}},
		"colon":      {":fixture.txt", map[string][]byte{":fixture.txt": []byte(line), "fixture.txt": []byte("benign\n")}},
		"quote":      {`say "hi".txt`, map[string][]byte{`say "hi".txt`: []byte(line)}},
		"quote+tab":  {"say \"hi\" x.txt", map[string][]byte{"say \"hi\" x.txt": []byte(line)}},
		"attributes": {"fixture.txt", map[string][]byte{".gitattributes": []byte("* -diff\n"), "fixture.txt": []byte(line)}},
		"utf16":      {"fixture.txt", map[string][]byte{"fixture.txt": utf16le("x\r\n" + line)}},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			run := func(args ...string) string { t.Helper(); return git(t, dir, args...) }
			run("init", "-q", "-b", "main")
			if err := os.WriteFile(filepath.Join(dir, "README"), []byte("hi\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			run("add", "-A")
			run("commit", "-q", "-m", "base")
			base := run("rev-parse", "HEAD")
			for p, data := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, p), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			run("add", "-A")
			run("commit", "-q", "-m", "pr")
			head := run("rev-parse", "HEAD")
			g := &Git{Dir: dir}
			got, err := g.AddedAllows(context.Background(), rules.NewDetector(), []string{head}, []string{base}, "HEAD")
			if err != nil {
				t.Fatal(err)
			}
			wantLine := 1
			if name == "utf16" {
				wantLine = 2
			}
			want := []AllowNotice{{Rule: rules.GoogleGemini, Redacted: scanner.Redact(k.AQKey), Path: tc.path,
				Commit: head, Line: wantLine, HeadLine: wantLine, HeadColumn: 6}}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestAddedAllowsUTF16Unchanged: a UTF-16 file whose allow line the PR
// keeps (it edits another line) adds no allow comment.
func TestAddedAllowsUTF16Unchanged(t *testing.T) {
	gittest.Need(t)
	k := testkeys.New(10).Set()
	dir := t.TempDir()
	run := func(args ...string) string { t.Helper(); return git(t, dir, args...) }
	put := func(s string) {
		t.Helper()
		out := []byte{0xff, 0xfe}
		for _, r := range s {
			out = append(out, byte(r), 0)
		}
		if err := os.WriteFile(filepath.Join(dir, "w.txt"), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	allow := "tok=\"" + k.AQKey + "\" # gemscan:allow\n"
	run("init", "-q", "-b", "main")
	put("a\n" + allow)
	run("add", "-A")
	run("commit", "-q", "-m", "base")
	base := run("rev-parse", "HEAD")
	put("b gemscan:allow\n" + allow)
	run("commit", "-q", "-am", "pr")
	got, err := (&Git{Dir: dir}).AddedAllows(context.Background(), rules.NewDetector(), []string{"HEAD"}, []string{base}, "HEAD")
	if err != nil || len(got) != 0 {
		t.Errorf("got %+v, %v; want none", got, err)
	}
}

// TestLocateInHead: a finding is moved to its line in HEAD, also in a
// UTF-16 file; one HEAD no longer has gets the commit that removed it.
func TestLocateInHead(t *testing.T) {
	t.Parallel()
	gittest.Need(t)
	k := testkeys.New(8).Set()
	dir := t.TempDir()
	run := func(args ...string) string { t.Helper(); return git(t, dir, args...) }
	put := func(name string, content []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	utf16le := func(s string) []byte {
		out := []byte{0xff, 0xfe}
		for _, r := range s {
			out = append(out, byte(r), 0)
		}
		return out
	}
	run("init", "-q", "-b", "main")
	put("w.ps1", utf16le("$k = '"+k.AQKey+"'\r\n"))
	put("gone.env", []byte("K="+k.APIKey+"\n"))
	put(":k.txt", []byte("K="+k.AQKey+"\n"))
	put("k.txt", []byte("benign\n"))
	run("add", "-A")
	run("commit", "-q", "-m", "add")
	added := run("rev-parse", "HEAD")
	put("w.ps1", utf16le("# moved\r\n$k = '"+k.AQKey+"'\r\n"))
	run("rm", "-q", "gone.env")
	run("add", "-A")
	run("commit", "-q", "-m", "move, remove")
	removed := run("rev-parse", "HEAD")
	fs := []scanner.Finding{
		{Rule: rules.GoogleGemini, Path: "w.ps1", Value: k.AQKey, Commit: added, Line: 1, Column: 7, InHead: false},
		{Rule: rules.GoogleAPI, Path: "gone.env", Value: k.APIKey, Commit: added, Line: 1, Column: 3, InHead: true},
		{Rule: rules.GoogleGemini, Path: ":k.txt", Value: k.AQKey, Commit: added, Line: 1, Column: 3},
	}
	g := &Git{Dir: dir}
	gone, err := g.LocateInHead(context.Background(), rules.NewDetector(), "HEAD", nil, fs)
	if err != nil {
		t.Fatal(err)
	}
	if !fs[0].InHead || fs[0].Line != 2 || fs[0].Column != 7 {
		t.Errorf("UTF-16 finding at %d:%d (in HEAD %v), want 2:7 in HEAD", fs[0].Line, fs[0].Column, fs[0].InHead)
	}
	if !fs[2].InHead || fs[2].Line != 1 || fs[2].Column != 3 {
		t.Errorf("finding in :k.txt at %d:%d (in HEAD %v), want 1:3 in HEAD", fs[2].Line, fs[2].Column, fs[2].InHead)
	}
	if fs[1].InHead || gone[fs[1].Fingerprint()] != removed {
		t.Errorf("removed finding: in HEAD %v, removed in %q, want %s", fs[1].InHead, gone[fs[1].Fingerprint()], removed)
	}
}

// TestMemberAllows: only allow-comment suppressions inside archive
// members become notices; the diff route covers plain files, and other
// suppressions are not allow comments.
func TestMemberAllows(t *testing.T) {
	k := testkeys.New(11).Set()
	f := func(path, member string) scanner.Finding {
		return scanner.Finding{Rule: rules.GoogleGemini, Path: path, Member: member, Value: k.AQKey, Commit: "c1", Line: 3}
	}
	sup := []scanner.Suppressed{
		{Finding: f("a.zip!k.txt", "k.txt"), Reason: scanner.ReasonAllow},
		{Finding: f("b.zip!k.txt", "k.txt"), Reason: scanner.ReasonBaseline},
		{Finding: f("plain.txt", ""), Reason: scanner.ReasonAllow},
	}
	got := MemberAllows(nil, sup)
	want := []AllowNotice{{Rule: rules.GoogleGemini, Redacted: scanner.Redact(k.AQKey), Path: "a.zip!k.txt", Commit: "c1", Line: 3, Member: true}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

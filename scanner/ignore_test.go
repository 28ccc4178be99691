package scanner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	ignore "github.com/sabhiram/go-gitignore"

	"github.com/gemscan-dev/gemscan/internal/gittest"
	"github.com/gemscan-dev/gemscan/internal/testkeys"
)

// paths returns the scan-root-relative paths of res's findings, sorted.
func paths(res *Result) []string {
	var out []string
	for _, f := range res.Findings {
		out = append(out, f.Path)
	}
	sort.Strings(out)
	return out
}

// TestTrackedFilesAreScannedWhenIgnored checks git's rule that ignore
// files never apply to tracked files: a file committed before a .gitignore
// named it, and one force-added inside an ignored directory, are scanned;
// untracked ignored files are skipped, counted, and scanned with NoIgnore.
func TestTrackedFilesAreScannedWhenIgnored(t *testing.T) {
	k := testkeys.New(31).Set()
	r := newRepo(t)
	r.write(".env", "KEY="+k.APIKey+"\n")
	r.commit("env")
	r.write(".gitignore", ".env\nsecret/\nlocal.env\n")
	r.write("secret/forced.env", "KEY="+k.AQKey+"\n")
	r.git("add", "-f", "secret/forced.env")
	r.write("secret/untracked.env", "KEY="+k.AQKey+"\n")
	r.write("local.env", "KEY="+k.APIKey+"\n")
	r.write("sub/local.env", "KEY="+k.APIKey+"\n")
	r.commit("ignore it")

	res := ScanPaths(context.Background(), []string{r.dir}, Options{})
	noErrors(t, res)
	want := []string{".env", "secret/forced.env"}
	if got := paths(res); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("found in %v, want %v", got, want)
	}
	// local.env, sub/local.env and secret/untracked.env.
	if res.Stats.IgnoredPaths != 3 {
		t.Errorf("%d ignored paths counted, want 3", res.Stats.IgnoredPaths)
	}

	// Scanning a subdirectory reads the same index.
	res = ScanPaths(context.Background(), []string{filepath.Join(r.dir, "secret")}, Options{})
	noErrors(t, res)
	if got := paths(res); fmt.Sprint(got) != "[forced.env]" || res.Stats.IgnoredPaths != 1 {
		t.Errorf("scan of secret/: found in %v, %d ignored", got, res.Stats.IgnoredPaths)
	}

	res = ScanPaths(context.Background(), []string{r.dir}, Options{NoIgnore: true})
	noErrors(t, res)
	want = []string{".env", "local.env", "secret/forced.env", "secret/untracked.env", "sub/local.env"}
	if got := paths(res); fmt.Sprint(got) != fmt.Sprint(want) || res.Stats.IgnoredPaths != 0 {
		t.Errorf("--no-ignore: found in %v, want %v (%d ignored)", got, want, res.Stats.IgnoredPaths)
	}
}

// TestGemscanIgnoreAppliesToTrackedFiles: .gemscanignore is gemscan's own
// choice, made for tracked fixtures: what it hides is listed as suppressed.
func TestGemscanIgnoreAppliesToTrackedFiles(t *testing.T) {
	k := testkeys.New(32).Set()
	r := newRepo(t)
	r.write(IgnoreFile, "fixtures/\n")
	r.write("fixtures/fake.env", "KEY="+k.APIKey+"\n")
	r.write("real.env", "KEY="+k.APIKey+"\n")
	r.commit("fixtures")
	for _, noIgnore := range []bool{false, true} {
		res := ScanPaths(context.Background(), []string{r.dir}, Options{NoIgnore: noIgnore})
		noErrors(t, res)
		hidden := res.Suppressed.Count(ReasonIgnoreFile)
		if got := paths(res); fmt.Sprint(got) != "[real.env]" || hidden != 1 || res.Stats.IgnoredPaths != 0 {
			t.Errorf("no-ignore=%v: found in %v, %d hidden by %s, %d ignored", noIgnore, got, hidden, IgnoreFile, res.Stats.IgnoredPaths)
		}
	}
}

// TestEverythingIgnoredWarns is a directory inside a dotfiles repository
// whose .gitignore says "*": nothing is scanned, and the result says so
// loudly instead of reporting a clean scan of 0 files.
func TestEverythingIgnoredWarns(t *testing.T) {
	k := testkeys.New(33).Set()
	r := newRepo(t)
	r.write(".gitignore", "*\n")
	r.write("proj/app.env", "KEY="+k.APIKey+"\n")
	r.write("proj/deep/more.env", "KEY="+k.APIKey+"\n")
	proj := filepath.Join(r.dir, "proj")
	res := ScanPaths(context.Background(), []string{proj}, Options{})
	noErrors(t, res)
	if res.Stats.Files != 0 || res.Stats.IgnoredPaths != 2 {
		t.Fatalf("scanned %d files, %d ignored; want 0 and 2", res.Stats.Files, res.Stats.IgnoredPaths)
	}
	if len(res.Stats.Warnings) != 1 || !strings.Contains(res.Stats.Warnings[0], "--no-ignore") ||
		len(res.Stats.Notes) != 1 {
		t.Errorf("warnings %q, notes %q", res.Stats.Warnings, res.Stats.Notes)
	}
	res = ScanPaths(context.Background(), []string{proj}, Options{NoIgnore: true})
	noErrors(t, res)
	if len(res.Findings) != 2 || len(res.Stats.Warnings) != 0 {
		t.Errorf("--no-ignore: %d findings, warnings %q", len(res.Findings), res.Stats.Warnings)
	}
}

// TestIgnorePrecedence checks git's rules that a whole-path matcher gets
// wrong: a deeper file's negation re-includes, the last matching line of a
// file wins, and a pattern with a slash in the middle is anchored at its
// file's directory.
func TestIgnorePrecedence(t *testing.T) {
	k := testkeys.New(34).Set()
	dir := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		p = filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	key := "KEY=" + k.APIKey + "\n"
	write(".gitignore", "*.env\n!keep.env\nconf/local\n")
	write("a.env", key)    // ignored
	write("keep.env", key) // re-included by the same file's later line
	write("sub/.gitignore", "!b.env\n")
	write("sub/b.env", key)    // re-included by the deeper file
	write("sub/c.env", key)    // ignored by the root's *.env
	write("conf/local", key)   // ignored: anchored pattern
	write("x/conf/local", key) // scanned: conf/local is anchored at the root
	// Scanned as a plain directory, no repository.
	res := ScanPaths(context.Background(), []string{dir}, Options{})
	noErrors(t, res)
	want := []string{"keep.env", "sub/b.env", "x/conf/local"}
	if got := paths(res); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("found in %v, want %v", got, want)
	}
}

// TestDeepIgnoreWorkIsLinear bounds, without a clock, the matching work
// for a file 1000 directories deep with a .gitignore at every level: each
// pattern is tried once, on a string no longer than the file's name (the
// whole-path matcher tried every pattern on the whole path, which made a
// walk's work grow with the cube of its depth).
func TestDeepIgnoreWorkIsLinear(t *testing.T) {
	const depth = 1000
	var chain *ignoreChain
	rel := ""
	for i := 0; i < depth; i++ {
		ps := compilePatterns([]byte(fmt.Sprintf("secret-%d.env\n/build-%d/\n*.tmp\n", i, i)))
		f := &ignoreFile{patterns: ps, base: strings.TrimSuffix(rel, "/"), depth: i}
		chain = &ignoreChain{file: f, parent: chain}
		rel += "d/"
	}
	name := "config.env"
	ignored, work := chain.matchesWork(rel+name, name, depth+1, false)
	if ignored {
		t.Fatalf("%s ignored", name)
	}
	// 3 patterns per level; the anchored ones are never tried (wrong length).
	if limit := depth * 2 * len(name); work > limit {
		t.Errorf("matching did %d bytes of work, want at most %d (linear in the patterns)", work, limit)
	}
	if ignored, _ := chain.matchesWork(rel+"x.tmp", "x.tmp", depth+1, false); !ignored {
		t.Errorf("x.tmp not ignored")
	}
	if ignored, _ := chain.matchesWork(rel+"secret-3.env", "secret-3.env", depth+1, false); !ignored {
		t.Errorf("secret-3.env (named by a file 997 levels up) not ignored")
	}
}

// TestSimpleGlobsMatchLikeTheLibrary checks the string comparisons that
// replace regular expressions for common basename patterns against the
// library's matcher, on files and directories; where the library gets git
// wrong (it leaves "+" unescaped), git's answer is checked instead.
func TestSimpleGlobsMatchLikeTheLibrary(t *testing.T) {
	lines := []string{"*", ".env", "*.env", "secret*", "build/", "*.log/", "a.b", "node_modules"}
	names := []string{".env", "app.env", "env", "secret", "secrets.txt", "build", "x.log", "a.b", "axb", "x+y", "xxy",
		"node_modules", "my.env.bak"}
	for _, line := range lines {
		ps := compilePatterns([]byte(line))
		if len(ps) != 1 || ps[0].glob == 0 {
			t.Fatalf("%q: not compiled as a simple glob: %+v", line, ps)
		}
		lib := ignore.CompileIgnoreLines(line)
		for _, name := range names {
			for _, dir := range []bool{false, true} {
				target := name
				if dir {
					target += "/"
				}
				if got, want := ps[0].matchName(name, dir), lib.MatchesPath(target); got != want {
					t.Errorf("%q on %q: %v, the library says %v", line, target, got, want)
				}
			}
		}
	}
	plus := compilePatterns([]byte("x+y"))[0]
	if !plus.matchName("x+y", false) || plus.matchName("xxy", false) {
		t.Errorf(`"x+y" must match itself only`)
	}
}

// TestNestedRepository: a clone inside the scanned tree is judged as git
// judges it, by its own index and ignore files: its tracked files are
// scanned even where the outer .gitignore matches them, its own rules
// ignore its untracked files, and the outer rules do not reach into it.
func TestNestedRepository(t *testing.T) {
	k := testkeys.New(35).Set()
	outer := newRepo(t)
	outer.write(".gitignore", "*.env\n")
	outer.commit("outer")
	inner := &gitRepo{t: t, dir: filepath.Join(outer.dir, "lib")}
	if err := os.Mkdir(inner.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	inner.git("init", "-q", "-b", "main")
	inner.write(".env", "KEY="+k.APIKey+"\n")
	inner.write(".gitignore", "local.env\n.env\n")
	inner.git("add", "-f", ".env", ".gitignore")
	inner.git("commit", "-q", "-m", "inner")
	inner.write("local.env", "KEY="+k.APIKey+"\n") // ignored by lib's own rule
	inner.write("other.env", "KEY="+k.APIKey+"\n") // only the outer rule names it
	outer.write("top.env", "KEY="+k.APIKey+"\n")   // ignored, untracked

	res := ScanPaths(context.Background(), []string{outer.dir}, Options{})
	noErrors(t, res)
	want := []string{"lib/.env", "lib/other.env"}
	if got := paths(res); fmt.Sprint(got) != fmt.Sprint(want) || res.Stats.IgnoredPaths != 2 {
		t.Errorf("found in %v, want %v; %d ignored, want 2", got, want, res.Stats.IgnoredPaths)
	}
}

// TestIgnoreMatchesGit is the oracle for the ignore matching: over a tree
// of ignore files in many shapes, the files the walk skips as ignored are
// exactly those git lists as ignored (git ls-files --others --ignored).
func TestIgnoreMatchesGit(t *testing.T) {
	r := newRepo(t)
	r.write(".gitignore", strings.Join([]string{
		"*.log", "!keep.log", "/top-only.txt", "build/", "docs/*.html", "**/cache", "gen/**", "a/**/z.txt",
		"temp?.txt", "[ab]x.cfg", "n[!o]t.txt", "dir-only/", "*.bak", "nested/deep/file.txt", "\\#hash.txt", "space\\ .txt",
	}, "\n")+"\n")
	r.write("sub/.gitignore", "!important.bak\n*.tmp\n/local.cfg\nlogs/\n")
	r.write("sub/deeper/.gitignore", "!*.tmp\n")
	files := []string{
		"a.log", "keep.log", "sub/b.log", "sub/keep.log", "top-only.txt", "sub/top-only.txt",
		"build/out.js", "sub/build/out.js", "docs/a.html", "docs/x/b.html", "x/docs/c.html",
		"cache/c.txt", "sub/cache/c.txt", "gen/a/b.txt", "gen.txt", "a/z.txt", "a/b/c/z.txt", "b/a/z.txt",
		"temp1.txt", "temp12.txt", "ax.cfg", "cx.cfg", "dir-only/f.txt", "dir-only.txt", "x.bak",
		"sub/important.bak", "sub/y.tmp", "sub/deeper/y.tmp", "sub/local.cfg", "sub/x/local.cfg",
		"sub/logs/a.txt", "logs/a.txt", "nested/deep/file.txt", "x/nested/deep/file.txt", "#hash.txt", "space .txt",
		"plain.txt", "sub/plain.txt", "not.txt", "nxt.txt",
	}
	for _, f := range files {
		r.write(f, "x\n")
	}
	out := r.git("ls-files", "--others", "--ignored", "--exclude-standard")
	gitIgnored := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != "" {
			gitIgnored[l] = true
		}
	}
	// The walk's own output: the files it sends to be scanned.
	scanned := map[string]bool{}
	col := &collector{res: &Result{}}
	jobs := make(chan fileJob, len(files)+8)
	scanTree(context.Background(), r.dir, Options{}, jobs, col)
	close(jobs)
	noErrors(t, col.res)
	for j := range jobs {
		scanned[j.path] = true
	}
	if len(gitIgnored) < 10 {
		t.Fatalf("git ignores only %v: the fixture is wrong", gitIgnored)
	}
	for _, f := range files {
		if scanned[f] == gitIgnored[f] {
			t.Errorf("%s: scanned %v, git says ignored %v", f, scanned[f], gitIgnored[f])
		}
	}
}

// TestSHA256IndexRefused: the index of a SHA-256 repository holds longer
// object names than the parser reads; with ignored files about, not
// knowing what is tracked is an error naming the way out, not a guess.
func TestSHA256IndexRefused(t *testing.T) {
	k := testkeys.New(36).Set()
	r := &gitRepo{t: t, dir: t.TempDir()}
	if _, err := gittest.Try(r.dir, 0, "init", "-q", "--object-format=sha256"); err != nil {
		t.Skip("git cannot make SHA-256 repositories:", err)
	}
	r.write(".gitignore", "*.log\n")
	r.write("app.env", "KEY="+k.APIKey+"\n")
	r.write("x.log", "")
	r.commit("sha256")
	res := ScanPaths(context.Background(), []string{r.dir}, Options{})
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), "--no-ignore") || len(res.Findings) != 1 {
		t.Errorf("errors %v, %d findings", res.Errors, len(res.Findings))
	}
	res = ScanPaths(context.Background(), []string{r.dir}, Options{NoIgnore: true})
	noErrors(t, res)
}

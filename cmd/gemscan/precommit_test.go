package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gemscan-dev/gemscan/internal/gittest"
	"github.com/gemscan-dev/gemscan/internal/testkeys"
)

// TestPreCommitFramework runs the hook in .pre-commit-hooks.yaml through the
// real pre-commit framework, built from a snapshot of this checkout: a
// commit that adds a key fails, a clean one passes, and `pre-commit run
// --all-files` finds a key committed earlier.
func TestPreCommitFramework(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds gemscan through pre-commit; skipped with -short")
	}
	if _, err := exec.LookPath("pre-commit"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("pre-commit is not installed; .ci/run installs it (Debian package pre-commit)")
		}
		t.Skip("pre-commit is not installed (apt-get install pre-commit)")
	}
	gomodcache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	env := append(gittest.Env(0),
		"PRE_COMMIT_HOME="+t.TempDir(),
		// Reuse the module cache: pre-commit points GOPATH at its own env.
		"GOMODCACHE="+strings.TrimSpace(string(gomodcache)),
		// Build as releases do: with -trimpath the hook repository's
		// temporary path is not part of the build cache's keys, so
		// pre-commit's `go install` reuses the packages compiled by earlier
		// runs (and by TestVersionFromLdflags) instead of compiling all of
		// gemscan again every time.
		"GOFLAGS=-trimpath -ldflags=-w", "CGO_ENABLED=0", // no DWARF: a quarter of the link's time
		"NO_COLOR=1")
	run := func(dir string, wantOK bool, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if (err == nil) != wantOK {
			t.Fatalf("%s %s: err %v, want success %v\n%s", name, strings.Join(args, " "), err, wantOK, out)
		}
		return string(out)
	}

	// The hook repository: this checkout as it is now, committed.
	hookRepo := t.TempDir()
	snapshot(t, "../..", hookRepo)
	run(hookRepo, true, "git", "init", "-q", "-b", "main")
	run(hookRepo, true, "git", "add", "-A")
	run(hookRepo, true, "git", "commit", "-q", "-m", "snapshot")
	rev := strings.TrimSpace(run(hookRepo, true, "git", "rev-parse", "HEAD"))

	k := testkeys.New(61).Set()
	repo := t.TempDir()
	run(repo, true, "git", "init", "-q", "-b", "main")
	write(t, repo, ".pre-commit-config.yaml", "repos:\n- repo: "+hookRepo+"\n  rev: "+rev+"\n  hooks:\n  - id: gemscan\n  - id: gemscan-pre-push\n")
	write(t, repo, "README.md", "hello\n")
	run(repo, true, "pre-commit", "install")
	run(repo, true, "git", "add", "-A")
	run(repo, true, "git", "commit", "-q", "-m", "clean")

	// A commit that adds a key is blocked.
	write(t, repo, "config/app.env", "GEMINI_API_KEY="+k.ExchangeKey+"\nGEMINI_API_SECRET="+k.Secret+"\n")
	run(repo, true, "git", "add", "config/app.env")
	out := run(repo, false, "git", "commit", "-q", "-m", "leak")
	if !strings.Contains(out, "config/app.env") || !strings.Contains(out, "Commit blocked") {
		t.Errorf("blocked commit output does not name the file and the way forward:\n%s", out)
	}
	if strings.Contains(out, k.ExchangeKey) || strings.Contains(out, k.Secret) {
		t.Errorf("the hook printed the credential:\n%s", out)
	}

	// The key goes in anyway (--no-verify); --all-files must find it.
	run(repo, true, "git", "commit", "-q", "--no-verify", "-m", "leak")
	write(t, repo, "notes.txt", "clean\n")
	run(repo, true, "git", "add", "notes.txt")
	run(repo, true, "git", "commit", "-q", "-m", "clean again")
	out = run(repo, false, "pre-commit", "run", "--all-files")
	if !strings.Contains(out, "config/app.env") || !strings.Contains(out, "Gemini exchange API key") {
		t.Errorf("pre-commit run --all-files did not report the committed key:\n%s", out)
	}

	// The pre-push stage stops the push of that history.
	remote := filepath.Join(t.TempDir(), "remote.git")
	run(repo, true, "git", "init", "-q", "--bare", remote)
	run(repo, true, "git", "remote", "add", "origin", remote)
	run(repo, true, "pre-commit", "install", "--hook-type", "pre-push")
	out = run(repo, false, "git", "push", "origin", "main")
	if !strings.Contains(out, "push stopped before it left this machine") || !strings.Contains(out, "config/app.env") {
		t.Errorf("the pre-push stage did not stop the push:\n%s", out)
	}
	if strings.Contains(out, k.ExchangeKey) {
		t.Errorf("the pre-push stage printed the credential:\n%s", out)
	}
	if _, err := exec.Command("git", "-C", remote, "rev-parse", "--verify", "-q", "refs/heads/main").Output(); err == nil {
		t.Errorf("the remote received main")
	}
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// snapshot copies the module's source files (no .git, no build output)
// from src to dst.
func snapshot(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.Name() == ".git" && p != src {
			// A directory, or in a linked worktree a file naming one: copying
			// that file would make the test commit into this repository.
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if rel == filepath.Join("bench", "out") {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		write(t, dst, rel, string(data))
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
}

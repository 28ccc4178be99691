package gitdir

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gemscan-dev/gemscan/internal/gittest"
)

// Repositories are built once per test binary and read by every test
// that only reads them; a test that changes one works on a copy of its
// refs (copyRefs). Each git process, and each file created in a /tmp just
// emptied of many, costs a millisecond or more of system time.
var fixtures struct {
	dir string // removed by TestMain

	refsOnce       sync.Once
	refsMain       string
	refsWT         string
	refsErr        error
	initConfigOnce sync.Once
	initConfig     []byte
	initConfigErr  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtures.dir != "" {
		os.RemoveAll(fixtures.dir)
	}
	os.Exit(code)
}

// fixtureMu guards fixtures.dir, which parallel tests' first fixtures
// may both create.
var fixtureMu sync.Mutex

// fixtureDir makes the directory name under the shared fixtures' root.

func fixtureDir(name string) (string, error) {
	fixtureMu.Lock()
	defer fixtureMu.Unlock()
	if fixtures.dir == "" {
		d, err := os.MkdirTemp("", "gitdir-test-")
		if err != nil {
			return "", err
		}
		fixtures.dir = d
	}
	p := filepath.Join(fixtures.dir, name)
	return p, os.Mkdir(p, 0o755)
}

// refsRepo returns the shared repository with packed and loose refs (one
// loose ref overriding its packed line), an annotated tag, a symbolic
// ref, a nested branch, and a linked worktree with per-worktree refs. It
// must not be changed: copyRefs makes a copy to change.
func refsRepo(t *testing.T) (main, wt string) {
	t.Helper()
	gittest.Need(t)
	fixtures.refsOnce.Do(func() {
		fixtures.refsMain, fixtures.refsWT, fixtures.refsErr = buildRefsRepo()
	})
	if fixtures.refsErr != nil {
		t.Fatal(fixtures.refsErr)
	}
	return fixtures.refsMain, fixtures.refsWT
}

func buildRefsRepo() (main, wt string, err error) {
	root, err := fixtureDir("refs")
	if err != nil {
		return "", "", err
	}
	main = filepath.Join(root, "main")
	wt = filepath.Join(root, "wt")
	steps := [][]string{
		{"init", "-q", "-b", "main", main},
		{"commit", "-q", "--allow-empty", "-m", "one"},
		{"branch", "a"},
		{"branch", "b"},
		{"branch", "nested/deeper/c"},
		{"tag", "v1"},
		{"tag", "-a", "-m", "annotated", "v2"},
		{"update-ref", "refs/pull/7/head", "HEAD"},
		{"pack-refs", "--all"},
		{"commit", "-q", "--allow-empty", "-m", "two"},
		{"branch", "-f", "b"}, // loose now, its packed line stale
		{"symbolic-ref", "refs/heads/sym", "refs/heads/a"},
		{"worktree", "add", "-q", "-b", "wtb", wt},
	}
	for i, step := range steps {
		dir := main
		if i == 0 {
			dir = root
		}
		if out, err := gittest.Try(dir, i, step...); err != nil {
			return "", "", fmt.Errorf("git %s: %v\n%s", strings.Join(step, " "), err, out)
		}
	}
	for _, step := range [][]string{{"update-ref", "refs/bisect/bad", "HEAD~1"}, {"update-ref", "refs/worktree/mine", "HEAD"}} {
		if out, err := gittest.Try(wt, 0, step...); err != nil {
			return "", "", fmt.Errorf("git %s: %v\n%s", strings.Join(step, " "), err, out)
		}
	}
	return main, wt, nil
}

// copyRefs makes a work tree in a new temporary directory whose git
// directory holds a copy of what refs are read from in the work tree
// src's (HEAD, config, packed-refs, refs/), with src's objects as
// alternates: a repository git reads as src, to change without changing
// src. It returns the new work tree.
func copyRefs(t *testing.T, src string) string {
	t.Helper()
	from := filepath.Join(src, ".git")
	dir := t.TempDir()
	to := filepath.Join(dir, ".git")
	if err := os.MkdirAll(filepath.Join(to, "objects", "info"), 0o755); err != nil {
		t.Fatal(err)
	}
	objects, err := filepath.Abs(filepath.Join(from, "objects"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(to, "objects", "info", "alternates"), []byte(objects+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	copyFile := func(rel string) error {
		data, err := os.ReadFile(filepath.Join(from, rel))
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	}
	for _, f := range []string{"HEAD", "config", "packed-refs"} {
		if err := copyFile(f); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	err = filepath.WalkDir(filepath.Join(from, "refs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		return copyFile(rel)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// initConfig returns the config file `git init` writes.
func initConfig(t *testing.T) []byte {
	t.Helper()
	gittest.Need(t)
	fixtures.initConfigOnce.Do(func() {
		dir, err := fixtureDir("init")
		if err != nil {
			fixtures.initConfigErr = err
			return
		}
		if out, err := gittest.Try(dir, 0, "init", "-q", "-b", "main"); err != nil {
			fixtures.initConfigErr = fmt.Errorf("git init: %v\n%s", err, out)
			return
		}
		fixtures.initConfig, fixtures.initConfigErr = os.ReadFile(filepath.Join(dir, ".git", "config"))
	})
	if fixtures.initConfigErr != nil {
		t.Fatal(fixtures.initConfigErr)
	}
	return fixtures.initConfig
}

package gitdir

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/gemscan-dev/gemscan/internal/gittest"
)

func open(t *testing.T, dir string) Dirs {
	t.Helper()
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func describe(refs []*plumbing.Reference) []string {
	var out []string
	for _, r := range refs {
		out = append(out, r.String())
	}
	return out
}

// TestRefsMatchGoGit lists the refs of a main work tree as go-git's
// storage, which this reader replaces, listed them: same refs, same order.
func TestRefsMatchGoGit(t *testing.T) {
	t.Parallel()
	main, _ := refsRepo(t)
	d := open(t, main)
	got, err := d.Refs().All()
	if err != nil {
		t.Fatal(err)
	}
	st := filesystem.NewStorage(osfs.New(d.GitDir), cache.NewObjectLRU(0))
	iter, err := st.IterReferences()
	if err != nil {
		t.Fatal(err)
	}
	var want []*plumbing.Reference
	if err := iter.ForEach(func(r *plumbing.Reference) error { want = append(want, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if g, w := describe(got), describe(want); !slices.Equal(g, w) {
		t.Fatalf("refs\n%s\ngo-git lists\n%s", strings.Join(g, "\n"), strings.Join(w, "\n"))
	}
	// Presence: the cases the repository was built to hold are there.
	for _, name := range []string{"HEAD", "refs/heads/b", "refs/heads/sym", "refs/heads/nested/deeper/c", "refs/tags/v2", "refs/pull/7/head"} {
		if !slices.ContainsFunc(got, func(r *plumbing.Reference) bool { return r.Name().String() == name }) {
			t.Errorf("%s not listed", name)
		}
	}
}

// TestRefsMatchGit checks every ref, from the main work tree and from a
// linked worktree, against git's own reading (for-each-ref, rev-parse).
func TestRefsMatchGit(t *testing.T) {
	t.Parallel()
	main, wt := refsRepo(t)
	for _, dir := range []string{main, wt} {
		d := open(t, dir)
		refs := d.Refs()
		all, err := refs.All()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, r := range all {
			res, err := refs.Resolve(r.Name())
			if err != nil {
				t.Fatalf("%s: resolve %s: %v", dir, r.Name(), err)
			}
			got[r.Name().String()] = res.Hash().String()
		}
		want := map[string]string{"HEAD": gittest.Run(t, dir, "rev-parse", "HEAD")}
		for _, line := range strings.Split(gittest.Run(t, dir, "for-each-ref", "--format=%(refname) %(objectname)"), "\n") {
			name, h, _ := strings.Cut(line, " ")
			want[name] = h
		}
		for name, h := range want {
			if got[name] != h {
				t.Errorf("%s: %s = %q, git says %q", dir, name, got[name], h)
			}
		}
		for name := range got {
			if _, ok := want[name]; !ok {
				t.Errorf("%s: %s listed, git does not list it", dir, name)
			}
		}
		if dir == wt {
			for _, name := range []string{"refs/bisect/bad", "refs/worktree/mine", "refs/heads/wtb"} {
				if _, ok := got[name]; !ok {
					t.Errorf("worktree: %s missing", name)
				}
			}
			head, err := refs.Reference(plumbing.HEAD)
			if err != nil || head.Target() != "refs/heads/wtb" {
				t.Errorf("worktree HEAD = %v, %v; want refs/heads/wtb", head, err)
			}
		}
	}
	// The main work tree does not see the worktree's own refs.
	if _, err := open(t, main).Refs().Reference("refs/bisect/bad"); !errors.Is(err, plumbing.ErrReferenceNotFound) {
		t.Errorf("main work tree reads the worktree's refs/bisect/bad: %v", err)
	}
}

// TestRefsFailClosed: a ref that cannot be read is an error, never a ref
// passed over or an older packed value.
func TestRefsFailClosed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		setup   func(t *testing.T, gitDir string)
		ref     string
		listErr bool
	}{
		{"empty loose ref", func(t *testing.T, g string) { write(t, g, "refs/heads/b", "") }, "refs/heads/b", true},
		{"garbage loose ref", func(t *testing.T, g string) { write(t, g, "refs/heads/b", "not a hash\n") }, "refs/heads/b", true},
		{"short hash", func(t *testing.T, g string) { write(t, g, "refs/heads/b", "0123abcd\n") }, "refs/heads/b", true},
		{"bad packed line", func(t *testing.T, g string) { appendTo(t, g, "packed-refs", "zzzz refs/heads/odd\n") }, "refs/heads/odd", true},
		{"symref loop", func(t *testing.T, g string) {
			write(t, g, "refs/heads/x", "ref: refs/heads/y\n")
			write(t, g, "refs/heads/y", "ref: refs/heads/x\n")
		}, "refs/heads/x", false},
		{"escaping name", func(*testing.T, string) {}, "refs/../config", false},
		{"unreadable ref", func(t *testing.T, g string) {
			write(t, g, "refs/heads/b", "")
			if err := os.Chmod(filepath.Join(g, "refs/heads/b"), 0); err != nil {
				t.Fatal(err)
			}
			if os.Geteuid() == 0 {
				t.Skip("root reads any file")
			}
		}, "refs/heads/b", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			main, _ := refsRepo(t)
			d := open(t, copyRefs(t, main))
			tc.setup(t, d.GitDir)
			if _, err := d.Refs().Resolve(plumbing.ReferenceName(tc.ref)); err == nil || errors.Is(err, plumbing.ErrReferenceNotFound) {
				t.Errorf("resolve %s: %v, want an error", tc.ref, err)
			}
			if _, err := d.Refs().All(); tc.listErr && err == nil {
				t.Errorf("listing refs: no error")
			}
			if !tc.listErr || tc.name == "bad packed line" {
				return
			}
			// List goes on past the broken loose ref: the others are
			// listed, it is reported, and its stale packed line (b was
			// packed, then updated loose) does not stand in for it.
			refs, bad, err := d.Refs().List()
			if err != nil || len(bad) != 1 || !strings.Contains(bad[0].Error(), tc.ref) {
				t.Fatalf("List: bad %v, err %v; want one error naming %s", bad, err, tc.ref)
			}
			names := describe(refs)
			if slices.ContainsFunc(names, func(n string) bool { return strings.Contains(n, tc.ref+" ") }) {
				t.Errorf("%s listed despite being unreadable: %v", tc.ref, names)
			}
			if !slices.ContainsFunc(names, func(n string) bool { return strings.Contains(n, "refs/heads/a ") }) {
				t.Errorf("refs/heads/a not listed: %v", names)
			}
		})
	}
}

func TestRefsUnbornAndMissing(t *testing.T) {
	t.Parallel()
	gittest.Need(t)
	dir := t.TempDir()
	gittest.Run(t, dir, "init", "-q", "-b", "main")
	refs := open(t, dir).Refs()
	if _, err := refs.Resolve(plumbing.HEAD); !errors.Is(err, plumbing.ErrReferenceNotFound) {
		t.Errorf("unborn HEAD: %v, want ErrReferenceNotFound", err)
	}
	all, err := refs.All()
	if err != nil || len(all) != 1 || all[0].Target() != "refs/heads/main" {
		t.Errorf("unborn repository lists %v, %v", describe(all), err)
	}
	if _, err := refs.Reference("refs/heads/none"); !errors.Is(err, plumbing.ErrReferenceNotFound) {
		t.Errorf("missing ref: %v", err)
	}
}

func write(t *testing.T, gitDir, name, content string) {
	t.Helper()
	p := filepath.Join(gitDir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendTo(t *testing.T, gitDir, name, content string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(gitDir, name), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
}

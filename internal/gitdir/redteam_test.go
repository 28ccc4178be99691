package gitdir

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gemscan-dev/gemscan/internal/gittest"
)

// TestListDuplicatePackedRef: packed-refs naming a ref twice (git's
// for-each-ref lists both values) is an error for that ref, never the first
// value silently standing for both.
func TestListDuplicatePackedRef(t *testing.T) {
	t.Parallel()
	main, _ := refsRepo(t)
	dir := copyRefs(t, main)
	// The shared repository's two commits.
	one := strings.TrimSpace(gittest.Run(t, dir, "rev-parse", "HEAD~1"))
	two := strings.TrimSpace(gittest.Run(t, dir, "rev-parse", "HEAD"))
	// The two lines go where the file's order puts them (it says it is
	// sorted: git looks refs up by bisection).
	packed := filepath.Join(dir, ".git", "packed-refs")
	data, err := os.ReadFile(packed)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	at := slices.IndexFunc(lines, func(l string) bool {
		_, name, ok := strings.Cut(strings.TrimSpace(l), " ")
		return ok && !strings.HasPrefix(l, "#") && name > "refs/heads/side"
	})
	if at < 0 {
		at = len(lines)
	}
	lines = slices.Insert(lines, at, one+" refs/heads/side\n", two+" refs/heads/side\n")
	if err := os.WriteFile(packed, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := gittest.Run(t, dir, "for-each-ref", "refs/heads/side"); strings.Count(out, "refs/heads/side") != 2 {
		t.Fatalf("git lists %q, want both values", out)
	}

	refs, bad, err := open(t, dir).Refs().List()
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 1 || bad[0].Name != "refs/heads/side" || !errors.Is(bad[0], ErrBadRef) {
		t.Fatalf("bad %v, want refs/heads/side listed twice", bad)
	}
	if got := describe(refs); !strings.Contains(strings.Join(got, " "), "refs/heads/main") {
		t.Errorf("refs %v: the others are still listed", got)
	}
}

// TestCheckSupportedRefusesUnknownFormats: what git refuses to read
// (a format version above 1, an unknown extension from version 1), and
// what gemscan cannot read (reftable refs, sha256 objects), is refused
// with ErrUnsupported; what it can read passes.
func TestCheckSupportedRefusesUnknownFormats(t *testing.T) {
	gittest.Need(t)
	for _, c := range []struct {
		name   string
		config [][2]string
		ok     bool
		want   string
	}{
		{"plain", nil, true, ""},
		{"v1 partial clone", [][2]string{{"core.repositoryformatversion", "1"}, {"extensions.partialClone", "origin"}}, true, ""},
		{"v1 worktree config", [][2]string{{"core.repositoryformatversion", "1"}, {"extensions.worktreeConfig", "true"}}, true, ""},
		{"files refs", [][2]string{{"core.repositoryformatversion", "1"}, {"extensions.refStorage", "files"}}, true, ""},
		{"unknown v0", [][2]string{{"extensions.frobnicate", "yes"}}, true, ""},
		{"reftable", [][2]string{{"core.repositoryformatversion", "1"}, {"extensions.refStorage", "reftable"}}, false, "reftable"},
		{"reftable v0", [][2]string{{"extensions.refStorage", "reftable"}}, false, "reftable"},
		{"sha256", [][2]string{{"core.repositoryformatversion", "1"}, {"extensions.objectFormat", "sha256"}}, false, "sha256"},
		{"unknown v1", [][2]string{{"core.repositoryformatversion", "1"}, {"extensions.frobnicate", "yes"}}, false, "frobnicate"},
		{"version 2", [][2]string{{"core.repositoryformatversion", "2"}}, false, "version 2"},
		{"version garbage", [][2]string{{"core.repositoryformatversion", "one"}}, false, "not a number"},
	} {
		t.Run(c.name, func(t *testing.T) {
			// The config git init writes, changed by git config: only the
			// config file is read.
			dir := t.TempDir()
			file := filepath.Join(dir, "config")
			if err := os.WriteFile(file, initConfig(t), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, kv := range c.config {
				gittest.Run(t, dir, "config", "--file", file, kv[0], kv[1])
			}
			err := CheckSupported(Dirs{GitDir: dir, CommonDir: dir})
			if c.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want ErrUnsupported naming %q", err, c.want)
			}
		})
	}
}

// TestConfigHostileMatchesGit: configuration files crafted to make a
// reader see another value than git does (NUL bytes, long lines, odd
// headers and escapes) either read as git reads them or fail to parse;
// never a value git does not see, for the variables the format checks
// read.
func TestConfigHostileMatchesGit(t *testing.T) {
	gittest.Need(t)
	long := strings.Repeat("x", 200000)
	for i, text := range []string{
		"[extensions]\n\tobjectFormat = sha\x00256\n",
		"[extensions]\n\tobject\x00Format = sha256\n",
		"[extens\x00ions]\n\tobjectFormat = sha256\n",
		"[extensions]\n\tobjectFormat = " + long + "\n",
		"[extensions]objectFormat=sha256\n",
		"[extensions] objectFormat = sha256 ; x\n",
		"[extensions \"\"]\n\tobjectFormat = sha256\n",
		"[extensions.]\n\tobjectFormat = sha256\n",
		"[extensions.sub]\n\tobjectFormat = sha256\n",
		"[Extensions]\n\tOBJECTFORMAT = SHA256\n",
		"[extensions]\n\tobjectFormat = \"sha256\"\n",
		"[extensions]\n\tobjectFormat = sha1 ; sha256\n",
		"[extensions]\n\tobjectFormat = sha1 # sha256\n",
		"[extensions]\n\tobjectFormat = \"sha1 ; \" sha256\n",
		"[extensions]\n\tobjectFormat\n",
		"[extensions]\n\tobjectFormat = sha256\n\tobjectFormat = sha1\n",
		"[extensions]\n\tobjectFormat = sha256\\",
		"[extensions]\n\tobjectFormat = sha1\\\nsha256\n",
		"[extensions]\n\tobject_format = sha256\n",
		"[extensions]\n\tobjectFormat = sha256\f\n",
		"\xef\xbb\xbf[extensions]\n\tobjectFormat = sha256\n",
		"[extensions]\r\n\tobjectFormat = sha256\r\n",
		"[extensions]\n\tobjectFormat = sha\\x256\n",
		"[extensions]\n\t1objectFormat = sha256\n",
		"objectFormat = sha256\n",
		"[core]\n\trepositoryformatversion = 1k\n",
		"[core]\n\trepositoryformatversion = \" 1\"\n",
		"[core]\n\trepositoryformatversion = +1\n",
		"[core]\n\trepositoryformatversion = 01\n",
		"[core]\n\trepositoryformatversion = 4294967297\n",
	} {
		dir := t.TempDir()
		file := filepath.Join(dir, "config")
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, perr := ReadConfig(file)
		objectFormat := "" // git config --get's: --get-all's last value
		for _, key := range []string{"extensions.objectformat", "core.repositoryformatversion"} {
			out, gerr := gittest.Try(dir, 0, "config", "--file", file, "--get-all", key)
			if key == "extensions.objectformat" && gerr == nil {
				all := strings.Split(out, "\n")
				objectFormat = all[len(all)-1]
			}
			sec, k, _ := strings.Cut(key, ".")
			var got string
			var ok bool
			if perr == nil {
				got, ok = cfg.Get(sec, "", k)
			}
			lines := strings.Split(out, "\n")
			switch {
			case gerr != nil && out != "":
				// git refuses the file: so must the parser, or read nothing.
				if perr == nil && ok {
					t.Errorf("case %d %q: git refuses it (%s), gemscan reads %s=%q", i, abbrev(text), abbrev(out), key, abbrev(got))
				}
			case perr != nil:
				// Refusing what git reads is safe (exit 2).
			case gerr != nil:
				if ok {
					t.Errorf("case %d %q: git has no %s, gemscan reads %q", i, abbrev(text), key, abbrev(got))
				}
			case strings.TrimSpace(got) != lines[len(lines)-1]: // (Try trims git's output)
				t.Errorf("case %d %q: %s is %q for git, %q for gemscan", i, abbrev(text), key, abbrev(lines[len(lines)-1]), abbrev(got))
			}
		}
		// And the format check refuses all that could be sha256 for git
		// or whose version is not 0 or 1.
		if strings.EqualFold(strings.TrimSpace(objectFormat), "sha256") {
			if err := CheckSupported(Dirs{CommonDir: dir, GitDir: dir}); err == nil {
				t.Errorf("case %d %q: git reads sha256, CheckSupported passes", i, abbrev(text))
			}
		}
	}
}

package gitdir

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	goconfig "github.com/go-git/go-git/v5/plumbing/format/config"

	"github.com/gemscan-dev/gemscan/internal/gittest"
)

// configCases are configuration files git reads; each variable listed in
// want is checked against `git config --get` and go-git's decoder.
var configCases = []struct {
	name, text string
	want       [][3]string // section, subsection, key
}{
	{"plain", "[core]\n\trepositoryformatversion = 0\n\tbare = false\n[extensions]\n\tobjectFormat = sha256\n",
		[][3]string{{"core", "", "bare"}, {"extensions", "", "objectformat"}, {"core", "", "repositoryformatversion"}}},
	{"subsections", "[remote \"origin\"]\n\turl = file:///x\n\tpromisor = true\n[remote \"Up Stream\"]\n\tpromisor = false\n",
		[][3]string{{"remote", "origin", "promisor"}, {"remote", "Up Stream", "promisor"}, {"remote", "origin", "url"}}},
	{"case", "[CORE]\n\tHooksPath = /h\n[Core]\n\thookspath = /last\n",
		[][3]string{{"core", "", "hooksPath"}}},
	{"quotes and escapes", "[core]\n\thooksPath = \"a b\"  c\\t\\\"d\\\\ ; comment\n",
		[][3]string{{"core", "", "hooksPath"}}},
	{"comment chars in quotes", "[gemscan]\n\tbaseline = \"x;y#z\" # trailing\n",
		[][3]string{{"gemscan", "", "baseline"}}},
	{"continuation", "[gemscan]\n\tbaseline = a\\\n  b\n[x]\n\ty = 1\n",
		[][3]string{{"gemscan", "", "baseline"}, {"x", "", "y"}}},
	{"internal spaces", "[gemscan]\n\tbaseline =   a  \t b   \n",
		[][3]string{{"gemscan", "", "baseline"}}},
	{"crlf and comments", "# top\r\n; also\r\n[core]\r\n\thooksPath = /h\r\n",
		[][3]string{{"core", "", "hooksPath"}}},
	{"empty value", "[extensions]\n\tpartialClone =\n",
		[][3]string{{"extensions", "", "partialclone"}}},
	{"escaped subsection", "[remote \"a\\\"b\\\\c\"]\n\tpromisor = yes\n",
		[][3]string{{"remote", "a\"b\\c", "promisor"}}},
	{"header then key on one line", "[core] hooksPath = /one\n",
		[][3]string{{"core", "", "hooksPath"}}},
}

// TestConfigMatchesGit checks the parser against git itself and against
// go-git's decoder, which it replaces.
func TestConfigMatchesGit(t *testing.T) {
	gittest.Need(t)
	dir := t.TempDir()
	for _, tc := range configCases {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if err := os.WriteFile(file, []byte(tc.text), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := ParseConfig([]byte(tc.text))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			gc := goconfig.New()
			goErr := goconfig.NewDecoder(bytes.NewReader([]byte(tc.text))).Decode(gc)
			for _, w := range tc.want {
				key := w[0] + "." + w[2]
				if w[1] != "" {
					key = w[0] + "." + w[1] + "." + w[2]
				}
				want, err := gittest.Try(dir, 0, "config", "-f", file, "--get", key)
				if err != nil {
					t.Fatalf("git config --get %s: %v %s", key, err, want)
				}
				got, ok := c.Get(w[0], w[1], w[2])
				if !ok || got != want {
					t.Errorf("%s = %q (set: %v), git says %q", key, got, ok, want)
				}
				if goErr == nil {
					s := gc.Section(w[0])
					goVal := s.Option(w[2])
					if w[1] != "" {
						goVal = s.Subsection(w[1]).Option(w[2])
					}
					// go-git keeps a value's spaces as written; git and
					// this parser fold them.
					if strings.Join(strings.Fields(goVal), " ") != strings.Join(strings.Fields(got), " ") {
						t.Errorf("%s = %q, go-git says %q", key, got, goVal)
					}
				}
			}
		})
	}
}

// TestConfigRefusesWhatGitRefuses: a file git cannot read is an error,
// never an empty configuration.
func TestConfigRefusesWhatGitRefuses(t *testing.T) {
	gittest.Need(t)
	dir := t.TempDir()
	for _, text := range []string{
		"[core\n\tbare = true\n",
		"[core]\n\tbad_key = 1\n",
		"[core]\n\thooksPath = \"unterminated\n",
		"[core]\n\thooksPath = bad\\qescape\n",
		"[remote \"unterminated]\n",
		"[remote origin]\n",
		"[]\n",
		"[core]\n\t1key = x\n",
	} {
		if _, err := ParseConfig([]byte(text)); err == nil {
			t.Errorf("%q parsed without an error", text)
		}
		file := filepath.Join(dir, "config")
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := gittest.Try(dir, 0, "config", "-f", file, "--list"); err == nil {
			t.Errorf("git reads %q (%s): the case is wrong", text, out)
		}
	}
}

func TestConfigImplicitBool(t *testing.T) {
	c, err := ParseConfig([]byte("[remote \"o\"]\n\tpromisor ; comment\n\tfetch = x\n"))
	if err != nil {
		t.Fatal(err)
	}
	es := c.Entries()
	if len(es) != 2 || es[0].Key != "promisor" || !es[0].Implicit || !es[0].Bool() || es[1].Value != "x" {
		t.Fatalf("entries %+v", es)
	}
	if _, ok := c.Get("remote", "", "promisor"); ok {
		t.Error("a subsection's variable read without its subsection")
	}
}

func TestReadConfigMissingFile(t *testing.T) {
	c, err := ReadConfig(filepath.Join(t.TempDir(), "none"))
	if err != nil || len(c.Entries()) != 0 {
		t.Fatalf("missing file: %v, %v", c, err)
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, tc := range configCases {
		f.Add([]byte(tc.text))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err == nil {
			for _, e := range c.Entries() {
				if e.Key == "" {
					t.Fatalf("entry without a name: %+v", e)
				}
			}
		}
	})
}

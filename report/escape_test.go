package report

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
)

func TestSanitize(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain/path.env", "plain/path.env"},
		{"clé ünïcode 日本.txt", "clé ünïcode 日本.txt"},
		{"e\n::warning ::x", `e\n::warning ::x`},
		{"\x1b[2Jclear\x1b]0;title\x07", `\x1b[2Jclear\x1b]0;title\a`},
		{"tab\there\r", `tab\there\r`},
		{"del\x7f c1\u0085", `del\x7f c1\u0085`},
		{"\u202eexe.txt", `\u202eexe.txt`},
		{"bad\xffutf8", `bad\xffutf8`},
		{`back\slash "quote"`, `back\slash "quote"`}, // printable: unchanged
	} {
		if got := Sanitize(c.in); got != c.want {
			t.Errorf("Sanitize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestQuoteName(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"config/app.env", "config/app.env"},
		{"my app/clé.env", "my app/clé.env"},
		{"a\nb", `"a\nb"`},
		{`a\nb`, `"a\\nb"`}, // a backslash and an n: told apart from a newline
		{`say "hi".txt`, `"say \"hi\".txt"`},
		{"\x1b[8mhidden", `"\x1b[8mhidden"`},
	} {
		got := QuoteName(c.in)
		if got != c.want {
			t.Errorf("QuoteName(%q) = %s, want %s", c.in, got, c.want)
		}
		if got != c.in {
			if back, err := strconv.Unquote(got); err != nil || back != c.in {
				t.Errorf("QuoteName(%q) = %s does not unquote to the name", c.in, got)
			}
		}
	}
}

func TestMarkdown(t *testing.T) {
	for _, c := range []struct{ in, code, text string }{
		{"a.env", "`a.env`", `a\.env`},
		{"a`b", "``a`b``", "a\\`b"},
		{"`x`", "`` `x` ``", "\\`x\\`"},
		{"x``y```z", "````x``y```z````", "x\\`\\`y\\`\\`\\`z"},
		{"a|b", "`a\\|b`", `a\|b`},
		{"<img src=x>", "`<img src=x>`", `\<img src\=x\>`},
		{"[Rotate](https://evil.example)", "`[Rotate](https://evil.example)`", `\[Rotate\]\(https\:\/\/evil\.example\)`},
		{"line\r\nbreak", "`line\\r\\nbreak`", `line\\r\\nbreak`},
		{"www.evil.example", "`www.evil.example`", `www\.evil\.example`},
	} {
		if got := MarkdownCode(c.in); got != c.code {
			t.Errorf("MarkdownCode(%q) = %s, want %s", c.in, got, c.code)
		}
		if got := MarkdownText(c.in); got != c.text {
			t.Errorf("MarkdownText(%q) = %s, want %s", c.in, got, c.text)
		}
	}
}

// TestURIsStayRelative: a result's artifact URI is resolved against
// SRCROOT; no path may make it absolute or name another host.
func TestURIsStayRelative(t *testing.T) {
	base, _ := url.Parse("file:///src/repo/")
	for _, p := range []string{"https:/evil.example/x.env", "javascript:alert(1)", "C:x", "a:b/c:d",
		"./:x", "a b/%41/#frag?q", "clé.env", "../up.env"} {
		loc := artifactOf(p)
		u, err := url.Parse(loc.URI)
		if err != nil {
			t.Errorf("%q: URI %q does not parse: %v", p, loc.URI, err)
			continue
		}
		if u.IsAbs() || u.Host != "" || strings.HasPrefix(loc.URI, "/") || loc.URIBaseID != srcRoot {
			t.Errorf("%q: URI %q (base %q) is not a relative path reference", p, loc.URI, loc.URIBaseID)
			continue
		}
		got := base.ResolveReference(u)
		want := strings.TrimLeft(strings.TrimPrefix(p, "./"), "/")
		if got.Scheme != "file" || !strings.HasPrefix(got.Path, "/src/") || !strings.HasPrefix(want, "..") && got.Path != "/src/repo/"+want {
			t.Errorf("%q: resolves to %s", p, got)
		}
	}
	if loc := artifactOf("/abs/pa th"); loc.URI != "file:///abs/pa%20th" || loc.URIBaseID != "" {
		t.Errorf("an absolute path: %+v", loc)
	}
	// An absolute path is a file URI on this host, whatever it starts with.
	if u, err := url.Parse(artifactOf("//evil.example/x").URI); err != nil || u.Scheme != "file" || u.Host != "" {
		t.Errorf("//evil.example/x: %v %v", u, err)
	}
}

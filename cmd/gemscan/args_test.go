package main

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestFlagsAnywhere(t *testing.T) {
	app := newApp(&env{vars: map[string]string{}})
	for _, c := range []struct{ in, want string }{
		{"gemscan dir . --format json", "gemscan dir --format json ."},
		{"gemscan dir a -o out.json b --verify", "gemscan dir -o out.json --verify a b"},
		{"gemscan dir a --format=json b", "gemscan dir --format=json a b"},
		{"gemscan dir -o -weird a", "gemscan dir -o -weird a"},         // a value that looks like a flag
		{"gemscan dir a -- --format b", "gemscan dir -- a --format b"}, // "--" ends the flags
		{"gemscan dir - --binary", "gemscan dir --binary -"},
		{"gemscan git . --branch main --branch dev -q", "gemscan git --branch main --branch dev -q ."},
		{"gemscan staged -v f.txt --all-lines", "gemscan staged -v --all-lines f.txt"},
		{"gemscan dir . --help", "gemscan dir --help"},
		{"gemscan --help", "gemscan --help"},
		{"gemscan help dir", "gemscan help dir"},
		{"gemscan", "gemscan"},
	} {
		got, err := flagsAnywhere(app, strings.Fields(c.in))
		if err != nil || !slices.Equal(got, strings.Fields(c.want)) {
			t.Errorf("%s: got %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for in, msg := range map[string]string{
		"gemscan dir . --fromat json": "gemscan dir: unknown flag --fromat; did you mean --format?",
		"gemscan dri":                 `gemscan: no command "dri"; did you mean "dir"?`,
		"gemscan verfy":               `gemscan: no command "verfy"; did you mean "verify"?`,
		"gemscan zzzzzz":              `gemscan: no command "zzzzzz"`,
		"gemscan dir --zzzzzzzz":      "gemscan dir: unknown flag --zzzzzzzz",
		"gemscan --format json dir":   "gemscan: unknown flag --format",
	} {
		_, err := flagsAnywhere(app, strings.Fields(in))
		var u *usageError
		if !errors.As(err, &u) || u.msg != msg {
			t.Errorf("%s: got %v, want %q", in, err, msg)
		}
	}
}

package main

import (
	"slices"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestFlagNamesMatchCLI checks flagNames against urfave/cli's FlagNames,
// on every flag of every command and on names FlagNames would cut.
func TestFlagNamesMatchCLI(t *testing.T) {
	e := &env{vars: map[string]string{}}
	type named struct {
		name    string
		aliases []string
	}
	cases := []named{{"a,b", nil}, {"x y", []string{"z"}}, {"x", []string{"y, z"}}, {"x", nil}}
	for _, c := range newApp(e).Commands {
		for _, f := range c.Flags {
			switch f := f.(type) {
			case *boolFlag:
				cases = append(cases, named{f.Name, f.Aliases})
			case *stringFlag:
				cases = append(cases, named{f.Name, f.Aliases})
			case *uintFlag:
				cases = append(cases, named{f.Name, f.Aliases})
			case *float64Flag:
				cases = append(cases, named{f.Name, f.Aliases})
			default:
				// The pre-commit check's flags at least (bench/staged.sh).
				if c.Name == "staged" {
					t.Errorf("command %s: flag %T is not wrapped by namesOnce", c.Name, f)
				}
			}
		}
	}
	if len(cases) < 20 {
		t.Fatalf("only %d flags found: namesOnce no longer wraps them?", len(cases))
	}
	for _, c := range cases {
		if got, want := flagNames(c.name, c.aliases), cli.FlagNames(c.name, c.aliases); !slices.Equal(got, want) {
			t.Errorf("flagNames(%q, %q) = %q, cli.FlagNames says %q", c.name, c.aliases, got, want)
		}
	}
}

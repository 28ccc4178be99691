package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// urfave/cli recomputes a flag's names, through a regular expression, each
// time it asks for them, and it asks for every flag's names while looking
// up each flag: some 700 regular-expression replacements before a command
// with 25 flags runs, a few percent of a pre-commit check. These wrappers
// compute them once, without the regular expression when no name needs it;
// everything else is the embedded flag's.

type boolFlag struct {
	*cli.BoolFlag
	names []string
}

func (f *boolFlag) Names() []string {
	if f.names == nil {
		f.names = flagNames(f.Name, f.Aliases)
	}
	return f.names
}

type stringFlag struct {
	*cli.StringFlag
	names []string
}

func (f *stringFlag) Names() []string {
	if f.names == nil {
		f.names = flagNames(f.Name, f.Aliases)
	}
	return f.names
}

type uintFlag struct {
	*cli.UintFlag
	names []string
}

func (f *uintFlag) Names() []string {
	if f.names == nil {
		f.names = flagNames(f.Name, f.Aliases)
	}
	return f.names
}

type float64Flag struct {
	*cli.Float64Flag
	names []string
}

func (f *float64Flag) Names() []string {
	if f.names == nil {
		f.names = flagNames(f.Name, f.Aliases)
	}
	return f.names
}

// flagNames is cli.FlagNames, which cuts each name at its first comma or
// space with a regular expression: names without either (all of
// gemscan's) are taken as they are, without one.
func flagNames(name string, aliases []string) []string {
	if strings.ContainsAny(name, ", ") {
		return cli.FlagNames(name, aliases)
	}
	for _, a := range aliases {
		if strings.ContainsAny(a, ", ") {
			return cli.FlagNames(name, aliases)
		}
	}
	return append([]string{name}, aliases...)
}

// namesOnce wraps the command's flags of the types gemscan uses so that
// their names are computed once.
func namesOnce(flags []cli.Flag) []cli.Flag {
	out := make([]cli.Flag, len(flags))
	for i, f := range flags {
		switch f := f.(type) {
		case *cli.BoolFlag:
			out[i] = &boolFlag{BoolFlag: f}
		case *cli.StringFlag:
			out[i] = &stringFlag{StringFlag: f}
		case *cli.UintFlag:
			out[i] = &uintFlag{UintFlag: f}
		case *cli.Float64Flag:
			out[i] = &float64Flag{Float64Flag: f}
		default:
			out[i] = f
		}
	}
	return out
}

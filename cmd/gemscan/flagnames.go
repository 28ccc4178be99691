package main

import "github.com/urfave/cli/v2"

// urfave/cli recomputes a flag's names, through a regular expression, each
// time it asks for them, and it asks for every flag's names while looking
// up each flag: some 700 regular-expression replacements before a command
// with 25 flags runs, a few percent of a pre-commit check. These wrappers
// compute them once; everything else is the embedded flag's.

type boolFlag struct {
	*cli.BoolFlag
	names []string
}

func (f *boolFlag) Names() []string {
	if f.names == nil {
		f.names = f.BoolFlag.Names()
	}
	return f.names
}

type stringFlag struct {
	*cli.StringFlag
	names []string
}

func (f *stringFlag) Names() []string {
	if f.names == nil {
		f.names = f.StringFlag.Names()
	}
	return f.names
}

// namesOnce wraps the command's boolean and string flags (all but a few
// of gemscan's) so that their names are computed once.
func namesOnce(flags []cli.Flag) []cli.Flag {
	out := make([]cli.Flag, len(flags))
	for i, f := range flags {
		switch f := f.(type) {
		case *cli.BoolFlag:
			out[i] = &boolFlag{BoolFlag: f}
		case *cli.StringFlag:
			out[i] = &stringFlag{StringFlag: f}
		default:
			out[i] = f
		}
	}
	return out
}

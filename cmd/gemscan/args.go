package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// usageError is a mistake on the command line: run prints it as one line
// and a hint on standard error, never the help on standard output.
type usageError struct {
	msg  string // the mistake
	hint string // where to read more
}

func (u *usageError) Error() string { return u.msg }

// flagsAnywhere rewrites the command line so that the flags of the command
// come before its arguments, as urfave/cli needs them: "gemscan dir .
// --format json" becomes "gemscan dir --format json .". A "--" ends the
// flags; it is kept, and what follows it is never read as a flag. Which
// flags take a value is read from the command's own flag list, so "-o
// FILE" keeps FILE with it. An unknown command or flag is a usageError
// with a suggestion when one is close.
func flagsAnywhere(app *cli.App, args []string) ([]string, error) {
	if len(args) < 2 {
		return args, nil
	}
	// The app itself takes only --help and -h before the command (run
	// handles --version and -v).
	if a := args[1]; strings.HasPrefix(a, "-") && a != "-" {
		if n := flagName(a); n == "help" || n == "h" || a == "--" {
			return args, nil // urfave/cli shows the help
		}
		return nil, unknownFlag("gemscan", a, nil)
	}
	const i = 1
	name := args[i]
	cmd := app.Command(name)
	if cmd == nil {
		if name == "help" || name == "h" {
			return args, nil
		}
		msg := fmt.Sprintf("gemscan: no command %q", name)
		var names []string
		for _, c := range app.VisibleCommands() {
			names = append(names, c.Names()...)
		}
		if s := closest(name, names); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		return nil, &usageError{msg: msg, hint: "see 'gemscan --help' for the commands"}
	}
	out := []string{args[0], name}
	takesValue := map[string]bool{}
	known := map[string]bool{"help": true, "h": true}
	for _, f := range cmd.Flags {
		tv := false
		if d, ok := f.(cli.DocGenerationFlag); ok {
			tv = d.TakesValue()
		}
		for _, n := range f.Names() {
			known[n] = true
			takesValue[n] = tv
		}
	}
	var flags, pos, after []string
	dash := false
	rest := args[i+1:]
	for j := 0; j < len(rest); j++ {
		a := rest[j]
		switch {
		case a == "--":
			dash, after = true, rest[j+1:]
			j = len(rest)
		case strings.HasPrefix(a, "-") && a != "-":
			n := flagName(a)
			if !known[n] {
				return nil, unknownFlag("gemscan "+cmd.Name, a, cmd.Flags)
			}
			if n == "help" || n == "h" {
				// Help for the command, whatever else the line says.
				return append(out, "--help"), nil
			}
			flags = append(flags, a)
			if takesValue[n] && !strings.Contains(a, "=") && j+1 < len(rest) {
				j++
				flags = append(flags, rest[j])
			}
		default:
			pos = append(pos, a)
		}
	}
	out = append(out, flags...)
	if dash {
		out = append(out, "--")
	}
	out = append(out, pos...)
	return append(out, after...), nil
}

// flagName returns the name of a flag argument: "--format=json" → "format".
func flagName(a string) string {
	n := strings.TrimLeft(a, "-")
	n, _, _ = strings.Cut(n, "=")
	return n
}

// unknownFlag says that a flag is not one of cmd's, with the closest flag.
func unknownFlag(cmd, arg string, flags []cli.Flag) error {
	msg := fmt.Sprintf("%s: unknown flag %s", cmd, strings.SplitN(arg, "=", 2)[0])
	var names []string
	for _, f := range flags {
		names = append(names, f.Names()...)
	}
	names = append(names, "help")
	if s := closest(flagName(arg), names); s != "" {
		if len(s) == 1 {
			s = "-" + s
		} else {
			s = "--" + s
		}
		msg += fmt.Sprintf("; did you mean %s?", s)
	}
	return &usageError{msg: msg, hint: fmt.Sprintf("see '%s --help' for its flags", cmd)}
}

// closest returns the candidate nearest to s when it is near enough to be
// a typo of s (at most a third of its length in edits, at least 2), or "".
// urfave/cli's own suggester (Jaro-Winkler) always names some candidate and
// ranks short words badly ("dri" → "verify"), so the ranking here is by
// edit distance, a swap of two neighbours counting as one edit.
func closest(s string, candidates []string) string {
	best, bestD := "", max(2, len(s)/3)+1
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b
// (Levenshtein plus swaps of adjacent characters); both are short.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

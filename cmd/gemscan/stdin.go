package main

import (
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gemscan-dev/gemscan/rules"
	"github.com/gemscan-dev/gemscan/scanner"
)

func stdinCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "stdin",
		Usage: "scan standard input",
		Description: `Reads standard input to its end in bounded memory and scans it.

Examples:
   kubectl get secret -o yaml app | gemscan stdin
   git show HEAD:config.yaml | gemscan stdin --name config.yaml`,
		Flags: append(scanFlags(e),
			&cli.StringFlag{Name: "name", Value: "stdin", Usage: "report findings as in file `NAME`"},
		),
		Action: func(c *cli.Context) error {
			if err := checkScanFlags(c); err != nil {
				return err
			}
			hintTerminalStdin(e)
			start := time.Now()
			name := c.String("name")
			fs, allowed, n, err := scanner.ScanReader(rules.NewDetector(), e.stdin, name, name)
			res := &scanner.Result{Findings: fs}
			res.Stats.Files, res.Stats.Bytes = 1, n
			res.Suppressed.Add(scanner.ReasonAllow, "", allowed...)
			if err != nil {
				res.Errors = append(res.Errors, err)
			}
			res.Stats.Duration = time.Since(start)
			return finish(c, e, "stdin", name, res)
		},
	}
}

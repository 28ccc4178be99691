package main

import (
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gemscan-dev/gemscan/scanner"
)

func stdinCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "stdin",
		Usage: "scan standard input",
		Description: `Reads standard input to its end in bounded memory and scans it. An
interrupt (Ctrl-C, SIGTERM) stops the read at once: what was read is
reported, and the exit status is 2 (incomplete).

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
			res := scanner.ScanStream(c.Context, e.stdin, name, scanner.Options{MaxArchiveDepth: archiveDepth(c)})
			res.Stats.Duration = time.Since(start)
			return finish(c, e, "stdin", name, res)
		},
	}
}

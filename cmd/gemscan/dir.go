package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gemscan-dev/gemscan/report"
	"github.com/gemscan-dev/gemscan/scanner"
)

func dirCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "dir",
		Usage:     "scan files and directory trees (the working tree, not history)",
		ArgsUsage: "[PATH…]",
		Description: `Scans each PATH (default: the current directory). Directories are walked
in parallel without following symbolic links or entering .git. Every file
git tracks is scanned; untracked files that .gitignore files or
.git/info/exclude ignore are skipped and counted (--no-ignore scans them);
what .gemscanignore names is scanned but listed as suppressed. Binary files
and files over --max-file-size are skipped and counted. Inside a
repository, SARIF names files from the repository's root, as code scanning
expects.

A PATH that is a file is scanned even if ignored. A pipe is read to its
end (gemscan dir <(command)); a named FIFO or a device is refused (exit 2),
and inside trees both are skipped.

Examples:
   gemscan dir                          scan the current directory
   gemscan dir config/ deploy/app.env   scan some paths
   gemscan dir --format json -o leaks.json .
   gemscan dir --max-file-size 0 dumps/ scan files of any size`,
		Flags: append(scanFlags(e),
			&cli.StringFlag{Name: "max-file-size", Value: "10MiB", Usage: "skip files larger than `SIZE` (0: no limit)"},
			&cli.BoolFlag{Name: "binary", Usage: "scan files that look binary too"},
			&cli.BoolFlag{Name: "no-ignore", Usage: "also scan untracked files that .gitignore or .git/info/exclude ignore"},
		),
		Action: func(c *cli.Context) error {
			if err := checkScanFlags(c); err != nil {
				return err
			}
			max, err := parseSize(c.String("max-file-size"))
			if err != nil {
				return err
			}
			paths := c.Args().Slice()
			if len(paths) == 0 {
				paths = []string{"."}
			}
			res := scanner.ScanPaths(c.Context, paths, scanner.Options{MaxFileSize: max, Binary: c.Bool("binary"),
				NoIgnore: c.Bool("no-ignore"), MaxArchiveDepth: archiveDepth(c)})
			for _, w := range res.Stats.Warnings {
				fmt.Fprintf(e.stderr, "gemscan: warning: %s\n", report.Sanitize(w))
			}
			return finish(c, e, "dir", strings.Join(paths, " "), res)
		},
	}
}

package main

import (
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gemscan-dev/gemscan/scanner"
)

func dirCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "dir",
		Usage:     "scan files and directory trees (the working tree, not history)",
		ArgsUsage: "[PATH…]",
		Description: `Scans each PATH (default: the current directory). Directories are walked
in parallel without following symbolic links or entering .git; .gitignore
files, .git/info/exclude and .gemscanignore are honoured. Binary files and
files over --max-file-size are skipped and counted. Inside a repository,
SARIF names files from the repository's root, as code scanning expects.

Examples:
   gemscan dir                          scan the current directory
   gemscan dir config/ deploy/app.env   scan some paths
   gemscan dir --format json -o leaks.json .
   gemscan dir --max-file-size 0 dumps/ scan files of any size`,
		Flags: append(scanFlags(e),
			&cli.StringFlag{Name: "max-file-size", Value: "10MiB", Usage: "skip files larger than `SIZE` (0: no limit)"},
			&cli.BoolFlag{Name: "binary", Usage: "scan files that look binary too"},
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
			res := scanner.ScanPaths(c.Context, paths, scanner.Options{MaxFileSize: max, Binary: c.Bool("binary")})
			return finish(c, e, "dir", strings.Join(paths, " "), res)
		},
	}
}

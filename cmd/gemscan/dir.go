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
what .gemscanignore names is scanned but listed as suppressed. Files of any
size are scanned in bounded memory (large ones are streamed), binary ones
too: keys compiled into binaries are plain ASCII. --max-file-size and
--skip-binary skip such files, and count them in the summary. Inside a
repository, SARIF names files from the repository's root, as code scanning
expects.

A PATH that is a file is scanned even if ignored. A pipe is read to its
end (gemscan dir <(command)); a named FIFO or a device is refused (exit 2),
and inside trees both are skipped.

Examples:
   gemscan dir                          scan the current directory
   gemscan dir config/ deploy/app.env   scan some paths
   gemscan dir --format json -o leaks.json .
   gemscan dir --max-file-size 50MiB --skip-binary dumps/
                                        skip (and count) large and binary files`,
		Flags: append(scanFlags(e),
			&cli.StringFlag{Name: "max-file-size", Value: "0", Usage: "skip (and count) files larger than `SIZE` (0: no limit)"},
			&cli.BoolFlag{Name: "skip-binary", Usage: "skip (and count) files that look binary (a NUL byte in their first 8 KiB) instead of scanning them"},
			&cli.BoolFlag{Name: "binary", Hidden: true, Usage: "no effect: binary files are scanned by default"},
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
			res := scanner.ScanPaths(c.Context, paths, scanner.Options{MaxFileSize: max, SkipBinary: c.Bool("skip-binary"),
				NoIgnore: c.Bool("no-ignore"), MaxArchiveDepth: archiveDepth(c)})
			for _, w := range res.Stats.Warnings {
				fmt.Fprintf(e.stderr, "gemscan: warning: %s\n", report.Sanitize(w))
			}
			return finish(c, e, "dir", strings.Join(paths, " "), res)
		},
	}
}

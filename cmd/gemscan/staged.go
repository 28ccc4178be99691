package main

import (
	"runtime/debug"

	"github.com/urfave/cli/v2"

	"github.com/gemscan-dev/gemscan/scanner"
)

func stagedCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "staged",
		Usage:     "scan what is staged for the next commit (the pre-commit check)",
		ArgsUsage: "[FILE…]",
		Description: `Compares the index with HEAD and scans the staged content of each changed
file — read from git's object database, never from the working tree, so a
file edited after 'git add' is judged by what was added. Only credentials on
lines the commit adds are reported (--all-lines: whole staged files). Exit 1
blocks the commit; exit 0 is silent unless --verbose.

With FILE arguments (as the pre-commit framework passes them) only those
files are judged; a listed file that the commit does not change is judged
whole, and so are all the others: that is 'pre-commit run --all-files', and
the report then says the files hold a key rather than that a commit is
blocked. A listed file git neither stages nor tracks is an error (exit 2).
FILE is taken from the current directory, as a shell passes it.

It reads the index git commits from: GIT_INDEX_FILE (the temporary index of
'git commit -a' and 'git commit PATH…') and GIT_DIR/GIT_WORK_TREE when git
sets them for the hook.

Examples:
   gemscan staged                 what 'git commit' would add
   gemscan staged --all-lines     every credential in the staged files
   gemscan install-hook           run this before every commit`,
		Flags: append(scanFlags(e),
			&cli.BoolFlag{Name: "all-lines", Usage: "judge whole staged files, not only the lines the commit adds"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "say so when nothing is found"},
			&cli.StringFlag{Name: "max-file-size", Value: "0", Usage: "skip staged files larger than `SIZE` (0: no limit); a skipped file is an error (exit 2)"},
			&cli.BoolFlag{Name: "skip-binary", Usage: "skip (and count) staged files that look binary instead of scanning them"},
			&cli.BoolFlag{Name: "binary", Hidden: true, Usage: "no effect: binary files are scanned by default"},
		),
		Action: func(c *cli.Context) error {
			if err := checkScanFlags(c); err != nil {
				return err
			}
			max, err := parseSize(c.String("max-file-size"))
			if err != nil {
				return err
			}
			// A pre-commit check is short and its memory small and bounded
			// by the staged files: collecting garbage would only add to its
			// latency. The memory limit turns collection back on if a huge
			// staged file makes the heap grow.
			debug.SetGCPercent(-1)
			debug.SetMemoryLimit(256 << 20)
			opts := scanner.StagedOptions{Options: scanner.Options{MaxFileSize: max, SkipBinary: c.Bool("skip-binary"), MaxArchiveDepth: archiveDepth(c)}, AllLines: c.Bool("all-lines")}
			// `git commit -a` and `git commit PATH` run the hook on a temporary index.
			opts.IndexFile = e.get("GIT_INDEX_FILE")
			opts.GitDir, opts.WorkTree = e.get("GIT_DIR"), e.get("GIT_WORK_TREE")
			if c.NArg() > 0 {
				opts.Files = c.Args().Slice()
			}
			res := scanner.ScanStagedContext(c.Context, ".", opts)
			// A commit hook must not let through what it did not read.
			if err := tooLargeError(res, max, "staged file"); err != nil {
				res.Errors = append(res.Errors, err)
			}
			if len(res.Findings) == 0 && len(res.Errors) == 0 && !c.Bool("verbose") &&
				c.String("format") == "text" && c.String("output") == "" {
				return nil // a clean commit goes through silently
			}
			return finish(c, e, "staged", "staged changes", res)
		},
	}
}

package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/gemscan-dev/gemscan/report"
	"github.com/gemscan-dev/gemscan/scanner"
)

func baselineCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "baseline",
		Usage:     "write or update a baseline of accepted findings (old, revoked leaks)",
		ArgsUsage: "FILE [PATH]",
		Description: `Scans PATH (default .) and writes FILE, a JSON report whose fingerprints
--baseline then hides: findings new since the last update are added, those no
longer found are pruned. Fingerprints depend on the rule, the path and the
credential, so moved lines, rebases and Windows paths do not break them.
Credentials are never written in full. Revoke a credential before you
baseline it: a baseline hides a finding, it does not make a key safe.

Examples:
   gemscan baseline .gemscan-baseline.json              the working tree
   gemscan baseline --git .gemscan-baseline.json        the whole history
   gemscan git --baseline .gemscan-baseline.json .      scans hide what it lists`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "git", Usage: "baseline the repository's history (gemscan git) instead of its working tree"},
			&cli.StringFlag{Name: "max-file-size", Value: "10MiB", Usage: "skip files larger than `SIZE` (0: no limit)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 || c.NArg() > 2 {
				return fmt.Errorf("usage: gemscan baseline [--git] FILE [PATH]")
			}
			file, path := c.Args().Get(0), c.Args().Get(1)
			if path == "" {
				path = "."
			}
			max, err := parseSize(c.String("max-file-size"))
			if err != nil {
				return err
			}
			old := scanner.Baseline{}
			if _, err := os.Stat(file); err == nil {
				if old, err = scanner.LoadBaseline(file); err != nil {
					return err
				}
			} else if !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("read baseline: %w", err)
			}
			mode := "dir"
			var res *scanner.Result
			opts := scanner.Options{MaxFileSize: max}
			if c.Bool("git") {
				mode = "git"
				res = scanner.ScanGit(c.Context, path, scanner.GitOptions{Options: opts})
			} else {
				res = scanner.ScanPaths(c.Context, []string{path}, opts)
			}
			if len(res.Errors) > 0 {
				for _, err := range res.Errors {
					fmt.Fprintf(e.stderr, "gemscan: error: %s\n", report.Sanitize(err.Error()))
				}
				return fmt.Errorf("the scan is incomplete; %s was not changed (an incomplete scan would prune real entries)", file)
			}
			kept, added := 0, 0
			now := map[string]bool{}
			for i := range res.Findings {
				fp := res.Findings[i].Fingerprint()
				now[fp] = true
				if old[fp] {
					kept++
				} else {
					added++
				}
			}
			pruned := 0
			for fp := range old {
				if !now[fp] {
					pruned++
				}
			}
			r := &report.Report{Mode: mode, Target: path, Result: res, Version: version()}
			if err := writeFile(file, func(w io.Writer) error { return report.Write(w, "json", r) }); err != nil {
				return fmt.Errorf("write baseline: %w", err)
			}
			fmt.Fprintf(e.stdout, "%s: %d kept, %d added, %d pruned (%d findings)\n", file, kept, added, pruned, len(res.Findings))
			return nil
		},
	}
}

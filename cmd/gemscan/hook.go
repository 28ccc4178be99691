package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/gemscan-dev/gemscan/internal/githook"
)

func installHookCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "install-hook",
		Usage: "install a git pre-commit hook that runs 'gemscan staged' (or, with --pre-push, a pre-push guard)",
		Description: `Installs a pre-commit hook in the repository holding the current directory.
It asks git where hooks run (git rev-parse --git-path hooks: git must be on
PATH), so core.hooksPath from any configuration file, includes and worktree
configuration too, is honoured, and linked worktrees share the hooks. An
existing pre-commit hook is kept working: it is moved to
pre-commit.gemscan-chained and run first. The hook runs this gemscan binary
(or GEMSCAN_BIN, or gemscan on PATH) and blocks the commit, with a clear
message, if it cannot find one.

With --pre-push it installs a pre-push hook instead, which scans the commits
being pushed that the remote does not have yet ('gemscan pre-push'): keys
committed with --no-verify, by a GUI client or before the pre-commit hook was
installed are stopped before they leave the machine. Install both for the
full guard.

Examples:
   gemscan install-hook               install (or refresh) the hook
   gemscan install-hook --pre-push    install the pre-push guard too
   gemscan install-hook --force       replace a foreign hook (kept as pre-commit.bak)
   gemscan install-hook --uninstall   remove it and restore a chained hook

With the pre-commit framework, add this repository to .pre-commit-config.yaml
instead (see README).`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Usage: "replace an existing hook instead of chaining it"},
			&cli.BoolFlag{Name: "uninstall", Usage: "remove gemscan's hook (and restore a chained one)"},
			&cli.BoolFlag{Name: "pre-push", Usage: "the pre-push hook ('gemscan pre-push') instead of the pre-commit hook"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("install-hook takes no arguments (run it inside the repository)")
			}
			kind := githook.PreCommit
			if c.Bool("pre-push") {
				kind = githook.PrePush
			}
			if c.Bool("uninstall") {
				res, err := githook.Uninstall(".", kind)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "removed %s\n", res.Hook)
				if res.Chained != "" {
					fmt.Fprintf(e.stdout, "restored the previous hook at %s\n", res.Chained)
				}
				return nil
			}
			bin, err := selfPath()
			if err != nil {
				return err
			}
			res, err := githook.Install(".", bin, kind, c.Bool("force"))
			if err != nil {
				return err
			}
			if res.Already {
				fmt.Fprintf(e.stdout, "already installed: %s\n", res.Hook)
			} else {
				fmt.Fprintf(e.stdout, "installed %s (runs %s %s)\n", res.Hook, bin, map[bool]string{true: "pre-push", false: "staged"}[c.Bool("pre-push")])
			}
			if res.Chained != "" {
				fmt.Fprintf(e.stdout, "the previous hook runs first: %s\n", res.Chained)
			}
			return nil
		},
	}
}

// selfPath returns the absolute path this binary was started as. It keeps
// the name it was run by (not os.Executable's resolved target), so a
// symlinked or wrapper-installed gemscan stays the one the hook runs.
func selfPath() (string, error) {
	p, err := exec.LookPath(os.Args[0])
	if err != nil {
		if p, err = os.Executable(); err != nil {
			return "", fmt.Errorf("find the gemscan binary: %w", err)
		}
	}
	return filepath.Abs(p)
}

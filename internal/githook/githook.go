// Package githook installs and removes gemscan's git pre-commit hook. It
// honours core.hooksPath, shares the hooks of linked worktrees, and keeps a
// hook that was already there working by chaining it.
package githook

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/format/config"

	"github.com/gemscan-dev/gemscan/internal/gitdir"
)

// Marker identifies a hook written by gemscan.
const Marker = "# gemscan pre-commit hook"

// ChainedName is where a pre-existing hook is moved so gemscan's hook can
// run it first.
const ChainedName = "pre-commit.gemscan-chained"

// Result says what Install or Uninstall did.
type Result struct {
	Hook    string // the hook's path
	Chained string // a pre-existing hook now run first ("" if none)
	Already bool   // the hook was already installed and is unchanged
}

// HooksDir returns the directory git runs hooks from for the repository at
// repo: core.hooksPath (from the repository's, the user's or the system's
// configuration, in that precedence) or the common git directory's hooks.
func HooksDir(d gitdir.Dirs) (string, error) {
	home, _ := os.UserHomeDir()
	xdg := os.Getenv("XDG_CONFIG_HOME")
	if xdg == "" && home != "" {
		xdg = filepath.Join(home, ".config")
	}
	files := []string{
		filepath.Join(d.CommonDir, "config"),
		filepath.Join(d.GitDir, "config.worktree"),
	}
	if g := os.Getenv("GIT_CONFIG_GLOBAL"); g != "" {
		files = append(files, g)
	} else {
		files = append(files, filepath.Join(home, ".gitconfig"), filepath.Join(xdg, "git", "config"))
	}
	if os.Getenv("GIT_CONFIG_NOSYSTEM") == "" {
		files = append(files, "/etc/gitconfig")
	}
	for _, f := range files {
		p, err := hooksPath(f)
		if err != nil {
			return "", err
		}
		if p == "" {
			continue
		}
		if strings.HasPrefix(p, "~/") && home != "" {
			p = filepath.Join(home, p[2:])
		}
		if !filepath.IsAbs(p) {
			base := d.WorkTree
			if base == "" {
				base = d.GitDir
			}
			p = filepath.Join(base, p)
		}
		return p, nil
	}
	return filepath.Join(d.CommonDir, "hooks"), nil
}

// hooksPath reads core.hooksPath from one configuration file.
func hooksPath(file string) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
			return "", nil
		}
		return "", fmt.Errorf("read %s: %w", file, err)
	}
	cfg := config.New()
	if err := config.NewDecoder(bytes.NewReader(data)).Decode(cfg); err != nil {
		return "", fmt.Errorf("read %s: %w", file, err)
	}
	return cfg.Section("core").Option("hooksPath"), nil
}

// Script returns the hook script that runs binary (an absolute path; the
// hook falls back to gemscan on PATH when it is gone).
func Script(binary string) string {
	return `#!/bin/sh
` + Marker + ` (installed by 'gemscan install-hook'; remove with
# 'gemscan install-hook --uninstall'). It blocks commits that add Gemini API
# keys. A hook that was here before is kept as ` + ChainedName + ` and runs first.
hookdir=$(dirname "$0")
if [ -x "$hookdir/` + ChainedName + `" ]; then
	"$hookdir/` + ChainedName + `" "$@" || exit $?
fi
gemscan_bin=${GEMSCAN_BIN:-` + shellQuote(binary) + `}
if [ ! -x "$gemscan_bin" ]; then
	gemscan_bin=$(command -v gemscan 2>/dev/null)
fi
if [ -z "$gemscan_bin" ]; then
	echo "gemscan pre-commit hook: the gemscan binary is missing (not at "` + shellQuote(binary) + `" nor on PATH)." >&2
	echo "Install it (go install github.com/gemscan-dev/gemscan/cmd/gemscan@latest) or set GEMSCAN_BIN." >&2
	echo "The commit is blocked until then; remove the hook with: gemscan install-hook --uninstall" >&2
	exit 1
fi
exec "$gemscan_bin" staged
`
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// hooksOf returns the hooks directory of the repository holding dir.
func hooksOf(dir string) (string, error) {
	d, err := gitdir.Find(dir)
	if err != nil {
		return "", err
	}
	return HooksDir(d)
}

// Install writes the pre-commit hook for the repository holding dir. An
// existing hook that is not gemscan's is chained (moved aside and run
// first); with force it is replaced instead (moved to pre-commit.bak).
func Install(dir, binary string, force bool) (Result, error) {
	hooks, err := hooksOf(dir)
	if err != nil {
		return Result{}, err
	}
	if err := os.MkdirAll(hooks, 0o755); err != nil {
		return Result{}, fmt.Errorf("create hooks directory: %w", err)
	}
	hook := filepath.Join(hooks, "pre-commit")
	chained := filepath.Join(hooks, ChainedName)
	res := Result{Hook: hook}
	script := Script(binary)
	old, err := os.ReadFile(hook)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return res, fmt.Errorf("read existing hook: %w", err)
	case bytes.Contains(old, []byte(Marker)):
		if string(old) == script {
			res.Already = true
			if _, err := os.Stat(chained); err == nil {
				res.Chained = chained
			}
			return res, nil
		}
	case force:
		if err := os.Rename(hook, hook+".bak"); err != nil {
			return res, fmt.Errorf("move existing hook aside: %w", err)
		}
	default:
		if _, err := os.Stat(chained); err == nil {
			return res, fmt.Errorf("%s exists and so does %s: move one of them away, or use --force", hook, chained)
		}
		if err := os.Rename(hook, chained); err != nil {
			return res, fmt.Errorf("chain existing hook: %w", err)
		}
		// The chained hook must stay runnable.
		if st, err := os.Stat(chained); err == nil && st.Mode()&0o111 == 0 {
			os.Chmod(chained, st.Mode()|0o755)
		}
	}
	if _, err := os.Stat(chained); err == nil {
		res.Chained = chained
	}
	tmp := hook + ".gemscan-tmp"
	if err := os.WriteFile(tmp, []byte(script), 0o755); err != nil {
		return res, fmt.Errorf("write hook: %w", err)
	}
	if err := os.Rename(tmp, hook); err != nil {
		os.Remove(tmp)
		return res, fmt.Errorf("write hook: %w", err)
	}
	return res, nil
}

// Uninstall removes gemscan's hook and puts a chained hook back.
func Uninstall(dir string) (Result, error) {
	hooks, err := hooksOf(dir)
	if err != nil {
		return Result{}, err
	}
	hook := filepath.Join(hooks, "pre-commit")
	res := Result{Hook: hook}
	old, err := os.ReadFile(hook)
	if errors.Is(err, os.ErrNotExist) {
		return res, fmt.Errorf("no pre-commit hook is installed in %s", hooks)
	}
	if err != nil {
		return res, fmt.Errorf("read hook: %w", err)
	}
	if !bytes.Contains(old, []byte(Marker)) {
		return res, fmt.Errorf("%s was not installed by gemscan; leaving it alone", hook)
	}
	if err := os.Remove(hook); err != nil {
		return res, fmt.Errorf("remove hook: %w", err)
	}
	chained := filepath.Join(hooks, ChainedName)
	if _, err := os.Stat(chained); err == nil {
		if err := os.Rename(chained, hook); err != nil {
			return res, fmt.Errorf("restore chained hook: %w", err)
		}
		res.Chained = hook
	}
	return res, nil
}

// Package githook installs and removes gemscan's git hooks (pre-commit and
// pre-push). It honours core.hooksPath, shares the hooks of linked
// worktrees, and keeps a hook that was already there working by chaining it.
package githook

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/gemscan-dev/gemscan/internal/gitdir"
)

// Kind is a hook gemscan installs.
type Kind struct {
	// Name is git's name for the hook: pre-commit, pre-push.
	Name string
	// command is what the hook runs: gemscan's arguments, in sh syntax.
	command string
	// purpose completes "It blocks …".
	purpose string
}

// The hooks gemscan installs.
var (
	PreCommit = Kind{Name: "pre-commit", command: "staged", purpose: "commits that add Gemini API keys"}
	PrePush   = Kind{Name: "pre-push", command: `pre-push "$@"`, purpose: "pushes that would send commits holding Gemini API keys"}
)

// Marker identifies a hook of this kind written by gemscan.
func (k Kind) Marker() string { return "# gemscan " + k.Name + " hook" }

// ChainedName is where a pre-existing hook is moved so gemscan's hook can
// run it first.
func (k Kind) ChainedName() string { return k.Name + ".gemscan-chained" }

// Result says what Install or Uninstall did.
type Result struct {
	Hook    string // the hook's path
	Chained string // a pre-existing hook now run first ("" if none)
	Already bool   // the hook was already installed and is unchanged
}

// HooksDir returns the directory git runs hooks from for the repository
// holding dir, as git itself resolves it: core.hooksPath from any
// configuration file (includes, conditional includes and worktree
// configuration too) or the common git directory's hooks. A hook written
// anywhere else would never run, and commits would pass unchecked.
func HooksDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	cmd := exec.Command("git", "rev-parse", "--git-path", "hooks")
	cmd.Dir = abs
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("ask git where its hooks are (git rev-parse --git-path hooks): %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	p := strings.TrimSuffix(string(out), "\n")
	if p == "" || strings.Contains(p, "\n") {
		return "", fmt.Errorf("git rev-parse --git-path hooks: unexpected answer %q", out)
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(abs, p) // git answers relative to the directory it ran in
	}
	return p, nil
}

// Script returns the hook script that runs binary (an absolute path; the
// hook falls back to gemscan on PATH when it is gone). Standard input (a
// pre-push hook's list of refs) is kept for gemscan when a chained hook
// runs first.
func (k Kind) Script(binary string) string {
	chained := k.ChainedName()
	// A pre-push hook reads the pushed refs on standard input: keep them
	// for gemscan when a chained hook reads them first. Other hooks get
	// no input and must not wait for any.
	capture, feed := "", ""
	if k.Name == PrePush.Name {
		capture, feed = "input=$(cat)\n", `printf '%s\n' "$input" | `
	}
	return `#!/bin/sh
` + k.Marker() + ` (installed by 'gemscan install-hook` + k.flag() + `'; remove with
# 'gemscan install-hook --uninstall` + k.flag() + `'). It blocks ` + k.purpose + `.
# A hook that was here before is kept as ` + chained + ` and runs first.
hookdir=$(dirname "$0")
` + capture + `if [ -x "$hookdir/` + chained + `" ]; then
	` + feed + `"$hookdir/` + chained + `" "$@" || exit $?
fi
if [ -n "$GEMSCAN_BIN" ]; then
	gemscan_bin=$GEMSCAN_BIN
	from="from GEMSCAN_BIN"
else
	gemscan_bin=` + shellQuote(binary) + `
	from="where install-hook found it"
fi
tried=$gemscan_bin
if [ ! -x "$gemscan_bin" ]; then
	gemscan_bin=$(command -v gemscan 2>/dev/null)
fi
if [ -z "$gemscan_bin" ]; then
	{
	printf '%s\n' "gemscan ` + k.Name + ` hook: the gemscan binary is missing: not at $tried ($from), and no gemscan on PATH."
	printf '%s\n' "Install it (go install github.com/gemscan-dev/gemscan/cmd/gemscan@latest) or set GEMSCAN_BIN to its path."
	printf '%s\n' "The ` + strings.TrimPrefix(k.Name, "pre-") + ` is blocked until then. Without gemscan you can:"
	printf '%s\n' "  skip the check once:  git ` + strings.TrimPrefix(k.Name, "pre-") + ` --no-verify"
	if [ -e "$hookdir/` + chained + `" ]; then
		printf '%s\n' "  remove this hook:     mv \"$hookdir/` + chained + `\" \"$0\"   (puts back the hook it ran first)"
	else
		printf '%s\n' "  remove this hook:     rm \"$0\""
	fi
	} >&2
	exit 1
fi
` + feed + `exec "$gemscan_bin" ` + k.command + `
`
}

// flag is the install-hook flag that selects this kind.
func (k Kind) flag() string {
	if k.Name == PreCommit.Name {
		return ""
	}
	return " --" + k.Name
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// hooksOf returns the hooks directory of the repository holding dir.
func hooksOf(dir string) (string, error) {
	if _, err := gitdir.Find(dir); err != nil {
		return "", err // the error people understand, before asking git
	}
	return HooksDir(dir)
}

// Install writes the hook of kind k for the repository holding dir. An
// existing hook that is not gemscan's is chained (moved aside and run
// first); with force it is replaced instead (moved to <name>.bak).
func Install(dir, binary string, k Kind, force bool) (Result, error) {
	hooks, err := hooksOf(dir)
	if err != nil {
		return Result{}, err
	}
	if err := os.MkdirAll(hooks, 0o755); err != nil {
		return Result{}, fmt.Errorf("create hooks directory: %w", err)
	}
	hook := filepath.Join(hooks, k.Name)
	chained := filepath.Join(hooks, k.ChainedName())
	res := Result{Hook: hook}
	script := k.Script(binary)
	old, err := os.ReadFile(hook)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return res, fmt.Errorf("read existing hook: %w", err)
	case bytes.Contains(old, []byte(k.Marker())):
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

// Uninstall removes gemscan's hook of kind k and puts a chained hook back.
func Uninstall(dir string, k Kind) (Result, error) {
	hooks, err := hooksOf(dir)
	if err != nil {
		return Result{}, err
	}
	hook := filepath.Join(hooks, k.Name)
	res := Result{Hook: hook}
	old, err := os.ReadFile(hook)
	if errors.Is(err, os.ErrNotExist) {
		return res, fmt.Errorf("no %s hook is installed in %s", k.Name, hooks)
	}
	if err != nil {
		return res, fmt.Errorf("read hook: %w", err)
	}
	if !bytes.Contains(old, []byte(k.Marker())) {
		return res, fmt.Errorf("%s was not installed by gemscan; leaving it alone", hook)
	}
	if err := os.Remove(hook); err != nil {
		return res, fmt.Errorf("remove hook: %w", err)
	}
	chained := filepath.Join(hooks, k.ChainedName())
	if _, err := os.Stat(chained); err == nil {
		if err := os.Rename(chained, hook); err != nil {
			return res, fmt.Errorf("restore chained hook: %w", err)
		}
		res.Chained = hook
	}
	return res, nil
}

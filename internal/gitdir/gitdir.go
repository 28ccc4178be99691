// Package gitdir finds a repository's directories: its work tree, its own
// git directory and the common directory that holds objects, refs and hooks
// (they differ for a linked worktree), without opening the repository.
package gitdir

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Dirs are a repository's directories, all absolute.
type Dirs struct {
	WorkTree  string // "" for a bare repository
	GitDir    string // HEAD and index live here
	CommonDir string // objects, refs, config and hooks live here
}

// Find locates the repository holding dir: the nearest work tree at or
// above it.
func Find(dir string) (Dirs, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Dirs{}, err
	}
	for d := abs; ; {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			return Open(d)
		}
		parent := filepath.Dir(d)
		if parent == d {
			return Dirs{}, fmt.Errorf("%s is not in a git work tree", dir)
		}
		d = parent
	}
}

// Open reads the repository at path: a work tree (whose .git is a
// directory, or a file naming the git directory), a .git directory, or a
// bare repository.
func Open(path string) (Dirs, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return Dirs{}, err
	}
	var d Dirs
	dotgit := filepath.Join(abs, ".git")
	switch st, err := os.Stat(dotgit); {
	case err == nil && st.IsDir():
		d.GitDir, d.WorkTree = dotgit, abs
	case err == nil:
		data, err := ReadFile(dotgit)
		if err != nil {
			return Dirs{}, fmt.Errorf("open repository %s: %w", path, err)
		}
		g, ok := strings.CutPrefix(strings.TrimSpace(string(data)), "gitdir:")
		if !ok {
			return Dirs{}, fmt.Errorf("open repository %s: .git file without a gitdir line", path)
		}
		g = strings.TrimSpace(g)
		if !filepath.IsAbs(g) {
			g = filepath.Join(abs, g)
		}
		d.GitDir, d.WorkTree = filepath.Clean(g), abs
	default:
		if !IsGitDir(abs) {
			return Dirs{}, fmt.Errorf("open repository %s: not a git repository (no .git, HEAD or objects)", path)
		}
		d.GitDir = abs
	}
	d.CommonDir = d.GitDir
	data, err := ReadFile(filepath.Join(d.GitDir, "commondir"))
	switch {
	case err == nil:
		c := strings.TrimSpace(string(data))
		if !filepath.IsAbs(c) {
			c = filepath.Join(d.GitDir, c)
		}
		d.CommonDir = filepath.Clean(c)
	case !errors.Is(err, os.ErrNotExist):
		return Dirs{}, fmt.Errorf("open repository %s: %w", path, err)
	}
	if !IsGitDir(d.CommonDir) {
		return Dirs{}, fmt.Errorf("open repository %s: %s is not a git directory", path, d.CommonDir)
	}
	return d, nil
}

// IsGitDir reports whether dir looks like a git directory.
func IsGitDir(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); err != nil {
		return false
	}
	st, err := os.Stat(filepath.Join(dir, "objects"))
	return err == nil && st.IsDir()
}

// ObjectFormat returns the repository's object format: "sha1", or what
// extensions.objectFormat names ("sha256").
func ObjectFormat(d Dirs) (string, error) {
	cfg, err := ReadConfig(filepath.Join(d.CommonDir, "config"))
	if err != nil {
		return "", err
	}
	if f, _ := cfg.Get("extensions", "", "objectformat"); f != "" {
		return strings.ToLower(f), nil
	}
	return "sha1", nil
}

// CheckSupported fails for repositories gemscan cannot read.
func CheckSupported(d Dirs) error {
	f, err := ObjectFormat(d)
	if err != nil {
		return err
	}
	if f != "sha1" {
		return fmt.Errorf("%s uses %s object names, which gemscan does not read yet (only sha1)", d.CommonDir, f)
	}
	return nil
}

// ErrNotRegular is wrapped by ReadFile's and OpenFile's error for a path
// that is not a regular file.
var ErrNotRegular = errors.New("not a regular file")

// OpenFile opens the file at path for reading, refusing anything but a
// regular file (symbolic links followed): a FIFO planted in a git
// directory would block the open, and the scan, forever.
func OpenFile(path string) (*os.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w (%s)", path, ErrNotRegular, st.Mode().Type())
	}
	return os.Open(path)
}

// ReadFile reads the regular file at path, as OpenFile opens it.
func ReadFile(path string) ([]byte, error) {
	f, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

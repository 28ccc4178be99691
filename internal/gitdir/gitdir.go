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
	"strconv"
	"strings"
)

// Dirs are a repository's directories, all absolute.
type Dirs struct {
	WorkTree  string // "" for a bare repository
	GitDir    string // HEAD and index live here
	CommonDir string // objects, refs, config and hooks live here
}

// ErrNoRepository is wrapped by Find's error when no directory at or above
// dir holds a .git: other errors are a repository that cannot be read.
var ErrNoRepository = errors.New("not in a git work tree")

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
			return Dirs{}, fmt.Errorf("%s is %w", dir, ErrNoRepository)
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
	return d.withCommonDir(path)
}

// OpenGitDir opens the git directory gitDir with workTree as its work tree
// ("" for none), as git does when GIT_DIR (and GIT_WORK_TREE) name them.
func OpenGitDir(gitDir, workTree string) (Dirs, error) {
	g, err := filepath.Abs(gitDir)
	if err != nil {
		return Dirs{}, err
	}
	d := Dirs{GitDir: g}
	if workTree != "" {
		if d.WorkTree, err = filepath.Abs(workTree); err != nil {
			return Dirs{}, err
		}
	}
	if !IsGitDir(g) && !isLinkedGitDir(g) {
		return Dirs{}, fmt.Errorf("open repository %s: not a git directory", gitDir)
	}
	return d.withCommonDir(gitDir)
}

// isLinkedGitDir reports whether dir is a linked worktree's git
// directory: its HEAD is there, its objects in the common directory.
func isLinkedGitDir(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "commondir"))
	return err == nil
}

// withCommonDir sets d's common directory from its git directory's
// commondir file, and checks it.
func (d Dirs) withCommonDir(path string) (Dirs, error) {
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

// ErrUnsupported is wrapped by CheckSupported's errors.
var ErrUnsupported = errors.New("gemscan cannot read this repository")

// knownExtension reports whether name is one of the repository extensions (git's extensions.*)
// that leave objects and refs where gemscan reads them. objectFormat and
// refStorage are checked for their values.
// (A function, not a map every process would build at start-up.)
func knownExtension(name string) bool {
	switch name {
	case "noop", "noop-v1", "preciousobjects", "partialclone", "worktreeconfig", "objectformat", "refstorage":
		return true
	}
	return false
}

// CheckSupported fails for repositories gemscan cannot read, as git fails
// for a repository whose format it does not know: a format version above
// 1, objects not named by SHA-1, refs not stored as files (reftable: the
// refs gemscan would list are not the repository's), or, from version 1,
// an extension it does not know (what such an extension changes could
// hide what a scan must see). As git does, the repository's own config
// file decides: includes are not followed for the format.
func CheckSupported(d Dirs) error {
	cfg, err := ReadConfig(filepath.Join(d.CommonDir, "config"))
	if err != nil {
		return err
	}
	version := 0
	if v, ok := cfg.Get("core", "", "repositoryformatversion"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			return fmt.Errorf("%w: %s: core.repositoryformatversion %q is not a number", ErrUnsupported, d.CommonDir, v)
		}
		version = n
	}
	if version > 1 {
		return fmt.Errorf("%w: %s has repository format version %d (git and gemscan know 0 and 1)", ErrUnsupported, d.CommonDir, version)
	}
	for _, e := range cfg.Entries() {
		if e.Section != "extensions" || e.sub {
			continue
		}
		v := strings.ToLower(e.Value)
		switch {
		case e.Key == "objectformat" && v != "sha1":
			return fmt.Errorf("%w: %s uses %s object names, which gemscan does not read yet (only sha1)", ErrUnsupported, d.CommonDir, v)
		case e.Key == "refstorage" && v != "files":
			return fmt.Errorf("%w: %s stores its refs as %q (extensions.refStorage), which gemscan does not read yet (only files)", ErrUnsupported, d.CommonDir, v)
		case version >= 1 && !knownExtension(e.Key):
			return fmt.Errorf("%w: %s uses the repository extension %q, which gemscan does not know", ErrUnsupported, d.CommonDir, e.Key)
		}
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

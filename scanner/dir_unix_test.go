//go:build unix

package scanner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gemscan-dev/gemscan/internal/testkeys"
	"github.com/gemscan-dev/gemscan/rules"
)

// hangGuard is a generous bound on calls that must not block: far above
// any honest run, it only turns a hang into a failure.
const hangGuard = 60 * time.Second

// scanPathsGuarded is ScanPaths that fails the test instead of hanging.
func scanPathsGuarded(t *testing.T, ctx context.Context, paths []string, opts Options) *Result {
	t.Helper()
	done := make(chan *Result, 1)
	go func() { done <- ScanPaths(ctx, paths, opts) }()
	select {
	case res := <-done:
		return res
	case <-time.After(hangGuard):
		t.Fatalf("ScanPaths(%q) blocked", paths)
		return nil
	}
}

// pipePath returns a pipe's read end as /dev/fd/N, as process substitution
// names it, and its write end.
func pipePath(t *testing.T) (string, *os.File) {
	t.Helper()
	if _, err := os.Stat("/dev/fd"); err != nil {
		t.Skip("no /dev/fd")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return fmt.Sprintf("/dev/fd/%d", r.Fd()), w
}

// TestPipeReadToEOF is gemscan dir <(cmd) with the key after the first
// 64 KiB: the pipe is read to its end, not just its first read.
func TestPipeReadToEOF(t *testing.T) {
	k := testkeys.New(41).Set()
	path, w := pipePath(t)
	go func() {
		for i := 0; i < 3000; i++ {
			fmt.Fprintf(w, "log line %d of filler text\n", i)
		}
		fmt.Fprintf(w, "KEY=%s\n", k.AQKey)
		w.Close()
	}()
	res := scanPathsGuarded(t, context.Background(), []string{path}, Options{})
	noErrors(t, res)
	if len(res.Findings) != 1 || res.Findings[0].Line != 3001 || res.Stats.Files != 1 {
		t.Errorf("findings %+v, %d files", res.Findings, res.Stats.Files)
	}
}

// TestNamedFIFOAndDeviceRefused: a FIFO named on the command line would
// block until a writer comes, /dev/zero never ends: both are refused with
// an error (exit 2), at once.
func TestNamedFIFOAndDeviceRefused(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	for path, want := range map[string]string{fifo: "named pipe", "/dev/zero": "character device"} {
		if _, err := os.Stat(path); err != nil {
			continue
		}
		res := scanPathsGuarded(t, context.Background(), []string{path}, Options{})
		if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), want) ||
			!strings.Contains(res.Errors[0].Error(), "gemscan stdin") {
			t.Errorf("%s: errors %v, want one saying %q and how to scan it", path, res.Errors, want)
		}
	}
}

// TestIrregularFilesInTreesSkipped: a FIFO in a tree is skipped, and so is
// one that replaced a file between the walk and the open (scanFile is
// handed it as a file), without blocking on the open or the read.
func TestIrregularFilesInTreesSkipped(t *testing.T) {
	k := testkeys.New(42).Set()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app.env"), []byte("KEY="+k.APIKey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := scanPathsGuarded(t, context.Background(), []string{dir}, Options{})
	noErrors(t, res)
	if len(res.Findings) != 1 || res.Stats.Files != 1 {
		t.Errorf("findings %+v, %d files", res.Findings, res.Stats.Files)
	}

	// The race, made certain: the walk saw files, then they turned into a
	// FIFO (once with a writer holding it open, so reads would wait for
	// data) and a device.
	w, err := os.OpenFile(fifo, os.O_RDWR, 0) // a writer that never writes
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, p := range []string{fifo, "/dev/zero", "/dev/null"} {
		col := &collector{res: &Result{}}
		done := make(chan struct{})
		go func() {
			scanFile(context.Background(), rules.NewDetector(), fileJob{abs: p, file: p, path: p}, Options{}, col, nil)
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(hangGuard):
			t.Fatalf("scanFile(%s) blocked", p)
		}
		if len(col.res.Errors) > 0 || col.res.Stats.Bytes > 0 {
			t.Errorf("%s: errors %v, %d bytes scanned", p, col.res.Errors, col.res.Stats.Bytes)
		}
	}
}

// TestCancelStopsPipeScan cancels a dir scan of a pipe whose writer keeps
// it open: the scan returns, reports what it read, and says it was
// interrupted.
func TestCancelStopsPipeScan(t *testing.T) {
	k := testkeys.New(43).Set()
	path, w := pipePath(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan *Result, 1)
	go func() { done <- ScanPaths(ctx, []string{path}, Options{}) }()
	// The write returns once the scan has read it (the pipe's buffer is
	// smaller than what is written), so the key is in what was read.
	data := "KEY=" + k.AQKey + "\n" + strings.Repeat("filler line\n", 100_000)
	if _, err := w.WriteString(data); err != nil {
		t.Fatal(err)
	}
	cancel()
	var res *Result
	select {
	case res = <-done:
	case <-time.After(hangGuard):
		t.Fatal("the scan did not stop when cancelled")
	}
	if len(res.Findings) != 1 || res.Findings[0].Value != k.AQKey {
		t.Errorf("findings before the interrupt: %+v", res.Findings)
	}
	interrupted := false
	for _, err := range res.Errors {
		interrupted = interrupted || errors.Is(err, context.Canceled)
	}
	if !interrupted {
		t.Errorf("errors %v do not say the scan was interrupted", res.Errors)
	}
}

// TestFIFOIgnoreFilesNeverBlock: ignore files and the index are read
// without blocking; a FIFO in the place of one is an error, not a hang.
func TestFIFOIgnoreFilesNeverBlock(t *testing.T) {
	k := testkeys.New(44).Set()
	r := newRepo(t)
	r.write("app.env", "KEY="+k.APIKey+"\n")
	r.commit("app")
	r.write(".gitignore", "*.log\n")
	r.write("x.log", "")
	for _, name := range []string{IgnoreFile, ".git/info/exclude", ".git/index"} {
		p := filepath.Join(r.dir, name)
		os.Remove(p)
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Skip("mkfifo:", err)
		}
		res := scanPathsGuarded(t, context.Background(), []string{r.dir}, Options{})
		if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), "not a regular file") {
			t.Errorf("%s as a FIFO: errors %v", name, res.Errors)
		}
		if len(res.Findings) != 1 {
			t.Errorf("%s as a FIFO: %d findings", name, len(res.Findings))
		}
		os.Remove(p)
	}
}

//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/gemscan-dev/gemscan/internal/testkeys"
)

// openPTY opens a pseudo-terminal: what is written to master reads from
// tty, and the other way round. gemscan sees tty as a terminal.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	unlock := int32(0)
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatalf("unlock pty: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatalf("pty number: %v", e)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// drain collects what master reads until the terminal side is closed
// (the read then fails with EIO); wait returns it.
func drain(master *os.File) (wait func() string) {
	done := make(chan string)
	go func() {
		var out bytes.Buffer
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			out.Write(buf[:n])
			if err != nil {
				done <- out.String()
				return
			}
		}
	}()
	return func() string { return <-done }
}

// TestStdinTerminalHint: gemscan stdin on a terminal says what it waits
// for, on standard error; on a pipe it says nothing.
func TestStdinTerminalHint(t *testing.T) {
	master, tty := openPTY(t)
	// A line, then end-of-file as a terminal sends it (Ctrl-D).
	if _, err := master.Write([]byte("nothing secret\n\x04")); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"gemscan", "stdin"}, tty, &stdout, &stderr, nil)
	if code != exitClean {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	if got := stderr.String(); got != "gemscan: reading standard input; end with Ctrl-D\n" {
		t.Errorf("stderr %q, want the one-line hint", got)
	}
	stderr.Reset()
	code = run(context.Background(), []string{"gemscan", "stdin"}, strings.NewReader("nothing\n"), &stdout, &stderr, nil)
	if code != exitClean || stderr.Len() != 0 {
		t.Errorf("from a pipe: exit %d, stderr %q; want 0 and nothing", code, stderr.String())
	}
}

// TestDumbTerminalNoColour: a terminal that says TERM=dumb gets no colour
// escapes; any other terminal does.
func TestDumbTerminalNoColour(t *testing.T) {
	dir := t.TempDir()
	k := testkeys.New(3).Set()
	if err := os.WriteFile(filepath.Join(dir, "key.env"), []byte("GOOGLE_API_KEY="+k.APIKey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		term   string
		colour bool
	}{{"dumb", false}, {"xterm-256color", true}} {
		t.Run(c.term, func(t *testing.T) {
			master, tty := openPTY(t)
			var stderr bytes.Buffer
			wait := drain(master)
			code := run(context.Background(), []string{"gemscan", "dir", dir}, nil, tty, &stderr, []string{"TERM=" + c.term})
			tty.Close()
			out := wait()
			if code != exitFindings {
				t.Fatalf("exit %d, stderr %q", code, stderr.String())
			}
			if !strings.Contains(out, "key.env") {
				t.Fatalf("the report did not reach the terminal: %q", out)
			}
			if got := strings.Contains(out, "\x1b["); got != c.colour {
				t.Errorf("TERM=%s: colour escapes %v, want %v:\n%q", c.term, got, c.colour, out)
			}
		})
	}
}

//go:build unix

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gemscan-dev/gemscan/internal/testkeys"
)

// hangGuard only turns a hang into a failure; no test asserts on time.
const hangGuard = 60 * time.Second

// interruptedReport checks a JSON report of an interrupted scan: the key
// read before the interrupt is in it, the scan is marked incomplete.
func interruptedReport(t *testing.T, stdout, stderr string, key string) {
	t.Helper()
	var rep struct {
		Findings []struct {
			ValueSHA256 string `json:"value_sha256"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("report is not JSON (%v):\n%s\nstderr: %s", err, stdout, stderr)
	}
	sum := sha256.Sum256([]byte(key))
	if len(rep.Findings) != 1 || rep.Findings[0].ValueSHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("findings %+v in the partial report, want the key read before the interrupt", rep.Findings)
	}
	if !strings.Contains(stderr, "interrupted") {
		t.Errorf("stderr does not say the scan was interrupted:\n%s", stderr)
	}
}

// TestSignalsStopScans runs the real binary on an input that never ends (a
// pipe kept open), sends SIGINT or SIGTERM mid-scan, and checks the
// process exits 2 with the partial report.
func TestSignalsStopScans(t *testing.T) {
	bin, err := exec.LookPath("gemscan") // testscript.Main put the test binary there
	if err != nil {
		t.Skip("gemscan not on PATH:", err)
	}
	if _, err := os.Stat("/dev/stdin"); err != nil {
		t.Skip("no /dev/stdin")
	}
	k := testkeys.New(61).Set()
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		for _, args := range [][]string{{"stdin", "--format", "json"}, {"dir", "--format", "json", "/dev/stdin"}} {
			t.Run(fmt.Sprintf("%s/%s", sig, args[0]), func(t *testing.T) {
				cmd := exec.Command(bin, args...)
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				in, err := cmd.StdinPipe()
				if err != nil {
					t.Fatal(err)
				}
				defer in.Close()
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				waited := make(chan error, 1)
				go func() { waited <- cmd.Wait() }()
				// The write returns only once gemscan has read most of it (a
				// pipe holds 64 KiB): its signal handling is installed and
				// the key is in what it read.
				data := "KEY=" + k.AQKey + "\n" + strings.Repeat("log line of filler text\n", 50_000)
				if _, err := io.WriteString(in, data); err != nil {
					t.Fatalf("write: %v (stderr: %s)", err, stderr.String())
				}
				if err := cmd.Process.Signal(sig); err != nil {
					t.Fatal(err)
				}
				select {
				case <-waited:
				case <-time.After(hangGuard):
					cmd.Process.Kill()
					t.Fatalf("gemscan %s did not stop after %s", args[0], sig)
				}
				if code := cmd.ProcessState.ExitCode(); code != exitError {
					t.Errorf("exit status %d, want %d (stderr: %s)", code, exitError, stderr.String())
				}
				interruptedReport(t, stdout.String(), stderr.String(), k.AQKey)
			})
		}
	}
}

// TestCancelStdinInProcess cancels gemscan stdin while its input is still
// open: the partial report is written and the status is 2, where it used to
// wait for EOF and then report "clean".
func TestCancelStdinInProcess(t *testing.T) {
	k := testkeys.New(62).Set()
	for _, args := range [][]string{{"gemscan", "stdin", "--format", "json"}} {
		pr, pw := io.Pipe()
		ctx, cancel := context.WithCancel(context.Background())
		var stdout, stderr bytes.Buffer
		code := make(chan int, 1)
		go func() { code <- run(ctx, args, pr, &stdout, &stderr, nil) }()
		// Two writes: the second is taken only after the scan holds the
		// first (see scanner.TestScanReaderCancelled).
		for _, s := range []string{"KEY=" + k.AQKey + "\n", "more\n"} {
			if _, err := io.WriteString(pw, s); err != nil {
				t.Fatal(err)
			}
		}
		cancel()
		select {
		case c := <-code:
			if c != exitError {
				t.Errorf("%v: status %d, want %d", args, c, exitError)
			}
		case <-time.After(hangGuard):
			t.Fatalf("%v did not stop when cancelled", args)
		}
		pw.Close()
		interruptedReport(t, stdout.String(), stderr.String(), k.AQKey)
	}
}

// TestCancelDirInProcess cancels gemscan dir before it starts walking a
// tree holding a key: nothing is reported clean, the status is 2.
func TestCancelDirInProcess(t *testing.T) {
	k := testkeys.New(63).Set()
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/app.env", []byte("KEY="+k.AQKey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	if c := run(ctx, []string{"gemscan", "dir", dir}, nil, &stdout, &stderr, nil); c != exitError {
		t.Errorf("status %d, want %d", c, exitError)
	}
	if !strings.Contains(stderr.String(), "interrupted") || !strings.Contains(stdout.String(), "incomplete") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
}

// TestInterruptedIsIncomplete: a command that returns "clean" after the
// interrupt (one that does not look at ctx) still exits 2.
func TestInterruptedIsIncomplete(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	stopped := make(chan struct{})
	var stderr bytes.Buffer
	code := interruptible(ctx, func() { close(stopped) }, hangGuard, func(int) { t.Error("exit called") }, &stderr,
		func(context.Context) int {
			<-stopped // the signals were handed back before the command returned
			return exitClean
		})
	if code != exitError || !strings.Contains(stderr.String(), "interrupted: the scan is incomplete") {
		t.Errorf("status %d, stderr %q", code, stderr.String())
	}
}

// TestInterruptGraceEnds: a command that does not stop after the
// interrupt is ended with status 2 once the grace period is over.
func TestInterruptGraceEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	exited := make(chan int, 1)
	release := make(chan struct{})
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- interruptible(ctx, func() {}, time.Millisecond, func(code int) { exited <- code }, &stderr,
			func(context.Context) int {
				<-release // a scan that ignores ctx
				return exitClean
			})
	}()
	select {
	case code := <-exited:
		if code != exitError || !strings.Contains(stderr.String(), "did not stop") {
			t.Errorf("exit(%d), stderr %q", code, stderr.String())
		}
	case <-time.After(hangGuard):
		t.Fatal("the grace period never ended the command")
	}
	close(release)
	<-done
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

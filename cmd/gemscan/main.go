// Command gemscan finds leaked Gemini credentials — Gemini exchange API keys
// and secrets, Google Gemini (AQ.) and Google API (AIza) keys — in working
// trees, git history, staged changes and standard input, and can tell whether
// a leaked credential is still live.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

func main() {
	if isVersionArgs(os.Args) {
		// Before the signal handling, whose goroutine and thread an
		// answer this short does not need.
		printVersion(os.Stdout)
		return
	}
	os.Exit(runMain(os.Args, os.Stdin, os.Stdout, os.Stderr, os.Environ()))
}

// interruptGrace is how long a scan may take to stop after SIGINT or
// SIGTERM before the process exits without waiting for its report.
const interruptGrace = 3 * time.Second

// runMain runs the CLI with SIGINT and SIGTERM cancelling its context: the
// scan stops, its partial report is written, and the exit status is 2 (an
// interrupted scan is incomplete, whatever it found so far). A second signal
// ends the process at once; a scan that has not stopped interruptGrace
// after the first is ended with status 2 and no report.
//
// gemscan staged, the pre-commit check, installs its signal handling
// beside the check instead of before it: see notifyBeside.
func runMain(args []string, stdin io.Reader, stdout, stderr io.Writer, environ []string) int {
	notify := signal.NotifyContext
	if len(args) >= 2 && args[1] == "staged" {
		notify = notifyBeside
	}
	ctx, stop := notify(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return interruptible(ctx, stop, interruptGrace, os.Exit, stderr, func(ctx context.Context) int {
		return run(ctx, args, stdin, stdout, stderr, environ)
	})
}

// notifyBeside is signal.NotifyContext that installs the handling from a
// goroutine, while the caller goes on. The Go runtime starts three threads
// for signal handling (the receiving loop's, and a locked one and its
// template for the signal masks): on a 2-core VM, 1.2 ms of gemscan
// staged's 11 (bench/staged.sh), of which this takes some 0.4 ms off the
// check's critical path. A signal arriving before the handling is
// installed, the first millisecond or so, has its default action, as one
// arriving during the process's initialisation always has: the process
// dies of it, a failure for git's hook and any shell, never a clean exit.
// stop waits for the installation before undoing it.
func notifyBeside(parent context.Context, sigs ...os.Signal) (context.Context, context.CancelFunc) {
	ctx, stop, _ := notifyBesideInstalled(parent, sigs...)
	return ctx, stop
}

// notifyBesideInstalled is notifyBeside that also returns a channel closed
// once the handling is installed.
func notifyBesideInstalled(parent context.Context, sigs ...os.Signal) (context.Context, context.CancelFunc, <-chan struct{}) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 1)
	installed := make(chan struct{})
	go func() {
		signal.Notify(ch, sigs...)
		close(installed)
		select {
		case <-ch:
			cancel()
		case <-ctx.Done():
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			<-installed
			signal.Stop(ch)
			cancel()
		})
	}, installed
}

// interruptible runs cli under ctx, whose end means an interrupt. Then it
// calls stop (restoring the signals' default action), and if cli has not
// returned grace later, writes why to stderr and calls exit(2). A cli that
// returns after the interrupt returns 2 whatever it says: it did not finish.
func interruptible(ctx context.Context, stop func(), grace time.Duration, exit func(int), stderr io.Writer,
	cli func(context.Context) int) int {
	returned := make(chan struct{})
	defer close(returned)
	go func() {
		select {
		case <-returned:
			return
		case <-ctx.Done():
		}
		stop() // the default action again: a second signal kills
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-returned:
		case <-t.C:
			fmt.Fprintf(stderr, "gemscan: interrupted, and the scan did not stop within %v: exiting without a report\n", grace)
			exit(exitError)
		}
	}()
	code := cli(ctx)
	if ctx.Err() != nil && code != exitError {
		// A command that finished anyway still did not finish cleanly.
		fmt.Fprintln(stderr, "gemscan: interrupted: the scan is incomplete")
		code = exitError
	}
	return code
}

//go:build unix

package main

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestNotifyBeside: once notifyBeside's handling is installed, the signal
// cancels the context; stop is safe after that and again.
func TestNotifyBeside(t *testing.T) {
	ctx, stop, installed := notifyBesideInstalled(context.Background(), syscall.SIGUSR2)
	defer stop()
	<-installed
	if ctx.Err() != nil {
		t.Fatal("cancelled before any signal")
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(hangGuard): // only turns a hang into a failure
		t.Fatal("SIGUSR2 did not cancel the context")
	}
	stop()
	stop()
}

// Command gemscan finds leaked Gemini credentials — Gemini exchange API keys
// and secrets, Google Gemini (AQ.) and Google API (AIza) keys — in working
// trees, git history, staged changes and standard input, and can tell whether
// a leaked credential is still live.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr, os.Environ())
	stop()
	os.Exit(code)
}

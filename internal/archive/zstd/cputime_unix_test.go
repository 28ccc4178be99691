//go:build unix

package zstd

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user and system time: on a shared machine it
// varies far less with load than wall time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

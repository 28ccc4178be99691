//go:build !unix

package zstd

import (
	"testing"
	"time"
)

// cpuTime is 0 where the process's CPU time is not at hand: the
// benchmarks then report wall time only.
func cpuTime(*testing.B) time.Duration { return 0 }

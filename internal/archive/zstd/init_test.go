package zstd

import (
	"testing"

	"github.com/gemscan-dev/gemscan/internal/archive/archivetest"
)

// TestNoInitWork keeps the reason this package exists: linking it costs
// gemscan's start-up nothing, and it imports nothing of klauspost's.
func TestNoInitWork(t *testing.T) { archivetest.NoInitWork(t, "klauspost") }

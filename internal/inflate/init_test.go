package inflate

import (
	"testing"

	"github.com/gemscan-dev/gemscan/internal/archive/archivetest"
)

// TestNoInitWork: the fixed code's tables are built by the first Decoder
// that needs them, never at program start, and no other decoder package is
// imported.
func TestNoInitWork(t *testing.T) { archivetest.NoInitWork(t, "klauspost") }

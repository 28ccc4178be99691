package archive

import (
	"testing"

	"github.com/gemscan-dev/gemscan/internal/archive/archivetest"
)

// TestNoInitWork: every gemscan run links the archive walker, so it does
// no work at program start (no tables, no calls computing package-level
// variables).
func TestNoInitWork(t *testing.T) { archivetest.NoInitWork(t) }

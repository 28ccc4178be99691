package xz

import (
	"testing"

	"github.com/gemscan-dev/gemscan/internal/archive/archivetest"
)

// TestNoInitWork checks the reason this package exists: linking it must
// cost gemscan's start-up nothing (no table computed at init: the CRC-64
// table is built by hash/crc64 on first use), and it must not import
// ulikunitz/xz.
func TestNoInitWork(t *testing.T) { archivetest.NoInitWork(t, "ulikunitz") }

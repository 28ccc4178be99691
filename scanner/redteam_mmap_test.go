//go:build linux

package scanner

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestMappedIndexCutShortIsAnError: a file truncated under its mapping
// faults (SIGBUS) on the pages past its new end. git never rewrites the
// index in place, but another program may: the read is an error, not a
// crash.
func TestMappedIndexCutShortIsAnError(t *testing.T) {
	p := filepath.Join(t.TempDir(), "index")
	if err := os.WriteFile(p, make([]byte, 3*os.Getpagesize()), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, unmap, err := mapIndex(f, 3*int64(os.Getpagesize()))
	if err != nil {
		t.Fatal(err)
	}
	defer unmap()
	if err := os.Truncate(p, 0); err != nil {
		t.Fatal(err)
	}
	var b byte
	err = catchFault(func() error {
		b = data[2*os.Getpagesize()]
		return nil
	})
	if !errors.Is(err, errIndexChanged) {
		t.Fatalf("err %v (read %d), want errIndexChanged", err, b)
	}
	// Other panics are not swallowed.
	defer func() {
		if p := recover(); p != "boom" {
			t.Fatalf("recovered %v, want the panic itself", p)
		}
	}()
	catchFault(func() error { panic("boom") })
}

//go:build linux

package scanner

import (
	"errors"
	"fmt"
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
	err = catchFault(&data, func() error {
		b = data[2*os.Getpagesize()]
		return nil
	})
	if !errors.Is(err, errIndexChanged) {
		t.Fatalf("err %v (read %d), want errIndexChanged", err, b)
	}
	// Other panics, faults elsewhere included, are not swallowed.
	for _, c := range []struct {
		name string
		fn   func() error
	}{
		{"panic", func() error { panic("boom") }},
		{"nil pointer", func() error {
			var p *indexEntry
			return fmt.Errorf("%d", p.Mode)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if p := recover(); p == nil {
					t.Fatal("no panic")
				}
			}()
			err := catchFault(&data, c.fn)
			t.Fatalf("returned %v, want a panic", err)
		})
	}
}

package rules

import (
	"testing"

	"golang.org/x/sys/cpu"
)

// TestHasAVX2 checks the package's own AVX2 detection against
// golang.org/x/sys/cpu's (which the binary no longer links).
func TestHasAVX2(t *testing.T) {
	if got, want := hasAVX2(), cpu.X86.HasAVX2; got != want {
		t.Fatalf("hasAVX2() = %v, golang.org/x/sys/cpu says %v", got, want)
	}
}

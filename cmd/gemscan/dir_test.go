package main

import (
	"testing"

	"github.com/gemscan-dev/gemscan/report"
)

// TestEscapeControl: what gemscan dir prints on stderr (through
// report.Sanitize) cannot drive a terminal or forge a workflow command.
func TestEscapeControl(t *testing.T) {
	for in, want := range map[string]string{
		"plain/path é":              "plain/path é",
		"e\n::warning file=x::boom": `e\n::warning file=x::boom`,
		"\x1b[2Jx\x00":              `\x1b[2Jx\x00`,
		"bad\xffbyte":               `bad\xffbyte`,
	} {
		if got := report.Sanitize(in); got != want {
			t.Errorf("Sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

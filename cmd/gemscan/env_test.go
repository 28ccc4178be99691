package main

import (
	"strings"
	"testing"
)

// TestEnvGet: env.get reads the environment as a map built from it in
// order would: the last definition wins, names are whole, values may hold
// "=".
func TestEnvGet(t *testing.T) {
	environ := []string{"A=1", "AB=2", "A=3", "NOEQUALS", "EMPTY=", "EQ=x=y", "B=", "B=later"}
	m := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	e := &env{environ: environ}
	for _, k := range []string{"A", "AB", "NOEQUALS", "EMPTY", "EQ", "B", "MISSING", "E"} {
		if got, want := e.get(k), m[k]; got != want {
			t.Errorf("get(%q) = %q, want %q", k, got, want)
		}
	}
	if e.get("A") != "3" || e.get("EQ") != "x=y" {
		t.Errorf("get(A) = %q, get(EQ) = %q", e.get("A"), e.get("EQ"))
	}
}

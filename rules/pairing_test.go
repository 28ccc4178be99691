package rules

import (
	"math/rand/v2"
	"testing"
)

// TestPairWindowsMatchPerKeyScan checks pairWindows, which reads each
// newline at most once for all keys, against lineStart and lineEnd run for
// each key alone (the way windows were found before, at a cost of up to 6 KB
// per key on a long line).
func TestPairWindowsMatchPerKeyScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 13))
	for trial := 0; trial < 400; trial++ {
		n := 1 + rng.IntN(20000)
		newlineEvery := 1 + rng.IntN(600) // from dense lines to one long line
		data := make([]byte, n)
		for i := range data {
			data[i] = 'a'
			if rng.IntN(newlineEvery) == 0 {
				data[i] = '\n'
			}
		}
		var keys []Match
		for p := rng.IntN(200); p+28 <= n; p += 28 + rng.IntN(1+rng.IntN(4000)) {
			keys = append(keys, Match{Start: p, End: p + 28})
			copy(data[p:p+28], "account-0123456789abcdefghij") // a key holds no newline
		}
		var w work
		got := pairWindows(data, keys, &w)
		for i, k := range keys {
			want := span{lineStart(data, k.Start, pairLines, pairBytes), lineEnd(data, k.End, pairLines, pairBytes)}
			if got[i] != want {
				t.Fatalf("trial %d (%d bytes, a newline every %d): key %d at %d: window %v, want %v",
					trial, n, newlineEvery, i, k.Start, got[i], want)
			}
		}
		if w.bytes > n {
			t.Fatalf("trial %d: %d bytes examined for %d bytes of input", trial, w.bytes, n)
		}
	}
}

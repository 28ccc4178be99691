package rules

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// detectorLiterals returns the literals NewDetector searches for.
func detectorLiterals(d *Detector) []string { return d.words }

// teddyInput makes n bytes of text dense in the literals' bytes, with
// literals and their fragments planted at random offsets: block edges, the
// input's last bytes and overlapping literals included.
func teddyInput(r *rand.Rand, lits []string, n int) []byte {
	const filler = "acemnotuAIQYZ-.%\\ux02 \n\x00\xff"
	data := make([]byte, n)
	for i := range data {
		data[i] = filler[r.IntN(len(filler))]
	}
	for k := r.IntN(n/8 + 2); k > 0; k-- {
		l := lits[r.IntN(len(lits))]
		if r.IntN(3) == 0 {
			l = l[:r.IntN(len(l))+1] // a fragment
		}
		at := r.IntN(n + 1)
		copy(data[at:], l)
	}
	return data
}

// TestTeddyMatchesLiteralSet checks the one-pass search against the
// anchor-byte search it replaces, with and without AVX2, on inputs of every
// length up to a few blocks and on longer ones.
func TestTeddyMatchesLiteralSet(t *testing.T) {
	lits := detectorLiterals(NewDetector())
	anchors := newLiteralSet(lits)
	td := newTeddy(lits)
	if td == nil {
		t.Fatal("no teddy for the detector's literals")
	}
	r := rand.New(rand.NewPCG(1, 2))
	check := func(data []byte) {
		t.Helper()
		want := anchors.find(data, nil)
		for _, simd := range []bool{false, useAVX2} {
			if got := td.search(data, nil, simd); !slices.Equal(got, want) {
				t.Fatalf("simd %v on %q:\n got %v\nwant %v", simd, data, got, want)
			}
		}
	}
	found := 0
	for n := 0; n < 200; n++ {
		for range 20 {
			data := teddyInput(r, lits, n)
			check(data)
			found += len(anchors.find(data, nil))
		}
	}
	for range 50 {
		data := teddyInput(r, lits, 1000+r.IntN(20000))
		check(data)
		found += len(anchors.find(data, nil))
	}
	// Every literal at every offset of a block, and at the very end.
	for _, l := range lits {
		for at := 0; at <= 70; at++ {
			data := make([]byte, at+len(l)+r.IntN(3))
			copy(data[at:], l)
			check(data)
			if len(anchors.find(data, nil)) == 0 {
				t.Fatalf("%q at %d not found", l, at)
			}
		}
	}
	if found < 1000 {
		t.Fatalf("only %d hits in the random inputs: they test little", found)
	}
}

// TestTeddyShortLiteral: a literal too short for a fingerprint gives no
// teddy (the detector then keeps the anchor-byte search).
func TestTeddyShortLiteral(t *testing.T) {
	if newTeddy([]string{"abc", "de"}) != nil {
		t.Fatal("teddy built for a two-byte literal")
	}
	if newTeddy([]string{"abc", "defgh"}) == nil {
		t.Fatal("no teddy for literals of three bytes and more")
	}
}

// FuzzTeddy checks the one-pass search against the anchor-byte search on
// any input.
func FuzzTeddy(f *testing.F) {
	lits := detectorLiterals(NewDetector())
	anchors, td := newLiteralSet(lits), newTeddy(lits)
	f.Add([]byte("GEMINI_API_KEY=account-xxxx AIza AQ.Ab8 YWNjb3VudC0 master\\u002d"))
	f.Fuzz(func(t *testing.T, data []byte) {
		want := anchors.find(data, nil)
		for _, simd := range []bool{false, useAVX2} {
			if got := td.search(data, nil, simd); !slices.Equal(got, want) {
				t.Fatalf("simd %v: got %v, want %v", simd, got, want)
			}
		}
	})
}

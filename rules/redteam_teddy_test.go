package rules

import (
	"bytes"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
)

// naiveFind is the plainest oracle of all: strings.Index at every offset,
// one literal at a time, hits ordered by position then literal.
func naiveFind(lits []string, data []byte) []hit {
	var hits []hit
	for li, l := range lits {
		for i := 0; ; {
			j := bytes.Index(data[i:], []byte(l))
			if j < 0 {
				break
			}
			hits = append(hits, hit{pos: i + j, lit: li})
			i += j + 1
		}
	}
	sortHits(hits)
	return hits
}

// checkTeddy compares teddy (AVX2 loop where the machine has it, and the
// scalar loop) with literalSet and, if naive, literalSet with naiveFind.
func checkTeddy(t *testing.T, lits []string, td *teddy, anchors *literalSet, data []byte, naive bool) int {
	t.Helper()
	want := anchors.find(data, nil)
	if naive {
		if n := naiveFind(lits, data); !slices.Equal(n, want) {
			t.Fatalf("literalSet on %q:\n got %v\nwant %v", data, want, n)
		}
	}
	for _, simd := range []bool{false, useAVX2} {
		if got := td.search(data, nil, simd); !slices.Equal(got, want) {
			t.Fatalf("teddy simd=%v on %q:\n got %v\nwant %v", simd, data, got, want)
		}
	}
	return len(want)
}

// TestRedteamTeddyAdversarial: literals at every alignment of the 32-byte
// block, across the block edge, overlapping each other, in inputs shorter
// than a block, among bytes >= 0x80 and NULs, and all of them at once.
func TestRedteamTeddyAdversarial(t *testing.T) {
	lits := detectorLiterals(NewDetector())
	td, anchors := newTeddy(lits), newLiteralSet(lits)
	fills := [][]byte{{0}, {0xff}, []byte("\x80a"), []byte("AAAA")}
	found := 0
	for _, fill := range fills {
		for _, l := range lits {
			for n := len(l); n <= 72; n++ {
				for at := 0; at+len(l) <= n; at++ {
					data := bytes.Repeat(fill, n/len(fill)+1)[:n]
					copy(data[at:], l)
					if c := checkTeddy(t, lits, td, anchors, data, true); c == 0 {
						t.Fatalf("%q at %d of %d not found", l, at, n)
					}
					found++
				}
			}
		}
	}
	// Every pair of literals overlapping by every amount, and the whole set
	// packed back to back (every position a candidate for some bucket).
	for _, a := range lits {
		for _, b := range lits {
			for ov := 0; ov <= min(len(a), len(b)); ov++ {
				if ov > 0 && a[len(a)-ov:] != b[:ov] {
					continue
				}
				for lead := 0; lead < 33; lead++ {
					data := append(bytes.Repeat([]byte{0x80}, lead), a...)
					data = append(data, b[ov:]...)
					checkTeddy(t, lits, td, anchors, data, true)
				}
			}
		}
	}
	var all []byte
	for _, l := range lits {
		all = append(all, l...)
	}
	for shift := 0; shift < 32; shift++ {
		data := append(bytes.Repeat([]byte{0}, shift), all...)
		data = append(data, all...)
		if c := checkTeddy(t, lits, td, anchors, data, true); c < 2*len(lits) {
			t.Fatalf("%d hits in the literals back to back, want %d at least", c, 2*len(lits))
		}
	}
	if found == 0 {
		t.Fatal("nothing checked")
	}
}

// guardedPages maps two pages and makes page guard (0 or 1) inaccessible,
// so that a read past the other page's edge faults.
func guardedPages(t *testing.T, guard int) []byte {
	t.Helper()
	mem, err := mmapGuarded(guard)
	if err != nil {
		t.Skipf("no guard page here: %v", err)
	}
	t.Cleanup(func() { munmapGuarded(mem) })
	return mem
}

// TestRedteamTeddyGuardPage: the AVX2 loop never reads a byte past the
// end of its input nor before its start. The input ends exactly where an
// inaccessible page begins (or starts right after one) for every length up
// to 200, with every literal at every offset near the edge; a read out of
// bounds is a fault that ends the test binary.
func TestRedteamTeddyGuardPage(t *testing.T) {
	lits := detectorLiterals(NewDetector())
	td, anchors := newTeddy(lits), newLiteralSet(lits)
	after := guardedPages(t, 1)  // page 0 readable, page 1 not
	before := guardedPages(t, 0) // page 1 readable, page 0 not
	page := len(after) / 2
	r := rand.New(rand.NewPCG(7, 8))
	const filler = "acemnotuAIQYZ-.%\\ux02 \n\x00\xff"
	base := make([]byte, 4096)
	for i := range base {
		base[i] = filler[r.IntN(len(filler))]
	}
	fill := func(b []byte) { copy(b, base[r.IntN(len(base)-len(b)+1):]) }
	checked := 0
	for n := 0; n <= 200; n++ {
		ends := after[page-n : page : page] // ends at the guard page
		starts := before[page : page+n : page+n]
		fill(ends)
		checkTeddy(t, lits, td, anchors, ends, false)
		fill(starts)
		checkTeddy(t, lits, td, anchors, starts, false)
		for _, l := range lits {
			// Ending in the last 36 bytes (a block reads 35) of the input
			// that ends at the guard page.
			for at := max(0, n-len(l)-36); at+len(l) <= n; at++ {
				fill(ends)
				copy(ends[at:], l)
				if checkTeddy(t, lits, td, anchors, ends, false) == 0 {
					t.Fatalf("%q at %d of %d not found", l, at, n)
				}
				checked++
			}
			// In the first bytes of the input right after the guard page.
			for at := 0; at < 4 && at+len(l) <= n; at++ {
				fill(starts)
				copy(starts[at:], l)
				if checkTeddy(t, lits, td, anchors, starts, false) == 0 {
					t.Fatalf("%q at %d of %d not found", l, at, n)
				}
			}
		}
	}
	if checked < 10000 {
		t.Fatalf("only %d placements checked", checked)
	}
}

// TestRedteamTeddyPreempt runs the AVX2 search on many goroutines while
// the garbage collector runs and the scheduler preempts them: the vector
// registers and the frame the assembly declares survive signals and stack
// moves. Run with -race too.
func TestRedteamTeddyPreempt(t *testing.T) {
	lits := detectorLiterals(NewDetector())
	td := newTeddy(lits)
	r := rand.New(rand.NewPCG(5, 6))
	inputs := make([][]byte, 16)
	wants := make([][]hit, len(inputs))
	for i := range inputs {
		inputs[i] = teddyInput(r, lits, 1000+r.IntN(60000))
		wants[i] = td.search(inputs[i], nil, false)
	}
	done := make(chan struct{})
	var gcs sync.WaitGroup
	gcs.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
				runtime.GC()
			}
		}
	})
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := range 4 * runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			var grow func(int) // recursion moves the stack now and then
			grow = func(d int) {
				var pad [256]byte
				if d > 0 {
					grow(d - 1)
					return
				}
				for k := range 40 {
					i := (g + k) % len(inputs)
					if got := td.search(inputs[i], nil, useAVX2); !slices.Equal(got, wants[i]) {
						select {
						case errs <- "mismatch":
						default:
						}
						return
					}
				}
				_ = pad
			}
			grow(g % 8 * 8)
		})
	}
	wg.Wait()
	close(done)
	gcs.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

// TestRedteamNoAVX2 forces the detector onto the machine-independent
// prefilter, as on a CPU without AVX2, and checks it finds what the AVX2
// detector finds.
func TestRedteamNoAVX2(t *testing.T) {
	fast := NewDetector()
	saved := useAVX2
	setAVX2(false)
	slow := NewDetector()
	setAVX2(saved)
	if slow.fast != nil || slow.lits == nil {
		t.Fatal("the detector built without AVX2 still uses teddy")
	}
	lits := detectorLiterals(fast)
	r := rand.New(rand.NewPCG(9, 10))
	hits := 0
	for range 200 {
		data := teddyInput(r, lits, 1+r.IntN(5000))
		want := slow.lits.find(data, nil)
		var got []hit
		if fast.fast != nil {
			got = fast.fast.find(data, nil)
		} else {
			got = fast.lits.find(data, nil)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("with and without AVX2: %v, %v", got, want)
		}
		hits += len(want)
	}
	if hits == 0 {
		t.Fatal("no hits: the inputs test nothing")
	}
}

// worstTeddyInput is n bytes on which every position is a candidate of
// every bucket's fingerprint mask as far as the nibble tables can tell, and
// literals overlap as densely as they can.
func worstTeddyInput(lits []string, n int) []byte {
	var unit []byte
	for _, l := range lits {
		unit = append(unit, l...)
	}
	return bytes.Repeat(unit, n/len(unit)+1)[:n]
}

// BenchmarkRedteamTeddy compares teddy's throughput on ordinary text with
// its worst case (candidates everywhere) at two sizes: the time per byte
// must not grow with the size.
func BenchmarkRedteamTeddy(b *testing.B) {
	lits := detectorLiterals(NewDetector())
	td := newTeddy(lits)
	for _, size := range []int{1 << 20, 64 << 20} {
		line := []byte("func main() { fmt.Println(\"hello, world\") }\n")
		text := bytes.Repeat(line, size/len(line)+1)[:size]
		for name, data := range map[string][]byte{"text": text, "worst": worstTeddyInput(lits, size)} {
			b.Run(name+"/"+sizeName(size), func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				hits := make([]hit, 0, 1024)
				for b.Loop() {
					hits = td.find(data, hits[:0])
				}
			})
		}
	}
}

func sizeName(n int) string { return strconv.Itoa(n>>20) + "MiB" }

// falseUnit repeated stops teddy at about half the positions with no
// literal in it: the densest false candidates of period up to four over the
// literals' bytes (a search over all 2.5 million of them).
const falseUnit = "VzYR"

// candidateShare is the share of positions of data where teddy stops.
func candidateShare(td *teddy, data []byte) float64 {
	n := 0
	for i := 0; i+fpLen <= len(data); i++ {
		if td.bucketsAt(data, i) != 0 {
			n++
		}
	}
	return float64(n) / float64(max(1, len(data)-fpLen+1))
}

// TestRedteamTeddyFalseCandidates: teddy and literalSet agree (no hits) on
// an input that stops teddy at half its positions.
func TestRedteamTeddyFalseCandidates(t *testing.T) {
	lits := detectorLiterals(NewDetector())
	td := newTeddy(lits)
	data := bytes.Repeat([]byte(falseUnit), 5000)
	if checkTeddy(t, lits, td, newLiteralSet(lits), data, true) != 0 {
		t.Fatal("a literal in the false candidates")
	}
	t.Logf("teddy stops at %.0f%% of the positions", 100*candidateShare(td, data))
}

// BenchmarkRedteamTeddyFalse is teddy on falseUnit repeated, at two sizes,
// beside literalSet on it.
func BenchmarkRedteamTeddyFalse(b *testing.B) {
	lits := detectorLiterals(NewDetector())
	td, anchors := newTeddy(lits), newLiteralSet(lits)
	for _, size := range []int{1 << 20, 64 << 20} {
		data := bytes.Repeat([]byte(falseUnit), size/len(falseUnit))
		b.Run("teddy/"+sizeName(size), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				td.find(data, nil)
			}
			b.ReportMetric(candidateShare(td, data[:4096]), "candidates/pos")
		})
		b.Run("literalSet/"+sizeName(size), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				anchors.find(data, nil)
			}
		})
	}
}

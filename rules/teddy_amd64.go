package rules

// useAVX2 says whether teddy.find may run its AVX2 loop.
var useAVX2 = hasAVX2()

// hasAVX2 reports whether the processor has AVX2 and the operating system
// saves the AVX registers. It asks the processor itself rather than
// importing golang.org/x/sys/cpu, whose initialisation (every feature of
// every leaf, and GODEBUG's cpu options) every gemscan process would pay
// for this one bit, `gemscan version` and the pre-commit check included;
// TestHasAVX2 checks it against that package.
func hasAVX2() bool {
	if maxLeaf, _, _, _ := cpuid(0, 0); maxLeaf < 7 {
		return false
	}
	const osxsave, avx = 1 << 27, 1 << 28
	if _, _, ecx, _ := cpuid(1, 0); ecx&osxsave == 0 || ecx&avx == 0 {
		return false
	}
	// XCR0 bits 1 and 2: the OS saves the SSE and AVX (YMM) state.
	if xcr0, _ := xgetbv(); xcr0&6 != 6 {
		return false
	}
	const avx2 = 1 << 5
	_, ebx, _, _ := cpuid(7, 0)
	return ebx&avx2 != 0
}

// cpuid executes CPUID with EAX=leaf and ECX=subleaf.
func cpuid(leaf, subleaf uint32) (eax, ebx, ecx, edx uint32)

// xgetbv reads XCR0; only call it when CPUID says OSXSAVE.
func xgetbv() (eax, edx uint32)

// teddyAVX2 looks at the 32-position blocks of data from position from on,
// while a block and the three bytes past it are in data, and returns the start
// of the first block where a fingerprint may start, with one bit per
// candidate position in mask; mask is 0 when no block had one, i then being
// the first position not looked at.
//
//go:noescape
func teddyAVX2(masks *[2 * fpLen][32]byte, data []byte, from int) (i int, mask uint32)

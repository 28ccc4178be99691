package rules

// setAVX2 says whether NewDetector may choose teddy, as on a CPU with or
// without AVX2.
func setAVX2(on bool) { useAVX2 = on }

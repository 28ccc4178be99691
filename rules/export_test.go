package rules

// DetectWork runs Detect and also returns the work it counted: bytes
// examined after the prefilter and key–candidate pairs scored.
func DetectWork(d *Detector, data []byte) (ms []Match, bytes, pairs int) {
	var w work
	ms = d.detect(data, true, &w)
	return ms, w.bytes, w.pairs
}

package scanner

import (
	"bytes"
)

// eachLine calls fn with each line of data (without its line ending) and
// its 1-based number.
func eachLine(data []byte, fn func(n int, line []byte)) {
	for n := 1; len(data) > 0; n++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		fn(n, bytes.TrimSuffix(line, []byte{'\r'}))
	}
}

// lineCounts adds data's lines to m, a multiset of lines.
func lineCounts(m map[string]int, data []byte) map[string]int {
	if m == nil {
		m = map[string]int{}
	}
	eachLine(data, func(_ int, line []byte) { m[string(line)]++ })
	return m
}

// addedLines returns the numbers of data's lines that old (a multiset of
// lines, consumed) does not account for.
func addedLines(data []byte, old map[string]int) map[int]bool {
	added := map[int]bool{}
	eachLine(data, func(n int, line []byte) {
		if old[string(line)] > 0 {
			old[string(line)]--
		} else {
			added[n] = true
		}
	})
	return added
}

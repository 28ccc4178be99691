package scanner

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/gemscan-dev/gemscan/rules"
)

// AllowMarker on a line suppresses any finding on that line.
const AllowMarker = "gemscan:allow"

// Chunking of streamed input: each chunk overlaps the next by chunkOverlap
// bytes, and a match is reported by the chunk that holds its start in its
// own half of the overlap, so nothing is reported twice or lost at a seam.
const (
	chunkSize    = 4 << 20
	chunkOverlap = 64 << 10
)

// locator turns rule matches in a buffer into findings, computing lines and
// columns with one forward pass over the buffer.
type locator struct {
	data     []byte
	baseLine int // lines before data[0]
	at, line int // cursor: data[:at] holds line-1 newlines past baseLine
}

func newLocator(data []byte, baseLine int) *locator {
	return &locator{data: data, baseLine: baseLine, line: 1}
}

// lineOf returns the 1-based line of offset off and the offset where that
// line starts. The cursor moves from the last offset asked, so offsets that
// mostly ascend cost one pass over the buffer.
func (l *locator) lineOf(off int) (int, int) {
	if off < l.at {
		l.line -= bytes.Count(l.data[off:l.at], []byte{'\n'})
	} else {
		l.line += bytes.Count(l.data[l.at:off], []byte{'\n'})
	}
	l.at = off
	start := bytes.LastIndexByte(l.data[:off], '\n') + 1
	return l.baseLine + l.line, start
}

// position returns the line and code-point column of off.
func (l *locator) position(off int) (int, int) {
	line, start := l.lineOf(off)
	return line, utf8.RuneCount(l.data[start:off]) + 1
}

// allowed reports whether the line holding off carries the allow marker.
func (l *locator) allowed(off int) bool {
	start := bytes.LastIndexByte(l.data[:off], '\n') + 1
	end := bytes.IndexByte(l.data[off:], '\n')
	if end < 0 {
		end = len(l.data)
	} else {
		end += off
	}
	return bytes.Contains(l.data[start:end], []byte(AllowMarker))
}

// findings converts matches (ordered by Start) into findings at file/path.
// Matches on a line marked gemscan:allow are returned apart, in allowed.
func (l *locator) findings(ms []rules.Match, file, path string) (out, allowed []Finding) {
	for _, m := range ms {
		f := Finding{Rule: m.Rule, File: file, Path: path, Value: m.Value,
			Encoding: m.Encoding, Confidence: m.Confidence}
		f.Line, f.Column = l.position(m.Start)
		f.EndLine, f.EndColumn = l.position(m.End)
		if len(m.Secrets) > 0 {
			f.SecretLine, _ = l.lineOf(m.Secrets[0].Start)
			for _, s := range m.Secrets {
				f.Secrets = append(f.Secrets, s.Value)
			}
		}
		if l.allowed(m.Start) || len(m.Secrets) > 0 && l.allowed(m.Secrets[0].Start) {
			allowed = append(allowed, f)
			continue
		}
		out = append(out, f)
	}
	return out, allowed
}

// textOf returns data as the UTF-8 text to scan: UTF-16 with a byte-order
// mark (PowerShell scripts, .reg files, some Windows configs) is transcoded,
// other data with a NUL byte in its first 8 KiB is binary and is returned
// as is only when scanBinary is set; ok is false for skipped binary data.
func textOf(data []byte, scanBinary bool) (text []byte, ok bool) {
	if len(data) >= 2 && (data[0] == 0xff && data[1] == 0xfe || data[0] == 0xfe && data[1] == 0xff) && len(data)%2 == 0 {
		little := data[0] == 0xff
		units := make([]uint16, 0, len(data)/2-1)
		for i := 2; i+1 < len(data); i += 2 {
			if little {
				units = append(units, uint16(data[i])|uint16(data[i+1])<<8)
			} else {
				units = append(units, uint16(data[i])<<8|uint16(data[i+1]))
			}
		}
		out := make([]byte, 0, len(units))
		for _, r := range utf16.Decode(units) {
			out = utf8.AppendRune(out, r)
		}
		return out, true
	}
	if !scanBinary && bytes.IndexByte(data[:min(len(data), binarySniff)], 0) >= 0 {
		return nil, false
	}
	return data, true
}

// ScanBytes returns the findings in data, reported at file (display path)
// and path (scan-root-relative path), and apart those that gemscan:allow
// suppresses.
func ScanBytes(det *rules.Detector, data []byte, file, path string) (findings, allowed []Finding) {
	ms := det.Detect(data)
	if len(ms) == 0 {
		return nil, nil
	}
	return newLocator(data, 0).findings(ms, file, path)
}

// ScanReader scans r in overlapping chunks, so memory stays bounded however
// long the input is. It returns the findings, those suppressed by
// gemscan:allow, the bytes read, and any read error (with the findings made
// before it).
func ScanReader(det *rules.Detector, r io.Reader, file, path string) ([]Finding, []Finding, int64, error) {
	return scanChunks(det, r, file, path, chunkSize, chunkOverlap)
}

// scanChunks is ScanReader with the chunk size and overlap as parameters
// (overlap must be even and well below size).
func scanChunks(det *rules.Detector, r io.Reader, file, path string, size, overlap int) ([]Finding, []Finding, int64, error) {
	buf := make([]byte, 0, size)
	var out, allowedTotal []Finding
	var total int64
	baseLine := 0 // newlines before buf[0]
	first := true
	for {
		n, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		total += int64(n)
		last := err != nil
		var readErr error
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			// Scan what was read before the error, then report it.
			readErr = fmt.Errorf("read %s: %w", file, err)
		}
		lo, hi := 0, len(buf)
		if !first {
			lo = overlap / 2
		}
		if !last {
			hi = len(buf) - overlap/2
		}
		var ms []rules.Match
		for _, m := range det.Detect(buf) {
			if m.Start >= lo && m.Start < hi {
				ms = append(ms, m)
			}
		}
		fs, allowed := newLocator(buf, baseLine).findings(ms, file, path)
		out = append(out, fs...)
		allowedTotal = append(allowedTotal, allowed...)
		if last {
			return out, allowedTotal, total, readErr
		}
		// Keep the overlap for the next chunk.
		keep := len(buf) - overlap
		baseLine += bytes.Count(buf[:keep], []byte{'\n'})
		copy(buf, buf[keep:])
		buf = buf[:overlap]
		first = false
	}
}

package archive

import (
	"archive/zip"
	"bytes"
	"hash/crc32"
	"testing"
)

// TestRedteamZipXzMethodFailsOpen: a zip member compressed with method 95
// (XZ, APPNOTE 4.4.5) or 14 (LZMA, which Python's zipfile and 7-Zip
// write) is skipped with a note and the walk succeeds: `gemscan dir` on
// such a zip holding a key prints the note and "No Gemini credentials
// found", exit 0. Our own xz decoder now reads method 95 at no cost.
func TestRedteamZipXzMethodFailsOpen(t *testing.T) {
	t.Skip("known (policy): internal/archive/formats.go zip() counts members of an unregistered method (95 XZ, 14 LZMA) as a note, not an error: exit 0 with a key inside; the lead must register method 95 with internal/archive/xz (and LZMA 14 with its LZMA decoder) or make unsupported members an error")
	text := []byte("GEMINI_API_KEY=value\n")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "conf.env", Method: 95, CRC32: crc32.ChecksumIEEE(text),
		CompressedSize64: uint64(len(mkXz(t, text))), UncompressedSize64: uint64(len(text))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(mkXz(t, text)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	got := walk(t, "a.zip", buf.Bytes(), DefaultLimits())
	if got.err == nil && !hasContent(got, "GEMINI_API_KEY=value") {
		t.Fatalf("notes %v: the member was neither read nor an error", got.stats.Notes)
	}
}

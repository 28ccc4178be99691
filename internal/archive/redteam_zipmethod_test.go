package archive

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os/exec"
	"strings"
	"testing"

	"github.com/ulikunitz/xz/lzma"
)

// TestRedteamZipXzMethod: a zip member compressed with method 95 (XZ,
// APPNOTE 4.4.5) was skipped with a note and the walk succeeded, exit 0
// with a key inside; our own xz decoder now reads it. (Method 14, LZMA,
// which Python's zipfile and 7-Zip write, is read too: TestZipLzmaMethod.)
func TestRedteamZipXzMethod(t *testing.T) {
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
	if got.err != nil || !hasContent(got, "GEMINI_API_KEY=value") {
		t.Fatalf("err %v, notes %v: the XZ member was not read", got.err, got.stats.Notes)
	}
}

// TestZipUnknownMethodFailsClosed: a member compressed with a method
// gemscan cannot read (98, PPMd) is named and fails the walk, which still
// reads the other members.
func TestZipUnknownMethodFailsClosed(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "conf.env", Method: 98, CompressedSize64: 4, UncompressedSize64: 4})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("abcd"))
	w2, _ := zw.Create("plain.txt")
	w2.Write([]byte("plain"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	got := walk(t, "a.zip", buf.Bytes(), DefaultLimits())
	if !errors.Is(got.err, ErrNotScanned) || got.members["a.zip!plain.txt"] != "plain" ||
		!strings.Contains(got.err.Error(), "a.zip: 1 member(s) compressed with an unsupported method not scanned") {
		t.Fatalf("err %v, members %v: want the PPMd member named as not scanned, the rest read", got.err, got.members)
	}
}

// mkLzma compresses data to .lzma with the xz command (an end marker, no
// size), skipping the test without it.
func mkLzma(t testing.TB, data []byte, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("xz"); err != nil {
		t.Skip("no xz command to build a .lzma test file")
	}
	cmd := exec.Command("xz", append([]string{"--format=lzma", "-c", "-q", "-T1"}, args...)...)
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("xz --format=lzma: %v", err)
	}
	return out
}

// zipLzmaMember is a zip method 14 member's data for a .lzma file: the
// LZMA SDK version (9.20, as Python's zipfile writes), the properties'
// size and the properties, then the LZMA data.
func zipLzmaMember(lzmaFile []byte) []byte {
	b := append([]byte{9, 20, 5, 0}, lzmaFile[:5]...)
	return append(b, lzmaFile[13:]...)
}

// zipWithMethod is a zip of one member whose raw data is given, with
// flags, after a stored member "plain.txt".
func zipWithMethod(t testing.TB, method uint16, flags uint16, name string, raw, text []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w2, err := zw.Create("plain.txt")
	if err != nil {
		t.Fatal(err)
	}
	w2.Write([]byte("plain"))
	w, err := zw.CreateRaw(&zip.FileHeader{Name: name, Method: method, Flags: flags, CRC32: crc32.ChecksumIEEE(text),
		CompressedSize64: uint64(len(raw)), UncompressedSize64: uint64(len(text))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestZipLzmaMethod: a member compressed with method 14 (LZMA) was never
// read, failing the walk as an unsupported method; it is read now, ended
// by an end marker (flag bit 1, as the xz command and Python write) or by
// its size (as 7-Zip may), and corrupt data or a dictionary over the limit
// fail the walk.
func TestZipLzmaMethod(t *testing.T) {
	text := bytes.Repeat([]byte("GEMINI_API_KEY=value\n"), 500)
	marked := zipLzmaMember(mkLzma(t, text, "--lzma1=dict=64KiB"))
	var sized bytes.Buffer
	lw, err := lzma.WriterConfig{DictCap: 1 << 16, Size: int64(len(text))}.NewWriter(&sized)
	if err != nil {
		t.Fatal(err)
	}
	lw.Write(text)
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		raw   []byte
		flags uint16
	}{
		"end marker": {marked, 2},
		"size":       {zipLzmaMember(sized.Bytes()), 0},
		"empty":      {zipLzmaMember(mkLzma(t, nil)), 2},
	} {
		want := text
		if name == "empty" {
			want = nil
		}
		got := walk(t, "a.zip", zipWithMethod(t, 14, c.flags, "conf.env", c.raw, want), DefaultLimits())
		if got.err != nil || got.members["a.zip!conf.env"] != string(want) || got.members["a.zip!plain.txt"] != "plain" {
			t.Errorf("%s: err %v, notes %v: the LZMA member was not read", name, got.err, got.stats.Notes)
		}
	}
	corrupt := bytes.Clone(marked)
	corrupt[len(corrupt)/2] ^= 0x40
	if got := walk(t, "a.zip", zipWithMethod(t, 14, 2, "conf.env", corrupt, text), DefaultLimits()); got.err == nil ||
		!strings.Contains(got.err.Error(), "a.zip!conf.env") {
		t.Errorf("corrupt LZMA member: err %v: want the member's error", got.err)
	}
	huge := bytes.Clone(marked)
	binary.LittleEndian.PutUint32(huge[5:9], 1<<30)
	if got := walk(t, "a.zip", zipWithMethod(t, 14, 2, "conf.env", huge, text), DefaultLimits()); !errors.Is(got.err, ErrLimit) {
		t.Errorf("a 1 GiB dictionary: err %v: want ErrLimit", got.err)
	}
}

// TestLzmaFile: a .lzma file, which has no magic, is told from other data
// by its header and read; one asking for a dictionary over the limit fails
// the walk with ErrLimit.
func TestLzmaFile(t *testing.T) {
	text := []byte("GEMINI_API_KEY=value\n")
	enc := mkLzma(t, text)
	if f := Detect(enc); f != Lzma {
		t.Fatalf("Detect = %v, want lzma", f)
	}
	for _, notLzma := range [][]byte{make([]byte, 600), []byte("]\x00\x00\x80\x00 plain text after a bracket")} {
		if f := Detect(notLzma); f != None {
			t.Errorf("Detect(%q) = %v, want none", notLzma[:8], f)
		}
	}
	huge := bytes.Clone(enc)
	binary.LittleEndian.PutUint32(huge[1:5], 1<<30)
	if got := walk(t, "a.lzma", huge, DefaultLimits()); !errors.Is(got.err, ErrLimit) {
		t.Errorf("a 1 GiB dictionary: err %v: want ErrLimit", got.err)
	}
	cut := enc[:len(enc)-3]
	if got := walk(t, "a.lzma", cut, DefaultLimits()); got.err == nil {
		t.Errorf("a cut .lzma file: no error")
	}
}

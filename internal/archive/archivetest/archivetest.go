// Package archivetest builds archives in memory for tests (as net/http/httptest
// serves them): the archive readers' own tests and the scanner's build the
// same zips, tars and gzip streams through it.
package archivetest

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"os/exec"
	"testing"
)

// File is one member of an archive.
type File struct {
	Name string
	Data []byte
}

// Zip returns a zip archive of files, deflated.
func Zip(t testing.TB, files ...File) []byte {
	t.Helper()
	return ZipMethod(t, zip.Deflate, files...)
}

// ZipMethod is Zip with a compression method: zip.Store builds large test
// archives quickly.
func ZipMethod(t testing.TB, method uint16, files ...File) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(f.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Tar returns a tar archive of regular files.
func Tar(t testing.TB, files ...File) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.Name, Mode: 0o644, Size: int64(len(f.Data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Gzip returns data compressed as a gzip stream.
func Gzip(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TarGz returns a gzip-compressed tar archive of files.
func TarGz(t testing.TB, files ...File) []byte {
	t.Helper()
	return Gzip(t, Tar(t, files...))
}

// Bzip2 compresses data with the bzip2 command at level (1 to 9: blocks of
// level*100 kB, so that a large input makes a stream of many blocks); the
// test is skipped without the command (the standard library only reads
// bzip2).
func Bzip2(t testing.TB, data []byte, level int) []byte {
	t.Helper()
	if _, err := exec.LookPath("bzip2"); err != nil {
		t.Skip("no bzip2 command to build a .bz2 test archive")
	}
	cmd := exec.Command("bzip2", "-c", "-"+string(rune('0'+level)))
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bzip2: %v", err)
	}
	return out
}

// UTF16LE encodes ASCII s as UTF-16LE with no byte-order mark, as compiled
// Android resources and .NET metadata store strings inside binary members.
func UTF16LE(s string) []byte {
	b := make([]byte, 0, 2*len(s))
	for _, c := range []byte(s) {
		b = append(b, c, 0)
	}
	return b
}

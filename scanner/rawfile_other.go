//go:build !unix

package scanner

import (
	"errors"
	"io"
	"os"
)

// rawFile is an *os.File where bare system calls are not available.
type rawFile struct{ f *os.File }

func openRaw(path string) (rawFile, error) {
	f, err := os.Open(path)
	return rawFile{f}, err
}

// read reads once into p; 0 bytes and no error mean the end of the file.
func (f rawFile) read(p []byte) (int, error) {
	n, err := f.f.Read(p)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return n, err
}

// stat returns the open file's size and whether it is a regular file.
func (f rawFile) stat() (int64, bool, error) {
	st, err := f.f.Stat()
	if err != nil {
		return 0, false, err
	}
	return st.Size(), st.Mode().IsRegular(), nil
}

func (f rawFile) close() error { return f.f.Close() }

func (f rawFile) file(string) *os.File { return f.f }

// openPipe opens a pipe named by one of this process's descriptors.
func openPipe(path string) (*os.File, error) { return os.Open(path) }

//go:build unix

package scanner

import (
	"os"
	"syscall"
)

// rawFile reads a file through bare system calls: os.File registers every
// file with the runtime's poller, a system call per file that a tree of
// small files notices.
type rawFile struct{ fd int }

// openRaw opens path for reading without blocking: a FIFO that took a
// file's place opens at once instead of waiting for a writer, and its reads
// return early instead of waiting for data (see scanFile).
func openRaw(path string) (rawFile, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
		if err == syscall.EINTR {
			continue
		}
		return rawFile{fd}, err
	}
}

// read reads once into p; 0 bytes and no error mean the end of the file.
func (f rawFile) read(p []byte) (int, error) {
	for {
		n, err := syscall.Read(f.fd, p)
		if err != syscall.EINTR {
			return max(n, 0), err
		}
	}
}

// stat returns the open file's size and whether it is a regular file.
func (f rawFile) stat() (int64, bool, error) {
	var st syscall.Stat_t
	err := syscall.Fstat(f.fd, &st)
	return st.Size, st.Mode&syscall.S_IFMT == syscall.S_IFREG, err
}

func (f rawFile) close() error { return syscall.Close(f.fd) }

// file hands the descriptor over to an *os.File, which then owns it.
func (f rawFile) file(name string) *os.File { return os.NewFile(uintptr(f.fd), name) }

// openPipe opens a pipe named by one of this process's descriptors. It is
// opened without blocking, so that the open never waits for a writer and
// the runtime's poller serves its reads (Close then ends a blocked one).
func openPipe(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}

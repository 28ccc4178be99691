package scanner

import (
	"fmt"
	"os"
	"syscall"
)

// mapIndex maps the index file at path read-only, pages populated at once,
// and returns its bytes and the function that unmaps them. An index is read
// whole (its checksum covers every byte): mapping it costs a fresh process
// a fraction of reading it into new heap pages, which the kernel must
// zero, fault in one by one, and fill with a copy. git maps it too.
//
// git replaces the index by renaming a new file over it, never by writing
// in place, so the mapped file does not change under the scan.
func mapIndex(f *os.File, size int64) ([]byte, func(), error) {
	if size == 0 || size != int64(int(size)) {
		return readIndexFile(f, size)
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_PRIVATE|syscall.MAP_POPULATE)
	if err != nil {
		// A file system that cannot map files is read instead.
		return readIndexFile(f, size)
	}
	return data, func() {
		if err := syscall.Munmap(data); err != nil {
			panic(fmt.Sprintf("unmap the index: %v", err))
		}
	}, nil
}

package scanner

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"syscall"
	"unsafe"
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

// errIndexChanged is the error for a fault reading the mapped index.
var errIndexChanged = errors.New("the index file was cut short while it was read (a program rewrote it in place, " +
	"which git never does: it renames a new file over it); run the check again")

// catchFault runs fn, turning a fault on the index's mapping, *mapped,
// into errIndexChanged: a file truncated under a mapping raises SIGBUS on
// the pages past its new end, which would otherwise crash the process.
// Any other fault (a bug) still panics. The fault handling is per
// goroutine; fn must not start goroutines that read the mapping without
// their own catchFault.
func catchFault(mapped *[]byte, fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			if f, ok := p.(interface{ Addr() uintptr }); ok && mapped != nil && len(*mapped) > 0 {
				start := uintptr(unsafe.Pointer(unsafe.SliceData(*mapped)))
				if a := f.Addr(); a >= start && a < start+uintptr(len(*mapped)) {
					err = fmt.Errorf("read index: %w (fault at offset %d)", errIndexChanged, a-start)
					return
				}
			}
			panic(p)
		}
	}()
	return fn()
}

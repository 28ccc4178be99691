//go:build !linux

package scanner

import "os"

// mapIndex reads the index file into memory where files cannot be mapped.
func mapIndex(f *os.File, size int64) ([]byte, func(), error) {
	return readIndexFile(f, size)
}

// catchFault runs fn: an index read into memory cannot fault.
func catchFault(_ *[]byte, fn func() error) error { return fn() }

package rules

import "syscall"

// mmapGuarded maps two pages and makes page guard (0 or 1) inaccessible.
func mmapGuarded(guard int) ([]byte, error) {
	page := syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 2*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, err
	}
	if err := syscall.Mprotect(mem[guard*page:(guard+1)*page], syscall.PROT_NONE); err != nil {
		syscall.Munmap(mem)
		return nil, err
	}
	return mem, nil
}

func munmapGuarded(mem []byte) { syscall.Munmap(mem) }

//go:build unix

package gguf

import (
	"os"
	"syscall"
)

// mmapFile maps the whole file read-only and shared, so its pages come from
// the page cache and are never copied into the Go heap.
func mmapFile(fh *os.File, size int64) ([]byte, func() error, error) {
	if int64(int(size)) != size {
		return nil, nil, syscall.EFBIG
	}
	data, err := syscall.Mmap(int(fh.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return data, func() error { return syscall.Munmap(data) }, nil
}

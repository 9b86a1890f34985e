//go:build windows

package gguf

import (
	"os"
	"syscall"
	"unsafe"
)

// mmapFile maps the whole file read-only through a file mapping object.
func mmapFile(fh *os.File, size int64) ([]byte, func() error, error) {
	h, err := syscall.CreateFileMapping(syscall.Handle(fh.Fd()), nil, syscall.PAGE_READONLY, uint32(size>>32), uint32(size), nil)
	if err != nil {
		return nil, nil, os.NewSyscallError("CreateFileMapping", err)
	}
	addr, err := syscall.MapViewOfFile(h, syscall.FILE_MAP_READ, 0, 0, uintptr(size))
	if err != nil {
		syscall.CloseHandle(h)
		return nil, nil, os.NewSyscallError("MapViewOfFile", err)
	}
	ptr := *(*unsafe.Pointer)(unsafe.Pointer(&addr)) // addr is memory outside the Go heap
	data := unsafe.Slice((*byte)(ptr), int(size))
	return data, func() error {
		err := syscall.UnmapViewOfFile(addr)
		syscall.CloseHandle(h)
		return err
	}, nil
}

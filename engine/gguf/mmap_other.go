//go:build !unix && !windows

package gguf

import (
	"io"
	"os"
)

// mmapFile reads the file into memory on platforms without a memory map.
func mmapFile(fh *os.File, size int64) ([]byte, func() error, error) {
	data := make([]byte, size)
	if _, err := io.ReadFull(fh, data); err != nil {
		return nil, nil, err
	}
	return data, func() error { return nil }, nil
}

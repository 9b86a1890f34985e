//go:build unix

package gguf

import (
	"os"
	"syscall"
)

// openNoWait opens path read-only without waiting: O_NONBLOCK makes opening
// a named pipe return at once (it changes nothing for a regular file), and
// Open then refuses anything that is not a regular file.
func openNoWait(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}

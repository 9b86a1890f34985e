//go:build unix

package inputfile

import (
	"os"
	"syscall"
)

// openNoWait opens path read-only with O_NONBLOCK, which makes opening a
// named pipe return at once (reads of a regular file are unaffected).
func openNoWait(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}

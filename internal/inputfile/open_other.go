//go:build !unix

package inputfile

import (
	"fmt"
	"os"
)

// openNoWait refuses what is not a regular file before opening it (there is
// no O_NONBLOCK here); Open checks the opened file again.
func openNoWait(path string) (*os.File, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("open %s: %w (%s)", path, ErrNotRegular, kind(fi.Mode()))
	}
	return os.Open(path)
}

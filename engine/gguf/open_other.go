//go:build !unix

package gguf

import (
	"fmt"
	"os"
)

// openNoWait refuses what is not a regular file before opening it (there
// is no O_NONBLOCK here); Open checks the opened file again.
func openNoWait(path string) (*os.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return os.Open(path)
}

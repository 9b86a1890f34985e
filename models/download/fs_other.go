//go:build !unix && !windows

package download

import (
	"errors"
	"fmt"
	"os"
)

// FreeSpace is unknown on this platform; it reports an error so that the
// check is skipped.
func FreeSpace(dir string) (uint64, error) {
	return 0, fmt.Errorf("free space of %s: %w", dir, errors.ErrUnsupported)
}

// lockFile creates path without locking: this platform has no advisory locks.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

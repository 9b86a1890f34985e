//go:build !linux && !darwin && !windows

package models

import (
	"errors"
	"fmt"
)

// SystemMemory is not known on this platform.
func SystemMemory() (Memory, error) {
	return Memory{}, fmt.Errorf("read memory size: %w", errors.ErrUnsupported)
}

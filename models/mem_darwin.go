//go:build darwin

package models

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// SystemMemory returns this machine's total RAM (sysctl hw.memsize). macOS
// does not report available memory in a comparable way; Available is 0.
func SystemMemory() (Memory, error) {
	total, err := unix.SysctlUint64("hw.memsize")
	if err != nil {
		return Memory{}, fmt.Errorf("read memory size: %w", err)
	}
	return Memory{Total: total}, nil
}

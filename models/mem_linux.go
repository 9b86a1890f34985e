//go:build linux

package models

import (
	"fmt"
	"os"
)

// SystemMemory returns this machine's total and available RAM (from /proc/meminfo).
func SystemMemory() (Memory, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return Memory{}, fmt.Errorf("read memory size: %w", err)
	}
	defer f.Close()
	return parseMeminfo(f)
}

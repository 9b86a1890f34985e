//go:build unix

package app

import (
	"runtime"
	"syscall"
)

// peakRSS returns getrusage's maximum resident set size in bytes (0 if
// unknown). Linux reports kilobytes, macOS bytes.
func peakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return int64(ru.Maxrss)
	}
	return int64(ru.Maxrss) * 1024
}

//go:build !linux && !darwin

package cpu

// physicalCores returns 0: the count is not read on this system, and the
// default falls back to GOMAXPROCS.
func physicalCores() int { return 0 }

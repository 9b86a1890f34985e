//go:build !unix

package app

// peakRSS returns 0: the peak resident size is not read on this system.
func peakRSS() int64 { return 0 }

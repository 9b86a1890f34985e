//go:build !amd64 && !arm64

package cpu

// detectLevel returns levelGeneric: there are no native kernels for this
// architecture.
func detectLevel() int { return levelGeneric }

// supportedLevels lists no native levels.
func supportedLevels() []int { return nil }

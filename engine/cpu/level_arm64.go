package cpu

import "golang.org/x/sys/cpu"

// detectLevel returns the best native kernel level this CPU runs.
func detectLevel() int {
	levels := supportedLevels()
	if len(levels) == 0 {
		return levelGeneric
	}
	return levels[len(levels)-1]
}

// supportedLevels lists the native kernel levels this CPU runs, best last.
// Advanced SIMD is part of every arm64 CPU.
func supportedLevels() []int {
	if !nativeBuilt {
		return nil
	}
	levels := []int{levelNEON}
	if cpu.ARM64.HasASIMDDP {
		levels = append(levels, levelNEONDot)
	}
	return levels
}

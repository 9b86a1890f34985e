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
func supportedLevels() []int {
	x := cpu.X86
	if !nativeBuilt || !(x.HasAVX && x.HasAVX2 && x.HasFMA && x.HasF16C && x.HasBMI2) {
		return nil
	}
	levels := []int{levelAVX2}
	if x.HasAVXVNNI {
		levels = append(levels, levelAVXVNNI)
	}
	if x.HasAVX512F && x.HasAVX512BW && x.HasAVX512VL && x.HasAVX512DQ && x.HasAVX512VNNI {
		levels = append(levels, levelAVX512)
	}
	return levels
}

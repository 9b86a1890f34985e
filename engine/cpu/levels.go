package cpu

// Instruction-set levels of the native kernels (the LK_ levels of kern.h).
const (
	levelGeneric = 0  // portable Go kernels
	levelAVX2    = 1  // AVX2 + FMA + F16C
	levelAVXVNNI = 2  // AVX2 + AVX-VNNI
	levelAVX512  = 3  // AVX-512 F/BW/VL/DQ + VNNI
	levelNEON    = 10 // arm64 Advanced SIMD
	levelNEONDot = 11 // arm64 Advanced SIMD + SDOT/UDOT
)

// levelName names a kernel level for reports.
func levelName(level int) string {
	switch level {
	case levelAVX2:
		return "avx2"
	case levelAVXVNNI:
		return "avx-vnni"
	case levelAVX512:
		return "avx512-vnni"
	case levelNEON:
		return "neon"
	case levelNEONDot:
		return "neon-dotprod"
	}
	return "generic"
}

//go:build cgo && amd64

// x86-64 kernels: one template compiled three times with function-level
// target attributes, so one binary serves every CPU and picks a level at run
// time: AVX2 (+FMA, F16C), AVX-VNNI, and AVX-512 (F/BW/VL/DQ + VNNI).

#include <immintrin.h>
#include <math.h>

#include "kern_impl.h"

#if defined(__x86_64__)

#define LK_LEVEL 1
#define SFX avx2
#define LK_TARGET __attribute__((target("avx2,fma,f16c,bmi2")))
#include "kern_x86_tmpl.h"
#undef LK_LEVEL
#undef SFX
#undef LK_TARGET

#define LK_LEVEL 2
#define SFX avxvnni
#define LK_TARGET __attribute__((target("avx2,fma,f16c,bmi2,avxvnni")))
#include "kern_x86_tmpl.h"
#undef LK_LEVEL
#undef SFX
#undef LK_TARGET

#define LK_LEVEL 3
#define SFX avx512
#define LK_TARGET __attribute__((target("avx2,fma,f16c,bmi2,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))
#include "kern_x86_tmpl.h"
#undef LK_LEVEL
#undef SFX
#undef LK_TARGET

#endif

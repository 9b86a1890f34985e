//go:build cgo && arm64

// arm64 kernels: Advanced SIMD, compiled twice, without and with the
// SDOT dot-product instructions (chosen at run time).

#include <arm_neon.h>
#include <math.h>

#include "kern_impl.h"

#if defined(__aarch64__)

#if defined(__clang__)
#define LK_TARGET_DOT __attribute__((target("dotprod")))
#else
#define LK_TARGET_DOT __attribute__((target("arch=armv8.2-a+dotprod")))
#endif

#define LK_DOT 0
#define SFX neon
#define LK_TARGET
#include "kern_arm64_tmpl.h"
#undef LK_DOT
#undef SFX
#undef LK_TARGET

#define LK_DOT 1
#define SFX neondot
#define LK_TARGET LK_TARGET_DOT
#include "kern_arm64_tmpl.h"
#undef LK_DOT
#undef SFX
#undef LK_TARGET

int64_t lk_quantize_neon(int kind, int off, const float *x, int64_t k, int64_t r0, int64_t r1, uint8_t *out) {
	int64_t stride = lk_act_row_bytes(kind, k), bad = 0;
	for (int64_t r = r0; r < r1; r++) {
		const float *xr = x + r * k;
		uint8_t *o = out + r * stride;
		switch (kind) {
		case LK_ACT_Q8_0:
			bad += lk_quant_q8_32_row(xr, k, o, 0, off);
			break;
		case LK_ACT_Q8_1:
			bad += lk_quant_q8_32_row(xr, k, o, 1, 0);
			break;
		case LK_ACT_Q8_K:
			bad += lk_quant_q8k_row(xr, k, o);
			break;
		default:
			lk_round_row(kind, xr, k, (float *)o);
		}
	}
	return bad;
}

int lk_swiglu_neon(float *dst, const float *gate, const float *up, int64_t n) {
	return lk_swiglu_portable(dst, gate, up, n);
}

#endif

// Internal layouts and per-level entry points of the native kernels.
#ifndef LLAMADESK_KERN_IMPL_H
#define LLAMADESK_KERN_IMPL_H

#include <stdint.h>
#include <math.h>
#include <string.h>

#include "kern.h"

// Every float operation rounds on its own, as in the reference: no fused
// multiply-adds the source does not spell (GCC: -std=c11 implies this).
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

// Most weight rows one matmul tile covers (the scratch holds this many
// decoded rows, and the AVX-512 level's transposed panel of them).
#define LK_MAX_ROWS 16

// Quantized activation rows with 32-element blocks (LK_ACT_Q8_0/Q8_1), for
// a row of k elements:
//   [0, k)            qs: int8 quants in element order
//   [k, 2k)           init: per block, 8 int32 lanes = -off · (sum of 4 consecutive quants)
//   [2k, 2k+k/8)      d: per block, the float scale (the binary16 value ggml stores)
//   [2k+k/8, 2k+k/4)  s: per block (Q8_1 only), the float of ggml's binary16 d·Σq
//   [2k+k/4, 2k+3k/8) itot: per block, the int32 sum of its 8 init lanes
//   [2k+3k/8, 3k+3k/8) y4: the quants regrouped per 4 blocks: the first 16
//                     of each block, then the last 16 of each (64 bytes each;
//                     a last partial group is padded with zeros)
#define Q8B_INIT(k) (k)
#define Q8B_D(k) (2 * (k))
#define Q8B_S(k) (2 * (k) + (k) / 8)
#define Q8B_IT(k) (2 * (k) + (k) / 4)
#define Q8B_Y4(k) (2 * (k) + 3 * (k) / 8)
#define Q8B_BYTES(k) (3 * (k) + 3 * (k) / 8 + 128)

// Quantized activation rows with 256-element blocks (LK_ACT_Q8_K):
//   [0, k)              qs: int8 quants
//   [k, k+k/64)         d: per block, the float scale
//   [k+k/64, k+k/64+k/8) bsums: per 16 elements, the int16 sum of the quants
#define Q8K_D(k) (k)
#define Q8K_BS(k) ((k) + (k) / 64)

// Decoded legacy weight rows (32-element blocks):
//   [0, k)            q: quants in element order, unsigned (value = q - off),
//                     or signed for the levels that multiply signed values
//   [k, k+k/8)        dw: per block, the float scale
//   [k+k/8, k+k/4)    mw: per block, the float min (Q4_1, Q5_1)
#define DEC_LEG_DW(k) (k)
#define DEC_LEG_MW(k) ((k) + (k) / 8)
#define DEC_LEG_BYTES(k) ((((k) + (k) / 4) + 63) & ~(int64_t)63)

// Decoded K-quant weight rows (256-element super-blocks):
//   [0, k)             q: unsigned quants in element order
//   [k, 2k)            scx: per 32 elements, 16 int16 lanes: 8 × the scale
//                      of the first 16 elements, 8 × that of the next 16
//   [2k, 2k+k/8)       coef: per 16 elements, the int16 coefficient of the
//                      activation sum (a min, or a scale whose offset is folded)
//   [2k+k/8, +k/64)    da: per super-block, the float multiplier of Σ scx·q·y
//   [.., +k/64)        db: per super-block, the float multiplier of Σ coef·bsum
#define DEC_K_SCX(k) (k)
#define DEC_K_COEF(k) (2 * (k))
#define DEC_K_DA(k) (2 * (k) + (k) / 8)
#define DEC_K_DB(k) (2 * (k) + (k) / 8 + (k) / 64)
#define DEC_K_BYTES(k) (((2 * (k) + (k) / 8 + (k) / 32) + 63) & ~(int64_t)63)

// Attention tiles (kern_attn_tmpl.h): keys per block, query rows per job,
// and the bytes of one Q8_0 key group (16 scales, then 32×16 quants).
#define LK_BK 64
#define LK_BQ 64
#define LK_KQ8_GROUP (32 + 32 * 16)

// lk_attn_token_block returns the tokens of one attention job: about LK_BQ
// query rows (tokens × the heads sharing a KV head).
static inline int64_t lk_attn_token_block(int64_t heads, int64_t kv_heads) {
	const int64_t g = heads / kv_heads;
	return g >= LK_BQ ? 1 : LK_BQ / g;
}

// Block sizes in bytes of the weight types.
#define BYTES_Q4_0 18
#define BYTES_Q4_1 20
#define BYTES_Q5_0 22
#define BYTES_Q5_1 24
#define BYTES_Q8_0 34
#define BYTES_Q2_K 84
#define BYTES_Q3_K 110
#define BYTES_Q4_K 144
#define BYTES_Q5_K 176
#define BYTES_Q6_K 210

#define LK_DECLARE_LEVEL(sfx)                                                                                          \
	int64_t lk_quantize_##sfx(int kind, int off, const float *x, int64_t k, int64_t r0, int64_t r1, uint8_t *out);      \
	int lk_matmul_##sfx(int type, const uint8_t *w, int64_t row_bytes, int64_t k, int64_t r0, int64_t r1,               \
	                    const uint8_t *act, int64_t act_stride, int64_t n, float *dst, int64_t dst_stride,             \
	                    uint8_t *scratch);                                                                             \
	int lk_attention_##sfx(int type, const float *q, const uint8_t *kc, const uint8_t *vc, int64_t cap, float *out,     \
	                       int64_t start, int64_t tokens, int64_t heads, int64_t kv_heads, int64_t hd, float scale,    \
	                       int64_t j0, int64_t j1, float *scratch);                                                    \
	int lk_kv_store_##sfx(int type, uint8_t *kc, uint8_t *vc, int64_t cap, int64_t kv_heads, int64_t hd,              \
	                      const float *k, const float *v, int64_t start, int64_t tokens);                              \
	int lk_swiglu_##sfx(float *dst, const float *gate, const float *up, int64_t n);

// The portable C attention (kern.c), for LK_GENERIC and the arm64 levels.
int lk_attention_portable(int type, const float *q, const uint8_t *kc, const uint8_t *vc, int64_t cap, float *out,
                          int64_t start, int64_t tokens, int64_t heads, int64_t kv_heads, int64_t hd, float scale,
                          int64_t j0, int64_t j1, float *scratch);
int lk_kv_store_portable(int type, uint8_t *kc, uint8_t *vc, int64_t cap, int64_t kv_heads, int64_t hd, const float *k,
                         const float *v, int64_t start, int64_t tokens);
#if defined(__x86_64__)
LK_DECLARE_LEVEL(avx2)
LK_DECLARE_LEVEL(avxvnni)
LK_DECLARE_LEVEL(avx512)
#endif
#if defined(__aarch64__)
LK_DECLARE_LEVEL(neon)
LK_DECLARE_LEVEL(neondot)
#endif

// get_scale_min_k4 of ggml: the 6-bit scale and min of sub-block j of a
// Q4_K/Q5_K super-block from its 12 packed bytes.
static inline void lk_scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
	if (j < 4) {
		*sc = q[j] & 63;
		*m = q[j + 4] & 63;
	} else {
		*sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
		*m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4);
	}
}

// lk_q3k_scales unpacks the sixteen 6-bit scales of a Q3_K super-block
// (minus 32, as signed values).
static inline void lk_q3k_scales(const uint8_t *s12, int16_t *out) {
	uint32_t aux[4];
	const uint32_t kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
	memcpy(aux, s12, 12);
	uint32_t tmp = aux[2];
	aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
	aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
	aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
	aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
	const int8_t *s = (const int8_t *)aux;
	for (int i = 0; i < 16; i++) out[i] = (int16_t)(s[i] - 32);
}

static inline uint16_t lk_u16(const uint8_t *p) {
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

static inline uint32_t lk_u32(const uint8_t *p) {
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

// lk_fp16_to_fp32 converts binary16 to float exactly (portable; the SIMD
// code uses the hardware conversion).
static inline float lk_fp16_to_fp32(uint16_t h) {
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t exp = (h >> 10) & 0x1F, man = h & 0x3FF, bits;
	if (exp == 0) {
		if (man == 0) {
			bits = sign;
		} else {
			int e = -1;
			do {
				man <<= 1;
				e++;
			} while (!(man & 0x400));
			bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3FF) << 13);
		}
	} else if (exp == 31) {
		bits = sign | 0x7F800000 | (man << 13);
	} else {
		bits = sign | ((exp + 112) << 23) | (man << 13);
	}
	float f;
	memcpy(&f, &bits, 4);
	return f;
}

// lk_fp32_to_fp16 rounds a float to binary16, nearest even (ggml's
// software conversion).
static inline uint16_t lk_fp32_to_fp16(float f) {
	const float scale_to_inf = 0x1.0p+112f, scale_to_zero = 0x1.0p-110f;
	uint32_t w;
	memcpy(&w, &f, 4);
	uint32_t aw = w & 0x7FFFFFFF;
	float abs;
	memcpy(&abs, &aw, 4);
	float base = (abs * scale_to_inf) * scale_to_zero;
	uint32_t shl1_w = w + w, sign = w & 0x80000000, bias = shl1_w & 0xFF000000;
	if (bias < 0x71000000) bias = 0x71000000;
	uint32_t bb = (bias >> 1) + 0x07800000;
	float fb;
	memcpy(&fb, &bb, 4);
	base = fb + base;
	uint32_t bits;
	memcpy(&bits, &base, 4);
	uint32_t exp_bits = (bits >> 13) & 0x00007C00, mant_bits = bits & 0x00000FFF;
	uint32_t nonsign = exp_bits + mant_bits;
	return (uint16_t)((sign >> 16) | (shl1_w > 0xFF000000 ? 0x7E00 : nonsign));
}

static inline float lk_bf16_round(float f) {
	uint32_t u;
	memcpy(&u, &f, 4);
	uint16_t h;
	if ((u & 0x7fffffff) > 0x7f800000) {
		h = (uint16_t)((u >> 16) | 64);
	} else {
		h = (uint16_t)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
	}
	u = (uint32_t)h << 16;
	memcpy(&f, &u, 4);
	return f;
}

static inline int lk_is_finite(float f) {
	uint32_t u;
	memcpy(&u, &f, 4);
	return (u & 0x7f800000) != 0x7f800000;
}

// lk_round_away rounds half away from zero (C's roundf) exactly.
static inline float lk_round_away(float v) {
	float t = __builtin_truncf(v);
	float frac = v - t;
	if (frac >= 0.5f) t += 1.0f;
	if (frac <= -0.5f) t -= 1.0f;
	return t;
}

// lk_nearest_int is ggml's nearest_int: round half to even for |v| < 2^22.
static inline int32_t lk_nearest_int(float v) {
	float val = v + 12582912.f;
	int32_t i;
	memcpy(&i, &val, 4);
	return (i & 0x007fffff) - 0x00400000;
}

// Portable activation quantizers (the reference semantics of quant.Quantize);
// the SIMD levels call them, the compiler vectorizes what it can.
// lk_fill_y4 writes the y4 regrouping of a quantized row's quants.
static inline void lk_fill_y4(const int8_t *qs, int64_t k, uint8_t *row) {
	int8_t *y4 = (int8_t *)(row + Q8B_Y4(k));
	const int64_t nb = k / 32;
	for (int64_t g = 0; g < (nb + 3) / 4; g++) {
		int8_t *o = y4 + 128 * g;
		for (int j = 0; j < 4; j++) {
			const int64_t b = 4 * g + j;
			if (b < nb) {
				memcpy(o + 16 * j, qs + 32 * b, 16);
				memcpy(o + 64 + 16 * j, qs + 32 * b + 16, 16);
			} else {
				memset(o + 16 * j, 0, 16);
				memset(o + 64 + 16 * j, 0, 16);
			}
		}
	}
}

static inline int64_t lk_quant_q8_32_row(const float *x, int64_t k, uint8_t *row, int q81, int off) {
	int8_t *qs = (int8_t *)row;
	int32_t *init = (int32_t *)(row + Q8B_INIT(k));
	float *dv = (float *)(row + Q8B_D(k));
	float *sv = (float *)(row + Q8B_S(k));
	int32_t *it = (int32_t *)(row + Q8B_IT(k));
	int64_t bad = 0;
	for (int64_t b = 0; b < k / 32; b++) {
		const float *xb = x + 32 * b;
		float amax = 0;
		int finite = 1;
		for (int j = 0; j < 32; j++) {
			float a = __builtin_fabsf(xb[j]);
			finite &= lk_is_finite(xb[j]);
			amax = a > amax ? a : amax;
		}
		int8_t *q = qs + 32 * b;
		if (!finite) {
			bad++;
			memset(q, 0, 32);
			memset(init + 8 * b, 0, 32);
			dv[b] = __builtin_nanf("");
			sv[b] = __builtin_nanf("");
			it[b] = 0;
			continue;
		}
		float d = amax / 127;
		float id = d != 0 ? 1 / d : 0;
		int32_t sum = 0;
		for (int j = 0; j < 32; j++) {
			float r = lk_round_away(xb[j] * id);
			int32_t v = (r >= -128.0f && r <= 127.0f) ? (int32_t)r : 0;
			q[j] = (int8_t)v;
			sum += v;
		}
		for (int i = 0; i < 8; i++) {
			init[8 * b + i] = -off * (q[4 * i] + q[4 * i + 1] + q[4 * i + 2] + q[4 * i + 3]);
		}
		it[b] = -off * sum;
		dv[b] = lk_fp16_to_fp32(lk_fp32_to_fp16(d));
		sv[b] = q81 ? lk_fp16_to_fp32(lk_fp32_to_fp16((float)sum * d)) : 0;
	}
	lk_fill_y4(qs, k, row);
	return bad;
}

static inline int64_t lk_quant_q8k_row(const float *x, int64_t k, uint8_t *row) {
	int8_t *qs = (int8_t *)row;
	float *dv = (float *)(row + Q8K_D(k));
	int16_t *bs = (int16_t *)(row + Q8K_BS(k));
	int64_t bad = 0;
	for (int64_t b = 0; b < k / 256; b++) {
		const float *xb = x + 256 * b;
		int8_t *q = qs + 256 * b;
		float amax = 0, max = 0;
		int finite = 1;
		for (int j = 0; j < 256; j++) {
			float a = __builtin_fabsf(xb[j]);
			finite &= lk_is_finite(xb[j]);
			amax = a > amax ? a : amax;
		}
		if (!finite) {
			bad++;
			memset(q, 0, 256);
			memset(bs + 16 * b, 0, 32);
			dv[b] = __builtin_nanf("");
			continue;
		}
		if (amax == 0) {
			memset(q, 0, 256);
			memset(bs + 16 * b, 0, 32);
			dv[b] = 0;
			continue;
		}
		for (int j = 0; j < 256; j++) {
			if (__builtin_fabsf(xb[j]) == amax) {
				max = xb[j];
				break;
			}
		}
		float iscale = -127.f / max;
		for (int j = 0; j < 256; j++) {
			int32_t v = lk_nearest_int(iscale * xb[j]);
			q[j] = (int8_t)(v < 127 ? v : 127);
		}
		for (int g = 0; g < 16; g++) {
			int32_t s = 0;
			for (int j = 0; j < 16; j++) s += q[16 * g + j];
			bs[16 * b + g] = (int16_t)s;
		}
		dv[b] = 1 / iscale;
	}
	return bad;
}

static inline void lk_round_row(int kind, const float *x, int64_t k, float *out) {
	switch (kind) {
	case LK_ACT_F16:
		for (int64_t i = 0; i < k; i++) out[i] = lk_fp16_to_fp32(lk_fp32_to_fp16(x[i]));
		break;
	case LK_ACT_BF16:
		for (int64_t i = 0; i < k; i++) out[i] = lk_bf16_round(x[i]);
		break;
	default:
		memcpy(out, x, (size_t)k * 4);
	}
}

// Portable SwiGLU (the arm64 levels use it; the compiler vectorizes the loop).
static inline int lk_swiglu_portable(float *dst, const float *gate, const float *up, int64_t n) {
	for (int64_t i = 0; i < n; i++) {
		float g = gate[i];
		dst[i] = g / (1.0f + expf(-g)) * up[i];
	}
	return 0;
}

#endif

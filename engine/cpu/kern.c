//go:build cgo && (amd64 || arm64)

// Level-independent parts of the native kernels: layouts and dispatch.

#include "kern_impl.h"

int lk_act_kind(int type) {
	switch (type) {
	case LK_F32:
		return LK_ACT_F32;
	case LK_F16:
		return LK_ACT_F16;
	case LK_BF16:
		return LK_ACT_BF16;
	case LK_Q4_0:
	case LK_Q5_0:
	case LK_Q8_0:
		return LK_ACT_Q8_0;
	case LK_Q4_1:
	case LK_Q5_1:
		return LK_ACT_Q8_1;
	case LK_Q2_K:
	case LK_Q3_K:
	case LK_Q4_K:
	case LK_Q5_K:
	case LK_Q6_K:
		return LK_ACT_Q8_K;
	}
	return -1;
}

static int64_t round64(int64_t n) { return (n + 63) & ~(int64_t)63; }

int64_t lk_act_row_bytes(int kind, int64_t k) {
	switch (kind) {
	case LK_ACT_F32:
	case LK_ACT_F16:
	case LK_ACT_BF16:
		return round64(4 * k);
	case LK_ACT_Q8_0:
	case LK_ACT_Q8_1:
		return round64(Q8B_BYTES(k));
	case LK_ACT_Q8_K:
		return round64(Q8K_BS(k) + k / 8);
	}
	return -1;
}

int lk_act_offset(int level, int type) {
	if (level == LK_NEON || level == LK_NEON_DOT) {
		return 0; // arm64 kernels multiply signed values: decoders subtract the offsets
	}
	switch (type) {
	case LK_Q4_0:
		return 8;
	case LK_Q5_0:
		return 16;
	case LK_Q8_0:
		// Levels with an unsigned×signed int8 dot product see Q8_0 weights
		// shifted by 128; the others multiply signed values directly.
		return level == LK_AVX2 ? 0 : 128;
	}
	return 0;
}

int64_t lk_scratch_bytes(int type, int64_t k) {
	int64_t row, panel;
	switch (lk_act_kind(type)) {
	case LK_ACT_Q8_0:
	case LK_ACT_Q8_1:
		row = DEC_LEG_BYTES(k);
		panel = k / 32 * 640;
		break;
	case LK_ACT_Q8_K:
		row = DEC_K_BYTES(k);
		panel = k / 256 * 5760;
		break;
	default:
		row = 0;
		panel = 0;
	}
	return LK_MAX_ROWS * row + panel + 64;
}

int64_t lk_quantize(int level, int kind, int off, const float *x, int64_t k, int64_t r0, int64_t r1, uint8_t *out) {
	switch (level) {
#if defined(__x86_64__)
	case LK_AVX2:
		return lk_quantize_avx2(kind, off, x, k, r0, r1, out);
	case LK_AVXVNNI:
		return lk_quantize_avxvnni(kind, off, x, k, r0, r1, out);
	case LK_AVX512:
		return lk_quantize_avx512(kind, off, x, k, r0, r1, out);
#endif
#if defined(__aarch64__)
	case LK_NEON:
	case LK_NEON_DOT:
		return lk_quantize_neon(kind, off, x, k, r0, r1, out);
#endif
	}
	return -1;
}

int lk_matmul(int level, int type, const uint8_t *w, int64_t row_bytes, int64_t k, int64_t r0, int64_t r1,
              const uint8_t *act, int64_t act_stride, int64_t n, float *dst, int64_t dst_stride, uint8_t *scratch) {
	switch (level) {
#if defined(__x86_64__)
	case LK_AVX2:
		return lk_matmul_avx2(type, w, row_bytes, k, r0, r1, act, act_stride, n, dst, dst_stride, scratch);
	case LK_AVXVNNI:
		return lk_matmul_avxvnni(type, w, row_bytes, k, r0, r1, act, act_stride, n, dst, dst_stride, scratch);
	case LK_AVX512:
		return lk_matmul_avx512(type, w, row_bytes, k, r0, r1, act, act_stride, n, dst, dst_stride, scratch);
#endif
#if defined(__aarch64__)
	case LK_NEON:
		return lk_matmul_neon(type, w, row_bytes, k, r0, r1, act, act_stride, n, dst, dst_stride, scratch);
	case LK_NEON_DOT:
		return lk_matmul_neondot(type, w, row_bytes, k, r0, r1, act, act_stride, n, dst, dst_stride, scratch);
#endif
	}
	return -1;
}

int64_t lk_kv_bytes(int type, int64_t cap, int64_t kv_dim) {
	if (cap <= 0 || cap % 16 != 0 || kv_dim <= 0 || cap > ((int64_t)1 << 40) / kv_dim) return -1;
	switch (type) {
	case LK_KV_F32:
		return 4 * cap * kv_dim;
	case LK_KV_F16:
		return 2 * cap * kv_dim;
	case LK_KV_Q8_0:
		return kv_dim % 32 == 0 ? cap * kv_dim / 32 * 34 : -1;
	}
	return -1;
}

int64_t lk_attn_jobs(int64_t tokens, int64_t heads, int64_t kv_heads) {
	const int64_t tb = lk_attn_token_block(heads, kv_heads);
	return (tokens + tb - 1) / tb * kv_heads;
}

int64_t lk_attn_scratch_floats(int64_t heads, int64_t kv_heads, int64_t hd) {
	const int64_t rows = lk_attn_token_block(heads, kv_heads) * (heads / kv_heads), hdp = (hd + 15) & ~(int64_t)15;
	return rows * hdp + rows * LK_BK + 3 * rows + LK_BK * hd + LK_BK * hdp + 16;
}

int lk_kv_store(int level, int type, uint8_t *kc, uint8_t *vc, int64_t cap, int64_t kv_heads, int64_t hd,
                const float *k, const float *v, int64_t start, int64_t tokens) {
	switch (level) {
#if defined(__x86_64__)
	case LK_AVX2:
	case LK_AVXVNNI:
		return lk_kv_store_avx2(type, kc, vc, cap, kv_heads, hd, k, v, start, tokens);
	case LK_AVX512:
		return lk_kv_store_avx512(type, kc, vc, cap, kv_heads, hd, k, v, start, tokens);
#endif
	}
	return lk_kv_store_portable(type, kc, vc, cap, kv_heads, hd, k, v, start, tokens);
}

int lk_attention(int level, int type, const float *q, const uint8_t *kc, const uint8_t *vc, int64_t cap, float *out,
                 int64_t start, int64_t tokens, int64_t heads, int64_t kv_heads, int64_t hd, float scale, int64_t j0,
                 int64_t j1, float *scratch) {
	switch (level) {
#if defined(__x86_64__)
	case LK_AVX2:
	case LK_AVXVNNI:
		return lk_attention_avx2(type, q, kc, vc, cap, out, start, tokens, heads, kv_heads, hd, scale, j0, j1, scratch);
	case LK_AVX512:
		return lk_attention_avx512(type, q, kc, vc, cap, out, start, tokens, heads, kv_heads, hd, scale, j0, j1, scratch);
#endif
	case LK_GENERIC:
	case LK_NEON:
	case LK_NEON_DOT:
		return lk_attention_portable(type, q, kc, vc, cap, out, start, tokens, heads, kv_heads, hd, scale, j0, j1, scratch);
	}
	return -1;
}

int lk_swiglu(int level, float *dst, const float *gate, const float *up, int64_t n) {
	switch (level) {
#if defined(__x86_64__)
	case LK_AVX2:
	case LK_AVXVNNI:
		return lk_swiglu_avx2(dst, gate, up, n);
	case LK_AVX512:
		return lk_swiglu_avx512(dst, gate, up, n);
#endif
#if defined(__aarch64__)
	case LK_NEON:
	case LK_NEON_DOT:
		return lk_swiglu_neon(dst, gate, up, n);
#endif
	}
	return -1;
}

#if !defined(__linux__) && !defined(__APPLE__)
// No native pool here (pool.c needs POSIX threads): the Go pool runs the jobs.
lk_pool *lk_pool_new(int threads) {
	(void)threads;
	return 0;
}
void lk_pool_free(lk_pool *p) { (void)p; }
void lk_pool_set_stop(lk_pool *p, int stop) { (void)p, (void)stop; }
int lk_pool_size(const lk_pool *p) {
	(void)p;
	return 1;
}
int lk_pool_matmul(lk_pool *p, int level, int type, const uint8_t *w, int64_t row_bytes, int64_t k, int64_t rows,
                   const uint8_t *act, int64_t act_stride, int64_t n, float *dst, int64_t dst_stride, uint8_t *scratch,
                   int64_t scratch_stride, int64_t grain) {
	(void)p, (void)scratch_stride, (void)grain;
	return lk_matmul(level, type, w, row_bytes, k, 0, rows, act, act_stride, n, dst, dst_stride, scratch);
}
int64_t lk_pool_quantize(lk_pool *p, int level, int kind, int off, const float *x, int64_t k, int64_t n, uint8_t *out) {
	(void)p;
	return lk_quantize(level, kind, off, x, k, 0, n, out);
}
int lk_pool_attention(lk_pool *p, int level, int type, const float *q, const uint8_t *kc, const uint8_t *vc, int64_t cap,
                      float *out, int64_t start, int64_t tokens, int64_t heads, int64_t kv_heads, int64_t hd, float scale,
                      float *scratch, int64_t scratch_stride) {
	(void)p, (void)scratch_stride;
	return lk_attention(level, type, q, kc, vc, cap, out, start, tokens, heads, kv_heads, hd, scale, 0,
	                    lk_attn_jobs(tokens, heads, kv_heads), scratch);
}
int lk_pool_swiglu(lk_pool *p, int level, float *dst, const float *gate, const float *up, int64_t n) {
	(void)p;
	return lk_swiglu(level, dst, gate, up, n);
}
#endif

// The portable attention kernel: the template over plain 16-float arrays.
#define F(name) name##_portable
#define INL static inline
#define FN static
#define LK_TARGET
#include "kern_attn_portable.h"
#include "kern_attn_tmpl.h"

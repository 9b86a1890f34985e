// Native kernels of the CPU backend: activation quantization, matrix
// products over every supported weight type, attention and a few
// element-wise operations. One call covers a block of rows (and every batch
// column), never a single quant block. The functions take plain pointers and
// keep no state; the Go side owns every buffer.
#ifndef LLAMADESK_KERN_H
#define LLAMADESK_KERN_H

#include <stdint.h>

// Instruction-set levels (chosen at run time by the Go side).
enum {
	LK_GENERIC = 0,   // no native kernels
	LK_AVX2 = 1,      // AVX2 + FMA + F16C
	LK_AVXVNNI = 2,   // AVX2 + AVX-VNNI (VEX-encoded int8 dot products)
	LK_AVX512 = 3,    // AVX-512 F/BW/VL/DQ + VNNI
	LK_NEON = 10,     // arm64 Advanced SIMD
	LK_NEON_DOT = 11, // arm64 Advanced SIMD + dot product (SDOT/UDOT)
};

// ggml tensor types the kernels handle.
enum {
	LK_F32 = 0,
	LK_F16 = 1,
	LK_Q4_0 = 2,
	LK_Q4_1 = 3,
	LK_Q5_0 = 6,
	LK_Q5_1 = 7,
	LK_Q8_0 = 8,
	LK_Q2_K = 10,
	LK_Q3_K = 11,
	LK_Q4_K = 12,
	LK_Q5_K = 13,
	LK_Q6_K = 14,
	LK_BF16 = 30,
};

// Activation formats: what a row of floats becomes before a product.
enum {
	LK_ACT_F32 = 0,  // floats (F32 weights)
	LK_ACT_F16 = 1,  // floats rounded to binary16 (F16 weights)
	LK_ACT_BF16 = 2, // floats rounded to bfloat16 (BF16 weights)
	LK_ACT_Q8_0 = 3, // 32-element blocks, as ggml's Q8_0 (Q4_0, Q5_0, Q8_0 weights)
	LK_ACT_Q8_1 = 4, // 32-element blocks with sums, as ggml's Q8_1 (Q4_1, Q5_1)
	LK_ACT_Q8_K = 5, // 256-element blocks with 16-element sums, as ggml's Q8_K (K-quants)
};

// lk_act_kind returns the activation format for weights of type type.
int lk_act_kind(int type);

// lk_act_row_bytes returns the bytes one quantized row of k floats takes in
// format kind (a multiple of 64).
int64_t lk_act_row_bytes(int kind, int64_t k);

// lk_act_offset returns the weight offset o that level's kernels for type
// type expect folded into the activations (see lk_quantize).
int lk_act_offset(int level, int type);

// lk_quantize converts rows [r0, r1) of x (rows of k floats, stride k) into
// format kind at out (rows of lk_act_row_bytes bytes). off is
// lk_act_offset's value for the weight type. It returns the number of
// blocks that held a NaN or an infinity (their scale becomes NaN).
int64_t lk_quantize(int level, int kind, int off, const float *x, int64_t k, int64_t r0, int64_t r1, uint8_t *out);

// lk_scratch_bytes returns the scratch a matmul call on weights of type
// type with rows of k elements needs.
int64_t lk_scratch_bytes(int type, int64_t k);

// lk_matmul sets dst[t*dst_stride + r] = Σ_i w[r][i]·x[t][i] for rows
// r in [r0, r1) and tokens t in [0, n); act holds the n quantized rows
// (lk_quantize's output, rows of act_stride bytes). It returns 0, or -1 for
// a type or level it does not handle.
int lk_matmul(int level, int type, const uint8_t *w, int64_t row_bytes, int64_t k, int64_t r0, int64_t r1,
              const uint8_t *act, int64_t act_stride, int64_t n, float *dst, int64_t dst_stride, uint8_t *scratch);

// KV cache element types (the values of engine.KVType).
enum {
	LK_KV_F16 = 0,
	LK_KV_F32 = 1,
	LK_KV_Q8_0 = 2,
};

// lk_kv_bytes returns the bytes of one layer's key (or value) cache of
// cap positions (a multiple of 16) of kv_dim values of type type, or -1
// for a type or size the layouts do not hold.
int64_t lk_kv_bytes(int type, int64_t cap, int64_t kv_dim);

// lk_kv_store writes the keys and values of tokens rows (rows of
// kv_heads*hd floats) at positions start.. of the caches kc and vc (cap
// positions, layouts in kern_attn_tmpl.h). Returns -1 for a type or level
// it does not handle.
int lk_kv_store(int level, int type, uint8_t *kc, uint8_t *vc, int64_t cap, int64_t kv_heads, int64_t hd,
                const float *k, const float *v, int64_t start, int64_t tokens);

// lk_attn_jobs returns the number of attention jobs for a batch of tokens:
// one per KV head and block of tokens.
int64_t lk_attn_jobs(int64_t tokens, int64_t heads, int64_t kv_heads);

// lk_attn_scratch_floats returns the scratch (floats) one worker needs.
int64_t lk_attn_scratch_floats(int64_t heads, int64_t kv_heads, int64_t hd);

// lk_attention computes causal attention for jobs [j0, j1) (lk_attn_jobs):
// out row t, head h gets softmax(q·kᵀ·scale)·v over cache positions
// 0..start+t, where head h reads KV head h/(heads/kv_heads). q and out are
// rows of heads*hd floats; the batch's keys and values must already be in
// the caches (lk_kv_store). scratch holds lk_attn_scratch_floats floats.
// LK_GENERIC runs the portable C kernel. Returns -1 for a type or level it
// does not handle.
int lk_attention(int level, int type, const float *q, const uint8_t *kc, const uint8_t *vc, int64_t cap, float *out,
                 int64_t start, int64_t tokens, int64_t heads, int64_t kv_heads, int64_t hd, float scale, int64_t j0,
                 int64_t j1, float *scratch);

// lk_swiglu sets dst[i] = silu(gate[i])·up[i] for i in [0, n).
int lk_swiglu(int level, float *dst, const float *gate, const float *up, int64_t n);

// A native worker pool: threads-1 POSIX threads that spin briefly between
// jobs, then sleep; the calling thread works as worker 0. One job runs at a
// time (the pool is used from one goroutine at a time). NULL where threads
// are not available; the Go side then uses its own pool.
typedef struct lk_pool lk_pool;
lk_pool *lk_pool_new(int threads);
void lk_pool_free(lk_pool *p);
int lk_pool_size(const lk_pool *p);
// lk_pool_set_stop(p, 1) makes running and later jobs skip the chunks they
// have not started (from any thread); lk_pool_set_stop(p, 0) undoes it.
void lk_pool_set_stop(lk_pool *p, int stop);

// lk_pool_matmul runs lk_matmul over rows [0, rows) in chunks of a multiple
// of grain rows; worker i uses scratch + i*scratch_stride.
int lk_pool_matmul(lk_pool *p, int level, int type, const uint8_t *w, int64_t row_bytes, int64_t k, int64_t rows,
                   const uint8_t *act, int64_t act_stride, int64_t n, float *dst, int64_t dst_stride, uint8_t *scratch,
                   int64_t scratch_stride, int64_t grain);

// lk_pool_quantize runs lk_quantize over rows [0, n).
int64_t lk_pool_quantize(lk_pool *p, int level, int kind, int off, const float *x, int64_t k, int64_t n, uint8_t *out);

// lk_pool_attention runs lk_attention over jobs [0, jobs); worker i's
// scratch is scratch + i*scratch_stride.
int lk_pool_attention(lk_pool *p, int level, int type, const float *q, const uint8_t *kc, const uint8_t *vc, int64_t cap,
                      float *out, int64_t start, int64_t tokens, int64_t heads, int64_t kv_heads, int64_t hd, float scale,
                      float *scratch, int64_t scratch_stride);

// lk_pool_swiglu runs lk_swiglu over [0, n) in chunks.
int lk_pool_swiglu(lk_pool *p, int level, float *dst, const float *gate, const float *up, int64_t n);

#endif

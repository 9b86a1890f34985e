// Portable 16-lane float vectors for kern_attn_tmpl.h: plain arrays the
// compiler vectorizes. Included once, by kern.c.

typedef struct {
	float x[16];
} lk_vfp;

static inline lk_vfp lk_vfp_set1(float a) {
	lk_vfp r;
	for (int i = 0; i < 16; i++) r.x[i] = a;
	return r;
}
static inline lk_vfp lk_vfp_load(const float *p) {
	lk_vfp r;
	memcpy(r.x, p, 64);
	return r;
}
static inline lk_vfp lk_vfp_load_h(const uint16_t *p) {
	lk_vfp r;
	for (int i = 0; i < 16; i++) r.x[i] = lk_fp16_to_fp32(p[i]);
	return r;
}
static inline lk_vfp lk_vfp_load_i8(const int8_t *p) {
	lk_vfp r;
	for (int i = 0; i < 16; i++) r.x[i] = (float)p[i];
	return r;
}
static inline void lk_vfp_store(float *p, lk_vfp v) { memcpy(p, v.x, 64); }
static inline lk_vfp lk_vfp_fma(lk_vfp a, lk_vfp b, lk_vfp c) {
	for (int i = 0; i < 16; i++) c.x[i] = __builtin_fmaf(a.x[i], b.x[i], c.x[i]);
	return c;
}
static inline lk_vfp lk_vfp_mul(lk_vfp a, lk_vfp b) {
	for (int i = 0; i < 16; i++) a.x[i] *= b.x[i];
	return a;
}
static inline lk_vfp lk_vfp_add(lk_vfp a, lk_vfp b) {
	for (int i = 0; i < 16; i++) a.x[i] += b.x[i];
	return a;
}
static inline lk_vfp lk_vfp_sub(lk_vfp a, lk_vfp b) {
	for (int i = 0; i < 16; i++) a.x[i] -= b.x[i];
	return a;
}
static inline lk_vfp lk_vfp_max(lk_vfp a, lk_vfp b) {
	for (int i = 0; i < 16; i++) a.x[i] = a.x[i] > b.x[i] ? a.x[i] : b.x[i];
	return a;
}
static inline lk_vfp lk_vfp_keep(lk_vfp v, int64_t n, float fill) {
	for (int i = 0; i < 16; i++)
		if (i >= n) v.x[i] = fill;
	return v;
}
static inline float lk_vfp_rmax(lk_vfp v) {
	float m = v.x[0];
	for (int i = 1; i < 16; i++) m = v.x[i] > m ? v.x[i] : m;
	return m;
}
static inline float lk_vfp_radd(lk_vfp v) {
	// Pairwise, in a fixed order.
	for (int w = 8; w >= 1; w /= 2)
		for (int i = 0; i < w; i++) v.x[i] += v.x[i + w];
	return v.x[0];
}
// lk_exp1 is the Cephes polynomial of the SIMD levels' exp, per lane.
static inline float lk_exp1(float x) {
	x = x < 88.3762626647949f ? x : 88.3762626647949f;
	x = x > -88.3762626647949f ? x : -88.3762626647949f;
	const float fx = __builtin_rintf(x * 1.44269504088896341f);
	x = __builtin_fmaf(-fx, 0.693359375f, x);
	x = __builtin_fmaf(-fx, -2.12194440e-4f, x);
	const float z = x * x;
	float y = 1.9875691500E-4f;
	y = __builtin_fmaf(y, x, 1.3981999507E-3f);
	y = __builtin_fmaf(y, x, 8.3334519073E-3f);
	y = __builtin_fmaf(y, x, 4.1665795894E-2f);
	y = __builtin_fmaf(y, x, 1.6666665459E-1f);
	y = __builtin_fmaf(y, x, 5.0000001201E-1f);
	y = __builtin_fmaf(y, z, x + 1.0f);
	int32_t n = (int32_t)fx + 127;
	n = n < 0 ? 0 : n > 255 ? 255 : n;
	const uint32_t bits = (uint32_t)n << 23;
	float s;
	memcpy(&s, &bits, 4);
	return y * s;
}
static inline lk_vfp lk_vfp_exp(lk_vfp v) {
	for (int i = 0; i < 16; i++) v.x[i] = lk_exp1(v.x[i]);
	return v;
}

#define vf lk_vfp
#define VF_ZERO() lk_vfp_set1(0.0f)
#define VF_SET1(a) lk_vfp_set1(a)
#define VF_LOAD(p) lk_vfp_load(p)
#define VF_LOAD_H(p) lk_vfp_load_h(p)
#define VF_LOAD_I8(p) lk_vfp_load_i8(p)
#define VF_STORE(p, v) lk_vfp_store((p), (v))
#define VF_FMA(a, b, c) lk_vfp_fma((a), (b), (c))
#define VF_MUL(a, b) lk_vfp_mul((a), (b))
#define VF_ADD(a, b) lk_vfp_add((a), (b))
#define VF_SUB(a, b) lk_vfp_sub((a), (b))
#define VF_MAX(a, b) lk_vfp_max((a), (b))
#define VF_KEEP(v, n, fill) lk_vfp_keep((v), (n), (fill))
#define VF_RMAX(v) lk_vfp_rmax(v)
#define VF_RADD(v) lk_vfp_radd(v)
#define VF_EXP(v) lk_vfp_exp(v)
#define F2H(x) lk_fp32_to_fp16(x)
#define LK_QR 2
#define LK_VR 2
#define LK_DV 2

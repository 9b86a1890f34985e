// arm64 kernel template, included by kern_arm64.c with LK_DOT (0: plain
// Advanced SIMD, 1: with SDOT), SFX and LK_TARGET defined. Weight rows are
// decoded (signed int8 quants, offsets already subtracted) and multiplied
// in tiles of rows × tokens, as on x86; 128-bit vectors throughout.

#define LK_CAT2(a, b) a##_##b
#define LK_CAT(a, b) LK_CAT2(a, b)
#define F(name) LK_CAT(name, SFX)
#define INL static inline __attribute__((always_inline)) LK_TARGET
#define FN static LK_TARGET

#define LEG_R 4
#define LEG_T 4
#define KQ_R 2
#define KQ_T 4
#define FL_R 4
#define FL_T 4
#define TOKEN_BLOCK 64

// dot16 returns the four sums of 4 consecutive products a[i]·b[i].
INL int32x4_t F(dot16)(int32x4_t acc, int8x16_t a, int8x16_t b) {
#if LK_DOT
	return vdotq_s32(acc, a, b);
#else
	int16x8_t lo = vmull_s8(vget_low_s8(a), vget_low_s8(b));
	int16x8_t hi = vmull_s8(vget_high_s8(a), vget_high_s8(b));
	// Pairwise sums of adjacent products, then of adjacent pairs: lane i
	// holds elements 4i..4i+3, as SDOT.
	int32x4_t plo = vpaddlq_s16(lo), phi = vpaddlq_s16(hi);
	return vaddq_s32(acc, vpaddq_s32(plo, phi));
#endif
}

INL float F(h2f)(const uint8_t *p) {
	uint16_t h = lk_u16(p);
	float16x4_t v = vreinterpret_f16_u16(vdup_n_u16(h));
	return vgetq_lane_f32(vcvt_f32_f16(v), 0);
}

// ---------------------------------------------------------------------------
// Decoders (signed quants: value = q)

FN void F(dec_q4_0)(const uint8_t *w, int64_t k, uint8_t *dec) {
	int8_t *q = (int8_t *)dec;
	float *dw = (float *)(dec + DEC_LEG_DW(k));
	for (int64_t b = 0; b < k / 32; b++) {
		const uint8_t *blk = w + BYTES_Q4_0 * b;
		uint8x16_t x = vld1q_u8(blk + 2);
		int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(x, vdupq_n_u8(0xF))), vdupq_n_s8(8));
		int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(x, 4)), vdupq_n_s8(8));
		vst1q_s8(q + 32 * b, lo);
		vst1q_s8(q + 32 * b + 16, hi);
		dw[b] = F(h2f)(blk);
	}
}

FN void F(dec_q4_1)(const uint8_t *w, int64_t k, uint8_t *dec) {
	int8_t *q = (int8_t *)dec;
	float *dw = (float *)(dec + DEC_LEG_DW(k)), *mw = (float *)(dec + DEC_LEG_MW(k));
	for (int64_t b = 0; b < k / 32; b++) {
		const uint8_t *blk = w + BYTES_Q4_1 * b;
		uint8x16_t x = vld1q_u8(blk + 4);
		vst1q_s8(q + 32 * b, vreinterpretq_s8_u8(vandq_u8(x, vdupq_n_u8(0xF))));
		vst1q_s8(q + 32 * b + 16, vreinterpretq_s8_u8(vshrq_n_u8(x, 4)));
		dw[b] = F(h2f)(blk);
		mw[b] = F(h2f)(blk + 2);
	}
}

INL void F(dec_q5)(const uint8_t *qs, uint32_t qh, int off, int8_t *q) {
	for (int j = 0; j < 16; j++) {
		int lo = (qs[j] & 0xF) | (((qh >> j) & 1) << 4);
		int hi = (qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
		q[j] = (int8_t)(lo - off);
		q[j + 16] = (int8_t)(hi - off);
	}
}

FN void F(dec_q5_0)(const uint8_t *w, int64_t k, uint8_t *dec) {
	float *dw = (float *)(dec + DEC_LEG_DW(k));
	for (int64_t b = 0; b < k / 32; b++) {
		const uint8_t *blk = w + BYTES_Q5_0 * b;
		F(dec_q5)(blk + 6, lk_u32(blk + 2), 16, (int8_t *)dec + 32 * b);
		dw[b] = F(h2f)(blk);
	}
}

FN void F(dec_q5_1)(const uint8_t *w, int64_t k, uint8_t *dec) {
	float *dw = (float *)(dec + DEC_LEG_DW(k)), *mw = (float *)(dec + DEC_LEG_MW(k));
	for (int64_t b = 0; b < k / 32; b++) {
		const uint8_t *blk = w + BYTES_Q5_1 * b;
		F(dec_q5)(blk + 8, lk_u32(blk + 4), 0, (int8_t *)dec + 32 * b);
		dw[b] = F(h2f)(blk);
		mw[b] = F(h2f)(blk + 2);
	}
}

FN void F(dec_q8_0)(const uint8_t *w, int64_t k, uint8_t *dec) {
	float *dw = (float *)(dec + DEC_LEG_DW(k));
	for (int64_t b = 0; b < k / 32; b++) {
		const uint8_t *blk = w + BYTES_Q8_0 * b;
		memcpy(dec + 32 * b, blk + 2, 32);
		dw[b] = F(h2f)(blk);
	}
}

INL void F(put_k)(uint8_t *dec, int64_t k, int64_t s, const int16_t *sc, const int16_t *cf, float da, float db) {
	int16_t *scx = (int16_t *)(dec + DEC_K_SCX(k)) + 128 * s;
	for (int c = 0; c < 8; c++) {
		for (int l = 0; l < 8; l++) {
			scx[16 * c + l] = sc[2 * c];
			scx[16 * c + 8 + l] = sc[2 * c + 1];
		}
	}
	memcpy((int16_t *)(dec + DEC_K_COEF(k)) + 16 * s, cf, 32);
	((float *)(dec + DEC_K_DA(k)))[s] = da;
	((float *)(dec + DEC_K_DB(k)))[s] = db;
}

FN void F(dec_q2_k)(const uint8_t *w, int64_t k, uint8_t *dec) {
	for (int64_t s = 0; s < k / 256; s++) {
		const uint8_t *blk = w + BYTES_Q2_K * s;
		uint8_t *q = dec + 256 * s;
		for (int c = 0; c < 8; c++) {
			const uint8_t *x = blk + 16 + 32 * (c / 4);
			for (int l = 0; l < 32; l++) q[32 * c + l] = (x[l] >> (2 * (c % 4))) & 3;
		}
		int16_t sc[16], cf[16];
		for (int g = 0; g < 16; g++) {
			sc[g] = blk[g] & 0xF;
			cf[g] = blk[g] >> 4;
		}
		F(put_k)(dec, k, s, sc, cf, F(h2f)(blk + 80), -F(h2f)(blk + 82));
	}
}

FN void F(dec_q3_k)(const uint8_t *w, int64_t k, uint8_t *dec) {
	for (int64_t s = 0; s < k / 256; s++) {
		const uint8_t *blk = w + BYTES_Q3_K * s;
		uint8_t *q = dec + 256 * s;
		for (int c = 0; c < 8; c++) {
			const uint8_t *x = blk + 32 + 32 * (c / 4);
			for (int l = 0; l < 32; l++) {
				q[32 * c + l] = (uint8_t)(((x[l] >> (2 * (c % 4))) & 3) | (((blk[l] >> c) & 1) << 2));
			}
		}
		int16_t sc[16];
		lk_q3k_scales(blk + 96, sc);
		float d = F(h2f)(blk + 108);
		F(put_k)(dec, k, s, sc, sc, d, -4 * d);
	}
}

FN void F(dec_q4_k)(const uint8_t *w, int64_t k, uint8_t *dec) {
	for (int64_t s = 0; s < k / 256; s++) {
		const uint8_t *blk = w + BYTES_Q4_K * s;
		uint8_t *q = dec + 256 * s;
		for (int c = 0; c < 8; c++) {
			const uint8_t *x = blk + 16 + 32 * (c / 2);
			for (int l = 0; l < 32; l++) q[32 * c + l] = (c % 2) ? x[l] >> 4 : x[l] & 0xF;
		}
		int16_t sc[16], cf[16];
		for (int j = 0; j < 8; j++) {
			uint8_t a, m;
			lk_scale_min_k4(j, blk + 4, &a, &m);
			sc[2 * j] = sc[2 * j + 1] = a;
			cf[2 * j] = cf[2 * j + 1] = m;
		}
		F(put_k)(dec, k, s, sc, cf, F(h2f)(blk), -F(h2f)(blk + 2));
	}
}

FN void F(dec_q5_k)(const uint8_t *w, int64_t k, uint8_t *dec) {
	for (int64_t s = 0; s < k / 256; s++) {
		const uint8_t *blk = w + BYTES_Q5_K * s;
		uint8_t *q = dec + 256 * s;
		for (int c = 0; c < 8; c++) {
			const uint8_t *x = blk + 48 + 32 * (c / 2);
			for (int l = 0; l < 32; l++) {
				int lo = (c % 2) ? x[l] >> 4 : x[l] & 0xF;
				q[32 * c + l] = (uint8_t)(lo | (((blk[16 + l] >> c) & 1) << 4));
			}
		}
		int16_t sc[16], cf[16];
		for (int j = 0; j < 8; j++) {
			uint8_t a, m;
			lk_scale_min_k4(j, blk + 4, &a, &m);
			sc[2 * j] = sc[2 * j + 1] = a;
			cf[2 * j] = cf[2 * j + 1] = m;
		}
		F(put_k)(dec, k, s, sc, cf, F(h2f)(blk), -F(h2f)(blk + 2));
	}
}

FN void F(dec_q6_k)(const uint8_t *w, int64_t k, uint8_t *dec) {
	for (int64_t s = 0; s < k / 256; s++) {
		const uint8_t *blk = w + BYTES_Q6_K * s;
		uint8_t *q = dec + 256 * s;
		for (int n = 0; n < 2; n++) {
			const uint8_t *ql = blk + 64 * n, *qh = blk + 128 + 32 * n;
			for (int l = 0; l < 32; l++) {
				q[128 * n + l] = (uint8_t)((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4));
				q[128 * n + 32 + l] = (uint8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4));
				q[128 * n + 64 + l] = (uint8_t)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
				q[128 * n + 96 + l] = (uint8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4));
			}
		}
		int16_t sc[16];
		for (int g = 0; g < 16; g++) sc[g] = (int8_t)blk[192 + g];
		float d = F(h2f)(blk + 208);
		F(put_k)(dec, k, s, sc, sc, d, -32 * d);
	}
}

// ---------------------------------------------------------------------------
// Tiles

INL float F(hsum)(float32x4_t v) { return vaddvq_f32(v); }

INL void F(tile_leg)(const int R, const int T, const int MINS, const uint8_t *dec, int64_t ds, const uint8_t *act,
                     int64_t as, int64_t k, float *out, int64_t os) {
	float32x4_t acc[LEG_R][LEG_T];
	for (int r = 0; r < R; r++)
		for (int t = 0; t < T; t++) acc[r][t] = vdupq_n_f32(0);
	const int64_t nb = k / 32;
	for (int64_t b = 0; b < nb; b++) {
		int8x16_t y0[LEG_T], y1[LEG_T];
		float dy[LEG_T];
		for (int t = 0; t < T; t++) {
			const int8_t *yt = (const int8_t *)(act + t * as) + 32 * b;
			y0[t] = vld1q_s8(yt);
			y1[t] = vld1q_s8(yt + 16);
			dy[t] = ((const float *)(act + t * as + Q8B_D(k)))[b];
		}
		for (int r = 0; r < R; r++) {
			const int8_t *qr = (const int8_t *)(dec + r * ds) + 32 * b;
			int8x16_t q0 = vld1q_s8(qr), q1 = vld1q_s8(qr + 16);
			float dw = ((const float *)(dec + r * ds + DEC_LEG_DW(k)))[b];
			for (int t = 0; t < T; t++) {
				int32x4_t p = F(dot16)(F(dot16)(vdupq_n_s32(0), q0, y0[t]), q1, y1[t]);
				acc[r][t] = vfmaq_n_f32(acc[r][t], vcvtq_f32_s32(p), dw * dy[t]);
			}
		}
	}
	for (int r = 0; r < R; r++) {
		for (int t = 0; t < T; t++) {
			float s = F(hsum)(acc[r][t]);
			if (MINS) {
				const float *mw = (const float *)(dec + r * ds + DEC_LEG_MW(k));
				const float *sv = (const float *)(act + t * as + Q8B_S(k));
				float m = 0;
				for (int64_t b = 0; b < nb; b++) m += mw[b] * sv[b];
				s += m;
			}
			out[t * os + r] = s;
		}
	}
}

INL void F(tile_k)(const int R, const int T, const uint8_t *dec, int64_t ds, const uint8_t *act, int64_t as, int64_t k,
                   float *out, int64_t os) {
	float32x4_t acc[KQ_R][KQ_T];
	for (int r = 0; r < R; r++)
		for (int t = 0; t < T; t++) acc[r][t] = vdupq_n_f32(0);
	const int64_t ns = k / 256;
	for (int64_t s = 0; s < ns; s++) {
		int32x4_t ai[KQ_R][KQ_T];
		for (int r = 0; r < R; r++)
			for (int t = 0; t < T; t++) ai[r][t] = vdupq_n_s32(0);
		for (int g = 0; g < 16; g++) {
			int8x16_t y[KQ_T];
			for (int t = 0; t < T; t++) y[t] = vld1q_s8((const int8_t *)(act + t * as) + 256 * s + 16 * g);
			for (int r = 0; r < R; r++) {
				const uint8_t *dr = dec + r * ds;
				int8x16_t q = vld1q_s8((const int8_t *)dr + 256 * s + 16 * g);
				int16_t sc = ((const int16_t *)(dr + DEC_K_SCX(k)))[128 * s + 8 * g];
				for (int t = 0; t < T; t++) ai[r][t] = vmlaq_n_s32(ai[r][t], F(dot16)(vdupq_n_s32(0), q, y[t]), sc);
			}
		}
		for (int t = 0; t < T; t++) {
			const uint8_t *at = act + t * as;
			const int16_t *bs = (const int16_t *)(at + Q8K_BS(k)) + 16 * s;
			const float dy = ((const float *)(at + Q8K_D(k)))[s];
			for (int r = 0; r < R; r++) {
				const uint8_t *dr = dec + r * ds;
				const int16_t *cf = (const int16_t *)(dr + DEC_K_COEF(k)) + 16 * s;
				int32x4_t bias = vmull_s16(vld1_s16(cf), vld1_s16(bs));
				bias = vmlal_s16(bias, vld1_s16(cf + 4), vld1_s16(bs + 4));
				bias = vmlal_s16(bias, vld1_s16(cf + 8), vld1_s16(bs + 8));
				bias = vmlal_s16(bias, vld1_s16(cf + 12), vld1_s16(bs + 12));
				float da = ((const float *)(dr + DEC_K_DA(k)))[s] * dy;
				float db = ((const float *)(dr + DEC_K_DB(k)))[s] * dy;
				acc[r][t] = vfmaq_n_f32(acc[r][t], vcvtq_f32_s32(ai[r][t]), da);
				acc[r][t] = vfmaq_n_f32(acc[r][t], vcvtq_f32_s32(bias), db);
			}
		}
	}
	for (int r = 0; r < R; r++)
		for (int t = 0; t < T; t++) out[t * os + r] = F(hsum)(acc[r][t]);
}

INL float32x4_t F(load_w4)(const int WT, const uint8_t *p) {
	if (WT == 0) return vld1q_f32((const float *)p);
	uint16x4_t h = vld1_u16((const uint16_t *)p);
	if (WT == 1) return vcvt_f32_f16(vreinterpret_f16_u16(h));
	return vreinterpretq_f32_u32(vshll_n_u16(h, 16));
}

INL float F(load_w1)(const int WT, const uint8_t *p) {
	if (WT == 0) {
		float f;
		memcpy(&f, p, 4);
		return f;
	}
	if (WT == 1) return lk_fp16_to_fp32(lk_u16(p));
	uint32_t u = (uint32_t)lk_u16(p) << 16;
	float f;
	memcpy(&f, &u, 4);
	return f;
}

INL void F(tile_f)(const int R, const int T, const int WT, const uint8_t *w, int64_t ws, const uint8_t *act, int64_t as,
                   int64_t k, float *out, int64_t os) {
	const int es = WT == 0 ? 4 : 2;
	float32x4_t acc[FL_R][FL_T];
	for (int r = 0; r < R; r++)
		for (int t = 0; t < T; t++) acc[r][t] = vdupq_n_f32(0);
	int64_t i = 0;
	for (; i + 4 <= k; i += 4) {
		float32x4_t x[FL_T];
		for (int t = 0; t < T; t++) x[t] = vld1q_f32((const float *)(act + t * as) + i);
		for (int r = 0; r < R; r++) {
			float32x4_t wv = F(load_w4)(WT, w + r * ws + i * es);
			for (int t = 0; t < T; t++) acc[r][t] = vfmaq_f32(acc[r][t], wv, x[t]);
		}
	}
	for (int r = 0; r < R; r++) {
		for (int t = 0; t < T; t++) {
			float s = F(hsum)(acc[r][t]);
			for (int64_t j = i; j < k; j++) s += F(load_w1)(WT, w + r * ws + j * es) * ((const float *)(act + t * as))[j];
			out[t * os + r] = s;
		}
	}
}

// ---------------------------------------------------------------------------
// Driver

#define LK_TILE_ARGS const uint8_t *dec, int64_t ds, const uint8_t *a, int64_t as, int64_t k, float *o, int64_t os
#define LK_MIN(a, b) ((a) < (b) ? (a) : (b))

#define DEF_TILE(name, body)                                                                                           \
	FN void F(name##_1_1)(LK_TILE_ARGS) { body(1, 1); }                                                                \
	FN void F(name##_1_2)(LK_TILE_ARGS) { body(1, 2); }                                                                \
	FN void F(name##_1_3)(LK_TILE_ARGS) { body(1, 3); }                                                                \
	FN void F(name##_1_4)(LK_TILE_ARGS) { body(1, 4); }                                                                \
	FN void F(name##_2_1)(LK_TILE_ARGS) { body(2, 1); }                                                                \
	FN void F(name##_2_2)(LK_TILE_ARGS) { body(2, 2); }                                                                \
	FN void F(name##_2_3)(LK_TILE_ARGS) { body(2, 3); }                                                                \
	FN void F(name##_2_4)(LK_TILE_ARGS) { body(2, 4); }                                                                \
	FN void F(name##_3_1)(LK_TILE_ARGS) { body(3 <= MAXR ? 3 : 1, 1); }                                                \
	FN void F(name##_3_2)(LK_TILE_ARGS) { body(3 <= MAXR ? 3 : 1, 2); }                                                \
	FN void F(name##_3_3)(LK_TILE_ARGS) { body(3 <= MAXR ? 3 : 1, 3); }                                                \
	FN void F(name##_3_4)(LK_TILE_ARGS) { body(3 <= MAXR ? 3 : 1, 4); }                                                \
	FN void F(name##_4_1)(LK_TILE_ARGS) { body(4 <= MAXR ? 4 : 1, 1); }                                                \
	FN void F(name##_4_2)(LK_TILE_ARGS) { body(4 <= MAXR ? 4 : 1, 2); }                                                \
	FN void F(name##_4_3)(LK_TILE_ARGS) { body(4 <= MAXR ? 4 : 1, 3); }                                                \
	FN void F(name##_4_4)(LK_TILE_ARGS) { body(4 <= MAXR ? 4 : 1, 4); }

#define TILE_CASES(name)                                                                                               \
	case 0x11: F(name##_1_1)(dec, ds, a, as, k, o, os); break;                                                         \
	case 0x12: F(name##_1_2)(dec, ds, a, as, k, o, os); break;                                                         \
	case 0x13: F(name##_1_3)(dec, ds, a, as, k, o, os); break;                                                         \
	case 0x14: F(name##_1_4)(dec, ds, a, as, k, o, os); break;                                                         \
	case 0x21: F(name##_2_1)(dec, ds, a, as, k, o, os); break;                                                         \
	case 0x22: F(name##_2_2)(dec, ds, a, as, k, o, os); break;                                                         \
	case 0x23: F(name##_2_3)(dec, ds, a, as, k, o, os); break;                                                         \
	case 0x24: F(name##_2_4)(dec, ds, a, as, k, o, os); break;                                                         \
	case 0x31: F(name##_3_1)(dec, ds, a, as, k, o, os); break;                                                         \
	case 0x32: F(name##_3_2)(dec, ds, a, as, k, o, os); break;                                                         \
	case 0x33: F(name##_3_3)(dec, ds, a, as, k, o, os); break;                                                         \
	case 0x34: F(name##_3_4)(dec, ds, a, as, k, o, os); break;                                                         \
	case 0x41: F(name##_4_1)(dec, ds, a, as, k, o, os); break;                                                         \
	case 0x42: F(name##_4_2)(dec, ds, a, as, k, o, os); break;                                                         \
	case 0x43: F(name##_4_3)(dec, ds, a, as, k, o, os); break;                                                         \
	case 0x44: F(name##_4_4)(dec, ds, a, as, k, o, os); break;

#define MAXR LEG_R
#define BODY_LEG0(R_, T_) F(tile_leg)(R_, T_, 0, dec, ds, a, as, k, o, os)
#define BODY_LEG1(R_, T_) F(tile_leg)(R_, T_, 1, dec, ds, a, as, k, o, os)
DEF_TILE(tleg0, BODY_LEG0)
DEF_TILE(tleg1, BODY_LEG1)
#undef MAXR
#define MAXR KQ_R
#define BODY_KQ(R_, T_) F(tile_k)(R_, T_, dec, ds, a, as, k, o, os)
DEF_TILE(tkq, BODY_KQ)
#undef MAXR
#define MAXR FL_R
#define BODY_FL0(R_, T_) F(tile_f)(R_, T_, 0, dec, ds, a, as, k, o, os)
#define BODY_FL1(R_, T_) F(tile_f)(R_, T_, 1, dec, ds, a, as, k, o, os)
#define BODY_FL2(R_, T_) F(tile_f)(R_, T_, 2, dec, ds, a, as, k, o, os)
DEF_TILE(tfl0, BODY_FL0)
DEF_TILE(tfl1, BODY_FL1)
DEF_TILE(tfl2, BODY_FL2)
#undef MAXR

typedef void (*F(decoder))(const uint8_t *, int64_t, uint8_t *);

// run computes rows [r0, r1) × tokens [0, n): fam 0/1 legacy (1: with
// mins), 2 K-quants, 3/4/5 float weights (F32, F16, BF16).
FN void F(run)(int fam, F(decoder) dec_fn, const uint8_t *w, int64_t row_bytes, int64_t k, int64_t r0, int64_t r1,
               const uint8_t *act, int64_t as, int64_t n, float *dst, int64_t os, uint8_t *scratch) {
	const int RT = fam <= 1 ? LEG_R : fam == 2 ? KQ_R : FL_R;
	const int TT = fam <= 1 ? LEG_T : fam == 2 ? KQ_T : FL_T;
	const int64_t ds = fam <= 1 ? DEC_LEG_BYTES(k) : fam == 2 ? DEC_K_BYTES(k) : row_bytes;
	for (int64_t t0 = 0; t0 < n; t0 += TOKEN_BLOCK) {
		const int64_t t1 = LK_MIN(n, t0 + TOKEN_BLOCK);
		for (int64_t r = r0; r < r1; r += RT) {
			const int rn = (int)LK_MIN(RT, r1 - r);
			const uint8_t *dec = scratch;
			if (dec_fn) {
				for (int i = 0; i < rn; i++) dec_fn(w + (r + i) * row_bytes, k, scratch + i * ds);
			} else {
				dec = w + r * row_bytes;
			}
			for (int64_t t = t0; t < t1; t += TT) {
				const int tn = (int)LK_MIN(TT, t1 - t);
				const uint8_t *a = act + t * as;
				float *o = dst + t * os + r;
				switch (fam) {
				case 0:
					switch (rn * 16 + tn) { TILE_CASES(tleg0) }
					break;
				case 1:
					switch (rn * 16 + tn) { TILE_CASES(tleg1) }
					break;
				case 2:
					switch (rn * 16 + tn) { TILE_CASES(tkq) }
					break;
				case 3:
					switch (rn * 16 + tn) { TILE_CASES(tfl0) }
					break;
				case 4:
					switch (rn * 16 + tn) { TILE_CASES(tfl1) }
					break;
				case 5:
					switch (rn * 16 + tn) { TILE_CASES(tfl2) }
					break;
				}
			}
		}
	}
}

LK_TARGET int F(lk_matmul)(int type, const uint8_t *w, int64_t row_bytes, int64_t k, int64_t r0, int64_t r1,
                           const uint8_t *act, int64_t as, int64_t n, float *dst, int64_t os, uint8_t *scratch) {
	int fam;
	F(decoder) dec = 0;
	switch (type) {
	case LK_F32: fam = 3; break;
	case LK_F16: fam = 4; break;
	case LK_BF16: fam = 5; break;
	case LK_Q4_0: fam = 0; dec = F(dec_q4_0); break;
	case LK_Q4_1: fam = 1; dec = F(dec_q4_1); break;
	case LK_Q5_0: fam = 0; dec = F(dec_q5_0); break;
	case LK_Q5_1: fam = 1; dec = F(dec_q5_1); break;
	case LK_Q8_0: fam = 0; dec = F(dec_q8_0); break;
	case LK_Q2_K: fam = 2; dec = F(dec_q2_k); break;
	case LK_Q3_K: fam = 2; dec = F(dec_q3_k); break;
	case LK_Q4_K: fam = 2; dec = F(dec_q4_k); break;
	case LK_Q5_K: fam = 2; dec = F(dec_q5_k); break;
	case LK_Q6_K: fam = 2; dec = F(dec_q6_k); break;
	default: return -1;
	}
	F(run)(fam, dec, w, row_bytes, k, r0, r1, act, as, n, dst, os, scratch);
	return 0;
}

#undef LK_CAT2
#undef LK_CAT
#undef F
#undef INL
#undef FN
#undef LEG_R
#undef LEG_T
#undef KQ_R
#undef KQ_T
#undef FL_R
#undef FL_T
#undef TOKEN_BLOCK
#undef LK_TILE_ARGS
#undef LK_MIN
#undef DEF_TILE
#undef TILE_CASES
#undef BODY_LEG0
#undef BODY_LEG1
#undef BODY_KQ
#undef BODY_FL0
#undef BODY_FL1
#undef BODY_FL2

// x86 kernel template, included by kern_x86.c once per level with
// LK_LEVEL (1 AVX2, 2 AVX-VNNI, 3 AVX-512), SFX (name suffix) and LK_TARGET
// (the function target attribute) defined. Everything works on 256-bit
// vectors; level 3 gains 32 vector registers (larger tiles) and EVEX int8
// dot products.
//
// Why one long file: every kernel here is compiled once per level from
// this one text, with the level's vector macros in scope; the 512-bit
// parts live in kern_x86_zmm.h and the attention in kern_attn_tmpl.h.

#define LK_CAT2(a, b) a##_##b
#define LK_CAT(a, b) LK_CAT2(a, b)
#define F(name) LK_CAT(name, SFX)
#define INL static inline __attribute__((always_inline)) LK_TARGET
#define FN static LK_TARGET

#if LK_LEVEL == 1
// u8×s8 products summed in fours; safe while 2·u·127 fits int16 (u ≤ 129).
#define DPBUSD(acc, u, s) _mm256_add_epi32((acc), _mm256_madd_epi16(_mm256_maddubs_epi16((u), (s)), _mm256_set1_epi16(1)))
#define DPWSSD(acc, a, b) _mm256_add_epi32((acc), _mm256_madd_epi16((a), (b)))
#define LEG_R 2
#define LEG_T 4
#define KQ_R 2
#define KQ_T 2
#define FL_R 2
#define FL_T 4
#elif LK_LEVEL == 2
#define DPBUSD(acc, u, s) _mm256_dpbusd_avx_epi32((acc), (u), (s))
#define DPWSSD(acc, a, b) _mm256_dpwssd_avx_epi32((acc), (a), (b))
#define LEG_R 2
#define LEG_T 4
#define KQ_R 2
#define KQ_T 2
#define FL_R 2
#define FL_T 4
#else
#define DPBUSD(acc, u, s) _mm256_dpbusd_epi32((acc), (u), (s))
#define DPWSSD(acc, a, b) _mm256_dpwssd_epi32((acc), (a), (b))
#define LEG_R 4
#define LEG_T 4
#define KQ_R 3
#define KQ_T 4
#define FL_R 4
#define FL_T 4
#endif

// Tokens handled per pass over a tile of decoded rows (keeps their
// quantized activations in the L2 cache).
#define TOKEN_BLOCK 64
#define LK_MIN(a, b) ((a) < (b) ? (a) : (b))

INL float F(hsum)(__m256 v) {
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

INL float F(h2f)(const uint8_t *p) { return _cvtsh_ss(lk_u16(p)); }

// ---------------------------------------------------------------------------
// Activation quantization

FN int64_t F(quant_q8_32)(const float *x, int64_t k, uint8_t *row, int q81, int off) {
	int8_t *qs = (int8_t *)row;
	int32_t *init = (int32_t *)(row + Q8B_INIT(k));
	float *dv = (float *)(row + Q8B_D(k));
	float *sv = (float *)(row + Q8B_S(k));
	int32_t *it = (int32_t *)(row + Q8B_IT(k));
	const __m256 sign = _mm256_set1_ps(-0.0f), inf = _mm256_set1_ps(__builtin_inff());
	const __m256 half = _mm256_set1_ps(0.5f), mhalf = _mm256_set1_ps(-0.5f), one = _mm256_set1_ps(1.0f);
	const __m256 lo = _mm256_set1_ps(-128.0f), hi = _mm256_set1_ps(127.0f);
	const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
	const __m256i ones8 = _mm256_set1_epi8(1);
	const __m256i ones16 = _mm256_set1_epi16(1);
	int64_t bad = 0;
	for (int64_t b = 0; b < k / 32; b++) {
		__m256 v[4], a[4];
		int finite = 1;
		for (int i = 0; i < 4; i++) {
			v[i] = _mm256_loadu_ps(x + 32 * b + 8 * i);
			a[i] = _mm256_andnot_ps(sign, v[i]);
			finite &= _mm256_movemask_ps(_mm256_cmp_ps(a[i], inf, _CMP_LT_OQ)) == 0xFF;
		}
		if (!finite) {
			bad++;
			memset(qs + 32 * b, 0, 32);
			memset(init + 8 * b, 0, 32);
			dv[b] = __builtin_nanf("");
			sv[b] = __builtin_nanf("");
			it[b] = 0;
			continue;
		}
		__m256 m = _mm256_max_ps(_mm256_max_ps(a[0], a[1]), _mm256_max_ps(a[2], a[3]));
		__m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
		m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
		m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
		float amax = _mm_cvtss_f32(m4);
		float d = amax / 127;
		float id = d != 0 ? 1 / d : 0;
		__m256 idv = _mm256_set1_ps(id);
		__m256i qi[4];
		for (int i = 0; i < 4; i++) {
			__m256 p = _mm256_mul_ps(v[i], idv);
			__m256 t = _mm256_round_ps(p, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
			__m256 fr = _mm256_sub_ps(p, t);
			t = _mm256_add_ps(t, _mm256_and_ps(_mm256_cmp_ps(fr, half, _CMP_GE_OQ), one));
			t = _mm256_sub_ps(t, _mm256_and_ps(_mm256_cmp_ps(fr, mhalf, _CMP_LE_OQ), one));
			__m256 ok = _mm256_and_ps(_mm256_cmp_ps(t, lo, _CMP_GE_OQ), _mm256_cmp_ps(t, hi, _CMP_LE_OQ));
			qi[i] = _mm256_cvttps_epi32(_mm256_and_ps(t, ok));
		}
		__m256i p01 = _mm256_packs_epi32(qi[0], qi[1]);
		__m256i p23 = _mm256_packs_epi32(qi[2], qi[3]);
		__m256i q = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p01, p23), perm);
		_mm256_storeu_si256((__m256i *)(qs + 32 * b), q);
		__m256i s4 = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, q), ones16);
		_mm256_storeu_si256((__m256i *)(init + 8 * b), _mm256_mullo_epi32(s4, _mm256_set1_epi32(-off)));
		dv[b] = _cvtsh_ss(_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT));
		__m128i s = _mm_add_epi32(_mm256_castsi256_si128(s4), _mm256_extracti128_si256(s4, 1));
		s = _mm_hadd_epi32(s, s);
		s = _mm_hadd_epi32(s, s);
		int32_t sum = _mm_cvtsi128_si32(s);
		it[b] = -off * sum;
		sv[b] = q81 ? _cvtsh_ss(_cvtss_sh((float)sum * d, _MM_FROUND_TO_NEAREST_INT)) : 0;
	}
	lk_fill_y4(qs, k, row);
	return bad;
}

FN int64_t F(quant_q8k)(const float *x, int64_t k, uint8_t *row) { return lk_quant_q8k_row(x, k, row); }

FN void F(round_row)(int kind, const float *x, int64_t k, float *out) {
	int64_t i = 0;
	if (kind == LK_ACT_F16) {
		for (; i + 8 <= k; i += 8) {
			__m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT);
			_mm256_storeu_ps(out + i, _mm256_cvtph_ps(h));
		}
	}
	lk_round_row(kind, x + i, k - i, out + i);
}

LK_TARGET int64_t F(lk_quantize)(int kind, int off, const float *x, int64_t k, int64_t r0, int64_t r1, uint8_t *out) {
	int64_t stride = lk_act_row_bytes(kind, k), bad = 0;
	for (int64_t r = r0; r < r1; r++) {
		const float *xr = x + r * k;
		uint8_t *o = out + r * stride;
		switch (kind) {
		case LK_ACT_Q8_0:
			bad += F(quant_q8_32)(xr, k, o, 0, off);
			break;
		case LK_ACT_Q8_1:
			bad += F(quant_q8_32)(xr, k, o, 1, 0);
			break;
		case LK_ACT_Q8_K:
			bad += F(quant_q8k)(xr, k, o);
			break;
		default:
			F(round_row)(kind, xr, k, (float *)o);
		}
	}
	return bad;
}

// ---------------------------------------------------------------------------
// Decoders: one weight row into the decoded layouts of kern_impl.h.

// Bytes 0xFF where bit i of x is set, else 0 (i = byte index 0..31).
INL __m256i F(bits_to_bytes)(uint32_t x) {
	const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
	__m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32((int)x), shuf);
	bytes = _mm256_or_si256(bytes, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
	return _mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1));
}

// nibbles32 unpacks 16 bytes into their 32 nibbles: low nibbles first,
// then high nibbles (the element order of Q4_0 and friends).
INL __m256i F(nibbles32)(const uint8_t *qs) {
	__m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
	v = _mm256_srlv_epi64(v, _mm256_setr_epi64x(0, 0, 4, 4));
	return _mm256_and_si256(v, _mm256_set1_epi8(0x0F));
}

FN void F(dec_q4_0)(const uint8_t *w, int64_t k, uint8_t *dec) {
	float *dw = (float *)(dec + DEC_LEG_DW(k));
	for (int64_t b = 0; b < k / 32; b++) {
		const uint8_t *blk = w + BYTES_Q4_0 * b;
		_mm256_storeu_si256((__m256i *)(dec + 32 * b), F(nibbles32)(blk + 2));
		dw[b] = F(h2f)(blk);
	}
}

FN void F(dec_q4_1)(const uint8_t *w, int64_t k, uint8_t *dec) {
	float *dw = (float *)(dec + DEC_LEG_DW(k)), *mw = (float *)(dec + DEC_LEG_MW(k));
	for (int64_t b = 0; b < k / 32; b++) {
		const uint8_t *blk = w + BYTES_Q4_1 * b;
		_mm256_storeu_si256((__m256i *)(dec + 32 * b), F(nibbles32)(blk + 4));
		dw[b] = F(h2f)(blk);
		mw[b] = F(h2f)(blk + 2);
	}
}

FN void F(dec_q5_0)(const uint8_t *w, int64_t k, uint8_t *dec) {
	float *dw = (float *)(dec + DEC_LEG_DW(k));
	const __m256i b4 = _mm256_set1_epi8(0x10);
	for (int64_t b = 0; b < k / 32; b++) {
		const uint8_t *blk = w + BYTES_Q5_0 * b;
		__m256i hb = _mm256_and_si256(F(bits_to_bytes)(lk_u32(blk + 2)), b4);
		_mm256_storeu_si256((__m256i *)(dec + 32 * b), _mm256_or_si256(F(nibbles32)(blk + 6), hb));
		dw[b] = F(h2f)(blk);
	}
}

FN void F(dec_q5_1)(const uint8_t *w, int64_t k, uint8_t *dec) {
	float *dw = (float *)(dec + DEC_LEG_DW(k)), *mw = (float *)(dec + DEC_LEG_MW(k));
	const __m256i b4 = _mm256_set1_epi8(0x10);
	for (int64_t b = 0; b < k / 32; b++) {
		const uint8_t *blk = w + BYTES_Q5_1 * b;
		__m256i hb = _mm256_and_si256(F(bits_to_bytes)(lk_u32(blk + 4)), b4);
		_mm256_storeu_si256((__m256i *)(dec + 32 * b), _mm256_or_si256(F(nibbles32)(blk + 8), hb));
		dw[b] = F(h2f)(blk);
		mw[b] = F(h2f)(blk + 2);
	}
}

FN void F(dec_q8_0)(const uint8_t *w, int64_t k, uint8_t *dec) {
	float *dw = (float *)(dec + DEC_LEG_DW(k));
#if LK_LEVEL == 1
	const __m256i flip = _mm256_setzero_si256(); // signed kernels take the values as stored
#else
	const __m256i flip = _mm256_set1_epi8((char)0x80); // unsigned: q+128
#endif
	for (int64_t b = 0; b < k / 32; b++) {
		const uint8_t *blk = w + BYTES_Q8_0 * b;
		__m256i q = _mm256_loadu_si256((const __m256i *)(blk + 2));
		_mm256_storeu_si256((__m256i *)(dec + 32 * b), _mm256_xor_si256(q, flip));
		dw[b] = F(h2f)(blk);
	}
}

// put_k_scales stores the expanded scales of one super-block (16 per-16
// scales) and its activation-sum coefficients.
INL void F(put_k_scales)(uint8_t *scx, int16_t *coef, const int16_t *sc16, const int16_t *cf16) {
	for (int c = 0; c < 8; c++) {
		__m256i v = _mm256_set_m128i(_mm_set1_epi16(sc16[2 * c + 1]), _mm_set1_epi16(sc16[2 * c]));
		_mm256_storeu_si256((__m256i *)(scx + 32 * c), v);
	}
	memcpy(coef, cf16, 32);
}

FN void F(dec_q2_k)(const uint8_t *w, int64_t k, uint8_t *dec) {
	uint8_t *scx = dec + DEC_K_SCX(k);
	int16_t *coef = (int16_t *)(dec + DEC_K_COEF(k));
	float *da = (float *)(dec + DEC_K_DA(k)), *db = (float *)(dec + DEC_K_DB(k));
	const __m256i m3 = _mm256_set1_epi8(3);
	for (int64_t s = 0; s < k / 256; s++) {
		const uint8_t *blk = w + BYTES_Q2_K * s;
		uint8_t *q = dec + 256 * s;
		for (int n = 0; n < 2; n++) {
			__m256i x = _mm256_loadu_si256((const __m256i *)(blk + 16 + 32 * n));
			for (int j = 0; j < 4; j++) {
				__m256i v = _mm256_and_si256(_mm256_srl_epi16(x, _mm_cvtsi32_si128(2 * j)), m3);
				_mm256_storeu_si256((__m256i *)(q + 128 * n + 32 * j), v);
			}
		}
		int16_t sc[16], cf[16];
		for (int g = 0; g < 16; g++) {
			sc[g] = blk[g] & 0xF;
			cf[g] = blk[g] >> 4;
		}
		F(put_k_scales)(scx + 256 * s, coef + 16 * s, sc, cf);
		da[s] = F(h2f)(blk + 80);
		db[s] = -F(h2f)(blk + 82);
	}
}

FN void F(dec_q3_k)(const uint8_t *w, int64_t k, uint8_t *dec) {
	uint8_t *scx = dec + DEC_K_SCX(k);
	int16_t *coef = (int16_t *)(dec + DEC_K_COEF(k));
	float *da = (float *)(dec + DEC_K_DA(k)), *db = (float *)(dec + DEC_K_DB(k));
	const __m256i m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
	for (int64_t s = 0; s < k / 256; s++) {
		const uint8_t *blk = w + BYTES_Q3_K * s;
		uint8_t *q = dec + 256 * s;
		__m256i hm = _mm256_loadu_si256((const __m256i *)blk);
		for (int n = 0; n < 2; n++) {
			__m256i x = _mm256_loadu_si256((const __m256i *)(blk + 32 + 32 * n));
			for (int j = 0; j < 4; j++) {
				int c = 4 * n + j;
				__m256i lo2 = _mm256_and_si256(_mm256_srl_epi16(x, _mm_cvtsi32_si128(2 * j)), m3);
				__m256i hb = _mm256_and_si256(_mm256_srl_epi16(hm, _mm_cvtsi32_si128(c)), one);
				__m256i v = _mm256_or_si256(lo2, _mm256_slli_epi16(hb, 2));
				_mm256_storeu_si256((__m256i *)(q + 32 * c), v);
			}
		}
		int16_t sc[16];
		lk_q3k_scales(blk + 96, sc);
		F(put_k_scales)(scx + 256 * s, coef + 16 * s, sc, sc);
		float d = F(h2f)(blk + 108);
		da[s] = d;
		db[s] = -4 * d;
	}
}

FN void F(dec_q4_k)(const uint8_t *w, int64_t k, uint8_t *dec) {
	uint8_t *scx = dec + DEC_K_SCX(k);
	int16_t *coef = (int16_t *)(dec + DEC_K_COEF(k));
	float *da = (float *)(dec + DEC_K_DA(k)), *db = (float *)(dec + DEC_K_DB(k));
	const __m256i m4 = _mm256_set1_epi8(0x0F);
	for (int64_t s = 0; s < k / 256; s++) {
		const uint8_t *blk = w + BYTES_Q4_K * s;
		uint8_t *q = dec + 256 * s;
		for (int g = 0; g < 4; g++) {
			__m256i x = _mm256_loadu_si256((const __m256i *)(blk + 16 + 32 * g));
			_mm256_storeu_si256((__m256i *)(q + 64 * g), _mm256_and_si256(x, m4));
			_mm256_storeu_si256((__m256i *)(q + 64 * g + 32), _mm256_and_si256(_mm256_srli_epi16(x, 4), m4));
		}
		int16_t sc[16], cf[16];
		for (int j = 0; j < 8; j++) {
			uint8_t a, m;
			lk_scale_min_k4(j, blk + 4, &a, &m);
			sc[2 * j] = sc[2 * j + 1] = a;
			cf[2 * j] = cf[2 * j + 1] = m;
		}
		F(put_k_scales)(scx + 256 * s, coef + 16 * s, sc, cf);
		da[s] = F(h2f)(blk);
		db[s] = -F(h2f)(blk + 2);
	}
}

FN void F(dec_q5_k)(const uint8_t *w, int64_t k, uint8_t *dec) {
	uint8_t *scx = dec + DEC_K_SCX(k);
	int16_t *coef = (int16_t *)(dec + DEC_K_COEF(k));
	float *da = (float *)(dec + DEC_K_DA(k)), *db = (float *)(dec + DEC_K_DB(k));
	const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
	for (int64_t s = 0; s < k / 256; s++) {
		const uint8_t *blk = w + BYTES_Q5_K * s;
		uint8_t *q = dec + 256 * s;
		__m256i qh = _mm256_loadu_si256((const __m256i *)(blk + 16));
		for (int g = 0; g < 4; g++) {
			__m256i x = _mm256_loadu_si256((const __m256i *)(blk + 48 + 32 * g));
			__m256i h0 = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * g)), one);
			__m256i h1 = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * g + 1)), one);
			__m256i lo = _mm256_or_si256(_mm256_and_si256(x, m4), _mm256_slli_epi16(h0, 4));
			__m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(x, 4), m4), _mm256_slli_epi16(h1, 4));
			_mm256_storeu_si256((__m256i *)(q + 64 * g), lo);
			_mm256_storeu_si256((__m256i *)(q + 64 * g + 32), hi);
		}
		int16_t sc[16], cf[16];
		for (int j = 0; j < 8; j++) {
			uint8_t a, m;
			lk_scale_min_k4(j, blk + 4, &a, &m);
			sc[2 * j] = sc[2 * j + 1] = a;
			cf[2 * j] = cf[2 * j + 1] = m;
		}
		F(put_k_scales)(scx + 256 * s, coef + 16 * s, sc, cf);
		da[s] = F(h2f)(blk);
		db[s] = -F(h2f)(blk + 2);
	}
}

FN void F(dec_q6_k)(const uint8_t *w, int64_t k, uint8_t *dec) {
	uint8_t *scx = dec + DEC_K_SCX(k);
	int16_t *coef = (int16_t *)(dec + DEC_K_COEF(k));
	float *da = (float *)(dec + DEC_K_DA(k)), *db = (float *)(dec + DEC_K_DB(k));
	const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x03);
	const __m256i m2s = _mm256_set1_epi8(0x0C), m30 = _mm256_set1_epi8(0x30);
	for (int64_t s = 0; s < k / 256; s++) {
		const uint8_t *blk = w + BYTES_Q6_K * s;
		uint8_t *q = dec + 256 * s;
		for (int n = 0; n < 2; n++) {
			__m256i a = _mm256_loadu_si256((const __m256i *)(blk + 64 * n));
			__m256i b = _mm256_loadu_si256((const __m256i *)(blk + 64 * n + 32));
			__m256i h = _mm256_loadu_si256((const __m256i *)(blk + 128 + 32 * n));
			__m256i q0 = _mm256_or_si256(_mm256_and_si256(a, m4), _mm256_slli_epi16(_mm256_and_si256(h, m2), 4));
			__m256i q1 = _mm256_or_si256(_mm256_and_si256(b, m4), _mm256_slli_epi16(_mm256_and_si256(h, m2s), 2));
			__m256i q2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(a, 4), m4), _mm256_and_si256(h, m30));
			__m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b, 4), m4),
			                             _mm256_and_si256(_mm256_srli_epi16(h, 2), m30));
			_mm256_storeu_si256((__m256i *)(q + 128 * n), q0);
			_mm256_storeu_si256((__m256i *)(q + 128 * n + 32), q1);
			_mm256_storeu_si256((__m256i *)(q + 128 * n + 64), q2);
			_mm256_storeu_si256((__m256i *)(q + 128 * n + 96), q3);
		}
		int16_t sc[16];
		for (int g = 0; g < 16; g++) sc[g] = (int8_t)blk[192 + g];
		F(put_k_scales)(scx + 256 * s, coef + 16 * s, sc, sc);
		float d = F(h2f)(blk + 208);
		da[s] = d;
		db[s] = -32 * d;
	}
}

// ---------------------------------------------------------------------------
// Fused matrix-vector products for the K-quants (generation): each
// super-block is unpacked in registers, never stored.

// ks_scales loads a super-block's per-16 scales (sc) and activation-sum
// coefficients (cf) as 16 int16 lanes, and the float multipliers of the two
// sums (da for Σ sc·q·y, db for Σ cf·bsum).
INL void F(ks_scales)(const int TY, const uint8_t *blk, __m256i *sc, __m256i *cf, float *da, float *db) {
	switch (TY) {
	case LK_Q2_K: {
		__m256i v = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)blk));
		*sc = _mm256_and_si256(v, _mm256_set1_epi16(0xF));
		*cf = _mm256_srli_epi16(v, 4);
		*da = F(h2f)(blk + 80);
		*db = -F(h2f)(blk + 82);
		break;
	}
	case LK_Q3_K: {
		uint32_t a[3];
		memcpy(a, blk + 96, 12);
		const uint32_t km1 = 0x03030303, km2 = 0x0f0f0f0f;
		__m128i v = _mm_setr_epi32((int)((a[0] & km2) | (((a[2] >> 0) & km1) << 4)), (int)((a[1] & km2) | (((a[2] >> 2) & km1) << 4)),
		                           (int)(((a[0] >> 4) & km2) | (((a[2] >> 4) & km1) << 4)),
		                           (int)(((a[1] >> 4) & km2) | (((a[2] >> 6) & km1) << 4)));
		*sc = *cf = _mm256_sub_epi16(_mm256_cvtepi8_epi16(v), _mm256_set1_epi16(32));
		*da = F(h2f)(blk + 108);
		*db = -4 * *da;
		break;
	}
	case LK_Q4_K:
	case LK_Q5_K: {
		// The twelve bytes s[] of 6-bit scales and mins, unpacked as
		// get_scale_min_k4 does, eight lanes at a time.
		const __m128i x = _mm_loadu_si128((const __m128i *)(blk + 4));
		const __m128i a = _mm_shuffle_epi8(x, _mm_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, -1, -1, -1, -1, -1, -1, -1, -1));
		const __m128i b = _mm_shuffle_epi8(x, _mm_setr_epi8(-1, -1, -1, -1, 0, 1, 2, 3, -1, -1, -1, -1, -1, -1, -1, -1));
		const __m128i c = _mm_shuffle_epi8(x, _mm_setr_epi8(4, 5, 6, 7, 8, 9, 10, 11, -1, -1, -1, -1, -1, -1, -1, -1));
		const __m128i d = _mm_shuffle_epi8(x, _mm_setr_epi8(-1, -1, -1, -1, 4, 5, 6, 7, -1, -1, -1, -1, -1, -1, -1, -1));
		const __m128i top2 = _mm_set1_epi8((char)0xC0);
		const __m128i lo6 = _mm_setr_epi8(63, 63, 63, 63, 15, 15, 15, 15, 0, 0, 0, 0, 0, 0, 0, 0);
		const __m128i m6 = _mm_setr_epi8(63, 63, 63, 63, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
		const __m128i n4 = _mm_setr_epi8(0, 0, 0, 0, 15, 15, 15, 15, 0, 0, 0, 0, 0, 0, 0, 0);
		// j<4: s[j]&63; j>=4: (s[j+4]&15) | (s[j-4]>>6)<<4
		__m128i scb = _mm_or_si128(_mm_and_si128(a, lo6), _mm_srli_epi16(_mm_and_si128(b, top2), 2));
		// j<4: s[j+4]&63; j>=4: (s[j+4]>>4) | (s[j]>>6)<<4
		__m128i mnb = _mm_or_si128(_mm_and_si128(c, m6), _mm_and_si128(_mm_srli_epi16(c, 4), n4));
		mnb = _mm_or_si128(mnb, _mm_srli_epi16(_mm_and_si128(d, top2), 2));
		// Each serves 32 elements: two per-16 lanes.
		const __m128i dup = _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
		*sc = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(scb, dup));
		*cf = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(mnb, dup));
		*da = F(h2f)(blk);
		*db = -F(h2f)(blk + 2);
		break;
	}
	case LK_Q6_K: {
		*sc = *cf = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(blk + 192)));
		*da = F(h2f)(blk + 208);
		*db = -32 * *da;
		break;
	}
	}
}

// ks_quants returns the unsigned quants of elements 32c..32c+31 of a
// super-block (c constant after unrolling; repeated loads fold together).
INL __m256i F(ks_quants)(const int TY, const uint8_t *blk, const int c) {
	const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(3);
	switch (TY) {
	case LK_Q2_K: {
		__m256i x = _mm256_loadu_si256((const __m256i *)(blk + 16 + 32 * (c / 4)));
		return _mm256_and_si256(_mm256_srli_epi16(x, 2 * (c % 4)), m3);
	}
	case LK_Q3_K: {
		__m256i x = _mm256_loadu_si256((const __m256i *)(blk + 32 + 32 * (c / 4)));
		__m256i hm = _mm256_loadu_si256((const __m256i *)blk);
		__m256i lo = _mm256_and_si256(_mm256_srli_epi16(x, 2 * (c % 4)), m3);
		__m256i hb = _mm256_and_si256(_mm256_srli_epi16(hm, c), _mm256_set1_epi8(1));
		return _mm256_or_si256(lo, _mm256_slli_epi16(hb, 2));
	}
	case LK_Q4_K: {
		__m256i x = _mm256_loadu_si256((const __m256i *)(blk + 16 + 32 * (c / 2)));
		return _mm256_and_si256(c % 2 ? _mm256_srli_epi16(x, 4) : x, m4);
	}
	case LK_Q5_K: {
		__m256i x = _mm256_loadu_si256((const __m256i *)(blk + 48 + 32 * (c / 2)));
		__m256i qh = _mm256_loadu_si256((const __m256i *)(blk + 16));
		__m256i lo = _mm256_and_si256(c % 2 ? _mm256_srli_epi16(x, 4) : x, m4);
		__m256i hb = _mm256_and_si256(_mm256_srli_epi16(qh, c), _mm256_set1_epi8(1));
		return _mm256_or_si256(lo, _mm256_slli_epi16(hb, 4));
	}
	default: { // LK_Q6_K
		const int n = c / 4, j = c % 4;
		__m256i l = _mm256_loadu_si256((const __m256i *)(blk + 64 * n + 32 * (j % 2)));
		__m256i h = _mm256_loadu_si256((const __m256i *)(blk + 128 + 32 * n));
		__m256i lo = _mm256_and_si256(j >= 2 ? _mm256_srli_epi16(l, 4) : l, m4);
		__m256i hi = _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(h, 2 * j), 4), _mm256_set1_epi8(0x30));
		return _mm256_or_si256(lo, hi);
	}
	}
}

// Fused matrix-vector products for Q4_0, Q5_0 and Q8_0, with the same
// integer lanes and float operations as tile_leg.

// lq_quants returns block b's quants as tile_leg sees them (decoded form).
INL __m256i F(lq_quants)(const int TY, const uint8_t *blk) {
	switch (TY) {
	case LK_Q4_0:
		return F(nibbles32)(blk + 2);
	case LK_Q5_0: {
		__m256i hb = _mm256_and_si256(F(bits_to_bytes)(lk_u32(blk + 2)), _mm256_set1_epi8(0x10));
		return _mm256_or_si256(F(nibbles32)(blk + 6), hb);
	}
	default: { // LK_Q8_0
		__m256i q = _mm256_loadu_si256((const __m256i *)(blk + 2));
#if LK_LEVEL == 1
		return q;
#else
		return _mm256_xor_si256(q, _mm256_set1_epi8((char)0x80));
#endif
	}
	}
}

// lq_scales8 returns the products dw·dy of 8 consecutive blocks.
INL __m256 F(lq_scales8)(const int BB, const uint8_t *blk0, const float *dy) {
	const __m256i idx = _mm256_setr_epi32(0, BB, 2 * BB, 3 * BB, 4 * BB, 5 * BB, 6 * BB, 7 * BB);
	__m256i g = _mm256_i32gather_epi32((const int *)blk0, idx, 1);
	const __m256i lo16 = _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1, 0, 1, 4, 5, 8, 9, 12,
	                                      13, -1, -1, -1, -1, -1, -1, -1, -1);
	g = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(g, lo16), 0x08);
	return _mm256_mul_ps(_mm256_cvtph_ps(_mm256_castsi256_si128(g)), _mm256_loadu_ps(dy));
}

#define LQ_R 4

#if LK_LEVEL != 3
INL void F(gemv_leg_rows)(const int TY, const int R, const uint8_t *w, int64_t row_bytes, int64_t k, const uint8_t *act,
                          float *out) {
	const int BB = TY == LK_Q4_0 ? BYTES_Q4_0 : TY == LK_Q5_0 ? BYTES_Q5_0 : BYTES_Q8_0;
	const int SIGNED = TY == LK_Q8_0 && LK_LEVEL == 1;
	const int64_t nb = k / 32;
	const float *dy = (const float *)(act + Q8B_D(k));
	__m256 acc[LQ_R];
#pragma GCC unroll 4
	for (int i = 0; i < R; i++) acc[i] = _mm256_setzero_ps();
	int64_t b = 0;
	for (; b + 8 <= nb; b += 8) {
		__m256 s8[LQ_R];
#pragma GCC unroll 4
		for (int i = 0; i < R; i++) s8[i] = F(lq_scales8)(BB, w + i * row_bytes + BB * b, dy + b);
#pragma GCC unroll 8
		for (int j = 0; j < 8; j++) {
			const __m256i y = _mm256_loadu_si256((const __m256i *)(act + 32 * (b + j)));
			const __m256i init = _mm256_loadu_si256((const __m256i *)(act + Q8B_INIT(k) + 32 * (b + j)));
#pragma GCC unroll 4
			for (int i = 0; i < R; i++) {
				__m256i q = F(lq_quants)(TY, w + i * row_bytes + BB * (b + j));
				__m256i p;
				if (SIGNED) {
					p = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(y, q)), _mm256_set1_epi16(1));
				} else {
					p = DPBUSD(init, q, y);
				}
				__m256 sc = _mm256_permutevar8x32_ps(s8[i], _mm256_set1_epi32(j));
				acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), sc, acc[i]);
			}
		}
	}
	for (; b < nb; b++) {
		const __m256i y = _mm256_loadu_si256((const __m256i *)(act + 32 * b));
		const __m256i init = _mm256_loadu_si256((const __m256i *)(act + Q8B_INIT(k) + 32 * b));
#pragma GCC unroll 4
		for (int i = 0; i < R; i++) {
			const uint8_t *blk = w + i * row_bytes + BB * b;
			__m256i q = F(lq_quants)(TY, blk);
			__m256i p;
			if (SIGNED) {
				p = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(y, q)), _mm256_set1_epi16(1));
			} else {
				p = DPBUSD(init, q, y);
			}
			__m256 sc = _mm256_mul_ps(_mm256_set1_ps(F(h2f)(blk)), _mm256_broadcast_ss(dy + b));
			acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), sc, acc[i]);
		}
	}
#pragma GCC unroll 4
	for (int i = 0; i < R; i++) out[i] = F(hsum)(acc[i]);
}

#else
#define LK_ZMM_PART 1
#include "kern_x86_zmm.h"
#undef LK_ZMM_PART
#endif

// DEF_GEMV defines the matrix-vector product name for type TY with the
// family's kernels (leg or k): 16-row panels at the AVX-512 level, groups of
// RR rows sharing the activation loads below it.
#if LK_LEVEL == 3
#define DEF_GEMV(TY, name, family, RR)                                                                                 \
	FN void F(name)(const uint8_t *w, int64_t row_bytes, int64_t k, int64_t r0, int64_t r1, const uint8_t *act,        \
	                float *dst, uint8_t *scratch) {                                                                    \
		for (int64_t r = r0; r < r1; r += LK_PANEL)                                                                    \
			F(gemv_##family##_panel)(TY, w + r * row_bytes, row_bytes, k, (int)LK_MIN(LK_PANEL, r1 - r), act, dst + r,  \
			                         scratch);                                                                         \
	}
#else
#define DEF_GEMV(TY, name, family, RR)                                                                                 \
	FN void F(name)(const uint8_t *w, int64_t row_bytes, int64_t k, int64_t r0, int64_t r1, const uint8_t *act,        \
	                float *dst, uint8_t *scratch) {                                                                    \
		(void)scratch;                                                                                                 \
		int64_t r = r0;                                                                                                \
		for (; r + (RR) <= r1; r += (RR)) F(gemv_##family##_rows)(TY, RR, w + r * row_bytes, row_bytes, k, act, dst + r); \
		for (; r < r1; r++) F(gemv_##family##_rows)(TY, 1, w + r * row_bytes, row_bytes, k, act, dst + r);             \
	}
#endif
DEF_GEMV(LK_Q4_0, gemv_q4_0, leg, LQ_R)
#if LK_LEVEL != 3
DEF_GEMV(LK_Q5_0, gemv_q5_0, leg, LQ_R)
#endif
DEF_GEMV(LK_Q8_0, gemv_q8_0, leg, LQ_R)

#if LK_LEVEL == 3
#define KV_R 4
#else
#define KV_R 2
#endif

#if LK_LEVEL != 3
// gemv_k computes dst[r] for rows [r0, r1) and one token, R rows at a time
// sharing the activation loads.
INL void F(gemv_k_rows)(const int TY, const int R, const uint8_t *w, int64_t row_bytes, int64_t k, const uint8_t *act,
                        float *out) {
	const int bb = TY == LK_Q2_K ? BYTES_Q2_K : TY == LK_Q3_K ? BYTES_Q3_K : TY == LK_Q4_K ? BYTES_Q4_K : TY == LK_Q5_K ? BYTES_Q5_K : BYTES_Q6_K;
	const int64_t ns = k / 256;
	const float *yd = (const float *)(act + Q8K_D(k));
	__m256 acc[KV_R];
#pragma GCC unroll 4
	for (int i = 0; i < R; i++) acc[i] = _mm256_setzero_ps();
	// Byte patterns that spread int16 pair c of a dword to 8 lanes each.
	const __m256i spread = _mm256_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3,
	                                        2, 3, 2, 3, 2, 3);
	for (int64_t s = 0; s < ns; s++) {
		const int8_t *y = (const int8_t *)act + 256 * s;
		const __m256i bs = _mm256_loadu_si256((const __m256i *)(act + Q8K_BS(k) + 32 * s));
		const float dy = yd[s];
		__m256i sc[KV_R], sumi[KV_R], bias[KV_R];
		float da[KV_R], db[KV_R];
#pragma GCC unroll 4
		for (int i = 0; i < R; i++) {
			__m256i cf;
			F(ks_scales)(TY, w + i * row_bytes + bb * s, &sc[i], &cf, &da[i], &db[i]);
			bias[i] = _mm256_madd_epi16(cf, bs);
			sumi[i] = _mm256_setzero_si256();
		}
#pragma GCC unroll 8
		for (int c = 0; c < 8; c++) {
			const __m256i yc = _mm256_loadu_si256((const __m256i *)(y + 32 * c));
#pragma GCC unroll 4
			for (int i = 0; i < R; i++) {
				__m256i q = F(ks_quants)(TY, w + i * row_bytes + bb * s, c);
				__m256i scc = _mm256_shuffle_epi8(_mm256_permutevar8x32_epi32(sc[i], _mm256_set1_epi32(c)), spread);
				sumi[i] = DPWSSD(sumi[i], _mm256_maddubs_epi16(q, yc), scc);
			}
		}
		// The same float operations in the same order as tile_k, so that a
		// token's result does not depend on the batch it came in.
#pragma GCC unroll 4
		for (int i = 0; i < R; i++) {
			acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[i]), _mm256_set1_ps(da[i] * dy), acc[i]);
			acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(bias[i]), _mm256_set1_ps(db[i] * dy), acc[i]);
		}
	}
#pragma GCC unroll 4
	for (int i = 0; i < R; i++) out[i] = F(hsum)(acc[i]);
}

#else
#define LK_ZMM_PART 2
#include "kern_x86_zmm.h"
#undef LK_ZMM_PART
#endif

DEF_GEMV(LK_Q2_K, gemv_q2_k, k, KV_R)
DEF_GEMV(LK_Q3_K, gemv_q3_k, k, KV_R)
DEF_GEMV(LK_Q4_K, gemv_q4_k, k, KV_R)
DEF_GEMV(LK_Q5_K, gemv_q5_k, k, KV_R)
DEF_GEMV(LK_Q6_K, gemv_q6_k, k, KV_R)
#undef DEF_GEMV

// ---------------------------------------------------------------------------
// Tiles: R weight rows × T tokens, accumulators in registers.

// load_w1 reads one float weight (WT: 0 F32, 1 F16, 2 BF16), for the
// float tiles' tails at every level.
INL float F(load_w1)(const int WT, const uint8_t *p) {
	if (WT == 0) {
		float f;
		memcpy(&f, p, 4);
		return f;
	}
	if (WT == 1) return _cvtsh_ss(lk_u16(p));
	uint32_t u = (uint32_t)lk_u16(p) << 16;
	float f;
	memcpy(&f, &u, 4);
	return f;
}

#if LK_LEVEL != 3
// Legacy types on decoded rows. SIGNED: q is signed and products use the
// sign trick (level 1 Q8_0); MINS: add Σ mw·s (Q4_1, Q5_1).
INL void F(tile_leg)(const int R, const int T, const int SIGNED, const int MINS, const uint8_t *dec, int64_t dstride,
                     const uint8_t *act, int64_t astride, int64_t k, float *out, int64_t ostride) {
	__m256 acc[LEG_R][LEG_T];
#pragma GCC unroll 4
	for (int r = 0; r < R; r++)
#pragma GCC unroll 4
		for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_ps();
	const int64_t nb = k / 32;
	for (int64_t b = 0; b < nb; b++) {
		__m256i y[LEG_T];
		__m256 dy[LEG_T];
#pragma GCC unroll 4
		for (int t = 0; t < T; t++) {
			y[t] = _mm256_loadu_si256((const __m256i *)(act + t * astride + 32 * b));
			dy[t] = _mm256_broadcast_ss((const float *)(act + t * astride + Q8B_D(k)) + b);
		}
#pragma GCC unroll 4
		for (int r = 0; r < R; r++) {
			const uint8_t *dr = dec + r * dstride;
			__m256i q = _mm256_loadu_si256((const __m256i *)(dr + 32 * b));
			__m256 dw = _mm256_broadcast_ss((const float *)(dr + DEC_LEG_DW(k)) + b);
			__m256i qa = SIGNED ? _mm256_sign_epi8(q, q) : q;
#pragma GCC unroll 4
			for (int t = 0; t < T; t++) {
				__m256i p;
				if (SIGNED) {
					p = _mm256_madd_epi16(_mm256_maddubs_epi16(qa, _mm256_sign_epi8(y[t], q)), _mm256_set1_epi16(1));
				} else {
					__m256i init = _mm256_loadu_si256((const __m256i *)(act + t * astride + Q8B_INIT(k) + 32 * b));
					p = DPBUSD(init, q, y[t]);
				}
				acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_mul_ps(dw, dy[t]), acc[r][t]);
			}
		}
	}
#pragma GCC unroll 4
	for (int r = 0; r < R; r++) {
#pragma GCC unroll 4
		for (int t = 0; t < T; t++) {
			float s = F(hsum)(acc[r][t]);
			if (MINS) {
				const float *mw = (const float *)(dec + r * dstride + DEC_LEG_MW(k));
				const float *sv = (const float *)(act + t * astride + Q8B_S(k));
				__m256 m = _mm256_setzero_ps();
				int64_t b = 0;
				for (; b + 8 <= nb; b += 8) m = _mm256_fmadd_ps(_mm256_loadu_ps(mw + b), _mm256_loadu_ps(sv + b), m);
				s += F(hsum)(m);
				for (; b < nb; b++) s += mw[b] * sv[b];
			}
			out[t * ostride + r] = s;
		}
	}
}

// K-quants on decoded rows.
INL void F(tile_k)(const int R, const int T, const uint8_t *dec, int64_t dstride, const uint8_t *act, int64_t astride,
                   int64_t k, float *out, int64_t ostride) {
	__m256 acc[KQ_R][KQ_T];
#pragma GCC unroll 4
	for (int r = 0; r < R; r++)
#pragma GCC unroll 4
		for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_ps();
	const int64_t ns = k / 256;
	for (int64_t s = 0; s < ns; s++) {
		__m256i ai[KQ_R][KQ_T];
#pragma GCC unroll 4
		for (int r = 0; r < R; r++)
#pragma GCC unroll 4
			for (int t = 0; t < T; t++) ai[r][t] = _mm256_setzero_si256();
#pragma GCC unroll 8
		for (int c = 0; c < 8; c++) {
			__m256i y[KQ_T];
#pragma GCC unroll 4
			for (int t = 0; t < T; t++) y[t] = _mm256_loadu_si256((const __m256i *)(act + t * astride + 256 * s + 32 * c));
#pragma GCC unroll 4
			for (int r = 0; r < R; r++) {
				const uint8_t *dr = dec + r * dstride;
				__m256i q = _mm256_loadu_si256((const __m256i *)(dr + 256 * s + 32 * c));
				__m256i sc = _mm256_loadu_si256((const __m256i *)(dr + DEC_K_SCX(k) + 256 * s + 32 * c));
#pragma GCC unroll 4
				for (int t = 0; t < T; t++) ai[r][t] = DPWSSD(ai[r][t], _mm256_maddubs_epi16(q, y[t]), sc);
			}
		}
#pragma GCC unroll 4
		for (int t = 0; t < T; t++) {
			const uint8_t *at = act + t * astride;
			__m256i bs = _mm256_loadu_si256((const __m256i *)(at + Q8K_BS(k) + 32 * s));
			float dy = ((const float *)(at + Q8K_D(k)))[s];
#pragma GCC unroll 4
			for (int r = 0; r < R; r++) {
				const uint8_t *dr = dec + r * dstride;
				__m256i cf = _mm256_loadu_si256((const __m256i *)(dr + DEC_K_COEF(k) + 32 * s));
				__m256i bias = _mm256_madd_epi16(cf, bs);
				float da = ((const float *)(dr + DEC_K_DA(k)))[s] * dy;
				float db = ((const float *)(dr + DEC_K_DB(k)))[s] * dy;
				acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ai[r][t]), _mm256_set1_ps(da), acc[r][t]);
				acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(bias), _mm256_set1_ps(db), acc[r][t]);
			}
		}
	}
#pragma GCC unroll 4
	for (int r = 0; r < R; r++)
#pragma GCC unroll 4
		for (int t = 0; t < T; t++) out[t * ostride + r] = F(hsum)(acc[r][t]);
}

// Float weights (WT: 0 F32, 1 F16, 2 BF16) read in place; activations are
// floats already rounded to the weight type's precision.
INL __m256 F(load_w8)(const int WT, const uint8_t *p) {
	if (WT == 0) return _mm256_loadu_ps((const float *)p);
	__m128i h = _mm_loadu_si128((const __m128i *)p);
	if (WT == 1) return _mm256_cvtph_ps(h);
	return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

INL void F(tile_f)(const int R, const int T, const int WT, const uint8_t *w, int64_t wstride, const uint8_t *act,
                   int64_t astride, int64_t k, float *out, int64_t ostride) {
	const int es = WT == 0 ? 4 : 2;
	__m256 acc[FL_R][FL_T];
#pragma GCC unroll 4
	for (int r = 0; r < R; r++)
#pragma GCC unroll 4
		for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_ps();
	int64_t i = 0;
	for (; i + 8 <= k; i += 8) {
		__m256 x[FL_T];
#pragma GCC unroll 4
		for (int t = 0; t < T; t++) x[t] = _mm256_loadu_ps((const float *)(act + t * astride) + i);
#pragma GCC unroll 4
		for (int r = 0; r < R; r++) {
			__m256 wv = F(load_w8)(WT, w + r * wstride + i * es);
#pragma GCC unroll 4
			for (int t = 0; t < T; t++) acc[r][t] = _mm256_fmadd_ps(wv, x[t], acc[r][t]);
		}
	}
#pragma GCC unroll 4
	for (int r = 0; r < R; r++) {
#pragma GCC unroll 4
		for (int t = 0; t < T; t++) {
			float s = F(hsum)(acc[r][t]);
			for (int64_t j = i; j < k; j++) s += F(load_w1)(WT, w + r * wstride + j * es) * ((const float *)(act + t * astride))[j];
			out[t * ostride + r] = s;
		}
	}
}

#else
#define LK_ZMM_PART 3
#include "kern_x86_zmm.h"
#undef LK_ZMM_PART
#endif

// ---------------------------------------------------------------------------
// Matmul driver

// Each valid tile size is its own function (tiles are specialized on their
// size); a switch picks one for the rows and tokens left.
#define LK_R1(X, ...) X(1, __VA_ARGS__)
#define LK_R2(X, ...) LK_R1(X, __VA_ARGS__) X(2, __VA_ARGS__)
#define LK_R3(X, ...) LK_R2(X, __VA_ARGS__) X(3, __VA_ARGS__)
#define LK_R4(X, ...) LK_R3(X, __VA_ARGS__) X(4, __VA_ARGS__)
#define LK_T1(X, ...) X(1, __VA_ARGS__)
#define LK_T2(X, ...) LK_T1(X, __VA_ARGS__) X(2, __VA_ARGS__)
#define LK_T3(X, ...) LK_T2(X, __VA_ARGS__) X(3, __VA_ARGS__)
#define LK_T4(X, ...) LK_T3(X, __VA_ARGS__) X(4, __VA_ARGS__)
#define LK_PASTE2(a, b) a##b
#define LK_PASTE(a, b) LK_PASTE2(a, b)
#define LEG_RLIST LK_PASTE(LK_R, LEG_R)
#define LEG_TLIST LK_PASTE(LK_T, LEG_T)
#define KQ_RLIST LK_PASTE(LK_R, KQ_R)
#define KQ_TLIST LK_PASTE(LK_T, KQ_T)
#define FL_RLIST LK_PASTE(LK_R, FL_R)
#define FL_TLIST LK_PASTE(LK_T, FL_T)

#define LK_TILE_ARGS const uint8_t *dec, int64_t ds, const uint8_t *a, int64_t as, int64_t k, float *o, int64_t os

// Legacy tiles: variants V = 0 plain, 1 with mins, 2 signed.
#define DEF_LEG_T(T_, R_, V_) \
	FN void F(tleg_##V_##_##R_##_##T_)(LK_TILE_ARGS) { F(tile_leg)(R_, T_, V_ == 2, V_ == 1, dec, ds, a, as, k, o, os); }
#define DEF_LEG_R(R_, V_) LEG_TLIST(DEF_LEG_T, R_, V_)
#if LK_LEVEL != 3
LEG_RLIST(DEF_LEG_R, 0)
LEG_RLIST(DEF_LEG_R, 1)
#endif
#if LK_LEVEL == 1
LEG_RLIST(DEF_LEG_R, 2)
#endif
#define CASE_LEG_T(T_, R_, V_) \
	case R_ * 16 + T_: F(tleg_##V_##_##R_##_##T_)(dec, ds, a, as, k, o, os); break;
#define CASE_LEG_R(R_, V_) LEG_TLIST(CASE_LEG_T, R_, V_)

#define DEF_KQ_T(T_, R_, V_) \
	FN void F(tkq_##R_##_##T_)(LK_TILE_ARGS) { F(tile_k)(R_, T_, dec, ds, a, as, k, o, os); }
#define DEF_KQ_R(R_, V_) KQ_TLIST(DEF_KQ_T, R_, V_)
#if LK_LEVEL != 3
KQ_RLIST(DEF_KQ_R, 0)
#endif
#define CASE_KQ_T(T_, R_, V_) \
	case R_ * 16 + T_: F(tkq_##R_##_##T_)(dec, ds, a, as, k, o, os); break;
#define CASE_KQ_R(R_, V_) KQ_TLIST(CASE_KQ_T, R_, V_)

#define DEF_FL_T(T_, R_, V_) \
	FN void F(tfl_##V_##_##R_##_##T_)(LK_TILE_ARGS) { F(tile_f)(R_, T_, V_, dec, ds, a, as, k, o, os); }
#define DEF_FL_R(R_, V_) FL_TLIST(DEF_FL_T, R_, V_)
FL_RLIST(DEF_FL_R, 0)
FL_RLIST(DEF_FL_R, 1)
FL_RLIST(DEF_FL_R, 2)
#define CASE_FL_T(T_, R_, V_) \
	case R_ * 16 + T_: F(tfl_##V_##_##R_##_##T_)(dec, ds, a, as, k, o, os); break;
#define CASE_FL_R(R_, V_) FL_TLIST(CASE_FL_T, R_, V_)


typedef void (*F(decoder))(const uint8_t *, int64_t, uint8_t *);

// run_leg computes rows [r0, r1) × tokens [0, n) for a legacy type: it
// decodes a tile's rows once per block of tokens, then runs the tiles.
#if LK_LEVEL == 3
#define LK_ZMM_PART 4
#include "kern_x86_zmm.h"
#undef LK_ZMM_PART
#else
FN void F(run_leg)(int variant, F(decoder) dec_fn, const uint8_t *w, int64_t row_bytes, int64_t k, int64_t r0, int64_t r1,
                   const uint8_t *act, int64_t as, int64_t n, float *dst, int64_t os, uint8_t *scratch) {
	const int64_t ds = DEC_LEG_BYTES(k);
	const uint8_t *dec = scratch;
	for (int64_t t0 = 0; t0 < n; t0 += TOKEN_BLOCK) {
		const int64_t t1 = LK_MIN(n, t0 + TOKEN_BLOCK);
		for (int64_t r = r0; r < r1; r += LEG_R) {
			const int rn = (int)LK_MIN(LEG_R, r1 - r);
			for (int i = 0; i < rn; i++) dec_fn(w + (r + i) * row_bytes, k, scratch + i * ds);
			for (int64_t t = t0; t < t1; t += LEG_T) {
				const int tn = (int)LK_MIN(LEG_T, t1 - t);
				const uint8_t *a = act + t * as;
				float *o = dst + t * os + r;
				switch (variant) {
				case 0:
					switch (rn * 16 + tn) { LEG_RLIST(CASE_LEG_R, 0) }
					break;
				case 1:
					switch (rn * 16 + tn) { LEG_RLIST(CASE_LEG_R, 1) }
					break;
#if LK_LEVEL == 1
				case 2:
					switch (rn * 16 + tn) { LEG_RLIST(CASE_LEG_R, 2) }
					break;
#endif
				}
			}
		}
	}
}

FN void F(run_k)(F(decoder) dec_fn, const uint8_t *w, int64_t row_bytes, int64_t k, int64_t r0, int64_t r1,
                 const uint8_t *act, int64_t as, int64_t n, float *dst, int64_t os, uint8_t *scratch) {
	const int64_t ds = DEC_K_BYTES(k);
	const uint8_t *dec = scratch;
	for (int64_t t0 = 0; t0 < n; t0 += TOKEN_BLOCK) {
		const int64_t t1 = LK_MIN(n, t0 + TOKEN_BLOCK);
		for (int64_t r = r0; r < r1; r += KQ_R) {
			const int rn = (int)LK_MIN(KQ_R, r1 - r);
			for (int i = 0; i < rn; i++) dec_fn(w + (r + i) * row_bytes, k, scratch + i * ds);
			for (int64_t t = t0; t < t1; t += KQ_T) {
				const int tn = (int)LK_MIN(KQ_T, t1 - t);
				const uint8_t *a = act + t * as;
				float *o = dst + t * os + r;
				switch (rn * 16 + tn) { KQ_RLIST(CASE_KQ_R, 0) }
			}
		}
	}
}

#endif

FN void F(run_f)(int wt, const uint8_t *w, int64_t row_bytes, int64_t k, int64_t r0, int64_t r1, const uint8_t *act,
                 int64_t as, int64_t n, float *dst, int64_t os) {
	const int64_t ds = row_bytes;
	for (int64_t t0 = 0; t0 < n; t0 += TOKEN_BLOCK) {
		const int64_t t1 = LK_MIN(n, t0 + TOKEN_BLOCK);
		for (int64_t r = r0; r < r1; r += FL_R) {
			const int rn = (int)LK_MIN(FL_R, r1 - r);
			const uint8_t *dec = w + r * row_bytes;
			for (int64_t t = t0; t < t1; t += FL_T) {
				const int tn = (int)LK_MIN(FL_T, t1 - t);
				const uint8_t *a = act + t * as;
				float *o = dst + t * os + r;
				switch (wt) {
				case 0:
					switch (rn * 16 + tn) { FL_RLIST(CASE_FL_R, 0) }
					break;
				case 1:
					switch (rn * 16 + tn) { FL_RLIST(CASE_FL_R, 1) }
					break;
				case 2:
					switch (rn * 16 + tn) { FL_RLIST(CASE_FL_R, 2) }
					break;
				}
			}
		}
	}
}

LK_TARGET int F(lk_matmul)(int type, const uint8_t *w, int64_t row_bytes, int64_t k, int64_t r0, int64_t r1,
                           const uint8_t *act, int64_t astride, int64_t n, float *dst, int64_t dstride, uint8_t *scratch) {
	switch (type) {
	case LK_F32:
	case LK_F16:
	case LK_BF16:
		F(run_f)(type == LK_F32 ? 0 : type == LK_F16 ? 1 : 2, w, row_bytes, k, r0, r1, act, astride, n, dst, dstride);
		return 0;
	case LK_Q4_0:
		if (n == 1) { F(gemv_q4_0)(w, row_bytes, k, r0, r1, act, dst, scratch); return 0; }
		F(run_leg)(0, F(dec_q4_0), w, row_bytes, k, r0, r1, act, astride, n, dst, dstride, scratch);
		return 0;
	case LK_Q4_1:
		F(run_leg)(1, F(dec_q4_1), w, row_bytes, k, r0, r1, act, astride, n, dst, dstride, scratch);
		return 0;
	case LK_Q5_0:
#if LK_LEVEL != 3
		if (n == 1) { F(gemv_q5_0)(w, row_bytes, k, r0, r1, act, dst, scratch); return 0; }
#endif
		F(run_leg)(0, F(dec_q5_0), w, row_bytes, k, r0, r1, act, astride, n, dst, dstride, scratch);
		return 0;
	case LK_Q5_1:
		F(run_leg)(1, F(dec_q5_1), w, row_bytes, k, r0, r1, act, astride, n, dst, dstride, scratch);
		return 0;
	case LK_Q8_0:
		if (n == 1) { F(gemv_q8_0)(w, row_bytes, k, r0, r1, act, dst, scratch); return 0; }
		F(run_leg)(LK_LEVEL == 1 ? 2 : 0, F(dec_q8_0), w, row_bytes, k, r0, r1, act, astride, n, dst, dstride, scratch);
		return 0;
	case LK_Q2_K:
		if (n == 1) { F(gemv_q2_k)(w, row_bytes, k, r0, r1, act, dst, scratch); return 0; }
		F(run_k)(F(dec_q2_k), w, row_bytes, k, r0, r1, act, astride, n, dst, dstride, scratch);
		return 0;
	case LK_Q3_K:
		if (n == 1) { F(gemv_q3_k)(w, row_bytes, k, r0, r1, act, dst, scratch); return 0; }
		F(run_k)(F(dec_q3_k), w, row_bytes, k, r0, r1, act, astride, n, dst, dstride, scratch);
		return 0;
	case LK_Q4_K:
		if (n == 1) { F(gemv_q4_k)(w, row_bytes, k, r0, r1, act, dst, scratch); return 0; }
		F(run_k)(F(dec_q4_k), w, row_bytes, k, r0, r1, act, astride, n, dst, dstride, scratch);
		return 0;
	case LK_Q5_K:
		if (n == 1) { F(gemv_q5_k)(w, row_bytes, k, r0, r1, act, dst, scratch); return 0; }
		F(run_k)(F(dec_q5_k), w, row_bytes, k, r0, r1, act, astride, n, dst, dstride, scratch);
		return 0;
	case LK_Q6_K:
		if (n == 1) { F(gemv_q6_k)(w, row_bytes, k, r0, r1, act, dst, scratch); return 0; }
		F(run_k)(F(dec_q6_k), w, row_bytes, k, r0, r1, act, astride, n, dst, dstride, scratch);
		return 0;
	}
	return -1;
}

// ---------------------------------------------------------------------------
// Element-wise math

// expf for 8 lanes (Cephes polynomial; about 1 ulp on [-87, 88]; flushes
// below, saturates above).
INL __m256 F(exp8)(__m256 x) {
	x = _mm256_min_ps(x, _mm256_set1_ps(88.3762626647949f));
	x = _mm256_max_ps(x, _mm256_set1_ps(-88.3762626647949f));
	__m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
	x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
	__m256 z = _mm256_mul_ps(x, x);
	__m256 y = _mm256_set1_ps(1.9875691500E-4f);
	y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507E-3f));
	y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073E-3f));
	y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894E-2f));
	y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459E-1f));
	y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201E-1f));
	y = _mm256_fmadd_ps(y, z, _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
	__m256i n = _mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127));
	n = _mm256_max_epi32(n, _mm256_setzero_si256());
	n = _mm256_min_epi32(n, _mm256_set1_epi32(255));
	return _mm256_mul_ps(y, _mm256_castsi256_ps(_mm256_slli_epi32(n, 23)));
}

LK_TARGET int F(lk_swiglu)(float *dst, const float *gate, const float *up, int64_t n) {
	int64_t i = 0;
	const __m256 one = _mm256_set1_ps(1.0f);
	for (; i + 8 <= n; i += 8) {
		__m256 g = _mm256_loadu_ps(gate + i);
		__m256 e = F(exp8)(_mm256_sub_ps(_mm256_setzero_ps(), g));
		__m256 s = _mm256_div_ps(g, _mm256_add_ps(one, e));
		_mm256_storeu_ps(dst + i, _mm256_mul_ps(s, _mm256_loadu_ps(up + i)));
	}
	for (; i < n; i++) {
		float g = gate[i];
		dst[i] = g / (1.0f + expf(-g)) * up[i];
	}
	return 0;
}

// ---------------------------------------------------------------------------
// Attention (kern_attn_tmpl.h) over 16-lane float vectors: one zmm at the
// AVX-512 level, two ymm below it.

#if LK_LEVEL == 3
// exp for 16 lanes: exp8's polynomial.
INL __m512 F(exp16)(__m512 x) {
	x = _mm512_min_ps(x, _mm512_set1_ps(88.3762626647949f));
	x = _mm512_max_ps(x, _mm512_set1_ps(-88.3762626647949f));
	__m512 fx = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), x);
	x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(-2.12194440e-4f), x);
	__m512 z = _mm512_mul_ps(x, x);
	__m512 y = _mm512_set1_ps(1.9875691500E-4f);
	y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.3981999507E-3f));
	y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(8.3334519073E-3f));
	y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(4.1665795894E-2f));
	y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.6666665459E-1f));
	y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(5.0000001201E-1f));
	y = _mm512_fmadd_ps(y, z, _mm512_add_ps(x, _mm512_set1_ps(1.0f)));
	__m512i n = _mm512_add_epi32(_mm512_cvtps_epi32(fx), _mm512_set1_epi32(127));
	n = _mm512_max_epi32(n, _mm512_setzero_si512());
	n = _mm512_min_epi32(n, _mm512_set1_epi32(255));
	return _mm512_mul_ps(y, _mm512_castsi512_ps(_mm512_slli_epi32(n, 23)));
}
INL __m512 F(vf_keep)(__m512 v, int64_t n, float fill) {
	const __mmask16 m = n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
	return _mm512_mask_blend_ps(m, _mm512_set1_ps(fill), v);
}
INL float F(vf_rmax)(__m512 v) {
	__m256 m = _mm256_max_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
	__m128 s = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
	s = _mm_max_ps(s, _mm_movehl_ps(s, s));
	s = _mm_max_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}
#define vf __m512
#define VF_ZERO() _mm512_setzero_ps()
#define VF_SET1(a) _mm512_set1_ps(a)
#define VF_LOAD(p) _mm512_loadu_ps(p)
#define VF_LOAD_H(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p)))
#define VF_LOAD_I8(p) _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(p))))
#define VF_STORE(p, v) _mm512_storeu_ps((p), (v))
#define VF_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define VF_MUL(a, b) _mm512_mul_ps((a), (b))
#define VF_ADD(a, b) _mm512_add_ps((a), (b))
#define VF_SUB(a, b) _mm512_sub_ps((a), (b))
#define VF_MAX(a, b) _mm512_max_ps((a), (b))
#define VF_KEEP(v, n, fill) F(vf_keep)((v), (n), (fill))
#define VF_RMAX(v) F(vf_rmax)(v)
#define VF_RADD(v) F(hsum16)(v)
#define VF_EXP(v) F(exp16)(v)
#define LK_QR 6
#define LK_VR 6
#define LK_DV 4
#else
typedef struct {
	__m256 lo, hi;
} F(vf2);
INL F(vf2) F(vf_make)(__m256 lo, __m256 hi) {
	F(vf2) r = {lo, hi};
	return r;
}
INL F(vf2) F(vf_load_h)(const void *p) {
	const __m128i *h = (const __m128i *)p;
	return F(vf_make)(_mm256_cvtph_ps(_mm_loadu_si128(h)), _mm256_cvtph_ps(_mm_loadu_si128(h + 1)));
}
INL F(vf2) F(vf_load_i8)(const int8_t *p) {
	return F(vf_make)(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p))),
	                  _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(p + 8)))));
}
INL F(vf2) F(vf_keep)(F(vf2) v, int64_t n, float fill) {
	const __m256 nf = _mm256_set1_ps((float)(n < 0 ? 0 : n > 16 ? 16 : n)), f = _mm256_set1_ps(fill);
	const __m256 i0 = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7), i1 = _mm256_setr_ps(8, 9, 10, 11, 12, 13, 14, 15);
	return F(vf_make)(_mm256_blendv_ps(f, v.lo, _mm256_cmp_ps(i0, nf, _CMP_LT_OQ)),
	                  _mm256_blendv_ps(f, v.hi, _mm256_cmp_ps(i1, nf, _CMP_LT_OQ)));
}
INL float F(vf_rmax)(F(vf2) v) {
	__m256 m = _mm256_max_ps(v.lo, v.hi);
	__m128 s = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
	s = _mm_max_ps(s, _mm_movehl_ps(s, s));
	s = _mm_max_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}
#define vf F(vf2)
#define VF_ZERO() F(vf_make)(_mm256_setzero_ps(), _mm256_setzero_ps())
#define VF_SET1(a) F(vf_make)(_mm256_set1_ps(a), _mm256_set1_ps(a))
#define VF_LOAD(p) F(vf_make)(_mm256_loadu_ps(p), _mm256_loadu_ps((p) + 8))
#define VF_LOAD_H(p) F(vf_load_h)(p)
#define VF_LOAD_I8(p) F(vf_load_i8)(p)
#define VF_STORE(p, v) (_mm256_storeu_ps((p), (v).lo), _mm256_storeu_ps((p) + 8, (v).hi))
#define VF_BIN(op, a, b) F(vf_make)(op((a).lo, (b).lo), op((a).hi, (b).hi))
#define VF_FMA(a, b, c) F(vf_make)(_mm256_fmadd_ps((a).lo, (b).lo, (c).lo), _mm256_fmadd_ps((a).hi, (b).hi, (c).hi))
#define VF_MUL(a, b) VF_BIN(_mm256_mul_ps, a, b)
#define VF_ADD(a, b) VF_BIN(_mm256_add_ps, a, b)
#define VF_SUB(a, b) VF_BIN(_mm256_sub_ps, a, b)
#define VF_MAX(a, b) VF_BIN(_mm256_max_ps, a, b)
#define VF_KEEP(v, n, fill) F(vf_keep)((v), (n), (fill))
#define VF_RMAX(v) F(vf_rmax)(v)
#define VF_RADD(v) F(hsum)(_mm256_add_ps((v).lo, (v).hi))
#define VF_EXP(v) F(vf_make)(F(exp8)((v).lo), F(exp8)((v).hi))
#define LK_QR 1
#define LK_VR 2
#define LK_DV 2
#endif
#define F2H(x) _cvtss_sh((x), 0)

#include "kern_attn_tmpl.h"

#undef vf
#undef VF_ZERO
#undef VF_SET1
#undef VF_LOAD
#undef VF_LOAD_H
#undef VF_LOAD_I8
#undef VF_STORE
#undef VF_BIN
#undef VF_FMA
#undef VF_MUL
#undef VF_ADD
#undef VF_SUB
#undef VF_MAX
#undef VF_KEEP
#undef VF_RMAX
#undef VF_RADD
#undef VF_EXP
#undef LK_QR
#undef LK_VR
#undef LK_DV
#undef F2H

#undef LK_CAT2
#undef LK_CAT
#undef F
#undef INL
#undef FN
#undef DPBUSD
#undef DPWSSD
#undef LEG_R
#undef LEG_T
#undef KQ_R
#undef KQ_T
#undef FL_R
#undef FL_T
#undef TOKEN_BLOCK
#undef LK_MIN
#undef KV_R
#undef LQ_R
#undef LK_R1
#undef LK_R2
#undef LK_R3
#undef LK_R4
#undef LK_T1
#undef LK_T2
#undef LK_T3
#undef LK_T4
#undef LK_PASTE2
#undef LK_PASTE
#undef LEG_RLIST
#undef LEG_TLIST
#undef KQ_RLIST
#undef KQ_TLIST
#undef FL_RLIST
#undef FL_TLIST
#undef LK_TILE_ARGS
#undef DEF_LEG_T
#undef DEF_LEG_R
#undef CASE_LEG_T
#undef CASE_LEG_R
#undef DEF_KQ_T
#undef DEF_KQ_R
#undef CASE_KQ_T
#undef CASE_KQ_R
#undef DEF_FL_T
#undef DEF_FL_R
#undef CASE_FL_T
#undef CASE_FL_R

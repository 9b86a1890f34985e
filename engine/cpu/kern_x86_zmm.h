// 512-bit kernels of the AVX-512 level, included by kern_x86_tmpl.h in
// parts: LK_ZMM_PART 1 fused legacy matrix-vector products, 2 fused K-quant
// matrix-vector products, 3 float tiles, 4 panel matrix-matrix products.
//
// Quantized products work on panels of 16 weight rows, one row per 32-bit
// lane. Each row's integer dot product of a block (or super-block) is
// exact; the float work per block is then the same chain for every row and
// token: acc = fma(float(isum), dw·dy, acc) (K-quants: one for Σ sc·q·y,
// one for Σ coef·bsum), in block order, with the row's lane as the result.
// The matrix-matrix kernels reach that layout by transposing a panel's
// decoded rows once per block of tokens, so each weight vector meets many
// tokens; the matrix-vector kernels read the weights as stored and sum each
// row's lanes exactly. Both give the same bits, so a token's product does
// not depend on its batch (checked by the tests).
//
// Why one long file: its four parts share the panel layout and the
// helper macros defined at its top, and are included inside the level
// template, which a split would have to repeat.

#define LK_PANEL 16
// LK_Q4K_GENERIC 1 sends Q4_K through the generic K-quant panel (to compare).
#ifndef LK_Q4K_GENERIC
#define LK_Q4K_GENERIC 0
#endif

#if LK_ZMM_PART == 1

// How far ahead of the current block the matrix-vector kernels prefetch
// each weight row: the hardware prefetchers alone leave memory bandwidth
// unused with 16 row streams per thread.
#ifndef LK_PF_NEAR
#define LK_PF_NEAR 192
#endif
#ifndef LK_PF_FAR
#define LK_PF_FAR 1024
#endif
// LK_PREFETCH2 prefetches the n bytes at p + near into L1 and at p + far
// into L2 (software prefetch measured essential: the rows of a panel are
// read side by side, more streams than the hardware prefetchers follow).
//
// pos is p's offset in its row of row_bytes bytes. A distance that runs
// past the row's end continues in the same row of the next panel (LK_PANEL
// rows further), which the kernel reads next: otherwise each panel would
// start with its rows' first bytes cold. n counts whole lines, so a step
// that is not a multiple of 64 bytes must pass at least step+63.
// (Prefetches never fault, so addresses past the weight are harmless.)
#define LK_PREFETCH2(p, pos, row_bytes, n)                                                                             \
	do {                                                                                                               \
		const int64_t jump_ = (LK_PANEL - 1) * (row_bytes);                                                            \
		const char *near_ = (const char *)(p) + LK_PF_NEAR + ((pos) + LK_PF_NEAR >= (row_bytes) ? jump_ : 0);          \
		const char *far_ = (const char *)(p) + LK_PF_FAR + ((pos) + LK_PF_FAR >= (row_bytes) ? jump_ : 0);             \
		for (int l_ = 0; l_ < (n); l_ += 64) {                                                                         \
			_mm_prefetch(near_ + l_, _MM_HINT_T0);                                                                     \
			_mm_prefetch(far_ + l_, _MM_HINT_T1);                                                                      \
		}                                                                                                              \
	} while (0)

// hsum16 adds the 16 lanes: upper half onto lower half, then as hsum.
INL float F(hsum16)(__m512 v) {
	return F(hsum)(_mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1)));
}

// red16x2 sums lanes 0-7 and 8-15 of each of 16 vectors: lane r of *lo is
// Σ p[r][0..7], lane r of *hi is Σ p[r][8..15].
INL void F(red16x2)(const __m512i *p, __m512i *lo, __m512i *hi) {
	__m512i a[8], b[4];
#pragma GCC unroll 8
	for (int i = 0; i < 8; i++) {
		a[i] = _mm512_add_epi32(_mm512_unpacklo_epi32(p[2 * i], p[2 * i + 1]), _mm512_unpackhi_epi32(p[2 * i], p[2 * i + 1]));
	}
#pragma GCC unroll 4
	for (int i = 0; i < 4; i++) {
		b[i] = _mm512_add_epi32(_mm512_unpacklo_epi64(a[2 * i], a[2 * i + 1]), _mm512_unpackhi_epi64(a[2 * i], a[2 * i + 1]));
	}
	// b[i]: 128-bit lane j holds rows 4i..4i+3 summed over that lane.
	__m512i u0 = _mm512_add_epi32(_mm512_shuffle_i32x4(b[0], b[1], _MM_SHUFFLE(2, 0, 2, 0)),
	                              _mm512_shuffle_i32x4(b[0], b[1], _MM_SHUFFLE(3, 1, 3, 1)));
	__m512i u1 = _mm512_add_epi32(_mm512_shuffle_i32x4(b[2], b[3], _MM_SHUFFLE(2, 0, 2, 0)),
	                              _mm512_shuffle_i32x4(b[2], b[3], _MM_SHUFFLE(3, 1, 3, 1)));
	*lo = _mm512_shuffle_i32x4(u0, u1, _MM_SHUFFLE(2, 0, 2, 0));
	*hi = _mm512_shuffle_i32x4(u0, u1, _MM_SHUFFLE(3, 1, 3, 1));
}

// lq_quants2 returns the decoded quants of two consecutive blocks (block b
// in bytes 0-31, block b+1 in bytes 32-63), as the decoders store them.
INL __m512i F(lq_quants2)(const int TY, const uint8_t *blk) {
	const int BB = TY == LK_Q4_0 ? BYTES_Q4_0 : TY == LK_Q5_0 ? BYTES_Q5_0 : BYTES_Q8_0;
	if (TY == LK_Q8_0) {
		__m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(blk + 2))),
		                               _mm256_loadu_si256((const __m256i *)(blk + BB + 2)), 1);
		return _mm512_xor_si512(q, _mm512_set1_epi8((char)0x80));
	}
	const int qo = TY == LK_Q4_0 ? 2 : 6;
	__m512i v = _mm512_broadcast_i64x2(_mm_loadu_si128((const __m128i *)(blk + qo)));
	v = _mm512_mask_broadcast_i64x2(v, 0xF0, _mm_loadu_si128((const __m128i *)(blk + BB + qo)));
	v = _mm512_srlv_epi64(v, _mm512_setr_epi64(0, 0, 4, 4, 0, 0, 4, 4));
	v = _mm512_and_si512(v, _mm512_set1_epi8(0x0F));
	if (TY == LK_Q5_0) {
		uint64_t bits = (uint64_t)lk_u32(blk + 2) | ((uint64_t)lk_u32(blk + BB + 2) << 32);
		v = _mm512_or_si512(v, _mm512_maskz_mov_epi8((__mmask64)bits, _mm512_set1_epi8(0x10)));
	}
	return v;
}

// rows16 returns the 32-bit index vector r·stride for rows 0..15.
INL __m512i F(rows16)(int64_t stride) {
	return _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32((int)stride));
}

// h2f16 gathers the binary16 value at base + index of each valid lane.
INL __m512 F(h2f16)(__mmask16 valid, __m512i index, const uint8_t *base) {
	__m512i g = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), valid, index, (const void *)base, 1);
	return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(g));
}

// lq_dw8 returns the binary16 scales of 8 consecutive blocks as floats,
// read with word permutes (they lie within the blocks' first 4·64 bytes).
INL __m256 F(lq_dw8)(const int BB, const uint8_t *blk0) {
	const int w0 = 0, w1 = BB / 2, w2 = BB, w3 = 3 * BB / 2, w4 = 2 * BB, w5 = 5 * BB / 2, w6 = 3 * BB, w7 = 7 * BB / 2;
	__m512i a = _mm512_loadu_si512(blk0), b = _mm512_loadu_si512(blk0 + 64);
	__m128i h;
	if (BB == BYTES_Q4_0) { // word offsets 0..63: all within a and b
		const __m512i idx = _mm512_setr_epi32(w0 | (w1 << 16), w2 | (w3 << 16), w4 | (w5 << 16), w6 | (w7 << 16), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
		h = _mm512_castsi512_si128(_mm512_permutex2var_epi16(a, idx, b));
	} else { // the last scales come from the next 128 bytes
		// Masked loads: never touch bytes past the 8 blocks.
		const int rest = 8 * BB - 128;
		const __mmask64 mc = rest >= 64 ? ~0ull : (1ull << rest) - 1;
		const __mmask64 md = rest >= 128 ? ~0ull : rest <= 64 ? 0 : (1ull << (rest - 64)) - 1;
		__m512i c = _mm512_maskz_loadu_epi8(mc, blk0 + 128), d = _mm512_maskz_loadu_epi8(md, blk0 + 192);
		const int n = BB == BYTES_Q5_0 ? 6 : 4; // scales in the first 128 bytes
		int wi[8] = {w0, w1, w2, w3, w4, w5, w6, w7};
		uint16_t lo[32] = {0}, hi[32] = {0};
		for (int i = 0; i < 8; i++) {
			if (i < n) lo[i] = (uint16_t)wi[i];
			else hi[i] = (uint16_t)(wi[i] - 64);
		}
		__m512i il = _mm512_loadu_si512(lo), ih = _mm512_loadu_si512(hi);
		__m512i x = _mm512_permutex2var_epi16(a, il, b), y = _mm512_permutex2var_epi16(c, ih, d);
		h = _mm512_castsi512_si128(_mm512_mask_blend_epi16((__mmask32)(0xFF & ~((1u << n) - 1)), x, y));
	}
	return _mm256_cvtph_ps(h);
}

// transpose16x8 turns 16 rows of 8 floats (v[r]) into 8 vectors of 16
// (out[b], lane r = v[r][b]).
INL void F(transpose16x8)(const __m256 *v, __m512 *out) {
	__m512 z[8], t[8], u[8];
#pragma GCC unroll 8
	for (int i = 0; i < 8; i++) z[i] = _mm512_insertf32x8(_mm512_castps256_ps512(v[i]), v[i + 8], 1);
	// 8×8 transpose within each 256-bit half.
#pragma GCC unroll 4
	for (int i = 0; i < 4; i++) {
		t[2 * i] = _mm512_unpacklo_ps(z[2 * i], z[2 * i + 1]);
		t[2 * i + 1] = _mm512_unpackhi_ps(z[2 * i], z[2 * i + 1]);
	}
#pragma GCC unroll 2
	for (int i = 0; i < 2; i++) {
		u[4 * i + 0] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
		u[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
		u[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
		u[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
	}
	// u[0..3]: rows 0-3 (and 8-11), columns {0,4},{1,5},{2,6},{3,7} per 128-bit lane;
	// u[4..7]: rows 4-7 (and 12-15).
	const __m512i lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13), hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
#pragma GCC unroll 4
	for (int i = 0; i < 4; i++) {
		out[i] = _mm512_castpd_ps(_mm512_permutex2var_pd(_mm512_castps_pd(u[i]), lo, _mm512_castps_pd(u[4 + i])));
		out[i + 4] = _mm512_castpd_ps(_mm512_permutex2var_pd(_mm512_castps_pd(u[i]), hi, _mm512_castps_pd(u[4 + i])));
	}
}

// quad16 loads 16 bytes at p + i·stride for i = 0..3 into one vector.
INL __m512i F(quad16)(const uint8_t *p, int64_t stride) {
	__m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)p));
	v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + stride)), 1);
	v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + 2 * stride)), 2);
	return _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + 3 * stride)), 3);
}

// red4x4 sums the 4 lanes of each row in 4 vectors of 4 rows × 4 lanes
// (vector i, 128-bit lane j: row 4i+j) into one vector, lane r = row r.
INL __m512i F(red4x4)(const __m512i *p) {
	__m512i s01 = _mm512_add_epi32(_mm512_unpacklo_epi32(p[0], p[1]), _mm512_unpackhi_epi32(p[0], p[1]));
	__m512i s23 = _mm512_add_epi32(_mm512_unpacklo_epi32(p[2], p[3]), _mm512_unpackhi_epi32(p[2], p[3]));
	// 128-bit lane j, element e: row 4e+j.
	__m512i s = _mm512_add_epi32(_mm512_unpacklo_epi64(s01, s23), _mm512_unpackhi_epi64(s01, s23));
	return _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), s);
}

// red16x4 sums, for 16 rows r (p[r]: 128-bit lane j holds 4 partial sums
// of block j), each block's lanes: out[j] lane r = Σ p[r] lane group j.
INL void F(red16x4)(const __m512i *p, __m512i *out) {
	__m512i a[8], b[4];
#pragma GCC unroll 8
	for (int i = 0; i < 8; i++) {
		a[i] = _mm512_add_epi32(_mm512_unpacklo_epi32(p[2 * i], p[2 * i + 1]), _mm512_unpackhi_epi32(p[2 * i], p[2 * i + 1]));
	}
#pragma GCC unroll 4
	for (int i = 0; i < 4; i++) {
		b[i] = _mm512_add_epi32(_mm512_unpacklo_epi64(a[2 * i], a[2 * i + 1]), _mm512_unpackhi_epi64(a[2 * i], a[2 * i + 1]));
	}
	// b[i], 128-bit lane j: rows 4i..4i+3 of block j. Transpose the lanes.
	__m512i t0 = _mm512_shuffle_i32x4(b[0], b[1], _MM_SHUFFLE(1, 0, 1, 0));
	__m512i t1 = _mm512_shuffle_i32x4(b[0], b[1], _MM_SHUFFLE(3, 2, 3, 2));
	__m512i t2 = _mm512_shuffle_i32x4(b[2], b[3], _MM_SHUFFLE(1, 0, 1, 0));
	__m512i t3 = _mm512_shuffle_i32x4(b[2], b[3], _MM_SHUFFLE(3, 2, 3, 2));
	out[0] = _mm512_shuffle_i32x4(t0, t2, _MM_SHUFFLE(2, 0, 2, 0));
	out[1] = _mm512_shuffle_i32x4(t0, t2, _MM_SHUFFLE(3, 1, 3, 1));
	out[2] = _mm512_shuffle_i32x4(t1, t3, _MM_SHUFFLE(2, 0, 2, 0));
	out[3] = _mm512_shuffle_i32x4(t1, t3, _MM_SHUFFLE(3, 1, 3, 1));
}

// gemv_q40_panel computes one token's product for rows 0..nr-1 (nr ≤ 16)
// of a Q4_0 weight, four blocks of a row per vector: a word permute
// gathers their 64 quant bytes, which meet the activations regrouped the
// same way (y4), and a short reduction gives each block's exact sum. The
// 16 rows are read side by side, each prefetched ahead.
INL void F(gemv_q40_panel)(const uint8_t *w, int64_t row_bytes, int64_t k, int nr, const uint8_t *act, float *out,
                           uint8_t *scratch) {
	(void)scratch;
	const int BB = BYTES_Q4_0;
	const int64_t nb = k / 32;
	const float *dy = (const float *)(act + Q8B_D(k));
	const int32_t *itot = (const int32_t *)(act + Q8B_IT(k));
	const __mmask16 valid = (__mmask16)((1u << nr) - 1);
	// Word indices: quants of block j (words 9j+1..9j+8) and the 4 scales;
	// it regroups the [row][block] scales per block (rows 0-15 of block 2h, then 2h+1).
	uint16_t iq[32], id[32] = {0}, it[32];
	for (int j = 0; j < 4; j++)
		for (int i = 0; i < 8; i++) iq[8 * j + i] = (uint16_t)(9 * j + 1 + i);
	for (int j = 0; j < 4; j++) id[j] = (uint16_t)(9 * j);
	for (int i = 0; i < 32; i++) it[i] = (uint16_t)(4 * (i % 16) + i / 16);
	const __m512i idxq = _mm512_loadu_si512(iq), idxd = _mm512_loadu_si512(id), idxt = _mm512_loadu_si512(it);
	const __m512i idxt2 = _mm512_add_epi16(idxt, _mm512_set1_epi16(2));
	int64_t off[LK_PANEL];
	for (int r = 0; r < LK_PANEL; r++) off[r] = (r < nr ? r : 0) * row_bytes;
	__m512 acc = _mm512_setzero_ps();
	for (int64_t g = 0; g < (nb + 3) / 4; g++) {
		const int cnt = (int)LK_MIN(4, nb - 4 * g), bytes = BB * cnt;
		const __mmask64 ma = bytes >= 64 ? ~0ull : (1ull << bytes) - 1;
		const __mmask64 mb = bytes <= 64 ? 0 : (1ull << (bytes - 64)) - 1;
		const __m512i ylo = _mm512_loadu_si512(act + Q8B_Y4(k) + 128 * g);
		const __m512i yhi = _mm512_loadu_si512(act + Q8B_Y4(k) + 128 * g + 64);
		__m512i p[LK_PANEL];
		uint64_t dsc[LK_PANEL];
#pragma GCC unroll 16
		for (int r = 0; r < LK_PANEL; r++) {
			const uint8_t *blk = w + off[r] + BB * 4 * g;
			LK_PREFETCH2(blk, BB * 4 * g, row_bytes, 128);
			const __m512i a = _mm512_maskz_loadu_epi8(ma, blk), b = _mm512_maskz_loadu_epi8(mb, blk + 64);
			const __m512i q = _mm512_permutex2var_epi16(a, idxq, b);
			const __m512i lo = _mm512_and_si512(q, _mm512_set1_epi8(0x0F));
			const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), _mm512_set1_epi8(0x0F));
			p[r] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, ylo), hi, yhi);
			dsc[r] = (uint64_t)_mm_cvtsi128_si64(_mm512_castsi512_si128(_mm512_permutex2var_epi16(a, idxd, b)));
		}
		__m512i sums[4];
		F(red16x4)(p, sums);
		const __m512i d0 = _mm512_loadu_si512(dsc), d1 = _mm512_loadu_si512(dsc + 8);
		const __m512i w01 = _mm512_permutex2var_epi16(d0, idxt, d1), w23 = _mm512_permutex2var_epi16(d0, idxt2, d1);
		__m512 dw[4];
		dw[0] = _mm512_cvtph_ps(_mm512_castsi512_si256(w01));
		dw[1] = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(w01, 1));
		dw[2] = _mm512_cvtph_ps(_mm512_castsi512_si256(w23));
		dw[3] = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(w23, 1));
		for (int j = 0; j < cnt; j++) {
			const int64_t bi = 4 * g + j;
			const __m512i is = _mm512_add_epi32(sums[j], _mm512_set1_epi32(itot[bi]));
			acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), _mm512_mul_ps(dw[j], _mm512_set1_ps(dy[bi])), acc);
		}
	}
	_mm512_mask_storeu_ps(out, valid, acc);
}

// gemv_q80_panel computes one token's product for rows 0..nr-1 (nr ≤ 16)
// of a Q8_0 weight, two blocks of a row per vector; the 16 rows' block
// sums come out of one reduction per pair of blocks.
INL void F(gemv_q80_panel)(const uint8_t *w, int64_t row_bytes, int64_t k, int nr, const uint8_t *act, float *out,
                           uint8_t *scratch) {
	(void)scratch;
	const int BB = BYTES_Q8_0;
	const int64_t nb = k / 32;
	const float *dy = (const float *)(act + Q8B_D(k));
	const int32_t *itot = (const int32_t *)(act + Q8B_IT(k));
	const __mmask16 valid = (__mmask16)((1u << nr) - 1);
	int64_t off[LK_PANEL];
	for (int r = 0; r < LK_PANEL; r++) off[r] = (r < nr ? r : 0) * row_bytes;
	__m512 acc = _mm512_setzero_ps();
	for (int64_t b0 = 0; b0 < nb; b0 += 8) {
		const int cnt = (int)LK_MIN(8, nb - b0);
		__m512 dw[8];
		if (cnt == 8) {
			__m256 d8[LK_PANEL];
			for (int r = 0; r < LK_PANEL; r++) {
				const uint8_t *blk = w + off[r] + BB * b0;
				LK_PREFETCH2(blk, BB * b0, row_bytes, 8 * BB);
				d8[r] = F(lq_dw8)(BB, blk);
			}
			F(transpose16x8)(d8, dw);
		} else {
			for (int j = 0; j < cnt; j++) {
				float d16[LK_PANEL];
				for (int r = 0; r < LK_PANEL; r++) d16[r] = F(h2f)(w + off[r] + BB * (b0 + j));
				dw[j] = _mm512_loadu_ps(d16);
			}
		}
		// Two blocks of a row per vector: the quants of blocks j and j+1
		// side by side (two 32-byte loads), meeting the two blocks'
		// activations; red16x2 then gives each block's sum.
		for (int j = 0; j < cnt; j += 2) {
			const int64_t b = b0 + j;
			const int two = j + 1 < cnt;
			const __m512i y = _mm512_maskz_loadu_epi8(two ? ~0ull : 0xFFFFFFFFull, act + 32 * b);
			__m512i p[LK_PANEL];
#pragma GCC unroll 16
			for (int r = 0; r < LK_PANEL; r++) {
				const uint8_t *blk = w + off[r] + BB * b;
				const __m256i lo = _mm256_loadu_si256((const __m256i *)(blk + 2));
				const __m512i q = two ? _mm512_inserti64x4(_mm512_castsi256_si512(lo), _mm256_loadu_si256((const __m256i *)(blk + BB + 2)), 1)
				                      : _mm512_zextsi256_si512(lo);
				p[r] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_xor_si512(q, _mm512_set1_epi8((char)0x80)), y);
			}
			__m512i s0, s1;
			F(red16x2)(p, &s0, &s1);
			acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, _mm512_set1_epi32(itot[b]))),
			                      _mm512_mul_ps(dw[j], _mm512_set1_ps(dy[b])), acc);
			if (two) {
				acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s1, _mm512_set1_epi32(itot[b + 1]))),
				                      _mm512_mul_ps(dw[j + 1], _mm512_set1_ps(dy[b + 1])), acc);
			}
		}
	}
	_mm512_mask_storeu_ps(out, valid, acc);
}

INL void F(gemv_leg_panel)(const int TY, const uint8_t *w, int64_t row_bytes, int64_t k, int nr, const uint8_t *act,
                           float *out, uint8_t *scratch) {
	if (TY == LK_Q4_0) {
		F(gemv_q40_panel)(w, row_bytes, k, nr, act, out, scratch);
		return;
	}
	F(gemv_q80_panel)(w, row_bytes, k, nr, act, out, scratch);
}

// gemv_q5_0 is not fused at this level (Q5_0 takes the panel path).
#elif LK_ZMM_PART == 2

// ks_scale4 spreads per-16 scales 4m..4m+3 (int16 lanes of sc) over the
// 32 int16 lanes of a zmm, 8 lanes each.
INL __m512i F(ks_scale4)(__m256i sc, const int m) {
	const __m512i idx = _mm512_set_epi16(4 * m + 3, 4 * m + 3, 4 * m + 3, 4 * m + 3, 4 * m + 3, 4 * m + 3, 4 * m + 3,
	                                     4 * m + 3, 4 * m + 2, 4 * m + 2, 4 * m + 2, 4 * m + 2, 4 * m + 2, 4 * m + 2,
	                                     4 * m + 2, 4 * m + 2, 4 * m + 1, 4 * m + 1, 4 * m + 1, 4 * m + 1, 4 * m + 1,
	                                     4 * m + 1, 4 * m + 1, 4 * m + 1, 4 * m, 4 * m, 4 * m, 4 * m, 4 * m, 4 * m, 4 * m,
	                                     4 * m);
	return _mm512_permutexvar_epi16(idx, _mm512_castsi256_si512(sc));
}

// ks_quants64 returns the quants of elements 64m..64m+63 of a super-block.
INL __m512i F(ks_quants64)(const int TY, const uint8_t *blk, const int m) {
	if (TY == LK_Q4_K || TY == LK_Q5_K) {
		const int qo = TY == LK_Q4_K ? 16 : 48;
		// Low nibbles in the low half, high nibbles in the high half.
		__m512i v = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(blk + qo + 32 * m)));
		v = _mm512_srlv_epi16(v, _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(4), 1));
		v = _mm512_and_si512(v, _mm512_set1_epi8(0x0F));
		if (TY == LK_Q5_K) {
			__m256i qh = _mm256_loadu_si256((const __m256i *)(blk + 16));
			__m512i h = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_srli_epi16(qh, 2 * m)), _mm256_srli_epi16(qh, 2 * m + 1), 1);
			h = _mm512_slli_epi16(_mm512_and_si512(h, _mm512_set1_epi8(1)), 4);
			v = _mm512_or_si512(v, h);
		}
		return v;
	}
	// 16-bit lane shift counts: c0 for the low 32 bytes, c1 for the high.
#define LK_HALVES(c0, c1) _mm512_inserti64x4(_mm512_set1_epi16(c0), _mm256_set1_epi16(c1), 1)
	const __m512i m3 = _mm512_set1_epi8(3);
	if (TY == LK_Q6_K) {
		const int n = m / 2;
		__m512i l = _mm512_loadu_si512(blk + 64 * n);
		if (m % 2) l = _mm512_srli_epi16(l, 4);
		l = _mm512_and_si512(l, _mm512_set1_epi8(0x0F));
		__m512i h = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(blk + 128 + 32 * n)));
		if (m % 2 == 0) {
			h = _mm512_and_si512(h, _mm512_inserti64x4(_mm512_set1_epi8(0x03), _mm256_set1_epi8(0x0C), 1));
			h = _mm512_sllv_epi16(h, LK_HALVES(4, 2));
		} else {
			h = _mm512_and_si512(h, _mm512_inserti64x4(_mm512_set1_epi8(0x30), _mm256_set1_epi8((char)0xC0), 1));
			h = _mm512_srlv_epi16(h, LK_HALVES(0, 2));
		}
		return _mm512_or_si512(l, h);
	}
	// Q2_K, Q3_K: chunks 2m and 2m+1 take bit pairs 2(2m%4) and 2(2m%4)+2
	// of the same 32 bytes.
	const int n = m / 2, j0 = (2 * m) % 4;
	__m512i x = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(blk + (TY == LK_Q2_K ? 16 : 32) + 32 * n)));
	__m512i lo = _mm512_and_si512(_mm512_srlv_epi16(x, LK_HALVES(2 * j0, 2 * j0 + 2)), m3);
	if (TY == LK_Q2_K) return lo;
	__m512i hm = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)blk));
	__m512i hb = _mm512_and_si512(_mm512_srlv_epi16(hm, LK_HALVES(2 * m, 2 * m + 1)), _mm512_set1_epi8(1));
	return _mm512_or_si512(lo, _mm512_slli_epi16(hb, 2));
#undef LK_HALVES
}

// gemv_q4k_panel is gemv_k_panel for Q4_K with less work per super-block:
// the 6-bit scales and mins unpack in general registers (SWAR, as ggml's
// kmask code), and each 64-byte load of quants splits into two vectors of
// nibbles that meet activations regrouped once per super-block for all 16
// rows (low nibbles: sub-blocks 4h and 4h+2; high: 4h+1 and 4h+3). The
// integer sums are those of gemv_k_panel, so the results are the same bits.
INL void F(gemv_q4k_panel)(const uint8_t *w, int64_t row_bytes, int64_t k, int nr, const uint8_t *act, float *out) {
	const int bb = BYTES_Q4_K;
	const int64_t ns = k / 256;
	const float *yd = (const float *)(act + Q8K_D(k));
	const __mmask16 valid = (__mmask16)((1u << nr) - 1);
	const __m128i dupm = _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
	const __m512i m4 = _mm512_set1_epi8(0x0F);
	// Scale lanes: vector (h, half) takes sub-blocks 4h+half (int16 lanes
	// 0-15) and 4h+half+2 (lanes 16-31).
	__m512i sidx[4];
	for (int v = 0; v < 4; v++) {
		const int j0 = 4 * (v / 2) + v % 2;
		sidx[v] = _mm512_inserti64x4(_mm512_set1_epi16((short)j0), _mm256_set1_epi16((short)(j0 + 2)), 1);
	}
	__m512 acc = _mm512_setzero_ps();
	__m512i part[LK_PANEL];
	float da[LK_PANEL], db[LK_PANEL];
	for (int64_t s = 0; s < ns; s++) {
		const int8_t *y = (const int8_t *)act + 256 * s;
		const __m256i bs = _mm256_loadu_si256((const __m256i *)(act + Q8K_BS(k) + 32 * s));
		__m512i yv[4];
		for (int v = 0; v < 4; v++) {
			const int8_t *y0 = y + 128 * (v / 2) + 32 * (v % 2);
			yv[v] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)y0)),
			                           _mm256_loadu_si256((const __m256i *)(y0 + 64)), 1);
		}
		for (int r = 0; r < LK_PANEL; r++) {
			if (r >= nr) {
				part[r] = _mm512_setzero_si512();
				da[r] = db[r] = 0;
				continue;
			}
			const uint8_t *blk = w + r * row_bytes + bb * s;
			LK_PREFETCH2(blk, bb * s, row_bytes, bb);
			const uint32_t a = lk_u32(blk + 4), b = lk_u32(blk + 8), c = lk_u32(blk + 12);
			const uint64_t sc8 = (uint64_t)(a & 0x3F3F3F3Fu) | (uint64_t)((c & 0x0F0F0F0Fu) | ((a >> 2) & 0x30303030u)) << 32;
			const uint64_t mn8 = (uint64_t)(b & 0x3F3F3F3Fu) | (uint64_t)(((c >> 4) & 0x0F0F0F0Fu) | ((b >> 2) & 0x30303030u)) << 32;
			const __m128i sm = _mm_set_epi64x((long long)mn8, (long long)sc8);
			const __m512i scw = _mm512_castsi128_si512(_mm_cvtepu8_epi16(sm));
			const __m256i cf = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(sm, dupm));
			da[r] = F(h2f)(blk);
			db[r] = -F(h2f)(blk + 2);
			const __m512i x0 = _mm512_loadu_si512(blk + 16), x1 = _mm512_loadu_si512(blk + 80);
			const __m512i q0 = _mm512_and_si512(x0, m4), q1 = _mm512_and_si512(_mm512_srli_epi16(x0, 4), m4);
			const __m512i q2 = _mm512_and_si512(x1, m4), q3 = _mm512_and_si512(_mm512_srli_epi16(x1, 4), m4);
			__m512i s0 = _mm512_dpwssd_epi32(_mm512_setzero_si512(), _mm512_maddubs_epi16(q0, yv[0]), _mm512_permutexvar_epi16(sidx[0], scw));
			__m512i s1 = _mm512_dpwssd_epi32(_mm512_setzero_si512(), _mm512_maddubs_epi16(q1, yv[1]), _mm512_permutexvar_epi16(sidx[1], scw));
			s0 = _mm512_dpwssd_epi32(s0, _mm512_maddubs_epi16(q2, yv[2]), _mm512_permutexvar_epi16(sidx[2], scw));
			s1 = _mm512_dpwssd_epi32(s1, _mm512_maddubs_epi16(q3, yv[3]), _mm512_permutexvar_epi16(sidx[3], scw));
			const __m512i sum = _mm512_add_epi32(s0, s1);
			const __m256i main8 = _mm256_add_epi32(_mm512_castsi512_si256(sum), _mm512_extracti64x4_epi64(sum, 1));
			part[r] = _mm512_inserti64x4(_mm512_castsi256_si512(main8), _mm256_madd_epi16(cf, bs), 1);
		}
		__m512i mainv, biasv;
		F(red16x2)(part, &mainv, &biasv);
		const __m512 dyv = _mm512_set1_ps(yd[s]);
		acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(mainv), _mm512_mul_ps(_mm512_loadu_ps(da), dyv), acc);
		acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(biasv), _mm512_mul_ps(_mm512_loadu_ps(db), dyv), acc);
	}
	_mm512_mask_storeu_ps(out, valid, acc);
}

// gemv_k_panel computes one token's product for rows 0..nr-1 (nr ≤ 16) of
// a K-quant weight: each row's super-block lane sums (Σ sc·q·y, Σ coef·bsum)
// are reduced over the 16 rows at once.
INL void F(gemv_k_panel)(const int TY, const uint8_t *w, int64_t row_bytes, int64_t k, int nr, const uint8_t *act,
                         float *out, uint8_t *scratch) {
	(void)scratch;
	if (TY == LK_Q4_K && !LK_Q4K_GENERIC) {
		F(gemv_q4k_panel)(w, row_bytes, k, nr, act, out);
		return;
	}
	const int bb = TY == LK_Q2_K ? BYTES_Q2_K : TY == LK_Q3_K ? BYTES_Q3_K : TY == LK_Q4_K ? BYTES_Q4_K : TY == LK_Q5_K ? BYTES_Q5_K : BYTES_Q6_K;
	const int64_t ns = k / 256;
	const float *yd = (const float *)(act + Q8K_D(k));
	const __mmask16 valid = (__mmask16)((1u << nr) - 1);
	__m512 acc = _mm512_setzero_ps();
	__m512i part[LK_PANEL];
	float da[LK_PANEL], db[LK_PANEL];
	for (int64_t s = 0; s < ns; s++) {
		const int8_t *y = (const int8_t *)act + 256 * s;
		const __m256i bs = _mm256_loadu_si256((const __m256i *)(act + Q8K_BS(k) + 32 * s));
		for (int r = 0; r < LK_PANEL; r++) {
			if (r >= nr) {
				part[r] = _mm512_setzero_si512();
				da[r] = db[r] = 0;
				continue;
			}
			const uint8_t *blk = w + r * row_bytes + bb * s;
			LK_PREFETCH2(blk, bb * s, row_bytes, bb);
			__m256i sc, cf;
			F(ks_scales)(TY, blk, &sc, &cf, &da[r], &db[r]);
			// Two accumulators halve the dependency chain.
			__m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
#pragma GCC unroll 2
			for (int m = 0; m < 4; m += 2) {
				__m512i q0 = F(ks_quants64)(TY, blk, m), q1 = F(ks_quants64)(TY, blk, m + 1);
				s0 = _mm512_dpwssd_epi32(s0, _mm512_maddubs_epi16(q0, _mm512_loadu_si512(y + 64 * m)), F(ks_scale4)(sc, m));
				s1 = _mm512_dpwssd_epi32(s1, _mm512_maddubs_epi16(q1, _mm512_loadu_si512(y + 64 * m + 64)), F(ks_scale4)(sc, m + 1));
			}
			const __m512i sum = _mm512_add_epi32(s0, s1);
			// Σ sc·q·y folded to 8 lanes, then the 8 lanes of Σ coef·bsum.
			const __m256i main8 = _mm256_add_epi32(_mm512_castsi512_si256(sum), _mm512_extracti64x4_epi64(sum, 1));
			part[r] = _mm512_inserti64x4(_mm512_castsi256_si512(main8), _mm256_madd_epi16(cf, bs), 1);
		}
		__m512i mainv, biasv;
		F(red16x2)(part, &mainv, &biasv);
		const __m512 dyv = _mm512_set1_ps(yd[s]);
		acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(mainv), _mm512_mul_ps(_mm512_loadu_ps(da), dyv), acc);
		acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(biasv), _mm512_mul_ps(_mm512_loadu_ps(db), dyv), acc);
	}
	_mm512_mask_storeu_ps(out, valid, acc);
}

#elif LK_ZMM_PART == 3

// Float weights (WT: 0 F32, 1 F16, 2 BF16), 16 per vector.
INL __m512 F(load_w16)(const int WT, const uint8_t *p) {
	if (WT == 0) return _mm512_loadu_ps((const float *)p);
	__m256i h = _mm256_loadu_si256((const __m256i *)p);
	if (WT == 1) return _mm512_cvtph_ps(h);
	return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

INL void F(tile_f)(const int R, const int T, const int WT, const uint8_t *w, int64_t wstride, const uint8_t *act,
                   int64_t astride, int64_t k, float *out, int64_t ostride) {
	const int es = WT == 0 ? 4 : 2;
	__m512 acc[FL_R][FL_T];
#pragma GCC unroll 4
	for (int r = 0; r < R; r++)
#pragma GCC unroll 4
		for (int t = 0; t < T; t++) acc[r][t] = _mm512_setzero_ps();
	int64_t i = 0;
	for (; i + 16 <= k; i += 16) {
		__m512 x[FL_T];
#pragma GCC unroll 4
		for (int t = 0; t < T; t++) x[t] = _mm512_loadu_ps((const float *)(act + t * astride) + i);
#pragma GCC unroll 4
		for (int r = 0; r < R; r++) {
			__m512 wv = F(load_w16)(WT, w + r * wstride + i * es);
#pragma GCC unroll 4
			for (int t = 0; t < T; t++) acc[r][t] = _mm512_fmadd_ps(wv, x[t], acc[r][t]);
		}
	}
#pragma GCC unroll 4
	for (int r = 0; r < R; r++) {
#pragma GCC unroll 4
		for (int t = 0; t < T; t++) {
			float s = F(hsum16)(acc[r][t]);
			for (int64_t j = i; j < k; j++) s += F(load_w1)(WT, w + r * wstride + j * es) * ((const float *)(act + t * astride))[j];
			out[t * ostride + r] = s;
		}
	}
}

#elif LK_ZMM_PART == 4

// Panel buffers: a panel's decoded rows transposed so that 32-bit lane r
// holds row r. Legacy, per block of 32: 8 vectors of quants (vector g:
// elements 4g..4g+3 of each row), then dw and mw of the 16 rows (640 bytes).
// K-quants, per super-block: 64 vectors of quants, 16 of per-16 scales
// (int32), 8 of coefficient pairs (int16 pairs), then da and db (5760 bytes).
#define PB_LEG 640
#define PB_K 5760

// Tokens per pass over a panel block.
#define PT_LEG 8
#define PT_K 4

INL __m512i F(gather16)(__mmask16 valid, __m512i index, const uint8_t *base) {
	return _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), valid, index, (const void *)base, 1);
}

// panel_leg transposes nr decoded legacy rows (at dec, ds bytes apart).
FN void F(panel_leg)(const uint8_t *dec, int64_t ds, int64_t k, int nr, uint8_t *pb) {
	const __mmask16 valid = (__mmask16)((1u << nr) - 1);
	const __m512i rix = F(rows16)(ds);
	for (int64_t b = 0; b < k / 32; b++) {
		uint8_t *o = pb + PB_LEG * b;
		for (int g = 0; g < 8; g++) _mm512_storeu_si512(o + 64 * g, F(gather16)(valid, rix, dec + 32 * b + 4 * g));
		_mm512_storeu_si512(o + 512, F(gather16)(valid, rix, dec + DEC_LEG_DW(k) + 4 * b));
		_mm512_storeu_si512(o + 576, F(gather16)(valid, rix, dec + DEC_LEG_MW(k) + 4 * b));
	}
}

// panel_k transposes nr decoded K-quant rows.
FN void F(panel_k)(const uint8_t *dec, int64_t ds, int64_t k, int nr, uint8_t *pb) {
	const __mmask16 valid = (__mmask16)((1u << nr) - 1);
	const __m512i rix = F(rows16)(ds);
	for (int64_t s = 0; s < k / 256; s++) {
		uint8_t *o = pb + PB_K * s;
		for (int j = 0; j < 64; j++) _mm512_storeu_si512(o + 64 * j, F(gather16)(valid, rix, dec + 256 * s + 4 * j));
		for (int g = 0; g < 16; g++) {
			// Scale of 16-element group g: int16 lane 8·(g%2) of chunk g/2.
			__m512i v = F(gather16)(valid, rix, dec + DEC_K_SCX(k) + 256 * s + 32 * (g / 2) + 16 * (g % 2));
			_mm512_storeu_si512(o + 4096 + 64 * g, _mm512_srai_epi32(_mm512_slli_epi32(v, 16), 16));
		}
		for (int j = 0; j < 8; j++) _mm512_storeu_si512(o + 5120 + 64 * j, F(gather16)(valid, rix, dec + DEC_K_COEF(k) + 32 * s + 4 * j));
		_mm512_storeu_si512(o + 5632, F(gather16)(valid, rix, dec + DEC_K_DA(k) + 4 * s));
		_mm512_storeu_si512(o + 5696, F(gather16)(valid, rix, dec + DEC_K_DB(k) + 4 * s));
	}
}

INL __m512i F(bcast32)(const uint8_t *p) {
	int32_t v;
	memcpy(&v, p, 4);
	return _mm512_set1_epi32(v);
}

// pan_leg multiplies a legacy panel with T tokens.
INL void F(pan_leg)(const int T, const int MINS, const uint8_t *pb, const uint8_t *act, int64_t as, int64_t k, int nr,
                    float *out, int64_t os) {
	const __mmask16 valid = (__mmask16)((1u << nr) - 1);
	__m512 acc[PT_LEG];
#pragma GCC unroll 8
	for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
	for (int64_t b = 0; b < k / 32; b++) {
		const uint8_t *blk = pb + PB_LEG * b;
		__m512i is[PT_LEG];
#pragma GCC unroll 8
		for (int t = 0; t < T; t++) is[t] = F(bcast32)(act + t * as + Q8B_IT(k) + 4 * b);
#pragma GCC unroll 8
		for (int g = 0; g < 8; g++) {
			const __m512i wv = _mm512_loadu_si512(blk + 64 * g);
#pragma GCC unroll 8
			for (int t = 0; t < T; t++) is[t] = _mm512_dpbusd_epi32(is[t], wv, F(bcast32)(act + t * as + 32 * b + 4 * g));
		}
		const __m512 dw = _mm512_loadu_ps((const float *)(blk + 512));
#pragma GCC unroll 8
		for (int t = 0; t < T; t++) {
			const __m512 dy = _mm512_set1_ps(((const float *)(act + t * as + Q8B_D(k)))[b]);
			acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is[t]), _mm512_mul_ps(dw, dy), acc[t]);
			if (MINS) {
				const __m512 sv = _mm512_set1_ps(((const float *)(act + t * as + Q8B_S(k)))[b]);
				acc[t] = _mm512_fmadd_ps(_mm512_loadu_ps((const float *)(blk + 576)), sv, acc[t]);
			}
		}
	}
#pragma GCC unroll 8
	for (int t = 0; t < T; t++) _mm512_mask_storeu_ps(out + t * os, valid, acc[t]);
}

// pan_k multiplies a K-quant panel with T tokens.
INL void F(pan_k)(const int T, const uint8_t *pb, const uint8_t *act, int64_t as, int64_t k, int nr, float *out,
                  int64_t os) {
	const __mmask16 valid = (__mmask16)((1u << nr) - 1);
	__m512 acc[PT_K];
#pragma GCC unroll 4
	for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
	for (int64_t s = 0; s < k / 256; s++) {
		const uint8_t *ps = pb + PB_K * s;
		__m512i main[PT_K], bias[PT_K];
#pragma GCC unroll 4
		for (int t = 0; t < T; t++) main[t] = bias[t] = _mm512_setzero_si512();
		for (int g = 0; g < 16; g++) {
			__m512i tg[PT_K];
#pragma GCC unroll 4
			for (int t = 0; t < T; t++) tg[t] = _mm512_setzero_si512();
#pragma GCC unroll 4
			for (int j = 0; j < 4; j++) {
				const __m512i wv = _mm512_loadu_si512(ps + 64 * (4 * g + j));
#pragma GCC unroll 4
				for (int t = 0; t < T; t++) tg[t] = _mm512_dpbusd_epi32(tg[t], wv, F(bcast32)(act + t * as + 256 * s + 16 * g + 4 * j));
			}
			const __m512i sc = _mm512_loadu_si512(ps + 4096 + 64 * g);
#pragma GCC unroll 4
			for (int t = 0; t < T; t++) main[t] = _mm512_add_epi32(main[t], _mm512_mullo_epi32(tg[t], sc));
		}
#pragma GCC unroll 8
		for (int j = 0; j < 8; j++) {
			const __m512i cf = _mm512_loadu_si512(ps + 5120 + 64 * j);
#pragma GCC unroll 4
			for (int t = 0; t < T; t++) bias[t] = _mm512_dpwssd_epi32(bias[t], cf, F(bcast32)(act + t * as + Q8K_BS(k) + 32 * s + 4 * j));
		}
		const __m512 da = _mm512_loadu_ps((const float *)(ps + 5632)), db = _mm512_loadu_ps((const float *)(ps + 5696));
#pragma GCC unroll 4
		for (int t = 0; t < T; t++) {
			const __m512 dy = _mm512_set1_ps(((const float *)(act + t * as + Q8K_D(k)))[s]);
			acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(main[t]), _mm512_mul_ps(da, dy), acc[t]);
			acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(bias[t]), _mm512_mul_ps(db, dy), acc[t]);
		}
	}
#pragma GCC unroll 4
	for (int t = 0; t < T; t++) _mm512_mask_storeu_ps(out + t * os, valid, acc[t]);
}

#define PAN_ARGS const uint8_t *pb, const uint8_t *act, int64_t as, int64_t k, int nr, float *out, int64_t os
#define DEF_PAN_LEG(T_)                                                                                                \
	FN void F(pleg0_##T_)(PAN_ARGS) { F(pan_leg)(T_, 0, pb, act, as, k, nr, out, os); }                               \
	FN void F(pleg1_##T_)(PAN_ARGS) { F(pan_leg)(T_, 1, pb, act, as, k, nr, out, os); }
DEF_PAN_LEG(1)
DEF_PAN_LEG(2)
DEF_PAN_LEG(3)
DEF_PAN_LEG(4)
DEF_PAN_LEG(5)
DEF_PAN_LEG(6)
DEF_PAN_LEG(7)
DEF_PAN_LEG(8)
#define DEF_PAN_K(T_) \
	FN void F(pk_##T_)(PAN_ARGS) { F(pan_k)(T_, pb, act, as, k, nr, out, os); }
DEF_PAN_K(1)
DEF_PAN_K(2)
DEF_PAN_K(3)
DEF_PAN_K(4)

typedef void (*F(pan_fn))(PAN_ARGS);

// run_leg computes rows [r0, r1) × tokens [0, n) for a legacy type:
// variant 1 adds the mins (Q4_1, Q5_1).
FN void F(run_leg)(int variant, F(decoder) dec_fn, const uint8_t *w, int64_t row_bytes, int64_t k, int64_t r0, int64_t r1,
                   const uint8_t *act, int64_t as, int64_t n, float *dst, int64_t os, uint8_t *scratch) {
	static const F(pan_fn) plain[PT_LEG + 1] = {0, F(pleg0_1), F(pleg0_2), F(pleg0_3), F(pleg0_4), F(pleg0_5), F(pleg0_6), F(pleg0_7), F(pleg0_8)};
	static const F(pan_fn) mins[PT_LEG + 1] = {0, F(pleg1_1), F(pleg1_2), F(pleg1_3), F(pleg1_4), F(pleg1_5), F(pleg1_6), F(pleg1_7), F(pleg1_8)};
	const F(pan_fn) *fns = variant == 1 ? mins : plain;
	const int64_t ds = DEC_LEG_BYTES(k);
	uint8_t *pb = scratch + LK_PANEL * ds;
	for (int64_t t0 = 0; t0 < n; t0 += TOKEN_BLOCK) {
		const int64_t t1 = LK_MIN(n, t0 + TOKEN_BLOCK);
		for (int64_t r = r0; r < r1; r += LK_PANEL) {
			const int nr = (int)LK_MIN(LK_PANEL, r1 - r);
			for (int i = 0; i < nr; i++) dec_fn(w + (r + i) * row_bytes, k, scratch + i * ds);
			F(panel_leg)(scratch, ds, k, nr, pb);
			for (int64_t t = t0; t < t1; t += PT_LEG) {
				const int tn = (int)LK_MIN(PT_LEG, t1 - t);
				fns[tn](pb, act + t * as, as, k, nr, dst + t * os + r, os);
			}
		}
	}
}

FN void F(run_k)(F(decoder) dec_fn, const uint8_t *w, int64_t row_bytes, int64_t k, int64_t r0, int64_t r1,
                 const uint8_t *act, int64_t as, int64_t n, float *dst, int64_t os, uint8_t *scratch) {
	static const F(pan_fn) fns[PT_K + 1] = {0, F(pk_1), F(pk_2), F(pk_3), F(pk_4)};
	const int64_t ds = DEC_K_BYTES(k);
	uint8_t *pb = scratch + LK_PANEL * ds;
	for (int64_t t0 = 0; t0 < n; t0 += TOKEN_BLOCK) {
		const int64_t t1 = LK_MIN(n, t0 + TOKEN_BLOCK);
		for (int64_t r = r0; r < r1; r += LK_PANEL) {
			const int nr = (int)LK_MIN(LK_PANEL, r1 - r);
			for (int i = 0; i < nr; i++) dec_fn(w + (r + i) * row_bytes, k, scratch + i * ds);
			F(panel_k)(scratch, ds, k, nr, pb);
			for (int64_t t = t0; t < t1; t += PT_K) {
				const int tn = (int)LK_MIN(PT_K, t1 - t);
				fns[tn](pb, act + t * as, as, k, nr, dst + t * os + r, os);
			}
		}
	}
}

#undef PB_LEG
#undef PB_K
#undef PT_LEG
#undef PT_K
#undef PAN_ARGS
#undef DEF_PAN_LEG
#undef DEF_PAN_K

#endif

// Attention over the KV cache: flash-attention-style tiles with an online
// softmax, one template for every level. The including file defines F()
// (the name suffix), INL/FN and a 16-lane float vector type vf with the
// VF_* operations below; everything here is written against those.
//
// Cache layouts (one layer; cap positions, a multiple of 16; kv_heads heads
// of hd values; see kern.h): per KV head, keys are stored transposed in
// blocks of 16 positions ([block][d][16 lanes]), so a vector holds one
// dimension of 16 keys and q·k needs no horizontal sums; values are stored
// as rows ([position][hd]). Q8_0 keys keep, per 16-position block and 32
// dimensions, the 16 binary16 scales then the 32×16 int8 quants; Q8_0 values
// are ggml's Q8_0 blocks along each row.
//
// A job is one KV head and a block of tokens: its query rows (token, head
// of the group) walk the cached keys in blocks of LK_BK, keeping a running
// maximum, sum and output per row in scratch. Each row's arithmetic depends
// only on its own position and the fixed key blocks (never on the other
// rows of the job), so a token gives the same bits alone (generation) as in
// a prompt batch: the engine's batch and one-at-a-time logits agree.
//
// Required from the including file:
//   vf VF_ZERO(), VF_SET1(float), VF_LOAD(const float *), VF_LOAD_H(const uint16_t *),
//   VF_LOAD_I8(const int8_t *), void VF_STORE(float *, vf), vf VF_FMA(a, b, c) (a·b+c, fused),
//   VF_MUL, VF_SUB, VF_ADD, VF_MAX, VF_EXP (the same polynomial for every lane),
//   VF_KEEP(v, n, fill) (lanes ≥ n replaced by fill), float VF_RMAX(vf), float VF_RADD(vf),
//   F2H(float) (binary16 bits, round to nearest even).

// lk_store_q8 quantizes 32 floats as ggml's quantize_row_q8_0 reference
// does: d = max|x|/127, q = round(x/d) (half away from zero), d rounded to
// binary16. It returns the binary16 scale.
#define LKA_MIN(a, b) ((a) < (b) ? (a) : (b))
#define LKA_MAX(a, b) ((a) > (b) ? (a) : (b))

INL uint16_t F(lk_store_q8)(const float *x, int8_t *q, int64_t qstride) {
	float amax = 0;
	for (int j = 0; j < 32; j++) {
		float a = __builtin_fabsf(x[j]);
		amax = a > amax ? a : amax;
	}
	const float d = amax / 127, id = d != 0 ? 1 / d : 0;
	for (int j = 0; j < 32; j++) {
		float r = lk_round_away(x[j] * id);
		q[j * qstride] = (int8_t)((r >= -128.0f && r <= 127.0f) ? (int32_t)r : 0);
	}
	return F2H(d);
}

LK_TARGET int F(lk_kv_store)(int type, uint8_t *kc, uint8_t *vc, int64_t cap, int64_t kv_heads, int64_t hd,
                             const float *k, const float *v, int64_t start, int64_t tokens) {
	const int64_t kv_dim = kv_heads * hd;
	if (type == LK_KV_Q8_0 && hd % 32 != 0) return -1;
	for (int64_t t = 0; t < tokens; t++) {
		const int64_t p = start + t, pb = p / 16, l = p % 16;
		for (int64_t h = 0; h < kv_heads; h++) {
			const float *kr = k + t * kv_dim + h * hd, *vr = v + t * kv_dim + h * hd;
			switch (type) {
			case LK_KV_F32: {
				float *kb = (float *)kc + (h * cap + pb * 16) * hd;
				for (int64_t d = 0; d < hd; d++) kb[d * 16 + l] = kr[d];
				memcpy((float *)vc + (h * cap + p) * hd, vr, (size_t)hd * 4);
				break;
			}
			case LK_KV_F16: {
				uint16_t *kb = (uint16_t *)kc + (h * cap + pb * 16) * hd;
				uint16_t *vo = (uint16_t *)vc + (h * cap + p) * hd;
				for (int64_t d = 0; d < hd; d++) {
					kb[d * 16 + l] = F2H(kr[d]);
					vo[d] = F2H(vr[d]);
				}
				break;
			}
			case LK_KV_Q8_0: {
				const int64_t nb = hd / 32;
				uint8_t *kb = kc + (h * cap / 16 + pb) * nb * LK_KQ8_GROUP;
				uint8_t *vo = vc + (h * cap + p) * nb * 34;
				for (int64_t b = 0; b < nb; b++) {
					uint8_t *g = kb + b * LK_KQ8_GROUP;
					uint16_t s = F(lk_store_q8)(kr + 32 * b, (int8_t *)(g + 32) + l, 16);
					memcpy(g + 2 * l, &s, 2);
					s = F(lk_store_q8)(vr + 32 * b, (int8_t *)(vo + 34 * b + 2), 1);
					memcpy(vo + 34 * b, &s, 2);
				}
				break;
			}
			default:
				return -1;
			}
		}
	}
	return 0;
}

// The K tile of 16-position block pb of KV head h as floats ([d][16]).
INL void F(k_tile)(int type, const uint8_t *kc, int64_t cap, int64_t h, int64_t pb, int64_t hd, float *dst) {
	if (type == LK_KV_F16) {
		const uint16_t *src = (const uint16_t *)kc + (h * cap + pb * 16) * hd;
		for (int64_t d = 0; d < hd; d++) VF_STORE(dst + 16 * d, VF_LOAD_H(src + 16 * d));
		return;
	}
	// Q8_0
	const int64_t nb = hd / 32;
	const uint8_t *g = kc + (h * cap / 16 + pb) * nb * LK_KQ8_GROUP;
	for (int64_t b = 0; b < nb; b++, g += LK_KQ8_GROUP) {
		const vf s = VF_LOAD_H((const uint16_t *)g);
		const int8_t *qs = (const int8_t *)(g + 32);
		for (int d = 0; d < 32; d++) VF_STORE(dst + 16 * (32 * b + d), VF_MUL(VF_LOAD_I8(qs + 16 * d), s));
	}
}

// The V rows [p0, p0+n) of KV head h as floats, rows of hdp (zero padded).
INL void F(v_tile)(int type, const uint8_t *vc, int64_t cap, int64_t h, int64_t p0, int64_t n, int64_t hd, int64_t hdp,
                   float *dst) {
	for (int64_t j = 0; j < n; j++) {
		float *o = dst + j * hdp;
		const int64_t p = p0 + j;
		int64_t d = 0;
		if (type == LK_KV_F16) {
			const uint16_t *src = (const uint16_t *)vc + (h * cap + p) * hd;
			for (; d + 16 <= hd; d += 16) VF_STORE(o + d, VF_LOAD_H(src + d));
			for (; d < hd; d++) o[d] = lk_fp16_to_fp32(src[d]);
		} else if (type == LK_KV_F32) {
			memcpy(o, (const float *)vc + (h * cap + p) * hd, (size_t)hd * 4);
			d = hd;
		} else {
			const uint8_t *blk = vc + (h * cap + p) * (hd / 32) * 34;
			for (; d < hd; d += 32, blk += 34) {
				const vf s = VF_SET1(lk_fp16_to_fp32(lk_u16(blk)));
				VF_STORE(o + d, VF_MUL(VF_LOAD_I8((const int8_t *)blk + 2), s));
				VF_STORE(o + d + 16, VF_MUL(VF_LOAD_I8((const int8_t *)blk + 18), s));
			}
		}
		for (; d < hdp; d++) o[d] = 0;
	}
}

// qk computes the scores of QR query rows against NG groups of 16 keys:
// s[i][16g+l] = (Σ_d q_i[d]·k[g][d][l])·scale, the sum in d order.
#define LK_QK(SUF, QR, NG)                                                                                             \
	INL void F(qk_##SUF##_##NG)(const float *const *qr, const float *kt, int64_t gstride, int64_t hd, float scale,     \
	                           float *s, int64_t sstride) {                                                            \
		vf acc[QR][NG];                                                                                                \
		_Pragma("GCC unroll 8") for (int i = 0; i < QR; i++) _Pragma("GCC unroll 4") for (int g = 0; g < NG; g++)     \
		    acc[i][g] = VF_ZERO();                                                                                     \
		for (int64_t d = 0; d < hd; d++) {                                                                             \
			vf kv[NG];                                                                                                 \
			_Pragma("GCC unroll 4") for (int g = 0; g < NG; g++) kv[g] = VF_LOAD(kt + g * gstride + 16 * d);           \
			_Pragma("GCC unroll 8") for (int i = 0; i < QR; i++) {                                                     \
				const vf qd = VF_SET1(qr[i][d]);                                                                       \
				_Pragma("GCC unroll 4") for (int g = 0; g < NG; g++) acc[i][g] = VF_FMA(qd, kv[g], acc[i][g]);         \
			}                                                                                                          \
		}                                                                                                              \
		const vf sc = VF_SET1(scale);                                                                                  \
		_Pragma("GCC unroll 8") for (int i = 0; i < QR; i++) _Pragma("GCC unroll 4") for (int g = 0; g < NG; g++)     \
		    VF_STORE(s + i * sstride + 16 * g, VF_MUL(acc[i][g], sc));                                                 \
	}
#define LK_QK_ALL(SUF, QR) LK_QK(SUF, QR, 1) LK_QK(SUF, QR, 2) LK_QK(SUF, QR, 3) LK_QK(SUF, QR, 4)
LK_QK_ALL(n, 1)
LK_QK_ALL(w, LK_QR)

// qkh is qk reading binary16 keys in place (the same values, converted
// exactly, in the same order): generation skips the tile conversion.
#define LK_QKH(NG)                                                                                                     \
	INL void F(qkh_##NG)(const float *const *qr, const uint16_t *kt, int64_t gstride, int64_t hd, float scale,        \
	                     float *s) {                                                                                   \
		vf acc[NG];                                                                                                    \
		_Pragma("GCC unroll 4") for (int g = 0; g < NG; g++) acc[g] = VF_ZERO();                                       \
		for (int64_t d = 0; d < hd; d++) {                                                                             \
			const vf qd = VF_SET1(qr[0][d]);                                                                           \
			_Pragma("GCC unroll 4") for (int g = 0; g < NG; g++)                                                       \
			    acc[g] = VF_FMA(qd, VF_LOAD_H(kt + g * gstride + 16 * d), acc[g]);                                     \
		}                                                                                                              \
		const vf sc = VF_SET1(scale);                                                                                  \
		_Pragma("GCC unroll 4") for (int g = 0; g < NG; g++) VF_STORE(s + 16 * g, VF_MUL(acc[g], sc));                 \
	}
LK_QKH(1)
LK_QKH(2)
LK_QKH(3)
LK_QKH(4)

// pv updates VR rows of outputs (DV vectors from dimension dc):
// o_i = o_i·alpha_i + Σ_{j<jn} p_i[j]·v[j], the sum in j order.
#define LK_PV(SUF, VR, DV)                                                                                             \
	INL void F(pv_##SUF)(float *o, int64_t ostride, const float *alpha, const float *p, int64_t pstride,        \
	                           const float *vt, int64_t vstride, int64_t jn) {                                         \
		vf acc[VR][DV];                                                                                                \
		_Pragma("GCC unroll 8") for (int i = 0; i < VR; i++) {                                                         \
			const vf a = VF_SET1(alpha[i]);                                                                            \
			_Pragma("GCC unroll 8") for (int v = 0; v < DV; v++) acc[i][v] = VF_MUL(VF_LOAD(o + i * ostride + 16 * v), a); \
		}                                                                                                              \
		for (int64_t j = 0; j < jn; j++) {                                                                             \
			vf x[DV];                                                                                                  \
			_Pragma("GCC unroll 8") for (int v = 0; v < DV; v++) x[v] = VF_LOAD(vt + j * vstride + 16 * v);            \
			_Pragma("GCC unroll 8") for (int i = 0; i < VR; i++) {                                                     \
				const vf pj = VF_SET1(p[i * pstride + j]);                                                             \
				_Pragma("GCC unroll 8") for (int v = 0; v < DV; v++) acc[i][v] = VF_FMA(pj, x[v], acc[i][v]);          \
			}                                                                                                          \
		}                                                                                                              \
		_Pragma("GCC unroll 8") for (int i = 0; i < VR; i++) _Pragma("GCC unroll 8") for (int v = 0; v < DV; v++)     \
		    VF_STORE(o + i * ostride + 16 * v, acc[i][v]);                                                             \
	}
LK_PV(nn, 1, 1)
LK_PV(nw, 1, LK_DV)
LK_PV(wn, LK_VR, 1)
LK_PV(ww, LK_VR, LK_DV)

// pvh is pv for one row reading binary16 values in place (hd a multiple of
// 16): o = o·alpha + Σ_j p[j]·v[j], the same operations as pv.
INL void F(pvh)(float *o, float alpha, const float *p, const uint16_t *vt, int64_t vstride, int64_t jn, int64_t hd) {
	for (int64_t dc = 0; dc < hd;) {
		if (hd - dc >= 16 * LK_DV) {
			vf acc[LK_DV];
			const vf a = VF_SET1(alpha);
			_Pragma("GCC unroll 8") for (int v = 0; v < LK_DV; v++) acc[v] = VF_MUL(VF_LOAD(o + dc + 16 * v), a);
			for (int64_t j = 0; j < jn; j++) {
				const vf pj = VF_SET1(p[j]);
				_Pragma("GCC unroll 8") for (int v = 0; v < LK_DV; v++)
				    acc[v] = VF_FMA(pj, VF_LOAD_H(vt + j * vstride + dc + 16 * v), acc[v]);
			}
			_Pragma("GCC unroll 8") for (int v = 0; v < LK_DV; v++) VF_STORE(o + dc + 16 * v, acc[v]);
			dc += 16 * LK_DV;
		} else {
			vf acc = VF_MUL(VF_LOAD(o + dc), VF_SET1(alpha));
			for (int64_t j = 0; j < jn; j++) acc = VF_FMA(VF_SET1(p[j]), VF_LOAD_H(vt + j * vstride + dc), acc);
			VF_STORE(o + dc, acc);
			dc += 16;
		}
	}
}

LK_TARGET int F(lk_attention)(int type, const float *q, const uint8_t *kc, const uint8_t *vc, int64_t cap, float *out,
                              int64_t start, int64_t tokens, int64_t heads, int64_t kv_heads, int64_t hd, float scale,
                              int64_t j0, int64_t j1, float *scratch) {
	if (type == LK_KV_Q8_0 && hd % 32 != 0) return -1;
	const int64_t G = heads / kv_heads, tbr = lk_attn_token_block(heads, kv_heads), rmax = tbr * G;
	const int64_t hdp = (hd + 15) & ~(int64_t)15, q_dim = heads * hd;
	float *O = scratch, *P = O + rmax * hdp, *M = P + rmax * LK_BK, *L = M + rmax, *A = L + rmax;
	float *Kt = A + rmax, *Vt = Kt + LK_BK * hd;
	const float *qrow[LK_QR];
	for (int64_t job = j0; job < j1; job++) {
		const int64_t tb = job / kv_heads, h = job % kv_heads;
		const int64_t t0 = tb * tbr, t1 = LKA_MIN(tokens, t0 + tbr), R = (t1 - t0) * G;
		for (int64_t r = 0; r < R; r++) {
			M[r] = -__builtin_inff();
			L[r] = 0;
			memset(O + r * hdp, 0, (size_t)hdp * 4);
		}
		const int64_t nmax = start + t1;
		// Generation (a row or two): binary16 keys and values are read in
		// place rather than converted to tiles first.
		const int direct = type == LK_KV_F16 && R <= 2 && hd % 16 == 0;
		for (int64_t kbase = 0; kbase < nmax; kbase += LK_BK) {
			const int64_t kcnt = LKA_MIN(LK_BK, nmax - kbase), ng = (kcnt + 15) / 16;
			// Rows r are tokens t0 + r/G, which see positions < start + t0 + r/G + 1.
			const int64_t r0 = LKA_MAX(0, kbase - start - t0) * G;
			// Keys.
			const float *kt;
			int64_t gstride = 16 * hd;
			if (type == LK_KV_F32) {
				kt = (const float *)kc + (h * cap + kbase) * hd;
			} else if (direct) {
				kt = 0;
			} else {
				for (int64_t g = 0; g < ng; g++) F(k_tile)(type, kc, cap, h, kbase / 16 + g, hd, Kt + g * 16 * hd);
				kt = Kt;
			}
			// Scores.
			for (int64_t r = r0; r < R;) {
				const int n = R - r >= LK_QR ? LK_QR : 1;
				for (int i = 0; i < n; i++) {
					const int64_t t = t0 + (r + i) / G, hq = h * G + (r + i) % G;
					qrow[i] = q + t * q_dim + hq * hd;
				}
				float *s = P + r * LK_BK;
				if (direct) {
					const uint16_t *kh = (const uint16_t *)kc + (h * cap + kbase) * hd;
					for (int i = 0; i < n; i++) {
						switch (ng) {
						case 1: F(qkh_1)(qrow + i, kh, gstride, hd, scale, s + i * LK_BK); break;
						case 2: F(qkh_2)(qrow + i, kh, gstride, hd, scale, s + i * LK_BK); break;
						case 3: F(qkh_3)(qrow + i, kh, gstride, hd, scale, s + i * LK_BK); break;
						default: F(qkh_4)(qrow + i, kh, gstride, hd, scale, s + i * LK_BK); break;
						}
					}
					r += n;
					continue;
				}
#define LK_QK_CASE(SUF)                                                                                                \
	switch (ng) {                                                                                                      \
	case 1: F(qk_##SUF##_1)(qrow, kt, gstride, hd, scale, s, LK_BK); break;                                           \
	case 2: F(qk_##SUF##_2)(qrow, kt, gstride, hd, scale, s, LK_BK); break;                                           \
	case 3: F(qk_##SUF##_3)(qrow, kt, gstride, hd, scale, s, LK_BK); break;                                           \
	default: F(qk_##SUF##_4)(qrow, kt, gstride, hd, scale, s, LK_BK); break;                                          \
	}
				if (n == LK_QR) {
					LK_QK_CASE(w)
				} else {
					LK_QK_CASE(n)
				}
#undef LK_QK_CASE
				r += n;
			}
			// Online softmax: per row, the block's maximum, rescale factor,
			// probabilities (0 past the row's last position) and sum.
			int64_t jmax = 0;
			for (int64_t r = r0; r < R; r++) {
				const int64_t valid = LKA_MIN(kcnt, start + t0 + r / G + 1 - kbase), gv = (valid + 15) / 16;
				float *s = P + r * LK_BK;
				vf mv = VF_SET1(-__builtin_inff());
				for (int64_t g = 0; g < gv; g++) mv = VF_MAX(mv, VF_KEEP(VF_LOAD(s + 16 * g), valid - 16 * g, -__builtin_inff()));
				const float mb = VF_RMAX(mv), mnew = M[r] > mb ? M[r] : mb;
				float e[16];
				VF_STORE(e, VF_EXP(VF_SET1(M[r] - mnew)));
				const float alpha = e[0];
				const vf mn = VF_SET1(mnew);
				vf sum = VF_ZERO();
				for (int64_t g = 0; g < gv; g++) {
					const vf pg = VF_KEEP(VF_EXP(VF_SUB(VF_LOAD(s + 16 * g), mn)), valid - 16 * g, 0.0f);
					VF_STORE(s + 16 * g, pg);
					sum = VF_ADD(sum, pg);
				}
				for (int64_t g = gv; g < ng; g++) VF_STORE(s + 16 * g, VF_ZERO());
				L[r] = L[r] * alpha + VF_RADD(sum);
				M[r] = mnew;
				A[r] = alpha;
				jmax = LKA_MAX(jmax, valid);
			}
			// Values.
			const float *vt;
			int64_t vstride;
			if (direct) {
				const uint16_t *vh = (const uint16_t *)vc + (h * cap + kbase) * hd;
				for (int64_t r = r0; r < R; r++) {
					const int64_t jn = LKA_MIN(kcnt, start + t0 + r / G + 1 - kbase);
					F(pvh)(O + r * hdp, A[r], P + r * LK_BK, vh, hd, jn, hd);
				}
				continue;
			}
			if (type == LK_KV_F32 && hd == hdp) {
				vt = (const float *)vc + (h * cap + kbase) * hd;
				vstride = hd;
			} else {
				F(v_tile)(type, vc, cap, h, kbase, jmax, hd, hdp, Vt);
				vt = Vt;
				vstride = hdp;
			}
			for (int64_t r = r0; r < R;) {
				const int n = R - r >= LK_VR ? LK_VR : 1;
				// The tile's rows are consecutive: the last sees the most positions.
				const int64_t jn = LKA_MIN(kcnt, start + t0 + (r + n - 1) / G + 1 - kbase);
				for (int64_t dc = 0; dc < hdp;) {
					const int dv = hdp - dc >= 16 * LK_DV ? LK_DV : 1;
					float *o = O + r * hdp + dc;
					const float *p = P + r * LK_BK, *v = vt + dc;
					if (n == LK_VR && dv == LK_DV) F(pv_ww)(o, hdp, A + r, p, LK_BK, v, vstride, jn);
					else if (n == LK_VR) F(pv_wn)(o, hdp, A + r, p, LK_BK, v, vstride, jn);
					else if (dv == LK_DV) F(pv_nw)(o, hdp, A + r, p, LK_BK, v, vstride, jn);
					else F(pv_nn)(o, hdp, A + r, p, LK_BK, v, vstride, jn);
					dc += 16 * dv;
				}
				r += n;
			}
		}
		for (int64_t r = 0; r < R; r++) {
			const int64_t t = t0 + r / G, hq = h * G + r % G;
			const float inv = 1.0f / L[r];
			float *o = out + t * q_dim + hq * hd;
			const float *src = O + r * hdp;
			for (int64_t d = 0; d < hd; d++) o[d] = src[d] * inv;
		}
	}
	return 0;
}

#undef LKA_MIN
#undef LKA_MAX
#undef LK_QK
#undef LK_QK_ALL
#undef LK_PV

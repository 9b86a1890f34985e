// Y = X·Wᵀ for one chunk of weight rows and up to NT tokens per workgroup.
// LANES invocations share each dot product (1: one invocation per output);
// each invocation handles RPT rows, so a workgroup of 64 covers
// (64/LANES)·RPT rows. Lane l accumulates the 8-element units u ≡ l
// (mod LANES) of the row in increasing order with a fixed chain of fma,
// then the lanes are summed by a fixed tree: every output is computed by
// the same operations whatever NT and the batch size are, so a prompt
// evaluated in one batch and one token at a time gives identical results.
//   P0.x K (a multiple of 8)   P0.y rows in the chunk
//   P0.z x offset (floats, a multiple of 4)   P0.w y offset (floats)
//   P1.x tokens   P1.y y row stride (floats: the weight's total rows)
// Token groups of NT run along z.

#define SLOTS (64u / LANES)
#define RPW (SLOTS * RPT)
#define OUTS (RPT * NT)

layout(local_size_x = 64) in;
layout(std430, binding = 3) readonly buffer XBuf { vec4 X[]; };
layout(std430, binding = 4) writeonly buffer YBuf { float Y[]; };

#if LANES > 1
shared float red[OUTS * 64u];
#endif

void main() {
	uint K = P0.x, M = P0.y, xo = P0.z >> 2u, yo = P0.w;
	uint tok0 = gl_WorkGroupID.z * NT;
	uint nt = min(NT, P1.x - tok0), ys = P1.y;
	uint tid = gl_LocalInvocationIndex;
	uint lane = tid % LANES, slot = tid / LANES;
	uint row0 = groupIndex() * RPW + slot * RPT;
	uint units = K >> 3u, bpr = K / BLOCK_ELEMS, xs = K >> 2u;
	precise float acc[OUTS];
	for (uint i = 0u; i < OUTS; i++) acc[i] = 0.0;
	for (uint u = lane; u < units; u += LANES) {
		vec4 x0[NT], x1[NT];
		for (uint t = 0u; t < NT; t++) {
			if (t < nt) {
				uint xb = xo + (tok0 + t) * xs + 2u * u;
				x0[t] = X[xb];
				x1[t] = X[xb + 1u];
			}
		}
		uint kb = u / SUBS, sub = u % SUBS;
		for (uint r = 0u; r < RPT; r++) {
			if (row0 + r >= M) break;
			vec4 lo, hi;
			deq8((row0 + r) * bpr + kb, sub, lo, hi);
			for (uint t = 0u; t < NT; t++) {
				if (t < nt) {
					precise float a = acc[r * NT + t];
					a = fma(lo.x, x0[t].x, a);
					a = fma(lo.y, x0[t].y, a);
					a = fma(lo.z, x0[t].z, a);
					a = fma(lo.w, x0[t].w, a);
					a = fma(hi.x, x1[t].x, a);
					a = fma(hi.y, x1[t].y, a);
					a = fma(hi.z, x1[t].z, a);
					a = fma(hi.w, x1[t].w, a);
					acc[r * NT + t] = a;
				}
			}
		}
	}
#if LANES > 1
#ifdef USE_SUBGROUPS
	// One slot of 64 lanes: subgroup sums, then the subgroups' in order.
	for (uint i = 0u; i < OUTS; i++) {
		float s = subgroupAdd(acc[i]);
		if (subgroupElect()) red[i * 64u + gl_SubgroupID] = s;
	}
	SYNC();
	for (uint i = lane; i < OUTS; i += LANES) {
		uint r = i / NT, t = i % NT;
		float s = 0.0;
		for (uint g = 0u; g < gl_NumSubgroups; g++) s += red[i * 64u + g];
		if (row0 + r < M && t < nt) Y[yo + (tok0 + t) * ys + row0 + r] = s;
	}
#else
	for (uint i = 0u; i < OUTS; i++) red[i * 64u + tid] = acc[i];
	SYNC();
	for (uint s = LANES / 2u; s > 0u; s >>= 1u) {
		if (lane < s) {
			for (uint i = 0u; i < OUTS; i++) red[i * 64u + tid] += red[i * 64u + tid + s];
		}
		SYNC();
	}
	for (uint i = lane; i < OUTS; i += LANES) {
		uint r = i / NT, t = i % NT;
		if (row0 + r < M && t < nt) Y[yo + (tok0 + t) * ys + row0 + r] = red[i * 64u + slot * LANES];
	}
#endif
#else
	for (uint r = 0u; r < RPT; r++) {
		for (uint t = 0u; t < NT; t++) {
			if (row0 + r < M && t < nt) Y[yo + (tok0 + t) * ys + row0 + r] = acc[r * NT + t];
		}
	}
#endif
}

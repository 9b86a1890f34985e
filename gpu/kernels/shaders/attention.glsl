// Causal attention over the KV cache (of type KV_TYPE, read through
// kvread.glsl), one workgroup per (token, head), with
// an online softmax over tiles of WG cached positions: each invocation
// scores one position of the tile, then each owns HD_MAX/WG output
// dimensions. Query head h reads KV head h / (heads / kvHeads).
//   P0.x tokens   P0.y start position   P0.z heads   P0.w KV heads
//   P1.x head size (a multiple of 4)   P1.y q offset   P1.z out offset (floats)
//   P1.w KV row width (kvHeads · head size)   PF.x score scale

#define DPT (HD_MAX / WG)

layout(local_size_x = WG) in;
layout(std430, binding = 1) readonly buffer QBuf { float Q[]; };
layout(std430, binding = 4) writeonly buffer OBuf { float O[]; };

shared vec4 qs[HD_MAX / 4u];
shared float p[WG];

void main() {
	uint startPos = P0.y, heads = P0.z, kvHeads = P0.w;
	uint hd = P1.x;
	uint g = groupIndex();
	uint t = g / heads, h = g % heads;
	uint n = startPos + t + 1u;
	uint kvOff = (h / (heads / kvHeads)) * hd;
	uint tid = gl_LocalInvocationIndex;
	uint qBase = P1.y + (t * heads + h) * hd;
	for (uint i = tid; i < hd / 4u; i += WG) {
		qs[i] = vec4(Q[qBase + 4u * i], Q[qBase + 4u * i + 1u], Q[qBase + 4u * i + 2u], Q[qBase + 4u * i + 3u]);
	}
	SYNC();
	float m = NEG_BIG, l = 0.0;
	float o[DPT];
	for (uint i = 0u; i < DPT; i++) o[i] = 0.0;
	for (uint j0 = 0u; j0 < n; j0 += WG) {
		uint j = j0 + tid;
		float s = NEG_BIG;
		if (j < n) {
			uint kb = kvOff >> 2u;
			float acc = 0.0;
			for (uint c = 0u; c < hd / 4u; c++) acc += dot(key4(j, kb + c), qs[c]);
			s = acc * PF.x;
		}
		float mNew = max(m, wgMax(s));
		float alpha = exp(m - mNew);
		float pj = j < n ? exp(s - mNew) : 0.0;
		p[tid] = pj;
		l = l * alpha + wgSum(pj);
		uint cnt = min(WG, n - j0);
		for (uint i = 0u; i < DPT; i++) {
			uint d = tid + i * WG;
			if (d < hd) {
				float acc = o[i] * alpha;
				for (uint jj = 0u; jj < cnt; jj++) acc += p[jj] * value(j0 + jj, kvOff + d);
				o[i] = acc;
			}
		}
		m = mNew;
		SYNC();
	}
	uint oBase = P1.z + (t * heads + h) * hd;
	for (uint i = 0u; i < DPT; i++) {
		uint d = tid + i * WG;
		if (d < hd) O[oBase + d] = o[i] / l;
	}
}

// Causal attention over the KV cache (of type KV_TYPE, read through
// kvread.glsl) with one invocation per (token, head) and no barriers (for
// CPU rasterisers): an online softmax over the cached positions in order.
// Query head h reads KV head h / (heads / kvHeads). Parameters as in
// attention.glsl.

layout(local_size_x = 64) in;
layout(std430, binding = 1) readonly buffer QBuf { vec4 Q[]; };
layout(std430, binding = 4) writeonly buffer OBuf { vec4 O[]; };

void main() {
	uint tokens = P0.x, startPos = P0.y, heads = P0.z, kvHeads = P0.w;
	uint hd4 = P1.x >> 2u;
	uint g = groupIndex() * 64u + gl_LocalInvocationIndex;
	if (g >= tokens * heads) return;
	uint t = g / heads, h = g % heads;
	uint n = startPos + t + 1u;
	uint kvOff = (h / (heads / kvHeads)) * hd4;
	uint qBase = (P1.y >> 2u) + (t * heads + h) * hd4;
	vec4 q[HD_MAX / 4u], o[HD_MAX / 4u];
	for (uint c = 0u; c < hd4; c++) {
		q[c] = Q[qBase + c];
		o[c] = vec4(0.0);
	}
	float m = NEG_BIG, l = 0.0;
	for (uint j = 0u; j < n; j++) {
		float s = 0.0;
		for (uint c = 0u; c < hd4; c++) s += dot(key4(j, kvOff + c), q[c]);
		s *= PF.x;
		if (s > m) {
			float alpha = exp(m - s);
			l *= alpha;
			for (uint c = 0u; c < hd4; c++) o[c] *= alpha;
			m = s;
		}
		float p = exp(s - m);
		l += p;
		for (uint c = 0u; c < hd4; c++) o[c] += p * value4(j, kvOff + c);
	}
	uint oBase = (P1.z >> 2u) + (t * heads + h) * hd4;
	for (uint c = 0u; c < hd4; c++) O[oBase + c] = o[c] / l;
}

// Rotary position embedding, GGML normal mode: the adjacent pair
// (x[2i], x[2i+1]) of the first dims elements of each head turns by the
// angle whose cosine and sine the host tabulated per token (CS).
//   P0.x tokens   P0.y heads   P0.z head size   P0.w dims   P1.x offset (floats)

layout(local_size_x = WG) in;
layout(std430, binding = 1) readonly buffer Table { vec2 CS[]; };
layout(std430, binding = 3) buffer XBuf { float X[]; };

void main() {
	uint tokens = P0.x, heads = P0.y, hd = P0.z, pairs = P0.w >> 1u;
	uint idx = groupIndex() * WG + gl_LocalInvocationIndex;
	if (idx >= tokens * heads * pairs) return;
	uint i = idx % pairs, th = idx / pairs;
	uint h = th % heads, t = th / heads;
	uint base = P1.x + (t * heads + h) * hd + 2u * i;
	vec2 cs = CS[t * pairs + i];
	float x0 = X[base], x1 = X[base + 1u];
	X[base] = x0 * cs.x - x1 * cs.y;
	X[base + 1u] = x0 * cs.y + x1 * cs.x;
}

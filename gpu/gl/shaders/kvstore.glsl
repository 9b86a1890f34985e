// Stores float keys or values into a KV cache of fp16 pairs (rounded to
// nearest, ties to even). Needs round.glsl.
//   P0.x pairs   P0.y destination offset (words)   P0.z source offset (floats)

layout(local_size_x = WG) in;
layout(std430, binding = 1) readonly buffer ABuf { float A[]; };
layout(std430, binding = 4) writeonly buffer DBuf { uint D[]; };

void main() {
	uint i = groupIndex() * WG + gl_LocalInvocationIndex;
	if (i >= P0.x) return;
	uint a = P0.z + 2u * i;
	D[P0.y + i] = packHalf2x16(vec2(toHalf(A[a]), toHalf(A[a + 1u])));
}

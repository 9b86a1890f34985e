// D[i] = silu(G[i]) · U[i].
//   P0.x count   P0.y d offset   P0.z g offset   P0.w u offset (floats)

layout(local_size_x = WG) in;
layout(std430, binding = 1) readonly buffer GBuf { float G[]; };
layout(std430, binding = 2) readonly buffer UBuf { float U[]; };
layout(std430, binding = 4) writeonly buffer DBuf { float D[]; };

void main() {
	uint i = groupIndex() * WG + gl_LocalInvocationIndex;
	if (i >= P0.x) return;
	float x = G[P0.z + i];
	D[P0.y + i] = x / (1.0 + exp(-x)) * U[P0.w + i];
}

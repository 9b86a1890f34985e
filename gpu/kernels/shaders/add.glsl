// D[i] += A[i].
//   P0.x count   P0.y d offset   P0.z a offset (floats)

layout(local_size_x = WG) in;
layout(std430, binding = 1) readonly buffer ABuf { float A[]; };
layout(std430, binding = 4) buffer DBuf { float D[]; };

void main() {
	uint i = groupIndex() * WG + gl_LocalInvocationIndex;
	if (i >= P0.x) return;
	D[P0.y + i] += A[P0.z + i];
}

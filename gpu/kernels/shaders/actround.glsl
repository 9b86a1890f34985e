// Rounds activations the way ggml does before a dot product (quantize,
// then dequantize), so that products match llama.cpp's and the CPU
// backend's: ATYPE 8 is Q8_0 (also Q8_1's values), 15 Q8_K, 1 F16, 30 BF16.
// One invocation per block of BLOCK floats. Needs round.glsl.
//   P0.x count (a multiple of BLOCK)   P0.y d offset   P0.z a offset (floats)

layout(local_size_x = 64) in;
layout(std430, binding = 1) readonly buffer ABuf { float A[]; };
layout(std430, binding = 4) writeonly buffer DBuf { float D[]; };

void main() {
	uint blk = groupIndex() * 64u + gl_LocalInvocationIndex;
	if (blk >= P0.x / BLOCK) return;
	uint a = P0.z + blk * BLOCK, d = P0.y + blk * BLOCK;
#if ATYPE == 8
	float amax = 0.0;
	for (uint j = 0u; j < BLOCK; j++) amax = max(amax, abs(A[a + j]));
	float scale = amax / 127.0;
	float inv = scale != 0.0 ? 1.0 / scale : 0.0;
	float stored = toHalf(scale);
	for (uint j = 0u; j < BLOCK; j++) D[d + j] = roundAway(A[a + j] * inv) * stored;
#elif ATYPE == 15
	float amax = 0.0, mx = 0.0;
	for (uint j = 0u; j < BLOCK; j++) {
		float v = A[a + j];
		if (abs(v) > amax) {
			amax = abs(v);
			mx = v;
		}
	}
	if (amax == 0.0) {
		for (uint j = 0u; j < BLOCK; j++) D[d + j] = 0.0;
		return;
	}
	float iscale = -127.0 / mx;
	float scale = 1.0 / iscale;
	for (uint j = 0u; j < BLOCK; j++) D[d + j] = scale * min(roundEven(iscale * A[a + j]), 127.0);
#elif ATYPE == 1
	for (uint j = 0u; j < BLOCK; j++) D[d + j] = toHalf(A[a + j]);
#elif ATYPE == 30
	for (uint j = 0u; j < BLOCK; j++) D[d + j] = toBF16(A[a + j]);
#else
#error unsupported ATYPE
#endif
}

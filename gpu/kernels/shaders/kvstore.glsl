// Stores a batch of float keys or values (rows of the KV width) into a KV
// cache at a row, converting them to the cache's type. Needs round.glsl.
//   KV_TYPE 1 (fp16): one invocation per pair of values, rounded to nearest,
//     ties to even; two to a word.
//   KV_TYPE 2 (Q8_0): one invocation per pair of 32-value blocks of a row,
//     quantized as ggml's quantize_row_q8_0 does (d = amax/127 stored as
//     fp16, q = round(x/d) half away from zero). A cache row holds the
//     row's quants (KV width / 4 words), then its fp16 scales, two to a
//     word (kvRowWords of common.glsl).
//   P0.x pairs (fp16: of values; Q8_0: of blocks, over all the batch's rows)
//   P0.y destination offset (words)   P0.z source offset (floats)
//   P0.w KV width (Q8_0: a multiple of 32)

layout(local_size_x = WG) in;
layout(std430, binding = 1) readonly buffer ABuf { float A[]; };
layout(std430, binding = 4) writeonly buffer DBuf { uint D[]; };

#if KV_TYPE == 2
// quantizeBlock writes the quants of the 32 values at A[a] to D[q..q+8)
// and returns their fp16 scale.
float quantizeBlock(uint a, uint q) {
	float amax = 0.0;
	for (uint j = 0u; j < 32u; j++) amax = max(amax, abs(A[a + j]));
	float d = amax / 127.0;
	float id = d != 0.0 ? 1.0 / d : 0.0;
	for (uint w = 0u; w < 8u; w++) {
		uint word = 0u;
		for (uint k = 0u; k < 4u; k++) {
			int v = int(roundAway(A[a + 4u * w + k] * id));
			word |= (uint(v) & 0xFFu) << (8u * k);
		}
		D[q + w] = word;
	}
	return toHalf(d);
}
#endif

void main() {
	uint i = groupIndex() * WG + gl_LocalInvocationIndex;
	if (i >= P0.x) return;
#if KV_TYPE == 1
	uint a = P0.z + 2u * i;
	D[P0.y + i] = packHalf2x16(vec2(toHalf(A[a]), toHalf(A[a + 1u])));
#elif KV_TYPE == 2
	uint kvDim = P0.w, blocks = kvDim >> 5u, pairs = (blocks + 1u) >> 1u;
	uint row = i / pairs, b0 = 2u * (i % pairs);
	uint rowBase = P0.y + row * kvRowWords(kvDim), src = P0.z + row * kvDim;
	float d0 = quantizeBlock(src + 32u * b0, rowBase + 8u * b0);
	float d1 = 0.0;
	if (b0 + 1u < blocks) d1 = quantizeBlock(src + 32u * (b0 + 1u), rowBase + 8u * (b0 + 1u));
	D[rowBase + (kvDim >> 2u) + (b0 >> 1u)] = packHalf2x16(vec2(d0, d1));
#else
#error unsupported KV_TYPE
#endif
}

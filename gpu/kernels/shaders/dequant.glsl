// Dequantization of the repacked weight layouts (see the layouts in layout.go).
// WTYPE is the ggml type id; BLOCK_ELEMS the elements of one block; HAS_AUX
// is 1 when the type has an aux (fp16 scale) stream.
//
// deq8(b, sub, lo, hi) returns elements 8·sub … 8·sub+7 of block b (counted
// from the start of the bound chunk): lo the first four, hi the next four.

layout(std430, binding = 1) readonly buffer WeightMain { uint W[]; };
#if HAS_AUX
layout(std430, binding = 2) readonly buffer WeightAux { uint S[]; };

// auxHalf is the fp16 scale of block b (two blocks to a word).
float auxHalf(uint b) {
	vec2 h = unpackHalf2x16(S[b >> 1u]);
	return (b & 1u) == 0u ? h.x : h.y;
}
#endif

#define SUBS (BLOCK_ELEMS / 8u)

const uvec4 BYTE_SHIFT = uvec4(0u, 8u, 16u, 24u);

// nib returns the nibbles at bit sh of the four bytes of w.
vec4 nib(uint w, uint sh) { return vec4((uvec4(w) >> (BYTE_SHIFT + sh)) & 0xFu); }
// bits2 returns the 2-bit fields at bit sh of the four bytes of w.
vec4 bits2(uint w, uint sh) { return vec4((uvec4(w) >> (BYTE_SHIFT + sh)) & 3u); }
// bit1 returns bit sh of the four bytes of w.
vec4 bit1(uint w, uint sh) { return vec4((uvec4(w) >> (BYTE_SHIFT + sh)) & 1u); }
// sbytes returns the four bytes of w as signed integers.
vec4 sbytes(uint w) { return vec4((ivec4(int(w)) << ivec4(24, 16, 8, 0)) >> 24); }
// byteAt returns byte k of the words starting at W[base].
uint byteAt(uint base, uint k) { return (W[base + (k >> 2u)] >> ((k & 3u) * 8u)) & 0xFFu; }

#if WTYPE == 12 || WTYPE == 13
// scaleMin unpacks the 6-bit scale and min of sub-block j of a Q4_K/Q5_K
// block whose 12 scale bytes start at word base.
vec2 scaleMin(uint base, uint j) {
	if (j < 4u) {
		return vec2(float(byteAt(base, j) & 63u), float(byteAt(base, j + 4u) & 63u));
	}
	uint q = byteAt(base, j + 4u);
	return vec2(float((q & 0xFu) | ((byteAt(base, j - 4u) >> 6u) << 4u)),
	            float((q >> 4u) | ((byteAt(base, j) >> 6u) << 4u)));
}
#endif

void deq8(uint b, uint sub, out vec4 lo, out vec4 hi) {
#if WTYPE == 0 // F32
	uint base = b * 8u;
	lo = uintBitsToFloat(uvec4(W[base], W[base + 1u], W[base + 2u], W[base + 3u]));
	hi = uintBitsToFloat(uvec4(W[base + 4u], W[base + 5u], W[base + 6u], W[base + 7u]));
#elif WTYPE == 1 // F16
	uint base = b * 4u;
	lo = vec4(unpackHalf2x16(W[base]), unpackHalf2x16(W[base + 1u]));
	hi = vec4(unpackHalf2x16(W[base + 2u]), unpackHalf2x16(W[base + 3u]));
#elif WTYPE == 30 // BF16
	uint base = b * 4u;
	uvec4 w = uvec4(W[base], W[base + 1u], W[base + 2u], W[base + 3u]);
	lo = uintBitsToFloat(uvec4(w.x << 16u, w.x & 0xFFFF0000u, w.y << 16u, w.y & 0xFFFF0000u));
	hi = uintBitsToFloat(uvec4(w.z << 16u, w.z & 0xFFFF0000u, w.w << 16u, w.w & 0xFFFF0000u));
#elif WTYPE == 2 // Q4_0: elements 0-15 low nibbles, 16-31 high nibbles
	uint base = b * 4u + (sub & 1u) * 2u;
	uint sh = (sub >> 1u) * 4u;
	float d = auxHalf(b);
	lo = d * (nib(W[base], sh) - 8.0);
	hi = d * (nib(W[base + 1u], sh) - 8.0);
#elif WTYPE == 3 // Q4_1
	uint base = b * 4u + (sub & 1u) * 2u;
	uint sh = (sub >> 1u) * 4u;
	vec2 dm = unpackHalf2x16(S[b]);
	lo = dm.x * nib(W[base], sh) + dm.y;
	hi = dm.x * nib(W[base + 1u], sh) + dm.y;
#elif WTYPE == 6 || WTYPE == 7 // Q5_0, Q5_1: qh bit e is the fifth bit of element e
	uint base = b * 5u;
	uint qh = W[base] >> (8u * sub);
	uint qw = base + 1u + (sub & 1u) * 2u;
	uint sh = (sub >> 1u) * 4u;
	vec4 q0 = nib(W[qw], sh) + 16.0 * vec4((uvec4(qh) >> uvec4(0u, 1u, 2u, 3u)) & 1u);
	vec4 q1 = nib(W[qw + 1u], sh) + 16.0 * vec4((uvec4(qh) >> uvec4(4u, 5u, 6u, 7u)) & 1u);
#if WTYPE == 6
	float d = auxHalf(b);
	lo = d * (q0 - 16.0);
	hi = d * (q1 - 16.0);
#else
	vec2 dm = unpackHalf2x16(S[b]);
	lo = dm.x * q0 + dm.y;
	hi = dm.x * q1 + dm.y;
#endif
#elif WTYPE == 8 // Q8_0
	uint base = b * 8u + sub * 2u;
	float d = auxHalf(b);
	lo = d * sbytes(W[base]);
	hi = d * sbytes(W[base + 1u]);
#elif WTYPE == 10 || WTYPE == 11 // Q2_K, Q3_K: element 128h + 32j + l takes bits 2j of qs[32h + l]
	uint h = sub >> 4u, j = (sub >> 2u) & 3u, part = (sub >> 1u) & 1u, r = sub & 3u;
	uint is = 8u * h + 2u * j + part; // scale index: 16 elements each
#if WTYPE == 10
	uint base = b * 21u;
	vec2 dm = unpackHalf2x16(W[base + 20u]);
	uint sc = byteAt(base, is);
	float dl = dm.x * float(sc & 0xFu), ml = dm.y * float(sc >> 4u);
	uint qw = base + 4u + 8u * h + 2u * r;
	lo = dl * bits2(W[qw], 2u * j) - ml;
	hi = dl * bits2(W[qw + 1u], 2u * j) - ml;
#else
	uint base = b * 27u;
	uint lowBits = is < 8u ? byteAt(base + 24u, is) & 0xFu : byteAt(base + 24u, is - 8u) >> 4u;
	uint highBits = (byteAt(base + 24u, 8u + (is & 3u)) >> (2u * (is >> 2u))) & 3u;
	float dl = auxHalf(b) * float(int(lowBits | (highBits << 4u)) - 32);
	uint qw = base + 8u + 8u * h + 2u * r;
	uint hw = base + 2u * r;
	uint hs = 4u * h + j;
	lo = dl * (bits2(W[qw], 2u * j) - 4.0 * (1.0 - bit1(W[hw], hs)));
	hi = dl * (bits2(W[qw + 1u], 2u * j) - 4.0 * (1.0 - bit1(W[hw + 1u], hs)));
#endif
#elif WTYPE == 12 || WTYPE == 13 // Q4_K, Q5_K: qs byte 32c + l holds element 64c + l (low) and 64c + 32 + l (high)
	uint c = sub >> 3u, upper = (sub >> 2u) & 1u, r = sub & 3u;
	uint sj = 2u * c + upper;
	uint sh = 4u * upper;
#if WTYPE == 12
	uint base = b * 36u;
	uint qw = base + 4u + 8u * c + 2u * r;
	vec4 q0 = nib(W[qw], sh), q1 = nib(W[qw + 1u], sh);
#else
	uint base = b * 44u;
	uint qw = base + 12u + 8u * c + 2u * r;
	uint hw = base + 4u + 2u * r;
	vec4 q0 = nib(W[qw], sh) + 16.0 * bit1(W[hw], sj);
	vec4 q1 = nib(W[qw + 1u], sh) + 16.0 * bit1(W[hw + 1u], sj);
#endif
	vec2 dm = unpackHalf2x16(W[base]);
	vec2 sm = scaleMin(base + 1u, sj);
	float dl = dm.x * sm.x, ml = dm.y * sm.y;
	lo = dl * q0 - ml;
	hi = dl * q1 - ml;
#elif WTYPE == 14 // Q6_K
	uint h = sub >> 4u, quarter = (sub >> 2u) & 3u, r = sub & 3u;
	uint base = b * 52u;
	uint lw = base + 16u * h + 8u * (quarter & 1u) + 2u * r;
	uint hw = base + 32u + 8u * h + 2u * r;
	uint lsh = 4u * (quarter >> 1u), hsh = 2u * quarter;
	float dl = auxHalf(b) * float(int(byteAt(base + 48u, sub >> 1u) << 24u) >> 24);
	lo = dl * (nib(W[lw], lsh) + 16.0 * bits2(W[hw], hsh) - 32.0);
	hi = dl * (nib(W[lw + 1u], lsh) + 16.0 * bits2(W[hw + 1u], hsh) - 32.0);
#else
#error unsupported WTYPE
#endif
}

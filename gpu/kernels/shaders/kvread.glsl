// Reading a KV cache of type KV_TYPE (see kvlayout.glsl), keys bound at 2
// and values at 3: key4 and value4 return the four values at element 4·e4
// of row r, value the value at element e. Rows are kvDim (P1.w) wide.

#if KV_TYPE == 0
layout(std430, binding = 2) readonly buffer KBuf { vec4 Kc[]; };
layout(std430, binding = 3) readonly buffer VBuf { float Vc[]; };

vec4 key4(uint r, uint e4) { return Kc[r * (P1.w >> 2u) + e4]; }
float value(uint r, uint e) { return Vc[r * P1.w + e]; }
vec4 value4(uint r, uint e4) {
	uint i = r * P1.w + 4u * e4;
	return vec4(Vc[i], Vc[i + 1u], Vc[i + 2u], Vc[i + 3u]);
}
#elif KV_TYPE == 1
layout(std430, binding = 2) readonly buffer KBuf { uint Kc[]; };
layout(std430, binding = 3) readonly buffer VBuf { uint Vc[]; };

vec4 key4(uint r, uint e4) {
	uint i = r * (P1.w >> 1u) + 2u * e4;
	return vec4(unpackHalf2x16(Kc[i]), unpackHalf2x16(Kc[i + 1u]));
}
float value(uint r, uint e) {
	vec2 v = unpackHalf2x16(Vc[r * (P1.w >> 1u) + (e >> 1u)]);
	return (e & 1u) == 0u ? v.x : v.y;
}
vec4 value4(uint r, uint e4) {
	uint i = r * (P1.w >> 1u) + 2u * e4;
	return vec4(unpackHalf2x16(Vc[i]), unpackHalf2x16(Vc[i + 1u]));
}
#elif KV_TYPE == 2
layout(std430, binding = 2) readonly buffer KBuf { uint Kc[]; };
layout(std430, binding = 3) readonly buffer VBuf { uint Vc[]; };

// q8Scale is the scale of the block of element e in a row starting at word base.
#define Q8_SCALE(C, base, e) (((e) & 32u) == 0u ? unpackHalf2x16(C[(base) + (P1.w >> 2u) + ((e) >> 6u)]).x \
                                                 : unpackHalf2x16(C[(base) + (P1.w >> 2u) + ((e) >> 6u)]).y)

vec4 key4(uint r, uint e4) {
	uint base = r * kvRowWords(P1.w);
	return Q8_SCALE(Kc, base, 4u * e4) * vec4((ivec4(int(Kc[base + e4])) << ivec4(24, 16, 8, 0)) >> 24);
}
float value(uint r, uint e) {
	uint base = r * kvRowWords(P1.w);
	return Q8_SCALE(Vc, base, e) * float((int(Vc[base + (e >> 2u)]) << (24u - 8u * (e & 3u))) >> 24);
}
vec4 value4(uint r, uint e4) {
	uint base = r * kvRowWords(P1.w);
	return Q8_SCALE(Vc, base, 4u * e4) * vec4((ivec4(int(Vc[base + e4])) << ivec4(24, 16, 8, 0)) >> 24);
}
#else
#error unsupported KV_TYPE
#endif

// Rounding as ggml rounds (C roundf, fp16 and bf16 conversions, ties to even).

// roundAway rounds half away from zero, as C's roundf.
float roundAway(float v) {
	float a = abs(v), r = floor(a);
	if (a - r >= 0.5) r += 1.0;
	return v < 0.0 ? -r : r;
}

// toHalf rounds to the nearest binary16 value, ties to even.
float toHalf(float v) {
	uint u = floatBitsToUint(v), s = u & 0x80000000u, a = u & 0x7FFFFFFFu;
	if (a >= 0x477FF000u) return uintBitsToFloat(s | 0x7F800000u);
	if (a < 0x38800000u) return roundEven(v * 16777216.0) * (1.0 / 16777216.0);
	a = (a + 0xFFFu + ((a >> 13u) & 1u)) & 0xFFFFE000u;
	return uintBitsToFloat(s | a);
}

// toBF16 rounds to the nearest bfloat16 value, ties to even.
float toBF16(float v) {
	uint u = floatBitsToUint(v);
	return uintBitsToFloat((u + 0x7FFFu + ((u >> 16u) & 1u)) & 0xFFFF0000u);
}

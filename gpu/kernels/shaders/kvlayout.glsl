// The row layout of a KV cache of type KV_TYPE (0 float32, 1 fp16, 2 Q8_0):
// kvRowWords is the words one position's row of kvDim values takes. Q8_0
// rows hold kvDim/4 words of quants, then kvDim/32 fp16 scales, two to a
// word (a last odd one padded).

uint kvRowWords(uint kvDim) {
#if KV_TYPE == 0
	return kvDim;
#elif KV_TYPE == 1
	return kvDim >> 1u;
#else
	return (kvDim >> 2u) + (((kvDim >> 5u) + 1u) >> 1u);
#endif
}

// Y[r] = X[r] / sqrt(mean(X[r]²) + eps) · w. With LANES == 1 each
// invocation normalises one row; otherwise a workgroup of WG shares a row.
//   P0.x row length   P0.y rows   P0.z x offset   P0.w y offset (floats)   PF.x eps

layout(local_size_x = WG) in;
layout(std430, binding = 1) readonly buffer NormWeight { float NW[]; };
layout(std430, binding = 3) readonly buffer XBuf { float X[]; };
layout(std430, binding = 4) writeonly buffer YBuf { float Y[]; };

void main() {
	uint dim = P0.x;
	uint tid = gl_LocalInvocationIndex;
#if LANES == 1
	uint row = groupIndex() * WG + tid, first = 0u, step = 1u;
#else
	uint row = groupIndex(), first = tid, step = WG;
#endif
	if (row >= P0.y) return;
	uint xo = P0.z + row * dim, yo = P0.w + row * dim;
	float ss = 0.0;
	for (uint i = first; i < dim; i += step) {
		float v = X[xo + i];
		ss += v * v;
	}
#if LANES != 1
	ss = wgSum(ss);
#endif
	float scale = 1.0 / sqrt(ss / float(dim) + PF.x);
	for (uint i = first; i < dim; i += step) Y[yo + i] = X[xo + i] * scale * NW[i];
}

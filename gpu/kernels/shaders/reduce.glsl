// Workgroup reductions over WG invocations; every invocation gets the result.

shared float red[WG];

float wgSum(float v) {
	uint tid = gl_LocalInvocationIndex;
#ifdef USE_SUBGROUPS
	v = subgroupAdd(v);
	if (subgroupElect()) red[gl_SubgroupID] = v;
	SYNC();
	float s = 0.0;
	for (uint i = 0u; i < gl_NumSubgroups; i++) s += red[i];
	SYNC();
	return s;
#else
	red[tid] = v;
	SYNC();
	for (uint s = WG / 2u; s > 0u; s >>= 1u) {
		if (tid < s) red[tid] += red[tid + s];
		SYNC();
	}
	float r = red[0];
	SYNC();
	return r;
#endif
}

float wgMax(float v) {
	uint tid = gl_LocalInvocationIndex;
#ifdef USE_SUBGROUPS
	v = subgroupMax(v);
	if (subgroupElect()) red[gl_SubgroupID] = v;
	SYNC();
	float s = red[0];
	for (uint i = 1u; i < gl_NumSubgroups; i++) s = max(s, red[i]);
	SYNC();
	return s;
#else
	red[tid] = v;
	SYNC();
	for (uint s = WG / 2u; s > 0u; s >>= 1u) {
		if (tid < s) red[tid] = max(red[tid], red[tid + s]);
		SYNC();
	}
	float r = red[0];
	SYNC();
	return r;
#endif
}

// Shared by every kernel. The host prepends #version 430, the subgroup
// extensions when it uses them (USE_SUBGROUPS) and the kernel's #defines.

// Each dispatch gets its parameters in one std140 block: P0 and P1 hold
// sizes and element offsets, PF floats; each kernel documents its fields.
layout(std140, binding = 0) uniform Params {
	uvec4 P0;
	uvec4 P1;
	vec4 PF;
};

// groupIndex is the linear workgroup index: large grids are folded into y.
uint groupIndex() { return gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x; }

#define SYNC() { memoryBarrierShared(); barrier(); }

// A very negative score that still subtracts to a finite number (exp of
// the difference is 0), used instead of -inf.
#define NEG_BIG (-1.0e30)

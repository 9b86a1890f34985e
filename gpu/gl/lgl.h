// lgl: the small C layer of the OpenGL compute backend. On Linux it loads
// libEGL at run time (dlopen) and creates a headless OpenGL 4.3 core context
// (lgl_egl.c); a hidden GLFW window's context is the other way (glfw.go).
// It holds the handful of GL entry points the backend uses and executes a
// recorded list of commands in one call. No EGL or GL headers or libraries
// are needed at build time: the constants below are the values the Khronos
// registry fixes.
#ifndef LLAMADESK_LGL_H
#define LLAMADESK_LGL_H

#include <stdint.h>

// OpenGL enums used by the backend.
#define LGL_NO_ERROR 0
#define LGL_OUT_OF_MEMORY 0x0505
#define LGL_VENDOR 0x1F00
#define LGL_RENDERER 0x1F01
#define LGL_VERSION 0x1F02
#define LGL_EXTENSIONS 0x1F03
#define LGL_SHADING_LANGUAGE_VERSION 0x8B8C
#define LGL_NUM_EXTENSIONS 0x821D
#define LGL_MAJOR_VERSION 0x821B
#define LGL_MINOR_VERSION 0x821C
#define LGL_MAX_SHADER_STORAGE_BLOCK_SIZE 0x90DE
#define LGL_SHADER_STORAGE_BUFFER_OFFSET_ALIGNMENT 0x90DF
#define LGL_UNIFORM_BUFFER_OFFSET_ALIGNMENT 0x8A34
#define LGL_MAX_COMPUTE_SHARED_MEMORY_SIZE 0x8262
#define LGL_MAX_COMPUTE_WORK_GROUP_INVOCATIONS 0x90EB
#define LGL_MAX_COMPUTE_WORK_GROUP_COUNT 0x91BE
#define LGL_SUBGROUP_SIZE_KHR 0x9532
#define LGL_SUBGROUP_SUPPORTED_STAGES_KHR 0x9533
#define LGL_SUBGROUP_SUPPORTED_FEATURES_KHR 0x9534
#define LGL_GPU_MEMORY_INFO_TOTAL_AVAILABLE_MEMORY_NVX 0x9048
#define LGL_GPU_MEMORY_INFO_CURRENT_AVAILABLE_VIDMEM_NVX 0x9049
#define LGL_VBO_FREE_MEMORY_ATI 0x87FB

// Barrier bits of commands (compute.Barrier*), issued as glMemoryBarrier's
// SHADER_STORAGE and BUFFER_UPDATE bits.
#define LGL_BARRIER_SHADER 1
#define LGL_BARRIER_TRANSFER 2

// Command kinds of lgl_exec.
#define LGL_CMD_DISPATCH 1 // program, bindings, params, groups
#define LGL_CMD_COPY 2     // buf[0]@off[0] -> buf[1]@off[1], size[0] bytes
#define LGL_CMD_UPLOAD 3   // data[off[1]:off[1]+size[0]] -> buf[0]@off[0]
#define LGL_CMD_MAXBIND 5

// One recorded command, laid out as compute.Cmd. Dispatch bindings: buf[i]
// is bound to shader storage binding i+1 (0: none) over
// [off[i], off[i]+size[i]).
typedef struct {
	uint32_t kind;
	uint32_t barrier; // LGL_BARRIER_* bits issued before the command, 0 for none
	uint32_t program;
	uint32_t groups[3];
	uint32_t params; // byte offset of the command's parameters in the uniform blob
	uint32_t buf[LGL_CMD_MAXBIND];
	int64_t off[LGL_CMD_MAXBIND];
	int64_t size[LGL_CMD_MAXBIND];
} lgl_cmd;

// The GL entry points lgl calls: lgl_gl_count of them, named by
// lgl_gl_name. lgl_set_gl installs their addresses (in that order) for the
// calling thread, the one whose context they came from; it returns the
// first missing name, or NULL.
int lgl_gl_count(void);
const char *lgl_gl_name(int i);
const char *lgl_set_gl(void *const *procs);

#ifdef __linux__
typedef struct lgl_egl lgl_egl;

// lgl_egl_create creates a headless OpenGL 4.3 core context with EGL,
// makes it current on the calling thread and installs the GL entry points
// for it. It returns NULL and writes the reasons to err when no context
// can be created.
lgl_egl *lgl_egl_create(char *err, int errlen);
// lgl_egl_destroy releases the context current on the calling thread.
void lgl_egl_destroy(lgl_egl *c);
// lgl_egl_platform names the EGL platform the context was created on.
const char *lgl_egl_platform(lgl_egl *c);
#endif

const char *lgl_get_string(uint32_t name);
const char *lgl_get_stringi(uint32_t name, uint32_t i);
int64_t lgl_get_integer(uint32_t name);
int64_t lgl_get_integer_index(uint32_t name, uint32_t i);
void lgl_get_integers(uint32_t name, int32_t *out);
// LGL_MAX_ERROR_FLAGS bounds the glGetError calls of lgl_drain_errors: a
// lost context may report an error forever.
#define LGL_MAX_ERROR_FLAGS 16
// lgl_drain_errors reads the GL error flags (one per error code, up to
// LGL_MAX_ERROR_FLAGS) and clears them. It returns LGL_OUT_OF_MEMORY when
// any flag was, else the first error read, else LGL_NO_ERROR.
uint32_t lgl_drain_errors(void);

// lgl_program compiles and links a compute program; it returns 0 and writes
// the compiler's log to log on failure.
uint32_t lgl_program(const char *src, char *log, int loglen);

// lgl_buffer creates a buffer of size bytes filled from data, or with zeros
// when data is NULL. It returns 0 and sets *glerr when the driver refuses.
uint32_t lgl_buffer(int64_t size, const void *data, uint32_t *glerr);
void lgl_delete_buffers(const uint32_t *names, int n);
// lgl_read copies size bytes at off of buffer buf into dst; barrier bits
// (LGL_BARRIER_*, if any) are issued first. It waits for the GPU.
void lgl_read(uint32_t buf, int64_t off, int64_t size, void *dst, uint32_t barrier);

// lgl_exec runs n recorded commands. params (paramsLen bytes) is uploaded
// to the uniform buffer ubo first; data holds the bytes of upload commands.
// While *stop is not 0 (set from another thread: an interrupt), the
// remaining commands are skipped, and one full barrier stands in for the
// barriers they carried.
void lgl_exec(const lgl_cmd *cmds, int n, uint32_t ubo, const void *params, int64_t paramsLen,
              uint32_t paramsSize, const void *data, const int32_t *stop);

#endif

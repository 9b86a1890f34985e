//go:build (linux || windows) && cgo

// The platform-neutral half of lgl: the GL entry points (set per thread by
// the context code: lgl_egl.c on Linux, GLFW in glfw.go), queries,
// programs, buffers and the execution of recorded commands.

#include "lgl.h"

#include <stddef.h>
#include <stdint.h>

// ---- GL entry points -----------------------------------------------------------

typedef unsigned int GLenum;
typedef unsigned int GLuint;
typedef int GLint;
typedef int GLsizei;
typedef unsigned int GLbitfield;
typedef unsigned char GLubyte;
typedef char GLchar;
typedef unsigned char GLboolean;
typedef intptr_t GLintptr;
typedef intptr_t GLsizeiptr;
typedef int64_t GLint64;

#define GL_COMPUTE_SHADER 0x91B9
#define GL_COMPILE_STATUS 0x8B81
#define GL_LINK_STATUS 0x8B82
#define GL_SHADER_STORAGE_BUFFER 0x90D2
#define GL_UNIFORM_BUFFER 0x8A11
#define GL_COPY_READ_BUFFER 0x8F36
#define GL_COPY_WRITE_BUFFER 0x8F37
#define GL_STATIC_DRAW 0x88E4
#define GL_STREAM_DRAW 0x88E0
#define GL_R32UI 0x8236
#define GL_RED_INTEGER 0x8D94
#define GL_UNSIGNED_INT 0x1405
#define GL_SHADER_STORAGE_BARRIER_BIT 0x2000
#define GL_BUFFER_UPDATE_BARRIER_BIT 0x0200

// GLFUNCS lists every GL function the backend calls: X(ret, name, params).
#define GLFUNCS(X)                                                                              \
	X(const GLubyte *, glGetString, (GLenum))                                                     \
	X(const GLubyte *, glGetStringi, (GLenum, GLuint))                                            \
	X(void, glGetIntegerv, (GLenum, GLint *))                                                     \
	X(void, glGetInteger64v, (GLenum, GLint64 *))                                                 \
	X(void, glGetIntegeri_v, (GLenum, GLuint, GLint *))                                           \
	X(GLenum, glGetError, (void))                                                                 \
	X(GLuint, glCreateShader, (GLenum))                                                           \
	X(void, glShaderSource, (GLuint, GLsizei, const GLchar *const *, const GLint *))              \
	X(void, glCompileShader, (GLuint))                                                            \
	X(void, glGetShaderiv, (GLuint, GLenum, GLint *))                                             \
	X(void, glGetShaderInfoLog, (GLuint, GLsizei, GLsizei *, GLchar *))                           \
	X(void, glDeleteShader, (GLuint))                                                             \
	X(GLuint, glCreateProgram, (void))                                                            \
	X(void, glAttachShader, (GLuint, GLuint))                                                     \
	X(void, glLinkProgram, (GLuint))                                                              \
	X(void, glGetProgramiv, (GLuint, GLenum, GLint *))                                            \
	X(void, glGetProgramInfoLog, (GLuint, GLsizei, GLsizei *, GLchar *))                          \
	X(void, glDeleteProgram, (GLuint))                                                            \
	X(void, glUseProgram, (GLuint))                                                               \
	X(void, glGenBuffers, (GLsizei, GLuint *))                                                    \
	X(void, glDeleteBuffers, (GLsizei, const GLuint *))                                           \
	X(void, glBindBuffer, (GLenum, GLuint))                                                       \
	X(void, glBufferData, (GLenum, GLsizeiptr, const void *, GLenum))                             \
	X(void, glBufferSubData, (GLenum, GLintptr, GLsizeiptr, const void *))                        \
	X(void, glGetBufferSubData, (GLenum, GLintptr, GLsizeiptr, void *))                           \
	X(void, glClearBufferData, (GLenum, GLenum, GLenum, GLenum, const void *))                    \
	X(void, glCopyBufferSubData, (GLenum, GLenum, GLintptr, GLintptr, GLsizeiptr))                \
	X(void, glBindBufferRange, (GLenum, GLuint, GLuint, GLintptr, GLsizeiptr))                    \
	X(void, glDispatchCompute, (GLuint, GLuint, GLuint))                                          \
	X(void, glMemoryBarrier, (GLbitfield))

#define DECLARE(ret, name, params) static _Thread_local ret(*p_##name) params;
GLFUNCS(DECLARE)
#undef DECLARE

// The entry points are per thread: each context lives on its own thread,
// and on some platforms (WGL) a function pointer is only valid for the
// contexts of the driver that gave it.

#define NAME(ret, name, params) #name,
static const char *const glNames[] = {GLFUNCS(NAME)};
#undef NAME

int lgl_gl_count(void) { return (int)(sizeof glNames / sizeof glNames[0]); }

const char *lgl_gl_name(int i) { return glNames[i]; }

const char *lgl_set_gl(void *const *procs) {
	int i = 0;
#define SET(ret, name, params)                       \
	if (!procs[i]) return glNames[i];                \
	*(void **)(&p_##name) = procs[i];                \
	i++;
	GLFUNCS(SET)
#undef SET
	return NULL;
}

// ---- queries -------------------------------------------------------------------

const char *lgl_get_string(uint32_t name) { return (const char *)p_glGetString(name); }
const char *lgl_get_stringi(uint32_t name, uint32_t i) { return (const char *)p_glGetStringi(name, i); }

int64_t lgl_get_integer(uint32_t name) {
	GLint64 v = 0;
	p_glGetInteger64v(name, &v);
	return v;
}

int64_t lgl_get_integer_index(uint32_t name, uint32_t i) {
	GLint v = 0;
	p_glGetIntegeri_v(name, i, &v);
	return v;
}

void lgl_get_integers(uint32_t name, int32_t *out) { p_glGetIntegerv(name, out); }

uint32_t lgl_drain_errors(void) {
	uint32_t first = 0;
	int oom = 0;
	for (int i = 0; i < LGL_MAX_ERROR_FLAGS; i++) {
		GLenum e = p_glGetError();
		if (e == LGL_NO_ERROR) break;
		if (e == LGL_OUT_OF_MEMORY) oom = 1;
		if (!first) first = e;
	}
	return oom ? LGL_OUT_OF_MEMORY : first;
}

// ---- programs and buffers ----------------------------------------------------

uint32_t lgl_program(const char *src, char *log, int loglen) {
	log[0] = 0;
	GLuint sh = p_glCreateShader(GL_COMPUTE_SHADER);
	p_glShaderSource(sh, 1, &src, NULL);
	p_glCompileShader(sh);
	GLint ok = 0;
	p_glGetShaderiv(sh, GL_COMPILE_STATUS, &ok);
	if (!ok) {
		p_glGetShaderInfoLog(sh, loglen, NULL, log);
		p_glDeleteShader(sh);
		return 0;
	}
	GLuint prog = p_glCreateProgram();
	p_glAttachShader(prog, sh);
	p_glLinkProgram(prog);
	p_glDeleteShader(sh);
	p_glGetProgramiv(prog, GL_LINK_STATUS, &ok);
	if (!ok) {
		p_glGetProgramInfoLog(prog, loglen, NULL, log);
		p_glDeleteProgram(prog);
		return 0;
	}
	return prog;
}

uint32_t lgl_buffer(int64_t size, const void *data, uint32_t *glerr) {
	lgl_drain_errors();
	GLuint b = 0;
	p_glGenBuffers(1, &b);
	p_glBindBuffer(GL_COPY_WRITE_BUFFER, b);
	p_glBufferData(GL_COPY_WRITE_BUFFER, size, data, GL_STATIC_DRAW);
	if (!data) p_glClearBufferData(GL_COPY_WRITE_BUFFER, GL_R32UI, GL_RED_INTEGER, GL_UNSIGNED_INT, NULL);
	p_glBindBuffer(GL_COPY_WRITE_BUFFER, 0);
	*glerr = lgl_drain_errors();
	if (*glerr != 0) {
		p_glDeleteBuffers(1, &b);
		return 0;
	}
	return b;
}

void lgl_delete_buffers(const uint32_t *names, int n) { p_glDeleteBuffers(n, names); }

// glBarrierBits turns LGL_BARRIER_* bits into glMemoryBarrier's.
static GLbitfield glBarrierBits(uint32_t b) {
	GLbitfield bits = 0;
	if (b & LGL_BARRIER_SHADER) bits |= GL_SHADER_STORAGE_BARRIER_BIT;
	if (b & LGL_BARRIER_TRANSFER) bits |= GL_BUFFER_UPDATE_BARRIER_BIT;
	return bits;
}

void lgl_read(uint32_t buf, int64_t off, int64_t size, void *dst, uint32_t barrier) {
	if (barrier) p_glMemoryBarrier(glBarrierBits(barrier));
	p_glBindBuffer(GL_COPY_READ_BUFFER, buf);
	p_glGetBufferSubData(GL_COPY_READ_BUFFER, off, size, dst);
	p_glBindBuffer(GL_COPY_READ_BUFFER, 0);
}

// ---- command execution ---------------------------------------------------------

void lgl_exec(const lgl_cmd *cmds, int n, uint32_t ubo, const void *params, int64_t paramsLen,
              uint32_t paramsSize, const void *data, const int32_t *stop) {
	if (paramsLen > 0) {
		p_glBindBuffer(GL_UNIFORM_BUFFER, ubo);
		p_glBufferData(GL_UNIFORM_BUFFER, paramsLen, params, GL_STREAM_DRAW);
	}
	GLuint program = 0;
	GLuint bound[LGL_CMD_MAXBIND] = {0};
	int64_t boundOff[LGL_CMD_MAXBIND] = {0}, boundSize[LGL_CMD_MAXBIND] = {0};
	for (int i = 0; i < n; i++) {
		if (__atomic_load_n(stop, __ATOMIC_RELAXED)) {
			// The recorder forgot the hazards a skipped command's barrier
			// ordered: later batches (after the interrupt is reset) rely on
			// it, so order everything issued so far before returning.
			p_glMemoryBarrier(glBarrierBits(LGL_BARRIER_SHADER | LGL_BARRIER_TRANSFER));
			break;
		}
		const lgl_cmd *c = &cmds[i];
		if (c->barrier) p_glMemoryBarrier(glBarrierBits(c->barrier));
		switch (c->kind) {
		case LGL_CMD_DISPATCH:
			if (c->program != program) {
				p_glUseProgram(c->program);
				program = c->program;
			}
			p_glBindBufferRange(GL_UNIFORM_BUFFER, 0, ubo, c->params, paramsSize);
			for (int b = 0; b < LGL_CMD_MAXBIND; b++) {
				if (!c->buf[b]) continue;
				if (bound[b] == c->buf[b] && boundOff[b] == c->off[b] && boundSize[b] == c->size[b]) continue;
				p_glBindBufferRange(GL_SHADER_STORAGE_BUFFER, b + 1, c->buf[b], c->off[b], c->size[b]);
				bound[b] = c->buf[b];
				boundOff[b] = c->off[b];
				boundSize[b] = c->size[b];
			}
			p_glDispatchCompute(c->groups[0], c->groups[1], c->groups[2]);
			break;
		case LGL_CMD_COPY:
			p_glBindBuffer(GL_COPY_READ_BUFFER, c->buf[0]);
			p_glBindBuffer(GL_COPY_WRITE_BUFFER, c->buf[1]);
			p_glCopyBufferSubData(GL_COPY_READ_BUFFER, GL_COPY_WRITE_BUFFER, c->off[0], c->off[1], c->size[0]);
			break;
		case LGL_CMD_UPLOAD:
			p_glBindBuffer(GL_COPY_WRITE_BUFFER, c->buf[0]);
			p_glBufferSubData(GL_COPY_WRITE_BUFFER, c->off[0], c->size[0], (const char *)data + c->off[1]);
			break;
		}
	}
	p_glBindBuffer(GL_COPY_READ_BUFFER, 0);
	p_glBindBuffer(GL_COPY_WRITE_BUFFER, 0);
}

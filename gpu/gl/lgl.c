//go:build linux && cgo

#include "lgl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---- EGL, loaded at run time -------------------------------------------------

typedef void *EGLDisplay;
typedef void *EGLContext;
typedef void *EGLSurface;
typedef void *EGLConfig;
typedef void *EGLDeviceEXT;
typedef int32_t EGLint;
typedef unsigned int EGLBoolean;
typedef unsigned int EGLenum;

#define EGL_NONE 0x3038
#define EGL_EXTENSIONS 0x3055
#define EGL_VENDOR 0x3053
#define EGL_SUCCESS 0x3000
#define EGL_OPENGL_API 0x30A2
#define EGL_OPENGL_BIT 0x0008
#define EGL_RENDERABLE_TYPE 0x3040
#define EGL_SURFACE_TYPE 0x3033
#define EGL_PBUFFER_BIT 0x0001
#define EGL_WIDTH 0x3057
#define EGL_HEIGHT 0x3056
#define EGL_CONTEXT_MAJOR_VERSION 0x3098
#define EGL_CONTEXT_MINOR_VERSION 0x30FB
#define EGL_CONTEXT_OPENGL_PROFILE_MASK 0x30FD
#define EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT 0x0001
#define EGL_PLATFORM_DEVICE_EXT 0x313F
#define EGL_PLATFORM_SURFACELESS_MESA 0x31DD

static struct {
	void *lib;
	void *(*GetProcAddress)(const char *);
	const char *(*QueryString)(EGLDisplay, EGLint);
	EGLDisplay (*GetDisplay)(void *);
	EGLBoolean (*Initialize)(EGLDisplay, EGLint *, EGLint *);
	EGLBoolean (*BindAPI)(EGLenum);
	EGLBoolean (*ChooseConfig)(EGLDisplay, const EGLint *, EGLConfig *, EGLint, EGLint *);
	EGLContext (*CreateContext)(EGLDisplay, EGLConfig, EGLContext, const EGLint *);
	EGLBoolean (*DestroyContext)(EGLDisplay, EGLContext);
	EGLSurface (*CreatePbufferSurface)(EGLDisplay, EGLConfig, const EGLint *);
	EGLBoolean (*DestroySurface)(EGLDisplay, EGLSurface);
	EGLBoolean (*MakeCurrent)(EGLDisplay, EGLSurface, EGLSurface, EGLContext);
	EGLBoolean (*ReleaseThread)(void);
	EGLint (*GetError)(void);
	EGLDisplay (*GetPlatformDisplayEXT)(EGLenum, void *, const EGLint *);
	EGLBoolean (*QueryDevicesEXT)(EGLint, EGLDeviceEXT *, EGLint *);
	const char *(*QueryDeviceStringEXT)(EGLDeviceEXT, EGLint);
	char loadErr[256];
} egl;

static pthread_once_t eglOnce = PTHREAD_ONCE_INIT;

static void loadEGL(void) {
	const char *names[] = {"libEGL.so.1", "libEGL.so"};
	for (int i = 0; i < 2 && !egl.lib; i++) egl.lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
	if (!egl.lib) {
		snprintf(egl.loadErr, sizeof egl.loadErr, "cannot load libEGL.so.1 (install libegl1 and a GL driver such as libegl-mesa0): %s", dlerror());
		return;
	}
#define SYM(field, name)                                                                    \
	*(void **)(&egl.field) = dlsym(egl.lib, name);                                          \
	if (!egl.field) {                                                                       \
		snprintf(egl.loadErr, sizeof egl.loadErr, "libEGL.so.1 has no %s", name);        \
		egl.lib = NULL;                                                                     \
		return;                                                                             \
	}
	SYM(GetProcAddress, "eglGetProcAddress")
	SYM(QueryString, "eglQueryString")
	SYM(GetDisplay, "eglGetDisplay")
	SYM(Initialize, "eglInitialize")
	SYM(BindAPI, "eglBindAPI")
	SYM(ChooseConfig, "eglChooseConfig")
	SYM(CreateContext, "eglCreateContext")
	SYM(DestroyContext, "eglDestroyContext")
	SYM(CreatePbufferSurface, "eglCreatePbufferSurface")
	SYM(DestroySurface, "eglDestroySurface")
	SYM(MakeCurrent, "eglMakeCurrent")
	SYM(ReleaseThread, "eglReleaseThread")
	SYM(GetError, "eglGetError")
#undef SYM
	*(void **)(&egl.GetPlatformDisplayEXT) = egl.GetProcAddress("eglGetPlatformDisplayEXT");
	*(void **)(&egl.QueryDevicesEXT) = egl.GetProcAddress("eglQueryDevicesEXT");
	*(void **)(&egl.QueryDeviceStringEXT) = egl.GetProcAddress("eglQueryDeviceStringEXT");
}

// hasExt reports whether the space-separated list has the extension name.
static int hasExt(const char *list, const char *name) {
	if (!list) return 0;
	size_t n = strlen(name);
	for (const char *p = list; (p = strstr(p, name)) != NULL; p += n) {
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0)) return 1;
	}
	return 0;
}

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

#define DECLARE(ret, name, params) static ret(*p_##name) params;
GLFUNCS(DECLARE)
#undef DECLARE

// glSymbol resolves a GL function: through eglGetProcAddress, which returns
// core functions too where EGL_KHR_get_all_proc_addresses is offered
// (Mesa, NVIDIA), else from the GL library itself.
static void *glSymbol(const char *name) {
	void *p = egl.GetProcAddress(name);
	if (p) return p;
	static void *lib;
	if (!lib) lib = dlopen("libOpenGL.so.0", RTLD_NOW | RTLD_LOCAL);
	if (!lib) lib = dlopen("libGL.so.1", RTLD_NOW | RTLD_LOCAL);
	return lib ? dlsym(lib, name) : NULL;
}

// loadGL resolves the GL entry points; it returns the first missing name.
static const char *loadGL(void) {
#define LOAD(ret, name, params)                                       \
	*(void **)(&p_##name) = glSymbol(#name);                          \
	if (!p_##name) return #name;
	GLFUNCS(LOAD)
#undef LOAD
	return NULL;
}

// ---- context ------------------------------------------------------------------

struct lgl_context {
	EGLDisplay dpy;
	EGLContext ctx;
	EGLSurface surf;
	char platform[96];
};

static void appendf(char *err, int errlen, const char *fmt, ...) {
	size_t used = strlen(err);
	if ((int)used >= errlen - 1) return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err + used, errlen - used, fmt, ap);
	va_end(ap);
}

// tryDisplay creates the context on an EGL display; it returns 1 on success.
static int tryDisplay(lgl_context *c, EGLDisplay dpy, const char *what, char *err, int errlen) {
	if (!dpy) {
		appendf(err, errlen, "%s: no display (EGL error 0x%x); ", what, egl.GetError());
		return 0;
	}
	EGLint major = 0, minor = 0;
	if (!egl.Initialize(dpy, &major, &minor)) {
		appendf(err, errlen, "%s: eglInitialize failed (EGL error 0x%x); ", what, egl.GetError());
		return 0;
	}
	const char *ext = egl.QueryString(dpy, EGL_EXTENSIONS);
	if (!(major > 1 || minor >= 5) && !hasExt(ext, "EGL_KHR_create_context")) {
		appendf(err, errlen, "%s: EGL %d.%d without EGL_KHR_create_context; ", what, major, minor);
		return 0;
	}
	if (!egl.BindAPI(EGL_OPENGL_API)) {
		appendf(err, errlen, "%s: desktop OpenGL is not supported; ", what);
		return 0;
	}
	EGLConfig cfg = NULL;
	int surfaceless = hasExt(ext, "EGL_KHR_surfaceless_context");
	int configless = hasExt(ext, "EGL_KHR_no_config_context") || hasExt(ext, "EGL_MESA_configless_context");
	if (!(surfaceless && configless)) {
		const EGLint want[] = {EGL_RENDERABLE_TYPE, EGL_OPENGL_BIT, EGL_SURFACE_TYPE, EGL_PBUFFER_BIT, EGL_NONE};
		EGLint n = 0;
		if (!egl.ChooseConfig(dpy, want, &cfg, 1, &n) || n < 1) {
			appendf(err, errlen, "%s: no OpenGL pbuffer config; ", what);
			return 0;
		}
	}
	const EGLint attrs[] = {EGL_CONTEXT_MAJOR_VERSION, 4, EGL_CONTEXT_MINOR_VERSION, 3,
	                        EGL_CONTEXT_OPENGL_PROFILE_MASK, EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT, EGL_NONE};
	EGLContext ctx = egl.CreateContext(dpy, cfg, NULL, attrs);
	if (!ctx) {
		appendf(err, errlen, "%s: no OpenGL 4.3 core context (EGL error 0x%x); ", what, egl.GetError());
		return 0;
	}
	EGLSurface surf = NULL;
	if (!surfaceless) {
		const EGLint size[] = {EGL_WIDTH, 1, EGL_HEIGHT, 1, EGL_NONE};
		surf = egl.CreatePbufferSurface(dpy, cfg, size);
		if (!surf) {
			appendf(err, errlen, "%s: no pbuffer surface (EGL error 0x%x); ", what, egl.GetError());
			egl.DestroyContext(dpy, ctx);
			return 0;
		}
	}
	if (!egl.MakeCurrent(dpy, surf, surf, ctx)) {
		appendf(err, errlen, "%s: eglMakeCurrent failed (EGL error 0x%x); ", what, egl.GetError());
		if (surf) egl.DestroySurface(dpy, surf);
		egl.DestroyContext(dpy, ctx);
		return 0;
	}
	c->dpy = dpy;
	c->ctx = ctx;
	c->surf = surf;
	snprintf(c->platform, sizeof c->platform, "EGL %d.%d, %s", major, minor, what);
	return 1;
}

static int tryDevices(lgl_context *c, int software, char *err, int errlen) {
	if (!egl.QueryDevicesEXT || !egl.QueryDeviceStringEXT || !egl.GetPlatformDisplayEXT) return 0;
	EGLDeviceEXT devs[16];
	EGLint n = 0;
	if (!egl.QueryDevicesEXT(16, devs, &n)) return 0;
	for (EGLint i = 0; i < n; i++) {
		const char *ext = egl.QueryDeviceStringEXT(devs[i], EGL_EXTENSIONS);
		if (hasExt(ext, "EGL_MESA_device_software") != software) continue;
		char what[64];
		snprintf(what, sizeof what, "%s device %d", software ? "software" : "hardware", (int)i);
		if (tryDisplay(c, egl.GetPlatformDisplayEXT(EGL_PLATFORM_DEVICE_EXT, devs[i], NULL), what, err, errlen)) return 1;
	}
	return 0;
}

lgl_context *lgl_create(char *err, int errlen) {
	err[0] = 0;
	pthread_once(&eglOnce, loadEGL);
	if (!egl.lib) {
		appendf(err, errlen, "%s", egl.loadErr);
		return NULL;
	}
	lgl_context *c = calloc(1, sizeof *c);
	if (!c) {
		appendf(err, errlen, "out of memory");
		return NULL;
	}
	const char *client = egl.QueryString(NULL, EGL_EXTENSIONS);
	int devices = hasExt(client, "EGL_EXT_platform_device");
	int ok = 0;
	// Hardware devices first (NVIDIA's driver and Mesa's hardware drivers
	// list their GPUs here), then Mesa's surfaceless platform (which picks
	// the render node's driver or llvmpipe), then the software device, then
	// the default display.
	if (devices) ok = tryDevices(c, 0, err, errlen);
	if (!ok && hasExt(client, "EGL_MESA_platform_surfaceless") && egl.GetPlatformDisplayEXT)
		ok = tryDisplay(c, egl.GetPlatformDisplayEXT(EGL_PLATFORM_SURFACELESS_MESA, NULL, NULL), "surfaceless platform", err, errlen);
	if (!ok && devices) ok = tryDevices(c, 1, err, errlen);
	if (!ok) ok = tryDisplay(c, egl.GetDisplay(NULL), "default display", err, errlen);
	if (!ok) {
		free(c);
		return NULL;
	}
	// Backends may be created on several threads at once: the entry points
	// are process-wide and loaded once, under a lock.
	static pthread_mutex_t glLock = PTHREAD_MUTEX_INITIALIZER;
	static int glLoaded;
	const char *missing = NULL;
	pthread_mutex_lock(&glLock);
	if (!glLoaded) {
		missing = loadGL();
		glLoaded = missing == NULL;
	}
	pthread_mutex_unlock(&glLock);
	if (missing) {
		appendf(err, errlen, "the OpenGL driver has no %s", missing);
		lgl_destroy(c);
		return NULL;
	}
	return c;
}

void lgl_destroy(lgl_context *c) {
	if (!c) return;
	egl.MakeCurrent(c->dpy, NULL, NULL, NULL);
	if (c->surf) egl.DestroySurface(c->dpy, c->surf);
	egl.DestroyContext(c->dpy, c->ctx);
	egl.ReleaseThread();
	// The display stays initialised: EGL displays are shared by the whole
	// process, and eglTerminate would destroy other backends' contexts.
	free(c);
}

const char *lgl_platform(lgl_context *c) { return c->platform; }

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

uint32_t lgl_get_error(void) { return p_glGetError(); }

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
	while (p_glGetError() != 0) {
	}
	GLuint b = 0;
	p_glGenBuffers(1, &b);
	p_glBindBuffer(GL_COPY_WRITE_BUFFER, b);
	p_glBufferData(GL_COPY_WRITE_BUFFER, size, data, GL_STATIC_DRAW);
	if (!data) p_glClearBufferData(GL_COPY_WRITE_BUFFER, GL_R32UI, GL_RED_INTEGER, GL_UNSIGNED_INT, NULL);
	p_glBindBuffer(GL_COPY_WRITE_BUFFER, 0);
	*glerr = p_glGetError();
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
		if (__atomic_load_n(stop, __ATOMIC_RELAXED)) break;
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

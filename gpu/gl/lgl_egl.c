//go:build linux && cgo

// The EGL half of lgl (Linux): libEGL is loaded at run time and a headless
// OpenGL 4.3 core context is made on the first platform that gives one.

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

// loadGL resolves the GL entry points for the calling thread; it returns
// the first missing name.
static const char *loadGL(void) {
	int n = lgl_gl_count();
	void **procs = calloc((size_t)n, sizeof *procs);
	if (!procs) return "memory for the entry points";
	for (int i = 0; i < n; i++) procs[i] = glSymbol(lgl_gl_name(i));
	const char *missing = lgl_set_gl(procs);
	free(procs);
	return missing;
}

// ---- context ------------------------------------------------------------------

struct lgl_egl {
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
static int tryDisplay(lgl_egl *c, EGLDisplay dpy, const char *what, char *err, int errlen) {
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

static int tryDevices(lgl_egl *c, int software, char *err, int errlen) {
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

lgl_egl *lgl_egl_create(char *err, int errlen) {
	err[0] = 0;
	pthread_once(&eglOnce, loadEGL);
	if (!egl.lib) {
		appendf(err, errlen, "%s", egl.loadErr);
		return NULL;
	}
	lgl_egl *c = calloc(1, sizeof *c);
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
	const char *missing = loadGL();
	if (missing) {
		appendf(err, errlen, "the OpenGL driver has no %s", missing);
		lgl_egl_destroy(c);
		return NULL;
	}
	return c;
}

void lgl_egl_destroy(lgl_egl *c) {
	if (!c) return;
	egl.MakeCurrent(c->dpy, NULL, NULL, NULL);
	if (c->surf) egl.DestroySurface(c->dpy, c->surf);
	egl.DestroyContext(c->dpy, c->ctx);
	egl.ReleaseThread();
	// The display stays initialised: EGL displays are shared by the whole
	// process, and eglTerminate would destroy other backends' contexts.
	free(c);
}

const char *lgl_egl_platform(lgl_egl *c) { return c->platform; }


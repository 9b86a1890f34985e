// Package gl is the engine's OpenGL 4.3 compute backend (Linux and Windows;
// macOS builds, which have no OpenGL 4.3, get ErrUnavailable, as do builds
// without cgo).
//
// # Contexts: EGL, headless; else a hidden GLFW window
//
// On Linux the backend makes its own OpenGL 4.3 core context with EGL and
// no window system: on the EGL device platform (EGL_EXT_platform_device:
// NVIDIA's driver and Mesa's hardware drivers list their GPUs there) or on
// Mesa's surfaceless platform (EGL_MESA_platform_surfaceless, which also
// gives llvmpipe on a machine without a GPU). An EGL context is
// independent of GLFW and of the main thread, so the CLI, the tests and
// the window app create it the same way, beside Fyne's own context, and
// the CLI needs no X server. libEGL is loaded at run time (dlopen of
// libEGL.so.1) and the GL entry points come from eglGetProcAddress, so
// building needs only a C compiler, and a binary on a machine without EGL
// starts normally.
//
// Where EGL gives no context (Windows, whose drivers offer WGL; a Linux
// desktop without libEGL), the context is a hidden 1×1 GLFW window's, made
// through the GLFW that Fyne links (github.com/go-gl/glfw/v3.3): in the
// window app on Fyne's main thread (Options.MainThread), as GLFW requires,
// then made current on the backend's thread; the entry points come from
// glfwGetProcAddress. Options.Context or LLAMADESK_GL_CONTEXT=egl|glfw
// forces one way. The entry points are kept per thread, since each context
// has its own thread and WGL's function pointers belong to a driver.
//
// A child process, the third candidate, would isolate driver crashes but
// cost a second process, an IPC protocol for every token and a copy of the
// hidden state at each crossing; it can still be added around this backend.
//
// # Threading
//
// The context is current on one locked OS thread owned by the backend; all
// GL calls run there, sent through a channel. The engine's calls (MatMul,
// RMSNorm, …) only record commands: a token's whole stream of dispatches
// goes to the GL thread in one message and one cgo call when the engine
// reads a result (Read), so nothing but the logits (or the hidden state,
// where layers cross to the CPU) is read back. Memory barriers are issued
// only between commands that touch the same buffer.
//
// # Kernels and plan
//
// The backend is the plan of package compute (which kernel, buffers,
// grid and parameters each operation takes) run by an OpenGL device: the
// GLSL 4.30 compute shaders of package kernels, compiled by the driver, a
// uniform buffer of the dispatches' parameters, and lgl_exec, which binds
// and dispatches a recorded command list. The same plan and the same
// kernels (translated to MSL) run on Metal. See package kernels for the
// programs: a product per weight type (one token, batches of 8),
// RMSNorm, RoPE, attention over a float32, fp16 or Q8_0 KV cache,
// SwiGLU, add, and the rounding of activations as ggml rounds them, so
// results agree with llama.cpp's and the CPU backend's.
//
// Weights are bound as uint[] and dequantized in the shader; at load time
// blocks are repacked into word-aligned structure-of-arrays form (fp16
// scales in a separate stream), so no load straddles a word. Tensors larger
// than GL_MAX_SHADER_STORAGE_BLOCK_SIZE (128 MiB on Mesa) are split by rows
// into separate buffers, and batches by tokens.
//
// Two kernel variants exist (Kernels). The parallel one, for GPUs, splits
// each dot product over 64 invocations and sums them with subgroupAdd where
// GL_KHR_shader_subgroup offers arithmetic in compute shaders, a
// shared-memory tree elsewhere (iris). The serial one gives each output to
// one invocation and uses no barrier: it is what llvmpipe (CI) runs by
// default, since a barrier there costs a context switch per invocation. In
// both, a product's output is computed by the same chain of fma whether the
// token is alone or in a batch, so a prompt evaluated at once and one token
// at a time give identical results (the CPU layers of a partial offload
// see identical inputs). All arithmetic is float32.
package gl

// lmtl: the small Objective-C layer of the Metal backend. It opens the
// system's default Metal device, compiles MSL programs, owns buffers in a
// table of ids and runs a recorded command list (compute.Cmd's layout) in
// command buffers. Plain C types only: cgo cannot see Objective-C ones.
#ifndef LLAMADESK_LMTL_H
#define LLAMADESK_LMTL_H

#include <stdint.h>

// Command kinds and barrier bits, as in package compute.
#define LMTL_CMD_DISPATCH 1
#define LMTL_CMD_COPY 2
#define LMTL_CMD_UPLOAD 3
#define LMTL_CMD_MAXBIND 5

// One recorded command, laid out as compute.Cmd. Dispatch bindings: buf[i]
// is bound at buffer index i+1 at offset off[i] (the parameters at 0).
typedef struct {
	uint32_t kind;
	uint32_t barrier;
	uint32_t program;
	uint32_t groups[3];
	uint32_t params; // byte offset of the dispatch's parameters in the params blob
	uint32_t buf[LMTL_CMD_MAXBIND];
	int64_t off[LMTL_CMD_MAXBIND];
	int64_t size[LMTL_CMD_MAXBIND];
} lmtl_cmd;

typedef struct lmtl lmtl;

// What lmtl_query reports of the device.
typedef struct {
	char name[256];
	int32_t unified;       // hasUnifiedMemory
	int32_t simd_reduce;   // SIMD-group reductions (Apple7 or Mac2 family)
	int32_t max_threads;   // maxThreadsPerThreadgroup.width
	uint64_t max_buffer;   // maxBufferLength
	uint64_t working_set;  // recommendedMaxWorkingSetSize
} lmtl_info;

// lmtl_create opens MTLCreateSystemDefaultDevice() and a command queue; it
// returns NULL and writes the reason to err when there is no device.
lmtl *lmtl_create(char *err, int errlen);
// lmtl_destroy releases every program and buffer, the queue and the device.
void lmtl_destroy(lmtl *m);
void lmtl_query(lmtl *m, lmtl_info *out);

// lmtl_program compiles MSL source (fast math off: the kernels' fma chains
// must stay as written) and makes the pipeline of its function entry,
// dispatched with threads threads per threadgroup. It returns the
// program's id, or 0 with the compiler's message in log.
uint32_t lmtl_program(lmtl *m, const char *src, const char *entry, uint32_t threads, char *log, int loglen);

// lmtl_buffer creates a buffer of size bytes holding data, or zeros when
// data is NULL. It returns the buffer's id, or 0 with *oom set when the
// device refused for lack of memory.
uint32_t lmtl_buffer(lmtl *m, int64_t size, const void *data, int32_t *oom);
// lmtl_wrap makes a buffer that uses the memory of [ptr, ptr+size) in
// place (newBufferWithBytesNoCopy over the pages that hold it) when the
// device has unified memory and the range lies in a mapping of a file;
// *off is then ptr's offset in the buffer. It returns 0 otherwise.
uint32_t lmtl_wrap(lmtl *m, const void *ptr, int64_t size, int64_t *off);
// lmtl_release releases buffers.
void lmtl_release(lmtl *m, const uint32_t *ids, int n);

// lmtl_exec runs n commands in command buffers of at most perCB commands,
// committing each and waiting for the one before, so that *stop (set from
// another thread) takes effect between command buffers. A dispatch's
// parameters are the paramsSize bytes (kernels.ParamsSize) at its params
// offset of params (paramsLen bytes in all). Then it copies
// readLen bytes at readOff of buffer readBuf (if not 0) into readDst. It
// returns 0, or 1 with the reason in err (2 when the GPU ran out of memory).
int lmtl_exec(lmtl *m, const lmtl_cmd *cmds, int n, int perCB, const void *params, int64_t paramsLen,
              uint32_t paramsSize, const void *data, int64_t dataLen, uint32_t readBuf, int64_t readOff, void *readDst, int64_t readLen,
              const int32_t *stop, char *err, int errlen);

#endif

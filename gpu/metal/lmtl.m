//go:build darwin && cgo

// lmtl: see lmtl.h. Manual reference counting (no ARC): objects made by
// new*/alloc are owned and released here; the rest are autoreleased inside
// an @autoreleasepool in every entry point.

#import <Foundation/Foundation.h>
#import <Metal/Metal.h>
#include <mach/mach.h>
#include <mach/mach_vm.h>
#include <libproc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lmtl.h"

struct lmtl {
	id<MTLDevice> dev;
	id<MTLCommandQueue> queue;
	int unified;
	// Programs and buffers, by id (index + 1); free slots are nil.
	id *objs;
	uint32_t *threads; // threads per threadgroup of a program's slot
	uint32_t n, cap;
	uint32_t *freeIDs;
	uint32_t nfree;
};

static void setErr(char *err, int errlen, NSString *s) {
	snprintf(err, errlen, "%s", s ? [s UTF8String] : "unknown error");
}

// put stores an owned object and returns its id (0 when out of memory).
static uint32_t put(lmtl *m, id obj, uint32_t threads) {
	uint32_t slot;
	if (m->nfree > 0) {
		slot = m->freeIDs[--m->nfree];
	} else {
		if (m->n == m->cap) {
			uint32_t cap = m->cap ? 2 * m->cap : 256;
			id *objs = realloc(m->objs, cap * sizeof *objs);
			if (!objs) return 0;
			m->objs = objs;
			uint32_t *th = realloc(m->threads, cap * sizeof *th);
			if (!th) return 0;
			m->threads = th;
			uint32_t *fr = realloc(m->freeIDs, cap * sizeof *fr);
			if (!fr) return 0;
			m->freeIDs = fr;
			m->cap = cap;
		}
		slot = m->n++;
	}
	m->objs[slot] = obj;
	m->threads[slot] = threads;
	return slot + 1;
}

static id get(lmtl *m, uint32_t id_) {
	if (id_ == 0 || id_ > m->n) return nil;
	return m->objs[id_ - 1];
}

lmtl *lmtl_create(char *err, int errlen) {
	@autoreleasepool {
		id<MTLDevice> dev = MTLCreateSystemDefaultDevice();
		if (!dev) {
			snprintf(err, errlen, "MTLCreateSystemDefaultDevice found no Metal device");
			return NULL;
		}
		lmtl *m = calloc(1, sizeof *m);
		if (!m) {
			[dev release];
			snprintf(err, errlen, "out of memory");
			return NULL;
		}
		m->dev = dev;
		m->queue = [dev newCommandQueue];
		if (!m->queue) {
			// The message uses the device's name: write it before the release.
			snprintf(err, errlen, "%s has no command queue", [[dev name] UTF8String]);
			[dev release];
			free(m);
			return NULL;
		}
		m->unified = [dev hasUnifiedMemory] ? 1 : 0;
		return m;
	}
}

void lmtl_destroy(lmtl *m) {
	@autoreleasepool {
		for (uint32_t i = 0; i < m->n; i++) [m->objs[i] release];
		free(m->objs);
		free(m->threads);
		free(m->freeIDs);
		[m->queue release];
		[m->dev release];
		free(m);
	}
}

void lmtl_query(lmtl *m, lmtl_info *out) {
	@autoreleasepool {
		memset(out, 0, sizeof *out);
		snprintf(out->name, sizeof out->name, "%s", [[m->dev name] UTF8String]);
		out->unified = m->unified;
		int simd = 0;
		if (@available(macOS 10.15, *)) {
			simd = [m->dev supportsFamily:MTLGPUFamilyApple7] || [m->dev supportsFamily:MTLGPUFamilyMac2];
		}
		out->simd_reduce = simd;
		out->max_threads = (int32_t)[m->dev maxThreadsPerThreadgroup].width;
		out->max_buffer = [m->dev maxBufferLength];
		out->working_set = [m->dev recommendedMaxWorkingSetSize];
	}
}

uint32_t lmtl_program(lmtl *m, const char *src, const char *entry, uint32_t threads, char *log, int loglen) {
	@autoreleasepool {
		log[0] = 0;
		MTLCompileOptions *opts = [[MTLCompileOptions new] autorelease];
		opts.fastMathEnabled = NO;
		opts.languageVersion = MTLLanguageVersion2_1;
		NSError *e = nil;
		id<MTLLibrary> lib = [m->dev newLibraryWithSource:[NSString stringWithUTF8String:src] options:opts error:&e];
		if (!lib) {
			setErr(log, loglen, [e localizedDescription]);
			return 0;
		}
		id<MTLFunction> fn = [lib newFunctionWithName:[NSString stringWithUTF8String:entry]];
		[lib release];
		if (!fn) {
			snprintf(log, loglen, "the library has no function %s", entry);
			return 0;
		}
		id<MTLComputePipelineState> ps = [m->dev newComputePipelineStateWithFunction:fn error:&e];
		[fn release];
		if (!ps) {
			setErr(log, loglen, [e localizedDescription]);
			return 0;
		}
		if ([ps maxTotalThreadsPerThreadgroup] < threads) {
			snprintf(log, loglen, "the pipeline allows %lu threads per threadgroup, the kernel needs %u",
			         (unsigned long)[ps maxTotalThreadsPerThreadgroup], threads);
			[ps release];
			return 0;
		}
		uint32_t id_ = put(m, ps, threads);
		if (!id_) {
			[ps release];
			snprintf(log, loglen, "out of memory");
		}
		return id_;
	}
}

// waitBlit runs a blit encoded by fill in its own command buffer and waits.
static int waitBlit(lmtl *m, void (^fill)(id<MTLBlitCommandEncoder>)) {
	id<MTLCommandBuffer> cb = [m->queue commandBuffer];
	id<MTLBlitCommandEncoder> be = [cb blitCommandEncoder];
	fill(be);
	[be endEncoding];
	[cb commit];
	[cb waitUntilCompleted];
	return [cb status] == MTLCommandBufferStatusCompleted;
}

uint32_t lmtl_buffer(lmtl *m, int64_t size, const void *data, int32_t *oom) {
	@autoreleasepool {
		*oom = 0;
		if (size <= 0 || (uint64_t)size > [m->dev maxBufferLength]) {
			*oom = 1;
			return 0;
		}
		id<MTLBuffer> buf;
		if (m->unified) {
			// Shared storage: the CPU writes it directly.
			buf = [m->dev newBufferWithLength:(NSUInteger)size options:MTLResourceStorageModeShared];
			if (!buf) {
				*oom = 1;
				return 0;
			}
			if (data) {
				memcpy([buf contents], data, (size_t)size);
			} else {
				memset([buf contents], 0, (size_t)size);
			}
		} else {
			// A discrete GPU: private memory, filled by a blit.
			buf = [m->dev newBufferWithLength:(NSUInteger)size options:MTLResourceStorageModePrivate];
			if (!buf) {
				*oom = 1;
				return 0;
			}
			id<MTLBuffer> staging = nil;
			if (data) {
				staging = [m->dev newBufferWithBytes:data length:(NSUInteger)size options:MTLResourceStorageModeShared];
				if (!staging) {
					[buf release];
					*oom = 1;
					return 0;
				}
			}
			int ok = waitBlit(m, ^(id<MTLBlitCommandEncoder> be) {
				if (staging) {
					[be copyFromBuffer:staging sourceOffset:0 toBuffer:buf destinationOffset:0 size:(NSUInteger)size];
				} else {
					[be fillBuffer:buf range:NSMakeRange(0, (NSUInteger)size) value:0];
				}
			});
			[staging release];
			if (!ok) {
				[buf release];
				return 0;
			}
		}
		uint32_t id_ = put(m, buf, 0);
		if (!id_) [buf release];
		return id_;
	}
}

// fileMapped reports whether [start, end) lies in one region of the
// process's memory that maps a file.
static int fileMapped(uintptr_t start, uintptr_t end) {
	mach_vm_address_t addr = start;
	mach_vm_size_t size = 0;
	vm_region_basic_info_data_64_t info;
	mach_msg_type_number_t count = VM_REGION_BASIC_INFO_COUNT_64;
	mach_port_t object = MACH_PORT_NULL;
	kern_return_t kr = mach_vm_region(mach_task_self(), &addr, &size, VM_REGION_BASIC_INFO_64, (vm_region_info_t)&info, &count, &object);
	if (kr != KERN_SUCCESS || addr > start || addr + size < end) return 0;
	char path[PROC_PIDPATHINFO_MAXSIZE];
	return proc_regionfilename(getpid(), start, path, sizeof path) > 0;
}

uint32_t lmtl_wrap(lmtl *m, const void *ptr, int64_t size, int64_t *off) {
	@autoreleasepool {
		if (!m->unified || size <= 0) return 0;
		uintptr_t page = (uintptr_t)getpagesize();
		uintptr_t p = (uintptr_t)ptr;
		uintptr_t start = p & ~(page - 1);
		uintptr_t end = (p + (uintptr_t)size + page - 1) & ~(page - 1);
		if (end - start > [m->dev maxBufferLength] || !fileMapped(start, end)) return 0;
		id<MTLBuffer> buf = [m->dev newBufferWithBytesNoCopy:(void *)start
		                                              length:(NSUInteger)(end - start)
		                                             options:MTLResourceStorageModeShared
		                                         deallocator:nil];
		if (!buf) return 0;
		uint32_t id_ = put(m, buf, 0);
		if (!id_) {
			[buf release];
			return 0;
		}
		*off = (int64_t)(p - start);
		return id_;
	}
}

void lmtl_release(lmtl *m, const uint32_t *ids, int n) {
	@autoreleasepool {
		for (int i = 0; i < n; i++) {
			uint32_t id_ = ids[i];
			if (id_ == 0 || id_ > m->n || !m->objs[id_ - 1]) continue;
			[m->objs[id_ - 1] release];
			m->objs[id_ - 1] = nil;
			m->freeIDs[m->nfree++] = id_ - 1;
		}
	}
}

// finish waits for a committed command buffer and reports its failure.
static int finish(id<MTLCommandBuffer> cb, char *err, int errlen) {
	[cb waitUntilCompleted];
	if ([cb status] == MTLCommandBufferStatusCompleted) return 0;
	NSError *e = [cb error];
	setErr(err, errlen, e ? [e localizedDescription] : @"the command buffer did not complete");
	return e && [e code] == MTLCommandBufferErrorOutOfMemory ? 2 : 1;
}

int lmtl_exec(lmtl *m, const lmtl_cmd *cmds, int n, int perCB, const void *params, int64_t paramsLen,
              uint32_t paramsSize, const void *data, int64_t dataLen, uint32_t readBuf, int64_t readOff, void *readDst, int64_t readLen,
              const int32_t *stop, char *err, int errlen) {
	@autoreleasepool {
		(void)paramsLen;
		err[0] = 0;
		int status = 0;
		id<MTLBuffer> staging = nil;
		if (dataLen > 0) {
			staging = [[m->dev newBufferWithBytes:data length:(NSUInteger)dataLen options:MTLResourceStorageModeShared] autorelease];
			if (!staging) {
				snprintf(err, errlen, "no memory for %lld bytes of uploads", (long long)dataLen);
				return 2;
			}
		}
		id<MTLCommandBuffer> prev = nil;
		int i = 0;
		while (i < n && status == 0) {
			if (__atomic_load_n(stop, __ATOMIC_RELAXED)) break;
			// Command buffers from the queue are not retained: the queue keeps
			// them until they complete, and prev is waited for below.
			id<MTLCommandBuffer> cb = [m->queue commandBufferWithUnretainedReferences];
			id<MTLComputeCommandEncoder> ce = nil;
			id<MTLBlitCommandEncoder> be = nil;
			int end = i + perCB < n ? i + perCB : n;
			for (; i < end; i++) {
				const lmtl_cmd *c = &cmds[i];
				if (c->kind == LMTL_CMD_DISPATCH) {
					if (be) {
						[be endEncoding];
						be = nil;
					}
					// A serial encoder: each dispatch sees the writes of the ones
					// before it, so the commands' barrier bits need no action.
					if (!ce) ce = [cb computeCommandEncoder];
					id<MTLComputePipelineState> ps = get(m, c->program);
					[ce setComputePipelineState:ps];
					[ce setBytes:(const char *)params + c->params length:paramsSize atIndex:0];
					for (int b = 0; b < LMTL_CMD_MAXBIND; b++) {
						if (c->buf[b]) [ce setBuffer:get(m, c->buf[b]) offset:(NSUInteger)c->off[b] atIndex:(NSUInteger)(b + 1)];
					}
					[ce dispatchThreadgroups:MTLSizeMake(c->groups[0], c->groups[1], c->groups[2])
					    threadsPerThreadgroup:MTLSizeMake(m->threads[c->program - 1], 1, 1)];
				} else {
					if (ce) {
						[ce endEncoding];
						ce = nil;
					}
					if (!be) be = [cb blitCommandEncoder];
					if (c->kind == LMTL_CMD_COPY) {
						[be copyFromBuffer:get(m, c->buf[0]) sourceOffset:(NSUInteger)c->off[0]
						          toBuffer:get(m, c->buf[1]) destinationOffset:(NSUInteger)c->off[1] size:(NSUInteger)c->size[0]];
					} else {
						[be copyFromBuffer:staging sourceOffset:(NSUInteger)c->off[1]
						          toBuffer:get(m, c->buf[0]) destinationOffset:(NSUInteger)c->off[0] size:(NSUInteger)c->size[0]];
					}
				}
			}
			if (ce) [ce endEncoding];
			if (be) [be endEncoding];
			[cb commit];
			// One command buffer runs while the next is encoded.
			if (prev) status = finish(prev, err, errlen);
			prev = cb;
		}
		// Wait for the last command buffer even after a failure: it may use
		// the staging buffer, released when this pool drains.
		if (prev) {
			char err2[256];
			int last = finish(prev, status ? err2 : err, status ? (int)sizeof err2 : errlen);
			if (status == 0) status = last;
		}
		if (status != 0 || readLen <= 0 || !readBuf) return status;
		id<MTLBuffer> src = get(m, readBuf);
		if (m->unified) {
			memcpy(readDst, (const char *)[src contents] + readOff, (size_t)readLen);
			return 0;
		}
		id<MTLBuffer> back = [[m->dev newBufferWithLength:(NSUInteger)readLen options:MTLResourceStorageModeShared] autorelease];
		if (!back) {
			snprintf(err, errlen, "no memory to read back %lld bytes", (long long)readLen);
			return 2;
		}
		if (!waitBlit(m, ^(id<MTLBlitCommandEncoder> enc) {
			    [enc copyFromBuffer:src sourceOffset:(NSUInteger)readOff toBuffer:back destinationOffset:0 size:(NSUInteger)readLen];
		    })) {
			snprintf(err, errlen, "reading back %lld bytes failed", (long long)readLen);
			return 1;
		}
		memcpy(readDst, [back contents], (size_t)readLen);
		return 0;
	}
}

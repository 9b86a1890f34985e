//go:build cgo && (amd64 || arm64) && (linux || darwin)

// The native worker pool. Work runs on threads the Go scheduler does not
// see, so long kernel calls do not make it hand processors around (which,
// measured, slowed generation by a third after a prompt pass).

#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "kern_impl.h"

// How long an idle worker polls for the next job before sleeping.
#define LK_SPIN_NS 200000
// Chunks per participant: the unit of claiming (a stop takes effect
// between chunks) and the least a participant can take from another.
#define LK_CHUNKS 16

typedef void (*lk_job_fn)(const void *ctx, int worker, int64_t lo, int64_t hi);

// lk_range is a participant's share of the job in flight: units [lo, hi)
// packed as lo | hi<<32 (a unit is grain indices), on its own cache line.
typedef struct {
	_Alignas(64) _Atomic uint64_t range;
} lk_range;

struct lk_pool {
	int n; // participants, the caller included
	pthread_t *th;
	lk_range *ranges; // one per participant
	pthread_mutex_t mu;
	pthread_cond_t cv;
	_Atomic uint64_t gen;
	_Atomic int quit;
	_Atomic int sleepers;
	_Atomic int pending;
	// stop, when set, makes every participant skip the chunks not yet started.
	_Atomic int stop;
	// The job in flight (written before gen moves, read after).
	lk_job_fn fn;
	const void *ctx;
	int64_t total, grain;
	uint32_t chunk; // units claimed at a time
};

static inline void lk_relax(void) {
#if defined(__x86_64__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static int64_t lk_now_ns(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static inline uint64_t lk_pack(uint32_t lo, uint32_t hi) { return (uint64_t)hi << 32 | lo; }

// lk_pool_work runs the job's chunks. Each participant owns a contiguous
// share of the loop and works through it front to back, so its rows form
// one long stream that the prefetchers follow (a matrix-vector product is
// bound by memory bandwidth). One that runs out takes the back half of
// the largest share left, so the participants finish together.
static void lk_pool_work(lk_pool *p, int worker) {
	const int n = p->n;
	const int64_t grain = p->grain, total = p->total;
	const uint32_t chunk = p->chunk;
	_Atomic uint64_t *own = &p->ranges[worker].range;
	for (;;) {
		uint64_t r = atomic_load(own);
		for (;;) {
			if (atomic_load_explicit(&p->stop, memory_order_relaxed)) return;
			const uint32_t lo = (uint32_t)r, hi = (uint32_t)(r >> 32);
			if (lo >= hi) break;
			const uint32_t c = hi - lo < chunk ? hi - lo : chunk;
			if (!atomic_compare_exchange_weak(own, &r, lk_pack(lo + c, hi))) continue; // r holds the new value
			const int64_t end = (int64_t)(lo + c) * grain;
			p->fn(p->ctx, worker, (int64_t)lo * grain, end < total ? end : total);
			r = atomic_load(own);
		}
		int victim = -1;
		uint64_t vr = 0;
		uint32_t most = 0;
		for (int i = 1; i < n; i++) {
			const int v = (worker + i) % n;
			const uint64_t x = atomic_load(&p->ranges[v].range);
			const uint32_t lo = (uint32_t)x, hi = (uint32_t)(x >> 32);
			if (hi > lo && hi - lo > most) {
				most = hi - lo;
				victim = v;
				vr = x;
			}
		}
		if (victim < 0) return;
		const uint32_t lo = (uint32_t)vr, hi = (uint32_t)(vr >> 32), mid = lo + most / 2;
		if (!atomic_compare_exchange_strong(&p->ranges[victim].range, &vr, lk_pack(lo, mid))) continue;
		atomic_store(own, lk_pack(mid, hi));
	}
}

typedef struct {
	lk_pool *p;
	int id;
} lk_worker_arg;

static void *lk_worker_main(void *arg_) {
	lk_worker_arg *arg = arg_;
	lk_pool *p = arg->p;
	const int id = arg->id;
	free(arg);
	uint64_t seen = 0;
	for (;;) {
		uint64_t g = atomic_load(&p->gen);
		if (g == seen) {
			int64_t start = lk_now_ns();
			for (int spins = 1;; spins++) {
				g = atomic_load(&p->gen);
				if (g != seen) break;
				lk_relax();
				if ((spins & 255) != 0) continue;
				if (lk_now_ns() - start > LK_SPIN_NS) {
					pthread_mutex_lock(&p->mu);
					atomic_fetch_add(&p->sleepers, 1);
					while ((g = atomic_load(&p->gen)) == seen) pthread_cond_wait(&p->cv, &p->mu);
					atomic_fetch_sub(&p->sleepers, 1);
					pthread_mutex_unlock(&p->mu);
					break;
				}
			}
		}
		seen = g;
		if (atomic_load(&p->quit)) return 0;
		lk_pool_work(p, id);
		atomic_fetch_sub(&p->pending, 1);
	}
}

lk_pool *lk_pool_new(int threads) {
	if (threads < 1) threads = 1;
	lk_pool *p = calloc(1, sizeof *p);
	if (!p) return 0;
	p->n = threads;
	pthread_mutex_init(&p->mu, 0);
	pthread_cond_init(&p->cv, 0);
	p->th = calloc((size_t)threads, sizeof(pthread_t));
	p->ranges = aligned_alloc(64, (size_t)threads * sizeof(lk_range));
	if (!p->th || !p->ranges) {
		free(p->th);
		free(p->ranges);
		free(p);
		return 0;
	}
	for (int i = 0; i < threads; i++) atomic_init(&p->ranges[i].range, 0);
	for (int i = 1; i < threads; i++) {
		lk_worker_arg *arg = malloc(sizeof *arg);
		if (!arg) {
			p->n = i;
			break;
		}
		arg->p = p;
		arg->id = i;
		if (pthread_create(&p->th[i], 0, lk_worker_main, arg) != 0) {
			free(arg);
			p->n = i;
			break;
		}
	}
	return p;
}

int lk_pool_size(const lk_pool *p) { return p->n; }

void lk_pool_set_stop(lk_pool *p, int stop) { atomic_store(&p->stop, stop); }

// lk_pool_run calls fn over [0, total) in chunks (a multiple of grain) on
// every participant and returns when all are done.
static void lk_pool_run(lk_pool *p, lk_job_fn fn, const void *ctx, int64_t total, int64_t grain) {
	if (total <= 0) return;
	if (grain < 1) grain = 1;
	const int64_t units = (total + grain - 1) / grain;
	int64_t chunk = (units + LK_CHUNKS * p->n - 1) / (LK_CHUNKS * p->n);
	if (p->n == 1 || units == 1 || units > UINT32_MAX) {
		// Alone: still in chunks, so that a stop takes effect between them.
		for (int64_t lo = 0; lo < total; lo += chunk * grain) {
			if (atomic_load_explicit(&p->stop, memory_order_relaxed)) return;
			fn(ctx, 0, lo, lo + chunk * grain < total ? lo + chunk * grain : total);
		}
		return;
	}
	p->fn = fn;
	p->ctx = ctx;
	p->total = total;
	p->grain = grain;
	p->chunk = (uint32_t)chunk;
	for (int i = 0; i < p->n; i++) {
		atomic_store_explicit(&p->ranges[i].range, lk_pack((uint32_t)(units * i / p->n), (uint32_t)(units * (i + 1) / p->n)),
		                      memory_order_relaxed);
	}
	atomic_store(&p->pending, p->n - 1);
	atomic_fetch_add(&p->gen, 1);
	if (atomic_load(&p->sleepers) > 0) {
		pthread_mutex_lock(&p->mu);
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
	lk_pool_work(p, 0);
	while (atomic_load(&p->pending) != 0) lk_relax();
}

void lk_pool_free(lk_pool *p) {
	if (!p) return;
	atomic_store(&p->quit, 1);
	atomic_fetch_add(&p->gen, 1);
	pthread_mutex_lock(&p->mu);
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 1; i < p->n; i++) pthread_join(p->th[i], 0);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p->th);
	free(p->ranges);
	free(p);
}

// ---------------------------------------------------------------------------
// Jobs

typedef struct {
	int level, type;
	const uint8_t *w;
	int64_t row_bytes, k;
	const uint8_t *act;
	int64_t act_stride, n;
	float *dst;
	int64_t dst_stride;
	uint8_t *scratch;
	int64_t scratch_stride;
	_Atomic int failed;
} lk_matmul_job;

static void lk_matmul_chunk(const void *ctx, int worker, int64_t lo, int64_t hi) {
	lk_matmul_job *j = (lk_matmul_job *)ctx;
	if (lk_matmul(j->level, j->type, j->w, j->row_bytes, j->k, lo, hi, j->act, j->act_stride, j->n, j->dst,
	              j->dst_stride, j->scratch + worker * j->scratch_stride) != 0)
		atomic_store(&j->failed, 1);
}

int lk_pool_matmul(lk_pool *p, int level, int type, const uint8_t *w, int64_t row_bytes, int64_t k, int64_t rows,
                   const uint8_t *act, int64_t act_stride, int64_t n, float *dst, int64_t dst_stride, uint8_t *scratch,
                   int64_t scratch_stride, int64_t grain) {
	lk_matmul_job j = {level, type, w, row_bytes, k, act, act_stride, n, dst, dst_stride, scratch, scratch_stride, 0};
	lk_pool_run(p, lk_matmul_chunk, &j, rows, grain);
	return atomic_load(&j.failed) ? -1 : 0;
}

typedef struct {
	int level, kind, off;
	const float *x;
	int64_t k;
	uint8_t *out;
	_Atomic int64_t bad;
} lk_quant_job;

static void lk_quant_chunk(const void *ctx, int worker, int64_t lo, int64_t hi) {
	(void)worker;
	lk_quant_job *j = (lk_quant_job *)ctx;
	atomic_fetch_add(&j->bad, lk_quantize(j->level, j->kind, j->off, j->x, j->k, lo, hi, j->out));
}

int64_t lk_pool_quantize(lk_pool *p, int level, int kind, int off, const float *x, int64_t k, int64_t n, uint8_t *out) {
	lk_quant_job j = {level, kind, off, x, k, out, 0};
	lk_pool_run(p, lk_quant_chunk, &j, n, 1);
	return atomic_load(&j.bad);
}

typedef struct {
	int level, type;
	const float *q;
	const uint8_t *kc, *vc;
	int64_t cap;
	float *out;
	int64_t start, tokens, heads, kv_heads, hd;
	float scale;
	float *scratch;
	int64_t scratch_stride;
	_Atomic int failed;
} lk_attn_job;

static void lk_attn_chunk(const void *ctx, int worker, int64_t lo, int64_t hi) {
	lk_attn_job *j = (lk_attn_job *)ctx;
	if (lk_attention(j->level, j->type, j->q, j->kc, j->vc, j->cap, j->out, j->start, j->tokens, j->heads, j->kv_heads,
	                 j->hd, j->scale, lo, hi, j->scratch + worker * j->scratch_stride) != 0)
		atomic_store(&j->failed, 1);
}

int lk_pool_attention(lk_pool *p, int level, int type, const float *q, const uint8_t *kc, const uint8_t *vc, int64_t cap,
                      float *out, int64_t start, int64_t tokens, int64_t heads, int64_t kv_heads, int64_t hd, float scale,
                      float *scratch, int64_t scratch_stride) {
	lk_attn_job j = {level, type, q, kc, vc, cap, out, start, tokens, heads, kv_heads, hd, scale, scratch, scratch_stride, 0};
	lk_pool_run(p, lk_attn_chunk, &j, lk_attn_jobs(tokens, heads, kv_heads), 1);
	return atomic_load(&j.failed) ? -1 : 0;
}

typedef struct {
	int level;
	float *dst;
	const float *gate, *up;
} lk_swiglu_job;

static void lk_swiglu_chunk(const void *ctx, int worker, int64_t lo, int64_t hi) {
	(void)worker;
	const lk_swiglu_job *j = ctx;
	lk_swiglu(j->level, j->dst + lo, j->gate + lo, j->up + lo, hi - lo);
}

int lk_pool_swiglu(lk_pool *p, int level, float *dst, const float *gate, const float *up, int64_t n) {
	lk_swiglu_job j = {level, dst, gate, up};
	lk_pool_run(p, lk_swiglu_chunk, &j, n, 4096);
	return 0;
}

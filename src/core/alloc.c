/* alloc.c — the accounted allocator every part of the library allocates
 * through.
 *
 * Each block is 64-byte aligned (cache line, AVX-512 loads) and preceded by a
 * 64-byte header holding its size and a magic number, so tsr_free() needs no
 * size and catches frees of foreign pointers.  Accounting uses atomics only:
 * worker threads allocate chunk buffers concurrently without a lock.  The
 * limit is enforced by reserving the bytes first (fetch_add) and backing out
 * when the new total passes it, so concurrent allocations can never jointly
 * exceed it.  The failure injector (tsr_ctx_set_fail_allocation) counts down
 * once per allocation attempt and fails exactly one.
 *
 * Large blocks (chunk buffers, >= 4 MiB) are aligned to 2 MiB and marked
 * for transparent huge pages, and freed ones are kept in a small cache and
 * reused for a request of about the same size: without both, each fresh
 * 32 MiB chunk costs 8192 page faults, which measured as most of the time
 * of a map_overlap over 2000 x 2000 chunks.  Blocks from 256 KiB on are
 * cached (a frame's column chunks are often 1-4 MiB, and each fresh one
 * costs its page faults again).  The cache holds at most 1024
 * blocks and a quarter of the machine's memory up to 8 GiB (a sixteenth of
 * the memory limit when one is set), split evenly between the process's
 * live contexts: two contexts each keeping the whole ran a 24 GiB machine
 * out of memory (bench_dist_frames' rank 0, which holds a distributed and a
 * one-rank context).
 *
 * Smaller blocks are glibc's, which by default hands freed memory at the
 * top of its heap back to the system and maps anything above a threshold
 * that moves with what was freed: a group-by's many blocks of tens of KiB
 * a part, freed together, came back as fresh pages, each zeroed by the
 * kernel on first touch, in every query (2 ranks' q6 spent 16 ms of its
 * 70 ms exchange so).  So, once a process, malloc keeps up to 64 MiB free
 * at the heap's top and maps only blocks of 32 MiB and more, as jemalloc
 * and mimalloc (DuckDB's and Polars' allocators) keep freed memory too;
 * TESSERA_MALLOC_TUNING=0, or the user's own MALLOC_*_ or GLIBC_TUNABLES
 * malloc settings, leave glibc as it is. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core_impl.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#define HEADER_BYTES 64u
#define ALIGNMENT 64u
#define MAGIC_LIVE 0x7473726c6976650aull /* "tsrlive\n" */
#define MAGIC_DEAD 0x747372646561640aull /* "tsrdead\n" */

typedef struct block_header {
  uint64_t bytes;    /* as requested */
  uint64_t magic;
  uint64_t capacity; /* of the whole block, header included */
} block_header;

#define LARGE_BLOCK (4ull << 20)
/* Freed blocks from this size on are kept for reuse. */
#define CACHED_BLOCK (256ull << 10)
#define HUGE_PAGE (2ull << 20)

/* The process's live allocators (contexts): they share the cache budget. */
static _Atomic uint32_t live_allocators;

void tsr__alloc_open(tsr__allocator *a) {
  atomic_flag_clear(&a->cache_lock);
  atomic_fetch_add_explicit(&live_allocators, 1, memory_order_relaxed);
}

static void cache_lock(tsr__allocator *a) {
  while (atomic_flag_test_and_set_explicit(&a->cache_lock, memory_order_acquire)) {
  }
}
static void cache_unlock(tsr__allocator *a) {
  atomic_flag_clear_explicit(&a->cache_lock, memory_order_release);
}

static uint64_t cache_budget(const tsr__allocator *a) {
  /* A quarter of the machine's memory, at most 8 GiB: a frame's computed
   * chunks (hundreds of blocks of a few MiB) come back as the next
   * compute's, as a buffer pool's would.  The MPI ranks on one node share
   * half of its memory (without that, 4 ranks on a node each kept a
   * quarter of it in freed blocks and the node ran out; a quarter shared
   * made 2 ranks' q10 group-by 1.3-1.6x slower). */
  static uint64_t machine = 0;
  if (machine == 0) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    machine = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 4ull << 30;
  }
  uint64_t budget = machine / 4 < (8ull << 30) ? machine / 4 : 8ull << 30;
  uint64_t share = machine / 2 / (a->cache_sharers > 1 ? a->cache_sharers : 1);
  budget = share < budget ? share : budget;
  uint32_t live = atomic_load_explicit(&live_allocators, memory_order_relaxed);
  budget /= live > 1 ? live : 1;
  return a->limit != 0 && a->limit / 16 < budget ? a->limit / 16 : budget;
}

/* A cached block of capacity in [total, total * 5/4], or NULL. */
static void *cache_take(tsr__allocator *a, size_t total) {
  void *best = NULL;
  cache_lock(a);
  uint32_t at = 0;
  for (uint32_t i = 0; i < a->n_cached; i++) {
    uint64_t cap = ((block_header *)a->cached[i])->capacity;
    if (cap >= total && cap <= total + total / 4 &&
        (best == NULL || cap < ((block_header *)best)->capacity)) {
      best = a->cached[i];
      at = i;
    }
  }
  if (best != NULL) {
    a->cached_bytes -= ((block_header *)best)->capacity;
    a->n_cached--;
    memmove(&a->cached[at], &a->cached[at + 1], (a->n_cached - at) * sizeof a->cached[0]);
  }
  cache_unlock(a);
  return best;
}

/* Keeps a freed large block for reuse, making room by freeing the oldest
 * cached blocks (they hold sizes no longer asked for); false when it is
 * larger than the whole budget. */
static bool cache_put(tsr__allocator *a, block_header *h) {
  enum { SLOTS = sizeof a->cached / sizeof a->cached[0] };
  void *evicted[SLOTS];
  uint32_t n_evicted = 0;
  bool kept = false;
  cache_lock(a);
  uint64_t budget = cache_budget(a);
  if (h->capacity <= budget) {
    uint32_t drop = 0;
    uint64_t bytes = a->cached_bytes;
    while (drop < a->n_cached && (bytes + h->capacity > budget || a->n_cached - drop == SLOTS))
      bytes -= ((block_header *)(evicted[n_evicted++] = a->cached[drop++]))->capacity;
    a->n_cached -= drop;
    memmove(&a->cached[0], &a->cached[drop], a->n_cached * sizeof a->cached[0]);
    a->cached[a->n_cached++] = h;
    a->cached_bytes = bytes + h->capacity;
    kept = true;
  }
  cache_unlock(a);
  for (uint32_t i = 0; i < n_evicted; i++)
    free(evicted[i]);
  return kept;
}

void tsr__alloc_set_cache_sharers(tsr__allocator *a, uint32_t processes) {
  cache_lock(a);
  a->cache_sharers = processes;
  uint64_t budget = cache_budget(a);
  uint32_t drop = 0; /* over the new share: free the oldest, as cache_put does */
  while (drop < a->n_cached && a->cached_bytes > budget) {
    a->cached_bytes -= ((block_header *)a->cached[drop])->capacity;
    free(a->cached[drop++]);
  }
  a->n_cached -= drop;
  memmove(&a->cached[0], &a->cached[drop], a->n_cached * sizeof a->cached[0]);
  cache_unlock(a);
}

void tsr__alloc_release_cache(tsr__allocator *a) {
  cache_lock(a);
  for (uint32_t i = 0; i < a->n_cached; i++)
    free(a->cached[i]);
  a->n_cached = 0;
  a->cached_bytes = 0;
  cache_unlock(a);
}

void tsr__alloc_close(tsr__allocator *a) {
  tsr__alloc_release_cache(a);
  atomic_fetch_sub_explicit(&live_allocators, 1, memory_order_relaxed);
}

static char *allocate_block(tsr__allocator *a, size_t total) {
  if (total >= CACHED_BLOCK) {
    char *base = cache_take(a, total);
    if (base != NULL)
      return base;
  }
  if (total < LARGE_BLOCK) {
    char *base = aligned_alloc(ALIGNMENT, total);
    if (base != NULL)
      ((block_header *)base)->capacity = total;
    return base;
  }
  void *p = NULL;
  if (posix_memalign(&p, HUGE_PAGE, total) != 0)
    return NULL;
#ifdef MADV_HUGEPAGE
  madvise(p, total, MADV_HUGEPAGE); /* advice only: failure changes nothing */
#endif
  ((block_header *)p)->capacity = total;
  return p;
}

static bool injected_failure(tsr__allocator *a) {
  uint64_t left = atomic_load_explicit(&a->fail_countdown, memory_order_relaxed);
  while (left != 0) {
    if (atomic_compare_exchange_weak_explicit(&a->fail_countdown, &left, left - 1,
                                              memory_order_relaxed, memory_order_relaxed))
      return left == 1;
  }
  return false;
}

static void raise_max(_Atomic uint64_t *max, uint64_t now) {
  uint64_t seen = atomic_load_explicit(max, memory_order_relaxed);
  while (now > seen && !atomic_compare_exchange_weak_explicit(max, &seen, now, memory_order_relaxed,
                                                              memory_order_relaxed)) {
  }
}

tsr_status tsr_alloc(tsr_ctx *ctx, size_t bytes, void **out) {
  if (out == NULL)
    return tsr_error_set(TSR_EINVAL, "tsr_alloc: out is NULL");
  *out = NULL;
  if (ctx == NULL)
    return tsr_error_set(TSR_EINVAL, "tsr_alloc: ctx is NULL");
  tsr__allocator *a = &ctx->alloc;
  char size_text[32], used_text[32], limit_text[32];
  if (injected_failure(a))
    return tsr_error_set(TSR_ENOMEM, "out of memory allocating %s (injected failure)",
                         tsr_format_bytes(bytes, size_text, sizeof size_text));
  if (bytes > SIZE_MAX - 2 * HEADER_BYTES)
    return tsr_error_set(TSR_ENOMEM, "cannot allocate %zu bytes: too large", bytes);
  uint64_t before = atomic_fetch_add_explicit(&a->current, bytes, memory_order_relaxed);
  uint64_t after = before + bytes;
  if (a->limit != 0 && after > a->limit) {
    atomic_fetch_sub_explicit(&a->current, bytes, memory_order_relaxed);
    return tsr_error_set(TSR_ENOMEM, "memory limit exceeded: allocating %s with %s of %s in use",
                         tsr_format_bytes(bytes, size_text, sizeof size_text),
                         tsr_format_bytes(before, used_text, sizeof used_text),
                         tsr_format_bytes(a->limit, limit_text, sizeof limit_text));
  }
  size_t total = (HEADER_BYTES + bytes + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
  char *base = allocate_block(a, total);
  if (base == NULL) {
    atomic_fetch_sub_explicit(&a->current, bytes, memory_order_relaxed);
    return tsr_error_set(TSR_ENOMEM, "out of memory allocating %s",
                         tsr_format_bytes(bytes, size_text, sizeof size_text));
  }
  block_header *h = (block_header *)base;
  h->bytes = bytes;
  h->magic = MAGIC_LIVE;
  raise_max(&a->peak, after);
  atomic_fetch_add_explicit(&a->total, bytes, memory_order_relaxed);
  atomic_fetch_add_explicit(&a->count, 1, memory_order_relaxed);
  *out = base + HEADER_BYTES;
  return TSR_OK;
}

tsr_status tsr_calloc(tsr_ctx *ctx, size_t count, size_t size, void **out) {
  tsr_status status = tsr__alloc_array(ctx, count, size, "tsr_calloc", out);
  if (status == TSR_OK)
    memset(*out, 0, count * size);
  return status;
}

void tsr_free(tsr_ctx *ctx, void *ptr) {
  if (ptr == NULL || ctx == NULL)
    return;
  block_header *h = (block_header *)((char *)ptr - HEADER_BYTES);
  if (h->magic != MAGIC_LIVE) {
    /* A double free or a pointer not from tsr_alloc: refuse to corrupt the
     * heap; say so loudly, since this is a bug in the caller. */
    fprintf(stderr, "tessera: error: tsr_free of a pointer not allocated by tsr_alloc (%p)\n", ptr);
    return;
  }
  h->magic = MAGIC_DEAD;
  atomic_fetch_sub_explicit(&ctx->alloc.current, h->bytes, memory_order_relaxed);
  if (h->capacity >= CACHED_BLOCK && cache_put(&ctx->alloc, h))
    return;
  free(h);
}

tsr_status tsr__alloc_array(tsr_ctx *ctx, size_t count, size_t size, const char *what, void **out) {
  size_t bytes;
  if (__builtin_mul_overflow(count, size, &bytes)) {
    *out = NULL;
    return tsr_error_set(TSR_ENOMEM, "%s: %zu elements of %zu bytes overflow size_t", what, count,
                         size);
  }
  return tsr_alloc(ctx, bytes, out);
}

tsr_status tsr__grow_array(tsr_ctx *ctx, void **ptr, size_t old_count, size_t new_count,
                           size_t size, const char *what) {
  void *grown;
  tsr_status status = tsr__alloc_array(ctx, new_count, size, what, &grown);
  if (status != TSR_OK)
    return status;
  if (*ptr != NULL && old_count > 0)
    memcpy(grown, *ptr, (old_count < new_count ? old_count : new_count) * size);
  tsr_free(ctx, *ptr);
  *ptr = grown;
  return TSR_OK;
}

tsr_status tsr__strdup(tsr_ctx *ctx, const char *s, char **out) {
  size_t n = strlen(s) + 1;
  void *copy;
  TSR_TRY(tsr_alloc(ctx, n, &copy));
  memcpy(copy, s, n);
  *out = copy;
  return TSR_OK;
}

tsr_status tsr_ctx_memory_stats(const tsr_ctx *ctx, tsr_memory_stats *out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "tsr_ctx_memory_stats: out is NULL");
  memset(out, 0, sizeof *out);
  TSR_CHECK(ctx != NULL, TSR_EINVAL, "tsr_ctx_memory_stats: ctx is NULL");
  tsr__allocator *a = (tsr__allocator *)&ctx->alloc;
  out->current_bytes = atomic_load(&a->current);
  out->peak_bytes = atomic_load(&a->peak);
  out->total_bytes = atomic_load(&a->total);
  out->allocations = atomic_load(&a->count);
  out->limit_bytes = a->limit;
  return TSR_OK;
}

void tsr_ctx_reset_peak(tsr_ctx *ctx) {
  if (ctx != NULL)
    atomic_store(&ctx->alloc.peak, atomic_load(&ctx->alloc.current));
}

tsr_status tsr_ctx_set_fail_allocation(tsr_ctx *ctx, uint64_t n) {
  TSR_CHECK(ctx != NULL, TSR_EINVAL, "tsr_ctx_set_fail_allocation: ctx is NULL");
  atomic_store(&ctx->alloc.fail_countdown, n);
  return TSR_OK;
}

/* tsr_kernel_alloc: the runtime's hook while a kernel runs on this thread. */
static _Thread_local tsr__kernel_alloc_fn kernel_alloc_fn;
static _Thread_local void *kernel_alloc_run;

void tsr__set_kernel_alloc(tsr__kernel_alloc_fn fn, void *run) {
  kernel_alloc_fn = fn;
  kernel_alloc_run = run;
}

tsr_status tsr_kernel_alloc(tsr_ctx *ctx, size_t bytes, void **out) {
  if (kernel_alloc_fn != NULL)
    return kernel_alloc_fn(kernel_alloc_run, ctx, bytes, out);
  return tsr_alloc(ctx, bytes, out);
}

#define MALLOC_MMAP_FROM (32ull << 20) /* glibc's largest mmap threshold */
#define MALLOC_KEEP_FREE (64ull << 20)

void tsr__alloc_tune_malloc(void) {
#if defined(__GLIBC__)
  static atomic_flag done = ATOMIC_FLAG_INIT;
  if (atomic_flag_test_and_set(&done))
    return;
  const char *v = getenv("TESSERA_MALLOC_TUNING"), *t = getenv("GLIBC_TUNABLES");
  if ((v != NULL && strcmp(v, "0") == 0) || getenv("MALLOC_TRIM_THRESHOLD_") != NULL ||
      getenv("MALLOC_MMAP_THRESHOLD_") != NULL || getenv("MALLOC_TOP_PAD_") != NULL ||
      (t != NULL && strstr(t, "glibc.malloc.") != NULL))
    return;
  mallopt(M_MMAP_THRESHOLD, (int)MALLOC_MMAP_FROM);
  mallopt(M_TRIM_THRESHOLD, (int)MALLOC_KEEP_FREE);
#endif
}

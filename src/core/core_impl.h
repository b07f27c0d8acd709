/* core_impl.h — internal helpers shared by every layer: error propagation
 * with a single `goto fail` exit, checked arithmetic, array allocation,
 * logging, and the context's struct.  Not installed. */
#ifndef TSR_CORE_IMPL_H
#define TSR_CORE_IMPL_H

#include <stdatomic.h>

#include <tessera/core.h>

/* Evaluate `expr` into `status` and jump to the function's `fail:` label on
 * failure: status = ...; cleanup happens once, at the end (SQLite style). */
#define TSR__TRY_GOTO(status, expr) \
  do {                              \
    (status) = (expr);              \
    if ((status) != TSR_OK)         \
      goto fail;                    \
  } while (0)

/* Fail with a message and jump to `fail:` unless `cond` holds. */
#define TSR__CHECK_GOTO(status, cond, code, ...)     \
  do {                                               \
    if (!(cond)) {                                   \
      (status) = tsr_error_set((code), __VA_ARGS__); \
      goto fail;                                     \
    }                                                \
  } while (0)

/* The context's allocator state.  Counters are atomics so that worker
 * threads allocate chunk buffers without a lock. */
typedef struct tsr__allocator {
  _Atomic uint64_t current;
  _Atomic uint64_t peak;
  _Atomic uint64_t total;
  _Atomic uint64_t count;
  _Atomic uint64_t fail_countdown; /* 0 = off; the allocation that brings it to 0 fails */
  uint64_t limit;                  /* 0 = none */
  /* Freed large blocks kept for reuse (alloc.c): chunk buffers of one size
   * come and go all through a computation, and a fresh one costs a page
   * fault per page. */
  atomic_flag cache_lock;
  uint32_t cache_sharers; /* processes whose caches share this machine's memory (0 = 1) */
  uint32_t n_cached;
  uint64_t cached_bytes; /* their capacities */
  void *cached[1024];
} tsr__allocator;

/* The bytes automatic chunking aims at: the context's chunk bytes, but
 * under a memory limit at most a sixteenth of it, so that the chunks in
 * flight on every thread (inputs, output, scratch) fit the budget. */
uint64_t tsr__chunk_target(const tsr_ctx *ctx);

/* While a kernel runs, the runtime (sched/) points tsr_kernel_alloc of the
 * calling thread at its memory budget: fn(run, ctx, bytes, out). */
typedef tsr_status (*tsr__kernel_alloc_fn)(void *run, tsr_ctx *ctx, size_t bytes, void **out);
void tsr__set_kernel_alloc(tsr__kernel_alloc_fn fn, void *run);

/* A context's allocator begins (tsr_ctx_create) and ends (tsr_ctx_destroy,
 * freeing the blocks it keeps for reuse): the live ones split the cache
 * budget (alloc.c, cache_budget). */
void tsr__alloc_open(tsr__allocator *a);
void tsr__alloc_close(tsr__allocator *a);
/* Frees the blocks the allocator keeps for reuse. */
void tsr__alloc_release_cache(tsr__allocator *a);
/* Tells the allocator that `processes` processes (MPI ranks on this node)
 * share the machine's memory: their caches together keep at most half of
 * it (alloc.c, cache_budget). */
void tsr__alloc_set_cache_sharers(tsr__allocator *a, uint32_t processes);
/* Once a process (tsr_ctx_create): glibc's malloc keeps freed memory for
 * reuse instead of returning it to the system at once (alloc.c), unless
 * TESSERA_MALLOC_TUNING=0 or the user tuned malloc already. */
void tsr__alloc_tune_malloc(void);

struct tsr_ctx {
  tsr__allocator alloc;
  int threads;
  uint64_t chunk_bytes;
  tsr_log_level log_level;
  tsr_executor executor;
  int64_t broadcast_join_limit; /* < 0: by volume (tsr_ctx_set_broadcast_join_limit) */
  /* The distribution state (dist/), made on first use; core only frees it. */
  void *dist;
  void (*dist_free)(void *dist);
  /* The run observer (sched/observe.c); core only frees it. */
  void *observer;
  void (*observer_free)(void *observer);
};

/* The context's distribution state (dist/comm.c): NULL until set. */
static inline void *tsr__ctx_dist(const tsr_ctx *ctx) { return ctx->dist; }
static inline void tsr__ctx_set_dist(tsr_ctx *ctx, void *dist, void (*dist_free)(void *)) {
  ctx->dist = dist;
  ctx->dist_free = dist_free;
}

/* Scrambles a 64-bit key (an address, a serial, a chunk number) for an
 * open-addressing table: half of MurmurHash3's finalizer. */
static inline uint64_t tsr__mix_key(uint64_t x) {
  x ^= x >> 33;
  x *= UINT64_C(0xff51afd7ed558ccd);
  return x ^ (x >> 33);
}

/* a * b into *out; false on overflow. */
static inline bool tsr__mul_u64(uint64_t a, uint64_t b, uint64_t *out) {
  return !__builtin_mul_overflow(a, b, out);
}
static inline bool tsr__mul_i64(int64_t a, int64_t b, int64_t *out) {
  return !__builtin_mul_overflow(a, b, out);
}
static inline bool tsr__add_i64(int64_t a, int64_t b, int64_t *out) {
  return !__builtin_add_overflow(a, b, out);
}

/* ---- checked size arithmetic --------------------------------------------
 * Every element count, byte size and chunk count is computed through these
 * (and tsr__alloc_array for allocations).  The invariant they establish for
 * every expression node (checked in tsr__expr_create, and with the user's
 * function name by the creation calls): the node's whole size in bytes,
 * elements x itemsize, is at most TSR__MAX_BYTES.  So the bytes of any chunk
 * or block of a node, and any element offset times the itemsize, fit both
 * int64 and size_t, and per-chunk code may multiply them unchecked. */
#define TSR__MAX_BYTES INT64_MAX

/* a * b for non-negative sizes; false when the product exceeds INT64_MAX. */
static inline bool tsr__size_mul(int64_t a, int64_t b, int64_t *out) {
  return a >= 0 && b >= 0 && !__builtin_mul_overflow(a, b, out);
}

/* The element count of a shape (1 for ndim 0): a negative extent, or a
 * product of the non-zero extents over INT64_MAX, is TSR_EINVAL with a
 * message "fn: shape (...) ..." naming the shape. */
tsr_status tsr__shape_elements(const char *fn, int ndim, const int64_t *shape, int64_t *out);
/* The bytes of an array of `shape` with `itemsize`-byte elements: over
 * TSR__MAX_BYTES is TSR_EINVAL naming fn, the shape and the itemsize (as
 * NumPy refuses an array whose nbytes overflow). */
tsr_status tsr__shape_bytes(const char *fn, int ndim, const int64_t *shape, size_t itemsize,
                            int64_t *out);

/* Writes a shape NumPy's way, "(3, 4)", "(5,)" or "()", into buf. */
const char *tsr__format_shape(char *buf, size_t size, int ndim, const int64_t *shape);
#define TSR__SHAPE_STR_BYTES (TSR_MAX_NDIM * 22 + 4)

/* Allocates count * size bytes, failing with TSR_ENOMEM (not wrapping) when
 * the product overflows. `what` names the array in the message. */
tsr_status tsr__alloc_array(tsr_ctx *ctx, size_t count, size_t size, const char *what, void **out);
/* Grows *ptr from old_count to new_count elements of `size` bytes (contents
 * kept, the new part uninitialised).  On failure *ptr is untouched. */
tsr_status tsr__grow_array(tsr_ctx *ctx, void **ptr, size_t old_count, size_t new_count,
                           size_t size, const char *what);
/* strdup through the allocator. */
tsr_status tsr__strdup(tsr_ctx *ctx, const char *s, char **out);

/* pread/pwrite of exactly `bytes` at `off` (fileio.c): 0, an errno value,
 * or -1 when the file ends first (the device takes no byte). */
int tsr__pread_full(int fd, void *buf, uint64_t bytes, uint64_t off);
int tsr__pwrite_full(int fd, const void *buf, uint64_t bytes, uint64_t off);

/* True for a value of TSR_STATUS_MAP (kernels may return anything). */
bool tsr__status_known(tsr_status status);

/* Prints "tessera: <level>: message" on stderr when ctx's level allows it. */
void tsr__log(const tsr_ctx *ctx, tsr_log_level level, const char *fmt, ...) TSR_PRINTF(3, 4);

/* Monotonic wall clock in seconds. */
double tsr__now(void);
/* TESSERA_OWNER_BLOCK's text: a whole number >= 0; false otherwise. */
bool tsr__parse_owner_block(const char *text, long long *out);

#endif /* TSR_CORE_IMPL_H */

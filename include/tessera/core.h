/* tessera/core.h — statuses and error messages, the context (threads, memory
 * limit, chunk size, logging, executor), the accounted allocator, dtypes,
 * shapes and chunk grids, and the counter-based random generator.
 *
 * Conventions for every function in this header unless its comment says
 * otherwise: functions that can fail return a tsr_status; on failure their
 * out-parameters are set to NULL/0 and tsr_last_error() holds a message that
 * names the bad argument.  All functions are thread-safe for distinct
 * objects; a tsr_ctx may be shared by threads for allocation and getters,
 * while its setters must not race with a running computation. */
#ifndef TESSERA_CORE_H
#define TESSERA_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define TSR_API __attribute__((visibility("default")))
#define TSR_NODISCARD __attribute__((warn_unused_result))
#define TSR_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#else
#define TSR_API
#define TSR_NODISCARD
#define TSR_PRINTF(fmt_index, first_arg)
#endif

#define TSR_VERSION_MAJOR 0
#define TSR_VERSION_MINOR 1
#define TSR_VERSION_PATCH 0
#define TSR_VERSION_STRING "0.1.0"

/* ------------------------------------------------------------------------ */
/* Statuses                                                                 */
/* ------------------------------------------------------------------------ */

/* XX(NAME, code, description): the one list the enum, tsr_strerror() and
 * tsr_status_name() are generated from. */
#define TSR_STATUS_MAP(XX)                                 \
  XX(OK, 0, "success")                                     \
  XX(ENOMEM, -1, "out of memory or over the memory limit") \
  XX(EINVAL, -2, "invalid argument")                       \
  XX(ESHAPE, -3, "shape mismatch")                         \
  XX(EDTYPE, -4, "unsupported or mismatched dtype")        \
  XX(EIO, -5, "input/output error")                        \
  XX(EPARSE, -6, "parse error")                            \
  XX(EMPI, -7, "MPI error")                                \
  XX(ENOTSUP, -8, "operation not supported")               \
  XX(ECANCELED, -9, "operation canceled")                  \
  XX(EINTERNAL, -10, "internal error")                    \
  XX(EOVERFLOW, -11, "value out of range")

typedef enum tsr_status {
#define TSR__STATUS_ENUM(name, code, text) TSR_##name = (code),
  TSR_STATUS_MAP(TSR__STATUS_ENUM)
#undef TSR__STATUS_ENUM
} tsr_status;

/* A static description of a status ("invalid argument"); never NULL. */
TSR_API const char *tsr_strerror(tsr_status status);
/* The status's name ("TSR_EINVAL"); "TSR_UNKNOWN" for a value not in the list. */
TSR_API const char *tsr_status_name(tsr_status status);

/* The calling thread's detailed message for the last failure
 * ("chunk grid: shape[1] = -3 is negative"); "" when there is none.  The
 * string stays valid until the thread's next failing call. */
TSR_API const char *tsr_last_error(void);

/* Records a formatted message as the calling thread's last error and returns
 * `status`.  User kernels call it to explain a failure; the executor hands the
 * message back from the run.  Messages longer than 1023 bytes are truncated. */
TSR_API tsr_status tsr_error_set(tsr_status status, const char *fmt, ...) TSR_PRINTF(2, 3);
TSR_API tsr_status tsr_error_setv(tsr_status status, const char *fmt, va_list ap);
/* Clears the calling thread's message. */
TSR_API void tsr_error_clear(void);

/* Propagate a failing status from a function that returns tsr_status. */
#define TSR_TRY(expr)                    \
  do {                                   \
    tsr_status tsr__try_status = (expr); \
    if (tsr__try_status != TSR_OK)       \
      return tsr__try_status;            \
  } while (0)

/* Fail with `code` and a printf-style message unless `cond` holds:
 * TSR_CHECK(n > 0, TSR_EINVAL, "n = %d must be positive", n); */
#define TSR_CHECK(cond, code, ...)               \
  do {                                           \
    if (!(cond))                                 \
      return tsr_error_set((code), __VA_ARGS__); \
  } while (0)

/* ------------------------------------------------------------------------ */
/* Context                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct tsr_ctx tsr_ctx;

typedef enum tsr_executor {
  TSR_EXECUTOR_OMP = 0,    /* OpenMP threads with work stealing (default) */
  TSR_EXECUTOR_SERIAL = 1, /* the calling thread alone, in priority order: for debugging */
} tsr_executor;

typedef enum tsr_log_level {
  TSR_LOG_OFF = 0,
  TSR_LOG_ERROR = 1,
  TSR_LOG_WARN = 2, /* default */
  TSR_LOG_INFO = 3,
  TSR_LOG_DEBUG = 4,
} tsr_log_level;

#define TSR_MAX_THREADS 4096
#define TSR_DEFAULT_CHUNK_BYTES (128ull << 20) /* Dask's array.chunk-size */

/* Creates a context.  Defaults come from the environment, then built-ins:
 *   threads       TESSERA_NUM_THREADS, else the first entry of OMP_NUM_THREADS,
 *                 else the number of processors;
 *   memory limit  TESSERA_MEMORY_LIMIT (a size, see tsr_parse_bytes), else none;
 *   chunk bytes   TESSERA_CHUNK_BYTES, else 128 MiB;
 *   log level     TESSERA_LOG = off|error|warn|info|debug, else warn;
 *   executor      TESSERA_EXECUTOR = omp|serial, else omp;
 *   broadcast join limit  TESSERA_BROADCAST_JOIN_LIMIT = a size (see
 *                 tsr_parse_bytes) or "auto", else auto (see
 *                 tsr_ctx_set_broadcast_join_limit).
 * A malformed variable is TSR_EINVAL with a message naming it.  The caller
 * owns *out and frees it with tsr_ctx_destroy(). */
TSR_API TSR_NODISCARD tsr_status tsr_ctx_create(tsr_ctx **out);
/* Frees the context and sets *ctx to NULL; accepts NULL and *ctx == NULL.
 * Everything created from the context must be destroyed first. */
TSR_API void tsr_ctx_destroy(tsr_ctx **ctx);

/* Explicit setters override the environment.  threads in 1..TSR_MAX_THREADS;
 * memory limit 0 means none; chunk bytes >= 1. */
TSR_API TSR_NODISCARD tsr_status tsr_ctx_set_threads(tsr_ctx *ctx, int threads);
TSR_API TSR_NODISCARD tsr_status tsr_ctx_set_memory_limit(tsr_ctx *ctx, uint64_t bytes);
TSR_API TSR_NODISCARD tsr_status tsr_ctx_set_chunk_bytes(tsr_ctx *ctx, uint64_t bytes);
TSR_API TSR_NODISCARD tsr_status tsr_ctx_set_log_level(tsr_ctx *ctx, tsr_log_level level);
TSR_API TSR_NODISCARD tsr_status tsr_ctx_set_executor(tsr_ctx *ctx, tsr_executor executor);
/* How tsr_frame_join picks its strategy on several MPI ranks (docs/frames.md,
 * "Joins"; docs/scaling.md 4.2).  A broadcast join gives every rank the right
 * side whole; a shuffle join sends both sides' rows to the rank owning their
 * key's hash bucket.  bytes >= 0: broadcast when the right side's needed
 * columns (keys and the columns the result takes from it) take at most
 * `bytes` bytes, else shuffle; so 0 always shuffles and INT64_MAX always
 * broadcasts.  bytes < 0 (the default, TSR_BROADCAST_JOIN_AUTO): by volume,
 * broadcast when it moves no more bytes than the shuffle would.  Right and
 * full joins and as-of joins always broadcast.  Every rank must set the same
 * value (a join fails with TSR_EINVAL otherwise).  Not thread-safe against
 * joins running on the context; TSR_EINVAL for a NULL ctx. */
#define TSR_BROADCAST_JOIN_AUTO (-1)
TSR_API TSR_NODISCARD tsr_status tsr_ctx_set_broadcast_join_limit(tsr_ctx *ctx, int64_t bytes);

/* Getters; a NULL ctx gives 0. */
TSR_API int tsr_ctx_threads(const tsr_ctx *ctx);
TSR_API uint64_t tsr_ctx_memory_limit(const tsr_ctx *ctx);
TSR_API uint64_t tsr_ctx_chunk_bytes(const tsr_ctx *ctx);
TSR_API tsr_log_level tsr_ctx_log_level(const tsr_ctx *ctx);
TSR_API tsr_executor tsr_ctx_executor(const tsr_ctx *ctx);
/* The broadcast join limit (TSR_BROADCAST_JOIN_AUTO for a NULL ctx). */
TSR_API int64_t tsr_ctx_broadcast_join_limit(const tsr_ctx *ctx);

/* Parses a byte size the way Dask does: a number with an optional unit,
 * case-insensitive, optional space: "512MB", "2GiB", "1.5G", "100 kB",
 * "4096".  k/M/G/T/P and kB/MB/... are powers of 1000; KiB/MiB/... powers of
 * 1024; "B" or nothing is bytes.  Fractions are rounded down to whole bytes.
 * Negative, empty, overflowing or unknown-unit input is TSR_EINVAL. */
TSR_API TSR_NODISCARD tsr_status tsr_parse_bytes(const char *text, uint64_t *out);
/* Writes a human-readable size ("1.5 GiB") into buf (at least 16 bytes
 * recommended; truncated to fit). Returns buf. */
TSR_API char *tsr_format_bytes(uint64_t bytes, char *buf, size_t buf_size);

/* ------------------------------------------------------------------------ */
/* Accounted allocator                                                      */
/* ------------------------------------------------------------------------ */

/* Every byte the library allocates goes through the context's allocator: it
 * returns 64-byte aligned memory, accounts current and peak bytes, enforces
 * the memory limit, and can be told to fail the N-th allocation (tests).
 * Thread-safe. */

/* Allocates `bytes` (0 allowed) 64-byte aligned bytes.  TSR_ENOMEM when the
 * system is out of memory, the memory limit would be exceeded, or an
 * injected failure fires; *out is then NULL. */
TSR_API TSR_NODISCARD tsr_status tsr_alloc(tsr_ctx *ctx, size_t bytes, void **out);
/* As tsr_alloc, zero-filled. */
TSR_API TSR_NODISCARD tsr_status tsr_calloc(tsr_ctx *ctx, size_t count, size_t size, void **out);
/* Frees memory from tsr_alloc/tsr_calloc of the same ctx; accepts NULL. */
TSR_API void tsr_free(tsr_ctx *ctx, void *ptr);
/* Allocates scratch memory inside a running kernel (free it with
 * tsr_free before the kernel returns).  Under a memory limit it is
 * allocated as task outputs are — spilling waiting chunks, or waiting for
 * other tasks to finish, to make room — where plain tsr_alloc would fail
 * with TSR_ENOMEM; elsewhere it is tsr_alloc. */
TSR_API TSR_NODISCARD tsr_status tsr_kernel_alloc(tsr_ctx *ctx, size_t bytes, void **out);


typedef struct tsr_memory_stats {
  uint64_t current_bytes; /* in use now */
  uint64_t peak_bytes;    /* highest current_bytes since creation or the last reset */
  uint64_t total_bytes;   /* sum of all allocation sizes */
  uint64_t allocations;   /* number of successful allocations */
  uint64_t limit_bytes;   /* 0 = no limit */
} tsr_memory_stats;

TSR_API TSR_NODISCARD tsr_status tsr_ctx_memory_stats(const tsr_ctx *ctx, tsr_memory_stats *out);
/* Sets the peak to the current usage. */
TSR_API void tsr_ctx_reset_peak(tsr_ctx *ctx);
/* Testing hook: the n-th allocation from now on fails with TSR_ENOMEM (once);
 * n = 0 disables it. */
TSR_API TSR_NODISCARD tsr_status tsr_ctx_set_fail_allocation(tsr_ctx *ctx, uint64_t n);

/* ------------------------------------------------------------------------ */
/* Dtypes                                                                   */
/* ------------------------------------------------------------------------ */

typedef enum tsr_dtype {
  TSR_BOOL = 0,
  TSR_INT8,
  TSR_INT16,
  TSR_INT32,
  TSR_INT64,
  TSR_UINT8,
  TSR_UINT16,
  TSR_UINT32,
  TSR_UINT64,
  TSR_FLOAT32,
  TSR_FLOAT64,
  TSR_NUM_DTYPES
} tsr_dtype;

/* True for a value of the enum above (TSR_NUM_DTYPES excluded). */
TSR_API bool tsr_dtype_valid(tsr_dtype dtype);
/* Bytes per element; 0 for an invalid dtype. */
TSR_API size_t tsr_dtype_size(tsr_dtype dtype);
/* NumPy's name: "bool", "int8", ..., "float64"; "invalid" otherwise. */
TSR_API const char *tsr_dtype_name(tsr_dtype dtype);
/* Parses a NumPy-style name: "float64", "f8", "<f8", "double", "int32", "i4",
 * "uint8", "u1", "bool", "?", "b1", "float", "int", ... */
TSR_API TSR_NODISCARD tsr_status tsr_dtype_from_name(const char *name, tsr_dtype *out);
TSR_API bool tsr_dtype_is_integer(tsr_dtype dtype); /* signed or unsigned, not bool */
TSR_API bool tsr_dtype_is_signed(tsr_dtype dtype);  /* signed integers and floats */
TSR_API bool tsr_dtype_is_float(tsr_dtype dtype);
/* NumPy's promotion of two array dtypes (np.result_type): int8 + uint8 ->
 * int16, int64 + uint64 -> float64, int16 + float32 -> float32, int32 +
 * float32 -> float64, bool + x -> x. */
TSR_API TSR_NODISCARD tsr_status tsr_dtype_promote(tsr_dtype a, tsr_dtype b, tsr_dtype *out);

/* ------------------------------------------------------------------------ */
/* Shapes and chunk grids                                                   */
/* ------------------------------------------------------------------------ */

#define TSR_MAX_NDIM 32

/* Number of elements of a shape, checked: a negative extent or a product
 * over INT64_MAX is TSR_EINVAL with a message naming the axis. ndim 0 is a
 * scalar (1 element). */
TSR_API TSR_NODISCARD tsr_status tsr_shape_size(int ndim, const int64_t *shape, int64_t *out);
/* Bytes of a shape of elements of `itemsize` bytes, checked likewise. */
TSR_API TSR_NODISCARD tsr_status tsr_shape_nbytes(int ndim, const int64_t *shape, size_t itemsize,
                                                  uint64_t *out);

/* A chunk grid splits each axis of a shape into consecutive chunks.  Chunks
 * are numbered in C order over the grid of chunk coordinates.  An axis of
 * extent 0 has one chunk of extent 0 (as in Dask).  Immutable once made, so
 * it may be read from many threads. */
typedef struct tsr_chunk_grid tsr_chunk_grid;

/* Uniform chunks: chunk[d] >= 1 elements on axis d, the last chunk ragged. */
TSR_API TSR_NODISCARD tsr_status tsr_chunk_grid_create_uniform(tsr_ctx *ctx, int ndim,
                                                               const int64_t *shape,
                                                               const int64_t *chunk,
                                                               tsr_chunk_grid **out);
/* Explicit chunks: axis d has nchunks[d] chunks of extents chunks[d][0..];
 * the shape is their sum.  Extents must be >= 1, except a single 0 (or an
 * empty list) for an axis of extent 0. */
TSR_API TSR_NODISCARD tsr_status tsr_chunk_grid_create_explicit(tsr_ctx *ctx, int ndim,
                                                                const int64_t *const *chunks,
                                                                const int64_t *nchunks,
                                                                tsr_chunk_grid **out);
/* Automatic chunks, like Dask's chunks="auto": axes with fixed[d] > 0 keep
 * that chunk extent, fixed[d] == -1 takes the whole axis (as in Dask), and
 * fixed[d] == 0 or fixed == NULL is automatic; the automatic axes get near-equal extents,
 * as close to cube-shaped as the shape allows, so that a chunk holds at most
 * target_bytes (0 = the context's chunk bytes) of `itemsize`-byte elements,
 * and split each axis into chunks of balanced size. */
TSR_API TSR_NODISCARD tsr_status tsr_chunk_grid_create_auto(tsr_ctx *ctx, int ndim,
                                                            const int64_t *shape, size_t itemsize,
                                                            uint64_t target_bytes,
                                                            const int64_t *fixed,
                                                            tsr_chunk_grid **out);
/* Frees the grid and sets *grid to NULL; accepts NULL. */
TSR_API void tsr_chunk_grid_destroy(tsr_chunk_grid **grid);

TSR_API int tsr_chunk_grid_ndim(const tsr_chunk_grid *grid);
/* The whole shape (ndim entries; NULL for ndim 0). */
TSR_API const int64_t *tsr_chunk_grid_shape(const tsr_chunk_grid *grid);
/* Number of chunks along `axis`; 0 for a bad axis. */
TSR_API int64_t tsr_chunk_grid_nchunks_axis(const tsr_chunk_grid *grid, int axis);
/* Total number of chunks (1 for ndim 0). */
TSR_API int64_t tsr_chunk_grid_nchunks(const tsr_chunk_grid *grid);
/* Extent and start offset of chunk `index` along `axis`; -1 when out of range. */
TSR_API int64_t tsr_chunk_grid_chunk_extent(const tsr_chunk_grid *grid, int axis, int64_t index);
TSR_API int64_t tsr_chunk_grid_chunk_offset(const tsr_chunk_grid *grid, int axis, int64_t index);
/* Chunk coordinates of chunk number `chunk` (C order), and back. */
TSR_API TSR_NODISCARD tsr_status tsr_chunk_grid_coords(const tsr_chunk_grid *grid, int64_t chunk,
                                                       int64_t *coords);
TSR_API TSR_NODISCARD tsr_status tsr_chunk_grid_index(const tsr_chunk_grid *grid,
                                                      const int64_t *coords, int64_t *chunk);
/* Shape and start offsets (ndim entries each; either may be NULL) of chunk
 * number `chunk`. */
TSR_API TSR_NODISCARD tsr_status tsr_chunk_grid_chunk(const tsr_chunk_grid *grid, int64_t chunk,
                                                      int64_t *shape, int64_t *offset);
/* Number of the chunk holding the element at `element` (ndim indices). */
TSR_API TSR_NODISCARD tsr_status tsr_chunk_grid_locate(const tsr_chunk_grid *grid,
                                                       const int64_t *element, int64_t *chunk);

/* ------------------------------------------------------------------------ */
/* Counter-based random numbers                                             */
/* ------------------------------------------------------------------------ */

/* Philox4x32-10 (Salmon et al., SC'11): one 128-bit block from a 128-bit
 * counter and a 64-bit key.  Does nothing if any pointer is NULL. */
TSR_API void tsr_philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]);

/* The value for element `index` of stream `seed` depends only on (seed,
 * index): never on chunking, threads or ranks.  Uniform values are in
 * [0, 1) with 53 random bits; normal values are standard normal
 * (Box-Muller on the element's own block). */
TSR_API uint64_t tsr_random_u64(uint64_t seed, uint64_t index);
TSR_API double tsr_random_uniform(uint64_t seed, uint64_t index);
TSR_API double tsr_random_normal(uint64_t seed, uint64_t index);
/* out[i] = tsr_random_uniform(seed, first + i) (resp. normal), i < n; does
 * nothing if out is NULL. */
TSR_API void tsr_random_fill_uniform(uint64_t seed, uint64_t first, size_t n, double *out);
TSR_API void tsr_random_fill_normal(uint64_t seed, uint64_t first, size_t n, double *out);

#ifdef __cplusplus
}
#endif

#endif /* TESSERA_CORE_H */

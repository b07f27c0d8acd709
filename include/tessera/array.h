/* tessera/array.h — chunked N-d arrays: lazy creation, and computing them
 * into memory.
 *
 * An array is a handle to a node of the expression graph (DESIGN.md, "Two
 * graphs"): creating one computes nothing.  Work happens only in the calls
 * that produce data (tsr_array_to_buffer, tsr_array_to_buffers), which lower
 * every requested array into one task graph and run it, so parts shared by
 * several outputs are computed once.  Nodes are reference-counted: an array
 * may be destroyed while other arrays built from it still need it.
 *
 * Chunks: every creation function takes `chunks`, the chunk extent per axis
 * (ndim entries, each >= 1; a value of -1 takes the whole axis, 0 lets the
 * context choose).  chunks == NULL chooses every axis automatically, so that
 * a chunk holds at most tsr_ctx_chunk_bytes() (Dask's chunks="auto").
 *
 * Arrays are immutable and may be read from several threads; the calls that
 * compute are not thread-safe on one context. */
#ifndef TESSERA_ARRAY_H
#define TESSERA_ARRAY_H

#include <tessera/core.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tsr_array tsr_array;

/* How tsr_array_from_buffer treats the caller's memory (SQLite's STATIC /
 * TRANSIENT / destructor). */
typedef enum tsr_buffer_mode {
  TSR_BUFFER_BORROW = 0, /* use it in place; it must outlive every computation */
  TSR_BUFFER_COPY = 1,   /* copy it now (accounted); the caller keeps theirs */
  TSR_BUFFER_ADOPT = 2,  /* take ownership; free_fn(data, free_user) when done */
} tsr_buffer_mode;

typedef void (*tsr_buffer_free_fn)(void *data, void *free_user);

typedef enum tsr_random_dist {
  TSR_RANDOM_UNIFORM = 0, /* [0, 1) */
  TSR_RANDOM_NORMAL = 1,  /* standard normal */
} tsr_random_dist;

/* An array of `shape` filled with `value` converted to `dtype` (as NumPy's
 * np.full: truncation toward zero for integers, value != 0 for bool).
 * The caller owns *out (tsr_array_destroy). */
TSR_API TSR_NODISCARD tsr_status tsr_array_full(tsr_ctx *ctx, tsr_dtype dtype, int ndim,
                                                const int64_t *shape, const int64_t *chunks,
                                                double value, tsr_array **out);
TSR_API TSR_NODISCARD tsr_status tsr_array_zeros(tsr_ctx *ctx, tsr_dtype dtype, int ndim,
                                                 const int64_t *shape, const int64_t *chunks,
                                                 tsr_array **out);
TSR_API TSR_NODISCARD tsr_status tsr_array_ones(tsr_ctx *ctx, tsr_dtype dtype, int ndim,
                                                const int64_t *shape, const int64_t *chunks,
                                                tsr_array **out);
/* 1-D: element i is start + i * step converted to dtype, for the
 * ceil((stop - start) / step) elements of NumPy's np.arange.  step != 0. */
TSR_API TSR_NODISCARD tsr_status tsr_array_arange(tsr_ctx *ctx, tsr_dtype dtype, double start,
                                                  double stop, double step, int64_t chunk,
                                                  tsr_array **out);
/* float64 random values: element with C-order index i is
 * tsr_random_uniform(seed, i) (or tsr_random_normal), so values never depend
 * on chunking, threads or ranks. */
TSR_API TSR_NODISCARD tsr_status tsr_array_random(tsr_ctx *ctx, tsr_random_dist dist, uint64_t seed,
                                                  int ndim, const int64_t *shape,
                                                  const int64_t *chunks, tsr_array **out);
/* An array over a C-contiguous user buffer of shape x dtype bytes, in the
 * given mode.  With TSR_BUFFER_ADOPT the array owns `data` even when this
 * call fails (free_fn is then called before returning); free_fn may be NULL
 * for memory that needs no freeing. */
TSR_API TSR_NODISCARD tsr_status tsr_array_from_buffer(tsr_ctx *ctx, tsr_dtype dtype, int ndim,
                                                       const int64_t *shape, const int64_t *chunks,
                                                       void *data, tsr_buffer_mode mode,
                                                       tsr_buffer_free_fn free_fn, void *free_user,
                                                       tsr_array **out);

/* Releases the caller's reference and sets *array to NULL; accepts NULL.
 * Arrays built from it keep what they need. */
TSR_API void tsr_array_destroy(tsr_array **array);

TSR_API int tsr_array_ndim(const tsr_array *array);
/* ndim entries; NULL for a 0-d array or a NULL array. */
TSR_API const int64_t *tsr_array_shape(const tsr_array *array);
TSR_API tsr_dtype tsr_array_dtype(const tsr_array *array);
/* Number of elements, and bytes (elements x itemsize). */
TSR_API int64_t tsr_array_size(const tsr_array *array);
TSR_API uint64_t tsr_array_nbytes(const tsr_array *array);
/* The chunk grid (owned by the array). */
TSR_API const tsr_chunk_grid *tsr_array_chunks(const tsr_array *array);

/* Computes the array into `buffer` (C order, exactly tsr_array_nbytes()
 * bytes, else TSR_EINVAL naming both sizes).  Chunks are copied into the
 * buffer by parallel tasks.  On failure the buffer's contents are
 * unspecified. */
TSR_API TSR_NODISCARD tsr_status tsr_array_to_buffer(tsr_array *array, void *buffer, size_t bytes);
/* Computes n arrays of one context into n buffers in one task graph, so that
 * what they share is computed once. */
TSR_API TSR_NODISCARD tsr_status tsr_array_to_buffers(size_t n, tsr_array *const *arrays,
                                                      void *const *buffers, const size_t *bytes);

#ifdef __cplusplus
}
#endif

#endif /* TESSERA_ARRAY_H */

/* tessera/array.h — chunked N-d arrays: lazy creation, and computing them
 * into memory.
 *
 * An array is a handle to a node of the expression graph (docs/architecture.md, "Two
 * graphs"): creating one computes nothing.  Work happens only in the calls
 * that produce data (tsr_array_to_buffer, tsr_array_to_buffers), which lower
 * every requested array into one task graph and run it, so parts shared by
 * several outputs are computed once.  Nodes are reference-counted: an array
 * may be destroyed while other arrays built from it still need it.
 *
 * Chunks: every creation function takes `chunks`, the chunk extent per axis
 * (ndim entries, each >= 1; a value of -1 takes the whole axis, 0 lets the
 * context choose).  chunks == NULL chooses every axis automatically, so that
 * a chunk holds at most tsr_ctx_chunk_bytes() (Dask's chunks="auto").  A
 * memory limit changes them only when it is smaller than 8 such chunks
 * (then a chunk holds at most an eighth of the limit), so adding a limit that
 * fits leaves the chunks, and every result, unchanged.
 *
 * Arrays are immutable and may be read from several threads; the calls that
 * compute are not thread-safe on one context. */
#ifndef TESSERA_ARRAY_H
#define TESSERA_ARRAY_H

#include <tessera/core.h>
#include <tessera/exec.h>

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
/* As tsr_array_full for an integer value, exactly (a double holds integers
 * only up to 2^53): for an integer dtype the value must be in its range
 * (else TSR_EINVAL "value V does not fit DTYPE", as NumPy 2 refuses a
 * Python int out of bounds); float dtypes round it to nearest, bool is
 * value != 0.  The caller owns *out.  TSR_EINVAL also for a bad dtype,
 * shape or chunks; TSR_ENOMEM.  Thread-safe on distinct outputs. */
TSR_API TSR_NODISCARD tsr_status tsr_array_full_i64(tsr_ctx *ctx, tsr_dtype dtype, int ndim,
                                                    const int64_t *shape, const int64_t *chunks,
                                                    int64_t value, tsr_array **out);
TSR_API TSR_NODISCARD tsr_status tsr_array_full_u64(tsr_ctx *ctx, tsr_dtype dtype, int ndim,
                                                    const int64_t *shape, const int64_t *chunks,
                                                    uint64_t value, tsr_array **out);
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
/* Integer np.arange: element i is start + i * step computed exactly in
 * int64, for the ceil((stop - start) / step) elements (computed exactly in
 * integer arithmetic; 0 when the range is empty), converted to dtype
 * (usually TSR_INT64).  TSR_EINVAL when step == 0, or when an element does
 * not fit an integer dtype (naming the first and last values).  The caller
 * owns *out. */
TSR_API TSR_NODISCARD tsr_status tsr_array_arange_i64(tsr_ctx *ctx, tsr_dtype dtype, int64_t start,
                                                      int64_t stop, int64_t step, int64_t chunk,
                                                      tsr_array **out);
/* float64 random values: element with C-order index i is
 * tsr_random_uniform(seed, i) (or tsr_random_normal), so values never depend
 * on chunking, threads or ranks. */
TSR_API TSR_NODISCARD tsr_status tsr_array_random(tsr_ctx *ctx, tsr_random_dist dist, uint64_t seed,
                                                  int ndim, const int64_t *shape,
                                                  const int64_t *chunks, tsr_array **out);
/* int64 random integers in [low, high) (np.random.randint), each from the
 * element's own counter-based draw as tsr_array_random's, so values never
 * depend on chunking, threads or ranks.  TSR_EINVAL unless low < high. */
TSR_API TSR_NODISCARD tsr_status tsr_array_random_integers(tsr_ctx *ctx, uint64_t seed,
                                                           int64_t low, int64_t high, int ndim,
                                                           const int64_t *shape,
                                                           const int64_t *chunks,
                                                           tsr_array **out);
/* A random permutation of 0 .. n - 1 (int64; np.random.permutation(n)):
 * the order of n random 64-bit keys drawn as tsr_array_random_integers'
 * (ties in index order), so it never depends on chunking, threads or ranks.
 * chunk: the keys' chunk extent (0: automatic).  Lazy: an argsort of the
 * keys (rearrange.c). */
TSR_API TSR_NODISCARD tsr_status tsr_array_permutation(tsr_ctx *ctx, uint64_t seed, int64_t n,
                                                       int64_t chunk, tsr_array **out);
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

/* As tsr_array_to_buffers, with observability: `options` (NULL = none)
 * may ask for a DOT file of the task graph, a Chrome trace of the run,
 * progress, and the run's statistics. */
typedef struct tsr_compute_options {
  const char *dot_path; /* write the task graph (Graphviz DOT) here before running */
  tsr_run_options run;  /* progress and trace; zero = defaults */
  /* Called once after a successful run with its statistics (valid during the call). */
  void (*on_stats)(const tsr_run_stats *stats, void *user);
  void *stats_user;
} tsr_compute_options;
TSR_API TSR_NODISCARD tsr_status tsr_array_to_buffers_ex(size_t n, tsr_array *const *arrays,
                                                         void *const *buffers, const size_t *bytes,
                                                         const tsr_compute_options *options);

/* ======================================================================== */
/* Elementwise operations (elementwise.c)                                   */
/* ======================================================================== */
/* NumPy semantics: result dtypes by np.result_type (tsr_dtype_promote);
 * shapes broadcast by NumPy's rules (axes aligned on the right, extent 1
 * stretches), else TSR_ESHAPE naming both shapes; inputs with different
 * chunkings are rechunked to common chunks first (Dask's unify_chunks).
 * Integer arithmetic wraps on overflow; integer // and % by zero give 0;
 * float division by zero gives inf or nan.  Chains of elementwise operations
 * are fused: the chain runs as one task per chunk over cache-sized blocks.
 *
 * Scalars (the *_scalar functions) are "weak" as Python's are in NumPy 2
 * (NEP 50): they take the array's dtype when it can represent their kind —
 * an integral value acts as a Python int, any other as a Python float — so
 * an int8 array plus 1 stays int8 and an int32 array times 0.5 becomes
 * float64.  For a strongly typed scalar use a 0-d array (tsr_array_full
 * with ndim 0). */
typedef enum tsr_binary_op {
  TSR_OP_ADD = 0,
  TSR_OP_SUB,
  TSR_OP_MUL,
  TSR_OP_DIV,      /* true division: integers give float64 */
  TSR_OP_FLOORDIV, /* // : floor of the quotient (Python's sign rule for %) */
  TSR_OP_MOD,      /* %  : result has the divisor's sign */
  TSR_OP_POW,      /* ** : integer to a negative integer power is an error */
  TSR_OP_MAXIMUM,  /* NaN propagates */
  TSR_OP_MINIMUM,
  TSR_OP_ARCTAN2,
  TSR_OP_HYPOT,
  TSR_OP_EQ, /* comparisons give bool */
  TSR_OP_NE,
  TSR_OP_LT,
  TSR_OP_LE,
  TSR_OP_GT,
  TSR_OP_GE,
  TSR_OP_LOGICAL_AND, /* logical ops give bool */
  TSR_OP_LOGICAL_OR,
  TSR_OP_LOGICAL_XOR,
  TSR_OP_BITWISE_AND, /* bitwise ops: bool and integers only */
  TSR_OP_BITWISE_OR,
  TSR_OP_BITWISE_XOR,
  TSR_OP_LEFT_SHIFT,
  TSR_OP_RIGHT_SHIFT,
  TSR_NUM_BINARY_OPS
} tsr_binary_op;

typedef enum tsr_unary_op {
  TSR_OP_NEGATIVE = 0,
  TSR_OP_POSITIVE,
  TSR_OP_ABS,
  TSR_OP_SIGN,
  TSR_OP_SQUARE,
  TSR_OP_SQRT, /* these, to ARCTANH: bool and 8/16-bit integers compute in float32
                  (NumPy: float16 for 8-bit; tessera has none), wider ones in float64 */
  TSR_OP_CBRT,
  TSR_OP_EXP,
  TSR_OP_EXP2,
  TSR_OP_EXPM1,
  TSR_OP_LOG,
  TSR_OP_LOG1P,
  TSR_OP_LOG2,
  TSR_OP_LOG10,
  TSR_OP_SIN,
  TSR_OP_COS,
  TSR_OP_TAN,
  TSR_OP_ARCSIN,
  TSR_OP_ARCCOS,
  TSR_OP_ARCTAN,
  TSR_OP_SINH,
  TSR_OP_COSH,
  TSR_OP_TANH,
  TSR_OP_ARCSINH,
  TSR_OP_ARCCOSH,
  TSR_OP_ARCTANH,
  TSR_OP_FLOOR, /* floor, ceil, round, trunc keep integer dtypes */
  TSR_OP_CEIL,
  TSR_OP_ROUND, /* half to even, as np.round */
  TSR_OP_TRUNC,
  TSR_OP_ISNAN, /* predicates give bool */
  TSR_OP_ISINF,
  TSR_OP_ISFINITE,
  TSR_OP_LOGICAL_NOT,
  TSR_OP_INVERT, /* ~ : bool and integers only */
  TSR_NUM_UNARY_OPS
} tsr_unary_op;

/* NumPy's name of an operation ("add", "floor_divide", "sqrt", ...). */
TSR_API const char *tsr_binary_op_name(tsr_binary_op op);
TSR_API const char *tsr_unary_op_name(tsr_unary_op op);

/* out = a op b, broadcasting. */
TSR_API TSR_NODISCARD tsr_status tsr_binary(tsr_binary_op op, tsr_array *a, tsr_array *b,
                                            tsr_array **out);
/* out = a op s, and out = s op a, with s a weak scalar (see above). */
TSR_API TSR_NODISCARD tsr_status tsr_binary_scalar(tsr_binary_op op, tsr_array *a, double s,
                                                   tsr_array **out);
TSR_API TSR_NODISCARD tsr_status tsr_scalar_binary(tsr_binary_op op, double s, tsr_array *a,
                                                   tsr_array **out);
/* As tsr_binary_scalar / tsr_scalar_binary with an integer weak scalar,
 * exact beyond 2^53 (int64 timestamps, 64-bit ids), as a Python int in
 * NumPy 2: it takes a float array's dtype (rounded), int64 next to bool,
 * and an integer array's dtype when it is in that dtype's range.  Out of
 * the range, a comparison gives its exact answer (int8 x < 1000 is true
 * everywhere) and any other operation is TSR_EINVAL ("scalar S is out of
 * bounds for DTYPE", NumPy's OverflowError).  The caller owns *out;
 * TSR_EINVAL for a NULL array or a bad op, TSR_EDTYPE as tsr_binary. */
TSR_API TSR_NODISCARD tsr_status tsr_binary_scalar_i64(tsr_binary_op op, tsr_array *a, int64_t s,
                                                       tsr_array **out);
TSR_API TSR_NODISCARD tsr_status tsr_scalar_binary_i64(tsr_binary_op op, int64_t s, tsr_array *a,
                                                       tsr_array **out);
TSR_API TSR_NODISCARD tsr_status tsr_binary_scalar_u64(tsr_binary_op op, tsr_array *a, uint64_t s,
                                                       tsr_array **out);
TSR_API TSR_NODISCARD tsr_status tsr_scalar_binary_u64(tsr_binary_op op, uint64_t s, tsr_array *a,
                                                       tsr_array **out);
TSR_API TSR_NODISCARD tsr_status tsr_unary(tsr_unary_op op, tsr_array *a, tsr_array **out);

/* Shorthands for the most common operations. */
TSR_API TSR_NODISCARD tsr_status tsr_add(tsr_array *a, tsr_array *b, tsr_array **out);
TSR_API TSR_NODISCARD tsr_status tsr_sub(tsr_array *a, tsr_array *b, tsr_array **out);
TSR_API TSR_NODISCARD tsr_status tsr_mul(tsr_array *a, tsr_array *b, tsr_array **out);
TSR_API TSR_NODISCARD tsr_status tsr_div(tsr_array *a, tsr_array *b, tsr_array **out);

/* where(cond, a, b): a where cond is true (nonzero), else b; the result
 * dtype is promote(a, b); all three broadcast together. */
TSR_API TSR_NODISCARD tsr_status tsr_where(tsr_array *cond, tsr_array *a, tsr_array *b,
                                           tsr_array **out);
/* clip(a, lo, hi) = minimum(maximum(a, lo), hi) with weak scalar bounds;
 * pass -INFINITY / INFINITY for an open side. */
TSR_API TSR_NODISCARD tsr_status tsr_clip(tsr_array *a, double lo, double hi, tsr_array **out);
/* clip with integer bounds, exact beyond 2^53: minimum(maximum(a, lo), hi)
 * with lo and hi weak integer scalars as in tsr_binary_scalar_i64 (a bound
 * outside an integer array's dtype is TSR_EINVAL).  Both sides are closed;
 * for one open side call tsr_binary_scalar_i64 with TSR_OP_MAXIMUM or
 * TSR_OP_MINIMUM.  The caller owns *out. */
TSR_API TSR_NODISCARD tsr_status tsr_clip_i64(tsr_array *a, int64_t lo, int64_t hi,
                                              tsr_array **out);
TSR_API TSR_NODISCARD tsr_status tsr_clip_u64(tsr_array *a, uint64_t lo, uint64_t hi,
                                              tsr_array **out);
/* Conversion as NumPy's astype (C casts; float to integer truncates, NaN and
 * out-of-range values give what the C cast gives on this machine;
 * to bool is != 0). */
TSR_API TSR_NODISCARD tsr_status tsr_astype(tsr_array *a, tsr_dtype dtype, tsr_array **out);

/* ======================================================================== */
/* Reductions (reduce.c)                                                    */
/* ======================================================================== */
/* Reduce over `naxes` axes listed in `axes` (negative counts from the end;
 * axes == NULL with naxes == 0 means every axis, like axis=None); keepdims
 * keeps the reduced axes with extent 1.  Chunks are reduced in place, then
 * combined in trees of fan-in `split_every` (default 8) whose shape
 * depends only on the chunking, so results are bitwise identical for any
 * thread count.  Sums inside a chunk are pairwise (as accurate as NumPy's).
 * An elementwise expression feeding a reduction is fused into its per-chunk
 * tasks.  Result dtypes follow NumPy: sum/prod of bool and signed integers
 * give int64, of unsigned integers uint64; mean/var/std of integers give
 * float64; min/max keep the dtype; any/all give bool; count_nonzero and
 * argmin/argmax give int64.  The nan- variants skip NaNs (an all-NaN slice
 * gives NaN for nanmean/nanvar/nanmin/nanmax, as NumPy, which also warns). */
typedef enum tsr_reduce_op {
  TSR_REDUCE_SUM = 0,
  TSR_REDUCE_PROD,
  TSR_REDUCE_MEAN,
  TSR_REDUCE_VAR,
  TSR_REDUCE_STD,
  TSR_REDUCE_MIN,
  TSR_REDUCE_MAX,
  TSR_REDUCE_ANY,
  TSR_REDUCE_ALL,
  TSR_REDUCE_COUNT_NONZERO,
  TSR_REDUCE_NANSUM,
  TSR_REDUCE_NANPROD,
  TSR_REDUCE_NANMEAN,
  TSR_REDUCE_NANVAR,
  TSR_REDUCE_NANSTD,
  TSR_REDUCE_NANMIN,
  TSR_REDUCE_NANMAX,
  TSR_NUM_REDUCE_OPS
} tsr_reduce_op;

typedef struct tsr_reduce_options {
  bool keepdims;
  int ddof;        /* var/std: divisor n - ddof (NumPy's ddof) */
  int split_every; /* tree fan-in, >= 2; 0 = 8 */
} tsr_reduce_options;

TSR_API const char *tsr_reduce_op_name(tsr_reduce_op op);
/* options == NULL: keepdims false, ddof 0, split_every 8.  min/max (not the
 * nan- variants) of an empty selection are TSR_EINVAL, as NumPy's
 * "zero-size array to reduction operation" error. */
TSR_API TSR_NODISCARD tsr_status tsr_reduce(tsr_reduce_op op, tsr_array *a, const int *axes,
                                            int naxes, const tsr_reduce_options *options,
                                            tsr_array **out);
TSR_API TSR_NODISCARD tsr_status tsr_sum(tsr_array *a, const int *axes, int naxes, bool keepdims,
                                         tsr_array **out);
TSR_API TSR_NODISCARD tsr_status tsr_mean(tsr_array *a, const int *axes, int naxes, bool keepdims,
                                          tsr_array **out);
TSR_API TSR_NODISCARD tsr_status tsr_std(tsr_array *a, const int *axes, int naxes, int ddof,
                                         bool keepdims, tsr_array **out);
/* Index of the first minimum / maximum along `axis`, or over the flattened
 * array (C order) when flatten is true (NumPy's axis=None); NaN counts as
 * the extreme, as in NumPy.  int64 result. */
TSR_API TSR_NODISCARD tsr_status tsr_argmin(tsr_array *a, int axis, bool flatten, tsr_array **out);
TSR_API TSR_NODISCARD tsr_status tsr_argmax(tsr_array *a, int axis, bool flatten, tsr_array **out);
/* Running sum / product along `axis` (dtype as tsr_sum / prod). */
TSR_API TSR_NODISCARD tsr_status tsr_cumsum(tsr_array *a, int axis, tsr_array **out);
TSR_API TSR_NODISCARD tsr_status tsr_cumprod(tsr_array *a, int axis, tsr_array **out);

/* ======================================================================== */
/* Sorting and order statistics (sort.c, order_count.c)                     */
/* ======================================================================== */
/* NumPy semantics.  Values are ordered numerically with NaN last; -0.0 and
 * 0.0 are equal (argsort keeps their order, isin and searchsorted match
 * them).  `flatten` is NumPy's axis=None (the array in C order); otherwise
 * `axis` (negative counts from the end) must exist, else TSR_EINVAL naming
 * it.  Along an axis the input is rechunked so the axis is one chunk and
 * each chunk is processed by its own task; flattened (and 1-D) inputs are
 * sorted chunk by chunk into runs that tasks merge (sort, argsort) or read
 * ranks from (quantiles), so results never depend on the thread count.
 * Lazy unless said otherwise; the caller owns every result (destroy it).
 * Statuses: TSR_EINVAL for NULL arguments and bad values (naming the
 * argument), TSR_EDTYPE for dtypes a function does not take, TSR_ENOMEM. */

/* Sorted copy along axis (flatten: 1-D of all elements), a's dtype. */
TSR_API TSR_NODISCARD tsr_status tsr_sort(tsr_array *a, int axis, bool flatten, tsr_array **out);
/* Indices (int64) that sort a along axis, stable (equal values keep their
 * order: NumPy's kind="stable"); flatten: indices into the flattened array. */
TSR_API TSR_NODISCARD tsr_status tsr_argsort(tsr_array *a, int axis, bool flatten,
                                             tsr_array **out);
/* The sorted distinct values of the flattened a (1-D, a's dtype) and, if
 * counts != NULL, how often each occurs (int64).  -0.0 and 0.0 are one
 * value, and so are all NaNs (NumPy's equal_nan).  Computes a now (the
 * length is known only then): the results are arrays over memory. */
TSR_API TSR_NODISCARD tsr_status tsr_unique(tsr_array *a, tsr_array **values, tsr_array **counts);

/* Quantiles with linear interpolation (NumPy's default method), float64.
 * q: nq >= 1 values in [0, 1] (percentile: [0, 100]), the result then has
 * a leading axis of nq entries, as NumPy with q an array; nq == -1: q
 * points at one value and the result has no q axis (a scalar q).  The
 * other axes are a's without `axis` (flatten: none).  Any NaN in a lane
 * makes its result NaN; the nan- variants skip NaNs (an all-NaN or empty
 * lane gives NaN).  An empty lane gives NaN.  Bool arrays: TSR_EDTYPE.
 * Interpolation is NumPy's _lerp at NumPy's position (n - 1) * q, except
 * that an exact position (or two equal neighbours) gives that value where
 * NumPy's arithmetic gives NaN next to an infinity (inf * 0, inf - inf).
 * The result is float64 for every input dtype (NumPy keeps float32).
 * Selection (core/order.h), no full sort: along an axis per lane; over a
 * 1-D or flattened array in one task reading every chunk. */
TSR_API TSR_NODISCARD tsr_status tsr_quantile(tsr_array *a, const double *q, int64_t nq, int axis,
                                              bool flatten, tsr_array **out);
TSR_API TSR_NODISCARD tsr_status tsr_nanquantile(tsr_array *a, const double *q, int64_t nq,
                                                 int axis, bool flatten, tsr_array **out);
TSR_API TSR_NODISCARD tsr_status tsr_percentile(tsr_array *a, const double *q, int64_t nq,
                                                int axis, bool flatten, tsr_array **out);
TSR_API TSR_NODISCARD tsr_status tsr_nanpercentile(tsr_array *a, const double *q, int64_t nq,
                                                   int axis, bool flatten, tsr_array **out);
/* The median (NumPy's: the mean of the two middle values for an even
 * count), float64; NaN handling as the quantiles. */
TSR_API TSR_NODISCARD tsr_status tsr_median(tsr_array *a, int axis, bool flatten,
                                            tsr_array **out);
TSR_API TSR_NODISCARD tsr_status tsr_nanmedian(tsr_array *a, int axis, bool flatten,
                                               tsr_array **out);

/* Histogram of the flattened a in `bins` > 0 equal bins over range[0..1]
 * (range == NULL: a's minimum and maximum, computed now; a range of one
 * value is widened by 0.5 each side; an empty a uses [0, 1]).  Bins are
 * half-open except the last, which includes its right edge; values outside
 * the range and NaN are not counted.  *counts: int64 (bins); *edges (if
 * edges != NULL): float64 (bins + 1), as np.linspace makes them.
 * TSR_EINVAL for bins <= 0, range[0] > range[1], or a range that is not
 * finite (given or autodetected). */
TSR_API TSR_NODISCARD tsr_status tsr_histogram(tsr_array *a, int64_t bins, const double *range,
                                               tsr_array **counts, tsr_array **edges);
/* As tsr_histogram with explicit bin edges (1-D, at least one, compared as
 * float64; non-decreasing, else the computation fails with TSR_EINVAL). */
TSR_API TSR_NODISCARD tsr_status tsr_histogram_edges(tsr_array *a, tsr_array *edges,
                                                     tsr_array **counts);
/* Counts of each value 0..max(x) of the 1-D integer (or bool) array x, at
 * least minlength entries: int64, or with weights (1-D, x's length) their
 * float64 sums.  Computes x's extremes now to size the result.  TSR_EDTYPE
 * for a non-integer x; TSR_EINVAL for a negative value, minlength < 0, or
 * x not 1-D; TSR_ESHAPE for weights of another length. */
TSR_API TSR_NODISCARD tsr_status tsr_bincount(tsr_array *x, tsr_array *weights, int64_t minlength,
                                              tsr_array **out);
/* Index of the bin of each element of x (int64, x's shape) for 1-D bins
 * that increase or decrease monotonically (else the computation fails with
 * TSR_EINVAL): NumPy's digitize, right == false: bins[i-1] <= x < bins[i]. */
TSR_API TSR_NODISCARD tsr_status tsr_digitize(tsr_array *x, tsr_array *bins, bool right,
                                              tsr_array **out);
/* Insertion points (int64, v's shape) of v in the sorted 1-D array a:
 * the first (right: last) position keeping a sorted.  a must be 1-D
 * (TSR_EINVAL otherwise); its order is not checked. */
TSR_API TSR_NODISCARD tsr_status tsr_searchsorted(tsr_array *a, tsr_array *v, bool right,
                                                  tsr_array **out);
/* Whether each element of `element` is in test_elements (any shape), as
 * bool of element's shape; invert negates.  NaN is in nothing. */
TSR_API TSR_NODISCARD tsr_status tsr_isin(tsr_array *element, tsr_array *test_elements,
                                          bool invert, tsr_array **out);

/* ======================================================================== */
/* Structure (slice.c, transpose.c, reshape.c, concat.c, rechunk.c)         */
/* ======================================================================== */
/* One entry of an index: an integer (drops the axis; negative counts from
 * the end) or a slice start:stop:step with NumPy's rules (TSR_NONE for an
 * omitted start or stop; step != 0, may be negative). */
#define TSR_NONE INT64_MIN
typedef struct tsr_index {
  bool is_slice;
  int64_t start, stop, step; /* an integer index uses start only */
} tsr_index;
#define TSR_AT(i) ((tsr_index){false, (i), 0, 0})
#define TSR_SLICE(start, stop, step) ((tsr_index){true, (start), (stop), (step)})
#define TSR_ALL ((tsr_index){true, TSR_NONE, TSR_NONE, 1})

/* a[index[0], ..., index[n-1]] (n <= ndim; the remaining axes are whole).
 * Computing the result reads only the chunks it needs. */
TSR_API TSR_NODISCARD tsr_status tsr_slice(tsr_array *a, int n, const tsr_index *index,
                                           tsr_array **out);
/* Indexing by data (take.c).  The indices, condition or mask are computed
 * when the call is made (they decide the result's shape); a stays lazy.
 * np.take(a, indices, axis): a with its axis `axis` replaced by
 * a[..., indices[t], ...] for each of the 1-D integer `indices` (negative
 * ones count from the end; any out of bounds is TSR_EINVAL naming it):
 * NumPy's integer-array ("fancy") indexing on one axis, x[:, idx]. */
TSR_API TSR_NODISCARD tsr_status tsr_take(tsr_array *a, tsr_array *indices, int axis,
                                          tsr_array **out);
/* np.compress(condition, a, axis): the positions along `axis` where the 1-D
 * condition (any dtype: nonzero is true) holds, at most the axis' extent
 * long (positions past its end are not kept): x[:, mask] for a 1-D bool
 * mask of the axis' length. */
TSR_API TSR_NODISCARD tsr_status tsr_compress(tsr_array *condition, tsr_array *a, int axis,
                                              tsr_array **out);
/* a[mask] for a bool mask of a's shape: the elements where it is true, as a
 * 1-D array in C order (NumPy's boolean indexing, x[x > 3]).  The mask is
 * computed now and held in the node, one bit per element. */
TSR_API TSR_NODISCARD tsr_status tsr_mask_select(tsr_array *a, tsr_array *mask, tsr_array **out);
/* Axis permutation: result axis i is a's axis perm[i]; perm == NULL reverses
 * the axes (a.T). */
TSR_API TSR_NODISCARD tsr_status tsr_transpose(tsr_array *a, const int *perm, tsr_array **out);
/* NumPy's reshape in C order; one extent may be -1 (inferred). */
TSR_API TSR_NODISCARD tsr_status tsr_reshape(tsr_array *a, int ndim, const int64_t *shape,
                                             tsr_array **out);
/* Removes the listed axes (each of extent 1), or every extent-1 axis when
 * naxes == 0. */
TSR_API TSR_NODISCARD tsr_status tsr_squeeze(tsr_array *a, const int *axes, int naxes,
                                             tsr_array **out);
/* Inserts an axis of extent 1 at position `axis` of the result. */
TSR_API TSR_NODISCARD tsr_status tsr_expand_dims(tsr_array *a, int axis, tsr_array **out);
/* Joins n >= 1 arrays of equal shape except along `axis` (concatenate) or of
 * equal shape into a new axis `axis` (stack); dtype by promotion.  Chunks:
 * the inputs' side by side along the axis; on the other axes, where the
 * inputs' chunks differ, the union of their boundaries (as Dask's
 * unify_chunks), so no input chunk is merged with another and none grows. */
TSR_API TSR_NODISCARD tsr_status tsr_concatenate(size_t n, tsr_array *const *arrays, int axis,
                                                 tsr_array **out);
TSR_API TSR_NODISCARD tsr_status tsr_stack(size_t n, tsr_array *const *arrays, int axis,
                                           tsr_array **out);

/* NumPy functions composed of the operations above (lazy unless said;
 * NumPy's values, as they perform NumPy's operations):
 * np.diff(a, n, axis): the n-th differences along `axis` (bool: not-equal);
 * np.outer(a, b): both flattened, a[:, None] * b[None, :];
 * np.isclose (NumPy 2's rule, b taken as floating point: |a - b| <= atol +
 * rtol * |b| where b is finite, or a == b; with equal_nan NaNs match);
 * np.allclose, computed now into *out;
 * np.roll(a, shift, axis): axis NULL rolls the flattened array;
 * np.triu / np.tril(m, k): zero below / above diagonal k of the last two
 * axes (a 1-d array is taken as a row repeated, as NumPy does). */
TSR_API TSR_NODISCARD tsr_status tsr_diff(tsr_array *a, int n, int axis, tsr_array **out);
TSR_API TSR_NODISCARD tsr_status tsr_outer(tsr_array *a, tsr_array *b, tsr_array **out);
TSR_API TSR_NODISCARD tsr_status tsr_isclose(tsr_array *a, tsr_array *b, double rtol, double atol,
                                             bool equal_nan, tsr_array **out);
TSR_API TSR_NODISCARD tsr_status tsr_allclose(tsr_array *a, tsr_array *b, double rtol,
                                              double atol, bool equal_nan,
                                              const tsr_compute_options *options, bool *out);
TSR_API TSR_NODISCARD tsr_status tsr_roll(tsr_array *a, int64_t shift, const int *axis,
                                          tsr_array **out);
TSR_API TSR_NODISCARD tsr_status tsr_triu(tsr_array *m, int64_t k, tsr_array **out);
TSR_API TSR_NODISCARD tsr_status tsr_tril(tsr_array *m, int64_t k, tsr_array **out);
/* np.diag(a, k): of a 2-d array its diagonal k (a strided view of it
 * flattened); of a 1-d array the square matrix with it on diagonal k.
 * np.trace(a, k): the sum of diagonal k of a 2-d array. */
TSR_API TSR_NODISCARD tsr_status tsr_diag(tsr_array *a, int64_t k, tsr_array **out);
TSR_API TSR_NODISCARD tsr_status tsr_trace(tsr_array *a, int64_t k, tsr_array **out);
/* np.linalg.norm(x) of every element (2-norm of the flattened array):
 * sqrt(sum(x * x)), 0-d, in x's float dtype (float64 for integers).
 * np.cov(m, ddof=ddof): rows are variables (a 1-d m is one, giving a 0-d
 * result); (m - mean) @ (m - mean).T * (1 / (n - ddof)).  np.corrcoef(m):
 * cov(m) divided by the outer product of its diagonal's square roots,
 * clipped to [-1, 1].  Sums and products run in tessera's order (pairwise
 * sums, BLAS), so values agree with NumPy's to rounding, not bitwise. */
TSR_API TSR_NODISCARD tsr_status tsr_norm(tsr_array *x, tsr_array **out);
TSR_API TSR_NODISCARD tsr_status tsr_cov(tsr_array *m, int ddof, tsr_array **out);
TSR_API TSR_NODISCARD tsr_status tsr_corrcoef(tsr_array *m, tsr_array **out);

/* np.pad's modes (rearrange.c): constant (the given value, converted to the
 * array's dtype), edge (the edge value repeated), reflect (mirrored about
 * the edge value, which is not repeated), symmetric (mirrored including it),
 * wrap (periodic).  Widths larger than the axis repeat the pattern, as
 * NumPy's do. */
typedef enum tsr_pad_mode {
  TSR_PAD_CONSTANT = 0,
  TSR_PAD_EDGE = 1,
  TSR_PAD_REFLECT = 2,
  TSR_PAD_SYMMETRIC = 3,
  TSR_PAD_WRAP = 4,
} tsr_pad_mode;
/* np.pad(a, [(before[d], after[d]) ...], mode): widths per axis, >= 0.  An
 * empty axis can only be padded with TSR_PAD_CONSTANT. */
TSR_API TSR_NODISCARD tsr_status tsr_pad(tsr_array *a, const int64_t *before,
                                         const int64_t *after, tsr_pad_mode mode, double value,
                                         tsr_array **out);
/* np.tile(a, reps): a repeated reps[i] times along each axis (the shorter of
 * a's axes and reps is padded with 1s in front, as NumPy does). */
TSR_API TSR_NODISCARD tsr_status tsr_tile(tsr_array *a, int nreps, const int64_t *reps,
                                          tsr_array **out);
/* np.repeat(a, repeats, axis): each element repeated `repeats` times along
 * *axis, or of the flattened a when axis is NULL. */
TSR_API TSR_NODISCARD tsr_status tsr_repeat(tsr_array *a, int64_t repeats, const int *axis,
                                            tsr_array **out);
/* The same values in new chunks (`chunks` as for creation).  The task count
 * stays close to the number of input plus output chunks. */
TSR_API TSR_NODISCARD tsr_status tsr_rechunk(tsr_array *a, const int64_t *chunks, tsr_array **out);
/* As tsr_rechunk, to an explicit grid (copied; its shape must be a's). */
TSR_API TSR_NODISCARD tsr_status tsr_rechunk_grid(tsr_array *a, const tsr_chunk_grid *grid,
                                                  tsr_array **out);

/* ======================================================================== */
/* User kernels (map.c)                                                     */
/* ======================================================================== */
/* Where a block sits: its shape and the offset of its first element in the
 * whole array (for map_overlap inputs, the block includes the halo, so the
 * offset may be negative), the whole array's shape, and the chunk number. */
typedef struct tsr_block_info {
  int ndim;
  const int64_t *shape;
  const int64_t *offset;
  const int64_t *array_shape;
  int64_t chunk;
  /* The kernel's context, the same in every info of one call: */
  tsr_ctx *ctx;     /* the arrays' context: scratch via tsr_kernel_alloc / tsr_free */
  const char *name; /* the kernel's name (tsr_map_options.name, or "map-blocks" /
                       "map-overlap"), as --stats, traces and errors show it */
  int thread;       /* the worker running the call, 0 .. threads - 1 */
} tsr_block_info;

/* A user kernel: fill `out` (C-contiguous, out_info->shape) from the input
 * blocks (C-contiguous, in_info[i].shape).  Return TSR_OK or a failure
 * status after tsr_error_set().  Runs concurrently on several threads. */
typedef tsr_status (*tsr_block_fn)(void *out, const tsr_block_info *out_info, const void *const *in,
                                   const tsr_block_info *in_info, size_t n_in, void *user);

/* Applies fn to matching blocks of n >= 1 inputs of one shape (else
 * TSR_ESHAPE naming both shapes); inputs chunked differently are first
 * rechunked to common chunks, as elementwise operations do.  The result has
 * dtype out_dtype, the inputs' shape and their (common) chunks; out_chunks,
 * if not NULL, gives another grid with the same number of chunks per axis
 * (and the same ndim). */
TSR_API TSR_NODISCARD tsr_status tsr_map_blocks(size_t n, tsr_array *const *inputs, tsr_block_fn fn,
                                                void *user, tsr_dtype out_dtype,
                                                const tsr_chunk_grid *out_chunks, tsr_array **out);

typedef enum tsr_boundary {
  TSR_BOUNDARY_NONE = 0, /* no halo beyond the array's edges */
  TSR_BOUNDARY_CONSTANT, /* halo filled with a constant */
  TSR_BOUNDARY_REFLECT,  /* mirrored, edge included (Dask's "reflect", np.pad symmetric) */
  TSR_BOUNDARY_PERIODIC, /* wraps around */
  TSR_BOUNDARY_NEAREST,  /* repeats the edge element */
} tsr_boundary;

/* fn sees each chunk extended by depth[d] elements on both sides of axis d
 * (taken from the neighbouring chunks, or made by `boundary` at the array's
 * edges) and writes the chunk's own extent: the result has a's shape and
 * chunks.  depth[d] may not exceed the smallest chunk extent of axis d. */
TSR_API TSR_NODISCARD tsr_status tsr_map_overlap(tsr_array *a, const int64_t *depth,
                                                 tsr_boundary boundary, double constant,
                                                 tsr_block_fn fn, void *user, tsr_dtype out_dtype,
                                                 tsr_array **out);

/* ======================================================================== */
/* Linear algebra (linalg.c)                                                */
/* ======================================================================== */
/* Products of float32/float64 arrays (other dtypes are promoted to float64)
 * through CBLAS, one chunk product per task with BLAS single-threaded, and a
 * tree of sums over the contracted axis.
 *
 * Result dtype: float32 when NumPy's promotion of the two dtypes is float32
 * (float32 with float32, bool, int8/16 or uint8/16), else float64.  Unlike
 * NumPy, integer and bool operands are computed in float64 and give float64
 * (exact while every partial sum stays below 2^53).
 * Results are bitwise identical for any thread count: the summation order
 * depends only on the chunking.
 * The result's chunks are a's along its free axes, then b's.  Contracted
 * axes must have equal extents (else TSR_ESHAPE naming both shapes and the
 * axes); where the operands' chunks differ along a contracted axis, b is
 * rechunked to a's chunks there.  Bad axes are TSR_EINVAL naming the axis.
 * BLAS threads: OpenBLAS's thread count is process-wide; while product
 * tasks run it is set to 1 and restored afterwards, so other threads of the
 * program calling BLAS meanwhile run single-threaded too. */
/* NumPy's matmul for 1-D and 2-D operands (a 0-d operand is TSR_EINVAL, as
 * in NumPy; operands of more than 2 dimensions are TSR_ENOTSUP for now). */
TSR_API TSR_NODISCARD tsr_status tsr_matmul(tsr_array *a, tsr_array *b, tsr_array **out);
/* NumPy's dot (sum over a's last axis and b's second-to-last; b 1-D: its
 * only axis; a 0-d operand multiplies). */
TSR_API TSR_NODISCARD tsr_status tsr_dot(tsr_array *a, tsr_array *b, tsr_array **out);
/* NumPy's tensordot over the axes pairs (axes_a[i], axes_b[i]), i < naxes
 * (negative axes count from the end; naxes == 0 is the outer product). */
TSR_API TSR_NODISCARD tsr_status tsr_tensordot(tsr_array *a, tsr_array *b, int naxes,
                                               const int *axes_a, const int *axes_b,
                                               tsr_array **out);

/* ======================================================================== */
/* More creation and materialization (create_more.c, persist.c)             */
/* ======================================================================== */
/* Uninitialised contents (np.empty): values are unspecified. */
TSR_API TSR_NODISCARD tsr_status tsr_array_empty(tsr_ctx *ctx, tsr_dtype dtype, int ndim,
                                                 const int64_t *shape, const int64_t *chunks,
                                                 tsr_array **out);
/* np.linspace(start, stop, num, endpoint) as dtype. */
TSR_API TSR_NODISCARD tsr_status tsr_array_linspace(tsr_ctx *ctx, tsr_dtype dtype, double start,
                                                    double stop, int64_t num, bool endpoint,
                                                    int64_t chunk, tsr_array **out);
/* np.eye(n, m, k): ones on diagonal k of an n x m matrix. */
TSR_API TSR_NODISCARD tsr_status tsr_array_eye(tsr_ctx *ctx, tsr_dtype dtype, int64_t n, int64_t m,
                                               int64_t k, const int64_t *chunks, tsr_array **out);
/* Computes a and returns an array over its computed chunks (held in memory
 * until the result is destroyed), like Dask's persist. */
TSR_API TSR_NODISCARD tsr_status tsr_array_persist(tsr_array *a, tsr_array **out);

/* ======================================================================== */
/* Named user kernels; factorizations (map.c, overlap.c, qr.c,              */
/* linalg_small.c)                                                          */
/* ======================================================================== */
/* Options of tsr_map_blocks_ex and tsr_map_overlap_ex (zero-initialise;
 * every field is optional):
 *   name: the kernel's name, 1..63 printable ASCII characters without quotes
 *     or backslashes: statistics (--stats), traces (--trace) and a failing
 *     task's message ("task 17 (kernel 'NAME'): ...") show it, creation
 *     errors start with "tsr_map_blocks 'NAME':"; NULL: "map-blocks" /
 *     "map-overlap".
 *   map_blocks only (Dask's chunks=, drop_axis=, new_axis=): the output has
 *     the input's axes without drop_axis[0..n_drop_axis) (input axes), with
 *     new axes at positions new_axis[0..n_new_axis) (output axes; negative
 *     counts from the end); kept axes have the input's number of chunks,
 *     new axes one.  chunks gives the output's chunks (extents may differ
 *     from the input's: a kernel may shrink or grow its block), else kept
 *     axes keep the input's chunks and new axes have extent 1.  Inputs are
 *     rechunked to one chunk along dropped axes first, so the kernel sees
 *     them whole (as Dask concatenates blocks along them).
 * The kernel gets the input block(s) and writes the output block of
 * out_info->shape; in_info[i].chunk is the input's chunk number. */
typedef struct tsr_map_options {
  const char *name;
  const tsr_chunk_grid *chunks;
  int n_drop_axis;
  const int *drop_axis;
  int n_new_axis;
  const int *new_axis;
} tsr_map_options;
/* tsr_map_blocks with options (NULL: as tsr_map_blocks with out_chunks NULL). */
TSR_API TSR_NODISCARD tsr_status tsr_map_blocks_ex(size_t n, tsr_array *const *inputs,
                                                   tsr_block_fn fn, void *user, tsr_dtype out_dtype,
                                                   const tsr_map_options *options, tsr_array **out);
/* tsr_map_overlap with options (only the name applies). */
TSR_API TSR_NODISCARD tsr_status tsr_map_overlap_ex(
    tsr_array *a, const int64_t *depth, tsr_boundary boundary, double constant, tsr_block_fn fn,
    void *user, tsr_dtype out_dtype, const tsr_map_options *options, tsr_array **out);

/* Factorizations through LAPACK (np.linalg's, lazy like every operation).
 * Inputs of any dtype are computed in float64 and results are float64
 * (NumPy keeps float32).  Every task runs LAPACK single-threaded and the
 * work is split by the chunking alone, so results are bitwise identical for
 * any number of threads.  Errors found only by computing (a singular or
 * not positive definite matrix, a rank-deficient least squares problem)
 * fail that compute with TSR_EINVAL naming a.
 *
 * Tall-and-skinny QR (TSQR, dask.array.linalg.tsqr) of a 2-d m x n matrix,
 * NumPy's reduced mode: Q (m x K, a's row chunks, one column chunk) and R
 * (K x n, one chunk), K = min(m, n), with a = Q R and Q^T Q = I.  a is
 * rechunked to one chunk along its columns (n should be small: every R is
 * K x n and the tree stacks 16 of them); row blocks are factored in
 * parallel and their R factors merged by a tree of fan-in 16.  Signs: R's
 * diagonal is non-negative (NumPy leaves LAPACK's signs).  Either of q, r
 * may be NULL (not wanted). */
TSR_API TSR_NODISCARD tsr_status tsr_qr(tsr_array *a, tsr_array **q, tsr_array **r);
/* SVD through TSQR (dask.array.linalg.svd): a = U diag(S) Vt with U (m x
 * K, a's row chunks), S (K, descending, >= 0), Vt (K x n): NumPy's
 * full_matrices=False.  The SVD of R (dgesdd) gives U = Q U_r.  Singular
 * vectors' signs are LAPACK's (a pair u_i, v_i may both be negated). */
TSR_API TSR_NODISCARD tsr_status tsr_svd(tsr_array *a, tsr_array **u, tsr_array **s,
                                         tsr_array **vt);
/* Least squares through TSQR: x minimising |a x - b| for a (m x n, m >= n,
 * full column rank; else TSR_ENOTSUP / a failing compute) and b (m, or m x
 * k): x = R^-1 Q^T b, shape n (or n x k).  Only x (np.linalg.lstsq's first
 * result).  Rank: a diagonal entry of R at most eps * max(m, n) times the
 * largest one (NumPy's default rcond) is rank deficiency. */
TSR_API TSR_NODISCARD tsr_status tsr_lstsq(tsr_array *a, tsr_array *b, tsr_array **x);
/* For a square a that fits in one chunk (a single chunk already, or at most
 * tsr_ctx_chunk_bytes() as float64; else TSR_ENOTSUP naming a; not square:
 * TSR_ESHAPE): np.linalg.solve (b: n or n x k, solved per column chunk
 * after one LU of a), np.linalg.inv, and np.linalg.cholesky (the lower L
 * with a = L L^T, reading a's lower triangle). */
TSR_API TSR_NODISCARD tsr_status tsr_solve(tsr_array *a, tsr_array *b, tsr_array **x);
TSR_API TSR_NODISCARD tsr_status tsr_inv(tsr_array *a, tsr_array **out);
TSR_API TSR_NODISCARD tsr_status tsr_cholesky(tsr_array *a, tsr_array **out);

#ifdef __cplusplus
}
#endif

#endif /* TESSERA_ARRAY_H */

/* array_impl.h — what the files of array/ share: the public handle, the
 * per-task block descriptor, chunk resolution and block copies. */
#ifndef TSR_ARRAY_IMPL_H
#define TSR_ARRAY_IMPL_H

#include <tessera/array.h>
#include <tessera/dist.h>

#include "core/grid_impl.h"
#include "graph/expr.h"

/* The user's handle: one reference to an expression node. */
struct tsr_array {
  tsr__expr *expr;
};

/* Parameters every per-chunk task carries: where its block sits in the
 * whole array.  Variable length: `dims` holds shape, then offset, then the
 * whole array's shape (ndim entries each). */
typedef struct tsr__block {
  int32_t ndim;
  int32_t itemsize;
  int64_t chunk;  /* the chunk's number in its grid */
  int64_t dims[]; /* shape[ndim], offset[ndim], array_shape[ndim] */
} tsr__block;

static inline const int64_t *tsr__block_shape(const tsr__block *b) { return b->dims; }
static inline const int64_t *tsr__block_offset(const tsr__block *b) { return b->dims + b->ndim; }
static inline const int64_t *tsr__block_array_shape(const tsr__block *b) {
  return b->dims + 2 * b->ndim;
}
static inline size_t tsr__block_bytes(int ndim) {
  return sizeof(tsr__block) + 3 * (size_t)ndim * sizeof(int64_t);
}
/* Where an op's own parameters start after the block descriptor (8-aligned). */
static inline size_t tsr__block_extra_offset(int ndim) {
  return (tsr__block_bytes(ndim) + 7) / 8 * 8;
}

/* Fills a block descriptor for chunk `chunk` of `grid` (buffer of
 * tsr__block_bytes(ndim) bytes). */
void tsr__block_describe(const tsr_chunk_grid *grid, int64_t chunk, size_t itemsize,
                         tsr__block *out);
/* Elements in the block. */
int64_t tsr__block_size(const tsr__block *b);

/* Copies a block between a C-contiguous chunk buffer and the C-contiguous
 * whole array `whole` (to_whole: chunk -> whole, else whole -> chunk). */
void tsr__block_copy(const tsr__block *b, void *whole, void *chunk, bool to_whole);

/* Makes the chunk grid for a creation call: chunks[d] >= 1 is an extent, -1
 * the whole axis, 0 automatic; chunks == NULL all automatic (see array.h). */
tsr_status tsr__resolve_chunks(tsr_ctx *ctx, const char *fn, int ndim, const int64_t *shape,
                               tsr_dtype dtype, const int64_t *chunks, tsr_chunk_grid **out);

/* A source node (no inputs) of `op` over the chunks resolved from `chunks`,
 * with a copy of `params`, wrapped in a handle: the shared preamble of the
 * creation functions (checks out, ctx and dtype, naming fn). */
tsr_status tsr__create_source(tsr_ctx *ctx, const char *fn, const tsr__op *op, tsr_dtype dtype,
                              int ndim, const int64_t *shape, const int64_t *chunks,
                              const void *params, size_t params_bytes, tsr_array **out);

/* What one compute decides before lowering (share.c): the elementwise
 * intermediates its outputs reach that are made once and loaded by their
 * consumers instead of recomputed in each (a cost rule; the lowering is
 * redirected to rebuilt consumers), and the reductions that share one pass
 * per chunk.  Create it after the lowering, lower, run, then destroy it:
 * the tasks point into it. */
typedef struct tsr__plan tsr__plan;
tsr_status tsr__plan_create(tsr_ctx *ctx, tsr__lowering *l, size_t n, tsr__expr *const *roots,
                            tsr__plan **out);
void tsr__plan_destroy(tsr_ctx *ctx, tsr__plan **plan);

/* Horizontal fusion of reductions for one compute (reduce.c): links the
 * reductions the outputs reach (through l's redirects) that reduce the same
 * values over the same chunks, so that they are lowered as one pass per
 * chunk; unlink after the run (the links live only for that compute). */
typedef struct tsr__reduce_links tsr__reduce_links;
tsr_status tsr__reduce_link(tsr_ctx *ctx, const tsr__lowering *l, size_t n, tsr__expr *const *roots,
                            tsr__reduce_links **out);
void tsr__reduce_unlink(tsr_ctx *ctx, tsr__reduce_links **links);

/* Wraps a new node into a handle (takes the node's reference). */
tsr_status tsr__array_wrap(tsr__expr *e, tsr_array **out);

/* Adds one task per chunk of e running `kernel` with a block descriptor
 * (followed by `extra` bytes of params, copied after it) and no inputs. */
tsr_status tsr__lower_blockwise_source(const tsr__expr *e, tsr_taskgraph *g, const char *kernel,
                                       tsr_kernel_fn fn, void *user, const void *extra,
                                       size_t extra_bytes, uint32_t *out);
/* The same task for chunk c alone (the ops' lower_chunk). */
tsr_status tsr__lower_blockwise_source_chunk(const tsr__expr *e, tsr_taskgraph *g,
                                             const char *kernel, tsr_kernel_fn fn, void *user,
                                             const void *extra, size_t extra_bytes, int64_t c,
                                             uint32_t *task);

/* The whole array in memory (C order) when e is a node over a user buffer,
 * else NULL: fused tasks read such arrays in place. */
const void *tsr__expr_memory(const tsr__expr *e);
/* The value (in the node's dtype) when e is a tsr_array_full node, else
 * NULL: fused tasks read it as a broadcast scalar, with no fill tasks. */
const void *tsr__expr_constant(const tsr__expr *e);

/* Normalizes axis (negative counts from the end) for an ndim-d array, or
 * fails with TSR_EINVAL naming fn, the axis and ndim. */
tsr_status tsr__normalize_axis(const char *fn, int axis, int ndim, int *out);

/* --- structure ops --- */
/* slice.c, transpose.c, reshape.c, concat.c and rechunk.c build most of
 * their nodes as "gathers" (rechunk.c): each output chunk is assembled from
 * strided pieces of the input chunks it overlaps, through per-axis affine
 * maps.  One task per output chunk; its inputs are exactly the input chunks
 * it reads, each once. */

/* How one input of a gather feeds the output.  Input axis d reads element
 * a[d] + s[d] * o[oax[d]] when oax[d] >= 0 (o: output coordinates), or the
 * fixed element a[d] when oax[d] == -1.  Each output axis is the image of at
 * most one input axis; the other output axes repeat the input (stride 0).
 * The input covers the output box [olo, ohi) (per output axis). */
typedef struct tsr__gather_map {
  int32_t ndim; /* the input's */
  int32_t oax[TSR_MAX_NDIM];
  int64_t a[TSR_MAX_NDIM], s[TSR_MAX_NDIM];
  int64_t olo[TSR_MAX_NDIM], ohi[TSR_MAX_NDIM];
} tsr__gather_map;

/* The identity map of an input of `ndim` axes and `shape` (olo 0, ohi shape). */
void tsr__gather_map_identity(int ndim, const int64_t *shape, tsr__gather_map *m);

/* Creates a gather node of `op` (whose lower is tsr__gather_lower; its name
 * labels the tasks) and `dtype` over `grid` (taken, even on failure) from n
 * inputs of one context with their maps (copied).  Values are cast to
 * `dtype` when an input's dtype differs (safe promotions only). */
tsr_status tsr__gather_create(tsr_ctx *ctx, const tsr__op *op, tsr_dtype dtype,
                              tsr_chunk_grid *grid, uint32_t n, tsr__expr *const *inputs,
                              const tsr__gather_map *maps, tsr__expr **out);
tsr_status tsr__gather_lower(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                             uint32_t *out);
/* The same for output chunk c alone (tsr__op.lower_chunk of gathers). */
tsr_status tsr__gather_lower_chunk(const tsr__expr *e, tsr_taskgraph *g, tsr__chunk_inputs *in,
                                   int64_t c, uint32_t *task);
/* The gather task's kernel.  Parameter words: ndim, npieces, dtype,
 * shape[ndim], then per piece: input slot, its dtype, base element,
 * start[ndim], count[ndim], stride[ndim] (source strides in elements; the
 * output is C-contiguous): each piece copies (and converts) a strided box
 * of one input into the output (take.c builds such tasks too). */
tsr_status tsr__gather_kernel(const tsr_kernel_call *call);
/* a with axis `axis` replaced by a[..., idx[t], ...] for the n indices
 * (each in 0 .. extent - 1; copied): tsr_take with indices known in C
 * (take.c).  fn names the caller in errors. */
tsr_status tsr__take_indices(const char *fn, tsr_array *a, int axis, int64_t n, const int64_t *idx,
                             tsr_array **out);
/* Mixes a gather node's maps into h (its op's hash_params). */
void tsr__gather_hash(const tsr__expr *e, tsr__hash *h);
/* The map of a gather node with a single input, else NULL. */
const tsr__gather_map *tsr__gather_single_map(const tsr__expr *e);

/* A node with in's values over `grid` (same shape; copied): in itself (a new
 * reference) when the grids are equal, else a rechunk planned with
 * intermediate grids so that no task reads more than TSR__RECHUNK_FAN_IN
 * input chunks. */
#define TSR__RECHUNK_FAN_IN 64
tsr_status tsr__rechunk_expr(tsr__expr *in, const tsr_chunk_grid *grid, tsr__expr **out);

/* When e reads an HDF5 dataset (hdf5.c): *out (a new node) reads only the
 * box [lo, hi) of e's elements, in e's chunks cut to the box; else (or when
 * the box is all of e, empty, or in too many chunks) *out = NULL. */
tsr_status tsr__h5_read_box(const tsr__expr *e, const int64_t *lo, const int64_t *hi,
                            tsr__expr **out);

/* Builds a grid from per-axis chunk boundaries: offsets[d] has nchunks[d] + 1
 * entries from 0 to the extent (an axis of extent 0: {0, 0}, one chunk). */
tsr_status tsr__grid_from_offsets(tsr_ctx *ctx, int ndim, const int64_t *const *offsets,
                                  const int64_t *nchunks, tsr_chunk_grid **out);
bool tsr__grid_equal(const tsr_chunk_grid *a, const tsr_chunk_grid *b);
/* A copy of `grid` allocated from ctx. */
static inline tsr_status tsr__grid_copy(tsr_ctx *ctx, const tsr_chunk_grid *grid,
                                        tsr_chunk_grid **out) {
  tsr__grid_axis axes[TSR_MAX_NDIM];
  for (int d = 0; d < grid->ndim; d++)
    axes[d] = (tsr__grid_axis){grid, d, NULL, 0};
  return tsr__grid_from_axes(ctx, grid->ndim, axes, out);
}

/* tsr__format_shape and TSR__SHAPE_STR_BYTES: core_impl.h. */

/* Segments of output positions o in [b0, b1) reading input element
 * a + s * o along axis d of grid g: for each input chunk touched, in order
 * of o, the chunk j, the first and last o, and the element's position
 * inside the chunk for the first o.  Returns their number (at most
 * min(nchunks[d], b1 - b0)), written to seg unless it is NULL. */
typedef struct tsr__segment {
  int64_t j, o_first, o_last, local;
} tsr__segment;
int64_t tsr__axis_segments(const tsr_chunk_grid *g, int d, int64_t a, int64_t s, int64_t b0,
                           int64_t b1, tsr__segment *seg);

/* --- user kernels, cumulative, persist --- */

/* The kernel name of a map_blocks / map_overlap call (map.c): options->name
 * checked (1..63 printable ASCII, no quotes or backslashes, else TSR_EINVAL)
 * or dflt, into name[64]; fn[fn_size] receives "api 'name'" for messages. */
tsr_status tsr__map_name(const char *api, const tsr_map_options *options, const char *dflt,
                         char *name, char *fn, size_t fn_size);

/* Whether a double converts to dtype without undefined behaviour (as
 * np.full and tsr_array_full accept it). */
static inline bool tsr__value_fits(tsr_dtype dtype, double v) {
  switch (dtype) {
  case TSR_BOOL:
  case TSR_FLOAT32:
  case TSR_FLOAT64:
    return true;
  case TSR_INT8:
    return v >= -128.0 && v < 128.0;
  case TSR_INT16:
    return v >= -32768.0 && v < 32768.0;
  case TSR_INT32:
    return v >= -2147483648.0 && v < 2147483648.0;
  case TSR_INT64:
    return v >= -9223372036854775808.0 && v < 9223372036854775808.0;
  case TSR_UINT8:
    return v > -1.0 && v < 256.0;
  case TSR_UINT16:
    return v > -1.0 && v < 65536.0;
  case TSR_UINT32:
    return v > -1.0 && v < 4294967296.0;
  case TSR_UINT64:
    return v > -1.0 && v < 18446744073709551616.0;
  default:
    return false;
  }
}

/* Stores v converted to dtype (C casts; bool is v != 0) at dst; the caller
 * has checked tsr__value_fits. */
static inline void tsr__value_store(tsr_dtype dtype, double v, void *dst) {
  union {
    uint8_t u8;
    int8_t i8;
    int16_t i16;
    int32_t i32;
    int64_t i64;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    float f32;
    double f64;
  } x;
  switch (dtype) {
  case TSR_BOOL:
    x.u8 = v != 0;
    break;
  case TSR_INT8:
    x.i8 = (int8_t)v;
    break;
  case TSR_INT16:
    x.i16 = (int16_t)v;
    break;
  case TSR_INT32:
    x.i32 = (int32_t)v;
    break;
  case TSR_INT64:
    x.i64 = (int64_t)v;
    break;
  case TSR_UINT8:
    x.u8 = (uint8_t)v;
    break;
  case TSR_UINT16:
    x.u16 = (uint16_t)v;
    break;
  case TSR_UINT32:
    x.u32 = (uint32_t)v;
    break;
  case TSR_UINT64:
    x.u64 = (uint64_t)v;
    break;
  case TSR_FLOAT32:
    x.f32 = (float)v;
    break;
  default:
    x.f64 = v;
    break;
  }
  __builtin_memcpy(dst, &x, tsr_dtype_size(dtype));
}

#endif /* TSR_ARRAY_IMPL_H */

/* rechunk.c — the gather engine behind every structure op, and rechunking.
 *
 * A gather node computes each output chunk from strided pieces of the input
 * chunks it overlaps.  Each input is described by a per-axis affine map
 * (tsr__gather_map): input axis d reads a[d] + s[d] * o[oax[d]] or a fixed
 * element, which covers slicing (steps, negative steps, integer indices),
 * transposition (permuted axes), squeeze / expand_dims / stack (fixed and
 * repeated axes), concatenation (several inputs over disjoint boxes) and
 * rechunking (the identity map onto another grid).  Because each input axis
 * depends on one output axis, the input chunks an output chunk needs are the
 * product of per-axis runs (tsr__axis_segments): lowering is one task per
 * output chunk whose inputs are exactly those chunks, each listed once.
 *
 * The kernel merges axes that are contiguous in both buffers, so most pieces
 * become one memcpy per row (or per piece); when the innermost source stride
 * is not 1 (a transpose), the two innermost axes are copied in 32 x 32 tiles
 * so that both the reads and the writes stay within a few cache lines.
 * Values of another dtype are converted through int64 / uint64 / double in
 * blocks of 256 elements (the safe promotions of concatenate).
 *
 * Rechunk planning: one task per output chunk reading every input chunk it
 * overlaps is the plan when that fan-in stays within TSR__RECHUNK_FAN_IN.
 * Otherwise an intermediate grid is inserted, planned per axis.  On axes
 * that merge chunks it keeps every output boundary and, inside each output
 * chunk, every k-th input boundary: k as large as the bound allows for pure
 * merges (fewest tasks), about sqrt(fan-in) when other axes split chunks
 * (an all-to-all, transpose-like rechunk, where that balances the edges of
 * both steps).  On axes that split chunks it keeps the input boundaries and
 * every g-th output boundary, g as large as keeps an intermediate chunk
 * within the largest input or output chunk.  Each step's fan-in shrinks, so
 * the planning repeats until the direct plan fits; the task count stays
 * near #input + #output chunks and no task has an enormous fan-in. */
#include <stdio.h>
#include <string.h>

#include "array_impl.h"

/* ---- shared helpers -------------------------------------------------------- */

tsr_status tsr__grid_from_offsets(tsr_ctx *ctx, int ndim, const int64_t *const *offsets,
                                  const int64_t *nchunks, tsr_chunk_grid **out) {
  tsr__grid_axis axes[TSR_MAX_NDIM];
  for (int d = 0; d < ndim; d++)
    axes[d] = (tsr__grid_axis){NULL, 0, offsets[d], nchunks[d]};
  return tsr__grid_from_axes(ctx, ndim, axes, out);
}

bool tsr__grid_equal(const tsr_chunk_grid *a, const tsr_chunk_grid *b) {
  if (a->ndim != b->ndim)
    return false;
  for (int d = 0; d < a->ndim; d++)
    if (!tsr__grid_axis_equal(a, d, b, d))
      return false;
  return true;
}

static int64_t floor_div(int64_t x, int64_t y) {
  int64_t q = x / y;
  if (x % y != 0 && ((x < 0) != (y < 0)))
    q--;
  return q;
}

int64_t tsr__axis_segments(const tsr_chunk_grid *g, int d, int64_t a, int64_t s, int64_t b0,
                           int64_t b1, tsr__segment *seg) {
  int64_t n = 0;
  for (int64_t o = b0; o < b1;) {
    int64_t idx = a + s * o;
    int64_t j = tsr__grid_locate_axis(g, d, idx);
    int64_t lo = tsr__grid_offset(g, d, j), hi = tsr__grid_offset(g, d, j + 1);
    int64_t last = s > 0 ? floor_div(hi - 1 - a, s) : floor_div(a - lo, -s);
    if (last > b1 - 1)
      last = b1 - 1;
    if (seg != NULL)
      seg[n] = (tsr__segment){j, o, last, idx - lo};
    n++;
    o = last + 1;
  }
  return n;
}

void tsr__gather_map_identity(int ndim, const int64_t *shape, tsr__gather_map *m) {
  memset(m, 0, sizeof *m);
  m->ndim = ndim;
  for (int d = 0; d < ndim; d++) {
    m->oax[d] = d;
    m->a[d] = 0;
    m->s[d] = 1;
    m->olo[d] = 0;
    m->ohi[d] = shape[d];
  }
}

/* ---- the kernel ---------------------------------------------------------------- */

/* Conversion through a wide intermediate: signed integers as int64,
 * unsigned and bool as uint64, floats as double. */
typedef enum wide_kind { WIDE_I, WIDE_U, WIDE_F } wide_kind;
typedef union wide {
  int64_t i;
  uint64_t u;
  double f;
} wide;

static wide_kind kind_of(tsr_dtype t) {
  if (tsr_dtype_is_float(t))
    return WIDE_F;
  return tsr_dtype_is_signed(t) ? WIDE_I : WIDE_U;
}

static void read_wide(const char *src, int64_t ss, tsr_dtype t, int64_t n, wide *w) {
#define READ(T, F)                     \
  for (int64_t i = 0; i < n; i++)      \
    w[i].F = ((const T *)src)[i * ss]; \
  break
  switch (t) {
  case TSR_BOOL:
  case TSR_UINT8:
    READ(uint8_t, u);
  case TSR_INT8:
    READ(int8_t, i);
  case TSR_INT16:
    READ(int16_t, i);
  case TSR_INT32:
    READ(int32_t, i);
  case TSR_INT64:
    READ(int64_t, i);
  case TSR_UINT16:
    READ(uint16_t, u);
  case TSR_UINT32:
    READ(uint32_t, u);
  case TSR_UINT64:
    READ(uint64_t, u);
  case TSR_FLOAT32:
    READ(float, f);
  default:
    READ(double, f);
  }
#undef READ
}

static void write_wide(char *dst, int64_t ds, tsr_dtype t, wide_kind k, int64_t n, const wide *w) {
#define WRITE(T)                      \
  do {                                \
    T *p = (T *)dst;                  \
    if (k == WIDE_I)                  \
      for (int64_t i = 0; i < n; i++) \
        p[i * ds] = (T)w[i].i;        \
    else if (k == WIDE_U)             \
      for (int64_t i = 0; i < n; i++) \
        p[i * ds] = (T)w[i].u;        \
    else                              \
      for (int64_t i = 0; i < n; i++) \
        p[i * ds] = (T)w[i].f;        \
  } while (0);                        \
  break
  switch (t) {
  case TSR_BOOL: {
    uint8_t *p = (uint8_t *)dst;
    for (int64_t i = 0; i < n; i++)
      p[i * ds] = k == WIDE_I ? w[i].i != 0 : k == WIDE_U ? w[i].u != 0 : w[i].f != 0;
    break;
  }
  case TSR_INT8:
    WRITE(int8_t);
  case TSR_INT16:
    WRITE(int16_t);
  case TSR_INT32:
    WRITE(int32_t);
  case TSR_INT64:
    WRITE(int64_t);
  case TSR_UINT8:
    WRITE(uint8_t);
  case TSR_UINT16:
    WRITE(uint16_t);
  case TSR_UINT32:
    WRITE(uint32_t);
  case TSR_UINT64:
    WRITE(uint64_t);
  case TSR_FLOAT32:
    WRITE(float);
  default:
    WRITE(double);
  }
#undef WRITE
}

/* n elements from src (stride ss) to dst (stride ds), strides in elements. */
static void cast_run(char *dst, int64_t ds, tsr_dtype dt, const char *src, int64_t ss, tsr_dtype st,
                     int64_t n) {
  wide w[256];
  size_t di = tsr_dtype_size(dt), si = tsr_dtype_size(st);
  wide_kind k = kind_of(st);
  for (int64_t i = 0; i < n; i += 256) {
    int64_t m = n - i < 256 ? n - i : 256;
    read_wide(src + (size_t)(i * ss) * si, ss, st, m, w);
    write_wide(dst + (size_t)(i * ds) * di, ds, dt, k, m, w);
  }
}

/* Same-dtype copy of one run of n elements with strides (elements). */
static void copy_run(char *dst, int64_t ds, const char *src, int64_t ss, size_t item, int64_t n) {
  if (ds == 1 && ss == 1) {
    memcpy(dst, src, (size_t)n * item);
    return;
  }
#define RUN(T)                                     \
  for (int64_t i = 0; i < n; i++)                  \
    ((T *)dst)[i * ds] = ((const T *)src)[i * ss]; \
  break
  switch (item) {
  case 1:
    RUN(uint8_t);
  case 2:
    RUN(uint16_t);
  case 4:
    RUN(uint32_t);
  default:
    RUN(uint64_t);
  }
#undef RUN
}

/* A 2-D block of na x nb elements in 32 x 32 tiles (transposed copies). */
static void copy_tiled(char *dst, int64_t dsa, int64_t dsb, const char *src, int64_t ssa,
                       int64_t ssb, size_t item, int64_t na, int64_t nb) {
  enum { TILE = 32 };
#define TILED(T)                                         \
  do {                                                   \
    T *d = (T *)dst;                                     \
    const T *s = (const T *)src;                         \
    for (int64_t i0 = 0; i0 < na; i0 += TILE)            \
      for (int64_t j0 = 0; j0 < nb; j0 += TILE) {        \
        int64_t i1 = i0 + TILE < na ? i0 + TILE : na;    \
        int64_t j1 = j0 + TILE < nb ? j0 + TILE : nb;    \
        for (int64_t i = i0; i < i1; i++)                \
          for (int64_t j = j0; j < j1; j++)              \
            d[i * dsa + j * dsb] = s[i * ssa + j * ssb]; \
      }                                                  \
  } while (0);                                           \
  break
  switch (item) {
  case 1:
    TILED(uint8_t);
  case 2:
    TILED(uint16_t);
  case 4:
    TILED(uint32_t);
  default:
    TILED(uint64_t);
  }
#undef TILED
}

/* Copies a box of count[] elements from src (strides ss[], elements of st)
 * to dst (strides ds[], elements of dt). */
static void copy_box(char *dst, tsr_dtype dt, const char *src, tsr_dtype st, int ndim,
                     const int64_t *count, const int64_t *ss, const int64_t *ds) {
  /* Drop extent-1 axes and merge axes contiguous in both buffers. */
  int64_t n[TSR_MAX_NDIM], sst[TSR_MAX_NDIM], dst_[TSR_MAX_NDIM];
  int nd = 0;
  for (int k = 0; k < ndim; k++) {
    if (count[k] == 0)
      return;
    if (count[k] == 1)
      continue;
    if (nd > 0 && sst[nd - 1] == ss[k] * count[k] && dst_[nd - 1] == ds[k] * count[k]) {
      n[nd - 1] *= count[k];
      sst[nd - 1] = ss[k];
      dst_[nd - 1] = ds[k];
      continue;
    }
    n[nd] = count[k];
    sst[nd] = ss[k];
    dst_[nd] = ds[k];
    nd++;
  }
  size_t di = tsr_dtype_size(dt), si = tsr_dtype_size(st);
  bool same = dt == st;
  if (nd == 0) {
    if (same)
      memcpy(dst, src, di);
    else
      cast_run(dst, 1, dt, src, 1, st, 1);
    return;
  }
  /* Tiles over the two innermost axes when reading across rows. */
  bool tiled = same && nd >= 2 && sst[nd - 1] != 1 && dst_[nd - 1] == 1;
  int outer = tiled ? nd - 2 : nd - 1;
  int64_t idx[TSR_MAX_NDIM] = {0};
  for (;;) {
    int64_t so = 0, dof = 0;
    for (int k = 0; k < outer; k++) {
      so += idx[k] * sst[k];
      dof += idx[k] * dst_[k];
    }
    const char *s = src + so * (ptrdiff_t)si; /* so < 0 for reversed slices */
    char *d = dst + (size_t)dof * di;
    if (tiled)
      copy_tiled(d, dst_[nd - 2], dst_[nd - 1], s, sst[nd - 2], sst[nd - 1], di, n[nd - 2],
                 n[nd - 1]);
    else if (same)
      copy_run(d, dst_[nd - 1], s, sst[nd - 1], di, n[nd - 1]);
    else
      cast_run(d, dst_[nd - 1], dt, s, sst[nd - 1], st, n[nd - 1]);
    int k = outer - 1;
    while (k >= 0 && ++idx[k] == n[k])
      idx[k--] = 0;
    if (k < 0)
      break;
  }
}

/* Parameter words: ndim, npieces, dtype, shape[ndim], then per piece: slot,
 * dtype, base, start[ndim], count[ndim], stride[ndim] (source strides in
 * elements; the output's are C-contiguous). */
tsr_status tsr__gather_kernel(const tsr_kernel_call *call) {
  const int64_t *w = call->params;
  int ndim = (int)w[0];
  int64_t npieces = w[1];
  tsr_dtype dt = (tsr_dtype)w[2];
  const int64_t *shape = w + 3;
  size_t di = tsr_dtype_size(dt);
  int64_t ostride[TSR_MAX_NDIM];
  if (ndim > 0) {
    ostride[ndim - 1] = 1;
    for (int d = ndim - 2; d >= 0; d--)
      ostride[d] = ostride[d + 1] * shape[d + 1];
  }
  const int64_t *pc = shape + ndim;
  for (int64_t p = 0; p < npieces; p++, pc += 3 + 3 * ndim) {
    tsr_dtype st = (tsr_dtype)pc[1];
    const char *src = (const char *)call->inputs[pc[0]] + (size_t)pc[2] * tsr_dtype_size(st);
    const int64_t *start = pc + 3, *count = start + ndim, *stride = count + ndim;
    int64_t at = 0;
    for (int d = 0; d < ndim; d++)
      at += start[d] * ostride[d];
    copy_box((char *)call->output + (size_t)at * di, dt, src, st, ndim, count, stride, ostride);
  }
  return TSR_OK;
}

/* ---- the node and its lowering ---------------------------------------------------- */

typedef struct gather_params {
  uint32_t n;
  uint32_t pad;
  tsr__gather_map maps[];
} gather_params;

void tsr__gather_hash(const tsr__expr *e, tsr__hash *h) {
  const gather_params *p = e->params;
  int ond = e->grid->ndim;
  tsr__hash_u64(h, p->n);
  for (uint32_t i = 0; i < p->n; i++) { /* field by field: no padding bytes */
    const tsr__gather_map *m = &p->maps[i];
    tsr__hash_u64(h, (uint64_t)m->ndim);
    for (int d = 0; d < m->ndim; d++)
      tsr__hash_u64(h, (uint64_t)(int64_t)m->oax[d]);
    tsr__hash_i64s(h, m->a, m->ndim);
    tsr__hash_i64s(h, m->s, m->ndim);
    tsr__hash_i64s(h, m->olo, ond);
    tsr__hash_i64s(h, m->ohi, ond);
  }
}

const tsr__gather_map *tsr__gather_single_map(const tsr__expr *e) {
  if (e->op->lower != tsr__gather_lower || e->n_inputs != 1)
    return NULL;
  return ((const gather_params *)e->params)->maps;
}

static const tsr__op op_rechunk;

/* Composes outer (reading mid) after inner (mid read from src, covering all
 * of mid) into one map reading src: src axis j follows mid axis k, which
 * follows output axis outer.oax[k] or is fixed. */
static void compose_maps(const tsr__gather_map *outer, const tsr__gather_map *inner,
                         tsr__gather_map *out) {
  memset(out, 0, sizeof *out);
  out->ndim = inner->ndim;
  memcpy(out->olo, outer->olo, sizeof out->olo);
  memcpy(out->ohi, outer->ohi, sizeof out->ohi);
  for (int j = 0; j < inner->ndim; j++) {
    int k = inner->oax[j];
    if (k < 0) {
      out->oax[j] = -1;
      out->a[j] = inner->a[j];
      out->s[j] = 1;
      continue;
    }
    out->a[j] = inner->a[j] + inner->s[j] * outer->a[k];
    out->oax[j] = outer->oax[k];
    out->s[j] = outer->oax[k] >= 0 ? inner->s[j] * outer->s[k] : 1;
  }
}

/* Whether a gather of `op` over in may read in's input instead: in is a
 * single-input gather (a view: slice, transpose, squeeze, ...) that covers
 * all of its output and does not cast.  Rechunks are kept on both sides:
 * their grids are planned to bound the chunks a task reads, whereas views
 * have each output chunk inside one input chunk, which composing keeps. */
static const tsr__gather_map *composable(const tsr__op *op, const tsr__expr *in) {
  const tsr__gather_map *m = tsr__gather_single_map(in);
  if (op == &op_rechunk || m == NULL || in->op == &op_rechunk || in->inputs[0]->dtype != in->dtype)
    return NULL;
  for (int k = 0; k < in->grid->ndim; k++)
    if (m->olo[k] != 0 || m->ohi[k] != in->grid->shape[k])
      return NULL;
  return m;
}

tsr_status tsr__gather_create(tsr_ctx *ctx, const tsr__op *op, tsr_dtype dtype,
                              tsr_chunk_grid *grid, uint32_t n, tsr__expr *const *inputs,
                              const tsr__gather_map *maps, tsr__expr **out) {
  *out = NULL;
  /* A view of a view is one view of the first one's input (NumPy composes
   * strides the same way): a chain of 10^6 transposes or slices is one
   * node, whatever the user keeps of the intermediate ones. */
  tsr__gather_map composed;
  const tsr__gather_map *inner = n == 1 ? composable(op, inputs[0]) : NULL;
  if (inner != NULL) {
    compose_maps(&maps[0], inner, &composed);
    maps = &composed;
    inputs = inputs[0]->inputs;
  }
  gather_params *p;
  tsr_status status = tsr_alloc(ctx, sizeof *p + (size_t)n * sizeof(tsr__gather_map), (void **)&p);
  if (status != TSR_OK) {
    tsr_chunk_grid_destroy(&grid);
    return status;
  }
  p->n = n;
  p->pad = 0;
  if (n > 0)
    memcpy(p->maps, maps, (size_t)n * sizeof *maps);
  return tsr__expr_create(ctx, op, dtype, grid, n, inputs, p, out);
}

/* Makes room for `need` more elements in a growing array. */
static tsr_status reserve(tsr_ctx *ctx, void **arr, size_t *cap, size_t used, size_t need,
                          size_t size) {
  if (used + need <= *cap)
    return TSR_OK;
  size_t grown = *cap * 2 > used + need ? *cap * 2 : used + need;
  TSR_TRY(tsr__grow_array(ctx, arr, *cap, grown, size, "gather task parameters"));
  *cap = grown;
  return TSR_OK;
}

/* Scratch of the gather lowering, reused from chunk to chunk. */
typedef struct gather_scratch {
  tsr__segment *pool;
  int64_t *words;
  uint32_t *ids;
  size_t pool_cap, words_cap, ids_cap;
  uint32_t kernel;
} gather_scratch;

static void scratch_free(tsr_ctx *ctx, gather_scratch *w) {
  tsr_free(ctx, w->pool);
  tsr_free(ctx, w->words);
  tsr_free(ctx, w->ids);
}

/* Adds the task of output chunk c into *task, its input chunks' tasks read
 * from `dense` (in[i][chunk]) or, when NULL, through `lazy` (whose
 * missing chunks make it return with no task added). */
static tsr_status gather_chunk(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *dense,
                               tsr__chunk_inputs *lazy, gather_scratch *w, int64_t c,
                               uint32_t *task) {
  const gather_params *p = e->params;
  const tsr_chunk_grid *og = e->grid;
  int ndim = og->ndim;
  tsr_ctx *ctx = e->ctx;
  size_t item = tsr_dtype_size(e->dtype);
  const size_t piece_words = 3 + 3 * (size_t)ndim;
  int64_t coords[TSR_MAX_NDIM] = {0};
  TSR_TRY(tsr_chunk_grid_coords(og, c, coords));
  int64_t c0[TSR_MAX_NDIM], c1[TSR_MAX_NDIM], csize = 1;
  for (int d = 0; d < ndim; d++) {
    c0[d] = tsr__grid_offset(og, d, coords[d]);
    c1[d] = tsr__grid_offset(og, d, coords[d] + 1);
    csize *= c1[d] - c0[d];
  }
  TSR_TRY(reserve(ctx, (void **)&w->words, &w->words_cap, 0, 3 + (size_t)ndim, sizeof *w->words));
  size_t nw = 3 + (size_t)ndim;
  uint32_t nids = 0;
  for (uint32_t i = 0; i < p->n && csize > 0; i++) {
    const tsr__gather_map *m = &p->maps[i];
    const tsr_chunk_grid *ig = e->inputs[i]->grid;
    tsr_dtype st = e->inputs[i]->dtype;
    int ni = m->ndim;
    int64_t b0[TSR_MAX_NDIM], b1[TSR_MAX_NDIM];
    bool empty = false;
    for (int k = 0; k < ndim; k++) {
      b0[k] = c0[k] > m->olo[k] ? c0[k] : m->olo[k];
      b1[k] = c1[k] < m->ohi[k] ? c1[k] : m->ohi[k];
      empty |= b0[k] >= b1[k];
    }
    if (empty)
      continue;
    /* Segments per input axis: as many as input chunks the box touches
     * there (bounded by the output chunk's extent, not the input grid). */
    int64_t nseg[TSR_MAX_NDIM], pick[TSR_MAX_NDIM] = {0}, total = 0;
    int inax[TSR_MAX_NDIM];
    for (int k = 0; k < ndim; k++)
      inax[k] = -1;
    for (int d = 0; d < ni; d++) {
      int k = m->oax[d];
      nseg[d] = k >= 0 ? tsr__axis_segments(ig, d, m->a[d], m->s[d], b0[k], b1[k], NULL) : 1;
      total += nseg[d];
    }
    TSR_TRY(reserve(ctx, (void **)&w->pool, &w->pool_cap, 0, (size_t)total, sizeof *w->pool));
    tsr__segment *segs[TSR_MAX_NDIM];
    tsr__segment *at = w->pool;
    for (int d = 0; d < ni; d++) {
      segs[d] = at;
      if (m->oax[d] >= 0) {
        int k = m->oax[d];
        inax[k] = d;
        tsr__axis_segments(ig, d, m->a[d], m->s[d], b0[k], b1[k], at);
      } else {
        int64_t j = tsr__grid_locate_axis(ig, d, m->a[d]);
        at[0] = (tsr__segment){j, 0, 0, m->a[d] - tsr__grid_offset(ig, d, j)};
      }
      at += nseg[d];
    }
    for (;;) {
      TSR_TRY(reserve(ctx, (void **)&w->words, &w->words_cap, nw, piece_words, sizeof *w->words));
      TSR_TRY(reserve(ctx, (void **)&w->ids, &w->ids_cap, nids, 1, sizeof *w->ids));
      int64_t chunk = 0, ext[TSR_MAX_NDIM], istr[TSR_MAX_NDIM], base = 0;
      for (int d = 0; d < ni; d++) {
        int64_t j = segs[d][pick[d]].j;
        chunk += j * ig->stride[d];
        ext[d] = tsr__grid_extent(ig, d, j);
      }
      for (int d = ni - 1; d >= 0; d--)
        istr[d] = d == ni - 1 ? 1 : istr[d + 1] * ext[d + 1];
      for (int d = 0; d < ni; d++)
        base += segs[d][pick[d]].local * istr[d];
      int64_t *pw = w->words + nw;
      pw[0] = nids;
      pw[1] = st;
      pw[2] = base;
      for (int k = 0; k < ndim; k++) {
        int d = inax[k];
        int64_t start, count, stride = 0;
        if (d >= 0) {
          const tsr__segment *sg = &segs[d][pick[d]];
          start = sg->o_first - c0[k];
          count = sg->o_last - sg->o_first + 1;
          if (count > 1)
            stride = m->s[d] * istr[d];
        } else {
          start = b0[k] - c0[k];
          count = b1[k] - b0[k];
        }
        pw[3 + k] = start;
        pw[3 + ndim + k] = count;
        pw[3 + 2 * ndim + k] = stride;
      }
      if (dense != NULL)
        w->ids[nids] = dense[i][chunk];
      else
        tsr__chunk_input(lazy, i, chunk, &w->ids[nids]);
      nids++;
      nw += piece_words;
      int d = ni - 1;
      while (d >= 0 && ++pick[d] == nseg[d])
        pick[d--] = 0;
      if (d < 0)
        break;
    }
  }
  if (lazy != NULL && tsr__chunk_inputs_missing(lazy))
    return TSR_OK; /* called again once they are lowered */
  int64_t *words = w->words;
  words[0] = ndim;
  words[1] = (int64_t)((nw - 3 - (size_t)ndim) / piece_words);
  words[2] = e->dtype;
  for (int d = 0; d < ndim; d++)
    words[3 + d] = c1[d] - c0[d];
  return tsr_taskgraph_add_task(g, w->kernel, w->ids, nids, words, nw * sizeof *words,
                                (size_t)csize * item, task);
}

tsr_status tsr__gather_lower(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                             uint32_t *out) {
  gather_scratch w = {0};
  tsr_status status = tsr_taskgraph_add_kernel(g, e->op->name, tsr__gather_kernel, NULL, &w.kernel);
  for (int64_t c = 0; c < e->grid->total_chunks && status == TSR_OK; c++)
    status = gather_chunk(e, g, in, NULL, &w, c, &out[c]);
  scratch_free(e->ctx, &w);
  return status;
}

tsr_status tsr__gather_lower_chunk(const tsr__expr *e, tsr_taskgraph *g, tsr__chunk_inputs *in,
                                   int64_t c, uint32_t *task) {
  gather_scratch w = {0};
  tsr_status status = tsr_taskgraph_add_kernel(g, e->op->name, tsr__gather_kernel, NULL, &w.kernel);
  if (status == TSR_OK)
    status = gather_chunk(e, g, NULL, in, &w, c, task);
  scratch_free(e->ctx, &w);
  return status;
}

/* ---- rechunk planning ---------------------------------------------------------------- */

static const tsr__op op_rechunk = {"rechunk", tsr__gather_lower,       NULL,
                                   false,     tsr__gather_lower_chunk, tsr__gather_hash};

/* Most input chunks (along one axis) that one output chunk overlaps. */
static int64_t axis_fan_in(const int64_t *ioff, int64_t ni, const int64_t *ooff, int64_t no) {
  int64_t best = 1, j = 0;
  for (int64_t c = 0; c < no; c++) {
    int64_t o0 = ooff[c], o1 = ooff[c + 1];
    if (o0 == o1)
      continue;
    while (j < ni - 1 && ioff[j + 1] <= o0)
      j++;
    int64_t last = j;
    while (last < ni - 1 && ioff[last + 1] < o1)
      last++;
    if (last - j + 1 > best)
      best = last - j + 1;
  }
  return best;
}

/* Intermediate boundaries of one axis: every output boundary, and inside
 * each output chunk every k-th input boundary.  `mid` holds ni + no + 1. */
static int64_t axis_intermediate(const int64_t *ioff, int64_t ni, const int64_t *ooff, int64_t no,
                                 int64_t k, int64_t *mid) {
  int64_t n = 0, j = 0;
  for (int64_t c = 0; c < no; c++) {
    int64_t o0 = ooff[c], o1 = ooff[c + 1];
    mid[n++] = o0;
    if (o0 == o1)
      continue;
    while (j < ni - 1 && ioff[j + 1] <= o0)
      j++;
    for (int64_t t = j + k; t < ni && ioff[t] < o1; t += k)
      mid[n++] = ioff[t];
  }
  mid[n] = ooff[no];
  return n; /* chunks */
}

/* A split axis (every output chunk inside one input chunk): every g-th
 * output boundary, and every input boundary. */
static int64_t axis_coarsen(const int64_t *ioff, int64_t ni, const int64_t *ooff, int64_t no,
                            int64_t g, int64_t *mid) {
  int64_t n = 0, since = 0, j = 1;
  mid[0] = 0;
  for (int64_t c = 1; c < no; c++) {
    int64_t b = ooff[c];
    since++;
    while (j < ni && ioff[j] < b)
      j++;
    if ((j < ni && ioff[j] == b) || since >= g) {
      mid[++n] = b;
      since = 0;
    }
  }
  mid[++n] = ooff[no];
  return n;
}

/* One step, given both grids' boundaries as arrays (io, to). */
static tsr_status rechunk_step_on(tsr__expr *cur, const tsr_chunk_grid *target,
                                  const int64_t *const *io, const int64_t *const *to, int64_t bound,
                                  tsr__expr **out) {
  tsr_ctx *ctx = cur->ctx;
  const tsr_chunk_grid *ig = cur->grid;
  int ndim = ig->ndim;
  int64_t f[TSR_MAX_NDIM], k[TSR_MAX_NDIM], prod = 1;
  for (int d = 0; d < ndim; d++) {
    f[d] = axis_fan_in(io[d], ig->nchunks[d], to[d], target->nchunks[d]);
    k[d] = 1;
    prod = prod > INT64_MAX / f[d] ? INT64_MAX : prod * f[d];
  }
  tsr__gather_map map;
  tsr__gather_map_identity(ndim, ig->shape, &map);
  tsr_chunk_grid *grid = NULL;
  if (prod <= bound) {
    TSR_TRY(tsr__grid_copy(ctx, target, &grid));
    return tsr__gather_create(ctx, &op_rechunk, cur->dtype, grid, 1, &cur, &map, out);
  }
  /* Split axes: each output chunk inside one input chunk, and more output
   * chunks than input chunks.  There the intermediate may coarsen the output
   * chunks (fan-in 1 in both steps), which keeps the intermediate chunk
   * count, and so the first step's edges, small. */
  bool split[TSR_MAX_NDIM], any_split = false;
  for (int d = 0; d < ndim; d++) {
    split[d] = f[d] == 1 && target->nchunks[d] > ig->nchunks[d];
    any_split |= split[d];
  }
  if (any_split) {
    /* All-to-all (a transpose-like rechunk): groups of about sqrt(fan-in)
     * balance the edges of both steps. */
    int64_t kprod = 1;
    for (int d = 0; d < ndim; d++) {
      while (k[d] * k[d] < f[d])
        k[d]++;
      kprod *= k[d];
    }
    while (kprod > bound) {
      int big = 0;
      for (int d = 1; d < ndim; d++)
        big = k[d] > k[big] ? d : big;
      kprod = kprod / k[big] * ((k[big] + 1) / 2);
      k[big] = (k[big] + 1) / 2;
    }
  } else {
    /* Pure merges: the largest groups the bound allows (fewest tasks).
     * Double the grouping of the axis with the most remaining fan-in while
     * the first step's fan-in (the product of k) stays within bounds. */
    int64_t kprod = 1;
    for (;;) {
      int best = -1;
      int64_t best_rest = 1;
      for (int d = 0; d < ndim; d++) {
        int64_t rest = (f[d] + k[d] - 1) / k[d];
        if (rest > best_rest) {
          best_rest = rest;
          best = d;
        }
      }
      if (best < 0)
        break;
      int64_t nk = 2 * k[best] < f[best] ? 2 * k[best] : f[best];
      if (kprod / k[best] * nk > bound)
        break;
      kprod = kprod / k[best] * nk;
      k[best] = nk;
    }
  }
  /* Balance: the same number of second-step pieces with groups as even as possible. */
  for (int d = 0; d < ndim; d++)
    k[d] = (f[d] + (f[d] + k[d] - 1) / k[d] - 1) / ((f[d] + k[d] - 1) / k[d]);
  /* Coarsening of split axes: double g while an intermediate chunk stays
   * within the largest input or output chunk. */
  int64_t g[TSR_MAX_NDIM];
  double limit_in = 1, limit_out = 1, vol = 1;
  for (int d = 0; d < ndim; d++) {
    int64_t mi = 0, mo = 0;
    for (int64_t c = 0; c < ig->nchunks[d]; c++)
      mi = io[d][c + 1] - io[d][c] > mi ? io[d][c + 1] - io[d][c] : mi;
    for (int64_t c = 0; c < target->nchunks[d]; c++)
      mo = to[d][c + 1] - to[d][c] > mo ? to[d][c + 1] - to[d][c] : mo;
    limit_in *= (double)mi;
    limit_out *= (double)mo;
    g[d] = 1;
    double ext = f[d] > 1 ? (double)k[d] * (double)mi : (double)mo;
    vol *= ext < (double)mo ? ext : (double)mo;
  }
  double limit = limit_in > limit_out ? limit_in : limit_out;
  for (bool grew = true; grew;) {
    grew = false;
    for (int d = 0; d < ndim; d++) {
      if (!split[d] || 2 * g[d] > target->nchunks[d] || vol * 2 > limit)
        continue;
      g[d] *= 2;
      vol *= 2;
      grew = true;
    }
  }
  int64_t *mid[TSR_MAX_NDIM] = {0}, nmid[TSR_MAX_NDIM] = {0};
  tsr_status status = TSR_OK;
  for (int d = 0; d < ndim; d++) {
    TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)(ig->nchunks[d] + target->nchunks[d] + 1),
                                           sizeof(int64_t), "rechunk plan", (void **)&mid[d]));
    if (split[d])
      nmid[d] = axis_coarsen(io[d], ig->nchunks[d], to[d], target->nchunks[d], g[d], mid[d]);
    else
      nmid[d] = axis_intermediate(io[d], ig->nchunks[d], to[d], target->nchunks[d], k[d], mid[d]);
  }
  TSR__TRY_GOTO(status,
                tsr__grid_from_offsets(ctx, ndim, (const int64_t *const *)mid, nmid, &grid));
  status = tsr__gather_create(ctx, &op_rechunk, cur->dtype, grid, 1, &cur, &map, out);
fail:
  for (int d = 0; d < ndim; d++)
    tsr_free(ctx, mid[d]);
  return status;
}

/* The boundary arrays the planning works on cost memory per chunk of each
 * axis: a rechunk visits every chunk anyway. */
static tsr_status rechunk_step(tsr__expr *cur, const tsr_chunk_grid *target, int64_t bound,
                               tsr__expr **out) {
  tsr_ctx *ctx = cur->ctx;
  int ndim = cur->grid->ndim;
  int64_t *tmp[2][TSR_MAX_NDIM] = {{0}};
  const int64_t *io[TSR_MAX_NDIM] = {0}, *to[TSR_MAX_NDIM] = {0};
  tsr_status status = TSR_OK;
  for (int d = 0; d < ndim; d++) {
    TSR__TRY_GOTO(status, tsr__grid_axis_offsets(ctx, cur->grid, d, &tmp[0][d], &io[d]));
    TSR__TRY_GOTO(status, tsr__grid_axis_offsets(ctx, target, d, &tmp[1][d], &to[d]));
  }
  status = rechunk_step_on(cur, target, io, to, bound, out);
fail:
  for (int d = 0; d < ndim; d++) {
    tsr_free(ctx, tmp[0][d]);
    tsr_free(ctx, tmp[1][d]);
  }
  return status;
}

/* The most input chunks one rechunk task may read: TSR__RECHUNK_FAN_IN,
 * and under a memory limit no more than fit in a quarter of it (a task
 * holds all its inputs at once, and two run per thread pair), at least 2:
 * the planner then goes through more, smaller intermediate steps (as
 * Dask's block_size_limit makes it). */
static int64_t fan_in_bound(const tsr__expr *e) {
  uint64_t limit = tsr_ctx_memory_limit(e->ctx);
  if (limit == 0)
    return TSR__RECHUNK_FAN_IN;
  const tsr_chunk_grid *g = e->grid;
  uint64_t biggest = tsr_dtype_size(e->dtype);
  for (int d = 0; d < g->ndim; d++) {
    int64_t m = tsr__grid_max_extent(g, d);
    if (!tsr__mul_u64(biggest, (uint64_t)(m > 0 ? m : 1), &biggest))
      biggest = UINT64_MAX;
  }
  uint64_t fit = limit / 4 / biggest;
  return fit < 2 ? 2 : fit > TSR__RECHUNK_FAN_IN ? TSR__RECHUNK_FAN_IN : (int64_t)fit;
}

tsr_status tsr__rechunk_expr(tsr__expr *in, const tsr_chunk_grid *grid, tsr__expr **out) {
  *out = NULL;
  /* A rechunk of a rechunk is planned from the first one's input: the
   * values are the same, the plan bounds what each task reads on its own,
   * and a chain of 10^6 rechunks stays a few nodes deep. */
  while (!tsr__grid_equal(in->grid, grid) && in->op == &op_rechunk)
    in = in->inputs[0];
  tsr__expr *cur = in;
  tsr__expr_retain(cur);
  while (!tsr__grid_equal(cur->grid, grid)) {
    tsr__expr *next;
    tsr_status status = rechunk_step(cur, grid, fan_in_bound(cur), &next);
    tsr__expr_release(&cur);
    if (status != TSR_OK)
      return status;
    cur = next;
  }
  *out = cur;
  return TSR_OK;
}

/* ---- the public calls ------------------------------------------------------------------- */

tsr_status tsr_rechunk_grid(tsr_array *a, const tsr_chunk_grid *grid, tsr_array **out) {
  static const char fn[] = "tsr_rechunk_grid";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(a != NULL, TSR_EINVAL, "%s: a is NULL", fn);
  TSR_CHECK(grid != NULL, TSR_EINVAL, "%s: grid is NULL", fn);
  const tsr_chunk_grid *ag = a->expr->grid;
  bool same = ag->ndim == grid->ndim;
  for (int d = 0; same && d < ag->ndim; d++)
    same = ag->shape[d] == grid->shape[d];
  char s1[TSR__SHAPE_STR_BYTES], s2[TSR__SHAPE_STR_BYTES];
  TSR_CHECK(same, TSR_ESHAPE, "%s: the grid's shape %s differs from the array's %s", fn,
            tsr__format_shape(s1, sizeof s1, grid->ndim, grid->shape),
            tsr__format_shape(s2, sizeof s2, ag->ndim, ag->shape));
  tsr__expr *e;
  TSR_TRY(tsr__rechunk_expr(a->expr, grid, &e));
  return tsr__array_wrap(e, out);
}

tsr_status tsr_rechunk(tsr_array *a, const int64_t *chunks, tsr_array **out) {
  static const char fn[] = "tsr_rechunk";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(a != NULL, TSR_EINVAL, "%s: a is NULL", fn);
  const tsr_chunk_grid *ag = a->expr->grid;
  tsr_chunk_grid *grid;
  TSR_TRY(
      tsr__resolve_chunks(a->expr->ctx, fn, ag->ndim, ag->shape, a->expr->dtype, chunks, &grid));
  tsr_status status = tsr_rechunk_grid(a, grid, out);
  tsr_chunk_grid_destroy(&grid);
  return status;
}

/* grid.c — shape arithmetic (element counts, byte sizes) and chunk grids:
 * uniform, explicit and automatic (Dask's chunks="auto") construction,
 * chunk numbering in C order, and locating the chunk of an element.
 *
 * Invariants: see grid_impl.h.  Every extent, count and offset is int64 and
 * every product or sum is checked, so a grid that was created can be walked
 * without overflow: offsets never exceed shape[d], chunk numbers never exceed
 * total_chunks.  A product of extents is checked NumPy's way: zero extents
 * are skipped, so (0, 2^62, 4) is refused just as (2^62, 4) is, whatever the
 * order of the axes.  Creation allocates the struct and then one offsets
 * array per axis; any failure frees what was allocated so far.
 *
 * Tuned for: grids built once per array and then read from every task.  A
 * regular axis (equal chunks, the last possibly shorter) is three numbers,
 * so a grid's memory does not grow with its chunk count (a dataset of
 * (10^14, 30) in 10 x 10 chunks has 3 x 10^13 of them); only irregular axes
 * keep prefix sums.  chunk()/offset are O(1) either way, locate() O(1) on a
 * regular axis and O(log nchunks) on an irregular one. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "grid_impl.h"

/* ---- shapes ------------------------------------------------------------ */

static tsr_status check_ndim(const char *fn, int ndim) {
  TSR_CHECK(ndim >= 0 && ndim <= TSR_MAX_NDIM, TSR_EINVAL, "%s: ndim = %d must be from 0 to %d", fn,
            ndim, TSR_MAX_NDIM);
  return TSR_OK;
}

const char *tsr__format_shape(char *buf, size_t size, int ndim, const int64_t *shape) {
  size_t at = 0;
  at += (size_t)snprintf(buf + at, size - at, "(");
  for (int d = 0; d < ndim && at < size; d++)
    at += (size_t)snprintf(buf + at, size - at, d == 0 ? "%lld" : ", %lld", (long long)shape[d]);
  if (at < size)
    snprintf(buf + at, size - at, ndim == 1 ? ",)" : ")");
  return buf;
}

tsr_status tsr__shape_elements(const char *fn, int ndim, const int64_t *shape, int64_t *out) {
  *out = 0;
  TSR_TRY(check_ndim(fn, ndim));
  TSR_CHECK(ndim == 0 || shape != NULL, TSR_EINVAL, "%s: shape is NULL", fn);
  int64_t nonzero = 1;
  bool empty = false;
  char text[TSR__SHAPE_STR_BYTES];
  for (int d = 0; d < ndim; d++) {
    TSR_CHECK(shape[d] >= 0, TSR_EINVAL, "%s: shape[%d] = %lld is negative", fn, d,
              (long long)shape[d]);
    if (shape[d] == 0)
      empty = true;
    else if (!tsr__size_mul(nonzero, shape[d], &nonzero))
      return tsr_error_set(TSR_EINVAL,
                           "%s: shape %s has too many elements: the product of the extents "
                           "overflows int64 at shape[%d] = %lld",
                           fn, tsr__format_shape(text, sizeof text, ndim, shape), d,
                           (long long)shape[d]);
  }
  *out = empty ? 0 : nonzero;
  return TSR_OK;
}

/* Validates ndim and shape and returns the element count in *size. */
static tsr_status check_shape(const char *fn, int ndim, const int64_t *shape, int64_t *size) {
  return tsr__shape_elements(fn, ndim, shape, size);
}

tsr_status tsr__shape_bytes(const char *fn, int ndim, const int64_t *shape, size_t itemsize,
                            int64_t *out) {
  *out = 0;
  int64_t size, bytes;
  TSR_TRY(tsr__shape_elements(fn, ndim, shape, &size));
  char text[TSR__SHAPE_STR_BYTES];
  if (itemsize > (size_t)TSR__MAX_BYTES || !tsr__size_mul(size, (int64_t)itemsize, &bytes))
    return tsr_error_set(TSR_EINVAL,
                         "%s: an array of shape %s and %zu-byte elements is too big: its %lld "
                         "elements need more than 2^63 - 1 bytes",
                         fn, tsr__format_shape(text, sizeof text, ndim, shape), itemsize,
                         (long long)size);
  *out = bytes;
  return TSR_OK;
}

tsr_status tsr_shape_size(int ndim, const int64_t *shape, int64_t *out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "tsr_shape_size: out is NULL");
  *out = 0;
  int64_t size;
  TSR_TRY(check_shape("tsr_shape_size", ndim, shape, &size));
  *out = size;
  return TSR_OK;
}

tsr_status tsr_shape_nbytes(int ndim, const int64_t *shape, size_t itemsize, uint64_t *out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "tsr_shape_nbytes: out is NULL");
  *out = 0;
  int64_t size;
  TSR_TRY(check_shape("tsr_shape_nbytes", ndim, shape, &size));
  uint64_t bytes;
  TSR_CHECK(tsr__mul_u64((uint64_t)size, (uint64_t)itemsize, &bytes), TSR_EINVAL,
            "tsr_shape_nbytes: %lld elements of %zu bytes overflow uint64", (long long)size,
            itemsize); /* the public call's range is uint64, not TSR__MAX_BYTES */
  *out = bytes;
  return TSR_OK;
}

/* ---- construction ------------------------------------------------------ */

void tsr_chunk_grid_destroy(tsr_chunk_grid **grid) {
  if (grid == NULL || *grid == NULL)
    return;
  tsr_chunk_grid *g = *grid;
  for (int d = 0; d < TSR_MAX_NDIM; d++)
    tsr_free(g->ctx, g->offsets[d]);
  tsr_free(g->ctx, g);
  *grid = NULL;
}

/* Allocates a grid of the given (already validated) shape and per-axis chunk
 * counts.  Axis d is regular with chunk extent chunk[d] when chunk != NULL
 * and chunk[d] >= 1 (or the axis has extent 0); otherwise its offsets
 * array is allocated for the caller to fill. */
static tsr_status grid_new(const char *fn, tsr_ctx *ctx, int ndim, const int64_t *shape,
                           const int64_t *nchunks, const int64_t *chunk, tsr_chunk_grid **out) {
  tsr_status status = TSR_OK;
  tsr_chunk_grid *g = NULL;
  int64_t total = 1;
  for (int d = 0; d < ndim; d++)
    TSR__CHECK_GOTO(status, tsr__mul_i64(total, nchunks[d], &total), TSR_EINVAL,
                    "%s: the number of chunks overflows int64 at axis %d (%lld chunks)", fn, d,
                    (long long)nchunks[d]);
  TSR__TRY_GOTO(status, tsr_alloc(ctx, sizeof *g, (void **)&g));
  memset(g, 0, sizeof *g);
  g->ctx = ctx;
  g->ndim = ndim;
  g->total_chunks = total;
  int64_t stride = 1;
  for (int d = ndim - 1; d >= 0; d--) {
    g->shape[d] = shape[d];
    g->nchunks[d] = nchunks[d];
    g->stride[d] = stride;
    stride *= nchunks[d]; /* cannot overflow: bounded by total */
  }
  for (int d = 0; d < ndim; d++) {
    if (shape[d] == 0) {
      g->chunk[d] = 0;
    } else if (chunk != NULL && chunk[d] >= 1) {
      g->chunk[d] = chunk[d];
    } else {
      TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)nchunks[d] + 1, sizeof(int64_t),
                                             "chunk grid offsets", (void **)&g->offsets[d]));
    }
  }
  *out = g;
  return TSR_OK;
fail:
  tsr_chunk_grid_destroy(&g);
  return status;
}

/* The regular chunk extent of boundaries off[0..n] (0 = off[0], off[n] =
 * extent > 0, strictly increasing), or 0 when they are not regular. */
static int64_t regular_extent(const int64_t *off, int64_t n) {
  int64_t c = off[1] - off[0];
  for (int64_t i = 1; i < n - 1; i++)
    if (off[i + 1] - off[i] != c)
      return 0;
  return n == 1 || off[n] - off[n - 1] <= c ? c : 0;
}

static tsr_status check_create_args(const char *fn, tsr_ctx *ctx, int ndim, tsr_chunk_grid **out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(ctx != NULL, TSR_EINVAL, "%s: ctx is NULL", fn);
  return check_ndim(fn, ndim);
}

/* The uniform grid, for tsr_chunk_grid_create_uniform and _auto; `fn` names
 * the public function in messages. */
static tsr_status create_uniform(const char *fn, tsr_ctx *ctx, int ndim, const int64_t *shape,
                                 const int64_t *chunk, tsr_chunk_grid **out) {
  int64_t size;
  TSR_TRY(check_shape(fn, ndim, shape, &size));
  TSR_CHECK(ndim == 0 || chunk != NULL, TSR_EINVAL, "%s: chunk is NULL", fn);
  int64_t nchunks[TSR_MAX_NDIM] = {0}; /* zero-init quiets -Wmaybe-uninitialized at ndim 0 */
  for (int d = 0; d < ndim; d++) {
    if (shape[d] == 0) {
      TSR_CHECK(chunk[d] >= 0, TSR_EINVAL, "%s: chunk[%d] = %lld is negative", fn, d,
                (long long)chunk[d]);
      nchunks[d] = 1;
    } else {
      TSR_CHECK(chunk[d] >= 1, TSR_EINVAL, "%s: chunk[%d] = %lld must be at least 1", fn, d,
                (long long)chunk[d]);
      nchunks[d] = (shape[d] - 1) / chunk[d] + 1; /* ceil without overflow */
    }
  }
  tsr_chunk_grid *g;
  TSR_TRY(grid_new(fn, ctx, ndim, shape, nchunks, chunk, &g));
  *out = g;
  return TSR_OK;
}

tsr_status tsr_chunk_grid_create_uniform(tsr_ctx *ctx, int ndim, const int64_t *shape,
                                         const int64_t *chunk, tsr_chunk_grid **out) {
  static const char fn[] = "tsr_chunk_grid_create_uniform";
  TSR_TRY(check_create_args(fn, ctx, ndim, out));
  return create_uniform(fn, ctx, ndim, shape, chunk, out);
}

tsr_status tsr_chunk_grid_create_explicit(tsr_ctx *ctx, int ndim, const int64_t *const *chunks,
                                          const int64_t *nchunks, tsr_chunk_grid **out) {
  static const char fn[] = "tsr_chunk_grid_create_explicit";
  TSR_TRY(check_create_args(fn, ctx, ndim, out));
  TSR_CHECK(ndim == 0 || chunks != NULL, TSR_EINVAL, "%s: chunks is NULL", fn);
  TSR_CHECK(ndim == 0 || nchunks != NULL, TSR_EINVAL, "%s: nchunks is NULL", fn);
  int64_t shape[TSR_MAX_NDIM] = {0}, counts[TSR_MAX_NDIM] = {0};
  for (int d = 0; d < ndim; d++) {
    int64_t n = nchunks[d];
    TSR_CHECK(n >= 0, TSR_EINVAL, "%s: nchunks[%d] = %lld is negative", fn, d, (long long)n);
    TSR_CHECK(n == 0 || chunks[d] != NULL, TSR_EINVAL, "%s: chunks[%d] is NULL", fn, d);
    bool zero_axis = n == 0 || (n == 1 && chunks[d][0] == 0);
    int64_t sum = 0;
    for (int64_t i = 0; i < n && !zero_axis; i++) {
      int64_t c = chunks[d][i];
      TSR_CHECK(c >= 1, TSR_EINVAL,
                "%s: chunks[%d][%lld] = %lld must be at least 1 (only an axis of extent 0 may "
                "be given as a single 0 or an empty list)",
                fn, d, (long long)i, (long long)c);
      TSR_CHECK(tsr__add_i64(sum, c, &sum), TSR_EINVAL,
                "%s: the extents of axis %d overflow int64 at chunks[%d][%lld] = %lld", fn, d, d,
                (long long)i, (long long)c);
    }
    shape[d] = sum;
    counts[d] = zero_axis ? 1 : n;
  }
  int64_t size;
  TSR_TRY(check_shape(fn, ndim, shape, &size));
  /* Axes whose chunks are equal but the last (not longer) are stored
   * regular, with no memory per chunk. */
  int64_t regular[TSR_MAX_NDIM] = {0};
  for (int d = 0; d < ndim; d++) {
    if (shape[d] == 0)
      continue;
    int64_t n = counts[d], c = chunks[d][0];
    bool same = true;
    for (int64_t i = 1; i < n - 1 && same; i++)
      same = chunks[d][i] == c;
    regular[d] = same && (n == 1 || chunks[d][n - 1] <= c) ? c : 0;
  }
  tsr_chunk_grid *g;
  TSR_TRY(grid_new(fn, ctx, ndim, shape, counts, regular, &g));
  for (int d = 0; d < ndim; d++) {
    int64_t *off = g->offsets[d];
    if (off == NULL)
      continue;
    off[0] = 0;
    for (int64_t i = 0; i < counts[d]; i++)
      off[i + 1] = off[i] + chunks[d][i]; /* checked above */
  }
  *out = g;
  return TSR_OK;
}

tsr_status tsr__grid_from_axes(tsr_ctx *ctx, int ndim, const tsr__grid_axis *axes,
                               tsr_chunk_grid **out) {
  static const char fn[] = "chunk grid";
  *out = NULL;
  int64_t shape[TSR_MAX_NDIM] = {0}, counts[TSR_MAX_NDIM] = {0}, regular[TSR_MAX_NDIM] = {0};
  const int64_t *lists[TSR_MAX_NDIM] = {0};
  for (int d = 0; d < ndim; d++) {
    const tsr__grid_axis *x = &axes[d];
    if (x->from != NULL) {
      shape[d] = x->from->shape[x->axis];
      counts[d] = x->from->nchunks[x->axis];
      regular[d] = x->from->chunk[x->axis];
      lists[d] = x->from->offsets[x->axis];
    } else {
      counts[d] = x->nchunks;
      shape[d] = x->offsets[x->nchunks];
      lists[d] = x->offsets;
      regular[d] = shape[d] > 0 ? regular_extent(x->offsets, x->nchunks) : 0;
    }
    if (regular[d] > 0 || shape[d] == 0)
      lists[d] = NULL;
  }
  int64_t size;
  TSR_TRY(check_shape(fn, ndim, shape, &size));
  tsr_chunk_grid *g;
  TSR_TRY(grid_new(fn, ctx, ndim, shape, counts, regular, &g));
  for (int d = 0; d < ndim; d++)
    if (g->offsets[d] != NULL)
      memcpy(g->offsets[d], lists[d], ((size_t)counts[d] + 1) * sizeof(int64_t));
  *out = g;
  return TSR_OK;
}

int64_t tsr__grid_locate_axis(const tsr_chunk_grid *g, int d, int64_t e) {
  int64_t n = g->nchunks[d];
  if (g->offsets[d] == NULL) {
    if (g->chunk[d] == 0 || e < 0)
      return 0;
    int64_t i = e / g->chunk[d];
    return i < n ? i : n - 1;
  }
  const int64_t *off = g->offsets[d];
  int64_t lo = 0, hi = n; /* the last i in [0, n) with off[i] <= e */
  while (hi - lo > 1) {
    int64_t mid = lo + (hi - lo) / 2;
    if (off[mid] <= e)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

int64_t tsr__grid_max_extent(const tsr_chunk_grid *g, int d) {
  if (g->offsets[d] == NULL)
    return g->nchunks[d] == 1 ? g->shape[d] : g->chunk[d];
  int64_t m = 0;
  for (int64_t i = 0; i < g->nchunks[d]; i++)
    m = tsr__grid_extent(g, d, i) > m ? tsr__grid_extent(g, d, i) : m;
  return m;
}

bool tsr__grid_axis_equal(const tsr_chunk_grid *a, int da, const tsr_chunk_grid *b, int db) {
  if (a->shape[da] != b->shape[db] || a->nchunks[da] != b->nchunks[db])
    return false;
  /* Both normalised: a regular axis is never stored irregular. */
  if ((a->offsets[da] == NULL) != (b->offsets[db] == NULL))
    return false;
  if (a->offsets[da] == NULL)
    return a->nchunks[da] == 1 || a->chunk[da] == b->chunk[db];
  return memcmp(a->offsets[da], b->offsets[db], ((size_t)a->nchunks[da] + 1) * sizeof(int64_t)) ==
         0;
}

tsr_status tsr__grid_axis_offsets(tsr_ctx *ctx, const tsr_chunk_grid *g, int d, int64_t **tmp,
                                  const int64_t **out) {
  *tmp = NULL;
  *out = NULL;
  if (g->offsets[d] != NULL) {
    *out = g->offsets[d];
    return TSR_OK;
  }
  int64_t n = g->nchunks[d];
  TSR_TRY(tsr__alloc_array(ctx, (size_t)n + 1, sizeof(int64_t), "chunk boundaries", (void **)tmp));
  for (int64_t i = 0; i <= n; i++)
    (*tmp)[i] = tsr__grid_offset(g, d, i);
  *out = *tmp;
  return TSR_OK;
}

/* base^n <= limit, without overflow. */
static bool pow_at_most(uint64_t base, int n, uint64_t limit) {
  uint64_t p = 1;
  for (int i = 0; i < n; i++)
    if (!tsr__mul_u64(p, base, &p) || p > limit)
      return false;
  return true;
}

/* floor(budget^(1/n)) exactly, for n >= 1: pow() gives a guess that may be
 * off by one either way; integer powers settle it. */
static uint64_t int_root(uint64_t budget, int n) {
  if (n == 1)
    return budget;
  double guess = floor(pow((double)budget, 1.0 / n));
  uint64_t c = guess < 4294967296.0 ? (uint64_t)guess : 4294967296u; /* n >= 2: root <= 2^32 */
  while (c > 0 && !pow_at_most(c, n, budget))
    c--;
  while (pow_at_most(c + 1, n, budget))
    c++;
  return c;
}

tsr_status tsr_chunk_grid_create_auto(tsr_ctx *ctx, int ndim, const int64_t *shape, size_t itemsize,
                                      uint64_t target_bytes, const int64_t *fixed,
                                      tsr_chunk_grid **out) {
  static const char fn[] = "tsr_chunk_grid_create_auto";
  TSR_TRY(check_create_args(fn, ctx, ndim, out));
  int64_t size;
  TSR_TRY(check_shape(fn, ndim, shape, &size));
  TSR_CHECK(itemsize >= 1, TSR_EINVAL, "%s: itemsize = %zu must be at least 1", fn, itemsize);
  uint64_t target = target_bytes != 0 ? target_bytes : tsr__chunk_target(ctx);

  /* Axes of extent 0 hold one empty chunk whatever is asked and do not take
   * part in the budget; fixed axes keep their extent, clamped to the shape. */
  int64_t chunk[TSR_MAX_NDIM] = {0};
  bool is_auto[TSR_MAX_NDIM] = {false};
  int n_auto = 0;
  uint64_t fixed_elems = 1; /* <= the element count, so no overflow */
  for (int d = 0; d < ndim; d++) {
    is_auto[d] = false;
    TSR_CHECK(fixed == NULL || fixed[d] >= -1, TSR_EINVAL,
              "%s: fixed[%d] = %lld: use a chunk extent >= 1, 0 for automatic or -1 for the "
              "whole axis",
              fn, d, (long long)fixed[d]);
    if (shape[d] == 0) {
      chunk[d] = 0;
    } else if (fixed != NULL && fixed[d] != 0) {
      chunk[d] = fixed[d] == -1 || fixed[d] > shape[d] ? shape[d] : fixed[d];
      fixed_elems *= (uint64_t)chunk[d];
    } else {
      is_auto[d] = true;
      n_auto++;
    }
  }
  uint64_t budget = target / itemsize / fixed_elems; /* elements left for the auto axes */

  /* Axes shorter than the ideal edge budget^(1/n) take the whole axis and
   * leave the rest of the budget to the others; repeat until none is.  All
   * comparisons are in integers: extent < edge  <=>  extent^n < budget (we
   * also move extent^n == budget, where both choices give the same chunk). */
  while (n_auto > 0) {
    int removed = 0;
    uint64_t left = budget;
    for (int d = 0; d < ndim; d++) {
      if (is_auto[d] && pow_at_most((uint64_t)shape[d], n_auto, budget)) {
        is_auto[d] = false;
        chunk[d] = shape[d];
        left /= (uint64_t)shape[d];
        removed++;
      }
    }
    if (removed == 0)
      break;
    budget = left;
    n_auto -= removed;
  }
  if (n_auto > 0) {
    uint64_t edge = int_root(budget, n_auto);
    for (int d = 0; d < ndim; d++) {
      if (!is_auto[d])
        continue;
      /* edge < shape[d] here, since the axis was not moved above. */
      int64_t c = edge < 1 ? 1 : (int64_t)edge;
      int64_t n = (shape[d] - 1) / c + 1;
      chunk[d] = (shape[d] - 1) / n + 1; /* balanced: never larger than c */
    }
  }
  return create_uniform(fn, ctx, ndim, shape, chunk, out);
}

/* ---- queries ------------------------------------------------------------ */

int tsr_chunk_grid_ndim(const tsr_chunk_grid *grid) { return grid ? grid->ndim : 0; }

const int64_t *tsr_chunk_grid_shape(const tsr_chunk_grid *grid) {
  return grid != NULL && grid->ndim > 0 ? grid->shape : NULL;
}

int64_t tsr_chunk_grid_nchunks_axis(const tsr_chunk_grid *grid, int axis) {
  if (grid == NULL || axis < 0 || axis >= grid->ndim)
    return 0;
  return grid->nchunks[axis];
}

int64_t tsr_chunk_grid_nchunks(const tsr_chunk_grid *grid) { return grid ? grid->total_chunks : 0; }

int64_t tsr_chunk_grid_chunk_extent(const tsr_chunk_grid *grid, int axis, int64_t index) {
  if (grid == NULL || axis < 0 || axis >= grid->ndim || index < 0 || index >= grid->nchunks[axis])
    return -1;
  return tsr__grid_extent(grid, axis, index);
}

int64_t tsr_chunk_grid_chunk_offset(const tsr_chunk_grid *grid, int axis, int64_t index) {
  if (grid == NULL || axis < 0 || axis >= grid->ndim || index < 0 || index >= grid->nchunks[axis])
    return -1;
  return tsr__grid_offset(grid, axis, index);
}

tsr_status tsr_chunk_grid_coords(const tsr_chunk_grid *grid, int64_t chunk, int64_t *coords) {
  static const char fn[] = "tsr_chunk_grid_coords";
  TSR_CHECK(grid != NULL, TSR_EINVAL, "%s: grid is NULL", fn);
  TSR_CHECK(grid->ndim == 0 || coords != NULL, TSR_EINVAL, "%s: coords is NULL", fn);
  if (chunk < 0 || chunk >= grid->total_chunks) {
    if (coords != NULL)
      memset(coords, 0, (size_t)grid->ndim * sizeof *coords);
    return tsr_error_set(TSR_EINVAL, "%s: chunk = %lld is outside 0..%lld", fn, (long long)chunk,
                         (long long)grid->total_chunks - 1);
  }
  for (int d = 0; d < grid->ndim; d++) {
    coords[d] = chunk / grid->stride[d];
    chunk %= grid->stride[d];
  }
  return TSR_OK;
}

tsr_status tsr_chunk_grid_index(const tsr_chunk_grid *grid, const int64_t *coords, int64_t *chunk) {
  static const char fn[] = "tsr_chunk_grid_index";
  TSR_CHECK(chunk != NULL, TSR_EINVAL, "%s: chunk is NULL", fn);
  *chunk = 0;
  TSR_CHECK(grid != NULL, TSR_EINVAL, "%s: grid is NULL", fn);
  TSR_CHECK(grid->ndim == 0 || coords != NULL, TSR_EINVAL, "%s: coords is NULL", fn);
  int64_t index = 0;
  for (int d = 0; d < grid->ndim; d++) {
    TSR_CHECK(coords[d] >= 0 && coords[d] < grid->nchunks[d], TSR_EINVAL,
              "%s: coords[%d] = %lld is outside 0..%lld", fn, d, (long long)coords[d],
              (long long)grid->nchunks[d] - 1);
    index += coords[d] * grid->stride[d]; /* bounded by total_chunks */
  }
  *chunk = index;
  return TSR_OK;
}

tsr_status tsr_chunk_grid_chunk(const tsr_chunk_grid *grid, int64_t chunk, int64_t *shape,
                                int64_t *offset) {
  static const char fn[] = "tsr_chunk_grid_chunk";
  TSR_CHECK(grid != NULL, TSR_EINVAL, "%s: grid is NULL", fn);
  size_t bytes = (size_t)grid->ndim * sizeof(int64_t);
  if (chunk < 0 || chunk >= grid->total_chunks) {
    if (shape != NULL)
      memset(shape, 0, bytes);
    if (offset != NULL)
      memset(offset, 0, bytes);
    return tsr_error_set(TSR_EINVAL, "%s: chunk = %lld is outside 0..%lld", fn, (long long)chunk,
                         (long long)grid->total_chunks - 1);
  }
  for (int d = 0; d < grid->ndim; d++) {
    int64_t i = chunk / grid->stride[d];
    chunk %= grid->stride[d];
    if (shape != NULL)
      shape[d] = tsr__grid_extent(grid, d, i);
    if (offset != NULL)
      offset[d] = tsr__grid_offset(grid, d, i);
  }
  return TSR_OK;
}

tsr_status tsr_chunk_grid_locate(const tsr_chunk_grid *grid, const int64_t *element,
                                 int64_t *chunk) {
  static const char fn[] = "tsr_chunk_grid_locate";
  TSR_CHECK(chunk != NULL, TSR_EINVAL, "%s: chunk is NULL", fn);
  *chunk = 0;
  TSR_CHECK(grid != NULL, TSR_EINVAL, "%s: grid is NULL", fn);
  TSR_CHECK(grid->ndim == 0 || element != NULL, TSR_EINVAL, "%s: element is NULL", fn);
  int64_t index = 0;
  for (int d = 0; d < grid->ndim; d++) {
    int64_t e = element[d];
    TSR_CHECK(grid->shape[d] > 0, TSR_EINVAL,
              "%s: element[%d] = %lld is out of range: axis %d has extent 0", fn, d, (long long)e,
              d);
    TSR_CHECK(e >= 0 && e < grid->shape[d], TSR_EINVAL, "%s: element[%d] = %lld is outside 0..%lld",
              fn, d, (long long)e, (long long)grid->shape[d] - 1);
    int64_t lo = tsr__grid_locate_axis(grid, d, e);
    index += lo * grid->stride[d];
  }
  *chunk = index;
  return TSR_OK;
}

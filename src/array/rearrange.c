/* rearrange.c — pad, tile, repeat and permutation: arrays whose elements are
 * another array's elements at computed positions, with NumPy's semantics.
 *
 * Each is built from lazy operations, so it chunks, fuses and runs like the
 * rest: a list of source indices per axis goes to take (take.c), whose tasks
 * copy runs of consecutive indices as single pieces (a tiled axis is one
 * run per copy, a repeated element one piece of stride 0) and read only the
 * chunks the indices fall in.  A constant pad is a concatenation with full
 * arrays instead.  The index lists cost 8 bytes per result position along
 * the axis (never per element). */
#include <stdio.h>
#include <string.h>

#include "array_impl.h"

/* The source index of result position k of an axis of extent n. */
typedef int64_t (*index_fn)(int64_t k, int64_t n, int64_t before, int64_t arg);

/* take of a's axis by the count indices f(k, ...), or a's node itself when
 * they are 0 .. n - 1 of an axis of extent n. */
static tsr_status take_by(const char *fn, tsr_array *a, int axis, int64_t count, index_fn f,
                          int64_t before, int64_t arg, tsr_array **out) {
  tsr_ctx *ctx = a->expr->ctx;
  int64_t n = a->expr->grid->shape[axis];
  int64_t *idx;
  TSR_TRY(tsr__alloc_array(ctx, (size_t)(count > 0 ? count : 1), sizeof *idx, "index list",
                           (void **)&idx));
  bool same = count == n;
  for (int64_t k = 0; k < count; k++) {
    idx[k] = f(k, n, before, arg);
    same = same && idx[k] == k;
  }
  tsr_status status = TSR_OK;
  if (same) {
    tsr__expr_retain(a->expr);
    status = tsr__array_wrap(a->expr, out);
  } else {
    status = tsr__take_indices(fn, a, axis, count, idx, out);
  }
  tsr_free(ctx, idx);
  return status;
}

/* ---- pad --------------------------------------------------------------------------- */

static int64_t floor_mod(int64_t i, int64_t m) { return ((i % m) + m) % m; }

/* The source of result position k of an axis of extent n padded by
 * `before` in front, per mode (arg). */
static int64_t pad_index(int64_t k, int64_t n, int64_t before, int64_t mode) {
  int64_t i = k - before;
  if (i >= 0 && i < n)
    return i;
  switch ((tsr_pad_mode)mode) {
  case TSR_PAD_EDGE:
    return i < 0 ? 0 : n - 1;
  case TSR_PAD_WRAP:
    return floor_mod(i, n);
  case TSR_PAD_SYMMETRIC: {
    int64_t m = floor_mod(i, 2 * n);
    return m < n ? m : 2 * n - 1 - m;
  }
  default: { /* TSR_PAD_REFLECT */
    if (n == 1)
      return 0;
    int64_t m = floor_mod(i, 2 * n - 2);
    return m < n ? m : 2 * n - 2 - m;
  }
  }
}

tsr_status tsr_pad(tsr_array *a, const int64_t *before, const int64_t *after, tsr_pad_mode mode,
                   double value, tsr_array **out) {
  static const char fn[] = "tsr_pad";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(a != NULL, TSR_EINVAL, "%s: a is NULL", fn);
  int nd = a->expr->grid->ndim;
  TSR_CHECK(nd == 0 || (before != NULL && after != NULL), TSR_EINVAL,
            "%s: before and after need one width per axis", fn);
  TSR_CHECK(mode >= TSR_PAD_CONSTANT && mode <= TSR_PAD_WRAP, TSR_EINVAL,
            "%s: mode = %d is not a tsr_pad_mode", fn, (int)mode);
  const int64_t *shape = a->expr->grid->shape;
  for (int d = 0; d < nd; d++) {
    TSR_CHECK(before[d] >= 0 && after[d] >= 0, TSR_EINVAL,
              "%s: pad widths must not be negative (axis %d: %lld, %lld)", fn, d,
              (long long)before[d], (long long)after[d]);
    TSR_CHECK(before[d] <= INT64_MAX - after[d] - shape[d], TSR_EINVAL,
              "%s: axis %d padded by %lld and %lld overflows int64", fn, d, (long long)before[d],
              (long long)after[d]);
    TSR_CHECK(mode == TSR_PAD_CONSTANT || shape[d] > 0 || before[d] + after[d] == 0, TSR_EINVAL,
              "%s: can't extend empty axis %d using modes other than constant", fn, d);
  }
  tsr_ctx *ctx = a->expr->ctx;
  tsr__expr_retain(a->expr);
  tsr_array *cur = NULL;
  TSR_TRY(tsr__array_wrap(a->expr, &cur));
  tsr_status status = TSR_OK;
  for (int d = 0; d < nd && status == TSR_OK; d++) {
    if (before[d] == 0 && after[d] == 0)
      continue;
    tsr_array *next = NULL;
    if (mode == TSR_PAD_CONSTANT) {
      tsr_array *parts[3] = {NULL, cur, NULL};
      int64_t sh[TSR_MAX_NDIM];
      memcpy(sh, tsr_array_shape(cur), (size_t)nd * sizeof *sh);
      sh[d] = before[d];
      status = tsr_array_full(ctx, a->expr->dtype, nd, sh, NULL, value, &parts[0]);
      sh[d] = after[d];
      if (status == TSR_OK)
        status = tsr_array_full(ctx, a->expr->dtype, nd, sh, NULL, value, &parts[2]);
      if (status == TSR_OK)
        status = tsr_concatenate(3, parts, d, &next);
      tsr_array_destroy(&parts[0]);
      tsr_array_destroy(&parts[2]);
    } else {
      status = take_by(fn, cur, d, shape[d] + before[d] + after[d], pad_index, before[d],
                       (int64_t)mode, &next);
    }
    tsr_array_destroy(&cur);
    cur = next;
  }
  if (status != TSR_OK) {
    tsr_array_destroy(&cur);
    return status;
  }
  *out = cur;
  return TSR_OK;
}

/* ---- tile and repeat ----------------------------------------------------------------- */

static int64_t tile_index(int64_t k, int64_t n, int64_t before, int64_t arg) {
  (void)before;
  (void)arg;
  return k % n;
}

static int64_t repeat_index(int64_t k, int64_t n, int64_t before, int64_t repeats) {
  (void)n;
  (void)before;
  return k / repeats;
}

/* count = n * r, checked. */
static tsr_status times(const char *fn, int64_t n, int64_t r, int axis, int64_t *count) {
  TSR_CHECK(r == 0 || n <= INT64_MAX / r, TSR_EINVAL,
            "%s: axis %d of extent %lld repeated %lld times overflows int64", fn, axis,
            (long long)n, (long long)r);
  *count = n * r;
  return TSR_OK;
}

tsr_status tsr_tile(tsr_array *a, int nreps, const int64_t *reps, tsr_array **out) {
  static const char fn[] = "tsr_tile";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(a != NULL, TSR_EINVAL, "%s: a is NULL", fn);
  TSR_CHECK(nreps >= 0 && nreps <= TSR_MAX_NDIM && (nreps == 0 || reps != NULL), TSR_EINVAL,
            "%s: nreps = %d must be 0 .. %d (with reps)", fn, nreps, TSR_MAX_NDIM);
  for (int i = 0; i < nreps; i++)
    TSR_CHECK(reps[i] >= 0, TSR_EINVAL, "%s: reps[%d] = %lld is negative", fn, i,
              (long long)reps[i]);
  /* NumPy: the shorter of a's axes and reps is padded with 1s in front */
  tsr__expr_retain(a->expr);
  tsr_array *cur = NULL;
  TSR_TRY(tsr__array_wrap(a->expr, &cur));
  tsr_status status = TSR_OK;
  while (status == TSR_OK && tsr_array_ndim(cur) < nreps) {
    tsr_array *next = NULL;
    status = tsr_expand_dims(cur, 0, &next);
    tsr_array_destroy(&cur);
    cur = next;
  }
  int nd = cur != NULL ? tsr_array_ndim(cur) : 0;
  for (int d = 0; d < nd && status == TSR_OK; d++) {
    int64_t r = d - (nd - nreps) >= 0 ? reps[d - (nd - nreps)] : 1, n = tsr_array_shape(cur)[d];
    int64_t count = 0;
    if (r == 1 || (status = times(fn, n, r, d, &count)) != TSR_OK)
      continue;
    tsr_array *next = NULL;
    status = take_by(fn, cur, d, count, tile_index, 0, 0, &next);
    tsr_array_destroy(&cur);
    cur = next;
  }
  if (status != TSR_OK) {
    tsr_array_destroy(&cur);
    return status;
  }
  *out = cur;
  return TSR_OK;
}

tsr_status tsr_repeat(tsr_array *a, int64_t repeats, const int *axis, tsr_array **out) {
  static const char fn[] = "tsr_repeat";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(a != NULL, TSR_EINVAL, "%s: a is NULL", fn);
  TSR_CHECK(repeats >= 0, TSR_EINVAL, "%s: repeats = %lld may not be negative", fn,
            (long long)repeats);
  int nd = a->expr->grid->ndim, ax = 0;
  tsr_array *src = NULL;
  if (axis == NULL) { /* NumPy: the flattened array */
    int64_t size = tsr_array_size(a);
    TSR_TRY(tsr_reshape(a, 1, &size, &src));
  } else {
    ax = *axis;
    TSR_CHECK(ax >= -nd && ax < nd, TSR_EINVAL, "%s: axis %d out of range for a %d-d array", fn,
              ax, nd);
    ax = ax < 0 ? ax + nd : ax;
    tsr__expr_retain(a->expr);
    TSR_TRY(tsr__array_wrap(a->expr, &src));
  }
  int64_t n = tsr_array_shape(src)[ax], count = 0;
  tsr_status status = times(fn, n, repeats, ax, &count);
  if (status == TSR_OK)
    status = take_by(fn, src, ax, count, repeat_index, 0, repeats > 0 ? repeats : 1, out);
  tsr_array_destroy(&src);
  return status;
}

/* ---- permutation --------------------------------------------------------------------- */

tsr_status tsr_array_permutation(tsr_ctx *ctx, uint64_t seed, int64_t n, int64_t chunk,
                                 tsr_array **out) {
  static const char fn[] = "tsr_array_permutation";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(n >= 0, TSR_EINVAL, "%s: n = %lld is negative", fn, (long long)n);
  TSR_CHECK(chunk >= 0, TSR_EINVAL, "%s: chunk = %lld is negative", fn, (long long)chunk);
  tsr_array *keys = NULL;
  TSR_TRY(tsr_array_random_integers(ctx, seed, 0, INT64_MAX, 1, &n, chunk > 0 ? &chunk : NULL,
                                    &keys));
  tsr_status status = tsr_argsort(keys, 0, true, out);
  tsr_array_destroy(&keys);
  return status;
}

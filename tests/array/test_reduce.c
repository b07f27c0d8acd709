/* test_reduce.c — reductions (tsr_reduce and its shorthands, argmin and
 * argmax) against a naive dense reference computed here: for each output
 * element the reduced elements are visited in C order and accumulated in
 * long double (floats) or wrapping 64-bit integers, with NumPy's rules
 * written out (result dtypes, NaN propagation and skipping, ddof, empty
 * reductions, first index on ties).  Random shapes (0 to 4 axes, zero-size
 * axes), random axis subsets (none = all, negative axes), keepdims, random
 * chunkings, split_every 2, 3 and 8, memory and task leaves; plus accuracy
 * of pairwise sums, errors that name the problem, fused inputs, and results
 * bitwise identical for the serial executor and 1, 2 and 8 threads. */
#include "test_util.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

static uint64_t rng_state = 0xa11ce5;
static uint64_t next_rand(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static int rand_int(int n) { return (int)(next_rand() % (uint64_t)n); }
static double rand_unit(void) { return (double)(next_rand() >> 11) / 9007199254740992.0; }

static void configure(tsr_ctx *ctx, int config) {
  static const int threads[] = {1, 1, 2, 4};
  assert_ok(tsr_ctx_set_executor(ctx, config == 0 ? TSR_EXECUTOR_SERIAL : TSR_EXECUTOR_OMP));
  assert_ok(tsr_ctx_set_threads(ctx, threads[config]));
}

static bool is_float(tsr_dtype t) { return t == TSR_FLOAT32 || t == TSR_FLOAT64; }
static bool is_unsigned(tsr_dtype t) { return t >= TSR_UINT8 && t <= TSR_UINT64; }

/* Element k of a buffer of dtype t: as a long double (exact for every
 * value but int64/uint64 beyond 2^64 precision, which long double holds),
 * and as raw 64-bit integer bits (sign-extended or zero-extended). */
static long double get_ld(const void *buf, tsr_dtype t, int64_t k) {
  switch (t) {
  case TSR_BOOL:
    return ((const uint8_t *)buf)[k];
  case TSR_INT8:
    return ((const int8_t *)buf)[k];
  case TSR_INT16:
    return ((const int16_t *)buf)[k];
  case TSR_INT32:
    return ((const int32_t *)buf)[k];
  case TSR_INT64:
    return (long double)((const int64_t *)buf)[k];
  case TSR_UINT8:
    return ((const uint8_t *)buf)[k];
  case TSR_UINT16:
    return ((const uint16_t *)buf)[k];
  case TSR_UINT32:
    return ((const uint32_t *)buf)[k];
  case TSR_UINT64:
    return (long double)((const uint64_t *)buf)[k];
  case TSR_FLOAT32:
    return ((const float *)buf)[k];
  default:
    return ((const double *)buf)[k];
  }
}
static uint64_t get_bits(const void *buf, tsr_dtype t, int64_t k) {
  switch (t) {
  case TSR_BOOL:
  case TSR_UINT8:
    return ((const uint8_t *)buf)[k];
  case TSR_INT8:
    return (uint64_t)(int64_t)((const int8_t *)buf)[k];
  case TSR_INT16:
    return (uint64_t)(int64_t)((const int16_t *)buf)[k];
  case TSR_INT32:
    return (uint64_t)(int64_t)((const int32_t *)buf)[k];
  case TSR_UINT16:
    return ((const uint16_t *)buf)[k];
  case TSR_UINT32:
    return ((const uint32_t *)buf)[k];
  case TSR_FLOAT32: {
    uint32_t b;
    memcpy(&b, (const float *)buf + k, 4);
    return b;
  }
  default:
    return ((const uint64_t *)buf)[k];
  }
}

/* ---- layouts and inputs ------------------------------------------------------- */

typedef struct layout {
  int ndim;
  int64_t shape[4], chunks[4];
} layout;

static int64_t shape_size(int ndim, const int64_t *shape) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++)
    n *= shape[d];
  return n;
}

static layout random_layout(int max_extent) {
  layout l = {0};
  l.ndim = rand_int(5);
  for (int d = 0; d < l.ndim; d++) {
    l.shape[d] = rand_int(14) == 0 ? 0 : 1 + rand_int(max_extent);
    switch (rand_int(4)) {
    case 0:
      l.chunks[d] = 1;
      break;
    case 1:
      l.chunks[d] = -1;
      break;
    default:
      l.chunks[d] = 1 + rand_int(l.shape[d] > 1 ? (int)l.shape[d] : 1);
      break;
    }
  }
  return l;
}

static const int64_t one_extent[1] = {1};

/* Fills a buffer with random values of dtype t: small integers (ties for
 * arg-reductions), extremes (wrap-around), and for floats fractions with an
 * occasional NaN or infinity when `specials`. */
static void fill_random(void *buf, tsr_dtype t, int64_t n, bool specials, bool small) {
  for (int64_t k = 0; k < n; k++) {
    int r = rand_int(20);
    switch (t) {
    case TSR_BOOL:
      ((uint8_t *)buf)[k] = (uint8_t)(rand_int(3) == 0);
      break;
    case TSR_INT8:
      ((int8_t *)buf)[k] =
          (int8_t)(small || r < 12 ? rand_int(9) - 4 : (int)(next_rand() & 0xff) - 128);
      break;
    case TSR_INT32:
      ((int32_t *)buf)[k] = small || r < 12 ? rand_int(9) - 4 : (int32_t)(uint32_t)next_rand();
      break;
    case TSR_UINT16:
      ((uint16_t *)buf)[k] =
          (uint16_t)(small || r < 12 ? rand_int(9) : (int)(next_rand() & 0xffff));
      break;
    case TSR_INT64:
      ((int64_t *)buf)[k] = small || r < 12 ? rand_int(9) - 4 : (int64_t)next_rand();
      break;
    default: {
      double v;
      if (specials && r == 0)
        v = NAN;
      else if (specials && r == 1 && rand_int(4) == 0)
        v = rand_int(2) ? INFINITY : -INFINITY;
      else if (small || r < 8)
        v = (rand_int(9) - 4) * 0.5;
      else
        v = (rand_unit() - 0.5) * 20;
      if (t == TSR_FLOAT32)
        ((float *)buf)[k] = (float)v;
      else
        ((double *)buf)[k] = v;
      break;
    }
    }
  }
}

/* An input array over `values` (shape l): a user buffer (borrowed or
 * copied), or a task node holding the same values (max over a unit axis). */
static tsr_array *make_input(tsr_ctx *ctx, const layout *l, tsr_dtype t, void *values, int kind) {
  tsr_array *a = NULL;
  const int64_t *shape = l->ndim ? l->shape : one_extent, *chunks = l->ndim ? l->chunks : NULL;
  if (kind == 2) {
    int64_t shape1[5], chunks1[5];
    memcpy(shape1, l->shape, sizeof l->shape);
    memcpy(chunks1, l->chunks, sizeof l->chunks);
    shape1[l->ndim] = 1;
    chunks1[l->ndim] = 1;
    tsr_array *src = NULL;
    assert_ok(tsr_array_from_buffer(ctx, t, l->ndim + 1, shape1, chunks1, values, TSR_BUFFER_COPY,
                                    NULL, NULL, &src));
    int axis = l->ndim;
    assert_ok(tsr_reduce(TSR_REDUCE_MAX, src, &axis, 1, NULL, &a));
    tsr_array_destroy(&src);
    return a;
  }
  assert_ok(tsr_array_from_buffer(ctx, t, l->ndim, shape, chunks, values,
                                  kind == 0 ? TSR_BUFFER_BORROW : TSR_BUFFER_COPY, NULL, NULL, &a));
  return a;
}

static void *compute(tsr_array *a) {
  size_t bytes = (size_t)tsr_array_nbytes(a);
  void *buf = malloc(bytes + 8);
  assert_ok(tsr_array_to_buffer(a, buf, bytes));
  return buf;
}

/* ---- the reference ------------------------------------------------------------------ */

static const char *op_name(tsr_reduce_op op) { return tsr_reduce_op_name(op); }

/* NumPy's result dtype of a reduction of dtype t. */
static tsr_dtype reduce_dtype(tsr_reduce_op op, tsr_dtype t) {
  switch (op) {
  case TSR_REDUCE_SUM:
  case TSR_REDUCE_PROD:
  case TSR_REDUCE_NANSUM:
  case TSR_REDUCE_NANPROD:
    if (is_float(t))
      return t;
    return is_unsigned(t) ? TSR_UINT64 : TSR_INT64; /* bool and signed: int64 */
  case TSR_REDUCE_MIN:
  case TSR_REDUCE_MAX:
  case TSR_REDUCE_NANMIN:
  case TSR_REDUCE_NANMAX:
    return t;
  case TSR_REDUCE_ANY:
  case TSR_REDUCE_ALL:
    return TSR_BOOL;
  case TSR_REDUCE_COUNT_NONZERO:
    return TSR_INT64;
  default: /* mean, var, std and nan- variants */
    return t == TSR_FLOAT32 ? TSR_FLOAT32 : TSR_FLOAT64;
  }
}

static bool skips_nan(tsr_reduce_op op) { return op >= TSR_REDUCE_NANSUM; }

/* The reference value of one output: `vals` are the n reduced elements in
 * C order.  Floats: *want_f (long double) and *tol_scale (what the error is
 * relative to); integers: *want_bits. */
typedef struct ref_result {
  bool is_float_result;
  long double f;
  long double scale; /* error allowed = tol * scale */
  uint64_t bits;
} ref_result;

static ref_result reference(tsr_reduce_op op, tsr_dtype t, const void *buf, const int64_t *idx,
                            int64_t n, int ddof) {
  ref_result r = {0};
  tsr_dtype od = reduce_dtype(op, t);
  r.is_float_result = is_float(od);
  bool skip = skips_nan(op) && is_float(t);
  switch (op) {
  case TSR_REDUCE_SUM:
  case TSR_REDUCE_NANSUM:
  case TSR_REDUCE_PROD:
  case TSR_REDUCE_NANPROD: {
    bool prod = op == TSR_REDUCE_PROD || op == TSR_REDUCE_NANPROD;
    if (is_float(t)) {
      long double acc = prod ? 1 : 0, scale = prod ? 1 : 0;
      for (int64_t k = 0; k < n; k++) {
        long double v = get_ld(buf, t, idx[k]);
        if (skip && v != v)
          continue;
        acc = prod ? acc * v : acc + v;
        scale = prod ? scale * fabsl(v) : scale + fabsl(v);
      }
      r.f = acc;
      r.scale = scale;
    } else {
      uint64_t acc = prod ? 1 : 0;
      for (int64_t k = 0; k < n; k++) {
        uint64_t v = get_bits(buf, t, idx[k]);
        acc = prod ? acc * v : acc + v;
      }
      r.bits = acc;
    }
    return r;
  }
  case TSR_REDUCE_MIN:
  case TSR_REDUCE_MAX:
  case TSR_REDUCE_NANMIN:
  case TSR_REDUCE_NANMAX: {
    bool is_min = op == TSR_REDUCE_MIN || op == TSR_REDUCE_NANMIN;
    if (is_float(t)) {
      long double m = NAN;
      bool seen = false, nan = false;
      for (int64_t k = 0; k < n; k++) {
        long double v = get_ld(buf, t, idx[k]);
        if (v != v) {
          nan = true;
          continue;
        }
        if (!seen || (is_min ? v < m : v > m))
          m = v;
        seen = true;
      }
      r.f = (nan && !skip) || !seen ? NAN : m; /* NaN propagates; all-NaN nan-min: NaN */
      r.scale = 0;
    } else {
      bool uns = is_unsigned(t);
      uint64_t m = get_bits(buf, t, idx[0]);
      for (int64_t k = 1; k < n; k++) {
        uint64_t v = get_bits(buf, t, idx[k]);
        bool better = uns ? (is_min ? v < m : v > m)
                          : (is_min ? (int64_t)v < (int64_t)m : (int64_t)v > (int64_t)m);
        if (better)
          m = v;
      }
      r.bits = m;
    }
    return r;
  }
  case TSR_REDUCE_ANY:
  case TSR_REDUCE_ALL:
  case TSR_REDUCE_COUNT_NONZERO: {
    int64_t nz = 0;
    for (int64_t k = 0; k < n; k++)
      nz += get_ld(buf, t, idx[k]) != 0; /* NaN != 0 is true */
    r.bits = op == TSR_REDUCE_ANY ? nz > 0 : op == TSR_REDUCE_ALL ? nz == n : (uint64_t)nz;
    return r;
  }
  default: { /* mean, var, std */
    long double sum = 0, abs_sum = 0;
    int64_t cnt = 0;
    for (int64_t k = 0; k < n; k++) {
      long double v = get_ld(buf, t, idx[k]);
      if (skip && v != v)
        continue;
      sum += v;
      abs_sum += fabsl(v);
      cnt++;
    }
    if (op == TSR_REDUCE_MEAN || op == TSR_REDUCE_NANMEAN) {
      r.f = cnt ? sum / cnt : NAN;
      r.scale = cnt ? abs_sum / cnt : 0;
      return r;
    }
    long double mean = cnt ? sum / cnt : 0, m2 = 0, sq = 0;
    for (int64_t k = 0; k < n; k++) {
      long double v = get_ld(buf, t, idx[k]);
      if (skip && v != v)
        continue;
      m2 += (v - mean) * (v - mean);
      sq += v * v;
    }
    long double div = (long double)cnt - ddof;
    long double var = cnt == 0 ? NAN : div > 0 ? m2 / div : m2 / 0.0L; /* inf or nan */
    long double scale = div > 0 ? sq / div : 0;
    if (op == TSR_REDUCE_STD || op == TSR_REDUCE_NANSTD) {
      r.f = sqrtl(var);
      r.scale = sqrtl(scale);
    } else {
      r.f = var;
      r.scale = scale;
    }
    return r;
  }
  }
}

static bool close_enough(long double got, const ref_result *want, tsr_dtype od) {
  long double w = want->f;
  if (od == TSR_FLOAT32)
    w = (float)(double)w; /* out of float32 range: inf */
  else
    w = (double)w;
  if (w != w)
    return got != got;
  if (isinf(w) || isinf(got))
    return got == w;
  long double tol = od == TSR_FLOAT32 ? 1e-5L : 1e-12L;
  long double scale = want->scale > fabsl(w) ? want->scale : fabsl(w);
  return fabsl(got - w) <= tol * scale + (od == TSR_FLOAT32 ? 1e-37L : 1e-300L);
}

/* ---- the differential test --------------------------------------------------------- */

static const tsr_dtype test_dtypes[] = {TSR_BOOL,  TSR_INT8,    TSR_INT32,  TSR_UINT16,
                                        TSR_INT64, TSR_FLOAT32, TSR_FLOAT64};

/* Collects the C-order flat indices of the elements reduced into each
 * output element, and the output's shape. */
typedef struct plan {
  int ndim, out_ndim;
  bool reduced[4];
  int64_t out_shape[4];
  int64_t n_out, n_red;
} plan;

static plan make_plan(const layout *l, const bool *reduced, bool keepdims) {
  plan p = {0};
  p.ndim = l->ndim;
  p.n_out = p.n_red = 1;
  for (int d = 0; d < l->ndim; d++) {
    p.reduced[d] = reduced[d];
    if (reduced[d]) {
      p.n_red *= l->shape[d];
      if (keepdims)
        p.out_shape[p.out_ndim++] = 1;
    } else {
      p.n_out *= l->shape[d];
      p.out_shape[p.out_ndim++] = l->shape[d];
    }
  }
  return p;
}

/* Flat input indices of the reduced elements of output o, in C order. */
static void reduced_indices(const layout *l, const plan *p, int64_t o, int64_t *idx) {
  int64_t kept[4] = {0};
  int64_t rest = o;
  for (int d = l->ndim - 1; d >= 0; d--)
    if (!p->reduced[d]) {
      kept[d] = rest % l->shape[d];
      rest /= l->shape[d];
    }
  for (int64_t m = 0; m < p->n_red; m++) {
    int64_t r = m, coord[4];
    for (int d = l->ndim - 1; d >= 0; d--) {
      if (p->reduced[d]) {
        coord[d] = r % l->shape[d];
        r /= l->shape[d];
      } else {
        coord[d] = kept[d];
      }
    }
    int64_t k = 0;
    for (int d = 0; d < l->ndim; d++)
      k = k * l->shape[d] + coord[d];
    idx[m] = k;
  }
}

static void check_output_grid(const tsr_array *r, const tsr_array *in, const layout *l,
                              const plan *p, bool keepdims) {
  assert_int_equal(tsr_array_ndim(r), p->out_ndim);
  for (int d = 0; d < p->out_ndim; d++)
    assert_int_equal(tsr_array_shape(r)[d], p->out_shape[d]);
  const tsr_chunk_grid *g = tsr_array_chunks(r), *ig = tsr_array_chunks(in);
  int od = 0;
  for (int d = 0; d < l->ndim; d++) {
    if (p->reduced[d]) {
      if (keepdims) {
        assert_int_equal(tsr_chunk_grid_nchunks_axis(g, od), 1);
        assert_int_equal(tsr_chunk_grid_chunk_extent(g, od, 0), 1);
        od++;
      }
      continue;
    }
    /* Kept axes keep the input's chunks. */
    assert_int_equal(tsr_chunk_grid_nchunks_axis(g, od), tsr_chunk_grid_nchunks_axis(ig, d));
    for (int64_t c = 0; c < tsr_chunk_grid_nchunks_axis(ig, d); c++)
      assert_int_equal(tsr_chunk_grid_chunk_extent(g, od, c),
                       tsr_chunk_grid_chunk_extent(ig, d, c));
    od++;
  }
}

/* Outputs that hit the known any()-of-nothing bug (see any_of_empty). */
static int known_empty_any;

/* One random trial of op. */
static void reduce_trial(tsr_ctx *ctx, tsr_reduce_op op, int trial) {
  configure(ctx, trial % 4);
  layout l = random_layout(6);
  tsr_dtype t = test_dtypes[rand_int(7)];
  bool prod = op == TSR_REDUCE_PROD || op == TSR_REDUCE_NANPROD;
  int64_t n = shape_size(l.ndim, l.shape);
  void *values = malloc((size_t)n * 8 + 8);
  fill_random(values, t, n, true, prod && is_float(t));
  if (prod && is_float(t)) /* keep products in range: values near 1 */
    for (int64_t k = 0; k < n; k++) {
      double v = (double)get_ld(values, t, k);
      v = v != v ? v : 1 + v / 16;
      if (t == TSR_FLOAT32)
        ((float *)values)[k] = (float)v;
      else
        ((double *)values)[k] = v;
    }
  int kind = rand_int(3);
  tsr_array *in = make_input(ctx, &l, t, values, kind);
  /* Axes: none (all), or a random subset in random order, maybe negative. */
  int axes[4], naxes = 0;
  bool reduced[4] = {false, false, false, false};
  if (l.ndim > 0 && rand_int(4) != 0) {
    for (int d = 0; d < l.ndim; d++)
      if (rand_int(2)) {
        reduced[d] = true;
        axes[naxes++] = rand_int(2) ? d - l.ndim : d;
      }
    for (int i = naxes - 1; i > 0; i--) { /* order does not matter */
      int j = rand_int(i + 1), tmp = axes[i];
      axes[i] = axes[j];
      axes[j] = tmp;
    }
    if (naxes == 0) /* naxes == 0 means every axis */
      for (int d = 0; d < l.ndim; d++)
        reduced[d] = true;
  } else {
    for (int d = 0; d < l.ndim; d++)
      reduced[d] = true;
  }
  static const int splits[] = {0, 2, 3, 8};
  tsr_reduce_options opt = {rand_int(2) == 1, rand_int(2), splits[rand_int(4)]};
  plan p = make_plan(&l, reduced, opt.keepdims);
  tsr_array *r = NULL;
  tsr_status s = tsr_reduce(op, in, naxes ? axes : NULL, naxes, &opt, &r);
  bool empty_error = p.n_red == 0 && (op == TSR_REDUCE_MIN || op == TSR_REDUCE_MAX ||
                                      op == TSR_REDUCE_NANMIN || op == TSR_REDUCE_NANMAX);
  if (empty_error) {
    assert_int_equal(s, TSR_EINVAL);
    assert_non_null(strstr(tsr_last_error(), "zero-size"));
    assert_null(r);
    tsr_array_destroy(&in);
    free(values);
    return;
  }
  if (s != TSR_OK)
    print_error("%s: %s\n", op_name(op), tsr_last_error());
  assert_int_equal(s, TSR_OK);
  tsr_dtype od = reduce_dtype(op, t);
  if (tsr_array_dtype(r) != od)
    print_error("%s of %s gives %s, want %s\n", op_name(op), tsr_dtype_name(t),
                tsr_dtype_name(tsr_array_dtype(r)), tsr_dtype_name(od));
  assert_int_equal(tsr_array_dtype(r), od);
  check_output_grid(r, in, &l, &p, opt.keepdims);
  void *got = compute(r);
  int64_t *idx = malloc((size_t)(p.n_red + 1) * sizeof *idx);
  for (int64_t o = 0; o < p.n_out; o++) {
    reduced_indices(&l, &p, o, idx);
    ref_result want = reference(op, t, values, idx, p.n_red, opt.ddof);
    bool ok;
    long double g = get_ld(got, od, o);
    if (op == TSR_REDUCE_ANY && p.n_red == 0 && get_bits(got, od, o) == 1) {
      known_empty_any++; /* Was a bug (fixed): see test_reduce__any_of_empty_is_false */
      continue;
    }
    if (want.is_float_result)
      ok = close_enough(g, &want, od);
    else
      ok = get_bits(got, od, o) == want.bits; /* both sign- or zero-extended */
    if (!ok) {
      print_error("%s of %s, shape (%lld,%lld,%lld,%lld)[:%d], %d axes, keepdims %d, ddof %d, "
                  "split_every %d, leaf kind %d: output %lld: got %.17Lg (bits %llx), want %.17Lg "
                  "(bits %llx)\n",
                  op_name(op), tsr_dtype_name(t), (long long)l.shape[0], (long long)l.shape[1],
                  (long long)l.shape[2], (long long)l.shape[3], l.ndim, naxes, opt.keepdims,
                  opt.ddof, opt.split_every, kind, (long long)o, g,
                  (unsigned long long)get_bits(got, od, o), want.f, (unsigned long long)want.bits);
      fail();
    }
  }
  free(idx);
  free(got);
  tsr_array_destroy(&r);
  tsr_array_destroy(&in);
  free(values);
}

static void run_ops(void **state, const tsr_reduce_op *ops, size_t nops, int trials) {
  tsr_ctx *ctx = *state;
  known_empty_any = 0;
  for (int trial = 0; trial < trials; trial++)
    reduce_trial(ctx, ops[(size_t)trial % nops], trial);
  if (known_empty_any > 0) {
    /* Was a bug (fixed): any() of an empty selection is True; every other output matched. */
    print_error("REGRESSION: %d outputs of any() over an empty selection were True\n",
                known_empty_any);
    fail();
  }
}

static void test_reduce__sum_prod_differential(void **state) {
  static const tsr_reduce_op ops[] = {TSR_REDUCE_SUM, TSR_REDUCE_PROD, TSR_REDUCE_NANSUM,
                                      TSR_REDUCE_NANPROD};
  run_ops(state, ops, 4, 400);
}

static void test_reduce__mean_var_std_differential(void **state) {
  static const tsr_reduce_op ops[] = {TSR_REDUCE_MEAN,    TSR_REDUCE_VAR,    TSR_REDUCE_STD,
                                      TSR_REDUCE_NANMEAN, TSR_REDUCE_NANVAR, TSR_REDUCE_NANSTD};
  run_ops(state, ops, 6, 480);
}

static void test_reduce__min_max_differential(void **state) {
  static const tsr_reduce_op ops[] = {TSR_REDUCE_MIN, TSR_REDUCE_MAX, TSR_REDUCE_NANMIN,
                                      TSR_REDUCE_NANMAX};
  run_ops(state, ops, 4, 400);
}

static void test_reduce__any_all_count_differential(void **state) {
  static const tsr_reduce_op ops[] = {TSR_REDUCE_ANY, TSR_REDUCE_ALL, TSR_REDUCE_COUNT_NONZERO};
  run_ops(state, ops, 3, 360);
}

static void test_reduce__any_of_empty_is_false(void **state) {
  tsr_ctx *ctx = *state;
  tsr_array *z = NULL, *r = NULL;
  assert_ok(tsr_array_zeros(ctx, TSR_FLOAT64, 2, (int64_t[]){3, 0}, NULL, &z));
  uint8_t b_all = 2, b_any = 2, b_rows[3] = {2, 2, 2};
  assert_ok(tsr_reduce(TSR_REDUCE_ALL, z, NULL, 0, NULL, &r));
  assert_ok(tsr_array_to_buffer(r, &b_all, 1));
  tsr_array_destroy(&r);
  assert_ok(tsr_reduce(TSR_REDUCE_ANY, z, NULL, 0, NULL, &r));
  assert_ok(tsr_array_to_buffer(r, &b_any, 1));
  tsr_array_destroy(&r);
  int axis = 1;
  assert_ok(tsr_reduce(TSR_REDUCE_ANY, z, &axis, 1, NULL, &r));
  assert_ok(tsr_array_to_buffer(r, b_rows, 3));
  tsr_array_destroy(&r);
  tsr_array_destroy(&z);
  assert_int_equal(b_all, 1); /* all of nothing is True */
  if (b_any != 0 || b_rows[0] != 0) {
    /* Was a bug (fixed): any() over a zero-size selection gives True (NumPy: False): the
     * max accumulator starts at INT64_MIN, which finalizes to bool true.
     * Repro: any(zeros((3, 0))) -> True; any(zeros((3, 0)), axis=1) ->
     * [True, True, True]. */
    print_error("REGRESSION: any of a zero-size array gave %d\n", b_any);
    fail();
  }
}

/* ---- specific values ------------------------------------------------------------------ */

static tsr_array *vec(tsr_ctx *ctx, tsr_dtype t, int ndim, const int64_t *shape,
                      const int64_t *chunks, const double *v) {
  int64_t n = shape_size(ndim, shape);
  void *buf = malloc((size_t)n * 8 + 8);
  for (int64_t k = 0; k < n; k++) {
    switch (t) {
    case TSR_INT8:
      ((int8_t *)buf)[k] = (int8_t)v[k];
      break;
    case TSR_UINT16:
      ((uint16_t *)buf)[k] = (uint16_t)v[k];
      break;
    case TSR_INT32:
      ((int32_t *)buf)[k] = (int32_t)v[k];
      break;
    case TSR_INT64:
      ((int64_t *)buf)[k] = (int64_t)v[k];
      break;
    case TSR_FLOAT32:
      ((float *)buf)[k] = (float)v[k];
      break;
    default:
      ((double *)buf)[k] = v[k];
      break;
    }
  }
  tsr_array *a = NULL;
  assert_ok(
      tsr_array_from_buffer(ctx, t, ndim, shape, chunks, buf, TSR_BUFFER_COPY, NULL, NULL, &a));
  free(buf);
  return a;
}

static void test_reduce__result_dtypes_and_wraparound(void **state) {
  tsr_ctx *ctx = *state;
  configure(ctx, 2);
  int64_t n = 4, c = 3;
  /* int8 sums do not wrap at 8 bits: 127 * 4 = 508 in int64. */
  tsr_array *a = vec(ctx, TSR_INT8, 1, &n, &c, (double[]){127, 127, 127, 127}), *r = NULL;
  assert_ok(tsr_sum(a, NULL, 0, false, &r));
  assert_int_equal(tsr_array_dtype(r), TSR_INT64);
  int64_t i64;
  assert_ok(tsr_array_to_buffer(r, &i64, 8));
  assert_int_equal(i64, 508);
  tsr_array_destroy(&r);
  assert_ok(tsr_reduce(TSR_REDUCE_MIN, a, NULL, 0, NULL, &r));
  assert_int_equal(tsr_array_dtype(r), TSR_INT8);
  tsr_array_destroy(&r);
  assert_ok(tsr_reduce(TSR_REDUCE_ANY, a, NULL, 0, NULL, &r));
  assert_int_equal(tsr_array_dtype(r), TSR_BOOL);
  tsr_array_destroy(&r);
  assert_ok(tsr_reduce(TSR_REDUCE_COUNT_NONZERO, a, NULL, 0, NULL, &r));
  assert_int_equal(tsr_array_dtype(r), TSR_INT64);
  tsr_array_destroy(&r);
  assert_ok(tsr_argmin(a, 0, false, &r));
  assert_int_equal(tsr_array_dtype(r), TSR_INT64);
  tsr_array_destroy(&r);
  tsr_array_destroy(&a);
  /* uint16 sums give uint64; int64 sums wrap at 64 bits. */
  a = vec(ctx, TSR_UINT16, 1, &n, &c, (double[]){65535, 65535, 1, 0});
  assert_ok(tsr_sum(a, NULL, 0, false, &r));
  assert_int_equal(tsr_array_dtype(r), TSR_UINT64);
  uint64_t u64;
  assert_ok(tsr_array_to_buffer(r, &u64, 8));
  assert_int_equal(u64, 131071);
  tsr_array_destroy(&r);
  tsr_array_destroy(&a);
  int64_t big[4] = {INT64_MAX, 1, INT64_MAX, 2};
  assert_ok(
      tsr_array_from_buffer(ctx, TSR_INT64, 1, &n, &c, big, TSR_BUFFER_BORROW, NULL, NULL, &a));
  assert_ok(tsr_sum(a, NULL, 0, false, &r));
  assert_ok(tsr_array_to_buffer(r, &i64, 8));
  assert_int_equal(i64, 1); /* 2 * INT64_MAX + 3 wraps to 1 */
  tsr_array_destroy(&r);
  tsr_array_destroy(&a);
  /* mean of int32 -> float64, of float32 -> float32. */
  a = vec(ctx, TSR_INT32, 1, &n, &c, (double[]){1, 2, 3, 5});
  assert_ok(tsr_mean(a, NULL, 0, false, &r));
  assert_int_equal(tsr_array_dtype(r), TSR_FLOAT64);
  double d;
  assert_ok(tsr_array_to_buffer(r, &d, 8));
  assert_true(d == 2.75);
  tsr_array_destroy(&r);
  /* std with ddof 0 and 1 */
  assert_ok(tsr_std(a, NULL, 0, 0, false, &r));
  assert_ok(tsr_array_to_buffer(r, &d, 8));
  assert_true(fabs(d - sqrt(2.1875)) < 1e-15);
  tsr_array_destroy(&r);
  assert_ok(tsr_std(a, NULL, 0, 1, false, &r));
  assert_ok(tsr_array_to_buffer(r, &d, 8));
  assert_true(fabs(d - sqrt(8.75 / 3)) < 1e-15);
  tsr_array_destroy(&r);
  tsr_array_destroy(&a);
  a = vec(ctx, TSR_FLOAT32, 1, &n, &c, (double[]){1, 2, 3, 5});
  assert_ok(tsr_mean(a, NULL, 0, false, &r));
  assert_int_equal(tsr_array_dtype(r), TSR_FLOAT32);
  float f;
  assert_ok(tsr_array_to_buffer(r, &f, 4));
  assert_true(f == 2.75f);
  tsr_array_destroy(&r);
  tsr_array_destroy(&a);
  /* nanmin/nanmax of an all-NaN slice: NaN; nanmean: NaN; nansum: 0. */
  int64_t shape[2] = {2, 3}, chunks[2] = {1, 2};
  a = vec(ctx, TSR_FLOAT64, 2, shape, chunks, (double[]){NAN, NAN, NAN, 1, NAN, -2});
  static const tsr_reduce_op nanops[] = {TSR_REDUCE_NANMIN, TSR_REDUCE_NANMAX, TSR_REDUCE_NANMEAN,
                                         TSR_REDUCE_NANSUM, TSR_REDUCE_MIN};
  static const double want1[] = {-2, 1, -0.5, -1, NAN};
  int axis = 1;
  for (int k = 0; k < 5; k++) {
    double o[2];
    assert_ok(tsr_reduce(nanops[k], a, &axis, 1, NULL, &r));
    assert_ok(tsr_array_to_buffer(r, o, sizeof o));
    if (nanops[k] == TSR_REDUCE_NANSUM)
      assert_true(o[0] == 0);
    else
      assert_true(isnan(o[0]));
    assert_true(isnan(want1[k]) ? isnan(o[1]) : o[1] == want1[k]);
    tsr_array_destroy(&r);
  }
  tsr_array_destroy(&a);
}

static void test_reduce__empty_reductions(void **state) {
  tsr_ctx *ctx = *state;
  configure(ctx, 1);
  tsr_array *z = NULL, *r = NULL;
  assert_ok(tsr_array_zeros(ctx, TSR_FLOAT64, 2, (int64_t[]){4, 0}, (int64_t[]){2, 1}, &z));
  double d = 1;
  assert_ok(tsr_sum(z, NULL, 0, false, &r));
  assert_ok(tsr_array_to_buffer(r, &d, 8));
  assert_true(d == 0);
  tsr_array_destroy(&r);
  assert_ok(tsr_mean(z, NULL, 0, false, &r));
  assert_ok(tsr_array_to_buffer(r, &d, 8));
  assert_true(isnan(d));
  tsr_array_destroy(&r);
  /* Over the non-empty axis: a (0,) result. */
  int axis0 = 0;
  assert_ok(tsr_reduce(TSR_REDUCE_MIN, z, &axis0, 1, NULL, &r));
  assert_int_equal(tsr_array_size(r), 0);
  assert_ok(tsr_array_to_buffer(r, &d, 0));
  tsr_array_destroy(&r);
  /* Over the empty axis: 4 outputs of an empty reduction. */
  int axis1 = 1;
  double o[4];
  assert_ok(tsr_reduce(TSR_REDUCE_PROD, z, &axis1, 1, NULL, &r));
  assert_ok(tsr_array_to_buffer(r, o, sizeof o));
  for (int i = 0; i < 4; i++)
    assert_true(o[i] == 1);
  tsr_array_destroy(&r);
  assert_fails(tsr_reduce(TSR_REDUCE_MIN, z, NULL, 0, NULL, &r), TSR_EINVAL, "zero-size");
  assert_null(r);
  assert_fails(tsr_reduce(TSR_REDUCE_NANMAX, z, &axis1, 1, NULL, &r), TSR_EINVAL, "zero-size");
  assert_fails(tsr_argmin(z, 0, true, &r), TSR_EINVAL, "empty");
  assert_fails(tsr_argmax(z, 1, false, &r), TSR_EINVAL, "empty");
  tsr_array_destroy(&z);
}

static void test_reduce__errors_name_the_problem(void **state) {
  tsr_ctx *ctx = *state;
  tsr_array *a = NULL, *r = NULL;
  assert_ok(tsr_array_ones(ctx, TSR_FLOAT64, 2, (int64_t[]){3, 4}, NULL, &a));
  int bad[] = {2};
  assert_fails(tsr_reduce(TSR_REDUCE_SUM, a, bad, 1, NULL, &r), TSR_EINVAL, "out of bounds");
  assert_fails(tsr_reduce(TSR_REDUCE_SUM, a, bad, 1, NULL, &r), TSR_EINVAL, "axis 2");
  int neg[] = {-3};
  assert_fails(tsr_reduce(TSR_REDUCE_MEAN, a, neg, 1, NULL, &r), TSR_EINVAL, "axis -3");
  int rep[] = {1, -1};
  assert_fails(tsr_reduce(TSR_REDUCE_SUM, a, rep, 2, NULL, &r), TSR_EINVAL, "repeated");
  tsr_reduce_options o1 = {false, 0, 1};
  assert_fails(tsr_reduce(TSR_REDUCE_SUM, a, NULL, 0, &o1, &r), TSR_EINVAL, "split_every");
  assert_fails(tsr_argmin(a, 5, false, &r), TSR_EINVAL, "out of bounds");
  assert_fails(tsr_reduce((tsr_reduce_op)77, a, NULL, 0, NULL, &r), TSR_EINVAL, "op = 77");
  assert_fails(tsr_reduce(TSR_REDUCE_SUM, NULL, NULL, 0, NULL, &r), TSR_EINVAL, "a is NULL");
  assert_fails(tsr_reduce(TSR_REDUCE_SUM, a, NULL, 2, NULL, &r), TSR_EINVAL, "axes is NULL");
  assert_null(r);
  assert_string_equal(tsr_reduce_op_name(TSR_REDUCE_COUNT_NONZERO), "count_nonzero");
  tsr_array_destroy(&a);
}

/* ---- argmin / argmax ---------------------------------------------------------------- */

static int64_t ref_arg(bool is_min, tsr_dtype t, const void *buf, const int64_t *idx, int64_t n,
                       bool flat_positions) {
  int64_t best = 0;
  for (int64_t k = 0; k < n; k++) {
    long double v = get_ld(buf, t, idx[k]), b = get_ld(buf, t, idx[best]);
    if (b != b)
      break; /* the first NaN wins */
    if (v != v || (is_min ? v < b : v > b))
      best = k;
    if (v != v)
      break;
  }
  if (is_unsigned(t) || t == TSR_INT64) { /* exact comparison of 64-bit values */
    best = 0;
    for (int64_t k = 1; k < n; k++) {
      uint64_t v = get_bits(buf, t, idx[k]), b = get_bits(buf, t, idx[best]);
      bool better = is_unsigned(t) ? (is_min ? v < b : v > b)
                                   : (is_min ? (int64_t)v < (int64_t)b : (int64_t)v > (int64_t)b);
      if (better)
        best = k;
    }
  }
  return flat_positions ? idx[best] : best;
}

static void test_reduce__argmin_argmax_differential(void **state) {
  tsr_ctx *ctx = *state;
  int tie_bugs = 0;
  char first_bug[512] = "";
  for (int trial = 0; trial < 400; trial++) {
    configure(ctx, trial % 4);
    layout l = random_layout(6);
    tsr_dtype t = test_dtypes[rand_int(7)];
    int64_t n = shape_size(l.ndim, l.shape);
    void *values = malloc((size_t)n * 8 + 8);
    fill_random(values, t, n, rand_int(2) == 0, rand_int(2) == 0); /* small: many ties */
    tsr_array *in = make_input(ctx, &l, t, values, rand_int(3));
    bool is_min = trial % 2 == 0;
    bool flatten = l.ndim == 0 || rand_int(3) == 0;
    int axis = flatten ? 0 : rand_int(l.ndim);
    int axis_arg = !flatten && rand_int(2) ? axis - l.ndim : axis;
    bool reduced[4] = {false, false, false, false};
    for (int d = 0; d < l.ndim; d++)
      reduced[d] = flatten || d == axis;
    plan p = make_plan(&l, reduced, false);
    tsr_array *r = NULL;
    tsr_status s =
        is_min ? tsr_argmin(in, axis_arg, flatten, &r) : tsr_argmax(in, axis_arg, flatten, &r);
    if (p.n_red == 0) {
      assert_int_equal(s, TSR_EINVAL);
      tsr_array_destroy(&in);
      free(values);
      continue;
    }
    assert_ok(s);
    assert_int_equal(tsr_array_dtype(r), TSR_INT64);
    assert_int_equal(tsr_array_ndim(r), p.out_ndim);
    int64_t *got = compute(r);
    int64_t *idx = malloc((size_t)p.n_red * sizeof *idx);
    for (int64_t o = 0; o < p.n_out; o++) {
      reduced_indices(&l, &p, o, idx);
      int64_t want = ref_arg(is_min, t, values, idx, p.n_red, flatten);
      if (got[o] != want) {
        /* Is it another position of an equal extreme (a tie, or another NaN)? */
        int64_t want_pos = flatten ? want : idx[want], got_pos = -1;
        if (flatten && got[o] >= 0 && got[o] < n)
          got_pos = got[o];
        else if (!flatten && got[o] >= 0 && got[o] < p.n_red)
          got_pos = idx[got[o]];
        long double gv = got_pos >= 0 ? get_ld(values, t, got_pos) : 0,
                    wv = get_ld(values, t, want_pos);
        bool tie = got_pos >= 0 && (gv != gv ? wv != wv : gv == wv); /* exact in long double */
        if (tie && flatten) {
          if (tie_bugs++ == 0)
            snprintf(first_bug, sizeof first_bug,
                     "%s %s flattened, shape (%lld,%lld,%lld,%lld)[:%d] chunks "
                     "(%lld,%lld,%lld,%lld): got %lld want %lld",
                     is_min ? "argmin" : "argmax", tsr_dtype_name(t), (long long)l.shape[0],
                     (long long)l.shape[1], (long long)l.shape[2], (long long)l.shape[3], l.ndim,
                     (long long)l.chunks[0], (long long)l.chunks[1], (long long)l.chunks[2],
                     (long long)l.chunks[3], (long long)got[o], (long long)want);
          continue;
        }
        print_error("%s of %s, axis %d flatten %d, output %lld: got %lld (%Lg) want %lld (%Lg); "
                    "shape (%lld,%lld,%lld,%lld)[:%d] chunks (%lld,%lld,%lld,%lld)\n",
                    is_min ? "argmin" : "argmax", tsr_dtype_name(t), axis, flatten, (long long)o,
                    (long long)got[o], gv, (long long)want, wv, (long long)l.shape[0],
                    (long long)l.shape[1], (long long)l.shape[2], (long long)l.shape[3], l.ndim,
                    (long long)l.chunks[0], (long long)l.chunks[1], (long long)l.chunks[2],
                    (long long)l.chunks[3]);
        fail();
      }
    }
    free(idx);
    free(got);
    tsr_array_destroy(&r);
    tsr_array_destroy(&in);
    free(values);
  }
  if (tie_bugs > 0) {
    /* Was a bug (fixed): flattened argmin/argmax over an array chunked along more than
     * one axis returns a later position of a tied extreme (or a later NaN):
     * partial results are merged in chunk order, which is not C order of
     * the flattened array, and ties keep the earlier chunk's index. */
    print_error("REGRESSION: %d flattened ties resolved out of C order; first: %s\n", tie_bugs,
                first_bug);
    fail();
  }
}

static void test_reduce__argmin_ties_and_nan(void **state) {
  tsr_ctx *ctx = *state;
  configure(ctx, 2);
  /* Along an axis: ties take the first index, NaN the first NaN. */
  int64_t shape[2] = {3, 5}, chunks[2] = {2, 2};
  tsr_array *a = vec(ctx, TSR_FLOAT64, 2, shape, chunks,
                     (double[]){4, 1, 3, 1, 1, /**/ 2, NAN, 0, NAN, 0, /**/ 9, 9, 9, 9, 9});
  tsr_array *r = NULL;
  int64_t o[3];
  assert_ok(tsr_argmin(a, 1, false, &r));
  assert_ok(tsr_array_to_buffer(r, o, sizeof o));
  assert_int_equal(o[0], 1);
  assert_int_equal(o[1], 1);
  assert_int_equal(o[2], 0);
  tsr_array_destroy(&r);
  assert_ok(tsr_argmax(a, -1, false, &r));
  assert_ok(tsr_array_to_buffer(r, o, sizeof o));
  assert_int_equal(o[0], 0);
  assert_int_equal(o[1], 1);
  assert_int_equal(o[2], 0);
  tsr_array_destroy(&r);
  assert_ok(tsr_argmax(a, 0, true, &r));
  assert_int_equal(tsr_array_ndim(r), 0);
  int64_t flat;
  assert_ok(tsr_array_to_buffer(r, &flat, 8));
  assert_int_equal(flat, 6); /* the first NaN */
  tsr_array_destroy(&r);
  tsr_array_destroy(&a);
  /* Flattened ties across chunks of a 2-D array: [[5,5,1,5],[1,5,5,5]]
   * chunked (2,2): the minimum 1 is at flat 2 (chunk 1) and 4 (chunk 0). */
  a = vec(ctx, TSR_INT32, 2, (int64_t[]){2, 4}, (int64_t[]){2, 2},
          (double[]){5, 5, 1, 5, 1, 5, 5, 5});
  assert_ok(tsr_argmin(a, 0, true, &r));
  assert_ok(tsr_array_to_buffer(r, &flat, 8));
  tsr_array_destroy(&r);
  tsr_array_destroy(&a);
  if (flat != 2) {
    /* Was a bug (fixed): see argmin_argmax_differential: argmin(flatten) of
     * [[5,5,1,5],[1,5,5,5]] with chunks (2,2) gives 4, NumPy gives 2. */
    print_error("REGRESSION: flattened argmin gave %lld, want 2\n", (long long)flat);
    fail();
  }
}

/* ---- accuracy, fusion, determinism ------------------------------------------------- */

static void test_reduce__pairwise_sum_accuracy(void **state) {
  tsr_ctx *ctx = *state;
  configure(ctx, 2);
  const int64_t n = 1000000;
  double *v = malloc((size_t)n * 8);
  for (int64_t i = 0; i < n; i++)
    v[i] = 0.1;
  long double exact = (long double)0.1 * (long double)n; /* n x double(0.1) */
  tsr_array *a = NULL, *f = NULL, *r = NULL;
  assert_ok(
      tsr_array_from_buffer(ctx, TSR_FLOAT64, 1, &n, &n, v, TSR_BUFFER_BORROW, NULL, NULL, &a));
  assert_ok(tsr_array_full(ctx, TSR_FLOAT64, 1, &n, &n, 0.1, &f));
  tsr_array *srcs[2] = {a, f};
  for (int k = 0; k < 2; k++) {
    double got;
    assert_ok(tsr_sum(srcs[k], NULL, 0, false, &r));
    assert_ok(tsr_array_to_buffer(r, &got, 8));
    tsr_array_destroy(&r);
    double rel = (double)fabsl((got - exact) / exact);
    if (rel >= 1e-13)
      print_error("sum of 1e6 x 0.1: relative error %g\n", rel);
    assert_true(rel < 1e-13);
    /* mean too */
    assert_ok(tsr_mean(srcs[k], NULL, 0, false, &r));
    assert_ok(tsr_array_to_buffer(r, &got, 8));
    tsr_array_destroy(&r);
    assert_true(fabs(got - 0.1) / 0.1 < 1e-13);
  }
  /* A naive sequential sum is an order of magnitude worse (the test would
   * notice a naive implementation). */
  double naive = 0;
  for (int64_t i = 0; i < n; i++)
    naive += v[i];
  assert_true(fabsl((naive - exact) / exact) > 1e-12);
  tsr_array_destroy(&a);
  tsr_array_destroy(&f);
  free(v);
}

static void test_reduce__fused_expression(void **state) {
  tsr_ctx *ctx = *state;
  int64_t shape[2] = {61, 47}, chunks[2] = {16, 10};
  const int64_t n = 61 * 47;
  double *yb = malloc((size_t)n * 8);
  for (int64_t i = 0; i < n; i++)
    yb[i] = (double)((i * 31) % 97) * 0.125 - 6;
  tsr_array *x = NULL, *y = NULL;
  assert_ok(tsr_array_random(ctx, TSR_RANDOM_NORMAL, 11, 2, shape, chunks, &x));
  assert_ok(tsr_array_from_buffer(ctx, TSR_FLOAT64, 2, shape, (int64_t[]){7, 47}, yb,
                                  TSR_BUFFER_BORROW, NULL, NULL, &y));
  tsr_array *xx = NULL, *yy = NULL, *s = NULL, *q = NULL, *h = NULL, *e = NULL;
  assert_ok(tsr_mul(x, x, &xx));
  assert_ok(tsr_mul(y, y, &yy));
  assert_ok(tsr_add(xx, yy, &s));
  assert_ok(tsr_unary(TSR_OP_SQRT, s, &q));
  assert_ok(tsr_binary_scalar(TSR_OP_MUL, q, 0.5, &h));
  assert_ok(tsr_binary_scalar(TSR_OP_ADD, h, 1, &e));
  double *ev = malloc((size_t)n * 8);
  long double total = 0, col[47] = {0}, row[61] = {0};
  for (int64_t i = 0; i < n; i++) {
    double xv = tsr_random_normal(11, (uint64_t)i);
    ev[i] = sqrt(xv * xv + yb[i] * yb[i]) * 0.5 + 1;
    total += ev[i];
    col[i % 47] += ev[i];
    row[i / 47] += ev[i];
  }
  for (int config = 0; config < 4; config++) {
    configure(ctx, config);
    tsr_array *r = NULL;
    double got, gc[47], gr[61];
    assert_ok(tsr_sum(e, NULL, 0, false, &r));
    assert_ok(tsr_array_to_buffer(r, &got, 8));
    tsr_array_destroy(&r);
    assert_true(fabsl(got - total) <= 1e-12L * total);
    int ax0 = 0, ax1 = -1;
    assert_ok(tsr_sum(e, &ax0, 1, false, &r));
    assert_ok(tsr_array_to_buffer(r, gc, sizeof gc));
    tsr_array_destroy(&r);
    assert_ok(tsr_sum(e, &ax1, 1, true, &r));
    assert_int_equal(tsr_array_ndim(r), 2);
    assert_int_equal(tsr_array_shape(r)[1], 1);
    assert_ok(tsr_array_to_buffer(r, gr, sizeof gr));
    tsr_array_destroy(&r);
    for (int j = 0; j < 47; j++)
      assert_true(fabsl(gc[j] - col[j]) <= 1e-12L * col[j]);
    for (int i = 0; i < 61; i++)
      assert_true(fabsl(gr[i] - row[i]) <= 1e-12L * row[i]);
    /* max of the fused expression is exact */
    assert_ok(tsr_reduce(TSR_REDUCE_MAX, e, NULL, 0, NULL, &r));
    assert_ok(tsr_array_to_buffer(r, &got, 8));
    tsr_array_destroy(&r);
    double mx = -INFINITY;
    for (int64_t i = 0; i < n; i++)
      mx = ev[i] > mx ? ev[i] : mx;
    assert_true(got == mx);
  }
  tsr_array *all[] = {x, y, xx, yy, s, q, h, e};
  for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
    tsr_array_destroy(&all[k]);
  free(yb);
  free(ev);
}

static void test_reduce__bitwise_identical_across_threads(void **state) {
  tsr_ctx *ctx = *state;
  int64_t shape[3] = {40, 33, 21}, chunks[3] = {7, 5, 8};
  tsr_array *x = NULL;
  assert_ok(tsr_array_random(ctx, TSR_RANDOM_NORMAL, 123, 3, shape, chunks, &x));
  tsr_array *ex = NULL;
  assert_ok(tsr_unary(TSR_OP_EXP, x, &ex));
  static const tsr_reduce_op ops[] = {TSR_REDUCE_SUM, TSR_REDUCE_MEAN, TSR_REDUCE_VAR,
                                      TSR_REDUCE_STD, TSR_REDUCE_PROD, TSR_REDUCE_NANSUM};
  static const int axes_sets[][2] = {{0, 0}, {1, 0}, {0, 2}};
  static const int naxes_of[] = {0, 1, 2};
  enum { NR = 6 * 3 * 3 + 2 };
  tsr_array *rs[NR];
  int nr = 0;
  for (int o = 0; o < 6; o++)
    for (int a = 0; a < 3; a++)
      for (int split = 0; split < 3; split++) {
        tsr_reduce_options opt = {false, 1, (int[]){2, 3, 8}[split]};
        assert_ok(tsr_reduce(ops[o], o == 4 ? x : ex, naxes_of[a] ? axes_sets[a] : NULL,
                             naxes_of[a], &opt, &rs[nr++]));
      }
  assert_ok(tsr_argmin(ex, 1, false, &rs[nr++]));
  assert_ok(tsr_argmax(x, 0, true, &rs[nr++]));
  void *bufs[NR], *ref[NR];
  size_t bytes[NR];
  for (int k = 0; k < nr; k++) {
    bytes[k] = (size_t)tsr_array_nbytes(rs[k]);
    bufs[k] = malloc(bytes[k] + 8);
    ref[k] = malloc(bytes[k] + 8);
  }
  static const struct {
    tsr_executor ex;
    int threads;
  } configs[] = {{TSR_EXECUTOR_SERIAL, 1},
                 {TSR_EXECUTOR_OMP, 1},
                 {TSR_EXECUTOR_OMP, 2},
                 {TSR_EXECUTOR_OMP, 8}};
  for (int c = 0; c < 4; c++) {
    assert_ok(tsr_ctx_set_executor(ctx, configs[c].ex));
    assert_ok(tsr_ctx_set_threads(ctx, configs[c].threads));
    assert_ok(tsr_array_to_buffers((size_t)nr, rs, c == 0 ? ref : bufs, bytes));
    if (c > 0)
      for (int k = 0; k < nr; k++)
        assert_memory_equal(bufs[k], ref[k], bytes[k]);
  }
  for (int k = 0; k < nr; k++) {
    free(bufs[k]);
    free(ref[k]);
    tsr_array_destroy(&rs[k]);
  }
  tsr_array_destroy(&x);
  tsr_array_destroy(&ex);
}

#define T(name) cmocka_unit_test_setup_teardown(name, test_ctx_setup, test_ctx_teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_reduce__sum_prod_differential),
      T(test_reduce__mean_var_std_differential),
      T(test_reduce__min_max_differential),
      T(test_reduce__any_all_count_differential),
      T(test_reduce__any_of_empty_is_false),
      T(test_reduce__result_dtypes_and_wraparound),
      T(test_reduce__empty_reductions),
      T(test_reduce__errors_name_the_problem),
      T(test_reduce__argmin_argmax_differential),
      T(test_reduce__argmin_ties_and_nan),
      T(test_reduce__pairwise_sum_accuracy),
      T(test_reduce__fused_expression),
      T(test_reduce__bitwise_identical_across_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

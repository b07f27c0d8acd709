/* test_map.c — tsr_map_blocks against dense references computed here:
 * random shapes of 0 to 4 axes (zero-size axes too) x random chunkings x 1
 * to 3 inputs of different dtypes; the kernel checks every block info it
 * gets (shape, offset, array shape, chunk number) against the grid, and
 * computes a weighted sum whose result is compared element by element.
 * Also: another output grid with the same chunk counts, many inputs, the
 * same input twice, a failing user kernel, errors that name the shapes, and
 * allocation failures; named kernels (their context in the block infos, their
 * name in the run's statistics and in errors, map_overlap's too) and
 * shape-changing map_blocks (per-row sums dropping an axis, one sum per
 * block through declared chunks, new axes) against naive loops. */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static uint64_t rng_state = 0x5eed;
static uint64_t next_rand(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void configure(tsr_ctx *ctx, int threads) {
  assert_ok(tsr_ctx_set_executor(ctx, threads == 0 ? TSR_EXECUTOR_SERIAL : TSR_EXECUTOR_OMP));
  assert_ok(tsr_ctx_set_threads(ctx, threads == 0 ? 1 : threads));
}

static double get(const void *buf, tsr_dtype dt, int64_t i) {
  switch (dt) {
  case TSR_INT8:
    return ((const int8_t *)buf)[i];
  case TSR_INT64:
    return (double)((const int64_t *)buf)[i];
  case TSR_UINT16:
    return ((const uint16_t *)buf)[i];
  case TSR_FLOAT32:
    return ((const float *)buf)[i];
  default:
    return ((const double *)buf)[i];
  }
}

static void put(void *buf, tsr_dtype dt, int64_t i, double v) {
  switch (dt) {
  case TSR_INT8:
    ((int8_t *)buf)[i] = (int8_t)v;
    break;
  case TSR_INT64:
    ((int64_t *)buf)[i] = (int64_t)v;
    break;
  case TSR_UINT16:
    ((uint16_t *)buf)[i] = (uint16_t)v;
    break;
  case TSR_FLOAT32:
    ((float *)buf)[i] = (float)v;
    break;
  default:
    ((double *)buf)[i] = v;
    break;
  }
}

typedef struct sum_user {
  size_t n;
  tsr_dtype dtypes[32];
  const tsr_chunk_grid *grid; /* the inputs' (and output's) grid */
} sum_user;

/* out = sum_i (i + 1) * in_i, as float64; checks the block infos. */
static tsr_status weighted_sum(void *out, const tsr_block_info *oi, const void *const *in,
                               const tsr_block_info *ii, size_t n_in, void *user) {
  const sum_user *u = user;
  if (n_in != u->n)
    return tsr_error_set(TSR_EINTERNAL, "weighted_sum: %zu inputs, want %zu", n_in, u->n);
  int ndim = tsr_chunk_grid_ndim(u->grid);
  int64_t shape[4], offset[4], size = 1;
  tsr_status s = tsr_chunk_grid_chunk(u->grid, oi->chunk, shape, offset);
  if (s != TSR_OK)
    return s;
  for (size_t i = 0; i <= n_in; i++) {
    const tsr_block_info *b = i < n_in ? &ii[i] : oi;
    if (b->ndim != ndim || b->chunk != oi->chunk)
      return tsr_error_set(TSR_EINTERNAL, "weighted_sum: info %zu has ndim %d chunk %lld", i,
                           b->ndim, (long long)b->chunk);
    for (int d = 0; d < ndim; d++)
      if (b->shape[d] != shape[d] || b->offset[d] != offset[d] ||
          b->array_shape[d] != tsr_chunk_grid_shape(u->grid)[d])
        return tsr_error_set(TSR_EINTERNAL, "weighted_sum: info %zu axis %d is wrong", i, d);
  }
  for (int d = 0; d < ndim; d++)
    size *= shape[d];
  double *o = out;
  for (int64_t j = 0; j < size; j++) {
    double v = 0;
    for (size_t i = 0; i < n_in; i++)
      v += (double)(i + 1) * get(in[i], u->dtypes[i], j);
    o[j] = v;
  }
  return TSR_OK;
}

static void test_map__weighted_sum_matches_dense(void **state) {
  tsr_ctx *ctx = *state;
  static const tsr_dtype dtypes[] = {TSR_FLOAT64, TSR_INT8, TSR_INT64, TSR_UINT16, TSR_FLOAT32};
  int nonempty = 0;
  for (int trial = 0; trial < 400; trial++) {
    configure(ctx, trial % 4);
    int ndim = (int)(next_rand() % 5);
    int64_t shape[4], chunks[4], size = 1;
    for (int d = 0; d < ndim; d++) {
      shape[d] = (int64_t)(next_rand() % 7);
      int r = (int)(next_rand() % 4);
      chunks[d] = r == 0 ? 1 : r == 1 ? -1 : 2 + (int64_t)(next_rand() % 3);
      size *= shape[d];
    }
    sum_user u = {.n = 1 + next_rand() % 3};
    void *data[3];
    tsr_array *in[3];
    double *want = calloc((size_t)size + 1, sizeof(double)), *got = malloc((size_t)size * 8 + 8);
    for (size_t i = 0; i < u.n; i++) {
      u.dtypes[i] = dtypes[next_rand() % 5];
      data[i] = malloc((size_t)size * 8 + 8);
      for (int64_t j = 0; j < size; j++) {
        double v = (double)(next_rand() % 100);
        put(data[i], u.dtypes[i], j, v);
        want[j] += (double)(i + 1) * v;
      }
      assert_ok(tsr_array_from_buffer(ctx, u.dtypes[i], ndim, shape, chunks, data[i],
                                      TSR_BUFFER_BORROW, NULL, NULL, &in[i]));
    }
    u.grid = tsr_array_chunks(in[0]);
    tsr_array *r;
    assert_ok(tsr_map_blocks(u.n, in, weighted_sum, &u, TSR_FLOAT64, NULL, &r));
    assert_int_equal(tsr_array_dtype(r), TSR_FLOAT64);
    assert_int_equal(tsr_array_ndim(r), ndim);
    assert_int_equal(tsr_array_size(r), size);
    assert_ok(tsr_array_to_buffer(r, got, (size_t)size * 8));
    if (size > 0)
      assert_memory_equal(got, want, (size_t)size * 8);
    nonempty += size > 0;
    tsr_array_destroy(&r);
    for (size_t i = 0; i < u.n; i++) {
      tsr_array_destroy(&in[i]);
      free(data[i]);
    }
    free(want);
    free(got);
  }
  assert_true(nonempty > 200);
}

static void test_map__many_inputs_and_repeats(void **state) {
  tsr_ctx *ctx = *state;
  int64_t shape[2] = {5, 6}, chunks[2] = {2, 4};
  tsr_array *ins[20], *r, *x2;
  double buf[30];
  for (int i = 0; i < 30; i++)
    buf[i] = i;
  assert_ok(tsr_array_from_buffer(ctx, TSR_FLOAT64, 2, shape, chunks, buf, TSR_BUFFER_COPY, NULL,
                                  NULL, &x2));
  sum_user u = {.n = 20, .grid = tsr_array_chunks(x2)};
  for (int i = 0; i < 20; i++) {
    ins[i] = x2;
    u.dtypes[i] = TSR_FLOAT64;
  }
  assert_ok(tsr_map_blocks(20, ins, weighted_sum, &u, TSR_FLOAT64, NULL, &r));
  tsr_array_destroy(&x2); /* r keeps what it needs */
  double got[30];
  assert_ok(tsr_array_to_buffer(r, got, sizeof got));
  for (int i = 0; i < 30; i++)
    assert_true(got[i] == 210.0 * i); /* 1 + 2 + ... + 20 */
  tsr_array_destroy(&r);
}

/* Writes each output element's C-order index in the whole output array. */
static tsr_status global_index(void *out, const tsr_block_info *oi, const void *const *in,
                               const tsr_block_info *ii, size_t n_in, void *user) {
  (void)in;
  const tsr_chunk_grid *ing = user;
  int64_t shape[4], size = 1;
  if (n_in != 1 || tsr_chunk_grid_chunk(ing, ii->chunk, shape, NULL) != TSR_OK)
    return tsr_error_set(TSR_EINTERNAL, "global_index: bad input");
  for (int d = 0; d < ii->ndim; d++)
    if (ii->shape[d] != shape[d])
      return tsr_error_set(TSR_EINTERNAL, "global_index: input block shape is wrong");
  for (int d = 0; d < oi->ndim; d++)
    size *= oi->shape[d];
  int64_t *o = out, idx[4] = {0};
  for (int64_t j = 0; j < size; j++) {
    int64_t g = 0;
    for (int d = 0; d < oi->ndim; d++)
      g = g * oi->array_shape[d] + oi->offset[d] + idx[d];
    o[j] = g;
    for (int d = oi->ndim - 1; d >= 0 && ++idx[d] == oi->shape[d]; d--)
      idx[d] = 0;
  }
  return TSR_OK;
}

static void test_map__other_output_grid(void **state) {
  tsr_ctx *ctx = *state;
  int64_t shape[2] = {7, 5}, chunks[2] = {3, 2};
  tsr_array *x, *r;
  assert_ok(tsr_array_ones(ctx, TSR_INT8, 2, shape, chunks, &x));
  /* 3 x 3 chunks in; out: rows (1, 4, 2), cols (5, 1, 1). */
  int64_t r0[3] = {1, 4, 2}, c0[3] = {5, 1, 1}, counts[2] = {3, 3};
  const int64_t *ext[2] = {r0, c0};
  tsr_chunk_grid *og;
  assert_ok(tsr_chunk_grid_create_explicit(ctx, 2, ext, counts, &og));
  assert_ok(tsr_map_blocks(1, &x, global_index, (void *)tsr_array_chunks(x), TSR_INT64, og, &r));
  tsr_chunk_grid_destroy(&og); /* copied */
  assert_int_equal(tsr_array_shape(r)[0], 7);
  assert_int_equal(tsr_array_shape(r)[1], 7);
  int64_t got[49];
  assert_ok(tsr_array_to_buffer(r, got, sizeof got));
  for (int i = 0; i < 49; i++)
    assert_int_equal(got[i], i);
  tsr_array_destroy(&x);
  tsr_array_destroy(&r);
}

static tsr_status failing(void *out, const tsr_block_info *oi, const void *const *in,
                          const tsr_block_info *ii, size_t n_in, void *user) {
  (void)out;
  (void)in;
  (void)ii;
  (void)n_in;
  (void)user;
  return oi->chunk == 2 ? tsr_error_set(TSR_EDTYPE, "user kernel refuses chunk 2") : TSR_OK;
}

static void test_map__user_failure_propagates(void **state) {
  tsr_ctx *ctx = *state;
  int64_t shape[1] = {10}, chunks[1] = {3};
  tsr_array *x, *r;
  assert_ok(tsr_array_ones(ctx, TSR_FLOAT32, 1, shape, chunks, &x));
  assert_ok(tsr_map_blocks(1, &x, failing, NULL, TSR_FLOAT32, NULL, &r));
  float buf[10];
  for (int t = 0; t < 3; t++) {
    configure(ctx, t * 3);
    assert_fails(tsr_array_to_buffer(r, buf, sizeof buf), TSR_EDTYPE, "refuses chunk 2");
  }
  tsr_array_destroy(&x);
  tsr_array_destroy(&r);
}

static void test_map__errors_name_the_problem(void **state) {
  tsr_ctx *ctx = *state;
  tsr_array *a, *b, *c, *r = (tsr_array *)&r;
  assert_ok(tsr_array_zeros(ctx, TSR_FLOAT64, 2, (int64_t[]){3, 4}, (int64_t[]){2, 2}, &a));
  assert_ok(tsr_array_zeros(ctx, TSR_FLOAT64, 2, (int64_t[]){4, 3}, (int64_t[]){2, 2}, &b));
  assert_ok(tsr_array_zeros(ctx, TSR_FLOAT64, 2, (int64_t[]){3, 4}, (int64_t[]){1, 2}, &c));
  tsr_array *ab[2] = {a, b}, *ac[2] = {a, c};
  assert_fails(tsr_map_blocks(2, ab, failing, NULL, TSR_FLOAT64, NULL, &r), TSR_ESHAPE, "(3, 4)");
  assert_null(r);
  assert_fails(tsr_map_blocks(2, ab, failing, NULL, TSR_FLOAT64, NULL, &r), TSR_ESHAPE, "(4, 3)");
  /* Different chunks are unified: axis 0 gets the union of (2, 1) and (1, 1, 1). */
  assert_ok(tsr_map_blocks(2, ac, failing, NULL, TSR_FLOAT64, NULL, &r));
  assert_int_equal(tsr_chunk_grid_nchunks_axis(tsr_array_chunks(r), 0), 3);
  assert_int_equal(tsr_chunk_grid_nchunks_axis(tsr_array_chunks(r), 1), 2);
  tsr_array_destroy(&r);
  tsr_chunk_grid *g1, *g2;
  assert_ok(tsr_chunk_grid_create_uniform(ctx, 1, (int64_t[]){4}, (int64_t[]){2}, &g1));
  assert_ok(tsr_chunk_grid_create_uniform(ctx, 2, (int64_t[]){3, 4}, (int64_t[]){3, 2}, &g2));
  assert_fails(tsr_map_blocks(1, &a, failing, NULL, TSR_FLOAT64, g1, &r), TSR_ESHAPE, "1 axes");
  assert_fails(tsr_map_blocks(1, &a, failing, NULL, TSR_FLOAT64, g2, &r), TSR_ESHAPE, "axis 0");
  tsr_chunk_grid_destroy(&g1);
  tsr_chunk_grid_destroy(&g2);
  assert_fails(tsr_map_blocks(0, &a, failing, NULL, TSR_FLOAT64, NULL, &r), TSR_EINVAL, "n = 0");
  assert_fails(tsr_map_blocks(1, NULL, failing, NULL, TSR_FLOAT64, NULL, &r), TSR_EINVAL,
               "inputs is NULL");
  tsr_array *an[2] = {a, NULL};
  assert_fails(tsr_map_blocks(2, an, failing, NULL, TSR_FLOAT64, NULL, &r), TSR_EINVAL,
               "inputs[1] is NULL");
  assert_fails(tsr_map_blocks(1, &a, NULL, NULL, TSR_FLOAT64, NULL, &r), TSR_EINVAL, "fn is NULL");
  assert_fails(tsr_map_blocks(1, &a, failing, NULL, (tsr_dtype)-1, NULL, &r), TSR_EINVAL,
               "out_dtype");
  assert_fails(tsr_map_blocks(1, &a, failing, NULL, TSR_FLOAT64, NULL, NULL), TSR_EINVAL,
               "out is NULL");
  tsr_array_destroy(&a);
  tsr_array_destroy(&b);
  tsr_array_destroy(&c);
}

/* ---- named kernels, their context, and shape-changing map_blocks ---- */

typedef struct ctx_check {
  tsr_ctx *ctx;
  const char *name;
  int max_threads;
} ctx_check;

/* The context every info carries: the arrays' ctx, the name, the thread. */
static tsr_status check_context(const tsr_block_info *oi, const tsr_block_info *ii, size_t n_in,
                                const ctx_check *want) {
  for (size_t i = 0; i <= n_in; i++) {
    const tsr_block_info *b = i < n_in ? &ii[i] : oi;
    if (b->ctx != want->ctx || strcmp(b->name, want->name) != 0 || b->thread < 0 ||
        b->thread >= want->max_threads)
      return tsr_error_set(TSR_EINTERNAL, "bad context: name '%s', thread %d", b->name, b->thread);
  }
  return TSR_OK;
}

/* Per-row sums of a block holding whole rows (axis 1 dropped), through
 * scratch memory from the kernel's context. */
static tsr_status row_sums(void *out, const tsr_block_info *oi, const void *const *in,
                           const tsr_block_info *ii, size_t n_in, void *user) {
  TSR_TRY(check_context(oi, ii, n_in, user));
  int64_t rows = ii[0].shape[0], cols = ii[0].shape[1];
  if (oi->ndim != 1 || oi->shape[0] != rows || cols != ii[0].array_shape[1] || ii[0].offset[1] != 0)
    return tsr_error_set(TSR_EINTERNAL, "row_sums: block %lld x %lld of a %lld-column array",
                         (long long)rows, (long long)cols, (long long)ii[0].array_shape[1]);
  double *scratch = NULL;
  TSR_TRY(tsr_kernel_alloc(oi->ctx, (size_t)(rows + 1) * sizeof *scratch, (void **)&scratch));
  const double *x = in[0];
  for (int64_t i = 0; i < rows; i++) {
    scratch[i] = 0;
    for (int64_t j = 0; j < cols; j++)
      scratch[i] += x[i * cols + j];
  }
  memcpy(out, scratch, (size_t)rows * sizeof *scratch);
  tsr_free(oi->ctx, scratch);
  return TSR_OK;
}

/* One value per block: its sum (declared 1 x 1 output chunks). */
static tsr_status block_sum(void *out, const tsr_block_info *oi, const void *const *in,
                            const tsr_block_info *ii, size_t n_in, void *user) {
  TSR_TRY(check_context(oi, ii, n_in, user));
  if (oi->shape[0] != 1 || oi->shape[1] != 1)
    return tsr_error_set(TSR_EINTERNAL, "block_sum: output block is not 1 x 1");
  const double *x = in[0];
  double s = 0;
  for (int64_t i = 0; i < ii[0].shape[0] * ii[0].shape[1]; i++)
    s += x[i];
  *(double *)out = s;
  return TSR_OK;
}

/* A new trailing axis of extent 2: (x, x^2). */
static tsr_status with_square(void *out, const tsr_block_info *oi, const void *const *in,
                              const tsr_block_info *ii, size_t n_in, void *user) {
  TSR_TRY(check_context(oi, ii, n_in, user));
  if (oi->ndim != 2 || oi->shape[1] != 2 || oi->shape[0] != ii[0].shape[0] ||
      oi->offset[0] != ii[0].offset[0])
    return tsr_error_set(TSR_EINTERNAL, "with_square: unexpected output block");
  const double *x = in[0];
  double *o = out;
  for (int64_t i = 0; i < ii[0].shape[0]; i++) {
    o[2 * i] = x[i];
    o[2 * i + 1] = x[i] * x[i];
  }
  return TSR_OK;
}

/* Copies the block (for a leading new axis of extent 1). */
static tsr_status copy_block(void *out, const tsr_block_info *oi, const void *const *in,
                             const tsr_block_info *ii, size_t n_in, void *user) {
  TSR_TRY(check_context(oi, ii, n_in, user));
  memcpy(out, in[0], (size_t)ii[0].shape[0] * sizeof(double));
  return TSR_OK;
}

static void test_map__drop_axis_and_declared_chunks(void **state) {
  tsr_ctx *ctx = *state;
  enum { R = 13, C = 10 };
  double data[R * C];
  for (int i = 0; i < R * C; i++)
    data[i] = (double)((i * 37) % 101) / 7.0;
  tsr_array *x = NULL, *r = NULL;
  assert_ok(tsr_array_from_buffer(ctx, TSR_FLOAT64, 2, (int64_t[]){R, C}, (int64_t[]){4, 3}, data,
                                  TSR_BUFFER_BORROW, NULL, NULL, &x));
  for (int t = 0; t < 3; t++) {
    configure(ctx, t * 2);
    ctx_check want = {ctx, "rowsum", t == 0 ? 1 : t * 2};
    tsr_map_options o = {.name = "rowsum", .n_drop_axis = 1, .drop_axis = (int[]){-1}};
    assert_ok(tsr_map_blocks_ex(1, &x, row_sums, &want, TSR_FLOAT64, &o, &r));
    assert_int_equal(tsr_array_ndim(r), 1);
    assert_int_equal(tsr_array_shape(r)[0], R);
    assert_int_equal(tsr_chunk_grid_nchunks(tsr_array_chunks(r)), 4); /* x's row chunks */
    double got[R];
    assert_ok(tsr_array_to_buffer(r, got, sizeof got));
    for (int i = 0; i < R; i++) {
      double s = 0;
      for (int j = 0; j < C; j++)
        s += data[i * C + j];
      assert_true(got[i] == s);
    }
    tsr_array_destroy(&r);
  }
  /* Declared output chunks: one sum per block, 4 x 4 blocks of 1 x 1. */
  tsr_chunk_grid *og = NULL;
  assert_ok(tsr_chunk_grid_create_uniform(ctx, 2, (int64_t[]){4, 4}, (int64_t[]){1, 1}, &og));
  ctx_check want = {ctx, "map-blocks", 64};
  tsr_map_options o = {.chunks = og};
  assert_ok(tsr_map_blocks_ex(1, &x, block_sum, &want, TSR_FLOAT64, &o, &r));
  tsr_chunk_grid_destroy(&og);
  double sums[16];
  assert_ok(tsr_array_to_buffer(r, sums, sizeof sums));
  for (int bi = 0; bi < 4; bi++)
    for (int bj = 0; bj < 4; bj++) {
      double s = 0;
      for (int i = bi * 4; i < R && i < bi * 4 + 4; i++)
        for (int j = bj * 3; j < C && j < bj * 3 + 3; j++)
          s += data[i * C + j];
      assert_true(sums[bi * 4 + bj] == s);
    }
  tsr_array_destroy(&r);
  tsr_array_destroy(&x);
}

static void test_map__new_axis(void **state) {
  tsr_ctx *ctx = *state;
  enum { N = 10 };
  double data[N];
  for (int i = 0; i < N; i++)
    data[i] = i - 3.5;
  tsr_array *x = NULL, *r = NULL;
  assert_ok(tsr_array_from_buffer(ctx, TSR_FLOAT64, 1, (int64_t[]){N}, (int64_t[]){3}, data,
                                  TSR_BUFFER_BORROW, NULL, NULL, &x));
  /* A trailing axis of extent 2, declared: rows chunked as x (3, 3, 3, 1). */
  tsr_chunk_grid *og = NULL;
  assert_ok(tsr_chunk_grid_create_uniform(ctx, 2, (int64_t[]){N, 2}, (int64_t[]){3, 2}, &og));
  ctx_check want = {ctx, "square", 64};
  tsr_map_options o = {.name = "square", .chunks = og, .n_new_axis = 1, .new_axis = (int[]){1}};
  assert_ok(tsr_map_blocks_ex(1, &x, with_square, &want, TSR_FLOAT64, &o, &r));
  tsr_chunk_grid_destroy(&og);
  double got[2 * N];
  assert_ok(tsr_array_to_buffer(r, got, sizeof got));
  for (int i = 0; i < N; i++) {
    assert_true(got[2 * i] == data[i]);
    assert_true(got[2 * i + 1] == data[i] * data[i]);
  }
  tsr_array_destroy(&r);
  /* A leading axis without declared chunks: extent 1, shape (1, N). */
  want.name = "lead";
  tsr_map_options o2 = {.name = "lead", .n_new_axis = 1, .new_axis = (int[]){0}};
  assert_ok(tsr_map_blocks_ex(1, &x, copy_block, &want, TSR_FLOAT64, &o2, &r));
  assert_int_equal(tsr_array_ndim(r), 2);
  assert_int_equal(tsr_array_shape(r)[0], 1);
  assert_int_equal(tsr_array_shape(r)[1], N);
  double row[N];
  assert_ok(tsr_array_to_buffer(r, row, sizeof row));
  assert_memory_equal(row, data, sizeof row);
  tsr_array_destroy(&r);
  /* Declared chunks that do not fit the axes. */
  assert_ok(tsr_chunk_grid_create_uniform(ctx, 2, (int64_t[]){N, 4}, (int64_t[]){3, 2}, &og));
  o.chunks = og;
  assert_fails(tsr_map_blocks_ex(1, &x, with_square, &want, TSR_FLOAT64, &o, &r), TSR_ESHAPE,
               "tsr_map_blocks 'square': options->chunks has 2 chunks on axis 1");
  tsr_chunk_grid_destroy(&og);
  tsr_array_destroy(&x);
}

static void kernel_stats(const tsr_run_stats *stats, void *user) {
  int *found = user;
  for (uint32_t k = 0; k < stats->n_kernels; k++)
    if (strcmp(stats->kernels[k].name, "my-kernel") == 0)
      *found += (int)stats->kernels[k].tasks;
}

static tsr_status fail_chunk2(void *out, const tsr_block_info *oi, const void *const *in,
                              const tsr_block_info *ii, size_t n_in, void *user) {
  (void)in;
  (void)ii;
  (void)n_in;
  const int *armed = user;
  if (*armed && oi->chunk == 2)
    return tsr_error_set(TSR_EDTYPE, "%s refuses chunk 2", oi->name);
  memset(out, 0, (size_t)oi->shape[0] * sizeof(double));
  return TSR_OK;
}

static void test_map__named_kernel_in_stats_and_errors(void **state) {
  tsr_ctx *ctx = *state;
  tsr_array *x = NULL, *r = NULL;
  assert_ok(tsr_array_ones(ctx, TSR_FLOAT64, 1, (int64_t[]){10}, (int64_t[]){3}, &x));
  int armed = 0, found = 0;
  tsr_map_options o = {.name = "my-kernel"};
  assert_ok(tsr_map_blocks_ex(1, &x, fail_chunk2, &armed, TSR_FLOAT64, &o, &r));
  double buf[10];
  void *bufs[1] = {buf};
  size_t bytes = sizeof buf;
  char trace[] = "/tmp/tessera_map_trace_XXXXXX";
  int fd = mkstemp(trace);
  assert_true(fd >= 0);
  close(fd);
  tsr_compute_options co = {
      .on_stats = kernel_stats, .stats_user = &found, .run = {.trace_path = trace}};
  assert_ok(tsr_array_to_buffers_ex(1, &r, bufs, &bytes, &co));
  assert_int_equal(found, 4); /* one task per chunk under the kernel's name */
  FILE *tf = fopen(trace, "r"); /* the trace labels the tasks with it too */
  assert_non_null(tf);
  char text[65536];
  size_t len = fread(text, 1, sizeof text - 1, tf);
  text[len] = '\0';
  fclose(tf);
  unlink(trace);
  assert_non_null(strstr(text, "\"my-kernel\""));
  armed = 1;
  assert_fails(tsr_array_to_buffer(r, buf, sizeof buf), TSR_EDTYPE,
               "(kernel 'my-kernel'): my-kernel refuses chunk 2");
  tsr_array_destroy(&r);
  /* map_overlap names its kernel too. */
  tsr_map_options ov = {.name = "halo"};
  assert_ok(tsr_map_overlap_ex(x, (int64_t[]){1}, TSR_BOUNDARY_NEAREST, 0, fail_chunk2, &armed,
                               TSR_FLOAT64, &ov, &r));
  assert_fails(tsr_array_to_buffer(r, buf, sizeof buf), TSR_EDTYPE,
               "(kernel 'halo'): halo refuses chunk 2");
  tsr_array_destroy(&r);
  /* Creation errors name it; bad names and options are refused. */
  tsr_map_options bad_axis = {.name = "my-kernel", .n_drop_axis = 1, .drop_axis = (int[]){1}};
  assert_fails(tsr_map_blocks_ex(1, &x, fail_chunk2, &armed, TSR_FLOAT64, &bad_axis, &r),
               TSR_EINVAL, "tsr_map_blocks 'my-kernel': options->drop_axis[0] = 1 is out of range");
  tsr_map_options bad_name = {.name = "a\"b"};
  assert_fails(tsr_map_blocks_ex(1, &x, fail_chunk2, &armed, TSR_FLOAT64, &bad_name, &r),
               TSR_EINVAL, "options->name");
  tsr_map_options empty_name = {.name = ""};
  assert_fails(tsr_map_overlap_ex(x, (int64_t[]){1}, TSR_BOUNDARY_NONE, 0, fail_chunk2, &armed,
                                  TSR_FLOAT64, &empty_name, &r),
               TSR_EINVAL, "options->name");
  tsr_map_options shape_opts = {.name = "halo", .n_new_axis = 1, .new_axis = (int[]){0}};
  assert_fails(tsr_map_overlap_ex(x, (int64_t[]){1}, TSR_BOUNDARY_NONE, 0, fail_chunk2, &armed,
                                  TSR_FLOAT64, &shape_opts, &r),
               TSR_EINVAL, "tsr_map_overlap 'halo': options->chunks, drop_axis and new_axis");
  assert_null(r);
  tsr_array_destroy(&x);
}

static void test_map__allocation_failures(void **state) {
  tsr_ctx *ctx = *state;
  int64_t shape[2] = {6, 5}, chunks[2] = {4, 2};
  bool done = false;
  int failures = 0;
  for (uint64_t nth = 1; !done && nth < 500; nth++) {
    tsr_array *x = NULL, *y = NULL, *r = NULL;
    double buf[30];
    assert_ok(tsr_ctx_set_fail_allocation(ctx, nth));
    sum_user u = {.n = 2, .dtypes = {TSR_FLOAT64, TSR_FLOAT64}};
    tsr_status s = tsr_array_ones(ctx, TSR_FLOAT64, 2, shape, chunks, &x);
    if (s == TSR_OK)
      s = tsr_array_full(ctx, TSR_FLOAT64, 2, shape, chunks, 2, &y);
    if (s == TSR_OK) {
      u.grid = tsr_array_chunks(x);
      tsr_array *in[2] = {x, y};
      s = tsr_map_blocks(2, in, weighted_sum, &u, TSR_FLOAT64, NULL, &r);
    }
    if (s == TSR_OK)
      s = tsr_array_to_buffer(r, buf, sizeof buf);
    if (s == TSR_OK) {
      done = true;
      for (int i = 0; i < 30; i++)
        assert_true(buf[i] == 5.0);
    } else {
      assert_int_equal(s, TSR_ENOMEM);
      failures++;
    }
    assert_ok(tsr_ctx_set_fail_allocation(ctx, 0));
    tsr_array_destroy(&x);
    tsr_array_destroy(&y);
    tsr_array_destroy(&r);
    tsr_memory_stats m;
    assert_ok(tsr_ctx_memory_stats(ctx, &m));
    assert_int_equal(m.current_bytes, 0);
  }
  assert_true(done);
  assert_true(failures >= 10);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_map__weighted_sum_matches_dense, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_map__many_inputs_and_repeats, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_map__other_output_grid, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_map__user_failure_propagates, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_map__errors_name_the_problem, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_map__drop_axis_and_declared_chunks, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_map__new_axis, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_map__named_kernel_in_stats_and_errors, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_map__allocation_failures, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

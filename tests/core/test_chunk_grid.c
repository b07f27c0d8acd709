/* test_chunk_grid.c — shape arithmetic and chunk grids: uniform grids with
 * ragged last chunks, explicit chunk lists, zero-extent axes and ndim 0
 * (offsets and extents written out by hand); chunk numbering checked against
 * a C-order odometer; locate() against a linear scan over the test's own
 * chunk lists; automatic chunking against values worked out by hand from
 * the algorithm (and a byte bound over many random shapes); every error path
 * with its message; and a fail-the-N-th-allocation sweep over creation. */
#include "test_util.h"

#include <stdlib.h>

#define N_OF(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))

/* The message of the last failure contains `needle`. */
#define assert_message_has(needle)                                          \
  do {                                                                      \
    if (strstr(tsr_last_error(), (needle)) == NULL)                         \
      print_error("message '%s' lacks '%s'\n", tsr_last_error(), (needle)); \
    assert_non_null(strstr(tsr_last_error(), (needle)));                    \
  } while (0)

/* Axis `axis` of g has exactly the given offsets and extents. */
static void check_axis(const tsr_chunk_grid *g, int axis, int64_t n, const int64_t *offsets,
                       const int64_t *extents) {
  assert_int_equal(tsr_chunk_grid_nchunks_axis(g, axis), n);
  for (int64_t i = 0; i < n; i++) {
    assert_int_equal(tsr_chunk_grid_chunk_offset(g, axis, i), offsets[i]);
    assert_int_equal(tsr_chunk_grid_chunk_extent(g, axis, i), extents[i]);
  }
  assert_int_equal(tsr_chunk_grid_chunk_offset(g, axis, n), -1);
  assert_int_equal(tsr_chunk_grid_chunk_extent(g, axis, n), -1);
  assert_int_equal(tsr_chunk_grid_chunk_offset(g, axis, -1), -1);
  assert_int_equal(tsr_chunk_grid_chunk_extent(g, axis, -1), -1);
}

static void check_shape(const tsr_chunk_grid *g, int ndim, const int64_t *shape) {
  assert_int_equal(tsr_chunk_grid_ndim(g), ndim);
  const int64_t *s = tsr_chunk_grid_shape(g);
  assert_non_null(s);
  for (int d = 0; d < ndim; d++)
    assert_int_equal(s[d], shape[d]);
}

static int64_t bytes_in_use(tsr_ctx *ctx) {
  tsr_memory_stats m;
  assert_ok(tsr_ctx_memory_stats(ctx, &m));
  return (int64_t)m.current_bytes;
}

/* ---- shapes ------------------------------------------------------------ */

static void test_chunk_grid__shape_size_and_nbytes(void **state) {
  (void)state;
  int64_t n = -1;
  uint64_t bytes = 1;
  assert_ok(tsr_shape_size(0, NULL, &n));
  assert_int_equal(n, 1);
  assert_ok(tsr_shape_size(3, (int64_t[]){2, 3, 4}, &n));
  assert_int_equal(n, 24);
  assert_ok(tsr_shape_size(3, (int64_t[]){2, 0, 4}, &n));
  assert_int_equal(n, 0);
  assert_ok(tsr_shape_size(2, (int64_t[]){INT64_MAX, 1}, &n));
  assert_int_equal(n, INT64_MAX);
  assert_ok(tsr_shape_nbytes(3, (int64_t[]){2, 3, 4}, 8, &bytes));
  assert_int_equal(bytes, 192);
  assert_ok(tsr_shape_nbytes(0, NULL, 4, &bytes));
  assert_int_equal(bytes, 4);
  assert_ok(tsr_shape_nbytes(1, (int64_t[]){INT64_MAX}, 2, &bytes));
  assert_true(bytes == UINT64_MAX - 1);

  n = 5;
  assert_fails(tsr_shape_size(2, (int64_t[]){3, -2}, &n), TSR_EINVAL, "shape[1] = -2");
  assert_message_has("tsr_shape_size");
  assert_int_equal(n, 0);
  assert_fails(tsr_shape_size(2, (int64_t[]){INT64_MAX, 2}, &n), TSR_EINVAL, "shape[1] = 2");
  assert_message_has("overflow");
  /* A zero extent does not hide an overflow of the others (as in NumPy). */
  assert_fails(tsr_shape_size(3, (int64_t[]){0, INT64_MAX, 2}, &n), TSR_EINVAL, "shape[2] = 2");
  assert_fails(tsr_shape_size(33, (int64_t[33]){0}, &n), TSR_EINVAL, "ndim = 33");
  assert_fails(tsr_shape_size(-1, NULL, &n), TSR_EINVAL, "ndim = -1");
  assert_fails(tsr_shape_size(2, NULL, &n), TSR_EINVAL, "shape is NULL");
  assert_fails(tsr_shape_size(1, (int64_t[]){1}, NULL), TSR_EINVAL, "out");
  bytes = 5;
  assert_fails(tsr_shape_nbytes(1, (int64_t[]){INT64_MAX}, 4, &bytes), TSR_EINVAL, "overflow");
  assert_message_has("tsr_shape_nbytes");
  assert_int_equal(bytes, 0);
  assert_fails(tsr_shape_nbytes(1, (int64_t[]){-1}, 4, &bytes), TSR_EINVAL, "shape[0] = -1");
  assert_fails(tsr_shape_nbytes(1, (int64_t[]){1}, 4, NULL), TSR_EINVAL, "out");
}

/* ---- construction ------------------------------------------------------ */

static void test_chunk_grid__uniform_ragged(void **state) {
  tsr_ctx *ctx = *state;
  tsr_chunk_grid *g = NULL;
  assert_ok(tsr_chunk_grid_create_uniform(ctx, 2, (int64_t[]){10, 7}, (int64_t[]){4, 3}, &g));
  check_shape(g, 2, (int64_t[]){10, 7});
  check_axis(g, 0, 3, (int64_t[]){0, 4, 8}, (int64_t[]){4, 4, 2});
  check_axis(g, 1, 3, (int64_t[]){0, 3, 6}, (int64_t[]){3, 3, 1});
  assert_int_equal(tsr_chunk_grid_nchunks(g), 9);
  assert_int_equal(tsr_chunk_grid_nchunks_axis(g, 2), 0);
  assert_int_equal(tsr_chunk_grid_nchunks_axis(g, -1), 0);
  assert_int_equal(tsr_chunk_grid_chunk_extent(g, 2, 0), -1);
  assert_int_equal(tsr_chunk_grid_chunk_offset(g, -1, 0), -1);

  /* Chunk 5 is coords (1, 2): rows 4..7, column 6. */
  int64_t shape[2], offset[2], coords[2], index;
  assert_ok(tsr_chunk_grid_chunk(g, 5, shape, offset));
  assert_int_equal(shape[0], 4);
  assert_int_equal(shape[1], 1);
  assert_int_equal(offset[0], 4);
  assert_int_equal(offset[1], 6);
  assert_ok(tsr_chunk_grid_coords(g, 5, coords));
  assert_int_equal(coords[0], 1);
  assert_int_equal(coords[1], 2);
  assert_ok(tsr_chunk_grid_index(g, (int64_t[]){1, 2}, &index));
  assert_int_equal(index, 5);
  /* The last chunk is ragged on both axes. */
  assert_ok(tsr_chunk_grid_chunk(g, 8, shape, offset));
  assert_int_equal(shape[0], 2);
  assert_int_equal(shape[1], 1);
  assert_int_equal(offset[0], 8);
  assert_int_equal(offset[1], 6);
  /* Either output may be NULL. */
  assert_ok(tsr_chunk_grid_chunk(g, 3, shape, NULL));
  assert_int_equal(shape[0], 4);
  assert_int_equal(shape[1], 3);
  assert_ok(tsr_chunk_grid_chunk(g, 3, NULL, offset));
  assert_int_equal(offset[0], 4);
  assert_int_equal(offset[1], 0);
  tsr_chunk_grid_destroy(&g);
  assert_null(g);
  tsr_chunk_grid_destroy(&g);
  tsr_chunk_grid_destroy(NULL);

  /* A chunk larger than the axis is clamped to one chunk of the axis. */
  assert_ok(tsr_chunk_grid_create_uniform(ctx, 2, (int64_t[]){5, 6}, (int64_t[]){100, 6}, &g));
  check_axis(g, 0, 1, (int64_t[]){0}, (int64_t[]){5});
  check_axis(g, 1, 1, (int64_t[]){0}, (int64_t[]){6});
  assert_int_equal(tsr_chunk_grid_nchunks(g), 1);
  tsr_chunk_grid_destroy(&g);

  /* One-element chunks. */
  assert_ok(tsr_chunk_grid_create_uniform(ctx, 1, (int64_t[]){4}, (int64_t[]){1}, &g));
  check_axis(g, 0, 4, (int64_t[]){0, 1, 2, 3}, (int64_t[]){1, 1, 1, 1});
  tsr_chunk_grid_destroy(&g);
}

static void test_chunk_grid__explicit(void **state) {
  tsr_ctx *ctx = *state;
  const int64_t a0[] = {2, 3, 5}, a1[] = {7}, a2[] = {1, 1, 1, 1};
  const int64_t *chunks[] = {a0, a1, a2};
  tsr_chunk_grid *g = NULL;
  assert_ok(tsr_chunk_grid_create_explicit(ctx, 3, chunks, (int64_t[]){3, 1, 4}, &g));
  check_shape(g, 3, (int64_t[]){10, 7, 4});
  check_axis(g, 0, 3, (int64_t[]){0, 2, 5}, (int64_t[]){2, 3, 5});
  check_axis(g, 1, 1, (int64_t[]){0}, (int64_t[]){7});
  check_axis(g, 2, 4, (int64_t[]){0, 1, 2, 3}, (int64_t[]){1, 1, 1, 1});
  assert_int_equal(tsr_chunk_grid_nchunks(g), 12);
  /* Chunk 9 = coords (2, 0, 1): strides are (4, 4, 1). */
  int64_t shape[3], offset[3];
  assert_ok(tsr_chunk_grid_chunk(g, 9, shape, offset));
  assert_int_equal(shape[0], 5);
  assert_int_equal(shape[1], 7);
  assert_int_equal(shape[2], 1);
  assert_int_equal(offset[0], 5);
  assert_int_equal(offset[1], 0);
  assert_int_equal(offset[2], 1);
  tsr_chunk_grid_destroy(&g);
}

static void test_chunk_grid__zero_extent_axes(void **state) {
  tsr_ctx *ctx = *state;
  tsr_chunk_grid *g = NULL;
  /* Uniform: an axis of extent 0 has one chunk of extent 0, whatever chunk. */
  assert_ok(tsr_chunk_grid_create_uniform(ctx, 2, (int64_t[]){0, 5}, (int64_t[]){3, 2}, &g));
  check_shape(g, 2, (int64_t[]){0, 5});
  check_axis(g, 0, 1, (int64_t[]){0}, (int64_t[]){0});
  check_axis(g, 1, 3, (int64_t[]){0, 2, 4}, (int64_t[]){2, 2, 1});
  assert_int_equal(tsr_chunk_grid_nchunks(g), 3);
  int64_t shape[2], offset[2], chunk = 7;
  assert_ok(tsr_chunk_grid_chunk(g, 2, shape, offset));
  assert_int_equal(shape[0], 0);
  assert_int_equal(shape[1], 1);
  assert_int_equal(offset[0], 0);
  assert_int_equal(offset[1], 4);
  /* No element exists, so none can be located. */
  assert_fails(tsr_chunk_grid_locate(g, (int64_t[]){0, 0}, &chunk), TSR_EINVAL, "element[0]");
  assert_message_has("extent 0");
  assert_int_equal(chunk, 0);
  tsr_chunk_grid_destroy(&g);

  /* A chunk of 0 is accepted for an axis of extent 0. */
  assert_ok(tsr_chunk_grid_create_uniform(ctx, 1, (int64_t[]){0}, (int64_t[]){0}, &g));
  check_axis(g, 0, 1, (int64_t[]){0}, (int64_t[]){0});
  tsr_chunk_grid_destroy(&g);

  /* Explicit: an empty list or a single 0. */
  const int64_t zero[] = {0}, three[] = {1, 2};
  const int64_t *chunks[] = {NULL, zero, three};
  assert_ok(tsr_chunk_grid_create_explicit(ctx, 3, chunks, (int64_t[]){0, 1, 2}, &g));
  check_shape(g, 3, (int64_t[]){0, 0, 3});
  check_axis(g, 0, 1, (int64_t[]){0}, (int64_t[]){0});
  check_axis(g, 1, 1, (int64_t[]){0}, (int64_t[]){0});
  check_axis(g, 2, 2, (int64_t[]){0, 1}, (int64_t[]){1, 2});
  assert_int_equal(tsr_chunk_grid_nchunks(g), 2);
  tsr_chunk_grid_destroy(&g);
}

static void test_chunk_grid__ndim_zero(void **state) {
  tsr_ctx *ctx = *state;
  tsr_chunk_grid *grids[3] = {NULL, NULL, NULL};
  assert_ok(tsr_chunk_grid_create_uniform(ctx, 0, NULL, NULL, &grids[0]));
  assert_ok(tsr_chunk_grid_create_explicit(ctx, 0, NULL, NULL, &grids[1]));
  assert_ok(tsr_chunk_grid_create_auto(ctx, 0, NULL, 8, 0, NULL, &grids[2]));
  for (int i = 0; i < 3; i++) {
    tsr_chunk_grid *g = grids[i];
    assert_int_equal(tsr_chunk_grid_ndim(g), 0);
    assert_null(tsr_chunk_grid_shape(g));
    assert_int_equal(tsr_chunk_grid_nchunks(g), 1);
    assert_int_equal(tsr_chunk_grid_nchunks_axis(g, 0), 0);
    assert_int_equal(tsr_chunk_grid_chunk_extent(g, 0, 0), -1);
    int64_t chunk = -1;
    assert_ok(tsr_chunk_grid_coords(g, 0, NULL));
    assert_ok(tsr_chunk_grid_index(g, NULL, &chunk));
    assert_int_equal(chunk, 0);
    assert_ok(tsr_chunk_grid_chunk(g, 0, NULL, NULL));
    chunk = -1;
    assert_ok(tsr_chunk_grid_locate(g, NULL, &chunk));
    assert_int_equal(chunk, 0);
    assert_fails(tsr_chunk_grid_coords(g, 1, NULL), TSR_EINVAL, "chunk = 1");
    assert_fails(tsr_chunk_grid_chunk(g, -1, NULL, NULL), TSR_EINVAL, "chunk = -1");
    tsr_chunk_grid_destroy(&grids[i]);
  }
}

/* ---- numbering ------------------------------------------------------------ */

/* Every chunk of g against a C-order odometer, and chunk() against per-axis
 * offsets and extents `off[d][i]`, `ext[d][i]` computed by the caller. */
static void check_numbering(const tsr_chunk_grid *g, int ndim, const int64_t *counts,
                            int64_t *const *off, int64_t *const *ext) {
  int64_t total = 1;
  for (int d = 0; d < ndim; d++)
    total *= counts[d];
  assert_int_equal(tsr_chunk_grid_nchunks(g), total);
  int64_t odo[TSR_MAX_NDIM] = {0};
  for (int64_t k = 0; k < total; k++) {
    int64_t coords[TSR_MAX_NDIM], shape[TSR_MAX_NDIM], offset[TSR_MAX_NDIM], back = -1;
    assert_ok(tsr_chunk_grid_coords(g, k, coords));
    for (int d = 0; d < ndim; d++)
      assert_int_equal(coords[d], odo[d]);
    assert_ok(tsr_chunk_grid_index(g, odo, &back));
    assert_int_equal(back, k);
    assert_ok(tsr_chunk_grid_chunk(g, k, shape, offset));
    for (int d = 0; d < ndim; d++) {
      assert_int_equal(shape[d], ext[d][odo[d]]);
      assert_int_equal(offset[d], off[d][odo[d]]);
    }
    for (int d = ndim - 1; d >= 0; d--) { /* last axis fastest */
      if (++odo[d] < counts[d])
        break;
      odo[d] = 0;
    }
  }
  int64_t coords[TSR_MAX_NDIM];
  assert_fails(tsr_chunk_grid_coords(g, total, coords), TSR_EINVAL, "outside");
}

/* Offsets and extents of a uniform axis, computed naively. */
static int64_t uniform_axis(int64_t extent, int64_t c, int64_t *off, int64_t *ext) {
  int64_t n = 0;
  for (int64_t start = 0; start < extent; start += c, n++) {
    off[n] = start;
    ext[n] = start + c <= extent ? c : extent - start;
  }
  return n;
}

static void test_chunk_grid__coords_index_round_trip(void **state) {
  tsr_ctx *ctx = *state;
  struct {
    int ndim;
    int64_t shape[4], chunk[4];
  } cases[] = {
      {2, {10, 7}, {4, 3}}, {3, {5, 1, 9}, {2, 1, 4}}, {4, {3, 4, 2, 5}, {1, 3, 2, 5}},
      {1, {17}, {5}},       {3, {6, 6, 6}, {6, 1, 4}},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    int ndim = cases[c].ndim;
    int64_t offs[4][32], exts[4][32], counts[4];
    int64_t *off[4] = {offs[0], offs[1], offs[2], offs[3]};
    int64_t *ext[4] = {exts[0], exts[1], exts[2], exts[3]};
    for (int d = 0; d < ndim; d++)
      counts[d] = uniform_axis(cases[c].shape[d], cases[c].chunk[d], off[d], ext[d]);
    tsr_chunk_grid *g = NULL;
    assert_ok(tsr_chunk_grid_create_uniform(ctx, ndim, cases[c].shape, cases[c].chunk, &g));
    check_numbering(g, ndim, counts, off, ext);
    tsr_chunk_grid_destroy(&g);
  }
  /* And an explicit grid with uneven chunks. */
  int64_t e0[] = {3, 1, 2}, e1[] = {2, 5}, o0[] = {0, 3, 4}, o1[] = {0, 2};
  const int64_t *chunks[] = {e0, e1};
  tsr_chunk_grid *g = NULL;
  assert_ok(tsr_chunk_grid_create_explicit(ctx, 2, chunks, (int64_t[]){3, 2}, &g));
  check_numbering(g, 2, (int64_t[]){3, 2}, (int64_t *[]){o0, o1}, (int64_t *[]){e0, e1});
  tsr_chunk_grid_destroy(&g);
}

/* ---- locate -------------------------------------------------------------- */

/* The chunk holding each element, by linear scans over the test's own chunk
 * lists: for every element of the grid, compare. */
static void check_locate_3d(tsr_chunk_grid *g, const int64_t *const lists[3],
                            const int64_t counts[3]) {
  int64_t extent[3] = {0, 0, 0};
  for (int d = 0; d < 3; d++)
    for (int64_t i = 0; i < counts[d]; i++)
      extent[d] += lists[d][i];
  for (int64_t x = 0; x < extent[0]; x++) {
    for (int64_t y = 0; y < extent[1]; y++) {
      for (int64_t z = 0; z < extent[2]; z++) {
        int64_t e[3] = {x, y, z}, which[3];
        for (int d = 0; d < 3; d++) {
          int64_t start = 0;
          which[d] = -1;
          for (int64_t i = 0; i < counts[d]; i++) {
            if (e[d] >= start && e[d] < start + lists[d][i])
              which[d] = i;
            start += lists[d][i];
          }
        }
        int64_t expected = (which[0] * counts[1] + which[1]) * counts[2] + which[2];
        int64_t chunk = -1;
        assert_ok(tsr_chunk_grid_locate(g, e, &chunk));
        assert_int_equal(chunk, expected);
      }
    }
  }
}

static void test_chunk_grid__locate_matches_linear_scan(void **state) {
  tsr_ctx *ctx = *state;
  /* Explicit, uneven. */
  const int64_t a0[] = {1, 3, 2}, a1[] = {4, 1}, a2[] = {2, 2, 2, 1};
  const int64_t *lists[] = {a0, a1, a2};
  const int64_t counts[] = {3, 2, 4};
  tsr_chunk_grid *g = NULL;
  assert_ok(tsr_chunk_grid_create_explicit(ctx, 3, lists, counts, &g));
  check_locate_3d(g, lists, counts);
  tsr_chunk_grid_destroy(&g);

  /* Uniform with ragged ends, including one-element chunks. */
  const int64_t u0[] = {3, 3, 1}, u1[] = {1, 1, 1, 1, 1}, u2[] = {4, 4, 4, 2};
  const int64_t *ulists[] = {u0, u1, u2};
  const int64_t ucounts[] = {3, 5, 4};
  assert_ok(tsr_chunk_grid_create_uniform(ctx, 3, (int64_t[]){7, 5, 14}, (int64_t[]){3, 1, 4}, &g));
  check_locate_3d(g, ulists, ucounts);

  int64_t chunk = 9;
  assert_fails(tsr_chunk_grid_locate(g, (int64_t[]){0, 5, 0}, &chunk), TSR_EINVAL,
               "element[1] = 5");
  assert_message_has("tsr_chunk_grid_locate");
  assert_int_equal(chunk, 0);
  assert_fails(tsr_chunk_grid_locate(g, (int64_t[]){0, 0, -1}, &chunk), TSR_EINVAL,
               "element[2] = -1");
  assert_fails(tsr_chunk_grid_locate(g, NULL, &chunk), TSR_EINVAL, "element is NULL");
  assert_fails(tsr_chunk_grid_locate(g, (int64_t[]){0, 0, 0}, NULL), TSR_EINVAL, "chunk is NULL");
  assert_fails(tsr_chunk_grid_locate(NULL, (int64_t[]){0, 0, 0}, &chunk), TSR_EINVAL, "grid");
  tsr_chunk_grid_destroy(&g);
}

/* ---- errors ---------------------------------------------------------------- */

static void test_chunk_grid__uniform_errors(void **state) {
  tsr_ctx *ctx = *state;
  tsr_chunk_grid *g = (tsr_chunk_grid *)&g; /* any non-NULL value: must be reset */
  assert_fails(tsr_chunk_grid_create_uniform(ctx, 2, (int64_t[]){4, 6}, (int64_t[]){2, 0}, &g),
               TSR_EINVAL, "tsr_chunk_grid_create_uniform: chunk[1] = 0 must be at least 1");
  assert_null(g);
  assert_fails(tsr_chunk_grid_create_uniform(ctx, 2, (int64_t[]){4, 6}, (int64_t[]){-3, 2}, &g),
               TSR_EINVAL, "chunk[0] = -3");
  assert_fails(tsr_chunk_grid_create_uniform(ctx, 2, (int64_t[]){0, 6}, (int64_t[]){-1, 2}, &g),
               TSR_EINVAL, "chunk[0] = -1");
  assert_fails(tsr_chunk_grid_create_uniform(ctx, 2, (int64_t[]){4, -6}, (int64_t[]){2, 2}, &g),
               TSR_EINVAL, "shape[1] = -6");
  assert_message_has("tsr_chunk_grid_create_uniform");
  assert_fails(tsr_chunk_grid_create_uniform(ctx, 2, (int64_t[]){INT64_MAX, 2},
                                             (int64_t[]){INT64_MAX, 2}, &g),
               TSR_EINVAL, "shape[1] = 2");
  assert_message_has("overflow");
  int64_t big[33];
  for (int d = 0; d < 33; d++)
    big[d] = 1;
  assert_fails(tsr_chunk_grid_create_uniform(ctx, 33, big, big, &g), TSR_EINVAL, "ndim = 33");
  assert_fails(tsr_chunk_grid_create_uniform(ctx, -1, big, big, &g), TSR_EINVAL, "ndim = -1");
  /* 32 axes is the limit, and allowed. */
  assert_ok(tsr_chunk_grid_create_uniform(ctx, 32, big, big, &g));
  assert_int_equal(tsr_chunk_grid_nchunks(g), 1);
  tsr_chunk_grid_destroy(&g);
  assert_fails(tsr_chunk_grid_create_uniform(NULL, 1, big, big, &g), TSR_EINVAL, "ctx is NULL");
  assert_fails(tsr_chunk_grid_create_uniform(ctx, 1, big, big, NULL), TSR_EINVAL, "out is NULL");
  assert_fails(tsr_chunk_grid_create_uniform(ctx, 1, NULL, big, &g), TSR_EINVAL, "shape is NULL");
  assert_fails(tsr_chunk_grid_create_uniform(ctx, 1, big, NULL, &g), TSR_EINVAL, "chunk is NULL");
  assert_null(g);
}

static void test_chunk_grid__explicit_errors(void **state) {
  tsr_ctx *ctx = *state;
  static const char fn[] = "tsr_chunk_grid_create_explicit";
  tsr_chunk_grid *g = (tsr_chunk_grid *)&g;
  const int64_t ok[] = {2, 2}, with_zero[] = {3, 0, 2}, negative[] = {3, -1}, zeros[] = {0, 0};
  const int64_t huge[] = {INT64_MAX, 1}, max[] = {INT64_MAX}, two[] = {2};

  assert_fails(tsr_chunk_grid_create_explicit(ctx, 2, (const int64_t *[]){ok, with_zero},
                                              (int64_t[]){2, 3}, &g),
               TSR_EINVAL, "chunks[1][1] = 0 must be at least 1");
  assert_message_has(fn);
  assert_null(g);
  assert_fails(
      tsr_chunk_grid_create_explicit(ctx, 1, (const int64_t *[]){negative}, (int64_t[]){2}, &g),
      TSR_EINVAL, "chunks[0][1] = -1");
  /* Only a single 0 stands for an empty axis. */
  assert_fails(
      tsr_chunk_grid_create_explicit(ctx, 1, (const int64_t *[]){zeros}, (int64_t[]){2}, &g),
      TSR_EINVAL, "chunks[0][0] = 0");
  /* The extents of one axis must sum within int64 ... */
  assert_fails(
      tsr_chunk_grid_create_explicit(ctx, 1, (const int64_t *[]){huge}, (int64_t[]){2}, &g),
      TSR_EINVAL, "chunks[0][1] = 1");
  assert_message_has("overflow");
  /* ... and the element count over the axes too. */
  assert_fails(
      tsr_chunk_grid_create_explicit(ctx, 2, (const int64_t *[]){max, two}, (int64_t[]){1, 1}, &g),
      TSR_EINVAL, "shape[1] = 2");
  assert_fails(tsr_chunk_grid_create_explicit(ctx, 1, (const int64_t *[]){ok}, (int64_t[]){-1}, &g),
               TSR_EINVAL, "nchunks[0] = -1");
  assert_fails(
      tsr_chunk_grid_create_explicit(ctx, 2, (const int64_t *[]){ok, NULL}, (int64_t[]){2, 1}, &g),
      TSR_EINVAL, "chunks[1] is NULL");
  assert_fails(tsr_chunk_grid_create_explicit(ctx, 1, NULL, (int64_t[]){2}, &g), TSR_EINVAL,
               "chunks is NULL");
  assert_fails(tsr_chunk_grid_create_explicit(ctx, 1, (const int64_t *[]){ok}, NULL, &g),
               TSR_EINVAL, "nchunks is NULL");
  assert_fails(tsr_chunk_grid_create_explicit(ctx, 33, NULL, NULL, &g), TSR_EINVAL, "ndim = 33");
  assert_fails(tsr_chunk_grid_create_explicit(NULL, 1, (const int64_t *[]){ok}, (int64_t[]){2}, &g),
               TSR_EINVAL, "ctx is NULL");
  assert_fails(
      tsr_chunk_grid_create_explicit(ctx, 1, (const int64_t *[]){ok}, (int64_t[]){2}, NULL),
      TSR_EINVAL, "out is NULL");
  assert_null(g);
}

static void test_chunk_grid__query_errors(void **state) {
  tsr_ctx *ctx = *state;
  tsr_chunk_grid *g = NULL;
  assert_ok(tsr_chunk_grid_create_uniform(ctx, 2, (int64_t[]){10, 7}, (int64_t[]){4, 3}, &g));
  int64_t coords[2] = {5, 5}, chunk = 5, shape[2] = {5, 5}, offset[2] = {5, 5};
  assert_fails(tsr_chunk_grid_coords(g, 9, coords), TSR_EINVAL, "chunk = 9");
  assert_message_has("tsr_chunk_grid_coords");
  assert_int_equal(coords[0], 0);
  assert_int_equal(coords[1], 0);
  assert_fails(tsr_chunk_grid_coords(g, -1, coords), TSR_EINVAL, "chunk = -1");
  assert_fails(tsr_chunk_grid_coords(g, 0, NULL), TSR_EINVAL, "coords is NULL");
  assert_fails(tsr_chunk_grid_coords(NULL, 0, coords), TSR_EINVAL, "grid is NULL");
  assert_fails(tsr_chunk_grid_index(g, (int64_t[]){1, 3}, &chunk), TSR_EINVAL, "coords[1] = 3");
  assert_message_has("tsr_chunk_grid_index");
  assert_int_equal(chunk, 0);
  assert_fails(tsr_chunk_grid_index(g, (int64_t[]){-1, 0}, &chunk), TSR_EINVAL, "coords[0] = -1");
  assert_fails(tsr_chunk_grid_index(g, NULL, &chunk), TSR_EINVAL, "coords is NULL");
  assert_fails(tsr_chunk_grid_index(g, coords, NULL), TSR_EINVAL, "chunk is NULL");
  assert_fails(tsr_chunk_grid_index(NULL, coords, &chunk), TSR_EINVAL, "grid is NULL");
  assert_fails(tsr_chunk_grid_chunk(g, 9, shape, offset), TSR_EINVAL, "chunk = 9");
  assert_message_has("tsr_chunk_grid_chunk");
  assert_int_equal(shape[0], 0);
  assert_int_equal(offset[1], 0);
  assert_fails(tsr_chunk_grid_chunk(NULL, 0, shape, offset), TSR_EINVAL, "grid is NULL");
  tsr_chunk_grid_destroy(&g);

  /* Getters on NULL. */
  assert_int_equal(tsr_chunk_grid_ndim(NULL), 0);
  assert_null(tsr_chunk_grid_shape(NULL));
  assert_int_equal(tsr_chunk_grid_nchunks(NULL), 0);
  assert_int_equal(tsr_chunk_grid_nchunks_axis(NULL, 0), 0);
  assert_int_equal(tsr_chunk_grid_chunk_extent(NULL, 0, 0), -1);
  assert_int_equal(tsr_chunk_grid_chunk_offset(NULL, 0, 0), -1);
}

/* ---- automatic chunks -------------------------------------------------------- */

/* Creates an auto grid and checks the chunk extents (the first chunk of each
 * axis; the others follow from uniform chunking) and chunk counts. */
static void check_auto(tsr_ctx *ctx, int ndim, const int64_t *shape, size_t itemsize,
                       uint64_t target, const int64_t *fixed, const int64_t *chunk,
                       const int64_t *nchunks) {
  tsr_chunk_grid *g = NULL;
  assert_ok(tsr_chunk_grid_create_auto(ctx, ndim, shape, itemsize, target, fixed, &g));
  check_shape(g, ndim, shape);
  for (int d = 0; d < ndim; d++) {
    if (tsr_chunk_grid_chunk_extent(g, d, 0) != chunk[d] ||
        tsr_chunk_grid_nchunks_axis(g, d) != nchunks[d])
      print_error("axis %d: chunk %lld x %lld, expected %lld x %lld\n", d,
                  (long long)tsr_chunk_grid_chunk_extent(g, d, 0),
                  (long long)tsr_chunk_grid_nchunks_axis(g, d), (long long)chunk[d],
                  (long long)nchunks[d]);
    assert_int_equal(tsr_chunk_grid_chunk_extent(g, d, 0), chunk[d]);
    assert_int_equal(tsr_chunk_grid_nchunks_axis(g, d), nchunks[d]);
  }
  tsr_chunk_grid_destroy(&g);
}

static void test_chunk_grid__auto_worked_examples(void **state) {
  tsr_ctx *ctx = *state;
  /* (20000, 5000) float64, 128 MiB: 2^24 elements, edge sqrt(2^24) = 4096;
   * both axes are longer.  Balanced: 20000 -> 5 chunks of 4000; 5000 -> 2 of
   * 2500.  A chunk is 80 MB. */
  check_auto(ctx, 2, (int64_t[]){20000, 5000}, 8, 128ull << 20, NULL, (int64_t[]){4000, 2500},
             (int64_t[]){5, 2});
  /* The same with target 0 and a context of 128 MiB (the default). */
  assert_ok(tsr_ctx_set_chunk_bytes(ctx, 128ull << 20));
  check_auto(ctx, 2, (int64_t[]){20000, 5000}, 8, 0, NULL, (int64_t[]){4000, 2500},
             (int64_t[]){5, 2});
  /* Target 0 with 8000 context bytes: 1000 elements, edge floor(sqrt(1000))
   * = 31; 1000 / 31 -> 33 chunks, balanced ceil(1000 / 33) = 31. */
  assert_ok(tsr_ctx_set_chunk_bytes(ctx, 8000));
  check_auto(ctx, 2, (int64_t[]){1000, 1000}, 8, 0, NULL, (int64_t[]){31, 31}, (int64_t[]){33, 33});
  /* A fixed axis: 1 MiB of float64 = 131072 elements, / 10 fixed = 13107;
   * edge floor(sqrt(13107)) = 114 (114^2 = 12996, 115^2 = 13225); 1000 / 114
   * -> 9 chunks, balanced ceil(1000 / 9) = 112.  112*10*112*8 = 1003520. */
  check_auto(ctx, 3, (int64_t[]){1000, 1000, 1000}, 8, 1 << 20, (int64_t[]){0, 10, 0},
             (int64_t[]){112, 10, 112}, (int64_t[]){9, 100, 9});
  /* A fixed extent larger than the axis is clamped: 100 elements / 5 = 20. */
  check_auto(ctx, 2, (int64_t[]){5, 1000}, 8, 800, (int64_t[]){10, 0}, (int64_t[]){5, 20},
             (int64_t[]){1, 50});
  /* A short axis takes the whole axis: 10^6 float32 elements, edge 100, so
   * the axis of 3 is whole; 333333 left for two axes: edge 577 (577^2 =
   * 332929, 578^2 = 334084); 100000 / 577 -> 174 chunks of 575. */
  check_auto(ctx, 3, (int64_t[]){3, 100000, 100000}, 4, 4000000, NULL, (int64_t[]){3, 575, 575},
             (int64_t[]){1, 174, 174});
  /* Two rounds: 10^6 one-byte elements, edge 100 takes the axis of 10; then
   * 10^5 for two axes, edge 316 takes the axis of 300; then 333 for the
   * last: 10^6 / 333 -> 3004 chunks, balanced ceil(10^6 / 3004) = 333. */
  check_auto(ctx, 3, (int64_t[]){10, 300, 1000000}, 1, 1000000, NULL, (int64_t[]){10, 300, 333},
             (int64_t[]){1, 1, 3004});
  /* An exact cube root that pow() misses by an ulp: 10^6^(1/3) = 100. */
  check_auto(ctx, 3, (int64_t[]){1000, 1000, 1000}, 1, 1000000, NULL, (int64_t[]){100, 100, 100},
             (int64_t[]){10, 10, 10});
  /* Four axes: edge 10^6^(1/4) = 31.6 takes the 7; 142857 for three: edge 52
   * (52^3 = 140608, 53^3 = 148877); 100 / 52 -> 2 chunks of 50. */
  check_auto(ctx, 4, (int64_t[]){100, 100, 100, 7}, 1, 1000000, NULL, (int64_t[]){50, 50, 50, 7},
             (int64_t[]){2, 2, 2, 1});
  /* One axis: 131072 float64 per MiB; 10^6 / 131072 -> 8 chunks of 125000. */
  check_auto(ctx, 1, (int64_t[]){1000000}, 8, 1 << 20, NULL, (int64_t[]){125000}, (int64_t[]){8});
  /* Everything fits: one chunk. */
  check_auto(ctx, 2, (int64_t[]){100, 200}, 8, 1 << 20, NULL, (int64_t[]){100, 200},
             (int64_t[]){1, 1});
  /* A zero-extent axis gets one empty chunk and leaves the budget alone. */
  check_auto(ctx, 2, (int64_t[]){0, 1000}, 8, 800, NULL, (int64_t[]){0, 100}, (int64_t[]){1, 10});
  /* One element is already over the target: one element per auto axis. */
  check_auto(ctx, 2, (int64_t[]){7, 9}, 8, 4, NULL, (int64_t[]){1, 1}, (int64_t[]){7, 9});
  /* -1 takes the whole axis, as in Dask: 100 elements over 1 axis of 50 -> 2 left. */
  check_auto(ctx, 2, (int64_t[]){50, 9}, 8, 800, (int64_t[]){-1, 0}, (int64_t[]){50, 2},
             (int64_t[]){1, 5});
  /* Fixed axes alone are over the target: auto axes get 1. */
  check_auto(ctx, 2, (int64_t[]){50, 9}, 8, 80, (int64_t[]){20, 0}, (int64_t[]){20, 1},
             (int64_t[]){3, 9});
}

/* A deterministic generator for the test's own random shapes. */
static uint64_t lcg(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return *s >> 33;
}

static void test_chunk_grid__auto_never_exceeds_target(void **state) {
  tsr_ctx *ctx = *state;
  uint64_t seed = 12345;
  for (int trial = 0; trial < 2000; trial++) {
    int ndim = 1 + (int)(lcg(&seed) % 4);
    int64_t shape[4], fixed[4];
    for (int d = 0; d < ndim; d++) {
      uint64_t r = lcg(&seed);
      shape[d] = (int64_t)(r % 4 == 0 ? r % 7 : r % 5000); /* some tiny and 0 extents */
      fixed[d] = lcg(&seed) % 4 == 0 ? (int64_t)(1 + lcg(&seed) % 50) : 0;
    }
    size_t itemsize = (size_t)1 << (lcg(&seed) % 4);
    uint64_t target = 1 + lcg(&seed) % 2000000;
    bool use_fixed = lcg(&seed) % 2 == 0;
    tsr_chunk_grid *g = NULL;
    assert_ok(tsr_chunk_grid_create_auto(ctx, ndim, shape, itemsize, target,
                                         use_fixed ? fixed : NULL, &g));
    /* The chunk must fit in the target unless one element on every auto axis
     * (with the fixed axes at their extent) already does not. */
    uint64_t elements = 1, minimum = 1;
    for (int d = 0; d < ndim; d++) {
      int64_t c = tsr_chunk_grid_chunk_extent(g, d, 0);
      int64_t n = tsr_chunk_grid_nchunks_axis(g, d);
      if (shape[d] == 0) {
        assert_int_equal(c, 0);
        assert_int_equal(n, 1);
        continue;
      }
      assert_true(c >= 1 && c <= shape[d]);
      assert_int_equal(n, (shape[d] + c - 1) / c);
      if (use_fixed && fixed[d] > 0) {
        assert_int_equal(c, fixed[d] < shape[d] ? fixed[d] : shape[d]);
        minimum *= (uint64_t)c;
      } else {
        /* Balanced: no smaller chunk gives the same number of chunks. */
        assert_int_equal(c, (shape[d] + n - 1) / n);
      }
      elements *= (uint64_t)c;
    }
    if (minimum * itemsize <= target)
      assert_true(elements * itemsize <= target);
    tsr_chunk_grid_destroy(&g);
  }
}

static void test_chunk_grid__auto_errors(void **state) {
  tsr_ctx *ctx = *state;
  static const char fn[] = "tsr_chunk_grid_create_auto";
  tsr_chunk_grid *g = (tsr_chunk_grid *)&g;
  assert_fails(tsr_chunk_grid_create_auto(ctx, 1, (int64_t[]){10}, 0, 100, NULL, &g), TSR_EINVAL,
               "itemsize = 0");
  assert_message_has(fn);
  assert_null(g);
  assert_fails(tsr_chunk_grid_create_auto(ctx, 2, (int64_t[]){10, -1}, 8, 100, NULL, &g),
               TSR_EINVAL, "shape[1] = -1");
  assert_message_has(fn);
  assert_fails(tsr_chunk_grid_create_auto(ctx, 2, (int64_t[]){INT64_MAX, 2}, 8, 100, NULL, &g),
               TSR_EINVAL, "shape[1] = 2");
  assert_fails(tsr_chunk_grid_create_auto(ctx, 33, (int64_t[33]){0}, 8, 100, NULL, &g), TSR_EINVAL,
               "ndim = 33");
  assert_fails(
      tsr_chunk_grid_create_auto(ctx, 2, (int64_t[]){10, 10}, 8, 100, (int64_t[]){0, -2}, &g),
      TSR_EINVAL, "fixed[1] = -2");
  assert_fails(tsr_chunk_grid_create_auto(ctx, 1, NULL, 8, 100, NULL, &g), TSR_EINVAL,
               "shape is NULL");
  assert_fails(tsr_chunk_grid_create_auto(NULL, 1, (int64_t[]){10}, 8, 100, NULL, &g), TSR_EINVAL,
               "ctx is NULL");
  assert_fails(tsr_chunk_grid_create_auto(ctx, 1, (int64_t[]){10}, 8, 100, NULL, NULL), TSR_EINVAL,
               "out is NULL");
}

/* ---- out of memory ------------------------------------------------------------ */

typedef tsr_status (*create_fn)(tsr_ctx *ctx, tsr_chunk_grid **out);

static tsr_status create_uniform_3d(tsr_ctx *ctx, tsr_chunk_grid **out) {
  return tsr_chunk_grid_create_uniform(ctx, 3, (int64_t[]){10, 7, 5}, (int64_t[]){4, 3, 5}, out);
}

static tsr_status create_explicit_2d(tsr_ctx *ctx, tsr_chunk_grid **out) {
  const int64_t a[] = {1, 2, 3}, b[] = {4};
  return tsr_chunk_grid_create_explicit(ctx, 2, (const int64_t *[]){a, b}, (int64_t[]){3, 1}, out);
}

static tsr_status create_auto_4d(tsr_ctx *ctx, tsr_chunk_grid **out) {
  return tsr_chunk_grid_create_auto(ctx, 4, (int64_t[]){100, 0, 30, 70}, 8, 4096,
                                    (int64_t[]){0, 0, 7, 0}, out);
}

static void test_chunk_grid__fail_nth_allocation(void **state) {
  tsr_ctx *ctx = *state;
  create_fn fns[] = {create_uniform_3d, create_explicit_2d, create_auto_4d};
  for (size_t f = 0; f < sizeof fns / sizeof fns[0]; f++) {
    bool succeeded = false;
    uint64_t n;
    for (n = 1; n < 100 && !succeeded; n++) {
      assert_ok(tsr_ctx_set_fail_allocation(ctx, n));
      tsr_chunk_grid *g = (tsr_chunk_grid *)&g;
      tsr_status s = fns[f](ctx, &g);
      assert_ok(tsr_ctx_set_fail_allocation(ctx, 0));
      if (s == TSR_OK) {
        assert_non_null(g);
        assert_true(tsr_chunk_grid_nchunks(g) >= 1);
        tsr_chunk_grid_destroy(&g);
        succeeded = true;
      } else {
        assert_int_equal(s, TSR_ENOMEM);
        assert_non_null(strstr(tsr_last_error(), "injected"));
        assert_null(g);
      }
      assert_int_equal(bytes_in_use(ctx), 0);
    }
    assert_true(succeeded);
    assert_true(n > 2); /* at least one failure was injected and handled */
  }
}

/* Regular axes (equal chunks, the last possibly shorter) cost no memory
 * per chunk: a grid of 10^15 x 3 chunks is one small block, and answers
 * every query at both ends; an explicit list that happens to be regular is
 * stored the same way; an irregular list keeps its boundaries (its memory
 * follows the list the caller gave). */
static void test_chunk_grid__regular_axes_cost_no_memory_per_chunk(void **state) {
  tsr_ctx *ctx = *state;
  tsr_chunk_grid *g = NULL;
  int64_t shape[2] = {1000000000000000ll, 30}, chunk[2] = {1, 10};
  assert_ok(tsr_chunk_grid_create_uniform(ctx, 2, shape, chunk, &g));
  assert_true(bytes_in_use(ctx) < 4096);
  assert_int_equal(tsr_chunk_grid_nchunks(g), 3000000000000000ll);
  int64_t last = 2999999999999999ll, cs[2], co[2], where = -1;
  assert_ok(tsr_chunk_grid_chunk(g, last, cs, co));
  assert_int_equal(co[0], 999999999999999ll);
  assert_int_equal(co[1], 20);
  assert_int_equal(cs[0], 1);
  assert_int_equal(cs[1], 10);
  assert_ok(tsr_chunk_grid_locate(g, (int64_t[]){999999999999999ll, 29}, &where));
  assert_int_equal(where, last);
  assert_ok(tsr_chunk_grid_locate(g, (int64_t[]){5, 9}, &where));
  assert_int_equal(where, 15);
  assert_int_equal(tsr_chunk_grid_chunk_offset(g, 0, 999999999999999ll), 999999999999999ll);
  assert_int_equal(tsr_chunk_grid_chunk_extent(g, 0, 1000000000000000ll), -1);
  tsr_chunk_grid_destroy(&g);
  /* Ragged last chunk near INT64_MAX: offsets never overflow. */
  int64_t big[1] = {INT64_MAX}, half[1] = {((int64_t)1 << 62) + 1};
  assert_ok(tsr_chunk_grid_create_uniform(ctx, 1, big, half, &g));
  assert_int_equal(tsr_chunk_grid_nchunks(g), 2);
  assert_int_equal(tsr_chunk_grid_chunk_extent(g, 0, 1), INT64_MAX - half[0]);
  assert_ok(tsr_chunk_grid_locate(g, (int64_t[]){INT64_MAX - 1}, &where));
  assert_int_equal(where, 1);
  tsr_chunk_grid_destroy(&g);
  /* A regular explicit list is as small; an irregular one is kept. */
  int64_t reg[4] = {5, 5, 5, 2}, irr[4] = {5, 2, 5, 5}, four = 4;
  const int64_t *lists[1] = {reg};
  uint64_t before = (uint64_t)bytes_in_use(ctx);
  assert_ok(tsr_chunk_grid_create_explicit(ctx, 1, lists, &four, &g));
  uint64_t regular_bytes = (uint64_t)bytes_in_use(ctx) - before;
  check_axis(g, 0, 4, (int64_t[]){0, 5, 10, 15}, reg);
  tsr_chunk_grid_destroy(&g);
  lists[0] = irr;
  assert_ok(tsr_chunk_grid_create_explicit(ctx, 1, lists, &four, &g));
  assert_true((uint64_t)bytes_in_use(ctx) - before > regular_bytes); /* + the boundaries */
  check_axis(g, 0, 4, (int64_t[]){0, 5, 7, 12}, irr);
  assert_ok(tsr_chunk_grid_locate(g, (int64_t[]){6}, &where));
  assert_int_equal(where, 1);
  assert_ok(tsr_chunk_grid_locate(g, (int64_t[]){16}, &where));
  assert_int_equal(where, 3);
  tsr_chunk_grid_destroy(&g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_chunk_grid__shape_size_and_nbytes),
#define T(name) cmocka_unit_test_setup_teardown(name, test_ctx_setup, test_ctx_teardown)
      T(test_chunk_grid__uniform_ragged),
      T(test_chunk_grid__explicit),
      T(test_chunk_grid__zero_extent_axes),
      T(test_chunk_grid__ndim_zero),
      T(test_chunk_grid__coords_index_round_trip),
      T(test_chunk_grid__locate_matches_linear_scan),
      T(test_chunk_grid__uniform_errors),
      T(test_chunk_grid__explicit_errors),
      T(test_chunk_grid__query_errors),
      T(test_chunk_grid__auto_worked_examples),
      T(test_chunk_grid__auto_never_exceeds_target),
      T(test_chunk_grid__auto_errors),
      T(test_chunk_grid__fail_nth_allocation),
      T(test_chunk_grid__regular_axes_cost_no_memory_per_chunk),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

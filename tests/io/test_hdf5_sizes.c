/* test_hdf5_sizes.c — HDF5 datasets at the size limits.  Sparse chunked
 * datasets of 3 x 10^13 chunks (shape (10^14, 30) in 10 x 10 chunks, made
 * with the HDF5 C API in an instant: no chunk is written) open, and a small
 * slice of them reads the right values (the ones written, the fill value
 * elsewhere) under a 64 MiB memory limit on the context, so that any
 * allocation per chunk of the dataset (grid boundaries, task ids, segment
 * lists) fails the test.  A dataset whose element count or bytes overflow
 * int64 is refused with a message naming it. */
#include "hdf5_test_util.h"

#define LIMIT ((uint64_t)64 << 20)

/* A chunked dataset of `shape` (nd axes) and `chunk` of float64 (int8 when
 * box0 == 0 and `small`) in a new file, with the values v(i, j) = 1000 i + j written into the box
 * [0, box0) x [0, box1) of the first two axes at index 0 of the others
 * (box0 = 0: nothing written). */
static void make_typed(const char *path, int nd, const hsize_t *shape, const hsize_t *chunk,
                       hsize_t box0, hsize_t box1, bool small) {
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t space = H5Screate_simple(nd, shape, NULL);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  assert_true(f >= 0 && space >= 0 && dcpl >= 0);
  assert_true(H5Pset_chunk(dcpl, nd, chunk) >= 0);
  hid_t d = H5Dcreate2(f, "t", small ? H5T_STD_I8LE : H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl,
                       H5P_DEFAULT);
  assert_true(d >= 0);
  if (box0 > 0) {
    hsize_t start[H5S_MAX_RANK] = {0}, count[H5S_MAX_RANK];
    for (int a = 0; a < nd; a++)
      count[a] = 1;
    count[0] = box0;
    count[1] = box1;
    double *v = malloc(box0 * box1 * sizeof *v);
    assert_non_null(v);
    for (hsize_t i = 0; i < box0; i++)
      for (hsize_t j = 0; j < box1; j++)
        v[i * box1 + j] = 1000.0 * (double)i + (double)j;
    hid_t mem = H5Screate_simple(nd, count, NULL);
    assert_true(H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL) >= 0);
    assert_true(H5Dwrite(d, H5T_NATIVE_DOUBLE, mem, space, H5P_DEFAULT, v) >= 0);
    H5Sclose(mem);
    free(v);
  }
  H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(space);
  H5Fclose(f);
}

static void make_sparse(const char *path, int nd, const hsize_t *shape, const hsize_t *chunk,
                        hsize_t box0, hsize_t box1) {
  make_typed(path, nd, shape, chunk, box0, box1, false);
}

static void test_hdf5_sizes__small_slice_of_huge_sparse_dataset(void **state) {
  tsr_ctx *ctx = *state;
  char path[512];
  scratch(path, sizeof path, "huge2d.h5");
  hsize_t shape[2] = {100000000000000ull, 30}, chunk[2] = {10, 10};
  make_sparse(path, 2, shape, chunk, 4, 12); /* part of chunks (0, 0) and (0, 1) */
  assert_ok(tsr_ctx_set_memory_limit(ctx, LIMIT));
  tsr_array *t = NULL, *s = NULL;
  /* The default chunks (file chunks grown to the chunk target) ... */
  assert_ok(tsr_array_from_hdf5(ctx, path, "t", NULL, &t));
  assert_ok(tsr_slice(t, 2, (tsr_index[]){TSR_SLICE(1, 2, 1), TSR_SLICE(2, 3, 1)}, &s));
  double one = -1;
  assert_ok(tsr_array_to_buffer(s, &one, sizeof one));
  assert_true(one == 1002.0);
  tsr_array_destroy(&s);
  tsr_array_destroy(&t);
  /* ... and the file's own 10 x 10: 3 x 10^13 chunks. */
  assert_ok(tsr_array_from_hdf5(ctx, path, "t", (int64_t[]){10, 10}, &t));
  assert_int_equal(tsr_array_shape(t)[0], 100000000000000ll);
  assert_int_equal(tsr_chunk_grid_nchunks(tsr_array_chunks(t)), 30000000000000ll);
  /* t[0:2, 0:3]: written values. */
  assert_ok(tsr_slice(t, 2, (tsr_index[]){TSR_SLICE(0, 2, 1), TSR_SLICE(0, 3, 1)}, &s));
  double got[6];
  assert_ok(tsr_array_to_buffer(s, got, sizeof got));
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 3; j++)
      assert_true(got[i * 3 + j] == 1000.0 * i + j);
  tsr_array_destroy(&s);
  /* Across chunks (rows 3..4 meet the written box's edge and chunk row 0;
   * columns 9..11 span chunk columns 0 and 1): written or 0. */
  assert_ok(tsr_slice(t, 2, (tsr_index[]){TSR_SLICE(3, 5, 1), TSR_SLICE(9, 12, 1)}, &s));
  assert_ok(tsr_array_to_buffer(s, got, sizeof got));
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 3; j++)
      assert_true(got[i * 3 + j] == (3 + i < 4 ? 1000.0 * (3 + i) + (9 + j) : 0.0));
  tsr_array_destroy(&s);
  /* Far away, with a step and a negative index: the fill value. */
  assert_ok(tsr_slice(t, 2, (tsr_index[]){TSR_SLICE(-7, TSR_NONE, 3), TSR_SLICE(29, 27, -1)}, &s));
  assert_int_equal(tsr_array_shape(s)[0], 3);
  assert_ok(tsr_array_to_buffer(s, got, sizeof got));
  for (int k = 0; k < 6; k++)
    assert_true(got[k] == 0.0);
  tsr_array_destroy(&s);
  /* An integer index on the huge axis, then a reduction of the slice. */
  tsr_array *row = NULL, *sum = NULL;
  assert_ok(tsr_slice(t, 2, (tsr_index[]){TSR_AT(1), TSR_SLICE(0, 12, 1)}, &row));
  assert_ok(tsr_sum(row, NULL, 0, false, &sum));
  double total = 0;
  assert_ok(tsr_array_to_buffer(sum, &total, sizeof total));
  assert_true(total == 12 * 1000.0 + 66.0); /* sum_j (1000 + j), j < 12 */
  tsr_array_destroy(&sum);
  tsr_array_destroy(&row);
  tsr_array_destroy(&t);
}

static void test_hdf5_sizes__small_slice_of_huge_3d_dataset(void **state) {
  tsr_ctx *ctx = *state;
  char path[512];
  scratch(path, sizeof path, "huge3d.h5");
  hsize_t shape[3] = {10000000000ull, 1000, 30}, chunk[3] = {10, 10, 10};
  make_sparse(path, 3, shape, chunk, 2, 5);
  assert_ok(tsr_ctx_set_memory_limit(ctx, LIMIT));
  tsr_array *t = NULL, *s = NULL;
  assert_ok(tsr_array_from_hdf5(ctx, path, "t", (int64_t[]){10, 10, 10}, &t));
  assert_int_equal(tsr_chunk_grid_nchunks(tsr_array_chunks(t)), 300000000000ll);
  /* t[0:2, 0:5, 0]: the written box; t[.., .., 1] is never written. */
  assert_ok(tsr_slice(t, 3, (tsr_index[]){TSR_SLICE(0, 2, 1), TSR_SLICE(0, 5, 1), TSR_AT(0)}, &s));
  double got[10];
  assert_ok(tsr_array_to_buffer(s, got, sizeof got));
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 5; j++)
      assert_true(got[i * 5 + j] == 1000.0 * i + j);
  tsr_array_destroy(&s);
  assert_ok(tsr_slice(
      t, 3, (tsr_index[]){TSR_SLICE(9999999998ll, TSR_NONE, 1), TSR_SLICE(0, 5, 1), TSR_AT(1)},
      &s));
  assert_ok(tsr_array_to_buffer(s, got, sizeof got));
  for (int k = 0; k < 10; k++)
    assert_true(got[k] == 0.0);
  tsr_array_destroy(&s);
  tsr_array_destroy(&t);
}

/* Element counts and bytes past int64 (HDF5 counts in uint64): refused at
 * open, naming the dataset and the shape. */
static void test_hdf5_sizes__too_big_dataset_is_refused(void **state) {
  tsr_ctx *ctx = *state;
  char path[512];
  tsr_array *t = NULL;
  scratch(path, sizeof path, "too_big.h5");
  hsize_t shape[2] = {1ull << 61, 4}, chunk[2] = {1000, 4}; /* 2^63 one-byte elements */
  make_typed(path, 2, shape, chunk, 0, 0, true);
  assert_fails(tsr_array_from_hdf5(ctx, path, "t", NULL, &t), TSR_EINVAL,
               "(2305843009213693952, 4)");
  assert_non_null(strstr(tsr_last_error(), "'t'"));
  assert_null(t);
  hsize_t bytes_shape[1] = {1ull << 60}, one[1] = {1000}; /* 2^63 bytes of float64 */
  make_sparse(path, 1, bytes_shape, one, 0, 0);
  assert_fails(tsr_array_from_hdf5(ctx, path, "t", NULL, &t), TSR_EINVAL, "too big");
  /* (An axis past 2^63 - 1 is refused too, but HDF5 will not make one.) */
  /* Just under: 2^60 - 1 float64 elements open (lazily). */
  hsize_t ok_shape[1] = {(1ull << 60) - 1};
  make_sparse(path, 1, ok_shape, one, 0, 0);
  assert_ok(tsr_ctx_set_memory_limit(ctx, LIMIT));
  assert_ok(tsr_array_from_hdf5(ctx, path, "t", NULL, &t));
  tsr_array_destroy(&t);
}

/* A regular grid with 10^15 chunks in memory: creating, slicing and
 * computing a few elements costs nothing per chunk. */
static void test_hdf5_sizes__regular_grid_of_1e15_chunks(void **state) {
  tsr_ctx *ctx = *state;
  assert_ok(tsr_ctx_set_memory_limit(ctx, LIMIT));
  tsr_array *z = NULL, *s = NULL;
  int64_t shape[1] = {1000000000000000ll}, chunk[1] = {1};
  assert_ok(tsr_array_arange(ctx, TSR_FLOAT64, 0, 1e15, 1, 1, &z));
  assert_int_equal(tsr_chunk_grid_nchunks(tsr_array_chunks(z)), shape[0]);
  assert_ok(tsr_slice(z, 1, (tsr_index[]){TSR_SLICE(5, 8, 1)}, &s));
  double got[3];
  assert_ok(tsr_array_to_buffer(s, got, sizeof got));
  assert_true(got[0] == 5 && got[1] == 6 && got[2] == 7);
  tsr_array_destroy(&s);
  /* The last elements, through a transpose of a reshape-free 2-D view. */
  assert_ok(tsr_slice(z, 1, (tsr_index[]){TSR_SLICE(-2, TSR_NONE, 1)}, &s));
  assert_ok(tsr_array_to_buffer(s, got, 2 * sizeof *got));
  assert_true(got[0] == 1e15 - 2 && got[1] == 1e15 - 1);
  tsr_array_destroy(&s);
  tsr_array_destroy(&z);
  assert_ok(tsr_array_zeros(ctx, TSR_FLOAT64, 1, shape, chunk, &z));
  assert_ok(tsr_slice(z, 1, (tsr_index[]){TSR_SLICE(5, 8, 1)}, &s));
  got[0] = got[1] = got[2] = -1;
  assert_ok(tsr_array_to_buffer(s, got, sizeof got));
  assert_true(got[0] == 0 && got[1] == 0 && got[2] == 0);
  tsr_array_destroy(&s);
  tsr_array_destroy(&z);
}

/* A slice of a dataset read in large chunks reads only the file chunks it
 * touches (x[5, 100:200] of a (400, 600) dataset in 10 x 10 file chunks,
 * opened as one chunk: at most its 10 file chunks, not 1.9 MB), and random
 * slices (negative steps, integer indices, slices of slices) read the right
 * values. */
static void test_hdf5_sizes__slice_reads_only_its_file_chunks(void **state) {
  tsr_ctx *ctx = *state;
  char path[512];
  scratch(path, sizeof path, "dense.h5");
  hsize_t shape[2] = {400, 600}, chunk[2] = {10, 10};
  make_sparse(path, 2, shape, chunk, 400, 600); /* v(i, j) = 1000 i + j everywhere */
  tsr_array *t = NULL, *s = NULL, *ss = NULL;
  assert_ok(tsr_array_from_hdf5(ctx, path, "t", NULL, &t));
  assert_int_equal(tsr_chunk_grid_nchunks(tsr_array_chunks(t)), 1);
  uint64_t r0, r1, w;
  tsr_hdf5_io_bytes(&r0, &w);
  assert_ok(tsr_slice(t, 2, (tsr_index[]){TSR_AT(5), TSR_SLICE(100, 200, 1)}, &s));
  double row[100];
  assert_ok(tsr_array_to_buffer(s, row, sizeof row));
  tsr_hdf5_io_bytes(&r1, &w);
  for (int j = 0; j < 100; j++)
    assert_true(row[j] == 5000.0 + 100 + j);
  assert_true(r1 - r0 <= 10 * 10 * 10 * sizeof(double));
  tsr_array_destroy(&s);
  /* Random slices, and slices of those, against v(i, j). */
  for (int trial = 0; trial < 300; trial++) {
    tsr_index ix[2];
    int64_t first[2], step[2], len[2];
    for (int d = 0; d < 2; d++) {
      int64_t n = (int64_t)shape[d];
      if (next_rand() % 5 == 0) {
        int64_t i = (int64_t)(next_rand() % (uint64_t)n);
        ix[d] = TSR_AT(i);
        first[d] = i, step[d] = 1, len[d] = -1; /* axis dropped */
        continue;
      }
      int64_t a = (int64_t)(next_rand() % (uint64_t)n), b = (int64_t)(next_rand() % (uint64_t)n);
      int64_t st = (int64_t)(next_rand() % 7) + 1;
      if (next_rand() % 2) { /* negative step: from the larger down to the smaller */
        int64_t hi = a > b ? a : b, lo = a > b ? b : a;
        ix[d] = TSR_SLICE(hi, lo, -st);
        first[d] = hi, step[d] = -st, len[d] = hi > lo ? (hi - lo - 1) / st + 1 : 0;
      } else {
        int64_t lo = a < b ? a : b, hi = a < b ? b : a;
        ix[d] = TSR_SLICE(lo, hi, st);
        first[d] = lo, step[d] = st, len[d] = hi > lo ? (hi - lo - 1) / st + 1 : 0;
      }
    }
    assert_ok(tsr_slice(t, 2, ix, &s));
    /* Then every other element of what is left along its axes. */
    int nd = tsr_array_ndim(s);
    tsr_index again[2] = {TSR_SLICE(1, TSR_NONE, 2), TSR_SLICE(1, TSR_NONE, 2)};
    assert_ok(tsr_slice(s, nd, again, &ss));
    int64_t size = 1;
    for (int d = 0; d < tsr_array_ndim(ss); d++)
      size *= tsr_array_shape(ss)[d];
    double *got = malloc((size_t)(size > 0 ? size : 1) * sizeof *got);
    assert_ok(tsr_array_to_buffer(ss, got, (size_t)size * sizeof *got));
    /* Element k of the result: per kept axis, index 1 + 2 m of the first slice. */
    int64_t ext[2];
    for (int d = 0; d < 2; d++)
      ext[d] = len[d] < 0 ? 1 : (len[d] > 1 ? len[d] / 2 : 0);
    int64_t at = 0;
    for (int64_t m0 = 0; m0 < ext[0]; m0++)
      for (int64_t m1 = 0; m1 < ext[1]; m1++) {
        int64_t i = len[0] < 0 ? first[0] : first[0] + step[0] * (1 + 2 * m0);
        int64_t j = len[1] < 0 ? first[1] : first[1] + step[1] * (1 + 2 * m1);
        assert_true(at < size);
        assert_true(got[at++] == 1000.0 * (double)i + (double)j);
      }
    assert_int_equal(at, size);
    free(got);
    tsr_array_destroy(&ss);
    tsr_array_destroy(&s);
  }
  tsr_array_destroy(&t);
}

int main(void) {
  make_scratch_dir("hdf5-sizes");
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_hdf5_sizes__small_slice_of_huge_sparse_dataset,
                                      test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_hdf5_sizes__small_slice_of_huge_3d_dataset,
                                      test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_hdf5_sizes__slice_reads_only_its_file_chunks,
                                      test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_hdf5_sizes__too_big_dataset_is_refused, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_hdf5_sizes__regular_grid_of_1e15_chunks, test_ctx_setup,
                                      test_ctx_teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  remove_scratch_dir();
  return rc;
}

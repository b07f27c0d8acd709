/* test_hdf5_table.c — frames as HDF5 tables (tsr_frame_write_hdf5,
 * tsr_frame_read_hdf5): random frames of every column type with nulls,
 * empty and non-ASCII strings, zero rows and more than 64 chunks, written
 * with each string layout and compression and read back equal to the
 * reference; the group exists / overwrite rules and atomicity (a failed
 * write leaves the file byte for byte as it was); damaged or foreign
 * objects give errors naming the file and column, and damaged values (codes
 * outside the dictionary, strings that are not UTF-8) the first bad row. */
#include <sys/stat.h>

#include <hdf5.h>

#include "frame_util.h"
#include "scratch_dir.h"

static char *slurp(const char *path, size_t *n) {
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  fseek(fp, 0, SEEK_END);
  long size = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  char *buf = malloc((size_t)size + 1);
  assert_int_equal(fread(buf, 1, (size_t)size, fp), (size_t)size);
  fclose(fp);
  *n = (size_t)size;
  return buf;
}

/* Every column type, a second timestamp unit, with nulls; string column
 * rows 1..3 made empty, long unicode and ASCII-with-spaces. */
static void make_ref(ref_frame *ref, int64_t n, uint64_t seed) {
  tsr_type types[TSR_NUM_COLTYPES + 1];
  for (int i = 0; i < TSR_NUM_COLTYPES; i++)
    types[i] = fu_types[i];
  types[TSR_NUM_COLTYPES] = (tsr_type){TSR_COL_TIMESTAMP, TSR_TIME_NS};
  ref_frame_random(ref, TSR_NUM_COLTYPES + 1, types, n, 10, seed);
  ref_col *s = &ref->cols[TSR_COL_STRING];
  static const char *const special[3] = {"", "ünïcödé — 日本語のテキスト, long enough", " a b "};
  for (int64_t r = 1; r <= 3 && r < n; r++) {
    free(s->str[r]);
    s->str[r] = fu_strdup(special[r - 1]);
    s->valid[r] = 1;
  }
}

static void round_trip(tsr_ctx *ctx, int64_t n, const tsr_frame_hdf5_options *opt,
                       const char *name) {
  ref_frame ref;
  make_ref(&ref, n, 42 + (uint64_t)n);
  tsr_frame *f = NULL, *g = NULL;
  assert_ok(ref_frame_to_frame(ctx, &ref, 64, 7, &f));
  if (n >= 64)
    assert_true(tsr_frame_nchunks(f) >= 64);
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  assert_ok(tsr_frame_write_hdf5(f, path, "/data/t", opt));
  assert_ok(tsr_frame_read_hdf5(ctx, path, "/data/t", NULL, &g));
  ref_frame got;
  ref_frame_compute(g, &got);
  ref_frame_assert_equal(&ref, &got);
  for (int i = 0; i < ref.ncols; i++)
    assert_int_equal(tsr_frame_col_type(g, i).unit, ref.cols[i].type.unit);
  /* only some columns, in another order */
  tsr_frame *h = NULL;
  assert_ok(tsr_frame_read_hdf5(ctx, path, "/data/t", "c12,c0", &h));
  assert_int_equal(tsr_frame_ncols(h), 2);
  assert_string_equal(tsr_frame_col_name(h, 0), "c12");
  ref_frame got2;
  ref_frame_compute(h, &got2);
  ref_col_assert_rows(&ref.cols[12], 0, n, &got2.cols[0]);
  ref_col_assert_rows(&ref.cols[0], 0, n, &got2.cols[1]);
  ref_frame_free(&got2);
  ref_frame_free(&got);
  ref_frame_free(&ref);
  tsr_frame_destroy(&f);
  tsr_frame_destroy(&g);
  tsr_frame_destroy(&h);
}

static void test_hdf5_table__round_trip(void **state) {
  tsr_ctx *ctx = *state;
  tsr_frame_hdf5_options plain = {0}, packed = {0}, vz = {0};
  plain.chunk_rows = 97; /* HDF5 chunks that cut across the frame's row chunks */
  packed.strings = TSR_HDF5_STRINGS_OFFSETS;
  packed.deflate_level = 1;
  packed.shuffle = true;
  packed.chunk_rows = 64;
  vz.deflate_level = 6;
  assert_true(TSR_NUM_COLTYPES == 15);
  round_trip(ctx, 6000, &plain, "plain.h5");
  round_trip(ctx, 6000, &packed, "packed.h5");
  round_trip(ctx, 1000, &vz, "vz.h5");
  round_trip(ctx, 0, &plain, "empty.h5");
  round_trip(ctx, 0, &packed, "empty_packed.h5");
  round_trip(ctx, 1, &packed, "one.h5");
}

/* A dictionary column's codes and dictionary are stored, not strings. */
static void test_hdf5_table__dictionary_and_units(void **state) {
  tsr_ctx *ctx = *state;
  const char *dict = "abczz";
  int64_t doff[4] = {0, 1, 3, 5};
  int32_t codes[5] = {2, 0, 1, 2, 0};
  int32_t days[5] = {0, 1, -1, 19000, 365};
  int64_t ts[5] = {0, 1, -1, 1700000000000, 86400000};
  tsr_column_data cd[3] = {
      {.name = "k", .type = {TSR_COL_DICT, 0}, .length = 5, .values = codes, .dict_size = 3,
       .dict_offsets = doff, .dict_data = dict},
      {.name = "d", .type = {TSR_COL_DATE, 0}, .length = 5, .values = days},
      {.name = "t", .type = {TSR_COL_TIMESTAMP, TSR_TIME_MS}, .length = 5, .values = ts}};
  tsr_frame *f = NULL, *g = NULL;
  assert_ok(tsr_frame_from_columns(ctx, 3, cd, 2, TSR_BUFFER_BORROW, NULL, NULL, &f));
  char path[512];
  snprintf(path, sizeof path, "%s/dict.h5", dir);
  assert_ok(tsr_frame_write_hdf5(f, path, "/t", NULL));
  assert_ok(tsr_frame_read_hdf5(ctx, path, "/t", NULL, &g));
  assert_int_equal(tsr_frame_col_type(g, 0).id, TSR_COL_DICT);
  assert_int_equal(tsr_frame_col_type(g, 1).id, TSR_COL_DATE);
  assert_int_equal(tsr_frame_col_type(g, 2).id, TSR_COL_TIMESTAMP);
  assert_int_equal(tsr_frame_col_type(g, 2).unit, TSR_TIME_MS);
  tsr_frame_result *r = NULL;
  assert_ok(tsr_frame_compute(g, NULL, &r));
  int64_t size;
  const int64_t *o;
  const char *data;
  assert_ok(tsr_frame_result_dict(r, 0, &size, &o, &data));
  assert_int_equal(size, 3);
  assert_memory_equal(data, "abczz", 5);
  int32_t c2[5], d2[5];
  int64_t t2[5];
  assert_ok(tsr_frame_result_values(r, 0, c2, sizeof c2, NULL));
  assert_ok(tsr_frame_result_values(r, 1, d2, sizeof d2, NULL));
  assert_ok(tsr_frame_result_values(r, 2, t2, sizeof t2, NULL));
  assert_memory_equal(c2, codes, sizeof codes);
  assert_memory_equal(d2, days, sizeof days);
  assert_memory_equal(t2, ts, sizeof ts);
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&g);

  /* the group exists: refused, the file unchanged; overwrite replaces it */
  size_t n0, n1;
  char *before = slurp(path, &n0);
  assert_fails(tsr_frame_write_hdf5(f, path, "/t", NULL), TSR_EINVAL, "already exists");
  char *after = slurp(path, &n1);
  assert_int_equal(n0, n1);
  assert_memory_equal(before, after, n0);
  free(before);
  free(after);
  tsr_frame *one = NULL;
  const char *names[1] = {"d"};
  assert_ok(tsr_frame_select(f, 1, names, &one));
  tsr_frame_hdf5_options ow = {.mode = TSR_HDF5_OVERWRITE};
  assert_ok(tsr_frame_write_hdf5(one, path, "/t", &ow));
  assert_ok(tsr_frame_read_hdf5(ctx, path, "/t", NULL, &g));
  assert_int_equal(tsr_frame_ncols(g), 1);
  assert_string_equal(tsr_frame_col_name(g, 0), "d");
  tsr_frame_destroy(&g);
  /* a second table beside it in the same file */
  assert_ok(tsr_frame_write_hdf5(f, path, "/u", NULL));
  assert_ok(tsr_frame_read_hdf5(ctx, path, "/u", NULL, &g));
  assert_int_equal(tsr_frame_ncols(g), 3);
  tsr_frame_destroy(&g);
  /* an exclusive write to an existing file fails and leaves nothing */
  tsr_frame_hdf5_options ex = {.mode = TSR_HDF5_EXCLUSIVE};
  assert_fails(tsr_frame_write_hdf5(f, path, "/v", &ex), TSR_EIO, "exists");
  /* bad names and options */
  assert_fails(tsr_frame_write_hdf5(f, path, "/", NULL), TSR_EINVAL, "group name");
  tsr_frame_hdf5_options bad = {.deflate_level = 12};
  assert_fails(tsr_frame_write_hdf5(f, path, "/w", &bad), TSR_EINVAL, "deflate_level");
  tsr_frame *slash = NULL;
  assert_ok(tsr_frame_rename(f, "d", "a/b", &slash));
  assert_fails(tsr_frame_write_hdf5(slash, path, "/w", NULL), TSR_EINVAL, "a/b");
  tsr_frame_destroy(&slash);
  tsr_frame_destroy(&one);
  tsr_frame_destroy(&f);
}

static void test_hdf5_table__bad_inputs(void **state) {
  tsr_ctx *ctx = *state;
  tsr_frame *g = NULL;
  const char *text = write_file("not.h5", "hello, not HDF5\n", 16);
  assert_fails(tsr_frame_read_hdf5(ctx, text, "/t", NULL, &g), TSR_EIO, "not.h5");
  char missing[512];
  snprintf(missing, sizeof missing, "%s/none.h5", dir);
  assert_fails(tsr_frame_read_hdf5(ctx, missing, "/t", NULL, &g), TSR_EIO, "none.h5");
  /* an array dataset and a plain group are not tables */
  double x[4] = {1, 2, 3, 4};
  tsr_array *a = NULL;
  assert_ok(tsr_array_from_buffer(ctx, TSR_FLOAT64, 1, (int64_t[]){4}, NULL, x, TSR_BUFFER_COPY,
                                  NULL, NULL, &a));
  char path[512];
  snprintf(path, sizeof path, "%s/arr.h5", dir);
  const char *ds[1] = {"/grp/x"};
  assert_ok(tsr_store_hdf5(ctx, 1, &a, path, ds, NULL));
  tsr_array_destroy(&a);
  assert_fails(tsr_frame_read_hdf5(ctx, path, "/grp/x", NULL, &g), TSR_EDTYPE, "not compound");
  assert_fails(tsr_frame_read_hdf5(ctx, path, "/grp", NULL, &g), TSR_EINVAL, "not a table");
  assert_fails(tsr_frame_read_hdf5(ctx, path, "/nothing", NULL, &g), TSR_EIO, "nothing");
  /* an unknown column */
  int32_t v[3] = {1, 2, 3};
  tsr_column_data cd = {.name = "v", .type = {TSR_COL_INT32, 0}, .length = 3, .values = v};
  tsr_frame *f = NULL;
  assert_ok(tsr_frame_from_columns(ctx, 1, &cd, 0, TSR_BUFFER_BORROW, NULL, NULL, &f));
  assert_ok(tsr_frame_write_hdf5(f, path, "/t", NULL));
  tsr_frame_destroy(&f);
  assert_fails(tsr_frame_read_hdf5(ctx, path, "/t", "v,w", &g), TSR_EINVAL, "no column 'w'");
  assert_null(g);
}

/* Overwrites elements [at, at + n) of dataset `name` of the file with
 * `values` of memory type `mt` (the HDF5 C API, as a damaged file). */
static void poke(const char *path, const char *name, hid_t mt, hsize_t at, hsize_t n,
                 const void *values) {
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  assert_true(f >= 0);
  hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  assert_true(d >= 0);
  hid_t fs = H5Dget_space(d), ms = H5Screate_simple(1, &n, NULL);
  assert_true(H5Sselect_hyperslab(fs, H5S_SELECT_SET, &at, NULL, &n, NULL) >= 0);
  assert_true(H5Dwrite(d, mt, ms, fs, H5P_DEFAULT, values) >= 0);
  H5Sclose(ms);
  H5Sclose(fs);
  H5Dclose(d);
  assert_true(H5Fclose(f) >= 0);
}

/* A table of a string column (offsets layout) and a dictionary column,
 * with values damaged one at a time: each read fails naming the first bad
 * row, also when the damaged bytes taken together are UTF-8 (a character
 * split across two strings). */
static void test_hdf5_table__damaged_values(void **state) {
  tsr_ctx *ctx = *state;
  enum { N = 40 };
  int64_t off[N + 1];
  char data[2 * N];
  int32_t codes[N];
  for (int i = 0; i < N; i++) { /* every string "ab" */
    off[i] = 2 * i;
    data[2 * i] = 'a';
    data[2 * i + 1] = 'b';
    codes[i] = i % 3;
  }
  off[N] = 2 * N;
  int64_t doff[4] = {0, 1, 2, 3};
  tsr_column_data cd[2] = {
      {.name = "s", .type = {TSR_COL_STRING, 0}, .length = N, .offsets = off, .data = data},
      {.name = "d",
       .type = {TSR_COL_DICT, 0},
       .length = N,
       .values = codes,
       .dict_size = 3,
       .dict_offsets = doff,
       .dict_data = "xyz"}};
  char path[512];
  snprintf(path, sizeof path, "%s/damaged.h5", dir);
  tsr_frame_hdf5_options o = {.mode = TSR_HDF5_REPLACE, .strings = TSR_HDF5_STRINGS_OFFSETS};
  static const struct {
    const char *set;
    int at, n;
    const char *bytes; /* for s */
    int32_t code;      /* for d */
    const char *why;
  } cases[] = {
      {"/t/d", 17, 1, NULL, 3, "row 17: code 3 is outside"},
      {"/t/d", 33, 1, NULL, -1, "row 33: code -1 is outside"},
      {"/t/s", 2 * 9 + 1, 1, "\xff", 0, "row 9 is not UTF-8 (byte 1)"},
      /* "a\xc3" "\xa9b": "aé" + "b" as a whole, but row 4 ends inside é */
      {"/t/s", 2 * 4 + 1, 2, "\xc3\xa9", 0, "row 4 is not UTF-8 (byte 1)"},
      {"/t/s", 2 * 6, 2, "\xc3\xa9", 0, NULL}, /* row 6 "é": fine */
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    tsr_frame *f = NULL, *g = NULL;
    assert_ok(tsr_frame_from_columns(ctx, 2, cd, 0, TSR_BUFFER_BORROW, NULL, NULL, &f));
    assert_ok(tsr_frame_write_hdf5(f, path, "/t", &o));
    tsr_frame_destroy(&f);
    if (cases[k].bytes != NULL)
      poke(path, cases[k].set, H5T_NATIVE_UCHAR, (hsize_t)cases[k].at, (hsize_t)cases[k].n,
           cases[k].bytes);
    else
      poke(path, cases[k].set, H5T_NATIVE_INT32, (hsize_t)cases[k].at, 1, &cases[k].code);
    if (cases[k].why != NULL) {
      assert_fails(tsr_frame_read_hdf5(ctx, path, "/t", NULL, &g), TSR_EINVAL, cases[k].why);
      assert_non_null(strstr(tsr_last_error(), "damaged.h5"));
      assert_null(g);
      continue;
    }
    assert_ok(tsr_frame_read_hdf5(ctx, path, "/t", NULL, &g));
    tsr_frame_result *r = NULL;
    assert_ok(tsr_frame_compute(g, NULL, &r));
    tsr_column_chunk cc;
    assert_ok(tsr_frame_result_chunk(r, 0, 0, &cc));
    const tsr_string_view *v = cc.values;
    assert_int_equal(v[6].length, 2);
    assert_memory_equal(tsr_string_view_data(&v[6], cc.data), "\xc3\xa9", 2);
    assert_int_equal(v[7].length, 2);
    assert_memory_equal(tsr_string_view_data(&v[7], cc.data), "ab", 2);
    tsr_frame_result_destroy(&r);
    tsr_frame_destroy(&g);
  }
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_hdf5_table__round_trip, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_hdf5_table__dictionary_and_units, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_hdf5_table__bad_inputs, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_hdf5_table__damaged_values, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/* test_frame_core.c — the frame layer's foundation: frames from C buffers
 * (every mode, strings long and short, nulls, dictionaries) computed into
 * memory and read back chunk by chunk and whole; select, drop and rename;
 * arrays as columns and columns as arrays; and the errors that name the
 * column at fault. */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "frame/frame_impl.h"

#define N 1000

typedef struct fixture {
  int64_t ints[N];
  double floats[N];
  uint8_t valid[(N + 7) / 8];
  int64_t offsets[N + 1];
  char data[N * 20];
  int32_t codes[N];
} fixture;

static void fill(fixture *x) {
  int64_t off = 0;
  for (int i = 0; i < N; i++) {
    x->ints[i] = (int64_t)i * 7 - 300;
    x->floats[i] = i * 0.25;
    x->codes[i] = i % 3;
    int len = snprintf(x->data + off, 20, i % 4 == 0 ? "long-string-%05d" : "s%d", i);
    x->offsets[i] = off;
    off += len;
  }
  x->offsets[N] = off;
  memset(x->valid, 0, sizeof x->valid);
  for (int i = 0; i < N; i++)
    if (i % 5 != 0)
      x->valid[i / 8] |= (uint8_t)(1u << (i % 8));
}

static const int64_t dict_offsets[4] = {0, 3, 6, 10};
static const char dict_data[] = "abcbcdcdef";

static void columns_of(fixture *x, tsr_column_data cols[4]) {
  memset(cols, 0, 4 * sizeof cols[0]);
  cols[0] = (tsr_column_data){.name = "i", .type = {TSR_COL_INT64, 0}, .length = N,
                              .values = x->ints};
  cols[1] = (tsr_column_data){.name = "f", .type = {TSR_COL_FLOAT64, 0}, .length = N,
                              .values = x->floats, .validity = x->valid};
  cols[2] = (tsr_column_data){.name = "s", .type = {TSR_COL_STRING, 0}, .length = N,
                              .offsets = x->offsets, .data = x->data};
  cols[3] = (tsr_column_data){.name = "d", .type = {TSR_COL_DICT, 0}, .length = N,
                              .values = x->codes, .dict_size = 3, .dict_offsets = dict_offsets,
                              .dict_data = dict_data};
}

static void check_result(fixture *x, tsr_frame_result *r) {
  assert_int_equal(tsr_frame_result_nrows(r), N);
  assert_int_equal(tsr_frame_result_ncols(r), 4);
  int64_t ints[N];
  double floats[N];
  uint8_t valid[(N + 7) / 8];
  assert_ok(tsr_frame_result_values(r, 0, ints, sizeof ints, NULL));
  assert_ok(tsr_frame_result_values(r, 1, floats, sizeof floats, valid));
  for (int i = 0; i < N; i++) {
    assert_int_equal(ints[i], x->ints[i]);
    bool v = (valid[i / 8] >> (i % 8)) & 1;
    assert_int_equal(v, i % 5 != 0);
    if (v)
      assert_true(floats[i] == x->floats[i]);
    const char *text;
    size_t len;
    bool is_null;
    assert_ok(tsr_frame_result_string(r, 2, i, &text, &len, &is_null));
    assert_false(is_null);
    assert_int_equal(len, (size_t)(x->offsets[i + 1] - x->offsets[i]));
    assert_memory_equal(text, x->data + x->offsets[i], len);
    assert_ok(tsr_frame_result_string(r, 3, i, &text, &len, &is_null));
    const char *want[3] = {"abc", "bcd", "cdef"};
    assert_int_equal(len, strlen(want[i % 3]));
    assert_memory_equal(text, want[i % 3], len);
  }
  /* Chunk by chunk: 1000 rows in chunks of 64 is 16 chunks, the last of 40. */
  assert_int_equal(tsr_frame_result_nchunks(r), 16);
  tsr_column_chunk ch;
  assert_ok(tsr_frame_result_chunk(r, 1, 15, &ch));
  assert_int_equal(ch.rows, 40);
  assert_int_equal(ch.null_count, 8); /* rows 960..999 that are multiples of 5 */
  assert_non_null(ch.validity);
}

static void test_frame_core__buffers_in_every_mode(void **state) {
  tsr_ctx *ctx = *state;
  static fixture x;
  fill(&x);
  tsr_column_data cols[4];
  columns_of(&x, cols);
  for (int mode = TSR_BUFFER_BORROW; mode <= TSR_BUFFER_COPY; mode++) {
    tsr_frame *f = NULL;
    assert_ok(tsr_frame_from_columns(ctx, 4, cols, 64, (tsr_buffer_mode)mode, NULL, NULL, &f));
    assert_int_equal(tsr_frame_nrows_known(f), N);
    assert_int_equal(tsr_frame_nchunks(f), 16);
    assert_string_equal(tsr_type_name(tsr_frame_col_type(f, 2)), "string");
    tsr_frame_result *r = NULL;
    assert_ok(tsr_frame_compute(f, NULL, &r));
    check_result(&x, r);
    tsr_frame_result_destroy(&r);
    tsr_frame_destroy(&f);
  }
}

static void test_frame_core__select_drop_rename(void **state) {
  tsr_ctx *ctx = *state;
  static fixture x;
  fill(&x);
  tsr_column_data cols[4];
  columns_of(&x, cols);
  tsr_frame *f = NULL, *g = NULL, *h = NULL, *k = NULL;
  assert_ok(tsr_frame_from_columns(ctx, 4, cols, 100, TSR_BUFFER_BORROW, NULL, NULL, &f));
  const char *names[2] = {"s", "i"};
  assert_ok(tsr_frame_select(f, 2, names, &g));
  assert_int_equal(tsr_frame_ncols(g), 2);
  assert_string_equal(tsr_frame_col_name(g, 0), "s");
  assert_ok(tsr_frame_rename(g, "i", "j", &h));
  assert_int_equal(tsr_frame_col_index(h, "j"), 1);
  assert_int_equal(tsr_frame_col_index(h, "i"), -1);
  const char *drop[1] = {"s"};
  assert_ok(tsr_frame_drop(h, 1, drop, &k));
  tsr_frame_result *r = NULL;
  assert_ok(tsr_frame_compute(k, NULL, &r));
  int64_t ints[N];
  assert_ok(tsr_frame_result_values(r, 0, ints, sizeof ints, NULL));
  assert_memory_equal(ints, x.ints, sizeof ints);
  tsr_frame_result_destroy(&r);
  tsr_frame *bad = NULL;
  const char *missing[1] = {"nope"};
  assert_fails(tsr_frame_select(f, 1, missing, &bad), TSR_EINVAL, "no column named 'nope'");
  assert_fails(tsr_frame_rename(f, "i", "f", &bad), TSR_EINVAL, "already has a column 'f'");
  assert_null(bad);
  tsr_frame_destroy(&k);
  tsr_frame_destroy(&h);
  tsr_frame_destroy(&g);
  tsr_frame_destroy(&f);
}

static void test_frame_core__arrays_and_columns(void **state) {
  tsr_ctx *ctx = *state;
  tsr_array *a = NULL, *b = NULL, *back = NULL;
  int64_t chunk = 300;
  assert_ok(tsr_array_arange_i64(ctx, TSR_INT64, 0, N, 1, chunk, &a));
  int64_t shape[1] = {N};
  assert_ok(tsr_array_random(ctx, TSR_RANDOM_UNIFORM, 7, 1, shape, &chunk, &b));
  tsr_frame *f = NULL;
  tsr_array *arrays[2] = {a, b};
  const char *names[2] = {"a", "b"};
  assert_ok(tsr_frame_from_arrays(2, arrays, names, &f));
  assert_int_equal(tsr_frame_nrows_known(f), N);
  assert_int_equal(tsr_frame_nchunks(f), 4);
  assert_ok(tsr_frame_column_array(f, "a", NULL, &back));
  int64_t got[N];
  assert_ok(tsr_array_to_buffer(back, got, sizeof got));
  for (int i = 0; i < N; i++)
    assert_int_equal(got[i], i);
  tsr_array_destroy(&back);
  /* A column with nulls becomes an array only with a fill value. */
  static fixture x;
  fill(&x);
  tsr_column_data cols[4];
  columns_of(&x, cols);
  tsr_frame *g = NULL;
  assert_ok(tsr_frame_from_columns(ctx, 4, cols, 64, TSR_BUFFER_COPY, NULL, NULL, &g));
  assert_ok(tsr_frame_column_array(g, "f", NULL, &back));
  double vals[N];
  assert_fails(tsr_array_to_buffer(back, vals, sizeof vals), TSR_EINVAL, "column 'f' has nulls");
  tsr_array_destroy(&back);
  double fillv = -1;
  assert_ok(tsr_frame_column_array(g, "f", &fillv, &back));
  assert_ok(tsr_array_to_buffer(back, vals, sizeof vals));
  for (int i = 0; i < N; i++)
    assert_true(vals[i] == (i % 5 == 0 ? -1 : x.floats[i]));
  tsr_array_destroy(&back);
  assert_fails(tsr_frame_column_array(g, "s", NULL, &back), TSR_EDTYPE, "holds strings");
  tsr_frame_destroy(&g);
  tsr_frame_destroy(&f);
  tsr_array_destroy(&a);
  tsr_array_destroy(&b);
}

static void test_frame_core__bad_buffers_are_named(void **state) {
  tsr_ctx *ctx = *state;
  static fixture x;
  fill(&x);
  tsr_column_data cols[4];
  columns_of(&x, cols);
  tsr_frame *f = NULL;
  cols[3].values = (int32_t[N]){[17] = 3};
  assert_fails(tsr_frame_from_columns(ctx, 4, cols, 64, TSR_BUFFER_COPY, NULL, NULL, &f),
               TSR_EINVAL, "column 'd': code 3 at row 17");
  columns_of(&x, cols);
  cols[1].length = 5;
  assert_fails(tsr_frame_from_columns(ctx, 4, cols, 64, TSR_BUFFER_COPY, NULL, NULL, &f),
               TSR_EINVAL, "column 'f' has 5 values");
  columns_of(&x, cols);
  cols[1].name = "i";
  assert_fails(tsr_frame_from_columns(ctx, 4, cols, 64, TSR_BUFFER_COPY, NULL, NULL, &f),
               TSR_EINVAL, "two columns are named 'i'");
  columns_of(&x, cols);
  cols[3].dict_data = "cbadcdcdef";
  assert_fails(tsr_frame_from_columns(ctx, 4, cols, 64, TSR_BUFFER_COPY, NULL, NULL, &f),
               TSR_EINVAL, "not strictly increasing");
  assert_null(f);
}

/* Filters by a bool column with nulls (null is not true) and drop_nulls,
 * against a naive reference; chunk counts of the result unknown until
 * computed. */
static void test_frame_core__filter_and_drop_nulls(void **state) {
  tsr_ctx *ctx = *state;
  static fixture x;
  fill(&x);
  static uint8_t keep[N], keep_valid[(N + 7) / 8];
  memset(keep_valid, 0, sizeof keep_valid);
  for (int i = 0; i < N; i++) {
    keep[i] = (uint8_t)(i % 3 != 1);
    if (i % 7 != 0)
      keep_valid[i / 8] |= (uint8_t)(1u << (i % 8));
  }
  tsr_column_data cols[5];
  columns_of(&x, cols);
  cols[4] = (tsr_column_data){.name = "p", .type = {TSR_COL_BOOL, 0}, .length = N,
                              .values = keep, .validity = keep_valid};
  tsr_frame *f = NULL, *g = NULL, *h = NULL;
  assert_ok(tsr_frame_from_columns(ctx, 5, cols, 37, TSR_BUFFER_BORROW, NULL, NULL, &f));
  assert_ok(tsr__frame_filter_by(f, &f->cols[4], &g));
  assert_int_equal(tsr_frame_nrows_known(g), -1);
  tsr_frame_result *r = NULL;
  assert_ok(tsr_frame_compute(g, NULL, &r));
  int64_t want = 0;
  static int64_t ints[N];
  static double floats[N];
  uint8_t valid[(N + 7) / 8];
  int64_t rows = tsr_frame_result_nrows(r);
  assert_ok(tsr_frame_result_values(r, 0, ints, (size_t)rows * 8, NULL));
  assert_ok(tsr_frame_result_values(r, 1, floats, (size_t)rows * 8, valid));
  for (int i = 0; i < N; i++) {
    if (!(i % 3 != 1 && i % 7 != 0))
      continue;
    assert_true(want < rows);
    assert_int_equal(ints[want], x.ints[i]);
    assert_int_equal((valid[want / 8] >> (want % 8)) & 1, i % 5 != 0);
    const char *text;
    size_t len;
    bool is_null;
    assert_ok(tsr_frame_result_string(r, 2, want, &text, &len, &is_null));
    assert_int_equal(len, (size_t)(x.offsets[i + 1] - x.offsets[i]));
    assert_memory_equal(text, x.data + x.offsets[i], len);
    want++;
  }
  assert_int_equal(rows, want);
  assert_int_equal(tsr_frame_nrows_known(g), want); /* the compute filled the counts in */
  tsr_frame_result_destroy(&r);
  /* drop_nulls on f and p: rows where f (i % 5) and p (i % 7) are valid. */
  const char *names[2] = {"f", "p"};
  assert_ok(tsr_frame_drop_nulls(f, 2, names, &h));
  int64_t n;
  assert_ok(tsr_frame_nrows(h, &n));
  int64_t expect = 0;
  for (int i = 0; i < N; i++)
    expect += i % 5 != 0 && i % 7 != 0;
  assert_int_equal(n, expect);
  assert_ok(tsr_frame_compute(h, NULL, &r));
  assert_ok(tsr_frame_result_values(r, 0, ints, (size_t)n * 8, NULL));
  for (int i = 0, k = 0; i < N; i++)
    if (i % 5 != 0 && i % 7 != 0)
      assert_int_equal(ints[k++], x.ints[i]);
  tsr_column_chunk ch;
  assert_ok(tsr_frame_result_chunk(r, 1, 0, &ch));
  assert_int_equal(ch.null_count, 0);
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&h);
  tsr_frame_destroy(&g);
  tsr_frame_destroy(&f);
}

static void count_filter_tasks(const tsr_run_stats *stats, void *user) {
  uint64_t *n = user;
  for (uint32_t k = 0; k < stats->n_kernels; k++)
    if (strcmp(stats->kernels[k].name, "frame_filter") == 0)
      *n += stats->kernels[k].tasks;
}

/* A persisted frame is computed once: later computes read its chunks in
 * place (no filter task runs again), also after the frames it came from
 * are gone, and persisted arrays (raw columns) too. */
static void test_frame_core__persist(void **state) {
  tsr_ctx *ctx = *state;
  static fixture x;
  fill(&x);
  static uint8_t keep[N];
  for (int i = 0; i < N; i++)
    keep[i] = (uint8_t)(i % 2);
  tsr_column_data cols[5];
  columns_of(&x, cols);
  cols[4] = (tsr_column_data){.name = "p", .type = {TSR_COL_BOOL, 0}, .length = N,
                              .values = keep};
  tsr_frame *f = NULL, *g = NULL, *p = NULL, *q = NULL;
  assert_ok(tsr_frame_from_columns(ctx, 5, cols, 64, TSR_BUFFER_COPY, NULL, NULL, &f));
  assert_ok(tsr__frame_filter_by(f, &f->cols[4], &g));
  uint64_t filters = 0;
  tsr_compute_options opts = {.on_stats = count_filter_tasks, .stats_user = &filters};
  assert_ok(tsr_frame_persist(g, &opts, &p));
  assert_int_equal(filters, 16);
  assert_int_equal(tsr_frame_nrows_known(p), N / 2);
  tsr_frame_destroy(&g);
  tsr_frame_destroy(&f);
  tsr_array *a = NULL;
  tsr_frame *with = NULL;
  /* Column i as an array has the frame's chunks: it comes back as a raw column. */
  assert_ok(tsr_frame_column_array(p, "i", NULL, &a));
  assert_ok(tsr_frame_with_array(p, "i2", a, &with));
  assert_ok(tsr_frame_persist(with, NULL, &q));
  tsr_frame_destroy(&with);
  tsr_array_destroy(&a);
  filters = 0;
  tsr_frame_result *r = NULL;
  assert_ok(tsr_frame_compute(q, &opts, &r));
  assert_int_equal(filters, 0);
  int64_t ints[N / 2], ints2[N / 2];
  assert_ok(tsr_frame_result_values(r, 0, ints, sizeof ints, NULL));
  assert_ok(tsr_frame_result_values(r, 5, ints2, sizeof ints2, NULL));
  for (int i = 0; i < N / 2; i++) {
    assert_int_equal(ints[i], x.ints[2 * i + 1]);
    assert_int_equal(ints2[i], x.ints[2 * i + 1]);
    const char *text;
    size_t len;
    bool is_null;
    assert_ok(tsr_frame_result_string(r, 2, i, &text, &len, &is_null));
    assert_memory_equal(text, x.data + x.offsets[2 * i + 1], len);
  }
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&q);
  tsr_frame_destroy(&p);
}

static int freed;
static void count_free(void *p, void *user) {
  (void)user;
  free(p);
  freed++;
}

/* Adopted buffers are read in place and freed once, by the last frame that
 * uses them, also when the call fails. */
static void test_frame_core__adopt(void **state) {
  tsr_ctx *ctx = *state;
  int64_t *v = malloc(100 * sizeof *v);
  uint8_t *valid = malloc(13);
  int64_t *off = malloc(101 * sizeof *off);
  char *data = malloc(100 * 20);
  assert_true(v && valid && off && data);
  memset(valid, 0xff, 13);
  valid[0] = 0xfe; /* row 0 is null */
  off[0] = 0;
  for (int i = 0; i < 100; i++) {
    v[i] = i * i;
    off[i + 1] = off[i] + snprintf(data + off[i], 20, "value-number-%d", i);
  }
  tsr_column_data cols[2] = {
      {.name = "v", .type = {TSR_COL_INT64, 0}, .length = 100, .values = v, .validity = valid},
      {.name = "s", .type = {TSR_COL_STRING, 0}, .length = 100, .offsets = off, .data = data}};
  tsr_frame *f = NULL, *g = NULL;
  freed = 0;
  assert_ok(tsr_frame_from_columns(ctx, 2, cols, 30, TSR_BUFFER_ADOPT, count_free, NULL, &f));
  const char *names[1] = {"s"};
  assert_ok(tsr_frame_select(f, 1, names, &g));
  tsr_frame_destroy(&f);
  assert_int_equal(freed, 0); /* g still reads them */
  tsr_frame_result *r = NULL;
  assert_ok(tsr_frame_compute(g, NULL, &r));
  const char *text;
  size_t len;
  bool is_null;
  assert_ok(tsr_frame_result_string(r, 0, 77, &text, &len, &is_null));
  assert_int_equal(len, strlen("value-number-77"));
  assert_memory_equal(text, "value-number-77", len);
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&g);
  assert_int_equal(freed, 4);
  /* A failing call still frees what it adopted. */
  int64_t *w = malloc(5 * sizeof *w);
  tsr_column_data bad = {.name = "", .type = {TSR_COL_INT64, 0}, .length = 5, .values = w};
  freed = 0;
  assert_fails(tsr_frame_from_columns(ctx, 1, &bad, 0, TSR_BUFFER_ADOPT, count_free, NULL, &f),
               TSR_EINVAL, "has no name");
  assert_int_equal(freed, 1);
  assert_null(f);
}

/* A short view copied whole keeps its string and zeroes the bytes past
 * it, as tsr__view_make leaves them, whatever the source held there. */
static void test_frame_core__short_view_copy(void **state) {
  (void)state;
  for (uint32_t len = 0; len <= 12; len++) {
    tsr_string_view src;
    memset(&src, 0xa5, sizeof src);
    src.length = len;
    for (uint32_t k = 0; k < len; k++)
      src.u.inline_data[k] = (char)('a' + k);
    tsr_string_view got = tsr__view_copy_short(&src), want;
    memset(&want, 0, sizeof want);
    want.length = len;
    memcpy(want.u.inline_data, src.u.inline_data, len);
    assert_memory_equal(&got, &want, sizeof got);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_frame_core__short_view_copy),
      cmocka_unit_test_setup_teardown(test_frame_core__buffers_in_every_mode, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_frame_core__select_drop_rename, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_frame_core__arrays_and_columns, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_frame_core__filter_and_drop_nulls, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_frame_core__adopt, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_frame_core__persist, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_frame_core__bad_buffers_are_named, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

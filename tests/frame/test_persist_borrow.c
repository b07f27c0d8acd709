/* test_persist_borrow.c — a frame computed (or persisted) over columns of a
 * persisted frame reads that frame's chunks in place (borrowed buffers):
 * they must stay alive as long as the result does, also when every frame
 * over them is gone (a persisted frame; a group-by's result, as under an
 * aggregate's expressions).  Under the asan preset a use after free fails this test. */
#include <stdio.h>

#include <tessera/query.h>

#include "test_util.h"

#define N 1000

static void test_persist_borrow__outlives_inputs(void **state) {
  tsr_ctx *ctx = *state;
  static int64_t v[N], off[N + 1];
  static char data[N * 12 + 1];
  for (int i = 0; i < N; i++) {
    v[i] = 3 * i + 1;
    off[i] = 12 * i;
    snprintf(data + 12 * i, 13, "id%010d", i);
  }
  off[N] = 12 * N;
  tsr_column_data cd[2] = {
      {.name = "s", .type = {TSR_COL_STRING, 0}, .length = N, .offsets = off, .data = data},
      {.name = "v", .type = {TSR_COL_INT64, 0}, .length = N, .values = v}};
  for (int variant = 0; variant < 3; variant++) {
    tsr_frame *f = NULL, *x = NULL, *w = NULL, *y = NULL;
    assert_ok(tsr_frame_from_columns(ctx, 2, cd, 64, TSR_BUFFER_COPY, NULL, NULL, &f));
    assert_ok(tsr_frame_persist(f, NULL, &x));
    tsr_frame_destroy(&f);
    assert_ok(tsr_frame_assign(x, "w", "v + 1", &w));
    tsr_frame_result *r = NULL;
    if (variant == 0) { /* persisted again, then computed */
      assert_ok(tsr_frame_persist(w, NULL, &y));
      tsr_frame_destroy(&w);
      tsr_frame_destroy(&x);
      assert_ok(tsr_frame_compute(y, NULL, &r));
      tsr_frame_destroy(&y);
    } else if (variant == 1) { /* a selection of the persisted columns */
      const char *names[2] = {"s", "v"};
      assert_ok(tsr_frame_select(x, 2, names, &y));
      tsr_frame_destroy(&w);
      tsr_frame_destroy(&x);
      assert_ok(tsr_frame_compute(y, NULL, &r));
      tsr_frame_destroy(&y);
    } else { /* computed, then the frames destroyed before reading */
      assert_ok(tsr_frame_compute(w, NULL, &r));
      tsr_frame_destroy(&w);
      tsr_frame_destroy(&x);
    }
    assert_int_equal(tsr_frame_result_nrows(r), N);
    for (int i = 0; i < N; i += 37) {
      const char *t;
      size_t len;
      bool is_null;
      char want[16];
      snprintf(want, sizeof want, "id%010d", i);
      assert_ok(tsr_frame_result_string(r, 0, i, &t, &len, &is_null));
      assert_int_equal(len, 12);
      assert_memory_equal(t, want, 12);
    }
    int64_t got[N];
    assert_ok(tsr_frame_result_values(r, 1, got, sizeof got, NULL));
    for (int i = 0; i < N; i++)
      assert_int_equal(got[i], v[i]);
    tsr_frame_result_destroy(&r);
  }
}

/* The same for a group-by's result (a frame over chunks in memory). */
static void test_persist_borrow__groupby_result(void **state) {
  tsr_ctx *ctx = *state;
  static int64_t k[N], v[N];
  for (int i = 0; i < N; i++) {
    k[i] = i % 10;
    v[i] = i;
  }
  tsr_column_data cd[2] = {{.name = "k", .type = {TSR_COL_INT64, 0}, .length = N, .values = k},
                           {.name = "v", .type = {TSR_COL_INT64, 0}, .length = N, .values = v}};
  tsr_frame *f = NULL, *g = NULL, *h = NULL;
  assert_ok(tsr_frame_from_columns(ctx, 2, cd, 64, TSR_BUFFER_COPY, NULL, NULL, &f));
  const char *keys[1] = {"k"};
  tsr_agg a = {.op = TSR_AGG_SUM, .column = "v", .name = "s"};
  tsr_groupby_options o = {TSR_GROUP_SORTED};
  assert_ok(tsr_frame_groupby(f, 1, keys, 1, &a, &o, &g));
  tsr_frame_destroy(&f);
  assert_ok(tsr_frame_assign(g, "w", "s + k", &h));
  tsr_frame_destroy(&g);
  tsr_frame_result *r = NULL;
  assert_ok(tsr_frame_compute(h, NULL, &r));
  tsr_frame_destroy(&h);
  int64_t got[3][10];
  assert_int_equal(tsr_frame_result_nrows(r), 10);
  for (int c = 0; c < 3; c++)
    assert_ok(tsr_frame_result_values(r, c, got[c], sizeof got[c], NULL));
  for (int j = 0; j < 10; j++) {
    int64_t sum = 0;
    for (int i = j; i < N; i += 10)
      sum += i;
    assert_int_equal(got[0][j], j);
    assert_int_equal(got[1][j], sum);
    assert_int_equal(got[2][j], sum + j);
  }
  tsr_frame_result_destroy(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_persist_borrow__outlives_inputs, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_persist_borrow__groupby_result, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_print.c — tsr_frame_print's exact text: the box, names centred and
 * types under them, numbers right-aligned, NULL, long text cut, control
 * characters escaped, head and tail around a "…" row when the frame is
 * longer than max_rows (only those rows are computed), the row and column
 * counts; and frames with no rows. */
#include <stdio.h>

#include "frame_util.h"

/* Prints f into memory and compares with `want`. */
static void assert_prints(tsr_frame *f, int64_t max_rows, const char *want) {
  char *buf = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&buf, &len);
  assert_non_null(mem);
  assert_ok(tsr_frame_print(f, max_rows, mem));
  fclose(mem);
  if (strcmp(buf, want) != 0)
    print_error("printed:\n%s\nwanted:\n%s\n", buf, want);
  assert_string_equal(buf, want);
  free(buf);
}

static void test_print__small_frame_exactly(void **state) {
  tsr_ctx *ctx = *state;
  int64_t iv[3] = {1, -20, 7};
  double dv[3] = {1.5, 0, 1e20};
  uint8_t valid_i[1] = {0x3}, valid_d[1] = {0x5};
  const char *s = "ahéllotab\there-is-a-string-longer-than-thirty-two-characters";
  int64_t off[4] = {0, 1, 7, (int64_t)strlen(s)};
  int32_t days[3] = {0, 19782, -1};
  tsr_column_data cd[4] = {
      {.name = "id", .type = {TSR_COL_INT64, 0}, .length = 3, .values = iv, .validity = valid_i},
      {.name = "value",
       .type = {TSR_COL_FLOAT64, 0},
       .length = 3,
       .values = dv,
       .validity = valid_d},
      {.name = "s", .type = {TSR_COL_STRING, 0}, .length = 3, .offsets = off, .data = s},
      {.name = "day", .type = {TSR_COL_DATE, 0}, .length = 3, .values = days}};
  tsr_frame *f = NULL;
  assert_ok(tsr_frame_from_columns(ctx, 4, cd, 2, TSR_BUFFER_BORROW, NULL, NULL, &f));
  assert_prints(f, 0,
                "┌───────┬─────────┬──────────────────────────────────┬────────────┐\n"
                "│  id   │  value  │                s                 │    day     │\n"
                "│ int64 │ float64 │              string              │    date    │\n"
                "├───────┼─────────┼──────────────────────────────────┼────────────┤\n"
                "│     1 │     1.5 │ a                                │ 1970-01-01 │\n"
                "│   -20 │    NULL │ héllo                            │ 2024-02-29 │\n"
                "│  NULL │   1e+20 │ tab\\there-is-a-string-longer-th… │ 1969-12-31 │\n"
                "└───────┴─────────┴──────────────────────────────────┴────────────┘\n"
                "3 rows, 4 columns\n");
  tsr_frame_destroy(&f);
}

static void test_print__head_and_tail_of_a_long_frame(void **state) {
  tsr_ctx *ctx = *state;
  enum { N = 1000 };
  static int32_t v[N];
  static int64_t off[N + 1];
  static char data[N * 4];
  for (int i = 0; i < N; i++) {
    v[i] = i * 3;
    off[i] = i == 0 ? 0 : off[i];
    int n = snprintf(data + off[i], 5, "w%d", i % 100);
    off[i + 1] = off[i] + n;
  }
  tsr_column_data cd[2] = {
      {.name = "v", .type = {TSR_COL_INT32, 0}, .length = N, .values = v},
      {.name = "w", .type = {TSR_COL_STRING, 0}, .length = N, .offsets = off, .data = data}};
  tsr_frame *f = NULL, *d = NULL;
  assert_ok(tsr_frame_from_columns(ctx, 2, cd, 64, TSR_BUFFER_BORROW, NULL, NULL, &f));
  assert_ok(tsr_frame_cast(f, "w", (tsr_type){TSR_COL_DICT, 0}, &d));
  assert_prints(d, 5,
                "┌───────┬──────┐\n"
                "│   v   │  w   │\n"
                "│ int32 │ dict │\n"
                "├───────┼──────┤\n"
                "│     0 │ w0   │\n"
                "│     3 │ w1   │\n"
                "│     6 │ w2   │\n"
                "│     … │ …    │\n"
                "│  2994 │ w98  │\n"
                "│  2997 │ w99  │\n"
                "└───────┴──────┘\n"
                "1000 rows (5 shown), 2 columns\n");
  tsr_frame *one = NULL, *none = NULL;
  assert_ok(tsr_frame_slice(f, 10, 11, &one));
  assert_prints(one, 0,
                "┌───────┬────────┐\n"
                "│   v   │   w    │\n"
                "│ int32 │ string │\n"
                "├───────┼────────┤\n"
                "│    30 │ w10    │\n"
                "└───────┴────────┘\n"
                "1 row, 2 columns\n");
  assert_ok(tsr_frame_slice(f, 10, 10, &none));
  assert_prints(none, 0,
                "┌───────┬────────┐\n"
                "│   v   │   w    │\n"
                "│ int32 │ string │\n"
                "├───────┼────────┤\n"
                "└───────┴────────┘\n"
                "0 rows, 2 columns\n");
  tsr_frame *bad = NULL;
  (void)bad;
  assert_fails(tsr_frame_print(f, -1, stdout), TSR_EINVAL, "max_rows = -1");
  tsr_frame_destroy(&none);
  tsr_frame_destroy(&one);
  tsr_frame_destroy(&d);
  tsr_frame_destroy(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_print__small_frame_exactly, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_print__head_and_tail_of_a_long_frame, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

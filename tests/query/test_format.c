/* test_format.c — the printed form of results (tsr_program_format_value
 * and _buffer) where it follows NumPy's summarization: arrays of more than
 * 1000 elements show 3 edge items around "..." on every long axis, only the
 * edges are computed (within a memory limit far below the array's size), empty arrays of any shape
 * print "[]" and their shape, and signed zeros keep their sign.  Every expected text is written out
 * by hand from NumPy's rules (numpy/_core/arrayprint.py: threshold 1000, edgeitems 3, "...,"
 * between rows). */
#include <stdio.h>
#include <stdlib.h>

#include "query_test_util.h"

static void check(tsr_ctx *ctx, const char *src, const char *want) {
  tsr_array *v = query_run(ctx, src);
  char *got = query_format(v, false);
  if (strcmp(got, want) != 0)
    print_error("source: %s\n  got:\n%s\n  want:\n%s\n", src, got, want);
  assert_string_equal(got, want);
  free(got);
  tsr_array_destroy(&v);
}

static void test_format__summary_1d(void **state) {
  tsr_ctx *ctx = *state;
  check(ctx, "arange(1000)[995:]", "[995, 996, 997, 998, 999]\n");
  /* 1000 elements: the threshold itself prints whole (1 + 999 ", " items) */
  tsr_array *v = query_run(ctx, "arange(1000)");
  char *got = query_format(v, false);
  assert_int_equal(strncmp(got, "[0, 1, 2, 3, 4, 5, 6,", 21), 0);
  assert_null(strstr(got, "..."));
  free(got);
  tsr_array_destroy(&v);
  check(ctx, "arange(1001)", "[0, 1, 2, ..., 998, 999, 1000]\n");
  check(ctx, "arange(10 ** 9) * 2", "[0, 2, 4, ..., 1999999994, 1999999996, 1999999998]\n");
}

static void test_format__summary_nd(void **state) {
  tsr_ctx *ctx = *state;
  check(ctx, "reshape(arange(2000), (2, 1000))",
        "[[0, 1, 2, ..., 997, 998, 999],\n"
        " [1000, 1001, 1002, ..., 1997, 1998, 1999]]\n");
  check(ctx, "reshape(arange(2000), (20, 100))",
        "[[0, 1, 2, ..., 97, 98, 99],\n"
        " [100, 101, 102, ..., 197, 198, 199],\n"
        " [200, 201, 202, ..., 297, 298, 299],\n"
        " ...,\n"
        " [1700, 1701, 1702, ..., 1797, 1798, 1799],\n"
        " [1800, 1801, 1802, ..., 1897, 1898, 1899],\n"
        " [1900, 1901, 1902, ..., 1997, 1998, 1999]]\n");
  /* 3-d: blocks separated by a blank line, "...," between blocks too; an
   * axis of at most 6 (the middle one, 2) is never cut */
  check(ctx, "reshape(arange(1400), (7, 2, 100))",
        "[[[0, 1, 2, ..., 97, 98, 99],\n"
        "  [100, 101, 102, ..., 197, 198, 199]],\n"
        "\n"
        " [[200, 201, 202, ..., 297, 298, 299],\n"
        "  [300, 301, 302, ..., 397, 398, 399]],\n"
        "\n"
        " [[400, 401, 402, ..., 497, 498, 499],\n"
        "  [500, 501, 502, ..., 597, 598, 599]],\n"
        "\n"
        " ...,\n"
        "\n"
        " [[800, 801, 802, ..., 897, 898, 899],\n"
        "  [900, 901, 902, ..., 997, 998, 999]],\n"
        "\n"
        " [[1000, 1001, 1002, ..., 1097, 1098, 1099],\n"
        "  [1100, 1101, 1102, ..., 1197, 1198, 1199]],\n"
        "\n"
        " [[1200, 1201, 1202, ..., 1297, 1298, 1299],\n"
        "  [1300, 1301, 1302, ..., 1397, 1398, 1399]]]\n");
  /* more than 1000 elements but no axis longer than 6: printed whole */
  tsr_array *v = query_run(ctx, "reshape(arange(1296), (6, 6, 6, 6))");
  char *got = query_format(v, false);
  assert_null(strstr(got, "..."));
  assert_non_null(strstr(got, "[1290, 1291, 1292, 1293, 1294, 1295]]]]\n"));
  free(got);
  tsr_array_destroy(&v);
}

/* A large array prints at once: only its edges are computed (under a
 * memory limit of 4 MB, far below the arrays' 160 and 80 MB). */
static void test_format__large_arrays_compute_edges_only(void **state) {
  tsr_ctx *ctx = *state;
  assert_ok(tsr_ctx_set_memory_limit(ctx, 4000000));
  check(ctx, "zeros(shape=(10000000, 2), chunks=(10000, 2))",
        "[[0.0, 0.0],\n [0.0, 0.0],\n [0.0, 0.0],\n ...,\n [0.0, 0.0],\n [0.0, 0.0],\n"
        " [0.0, 0.0]]\n");
  check(ctx, "arange(10000000, chunks=10000)[::-1]", "[9999999, 9999998, 9999997, ..., 2, 1, 0]\n");
  assert_ok(tsr_ctx_set_memory_limit(ctx, 0));
  /* too many axes longer than 6 for even a summary: a clear error */
  tsr_array *v = query_run(ctx, "zeros(shape=(7, 7, 7, 7, 7, 7, 7, 7))");
  FILE *devnull = fopen("/dev/null", "w");
  assert_fails(tsr_program_format_value(v, NULL, devnull), TSR_EINVAL,
               "too large to print even summarized");
  fclose(devnull);
  tsr_array_destroy(&v);
}

static void test_format__empty(void **state) {
  tsr_ctx *ctx = *state;
  check(ctx, "zeros(0)", "[]\n");
  check(ctx, "zeros(shape=(2, 0))", "[], shape=(2, 0)\n");
  check(ctx, "zeros(shape=(100000000000, 0))", "[], shape=(100000000000, 0)\n");
  check(ctx, "ones(shape=(0, 100000000000, 3), dtype=\"i4\")", "[], shape=(0, 100000000000, 3)\n");
  int64_t shape[3] = {4, 0, 2};
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  double none = 0;
  assert_ok(tsr_program_format_buffer(TSR_FLOAT64, 3, shape, &none, f));
  fclose(f);
  assert_string_equal(buf, "[], shape=(4, 0, 2)\n");
  free(buf);
}

static void test_format__buffer_summary(void **state) {
  (void)state;
  int64_t shape[2] = {8, 200};
  int32_t *data = malloc(sizeof *data * 1600);
  assert_non_null(data);
  for (int i = 0; i < 1600; i++)
    data[i] = i;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_ok(tsr_program_format_buffer(TSR_INT32, 2, shape, data, f));
  fclose(f);
  assert_string_equal(buf, "[[0, 1, 2, ..., 197, 198, 199],\n"
                           " [200, 201, 202, ..., 397, 398, 399],\n"
                           " [400, 401, 402, ..., 597, 598, 599],\n"
                           " ...,\n"
                           " [1000, 1001, 1002, ..., 1197, 1198, 1199],\n"
                           " [1200, 1201, 1202, ..., 1397, 1398, 1399],\n"
                           " [1400, 1401, 1402, ..., 1597, 1598, 1599]]\n");
  free(buf);
  free(data);
}

/* NumPy keeps the sign of zero: -0.0 literals, full, arange's start, and
 * through division (1 / -0.0 is -inf). */
static void test_format__signed_zero(void **state) {
  tsr_ctx *ctx = *state;
  check(ctx, "-0.0", "-0.0\n");
  check(ctx, "full(shape=(2,), fill_value=-0.0)", "[-0.0, -0.0]\n");
  check(ctx, "full(shape=(4,), fill_value=-0.0, chunks=1)", "[-0.0, -0.0, -0.0, -0.0]\n");
  check(ctx, "full(shape=(2, 2), fill_value=-0.0, chunks=1)", "[[-0.0, -0.0],\n [-0.0, -0.0]]\n");
  check(ctx, "1 / full(shape=(2,), fill_value=-0.0)", "[-inf, -inf]\n");
  check(ctx, "astype(full(shape=(2,), fill_value=-0.0), \"f4\")", "[-0.0, -0.0]\n");
  check(ctx, "1 / -0.0", "-inf\n");
  check(ctx, "arange(-0.0, 3.0)", "[-0.0, 1.0, 2.0]\n");
  check(ctx, "arange(-0.0, 2.0, chunks=1)", "[-0.0, 1.0]\n");
  check(ctx, "ones(2) * -0.0", "[-0.0, -0.0]\n");
  check(ctx, "-zeros(2)", "[-0.0, -0.0]\n");
  check(ctx, "zeros(2) + -0.0", "[0.0, 0.0]\n"); /* IEEE: 0.0 + -0.0 is +0.0 */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_format__summary_1d, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_format__summary_nd, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_format__large_arrays_compute_edges_only, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_format__empty, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test(test_format__buffer_summary),
      cmocka_unit_test_setup_teardown(test_format__signed_zero, test_ctx_setup, test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_limits.c — programs at the sizes users reach: many statements and
 * names (hashed lookups), deep nesting and long operator chains (the parser
 * and the evaluator use heap stacks, not the C stack), long number
 * literals and NUL bytes (no silent truncation), and integers above 2^53
 * (exact in int64 and uint64).  Expected values are worked out by hand in
 * the comments. */
#include <stdio.h>
#include <stdlib.h>

#include "query_test_util.h"

/* A growing string for building large programs. */
typedef struct text {
  char *s;
  size_t n, cap;
} text;

static void put(text *t, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    size_t room = t->cap - t->n;
    va_start(ap, fmt);
    int k = vsnprintf(t->s ? t->s + t->n : NULL, room, fmt, ap);
    va_end(ap);
    assert_true(k >= 0);
    if ((size_t)k < room) {
      t->n += (size_t)k;
      return;
    }
    t->cap = t->cap ? 2 * t->cap + (size_t)k : 4096 + (size_t)k;
    t->s = realloc(t->s, t->cap);
    assert_non_null(t->s);
  }
}

/* Runs `src` and checks the printed value of its last statement. */
static void check_eval(tsr_ctx *ctx, const char *src, const char *want) {
  tsr_array *v = query_run(ctx, src);
  char *got = query_format(v, true);
  if (strcmp(got, want) != 0)
    print_error("source: %.200s\n  got:  %s\n  want: %s\n", src, got, want);
  assert_string_equal(got, want);
  free(got);
  tsr_array_destroy(&v);
}

/* ---- many statements and names ----------------------------------------- */

/* x0 = 1; x1 = x0 + 1; ... x99999 = x99998 + 1; x99999 is 100000. */
static void test_limits__many_statements(void **state) {
  tsr_ctx *ctx = *state;
  text t = {0};
  put(&t, "x0 = 1\n");
  for (int i = 1; i < 100000; i++)
    put(&t, "x%d = x%d + 1\n", i, i - 1);
  put(&t, "x99999");
  check_eval(ctx, t.s, "100000");
  free(t.s);
}

/* 100,000 distinct free names: each is an input, once, in order. */
static void test_limits__many_free_names(void **state) {
  tsr_ctx *ctx = *state;
  text t = {0};
  for (int i = 0; i < 100000; i++)
    put(&t, "a%d; a%d\n", i, i / 2);
  tsr_program *p = NULL;
  assert_ok(tsr_program_parse(ctx, t.s, &p));
  const char *const *names;
  assert_int_equal(tsr_program_inputs(p, &names), 100000);
  assert_string_equal(names[0], "a0");
  assert_string_equal(names[12345], "a12345");
  assert_string_equal(names[99999], "a99999");
  tsr_program_destroy(&p);
  free(t.s);
}

/* ---- long literals, NUL bytes ---------------------------------------------- */

/* Parses `src` (of `len` bytes) expecting TSR_EPARSE with message `want`. */
static void check_parse_error(tsr_ctx *ctx, const char *src, size_t len, const char *want) {
  tsr_program *p = (tsr_program *)&p;
  assert_int_equal(tsr_program_parse_buffer(ctx, src, len, &p), TSR_EPARSE);
  assert_null(p);
  if (strcmp(tsr_last_error(), want) != 0)
    print_error("got:\n%s\nwant:\n%s\n", tsr_last_error(), want);
  assert_string_equal(tsr_last_error(), want);
}

static void test_limits__long_number_literals(void **state) {
  tsr_ctx *ctx = *state;
  text t = {0};
  /* 0.000...0001 with 200 zeros after the point is 1e-201. */
  put(&t, "0.");
  for (int i = 0; i < 200; i++)
    put(&t, "0");
  put(&t, "1 == 1e-201");
  check_eval(ctx, t.s, "True");
  /* 200 leading zeros do not hide the digits after them. */
  t.n = 0;
  for (int i = 0; i < 200; i++)
    put(&t, "0");
  put(&t, "42 + 0");
  check_eval(ctx, t.s, "42");
  /* 1 followed by 300 zeros (and a point) is 1e300. */
  t.n = 0;
  put(&t, "1");
  for (int i = 0; i < 300; i++)
    put(&t, "0");
  put(&t, ".0 == 1e300");
  check_eval(ctx, t.s, "True");
  /* 150 digits of pi round to the double nearest pi. */
  check_eval(ctx,
             "3.14159265358979323846264338327950288419716939937510582097494459230781640628620899"
             "862803482534211706798214808651328230664709384460955058223172535940812848 == pi",
             "True");
  /* Underscores between digits, in a literal longer than 127 characters. */
  t.n = 0;
  put(&t, "1");
  for (int i = 0; i < 18; i++)
    put(&t, "_______0");
  check_eval(ctx, t.s, "1000000000000000000");
  /* A 300-digit integer is refused, not cut. */
  t.n = 0;
  for (int i = 0; i < 300; i++)
    put(&t, "9");
  check_parse_error(ctx, t.s, t.n,
                    "line 1, column 1: integer literal out of range (300 digits; the largest "
                    "integer is 18446744073709551615)\n"
                    "  999999999999999999999999999999999999999999999999999999999999999999999999999"
                    "9999999999999999999999999...\n"
                    "  ^");
  free(t.s);
}

static void test_limits__nul_byte(void **state) {
  tsr_ctx *ctx = *state;
  static const char prog[] = "x = 1\ny = \0 + 2\n";
  check_parse_error(ctx, prog, sizeof prog - 1,
                    "line 2, column 5: NUL byte in the program (byte 11); a program is text\n"
                    "  y = \n"
                    "      ^");
  static const char in_string[] = "x = \"f\0\"";
  check_parse_error(ctx, in_string, sizeof in_string - 1,
                    "line 1, column 7: NUL byte in the program (byte 7); a program is text\n"
                    "  x = \"f\n"
                    "        ^");
  static const char in_comment[] = "1 # \0 comment\n2";
  check_parse_error(ctx, in_comment, sizeof in_comment - 1,
                    "line 1, column 5: NUL byte in the program (byte 5); a program is text\n"
                    "  1 # \n"
                    "      ^");
  /* Without a NUL the size is all that counts: no terminator is read. */
  tsr_program *p = NULL;
  tsr_array *v = NULL;
  assert_ok(tsr_program_parse_buffer(ctx, "2 * 21xyz", 6, &p));
  assert_ok(tsr_program_run(p, &v));
  char *got = query_format(v, true);
  assert_string_equal(got, "42");
  free(got);
  tsr_array_destroy(&v);
  tsr_program_destroy(&p);
  assert_ok(tsr_program_parse_buffer(ctx, NULL, 0, &p));
  tsr_program_destroy(&p);
}

/* ---- depth ------------------------------------------------------------------- */

/* A string of `reps` copies of `unit`, between `before` and `after`. */
static char *repeat(const char *before, const char *unit, int reps, const char *middle,
                    const char *unit2, const char *after) {
  text t = {0};
  put(&t, "%s", before);
  for (int i = 0; i < reps; i++)
    put(&t, "%s", unit);
  put(&t, "%s", middle);
  for (int i = 0; i < reps; i++)
    put(&t, "%s", unit2);
  put(&t, "%s", after);
  return t.s;
}

#define MILLION 1000000
/* Far beyond what recursion survived (it overflowed at about 5,000), and
 * quick under ASan; the sum and the parentheses go to a million. */
#define DEEP 100000

/* A sum of a million terms, a million nested parentheses, and other
 * nestings 100,000 deep parse and evaluate (numbers fold), on the default
 * stack (also under ASan). */
static void test_limits__deep_numbers(void **state) {
  tsr_ctx *ctx = *state;
  char *src = repeat("1", "+1", MILLION - 1, "", "", ""); /* 1+1+...: 10^6 terms */
  check_eval(ctx, src, "1000000");
  free(src);
  src = repeat("", "(", MILLION, "7", ")", ""); /* ((((7)))) */
  check_eval(ctx, src, "7");
  free(src);
  src = repeat("", "-", DEEP + 1, "3", "", ""); /* an odd number of minuses */
  check_eval(ctx, src, "-3");
  free(src);
  src = repeat("", "(-", DEEP, "3", ")", ""); /* (-(-(...(-3)))) */
  check_eval(ctx, src, "3");
  free(src);
  src = repeat("", "~", DEEP, "5", "", ""); /* ~~5 is 5 */
  check_eval(ctx, src, "5");
  free(src);
  /* 2**1**1**...: right-associative, 1**1... is 1, so 2. */
  src = repeat("2", "**1", DEEP, "", "", "");
  check_eval(ctx, src, "2");
  free(src);
  /* 10 - 1 - 1 ... (left-associative): 10^5 + 5 - 10^5 = 5. */
  src = repeat("100005", " - 1", DEEP, "", "", "");
  check_eval(ctx, src, "5");
  free(src);
  /* Mixed levels: 1*1+1*1+... is the number of terms. */
  src = repeat("0", "+1*1", DEEP / 2, "", "", "");
  check_eval(ctx, src, "50000");
  free(src);
  /* (1).T.T.T... on a number is the number. */
  src = repeat("(4)", ".T", DEEP, "", "", "");
  check_eval(ctx, src, "4");
  free(src);
}

/* Tuples nested 100,000 deep: built, copied (a variable read twice),
 * indexed through and cleared, without recursion. */
static void test_limits__deep_tuples(void **state) {
  tsr_ctx *ctx = *state;
  char *src = repeat("t = ", "(", DEEP, "1", ",)", "\nu = t\nv = (t, u, t)\n2");
  check_eval(ctx, src, "2");
  free(src);
  src = repeat("t = ", "[", DEEP, "1", "]", "\n3");
  check_eval(ctx, src, "3");
  free(src);
}

/* Nested calls, indexing and attributes 100,000 deep parse; their
 * free-name scan walks the whole tree. */
static void test_limits__deep_parse(void **state) {
  tsr_ctx *ctx = *state;
  const char *srcs[][3] = {
      {"", "abs(", ")"},            /* abs(abs(...(y))) */
      {"", "sum(", ", axis=0)"},    /* keywords inside */
      {"", "(", ")[0]"},            /* (((y)[0])[0])... */
      {"", "y.sum(", ")"},          /* method calls in the arguments */
      {"", "concatenate((", ",))"}, /* tuples in calls */
  };
  for (size_t k = 0; k < sizeof srcs / sizeof srcs[0]; k++) {
    char *src = repeat(srcs[k][0], srcs[k][1], DEEP, "y", srcs[k][2], "");
    tsr_program *p = NULL;
    assert_ok(tsr_program_parse(ctx, src, &p));
    const char *const *names;
    assert_int_equal(tsr_program_inputs(p, &names), 1);
    assert_string_equal(names[0], "y");
    tsr_program_destroy(&p);
    free(src);
  }
  char *src = repeat("y", "[1:2, ::-1][0]", DEEP, "", "", "");
  tsr_program *p = NULL;
  assert_ok(tsr_program_parse(ctx, src, &p));
  tsr_program_destroy(&p);
  free(src);
  src = repeat("y", ".T", DEEP, "", "", ".shape");
  assert_ok(tsr_program_parse(ctx, src, &p));
  tsr_program_destroy(&p);
  free(src);
  /* An error deep inside is reported at its place. */
  src = repeat("", "(", 100000, "1 +", ")", "");
  assert_int_equal(tsr_program_parse(ctx, src, &p), TSR_EPARSE);
  assert_non_null(strstr(tsr_last_error(), "line 1, column 100004: expected an expression, found "
                                           "')'"));
  free(src);
}

/* Array chains at depths the expression graph handles: a sum of 1,000
 * arrays, 1,000 nested calls, 1,000 chained slices. */
static void test_limits__array_chains(void **state) {
  tsr_ctx *ctx = *state;
  char *src = repeat("x = ones(shape=(3,))\nx", "+x", 999, "", "", "");
  check_eval(ctx, src, "[1000.0, 1000.0, 1000.0]");
  free(src);
  src = repeat("x = arange(4)\n", "negative(", 1001, "x", ")", "");
  check_eval(ctx, src, "[0, -1, -2, -3]");
  free(src);
  src = repeat("x = arange(5)\nx", "[::-1]", 1001, "", "", "");
  check_eval(ctx, src, "[4, 3, 2, 1, 0]");
  free(src);
  src = repeat("x = reshape(arange(6), (2, 3))\nx", ".T", 1001, "", "", "");
  check_eval(ctx, src, "[[0, 3],\n [1, 4],\n [2, 5]]");
  free(src);
}

/* Array chains a million deep: the language's walks and the expression
 * graph's (fusion, views of views, release) are all iterative. */
static void test_limits__deep_array_chains(void **state) {
  tsr_ctx *ctx = *state;
  char *src = repeat("x = ones(shape=(3,))\nx", "+x", MILLION - 1, "", "", "");
  check_eval(ctx, src, "[1000000.0, 1000000.0, 1000000.0]");
  free(src);
  src = repeat("x = reshape(arange(6), (2, 3))\nx", ".T", MILLION, "", "", "");
  check_eval(ctx, src, "[[0, 1, 2],\n [3, 4, 5]]");
  free(src);
  src = repeat("x = arange(4)\n", "abs(", MILLION, "x", ")", "");
  check_eval(ctx, src, "[0, 1, 2, 3]");
  free(src);
}

/* ---- integers above 2^53 ------------------------------------------------------- */

static void check_run_error(tsr_ctx *ctx, const char *src, const char *needle) {
  tsr_program *p = NULL;
  tsr_array *v = NULL;
  assert_ok(tsr_program_parse(ctx, src, &p));
  tsr_status s = tsr_program_run(p, &v);
  if (s == TSR_OK || strstr(tsr_last_error(), needle) == NULL)
    print_error("source: %s\n  got: %s\n  want: %s\n", src, tsr_last_error(), needle);
  assert_int_not_equal(s, TSR_OK);
  assert_non_null(strstr(tsr_last_error(), needle));
  assert_null(v);
  tsr_program_destroy(&p);
}

static void test_limits__big_integers(void **state) {
  tsr_ctx *ctx = *state;
  /* 2^53 + 1 = 9007199254740993 (a double rounds it to ...992). */
  check_eval(ctx, "9007199254740993", "9007199254740993");
  check_eval(ctx, "9007199254740992 + 1", "9007199254740993");
  check_eval(ctx, "x = 9007199254740993; x * 1 - 9007199254740992", "1");
  check_eval(ctx, "9223372036854775807", "9223372036854775807");
  check_eval(ctx, "-9223372036854775808", "-9223372036854775808");
  check_eval(ctx, "9223372036854775807 + 1", "-9223372036854775808"); /* int64 wraps */
  /* Literals in [2^63, 2^64) are uint64, as np.asarray makes them. */
  check_eval(ctx, "18446744073709551615", "18446744073709551615");
  check_eval(ctx, "9223372036854775808 - 1", "9223372036854775807");
  check_eval(ctx, "18446744073709551615 + 1", "0"); /* uint64 wraps */
  check_eval(ctx, "18446744073709551615 // 10", "1844674407370955161");
  check_eval(ctx, "-1 < 18446744073709551615", "True");
  check_eval(ctx, "9223372036854775808 == 9223372036854775807 + 1", "False");
  check_eval(ctx, "(1, 18446744073709551615)", "[1, 18446744073709551615]");
  check_run_error(ctx, "9223372036854775808 + -1", "integer -1 is out of bounds for uint64");
  check_run_error(ctx, "-9223372036854775809", "integer -9223372036854775809 is out of range");
  /* arange with int64 bounds: lengths and values exact. */
  check_eval(ctx, "arange(9007199254740993, 9007199254740995)",
             "[9007199254740993, 9007199254740994]");
  check_eval(ctx, "arange(9007199254740993, 9007199254740999, 2)",
             "[9007199254740993, 9007199254740995, 9007199254740997]");
  check_eval(ctx, "arange(-9223372036854775807, 9223372036854775807, 4611686018427387904)",
             "[-9223372036854775807, -4611686018427387903, 1, 4611686018427387905]");
  check_eval(ctx, "arange(10, 0, -4)", "[10, 6, 2]");
  check_eval(ctx, "arange(3).size", "3");
  check_run_error(ctx, "arange(9223372036854775808)", "bounds above 9223372036854775807");
  /* int64 arrays with large scalars (nanosecond timestamps, 64-bit ids). */
  check_eval(ctx, "t = full((2,), 1700000000000000001); t + 1",
             "[1700000000000000002, 1700000000000000002]");
  check_eval(ctx, "t = full((2,), 1700000000000000001); 1700000000000000002 - t", "[1, 1]");
  check_eval(ctx, "t = arange(1700000000000000001, 1700000000000000003); t == 1700000000000000002",
             "[False, True]");
  check_eval(ctx, "arange(2) + 9007199254740993", "[9007199254740993, 9007199254740994]");
  check_eval(ctx, "arange(2) < 9223372036854775808", "[True, True]");
  check_eval(ctx, "astype(arange(3), \"i1\") > -1000", "[True, True, True]");
  check_run_error(ctx, "arange(2) + 9223372036854775808",
                  "add: scalar 9223372036854775808 is out of bounds for int64");
  check_run_error(ctx, "astype(arange(2), \"i1\") * 1000",
                  "multiply: scalar 1000 is out of bounds for int8");
  /* uint64 arrays. */
  check_eval(ctx, "astype(arange(2), \"u8\") + 18446744073709551614",
             "[18446744073709551614, 18446744073709551615]");
  check_eval(ctx, "full((1,), 18446744073709551615)", "[18446744073709551615]");
  check_eval(ctx, "full((1,), 18446744073709551615) - 1", "[18446744073709551614]");
  check_run_error(ctx, "astype(arange(2), \"u8\") + -1", "scalar -1 is out of bounds for uint64");
  /* where, clip and 0-d conversions keep the value. */
  check_eval(ctx, "where(arange(2) > 0, 9007199254740993, 0)", "[0, 9007199254740993]");
  check_eval(ctx, "clip(arange(3) + 9007199254740990, 9007199254740991, 9007199254740992)",
             "[9007199254740991, 9007199254740991, 9007199254740992]"); /* 990 991 992 */
  check_eval(ctx, "maximum(9007199254740993, arange(2))", "[9007199254740993, 9007199254740993]");
  check_eval(ctx, "full((), 9007199254740993, dtype=\"f8\")", "9007199254740992.0");
  check_eval(ctx, "full((), 255, dtype=\"u1\")", "255");
  check_run_error(ctx, "full((), 256, dtype=\"u1\")", "value 256 does not fit uint8");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_limits__many_statements, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_limits__many_free_names, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_limits__long_number_literals, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_limits__nul_byte, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_limits__deep_numbers, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_limits__deep_tuples, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_limits__deep_parse, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_limits__array_chains, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_limits__deep_array_chains, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_limits__big_integers, test_ctx_setup, test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

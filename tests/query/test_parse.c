/* test_parse.c — the expression language's parser: precedence and
 * associativity (checked on the s-expression dump of the syntax tree),
 * slicing, calls with keywords and method calls, statements, free names,
 * and every syntax error with its exact message and caret column. */
#include <stdio.h>
#include <stdlib.h>

#include "test_util.h"

#include "query/query_impl.h"

static void check_ast(tsr_ctx *ctx, const char *src, const char *want) {
  tsr_program *p = NULL;
  assert_ok(tsr_program_parse(ctx, src, &p));
  char buf[2048];
  tsr__query_dump(p, buf, sizeof buf);
  if (strcmp(buf, want) != 0)
    print_error("source: %s\n  got:  %s\n  want: %s\n", src, buf, want);
  assert_string_equal(buf, want);
  tsr_program_destroy(&p);
}

static void check_error(tsr_ctx *ctx, const char *src, const char *want) {
  tsr_program *p = (tsr_program *)&p; /* must be reset to NULL */
  assert_int_equal(tsr_program_parse(ctx, src, &p), TSR_EPARSE);
  assert_null(p);
  if (strcmp(tsr_last_error(), want) != 0)
    print_error("source: %s\n  got:\n%s\n  want:\n%s\n", src, tsr_last_error(), want);
  assert_string_equal(tsr_last_error(), want);
}

static void test_parse__precedence(void **state) {
  tsr_ctx *ctx = *state;
  check_ast(ctx, "1 + 2 * 3", "(+ 1 (* 2 3))");
  check_ast(ctx, "(1 + 2) * 3", "(* (+ 1 2) 3)");
  check_ast(ctx, "a - b - c", "(- (- a b) c)");
  check_ast(ctx, "a / b // c % d", "(% (// (/ a b) c) d)");
  check_ast(ctx, "a @ b * c", "(* (@ a b) c)");
  check_ast(ctx, "2 ** 3 ** 2", "(** 2 (** 3 2))");
  check_ast(ctx, "-x ** 2", "(neg (** x 2))");
  check_ast(ctx, "2 ** -1", "(** 2 (neg 1))");
  check_ast(ctx, "-a * b", "(* (neg a) b)");
  check_ast(ctx, "~a & b | c ^ d", "(| (& (~ a) b) (^ c d))");
  check_ast(ctx, "a | b & c", "(| a (& b c))");
  check_ast(ctx, "a << 1 + 2", "(<< a (+ 1 2))");
  check_ast(ctx, "a + 1 < b * 2", "(< (+ a 1) (* b 2))");
  check_ast(ctx, "(a > 0) & (b <= 1)", "(& (> a 0) (<= b 1))");
  check_ast(ctx, "a == b", "(== a b)");
  check_ast(ctx, "a != -b", "(!= a (neg b))");
  check_ast(ctx, "+-a", "(pos (neg a))");
  check_ast(ctx, "x.T @ x", "(@ (.T x) x)");
  check_ast(ctx, "-x.T ** 2", "(neg (** (.T x) 2))");
  check_ast(ctx, "1.5e-3 + .5 + 2. + 1_000", "(+ (+ (+ 0.0015 0.5) 2) 1000)");
}

static void test_parse__slicing(void **state) {
  tsr_ctx *ctx = *state;
  check_ast(ctx, "x[a:b, ::2, 3, -1]", "(index x (slice a b _) (slice _ _ 2) 3 (neg 1))");
  check_ast(ctx, "x[:]", "(index x (slice _ _ _))");
  check_ast(ctx, "x[1:]", "(index x (slice 1 _ _))");
  check_ast(ctx, "x[:-1]", "(index x (slice _ (neg 1) _))");
  check_ast(ctx, "x[::-1]", "(index x (slice _ _ (neg 1)))");
  check_ast(ctx, "x[1:2:]", "(index x (slice 1 2 _))");
  check_ast(ctx, "x[0][1]", "(index (index x 0) 1)");
  check_ast(ctx, "x[n - 1, :]", "(index x (- n 1) (slice _ _ _))");
  check_ast(ctx, "x.T[0]", "(index (.T x) 0)");
}

static void test_parse__calls_and_keywords(void **state) {
  tsr_ctx *ctx = *state;
  check_ast(ctx, "sum(x, axis=0, keepdims=true)", "(sum x axis=0 keepdims=true)");
  check_ast(ctx, "std(x, ddof=1)", "(std x ddof=1)");
  check_ast(ctx, "random(shape=(4, 5), chunks=(2, 5), seed=1, dist=\"normal\")",
            "(random shape=(tuple 4 5) chunks=(tuple 2 5) seed=1 dist=\"normal\")");
  check_ast(ctx, "zeros((3,))", "(zeros (tuple 3))");
  check_ast(ctx, "zeros(())", "(zeros (tuple))");
  check_ast(ctx, "concatenate([a, b], axis=0)", "(concatenate (tuple a b) axis=0)");
  check_ast(ctx, "astype(x, 'f4')", "(astype x \"f4\")");
  check_ast(ctx, "x.sum(axis=1)", "(sum x axis=1)");
  check_ast(ctx, "sqrt(x ** 2 + y ** 2)", "(sqrt (+ (** x 2) (** y 2)))");
  check_ast(ctx, "sum(\n  x,\n  axis=0,\n)", "(sum x axis=0)");
  check_ast(ctx, "abs(x)", "(abs x)");
}

static void test_parse__statements(void **state) {
  tsr_ctx *ctx = *state;
  check_ast(ctx, "y = x + 1; y * 2", "(= y (+ x 1)); (* y 2)");
  check_ast(ctx, "# standardize\nm = mean(t, axis=0)  # per column\n\n(t - m) / std(t, axis=0)\n",
            "(= m (mean t axis=0)); (/ (- t m) (std t axis=0))");
  check_ast(ctx, ";;a;\n;b", "a; b");
  check_ast(ctx, "a = 1 + \\\n 2", "(= a (+ 1 2))");
  check_ast(ctx, "", "");
  check_ast(ctx, "  # only a comment", "");
}

static void test_parse__inputs(void **state) {
  tsr_ctx *ctx = *state;
  tsr_program *p = NULL;
  assert_ok(tsr_program_parse(ctx, "a = x + y * pi; b = sum(a) + x; c = z[n:] > True", &p));
  const char *const *names;
  size_t n = tsr_program_inputs(p, &names);
  assert_int_equal(n, 4);
  assert_string_equal(names[0], "x");
  assert_string_equal(names[1], "y");
  assert_string_equal(names[2], "z");
  assert_string_equal(names[3], "n");
  tsr_program_destroy(&p);
  assert_ok(tsr_program_parse(ctx, "x = x + 1", &p));
  n = tsr_program_inputs(p, &names);
  assert_int_equal(n, 1);
  assert_string_equal(names[0], "x");
  tsr_program_destroy(&p);
}

static void test_parse__syntax_errors(void **state) {
  tsr_ctx *ctx = *state;
  check_error(ctx, "x = 1\ny = (x + 1",
              "line 2, column 11: expected ')', found end of input\n"
              "  y = (x + 1\n"
              "            ^");
  check_error(ctx, "y = (x + 1\nz = 2",
              "line 2, column 1: expected ')', found name 'z'\n"
              "  z = 2\n"
              "  ^");
  /* Backtick-quoted names belong to column expressions (tsr_frame_assign). */
  check_error(ctx, "`x` + 1",
              "line 1, column 1: expected an expression, found quoted name\n"
              "  `x` + 1\n"
              "  ^");
  check_error(ctx, "1 +",
              "line 1, column 4: expected an expression, found end of input\n"
              "  1 +\n"
              "     ^");
  check_error(ctx, "a b",
              "line 1, column 3: expected an operator or the end of the statement, "
              "found name 'b'\n"
              "  a b\n"
              "    ^");
  check_error(ctx, "x[1",
              "line 1, column 4: expected ',' or ']', found end of input\n"
              "  x[1\n"
              "     ^");
  check_error(ctx, "x[]",
              "line 1, column 2: empty index\n"
              "  x[]\n"
              "   ^");
  check_error(ctx, "1 < x < 2",
              "line 1, column 7: chained comparisons are not supported: use parentheses and '&' "
              "(comparisons bind looser than & | ^)\n"
              "  1 < x < 2\n"
              "        ^");
  check_error(ctx, "x[0] = 1",
              "line 1, column 6: can only assign to a name\n"
              "  x[0] = 1\n"
              "       ^");
  check_error(ctx, "a = b = 1",
              "line 1, column 7: chained assignment is not supported\n"
              "  a = b = 1\n"
              "        ^");
  check_error(ctx, "x $ 2",
              "line 1, column 3: unexpected character '$'\n"
              "  x $ 2\n"
              "    ^");
  check_error(ctx, "!x",
              "line 1, column 1: '!' is not an operator (use '~' for not, '!=' for "
              "unequal)\n"
              "  !x\n"
              "  ^");
  check_error(ctx, "astype(x, \"f4)",
              "line 1, column 11: unterminated string\n"
              "  astype(x, \"f4)\n"
              "            ^");
  check_error(ctx, "1e+ 2",
              "line 1, column 1: malformed number '1e+'\n"
              "  1e+ 2\n"
              "  ^");
  check_error(ctx, "12abc",
              "line 1, column 1: malformed number '12a'\n"
              "  12abc\n"
              "  ^");
  check_error(ctx, "99999999999999999999",
              "line 1, column 1: integer literal out of range (20 digits; the largest integer "
              "is 18446744073709551615)\n"
              "  99999999999999999999\n"
              "  ^");
  check_error(ctx, "(x)(1)",
              "line 1, column 4: only functions can be called (this is not a "
              "function name)\n"
              "  (x)(1)\n"
              "     ^");
  check_error(ctx, "x.foo",
              "line 1, column 3: unknown attribute 'foo' (arrays have T, shape, "
              "ndim, size, dtype)\n"
              "  x.foo\n"
              "    ^");
  check_error(ctx, "x.",
              "line 1, column 3: expected an attribute name after '.', found end of "
              "input\n"
              "  x.\n"
              "    ^");
  /* Tabs are kept in the caret line so the caret stays under the token. */
  check_error(ctx, "\ta +* b",
              "line 1, column 5: expected an expression, found '*'\n"
              "  \ta +* b\n"
              "  \t   ^");
}

static void test_parse__call_errors(void **state) {
  tsr_ctx *ctx = *state;
  check_error(ctx, "y = 1\nz = foo(y)",
              "line 2, column 5: unknown function 'foo'\n"
              "  z = foo(y)\n"
              "      ^");
  check_error(ctx, "sum(x, ddof=1)",
              "line 1, column 8: sum() got an unexpected keyword argument 'ddof'\n"
              "  sum(x, ddof=1)\n"
              "         ^");
  check_error(ctx, "std(x, axis=0, axis=1)",
              "line 1, column 16: std() got multiple values for argument 'axis'\n"
              "  std(x, axis=0, axis=1)\n"
              "                 ^");
  check_error(ctx, "std(x, 0, axis=1)",
              "line 1, column 11: std() got multiple values for argument 'axis'\n"
              "  std(x, 0, axis=1)\n"
              "            ^");
  check_error(ctx, "sqrt(x, y)",
              "line 1, column 9: sqrt() takes at most 1 argument (2 given)\n"
              "  sqrt(x, y)\n"
              "          ^");
  check_error(ctx, "astype(x)",
              "line 1, column 1: astype() missing required argument 'dtype' (position 2)\n"
              "  astype(x)\n"
              "  ^");
  check_error(ctx, "where(c, x)",
              "line 1, column 1: where() missing required argument 'y' (position 3)\n"
              "  where(c, x)\n"
              "  ^");
  check_error(ctx, "sum(axis=0, x)",
              "line 1, column 13: positional argument follows keyword argument\n"
              "  sum(axis=0, x)\n"
              "              ^");
  check_error(ctx, "sum(x axis=0)",
              "line 1, column 7: expected ',' or ')', found name 'axis'\n"
              "  sum(x axis=0)\n"
              "        ^");
  check_error(ctx, "x.frobnicate()",
              "line 1, column 3: unknown function 'frobnicate'\n"
              "  x.frobnicate()\n"
              "    ^");
}

static void test_parse__long_line_window(void **state) {
  tsr_ctx *ctx = *state;
  char src[400];
  memset(src, 0, sizeof src);
  for (int i = 0; i < 60; i++)
    strcat(src, "a + ");
  strcat(src, "$ + b");
  tsr_program *p = NULL;
  assert_int_equal(tsr_program_parse(ctx, src, &p), TSR_EPARSE);
  const char *msg = tsr_last_error();
  assert_non_null(strstr(msg, "line 1, column 241: unexpected character '$'\n  ..."));
  /* The caret sits under the '$' of the clipped line. */
  const char *l2 = strchr(msg, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
  const char *dollar = strchr(l2, '$');
  assert_non_null(dollar);
  assert_int_equal((int)(strchr(l3, '^') - l3), (int)(dollar - l2));
  assert_true(l3 - l2 < 120);
}

static void test_parse__bad_arguments(void **state) {
  tsr_ctx *ctx = *state;
  tsr_program *p = NULL;
  assert_fails(tsr_program_parse(NULL, "1", &p), TSR_EINVAL, "ctx");
  assert_fails(tsr_program_parse(ctx, NULL, &p), TSR_EINVAL, "source");
  assert_fails(tsr_program_parse(ctx, "1", NULL), TSR_EINVAL, "out");
  tsr_program_destroy(NULL);
  tsr_program_destroy(&p);
}

/* Every allocation of a parse may fail: each failure is TSR_ENOMEM with
 * nothing leaked (the teardown checks). */
static void test_parse__out_of_memory(void **state) {
  tsr_ctx *ctx = *state;
  char src[8192] = "m = mean(t, axis=0); s = std(t, axis=(0, 1), ddof=1)\n";
  for (int i = 0; i < 300; i++)
    strcat(src, "+x");
  for (uint64_t n = 1;; n++) {
    tsr_program *p = NULL;
    assert_ok(tsr_ctx_set_fail_allocation(ctx, n));
    tsr_status s = tsr_program_parse(ctx, src, &p);
    assert_ok(tsr_ctx_set_fail_allocation(ctx, 0));
    if (s == TSR_OK) {
      assert_true(n > 2);
      tsr_program_destroy(&p);
      break;
    }
    assert_int_equal(s, TSR_ENOMEM);
    assert_null(p);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_parse__precedence, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_parse__slicing, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_parse__calls_and_keywords, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_parse__statements, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_parse__inputs, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_parse__syntax_errors, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_parse__call_errors, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_parse__long_line_window, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_parse__bad_arguments, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_parse__out_of_memory, test_ctx_setup, test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

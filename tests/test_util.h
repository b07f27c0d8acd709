/* test_util.h — helpers shared by the cmocka tests: a context per test and
 * assertions on statuses that print tsr_last_error() when they fail. */
#ifndef TSR_TEST_UTIL_H
#define TSR_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <tessera/tessera.h>

/* Asserts that `expr` returns TSR_OK, printing the library's message if not. */
#define assert_ok(expr)                                                             \
  do {                                                                              \
    tsr_status assert_ok_status_ = (expr);                                          \
    if (assert_ok_status_ != TSR_OK)                                                \
      print_error("%s failed: %s: %s\n", #expr, tsr_status_name(assert_ok_status_), \
                  tsr_last_error());                                                \
    assert_int_equal(assert_ok_status_, TSR_OK);                                    \
  } while (0)

/* Asserts that `expr` fails with `code` and that the message contains `needle`. */
#define assert_fails(expr, code, needle)                                    \
  do {                                                                      \
    tsr_status assert_fails_status_ = (expr);                               \
    assert_int_equal(assert_fails_status_, (code));                         \
    if (strstr(tsr_last_error(), (needle)) == NULL)                         \
      print_error("message '%s' lacks '%s'\n", tsr_last_error(), (needle)); \
    assert_non_null(strstr(tsr_last_error(), (needle)));                    \
  } while (0)

/* cmocka group setup/teardown giving each test a fresh context in *state,
 * and checking that the test freed every byte it allocated. */
static inline int test_ctx_setup(void **state) {
  tsr_ctx *ctx = NULL;
  if (tsr_ctx_create(&ctx) != TSR_OK)
    return -1;
  *state = ctx;
  return 0;
}

static inline int test_ctx_teardown(void **state) {
  tsr_ctx *ctx = *state;
  tsr_memory_stats m;
  int leaked = tsr_ctx_memory_stats(ctx, &m) != TSR_OK || m.current_bytes != 0;
  if (leaked)
    print_error("test leaked %llu bytes\n", (unsigned long long)m.current_bytes);
  tsr_ctx_destroy(&ctx);
  return leaked ? -1 : 0;
}

#endif /* TSR_TEST_UTIL_H */

/* test_status.c — statuses and messages: every status in TSR_STATUS_MAP has
 * a name and a description, codes match the documented values, messages are
 * per thread, truncated rather than overflowed, and may quote the previous
 * message; TSR_TRY and TSR_CHECK propagate as documented. */
#include "test_util.h"

#include <omp.h>

static void test_status__codes_and_names(void **state) {
  (void)state;
  assert_int_equal(TSR_OK, 0);
  assert_int_equal(TSR_ENOMEM, -1);
  assert_int_equal(TSR_EINVAL, -2);
  assert_int_equal(TSR_ECANCELED, -9);
  assert_string_equal(tsr_status_name(TSR_OK), "TSR_OK");
  assert_string_equal(tsr_status_name(TSR_EINVAL), "TSR_EINVAL");
  assert_string_equal(tsr_status_name(TSR_EMPI), "TSR_EMPI");
  assert_string_equal(tsr_status_name((tsr_status)12345), "TSR_UNKNOWN");
  assert_string_equal(tsr_strerror(TSR_EINVAL), "invalid argument");
  assert_string_equal(tsr_strerror((tsr_status)-999), "unknown status");
  /* Every code from 0 down to the last one is named and described. */
  for (int code = 0; code >= TSR_EINTERNAL; code--) {
    assert_string_not_equal(tsr_status_name((tsr_status)code), "TSR_UNKNOWN");
    assert_string_not_equal(tsr_strerror((tsr_status)code), "unknown status");
  }
}

static void test_status__message_set_and_clear(void **state) {
  (void)state;
  assert_int_equal(
      tsr_error_set(TSR_ESHAPE, "shape mismatch: (%d,%d) vs (%d,%d) in %s", 3, 4, 4, 3, "add"),
      TSR_ESHAPE);
  assert_string_equal(tsr_last_error(), "shape mismatch: (3,4) vs (4,3) in add");
  /* Re-wrapping the current message must not read what it overwrites. */
  tsr_error_set(TSR_ESHAPE, "outer: %s", tsr_last_error());
  assert_string_equal(tsr_last_error(), "outer: shape mismatch: (3,4) vs (4,3) in add");
  tsr_error_clear();
  assert_string_equal(tsr_last_error(), "");
}

static void test_status__long_message_is_truncated(void **state) {
  (void)state;
  char big[4000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  tsr_error_set(TSR_EINVAL, "%s", big);
  assert_int_equal(strlen(tsr_last_error()), 1023);
}

static void test_status__messages_are_per_thread(void **state) {
  (void)state;
  tsr_error_set(TSR_EIO, "main thread message");
  char seen[4][64];
#pragma omp parallel num_threads(4)
  {
    int me = omp_get_thread_num();
    if (me != 0) {
      tsr_error_set(TSR_EINVAL, "thread %d", me);
      snprintf(seen[me], sizeof seen[me], "%s", tsr_last_error());
    }
  }
  int team = 0;
#pragma omp parallel num_threads(4)
#pragma omp single
  team = omp_get_num_threads();
  for (int i = 1; i < team; i++) {
    char want[64];
    snprintf(want, sizeof want, "thread %d", i);
    assert_string_equal(seen[i], want);
  }
  assert_string_equal(tsr_last_error(), "main thread message");
}

static tsr_status checked(int n) {
  TSR_CHECK(n > 0, TSR_EINVAL, "n = %d must be positive", n);
  return TSR_OK;
}

static tsr_status tried(int n, int *reached) {
  TSR_TRY(checked(n));
  *reached = 1;
  return TSR_OK;
}

static void test_status__try_and_check(void **state) {
  (void)state;
  int reached = 0;
  assert_fails(tried(-2, &reached), TSR_EINVAL, "n = -2 must be positive");
  assert_int_equal(reached, 0);
  assert_ok(tried(5, &reached));
  assert_int_equal(reached, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_status__codes_and_names),
      cmocka_unit_test(test_status__message_set_and_clear),
      cmocka_unit_test(test_status__long_message_is_truncated),
      cmocka_unit_test(test_status__messages_are_per_thread),
      cmocka_unit_test(test_status__try_and_check),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

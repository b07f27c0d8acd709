/* test_ctx.c — the context: byte sizes parsed as Dask does (values worked
 * out by hand), defaults from the environment, explicit setters overriding
 * it, and a clear error naming the variable or argument for bad input. */
#include "test_util.h"

#include <stdlib.h>

static void clear_env(void) {
  unsetenv("TESSERA_NUM_THREADS");
  unsetenv("OMP_NUM_THREADS");
  unsetenv("TESSERA_MEMORY_LIMIT");
  unsetenv("TESSERA_CHUNK_BYTES");
  unsetenv("TESSERA_LOG");
  unsetenv("TESSERA_EXECUTOR");
  unsetenv("TESSERA_MPI");
  unsetenv("TESSERA_OWNER_BLOCK");
  unsetenv("TESSERA_SPILL_DIR");
  unsetenv("TESSERA_SHARE_INTERMEDIATES");
  unsetenv("TESSERA_BROADCAST_JOIN_LIMIT");
  unsetenv("TESSERA_MALLOC_TUNING");
}

static void test_ctx__parse_bytes(void **state) {
  (void)state;
  struct {
    const char *text;
    uint64_t bytes;
  } cases[] = {
      {"512MB", 512000000ull},
      {"2GiB", 2147483648ull},
      {"1.5G", 1500000000ull},
      {"100 kB", 100000ull},
      {"4096", 4096ull},
      {"1.5 KiB", 1536ull},
      {"0.5", 0ull},
      {" 7 b ", 7ull},
      {"10TB", 10000000000000ull},
      {"1PiB", 1125899906842624ull},
      {"3mib", 3145728ull},
      {"2k", 2000ull},
      {".5M", 500000ull},
      {"0", 0ull},
      {"18446744073709551615", UINT64_MAX},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint64_t v = 1;
    assert_ok(tsr_parse_bytes(cases[i].text, &v));
    if (v != cases[i].bytes)
      print_error("'%s' gave %llu\n", cases[i].text, (unsigned long long)v);
    assert_true(v == cases[i].bytes);
  }
  const char *bad[] = {"",        "abc", "-5MB",      "5 XB", "1e3", "18446744073709551616",
                       "20000PB", "inf", "5MB extra", "MB",   "."};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint64_t v = 1;
    tsr_status s = tsr_parse_bytes(bad[i], &v);
    if (s != TSR_EINVAL)
      print_error("'%s' was accepted as %llu\n", bad[i], (unsigned long long)v);
    assert_int_equal(s, TSR_EINVAL);
    assert_int_equal(v, 0);
    assert_non_null(strstr(tsr_last_error(), bad[i]));
  }
  assert_fails(tsr_parse_bytes(NULL, &(uint64_t){0}), TSR_EINVAL, "text");
}

static void test_ctx__format_bytes(void **state) {
  (void)state;
  char buf[32];
  assert_string_equal(tsr_format_bytes(0, buf, sizeof buf), "0 B");
  assert_string_equal(tsr_format_bytes(1023, buf, sizeof buf), "1023 B");
  assert_string_equal(tsr_format_bytes(1536, buf, sizeof buf), "1.50 KiB");
  assert_string_equal(tsr_format_bytes(1ull << 30, buf, sizeof buf), "1.00 GiB");
  assert_string_equal(tsr_format_bytes(300ull << 20, buf, sizeof buf), "300 MiB");
  char tiny[4];
  tsr_format_bytes(1ull << 40, tiny, sizeof tiny); /* truncated, terminated */
  assert_int_equal(strlen(tiny), 3);
}

static void test_ctx__environment_defaults(void **state) {
  (void)state;
  clear_env();
  tsr_ctx *ctx;
  assert_ok(tsr_ctx_create(&ctx));
  assert_true(tsr_ctx_threads(ctx) >= 1);
  assert_int_equal(tsr_ctx_memory_limit(ctx), 0);
  assert_int_equal(tsr_ctx_chunk_bytes(ctx), 128ull << 20);
  assert_int_equal(tsr_ctx_log_level(ctx), TSR_LOG_WARN);
  assert_int_equal(tsr_ctx_executor(ctx), TSR_EXECUTOR_OMP);
  tsr_ctx_destroy(&ctx);
  assert_null(ctx);

  setenv("OMP_NUM_THREADS", "4,2", 1);
  setenv("TESSERA_MEMORY_LIMIT", "1.5G", 1);
  setenv("TESSERA_CHUNK_BYTES", "64MiB", 1);
  setenv("TESSERA_LOG", "DEBUG", 1);
  setenv("TESSERA_EXECUTOR", "serial", 1);
  setenv("TESSERA_BROADCAST_JOIN_LIMIT", "64MiB", 1);
  assert_ok(tsr_ctx_create(&ctx));
  assert_int_equal(tsr_ctx_broadcast_join_limit(ctx), 64ll << 20);
  assert_int_equal(tsr_ctx_threads(ctx), 4);
  assert_int_equal(tsr_ctx_memory_limit(ctx), 1500000000ull);
  assert_int_equal(tsr_ctx_chunk_bytes(ctx), 64ull << 20);
  assert_int_equal(tsr_ctx_log_level(ctx), TSR_LOG_DEBUG);
  assert_int_equal(tsr_ctx_executor(ctx), TSR_EXECUTOR_SERIAL);
  tsr_ctx_destroy(&ctx);

  setenv("TESSERA_NUM_THREADS", "3", 1); /* wins over OMP_NUM_THREADS */
  setenv("TESSERA_BROADCAST_JOIN_LIMIT", "AUTO", 1);
  assert_ok(tsr_ctx_create(&ctx));
  assert_int_equal(tsr_ctx_threads(ctx), 3);
  assert_int_equal(tsr_ctx_broadcast_join_limit(ctx), TSR_BROADCAST_JOIN_AUTO);
  assert_ok(tsr_ctx_set_broadcast_join_limit(ctx, 0));
  assert_int_equal(tsr_ctx_broadcast_join_limit(ctx), 0);
  assert_ok(tsr_ctx_set_broadcast_join_limit(ctx, -5)); /* any negative: by volume */
  assert_int_equal(tsr_ctx_broadcast_join_limit(ctx), TSR_BROADCAST_JOIN_AUTO);
  assert_int_equal(tsr_ctx_set_broadcast_join_limit(NULL, 0), TSR_EINVAL);
  /* Explicit setters override the environment. */
  assert_ok(tsr_ctx_set_threads(ctx, 7));
  assert_ok(tsr_ctx_set_memory_limit(ctx, 12345));
  assert_ok(tsr_ctx_set_chunk_bytes(ctx, 999));
  assert_ok(tsr_ctx_set_log_level(ctx, TSR_LOG_ERROR));
  assert_ok(tsr_ctx_set_executor(ctx, TSR_EXECUTOR_OMP));
  assert_int_equal(tsr_ctx_threads(ctx), 7);
  assert_int_equal(tsr_ctx_memory_limit(ctx), 12345);
  assert_int_equal(tsr_ctx_chunk_bytes(ctx), 999);
  assert_int_equal(tsr_ctx_log_level(ctx), TSR_LOG_ERROR);
  assert_int_equal(tsr_ctx_executor(ctx), TSR_EXECUTOR_OMP);
  tsr_ctx_destroy(&ctx);
  tsr_ctx_destroy(&ctx); /* on NULL: no-op */
  tsr_ctx_destroy(NULL);
  clear_env();
}

static void test_ctx__bad_environment_names_the_variable(void **state) {
  (void)state;
  struct {
    const char *name, *value, *needle;
  } cases[] = {
      {"TESSERA_NUM_THREADS", "abc", "TESSERA_NUM_THREADS='abc'"},
      {"TESSERA_NUM_THREADS", "0", "TESSERA_NUM_THREADS='0'"},
      {"TESSERA_NUM_THREADS", "5000", "TESSERA_NUM_THREADS='5000'"},
      {"OMP_NUM_THREADS", "x,2", "OMP_NUM_THREADS='x,2'"},
      {"OMP_NUM_THREADS", "0", "OMP_NUM_THREADS='0'"},
      {"OMP_NUM_THREADS", "123456789012345678901234567890123456789012345", "OMP_NUM_THREADS"},
      {"TESSERA_MEMORY_LIMIT", "lots", "TESSERA_MEMORY_LIMIT='lots'"},
      {"TESSERA_CHUNK_BYTES", "0", "TESSERA_CHUNK_BYTES='0'"},
      {"TESSERA_LOG", "loud", "TESSERA_LOG='loud'"},
      {"TESSERA_EXECUTOR", "gpu", "TESSERA_EXECUTOR='gpu'"},
      {"TESSERA_MPI", "yes", "TESSERA_MPI='yes': use 1 (use MPI) or 0 (never)"},
      {"TESSERA_MPI", "2", "TESSERA_MPI='2'"},
      {"TESSERA_OWNER_BLOCK", "abc", "TESSERA_OWNER_BLOCK='abc': use a whole number"},
      {"TESSERA_OWNER_BLOCK", "-1", "TESSERA_OWNER_BLOCK='-1'"},
      {"TESSERA_OWNER_BLOCK", "4x", "TESSERA_OWNER_BLOCK='4x'"},
      {"TESSERA_SPILL_DIR", "/nonexistent/spill", "TESSERA_SPILL_DIR='/nonexistent/spill'"},
      {"TESSERA_SPILL_DIR", "/etc/passwd", "TESSERA_SPILL_DIR='/etc/passwd' is not a directory"},
      {"TESSERA_SHARE_INTERMEDIATES", "no", "TESSERA_SHARE_INTERMEDIATES='no': use 1 or 0"},
      {"TESSERA_BROADCAST_JOIN_LIMIT", "-1", "TESSERA_BROADCAST_JOIN_LIMIT='-1': use a size"},
      {"TESSERA_BROADCAST_JOIN_LIMIT", "big", "TESSERA_BROADCAST_JOIN_LIMIT='big'"},
      {"TESSERA_MALLOC_TUNING", "off", "TESSERA_MALLOC_TUNING='off': use 1"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    clear_env();
    setenv(cases[i].name, cases[i].value, 1);
    tsr_ctx *ctx = (tsr_ctx *)1;
    assert_fails(tsr_ctx_create(&ctx), TSR_EINVAL, cases[i].needle);
    assert_null(ctx);
  }
  /* accepted values */
  static const char *const good[][2] = {
      {"TESSERA_MPI", "0"},          {"TESSERA_SHARE_INTERMEDIATES", "0"},
      {"TESSERA_OWNER_BLOCK", "0"},  {"TESSERA_OWNER_BLOCK", "16"},
      {"TESSERA_SPILL_DIR", "/tmp"}, {"OMP_NUM_THREADS", "2,1"},
      {"TESSERA_MALLOC_TUNING", "0"}};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    clear_env();
    setenv(good[i][0], good[i][1], 1);
    tsr_ctx *ctx = NULL;
    assert_ok(tsr_ctx_create(&ctx));
    tsr_ctx_destroy(&ctx);
  }
  clear_env();
}

static void test_ctx__setters_check_arguments(void **state) {
  tsr_ctx *ctx = *state;
  assert_fails(tsr_ctx_set_threads(ctx, 0), TSR_EINVAL, "threads = 0");
  assert_fails(tsr_ctx_set_threads(ctx, TSR_MAX_THREADS + 1), TSR_EINVAL, "threads");
  assert_fails(tsr_ctx_set_chunk_bytes(ctx, 0), TSR_EINVAL, "bytes");
  assert_fails(tsr_ctx_set_log_level(ctx, (tsr_log_level)9), TSR_EINVAL, "level = 9");
  assert_fails(tsr_ctx_set_executor(ctx, (tsr_executor)7), TSR_EINVAL, "executor = 7");
  assert_fails(tsr_ctx_set_threads(NULL, 2), TSR_EINVAL, "ctx is NULL");
  assert_fails(tsr_ctx_set_memory_limit(NULL, 2), TSR_EINVAL, "ctx is NULL");
  assert_fails(tsr_ctx_create(NULL), TSR_EINVAL, "out is NULL");
  assert_int_equal(tsr_ctx_threads(NULL), 0);
  assert_int_equal(tsr_ctx_memory_limit(NULL), 0);
  assert_int_equal(tsr_ctx_chunk_bytes(NULL), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ctx__parse_bytes),
      cmocka_unit_test(test_ctx__format_bytes),
      cmocka_unit_test(test_ctx__environment_defaults),
      cmocka_unit_test(test_ctx__bad_environment_names_the_variable),
      cmocka_unit_test_setup_teardown(test_ctx__setters_check_arguments, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

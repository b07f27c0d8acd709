/* test_alloc.c — the accounted allocator: alignment, accounting of current,
 * peak, total and count; the memory limit (including many threads racing
 * for it); the fail-the-N-th-allocation injector; overflow checks; the
 * cache of freed large blocks (reused, within its budget); glibc's malloc
 * keeping freed memory once a context exists, unless told not to. */
#include "test_util.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

/* The malloc tuning is glibc's; the sanitizers bring their own malloc. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN_MALLOC 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define ASAN_MALLOC 1
#endif
#if defined(__GLIBC__) && !defined(ASAN_MALLOC)
#define GLIBC_MALLOC 1
#else
#define GLIBC_MALLOC 0
#endif

#include "core/core_impl.h"

static void test_alloc__aligned_and_accounted(void **state) {
  tsr_ctx *ctx = *state;
  void *p[5];
  size_t sizes[5] = {0, 1, 63, 64, 100000};
  for (int i = 0; i < 5; i++) {
    assert_ok(tsr_alloc(ctx, sizes[i], &p[i]));
    assert_non_null(p[i]);
    assert_int_equal((uintptr_t)p[i] % 64, 0);
    memset(p[i], 0xab, sizes[i]);
  }
  tsr_memory_stats m;
  assert_ok(tsr_ctx_memory_stats(ctx, &m));
  assert_int_equal(m.current_bytes, 0 + 1 + 63 + 64 + 100000);
  assert_int_equal(m.peak_bytes, m.current_bytes);
  assert_int_equal(m.allocations, 5);
  tsr_free(ctx, p[4]);
  assert_ok(tsr_ctx_memory_stats(ctx, &m));
  assert_int_equal(m.current_bytes, 128);
  assert_int_equal(m.peak_bytes, 100128);
  assert_int_equal(m.total_bytes, 100128);
  tsr_ctx_reset_peak(ctx);
  assert_ok(tsr_ctx_memory_stats(ctx, &m));
  assert_int_equal(m.peak_bytes, 128);
  for (int i = 0; i < 4; i++)
    tsr_free(ctx, p[i]);
  tsr_free(ctx, NULL);
}

static void test_alloc__calloc_zeroes_and_checks_overflow(void **state) {
  tsr_ctx *ctx = *state;
  unsigned char *p;
  assert_ok(tsr_calloc(ctx, 1000, 3, (void **)&p));
  for (int i = 0; i < 3000; i++)
    assert_int_equal(p[i], 0);
  tsr_free(ctx, p);
  void *q = (void *)1;
  assert_fails(tsr_calloc(ctx, SIZE_MAX / 2, 4, &q), TSR_ENOMEM, "overflow");
  assert_null(q);
  assert_fails(tsr_alloc(ctx, SIZE_MAX - 10, &q), TSR_ENOMEM, "too large");
}

static void test_alloc__limit_is_enforced(void **state) {
  tsr_ctx *ctx = *state;
  assert_ok(tsr_ctx_set_memory_limit(ctx, 1000));
  void *a, *b = (void *)1;
  assert_ok(tsr_alloc(ctx, 600, &a));
  assert_fails(tsr_alloc(ctx, 500, &b), TSR_ENOMEM, "memory limit exceeded");
  assert_null(b);
  assert_ok(tsr_alloc(ctx, 400, &b)); /* exactly at the limit is allowed */
  tsr_free(ctx, a);
  tsr_free(ctx, b);
  tsr_memory_stats m;
  assert_ok(tsr_ctx_memory_stats(ctx, &m));
  assert_int_equal(m.current_bytes, 0);
  assert_int_equal(m.limit_bytes, 1000);
  assert_ok(tsr_ctx_set_memory_limit(ctx, 0));
}

static void test_alloc__limit_holds_under_contention(void **state) {
  tsr_ctx *ctx = *state;
  const uint64_t limit = 64 * 1000;
  assert_ok(tsr_ctx_set_memory_limit(ctx, limit));
  _Atomic uint64_t max_seen = 0;
  _Atomic int failures = 0;
#pragma omp parallel num_threads(4)
  {
    void *held[16] = {0};
    for (int round = 0; round < 2000; round++) {
      int slot = round % 16;
      tsr_free(ctx, held[slot]);
      held[slot] = NULL;
      if (tsr_alloc(ctx, 1000, &held[slot]) != TSR_OK)
        atomic_fetch_add(&failures, 1);
      tsr_memory_stats m;
      if (tsr_ctx_memory_stats(ctx, &m) == TSR_OK) {
        uint64_t seen = atomic_load(&max_seen);
        while (m.current_bytes > seen &&
               !atomic_compare_exchange_weak(&max_seen, &seen, m.current_bytes)) {
        }
      }
    }
    for (int i = 0; i < 16; i++)
      tsr_free(ctx, held[i]);
  }
  /* 4 threads x 16 held x 1000 bytes would be 64000 = the limit: allowed. */
  assert_true(atomic_load(&max_seen) <= limit);
  tsr_memory_stats m;
  assert_ok(tsr_ctx_memory_stats(ctx, &m));
  assert_true(m.peak_bytes <= limit);
  assert_int_equal(m.current_bytes, 0);
  assert_ok(tsr_ctx_set_memory_limit(ctx, 0));
}

static void test_alloc__fail_nth(void **state) {
  tsr_ctx *ctx = *state;
  void *p[5] = {0};
  assert_ok(tsr_ctx_set_fail_allocation(ctx, 3));
  assert_ok(tsr_alloc(ctx, 8, &p[0]));
  assert_ok(tsr_alloc(ctx, 8, &p[1]));
  assert_fails(tsr_alloc(ctx, 8, &p[2]), TSR_ENOMEM, "injected");
  assert_null(p[2]);
  assert_ok(tsr_alloc(ctx, 8, &p[3])); /* once only */
  assert_ok(tsr_ctx_set_fail_allocation(ctx, 1));
  assert_ok(tsr_ctx_set_fail_allocation(ctx, 0)); /* disabled again */
  assert_ok(tsr_alloc(ctx, 8, &p[4]));
  for (int i = 0; i < 5; i++)
    tsr_free(ctx, p[i]);
}

static void test_alloc__grow_array_keeps_contents(void **state) {
  tsr_ctx *ctx = *state;
  int *v = NULL;
  assert_ok(tsr__grow_array(ctx, (void **)&v, 0, 4, sizeof *v, "test"));
  for (int i = 0; i < 4; i++)
    v[i] = i * 7;
  assert_ok(tsr__grow_array(ctx, (void **)&v, 4, 1000, sizeof *v, "test"));
  for (int i = 0; i < 4; i++)
    assert_int_equal(v[i], i * 7);
  int *before = v;
  assert_ok(tsr_ctx_set_fail_allocation(ctx, 1));
  assert_fails(tsr__grow_array(ctx, (void **)&v, 1000, 2000, sizeof *v, "test"), TSR_ENOMEM,
               "injected");
  assert_ptr_equal(v, before); /* untouched on failure */
  tsr_free(ctx, v);
}

/* The cache of freed large blocks: a freed block comes back for a request
 * of its size; the cache stays within its budget (a quarter of the
 * machine's memory, the MPI ranks on a node sharing half, the contexts of
 * a process sharing that), the oldest cached blocks making room for newer
 * ones; a smaller share frees what is over it. */
static void test_alloc__cache_reuses_within_budget(void **state) {
  tsr_ctx *ctx = *state;
  tsr__allocator *a = &ctx->alloc;
  const size_t mb = (size_t)1 << 20;
  void *first, *again;
  assert_ok(tsr_alloc(ctx, mb, &first));
  tsr_free(ctx, first);
  assert_ok(tsr_alloc(ctx, mb, &again));
  assert_ptr_equal(again, first); /* reused */
  tsr_free(ctx, again);
  /* A share that leaves a budget of about 8 MiB (the ranks on a node
   * share half its memory). */
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  uint64_t machine = (uint64_t)pages * (uint64_t)page;
  uint32_t sharers = (uint32_t)(machine / 2 / (8 * mb));
  assert_true(sharers >= 2);
  tsr__alloc_set_cache_sharers(a, sharers);
  uint64_t budget = machine / 2 / sharers;
  /* Blocks of sizes never asked for again, one at a time: the cache stays
   * within the budget and keeps the newest. */
  for (int round = 0; round < 64; round++) {
    void *q;
    size_t bytes = (size_t)(300 + 37 * round) << 10; /* 300 KiB .. 2.6 MiB, all different */
    assert_ok(tsr_alloc(ctx, bytes, &q));
    tsr_free(ctx, q);
    assert_true(a->cached_bytes <= budget);
    assert_ptr_equal(a->cached[a->n_cached - 1], (char *)q - 64); /* the newest is kept */
  }
  assert_true(a->n_cached >= 3); /* 8 MiB holds several */
  /* A thousandth of that share: no block of 256 KiB or more fits. */
  tsr__alloc_set_cache_sharers(a, sharers * 1000 > sharers ? sharers * 1000 : UINT32_MAX);
  assert_int_equal(a->n_cached, 0);
  assert_int_equal(a->cached_bytes, 0);
  /* Two live contexts in the process split the budget: this one's cache
   * stays within half of it. */
  tsr__alloc_set_cache_sharers(a, sharers);
  tsr_ctx *other = NULL;
  assert_ok(tsr_ctx_create(&other));
  for (int round = 0; round < 64; round++) {
    void *q;
    assert_ok(tsr_alloc(ctx, (size_t)(300 + 37 * round) << 10, &q));
    tsr_free(ctx, q);
    assert_true(a->cached_bytes <= budget / 2);
    assert_ptr_equal(a->cached[a->n_cached - 1], (char *)q - 64); /* the newest is kept */
  }
  tsr_ctx_destroy(&other);
  tsr__alloc_set_cache_sharers(a, 1);
}

static void test_alloc__bad_arguments(void **state) {
  (void)state;
  void *p;
  assert_fails(tsr_alloc(NULL, 8, &p), TSR_EINVAL, "ctx");
  assert_fails(tsr_alloc((tsr_ctx *)*state, 8, NULL), TSR_EINVAL, "out");
  assert_fails(tsr_ctx_memory_stats(*state, NULL), TSR_EINVAL, "out");
  assert_fails(tsr_ctx_set_fail_allocation(NULL, 1), TSR_EINVAL, "ctx");
}

#if GLIBC_MALLOC
/* In a child process (the tuning is once a process, and this test runs
 * before any other creates a context): with `setting` as
 * TESSERA_MALLOC_TUNING (NULL: unset), creates a context, then mallocs
 * 8 MiB and frees it; exits 0 when glibc served it from its heap (not a
 * mapping of its own) and kept it there once freed, 1 when not. */
static int malloc_keeps_freed(const char *setting) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    unsetenv("GLIBC_TUNABLES");
    unsetenv("MALLOC_TRIM_THRESHOLD_");
    unsetenv("MALLOC_MMAP_THRESHOLD_");
    unsetenv("MALLOC_TOP_PAD_");
    if (setting != NULL)
      setenv("TESSERA_MALLOC_TUNING", setting, 1);
    else
      unsetenv("TESSERA_MALLOC_TUNING");
    tsr_ctx *ctx = NULL;
    if (tsr_ctx_create(&ctx) != TSR_OK)
      _exit(2);
    size_t mapped = mallinfo2().hblkhd;
    char *volatile p = malloc(8u << 20);
    if (p == NULL)
      _exit(2);
    memset(p, 1, 8u << 20);
    bool heap = mallinfo2().hblkhd == mapped;
    free(p);
    bool kept = mallinfo2().keepcost >= (8u << 20);
    tsr_ctx_destroy(&ctx);
    _exit(heap && kept ? 0 : 1);
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  return WEXITSTATUS(status);
}
#endif

static void test_alloc__malloc_keeps_freed_memory(void **state) {
  (void)state;
#if !GLIBC_MALLOC
  skip();
#else
  assert_int_equal(malloc_keeps_freed(NULL), 0); /* by default: kept for reuse */
  assert_int_equal(malloc_keeps_freed("1"), 0);
  assert_int_equal(malloc_keeps_freed("0"), 1); /* glibc's defaults: mapped, given back */
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_alloc__malloc_keeps_freed_memory), /* first: see malloc_keeps_freed */
      cmocka_unit_test_setup_teardown(test_alloc__aligned_and_accounted, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_alloc__calloc_zeroes_and_checks_overflow, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_alloc__limit_is_enforced, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_alloc__limit_holds_under_contention, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_alloc__fail_nth, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_alloc__grow_array_keeps_contents, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_alloc__cache_reuses_within_budget, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_alloc__bad_arguments, test_ctx_setup, test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

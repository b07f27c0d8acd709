/* test_deque.c — the internal Chase-Lev work-stealing deque
 * (src/sched/deque.h): the owner pops in LIFO order, thieves steal in FIFO
 * order, the ring grows beyond its initial capacity without losing or
 * reordering elements (also with the live window wrapped around the ring),
 * and under concurrency — one owner pushing 10^6 ids with occasional pops
 * while 3 OpenMP threads steal — every id is obtained exactly once.  The
 * deque's rings are allocated through the context, so the teardown also
 * checks that destroying the deque frees every ring. */
#include "sched_helpers.h"

#include <sched.h>

#include <omp.h>

#include "sched/deque.h"

static void test_deque__lifo_pop(void **state) {
  tsr__deque d;
  assert_ok(tsr__deque_init(&d, *state, 16));
  assert_int_equal(tsr__deque_pop(&d), TSR__DEQUE_EMPTY);
  for (uint32_t i = 0; i < 10; i++)
    assert_ok(tsr__deque_push(&d, 100 + i));
  for (uint32_t i = 10; i-- > 0;)
    assert_int_equal(tsr__deque_pop(&d), 100 + i);
  assert_int_equal(tsr__deque_pop(&d), TSR__DEQUE_EMPTY);
  /* Interleaved: push 1 2, pop -> 2, push 3, pop -> 3, pop -> 1. */
  assert_ok(tsr__deque_push(&d, 1));
  assert_ok(tsr__deque_push(&d, 2));
  assert_int_equal(tsr__deque_pop(&d), 2);
  assert_ok(tsr__deque_push(&d, 3));
  assert_int_equal(tsr__deque_pop(&d), 3);
  assert_int_equal(tsr__deque_pop(&d), 1);
  assert_int_equal(tsr__deque_pop(&d), TSR__DEQUE_EMPTY);
  assert_int_equal(tsr__deque_pop(&d), TSR__DEQUE_EMPTY);
  tsr__deque_destroy(&d);
}

static void test_deque__fifo_steal(void **state) {
  tsr__deque d;
  assert_ok(tsr__deque_init(&d, *state, 16));
  assert_int_equal(tsr__deque_steal(&d), TSR__DEQUE_EMPTY);
  for (uint32_t i = 0; i < 12; i++)
    assert_ok(tsr__deque_push(&d, i));
  for (uint32_t i = 0; i < 12; i++)
    assert_int_equal(tsr__deque_steal(&d), i);
  assert_int_equal(tsr__deque_steal(&d), TSR__DEQUE_EMPTY);
  assert_int_equal(tsr__deque_pop(&d), TSR__DEQUE_EMPTY);
  /* Both ends: steal takes the oldest, pop the newest. */
  for (uint32_t i = 0; i < 6; i++)
    assert_ok(tsr__deque_push(&d, i));
  assert_int_equal(tsr__deque_steal(&d), 0);
  assert_int_equal(tsr__deque_pop(&d), 5);
  assert_int_equal(tsr__deque_steal(&d), 1);
  assert_int_equal(tsr__deque_pop(&d), 4);
  assert_int_equal(tsr__deque_pop(&d), 3);
  assert_int_equal(tsr__deque_steal(&d), 2);
  assert_int_equal(tsr__deque_pop(&d), TSR__DEQUE_EMPTY);
  assert_int_equal(tsr__deque_steal(&d), TSR__DEQUE_EMPTY);
  tsr__deque_destroy(&d);
}

static void test_deque__growth_keeps_all_elements(void **state) {
  tsr_ctx *ctx = *state;
  tsr__deque d;
  assert_ok(tsr__deque_init(&d, ctx, 1)); /* rounded up to 16 */
  const uint32_t n = 5000;
  for (uint32_t i = 0; i < n; i++)
    assert_ok(tsr__deque_push(&d, i));
  for (uint32_t i = n; i-- > 0;)
    assert_int_equal(tsr__deque_pop(&d), i);
  assert_int_equal(tsr__deque_pop(&d), TSR__DEQUE_EMPTY);

  /* Grow with the live window wrapped around the ring: steal some first so
   * that top is not at slot 0, then push past the capacity. */
  for (uint32_t i = 0; i < 10; i++)
    assert_ok(tsr__deque_push(&d, i));
  for (uint32_t i = 0; i < 7; i++)
    assert_int_equal(tsr__deque_steal(&d), i);
  for (uint32_t i = 10; i < 3 * n; i++)
    assert_ok(tsr__deque_push(&d, i));
  for (uint32_t i = 7; i < 3 * n; i++)
    assert_int_equal(tsr__deque_steal(&d), i);
  assert_int_equal(tsr__deque_steal(&d), TSR__DEQUE_EMPTY);
  tsr__deque_destroy(&d);

  /* Growth that cannot allocate fails cleanly and keeps the contents. */
  assert_ok(tsr__deque_init(&d, ctx, 16));
  for (uint32_t i = 0; i < 16; i++)
    assert_ok(tsr__deque_push(&d, i));
  assert_ok(tsr_ctx_set_fail_allocation(ctx, 1));
  assert_fails(tsr__deque_push(&d, 16), TSR_ENOMEM, "injected");
  for (uint32_t i = 16; i-- > 0;)
    assert_int_equal(tsr__deque_pop(&d), i);
  assert_int_equal(tsr__deque_pop(&d), TSR__DEQUE_EMPTY);
  tsr__deque_destroy(&d);
}

static void test_deque__concurrent_steals_get_each_id_once(void **state) {
  tsr_ctx *ctx = *state;
  const uint32_t n = 1000000;
  const int thieves = 3;
  tsr__deque d;
  assert_ok(tsr__deque_init(&d, ctx, 64)); /* small: it grows while being stolen from */
  _Atomic uint8_t *got = calloc(n, sizeof *got);
  assert_non_null(got);
  _Atomic int owner_done = 0;
  _Atomic uint64_t push_failures = 0, out_of_range = 0;
  uint64_t popped = 0;
  _Atomic uint64_t stolen = 0;
  int team = 0;

#pragma omp parallel num_threads(thieves + 1)
  {
    if (omp_get_thread_num() == 0) {
      team = omp_get_num_threads();
      /* The owner: push everything, popping one back now and then. */
      for (uint32_t i = 0; i < n; i++) {
        if (tsr__deque_push(&d, i) != TSR_OK)
          atomic_fetch_add(&push_failures, 1);
        if (i % 7 == 3) {
          uint32_t t = tsr__deque_pop(&d);
          if (t != TSR__DEQUE_EMPTY) {
            if (t >= n)
              atomic_fetch_add(&out_of_range, 1);
            else
              atomic_fetch_add_explicit(&got[t], 1, memory_order_relaxed);
            popped++;
          }
        }
      }
      /* Then drain from the bottom while the thieves take from the top. */
      for (;;) {
        uint32_t t = tsr__deque_pop(&d);
        if (t == TSR__DEQUE_EMPTY)
          break;
        if (t >= n)
          atomic_fetch_add(&out_of_range, 1);
        else
          atomic_fetch_add_explicit(&got[t], 1, memory_order_relaxed);
        popped++;
      }
      atomic_store(&owner_done, 1);
    } else {
      uint64_t mine = 0;
      unsigned idle = 0;
      for (;;) {
        uint32_t t = tsr__deque_steal(&d);
        if (t == TSR__DEQUE_RETRY)
          continue;
        if (t == TSR__DEQUE_EMPTY) {
          /* The owner drains the deque before it says it is done, so once
           * it is done and the deque is empty, nothing more will come. */
          if (atomic_load(&owner_done))
            break;
          if (++idle > 64)
            sched_yield(); /* 4 threads on 2 cores: let the owner run */
          continue;
        }
        idle = 0;
        if (t >= n)
          atomic_fetch_add(&out_of_range, 1);
        else
          atomic_fetch_add_explicit(&got[t], 1, memory_order_relaxed);
        mine++;
      }
      atomic_fetch_add(&stolen, mine);
    }
  }

  assert_int_equal(team, thieves + 1);
  assert_int_equal(atomic_load(&push_failures), 0);
  assert_int_equal(atomic_load(&out_of_range), 0);
  assert_int_equal(popped + atomic_load(&stolen), n);
  uint32_t missing = 0, twice = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint8_t c = atomic_load_explicit(&got[i], memory_order_relaxed);
    missing += c == 0;
    twice += c > 1;
  }
  if (missing || twice)
    print_error("%u ids never obtained, %u obtained more than once\n", missing, twice);
  assert_int_equal(missing, 0);
  assert_int_equal(twice, 0);
  assert_int_equal(tsr__deque_steal(&d), TSR__DEQUE_EMPTY);
  assert_int_equal(tsr__deque_pop(&d), TSR__DEQUE_EMPTY);
  print_message("owner popped %llu, thieves stole %llu\n", (unsigned long long)popped,
                (unsigned long long)atomic_load(&stolen));
  tsr__deque_destroy(&d);
  free((void *)got);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_deque__lifo_pop, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_deque__fifo_steal, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_deque__growth_keeps_all_elements, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_deque__concurrent_steals_get_each_id_once,
                                      test_ctx_setup, test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

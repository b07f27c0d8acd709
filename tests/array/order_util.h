/* order_util.h — what the tests of the array order functions share: a
 * random generator, typed buffers read and written as doubles, random
 * chunkings (1-element, ragged, whole), NumPy's order (NaN last) and a
 * stable reference sort. */
#ifndef TSR_TEST_ORDER_UTIL_H
#define TSR_TEST_ORDER_UTIL_H

#include "structure_util.h"
#include "test_util.h"

#include <math.h>
#include <stdlib.h>

static uint64_t rng_state = 0x5eed0123;
static uint64_t next_rand(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static int64_t rand_below(int64_t n) { return (int64_t)(next_rand() % (uint64_t)n); }

static void configure(tsr_ctx *ctx, int threads) {
  assert_ok(tsr_ctx_set_executor(ctx, threads == 0 ? TSR_EXECUTOR_SERIAL : TSR_EXECUTOR_OMP));
  assert_ok(tsr_ctx_set_threads(ctx, threads == 0 ? 1 : threads));
}

/* Values as doubles (structure_util.h's accessors, which read long double). */
static void put(void *buf, tsr_dtype dt, int64_t i, double v) { su_set(buf, dt, i, v); }
static double get(const void *buf, tsr_dtype dt, int64_t i) { return (double)su_get(buf, dt, i); }

static double rand_value(tsr_dtype dt) {
  static const double pool[] = {NAN, -0.0, 0.0, INFINITY, -INFINITY, 1.5, -2.25, 3, 3, 7, 0.1};
  if (tsr_dtype_is_float(dt)) {
    if (next_rand() % 3 == 0)
      return pool[rand_below(sizeof pool / sizeof pool[0])];
    return (double)(rand_below(2001) - 1000) / 8;
  }
  if (dt == TSR_BOOL)
    return (double)rand_below(2);
  if (tsr_dtype_is_signed(dt))
    return (double)(rand_below(101) - 50);
  return (double)rand_below(101);
}

/* Chunk extents for an axis of extent n: 1, ragged, or whole. */
static int64_t rand_chunk(int64_t n) {
  switch (rand_below(3)) {
  case 0:
    return 1;
  case 1:
    return n > 1 ? 1 + rand_below(n) : 1;
  default:
    return n > 0 ? n : 1;
  }
}

/* NumPy's sort order: NaN last, -0.0 == 0.0. */
static inline int np_cmp(double a, double b) {
  bool na = a != a, nb = b != b;
  if (na || nb)
    return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

typedef struct ref_item {
  double v;
  int64_t i;
} ref_item;

static int ref_item_cmp(const void *x, const void *y) {
  const ref_item *a = x, *b = y;
  int c = np_cmp(a->v, b->v);
  return c ? c : (a->i > b->i) - (a->i < b->i);
}

/* Stable sort of it[0..n) by value (ties by index). */
static inline void ref_sort(ref_item *it, int64_t n) { qsort(it, (size_t)n, sizeof *it, ref_item_cmp); }

/* Both NaN, or equal as numbers. */
static inline bool same_value(double a, double b) { return (a != a && b != b) || a == b; }

/* Bitwise equal, any NaN equal to any NaN, and -0.0 to 0.0 (which of two
 * equal zeros a selection lands on is unspecified in NumPy too). */
static inline bool same_bits(double a, double b) {
  if ((a != a && b != b) || (a == 0 && b == 0))
    return true;
  return memcmp(&a, &b, sizeof a) == 0;
}

#endif /* TSR_TEST_ORDER_UTIL_H */

/* pairwise_sum.h — NumPy's pairwise summation of doubles, and a binary
 * cascade of block sums: how array and frame reductions sum floats inside a
 * chunk, so that their sums are accurate and do not depend on threads. */
#ifndef TSR_CORE_PAIRWISE_SUM_H
#define TSR_CORE_PAIRWISE_SUM_H

#include <stddef.h>

/* NumPy's pairwise summation: 8-way unrolled blocks of up to 128 values,
 * halves summed recursively beyond. */
static inline double tsr__pairwise_sum(const double *v, size_t n) {
  if (n < 8) {
    double s = -0.0;
    for (size_t i = 0; i < n; i++)
      s += v[i];
    return s;
  }
  if (n <= 128) {
    double r[8];
    for (int k = 0; k < 8; k++)
      r[k] = v[k];
    size_t i;
    for (i = 8; i < n - n % 8; i += 8)
      for (int k = 0; k < 8; k++)
        r[k] += v[i + k];
    double s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++)
      s += v[i];
    return s;
  }
  size_t half = n / 2;
  half -= half % 8;
  return tsr__pairwise_sum(v, half) + tsr__pairwise_sum(v + half, n - half);
}

/* A binary cascade of block sums: pairwise across the blocks of a run. */
typedef struct tsr__cascade {
  int top;
  double sum[64];
  int level[64];
} tsr__cascade;

static inline void tsr__cascade_push(tsr__cascade *c, double s) {
  int level = 0;
  while (c->top > 0 && c->level[c->top - 1] == level) {
    s = c->sum[--c->top] + s;
    level++;
  }
  c->sum[c->top] = s;
  c->level[c->top++] = level;
}

static inline double tsr__cascade_take(tsr__cascade *c) {
  double s = -0.0;
  while (c->top > 0)
    s = c->sum[--c->top] + s;
  return s;
}

#endif /* TSR_CORE_PAIRWISE_SUM_H */

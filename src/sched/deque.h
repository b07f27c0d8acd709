/* deque.h — a Chase-Lev work-stealing deque of task ids (Chase & Lev, SPAA
 * 2005), with the C11 memory orders of Lê, Pop, Cohen & Zappa Nardelli,
 * "Correct and Efficient Work-Stealing for Weak Memory Models" (PPoPP 2013).
 *
 * The owner thread pushes and pops at the bottom (LIFO: depth-first, warm
 * caches); other threads steal from the top (the oldest task).  The ring
 * grows by doubling when full; a replaced ring may still be read by a thief
 * that loaded it just before, so replaced rings are kept on a retired list
 * and freed only when the deque is destroyed, after the run (at most the
 * size of the final ring in total). */
#ifndef TSR_DEQUE_H
#define TSR_DEQUE_H

#include <stdatomic.h>

#include "core/core_impl.h"

#define TSR__DEQUE_EMPTY UINT32_MAX
#define TSR__DEQUE_RETRY (UINT32_MAX - 1) /* lost a race with another thief */

typedef struct tsr__deque_ring {
  int64_t capacity; /* a power of two */
  struct tsr__deque_ring *retired_next;
  _Atomic uint32_t slots[];
} tsr__deque_ring;

typedef struct tsr__deque {
  _Alignas(64) _Atomic int64_t top;
  _Alignas(64) _Atomic int64_t bottom;
  _Atomic(tsr__deque_ring *) ring;
  tsr__deque_ring *retired;
  tsr_ctx *ctx;
} tsr__deque;

/* capacity is rounded up to a power of two (at least 16). */
tsr_status tsr__deque_init(tsr__deque *d, tsr_ctx *ctx, uint64_t capacity);
void tsr__deque_destroy(tsr__deque *d);
/* Owner only.  TSR_ENOMEM if the ring had to grow and could not. */
tsr_status tsr__deque_push(tsr__deque *d, uint32_t task);
/* Owner only: the most recently pushed task, or TSR__DEQUE_EMPTY. */
uint32_t tsr__deque_pop(tsr__deque *d);
/* Any thread: the oldest task, TSR__DEQUE_EMPTY, or TSR__DEQUE_RETRY. */
uint32_t tsr__deque_steal(tsr__deque *d);

#endif /* TSR_DEQUE_H */

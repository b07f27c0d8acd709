/* deque.c — see deque.h for the algorithm and the memory-order source.
 * Indices are signed 64-bit so that `bottom - 1` below zero compares
 * correctly and never wraps in practice. */
#include "deque.h"

static tsr_status ring_create(tsr_ctx *ctx, int64_t capacity, tsr__deque_ring **out) {
  size_t bytes = sizeof(tsr__deque_ring) + (size_t)capacity * sizeof(_Atomic uint32_t);
  TSR_TRY(tsr_alloc(ctx, bytes, (void **)out));
  (*out)->capacity = capacity;
  (*out)->retired_next = NULL;
  return TSR_OK;
}

tsr_status tsr__deque_init(tsr__deque *d, tsr_ctx *ctx, uint64_t capacity) {
  int64_t cap = 16;
  while ((uint64_t)cap < capacity && cap < ((int64_t)1 << 40))
    cap *= 2;
  tsr__deque_ring *ring;
  atomic_init(&d->top, 0);
  atomic_init(&d->bottom, 0);
  atomic_init(&d->ring, NULL);
  d->retired = NULL;
  d->ctx = ctx;
  TSR_TRY(ring_create(ctx, cap, &ring));
  atomic_init(&d->ring, ring);
  return TSR_OK;
}

void tsr__deque_destroy(tsr__deque *d) {
  tsr_free(d->ctx, atomic_load_explicit(&d->ring, memory_order_relaxed));
  atomic_store_explicit(&d->ring, NULL, memory_order_relaxed);
  while (d->retired != NULL) {
    tsr__deque_ring *next = d->retired->retired_next;
    tsr_free(d->ctx, d->retired);
    d->retired = next;
  }
}

static tsr_status grow(tsr__deque *d, tsr__deque_ring *old, int64_t top, int64_t bottom,
                       tsr__deque_ring **out) {
  tsr__deque_ring *ring;
  TSR_TRY(ring_create(d->ctx, 2 * old->capacity, &ring));
  for (int64_t i = top; i < bottom; i++) {
    uint32_t v = atomic_load_explicit(&old->slots[i & (old->capacity - 1)], memory_order_relaxed);
    atomic_store_explicit(&ring->slots[i & (ring->capacity - 1)], v, memory_order_relaxed);
  }
  old->retired_next = d->retired;
  d->retired = old;
  atomic_store_explicit(&d->ring, ring, memory_order_release);
  *out = ring;
  return TSR_OK;
}

tsr_status tsr__deque_push(tsr__deque *d, uint32_t task) {
  int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
  int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
  tsr__deque_ring *ring = atomic_load_explicit(&d->ring, memory_order_relaxed);
  if (b - t > ring->capacity - 1)
    TSR_TRY(grow(d, ring, t, b, &ring));
  atomic_store_explicit(&ring->slots[b & (ring->capacity - 1)], task, memory_order_relaxed);
  /* The paper uses a release fence and a relaxed store; a release store is
   * just as cheap (a plain store on x86) and ThreadSanitizer, which does not
   * model fences, then sees the producer-to-thief handoff. */
  atomic_store_explicit(&d->bottom, b + 1, memory_order_release);
  return TSR_OK;
}

uint32_t tsr__deque_pop(tsr__deque *d) {
  int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed) - 1;
  tsr__deque_ring *ring = atomic_load_explicit(&d->ring, memory_order_relaxed);
  atomic_store_explicit(&d->bottom, b, memory_order_relaxed);
  atomic_thread_fence(memory_order_seq_cst);
  int64_t t = atomic_load_explicit(&d->top, memory_order_relaxed);
  if (t > b) { /* empty */
    atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
    return TSR__DEQUE_EMPTY;
  }
  uint32_t task =
      atomic_load_explicit(&ring->slots[b & (ring->capacity - 1)], memory_order_relaxed);
  if (t == b) { /* the last one: race thieves for it */
    if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1, memory_order_seq_cst,
                                                 memory_order_relaxed))
      task = TSR__DEQUE_EMPTY;
    atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
  }
  return task;
}

uint32_t tsr__deque_steal(tsr__deque *d) {
  int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
  atomic_thread_fence(memory_order_seq_cst);
  int64_t b = atomic_load_explicit(&d->bottom, memory_order_acquire);
  if (t >= b)
    return TSR__DEQUE_EMPTY;
  /* The paper loads the ring with memory_order_consume; acquire is what
   * compilers implement consume as anyway. */
  tsr__deque_ring *ring = atomic_load_explicit(&d->ring, memory_order_acquire);
  uint32_t task =
      atomic_load_explicit(&ring->slots[t & (ring->capacity - 1)], memory_order_relaxed);
  if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1, memory_order_seq_cst,
                                               memory_order_relaxed))
    return TSR__DEQUE_RETRY;
  return task;
}

/* exec_omp.c — the OpenMP executor: one parallel region per run; each
 * thread runs a scheduler loop over its own Chase-Lev deque.
 *
 * Where a thread finds work, in order:
 *   1. its own deque (LIFO: the successor it just made ready, depth-first);
 *   2. the shared root queue — tasks without inputs in priority order —
 *      taken in small batches so that roots are started in the order their
 *      results are needed (the hook for memory admission);
 *   3. stealing the oldest task of another thread, starting at a random
 *      victim.
 * Successors that become ready are pushed in descending priority number, so
 * the most urgent one is popped next.  Completed-task counts are flushed to
 * the shared counter in batches and whenever a thread runs dry, so the
 * shared counter is not a per-task contention point; a thread stops when the
 * counter reaches the task count or the run is stopped by a failure.
 *
 * Idle threads back off (pause, sched_yield, then 50 us naps) so that
 * oversubscribed runs (more threads than cores) still make progress and a
 * long kernel does not keep idle threads burning their cores. */
#include <sched.h>
#include <time.h>

#include <omp.h>

#include "run_impl.h"

#define FLUSH_EVERY 32u
#define MAX_ROOT_BATCH 64u

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* Spin briefly (work usually appears within microseconds), then yield the
 * core, then sleep in short naps so that a long kernel on one thread does
 * not keep the others burning CPU.  A nap bounds the wake-up delay. */
#define SPIN_ROUNDS 10u
#define YIELD_ROUNDS 200u
#define NAP_NANOSECONDS 50000L

static void backoff(unsigned *idle) {
  if (*idle < SPIN_ROUNDS) {
    for (unsigned i = 0; i < (1u << *idle); i++)
      cpu_relax();
  } else if (*idle < SPIN_ROUNDS + YIELD_ROUNDS) {
    sched_yield();
  } else {
    struct timespec nap = {0, NAP_NANOSECONDS};
    nanosleep(&nap, NULL);
  }
  if (*idle < UINT32_MAX)
    (*idle)++;
}

static void flush_done(tsr__run *run, tsr__worker *w) {
  if (w->done_unflushed > 0) {
    atomic_fetch_add_explicit(&run->done, w->done_unflushed, memory_order_release);
    w->done_unflushed = 0;
  }
}

static bool push_or_fail(tsr__run *run, tsr__worker *w, uint32_t t) {
  tsr_status status = tsr__deque_push(&w->deque, t);
  if (status != TSR_OK) {
    tsr__run_fail(run, status);
    return false;
  }
  return true;
}

/* Takes a batch of roots: returns the first and pushes the others so that
 * they pop in priority order (and can be stolen oldest-first). */
static uint32_t take_roots(tsr__run *run, tsr__worker *w, int team) {
  uint64_t cursor = atomic_load_explicit(&run->root_cursor, memory_order_relaxed);
  if (cursor >= run->n_roots)
    return TSR__DEQUE_EMPTY;
  uint64_t batch = (run->n_roots - cursor) / (4u * (unsigned)team);
  batch = batch < 1 ? 1 : (batch > MAX_ROOT_BATCH ? MAX_ROOT_BATCH : batch);
  if (run->spill != NULL) {
    /* Memory budget: admit one root at a time, and only while its output
     * fits under the limit — unless nothing runs, which must not wait. */
    batch = 1;
    tsr_memory_stats m;
    uint64_t need = run->g->tasks[run->roots[cursor]].out_bytes;
    if (atomic_load_explicit(&run->running, memory_order_relaxed) > 0 &&
        tsr_ctx_memory_stats(run->ctx, &m) == TSR_OK && m.current_bytes + need > m.limit_bytes)
      return TSR__DEQUE_EMPTY;
  }
  uint64_t start = atomic_fetch_add_explicit(&run->root_cursor, batch, memory_order_relaxed);
  if (start >= run->n_roots)
    return TSR__DEQUE_EMPTY;
  uint64_t end = start + batch < run->n_roots ? start + batch : run->n_roots;
  for (uint64_t i = end - 1; i > start; i--)
    if (!push_or_fail(run, w, run->roots[i]))
      return TSR__DEQUE_EMPTY;
  return run->roots[start];
}

static uint32_t steal_task(tsr__run *run, int me, tsr__worker *w, int team) {
  if (team <= 1)
    return TSR__DEQUE_EMPTY;
  /* xorshift32 picks where to start, so thieves spread over victims. */
  uint32_t x = w->victim_seed;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  w->victim_seed = x;
  int start = (int)(x % (uint32_t)team);
  for (int k = 0; k < team; k++) {
    int victim = (start + k) % team;
    if (victim == me)
      continue;
    for (int attempt = 0; attempt < 4; attempt++) {
      uint32_t t = tsr__deque_steal(&run->workers[victim].deque);
      if (t == TSR__DEQUE_RETRY)
        continue;
      if (t != TSR__DEQUE_EMPTY) {
        w->steals++;
        return t;
      }
      break;
    }
  }
  return TSR__DEQUE_EMPTY;
}

/* Task t completed here (ran, or its chunk arrived from another rank):
 * make ready successors that run here runnable. */
static bool make_ready(tsr__run *run, tsr__worker *w, uint32_t t) {
  const tsr_taskgraph *g = run->g;
  for (uint32_t e = g->succ_off[t]; e < g->succ_off[t + 1]; e++) {
    uint32_t s = g->succ[e];
    if (run->role[s] != TSR__ROLE_RUN)
      continue;
    /* acq_rel: the last producer to finish sees every producer's output. */
    if (atomic_fetch_sub_explicit(&run->pending[s], 1, memory_order_acq_rel) == 1)
      if (!push_or_fail(run, w, s))
        return false;
  }
  if (++w->done_unflushed >= FLUSH_EVERY)
    flush_done(run, w);
  return true;
}

/* After task t ran: send its chunk where it is read, make ready
 * successors runnable, release inputs. */
static bool complete(tsr__run *run, tsr__worker *w, uint32_t t) {
  if (tsr__xfer_n_dests(run, t) > 0)
    tsr__xfer_produced(run, t);
  bool ok = make_ready(run, w, t);
  tsr__run_release(run, t);
  return ok;
}

/* Under MPI: drives the messages; arrived chunks complete their tasks.
 * Returns whether any arrived. */
#define ARRIVALS 16u
static bool progress_messages(tsr__run *run, tsr__worker *w, unsigned idle) {
  uint32_t arrived[ARRIVALS];
  uint32_t n = tsr__xfer_progress(run, arrived, ARRIVALS, idle > 0, idle > SPIN_ROUNDS + YIELD_ROUNDS);
  for (uint32_t i = 0; i < n; i++)
    if (!make_ready(run, w, arrived[i]))
      return false;
  return n > 0;
}

static void worker_loop(tsr__run *run, int me, int team) {
  tsr__worker *w = &run->workers[me];
  const uint64_t n = run->n_live;
  const bool reports_progress = run->progress != NULL; /* any worker: tsr__run_progress */
  unsigned idle = 0;
  double now = 0;
  const bool messages = run->xfer != NULL;
  for (;;) {
    if (atomic_load_explicit(&run->stop, memory_order_relaxed))
      break;
    if (messages && progress_messages(run, w, idle))
      idle = 0;
    uint32_t t = tsr__deque_pop(&w->deque);
    if (t == TSR__DEQUE_EMPTY)
      t = take_roots(run, w, team);
    if (t == TSR__DEQUE_EMPTY)
      t = steal_task(run, me, w, team);
    if (t == TSR__DEQUE_EMPTY) {
      flush_done(run, w);
      if (atomic_load_explicit(&run->done, memory_order_acquire) >= n)
        break;
      if (reports_progress)
        tsr__run_progress(run, tsr__now());
      backoff(&idle);
      continue;
    }
    idle = 0;
    if (run->spill != NULL)
      atomic_fetch_add_explicit(&run->running, 1, memory_order_relaxed);
    bool ok = tsr__run_task(run, t, w, me, &now) == TSR_OK && complete(run, w, t);
    if (run->spill != NULL)
      atomic_fetch_sub_explicit(&run->running, 1, memory_order_relaxed);
    if (!ok)
      break;
    if (reports_progress)
      tsr__run_progress(run, now);
  }
  flush_done(run, w);
}

tsr_status tsr__exec_omp(tsr__run *run) {
  int team_size = 1;
#pragma omp parallel num_threads(run->threads)
  {
    int team = omp_get_num_threads();
    int me = omp_get_thread_num();
    if (me == 0)
      team_size = team;
    /* The team may be smaller than asked (OMP_THREAD_LIMIT, nesting); the
     * spare workers' deques simply stay empty. */
    worker_loop(run, me, team);
  }
  run->team = team_size;
  return atomic_load(&run->failed) ? run->status : TSR_OK;
}

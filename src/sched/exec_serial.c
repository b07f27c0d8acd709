/* exec_serial.c — the serial executor: runs every task on the calling
 * thread in the graph's priority order (a topological order), with no
 * OpenMP, no atomics contention and no stealing.  It exists for debugging
 * (step through a run in gdb) and as the reference the parallel executor is
 * tested against. */
#include "run_impl.h"

tsr_status tsr__exec_serial(tsr__run *run) {
  const tsr_taskgraph *g = run->g;
  tsr__worker *w = &run->workers[0];
  uint64_t done = 0;
  for (uint32_t i = 0; i < g->n_tasks; i++) {
    uint32_t t = g->order[i];
    if (run->role[t] != TSR__ROLE_RUN)
      continue;
    double now;
    tsr_status status = tsr__run_task(run, t, w, 0, &now);
    if (status != TSR_OK)
      return run->status;
    tsr__run_release(run, t);
    atomic_store_explicit(&run->done, ++done, memory_order_relaxed);
    tsr__run_progress(run, now);
    if (atomic_load_explicit(&run->stop, memory_order_relaxed))
      return run->status;
  }
  return TSR_OK;
}

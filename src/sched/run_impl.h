/* run_impl.h — the state of one run of a task graph, shared by the serial
 * and OpenMP executors, the trace writer and the statistics.
 *
 * Ownership: run.c allocates everything here before an executor starts and
 * frees it after, so executors never allocate except when a deque grows or
 * a task's output is allocated; both failures end the run like a failing
 * kernel.  Chunk buffer invariant: bufs[t] is non-NULL from the moment task
 * t has run until its last consumer has run (or for ever, if t is kept). */
#ifndef TSR_RUN_IMPL_H
#define TSR_RUN_IMPL_H

#include "core/atomic_file.h"
#include "deque.h"
#include "taskgraph_impl.h"

#define TSR__MESSAGE_BYTES 1024

typedef struct tsr__spill tsr__spill; /* spill.c */
typedef struct tsr__xfer tsr__xfer;   /* transfer.c */

/* What a task is to this rank's run (transfer.c). */
enum {
  TSR__ROLE_SKIP = 0, /* culled, or runs elsewhere and nothing here reads it */
  TSR__ROLE_RUN = 1,  /* runs here */
  TSR__ROLE_RECV = 2, /* runs elsewhere; its chunk arrives here as a message */
};

typedef struct tsr__trace_event {
  double start, end; /* seconds since the run started */
  int32_t thread;
  int32_t ran; /* 0 for tasks that never ran */
} tsr__trace_event;

typedef struct tsr__worker {
  tsr__deque deque; /* first: keeps top/bottom on their own cache lines */
  uint64_t tasks_run;
  uint64_t done_unflushed; /* completed tasks not yet added to run->done */
  uint64_t steals;
  uint64_t chunk_bytes;
  uint32_t victim_seed;
  double *kernel_seconds; /* per kernel */
  uint64_t *kernel_tasks; /* per kernel */
  const void **in_ptrs;   /* scratch: max_fan_in input pointers */
  size_t *in_bytes;       /* scratch: their sizes */
} tsr__worker;

typedef struct tsr__run {
  tsr_taskgraph *g;
  tsr_ctx *ctx;
  tsr_progress_fn progress;
  void *progress_user;
  double progress_interval;
  _Atomic double next_progress; /* any worker reports when due ... */
  _Atomic bool progress_busy;   /* ... one at a time */
  int threads;          /* workers allocated */
  int team;             /* threads that actually ran */
  tsr__worker *workers; /* `threads` entries */

  void **bufs;                 /* per task: its output chunk */
  _Atomic uint32_t *pending;   /* per task: inputs not yet run */
  _Atomic uint32_t *consumers; /* per task: consumers not yet run */
  uint8_t *role;               /* per task: TSR__ROLE_* */
  uint32_t n_live;             /* tasks to run or receive: what the run must complete */
  uint32_t *roots;             /* tasks without inputs, in priority order */
  uint32_t n_roots;
  _Atomic uint64_t root_cursor;
  _Atomic uint64_t done;         /* tasks completed, flushed in batches */
  _Atomic bool stop;             /* set on failure or cancellation */
  _Atomic int failed;            /* the first failure wins */
  _Atomic uint64_t tasks_failed; /* tasks whose output allocation or kernel failed */
  tsr_status status;
  char message[TSR__MESSAGE_BYTES];

  tsr__spill *spill;              /* the memory budget's state; NULL without a memory limit */
  tsr__xfer *xfer;                /* chunk messages; NULL on one rank */
  _Atomic uint32_t running;       /* tasks started and not completed (for root admission) */
  tsr_kernel_stats *kernel_stats; /* per kernel; handed to the graph at the end */
  tsr__trace_event *trace;        /* per task, or NULL when not tracing */
  double t0;                      /* tsr__now() at the start */
} tsr__run;

/* Runs task t on `w` (worker index `thread`): allocates its output, calls
 * its kernel, records timing.  On failure records it (tsr__run_fail) and
 * returns the status; the task's output is then freed. */
tsr_status tsr__run_task(tsr__run *run, uint32_t t, tsr__worker *w, int thread, double *now);
/* After task t ran: releases its inputs (freeing buffers whose last consumer
 * it was) and frees its own output if nobody needs it. */
void tsr__run_release(tsr__run *run, uint32_t t);
/* A send of task t's chunk completed: one reader fewer. */
void tsr__run_sent(tsr__run *run, uint32_t t);
/* Records the calling thread's tsr_last_error() as the run's failure if it is
 * the first, and asks every worker to stop. */
void tsr__run_fail(tsr__run *run, tsr_status status);
/* As tsr__run_fail, for a failure of a task itself (counted in the stats). */
void tsr__run_task_failed(tsr__run *run, tsr_status status);
/* Calls the progress callback if it is due (one thread only). */
void tsr__run_progress(tsr__run *run, double now);

/* The memory budget (spill.c); every hook returns at once without a limit.
 * before: pins task t's inputs, reads spilled ones back and makes room for
 * its output; after: unpins them (and marks t's output as held if it ran);
 * release: frees a chunk whose consumers have all run. */
tsr_status tsr__spill_init(tsr__run *run);
void tsr__spill_free(tsr__run *run);
tsr_status tsr__spill_before(tsr__run *run, uint32_t t);
/* Allocates a task's output or read-back buffer under the budget: spills to
 * make room, and waits for running tasks to free memory when that is not
 * enough (fails when every running task is waiting). */
tsr_status tsr__spill_alloc(tsr__run *run, size_t bytes, void **out);
/* As tsr__spill_alloc without waiting: spills what it can, then allocates
 * or fails (a receive buffer, posted again later). */
tsr_status tsr__spill_try_alloc(tsr__run *run, size_t bytes, void **out);
void tsr__spill_after(tsr__run *run, uint32_t t, bool ran);
void tsr__spill_release(tsr__run *run, uint32_t t);
/* A received chunk now waits for its consumers (it may be spilled). */
void tsr__spill_hold(tsr__run *run, uint32_t t);
/* One send of t's chunk completed (chunks being sent stay pinned). */
void tsr__spill_unpin(tsr__run *run, uint32_t t);
/* Marks the calling thread as running a kernel of `run` (tsr_kernel_alloc). */
void tsr__spill_enter_kernel(tsr__run *run);
void tsr__spill_leave_kernel(void);
void tsr__spill_totals(const tsr__run *run, uint64_t *spilled, uint64_t *read);

/* Distribution (transfer.c).  init: roles for every task (and, on more
 * than one rank, owners, send lists and receives); start (collective, on
 * every rank whatever its own init status): agrees on that status and
 * checks that every rank built the same graph; progress: see transfer.c,
 * returns the tasks whose chunks arrived (at most cap; `idle`: the caller
 * found nothing to run last time, and polls now; otherwise a busy caller
 * polls at most every 20 us unless a chunk waits to be sent; `stalled`:
 * it has found nothing to run for a while); produced: queues a
 * completed task's chunk for the ranks that read it; finish (collective):
 * agrees on the run's outcome and completes or cancels every request. */
tsr_status tsr__xfer_init(tsr__run *run);
tsr_status tsr__xfer_start(tsr__run *run, tsr_ctx *ctx, tsr_status status);
uint32_t tsr__xfer_n_dests(const tsr__run *run, uint32_t t);
void tsr__xfer_produced(tsr__run *run, uint32_t t);
uint32_t tsr__xfer_progress(tsr__run *run, uint32_t *arrived, uint32_t cap, bool idle,
                            bool stalled);
tsr_status tsr__xfer_finish(tsr__run *run);
void tsr__xfer_stats(const tsr__run *run, tsr_run_stats *s);
void tsr__xfer_free(tsr__run *run);

tsr_status tsr__exec_serial(tsr__run *run);
tsr_status tsr__exec_omp(tsr__run *run);

/* Writes the Chrome trace of a run. */
tsr_status tsr__trace_write(const tsr__run *run, const char *path);

/* Several runs in one trace file (trace.c): opened at the first run, each
 * run appended as a process track of its own, written (atomically) by
 * tsr__trace_close. */
typedef struct tsr__trace_log {
  tsr__atomic_file file;
  bool open;
  double t0; /* the first run's start */
  int runs;
} tsr__trace_log;
tsr_status tsr__trace_append(tsr__trace_log *log, const tsr__run *run, const char *path);
tsr_status tsr__trace_close(tsr__trace_log *log);

/* The context's run observer (observe.c, tsr_ctx_set_run_observer), or
 * NULL; it applies to runs whose options give neither progress nor trace. */
typedef struct tsr__observer {
  tsr_run_options run; /* progress; trace_path (its own copy) */
  void (*on_stats)(const tsr_run_stats *stats, void *user);
  void *user;
  tsr__trace_log log;
} tsr__observer;
tsr__observer *tsr__observer_of(tsr_ctx *ctx);

#endif /* TSR_RUN_IMPL_H */

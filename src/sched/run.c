/* run.c — one run of a task graph: set-up, the per-task steps shared by all
 * executors (run a task, release its inputs), failure and progress
 * reporting, statistics, and tear-down.
 *
 * Hot path (per task): one output allocation when the task has output bytes,
 * two clock reads, the kernel call, and one atomic decrement per input and
 * per successor.  Everything else is allocated once per run. */
#include <string.h>

#include "run_impl.h"

void tsr__run_task_failed(tsr__run *run, tsr_status status) {
  atomic_fetch_add_explicit(&run->tasks_failed, 1, memory_order_relaxed);
  tsr__run_fail(run, status);
}

void tsr__run_fail(tsr__run *run, tsr_status status) {
  int expected = 0;
  if (atomic_compare_exchange_strong(&run->failed, &expected, 1)) {
    run->status = status;
    snprintf(run->message, sizeof run->message, "%s",
             tsr_last_error()[0] ? tsr_last_error() : tsr_strerror(status));
  }
  atomic_store_explicit(&run->stop, true, memory_order_release);
}

tsr_status tsr__run_task(tsr__run *run, uint32_t t, tsr__worker *w, int thread, double *now) {
  const tsr_taskgraph *g = run->g;
  const tsr__task *task = &g->tasks[t];
  const tsr__kernel *k = &g->kernels[task->kernel];
  void *out = NULL;
  tsr_status status = tsr__spill_before(run, t);
  if (status != TSR_OK) {
    tsr__spill_after(run, t, false);
    tsr_error_set(status, "task %u (kernel '%s'): memory budget: %s", t, k->name, tsr_last_error());
    tsr__run_task_failed(run, status);
    return status;
  }
  if (task->flags & TSR__TASK_EXTERNAL) {
    memcpy(&out, g->params + task->params_off, sizeof out); /* the caller's buffer */
  } else if (task->out_bytes > 0) {
    status = tsr__spill_alloc(run, task->out_bytes, &out);
    if (status != TSR_OK) {
      tsr__spill_after(run, t, false);
      tsr_error_set(status, "task %u (kernel '%s'): output chunk: %s", t, k->name,
                    tsr_last_error());
      tsr__run_task_failed(run, status);
      return status;
    }
    w->chunk_bytes += task->out_bytes;
  }
  uint32_t n_in = tsr__task_n_inputs(g, t);
  /* A graph without edges has no input array (NULL + 0 is undefined). */
  const uint32_t *in = n_in > 0 ? g->inputs + g->in_off[t] : NULL;
  for (uint32_t i = 0; i < n_in; i++) {
    w->in_ptrs[i] = run->bufs[in[i]];
    w->in_bytes[i] = g->tasks[in[i]].out_bytes;
  }
  tsr_kernel_call call = {
      .inputs = w->in_ptrs,
      .input_bytes = w->in_bytes,
      .n_inputs = n_in,
      .output = out,
      .output_bytes = task->out_bytes,
      .params = task->params_bytes ? g->params + task->params_off : NULL,
      .params_bytes = task->params_bytes,
      .user = k->user,
      .task = t,
      .thread = thread,
  };
  tsr_error_clear();
  double start = tsr__now();
  tsr__spill_enter_kernel(run);
  status = k->fn(&call);
  tsr__spill_leave_kernel();
  double end = tsr__now();
  *now = end;
  if (status != TSR_OK) {
    if (!tsr__status_known(status)) {
      tsr_error_set(TSR_EINTERNAL, "kernel returned %d, which is not a tsr_status", (int)status);
      status = TSR_EINTERNAL;
    }
    tsr_error_set(status, "task %u (kernel '%s'): %s", t, k->name,
                  tsr_last_error()[0] ? tsr_last_error() : tsr_strerror(status));
    tsr__task_free_output(g, t, out);
    tsr__spill_after(run, t, false);
    tsr__run_task_failed(run, status);
    return status;
  }
  run->bufs[t] = out;
  tsr__spill_after(run, t, true);
  w->kernel_seconds[task->kernel] += end - start;
  w->kernel_tasks[task->kernel]++;
  w->tasks_run++;
  if (run->trace != NULL) {
    run->trace[t].start = start - run->t0;
    run->trace[t].end = end - run->t0;
    run->trace[t].thread = thread;
    run->trace[t].ran = 1;
  }
  return TSR_OK;
}

static void release_buffer(tsr__run *run, uint32_t t) {
  if (run->g->tasks[t].flags & TSR__TASK_KEPT)
    return;
  tsr__spill_release(run, t);
}

void tsr__run_release(tsr__run *run, uint32_t t) {
  const tsr_taskgraph *g = run->g;
  for (uint32_t e = g->in_off[t]; e < g->in_off[t + 1]; e++) {
    uint32_t u = g->inputs[e];
    /* acq_rel: every consumer's reads of u's buffer happen before the free. */
    if (atomic_fetch_sub_explicit(&run->consumers[u], 1, memory_order_acq_rel) == 1)
      release_buffer(run, u);
  }
  /* Nobody will read t's output (no consumers here or elsewhere, or only
   * culled ones).  Not run->consumers[t]: consumers pushed by the executor
   * may already be running and count it down themselves. */
  bool read_later = tsr__xfer_n_dests(run, t) > 0;
  for (uint32_t e = g->succ_off[t]; e < g->succ_off[t + 1] && !read_later; e++)
    read_later = run->role[g->succ[e]] == TSR__ROLE_RUN;
  if (!read_later)
    release_buffer(run, t);
}

void tsr__run_sent(tsr__run *run, uint32_t t) {
  tsr__spill_unpin(run, t);
  if (atomic_fetch_sub_explicit(&run->consumers[t], 1, memory_order_acq_rel) == 1)
    release_buffer(run, t);
}

/* Whichever worker finds a report due makes it (so a descheduled thread
 * does not silence progress and cancelling); one at a time. */
void tsr__run_progress(tsr__run *run, double now) {
  if (run->progress == NULL ||
      now < atomic_load_explicit(&run->next_progress, memory_order_relaxed))
    return;
  bool idle = false;
  if (!atomic_compare_exchange_strong(&run->progress_busy, &idle, true))
    return;                                                      /* another worker is reporting */
  if (!atomic_load_explicit(&run->stop, memory_order_acquire) && /* not after a cancel */
      now >= atomic_load_explicit(&run->next_progress, memory_order_relaxed)) {
    atomic_store_explicit(&run->next_progress, now + run->progress_interval, memory_order_relaxed);
    uint64_t done = atomic_load_explicit(&run->done, memory_order_relaxed);
    if (run->progress(done, run->n_live, run->progress_user) != 0) {
      tsr_error_set(TSR_ECANCELED, "run canceled by the progress callback after %llu of %u tasks",
                    (unsigned long long)done, run->n_live);
      tsr__run_fail(run, TSR_ECANCELED);
    }
  }
  atomic_store(&run->progress_busy, false);
}

/* ---- set-up and tear-down ------------------------------------------------ */

static void run_free(tsr__run *run) {
  tsr_ctx *ctx = run->ctx;
  if (run->workers != NULL) {
    for (int i = 0; i < run->threads; i++) {
      tsr__worker *w = &run->workers[i];
      if (w->deque.ctx != NULL)
        tsr__deque_destroy(&w->deque);
      tsr_free(ctx, w->kernel_seconds);
      tsr_free(ctx, w->kernel_tasks);
      tsr_free(ctx, w->in_ptrs);
      tsr_free(ctx, w->in_bytes);
    }
  }
  tsr__spill_free(run);
  tsr__xfer_free(run);
  tsr_free(ctx, run->workers);
  tsr_free(ctx, run->pending);
  tsr_free(ctx, run->consumers);
  tsr_free(ctx, run->roots);
  tsr_free(ctx, run->trace);
  tsr_free(ctx, run->kernel_stats);
  run->kernel_stats = NULL;
  run->workers = NULL;
  run->pending = run->consumers = NULL;
  run->roots = NULL;
  run->trace = NULL;
}

static tsr_status run_init(tsr__run *run, tsr_taskgraph *g, const tsr_run_options *opts) {
  tsr_ctx *ctx = g->ctx;
  uint32_t n = g->n_tasks;
  memset(run, 0, sizeof *run);
  run->g = g;
  run->ctx = ctx;
  run->threads = tsr_ctx_executor(ctx) == TSR_EXECUTOR_SERIAL ? 1 : tsr_ctx_threads(ctx);
  run->team = run->threads;
  if (opts != NULL && opts->progress != NULL) {
    run->progress = opts->progress;
    run->progress_user = opts->progress_user;
    run->progress_interval = opts->progress_interval > 0 ? opts->progress_interval : 0.1;
  }
  TSR_TRY(tsr_calloc(ctx, n, sizeof *run->bufs, (void **)&run->bufs));
  TSR_TRY(tsr__alloc_array(ctx, n, sizeof *run->pending, "run state", (void **)&run->pending));
  TSR_TRY(tsr__alloc_array(ctx, n, sizeof *run->consumers, "run state", (void **)&run->consumers));
  TSR_TRY(tsr__xfer_init(run)); /* who runs what: run->role */
  uint32_t n_roots = 0;
  for (uint32_t t = 0; t < n; t++) {
    /* Which outputs this run keeps: tsr_taskgraph_keep() after it does not
     * bring back an output the run has freed. */
    if ((g->tasks[t].flags & TSR__TASK_KEEP) && run->role[t] != TSR__ROLE_SKIP)
      g->tasks[t].flags |= TSR__TASK_KEPT;
    else
      g->tasks[t].flags &= (uint16_t)~TSR__TASK_KEPT;
    atomic_init(&run->pending[t], tsr__task_n_inputs(g, t));
    /* Readers of t's output: its consumers that run here (culled ones
     * never run) and the ranks it is sent to. */
    uint32_t readers = tsr__xfer_n_dests(run, t);
    for (uint32_t e = g->succ_off[t]; e < g->succ_off[t + 1]; e++)
      readers += run->role[g->succ[e]] == TSR__ROLE_RUN;
    atomic_init(&run->consumers[t], readers);
    if (run->role[t] == TSR__ROLE_SKIP)
      continue;
    run->n_live++;
    n_roots += run->role[t] == TSR__ROLE_RUN && tsr__task_n_inputs(g, t) == 0;
  }
  TSR_TRY(tsr__alloc_array(ctx, n_roots, sizeof *run->roots, "root queue", (void **)&run->roots));
  /* Roots in priority order, but under MPI the ones other ranks read first:
   * a rank whose work waits for a chunk must not wait for this rank's
   * own work to finish (a held chunk's send, say, queued behind every
   * local part of a group-by). */
  for (int sent = 1; sent >= 0; sent--)
    for (uint32_t i = 0; i < n; i++) {
      uint32_t t = g->order[i];
      if (tsr__task_n_inputs(g, t) == 0 && run->role[t] == TSR__ROLE_RUN &&
          (tsr__xfer_n_dests(run, t) > 0) == sent)
        run->roots[run->n_roots++] = t;
    }
  if (opts != NULL && opts->trace_path != NULL)
    TSR_TRY(tsr_calloc(ctx, n, sizeof *run->trace, (void **)&run->trace));
  TSR_TRY(tsr_calloc(ctx, g->n_kernels, sizeof *run->kernel_stats, (void **)&run->kernel_stats));
  TSR_TRY(tsr__spill_init(run));
  TSR_TRY(tsr_calloc(ctx, (size_t)run->threads, sizeof *run->workers, (void **)&run->workers));
  /* A deque starts with room for this thread's share of the roots and grows
   * when a burst of successors needs more. */
  uint64_t deque_capacity = (uint64_t)n_roots / (uint64_t)run->threads + 64;
  if (deque_capacity > 4096)
    deque_capacity = 4096;
  size_t fan_in = g->max_fan_in > 0 ? g->max_fan_in : 1;
  for (int i = 0; i < run->threads; i++) {
    tsr__worker *w = &run->workers[i];
    w->victim_seed = 0x9e3779b9u * (uint32_t)(i + 1);
    TSR_TRY(tsr_calloc(ctx, g->n_kernels, sizeof *w->kernel_seconds, (void **)&w->kernel_seconds));
    TSR_TRY(tsr_calloc(ctx, g->n_kernels, sizeof *w->kernel_tasks, (void **)&w->kernel_tasks));
    TSR_TRY(
        tsr__alloc_array(ctx, fan_in, sizeof *w->in_ptrs, "input scratch", (void **)&w->in_ptrs));
    TSR_TRY(
        tsr__alloc_array(ctx, fan_in, sizeof *w->in_bytes, "input scratch", (void **)&w->in_bytes));
    if (tsr_ctx_executor(ctx) == TSR_EXECUTOR_OMP || run->xfer != NULL)
      TSR_TRY(tsr__deque_init(&w->deque, ctx, deque_capacity));
  }
  return TSR_OK;
}

/* Fills the graph's statistics; cannot fail (the per-kernel table was
 * allocated with the run state and now moves to the graph). */
static void collect_stats(tsr__run *run, double seconds) {
  tsr_taskgraph *g = run->g;
  tsr_run_stats *s = &g->stats;
  tsr_free(g->ctx, g->kernel_stats);
  g->kernel_stats = run->kernel_stats;
  run->kernel_stats = NULL;
  memset(s, 0, sizeof *s);
  s->executor = tsr_ctx_executor(g->ctx);
  s->threads = run->team;
  s->tasks = g->n_tasks;
  s->seconds = seconds;
  for (uint32_t k = 0; k < g->n_kernels; k++)
    g->kernel_stats[k].name = g->kernels[k].name;
  for (int i = 0; i < run->threads; i++) {
    const tsr__worker *w = &run->workers[i];
    s->tasks_run += w->tasks_run;
    s->steals += w->steals;
    s->chunk_bytes += w->chunk_bytes;
    for (uint32_t k = 0; k < g->n_kernels; k++) {
      g->kernel_stats[k].tasks += w->kernel_tasks[k];
      g->kernel_stats[k].seconds += w->kernel_seconds[k];
    }
  }
  /* A failed task is neither run nor cancelled. */
  s->tasks_failed = atomic_load(&run->tasks_failed);
  /* On one rank: culled.  Under MPI, tasks other ranks run (received ones
   * included) count as culled here. */
  uint64_t ran_here = 0;
  for (uint32_t t = 0; t < g->n_tasks; t++)
    ran_here += run->role[t] == TSR__ROLE_RUN;
  s->tasks_culled = s->tasks - ran_here;
  s->tasks_cancelled = ran_here - s->tasks_run - s->tasks_failed;
  tsr__xfer_stats(run, s);
  s->n_kernels = g->n_kernels;
  s->kernels = g->kernel_stats;
  tsr__spill_totals(run, &s->spilled_bytes, &s->unspilled_bytes);
  tsr_memory_stats m;
  if (tsr_ctx_memory_stats(g->ctx, &m) == TSR_OK)
    s->peak_bytes = m.peak_bytes;
}

tsr_status tsr_taskgraph_run(tsr_taskgraph *g) { return tsr_taskgraph_run_ex(g, NULL); }

/* Frees every chunk a run still holds, and the array. */
static void free_chunks(tsr_taskgraph *g, void **bufs) {
  if (bufs == NULL)
    return;
  for (uint32_t t = 0; t < g->n_tasks; t++)
    tsr__task_free_output(g, t, bufs[t]);
  tsr_free(g->ctx, bufs);
}

/* The path a run's trace goes to: under MPI each rank writes its own,
 * run.json -> run.rank1.json (*owned: allocated, or NULL). */
static tsr_status trace_path(const tsr__run *run, const char *p, char **owned, const char **path) {
  *owned = NULL;
  *path = p;
  if (run->xfer == NULL)
    return TSR_OK;
  size_t len = strlen(p), size = len + 32;
  bool json = len >= 5 && strcmp(p + len - 5, ".json") == 0;
  TSR_TRY(tsr_alloc(run->g->ctx, size, (void **)owned));
  snprintf(*owned, size, "%.*s.rank%d%s", (int)(json ? len - 5 : len), p, run->g->stats.rank,
           json ? ".json" : "");
  *path = *owned;
  return TSR_OK;
}

tsr_status tsr_taskgraph_run_ex(tsr_taskgraph *g, const tsr_run_options *opts) {
  TSR_CHECK(g != NULL, TSR_EINVAL, "tsr_taskgraph_run: graph is NULL");
  TSR_CHECK(opts == NULL || opts->trace_path == NULL || opts->trace_path[0] != '\0', TSR_EINVAL,
            "tsr_taskgraph_run: options->trace_path is empty");
  /* Options that ask for neither progress nor a trace: the context's
   * observer's, if it has one (its statistics callback after the run). */
  tsr__observer *observer = NULL;
  if (opts == NULL || (opts->progress == NULL && opts->trace_path == NULL)) {
    observer = tsr__observer_of(g->ctx);
    if (observer != NULL)
      opts = &observer->run;
  }
  tsr__taskgraph_free_outputs(g);
  memset(&g->stats, 0, sizeof g->stats);
  g->stats.tasks = g->stats.tasks_cancelled = g->n_tasks; /* until a run says otherwise */
  tsr_ctx_reset_peak(g->ctx);
  tsr__run run;
  memset(&run, 0, sizeof run);
  tsr_status status = tsr__taskgraph_finalize(g);
  if (status == TSR_OK)
    status = run_init(&run, g, opts);
  /* Under MPI every rank gets here and agrees on its set-up (a rank that
   * failed to set up makes every rank fail) before any chunk moves. */
  if (!g->local)
    status = tsr__xfer_start(&run, g->ctx, status);
  if (status != TSR_OK) {
    free_chunks(g, run.bufs);
    run_free(&run);
    return status;
  }
  run.t0 = tsr__now();
  run.next_progress = run.t0 + run.progress_interval;
  if (run.xfer != NULL)
    status = tsr__exec_omp(&run); /* arrivals need the scheduler loop */
  else if (run.n_live > 0)
    status = tsr_ctx_executor(g->ctx) == TSR_EXECUTOR_SERIAL ? tsr__exec_serial(&run)
                                                             : tsr__exec_omp(&run);
  if (run.xfer != NULL)
    status = tsr__xfer_finish(&run);
  double seconds = tsr__now() - run.t0;
  if (status == TSR_OK && run.progress != NULL)
    (void)run.progress(run.n_live, run.n_live, run.progress_user); /* too late to cancel */
  collect_stats(&run, seconds);
  tsr_status trace_status = TSR_OK;
  if (run.trace != NULL) {
    char *owned = NULL;
    const char *path = NULL;
    trace_status = trace_path(&run, opts->trace_path, &owned, &path);
    if (trace_status == TSR_OK)
      trace_status = observer != NULL ? tsr__trace_append(&observer->log, &run, path)
                                      : tsr__trace_write(&run, path);
    tsr_free(g->ctx, owned);
  }
  run_free(&run);
  if (status != TSR_OK || trace_status != TSR_OK) {
    /* No output is kept from a failed run: free the cancelled tasks' inputs
     * and the kept outputs alike. */
    free_chunks(g, run.bufs);
    return status != TSR_OK ? tsr_error_set(status, "%s", run.message) : trace_status;
  }
  g->outputs = run.bufs;
  g->n_outputs = g->n_tasks;
  g->have_outputs = true;
  if (observer != NULL && observer->on_stats != NULL)
    observer->on_stats(&g->stats, observer->user);
  return TSR_OK;
}

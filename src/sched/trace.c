/* trace.c — writes a run as a Chrome trace (the JSON "Trace Event Format"
 * that Perfetto and chrome://tracing open): one complete event ("ph":"X")
 * per task that ran, on a track per worker thread, named by its kernel, with
 * the task id in args; plus thread-name metadata.  Times are microseconds
 * since the run started.  Kernel names are validated at registration to need
 * no JSON escaping.  The file is written atomically.  A trace log (a
 * context's run observer, observe.c) puts several runs in one file, each
 * run a process track of its own, on one time line. */
#include <stdio.h>

#include "run_impl.h"

/* The file's opening, up to the event list. */
static void write_header(FILE *f, uint32_t tasks) {
  fprintf(f,
          "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"tool\":\"tessera\",\"tasks\":%u},\n"
          "\"traceEvents\":[\n",
          tasks);
}

/* The run's events as process `pid` (named `process`), times shifted by
 * `offset` seconds; `first`: no comma before the first event. */
static void write_events(FILE *f, const tsr__run *run, int pid, const char *process,
                         double offset, bool first) {
  const tsr_taskgraph *g = run->g;
  fprintf(f, "%s{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":0,"
             "\"args\":{\"name\":\"%s\"}}",
          first ? "" : ",\n", pid, process);
  for (int i = 0; i < run->team; i++)
    fprintf(f,
            ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,"
            "\"args\":{\"name\":\"worker %d\"}}",
            pid, i, i);
  for (uint32_t t = 0; t < g->n_tasks; t++) {
    const tsr__trace_event *e = &run->trace[t];
    if (!e->ran)
      continue;
    fprintf(f,
            ",\n{\"name\":\"%s\",\"cat\":\"task\",\"ph\":\"X\",\"pid\":%d,\"tid\":%d,"
            "\"ts\":%.3f,\"dur\":%.3f,\"args\":{\"task\":%u}}",
            g->kernels[g->tasks[t].kernel].name, pid, e->thread, (offset + e->start) * 1e6,
            (e->end - e->start) * 1e6, t);
  }
}

static void write_footer(FILE *f) { fprintf(f, "\n]}\n"); }

tsr_status tsr__trace_write(const tsr__run *run, const char *path) {
  tsr__atomic_file af;
  TSR_TRY(tsr__atomic_file_open(&af, path));
  write_header(af.fp, run->g->n_tasks);
  write_events(af.fp, run, 0, "tessera rank 0", 0.0, true);
  write_footer(af.fp);
  return tsr__atomic_file_commit(&af);
}

tsr_status tsr__trace_append(tsr__trace_log *log, const tsr__run *run, const char *path) {
  if (!log->open) {
    TSR_TRY(tsr__atomic_file_open(&log->file, path));
    log->open = true;
    log->t0 = run->t0;
    write_header(log->file.fp, 0);
  }
  char process[64];
  snprintf(process, sizeof process, "graph %d (%u tasks)", log->runs + 1, run->g->n_tasks);
  write_events(log->file.fp, run, log->runs, process, run->t0 - log->t0, log->runs == 0);
  log->runs++;
  return TSR_OK;
}

tsr_status tsr__trace_close(tsr__trace_log *log) {
  if (!log->open)
    return TSR_OK;
  log->open = false;
  write_footer(log->file.fp);
  return tsr__atomic_file_commit(&log->file);
}

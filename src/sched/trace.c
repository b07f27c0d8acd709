/* trace.c — writes a run as a Chrome trace (the JSON "Trace Event Format"
 * that Perfetto and chrome://tracing open): one complete event ("ph":"X")
 * per task that ran, on a track per worker thread, named by its kernel, with
 * the task id in args; plus thread-name metadata.  Times are microseconds
 * since the run started.  Kernel names are validated at registration to need
 * no JSON escaping.  The file is written atomically. */
#include "core/atomic_file.h"
#include "run_impl.h"

tsr_status tsr__trace_write(const tsr__run *run, const char *path) {
  tsr__atomic_file af;
  TSR_TRY(tsr__atomic_file_open(&af, path));
  FILE *f = af.fp;
  const tsr_taskgraph *g = run->g;
  fprintf(f,
          "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"tool\":\"tessera\",\"tasks\":%u},\n"
          "\"traceEvents\":[\n",
          g->n_tasks);
  fprintf(f, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":0,\"tid\":0,"
             "\"args\":{\"name\":\"tessera rank 0\"}}");
  for (int i = 0; i < run->team; i++)
    fprintf(f,
            ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":0,\"tid\":%d,"
            "\"args\":{\"name\":\"worker %d\"}}",
            i, i);
  for (uint32_t t = 0; t < g->n_tasks; t++) {
    const tsr__trace_event *e = &run->trace[t];
    if (!e->ran)
      continue;
    fprintf(f,
            ",\n{\"name\":\"%s\",\"cat\":\"task\",\"ph\":\"X\",\"pid\":0,\"tid\":%d,"
            "\"ts\":%.3f,\"dur\":%.3f,\"args\":{\"task\":%u}}",
            g->kernels[g->tasks[t].kernel].name, e->thread, e->start * 1e6,
            (e->end - e->start) * 1e6, t);
  }
  fprintf(f, "\n]}\n");
  return tsr__atomic_file_commit(&af);
}

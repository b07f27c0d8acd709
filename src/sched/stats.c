/* stats.c — prints a run's statistics as a short table: totals, memory,
 * and time per kernel (summed over threads, so it can exceed wall time). */
#include "taskgraph_impl.h"

tsr_status tsr_run_stats_print(const tsr_run_stats *s, FILE *out) {
  TSR_CHECK(s != NULL, TSR_EINVAL, "tsr_run_stats_print: stats is NULL");
  TSR_CHECK(out != NULL, TSR_EINVAL, "tsr_run_stats_print: out is NULL");
  char chunk[32], peak[32], spilled[32], unspilled[32];
  fprintf(out,
          "run: %llu tasks (%llu run, %llu failed, %llu cancelled, %llu culled) on %d thread%s "
          "(%s executor) in %.6f s, %llu steals\n",
          (unsigned long long)s->tasks, (unsigned long long)s->tasks_run,
          (unsigned long long)s->tasks_failed, (unsigned long long)s->tasks_cancelled,
          (unsigned long long)s->tasks_culled, s->threads,
          s->threads == 1 ? "" : "s", s->executor == TSR_EXECUTOR_SERIAL ? "serial" : "omp",
          s->seconds, (unsigned long long)s->steals);
  fprintf(out, "memory: %s of chunks allocated, peak %s; spilled %s, read back %s\n",
          tsr_format_bytes(s->chunk_bytes, chunk, sizeof chunk),
          tsr_format_bytes(s->peak_bytes, peak, sizeof peak),
          tsr_format_bytes(s->spilled_bytes, spilled, sizeof spilled),
          tsr_format_bytes(s->unspilled_bytes, unspilled, sizeof unspilled));
  if (s->ranks > 1) {
    char sent[32], received[32];
    fprintf(out, "mpi: rank %d of %d; sent %s in %llu messages, received %s in %llu\n", s->rank,
            s->ranks, tsr_format_bytes(s->bytes_sent, sent, sizeof sent),
            (unsigned long long)s->messages_sent,
            tsr_format_bytes(s->bytes_received, received, sizeof received),
            (unsigned long long)s->messages_received);
  }
  double total = 0;
  for (uint32_t k = 0; k < s->n_kernels; k++)
    total += s->kernels[k].seconds;
  fprintf(out, "%-24s %12s %12s %7s\n", "kernel", "tasks", "seconds", "share");
  for (uint32_t k = 0; k < s->n_kernels; k++)
    fprintf(out, "%-24s %12llu %12.6f %6.1f%%\n", s->kernels[k].name,
            (unsigned long long)s->kernels[k].tasks, s->kernels[k].seconds,
            total > 0 ? 100.0 * s->kernels[k].seconds / total : 0.0);
  return ferror(out) ? tsr_error_set(TSR_EIO, "tsr_run_stats_print: write failed") : TSR_OK;
}

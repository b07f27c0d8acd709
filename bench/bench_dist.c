/* bench_dist.c — M1-5: workloads A2-A6 of docs/benchmarks.md (the expressions,
 * sizes, chunks and inputs of bench_arrays, from array_workloads.c) on P
 * MPI ranks x T threads against one rank with P*T threads, both measured in
 * the same run, with the bytes the ranks send each other.  The target is
 * "2 ranks x 1 thread within 10 % of 1 rank x 2 threads": a ratio (one
 * rank's time / the ranks' time) of 0.9 or more.
 *
 *   mpirun -n P --bind-to none bench_dist [--reps R] [--threads T]
 *          [--scale S] [--workloads A2,A3,...] [--tsv FILE]
 *
 * Defaults: 5 reps, 1 thread per rank, scale 1, A2-A6.  Open MPI binds
 * each of 2 ranks to one core by default, which would leave rank 0's P*T
 * threads one core; the program refuses to run when a rank may use fewer
 * CPUs than it needs (hence --bind-to none).  Without mpirun it runs as
 * one rank and compares 1 x T with 1 x T, and says so.
 *
 * Per workload, every rank makes the inputs (the whole arrays: the same
 * values on every rank) before any timing, then:
 *   distributed  a context with T threads per rank (owner computes); every
 *                rank builds the expression and computes it to a scalar.
 *                A run is timed from one MPI barrier to the next (the
 *                slowest rank's time); bytes communicated = the sum over
 *                ranks of the bytes each sent (tsr_run_stats.bytes_sent);
 *   one rank     a second context, tsr_ctx_set_distributed(false), with
 *                P*T threads on rank 0 only.
 * Each is one warm-up then the median of R runs; the two take turns, run by
 * run, so that the shared machine's drift weighs on both alike.  While rank
 * 0 works alone
 * (this phase, the STREAM triad) the other ranks wait in MPI_Ibarrier +
 * MPI_Test + 1 ms sleeps: Open MPI's MPI_Barrier busy-polls and would take
 * the cores rank 0's threads need.
 *
 * Output (rank 0): '#' comment lines (per workload: both medians and
 * results, the messages, and the tasks each rank ran, which shows how the
 * work was spread), then a tab-separated table: workload, both medians,
 * ratio, bytes communicated (and % of the workload's input bytes), each
 * configuration's fraction of the STREAM triad bandwidth (P*T threads on
 * rank 0) for the bytes the workload must touch, and whether the
 * distributed result equals the one-rank result bit for bit.  --tsv writes
 * the rows, with raw numbers, to FILE too.  The exit status is 1 when any
 * result differs. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <mpi.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tessera/tessera.h>

#include "array_workloads.h"
#include "bench_common.h"
#include "bench_mpi.h"

typedef struct options {
  int reps, threads;
  double scale;
  bool run[N_WORKLOADS];
  const char *tsv;
} options;

static void barrier(const world *wd) {
  if (wd->mpi)
    MPI_Barrier(MPI_COMM_WORLD);
}

/* ---- the two configurations ---------------------------------------------- */

/* This rank's chunk messages and tasks run in one compute (summed, should a
 * compute make more than one run). */
typedef struct traffic {
  uint64_t bytes_sent, bytes_received, messages_sent, messages_received, tasks_run;
} traffic;

static void add_traffic(const tsr_run_stats *st, void *user) {
  traffic *t = user;
  t->bytes_sent += st->bytes_sent;
  t->bytes_received += st->bytes_received;
  t->messages_sent += st->messages_sent;
  t->messages_received += st->messages_received;
  t->tasks_run += st->tasks_run;
}

/* One distributed repetition, every rank: seconds (the slowest rank's) of
 * building + computing workload w on ctx; *result its value on this rank,
 * *tr this rank's traffic. */
static double rep_distributed(tsr_ctx *ctx, int w, const sizes *s, inputs *in, const world *wd,
                              double *result, traffic *tr) {
  traffic run = {0};
  tsr_compute_options copt = {.on_stats = add_traffic, .stats_user = &run};
  barrier(wd);
  double t0 = bench_now();
  tsr_array *r = workloads[w](ctx, s, in);
  void *buf = result;
  size_t bytes = sizeof *result;
  CHECK(tsr_array_to_buffers_ex(1, &r, &buf, &bytes, &copt));
  barrier(wd);
  double dt = bench_now() - t0;
  tsr_array_destroy(&r);
  if (wd->mpi)
    MPI_Allreduce(MPI_IN_PLACE, &dt, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  *tr = run;
  return dt;
}

/* One repetition on rank 0 alone (ctx not distributed), its own inputs. */
static double rep_alone(tsr_ctx *ctx, int w, const sizes *s, inputs *in, double *result) {
  double t0 = bench_now();
  tsr_array *r = workloads[w](ctx, s, in);
  void *buf = result;
  size_t bytes = sizeof *result;
  CHECK(tsr_array_to_buffers(1, &r, &buf, &bytes));
  double dt = bench_now() - t0;
  tsr_array_destroy(&r);
  return dt;
}

/* ---- one workload's row ------------------------------------------------- */

typedef struct row {
  double dist_s, alone_s;
  double dist_result, alone_result;
  bool ranks_agree;                  /* every rank got rank 0's distributed result */
  uint64_t sent, received, messages; /* all ranks */
  char tasks_run[128];               /* per rank, "14 1" */
  double input_bytes, touched;
} row;

static row measure(tsr_ctx *ctx, tsr_ctx *alone, int w, const options *o, const world *wd) {
  row rw = {0};
  sizes s = scaled(w, o->scale);
  rw.touched = bytes_touched(w, &s);

  inputs in = make_inputs(ctx, w, &s), in_alone = {0};
  if (wd->rank == 0)
    in_alone = make_inputs(alone, w, &s);
  rw.input_bytes = (double)((in.x != NULL) + (in.y != NULL)) * 8.0 * (double)nelem(&s);
  traffic tr = {0};
  /* The two configurations take turns, repetition by repetition, so that
   * the shared machine's drift weighs on both alike. */
  double *td = calloc((size_t)o->reps, sizeof *td), *ta = calloc((size_t)o->reps, sizeof *ta);
  for (int rep = 0; rep <= o->reps; rep++) { /* rep 0 warms up */
    double d = rep_distributed(ctx, w, &s, &in, wd, &rw.dist_result, &tr);
    double a = wd->rank == 0 ? rep_alone(alone, w, &s, &in_alone, &rw.alone_result) : 0;
    bench_idle_barrier(wd);
    if (rep > 0) {
      td[rep - 1] = d;
      ta[rep - 1] = a;
    }
  }
  rw.dist_s = bench_median(td, o->reps);
  rw.alone_s = bench_median(ta, o->reps);
  free(td);
  free(ta);
  free_inputs(&in);
  if (wd->rank == 0)
    free_inputs(&in_alone);
  uint64_t sums[3] = {tr.bytes_sent, tr.bytes_received, tr.messages_sent};
  rw.ranks_agree = true;
  if (wd->mpi) {
    MPI_Allreduce(MPI_IN_PLACE, sums, 3, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    double mine = rw.dist_result, first = mine;
    MPI_Bcast(&first, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    int differs = memcmp(&mine, &first, sizeof mine) != 0;
    MPI_Allreduce(MPI_IN_PLACE, &differs, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    rw.ranks_agree = !differs;
  }
  if (wd->rank == 0) {
    uint64_t *per_rank = calloc((size_t)wd->P, sizeof *per_rank);
    per_rank[0] = tr.tasks_run;
    if (wd->mpi)
      MPI_Gather(&tr.tasks_run, 1, MPI_UINT64_T, per_rank, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    size_t used = 0;
    for (int r = 0; r < wd->P && used < sizeof rw.tasks_run; r++)
      used += (size_t)snprintf(rw.tasks_run + used, sizeof rw.tasks_run - used,
                               r == 0 ? "%llu" : " %llu", (unsigned long long)per_rank[r]);
    free(per_rank);
  } else if (wd->mpi)
    MPI_Gather(&tr.tasks_run, 1, MPI_UINT64_T, NULL, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
  rw.sent = sums[0];
  rw.received = sums[1];
  rw.messages = sums[2];

  return rw;
}

/* ---- output ---------------------------------------------------------------- */

static void human_bytes(char *buf, size_t size, double b) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    u++;
  }
  snprintf(buf, size, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
}

static bool identical(const row *rw) {
  return rw->ranks_agree &&
         memcmp(&rw->dist_result, &rw->alone_result, sizeof rw->dist_result) == 0;
}

/* ---- main ---------------------------------------------------------------- */

static void usage(void) {
  fprintf(stderr, "usage: mpirun -n P --bind-to none bench_dist [--reps R] [--threads T] "
                  "[--scale S] [--workloads A2,A3,...] [--tsv FILE]\n");
  exit(2);
}

static options parse(int argc, char **argv) {
  options o = {5, 1, 1.0, {0}, NULL};
  const char *list = "A2,A3,A4,A5,A6";
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (v == NULL)
      usage();
    if (strcmp(a, "--reps") == 0)
      o.reps = (int)bench_parse_long(a, v, 1, 1000);
    else if (strcmp(a, "--threads") == 0)
      o.threads = (int)bench_parse_long(a, v, 1, 4096);
    else if (strcmp(a, "--workloads") == 0)
      list = v;
    else if (strcmp(a, "--tsv") == 0)
      o.tsv = v;
    else if (strcmp(a, "--scale") == 0)
      o.scale = parse_scale(v);
    else
      usage();
    i++;
  }
  parse_workload_list(list, o.run);
  return o;
}

/* Every rank: false (with a message from rank 0) when some rank may run on
 * fewer CPUs than its threads need — rank 0 P*T (the one-rank phase and
 * STREAM), the others T — bounded by the CPUs online. */
static bool cpus_suffice(const world *wd, int threads) {
  if (!wd->mpi || wd->P == 1)
    return true;
  cpu_set_t set;
  CPU_ZERO(&set);
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  int have = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : (int)online;
  long need = wd->rank == 0 ? (long)wd->P * threads : threads;
  if (need > online)
    need = online;
  int lacking[2] = {have < need, have < need ? wd->rank : wd->P};
  int worst[2];
  MPI_Allreduce(&lacking[0], &worst[0], 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Allreduce(&lacking[1], &worst[1], 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (worst[0] && wd->rank == worst[1])
    fprintf(stderr,
            "error: rank %d may run on %d CPUs but needs %ld (%s); mpirun binds each rank to "
            "a core by default: run mpirun with --bind-to none\n",
            wd->rank, have, need,
            wd->rank == 0 ? "P x T threads when it computes alone" : "T threads");
  return !worst[0];
}

int main(int argc, char **argv) {
  options o = parse(argc, argv);
  bench_die_hook = bench_abort_mpi;
  tsr_ctx *ctx;
  CHECK(tsr_ctx_create(&ctx));
  CHECK(tsr_ctx_set_threads(ctx, o.threads));
  /* tessera initialises MPI (MPI_THREAD_MULTIPLE) when started by a
   * launcher; the program's own barriers and sums use MPI_COMM_WORLD. */
  world wd = {false, tsr_ctx_rank(ctx), tsr_ctx_nranks(ctx)};
  int initialised = 0;
  MPI_Initialized(&initialised);
  wd.mpi = initialised != 0;
  if (!cpus_suffice(&wd, o.threads)) {
    tsr_ctx_destroy(&ctx);
    return 2;
  }
  int P = wd.P, T = o.threads, PT = P * T;

  tsr_ctx *alone = NULL;
  double stream = 0;
  if (wd.rank == 0) {
    CHECK(tsr_ctx_create(&alone));
    CHECK(tsr_ctx_set_distributed(alone, false));
    CHECK(tsr_ctx_set_threads(alone, PT));
    stream = bench_stream_triad(20u << 20, PT, 10);
    printf("# bench_dist (M1-5): %d rank(s) x %d thread(s) against 1 rank x %d thread(s), medians "
           "of %d runs after 1 warm-up, scale %g; STREAM triad (rank 0, %d thread(s), 3 x 160 MiB, "
           "best of 10): %.1f GB/s\n",
           P, T, PT, o.reps, o.scale, PT, stream / 1e9);
    if (P == 1)
      printf("# one rank (%s): both configurations are 1 x %d; the ratio compares a context "
             "with itself\n",
             wd.mpi ? "mpirun -n 1" : "not started by mpirun", T);
    printf("# %dx%d: every rank computes its chunks, timed from MPI barrier to barrier; 1x%d: "
           "rank 0 alone while the others sleep; ratio = 1x%d s / %dx%d s (>= 0.90 meets the "
           "target); comm = bytes sent by all ranks (%% of the input bytes)\n",
           P, T, PT, PT, P, T);
    fflush(stdout);
  }
  bench_idle_barrier(&wd);

  row rows[N_WORKLOADS] = {0};
  for (int w = 0; w < N_WORKLOADS; w++) {
    if (!o.run[w])
      continue;
    rows[w] = measure(ctx, alone, w, &o, &wd);
    const row *rw = &rows[w];
    if (wd.rank == 0) {
      char sent[32], received[32];
      human_bytes(sent, sizeof sent, (double)rw->sent);
      human_bytes(received, sizeof received, (double)rw->received);
      printf("# %s %dx%d: %.6f s, result %.17g, %s sent in %llu message(s) (%s received), tasks "
             "run per rank: %s%s; 1x%d: %.6f s, result %.17g\n",
             ids[w], P, T, rw->dist_s, rw->dist_result, sent, (unsigned long long)rw->messages,
             received, rw->tasks_run, rw->ranks_agree ? "" : ", RANKS' RESULTS DIFFER", PT,
             rw->alone_s, rw->alone_result);
      fflush(stdout);
    }
  }

  bool all_identical = true;
  if (wd.rank == 0) {
    FILE *tsv = NULL;
    if (o.tsv != NULL && (tsv = fopen(o.tsv, "w")) == NULL)
      fprintf(stderr, "warning: cannot write %s; the table is printed only\n", o.tsv);
    printf("workload\tdist_%dx%d_s\talone_1x%d_s\tratio\tcomm\tcomm_pct_input\tdist_frac_stream"
           "\talone_frac_stream\tresults\n",
           P, T, PT);
    if (tsv != NULL)
      fprintf(tsv, "workload\tranks\tthreads\tdist_s\talone_s\tratio\tcomm_bytes\tinput_bytes"
                   "\tcomm_pct_input\tbytes_touched\tstream_GBs\tdist_frac_stream"
                   "\talone_frac_stream\tresults\n");
    char met[64] = "", missed[64] = "";
    for (int w = 0; w < N_WORKLOADS; w++) {
      if (!o.run[w])
        continue;
      const row *rw = &rows[w];
      bool same = identical(rw);
      all_identical = all_identical && same;
      double ratio = rw->alone_s / rw->dist_s;
      char comm[32], pct[32] = "-", frac[2][32] = {"-", "-"};
      human_bytes(comm, sizeof comm, (double)rw->sent);
      if (rw->input_bytes > 0)
        snprintf(pct, sizeof pct, "%.2f", 100.0 * (double)rw->sent / rw->input_bytes);
      if (rw->touched > 0 && stream > 0) {
        snprintf(frac[0], sizeof frac[0], "%.2f", rw->touched / rw->dist_s / stream);
        snprintf(frac[1], sizeof frac[1], "%.2f", rw->touched / rw->alone_s / stream);
      }
      const char *verdict = same ? "identical" : "DIFFERENT";
      printf("%s\t%.6f\t%.6f\t%.2f\t%s\t%s%s\t%s\t%s\t%s\n", ids[w], rw->dist_s, rw->alone_s, ratio,
             comm, pct, rw->input_bytes > 0 ? "%" : "", frac[0], frac[1], verdict);
      if (tsv != NULL)
        fprintf(tsv, "%s\t%d\t%d\t%.6f\t%.6f\t%.4f\t%llu\t%.0f\t%s\t%.0f\t%.2f\t%s\t%s\t%s\n",
                ids[w], P, T, rw->dist_s, rw->alone_s, ratio, (unsigned long long)rw->sent,
                rw->input_bytes, pct, rw->touched, stream / 1e9, frac[0], frac[1], verdict);
      char *list = ratio >= 0.9 ? met : missed;
      strcat(list, list[0] ? ", " : "");
      strcat(list, ids[w]);
    }
    printf("# target %dx%d within 10%% of 1x%d (ratio >= 0.90): met by %s; missed by %s\n", P, T,
           PT, met[0] ? met : "none", missed[0] ? missed : "none");
    if (!all_identical)
      printf("# DIFFERENT: the distributed result is not bit for bit the one-rank result\n");
    if (tsv != NULL && fclose(tsv) != 0)
      fprintf(stderr, "warning: writing %s failed\n", o.tsv);
    fflush(stdout);
  }
  int failed = !all_identical;
  if (wd.mpi)
    MPI_Bcast(&failed, 1, MPI_INT, 0, MPI_COMM_WORLD);
  tsr_ctx_destroy(&alone);
  tsr_ctx_destroy(&ctx);
  return failed ? 1 : 0;
}

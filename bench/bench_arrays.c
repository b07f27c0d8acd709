/* bench_arrays.c — array workloads A1-A6 and A9 of docs/benchmarks.md: tessera beside
 * NumPy and Dask (bench/peers/arrays_peers.py, run from this program so
 * that every number comes from the same run), and the STREAM triad, which
 * bounds what a memory-bound workload can reach.
 *
 *   bench_arrays [--reps R] [--threads T] [--workloads A1,A2,...,A9]
 *                [--scale S] [--no-peers] [--python PATH] [--peers PATH]
 *                [--a9-dir DIR]
 *
 * Inputs are float64 uniform [0, 1) arrays made before any timing (with
 * tessera's counter-based generator; NumPy's differ, so the results column
 * is informational) and handed to tessera as borrowed buffers, as the
 * peers' inputs are held in memory.  Timed: building the expression and
 * computing it to a scalar, median of R runs after one warm-up.
 *
 * Output: '#' comment lines (the peers' included), then a tab-separated
 * table: workload, tessera's median, each peer's median, peer / tessera
 * ratios (> 1: tessera is faster), bytes the workload must touch,
 * tessera's fraction of the STREAM bandwidth for those bytes, and for A4
 * (compute-bound, judged against BLAS) one OpenBLAS dgemm call on the
 * whole matrices with as many BLAS threads, and its time / tessera's.
 *
 * A9 (station_pipeline.c) reads its input from an HDF5 file made once in
 * --a9-dir (default /tmp/tessera_a9) and stores every result there; its
 * peers (peers/station_peers.py) do the same, and their files are compared
 * with tessera's (the largest difference per dataset is printed).  --scale
 * does not apply to it. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cblas.h>

#include <tessera/tessera.h>

#include "array_workloads.h"
#include "bench_common.h"
#include "station_pipeline.h"

#ifndef TSR_BENCH_STATION_PEERS
#define TSR_BENCH_STATION_PEERS "bench/peers/station_peers.py"
#endif
#ifndef TSR_BENCH_PEERS_SCRIPT
#define TSR_BENCH_PEERS_SCRIPT "bench/peers/arrays_peers.py"
#endif

typedef struct options {
  int reps, threads;
  double scale;
  bool run[N_WORKLOADS];
  bool peers, a9;
  const char *python, *script, *a9_dir;
} options;

/* A4's reference: ONE OpenBLAS dgemm on the whole matrices with `threads`
 * BLAS threads (median of reps), the speed A4 is judged against. */
static double dgemm_whole(const sizes *s, const options *o) {
  int64_t n = s->shape[0];
  double *a = random_buffer(n * n, 20240611), *b = random_buffer(n * n, 20240612);
  double *c = random_buffer(n * n, 1);
  double *t = calloc((size_t)o->reps, sizeof *t);
  int saved = openblas_get_num_threads();
  openblas_set_num_threads(o->threads);
  for (int rep = 0; rep <= o->reps; rep++) {
    double t0 = bench_now();
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)n, (int)n, 1.0, a, (int)n,
                b, (int)n, 0.0, c, (int)n);
    if (rep > 0)
      t[rep - 1] = bench_now() - t0;
  }
  openblas_set_num_threads(saved);
  double med = bench_median(t, o->reps);
  free(a);
  free(b);
  free(c);
  free(t);
  return med;
}

typedef struct task_count {
  uint64_t tasks;
} task_count;

static void count_tasks(const tsr_run_stats *st, void *user) {
  ((task_count *)user)->tasks = st->tasks;
}

/* Median seconds of building + computing workload w; *result its value. */
static double run_tessera(tsr_ctx *ctx, int w, const sizes *s, const options *o, double *result,
                          uint64_t *tasks) {
  inputs in = make_inputs(ctx, w, s);
  double *t = calloc((size_t)o->reps, sizeof *t);
  task_count tc = {0};
  tsr_compute_options copt = {.on_stats = count_tasks, .stats_user = &tc};
  for (int rep = 0; rep <= o->reps; rep++) { /* rep 0 warms up */
    double t0 = bench_now();
    tsr_array *r = workloads[w](ctx, s, &in);
    void *buf = result;
    size_t bytes = sizeof *result;
    CHECK(tsr_array_to_buffers_ex(1, &r, &buf, &bytes, &copt));
    double dt = bench_now() - t0;
    tsr_array_destroy(&r);
    if (rep > 0)
      t[rep - 1] = dt;
  }
  free_inputs(&in);
  double med = bench_median(t, o->reps);
  free(t);
  *tasks = tc.tasks;
  return med;
}

/* ---- peers ----------------------------------------------------------------------- */

typedef struct peer_row {
  char median[32];
} peer_row;

/* Runs the peer script once for all selected workloads; fills
 * rows[w][0] (numpy) and rows[w][1] (dask); passes its comments on. */
static void run_peers(const options *o, peer_row rows[N_WORKLOADS][2]) {
  for (int w = 0; w < N_WORKLOADS; w++)
    for (int p = 0; p < 2; p++)
      snprintf(rows[w][p].median, sizeof rows[w][p].median, "%s", o->peers ? "missing" : "skipped");
  if (!o->peers) {
    printf("# peers skipped (--no-peers)\n");
    return;
  }
  char list[64] = "";
  for (int w = 0; w < N_WORKLOADS; w++)
    if (o->run[w]) {
      strcat(list, list[0] ? "," : "");
      strcat(list, ids[w]);
    }
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "'%s' '%s' --reps %d --threads %d --workloads %s --scale %g 2>&1",
           o->python, o->script, o->reps, o->threads, list, o->scale);
  printf("# peers: %s\n", cmd);
  fflush(stdout);
  FILE *f = popen(cmd, "r");
  if (f == NULL) {
    printf("# peers skipped: cannot run %s\n", cmd);
    return;
  }
  char line[4096];
  while (fgets(line, sizeof line, f) != NULL) {
    char wid[8], peer[16], median[32];
    if (line[0] != '#' && sscanf(line, "%7s\t%15s\t%31s", wid, peer, median) == 3) {
      for (int w = 0; w < N_WORKLOADS; w++)
        if (strcmp(wid, ids[w]) == 0) {
          int p = strcmp(peer, "numpy") == 0 ? 0 : strcmp(peer, "dask") == 0 ? 1 : -1;
          if (p >= 0)
            snprintf(rows[w][p].median, sizeof rows[w][p].median, "%s", median);
        }
      continue;
    }
    printf("#   %s%s", line[0] == '#' ? line + 2 : line,
           line[strlen(line) - 1] == '\n' ? "" : "\n");
  }
  int rc = pclose(f);
  if (rc != 0)
    printf("# peers: the script exited with status %d; missing rows are reported as such\n", rc);
}

/* ---- A9: the station pipeline ---------------------------------------------------------- */

/* The largest |a - b| over dataset `name` of two result files, relative to
 * the largest |b| (NaN in both counts as equal); -1 when unreadable. */
static double max_rel_diff(tsr_ctx *ctx, const char *pa, const char *pb, const char *name) {
  tsr_array *a = NULL, *b = NULL;
  double *va = NULL, *vb = NULL, worst = -1;
  if (tsr_array_from_hdf5(ctx, pa, name, NULL, &a) == TSR_OK &&
      tsr_array_from_hdf5(ctx, pb, name, NULL, &b) == TSR_OK &&
      tsr_array_size(a) == tsr_array_size(b)) {
    int64_t n = tsr_array_size(a);
    tsr_array *fa = NULL, *fb = NULL;
    va = malloc((size_t)n * sizeof *va + 8);
    vb = malloc((size_t)n * sizeof *vb + 8);
    if (va && vb && tsr_astype(a, TSR_FLOAT64, &fa) == TSR_OK &&
        tsr_astype(b, TSR_FLOAT64, &fb) == TSR_OK &&
        tsr_array_to_buffer(fa, va, (size_t)n * sizeof *va) == TSR_OK &&
        tsr_array_to_buffer(fb, vb, (size_t)n * sizeof *vb) == TSR_OK) {
      double scale = 0, d = 0;
      for (int64_t i = 0; i < n; i++)
        if (fabs(vb[i]) > scale)
          scale = fabs(vb[i]);
      for (int64_t i = 0; i < n; i++) {
        bool na = isnan(va[i]), nb = isnan(vb[i]);
        double e = na != nb ? INFINITY : na ? 0 : fabs(va[i] - vb[i]);
        if (e > d)
          d = e;
      }
      worst = scale > 0 ? d / scale : d;
    }
    tsr_array_destroy(&fa);
    tsr_array_destroy(&fb);
  }
  tsr_array_destroy(&a);
  tsr_array_destroy(&b);
  free(va);
  free(vb);
  return worst;
}

/* Times tessera's A9 and runs its peers; prints comments, fills the row. */
static void run_a9(tsr_ctx *ctx, const options *o, double *med, char peer[2][32]) {
  char in[1024], out[1024];
  snprintf(peer[0], 32, "%s", o->peers ? "missing" : "skipped");
  snprintf(peer[1], 32, "%s", o->peers ? "missing" : "skipped");
  if (mkdir(o->a9_dir, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "error: --a9-dir %s: %s\n", o->a9_dir, strerror(errno));
    exit(1);
  }
  snprintf(in, sizeof in, "%s/stations.h5", o->a9_dir);
  snprintf(out, sizeof out, "%s/tessera.h5", o->a9_dir);
  CHECK(a9_make_input(ctx, in));
  double *t = calloc((size_t)o->reps, sizeof *t);
  task_count tc = {0};
  tsr_compute_options copt = {.on_stats = count_tasks, .stats_user = &tc};
  copt.run.trace_path = getenv("TSR_BENCH_A9_TRACE"); /* where the time goes */
  for (int rep = 0; rep <= o->reps; rep++) {
    double t0 = bench_now();
    CHECK(a9_run(ctx, in, out, &copt));
    if (rep > 0)
      t[rep - 1] = bench_now() - t0;
  }
  *med = bench_median(t, o->reps);
  free(t);
  printf("# A9 tessera: %.6f s (%s -> %s), %llu tasks\n", *med, in, out,
         (unsigned long long)tc.tasks);
  fflush(stdout);
  if (!o->peers)
    return;
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' '%s' --reps %d --threads %d 2>&1", o->python,
           TSR_BENCH_STATION_PEERS, in, o->a9_dir, o->reps, o->threads);
  printf("# A9 peers: %s\n", cmd);
  fflush(stdout);
  FILE *f = popen(cmd, "r");
  char line[4096];
  while (f != NULL && fgets(line, sizeof line, f) != NULL) {
    char wid[8], name[16], median[32];
    if (line[0] != '#' && sscanf(line, "%7s\t%15s\t%31s", wid, name, median) == 3) {
      int p = strcmp(name, "numpy") == 0 ? 0 : strcmp(name, "dask") == 0 ? 1 : -1;
      if (p >= 0)
        snprintf(peer[p], 32, "%s", median);
      continue;
    }
    printf("#   %s%s", line[0] == '#' ? line + 2 : line,
           line[strlen(line) - 1] == '\n' ? "" : "\n");
  }
  if (f != NULL && pclose(f) != 0)
    printf("# A9 peers: the script failed; missing rows are reported as such\n");
  static const char *const names[] = {"mean", "std", "min", "max", "count_extreme",
                                      "corr", "rolling", "pct"};
  for (int p = 0; p < 2; p++) {
    char other[1024];
    snprintf(other, sizeof other, "%s/%s.h5", o->a9_dir, p == 0 ? "numpy" : "dask");
    if (access(other, R_OK) != 0)
      continue;
    printf("# A9 check against %s (largest |difference| / largest |value|):", other);
    for (size_t k = 0; k < sizeof names / sizeof *names; k++)
      printf(" %s %.2g", names[k], max_rel_diff(ctx, out, other, names[k]));
    printf("\n");
  }
}

/* ---- main ---------------------------------------------------------------------------- */

static void usage(void) {
  fprintf(stderr, "usage: bench_arrays [--reps R] [--threads T] [--workloads A1,A2,...,A9] "
                  "[--scale S] [--no-peers] [--python PATH] [--peers PATH] [--a9-dir DIR]\n");
  exit(2);
}

static options parse(int argc, char **argv) {
  options o = {5,     2,    1.0, {0}, true, false, "/usr/bin/python3", TSR_BENCH_PEERS_SCRIPT,
               "/tmp/tessera_a9"};
  const char *list = "A1,A2,A3,A4,A5,A6,A9";
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--no-peers") == 0) {
      o.peers = false;
      continue;
    }
    if (v == NULL)
      usage();
    if (strcmp(a, "--reps") == 0)
      o.reps = (int)bench_parse_long(a, v, 1, 1000);
    else if (strcmp(a, "--threads") == 0)
      o.threads = (int)bench_parse_long(a, v, 1, 4096);
    else if (strcmp(a, "--workloads") == 0)
      list = v;
    else if (strcmp(a, "--python") == 0)
      o.python = v;
    else if (strcmp(a, "--peers") == 0)
      o.script = v;
    else if (strcmp(a, "--scale") == 0)
      o.scale = parse_scale(v);
    else if (strcmp(a, "--a9-dir") == 0)
      o.a9_dir = v;
    else
      usage();
    i++;
  }
  /* A9 is not one of the shared workloads (array_workloads.c): taken out here. */
  char rest[256] = "";
  char copy[256];
  snprintf(copy, sizeof copy, "%s", list);
  for (char *tok = strtok(copy, ","); tok != NULL; tok = strtok(NULL, ","))
    if (strcmp(tok, "A9") == 0)
      o.a9 = true;
    else
      snprintf(rest + strlen(rest), sizeof rest - strlen(rest), "%s%s", rest[0] ? "," : "", tok);
  parse_workload_list(rest, o.run);
  return o;
}

int main(int argc, char **argv) {
  options o = parse(argc, argv);
  tsr_ctx *ctx;
  CHECK(tsr_ctx_create(&ctx));
  CHECK(tsr_ctx_set_threads(ctx, o.threads));
  double stream = bench_stream_triad(20u << 20, o.threads, 10);
  printf("# bench_arrays: docs/benchmarks.md A1-A6, %d threads, medians of %d runs after 1 "
         "warm-up, scale %g\n",
         o.threads, o.reps, o.scale);
  printf("# STREAM triad (%d threads, 3 x 160 MiB, best of 10): %.1f GB/s\n", o.threads,
         stream / 1e9);
  printf("# OpenBLAS: %s; core %s\n", openblas_get_config(), openblas_get_corename());
  double med[N_WORKLOADS] = {0}, result[N_WORKLOADS] = {0}, dgemm = 0;
  uint64_t tasks[N_WORKLOADS] = {0};
  for (int w = 0; w < N_WORKLOADS; w++) {
    if (!o.run[w])
      continue;
    sizes s = scaled(w, o.scale);
    med[w] = run_tessera(ctx, w, &s, &o, &result[w], &tasks[w]);
    printf("# %s tessera: %.6f s, result %.17g, %llu tasks\n", ids[w], med[w], result[w],
           (unsigned long long)tasks[w]);
    if (w == 3) {
      dgemm = dgemm_whole(&s, &o);
      printf("# A4 reference: one cblas_dgemm on the whole %lldx%lld matrices, %d BLAS threads: "
             "%.6f s; tessera's sum(a @ b) runs at %.2f of its speed\n",
             (long long)s.shape[0], (long long)s.shape[1], o.threads, dgemm, dgemm / med[w]);
    }
    fflush(stdout);
  }
  double a9_med = 0;
  char a9_peer[2][32];
  if (o.a9)
    run_a9(ctx, &o, &a9_med, a9_peer);
  peer_row rows[N_WORKLOADS][2];
  bool any = false;
  for (int w = 0; w < N_WORKLOADS; w++)
    any = any || o.run[w];
  if (any)
    run_peers(&o, rows);
  printf("workload\ttessera_s\tnumpy_s\tdask_s\tnumpy/tessera\tdask/tessera\tbytes\ttessera_GBs"
         "\tfrac_stream\tdgemm_s\tdgemm/tessera\n");
  for (int w = 0; w < N_WORKLOADS; w++) {
    if (!o.run[w])
      continue;
    sizes s = scaled(w, o.scale);
    double bytes = bytes_touched(w, &s);
    char ratio[2][32];
    for (int p = 0; p < 2; p++) {
      char *end;
      double v = strtod(rows[w][p].median, &end);
      if (*end == '\0' && end != rows[w][p].median && med[w] > 0)
        snprintf(ratio[p], sizeof ratio[p], "%.2f", v / med[w]);
      else
        snprintf(ratio[p], sizeof ratio[p], "-");
    }
    char ref[2][32] = {"-", "-"};
    if (w == 3) {
      snprintf(ref[0], sizeof ref[0], "%.6f", dgemm);
      snprintf(ref[1], sizeof ref[1], "%.2f", dgemm / med[w]);
    }
    if (bytes > 0)
      printf("%s\t%.6f\t%s\t%s\t%s\t%s\t%.0f\t%.2f\t%.2f\t%s\t%s\n", ids[w], med[w],
             rows[w][0].median, rows[w][1].median, ratio[0], ratio[1], bytes, bytes / med[w] / 1e9,
             bytes / med[w] / stream, ref[0], ref[1]);
    else
      printf("%s\t%.6f\t%s\t%s\t%s\t%s\t0\t-\t-\t%s\t%s\n", ids[w], med[w], rows[w][0].median,
             rows[w][1].median, ratio[0], ratio[1], ref[0], ref[1]);
  }
  if (o.a9) {
    char ratio[2][32];
    for (int p = 0; p < 2; p++) {
      char *end;
      double v = strtod(a9_peer[p], &end);
      if (*end == '\0' && end != a9_peer[p] && a9_med > 0)
        snprintf(ratio[p], sizeof ratio[p], "%.2f", v / a9_med);
      else
        snprintf(ratio[p], sizeof ratio[p], "-");
    }
    /* bytes: the input read once, the results written once */
    double bytes = 8.0 * A9_STATIONS * A9_STEPS * 2 + 8.0 * A9_STATIONS * A9_STATIONS;
    printf("A9\t%.6f\t%s\t%s\t%s\t%s\t%.0f\t%.2f\t%.2f\t-\t-\n", a9_med, a9_peer[0],
           a9_peer[1], ratio[0], ratio[1], bytes, bytes / a9_med / 1e9, bytes / a9_med / stream);
  }
  tsr_ctx_destroy(&ctx);
  return 0;
}

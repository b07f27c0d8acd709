/* bench_arrays.c — array workloads A1-A6 of BENCHMARKS.md: tessera beside
 * NumPy and Dask (bench/peers/arrays_peers.py, run from this program so
 * that every number comes from the same run), and the STREAM triad, which
 * bounds what a memory-bound workload can reach.
 *
 *   bench_arrays [--reps R] [--threads T] [--workloads A1,A2,...]
 *                [--scale S] [--no-peers] [--python PATH] [--peers PATH]
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
 * whole matrices with as many BLAS threads, and its time / tessera's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include <tessera/tessera.h>

#include "bench_common.h"

#ifndef TSR_BENCH_PEERS_SCRIPT
#define TSR_BENCH_PEERS_SCRIPT "bench/peers/arrays_peers.py"
#endif

#define N_WORKLOADS 6
static const char *const ids[N_WORKLOADS] = {"A1", "A2", "A3", "A4", "A5", "A6"};

typedef struct options {
  int reps, threads;
  double scale;
  bool run[N_WORKLOADS];
  bool peers;
  const char *python, *script;
} options;

static void die(const char *what, tsr_status s) {
  fprintf(stderr, "error: %s: %s: %s\n", what, tsr_status_name(s), tsr_last_error());
  exit(1);
}
#define CHECK(expr)         \
  do {                      \
    tsr_status s_ = (expr); \
    if (s_ != TSR_OK)       \
      die(#expr, s_);       \
  } while (0)

/* ---- sizes (arrays_peers.py's scaled()) ------------------------------------ */

typedef struct sizes {
  int ndim;
  int64_t shape[2], chunks[2];
} sizes;

static sizes scaled(int w, double scale) {
  static const int64_t full[N_WORKLOADS][2][2] = {
      {{100000, 0}, {1, 0}},         {{100000000, 0}, {10000000, 0}},
      {{20000, 5000}, {2000, 5000}}, {{4000, 4000}, {1000, 1000}},
      {{8000, 8000}, {2000, 2000}},  {{10000, 10000}, {2000, 2000}}};
  sizes s = {w <= 1 ? 1 : 2, {0, 0}, {0, 0}};
  double f = pow(scale, 1.0 / s.ndim);
  for (int d = 0; d < s.ndim; d++) {
    int64_t side = full[w][0][d], chunk = full[w][1][d];
    if (chunk == 1) {
      s.shape[d] = llround(side * f) > 0 ? llround(side * f) : 1;
      s.chunks[d] = 1;
    } else {
      int64_t c = llround(chunk * f) > 0 ? llround(chunk * f) : 1;
      s.shape[d] = c * (side / chunk);
      s.chunks[d] = c;
    }
  }
  return s;
}

static int64_t nelem(const sizes *s) {
  int64_t n = 1;
  for (int d = 0; d < s->ndim; d++)
    n *= s->shape[d];
  return n;
}

/* The least bytes each workload must move (arrays_peers.py's bytes_touched). */
static double bytes_touched(int w, const sizes *s) {
  static const double per_elem[N_WORKLOADS] = {0, 16, 8, 16, 8, 8};
  return per_elem[w] * (double)nelem(s);
}

/* ---- the workloads ------------------------------------------------------------- */

typedef struct inputs {
  double *x, *y;
  tsr_array *ax, *ay;
} inputs;

static double *random_buffer(int64_t n, uint64_t seed) {
  double *p = malloc((size_t)n * sizeof *p);
  if (p == NULL) {
    fprintf(stderr, "error: cannot allocate %lld doubles for the inputs\n", (long long)n);
    exit(1);
  }
  tsr_random_fill_uniform(seed, 0, (size_t)n, p);
  return p;
}

static inputs make_inputs(tsr_ctx *ctx, int w, const sizes *s) {
  inputs in = {0};
  if (w == 0)
    return in;
  int64_t n = nelem(s);
  in.x = random_buffer(n, 20240611);
  CHECK(tsr_array_from_buffer(ctx, TSR_FLOAT64, s->ndim, s->shape, s->chunks, in.x,
                              TSR_BUFFER_BORROW, NULL, NULL, &in.ax));
  if (w == 1 || w == 3) {
    in.y = random_buffer(n, 20240612);
    CHECK(tsr_array_from_buffer(ctx, TSR_FLOAT64, s->ndim, s->shape, s->chunks, in.y,
                                TSR_BUFFER_BORROW, NULL, NULL, &in.ay));
  }
  return in;
}

static void free_inputs(inputs *in) {
  tsr_array_destroy(&in->ax);
  tsr_array_destroy(&in->ay);
  free(in->x);
  free(in->y);
}

/* Each builds the workload's expression (a 0-d float64 array). */
static tsr_array *a1(tsr_ctx *ctx, const sizes *s, inputs *in) {
  (void)in;
  tsr_array *ones, *plus, *sum;
  CHECK(tsr_array_ones(ctx, TSR_FLOAT64, 1, s->shape, s->chunks, &ones));
  CHECK(tsr_binary_scalar(TSR_OP_ADD, ones, 1, &plus));
  CHECK(tsr_sum(plus, NULL, 0, false, &sum));
  tsr_array_destroy(&ones);
  tsr_array_destroy(&plus);
  return sum;
}

static tsr_array *a2(tsr_ctx *ctx, const sizes *s, inputs *in) {
  (void)ctx;
  (void)s;
  tsr_array *xx, *yy, *h, *r, *half, *plus, *sum;
  CHECK(tsr_mul(in->ax, in->ax, &xx));
  CHECK(tsr_mul(in->ay, in->ay, &yy));
  CHECK(tsr_add(xx, yy, &h));
  CHECK(tsr_unary(TSR_OP_SQRT, h, &r));
  CHECK(tsr_binary_scalar(TSR_OP_MUL, r, 0.5, &half));
  CHECK(tsr_binary_scalar(TSR_OP_ADD, half, 1, &plus));
  CHECK(tsr_sum(plus, NULL, 0, false, &sum));
  tsr_array *tmp[] = {xx, yy, h, r, half, plus};
  for (size_t i = 0; i < sizeof tmp / sizeof *tmp; i++)
    tsr_array_destroy(&tmp[i]);
  return sum;
}

static tsr_array *a3(tsr_ctx *ctx, const sizes *s, inputs *in) {
  (void)ctx;
  (void)s;
  tsr_array *m, *sm, *sd, *r;
  CHECK(tsr_mean(in->ax, (int[]){0}, 1, false, &m));
  CHECK(tsr_sum(m, NULL, 0, false, &sm));
  CHECK(tsr_std(in->ax, NULL, 0, 0, false, &sd));
  CHECK(tsr_add(sm, sd, &r));
  tsr_array_destroy(&m);
  tsr_array_destroy(&sm);
  tsr_array_destroy(&sd);
  return r;
}

/* The 5-point Laplacian of the interior points; the array's edge rows and
 * columns get 0 (they lack neighbours), as in arrays_peers.py. */
static tsr_status laplacian5(void *out, const tsr_block_info *oi, const void *const *in,
                             const tsr_block_info *ii, size_t n_in, void *user) {
  (void)n_in;
  (void)user;
  const double *x = in[0];
  double *o = out;
  int64_t rows = oi->shape[0], cols = oi->shape[1], width = ii->shape[1];
  int64_t n0 = oi->array_shape[0], n1 = oi->array_shape[1];
  int64_t r0 = oi->offset[0] - ii->offset[0], c0 = oi->offset[1] - ii->offset[1];
  int64_t jlo = oi->offset[1] == 0 ? 1 : 0;
  int64_t jhi = oi->offset[1] + cols == n1 ? cols - 1 : cols;
  for (int64_t i = 0; i < rows; i++) {
    double *orow = o + i * cols;
    int64_t gi = oi->offset[0] + i;
    if (gi == 0 || gi == n0 - 1 || jhi <= jlo) {
      memset(orow, 0, (size_t)cols * sizeof *orow);
      continue;
    }
    const double *mid = x + (r0 + i) * width + c0;
    const double *up = mid - width, *down = mid + width;
    for (int64_t j = 0; j < jlo; j++)
      orow[j] = 0;
    for (int64_t j = jlo; j < jhi; j++)
      orow[j] = up[j] + down[j] + mid[j - 1] + mid[j + 1] - 4 * mid[j];
    for (int64_t j = jhi; j < cols; j++)
      orow[j] = 0;
  }
  return TSR_OK;
}

static tsr_array *a4(tsr_ctx *ctx, const sizes *s, inputs *in) {
  (void)ctx;
  (void)s;
  tsr_array *p, *sum;
  CHECK(tsr_matmul(in->ax, in->ay, &p));
  CHECK(tsr_sum(p, NULL, 0, false, &sum));
  tsr_array_destroy(&p);
  return sum;
}

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

static tsr_array *a5(tsr_ctx *ctx, const sizes *s, inputs *in) {
  (void)ctx;
  (void)s;
  tsr_array *lap, *sum;
  CHECK(tsr_map_overlap(in->ax, (int64_t[]){1, 1}, TSR_BOUNDARY_NONE, 0, laplacian5, NULL,
                        TSR_FLOAT64, &lap));
  CHECK(tsr_sum(lap, NULL, 0, false, &sum));
  tsr_array_destroy(&lap);
  return sum;
}

static tsr_array *a6(tsr_ctx *ctx, const sizes *s, inputs *in) {
  (void)ctx;
  (void)s;
  tsr_array *t, *plus, *sum;
  CHECK(tsr_transpose(in->ax, NULL, &t));
  CHECK(tsr_add(in->ax, t, &plus));
  CHECK(tsr_sum(plus, NULL, 0, false, &sum));
  tsr_array_destroy(&t);
  tsr_array_destroy(&plus);
  return sum;
}

typedef tsr_array *(*workload_fn)(tsr_ctx *, const sizes *, inputs *);
static const workload_fn workloads[N_WORKLOADS] = {a1, a2, a3, a4, a5, a6};

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

/* ---- main ---------------------------------------------------------------------------- */

static void usage(void) {
  fprintf(stderr, "usage: bench_arrays [--reps R] [--threads T] [--workloads A1,A2,...] "
                  "[--scale S] [--no-peers] [--python PATH] [--peers PATH]\n");
  exit(2);
}

static options parse(int argc, char **argv) {
  options o = {5, 2, 1.0, {0}, true, "/usr/bin/python3", TSR_BENCH_PEERS_SCRIPT};
  const char *list = "A1,A2,A3,A4,A5,A6";
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
    else if (strcmp(a, "--scale") == 0) {
      char *end;
      o.scale = strtod(v, &end);
      if (*end != '\0' || !(o.scale > 0)) {
        fprintf(stderr, "error: --scale '%s' is not a positive number\n", v);
        exit(2);
      }
    } else
      usage();
    i++;
  }
  char copy[256];
  snprintf(copy, sizeof copy, "%s", list);
  for (char *tok = strtok(copy, ","); tok != NULL; tok = strtok(NULL, ",")) {
    int w = 0;
    while (w < N_WORKLOADS && strcmp(tok, ids[w]) != 0)
      w++;
    if (w == N_WORKLOADS || workloads[w] == NULL) {
      fprintf(stderr, "error: --workloads: '%s' is not an available workload\n", tok);
      exit(2);
    }
    o.run[w] = true;
  }
  return o;
}

int main(int argc, char **argv) {
  options o = parse(argc, argv);
  tsr_ctx *ctx;
  CHECK(tsr_ctx_create(&ctx));
  CHECK(tsr_ctx_set_threads(ctx, o.threads));
  double stream = bench_stream_triad(20u << 20, o.threads, 10);
  printf("# bench_arrays: BENCHMARKS.md A1-A6, %d threads, medians of %d runs after 1 warm-up, "
         "scale %g\n",
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
  peer_row rows[N_WORKLOADS][2];
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
  tsr_ctx_destroy(&ctx);
  return 0;
}

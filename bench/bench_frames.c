/* bench_frames.c — benchmark F0: tessera's frames beside DuckDB, Polars
 * (npm) and pandas (Debian) on the db-benchmark G1 CSV, taking turns.
 *
 *   bench_frames [--csv PATH] [--reps R] [--threads T] [--no-peers]
 *                [--peers DIR] [--python PATH] [--node PATH]
 *
 * Workloads (docs/benchmarks.md, "Frames"):
 *   load           the CSV parsed into memory, every column typed and
 *                  materialized (tsr_frame_read_csv + tsr_frame_persist);
 *   filter_assign  on the loaded frame, the rows with v3 > 50 plus
 *                  w = v1 * v3 + v2, materialized (tsr_frame_compute).
 * Each of R turns runs tessera once, then each peer script once
 * (bench/peers/frames_*.{mjs,py} --reps 1), so that the machine's moods hit
 * everyone alike; the medians of the turns are compared.  Without --csv the
 * 1e7-row G1 file is generated once into $TMPDIR/tessera-bench/ (as `tessera
 * gen groupby 1e7 1e2` would).
 *
 * Output: '#' comment lines (STREAM, the peers' versions, the check values:
 * row counts and sums that must agree across engines), then a TSV table:
 * workload, tessera_s, <peer>_s, <peer>_x (peer seconds / tessera seconds:
 * above 1 means tessera is faster), MB/s per core (load: file bytes /
 * seconds / threads) and the fraction of the STREAM triad (filter_assign:
 * bytes of the columns read and written / seconds / STREAM). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <tessera/tessera.h>

#include "bench_common.h"

#ifndef TSR_BENCH_PEERS_DIR
#define TSR_BENCH_PEERS_DIR "bench/peers"
#endif

#define CHECK(expr)                                                                  \
  do {                                                                               \
    tsr_status s_ = (expr);                                                          \
    if (s_ != TSR_OK) {                                                              \
      fprintf(stderr, "bench_frames: %s failed: %s\n", #expr, tsr_last_error());     \
      exit(1);                                                                       \
    }                                                                                \
  } while (0)

enum { LOAD, FILTER_ASSIGN, N_WORKLOADS };
static const char *const workload_names[N_WORKLOADS] = {"load", "filter_assign"};

enum { DUCKDB, POLARS, PANDAS, N_PEERS };
static const char *const peer_names[N_PEERS] = {"duckdb", "polars", "pandas"};
static const char *const peer_scripts[N_PEERS] = {"frames_duckdb.mjs", "frames_polars.mjs",
                                                  "frames_pandas.py"};

typedef struct options {
  const char *csv;
  int reps, threads;
  bool peers;
  const char *peers_dir, *python, *node;
} options;

typedef struct check {
  long long rows;
  double sum;
} check;

typedef struct series {
  double t[64];
  int n;
  char status[32]; /* "" when it ran, else why not */
  check checks[N_WORKLOADS];
} series;

static void usage(void) {
  fputs("usage: bench_frames [--csv PATH] [--reps R] [--threads T] [--no-peers] [--peers DIR]\n"
        "                    [--python PATH] [--node PATH]\n",
        stderr);
  exit(2);
}

/* The G1 file: given, or generated once. */
static const char *g1_path(tsr_ctx *ctx, const options *o, char *buf, size_t size) {
  if (o->csv != NULL)
    return o->csv;
  const char *tmp = getenv("TMPDIR");
  snprintf(buf, size, "%s/tessera-bench", tmp && *tmp ? tmp : "/tmp");
  if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
    fprintf(stderr, "bench_frames: cannot make %s: %s\n", buf, strerror(errno));
    exit(1);
  }
  size_t len = strlen(buf);
  snprintf(buf + len, size - len, "/G1_1e7_1e2_0_0.csv");
  struct stat st;
  if (stat(buf, &st) == 0 && st.st_size > 0)
    return buf;
  printf("# generating %s (1e7 rows, K = 100, seed 0)\n", buf);
  fflush(stdout);
  tsr_frame *g = NULL;
  CHECK(tsr_frame_gen_groupby(ctx, 10000000, 100, 0, false, 0, 0, &g));
  CHECK(tsr_frame_write_csv(g, buf, ',', false, NULL));
  tsr_frame_destroy(&g);
  return buf;
}

static double column_sum(tsr_frame_result *r, const char *name) {
  int col = -1;
  for (int i = 0; i < tsr_frame_result_ncols(r); i++)
    if (strcmp(tsr_frame_result_col_name(r, i), name) == 0)
      col = i;
  if (col < 0)
    return 0;
  double s = 0;
  for (int64_t c = 0; c < tsr_frame_result_nchunks(r); c++) {
    tsr_column_chunk ch;
    CHECK(tsr_frame_result_chunk(r, col, c, &ch));
    tsr_type t = tsr_frame_result_col_type(r, col);
    for (int64_t i = 0; i < ch.rows; i++) {
      if (ch.validity && !((ch.validity[i / 8] >> (i % 8)) & 1))
        continue;
      s += t.id == TSR_COL_FLOAT64 ? ((const double *)ch.values)[i]
                                   : (double)((const int64_t *)ch.values)[i];
    }
  }
  return s;
}

/* Bytes per row of the frame's columns (values only). */
static double row_bytes(const tsr_frame *f) {
  double b = 0;
  for (int i = 0; i < tsr_frame_ncols(f); i++)
    b += (double)tsr_type_width(tsr_frame_col_type(f, i));
  return b;
}

/* One tessera turn: times of both workloads, checks, and filter_assign's
 * bytes touched. */
static void tessera_turn(tsr_ctx *ctx, const char *csv, double t[N_WORKLOADS],
                         check c[N_WORKLOADS], double *bytes) {
  double t0 = bench_now();
  tsr_frame *raw = NULL, *x = NULL;
  CHECK(tsr_frame_read_csv(ctx, csv, NULL, &raw));
  CHECK(tsr_frame_persist(raw, NULL, &x));
  t[LOAD] = bench_now() - t0;
  tsr_frame_destroy(&raw);
  int64_t rows;
  CHECK(tsr_frame_nrows(x, &rows));
  double v3;
  CHECK(tsr_frame_reduce_f64(x, "v3", TSR_COL_SUM, 0, &v3, NULL));
  c[LOAD] = (check){rows, v3};

  t0 = bench_now();
  tsr_frame *y = NULL, *z = NULL;
  tsr_frame_result *r = NULL;
  CHECK(tsr_frame_filter(x, "v3 > 50", &y));
  CHECK(tsr_frame_assign(y, "w", "v1 * v3 + v2", &z));
  CHECK(tsr_frame_compute(z, NULL, &r));
  t[FILTER_ASSIGN] = bench_now() - t0;
  int64_t kept = tsr_frame_result_nrows(r);
  c[FILTER_ASSIGN] = (check){kept, column_sum(r, "w")};
  /* Read: v3 for the predicate and every column for the gather; written:
   * the kept rows of every column; then v1, v3, v2 read and w written. */
  *bytes = (double)rows * (8 + row_bytes(x)) + (double)kept * (row_bytes(x) + 4 * 8);
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&z);
  tsr_frame_destroy(&y);
  tsr_frame_destroy(&x);
}

/* One peer turn: runs its script with --reps 1 and reads its lines. */
static void peer_turn(const options *o, int p, const char *csv, series s[N_WORKLOADS]) {
  if (s[0].status[0] != '\0')
    return; /* missing: reported once */
  char cmd[4096];
  const char *interp = strstr(peer_scripts[p], ".py") ? o->python : o->node;
  snprintf(cmd, sizeof cmd, "'%s' '%s/%s' '%s' --reps 1 --threads %d 2>&1", interp, o->peers_dir,
           peer_scripts[p], csv, o->threads);
  FILE *f = popen(cmd, "r");
  if (f == NULL) {
    for (int w = 0; w < N_WORKLOADS; w++)
      snprintf(s[w].status, sizeof s[w].status, "skipped");
    return;
  }
  char line[8192];
  bool got[N_WORKLOADS] = {false};
  while (fgets(line, sizeof line, f) != NULL) {
    char name[64];
    double sec;
    long long rows;
    double sum;
    if (line[0] == '#') {
      if (s[0].n == 0 && (strstr(line, "peer") || strstr(line, "schema")))
        printf("# %s: %s", peer_names[p], line + 2);
      continue;
    }
    if (sscanf(line, "check\t%63s\t%lld\t%lf", name, &rows, &sum) == 3) {
      for (int w = 0; w < N_WORKLOADS; w++)
        if (strcmp(name, workload_names[w]) == 0)
          s[w].checks[w] = (check){rows, sum};
      continue;
    }
    if (sscanf(line, "%63s\t%lf", name, &sec) == 2)
      for (int w = 0; w < N_WORKLOADS; w++)
        if (strcmp(name, workload_names[w]) == 0 && s[w].n < 64) {
          s[w].t[s[w].n++] = sec;
          got[w] = true;
        }
  }
  int rc = pclose(f);
  int code = WIFEXITED(rc) ? WEXITSTATUS(rc) : 1;
  for (int w = 0; w < N_WORKLOADS; w++)
    if (!got[w] && s[w].n == 0)
      snprintf(s[w].status, sizeof s[w].status, code == 2 ? "skipped" : "failed");
  if (code == 2)
    printf("# %s skipped: its library is missing (bash scripts/setup.sh bench installs it)\n",
           peer_names[p]);
  else if (code != 0)
    printf("# %s failed (exit %d): %s\n", peer_names[p], code, cmd);
}

int main(int argc, char **argv) {
  options o = {.reps = 5, .threads = 2, .peers = true, .peers_dir = TSR_BENCH_PEERS_DIR,
               .python = "/usr/bin/python3", .node = "node"};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--no-peers") == 0)
      o.peers = false;
    else if (i + 1 >= argc)
      usage();
    else if (strcmp(a, "--csv") == 0)
      o.csv = argv[++i];
    else if (strcmp(a, "--reps") == 0)
      o.reps = (int)bench_parse_long(a, argv[++i], 1, 64);
    else if (strcmp(a, "--threads") == 0)
      o.threads = (int)bench_parse_long(a, argv[++i], 1, 1024);
    else if (strcmp(a, "--peers") == 0)
      o.peers_dir = argv[++i];
    else if (strcmp(a, "--python") == 0)
      o.python = argv[++i];
    else if (strcmp(a, "--node") == 0)
      o.node = argv[++i];
    else
      usage();
  }
  tsr_ctx *ctx = NULL;
  CHECK(tsr_ctx_create(&ctx));
  CHECK(tsr_ctx_set_threads(ctx, o.threads));
  char path[4096];
  const char *csv = g1_path(ctx, &o, path, sizeof path);
  struct stat st;
  if (stat(csv, &st) != 0) {
    fprintf(stderr, "bench_frames: %s: %s\n", csv, strerror(errno));
    return 1;
  }
  double stream = bench_stream_triad(20u << 20, o.threads, 10);
  printf("# STREAM triad: %.1f GB/s with %d threads\n", stream / 1e9, o.threads);
  printf("# file: %s (%lld bytes), %d turns, %d threads\n", csv, (long long)st.st_size, o.reps,
         o.threads);
  series mine[N_WORKLOADS];
  series peers[N_PEERS][N_WORKLOADS];
  memset(mine, 0, sizeof mine);
  memset(peers, 0, sizeof peers);
  for (int p = 0; p < N_PEERS && !o.peers; p++)
    for (int w = 0; w < N_WORKLOADS; w++)
      snprintf(peers[p][w].status, sizeof peers[p][w].status, "skipped");
  double bytes = 0;
  for (int turn = 0; turn < o.reps; turn++) {
    double t[N_WORKLOADS];
    tessera_turn(ctx, csv, t, mine[0].checks, &bytes);
    for (int w = 0; w < N_WORKLOADS; w++)
      mine[w].t[mine[w].n++] = t[w];
    for (int p = 0; p < N_PEERS && o.peers; p++)
      peer_turn(&o, p, csv, peers[p]);
    fprintf(stderr, "# turn %d of %d done (tessera: load %.3f s, filter_assign %.3f s)\n", turn + 1, o.reps, t[0], t[1]);
  }
  for (int w = 0; w < N_WORKLOADS; w++) {
    printf("# check %s: tessera %lld rows, sum %.6f", workload_names[w], mine[0].checks[w].rows,
           mine[0].checks[w].sum);
    for (int p = 0; p < N_PEERS; p++)
      if (peers[p][w].n > 0)
        printf("; %s %lld rows, sum %.6f", peer_names[p], peers[p][w].checks[w].rows,
               peers[p][w].checks[w].sum);
    printf("\n");
  }
  printf("workload\ttessera_s");
  for (int p = 0; p < N_PEERS; p++)
    printf("\t%s_s", peer_names[p]);
  for (int p = 0; p < N_PEERS; p++)
    printf("\t%s_x", peer_names[p]);
  printf("\tMB_s_per_core\tfrac_stream\n");
  for (int w = 0; w < N_WORKLOADS; w++) {
    double me = bench_median(mine[w].t, mine[w].n);
    printf("%s\t%.3f", workload_names[w], me);
    double med[N_PEERS];
    for (int p = 0; p < N_PEERS; p++) {
      med[p] = peers[p][w].n > 0 ? bench_median(peers[p][w].t, peers[p][w].n) : 0;
      if (peers[p][w].n > 0)
        printf("\t%.3f", med[p]);
      else
        printf("\t%s", peers[p][w].status[0] ? peers[p][w].status : "skipped");
    }
    for (int p = 0; p < N_PEERS; p++)
      if (peers[p][w].n > 0)
        printf("\t%.2f", med[p] / me);
      else
        printf("\t-");
    if (w == LOAD)
      printf("\t%.0f\t-\n", (double)st.st_size / 1e6 / me / o.threads);
    else
      printf("\t-\t%.2f\n", bytes / me / stream);
  }
  tsr_ctx_destroy(&ctx);
  return 0;
}

/* bench_frames.c — benchmarks F0 and F1: tessera's frames beside DuckDB,
 * Polars (npm) and pandas (Debian) on the db-benchmark G1 CSV, taking turns.
 *
 *   bench_frames [--csv PATH] [--join-dir DIR] [--reps R] [--threads T] [--no-peers]
 *                [--peers DIR] [--python PATH] [--node PATH] [--only W,...]
 *                [--keep-answers DIR] [--no-sql] [--keep-graphs DIR]
 *
 * Workloads (docs/benchmarks.md, "Frames"):
 *   load           the CSV parsed into memory, every column typed and
 *                  materialized (tsr_frame_read_csv + tsr_frame_persist);
 *   filter_assign  on the loaded frame, the rows with v3 > 50 plus
 *                  w = v1 * v3 + v2, materialized (tsr_frame_compute);
 *   h5_write, h5_read  the loaded frame written as an HDF5 table
 *                  (tsr_frame_write_hdf5, uncompressed) and read back into
 *                  memory (tsr_frame_read_hdf5); h5_write_z1, h5_read_z1
 *                  the same with deflate 1 + shuffle.  Right after each
 *                  write the file is also read plainly (read(2) of 8 MiB
 *                  blocks into one buffer, the file in the page cache as
 *                  the write left it): the reference speed h5_read is
 *                  compared with.  It is the kind one: its buffer is
 *                  reused (no page faults, cache-warm), while h5_read
 *                  fills ~730 MB of column chunks (from tsr_alloc: huge
 *                  pages, freed blocks reused across turns; fresh 4 KiB
 *                  pages cost seconds on some VMs).  tessera alone
 *                  (pandas' to_hdf needs PyTables).  --h5-strings picks
 *                  the string layout
 *                  (default offsets, the fast one; vlen: h5py's default);
 *   q1..q10        F1: db-benchmark's group-by queries on the loaded frame
 *                  (queries[] below), each a pipeline breaker whose answer is
 *                  held in memory when the call returns (tsr_frame_groupby;
 *                  tsr_frame_aggregate for q7's and q9's expressions).
 * --only picks workloads (default all; the load runs anyway).  Each of R
 * turns runs tessera once, then each peer script once
 * (bench/peers/frames_*.{mjs,py} --reps 1), so that the machine's moods hit
 * everyone alike; the medians of the turns are compared.  In the first turn
 * DuckDB writes each query's answer (--answers); in the last turn, after
 * each query's timing, tessera's whole answer is compared with DuckDB's row
 * by row, both sorted by every column, keys first (integers and strings
 * exactly, floats within 1e-9 relative or both below 1e-15): the `check`
 * column says `ok` or
 * what differs.  The answers go to a temporary directory, removed at the
 * end (--keep-answers DIR keeps them there).  Without --csv the
 * 1e7-row G1 file is generated once into $TMPDIR/tessera-bench/ (as `tessera
 * gen groupby 1e7 1e2` would).
 *
 * Output: '#' comment lines (STREAM, the peers' versions, the check values:
 * row counts and sums that must agree across engines; for the queries the
 * sum of every value column), then a TSV table: workload, tessera_s,
 * <peer>_s, <peer>_x (peer seconds / tessera seconds: above 1 means tessera
 * is faster), MB/s per core (load: file bytes / seconds / threads; h5 rows: the HDF5 file's bytes), the
 * fraction of the STREAM triad (filter_assign: bytes of the columns read and
 * written / seconds / STREAM) and check (load, filter_assign: rows and sum
 * against DuckDB's; queries: the row-by-row comparison).
 *
 * SQL rows (M2-6; --no-sql: none): each query q1..q10, j1..j5 also runs in
 * SQL (query_sql, join_sql: DuckDB's text) through tsr_sql_run on the same
 * loaded frames registered in one session, in the same turn as the C path
 * (after it; before it in odd turns).  A second table compares the two
 * paths, each timed as its call plus the tsr_frame_compute of its answer
 * (what the check reads; a C answer is in memory already, a SQL answer may
 * end in lazy projections),
 * with parse + plan (EXPLAIN through tsr_sql_run) as a percentage of the
 * SQL execution; in the last turn the SQL answer is compared with the C
 * path's as DuckDB's is, and both paths run once more, untimed, with every
 * task graph they run hashed (graph_note below; --keep-graphs DIR keeps
 * the DOT files as DIR/<q>_c_<i>.dot, DIR/<q>_sql_<i>.dot). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tessera/tessera.h>

#include "bench_common.h"
#include "frame_queries.h"

#ifndef TSR_BENCH_PEERS_DIR
#define TSR_BENCH_PEERS_DIR "bench/peers"
#endif

enum {
  LOAD,
  FILTER_ASSIGN,
  H5_WRITE,   /* the loaded frame written as an HDF5 table, uncompressed */
  H5_READ,    /* ... and read back into memory */
  H5_WRITE_Z, /* the same with deflate 1 + shuffle */
  H5_READ_Z,
  Q1,
  J1 = Q1 + 10,
  N_WORKLOADS = J1 + 5
};
static const char *const workload_names[N_WORKLOADS] = {
    "load", "filter_assign", "h5_write", "h5_read", "h5_write_z1", "h5_read_z1", "q1",
    "q2",   "q3",            "q4",       "q5",      "q6",          "q7",         "q8",
    "q9",   "q10",           "j1",       "j2",      "j3",          "j4",         "j5"};

enum { DUCKDB, POLARS, PANDAS, N_PEERS };
static const char *const peer_names[N_PEERS] = {"duckdb", "polars", "pandas"};
static const char *const peer_scripts[N_PEERS] = {"frames_duckdb.mjs", "frames_polars.mjs",
                                                  "frames_pandas.py"};

/* F1: db-benchmark's group-by queries (docs/benchmarks.md), with the result
 * columns named as db-benchmark's DuckDB solution names them (its answer is
 * the reference).  An entry with `text` runs tsr_frame_aggregate, the others
 * tsr_frame_groupby. */
#define MAX_AGGS 3
typedef struct query {
  int nkeys;
  const char *keys[6];
  int naggs;
  tsr_agg aggs[MAX_AGGS];
  const char *text;
} query;
static const query queries[10] = {
    {1, {"id1"}, 1, {{.op = TSR_AGG_SUM, .column = "v1", .name = "v1"}}, NULL},
    {2, {"id1", "id2"}, 1, {{.op = TSR_AGG_SUM, .column = "v1", .name = "v1"}}, NULL},
    {1,
     {"id3"},
     2,
     {{.op = TSR_AGG_SUM, .column = "v1", .name = "v1"},
      {.op = TSR_AGG_MEAN, .column = "v3", .name = "v3"}},
     NULL},
    {1,
     {"id4"},
     3,
     {{.op = TSR_AGG_MEAN, .column = "v1", .name = "v1"},
      {.op = TSR_AGG_MEAN, .column = "v2", .name = "v2"},
      {.op = TSR_AGG_MEAN, .column = "v3", .name = "v3"}},
     NULL},
    {1,
     {"id6"},
     3,
     {{.op = TSR_AGG_SUM, .column = "v1", .name = "v1"},
      {.op = TSR_AGG_SUM, .column = "v2", .name = "v2"},
      {.op = TSR_AGG_SUM, .column = "v3", .name = "v3"}},
     NULL},
    {2,
     {"id4", "id5"},
     2,
     {{.op = TSR_AGG_MEDIAN, .column = "v3", .name = "median_v3"},
      {.op = TSR_AGG_STD, .column = "v3", .name = "sd_v3", .ddof = 1}},
     NULL},
    {1, {"id3"}, 0, {{0}}, "range_v1_v2 = max(v1) - min(v2)"},
    {1, {"id6"}, 1, {{.op = TSR_AGG_LARGEST, .column = "v3", .name = "largest2_v3", .n = 2}}, NULL},
    {2, {"id2", "id4"}, 0, {{0}}, "r2 = pow(corr(v1, v2), 2)"},
    {6,
     {"id1", "id2", "id3", "id4", "id5", "id6"},
     2,
     {{.op = TSR_AGG_SUM, .column = "v3", .name = "v3"},
      {.op = TSR_AGG_COUNT_ALL, .name = "count"}},
     NULL},
};

typedef struct options {
  const char *csv, *join_dir;
  int reps, threads;
  bool peers, skip[N_PEERS]; /* skip: per peer (--skip-peer NAME) */
  const char *peers_dir, *python, *node;
  bool only[N_WORKLOADS];
  char only_list[256];                /* the selected workloads, for the header */
  char only_g1[256], only_join[64];   /* for the peers' --only, per data set */
  bool any_g1, any_join, any_h5;
  const char *keep_answers;
  bool sql;                /* the SQL rows (--no-sql: none) */
  const char *keep_graphs; /* --keep-graphs DIR: the DOT files of the graph comparison */
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
  fputs("usage: bench_frames [--csv PATH] [--join-dir DIR] [--reps R] [--threads T] [--no-peers]\n"
        "                    [--peers DIR] [--python PATH] [--node PATH] [--only W,...]\n"
        "                    [--keep-answers DIR] [--skip-peer duckdb|polars|pandas]...\n"
        "                    [--h5-strings offsets|vlen] [--no-sql] [--keep-graphs DIR]\n"
        "  W: load, filter_assign, h5_write, h5_read, h5_write_z1, h5_read_z1, q1 .. q10,\n"
        "     j1 .. j5 (default all)\n",
        stderr);
  exit(2);
}

static void parse_only(options *o, const char *list) {
  memset(o->only, 0, sizeof o->only);
  char buf[256];
  snprintf(buf, sizeof buf, "%s", list);
  o->only_list[0] = '\0';
  for (char *save = NULL, *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
    int k = 0;
    while (k < N_WORKLOADS && strcmp(workload_names[k], w) != 0)
      k++;
    if (k == N_WORKLOADS) {
      fprintf(stderr, "bench_frames: --only: unknown workload '%s'\n", w);
      usage();
    }
    o->only[k] = true;
  }
  o->only_g1[0] = o->only_join[0] = '\0';
  for (int k = 0; k < N_WORKLOADS; k++)
    if (o->only[k]) {
      size_t len = strlen(o->only_list);
      snprintf(o->only_list + len, sizeof o->only_list - len, "%s%s", len ? "," : "",
               workload_names[k]);
      if (k >= H5_WRITE && k <= H5_READ_Z) { /* tessera alone: the peers only load */
        o->any_h5 = true;
        continue;
      }
      char *set = k >= J1 ? o->only_join : o->only_g1;
      size_t cap = k >= J1 ? sizeof o->only_join : sizeof o->only_g1;
      len = strlen(set);
      snprintf(set + len, cap - len, "%s%s", len ? "," : "", workload_names[k]);
    }
  if (o->only_list[0] == '\0')
    usage();
  if (o->any_h5 && o->only_g1[0] == '\0')
    snprintf(o->only_g1, sizeof o->only_g1, "load");
  o->any_g1 = o->only_g1[0] != '\0';
  o->any_join = o->only_join[0] != '\0';
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

/* F2: db-benchmark's joins (docs/benchmarks.md), x with one right table on
 * one key; DuckDB names the right's other columns <table>_<column> (v2 as
 * it is). */
typedef struct join_query {
  int right;
  const char *key;
  tsr_join_kind kind;
} join_query;
static const join_query joins[5] = {
    {TBL_SMALL, "id1", TSR_JOIN_INNER},  {TBL_MEDIUM, "id2", TSR_JOIN_INNER},
    {TBL_MEDIUM, "id2", TSR_JOIN_LEFT},  {TBL_MEDIUM, "id5", TSR_JOIN_INNER},
    {TBL_BIG, "id3", TSR_JOIN_INNER},
};

/* The J1 directory: given, or generated once. */
static const char *j1_dir(tsr_ctx *ctx, const options *o, char *buf, size_t size) {
  if (o->join_dir != NULL)
    return o->join_dir;
  const char *tmp = getenv("TMPDIR");
  snprintf(buf, size, "%s/tessera-bench", tmp && *tmp ? tmp : "/tmp");
  if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
    fprintf(stderr, "bench_frames: cannot make %s: %s\n", buf, strerror(errno));
    exit(1);
  }
  char path[4200];
  for (int t = 0; t < N_TABLES; t++) {
    snprintf(path, sizeof path, "%s/%s", buf, j1_files[t]);
    struct stat st;
    if (stat(path, &st) == 0 && st.st_size > 0)
      continue;
    printf("# generating %s (J1, n = 1e7, seed 0)\n", path);
    fflush(stdout);
    tsr_frame *g = NULL;
    CHECK(tsr_frame_gen_join(ctx, 10000000, t, 0, 0, &g));
    CHECK(tsr_frame_write_csv(g, path, ',', false, NULL));
    tsr_frame_destroy(&g);
  }
  return buf;
}

/* ---- answers as plain tables, for the checks ---------------------------- */

enum { K_INT, K_FLOAT, K_STR };
typedef struct acol {
  const char *name;
  int kind;
  int64_t *i;
  double *f;
  const char **s;
  uint32_t *len;
  uint8_t *valid;
} acol;
typedef struct atable {
  int64_t rows;
  int ncols;
  acol cols[16];
  tsr_frame_result *r; /* the strings point into it */
} atable;

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (p == NULL) {
    fprintf(stderr, "bench_frames: out of memory (%zu bytes)\n", n);
    exit(1);
  }
  return p;
}

/* Copies the columns of the computed frame r (taken over) out as int64,
 * double or strings. */
static void table_of_result(tsr_frame_result *r, atable *t) {
  memset(t, 0, sizeof *t);
  t->r = r;
  t->rows = tsr_frame_result_nrows(t->r);
  t->ncols = tsr_frame_result_ncols(t->r);
  if (t->ncols > 16) {
    fprintf(stderr, "bench_frames: an answer with %d columns\n", t->ncols);
    exit(1);
  }
  int64_t n = t->rows;
  for (int c = 0; c < t->ncols; c++) {
    acol *a = &t->cols[c];
    a->name = tsr_frame_result_col_name(t->r, c);
    tsr_type ty = tsr_frame_result_col_type(t->r, c);
    a->valid = xmalloc((size_t)n);
    if (ty.id == TSR_COL_STRING || ty.id == TSR_COL_DICT) {
      a->kind = K_STR;
      a->s = xmalloc((size_t)n * sizeof *a->s);
      a->len = xmalloc((size_t)n * sizeof *a->len);
      for (int64_t i = 0; i < n; i++) {
        size_t len;
        bool is_null;
        CHECK(tsr_frame_result_string(t->r, c, i, &a->s[i], &len, &is_null));
        a->len[i] = (uint32_t)len;
        a->valid[i] = !is_null;
      }
      continue;
    }
    size_t w = tsr_type_width(ty);
    uint8_t *raw = xmalloc((size_t)n * w), *bits = xmalloc((size_t)(n + 7) / 8);
    CHECK(tsr_frame_result_values(t->r, c, raw, (size_t)n * w, bits));
    bool flt = ty.id == TSR_COL_FLOAT64 || ty.id == TSR_COL_FLOAT32;
    a->kind = flt ? K_FLOAT : K_INT;
    if (flt)
      a->f = xmalloc((size_t)n * sizeof *a->f);
    else
      a->i = xmalloc((size_t)n * sizeof *a->i);
    for (int64_t i = 0; i < n; i++) {
      a->valid[i] = (bits[i / 8] >> (i % 8)) & 1;
      const uint8_t *v = raw + (size_t)i * w;
      switch (ty.id) {
      case TSR_COL_FLOAT64: a->f[i] = *(const double *)v; break;
      case TSR_COL_FLOAT32: a->f[i] = *(const float *)v; break;
      case TSR_COL_BOOL: case TSR_COL_UINT8: a->i[i] = *v; break;
      case TSR_COL_INT8: a->i[i] = *(const int8_t *)v; break;
      case TSR_COL_INT16: a->i[i] = *(const int16_t *)v; break;
      case TSR_COL_UINT16: a->i[i] = *(const uint16_t *)v; break;
      case TSR_COL_INT32: case TSR_COL_DATE: a->i[i] = *(const int32_t *)v; break;
      case TSR_COL_UINT32: a->i[i] = *(const uint32_t *)v; break;
      default: a->i[i] = *(const int64_t *)v; break;
      }
    }
    free(raw);
    free(bits);
  }
}

/* Computes f into memory (returns the seconds that took) and copies its
 * columns out as table_of_result does. */
static double table_of(tsr_frame *f, atable *t) {
  tsr_frame_result *r = NULL;
  double t0 = bench_now();
  CHECK(tsr_frame_compute(f, NULL, &r));
  double seconds = bench_now() - t0;
  table_of_result(r, t);
  return seconds;
}

static void table_free(atable *t) {
  for (int c = 0; c < t->ncols; c++) {
    free(t->cols[c].i);
    free(t->cols[c].f);
    free(t->cols[c].s);
    free(t->cols[c].len);
    free(t->cols[c].valid);
  }
  tsr_frame_result_destroy(&t->r);
  memset(t, 0, sizeof *t);
}

static int table_col(const atable *t, const char *name) {
  for (int c = 0; c < t->ncols; c++)
    if (strcmp(t->cols[c].name, name) == 0)
      return c;
  return -1;
}

/* Sum of the non-null, non-NaN values of every column but the keys. */
static double table_value_sum(const atable *t, const query *q) {
  double sum = 0;
  for (int c = 0; c < t->ncols; c++) {
    bool key = false;
    for (int k = 0; k < q->nkeys; k++)
      key |= strcmp(t->cols[c].name, q->keys[k]) == 0;
    const acol *a = &t->cols[c];
    if (key || a->kind == K_STR)
      continue;
    for (int64_t i = 0; i < t->rows; i++)
      if (a->valid[i] && (a->kind == K_INT || a->f[i] == a->f[i]))
        sum += a->kind == K_INT ? (double)a->i[i] : a->f[i];
  }
  return sum;
}

/* Row order by the listed columns (nulls first; NaN after numbers). */
static const atable *sort_table;
static const int *sort_cols;
static int sort_ncols;
static int cmp_cell(const acol *a, int64_t x, int64_t y) {
  if (a->valid[x] != a->valid[y])
    return a->valid[x] ? 1 : -1;
  if (!a->valid[x])
    return 0;
  if (a->kind == K_INT)
    return (a->i[x] > a->i[y]) - (a->i[x] < a->i[y]);
  if (a->kind == K_FLOAT) {
    double p = a->f[x], q = a->f[y];
    if (p != p || q != q)
      return (p != p) - (q != q);
    return (p > q) - (p < q);
  }
  uint32_t n = a->len[x] < a->len[y] ? a->len[x] : a->len[y];
  int c = memcmp(a->s[x], a->s[y], n);
  return c ? c : (a->len[x] > a->len[y]) - (a->len[x] < a->len[y]);
}
static int cmp_rows(const void *pa, const void *pb) {
  int64_t x = *(const int64_t *)pa, y = *(const int64_t *)pb;
  for (int k = 0; k < sort_ncols; k++) {
    int c = cmp_cell(&sort_table->cols[sort_cols[k]], x, y);
    if (c)
      return c;
  }
  return 0;
}
static int64_t *sorted_rows(const atable *t, const int *cols, int ncols) {
  int64_t *perm = xmalloc((size_t)t->rows * sizeof *perm);
  for (int64_t i = 0; i < t->rows; i++)
    perm[i] = i;
  sort_table = t;
  sort_cols = cols;
  sort_ncols = ncols;
  qsort(perm, (size_t)t->rows, sizeof *perm, cmp_rows);
  return perm;
}

static void cell_text(const acol *a, int64_t i, char *buf, size_t size) {
  if (!a->valid[i])
    snprintf(buf, size, "null");
  else if (a->kind == K_INT)
    snprintf(buf, size, "%lld", (long long)a->i[i]);
  else if (a->kind == K_FLOAT)
    snprintf(buf, size, "%.17g", a->f[i]);
  else
    snprintf(buf, size, "%.*s", (int)(a->len[i] > 40 ? 40 : a->len[i]), a->s[i]);
}

/* Whether two cells agree: integers and strings exactly, floats (or a
 * float beside an integer) within 1e-9 relative, NaN with NaN, and two
 * values both below 1e-15 in magnitude as zero up to rounding (q9's r2 of
 * a group whose correlation is ~1e-17 is rounding noise in every engine:
 * 9e-36 here, 1e-34 in DuckDB). */
static bool same_cell(const acol *a, int64_t x, const acol *b, int64_t y) {
  if (a->valid[x] != b->valid[y])
    return false;
  if (!a->valid[x])
    return true;
  if (a->kind == K_STR || b->kind == K_STR)
    return a->kind == b->kind && a->len[x] == b->len[y] && memcmp(a->s[x], b->s[y], a->len[x]) == 0;
  if (a->kind == K_INT && b->kind == K_INT)
    return a->i[x] == b->i[y];
  double p = a->kind == K_INT ? (double)a->i[x] : a->f[x];
  double q = b->kind == K_INT ? (double)b->i[y] : b->f[y];
  if (p != p || q != q)
    return p != p && q != q;
  double m = fabs(p) > fabs(q) ? fabs(p) : fabs(q);
  return p == q || fabs(p - q) <= 1e-9 * m || m < 1e-15;
}

/* Compares tessera's answer with DuckDB's (both sorted by every column, the
 * keys first); writes "ok" or what differs into out. */
static void compare_answers(const query *q, const atable *me, const atable *ref,
                            const char *ref_name, char *out, size_t size) {
  if (me->rows != ref->rows) {
    snprintf(out, size, "rows %lld, %s %lld", (long long)me->rows, ref_name, (long long)ref->rows);
    return;
  }
  int mc[16], rc[16], n = 0;
  for (int c = 0; c < ref->ncols; c++) {
    int k = table_col(me, ref->cols[c].name);
    if (k < 0) {
      snprintf(out, size, "no column %s", ref->cols[c].name);
      return;
    }
    rc[n] = c;
    mc[n++] = k;
  }
  if (me->ncols != ref->ncols) {
    snprintf(out, size, "%d columns, %s %d", me->ncols, ref_name, ref->ncols);
    return;
  }
  /* keys first, then the values, in DuckDB's column order */
  int mo[16], ro[16], m = 0;
  for (int pass = 0; pass < 2; pass++)
    for (int c = 0; c < n; c++) {
      bool key = false;
      for (int k = 0; k < q->nkeys; k++)
        key |= strcmp(ref->cols[rc[c]].name, q->keys[k]) == 0;
      if (key == (pass == 0)) {
        mo[m] = mc[c];
        ro[m++] = rc[c];
      }
    }
  int64_t *pm = sorted_rows(me, mo, m), *pr = sorted_rows(ref, ro, m);
  int64_t bad = 0, first = -1;
  int bad_col = -1;
  for (int64_t i = 0; i < me->rows; i++) {
    bool ok = true;
    for (int c = 0; c < m && ok; c++)
      if (!same_cell(&me->cols[mo[c]], pm[i], &ref->cols[ro[c]], pr[i])) {
        ok = false;
        if (first < 0) {
          first = i;
          bad_col = c;
        }
      }
    bad += !ok;
  }
  if (bad == 0) {
    snprintf(out, size, "ok");
  } else {
    char a[64], b[64];
    cell_text(&me->cols[mo[bad_col]], pm[first], a, sizeof a);
    cell_text(&ref->cols[ro[bad_col]], pr[first], b, sizeof b);
    snprintf(out, size, "%lld rows differ (sorted row %lld: %.24s %.40s, %s %.40s)", (long long)bad,
             (long long)first, ref->cols[ro[bad_col]].name, a, ref_name, b);
  }
  free(pm);
  free(pr);
}

/* ---- the task graphs a computation runs ---------------------------------- */

/* The SQL rows check that a query in SQL runs the task graphs the C path
 * runs.  Group-by, join and sort compute inside the call, on graphs of
 * their own that no option exposes (tsr_groupby_options and
 * tsr_join_options have no tsr_compute_options, whose dot_path only the
 * final tsr_frame_compute takes).  So the bench is linked with
 * --wrap=tsr_taskgraph_run{,_ex} (bench/CMakeLists.txt): while a graph log
 * is open, every graph the library runs is written as DOT
 * (tsr_taskgraph_write_dot: each task's kernel and id, each input edge)
 * and hashed (FNV-1a), in the order they run.  Two paths run the same
 * graphs when the sequences of hashes agree.  What DOT does not show is
 * not compared: the kernels' parameters (which columns, which aggregate),
 * the buffers' contents. */
#define MAX_LOGGED 16
typedef struct graph_log {
  int n;                      /* graphs run */
  uint64_t hash[MAX_LOGGED];  /* of each graph's DOT (the first MAX_LOGGED) */
  uint32_t tasks[MAX_LOGGED]; /* and its tasks */
  uint64_t all;               /* of the whole sequence */
  bool failed;                /* a DOT could not be written or read */
} graph_log;
static graph_log *graph_open_log; /* the log being written, NULL: none */
static const char *graph_keep_dir, *graph_keep_name;

static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

/* Adds graph g (about to run) to the open log, if any. */
static void graph_note(const tsr_taskgraph *g) {
  graph_log *log = graph_open_log;
  if (log == NULL)
    return;
  graph_open_log = NULL; /* nothing below runs a graph, but be sure */
  char path[4200];
  const char *tmp = getenv("TMPDIR");
  if (graph_keep_dir != NULL)
    snprintf(path, sizeof path, "%s/%s_%d.dot", graph_keep_dir, graph_keep_name, log->n);
  else
    snprintf(path, sizeof path, "%s/tessera-bench-graph-%d.dot", tmp && *tmp ? tmp : "/tmp",
             (int)getpid());
  uint64_t h = 1469598103934665603ull;
  FILE *f = NULL;
  if (tsr_taskgraph_write_dot(g, path) == TSR_OK && (f = fopen(path, "rb")) != NULL) {
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
      h = fnv1a(h, buf, n);
    fclose(f);
  } else {
    log->failed = true;
  }
  if (graph_keep_dir == NULL)
    (void)unlink(path);
  if (log->n < MAX_LOGGED) {
    log->hash[log->n] = h;
    log->tasks[log->n] = tsr_taskgraph_ntasks(g);
  }
  log->all = fnv1a(log->all, &h, sizeof h);
  log->n++;
  graph_open_log = log;
}

#ifdef TSR_BENCH_GRAPH_WRAP
tsr_status __real_tsr_taskgraph_run(tsr_taskgraph *graph);
tsr_status __real_tsr_taskgraph_run_ex(tsr_taskgraph *graph, const tsr_run_options *opts);
tsr_status __wrap_tsr_taskgraph_run(tsr_taskgraph *graph);
tsr_status __wrap_tsr_taskgraph_run_ex(tsr_taskgraph *graph, const tsr_run_options *opts);
tsr_status __wrap_tsr_taskgraph_run(tsr_taskgraph *graph) {
  graph_note(graph);
  return __real_tsr_taskgraph_run(graph);
}
tsr_status __wrap_tsr_taskgraph_run_ex(tsr_taskgraph *graph, const tsr_run_options *opts) {
  graph_note(graph);
  return __real_tsr_taskgraph_run_ex(graph, opts);
}
#endif

/* Opens `log` (name: the DOT files' names under --keep-graphs). */
static void graph_begin(graph_log *log, const char *name) {
  memset(log, 0, sizeof *log);
  log->all = 1469598103934665603ull;
  graph_keep_name = name;
  graph_open_log = log;
}
static void graph_end(void) { graph_open_log = NULL; }

/* "same (N graphs, T tasks)" or what differs, into out. */
static void graph_verdict(const graph_log *c, const graph_log *q, char *out, size_t size) {
#ifndef TSR_BENCH_GRAPH_WRAP
  (void)c;
  (void)q;
  snprintf(out, size, "not compared (no --wrap)");
  return;
#else
  if (c->failed || q->failed) {
    snprintf(out, size, "not compared (a DOT file failed)");
    return;
  }
  uint64_t tc = 0;
  for (int i = 0; i < c->n && i < MAX_LOGGED; i++)
    tc += c->tasks[i];
  if (c->n == q->n && c->all == q->all) {
    snprintf(out, size, "same (%d graphs, %llu tasks)", c->n, (unsigned long long)tc);
    return;
  }
  /* which graphs: tasks per graph, '*' where the hashes differ */
  int len = snprintf(out, size, "differs: C");
  for (int i = 0; i < c->n && i < MAX_LOGGED && len < (int)size; i++)
    len += snprintf(out + len, size - (size_t)len, "%s%u%s", i ? "+" : " ", c->tasks[i],
                    i < q->n && q->hash[i] == c->hash[i] ? "" : "*");
  if (len < (int)size)
    len += snprintf(out + len, size - (size_t)len, " tasks, SQL");
  for (int i = 0; i < q->n && i < MAX_LOGGED && len < (int)size; i++)
    len += snprintf(out + len, size - (size_t)len, "%s%u%s", i ? "+" : " ", q->tasks[i],
                    i < c->n && q->hash[i] == c->hash[i] ? "" : "*");
  if (len < (int)size)
    snprintf(out + len, size - (size_t)len, " tasks");
#endif
}

/* Query k of F1 on x; the answer is held in memory when it returns. */
static void run_query(tsr_frame *x, int k, tsr_frame **ans) {
  const query *q = &queries[k];
  if (q->text != NULL)
    CHECK(tsr_frame_aggregate(x, q->nkeys, q->keys, q->text, NULL, ans));
  else
    CHECK(tsr_frame_groupby(x, q->nkeys, q->keys, q->naggs, q->aggs, NULL, ans));
}

/* ---- the SQL rows -------------------------------------------------------- */

/* Per workload: each turn's seconds of the C path (its call and the
 * tsr_frame_compute of its answer), of the SQL path (tsr_sql_run and the
 * same compute) and of `EXPLAIN <query>` through tsr_sql_run (which
 * parses, binds and plans, then prints the plan without running it:
 * src/sql/session.c); the last turn's answer check and graph verdict. */
typedef struct sql_row {
  double c[64], sql[64], plan[64];
  int n;
  char check[256], graph[192];
} sql_row;
static sql_row sql_rows[N_WORKLOADS];

/* tsr_sql_run, its failure recorded in the row (the bench goes on). */
static bool sql_run(tsr_sql_session *s, int w, const char *text, tsr_frame **out) {
  if (tsr_sql_run(s, text, out) == TSR_OK)
    return true;
  snprintf(sql_rows[w].check, sizeof sql_rows[w].check, "error: %.200s", tsr_last_error());
  for (char *c = sql_rows[w].check; *c; c++)
    if (*c == '\n' || *c == '\t')
      *c = ' ';
  return false;
}

/* The SQL path of one turn of a workload: its answer and seconds. */
typedef struct sql_answer {
  bool ran;
  double seconds, plan_seconds;
} sql_answer;

/* Runs workload w's SQL `text` on session s, timed as the C path is (the
 * call and the compute of its answer), and EXPLAIN of it.  The answer is
 * released at once, as the C path's is before the SQL path runs: neither
 * runs with the other's answer in memory (the check is in the graph pass,
 * sql_graphs). */
static void sql_time(tsr_sql_session *s, int w, const char *text, sql_answer *a) {
  memset(a, 0, sizeof *a);
  if (sql_rows[w].check[0] == 'e' || sql_rows[w].n == 64)
    return; /* failed in an earlier turn */
  tsr_frame *f = NULL;
  tsr_frame_result *r = NULL;
  double t0 = bench_now();
  if (!sql_run(s, w, text, &f))
    return;
  CHECK(tsr_frame_compute(f, NULL, &r));
  a->seconds = bench_now() - t0;
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&f);
  char explain[2048];
  tsr_frame *plan = NULL;
  snprintf(explain, sizeof explain, "EXPLAIN %s", text);
  t0 = bench_now();
  a->ran = sql_run(s, w, explain, &plan);
  a->plan_seconds = bench_now() - t0;
  tsr_frame_destroy(&plan);
}

/* Records a's times beside the C path's (c_seconds). */
static void sql_finish(int w, const sql_answer *a, double c_seconds) {
  sql_row *row = &sql_rows[w];
  if (a->ran) {
    row->c[row->n] = c_seconds;
    row->sql[row->n] = a->seconds;
    row->plan[row->n++] = a->plan_seconds;
  }
}

/* The graphs of the SQL path of workload w (text on s), compared with c's
 * (the C path's, logged by the caller), and its answer with the C path's
 * (rc, computed in that pass; keys: its key columns). */
static void sql_graphs(tsr_sql_session *s, int w, const char *text, const graph_log *c,
                       tsr_frame_result *rc, const query *keys) {
  sql_row *row = &sql_rows[w];
  if (row->check[0] == 'e') {
    tsr_frame_result_destroy(&rc);
    return;
  }
  graph_log q;
  char name[32];
  snprintf(name, sizeof name, "%s_sql", workload_names[w]);
  tsr_frame *ans = NULL;
  tsr_frame_result *r = NULL;
  graph_begin(&q, name);
  bool ok = sql_run(s, w, text, &ans);
  if (ok)
    CHECK(tsr_frame_compute(ans, NULL, &r));
  graph_end();
  if (ok) {
    graph_verdict(c, &q, row->graph, sizeof row->graph);
    atable me, ref;
    table_of_result(r, &me);
    table_of_result(rc, &ref);
    compare_answers(keys, &me, &ref, "C", row->check, sizeof row->check);
    table_free(&ref);
    table_free(&me);
  } else {
    tsr_frame_result_destroy(&rc);
  }
  tsr_frame_destroy(&ans);
}

/* ---- turns -------------------------------------------------------------- */

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

/* The plain reads of the HDF5 files (uncompressed, compressed), per turn. */
static series plain_reads[2];
static tsr_hdf5_strings h5_strings = TSR_HDF5_STRINGS_OFFSETS; /* --h5-strings */
static long long h5_file_bytes[2];

/* Seconds to read the file with read(2) in 8 MiB blocks into one buffer. */
static double plain_read(const char *path, long long *bytes) {
  FILE *fp = fopen(path, "rb");
  if (fp == NULL) {
    fprintf(stderr, "bench_frames: %s: %s\n", path, strerror(errno));
    exit(1);
  }
  size_t cap = 8u << 20;
  char *buf = malloc(cap);
  double t0 = bench_now();
  long long total = 0;
  size_t n;
  while ((n = fread(buf, 1, cap, fp)) > 0)
    total += (long long)n;
  double t = bench_now() - t0;
  fclose(fp);
  free(buf);
  *bytes = total;
  return t;
}

/* h5_write and h5_read (z: deflate 1 + shuffle) of the loaded frame x. */
static void h5_turn(tsr_ctx *ctx, tsr_frame *x, bool z, double t[N_WORKLOADS],
                    check c[N_WORKLOADS]) {
  const char *tmp = getenv("TMPDIR");
  char path[4096];
  snprintf(path, sizeof path, "%s/tessera-bench-h5-%d.h5", tmp && *tmp ? tmp : "/tmp",
           (int)getpid());
  tsr_frame_hdf5_options ho = {.mode = TSR_HDF5_REPLACE,
                               .deflate_level = z ? 1 : 0,
                               .shuffle = z,
                               .strings = h5_strings};
  int w = z ? H5_WRITE_Z : H5_WRITE, r = z ? H5_READ_Z : H5_READ;
  double t0 = bench_now();
  CHECK(tsr_frame_write_hdf5(x, path, "/g1", &ho));
  t[w] = bench_now() - t0;
  series *pr = &plain_reads[z];
  pr->t[pr->n++] = plain_read(path, &h5_file_bytes[z]);
  tsr_frame *y = NULL;
  t0 = bench_now();
  CHECK(tsr_frame_read_hdf5(ctx, path, "/g1", NULL, &y));
  t[r] = bench_now() - t0;
  int64_t rows;
  double v3;
  CHECK(tsr_frame_nrows(y, &rows));
  CHECK(tsr_frame_reduce_f64(y, "v3", TSR_COL_SUM, 0, &v3, NULL));
  c[w] = c[r] = (check){rows, v3};
  tsr_frame_destroy(&y);
  (void)unlink(path);
}

/* One tessera turn: times of the selected workloads, checks, and
 * filter_assign's bytes touched.  With answers != NULL (the last turn), each
 * query's answer is compared with DuckDB's answers/<q>.csv into verdict[]. */
static void tessera_turn(tsr_ctx *ctx, const options *o, const char *csv, double t[N_WORKLOADS],
                         check c[N_WORKLOADS], double *bytes, bool last, bool sql_first,
                         const char *answers, char verdict[N_WORKLOADS][256]) {
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

  if (o->only[FILTER_ASSIGN]) {
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
  }

  if (o->only[H5_WRITE] || o->only[H5_READ])
    h5_turn(ctx, x, false, t, c);
  if (o->only[H5_WRITE_Z] || o->only[H5_READ_Z])
    h5_turn(ctx, x, true, t, c);

  tsr_sql_session *sess = NULL; /* the SQL rows: x registered */
  if (o->sql) {
    CHECK(tsr_sql_session_create(ctx, &sess));
    CHECK(tsr_sql_register(sess, "x", x));
  }
  for (int k = 0; k < 10; k++) {
    if (!o->only[Q1 + k])
      continue;
    sql_answer sa = {0}; /* the SQL path first in odd turns, so that neither always goes first */
    if (sess != NULL && sql_first)
      sql_time(sess, Q1 + k, query_sql[k], &sa);
    tsr_frame *ans = NULL;
    t0 = bench_now();
    run_query(x, k, &ans);
    t[Q1 + k] = bench_now() - t0;
    /* Untimed: the check values and, in the last turn, DuckDB's answer. */
    atable me;
    double materialize = table_of(ans, &me); /* reads ans in place: destroyed after the table */
    c[Q1 + k] = (check){me.rows, table_value_sum(&me, &queries[k])};
    if (answers != NULL) {
      char path[4200];
      snprintf(path, sizeof path, "%s/%s.csv", answers, workload_names[Q1 + k]);
      struct stat st;
      if (stat(path, &st) != 0) {
        snprintf(verdict[Q1 + k], 256, "no duckdb answer");
      } else {
        tsr_frame *ref = NULL;
        atable rt;
        CHECK(tsr_frame_read_csv(ctx, path, NULL, &ref));
        table_of(ref, &rt);
        compare_answers(&queries[k], &me, &rt, "duckdb", verdict[Q1 + k], 256);
        table_free(&rt);
        tsr_frame_destroy(&ref);
      }
    }
    table_free(&me);
    tsr_frame_destroy(&ans);
    if (sess != NULL && !sql_first)
      sql_time(sess, Q1 + k, query_sql[k], &sa);
    if (sess != NULL)
      sql_finish(Q1 + k, &sa, t[Q1 + k] + materialize);
    if (sess != NULL && last) { /* untimed: the graphs of both paths, their answers */
      graph_log cg;
      char name[32];
      snprintf(name, sizeof name, "%s_c", workload_names[Q1 + k]);
      tsr_frame_result *r = NULL;
      graph_begin(&cg, name);
      run_query(x, k, &ans);
      CHECK(tsr_frame_compute(ans, NULL, &r));
      graph_end();
      sql_graphs(sess, Q1 + k, query_sql[k], &cg, r, &queries[k]); /* takes r */
      tsr_frame_destroy(&ans);
    }
  }
  tsr_sql_session_destroy(&sess);
  tsr_frame_destroy(&x);
}

/* Sum of the non-null, non-NaN values of the columns v1 and v2 (F2's check,
 * as db-benchmark's). */
static double join_value_sum(const atable *t) {
  double sum = 0;
  for (int c = 0; c < t->ncols; c++) {
    const acol *a = &t->cols[c];
    if (a->kind != K_FLOAT || (strcmp(a->name, "v1") != 0 && strcmp(a->name, "v2") != 0))
      continue;
    for (int64_t i = 0; i < t->rows; i++)
      if (a->valid[i] && a->f[i] == a->f[i])
        sum += a->f[i];
  }
  return sum;
}

/* The right's clashing columns of join q's answer *ans, <column>__right,
 * named <table>_<column> as DuckDB's answer names them. */
static void name_as_duckdb(tsr_frame **ans, const join_query *q) {
  for (int col = tsr_frame_ncols(*ans) - 1; col >= 0; col--) {
    const char *name = tsr_frame_col_name(*ans, col);
    size_t n = strlen(name);
    if (n <= 7 || strcmp(name + n - 7, "__right") != 0)
      continue;
    char to[128];
    snprintf(to, sizeof to, "%s_%.*s", j1_names[q->right], (int)(n - 7), name);
    tsr_frame *renamed = NULL;
    CHECK(tsr_frame_rename(*ans, name, to, &renamed));
    tsr_frame_destroy(ans);
    *ans = renamed;
  }
}

/* One tessera turn of F2: the J1 tables read and persisted (untimed, as
 * db-benchmark loads before timing), then each selected join, its answer
 * computed and held in memory when tsr_frame_join returns; untimed, the
 * right's clashing columns named as DuckDB names them, the check, and in
 * the last turn the comparison with DuckDB's answer. */
static void tessera_join_turn(tsr_ctx *ctx, const options *o, const char *dir,
                              double t[N_WORKLOADS], check c[N_WORKLOADS], bool last,
                              bool sql_first, const char *answers, char verdict[N_WORKLOADS][256]) {
  tsr_frame *tables[N_TABLES] = {NULL};
  bool need[N_TABLES] = {true, false, false, false};
  for (int j = 0; j < 5; j++)
    need[joins[j].right] |= o->only[J1 + j];
  for (int k = 0; k < N_TABLES; k++) {
    if (!need[k])
      continue;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, j1_file(dir, k));
    tsr_frame *raw = NULL;
    CHECK(tsr_frame_read_csv(ctx, path, NULL, &raw));
    CHECK(tsr_frame_persist(raw, NULL, &tables[k]));
    tsr_frame_destroy(&raw);
  }
  tsr_sql_session *sess = NULL; /* the SQL rows: the tables registered */
  if (o->sql) {
    CHECK(tsr_sql_session_create(ctx, &sess));
    for (int k = 0; k < N_TABLES; k++)
      if (tables[k] != NULL)
        CHECK(tsr_sql_register(sess, j1_names[k], tables[k]));
  }
  for (int j = 0; j < 5; j++) {
    if (!o->only[J1 + j])
      continue;
    const join_query *q = &joins[j];
    tsr_join_options jo = {.suffix_left = "", .suffix_right = "__right"};
    sql_answer sa = {0}; /* the SQL path first in odd turns, as for the queries */
    if (sess != NULL && sql_first)
      sql_time(sess, J1 + j, join_sql[j], &sa);
    tsr_frame *ans = NULL;
    double t0 = bench_now();
    CHECK(tsr_frame_join(tables[TBL_X], tables[q->right], q->kind, 1, &q->key, NULL, &jo, &ans));
    t[J1 + j] = bench_now() - t0;
    name_as_duckdb(&ans, q); /* untimed */
    atable me;
    double materialize = table_of(ans, &me);
    c[J1 + j] = (check){me.rows, join_value_sum(&me)};
    query key = {.nkeys = 1, .keys = {q->key}};
    if (answers != NULL) {
      char path[4200];
      snprintf(path, sizeof path, "%s/%s.csv", answers, workload_names[J1 + j]);
      struct stat st;
      if (stat(path, &st) != 0) {
        snprintf(verdict[J1 + j], 256, "no duckdb answer");
      } else {
        tsr_frame *ref = NULL;
        atable rt;
        CHECK(tsr_frame_read_csv(ctx, path, NULL, &ref));
        table_of(ref, &rt);
        compare_answers(&key, &me, &rt, "duckdb", verdict[J1 + j], 256);
        table_free(&rt);
        tsr_frame_destroy(&ref);
      }
    }
    table_free(&me);
    tsr_frame_destroy(&ans);
    if (sess != NULL && !sql_first)
      sql_time(sess, J1 + j, join_sql[j], &sa);
    if (sess != NULL)
      sql_finish(J1 + j, &sa, t[J1 + j] + materialize);
    if (sess != NULL && last) { /* untimed: the graphs of both paths, their answers */
      graph_log cg;
      char name[32];
      snprintf(name, sizeof name, "%s_c", workload_names[J1 + j]);
      tsr_frame_result *r = NULL;
      graph_begin(&cg, name);
      CHECK(tsr_frame_join(tables[TBL_X], tables[q->right], q->kind, 1, &q->key, NULL, &jo, &ans));
      name_as_duckdb(&ans, q); /* names only: runs no graph */
      CHECK(tsr_frame_compute(ans, NULL, &r));
      graph_end();
      sql_graphs(sess, J1 + j, join_sql[j], &cg, r, &key); /* takes r */
      tsr_frame_destroy(&ans);
    }
  }
  tsr_sql_session_destroy(&sess);
  for (int k = 0; k < N_TABLES; k++)
    tsr_frame_destroy(&tables[k]);
}

/* One peer turn: runs its script with --reps 1 (and --answers DIR when
 * answers is not NULL) on the G1 file (data) or, with join, on the J1
 * directory (data) for F2, and reads its lines. */
static void peer_turn(const options *o, int p, const char *data, bool join, const char *answers,
                      series s[N_WORKLOADS]) {
  if (s[join ? J1 : 0].status[0] != '\0')
    return; /* missing: reported once */
  char cmd[8192];
  const char *interp = strstr(peer_scripts[p], ".py") ? o->python : o->node;
  int len = snprintf(cmd, sizeof cmd, "'%s' '%s/%s' %s'%s' --reps 1 --threads %d --only %s",
                     interp, o->peers_dir, peer_scripts[p], join ? "--join " : "", data,
                     o->threads, join ? o->only_join : o->only_g1);
  if (answers != NULL)
    len += snprintf(cmd + len, sizeof cmd - (size_t)len, " --answers '%s'", answers);
  snprintf(cmd + len, sizeof cmd - (size_t)len, " 2>&1");
  FILE *f = popen(cmd, "r");
  if (f == NULL) {
    for (int w = join ? J1 : 0; w < (join ? N_WORKLOADS : J1); w++)
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
      if (s[join ? J1 : 0].n == 0 && (strstr(line, "peer") || strstr(line, "schema")))
        printf("# %s: %s", peer_names[p], line + 2);
      continue;
    }
    if (sscanf(line, "check\t%63s\t%lld\t%lf", name, &rows, &sum) == 3) {
      for (int w = 0; w < N_WORKLOADS; w++)
        if (strcmp(name, workload_names[w]) == 0)
          s[w].checks[w] = (check){rows, sum};
      continue;
    }
    if (sscanf(line, "%63s\t%lf", name, &sec) == 2) {
      for (int w = 0; w < N_WORKLOADS; w++)
        if (strcmp(name, workload_names[w]) == 0 && s[w].n < 64) {
          s[w].t[s[w].n++] = sec;
          got[w] = true;
        }
    } else if (line[0] != '\0' && line[0] != '\n') {
      fprintf(stderr, "# %s: %s", peer_names[p], line); /* its complaints */
    }
  }
  int rc = pclose(f);
  int code = WIFEXITED(rc) ? WEXITSTATUS(rc) : 1;
  for (int w = join ? J1 : 0; w < (join ? N_WORKLOADS : J1); w++)
    if (!got[w] && s[w].n == 0 && o->only[w])
      snprintf(s[w].status, sizeof s[w].status, code == 2 ? "skipped" : "failed");
  if (code == 2)
    printf("# %s skipped: its library is missing (bash scripts/setup.sh bench installs it)\n",
           peer_names[p]);
  else if (code != 0)
    printf("# %s failed (exit %d): %s\n", peer_names[p], code, cmd);
}

/* The SQL rows' table, after the main one: per query, the medians of the
 * C path and of the SQL path (each: the call and the compute of its
 * answer), SQL / C, parse + plan (EXPLAIN's median) as a percentage of the
 * SQL path's execution (its median less parse + plan), the graphs, and the
 * SQL answer against the C path's. */
static void print_sql_rows(const options *o) {
  bool any = false;
  for (int w = Q1; w < N_WORKLOADS; w++)
    any |= o->sql && o->only[w];
  if (!any)
    return;
  printf("# SQL beside the C API: the queries' SQL (DuckDB's text) through tsr_sql_run on the "
         "loaded frames registered in one session; c_s and sql_s: medians of the call and the "
         "tsr_frame_compute of its answer; plan_pct: EXPLAIN's median (parse, bind, plan) over "
         "sql_s less it; graph: the task graphs each path runs, hashed (their tasks per graph; "
         "'*': that graph differs)\n");
  printf("sql_workload\tc_s\tsql_s\tsql_over_c\tplan_pct\tgraph\tcheck\n");
  for (int w = Q1; w < N_WORKLOADS; w++) {
    if (!o->only[w])
      continue;
    sql_row *row = &sql_rows[w];
    if (row->n == 0) {
      printf("%s\t-\t-\t-\t-\t-\t%s\n", workload_names[w], row->check[0] ? row->check : "not run");
      continue;
    }
    double c = bench_median(row->c, row->n), q = bench_median(row->sql, row->n);
    double plan = bench_median(row->plan, row->n);
    printf("%s\t%.3f\t%.3f\t%.2f\t%.2f\t%s\t%s\n", workload_names[w], c, q, q / c,
           q > plan ? 100 * plan / (q - plan) : 100.0, row->graph[0] ? row->graph : "-",
           row->check[0] ? row->check : "-");
  }
}

/* The directory DuckDB writes its answers to: --keep-answers DIR, or a
 * fresh temporary one (removed at the end). */
static const char *answers_dir(const options *o, char *buf, size_t size) {
  if (o->keep_answers != NULL) {
    if (mkdir(o->keep_answers, 0755) != 0 && errno != EEXIST) {
      fprintf(stderr, "bench_frames: cannot make %s: %s\n", o->keep_answers, strerror(errno));
      exit(1);
    }
    return o->keep_answers;
  }
  const char *tmp = getenv("TMPDIR");
  snprintf(buf, size, "%s/tessera-bench-answers-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (mkdtemp(buf) == NULL) {
    fprintf(stderr, "bench_frames: cannot make %s: %s\n", buf, strerror(errno));
    exit(1);
  }
  return buf;
}

static void answers_remove(const char *dir) {
  char path[4200];
  for (int k = Q1; k < N_WORKLOADS; k++) {
    snprintf(path, sizeof path, "%s/%s.csv", dir, workload_names[k]);
    (void)unlink(path);
  }
  (void)rmdir(dir);
}

int main(int argc, char **argv) {
  options o = {.reps = 5, .threads = 2, .peers = true, .peers_dir = TSR_BENCH_PEERS_DIR,
               .python = "/usr/bin/python3", .node = "node", .sql = true};
  parse_only(&o, "load,filter_assign,h5_write,h5_read,h5_write_z1,h5_read_z1,q1,q2,q3,q4,q5,q6,q7,q8,q9,q10,j1,j2,j3,j4,j5");
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--no-peers") == 0)
      o.peers = false;
    else if (strcmp(a, "--no-sql") == 0)
      o.sql = false;
    else if (i + 1 >= argc)
      usage();
    else if (strcmp(a, "--csv") == 0)
      o.csv = argv[++i];
    else if (strcmp(a, "--join-dir") == 0)
      o.join_dir = argv[++i];
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
    else if (strcmp(a, "--only") == 0)
      parse_only(&o, argv[++i]);
    else if (strcmp(a, "--h5-strings") == 0) {
      const char *v = argv[++i];
      if (strcmp(v, "vlen") != 0 && strcmp(v, "offsets") != 0)
        usage();
      h5_strings = strcmp(v, "vlen") == 0 ? TSR_HDF5_STRINGS_VLEN : TSR_HDF5_STRINGS_OFFSETS;
    } else if (strcmp(a, "--keep-answers") == 0)
      o.keep_answers = argv[++i];
    else if (strcmp(a, "--keep-graphs") == 0) {
      o.keep_graphs = graph_keep_dir = argv[++i];
      if (mkdir(o.keep_graphs, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "bench_frames: cannot make %s: %s\n", o.keep_graphs, strerror(errno));
        return 1;
      }
    }
    else if (strcmp(a, "--skip-peer") == 0) {
      const char *name = argv[++i];
      int p = 0;
      while (p < N_PEERS && strcmp(peer_names[p], name) != 0)
        p++;
      if (p == N_PEERS)
        usage();
      o.skip[p] = true;
    }
    else
      usage();
  }
  tsr_ctx *ctx = NULL;
  CHECK(tsr_ctx_create(&ctx));
  CHECK(tsr_ctx_set_threads(ctx, o.threads));
  char path[4096], jpath[4096];
  const char *csv = o.any_g1 ? g1_path(ctx, &o, path, sizeof path) : NULL;
  const char *jdir = o.any_join ? j1_dir(ctx, &o, jpath, sizeof jpath) : NULL;
  struct stat st = {0};
  if (csv != NULL && stat(csv, &st) != 0) {
    fprintf(stderr, "bench_frames: %s: %s\n", csv, strerror(errno));
    return 1;
  }
  bool any_query = false;
  for (int k = Q1; k < N_WORKLOADS; k++)
    any_query |= o.only[k];
  char abuf[4096];
  const char *answers = o.peers && any_query ? answers_dir(&o, abuf, sizeof abuf) : NULL;
  double stream = bench_stream_triad(20u << 20, o.threads, 10);
  printf("# STREAM triad: %.1f GB/s with %d threads\n", stream / 1e9, o.threads);
  if (csv != NULL)
    printf("# file: %s (%lld bytes), %d turns, %d threads, workloads %s\n", csv,
           (long long)st.st_size, o.reps, o.threads, o.only_list);
  if (jdir != NULL)
    printf("# join tables: %s/%s and the other three, %d turns, %d threads, workloads %s\n", jdir,
           j1_file(jdir, TBL_X), o.reps, o.threads, o.only_join);
  series mine[N_WORKLOADS];
  series peers[N_PEERS][N_WORKLOADS];
  memset(mine, 0, sizeof mine);
  memset(peers, 0, sizeof peers);
  for (int p = 0; p < N_PEERS; p++)
    for (int w = 0; w < N_WORKLOADS && (!o.peers || o.skip[p]); w++)
      snprintf(peers[p][w].status, sizeof peers[p][w].status, "skipped");
  char verdict[N_WORKLOADS][256];
  for (int w = 0; w < N_WORKLOADS; w++)
    snprintf(verdict[w], sizeof verdict[w], o.peers ? "no duckdb answer" : "-");
  double bytes = 0;
  for (int turn = 0; turn < o.reps; turn++) {
    double t[N_WORKLOADS];
    /* DuckDB writes its answers in the first turn; tessera compares in the
     * last (with one turn: DuckDB's turn comes first). */
    bool last = turn == o.reps - 1;
    memset(t, 0, sizeof t);
    if (o.reps == 1)
      for (int p = 0; p < N_PEERS && o.peers; p++) {
        if (csv != NULL)
          peer_turn(&o, p, csv, false, p == DUCKDB ? answers : NULL, peers[p]);
        if (jdir != NULL)
          peer_turn(&o, p, jdir, true, p == DUCKDB ? answers : NULL, peers[p]);
      }
    if (csv != NULL)
      tessera_turn(ctx, &o, csv, t, mine[0].checks, &bytes, last, turn % 2 == 1,
                   last ? answers : NULL, verdict);
    if (jdir != NULL)
      tessera_join_turn(ctx, &o, jdir, t, mine[0].checks, last, turn % 2 == 1,
                        last ? answers : NULL, verdict);
    for (int w = 0; w < N_WORKLOADS; w++)
      if (o.only[w] || (w == LOAD && csv != NULL))
        mine[w].t[mine[w].n++] = t[w];
    for (int p = 0; p < N_PEERS && o.peers && o.reps > 1; p++) {
      if (csv != NULL)
        peer_turn(&o, p, csv, false, p == DUCKDB && turn == 0 ? answers : NULL, peers[p]);
      if (jdir != NULL)
        peer_turn(&o, p, jdir, true, p == DUCKDB && turn == 0 ? answers : NULL, peers[p]);
    }
    fprintf(stderr, "# turn %d of %d done (tessera: load %.3f s)\n", turn + 1, o.reps, t[LOAD]);
  }
  /* The HDF5 rows: the load's rows and v3 sum, read back. */
  for (int w = H5_WRITE; w <= H5_READ_Z; w++)
    if (o.only[w])
      snprintf(verdict[w], sizeof verdict[w],
               mine[0].checks[w].rows == mine[0].checks[LOAD].rows &&
                       fabs(mine[0].checks[w].sum - mine[0].checks[LOAD].sum) <=
                           1e-12 * fabs(mine[0].checks[LOAD].sum) /* other chunks: rounding */
                   ? "ok (= load)"
                   : "differs from load");
  /* F0's checks: rows and sums against DuckDB's. */
  for (int w = LOAD; w <= FILTER_ASSIGN; w++) {
    if (peers[DUCKDB][w].n == 0)
      continue;
    check a = mine[0].checks[w], b = peers[DUCKDB][w].checks[w];
    if (a.rows != b.rows)
      snprintf(verdict[w], sizeof verdict[w], "rows %lld, duckdb %lld", a.rows, b.rows);
    else if (!(fabs(a.sum - b.sum) <= 1e-9 * fabs(b.sum)))
      snprintf(verdict[w], sizeof verdict[w], "sum %.17g, duckdb %.17g", a.sum, b.sum);
    else
      snprintf(verdict[w], sizeof verdict[w], "ok");
  }
  for (int w = 0; w < N_WORKLOADS; w++) {
    if (!o.only[w])
      continue;
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
  printf("\tMB_s_per_core\tfrac_stream\tcheck\n");
  double log_sum[N_PEERS] = {0}, join_log_sum[N_PEERS] = {0}, fastest_log_sum = 0;
  int n_ratio[N_PEERS] = {0}, n_join[N_PEERS] = {0}, n_fastest = 0;
  for (int w = 0; w < N_WORKLOADS; w++) {
    if (!o.only[w])
      continue;
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
    double fastest = 0;
    for (int p = 0; p < N_PEERS; p++)
      if (peers[p][w].n > 0) {
        printf("\t%.2f", med[p] / me);
        if (w >= Q1 && w < J1) {
          log_sum[p] += log(med[p] / me);
          n_ratio[p]++;
        } else if (w >= J1) {
          join_log_sum[p] += log(med[p] / me);
          n_join[p]++;
          fastest = fastest == 0 || med[p] < fastest ? med[p] : fastest;
        }
      } else {
        printf("\t-");
      }
    if (fastest > 0) {
      fastest_log_sum += log(fastest / me);
      n_fastest++;
    }
    if (w == LOAD)
      printf("\t%.0f\t-", (double)st.st_size / 1e6 / me / o.threads);
    else if (w >= H5_WRITE && w <= H5_READ_Z)
      printf("\t%.0f\t-", (double)h5_file_bytes[w >= H5_WRITE_Z] / 1e6 / me / o.threads);
    else if (w == FILTER_ASSIGN)
      printf("\t-\t%.2f", bytes / me / stream);
    else
      printf("\t-\t-");
    printf("\t%s\n", verdict[w]);
  }
  for (int z = 0; z < 2; z++) {
    int r = z ? H5_READ_Z : H5_READ;
    if (!o.only[r] || plain_reads[z].n == 0)
      continue;
    double plain = bench_median(plain_reads[z].t, plain_reads[z].n);
    double me = bench_median(mine[r].t, mine[r].n), load = bench_median(mine[LOAD].t, mine[LOAD].n);
    printf("# %s, strings %s: file %lld bytes; plain read of it right after the write (page cache) %.3f s "
           "(%.0f MB/s); %s reads at %.0f%% of that speed; the CSV load takes %.2fx as long\n",
           z ? "deflate 1 + shuffle" : "uncompressed",
           h5_strings == TSR_HDF5_STRINGS_VLEN ? "variable-length" : "offsets", h5_file_bytes[z], plain,
           (double)h5_file_bytes[z] / 1e6 / plain, workload_names[r], 100 * plain / me, load / me);
  }
  if (o.only[H5_WRITE] || o.only[H5_READ] || o.only[H5_WRITE_Z] || o.only[H5_READ_Z])
    printf("# pandas to_hdf/read_hdf: not run (they need PyTables)\n");
  fflush(stdout);
  for (int p = 0; p < N_PEERS; p++)
    if (n_ratio[p] > 0)
      printf("# F1 geometric mean of %s / tessera over %d queries: %.2f\n", peer_names[p],
             n_ratio[p], exp(log_sum[p] / n_ratio[p]));
  for (int p = 0; p < N_PEERS; p++)
    if (n_join[p] > 0)
      printf("# F2 geometric mean of %s / tessera over %d joins: %.2f\n", peer_names[p],
             n_join[p], exp(join_log_sum[p] / n_join[p]));
  if (n_fastest > 0)
    printf("# F2 geometric mean of the fastest peer / tessera over %d joins: %.2f\n", n_fastest,
           exp(fastest_log_sum / n_fastest));
  print_sql_rows(&o);
  if (answers != NULL && o.keep_answers == NULL)
    answers_remove(answers);
  tsr_ctx_destroy(&ctx);
  return 0;
}

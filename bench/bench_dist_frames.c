/* bench_dist_frames.c — M2-7 item 8: db-benchmark's q1-q10 (the G1 CSV) and
 * j1-j5 (the J1 CSVs) as SQL (bench/frame_queries.c) on P MPI ranks x T
 * threads against one rank with P*T threads, both measured in the same run,
 * with the bytes the ranks move.  The target is "2 ranks x 1 thread within
 * 10 % of 1 rank x 2 threads": a ratio (one rank's time / the ranks' time)
 * of 0.9 or more.
 *
 *   mpirun -n P --bind-to none bench_dist_frames --csv G1.csv [--join-dir DIR]
 *          [--reps R] [--threads T] [--only q1,j2,...] [--tsv FILE]
 *
 * Every rank loads the tables into memory first (tsr_frame_read_csv +
 * tsr_frame_persist: each rank holds the row chunks it owns, docs/frames.md
 * "Under MPI"); rank 0 loads them again into a context that computes alone
 * (tsr_ctx_set_distributed(false), P*T threads).  Per query, the two take
 * turns, one warm-up then R timed repetitions each:
 *   distributed  every rank runs the SQL (tsr_sql_run) and holds its
 *                answer in memory (tsr_frame_persist: each rank holds the
 *                answer's chunks it made, as an MPI program keeps a
 *                distributed result to write or use in place), timed from
 *                MPI barrier to barrier (the slowest rank's time); then,
 *                untimed there, tsr_frame_compute gathers the whole answer
 *                on every rank for the check (its time: gather_s).  Bytes moved: the frame
 * exchanges' (tsr_ctx_exchange_stats: shuffles, broadcasts, gathers) and the task graphs' chunk
 * messages (tsr_run_stats, every run through the context's run observer), summed over ranks; one
 * rank     the same on rank 0's second context while the others sleep (tsr_frame_persist there
 * holds the whole answer). Each answer is hashed (every column's values, validity, strings' bytes,
 * dictionary strings and row-chunk sizes): the distributed answer must be
 * the one-rank answer bit for bit, on every rank.
 *
 * Output (rank 0): '#' lines per query, then a tab-separated table: query,
 * both medians, ratio, bytes exchanged and bytes in chunk messages (all
 * ranks), the fraction of the STREAM triad bandwidth (P*T threads on rank
 * 0) for the bytes of the columns the query names, and whether the answers
 * are identical.  The exit status is 1 when any answer differs. */
#define _GNU_SOURCE
#include <ctype.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tessera/tessera.h>

#include "bench_common.h"
#include "bench_mpi.h"
#include "frame_queries.h"

enum { NQ = 15 }; /* q1-q10, j1-j5 */

static const char *query_name(int q, char *buf) {
  sprintf(buf, q < 10 ? "q%d" : "j%d", q < 10 ? q + 1 : q - 9);
  return buf;
}
static const char *query_text(int q) { return q < 10 ? query_sql[q] : join_sql[q - 10]; }

typedef struct options {
  const char *csv, *join_dir, *tsv;
  int reps, threads;
  bool run[NQ];
} options;

/* ---- the tables ---------------------------------------------------------------- */

typedef struct tables {
  tsr_frame *f[1 + N_TABLES]; /* G1's x, then J1's x, small, medium, big */
  tsr_sql_session *g1, *j1;
} tables;

static tsr_frame *load(tsr_ctx *ctx, const char *path) {
  tsr_frame *raw = NULL, *held = NULL;
  CHECK(tsr_frame_read_csv(ctx, path, NULL, &raw));
  CHECK(tsr_frame_persist(raw, NULL, &held));
  tsr_frame_destroy(&raw);
  return held;
}

static void load_tables(tsr_ctx *ctx, const options *o, tables *t) {
  memset(t, 0, sizeof *t);
  bool g1 = false, j1 = false;
  for (int q = 0; q < NQ; q++) {
    g1 = g1 || (q < 10 && o->run[q]);
    j1 = j1 || (q >= 10 && o->run[q]);
  }
  if (g1) {
    t->f[0] = load(ctx, o->csv);
    CHECK(tsr_sql_session_create(ctx, &t->g1));
    CHECK(tsr_sql_register(t->g1, "x", t->f[0]));
  }
  if (j1) {
    CHECK(tsr_sql_session_create(ctx, &t->j1));
    for (int k = 0; k < N_TABLES; k++) {
      char path[4200];
      snprintf(path, sizeof path, "%s/%s", o->join_dir, j1_file(o->join_dir, k));
      t->f[1 + k] = load(ctx, path);
      CHECK(tsr_sql_register(t->j1, j1_names[k], t->f[1 + k]));
    }
  }
}

static void free_tables(tables *t) {
  tsr_sql_session_destroy(&t->g1);
  tsr_sql_session_destroy(&t->j1);
  for (int k = 0; k <= N_TABLES; k++)
    tsr_frame_destroy(&t->f[k]);
}

/* Bytes of the columns of the query's tables that its text names (a
 * table's `.*` names them all): what it must read at least. */
static double named_bytes(const tables *t, int q) {
  const char *sql = query_text(q);
  double bytes = 0;
  for (int k = q < 10 ? 0 : 1; k <= (q < 10 ? 0 : N_TABLES); k++) {
    tsr_frame *f = t->f[k];
    int64_t rows = 0;
    CHECK(tsr_frame_nrows(f, &rows));
    char star[64];
    snprintf(star, sizeof star, "%s.*", k == 0 ? "x" : j1_names[k - 1]);
    bool all = strstr(sql, star) != NULL;
    if (k > 1 && strstr(sql, j1_names[k - 1]) == NULL)
      continue; /* a J1 table the query does not join */
    for (int c = 0; c < tsr_frame_ncols(f); c++) {
      const char *name = tsr_frame_col_name(f, c);
      size_t n = strlen(name);
      bool named = all;
      for (const char *p = strstr(sql, name); p != NULL && !named; p = strstr(p + 1, name))
        named = (p == sql || !isalnum((unsigned char)p[-1])) && !isalnum((unsigned char)p[n]) &&
                p[n] != '_';
      tsr_type ty = tsr_frame_col_type(f, c);
      if (named)
        bytes += (double)rows * (ty.id == TSR_COL_STRING ? 16.0 : (double)tsr_type_width(ty));
    }
  }
  return bytes;
}

/* ---- one answer ------------------------------------------------------------------ */

/* FNV-1a over 8-byte words (then the tail's bytes): an order-sensitive
 * hash, fast enough for 1e7-row answers. */
static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, b + i, 8);
    h = (h ^ w) * 0x100000001b3ull;
    h ^= h >> 29;
  }
  for (; i < n; i++)
    h = (h ^ b[i]) * 0x100000001b3ull;
  return h;
}

/* The answer, hashed: names, types, chunk sizes, validity, values (strings
 * by their bytes, dictionary codes by their strings). */
static uint64_t answer_hash(const tsr_frame_result *r) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (int c = 0; c < tsr_frame_result_ncols(r); c++) {
    const char *name = tsr_frame_result_col_name(r, c);
    h = fnv(h, name, strlen(name) + 1);
    tsr_type ty = tsr_frame_result_col_type(r, c);
    h = fnv(h, &ty, sizeof ty);
    int64_t dn = 0;
    const int64_t *doff = NULL;
    const char *ddata = NULL;
    if (ty.id == TSR_COL_DICT)
      CHECK(tsr_frame_result_dict(r, c, &dn, &doff, &ddata));
    size_t w = tsr_type_width(ty);
    for (int64_t k = 0; k < tsr_frame_result_nchunks(r); k++) {
      tsr_column_chunk ch;
      CHECK(tsr_frame_result_chunk(r, c, k, &ch));
      h = fnv(h, &ch.rows, sizeof ch.rows);
      if (ch.validity == NULL && ty.id != TSR_COL_STRING && ty.id != TSR_COL_DICT) {
        h = fnv(h, ch.values, (size_t)ch.rows * w); /* all valid: the values at once */
        continue;
      }
      for (int64_t i = 0; i < ch.rows; i++) {
        bool valid = ch.validity == NULL || (ch.validity[i / 8] >> (i % 8)) & 1;
        h = fnv(h, &valid, 1);
        if (!valid)
          continue;
        if (ty.id == TSR_COL_STRING) {
          const tsr_string_view *v = (const tsr_string_view *)ch.values + i;
          h = fnv(h, &v->length, sizeof v->length);
          h = fnv(h, tsr_string_view_data(v, ch.data), v->length);
        } else if (ty.id == TSR_COL_DICT) {
          int32_t code = ((const int32_t *)ch.values)[i];
          h = fnv(h, ddata + doff[code], (size_t)(doff[code + 1] - doff[code]));
          h = fnv(h, "", 1); /* the string's end */
        } else {
          h = fnv(h, (const char *)ch.values + (size_t)i * w, w);
        }
      }
    }
  }
  return h;
}

/* Runs query q in the session and holds its answer in memory
 * (tsr_frame_persist: under MPI each rank holds the chunks it made; the
 * caller destroys it). */
static tsr_frame *run_query(tsr_sql_session *s, int q) {
  tsr_frame *f = NULL, *held = NULL;
  CHECK(tsr_sql_run(s, query_text(q), &f));
  CHECK(tsr_frame_persist(f, NULL, &held));
  tsr_frame_destroy(&f);
  return held;
}

/* Gathers the answer whole on every rank (tsr_frame_compute), hashes it and
 * destroys it; *gather_s: the seconds the gather took (the slowest rank). */
static uint64_t hash_and_free(tsr_frame **f, const world *wd, double *gather_s) {
  tsr_frame_result *r = NULL;
  double t0 = bench_now();
  CHECK(tsr_frame_compute(*f, NULL, &r));
  *gather_s = bench_now() - t0;
  if (wd != NULL && wd->mpi)
    MPI_Allreduce(MPI_IN_PLACE, gather_s, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  uint64_t h = answer_hash(r);
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(f);
  return h;
}

static void add_chunk_bytes(const tsr_run_stats *st, void *user) {
  *(uint64_t *)user += st->bytes_sent;
}

/* ---- one query's row ------------------------------------------------------------- */

typedef struct row {
  double dist_s, alone_s, gather_s, named;
  uint64_t exchanged, chunk_bytes; /* all ranks, one repetition */
  bool same;
} row;

static row measure(tsr_ctx *ctx, const tables *dt, const tables *at, int q, const options *o,
                   const world *wd) {
  row rw = {0};
  double *td = calloc((size_t)o->reps, sizeof *td), *ta = calloc((size_t)o->reps, sizeof *ta);
  double *tg = calloc((size_t)o->reps, sizeof *tg), g = 0, unused;
  uint64_t hd = 0, ha = 0, chunk_bytes = 0;
  tsr_exchange_stats before, after;
  for (int rep = 0; rep <= o->reps; rep++) { /* rep 0 warms up */
    if (rep == o->reps) {                    /* the last one counts the bytes */
      chunk_bytes = 0;
      CHECK(tsr_ctx_set_run_observer(ctx, NULL, add_chunk_bytes, &chunk_bytes));
      CHECK(tsr_ctx_exchange_stats(ctx, &before));
    }
    if (wd->mpi)
      MPI_Barrier(MPI_COMM_WORLD);
    double t0 = bench_now();
    tsr_frame *r = run_query(q < 10 ? dt->g1 : dt->j1, q);
    if (wd->mpi)
      MPI_Barrier(MPI_COMM_WORLD);
    double d = bench_now() - t0;
    if (rep == o->reps) { /* the answer's bytes, not the gather's */
      CHECK(tsr_ctx_exchange_stats(ctx, &after));
      CHECK(tsr_ctx_set_run_observer(ctx, NULL, NULL, NULL));
    }
    hd = hash_and_free(&r, wd, &g);
    if (wd->mpi)
      MPI_Allreduce(MPI_IN_PLACE, &d, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    double a = 0;
    if (wd->rank == 0) {
      t0 = bench_now();
      r = run_query(q < 10 ? at->g1 : at->j1, q);
      a = bench_now() - t0;
      ha = hash_and_free(&r, NULL, &unused);
    }
    bench_idle_barrier(wd);
    if (rep > 0) {
      td[rep - 1] = d;
      ta[rep - 1] = a;
      tg[rep - 1] = g;
    }
  }
  rw.dist_s = bench_median(td, o->reps);
  rw.alone_s = bench_median(ta, o->reps);
  rw.gather_s = bench_median(tg, o->reps);
  free(td);
  free(ta);
  free(tg);
  uint64_t sums[2] = {after.bytes_sent - before.bytes_sent, chunk_bytes};
  uint64_t mine = hd, first = hd;
  int differs = 0;
  if (wd->mpi) {
    MPI_Allreduce(MPI_IN_PLACE, sums, 2, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    MPI_Bcast(&first, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    differs = mine != first;
    MPI_Allreduce(MPI_IN_PLACE, &differs, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  }
  rw.exchanged = sums[0];
  rw.chunk_bytes = sums[1];
  rw.same = !differs && (wd->rank != 0 || hd == ha);
  rw.named = wd->rank == 0 ? named_bytes(at, q) : 0;
  return rw;
}

/* ---- main ------------------------------------------------------------------------- */

static void usage(void) {
  fprintf(stderr, "usage: mpirun -n P --bind-to none bench_dist_frames --csv G1.csv "
                  "[--join-dir DIR] [--reps R] [--threads T] [--only q1,j2,...] [--tsv FILE]\n");
  exit(2);
}

static options parse(int argc, char **argv) {
  options o = {NULL, NULL, NULL, 3, 1, {0}};
  const char *only = NULL;
  for (int i = 1; i < argc; i += 2) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (v == NULL)
      usage();
    if (strcmp(a, "--csv") == 0)
      o.csv = v;
    else if (strcmp(a, "--join-dir") == 0)
      o.join_dir = v;
    else if (strcmp(a, "--reps") == 0)
      o.reps = (int)bench_parse_long(a, v, 1, 1000);
    else if (strcmp(a, "--threads") == 0)
      o.threads = (int)bench_parse_long(a, v, 1, 4096);
    else if (strcmp(a, "--only") == 0)
      only = v;
    else if (strcmp(a, "--tsv") == 0)
      o.tsv = v;
    else
      usage();
  }
  char name[8];
  for (int q = 0; q < NQ; q++) {
    query_name(q, name);
    bool listed = false;
    for (const char *p = only; p != NULL && *p && !listed;
         p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
      size_t n = strcspn(p, ",");
      listed = n == strlen(name) && strncmp(p, name, n) == 0;
    }
    o.run[q] = (only == NULL || listed) && (q < 10 ? o.csv != NULL : o.join_dir != NULL);
  }
  if (o.csv == NULL && o.join_dir == NULL)
    usage();
  return o;
}

int main(int argc, char **argv) {
  options o = parse(argc, argv);
  bench_die_hook = bench_abort_mpi;
  tsr_ctx *ctx = NULL, *alone = NULL;
  CHECK(tsr_ctx_create(&ctx));
  CHECK(tsr_ctx_set_threads(ctx, o.threads));
  world wd = {false, tsr_ctx_rank(ctx), tsr_ctx_nranks(ctx)};
  int initialised = 0;
  MPI_Initialized(&initialised);
  wd.mpi = initialised != 0;
  int P = wd.P, T = o.threads, PT = P * T;
  double stream = 0;
  tables dt, at;
  memset(&at, 0, sizeof at);
  if (wd.rank == 0) {
    CHECK(tsr_ctx_create(&alone));
    CHECK(tsr_ctx_set_distributed(alone, false));
    CHECK(tsr_ctx_set_threads(alone, PT));
    stream = bench_stream_triad(20u << 20, PT, 10);
    printf("# bench_dist_frames (M2-7): %d rank(s) x %d thread(s) against 1 rank x %d thread(s), "
           "medians of %d runs after 1 warm-up; STREAM triad (rank 0, %d threads): %.1f GB/s\n",
           P, T, PT, o.reps, PT, stream / 1e9);
    fflush(stdout);
  }
  /* The other ranks sleep while rank 0 measures STREAM: spinning in the
   * load's first collective they took a core from it (31 GB/s, not 42-60). */
  bench_idle_barrier(&wd);
  double t0 = bench_now();
  load_tables(ctx, &o, &dt);
  if (wd.rank == 0) {
    printf("# loaded on %d rank(s) in %.2f s\n", P, bench_now() - t0);
    fflush(stdout);
    load_tables(alone, &o, &at);
  }
  bench_idle_barrier(&wd);
  row rows[NQ];
  memset(rows, 0, sizeof rows);
  char name[8];
  for (int q = 0; q < NQ; q++) {
    if (!o.run[q])
      continue;
    rows[q] = measure(ctx, &dt, &at, q, &o, &wd);
    if (wd.rank == 0) {
      printf("# %s %dx%d %.4f s, 1x%d %.4f s, exchanged %.1f MB, chunk messages %.1f MB, %s\n",
             query_name(q, name), P, T, rows[q].dist_s, PT, rows[q].alone_s,
             (double)rows[q].exchanged / 1e6, (double)rows[q].chunk_bytes / 1e6,
             rows[q].same ? "identical" : "DIFFERENT");
      fflush(stdout);
    }
  }
  bool all_same = true;
  if (wd.rank == 0) {
    FILE *tsv = o.tsv ? fopen(o.tsv, "w") : NULL;
    if (o.tsv != NULL && tsv == NULL)
      fprintf(stderr, "warning: cannot write %s; the table is printed only\n", o.tsv);
    printf("query\tdist_%dx%d_s\talone_1x%d_s\tratio\texchanged_MB\tchunk_msgs_MB\tnamed_MB"
           "\tdist_frac_stream\talone_frac_stream\tgather_s\tresults\n",
           P, T, PT);
    if (tsv != NULL)
      fprintf(tsv, "query\tranks\tthreads\tdist_s\talone_s\tratio\texchanged_bytes"
                   "\tchunk_msg_bytes\tnamed_bytes\tstream_GBs\tgather_s\tresults\n");
    char met[128] = "", missed[128] = "";
    for (int q = 0; q < NQ; q++) {
      if (!o.run[q])
        continue;
      const row *rw = &rows[q];
      all_same = all_same && rw->same;
      double ratio = rw->alone_s / rw->dist_s;
      query_name(q, name);
      printf("%s\t%.4f\t%.4f\t%.2f\t%.1f\t%.1f\t%.1f\t%.2f\t%.2f\t%.4f\t%s\n", name, rw->dist_s,
             rw->alone_s, ratio, (double)rw->exchanged / 1e6, (double)rw->chunk_bytes / 1e6,
             rw->named / 1e6, rw->named / rw->dist_s / stream, rw->named / rw->alone_s / stream,
             rw->gather_s, rw->same ? "identical" : "DIFFERENT");
      if (tsv != NULL)
        fprintf(tsv, "%s\t%d\t%d\t%.6f\t%.6f\t%.4f\t%llu\t%llu\t%.0f\t%.2f\t%.6f\t%s\n", name, P, T,
                rw->dist_s, rw->alone_s, ratio, (unsigned long long)rw->exchanged,
                (unsigned long long)rw->chunk_bytes, rw->named, stream / 1e9, rw->gather_s,
                rw->same ? "identical" : "DIFFERENT");
      char *list = ratio >= 0.9 ? met : missed;
      if (strlen(list) + 8 < sizeof met) {
        strcat(list, list[0] ? ", " : "");
        strcat(list, name);
      }
    }
    printf("# target %dx%d within 10%% of 1x%d (ratio >= 0.90): met by %s; missed by %s\n", P, T,
           PT, met[0] ? met : "none", missed[0] ? missed : "none");
    if (tsv != NULL && fclose(tsv) != 0)
      fprintf(stderr, "warning: writing %s failed\n", o.tsv);
    fflush(stdout);
  }
  int failed = !all_same;
  if (wd.mpi)
    MPI_Bcast(&failed, 1, MPI_INT, 0, MPI_COMM_WORLD);
  free_tables(&dt);
  free_tables(&at);
  tsr_ctx_destroy(&alone);
  tsr_ctx_destroy(&ctx);
  return failed ? 1 : 0;
}

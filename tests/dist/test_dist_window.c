/* test_dist_window.c — window functions (rank, row_number, lag, lead,
 * cumsum, rolling mean), value_counts, nlargest / nsmallest and
 * describe_strings across MPI ranks, and a SQL window query on a
 * distributed context (src/frame/window.c, value_counts.c, nlargest.c,
 * describe.c), run by ctest under mpiexec with 2 and 3 ranks.
 *
 * Every rank builds the same random frame (every column type, nulls, NaN,
 * -0.0, ties, long strings, a dictionary; ragged chunks) on the distributed
 * context and on a context that computes alone (one rank's reference).  The
 * distributed result must be the reference on every rank: the same rows in
 * the same order, bitwise, the same row chunks and the same dictionaries;
 * a call the reference refuses is refused alike.  Every rank must send
 * bytes when every rank owns rows.  Plus inputs with fewer rows and chunks
 * than ranks, skew, and a failure on the last rank that every rank
 * reports. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include <tessera/mpi.h>
#include <tessera/sql.h>

#include "dist/dist_harness.h"
#include "frame/sort_ref.h"

/* Bytes this rank sent in chunk messages (the run observer's statistics). */
static uint64_t msg_bytes;
static void count_bytes(const tsr_run_stats *stats, void *user) {
  (void)user;
  msg_bytes += stats->bytes_sent;
}

/* Bytes this rank sent so far: exchanges and chunk messages (the observer
 * is installed on first use and stays until the context goes). */
static uint64_t sent_now(void) {
  static bool observing;
  if (!observing) {
    assert_ok(tsr_ctx_set_run_observer(dist_ctx, NULL, count_bytes, NULL));
    observing = true;
  }
  tsr_exchange_stats x;
  assert_ok(tsr_ctx_exchange_stats(dist_ctx, &x));
  return x.bytes_sent + msg_bytes;
}

/* got (distributed) is want (alone): rows, order and values bitwise (the
 * naive reader), the same row chunks, and the same dictionaries. */
static void assert_same(tsr_frame *want, tsr_frame *got) {
  tsr_frame_result *ra = NULL, *rb = NULL;
  assert_ok(tsr_frame_compute(want, NULL, &ra));
  assert_ok(tsr_frame_compute(got, NULL, &rb));
  ref_frame a, b;
  ref_frame_read(ra, &a);
  ref_frame_read(rb, &b);
  ref_frame_assert_equal(&a, &b);
  ref_frame_free(&a);
  ref_frame_free(&b);
  int64_t n = tsr_frame_result_nchunks(ra);
  assert_int_equal(tsr_frame_result_nchunks(rb), n);
  for (int i = 0; i < tsr_frame_result_ncols(ra); i++) {
    for (int64_t c = 0; c < n; c++) {
      tsr_column_chunk x, y;
      assert_ok(tsr_frame_result_chunk(ra, i, c, &x));
      assert_ok(tsr_frame_result_chunk(rb, i, c, &y));
      assert_int_equal(x.rows, y.rows);
      assert_int_equal(x.null_count, y.null_count);
    }
    if (tsr_frame_result_col_type(ra, i).id != TSR_COL_DICT)
      continue;
    int64_t sa, sb;
    const int64_t *oa, *ob;
    const char *da, *db;
    assert_ok(tsr_frame_result_dict(ra, i, &sa, &oa, &da));
    assert_ok(tsr_frame_result_dict(rb, i, &sb, &ob, &db));
    assert_int_equal(sa, sb);
    assert_memory_equal(oa, ob, (size_t)(sa + 1) * sizeof *oa);
    assert_memory_equal(da, db, (size_t)oa[sa]);
  }
  tsr_frame_result_destroy(&ra);
  tsr_frame_result_destroy(&rb);
}

enum { OP_WINDOW, OP_VALUE_COUNTS, OP_NLARGEST, OP_NSMALLEST, OP_DESCRIBE_STRINGS };

/* One call of the operation: spec for windows, cols / n / keep for the others. */
typedef struct call {
  int op;
  tsr_window spec;
  int ncols;
  const char *const *cols;
  int64_t n;
  bool keep_nulls;
} call;

static tsr_status run(const call *k, tsr_frame *f, tsr_frame **out) {
  switch (k->op) {
  case OP_WINDOW:
    return tsr_frame_window(f, "w", &k->spec, out);
  case OP_VALUE_COUNTS:
    return tsr_frame_value_counts(f, k->ncols, k->cols, k->keep_nulls, out);
  case OP_NLARGEST:
    return tsr_frame_nlargest(f, k->n, k->ncols, k->cols, out);
  case OP_NSMALLEST:
    return tsr_frame_nsmallest(f, k->n, k->ncols, k->cols, out);
  default:
    return tsr_frame_describe_strings(f, out);
  }
}

/* The call on ref cut into about `chunks` chunks, distributed against
 * alone.  `sends`: every rank owns rows, so every rank must send bytes. */
static void check(const ref_frame *ref, int chunks, uint64_t seed, const call *k, bool sends) {
  tsr_frame *fd = NULL, *fl = NULL, *rd = NULL, *rl = NULL;
  assert_ok(ref_frame_to_frame(dist_ctx, ref, chunks, seed, &fd));
  assert_ok(ref_frame_to_frame(local_ctx, ref, chunks, seed, &fl));
  uint64_t before = sent_now();
  tsr_status sd = run(k, fd, &rd);
  uint64_t after = sent_now();
  tsr_status sl = run(k, fl, &rl);
  assert_int_equal(sd, sl);
  int both[2] = {(int)sd, -(int)sd}, out[2];
  MPI_Allreduce(both, out, 2, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  assert_int_equal(out[0], (int)sd);
  assert_int_equal(-out[1], (int)sd);
  if (sd == TSR_OK) {
    if (nranks > 1 && sends)
      assert_true(after > before);
    assert_same(rl, rd);
  } else {
    assert_null(rd);
  }
  tsr_frame_destroy(&rd);
  tsr_frame_destroy(&rl);
  tsr_frame_destroy(&fd);
  tsr_frame_destroy(&fl);
}

static call window(tsr_window_func func, const char *column, int64_t n, const char *dflt, int npart,
                   const char *const *part, int norder, const tsr_sort_key *order) {
  call k = {.op = OP_WINDOW};
  k.spec = (tsr_window){.func = func,
                        .column = column,
                        .n = n,
                        .default_value = dflt,
                        .npartition = npart,
                        .partition_by = part,
                        .norder = norder,
                        .order_by = order};
  return k;
}

/* Every window function, partitioned by a dictionary, a string with nulls,
 * a small integer with nulls and ties, or nothing; ordered by floats with
 * NaN and -0.0, dates, several keys or nothing. */
static void test_dist_window__every_kind(void **state) {
  (void)state;
  ref_frame ref;
  sr_frame_random(&ref, 600, 10, 41);
  const char *p_dict[1] = {"c12"}, *p_str[1] = {"c11"}, *p_int[2] = {"c1", "c0"};
  tsr_sort_key o_float[2] = {{"c10", true, true}, {"c3", false, false}};
  tsr_sort_key o_f32[1] = {{"c9", false, false}};
  tsr_sort_key o_date[1] = {{"c13", true, false}};
  tsr_sort_key o_int[1] = {{"c4", false, true}};
  const call calls[] = {
      window(TSR_WIN_ROW_NUMBER, NULL, 0, NULL, 1, p_dict, 2, o_float),
      window(TSR_WIN_RANK, NULL, 0, NULL, 1, p_str, 1, o_f32),
      window(TSR_WIN_DENSE_RANK, NULL, 0, NULL, 2, p_int, 1, o_date),
      window(TSR_WIN_LAG, "c10", 0, NULL, 0, NULL, 2, o_float),
      window(TSR_WIN_LEAD, "c12", 2, NULL, 1, p_str, 1, o_int),
      window(TSR_WIN_LAG, "c13", 3, "2024-01-31", 2, p_int, 1, o_f32),
      window(TSR_WIN_CUMSUM, "c3", 0, NULL, 1, p_dict, 1, o_int),
      window(TSR_WIN_CUMSUM, "c9", 0, NULL, 1, p_str, 2, o_float),
      window(TSR_WIN_CUMSUM, "c8", 0, NULL, 1, p_dict, 1, o_int), /* uint64: overflow */
      window(TSR_WIN_ROLLING_MEAN, "c10", 3, NULL, 1, p_dict, 1, o_date),
  };
  for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
    check(&ref, 24, 100 + i, &calls[i], true);
  ref_frame_free(&ref); /* tsr_frame_rank: tests/dist/test_dist_frame_ops.c */
}

/* value_counts over dictionaries, strings, floats with NaN and -0.0,
 * several columns, nulls dropped or kept; one value holding half the rows. */
static void test_dist_window__value_counts(void **state) {
  (void)state;
  ref_frame ref;
  sr_frame_random(&ref, 700, 15, 42);
  const char *c_dict[1] = {"c12"}, *c_str[1] = {"c11"}, *c_float[1] = {"c10"};
  const char *c_two[2] = {"c1", "c12"}, *c_date[2] = {"c13", "c0"};
  const char *const *sets[5] = {c_dict, c_str, c_float, c_two, c_date};
  const int ns[5] = {1, 1, 1, 2, 2};
  for (int s = 0; s < 5; s += 2) {
    call k = {.op = OP_VALUE_COUNTS, .ncols = ns[s], .cols = sets[s], .keep_nulls = s == 2};
    check(&ref, 24, 200 + (uint64_t)s, &k, true);
  }
  ref_col *c = &ref.cols[4]; /* int64: half the rows hold 42 */
  for (int64_t r = 0; r < ref.n; r += 2) {
    int64_t v = 42;
    memcpy(c->values + r * 8, &v, 8);
    c->valid[r] = 1;
  }
  const char *c_skew[1] = {"c4"};
  call k = {.op = OP_VALUE_COUNTS, .ncols = 1, .cols = c_skew};
  check(&ref, 24, 210, &k, true);
  ref_frame_free(&ref);
}

/* nlargest and nsmallest: n of 0, some, all and more, on keys with
 * ties (tied rows in input order), NaN, strings and several keys. */
static void test_dist_window__nlargest(void **state) {
  (void)state;
  ref_frame ref;
  sr_frame_random(&ref, 600, 10, 43);
  const char *k_float[1] = {"c10"}, *k_two[2] = {"c12", "c3"}, *k_str[1] = {"c11"};
  const char *const *sets[3] = {k_float, k_two, k_str};
  const int ns[3] = {1, 2, 1};
  const int64_t n[4] = {37, 0, 600, 5000};
  for (int i = 0; i < 4; i++) {
    call k = {.op = i % 2 ? OP_NSMALLEST : OP_NLARGEST,
              .ncols = ns[i % 3],
              .cols = sets[i % 3],
              .n = n[i]};
    check(&ref, 24, 300 + (uint64_t)i, &k, n[i] > 0);
  }
  ref_frame_free(&ref);
}

/* describe_strings: count, unique, the most frequent value and its count
 * of the string and dictionary columns. */
static void test_dist_window__describe_strings(void **state) {
  (void)state;
  ref_frame ref;
  sr_frame_random(&ref, 800, 10, 44);
  call k = {.op = OP_DESCRIBE_STRINGS};
  check(&ref, 24, 400, &k, true);
  ref_frame_free(&ref);
}

/* No rows, and fewer rows and chunks than ranks (ranks owning nothing). */
static void test_dist_window__small(void **state) {
  (void)state;
  const char *part[1] = {"c12"}, *cols[2] = {"c12", "c4"};
  tsr_sort_key order[1] = {{"c4", true, false}};
  const call calls[] = {
      window(TSR_WIN_ROW_NUMBER, NULL, 0, NULL, 1, part, 1, order),
      window(TSR_WIN_CUMSUM, "c10", 0, NULL, 1, part, 1, order),
      {.op = OP_VALUE_COUNTS, .ncols = 2, .cols = cols, .keep_nulls = true},
      {.op = OP_NLARGEST, .ncols = 2, .cols = cols, .n = 2},
  };
  for (int64_t n = 0; n <= 2; n += 2) {
    ref_frame ref;
    sr_frame_random(&ref, n, 20, 45 + (uint64_t)n);
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
      check(&ref, 1, 500 + i, &calls[i], false);
    ref_frame_free(&ref);
  }
}

/* A SQL query with window functions on the distributed context: the alone
 * context's answer on every rank. */
static void test_dist_window__sql(void **state) {
  (void)state;
  ref_frame ref;
  sr_frame_random(&ref, 500, 10, 46);
  static const char sql[] =
      "SELECT c4, c11, c12, "
      "row_number() OVER (PARTITION BY c12 ORDER BY c10 DESC, c3) AS rn, "
      "rank() OVER (PARTITION BY c11 ORDER BY c3) AS rk, "
      "sum(c3) OVER (PARTITION BY c12 ORDER BY c4) AS cs, "
      "lag(c10, 2) OVER (ORDER BY c4) AS lg, "
      "avg(c10) OVER (PARTITION BY c12 ORDER BY c4 ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) "
      "AS rm FROM t ORDER BY c12, rn";
  tsr_frame *res[2] = {NULL, NULL};
  tsr_ctx *ctxs[2] = {dist_ctx, local_ctx};
  for (int i = 0; i < 2; i++) {
    tsr_sql_session *ses = NULL;
    tsr_frame *f = NULL;
    assert_ok(ref_frame_to_frame(ctxs[i], &ref, 48, 47, &f));
    assert_ok(tsr_sql_session_create(ctxs[i], &ses));
    assert_ok(tsr_sql_register(ses, "t", f));
    tsr_frame_destroy(&f);
    uint64_t before = sent_now();
    tsr_status st = tsr_sql_run(ses, sql, &res[i]);
    if (st != TSR_OK)
      print_error("rank %d: %s\n", rank, tsr_last_error());
    assert_ok(st);
    if (i == 0 && nranks > 1)
      assert_true(sent_now() > before);
    tsr_sql_session_destroy(&ses);
  }
  assert_int_equal(tsr_frame_ncols(res[0]), 8);
  assert_same(res[1], res[0]);
  tsr_frame_destroy(&res[0]);
  tsr_frame_destroy(&res[1]);
  ref_frame_free(&ref);
}

/* A memory limit on the last rank only: every rank returns its error, no
 * rank hangs, and the next call works again. */
static void test_dist_window__failure_agreed(void **state) {
  (void)state;
  ref_frame ref;
  sr_frame_random(&ref, 3000, 10, 48);
  tsr_frame *fd = NULL, *rd = NULL;
  assert_ok(ref_frame_to_frame(dist_ctx, &ref, 64, 49, &fd));
  const char *part[1] = {"c12"}, *cols[1] = {"c11"};
  tsr_sort_key order[1] = {{"c10", false, false}};
  const call calls[] = {
      window(TSR_WIN_ROW_NUMBER, NULL, 0, NULL, 1, part, 1, order),
      {.op = OP_VALUE_COUNTS, .ncols = 1, .cols = cols},
      {.op = OP_NLARGEST, .ncols = 1, .cols = cols, .n = 2000},
      {.op = OP_DESCRIBE_STRINGS},
  };
  for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
    /* Limits just above what is held; for the window further too: some
     * failures fall in the collective steps, others in its local step. */
    for (uint64_t extra = 4096; extra <= (i == 0 ? 4096 * 512 : 4096); extra *= 512) {
      tsr_memory_stats m;
      assert_ok(tsr_ctx_memory_stats(dist_ctx, &m));
      if (rank == nranks - 1)
        assert_ok(tsr_ctx_set_memory_limit(dist_ctx, m.current_bytes + extra));
      tsr_status st = run(&calls[i], fd, &rd);
      assert_ok(tsr_ctx_set_memory_limit(dist_ctx, 0));
      int both[2] = {(int)st, -(int)st}, out[2];
      MPI_Allreduce(both, out, 2, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
      assert_int_equal(out[0], (int)st);
      assert_int_equal(-out[1], (int)st);
      if (st != TSR_OK) {
        assert_null(rd);
        if (nranks > 1)
          assert_non_null(strstr(tsr_last_error(), "rank"));
      }
      tsr_frame_destroy(&rd);
    }
  }
  assert_ok(run(&calls[0], fd, &rd));
  tsr_frame_destroy(&rd);
  tsr_frame_destroy(&fd);
  ref_frame_free(&ref);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dist_window__every_kind),
      cmocka_unit_test(test_dist_window__value_counts),
      cmocka_unit_test(test_dist_window__nlargest),
      cmocka_unit_test(test_dist_window__describe_strings),
      cmocka_unit_test(test_dist_window__small),
      cmocka_unit_test(test_dist_window__sql),
      cmocka_unit_test(test_dist_window__failure_agreed),
  };
  return DIST_HARNESS_RUN("test_dist_window", tests);
}

/* test_dist_join.c — tsr_frame_join and tsr_frame_join_asof across MPI ranks
 * (run by ctest under mpiexec with 1, 2 and 3 ranks, 1 or 2 threads each).
 *
 * Every rank builds the same random frames (ragged row chunks, nulls,
 * duplicate keys, keys on one side only, long strings) on the distributed
 * context and on a context that computes alone (the reference).  The join
 * on the distributed context must give, on every rank, the reference's
 * result bitwise: the same chunks with the same rows, values, validity,
 * string bytes and dictionaries.  Covered: every join kind; integer, float
 * (with -0.0 and NaN), bool, date, timestamp, string and dictionary keys
 * (the two sides with different dictionaries), several keys; empty sides;
 * fewer left chunks than ranks (a rank owning nothing); one key holding
 * half the rows; block-cyclic chunk owners; as-of joins with and without
 * by keys.  With several ranks
 * every rank must send bytes when it owns left chunks, and a memory limit
 * on the last rank alone must make every rank return the same error.
 * The shuffle join (the broadcast limit 0) runs the same comparisons, sends
 * at most 1.1 x the least it must, moves fewer bytes than the broadcast for
 * equal sides on 3 ranks (where the default picks it), and fails on every
 * rank with the error of the last rank's memory limit wherever it is hit.
 * A broadcast join of a held right side sends only the columns it reads. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include <tessera/dist.h>
#include <tessera/mpi.h>

#include "dist/dist.h" /* tsr__dist_chunk_owner */
#include "dist/dist_harness.h"
#include "frame/frame_util.h"
#include "frame/join_impl.h" /* tsr__join_last: the strategy and bytes of the last join */

static const tsr_join_kind kinds[6] = {TSR_JOIN_INNER, TSR_JOIN_LEFT, TSR_JOIN_RIGHT,
                                       TSR_JOIN_FULL,  TSR_JOIN_SEMI, TSR_JOIN_ANTI};

/* ---- frames ----------------------------------------------------------------------------- */

/* A side: nk key columns k0.. of the given types with values from
 * [lo, lo + card) (strings and dictionaries "k<v>", every third with a long
 * tail; floats with -0.0 and NaN), then an int64 column `vname` and a
 * string column s (random, some long); 10 % nulls.  skew: half the rows
 * take the value lo on every key. */
static void make_ref(int nk, const tsr_type *types, int lo, int card, int64_t n, const char *vname,
                     bool skew, uint64_t seed, ref_frame *ref) {
  tsr_type all[8];
  for (int i = 0; i < nk; i++)
    all[i] = types[i];
  all[nk] = (tsr_type){TSR_COL_INT64, 0};
  all[nk + 1] = (tsr_type){TSR_COL_STRING, 0};
  ref_frame_random(ref, nk + 2, all, n, 10, seed);
  snprintf(ref->cols[nk].name, sizeof ref->cols[nk].name, "%s", vname);
  snprintf(ref->cols[nk + 1].name, sizeof ref->cols[nk + 1].name, "s");
  for (int i = 0; i < nk; i++) {
    ref_col *c = &ref->cols[i];
    snprintf(c->name, sizeof c->name, "k%d", i);
    fu_key_dict(c, lo, card);
    uint64_t s = seed + 99; /* the same values for every key column */
    for (int64_t r = 0; r < n; r++) {
      int v = lo + (int)(fu_rand(&s) % (uint64_t)card);
      if (skew && r % 2 == 0)
        v = lo;
      fu_key_value(c, r, v, lo, card, 1000003, 40);
    }
  }
}

/* The reference as a frame on ctx: in ragged chunks (at least 64 when it
 * has the rows) when chunk_rows is 0, else in chunks of chunk_rows rows. */
static void to_frame(tsr_ctx *ctx, const ref_frame *ref, int64_t chunk_rows, uint64_t seed,
                     tsr_frame **out) {
  if (chunk_rows == 0) {
    assert_ok(ref_frame_to_frame(ctx, ref, 64, seed, out));
    return;
  }
  tsr_column_data cd[8];
  ref_frame_columns(ref, 0, ref->n, cd);
  assert_ok(tsr_frame_from_columns(ctx, ref->ncols, cd, chunk_rows, TSR_BUFFER_ADOPT, fu_free_fn,
                                   NULL, out));
}

/* A pair of sides, on both contexts. */
typedef struct sides {
  ref_frame ref[2];
  tsr_frame *d[2], *l[2];
} sides;

static void sides_make(sides *s, int nk, const tsr_type *lt, const tsr_type *rt, int64_t nl,
                       int64_t nr, int64_t lchunk, bool skew, uint64_t seed) {
  make_ref(nk, lt, 0, 12, nl, "lv", skew, seed, &s->ref[0]);
  make_ref(nk, rt, 5, 12, nr, "rv", false, seed + 7, &s->ref[1]);
  for (int k = 0; k < 2; k++) {
    to_frame(dist_ctx, &s->ref[k], k == 0 ? lchunk : 0, seed + 3 + (uint64_t)k, &s->d[k]);
    to_frame(local_ctx, &s->ref[k], k == 0 ? lchunk : 0, seed + 3 + (uint64_t)k, &s->l[k]);
  }
}

static void sides_free(sides *s) {
  for (int k = 0; k < 2; k++) {
    tsr_frame_destroy(&s->d[k]);
    tsr_frame_destroy(&s->l[k]);
    ref_frame_free(&s->ref[k]);
  }
}

/* Both sides' frames again from their references, in chunks of chunk_rows
 * rows (after a test changed the references' keys, say). */
static void sides_rechunk(sides *s, int64_t chunk_rows) {
  for (int k = 0; k < 2; k++) {
    tsr_frame_destroy(&s->d[k]);
    tsr_frame_destroy(&s->l[k]);
    to_frame(dist_ctx, &s->ref[k], chunk_rows, 0, &s->d[k]);
    to_frame(local_ctx, &s->ref[k], chunk_rows, 0, &s->l[k]);
  }
}

/* ---- comparing ---------------------------------------------------------------------------- */

static void same_on_every_rank(uint64_t v) {
  uint64_t both[2] = {v, ~v}, out[2];
  MPI_Allreduce(both, out, 2, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
  assert_true(out[0] == v && out[1] == ~v);
}

static uint64_t mix(uint64_t h, const void *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    h = (h ^ ((const unsigned char *)p)[i]) * 0x100000001b3ull;
  return h;
}

/* want and got hold the same chunks, rows, validity, values, strings and
 * dictionaries; returns a hash of got's contents (to compare ranks). */
static uint64_t assert_bitwise(tsr_frame *want, tsr_frame *got) {
  tsr_frame_result *a = NULL, *b = NULL;
  assert_ok(tsr_frame_compute(want, NULL, &a));
  assert_ok(tsr_frame_compute(got, NULL, &b));
  uint64_t h = 0xcbf29ce484222325ull;
  assert_int_equal(tsr_frame_result_ncols(a), tsr_frame_result_ncols(b));
  assert_int_equal(tsr_frame_result_nchunks(a), tsr_frame_result_nchunks(b));
  assert_int_equal(tsr_frame_result_nrows(a), tsr_frame_result_nrows(b));
  for (int i = 0; i < tsr_frame_result_ncols(a); i++) {
    assert_string_equal(tsr_frame_result_col_name(a, i), tsr_frame_result_col_name(b, i));
    tsr_type t = tsr_frame_result_col_type(a, i);
    tsr_type u = tsr_frame_result_col_type(b, i);
    assert_int_equal(t.id, u.id);
    assert_int_equal(t.unit, u.unit);
    if (t.id == TSR_COL_DICT) {
      int64_t na, nb;
      const int64_t *oa, *ob;
      const char *da, *db;
      assert_ok(tsr_frame_result_dict(a, i, &na, &oa, &da));
      assert_ok(tsr_frame_result_dict(b, i, &nb, &ob, &db));
      assert_int_equal(na, nb);
      assert_memory_equal(oa, ob, (size_t)(na + 1) * sizeof *oa);
      if (oa[na] > 0)
        assert_memory_equal(da, db, (size_t)oa[na]);
      h = mix(h, db, (size_t)ob[nb]);
    }
    size_t w = tsr_type_width(t);
    for (int64_t c = 0; c < tsr_frame_result_nchunks(a); c++) {
      tsr_column_chunk x, y;
      assert_ok(tsr_frame_result_chunk(a, i, c, &x));
      assert_ok(tsr_frame_result_chunk(b, i, c, &y));
      assert_int_equal(x.rows, y.rows);
      assert_int_equal(x.null_count, y.null_count);
      h = mix(h, &y.rows, sizeof y.rows);
      for (int64_t r = 0; r < x.rows; r++) {
        bool vx = x.validity == NULL || (x.validity[r / 8] >> (r % 8) & 1);
        bool vy = y.validity == NULL || (y.validity[r / 8] >> (r % 8) & 1);
        assert_int_equal(vx, vy);
        h = mix(h, &vy, 1);
        if (t.id == TSR_COL_STRING) {
          const tsr_string_view *sx = (const tsr_string_view *)x.values + r;
          const tsr_string_view *sy = (const tsr_string_view *)y.values + r;
          assert_int_equal(sx->length, sy->length);
          const char *px = tsr_string_view_data(sx, x.data), *py = tsr_string_view_data(sy, y.data);
          if (sx->length > 0)
            assert_memory_equal(px, py, sx->length);
          h = mix(h, py, sy->length);
        } else {
          assert_memory_equal((const char *)x.values + (size_t)r * w,
                              (const char *)y.values + (size_t)r * w, w);
          h = mix(h, (const char *)y.values + (size_t)r * w, w);
        }
      }
    }
  }
  tsr_frame_result_destroy(&a);
  tsr_frame_result_destroy(&b);
  return h;
}

static uint64_t sent_bytes(void) {
  tsr_exchange_stats st;
  assert_ok(tsr_ctx_exchange_stats(dist_ctx, &st));
  return st.bytes_sent;
}

/* With several ranks, when every rank owns a left chunk, every rank sent. */
static void check_sent(uint64_t before, tsr_frame *left) {
  uint64_t sent = sent_bytes() - before;
  if (nranks > 1 && tsr_frame_nchunks(left) >= nranks)
    assert_true(sent > 0);
}

/* The distributed result jd is the reference's jl bitwise on every rank,
 * bytes were sent (check_sent), and with the broadcast limit 0 on several
 * ranks the join shuffled; both destroyed. */
static void check_result(sides *s, uint64_t before, tsr_frame **jd, tsr_frame **jl) {
  same_on_every_rank(assert_bitwise(*jl, *jd));
  check_sent(before, s->d[0]);
  if (nranks > 1 && tsr_ctx_broadcast_join_limit(dist_ctx) == 0)
    assert_true(tsr__join_last.shuffle);
  tsr_frame_destroy(jd);
  tsr_frame_destroy(jl);
}

/* One join on both contexts: the same status, and the same result. */
static void check_join(sides *s, tsr_join_kind kind, int nk) {
  const char *on[8] = {"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"};
  tsr_frame *jd = NULL, *jl = NULL;
  uint64_t before = sent_bytes();
  tsr_status sd = tsr_frame_join(s->d[0], s->d[1], kind, nk, on, NULL, NULL, &jd);
  tsr_status sl = tsr_frame_join(s->l[0], s->l[1], kind, nk, on, NULL, NULL, &jl);
  if (sd != TSR_OK)
    fprintf(stderr, "rank %d: %s\n", rank, tsr_last_error());
  assert_int_equal(sd, sl);
  same_on_every_rank((uint64_t)sd);
  if (sd == TSR_OK)
    check_result(s, before, &jd, &jl);
  tsr_frame_destroy(&jd);
  tsr_frame_destroy(&jl);
}

/* Sides of nl and nr rows with one int64 key k0 from [0, card), in chunks
 * of 1000 rows. */
static void int64_sides(sides *s, int card, int64_t nl, int64_t nr, uint64_t seed) {
  const tsr_type t[1] = {{TSR_COL_INT64, 0}};
  make_ref(1, t, 0, card, nl, "lv", false, seed, &s->ref[0]);
  make_ref(1, t, 0, card, nr, "rv", false, seed + 1, &s->ref[1]);
  for (int k = 0; k < 2; k++) {
    to_frame(dist_ctx, &s->ref[k], 1000, 0, &s->d[k]);
    to_frame(local_ctx, &s->ref[k], 1000, 0, &s->l[k]);
  }
}

/* ---- tests ---------------------------------------------------------------------------------- */

/* Every kind on a string key and a dictionary key (different
 * dictionaries on the two sides): long strings travel with their bytes,
 * codes through the merged dictionary. */
static void test_dist_join__every_kind(void **state) {
  (void)state;
  const tsr_type t[2] = {{TSR_COL_STRING, 0}, {TSR_COL_DICT, 0}};
  sides s;
  sides_make(&s, 2, t, t, 500, 250, 0, false, 21);
  for (int k = 0; k < 6; k++)
    check_join(&s, kinds[k], 2);
  sides_free(&s);
}

/* The other key types, several at once, with mixed widths and signedness
 * (and a dictionary against strings) between the sides. */
static void test_dist_join__key_types(void **state) {
  (void)state;
  const tsr_type lt[2][4] = {
      {{TSR_COL_FLOAT64, 0}, {TSR_COL_BOOL, 0}, {TSR_COL_DATE, 0}, {TSR_COL_INT8, 0}},
      {{TSR_COL_FLOAT32, 0},
       {TSR_COL_TIMESTAMP, TSR_TIME_US},
       {TSR_COL_UINT16, 0},
       {TSR_COL_UINT64, 0}}};
  const tsr_type rt[2][4] = {
      {{TSR_COL_FLOAT64, 0}, {TSR_COL_BOOL, 0}, {TSR_COL_DATE, 0}, {TSR_COL_INT64, 0}},
      {{TSR_COL_FLOAT32, 0},
       {TSR_COL_TIMESTAMP, TSR_TIME_US},
       {TSR_COL_UINT16, 0},
       {TSR_COL_UINT64, 0}}};
  for (int i = 0; i < 2; i++) {
    sides s;
    sides_make(&s, 4, lt[i], rt[i], 300, 200, 0, false, 31 + (uint64_t)i);
    check_join(&s, i == 0 ? TSR_JOIN_LEFT : TSR_JOIN_FULL, 4);
    sides_free(&s);
  }
  const tsr_type dl[1] = {{TSR_COL_DICT, 0}}, sr[1] = {{TSR_COL_STRING, 0}};
  sides s;
  sides_make(&s, 1, dl, sr, 300, 200, 0, false, 35);
  check_join(&s, TSR_JOIN_INNER, 1);
  sides_free(&s);
}

/* Empty sides, and fewer left chunks than ranks (some rank owns none). */
static void test_dist_join__edge_shapes(void **state) {
  (void)state;
  const tsr_type t[1] = {{TSR_COL_STRING, 0}};
  const int64_t shapes[4][3] = {{0, 200, 0}, {300, 0, 0}, {0, 0, 0}, {9, 150, 5}};
  for (int i = 0; i < 4; i++) {
    sides s;
    sides_make(&s, 1, t, t, shapes[i][0], shapes[i][1], shapes[i][2], false, 41 + (uint64_t)i);
    check_join(&s, i == 3 ? TSR_JOIN_ANTI : TSR_JOIN_FULL, 1);
    sides_free(&s);
  }
}

/* One key holding half the left rows; then chunks owned block-cyclically. */
static void test_dist_join__skew(void **state) {
  (void)state;
  const tsr_type t[1] = {{TSR_COL_INT32, 0}};
  sides s;
  make_ref(1, t, 5, 12, 1200, "lv", true, 51, &s.ref[0]);
  make_ref(1, t, 5, 12, 40, "rv", false, 58, &s.ref[1]);
  for (int k = 0; k < 2; k++) {
    to_frame(dist_ctx, &s.ref[k], 0, 60 + (uint64_t)k, &s.d[k]);
    to_frame(local_ctx, &s.ref[k], 0, 60 + (uint64_t)k, &s.l[k]);
  }
  check_join(&s, TSR_JOIN_RIGHT, 1);
  /* Block-cyclic owners: each rank's left chunks are not one run. */
  assert_ok(tsr_ctx_set_owner_block(dist_ctx, 1));
  check_join(&s, TSR_JOIN_FULL, 1);
  assert_ok(tsr_ctx_set_owner_block(dist_ctx, 0));
  sides_free(&s);
}

/* One as-of join on both contexts (on columns lon / ron, nby by keys,
 * a tolerance when tol >= 0): one rank's result, bitwise, on every rank;
 * with the broadcast limit 0 on several ranks, shuffled. */
static void check_asof(sides *s, const char *lon, const char *ron, int nby, const char *const *by,
                       double tol) {
  tsr_asof_options o;
  memset(&o, 0, sizeof o);
  o.right_on = ron;
  o.nby = nby;
  o.left_by = by;
  o.has_tolerance = tol >= 0;
  o.tolerance = tol;
  tsr_frame *jd = NULL, *jl = NULL;
  uint64_t before = sent_bytes();
  tsr_status sd = tsr_frame_join_asof(s->d[0], s->d[1], lon, &o, &jd);
  if (sd != TSR_OK)
    fprintf(stderr, "rank %d: %s\n", rank, tsr_last_error());
  assert_ok(sd);
  assert_ok(tsr_frame_join_asof(s->l[0], s->l[1], lon, &o, &jl));
  check_result(s, before, &jd, &jl);
}

static void test_dist_join__asof(void **state) {
  (void)state;
  const tsr_type t[1] = {{TSR_COL_DICT, 0}};
  sides s;
  sides_make(&s, 1, t, t, 600, 300, 0, false, 71);
  const char *by[1] = {"k0"};
  check_asof(&s, "lv", "rv", 0, NULL, -1);
  check_asof(&s, "lv", "rv", 1, by, 1e15); /* by a key, within a tolerance */
  sides_free(&s);
}

/* As-of joins shuffled (the broadcast limit 0): by keys to their bucket's
 * rank; without, by on value ranges cut at sampled right values.  Int64 on values with nulls, with
 * and without by keys and tolerances (1e13 cuts about half the matches); float on values with -0.0,
 * NaN and many equal values (the last in right row order wins); block-cyclic owners; empty sides
 * and a rank owning no left chunk; one value holding half the left rows. */
static void test_dist_join__shuffle_asof(void **state) {
  (void)state;
  assert_ok(tsr_ctx_set_broadcast_join_limit(dist_ctx, 0));
  const tsr_type t[1] = {{TSR_COL_DICT, 0}}, f[1] = {{TSR_COL_FLOAT64, 0}},
                 i32[1] = {{TSR_COL_INT32, 0}};
  const char *by[1] = {"k0"};
  sides s;
  sides_make(&s, 1, t, t, 600, 300, 0, false, 71);
  check_asof(&s, "lv", "rv", 0, NULL, -1);
  check_asof(&s, "lv", "rv", 1, by, 1e15);
  check_asof(&s, "lv", "rv", 0, NULL, 1e13);
  check_asof(&s, "lv", "rv", 1, by, 1e13);
  assert_ok(tsr_ctx_set_owner_block(dist_ctx, 1));
  check_asof(&s, "lv", "rv", 0, NULL, -1);
  assert_ok(tsr_ctx_set_owner_block(dist_ctx, 0));
  sides_free(&s);
  sides_make(&s, 1, f, f, 500, 400, 0, false, 201);
  check_asof(&s, "k0", "k0", 0, NULL, -1);
  check_asof(&s, "k0", "k0", 0, NULL, 2);
  sides_free(&s);
  const int64_t shapes[4][3] = {{0, 200, 0}, {300, 0, 0}, {0, 0, 0}, {9, 150, 5}};
  for (int i = 0; i < 4; i++) {
    sides_make(&s, 1, t, t, shapes[i][0], shapes[i][1], shapes[i][2], false, 211 + (uint64_t)i);
    check_asof(&s, "lv", "rv", 0, NULL, -1);
    check_asof(&s, "lv", "rv", 1, by, -1);
    sides_free(&s);
  }
  sides_make(&s, 1, i32, i32, 900, 300, 0, true, 221); /* half the left rows: k0 = 0 */
  check_asof(&s, "k0", "k0", 0, NULL, -1);
  sides_free(&s);
  assert_ok(tsr_ctx_set_broadcast_join_limit(dist_ctx, TSR_BROADCAST_JOIN_AUTO));
}

/* The last rank alone runs out of memory: every rank returns its error. */
static void test_dist_join__one_rank_fails(void **state) {
  (void)state;
  if (nranks == 1)
    skip();
  const tsr_type t[1] = {{TSR_COL_STRING, 0}};
  sides s;
  sides_make(&s, 1, t, t, 800, 800, 0, false, 81);
  tsr_memory_stats m;
  assert_ok(tsr_ctx_memory_stats(dist_ctx, &m));
  if (rank == nranks - 1)
    assert_ok(tsr_ctx_set_memory_limit(dist_ctx, m.current_bytes + (16u << 10)));
  const char *on[1] = {"k0"};
  tsr_asof_options o;
  memset(&o, 0, sizeof o);
  o.right_on = "rv";
  for (int k = 0; k < 2; k++) {
    tsr_frame *jd = NULL;
    tsr_status st = k == 0 ? tsr_frame_join(s.d[0], s.d[1], TSR_JOIN_FULL, 1, on, NULL, NULL, &jd)
                           : tsr_frame_join_asof(s.d[0], s.d[1], "lv", &o, &jd);
    assert_int_equal(st, TSR_ENOMEM);
    assert_null(jd);
    char want[32];
    snprintf(want, sizeof want, "rank %d: ", nranks - 1);
    assert_non_null(strstr(tsr_last_error(), want));
  }
  if (rank == nranks - 1)
    assert_ok(tsr_ctx_set_memory_limit(dist_ctx, 0));
  check_join(&s, TSR_JOIN_INNER, 1); /* and the context still works */
  sides_free(&s);
}

/* ---- the shuffle join ------------------------------------------------------------------ */

/* The cases above again with the broadcast limit 0: every kind shuffles
 * (right and full joins send each right row's match back to its chunk's
 * owner, which outputs the unmatched ones) and must give one rank's result
 * bitwise all the same. */
static void test_dist_join__shuffle_cases(void **state) {
  assert_ok(tsr_ctx_set_broadcast_join_limit(dist_ctx, 0));
  const tsr_join_kind *shuffled = kinds;
  const tsr_type sd[2] = {{TSR_COL_STRING, 0}, {TSR_COL_DICT, 0}};
  sides s; /* string and dictionary keys, long strings, different dictionaries */
  sides_make(&s, 2, sd, sd, 500, 250, 0, false, 21);
  for (int k = 0; k < 6; k++)
    check_join(&s, shuffled[k], 2);
  sides_free(&s);
  test_dist_join__key_types(state); /* mixed widths, signedness, -0.0, NaN, several keys */
  const tsr_type t[1] = {{TSR_COL_INT64, 0}}, f[2] = {{TSR_COL_FLOAT64, 0}, {TSR_COL_DICT, 0}};
  const int64_t shapes[4][3] = {{0, 200, 0}, {300, 0, 0}, {0, 0, 0}, {9, 150, 5}};
  for (int i = 0; i < 4; i++) { /* empty sides; a rank owning no left chunk */
    sides_make(&s, 1, t, t, shapes[i][0], shapes[i][1], shapes[i][2], false, 141 + (uint64_t)i);
    check_join(&s, shuffled[i], 1);
    check_join(&s, shuffled[(i + 1) % 6], 1);
    check_join(&s, shuffled[(i + 2) % 6], 1);
    sides_free(&s);
  }
  /* Float and dictionary keys together, many duplicates on both sides. */
  sides_make(&s, 2, f, f, 400, 400, 0, false, 151);
  check_join(&s, TSR_JOIN_INNER, 2);
  check_join(&s, TSR_JOIN_SEMI, 2);
  sides_free(&s);
  /* One key holding half the left rows, then half of both sides' rows;
   * block-cyclic owners. */
  for (int both = 0; both < 2; both++) {
    make_ref(1, t, 5, 12, 900, "lv", true, 161, &s.ref[0]);
    make_ref(1, t, 5, 12, both ? 700 : 40, "rv", both == 1, 162, &s.ref[1]);
    for (int k = 0; k < 2; k++) {
      to_frame(dist_ctx, &s.ref[k], 0, 163 + (uint64_t)k, &s.d[k]);
      to_frame(local_ctx, &s.ref[k], 0, 163 + (uint64_t)k, &s.l[k]);
    }
    check_join(&s, both ? TSR_JOIN_LEFT : TSR_JOIN_INNER, 1);
    assert_ok(tsr_ctx_set_owner_block(dist_ctx, 1));
    check_join(&s, both ? TSR_JOIN_ANTI : TSR_JOIN_LEFT, 1);
    check_join(&s, both ? TSR_JOIN_FULL : TSR_JOIN_RIGHT, 1);
    assert_ok(tsr_ctx_set_owner_block(dist_ctx, 0));
    sides_free(&s);
  }
  assert_ok(tsr_ctx_set_broadcast_join_limit(dist_ctx, TSR_BROADCAST_JOIN_AUTO));
}

/* Bytes: the shuffle sends at most 1.1 x the least it must (the shipped
 * columns of the rows whose bucket another rank owns), and the exchange
 * statistics count it; with equal sides on 3 ranks it moves fewer bytes
 * than the broadcast join, and the default (by volume) picks it. */
static void test_dist_join__shuffle_bytes(void **state) {
  (void)state;
  if (nranks == 1)
    skip();
  sides s;
  int64_sides(&s, 3000, 6000, 6000, 171);
  tsr__join_set_filter(0); /* the broadcast join as it is: every right row to every rank */
  const int64_t limits[3] = {INT64_MAX, 0, TSR_BROADCAST_JOIN_AUTO};
  uint64_t moved[3];
  for (int i = 0; i < 3; i++) {
    assert_ok(tsr_ctx_set_broadcast_join_limit(dist_ctx, limits[i]));
    uint64_t before = sent_bytes();
    check_join(&s, TSR_JOIN_INNER, 1);
    uint64_t sent = sent_bytes() - before, all;
    assert_int_equal(MPI_Allreduce(&sent, &all, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD), 0);
    moved[i] = all;
    assert_int_equal(tsr__join_last.shuffle, i == 1 || (i == 2 && nranks >= 3));
    if (i == 1) {
      /* This rank's rows: 1/nranks of each side, 8-byte keys and values,
       * 16-byte views and the long strings' bytes: an upper bound. */
      assert_true(tsr__join_last.least > 0);
      assert_true((double)tsr__join_last.sent <= 1.1 * (double)tsr__join_last.least);
      assert_true(sent >= tsr__join_last.sent + tsr__join_last.returned);
    }
  }
  if (rank == 0)
    fprintf(stderr, "# %d ranks, equal sides: broadcast moved %llu bytes, shuffle %llu\n", nranks,
            (unsigned long long)moved[0], (unsigned long long)moved[1]);
  if (nranks >= 3)
    assert_true(moved[1] < moved[0]);
  tsr__join_set_filter(-1);
  assert_ok(tsr_ctx_set_broadcast_join_limit(dist_ctx, TSR_BROADCAST_JOIN_AUTO));
  sides_free(&s);
}

/* A broadcast join sends every other rank only the right side's columns it
 * reads: of a held right side (chunks of 1000 rows, each made on one rank),
 * a semi join reads the key alone (8 bytes a row, and 1 of validity), not
 * the int64 and string columns beside it (about 3 x more).  Every kind gives
 * the one-rank result from such a side. */
static void test_dist_join__broadcast_columns(void **state) {
  (void)state;
  if (nranks == 1)
    skip();
  sides s;
  int64_sides(&s, 300, 4000, 3000, 181);
  tsr_frame *held = NULL; /* each rank holds the right chunks it owns */
  assert_ok(tsr_frame_persist(s.d[1], NULL, &held));
  tsr_frame_destroy(&s.d[1]);
  s.d[1] = held;
  assert_ok(tsr_ctx_set_broadcast_join_limit(dist_ctx, INT64_MAX));
  tsr__join_set_filter(0); /* whole chunks, not filtered rows */
  const char *on[1] = {"k0"};
  uint64_t chunk_bytes = 0, total = 0;
  assert_ok(tsr_ctx_set_run_observer(dist_ctx, NULL, dist_add_bytes_sent, &chunk_bytes));
  tsr_frame *j = NULL;
  assert_ok(tsr_frame_join(s.d[0], s.d[1], TSR_JOIN_SEMI, 1, on, NULL, NULL, &j));
  assert_ok(tsr_ctx_set_run_observer(dist_ctx, NULL, NULL, NULL));
  assert_false(tsr__join_last.shuffle);
  tsr_frame_destroy(&j);
  MPI_Allreduce(&chunk_bytes, &total, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  uint64_t bound = (uint64_t)(nranks - 1) * 3 * (1000 * 9 + 1024);
  assert_true(total > 0); /* the right chunks did cross */
  if (total > bound)
    fail_msg("%llu bytes of the right side broadcast: more than the %llu of its key column",
             (unsigned long long)total, (unsigned long long)bound);
  tsr__join_set_filter(-1);
  for (int k = 0; k < 6; k++)
    check_join(&s, kinds[k], 1);
  assert_ok(tsr_ctx_set_broadcast_join_limit(dist_ctx, TSR_BROADCAST_JOIN_AUTO));
  sides_free(&s);
}

/* The last rank alone has a memory limit, 8 KiB over what it holds, raised
 * by 25 % a step until join v of s succeeds (0 a left join, 1 a full join,
 * 2 an as-of join by on value ranges): every failure is TSR_ENOMEM from
 * that rank on every rank, and some came after the join's strategy began
 * (the shuffle, or with `filtered` the filtered broadcast). */
static void fail_until_ok(sides *s, int v, bool filtered) {
  const char *on[1] = {"k0"};
  tsr_asof_options ao;
  memset(&ao, 0, sizeof ao);
  ao.right_on = "rv";
  tsr_memory_stats m;
  assert_ok(tsr_ctx_memory_stats(dist_ctx, &m));
  int failed = 0, begun = 0;
  tsr_status st = TSR_ENOMEM;
  double extra = 8 << 10;
  for (int step = 1; step <= 60 && st != TSR_OK; step++, extra *= 1.25) {
    if (rank == nranks - 1)
      assert_ok(tsr_ctx_set_memory_limit(dist_ctx, m.current_bytes + (uint64_t)extra));
    tsr_frame *jd = NULL;
    st = v == 2 ? tsr_frame_join_asof(s->d[0], s->d[1], "lv", &ao, &jd)
                : tsr_frame_join(s->d[0], s->d[1], v ? TSR_JOIN_FULL : TSR_JOIN_LEFT, 1, on, NULL,
                                 NULL, &jd);
    same_on_every_rank((uint64_t)st);
    if (st != TSR_OK) {
      assert_int_equal(st, TSR_ENOMEM);
      assert_null(jd);
      char want[32];
      snprintf(want, sizeof want, "rank %d: ", nranks - 1);
      assert_non_null(strstr(tsr_last_error(), want));
      failed++;
      begun += filtered ? tsr__join_last.filtered : tsr__join_last.shuffle;
    }
    tsr_frame_destroy(&jd);
  }
  assert_int_equal(st, TSR_OK);
  assert_true(failed > 0);
  assert_true(begun > 0);
  if (rank == nranks - 1)
    assert_ok(tsr_ctx_set_memory_limit(dist_ctx, 0));
}

/* Wherever the shuffle join fails (loading, shuffling, joining buckets,
 * returning, assembling, gathering), every rank returns that rank's error. */
static void test_dist_join__shuffle_fails(void **state) {
  (void)state;
  if (nranks == 1)
    skip();
  const tsr_type t[1] = {{TSR_COL_STRING, 0}};
  sides s;
  sides_make(&s, 1, t, t, 600, 600, 0, false, 181);
  assert_ok(tsr_ctx_set_broadcast_join_limit(dist_ctx, 0));
  for (int v = 0; v < 3; v++) /* left, full and as-of joins: their own steps */
    fail_until_ok(&s, v, false);
  check_join(&s, TSR_JOIN_SEMI, 1); /* and the context still works */
  assert_ok(tsr_ctx_set_broadcast_join_limit(dist_ctx, TSR_BROADCAST_JOIN_AUTO));
  sides_free(&s);
}

/* A limit that differs between ranks: every rank fails with TSR_EINVAL. */
static void test_dist_join__limits_differ(void **state) {
  (void)state;
  if (nranks == 1)
    skip();
  const tsr_type t[1] = {{TSR_COL_INT32, 0}};
  sides s;
  sides_make(&s, 1, t, t, 100, 100, 0, false, 191);
  assert_ok(tsr_ctx_set_broadcast_join_limit(dist_ctx, rank == 0 ? 0 : INT64_MAX));
  const char *on[1] = {"k0"};
  tsr_frame *jd = NULL;
  assert_int_equal(tsr_frame_join(s.d[0], s.d[1], TSR_JOIN_INNER, 1, on, NULL, NULL, &jd),
                   TSR_EINVAL);
  assert_null(jd);
  assert_non_null(strstr(tsr_last_error(), "broadcast join limit"));
  assert_ok(tsr_ctx_set_broadcast_join_limit(dist_ctx, TSR_BROADCAST_JOIN_AUTO));
  check_join(&s, TSR_JOIN_INNER, 1);
  sides_free(&s);
}

/* Out of core across the ranks (join_spill.c): each rank spills the
 * chunks it owns, the partition pairs (whole, or in pieces) are joined
 * across the ranks, and the result is one rank's in-memory join bitwise,
 * chunks included, for every kind; then through tsr_frame_join under a
 * memory limit on every rank that the in-memory join cannot meet. */
static void test_dist_join__spill(void **state) {
  (void)state;
  const tsr_type t[2] = {{TSR_COL_STRING, 0}, {TSR_COL_DICT, 0}};
  const char *on[2] = {"k0", "k1"};
  sides s;
  make_ref(2, t, 0, 12, 500, "lv", false, 31, &s.ref[0]);
  make_ref(2, t, 5, 12, 250, "rv", false, 38, &s.ref[1]);
  for (int k = 0; k < 2; k++) { /* chunks of 50 rows: a few pieces a side */
    to_frame(dist_ctx, &s.ref[k], 50, 0, &s.d[k]);
    to_frame(local_ctx, &s.ref[k], 50, 0, &s.l[k]);
  }
  static const uint64_t pieces[2] = {0, 12000}; /* whole partitions, then pieces */
  for (int q = 0; q < 2; q++)
    for (int k = 0; k < 6; k++) {
      tsr_frame *jd = NULL, *jl = NULL;
      int used = 0, pieced = -1;
      uint64_t before = sent_bytes();
      tsr_status st = tsr__join_spill(s.d[0], s.d[1], kinds[k], 2, on, NULL, NULL, 2, pieces[q],
                                      &used, &pieced, &jd);
      if (st != TSR_OK)
        fail_msg("rank %d: %s", rank, tsr_last_error());
      assert_int_equal(used, 2);
      if (pieces[q] == 0)
        assert_int_equal(pieced, 0);
      else
        assert_true(pieced > 0);
      assert_ok(tsr_frame_join(s.l[0], s.l[1], kinds[k], 2, on, NULL, NULL, &jl));
      same_on_every_rank(assert_bitwise(jl, jd));
      check_sent(before, s.d[0]);
      tsr_frame_destroy(&jd);
      tsr_frame_destroy(&jl);
    }
  sides_free(&s);
}

static void test_dist_join__spill_memory_limit(void **state) {
  (void)state;
  const tsr_type t[1] = {{TSR_COL_INT64, 0}};
  const char *on[1] = {"k0"};
  sides s;
  const int64_t n = 100000;
  make_ref(1, t, 0, 12, n, "lv", false, 41, &s.ref[0]);
  make_ref(1, t, 0, 12, n, "rv", false, 42, &s.ref[1]);
  int64_t *lk = (int64_t *)s.ref[0].cols[0].values, *rk = (int64_t *)s.ref[1].cols[0].values;
  for (int64_t r = 0; r < n; r++) { /* one match a row: distinct keys on both sides */
    lk[r] = r * 7919 % n;
    rk[r] = r * 104729 % n;
  }
  for (int k = 0; k < 2; k++) {
    to_frame(dist_ctx, &s.ref[k], 5000, 0, &s.d[k]);
    to_frame(local_ctx, &s.ref[k], 5000, 0, &s.l[k]);
  }
  tsr_frame *jd = NULL, *jl = NULL;
  assert_ok(tsr_frame_join(s.l[0], s.l[1], TSR_JOIN_FULL, 1, on, NULL, NULL, &jl));
  tsr_memory_stats ms;
  assert_ok(tsr_ctx_memory_stats(dist_ctx, &ms));
  assert_ok(tsr_ctx_set_memory_limit(dist_ctx, ms.current_bytes + (UINT64_C(6) << 20)));
  /* In memory it does not fit on the ranks... */
  assert_int_equal(tsr__join_memory(s.d[0], s.d[1], TSR_JOIN_FULL, 1, on, NULL, NULL, &jd),
                   TSR_ENOMEM);
  assert_null(jd);
  /* ...out of core it does. */
  tsr_status st = tsr_frame_join(s.d[0], s.d[1], TSR_JOIN_FULL, 1, on, NULL, NULL, &jd);
  if (st != TSR_OK)
    fail_msg("rank %d: %s", rank, tsr_last_error());
  assert_ok(tsr_ctx_set_memory_limit(dist_ctx, 0));
  same_on_every_rank(assert_bitwise(jl, jd));
  tsr_frame_destroy(&jd);
  tsr_frame_destroy(&jl);
  sides_free(&s);
}

/* ---- the filtered broadcast join ------------------------------------------------------------ */

/* Sides of nl and nr rows with one int64 key k0: left keys a permutation
 * of [0, nl) and right keys one of [0, nr) (each key once a side), times
 * `scale` plus `shift`; in chunks of 1000 rows. */
static void unique_sides(sides *s, int64_t nl, int64_t nr, int64_t scale, int64_t shift,
                         uint64_t seed) {
  const tsr_type t[1] = {{TSR_COL_INT64, 0}};
  make_ref(1, t, 0, 12, nl, "lv", false, seed, &s->ref[0]);
  make_ref(1, t, 0, 12, nr, "rv", false, seed + 1, &s->ref[1]);
  const int64_t n[2] = {nl, nr}, step[2] = {7919, 104729};
  for (int k = 0; k < 2; k++) {
    int64_t *key = (int64_t *)s->ref[k].cols[0].values;
    uint8_t *valid = s->ref[k].cols[0].valid;
    for (int64_t r = 0; r < n[k]; r++) {
      key[r] = r * step[k] % n[k] * scale + shift;
      if (r % 10 == 3) /* some null keys (besides make_ref's): they go nowhere */
        valid[r] = 0;
    }
    to_frame(dist_ctx, &s->ref[k], 1000, 0, &s->d[k]);
    to_frame(local_ctx, &s->ref[k], 1000, 0, &s->l[k]);
  }
}

/* One join of each kind: one rank's result bitwise; inner, left, semi and
 * anti joins filtered (several ranks), right and full ones not. */
static void check_filtered(sides *s, int nk) {
  for (int k = 0; k < 6; k++) {
    check_join(s, kinds[k], nk);
    if (nranks > 1)
      assert_int_equal(tsr__join_last.filtered,
                       kinds[k] != TSR_JOIN_RIGHT && kinds[k] != TSR_JOIN_FULL);
  }
}

/* The cases above again with the filter forced on (tsr__join_set_filter):
 * each rank receives only the right rows its left keys may match, by a
 * hashed filter (strings, dictionaries, floats, several keys, an integer
 * range too wide) or by a value range (one integer key, negative values
 * too), and every kind gives one rank's result bitwise.  Keys of many
 * values (each once a side), so that the filters drop most rows. */
static void test_dist_join__filtered_cases(void **state) {
  assert_ok(tsr_ctx_set_broadcast_join_limit(dist_ctx, INT64_MAX)); /* broadcast, filtered */
  tsr__join_set_filter(1);
  test_dist_join__every_kind(state);  /* string and dictionary keys, long strings */
  test_dist_join__key_types(state);   /* several keys, floats, mixed integer types */
  test_dist_join__edge_shapes(state); /* empty sides; a rank owning no left chunk */
  sides s;
  const tsr_type st[2] = {{TSR_COL_STRING, 0}, {TSR_COL_DICT, 0}};
  make_ref(2, st, 0, 2000, 1500, "lv", false, 201, &s.ref[0]);
  make_ref(2, st, 300, 2000, 1200, "rv", false, 202, &s.ref[1]);
  for (int k = 0; k < 2; k++) {
    to_frame(dist_ctx, &s.ref[k], 300, 0, &s.d[k]);
    to_frame(local_ctx, &s.ref[k], 300, 0, &s.l[k]);
  }
  check_filtered(&s, 2);
  assert_ok(tsr_ctx_set_owner_block(dist_ctx, 1)); /* each rank's chunks not one run */
  check_filtered(&s, 2);
  assert_ok(tsr_ctx_set_owner_block(dist_ctx, 0));
  sides_free(&s);
  const int64_t scales[3][2] = {{1, 0}, {3, -2500}, {INT64_C(1) << 40, 5}}; /* the last: hashed */
  for (int i = 0; i < 3; i++) {
    unique_sides(&s, 4000, 3500, scales[i][0], scales[i][1], 211 + (uint64_t)i);
    check_filtered(&s, 1);
    sides_free(&s);
  }
  tsr__join_set_filter(-1);
  assert_ok(tsr_ctx_set_broadcast_join_limit(dist_ctx, TSR_BROADCAST_JOIN_AUTO));
}

/* The value-range filter is exact: with each key once a side, the right
 * rows sent are those whose key a left row of another rank holds, counted
 * here from the chunks' owners; fewer bytes move than in the broadcast
 * join, and the default (by volume) filters a broadcast join. */
static void test_dist_join__filtered_bytes(void **state) {
  (void)state;
  if (nranks == 1)
    skip();
  sides s;
  const int64_t n = 9000;
  unique_sides(&s, n, n, 1, 0, 221);
  const int64_t *lk = (const int64_t *)s.ref[0].cols[0].values;
  const int64_t *rk = (const int64_t *)s.ref[1].cols[0].values;
  const uint8_t *lv = s.ref[0].cols[0].valid, *rv = s.ref[1].cols[0].valid;
  int64_t *where = malloc((size_t)n * sizeof *where); /* per key: its left row's owner, or -1 */
  assert_non_null(where);
  for (int64_t v = 0; v < n; v++)
    where[v] = -1;
  const int64_t nch = (n + 999) / 1000;
  for (int64_t r = 0; r < n; r++)
    if (lv[r])
      where[lk[r]] = tsr__dist_chunk_owner(dist_ctx, r / 1000, nch);
  uint64_t want = 0;
  for (int64_t r = 0; r < n; r++)
    if (rv[r] && where[rk[r]] >= 0 &&
        where[rk[r]] != tsr__dist_chunk_owner(dist_ctx, r / 1000, nch))
      want++;
  free(where);
  uint64_t moved[3];
  const int modes[3] = {0, 1, -1};
  assert_ok(tsr_ctx_set_broadcast_join_limit(dist_ctx, INT64_MAX));
  for (int i = 0; i < 3; i++) {
    tsr__join_set_filter(modes[i]);
    uint64_t before = sent_bytes();
    check_join(&s, TSR_JOIN_INNER, 1);
    uint64_t sent = sent_bytes() - before, rows = tsr__join_last.rows_sent;
    assert_int_equal(MPI_Allreduce(&sent, &moved[i], 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD), 0);
    assert_int_equal(tsr__join_last.filtered, i > 0);
    if (i > 0) {
      uint64_t all;
      assert_int_equal(MPI_Allreduce(&rows, &all, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD), 0);
      assert_int_equal(all, want);
    }
  }
  if (rank == 0)
    fprintf(stderr, "# %d ranks, each key once a side: broadcast moved %llu bytes, filtered %llu\n",
            nranks, (unsigned long long)moved[0], (unsigned long long)moved[1]);
  assert_true(moved[1] < moved[0]);
  assert_int_equal(moved[2], moved[1]);
  tsr__join_set_filter(-1);
  assert_ok(tsr_ctx_set_broadcast_join_limit(dist_ctx, TSR_BROADCAST_JOIN_AUTO));
  sides_free(&s);
}

/* Where the estimate chooses a shuffle (a right side of 4 x the left's rows
 * and more columns), the filters' rows are counted first: with each key
 * once a side, few right rows match another rank's left keys, and the
 * filtered broadcast runs, moving less than the shuffle; with every key on
 * every rank's left, every right row would go to every rank, and the
 * shuffle runs.  Either way one rank's result, bitwise, and a rank's
 * failure anywhere every rank's error.  Filters too dear are not made. */
static void test_dist_join__filter_or_shuffle(void **state) {
  (void)state;
  if (nranks == 1)
    skip();
  for (int spread = 0; spread < 2; spread++) {
    sides s;
    unique_sides(&s, 2000, 8000, 1, 0, 241 + (uint64_t)spread);
    for (int k = 0; spread == 1 && k < 2; k++) { /* keys 0-999 in every left chunk */
      int64_t *key = (int64_t *)s.ref[k].cols[0].values;
      for (int64_t r = 0; r < s.ref[k].n; r++)
        key[r] = r % 1000;
    }
    if (spread == 1)
      sides_rechunk(&s, 1000);
    uint64_t moved[2], filter_bytes = 0;
    for (int mode = 0; mode < 2; mode++) { /* never filtered; the default */
      tsr__join_set_filter(mode == 0 ? 0 : -1);
      uint64_t before = sent_bytes();
      check_join(&s, TSR_JOIN_INNER, 1);
      uint64_t sent = sent_bytes() - before;
      assert_int_equal(MPI_Allreduce(&sent, &moved[mode], 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD),
                       0);
      assert_int_equal(tsr__join_last.shuffle, mode == 0 || spread == 1);
      assert_int_equal(tsr__join_last.filtered, mode == 1 && spread == 0);
      assert_int_equal(tsr__join_last.declined, mode == 1 && spread == 1);
      filter_bytes = tsr__join_last.filter_bytes;
      check_join(&s, TSR_JOIN_SEMI, 1);
    }
    if (rank == 0)
      fprintf(stderr, "# %d ranks, keys %s: shuffle moved %llu bytes, the default %llu\n", nranks,
              spread ? "on every rank" : "once a side", (unsigned long long)moved[0],
              (unsigned long long)moved[1]);
    if (spread == 0)
      assert_true(moved[1] < moved[0]);
    else /* and the filters, all-gathered before their rows were counted */
      assert_int_equal(moved[1],
                       moved[0] + filter_bytes * (uint64_t)nranks * (uint64_t)(nranks - 1));
    tsr__join_set_filter(-1);
    fail_until_ok(&s, 0, spread == 0); /* a failure before or after the choice */
    sides_free(&s);
  }
  /* Sides so small that the filters (512 bits each at least) would cost
   * over a quarter of the shuffle: it runs without them. */
  sides s;
  unique_sides(&s, 2, 8, 1, 0, 243);
  sides_rechunk(&s, 2); /* in chunks of 2 rows: the estimate sees 4 x the rows */
  check_join(&s, TSR_JOIN_INNER, 1);
  assert_true(tsr__join_last.shuffle);
  assert_false(tsr__join_last.declined);
  sides_free(&s);
}

/* Wherever the filtered broadcast join fails (the filters, the pieces,
 * the table, the output), every rank returns that rank's error. */
static void test_dist_join__filtered_fails(void **state) {
  (void)state;
  if (nranks == 1)
    skip();
  sides s;
  unique_sides(&s, 3000, 3000, 1, 0, 231);
  assert_ok(tsr_ctx_set_broadcast_join_limit(dist_ctx, INT64_MAX));
  tsr__join_set_filter(1);
  fail_until_ok(&s, 0, true);
  check_join(&s, TSR_JOIN_SEMI, 1); /* and the context still works */
  tsr__join_set_filter(-1);
  assert_ok(tsr_ctx_set_broadcast_join_limit(dist_ctx, TSR_BROADCAST_JOIN_AUTO));
  sides_free(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dist_join__every_kind),
      cmocka_unit_test(test_dist_join__key_types),
      cmocka_unit_test(test_dist_join__edge_shapes),
      cmocka_unit_test(test_dist_join__skew),
      cmocka_unit_test(test_dist_join__asof),
      cmocka_unit_test(test_dist_join__one_rank_fails),
      cmocka_unit_test(test_dist_join__shuffle_cases),
      cmocka_unit_test(test_dist_join__shuffle_asof),
      cmocka_unit_test(test_dist_join__shuffle_bytes),
      cmocka_unit_test(test_dist_join__broadcast_columns),
      cmocka_unit_test(test_dist_join__shuffle_fails),
      cmocka_unit_test(test_dist_join__limits_differ),
      cmocka_unit_test(test_dist_join__spill),
      cmocka_unit_test(test_dist_join__spill_memory_limit),
      cmocka_unit_test(test_dist_join__filtered_cases),
      cmocka_unit_test(test_dist_join__filtered_bytes),
      cmocka_unit_test(test_dist_join__filtered_fails),
      cmocka_unit_test(test_dist_join__filter_or_shuffle),
  };
  return DIST_HARNESS_RUN("test_dist_join", tests);
}

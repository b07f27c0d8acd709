/* test_dist_sort.c — tsr_frame_sort and tsr_frame_top_k across MPI ranks
 * (src/frame/sort_dist.c, sort_sample.c), run by ctest under mpiexec with
 * 1, 2 and 3 ranks.
 *
 * Every rank builds the same random frame (every column type as key and as
 * payload, nulls, NaN, -0.0, ties, long strings sharing long prefixes,
 * ragged chunks) on the distributed context and on a context that computes
 * alone; the distributed result must be the alone result on every rank:
 * the same rows in the same order (bitwise), the same row chunks, and
 * every rank must have sent bytes when every rank owns rows.  Plus empty
 * frames, a rank owning no rows, skew, and a failure on one rank that every
 * rank reports. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include <tessera/mpi.h>

#include "dist/dist_harness.h"
#include "frame/sort_ref.h"

static void same_on_every_rank(const void *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ ((const unsigned char *)p)[i]) * 0x100000001b3ull;
  uint64_t both[2] = {h, ~h}, out[2];
  MPI_Allreduce(both, out, 2, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
  assert_true(out[0] == h && out[1] == ~h);
}

/* The results chunk by chunk: row counts, null counts, fixed-width values
 * of valid rows bitwise (strings and dictionaries: ref_frame_assert_equal). */
static void assert_same_chunks(tsr_frame *want, tsr_frame *got) {
  tsr_frame_result *a = NULL, *b = NULL;
  assert_ok(tsr_frame_compute(want, NULL, &a));
  assert_ok(tsr_frame_compute(got, NULL, &b));
  int64_t n = tsr_frame_result_nchunks(a);
  assert_int_equal(tsr_frame_result_nchunks(b), n);
  for (int i = 0; i < tsr_frame_result_ncols(a); i++) {
    tsr_type t = tsr_frame_result_col_type(a, i);
    size_t w = tsr_type_width(t);
    for (int64_t c = 0; c < n; c++) {
      tsr_column_chunk x, y;
      assert_ok(tsr_frame_result_chunk(a, i, c, &x));
      assert_ok(tsr_frame_result_chunk(b, i, c, &y));
      assert_int_equal(x.rows, y.rows);
      assert_int_equal(x.null_count, y.null_count);
      if (t.id == TSR_COL_STRING)
        continue;
      for (int64_t r = 0; r < x.rows; r++) {
        bool vx = x.validity == NULL || (x.validity[r / 8] >> (r % 8) & 1);
        bool vy = y.validity == NULL || (y.validity[r / 8] >> (r % 8) & 1);
        assert_int_equal(vx, vy);
        if (vx)
          assert_memory_equal((const char *)x.values + r * w, (const char *)y.values + r * w, w);
      }
    }
  }
  tsr_frame_result_destroy(&a);
  tsr_frame_result_destroy(&b);
}

/* The distributed sort (k < 0) or top-k against the alone one on ref cut
 * into about `chunks` chunks.  `sends`: every rank owns rows, so every rank
 * must send bytes (more than one rank). */
static void check(const ref_frame *ref, int chunks, uint64_t seed, int nkeys,
                  const tsr_sort_key *keys, int64_t k, bool sends) {
  tsr_frame *fd = NULL, *fl = NULL, *sd = NULL, *sl = NULL;
  assert_ok(ref_frame_to_frame(dist_ctx, ref, chunks, seed, &fd));
  assert_ok(ref_frame_to_frame(local_ctx, ref, chunks, seed, &fl));
  tsr_exchange_stats before, after;
  assert_ok(tsr_ctx_exchange_stats(dist_ctx, &before));
  if (k < 0) {
    assert_ok(tsr_frame_sort(fd, nkeys, keys, &sd));
    assert_ok(tsr_frame_sort(fl, nkeys, keys, &sl));
  } else {
    assert_ok(tsr_frame_top_k(fd, nkeys, keys, k, &sd));
    assert_ok(tsr_frame_top_k(fl, nkeys, keys, k, &sl));
  }
  assert_ok(tsr_ctx_exchange_stats(dist_ctx, &after));
  if (nranks > 1 && sends)
    assert_true(after.bytes_sent > before.bytes_sent);
  ref_frame gd, gl;
  ref_frame_compute(sd, &gd);
  ref_frame_compute(sl, &gl);
  ref_frame_assert_equal(&gl, &gd);
  assert_same_chunks(sl, sd);
  int64_t rows = gd.n, nchunks = tsr_frame_nchunks(sd);
  same_on_every_rank(&rows, sizeof rows);
  same_on_every_rank(&nchunks, sizeof nchunks);
  ref_frame_free(&gd);
  ref_frame_free(&gl);
  tsr_frame_destroy(&sd);
  tsr_frame_destroy(&sl);
  tsr_frame_destroy(&fd);
  tsr_frame_destroy(&fl);
}

/* Every column type as the one key, in each direction and null placement;
 * the other columns are the payload. */
static void test_dist_sort__every_type(void **state) {
  (void)state;
  ref_frame ref;
  sr_frame_random(&ref, 700, 10, 11);
  for (int i = 0; i < ref.ncols; i++) {
    tsr_sort_key key = {ref.cols[i].name, i % 2 == 1, i % 3 == 0};
    check(&ref, 48, 100 + (uint64_t)i, 1, &key, -1, true);
  }
  ref_frame_free(&ref);
}

/* Several keys (strings with long shared prefixes first, so whole strings
 * decide), descending and ascending, nulls first and last; dictionary
 * keys with five values (many ties: the stable order). */
static void test_dist_sort__several_keys(void **state) {
  (void)state;
  ref_frame ref;
  sr_frame_random(&ref, 900, 15, 12);
  tsr_sort_key k1[3] = {{"c11", true, true}, {"c3", false, false}, {"c10", true, false}};
  check(&ref, 64, 5, 3, k1, -1, true);
  tsr_sort_key k2[2] = {{"c12", false, true}, {"c0", true, false}};
  check(&ref, 64, 6, 2, k2, -1, true);
  tsr_sort_key k3[1] = {{"c12", true, false}}; /* ties: the input order within a key */
  check(&ref, 40, 7, 1, k3, -1, true);
  ref_frame_free(&ref);
}

/* One key value holds half the rows (and the other half is sorted the
 * other way to the input): split between ranks like any other. */
static void test_dist_sort__skew(void **state) {
  (void)state;
  ref_frame ref;
  sr_frame_random(&ref, 1000, 5, 13);
  ref_col *c = &ref.cols[4]; /* int64 */
  for (int64_t r = 0; r < ref.n; r++) {
    int64_t v = r % 2 == 0 ? 42 : ref.n - r;
    memcpy(c->values + r * 8, &v, 8);
    c->valid[r] = 1;
  }
  tsr_sort_key key = {"c4", false, false};
  check(&ref, 64, 8, 1, &key, -1, true);
  tsr_sort_key keys[2] = {{"c4", true, false}, {"c11", false, true}};
  check(&ref, 64, 9, 2, keys, -1, true);
  ref_frame_free(&ref);
}

/* No rows; fewer rows and chunks than ranks (ranks owning nothing). */
static void test_dist_sort__small(void **state) {
  (void)state;
  tsr_sort_key key[2] = {{"c11", false, false}, {"c4", true, true}};
  for (int64_t n = 0; n <= 3; n++) {
    ref_frame ref;
    sr_frame_random(&ref, n, 20, 14 + (uint64_t)n);
    check(&ref, 1, 10, 2, key, -1, false);
    check(&ref, 2, 11, 2, key, 2, false);
    ref_frame_free(&ref);
  }
}

/* Top-k: k of 0, 1, some, all and more than all, on several keys. */
static void test_dist_sort__top_k(void **state) {
  (void)state;
  ref_frame ref;
  sr_frame_random(&ref, 800, 10, 15);
  tsr_sort_key k1[2] = {{"c10", true, false}, {"c11", false, true}};
  tsr_sort_key k2[1] = {{"c12", false, false}};
  const int64_t ks[5] = {0, 1, 37, 800, 5000};
  for (int i = 0; i < 5; i++) {
    check(&ref, 64, 20 + (uint64_t)i, 2, k1, ks[i], ks[i] > 0);
    check(&ref, 64, 30 + (uint64_t)i, 1, k2, ks[i], ks[i] > 0);
  }
  ref_frame_free(&ref);
}

/* A memory limit on the last rank only: every rank returns its error, no
 * rank hangs, and the next sort works again. */
static void test_dist_sort__failure_agreed(void **state) {
  (void)state;
  ref_frame ref;
  sr_frame_random(&ref, 3000, 10, 16);
  tsr_frame *fd = NULL, *sd = NULL;
  assert_ok(ref_frame_to_frame(dist_ctx, &ref, 64, 40, &fd));
  tsr_sort_key key = {"c11", false, false};
  for (int op = 0; op < 2; op++) {
    tsr_memory_stats m;
    assert_ok(tsr_ctx_memory_stats(dist_ctx, &m));
    if (rank == nranks - 1)
      assert_ok(tsr_ctx_set_memory_limit(dist_ctx, m.current_bytes + 4096));
    tsr_status st =
        op == 0 ? tsr_frame_sort(fd, 1, &key, &sd) : tsr_frame_top_k(fd, 1, &key, 2000, &sd);
    assert_ok(tsr_ctx_set_memory_limit(dist_ctx, 0));
    assert_int_not_equal(st, TSR_OK);
    assert_null(sd);
    int both[2] = {(int)st, -(int)st}, out[2];
    MPI_Allreduce(both, out, 2, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    assert_int_equal(out[0], (int)st);
    assert_int_equal(-out[1], (int)st);
    if (nranks > 1)
      assert_non_null(strstr(tsr_last_error(), "rank"));
  }
  assert_ok(tsr_frame_sort(fd, 1, &key, &sd));
  tsr_frame_destroy(&sd);
  tsr_frame_destroy(&fd);
  ref_frame_free(&ref);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dist_sort__every_type),
      cmocka_unit_test(test_dist_sort__several_keys),
      cmocka_unit_test(test_dist_sort__skew),
      cmocka_unit_test(test_dist_sort__small),
      cmocka_unit_test(test_dist_sort__top_k),
      cmocka_unit_test(test_dist_sort__failure_agreed),
  };
  return DIST_HARNESS_RUN("test_dist_sort", tests);
}

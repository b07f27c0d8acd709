/* test_dist_exchange.c — the exchanges frame operations move data with
 * (src/dist/exchange.c), under mpiexec with 1, 2 and 3 ranks.
 *
 * Every rank sends every rank a number of bytes that depends on both ranks
 * (zero for some pairs), each byte a function of (sender, receiver, index),
 * so the receiver checks every byte it got against the formula.  The same
 * exchanges run with the default limits (one round, in place), with rounds
 * of a few hundred bytes, and with every piece staged; then all-gathers of
 * different sizes; and the exchange statistics count exactly the bytes
 * that crossed between ranks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include <tessera/mpi.h>

#include "dist/dist.h"
#include "test_util.h"

static tsr_ctx *ctx;
static tsr__dist *d;
static int rank, nranks;

static uint64_t pair_bytes(int from, int to, uint64_t scale) {
  if ((from + 2 * to) % 4 == 3)
    return 0;
  return scale * (uint64_t)(1 + from * 7 + to * 3) + (uint64_t)(from ^ to) * 13;
}

static unsigned char byte_of(int from, int to, uint64_t i) {
  return (unsigned char)((uint64_t)from * 31 + (uint64_t)to * 17 + i * 7 + (i >> 9));
}

/* One all-to-all of pair_bytes(., ., scale); every received byte checked. */
static void exchange_once(uint64_t scale) {
  uint64_t *sc = calloc((size_t)nranks * 3, sizeof *sc), *so = sc + nranks, *rc = sc + 2 * nranks;
  assert_non_null(sc);
  uint64_t total = 0;
  for (int p = 0; p < nranks; p++) {
    sc[p] = pair_bytes(rank, p, scale);
    so[p] = total;
    total += sc[p];
  }
  unsigned char *send = malloc(total + 1);
  assert_non_null(send);
  for (int p = 0; p < nranks; p++)
    for (uint64_t i = 0; i < sc[p]; i++)
      send[so[p] + i] = byte_of(rank, p, i);
  assert_int_equal(tsr__dist_exchange_counts(d, sc, rc), TSR_OK);
  uint64_t rtotal = 0;
  for (int p = 0; p < nranks; p++) {
    assert_true(rc[p] == pair_bytes(p, rank, scale));
    rtotal += rc[p];
  }
  unsigned char *recv = malloc(rtotal + 1);
  assert_non_null(recv);
  memset(recv, 0xEE, rtotal + 1);
  tsr_exchange_stats before, after;
  assert_int_equal(tsr_ctx_exchange_stats(ctx, &before), TSR_OK);
  assert_int_equal(tsr__dist_alltoallv(d, send, so, sc, recv, rc), TSR_OK);
  assert_int_equal(tsr_ctx_exchange_stats(ctx, &after), TSR_OK);
  uint64_t at = 0, crossed_out = 0, crossed_in = 0;
  for (int p = 0; p < nranks; p++) {
    for (uint64_t i = 0; i < rc[p]; i++)
      if (recv[at + i] != byte_of(p, rank, i))
        fail_msg("byte %llu from rank %d: %u, expected %u", (unsigned long long)i, p, recv[at + i],
                 byte_of(p, rank, i));
    at += rc[p];
    if (p != rank) {
      crossed_out += sc[p];
      crossed_in += rc[p];
    }
  }
  assert_int_equal(recv[rtotal], 0xEE); /* nothing written past the end */
  if (nranks > 1) {
    assert_true(after.bytes_sent - before.bytes_sent == crossed_out);
    assert_true(after.bytes_received - before.bytes_received == crossed_in);
    assert_true(after.exchanges == before.exchanges + 1);
  }
  free(recv);
  free(send);
  free(sc);
}

static void test_dist_exchange__alltoallv_in_one_round(void **state) {
  (void)state;
  tsr__dist_set_exchange_limits(d, 0, 0);
  exchange_once(1000);
  exchange_once(0); /* only the (from ^ to) * 13 bytes; zero between a rank and itself */
}

static void test_dist_exchange__alltoallv_in_rounds(void **state) {
  (void)state;
  tsr__dist_set_exchange_limits(d, 300, 0); /* 100-150 bytes per peer per round */
  exchange_once(1000);
  tsr__dist_set_exchange_limits(d, 0, 0);
}

static void test_dist_exchange__alltoallv_staged(void **state) {
  (void)state;
  tsr__dist_set_exchange_limits(d, 4096, 1); /* every piece past offset 1 is staged */
  exchange_once(1000);
  exchange_once(5);
  tsr__dist_set_exchange_limits(d, 0, 0);
}

static void test_dist_exchange__allgatherv(void **state) {
  (void)state;
  for (int round = 0; round < 2; round++) {
    tsr__dist_set_exchange_limits(d, round ? 256 : 0, round ? 100 : 0);
    uint64_t mine = rank == 1 ? 0 : (uint64_t)(777 * (rank + 1)); /* rank 1 sends nothing */
    unsigned char *send = malloc(mine + 1);
    assert_non_null(send);
    for (uint64_t i = 0; i < mine; i++)
      send[i] = byte_of(rank, -1, i);
    uint64_t *counts = calloc((size_t)nranks, sizeof *counts);
    assert_non_null(counts);
    assert_int_equal(tsr__dist_gather_counts(d, mine, counts), TSR_OK);
    uint64_t total = 0;
    for (int p = 0; p < nranks; p++) {
      assert_true(counts[p] == (p == 1 ? 0 : (uint64_t)(777 * (p + 1))));
      total += counts[p];
    }
    unsigned char *recv = malloc(total + 1);
    assert_non_null(recv);
    assert_int_equal(tsr__dist_allgatherv(d, send, mine, recv, counts), TSR_OK);
    uint64_t at = 0;
    for (int p = 0; p < nranks; p++) {
      for (uint64_t i = 0; i < counts[p]; i++)
        assert_int_equal(recv[at + i], byte_of(p, -1, i));
      at += counts[p];
    }
    free(recv);
    free(counts);
    free(send);
  }
  tsr__dist_set_exchange_limits(d, 0, 0);
}

static void test_dist_exchange__stats_argument_errors(void **state) {
  (void)state;
  tsr_exchange_stats s;
  assert_int_equal(tsr_ctx_exchange_stats(NULL, &s), TSR_EINVAL);
  assert_int_equal(tsr_ctx_exchange_stats(ctx, NULL), TSR_EINVAL);
}

int main(void) {
  int provided = 0;
  MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  if (tsr_ctx_create(&ctx) != TSR_OK) {
    fprintf(stderr, "tsr_ctx_create: %s\n", tsr_last_error());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  d = tsr__dist_get(ctx);
  if (d == NULL || tsr__dist_size(d) != nranks) {
    fprintf(stderr, "rank %d: the context is not on %d ranks\n", rank, nranks);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dist_exchange__alltoallv_in_one_round),
      cmocka_unit_test(test_dist_exchange__alltoallv_in_rounds),
      cmocka_unit_test(test_dist_exchange__alltoallv_staged),
      cmocka_unit_test(test_dist_exchange__allgatherv),
      cmocka_unit_test(test_dist_exchange__stats_argument_errors),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  int any = 0;
  MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  tsr_ctx_destroy(&ctx);
  MPI_Finalize();
  return any ? 1 : 0;
}

/* dist_harness.h — what the frame tests under mpiexec share: a distributed
 * context (every rank computes its chunks) and a local one on every rank
 * (one rank's reference: not distributed, serial executor), this rank and
 * the rank count, and main's frame: 77 (skipped) when not started by
 * mpiexec, the tests, then a leak check of both contexts. */
#ifndef TSR_TEST_DIST_HARNESS_H
#define TSR_TEST_DIST_HARNESS_H

#include <stdio.h>

#include <mpi.h>

#include "test_util.h"

static tsr_ctx *dist_ctx, *local_ctx;
static int rank, nranks;

/* A run observer (tsr_ctx_set_run_observer, tsr_compute_options.on_stats)
 * adding each run's chunk-message bytes to *(uint64_t *)user. */
static inline void dist_add_bytes_sent(const tsr_run_stats *st, void *user) {
  *(uint64_t *)user += st->bytes_sent;
}

/* Runs the n tests of `name` (the program's name, for messages): the exit
 * status of main. */
static int dist_harness_run(const char *name, const struct CMUnitTest *tests, size_t n) {
  if (tsr_ctx_create(&dist_ctx) != TSR_OK || tsr_ctx_create(&local_ctx) != TSR_OK)
    return 1;
  rank = tsr_ctx_rank(dist_ctx);
  nranks = tsr_ctx_nranks(dist_ctx);
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (!initialised) {
    fprintf(stderr, "%s: not started by mpiexec\n", name);
    return 77;
  }
  if (tsr_ctx_set_distributed(local_ctx, false) != TSR_OK ||
      tsr_ctx_set_executor(local_ctx, TSR_EXECUTOR_SERIAL) != TSR_OK)
    return 1;
  int failed = _cmocka_run_group_tests(name, tests, n, NULL, NULL);
  tsr_memory_stats m;
  int leaked = 0;
  tsr_ctx *ctxs[2] = {dist_ctx, local_ctx};
  for (int i = 0; i < 2; i++)
    if (tsr_ctx_memory_stats(ctxs[i], &m) == TSR_OK && m.current_bytes != 0) {
      fprintf(stderr, "rank %d: context %d leaked %llu bytes\n", rank, i,
              (unsigned long long)m.current_bytes);
      leaked = 1;
    }
  tsr_ctx_destroy(&local_ctx);
  tsr_ctx_destroy(&dist_ctx);
  return failed || leaked;
}
#define DIST_HARNESS_RUN(name, tests) \
  dist_harness_run(name, tests, sizeof(tests) / sizeof((tests)[0]))

#endif

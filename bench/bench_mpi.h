/* bench_mpi.h — what the MPI benchmarks (bench_dist, bench_dist_frames)
 * share: this process's place among the ranks, an abort for CHECK's
 * failures, and a barrier that sleeps instead of spinning. */
#ifndef TSR_BENCH_MPI_H
#define TSR_BENCH_MPI_H

#include <stdbool.h>

/* mpi is false when not started by a launcher (then MPI is never touched,
 * rank 0 of 1). */
typedef struct world {
  bool mpi;
  int rank, P;
} world;

/* MPI_Abort when MPI is up and running (bench_die_hook: the other ranks
 * must not wait forever for one that failed). */
void bench_abort_mpi(void);
/* A barrier that does not spin: every rank enters it, rank 0 once its solo
 * work is done, the others at once, and they sleep (1 ms at a time) until
 * rank 0 arrives: Open MPI's MPI_Barrier busy-polls and would take the
 * cores rank 0's threads need.  Rank 0 first sleeps 50 ms, until the idle
 * OpenMP workers of its solo run stop spinning (they cost a rank's next
 * timed run about 5 ms, q1 of bench_dist_frames 0.0185 s against 0.0133 s). */
void bench_idle_barrier(const world *wd);

#endif

/* bench_mpi.c — see bench_mpi.h. */
#include "bench_mpi.h"

#include <mpi.h>
#include <time.h>

void bench_abort_mpi(void) {
  int initialised = 0, finalised = 0;
  MPI_Initialized(&initialised);
  MPI_Finalized(&finalised);
  if (initialised && !finalised)
    MPI_Abort(MPI_COMM_WORLD, 1);
}

void bench_idle_barrier(const world *wd) {
  if (!wd->mpi)
    return;
  /* Rank 0's single-rank context left OpenMP workers spinning (libgomp
   * spins for some milliseconds before it sleeps): let them sleep first, or
   * they take a core from the ranks' next timed run. */
  if (wd->rank == 0) {
    const struct timespec settle = {0, 50 * 1000000};
    nanosleep(&settle, NULL);
  }
  MPI_Request req;
  MPI_Ibarrier(MPI_COMM_WORLD, &req);
  const struct timespec ms = {0, 1000000};
  for (int done = 0; !done;) {
    MPI_Test(&req, &done, MPI_STATUS_IGNORE);
    if (!done)
      nanosleep(&ms, NULL);
  }
}

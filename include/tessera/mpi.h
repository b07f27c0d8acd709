/* tessera/mpi.h — for programs that use MPI themselves: run a context on
 * their own communicator.  Includes mpi.h; tessera/tessera.h does not
 * include this header. */
#ifndef TESSERA_MPI_H
#define TESSERA_MPI_H

#include <mpi.h>

#include <tessera/dist.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Collective over `comm`: the context computes on the ranks of `comm` (a
 * duplicate of it, freed with the context).  MPI must be initialised, at
 * MPI_THREAD_SERIALIZED or more when the context runs more than one
 * thread.  Call it before the context's first compute. */
TSR_API TSR_NODISCARD tsr_status tsr_ctx_set_comm(tsr_ctx *ctx, MPI_Comm comm);

#ifdef __cplusplus
}
#endif

#endif /* TESSERA_MPI_H */

/* tessera/dist.h — running one program on many ranks (docs/architecture.md,
 * "Distribution").
 *
 * The same program runs on every rank (SPMD): every rank makes the same
 * tessera calls in the same order, so every rank builds the same graphs.
 * Each output chunk has an owner rank, which computes it; chunks a task on
 * another rank needs are sent to it.  A context is distributed when the
 * program was started by mpirun, mpiexec or srun (detected from the
 * launcher's environment; TESSERA_MPI=0 or 1 overrides) or when the program
 * initialised MPI itself; MPI is then initialised (if the program did not)
 * at MPI_THREAD_MULTIPLE, on first use, and finalised at exit.  Started
 * without a launcher, a program never touches MPI and has one rank.
 *
 * Every call below that makes the state (the first one on a context) is
 * collective.  MPI types stay in tessera/mpi.h. */
#ifndef TESSERA_DIST_H
#define TESSERA_DIST_H

#include <tessera/core.h>

#ifdef __cplusplus
extern "C" {
#endif

/* This rank (0-based) and the number of ranks; 0 and 1 when the context is
 * not distributed, or when MPI could not be set up (tsr_last_error()). */
TSR_API int tsr_ctx_rank(tsr_ctx *ctx);
TSR_API int tsr_ctx_nranks(tsr_ctx *ctx);

/* false: this context computes alone on this rank (one rank, no messages),
 * even under a launcher; true (default): distributed when launched so.
 * Set it before the context's first compute. */
TSR_API TSR_NODISCARD tsr_status tsr_ctx_set_distributed(tsr_ctx *ctx, bool distributed);

/* Chunk ownership: with block b >= 1, chunk c (C order over an array's
 * chunk grid) is owned by rank (c / b) mod P (block-cyclic); with b = 0
 * (the default; TESSERA_OWNER_BLOCK sets it too), rank r owns the balanced
 * contiguous run of chunks [r*n/P, (r+1)*n/P).  Must be the same on every
 * rank. */
TSR_API TSR_NODISCARD tsr_status tsr_ctx_set_owner_block(tsr_ctx *ctx, int64_t block);

/* Collective error agreement for the caller's own steps: every rank passes
 * its status (its message in tsr_last_error()); every rank returns the
 * status of the lowest failing rank and gets its message, prefixed
 * "rank R: ", as tsr_last_error().  TSR_OK on every rank when none failed. */
TSR_API TSR_NODISCARD tsr_status tsr_ctx_agree(tsr_ctx *ctx, tsr_status status);

/* Collective: copies `bytes` bytes at `buf` on rank `root` into `buf` on
 * every other rank (any size; e.g. a program text rank 0 read from its
 * standard input).  Nothing to do when the context is not distributed.
 * TSR_EINVAL for a NULL ctx, a NULL buf with bytes > 0 or a root that is
 * not a rank; TSR_EMPI. */
TSR_API TSR_NODISCARD tsr_status tsr_ctx_broadcast(tsr_ctx *ctx, void *buf, size_t bytes, int root);

/* The data this rank moved in the frame layer's exchanges between ranks
 * (group-by shuffles of partial states, join broadcasts and shuffles, sort
 * partitions, results gathered on every rank) since the context was made:
 * bytes sent to and received from other ranks (its own share not counted)
 * and the number of exchanges.  Chunks the task graphs send are counted in
 * tsr_run_stats instead.  All zero on one rank. */
typedef struct tsr_exchange_stats {
  uint64_t bytes_sent, bytes_received;
  uint64_t exchanges;
} tsr_exchange_stats;
TSR_API TSR_NODISCARD tsr_status tsr_ctx_exchange_stats(tsr_ctx *ctx, tsr_exchange_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* TESSERA_DIST_H */

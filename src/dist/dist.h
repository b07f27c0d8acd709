/* dist.h — the distribution layer's internal interface (docs/architecture.md,
 * "Distribution"): which rank this is, who owns a chunk, point-to-point
 * chunk messages and the collectives the runtime needs.  dist/ is the only
 * place that includes mpi.h (besides HDF5's own headers); everything here
 * hides MPI types behind opaque requests, so sched/ and the layers above
 * compile without MPI.
 *
 * A context is distributed when the program was started by a launcher
 * (mpirun, mpiexec, srun: detected from the environment) or when the program
 * initialised MPI itself; otherwise it has one rank and MPI is never
 * touched.  The state is made on first use (tsr__dist_get), collectively:
 * every rank makes the same calls in the same order (SPMD). */
#ifndef TSR_DIST_H
#define TSR_DIST_H

#include "core/core_impl.h"

typedef struct tsr__dist tsr__dist;

/* An MPI request, opaque (MPI_Request fits in 8 bytes in Open MPI and
 * MPICH; comm.c checks). */
typedef struct tsr__dist_req {
  _Alignas(8) unsigned char opaque[8];
} tsr__dist_req;

/* The context's distribution state, made on first use.  NULL (and
 * tsr_last_error set) when MPI could not be set up. */
tsr__dist *tsr__dist_get(tsr_ctx *ctx);
/* Rank and size; a context that is not distributed is rank 0 of 1. */
int tsr__dist_rank(const tsr__dist *d);
int tsr__dist_size(const tsr__dist *d);
/* The largest tag a chunk message may use. */
int tsr__dist_tag_ub(const tsr__dist *d);

/* The owner of chunk c of n (C order) under the context's policy: block-
 * cyclic with the context's block size, or, by default (block 0), balanced
 * contiguous runs of chunks (rank r owns chunks [r*n/P, (r+1)*n/P)).
 * 0 when the context is not distributed. */
int tsr__dist_chunk_owner(tsr_ctx *ctx, int64_t c, int64_t n);

/* Collective error agreement: every rank passes its own status (with its
 * message in tsr_last_error() when failing); every rank gets back the status
 * of the lowest failing rank, with that rank's message prefixed "rank R: "
 * set as its own last error.  TSR_OK everywhere when no rank failed. */
tsr_status tsr__dist_agree(tsr__dist *d, tsr_status status);
/* Collective, one MPI_Allreduce: tsr__dist_agree's verdict on status and,
 * when every rank passed TSR_OK, min[i] and max[i] of values[i] over the
 * ranks, for i < n <= TSR__DIST_MINMAX_MAX (the agreement and the
 * minima and maxima a step needs, in one round trip).  tsr__dist_agree is
 * this with n = 0, and the call is the same whatever n: an agreement meets
 * any other (a rank that failed alone agrees where the others' next
 * collective step agrees, with values or without). */
#define TSR__DIST_MINMAX_MAX 2
tsr_status tsr__dist_agree_minmax(tsr__dist *d, tsr_status status, const uint64_t *values, int n,
                                  uint64_t *min, uint64_t *max);
/* Collective: the minimum and maximum of `value` over the ranks. */
tsr_status tsr__dist_minmax_u64(tsr__dist *d, uint64_t value, uint64_t *min, uint64_t *max);
/* Collective: the sum of `value` over the ranks. */
tsr_status tsr__dist_sum_u64(tsr__dist *d, uint64_t value, uint64_t *sum);
/* Collective: values[i] becomes its sum over the ranks, for i < n. */
tsr_status tsr__dist_sum_i64s(tsr__dist *d, int64_t *values, int64_t n);
/* Collective: sends counts[p] uint32 values from send (grouped by
 * destination rank, in rank order) and receives the others' into *recv
 * (malloc'ed, the caller frees it; recv_counts[p] from each rank,
 * recv_counts has size() entries).  Used on the failure path only. */
tsr_status tsr__dist_alltoallv_u32(tsr__dist *d, const uint32_t *send, const uint64_t *counts,
                                   uint32_t **recv, uint64_t *recv_counts);

/* TSR_OK for MPI_SUCCESS, else TSR_EMPI with "what: MPI's message". */
tsr_status tsr__dist_mpi_check(int rc, const char *what);

/* ---- exchanges of frame data (exchange.c) ----
 * Collective, any sizes (rounds below MPI's int counts).  Every rank calls
 * with the same P-entry arrays' meaning; buffers are the caller's. */
/* recv_counts[p] = what rank p sends this rank (send_counts[q]: to rank q). */
tsr_status tsr__dist_exchange_counts(tsr__dist *d, const uint64_t *send_counts,
                                     uint64_t *recv_counts);
/* counts[p] = rank p's `count`. */
tsr_status tsr__dist_gather_counts(tsr__dist *d, uint64_t count, uint64_t *counts);
/* Sends send_counts[p] bytes at send + send_off[p] to rank p (pieces may
 * overlap) and receives recv_counts[p] bytes from rank p into recv, back to
 * back in rank order (recv holds their sum; this rank's own piece is copied).
 * Errors are agreed: every rank returns the same status. */
tsr_status tsr__dist_alltoallv(tsr__dist *d, const void *send, const uint64_t *send_off,
                               const uint64_t *send_counts, void *recv,
                               const uint64_t *recv_counts);
/* Every rank's `bytes` bytes at send, back to back in rank order, into recv
 * (recv_counts from tsr__dist_gather_counts). */
tsr_status tsr__dist_allgatherv(tsr__dist *d, const void *send, uint64_t bytes, void *recv,
                                const uint64_t *recv_counts);
/* The bytes a rank sends in one round (2^30), and the offset beyond which a
 * piece is staged instead of sent in place (INT_MAX).  Tests set them small
 * to exercise rounds and staging; 0 restores a default. */
uint64_t tsr__dist_round_bytes(const tsr__dist *d);
uint64_t tsr__dist_in_place_max(const tsr__dist *d);
void tsr__dist_set_exchange_limits(tsr__dist *d, uint64_t round_bytes, uint64_t in_place_max);
/* Adds to the context's tsr_exchange_stats. */
void tsr__dist_count_exchange(tsr__dist *d, uint64_t sent, uint64_t received);

/* Collective: rank `root`'s `bytes` bytes at buf, on every rank. */
tsr_status tsr__dist_bcast(tsr__dist *d, void *buf, size_t bytes, int root);
/* The context's communicator, as a pointer to its MPI_Comm (for parallel
 * HDF5 in io/, which gets MPI from HDF5's own headers); NULL when not
 * distributed. */
const void *tsr__dist_comm(const tsr__dist *d);
/* Whether MPI runs at MPI_THREAD_MULTIPLE (MPI-IO from worker threads while
 * the progress loop sends and receives). */
bool tsr__dist_thread_multiple(const tsr__dist *d);
/* Whether any thread may call MPI, one at a time (the progress loop). */
bool tsr__dist_thread_serialized(const tsr__dist *d);

/* Point-to-point (chunk messages and abort notices).  Bytes up to INT_MAX. */
tsr_status tsr__dist_isend(tsr__dist *d, const void *buf, size_t bytes, int peer, int tag,
                           tsr__dist_req *req);
tsr_status tsr__dist_irecv(tsr__dist *d, void *buf, size_t bytes, int peer, int tag,
                           tsr__dist_req *req);
/* Any source (peer < 0 in irecv means any). */
#define TSR__DIST_ANY_SOURCE (-1)
/* Tests one request: *done set when it completed (the request is then
 * freed); *source is the sender for receives (may be NULL). */
tsr_status tsr__dist_test(tsr__dist_req *req, bool *done, int *source);
/* Blocks until the request completes. */
tsr_status tsr__dist_wait(tsr__dist_req *req);
/* Cancels a receive that may not have matched and waits for it: *cancelled
 * tells whether it was cancelled (else it completed). */
tsr_status tsr__dist_cancel(tsr__dist_req *req, bool *cancelled);

#endif /* TSR_DIST_H */

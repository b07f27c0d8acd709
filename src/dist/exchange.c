/* exchange.c — the collectives that move a frame operation's data between
 * ranks (docs/scaling.md, "Frames across ranks"): all-to-all exchanges
 * (shuffles by key hash or key range) and all-gathers (broadcasts of a small
 * join side, results every rank holds), of any size.
 *
 * MPI's counts and displacements are ints and Open MPI 4.1 has no large-
 * count calls, so an exchange runs in rounds: in each round a rank sends
 * every peer at most `round / P` bytes of what is left for it, so a round's
 * counts and displacements stay below 2^31.  A round whose pieces lie within
 * 2^31 - 1 bytes of the buffers' starts is sent in place; otherwise the
 * pieces are staged through a buffer of `round` bytes (only exchanges over
 * 2 GiB per rank pay that copy).  Every rank derives the number of rounds
 * from the same counts (an all-reduce of its largest piece count), so the
 * rounds match.  The bytes each rank sends and receives (its own share not
 * counted) add to the context's exchange statistics. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "dist.h"

tsr_status tsr__dist_exchange_counts(tsr__dist *d, const uint64_t *send_counts,
                                     uint64_t *recv_counts) {
  int P = tsr__dist_size(d);
  if (P == 1) {
    recv_counts[0] = send_counts[0];
    return TSR_OK;
  }
  MPI_Comm comm = *(const MPI_Comm *)tsr__dist_comm(d);
  return tsr__dist_mpi_check(
      MPI_Alltoall(send_counts, 1, MPI_UINT64_T, recv_counts, 1, MPI_UINT64_T, comm),
      "MPI_Alltoall (exchange counts)");
}

tsr_status tsr__dist_gather_counts(tsr__dist *d, uint64_t count, uint64_t *counts) {
  int P = tsr__dist_size(d);
  if (P == 1) {
    counts[0] = count;
    return TSR_OK;
  }
  MPI_Comm comm = *(const MPI_Comm *)tsr__dist_comm(d);
  return tsr__dist_mpi_check(MPI_Allgather(&count, 1, MPI_UINT64_T, counts, 1, MPI_UINT64_T, comm),
                             "MPI_Allgather (gather counts)");
}

/* One side of a round: P pieces (offset off[p] + done[p], length len[p])
 * of `buf`, as int counts and displacements, or staged. */
typedef struct side {
  int *count, *displ;
  bool staged;
} side;

/* Fills a side for this round: in place when every piece ends below
 * in_place_max (INT_MAX), else laid out back to back in the staging buffer. */
static void plan_side(int P, const uint64_t *off, const uint64_t *done, const uint64_t *len,
                      uint64_t in_place_max, side *s) {
  s->staged = false;
  for (int p = 0; p < P; p++)
    if (off[p] + done[p] + len[p] > in_place_max)
      s->staged = true;
  uint64_t at = 0;
  for (int p = 0; p < P; p++) {
    s->count[p] = (int)len[p];
    s->displ[p] = (int)(s->staged ? at : off[p] + done[p]);
    at += len[p];
  }
}

tsr_status tsr__dist_alltoallv(tsr__dist *d, const void *send, const uint64_t *send_off,
                               const uint64_t *send_counts, void *recv,
                               const uint64_t *recv_counts) {
  int P = tsr__dist_size(d), me = tsr__dist_rank(d);
  uint64_t *recv_off = NULL, *sdone = NULL, *rdone = NULL, *slen = NULL, *rlen = NULL;
  int *ints = NULL;
  char *stage = NULL;
  tsr_status status = TSR_OK;
  if (P == 1) {
    if (send_counts[0] > 0)
      memmove(recv, (const char *)send + send_off[0], send_counts[0]);
    return TSR_OK;
  }
  uint64_t round = tsr__dist_round_bytes(d), quota = round / (uint64_t)P;
  uint64_t in_place_max = tsr__dist_in_place_max(d);
  if (quota == 0)
    quota = 1;
  /* Allocations first, then agree: no rank may leave before the rounds. */
  recv_off = calloc((size_t)P * 5, sizeof *recv_off);
  ints = calloc((size_t)P * 4, sizeof *ints);
  bool big = false;
  for (int p = 0; p < P && recv_off != NULL; p++) {
    uint64_t pieces_end_s = send_off[p] + send_counts[p];
    big = big || pieces_end_s > in_place_max;
  }
  if (recv_off != NULL) {
    uint64_t total = 0;
    for (int p = 0; p < P; p++) {
      recv_off[p] = total;
      total += recv_counts[p];
    }
    big = big || total > in_place_max;
  }
  if (big)
    stage = malloc((size_t)quota * (size_t)P * 2);
  if (recv_off == NULL || ints == NULL || (big && stage == NULL))
    status = tsr_error_set(TSR_ENOMEM, "exchange between ranks: out of memory for %s",
                           big ? "the staging buffers" : "the counts");
  status = tsr__dist_agree(d, status);
  if (status != TSR_OK)
    goto done;
  sdone = recv_off + P;
  rdone = recv_off + 2 * P;
  slen = recv_off + 3 * P;
  rlen = recv_off + 4 * P;
  side s = {ints, ints + P, false}, r = {ints + 2 * P, ints + 3 * P, false};
  uint64_t most = 0, sent = 0, received = 0;
  for (int p = 0; p < P; p++) {
    uint64_t ns = (send_counts[p] + quota - 1) / quota, nr = (recv_counts[p] + quota - 1) / quota;
    most = ns > most ? ns : most;
    most = nr > most ? nr : most;
    if (p != me) {
      sent += send_counts[p];
      received += recv_counts[p];
    }
  }
  uint64_t rounds = 0;
  status = tsr__dist_mpi_check(
      MPI_Allreduce(&most, &rounds, 1, MPI_UINT64_T, MPI_MAX, *(const MPI_Comm *)tsr__dist_comm(d)),
      "MPI_Allreduce (exchange rounds)");
  MPI_Comm comm = *(const MPI_Comm *)tsr__dist_comm(d);
  for (uint64_t k = 0; k < rounds && status == TSR_OK; k++) {
    for (int p = 0; p < P; p++) {
      uint64_t ls = send_counts[p] - sdone[p], lr = recv_counts[p] - rdone[p];
      slen[p] = ls < quota ? ls : quota;
      rlen[p] = lr < quota ? lr : quota;
    }
    plan_side(P, send_off, sdone, slen, in_place_max, &s);
    plan_side(P, recv_off, rdone, rlen, in_place_max, &r);
    char *sbuf = (char *)send, *rbuf = (char *)recv;
    if (s.staged) {
      sbuf = stage;
      for (int p = 0; p < P; p++)
        memcpy(stage + s.displ[p], (const char *)send + send_off[p] + sdone[p], slen[p]);
    }
    if (r.staged)
      rbuf = stage + (size_t)quota * (size_t)P;
    status = tsr__dist_mpi_check(
        MPI_Alltoallv(sbuf, s.count, s.displ, MPI_BYTE, rbuf, r.count, r.displ, MPI_BYTE, comm),
        "MPI_Alltoallv (exchange)");
    if (status == TSR_OK && r.staged)
      for (int p = 0; p < P; p++)
        memcpy((char *)recv + recv_off[p] + rdone[p], rbuf + r.displ[p], rlen[p]);
    for (int p = 0; p < P; p++) {
      sdone[p] += slen[p];
      rdone[p] += rlen[p];
    }
  }
  if (status == TSR_OK)
    tsr__dist_count_exchange(d, sent, received);
done:
  free(stage);
  free(ints);
  free(recv_off);
  return status;
}

tsr_status tsr__dist_allgatherv(tsr__dist *d, const void *send, uint64_t bytes, void *recv,
                                const uint64_t *recv_counts) {
  int P = tsr__dist_size(d);
  uint64_t *sc = calloc((size_t)P * 2, sizeof *sc);
  tsr_status status =
      sc != NULL ? TSR_OK : tsr_error_set(TSR_ENOMEM, "gather between ranks: out of memory");
  status = tsr__dist_agree(d, status);
  if (status != TSR_OK) {
    free(sc);
    return status;
  }
  for (int p = 0; p < P; p++)
    sc[p] = bytes; /* the same bytes to every rank, from offset 0 */
  status = tsr__dist_alltoallv(d, send, sc + P, sc, recv, recv_counts);
  free(sc);
  return status;
}

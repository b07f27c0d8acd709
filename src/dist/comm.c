/* comm.c — a context's distribution state: detecting the launcher,
 * initialising MPI (only when launched under one, so a standalone run pays
 * nothing), the context's own communicator, chunk ownership, and the small
 * collectives the runtime uses (error agreement, sums, id exchange).
 *
 * Every MPI call here reports failure as TSR_EMPI with MPI's own text: the
 * context's communicator is set to MPI_ERRORS_RETURN. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include <tessera/mpi.h>

#include "dist.h"

_Static_assert(sizeof(MPI_Request) <= sizeof(tsr__dist_req), "MPI_Request does not fit");

struct tsr__dist {
  bool distributed; /* false: one rank, no MPI */
  bool have_comm;
  MPI_Comm comm;
  int rank, size;
  int tag_ub;
  int thread_level;    /* MPI_Query_thread */
  int64_t owner_block; /* 0: balanced contiguous runs */
  uint64_t round_bytes; /* an exchange's bytes per rank per round (exchange.c) */
  uint64_t in_place_max; /* pieces ending beyond this are staged (INT_MAX) */
  tsr_exchange_stats exchanged;
};

static void finalize_at_exit(void) {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized)
    MPI_Finalize();
}

tsr_status tsr__dist_mpi_check(int rc, const char *what) {
  if (rc == MPI_SUCCESS)
    return TSR_OK;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS)
    snprintf(text, sizeof text, "error %d", rc);
  return tsr_error_set(TSR_EMPI, "%s: %s", what, text);
}

/* Started by a launcher?  TESSERA_MPI=0/1 decides; else Open MPI's mpirun,
 * PMIx (srun --mpi=pmix, prterun), PMI (MPICH's hydra, srun) variables. */
static bool launched(void) {
  const char *v = getenv("TESSERA_MPI"); /* "0" or "1": checked by tsr_ctx_create */
  if (v != NULL && v[0] != '\0')
    return strcmp(v, "0") != 0;
  static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
    if (getenv(vars[i]) != NULL)
      return true;
  return false;
}

static void dist_free(void *p) {
  tsr__dist *d = p;
  if (d == NULL)
    return;
  int finalized = 1;
  if (d->have_comm && MPI_Finalized(&finalized) == MPI_SUCCESS && !finalized)
    MPI_Comm_free(&d->comm);
  free(d);
}

/* tsr_ctx_create checked the variable; a value set since is still never
 * taken silently. */
static bool owner_block_from_env(int64_t *block) {
  const char *v = getenv("TESSERA_OWNER_BLOCK");
  long long b = 0;
  if (v != NULL && v[0] != '\0' && !tsr__parse_owner_block(v, &b)) {
    tsr_error_set(TSR_EINVAL,
                  "TESSERA_OWNER_BLOCK='%s': use a whole number of chunks >= 1 (block-cyclic) "
                  "or 0 (balanced contiguous runs)",
                  v);
    return false;
  }
  *block = b;
  return true;
}

/* Counts the ranks of d's communicator on this node and gives ctx's
 * allocator cache their share of the node's memory (collective). */
static tsr_status share_node_memory(tsr_ctx *ctx, tsr__dist *d) {
  MPI_Comm node;
  TSR_TRY(tsr__dist_mpi_check(
      MPI_Comm_split_type(d->comm, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &node),
      "MPI_Comm_split_type"));
  int on_node = 1;
  tsr_status st = tsr__dist_mpi_check(MPI_Comm_size(node, &on_node), "MPI_Comm_size");
  MPI_Comm_free(&node);
  if (st == TSR_OK)
    tsr__alloc_set_cache_sharers(&ctx->alloc, (uint32_t)on_node);
  return st;
}

/* Uses `comm` (duplicated) as ctx's communicator. */
static tsr_status attach(tsr_ctx *ctx, tsr__dist *d, MPI_Comm comm) {
  TSR_TRY(tsr__dist_mpi_check(MPI_Comm_dup(comm, &d->comm), "MPI_Comm_dup"));
  d->have_comm = true;
  MPI_Comm_set_errhandler(d->comm, MPI_ERRORS_RETURN);
  TSR_TRY(tsr__dist_mpi_check(MPI_Comm_rank(d->comm, &d->rank), "MPI_Comm_rank"));
  TSR_TRY(tsr__dist_mpi_check(MPI_Comm_size(d->comm, &d->size), "MPI_Comm_size"));
  int *ub = NULL, flag = 0;
  MPI_Comm_get_attr(d->comm, MPI_TAG_UB, &ub, &flag);
  d->tag_ub = flag && ub != NULL ? *ub : 32767;
  MPI_Query_thread(&d->thread_level);
  d->distributed = d->size > 1;
  return share_node_memory(ctx, d);
}

/* Why the calling thread's last make_state failed. */
static _Thread_local tsr_status make_state_status = TSR_ENOMEM;

static tsr__dist *make_state(tsr_ctx *ctx) {
  tsr__dist *d = calloc(1, sizeof *d);
  if (d == NULL) {
    make_state_status = tsr_error_set(TSR_ENOMEM, "distribution state: out of memory");
    return NULL;
  }
  d->size = 1;
  d->tag_ub = INT_MAX;
  d->round_bytes = (uint64_t)1 << 30;
  d->in_place_max = INT_MAX;
  if (!owner_block_from_env(&d->owner_block)) {
    make_state_status = TSR_EINVAL;
    free(d);
    return NULL;
  }
  tsr__ctx_set_dist(ctx, d, dist_free);
  return d;
}

tsr__dist *tsr__dist_get(tsr_ctx *ctx) {
  tsr__dist *d = tsr__ctx_dist(ctx);
  if (d != NULL)
    return d;
  d = make_state(ctx);
  if (d == NULL)
    return NULL;
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (!initialised) {
    if (!launched())
      return d; /* standalone: one rank, MPI untouched */
    int provided = 0;
    if (tsr__dist_mpi_check(MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &provided),
                            "MPI_Init_thread") != TSR_OK)
      return NULL;
    atexit(finalize_at_exit);
  }
  if (attach(ctx, d, MPI_COMM_WORLD) != TSR_OK)
    return NULL;
  return d;
}

int tsr__dist_rank(const tsr__dist *d) { return d != NULL && d->distributed ? d->rank : 0; }
int tsr__dist_size(const tsr__dist *d) { return d != NULL && d->distributed ? d->size : 1; }
int tsr__dist_tag_ub(const tsr__dist *d) { return d->tag_ub; }

int tsr__dist_chunk_owner(tsr_ctx *ctx, int64_t c, int64_t n) {
  tsr__dist *d = tsr__ctx_dist(ctx);
  int P = tsr__dist_size(d);
  if (P == 1 || n <= 0)
    return 0;
  if (d->owner_block > 0)
    return (int)((c / d->owner_block) % P);
  /* floor(c * P / n) without overflow for any realistic n and P. */
  return (int)(((__int128)c * P) / n);
}

uint64_t tsr__dist_round_bytes(const tsr__dist *d) { return d->round_bytes; }
uint64_t tsr__dist_in_place_max(const tsr__dist *d) { return d->in_place_max; }

void tsr__dist_set_exchange_limits(tsr__dist *d, uint64_t round_bytes, uint64_t in_place_max) {
  d->round_bytes = round_bytes > 0 ? round_bytes : (uint64_t)1 << 30;
  d->in_place_max = in_place_max > 0 && in_place_max < INT_MAX ? in_place_max : INT_MAX;
}

void tsr__dist_count_exchange(tsr__dist *d, uint64_t sent, uint64_t received) {
  d->exchanged.bytes_sent += sent;
  d->exchanged.bytes_received += received;
  d->exchanged.exchanges++;
}

/* ---- the public face -------------------------------------------------------- */

tsr_status tsr_ctx_exchange_stats(tsr_ctx *ctx, tsr_exchange_stats *stats) {
  TSR_CHECK(ctx != NULL && stats != NULL, TSR_EINVAL, "tsr_ctx_exchange_stats: %s is NULL",
            ctx == NULL ? "ctx" : "stats");
  tsr__dist *d = tsr__ctx_dist(ctx);
  memset(stats, 0, sizeof *stats);
  if (d != NULL)
    *stats = d->exchanged;
  return TSR_OK;
}

int tsr_ctx_rank(tsr_ctx *ctx) { return ctx ? tsr__dist_rank(tsr__dist_get(ctx)) : 0; }
int tsr_ctx_nranks(tsr_ctx *ctx) { return ctx ? tsr__dist_size(tsr__dist_get(ctx)) : 1; }

tsr_status tsr_ctx_set_distributed(tsr_ctx *ctx, bool distributed) {
  TSR_CHECK(ctx != NULL, TSR_EINVAL, "tsr_ctx_set_distributed: ctx is NULL");
  tsr__dist *d = tsr__ctx_dist(ctx);
  if (!distributed) {
    if (d == NULL && (d = make_state(ctx)) == NULL)
      return make_state_status;
    d->distributed = false;
    return TSR_OK;
  }
  if (d == NULL)
    return tsr__dist_get(ctx) != NULL ? TSR_OK : TSR_EMPI;
  d->distributed = d->have_comm && d->size > 1;
  return TSR_OK;
}

tsr_status tsr_ctx_set_owner_block(tsr_ctx *ctx, int64_t block) {
  TSR_CHECK(ctx != NULL, TSR_EINVAL, "tsr_ctx_set_owner_block: ctx is NULL");
  TSR_CHECK(block >= 0, TSR_EINVAL, "tsr_ctx_set_owner_block: block = %lld is negative",
            (long long)block);
  tsr__dist *d = tsr__ctx_dist(ctx);
  if (d == NULL && (d = make_state(ctx)) == NULL)
    return make_state_status;
  d->owner_block = block;
  return TSR_OK;
}

tsr_status tsr_ctx_set_comm(tsr_ctx *ctx, MPI_Comm comm) {
  TSR_CHECK(ctx != NULL, TSR_EINVAL, "tsr_ctx_set_comm: ctx is NULL");
  int initialised = 0;
  MPI_Initialized(&initialised);
  TSR_CHECK(initialised, TSR_EMPI,
            "tsr_ctx_set_comm: MPI is not initialised (call MPI_Init_thread first)");
  TSR_CHECK(comm != MPI_COMM_NULL, TSR_EINVAL, "tsr_ctx_set_comm: comm is MPI_COMM_NULL");
  tsr__dist *d = tsr__ctx_dist(ctx);
  if (d == NULL && (d = make_state(ctx)) == NULL)
    return make_state_status;
  if (d->have_comm) {
    MPI_Comm_free(&d->comm);
    d->have_comm = false;
  }
  return attach(ctx, d, comm);
}

tsr_status tsr_ctx_agree(tsr_ctx *ctx, tsr_status status) {
  TSR_CHECK(ctx != NULL, TSR_EINVAL, "tsr_ctx_agree: ctx is NULL");
  tsr__dist *d = tsr__dist_get(ctx);
  if (d == NULL)
    return TSR_EMPI;
  return tsr__dist_agree(d, status);
}

tsr_status tsr_ctx_broadcast(tsr_ctx *ctx, void *buf, size_t bytes, int root) {
  TSR_CHECK(ctx != NULL, TSR_EINVAL, "tsr_ctx_broadcast: ctx is NULL");
  TSR_CHECK(buf != NULL || bytes == 0, TSR_EINVAL, "tsr_ctx_broadcast: buf is NULL");
  tsr__dist *d = tsr__dist_get(ctx);
  if (d == NULL)
    return TSR_EMPI;
  TSR_CHECK(root >= 0 && root < tsr__dist_size(d), TSR_EINVAL,
            "tsr_ctx_broadcast: root %d is not a rank (0 to %d)", root, tsr__dist_size(d) - 1);
  if (!d->distributed)
    return TSR_OK;
  for (size_t at = 0; at < bytes;) { /* MPI counts are ints: pieces of at most 1 GiB */
    size_t piece = bytes - at < ((size_t)1 << 30) ? bytes - at : (size_t)1 << 30;
    TSR_TRY(tsr__dist_mpi_check(MPI_Bcast((char *)buf + at, (int)piece, MPI_BYTE, root, d->comm),
                                "MPI_Bcast"));
    at += piece;
  }
  return TSR_OK;
}

/* ---- collectives ------------------------------------------------------------ */

#define AGREE_MESSAGE_BYTES 1024

/* Already "rank N: ..."?  Then an agreement does not prefix it again. */
static bool has_rank_prefix(const char *m) {
  if (strncmp(m, "rank ", 5) != 0)
    return false;
  m += 5;
  if (*m < '0' || *m > '9')
    return false;
  while (*m >= '0' && *m <= '9')
    m++;
  return m[0] == ':' && m[1] == ' ';
}

/* The verdict of a failed agreement: rank `lowest`'s status and message,
 * "rank R: " prefixed, set as every rank's last error. */
static tsr_status verdict_of(tsr__dist *d, int lowest, tsr_status status) {
  struct {
    int status;
    char message[AGREE_MESSAGE_BYTES];
  } verdict;
  memset(&verdict, 0, sizeof verdict);
  if (d->rank == lowest) {
    const char *m = tsr_last_error()[0] ? tsr_last_error() : tsr_strerror(status);
    verdict.status = (int)status;
    if (has_rank_prefix(m))
      snprintf(verdict.message, sizeof verdict.message, "%s", m);
    else
      snprintf(verdict.message, sizeof verdict.message, "rank %d: %s", d->rank, m);
  }
  TSR_TRY(tsr__dist_mpi_check(MPI_Bcast(&verdict, (int)sizeof verdict, MPI_BYTE, lowest, d->comm),
                              "MPI_Bcast"));
  verdict.message[sizeof verdict.message - 1] = '\0';
  return tsr_error_set((tsr_status)verdict.status, "%s", verdict.message);
}

tsr_status tsr__dist_agree(tsr__dist *d, tsr_status status) {
  return tsr__dist_agree_minmax(d, status, NULL, 0, NULL, NULL);
}

tsr_status tsr__dist_agree_minmax(tsr__dist *d, tsr_status status, const uint64_t *values, int n,
                                  uint64_t *min, uint64_t *max) {
  for (int i = 0; i < n; i++)
    min[i] = max[i] = values[i];
  if (d == NULL || !d->distributed)
    return status;
  /* One MPI_MAX: the lowest failing rank as ~rank (size: none), each
   * value's minimum as ~value.  Always the whole buffer, whatever n: a
   * failed rank's plain agreement meets another rank's agreement with
   * values (the ranks' calls must match). */
  enum { WORDS = 1 + 2 * TSR__DIST_MINMAX_MAX };
  uint64_t in[WORDS], out[WORDS];
  memset(in, 0, sizeof in);
  in[0] = ~(uint64_t)(status != TSR_OK ? d->rank : d->size);
  for (int i = 0; i < n; i++) {
    in[1 + 2 * i] = ~values[i];
    in[2 + 2 * i] = values[i];
  }
  TSR_TRY(tsr__dist_mpi_check(MPI_Allreduce(in, out, WORDS, MPI_UINT64_T, MPI_MAX, d->comm),
                              "MPI_Allreduce"));
  const int lowest = (int)~out[0];
  if (lowest != d->size)
    return verdict_of(d, lowest, status);
  for (int i = 0; i < n; i++) {
    min[i] = ~out[1 + 2 * i];
    max[i] = out[2 + 2 * i];
  }
  return TSR_OK;
}

tsr_status tsr__dist_minmax_u64(tsr__dist *d, uint64_t value, uint64_t *min, uint64_t *max) {
  return tsr__dist_agree_minmax(d, TSR_OK, &value, 1, min, max);
}

tsr_status tsr__dist_sum_u64(tsr__dist *d, uint64_t value, uint64_t *sum) {
  *sum = value;
  if (!d->distributed)
    return TSR_OK;
  return tsr__dist_mpi_check(MPI_Allreduce(&value, sum, 1, MPI_UINT64_T, MPI_SUM, d->comm),
                             "MPI_Allreduce");
}

tsr_status tsr__dist_sum_i64s(tsr__dist *d, int64_t *values, int64_t n) {
  if (!d->distributed)
    return TSR_OK;
  for (int64_t at = 0; at < n; at += INT_MAX) { /* MPI counts are ints */
    int count = n - at < INT_MAX ? (int)(n - at) : INT_MAX;
    TSR_TRY(tsr__dist_mpi_check(
        MPI_Allreduce(MPI_IN_PLACE, values + at, count, MPI_INT64_T, MPI_SUM, d->comm),
        "MPI_Allreduce"));
  }
  return TSR_OK;
}

tsr_status tsr__dist_alltoallv_u32(tsr__dist *d, const uint32_t *send, const uint64_t *counts,
                                   uint32_t **recv, uint64_t *recv_counts) {
  /* Only used on the failure path, with at most a graph's worth of ids. */
  int P = d->size;
  int *sc = calloc((size_t)P * 4, sizeof *sc);
  if (sc == NULL)
    return tsr_error_set(TSR_ENOMEM, "id exchange: out of memory");
  int *sd = sc + P, *rc = sc + 2 * P, *rd = sc + 3 * P;
  tsr_status status = TSR_OK;
  for (int p = 0; p < P; p++) {
    if (counts[p] > INT_MAX) {
      status = tsr_error_set(TSR_ENOTSUP, "id exchange: %llu ids for one rank",
                             (unsigned long long)counts[p]);
      goto done;
    }
    sc[p] = (int)counts[p];
    sd[p] = p == 0 ? 0 : sd[p - 1] + sc[p - 1];
  }
  status =
      tsr__dist_mpi_check(MPI_Alltoall(sc, 1, MPI_INT, rc, 1, MPI_INT, d->comm), "MPI_Alltoall");
  if (status != TSR_OK)
    goto done;
  uint64_t total = 0;
  for (int p = 0; p < P; p++) {
    rd[p] = (int)total;
    recv_counts[p] = (uint64_t)rc[p];
    total += (uint64_t)rc[p];
  }
  *recv = calloc(total + 1, sizeof **recv);
  if (*recv == NULL) {
    status = tsr_error_set(TSR_ENOMEM, "id exchange: out of memory");
    goto done;
  }
  status = tsr__dist_mpi_check(
      MPI_Alltoallv(send, sc, sd, MPI_UINT32_T, *recv, rc, rd, MPI_UINT32_T, d->comm),
      "MPI_Alltoallv");
done:
  free(sc);
  return status;
}

tsr_status tsr__dist_bcast(tsr__dist *d, void *buf, size_t bytes, int root) {
  if (!d->distributed)
    return TSR_OK;
  TSR_CHECK(bytes <= INT_MAX, TSR_ENOTSUP, "broadcast of %zu bytes", bytes);
  return tsr__dist_mpi_check(MPI_Bcast(buf, (int)bytes, MPI_BYTE, root, d->comm), "MPI_Bcast");
}

const void *tsr__dist_comm(const tsr__dist *d) {
  return d != NULL && d->distributed ? &d->comm : NULL;
}

bool tsr__dist_thread_multiple(const tsr__dist *d) {
  return d != NULL && d->distributed && d->thread_level >= MPI_THREAD_MULTIPLE;
}

bool tsr__dist_thread_serialized(const tsr__dist *d) {
  return d != NULL && d->thread_level >= MPI_THREAD_SERIALIZED;
}

/* ---- point to point ---------------------------------------------------------- */

static MPI_Request *req_of(tsr__dist_req *r) { return (MPI_Request *)(void *)r->opaque; }

tsr_status tsr__dist_isend(tsr__dist *d, const void *buf, size_t bytes, int peer, int tag,
                           tsr__dist_req *req) {
  TSR_CHECK(bytes <= INT_MAX, TSR_ENOTSUP,
            "a chunk of %zu bytes is larger than one MPI message can carry (2 GiB): use smaller "
            "chunks",
            bytes);
  return tsr__dist_mpi_check(MPI_Isend(buf, (int)bytes, MPI_BYTE, peer, tag, d->comm, req_of(req)),
                             "MPI_Isend");
}

tsr_status tsr__dist_irecv(tsr__dist *d, void *buf, size_t bytes, int peer, int tag,
                           tsr__dist_req *req) {
  TSR_CHECK(bytes <= INT_MAX, TSR_ENOTSUP,
            "a chunk of %zu bytes is larger than one MPI message can carry (2 GiB): use smaller "
            "chunks",
            bytes);
  return tsr__dist_mpi_check(MPI_Irecv(buf, (int)bytes, MPI_BYTE, peer < 0 ? MPI_ANY_SOURCE : peer,
                                       tag, d->comm, req_of(req)),
                             "MPI_Irecv");
}

tsr_status tsr__dist_test(tsr__dist_req *req, bool *done, int *source) {
  int flag = 0;
  MPI_Status st;
  TSR_TRY(tsr__dist_mpi_check(MPI_Test(req_of(req), &flag, &st), "MPI_Test"));
  *done = flag != 0;
  if (flag && source != NULL)
    *source = st.MPI_SOURCE;
  return TSR_OK;
}

tsr_status tsr__dist_wait(tsr__dist_req *req) {
  return tsr__dist_mpi_check(MPI_Wait(req_of(req), MPI_STATUS_IGNORE), "MPI_Wait");
}

tsr_status tsr__dist_cancel(tsr__dist_req *req, bool *cancelled) {
  MPI_Status st;
  TSR_TRY(tsr__dist_mpi_check(MPI_Cancel(req_of(req)), "MPI_Cancel"));
  TSR_TRY(tsr__dist_mpi_check(MPI_Wait(req_of(req), &st), "MPI_Wait"));
  int flag = 0;
  MPI_Test_cancelled(&st, &flag);
  *cancelled = flag != 0;
  return TSR_OK;
}

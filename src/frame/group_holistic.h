/* group_holistic.h — holistic aggregates of a group-by (quantiles and
 * median, nunique, the n largest or smallest values) given each row's
 * group id.  The group-by (groupby.c) maps keys to dense group ids; this
 * computes the aggregates that need all of a group's values at once.
 *
 * Work in two phases of independent pieces, so the group-by runs them as
 * parallel tasks:
 *   1. scatter, once per input row chunk (any order, any thread, distinct
 *      chunks concurrently): the chunk's non-null values are copied out,
 *      partitioned by group range (pieces of consecutive group ids) — the
 *      column's chunk and the gids need not outlive the call;
 *   2. piece, once per group range (after every scatter returned; distinct
 *      pieces concurrently): gathers the range's values from every chunk in
 *      chunk order, groups them (a counting sort by group id: each group's
 *      values in row order) and computes each group's result.
 * Then tsr__hol_finish (one thread) hands out the results.  A group's
 * result depends only on its values in row order, never on how the rows
 * are chunked, how the groups are cut into pieces, or which thread ran
 * what: results are bitwise identical for any thread count.
 *
 * Semantics (DuckDB's, checked against DuckDB 1.5 with @duckdb/node-api):
 *   - nulls are skipped; a group without a non-null value has a null
 *     quantile, nunique 0 and no largest/smallest rows;
 *   - quantile_cont (median = q 0.5): exact, positions and interpolation as
 *     tsr__quantile_pos / tsr__interp_* in core/order.h, NaN above every
 *     number.  Result type: float64 for integer and float64 columns,
 *     float32 for float32, timestamp[us] for dates (days become
 *     microseconds), the column's timestamp type for timestamps; bools,
 *     strings and dictionaries are TSR_EDTYPE (DuckDB's median of those is
 *     not an interpolation);
 *   - nunique: count(DISTINCT x) of any type: -0.0 equals 0.0, every NaN
 *     is one value, strings compare by bytes, dictionaries by code;
 *   - largest / smallest n: one value per output row, largest (smallest)
 *     first, ties in row order (the earlier row first and kept when the
 *     tie is cut at n), in the column's type (values keep their bits:
 *     -0.0 stays -0.0); floats order as tsr_frame_sort's keys (NaN above
 *     every number), strings by bytes, dictionaries by code (= by string).
 *
 * Memory: every buffer from the context's allocator (accounted); the
 * scattered copy is about (4 + value width) bytes per non-null value
 * (strings: 20 bytes + long strings' bytes), freed by tsr__hol_finish. */
#ifndef TSR_FRAME_GROUP_HOLISTIC_H
#define TSR_FRAME_GROUP_HOLISTIC_H

#include "frame/frame_impl.h"

typedef enum tsr__hol_kind {
  TSR__HOL_QUANTILE = 0, /* spec.nq quantiles spec.q[0..nq) at once */
  TSR__HOL_NUNIQUE = 1,
  TSR__HOL_LARGEST = 2, /* spec.n largest */
  TSR__HOL_SMALLEST = 3,
} tsr__hol_kind;

typedef struct tsr__hol_spec {
  tsr__hol_kind kind;
  tsr_type type;   /* the aggregated column's type */
  int nq;          /* QUANTILE: >= 1 */
  const double *q; /* QUANTILE: nq values in [0, 1] (copied) */
  int64_t n;       /* LARGEST, SMALLEST: >= 1 */
} tsr__hol_spec;

/* A gid that leaves its row out (a row of a group another rank computes). */
#define TSR__HOL_SKIP UINT32_MAX

/* One input row chunk: rows rows, gid[i] < ngroups the group of row i (or
 * TSR__HOL_SKIP), col the aggregated column's chunk (col.rows == rows;
 * validity NULL when no nulls; strings' long views point into col.data). */
typedef struct tsr__hol_chunk {
  int64_t rows;
  const uint32_t *gid;
  tsr__colread col;
} tsr__hol_chunk;

typedef struct tsr__hol tsr__hol;

/* The results, owned by the tsr__hol (valid until tsr__hol_destroy). */
typedef struct tsr__hol_result {
  tsr__hol_kind kind;
  tsr_type type; /* the result values' type (above); NUNIQUE: int64 */
  int64_t ngroups;
  /* QUANTILE: quantiles[j] holds ngroups values of `type` for spec.q[j]
   * (0 for null groups); validity is an Arrow bitmap of ngroups bits
   * (1 = the group has a non-null value), NULL when null_count == 0. */
  int nq;
  void **quantiles;
  const uint8_t *validity;
  int64_t null_count;
  /* NUNIQUE: ngroups counts. */
  int64_t *nunique;
  /* LARGEST, SMALLEST: group g's values are values[offsets[g] ..
   * offsets[g + 1]) (at most spec.n each), of `type`; strings are
   * tsr_string_view whose long ones point into data (data_bytes bytes,
   * offsets into data as a chunk's data buffer). */
  int64_t *offsets; /* ngroups + 1 */
  void *values;
  char *data;
  int64_t data_bytes;
} tsr__hol_result;

/* Plans the aggregate `spec` over ngroups groups (>= 0, < 2^32) fed by
 * nchunks chunks (>= 0).  TSR_EDTYPE for a kind the column's type does
 * not support (message naming the type and the aggregate), TSR_EINVAL for
 * a bad q or n, TSR_ENOMEM.  The caller owns *out. */
tsr_status tsr__hol_create(tsr_ctx *ctx, const tsr__hol_spec *spec, int64_t nchunks,
                           int64_t ngroups, tsr__hol **out);
void tsr__hol_destroy(tsr__hol **h);

/* The most pieces there are, whatever ngroups. */
#define TSR__HOL_MAX_PIECES 256

/* The number of phase-2 pieces (>= 1, <= TSR__HOL_MAX_PIECES), and the
 * group ids [*g0, *g1) of one.  Fixed by ngroups alone. */
int64_t tsr__hol_npieces(const tsr__hol *h);
void tsr__hol_piece_groups(const tsr__hol *h, int64_t piece, int64_t *g0, int64_t *g1);

/* Phase 1 for chunk `chunk` (0 <= chunk < nchunks, each exactly once).
 * Thread-safe for distinct chunks.  TSR_EINVAL for a gid >= ngroups (but
 * TSR__HOL_SKIP), TSR_ENOMEM. */
tsr_status tsr__hol_scatter(tsr__hol *h, int64_t chunk, const tsr__hol_chunk *in);

/* Values already grouped (under MPI a part's values arrive grouped by
 * local group): nruns runs one after another in col (no nulls, not
 * strings), run r of len[r] values of group gid[r] (or TSR__HOL_SKIP),
 * each in row order. */
typedef struct tsr__hol_runs {
  int64_t nruns;
  const int64_t *len;
  const uint32_t *gid;
  tsr__colread col;
} tsr__hol_runs;

/* Phase 1 for chunk `chunk` as tsr__hol_scatter, from runs: a copy a run
 * where tsr__hol_scatter places each row.  TSR_EINVAL for strings, nulls,
 * a gid >= ngroups (but TSR__HOL_SKIP) or runs longer than col. */
tsr_status tsr__hol_scatter_runs(tsr__hol *h, int64_t chunk, const tsr__hol_runs *in);

/* Phase 2 for one piece, after every chunk was scattered.  Thread-safe
 * for distinct pieces.  TSR_ENOMEM. */
tsr_status tsr__hol_piece(tsr__hol *h, int64_t piece);

/* After every piece: frees the scattered copy and fills *out (pointers
 * into h).  TSR_ENOMEM (assembling largest/smallest), TSR_ENOTSUP when the
 * largest/smallest strings kept take more than 4 GiB. */
tsr_status tsr__hol_finish(tsr__hol *h, tsr__hol_result *out);

/* All of it in the calling thread: scatter chunks[0..nchunks) in order,
 * every piece, then tsr__hol_finish. */
tsr_status tsr__hol_run(tsr__hol *h, const tsr__hol_chunk *chunks, tsr__hol_result *out);

#endif /* TSR_FRAME_GROUP_HOLISTIC_H */

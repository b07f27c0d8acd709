/* groupby_spill.c — a group-by larger than memory (docs/frames.md,
 * "Group-by larger than memory"): the input is hash-partitioned into spill
 * files, each partition is grouped in memory by the ordinary engine
 * (groupby.c), and the result is read back from a spill file chunk by
 * chunk, in the same first-seen order as the in-memory engine gives.
 * The partitioning and the result frame are spill.c's, shared with the
 * out-of-core join.
 *
 * Pass 1 (one task per input chunk, in parallel): the chunk's key and
 * aggregated columns, plus each row's number (chunk << 32 | row), are
 * split by a hash of the keys into P partitions (equal keys hash equally:
 * NaN is one key, -0.0 is 0.0, null is a key of its own), and each
 * partition's rows, in input order, are appended to the first spill file
 * as one table chunk per (partition, input chunk).
 *
 * Pass 2 (partition after partition): a partition's table chunks become a
 * lazy frame with the input's chunking (chunk c holds chunk c's rows of
 * that partition, read back when its task runs), grouped by
 * tsr__groupby_memory_as with the input's parts (its runs of chunks
 * grouped as one, chosen by the input's chunk capacities, not the
 * partition's) and one more aggregate, min(row number) = the group's first
 * row.  Because every group lies in one partition and the partition frame
 * keeps the input's chunk boundaries and parts, each group sees the same
 * rows, in the same parts, in the same order as in memory: partial states
 * and their merge are the same, so values are bitwise the same (and the
 * same for any thread count).  The partition's result rows, cut into runs by the input chunk
 * of their first row, go to the second spill file, indexed by that chunk.
 *
 * Pass 3 (lazily, when the result is computed): result chunk c holds the
 * groups whose first row is in input chunk c, ordered by that row, which
 * is exactly the in-memory engine's first-seen order; its task reads
 * chunk c's runs of every partition and places each row by its first row.
 *
 * Memory: pass 1 holds an input chunk and one partition's piece of it;
 * pass 2 a piece per thread and one partition's groups (P is chosen so
 * that a partition's input, an upper bound of its groups' size, is a small
 * fraction of the limit; holistic aggregates keep the partition's pieces);
 * pass 3 one result chunk and one run.  Spill files live under TESSERA_SPILL_DIR (else
 * TMPDIR, else /tmp) and are unlinked as soon as they are created, so they
 * disappear when closed, however the process ends.
 *
 * Under MPI the same three passes run on every rank: in pass 1 each rank
 * partitions the chunks it owns into its own file (spill.c adds up the
 * pieces' counts); in pass 2 each partition is grouped across the ranks
 * (the in-memory engine's shuffle, over a partition's share of the
 * groups), every rank gets its result and writes the runs of the result
 * chunks it owns; pass 3 reads a chunk on its owner.  The partition count
 * is the largest any rank's memory asks for, and every step's status is
 * agreed between the ranks, so that they all fail together. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tessera/dist.h>

#include "dist/dist.h"
#include "groupby_spill.h"
#include "spill.h"

static const char fn[] = "tsr_frame_groupby";

/* A partition's input should take at most 1/PART_SHARE of the limit: the
 * in-memory engine needs several times its input when every key is
 * distinct (gathered keys, codes, group ids, hash tables, states, result). */
#define PART_SHARE 16

bool tsr__groupby_spill_applies(const tsr_frame *f, int nkeys, int naggs, const tsr_agg *aggs,
                                const tsr_groupby_options *options) {
  if (f == NULL || nkeys <= 0 || naggs < 0 || (naggs > 0 && aggs == NULL) ||
      (options != NULL && options->order != TSR_GROUP_FIRST_SEEN))
    return false;
  for (int a = 0; a < naggs; a++)
    if (aggs[a].op == TSR_AGG_LARGEST || aggs[a].op == TSR_AGG_SMALLEST)
      return false;
  return true;
}

/* A step's status, agreed between the ranks under MPI. */
#define STEP(expr) TSR__AGREED_GOTO(st, ctx, expr)

/* Groups partition p in memory (under MPI, across the ranks: each reads
 * the pieces it wrote) and writes its result's runs (under MPI, the runs
 * of the result chunks this rank owns). */
static tsr_status group_partition(tsr__spill_job *job, int64_t p, int nkeys,
                                  const char *const *keys, int naggs, const tsr_agg *aggs,
                                  const char *row_name, tsr__spill_out *o) {
  tsr_ctx *ctx = job->ctx;
  tsr_frame *pf = NULL, *gr = NULL;
  tsr_frame_result *res = NULL;
  tsr__colread *src = NULL;
  tsr_status st = TSR_OK;
  STEP(tsr__spill_partition_frame(job, p, 0, job->nchunks, row_name, &pf));
  st = tsr__groupby_memory_as(pf, job->f, nkeys, keys, naggs, aggs, NULL, &gr); /* agreed */
  tsr_frame_destroy(&pf);
  if (st != TSR_OK)
    goto fail;
  STEP(o->names == NULL ? tsr__spill_out_init(ctx, o, gr) : TSR_OK);
  TSR__TRY_GOTO(st, tsr_frame_compute(gr, NULL, &res)); /* agreed */
  int n = o->ncols;
  st = tsr_calloc(ctx, (size_t)n, sizeof *src, (void **)&src);
  for (int64_t rc = 0; st == TSR_OK && rc < tsr_frame_result_nchunks(res); rc++) {
    for (int i = 0; i < n && st == TSR_OK; i++) {
      tsr_column_chunk cc;
      st = tsr_frame_result_chunk(res, i, rc, &cc);
      src[i] = (tsr__colread){cc.rows, cc.null_count, cc.values, cc.validity, cc.data,
                              cc.data_bytes};
    }
    const int64_t *first = src[n - 1].values;
    for (int64_t i0 = 0, i1; st == TSR_OK && i0 < src[0].rows; i0 = i1) {
      int64_t c = first[i0] >> 32;
      for (i1 = i0 + 1; i1 < src[0].rows && first[i1] >> 32 == c; i1++)
        ;
      st = tsr__spill_write_run(ctx, o, src, NULL, i0, i1 - i0, c);
    }
  }
  STEP(st);
fail:
  tsr_free(ctx, src);
  tsr_frame_result_destroy(&res);
  tsr_frame_destroy(&gr);
  return st;
}

/* The job's per-piece arrays (nparts x nchunks pieces). */
static tsr_status alloc_pieces(tsr__spill_job *job) {
  tsr_ctx *ctx = job->ctx;
  size_t pieces = (size_t)job->nparts * (size_t)job->nchunks;
  TSR_TRY(tsr__alloc_array(ctx, pieces + 1, sizeof *job->recs, "spilled partitions",
                           (void **)&job->recs));
  memset(job->recs, 0, (pieces + 1) * sizeof *job->recs);
  TSR_TRY(tsr_calloc(ctx, (size_t)job->nchunks + 1, sizeof *job->rows, (void **)&job->rows));
  return tsr_calloc(ctx, pieces * (size_t)(job->ncols + 1) + 1, sizeof *job->rdcap,
                    (void **)&job->rdcap);
}

/* ---- the entry point ------------------------------------------------------------------------ */

tsr_status tsr__groupby_spill(tsr_frame *f, int nkeys, const char *const *keys, int naggs,
                              const tsr_agg *aggs, int npartitions, int *used, tsr_frame **out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(f != NULL && nkeys > 0 && keys != NULL && naggs >= 0 && (naggs == 0 || aggs != NULL),
            TSR_EINVAL, "%s: the out-of-core group-by needs a frame, keys and aggregates", fn);
  TSR_CHECK(tsr__groupby_spill_applies(f, nkeys, naggs, aggs, NULL), TSR_ENOTSUP,
            "%s: largest/smallest are not computed out of core", fn);
  TSR_CHECK(npartitions >= 0 && npartitions <= TSR__SPILL_MAX_PARTITIONS, TSR_EINVAL,
            "%s: %d partitions (0..%d)", fn, npartitions, TSR__SPILL_MAX_PARTITIONS);
  tsr_ctx *ctx = f->ctx;
  const bool dist = tsr_ctx_nranks(ctx) > 1;
  tsr__spill_job job;
  memset(&job, 0, sizeof job);
  job.ctx = ctx;
  job.fn = fn;
  job.f = f;
  job.nkeys = nkeys;
  job.nchunks = f->rows->nchunks;
  job.in.fd = -1;
  tsr__spill_out o;
  memset(&o, 0, sizeof o);
  o.file.fd = -1;
  tsr_agg *aggs2 = NULL;
  char **used_names = NULL;
  tsr_status st = TSR_OK;
  /* The local set-up: every rank's failure is agreed before the first
   * collective step. */
#define SETUP(expr)    \
  do {                 \
    st = (expr);       \
    if (st != TSR_OK)  \
      goto setup_done; \
  } while (0)
  int maxcols = nkeys + 2 * naggs + 1;
  SETUP(tsr_calloc(ctx, (size_t)maxcols, sizeof *job.cols, (void **)&job.cols));
  SETUP(tsr_calloc(ctx, (size_t)nkeys, sizeof *job.key_in, (void **)&job.key_in));
  /* The spilled columns: the keys, then the aggregates' columns. */
  for (int j = 0; j < nkeys + 2 * naggs; j++) {
    const char *name = j < nkeys                     ? keys[j]
                       : ((j - nkeys) % 2 == 0) ? aggs[(j - nkeys) / 2].column
                                                : aggs[(j - nkeys) / 2].column2;
    if (j >= nkeys && aggs[(j - nkeys) / 2].op == TSR_AGG_COUNT_ALL)
      continue;
    if (name == NULL)
      continue; /* the in-memory engine reports what is missing */
    int k, i;
    SETUP(tsr__frame_find(f, fn, name, &k));
    for (i = 0; i < job.ncols && job.cols[i] != k; i++)
      ;
    if (i == job.ncols)
      job.cols[job.ncols++] = k;
    if (j < nkeys)
      job.key_in[j] = i;
  }
  SETUP(tsr_calloc(ctx, (size_t)job.ncols + 1, sizeof *job.widths, (void **)&job.widths));
  SETUP(tsr_calloc(ctx, (size_t)job.ncols + 1, sizeof *job.str, (void **)&job.str));
  for (int i = 0; i < job.ncols; i++) {
    job.widths[i] = tsr_type_width(f->cols[job.cols[i]].type);
    job.str[i] = f->cols[job.cols[i]].type.id == TSR_COL_STRING;
  }
  job.widths[job.ncols] = sizeof(int64_t);
  /* Names for the row number and its aggregate that clash with nothing. */
  char row_name[64], first_name[64];
  SETUP(tsr_calloc(ctx, (size_t)(nkeys + naggs + f->ncols) + 1, sizeof *used_names,
                   (void **)&used_names));
  for (int i = 0; i < f->ncols; i++)
    used_names[i] = f->cols[i].name;
  tsr__spill_fresh_name("__tessera_row", used_names, f->ncols, row_name, sizeof row_name);
  for (int j = 0; j < nkeys; j++)
    used_names[f->ncols + j] = (char *)keys[j];
  for (int a = 0; a < naggs; a++)
    used_names[f->ncols + nkeys + a] = (char *)aggs[a].name;
  tsr__spill_fresh_name("__tessera_first", used_names, f->ncols + nkeys + naggs, first_name,
                        sizeof first_name);
  SETUP(tsr_calloc(ctx, (size_t)naggs + 1, sizeof *aggs2, (void **)&aggs2));
  if (naggs > 0)
    memcpy(aggs2, aggs, (size_t)naggs * sizeof *aggs2);
  aggs2[naggs] = (tsr_agg){.op = TSR_AGG_MIN, .column = row_name, .name = first_name};

#undef SETUP
setup_done:
  STEP(st);
  /* Partitions: the most any rank's memory asks for. */
  uint64_t nparts = npartitions > 0
                        ? (uint64_t)npartitions
                        : (uint64_t)tsr__spill_partitions(
                              ctx, tsr__spill_bytes(f, job.ncols, job.cols), PART_SHARE);
  if (dist && npartitions == 0) {
    uint64_t least;
    tsr__dist *d = tsr__dist_get(ctx);
    STEP(d == NULL ? tsr_error_set(TSR_EMPI, "%s: MPI is not available", fn)
                   : tsr__dist_minmax_u64(d, nparts, &least, &nparts));
  }
  while ((UINT64_C(1) << job.bits) < nparts)
    job.bits++;
  job.nparts = INT64_C(1) << job.bits;
  if (used != NULL)
    *used = (int)job.nparts;
  tsr__log(ctx, TSR_LOG_INFO, "%s: out of core in %lld partitions of %lld chunks", fn,
           (long long)job.nparts, (long long)job.nchunks);
  STEP(alloc_pieces(&job));
  STEP(tsr__spill_open(&job.in, fn));
  TSR__TRY_GOTO(st, tsr__spill_partition(&job)); /* agreed */
  STEP(tsr__spill_open(&o.file, fn));
  if (dist)
    o.nchunks = job.nchunks; /* each rank writes the runs of the result chunks it owns */
  for (int64_t p = 0; p < job.nparts; p++)
    TSR__TRY_GOTO(
        st, group_partition(&job, p, nkeys, keys, naggs + 1, aggs2, row_name, &o)); /* agreed */
  tsr__spill_close(&job.in);
  STEP(tsr__spill_result_frame(ctx, fn, job.nchunks, job.rows, &o, out));
fail:
  tsr__spill_close(&job.in);
  tsr__spill_out_free(ctx, &o);
  tsr_free(ctx, aggs2);
  tsr_free(ctx, used_names);
  tsr_free(ctx, job.cols);
  tsr_free(ctx, job.key_in);
  tsr_free(ctx, job.refs);
  tsr_free(ctx, job.widths);
  tsr_free(ctx, job.str);
  tsr_free(ctx, job.recs);
  tsr_free(ctx, job.rdcap);
  tsr_free(ctx, job.rows);
  if (st != TSR_OK)
    tsr_frame_destroy(out);
  return st;
}

/* groupby.c — tsr_frame_groupby (docs/frames.md, "Group-by"): checking the
 * call, planning, the per-chunk tasks, the merge in chunk order, group
 * order, and the result frame.
 *
 * A group-by is a pipeline breaker: it computes when called.  The input
 * frame's key and aggregated columns are lowered into one task graph, and
 * one task per row chunk (reading those columns' chunks, so the input's
 * lazy ops run fused before it; or one task per run of small consecutive
 * chunks, see run_length) groups the chunk's rows into local groups
 * (group_keys.c), numbered by hash bucket of their keys, keeps each local
 * group's key values, and fills partial aggregate states (group_aggs.c).
 * Then the merge, one task per bucket (one task in all when there are few
 * local groups): a bucket's local groups of all chunks, in chunk order, are
 * grouped again by their key values with the same coders, and the partial
 * states are merged chunk by chunk in chunk order, so every result is
 * bitwise identical for any number of threads; the groups are listed in
 * the order of their first row (TSR_GROUP_FIRST_SEEN): grouped by the chunk
 * of their first row, then by a scan of that chunk's rows (a sort when
 * few).  The result is a frame over table chunks held in memory
 * (mem_frame.c).  Under MPI each rank groups the parts it owns and the
 * parts, or their buckets, move between the ranks before the merge
 * ("across MPI ranks" below; the byte form in groupby_wire.c). */
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tessera/dist.h>

#include "core/order.h"
#include "dist/dist.h"
#include "groupby_impl.h"
#include "groupby_spill.h"
#include "sched/taskgraph_impl.h" /* where input chunks are made; local runs */

static const char fn[] = "tsr_frame_groupby";
/* The rows of a result chunk (settable for tests: a result of several
 * chunks without millions of rows). */
#define RESULT_CHUNK_ROWS_DEFAULT (INT64_C(1) << 20)
static int64_t result_chunk_rows = RESULT_CHUNK_ROWS_DEFAULT;
#define RESULT_CHUNK_ROWS result_chunk_rows

void tsr__groupby_set_result_chunk_rows(int64_t n) {
  result_chunk_rows = n <= 0 ? RESULT_CHUNK_ROWS_DEFAULT : n;
}

static const char *const op_names[TSR_NUM_AGG_OPS] = {
    "count_star", "count",     "sum",      "mean",  "min",     "max",     "var",
    "std",        "median",    "quantile", "first", "last",    "nunique", "corr",
    "covar_samp", "covar_pop", "any",      "all",   "largest", "smallest"};

const char *tsr_agg_op_name(tsr_agg_op op) {
  return (unsigned)op < TSR_NUM_AGG_OPS ? op_names[op] : "invalid";
}

/* ---- the plan ------------------------------------------------------------------- */

/* With keys, a chunk's local groups are numbered by bucket (the top
 * NBUCKET_BITS bits of their keys' hash), then by first row: the merge
 * takes one bucket of every chunk as one partition. */
#define NBUCKET_BITS 8
#define NBUCKETS (1 << NBUCKET_BITS)

typedef struct gb_part { /* one chunk's local groups */
  int64_t n;
  int64_t rows;
  gb_col *keys;    /* nkeys */
  int32_t *ids;    /* rows: each row's local group (kept for holistic aggregates) */
  int32_t *first;  /* n: each local group's first row */
  int64_t *gcount; /* n: rows per local group (the count of columns without nulls) */
  int64_t *boff;   /* NBUCKETS + 1 (with keys): bucket b's local groups are boff[b].. */
  gb_col *hcols;   /* naggs: holistic aggregates' input values of the part's kept rows
                      (job->kept_rows), of the rows shipped to this rank, or of my own part's
                      rows of my groups after a shuffle (scatter_values; NULL: read from the
                      first graph's kept input chunks) */
  int64_t hrows;   /* with hcols: their rows, grouped by local group, each group's in row
                      order: local groups [hg0, hg1) one after another, gcount[g] rows each;
                      ids gives each its local group where rows are read one by one (not
                      runs_of) */
  int64_t hg0, hg1;
} gb_part;

typedef struct gb_job {
  tsr_ctx *ctx;
  int nkeys, naggs;
  int ncols;             /* input columns read */
  tsr__colref *refs;     /* ncols */
  int *key_in;           /* nkeys: index into refs */
  int *agg_in, *agg_in2; /* naggs: index into refs, or -1 */
  tsr_type *key_types;
  gb_agg *aggs;
  bool need_last;
  int64_t nin;     /* input chunks */
  int64_t run;     /* input chunks per part (a run of consecutive chunks) */
  int64_t nchunks; /* parts: ceil(nin / run) */
  gb_part *parts;
  gb_state *astates; /* naggs x nchunks: aggregate a's states of chunk c at a * nchunks + c */
  /* the result's columns: keys, then aggregates */
  char **out_names; /* owned */
  tsr_type *out_types;
  tsr__dict **out_dicts; /* borrowed from the input's columns */
  /* holistic aggregates: the first graph is kept with the input chunks
   * they read */
  int nhol;
  bool per_value; /* largest/smallest: one row per value */
  bool kept_rows; /* per_value, and each part keeps only its local groups' best rows (keep_best) */
  tsr_taskgraph *g;
  uint32_t n_inputs;
  uint32_t *in_tasks; /* n_inputs x nchunks */
  const int32_t *gid; /* the merge's global group of each local group */
  const int64_t *off; /* the merge's chunk offsets into gid */
  /* under MPI */
  bool dist;     /* over several ranks */
  bool agreed;   /* the status being returned is agreed by every rank already */
  bool trace;    /* TESSERA_GROUPBY_TRACE: print what the exchanges moved */
  bool shuffled; /* the parts were shuffled by bucket */
  /* Shuffled without holistic or per-value aggregates: this rank's own
   * parts stayed whole (not sent to itself), so the merge reads only the
   * buckets [own_b0, own_b1) it owns (slice_of). */
  bool kept_own;
  int own_b0, own_b1;
  unsigned char *wire_in; /* the parts received (distribute): their columns point into it */
} gb_job;

typedef struct gb_task {
  gb_job *job;
  int64_t chunk;
} gb_task;

static int kind_of(tsr_coltype t) {
  switch (t) {
  case TSR_COL_UINT8:
  case TSR_COL_UINT16:
  case TSR_COL_UINT32:
  case TSR_COL_UINT64:
    return GB_K_UINT;
  case TSR_COL_FLOAT32:
  case TSR_COL_FLOAT64:
    return GB_K_FLOAT;
  case TSR_COL_STRING:
    return GB_K_OTHER;
  default:
    return GB_K_INT;
  }
}

static bool numeric(tsr_coltype t) {
  return t != TSR_COL_STRING && t != TSR_COL_DICT && t != TSR_COL_DATE && t != TSR_COL_TIMESTAMP;
}

/* Input chunks per part: one, or with many small chunks and no holistic
 * aggregates (which read each input chunk again by its local group ids)
 * other than largest/smallest that keep their best rows (keep_best), a
 * run of consecutive chunks of about RUN_ROWS rows by their capacities,
 * grouped by one task into one set of local groups (chunk_kernel): parts then hold fewer local
 * groups (a key seen in every chunk is one local group per run, not one per chunk), so the merge
 * and the partial states shrink.  The length depends on the input's chunk capacities only, never on
 * the thread count. */
#define RUN_ROWS (INT64_C(1) << 20)
#define RUN_MAX 16
_Static_assert(RUN_MAX <= 256, "a run's chunks are numbered by uint8_t (fch, lch)");
#define FEW_GROUPS 4096

static int64_t run_length(const tsr_frame *f, const gb_job *job) {
  int64_t nin = f->rows->nchunks, cap = 0; /* f: the frame whose capacities count */
  if ((job->nhol > 0 && !job->kept_rows) || job->nkeys == 0 || nin < 2)
    return 1;
  /* Dictionary (and bool) keys with few combinations: the merge is small
   * anyway, so runs would save little. */
  double combos = 1;
  for (int j = 0; j < job->nkeys && combos <= FEW_GROUPS; j++)
    combos *= job->key_types[j].id == TSR_COL_DICT   ? (double)job->out_dicts[j]->size + 1
              : job->key_types[j].id == TSR_COL_BOOL ? 3
                                                     : 2.0 * FEW_GROUPS;
  if (combos <= FEW_GROUPS)
    return 1;
  for (int64_t c = 0; c < nin; c++)
    cap += f->rows->cap[c];
  int64_t run = RUN_ROWS / (cap / nin > 0 ? cap / nin : 1);
  return run < 1 ? 1 : run > RUN_MAX ? RUN_MAX : run;
}

/* Under MPI, the rank that groups part c: the one owning the most of its
 * input chunks (the first of those tied), so that a part across two ranks'
 * chunks moves the fewer of them. */
static int part_owner(const gb_job *job, int64_t c) {
  int64_t r0 = c * job->run, r1 = r0 + job->run < job->nin ? r0 + job->run : job->nin;
  int best = tsr__dist_chunk_owner(job->ctx, r0, job->nin), most = 0;
  for (int64_t r = r0; r < r1; r++) {
    int o = tsr__dist_chunk_owner(job->ctx, r, job->nin), n = 0;
    for (int64_t q = r0; q < r1; q++)
      n += tsr__dist_chunk_owner(job->ctx, q, job->nin) == o;
    if (n > most) {
      most = n;
      best = o;
    }
  }
  return best;
}

/* ---- the chunk task --------------------------------------------------------------- */

static void part_free(tsr_ctx *ctx, const gb_job *job, gb_part *p) {
  if (p->keys != NULL)
    for (int j = 0; j < job->nkeys; j++)
      gb_col_free(ctx, &p->keys[j]);
  tsr_free(ctx, p->keys);
  tsr_free(ctx, p->ids);
  tsr_free(ctx, p->first);
  tsr_free(ctx, p->boff);
  tsr_free(ctx, p->gcount);
  if (p->hcols != NULL)
    for (int a = 0; a < job->naggs; a++)
      gb_col_free(ctx, &p->hcols[a]);
  tsr_free(ctx, p->hcols);
  memset(p, 0, sizeof *p);
}

/* Renumbers the run's n local groups by bucket, then first row: p->boff,
 * p->first (from first[], which increases with the group) and ids[] in the
 * new numbers; fch[] the chunk of each group's first row, gcount[] (zeros)
 * the rows of each group. */
static tsr_status bucket_groups(gb_job *job, const gb_run *in, int64_t rows, int64_t n,
                                const int32_t *first, int32_t *ids, uint8_t *fch, int64_t *gcount,
                                gb_part *p) {
  tsr_ctx *ctx = job->ctx;
  uint64_t *h = NULL;
  int32_t *inv = NULL, *loc = NULL;
  int64_t cur[NBUCKETS];
  tsr_status st = TSR_OK;
  TSR__TRY_GOTO(st, tsr_kernel_alloc(ctx, (size_t)n * sizeof *h + 8, (void **)&h));
  TSR__TRY_GOTO(st, tsr_kernel_alloc(ctx, (size_t)n * sizeof *inv + 4, (void **)&inv));
  TSR__TRY_GOTO(st, tsr_kernel_alloc(ctx, (size_t)n * sizeof *loc + 4, (void **)&loc));
  TSR__TRY_GOTO(st, tsr_alloc(ctx, (size_t)n * sizeof *p->first + 4, (void **)&p->first));
  TSR__TRY_GOTO(st,
                tsr__alloc_array(ctx, NBUCKETS + 1, sizeof *p->boff, "buckets", (void **)&p->boff));
  /* The groups whose first row is in chunk c are a range: hashed there. */
  const int64_t *off = in[0].off;
  for (int64_t c = 0, g = 0; c < in[0].n; c++) {
    int64_t g0 = g;
    for (; g < n && first[g] < off[c + 1]; g++)
      loc[g] = (int32_t)(first[g] - off[c]);
    for (int j = 0; j < job->nkeys; j++)
      gb_hash_col(&in[job->key_in[j]].c[c], job->key_types[j], loc + g0, g - g0, j > 0, h + g0);
  }
  memset(cur, 0, sizeof cur);
  for (int64_t l = 0; l < n; l++)
    cur[h[l] >> (64 - NBUCKET_BITS)]++;
  p->boff[0] = 0;
  for (int b = 0; b < NBUCKETS; b++) {
    p->boff[b + 1] = p->boff[b] + cur[b];
    cur[b] = p->boff[b];
  }
  for (int64_t l = 0, c = 0; l < n; l++) {
    while (first[l] >= off[c + 1])
      c++;
    int64_t to = cur[h[l] >> (64 - NBUCKET_BITS)]++;
    inv[l] = (int32_t)to;
    p->first[to] = first[l];
    fch[to] = (uint8_t)c;
  }
  for (int64_t i = 0; i < rows; i++) {
    int32_t g = inv[ids[i]];
    ids[i] = g;
    gcount[g]++;
  }
fail:
  tsr_free(ctx, h);
  tsr_free(ctx, inv);
  tsr_free(ctx, loc);
  return st;
}

/* Largest/smallest n (job->kept_rows): a row that is not among the n best
 * of its local group for any aggregate (by value, then row, as
 * group_holistic.c picks them) cannot be among the n best of its group,
 * so part p keeps only the others (all the rows of a local group of at
 * most n): their values (p->hcols), their local groups (p->ids) and their
 * count a group (p->gcount), grouped by local group, each in row order.
 * That is all the holistic phase reads and all a shuffle sends: over a
 * run of chunks about n values a local group (q8's top 2 of 10^7 values
 * over 10^5 groups: a fifth of them), so the first graph keeps no input
 * chunks.  in, ids: the run's columns and its rows' local groups. */
#define KEEP_MAX_N 16
static tsr_status keep_best(const gb_job *job, const gb_run *in, const int32_t *ids, gb_part *p) {
  tsr_ctx *ctx = job->ctx;
  const int64_t n = p->n, rows = p->rows, nn = job->aggs[0].spec.n;
  const int64_t *off = in[0].off;
  /* A local group of more than nn rows has a slot, in one cache line for
   * nn <= 2: how many best rows it has, their keys (ascending: smaller is
   * better), then their rows. */
  const size_t stride = (8 + 12 * (size_t)nn + 7) & ~(size_t)7;
  int64_t chunk_rows = 0, nbig = 0, kept = 0;
  for (int64_t r = 0; r < in[0].n; r++)
    chunk_rows = off[r + 1] - off[r] > chunk_rows ? off[r + 1] - off[r] : chunk_rows;
  for (int64_t g = 0; g < n; g++)
    nbig += p->gcount[g] > nn;
  uint64_t *keys = NULL;
  unsigned char *slots = NULL;
  int32_t *slot = NULL, *krow = NULL, *kid = NULL;
  uint8_t *keep = NULL, *kch = NULL;
  int64_t *kcount = NULL;
  tsr_status st = TSR_OK;
  TSR__TRY_GOTO(st, tsr_kernel_alloc(ctx, (size_t)chunk_rows * sizeof *keys + 8, (void **)&keys));
  TSR__TRY_GOTO(st, tsr_kernel_alloc(ctx, (size_t)n * sizeof *slot + 4, (void **)&slot));
  TSR__TRY_GOTO(st, tsr_kernel_alloc(ctx, (size_t)nbig * stride + 8, (void **)&slots));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)rows + 8, 1, (void **)&keep));
  for (int64_t g = 0, b = 0; g < n; g++)
    slot[g] = p->gcount[g] > nn ? (int32_t)b++ : -1;
  for (int a = 0; a < job->naggs && nbig > 0; a++) {
    const gb_run *x = &in[job->agg_in[a]];
    const bool largest = job->aggs[a].op == TSR_AGG_LARGEST;
    for (int64_t b = 0; b < nbig; b++)
      *(uint64_t *)(slots + (size_t)b * stride) = 0;
    for (int64_t r = 0; r < x->n; r++) {
      const tsr__colread *c = &x->c[r];
      const int32_t *cid = ids + off[r];
      tsr__okeys(job->aggs[a].in_type, c->values, c->rows, largest, keys);
      for (int64_t i = 0; i < c->rows; i++) { /* rows ascending */
        if (i + 16 < c->rows) {               /* (slots are random reads: a cache miss a row) */
          int32_t pb = slot[cid[i + 16]];
          __builtin_prefetch(slots + (size_t)(pb < 0 ? 0 : pb) * stride);
        }
        int32_t b = slot[cid[i]];
        if (b < 0 || (c->validity != NULL && !tsr__bit_get(c->validity, i)))
          continue;
        uint64_t key = keys[i], *cnt = (uint64_t *)(slots + (size_t)b * stride);
        uint64_t *best = cnt + 1;
        int32_t *at = (int32_t *)(best + nn);
        if ((int64_t)*cnt == nn && key >= best[nn - 1]) /* a tie: the earlier row wins */
          continue;
        int64_t j = (int64_t)*cnt < nn ? (int64_t)(*cnt)++ : nn - 1;
        for (; j > 0 && best[j - 1] > key; j--) {
          best[j] = best[j - 1];
          at[j] = at[j - 1];
        }
        best[j] = key;
        at[j] = (int32_t)(off[r] + i);
      }
    }
    for (int64_t b = 0; b < nbig; b++) {
      const uint64_t *cnt = (const uint64_t *)(slots + (size_t)b * stride);
      const int32_t *at = (const int32_t *)(cnt + 1 + nn);
      for (uint64_t j = 0; j < *cnt; j++)
        keep[at[j]] = 1;
    }
  }
  /* The kept rows (a group's best, or all of a small group's) grouped by
   * local group: a counting sort, kcount[g] group g's count, then its
   * cursor. */
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)n + 1, sizeof *kcount, (void **)&kcount));
  for (int64_t i = 0; i < rows; i++) {
    int32_t g = ids[i];
    uint8_t k = keep[i] | (slot[g] < 0);
    keep[i] = k;
    kcount[g] += k;
    kept += k;
  }
  TSR__TRY_GOTO(st, tsr_kernel_alloc(ctx, (size_t)kept * sizeof *krow + 4, (void **)&krow));
  TSR__TRY_GOTO(st, tsr_kernel_alloc(ctx, (size_t)kept + 8, (void **)&kch));
  TSR__TRY_GOTO(st, tsr_alloc(ctx, (size_t)kept * sizeof *kid + 4, (void **)&kid));
  for (int64_t g = 0, at = 0; g < n; g++) { /* counts to starts */
    int64_t c = kcount[g];
    kcount[g] = at;
    at += c;
  }
  for (int64_t r = 0; r < in[0].n; r++)
    for (int64_t i = off[r]; i < off[r + 1]; i++)
      if (keep[i]) {
        int64_t k = kcount[ids[i]]++;
        krow[k] = (int32_t)i;
        kch[k] = (uint8_t)r;
        kid[k] = ids[i];
      }
  for (int64_t g = n - 1; g > 0; g--) /* ends back to counts */
    kcount[g] -= kcount[g - 1];
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)job->naggs + 1, sizeof *p->hcols, (void **)&p->hcols));
  for (int a = 0; a < job->naggs; a++)
    TSR__TRY_GOTO(st, gb_col_gather(ctx, &in[job->agg_in[a]], job->aggs[a].in_type, krow, kch, kept,
                                    &p->hcols[a]));
  p->ids = kid;
  kid = NULL;
  p->hrows = kept;
  p->hg0 = 0;
  p->hg1 = n;
  p->gcount = kcount; /* (the caller frees the one of every row) */
  kcount = NULL;
fail:
  tsr_free(ctx, keys);
  tsr_free(ctx, slot);
  tsr_free(ctx, slots);
  tsr_free(ctx, keep);
  tsr_free(ctx, kcount);
  tsr_free(ctx, krow);
  tsr_free(ctx, kch);
  tsr_free(ctx, kid);
  return st;
}

/* Groups a run of chunks (one chunk, or job->run consecutive ones): the
 * key columns are coded chunk by chunk with coders shared by the run and
 * grouped at once into the run's local groups; the aggregates then fill
 * the run's partial states chunk after chunk, reading each chunk where it
 * is. */
static tsr_status chunk_kernel(const tsr_kernel_call *call) {
  gb_task t;
  memcpy(&t, call->params, sizeof t);
  gb_job *job = t.job;
  tsr_ctx *ctx = job->ctx;
  gb_part *p = &job->parts[t.chunk];
  int64_t c0 = t.chunk * job->run, nrun = job->nin - c0 < job->run ? job->nin - c0 : job->run;
  tsr__colread cr[64], *rd = cr;
  gb_run *in = NULL;
  int64_t off[RUN_MAX + 1];
  uint32_t **codes = NULL;
  uint64_t *ncodes = NULL;
  int32_t *ids = NULL, *first = NULL, *last = NULL;
  uint8_t *fch = NULL, *lch = NULL;
  int64_t *gcount = NULL;
  tsr_status st = TSR_OK;
  int k = job->nkeys;
  if ((int64_t)job->ncols * nrun > 64)
    TSR__TRY_GOTO(st, tsr_alloc(ctx, (size_t)(job->ncols * nrun) * sizeof *rd, (void **)&rd));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)job->ncols + 1, sizeof *in, (void **)&in));
  for (int i = 0; i < job->ncols; i++) {
    for (int64_t r = 0; r < nrun; r++) { /* chunk r's inputs follow chunk r - 1's */
      tsr_kernel_call one = *call;
      one.inputs += r * job->n_inputs;
      one.input_bytes += r * job->n_inputs;
      one.n_inputs = job->n_inputs;
      tsr__colread_get(&job->refs[i], &one, &rd[i * nrun + r]);
    }
    in[i] = (gb_run){nrun, rd + i * nrun, off};
  }
  off[0] = 0;
  for (int64_t r = 0; r < nrun; r++)
    off[r + 1] = off[r] + rd[r].rows;
  int64_t rows = off[nrun];
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)k + 1, sizeof *codes, (void **)&codes));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)k + 1, sizeof *ncodes, (void **)&ncodes));
  /* One string key without nulls: grouped bucket by bucket at once. */
  bool str_buckets = k == 1 && job->key_types[0].id == TSR_COL_STRING && rows > 0;
  for (int64_t r = 0; r < nrun && str_buckets; r++)
    str_buckets = in[job->key_in[0]].c[r].validity == NULL;
  for (int j = 0; j < k && !str_buckets; j++) {
    const gb_run *r = &in[job->key_in[j]];
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int64_t c = 0; c < nrun; c++) {
      uint64_t a = 1, b = 0;
      gb_minmax(&r->c[c], job->key_types[j], &a, &b);
      lo = a <= b && a < lo ? a : lo;
      hi = a <= b && b > hi ? b : hi;
    }
    if (lo > hi) {
      lo = 1;
      hi = 0;
    }
    gb_coder *coder = NULL;
    TSR__TRY_GOTO(st, gb_coder_create(ctx, job->key_types[j], lo, hi, rows, &coder));
    st = tsr_kernel_alloc(ctx, (size_t)rows * sizeof **codes + 4, (void **)&codes[j]);
    for (int64_t c = 0; c < nrun && st == TSR_OK; c++)
      st = gb_coder_code(coder, &r->c[c], codes[j] + off[c]);
    ncodes[j] = gb_coder_ncodes(coder);
    gb_coder_destroy(&coder);
    if (st != TSR_OK)
      goto fail;
  }
  if (job->nhol > 0 && !job->kept_rows)
    TSR__TRY_GOTO(st, tsr_alloc(ctx, (size_t)rows * sizeof *ids + 4, (void **)&ids));
  else
    TSR__TRY_GOTO(st, tsr_kernel_alloc(ctx, (size_t)rows * sizeof *ids + 4, (void **)&ids));
  TSR__TRY_GOTO(st, tsr_alloc(ctx, (size_t)rows * sizeof *first + 4, (void **)&first));
  int64_t n = 0;
  if (str_buckets) {
    TSR__TRY_GOTO(
        st, tsr__alloc_array(ctx, NBUCKETS + 1, sizeof *p->boff, "buckets", (void **)&p->boff));
    TSR__TRY_GOTO(
        st, gb_group_str_buckets(ctx, &in[job->key_in[0]], NBUCKET_BITS, ids, &n, first, p->boff));
    p->first = first;
  } else {
    TSR__TRY_GOTO(st, gb_group_codes(ctx, k, codes, ncodes, rows, ids, &n, first));
  }
  for (int j = 0; j < k; j++)
    tsr_free(ctx, codes[j]);
  memset(codes, 0, (size_t)k * sizeof *codes);
  TSR__TRY_GOTO(st, tsr_kernel_alloc(ctx, (size_t)n + 8, (void **)&fch));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)n + 1, sizeof *gcount, (void **)&gcount));
  if (k > 0 && !str_buckets) {
    TSR__TRY_GOTO(st, bucket_groups(job, in, rows, n, first, ids, fch, gcount, p));
    tsr_free(ctx, first);
    first = p->first;
  } else {
    for (int64_t g = 0; g < n; g++)
      fch[g] = (uint8_t)gb_run_chunk(&in[0], first[g]);
    for (int64_t i = 0; i < rows; i++)
      gcount[ids[i]]++;
  }
  p->gcount = gcount; /* aggregate states may share it */
  if (job->need_last) {
    TSR__TRY_GOTO(st, tsr_alloc(ctx, (size_t)n * sizeof *last + 4, (void **)&last));
    TSR__TRY_GOTO(st, tsr_kernel_alloc(ctx, (size_t)n + 8, (void **)&lch));
    for (int64_t r = 0; r < nrun; r++)
      for (int64_t i = off[r]; i < off[r + 1]; i++) {
        last[ids[i]] = (int32_t)i;
        lch[ids[i]] = (uint8_t)r;
      }
  }
  p->n = n;
  p->rows = rows;
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)k + 1, sizeof *p->keys, (void **)&p->keys));
  for (int j = 0; j < k; j++)
    TSR__TRY_GOTO(
        st, gb_col_gather(ctx, &in[job->key_in[j]], job->key_types[j], first, fch, n, &p->keys[j]));
  for (int a = 0; a < job->naggs; a++) {
    const gb_run *x = job->agg_in[a] >= 0 ? &in[job->agg_in[a]] : NULL;
    const gb_run *y = job->agg_in2[a] >= 0 ? &in[job->agg_in2[a]] : NULL;
    if (job->aggs[a].holistic)
      continue;
    TSR__TRY_GOTO(st, gb_agg_chunk(ctx, &job->aggs[a], x, y, rows, ids, n, first, fch, last, lch,
                                   gcount, &job->astates[(int64_t)a * job->nchunks + t.chunk]));
  }
  if (job->kept_rows) {
    TSR__TRY_GOTO(st, keep_best(job, in, ids, p));
  } else if (job->nhol > 0) {
    p->ids = ids;
    ids = NULL;
  }
fail:
  if (codes != NULL)
    for (int j = 0; j < k; j++)
      tsr_free(ctx, codes[j]);
  tsr_free(ctx, codes);
  tsr_free(ctx, ncodes);
  tsr_free(ctx, ids);
  if (first != p->first)
    tsr_free(ctx, first);
  tsr_free(ctx, last);
  tsr_free(ctx, fch);
  tsr_free(ctx, lch);
  if (gcount != p->gcount)
    tsr_free(ctx, gcount);
  if (rd != cr)
    tsr_free(ctx, rd);
  tsr_free(ctx, in);
  return st;
}

/* ---- the merge ----------------------------------------------------------------------- */

/* The merge is partitioned by a hash of the key values: with many local
 * groups (at least PART_MIN_ENTRIES), partition b is bucket b of every
 * chunk (NBUCKETS partitions), else there is one partition.  Every
 * partition is merged on its own, in parallel: its entries (local groups)
 * in chunk order are grouped by the key coders, and the partial states of
 * each group are combined in chunk order, as a single merge would; the
 * partition count depends on the number of local groups only, never on
 * threads.  Group ids are partition-major (partition p's groups from
 * base[p]); `order` lists them in the order of their first row. */
#define PART_MIN_ENTRIES 65536

typedef struct gb_mpart { /* one partition of the merge */
  int64_t n;              /* entries: local groups of every chunk */
  int64_t ngroups;
  int64_t base;                 /* its first group id */
  int32_t *pg;                  /* n: each entry's group within the partition */
  int32_t *origin_c, *origin_l; /* ngroups: chunk and local group of its first row */
} gb_mpart;

typedef struct gb_merged {
  int64_t ngroups;
  int64_t total;     /* local groups of all chunks */
  int64_t *off;      /* nchunks + 1: first local group of each chunk in the concatenation */
  int32_t *gid;      /* total (holistic aggregates only): each local group's group */
  int32_t *origin_c; /* ngroups: the chunk and local group of each group's first row */
  int32_t *origin_l;
  int64_t *order;   /* ngroups: the groups in the order of their first row */
  gb_state *states; /* naggs */
  int nparts;       /* 1 or NBUCKETS */
  gb_mpart *parts;  /* nparts */
} gb_merged;

static void merged_free(tsr_ctx *ctx, const gb_job *job, gb_merged *m) {
  if (m->states != NULL)
    for (int a = 0; a < job->naggs; a++)
      gb_state_free(ctx, &m->states[a]);
  if (m->parts != NULL)
    for (int p = 0; p < m->nparts; p++) {
      tsr_free(ctx, m->parts[p].pg);
      tsr_free(ctx, m->parts[p].origin_c);
      tsr_free(ctx, m->parts[p].origin_l);
    }
  tsr_free(ctx, m->parts);
  tsr_free(ctx, m->states);
  tsr_free(ctx, m->off);
  tsr_free(ctx, m->gid);
  tsr_free(ctx, m->origin_c);
  tsr_free(ctx, m->origin_l);
  tsr_free(ctx, m->order);
  memset(m, 0, sizeof *m);
}

/* What a merge task works on: tasks are partitions or chunks by index,
 * run by tsr__taskgraph_run_local (under MPI every rank merges what it
 * holds, with no word to the others: a failure here meets their next
 * collective, which agrees first). */
typedef struct merge_arg {
  gb_job *job;
  gb_merged *m;
} merge_arg;

/* Entries [s, s + n) of key column c read as a column (bits: room for the
 * validity of n rows, used when c has nulls). */
static void slice_read(const gb_col *c, int64_t s, int64_t n, uint8_t *bits, tsr__colread *r) {
  size_t w = tsr_type_width(c->type);
  r->rows = n;
  r->values = (const unsigned char *)c->values + (size_t)s * w;
  r->data = c->data;
  r->null_count = 0;
  r->validity = NULL;
  if (c->nulls == 0)
    return;
  memset(bits, 0xff, (size_t)(n + 7) / 8);
  for (int64_t i = 0; i < n; i++)
    if (!tsr__bit_get(c->validity, s + i)) {
      tsr__bit_set(bits, i, false);
      r->null_count++;
    }
  r->validity = r->null_count > 0 ? bits : NULL;
}

/* The entries of chunk c in partition p: its local groups [*s, *s + count). */
static int64_t slice_of(const gb_job *job, const gb_merged *m, int64_t c, int64_t p, int64_t *s) {
  const gb_part *pt = &job->parts[c];
  if (m->nparts == 1) {
    *s = 0;
    return pt->n;
  }
  *s = pt->boff[p];
  if (job->kept_own && (p < job->own_b0 || p >= job->own_b1))
    return 0; /* another rank's bucket, in a part of mine */
  return pt->boff[p + 1] - pt->boff[p];
}

/* Groups partition `index`'s entries, in chunk order, by their keys. */
static tsr_status group_kernel(const tsr_kernel_call *call) {
  tsr__local_task t = tsr__local_task_of(call);
  const merge_arg *arg = t.arg;
  gb_job *job = arg->job;
  gb_merged *m = arg->m;
  tsr_ctx *ctx = job->ctx;
  gb_mpart *mp = &m->parts[t.index];
  int64_t nc = job->nchunks, p = t.index, n = 0, most = 0, s;
  int k = job->nkeys;
  for (int64_t c = 0; c < nc; c++) {
    int64_t cnt = slice_of(job, m, c, p, &s);
    n += cnt;
    most = cnt > most ? cnt : most;
  }
  mp->n = n;
  uint32_t **codes = NULL;
  uint64_t *ncodes = NULL;
  int32_t *first = NULL;
  uint8_t *bits = NULL;
  tsr_status st = TSR_OK;
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)k + 1, sizeof *codes, (void **)&codes));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)k + 1, sizeof *ncodes, (void **)&ncodes));
  TSR__TRY_GOTO(st, tsr_alloc(ctx, (size_t)(most + 7) / 8 + 8, (void **)&bits));
  for (int j = 0; j < k; j++) {
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int64_t c = 0; c < nc; c++) {
      int64_t cnt = slice_of(job, m, c, p, &s);
      if (cnt == 0)
        continue;
      tsr__colread r;
      slice_read(&job->parts[c].keys[j], s, cnt, bits, &r);
      uint64_t a = 1, b = 0;
      gb_minmax(&r, job->key_types[j], &a, &b);
      if (a <= b) {
        lo = a < lo ? a : lo;
        hi = b > hi ? b : hi;
      }
    }
    if (lo > hi) {
      lo = 1;
      hi = 0;
    }
    gb_coder *coder = NULL;
    TSR__TRY_GOTO(st, gb_coder_create(ctx, job->key_types[j], lo, hi, n, &coder));
    st = tsr_kernel_alloc(ctx, (size_t)n * sizeof **codes + 4, (void **)&codes[j]);
    int64_t e = 0;
    for (int64_t c = 0; c < nc && st == TSR_OK; c++) {
      int64_t cnt = slice_of(job, m, c, p, &s);
      if (cnt == 0)
        continue;
      tsr__colread r;
      slice_read(&job->parts[c].keys[j], s, cnt, bits, &r);
      st = gb_coder_code(coder, &r, codes[j] + e);
      e += cnt;
    }
    ncodes[j] = gb_coder_ncodes(coder);
    gb_coder_destroy(&coder);
    if (st != TSR_OK)
      goto fail;
  }
  TSR__TRY_GOTO(st, tsr_alloc(ctx, (size_t)n * sizeof *mp->pg + 4, (void **)&mp->pg));
  TSR__TRY_GOTO(st, tsr_kernel_alloc(ctx, (size_t)n * sizeof *first + 4, (void **)&first));
  TSR__TRY_GOTO(st, gb_group_codes(ctx, k, codes, ncodes, n, mp->pg, &mp->ngroups, first));
  int64_t ng = mp->ngroups;
  TSR__TRY_GOTO(st, tsr_alloc(ctx, (size_t)ng * sizeof *mp->origin_c + 4, (void **)&mp->origin_c));
  TSR__TRY_GOTO(st, tsr_alloc(ctx, (size_t)ng * sizeof *mp->origin_l + 4, (void **)&mp->origin_l));
  if (ng > 0) {
    int64_t c = 0, e0 = 0, cnt = slice_of(job, m, 0, p, &s);
    for (int64_t g = 0; g < ng; g++) { /* first[] increases with g */
      while (e0 + cnt <= first[g]) {
        e0 += cnt;
        c++;
        cnt = slice_of(job, m, c, p, &s);
      }
      mp->origin_c[g] = (int32_t)c;
      mp->origin_l[g] = (int32_t)(s + first[g] - e0);
    }
  }
fail:
  if (codes != NULL)
    for (int j = 0; j < k; j++)
      tsr_free(ctx, codes[j]);
  tsr_free(ctx, codes);
  tsr_free(ctx, ncodes);
  tsr_free(ctx, first);
  tsr_free(ctx, bits);
  return st;
}

/* Merges partition `index`'s partial states, chunk by chunk in chunk order. */
static tsr_status combine_kernel(const tsr_kernel_call *call) {
  tsr__local_task t = tsr__local_task_of(call);
  const merge_arg *arg = t.arg;
  gb_job *job = arg->job;
  gb_merged *m = arg->m;
  tsr_ctx *ctx = job->ctx;
  const gb_mpart *mp = &m->parts[t.index];
  int64_t nc = job->nchunks, p = t.index, most = 0, s;
  for (int64_t c = 0; c < nc; c++) {
    int64_t cnt = slice_of(job, m, c, p, &s);
    most = cnt > most ? cnt : most;
  }
  int32_t *map = NULL;
  TSR_TRY(tsr_kernel_alloc(ctx, (size_t)most * sizeof *map + 4, (void **)&map));
  int64_t e = 0;
  for (int64_t c = 0; c < nc; c++) {
    int64_t cnt = slice_of(job, m, c, p, &s);
    if (cnt == 0)
      continue;
    for (int64_t i = 0; i < cnt; i++)
      map[i] = (int32_t)(mp->base + mp->pg[e + i]);
    for (int a = 0; a < job->naggs; a++)
      if (!job->aggs[a].holistic)
        gb_agg_merge(&job->aggs[a], &m->states[a], job->astates + (int64_t)a * nc, (int32_t)c, s,
                     map, cnt);
    if (m->gid != NULL)
      memcpy(m->gid + m->off[c] + s, map, (size_t)cnt * sizeof *map);
    e += cnt;
  }
  tsr_free(ctx, map);
  return TSR_OK;
}

static int row_cmp(const void *a, const void *b) {
  int64_t x = ((const int64_t *)a)[0], y = ((const int64_t *)b)[0];
  return x < y ? -1 : x > y;
}

/* m->order: the groups by their first row.  The groups are counted out by
 * the chunk of their first row; within a chunk, many groups are ordered by
 * a scan of the chunk's rows (slot[row] = group), very few by a sort. */
static tsr_status first_seen_order(const gb_job *job, gb_merged *m) {
  tsr_ctx *ctx = job->ctx;
  int64_t ng = m->ngroups, nc = job->nchunks, most = 0;
  int64_t *base = NULL, *grp = NULL;
  int32_t *slot = NULL;
  tsr_status st = TSR_OK;
  if (job->nkeys == 0 || ng <= 1) { /* at most one group */
    for (int64_t g = 0; g < ng; g++)
      m->order[g] = g;
    return TSR_OK;
  }
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)nc + 2, sizeof *base, (void **)&base));
  TSR__TRY_GOTO(
      st, tsr__alloc_array(ctx, 2 * (size_t)ng + 2, sizeof *grp, "group order", (void **)&grp));
  for (int64_t g = 0; g < ng; g++)
    base[m->origin_c[g] + 1]++;
  for (int64_t c = 0; c < nc; c++) {
    int64_t rows = job->parts[c].rows;
    most = base[c + 1] > 0 && rows > most ? rows : most;
    base[c + 1] += base[c];
  }
  for (int64_t g = 0; g < ng; g++) { /* (first row, group) pairs by chunk */
    int32_t c = m->origin_c[g];
    int64_t at = base[c]++;
    grp[2 * at] = job->parts[c].first[m->origin_l[g]];
    grp[2 * at + 1] = g;
  }
  for (int64_t c = nc; c > 0; c--) /* back to the chunks' starts */
    base[c] = base[c - 1];
  base[0] = 0;
  TSR__TRY_GOTO(
      st, tsr__alloc_array(ctx, (size_t)most + 1, sizeof *slot, "group order", (void **)&slot));
  for (int64_t c = 0; c < nc; c++) {
    int64_t lo = base[c], n = base[c + 1] - lo, rows = job->parts[c].rows;
    if (n == 0)
      continue;
    /* A sort costs about 8 ns x n log2 n, the scan (a store, then a load a
     * row) 1.5 ns a row: 2 ranks' q5, 5 x 10^4 groups first seen in a run
     * of 10^6 rows, 3.8 -> 1.3 ms with the scan (a sort for n * 16 < rows
     * before). */
    if (n * (64 - __builtin_clzll((uint64_t)n)) * 5 < rows) {
      qsort(grp + 2 * lo, (size_t)n, 2 * sizeof *grp, row_cmp); /* rows are distinct */
      for (int64_t i = 0; i < n; i++)
        m->order[lo + i] = grp[2 * (lo + i) + 1];
      continue;
    }
    memset(slot, 0xff, (size_t)rows * sizeof *slot);
    for (int64_t i = lo; i < lo + n; i++)
      slot[grp[2 * i]] = (int32_t)grp[2 * i + 1];
    int64_t o = lo;
    for (int64_t r = 0; r < rows; r++)
      if (slot[r] >= 0)
        m->order[o++] = slot[r];
  }
fail:
  tsr_free(ctx, base);
  tsr_free(ctx, grp);
  tsr_free(ctx, slot);
  return st;
}

static tsr_status merge(gb_job *job, gb_merged *m) {
  tsr_ctx *ctx = job->ctx;
  int64_t nc = job->nchunks;
  tsr_status st = TSR_OK;
  memset(m, 0, sizeof *m);
  TSR__TRY_GOTO(
      st, tsr__alloc_array(ctx, (size_t)nc + 1, sizeof *m->off, "chunk offsets", (void **)&m->off));
  m->off[0] = 0;
  for (int64_t c = 0; c < nc; c++)
    m->off[c + 1] = m->off[c] + job->parts[c].n;
  int64_t total = m->total = m->off[nc];
  TSR__CHECK_GOTO(st, total < INT32_MAX, TSR_ENOTSUP,
                  "%s: %lld groups over all chunks (at most 2^31 - 1)", fn, (long long)total);
  /* After a shuffle the partitions are the buckets, so that a part kept
   * here skips the other ranks' buckets (slice_of). */
  m->nparts = job->nkeys > 0 && (total >= PART_MIN_ENTRIES || job->shuffled) ? NBUCKETS : 1;
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)m->nparts, sizeof *m->parts, (void **)&m->parts));
  merge_arg arg = {job, m};
  TSR__TRY_GOTO(
      st, tsr__taskgraph_run_local(ctx, "frame_groupby_group", group_kernel, &arg, m->nparts));
  int64_t ng = 0;
  for (int p = 0; p < m->nparts; p++) {
    m->parts[p].base = ng;
    ng += m->parts[p].ngroups;
  }
  bool none = job->nkeys == 0 && ng == 0; /* no rows: one group of aggregates over nothing */
  m->ngroups = none ? 1 : ng;
  TSR__TRY_GOTO(st, tsr__alloc_array(ctx, (size_t)m->ngroups + 1, sizeof *m->origin_c, "groups",
                                     (void **)&m->origin_c));
  TSR__TRY_GOTO(st, tsr__alloc_array(ctx, (size_t)m->ngroups + 1, sizeof *m->origin_l, "groups",
                                     (void **)&m->origin_l));
  TSR__TRY_GOTO(st, tsr__alloc_array(ctx, (size_t)m->ngroups + 1, sizeof *m->order, "groups",
                                     (void **)&m->order));
  for (int p = 0; p < m->nparts; p++) {
    const gb_mpart *mp = &m->parts[p];
    memcpy(m->origin_c + mp->base, mp->origin_c, (size_t)mp->ngroups * sizeof *m->origin_c);
    memcpy(m->origin_l + mp->base, mp->origin_l, (size_t)mp->ngroups * sizeof *m->origin_l);
  }
  if (none) {
    m->origin_c[0] = m->origin_l[0] = -1;
    m->order[0] = 0;
  } else {
    TSR__TRY_GOTO(st, first_seen_order(job, m));
  }
  TSR__TRY_GOTO(st,
                tsr_calloc(ctx, (size_t)job->naggs + 1, sizeof *m->states, (void **)&m->states));
  for (int a = 0; a < job->naggs; a++)
    if (!job->aggs[a].holistic)
      TSR__TRY_GOTO(st, gb_agg_merged_init(ctx, &job->aggs[a], m->ngroups, &m->states[a]));
  if (job->nhol > 0) {
    TSR__TRY_GOTO(st, tsr__alloc_array(ctx, (size_t)total + 1, sizeof *m->gid, "group ids",
                                       (void **)&m->gid));
    if (job->kept_own) /* my parts' groups of other ranks: their rows skipped (TSR__HOL_SKIP) */
      memset(m->gid, 0xff, (size_t)total * sizeof *m->gid);
  }
  TSR__TRY_GOTO(
      st, tsr__taskgraph_run_local(ctx, "frame_groupby_combine", combine_kernel, &arg, m->nparts));
fail:
  return st;
}

/* ---- group order -------------------------------------------------------------------- */

/* Compares groups a and b by their keys: ascending, nulls last, NaN above
 * every number, strings by bytes, dictionaries by code (their order). */
static int key_cmp(const gb_job *job, const gb_merged *m, int64_t a, int64_t b) {
  for (int j = 0; j < job->nkeys; j++) {
    const gb_col *ca = &job->parts[m->origin_c[a]].keys[j];
    const gb_col *cb = &job->parts[m->origin_c[b]].keys[j];
    int64_t ia = m->origin_l[a], ib = m->origin_l[b];
    bool na = ca->nulls > 0 && !tsr__bit_get(ca->validity, ia);
    bool nb = cb->nulls > 0 && !tsr__bit_get(cb->validity, ib);
    if (na || nb) {
      if (na != nb)
        return na ? 1 : -1;
      continue;
    }
    int c = 0;
    switch (job->key_types[j].id) {
#define CMPI(ID, T)                                                     \
  case ID: {                                                            \
    T x = ((const T *)ca->values)[ia], y = ((const T *)cb->values)[ib]; \
    c = x < y ? -1 : x > y;                                             \
    break;                                                              \
  }
      CMPI(TSR_COL_BOOL, uint8_t)
      CMPI(TSR_COL_INT8, int8_t)
      CMPI(TSR_COL_INT16, int16_t)
      CMPI(TSR_COL_INT32, int32_t)
      CMPI(TSR_COL_INT64, int64_t)
      CMPI(TSR_COL_UINT8, uint8_t)
      CMPI(TSR_COL_UINT16, uint16_t)
      CMPI(TSR_COL_UINT32, uint32_t)
      CMPI(TSR_COL_UINT64, uint64_t)
      CMPI(TSR_COL_DICT, int32_t)
      CMPI(TSR_COL_DATE, int32_t)
      CMPI(TSR_COL_TIMESTAMP, int64_t)
#undef CMPI
    case TSR_COL_FLOAT32:
    case TSR_COL_FLOAT64: {
      double x, y;
      if (job->key_types[j].id == TSR_COL_FLOAT32) {
        x = ((const float *)ca->values)[ia];
        y = ((const float *)cb->values)[ib];
      } else {
        x = ((const double *)ca->values)[ia];
        y = ((const double *)cb->values)[ib];
      }
      bool xn = x != x, yn = y != y;
      c = xn || yn ? (int)xn - (int)yn : (x < y ? -1 : x > y);
      break;
    }
    default: { /* strings */
      const tsr_string_view *va = (const tsr_string_view *)ca->values + ia;
      const tsr_string_view *vb = (const tsr_string_view *)cb->values + ib;
      uint32_t la = va->length, lb = vb->length;
      c = memcmp(tsr_string_view_data(va, ca->data), tsr_string_view_data(vb, cb->data),
                 la < lb ? la : lb);
      if (c == 0)
        c = la < lb ? -1 : la > lb;
      break;
    }
    }
    if (c != 0)
      return c;
  }
  return 0;
}

/* Sorts order[0..n) by the groups' keys (merge sort; tmp has n entries). */
static void sort_groups(const gb_job *job, const gb_merged *m, int64_t *order, int64_t *tmp,
                        int64_t n) {
  for (int64_t w = 1; w < n; w *= 2) {
    for (int64_t lo = 0; lo < n; lo += 2 * w) {
      int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
      int64_t i = lo, j = mid, o = lo;
      while (i < mid && j < hi)
        tmp[o++] = key_cmp(job, m, order[j], order[i]) < 0 ? order[j++] : order[i++];
      while (i < mid)
        tmp[o++] = order[i++];
      while (j < hi)
        tmp[o++] = order[j++];
    }
    memcpy(order, tmp, (size_t)n * sizeof *order);
  }
}

/* ---- the result ------------------------------------------------------------------------ */

/* Writes the values of groups order[0..n) in column j of the parts' keys
 * (of `type`) into column chunk out.  A value is one load and one store
 * (tsr__copy_value, no memcpy call): this is every result row's every key,
 * and with a gathered result every column, the result phase's largest
 * cost. */
static void write_key(const gb_job *job, const gb_merged *m, int j, tsr_type type,
                      const int64_t *order, int64_t n, tsr__colchunk *out) {
  size_t w = tsr_type_width(type);
  unsigned char *values = tsr__colchunk_values(out);
  uint8_t *valid = tsr__colchunk_validity(out);
  memset(valid, 0xff, (size_t)(n + 7) / 8);
  int64_t nulls = 0;
#define KEY_LOOP(COPY)                                     \
  for (int64_t i = 0; i < n; i++) {                        \
    int64_t g = order[i];                                  \
    const gb_col *c = &job->parts[m->origin_c[g]].keys[j]; \
    int64_t r = m->origin_l[g];                            \
    if (c->nulls > 0 && !tsr__bit_get(c->validity, r)) {   \
      memset(values + (size_t)i * w, 0, w);                \
      tsr__bit_set(valid, i, false);                       \
      nulls++;                                             \
    } else {                                               \
      COPY;                                                \
    }                                                      \
  }
  if (type.id == TSR_COL_STRING) {
    KEY_LOOP(const tsr_string_view *v = (const tsr_string_view *)c->values + r;
             ((tsr_string_view *)(void *)values)[i] =
                 v->length <= 12 ? tsr__view_copy_short(v)
                                 : tsr__view_make(out, tsr_string_view_data(v, c->data), v->length))
  } else {
    KEY_LOOP(tsr__copy_value(values + (size_t)i * w,
                             (const unsigned char *)c->values + (size_t)r * w, w))
  }
#undef KEY_LOOP
  out->null_count = nulls;
}

static uint64_t key_data_bytes(const gb_job *job, const gb_merged *m, int j, tsr_type type,
                               const int64_t *order, int64_t n) {
  if (type.id != TSR_COL_STRING)
    return 0;
  uint64_t bytes = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t g = order[i];
    const gb_col *c = &job->parts[m->origin_c[g]].keys[j];
    const tsr_string_view *v = (const tsr_string_view *)c->values + m->origin_l[g];
    if (v->length > 12)
      bytes += v->length;
  }
  return bytes;
}

static void write_hol(const gb_agg *a, const int64_t *order, const int32_t *rank, int64_t n,
                      tsr__colchunk *out);
static uint64_t hol_data_bytes(const gb_agg *a, const int64_t *order, const int32_t *rank,
                               int64_t n);

/* The table chunk of groups ord[0..n) (rk: their per-value ranks, or
 * NULL) into *chunk (tsr_alloc, *bytes), dc[i] column i's data capacity.
 * gathered: every column is read from job->parts' columns (a result
 * gathered from the ranks, see gather_result). */
static tsr_status build_chunk(gb_job *job, gb_merged *m, const int64_t *ord, const int32_t *rk,
                              int64_t n, bool gathered, const size_t *widths, int64_t *dc,
                              void **chunk, size_t *bytes) {
  int nk = job->nkeys, na = job->naggs, ncols = nk + na;
  *chunk = NULL;
  for (int i = 0; i < ncols; i++)
    if (gathered || i < nk)
      dc[i] = (int64_t)key_data_bytes(job, m, i, job->out_types[i], ord, n);
    else if (job->aggs[i - nk].holistic)
      dc[i] = (int64_t)hol_data_bytes(&job->aggs[i - nk], ord, rk, n);
    else
      dc[i] = (int64_t)gb_agg_data_bytes(&job->aggs[i - nk], &m->states[i - nk],
                                         job->astates + (int64_t)(i - nk) * job->nchunks, ord, n);
  uint64_t b = 0;
  TSR_CHECK(tsr__tablechunk_bytes((uint32_t)ncols, widths, n, dc, &b), TSR_EINVAL,
            "%s: the result's chunk is too large", fn);
  TSR_TRY(tsr_alloc(job->ctx, (size_t)b, chunk));
  *bytes = (size_t)b;
  tsr__tablechunk_init(*chunk, b, (uint32_t)ncols, widths, n, dc);
  for (int i = 0; i < ncols; i++) {
    tsr__colchunk *cc = tsr__tablechunk_col(*chunk, (uint32_t)i);
    cc->rows = n;
    if (gathered || i < nk) {
      write_key(job, m, i, job->out_types[i], ord, n, cc);
    } else if (job->aggs[i - nk].holistic) {
      write_hol(&job->aggs[i - nk], ord, rk, n, cc);
    } else {
      tsr_status st = gb_agg_finish(&job->aggs[i - nk], &m->states[i - nk],
                                    job->astates + (int64_t)(i - nk) * job->nchunks, ord, n, cc);
      if (st != TSR_OK) {
        tsr_free(job->ctx, *chunk);
        *chunk = NULL;
        return st;
      }
    }
  }
  return TSR_OK;
}

/* The length of group g's longest largest/smallest list. */
static int64_t longest_list(const gb_job *job, int64_t g) {
  int64_t most = 0;
  for (int a = 0; a < job->naggs; a++) {
    const int64_t *o = job->aggs[a].res.offsets;
    most = o[g + 1] - o[g] > most ? o[g + 1] - o[g] : most;
  }
  return most;
}

/* Largest/smallest: one row per value.  Group order[i] gives as many rows
 * as its longest list: *order becomes the groups of those rows (the old
 * array freed), *rank their ranks within their groups, *nrows their count. */
static tsr_status per_value_rows(const gb_job *job, int64_t ng, int64_t **order, int32_t **rank,
                                 int64_t *nrows) {
  tsr_ctx *ctx = job->ctx;
  int64_t n = 0;
  for (int64_t i = 0; i < ng; i++)
    n += longest_list(job, (*order)[i]);
  int64_t *order2 = NULL;
  int32_t *rk = NULL;
  TSR_TRY(tsr__alloc_array(ctx, (size_t)n + 1, sizeof *order2, "group order", (void **)&order2));
  tsr_status st = tsr__alloc_array(ctx, (size_t)n + 1, sizeof *rk, "ranks", (void **)&rk);
  if (st != TSR_OK) {
    tsr_free(ctx, order2);
    return st;
  }
  int64_t r = 0;
  for (int64_t i = 0; i < ng; i++) {
    int64_t g = (*order)[i], most = longest_list(job, g);
    for (int64_t k = 0; k < most; k++, r++) {
      order2[r] = g;
      rk[r] = (int32_t)k;
    }
  }
  tsr_free(ctx, *order);
  *order = order2;
  *rank = rk;
  *nrows = n;
  return TSR_OK;
}

static tsr_status build_result(gb_job *job, gb_merged *m, tsr_group_order order_kind, bool gathered,
                               tsr_frame **out) {
  tsr_ctx *ctx = job->ctx;
  int nk = job->nkeys, na = job->naggs, ncols = nk + na;
  int64_t ng = m->ngroups;
  tsr_status st = TSR_OK;
  int64_t *order = NULL, *tmp = NULL, *rows = NULL, *dcap = NULL, *dc = NULL;
  int32_t *rank = NULL;
  int64_t nrc = 0;
  void **chunks = NULL;
  size_t *bytes = NULL, *widths = NULL;
  TSR__TRY_GOTO(
      st, tsr__alloc_array(ctx, (size_t)ng + 1, sizeof *order, "group order", (void **)&order));
  memcpy(order, m->order, (size_t)ng * sizeof *order);
  if (order_kind == TSR_GROUP_SORTED && nk > 0 && ng > 1) {
    TSR__TRY_GOTO(st,
                  tsr__alloc_array(ctx, (size_t)ng + 1, sizeof *tmp, "group order", (void **)&tmp));
    sort_groups(job, m, order, tmp, ng);
  }
  int64_t nrows = ng;
  if (job->per_value && !gathered) /* (gathered rows are one a value already) */
    TSR__TRY_GOTO(st, per_value_rows(job, ng, &order, &rank, &nrows));
  nrc = nrows == 0 ? 1 : (nrows + RESULT_CHUNK_ROWS - 1) / RESULT_CHUNK_ROWS;
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)nrc + 1, sizeof *chunks, (void **)&chunks));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)nrc + 1, sizeof *bytes, (void **)&bytes));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)nrc + 1, sizeof *rows, (void **)&rows));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)ncols * (size_t)nrc + 1, sizeof *dcap, (void **)&dcap));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)ncols + 1, sizeof *dc, (void **)&dc));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)ncols + 1, sizeof *widths, (void **)&widths));
  for (int i = 0; i < ncols; i++)
    widths[i] = tsr_type_width(job->out_types[i]);
  for (int64_t rc = 0; rc < nrc; rc++) {
    int64_t g0 = rc * RESULT_CHUNK_ROWS;
    int64_t n = nrows - g0 < RESULT_CHUNK_ROWS ? nrows - g0 : RESULT_CHUNK_ROWS;
    rows[rc] = n;
    TSR__TRY_GOTO(st, build_chunk(job, m, order + g0, rank ? rank + g0 : NULL, n, gathered, widths,
                                  dc, &chunks[rc], &bytes[rc]));
    for (int i = 0; i < ncols; i++)
      dcap[(int64_t)i * nrc + rc] = dc[i];
  }
  st = gb_mem_frame(ctx, ncols, job->out_names, job->out_types, job->out_dicts, nrc, chunks, bytes,
                    rows, dcap, out);
  tsr_free(ctx, chunks); /* the frame owns the chunks now, also on failure */
  chunks = NULL;
fail:
  if (chunks != NULL)
    for (int64_t rc = 0; rc < nrc; rc++)
      tsr_free(ctx, chunks[rc]);
  tsr_free(ctx, chunks);
  tsr_free(ctx, bytes);
  tsr_free(ctx, rows);
  tsr_free(ctx, dcap);
  tsr_free(ctx, dc);
  tsr_free(ctx, widths);
  tsr_free(ctx, order);
  tsr_free(ctx, rank);
  tsr_free(ctx, tmp);
  return st;
}

/* ---- checking the call ------------------------------------------------------------------ */

static bool holistic(tsr_agg_op op) {
  return op == TSR_AGG_MEDIAN || op == TSR_AGG_QUANTILE || op == TSR_AGG_NUNIQUE ||
         op == TSR_AGG_LARGEST || op == TSR_AGG_SMALLEST;
}

/* DuckDB's name for the aggregate ("sum(v1)", "count_star()", "corr(v1, v2)"). */
static tsr_status default_name(tsr_ctx *ctx, const tsr_agg *a, char **out) {
  char buf[512];
  const char *x = a->column ? a->column : "", *y = a->column2 ? a->column2 : "";
  switch (a->op) {
  case TSR_AGG_COUNT_ALL:
    snprintf(buf, sizeof buf, "count_star()");
    break;
  case TSR_AGG_MEAN:
    snprintf(buf, sizeof buf, "avg(%s)", x);
    break;
  case TSR_AGG_VAR:
  case TSR_AGG_STD: {
    const char *f = a->op == TSR_AGG_VAR ? "var" : "stddev";
    if (a->ddof == 0 || a->ddof == 1)
      snprintf(buf, sizeof buf, "%s_%s(%s)", f, a->ddof ? "samp" : "pop", x);
    else
      snprintf(buf, sizeof buf, "%s(%s, ddof=%d)", f, x, a->ddof);
    break;
  }
  case TSR_AGG_MEDIAN:
    snprintf(buf, sizeof buf, "median(%s)", x);
    break;
  case TSR_AGG_QUANTILE: {
    char q[32]; /* the shortest text that reads back as q */
    for (int digits = 1; digits <= 17; digits++) {
      snprintf(q, sizeof q, "%.*g", digits, a->q);
      if (strtod(q, NULL) == a->q)
        break;
    }
    snprintf(buf, sizeof buf, "quantile_cont(%s, %s)", x, q);
  } break;
  case TSR_AGG_FIRST:
    snprintf(buf, sizeof buf, "\"first\"(%s)", x);
    break;
  case TSR_AGG_LAST:
    snprintf(buf, sizeof buf, "\"last\"(%s)", x);
    break;
  case TSR_AGG_NUNIQUE:
    snprintf(buf, sizeof buf, "count(DISTINCT %s)", x);
    break;
  case TSR_AGG_CORR:
  case TSR_AGG_COVAR_SAMP:
  case TSR_AGG_COVAR_POP:
    snprintf(buf, sizeof buf, "%s(%s, %s)", op_names[a->op], x, y);
    break;
  case TSR_AGG_ANY:
    snprintf(buf, sizeof buf, "bool_or(%s)", x);
    break;
  case TSR_AGG_ALL:
    snprintf(buf, sizeof buf, "bool_and(%s)", x);
    break;
  case TSR_AGG_LARGEST:
  case TSR_AGG_SMALLEST:
    snprintf(buf, sizeof buf, "%s(%s, %lld)", op_names[a->op], x, (long long)a->n);
    break;
  default:
    snprintf(buf, sizeof buf, "%s(%s)", op_names[a->op], x);
    break;
  }
  size_t len = strlen(buf);
  TSR_TRY(tsr_alloc(ctx, len + 1, (void **)out));
  memcpy(*out, buf, len + 1);
  return TSR_OK;
}

/* Index of frame column `col` in the job's input columns (added when new). */
static int input_of(int *cols, int *ncols, int col) {
  for (int i = 0; i < *ncols; i++)
    if (cols[i] == col)
      return i;
  cols[*ncols] = col;
  return (*ncols)++;
}

/* Resolves aggregate i into job->aggs[i]. */
static tsr_status resolve_agg(const tsr_frame *f, const tsr_agg *in, int i, gb_job *job, int *cols,
                              int *ncols) {
  gb_agg *a = &job->aggs[i];
  tsr_agg_op op = in->op;
  TSR_CHECK((unsigned)op < TSR_NUM_AGG_OPS, TSR_EINVAL, "%s: aggregate %d: %d is not a tsr_agg_op",
            fn, i, (int)op);
  const char *name = tsr_agg_op_name(op);
  a->op = op;
  a->col = a->col2 = -1;
  a->ddof = in->ddof;
  job->agg_in[i] = job->agg_in2[i] = -1;
  if (op != TSR_AGG_COUNT_ALL) {
    TSR_CHECK(in->column != NULL, TSR_EINVAL, "%s: aggregate %d (%s) needs a column", fn, i, name);
    int k;
    TSR_TRY(tsr__frame_find(f, fn, in->column, &k));
    a->col = k;
    a->in_type = f->cols[k].type;
    job->agg_in[i] = input_of(cols, ncols, k);
  }
  bool two = op == TSR_AGG_CORR || op == TSR_AGG_COVAR_SAMP || op == TSR_AGG_COVAR_POP;
  if (two) {
    TSR_CHECK(in->column2 != NULL, TSR_EINVAL, "%s: aggregate %d (%s) needs column2", fn, i, name);
    int k;
    TSR_TRY(tsr__frame_find(f, fn, in->column2, &k));
    a->col2 = k;
    a->in_type2 = f->cols[k].type;
    job->agg_in2[i] = input_of(cols, ncols, k);
  }
  tsr_coltype t = a->in_type.id;
  a->kind = kind_of(t);
  switch (op) {
  case TSR_AGG_COUNT_ALL:
  case TSR_AGG_COUNT:
    a->out_type = (tsr_type){TSR_COL_INT64, 0};
    break;
  case TSR_AGG_SUM:
  case TSR_AGG_MEAN:
  case TSR_AGG_VAR:
  case TSR_AGG_STD:
    TSR_CHECK(numeric(t), TSR_EDTYPE, "%s: %s of column '%s' (%s): %s needs a numeric column", fn,
              name, in->column, tsr_type_name(a->in_type), name);
    TSR_CHECK((op != TSR_AGG_VAR && op != TSR_AGG_STD) || in->ddof >= 0, TSR_EINVAL,
              "%s: %s of column '%s': ddof = %d is negative", fn, name, in->column, in->ddof);
    if (op == TSR_AGG_SUM)
      a->out_type = (tsr_type){a->kind == GB_K_FLOAT  ? TSR_COL_FLOAT64
                               : a->kind == GB_K_UINT ? TSR_COL_UINT64
                                                      : TSR_COL_INT64,
                               0};
    else
      a->out_type = (tsr_type){TSR_COL_FLOAT64, 0};
    break;
  case TSR_AGG_MIN:
  case TSR_AGG_MAX:
  case TSR_AGG_FIRST:
  case TSR_AGG_LAST:
    a->out_type = a->in_type;
    job->out_dicts[job->nkeys + i] = f->cols[a->col].dict;
    break;
  case TSR_AGG_CORR:
  case TSR_AGG_COVAR_SAMP:
  case TSR_AGG_COVAR_POP:
    TSR_CHECK(numeric(t) && numeric(a->in_type2.id), TSR_EDTYPE,
              "%s: %s of columns '%s' (%s) and '%s' (%s): %s needs numeric columns", fn, name,
              in->column, tsr_type_name(a->in_type), in->column2, tsr_type_name(a->in_type2), name);
    a->out_type = (tsr_type){TSR_COL_FLOAT64, 0};
    break;
  case TSR_AGG_ANY:
  case TSR_AGG_ALL:
    TSR_CHECK(t == TSR_COL_BOOL, TSR_EDTYPE, "%s: %s of column '%s' (%s): %s needs a bool column",
              fn, name, in->column, tsr_type_name(a->in_type), name);
    a->out_type = (tsr_type){TSR_COL_BOOL, 0};
    break;
  default:
    break;
  }
  if (holistic(op)) {
    a->holistic = true;
    job->nhol++;
    a->q = op == TSR_AGG_MEDIAN ? 0.5 : in->q;
    a->spec.type = a->in_type;
    switch (op) {
    case TSR_AGG_MEDIAN:
    case TSR_AGG_QUANTILE:
      TSR_CHECK(a->q >= 0 && a->q <= 1, TSR_EINVAL,
                "%s: %s of column '%s': q = %g is not in [0, 1]", fn, name, in->column, a->q);
      TSR_CHECK(t != TSR_COL_BOOL && t != TSR_COL_STRING && t != TSR_COL_DICT, TSR_EDTYPE,
                "%s: %s of column '%s' (%s): %s needs a numeric, date or timestamp column", fn,
                name, in->column, tsr_type_name(a->in_type), name);
      a->spec.kind = TSR__HOL_QUANTILE;
      a->spec.nq = 1;
      a->spec.q = &a->q;
      a->out_type = t == TSR_COL_FLOAT32     ? a->in_type
                    : t == TSR_COL_DATE      ? (tsr_type){TSR_COL_TIMESTAMP, TSR_TIME_US}
                    : t == TSR_COL_TIMESTAMP ? a->in_type
                                             : (tsr_type){TSR_COL_FLOAT64, 0};
      break;
    case TSR_AGG_NUNIQUE:
      a->spec.kind = TSR__HOL_NUNIQUE;
      a->out_type = (tsr_type){TSR_COL_INT64, 0};
      break;
    default: /* largest, smallest */
      TSR_CHECK(in->n >= 1, TSR_EINVAL, "%s: %s of column '%s': n = %lld must be at least 1", fn,
                name, in->column, (long long)in->n);
      a->spec.kind = op == TSR_AGG_LARGEST ? TSR__HOL_LARGEST : TSR__HOL_SMALLEST;
      a->spec.n = in->n;
      a->out_type = a->in_type;
      job->out_dicts[job->nkeys + i] = f->cols[a->col].dict;
      job->per_value = true;
      break;
    }
  }
  if (op == TSR_AGG_LAST)
    job->need_last = true;
  if (in->name != NULL) {
    TSR_CHECK(in->name[0] != '\0', TSR_EINVAL, "%s: aggregate %d (%s): the name is empty", fn, i,
              name);
    size_t len = strlen(in->name);
    TSR_TRY(tsr_alloc(job->ctx, len + 1, (void **)&a->name));
    memcpy(a->name, in->name, len + 1);
  } else {
    TSR_TRY(default_name(job->ctx, in, &a->name));
  }
  return TSR_OK;
}

static void job_free(gb_job *job) {
  tsr_ctx *ctx = job->ctx;
  if (job->parts != NULL)
    for (int64_t c = 0; c < job->nchunks; c++)
      part_free(ctx, job, &job->parts[c]);
  if (job->astates != NULL)
    for (int64_t i = 0; i < (int64_t)job->naggs * job->nchunks; i++)
      gb_state_free(ctx, &job->astates[i]);
  tsr_free(ctx, job->wire_in);
  if (job->aggs != NULL)
    for (int a = 0; a < job->naggs; a++) {
      tsr_free(ctx, job->aggs[a].name);
      tsr__hol_destroy(&job->aggs[a].hol);
    }
  tsr_taskgraph_destroy(&job->g);
  tsr_free(ctx, job->in_tasks);
  if (job->out_names != NULL)
    for (int i = 0; i < job->nkeys; i++)
      tsr_free(ctx, job->out_names[i]);
  tsr_free(ctx, job->out_names);
  tsr_free(ctx, job->out_types);
  tsr_free(ctx, job->out_dicts);
  tsr_free(ctx, job->parts);
  tsr_free(ctx, job->astates);
  tsr_free(ctx, job->aggs);
  tsr_free(ctx, job->refs);
  tsr_free(ctx, job->key_in);
  tsr_free(ctx, job->agg_in);
  tsr_free(ctx, job->agg_in2);
  tsr_free(ctx, job->key_types);
}

/* Per input that is a frame node, a flag per column of its table chunks:
 * whether the group-by reads it ((*used)[i] NULL for other inputs). */
static tsr_status used_slots(const gb_job *job, tsr__expr *const *inputs, uint32_t n_inputs,
                             bool ***used) {
  TSR_TRY(tsr_calloc(job->ctx, (size_t)n_inputs + 1, sizeof **used, (void **)used));
  for (uint32_t i = 0; i < n_inputs; i++)
    TSR_TRY(
        tsr__fnode_slots_read(job->ctx, inputs[i], job->refs, job->ncols, i, NULL, &(*used)[i]));
  return TSR_OK;
}

/* Lowers the input columns and one task per part, and runs them. */
static tsr_status run_chunks(tsr_frame *f, gb_job *job, const int *cols) {
  tsr_ctx *ctx = f->ctx;
  int64_t nc = job->nchunks, nin = job->nin, run = job->run;
  tsr_taskgraph *g = NULL;
  tsr__lowering *l = NULL;
  tsr__expr **inputs = NULL;
  const uint32_t **ids = NULL;
  uint32_t *tasks = NULL, *ins = NULL;
  uint32_t n_inputs = 0;
  bool **used = NULL;
  bool ran = false, keep_inputs = job->nhol > 0 && !job->kept_rows;
  tsr_status st = TSR_OK;
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)job->ncols + 1, sizeof *inputs, (void **)&inputs));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)job->ncols + 1, sizeof *ids, (void **)&ids));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)(job->ncols * run) + 1, sizeof *ins, (void **)&ins));
  TSR__TRY_GOTO(st,
                tsr_calloc(ctx, (size_t)job->ncols + 1, sizeof *job->refs, (void **)&job->refs));
  tsr__frame_colrefs(f, job->ncols, cols, inputs, &n_inputs, job->refs);
  job->n_inputs = n_inputs;
  TSR__TRY_GOTO(st, tsr_taskgraph_create(ctx, &g));
  TSR__TRY_GOTO(st, tsr__lowering_create(ctx, g, &l));
  for (uint32_t i = 0; i < n_inputs; i++)
    TSR__TRY_GOTO(st, tsr__lowering_lower(l, inputs[i], &ids[i]));
  TSR__TRY_GOTO(st, tsr__alloc_array(ctx, (size_t)nc + 1, sizeof *tasks, "tasks", (void **)&tasks));
  uint32_t k;
  TSR__TRY_GOTO(st, tsr_taskgraph_add_kernel(g, "frame_groupby", chunk_kernel, NULL, &k));
  TSR__TRY_GOTO(st, used_slots(job, inputs, n_inputs, &used)); /* per input, the slots read */
  /* Under MPI the parts reading a chunk made on another rank are added
   * first: the ranks run (and send) what they read first, and the chunk
   * crosses with only the columns read. */
  for (int pass = 0; pass < 2; pass++)
    for (int64_t c = 0; c < nc; c++) {
      uint32_t m = 0;
      int owner = job->dist ? part_owner(job, c) : 0;
      bool crosses = false;
      for (int64_t r = c * run; r < nin && r < (c + 1) * run; r++)
        for (uint32_t i = 0; i < n_inputs; i++) {
          ins[m] = ids[i][r];
          int made = job->dist ? tsr__taskgraph_placed_on(g, ins[m]) : -1;
          crosses |= made >= 0 && made != owner;
          if (pass == 0 && used[i] != NULL && made >= 0 && made != owner)
            TSR__TRY_GOTO(
                st, tsr__fnode_add_projection(g, inputs[i], r, ids[i][r], used[i], made, &ins[m]));
          m++;
        }
      if (crosses != (pass == 0))
        continue;
      gb_task t = {job, c};
      TSR__TRY_GOTO(st, tsr_taskgraph_add_task(g, k, ins, m, &t, sizeof t, 0, &tasks[c]));
      if (job->dist) /* a part runs where most of its chunks are owned */
        TSR__TRY_GOTO(st, tsr_taskgraph_set_owner(g, tasks[c], owner));
    }
  if (keep_inputs) {
    /* Holistic aggregates read their columns' chunks again after the
     * merge: keep them (and the graph). */
    TSR__TRY_GOTO(st, tsr__alloc_array(ctx, (size_t)n_inputs * (size_t)nc + 1,
                                       sizeof *job->in_tasks, "tasks", (void **)&job->in_tasks));
    for (uint32_t i = 0; i < n_inputs; i++)
      for (int64_t c = 0; c < nc; c++)
        job->in_tasks[(int64_t)i * nc + c] = ids[i][c];
    for (int a = 0; a < job->naggs; a++) {
      if (!job->aggs[a].holistic)
        continue;
      uint32_t i = job->refs[job->agg_in[a]].input;
      for (int64_t c = 0; c < nc; c++)
        TSR__TRY_GOTO(st, tsr_taskgraph_keep(g, ids[i][c]));
    }
  }
  TSR__TRY_GOTO(st, tsr_taskgraph_cull(g, tasks, (uint32_t)nc));
  ran = true;
  TSR__TRY_GOTO(st, tsr_taskgraph_run(g));
fail:
  if (!ran)
    st = tsr_ctx_agree(ctx, st);
  job->agreed = st != TSR_OK;
  tsr_free(ctx, tasks);
  tsr_free(ctx, ins);
  tsr_free(ctx, ids);
  for (uint32_t i = 0; used != NULL && i < n_inputs; i++)
    tsr_free(ctx, used[i]);
  tsr_free(ctx, used);
  tsr_free(ctx, inputs);
  tsr__lowering_destroy(&l);
  if (st == TSR_OK && keep_inputs)
    job->g = g;
  else
    tsr_taskgraph_destroy(&g);
  return st;
}

/* ---- holistic aggregates ------------------------------------------------------------------ */

typedef struct hol_task {
  gb_job *job;
  int32_t agg;
  int64_t index; /* chunk (scatter) or piece */
} hol_task;

/* Part c's values of holistic aggregate a: the part's (p->hcols: kept or
 * received rows), else chunk c of the column, kept by the first graph (on
 * the rank that owns the chunk). */
static tsr_status hol_input(const gb_job *job, int a, int64_t c, tsr__colread *out) {
  if (job->parts[c].hcols != NULL) {
    gb_col_read(&job->parts[c].hcols[a], out);
    return TSR_OK;
  }
  const tsr__colref *ref = &job->refs[job->aggs[a].col >= 0 ? job->agg_in[a] : 0];
  const void *data;
  size_t bytes;
  TSR_TRY(tsr_taskgraph_output(job->g, job->in_tasks[(int64_t)ref->input * job->nchunks + c], &data,
                               &bytes));
  /* The column's chunk, read as a kernel reads its input. */
  const void *ins[1] = {data};
  size_t in_bytes[1] = {bytes};
  tsr_kernel_call fake = {0};
  fake.inputs = ins;
  fake.input_bytes = in_bytes;
  fake.n_inputs = 1;
  tsr__colref r1 = *ref;
  r1.input = 0;
  tsr__colread_get(&r1, &fake, out);
  return TSR_OK;
}

/* Whether aggregate a's values of part p (p->hcols) are read as runs of
 * local groups (tsr__hol_scatter_runs): without nulls, of a fixed width. */
static bool runs_of(const gb_job *job, const gb_part *p, int a) {
  return p->hcols[a].nulls == 0 && job->aggs[a].in_type.id != TSR_COL_STRING;
}

static tsr_status scatter_kernel(const tsr_kernel_call *call) {
  hol_task t;
  memcpy(&t, call->params, sizeof t);
  gb_job *job = t.job;
  tsr_ctx *ctx = job->ctx;
  const gb_part *p = &job->parts[t.index];
  const int32_t *map = job->gid + job->off[t.index];
  if (p->hcols != NULL && runs_of(job, p, t.agg)) { /* a copy a local group */
    tsr__hol_runs hr = {.nruns = p->hg1 - p->hg0, .len = p->gcount + p->hg0};
    gb_col_read(&p->hcols[t.agg], &hr.col);
    uint32_t *gid = NULL;
    TSR_TRY(tsr_kernel_alloc(ctx, (size_t)hr.nruns * sizeof *gid + 4, (void **)&gid));
    for (int64_t k = 0; k < hr.nruns; k++) /* (another rank's group: TSR__HOL_SKIP) */
      gid[k] = (uint32_t)map[p->hg0 + k];
    hr.gid = gid;
    tsr_status st = tsr__hol_scatter_runs(job->aggs[t.agg].hol, t.index, &hr);
    tsr_free(ctx, gid);
    return st;
  }
  tsr__hol_chunk hc;
  TSR_TRY(hol_input(job, t.agg, t.index, &hc.col));
  hc.rows = p->hcols != NULL ? p->hrows : p->rows;
  uint32_t *gid = NULL;
  TSR_TRY(tsr_kernel_alloc(ctx, (size_t)hc.rows * sizeof *gid + 4, (void **)&gid));
  for (int64_t i = 0; i < hc.rows; i++)
    gid[i] = (uint32_t)map[p->ids[i]];
  hc.gid = gid;
  tsr_status st = tsr__hol_scatter(job->aggs[t.agg].hol, t.index, &hc);
  tsr_free(ctx, gid);
  return st;
}

static tsr_status piece_kernel(const tsr_kernel_call *call) {
  hol_task t;
  memcpy(&t, call->params, sizeof t);
  return tsr__hol_piece(t.job->aggs[t.agg].hol, t.index);
}

static uint64_t holistic_marks[2];

void tsr__groupby_holistic_marks(uint64_t *begin, uint64_t *end) {
  *begin = holistic_marks[0];
  *end = holistic_marks[1];
}

/* Scatters every chunk's rows by global group id, then computes every
 * piece, as parallel tasks; then hands out the results.  Under MPI every
 * rank does this for the groups it holds, with no word to the others
 * (tsr__taskgraph_set_local): a failure here meets their next collective,
 * which agrees first. */
static tsr_status run_holistic(gb_job *job, const gb_merged *m) {
  tsr_ctx *ctx = job->ctx;
  tsr_memory_stats ms;
  if (tsr_ctx_memory_stats(ctx, &ms) == TSR_OK)
    holistic_marks[0] = ms.allocations;
  int64_t nc = job->nchunks;
  job->gid = m->gid;
  job->off = m->off;
  tsr_taskgraph *g = NULL;
  uint32_t *scat = NULL, *wanted = NULL;
  size_t nwanted = 0, cap = 0;
  tsr_status st = TSR_OK;
  int64_t np = 1; /* pieces an aggregate (the same for all: ngroups decides) */
  for (int a = 0; a < job->naggs; a++)
    if (job->aggs[a].holistic) {
      TSR__TRY_GOTO(st,
                    tsr__hol_create(ctx, &job->aggs[a].spec, nc, m->ngroups, &job->aggs[a].hol));
      np = tsr__hol_npieces(job->aggs[a].hol);
    }
  cap = (size_t)np * (size_t)job->nhol;
  TSR__TRY_GOTO(st, tsr_taskgraph_create(ctx, &g));
  tsr__taskgraph_set_local(g); /* every rank holds every part's values */
  TSR__TRY_GOTO(st, tsr__alloc_array(ctx, (size_t)nc + 1, sizeof *scat, "tasks", (void **)&scat));
  TSR__TRY_GOTO(st, tsr__alloc_array(ctx, cap + 1, sizeof *wanted, "tasks", (void **)&wanted));
  uint32_t ks, kp;
  TSR__TRY_GOTO(st,
                tsr_taskgraph_add_kernel(g, "frame_groupby_scatter", scatter_kernel, NULL, &ks));
  TSR__TRY_GOTO(st, tsr_taskgraph_add_kernel(g, "frame_groupby_holistic", piece_kernel, NULL, &kp));
  for (int a = 0; a < job->naggs; a++) {
    if (!job->aggs[a].holistic)
      continue;
    for (int64_t c = 0; c < nc; c++) {
      hol_task t = {job, a, c};
      TSR__TRY_GOTO(st, tsr_taskgraph_add_task(g, ks, NULL, 0, &t, sizeof t, 0, &scat[c]));
    }
    for (int64_t pc = 0; pc < np; pc++) {
      hol_task t = {job, a, pc};
      TSR__TRY_GOTO(st, tsr_taskgraph_add_task(g, kp, scat, (uint32_t)nc, &t, sizeof t, 0,
                                               &wanted[nwanted++]));
    }
  }
  TSR__TRY_GOTO(st, tsr_taskgraph_cull(g, wanted, (uint32_t)nwanted));
  TSR__TRY_GOTO(st, tsr_taskgraph_run(g));
  for (int a = 0; a < job->naggs; a++) {
    gb_agg *ag = &job->aggs[a];
    if (!ag->holistic)
      continue;
    TSR__TRY_GOTO(st, tsr__hol_finish(ag->hol, &ag->res));
    TSR__CHECK_GOTO(st, ag->res.type.id == ag->out_type.id, TSR_EINVAL,
                    "%s: aggregate '%s' gave %s values, expected %s", fn, ag->name,
                    tsr_type_name(ag->res.type), tsr_type_name(ag->out_type));
  }
  if (tsr_ctx_memory_stats(ctx, &ms) == TSR_OK)
    holistic_marks[1] = ms.allocations;
fail:
  tsr_free(ctx, scat);
  tsr_free(ctx, wanted);
  tsr_taskgraph_destroy(&g);
  return st;
}

/* Values of group order[i]'s holistic aggregate (rank[i]-th value for
 * largest/smallest) into out. */
static void write_hol(const gb_agg *a, const int64_t *order, const int32_t *rank, int64_t n,
                      tsr__colchunk *out) {
  const tsr__hol_result *r = &a->res;
  size_t w = tsr_type_width(a->out_type);
  unsigned char *values = tsr__colchunk_values(out);
  uint8_t *valid = tsr__colchunk_validity(out);
  memset(valid, 0xff, (size_t)(n + 7) / 8);
  int64_t nulls = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t g = order[i];
    bool null = false;
    const unsigned char *src = NULL;
    const char *sdata = NULL;
    switch (r->kind) {
    case TSR__HOL_QUANTILE:
      null = r->null_count > 0 && !tsr__bit_get(r->validity, g);
      src = (const unsigned char *)r->quantiles[0] + (size_t)g * w;
      break;
    case TSR__HOL_NUNIQUE:
      src = (const unsigned char *)(r->nunique + g);
      break;
    default: {
      int64_t k = r->offsets[g] + (rank ? rank[i] : 0);
      null = k >= r->offsets[g + 1];
      src = (const unsigned char *)r->values + (size_t)k * w;
      sdata = r->data;
      break;
    }
    }
    if (null) {
      memset(values + (size_t)i * w, 0, w);
      tsr__bit_set(valid, i, false);
      nulls++;
    } else if (a->out_type.id == TSR_COL_STRING) {
      const tsr_string_view *v = (const tsr_string_view *)src;
      ((tsr_string_view *)values)[i] =
          tsr__view_make(out, tsr_string_view_data(v, sdata), v->length);
    } else {
      tsr__copy_value(values + (size_t)i * w, src, w);
    }
  }
  out->null_count = nulls;
}

static uint64_t hol_data_bytes(const gb_agg *a, const int64_t *order, const int32_t *rank,
                               int64_t n) {
  const tsr__hol_result *r = &a->res;
  if (a->out_type.id != TSR_COL_STRING || r->offsets == NULL)
    return 0;
  uint64_t bytes = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t k = r->offsets[order[i]] + (rank ? rank[i] : 0);
    if (k >= r->offsets[order[i] + 1])
      continue;
    const tsr_string_view *v = (const tsr_string_view *)r->values + k;
    if (v->length > 12)
      bytes += v->length;
  }
  return bytes;
}

/* ---- across MPI ranks ------------------------------------------------------------------ */

/* Each rank groups the parts it owns (part_owner; run_chunks), then:
 *  - few local groups (no part of any rank has more than GATHER_MAX_GROUPS)
 *    or no keys, and no holistic aggregate: every rank's parts (keys, first
 *    rows, partial states) go to every rank (one all-gather) and every rank
 *    merges all parts in part order as one rank does;
 *  - otherwise a shuffle: bucket b's local groups of every part go to rank
 *    bucket_rank(b) (buckets in contiguous runs over the ranks; one
 *    all-to-all), which merges them in part order; the merged groups'
 *    result rows, with the (part, row) of their first row, are all-gathered
 *    and put in the one-rank order.  Holistic aggregates (median, quantile,
 *    nunique, largest, smallest) always take this way, however few the
 *    groups: the rows of the local groups sent go with them, grouped by
 *    local group (each group's rows in row order, rebuilt on arrival from
 *    the groups' row counts), so each rank computes its groups' holistic
 *    results from their values in part order, then row order, as one rank
 *    does.  Without keys there is one bucket, bucket 0: everything goes to
 *    rank 0, which alone computes the group (an all-gather would move
 *    P - 1 times the values and compute the same thing on every rank).
 * Either way every partial state meets the others of its group in part
 * order, so every value is bitwise the one-rank value. */
#define GATHER_MAX_GROUPS FEW_GROUPS
static int64_t gather_max = GATHER_MAX_GROUPS;

void tsr__groupby_set_gather_max(int64_t n) { gather_max = n < 0 ? GATHER_MAX_GROUPS : n; }

/* A result of one chunk is gathered whole on every rank: two collectives
 * and each rank building it at once, where holding it takes six and the
 * other ranks wait while the chunk's owner builds it (q5's 10^5 groups:
 * 7-9 ms against 2-3 ms on one rank). */
static int64_t hold_min = RESULT_CHUNK_ROWS_DEFAULT;

void tsr__groupby_set_hold_min(int64_t n) { hold_min = n < 0 ? RESULT_CHUNK_ROWS : n; }

/* Collective: whether the result (after a shuffle, first-seen order) is
 * held across the ranks (hold_result) or gathered whole on each
 * (gather_result): by its rows, at most ngroups x n with largest or
 * smallest n.  The agreement first meets a failed rank's. */
static tsr_status result_held(gb_job *job, const gb_merged *m, bool *held) {
  tsr__dist *d = tsr__dist_get(job->ctx);
  int64_t rows = job->nkeys == 0 && tsr__dist_rank(d) != 0 ? 0 : m->ngroups;
  int64_t n = job->per_value ? job->aggs[0].spec.n : 1; /* (capped: no overflow) */
  rows = rows > (hold_min + 1) / n ? hold_min + 1 : rows * n;
  tsr_status st = tsr__dist_agree(d, TSR_OK);
  if (st == TSR_OK)
    st = tsr__dist_sum_i64s(d, &rows, 1);
  job->agreed = st != TSR_OK;
  *held = rows > hold_min;
  return st;
}

/* The first bucket of rank r of P: buckets [first(r), first(r + 1)) go to r. */
static int bucket_first(int r, int P) { return (int)(((int64_t)r * NBUCKETS + P - 1) / P); }

/* Part c's local groups [*g0, *g1) of buckets [b0, b1).  Without keys a
 * part has one bucket, bucket 0 (owned by rank 0). */
static void part_range(const gb_part *p, int b0, int b1, int64_t *g0, int64_t *g1) {
  if (p->boff != NULL) {
    *g0 = p->boff[b0];
    *g1 = p->boff[b1];
  } else {
    *g0 = 0;
    *g1 = b0 == 0 && b1 > 0 ? p->n : 0;
  }
}

/* A part's rows grouped by local group (holistic aggregates under MPI):
 * local group g's rows, in row order, are perm[start[g] .. start[g + 1])
 * (gcount[g] of them).  perm is NULL when a part keeps its rows (p->hcols,
 * keep_best: grouped already) or when its values are scattered into the
 * send buffer instead (vat: fixed-width values without nulls, see
 * scatter_values), which takes one pass over the rows where a counting
 * sort, then a gather by it, take two (q6: 10 + 15 ms a rank). */
typedef struct hol_rows {
  int32_t *perm;  /* rows, or NULL */
  int64_t *start; /* n + 1 */
  uint64_t *vat;  /* or per rank and aggregate: where put_part left room for the values */
} hol_rows;

static void hol_rows_free(tsr_ctx *ctx, hol_rows *hr, int64_t n) {
  if (hr == NULL)
    return;
  for (int64_t c = 0; c < n; c++) {
    tsr_free(ctx, hr[c].perm);
    tsr_free(ctx, hr[c].start);
    tsr_free(ctx, hr[c].vat);
  }
  tsr_free(ctx, hr);
}

/* hin: the part's values of each holistic aggregate; P ranks. */
static tsr_status hol_rows_make(const gb_job *job, const gb_part *p, const tsr__colread *hin, int P,
                                hol_rows *out) {
  tsr_ctx *ctx = job->ctx;
  memset(out, 0, sizeof *out);
  tsr_status st = TSR_OK;
  TSR__TRY_GOTO(st, tsr_alloc(ctx, (size_t)(p->n + 2) * sizeof *out->start, (void **)&out->start));
  out->start[0] = 0;
  for (int64_t g = 0; g < p->n; g++)
    out->start[g + 1] = out->start[g] + p->gcount[g];
  if (p->hcols != NULL)
    return TSR_OK;
  bool scatter = true;
  for (int a = 0; a < job->naggs; a++)
    scatter &= !job->aggs[a].holistic ||
               (hin[a].validity == NULL && job->aggs[a].in_type.id != TSR_COL_STRING);
  if (scatter)
    return tsr__alloc_array(ctx, (size_t)P * (size_t)job->naggs + 1, sizeof *out->vat,
                            "value places", (void **)&out->vat);
  TSR__TRY_GOTO(st, tsr_alloc(ctx, (size_t)p->rows * sizeof *out->perm + 4, (void **)&out->perm));
  for (int64_t i = 0; i < p->rows; i++) /* a counting sort, start[g] its cursor */
    out->perm[out->start[p->ids[i]]++] = (int32_t)i;
  for (int64_t g = p->n; g > 0; g--) /* back to the groups' starts */
    out->start[g] = out->start[g - 1];
  out->start[0] = 0;
  return TSR_OK;
fail:
  tsr_free(ctx, out->perm);
  tsr_free(ctx, out->start);
  memset(out, 0, sizeof *out);
  return st;
}

/* Part c's local groups of buckets [b0, b1) (all of them when the part has
 * no buckets); hin (or NULL): the part's values of each holistic aggregate,
 * hr its rows by local group: the rows of the groups sent go with them,
 * grouped by local group (the receiver rebuilds each row's local group from
 * the groups' row counts); with hr->vat only room for them is left, its
 * place in vat[a] (scatter_values fills it). */
static void put_part(gb_wire *w, const gb_job *job, int64_t c, int b0, int b1,
                     const tsr__colread *hin, const hol_rows *hr, uint64_t *vat) {
  const gb_part *p = &job->parts[c];
  int64_t g0, g1;
  part_range(p, b0, b1, &g0, &g1);
  if (p->boff == NULL)
    b0 = b1 = 0;
  int64_t n = g1 - g0;
  gb_wire_i64(w, c);
  gb_wire_i64(w, p->rows);
  gb_wire_i64(w, n);
  gb_wire_i64(w, b0);
  gb_wire_i64(w, b1);
  int64_t bc[NBUCKETS];
  for (int b = b0; b < b1; b++)
    bc[b - b0] = p->boff[b + 1] - p->boff[b];
  gb_wire_counts(w, bc, b1 - b0);
  for (int j = 0; j < job->nkeys; j++) {
    tsr__colread r;
    gb_col_read(&p->keys[j], &r);
    gb_wire_col(w, job->key_types[j], &r, g0, n);
  }
  /* (no keys: no first rows kept, none sent, zeros on arrival) */
  gb_wire_i64(w, p->first != NULL);
  if (p->first != NULL)
    gb_wire_deltas(w, p->first + g0, n);
  /* The rows per local group, when a state counts by them or values follow
   * (else zeros on arrival: nothing reads them). */
  bool counts = hin != NULL;
  for (int a = 0; a < job->naggs; a++)
    counts = counts || job->astates[(int64_t)a * job->nchunks + c].gcount != NULL;
  gb_wire_i64(w, counts);
  if (counts)
    gb_wire_counts(w, p->gcount + g0, n);
  for (int a = 0; a < job->naggs; a++)
    if (!job->aggs[a].holistic)
      gb_wire_state(w, &job->aggs[a], &job->astates[(int64_t)a * job->nchunks + c], g0, n);
  gb_wire_i64(w, hin != NULL);
  if (hin == NULL)
    return;
  int64_t r0 = hr->start[g0], r1 = hr->start[g1];
  for (int a = 0; a < job->naggs; a++) {
    if (!job->aggs[a].holistic)
      continue;
    if (hr->perm != NULL)
      gb_wire_col_rows(w, job->aggs[a].in_type, &hin[a], hr->perm + r0, r1 - r0);
    else if (hr->vat != NULL)
      vat[a] = gb_wire_col_reserve(w, job->aggs[a].in_type, r1 - r0);
    else
      gb_wire_col(w, job->aggs[a].in_type, &hin[a], r0, r1 - r0);
  }
}

/* The least a shuffle moves for part c's groups of buckets [b0, b1): their
 * key values and partial states, and the non-null values holistic
 * aggregates read in their rows (hin, hr as put_part's) with the groups'
 * row counts, which say whose values they are (8 bytes a group, as for
 * states that count rows). */
static uint64_t part_min_bytes(const gb_job *job, int64_t c, int b0, int b1,
                               const tsr__colread *hin, const hol_rows *hr) {
  const gb_part *p = &job->parts[c];
  int64_t g0, g1;
  part_range(p, b0, b1, &g0, &g1);
  int64_t n = g1 - g0;
  uint64_t b = 0;
  for (int j = 0; j < job->nkeys; j++) {
    b += (uint64_t)n * tsr_type_width(job->key_types[j]);
    if (job->key_types[j].id == TSR_COL_STRING)
      for (int64_t g = g0; g < g0 + n; g++) {
        uint32_t len = ((const tsr_string_view *)p->keys[j].values)[g].length;
        b += len > 12 ? len : 0;
      }
  }
  bool counts = hin != NULL; /* (values: which group's they are) */
  for (int a = 0; a < job->naggs; a++) {
    const gb_state *s = &job->astates[(int64_t)a * job->nchunks + c];
    b += gb_wire_state_bytes(&job->aggs[a], s, n);
    counts = counts || s->gcount != NULL;
  }
  b += counts ? (uint64_t)n * sizeof *p->gcount : 0;
  if (hin == NULL)
    return b;
  for (int a = 0; a < job->naggs; a++) {
    if (!job->aggs[a].holistic)
      continue;
    const tsr__colread *x = &hin[a];
    size_t width = tsr_type_width(job->aggs[a].in_type);
    for (int64_t k = hr->start[g0]; k < hr->start[g1]; k++) {
      int64_t i = hr->perm != NULL ? hr->perm[k] : k;
      if (x->validity != NULL && !tsr__bit_get(x->validity, i))
        continue;
      b += width;
      if (job->aggs[a].in_type.id == TSR_COL_STRING) {
        uint32_t len = ((const tsr_string_view *)x->values)[i].length;
        b += len > 12 ? len : 0;
      }
    }
  }
  return b;
}

/* Part c's holistic values into the room put_part left for them in buf
 * (hr->vat): one pass over the part's rows, in row order, each value to
 * the next place of its local group (a group's values in row order, the
 * groups as put_part lists them for each of the nd ranks).  With keep_own
 * my own groups' values are not sent: they go the same way to the part's
 * kept rows (p->hcols, grouped as a received part's). */
static tsr_status scatter_values(gb_job *job, int64_t c, const hol_rows *hr, int nd, bool shuffle,
                                 bool keep_own, unsigned char *buf) {
  tsr_ctx *ctx = job->ctx;
  gb_part *p = &job->parts[c];
  tsr__dist *d = tsr__dist_get(ctx);
  const int P = tsr__dist_size(d), me = tsr__dist_rank(d);
  unsigned char **cur = NULL;
  int64_t own0 = 0, own1 = 0, nown = 0;
  gb_col *kept = NULL; /* naggs: the values of my groups */
  tsr_status st = TSR_OK;
  if (keep_own) {
    part_range(p, bucket_first(me, P), bucket_first(me + 1, P), &own0, &own1);
    nown = hr->start[own1] - hr->start[own0];
    TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)job->naggs + 1, sizeof *kept, (void **)&kept));
  }
  TSR__TRY_GOTO(st, tsr_kernel_alloc(ctx, (size_t)p->n * sizeof *cur + 8, (void **)&cur));
  for (int a = 0; a < job->naggs; a++) {
    if (!job->aggs[a].holistic)
      continue;
    tsr__colread x;
    TSR__TRY_GOTO(st, hol_input(job, a, c, &x));
    const size_t w = tsr_type_width(job->aggs[a].in_type);
    if (keep_own) {
      kept[a] = (gb_col){.type = job->aggs[a].in_type, .n = nown};
      TSR__TRY_GOTO(st, tsr_alloc(ctx, (size_t)nown * w + 8, &kept[a].values));
    }
    for (int q = 0; q < nd; q++) {
      int64_t g0, g1;
      part_range(p, shuffle ? bucket_first(q, P) : 0, shuffle ? bucket_first(q + 1, P) : NBUCKETS,
                 &g0, &g1);
      unsigned char *base = keep_own && q == me
                                ? kept[a].values
                                : buf + hr->vat[(size_t)q * (size_t)job->naggs + (size_t)a];
      for (int64_t g = g0; g < g1; g++)
        cur[g] = base + (size_t)(hr->start[g] - hr->start[g0]) * w;
    }
    const unsigned char *src = x.values;
    for (int64_t i = 0; i < p->rows; i++) {
      tsr__copy_value(cur[p->ids[i]], src + (size_t)i * w, w);
      cur[p->ids[i]] += w;
    }
  }
  if (keep_own) { /* the part's holistic rows are now my groups' */
    p->hcols = kept;
    p->hrows = nown;
    p->hg0 = own0;
    p->hg1 = own1;
    kept = NULL;
  }
fail:
  if (kept != NULL)
    for (int a = 0; a < job->naggs; a++)
      gb_col_free(ctx, &kept[a]);
  tsr_free(ctx, kept);
  tsr_free(ctx, cur);
  return st;
}

/* Reads one part (or part slice) into job->parts and job->astates. */
static tsr_status read_part(gb_job *job, gb_wire *r) {
  tsr_ctx *ctx = job->ctx;
  int64_t c, rows, n, b0, b1, hol, counts;
  TSR_TRY(gb_wire_get_i64(r, &c));
  TSR_TRY(gb_wire_get_i64(r, &rows));
  TSR_TRY(gb_wire_get_i64(r, &n));
  TSR_TRY(gb_wire_get_i64(r, &b0));
  TSR_TRY(gb_wire_get_i64(r, &b1));
  TSR_CHECK(c >= 0 && c < job->nchunks && job->parts[c].keys == NULL && rows >= 0 &&
                rows < INT32_MAX && n >= 0 && n <= rows && b0 >= 0 && b0 <= b1 && b1 <= NBUCKETS,
            TSR_EMPI, "%s: a malformed part (%lld) from another rank", fn, (long long)c);
  gb_part *p = &job->parts[c];
  p->rows = rows;
  int64_t bc[NBUCKETS];
  TSR_TRY(gb_wire_get_counts(r, bc, b1 - b0));
  if (job->nkeys > 0) {
    TSR_TRY(tsr__alloc_array(ctx, NBUCKETS + 1, sizeof *p->boff, "buckets", (void **)&p->boff));
    memset(p->boff, 0, (NBUCKETS + 1) * sizeof *p->boff);
    for (int64_t b = b0; b < b1; b++) {
      TSR_CHECK(bc[b - b0] <= n, TSR_EMPI, "%s: a malformed part from another rank", fn);
      p->boff[b + 1] = p->boff[b] + bc[b - b0];
    }
    for (int64_t b = b1 + 1; b <= NBUCKETS; b++)
      p->boff[b] = p->boff[b1];
    TSR_CHECK(p->boff[NBUCKETS] == n, TSR_EMPI, "%s: a malformed part from another rank", fn);
  }
  TSR_TRY(tsr_calloc(ctx, (size_t)job->nkeys + 1, sizeof *p->keys, (void **)&p->keys));
  for (int j = 0; j < job->nkeys; j++) {
    TSR_TRY(gb_wire_view_col(r, job->key_types[j], &p->keys[j]));
    TSR_CHECK(p->keys[j].n == n, TSR_EMPI, "%s: a malformed part from another rank", fn);
  }
  int64_t firsts;
  /* (each zeroed only where no number arrives) */
  TSR_TRY(tsr_alloc(ctx, ((size_t)n + 1) * sizeof *p->first, (void **)&p->first));
  TSR_TRY(tsr_alloc(ctx, ((size_t)n + 1) * sizeof *p->gcount, (void **)&p->gcount));
  p->first[n] = 0;
  p->gcount[n] = 0;
  TSR_TRY(gb_wire_get_i64(r, &firsts));
  if (firsts != 0) /* gcount as scratch */
    TSR_TRY(gb_wire_get_deltas(r, p->first, n, p->gcount));
  else
    memset(p->first, 0, (size_t)n * sizeof *p->first);
  for (int64_t g = 0; g < n; g++)
    TSR_CHECK(p->first[g] >= 0 && p->first[g] < rows, TSR_EMPI,
              "%s: a malformed part from another rank", fn);
  TSR_TRY(gb_wire_get_i64(r, &counts));
  if (counts != 0)
    TSR_TRY(gb_wire_get_counts(r, p->gcount, n));
  else
    memset(p->gcount, 0, (size_t)n * sizeof *p->gcount);
  int64_t hrows = 0;
  for (int64_t g = 0; g < n; g++) {
    TSR_CHECK(p->gcount[g] <= rows - hrows, TSR_EMPI, "%s: a malformed part from another rank", fn);
    hrows += p->gcount[g];
  }
  p->n = n;
  for (int a = 0; a < job->naggs; a++)
    if (!job->aggs[a].holistic)
      TSR_TRY(gb_wire_read_state(ctx, r, &job->aggs[a], n, p->gcount,
                                 &job->astates[(int64_t)a * job->nchunks + c]));
  TSR_TRY(gb_wire_get_i64(r, &hol));
  if (hol == 0)
    return TSR_OK;
  TSR_CHECK(counts != 0, TSR_EMPI, "%s: a malformed part from another rank", fn);
  p->hrows = hrows;
  p->hg0 = 0;
  p->hg1 = n;
  TSR_TRY(tsr_calloc(ctx, (size_t)job->naggs + 1, sizeof *p->hcols, (void **)&p->hcols));
  bool runs = true;
  for (int a = 0; a < job->naggs; a++)
    if (job->aggs[a].holistic) {
      TSR_TRY(gb_wire_view_col(r, job->aggs[a].in_type, &p->hcols[a]));
      TSR_CHECK(p->hcols[a].n == hrows, TSR_EMPI, "%s: a malformed part from another rank", fn);
      runs &= runs_of(job, p, a);
    }
  if (runs)
    return TSR_OK;
  /* The rows came grouped by local group: rebuild each row's group.  Most
   * groups of a part hold a few rows (10^5 groups: 1 or 2), so 4 ids are
   * stored at once and the next group's overwrite what is past this one's
   * (room for 4 more at the end): no loop a group. */
  TSR_TRY(tsr_alloc(ctx, ((size_t)hrows + 4) * sizeof *p->ids, (void **)&p->ids));
  for (int64_t g = 0, i = 0; g < n; g++) {
    int64_t rows_g = p->gcount[g];
    int32_t *o = p->ids + i;
    o[0] = o[1] = o[2] = o[3] = (int32_t)g;
    for (int64_t k = 4; k < rows_g; k++)
      o[k] = (int32_t)g;
    i += rows_g;
  }
  return TSR_OK;
}

/* A hash of the result's dictionaries (dictionary codes travel as they are:
 * every rank must hold the same dictionaries, as it does when every rank
 * builds the same frame). */
static uint64_t dict_hash(const gb_job *job) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (int i = 0; i < job->nkeys + job->naggs; i++) {
    const tsr__dict *d = job->out_dicts[i];
    if (d == NULL)
      continue;
    h = (h ^ (uint64_t)d->size) * 0x100000001b3ull;
    for (int64_t k = 0; k < d->offsets[d->size]; k++)
      h = (h ^ (unsigned char)d->data[k]) * 0x100000001b3ull;
    for (int64_t k = 0; k <= d->size; k++)
      h = (h ^ (uint64_t)d->offsets[k]) * 0x100000001b3ull;
  }
  return h;
}

/* Moves the parts between the ranks (see above): afterwards job->parts
 * hold what this rank merges.  *shuffled: whether by bucket.  Collective;
 * every failure agreed. */
static tsr_status distribute(gb_job *job, bool *shuffled) {
  tsr_ctx *ctx = job->ctx;
  tsr__dist *d = tsr__dist_get(ctx);
  int P = tsr__dist_size(d), me = tsr__dist_rank(d);
  int64_t nc = job->nchunks;
  uint64_t *cnt = NULL, *off = NULL, *rcnt = NULL, most = 0, min_bytes = 0;
  unsigned char *send = NULL, *recv = NULL;
  tsr__colread *hin = NULL;
  hol_rows *hr = NULL;
  tsr_status st = TSR_OK;
  for (int64_t c = 0; c < nc; c++)
    if (part_owner(job, c) == me && (uint64_t)job->parts[c].n > most)
      most = (uint64_t)job->parts[c].n;
  /* The largest part and the dictionaries' hash over the ranks. */
  uint64_t mine[2] = {most, dict_hash(job)}, lo[2], hi[2];
  TSR__TRY_GOTO(st, tsr__dist_agree_minmax(d, TSR_OK, mine, 2, lo, hi));
  /* Holistic aggregates' values always go by bucket (without keys: all to
   * rank 0), however few the groups: they are most of the bytes. */
  bool shuffle = job->nhol > 0 || (job->nkeys > 0 && hi[0] > (uint64_t)gather_max);
  *shuffled = shuffle;
  TSR__CHECK_GOTO(st, lo[1] == hi[1], TSR_EINVAL,
                  "%s: the dictionary columns' dictionaries differ between the ranks (every rank "
                  "must build the same frame)",
                  fn);
  int nd = shuffle ? P : 1;
  /* A shuffle keeps my own parts' groups of my buckets where they are
   * (put, copied to myself and read back, they took half of q5's exchange
   * and a third of q6's); holistic values of them are read from the kept
   * input chunk (or the part's kept rows) as on one rank.  Without keys
   * every group is rank 0's. */
  bool keep_own = shuffle && job->nkeys > 0;
  /* Local steps until the agreement: a failure here must still meet the
   * other ranks there. */
  st = tsr_calloc(ctx, 3 * (size_t)P, sizeof *cnt, (void **)&cnt);
  if (st == TSR_OK) {
    off = cnt + P;
    rcnt = cnt + 2 * P;
  }
  if (st == TSR_OK && job->nhol > 0)
    st = tsr_calloc(ctx, (size_t)job->naggs + 1, sizeof *hin, (void **)&hin);
  if (st == TSR_OK && job->nhol > 0)
    st = tsr_calloc(ctx, (size_t)nc + 1, sizeof *hr, (void **)&hr);
  for (int64_t c = 0; c < nc && st == TSR_OK && hr != NULL; c++) {
    if (part_owner(job, c) != me)
      continue;
    for (int a = 0; a < job->naggs && st == TSR_OK; a++)
      if (job->aggs[a].holistic)
        st = hol_input(job, a, c, &hin[a]);
    if (st == TSR_OK)
      st = hol_rows_make(job, &job->parts[c], hin, P, &hr[c]);
  }
  for (int pass = 0; pass < 2 && st == TSR_OK; pass++) {
    gb_wire w = {send, 0, 0};
    for (int q = 0; q < nd && st == TSR_OK; q++) {
      off[q] = w.at;
      if (keep_own && q == me) {
        cnt[q] = 0;
        continue;
      }
      int b0 = shuffle ? bucket_first(q, P) : 0, b1 = shuffle ? bucket_first(q + 1, P) : NBUCKETS;
      for (int64_t c = 0; c < nc && st == TSR_OK; c++) {
        if (part_owner(job, c) != me)
          continue;
        for (int a = 0; a < job->naggs && st == TSR_OK && hin != NULL; a++)
          if (job->aggs[a].holistic)
            st = hol_input(job, a, c, &hin[a]);
        hol_rows *h = hr != NULL ? &hr[c] : NULL;
        put_part(&w, job, c, b0, b1, hin, h,
                 h != NULL && h->vat != NULL ? h->vat + (size_t)q * (size_t)job->naggs : NULL);
        if (pass == 0 && shuffle && q != me && job->trace)
          min_bytes += part_min_bytes(job, c, b0, b1, hin, hr != NULL ? &hr[c] : NULL);
      }
      cnt[q] = w.at - off[q];
    }
    if (pass == 0 && st == TSR_OK)
      st = tsr_alloc(ctx, (size_t)w.at + 8, (void **)&send);
  }
  for (int64_t c = 0; c < nc && st == TSR_OK && hr != NULL; c++)
    if (hr[c].vat != NULL)
      st = scatter_values(job, c, &hr[c], nd, shuffle, keep_own, send);
  /* Every rank agrees before the exchange. */
  TSR__TRY_GOTO(st, tsr__dist_agree(d, st));
  if (shuffle)
    TSR__TRY_GOTO(st, tsr__dist_exchange_counts(d, cnt, rcnt));
  else
    TSR__TRY_GOTO(st, tsr__dist_gather_counts(d, cnt[0], rcnt));
  uint64_t total = 0;
  for (int q = 0; q < P; q++)
    total += rcnt[q];
  TSR__TRY_GOTO(st, tsr__dist_agree(d, tsr_alloc(ctx, (size_t)total + 8, (void **)&recv)));
  if (shuffle)
    TSR__TRY_GOTO(st, tsr__dist_alltoallv(d, send, off, cnt, recv, rcnt));
  else
    TSR__TRY_GOTO(st, tsr__dist_allgatherv(d, send, cnt[0], recv, rcnt));
  if (job->trace) {
    uint64_t sent = 0;
    for (int q = 0; q < nd; q++)
      sent += shuffle && q == me ? 0 : cnt[q] * (shuffle ? 1 : (uint64_t)(P - 1));
    int64_t mine_parts = 0, mine_rows = 0;
    for (int64_t c = 0; c < nc; c++)
      if (part_owner(job, c) == me) {
        mine_parts++;
        mine_rows += job->parts[c].rows;
      }
    fprintf(stderr,
            "tessera groupby rank %d: %s, %llu bytes sent, %llu bytes of keys, states and "
            "holistic values sent to other ranks (the least a shuffle moves); grouped %lld of "
            "%lld parts (%lld rows; %lld input chunks, %lld a part)\n",
            me, shuffle ? "shuffle" : "all-gather of parts", (unsigned long long)sent,
            (unsigned long long)min_bytes, (long long)mine_parts, (long long)nc,
            (long long)mine_rows, (long long)job->nin, (long long)job->run);
  }
  tsr_free(ctx, send);
  send = NULL;
  hol_rows_free(ctx, hr, nc);
  hr = NULL;
  /* What this rank merges replaces what it grouped (but its own parts
   * when kept). */
  job->kept_own = keep_own;
  job->own_b0 = bucket_first(me, P);
  job->own_b1 = bucket_first(me + 1, P);
  for (int64_t c = 0; c < nc; c++) {
    if (keep_own && part_owner(job, c) == me)
      continue;
    part_free(ctx, job, &job->parts[c]);
    for (int a = 0; a < job->naggs; a++)
      gb_state_free(ctx, &job->astates[(int64_t)a * nc + c]);
  }
  gb_wire r = {recv, 0, total};
  job->wire_in = recv; /* (freed after the parts, which read their columns in it) */
  recv = NULL;
  while (st == TSR_OK && r.at < r.end)
    st = read_part(job, &r);
  for (int64_t c = 0; c < nc && st == TSR_OK; c++)
    if (job->parts[c].keys == NULL)
      st = tsr_error_set(TSR_EMPI, "%s: part %lld did not arrive from its rank", fn, (long long)c);
  st = tsr__dist_agree(d, st);
fail:
  job->agreed = st != TSR_OK;
  hol_rows_free(ctx, hr, nc);
  tsr_free(ctx, cnt);
  tsr_free(ctx, hin);
  tsr_free(ctx, send);
  tsr_free(ctx, recv);
  return st;
}

/* Reads one rank's result rows from r into p (gather_result, hold_result):
 * their count (at most max_n), 8 bytes each (kept in gcount: a first
 * row's (part, row), or a row's place) and the result's columns. */
static tsr_status read_result_rows(const gb_job *job, gb_wire *r, int64_t max_n, gb_part *p) {
  tsr_ctx *ctx = job->ctx;
  int ncols = job->nkeys + job->naggs;
  int64_t n;
  TSR_TRY(gb_wire_get_i64(r, &n));
  TSR_CHECK(n >= 0 && n <= max_n, TSR_EMPI, "%s: a malformed result from another rank", fn);
  TSR_TRY(tsr_alloc(ctx, (size_t)n * sizeof *p->gcount + 8, (void **)&p->gcount));
  TSR_TRY(gb_wire_get(r, p->gcount, (uint64_t)n * sizeof *p->gcount));
  TSR_TRY(tsr_calloc(ctx, (size_t)ncols + 1, sizeof *p->keys, (void **)&p->keys));
  for (int i = 0; i < ncols; i++) {
    TSR_TRY(gb_wire_view_col(r, job->out_types[i], &p->keys[i]));
    TSR_CHECK(p->keys[i].n == n, TSR_EMPI, "%s: a malformed result from another rank", fn);
  }
  p->n = n;
  return TSR_OK;
}

/* My own result rows (hold_result) as read_result_rows gives another
 * rank's: the n rows of chunk (built for myself, left in place, its
 * columns borrowed) with their places v[idx[0..n)].  They skip the wire,
 * the all-to-all's copy to myself and the reading back: half of q10's rows
 * on two ranks. */
static tsr_status own_rows(const gb_job *job, void *chunk, const int64_t *v, const int64_t *idx,
                           int64_t n, gb_part *p) {
  int ncols = job->nkeys + job->naggs;
  TSR_TRY(tsr__alloc_array(job->ctx, (size_t)n + 1, sizeof *p->gcount, "row places",
                           (void **)&p->gcount));
  for (int64_t k = 0; k < n; k++)
    p->gcount[k] = v[idx[k]];
  TSR_TRY(tsr_calloc(job->ctx, (size_t)ncols + 1, sizeof *p->keys, (void **)&p->keys));
  for (int i = 0; i < ncols; i++) {
    tsr__colchunk *cc = tsr__tablechunk_col(chunk, (uint32_t)i);
    p->keys[i] = (gb_col){.type = job->out_types[i],
                          .n = n,
                          .nulls = cc->null_count,
                          .values = tsr__colchunk_values(cc),
                          .validity = cc->null_count > 0 ? tsr__colchunk_validity(cc) : NULL,
                          .data = tsr__colchunk_data(cc),
                          .data_bytes = (size_t)cc->data_bytes,
                          .borrowed = true};
  }
  p->n = n;
  return TSR_OK;
}

/* Frees the result rows gathered from P ranks (gather_result, hold_result). */
static void gathered_free(tsr_ctx *ctx, gb_part *gp, int P, int ncols) {
  if (gp == NULL)
    return;
  for (int q = 0; q < P; q++) {
    if (gp[q].keys != NULL)
      for (int i = 0; i < ncols; i++)
        gb_col_free(ctx, &gp[q].keys[i]);
    tsr_free(ctx, gp[q].keys);
    tsr_free(ctx, gp[q].first);
    tsr_free(ctx, gp[q].gcount);
  }
  tsr_free(ctx, gp);
}

/* For each of my places pos[0..n) (ascending), adds to before[i] how many
 * of another rank's places other[0..m) (ascending) come before it: those
 * below it, and those equal when that rank's come first.  A merge of the
 * two lists without branches on the data (the two interleave at random: a
 * branch a step mispredicts half the time). */
static void add_rows_before(const int64_t *other, int64_t m, const int64_t *pos, int64_t n,
                            bool ties_first, int64_t *before) {
  int64_t i = 0, k = 0;
  while (i < n && k < m) {
    int64_t o = other[k], p = pos[i];
    int64_t take = ties_first ? o <= p : o < p; /* 1: other's place k comes first */
    before[i] += k & (take - 1);
    k += take;
    i += 1 - take;
  }
  for (; i < n; i++)
    before[i] += k;
}

/* After a shuffle, in first-seen order: the result held across the ranks
 * (no rank gets it whole).  A result row's place is its group's first row
 * (part, row), then its place among its group's rows; every rank sends the
 * others those of its rows (8 bytes a row), so each knows where its rows
 * go: result chunk k (RESULT_CHUNK_ROWS rows, cut as one rank cuts them)
 * is built by its owner (tsr__dist_chunk_owner) from the rows the ranks
 * send it in one all-to-all, and stays there (gb_mem_frame_held); its
 * size and string capacities are shared.  Collective; failures agreed. */
static tsr_status hold_result(gb_job *job, gb_merged *m, tsr_frame **out) {
  tsr_ctx *ctx = job->ctx;
  tsr__dist *d = tsr__dist_get(ctx);
  const int P = tsr__dist_size(d), me = tsr__dist_rank(d);
  const int nk = job->nkeys, ncols = nk + job->naggs;
  int64_t ng = nk == 0 && me != 0 ? 0 : m->ngroups, nrows = ng, NR = 0, nrc = 0, nin = 0;
  int64_t *order = NULL, *pos = NULL, *allpos = NULL, *gidx = NULL, *sel = NULL, *dcap = NULL;
  int64_t *rows = NULL, *cbytes = NULL, *dc = NULL, *at = NULL, *ord = NULL;
  int32_t *rank = NULL, *srank = NULL, *owner = NULL;
  size_t *widths = NULL, *bytes = NULL;
  uint64_t *cnt = NULL, *off = NULL, *rcnt = NULL, *pcnt = NULL, *soff = NULL, *scnt = NULL;
  uint64_t total = 0;
  void **dchunk = NULL, **chunks = NULL;
  size_t *dbytes = NULL;
  unsigned char *send = NULL, *recv = NULL;
  gb_part *gp = NULL, *saved = job->parts;
  gb_merged gm;
  memset(&gm, 0, sizeof gm);
  tsr_status st =
      tsr__alloc_array(ctx, (size_t)ng + 1, sizeof *order, "group order", (void **)&order);
  if (st == TSR_OK)
    memcpy(order, m->order, (size_t)ng * sizeof *order);
  if (st == TSR_OK && job->per_value) /* rows of one group stay together, in their order */
    st = per_value_rows(job, ng, &order, &rank, &nrows);
  if (st == TSR_OK)
    st = tsr__alloc_array(ctx, (size_t)nrows + 1, sizeof *pos, "row places", (void **)&pos);
  if (st == TSR_OK)
    st = tsr__alloc_array(ctx, (size_t)nrows + 1, sizeof *gidx, "row places", (void **)&gidx);
  if (st == TSR_OK)
    st = tsr_calloc(ctx, (size_t)P + 1, sizeof *pcnt, (void **)&pcnt);
  for (int64_t i = 0; i < nrows && st == TSR_OK; i++) {
    int64_t g = order[i], c = m->origin_c[g];
    pos[i] = nk == 0 ? 0 : c << 32 | job->parts[c].first[m->origin_l[g]];
  }
  /* Every rank's row places, each list ascending. */
  TSR__TRY_GOTO(st, tsr__dist_agree(d, st));
  TSR__TRY_GOTO(st, tsr__dist_gather_counts(d, (uint64_t)nrows * sizeof *pos, pcnt));
  for (int q = 0; q < P; q++)
    total += pcnt[q];
  TSR__TRY_GOTO(st, tsr__dist_agree(d, tsr_alloc(ctx, (size_t)total + 8, (void **)&allpos)));
  TSR__TRY_GOTO(st, tsr__dist_allgatherv(d, pos, (uint64_t)nrows * sizeof *pos, allpos, pcnt));
  NR = (int64_t)(total / sizeof *pos);
  /* My rows' places in the result: before a row come the rows of lower
   * ranks at or before its place and of higher ranks before it (the
   * order of gather_result's merge). */
  {
    int64_t head = 0;
    for (int64_t i = 0; i < nrows; i++)
      gidx[i] = i;
    for (int q = 0; q < P; q++) {
      int64_t nq = (int64_t)(pcnt[q] / sizeof *pos);
      if (q != me)
        add_rows_before(allpos + head, nq, pos, nrows, q < me, gidx);
      head += nq;
    }
  }
  tsr_free(ctx, allpos);
  allpos = NULL;
  /* The result's chunks and their owners. */
  nrc = NR == 0 ? 1 : (NR + RESULT_CHUNK_ROWS - 1) / RESULT_CHUNK_ROWS;
  /* Zeroed arrays (and, below, the sends'): the first failure stops. */
  const struct {
    void *at; /* the pointer to set */
    size_t n, size;
  } arrays[] = {{&owner, (size_t)nrc, sizeof *owner},
                {&rows, (size_t)nrc, sizeof *rows},
                {&cbytes, (size_t)nrc, sizeof *cbytes},
                {&bytes, (size_t)nrc, sizeof *bytes},
                {&chunks, (size_t)nrc, sizeof *chunks},
                {&dcap, (size_t)ncols * (size_t)nrc, sizeof *dcap},
                {&dc, (size_t)ncols, sizeof *dc},
                {&widths, (size_t)ncols, sizeof *widths},
                {&cnt, (size_t)P, sizeof *cnt},
                {&off, (size_t)P, sizeof *off},
                {&rcnt, (size_t)P, sizeof *rcnt},
                {&sel, (size_t)nrows, sizeof *sel},
                {&ord, (size_t)nrows, sizeof *ord},
                {&srank, rank != NULL ? (size_t)nrows : 0, sizeof *srank},
                {&dchunk, (size_t)P, sizeof *dchunk},
                {&dbytes, (size_t)P, sizeof *dbytes}};
  for (size_t a = 0; a < sizeof arrays / sizeof *arrays && st == TSR_OK; a++)
    st = tsr_calloc(ctx, arrays[a].n + 1, arrays[a].size, (void **)arrays[a].at);
  for (int64_t rc = 0; rc < nrc && st == TSR_OK; rc++) {
    owner[rc] = tsr__dist_chunk_owner(ctx, rc, nrc);
    rows[rc] = NR - rc * RESULT_CHUNK_ROWS < RESULT_CHUNK_ROWS ? NR - rc * RESULT_CHUNK_ROWS
                                                               : RESULT_CHUNK_ROWS;
  }
  for (int i = 0; i < ncols && st == TSR_OK; i++)
    widths[i] = tsr_type_width(job->out_types[i]);
  /* My rows by the rank they go to (stably: each list keeps result order),
   * each list built as one table chunk. */
  if (st == TSR_OK) {
    uint64_t *fill = rcnt; /* scratch: per rank, rows placed so far */
    for (int64_t i = 0; i < nrows; i++)
      cnt[owner[gidx[i] / RESULT_CHUNK_ROWS]]++;
    for (int q = 1; q < P; q++)
      off[q] = off[q - 1] + cnt[q - 1];
    for (int64_t i = 0; i < nrows; i++) {
      int q = owner[gidx[i] / RESULT_CHUNK_ROWS];
      int64_t k = (int64_t)(off[q] + fill[q]++);
      sel[k] = i;
      ord[k] = order[i];
      if (rank != NULL)
        srank[k] = rank[i];
    }
    memset(fill, 0, (size_t)P * sizeof *fill);
  }
  for (int q = 0; q < P && st == TSR_OK; q++) /* (an empty chunk for no rows) */
    st = build_chunk(job, m, ord + off[q], rank ? srank + off[q] : NULL, (int64_t)cnt[q], false,
                     widths, dc, &dchunk[q], &dbytes[q]);
  /* The wire: per rank, [rows] [their places] [columns]. */
  if (st == TSR_OK)
    st = tsr_calloc(ctx, (size_t)2 * P + 2, sizeof *soff, (void **)&soff);
  if (st == TSR_OK)
    scnt = soff + P + 1;
  for (int pass = 0; pass < 2 && st == TSR_OK; pass++) {
    gb_wire w = {send, 0, 0};
    for (int q = 0; q < P; q++) {
      soff[q] = w.at;
      if (q == me) { /* my own rows stay in their chunk (own_rows) */
        scnt[q] = 0;
        continue;
      }
      int64_t n = (int64_t)cnt[q];
      gb_wire_i64(&w, n);
      gb_wire_i64s_at(&w, gidx, sel + off[q], n);
      for (int i = 0; i < ncols; i++) {
        tsr__colread cr;
        tsr__colread_of(dchunk[q], (uint32_t)i, &cr);
        gb_wire_col(&w, job->out_types[i], &cr, 0, n);
      }
      scnt[q] = w.at - soff[q];
    }
    if (pass == 0)
      st = tsr_alloc(ctx, (size_t)w.at + 8, (void **)&send);
  }
  for (int q = 0; q < P && dchunk != NULL; q++) {
    if (q == me)
      continue;
    tsr_free(ctx, dchunk[q]);
    dchunk[q] = NULL;
  }
  TSR__TRY_GOTO(st, tsr__dist_agree(d, st));
  TSR__TRY_GOTO(st, tsr__dist_exchange_counts(d, scnt, rcnt));
  total = 0;
  for (int q = 0; q < P; q++)
    total += rcnt[q];
  TSR__TRY_GOTO(st, tsr__dist_agree(d, tsr_alloc(ctx, (size_t)total + 8, (void **)&recv)));
  TSR__TRY_GOTO(st, tsr__dist_alltoallv(d, send, soff, scnt, recv, rcnt));
  if (job->trace) {
    uint64_t sent = 0;
    for (int q = 0; q < P; q++)
      sent += q == me ? 0 : scnt[q];
    fprintf(stderr,
            "tessera groupby rank %d: %llu bytes of result rows sent to their chunks' ranks, "
            "%llu bytes of row places to every rank\n",
            me, (unsigned long long)sent, (unsigned long long)nrows * sizeof *pos);
  }
  tsr_free(ctx, send);
  send = NULL;
  /* The rows sent here, by rank: places and columns. */
  st = tsr_calloc(ctx, (size_t)P + 1, sizeof *gp, (void **)&gp);
  gb_wire r = {recv, 0, total};
  for (int q = 0; q < P && st == TSR_OK; q++) {
    st = q == me ? own_rows(job, dchunk[q], gidx, sel + off[q], (int64_t)cnt[q], &gp[q])
                 : read_result_rows(job, &r, NR, &gp[q]);
    nin += st == TSR_OK ? gp[q].n : 0;
  }
  /* My chunks, each row taken from the rank that sent it in place order. */
  if (st == TSR_OK)
    st = tsr__alloc_array(ctx, (size_t)nin + 1, sizeof *gm.origin_c, "rows", (void **)&gm.origin_c);
  if (st == TSR_OK)
    st = tsr__alloc_array(ctx, (size_t)nin + 1, sizeof *gm.origin_l, "rows", (void **)&gm.origin_l);
  if (st == TSR_OK)
    st = tsr__alloc_array(ctx, (size_t)nin + 1, sizeof *gm.order, "rows", (void **)&gm.order);
  if (st == TSR_OK)
    st = tsr_calloc(ctx, (size_t)P + 1, sizeof *at, (void **)&at);
  gm.ngroups = nin;
  job->parts = gp; /* the result reads the gathered columns */
  int64_t k = 0;
  for (int64_t rc = 0; rc < nrc && st == TSR_OK; rc++) {
    if (owner[rc] != me)
      continue;
    int64_t g0 = rc * RESULT_CHUNK_ROWS, k0 = k;
    for (int64_t g = g0; g < g0 + rows[rc] && st == TSR_OK; g++) {
      int q = 0;
      while (q < P && !(at[q] < gp[q].n && gp[q].gcount[at[q]] == g))
        q++;
      if (q == P) {
        st = tsr_error_set(TSR_EMPI, "%s: result row %lld did not arrive", fn, (long long)g);
        break;
      }
      gm.origin_c[k] = q;
      gm.origin_l[k] = (int32_t)at[q]++;
      gm.order[k] = k;
      k++;
    }
    if (st == TSR_OK)
      st = build_chunk(job, &gm, gm.order + k0, NULL, rows[rc], true, widths, dc, &chunks[rc],
                       &bytes[rc]);
    for (int i = 0; i < ncols && st == TSR_OK; i++)
      dcap[(int64_t)i * nrc + rc] = dc[i];
    if (st == TSR_OK)
      cbytes[rc] = (int64_t)bytes[rc];
  }
  job->parts = saved;
  if (st == TSR_OK && k != nin)
    st = tsr_error_set(TSR_EMPI, "%s: a malformed result from another rank", fn);
  /* Every chunk's size and string capacities, on every rank. */
  TSR__TRY_GOTO(st, tsr__dist_agree(d, st));
  TSR__TRY_GOTO(st, tsr__dist_sum_i64s(d, cbytes, nrc));
  TSR__TRY_GOTO(st, tsr__dist_sum_i64s(d, dcap, (int64_t)ncols * nrc));
  for (int64_t rc = 0; rc < nrc; rc++)
    bytes[rc] = (size_t)cbytes[rc];
  st = gb_mem_frame_held(ctx, ncols, job->out_names, job->out_types, job->out_dicts, nrc, chunks,
                         bytes, rows, dcap, owner, out);
  tsr_free(ctx, chunks); /* the frame owns the chunks now, also on failure */
  chunks = NULL;
  st = tsr__dist_agree(d, st);
  if (st != TSR_OK)
    tsr_frame_destroy(out);
fail:
  job->agreed = st != TSR_OK;
  job->parts = saved;
  gathered_free(ctx, gp, P, ncols);
  if (chunks != NULL)
    for (int64_t rc = 0; rc < nrc; rc++)
      tsr_free(ctx, chunks[rc]);
  for (int q = 0; q < P && dchunk != NULL; q++)
    tsr_free(ctx, dchunk[q]);
  tsr_free(ctx, chunks);
  tsr_free(ctx, dchunk);
  tsr_free(ctx, dbytes);
  tsr_free(ctx, soff);
  tsr_free(ctx, gm.origin_c);
  tsr_free(ctx, gm.origin_l);
  tsr_free(ctx, gm.order);
  tsr_free(ctx, at);
  tsr_free(ctx, order);
  tsr_free(ctx, rank);
  tsr_free(ctx, srank);
  tsr_free(ctx, pos);
  tsr_free(ctx, allpos);
  tsr_free(ctx, gidx);
  tsr_free(ctx, sel);
  tsr_free(ctx, ord);
  tsr_free(ctx, owner);
  tsr_free(ctx, rows);
  tsr_free(ctx, cbytes);
  tsr_free(ctx, bytes);
  tsr_free(ctx, dcap);
  tsr_free(ctx, dc);
  tsr_free(ctx, widths);
  tsr_free(ctx, cnt);
  tsr_free(ctx, off);
  tsr_free(ctx, rcnt);
  tsr_free(ctx, pcnt);
  tsr_free(ctx, send);
  tsr_free(ctx, recv);
  return st;
}

/* Merges two ascending lists of places a[0..n) and b[0..m) (equal places
 * only within a list) into out, as the rows of a then b: a's row i is i,
 * b's row k is n + k.  No branch on the data: the lists interleave at
 * random. */
static void merge_two(const int64_t *a, int64_t n, const int64_t *b, int64_t m, int64_t *out) {
  int64_t i = 0, k = 0, o = 0;
  while (i < n && k < m) {
    int64_t from_b = b[k] < a[i];
    out[o++] = from_b ? n + k : i;
    k += from_b;
    i += 1 - from_b;
  }
  for (; i < n; i++)
    out[o++] = i;
  for (; k < m; k++)
    out[o++] = n + k;
}

/* After a shuffle: this rank's merged groups as result rows (in its order:
 * by first row, or by key), with the (part, row) of their first row, go to
 * every rank; every rank merges the ranks' sorted lists into the one-rank
 * order and builds the result.  Collective; every failure agreed. */
static tsr_status gather_result(gb_job *job, gb_merged *m, tsr_group_order order_kind,
                                tsr_frame **out) {
  tsr_ctx *ctx = job->ctx;
  tsr__dist *d = tsr__dist_get(ctx);
  int P = tsr__dist_size(d);
  int nk = job->nkeys, ncols = nk + job->naggs;
  /* Without keys (a shuffle for holistic aggregates: every part went to
   * rank 0) the one group is rank 0's; the others' is a group of nothing. */
  int64_t ng = nk == 0 && tsr__dist_rank(d) != 0 ? 0 : m->ngroups, NG = 0, nrows = ng;
  bool sorted = order_kind == TSR_GROUP_SORTED;
  int64_t *order = NULL, *tmp = NULL, *dc = NULL, *pos = NULL, *head = NULL;
  int32_t *rank = NULL;
  size_t *widths = NULL, cbytes = 0;
  uint64_t *rcnt = NULL, total = 0;
  void *chunk = NULL;
  unsigned char *send = NULL, *recv = NULL;
  gb_part *gp = NULL, *saved = job->parts;
  gb_merged gm;
  memset(&gm, 0, sizeof gm);
  tsr_status st = TSR_OK;
  /* Local: this rank's rows. */
  st = tsr__alloc_array(ctx, (size_t)ng + 1, sizeof *order, "group order", (void **)&order);
  if (st == TSR_OK)
    st = tsr__alloc_array(ctx, (size_t)ng + 1, sizeof *tmp, "group order", (void **)&tmp);
  if (st == TSR_OK)
    st = tsr_calloc(ctx, (size_t)ncols + 1, sizeof *dc, (void **)&dc);
  if (st == TSR_OK)
    st = tsr_calloc(ctx, (size_t)ncols + 1, sizeof *widths, (void **)&widths);
  if (st == TSR_OK) {
    memcpy(order, m->order, (size_t)ng * sizeof *order);
    if (sorted)
      sort_groups(job, m, order, tmp, ng);
    for (int i = 0; i < ncols; i++)
      widths[i] = tsr_type_width(job->out_types[i]);
    if (job->per_value) /* rows of one group stay together, in their order */
      st = per_value_rows(job, ng, &order, &rank, &nrows);
    if (st == TSR_OK)
      st = build_chunk(job, m, order, rank, nrows, false, widths, dc, &chunk, &cbytes);
  }
  gb_wire w = {NULL, 0, 0};
  for (int pass = 0; pass < 2 && st == TSR_OK; pass++) {
    w = (gb_wire){send, 0, 0};
    gb_wire_i64(&w, nrows);
    for (int64_t i = 0; i < nrows; i++) {
      int64_t g = order[i], c = m->origin_c[g];
      gb_wire_i64(&w, nk == 0 ? 0 : c << 32 | job->parts[c].first[m->origin_l[g]]);
    }
    for (int i = 0; i < ncols; i++) {
      tsr__colread cr;
      tsr__colread_of(chunk, (uint32_t)i, &cr);
      gb_wire_col(&w, job->out_types[i], &cr, 0, nrows);
    }
    if (pass == 0)
      st = tsr_alloc(ctx, (size_t)w.at + 8, (void **)&send);
  }
  if (st == TSR_OK)
    st = tsr_calloc(ctx, (size_t)P + 1, sizeof *rcnt, (void **)&rcnt);
  TSR__TRY_GOTO(st, tsr__dist_agree(d, st));
  TSR__TRY_GOTO(st, tsr__dist_gather_counts(d, w.at, rcnt));
  for (int q = 0; q < P; q++)
    total += rcnt[q];
  TSR__TRY_GOTO(st, tsr__dist_agree(d, tsr_alloc(ctx, (size_t)total + 8, (void **)&recv)));
  TSR__TRY_GOTO(st, tsr__dist_allgatherv(d, send, w.at, recv, rcnt));
  if (job->trace)
    fprintf(stderr, "tessera groupby rank %d: %llu bytes of result rows sent to every rank\n",
            tsr__dist_rank(d), (unsigned long long)w.at);
  tsr_free(ctx, send);
  send = NULL;
  tsr_free(ctx, chunk);
  chunk = NULL;
  /* Every rank's rows: gathered part q holds rank q's result columns. */
  st = tsr_calloc(ctx, (size_t)P + 1, sizeof *gp, (void **)&gp);
  if (st == TSR_OK)
    st = tsr_calloc(ctx, (size_t)P + 2, sizeof *head, (void **)&head);
  gb_wire r = {recv, 0, total};
  for (int q = 0; q < P && st == TSR_OK; q++) {
    st = read_result_rows(job, &r, INT32_MAX - 1, &gp[q]);
    head[q + 1] = NG += st == TSR_OK ? gp[q].n : 0;
  }
  /* The ranks' lists, each in result order, merged into one. */
  gm.ngroups = NG;
  if (st == TSR_OK)
    st =
        tsr__alloc_array(ctx, (size_t)NG + 1, sizeof *gm.origin_c, "groups", (void **)&gm.origin_c);
  if (st == TSR_OK)
    st =
        tsr__alloc_array(ctx, (size_t)NG + 1, sizeof *gm.origin_l, "groups", (void **)&gm.origin_l);
  if (st == TSR_OK)
    st = tsr__alloc_array(ctx, (size_t)NG + 1, sizeof *gm.order, "groups", (void **)&gm.order);
  if (st == TSR_OK)
    st = tsr__alloc_array(ctx, (size_t)NG + 1, sizeof *pos, "groups", (void **)&pos);
  if (st == TSR_OK) {
    for (int q = 0; q < P; q++)
      for (int64_t i = 0; i < gp[q].n; i++) {
        int64_t g = head[q] + i;
        gm.origin_c[g] = q;
        gm.origin_l[g] = (int32_t)i;
        pos[g] = gp[q].gcount[i];
      }
    job->parts = gp;    /* key_cmp and the result read the gathered columns */
    int64_t *at = NULL, o0 = 0; /* the next row of each list; rows merged */
    st = tsr_calloc(ctx, (size_t)P + 1, sizeof *at, (void **)&at);
    if (st == TSR_OK && !sorted && P == 2) { /* two lists: one pass */
      merge_two(pos, gp[0].n, pos + gp[0].n, gp[1].n, gm.order);
      o0 = NG;
    }
    for (int64_t o = o0; o < NG && st == TSR_OK && !sorted; o++) {
      /* By place (distinct: a group's first row), picked without a branch
       * on the data (the lists interleave at random). */
      int best = 0;
      int64_t least = INT64_MAX;
      for (int q = 0; q < P; q++) {
        int64_t v = at[q] < gp[q].n ? pos[head[q] + at[q]] : INT64_MAX;
        best = v < least ? q : best;
        least = v < least ? v : least;
      }
      gm.order[o] = head[best] + at[best]++;
    }
    if (st == TSR_OK) {
      for (int64_t o = 0; o < NG && sorted; o++) { /* by key */
        int best = -1;
        for (int q = 0; q < P; q++)
          if (at[q] < gp[q].n &&
              (best < 0 || key_cmp(job, &gm, head[q] + at[q], head[best] + at[best]) < 0))
            best = q;
        gm.order[o] = head[best] + at[best]++;
      }
      tsr_free(ctx, at);
      st = build_result(job, &gm, TSR_GROUP_FIRST_SEEN, true, out);
    }
    job->parts = saved;
  }
  st = tsr__dist_agree(d, st);
  if (st != TSR_OK)
    tsr_frame_destroy(out);
fail:
  job->agreed = st != TSR_OK;
  job->parts = saved;
  gathered_free(ctx, gp, P, ncols);
  tsr_free(ctx, gm.origin_c);
  tsr_free(ctx, gm.origin_l);
  tsr_free(ctx, gm.order);
  tsr_free(ctx, pos);
  tsr_free(ctx, head);
  tsr_free(ctx, order);
  tsr_free(ctx, rank);
  tsr_free(ctx, tmp);
  tsr_free(ctx, dc);
  tsr_free(ctx, widths);
  tsr_free(ctx, rcnt);
  tsr_free(ctx, chunk);
  tsr_free(ctx, send);
  tsr_free(ctx, recv);
  return st;
}

/* Computes in memory; under a memory limit, when that needs more than
 * IN_MEMORY_SHARE of the limit, out of core by spilled partitions instead
 * (groupby_spill.c).  The in-memory attempt runs with the limit lowered to
 * that share (the context is the caller's alone during the call), so the
 * memory it leaves behind (freed blocks the allocator and the C library
 * keep) and the out-of-core run stay within the limit together.  Under
 * MPI the ranks spill together, when every one of them has a limit. */
#define IN_MEMORY_SHARE 0.75
tsr_status tsr_frame_groupby(tsr_frame *f, int nkeys, const char *const *keys, int naggs,
                             const tsr_agg *aggs, const tsr_groupby_options *options,
                             tsr_frame **out) {
  uint64_t limit = f != NULL ? tsr_ctx_memory_limit(f->ctx) : 0;
  bool can_spill = limit > 0 && tsr__groupby_spill_applies(f, nkeys, naggs, aggs, options);
  if (can_spill &&
      tsr_ctx_set_memory_limit(f->ctx, (uint64_t)((double)limit * IN_MEMORY_SHARE)) != TSR_OK)
    can_spill = false;
  tsr_status st = tsr__groupby_memory(f, nkeys, keys, naggs, aggs, options, out);
  if (can_spill) {
    tsr_status restored = tsr_ctx_set_memory_limit(f->ctx, limit); /* it was valid before */
    if (st == TSR_OK && restored != TSR_OK)
      st = restored;
  }
  if (st == TSR_ENOMEM && tsr_ctx_nranks(f->ctx) > 1) {
    /* The ranks agreed on the failure; they spill together when every
     * rank has a memory limit, else they all return it. */
    uint64_t all = 0, any;
    tsr__dist *d = tsr__dist_get(f->ctx);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", tsr_last_error());
    if (d == NULL || tsr__dist_minmax_u64(d, can_spill, &all, &any) != TSR_OK)
      all = 0;
    can_spill = all == 1;
    if (!can_spill)
      tsr_error_set(TSR_ENOMEM, "%s", msg);
  }
  if (can_spill && st == TSR_ENOMEM) {
    /* What the attempt freed goes back to the system first. */
    tsr__alloc_release_cache(&f->ctx->alloc);
    malloc_trim(0);
    st = tsr__groupby_spill(f, nkeys, keys, naggs, aggs, 0, NULL, out);
  }
  return st;
}

tsr_status tsr__groupby_memory(tsr_frame *f, int nkeys, const char *const *keys, int naggs,
                               const tsr_agg *aggs, const tsr_groupby_options *options,
                               tsr_frame **out) {
  return tsr__groupby_memory_as(f, f, nkeys, keys, naggs, aggs, options, out);
}

tsr_status tsr__groupby_memory_as(tsr_frame *f, const tsr_frame *parts_of, int nkeys,
                                  const char *const *keys, int naggs, const tsr_agg *aggs,
                                  const tsr_groupby_options *options, tsr_frame **out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(f != NULL, TSR_EINVAL, "%s: frame is NULL", fn);
  TSR_CHECK(nkeys >= 0 && (nkeys == 0 || keys != NULL), TSR_EINVAL,
            "%s: nkeys = %d with keys %s: give nkeys >= 0 key names", fn, nkeys,
            keys ? "given" : "NULL");
  TSR_CHECK(naggs >= 0 && (naggs == 0 || aggs != NULL), TSR_EINVAL,
            "%s: naggs = %d with aggs %s: give naggs >= 0 aggregates", fn, naggs,
            aggs ? "given" : "NULL");
  TSR_CHECK(nkeys + naggs > 0, TSR_EINVAL, "%s: no keys and no aggregates", fn);
  TSR_CHECK(nkeys <= 4096 && naggs <= 4096, TSR_EINVAL,
            "%s: %d keys and %d aggregates (at most 4096 each)", fn, nkeys, naggs);
  tsr_group_order order = options ? options->order : TSR_GROUP_FIRST_SEEN;
  TSR_CHECK(order == TSR_GROUP_FIRST_SEEN || order == TSR_GROUP_SORTED, TSR_EINVAL,
            "%s: options->order = %d is not a tsr_group_order", fn, (int)order);
  TSR_CHECK(f->ncols > 0, TSR_EINVAL, "%s: the frame has no columns", fn);
  tsr_ctx *ctx = f->ctx;
  gb_job job;
  memset(&job, 0, sizeof job);
  job.ctx = ctx;
  job.dist = tsr_ctx_nranks(ctx) > 1;
  job.trace = getenv("TESSERA_GROUPBY_TRACE") != NULL; /* on one rank: the phase seconds */
  job.nkeys = nkeys;
  job.naggs = naggs;
  job.nin = f->rows->nchunks;
  int ncols = 0, *cols = NULL;
  int nout = nkeys + naggs;
  gb_merged m;
  memset(&m, 0, sizeof m);
  tsr_status st = TSR_OK;
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)(nkeys + 2 * naggs) + 2, sizeof *cols, (void **)&cols));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)nkeys + 1, sizeof *job.key_in, (void **)&job.key_in));
  TSR__TRY_GOTO(st,
                tsr_calloc(ctx, (size_t)nkeys + 1, sizeof *job.key_types, (void **)&job.key_types));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)naggs + 1, sizeof *job.agg_in, (void **)&job.agg_in));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)naggs + 1, sizeof *job.agg_in2, (void **)&job.agg_in2));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)naggs + 1, sizeof *job.aggs, (void **)&job.aggs));
  TSR__TRY_GOTO(st,
                tsr_calloc(ctx, (size_t)nout + 1, sizeof *job.out_names, (void **)&job.out_names));
  TSR__TRY_GOTO(st,
                tsr_calloc(ctx, (size_t)nout + 1, sizeof *job.out_types, (void **)&job.out_types));
  TSR__TRY_GOTO(st,
                tsr_calloc(ctx, (size_t)nout + 1, sizeof *job.out_dicts, (void **)&job.out_dicts));
  for (int j = 0; j < nkeys; j++) {
    TSR__CHECK_GOTO(st, keys[j] != NULL, TSR_EINVAL, "%s: key %d is NULL", fn, j);
    int k;
    TSR__TRY_GOTO(st, tsr__frame_find(f, fn, keys[j], &k));
    job.key_in[j] = input_of(cols, &ncols, k);
    job.key_types[j] = f->cols[k].type;
    job.out_types[j] = f->cols[k].type;
    job.out_dicts[j] = f->cols[k].dict;
    size_t len = strlen(keys[j]);
    TSR__TRY_GOTO(st, tsr_alloc(ctx, len + 1, (void **)&job.out_names[j]));
    memcpy(job.out_names[j], keys[j], len + 1);
  }
  for (int a = 0; a < naggs; a++) {
    TSR__TRY_GOTO(st, resolve_agg(f, &aggs[a], a, &job, cols, &ncols));
    job.out_names[nkeys + a] = job.aggs[a].name; /* owned by the aggregate */
    job.out_types[nkeys + a] = job.aggs[a].out_type;
  }
  for (int i = 0; i < nout; i++)
    for (int j = 0; j < i; j++)
      TSR__CHECK_GOTO(st, strcmp(job.out_names[i], job.out_names[j]) != 0, TSR_EINVAL,
                      "%s: two result columns are named '%s' (name the aggregates: tsr_agg.name)",
                      fn, job.out_names[i]);
  if (job.per_value)
    for (int a = 0; a < naggs; a++)
      TSR__CHECK_GOTO(st,
                      (aggs[a].op == TSR_AGG_LARGEST || aggs[a].op == TSR_AGG_SMALLEST) &&
                          aggs[a].n == aggs[0].n,
                      TSR_EINVAL,
                      "%s: with largest or smallest, every aggregate must be largest or "
                      "smallest with the same n (aggregate %d is %s)",
                      fn, a, tsr_agg_op_name(aggs[a].op));
  job.kept_rows = job.per_value && aggs[0].n <= KEEP_MAX_N;
  for (int a = 0; a < naggs && job.kept_rows; a++)
    job.kept_rows = tsr__okey_supported(job.aggs[a].in_type);
  if (ncols == 0)
    input_of(cols, &ncols, 0); /* count(*) alone reads a column for the row counts */
  job.ncols = ncols;
  TSR__CHECK_GOTO(st, parts_of != NULL && parts_of->rows->nchunks == f->rows->nchunks, TSR_EINVAL,
                  "%s: the parts' frame has not the input's chunk count", fn);
  job.run = run_length(parts_of, &job);
  job.nchunks = job.nin > 0 ? (job.nin + job.run - 1) / job.run : 0;
  TSR__TRY_GOTO(st,
                tsr_calloc(ctx, (size_t)job.nchunks + 1, sizeof *job.parts, (void **)&job.parts));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)naggs * (size_t)job.nchunks + 1, sizeof *job.astates,
                               (void **)&job.astates));
  double t[6] = {tsr__now(), 0, 0, 0, 0, 0};
  TSR__TRY_GOTO(st, run_chunks(f, &job, cols));
  t[1] = tsr__now();
  if (job.dist) {
    TSR__TRY_GOTO(st, distribute(&job, &job.shuffled));
    /* The holistic values came with the parts, or were kept (scatter_values)
     * but for my own parts read from the input chunks. */
    bool inputs_read = false;
    for (int64_t c = 0; c < job.nchunks && job.kept_own && job.nhol > 0; c++)
      inputs_read |= job.parts[c].hcols == NULL;
    if (!inputs_read)
      tsr_taskgraph_destroy(&job.g);
  }
  t[2] = tsr__now();
  TSR__TRY_GOTO(st, merge(&job, &m));
  t[3] = tsr__now();
  if (job.nhol > 0)
    TSR__TRY_GOTO(st, run_holistic(&job, &m));
  t[4] = tsr__now();
  bool held = false;
  if (job.shuffled && order == TSR_GROUP_FIRST_SEEN)
    TSR__TRY_GOTO(st, result_held(&job, &m, &held));
  if (held)
    TSR__TRY_GOTO(st, hold_result(&job, &m, out));
  else if (job.shuffled)
    TSR__TRY_GOTO(st, gather_result(&job, &m, order, out));
  else
    TSR__TRY_GOTO(st, build_result(&job, &m, order, false, out));
  if (job.trace)
    fprintf(stderr,
            "tessera groupby rank %d: seconds: parts %.3f, exchange %.3f, merge %.3f, holistic "
            "%.3f, result %.3f\n",
            tsr_ctx_rank(ctx), t[1] - t[0], t[2] - t[1], t[3] - t[2], t[4] - t[3],
            tsr__now() - t[4]);
fail:
  /* Under MPI a failure of this rank alone (an allocation, the memory
   * limit) meets the other ranks' next collective, which agrees first; the
   * last one is this. */
  if (job.dist && !job.agreed) {
    st = tsr_ctx_agree(ctx, st);
    if (st != TSR_OK)
      tsr_frame_destroy(out);
  }
  merged_free(ctx, &job, &m);
  job_free(&job);
  tsr_free(ctx, cols);
  return st;
}

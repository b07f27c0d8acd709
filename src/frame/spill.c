/* spill.c — hash partitions in spill files and results read back from
 * them (spill.h), for the out-of-core group-by and join.
 *
 * Partitioning (one task per input chunk, in parallel): the chunk's
 * spilled columns, plus each row's number (chunk << 32 | row), are split
 * by a hash of the keys into P partitions (equal keys hash equally: NaN is
 * one key, -0.0 is 0.0, null is a key of its own, integers of any width by
 * value, a dictionary by its strings when the job gives their hashes), and
 * each partition's rows, in input order, are appended to the job's spill
 * file as one table chunk per (partition, input chunk).  A partition reads
 * back as a lazy frame with the input's chunking (its chunk c holds chunk
 * c's rows of that partition, read when its task runs).
 *
 * Results: runs are table chunks tagged with their result chunk, whose
 * last column numbers each row in that chunk's domain (for the group-by a
 * group's first input row, for the join a left or right row); result
 * chunk c's task reads its runs twice, one in memory at a time: first it
 * counts the rows per number, then it places every row after the rows of
 * smaller numbers and of earlier runs with the same number.
 *
 * Under MPI every rank partitions the input chunks it owns into its own
 * spill file, and the ranks then add up the pieces' row counts and string
 * capacities, so that every rank knows every partition frame's shape; a
 * piece is read back by the task of its chunk's owner, where it was
 * written.  A result's runs are written by the owner of their result chunk
 * only (the other ranks count them), whose task reads them back.
 *
 * Files live under TESSERA_SPILL_DIR (else TMPDIR, else /tmp) and are
 * unlinked as soon as they are created, so they disappear when closed,
 * however the process ends. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tessera/dist.h>

#include "dist/dist.h"
#include "spill.h"

/* ---- spill files ------------------------------------------------------------------- */

tsr_status tsr__spill_open(tsr__spill_file *f, const char *fn) {
  f->fn = fn;
  const char *dir = getenv("TESSERA_SPILL_DIR");
  if (dir == NULL || dir[0] == '\0')
    dir = getenv("TMPDIR");
  if (dir == NULL || dir[0] == '\0')
    dir = "/tmp";
  char path[4096];
  int n = snprintf(path, sizeof path, "%s/tessera-spill-XXXXXX", dir);
  TSR_CHECK(n > 0 && (size_t)n < sizeof path, TSR_EIO, "%s: spill directory path too long: %s", fn,
            dir);
  f->fd = mkstemp(path);
  TSR_CHECK(f->fd >= 0, TSR_EIO, "%s: cannot create a spill file in %s (TESSERA_SPILL_DIR): %s", fn,
            dir, strerror(errno));
  unlink(path); /* gone when closed, whatever happens */
  atomic_store(&f->end, 0);
  return TSR_OK;
}

void tsr__spill_close(tsr__spill_file *f) {
  if (f->fd >= 0)
    close(f->fd);
  f->fd = -1;
}

/* Appends bytes (from any thread); *off receives where they went. */
tsr_status tsr__spill_append(tsr__spill_file *f, const void *buf, uint64_t bytes, uint64_t *off) {
  uint64_t o = atomic_fetch_add(&f->end, bytes);
  *off = o;
  int e = tsr__pwrite_full(f->fd, buf, bytes, o);
  TSR_CHECK(e == 0, TSR_EIO, "%s: writing %llu bytes to a spill file (TESSERA_SPILL_DIR): %s",
            f->fn, (unsigned long long)bytes, e > 0 ? strerror(e) : "no space left");
  return TSR_OK;
}

tsr_status tsr__spill_read(const tsr__spill_file *f, void *buf, uint64_t bytes, uint64_t off) {
  int e = tsr__pread_full(f->fd, buf, bytes, off);
  TSR_CHECK(e == 0, TSR_EIO, "%s: reading %llu bytes back from a spill file: %s", f->fn,
            (unsigned long long)bytes, e > 0 ? strerror(e) : "file too short");
  return TSR_OK;
}

/* ---- table chunks ------------------------------------------------------------------- */

/* A table chunk of `rows` rows with exact string data capacities, every
 * column's rows set and its bitmap all valid (from tsr_kernel_alloc inside
 * a kernel, else tsr_alloc). */
tsr_status tsr__spill_blob_alloc(tsr_ctx *ctx, const char *fn, bool kernel, int ncols,
                                 const size_t *widths, int64_t rows, const int64_t *dcap,
                                 void **out, uint64_t *bytes) {
  uint64_t b;
  *out = NULL;
  TSR_CHECK(tsr__tablechunk_bytes((uint32_t)ncols, widths, rows, dcap, &b), TSR_EINVAL,
            "%s: a spilled chunk of %lld rows is too large", fn, (long long)rows);
  TSR_TRY(kernel ? tsr_kernel_alloc(ctx, (size_t)b, out) : tsr_alloc(ctx, (size_t)b, out));
  tsr__tablechunk_init(*out, b, (uint32_t)ncols, widths, rows, dcap);
  for (int i = 0; i < ncols; i++) {
    tsr__colchunk *c = tsr__tablechunk_col(*out, (uint32_t)i);
    c->rows = rows;
    memset(tsr__colchunk_validity(c), 0xff, (size_t)(rows + 7) / 8);
  }
  *bytes = b;
  return TSR_OK;
}

#define SROW(j) (sidx ? (int64_t)sidx[j] : s0 + (j))
#define DROW(j) (didx ? (int64_t)didx[j] : d0 + (j))

/* Bytes of the long strings among n rows of src (rows sidx[j], or s0 + j). */
uint64_t tsr__spill_long_bytes(const tsr__colread *src, const int32_t *sidx, int64_t s0,
                               int64_t n) {
  const tsr_string_view *v = src->values;
  uint64_t b = 0;
  for (int64_t j = 0; j < n; j++) {
    int64_t r = SROW(j);
    if (v[r].length > 12 && (src->null_count == 0 || tsr__bit_get(src->validity, r)))
      b += v[r].length;
  }
  return b;
}

/* Copies n rows of src (rows sidx[j], or s0 + j when sidx is NULL) into
 * dst (rows didx[j], or d0 + j): values of `w` bytes, nulls (dst's bitmap
 * starts all valid), and long strings into dst's data buffer. */
void tsr__spill_copy_rows(const tsr__colread *src, size_t w, bool str, const int32_t *sidx,
                          int64_t s0, tsr__colchunk *dst, const int32_t *didx, int64_t d0,
                          int64_t n) {
  unsigned char *dv = tsr__colchunk_values(dst);
  const unsigned char *sv = src->values;
  bool nulls = src->null_count > 0;
  if (str) {
    const tsr_string_view *in = (const tsr_string_view *)sv;
    tsr_string_view *o = (tsr_string_view *)dv, zero;
    memset(&zero, 0, sizeof zero);
    for (int64_t j = 0; j < n; j++) {
      const tsr_string_view *v = in + SROW(j);
      if (nulls && !tsr__bit_get(src->validity, SROW(j)))
        o[DROW(j)] = zero;
      else
        o[DROW(j)] = v->length <= 12
                         ? *v
                         : tsr__view_make(dst, tsr_string_view_data(v, src->data), v->length);
    }
  } else {
    switch (w) {
#define COPY(W)                                                          \
  case W:                                                                \
    for (int64_t j = 0; j < n; j++)                                      \
      memcpy(dv + (size_t)DROW(j) * (W), sv + (size_t)SROW(j) * (W), W); \
    break;
      COPY(1)
      COPY(2)
      COPY(4)
      COPY(8)
#undef COPY
    default:
      for (int64_t j = 0; j < n; j++)
        memcpy(dv + (size_t)DROW(j) * w, sv + (size_t)SROW(j) * w, w);
      break;
    }
  }
  if (nulls) {
    uint8_t *valid = tsr__colchunk_validity(dst);
    int64_t k = 0;
    for (int64_t j = 0; j < n; j++)
      if (!tsr__bit_get(src->validity, SROW(j))) {
        tsr__bit_set(valid, DROW(j), false);
        k++;
      }
    dst->null_count += k;
  }
}

/* ---- hashing keys ------------------------------------------------------------------- */

static inline uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= UINT64_C(0xff51afd7ed558ccd);
  x ^= x >> 33;
  x *= UINT64_C(0xc4ceb9fe1a85ec53);
  x ^= x >> 33;
  return x;
}

static inline uint64_t float_bits(double x) {
  if (x != x)
    return UINT64_C(0x7ff8000000000000); /* every NaN is one key */
  if (x == 0)
    x = 0.0; /* -0.0 is 0.0 */
  uint64_t b;
  memcpy(&b, &x, sizeof b);
  return b;
}

uint64_t tsr__spill_hash_bytes(const char *s, uint32_t n) {
  uint64_t h = UINT64_C(0x9e3779b97f4a7c15) ^ n;
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, s, 8);
    h = (h ^ w) * UINT64_C(0xbf58476d1ce4e5b9);
    h ^= h >> 31;
    s += 8;
    n -= 8;
  }
  if (n > 0) {
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * UINT64_C(0x94d049bb133111eb);
  }
  return h;
}

/* hv[i] = a hash of row i's key value in r (nulls alike); a dictionary's
 * codes through dict_hash (its `size` entries' string hashes) when given. */
static void hash_column(const tsr__colread *r, tsr_type t, const uint64_t *dict_hash, int64_t size,
                        uint64_t *hv, int64_t n) {
  if (t.id == TSR_COL_DICT && dict_hash != NULL) {
    const int32_t *v = r->values;
    for (int64_t i = 0; i < n; i++)
      hv[i] = (uint64_t)(uint32_t)v[i] < (uint64_t)size ? dict_hash[v[i]] : 0; /* nulls: below */
  } else
    switch (t.id) {
#define HASHI(ID, T)                   \
  case ID: {                           \
    const T *v = r->values;            \
    for (int64_t i = 0; i < n; i++)    \
      hv[i] = (uint64_t)(int64_t)v[i]; \
    break;                             \
  }
      HASHI(TSR_COL_BOOL, uint8_t)
      HASHI(TSR_COL_INT8, int8_t)
      HASHI(TSR_COL_INT16, int16_t)
      HASHI(TSR_COL_INT32, int32_t)
      HASHI(TSR_COL_INT64, int64_t)
      HASHI(TSR_COL_UINT8, uint8_t)
      HASHI(TSR_COL_UINT16, uint16_t)
      HASHI(TSR_COL_UINT32, uint32_t)
      HASHI(TSR_COL_UINT64, uint64_t)
      HASHI(TSR_COL_DICT, int32_t)
      HASHI(TSR_COL_DATE, int32_t)
      HASHI(TSR_COL_TIMESTAMP, int64_t)
#undef HASHI
    case TSR_COL_FLOAT32: {
      const float *v = r->values;
      for (int64_t i = 0; i < n; i++)
        hv[i] = float_bits(v[i]);
      break;
    }
    case TSR_COL_FLOAT64: {
      const double *v = r->values;
      for (int64_t i = 0; i < n; i++)
        hv[i] = float_bits(v[i]);
      break;
    }
    default: { /* strings */
      const tsr_string_view *v = r->values;
      for (int64_t i = 0; i < n; i++)
        hv[i] = tsr__spill_hash_bytes(tsr_string_view_data(&v[i], r->data), v[i].length);
      break;
    }
    }
  if (r->null_count > 0)
    for (int64_t i = 0; i < n; i++)
      if (!tsr__bit_get(r->validity, i))
        hv[i] = UINT64_C(0x6a09e667f3bcc908);
}

/* ---- partitioning --------------------------------------------------------------------- */

typedef struct sp_task {
  tsr__spill_job *job;
  int64_t chunk;
} sp_task;

static tsr_status part_kernel(const tsr_kernel_call *call) {
  sp_task t;
  memcpy(&t, call->params, sizeof t);
  tsr__spill_job *job = t.job;
  tsr_ctx *ctx = job->ctx;
  int nc = job->ncols;
  int64_t P = job->nparts;
  tsr__colread *in = NULL;
  uint64_t *h = NULL, *hv = NULL;
  int64_t *start = NULL, *dcap = NULL;
  int32_t *perm = NULL;
  void *blob = NULL;
  tsr_status st = TSR_OK;
  TSR__TRY_GOTO(st, tsr_alloc(ctx, (size_t)nc * sizeof *in, (void **)&in));
  for (int i = 0; i < nc; i++)
    tsr__colread_get(&job->refs[i], call, &in[i]);
  int64_t rows = in[0].rows;
  job->rows[t.chunk] = rows;
  TSR__CHECK_GOTO(st, rows < INT32_MAX, TSR_ENOTSUP, "%s: a chunk of %lld rows (at most 2^31 - 1)",
                  job->fn, (long long)rows);
  TSR__TRY_GOTO(st, tsr_kernel_alloc(ctx, (size_t)rows * sizeof *h + 8, (void **)&h));
  TSR__TRY_GOTO(st, tsr_kernel_alloc(ctx, (size_t)rows * sizeof *hv + 8, (void **)&hv));
  for (int64_t i = 0; i < rows; i++)
    h[i] = UINT64_C(0x243f6a8885a308d3);
  for (int j = 0; j < job->nkeys; j++) {
    const tsr__col *kc = &job->f->cols[job->cols[job->key_in[j]]];
    hash_column(&in[job->key_in[j]], kc->type, job->key_hash ? job->key_hash[j] : NULL,
                kc->dict ? kc->dict->size : 0, hv, rows);
    for (int64_t i = 0; i < rows; i++)
      h[i] = mix64(h[i] ^ hv[i]);
  }
  tsr_free(ctx, hv);
  hv = NULL;
  /* Rows by partition, in input order within each (a counting sort). */
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)P + 1, sizeof *start, (void **)&start));
  for (int64_t i = 0; i < rows; i++) {
    uint64_t p = job->bits ? h[i] >> (64 - job->bits) : 0;
    h[i] = p;
    start[p + 1]++;
  }
  for (int64_t p = 0; p < P; p++)
    start[p + 1] += start[p];
  TSR__TRY_GOTO(st, tsr_kernel_alloc(ctx, (size_t)rows * sizeof *perm + 4, (void **)&perm));
  {
    int64_t *next = NULL;
    TSR__TRY_GOTO(st, tsr_alloc(ctx, (size_t)P * sizeof *next, (void **)&next));
    memcpy(next, start, (size_t)P * sizeof *next);
    for (int64_t i = 0; i < rows; i++)
      perm[next[h[i]]++] = (int32_t)i;
    tsr_free(ctx, next);
  }
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)nc + 2, sizeof *dcap, (void **)&dcap));
  for (int64_t p = 0; p < P; p++) {
    int64_t n = start[p + 1] - start[p];
    tsr__spill_rec *rec = &job->recs[p * job->nchunks + t.chunk];
    rec->rows = n;
    rec->chunk = t.chunk;
    if (n == 0)
      continue;
    const int32_t *rows_p = perm + start[p];
    for (int i = 0; i < nc; i++)
      dcap[i] = job->str[i] ? (int64_t)tsr__spill_long_bytes(&in[i], rows_p, 0, n) : 0;
    memcpy(job->rdcap + (p * job->nchunks + t.chunk) * (nc + 1), dcap,
           (size_t)(nc + 1) * sizeof *dcap);
    uint64_t bytes;
    TSR__TRY_GOTO(
        st, tsr__spill_blob_alloc(ctx, job->fn, true, nc + 1, job->widths, n, dcap, &blob, &bytes));
    for (int i = 0; i < nc; i++)
      tsr__spill_copy_rows(&in[i], job->widths[i], job->str[i], rows_p, 0,
                           tsr__tablechunk_col(blob, (uint32_t)i), NULL, 0, n);
    int64_t *rn = tsr__colchunk_values(tsr__tablechunk_col(blob, (uint32_t)nc));
    for (int64_t j = 0; j < n; j++)
      rn[j] = (int64_t)((uint64_t)t.chunk << 32 | (uint32_t)rows_p[j]);
    TSR__TRY_GOTO(st, tsr__spill_append(&job->in, blob, bytes, &rec->off));
    rec->bytes = bytes;
    tsr_free(ctx, blob);
    blob = NULL;
  }
fail:
  tsr_free(ctx, blob);
  tsr_free(ctx, in);
  tsr_free(ctx, h);
  tsr_free(ctx, hv);
  tsr_free(ctx, start);
  tsr_free(ctx, dcap);
  tsr_free(ctx, perm);
  return st;
}

/* Under MPI, after pass 1: each rank filled the rows, piece rows, bytes
 * and string capacities of the chunks it owns (zeros elsewhere); the sums
 * are every chunk's.  A piece's offset is the writer's own: elsewhere it
 * is NOT_HERE.  scratch: 2 x nparts x nchunks values. */
#define NOT_HERE UINT64_MAX
static tsr_status share_counts(tsr__spill_job *job, int64_t *scratch) {
  tsr__dist *d = tsr__dist_get(job->ctx);
  TSR_CHECK(d != NULL, TSR_EMPI, "%s: MPI is not available", job->fn);
  const int64_t npieces = job->nparts * job->nchunks;
  for (int64_t i = 0; i < npieces; i++) {
    scratch[2 * i] = job->recs[i].rows;
    scratch[2 * i + 1] = (int64_t)job->recs[i].bytes;
    if (job->recs[i].bytes == 0)
      job->recs[i].off = NOT_HERE;
  }
  TSR_TRY(tsr__dist_sum_i64s(d, scratch, 2 * npieces));
  for (int64_t i = 0; i < npieces; i++) {
    job->recs[i].rows = scratch[2 * i];
    job->recs[i].bytes = (uint64_t)scratch[2 * i + 1];
  }
  TSR_TRY(tsr__dist_sum_i64s(d, job->rows, job->nchunks));
  return tsr__dist_sum_i64s(d, job->rdcap, npieces * (job->ncols + 1));
}

/* Pass 1: one task per input chunk, reading the spilled columns' chunks. */
tsr_status tsr__spill_partition(tsr__spill_job *job) {
  tsr_frame *f = job->f;
  tsr_ctx *ctx = job->ctx;
  int64_t nc = job->nchunks;
  tsr_taskgraph *g = NULL;
  tsr__lowering *l = NULL;
  tsr__expr **inputs = NULL;
  const uint32_t **ids = NULL;
  uint32_t *tasks = NULL, *ins = NULL;
  int64_t *scratch = NULL;
  uint32_t n_inputs = 0;
  bool ran = false;
  const bool dist = tsr_ctx_nranks(ctx) > 1;
  tsr_status st = TSR_OK;
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)job->ncols + 1, sizeof *inputs, (void **)&inputs));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)job->ncols + 1, sizeof *ids, (void **)&ids));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)job->ncols + 1, sizeof *ins, (void **)&ins));
  TSR__TRY_GOTO(st,
                tsr_calloc(ctx, (size_t)job->ncols + 1, sizeof *job->refs, (void **)&job->refs));
  tsr__frame_colrefs(f, job->ncols, job->cols, inputs, &n_inputs, job->refs);
  TSR__TRY_GOTO(st, tsr_taskgraph_create(ctx, &g));
  TSR__TRY_GOTO(st, tsr__lowering_create(ctx, g, &l));
  for (uint32_t i = 0; i < n_inputs; i++)
    TSR__TRY_GOTO(st, tsr__lowering_lower(l, inputs[i], &ids[i]));
  TSR__TRY_GOTO(st, tsr__alloc_array(ctx, (size_t)nc + 1, sizeof *tasks, "tasks", (void **)&tasks));
  uint32_t k;
  TSR__TRY_GOTO(st, tsr_taskgraph_add_kernel(g, "frame_spill_partition", part_kernel, NULL, &k));
  for (int64_t c = 0; c < nc; c++) {
    for (uint32_t i = 0; i < n_inputs; i++)
      ins[i] = ids[i][c];
    sp_task t = {job, c};
    TSR__TRY_GOTO(st, tsr_taskgraph_add_task(g, k, ins, n_inputs, &t, sizeof t, 0, &tasks[c]));
    if (dist) /* where the partition frame's task reads chunk c's pieces back */
      TSR__TRY_GOTO(st, tsr_taskgraph_set_owner(g, tasks[c], tsr__dist_chunk_owner(ctx, c, nc)));
  }
  TSR__TRY_GOTO(st, tsr_taskgraph_cull(g, tasks, (uint32_t)nc));
  if (dist)
    TSR__TRY_GOTO(st, tsr__alloc_array(ctx, 2 * (size_t)(job->nparts * nc) + 1, sizeof *scratch,
                                       "piece rows", (void **)&scratch));
  ran = true;
  TSR__TRY_GOTO(st, tsr_taskgraph_run(g));
  if (dist)
    TSR__TRY_GOTO(st, share_counts(job, scratch));
fail:
  if (!ran)
    st = tsr_ctx_agree(ctx, st);
  tsr_free(ctx, scratch);
  tsr_free(ctx, tasks);
  tsr_free(ctx, ins);
  tsr_free(ctx, ids);
  tsr_free(ctx, inputs);
  tsr__lowering_destroy(&l);
  tsr_taskgraph_destroy(&g);
  return st;
}

/* ---- the result: a frame read back from the runs of every partition ----------------------- */

typedef struct sp_result {
  tsr__fnode base;
  tsr_ctx *ctx;
  tsr__spill_file file;
  int ncols;      /* result columns; the runs also hold the first row after them */
  size_t *widths; /* ncols + 1 */
  bool *str;      /* ncols + 1 */
  int64_t nchunks;
  int64_t *first_run; /* nchunks + 1: chunk c's runs are runs[first_run[c]..first_run[c + 1]) */
  tsr__spill_rec *runs;
  int64_t *in_rows; /* nchunks: rows of input chunk c */
  uint64_t id;
} sp_result;

static void result_destroy(tsr__fnode *base) {
  sp_result *s = (sp_result *)base;
  tsr__spill_close(&s->file);
  tsr_free(s->ctx, s->widths);
  tsr_free(s->ctx, s->str);
  tsr_free(s->ctx, s->first_run);
  tsr_free(s->ctx, s->runs);
  tsr_free(s->ctx, s->in_rows);
}

static tsr_status result_kernel(const tsr_kernel_call *call) {
  tsr__ftask t = tsr__ftask_of(call);
  const sp_result *s = t.node->params;
  tsr_ctx *ctx = s->ctx;
  int64_t c = t.chunk;
  int64_t r0 = s->first_run[c], nr = s->first_run[c + 1] - r0;
  int64_t n = s->base.rows->count[c];
  tsr__ftask_init_output(call);
  for (int i = 0; i < s->ncols; i++) {
    tsr__colchunk *cc = tsr__tablechunk_col(call->output, (uint32_t)i);
    cc->rows = n;
    memset(tsr__colchunk_validity(cc), 0xff, (size_t)(n + 7) / 8);
  }
  if (n == 0)
    return TSR_OK;
  void *buf = NULL;
  int64_t *pos = NULL;
  int32_t *didx = NULL;
  tsr_status st = TSR_OK;
  int64_t in_rows = s->in_rows[c], most = 0;
  TSR__TRY_GOTO(st, tsr_kernel_alloc(ctx, (size_t)in_rows * sizeof *pos + 8, (void **)&pos));
  memset(pos, 0, (size_t)in_rows * sizeof *pos);
  /* Twice over the runs, one in memory at a time: first how many rows
   * each number has, then the rows into place. */
  for (int64_t r = 0; r < nr; r++) {
    const tsr__spill_rec *run = &s->runs[r0 + r];
    TSR__CHECK_GOTO(st, run->bytes > 0, TSR_EINVAL,
                    "%s: result chunk %lld read on rank %d, whose spill file does not hold it",
                    s->file.fn, (long long)c, tsr_ctx_rank(ctx));
    TSR__TRY_GOTO(st, tsr_kernel_alloc(ctx, (size_t)run->bytes, &buf));
    TSR__TRY_GOTO(st, tsr__spill_read(&s->file, buf, run->bytes, run->off));
    tsr__colread fr;
    tsr__colread_of(buf, (uint32_t)s->ncols, &fr);
    const int64_t *first = fr.values;
    for (int64_t i = 0; i < fr.rows; i++)
      pos[(uint32_t)first[i]]++;
    most = fr.rows > most ? fr.rows : most;
    tsr_free(ctx, buf);
    buf = NULL;
  }
  /* A number's first place: how many rows of this chunk have smaller numbers. */
  for (int64_t i = 0, k = 0; i < in_rows; i++) {
    int64_t m = pos[i];
    pos[i] = k;
    k += m;
  }
  TSR__TRY_GOTO(st, tsr_kernel_alloc(ctx, (size_t)most * sizeof *didx + 4, (void **)&didx));
  for (int64_t r = 0; r < nr; r++) {
    const tsr__spill_rec *run = &s->runs[r0 + r];
    TSR__TRY_GOTO(st, tsr_kernel_alloc(ctx, (size_t)run->bytes, &buf));
    TSR__TRY_GOTO(st, tsr__spill_read(&s->file, buf, run->bytes, run->off));
    tsr__colread fr;
    tsr__colread_of(buf, (uint32_t)s->ncols, &fr);
    const int64_t *first = fr.values;
    for (int64_t i = 0; i < fr.rows; i++)
      didx[i] = (int32_t)pos[(uint32_t)first[i]]++;
    for (int col = 0; col < s->ncols; col++) {
      tsr__colread src;
      tsr__colread_of(buf, (uint32_t)col, &src);
      tsr__spill_copy_rows(&src, s->widths[col], s->str[col], NULL, 0,
                           tsr__tablechunk_col(call->output, (uint32_t)col), didx, 0, fr.rows);
    }
    tsr_free(ctx, buf);
    buf = NULL;
  }
fail:
  tsr_free(ctx, buf);
  tsr_free(ctx, pos);
  tsr_free(ctx, didx);
  return st;
}

static tsr_status lower_result(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                               uint32_t *out) {
  return tsr__fnode_lower_map(e, g, in, out, "frame_spill_result", result_kernel, NULL, 0);
}

static void hash_result(const tsr__expr *e, tsr__hash *h) {
  const sp_result *s = e->params;
  tsr__fnode_hash(&s->base, h);
  tsr__hash_u64(h, s->id);
}

static const tsr__op op_result = {
    "frame_spill_result", lower_result, tsr__fnode_destroy_params, false, NULL, hash_result};

/* ---- pass 2 ------------------------------------------------------------------------------- */

/* A partition as a lazy frame: its chunk c is partition p's piece of
 * input chunk c, read back from the spill file when a task needs it, so
 * that the in-memory engine holds one piece at a time per thread (beside
 * what its aggregates keep per group). */
typedef struct sp_part {
  tsr__fnode base;
  const tsr__spill_job *job; /* outlives the frame: destroyed within the call */
  int64_t p;
  int64_t c0, c1; /* the chunks read; the others are empty */
  uint64_t id;
} sp_part;

static tsr_status part_read_kernel(const tsr_kernel_call *call) {
  tsr__ftask t = tsr__ftask_of(call);
  const sp_part *s = t.node->params;
  const tsr__spill_rec *rec = &s->job->recs[s->p * s->job->nchunks + t.chunk];
  if (rec->rows == 0 || t.chunk < s->c0 || t.chunk >= s->c1) {
    tsr__ftask_init_output(call);
    return TSR_OK;
  }
  TSR_CHECK(rec->off != NOT_HERE, TSR_EINVAL,
            "%s: the spilled piece of chunk %lld read on rank %d, which did not write it",
            s->job->fn, (long long)t.chunk, tsr_ctx_rank(s->job->ctx));
  TSR_CHECK(call->output_bytes == rec->bytes, TSR_EINVAL,
            "%s: spilled piece of %llu bytes read into a chunk of %zu bytes", s->job->fn,
            (unsigned long long)rec->bytes, call->output_bytes);
  return tsr__spill_read(&s->job->in, call->output, rec->bytes, rec->off);
}

static tsr_status lower_part(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                             uint32_t *out) {
  return tsr__fnode_lower_map(e, g, in, out, "frame_spill_read", part_read_kernel, NULL, 0);
}

static void hash_part(const tsr__expr *e, tsr__hash *h) {
  const sp_part *s = e->params;
  tsr__fnode_hash(&s->base, h);
  tsr__hash_u64(h, s->id);
}

static const tsr__op op_part = {
    "frame_spill_read", lower_part, tsr__fnode_destroy_params, false, NULL, hash_part};

tsr_status tsr__spill_partition_frame(tsr__spill_job *job, int64_t p, int64_t c0, int64_t c1,
                                      const char *row_name, tsr_frame **out) {
  tsr_ctx *ctx = job->ctx;
  int64_t nc = job->nchunks;
  int ncols = job->ncols + 1;
  int64_t *rows = NULL, *dcap = NULL;
  tsr_type *types = NULL;
  tsr__col *cols = NULL;
  tsr__rows *r = NULL;
  tsr__expr *node = NULL;
  sp_part *s = NULL;
  tsr_status st = TSR_OK;
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)nc + 1, sizeof *rows, (void **)&rows));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)nc * (size_t)ncols + 1, sizeof *dcap, (void **)&dcap));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)ncols, sizeof *types, (void **)&types));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)ncols, sizeof *cols, (void **)&cols));
  for (int i = 0; i < job->ncols; i++) {
    const tsr__col *col = &job->f->cols[job->cols[i]];
    types[i] = col->type;
    cols[i] = (tsr__col){col->name, col->type, col->dict, NULL, (uint32_t)i, false};
  }
  types[job->ncols] = (tsr_type){TSR_COL_INT64, 0};
  cols[job->ncols] =
      (tsr__col){(char *)row_name, types[job->ncols], NULL, NULL, (uint32_t)job->ncols, false};
  for (int64_t c = c0; c < c1; c++) {
    rows[c] = job->recs[p * nc + c].rows;
    for (int i = 0; i < ncols; i++)
      dcap[(int64_t)i * nc + c] = job->rdcap[(p * nc + c) * ncols + i];
  }
  TSR__TRY_GOTO(st, tsr__rows_create(ctx, nc, rows, rows, &r));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, 1, sizeof *s, (void **)&s));
  s->job = job;
  s->p = p;
  s->c0 = c0;
  s->c1 = c1;
  static _Atomic uint64_t ids;
  s->id = atomic_fetch_add(&ids, 1);
  {
    sp_part *owned = s;
    s = NULL; /* the node owns it from here, also on failure */
    TSR__TRY_GOTO(st, tsr__fnode_create(ctx, &op_part, r, (uint32_t)ncols, types, dcap, 0, NULL,
                                        owned, &node));
  }
  for (int i = 0; i < ncols; i++)
    cols[i].node = node;
  st = tsr__frame_make(ctx, ncols, cols, r, out);
fail:
  tsr_free(ctx, s);
  tsr_free(ctx, rows);
  tsr_free(ctx, dcap);
  tsr_free(ctx, types);
  tsr_free(ctx, cols);
  tsr__expr_release(&node);
  tsr__rows_release(&r);
  return st;
}

/* A name not among the n names (base, base_1, base_2, ...). */
void tsr__spill_fresh_name(const char *base, char *const *names, int n, char *out, size_t size) {
  snprintf(out, size, "%s", base);
  for (int k = 1;; k++) {
    bool clash = false;
    for (int i = 0; i < n && !clash; i++)
      clash = names[i] != NULL && strcmp(names[i], out) == 0;
    if (!clash)
      return;
    snprintf(out, size, "%s_%d", base, k);
  }
}

tsr_status tsr__spill_out_init(tsr_ctx *ctx, tsr__spill_out *o, tsr_frame *r) {
  int n = o->ncols = tsr_frame_ncols(r);
  TSR_TRY(tsr_calloc(ctx, (size_t)n, sizeof *o->names, (void **)&o->names));
  TSR_TRY(tsr_calloc(ctx, (size_t)n, sizeof *o->types, (void **)&o->types));
  TSR_TRY(tsr_calloc(ctx, (size_t)n, sizeof *o->dicts, (void **)&o->dicts));
  TSR_TRY(tsr_calloc(ctx, (size_t)n, sizeof *o->widths, (void **)&o->widths));
  TSR_TRY(tsr_calloc(ctx, (size_t)n, sizeof *o->str, (void **)&o->str));
  for (int i = 0; i < n; i++) {
    TSR_TRY(tsr__strdup(ctx, r->cols[i].name, &o->names[i]));
    o->types[i] = r->cols[i].type;
    o->widths[i] = tsr_type_width(o->types[i]);
    o->str[i] = o->types[i].id == TSR_COL_STRING;
    if (r->cols[i].dict != NULL) {
      tsr__dict_retain(r->cols[i].dict);
      o->dicts[i] = r->cols[i].dict;
    }
  }
  return TSR_OK;
}

void tsr__spill_out_free(tsr_ctx *ctx, tsr__spill_out *o) {
  for (int i = 0; i < o->ncols; i++) {
    if (o->names != NULL)
      tsr_free(ctx, o->names[i]);
    if (o->dicts != NULL)
      tsr__dict_release(&o->dicts[i]);
  }
  tsr_free(ctx, o->names);
  tsr_free(ctx, o->types);
  tsr_free(ctx, o->dicts);
  tsr_free(ctx, o->widths);
  tsr_free(ctx, o->str);
  tsr_free(ctx, o->runs);
  tsr_free(ctx, o->dcap);
  tsr__spill_close(&o->file);
}

tsr_status tsr__spill_write_run(tsr_ctx *ctx, tsr__spill_out *o, const tsr__colread *src,
                                const int32_t *sidx, int64_t i0, int64_t n, int64_t c) {
  if (o->nruns == o->cap) {
    int64_t cap = o->cap ? 2 * o->cap : 256;
    TSR_TRY(tsr__grow_array(ctx, (void **)&o->runs, (size_t)o->cap, (size_t)cap, sizeof *o->runs,
                            "spilled runs"));
    TSR_TRY(tsr__grow_array(ctx, (void **)&o->dcap, (size_t)o->cap * (size_t)o->ncols,
                            (size_t)cap * (size_t)o->ncols, sizeof *o->dcap, "spilled runs"));
    o->cap = cap;
  }
  int64_t *dcap = o->dcap + o->nruns * o->ncols;
  for (int i = 0; i < o->ncols; i++)
    dcap[i] = o->str[i] ? (int64_t)tsr__spill_long_bytes(&src[i], sidx, i0, n) : 0;
  if (o->nchunks > 0 && tsr__dist_chunk_owner(ctx, c, o->nchunks) != tsr_ctx_rank(ctx)) {
    o->runs[o->nruns++] = (tsr__spill_rec){0, 0, n, c}; /* its owner writes it */
    return TSR_OK;
  }
  void *blob = NULL;
  uint64_t bytes;
  TSR_TRY(
      tsr__spill_blob_alloc(ctx, o->file.fn, false, o->ncols, o->widths, n, dcap, &blob, &bytes));
  for (int i = 0; i < o->ncols; i++)
    tsr__spill_copy_rows(&src[i], o->widths[i], o->str[i], sidx, i0,
                         tsr__tablechunk_col(blob, (uint32_t)i), NULL, 0, n);
  tsr__spill_rec *run = &o->runs[o->nruns];
  tsr_status st = tsr__spill_append(&o->file, blob, bytes, &run->off);
  tsr_free(ctx, blob);
  TSR_TRY(st);
  run->bytes = bytes;
  run->rows = n;
  run->chunk = c;
  o->nruns++;
  return TSR_OK;
}

tsr_status tsr__spill_result_frame(tsr_ctx *ctx, const char *fn, int64_t nchunks,
                                   const int64_t *in_rows, tsr__spill_out *o, tsr_frame **out) {
  int64_t nc = nchunks;
  int ncols = o->ncols - 1;
  sp_result *s = NULL;
  tsr__rows *rows = NULL;
  tsr__expr *node = NULL;
  tsr__col *cols = NULL;
  int64_t *count = NULL, *dcap = NULL;
  tsr_status st = TSR_OK;
  TSR__TRY_GOTO(st, tsr_calloc(ctx, 1, sizeof *s, (void **)&s));
  s->ctx = ctx;
  s->file.fd = -1;
  s->base.destroy_extra = result_destroy;
  s->ncols = ncols;
  s->nchunks = nc;
  static _Atomic uint64_t ids;
  s->id = atomic_fetch_add(&ids, 1);
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)nc + 2, sizeof *s->first_run, (void **)&s->first_run));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)o->nruns + 1, sizeof *s->runs, (void **)&s->runs));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)nc + 1, sizeof *s->in_rows, (void **)&s->in_rows));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)o->ncols, sizeof *s->widths, (void **)&s->widths));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)o->ncols, sizeof *s->str, (void **)&s->str));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)nc + 1, sizeof *count, (void **)&count));
  TSR__TRY_GOTO(
      st, tsr_calloc(ctx, (size_t)nc * (size_t)(ncols + 1) + 1, sizeof *dcap, (void **)&dcap));
  memcpy(s->widths, o->widths, (size_t)o->ncols * sizeof *s->widths);
  memcpy(s->str, o->str, (size_t)o->ncols * sizeof *s->str);
  memcpy(s->in_rows, in_rows, (size_t)nc * sizeof *s->in_rows);
  /* Runs by chunk (a counting sort; a chunk's runs may come in any order). */
  for (int64_t r = 0; r < o->nruns; r++) {
    int64_t c = o->runs[r].chunk;
    s->first_run[c + 2]++;
    count[c] += o->runs[r].rows;
    for (int i = 0; i < ncols; i++)
      dcap[(int64_t)i * nc + c] += o->dcap[r * o->ncols + i];
  }
  for (int64_t c = 0; c < nc; c++)
    s->first_run[c + 2] += s->first_run[c + 1];
  for (int64_t r = 0; r < o->nruns; r++)
    s->runs[s->first_run[o->runs[r].chunk + 1]++] = o->runs[r];
  s->file.fd = o->file.fd; /* the node owns the file from here */
  s->file.fn = fn;
  o->file.fd = -1;
  TSR__TRY_GOTO(st, tsr__rows_create(ctx, nc, count, count, &rows));
  {
    sp_result *owned = s;
    s = NULL; /* the node owns it from here, also on failure */
    TSR__TRY_GOTO(st, tsr__fnode_create(ctx, &op_result, rows, (uint32_t)ncols, o->types, dcap, 0,
                                        NULL, owned, &node));
  }
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)ncols + 1, sizeof *cols, (void **)&cols));
  for (int i = 0; i < ncols; i++)
    cols[i] = (tsr__col){o->names[i], o->types[i], o->dicts[i], node, (uint32_t)i, false};
  st = tsr__frame_make(ctx, ncols, cols, rows, out);
fail:
  if (s != NULL) {
    result_destroy(&s->base);
    tsr_free(ctx, s);
  }
  tsr_free(ctx, cols);
  tsr_free(ctx, count);
  tsr_free(ctx, dcap);
  tsr__expr_release(&node);
  tsr__rows_release(&rows);
  return st;
}

/* ---- how many partitions ----------------------------------------------------------------- */

uint64_t tsr__spill_bytes(const tsr_frame *f, int ncols, const int *cols) {
  uint64_t bytes = 0;
  for (int64_t c = 0; c < f->rows->nchunks; c++) {
    uint64_t cap = (uint64_t)f->rows->cap[c];
    bytes += cap * sizeof(int64_t);
    for (int i = 0; i < ncols; i++) {
      bytes += cap * tsr_type_width(f->cols[cols[i]].type);
      if (f->cols[cols[i]].type.id == TSR_COL_STRING)
        bytes += (uint64_t)tsr__col_data_cap(f, cols[i], c);
    }
  }
  return bytes;
}

uint64_t tsr__spill_avail(tsr_ctx *ctx) {
  uint64_t limit = tsr_ctx_memory_limit(ctx);
  if (limit == 0)
    return 0;
  tsr_memory_stats ms;
  uint64_t avail = limit / 2;
  if (tsr_ctx_memory_stats(ctx, &ms) == TSR_OK && ms.current_bytes < limit / 2)
    avail = limit - ms.current_bytes;
  return avail;
}

int64_t tsr__spill_partitions(tsr_ctx *ctx, uint64_t bytes, int share) {
  uint64_t avail = tsr__spill_avail(ctx);
  if (avail == 0)
    return 16;
  uint64_t want = bytes / (avail / (uint64_t)share + 1) + 1;
  int64_t p = 2;
  while ((uint64_t)p < want && p < TSR__SPILL_MAX_PARTITIONS)
    p *= 2;
  return p;
}

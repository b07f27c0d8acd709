/* join_spill.c — a join larger than memory (docs/frames.md, "Joins larger
 * than memory"): a grace hash join whose result has the in-memory join's
 * rows, values, order and chunks.
 *
 * Pass 1: both sides are hash-partitioned by their keys into the same P
 * spill partitions (spill.c; equal keys hash equally across the two sides:
 * integers of any width by value, floats as float64, strings and
 * dictionaries by their bytes), every column kept, with each row's number
 * (chunk << 32 | row).  Rows whose keys can match land in the same
 * partition pair; a row with a null key lands somewhere and matches
 * nothing, as in memory.
 *
 * Pass 2, partition after partition: the two partitions, as lazy frames
 * with their sides' chunking, are joined in memory (tsr__join_memory, the
 * same kind) with the row numbers as extra columns.  Its output chunk c
 * holds the results of left chunk c's rows of the partition, in left row
 * order and right row order; its chunk nl + c the unmatched right rows of
 * right chunk c.  Each output chunk goes to the result's spill file as a
 * run tagged with its chunk, numbered by left row (right row in the
 * unmatched chunks).
 *
 * A partition pair larger than twice the piece size (one key holding many
 * rows, or a limit too small for P) is joined in pieces: each side's
 * partition cut into runs of consecutive chunks of at most the piece size
 * (one chunk at least), and every left piece joined with every right
 * piece, the right pieces in order.  Of those joins only the matched rows
 * are kept (semi and anti joins only mark matched left rows); bitmaps mark
 * the left and right rows that matched, and the unmatched rows the kind
 * keeps come last from joins of each piece with an empty other side.
 * Every right row meets every left row of its partition once, so a right
 * row unmatched in all pairs is unmatched, and a left row's matches come
 * in right row order (the pieces' order).
 *
 * Pass 3, lazily: result chunk c reads its runs and places their rows by
 * number (spill.c): the in-memory order, since each left row's results
 * lie in one partition and, across pieces, in the runs' order.  Values are
 * copied, never computed, so they are bitwise the in-memory join's, for
 * any thread count.  The result's file stays open until the frame is
 * destroyed.
 *
 * Under MPI the same passes run on every rank: each rank partitions the
 * chunks it owns into its own files (spill.c adds up the counts); each
 * partition pair (or pair of pieces) is joined across the ranks by the
 * distributed join, every rank gets its output, marks matched rows and
 * writes the runs of the result chunks it owns; a result chunk is read on
 * its owner.  P is the largest any rank's memory asks for, pieces the
 * smallest, and every step's status is agreed between the ranks. */
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include <tessera/dist.h>

#include "dist/dist.h"
#include "join_impl.h"
#include "spill.h"

static const char fn[] = "tsr_frame_join";

/* A partition pair's input should take at most 1/PART_SHARE of what the
 * limit leaves: the in-memory join holds both inputs, their key words, the
 * table, the pairs and the output (about four times its input), and the
 * runs being written (more with small chunks). */
#define PART_SHARE 16

/* A step's status, agreed between the ranks under MPI. */
#define STEP(expr) TSR__AGREED_GOTO(st, ctx, expr)

uint64_t tsr__join_spill_bytes(const tsr_frame *f) {
  uint64_t bytes = 0;
  for (int i = 0; i < f->ncols; i++) {
    int c = i;
    bytes += tsr__spill_bytes(f, 1, &c);
  }
  return bytes;
}

/* One side: its spill job (every column; keys by the key columns). */
typedef struct side {
  tsr__spill_job job;
  uint64_t **key_hash; /* nkeys: a dictionary key's code -> its string's hash */
  int64_t *start;      /* nchunks + 1: the first global row of each chunk */
  int64_t total;
} side;

static void side_free(tsr_ctx *ctx, side *s, int nkeys) {
  tsr__spill_close(&s->job.in);
  for (int k = 0; k < nkeys && s->key_hash != NULL; k++)
    tsr_free(ctx, s->key_hash[k]);
  tsr_free(ctx, s->key_hash);
  tsr_free(ctx, s->job.cols);
  tsr_free(ctx, s->job.key_in);
  tsr_free(ctx, s->job.refs);
  tsr_free(ctx, s->job.widths);
  tsr_free(ctx, s->job.str);
  tsr_free(ctx, s->job.recs);
  tsr_free(ctx, s->job.rdcap);
  tsr_free(ctx, s->job.rows);
  tsr_free(ctx, s->start);
}

/* The local set-up of side_partition. */
static tsr_status side_prepare(tsr_ctx *ctx, tsr_frame *f, int nkeys, const int *kcol, int bits,
                               side *s) {
  tsr__spill_job *job = &s->job;
  job->ctx = ctx;
  job->fn = fn;
  job->f = f;
  job->nkeys = nkeys;
  job->ncols = f->ncols;
  job->nchunks = f->rows->nchunks;
  job->bits = bits;
  job->nparts = INT64_C(1) << bits;
  const int64_t nc = job->nchunks, P = job->nparts;
  TSR_TRY(tsr_calloc(ctx, (size_t)f->ncols + 1, sizeof *job->cols, (void **)&job->cols));
  TSR_TRY(tsr_calloc(ctx, (size_t)nkeys, sizeof *job->key_in, (void **)&job->key_in));
  TSR_TRY(tsr_calloc(ctx, (size_t)nkeys, sizeof *s->key_hash, (void **)&s->key_hash));
  TSR_TRY(tsr_calloc(ctx, (size_t)f->ncols + 1, sizeof *job->widths, (void **)&job->widths));
  TSR_TRY(tsr_calloc(ctx, (size_t)f->ncols + 1, sizeof *job->str, (void **)&job->str));
  for (int i = 0; i < f->ncols; i++) {
    job->cols[i] = i;
    job->widths[i] = tsr_type_width(f->cols[i].type);
    job->str[i] = f->cols[i].type.id == TSR_COL_STRING;
  }
  job->widths[f->ncols] = sizeof(int64_t);
  for (int k = 0; k < nkeys; k++) {
    job->key_in[k] = kcol[k];
    const tsr__dict *d = f->cols[kcol[k]].dict;
    if (f->cols[kcol[k]].type.id != TSR_COL_DICT || d == NULL)
      continue;
    TSR_TRY(tsr__alloc_array(ctx, (size_t)d->size + 1, sizeof(uint64_t), "dictionary hashes",
                             (void **)&s->key_hash[k]));
    for (int64_t i = 0; i < d->size; i++) {
      size_t len;
      const char *str = tsr__dict_str(d, i, &len);
      s->key_hash[k][i] = tsr__spill_hash_bytes(str, (uint32_t)len);
    }
  }
  job->key_hash = (const uint64_t *const *)s->key_hash;
  TSR_TRY(tsr__alloc_array(ctx, (size_t)P * (size_t)nc + 1, sizeof *job->recs, "spilled partitions",
                           (void **)&job->recs));
  memset(job->recs, 0, ((size_t)P * (size_t)nc + 1) * sizeof *job->recs);
  TSR_TRY(tsr_calloc(ctx, (size_t)nc + 1, sizeof *job->rows, (void **)&job->rows));
  TSR_TRY(tsr_calloc(ctx, (size_t)P * (size_t)nc * (size_t)(f->ncols + 1) + 1, sizeof *job->rdcap,
                     (void **)&job->rdcap));
  TSR_TRY(tsr_calloc(ctx, (size_t)nc + 2, sizeof *s->start, (void **)&s->start));
  return tsr__spill_open(&job->in, fn);
}

/* Partitions f (its key columns kcol[0..nkeys)) into 2^bits partitions
 * (under MPI, each rank the chunks it owns; spill.c shares the counts). */
static tsr_status side_partition(tsr_ctx *ctx, tsr_frame *f, int nkeys, const int *kcol, int bits,
                                 side *s) {
  tsr_status st;
  STEP(side_prepare(ctx, f, nkeys, kcol, bits, s));
  TSR_TRY(tsr__spill_partition(&s->job)); /* agreed */
  const int64_t nc = s->job.nchunks;
  for (int64_t c = 0; c < nc; c++)
    s->start[c + 1] = s->start[c] + s->job.rows[c];
  s->total = s->start[nc];
fail:
  return st;
}

/* What the last step freed goes back to the system, so that the next
 * one's peak is not added to blocks the allocator and the C library keep. */
static void release(tsr_ctx *ctx) {
  tsr__alloc_release_cache(&ctx->alloc);
  malloc_trim(0);
}

/* ---- the job ------------------------------------------------------------------------------- */

typedef struct job {
  tsr_ctx *ctx;
  tsr_join_kind kind;
  int nkeys;
  const char *const *left_on, *const *right_on;
  const tsr_join_options *options;
  side s[2];
  char rowname[2][64]; /* the row number columns of each side */
  int64_t nl, nout;    /* left chunks, result chunks */
  uint64_t piece;      /* a piece's bytes at most */
  int pieced;          /* partitions joined in pieces */
  uint8_t *mark[2];    /* pieces: the left (right) rows that matched, by global row */
  tsr__spill_out o;
  int *pick;     /* o.ncols - 1: the joined frame's columns kept */
  int rowcol[2]; /* the joined frame's row number columns (-1: none) */
} job;

static bool mark_get(const uint8_t *m, int64_t i) { return (m[i >> 3] >> (i & 7)) & 1; }
static void mark_set(uint8_t *m, int64_t i) { m[i >> 3] |= (uint8_t)(1u << (i & 7)); }

/* The global row of row number x of side s. */
static int64_t global_row(const job *J, int s, int64_t x) {
  return J->s[s].start[(uint64_t)x >> 32] + (int64_t)(uint32_t)x;
}

/* The runs' columns, from the first joined frame: every column but the
 * row numbers, then the left row number (standing for the row number). */
static tsr_status out_prepare(job *J, tsr_frame *r) {
  tsr_ctx *ctx = J->ctx;
  const int n = tsr_frame_ncols(r);
  J->rowcol[0] = tsr_frame_col_index(r, J->rowname[0]);
  J->rowcol[1] = tsr_frame_col_index(r, J->rowname[1]);
  TSR_CHECK(J->rowcol[0] >= 0, TSR_EINVAL, "%s: the partition's row numbers went missing", fn);
  const char **names = NULL;
  tsr_frame *sel = NULL;
  tsr_status st = TSR_OK;
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)n + 1, sizeof *names, (void **)&names));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)n + 1, sizeof *J->pick, (void **)&J->pick));
  int m = 0;
  for (int i = 0; i < n; i++)
    if (i != J->rowcol[0] && i != J->rowcol[1]) {
      J->pick[m] = i;
      names[m++] = r->cols[i].name;
    }
  names[m] = J->rowname[0];
  TSR__TRY_GOTO(st, tsr_frame_select(r, m + 1, names, &sel));
  TSR__TRY_GOTO(st, tsr__spill_out_init(ctx, &J->o, sel));
fail:
  tsr_frame_destroy(&sel);
  tsr_free(ctx, names);
  return st;
}

/* What to keep of a joined frame's rows. */
typedef enum keep {
  KEEP_ALL,       /* every row */
  KEEP_MATCHED,   /* pieces: rows with both sides (marking them), or marking only (semi) */
  KEEP_UNMATCHED, /* pieces, with an empty side: rows whose own side's row was never marked */
  KEEP_MARKED     /* pieces (semi), with an empty right: left rows marked */
} keep;

/* Joins lf with rf (kind) and writes the kept rows of every output chunk
 * as runs. */
static tsr_status write_runs(job *J, const tsr_frame_result *res, tsr_join_kind kind, keep how);

static tsr_status join_write(job *J, tsr_frame *lf, tsr_frame *rf, tsr_join_kind kind, keep how) {
  tsr_ctx *ctx = J->ctx;
  tsr_frame *r = NULL;
  tsr_frame_result *res = NULL;
  tsr_status st = TSR_OK;
  TSR__TRY_GOTO(st, tsr__join_memory(lf, rf, kind, J->nkeys, J->left_on, J->right_on, J->options,
                                     &r)); /* agreed */
  STEP(J->o.names == NULL ? out_prepare(J, r) : TSR_OK);
  TSR__TRY_GOTO(st, tsr_frame_compute(r, NULL, &res)); /* agreed */
  st = write_runs(J, res, kind, how);
  STEP(st);
fail:
  tsr_frame_result_destroy(&res);
  tsr_frame_destroy(&r);
  return st;
}

/* join_write's runs from the joined frame's result (local). */
static tsr_status write_runs(job *J, const tsr_frame_result *res, tsr_join_kind kind, keep how) {
  tsr_ctx *ctx = J->ctx;
  tsr__colread *src = NULL;
  int32_t *sel = NULL;
  tsr_status st = TSR_OK;
  const int n = J->o.ncols;
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)n, sizeof *src, (void **)&src));
  const int64_t nch = tsr_frame_result_nchunks(res);
  for (int64_t c = 0; c < nch; c++) {
    const int sd = c < J->nl ? 0 : 1; /* the side numbering this chunk's rows */
    for (int i = 0; i < n; i++) {
      int col = i < n - 1 ? J->pick[i] : J->rowcol[sd];
      tsr_column_chunk cc;
      TSR__TRY_GOTO(st, tsr_frame_result_chunk(res, col, c, &cc));
      src[i] =
          (tsr__colread){cc.rows, cc.null_count, cc.values, cc.validity, cc.data, cc.data_bytes};
    }
    const int64_t rows = src[0].rows;
    if (rows == 0)
      continue;
    if (how == KEEP_ALL) {
      TSR__TRY_GOTO(st, tsr__spill_write_run(ctx, &J->o, src, NULL, 0, rows, c));
      continue;
    }
    /* Pieces: the rows to keep, by the row numbers of both sides. */
    tsr__colread num[2];
    for (int s = 0; s < 2; s++) {
      memset(&num[s], 0, sizeof num[s]);
      if (J->rowcol[s] < 0)
        continue;
      tsr_column_chunk cc;
      TSR__TRY_GOTO(st, tsr_frame_result_chunk(res, J->rowcol[s], c, &cc));
      num[s] =
          (tsr__colread){cc.rows, cc.null_count, cc.values, cc.validity, cc.data, cc.data_bytes};
    }
#define HAS(s, i) \
  (num[s].values != NULL && (num[s].validity == NULL || tsr__bit_get(num[s].validity, i)))
#define ROW(s, i) global_row(J, s, ((const int64_t *)num[s].values)[i])
    TSR__TRY_GOTO(st, tsr_alloc(ctx, (size_t)rows * sizeof *sel + 4, (void **)&sel));
    int64_t m = 0;
    for (int64_t i = 0; i < rows; i++) {
      bool both = HAS(0, i) && HAS(1, i), take = false;
      switch (how) {
      case KEEP_MATCHED:
        if (kind == TSR_JOIN_SEMI) {
          mark_set(J->mark[0], ROW(0, i));
        } else if (both) {
          mark_set(J->mark[0], ROW(0, i));
          if (J->mark[1] != NULL)
            mark_set(J->mark[1], ROW(1, i));
          take = true;
        }
        break;
      case KEEP_UNMATCHED:
        take = HAS(sd, i) && !mark_get(J->mark[sd], ROW(sd, i));
        break;
      case KEEP_MARKED:
        take = HAS(0, i) && mark_get(J->mark[0], ROW(0, i));
        break;
      case KEEP_ALL:
        break;
      }
      if (take)
        sel[m++] = (int32_t)i;
    }
#undef HAS
#undef ROW
    if (m > 0)
      TSR__TRY_GOTO(st, tsr__spill_write_run(ctx, &J->o, src, sel, 0, m, c));
    tsr_free(ctx, sel);
    sel = NULL;
  }
fail:
  tsr_free(ctx, sel);
  tsr_free(ctx, src);
  return st;
}

/* Partition p of side s as a frame, its chunks outside [c0, c1) empty. */
static tsr_status part_frame(job *J, int s, int64_t p, int64_t c0, int64_t c1, tsr_frame **out) {
  tsr_ctx *ctx = J->ctx;
  tsr_status st;
  STEP(tsr__spill_partition_frame(&J->s[s].job, p, c0, c1, J->rowname[s], out));
fail:
  return st;
}

/* Bytes of partition p's chunks [c0, c1) on side s. */
static uint64_t part_bytes(const job *J, int s, int64_t p, int64_t c0, int64_t c1) {
  const tsr__spill_job *jb = &J->s[s].job;
  uint64_t b = 0;
  for (int64_t c = c0; c < c1; c++)
    b += jb->recs[p * jb->nchunks + c].bytes;
  return b;
}

/* The end of the piece of partition p on side s that starts at chunk c0. */
static int64_t piece_end(const job *J, int s, int64_t p, int64_t c0) {
  const int64_t nc = J->s[s].job.nchunks;
  int64_t c1 = c0 + 1;
  uint64_t b = part_bytes(J, s, p, c0, c1);
  while (c1 < nc && b + part_bytes(J, s, p, c1, c1 + 1) <= J->piece)
    b += part_bytes(J, s, p, c1, c1 + 1), c1++;
  return c1;
}

/* Partition p joined in pieces (see the top of the file). */
static tsr_status join_pieces(job *J, int64_t p) {
  J->pieced++;
  const int64_t nc[2] = {J->s[0].job.nchunks, J->s[1].job.nchunks};
  const tsr_join_kind kind = J->kind;
  const bool semi = kind == TSR_JOIN_SEMI || kind == TSR_JOIN_ANTI;
  const tsr_join_kind pk = semi ? TSR_JOIN_SEMI : kind;
  tsr_frame *lf = NULL, *rf = NULL;
  tsr_status st = TSR_OK;
  tsr__log(J->ctx, TSR_LOG_INFO, "%s: partition %lld (%llu + %llu bytes) joined in pieces", fn,
           (long long)p, (unsigned long long)part_bytes(J, 0, p, 0, nc[0]),
           (unsigned long long)part_bytes(J, 1, p, 0, nc[1]));
  for (int64_t l0 = 0, l1; l0 < nc[0]; l0 = l1) {
    l1 = piece_end(J, 0, p, l0);
    TSR__TRY_GOTO(st, part_frame(J, 0, p, l0, l1, &lf));
    for (int64_t r0 = 0, r1; r0 < nc[1]; r0 = r1) {
      r1 = piece_end(J, 1, p, r0);
      TSR__TRY_GOTO(st, part_frame(J, 1, p, r0, r1, &rf));
      TSR__TRY_GOTO(st, join_write(J, lf, rf, pk, KEEP_MATCHED));
      tsr_frame_destroy(&rf);
    }
    tsr_frame_destroy(&lf);
  }
  /* The unmatched rows the kind keeps, from joins with an empty side. */
  if (kind == TSR_JOIN_LEFT || kind == TSR_JOIN_FULL || semi) {
    TSR__TRY_GOTO(st, part_frame(J, 1, p, 0, 0, &rf));
    for (int64_t l0 = 0, l1; l0 < nc[0]; l0 = l1) {
      l1 = piece_end(J, 0, p, l0);
      TSR__TRY_GOTO(st, part_frame(J, 0, p, l0, l1, &lf));
      TSR__TRY_GOTO(st, join_write(J, lf, rf, semi ? TSR_JOIN_ANTI : kind,
                                   kind == TSR_JOIN_SEMI ? KEEP_MARKED : KEEP_UNMATCHED));
      tsr_frame_destroy(&lf);
    }
    tsr_frame_destroy(&rf);
  }
  if (kind == TSR_JOIN_RIGHT || kind == TSR_JOIN_FULL) {
    TSR__TRY_GOTO(st, part_frame(J, 0, p, 0, 0, &lf));
    for (int64_t r0 = 0, r1; r0 < nc[1]; r0 = r1) {
      r1 = piece_end(J, 1, p, r0);
      TSR__TRY_GOTO(st, part_frame(J, 1, p, r0, r1, &rf));
      TSR__TRY_GOTO(st, join_write(J, lf, rf, kind, KEEP_UNMATCHED));
      tsr_frame_destroy(&rf);
    }
    tsr_frame_destroy(&lf);
  }
fail:
  tsr_frame_destroy(&lf);
  tsr_frame_destroy(&rf);
  return st;
}

/* Partition p: joined whole, or in pieces when larger than two pieces. */
static tsr_status join_partition(job *J, int64_t p) {
  const int64_t nc[2] = {J->s[0].job.nchunks, J->s[1].job.nchunks};
  if (part_bytes(J, 0, p, 0, nc[0]) + part_bytes(J, 1, p, 0, nc[1]) > 2 * J->piece)
    return join_pieces(J, p);
  tsr_frame *lf = NULL, *rf = NULL;
  tsr_status st = TSR_OK;
  TSR__TRY_GOTO(st, part_frame(J, 0, p, 0, nc[0], &lf));
  TSR__TRY_GOTO(st, part_frame(J, 1, p, 0, nc[1], &rf));
  st = join_write(J, lf, rf, J->kind, KEEP_ALL);
fail:
  tsr_frame_destroy(&lf);
  tsr_frame_destroy(&rf);
  return st;
}

tsr_status tsr__join_spill(tsr_frame *left, tsr_frame *right, tsr_join_kind kind, int nkeys,
                           const char *const *left_on, const char *const *right_on,
                           const tsr_join_options *options, int npartitions, uint64_t piece_bytes,
                           int *used, int *pieced, tsr_frame **out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(left != NULL && right != NULL, TSR_EINVAL, "%s: the %s frame is NULL", fn,
            left == NULL ? "left" : "right");
  TSR_CHECK(left->ctx == right->ctx, TSR_EINVAL, "%s: the frames belong to different contexts", fn);
  TSR_CHECK(kind >= TSR_JOIN_INNER && kind <= TSR_JOIN_ANTI, TSR_EINVAL,
            "%s: %d is not a tsr_join_kind", fn, (int)kind);
  TSR_CHECK(nkeys >= 1 && nkeys <= 64 && left_on != NULL, TSR_EINVAL,
            "%s: nkeys = %d with left_on %s (1 to 64 keys)", fn, nkeys, left_on ? "given" : "NULL");
  TSR_CHECK(npartitions >= 0 && npartitions <= TSR__SPILL_MAX_PARTITIONS, TSR_EINVAL,
            "%s: %d partitions (0..%d)", fn, npartitions, TSR__SPILL_MAX_PARTITIONS);
  tsr_ctx *ctx = left->ctx;
  job J;
  memset(&J, 0, sizeof J);
  J.ctx = ctx;
  J.kind = kind;
  J.nkeys = nkeys;
  J.left_on = left_on;
  J.right_on = right_on != NULL ? right_on : left_on;
  J.options = options;
  J.s[0].job.in.fd = J.s[1].job.in.fd = -1;
  J.o.file.fd = -1;
  int kcol[2][64];
  int64_t *in_rows = NULL;
  char **names = NULL;
  tsr_status st = TSR_OK;
  for (int k = 0; k < nkeys; k++) {
    TSR__CHECK_GOTO(st, left_on[k] != NULL && J.right_on[k] != NULL, TSR_EINVAL,
                    "%s: the name of key %d is NULL", fn, k);
    TSR__TRY_GOTO(st, tsr__frame_find(left, fn, left_on[k], &kcol[0][k]));
    TSR__TRY_GOTO(st, tsr__frame_find(right, fn, J.right_on[k], &kcol[1][k]));
  }
  /* Row number columns named as no column of either side. */
  STEP(tsr_calloc(ctx, (size_t)(left->ncols + right->ncols) + 2, sizeof *names, (void **)&names));
  int nn = 0;
  for (int i = 0; i < left->ncols; i++)
    names[nn++] = left->cols[i].name;
  for (int i = 0; i < right->ncols; i++)
    names[nn++] = right->cols[i].name;
  tsr__spill_fresh_name("__tessera_left_row", names, nn, J.rowname[0], sizeof J.rowname[0]);
  names[nn++] = J.rowname[0];
  tsr__spill_fresh_name("__tessera_right_row", names, nn, J.rowname[1], sizeof J.rowname[1]);
  /* Partitions and pieces for the limit (under MPI, of the rank with the
   * least memory to spare). */
  uint64_t bytes = tsr__join_spill_bytes(left) + tsr__join_spill_bytes(right);
  uint64_t avail = tsr__spill_avail(ctx);
  int64_t P = npartitions > 0 ? npartitions : tsr__spill_partitions(ctx, bytes, PART_SHARE);
  if (tsr_ctx_nranks(ctx) > 1) {
    tsr__dist *d = tsr__dist_get(ctx);
    uint64_t lo, hi;
    STEP(d == NULL ? tsr_error_set(TSR_EMPI, "%s: MPI is not available", fn)
                   : tsr__dist_minmax_u64(d, (uint64_t)P, &lo, &hi));
    P = (int64_t)hi;
    STEP(tsr__dist_minmax_u64(d, avail, &lo, &hi));
    avail = lo;
  }
  int bits = 0;
  while ((INT64_C(1) << bits) < P)
    bits++;
  P = INT64_C(1) << bits;
  if (used != NULL)
    *used = (int)P;
  if (pieced != NULL)
    *pieced = 0;
  J.piece = piece_bytes > 0 ? piece_bytes : avail > 0 ? avail / PART_SHARE : UINT64_MAX / 4;
  tsr__log(ctx, TSR_LOG_INFO, "%s: out of core in %lld partitions, pieces of %llu bytes", fn,
           (long long)P, (unsigned long long)J.piece);
  TSR__TRY_GOTO(st, side_partition(ctx, left, nkeys, kcol[0], bits, &J.s[0]));
  TSR__TRY_GOTO(st, side_partition(ctx, right, nkeys, kcol[1], bits, &J.s[1]));
  const bool right_rows = kind == TSR_JOIN_RIGHT || kind == TSR_JOIN_FULL;
  J.nl = J.s[0].job.nchunks;
  J.nout = J.nl + (right_rows ? J.s[1].job.nchunks : 0);
  st = tsr_calloc(ctx, (size_t)J.s[0].total / 8 + 1, 1, (void **)&J.mark[0]);
  if (st == TSR_OK && right_rows)
    st = tsr_calloc(ctx, (size_t)J.s[1].total / 8 + 1, 1, (void **)&J.mark[1]);
  if (st == TSR_OK)
    st = tsr_calloc(ctx, (size_t)J.nout + 1, sizeof *in_rows, (void **)&in_rows);
  STEP(st == TSR_OK ? tsr__spill_open(&J.o.file, fn) : st);
  if (tsr_ctx_nranks(ctx) > 1)
    J.o.nchunks = J.nout; /* each rank writes the runs of the result chunks it owns */
  for (int64_t p = 0; p < P; p++) {
    release(ctx);
    TSR__TRY_GOTO(st, join_partition(&J, p)); /* agreed */
  }
  release(ctx);
  for (int64_t c = 0; c < J.nout; c++)
    in_rows[c] = c < J.nl ? J.s[0].job.rows[c] : J.s[1].job.rows[c - J.nl];
  STEP(tsr__spill_result_frame(ctx, fn, J.nout, in_rows, &J.o, out));
  if (pieced != NULL)
    *pieced = J.pieced;
fail:
  if (st != TSR_OK)
    tsr_frame_destroy(out);
  if (st == TSR_ENOMEM) { /* say what did not fit */
    char why[512];
    snprintf(why, sizeof why, "%s", tsr_last_error());
    tsr_error_set(st,
                  "%s: out of core in %d partitions (pieces of at most %llu bytes a side), a "
                  "partition pair still does not fit the memory limit of %llu bytes (raise it): "
                  "%s",
                  fn, (int)(INT64_C(1) << J.s[0].job.bits), (unsigned long long)J.piece,
                  (unsigned long long)tsr_ctx_memory_limit(ctx), why);
  }
  side_free(ctx, &J.s[0], nkeys);
  side_free(ctx, &J.s[1], nkeys);
  tsr__spill_out_free(ctx, &J.o);
  tsr_free(ctx, J.pick);
  tsr_free(ctx, J.mark[0]);
  tsr_free(ctx, J.mark[1]);
  tsr_free(ctx, in_rows);
  tsr_free(ctx, names);
  return st;
}

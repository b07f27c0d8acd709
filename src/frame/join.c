/* join.c — tsr_frame_join: inner, left, right, full, semi and anti joins
 * on one or several keys of any type, and tsr_frame_join_asof (its own
 * phases in join_asof.c) (docs/frames.md, "Joins"; the plan in
 * join_impl.h).  This file checks the arguments, lays out the result's
 * columns (the keys once, then the left's and the right's other columns,
 * clashing names suffixed), runs the phases, and gathers the output: one
 * task per output chunk copies every column from the rows its pairs name
 * (fixed-width values by index, strings as views with their bytes copied
 * into the chunk, dictionary codes as they are or through a code map into
 * the merged dictionary of a right or full join's dictionary key).  The
 * result is a frame over the computed chunks, as the sort's.  The left's
 * columns of a left chunk's output come from that one chunk, by row.
 * Across MPI ranks the same phases run on what each rank holds (the right
 * side whole, the left's own chunks; join_dist.c), every step's status
 * agreed before the next. */
#include <malloc.h>
#include <string.h>

#include <tessera/dist.h>

#include "join_impl.h"

/* ---- gathering -------------------------------------------------------------------------- */

#define PREFETCH 16

/* Column `col` of side s into `out` for rows ref[0..n) (chunk << 32 | row,
 * TSR__JOIN_NONE: null; ref NULL: every row null); dictionary codes through
 * remap when given. */
static void gather_col(const tsr__sorter *s, int col, const uint64_t *ref, int64_t n,
                       const uint32_t *remap, tsr__colchunk *out) {
  const int nc = s->f->ncols;
  const tsr__colread *cr = s->cr + col;
  const tsr_type type = s->f->cols[col].type;
  void *dst = tsr__colchunk_values(out);
  out->rows = n;
  out->null_count = 0;
  if (n == 0)
    return;
  uint8_t *bits = tsr__colchunk_validity(out);
  if (ref == NULL) {
    memset(dst, 0, (size_t)n * tsr_type_width(type));
    memset(bits, 0, (size_t)(n + 7) / 8);
    out->null_count = n;
    return;
  }
#define NONE(k) (ref[k] == TSR__JOIN_NONE)
#define ROW(k) (ref[k] & 0xffffffffu)
#define CR(k) (&cr[(int64_t)(ref[k] >> 32) * nc])
  if (type.id == TSR_COL_STRING) {
    tsr_string_view *dv = dst;
    char *data = tsr__colchunk_data(out);
    uint64_t used = 0;
    for (int64_t k = 0; k < n; k++) {
      const tsr__colread *r = CR(k);
      uint64_t row = ROW(k);
      if (NONE(k) || (r->validity != NULL && !tsr__bit_get(r->validity, (int64_t)row))) {
        memset(&dv[k], 0, sizeof dv[k]);
        continue;
      }
      tsr_string_view v = ((const tsr_string_view *)r->values)[row];
      if (v.length > 12) {
        memcpy(data + used, r->data + v.u.ref.offset, v.length);
        v.u.ref.offset = (uint32_t)used;
        used += v.length;
      }
      dv[k] = v;
    }
    out->data_bytes = used;
  } else if (remap != NULL) {
    int32_t *d = dst;
    for (int64_t k = 0; k < n; k++) {
      const tsr__colread *r = CR(k);
      bool valid = !NONE(k) && (r->validity == NULL || tsr__bit_get(r->validity, (int64_t)ROW(k)));
      d[k] = valid ? (int32_t)remap[((const int32_t *)r->values)[ROW(k)]] : 0;
    }
  } else {
    switch (tsr_type_width(type)) {
#define G(W, T)                                                                   \
  case W: {                                                                       \
    T *d = dst;                                                                   \
    for (int64_t k = 0; k < n; k++) {                                             \
      if (k + PREFETCH < n && !NONE(k + PREFETCH))                                \
        __builtin_prefetch((const T *)CR(k + PREFETCH)->values + ROW(k + PREFETCH)); \
      d[k] = NONE(k) ? 0 : ((const T *)CR(k)->values)[ROW(k)];                    \
    }                                                                             \
    break;                                                                        \
  }
      G(1, uint8_t)
      G(2, uint16_t)
      G(4, uint32_t)
      G(8, uint64_t)
#undef G
    default:
      break;
    }
  }
  bool maybe_null = false; /* a missing row, or a source chunk with nulls */
  for (int64_t c = 0; c < s->nchunks && !maybe_null; c++)
    maybe_null = cr[c * nc].null_count > 0;
  for (int64_t k = 0; k < n && !maybe_null; k++)
    maybe_null = NONE(k);
  if (!maybe_null)
    return;
  int64_t nulls = 0;
  memset(bits, 0, (size_t)(n + 7) / 8);
  for (int64_t k = 0; k < n; k++) {
    bool v = !NONE(k);
    if (v) {
      const tsr__colread *r = CR(k);
      v = r->validity == NULL || tsr__bit_get(r->validity, (int64_t)ROW(k));
    }
    bits[k >> 3] |= (uint8_t)((unsigned)v << (k & 7));
    nulls += !v;
  }
  out->null_count = nulls;
#undef NONE
#undef ROW
#undef CR
}

/* Column `col` of chunk c of side s into `out` for rows rows[0..n) of
 * that chunk (the left side of a left chunk's output: one chunk, no
 * missing rows). */
static void gather_local(const tsr__sorter *s, int col, int64_t c, const uint32_t *rows,
                         int64_t n, tsr__colchunk *out) {
  const tsr__colread *r = &s->cr[c * s->f->ncols + col];
  const tsr_type type = s->f->cols[col].type;
  void *dst = tsr__colchunk_values(out);
  out->rows = n;
  out->null_count = 0;
  if (n == 0)
    return;
  if (type.id == TSR_COL_STRING) {
    tsr_string_view *dv = dst;
    const tsr_string_view *sv = r->values;
    char *data = tsr__colchunk_data(out);
    uint64_t used = 0;
    for (int64_t k = 0; k < n; k++) {
      tsr_string_view v = sv[rows[k]];
      if (r->validity != NULL && !tsr__bit_get(r->validity, rows[k]))
        memset(&v, 0, sizeof v);
      if (v.length > 12) {
        memcpy(data + used, r->data + v.u.ref.offset, v.length);
        v.u.ref.offset = (uint32_t)used;
        used += v.length;
      }
      dv[k] = v;
    }
    out->data_bytes = used;
  } else {
    switch (tsr_type_width(type)) {
#define G(W, T)                                                                   \
  case W: {                                                                       \
    T *d = dst;                                                                   \
    const T *v = r->values;                                                       \
    for (int64_t k = 0; k < n; k++)                                               \
      d[k] = v[rows[k]];                                                          \
    break;                                                                        \
  }
      G(1, uint8_t)
      G(2, uint16_t)
      G(4, uint32_t)
      G(8, uint64_t)
#undef G
    default:
      break;
    }
  }
  if (r->validity == NULL)
    return;
  uint8_t *bits = tsr__colchunk_validity(out);
  int64_t nulls = 0;
  memset(bits, 0, (size_t)(n + 7) / 8);
  for (int64_t k = 0; k < n; k++) {
    bool v = tsr__bit_get(r->validity, rows[k]);
    bits[k >> 3] |= (uint8_t)((unsigned)v << (k & 7));
    nulls += !v;
  }
  out->null_count = nulls;
}

/* The right rows of right chunk c that matched nothing, as refs; *n rows. */
static tsr_status unmatched_refs(const tsr__join *j, int64_t c, bool kernel, uint64_t **out,
                                 int64_t *n) {
  const tsr__sorter *rs = j->side[1];
  c += j->rbase;
  const int64_t rows = rs->rows[c], g0 = rs->row_start[c];
  size_t bytes = (size_t)rows * sizeof **out + 8;
  TSR_TRY(kernel ? tsr_kernel_alloc(j->ctx, bytes, (void **)out) : tsr_alloc(j->ctx, bytes, (void **)out));
  int64_t m = 0;
  for (int64_t i = 0; i < rows; i++)
    if (!j->matched[g0 + i])
      (*out)[m++] = (uint64_t)c << 32 | (uint64_t)i;
  *n = m;
  return TSR_OK;
}

typedef struct outnode {
  tsr__fnode base;
  const tsr__join *j;
} outnode;

static tsr_status gather_kernel(const tsr_kernel_call *call) {
  tsr__ftask t = tsr__ftask_of(call);
  const tsr__join *j = ((const outnode *)t.node->params)->j;
  tsr__ftask_init_output(call);
  const int64_t nl = j->side[0]->nchunks;
  uint64_t *lref = NULL, *un = NULL;
  const uint64_t *rref;
  int64_t n;
  bool right_rows = t.chunk >= nl; /* the unmatched right rows of a right chunk */
  if (!right_rows) {
    n = j->npairs[t.chunk];
    rref = j->rref[t.chunk];
    bool remapped = false;
    for (int o = 0; o < j->ncols; o++)
      remapped |= j->remap[2 * o] != NULL;
    if (remapped) {
      TSR_TRY(tsr_kernel_alloc(j->ctx, (size_t)n * sizeof *lref + 8, (void **)&lref));
      for (int64_t k = 0; k < n; k++)
        lref[k] = (uint64_t)t.chunk << 32 | j->lrow[t.chunk][k];
    }
  } else {
    TSR_TRY(unmatched_refs(j, t.chunk - nl, true, &un, &n));
    rref = un;
  }
  for (int o = 0; o < j->ncols; o++) {
    tsr__colchunk *out = tsr__tablechunk_col(call->output, (uint32_t)o);
    int sd = j->src_side[o];
    int lcol = sd == 2 ? j->keys[j->src_col[o]].col[0] : j->src_col[o];
    if (!right_rows && sd != 1 && j->remap[2 * o] == NULL) {
      gather_local(j->side[0], lcol, t.chunk, j->lrow[t.chunk], n, out);
    } else if (sd == 2) { /* a key: the left's value, or the right's for unmatched right rows */
      int side = right_rows ? 1 : 0;
      gather_col(j->side[side], j->keys[j->src_col[o]].col[side], side ? rref : lref, n,
                 j->remap[2 * o + side], out);
    } else {
      gather_col(j->side[sd], j->src_col[o], sd == 0 ? (right_rows ? NULL : lref) : rref, n,
                 j->remap[2 * o + sd], out);
    }
  }
  tsr_free(j->ctx, lref);
  tsr_free(j->ctx, un);
  return TSR_OK;
}

tsr_status tsr__join_gather_chunk(const tsr__expr *node, int64_t c, void *out, size_t bytes) {
  tsr__ftask t = {node, c};
  tsr_kernel_call call;
  memset(&call, 0, sizeof call);
  call.output = out;
  call.output_bytes = bytes;
  call.params = &t;
  call.params_bytes = sizeof t;
  return gather_kernel(&call);
}

static tsr_status lower_out(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                            uint32_t *out) {
  (void)in;
  uint32_t k;
  TSR_TRY(tsr_taskgraph_add_kernel(g, "frame_join_gather", gather_kernel, NULL, &k));
  int64_t n = tsr__fnode_of(e)->rows->nchunks;
  for (int64_t c = 0; c < n; c++) {
    tsr__ftask t = {e, c};
    uint64_t bytes;
    TSR_TRY(tsr__fnode_chunk_bytes(e, c, &bytes));
    TSR_TRY(tsr_taskgraph_add_task(g, k, NULL, 0, &t, sizeof t, (size_t)bytes, &out[c]));
  }
  return TSR_OK;
}

static const tsr__op op_out = {"frame_join", lower_out, tsr__fnode_destroy_params, false, NULL,
                               NULL};

/* ---- the result's columns ---------------------------------------------------------------- */

/* The union of two dictionaries (sorted) and each one's code map into it. */
static tsr_status merge_dicts(tsr_ctx *ctx, const tsr__dict *a, const tsr__dict *b,
                              tsr__dict **out, uint32_t **ma, uint32_t **mb) {
  int64_t n = a->size + b->size;
  int64_t *off = NULL;
  char *data = NULL;
  tsr_status status;
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)n + 2, sizeof *off, "dictionary",
                                         (void **)&off));
  TSR__TRY_GOTO(status, tsr_alloc(ctx, (size_t)(a->offsets[a->size] + b->offsets[b->size]) + 1,
                                  (void **)&data));
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)a->size + 1, sizeof **ma, "code map",
                                         (void **)ma));
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)b->size + 1, sizeof **mb, "code map",
                                         (void **)mb));
  int64_t i = 0, k = 0, m = 0;
  off[0] = 0;
  while (i < a->size || k < b->size) {
    size_t la = 0, lb = 0;
    const char *sa = i < a->size ? tsr__dict_str(a, i, &la) : NULL;
    const char *sb = k < b->size ? tsr__dict_str(b, k, &lb) : NULL;
    int c;
    if (sa == NULL)
      c = 1;
    else if (sb == NULL)
      c = -1;
    else {
      c = memcmp(sa, sb, la < lb ? la : lb);
      if (c == 0)
        c = la < lb ? -1 : la > lb ? 1 : 0;
    }
    const char *s = c <= 0 ? sa : sb;
    size_t l = c <= 0 ? la : lb;
    memcpy(data + off[m], s, l);
    off[m + 1] = off[m] + (int64_t)l;
    if (c <= 0)
      (*ma)[i++] = (uint32_t)m;
    if (c >= 0)
      (*mb)[k++] = (uint32_t)m;
    m++;
  }
  status = tsr__dict_create(ctx, "tsr_frame_join: the merged dictionary", m, off, data, out);
fail:
  tsr_free(ctx, off);
  tsr_free(ctx, data);
  return status;
}

static tsr_status name_with(tsr_ctx *ctx, const char *name, const char *suffix, char **out) {
  size_t a = strlen(name), b = strlen(suffix);
  TSR_TRY(tsr_alloc(ctx, a + b + 1, (void **)out));
  memcpy(*out, name, a);
  memcpy(*out + a, suffix, b + 1);
  return TSR_OK;
}

typedef struct layout {
  tsr__col *cols; /* names owned (tsr_alloc), dicts one reference each */
  tsr__dict **merged;
} layout;

static void layout_free(tsr_ctx *ctx, layout *L, int n) {
  if (L->cols != NULL)
    for (int i = 0; i < n; i++) {
      tsr_free(ctx, L->cols[i].name);
      tsr__dict_release(&L->cols[i].dict);
    }
  tsr_free(ctx, L->cols);
}

static bool is_key(const tsr__join *j, int side, int col) {
  if (j->asof && j->on[side] == col)
    return true;
  for (int k = 0; k < j->nkeys; k++)
    if (j->keys[k].col[side] == col)
      return true;
  return false;
}

/* The output columns: sources, names, types, dictionaries. */
static tsr_status make_layout(tsr__join *j, const char *suffix_l, const char *suffix_r,
                              layout *L) {
  tsr_ctx *ctx = j->ctx;
  const tsr_frame *lf = j->side[0]->f, *rf = j->side[1]->f;
  bool semi = j->kind == TSR_JOIN_SEMI || j->kind == TSR_JOIN_ANTI;
  bool coalesce = j->kind == TSR_JOIN_RIGHT || j->kind == TSR_JOIN_FULL;
  int max = lf->ncols + rf->ncols;
  TSR_TRY(tsr_calloc(ctx, (size_t)max + 1, sizeof *j->src_side, (void **)&j->src_side));
  TSR_TRY(tsr_calloc(ctx, (size_t)max + 1, sizeof *j->src_col, (void **)&j->src_col));
  TSR_TRY(tsr_calloc(ctx, 2 * (size_t)max + 1, sizeof *j->remap, (void **)&j->remap));
  TSR_TRY(tsr_calloc(ctx, (size_t)max + 1, sizeof *L->cols, (void **)&L->cols));
  int n = 0;
  if (semi || j->asof) {
    for (int i = 0; i < lf->ncols; i++) {
      j->src_side[n] = 0;
      j->src_col[n] = i;
      L->cols[n] = lf->cols[i];
      L->cols[n].name = NULL;
      L->cols[n].dict = NULL;
      j->ncols = ++n;
      TSR_TRY(tsr__strdup(ctx, lf->cols[i].name, &L->cols[n - 1].name));
      if (lf->cols[i].dict) {
        tsr__dict_retain(lf->cols[i].dict);
        L->cols[n - 1].dict = lf->cols[i].dict;
      }
    }
    if (semi)
      return TSR_OK;
  }
  /* Keys (a column listed as two keys appears once). */
  for (int k = 0; k < j->nkeys && !j->asof; k++) {
    bool dup = false;
    for (int q = 0; q < k; q++)
      dup |= j->keys[q].col[0] == j->keys[k].col[0];
    if (dup)
      continue;
    const tsr__col *lc = &lf->cols[j->keys[k].col[0]], *rc = &rf->cols[j->keys[k].col[1]];
    if (coalesce)
      TSR_CHECK(lc->type.id == rc->type.id && lc->type.unit == rc->type.unit, TSR_EINVAL,
                "%s: key %d: a right or full join gives one key column holding both sides' "
                "values, but left '%s' is %s and right '%s' is %s (cast one side with "
                "tsr_frame_cast)",
                j->fn, k, lc->name, tsr_type_name(lc->type), rc->name, tsr_type_name(rc->type));
    j->src_side[n] = 2;
    j->src_col[n] = k;
    L->cols[n].type = lc->type;
    j->ncols = n + 1;
    TSR_TRY(tsr__strdup(ctx, lc->name, &L->cols[n].name));
    if (lc->type.id == TSR_COL_DICT) {
      if (coalesce)
        TSR_TRY(merge_dicts(ctx, lc->dict, rc->dict, &L->cols[n].dict, &j->remap[2 * n],
                            &j->remap[2 * n + 1]));
      else {
        tsr__dict_retain(lc->dict);
        L->cols[n].dict = lc->dict;
      }
    }
    n++;
  }
  int nkeycols = n;
  for (int side = j->asof ? 1 : 0; side < 2; side++) {
    const tsr_frame *f = side ? rf : lf, *other = side ? lf : rf;
    for (int i = 0; i < f->ncols; i++) {
      if (is_key(j, side, i))
        continue;
      const char *name = f->cols[i].name;
      int oi = tsr_frame_col_index(other, name);
      bool clash = oi >= 0 && (j->asof || !is_key(j, !side, oi));
      for (int q = 0; q < nkeycols && side == 1; q++)
        clash |= strcmp(L->cols[q].name, name) == 0;
      j->src_side[n] = side;
      j->src_col[n] = i;
      L->cols[n].type = f->cols[i].type;
      j->ncols = n + 1;
      if (clash && j->asof && oi >= 0) { /* the left's column of that name too */
        char *renamed;
        TSR_TRY(name_with(ctx, name, suffix_l, &renamed));
        tsr_free(ctx, L->cols[oi].name);
        L->cols[oi].name = renamed;
      }
      if (clash)
        TSR_TRY(name_with(ctx, name, side ? suffix_r : suffix_l, &L->cols[n].name));
      else
        TSR_TRY(tsr__strdup(ctx, name, &L->cols[n].name));
      if (f->cols[i].dict) {
        tsr__dict_retain(f->cols[i].dict);
        L->cols[n].dict = f->cols[i].dict;
      }
      n++;
    }
  }
  for (int a = 0; a < n; a++)
    for (int b = a + 1; b < n; b++)
      TSR_CHECK(strcmp(L->cols[a].name, L->cols[b].name) != 0, TSR_EINVAL,
                "%s: the result would have two columns named '%s' (choose other suffixes)",
                j->fn, L->cols[a].name);
  return TSR_OK;
}

/* ---- the join ------------------------------------------------------------------------------ */

static void join_free(tsr__join *j) {
  tsr_ctx *ctx = j->ctx;
  tsr__join_keys_free(j);
  tsr__join_asof_free(j);
  tsr_free(ctx, j->keys);
  for (int s = 0; s < 2; s++) {
    tsr_free(ctx, j->words[s]);
    tsr_free(ctx, j->ok[s]);
  }
  tsr_free(ctx, j->head);
  tsr_free(ctx, j->tag);
  tsr_free(ctx, j->rrows);
  tsr_free(ctx, j->matched);
  if (j->lrow != NULL)
    for (int64_t c = 0; c < j->side[0]->nchunks; c++) {
      tsr_free(ctx, j->lrow[c]);
      tsr_free(ctx, j->rref[c]);
    }
  tsr_free(ctx, j->lrow);
  tsr_free(ctx, j->rref);
  tsr_free(ctx, j->npairs);
  tsr_free(ctx, j->src_side);
  tsr_free(ctx, j->src_col);
  if (j->remap != NULL)
    for (int i = 0; i < 2 * j->ncols; i++)
      tsr_free(ctx, j->remap[i]);
  tsr_free(ctx, j->remap);
  tsr_free(ctx, j->str_bytes);
  tsr__join_dist_free(j);
  tsr__sorter_destroy(&j->side[0]);
  tsr__sorter_destroy(&j->side[1]);
}

/* The output frame: chunk counts and string capacities, then the gather. */
static tsr_status output(tsr__join *j, layout *L, tsr_frame **out) {
  tsr_ctx *ctx = j->ctx;
  const tsr__sorter *ls = j->side[0], *rs = j->side[1];
  const int64_t nl = ls->nchunks;
  const int64_t nr = j->matched != NULL ? rs->nchunks - j->rbase : 0;
  const int64_t nout = nl + nr;
  const int nc = j->ncols;
  int64_t *counts = NULL, *data_cap = NULL;
  tsr_type *types = NULL;
  tsr__rows *rows = NULL;
  tsr__expr *node = NULL;
  tsr_frame *lazy = NULL;
  uint64_t *un = NULL;
  /* Shuffle right and full joins share the unmatched rows' sizes: a rank's
   * failure before that meets its first agreement.  Everything else here is
   * this rank's own work, its status agreed by the caller (STEP). */
  const bool share = j->shuffle && nr > 0;
  bool shared = false;
  tsr_status status;
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)nout + 1, sizeof *counts, "row counts",
                                         (void **)&counts));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nc * (size_t)nout + 1, sizeof *data_cap,
                                   (void **)&data_cap));
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)nc + 1, sizeof *types, "types",
                                         (void **)&types));
  for (int o = 0; o < nc; o++)
    types[o] = L->cols[o].type;
  for (int64_t c = 0; c < nl; c++) {
    counts[c] = j->npairs[c];
    for (int o = 0; o < nc; o++)
      data_cap[(int64_t)o * nout + c] = j->str_bytes[c * nc + o];
  }
  for (int64_t c = 0; c < nr; c++) {
    int64_t n;
    TSR__TRY_GOTO(status, unmatched_refs(j, c, false, &un, &n));
    counts[nl + c] = n;
    for (int o = 0; o < nc; o++) {
      int sd = j->src_side[o];
      if (sd == 0 || types[o].id != TSR_COL_STRING)
        continue;
      int col = sd == 2 ? j->keys[j->src_col[o]].col[1] : j->src_col[o];
      int64_t sum = 0;
      const int rnc = rs->f->ncols;
      for (int64_t k = 0; k < n; k++) {
        const tsr__colread *r = &rs->cr[(j->rbase + c) * rnc + col];
        int64_t row = (int64_t)(un[k] & 0xffffffffu);
        if (r->validity != NULL && !tsr__bit_get(r->validity, row))
          continue;
        uint32_t len = ((const tsr_string_view *)r->values)[row].length;
        sum += len > 12 ? len : 0;
      }
      data_cap[(int64_t)o * nout + nl + c] = sum;
    }
    tsr_free(ctx, un);
    un = NULL;
  }
  if (share) {     /* each right chunk's unmatched rows are its owner's */
    shared = true; /* (it agrees first) */
    TSR__TRY_GOTO(status, tsr__join_dist_share_right(j, nl, nr, nc, counts, data_cap));
  }
  TSR__TRY_GOTO(status, tsr__rows_create(ctx, nout, counts, counts, &rows));
  outnode *p;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, 1, sizeof *p, (void **)&p));
  p->j = j;
  TSR__TRY_GOTO(status,
                tsr__fnode_create(ctx, &op_out, rows, (uint32_t)nc, types, data_cap, 0, NULL, p,
                                  &node));
  if (j->dist) { /* each rank gathers the chunks it owns and holds them */
    TSR__TRY_GOTO(status, tsr__join_dist_output(j, node, nout, counts, data_cap, nc, L->cols, out));
    goto fail;
  }
  for (int o = 0; o < nc; o++) {
    L->cols[o].node = node;
    L->cols[o].slot = (uint32_t)o;
    L->cols[o].raw = false;
  }
  TSR__TRY_GOTO(status, tsr__frame_make(ctx, nc, L->cols, rows, &lazy));
  TSR__TRY_GOTO(status, tsr_frame_persist(lazy, NULL, out));
fail:
  if (share && !shared) /* as the other ranks, before they share */
    status = tsr_ctx_agree(ctx, status);
  for (int o = 0; o < nc && L->cols != NULL; o++)
    L->cols[o].node = NULL;
  tsr_free(ctx, un);
  tsr_frame_destroy(&lazy);
  tsr__expr_release(&node);
  tsr__rows_release(&rows);
  tsr_free(ctx, types);
  tsr_free(ctx, data_cap);
  tsr_free(ctx, counts);
  return status;
}

/* A step of a join: its status, agreed between ranks under MPI. */
#define STEP(expr) TSR__AGREED_GOTO(status, ctx, expr)
/* A step of this rank's own work, which says nothing to the other ranks:
 * skipped once a step here failed.  AGREED() then makes that failure every
 * rank's before the next step that talks (one agreement for the run of
 * local steps, not one each: each is a point where every rank waits for
 * the slowest). */
#define LOCAL(expr)       \
  do {                    \
    if (status == TSR_OK) \
      status = (expr);    \
  } while (0)
#define AGREED() TSR__AGREED_GOTO(status, ctx, status)

static tsr_status check_rows(const tsr__join *j) {
  for (int s = 0; s < 2; s++)
    for (int64_t c = 0; j->side[s]->rows != NULL && c < j->side[s]->nchunks; c++)
      TSR_CHECK(j->side[s]->rows[c] <= (int64_t)UINT32_MAX, TSR_EINVAL,
                "%s: row chunk %lld of the %s frame has more than 2^32 - 1 rows", j->fn,
                (long long)c, s ? "right" : "left");
  return TSR_OK;
}

/* The probe's per-left-chunk results (and the right rows matched). */
static tsr_status probe_arrays(tsr__join *j) {
  tsr_ctx *ctx = j->ctx;
  const int64_t nl = j->side[0]->nchunks;
  if (!j->asof && (j->kind == TSR_JOIN_RIGHT || j->kind == TSR_JOIN_FULL))
    TSR_TRY(tsr_calloc(ctx, (size_t)j->side[1]->total + 1, 1, (void **)&j->matched));
  TSR_TRY(tsr_calloc(ctx, (size_t)nl + 1, sizeof *j->npairs, (void **)&j->npairs));
  TSR_TRY(tsr_calloc(ctx, (size_t)nl + 1, sizeof *j->lrow, (void **)&j->lrow));
  TSR_TRY(tsr_calloc(ctx, (size_t)nl + 1, sizeof *j->rref, (void **)&j->rref));
  TSR_TRY(tsr_calloc(ctx, (size_t)nl * (size_t)j->ncols + 1, sizeof *j->str_bytes,
                     (void **)&j->str_bytes));
  return TSR_OK;
}

/* Computes in memory; under a memory limit, when the two sides take more
 * than IN_MEMORY_SHARE / 2 of the limit, or the in-memory join runs out of
 * IN_MEMORY_SHARE of it, out of core by spilled partitions instead
 * (join_spill.c).  As the group-by does (groupby.c), the in-memory attempt
 * runs with the limit lowered to that share, so that what it leaves behind
 * and the out-of-core run stay within the limit together.  Under MPI the
 * ranks spill together when every one has a limit: the sides' share of a
 * rank against the smallest limit, and the attempt's failure is agreed. */
#define IN_MEMORY_SHARE 0.75
tsr_status tsr_frame_join(tsr_frame *left, tsr_frame *right, tsr_join_kind kind, int nkeys,
                          const char *const *left_on, const char *const *right_on,
                          const tsr_join_options *options, tsr_frame **out) {
  tsr_ctx *ctx = left != NULL && right != NULL && left->ctx == right->ctx ? left->ctx : NULL;
  const uint64_t limit = tsr_ctx_memory_limit(ctx);
  const int nranks = tsr_ctx_nranks(ctx) > 1 ? tsr_ctx_nranks(ctx) : 1;
  uint64_t least = limit; /* under MPI the smallest limit, 0 when a rank has none */
  if (nranks > 1 && out != NULL) {
    uint64_t most;
    tsr__dist *d = tsr__dist_get(ctx);
    if (d == NULL || tsr__dist_minmax_u64(d, limit, &least, &most) != TSR_OK)
      least = 0;
  }
  if (least == 0 || out == NULL)
    return tsr__join_memory(left, right, kind, nkeys, left_on, right_on, options, out);
  uint64_t share = (uint64_t)((double)least * IN_MEMORY_SHARE);
  if ((tsr__join_spill_bytes(left) + tsr__join_spill_bytes(right)) / (uint64_t)nranks > share / 2)
    return tsr__join_spill(left, right, kind, nkeys, left_on, right_on, options, 0, 0, NULL, NULL,
                           out);
  bool lowered =
      tsr_ctx_set_memory_limit(ctx, (uint64_t)((double)limit * IN_MEMORY_SHARE)) == TSR_OK;
  tsr_status st = tsr__join_memory(left, right, kind, nkeys, left_on, right_on, options, out);
  tsr_status restored = lowered ? tsr_ctx_set_memory_limit(ctx, limit) : TSR_OK; /* was valid */
  if (st == TSR_OK && restored != TSR_OK)
    st = restored;
  if (st == TSR_ENOMEM) { /* agreed under MPI: every rank spills */
    /* What the attempt freed goes back to the system first. */
    tsr__alloc_release_cache(&ctx->alloc);
    malloc_trim(0);
    st = tsr__join_spill(left, right, kind, nkeys, left_on, right_on, options, 0, 0, NULL, NULL,
                         out);
  }
  return st;
}

tsr_status tsr__join_memory(tsr_frame *left, tsr_frame *right, tsr_join_kind kind, int nkeys,
                            const char *const *left_on, const char *const *right_on,
                            const tsr_join_options *options, tsr_frame **out) {
  static const char fn[] = "tsr_frame_join";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(left != NULL && right != NULL, TSR_EINVAL, "%s: the %s frame is NULL", fn,
            left == NULL ? "left" : "right");
  TSR_CHECK(left->ctx == right->ctx, TSR_EINVAL, "%s: the frames belong to different contexts",
            fn);
  TSR_CHECK(kind >= TSR_JOIN_INNER && kind <= TSR_JOIN_ANTI, TSR_EINVAL,
            "%s: %d is not a tsr_join_kind", fn, (int)kind);
  TSR_CHECK(nkeys >= 1 && nkeys <= 64 && left_on != NULL, TSR_EINVAL,
            "%s: nkeys = %d with left_on %s (1 to 64 keys)", fn, nkeys,
            left_on ? "given" : "NULL");
  const char *sl = options && options->suffix_left ? options->suffix_left : "_x";
  const char *sr = options && options->suffix_right ? options->suffix_right : "_y";
  tsr_ctx *ctx = left->ctx;
  tsr__join j;
  memset(&j, 0, sizeof j);
  j.ctx = ctx;
  j.fn = fn;
  j.kind = kind;
  j.nkeys = nkeys;
  j.dist = tsr_ctx_nranks(ctx) > 1;
  layout L = {NULL, NULL};
  tsr_status status;
  /* Under MPI every step's status is agreed before the next step that
   * talks (STEP; AGREED after a run of LOCAL steps), and the steps that talk
   * between ranks agree before they do. */
  STEP(tsr_calloc(ctx, (size_t)nkeys, sizeof *j.keys, (void **)&j.keys));
  for (int k = 0; k < nkeys; k++) {
    const char *rn = right_on ? right_on[k] : left_on[k];
    TSR__CHECK_GOTO(status, left_on[k] != NULL && rn != NULL, TSR_EINVAL,
                    "%s: the name of key %d is NULL", fn, k);
    TSR__TRY_GOTO(status, tsr__frame_find(left, fn, left_on[k], &j.keys[k].col[0]));
    TSR__TRY_GOTO(status, tsr__frame_find(right, fn, rn, &j.keys[k].col[1]));
  }
  STEP(tsr__join_side_create(&j, 0, left));
  STEP(tsr__join_side_create(&j, 1, right));
  STEP(make_layout(&j, sl, sr, &L));
  STEP(tsr__join_dist_check(&j));
  STEP(tsr__join_dist_choose(&j));
  for (int s = 0; s < 2; s++) {
    STEP(tsr__join_side_load(&j, s));
    STEP(check_rows(&j));
  }
  if (j.filter) /* the right's rows this rank's left keys may match (or a shuffle) */
    STEP(tsr__join_filter(&j));
  if (j.shuffle) { /* keys, table and probe on the rank owning each key's bucket */
    STEP(probe_arrays(&j));
    STEP(tsr__join_shuffle(&j));
  } else {
    LOCAL(tsr__join_keys_prepare(&j));
    LOCAL(tsr__join_keys_encode(&j));
    if (status == TSR_OK)
      tsr__join_filter_drop(&j);
    LOCAL(tsr__join_build(&j));
    LOCAL(probe_arrays(&j));
    LOCAL(tsr__join_probe(&j));
    AGREED();
  }
  STEP(tsr__join_dist_share(&j));
  STEP(output(&j, &L, out));
fail:
  if (status != TSR_OK) /* under MPI: the ranks whose output was made, when another's failed */
    tsr_frame_destroy(out);
  layout_free(ctx, &L, j.ncols);
  join_free(&j);
  return status;
}

tsr_status tsr_frame_join_asof(tsr_frame *left, tsr_frame *right, const char *left_on,
                               const tsr_asof_options *options, tsr_frame **out) {
  static const char fn[] = "tsr_frame_join_asof";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(left != NULL && right != NULL, TSR_EINVAL, "%s: the %s frame is NULL", fn,
            left == NULL ? "left" : "right");
  TSR_CHECK(left->ctx == right->ctx, TSR_EINVAL, "%s: the frames belong to different contexts",
            fn);
  TSR_CHECK(left_on != NULL, TSR_EINVAL, "%s: left_on is NULL", fn);
  tsr_asof_options none;
  memset(&none, 0, sizeof none);
  const tsr_asof_options *o = options ? options : &none;
  TSR_CHECK(o->nby >= 0 && o->nby <= 64 && (o->nby == 0 || o->left_by != NULL), TSR_EINVAL,
            "%s: nby = %d with left_by %s (0 to 64 keys)", fn, o->nby,
            o->left_by ? "given" : "NULL");
  TSR_CHECK(!o->has_tolerance || o->tolerance >= 0, TSR_EINVAL,
            "%s: the tolerance %g is negative (or NaN)", fn, o->tolerance);
  tsr_ctx *ctx = left->ctx;
  tsr__join j;
  memset(&j, 0, sizeof j);
  j.ctx = ctx;
  j.fn = fn;
  j.kind = TSR_JOIN_LEFT;
  j.asof = true;
  j.nkeys = o->nby;
  j.has_tol = o->has_tolerance;
  j.tol = o->tolerance;
  j.dist = tsr_ctx_nranks(ctx) > 1;
  layout L = {NULL, NULL};
  tsr_status status;
  STEP(tsr_calloc(ctx, (size_t)o->nby + 1, sizeof *j.keys, (void **)&j.keys));
  for (int k = 0; k < o->nby; k++) {
    const char *rn = o->right_by ? o->right_by[k] : o->left_by[k];
    TSR__CHECK_GOTO(status, o->left_by[k] != NULL && rn != NULL, TSR_EINVAL,
                    "%s: the name of by key %d is NULL", fn, k);
    TSR__TRY_GOTO(status, tsr__frame_find(left, fn, o->left_by[k], &j.keys[k].col[0]));
    TSR__TRY_GOTO(status, tsr__frame_find(right, fn, rn, &j.keys[k].col[1]));
  }
  TSR__TRY_GOTO(status, tsr__frame_find(left, fn, left_on, &j.on[0]));
  TSR__TRY_GOTO(status,
                tsr__frame_find(right, fn, o->right_on ? o->right_on : left_on, &j.on[1]));
  {
    tsr_type a = left->cols[j.on[0]].type, b = right->cols[j.on[1]].type;
    bool ordered = a.id != TSR_COL_BOOL && a.id != TSR_COL_STRING && a.id != TSR_COL_DICT;
    TSR__CHECK_GOTO(status, ordered && a.id == b.id && a.unit == b.unit, TSR_EINVAL,
                    "%s: on columns '%s' (%s) and '%s' (%s) must have one numeric, date or "
                    "timestamp type (cast one side with tsr_frame_cast)",
                    fn, left->cols[j.on[0]].name, tsr_type_name(a), right->cols[j.on[1]].name,
                    tsr_type_name(b));
  }
  STEP(tsr__join_side_create(&j, 0, left));
  STEP(tsr__join_side_create(&j, 1, right));
  STEP(make_layout(&j, o->suffix_left ? o->suffix_left : "_x",
                   o->suffix_right ? o->suffix_right : "_y", &L));
  STEP(tsr__join_dist_check(&j));
  STEP(tsr__join_dist_choose(&j));
  for (int s = 0; s < 2; s++) {
    STEP(tsr__join_side_load(&j, s));
    STEP(check_rows(&j));
  }
  if (j.shuffle) { /* by keys' hash, or on value ranges (join_shuffle.c) */
    STEP(probe_arrays(&j));
    STEP(tsr__join_shuffle(&j));
  } else {
    LOCAL(tsr__join_keys_prepare(&j));
    LOCAL(tsr__join_keys_encode(&j));
    if (j.nkeys > 0)
      LOCAL(tsr__join_build(&j));
    LOCAL(tsr__join_asof_prepare(&j));
    LOCAL(probe_arrays(&j));
    LOCAL(tsr__join_asof_probe(&j));
    AGREED();
  }
  STEP(tsr__join_dist_share(&j));
  STEP(output(&j, &L, out));
fail:
  if (status != TSR_OK) /* under MPI: the ranks whose output was made, when another's failed */
    tsr_frame_destroy(out);
  layout_free(ctx, &L, j.ncols);
  join_free(&j);
  return status;
}

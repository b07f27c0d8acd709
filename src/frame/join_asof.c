/* join_asof.c — the as-of join's own phases (tsr_frame_join_asof in
 * join.c; docs/frames.md, "Joins"): every left row takes the right row
 * with the largest `on` value at or below its own among the right rows of
 * its group (equal `by` keys, matched through the join's key table), within
 * the tolerance.
 *
 * `on` values of both sides become order-preserving uint64 words (signed
 * integers, dates and timestamps with the sign bit flipped, floats with
 * their bits arranged, -0.0 as 0.0; null and NaN rows never match).  The
 * right rows that can match are sorted by (group, on, row), the group being
 * the head row of their `by` keys' chain (0 without `by`), and each group's
 * range of the sorted rows is recorded at its head.  One task per left
 * chunk finds each row's group and binary-searches the last right row at or
 * below its value: among equal values the last in right row order. */
#include <stdlib.h>
#include <string.h>

#include "join_impl.h"

#define SIGN (UINT64_C(1) << 63)

typedef struct tsr__jasof {
  int64_t group;
  uint64_t on;
  int64_t row;
} tsr__jasof;

static int ent_cmp(const void *a, const void *b) {
  const tsr__jasof *x = a, *y = b;
  if (x->group != y->group)
    return x->group < y->group ? -1 : 1;
  if (x->on != y->on)
    return x->on < y->on ? -1 : 1;
  return x->row < y->row ? -1 : x->row > y->row;
}

void tsr__join_on_words(tsr_type t, const tsr__colread *r, uint64_t *w, uint8_t *ok) {
  const int64_t n = r->rows;
  memset(ok, 1, (size_t)n);
#define SIGNED(T)                            \
  {                                          \
    const T *v = r->values;                  \
    for (int64_t i = 0; i < n; i++)          \
      w[i] = (uint64_t)(int64_t)v[i] ^ SIGN; \
    break;                                   \
  }
#define UNSIGNED(T)                 \
  {                                 \
    const T *v = r->values;         \
    for (int64_t i = 0; i < n; i++) \
      w[i] = v[i];                  \
    break;                          \
  }
#define FLOAT(T)                       \
  {                                    \
    const T *v = r->values;            \
    for (int64_t i = 0; i < n; i++) {  \
      double d = (double)v[i];         \
      uint64_t b;                      \
      d = d == 0 ? 0.0 : d;            \
      memcpy(&b, &d, sizeof b);        \
      w[i] = b & SIGN ? ~b : b | SIGN; \
      ok[i] = d == d;                  \
    }                                  \
    break;                             \
  }
  switch (t.id) {
  case TSR_COL_INT8:
    SIGNED(int8_t)
  case TSR_COL_INT16:
    SIGNED(int16_t)
  case TSR_COL_INT32:
  case TSR_COL_DATE:
    SIGNED(int32_t)
  case TSR_COL_INT64:
  case TSR_COL_TIMESTAMP:
    SIGNED(int64_t)
  case TSR_COL_UINT8:
    UNSIGNED(uint8_t)
  case TSR_COL_UINT16:
    UNSIGNED(uint16_t)
  case TSR_COL_UINT32:
    UNSIGNED(uint32_t)
  case TSR_COL_UINT64:
    UNSIGNED(uint64_t)
  case TSR_COL_FLOAT32:
    FLOAT(float)
  case TSR_COL_FLOAT64:
    FLOAT(double)
  default:
    break;
  }
#undef SIGNED
#undef UNSIGNED
#undef FLOAT
  if (r->validity != NULL)
    for (int64_t i = 0; i < n; i++)
      ok[i] &= (uint8_t)tsr__bit_get(r->validity, i);
}

/* The on values of one side into onw / onok (by global row). */
static void encode_on(tsr__join *j, int side) {
  const tsr__sorter *s = j->side[side];
  const tsr_type t = s->f->cols[j->on[side]].type;
  for (int64_t c = 0; c < s->nchunks; c++)
    tsr__join_on_words(t, &s->cr[c * s->f->ncols + j->on[side]], j->onw[side] + s->row_start[c],
                       j->onok[side] + s->row_start[c]);
}

/* The on value of word w back as a long double (for the tolerance). */
static long double on_value(tsr_type t, uint64_t w) {
  switch (t.id) {
  case TSR_COL_UINT8:
  case TSR_COL_UINT16:
  case TSR_COL_UINT32:
  case TSR_COL_UINT64:
    return (long double)w;
  case TSR_COL_FLOAT32:
  case TSR_COL_FLOAT64: {
    uint64_t b = w & SIGN ? w ^ SIGN : ~w;
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
  }
  default:
    return (long double)(int64_t)(w ^ SIGN);
  }
}

tsr_status tsr__join_asof_prepare(tsr__join *j) {
  tsr_ctx *ctx = j->ctx;
  const tsr__sorter *rs = j->side[1];
  for (int side = 0; side < 2; side++) {
    int64_t total = j->side[side]->total;
    TSR_TRY(tsr__alloc_array(ctx, (size_t)total + 1, sizeof(uint64_t), "as-of values",
                             (void **)&j->onw[side]));
    TSR_TRY(tsr__alloc_array(ctx, (size_t)total + 1, 1, "as-of values", (void **)&j->onok[side]));
    encode_on(j, side);
  }
  const int64_t N = rs->total;
  TSR_TRY(tsr__alloc_array(ctx, (size_t)N + 1, sizeof *j->rpack, "join rows", (void **)&j->rpack));
  for (int64_t c = 0; c < rs->nchunks; c++)
    for (int64_t i = 0; i < rs->rows[c]; i++)
      j->rpack[rs->row_start[c] + i] = (uint64_t)c << 32 | (uint64_t)i;
  TSR_TRY(tsr__alloc_array(ctx, (size_t)N + 1, sizeof *j->ent, "as-of rows", (void **)&j->ent));
  TSR_TRY(tsr__alloc_array(ctx, (size_t)N + 1, sizeof *j->gbeg, "as-of groups",
                           (void **)&j->gbeg));
  TSR_TRY(tsr__alloc_array(ctx, (size_t)N + 1, sizeof *j->gend, "as-of groups",
                           (void **)&j->gend));
  memset(j->gbeg, 0, ((size_t)N + 1) * sizeof *j->gbeg); /* groups without rows: empty */
  memset(j->gend, 0, ((size_t)N + 1) * sizeof *j->gend);
  int64_t m = 0;
  for (int64_t g = 0; g < N; g++) {
    if (!j->onok[1][g] || !j->ok[1][g])
      continue;
    int64_t grp = j->nkeys > 0 ? tsr__join_find(j, j->words[1] + g * j->nkeys) : 0;
    j->ent[m++] = (tsr__jasof){grp, j->onw[1][g], g};
  }
  j->nent = m;
  qsort(j->ent, (size_t)m, sizeof *j->ent, ent_cmp);
  for (int64_t e = 0; e < m; e++) {
    if (e == 0 || j->ent[e].group != j->ent[e - 1].group)
      j->gbeg[j->ent[e].group] = e;
    j->gend[j->ent[e].group] = e + 1;
  }
  return TSR_OK;
}

static tsr_status asof_kernel(const tsr_kernel_call *call) {
  tsr__jtask t = tsr__jtask_of(call);
  tsr__join *j = t.j;
  const int64_t c = t.i;
  const tsr__sorter *ls = j->side[0];
  const int64_t n = ls->rows[c], g0 = ls->row_start[c];
  const tsr_type type = ls->f->cols[j->on[0]].type;
  TSR_TRY(tsr_alloc(j->ctx, (size_t)n * sizeof(uint32_t) + 8, (void **)&j->lrow[c]));
  TSR_TRY(tsr_alloc(j->ctx, (size_t)n * sizeof(uint64_t) + 8, (void **)&j->rref[c]));
  j->npairs[c] = n;
  uint32_t *lr = j->lrow[c];
  uint64_t *rr = j->rref[c];
  for (int64_t i = 0; i < n; i++) {
    int64_t g = g0 + i;
    lr[i] = (uint32_t)i;
    rr[i] = TSR__JOIN_NONE;
    if (!j->onok[0][g] || !j->ok[0][g] || j->nent == 0)
      continue;
    int64_t grp = j->nkeys > 0 ? tsr__join_find(j, j->words[0] + g * j->nkeys) : 0;
    if (grp < 0)
      continue;
    /* the last entry of the group with on <= this row's */
    int64_t lo = j->gbeg[grp], hi = j->gend[grp];
    const uint64_t v = j->onw[0][g];
    while (lo < hi) {
      int64_t mid = lo + (hi - lo) / 2;
      if (j->ent[mid].on <= v)
        lo = mid + 1;
      else
        hi = mid;
    }
    if (lo == j->gbeg[grp])
      continue;
    const tsr__jasof *e = &j->ent[lo - 1];
    if (j->has_tol && on_value(type, v) - on_value(type, e->on) > (long double)j->tol)
      continue;
    rr[i] = j->rpack[e->row];
  }
  return tsr__join_str_bytes(j, c, n, lr, rr);
}

tsr_status tsr__join_asof_probe(tsr__join *j) {
  return tsr__join_run(j, TSR_OK, "frame_join_asof", asof_kernel, j->side[0]->nchunks);
}

void tsr__join_asof_free(tsr__join *j) {
  for (int s = 0; s < 2; s++) {
    tsr_free(j->ctx, j->onw[s]);
    tsr_free(j->ctx, j->onok[s]);
  }
  tsr_free(j->ctx, j->rpack);
  tsr_free(j->ctx, j->ent);
  tsr_free(j->ctx, j->gbeg);
  tsr_free(j->ctx, j->gend);
}

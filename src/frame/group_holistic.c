/* group_holistic.c — quantiles, nunique and largest/smallest per group
 * (group_holistic.h): a radix partition of the non-null values by group
 * range per input chunk (scatter), then per range a counting sort by group
 * id and a per-group kernel (selection for quantiles, a sort of normalized
 * keys for nunique, a bounded insertion or a stable sort for top-n).
 *
 * Invariants: pieces are ranges of 2^shift consecutive group ids (at most
 * MAX_PIECES of them), fixed by ngroups; a chunk's values of one piece keep
 * their row order, and a piece reads chunks in chunk order, so each group's
 * values reach its kernel in row order whatever the chunking, the piece
 * count or the threads.  A piece writes only its own groups' results (the
 * per-group arrays) and its own buffers (top-n values), so pieces run
 * concurrently without locks; bitmaps are built in tsr__hol_finish.
 *
 * Tuned for db-benchmark's q6 (median of 1e7 doubles over 1e4 groups) and
 * q8 (top 2 of 1e7 doubles over 1e5 groups): one pass over the input per
 * phase plus the per-group kernels, which work in the cache (a piece holds
 * about 1/MAX_PIECES of the values). */
#include "frame/group_holistic.h"

#include <stdlib.h>

#include "core/core_impl.h"
#include "core/order.h"

#define MAX_PIECES TSR__HOL_MAX_PIECES

/* How values are stored after the scatter. */
enum {
  STORE_F64 = 0, /* quantiles of numbers: as float64 (exact for float32 and ints up to 2^53) */
  STORE_I64,     /* quantiles of dates (as microseconds) and timestamps */
  STORE_KEY,     /* nunique of fixed-width types: normalized keys */
  STORE_RAW,     /* largest/smallest of fixed-width types: the values' bytes */
  STORE_STR,     /* strings: views, long ones into the part's data */
};

typedef struct hol_part {
  int64_t *off;  /* npieces + 2: piece p's values are [off[p], off[p + 1]) (then skipped rows') */
  uint32_t *gid; /* off[npieces + 1] */
  void *vals;    /* off[npieces + 1] values of vwidth bytes */
  char *data;    /* STORE_STR: long strings' bytes */
} hol_part;

/* A string as the per-group kernels see it. */
typedef struct strref {
  const char *p;
  uint64_t len;
} strref;

struct tsr__hol {
  tsr_ctx *ctx;
  tsr__hol_kind kind;
  tsr_type type, rtype;
  int nq;
  double *q;
  int64_t n;
  int64_t nchunks, ngroups, npieces;
  int shift;
  int store;
  size_t vwidth; /* bytes per stored value */
  hol_part *parts;
  /* results */
  void **quant;      /* QUANTILE: nq arrays of ngroups rtype values */
  uint8_t *has;      /* QUANTILE: ngroups flags (1 = a non-null value) */
  uint8_t *validity; /* QUANTILE: built by tsr__hol_finish */
  int64_t *nunique;  /* NUNIQUE */
  int64_t *offsets;  /* LARGEST/SMALLEST: ngroups + 1, counts until tsr__hol_finish */
  void **pvals;      /* per piece: its groups' values */
  char **pdata;      /* per piece: their long strings' bytes */
  int64_t *pdata_bytes;
  void *values;
  char *data;
  int64_t data_bytes;
  bool done;
};

static const char *kind_name(tsr__hol_kind k) {
  switch (k) {
  case TSR__HOL_QUANTILE:
    return "quantile";
  case TSR__HOL_NUNIQUE:
    return "nunique";
  case TSR__HOL_LARGEST:
    return "largest";
  case TSR__HOL_SMALLEST:
    return "smallest";
  }
  return "?";
}

static void part_free(tsr__hol *h, hol_part *part) {
  tsr_free(h->ctx, part->off);
  tsr_free(h->ctx, part->gid);
  tsr_free(h->ctx, part->vals);
  tsr_free(h->ctx, part->data);
  memset(part, 0, sizeof *part);
}

static void free_parts(tsr__hol *h) {
  if (!h->parts)
    return;
  for (int64_t c = 0; c < h->nchunks; c++)
    part_free(h, &h->parts[c]);
}

void tsr__hol_destroy(tsr__hol **hp) {
  if (!hp || !*hp)
    return;
  tsr__hol *h = *hp;
  tsr_ctx *ctx = h->ctx;
  free_parts(h);
  tsr_free(ctx, h->parts);
  if (h->quant)
    for (int j = 0; j < h->nq; j++)
      tsr_free(ctx, h->quant[j]);
  tsr_free(ctx, h->quant);
  tsr_free(ctx, h->q);
  tsr_free(ctx, h->has);
  tsr_free(ctx, h->validity);
  tsr_free(ctx, h->nunique);
  tsr_free(ctx, h->offsets);
  if (h->pvals)
    for (int64_t p = 0; p < h->npieces; p++)
      tsr_free(ctx, h->pvals[p]);
  if (h->pdata)
    for (int64_t p = 0; p < h->npieces; p++)
      tsr_free(ctx, h->pdata[p]);
  tsr_free(ctx, h->pvals);
  tsr_free(ctx, h->pdata);
  tsr_free(ctx, h->pdata_bytes);
  tsr_free(ctx, h->values);
  tsr_free(ctx, h->data);
  tsr_free(ctx, h);
  *hp = NULL;
}

static bool is_numeric(tsr_coltype id) {
  switch (id) {
  case TSR_COL_INT8:
  case TSR_COL_INT16:
  case TSR_COL_INT32:
  case TSR_COL_INT64:
  case TSR_COL_UINT8:
  case TSR_COL_UINT16:
  case TSR_COL_UINT32:
  case TSR_COL_UINT64:
  case TSR_COL_FLOAT32:
  case TSR_COL_FLOAT64:
    return true;
  default:
    return false;
  }
}

tsr_status tsr__hol_create(tsr_ctx *ctx, const tsr__hol_spec *spec, int64_t nchunks,
                           int64_t ngroups, tsr__hol **out) {
  *out = NULL;
  tsr_type t = spec->type;
  const char *an = kind_name(spec->kind);
  TSR_CHECK(t.id >= 0 && t.id < TSR_NUM_COLTYPES, TSR_EDTYPE, "%s: invalid column type", an);
  TSR_CHECK(ngroups >= 0 && ngroups <= (int64_t)UINT32_MAX, TSR_EINVAL,
            "%s: %lld groups (at most 2^32 - 1)", an, (long long)ngroups);
  TSR_CHECK(nchunks >= 0, TSR_EINVAL, "%s: %lld chunks", an, (long long)nchunks);
  int store;
  tsr_type rtype = t;
  switch (spec->kind) {
  case TSR__HOL_QUANTILE:
    TSR_CHECK(spec->nq >= 1 && spec->q, TSR_EINVAL, "quantile: no q given");
    for (int j = 0; j < spec->nq; j++)
      TSR_CHECK(spec->q[j] >= 0 && spec->q[j] <= 1, TSR_EINVAL,
                "quantile: q = %g is not in [0, 1]", spec->q[j]);
    if (is_numeric(t.id)) {
      store = STORE_F64;
      rtype.id = t.id == TSR_COL_FLOAT32 ? TSR_COL_FLOAT32 : TSR_COL_FLOAT64;
      rtype.unit = 0;
    } else if (t.id == TSR_COL_DATE || t.id == TSR_COL_TIMESTAMP) {
      store = STORE_I64;
      rtype.id = TSR_COL_TIMESTAMP;
      rtype.unit = t.id == TSR_COL_DATE ? TSR_TIME_US : t.unit;
    } else {
      return tsr_error_set(TSR_EDTYPE,
                           "quantile/median of a %s column is not supported (numbers, dates "
                           "and timestamps only)",
                           tsr_type_name(t));
    }
    break;
  case TSR__HOL_NUNIQUE:
    store = t.id == TSR_COL_STRING ? STORE_STR : STORE_KEY;
    rtype.id = TSR_COL_INT64;
    rtype.unit = 0;
    break;
  case TSR__HOL_LARGEST:
  case TSR__HOL_SMALLEST:
    TSR_CHECK(spec->n >= 1, TSR_EINVAL, "%s: n = %lld must be at least 1", an,
              (long long)spec->n);
    store = t.id == TSR_COL_STRING ? STORE_STR : STORE_RAW;
    break;
  default:
    return tsr_error_set(TSR_EINVAL, "holistic aggregate: unknown kind %d", (int)spec->kind);
  }
  tsr__hol *h = NULL;
  TSR_TRY(tsr_calloc(ctx, 1, sizeof *h, (void **)&h));
  h->ctx = ctx;
  h->kind = spec->kind;
  h->type = t;
  h->rtype = rtype;
  h->n = spec->n;
  h->nchunks = nchunks;
  h->ngroups = ngroups;
  h->store = store;
  h->vwidth = store == STORE_STR ? sizeof(tsr_string_view)
              : store == STORE_RAW ? tsr_type_width(t)
                                   : 8;
  int shift = 0;
  while ((ngroups >> shift) > MAX_PIECES)
    shift++;
  h->shift = shift;
  h->npieces = ngroups == 0 ? 1 : ((ngroups - 1) >> shift) + 1;
  tsr_status st = TSR_OK;
  if ((st = tsr_calloc(ctx, (size_t)(nchunks ? nchunks : 1), sizeof(hol_part),
                       (void **)&h->parts)) != TSR_OK)
    goto fail;
  size_t ng = (size_t)(ngroups ? ngroups : 1);
  if (spec->kind == TSR__HOL_QUANTILE) {
    h->nq = spec->nq;
    if ((st = tsr__alloc_array(ctx, (size_t)h->nq, sizeof(double), "quantiles",
                               (void **)&h->q)) != TSR_OK)
      goto fail;
    memcpy(h->q, spec->q, (size_t)h->nq * sizeof(double));
    if ((st = tsr_calloc(ctx, (size_t)h->nq, sizeof(void *), (void **)&h->quant)) != TSR_OK)
      goto fail;
    for (int j = 0; j < h->nq; j++)
      if ((st = tsr_calloc(ctx, ng, tsr_type_width(rtype), &h->quant[j])) != TSR_OK)
        goto fail;
    if ((st = tsr_calloc(ctx, ng, 1, (void **)&h->has)) != TSR_OK)
      goto fail;
  } else if (spec->kind == TSR__HOL_NUNIQUE) {
    if ((st = tsr_calloc(ctx, ng, sizeof(int64_t), (void **)&h->nunique)) != TSR_OK)
      goto fail;
  } else {
    if ((st = tsr_calloc(ctx, ng + 1, sizeof(int64_t), (void **)&h->offsets)) != TSR_OK ||
        (st = tsr_calloc(ctx, (size_t)h->npieces, sizeof(void *), (void **)&h->pvals)) != TSR_OK ||
        (st = tsr_calloc(ctx, (size_t)h->npieces, sizeof(char *), (void **)&h->pdata)) != TSR_OK ||
        (st = tsr_calloc(ctx, (size_t)h->npieces, sizeof(int64_t), (void **)&h->pdata_bytes)) !=
            TSR_OK)
      goto fail;
  }
  *out = h;
  return TSR_OK;
fail:
  tsr__hol_destroy(&h);
  return st;
}

int64_t tsr__hol_npieces(const tsr__hol *h) { return h->npieces; }

void tsr__hol_piece_groups(const tsr__hol *h, int64_t piece, int64_t *g0, int64_t *g1) {
  int64_t a = piece << h->shift, b = (piece + 1) << h->shift;
  *g0 = a < h->ngroups ? a : h->ngroups;
  *g1 = b < h->ngroups ? b : h->ngroups;
}

/* ---- phase 1: scatter ----------------------------------------------------------------- */

#define IS_VALID(i) (!valid || tsr__bit_get(valid, (i)))

/* Scatters the valid rows: g[pos[p]] = gid, vals[pos[p]++] = CONV(v[i]).
 * A skipped row (TSR__HOL_SKIP) goes to piece np's one place, overwritten
 * by the next: no branch on it (half the rows of a part under MPI, at
 * random). */
#define SCATTER(T, VT, CONV)                \
  do {                                      \
    const T *v = (const T *)in->col.values; \
    VT *dst = (VT *)part->vals;             \
    for (int64_t i = 0; i < rows; i++) {    \
      if (!IS_VALID(i))                     \
        continue;                           \
      uint32_t g = gid[i];                  \
      int64_t p = g >> shift;               \
      p = p < np ? p : np;                  \
      int64_t at = pos[p];                  \
      pos[p] = at + (p < np);               \
      part->gid[at] = g;                    \
      dst[at] = CONV(v[i]);                 \
    }                                       \
  } while (0)

/* Copies a run: vals[at + k] = CONV(v[s + k]) and g[at + k] = gid, k < len. */
#define COPY_RUN(T, VT, CONV)           \
  do {                                  \
    const T *v = (const T *)src + s;    \
    VT *dst = (VT *)part->vals + at;    \
    for (int64_t k = 0; k < len; k++) { \
      part->gid[at + k] = g;            \
      dst[k] = CONV(v[k]);              \
    }                                   \
  } while (0)

#define CONV_D(x) ((double)(x))
#define CONV_ID(x) (x)
#define CONV_DATE_US(x) ((int64_t)(x) * INT64_C(86400000000))

/* Expands M(input type, stored type, conversion) for h's store (but
 * STORE_STR) and input type. */
#define FOR_STORED(h, M)                              \
  switch ((h)->store) {                               \
  case STORE_F64:                                     \
    switch ((h)->type.id) {                           \
    case TSR_COL_INT8:                                \
      M(int8_t, double, CONV_D);                      \
      break;                                          \
    case TSR_COL_INT16:                               \
      M(int16_t, double, CONV_D);                     \
      break;                                          \
    case TSR_COL_INT32:                               \
      M(int32_t, double, CONV_D);                     \
      break;                                          \
    case TSR_COL_INT64:                               \
      M(int64_t, double, CONV_D);                     \
      break;                                          \
    case TSR_COL_UINT8:                               \
      M(uint8_t, double, CONV_D);                     \
      break;                                          \
    case TSR_COL_UINT16:                              \
      M(uint16_t, double, CONV_D);                    \
      break;                                          \
    case TSR_COL_UINT32:                              \
      M(uint32_t, double, CONV_D);                    \
      break;                                          \
    case TSR_COL_UINT64:                              \
      M(uint64_t, double, CONV_D);                    \
      break;                                          \
    case TSR_COL_FLOAT32:                             \
      M(float, double, CONV_D);                       \
      break;                                          \
    default:                                          \
      M(double, double, CONV_ID);                     \
      break;                                          \
    }                                                 \
    break;                                            \
  case STORE_I64:                                     \
    if ((h)->type.id == TSR_COL_DATE)                 \
      M(int32_t, int64_t, CONV_DATE_US);              \
    else                                              \
      M(int64_t, int64_t, CONV_ID);                   \
    break;                                            \
  case STORE_KEY:                                     \
    switch ((h)->type.id) {                           \
    case TSR_COL_BOOL:                                \
      M(uint8_t, uint64_t, tsr__okey_bool);           \
      break;                                          \
    case TSR_COL_INT8:                                \
      M(int8_t, uint64_t, tsr__okey_i8);              \
      break;                                          \
    case TSR_COL_UINT8:                               \
      M(uint8_t, uint64_t, tsr__okey_u64);            \
      break;                                          \
    case TSR_COL_INT16:                               \
      M(int16_t, uint64_t, tsr__okey_i16);            \
      break;                                          \
    case TSR_COL_UINT16:                              \
      M(uint16_t, uint64_t, tsr__okey_u64);           \
      break;                                          \
    case TSR_COL_INT32:                               \
    case TSR_COL_DICT:                                \
    case TSR_COL_DATE:                                \
      M(int32_t, uint64_t, tsr__okey_i32);            \
      break;                                          \
    case TSR_COL_UINT32:                              \
      M(uint32_t, uint64_t, tsr__okey_u64);           \
      break;                                          \
    case TSR_COL_FLOAT32:                             \
      M(float, uint64_t, tsr__okey_f32);              \
      break;                                          \
    case TSR_COL_FLOAT64:                             \
      M(double, uint64_t, tsr__okey_f64);             \
      break;                                          \
    default: /* int64, uint64 (as bits), timestamp */ \
      M(uint64_t, uint64_t, CONV_ID);                 \
      break;                                          \
    }                                                 \
    break;                                            \
  default: /* STORE_RAW */                            \
    switch ((h)->vwidth) {                            \
    case 1:                                           \
      M(uint8_t, uint8_t, CONV_ID);                   \
      break;                                          \
    case 2:                                           \
      M(uint16_t, uint16_t, CONV_ID);                 \
      break;                                          \
    case 4:                                           \
      M(uint32_t, uint32_t, CONV_ID);                 \
      break;                                          \
    default:                                          \
      M(uint64_t, uint64_t, CONV_ID);                 \
      break;                                          \
    }                                                 \
    break;                                            \
  }

static void scatter_values(tsr__hol *h, hol_part *part, const tsr__hol_chunk *in, int64_t *pos) {
  const int64_t rows = in->rows;
  const uint32_t *gid = in->gid;
  const uint8_t *valid = in->col.null_count > 0 ? in->col.validity : NULL;
  const int shift = h->shift;
  const int64_t np = h->npieces;
  if (h->store != STORE_STR) {
    FOR_STORED(h, SCATTER);
    return;
  }
  const tsr_string_view *v = (const tsr_string_view *)in->col.values;
  tsr_string_view *dst = (tsr_string_view *)part->vals;
  uint64_t dpos = 0;
  for (int64_t i = 0; i < rows; i++) {
    if (!IS_VALID(i))
      continue;
    uint32_t g = gid[i];
    if (g == TSR__HOL_SKIP)
      continue;
    int64_t at = pos[g >> shift]++;
    part->gid[at] = g;
    tsr_string_view s = v[i];
    if (s.length > 12) {
      memcpy(part->data + dpos, in->col.data + s.u.ref.offset, s.length);
      s.u.ref.offset = (uint32_t)dpos;
      dpos += s.length;
    }
    dst[at] = s;
  }
}

/* The part's arrays for cnt[p] values of each piece p < np and cnt[np]
 * (at most 1) of skipped rows: part->off, gid, vals (data_bytes of long
 * strings' in data); pos[p] the first place of piece p. */
static tsr_status part_alloc(tsr__hol *h, hol_part *part, uint64_t data_bytes, int64_t *pos) {
  const int64_t np = h->npieces;
  for (int64_t p = 0; p <= np; p++) {
    pos[p] = part->off[p];
    part->off[p + 1] += part->off[p];
  }
  int64_t nv = part->off[np + 1];
  tsr_status st;
  if ((st = tsr__alloc_array(h->ctx, (size_t)nv, sizeof(uint32_t), "scattered group ids",
                             (void **)&part->gid)) != TSR_OK ||
      (st = tsr__alloc_array(h->ctx, (size_t)nv, h->vwidth, "scattered values", &part->vals)) !=
          TSR_OK)
    return st;
  if (h->store == STORE_STR)
    return tsr_alloc(h->ctx, (size_t)data_bytes, (void **)&part->data);
  return TSR_OK;
}

tsr_status tsr__hol_scatter_runs(tsr__hol *h, int64_t chunk, const tsr__hol_runs *in) {
  TSR_CHECK(chunk >= 0 && chunk < h->nchunks, TSR_EINVAL, "%s: chunk %lld out of range",
            kind_name(h->kind), (long long)chunk);
  TSR_CHECK(h->store != STORE_STR && in->col.null_count == 0, TSR_EINVAL,
            "%s: runs of strings or with nulls", kind_name(h->kind));
  hol_part *part = &h->parts[chunk];
  const int64_t np = h->npieces, ng = h->ngroups;
  const int shift = h->shift;
  int64_t *pos = NULL, s = 0;
  tsr_status st = tsr_calloc(h->ctx, (size_t)np + 2, sizeof(int64_t), (void **)&part->off);
  if (st != TSR_OK)
    return st;
  int64_t *cnt = part->off + 1;
  for (int64_t r = 0; r < in->nruns; r++) {
    uint32_t g = in->gid[r];
    int64_t len = in->len[r];
    if (len < 0 || len > in->col.rows - s || (g >= ng && g != TSR__HOL_SKIP)) {
      st = tsr_error_set(TSR_EINVAL, "%s: run %lld out of range (%lld groups, %lld values)",
                         kind_name(h->kind), (long long)r, (long long)ng, (long long)in->col.rows);
      goto fail;
    }
    s += len;
    if (g != TSR__HOL_SKIP)
      cnt[g >> shift] += len;
  }
  if ((st = tsr__alloc_array(h->ctx, (size_t)np + 1, sizeof(int64_t), "scatter positions",
                             (void **)&pos)) != TSR_OK ||
      (st = part_alloc(h, part, 0, pos)) != TSR_OK)
    goto fail;
  const void *src = in->col.values;
  s = 0;
  for (int64_t r = 0; r < in->nruns; r++) {
    const uint32_t g = in->gid[r];
    const int64_t len = in->len[r];
    if (g != TSR__HOL_SKIP) {
      int64_t at = pos[g >> shift];
      pos[g >> shift] += len;
      FOR_STORED(h, COPY_RUN);
    }
    s += len;
  }
  tsr_free(h->ctx, pos);
  return TSR_OK;
fail:
  tsr_free(h->ctx, pos);
  part_free(h, part);
  return st;
}

tsr_status tsr__hol_scatter(tsr__hol *h, int64_t chunk, const tsr__hol_chunk *in) {
  TSR_CHECK(chunk >= 0 && chunk < h->nchunks, TSR_EINVAL, "%s: chunk %lld out of range",
            kind_name(h->kind), (long long)chunk);
  hol_part *part = &h->parts[chunk];
  const int64_t rows = in->rows;
  const uint32_t *gid = in->gid;
  const uint8_t *valid = in->col.null_count > 0 ? in->col.validity : NULL;
  const int64_t np = h->npieces;
  int64_t *pos = NULL;
  /* (piece np: the skipped rows, one place at most, see SCATTER) */
  tsr_status st = tsr_calloc(h->ctx, (size_t)np + 2, sizeof(int64_t), (void **)&part->off);
  if (st != TSR_OK)
    return st;
  if ((st = tsr__alloc_array(h->ctx, (size_t)np + 1, sizeof(int64_t), "scatter positions",
                             (void **)&pos)) != TSR_OK)
    goto fail;
  /* Counts per piece (and long strings' bytes); checks the gids. */
  int64_t *cnt = part->off + 1;
  uint32_t bad = 0;
  uint64_t data_bytes = 0;
  const tsr_string_view *sv = h->store == STORE_STR ? in->col.values : NULL;
  const uint32_t ng = (uint32_t)h->ngroups;
  const int shift = h->shift;
  for (int64_t i = 0; i < rows; i++) {
    if (!IS_VALID(i))
      continue;
    uint32_t g = gid[i];
    bad |= (g >= ng) & (g != TSR__HOL_SKIP);
    int64_t p = g >> shift;
    cnt[p < np ? p : np]++;
    if (sv && sv[i].length > 12 && g != TSR__HOL_SKIP)
      data_bytes += sv[i].length;
  }
  if (bad) {
    st = tsr_error_set(TSR_EINVAL, "%s: a group id is out of range (%lld groups)",
                       kind_name(h->kind), (long long)h->ngroups);
    goto fail;
  }
  cnt[np] = cnt[np] > 0 && h->store != STORE_STR; /* strings skip with a branch */
  if ((st = part_alloc(h, part, data_bytes, pos)) != TSR_OK)
    goto fail;
  scatter_values(h, part, in, pos);
  tsr_free(h->ctx, pos);
  return TSR_OK;
fail:
  tsr_free(h->ctx, pos);
  part_free(h, part);
  return st;
}

/* ---- phase 2: per piece ---------------------------------------------------------------- */

static int strref_cmp(const strref *a, const strref *b) {
  size_t m = a->len < b->len ? a->len : b->len;
  int c = m ? memcmp(a->p, b->p, m) : 0;
  if (c)
    return c;
  return (a->len > b->len) - (a->len < b->len);
}

static int strref_qsort_cmp(const void *a, const void *b) { return strref_cmp(a, b); }

/* Stable merge sort of idx[0..n) by the strings s[idx[i]], descending when
 * desc (ties keep idx order); tmp holds n entries. */
static void str_msort(const strref *s, uint32_t *idx, uint32_t *tmp, int64_t n, bool desc) {
  if (n < 2)
    return;
  int64_t h = n / 2;
  str_msort(s, idx, tmp, h, desc);
  str_msort(s, idx + h, tmp, n - h, desc);
  int64_t i = 0, j = h, k = 0;
  while (i < h && j < n) {
    int c = strref_cmp(&s[idx[j]], &s[idx[i]]);
    /* take the right one first only when it is strictly before */
    if (desc ? c > 0 : c < 0)
      tmp[k++] = idx[j++];
    else
      tmp[k++] = idx[i++];
  }
  while (i < h)
    tmp[k++] = idx[i++];
  while (j < n)
    tmp[k++] = idx[j++];
  memcpy(idx, tmp, (size_t)n * sizeof *idx);
}

/* The k <= TOPN_SMALL smallest (largest: flip the keys) of m values of
 * type t: a sorted window of the best so far, entered only when strictly
 * better than the worst kept (ties keep the earlier row); keys computed
 * in the typed loop (no key array).  Positions to idx; returns how many. */
#define TOPN_SMALL 16
#define TOPN_LOOP(T, KEYF)                                                 \
  do {                                                                     \
    const T *x = (const T *)vals;                                          \
    T wv = 0; /* the worst value kept, once k are kept */                  \
    for (int64_t r = 0; r < m; r++) {                                      \
      T xv = x[r];                                                         \
      /* most values lose to the worst kept: one compare of the values    \
       * (false for NaN and for ties: those go on to the keys) */          \
      if (c == k && (largest ? xv < wv : wv < xv))                         \
        continue;                                                          \
      uint64_t key = KEYF(xv) ^ flip;                                      \
      if (c == k && key >= best[c - 1])                                    \
        continue;                                                          \
      int64_t j = c < k ? c++ : c - 1;                                     \
      while (j > 0 && best[j - 1] > key) {                                 \
        best[j] = best[j - 1];                                             \
        idx[j] = idx[j - 1];                                               \
        j--;                                                               \
      }                                                                    \
      best[j] = key;                                                       \
      idx[j] = r;                                                          \
      wv = x[idx[c - 1]];                                                  \
    }                                                                      \
  } while (0)

static int64_t topn_small(tsr_type t, const void *vals, int64_t m, int64_t k, bool largest,
                          int64_t *idx) {
  uint64_t best[TOPN_SMALL];
  int64_t c = 0;
  const uint64_t flip = largest ? UINT64_MAX : 0;
  switch (t.id) {
  case TSR_COL_BOOL:
    TOPN_LOOP(uint8_t, tsr__okey_bool);
    break;
  case TSR_COL_INT8:
    TOPN_LOOP(int8_t, tsr__okey_i8);
    break;
  case TSR_COL_UINT8:
    TOPN_LOOP(uint8_t, tsr__okey_u64);
    break;
  case TSR_COL_INT16:
    TOPN_LOOP(int16_t, tsr__okey_i16);
    break;
  case TSR_COL_UINT16:
    TOPN_LOOP(uint16_t, tsr__okey_u64);
    break;
  case TSR_COL_INT32:
  case TSR_COL_DICT:
  case TSR_COL_DATE:
    TOPN_LOOP(int32_t, tsr__okey_i32);
    break;
  case TSR_COL_UINT32:
    TOPN_LOOP(uint32_t, tsr__okey_u64);
    break;
  case TSR_COL_FLOAT32:
    TOPN_LOOP(float, tsr__okey_f32);
    break;
  case TSR_COL_INT64:
  case TSR_COL_TIMESTAMP:
    TOPN_LOOP(int64_t, tsr__okey_i64);
    break;
  case TSR_COL_UINT64:
    TOPN_LOOP(uint64_t, tsr__okey_u64);
    break;
  default:
    TOPN_LOOP(double, tsr__okey_f64);
    break;
  }
  return c;
}

tsr_status tsr__hol_piece(tsr__hol *h, int64_t piece) {
  TSR_CHECK(piece >= 0 && piece < h->npieces, TSR_EINVAL, "%s: piece %lld out of range",
            kind_name(h->kind), (long long)piece);
  tsr_ctx *ctx = h->ctx;
  int64_t g0, g1;
  tsr__hol_piece_groups(h, piece, &g0, &g1);
  const int64_t m = g1 - g0;
  if (m == 0)
    return TSR_OK;
  int64_t *end = NULL; /* m + 1: after the scatter, group i's values are [end[i], end[i + 1]) */
  void *vals = NULL;   /* grouped values (strings: strref) */
  void *scratch = NULL;
  void *scratch2 = NULL;
  tsr_status st = tsr_calloc(ctx, (size_t)m + 1, sizeof(int64_t), (void **)&end);
  if (st != TSR_OK)
    return st;
  uint64_t long_bytes = 0;
  for (int64_t c = 0; c < h->nchunks; c++) {
    const hol_part *pt = &h->parts[c];
    for (int64_t i = pt->off[piece]; i < pt->off[piece + 1]; i++)
      end[pt->gid[i] - g0 + 1]++;
    if (h->store == STORE_STR && (h->kind == TSR__HOL_LARGEST || h->kind == TSR__HOL_SMALLEST)) {
      const tsr_string_view *sv = pt->vals;
      for (int64_t i = pt->off[piece]; i < pt->off[piece + 1]; i++)
        if (sv[i].length > 12)
          long_bytes += sv[i].length;
    }
  }
  int64_t maxg = 0;
  for (int64_t i = 0; i < m; i++) {
    if (end[i + 1] > maxg)
      maxg = end[i + 1];
    end[i + 1] += end[i];
  }
  const int64_t total = end[m];
  size_t gw = h->store == STORE_STR ? sizeof(strref) : h->vwidth;
  if ((st = tsr__alloc_array(ctx, (size_t)total, gw, "grouped values", &vals)) != TSR_OK)
    goto done;
  /* Counting sort: end[i] runs from group i's start to its end. */
  for (int64_t c = 0; c < h->nchunks; c++) {
    const hol_part *pt = &h->parts[c];
    int64_t a = pt->off[piece], b = pt->off[piece + 1];
    switch (h->store == STORE_STR ? 0 : gw) {
    case 1:
      for (int64_t i = a; i < b; i++)
        ((uint8_t *)vals)[end[pt->gid[i] - g0]++] = ((const uint8_t *)pt->vals)[i];
      break;
    case 2:
      for (int64_t i = a; i < b; i++)
        ((uint16_t *)vals)[end[pt->gid[i] - g0]++] = ((const uint16_t *)pt->vals)[i];
      break;
    case 4:
      for (int64_t i = a; i < b; i++)
        ((uint32_t *)vals)[end[pt->gid[i] - g0]++] = ((const uint32_t *)pt->vals)[i];
      break;
    case 8:
      for (int64_t i = a; i < b; i++)
        ((uint64_t *)vals)[end[pt->gid[i] - g0]++] = ((const uint64_t *)pt->vals)[i];
      break;
    default: {
      const tsr_string_view *sv = pt->vals;
      for (int64_t i = a; i < b; i++) {
        strref r;
        r.len = sv[i].length;
        r.p = r.len > 12 ? pt->data + sv[i].u.ref.offset : sv[i].u.inline_data;
        ((strref *)vals)[end[pt->gid[i] - g0]++] = r;
      }
      break;
    }
    }
  }
  /* Now end[i] is group i's end; its start is end[i - 1] (0 for i = 0). */
#define GSTART(i) ((i) == 0 ? 0 : end[(i) - 1])
  switch (h->kind) {
  case TSR__HOL_QUANTILE: {
    const int nq = h->nq;
    if ((st = tsr__alloc_array(ctx, (size_t)nq, 3 * sizeof(double), "quantile bounds",
                               &scratch)) != TSR_OK)
      goto done;
    double *d = (double *)scratch;
    for (int64_t i = 0; i < m; i++) {
      int64_t s = GSTART(i), e = end[i];
      int64_t g = g0 + i;
      if (e == s)
        continue;
      h->has[g] = 1;
      if (h->store == STORE_F64) {
        double *lo = d + nq, *hi = d + 2 * nq;
        tsr__order_quantile_bounds_f64((double *)vals + s, e - s, nq, h->q, lo, hi, d);
        if (h->rtype.id == TSR_COL_FLOAT32) {
          for (int j = 0; j < nq; j++)
            ((float *)h->quant[j])[g] =
                d[j] == 0 ? (float)lo[j] : tsr__interp_f32((float)lo[j], (float)hi[j], d[j]);
        } else {
          for (int j = 0; j < nq; j++)
            ((double *)h->quant[j])[g] = d[j] == 0 ? lo[j] : tsr__interp_f64(lo[j], hi[j], d[j]);
        }
      } else {
        int64_t *lo = (int64_t *)(d + nq), *hi = (int64_t *)(d + 2 * nq);
        tsr__order_quantile_bounds_i64((int64_t *)vals + s, e - s, nq, h->q, lo, hi, d);
        for (int j = 0; j < nq; j++)
          ((int64_t *)h->quant[j])[g] = d[j] == 0 ? lo[j] : tsr__interp_ts(lo[j], hi[j], d[j]);
      }
    }
    break;
  }
  case TSR__HOL_NUNIQUE:
    if (h->store == STORE_KEY) {
      if ((st = tsr__alloc_array(ctx, (size_t)(maxg ? maxg : 1), sizeof(uint64_t),
                                 "nunique scratch", &scratch)) != TSR_OK)
        goto done;
      for (int64_t i = 0; i < m; i++) {
        int64_t s = GSTART(i), e = end[i];
        uint64_t *k = (uint64_t *)vals + s;
        tsr__order_sort_u64_scratch(k, e - s, scratch);
        int64_t c = e > s;
        for (int64_t r = 1; r < e - s; r++)
          c += k[r] != k[r - 1];
        h->nunique[g0 + i] = c;
      }
    } else {
      for (int64_t i = 0; i < m; i++) {
        int64_t s = GSTART(i), e = end[i];
        strref *k = (strref *)vals + s;
        qsort(k, (size_t)(e - s), sizeof *k, strref_qsort_cmp);
        int64_t c = e > s;
        for (int64_t r = 1; r < e - s; r++)
          c += strref_cmp(&k[r], &k[r - 1]) != 0;
        h->nunique[g0 + i] = c;
      }
    }
    break;
  case TSR__HOL_LARGEST:
  case TSR__HOL_SMALLEST: {
    const bool largest = h->kind == TSR__HOL_LARGEST;
    const int64_t n = h->n;
    int64_t outn = 0;
    for (int64_t i = 0; i < m; i++) {
      int64_t c = end[i] - GSTART(i);
      outn += c < n ? c : n;
    }
    size_t w = h->store == STORE_STR ? sizeof(tsr_string_view) : h->vwidth;
    if ((st = tsr__alloc_array(ctx, (size_t)(outn ? outn : 1), w, "largest/smallest values",
                               &h->pvals[piece])) != TSR_OK)
      goto done;
    int64_t kmax = maxg < n ? maxg : n;
    char *ov = h->pvals[piece];
    int64_t o = 0;
    if (h->store == STORE_RAW && n <= TOPN_SMALL) {
      for (int64_t i = 0; i < m; i++) {
        int64_t s = GSTART(i), e = end[i];
        const char *gv = (const char *)vals + (size_t)s * w;
        int64_t idx[TOPN_SMALL];
        int64_t cnt = topn_small(h->type, gv, e - s, n, largest, idx);
        for (int64_t r = 0; r < cnt; r++)
          tsr__copy_value(ov + (size_t)(o + r) * w, gv + (size_t)idx[r] * w, w);
        o += cnt;
        h->offsets[g0 + i + 1] = cnt;
      }
    } else if (h->store == STORE_RAW) {
      /* keys (maxg) + positions (kmax) */
      if ((st = tsr__alloc_array(ctx, (size_t)(maxg + kmax + 1), sizeof(uint64_t),
                                 "top-n scratch", &scratch)) != TSR_OK)
        goto done;
      uint64_t *keys = scratch;
      int64_t *idx = (int64_t *)(keys + maxg);
      for (int64_t i = 0; i < m; i++) {
        int64_t s = GSTART(i), e = end[i];
        const char *gv = (const char *)vals + (size_t)s * w;
        tsr__okeys(h->type, gv, e - s, largest, keys);
        int64_t cnt = 0;
        if ((st = tsr__order_smallest_k(ctx, keys, e - s, n, idx, &cnt)) != TSR_OK)
          goto done;
        for (int64_t r = 0; r < cnt; r++)
          tsr__copy_value(ov + (size_t)(o + r) * w, gv + (size_t)idx[r] * w, w);
        o += cnt;
        h->offsets[g0 + i + 1] = cnt;
      }
    } else {
      if ((st = tsr_alloc(ctx, (size_t)long_bytes, (void **)&h->pdata[piece])) != TSR_OK ||
          (st = tsr__alloc_array(ctx, (size_t)(2 * maxg + 1), sizeof(uint32_t), "top-n scratch",
                                 &scratch)) != TSR_OK)
        goto done;
      uint32_t *idx = scratch, *tmp = idx + maxg;
      char *pd = h->pdata[piece];
      int64_t dpos = 0;
      for (int64_t i = 0; i < m; i++) {
        int64_t s = GSTART(i), e = end[i];
        const strref *gs = (const strref *)vals + s;
        for (int64_t r = 0; r < e - s; r++)
          idx[r] = (uint32_t)r;
        str_msort(gs, idx, tmp, e - s, largest);
        int64_t cnt = e - s < n ? e - s : n;
        for (int64_t r = 0; r < cnt; r++) {
          const strref *x = &gs[idx[r]];
          tsr_string_view v;
          memset(&v, 0, sizeof v);
          v.length = (uint32_t)x->len;
          if (x->len <= 12) {
            memcpy(v.u.inline_data, x->p, x->len);
          } else {
            memcpy(v.u.ref.prefix, x->p, 4);
            v.u.ref.offset = (uint32_t)dpos;
            memcpy(pd + dpos, x->p, x->len);
            dpos += (int64_t)x->len;
          }
          memcpy(ov + (size_t)(o + r) * w, &v, w);
        }
        o += cnt;
        h->offsets[g0 + i + 1] = cnt;
      }
      h->pdata_bytes[piece] = dpos;
    }
    break;
  }
  }
#undef GSTART
done:
  tsr_free(ctx, scratch);
  tsr_free(ctx, scratch2);
  tsr_free(ctx, vals);
  tsr_free(ctx, end);
  return st;
}

/* ---- results --------------------------------------------------------------------------- */

tsr_status tsr__hol_finish(tsr__hol *h, tsr__hol_result *out) {
  memset(out, 0, sizeof *out);
  tsr_ctx *ctx = h->ctx;
  free_parts(h);
  if (!h->done) {
    if (h->kind == TSR__HOL_QUANTILE) {
      int64_t nulls = 0;
      for (int64_t g = 0; g < h->ngroups; g++)
        nulls += !h->has[g];
      if (nulls > 0) {
        TSR_TRY(tsr_calloc(ctx, (size_t)(h->ngroups + 7) / 8, 1, (void **)&h->validity));
        for (int64_t g = 0; g < h->ngroups; g++)
          if (h->has[g])
            h->validity[g >> 3] |= (uint8_t)(1u << (g & 7));
      }
    } else if (h->kind == TSR__HOL_LARGEST || h->kind == TSR__HOL_SMALLEST) {
      for (int64_t g = 0; g < h->ngroups; g++)
        h->offsets[g + 1] += h->offsets[g];
      int64_t total = h->offsets[h->ngroups];
      size_t w = tsr_type_width(h->type);
      int64_t dbytes = 0;
      for (int64_t p = 0; p < h->npieces; p++)
        dbytes += h->pdata_bytes[p];
      TSR_CHECK(dbytes <= (int64_t)UINT32_MAX, TSR_ENOTSUP,
                "%s: the result's long strings take %lld bytes (string views address at "
                "most 4 GiB per chunk)",
                kind_name(h->kind), (long long)dbytes);
      tsr_status st = tsr__alloc_array(ctx, (size_t)(total ? total : 1), w, "largest/smallest",
                                       &h->values);
      if (st == TSR_OK && h->store == STORE_STR)
        st = tsr_alloc(ctx, (size_t)dbytes, (void **)&h->data);
      if (st != TSR_OK) {
        for (int64_t g = h->ngroups; g > 0; g--) /* back to counts: result may be retried */
          h->offsets[g] -= h->offsets[g - 1];
        tsr_free(ctx, h->values);
        h->values = NULL;
        return st;
      }
      int64_t dpos = 0;
      for (int64_t p = 0; p < h->npieces; p++) {
        int64_t g0, g1;
        tsr__hol_piece_groups(h, p, &g0, &g1);
        int64_t a = h->offsets[g0], b = h->offsets[g1];
        if (b > a)
          memcpy((char *)h->values + (size_t)a * w, h->pvals[p], (size_t)(b - a) * w);
        if (h->store == STORE_STR) {
          tsr_string_view *v = (tsr_string_view *)h->values;
          for (int64_t r = a; r < b; r++)
            if (v[r].length > 12)
              v[r].u.ref.offset += (uint32_t)dpos;
          if (h->pdata_bytes[p])
            memcpy(h->data + dpos, h->pdata[p], (size_t)h->pdata_bytes[p]);
          dpos += h->pdata_bytes[p];
        }
        tsr_free(ctx, h->pvals[p]);
        tsr_free(ctx, h->pdata[p]);
        h->pvals[p] = NULL;
        h->pdata[p] = NULL;
      }
      h->data_bytes = dpos;
    }
    h->done = true;
  }
  out->kind = h->kind;
  out->type = h->rtype;
  out->ngroups = h->ngroups;
  out->nq = h->nq;
  out->quantiles = h->quant;
  out->validity = h->validity;
  if (h->kind == TSR__HOL_QUANTILE)
    for (int64_t g = 0; g < h->ngroups; g++)
      out->null_count += !h->has[g];
  out->nunique = h->nunique;
  out->offsets = h->offsets;
  out->values = h->values;
  out->data = h->data;
  out->data_bytes = h->data_bytes;
  return TSR_OK;
}

tsr_status tsr__hol_run(tsr__hol *h, const tsr__hol_chunk *chunks, tsr__hol_result *out) {
  memset(out, 0, sizeof *out);
  for (int64_t c = 0; c < h->nchunks; c++)
    TSR_TRY(tsr__hol_scatter(h, c, &chunks[c]));
  for (int64_t p = 0; p < h->npieces; p++)
    TSR_TRY(tsr__hol_piece(h, p));
  return tsr__hol_finish(h, out);
}

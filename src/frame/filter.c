/* filter.c — keeping some rows of every column: filters (the rows where a
 * predicate is true: null is not true, as SQL's WHERE) and drop_nulls (the
 * rows where given columns are all valid).
 *
 * One node, one task per row chunk: for each batch of rows the task makes a
 * selection vector (from a bool column, or by running the predicate's
 * column program on the batch: no predicate column is ever materialized),
 * then gathers every column through it (strings move their 16-byte views;
 * long strings' bytes are copied into the output chunk's data buffer, so
 * the chunk stays self-contained).  Columns assigned to a filtered frame
 * (tsr__filter_extend) are computed by the same task from the batch's kept
 * rows just gathered, while they are in cache: filter + assign is one pass
 * over the input.  The output keeps the input's capacities and its row
 * counts are unknown until computed. */
#include <stdatomic.h>
#include <string.h>

#include "colprog.h"

#define BATCH TSR__CP_BATCH

/* A column computed from the kept rows (an assignment fused into the
 * filter): value `value` of `prog`, whose frame's column c is this node's
 * output slot slot_of_col[c] (-1: not read). */
typedef struct filter_extra {
  tsr__colprog *prog; /* one reference */
  int value;
  int *slot_of_col;
} filter_extra;

typedef struct filter_params {
  tsr__fnode base;
  uint32_t ncols; /* the columns gathered: the node's first ncols slots */
  uint32_t has_predicate;
  tsr__colref predicate;
  /* Or a predicate program over the gathered columns (its frame's column c
   * is cols[c]), run on each batch. */
  tsr__colprog *pred_prog; /* one reference, or NULL */
  int pred_value;
  uint32_t n_required; /* columns that must be valid (drop_nulls) */
  tsr__colref *required;
  tsr__colref *cols; /* ncols: the columns kept */
  uint32_t nextra;   /* computed columns: slots ncols .. ncols + nextra - 1 */
  filter_extra *extra;
  tsr_ctx *ctx;
} filter_params;

static void filter_destroy(tsr__fnode *base) {
  filter_params *p = (filter_params *)base;
  tsr__colprog_destroy(&p->pred_prog);
  for (uint32_t i = 0; i < p->nextra; i++) {
    tsr__colprog_destroy(&p->extra[i].prog);
    tsr_free(p->ctx, p->extra[i].slot_of_col);
  }
  tsr_free(p->ctx, p->extra);
  tsr_free(p->ctx, p->required);
  tsr_free(p->ctx, p->cols);
}

/* Byte b's bits as eight 0/1 bytes (least significant bit first). */
static uint64_t expand_bits(uint8_t b) {
  uint64_t x = b;
  x = (x | (x << 28)) & 0x0000000F0000000Full;
  x = (x | (x << 14)) & 0x0003000300030003ull;
  x = (x | (x << 7)) & 0x0101010101010101ull;
  return x;
}

/* keep[i] &= bit (first + i) of `bits`, for n rows; first is a multiple of 8. */
static void and_validity(uint8_t *keep, const uint8_t *bits, int64_t first, uint32_t n) {
  const uint8_t *b = bits + first / 8;
  uint32_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t k, e = expand_bits(b[i / 8]);
    memcpy(&k, keep + i, 8);
    k &= e;
    memcpy(keep + i, &k, 8);
  }
  for (; i < n; i++)
    keep[i] &= (uint8_t)((b[i / 8] >> (i % 8)) & 1);
}

/* The rows of a batch kept, as bits (row i: bit i % 64 of word i / 64). */
typedef struct selection {
  uint64_t words[BATCH / 64];
  uint32_t n, m;       /* rows in the batch, rows kept */
  uint32_t sel[BATCH]; /* the kept rows' indexes, made on demand */
  bool has_sel;
} selection;

/* Packs keep[0..n) (0/1 bytes) into s->words and counts them. */
static void select_rows(selection *s, uint8_t *keep, uint32_t n) {
  uint32_t nw = (n + 63) / 64;
  memset(keep + n, 0, (size_t)nw * 64 - n);
  uint32_t m = 0;
  for (uint32_t w = 0; w < nw; w++) {
    uint64_t word = 0;
    for (uint32_t k = 0; k < 8; k++) {
      uint64_t x;
      memcpy(&x, keep + 64 * w + 8 * k, 8);
      /* eight 0/1 bytes -> eight bits, least significant first */
      word |= ((x * 0x0102040810204080ull) >> 56) << (8 * k);
    }
    s->words[w] = word;
    m += (uint32_t)__builtin_popcountll(word);
  }
  s->n = n;
  s->m = m;
  s->has_sel = false;
}

/* The kept rows' indexes, in order. */
static const uint32_t *selection_indexes(selection *s) {
  if (s->has_sel)
    return s->sel;
  uint32_t m = 0;
  for (uint32_t w = 0; w < (s->n + 63) / 64; w++) {
    uint64_t word = s->words[w];
    uint32_t base = 64 * w;
    if (word == ~0ull) {
      for (uint32_t k = 0; k < 64; k++)
        s->sel[m + k] = base + k;
      m += 64;
      continue;
    }
    for (; word != 0; word &= word - 1)
      s->sel[m++] = base + (uint32_t)__builtin_ctzll(word);
  }
  s->has_sel = true;
  return s->sel;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define COMPRESS_AVX512 1

/* The kept values of a batch by AVX-512 compression, 8 or 16 rows per
 * instruction: no index per row.  Full-vector stores run past the kept
 * rows (into rows the next ones overwrite) while `room` (values the
 * column chunk holds from dst on) allows, masked stores after. */
__attribute__((target("avx512f,popcnt"))) static void compress8(const uint64_t *src,
                                                                 const selection *s,
                                                                 uint64_t *dst, int64_t room) {
  int64_t o = 0;
  for (uint32_t i = 0; i < s->n; i += 8) {
    __mmask8 k = (__mmask8)(s->words[i / 64] >> (i % 64));
    if (k == 0)
      continue;
    __m512i v = s->n - i >= 8 ? _mm512_loadu_si512(src + i) : _mm512_maskz_loadu_epi64(k, src + i);
    __m512i c = _mm512_maskz_compress_epi64(k, v);
    int cnt = __builtin_popcount(k);
    if (o + 8 <= room)
      _mm512_storeu_si512(dst + o, c);
    else
      _mm512_mask_storeu_epi64(dst + o, (__mmask8)((1u << cnt) - 1), c);
    o += cnt;
  }
}

__attribute__((target("avx512f,popcnt"))) static void compress4(const uint32_t *src,
                                                                 const selection *s,
                                                                 uint32_t *dst, int64_t room) {
  int64_t o = 0;
  for (uint32_t i = 0; i < s->n; i += 16) {
    __mmask16 k = (__mmask16)(s->words[i / 64] >> (i % 64));
    if (k == 0)
      continue;
    __m512i v = s->n - i >= 16 ? _mm512_loadu_si512(src + i) : _mm512_maskz_loadu_epi32(k, src + i);
    __m512i c = _mm512_maskz_compress_epi32(k, v);
    int cnt = __builtin_popcount(k);
    if (o + 16 <= room)
      _mm512_storeu_si512(dst + o, c);
    else
      _mm512_mask_storeu_epi32(dst + o, (__mmask16)((1u << cnt) - 1), c);
    o += cnt;
  }
}

/* String views (16 bytes: two 64-bit lanes each), 4 per vector; false
 * (nothing written) when a kept view of the batch is long (its bytes must
 * be copied).  all_inline: the chunk has no string data, so no view is
 * long and the check is skipped. */
__attribute__((target("avx512f,popcnt"))) static bool compress16(const uint64_t *src,
                                                                 const selection *s,
                                                                 uint64_t *dst, int64_t room,
                                                                 bool all_inline) {
  static const uint8_t twice[16] = {0x00, 0x03, 0x0C, 0x0F, 0x30, 0x33, 0x3C, 0x3F,
                                    0xC0, 0xC3, 0xCC, 0xCF, 0xF0, 0xF3, 0xFC, 0xFF};
  const __m512i twelve = _mm512_set1_epi32(12);
  for (uint32_t i = 0; i < s->n && !all_inline; i += 4) {
    unsigned k4 = (unsigned)(s->words[i / 64] >> (i % 64)) & 0xF;
    if (k4 == 0)
      continue;
    /* the views' lengths are 32-bit lanes 0, 4, 8, 12 */
    __mmask16 lanes = (__mmask16)((k4 & 1) | (k4 & 2) << 3 | (k4 & 4) << 6 | (k4 & 8) << 9);
    __m512i v = _mm512_maskz_loadu_epi32(lanes, src + 2 * i);
    if (_mm512_mask_cmpgt_epu32_mask(lanes, v, twelve) != 0)
      return false;
  }
  int64_t o = 0;
  for (uint32_t i = 0; i < s->n; i += 4) {
    unsigned k4 = (unsigned)(s->words[i / 64] >> (i % 64)) & 0xF;
    if (k4 == 0)
      continue;
    __mmask8 k = twice[k4];
    __m512i v = s->n - i >= 4 ? _mm512_loadu_si512(src + 2 * i)
                              : _mm512_maskz_loadu_epi64(k, src + 2 * i);
    __m512i c = _mm512_maskz_compress_epi64(k, v);
    int cnt = __builtin_popcount(k4);
    if (o + 4 <= room)
      _mm512_storeu_si512(dst + 2 * o, c);
    else
      _mm512_mask_storeu_epi64(dst + 2 * o, (__mmask8)((1u << (2 * cnt)) - 1), c);
    o += cnt;
  }
  return true;
}
#endif

static _Atomic bool simd = true;
void tsr__filter_set_simd(bool enabled) { atomic_store(&simd, enabled); }

/* Gathers the kept rows of a batch (rows base .. base + s->n of `in`) of
 * one column into out at row o: all of them by one copy, with AVX-512 by
 * compression, else through the rows' indexes. */
static void gather(const tsr__colread *in, tsr_type type, int64_t base, selection *s, bool avx512,
                   tsr__colchunk *out, int64_t o) {
  size_t w = tsr_type_width(type);
  unsigned char *dst = (unsigned char *)tsr__colchunk_values(out) + (size_t)o * w;
  const unsigned char *src = (const unsigned char *)in->values + (size_t)base * w;
  uint32_t m = s->m;
  bool done = false;
  if (m == s->n && w != 16) {
    memcpy(dst, src, (size_t)m * w);
    done = true;
  }
#ifdef COMPRESS_AVX512
  int64_t room = out->rows_cap - o;
  if (!done && avx512 && w == 8) {
    compress8((const uint64_t *)src, s, (uint64_t *)dst, room);
    done = true;
  } else if (!done && avx512 && w == 4) {
    compress4((const uint32_t *)src, s, (uint32_t *)dst, room);
    done = true;
  } else if (!done && avx512 && w == 16) {
    done = compress16((const uint64_t *)src, s, (uint64_t *)dst, room, in->data_bytes == 0);
  }
#else
  (void)avx512;
#endif
  const uint32_t *sel = done && in->null_count == 0 ? NULL : selection_indexes(s);
  switch (done ? 0 : w) {
  case 0:
    break;
  case 1:
#pragma GCC unroll 8
    for (uint32_t j = 0; j < m; j++)
      dst[j] = src[sel[j]];
    break;
  case 2:
#pragma GCC unroll 8
    for (uint32_t j = 0; j < m; j++)
      ((uint16_t *)dst)[j] = ((const uint16_t *)src)[sel[j]];
    break;
  case 4:
#pragma GCC unroll 8
    for (uint32_t j = 0; j < m; j++)
      ((uint32_t *)dst)[j] = ((const uint32_t *)src)[sel[j]];
    break;
  case 8:
#pragma GCC unroll 8
    for (uint32_t j = 0; j < m; j++)
      ((uint64_t *)dst)[j] = ((const uint64_t *)src)[sel[j]];
    break;
  default: { /* string views: long ones' bytes are copied */
    const tsr_string_view *sv = (const tsr_string_view *)src;
    tsr_string_view *dv = (tsr_string_view *)dst;
    char *data = tsr__colchunk_data(out);
    for (uint32_t j = 0; j < m; j++) {
      tsr_string_view v = sv[sel[j]];
      if (v.length > 12) {
        memcpy(data + out->data_bytes, in->data + v.u.ref.offset, v.length);
        v.u.ref.offset = (uint32_t)out->data_bytes;
        out->data_bytes += v.length;
      }
      dv[j] = v;
    }
    break;
  }
  }
  if (in->null_count > 0) {
    uint8_t *bits = tsr__colchunk_validity(out);
    int64_t nulls = 0;
    for (uint32_t j = 0; j < m; j++) {
      bool v = tsr__bit_get(in->validity, base + sel[j]);
      tsr__bit_set(bits, o + j, v);
      nulls += !v;
    }
    out->null_count += nulls;
  }
}

static tsr_status filter_kernel(const tsr_kernel_call *call) {
  tsr__ftask t = tsr__ftask_of(call);
  const filter_params *p = t.node->params;
  tsr__ftask_init_output(call);
  tsr__colread pred = {0}, req[16], cols[64];
  tsr__colread *reqs = req, *ins = cols;
  tsr__cprun *prun = NULL, *xrun[8] = {NULL}, **xruns = xrun;
  void *mem = NULL;
  tsr_status s = TSR_OK;
  if (p->n_required > 16 || p->ncols > 64 || p->nextra > 8) {
    /* Rare: many columns; the kernel's scratch comes from the budget. */
    size_t bytes = ((size_t)p->n_required + p->ncols) * sizeof(tsr__colread) +
                   (size_t)p->nextra * sizeof(tsr__cprun *);
    TSR_TRY(tsr_kernel_alloc(p->ctx, bytes, &mem));
    memset(mem, 0, bytes);
    reqs = mem;
    ins = reqs + p->n_required;
    xruns = (tsr__cprun **)(ins + p->ncols);
  }
  if (p->has_predicate)
    tsr__colread_get(&p->predicate, call, &pred);
  for (uint32_t i = 0; i < p->n_required; i++)
    tsr__colread_get(&p->required[i], call, &reqs[i]);
  for (uint32_t i = 0; i < p->ncols; i++)
    tsr__colread_get(&p->cols[i], call, &ins[i]);
  if (p->pred_prog != NULL) {
    TSR__TRY_GOTO(s, tsr__cprun_create(p->pred_prog, p->pred_value, p->ctx, t.chunk, &prun));
    for (uint32_t i = 0; i < p->ncols; i++)
      tsr__cprun_bind(prun, (int)i, &ins[i]);
  }
  /* Computed columns read the output's columns (rows of this chunk's
   * output): a gathered column's bitmap is written only when its input
   * has nulls; a computed column's always is. */
  for (uint32_t e = 0; e < p->nextra; e++) {
    const filter_extra *x = &p->extra[e];
    TSR__TRY_GOTO(s, tsr__cprun_create(x->prog, x->value, p->ctx, t.chunk, &xruns[e]));
    int nc = tsr__colprog_ncols(x->prog);
    for (int c = 0; c < nc; c++) {
      int slot = x->slot_of_col[c];
      if (slot < 0)
        continue;
      tsr__colchunk *oc = tsr__tablechunk_col(call->output, (uint32_t)slot);
      bool nulls = (uint32_t)slot >= p->ncols || ins[slot].null_count > 0;
      tsr__colread in = {oc->rows_cap, nulls, tsr__colchunk_values(oc),
                         nulls ? tsr__colchunk_validity(oc) : NULL, tsr__colchunk_data(oc),
                         UINT64_MAX /* filled as rows are gathered */};
      tsr__cprun_bind(xruns[e], c, &in);
    }
  }
  int64_t rows = p->ncols > 0 ? ins[0].rows : (p->has_predicate ? pred.rows : 0);
  int64_t o = 0;
  selection sl;
  uint8_t keep[BATCH + 64];
#ifdef COMPRESS_AVX512
  bool avx512 = atomic_load_explicit(&simd, memory_order_relaxed) &&
                __builtin_cpu_supports("avx512f");
#else
  bool avx512 = false;
#endif
  for (int64_t b = 0; b < rows; b += BATCH) {
    uint32_t n = (uint32_t)(rows - b < BATCH ? rows - b : BATCH);
    if (prun != NULL) {
      TSR__TRY_GOTO(s, tsr__cprun_keep(prun, b, (int)n, keep));
    } else if (p->has_predicate) {
      const uint8_t *v = (const uint8_t *)pred.values + b;
      for (uint32_t i = 0; i < n; i++)
        keep[i] = v[i] != 0;
      if (pred.null_count > 0)
        and_validity(keep, pred.validity, b, n);
    } else {
      memset(keep, 1, n);
    }
    for (uint32_t k = 0; k < p->n_required; k++)
      if (reqs[k].null_count > 0)
        and_validity(keep, reqs[k].validity, b, n);
    select_rows(&sl, keep, n);
    uint32_t m = sl.m;
    for (uint32_t c = 0; c < p->ncols && m > 0; c++)
      gather(&ins[c], p->cols[c].type, b, &sl, avx512, tsr__tablechunk_col(call->output, c), o);
    for (uint32_t e = 0; e < p->nextra && m > 0; e++)
      TSR__TRY_GOTO(s, tsr__cprun_store(xruns[e], o, (int)m,
                                        tsr__tablechunk_col(call->output, p->ncols + e), o));
    o += m;
  }
  for (uint32_t c = 0; c < p->ncols + p->nextra; c++)
    tsr__tablechunk_col(call->output, c)->rows = o;
fail:
  tsr__cprun_destroy(&prun);
  for (uint32_t e = 0; e < p->nextra; e++)
    tsr__cprun_destroy(&xruns[e]);
  tsr_free(p->ctx, mem);
  return s;
}

static tsr_status lower_filter(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                               uint32_t *out) {
  return tsr__fnode_lower_map(e, g, in, out, "frame_filter", filter_kernel, NULL, 0);
}

static void hash_ref(tsr__hash *h, const tsr__colref *r) {
  tsr__hash_u64(h, r->input);
  tsr__hash_u64(h, r->slot);
  tsr__hash_u64(h, r->raw);
  tsr__hash_u64(h, (uint64_t)r->type.id);
}

static void hash_filter(const tsr__expr *e, tsr__hash *h) {
  const filter_params *p = e->params;
  tsr__fnode_hash(&p->base, h);
  tsr__hash_u64(h, p->has_predicate);
  if (p->has_predicate)
    hash_ref(h, &p->predicate);
  tsr__hash_u64(h, p->pred_prog != NULL);
  if (p->pred_prog != NULL)
    tsr__colprog_hash(p->pred_prog, p->pred_value, h);
  tsr__hash_u64(h, p->n_required);
  for (uint32_t i = 0; i < p->n_required; i++)
    hash_ref(h, &p->required[i]);
  for (uint32_t i = 0; i < p->ncols; i++)
    hash_ref(h, &p->cols[i]);
  tsr__hash_u64(h, p->nextra);
  for (uint32_t i = 0; i < p->nextra; i++) {
    const filter_extra *x = &p->extra[i];
    tsr__colprog_hash(x->prog, x->value, h);
    for (int c = 0; c < tsr__colprog_ncols(x->prog); c++)
      tsr__hash_u64(h, (uint64_t)(int64_t)x->slot_of_col[c]);
  }
}

static const tsr__op op_filter = {"frame_filter", lower_filter, tsr__fnode_destroy_params, false,
                                  NULL, hash_filter};

bool tsr__is_filter_node(const tsr__expr *e) { return e != NULL && e->op == &op_filter; }

/* The filter node over f: keeps the rows where the predicate (a bool
 * column over f's rows, or value pred_value of pred_prog, a program over
 * f's columns, or neither) is true and the columns `required` (indexes
 * into f, n_required of them) are valid. */
static tsr_status filter_node(tsr_frame *f, const tsr__col *predicate, tsr__colprog *pred_prog,
                              int pred_value, const int *required, int n_required,
                              tsr_frame **out) {
  tsr_ctx *ctx = f->ctx;
  int64_t nchunks = f->rows->nchunks;
  int ncols = f->ncols;
  int total = ncols + n_required + 1;
  tsr_status status = TSR_OK;
  filter_params *p = NULL;
  tsr__expr **inputs = NULL, *node = NULL;
  tsr__rows *rows = NULL;
  tsr_type *types = NULL;
  int64_t *data_cap = NULL;
  tsr__col *cols = NULL;
  tsr__colref *refs = NULL;
  int *which = NULL;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, 1, sizeof *p, (void **)&p));
  p->ctx = ctx;
  p->base.destroy_extra = filter_destroy;
  if (pred_prog != NULL) {
    tsr__colprog_retain(pred_prog);
    p->pred_prog = pred_prog;
    p->pred_value = pred_value;
  }
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)total + 1, sizeof *inputs, (void **)&inputs));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)total + 1, sizeof *refs, (void **)&refs));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)total + 1, sizeof *which, (void **)&which));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)ncols + 1, sizeof *p->cols, (void **)&p->cols));
  TSR__TRY_GOTO(status,
                tsr_calloc(ctx, (size_t)n_required + 1, sizeof *p->required, (void **)&p->required));
  /* The columns read: f's columns, then the required ones, then the predicate
   * (which may live in a node f does not use: it goes through a one-column
   * frame of its own). */
  for (int i = 0; i < ncols; i++)
    which[i] = i;
  for (int i = 0; i < n_required; i++)
    which[ncols + i] = required[i];
  uint32_t n_inputs = 0;
  tsr__frame_colrefs(f, ncols + n_required, which, inputs, &n_inputs, refs);
  for (int i = 0; i < ncols; i++)
    p->cols[i] = refs[i];
  for (int i = 0; i < n_required; i++)
    p->required[i] = refs[ncols + i];
  p->ncols = (uint32_t)ncols;
  p->n_required = (uint32_t)n_required;
  if (predicate != NULL) {
    uint32_t j = 0;
    while (j < n_inputs && inputs[j] != predicate->node)
      j++;
    if (j == n_inputs)
      inputs[n_inputs++] = predicate->node;
    p->has_predicate = 1;
    p->predicate = (tsr__colref){j, predicate->slot, predicate->raw, predicate->type};
  }
  TSR__TRY_GOTO(status, tsr__rows_create(ctx, nchunks, f->rows->cap, NULL, &rows));
  TSR__TRY_GOTO(status,
                tsr_calloc(ctx, (size_t)ncols + 1, sizeof *types, (void **)&types));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)ncols * (size_t)nchunks + 1, sizeof *data_cap,
                                   (void **)&data_cap));
  for (int i = 0; i < ncols; i++) {
    types[i] = f->cols[i].type;
    for (int64_t c = 0; c < nchunks; c++)
      data_cap[(int64_t)i * nchunks + c] = tsr__col_data_cap(f, i, c);
  }
  {
    filter_params *owned = p;
    p = NULL; /* the node owns it, even on failure */
    TSR__TRY_GOTO(status, tsr__fnode_create(ctx, &op_filter, rows, (uint32_t)ncols, types,
                                            data_cap, n_inputs, inputs, owned, &node));
  }
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)ncols + 1, sizeof *cols, (void **)&cols));
  for (int i = 0; i < ncols; i++)
    cols[i] = (tsr__col){f->cols[i].name, f->cols[i].type, f->cols[i].dict, node, (uint32_t)i,
                         false};
  TSR__TRY_GOTO(status, tsr__frame_make(ctx, ncols, cols, rows, out));
fail:
  if (p != NULL) {
    filter_destroy(&p->base);
    tsr_free(ctx, p);
  }
  tsr_free(ctx, cols);
  tsr_free(ctx, which);
  tsr_free(ctx, refs);
  tsr_free(ctx, inputs);
  tsr_free(ctx, types);
  tsr_free(ctx, data_cap);
  tsr__expr_release(&node);
  tsr__rows_release(&rows);
  return status;
}

tsr_status tsr__frame_filter_by(tsr_frame *f, const tsr__col *predicate, tsr_frame **out) {
  static const char fn[] = "filter";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(f != NULL && predicate != NULL, TSR_EINVAL, "%s: frame or predicate is NULL", fn);
  TSR_CHECK(predicate->type.id == TSR_COL_BOOL, TSR_EDTYPE,
            "%s: the predicate is %s, not bool", fn, tsr_type_name(predicate->type));
  return filter_node(f, predicate, NULL, 0, NULL, 0, out);
}

tsr_status tsr__frame_filter_prog(tsr_frame *f, tsr__colprog *prog, int value, tsr_frame **out) {
  *out = NULL;
  tsr_type t;
  TSR_TRY(tsr__colprog_check(prog, value, true, &t));
  return filter_node(f, NULL, prog, value, NULL, 0, out);
}

tsr_status tsr__filter_extend(const tsr__expr *node, tsr__colprog *prog, int value, tsr_type type,
                              const int *slot_of_col, tsr__expr **out, uint32_t *slot) {
  *out = NULL;
  const filter_params *q = node->params;
  tsr_ctx *ctx = q->ctx;
  const tsr__fnode *b = &q->base;
  int64_t nchunks = b->rows->nchunks;
  uint32_t ncols = b->ncols + 1;
  tsr_status status = TSR_OK;
  filter_params *p = NULL;
  tsr_type *types = NULL;
  int64_t *data_cap = NULL;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, 1, sizeof *p, (void **)&p));
  p->ctx = ctx;
  p->base.destroy_extra = filter_destroy;
  p->has_predicate = q->has_predicate;
  p->predicate = q->predicate;
  if (q->pred_prog != NULL) {
    tsr__colprog_retain(q->pred_prog);
    p->pred_prog = q->pred_prog;
    p->pred_value = q->pred_value;
  }
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)q->ncols + 1, sizeof *p->cols, "columns",
                                         (void **)&p->cols));
  memcpy(p->cols, q->cols, q->ncols * sizeof *p->cols);
  p->ncols = q->ncols;
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)q->n_required + 1, sizeof *p->required,
                                         "columns", (void **)&p->required));
  memcpy(p->required, q->required, q->n_required * sizeof *p->required);
  p->n_required = q->n_required;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)q->nextra + 1, sizeof *p->extra,
                                   (void **)&p->extra));
  for (uint32_t i = 0; i <= q->nextra; i++) {
    const filter_extra *from = i < q->nextra ? &q->extra[i] : NULL;
    tsr__colprog *xp = from ? from->prog : prog;
    int nc = tsr__colprog_ncols(xp);
    filter_extra *x = &p->extra[i];
    TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)nc + 1, sizeof *x->slot_of_col,
                                           "column map", (void **)&x->slot_of_col));
    memcpy(x->slot_of_col, from ? from->slot_of_col : slot_of_col, (size_t)nc * sizeof(int));
    tsr__colprog_retain(xp);
    x->prog = xp;
    x->value = from ? from->value : value;
    p->nextra = i + 1;
  }
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, ncols, sizeof *types, "column types",
                                         (void **)&types));
  memcpy(types, b->types, b->ncols * sizeof *types);
  types[b->ncols] = type;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)ncols * (size_t)nchunks + 1, sizeof *data_cap,
                                   (void **)&data_cap));
  if (b->data_cap != NULL)
    memcpy(data_cap, b->data_cap, (size_t)b->ncols * (size_t)nchunks * sizeof *data_cap);
  if (type.id == TSR_COL_STRING)
    for (int64_t c = 0; c < nchunks; c++)
      data_cap[(int64_t)b->ncols * nchunks + c] = tsr__colprog_data_cap(prog, value, c);
  {
    filter_params *owned = p;
    p = NULL; /* the node owns it, even on failure */
    status = tsr__fnode_create(ctx, &op_filter, b->rows, ncols, types, data_cap, node->n_inputs,
                               node->inputs, owned, out);
  }
  *slot = b->ncols;
fail:
  if (p != NULL) {
    filter_destroy(&p->base);
    tsr_free(ctx, p);
  }
  tsr_free(ctx, types);
  tsr_free(ctx, data_cap);
  return status;
}

tsr_status tsr_frame_drop_nulls(tsr_frame *f, int n, const char *const *names, tsr_frame **out) {
  static const char fn[] = "tsr_frame_drop_nulls";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(f != NULL, TSR_EINVAL, "%s: frame is NULL", fn);
  TSR_CHECK(n >= 0 && (n == 0 || names != NULL), TSR_EINVAL, "%s: n = %d names", fn, n);
  int count = n > 0 ? n : f->ncols;
  int *required;
  TSR_TRY(tsr__alloc_array(f->ctx, (size_t)count + 1, sizeof *required, "columns",
                           (void **)&required));
  tsr_status status = TSR_OK;
  for (int i = 0; i < count && status == TSR_OK; i++) {
    if (n > 0)
      status = tsr__frame_find(f, fn, names[i], &required[i]);
    else
      required[i] = i;
  }
  if (status == TSR_OK)
    status = filter_node(f, NULL, NULL, 0, required, count, out);
  tsr_free(f->ctx, required);
  return status;
}

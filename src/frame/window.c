/* window.c — tsr_frame_window: SQL's window functions `f(x) OVER
 * (PARTITION BY p ORDER BY o)` as a new column of the input, in its row
 * order: row_number, rank, dense_rank, lag, lead, cumulative sum (SQL's
 * default frame RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW, so peers
 * share a value) and a rolling mean over ROWS BETWEEN n - 1 PRECEDING AND
 * CURRENT ROW.
 *
 * One stable sort by (partition keys, then order keys) with the sort
 * engine (sort_impl.h) gives the rows in window order with the places where
 * a partition or a group of peers starts; one pass in that order computes
 * each row's value into an array indexed by input row, and the engine's
 * copy kernel returns the input plus that column.  The pass is sequential
 * in an order fixed by the input, so float results are the same bits for
 * any thread count.  The rolling mean adds no value twice and subtracts
 * none: positions are cut into blocks of n, and a window is a suffix of one
 * block plus a prefix of the next (van Herk / Gil-Werman), so it is O(1) a
 * row, and NaN and infinities stay exact.  Under MPI the input is computed
 * whole on every rank and the window on every rank alone
 * (window_everywhere). */
#include <math.h>
#include <string.h>
#include <tessera/dist.h>

#include "sort_impl.h"
#include "value_text.h"

/* The numeric column (c, ci) chunk c's value of row r as a double or an
 * integer: one switch per chunk, not per row. */
static void chunk_to_f64(tsr_type type, const void *v, int64_t n, double *out) {
  switch (type.id) {
#define C(ID, T)                                                                                  \
  case ID:                                                                                        \
    for (int64_t i = 0; i < n; i++)                                                               \
      out[i] = (double)((const T *)v)[i];                                                         \
    break;
    C(TSR_COL_BOOL, uint8_t)
    C(TSR_COL_INT8, int8_t)
    C(TSR_COL_INT16, int16_t)
    C(TSR_COL_INT32, int32_t)
    C(TSR_COL_INT64, int64_t)
    C(TSR_COL_UINT8, uint8_t)
    C(TSR_COL_UINT16, uint16_t)
    C(TSR_COL_UINT32, uint32_t)
    C(TSR_COL_UINT64, uint64_t)
    C(TSR_COL_FLOAT32, float)
    C(TSR_COL_FLOAT64, double)
#undef C
  default:
    break;
  }
}

/* Integers as int64; false when a uint64 value does not fit. */
static bool chunk_to_i64(tsr_type type, const void *v, int64_t n, int64_t *out) {
  switch (type.id) {
#define C(ID, T)                                                                                  \
  case ID:                                                                                        \
    for (int64_t i = 0; i < n; i++)                                                               \
      out[i] = (int64_t)((const T *)v)[i];                                                        \
    break;
    C(TSR_COL_BOOL, uint8_t)
    C(TSR_COL_INT8, int8_t)
    C(TSR_COL_INT16, int16_t)
    C(TSR_COL_INT32, int32_t)
    C(TSR_COL_INT64, int64_t)
    C(TSR_COL_UINT8, uint8_t)
    C(TSR_COL_UINT16, uint16_t)
    C(TSR_COL_UINT32, uint32_t)
#undef C
  case TSR_COL_UINT64:
    for (int64_t i = 0; i < n; i++) {
      uint64_t x = ((const uint64_t *)v)[i];
      if (x > (uint64_t)INT64_MAX)
        return false;
      out[i] = (int64_t)x;
    }
    break;
  default:
    break;
  }
  return true;
}

static bool is_float(tsr_coltype t) { return t == TSR_COL_FLOAT32 || t == TSR_COL_FLOAT64; }
static bool is_number(tsr_coltype t) { return t <= TSR_COL_FLOAT64; }

/* The argument column's values in window order: x (w bytes each; doubles
 * or int64 when conv is 1 or 2, the column's own values when 0) and valid. */
static tsr_status gather_sorted(const tsr__sorter *s, const char *fn, int col, int conv,
                                const uint64_t *pos, void *x, uint8_t *valid) {
  const int nc = s->f->ncols;
  tsr_type type = s->f->cols[col].type;
  size_t w = conv ? 8 : tsr_type_width(type);
  void *tmp = NULL;
  int64_t maxrows = 0;
  for (int64_t c = 0; c < s->nchunks; c++)
    maxrows = s->rows[c] > maxrows ? s->rows[c] : maxrows;
  /* Converted chunks one after the other, by global row. */
  tsr_status status = TSR_OK;
  if (conv) {
    TSR_TRY(tsr__alloc_array(s->ctx, (size_t)s->total + 1, 8, "window values", &tmp));
    for (int64_t c = 0; c < s->nchunks; c++) {
      const tsr__colread *r = &s->cr[c * nc + col];
      void *dst = (char *)tmp + (size_t)s->row_start[c] * 8;
      if (conv == 1)
        chunk_to_f64(type, r->values, s->rows[c], dst);
      else
        TSR__CHECK_GOTO(status, chunk_to_i64(type, r->values, s->rows[c], dst), TSR_EOVERFLOW,
                        "%s: column '%s' holds a uint64 value above 2^63 - 1 (the cumulative "
                        "sum of integers is int64)",
                        fn, s->f->cols[col].name);
    }
  }
  for (int64_t i = 0; i < s->total; i++) {
    int64_t c = (int64_t)(pos[i] >> 32), row = (int64_t)(pos[i] & 0xffffffffu);
    const tsr__colread *r = &s->cr[c * nc + col];
    valid[i] = r->validity == NULL || tsr__bit_get(r->validity, row);
    const char *src = conv ? (const char *)tmp + (size_t)(s->row_start[c] + row) * 8
                           : (const char *)r->values + (size_t)row * w;
    tsr__copy_value((char *)x + (size_t)i * w, src, w);
  }
fail:
  tsr_free(s->ctx, tmp);
  return status;
}

/* The window function's values, val[g] and vvalid[g] (vvalid NULL for the
 * ranks: never null) for the input row g of each position of pos. */
static tsr_status compute(const tsr__sorter *s, const char *fn, const tsr_window *spec, int col,
                          tsr_type rtype, const void *dflt, const uint64_t *pos,
                          const uint8_t *flags, void *val, uint8_t *vvalid) {
  tsr_ctx *ctx = s->ctx;
  const int64_t n = s->total;
  size_t w = tsr_type_width(rtype);
  void *x = NULL;
  uint8_t *xv = NULL;
  double *suf = NULL;
  int64_t *csuf = NULL;
  tsr_status status = TSR_OK;
  tsr_window_func func = spec->func;
#define G(i) (s->row_start[pos[i] >> 32] + (int64_t)(pos[i] & 0xffffffffu))
  if (func == TSR_WIN_ROW_NUMBER || func == TSR_WIN_RANK || func == TSR_WIN_DENSE_RANK) {
    int64_t *out = val, rn = 0, rk = 0, dr = 0;
    for (int64_t i = 0; i < n; i++) {
      if (flags[i] & 1) {
        rn = 0;
        dr = 0;
      }
      rn++;
      if (flags[i]) {
        dr++;
        rk = rn;
      }
      out[G(i)] = func == TSR_WIN_ROW_NUMBER ? rn : func == TSR_WIN_RANK ? rk : dr;
    }
    return TSR_OK;
  }
  int conv = func == TSR_WIN_LAG || func == TSR_WIN_LEAD ? 0
             : rtype.id == TSR_COL_INT64                 ? 2
                                                         : 1;
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)n + 1, conv ? 8 : w, "window values", &x));
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)n + 1, 1, "window validity", (void **)&xv));
  TSR__TRY_GOTO(status, gather_sorted(s, fn, col, conv, pos, x, xv));
  if (func == TSR_WIN_LAG || func == TSR_WIN_LEAD) {
    int64_t off = spec->n == 0 ? 1 : spec->n;
    if (off > n)
      off = n; /* as far: no row there (and i + off cannot overflow) */
    int64_t start = 0, end = 0;
    for (int64_t i = 0; i < n; i++) {
      if (flags[i] & 1) {
        start = i;
        for (end = i + 1; end < n && !(flags[end] & 1); end++) {
        }
      }
      int64_t j = func == TSR_WIN_LAG ? i - off : i + off, g = G(i);
      char *d = (char *)val + (size_t)g * w;
      if (j >= start && j < end) {
        tsr__copy_value(d, (const char *)x + (size_t)j * w, w);
        vvalid[g] = xv[j];
      } else if (dflt != NULL) {
        memcpy(d, dflt, w);
        vvalid[g] = 1;
      } else {
        memset(d, 0, w);
        vvalid[g] = 0;
      }
    }
  } else if (func == TSR_WIN_CUMSUM) {
    /* Peers (equal on every key) share the sum through the last of them. */
    double fs = 0;
    int64_t is = 0, cnt = 0;
    for (int64_t i = 0; i < n;) {
      if (flags[i] & 1) {
        fs = 0;
        is = 0;
        cnt = 0;
      }
      int64_t e = i + 1;
      while (e < n && !flags[e])
        e++;
      for (int64_t j = i; j < e; j++) {
        if (!xv[j])
          continue;
        cnt++;
        if (conv == 2)
          TSR__CHECK_GOTO(status, !__builtin_add_overflow(is, ((const int64_t *)x)[j], &is),
                          TSR_EOVERFLOW, "%s: the cumulative sum of column '%s' overflows int64",
                          fn, spec->column);
        else
          fs += ((const double *)x)[j];
      }
      for (int64_t j = i; j < e; j++) {
        int64_t g = G(j);
        if (conv == 2)
          ((int64_t *)val)[g] = cnt ? is : 0;
        else
          ((double *)val)[g] = cnt ? fs : 0;
        vvalid[g] = cnt > 0;
      }
      i = e;
    }
  } else { /* TSR_WIN_ROLLING_MEAN */
    const int64_t m = spec->n;
    double *xs = x;
    for (int64_t i = 0; i < n; i++)
      if (!xv[i])
        xs[i] = 0;
    /* Within each partition, blocks of m positions from its start: suffix
     * sums (to the block's end) and prefix sums (from its start). */
    TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)n + 1, sizeof *suf, "window sums",
                                           (void **)&suf));
    TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)n + 1, sizeof *csuf, "window counts",
                                           (void **)&csuf));
    double *out = val;
    for (int64_t p = 0; p < n;) {
      int64_t e = p + 1;
      while (e < n && !(flags[e] & 1))
        e++;
      for (int64_t b = p; b < e; b += m) {
        int64_t be = b + m < e ? b + m : e;
        double acc = 0;
        int64_t c = 0;
        for (int64_t i = be - 1; i >= b; i--) {
          acc = xs[i] + acc;
          c += xv[i];
          suf[i] = acc;
          csuf[i] = c;
        }
      }
      double pre = 0;
      int64_t cpre = 0;
      for (int64_t i = p; i < e; i++) {
        if ((i - p) % m == 0) {
          pre = 0;
          cpre = 0;
        }
        pre += xs[i];
        cpre += xv[i];
        int64_t s0 = i - m + 1;
        double sum = pre;
        int64_t cnt = cpre;
        if (s0 > p && (s0 - p) % m != 0) { /* a suffix of the previous block too */
          sum = suf[s0] + pre;
          cnt += csuf[s0];
        }
        int64_t g = G(i);
        out[g] = cnt ? sum / (double)cnt : 0;
        vvalid[g] = cnt > 0;
      }
      p = e;
    }
  }
#undef G
fail:
  tsr_free(ctx, csuf);
  tsr_free(ctx, suf);
  tsr_free(ctx, xv);
  tsr_free(ctx, x);
  return status;
}

/* The window's column over f's rows, on this rank alone (f's chunks are
 * computed here; with several ranks, see window_everywhere). */
static tsr_status window_sorted(tsr_frame *f, const char *fn, const tsr_window *spec, int col,
                                const tsr__col *rcol, const void *dflt, tsr_frame **out) {
  tsr_ctx *ctx = f->ctx;
  tsr__sorter *s = NULL;
  uint64_t *pos = NULL;
  uint8_t *flags = NULL, *vvalid = NULL;
  void *val = NULL;
  const bool ranks = spec->func <= TSR_WIN_DENSE_RANK;
  size_t w = tsr_type_width(rcol->type);
  tsr_status status;
  TSR__TRY_GOTO(status, tsr__sorter_create(f, fn, spec->norder, spec->order_by, spec->npartition,
                                           spec->partition_by, &s));
  TSR__TRY_GOTO(status, tsr__sorter_load(s));
  TSR__TRY_GOTO(status, tsr__sorter_runs(s, -1));
  const size_t n = (size_t)s->total + 1;
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, n, sizeof *pos, "window order", (void **)&pos));
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, n, 1, "window flags", (void **)&flags));
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, n, w, "window results", &val));
  if (!ranks)
    TSR__TRY_GOTO(status, tsr__alloc_array(ctx, n, 1, "window validity", (void **)&vvalid));
  TSR__TRY_GOTO(status, tsr__sorter_order(s, pos, flags));
  TSR__TRY_GOTO(status, compute(s, fn, spec, col, rcol->type, dflt, pos, flags, val, vvalid));
  TSR__TRY_GOTO(status, tsr__sorter_with_column(s, rcol, val, vvalid, out));
fail:
  tsr_free(ctx, vvalid);
  tsr_free(ctx, val);
  tsr_free(ctx, flags);
  tsr_free(ctx, pos);
  tsr__sorter_destroy(&s);
  return status;
}

/* Several MPI ranks: a window needs whole partitions in order, so every
 * rank computes the whole input (tsr__frame_persist_whole: each rank computes the
 * chunks it owns and receives the others'), then runs the one-rank
 * algorithm over it with the context's distribution turned off for that
 * step: no task graph of it, no collective, touches MPI.  The sort and the
 * pass are thus computed on every rank (redundant work, docs/frames.md),
 * and the result is one rank's bit for bit, whole on every rank, with no
 * result gather: the input moved once is all that travels.  A failure in
 * the local step (memory limit) is agreed once distribution is back. */
static tsr_status window_everywhere(tsr_frame *f, const char *fn, const tsr_window *spec, int col,
                                    const tsr__col *rcol, const void *dflt, tsr_frame **out) {
  tsr_ctx *ctx = f->ctx;
  tsr_frame *in = NULL;
  /* Collective; a failure after its run may be this rank's alone, so it
   * skips the local step and is agreed below with the others' status. */
  tsr_status status = tsr__frame_persist_whole(f, &in);
  if (status == TSR_OK)
    status = tsr_ctx_set_distributed(ctx, false);
  if (status == TSR_OK) {
    status = window_sorted(in, fn, spec, col, rcol, dflt, out);
    tsr_status back = tsr_ctx_set_distributed(ctx, true);
    if (status == TSR_OK)
      status = back;
  }
  status = tsr_ctx_agree(ctx, status);
  if (status != TSR_OK)
    tsr_frame_destroy(out);
  tsr_frame_destroy(&in);
  return status;
}

static const char *func_name(tsr_window_func f) {
  static const char *const names[] = {"row_number", "rank", "dense_rank",  "lag",
                                      "lead",       "cumsum", "rolling_mean"};
  return (unsigned)f < sizeof names / sizeof *names ? names[f] : "?";
}

tsr_status tsr_frame_window(tsr_frame *f, const char *name, const tsr_window *spec,
                            tsr_frame **out) {
  static const char fn[] = "tsr_frame_window";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(f != NULL && spec != NULL, TSR_EINVAL, "%s: %s is NULL", fn,
            f == NULL ? "frame" : "spec");
  TSR_CHECK(name != NULL && name[0] != '\0', TSR_EINVAL,
            "%s: the result column's name is NULL or empty", fn);
  TSR_CHECK(tsr_frame_col_index(f, name) < 0, TSR_EINVAL,
            "%s: the frame already has a column named '%s' (choose another name for the result)",
            fn, name);
  TSR_CHECK((unsigned)spec->func <= TSR_WIN_ROLLING_MEAN, TSR_EINVAL,
            "%s: %d is not a tsr_window_func", fn, (int)spec->func);
  const int npart = spec->npartition, norder = spec->norder;
  TSR_CHECK(npart >= 0 && (npart == 0 || spec->partition_by != NULL), TSR_EINVAL,
            "%s: npartition = %d with partition_by %s", fn, npart,
            spec->partition_by ? "given" : "NULL");
  TSR_CHECK(norder >= 0 && (norder == 0 || spec->order_by != NULL), TSR_EINVAL,
            "%s: norder = %d with order_by %s", fn, norder, spec->order_by ? "given" : "NULL");
  for (int i = 0; i < npart; i++) {
    int c;
    TSR_CHECK(spec->partition_by[i] != NULL, TSR_EINVAL, "%s: partition key %d is NULL", fn, i);
    TSR_TRY(tsr__frame_find(f, fn, spec->partition_by[i], &c));
  }
  for (int i = 0; i < norder; i++) {
    int c;
    TSR_CHECK(spec->order_by[i].column != NULL, TSR_EINVAL,
              "%s: the column of order key %d is NULL", fn, i);
    TSR_TRY(tsr__frame_find(f, fn, spec->order_by[i].column, &c));
  }
  const tsr_window_func func = spec->func;
  tsr__col rcol = {(char *)name, {TSR_COL_INT64, 0}, NULL, NULL, 0, false};
  int col = -1;
  unsigned char dflt[16];
  bool has_dflt = false;
  if (func >= TSR_WIN_LAG) {
    TSR_CHECK(spec->column != NULL, TSR_EINVAL, "%s: %s needs spec->column", fn,
              func_name(func));
    TSR_TRY(tsr__frame_find(f, fn, spec->column, &col));
    tsr_type t = f->cols[col].type;
    if (func == TSR_WIN_LAG || func == TSR_WIN_LEAD) {
      TSR_CHECK(spec->n >= 0, TSR_EINVAL, "%s: %s offset n = %lld is negative", fn,
                func_name(func), (long long)spec->n);
      TSR_CHECK(t.id != TSR_COL_STRING, TSR_ENOTSUP,
                "%s: %s of the string column '%s' is not supported (cast it to dict first)", fn,
                func_name(func), spec->column);
      rcol = f->cols[col];
      rcol.name = (char *)name;
      if (spec->default_value != NULL) {
        TSR_CHECK(t.id != TSR_COL_DICT, TSR_ENOTSUP,
                  "%s: a default for %s of the dictionary column '%s' is not supported "
                  "(tsr_frame_fill_null the result instead)",
                  fn, func_name(func), spec->column);
        TSR_CHECK(tsr__vt_parse(t, spec->default_value, strlen(spec->default_value), dflt),
                  TSR_EPARSE, "%s: the default '%s' is not a %s value (column '%s')", fn,
                  spec->default_value, tsr_type_name(t), spec->column);
        has_dflt = true;
      }
    } else {
      TSR_CHECK(is_number(t.id), TSR_EINVAL,
                "%s: %s needs a numeric column; '%s' is %s", fn, func_name(func), spec->column,
                tsr_type_name(t));
      rcol.type.id = func == TSR_WIN_CUMSUM && !is_float(t.id) ? TSR_COL_INT64 : TSR_COL_FLOAT64;
      if (func == TSR_WIN_ROLLING_MEAN)
        TSR_CHECK(spec->n >= 1, TSR_EINVAL, "%s: rolling_mean over n = %lld rows (at least 1)",
                  fn, (long long)spec->n);
    }
  }
  if (tsr_ctx_nranks(f->ctx) > 1)
    return window_everywhere(f, fn, spec, col, &rcol, has_dflt ? dflt : NULL, out);
  return window_sorted(f, fn, spec, col, &rcol, has_dflt ? dflt : NULL, out);
}

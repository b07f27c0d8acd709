/* describe.c — tsr_frame_describe and tsr_frame_describe_strings: summary
 * statistics of every numeric column (count, mean, std, min, quartiles,
 * max: pandas' describe()) and of every string column (count, unique, top,
 * freq: pandas' describe(include='object')), as small frames a C program
 * reads with tsr_frame_compute.
 *
 * Numbers: one group-by over all rows (groupby.c) with eight aggregates a
 * column (count, mean, std with ddof 1, min, exact quantiles 0.25, 0.5,
 * 0.75 by linear interpolation, max; float32 cast to float64 first), whose one row is laid out as pandas
 * prints it: a `statistic` string column, then one float64 column per
 * input column.  Strings: the same group-by with count and nunique, and
 * each column's value_counts (value_counts.c) for the most frequent value
 * (ties: the first seen).  Under MPI the group-by and value_counts run
 * across the ranks, bitwise one rank's, so both results are too. */
#include <string.h>

#include <tessera/dist.h>

#include "frame_impl.h"

static bool is_numeric(tsr_coltype t) { return t >= TSR_COL_INT8 && t <= TSR_COL_FLOAT64; }
static bool is_text(tsr_coltype t) { return t == TSR_COL_STRING || t == TSR_COL_DICT; }

/* Row 0 of result column col as a double; *valid false for null. */
static tsr_status value_f64(const tsr_frame_result *r, int col, double *out, bool *valid) {
  unsigned char buf[16] = {0};
  uint8_t bits = 0;
  tsr_type t = tsr_frame_result_col_type(r, col);
  TSR_TRY(tsr_frame_result_values(r, col, buf, tsr_type_width(t), &bits));
  *valid = bits & 1;
  switch (t.id) {
#define C(ID, T)                                                                                  \
  case ID: {                                                                                      \
    T x;                                                                                          \
    memcpy(&x, buf, sizeof x);                                                                    \
    *out = (double)x;                                                                             \
    break;                                                                                        \
  }
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
    *out = 0;
    break;
  }
  return TSR_OK;
}

/* Under MPI a failure of this rank's alone (an allocation) becomes every
 * rank's before the next collective step: every rank calls this at the
 * same points. */
static tsr_status agreed(tsr_ctx *ctx, tsr_status status) {
  return tsr_ctx_nranks(ctx) > 1 ? tsr_ctx_agree(ctx, status) : status;
}

static tsr_status check_args(const char *fn, tsr_frame *f, tsr_frame **out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(f != NULL, TSR_EINVAL, "%s: frame is NULL", fn);
  return TSR_OK;
}

#define NSTATS 8

tsr_status tsr_frame_describe(tsr_frame *f, tsr_frame **out) {
  static const char fn[] = "tsr_frame_describe";
  TSR_TRY(check_args(fn, f, out));
  tsr_ctx *ctx = f->ctx;
  int nnum = 0;
  for (int c = 0; c < f->ncols; c++)
    nnum += is_numeric(f->cols[c].type.id);
  TSR_CHECK(nnum > 0, TSR_EINVAL,
            "%s: the frame has no numeric column (tsr_frame_describe_strings describes "
            "strings)",
            fn);
  static const tsr_agg_op ops[NSTATS] = {TSR_AGG_COUNT,    TSR_AGG_MEAN,     TSR_AGG_STD,
                                         TSR_AGG_MIN,      TSR_AGG_QUANTILE, TSR_AGG_QUANTILE,
                                         TSR_AGG_QUANTILE, TSR_AGG_MAX};
  static const double qs[NSTATS] = {0, 0, 0, 0, 0.25, 0.5, 0.75, 0};
  tsr_agg *aggs = NULL;
  tsr_column_data *cols = NULL;
  double *vals = NULL;
  uint8_t *valid = NULL;
  tsr_frame *g = NULL;
  tsr_frame_result *res = NULL;
  tsr_status status;
  const size_t na = (size_t)nnum * NSTATS;
  status = tsr_calloc(ctx, na, sizeof *aggs, (void **)&aggs);
  if (status == TSR_OK)
    status = tsr_calloc(ctx, (size_t)nnum + 1, sizeof *cols, (void **)&cols);
  if (status == TSR_OK)
    status = tsr_calloc(ctx, na, sizeof *vals, (void **)&vals);
  if (status == TSR_OK)
    status = tsr_calloc(ctx, (size_t)nnum, 1, (void **)&valid);
  TSR__TRY_GOTO(status, agreed(ctx, status));
  for (int c = 0, j = 0; c < f->ncols; c++) {
    if (!is_numeric(f->cols[c].type.id))
      continue;
    for (int k = 0; k < NSTATS; k++)
      aggs[j * NSTATS + k] = (tsr_agg){.op = ops[k], .column = f->cols[c].name, .q = qs[k],
                                        .ddof = 1};
    j++;
  }
  /* float32 columns as float64, so the quartiles interpolate in float64 (pandas'). */
  tsr_frame *in = f;
  for (int c = 0; c < f->ncols; c++) {
    if (f->cols[c].type.id != TSR_COL_FLOAT32)
      continue;
    tsr_frame *next = NULL;
    status = tsr_frame_cast(in, f->cols[c].name, (tsr_type){TSR_COL_FLOAT64, 0}, &next);
    if (in != f)
      tsr_frame_destroy(&in);
    in = next;
    if (status != TSR_OK) {
      in = f;
      break;
    }
  }
  status = agreed(ctx, status); /* the casts are lazy: failures of this rank's alone */
  if (status == TSR_OK)
    status = tsr_frame_groupby(in, 0, NULL, (int)na, aggs, NULL, &g);
  if (in != f)
    tsr_frame_destroy(&in);
  if (status != TSR_OK)
    goto fail;
  TSR__TRY_GOTO(status, tsr_frame_compute(g, NULL, &res));
  static const int64_t offsets[NSTATS + 1] = {0, 5, 9, 12, 15, 18, 21, 24, 27};
  cols[0] = (tsr_column_data){.name = "statistic",
                              .type = {TSR_COL_STRING, 0},
                              .length = NSTATS,
                              .offsets = offsets,
                              .data = "countmeanstdmin25%50%75%max"};
  for (int c = 0, j = 0; c < f->ncols; c++) {
    if (!is_numeric(f->cols[c].type.id))
      continue;
    for (int k = 0; k < NSTATS; k++) {
      bool v;
      TSR__TRY_GOTO(status, value_f64(res, j * NSTATS + k, &vals[j * NSTATS + k], &v));
      if (v)
        valid[j] |= (uint8_t)(1u << k);
    }
    cols[j + 1] = (tsr_column_data){.name = f->cols[c].name,
                                    .type = {TSR_COL_FLOAT64, 0},
                                    .length = NSTATS,
                                    .values = vals + j * NSTATS,
                                    .validity = valid + j};
    j++;
  }
  status =
      agreed(ctx, tsr_frame_from_columns(ctx, nnum + 1, cols, 0, TSR_BUFFER_COPY, NULL, NULL, out));
  if (status != TSR_OK)
    tsr_frame_destroy(out);
fail:
  tsr_frame_result_destroy(&res);
  tsr_frame_destroy(&g);
  tsr_free(ctx, valid);
  tsr_free(ctx, vals);
  tsr_free(ctx, cols);
  tsr_free(ctx, aggs);
  return status;
}

tsr_status tsr_frame_describe_strings(tsr_frame *f, tsr_frame **out) {
  static const char fn[] = "tsr_frame_describe_strings";
  TSR_TRY(check_args(fn, f, out));
  tsr_ctx *ctx = f->ctx;
  int ns = 0;
  for (int c = 0; c < f->ncols; c++)
    ns += is_text(f->cols[c].type.id);
  TSR_CHECK(ns > 0, TSR_EINVAL, "%s: the frame has no string or dictionary column", fn);
  tsr_agg *aggs = NULL;
  int64_t *nums = NULL, *name_off = NULL, *top_off = NULL;
  char *names = NULL, *tops = NULL;
  uint8_t *top_valid = NULL;
  tsr_frame *g = NULL, *vc = NULL;
  tsr_frame_result *res = NULL, *vres = NULL;
  tsr_status status;
  size_t name_bytes = 0, top_bytes = 0, top_cap = 0;
  for (int c = 0; c < f->ncols; c++)
    if (is_text(f->cols[c].type.id))
      name_bytes += strlen(f->cols[c].name);
  status = tsr_calloc(ctx, (size_t)ns * 2, sizeof *aggs, (void **)&aggs);
  if (status == TSR_OK)
    status = tsr_calloc(ctx, (size_t)ns * 3, sizeof *nums, (void **)&nums);
  if (status == TSR_OK)
    status = tsr_calloc(ctx, (size_t)ns + 1, sizeof *name_off, (void **)&name_off);
  if (status == TSR_OK)
    status = tsr_calloc(ctx, (size_t)ns + 1, sizeof *top_off, (void **)&top_off);
  if (status == TSR_OK)
    status = tsr_calloc(ctx, name_bytes + 1, 1, (void **)&names);
  if (status == TSR_OK)
    status = tsr_calloc(ctx, (size_t)(ns + 7) / 8, 1, (void **)&top_valid);
  TSR__TRY_GOTO(status, agreed(ctx, status));
  for (int c = 0, j = 0; c < f->ncols; c++) {
    if (!is_text(f->cols[c].type.id))
      continue;
    aggs[2 * j] = (tsr_agg){.op = TSR_AGG_COUNT, .column = f->cols[c].name};
    aggs[2 * j + 1] = (tsr_agg){.op = TSR_AGG_NUNIQUE, .column = f->cols[c].name};
    size_t len = strlen(f->cols[c].name);
    memcpy(names + name_off[j], f->cols[c].name, len);
    name_off[j + 1] = name_off[j] + (int64_t)len;
    j++;
  }
  TSR__TRY_GOTO(status, tsr_frame_groupby(f, 0, NULL, 2 * ns, aggs, NULL, &g));
  TSR__TRY_GOTO(status, tsr_frame_compute(g, NULL, &res));
  int64_t *count = nums, *unique = nums + ns, *freq = nums + 2 * ns;
  for (int c = 0, j = 0; c < f->ncols; c++) {
    if (!is_text(f->cols[c].type.id))
      continue;
    TSR__TRY_GOTO(status, tsr_frame_result_values(res, 2 * j, &count[j], 8, NULL));
    TSR__TRY_GOTO(status, tsr_frame_result_values(res, 2 * j + 1, &unique[j], 8, NULL));
    const char *name = f->cols[c].name;
    TSR__TRY_GOTO(status, tsr_frame_value_counts(f, 1, &name, false, &vc));
    TSR__TRY_GOTO(status, tsr_frame_compute(vc, NULL, &vres));
    top_off[j + 1] = top_off[j];
    if (tsr_frame_result_nrows(vres) > 0) {
      const char *text;
      size_t len;
      bool is_null;
      TSR__TRY_GOTO(status, tsr_frame_result_string(vres, 0, 0, &text, &len, &is_null));
      tsr_column_chunk ch;
      TSR__TRY_GOTO(status, tsr_frame_result_chunk(vres, 1, 0, &ch));
      memcpy(&freq[j], ch.values, sizeof freq[j]);
      if (top_bytes + len > top_cap) {
        size_t cap = 2 * (top_bytes + len) + 64;
        char *t = NULL;
        /* every rank reads the same result, so grows here alike */
        status = agreed(ctx, tsr_calloc(ctx, cap, 1, (void **)&t));
        if (status != TSR_OK) {
          tsr_free(ctx, t);
          goto fail;
        }
        if (top_bytes > 0)
          memcpy(t, tops, top_bytes);
        tsr_free(ctx, tops);
        tops = t;
        top_cap = cap;
      }
      memcpy(tops + top_bytes, text, len);
      top_bytes += len;
      top_off[j + 1] = (int64_t)top_bytes;
      top_valid[j / 8] |= (uint8_t)(1u << (j % 8));
    }
    tsr_frame_result_destroy(&vres);
    tsr_frame_destroy(&vc);
    j++;
  }
  tsr_column_data cols[5] = {
      {.name = "column", .type = {TSR_COL_STRING, 0}, .length = ns, .offsets = name_off,
       .data = names},
      {.name = "count", .type = {TSR_COL_INT64, 0}, .length = ns, .values = count},
      {.name = "unique", .type = {TSR_COL_INT64, 0}, .length = ns, .values = unique},
      {.name = "top", .type = {TSR_COL_STRING, 0}, .length = ns, .offsets = top_off,
       .data = tops ? tops : "", .validity = top_valid},
      {.name = "freq", .type = {TSR_COL_INT64, 0}, .length = ns, .values = freq,
       .validity = top_valid},
  };
  status = agreed(ctx, tsr_frame_from_columns(ctx, 5, cols, 0, TSR_BUFFER_COPY, NULL, NULL, out));
  if (status != TSR_OK)
    tsr_frame_destroy(out);
fail:
  tsr_frame_result_destroy(&vres);
  tsr_frame_destroy(&vc);
  tsr_frame_result_destroy(&res);
  tsr_frame_destroy(&g);
  tsr_free(ctx, top_valid);
  tsr_free(ctx, tops);
  tsr_free(ctx, names);
  tsr_free(ctx, top_off);
  tsr_free(ctx, name_off);
  tsr_free(ctx, nums);
  tsr_free(ctx, aggs);
  return status;
}

/* ops_util.c — helpers of the row and column operations (ops_impl.h). */
#include <string.h>

#include "ops_impl.h"

int64_t tsr__ops_copy_bits(uint8_t *dst, int64_t dst_off, const uint8_t *src, int64_t src_off,
                           int64_t n) {
  int64_t nulls = 0;
  if (src == NULL) {
    for (int64_t i = 0; i < n && ((dst_off + i) & 7); i++)
      tsr__bit_set(dst, dst_off + i, true);
    int64_t i = (8 - (dst_off & 7)) & 7;
    if (i > n)
      i = n;
    int64_t whole = (n - i) / 8;
    if (whole > 0)
      memset(dst + (dst_off + i) / 8, 0xff, (size_t)whole);
    for (i += whole * 8; i < n; i++)
      tsr__bit_set(dst, dst_off + i, true);
    return 0;
  }
  if ((dst_off & 7) == 0 && (src_off & 7) == 0) {
    int64_t whole = n / 8;
    if (whole > 0)
      memcpy(dst + dst_off / 8, src + src_off / 8, (size_t)whole);
    for (int64_t j = 0; j < whole; j++)
      nulls += 8 - __builtin_popcount(src[src_off / 8 + j]);
    for (int64_t i = whole * 8; i < n; i++) {
      bool v = tsr__bit_get(src, src_off + i);
      tsr__bit_set(dst, dst_off + i, v);
      nulls += !v;
    }
    return nulls;
  }
  for (int64_t i = 0; i < n; i++) {
    bool v = tsr__bit_get(src, src_off + i);
    tsr__bit_set(dst, dst_off + i, v);
    nulls += !v;
  }
  return nulls;
}

uint64_t tsr__ops_data_bytes(const tsr__colref *ref, const tsr_kernel_call *call) {
  if (ref->raw)
    return 0;
  return tsr__tablechunk_col(call->inputs[ref->input], ref->slot)->data_bytes;
}

void tsr__ops_copy_rows(tsr__colchunk *out, const tsr__colref *ref, const tsr_kernel_call *call,
                        int64_t a, int64_t b) {
  tsr__colread r;
  tsr__colread_get(ref, call, &r);
  size_t w = tsr_type_width(ref->type);
  int64_t n = b - a;
  out->rows = n;
  if (n > 0)
    memcpy(tsr__colchunk_values(out), (const unsigned char *)r.values + (size_t)a * w,
           (size_t)n * w);
  out->null_count =
      r.validity ? tsr__ops_copy_bits(tsr__colchunk_validity(out), 0, r.validity, a, n) : 0;
  if (ref->type.id == TSR_COL_STRING) {
    uint64_t bytes = tsr__ops_data_bytes(ref, call);
    if (bytes > 0)
      memcpy(tsr__colchunk_data(out), r.data, (size_t)bytes);
    out->data_bytes = bytes;
  }
}

tsr_status tsr__ops_replace_col(const tsr_frame *f, int k, tsr__expr *node, uint32_t slot,
                                tsr_type type, tsr__dict *dict, tsr_frame **out) {
  tsr__col *cols;
  TSR_TRY(tsr__alloc_array(f->ctx, (size_t)f->ncols + 1, sizeof *cols, "columns", (void **)&cols));
  memcpy(cols, f->cols, (size_t)f->ncols * sizeof *cols);
  cols[k].node = node;
  cols[k].slot = slot;
  cols[k].raw = false;
  cols[k].type = type;
  cols[k].dict = dict;
  tsr_status status = tsr__frame_make(f->ctx, f->ncols, cols, f->rows, out);
  tsr_free(f->ctx, cols);
  return status;
}

tsr_status tsr__ops_row_starts(tsr_ctx *ctx, const tsr__rows *rows, int64_t **out) {
  *out = NULL;
  if (rows->count == NULL)
    return TSR_OK;
  int64_t *s;
  TSR_TRY(tsr__alloc_array(ctx, (size_t)rows->nchunks + 1, sizeof *s, "row starts", (void **)&s));
  s[0] = 0;
  for (int64_t c = 0; c < rows->nchunks; c++)
    s[c + 1] = s[c] + rows->count[c];
  *out = s;
  return TSR_OK;
}

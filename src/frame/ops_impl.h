/* ops_impl.h — what the row and column operations of frame/ share
 * (ops_util.c): copying a range of rows of one column chunk, validity
 * bitmaps at any bit offset, a frame with one column replaced, and the
 * first row of each chunk (for errors that name rows). */
#ifndef TSR_FRAME_OPS_IMPL_H
#define TSR_FRAME_OPS_IMPL_H

#include "frame_impl.h"

/* Copies n validity bits src[src_off..] to dst[dst_off..] (src NULL: all
 * valid) and returns how many of them are 0 (nulls). */
int64_t tsr__ops_copy_bits(uint8_t *dst, int64_t dst_off, const uint8_t *src, int64_t src_off,
                           int64_t n);

/* The data bytes used by the column chunk `ref` reads in this task (0 for
 * raw columns). */
uint64_t tsr__ops_data_bytes(const tsr__colref *ref, const tsr_kernel_call *call);

/* Fills the empty output column chunk `out` with rows [a, b) of the input
 * column `ref` (values, validity, and for strings the whole data buffer,
 * so views keep their offsets: out's data capacity must be at least the
 * input's data bytes). */
void tsr__ops_copy_rows(tsr__colchunk *out, const tsr__colref *ref, const tsr_kernel_call *call,
                        int64_t a, int64_t b);

/* A frame like f with column k replaced by (node, slot) of `type` (dict,
 * retained, for dictionaries) under the same name. */
tsr_status tsr__ops_replace_col(const tsr_frame *f, int k, tsr__expr *node, uint32_t slot,
                                tsr_type type, tsr__dict *dict, tsr_frame **out);

/* rows->nchunks + 1 first rows of the chunks (from rows->count), or NULL
 * in *out when the counts are unknown. */
tsr_status tsr__ops_row_starts(tsr_ctx *ctx, const tsr__rows *rows, int64_t **out);

/* The hash of a colref (for an op's hash_params). */
static inline void tsr__ops_hash_ref(tsr__hash *h, const tsr__colref *r) {
  tsr__hash_u64(h, r->input);
  tsr__hash_u64(h, r->slot);
  tsr__hash_u64(h, r->raw);
  tsr__hash_u64(h, (uint64_t)r->type.id);
  tsr__hash_u64(h, (uint64_t)r->type.unit);
}

#endif /* TSR_FRAME_OPS_IMPL_H */

/* sort_runs.c — one chunk's rows sorted by their encoded keys (a sorted
 * run, sort_impl.h), or for top-k only its first `keep` rows.
 *
 * Full sorts are LSD over the keys' words, least significant first: each
 * word, gathered in the current row order, is sorted stably with its rows
 * by core/order.h's radix sort, which skips every byte that is the same in
 * every row (a constant bit field, the padding of short strings, the high
 * bytes of a small range); rows with equal words stay in row order.  When strings
 * were truncated, the rows equal up to the first truncated key's fields are
 * sorted again by a merge sort comparing the whole strings (rows break
 * ties).  Top-k with a small k keeps a
 * bounded max-heap of the k best rows by (words, whole strings, row)
 * instead: n log k, no full sort.
 * Tuned for chunks of 10^5..10^6 rows and keys of one to three words. */
#include <string.h>

#include "core/order.h"
#include "sort_impl.h"

/* Records of E words: the key's W words, then the row. */
static inline void rec_copy(uint64_t *dst, const uint64_t *src, int E) {
  switch (E) {
  case 2:
    dst[0] = src[0];
    dst[1] = src[1];
    return;
  case 3:
    dst[0] = src[0];
    dst[1] = src[1];
    dst[2] = src[2];
    return;
  case 4:
    dst[0] = src[0];
    dst[1] = src[1];
    dst[2] = src[2];
    dst[3] = src[3];
    return;
  default:
    memcpy(dst, src, (size_t)E * sizeof *dst);
  }
}

static inline int cmp_words(const uint64_t *a, const uint64_t *b, int W) {
  for (int w = 0; w < W; w++)
    if (a[w] != b[w])
      return a[w] < b[w] ? -1 : 1;
  return 0;
}

/* Merge sort of n records (E words) by (keys with whole strings, row):
 * sorts in a, scratch b. */
static void merge_sort_full(const tsr__sorter *s, const tsr__colread *cols, uint64_t *a,
                            uint64_t *b, int64_t n, int W) {
  const int E = W + 1;
  for (int64_t width = 1; width < n; width *= 2) {
    for (int64_t lo = 0; lo < n; lo += 2 * width) {
      int64_t mid = lo + width < n ? lo + width : n;
      int64_t hi = lo + 2 * width < n ? lo + 2 * width : n;
      int64_t i = lo, j = mid, o = lo;
      while (i < mid && j < hi) {
        const uint64_t *x = a + i * E, *y = a + j * E;
        int c = tsr__sort_cmp(s, x, y, W * 64, s->nkeys, cols, (int64_t)x[W], cols,
                              (int64_t)y[W]);
        if (c == 0)
          c = x[W] < y[W] ? -1 : 1;
        if (c <= 0) {
          rec_copy(b + o * E, x, E);
          i++;
        } else {
          rec_copy(b + o * E, y, E);
          j++;
        }
        o++;
      }
      for (; i < mid; i++, o++)
        rec_copy(b + o * E, a + i * E, E);
      for (; j < hi; j++, o++)
        rec_copy(b + o * E, a + j * E, E);
    }
    memcpy(a, b, (size_t)n * (size_t)E * sizeof *a);
  }
}

/* Rows x before y in the total order (words, whole strings, row). */
static inline bool row_less(const tsr__sorter *s, const tsr__colread *cols, const uint64_t *keys,
                            int W, int64_t x, int64_t y) {
  int c = s->ntrunc > 0
              ? tsr__sort_cmp(s, keys + x * W, keys + y * W, W * 64, s->nkeys, cols, x, cols, y)
              : cmp_words(keys + x * W, keys + y * W, W);
  return c != 0 ? c < 0 : x < y;
}

static void sift_down(const tsr__sorter *s, const tsr__colread *cols, const uint64_t *keys, int W,
                      int64_t *heap, int64_t m, int64_t i) {
  for (;;) {
    int64_t l = 2 * i + 1, r = l + 1, big = i;
    if (l < m && row_less(s, cols, keys, W, heap[big], heap[l]))
      big = l;
    if (r < m && row_less(s, cols, keys, W, heap[big], heap[r]))
      big = r;
    if (big == i)
      return;
    int64_t t = heap[i];
    heap[i] = heap[big];
    heap[big] = t;
    i = big;
  }
}

/* The `keep` first rows (keep < n) by a bounded max-heap. */
static tsr_status top_rows(const tsr__sorter *s, const tsr__colread *cols, const uint64_t *keys,
                           int64_t n, int64_t keep, uint64_t *out_keys, uint32_t *out_rows) {
  const int W = s->W;
  if (keep == 0)
    return TSR_OK;
  int64_t *heap;
  TSR_TRY(tsr_kernel_alloc(s->ctx, (size_t)keep * sizeof *heap, (void **)&heap));
  int64_t m = 0;
  for (int64_t i = 0; i < n; i++) {
    if (m < keep) {
      /* Sift up. */
      int64_t j = m++;
      heap[j] = i;
      while (j > 0 && row_less(s, cols, keys, W, heap[(j - 1) / 2], heap[j])) {
        int64_t p = (j - 1) / 2, t = heap[p];
        heap[p] = heap[j];
        heap[j] = t;
        j = p;
      }
    } else if (row_less(s, cols, keys, W, i, heap[0])) {
      heap[0] = i;
      sift_down(s, cols, keys, W, heap, m, 0);
    }
  }
  /* Heap sort: the largest goes last. */
  for (int64_t e = m - 1; e > 0; e--) {
    int64_t t = heap[0];
    heap[0] = heap[e];
    heap[e] = t;
    sift_down(s, cols, keys, W, heap, e, 0);
  }
  for (int64_t i = 0; i < m; i++) {
    out_rows[i] = (uint32_t)heap[i];
    if (W > 0)
      memcpy(out_keys + i * W, keys + heap[i] * W, (size_t)W * sizeof *out_keys);
  }
  tsr_free(s->ctx, heap);
  return TSR_OK;
}

tsr_status tsr__sort_run(const tsr__sorter *s, const tsr__colread *cols, const uint64_t *keys,
                         int64_t n, int64_t keep, uint64_t *out_keys, uint32_t *out_rows) {
  const int W = s->W, E = W + 1;
  if (keep < 0 || keep > n)
    keep = n;
  if (keep < n && keep <= n / 8)
    return top_rows(s, cols, keys, n, keep, out_keys, out_rows);
  if (W == 0) {
    for (int64_t i = 0; i < keep; i++)
      out_rows[i] = (uint32_t)i;
    return TSR_OK;
  }
  if (n == 0)
    return TSR_OK;
  uint64_t *kw = NULL, *a = NULL, *b = NULL;
  uint32_t *ids = NULL;
  void *scratch = NULL;
  tsr_status status;
  TSR__TRY_GOTO(status, tsr_kernel_alloc(s->ctx, (size_t)n * sizeof *kw, (void **)&kw));
  TSR__TRY_GOTO(status, tsr_kernel_alloc(s->ctx, (size_t)n * sizeof *ids, (void **)&ids));
  TSR__TRY_GOTO(status,
                tsr_kernel_alloc(s->ctx, tsr__order_scratch_bytes(n, sizeof *ids), &scratch));
  /* LSD over the words: a stable sort of the rows by each word, the least
   * significant first (core/order.h's radix sort skips constant bytes). */
  for (int64_t i = 0; i < n; i++)
    ids[i] = (uint32_t)i;
  for (int w = W - 1; w >= 0; w--) {
    for (int64_t i = 0; i < n; i++)
      kw[i] = keys[(int64_t)ids[i] * W + w];
    tsr__order_sort_u64_u32_scratch(kw, ids, n, scratch);
  }
  if (s->ntrunc == 0) {
    for (int64_t i = 0; i < keep; i++) {
      out_rows[i] = ids[i];
      memcpy(out_keys + i * W, keys + (int64_t)ids[i] * W, (size_t)W * sizeof *out_keys);
    }
    goto fail;
  }
  /* The radix order is right up to the first truncated string key's
   * fields; rows equal that far are sorted again, whole strings first. */
  size_t bytes = (size_t)n * (size_t)E * sizeof *a;
  TSR__TRY_GOTO(status, tsr_kernel_alloc(s->ctx, bytes, (void **)&a));
  TSR__TRY_GOTO(status, tsr_kernel_alloc(s->ctx, bytes, (void **)&b));
  for (int64_t i = 0; i < n; i++) {
    memcpy(a + i * E, keys + (int64_t)ids[i] * W, (size_t)W * sizeof *a);
    a[i * E + W] = ids[i];
  }
  const tsr__skey *first = &s->keys[s->trunc[0]];
  const int prefix = first->len_pos + first->len_bits;
  for (int64_t i = 0; i < n;) {
    int64_t j = i + 1;
    while (j < n && tsr__sort_cmp_bits(a + i * E, a + j * E, prefix) == 0)
      j++;
    if (j - i > 1)
      merge_sort_full(s, cols, a + i * E, b, j - i, W);
    i = j;
  }
  for (int64_t i = 0; i < keep; i++) {
    memcpy(out_keys + i * W, a + i * E, (size_t)W * sizeof *out_keys);
    out_rows[i] = (uint32_t)a[i * E + W];
  }
fail:
  tsr_free(s->ctx, b);
  tsr_free(s->ctx, a);
  tsr_free(s->ctx, scratch);
  tsr_free(s->ctx, ids);
  tsr_free(s->ctx, kw);
  return status;
}

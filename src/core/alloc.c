/* alloc.c — the accounted allocator every part of the library allocates
 * through.
 *
 * Each block is 64-byte aligned (cache line, AVX-512 loads) and preceded by a
 * 64-byte header holding its size and a magic number, so tsr_free() needs no
 * size and catches frees of foreign pointers.  Accounting uses atomics only:
 * worker threads allocate chunk buffers concurrently without a lock.  The
 * limit is enforced by reserving the bytes first (fetch_add) and backing out
 * when the new total passes it, so concurrent allocations can never jointly
 * exceed it.  The failure injector (tsr_ctx_set_fail_allocation) counts down
 * once per allocation attempt and fails exactly one. */
#include <stdlib.h>
#include <string.h>

#include "core_impl.h"

#define HEADER_BYTES 64u
#define ALIGNMENT 64u
#define MAGIC_LIVE 0x7473726c6976650aull /* "tsrlive\n" */
#define MAGIC_DEAD 0x747372646561640aull /* "tsrdead\n" */

typedef struct block_header {
  uint64_t bytes;
  uint64_t magic;
} block_header;

static bool injected_failure(tsr__allocator *a) {
  uint64_t left = atomic_load_explicit(&a->fail_countdown, memory_order_relaxed);
  while (left != 0) {
    if (atomic_compare_exchange_weak_explicit(&a->fail_countdown, &left, left - 1,
                                              memory_order_relaxed, memory_order_relaxed))
      return left == 1;
  }
  return false;
}

static void raise_peak(tsr__allocator *a, uint64_t now) {
  uint64_t peak = atomic_load_explicit(&a->peak, memory_order_relaxed);
  while (now > peak && !atomic_compare_exchange_weak_explicit(
                           &a->peak, &peak, now, memory_order_relaxed, memory_order_relaxed)) {
  }
}

tsr_status tsr_alloc(tsr_ctx *ctx, size_t bytes, void **out) {
  if (out == NULL)
    return tsr_error_set(TSR_EINVAL, "tsr_alloc: out is NULL");
  *out = NULL;
  if (ctx == NULL)
    return tsr_error_set(TSR_EINVAL, "tsr_alloc: ctx is NULL");
  tsr__allocator *a = &ctx->alloc;
  char size_text[32], used_text[32], limit_text[32];
  if (injected_failure(a))
    return tsr_error_set(TSR_ENOMEM, "out of memory allocating %s (injected failure)",
                         tsr_format_bytes(bytes, size_text, sizeof size_text));
  if (bytes > SIZE_MAX - 2 * HEADER_BYTES)
    return tsr_error_set(TSR_ENOMEM, "cannot allocate %zu bytes: too large", bytes);
  uint64_t before = atomic_fetch_add_explicit(&a->current, bytes, memory_order_relaxed);
  uint64_t after = before + bytes;
  if (a->limit != 0 && after > a->limit) {
    atomic_fetch_sub_explicit(&a->current, bytes, memory_order_relaxed);
    return tsr_error_set(TSR_ENOMEM, "memory limit exceeded: allocating %s with %s of %s in use",
                         tsr_format_bytes(bytes, size_text, sizeof size_text),
                         tsr_format_bytes(before, used_text, sizeof used_text),
                         tsr_format_bytes(a->limit, limit_text, sizeof limit_text));
  }
  size_t total = (HEADER_BYTES + bytes + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
  char *base = aligned_alloc(ALIGNMENT, total);
  if (base == NULL) {
    atomic_fetch_sub_explicit(&a->current, bytes, memory_order_relaxed);
    return tsr_error_set(TSR_ENOMEM, "out of memory allocating %s",
                         tsr_format_bytes(bytes, size_text, sizeof size_text));
  }
  block_header *h = (block_header *)base;
  h->bytes = bytes;
  h->magic = MAGIC_LIVE;
  raise_peak(a, after);
  atomic_fetch_add_explicit(&a->total, bytes, memory_order_relaxed);
  atomic_fetch_add_explicit(&a->count, 1, memory_order_relaxed);
  *out = base + HEADER_BYTES;
  return TSR_OK;
}

tsr_status tsr_calloc(tsr_ctx *ctx, size_t count, size_t size, void **out) {
  tsr_status status = tsr__alloc_array(ctx, count, size, "tsr_calloc", out);
  if (status == TSR_OK)
    memset(*out, 0, count * size);
  return status;
}

void tsr_free(tsr_ctx *ctx, void *ptr) {
  if (ptr == NULL || ctx == NULL)
    return;
  block_header *h = (block_header *)((char *)ptr - HEADER_BYTES);
  if (h->magic != MAGIC_LIVE) {
    /* A double free or a pointer not from tsr_alloc: refuse to corrupt the
     * heap; say so loudly, since this is a bug in the caller. */
    fprintf(stderr, "tessera: error: tsr_free of a pointer not allocated by tsr_alloc (%p)\n", ptr);
    return;
  }
  h->magic = MAGIC_DEAD;
  atomic_fetch_sub_explicit(&ctx->alloc.current, h->bytes, memory_order_relaxed);
  free(h);
}

tsr_status tsr__alloc_array(tsr_ctx *ctx, size_t count, size_t size, const char *what, void **out) {
  size_t bytes;
  if (__builtin_mul_overflow(count, size, &bytes)) {
    *out = NULL;
    return tsr_error_set(TSR_ENOMEM, "%s: %zu elements of %zu bytes overflow size_t", what, count,
                         size);
  }
  return tsr_alloc(ctx, bytes, out);
}

tsr_status tsr__grow_array(tsr_ctx *ctx, void **ptr, size_t old_count, size_t new_count,
                           size_t size, const char *what) {
  void *grown;
  tsr_status status = tsr__alloc_array(ctx, new_count, size, what, &grown);
  if (status != TSR_OK)
    return status;
  if (*ptr != NULL && old_count > 0)
    memcpy(grown, *ptr, (old_count < new_count ? old_count : new_count) * size);
  tsr_free(ctx, *ptr);
  *ptr = grown;
  return TSR_OK;
}

tsr_status tsr__strdup(tsr_ctx *ctx, const char *s, char **out) {
  size_t n = strlen(s) + 1;
  void *copy;
  TSR_TRY(tsr_alloc(ctx, n, &copy));
  memcpy(copy, s, n);
  *out = copy;
  return TSR_OK;
}

tsr_status tsr_ctx_memory_stats(const tsr_ctx *ctx, tsr_memory_stats *out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "tsr_ctx_memory_stats: out is NULL");
  memset(out, 0, sizeof *out);
  TSR_CHECK(ctx != NULL, TSR_EINVAL, "tsr_ctx_memory_stats: ctx is NULL");
  tsr__allocator *a = (tsr__allocator *)&ctx->alloc;
  out->current_bytes = atomic_load(&a->current);
  out->peak_bytes = atomic_load(&a->peak);
  out->total_bytes = atomic_load(&a->total);
  out->allocations = atomic_load(&a->count);
  out->limit_bytes = a->limit;
  return TSR_OK;
}

void tsr_ctx_reset_peak(tsr_ctx *ctx) {
  if (ctx != NULL)
    atomic_store(&ctx->alloc.peak, atomic_load(&ctx->alloc.current));
}

tsr_status tsr_ctx_set_fail_allocation(tsr_ctx *ctx, uint64_t n) {
  TSR_CHECK(ctx != NULL, TSR_EINVAL, "tsr_ctx_set_fail_allocation: ctx is NULL");
  atomic_store(&ctx->alloc.fail_countdown, n);
  return TSR_OK;
}

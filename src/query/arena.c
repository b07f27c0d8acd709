/* arena.c — the bump allocator that owns a program's tokens, strings and
 * syntax tree.  Blocks come from the context's accounted allocator and are
 * all freed together when the program is destroyed; a program's text is
 * small, so blocks are 4 KiB and larger requests get a block of their own. */
#include <string.h>

#include "query_impl.h"

#define BLOCK_BYTES 4096

struct tsr__qblock {
  tsr__qblock *next;
  size_t used, size;
  /* data follows, 8-byte aligned */
};

static size_t header_bytes(void) { return (sizeof(tsr__qblock) + 7) & ~(size_t)7; }

void *tsr__query_arena_alloc(tsr__qarena *arena, size_t bytes) {
  bytes = (bytes + 7) & ~(size_t)7;
  tsr__qblock *b = arena->head;
  if (b == NULL || b->size - b->used < bytes) {
    size_t size = bytes > BLOCK_BYTES ? bytes : BLOCK_BYTES;
    void *mem = NULL;
    if (tsr_alloc(arena->ctx, header_bytes() + size, &mem) != TSR_OK)
      return NULL;
    tsr__qblock *nb = mem;
    nb->used = 0;
    nb->size = size;
    /* A big block goes behind the current one so its free space stays usable. */
    if (b != NULL && bytes > BLOCK_BYTES) {
      nb->next = b->next;
      b->next = nb;
    } else {
      nb->next = b;
      arena->head = nb;
    }
    b = nb;
  }
  void *p = (char *)b + header_bytes() + b->used;
  b->used += bytes;
  memset(p, 0, bytes);
  return p;
}

char *tsr__query_arena_strndup(tsr__qarena *arena, const char *s, size_t n) {
  char *p = tsr__query_arena_alloc(arena, n + 1);
  if (p != NULL) {
    memcpy(p, s, n);
    p[n] = '\0';
  }
  return p;
}

tsr_status tsr__query_arena_grow(tsr__qarena *arena, void *items, int n, int *cap, size_t elem) {
  if (n < *cap)
    return TSR_OK;
  int grown_cap = *cap ? 2 * *cap : 8;
  void *grown = tsr__query_arena_alloc(arena, (size_t)grown_cap * elem);
  if (grown == NULL)
    return TSR_ENOMEM;
  void **slot = items;
  if (n)
    memcpy(grown, *slot, (size_t)n * elem);
  *slot = grown; /* the old array stays in the arena until it is freed */
  *cap = grown_cap;
  return TSR_OK;
}

void tsr__query_arena_free(tsr__qarena *arena) {
  tsr__qblock *b = arena->head;
  while (b != NULL) {
    tsr__qblock *next = b->next;
    tsr_free(arena->ctx, b);
    b = next;
  }
  arena->head = NULL;
}

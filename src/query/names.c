/* names.c — the hash index the language uses to find names: variables
 * and inputs (values.c) and the assigned and free names of the free-name
 * scan (program.c).  A program of 100,000 statements looks a name up once
 * per use, so every lookup must be O(1) on average: FNV-1a hashing, open
 * addressing with linear probing, at most half full. */
#include <string.h>

#include "query_impl.h"

static uint64_t hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

int32_t tsr__query_map_find(const tsr__qmap *m, const char *name, tsr__qname_fn get,
                            const void *owner) {
  if (m->cap == 0)
    return -1;
  size_t mask = m->cap - 1;
  for (size_t k = (size_t)hash(name) & mask;; k = (k + 1) & mask) {
    int32_t slot = m->slots[k];
    if (slot == 0)
      return -1;
    if (strcmp(get(owner, slot - 1), name) == 0)
      return slot - 1;
  }
}

static void insert(int32_t *slots, size_t cap, int32_t i, const char *name) {
  size_t mask = cap - 1, k = (size_t)hash(name) & mask;
  while (slots[k] != 0)
    k = (k + 1) & mask;
  slots[k] = i + 1;
}

tsr_status tsr__query_map_add(tsr_ctx *ctx, tsr__qmap *m, int32_t i, tsr__qname_fn get,
                              const void *owner) {
  if (2 * ((size_t)m->n + 1) > m->cap) {
    size_t cap = m->cap ? 2 * m->cap : 16;
    int32_t *slots = NULL;
    TSR_TRY(tsr_calloc(ctx, cap, sizeof *slots, (void **)&slots));
    for (size_t k = 0; k < m->cap; k++)
      if (m->slots[k] != 0)
        insert(slots, cap, m->slots[k] - 1, get(owner, m->slots[k] - 1));
    tsr_free(ctx, m->slots);
    m->slots = slots;
    m->cap = cap;
  }
  insert(m->slots, m->cap, i, get(owner, i));
  m->n++;
  return TSR_OK;
}

void tsr__query_map_free(tsr_ctx *ctx, tsr__qmap *m) {
  tsr_free(ctx, m->slots);
  memset(m, 0, sizeof *m);
}

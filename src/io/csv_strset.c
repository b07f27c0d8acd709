/* csv_strset.c — sets of distinct strings for the CSV reader's
 * dictionaries (an open-addressing table over an arena, entries numbered
 * in insertion order) and their sorted form: what the scan collects per
 * block and merges per column, and what the fused load (csv_load.c) codes
 * a block's values with before the codes are mapped to the sorted
 * dictionary. */
#include "csv_impl.h"

void tsr__csv_strset_free(tsr_ctx *ctx, csv_strset *s) {
  tsr_free(ctx, s->slots);
  tsr_free(ctx, s->keys);
  tsr_free(ctx, s->offs);
  tsr_free(ctx, s->arena);
  memset(s, 0, sizeof *s);
}

static tsr_status grow(tsr_ctx *ctx, void **p, size_t old_bytes, size_t new_bytes) {
  void *q;
  TSR_TRY(tsr_alloc(ctx, new_bytes, &q));
  if (old_bytes > 0)
    memcpy(q, *p, old_bytes);
  tsr_free(ctx, *p);
  *p = q;
  return TSR_OK;
}

/* The slow half of tsr__csv_strset_add: grows the table or the entries. */
tsr_status tsr__csv_strset_insert(tsr_ctx *ctx, csv_strset *s, const char *p, size_t n,
                                  const csv_key *k, int64_t *index) {
  while (!csv_strset_roomy(s)) {
    int64_t cap = s->slot_cap ? s->slot_cap * 2 : 256;
    int32_t *slots;
    TSR_TRY(tsr_calloc(ctx, (size_t)cap, sizeof *slots, (void **)&slots));
    for (int64_t i = 0; i < s->n; i++) {
      uint64_t j = s->keys[i].hash & (uint64_t)(cap - 1);
      while (slots[j] != 0)
        j = (j + 1) & (uint64_t)(cap - 1);
      slots[j] = (int32_t)(i + 1);
    }
    tsr_free(ctx, s->slots);
    s->slots = slots;
    s->slot_cap = cap;
  }
  uint64_t mask = (uint64_t)s->slot_cap - 1, j = k->hash & mask;
  while (s->slots[j] != 0) {
    int64_t i = s->slots[j] - 1;
    if (csv_key_eq(k, p, n, &s->keys[i], s->arena + s->offs[i],
                   (size_t)(s->offs[i + 1] - s->offs[i]))) {
      if (index != NULL)
        *index = i;
      return TSR_OK;
    }
    j = (j + 1) & mask;
  }
  if (s->n + 2 > s->ent_cap) {
    int64_t cap = s->ent_cap ? s->ent_cap * 2 : 256;
    TSR_TRY(grow(ctx, (void **)&s->keys, (size_t)s->n * sizeof *s->keys,
                 (size_t)cap * sizeof *s->keys));
    TSR_TRY(grow(ctx, (void **)&s->offs, s->ent_cap ? (size_t)(s->n + 1) * 8 : 0,
                 (size_t)(cap + 1) * 8));
    if (s->ent_cap == 0)
      s->offs[0] = 0;
    s->ent_cap = cap;
  }
  int64_t used = s->offs[s->n];
  if (s->arena == NULL || used + (int64_t)n > s->arena_cap) {
    int64_t cap = s->arena_cap ? s->arena_cap : 4096;
    while (cap < used + (int64_t)n)
      cap *= 2;
    TSR_TRY(grow(ctx, (void **)&s->arena, (size_t)used, (size_t)cap));
    s->arena_cap = cap;
  }
  memcpy(s->arena + used, p, n);
  s->keys[s->n] = *k;
  s->offs[s->n + 1] = used + (int64_t)n;
  s->slots[j] = (int32_t)(s->n + 1);
  if (index != NULL)
    *index = s->n;
  s->n++;
  return TSR_OK;
}

typedef struct sview {
  const char *s;
  size_t n;
} sview;

static int sview_cmp(const void *a, const void *b) {
  const sview *x = a, *y = b;
  size_t n = x->n < y->n ? x->n : y->n;
  int c = memcmp(x->s, y->s, n);
  return c != 0 ? c : (x->n > y->n) - (x->n < y->n);
}

tsr_status tsr__csv_sorted_dict(tsr_ctx *ctx, const csv_strset *s, int64_t **offsets, char **data) {
  sview *v = NULL;
  TSR_TRY(tsr__alloc_array(ctx, (size_t)s->n + 1, sizeof *v, "dictionary", (void **)&v));
  for (int64_t i = 0; i < s->n; i++)
    v[i] = (sview){s->arena + s->offs[i], (size_t)(s->offs[i + 1] - s->offs[i])};
  qsort(v, (size_t)s->n, sizeof *v, sview_cmp);
  tsr_status st =
      tsr__alloc_array(ctx, (size_t)s->n + 1, sizeof **offsets, "dictionary", (void **)offsets);
  if (st == TSR_OK)
    st = tsr_alloc(ctx, (size_t)(s->n > 0 ? s->offs[s->n] : 0) + 1, (void **)data);
  if (st == TSR_OK) {
    int64_t off = 0;
    for (int64_t i = 0; i < s->n; i++) {
      (*offsets)[i] = off;
      memcpy(*data + off, v[i].s, v[i].n);
      off += (int64_t)v[i].n;
    }
    (*offsets)[s->n] = off;
  }
  tsr_free(ctx, v);
  return st;
}

/* sort_impl.h — the sort engine that tsr_frame_sort (sort.c),
 * tsr_frame_top_k (top_k.c), tsr_frame_rank (rank.c) and tsr_frame_window
 * (window.c) share
 * (sort_keys.c: key layout and encoding; sort_runs.c: per-chunk sorted
 * runs; sort_merge.c: splits, merge and gather; sort_engine.c: the phases).
 *
 * A sort runs in three task graphs on the context's threads:
 *  1. the input's columns are lowered (CSV parse, filter, assign... run
 *     here, fused with the next kernel) and one task per row chunk takes the
 *     key columns' statistics (normalized min and max, nulls, string
 *     lengths); the input chunks stay in memory (a sort needs all of them);
 *  2. from the statistics, every key gets a bit field of just the width its
 *     values need, and one task per chunk encodes each row's keys into W
 *     uint64 words (the fields packed most significant first, so comparing
 *     words compares keys: direction and null placement are in the codes)
 *     and sorts them stably by LSD radix: a sorted run of (keys, row);
 *  3. the output, cut into chunks, is merged from the runs in parallel:
 *     each output chunk's start in every run is found by co-ranking, one
 *     task per output chunk merges its slice of each run (a loser tree, ties
 *     to the earlier chunk: stable) and gathers every column.
 * Strings longer than 16 bytes are encoded by their first 16 bytes and a
 * capped length; rows whose words tie then compare the whole strings.
 * Nothing depends on the thread count: results are bitwise identical.
 * Under MPI, phases 1 and 2 run on each rank's own chunks and rows move
 * between ranks as slices of runs (sort_dist.c, sort_sample.c); the result
 * is the one-rank result on every rank. */
#ifndef TSR_FRAME_SORT_IMPL_H
#define TSR_FRAME_SORT_IMPL_H

#include <tessera/dist.h>

#include "dist/dist.h"
#include "ops_impl.h"

/* Strings are encoded by at most this many leading bytes. */
#define TSR__SORT_PREFIX 16

/* One sort key as the engine encodes it. */
typedef struct tsr__skey {
  int col;         /* the frame column */
  tsr__colref ref; /* input = index of the column's node among the distinct nodes */
  bool desc, nulls_first;
  /* From the statistics (sort_keys.c). */
  bool has_nulls, any_valid;
  uint64_t lo, span; /* fixed-width types: normalized values of non-null rows in [lo, lo + span] */
  int null_pos;      /* a separate null bit (fields of 64 bits, strings), or -1 */
  bool fold;         /* nulls take code 0 or span + 1 of the value field */
  int pos, bits;     /* the value field (strings: nbytes * 8 bits of bytes) */
  int nbytes;        /* strings: encoded leading bytes */
  int len_pos, len_bits;
  uint64_t len_max; /* strings: the largest length code */
  bool truncated;   /* strings: some are longer than nbytes (ties compare whole strings) */
} tsr__skey;

/* Statistics of one key in one chunk (phase 1). */
typedef struct tsr__kstat {
  uint64_t min, max; /* normalized, over non-null rows */
  int64_t valid, nulls;
  uint64_t max_len; /* strings */
} tsr__kstat;

/* A sorted run: one chunk's rows in key order (phase 2's output). */
typedef struct tsr__run {
  int64_t n;      /* rows in the run */
  int64_t W;      /* words per key */
  int64_t nstr;   /* string columns with byte prefix sums */
  int64_t chunk;  /* the input chunk */
} tsr__run;
static inline const uint64_t *tsr__run_keys(const tsr__run *r) {
  return (const uint64_t *)(r + 1);
}
static inline const uint32_t *tsr__run_rows(const tsr__run *r) {
  return (const uint32_t *)(tsr__run_keys(r) + r->n * r->W);
}
/* Long-string bytes of the first i rows of the run, string column s: [s * (n + 1) + i]. */
static inline const int64_t *tsr__run_strbytes(const tsr__run *r) {
  return (const int64_t *)(tsr__run_rows(r) + ((r->n + 1) & ~(int64_t)1));
}
static inline uint64_t tsr__run_bytes(int64_t n, int64_t W, int64_t nstr) {
  return sizeof(tsr__run) + (uint64_t)n * (uint64_t)W * 8 + (uint64_t)((n + 1) & ~(int64_t)1) * 4 +
         (uint64_t)nstr * (uint64_t)(n + 1) * 8;
}

typedef struct tsr__sorter {
  tsr_ctx *ctx;
  tsr_frame *f; /* borrowed */
  const char *fn;
  int64_t nchunks;
  uint32_t nnodes;
  tsr__expr **nodes;  /* the distinct nodes of f's columns (f holds them) */
  tsr__colref *refs;  /* per frame column */
  int nkeys;
  tsr__skey *keys;
  int npart;         /* rank: the first npart keys are the partition keys */
  int W;             /* words per encoded key */
  int part_bits;     /* rank: bits of the partition keys' fields (they come first) */
  int ntrunc;        /* keys with truncated strings */
  int *trunc;        /* their indices in keys */
  int nstr;          /* string columns of f (data capacities of the output) */
  int *str_cols;
  int64_t keep;      /* rows kept per run (top-k), or -1: all */
  /* phase 1: the input chunks, nnodes x nchunks, node-major */
  tsr_taskgraph *g1;
  uint32_t *in_tasks;
  const void **in_ptr;
  size_t *in_bytes;
  int64_t *rows;      /* per chunk */
  int64_t *row_start; /* nchunks + 1: first global row of each chunk */
  int64_t total;
  tsr__colread *cr;   /* nchunks x ncols: every input column chunk */
  tsr__colread *kcr;  /* nchunks x nkeys: the key columns' chunks */
  /* phase 2: the runs */
  tsr_taskgraph *g2;
  uint32_t *run_tasks;
  const tsr__run **runs;
  /* phase 3: output chunks and where each starts in every run */
  int64_t nout;
  int64_t *out_start; /* nout + 1 */
  int64_t *splits;    /* (nout + 1) x nchunks */
  /* Under MPI (sort_dist.c): phases 1 and 2 run on the chunks this rank
   * owns; runs of other chunks are `empty` until pieces of runs arrive
   * (table chunks in `recv`) and replace runs and column reads. */
  bool dist;
  int rank, nranks;
  tsr__run empty;
  void *recv;          /* received pieces (tsr_alloc) */
  tsr__run **own_runs; /* nchunks: runs rebuilt from pieces (tsr_alloc), or NULL */
} tsr__sorter;

/* Whether this rank computes chunk c's phases 1 and 2. */
static inline bool tsr__sorter_mine(const tsr__sorter *s, int64_t c) {
  return !s->dist || tsr__dist_chunk_owner(s->ctx, c, s->nchunks) == s->rank;
}

/* A key as the user gives it: column, direction, null placement. */
tsr_status tsr__sorter_create(tsr_frame *f, const char *fn, int nkeys, const tsr_sort_key *keys,
                              int npart, const char *const *part, tsr__sorter **out);
void tsr__sorter_destroy(tsr__sorter **s);
/* Phase 1: computes the input (kept) and the key statistics, and lays the
 * keys out. */
tsr_status tsr__sorter_load(tsr__sorter *s);
/* Phase 2: the sorted runs (keep rows of each: -1 all). */
tsr_status tsr__sorter_runs(tsr__sorter *s, int64_t keep);
/* The output's chunks: `rows` rows in chunks of chunk_rows, and where each
 * chunk starts in every run (co-ranking). */
tsr_status tsr__sorter_split(tsr__sorter *s, int64_t rows, int64_t chunk_rows);
/* Phase 3 (sort, top-k): the first `rows` rows in order, as a frame over
 * memory in chunks of chunk_rows rows. */
tsr_status tsr__sorter_gather(tsr__sorter *s, int64_t rows, int64_t chunk_rows, tsr_frame **out);
/* Phase 3 (rank, window): the rows in sorted order, pos[i] = input chunk
 * << 32 | row in the chunk, and flags[i]: bit 0 set when the row starts a
 * partition (rows equal on the first npart keys), bit 1 when it starts a
 * group of peers (rows equal on every key).  pos and flags hold s->total. */
tsr_status tsr__sorter_order(tsr__sorter *s, uint64_t *pos, uint8_t *flags);
/* The input's rows, in input order and chunks, plus the column `col`
 * (name, type, dictionary) whose values are values[global input row]
 * (tsr_type_width bytes each; fixed-width types) and valid[global row]
 * (0: null; NULL: none null).  Computed now. */
tsr_status tsr__sorter_with_column(tsr__sorter *s, const tsr__col *col, const void *values,
                                   const uint8_t *valid, tsr_frame **out);

/* sort.c: f sorted by the keys, the first k rows (-1: all), computed now;
 * and the argument checks of sort and top-k (out set to NULL first). */
tsr_status tsr__sort_frame(tsr_frame *f, const char *fn, int nkeys, const tsr_sort_key *keys,
                           int64_t k, tsr_frame **out);
tsr_status tsr__sort_check_keys(const char *fn, tsr_frame *f, int nkeys, const tsr_sort_key *keys,
                                tsr_frame **out);

/* sort_dist.c: every chunk's row count (s->rows) and key statistics
 * (nchunks x nkeys), each rank giving its own chunks'.  Collective; agrees
 * on s's status first. */
tsr_status tsr__sort_share_stats(tsr__sorter *s, tsr__kstat *stats);
/* sort_dist.c: packs pieces (slices [lo, hi) of the runs, per destination
 * j < ndest and chunk: lo[j * nchunks + c]) into *buf (tsr_alloc; the
 * caller frees), destination by destination, dest_bytes[j] bytes each. */
tsr_status tsr__sort_pack(tsr__sorter *s, int ndest, const int64_t *lo, const int64_t *hi,
                          unsigned char **buf, uint64_t *dest_bytes);
/* sort_dist.c: installs the pieces in recv (bytes; the sorter takes recv,
 * also on failure) as the runs and column reads of their chunks (at most
 * one piece per chunk; other chunks' runs become empty). */
tsr_status tsr__sort_install(tsr__sorter *s, unsigned char *recv, uint64_t bytes);
/* sort_dist.c: tsr__sort_frame on several MPI ranks (sort and top-k; k < 0: all). */
tsr_status tsr__sort_frame_dist(tsr__sorter *s, int64_t k, int64_t chunk_rows, tsr_frame **out);
/* sort_sample.c: the whole sort on several MPI ranks (sample sort), after
 * phase 2; a frame of the one-rank result's rows and row chunks. */
tsr_status tsr__sort_sample(tsr__sorter *s, int64_t chunk_rows, tsr_frame **out);
/* Merging and gathering (sort_merge.c), for sort_dist.c: the merged order
 * (run << 32 | position) of the slices [a[r], b[r]) of the runs (n elements;
 * kernel allocator scratch), and column i of the rows src (chunk << 32 |
 * row of s->cr) into `out`. */
tsr_status tsr__sort_merge_slices(const tsr__sorter *s, const int64_t *a, const int64_t *b,
                                  int64_t n, uint64_t *out);
void tsr__sort_gather_col(const tsr__sorter *s, int i, const uint64_t *src, int64_t n,
                          tsr__colchunk *out);
/* Co-ranking (sort_engine.c): p[r] of run r such that the first t elements
 * of the merged runs are their first p[r]. */
tsr_status tsr__sort_co_rank(const tsr__sorter *s, int64_t t, int64_t *p);

/* ---- shared by the engine's files ------------------------------------------------------- */

/* Lays out the keys from the per-chunk statistics (nchunks x nkeys). */
void tsr__sort_layout(tsr__sorter *s, const tsr__kstat *stats);
/* Statistics of the keys over one chunk's colreads (per key). */
void tsr__sort_stats(const tsr__sorter *s, const tsr__colread *cols, tsr__kstat *out);
/* Encodes rows [0, n) of the chunk's key columns into n x W words (zeroed here). */
void tsr__sort_encode(const tsr__sorter *s, const tsr__colread *cols, int64_t n, uint64_t *words);
/* Compares two rows' keys: their words' first `bits` bits, except that a
 * truncated string key (below key index `upto`) whose fields tie compares
 * the whole strings before any later field counts.  ca/cb: each row's
 * chunk colreads per key; ia/ib: the rows.  < 0, 0, > 0. */
int tsr__sort_cmp(const tsr__sorter *s, const uint64_t *a, const uint64_t *b, int bits, int upto,
                  const tsr__colread *ca, int64_t ia, const tsr__colread *cb, int64_t ib);
/* Compares run elements (run r1, position p1) and (r2, p2) on the first
 * `bits` bits of their words, then the truncated strings of keys below `upto`. */
int tsr__sort_elem_cmp(const tsr__sorter *s, int64_t r1, int64_t p1, int64_t r2, int64_t p2,
                       int bits, int upto);
/* The first `bits` bits of two keys of W words: < 0, 0, > 0. */
static inline int tsr__sort_cmp_bits(const uint64_t *a, const uint64_t *b, int bits) {
  int w = 0;
  for (; bits >= 64; bits -= 64, w++)
    if (a[w] != b[w])
      return a[w] < b[w] ? -1 : 1;
  if (bits > 0) {
    uint64_t m = ~(uint64_t)0 << (64 - bits);
    if ((a[w] & m) != (b[w] & m))
      return (a[w] & m) < (b[w] & m) ? -1 : 1;
  }
  return 0;
}
/* Sorts a chunk's n rows by their keys (n x W words, row order), stably,
 * keeping the first `keep` (-1: all); writes the kept keys in order and
 * their rows.  cols: the chunk's colreads per key (for truncated strings).
 * Scratch from the kernel allocator; TSR_ENOMEM on failure. */
tsr_status tsr__sort_run(const tsr__sorter *s, const tsr__colread *cols, const uint64_t *keys,
                         int64_t n, int64_t keep, uint64_t *out_keys, uint32_t *out_rows);

/* One column chunk of input (node i, chunk c) as a kernel of phase 2 or 3 reads it. */
void tsr__sort_colread(const tsr__colref *ref, const void *buf, size_t bytes, tsr__colread *out);

#endif /* TSR_FRAME_SORT_IMPL_H */

/* groupby_impl.h — what the group-by's files share (docs/frames.md,
 * "Group-by"): owned column buffers (gb_col), the key coders and the
 * grouper that turn key columns into dense group ids (group_keys.c), the
 * decomposable aggregate states (group_aggs.c), and a frame over table
 * chunks held in memory (mem_frame.c).
 *
 * The plan (groupby.c): one task per input row chunk groups its rows into
 * local groups (numbered by hash bucket of their keys, then in the order of
 * their first row in the chunk), keeps each local group's key values and
 * partial aggregate states; then one task per bucket groups the bucket's
 * local groups of all chunks, in chunk order, again by the same coders into
 * global groups, and merges partial states in chunk order: results do not
 * depend on the thread count. */
#ifndef TSR_FRAME_GROUPBY_IMPL_H
#define TSR_FRAME_GROUPBY_IMPL_H

#include "frame_impl.h"
#include "group_holistic.h"

__extension__ typedef __int128 gb_i128;

/* ---- owned column buffers ------------------------------------------------------ */

/* A column of n values owned by the group-by (tsr_alloc): values (n x
 * width), an Arrow validity bitmap (NULL: all valid), and for strings a
 * data buffer that long views point into. */
typedef struct gb_col {
  tsr_type type;
  int64_t n;
  int64_t nulls;
  void *values;
  uint8_t *validity;
  char *data;
  size_t data_bytes;
  bool borrowed; /* the arrays lie in a received message (gb_wire_view_col): not freed */
} gb_col;

void gb_col_free(tsr_ctx *ctx, gb_col *c);
/* c read as a tsr__colread. */
void gb_col_read(const gb_col *c, tsr__colread *out);
/* One column over a run of consecutive chunks (one chunk, or several that
 * a task groups at once), read where the chunks are, never copied: chunk
 * r holds the run's rows off[r] .. off[r + 1] - 1. */
typedef struct gb_run {
  int64_t n;             /* chunks */
  const tsr__colread *c; /* n */
  const int64_t *off;    /* n + 1 */
} gb_run;

/* The chunk of run r that holds the run's row `row`. */
static inline int64_t gb_run_chunk(const gb_run *r, int64_t row) {
  int64_t c = 0;
  while (c + 1 < r->n && r->off[c + 1] <= row)
    c++;
  return c;
}

/* out = the run's rows `rows[0..n)` (a row of -1 gives null), row i in
 * chunk chunk[i] (chunk NULL: a run of one chunk).  Strings are copied
 * into out's own data buffer. */
tsr_status gb_col_gather(tsr_ctx *ctx, const gb_run *r, tsr_type type, const int32_t *rows,
                         const uint8_t *chunk, int64_t n, gb_col *out);

/* ---- key coders (group_keys.c) ------------------------------------------------- */

/* A coder turns one key column's values into codes 0..ncodes-1, equal
 * values (NaN one value, -0.0 == 0.0) to equal codes, null to code 0.
 * Integers of a small range (bools, dictionary codes, dates...) are coded
 * by their offset from the minimum; other values through an open-addressing
 * hash table assigning codes in first-seen order.  A coder keeps its table
 * between batches (the merge codes chunk after chunk). */
typedef struct gb_coder gb_coder;

/* A coder for values of `type` whose (order-mapped, see group_keys.c)
 * minimum and maximum are lo and hi (lo > hi: no values), for about `rows`
 * values in all. */
tsr_status gb_coder_create(tsr_ctx *ctx, tsr_type type, uint64_t lo, uint64_t hi, int64_t rows,
                           gb_coder **out);
void gb_coder_destroy(gb_coder **c);
/* Codes the r->rows values of r into codes[]. */
tsr_status gb_coder_code(gb_coder *c, const tsr__colread *r, uint32_t *codes);
/* h[i] = a hash of r's value at row rows[i] (rows NULL: row i), i < n
 * (combine: mixed with h[i] already there); equal for values the coders
 * take as equal (every null, every NaN, -0.0 and 0.0), in every chunk. */
void gb_hash_col(const tsr__colread *r, tsr_type type, const int32_t *rows, int64_t n, bool combine,
                 uint64_t *h);
/* Codes so far (an upper bound of every code + 1). */
uint64_t gb_coder_ncodes(const gb_coder *c);
/* The order-mapped minimum and maximum of r's valid values (integers,
 * dates, timestamps, bools, dictionary codes); lo > hi when none or when
 * the type is not an integer type. */
void gb_minmax(const tsr__colread *r, tsr_type type, uint64_t *lo, uint64_t *hi);
/* Whether the type is coded by range when its range is small. */
bool gb_type_rangeable(tsr_type type);

/* Groups n rows given k code columns (codes[j][i] < ncodes[j]): ids[i]
 * receives the row's group, groups numbered from 0 in the order of their
 * first row; *ngroups the count and first[g] (n + 1 entries, may be NULL)
 * each group's first row.  Direct indexing when the product of the code
 * counts is small, else the codes are bit-packed into 64-bit keys (folded
 * through a hash table when they need more than 64 bits) and grouped by an
 * open-addressing hash table. */
tsr_status gb_group_codes(tsr_ctx *ctx, int k, uint32_t *const *codes, const uint64_t *ncodes,
                          int64_t n, int32_t *ids, int64_t *ngroups, int32_t *first);

/* What gb_group_codes and bucketing by the top `bits` bits of gb_hash_col
 * give for one string key column without nulls (a run of chunks), faster:
 * ids[i] receives the run's row i's group, groups numbered by bucket, then
 * by first row; *ngroups, first[g] each group's first row, boff[b]
 * (2^bits + 1 entries) bucket b's first group. */
tsr_status gb_group_str_buckets(tsr_ctx *ctx, const gb_run *r, int bits, int32_t *ids,
                                int64_t *ngroups, int32_t *first, int64_t *boff);

/* ---- aggregates (group_aggs.c) ------------------------------------------------- */

/* The resolved aggregate: op, columns (indices into the input frame's
 * columns; -1 none), result type and name. */
typedef struct gb_agg {
  tsr_agg_op op;
  int col, col2;
  tsr_type in_type, in_type2;
  tsr_type out_type;
  int ddof;
  int kind; /* GB_K_INT, GB_K_UINT, GB_K_FLOAT, GB_K_OTHER */
  char *name;
  /* holistic aggregates (median, quantile, nunique, largest, smallest):
   * computed by group_holistic.c from every row's global group id */
  bool holistic;
  tsr__hol_spec spec;
  double q;
  tsr__hol *hol;
  tsr__hol_result res;
} gb_agg;
enum { GB_K_INT = 0, GB_K_UINT, GB_K_FLOAT, GB_K_OTHER };

/* Partial states of one aggregate over n groups (arrays; which are used
 * depends on the op and kind). */
typedef struct gb_state {
  int64_t n;
  int64_t *count;        /* non-null values (count, sum, mean, ... ; corr: pairs) */
  const int64_t *gcount; /* per chunk, instead of count when the column has no nulls:
                            the chunk's rows per local group (borrowed) */
  int64_t *isum;         /* per chunk: integer sums of narrow types */
  gb_i128 *wsum;         /* integer sums of 64-bit types, and every merged sum */
  double *fsum;          /* float sums; var/corr: mean of x */
  double *mean2;         /* corr: mean of y */
  double *m2;            /* var: sum of squared deviations; corr: of x */
  double *m2y;           /* corr: of y */
  double *cxy;           /* corr: co-moment */
  int64_t *imin;         /* min/max of integers (uints in uint64 bits), bools any/all */
  double *fmin;          /* min/max of floats */
  int32_t *row;          /* string min/max, first, last: the row (chunk) or -1 */
  gb_col vals;           /* per chunk: string min/max, first, last values of local groups */
  int32_t *src_chunk;    /* merged: the chunk whose vals hold the value, or -1 */
  int32_t *src_local;    /* merged: the local group there */
  bool in_message;       /* read from a message (gb_wire_read_state): the arrays of at most
                            8-byte values lie in it, not freed */
} gb_state;

void gb_state_free(tsr_ctx *ctx, gb_state *s);

/* Fills partial states for n local groups from a run of chunks, chunk
 * after chunk into the same states (each state accumulates the run's rows
 * in row order): ids[i] is the run's row i's local group, first/last each
 * local group's first/last row and fch/lch the chunks that hold them,
 * gcount the rows per local group; x (and y for corr and covariances) the
 * aggregate's columns over the run. */
tsr_status gb_agg_chunk(tsr_ctx *ctx, const gb_agg *a, const gb_run *x, const gb_run *y,
                        int64_t rows, const int32_t *ids, int64_t n, const int32_t *first,
                        const uint8_t *fch, const int32_t *last, const uint8_t *lch,
                        const int64_t *gcount, gb_state *out);
/* Allocates merged states for ngroups groups. */
tsr_status gb_agg_merged_init(tsr_ctx *ctx, const gb_agg *a, int64_t ngroups, gb_state *out);
/* Merges the n local groups start.. of chunk `chunk` (parts[chunk]) into
 * the merged states of groups map[0..n); every group's chunks are merged
 * in chunk order. */
void gb_agg_merge(const gb_agg *a, gb_state *dst, const gb_state *parts, int32_t chunk,
                  int64_t start, const int32_t *map, int64_t n);
/* Writes the result of groups order[0..n) into column chunk `out` (values
 * and validity; rows already set by the caller); `parts` are the chunk
 * states (for values kept per chunk).  TSR_EOVERFLOW for sums that do not
 * fit, naming the result column. */
tsr_status gb_agg_finish(const gb_agg *a, const gb_state *merged, const gb_state *parts,
                         const int64_t *order, int64_t n, tsr__colchunk *out);
/* Data bytes the groups order[0..n) need in a string result column. */
uint64_t gb_agg_data_bytes(const gb_agg *a, const gb_state *merged, const gb_state *parts,
                           const int64_t *order, int64_t n);

/* Under MPI, parts are all-gathered instead of shuffled by bucket when no
 * part has more than n local groups (n < 0: the default, 4096).  For
 * tests; not thread-safe. */
void tsr__groupby_set_gather_max(int64_t n);
/* Under MPI, a shuffled group-by's result (first-seen order) of more than
 * n rows is held across the ranks, a smaller one gathered whole on every
 * rank (n < 0: the default, one result chunk, 2^20 rows).  For tests; not
 * thread-safe. */
void tsr__groupby_set_hold_min(int64_t n);
/* Tests: the rows of a result chunk (one rank's and the ranks' cut); n <= 0
 * restores 2^20. */
void tsr__groupby_set_result_chunk_rows(int64_t n);
/* The context's allocation counts (tsr_memory_stats.allocations) when the
 * last group-by with holistic aggregates began computing them and when it
 * had them.  For tests (a failure injected in that phase); not
 * thread-safe. */
void tsr__groupby_holistic_marks(uint64_t *begin, uint64_t *end);

/* ---- the byte form between ranks (groupby_wire.c) ------------------------------- */

/* A writer (buf NULL: counts bytes only, in at) or a reader (buf .. end). */
typedef struct gb_wire {
  unsigned char *buf;
  uint64_t at, end;
} gb_wire;

/* n bytes at p (p NULL: n zero bytes). */
void gb_wire_put(gb_wire *w, const void *p, uint64_t n);
void gb_wire_i64(gb_wire *w, int64_t v);
/* v[idx[0]], ..., v[idx[n - 1]]: n numbers of 8 bytes (read back with gb_wire_get). */
void gb_wire_i64s_at(gb_wire *w, const int64_t *v, const int64_t *idx, int64_t n);
/* Rows [s, s + n) of column c (of `type`). */
void gb_wire_col(gb_wire *w, tsr_type type, const tsr__colread *c, int64_t s, int64_t n);
/* A column of n values of a fixed-width `type` without nulls, as
 * gb_wire_col writes it, but its values left for the caller to write:
 * returns where they go in w's buffer (n x width bytes). */
uint64_t gb_wire_col_reserve(gb_wire *w, tsr_type type, int64_t n);
/* Rows rows[0..n) of column c, in that order (read back by gb_wire_view_col). */
void gb_wire_col_rows(gb_wire *w, tsr_type type, const tsr__colread *c, const int32_t *rows,
                      int64_t n);
/* n numbers >= 0 (row counts), each in the bytes the largest needs. */
void gb_wire_counts(gb_wire *w, const int64_t *v, int64_t n);
/* n numbers as their differences (small when they grow slowly), packed the same way. */
void gb_wire_deltas(gb_wire *w, const int32_t *v, int64_t n);
/* Local groups [start, start + n) of aggregate a's partial state s. */
void gb_wire_state(gb_wire *w, const gb_agg *a, const gb_state *s, int64_t start, int64_t n);
/* Array bytes of n groups' partial states (no headers, no string data). */
uint64_t gb_wire_state_bytes(const gb_agg *a, const gb_state *s, int64_t n);
/* Readers: TSR_EMPI when the message ends early or is malformed. */
tsr_status gb_wire_get(gb_wire *r, void *p, uint64_t n);
tsr_status gb_wire_get_i64(gb_wire *r, int64_t *v);
tsr_status gb_wire_get_counts(gb_wire *r, int64_t *v, int64_t n);
/* scratch: n numbers. */
tsr_status gb_wire_get_deltas(gb_wire *r, int32_t *v, int64_t n, int64_t *scratch);
/* A column as gb_wire_col wrote it, read where it lies: out's arrays point
 * into r's buffer (out->borrowed), which must outlive out. */
tsr_status gb_wire_view_col(gb_wire *r, tsr_type type, gb_col *out);
/* A state of n groups, read where it lies (but 16-byte sums, copied: the
 * message aligns to 8); r's buffer must outlive out.  States that
 * borrowed their part's row counts borrow `gcount`. */
tsr_status gb_wire_read_state(tsr_ctx *ctx, gb_wire *r, const gb_agg *a, int64_t n,
                              const int64_t *gcount, gb_state *out);
/* Frees s's arrays that a message carries (gb_wire_state's), but those
 * gb_wire_read_state left where they lie in the message (gb_state_free). */
void gb_state_free_arrays(tsr_ctx *ctx, gb_state *s);

/* ---- a frame over table chunks in memory (mem_frame.c) -------------------------- */

/* A frame of ncols columns (names copied, dicts retained) over nchunks
 * table chunks (each from tsr_alloc, taken over: freed with the last frame
 * that uses them, also when this call fails) of rows[c] rows; data_cap
 * (ncols x nchunks, column-major) the string columns' data capacities. */
tsr_status gb_mem_frame(tsr_ctx *ctx, int ncols, char *const *names, const tsr_type *types,
                        tsr__dict *const *dicts, int64_t nchunks, void **chunks,
                        const size_t *chunk_bytes, const int64_t *rows, const int64_t *data_cap,
                        tsr_frame **out);
/* gb_mem_frame under MPI with chunk c held by rank owner[c] alone:
 * chunks[c] is NULL on the other ranks; chunk_bytes, rows, data_cap and
 * owner are every chunk's, the same on every rank.  Later graphs must run
 * on the same ranks.  owner NULL: gb_mem_frame. */
tsr_status gb_mem_frame_held(tsr_ctx *ctx, int ncols, char *const *names, const tsr_type *types,
                             tsr__dict *const *dicts, int64_t nchunks, void **chunks,
                             const size_t *chunk_bytes, const int64_t *rows,
                             const int64_t *data_cap, const int32_t *owner, tsr_frame **out);

#endif /* TSR_FRAME_GROUPBY_IMPL_H */

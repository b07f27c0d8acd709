/* join_impl.h — what the join's files share (docs/frames.md, "Joins"):
 * the job (both sides loaded, the key pairs and how their values compare),
 * the key encoding (join_keys.c), the hash table over the right side and
 * the probe (join_hash.c), and the output (join.c).
 *
 * The plan: both sides are computed and kept in memory by the sort
 * engine's loader (sort_impl.h, phase 1, without keys).  Every row's keys
 * become W = nkeys 64-bit words in which equal keys have equal words
 * (integers of any width and signedness in one exact domain, floats with
 * -0.0 = 0.0 and one NaN, strings and dictionaries as ids of the right
 * side's distinct strings), plus a byte saying whether the row can match
 * (no null key, no value the other side cannot hold).  One table over the
 * right side (direct indexing by the key when one word spans a small
 * range, else open addressing), chaining each key's rows in row order;
 * one task per left chunk probes it in batches into (left row, right row)
 * pairs; one task per output chunk gathers the columns.  Output chunks
 * follow left chunks (then, for right and full joins, one per right chunk
 * for its unmatched rows), so nothing depends on the thread count.  Under
 * MPI each rank holds the right side whole (or, filtered, every right row
 * its own left keys may match: join_filter.c) and the left chunks it owns,
 * probes those, and the output chunks are all-gathered (join_dist.c), or,
 * for a large right side, both sides' rows go to their key's bucket owner,
 * which probes them, and the matches come back to the left chunks' owners
 * (join_shuffle.c); so nothing depends on the rank count either. */
#ifndef TSR_FRAME_JOIN_IMPL_H
#define TSR_FRAME_JOIN_IMPL_H

#include <stdlib.h>

#include "sched/taskgraph_impl.h" /* tsr__taskgraph_run_local */
#include "sort_impl.h"

#define TSR__JOIN_NONE UINT64_MAX /* a row reference to no row (null columns) */
#define TSR__JOIN_BATCH 2048      /* rows hashed, then looked up, at a time */

/* Open addressing over a side's distinct strings: id = first-seen order. */
typedef struct tsr__jstr_slot {
  uint64_t hash;
  const char *ptr;
  uint32_t len;
  uint32_t id; /* UINT32_MAX: empty */
} tsr__jstr_slot;

typedef struct tsr__jstrtab {
  uint64_t mask;
  uint32_t n;
  tsr__jstr_slot *slots;
} tsr__jstrtab;

/* What the probe reads of a right row, together: an entry of the table.
 * Entries are right rows, or for a large direct table in the order
 * join_hash.c's build_parted writes them. */
typedef struct tsr__jrow {
  int64_t next;  /* the entry of the next right row with the same key, or -1 */
  int64_t chain; /* rows in the chain from this one on */
  uint64_t pack; /* chunk << 32 | row */
} tsr__jrow;

/* One key pair. */
typedef struct tsr__jkey {
  int col[2]; /* the key column on the left (0) and the right (1) */
  bool flip;  /* integers: at least one side is signed (words are int64 with the sign bit
                 flipped; unsigned values above INT64_MAX cannot match) */
  bool str;   /* strings and dictionaries: words are string ids */
  tsr__jstrtab tab;  /* the right side's strings */
  uint32_t *map[2];  /* dictionaries: code -> id (UINT32_MAX: not on the right) */
  uint32_t *rid;     /* a right string column: each global right row's id */
} tsr__jkey;

typedef struct tsr__join {
  tsr_ctx *ctx;
  const char *fn;
  tsr_join_kind kind;
  bool dist;             /* several MPI ranks (join_dist.c) */
  bool shuffle;          /* dist: a shuffle join (join_shuffle.c), else a broadcast join */
  bool filter;           /* dist broadcast: the right's rows filtered by the left's keys
                            (join_filter.c) */
  uint64_t filter_bits;  /* filter: bits of each rank's key filter (a power of two) */
  bool filter_or_shuffle; /* filter: the estimate chose a shuffle; the filter's bytes, once
                             counted, decide (tsr__join_filter) */
  double shuffle_bytes;   /* filter_or_shuffle: the shuffle's estimated bytes, all ranks */
  char *filter_in;       /* filter: the right rows received (j->side[1] reads them; freed by
                            tsr__join_dist_free) */
  uint8_t *filter_keep;  /* filter: per right row, 0 for this rank's own rows its left keys
                            cannot match (tsr__join_filter_drop) */
  struct tsr__jdist *dd; /* dist: the output gather's state */
  struct tsr__jshuf *sh; /* shuffle: what the output reads (freed by tsr__join_dist_free) */
  tsr__sorter *side[2]; /* loaded: cr, rows, row_start, total */
  int nkeys;
  tsr__jkey *keys;
  /* encoded keys of each side, by global row */
  uint64_t *words[2]; /* total x nkeys */
  uint8_t *ok[2];     /* total: 1 when the row can match */
  /* the table over the right side */
  bool direct;
  uint64_t lo;        /* direct: the smallest key */
  uint64_t mask;      /* hashed: slots - 1 */
  int64_t *head;      /* direct: span + 1 heads; hashed: slots; an entry of rrows, -1 empty */
  uint64_t *tag;      /* hashed: the key (one word) or its hash (several) */
  tsr__jrow *rrows;   /* the entries, one per right row with a key (one cache line read per
                         match) */
  uint8_t *matched;   /* right and full joins: right rows that matched */
  int64_t rbase;      /* side[1]'s first chunk of the right as loaded (its unmatched rows): 0,
                         or after the returned pieces of a shuffle join */
  /* per left chunk, from the probe */
  int64_t *npairs;
  uint32_t **lrow;    /* the left rows (in the chunk) */
  uint64_t **rref;    /* the right rows (chunk << 32 | row, or TSR__JOIN_NONE) */
  /* the output */
  int ncols;          /* output columns */
  int *src_side;      /* per output column: 0 left, 1 right, 2 a key (left, or right's) */
  int *src_col;       /* the column in its side (keys: the key index) */
  uint32_t **remap;   /* per output column and side (2 x ncols): dictionary code remap or NULL */
  int64_t *str_bytes; /* per left chunk x output column: string data bytes */
  /* as-of joins */
  bool asof;
  int on[2];          /* the on column of each side */
  bool has_tol;
  double tol;
  uint64_t *onw[2];   /* per row: the on value, order-preserving */
  uint8_t *onok[2];   /* per row: on is not null (nor NaN) */
  struct tsr__jasof *ent; /* valid right rows sorted by (group, on, row) */
  int64_t nent;
  int64_t *gbeg, *gend; /* per group head (right row; 0 without groups): its entries */
  uint64_t *rpack;      /* per right row: chunk << 32 | row */
} tsr__join;

static inline uint64_t tsr__join_mix(uint64_t x) {
  x ^= x >> 32;
  x *= UINT64_C(0xd6e8feb86659fd93);
  x ^= x >> 32;
  x *= UINT64_C(0xd6e8feb86659fd93);
  x ^= x >> 32;
  return x;
}

/* A task's params: the job and the task's number. */
typedef struct tsr__jtask {
  tsr__join *j;
  int64_t i;
} tsr__jtask;
static inline tsr__jtask tsr__jtask_of(const tsr_kernel_call *call) {
  tsr__local_task t = tsr__local_task_of(call);
  return (tsr__jtask){t.arg, t.index};
}
/* Runs ntasks tasks of fn (params tsr__jtask, no inputs, no output) now,
 * unless `prior` (this rank's status so far) failed.  Under MPI every rank
 * runs every task on what it holds (a kernel's work for a left chunk
 * another rank owns is empty: that chunk has no rows here), with no word
 * to the other ranks (tsr__taskgraph_run_local): the caller agrees on the
 * status returned before its next collective step. */
static inline tsr_status tsr__join_run(tsr__join *j, tsr_status prior, const char *name,
                                       tsr_kernel_fn fn, int64_t ntasks) {
  return prior != TSR_OK ? prior : tsr__taskgraph_run_local(j->ctx, name, fn, j, ntasks);
}

/* A hash of n bytes. */
uint64_t tsr__join_hash_bytes(const char *p, size_t n);

/* join_keys.c: checks that the key pairs can be compared (TSR_EINVAL
 * naming the key and both types otherwise) and prepares their coding (the
 * right side's strings); then encodes both sides' keys (a task per chunk). */
tsr_status tsr__join_keys_prepare(tsr__join *j);
tsr_status tsr__join_keys_encode(tsr__join *j);
void tsr__join_keys_free(tsr__join *j);

/* join_hash.c: the table over the right side's encoded keys, and the
 * probe of every left chunk (a task per chunk) into npairs, lrow, rref,
 * matched and str_bytes. */
tsr_status tsr__join_build(tsr__join *j);
tsr_status tsr__join_probe(tsr__join *j);
/* The head (an entry of rrows, one per key) of the chain of key words w,
 * or -1. */
int64_t tsr__join_find(const tsr__join *j, const uint64_t *w);
/* Tests: direct tables over at least min_span keys are built a slice of
 * slice_span keys (rounded up to a power of two) at a time (negative, 0:
 * the defaults). */
void tsr__join_set_parted(int64_t min_span, int64_t slice_span);
/* str_bytes of left chunk c's output: cnt rows, left rows lr (in the
 * chunk), right refs rr (NULL: none). */
tsr_status tsr__join_str_bytes(tsr__join *j, int64_t c, int64_t cnt, const uint32_t *lr,
                               const uint64_t *rr);
/* Whether column col of side s holds long strings' bytes (a string column
 * whose chunks' views are all inline takes no bytes beyond its views). */
bool tsr__join_long_strings(const tsr__sorter *s, int col);

/* join_asof.c: the as-of join's `on` values of both sides and the right
 * rows sorted by (group, on, row); then its probe (a task per left chunk)
 * into npairs, lrow, rref and str_bytes, one result row per left row. */
tsr_status tsr__join_asof_prepare(tsr__join *j);
/* The on values of column chunk r of type t as order-preserving words w
 * (r->rows of them); ok[i]: row i can match (not null, nor NaN). */
void tsr__join_on_words(tsr_type t, const tsr__colread *r, uint64_t *w, uint8_t *ok);
tsr_status tsr__join_asof_probe(tsr__join *j);
void tsr__join_asof_free(tsr__join *j);

/* join_dist.c: the join across MPI ranks (a broadcast join: every rank
 * holds the right side whole and probes the left chunks it owns).  Side s
 * of the join over frame f: made (local), then loaded (collective: under
 * MPI the right side whole on every rank, the left's chunks this rank owns;
 * a left chunk owned elsewhere has no rows here).  On one rank these are
 * tsr__sorter_create and tsr__sorter_load. */
tsr_status tsr__join_side_create(tsr__join *j, int side, tsr_frame *f);
tsr_status tsr__join_side_load(tsr__join *j, int side);
/* Collective: TSR_EINVAL when the sides' dictionaries differ between ranks. */
tsr_status tsr__join_dist_check(tsr__join *j);
/* Collective, after the probe: every rank gets every left chunk's npairs
 * and str_bytes, and (broadcast joins) the right rows any rank matched. */
tsr_status tsr__join_dist_share(tsr__join *j);
/* Collective, shuffle right and full joins: every rank gets the row counts
 * (counts[nl + c]) and string bytes (data_cap[o * (nl + nr) + nl + c], nc
 * output columns) of the unmatched rows of every right chunk c, which its
 * owner alone knows. */
tsr_status tsr__join_dist_share_right(tsr__join *j, int64_t nl, int64_t nr, int nc, int64_t *counts,
                                      int64_t *data_cap);
/* The output node's nout chunks (rows[c] rows each), each gathered and
 * held by its owner, as a frame over memory with the layout's names, types
 * and dictionaries (borrowed).  This rank's own work: no collective, the
 * caller agrees on the status. */
tsr_status tsr__join_dist_output(tsr__join *j, const tsr__expr *node, int64_t nout,
                                 const int64_t *rows, const int64_t *data_cap, int ncols,
                                 const tsr__col *cols, tsr_frame **out);
void tsr__join_dist_free(tsr__join *j);

/* join_shuffle.c: the shuffle join (docs/scaling.md 4.2).
 * tsr__join_dist_choose (collective, before the sides load): sets j->shuffle
 * from the context's broadcast join limit, or by volume; TSR_EINVAL when the
 * ranks chose differently.
 * tsr__join_shuffle (collective, after both sides loaded their own chunks
 * and probe_arrays): the left's keys and the right's needed columns go to
 * the rank owning their key's bucket, which joins them; per left row, the
 * match counts and the matched right rows' columns come back to the left
 * chunk's owner, which fills npairs, lrow, rref and str_bytes of its chunks
 * as one rank's probe would, with j->side[1] replaced by those returned
 * rows (chunk c * P + p: from rank p for left chunk c).  Right and full
 * joins: per right row, whether it matched comes back to its chunk's owner,
 * and j->side[1] goes on with the right's chunks as loaded (from chunk
 * j->rbase = nl * P on; j->matched over them).  As-of joins without by
 * keys go by on value ranges instead of key hashes.  The output then runs
 * as in the broadcast join. */
tsr_status tsr__join_dist_choose(tsr__join *j);
/* Side s's columns that travel (distinct, ascending, into cols; returns
 * their count, at least 1): the keys (as-of: the by keys and the on
 * column), and for the right side the columns the result takes from it. */
int tsr__join_shipped_cols(const tsr__join *j, int s, const tsr_frame *f, int *cols);
tsr_status tsr__join_shuffle(tsr__join *j);
void tsr__join_shuffle_free(tsr__join *j);
/* What the shuffle and the filtered broadcast share.  Per key of side s
 * that is a dictionary: each code's string hash (dh[k], freed by the
 * caller).  Key k's words in side s's chunk c, rows [i0, i0 + n), into w,
 * equal for equal keys of any two comparable types (join_keys.c's rules):
 * integers by value (signed ones sign-extended), floats as float64 bits
 * with -0.0 = 0.0 and one NaN, strings and dictionaries by their bytes'
 * hash (dh[k]); valid[i] &= 0 for a null (or a code outside its
 * dictionary).  One loop per call, chosen by the column's type.  Each row's
 * hash of its keys' words (h, rows [0, rows)), valid[i] = 0 for a null key. */
tsr_status tsr__join_dict_hashes(const tsr__join *j, int s, uint64_t **dh);
void tsr__join_key_words(const tsr__join *j, int s, int64_t c, int k, uint64_t *const *dh,
                         int64_t i0, int64_t n, uint64_t *w, uint8_t *valid);
void tsr__join_key_hashes(const tsr__join *j, int s, int64_t c, uint64_t *const *dh, uint64_t *h,
                          uint8_t *valid);
/* A column of side s on the wire, rows ref[0..n) (chunk << 32 | row): its
 * bytes (and, added to *least, its values' and long strings' bytes), its
 * packing at dst (returns the bytes written), its reading at src into a
 * column read of n rows (returns the bytes read; out points into src). */
uint64_t tsr__join_wire_bytes(const tsr__sorter *s, int col, const uint64_t *ref, int64_t n,
                              uint64_t *least);
uint64_t tsr__join_wire_pack(const tsr__sorter *s, int col, const uint64_t *ref, int64_t n,
                             char *dst);
uint64_t tsr__join_wire_read(const char *src, int64_t n, tsr_type t, tsr__colread *out);
/* A sorter over frame f with nchunks chunks of 0 rows, whose column reads
 * the caller fills from received pieces (rows[c], cr); then
 * tsr__join_piece_starts sets the row starts and total. */
tsr_status tsr__join_piece_sorter(tsr_ctx *ctx, tsr_frame *f, const char *fn, int64_t nchunks,
                                  tsr__sorter **out);
void tsr__join_piece_starts(tsr__sorter *s);
/* The send buffer's layout: soff[p] = at[p] = the bytes for ranks before
 * p (scount[q], q < p); returns the bytes for all. */
uint64_t tsr__join_send_offsets(int P, const uint64_t *scount, uint64_t *soff, uint64_t *at);
/* Collective: agrees on `status` (this rank's so far), then sends each
 * rank p the scount[p] bytes at *send + soff[p] and receives into *in
 * (allocated here: rcount[p] bytes from each rank p, back to back, *total
 * in all); frees *send.  Every rank returns the same status. */
tsr_status tsr__join_exchange(tsr__join *j, tsr_status status, char **send, const uint64_t *soff,
                              const uint64_t *scount, uint64_t *rcount, char **in, uint64_t *total);

/* join_filter.c: the filtered broadcast join (docs/scaling.md 4.2).
 * Collective, after the left loaded its own chunks and the right its own
 * chunks (not whole): each rank gets, of every other rank's right chunk,
 * the rows whose key its left rows may hold (a bit filter over the keys'
 * values or hashes), in row order, and j->side[1] becomes, per chunk c,
 * right chunk c as loaded (its own) or those rows; the broadcast join's
 * phases then run on them.  Inner, left, semi and anti joins.  With
 * j->filter_or_shuffle, once the rows are picked, the bytes every rank
 * would send are summed: if they and the filters reach j->shuffle_bytes,
 * nothing is sent, and j->shuffle is set instead of j->filter.
 * tsr__join_set_filter (tests; TESSERA_JOIN_FILTER when it is -1): 1
 * always filters a broadcast join of those kinds, 0 never, -1 (the
 * default) by volume. */
tsr_status tsr__join_filter(tsr__join *j);
/* After the keys' encoding: this rank's own right rows (not sent, kept as
 * loaded) that its filter does not pass leave the table (ok = 0). */
void tsr__join_filter_drop(tsr__join *j);
void tsr__join_set_filter(int mode);
int tsr__join_filter_mode(void);
/* Whether TESSERA_JOIN_TRACE=1: the distributed joins print their steps. */
static inline bool tsr__join_tracing(void) {
  const char *v = getenv("TESSERA_JOIN_TRACE");
  return v != NULL && *v == '1';
}
/* What the last distributed join on this process moved (for the tests and
 * TESSERA_JOIN_TRACE=1): its strategy; the bytes the shuffle sent to other
 * ranks and the least it could (the shipped columns' values and string
 * bytes of the rows whose bucket another rank owns); the bytes sent back. */
typedef struct tsr__join_diag {
  bool shuffle;
  uint64_t sent, least, returned;
  bool filtered;         /* a filtered broadcast join (join_filter.c) */
  bool declined;         /* a filtered broadcast weighed against the shuffle and dropped
                            (filter_bytes: its filter's, all-gathered before) */
  uint64_t filter_bytes; /* its filter's bytes a rank; sent: the right rows' bytes it sent */
  uint64_t rows_sent;    /* the right rows it sent to other ranks */
} tsr__join_diag;
extern tsr__join_diag tsr__join_last;
/* join.c: output chunk c of the join's output node into out (bytes bytes). */
tsr_status tsr__join_gather_chunk(const tsr__expr *node, int64_t c, void *out, size_t bytes);

/* join.c: tsr_frame_join computed in memory (the same contract). */
tsr_status tsr__join_memory(tsr_frame *left, tsr_frame *right, tsr_join_kind kind, int nkeys,
                            const char *const *left_on, const char *const *right_on,
                            const tsr_join_options *options, tsr_frame **out);

/* join_spill.c: the bytes all of f's columns take (tsr__spill_bytes), and
 * tsr_frame_join computed out of core: both sides hash-partitioned by
 * their keys into `npartitions` partitions (0: as many as the memory limit
 * needs), each pair joined by tsr__join_memory (a pair larger than twice
 * `piece_bytes` (0: from the limit) in pieces of at most piece_bytes a
 * side), the result a lazy frame read back from a spill file.  *used and
 * *pieced (may be NULL) receive the partition count and how many were
 * joined in pieces.  Same rows, values, order and
 * chunks as tsr__join_memory. */
uint64_t tsr__join_spill_bytes(const tsr_frame *f);
tsr_status tsr__join_spill(tsr_frame *left, tsr_frame *right, tsr_join_kind kind, int nkeys,
                           const char *const *left_on, const char *const *right_on,
                           const tsr_join_options *options, int npartitions, uint64_t piece_bytes,
                           int *used, int *pieced, tsr_frame **out);

#endif /* TSR_FRAME_JOIN_IMPL_H */

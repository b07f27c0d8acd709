/* spill.h — hash partitions in spill files, and results read back from
 * spill files, shared by the out-of-core group-by (groupby_spill.c) and
 * join (join_spill.c) (docs/frames.md, "Group-by larger than memory" and
 * "Joins larger than memory").
 *
 * A job splits a frame's columns, plus each row's number (chunk << 32 |
 * row), by a hash of its key columns into 2^bits partitions: one task per
 * input chunk appends each partition's rows of the chunk, in row order, to
 * the job's spill file as one table chunk.  A partition then reads back as
 * a lazy frame with the input's chunking.  A result is written as runs
 * (table chunks tagged with the result chunk they belong to, the last
 * column a row number in that chunk's domain) and read back as a lazy
 * frame whose chunk c places its runs' rows by that number (rows with the
 * same number in the order of their runs). */
#ifndef TSR_FRAME_SPILL_H
#define TSR_FRAME_SPILL_H

#include "frame_impl.h"

#define TSR__SPILL_MAX_PARTITIONS 1024

typedef struct tsr__spill_file {
  int fd;
  const char *fn;       /* the calling function, for messages */
  _Atomic uint64_t end; /* appends reserve their range here */
} tsr__spill_file;

typedef struct tsr__spill_rec { /* a table chunk in a spill file */
  uint64_t off, bytes;
  int64_t rows;
  int64_t chunk; /* runs: the result chunk they belong to */
} tsr__spill_rec;

typedef struct tsr__spill_job {
  tsr_ctx *ctx;
  const char *fn;
  tsr_frame *f;
  int nkeys;
  int ncols;                       /* input columns spilled (then the row number) */
  int *cols;                       /* ncols: frame columns */
  int *key_in;                     /* nkeys: index into cols */
  const uint64_t *const *key_hash; /* NULL, or per key NULL or a dictionary key's
                                      code -> hash of its string (tsr__spill_hash_bytes) */
  tsr__colref *refs;               /* ncols */
  size_t *widths;                  /* ncols + 1 */
  bool *str;                       /* ncols + 1 */
  int bits;                        /* P = 2^bits partitions */
  int64_t nparts;
  int64_t nchunks;
  tsr__spill_file in;   /* the partitions */
  tsr__spill_rec *recs; /* nparts x nchunks: partition p's piece of chunk c at p * nchunks + c */
  int64_t *rdcap;       /* per piece (as recs), ncols + 1 string data capacities */
  int64_t *rows;        /* nchunks: each input chunk's rows */
} tsr__spill_job;

typedef struct tsr__spill_out { /* a result being written as runs */
  int ncols;                    /* result columns + the row number */
  char **names;
  tsr_type *types;
  tsr__dict **dicts; /* retained */
  size_t *widths;
  bool *str;
  tsr__spill_file file;
  tsr__spill_rec *runs;
  int64_t *dcap; /* per run: ncols data capacities */
  int64_t nruns, cap;
  int64_t nchunks; /* under MPI, > 0: the result's chunks; a run of a chunk another rank
                      owns is counted (rows, capacities) but not written */
} tsr__spill_out;

/* Spill files live under TESSERA_SPILL_DIR (else TMPDIR, else /tmp) and
 * are unlinked when created.  Appends may come from any thread. */
tsr_status tsr__spill_open(tsr__spill_file *f, const char *fn);
void tsr__spill_close(tsr__spill_file *f);
tsr_status tsr__spill_append(tsr__spill_file *f, const void *buf, uint64_t bytes, uint64_t *off);
tsr_status tsr__spill_read(const tsr__spill_file *f, void *buf, uint64_t bytes, uint64_t off);

/* A table chunk of `rows` rows with exact string data capacities, every
 * column's rows set and its bitmap all valid (tsr_kernel_alloc inside a
 * kernel, else tsr_alloc). */
tsr_status tsr__spill_blob_alloc(tsr_ctx *ctx, const char *fn, bool kernel, int ncols,
                                 const size_t *widths, int64_t rows, const int64_t *dcap,
                                 void **out, uint64_t *bytes);
/* Bytes of the long strings among n rows of src (rows sidx[j], or s0 + j). */
uint64_t tsr__spill_long_bytes(const tsr__colread *src, const int32_t *sidx, int64_t s0, int64_t n);
/* Copies n rows of src (rows sidx[j], or s0 + j when sidx is NULL) into
 * dst (rows didx[j], or d0 + j): values of `w` bytes, nulls (dst's bitmap
 * starts all valid), and long strings into dst's data buffer. */
void tsr__spill_copy_rows(const tsr__colread *src, size_t w, bool str, const int32_t *sidx,
                          int64_t s0, tsr__colchunk *dst, const int32_t *didx, int64_t d0,
                          int64_t n);
/* The hash of a key string (also of a dictionary entry, for key_hash). */
uint64_t tsr__spill_hash_bytes(const char *s, uint32_t n);

/* Bytes the columns cols[0..ncols) of f take (values, strings, a row number). */
uint64_t tsr__spill_bytes(const tsr_frame *f, int ncols, const int *cols);
/* What the memory limit leaves beside what is in use now (at least half
 * the limit; 0 without a limit). */
uint64_t tsr__spill_avail(tsr_ctx *ctx);
/* Partitions for the memory limit: a power of two (2..TSR__SPILL_MAX_PARTITIONS)
 * such that `bytes` split into them is at most 1/share of tsr__spill_avail
 * (16 without a limit). */
int64_t tsr__spill_partitions(tsr_ctx *ctx, uint64_t bytes, int share);

/* Runs the job (fields up to nchunks set, `in` opened, recs, rdcap and
 * rows allocated): one task per chunk of job->f. */
tsr_status tsr__spill_partition(tsr__spill_job *job);
/* Partition p as a lazy frame (names: the spilled columns', then
 * row_name); its chunks outside [c0, c1) are empty. */
tsr_status tsr__spill_partition_frame(tsr__spill_job *job, int64_t p, int64_t c0, int64_t c1,
                                      const char *row_name, tsr_frame **out);
/* A name not among the n names (base, base_1, base_2, ...). */
void tsr__spill_fresh_name(const char *base, char *const *names, int n, char *out, size_t size);

/* The runs' columns: names, types and dictionaries of r's columns. */
tsr_status tsr__spill_out_init(tsr_ctx *ctx, tsr__spill_out *o, tsr_frame *r);
void tsr__spill_out_free(tsr_ctx *ctx, tsr__spill_out *o);
/* Writes n rows of src (o->ncols columns; rows sidx[k], or i0 + k when
 * sidx is NULL) as a run of result chunk c (or only counts it, see
 * o->nchunks). */
tsr_status tsr__spill_write_run(tsr_ctx *ctx, tsr__spill_out *o, const tsr__colread *src,
                                const int32_t *sidx, int64_t i0, int64_t n, int64_t c);
/* The result frame over o's runs (o's file taken over, the rest left to
 * tsr__spill_out_free): nchunks chunks, chunk c placing its runs' rows by
 * their last column's low 32 bits, in 0..in_rows[c). */
tsr_status tsr__spill_result_frame(tsr_ctx *ctx, const char *fn, int64_t nchunks,
                                   const int64_t *in_rows, tsr__spill_out *o, tsr_frame **out);

#endif /* TSR_FRAME_SPILL_H */

/* hdf5_table.h — frames in HDF5 files, the io layer's part (docs/frames.md,
 * "HDF5 tables"): a table group's datasets created and written box by box,
 * and a table group or a compound dataset opened and read as table chunks
 * (core/colchunk.h) of row ranges.  frame/hdf5_table.c builds frames on
 * these.  hdf5.h stays inside src/io, so the types are opaque here.
 *
 * Creation and writing are separate calls so that writers on several
 * threads or ranks can each write the row boxes they own: under MPI one
 * rank creates the table and every rank opens it again
 * (tsr__h5_wtable_open) to write its boxes through parallel HDF5.  Every HDF5 call runs under the io layer's
 * process-wide lock; (de)compression of whole chunks of numeric datasets
 * runs outside it (hdf5.c). */
#ifndef TSR_IO_HDF5_TABLE_H
#define TSR_IO_HDF5_TABLE_H

#include <tessera/frame.h>

#include "hdf5_io.h"

/* The format marker written on a table group. */
#define TSR__H5_TABLE_FORMAT "table"
#define TSR__H5_TABLE_VERSION 1

/* ---- writing --------------------------------------------------------------------------- */

typedef struct tsr__h5_tcol_spec {
  const char *name;
  tsr_type type;
  bool nullable;          /* a validity dataset is written */
  int64_t dict_size;      /* TSR_COL_DICT: the dictionary */
  const int64_t *dict_offsets;
  const char *dict_data;
  int64_t string_bytes;   /* TSR_COL_STRING in the offsets layout: the column's total bytes */
} tsr__h5_tcol_spec;

typedef struct tsr__h5_wtable tsr__h5_wtable;

/* Creates table group `group` in the file being written (in `mode`: an
 * existing object of that name is replaced in TSR_HDF5_OVERWRITE, else
 * TSR_EINVAL), its attributes, and every dataset of the n columns of
 * `nrows` rows, chunked by `chunk_rows` rows (string bytes of the offsets
 * layout by chunk_rows * 16 bytes), with deflate `level` (0: none) and
 * `shuffle`; dictionaries are written now.  Names holding '/' or equal to
 * "." are TSR_EINVAL.  *out belongs to the caller (tsr__h5_wtable_close
 * before committing the file). */
tsr_status tsr__h5_wtable_create(tsr_ctx *ctx, tsr__h5_file *f, tsr_hdf5_mode mode,
                                 const char *group, int n, const tsr__h5_tcol_spec *cols,
                                 int64_t nrows, int64_t chunk_rows, int level, bool shuffle,
                                 bool string_offsets, tsr__h5_wtable **out);
/* Under MPI, after one rank made the table with tsr__h5_wtable_create in
 * a staged file (tsr__h5_file_create_staged) and every rank reopened it
 * (tsr__h5_file_reopen_parallel): opens the table's datasets again, with
 * the same arguments as that creation, so each rank writes its own boxes.
 * No variable-length strings (string_offsets, or no string column):
 * parallel HDF5 cannot write them.  Collective. */
tsr_status tsr__h5_wtable_open(tsr_ctx *ctx, tsr__h5_file *f, const char *group, int n,
                               const tsr__h5_tcol_spec *cols, int64_t nrows, int64_t chunk_rows,
                               bool string_offsets, tsr__h5_wtable **out);
/* Rows per chunk of the datasets. */
int64_t tsr__h5_wtable_chunk_rows(const tsr__h5_wtable *t);

/* Writes rows [row0, row0 + rows) of column `col`: a box that is whole
 * chunks (or ends at the last row) is compressed on the calling thread.
 * values: rows values of the type's width (strings: unused); valid: one
 * byte per row, non-zero = valid (NULL: all valid); strings: str_off
 * (rows + 1 offsets into str_data, from 0) and, for the offsets layout,
 * byte0, the column's bytes before row0.  Thread-safe.
 * seq >= 0 orders the writes: the call numbered seq (0, 1, 2, ... across
 * the table's calls) hands its boxes to HDF5 once call seq - 1 has (its
 * compression does not wait), so compressed chunks and variable-length
 * strings land where one thread writing in that order would put them: the
 * file does not depend on the threads' timing.  Every number must then be
 * called once, or the table abandoned: a failed ordered call abandons it
 * itself, and calls waiting then return TSR_ECANCELED.  seq < 0: no
 * order (unfiltered datasets allocated at creation need none). */
tsr_status tsr__h5_wtable_write(tsr__h5_wtable *t, int col, int64_t row0, int64_t rows,
                                const void *values, const uint8_t *valid, const int64_t *str_off,
                                const char *str_data, int64_t byte0, int64_t seq);
/* Ordered writes: a unit failed before its tsr__h5_wtable_write; the calls
 * waiting for their turn return TSR_ECANCELED. */
void tsr__h5_wtable_abandon(tsr__h5_wtable *t);
/* Closes the table's own datasets (the numeric ones close with the file).
 * Frees *t; accepts NULL. */
tsr_status tsr__h5_wtable_close(tsr__h5_wtable **t);

/* ---- reading --------------------------------------------------------------------------- */

typedef struct tsr__h5_rtable tsr__h5_rtable;

/* Opens `object` of the HDF5 file `path` read-only: a table group (the
 * documented layout, written by tessera or anything else) or a 1-D
 * compound dataset (every leaf field a column, nested fields named
 * "outer.inner", fixed-length strings as strings).  `columns` ("a,b"; NULL:
 * all) keeps those columns in that order.  Errors name the file, object
 * and column or field: TSR_EIO (missing, unreadable), TSR_EDTYPE (a type
 * that cannot be a column), TSR_EINVAL (not a table, inconsistent layout,
 * unknown column), TSR_ENOTSUP (a newer format version). */
tsr_status tsr__h5_rtable_open(tsr_ctx *ctx, const char *fn, const char *path, const char *object,
                               const char *columns, tsr__h5_rtable **out);
void tsr__h5_rtable_close(tsr__h5_rtable **t);
int tsr__h5_rtable_ncols(const tsr__h5_rtable *t);
const char *tsr__h5_rtable_name(const tsr__h5_rtable *t, int col);
tsr_type tsr__h5_rtable_type(const tsr__h5_rtable *t, int col);
int64_t tsr__h5_rtable_nrows(const tsr__h5_rtable *t);
/* Rows per frame chunk: whole file chunks of the first chunked column,
 * about 1 Mi rows (depends on the file alone). */
int64_t tsr__h5_rtable_chunk_rows(const tsr__h5_rtable *t);
bool tsr__h5_rtable_is_compound(const tsr__h5_rtable *t);
/* A dictionary column's dictionary (sorted, distinct; owned by t). */
void tsr__h5_rtable_dict(const tsr__h5_rtable *t, int col, int64_t *size, const int64_t **offsets,
                         const char **data);
/* Reads rows [row0, row0 + rows) of every column into a new table chunk
 * (*chunk from tsr_alloc, *bytes its size).  Values are checked (UTF-8,
 * dictionary codes, bools); errors name the file, column and row.
 * Thread-safe (HDF5 calls are serialized; decompression is not). */
tsr_status tsr__h5_rtable_read(tsr__h5_rtable *t, int64_t row0, int64_t rows, void **chunk,
                               uint64_t *bytes);

#endif /* TSR_IO_HDF5_TABLE_H */

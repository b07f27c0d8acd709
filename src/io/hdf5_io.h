/* hdf5_io.h — the io layer's HDF5 datasets for the layers above (array/):
 * open a dataset for reading and read boxes of it; create datasets in a file
 * being written and write boxes of them; commit or abort the file.  hdf5.h
 * stays inside the .c files of src/io, so these types are opaque here.
 *
 * Every HDF5 call is made under one process-wide mutex (the Open MPI build
 * of HDF5 1.10.8 is not thread-safe); decompression and compression of
 * chunks run outside it, on the calling (worker) thread.  The read and write
 * functions may be called concurrently from several threads on one
 * dataset. */
#ifndef TSR_IO_HDF5_IO_H
#define TSR_IO_HDF5_IO_H

#include <tessera/io.h>

#include "core/core_impl.h"

/* The process-wide HDF5 lock (with HDF5's error printing off inside it);
 * for the other files of src/io. */
/* The dtype `tsr_array_from_hdf5` reads a file type as (an enum as its
 * integer base, h5py's FALSE/TRUE enum as bool), or TSR_NUM_DTYPES when
 * it cannot.  Under the lock; hid_t is HDF5's (included by the caller). */
#ifdef H5_VERS_MAJOR
tsr_dtype tsr__h5_file_dtype(hid_t ftype);
typedef struct tsr__h5_file tsr__h5_file;
/* The HDF5 id of a file being written (hdf5_table.c adds groups to it). */
hid_t tsr__h5_file_hid(const tsr__h5_file *f);
/* h5py's bool type: an enum of FALSE = 0, TRUE = 1 over `base`. */
hid_t tsr__h5_bool_enum(hid_t base);
bool tsr__h5_is_bool_enum(hid_t t);
#endif
void tsr__h5_lock(void);
void tsr__h5_unlock(void);
/* HDF5's explanation of the failure just seen, on one line (under the lock). */
void tsr__h5_explain(char *buf, size_t size);

typedef struct tsr__h5_dataset tsr__h5_dataset;
typedef struct tsr__h5_file tsr__h5_file;

typedef struct tsr__h5_info {
  tsr_dtype dtype;
  int ndim;
  int64_t shape[TSR_MAX_NDIM];
  bool chunked;
  int64_t chunk[TSR_MAX_NDIM]; /* file chunk extents when chunked */
  int deflate_level;           /* reading: 1 when deflated (level unknown); 0 none */
  bool shuffle;
  bool direct; /* compressed chunks are read with direct chunk I/O */
} tsr__h5_info;

/* Opens `path` read-only and its dataset `name`, checking the type.  `fn`
 * starts error messages.  Statuses: see tessera/io.h. */
tsr_status tsr__h5_open_read(tsr_ctx *ctx, const char *fn, const char *path, const char *name,
                             tsr__h5_dataset **out);
/* Closes a dataset opened by tsr__h5_open_read; accepts NULL. */
void tsr__h5_close_read(tsr__h5_dataset **d);
const tsr__h5_info *tsr__h5_dataset_info(const tsr__h5_dataset *d);

/* Reads the box [offset, offset + shape) into `out` (C order, dtype of the
 * dataset).  A box made of whole file chunks of a compressed dataset is read
 * chunk by chunk with direct chunk I/O and inflated on this thread; other
 * boxes are hyperslab reads.  TSR_EIO names the file, dataset and box. */
tsr_status tsr__h5_read_block(tsr__h5_dataset *d, const int64_t *offset, const int64_t *shape,
                              void *out);

/* Opens the output file `path` for tsr_store_hdf5 in `mode`: a temporary
 * file until commit (a copy of the existing file when adding to it). */
tsr_status tsr__h5_file_create(tsr_ctx *ctx, const char *path, tsr_hdf5_mode mode,
                               tsr__h5_file **out);
/* Checks that `path` may be written in `mode` and creates the empty
 * temporary file beside it that becomes it (*out: its name, the caller's). */
tsr_status tsr__h5_tmp_create(tsr_ctx *ctx, const char *path, tsr_hdf5_mode mode, char **out);
/* Parallel HDF5, collective over `comm` (a pointer to an MPI_Comm): every
 * rank opens `tmp_path` (made by tsr__h5_tmp_create on one rank) with the
 * MPI-IO driver.  Datasets are then added by every rank alike, without
 * compression (each chunk allocated at creation, so writes touch no
 * metadata), each rank writes the boxes it owns (independent I/O), and
 * tsr__h5_file_commit only closes the file (collectively): the caller agrees
 * on the outcome and calls tsr__h5_file_publish, where the `renamer` rank
 * renames the file into place (ok) or removes it.  Abort is collective too.
 * TSR_ENOTSUP without a parallel HDF5. */
tsr_status tsr__h5_file_create_parallel(tsr_ctx *ctx, const char *path, const char *tmp_path,
                                        tsr_hdf5_mode mode, const void *comm, bool renamer,
                                        tsr__h5_file **out);
/* Whether this HDF5 has MPI-IO (the parallel build). */
bool tsr__h5_have_parallel(void);
/* A file written in two steps, by frame/hdf5_table.c under MPI: one rank
 * creates the temporary file `tmp_path` (made by tsr__h5_tmp_create) with
 * the default driver and adds every dataset (reproducibly, as
 * tsr__h5_file_set_reproducible; unfiltered datasets only, so every chunk
 * is allocated then); tsr__h5_file_commit only closes it.  Then every rank
 * opens it again with tsr__h5_file_reopen_parallel (MPI-IO, collective),
 * reopens the datasets alike (tsr__h5_file_reopen_dataset) and writes the
 * boxes it owns; commit closes it (collective), and the caller agrees and
 * calls tsr__h5_file_publish, as for tsr__h5_file_create_parallel.  The
 * staged file is never removed by its abort: the renamer of the parallel
 * file does that. */
tsr_status tsr__h5_file_create_staged(tsr_ctx *ctx, const char *path, const char *tmp_path,
                                      tsr_hdf5_mode mode, tsr__h5_file **out);
tsr_status tsr__h5_file_reopen_parallel(tsr_ctx *ctx, const char *path, const char *tmp_path,
                                        tsr_hdf5_mode mode, const void *comm, bool renamer,
                                        tsr__h5_file **out);
/* Opens dataset `name`, made by tsr__h5_file_add with these dtype, shape
 * and chunk extents and no filter, in a reopened file, to write boxes of
 * it.  The file owns *out. */
tsr_status tsr__h5_file_reopen_dataset(tsr__h5_file *f, const char *name, tsr_dtype dtype,
                                       int ndim, const int64_t *shape, const int64_t *chunk,
                                       tsr__h5_dataset **out);
/* Datasets added from now on carry no modification time, and unfiltered
 * ones get every chunk allocated at creation and no fill value written (as
 * under MPI-IO), so where their chunks lie does not depend on the order of
 * the writes: a file written by one process, by several threads in any
 * order or by several ranks is the same byte for byte. */
void tsr__h5_file_set_reproducible(tsr__h5_file *f);
/* After a parallel commit: see above.  Frees *f. */
tsr_status tsr__h5_file_publish(tsr__h5_file **f, bool ok);
/* Creates dataset `name` (replacing one of that name in the overwrite
 * mode; TSR_EINVAL for an existing one in the append mode) of dtype and
 * shape with chunk extents `chunk` (ignored for 0-d and zero-size shapes,
 * which are contiguous), deflate level and shuffle.  The file owns *out. */
tsr_status tsr__h5_file_add(tsr__h5_file *f, const char *name, tsr_dtype dtype, int ndim,
                            const int64_t *shape, const int64_t *chunk, int deflate_level,
                            bool shuffle, tsr__h5_dataset **out);
/* Writes n attributes on a dataset just added (hdf5_attr.c); the arguments
 * were checked by the caller.  Collective under parallel HDF5 (every rank
 * writes the same ones). */
tsr_status tsr__h5_dataset_write_attrs(tsr__h5_dataset *d, const tsr_attr *attrs, size_t n);
/* The dataset's HDF5 id and names, for hdf5_attr.c (under the lock). */
#ifdef H5_VERS_MAJOR
hid_t tsr__h5_dataset_hid(const tsr__h5_dataset *d);
#endif
const char *tsr__h5_dataset_path(const tsr__h5_dataset *d);
const char *tsr__h5_dataset_name(const tsr__h5_dataset *d);
/* Writes the box [offset, offset + shape) from `data` (C order).  A box
 * that is one file chunk of a compressed dataset is shuffled and deflated
 * here and written with direct chunk I/O. */
tsr_status tsr__h5_write_block(tsr__h5_dataset *d, const int64_t *offset, const int64_t *shape,
                               const void *data);
/* The same in two steps, so that writers on several threads can compress
 * at once and still hand their boxes to HDF5 in an order of their choosing
 * (the order decides where compressed chunks land in the file):
 * tsr__h5_write_prepare compresses what tsr__h5_write_block would (the
 * caller keeps `data` until finished), tsr__h5_write_finish writes it, and
 * tsr__h5_write_drop forgets it unwritten.  finish and drop free what
 * prepare made; a failed prepare leaves nothing to free. */
typedef struct tsr__h5_pending {
  tsr__h5_dataset *d;
  int64_t offset[TSR_MAX_NDIM], shape[TSR_MAX_NDIM];
  const void *data;
  void *comp;        /* the stored chunk, compressed */
  size_t comp_bytes; /* its bytes (or a raw whole chunk's) */
  bool raw_chunk;    /* data is a whole unfiltered chunk, stored as it is */
  bool empty;
} tsr__h5_pending;
tsr_status tsr__h5_write_prepare(tsr__h5_dataset *d, const int64_t *offset, const int64_t *shape,
                                 const void *data, tsr__h5_pending *p);
tsr_status tsr__h5_write_finish(tsr__h5_pending *p);
void tsr__h5_write_drop(tsr__h5_pending *p);
/* Closes everything and puts the output in place (rename, or links moved
 * to their names in append mode); on failure removes it as abort does.
 * Frees *f and sets it to NULL. */
tsr_status tsr__h5_file_commit(tsr__h5_file **f);
/* Removes every trace of the output (temporary file, temporary datasets);
 * frees *f; accepts NULL. */
void tsr__h5_file_abort(tsr__h5_file **f);

#endif /* TSR_IO_HDF5_IO_H */

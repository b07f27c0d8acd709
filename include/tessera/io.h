/* tessera/io.h — arrays in HDF5 files: reading a dataset as a lazy array,
 * and storing arrays into datasets in one compute.
 *
 * Compressed chunks (the standard deflate filter, optionally after the
 * shuffle filter) are read and written with HDF5's direct chunk I/O, and
 * (de)compression runs on the worker threads in parallel (libdeflate); only
 * the HDF5 calls themselves are serialized by one process-wide mutex, since
 * the Open MPI build of HDF5 is not thread-safe.  Consequently a program
 * must not call HDF5 itself from another thread while a tessera computation
 * that reads or writes HDF5 runs.
 *
 * Files written here are plain HDF5 (filters 1 = deflate and 2 = shuffle in
 * the dataset creation property list, little-endian native types, bool as
 * h5py's enum {FALSE = 0, TRUE = 1} of int8), readable by h5py, h5dump and
 * xarray; files h5py writes are read here.
 *
 * Errors name the file and the dataset: TSR_EIO for a file that is missing,
 * unreadable, truncated, corrupted or unwritable (HDF5's own explanation,
 * with errno's text, follows); TSR_EDTYPE for a dataset whose type is not
 * one of the numeric tsr_dtypes (compound, string, array, opaque, ...);
 * TSR_ENOTSUP for a dataset compressed with a filter this HDF5 cannot
 * decode; TSR_EINVAL for bad arguments. */
#ifndef TESSERA_IO_H
#define TESSERA_IO_H

#include <tessera/array.h>
#include <tessera/core.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A lazy array over dataset `dataset` (a path inside the file such as
 * "/group/x") of the HDF5 file `path`: nothing is read until a compute.
 * The file is opened read-only here and stays open until the array (and
 * everything built from it) is destroyed; it is never modified.
 *
 * dtype: the dataset's numeric type (any byte order; integers of 1, 2, 4, 8
 * bytes, IEEE float32/float64, h5py's bool enum); rank <= TSR_MAX_NDIM.
 * chunks: as every creation function (array.h) — NULL chooses them: a
 * chunked dataset gets its file chunks, or whole multiples of them so that a
 * chunk holds about tsr_ctx_chunk_bytes(); a contiguous one gets automatic
 * chunks.  Any other chunking works too (chunks that are whole file chunks
 * are decompressed in parallel; others are read as hyperslabs through
 * HDF5, serially).
 *
 * Validation happens now: TSR_EIO (file missing or not HDF5, dataset
 * missing), TSR_EDTYPE (unsupported type), TSR_ENOTSUP (unknown filter),
 * TSR_EINVAL (arguments).  The caller owns *out (tsr_array_destroy).
 * Thread-safe (HDF5 calls are serialized). */
TSR_API TSR_NODISCARD tsr_status tsr_array_from_hdf5(tsr_ctx *ctx, const char *path,
                                                     const char *dataset, const int64_t *chunks,
                                                     tsr_array **out);

/* Whether `a` is a whole dataset as tsr_array_from_hdf5 read it (in its
 * own chunks or rechunked), and then the file and dataset names (valid while
 * `a` lives); false for anything computed from it, or a part of it. */
TSR_API bool tsr_array_hdf5_source(const tsr_array *a, const char **path, const char **dataset);

/* What tsr_store_hdf5 does with the file at `path`.  The default (0) adds
 * to the file and never replaces anything that is there.
 *
 * However it is written, an output appears whole or not at all: the new
 * content is written to a temporary file beside it, ".<name>.tmp.<pid>.<n>"
 * in the same directory (for an existing file, a copy of it: a reflink
 * where the file system can, else a full copy), which is put in place only
 * when complete: a new file without replacing one that another process
 * created meanwhile (TSR_EIO "was created by another process"), an
 * existing one only if no other process changed it meanwhile (TSR_EIO
 * "was changed by another process"); neither loses the other writer's
 * data.  A replaced file keeps its permission bits and, where the process
 * may set them, its owner and group.  An input of the same computation may
 * be the output file: its readers keep reading the old content. */
typedef enum tsr_hdf5_mode {
  /* Add the datasets to the file, keeping its other objects (a missing file
   * is created).  Naming a dataset that exists is TSR_EINVAL. */
  TSR_HDF5_APPEND = 0,
  /* Write a new file; TSR_EIO if `path` exists (checked again, atomically,
   * when the finished file is put in place). */
  TSR_HDF5_EXCLUSIVE = 1,
  /* As TSR_HDF5_APPEND, but a dataset of the same name is replaced (that
   * dataset only; a group of that name is TSR_EINVAL).  HDF5 does not
   * reclaim the replaced dataset's space (h5repack does). */
  TSR_HDF5_OVERWRITE = 2,
  /* Replace the whole file (all its other objects are lost). */
  TSR_HDF5_REPLACE = 3,
} tsr_hdf5_mode;

/* An HDF5 attribute: the units, descriptions and fill values that travel
 * with a dataset.  Written as h5py writes Python values: a string as a
 * scalar variable-length UTF-8 string, a number as a scalar float64 or
 * int64.  Read back from any scalar (or one-element) string, integer or
 * float attribute; anything else is listed as TSR_ATTR_OTHER with what it
 * is in `string` ("int32[3]", "compound", ...). */
typedef enum tsr_attr_type {
  TSR_ATTR_STRING = 0,
  TSR_ATTR_FLOAT64,
  TSR_ATTR_INT64,
  TSR_ATTR_OTHER, /* reading only */
} tsr_attr_type;

typedef struct tsr_attr {
  const char *name;
  tsr_attr_type type;
  const char *string; /* TSR_ATTR_STRING: the text; TSR_ATTR_OTHER: its description */
  double f64;         /* TSR_ATTR_FLOAT64 */
  int64_t i64;        /* TSR_ATTR_INT64 */
} tsr_attr;

/* The attributes of `object` (a dataset or group; "/" or NULL the root) of
 * the file at `path`, in name order: *attrs (*n of them, NULL when none)
 * belong to the caller, who frees them with tsr_hdf5_attrs_free.  TSR_EIO
 * naming the file (missing, not HDF5) or the object (missing). */
TSR_API TSR_NODISCARD tsr_status tsr_hdf5_attrs_read(tsr_ctx *ctx, const char *path,
                                                     const char *object, tsr_attr **attrs,
                                                     size_t *n);
/* Frees what tsr_hdf5_attrs_read returned; sets *attrs to NULL. */
TSR_API void tsr_hdf5_attrs_free(tsr_ctx *ctx, tsr_attr **attrs, size_t n);

typedef struct tsr_hdf5_store_options {
  /* n entries (or NULL): chunks[i] is the chunk shape of dataset i
   * (ndim entries >= 1, larger than the extent means the whole axis), or
   * NULL for the array's own chunks (per axis the largest chunk, or, when
   * whole chunks of it would overhang the axis by more than an eighth, as
   * many balanced chunks: stored chunks tile the shape).  Arrays are
   * rechunked to it inside the same compute. */
  const int64_t *const *chunks;
  int deflate_level; /* 0: no compression; 1..9: deflate (zlib format) at that level */
  /* n entries (or NULL): deflate_levels[i] (0..9) is dataset i's level,
   * replacing deflate_level for it; -1 keeps deflate_level. */
  const int *deflate_levels;
  bool shuffle;      /* the shuffle filter before deflate (ignored without deflate) */
  tsr_hdf5_mode mode;
  const tsr_compute_options *compute; /* trace, progress, statistics (NULL: none) */
  /* n entries (or NULL): attributes[i] (n_attributes[i] of them, names
   * unique, TSR_ATTR_OTHER refused) are written on dataset i. */
  const tsr_attr *const *attributes;
  const size_t *n_attributes;
} tsr_hdf5_store_options;

/* Computes n arrays of context `ctx` in one task graph (what they share is
 * computed once) and stores array i into dataset datasets[i] of the HDF5
 * file `path` (intermediate groups are created).  options NULL: no
 * compression, TSR_HDF5_APPEND, the arrays' chunks.  Each chunk is
 * shuffled and deflated on a worker thread and written with direct chunk
 * I/O.  0-d and zero-size arrays become contiguous datasets (HDF5 cannot
 * chunk them), uncompressed.
 *
 * Atomic (see tsr_hdf5_mode): on any failure (TSR_EIO naming the file and
 * dataset: unwritable directory, full disk, another writer, ...; a failing
 * task's status; TSR_ENOMEM) the temporary file is removed, nothing of the
 * output remains and no file is modified.  TSR_EINVAL when the compute
 * options' trace or graph path is the output file.
 *
 * The arrays stay owned by the caller.  Not thread-safe on one context
 * (like every compute call). */
TSR_API TSR_NODISCARD tsr_status tsr_store_hdf5(tsr_ctx *ctx, size_t n, tsr_array *const *arrays,
                                                const char *path, const char *const *datasets,
                                                const tsr_hdf5_store_options *options);

/* Bytes tessera has read from and written to HDF5 files since the process
 * started (as stored: compressed bytes for compressed chunks); either
 * pointer may be NULL.  Thread-safe. */
TSR_API void tsr_hdf5_io_bytes(uint64_t *read, uint64_t *written);

/* Removes every temporary file tessera is writing at this moment (outputs
 * not yet in place, named as tsr_hdf5_mode says, and the temporary files
 * of traces and graphs).  Async-signal-safe: meant for a program's handler
 * of SIGINT, SIGTERM, ... (call it, then re-raise the signal with its
 * default action) and for a path that leaves with _exit; tessera installs
 * no signal handler itself.  A computation still running afterwards fails
 * when it publishes (TSR_EIO).  SIGKILL cannot be caught: it leaves the
 * temporary files behind.  Thread-safe. */
TSR_API void tsr_temp_files_remove(void);

/* What an HDF5 file holds (`tessera info`): one entry per group, dataset
 * and soft or external link, in name order, the root group first. */
typedef struct tsr_hdf5_entry {
  const char *path; /* "/", "/group", "/group/dataset" */
  bool is_dataset;  /* else a group (or another object, e.g. a named type) */
  /* Datasets only: */
  const char *type; /* the dtype tessera reads it as ("float64", "int32",
                       "bool", an enum as "int16 (enum)"), or what it cannot
                       read: "float16", "string", "compound", ... */
  bool supported;   /* the type is one of tessera's dtypes */
  int ndim;
  int64_t shape[TSR_MAX_NDIM];
  bool chunked;
  int64_t chunks[TSR_MAX_NDIM];
  int deflate_level; /* -1: not deflated */
  bool shuffle;
  int other_filters;      /* filters besides deflate and shuffle */
  uint64_t logical_bytes; /* elements x element size; UINT64_MAX if more */
  uint64_t stored_bytes;  /* as stored in the file */
  /* Datasets: "contiguous", "compact", "chunked" or "virtual" (a virtual
   * dataset maps `sources` source datasets). */
  const char *layout;
  size_t sources;
  /* Datasets: every filter of the pipeline, in order, by name:
   * "shuffle + deflate 4 + fletcher32", "szip", "nbit", "scaleoffset",
   * others as "NAME (filter ID)" ("lzf (filter 32000)"), marked
   * " [not available]" when this HDF5 cannot decode it; "" for none. */
  const char *filters;
  /* A soft or external link (not followed): link is "soft" or "external",
   * target "/path" or "file.h5:/path", dangling when the target does not
   * resolve; the other fields are then unset.  NULL for objects. */
  const char *link;
  const char *target;
  bool dangling;
} tsr_hdf5_entry;

/* Calls fn for `object` ("/" or NULL: the root group and everything below
 * it; a group: it and everything below; a dataset: it alone) of the file at
 * `path`; a non-zero return from fn stops the walk.  The entry is valid
 * during the call.  TSR_EIO naming the file (missing, not HDF5) or the
 * object (missing).  Serialized with every other HDF5 call of tessera. */
typedef int (*tsr_hdf5_visit_fn)(const tsr_hdf5_entry *entry, void *user);
TSR_API TSR_NODISCARD tsr_status tsr_hdf5_list(const char *path, const char *object,
                                               tsr_hdf5_visit_fn fn, void *user);

#ifdef __cplusplus
}
#endif

#endif /* TESSERA_IO_H */

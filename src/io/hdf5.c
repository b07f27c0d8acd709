/* hdf5.c — HDF5 datasets for tessera (see hdf5_io.h): the only file of the
 * library that includes hdf5.h and libdeflate.h.
 *
 * Invariants:
 * - Every HDF5 call happens between h5_lock() and h5_unlock(): one
 *   process-wide mutex, because Debian's Open MPI build of HDF5 1.10.8 is
 *   not thread-safe.  While it is held, HDF5's automatic error printing is
 *   off (restored on unlock, so a program's own HDF5 setting survives) and
 *   failures are explained from the error stack (h5_explain) before the
 *   lock is released.  No tessera lock is taken while it is held.
 * - Compressed chunks (deflate, optionally after shuffle, in that pipeline
 *   order) move between memory and file as raw bytes with
 *   H5Dread_chunk/H5Dwrite_chunk; inflating, deflating and (un)shuffling
 *   run outside the mutex on the worker thread.  That is what makes
 *   compressed I/O scale with threads: the serialized part is a pread or
 *   pwrite of the compressed bytes.  Anything else (unfiltered datasets,
 *   boxes that are not whole file chunks, other filters) goes through
 *   hyperslab reads and writes, under the mutex.
 * - Chunks HDF5 stores are always full chunk extents; edge chunks are
 *   padded with zeros on write and cut on read.
 * - Outputs are written to a temporary file beside the target,
 *   ".<name>.tmp.<pid>.<n>" (core/atomic_file.h keeps it in the registry
 *   that tsr_temp_files_remove empties on a signal): created empty with
 *   O_EXCL for a new file, a copy of the file when datasets are added to an
 *   existing one.  Commit closes it and publishes it by the mode's policy
 *   (a new file without clobbering one created meanwhile; an existing one
 *   only if unchanged; REPLACE regardless); abort removes it.  The target is
 *   never written in place, so a reader of it (an input of the same
 *   computation) keeps its old content.
 * - Under MPI a file may be shared by the ranks (parallel: every rank
 *   opened it with the MPI-IO driver, or staged: one rank made it to be
 *   opened so afterwards): commit then only closes it, and the renamer
 *   rank publishes or removes it once the ranks agreed
 *   (tsr__h5_file_publish). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>
#include <libdeflate.h>

#include "core/atomic_file.h"
#include "hdf5_io.h"

/* ---- the global HDF5 lock and error messages --------------------------- */

static pthread_mutex_t h5_mutex = PTHREAD_MUTEX_INITIALIZER;
static H5E_auto2_t h5_saved_func; /* guarded by h5_mutex */
static void *h5_saved_data;

static void h5_lock(void) {
  pthread_mutex_lock(&h5_mutex);
  H5Eget_auto2(H5E_DEFAULT, &h5_saved_func, &h5_saved_data);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void h5_unlock(void) {
  H5Eclear2(H5E_DEFAULT);
  H5Eset_auto2(H5E_DEFAULT, h5_saved_func, h5_saved_data);
  pthread_mutex_unlock(&h5_mutex);
}

void tsr__h5_lock(void) { h5_lock(); }

/* Bytes moved to and from files (as stored: compressed for direct chunk
 * I/O), for `tessera --stats`. */
static _Atomic uint64_t io_read_bytes, io_written_bytes;

void tsr_temp_files_remove(void) { tsr__tmp_remove_all(); }

void tsr_hdf5_io_bytes(uint64_t *read, uint64_t *written) {
  if (read != NULL)
    *read = atomic_load(&io_read_bytes);
  if (written != NULL)
    *written = atomic_load(&io_written_bytes);
}

static uint64_t box_bytes(int nd, const hsize_t *count, size_t item) {
  uint64_t n = item;
  for (int a = 0; a < nd; a++)
    n *= (uint64_t)count[a];
  return n;
}
void tsr__h5_unlock(void) { h5_unlock(); }

typedef struct h5_walk {
  int n;
  char inner[320], outer[160];
} h5_walk;

/* One line from a description: a failed system call's is several lines
 * ("file write failed: time = ...\n, filename = ..., errno = 28, error
 * message = 'No space left on device', ..."), of which only what failed
 * and errno's text are kept; other newlines become spaces. */
static void h5_one_line(const char *desc, char *out, size_t size) {
  const char *failed = strstr(desc, " failed: ");
  const char *no = strstr(desc, "errno = ");
  if (failed != NULL && no != NULL && failed - desc < 64) {
    int e = atoi(no + 8);
    snprintf(out, size, "%.*s: %s", (int)(failed - desc + 7), desc, strerror(e));
  } else {
    snprintf(out, size, "%s", desc);
  }
  for (char *p = out; *p != '\0'; p++)
    if (*p == '\n' || *p == '\r')
      *p = ' ';
}

static herr_t h5_walk_cb(unsigned n, const H5E_error2_t *err, void *data) {
  h5_walk *w = data;
  const char *desc = err->desc != NULL ? err->desc : "";
  if (n == 0)
    h5_one_line(desc, w->inner, sizeof w->inner);
  h5_one_line(desc, w->outer, sizeof w->outer);
  w->n++;
  return 0;
}

/* HDF5's explanation of the failure just seen (under the lock), on one
 * line: the API level's description and the innermost one, which carries
 * errno's text. */
static void h5_explain(char *buf, size_t size) {
  h5_walk w = {0};
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, h5_walk_cb, &w);
  if (w.n == 0)
    snprintf(buf, size, "HDF5 call failed");
  else if (w.n == 1 || strcmp(w.inner, w.outer) == 0)
    snprintf(buf, size, "%s", w.inner);
  else
    snprintf(buf, size, "%s (%s)", w.outer, w.inner);
  H5Eclear2(H5E_DEFAULT);
}

void tsr__h5_explain(char *buf, size_t size) { h5_explain(buf, size); }

#define WHY_BYTES 512

/* ---- datasets ------------------------------------------------------------- */

struct tsr__h5_dataset {
  tsr_ctx *ctx;
  tsr__h5_info info;
  char *path; /* the user's file name (messages) */
  char *name; /* the user's dataset name (messages, final link name) */
  hid_t file; /* reading: our own file id; writing: borrowed from the file */
  hid_t dset;
  hid_t memtype;        /* owned copy */
  size_t itemsize;      /* bytes per element, file and memory alike */
  bool swap;            /* file byte order differs from the machine's */
  int deflate_idx;      /* pipeline position of deflate (mask bit), -1 none */
  int shuffle_idx;      /* of shuffle, -1 none */
  int level;            /* writing: deflate level */
  bool filtered;        /* reading, chunked: its chunks pass through filters */
  bool raw_direct;      /* writing: unfiltered, one process: whole chunks go straight to the file */
  uint64_t chunk_bytes; /* reading, chunked: bytes of one whole file chunk */
  dev_t dev;            /* reading: the file HDF5 opened (raw reads open it again) */
  ino_t ino;
  uint64_t base; /* reading: the file's base address (its user block's size) */
  bool raw;      /* reading: unfiltered, the file type is the memory type but for byte
                    order: boxes are read with pread(2) outside the lock (read_raw) */
};

const tsr__h5_info *tsr__h5_dataset_info(const tsr__h5_dataset *d) { return &d->info; }
hid_t tsr__h5_dataset_hid(const tsr__h5_dataset *d) { return d->dset; }
const char *tsr__h5_dataset_path(const tsr__h5_dataset *d) { return d->path; }
const char *tsr__h5_dataset_name(const tsr__h5_dataset *d) { return d->name; }

static tsr_dtype int_dtype(size_t size, bool is_signed) {
  switch (size) {
  case 1:
    return is_signed ? TSR_INT8 : TSR_UINT8;
  case 2:
    return is_signed ? TSR_INT16 : TSR_UINT16;
  case 4:
    return is_signed ? TSR_INT32 : TSR_UINT32;
  case 8:
    return is_signed ? TSR_INT64 : TSR_UINT64;
  default:
    return TSR_NUM_DTYPES;
  }
}

static hid_t native_type(tsr_dtype dtype) {
  switch (dtype) {
  case TSR_BOOL:
  case TSR_UINT8:
    return H5T_NATIVE_UINT8;
  case TSR_INT8:
    return H5T_NATIVE_INT8;
  case TSR_INT16:
    return H5T_NATIVE_INT16;
  case TSR_INT32:
    return H5T_NATIVE_INT32;
  case TSR_INT64:
    return H5T_NATIVE_INT64;
  case TSR_UINT16:
    return H5T_NATIVE_UINT16;
  case TSR_UINT32:
    return H5T_NATIVE_UINT32;
  case TSR_UINT64:
    return H5T_NATIVE_UINT64;
  case TSR_FLOAT32:
    return H5T_NATIVE_FLOAT;
  default:
    return H5T_NATIVE_DOUBLE;
  }
}

static hid_t file_type_le(tsr_dtype dtype) {
  switch (dtype) {
  case TSR_INT8:
    return H5T_STD_I8LE;
  case TSR_INT16:
    return H5T_STD_I16LE;
  case TSR_INT32:
    return H5T_STD_I32LE;
  case TSR_INT64:
    return H5T_STD_I64LE;
  case TSR_UINT8:
    return H5T_STD_U8LE;
  case TSR_UINT16:
    return H5T_STD_U16LE;
  case TSR_UINT32:
    return H5T_STD_U32LE;
  case TSR_UINT64:
    return H5T_STD_U64LE;
  case TSR_FLOAT32:
    return H5T_IEEE_F32LE;
  default:
    return H5T_IEEE_F64LE;
  }
}

/* h5py's bool: an enum over `base` (1-byte integers) of FALSE = 0, TRUE = 1. */
static hid_t bool_enum(hid_t base) {
  hid_t t = H5Tenum_create(base);
  int8_t v = 0;
  if (t < 0)
    return t;
  if (H5Tenum_insert(t, "FALSE", &v) < 0 || (v = 1, H5Tenum_insert(t, "TRUE", &v) < 0)) {
    H5Tclose(t);
    return -1;
  }
  return t;
}

hid_t tsr__h5_bool_enum(hid_t base) { return bool_enum(base); }

static bool is_bool_enum(hid_t t) {
  if (H5Tget_nmembers(t) != 2)
    return false;
  for (unsigned i = 0; i < 2; i++) {
    char *name = H5Tget_member_name(t, i);
    int8_t v = -1;
    bool ok = name != NULL && H5Tget_member_value(t, i, &v) >= 0 &&
              ((strcmp(name, "FALSE") == 0 && v == 0) || (strcmp(name, "TRUE") == 0 && v == 1));
    H5free_memory(name);
    if (!ok)
      return false;
  }
  return true;
}

static const char *class_name(H5T_class_t c) {
  switch (c) {
  case H5T_STRING:
    return "a string";
  case H5T_COMPOUND:
    return "a compound";
  case H5T_OPAQUE:
    return "an opaque";
  case H5T_REFERENCE:
    return "a reference";
  case H5T_VLEN:
    return "a variable-length";
  case H5T_ARRAY:
    return "an array";
  case H5T_TIME:
    return "a time";
  case H5T_BITFIELD:
    return "a bitfield";
  case H5T_ENUM:
    return "an enum";
  case H5T_FLOAT:
    return "a float";
  case H5T_INTEGER:
    return "an integer";
  default:
    return "an unknown";
  }
}

/* Maps the file type to a dtype and a memory type (under the lock).  On
 * failure, `why` says what the type is. */
static bool map_type(hid_t ftype, tsr__h5_dataset *d, bool *exact, char *why, size_t why_size) {
  H5T_class_t cls = H5Tget_class(ftype);
  size_t size = H5Tget_size(ftype);
  hid_t base = -1;
  *exact = true;
  d->info.dtype = TSR_NUM_DTYPES;
  if (cls == H5T_INTEGER || cls == H5T_ENUM) {
    hid_t t = ftype;
    if (cls == H5T_ENUM) {
      base = H5Tget_super(ftype);
      t = base;
    }
    if (t >= 0 && H5Tget_class(t) == H5T_INTEGER) {
      d->info.dtype = int_dtype(H5Tget_size(t), H5Tget_sign(t) == H5T_SGN_2);
      *exact = H5Tget_precision(t) == 8 * H5Tget_size(t) && H5Tget_offset(t) == 0;
      d->swap = H5Tget_order(t) == H5T_ORDER_BE && H5Tget_size(t) > 1;
      if (cls == H5T_ENUM && size == 1 && is_bool_enum(ftype))
        d->info.dtype = TSR_BOOL;
    }
    if (cls == H5T_ENUM)
      d->memtype = H5Tget_native_type(ftype, H5T_DIR_ASCEND);
    else if (d->info.dtype != TSR_NUM_DTYPES)
      d->memtype = H5Tcopy(native_type(d->info.dtype));
    if (base >= 0)
      H5Tclose(base);
  } else if (cls == H5T_FLOAT) {
    if (H5Tequal(ftype, H5T_IEEE_F32LE) > 0 || H5Tequal(ftype, H5T_IEEE_F32BE) > 0)
      d->info.dtype = TSR_FLOAT32;
    else if (H5Tequal(ftype, H5T_IEEE_F64LE) > 0 || H5Tequal(ftype, H5T_IEEE_F64BE) > 0)
      d->info.dtype = TSR_FLOAT64;
    if (d->info.dtype != TSR_NUM_DTYPES) {
      d->swap = H5Tget_order(ftype) == H5T_ORDER_BE;
      d->memtype = H5Tcopy(native_type(d->info.dtype));
    }
  }
  if (d->info.dtype == TSR_NUM_DTYPES) {
    if (cls == H5T_FLOAT || cls == H5T_INTEGER || cls == H5T_ENUM)
      snprintf(why, why_size, "%s type of %zu bytes (%s), not one of tessera's dtypes",
               class_name(cls), size,
               cls == H5T_FLOAT ? "not IEEE float32 or float64" : "unsupported size");
    else
      snprintf(why, why_size, "%s type, not a numeric one", class_name(cls));
    return false;
  }
  d->itemsize = tsr_dtype_size(d->info.dtype);
  return d->memtype >= 0;
}

bool tsr__h5_is_bool_enum(hid_t t) { return is_bool_enum(t); }

tsr_dtype tsr__h5_file_dtype(hid_t ftype) {
  tsr__h5_dataset d;
  memset(&d, 0, sizeof d);
  d.memtype = -1;
  bool exact;
  char why[WHY_BYTES];
  bool ok = map_type(ftype, &d, &exact, why, sizeof why);
  if (d.memtype >= 0)
    H5Tclose(d.memtype);
  return ok ? d.info.dtype : TSR_NUM_DTYPES;
}

static void dataset_free(tsr__h5_dataset *d) {
  if (d == NULL)
    return;
  tsr_ctx *ctx = d->ctx;
  tsr_free(ctx, d->path);
  tsr_free(ctx, d->name);
  tsr_free(ctx, d);
}

static tsr_status dataset_new(tsr_ctx *ctx, const char *path, const char *name,
                              tsr__h5_dataset **out) {
  tsr__h5_dataset *d = NULL;
  *out = NULL;
  TSR_TRY(tsr_calloc(ctx, 1, sizeof *d, (void **)&d));
  d->ctx = ctx;
  d->file = d->dset = d->memtype = -1;
  d->deflate_idx = d->shuffle_idx = -1;
  tsr_status status = tsr__strdup(ctx, path, &d->path);
  if (status == TSR_OK)
    status = tsr__strdup(ctx, name, &d->name);
  if (status != TSR_OK) {
    dataset_free(d);
    return status;
  }
  *out = d;
  return TSR_OK;
}

/* HDF5 refuses to create chunks longer than a fixed maximum extent; a file
 * that declares them is damaged, and libhdf5 1.10.8 reads such a filtered
 * chunk past the end of its buffer.  Returns false with `why`. */
static bool chunks_fit(const tsr__h5_dataset *d, const hsize_t *maxdims, char *why,
                       size_t why_size) {
  for (int a = 0; d->info.chunked && a < d->info.ndim; a++)
    if (maxdims[a] != H5S_UNLIMITED && (hsize_t)d->info.chunk[a] > maxdims[a]) {
      snprintf(why, why_size,
               "the file is damaged: its chunks (%lld along axis %d) are longer than the "
               "dataset's largest extent (%llu)",
               (long long)d->info.chunk[a], a, (unsigned long long)maxdims[a]);
      return false;
    }
  return true;
}

/* Reads the layout and filters (under the lock).  Returns false with `why`
 * for a filter this HDF5 cannot decode. */
static bool read_layout(tsr__h5_dataset *d, hid_t dcpl, bool exact, char *why, size_t why_size) {
  tsr__h5_info *info = &d->info;
  info->chunked = H5Pget_layout(dcpl) == H5D_CHUNKED;
  if (!info->chunked)
    return true;
  hsize_t dims[H5S_MAX_RANK];
  if (H5Pget_chunk(dcpl, info->ndim, dims) != info->ndim) {
    info->chunked = false;
    return true;
  }
  /* HDF5 refuses to make a chunk of 4 GiB or more; a file that declares
   * one anyway (damaged, or crafted) is refused here, before any size
   * computed from the chunk could overflow. */
  uint64_t chunk_bytes = d->itemsize > 0 ? d->itemsize : 1;
  for (int a = 0; a < info->ndim; a++) {
    if (dims[a] == 0 || !tsr__mul_u64(chunk_bytes, (uint64_t)dims[a], &chunk_bytes) ||
        chunk_bytes >= (1ull << 32)) {
      snprintf(why, why_size, "its chunks (%llu elements along axis %d) %s",
               (unsigned long long)dims[a], a,
               dims[a] == 0 ? "are empty" : "hold 4 GiB or more, beyond HDF5's limit");
      return false;
    }
    info->chunk[a] = (int64_t)dims[a];
  }
  d->chunk_bytes = chunk_bytes;
  int n = H5Pget_nfilters(dcpl);
  d->filtered = n > 0;
  bool other = false;
  for (int i = 0; i < n; i++) {
    unsigned flags = 0, config = 0;
    size_t nelem = 0;
    char fname[64] = "";
    H5Z_filter_t id =
        H5Pget_filter2(dcpl, (unsigned)i, &flags, &nelem, NULL, sizeof fname, fname, &config);
    if (id == H5Z_FILTER_DEFLATE) {
      d->deflate_idx = i;
    } else if (id == H5Z_FILTER_SHUFFLE) {
      d->shuffle_idx = i;
    } else {
      other = true;
      if (H5Zfilter_avail(id) <= 0) {
        snprintf(why, why_size,
                 "it is compressed with HDF5 filter %d (%s), which this HDF5 cannot decode",
                 (int)id, fname[0] ? fname : "unnamed");
        return false;
      }
    }
  }
  info->deflate_level = d->deflate_idx >= 0;
  info->shuffle = d->shuffle_idx >= 0;
  info->direct = exact && !other && d->deflate_idx >= 0 &&
                 (d->shuffle_idx < 0 || d->shuffle_idx < d->deflate_idx);
  return true;
}

/* A dataset access list without a chunk cache (under the lock). */
static hid_t no_cache_dapl(void) {
  hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
  if (dapl >= 0 &&
      H5Pset_chunk_cache(dapl, H5D_CHUNK_CACHE_NSLOTS_DEFAULT, 0, H5D_CHUNK_CACHE_W0_DEFAULT) < 0) {
    H5Pclose(dapl);
    dapl = -1;
  }
  return dapl;
}

tsr_status tsr__h5_open_read(tsr_ctx *ctx, const char *fn, const char *path, const char *name,
                             tsr__h5_dataset **out) {
  tsr_status status = TSR_OK;
  tsr__h5_dataset *d = NULL;
  char why[WHY_BYTES] = "";
  hid_t space = -1, ftype = -1, dcpl = -1;
  bool locked = false;
  *out = NULL;
  struct stat st;
  if (stat(path, &st) != 0) {
    int err = errno;
    return tsr_error_set(TSR_EIO, "%s: cannot open '%s' (dataset '%s'): %s", fn, path, name,
                         strerror(err));
  }
  TSR_CHECK(!S_ISDIR(st.st_mode), TSR_EIO, "%s: cannot open '%s' (dataset '%s'): %s", fn, path,
            name, strerror(EISDIR));
  TSR__TRY_GOTO(status, dataset_new(ctx, path, name, &d));
  h5_lock();
  locked = true;
  htri_t is_h5 = H5Fis_hdf5(path);
  if (is_h5 == 0) {
    status = tsr_error_set(TSR_EIO, "%s: '%s' (dataset '%s') is not an HDF5 file", fn, path, name);
    goto fail;
  }
  d->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (d->file < 0) {
    h5_explain(why, sizeof why);
    status = tsr_error_set(TSR_EIO, "%s: cannot open '%s' (dataset '%s'): %s", fn, path, name, why);
    goto fail;
  }
  d->dset = H5Dopen2(d->file, name, H5P_DEFAULT);
  if (d->dset < 0) {
    h5_explain(why, sizeof why);
    status = tsr_error_set(TSR_EIO, "%s: '%s' has no dataset '%s': %s", fn, path, name, why);
    goto fail;
  }
  ftype = H5Dget_type(d->dset);
  space = H5Dget_space(d->dset);
  dcpl = H5Dget_create_plist(d->dset);
  if (ftype < 0 || space < 0 || dcpl < 0) {
    h5_explain(why, sizeof why);
    status =
        tsr_error_set(TSR_EIO, "%s: cannot read dataset '%s' in '%s': %s", fn, name, path, why);
    goto fail;
  }
  bool exact;
  if (!map_type(ftype, d, &exact, why, sizeof why)) {
    status = tsr_error_set(d->info.dtype == TSR_NUM_DTYPES ? TSR_EDTYPE : TSR_EIO,
                           "%s: dataset '%s' in '%s' has %s", fn, name, path, why);
    goto fail;
  }
  H5S_class_t sclass = H5Sget_simple_extent_type(space);
  if (sclass == H5S_NULL) {
    status = tsr_error_set(TSR_ENOTSUP, "%s: dataset '%s' in '%s' has a null dataspace (no data)",
                           fn, name, path);
    goto fail;
  }
  int ndim = H5Sget_simple_extent_ndims(space);
  if (ndim < 0 || ndim > TSR_MAX_NDIM) {
    status = tsr_error_set(TSR_ENOTSUP, "%s: dataset '%s' in '%s' has %d dimensions (at most %d)",
                           fn, name, path, ndim, TSR_MAX_NDIM);
    goto fail;
  }
  d->info.ndim = ndim;
  hsize_t dims[H5S_MAX_RANK];
  hsize_t maxdims[H5S_MAX_RANK];
  H5Sget_simple_extent_dims(space, dims, maxdims);
  for (int a = 0; a < ndim; a++) {
    if (dims[a] > (hsize_t)INT64_MAX) {
      status = tsr_error_set(TSR_ENOTSUP,
                             "%s: dataset '%s' in '%s' has %llu elements along axis %d, more "
                             "than 2^63 - 1",
                             fn, name, path, (unsigned long long)dims[a], a);
      goto fail;
    }
    d->info.shape[a] = (int64_t)dims[a];
  }
  {
    int64_t nbytes;
    status = tsr__shape_bytes(fn, ndim, d->info.shape, d->itemsize, &nbytes);
    if (status != TSR_OK) {
      status = tsr_error_set(status, "%s (dataset '%s' in '%s')", tsr_last_error(), name, path);
      goto fail;
    }
  }
  if (!read_layout(d, dcpl, exact, why, sizeof why) || !chunks_fit(d, maxdims, why, sizeof why)) {
    status = tsr_error_set(TSR_ENOTSUP, "%s: dataset '%s' in '%s' cannot be read: %s", fn, name,
                           path, why);
    goto fail;
  }
  if (exact && !d->filtered) {
    /* Raw reads need the base address HDF5's chunk addresses are relative
     * to: the user block's size (H5Dget_offset's addresses are absolute). */
    hid_t fcpl = H5Fget_create_plist(d->file);
    hsize_t ub = 0;
    d->raw = fcpl >= 0 && H5Pget_userblock(fcpl, &ub) >= 0;
    if (fcpl >= 0)
      H5Pclose(fcpl);
    d->base = (uint64_t)ub;
    d->dev = st.st_dev;
    d->ino = st.st_ino;
    H5Eclear2(H5E_DEFAULT);
  }
  if (d->info.chunked && !d->filtered) {
    /* Unfiltered chunks need no chunk cache: without one HDF5 reads a box
     * straight into the caller's buffer instead of through a cached copy. */
    hid_t dapl = no_cache_dapl();
    hid_t again = dapl >= 0 ? H5Dopen2(d->file, name, dapl) : -1;
    if (again >= 0) {
      H5Dclose(d->dset);
      d->dset = again;
    }
    if (dapl >= 0)
      H5Pclose(dapl);
    H5Eclear2(H5E_DEFAULT);
  }
  H5Pclose(dcpl);
  H5Sclose(space);
  H5Tclose(ftype);
  h5_unlock();
  *out = d;
  return TSR_OK;
fail:
  if (!locked)
    h5_lock();
  if (dcpl >= 0)
    H5Pclose(dcpl);
  if (space >= 0)
    H5Sclose(space);
  if (ftype >= 0)
    H5Tclose(ftype);
  if (d != NULL) {
    if (d->memtype >= 0)
      H5Tclose(d->memtype);
    if (d->dset >= 0)
      H5Dclose(d->dset);
    if (d->file >= 0)
      H5Fclose(d->file);
  }
  h5_unlock();
  dataset_free(d);
  return status;
}

void tsr__h5_close_read(tsr__h5_dataset **dp) {
  if (dp == NULL || *dp == NULL)
    return;
  tsr__h5_dataset *d = *dp;
  h5_lock();
  H5Tclose(d->memtype);
  H5Dclose(d->dset);
  H5Fclose(d->file);
  h5_unlock();
  dataset_free(d);
  *dp = NULL;
}

/* ---- boxes, shuffle, byte order -------------------------------------------- */

static const char *fmt_coords(char *buf, size_t size, int nd, const int64_t *v) {
  size_t used = 0;
  used += (size_t)snprintf(buf, size, "(");
  for (int a = 0; a < nd && used < size; a++)
    used += (size_t)snprintf(buf + used, size - used, a ? ", %lld" : "%lld", (long long)v[a]);
  if (used < size)
    snprintf(buf + used, size - used, ")");
  return buf;
}
#define COORDS_BYTES (TSR_MAX_NDIM * 22 + 4)

/* Copies the box of extents `count` at soff in the C-order array src (of
 * extents sshape) to doff in dst (of extents dshape). */
static void copy_box(int nd, size_t isz, const int64_t *count, unsigned char *dst,
                     const int64_t *dshape, const int64_t *doff, const unsigned char *src,
                     const int64_t *sshape, const int64_t *soff) {
  if (nd == 0) {
    memcpy(dst, src, isz);
    return;
  }
  for (int a = 0; a < nd; a++)
    if (count[a] == 0)
      return;
  int64_t dstride[TSR_MAX_NDIM], sstride[TSR_MAX_NDIM], idx[TSR_MAX_NDIM] = {0};
  dstride[nd - 1] = sstride[nd - 1] = 1;
  for (int a = nd - 2; a >= 0; a--) {
    dstride[a] = dstride[a + 1] * dshape[a + 1];
    sstride[a] = sstride[a + 1] * sshape[a + 1];
  }
  size_t row = (size_t)count[nd - 1] * isz;
  for (;;) {
    int64_t di = 0, si = 0;
    for (int a = 0; a < nd; a++) {
      int64_t i = a < nd - 1 ? idx[a] : 0;
      di += (doff[a] + i) * dstride[a];
      si += (soff[a] + i) * sstride[a];
    }
    memcpy(dst + (size_t)di * isz, src + (size_t)si * isz, row);
    int a = nd - 2;
    while (a >= 0 && ++idx[a] == count[a])
      idx[a--] = 0;
    if (a < 0)
      break;
  }
}

/* HDF5's shuffle filter: byte b of element i goes to b * n + i. */
static inline void shuffle_n(size_t isz, size_t n, const unsigned char *restrict in,
                             unsigned char *restrict out) {
  for (size_t i = 0; i < n; i++)
    for (size_t b = 0; b < isz; b++)
      out[b * n + i] = in[i * isz + b];
}
static inline void unshuffle_n(size_t isz, size_t n, const unsigned char *restrict in,
                               unsigned char *restrict out) {
  for (size_t i = 0; i < n; i++)
    for (size_t b = 0; b < isz; b++)
      out[i * isz + b] = in[b * n + i];
}
/* Constant element sizes let the compiler unroll the byte loop. */
static void shuffle(size_t isz, size_t n, const unsigned char *in, unsigned char *out, bool undo) {
  switch (isz) {
  case 2:
    undo ? unshuffle_n(2, n, in, out) : shuffle_n(2, n, in, out);
    break;
  case 4:
    undo ? unshuffle_n(4, n, in, out) : shuffle_n(4, n, in, out);
    break;
  case 8:
    undo ? unshuffle_n(8, n, in, out) : shuffle_n(8, n, in, out);
    break;
  default:
    undo ? unshuffle_n(isz, n, in, out) : shuffle_n(isz, n, in, out);
    break;
  }
}

static void byteswap(size_t isz, size_t n, unsigned char *p) {
  for (size_t i = 0; i < n; i++, p += isz)
    for (size_t b = 0; b < isz / 2; b++) {
      unsigned char t = p[b];
      p[b] = p[isz - 1 - b];
      p[isz - 1 - b] = t;
    }
}

/* ---- reading ---------------------------------------------------------------- */

/* Under the lock, before H5Dread of a box of a chunked dataset: HDF5
 * 1.10.8 trusts the sizes its chunk index gives (CVE-2025-44904: an
 * unfiltered chunk stored smaller than its extent is read past its end; a
 * stored size larger than the file is allocated as is).  So every chunk the
 * box touches must be absent, or lie within the file, and an unfiltered one
 * must be stored at its own size.  One index lookup per chunk, next to a
 * read of that chunk.  Returns false with `why` for a damaged chunk. */
static bool chunks_sound(const tsr__h5_dataset *d, const int64_t *foff, const int64_t *count,
                         char *why, size_t why_size) {
  int nd = d->info.ndim;
  hsize_t file_size = 0;
  if (H5Fget_filesize(d->file, &file_size) < 0)
    return true; /* not knowable: leave it to HDF5 */
  int64_t first[H5S_MAX_RANK], last[H5S_MAX_RANK], at[H5S_MAX_RANK];
  for (int a = 0; a < nd; a++) {
    if (count[a] == 0)
      return true;
    first[a] = at[a] = foff[a] / d->info.chunk[a];
    last[a] = (foff[a] + count[a] - 1) / d->info.chunk[a];
  }
  for (;;) {
    hsize_t off[H5S_MAX_RANK], size = 0;
    haddr_t addr = HADDR_UNDEF;
    unsigned mask = 0;
    for (int a = 0; a < nd; a++)
      off[a] = (hsize_t)(at[a] * d->info.chunk[a]);
    bool known = H5Dget_chunk_info_by_coord(d->dset, off, &mask, &addr, &size) >= 0;
    if (!known || (addr != HADDR_UNDEF && size > 0 &&
                   (addr > file_size || size > file_size - addr ||
                    (!d->filtered && size != d->chunk_bytes)))) {
      char c[COORDS_BYTES];
      int64_t o[H5S_MAX_RANK];
      for (int a = 0; a < nd; a++)
        o[a] = (int64_t)off[a];
      if (!known)
        snprintf(why, why_size, "the chunk at %.200s is damaged: its index entry cannot be read",
                 fmt_coords(c, sizeof c, nd, o));
      else
        snprintf(why, why_size, "the chunk at %.200s is damaged: stored in %llu bytes where %s",
                 fmt_coords(c, sizeof c, nd, o), (unsigned long long)size,
                 size != d->chunk_bytes && !d->filtered ? "its extent needs a different size"
                                                        : "the file ends before it");
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    int a = nd - 1;
    while (a >= 0 && at[a] == last[a]) {
      at[a] = first[a];
      a--;
    }
    if (a < 0)
      return true;
    at[a]++;
  }
}

/* The same for a dataset that is not chunked: its data (compact, in the
 * object header; contiguous, in one block of the file) must be absent or
 * hold exactly its extent, and a contiguous block must lie within the file
 * (libhdf5 1.10.8 copies the extent out of a smaller compact buffer). */
static bool storage_sound(const tsr__h5_dataset *d, char *why, size_t why_size) {
  uint64_t need = d->itemsize;
  for (int a = 0; a < d->info.ndim; a++)
    need *= (uint64_t)d->info.shape[a]; /* fits: checked when opened */
  hsize_t have = H5Dget_storage_size(d->dset), file_size = 0;
  haddr_t at = H5Dget_offset(d->dset); /* HADDR_UNDEF: compact, external or unallocated */
  bool bad = have != 0 && have != need;
  if (!bad && at != HADDR_UNDEF && have > 0 && H5Fget_filesize(d->file, &file_size) >= 0)
    bad = at > file_size || have > file_size - at;
  H5Eclear2(H5E_DEFAULT);
  if (bad)
    snprintf(why, why_size,
             "the file is damaged: the dataset's data is stored in %llu bytes where its extent "
             "needs %llu%s",
             (unsigned long long)have, (unsigned long long)need,
             at != HADDR_UNDEF ? " or lies past the end of the file" : "");
  return !bad;
}

/* Hyperslab read of the file box [foff, foff + count) into the memory box
 * at moff of the C-order buffer `out` of extents mshape. */
static tsr_status read_hyperslab(tsr__h5_dataset *d, const int64_t *foff, const int64_t *count,
                                 void *out, const int64_t *mshape, const int64_t *moff) {
  int nd = d->info.ndim;
  hsize_t fo[H5S_MAX_RANK], fc[H5S_MAX_RANK], ms[H5S_MAX_RANK], mo[H5S_MAX_RANK];
  for (int a = 0; a < nd; a++) {
    fo[a] = (hsize_t)foff[a];
    fc[a] = (hsize_t)count[a];
    ms[a] = (hsize_t)mshape[a];
    mo[a] = (hsize_t)moff[a];
  }
  char why[WHY_BYTES];
  herr_t rc = -1;
  hid_t fspace = -1, mspace = -1;
  h5_lock();
  if (d->info.chunked ? !chunks_sound(d, foff, count, why, sizeof why)
                      : !storage_sound(d, why, sizeof why)) {
    rc = -2; /* why says it */
  } else if (nd == 0) {
    rc = H5Dread(d->dset, d->memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, out);
  } else {
    fspace = H5Dget_space(d->dset);
    mspace = H5Screate_simple(nd, ms, NULL);
    if (fspace >= 0 && mspace >= 0 &&
        H5Sselect_hyperslab(fspace, H5S_SELECT_SET, fo, NULL, fc, NULL) >= 0 &&
        H5Sselect_hyperslab(mspace, H5S_SELECT_SET, mo, NULL, fc, NULL) >= 0)
      rc = H5Dread(d->dset, d->memtype, mspace, fspace, H5P_DEFAULT, out);
  }
  if (rc == -1)
    h5_explain(why, sizeof why);
  else if (rc >= 0)
    atomic_fetch_add(&io_read_bytes, box_bytes(nd, fc, d->itemsize));
  if (fspace >= 0)
    H5Sclose(fspace);
  if (mspace >= 0)
    H5Sclose(mspace);
  h5_unlock();
  if (rc < 0) {
    char c1[COORDS_BYTES], c2[COORDS_BYTES];
    return tsr_error_set(TSR_EIO,
                         "cannot read the box at %s of extents %s of dataset '%s' in '%s': %s",
                         fmt_coords(c1, sizeof c1, nd, foff), fmt_coords(c2, sizeof c2, nd, count),
                         d->name, d->path, why);
  }
  return TSR_OK;
}

/* Whether the box is made of whole file chunks (edge chunks cut by the
 * dataset's extent count as whole). */
static bool box_aligned(const tsr__h5_dataset *d, const int64_t *offset, const int64_t *shape) {
  for (int a = 0; a < d->info.ndim; a++) {
    int64_t c = d->info.chunk[a];
    if (offset[a] % c != 0 || (shape[a] % c != 0 && offset[a] + shape[a] != d->info.shape[a]))
      return false;
  }
  return true;
}

/* ---- raw reads, outside the lock --------------------------------------------- */

/* pread(2) of `n` bytes at absolute file offset `at` into out; false with
 * `why` when the file ends first or the read fails. */
static bool pread_all(int fd, uint64_t at, size_t n, unsigned char *out, char *why,
                      size_t why_size) {
  while (n > 0) {
    ssize_t k = pread(fd, out, n, (off_t)at);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0) {
      snprintf(why, why_size, "%s at byte %llu", k < 0 ? strerror(errno) : "the file ends",
               (unsigned long long)at);
      return false;
    }
    out += k;
    at += (uint64_t)k;
    n -= (size_t)k;
  }
  return true;
}

/* Where the stored bytes of the chunk at `off` lie in the file (under the
 * lock).  *present is false for a chunk never written (HDF5 fills it);
 * false with `why` for a damaged chunk: stored at another size than a whole
 * chunk, or past the end of the file (file_size: the descriptor's). */
static bool raw_chunk_at(const tsr__h5_dataset *d, const hsize_t *off, uint64_t file_size,
                         bool *present, uint64_t *at, char *why, size_t why_size) {
  hsize_t size = 0;
  haddr_t addr = HADDR_UNDEF;
  unsigned mask = 0;
  *present = false;
  if (H5Dget_chunk_info_by_coord(d->dset, off, &mask, &addr, &size) < 0) {
    snprintf(why, why_size, "its index entry cannot be read");
    return false;
  }
  if (addr == HADDR_UNDEF || size == 0)
    return true;
  uint64_t a = 0;
  if (size != d->chunk_bytes || __builtin_add_overflow((uint64_t)addr, d->base, &a) ||
      a > file_size || size > file_size - a) {
    snprintf(why, why_size, "it is damaged: stored in %llu bytes at %llu where %s",
             (unsigned long long)size, (unsigned long long)addr,
             size != d->chunk_bytes ? "its extent needs a different size"
                                    : "the file ends before it");
    return false;
  }
  *present = true;
  *at = a;
  return true;
}

/* Reads the box [offset, offset + shape) of a raw dataset (d->raw) into out
 * without holding the lock while bytes move: under the lock, only the index
 * lookup of each chunk (or the contiguous block's address); then pread(2) on
 * fd, our own descriptor of the file, so threads reading boxes copy at once.  Chunks that
 * map onto a contiguous run of `out` (1-D, or cut along axis 0 alone) are
 * read straight into it, others through one chunk of scratch.  A chunk never
 * written, and data not in one contiguous block, go through HDF5.  Returns
 * with *done false (and nothing read) for a box this does not read: then
 * the caller uses HDF5's hyperslab read. */
static tsr_status read_raw_fd(tsr__h5_dataset *d, int fd, const int64_t *offset,
                              const int64_t *shape, unsigned char *out, bool *done) {
  tsr_status status = TSR_OK;
  *done = false;
  int nd = d->info.ndim;
  size_t isz = d->itemsize;
  const int64_t *dims = d->info.shape;
  char why[WHY_BYTES] = "", c1[COORDS_BYTES];
  struct stat st;
  if (nd == 0 || fstat(fd, &st) != 0 || st.st_dev != d->dev || st.st_ino != d->ino)
    return TSR_OK; /* replaced since HDF5 opened it: HDF5's reads only */
  uint64_t file_size = (uint64_t)st.st_size;
  /* elements of one "row" along axis 0 in the box, and whether the box
   * spans the inner axes whole (then a run of rows is contiguous) */
  size_t inner = 1;
  bool spans = true;
  for (int a = 1; a < nd; a++) {
    inner *= (size_t)shape[a];
    spans &= shape[a] == dims[a] && offset[a] == 0;
  }
  if (!d->info.chunked) {
    if (!spans)
      return TSR_OK;
    h5_lock();
    haddr_t at = H5Dget_offset(d->dset); /* absolute; HADDR_UNDEF: compact or unallocated */
    bool sound =
        at != HADDR_UNDEF && storage_sound(d, why, sizeof why) && H5Dget_storage_size(d->dset) > 0;
    h5_unlock();
    if (!sound)
      return TSR_OK; /* HDF5's read fills, or explains the damage */
    *done = true;
    uint64_t from = (uint64_t)at + (uint64_t)offset[0] * inner * isz;
    size_t n = (size_t)shape[0] * inner * isz;
    TSR_CHECK(pread_all(fd, from, n, out, why, sizeof why), TSR_EIO,
              "cannot read the box at %s of dataset '%s' in '%s': %s",
              fmt_coords(c1, sizeof c1, nd, offset), d->name, d->path, why);
    atomic_fetch_add(&io_read_bytes, (uint64_t)n);
    if (d->swap)
      byteswap(isz, n / isz, out);
    return TSR_OK;
  }
  const int64_t *fc = d->info.chunk;
  int64_t first[TSR_MAX_NDIM], last[TSR_MAX_NDIM], at_[TSR_MAX_NDIM];
  for (int a = 0; a < nd; a++) {
    first[a] = at_[a] = offset[a] / fc[a];
    last[a] = (offset[a] + shape[a] - 1) / fc[a];
  }
  unsigned char *scratch = NULL;
  *done = true;
  for (;;) {
    /* the part of chunk at_ inside the box: file box [o, o + e), at rel in
     * the box and at in_c in the chunk */
    int64_t o[TSR_MAX_NDIM], e[TSR_MAX_NDIM], rel[TSR_MAX_NDIM], in_c[TSR_MAX_NDIM];
    hsize_t ho[H5S_MAX_RANK];
    bool whole_inner = true; /* the chunk holds the box's inner extents exactly */
    for (int a = 0; a < nd; a++) {
      int64_t c0 = at_[a] * fc[a], c1e = c0 + fc[a] < dims[a] ? c0 + fc[a] : dims[a];
      o[a] = offset[a] > c0 ? offset[a] : c0;
      int64_t end = offset[a] + shape[a] < c1e ? offset[a] + shape[a] : c1e;
      e[a] = end - o[a];
      rel[a] = o[a] - offset[a];
      in_c[a] = o[a] - c0;
      ho[a] = (hsize_t)c0;
      if (a > 0)
        whole_inner &= fc[a] == shape[a] && in_c[a] == 0 && e[a] == shape[a];
    }
    bool present = false;
    uint64_t addr = 0;
    h5_lock();
    bool ok = raw_chunk_at(d, ho, file_size, &present, &addr, why, sizeof why);
    h5_unlock();
    TSR__CHECK_GOTO(status, ok, TSR_EIO, "cannot read the chunk at %s of dataset '%s' in '%s': %s",
                    fmt_coords(c1, sizeof c1, nd, o), d->name, d->path, why);
    if (!present) {
      TSR__TRY_GOTO(status, read_hyperslab(d, o, e, out, shape, rel));
    } else if (whole_inner) {
      /* rows [in_c[0], in_c[0] + e[0]) of the chunk are one run of the file
       * and of out */
      size_t row = inner * isz, n = (size_t)e[0] * row;
      unsigned char *dst = out + (size_t)rel[0] * row;
      TSR__CHECK_GOTO(status,
                      pread_all(fd, addr + (uint64_t)in_c[0] * row, n, dst, why, sizeof why),
                      TSR_EIO, "cannot read the chunk at %s of dataset '%s' in '%s': %s",
                      fmt_coords(c1, sizeof c1, nd, o), d->name, d->path, why);
      atomic_fetch_add(&io_read_bytes, (uint64_t)n);
      if (d->swap)
        byteswap(isz, n / isz, dst);
    } else {
      if (scratch == NULL)
        TSR__TRY_GOTO(status, tsr_kernel_alloc(d->ctx, (size_t)d->chunk_bytes, (void **)&scratch));
      TSR__CHECK_GOTO(status, pread_all(fd, addr, (size_t)d->chunk_bytes, scratch, why, sizeof why),
                      TSR_EIO, "cannot read the chunk at %s of dataset '%s' in '%s': %s",
                      fmt_coords(c1, sizeof c1, nd, o), d->name, d->path, why);
      atomic_fetch_add(&io_read_bytes, d->chunk_bytes);
      if (d->swap)
        byteswap(isz, (size_t)(d->chunk_bytes / isz), scratch);
      copy_box(nd, isz, e, out, shape, rel, scratch, fc, in_c);
    }
    int a = nd - 1;
    while (a >= 0 && at_[a] == last[a]) {
      at_[a] = first[a];
      a--;
    }
    if (a < 0)
      break;
    at_[a]++;
  }
fail:
  tsr_free(d->ctx, scratch);
  return status;
}

/* read_raw_fd on a descriptor opened for this read (one per call, not per
 * dataset: a table of thousands of columns keeps no descriptor open). */
static tsr_status read_raw(tsr__h5_dataset *d, const int64_t *offset, const int64_t *shape,
                           unsigned char *out, bool *done) {
  *done = false;
  int fd = open(d->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return TSR_OK; /* HDF5's reads */
  tsr_status status = read_raw_fd(d, fd, offset, shape, out, done);
  close(fd);
  return status;
}

static tsr_status grow(tsr_ctx *ctx, unsigned char **buf, size_t *cap, size_t need) {
  if (*cap >= need && *buf != NULL)
    return TSR_OK;
  tsr_free(ctx, *buf);
  *buf = NULL;
  *cap = 0;
  TSR_TRY(tsr_kernel_alloc(ctx, need, (void **)buf)); /* in a task: under the budget */
  *cap = need;
  return TSR_OK;
}

static tsr_status read_direct(tsr__h5_dataset *d, const int64_t *offset, const int64_t *shape,
                              unsigned char *out) {
  tsr_status status = TSR_OK;
  tsr_ctx *ctx = d->ctx;
  int nd = d->info.ndim;
  size_t isz = d->itemsize;
  const int64_t *fc = d->info.chunk, *dims = d->info.shape;
  int64_t nc[TSR_MAX_NDIM], idx[TSR_MAX_NDIM] = {0}, zero[TSR_MAX_NDIM] = {0};
  size_t chunk_elems = 1;
  bool single = true;
  for (int a = 0; a < nd; a++) {
    nc[a] = (shape[a] + fc[a] - 1) / fc[a];
    single &= nc[a] == 1;
    chunk_elems *= (size_t)fc[a];
  }
  size_t chunk_bytes = chunk_elems * isz;
  unsigned char *raw = NULL, *buf1 = NULL, *buf2 = NULL;
  size_t raw_cap = 0, cap1 = 0, cap2 = 0;
  char why[WHY_BYTES], c1[COORDS_BYTES];
  struct libdeflate_decompressor *dec = libdeflate_alloc_decompressor();
  TSR__CHECK_GOTO(status, dec != NULL, TSR_ENOMEM, "cannot allocate a deflate decompressor");
  for (;;) {
    int64_t o[TSR_MAX_NDIM], e[TSR_MAX_NDIM], rel[TSR_MAX_NDIM];
    bool whole = single;
    hsize_t ho[H5S_MAX_RANK];
    for (int a = 0; a < nd; a++) {
      rel[a] = idx[a] * fc[a];
      o[a] = offset[a] + rel[a];
      e[a] = fc[a] < dims[a] - o[a] ? fc[a] : dims[a] - o[a];
      whole &= e[a] == fc[a];
      ho[a] = (hsize_t)o[a];
    }
    hsize_t size = 0;
    uint32_t mask = 0;
    h5_lock();
    if (H5Dget_chunk_storage_size(d->dset, ho, &size) < 0 || size == 0) {
      /* Never written: HDF5 fills it with the fill value. */
      h5_unlock();
      TSR__TRY_GOTO(status, read_hyperslab(d, o, e, out, shape, rel));
    } else {
      status = grow(ctx, &raw, &raw_cap, (size_t)size);
      if (status == TSR_OK)
        atomic_fetch_add(&io_read_bytes, (uint64_t)size);
      if (status == TSR_OK && H5Dread_chunk(d->dset, H5P_DEFAULT, ho, &mask, raw) < 0) {
        h5_explain(why, sizeof why);
        status = tsr_error_set(TSR_EIO, "cannot read the chunk at %s of dataset '%s' in '%s': %s",
                               fmt_coords(c1, sizeof c1, nd, o), d->name, d->path, why);
      }
      h5_unlock();
      if (status != TSR_OK)
        goto fail;
      /* Decode outside the lock: inflate, unshuffle, byte order, cut. */
      bool inflate = !(mask & (1u << d->deflate_idx));
      bool unshuf = d->shuffle_idx >= 0 && !(mask & (1u << d->shuffle_idx)) && isz > 1;
      unsigned char *final = out;
      if (!whole) {
        TSR__TRY_GOTO(status, grow(ctx, &buf2, &cap2, chunk_bytes));
        final = buf2;
      }
      const unsigned char *stage = raw;
      if (inflate) {
        unsigned char *dst = final;
        if (unshuf) {
          TSR__TRY_GOTO(status, grow(ctx, &buf1, &cap1, chunk_bytes));
          dst = buf1;
        }
        enum libdeflate_result r =
            libdeflate_zlib_decompress(dec, raw, (size_t)size, dst, chunk_bytes, NULL);
        TSR__CHECK_GOTO(status, r == LIBDEFLATE_SUCCESS, TSR_EIO,
                        "the chunk at %s of dataset '%s' in '%s' is corrupt: its %llu bytes are "
                        "not a deflate stream of %zu bytes (libdeflate: %s)",
                        fmt_coords(c1, sizeof c1, nd, o), d->name, d->path,
                        (unsigned long long)size, chunk_bytes,
                        r == LIBDEFLATE_BAD_DATA ? "bad data" : "wrong decompressed size");
        stage = dst;
      } else {
        TSR__CHECK_GOTO(status, size == chunk_bytes, TSR_EIO,
                        "the chunk at %s of dataset '%s' in '%s' is corrupt: %llu bytes stored "
                        "uncompressed where %zu are expected",
                        fmt_coords(c1, sizeof c1, nd, o), d->name, d->path,
                        (unsigned long long)size, chunk_bytes);
      }
      if (unshuf)
        shuffle(isz, chunk_elems, stage, final, true);
      else if (stage != final)
        memcpy(final, stage, chunk_bytes);
      if (d->swap)
        byteswap(isz, chunk_elems, final);
      if (!whole)
        copy_box(nd, isz, e, out, shape, rel, final, fc, zero);
    }
    int a = nd - 1;
    while (a >= 0 && ++idx[a] == nc[a])
      idx[a--] = 0;
    if (a < 0)
      break;
  }
fail:
  if (dec != NULL)
    libdeflate_free_decompressor(dec);
  tsr_free(ctx, raw);
  tsr_free(ctx, buf1);
  tsr_free(ctx, buf2);
  return status;
}

tsr_status tsr__h5_read_block(tsr__h5_dataset *d, const int64_t *offset, const int64_t *shape,
                              void *out) {
  int nd = d->info.ndim;
  for (int a = 0; a < nd; a++)
    if (shape[a] == 0)
      return TSR_OK;
  if (d->info.direct && nd > 0 && box_aligned(d, offset, shape))
    return read_direct(d, offset, shape, out);
  if (d->raw) {
    bool done;
    tsr_status st = read_raw(d, offset, shape, out, &done);
    if (done || st != TSR_OK)
      return st;
  }
  int64_t zero[TSR_MAX_NDIM] = {0};
  return read_hyperslab(d, offset, shape, out, shape, zero);
}

/* ---- writing ------------------------------------------------------------------ */

struct tsr__h5_file {
  tsr_ctx *ctx;
  tsr_hdf5_mode mode;
  hid_t file;
  char *path;
  char *tmp_path;   /* the file written until it is published; NULL afterwards */
  char *dest;       /* the file replaced: path, or the one a symbolic link names */
  tsr__target base; /* the target as it was when the writing began */
  bool copy;        /* tmp_path started as a copy of the existing file */
  bool parallel;    /* opened by every rank with the MPI-IO driver */
  bool shared;      /* the temporary file is shared by the ranks: commit only closes it, the
                       renamer publishes or removes it (tsr__h5_file_publish) */
  bool renamer;     /* shared: the rank that publishes or removes the file */
  bool reproducible; /* datasets: no times; unfiltered ones allocated early, never filled */
  size_t n, cap;
  tsr__h5_dataset **sets;
};

hid_t tsr__h5_file_hid(const tsr__h5_file *f) { return f->file; }

static void file_free(tsr__h5_file *f) {
  tsr_ctx *ctx = f->ctx;
  for (size_t i = 0; i < f->n; i++)
    dataset_free(f->sets[i]);
  tsr_free(ctx, f->sets);
  tsr_free(ctx, f->path);
  tsr_free(ctx, f->dest);
  tsr_free(ctx, f->tmp_path);
  tsr_free(ctx, f);
}

/* The file an output at `path` replaces: the target of a symbolic link
 * (which stays a link), else path itself. */
static tsr_status resolve_dest(tsr_ctx *ctx, const char *path, char **out) {
  struct stat st;
  char *real = NULL;
  if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
    real = realpath(path, NULL);
  tsr_status status = tsr__strdup(ctx, real != NULL ? real : path, out);
  free(real);
  return status;
}

/* Whether `path` may be the output in `mode` (*t: what is there now). */
static tsr_status check_target(const char *path, tsr_hdf5_mode mode, tsr__target *t) {
  static const char fn[] = "tsr_store_hdf5";
  tsr__target_probe(path, t);
  TSR_CHECK(!(t->exists && S_ISDIR(t->mode)), TSR_EIO, "%s: cannot write '%s': it is a directory",
            fn, path);
  TSR_CHECK(!(t->exists && !S_ISREG(t->mode)), TSR_EIO,
            "%s: cannot write '%s': it is not a regular file", fn, path);
  TSR_CHECK(!(t->exists && mode == TSR_HDF5_EXCLUSIVE), TSR_EIO,
            "%s: cannot write '%s': the file exists", fn, path);
  return TSR_OK;
}

/* A registered temporary file beside `path`, created empty (`fd` NULL) or
 * left open in *fd; *out in the context's memory. */
static tsr_status make_tmp(tsr_ctx *ctx, const char *path, char **out, int *fd) {
  char *tmp = NULL;
  int err = tsr__tmp_create(path, 0666, &tmp, fd);
  if (err != 0)
    return tsr_error_set(TSR_EIO, "tsr_store_hdf5: cannot write '%s': %s", path, strerror(err));
  tsr_status status = tsr__strdup(ctx, tmp, out);
  if (status != TSR_OK) {
    if (fd != NULL && *fd >= 0)
      close(*fd);
    if (fd != NULL)
      *fd = -1;
    tsr__tmp_remove(tmp);
  }
  free(tmp);
  return status;
}

tsr_status tsr__h5_tmp_create(tsr_ctx *ctx, const char *path, tsr_hdf5_mode mode, char **out) {
  *out = NULL;
  tsr__target t;
  TSR_TRY(check_target(path, mode, &t));
  /* Created by us with O_EXCL (so errno speaks for an unwritable
   * directory), then truncated and written by HDF5. */
  char *dest = NULL;
  TSR_TRY(resolve_dest(ctx, path, &dest));
  tsr_status status = make_tmp(ctx, dest, out, NULL);
  tsr_free(ctx, dest);
  return status;
}

/* Puts the finished temporary file in place (see tsr_hdf5_mode); it is
 * gone afterwards either way. */
static tsr_status publish(tsr__h5_file *f) {
  static const char fn[] = "tsr_store_hdf5";
  tsr__publish_policy policy = f->mode == TSR_HDF5_REPLACE ? TSR__PUBLISH_REPLACE
                               : f->base.exists            ? TSR__PUBLISH_UNCHANGED
                                                           : TSR__PUBLISH_NEW;
  int err = tsr__publish(f->tmp_path, f->dest, policy, &f->base);
  tsr_free(f->ctx, f->tmp_path);
  f->tmp_path = NULL;
  if (err == 0)
    return TSR_OK;
  if (err == EEXIST && f->mode == TSR_HDF5_EXCLUSIVE)
    return tsr_error_set(TSR_EIO, "%s: cannot write '%s': the file exists", fn, f->path);
  if (err == EEXIST)
    return tsr_error_set(TSR_EIO,
                         "%s: cannot write '%s': it was created by another process while this "
                         "one wrote it; nothing was written (run again to add to it)",
                         fn, f->path);
  if (err == ESTALE)
    return tsr_error_set(TSR_EIO,
                         "%s: cannot write '%s': it was changed by another process while this "
                         "one wrote to it; nothing was written (run again to add to it)",
                         fn, f->path);
  return tsr_error_set(TSR_EIO, "%s: cannot write '%s': %s", fn, f->path, strerror(err));
}

/* The parallel and staged opens: the temporary file tmp_path, created
 * (H5F_ACC_TRUNC) or opened read-write, with the MPI-IO driver over *comm
 * or, comm NULL, the default driver. */
static tsr_status open_shared(tsr_ctx *ctx, const char *path, const char *tmp_path,
                              tsr_hdf5_mode mode, const void *comm, bool renamer, bool create,
                              tsr__h5_file **out) {
  static const char fn[] = "tsr_store_hdf5";
  *out = NULL;
#ifdef H5_HAVE_PARALLEL
  tsr_status status = TSR_OK;
  tsr__h5_file *f = NULL;
  char why[WHY_BYTES] = "";
  TSR__TRY_GOTO(status, tsr_calloc(ctx, 1, sizeof *f, (void **)&f));
  f->ctx = ctx;
  f->mode = mode;
  f->file = -1;
  f->parallel = comm != NULL;
  f->shared = true;
  f->renamer = renamer;
  TSR__TRY_GOTO(status, tsr__strdup(ctx, path, &f->path));
  TSR__TRY_GOTO(status, resolve_dest(ctx, path, &f->dest));
  TSR__TRY_GOTO(status, tsr__strdup(ctx, tmp_path, &f->tmp_path));
  h5_lock();
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  bool ok = fapl >= 0;
  if (ok && comm != NULL)
    ok = H5Pset_fapl_mpio(fapl, *(const MPI_Comm *)comm, MPI_INFO_NULL) >= 0;
  else if (ok)
    ok = H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) >= 0;
  if (ok && create)
    f->file = H5Fcreate(tmp_path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  else if (ok)
    f->file = H5Fopen(tmp_path, H5F_ACC_RDWR, fapl);
  if (f->file < 0)
    h5_explain(why, sizeof why);
  if (fapl >= 0)
    H5Pclose(fapl);
  h5_unlock();
  TSR__CHECK_GOTO(status, f->file >= 0, TSR_EIO, "%s: cannot write '%s'%s: %s", fn, path,
                  comm != NULL ? " (MPI-IO)" : "", why);
  *out = f;
  return TSR_OK;
fail:
  if (f != NULL) {
    f->renamer = false; /* the caller removes the temporary file */
    tsr__h5_file_abort(&f);
  }
  return status;
#else
  (void)ctx, (void)path, (void)tmp_path, (void)mode, (void)comm, (void)renamer, (void)create;
  return tsr_error_set(TSR_ENOTSUP, "%s: this HDF5 has no MPI-IO (not a parallel build)", fn);
#endif
}

tsr_status tsr__h5_file_create_parallel(tsr_ctx *ctx, const char *path, const char *tmp_path,
                                        tsr_hdf5_mode mode, const void *comm, bool renamer,
                                        tsr__h5_file **out) {
  return open_shared(ctx, path, tmp_path, mode, comm, renamer, true, out);
}

tsr_status tsr__h5_file_create_staged(tsr_ctx *ctx, const char *path, const char *tmp_path,
                                      tsr_hdf5_mode mode, tsr__h5_file **out) {
  TSR_TRY(open_shared(ctx, path, tmp_path, mode, NULL, false, true, out));
  (*out)->reproducible = true;
  return TSR_OK;
}

tsr_status tsr__h5_file_reopen_parallel(tsr_ctx *ctx, const char *path, const char *tmp_path,
                                        tsr_hdf5_mode mode, const void *comm, bool renamer,
                                        tsr__h5_file **out) {
  return open_shared(ctx, path, tmp_path, mode, comm, renamer, false, out);
}

void tsr__h5_file_set_reproducible(tsr__h5_file *f) { f->reproducible = true; }

bool tsr__h5_have_parallel(void) {
#ifdef H5_HAVE_PARALLEL
  return true;
#else
  return false;
#endif
}

tsr_status tsr__h5_file_create(tsr_ctx *ctx, const char *path, tsr_hdf5_mode mode,
                               tsr__h5_file **out) {
  static const char fn[] = "tsr_store_hdf5";
  tsr_status status = TSR_OK;
  tsr__h5_file *f = NULL;
  hid_t fapl = -1;
  int in = -1, fd = -1;
  char why[WHY_BYTES];
  *out = NULL;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, 1, sizeof *f, (void **)&f));
  f->ctx = ctx;
  f->mode = mode;
  f->file = -1;
  TSR__TRY_GOTO(status, tsr__strdup(ctx, path, &f->path));
  TSR__TRY_GOTO(status, resolve_dest(ctx, path, &f->dest));
  TSR__TRY_GOTO(status, check_target(f->dest, mode, &f->base));
  f->copy = f->base.exists && (mode == TSR_HDF5_APPEND || mode == TSR_HDF5_OVERWRITE);
  if (f->copy) { /* added to a copy, which replaces the file if it did not change meanwhile */
    in = open(f->dest, O_RDONLY | O_CLOEXEC);
    TSR__CHECK_GOTO(status, in >= 0, TSR_EIO, "%s: cannot open '%s' to add datasets: %s", fn, path,
                    strerror(errno));
    struct stat st;
    TSR__CHECK_GOTO(status, fstat(in, &st) == 0 && st.st_ino == f->base.ino, TSR_EIO,
                    "%s: cannot write '%s': it was replaced by another process meanwhile", fn,
                    path);
    TSR__TRY_GOTO(status, make_tmp(ctx, f->dest, &f->tmp_path, &fd));
    int err = tsr__copy_file(in, fd); /* flushed to disk once, when published */
    struct stat after;
    if (err == 0 && (fstat(in, &after) != 0 || after.st_size != f->base.size ||
                     after.st_mtim.tv_sec != f->base.mtime.tv_sec ||
                     after.st_mtim.tv_nsec != f->base.mtime.tv_nsec))
      err = ESTALE;
    if (close(fd) != 0 && err == 0)
      err = errno;
    fd = -1;
    TSR__CHECK_GOTO(status, err != ESTALE, TSR_EIO,
                    "%s: cannot write '%s': it was changed by another process while this one "
                    "copied it; nothing was written (run again to add to it)",
                    fn, path);
    TSR__CHECK_GOTO(status, err == 0, TSR_EIO,
                    "%s: cannot write '%s' (copying it to add to it): %s", fn, path, strerror(err));
  } else {
    TSR__TRY_GOTO(status, make_tmp(ctx, f->dest, &f->tmp_path, NULL));
  }
  h5_lock();
  fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl >= 0)
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
  if (f->copy)
    f->file = H5Fopen(f->tmp_path, H5F_ACC_RDWR, fapl);
  else
    f->file = H5Fcreate(f->tmp_path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  if (f->file < 0)
    h5_explain(why, sizeof why);
  if (fapl >= 0)
    H5Pclose(fapl);
  h5_unlock();
  TSR__CHECK_GOTO(status, f->file >= 0, TSR_EIO, "%s: cannot %s '%s': %s", fn,
                  f->copy ? "add datasets to" : "write", path, why);
  if (in >= 0)
    close(in);
  *out = f;
  return TSR_OK;
fail:
  if (in >= 0)
    close(in);
  if (fd >= 0)
    close(fd);
  if (f != NULL)
    tsr__h5_file_abort(&f);
  return status;
}

/* Whether link `name` (a path of '/'-separated names) exists (under the
 * lock): every prefix must exist for H5Lexists to answer. */
static bool link_exists(hid_t file, const char *name, char *scratch, size_t size) {
  snprintf(scratch, size, "%s", name);
  for (char *p = scratch + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char c = *p;
      *p = '\0';
      if (p > scratch && !(p == scratch + 1 && scratch[0] == '/') &&
          H5Lexists(file, scratch, H5P_DEFAULT) <= 0)
        return false;
      if (c == '\0')
        return true;
      *p = c;
    }
  }
}

/* A new dataset record of the file being written (the file owns it), its
 * info set from the arguments as tsr__h5_file_add describes. */
static tsr_status file_dataset(tsr__h5_file *f, const char *name, tsr_dtype dtype, int ndim,
                               const int64_t *shape, const int64_t *chunk, int deflate_level,
                               bool shuffle_on, tsr__h5_dataset **out) {
  static const char fn[] = "tsr_store_hdf5";
  tsr_ctx *ctx = f->ctx;
  tsr__h5_dataset *d = NULL;
  *out = NULL;
  if (f->n == f->cap) {
    size_t cap = f->cap ? 2 * f->cap : 8;
    TSR_TRY(tsr__grow_array(ctx, (void **)&f->sets, f->n, cap, sizeof *f->sets, "datasets"));
    f->cap = cap;
  }
  TSR_TRY(dataset_new(ctx, f->path, name, &d));
  f->sets[f->n++] = d; /* the file owns it from now on */
  d->file = f->file;
  d->info.dtype = dtype;
  d->info.ndim = ndim;
  d->itemsize = tsr_dtype_size(dtype);
  int64_t size = 1;
  for (int a = 0; a < ndim; a++) {
    d->info.shape[a] = shape[a];
    size *= shape[a];
  }
  d->info.chunked = ndim > 0 && size > 0;
  uint64_t chunk_bytes = d->itemsize;
  for (int a = 0; d->info.chunked && a < ndim; a++) {
    int64_t c = chunk[a] < 1 ? 1 : chunk[a] > shape[a] ? shape[a] : chunk[a];
    d->info.chunk[a] = c;
    chunk_bytes *= (uint64_t)c;
    TSR_CHECK(chunk_bytes < (1ull << 32), TSR_EINVAL,
              "%s: chunks of dataset '%s' in '%s' would hold more than 4 GiB, HDF5's limit", fn,
              name, f->path);
  }
  d->raw_direct = d->info.chunked && deflate_level <= 0 && !f->parallel;
  if (d->info.chunked && deflate_level > 0) {
    d->level = deflate_level;
    d->info.deflate_level = deflate_level;
    d->info.shuffle = shuffle_on;
    d->info.direct = true;
    d->shuffle_idx = shuffle_on ? 0 : -1;
    d->deflate_idx = shuffle_on ? 1 : 0;
  }
  *out = d;
  return TSR_OK;
}

tsr_status tsr__h5_file_reopen_dataset(tsr__h5_file *f, const char *name, tsr_dtype dtype,
                                       int ndim, const int64_t *shape, const int64_t *chunk,
                                       tsr__h5_dataset **out) {
  static const char fn[] = "tsr_store_hdf5";
  tsr__h5_dataset *d = NULL;
  char why[WHY_BYTES] = "";
  *out = NULL;
  TSR_TRY(file_dataset(f, name, dtype, ndim, shape, chunk, 0, false, &d));
  h5_lock();
  hid_t dapl = d->info.chunked ? no_cache_dapl() : H5P_DEFAULT;
  if (dtype == TSR_BOOL)
    d->memtype = bool_enum(H5T_NATIVE_INT8);
  else
    d->memtype = H5Tcopy(native_type(dtype));
  if (d->memtype >= 0 && dapl >= 0)
    d->dset = H5Dopen2(f->file, name, dapl);
  hid_t space = d->dset >= 0 ? H5Dget_space(d->dset) : -1;
  hsize_t dims[H5S_MAX_RANK];
  bool same = space >= 0 && H5Sget_simple_extent_ndims(space) == ndim &&
              H5Sget_simple_extent_dims(space, dims, NULL) == ndim;
  for (int a = 0; same && a < ndim; a++)
    same = dims[a] == (hsize_t)shape[a];
  if (d->dset < 0 || d->memtype < 0)
    h5_explain(why, sizeof why);
  if (space >= 0)
    H5Sclose(space);
  if (dapl > 0 && dapl != H5P_DEFAULT)
    H5Pclose(dapl);
  h5_unlock();
  TSR_CHECK(d->dset >= 0 && d->memtype >= 0, TSR_EIO, "%s: cannot open dataset '%s' in '%s': %s",
            fn, name, f->path, why);
  TSR_CHECK(same, TSR_EINTERNAL, "%s: dataset '%s' in '%s' does not have the shape it was made with",
            fn, name, f->path);
  *out = d;
  return TSR_OK;
}

tsr_status tsr__h5_file_add(tsr__h5_file *f, const char *name, tsr_dtype dtype, int ndim,
                            const int64_t *shape, const int64_t *chunk, int deflate_level,
                            bool shuffle_on, tsr__h5_dataset **out) {
  static const char fn[] = "tsr_store_hdf5";
  tsr_status status = TSR_OK;
  tsr_ctx *ctx = f->ctx;
  tsr__h5_dataset *d = NULL;
  char why[WHY_BYTES] = "";
  hid_t ftype = -1, space = -1, dcpl = -1, lcpl = -1;
  *out = NULL;
  TSR_TRY(file_dataset(f, name, dtype, ndim, shape, chunk, deflate_level, shuffle_on, &d));
  size_t scratch_len = strlen(name) + 2;
  char *scratch = NULL;
  TSR_TRY(tsr_alloc(ctx, scratch_len, (void **)&scratch));
  h5_lock();
  bool exists = f->copy && link_exists(f->file, name, scratch, scratch_len);
  bool not_dataset = false, deleted = true;
  if (exists && f->mode == TSR_HDF5_OVERWRITE) { /* this dataset only, in the copy */
    H5O_info_t oi;
    not_dataset = H5Oget_info_by_name2(f->file, name, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0 ||
                  oi.type != H5O_TYPE_DATASET;
    deleted = !not_dataset && H5Ldelete(f->file, name, H5P_DEFAULT) >= 0;
    if (!not_dataset && !deleted)
      h5_explain(why, sizeof why);
    exists = !deleted;
  }
  H5Eclear2(H5E_DEFAULT);
  if (!exists) {
    hsize_t dims[H5S_MAX_RANK], cdims[H5S_MAX_RANK];
    for (int a = 0; a < ndim; a++) {
      dims[a] = (hsize_t)shape[a];
      cdims[a] = (hsize_t)d->info.chunk[a];
    }
    if (dtype == TSR_BOOL) {
      ftype = bool_enum(H5T_STD_I8LE);
      d->memtype = bool_enum(H5T_NATIVE_INT8);
    } else {
      ftype = H5Tcopy(file_type_le(dtype));
      d->memtype = H5Tcopy(native_type(dtype));
    }
    space = ndim == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(ndim, dims, NULL);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    lcpl = H5Pcreate(H5P_LINK_CREATE);
    bool ok = ftype >= 0 && d->memtype >= 0 && space >= 0 && dcpl >= 0 && lcpl >= 0 &&
              H5Pset_create_intermediate_group(lcpl, 1) >= 0;
    /* Every chunk allocated now: writes touch no metadata (under MPI-IO),
     * and the chunks' places do not depend on the order of the writes. */
    if (ok && (f->parallel || (f->reproducible && d->level == 0)))
      ok = H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) >= 0 &&
           H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) >= 0;
    if (ok && f->reproducible) /* no modification time in the object header */
      ok = H5Pset_obj_track_times(dcpl, 0) >= 0;
    if (ok && d->info.chunked) {
      ok = H5Pset_chunk(dcpl, ndim, cdims) >= 0;
      if (ok && d->level > 0 && shuffle_on)
        ok = H5Pset_shuffle(dcpl) >= 0;
      if (ok && d->level > 0)
        ok = H5Pset_deflate(dcpl, (unsigned)d->level) >= 0;
    }
    /* unfiltered chunks: no chunk cache, so boxes go straight to the file */
    hid_t dapl = ok && d->info.chunked && d->level == 0 ? no_cache_dapl() : H5P_DEFAULT;
    if (ok)
      d->dset = H5Dcreate2(f->file, name, ftype, space, lcpl, dcpl, dapl >= 0 ? dapl : H5P_DEFAULT);
    if (dapl > 0 && dapl != H5P_DEFAULT)
      H5Pclose(dapl);
    if (d->dset < 0)
      h5_explain(why, sizeof why);
  }
  if (ftype >= 0)
    H5Tclose(ftype);
  if (space >= 0)
    H5Sclose(space);
  if (dcpl >= 0)
    H5Pclose(dcpl);
  if (lcpl >= 0)
    H5Pclose(lcpl);
  h5_unlock();
  tsr_free(ctx, scratch);
  TSR_CHECK(!not_dataset, TSR_EINVAL,
            "%s: '%s' in '%s' is a group or another object, not a dataset: it is not replaced", fn,
            name, f->path);
  TSR_CHECK(deleted, TSR_EIO, "%s: cannot replace dataset '%s' in '%s': %s", fn, name, f->path,
            why);
  TSR_CHECK(!exists, TSR_EINVAL,
            "%s: dataset '%s' already exists in '%s' (the overwrite mode replaces it: "
            "--overwrite)",
            fn, name, f->path);
  TSR_CHECK(d->dset >= 0, TSR_EIO, "%s: cannot create dataset '%s' in '%s': %s", fn, name, f->path,
            why);
  *out = d;
  return status;
}

static tsr_status write_hyperslab(tsr__h5_dataset *d, const int64_t *offset, const int64_t *shape,
                                  const void *data) {
  int nd = d->info.ndim;
  hsize_t fo[H5S_MAX_RANK], fc[H5S_MAX_RANK];
  for (int a = 0; a < nd; a++) {
    fo[a] = (hsize_t)offset[a];
    fc[a] = (hsize_t)shape[a];
  }
  char why[WHY_BYTES];
  herr_t rc = -1;
  hid_t fspace = -1, mspace = -1;
  h5_lock();
  if (nd == 0) {
    rc = H5Dwrite(d->dset, d->memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  } else {
    fspace = H5Dget_space(d->dset);
    mspace = H5Screate_simple(nd, fc, NULL);
    if (fspace >= 0 && mspace >= 0 &&
        H5Sselect_hyperslab(fspace, H5S_SELECT_SET, fo, NULL, fc, NULL) >= 0)
      rc = H5Dwrite(d->dset, d->memtype, mspace, fspace, H5P_DEFAULT, data);
  }
  if (rc < 0)
    h5_explain(why, sizeof why);
  else
    atomic_fetch_add(&io_written_bytes, box_bytes(nd, fc, d->itemsize));
  if (fspace >= 0)
    H5Sclose(fspace);
  if (mspace >= 0)
    H5Sclose(mspace);
  h5_unlock();
  if (rc < 0) {
    char c1[COORDS_BYTES];
    return tsr_error_set(TSR_EIO, "cannot write the box at %s of dataset '%s' in '%s': %s",
                         fmt_coords(c1, sizeof c1, nd, offset), d->name, d->path, why);
  }
  return TSR_OK;
}

/* Stores `bytes` bytes as the chunk at `offset`, as they are (filter mask
 * 0): already deflated by write_direct, or an unfiltered whole chunk. */
static tsr_status put_chunk(tsr__h5_dataset *d, const int64_t *offset, size_t bytes,
                            const void *data) {
  int nd = d->info.ndim;
  hsize_t ho[H5S_MAX_RANK];
  for (int a = 0; a < nd; a++)
    ho[a] = (hsize_t)offset[a];
  char why[WHY_BYTES];
  h5_lock();
  herr_t rc = H5Dwrite_chunk(d->dset, H5P_DEFAULT, 0, ho, bytes, data);
  if (rc < 0)
    h5_explain(why, sizeof why);
  else
    atomic_fetch_add(&io_written_bytes, (uint64_t)bytes);
  h5_unlock();
  if (rc < 0) {
    char c1[COORDS_BYTES];
    return tsr_error_set(TSR_EIO, "cannot write the chunk at %s of dataset '%s' in '%s': %s",
                         fmt_coords(c1, sizeof c1, nd, offset), d->name, d->path, why);
  }
  return TSR_OK;
}

/* Shuffles and deflates the box (one file chunk at offset, clipped at the
 * edge) into *comp (tsr_kernel_alloc'ed, *csize bytes): the stored chunk. */
static tsr_status compress_chunk(tsr__h5_dataset *d, const int64_t *shape,
                                 const unsigned char *data, void **out, size_t *csize) {
  tsr_status status = TSR_OK;
  tsr_ctx *ctx = d->ctx;
  int nd = d->info.ndim;
  size_t isz = d->itemsize, chunk_elems = 1;
  bool whole = true;
  int64_t zero[TSR_MAX_NDIM] = {0};
  for (int a = 0; a < nd; a++) {
    chunk_elems *= (size_t)d->info.chunk[a];
    whole &= shape[a] == d->info.chunk[a];
  }
  size_t chunk_bytes = chunk_elems * isz;
  unsigned char *pad = NULL, *shuf = NULL, *comp = NULL;
  struct libdeflate_compressor *c = libdeflate_alloc_compressor(d->level);
  TSR__CHECK_GOTO(status, c != NULL, TSR_ENOMEM, "cannot allocate a deflate compressor");
  const unsigned char *src = data;
  if (!whole) { /* HDF5 stores whole chunks: pad the edge with zeros */
    TSR__TRY_GOTO(status, tsr_kernel_alloc(ctx, chunk_bytes, (void **)&pad));
    memset(pad, 0, chunk_bytes);
    copy_box(nd, isz, shape, pad, d->info.chunk, zero, data, shape, zero);
    src = pad;
  }
  if (d->info.shuffle && isz > 1) {
    TSR__TRY_GOTO(status, tsr_kernel_alloc(ctx, chunk_bytes, (void **)&shuf));
    shuffle(isz, chunk_elems, src, shuf, false);
    src = shuf;
  }
  size_t bound = libdeflate_zlib_compress_bound(c, chunk_bytes);
  TSR__TRY_GOTO(status, tsr_kernel_alloc(ctx, bound, (void **)&comp));
  *csize = libdeflate_zlib_compress(c, src, chunk_bytes, comp, bound);
  TSR__CHECK_GOTO(status, *csize > 0, TSR_EINTERNAL, "deflate of %zu bytes did not fit %zu",
                  chunk_bytes, bound);
  *out = comp;
  comp = NULL;
fail:
  if (c != NULL)
    libdeflate_free_compressor(c);
  tsr_free(ctx, pad);
  tsr_free(ctx, shuf);
  tsr_free(ctx, comp);
  return status;
}

tsr_status tsr__h5_write_prepare(tsr__h5_dataset *d, const int64_t *offset, const int64_t *shape,
                                 const void *data, tsr__h5_pending *p) {
  int nd = d->info.ndim;
  memset(p, 0, sizeof *p);
  p->d = d;
  p->data = data;
  for (int a = 0; a < nd; a++) {
    p->offset[a] = offset[a];
    p->shape[a] = shape[a];
    if (shape[a] == 0)
      p->empty = true;
  }
  if (p->empty)
    return TSR_OK;
  /* The box is one file chunk (an edge chunk clipped by the shape), and
   * whole when not clipped. */
  bool one_chunk = d->info.direct || (d->raw_direct && !d->swap), whole = true;
  size_t bytes = d->itemsize;
  for (int a = 0; one_chunk && a < nd; a++) {
    int64_t c = d->info.chunk[a];
    int64_t e = c < d->info.shape[a] - offset[a] ? c : d->info.shape[a] - offset[a];
    one_chunk = offset[a] % c == 0 && shape[a] == e;
    whole &= shape[a] == c;
    bytes *= (size_t)shape[a];
  }
  if (one_chunk && d->info.direct)
    return compress_chunk(d, shape, data, &p->comp, &p->comp_bytes);
  /* An unfiltered whole chunk in the file's byte order is the stored chunk:
   * written as it is, with no copy through HDF5's type conversion and
   * chunk machinery. */
  if (one_chunk && whole) {
    p->raw_chunk = true;
    p->comp_bytes = bytes;
  }
  return TSR_OK;
}

tsr_status tsr__h5_write_finish(tsr__h5_pending *p) {
  tsr_status status = TSR_OK;
  if (p->empty)
    status = TSR_OK;
  else if (p->comp != NULL)
    status = put_chunk(p->d, p->offset, p->comp_bytes, p->comp);
  else if (p->raw_chunk)
    status = put_chunk(p->d, p->offset, p->comp_bytes, p->data);
  else
    status = write_hyperslab(p->d, p->offset, p->shape, p->data);
  tsr__h5_write_drop(p);
  return status;
}

void tsr__h5_write_drop(tsr__h5_pending *p) {
  if (p->comp != NULL)
    tsr_free(p->d->ctx, p->comp);
  p->comp = NULL;
}

tsr_status tsr__h5_write_block(tsr__h5_dataset *d, const int64_t *offset, const int64_t *shape,
                               const void *data) {
  tsr__h5_pending p;
  TSR_TRY(tsr__h5_write_prepare(d, offset, shape, data, &p));
  return tsr__h5_write_finish(&p);
}

/* Closes the datasets (under the lock). */
static void close_sets(tsr__h5_file *f) {
  for (size_t i = 0; i < f->n; i++) {
    tsr__h5_dataset *d = f->sets[i];
    if (d->memtype >= 0)
      H5Tclose(d->memtype);
    if (d->dset >= 0)
      H5Dclose(d->dset);
    d->memtype = d->dset = -1;
  }
  H5Eclear2(H5E_DEFAULT);
}

tsr_status tsr__h5_file_publish(tsr__h5_file **fp, bool ok) {
  tsr__h5_file *f = *fp;
  tsr_status status = TSR_OK;
  if (f->renamer && f->tmp_path != NULL) {
    if (ok)
      status = publish(f);
    else
      tsr__tmp_remove(f->tmp_path);
  }
  file_free(f);
  *fp = NULL;
  return status;
}

void tsr__h5_file_abort(tsr__h5_file **fp) {
  if (fp == NULL || *fp == NULL)
    return;
  tsr__h5_file *f = *fp;
  h5_lock();
  close_sets(f);
  if (f->file >= 0)
    H5Fclose(f->file);
  f->file = -1;
  h5_unlock();
  if (f->tmp_path != NULL && (!f->shared || f->renamer))
    tsr__tmp_remove(f->tmp_path);
  file_free(f);
  *fp = NULL;
}

tsr_status tsr__h5_file_commit(tsr__h5_file **fp) {
  static const char fn[] = "tsr_store_hdf5";
  tsr__h5_file *f = *fp;
  tsr_status status = TSR_OK;
  char why[WHY_BYTES] = "";
  const char *failed = NULL; /* the dataset a failure concerns, if one */
  h5_lock();
  for (size_t i = 0; i < f->n && status == TSR_OK; i++) {
    tsr__h5_dataset *d = f->sets[i];
    herr_t rc = H5Dclose(d->dset);
    d->dset = -1;
    if (rc < 0) { /* explained before any other call clears HDF5's error stack */
      h5_explain(why, sizeof why);
      failed = d->name;
      status = TSR_EIO;
    }
    H5Tclose(d->memtype);
    d->memtype = -1;
  }
  if (status != TSR_OK)
    close_sets(f);
  herr_t rc = H5Fclose(f->file); /* flushes: a full disk fails here at the latest */
  f->file = -1;
  if (rc < 0 && status == TSR_OK) {
    h5_explain(why, sizeof why);
    status = TSR_EIO;
  }
  h5_unlock();
  if (status != TSR_OK) {
    if (failed != NULL)
      tsr_error_set(status, "%s: cannot write dataset '%s' in '%s': %s", fn, failed, f->path, why);
    else
      tsr_error_set(status, "%s: cannot write '%s': %s", fn, f->path, why);
  }
  if (f->shared) /* the caller agrees, then tsr__h5_file_publish */
    return status;
  if (status == TSR_OK)
    status = publish(f);
  else
    tsr__tmp_remove(f->tmp_path);
  file_free(f);
  *fp = NULL;
  return status;
}

/* fuzz_hdf5.c — fuzz target for reading HDF5 files (io.h): the input is a
 * file's bytes.  They are written to a private temporary file, which is
 * listed as `tessera info` lists it (tsr_hdf5_list, every entry formatted),
 * and every readable dataset found (at most 16) is read with
 * tsr_array_from_hdf5 and computed: a small one whole (with the file's
 * chunks, then with 2-element chunks, which read hyperslabs), a larger one
 * as a slice of its first 2 elements per axis.  Any status is fine; a
 * crash, a sanitizer report, a leak of accounted memory or of an HDF5
 * object, or a hang is a finding. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_DATASETS 16
#define WHOLE_MAX_ELEMENTS 4096

typedef struct listing {
  int n;
  char *paths[MAX_DATASETS];
} listing;

static int visit(const tsr_hdf5_entry *e, void *user) {
  listing *l = user;
  /* What `tessera info` prints of the entry. */
  FILE *out = fuzz_devnull();
  fprintf(out, "%s %s", e->path, e->is_dataset ? "dataset" : "group");
  if (!e->is_dataset)
    return 0;
  fprintf(out, " %s%s (", e->type, e->supported ? "" : " [unsupported]");
  for (int d = 0; d < e->ndim; d++)
    fprintf(out, "%lld,", (long long)e->shape[d]);
  if (e->chunked)
    for (int d = 0; d < e->ndim; d++)
      fprintf(out, "%lld,", (long long)e->chunks[d]);
  fprintf(out, ") %d %d %d %llu %llu\n", e->deflate_level, e->shuffle, e->other_filters,
          (unsigned long long)e->logical_bytes, (unsigned long long)e->stored_bytes);
  if (e->supported && l->n < MAX_DATASETS && (l->paths[l->n] = strdup(e->path)) != NULL)
    l->n++;
  return 0;
}

/* Computes `a` into a buffer and formats it as eval would. */
static void compute(tsr_array *a) {
  tsr_compute_options co = fuzz_compute_options();
  uint64_t bytes = tsr_array_nbytes(a);
  void *buf = malloc(bytes ? bytes : 1);
  if (buf == NULL)
    return;
  void *const bufs[1] = {buf};
  size_t sizes[1] = {bytes};
  if (tsr_array_to_buffers_ex(1, &a, bufs, sizes, &co) == TSR_OK)
    FUZZ_IGNORE(tsr_program_format_buffer(tsr_array_dtype(a), tsr_array_ndim(a), tsr_array_shape(a),
                                          buf, fuzz_devnull()));
  free(buf);
}

static void read_dataset(tsr_ctx *ctx, const char *file, const char *dataset) {
  tsr_array *a = NULL;
  if (tsr_array_from_hdf5(ctx, file, dataset, NULL, &a) != TSR_OK)
    return;
  int nd = tsr_array_ndim(a);
  if (tsr_array_size(a) <= WHOLE_MAX_ELEMENTS) {
    compute(a);
    tsr_array_destroy(&a);
    int64_t chunks[TSR_MAX_NDIM];
    for (int d = 0; d < nd; d++)
      chunks[d] = 2;
    if (tsr_array_from_hdf5(ctx, file, dataset, chunks, &a) == TSR_OK)
      compute(a);
  } else {
    tsr_index index[TSR_MAX_NDIM];
    for (int d = 0; d < nd; d++)
      index[d] = TSR_SLICE(0, 2, 1);
    tsr_array *part = NULL;
    if (tsr_slice(a, nd, index, &part) == TSR_OK)
      compute(part);
    tsr_array_destroy(&part);
  }
  tsr_array_destroy(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char path[64];
  if (path[0] == '\0') {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* HDF5's error stacks are not findings */
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/tessera-fuzz-%ld.h5", tmp && strlen(tmp) < 32 ? tmp : "/tmp",
             (long)getpid());
  }
  FILE *f = fopen(path, "wb");
  if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
    perror(path);
    abort();
  }

  tsr_ctx *ctx = fuzz_ctx();
  listing l = {0};
  if (tsr_hdf5_list(path, NULL, visit, &l) == TSR_OK)
    for (int k = 0; k < l.n; k++)
      read_dataset(ctx, path, l.paths[k]);
  for (int k = 0; k < l.n; k++)
    free(l.paths[k]);
  fuzz_ctx_done(&ctx);

  /* Every file, dataset and type tessera opened is closed again. */
  ssize_t open_objects = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
  if (open_objects != 0) {
    fprintf(stderr, "fuzz: %zd HDF5 objects still open after the input was done\n", open_objects);
    abort();
  }
  unlink(path);
  return 0;
}

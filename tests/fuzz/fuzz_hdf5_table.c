/* fuzz_hdf5_table.c — fuzz target for opening HDF5 tables and compound
 * datasets as frames (tsr_frame_read_hdf5): the input is a file's bytes,
 * written to a private temporary file and listed (tsr_hdf5_list); every
 * group and compound dataset found (at most 16) is read as a frame, all
 * columns and then its last column alone, computed and printed.  Any
 * status is fine; a crash, a sanitizer report, a leak of accounted memory
 * or of an HDF5 object, or a hang is a finding. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OBJECTS 16

typedef struct listing {
  int n;
  char *paths[MAX_OBJECTS];
} listing;

static int visit(const tsr_hdf5_entry *e, void *user) {
  listing *l = user;
  bool frame = e->link == NULL &&
               (!e->is_dataset || (e->type != NULL && strcmp(e->type, "compound") == 0));
  if (frame && l->n < MAX_OBJECTS && (l->paths[l->n] = strdup(e->path)) != NULL)
    l->n++;
  return 0;
}

static void read_frame(tsr_ctx *ctx, const char *file, const char *object) {
  tsr_frame *f = NULL;
  if (tsr_frame_read_hdf5(ctx, file, object, NULL, &f) != TSR_OK)
    return;
  FUZZ_IGNORE(tsr_frame_print(f, 6, fuzz_devnull()));
  int n = tsr_frame_ncols(f);
  if (n > 0) {
    char name[256];
    snprintf(name, sizeof name, "%s", tsr_frame_col_name(f, n - 1));
    tsr_frame *g = NULL;
    if (strchr(name, ',') == NULL && tsr_frame_read_hdf5(ctx, file, object, name, &g) == TSR_OK)
      FUZZ_IGNORE(tsr_frame_print(g, 6, fuzz_devnull()));
    tsr_frame_destroy(&g);
  }
  tsr_frame_destroy(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char path[64];
  if (path[0] == '\0') {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* HDF5's error stacks are not findings */
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/tessera-fuzz-t%ld.h5", tmp && strlen(tmp) < 32 ? tmp : "/tmp",
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
      read_frame(ctx, path, l.paths[k]);
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

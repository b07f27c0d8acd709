/* atomic_file.h — write a file completely or not at all: data goes to a
 * temporary file beside the target (same directory, so rename(2) is atomic
 * on POSIX file systems) which is renamed over the target only on success. */
#ifndef TSR_ATOMIC_FILE_H
#define TSR_ATOMIC_FILE_H

#include <limits.h>
#include <stdio.h>

#include <tessera/core.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

typedef struct tsr__atomic_file {
  FILE *fp; /* write here */
  char path[PATH_MAX];
  char tmp_path[PATH_MAX + 32];
} tsr__atomic_file;

/* Opens a new temporary file for `path`.  TSR_EIO names the path. */
tsr_status tsr__atomic_file_open(tsr__atomic_file *af, const char *path);
/* Flushes, closes and renames into place; on any error removes the temporary
 * file and returns TSR_EIO naming the path. */
tsr_status tsr__atomic_file_commit(tsr__atomic_file *af);
/* Closes and removes the temporary file; safe after a failed open. */
void tsr__atomic_file_abort(tsr__atomic_file *af);

#endif /* TSR_ATOMIC_FILE_H */

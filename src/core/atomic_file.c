/* atomic_file.c — see atomic_file.h.  The temporary name carries the pid and
 * a process-wide counter, and is created with O_EXCL, so concurrent writers
 * (threads or MPI ranks on a shared file system) never share one. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "atomic_file.h"

static _Atomic unsigned tmp_counter;

tsr_status tsr__atomic_file_open(tsr__atomic_file *af, const char *path) {
  memset(af, 0, sizeof *af);
  TSR_CHECK(path != NULL && path[0] != '\0', TSR_EINVAL, "output path is empty");
  TSR_CHECK(strlen(path) < sizeof af->path, TSR_EINVAL, "output path '%.64s...' is too long", path);
  strcpy(af->path, path);
  snprintf(af->tmp_path, sizeof af->tmp_path, "%s.tmp.%ld.%u", path, (long)getpid(),
           atomic_fetch_add(&tmp_counter, 1));
  int fd = open(af->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    int err = errno;
    af->tmp_path[0] = '\0';
    return tsr_error_set(TSR_EIO, "cannot write '%s': %s", path, strerror(err));
  }
  af->fp = fdopen(fd, "w");
  if (af->fp == NULL) {
    int err = errno;
    close(fd);
    unlink(af->tmp_path);
    af->tmp_path[0] = '\0';
    return tsr_error_set(TSR_EIO, "cannot write '%s': %s", path, strerror(err));
  }
  return TSR_OK;
}

tsr_status tsr__atomic_file_commit(tsr__atomic_file *af) {
  int err = 0;
  if (af->fp == NULL)
    return tsr_error_set(TSR_EIO, "cannot write '%s': file is not open", af->path);
  if (fflush(af->fp) != 0 || ferror(af->fp))
    err = errno ? errno : EIO;
  if (fclose(af->fp) != 0 && err == 0)
    err = errno;
  af->fp = NULL;
  if (err == 0 && rename(af->tmp_path, af->path) != 0)
    err = errno;
  if (err != 0) {
    unlink(af->tmp_path);
    af->tmp_path[0] = '\0';
    return tsr_error_set(TSR_EIO, "cannot write '%s': %s", af->path, strerror(err));
  }
  af->tmp_path[0] = '\0';
  return TSR_OK;
}

void tsr__atomic_file_abort(tsr__atomic_file *af) {
  if (af->fp != NULL)
    fclose(af->fp);
  af->fp = NULL;
  if (af->tmp_path[0] != '\0')
    unlink(af->tmp_path);
  af->tmp_path[0] = '\0';
}

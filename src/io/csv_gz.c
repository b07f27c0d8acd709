/* csv_gz.c — a .csv.gz is decompressed (streaming, every gzip member) into
 * a temporary file of the process's registry (core/atomic_file.h: removed
 * by signal handlers too), which is then read as a CSV. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/atomic_file.h"
#include "csv.h"

tsr_status tsr__csv_gunzip(tsr_ctx *ctx, const char *path, char **tmp_out, int *fd_out) {
  *tmp_out = NULL;
  *fd_out = -1;
  const char *dir = getenv("TMPDIR");
  if (dir == NULL || dir[0] == '\0')
    dir = "/tmp";
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  char target[4096];
  snprintf(target, sizeof target, "%s/tessera-%.200s", dir, base);
  gzFile gz = gzopen(path, "rb");
  TSR_CHECK(gz != NULL, TSR_EIO, "%s: cannot open: %s", path,
            errno ? strerror(errno) : "out of memory");
  gzbuffer(gz, 1 << 20);
  char *tmp = NULL;
  int fd = -1;
  int e = tsr__tmp_create(target, 0600, &tmp, &fd);
  if (e != 0) {
    gzclose(gz);
    return tsr_error_set(TSR_EIO, "%s: cannot create a temporary file in %s to decompress into: %s",
                         path, dir, strerror(e));
  }
  tsr_status status = TSR_OK;
  char *buf = NULL;
  status = tsr_alloc(ctx, 1 << 20, (void **)&buf);
  while (status == TSR_OK) {
    int n = gzread(gz, buf, 1 << 20);
    if (n < 0) {
      int code;
      const char *msg = gzerror(gz, &code);
      status = tsr_error_set(TSR_EIO, "%s: not a valid gzip file: %s", path, msg);
      break;
    }
    if (n == 0) {
      if (!gzeof(gz))
        status = tsr_error_set(TSR_EIO, "%s: read failed", path);
      break;
    }
    for (int done = 0; done < n && status == TSR_OK;) {
      ssize_t k = write(fd, buf + done, (size_t)(n - done));
      if (k < 0 && errno == EINTR)
        continue;
      if (k <= 0)
        status = tsr_error_set(TSR_EIO, "%s: cannot write the decompressed data to %s: %s", path,
                               tmp, k < 0 ? strerror(errno) : "no space");
      else
        done += (int)k;
    }
  }
  tsr_free(ctx, buf);
  gzclose(gz);
  if (status != TSR_OK) {
    close(fd);
    tsr__tmp_remove(tmp);
    free(tmp);
    return status;
  }
  close(fd);
  fd = open(tmp, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e2 = errno;
    tsr__tmp_remove(tmp);
    free(tmp);
    return tsr_error_set(TSR_EIO, "%s: cannot reopen the decompressed file: %s", path,
                         strerror(e2));
  }
  *tmp_out = tmp;
  *fd_out = fd;
  return TSR_OK;
}

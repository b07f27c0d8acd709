/* fileio.c — positioned reads and writes that finish: pread/pwrite in
 * pieces of at most 1 GiB, retried on EINTR and on short counts, so the
 * spill files, the CSV reader and the CSV writer need no loops of their
 * own.  They return 0, an errno value, or -1 when the file ends before the
 * bytes were read (or the device takes no byte); callers word the message,
 * naming their file. */
#include <errno.h>
#include <unistd.h>

#include "core_impl.h"

#define PIECE ((uint64_t)1 << 30)

int tsr__pread_full(int fd, void *buf, uint64_t bytes, uint64_t off) {
  char *p = buf;
  while (bytes > 0) {
    ssize_t n = pread(fd, p, (size_t)(bytes < PIECE ? bytes : PIECE), (off_t)off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return n < 0 ? errno : -1;
    p += n;
    bytes -= (uint64_t)n;
    off += (uint64_t)n;
  }
  return 0;
}

int tsr__pwrite_full(int fd, const void *buf, uint64_t bytes, uint64_t off) {
  const char *p = buf;
  while (bytes > 0) {
    ssize_t n = pwrite(fd, p, (size_t)(bytes < PIECE ? bytes : PIECE), (off_t)off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return n < 0 ? errno : -1;
    p += n;
    bytes -= (uint64_t)n;
    off += (uint64_t)n;
  }
  return 0;
}

/* atomic_file.h — how tessera publishes an output file: data goes to a
 * temporary file beside the target (same directory, so rename(2) and
 * link(2) are atomic on POSIX file systems), which is put in place only on
 * success, by one of the policies below.
 *
 * Temporary files are named "<dir>/.<name>.tmp.<pid>.<n>" (a hidden file
 * beside the output <dir>/<name>; <pid> the writing process, <n> a
 * per-process counter) and are kept in a process-wide registry from before
 * they exist until they are published or removed, so that
 * tsr__tmp_remove_all() (tsr_temp_files_remove, io.h), called from a signal handler, can remove
 * them.  The registry is lock-free and async-signal-safe to read: its nodes
 * are never freed, a node's path is written only while the node is marked
 * busy, and the remover marks a node before unlinking its path. */
#ifndef TSR_ATOMIC_FILE_H
#define TSR_ATOMIC_FILE_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include <tessera/core.h>

/* ---- the registry of temporary files ------------------------------------ */

/* A new temporary file for `path`: builds its name (malloc'd into *tmp,
 * which the caller frees), registers it, then creates it with O_EXCL and
 * `perm` (before the umask).  Returns the open descriptor in *fd (or closes
 * it when fd is NULL).  Returns 0 or an errno value (nothing is left then). */
int tsr__tmp_create(const char *path, int perm, char **tmp, int *fd);
/* Copies all of file `in` into file `out` (a reflink where the file system
 * can, else copy_file_range, else read/write).  0 or an errno value. */
int tsr__copy_file(int in, int out);
/* Forgets the temporary file `tmp` (after it was renamed away). */
void tsr__tmp_forget(const char *tmp);
/* Unlinks `tmp` and forgets it. */
void tsr__tmp_remove(const char *tmp);
/* Unlinks every registered file (tsr_temp_files_remove); async-signal-safe. */
void tsr__tmp_remove_all(void);

/* ---- publishing ----------------------------------------------------------- */

/* What a target was when the writer looked at it (to detect that another
 * process changed it before the writer publishes). */
typedef struct tsr__target {
  bool exists;
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
  mode_t mode;
  uid_t uid;
  gid_t gid;
} tsr__target;

typedef enum tsr__publish_policy {
  /* Put tmp at path only if nothing is there (renameat2 RENAME_NOREPLACE,
   * else link + unlink): a concurrent creator makes this fail with EEXIST. */
  TSR__PUBLISH_NEW,
  /* Replace path only if it is still the file `base` describes (same
   * device, inode, size and modification time), checked and renamed while
   * holding an flock on the directory that every tessera publisher takes;
   * keeps the file's mode and, where allowed, owner. */
  TSR__PUBLISH_UNCHANGED,
  /* Replace whatever is at path (keeping an existing file's mode and owner). */
  TSR__PUBLISH_REPLACE,
} tsr__publish_policy;

/* stat(2) of path into *t (t->exists false when there is nothing). */
void tsr__target_probe(const char *path, tsr__target *t);
/* Flushes tmp to disk (fsync), then puts it at path by `policy`; tmp is
 * gone afterwards either way.  Returns 0 or an errno value: EEXIST (NEW:
 * the file appeared), ESTALE (UNCHANGED: the file changed), or the failing
 * call's. */
int tsr__publish(const char *tmp, const char *path, tsr__publish_policy policy,
                 const tsr__target *base);
/* Whether a and b name the same file: the same device and inode when both
 * exist, else the same canonical path (realpath of the directory plus the
 * name). */
bool tsr__same_file(const char *a, const char *b);

/* ---- a text output (traces, graphs) --------------------------------------- */

typedef struct tsr__atomic_file {
  FILE *fp;   /* write here */
  char *path; /* malloc'd */
  char *tmp;  /* malloc'd; NULL when writing straight to a device or FIFO */
} tsr__atomic_file;

/* Opens a new temporary file for `path` (a regular file, replaced on
 * commit keeping its mode), or, when `path` is an existing character device
 * or FIFO (/dev/stdout, /dev/full, a pipe), opens it to write directly.
 * TSR_EIO names the path (a directory, unwritable, ...). */
tsr_status tsr__atomic_file_open(tsr__atomic_file *af, const char *path);
/* Flushes, closes and publishes (TSR__PUBLISH_REPLACE); checks every step,
 * so a full disk is TSR_EIO naming the path.  On any error removes the
 * temporary file. */
tsr_status tsr__atomic_file_commit(tsr__atomic_file *af);
/* Closes and removes the temporary file; safe after a failed open. */
void tsr__atomic_file_abort(tsr__atomic_file *af);

#endif /* TSR_ATOMIC_FILE_H */

/* atomic_file.c — see atomic_file.h: the registry of temporary files, the
 * publishing policies, and the text outputs (traces, DOT graphs) written
 * through them.  The temporary name carries the pid and a process-wide
 * counter and is created with O_EXCL, so concurrent writers (threads, or
 * processes and MPI ranks on a shared file system) never share one. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* renameat2, copy_file_range */
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"

/* ---- the registry ---------------------------------------------------------- */

enum { NODE_FREE, NODE_BUSY, NODE_LIVE, NODE_GONE };

typedef struct tmp_node {
  _Atomic int state;
  size_t cap; /* bytes of path; fixed at creation */
  char *path;
  struct tmp_node *next; /* fixed before the node is pushed */
} tmp_node;

static _Atomic(tmp_node *) tmp_head;
static _Atomic unsigned tmp_counter;

static bool tmp_register(const char *path) {
  size_t len = strlen(path) + 1;
  for (tmp_node *n = atomic_load(&tmp_head); n != NULL; n = n->next) {
    int expect = NODE_FREE;
    if (n->cap >= len && atomic_compare_exchange_strong(&n->state, &expect, NODE_BUSY)) {
      memcpy(n->path, path, len);
      atomic_store(&n->state, NODE_LIVE);
      return true;
    }
  }
  /* Nodes live as long as the process (reachable from tmp_head), so the
   * signal-time walk never meets freed memory. */
  tmp_node *n = malloc(sizeof *n);
  size_t cap = len < 256 ? 256 : len;
  char *p = n != NULL ? malloc(cap) : NULL;
  if (p == NULL) {
    free(n);
    return false;
  }
  memcpy(p, path, len);
  n->path = p;
  n->cap = cap;
  atomic_init(&n->state, NODE_LIVE);
  n->next = atomic_load(&tmp_head);
  while (!atomic_compare_exchange_weak(&tmp_head, &n->next, n))
    ;
  return true;
}

void tsr__tmp_forget(const char *tmp) {
  for (tmp_node *n = atomic_load(&tmp_head); n != NULL; n = n->next) {
    if (atomic_load(&n->state) != NODE_LIVE || strcmp(n->path, tmp) != 0)
      continue;
    int expect = NODE_LIVE;
    if (atomic_compare_exchange_strong(&n->state, &expect, NODE_FREE))
      return;
  }
}

void tsr__tmp_remove(const char *tmp) {
  unlink(tmp);
  tsr__tmp_forget(tmp);
}

/* Async-signal-safe: lock-free atomics, and unlink(2). */
void tsr__tmp_remove_all(void) {
  for (tmp_node *n = atomic_load(&tmp_head); n != NULL; n = n->next) {
    int expect = NODE_LIVE;
    if (atomic_compare_exchange_strong(&n->state, &expect, NODE_GONE))
      unlink(n->path);
  }
}

int tsr__tmp_create(const char *path, int perm, char **tmp, int *fd) {
  *tmp = NULL;
  if (fd != NULL)
    *fd = -1;
  const char *slash = strrchr(path, '/');
  size_t dir_len = slash != NULL ? (size_t)(slash - path) + 1 : 0;
  size_t len = strlen(path) + 48;
  char *t = malloc(len);
  if (t == NULL)
    return ENOMEM;
  snprintf(t, len, "%.*s.%s.tmp.%ld.%u", (int)dir_len, path, path + dir_len, (long)getpid(),
           atomic_fetch_add(&tmp_counter, 1));
  if (!tmp_register(t)) { /* registered before it exists: a signal finds it */
    free(t);
    return ENOMEM;
  }
  int d = open(t, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, perm);
  if (d < 0) {
    int err = errno;
    tsr__tmp_forget(t);
    free(t);
    return err;
  }
  if (fd != NULL)
    *fd = d;
  else
    close(d);
  *tmp = t;
  return 0;
}

int tsr__copy_file(int in, int out) {
  if (ioctl(out, FICLONE, in) == 0)
    return 0;
  struct stat st;
  if (fstat(in, &st) != 0)
    return errno;
  off_t left = st.st_size;
  bool range = true;
  char chunk[1 << 14];
  while (left > 0) {
    ssize_t got = -1;
    if (range) {
      got = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
      if (got < 0 &&
          (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) {
        range = false;
        continue;
      }
      if (got == 0) /* the file shrank under us */
        return ESTALE;
    } else {
      ssize_t r = read(in, chunk, sizeof chunk);
      if (r == 0)
        return ESTALE;
      if (r < 0) {
        if (errno == EINTR)
          continue;
        return errno;
      }
      for (ssize_t done = 0; done < r;) {
        ssize_t w = write(out, chunk + done, (size_t)(r - done));
        if (w < 0 && errno == EINTR)
          continue;
        if (w < 0)
          return errno;
        done += w;
      }
      got = r;
    }
    if (got < 0) {
      if (errno == EINTR)
        continue;
      return errno;
    }
    left -= got;
  }
  return 0;
}

/* ---- publishing ------------------------------------------------------------ */

void tsr__target_probe(const char *path, tsr__target *t) {
  struct stat st;
  memset(t, 0, sizeof *t);
  if (stat(path, &st) != 0)
    return;
  t->exists = true;
  t->dev = st.st_dev;
  t->ino = st.st_ino;
  t->size = st.st_size;
  t->mtime = st.st_mtim;
  t->mode = st.st_mode;
  t->uid = st.st_uid;
  t->gid = st.st_gid;
}

static bool same_state(const tsr__target *a, const tsr__target *b) {
  return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
         a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* The new file takes the replaced one's permission bits and (where this
 * process may give it away: root, or a group it belongs to) its owner. */
static void keep_mode(const char *tmp, const tsr__target *old) {
  if (!old->exists || !S_ISREG(old->mode))
    return;
  if (chown(tmp, old->uid, old->gid) != 0 && chown(tmp, (uid_t)-1, old->gid) != 0)
    errno = 0; /* best effort: only the owner can keep or root give away */
  chmod(tmp, old->mode & 07777);
}

/* An flock on the directory of path, taken by every tessera publisher for
 * its check-and-rename; -1 when it cannot be had (then unlocked). */
static int lock_dir(const char *path) {
  const char *slash = strrchr(path, '/');
  char *dir = NULL;
  if (slash == NULL)
    dir = strdup(".");
  else if (slash == path)
    dir = strdup("/");
  else
    dir = strndup(path, (size_t)(slash - path));
  if (dir == NULL)
    return -1;
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  free(dir);
  if (fd >= 0) {
    while (flock(fd, LOCK_EX) != 0) {
      if (errno != EINTR) {
        close(fd);
        return -1;
      }
    }
  }
  return fd;
}

int tsr__publish(const char *tmp, const char *path, tsr__publish_policy policy,
                 const tsr__target *base) {
  int err = 0;
  int fd = open(tmp, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    err = errno;
  } else {
    if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS)
      err = errno;
    close(fd);
  }
  int dfd = err == 0 ? lock_dir(path) : -1;
  tsr__target now;
  if (err == 0) {
    switch (policy) {
    case TSR__PUBLISH_NEW:
      if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) != 0) {
        err = errno;
        if (err == EINVAL || err == ENOSYS || err == EOPNOTSUPP) /* no RENAME_NOREPLACE here */
          err = link(tmp, path) == 0 ? 0 : errno;
      }
      break;
    case TSR__PUBLISH_UNCHANGED:
      tsr__target_probe(path, &now);
      if (!same_state(&now, base)) {
        err = ESTALE;
        break;
      }
      keep_mode(tmp, base);
      err = rename(tmp, path) == 0 ? 0 : errno;
      break;
    case TSR__PUBLISH_REPLACE:
      tsr__target_probe(path, &now);
      keep_mode(tmp, &now);
      err = rename(tmp, path) == 0 ? 0 : errno;
      break;
    }
  }
  if (dfd >= 0)
    close(dfd); /* releases the lock */
  unlink(tmp);  /* after a rename: nothing there; after link: the second name */
  tsr__tmp_forget(tmp);
  return err;
}

bool tsr__same_file(const char *a, const char *b) {
  struct stat sa, sb;
  bool ea = stat(a, &sa) == 0, eb = stat(b, &sb) == 0;
  if (ea && eb)
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  if (ea != eb)
    return false;
  /* Neither exists: compare the canonical directory and the name. */
  char *ca[2] = {NULL, NULL};
  const char *names[2] = {a, b}, *base[2];
  for (int i = 0; i < 2; i++) {
    const char *slash = strrchr(names[i], '/');
    char *dir = slash == NULL       ? strdup(".")
                : slash == names[i] ? strdup("/")
                                    : strndup(names[i], (size_t)(slash - names[i]));
    base[i] = slash == NULL ? names[i] : slash + 1;
    ca[i] = dir != NULL ? realpath(dir, NULL) : NULL;
    free(dir);
  }
  bool same =
      ca[0] != NULL && ca[1] != NULL && strcmp(ca[0], ca[1]) == 0 && strcmp(base[0], base[1]) == 0;
  free(ca[0]);
  free(ca[1]);
  return same;
}

/* ---- text outputs -------------------------------------------------------- */

static tsr_status open_fail(tsr__atomic_file *af, const char *path, int err) {
  free(af->path);
  free(af->tmp);
  memset(af, 0, sizeof *af);
  return tsr_error_set(TSR_EIO, "cannot write '%s': %s", path, strerror(err));
}

tsr_status tsr__atomic_file_open(tsr__atomic_file *af, const char *path) {
  memset(af, 0, sizeof *af);
  TSR_CHECK(path != NULL && path[0] != '\0', TSR_EINVAL, "output path is empty");
  if ((af->path = strdup(path)) == NULL)
    return open_fail(af, path, ENOMEM);
  struct stat st;
  int fd = -1, err = 0;
  if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
    if (S_ISDIR(st.st_mode))
      return open_fail(af, path, EISDIR);
    if (!S_ISCHR(st.st_mode) && !S_ISFIFO(st.st_mode)) {
      free(af->path);
      af->path = NULL;
      return tsr_error_set(TSR_EIO, "cannot write '%s': not a regular file, device or pipe", path);
    }
    fd = open(path, O_WRONLY | O_CLOEXEC); /* a device or pipe: written as it is */
    if (fd < 0)
      return open_fail(af, path, errno);
  } else if ((err = tsr__tmp_create(path, 0666, &af->tmp, &fd)) != 0) {
    return open_fail(af, path, err);
  }
  af->fp = fdopen(fd, "w");
  if (af->fp == NULL) {
    err = errno;
    close(fd);
    if (af->tmp != NULL)
      tsr__tmp_remove(af->tmp);
    return open_fail(af, path, err);
  }
  return TSR_OK;
}

tsr_status tsr__atomic_file_commit(tsr__atomic_file *af) {
  int err = 0;
  if (af->fp == NULL)
    return tsr_error_set(TSR_EIO, "cannot write '%s': file is not open",
                         af->path ? af->path : "(null)");
  errno = 0;
  if (fflush(af->fp) != 0 || ferror(af->fp))
    err = errno ? errno : EIO;
  if (fclose(af->fp) != 0 && err == 0)
    err = errno;
  af->fp = NULL;
  if (af->tmp != NULL) {
    if (err == 0)
      err = tsr__publish(af->tmp, af->path, TSR__PUBLISH_REPLACE, NULL);
    else
      tsr__tmp_remove(af->tmp);
  }
  tsr_status status = TSR_OK;
  if (err != 0)
    status = tsr_error_set(TSR_EIO, "cannot write '%s': %s", af->path, strerror(err));
  free(af->path);
  free(af->tmp);
  memset(af, 0, sizeof *af);
  return status;
}

void tsr__atomic_file_abort(tsr__atomic_file *af) {
  if (af->fp != NULL)
    fclose(af->fp);
  if (af->tmp != NULL)
    tsr__tmp_remove(af->tmp);
  free(af->path);
  free(af->tmp);
  memset(af, 0, sizeof *af);
}

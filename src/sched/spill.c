/* spill.c — the memory budget of a run (docs/architecture.md, "Runtime"): with a
 * memory limit set, chunks waiting for consumers are written to a spill
 * file when room is needed, and read back when a consumer runs.
 *
 * Only runs on a context with a memory limit pay for this; without one the
 * hooks return at once.  State per task: the chunk's offset in the spill
 * file once written (chunks are immutable, so a chunk spilled twice is
 * written once), and how many running tasks read it ("pins": a pinned chunk
 * is never spilled).  One mutex guards the state, the buffers it touches
 * and the file; spilling is rare and moves whole chunks, so the lock is
 * cheap next to the I/O.
 *
 * Victims: unpinned chunks held for later consumers, the one whose last
 * consumer comes latest in the priority order first (needed furthest in
 * the future), until the allocation that asked fits under the limit.
 *
 * The spill file lives under TESSERA_SPILL_DIR (else TMPDIR, else /tmp) and
 * is unlinked as soon as it is created: it disappears when the run ends,
 * however it ends. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "run_impl.h"

#define NOT_SPILLED UINT64_MAX

struct tsr__spill {
  pthread_mutex_t lock;
  int fd; /* -1 until the first spill */
  uint64_t file_end;
  uint64_t *offset; /* per task: where its chunk is in the file, or NOT_SPILLED */
  uint32_t *pins;   /* per task: running tasks reading its chunk */
  uint8_t *held;    /* per task: its chunk waits for consumers */
  uint64_t spilled_bytes, read_bytes;
  _Atomic uint32_t waiting; /* tasks waiting for others to free memory */
  uint64_t reserved;        /* set aside for running tasks (see tsr__spill_before) */
  uint64_t *reservation;    /* per task: its part of `reserved` */
};

tsr_status tsr__spill_init(tsr__run *run) {
  run->spill = NULL;
  if (tsr_ctx_memory_limit(run->ctx) == 0)
    return TSR_OK;
  tsr_ctx *ctx = run->ctx;
  uint32_t n = run->g->n_tasks;
  tsr__spill *s;
  TSR_TRY(tsr_calloc(ctx, 1, sizeof *s, (void **)&s));
  s->fd = -1;
  pthread_mutex_init(&s->lock, NULL);
  run->spill = s;
  TSR_TRY(tsr__alloc_array(ctx, n, sizeof *s->offset, "spill state", (void **)&s->offset));
  TSR_TRY(tsr_calloc(ctx, n, sizeof *s->pins, (void **)&s->pins));
  TSR_TRY(tsr_calloc(ctx, n, sizeof *s->held, (void **)&s->held));
  TSR_TRY(tsr_calloc(ctx, n, sizeof *s->reservation, (void **)&s->reservation));
  for (uint32_t t = 0; t < n; t++)
    s->offset[t] = NOT_SPILLED;
  return TSR_OK;
}

void tsr__spill_free(tsr__run *run) {
  tsr__spill *s = run->spill;
  if (s == NULL)
    return;
  if (s->fd >= 0)
    close(s->fd);
  pthread_mutex_destroy(&s->lock);
  tsr_free(run->ctx, s->offset);
  tsr_free(run->ctx, s->pins);
  tsr_free(run->ctx, s->held);
  tsr_free(run->ctx, s->reservation);
  tsr_free(run->ctx, s);
  run->spill = NULL;
}

void tsr__spill_totals(const tsr__run *run, uint64_t *spilled, uint64_t *read) {
  *spilled = run->spill ? run->spill->spilled_bytes : 0;
  *read = run->spill ? run->spill->read_bytes : 0;
}

static tsr_status open_file(tsr__spill *s) {
  const char *dir = getenv("TESSERA_SPILL_DIR");
  if (dir == NULL || dir[0] == '\0')
    dir = getenv("TMPDIR");
  if (dir == NULL || dir[0] == '\0')
    dir = "/tmp";
  char path[4096];
  int n = snprintf(path, sizeof path, "%s/tessera-spill-XXXXXX", dir);
  TSR_CHECK(n > 0 && (size_t)n < sizeof path, TSR_EIO, "spill directory path too long: %s", dir);
  s->fd = mkstemp(path);
  TSR_CHECK(s->fd >= 0, TSR_EIO, "cannot create a spill file in %s (TESSERA_SPILL_DIR): %s", dir,
            strerror(errno));
  unlink(path); /* gone when closed, whatever happens */
  return TSR_OK;
}

static tsr_status write_all(int fd, const void *buf, size_t bytes, uint64_t off) {
  int e = tsr__pwrite_full(fd, buf, bytes, off);
  TSR_CHECK(e == 0, TSR_EIO, "writing %zu bytes to the spill file: %s", bytes,
            e > 0 ? strerror(e) : "no space");
  return TSR_OK;
}

static tsr_status read_all(int fd, void *buf, size_t bytes, uint64_t off) {
  int e = tsr__pread_full(fd, buf, bytes, off);
  TSR_CHECK(e == 0, TSR_EIO, "reading %zu bytes back from the spill file: %s", bytes,
            e > 0 ? strerror(e) : "file too short");
  return TSR_OK;
}

/* The chunk to spill next, or UINT32_MAX: held, in memory, unpinned, not
 * kept; the one whose last consumer runs latest. */
static bool is_input_of(const tsr_taskgraph *g, uint32_t u, uint32_t t) {
  if (t == UINT32_MAX)
    return false;
  for (uint32_t e = g->in_off[t]; e < g->in_off[t + 1]; e++)
    if (g->inputs[e] == u)
      return true;
  return false;
}

static uint32_t pick_victim(const tsr__run *run, uint32_t spare) {
  const tsr_taskgraph *g = run->g;
  const tsr__spill *s = run->spill;
  uint32_t best = UINT32_MAX, best_when = 0;
  for (uint32_t t = 0; t < g->n_tasks; t++) {
    if (!s->held[t] || s->pins[t] != 0 || run->bufs[t] == NULL || g->tasks[t].out_bytes == 0 ||
        (g->tasks[t].flags & (TSR__TASK_KEPT | TSR__TASK_EXTERNAL)) ||
        g->succ_off[t] == g->succ_off[t + 1] ||
        is_input_of(g, t, spare))
      continue;
    uint32_t when = g->priority[g->succ[g->succ_off[t]]]; /* successors: latest first */
    if (best == UINT32_MAX || when > best_when) {
      best = t;
      best_when = when;
    }
  }
  return best;
}

static bool fits(const tsr__run *run, uint64_t bytes) {
  tsr_memory_stats m;
  if (tsr_ctx_memory_stats(run->ctx, &m) != TSR_OK)
    return true;
  return m.limit_bytes == 0 || m.current_bytes + bytes <= m.limit_bytes;
}

/* Spills chunks until `bytes` more fit under the limit, or nothing is left
 * to spill (then the allocation reports the limit).  Lock held. */
static tsr_status make_room(tsr__run *run, uint64_t bytes, uint32_t spare) {
  tsr__spill *s = run->spill;
  while (!fits(run, bytes)) {
    uint32_t v = pick_victim(run, spare);
    if (v == UINT32_MAX)
      return TSR_OK;
    uint64_t size = run->g->tasks[v].out_bytes;
    if (s->offset[v] == NOT_SPILLED) {
      if (s->fd < 0)
        TSR_TRY(open_file(s));
      TSR_TRY(write_all(s->fd, run->bufs[v], (size_t)size, s->file_end));
      s->offset[v] = s->file_end;
      s->file_end += size;
      s->spilled_bytes += size;
    }
    tsr_free(run->ctx, run->bufs[v]);
    run->bufs[v] = NULL;
  }
  return TSR_OK;
}

/* Naps while another running task, not itself waiting, can free memory;
 * false (at once) when there is none, or the run is stopping. */
static bool wait_for_others(tsr__run *run) {
  tsr__spill *s = run->spill;
  uint32_t waiting = atomic_fetch_add(&s->waiting, 1) + 1;
  bool others = atomic_load_explicit(&run->running, memory_order_relaxed) > waiting &&
                !atomic_load_explicit(&run->stop, memory_order_relaxed);
  if (others) {
    struct timespec nap = {0, 200000};
    nanosleep(&nap, NULL);
  }
  atomic_fetch_sub(&s->waiting, 1);
  return others;
}

/* tsr_kernel_alloc (core) while one of this run's kernels runs. */
static tsr_status kernel_alloc(void *run_ptr, tsr_ctx *ctx, size_t bytes, void **out) {
  tsr__run *run = run_ptr;
  if (run->ctx == ctx && run->spill != NULL)
    return tsr__spill_alloc(run, bytes, out);
  return tsr_alloc(ctx, bytes, out);
}

void tsr__spill_enter_kernel(tsr__run *run) { tsr__set_kernel_alloc(kernel_alloc, run); }
void tsr__spill_leave_kernel(void) { tsr__set_kernel_alloc(NULL, NULL); }

tsr_status tsr__spill_alloc(tsr__run *run, size_t bytes, void **out) {
  tsr__spill *s = run->spill;
  if (s == NULL)
    return tsr_alloc(run->ctx, bytes, out);
  for (;;) {
    pthread_mutex_lock(&s->lock);
    tsr_status status = make_room(run, bytes, UINT32_MAX);
    pthread_mutex_unlock(&s->lock);
    TSR_TRY(status);
    status = tsr_alloc(run->ctx, bytes, out);
    if (status != TSR_ENOMEM)
      return status;
    /* Over the limit with nothing left to spill: the memory is held by
     * running tasks.  Wait for them; when every running task waits, the
     * chunks are too large for the limit and the run fails. */
    if (!wait_for_others(run))
      return status;
  }
}

tsr_status tsr__spill_try_alloc(tsr__run *run, size_t bytes, void **out) {
  tsr__spill *s = run->spill;
  if (s == NULL)
    return tsr_alloc(run->ctx, bytes, out);
  pthread_mutex_lock(&s->lock);
  tsr_status status = make_room(run, bytes, UINT32_MAX);
  pthread_mutex_unlock(&s->lock);
  TSR_TRY(status);
  return tsr_alloc(run->ctx, bytes, out);
}

tsr_status tsr__spill_before(tsr__run *run, uint32_t t) {
  tsr__spill *s = run->spill;
  if (s == NULL)
    return TSR_OK;
  const tsr_taskgraph *g = run->g;
  /* Start only with room for the output, scratch of about its size (most
   * kernels' temporaries are at most one chunk) and the inputs to read
   * back, and set that room aside (other tasks count it as used) until
   * the task ends: waiting, while holding nothing, for running tasks to
   * finish.  Without this, tasks that each hold their inputs and output
   * could all wait for room for their scratch, and none would finish. */
  for (;;) {
    pthread_mutex_lock(&s->lock);
    /* The inputs to read back, the room and the pins are settled in one
     * hold of the lock: another task's make_room could otherwise spill an
     * input counted as in memory between the count and the pin, and its
     * read-back would then exceed what was set aside. */
    uint64_t need = 2 * g->tasks[t].out_bytes;
    for (uint32_t e = g->in_off[t]; e < g->in_off[t + 1]; e++)
      if (run->bufs[g->inputs[e]] == NULL)
        need += g->tasks[g->inputs[e]].out_bytes;
    /* Never spill t's own inputs here: they would need reading back,
     * beyond what is set aside. */
    tsr_status status = make_room(run, need + s->reserved, t);
    bool room = status == TSR_OK && fits(run, need + s->reserved);
    bool go = room;
    if (!room && status == TSR_OK) {
      pthread_mutex_unlock(&s->lock);
      go = !wait_for_others(run); /* nothing else can free memory: try anyway */
      pthread_mutex_lock(&s->lock);
    }
    if (go && status == TSR_OK) {
      if (room) {
        s->reserved += need;
        s->reservation[t] = need;
      }
      for (uint32_t e = g->in_off[t]; e < g->in_off[t + 1]; e++)
        s->pins[g->inputs[e]]++; /* pinned inputs stay in memory from here */
    }
    pthread_mutex_unlock(&s->lock);
    TSR_TRY(status);
    if (go)
      break;
  }
  for (uint32_t e = g->in_off[t]; e < g->in_off[t + 1]; e++) {
    uint32_t u = g->inputs[e];
    uint64_t size = g->tasks[u].out_bytes;
    pthread_mutex_lock(&s->lock);
    bool spilled = run->bufs[u] == NULL && size > 0;
    pthread_mutex_unlock(&s->lock);
    if (!spilled)
      continue;
    /* Read it back (another consumer may do so meanwhile: then use its). */
    void *buf = NULL;
    TSR_TRY(tsr__spill_alloc(run, (size_t)size, &buf));
    tsr_status status = TSR_OK;
    pthread_mutex_lock(&s->lock);
    if (run->bufs[u] == NULL) {
      status = read_all(s->fd, buf, (size_t)size, s->offset[u]);
      if (status == TSR_OK) {
        run->bufs[u] = buf;
        buf = NULL;
        s->read_bytes += size;
      }
    }
    pthread_mutex_unlock(&s->lock);
    tsr_free(run->ctx, buf);
    TSR_TRY(status);
  }
  return TSR_OK;
}

void tsr__spill_after(tsr__run *run, uint32_t t, bool ran) {
  tsr__spill *s = run->spill;
  if (s == NULL)
    return;
  const tsr_taskgraph *g = run->g;
  pthread_mutex_lock(&s->lock);
  s->reserved -= s->reservation[t];
  s->reservation[t] = 0;
  for (uint32_t e = g->in_off[t]; e < g->in_off[t + 1]; e++)
    s->pins[g->inputs[e]]--;
  if (ran) { /* its consumers have not run yet: they need t to have completed */
    for (uint32_t e = g->succ_off[t]; e < g->succ_off[t + 1] && !s->held[t]; e++)
      s->held[t] = run->role[g->succ[e]] == TSR__ROLE_RUN;
    uint32_t sends = tsr__xfer_n_dests(run, t);
    s->held[t] |= sends > 0;
    s->pins[t] += sends; /* MPI reads it until each send completes */
  }
  pthread_mutex_unlock(&s->lock);
}

void tsr__spill_hold(tsr__run *run, uint32_t t) {
  tsr__spill *s = run->spill;
  if (s == NULL)
    return;
  pthread_mutex_lock(&s->lock);
  s->held[t] = 1;
  pthread_mutex_unlock(&s->lock);
}

void tsr__spill_unpin(tsr__run *run, uint32_t t) {
  tsr__spill *s = run->spill;
  if (s == NULL)
    return;
  pthread_mutex_lock(&s->lock);
  s->pins[t]--;
  pthread_mutex_unlock(&s->lock);
}

void tsr__spill_release(tsr__run *run, uint32_t t) {
  tsr__spill *s = run->spill;
  if (s == NULL) {
    tsr__task_free_output(run->g, t, run->bufs[t]);
    run->bufs[t] = NULL;
    return;
  }
  pthread_mutex_lock(&s->lock);
  s->held[t] = 0;
  tsr__task_free_output(run->g, t, run->bufs[t]);
  run->bufs[t] = NULL;
  pthread_mutex_unlock(&s->lock);
}

/* transfer.c — a run across MPI ranks (docs/architecture.md, "Distribution"): owner
 * computes, chunks moved with non-blocking messages, failures agreed.
 *
 * Every rank holds the same task graph.  Each task has an owner rank (set
 * by lowering: each node's chunks in balanced contiguous runs over the
 * ranks, or block-cyclic with the context's owner block; a task without one
 * runs where its first input runs) or TSR_OWNER_ALL (every rank runs it, e.g.
 * the stores that fill every rank's result buffer), or is a source every
 * rank can make (a chunk of a user buffer every rank holds), made on each
 * rank that reads it and never sent.  On this rank a task is:
 *   RUN   it runs here;
 *   RECV  it runs elsewhere and a task here reads it: its chunk arrives as a
 *         message (tag = task id + 1) and then counts as completed;
 *   SKIP  culled, or of no concern here.
 * A RUN task whose chunk a task on another rank reads is sent there, once
 * per rank, as soon as it completes.  Receives are posted ahead, in the
 * graph's priority order (a topological order, so the posted ones never
 * wait for one not yet posted), up to a byte budget.
 *
 * Progress: whichever worker thread finds the progress lock free posts
 * queued sends, posts receives, tests requests and hands arrived chunks to
 * its scheduler loop — between tasks, and in a loop while it has nothing to
 * run — so messages move while the other threads compute.  MPI calls are
 * serialized by that lock (MPI_THREAD_SERIALIZED is enough).
 *
 * Failure: a rank whose run fails sends an abort notice (tag 0) to every
 * other rank, which stops its run; then all ranks agree on the first
 * failing rank's status and message (tsr__dist_agree), exchange which
 * chunks were really sent, wait for those and cancel the other receives,
 * so no request is left behind and nobody hangs. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "run_impl.h"

#define ABORT_TAG 0
#define DEFAULT_RECV_WINDOW (512ull << 20)
/* A busy worker polls MPI at most this often (seconds) when it has nothing
 * to send: fine-grained graphs then pay for MPI_Test once per many tasks. */
#define POLL_INTERVAL 20e-6

typedef struct active_req {
  tsr__dist_req req;
  uint32_t task;
  int peer;
} active_req;

struct tsr__xfer {
  tsr__dist *d;
  int me, P;
  int32_t *owner; /* per task, resolved */

  /* Sends: per RUN task, the ranks that read its chunk (CSR). */
  uint32_t *dest_off; /* n_tasks + 1 */
  int32_t *dests;

  pthread_mutex_t queue_lock; /* the send queue, filled by workers */
  uint32_t *queue;
  uint32_t queue_head, queue_tail;
  _Atomic uint32_t queued;  /* in the queue, not yet posted */
  _Atomic double next_poll; /* when a busy worker polls next (tsr__now) */

  pthread_mutex_t lock; /* progress: every MPI call during the run */
  active_req *sends;
  uint32_t n_sends;
  uint32_t **sent_to; /* per rank: ids sent (for the failure drain) */
  uint32_t *n_sent_to;

  uint32_t *recv_tasks; /* RECV tasks in priority order */
  uint32_t n_recv, next_recv;
  active_req *recvs;
  void **recv_bufs; /* per posted receive slot */
  uint32_t n_recvs;
  uint64_t recv_bytes_posted, recv_window;

  tsr__dist_req abort_req;
  int abort_payload;
  bool abort_posted, abort_sent, aborted_by_peer;
  active_req *abort_sends;

  uint64_t bytes_sent, bytes_received, messages_sent, messages_received;
};

/* Resolves unset owners (first input not owned by all, else 0) and checks
 * the set ones against the communicator. */
static tsr_status resolve_owners(tsr__run *run, int32_t *owner, int P) {
  const tsr_taskgraph *g = run->g;
  for (uint32_t t = 0; t < g->n_tasks; t++) {
    int32_t o = g->tasks[t].owner;
    if (o == TSR__OWNER_UNSET) {
      o = 0;
      bool all = tsr__task_n_inputs(g, t) > 0; /* every input owned by all */
      for (uint32_t e = g->in_off[t]; e < g->in_off[t + 1]; e++)
        all &= owner[g->inputs[e]] == TSR_OWNER_ALL;
      for (uint32_t e = g->in_off[t]; e < g->in_off[t + 1]; e++)
        if (owner[g->inputs[e]] != TSR_OWNER_ALL && owner[g->inputs[e]] != TSR__OWNER_READERS) {
          o = owner[g->inputs[e]];
          break;
        }
      if (all)
        o = TSR_OWNER_ALL;
    } else if (o == TSR__OWNER_READERS && tsr__task_n_inputs(g, t) > 0) {
      o = 0; /* only sources are made where read */
    } else if (o >= P) {
      return tsr_error_set(TSR_EINVAL,
                           "task %u (kernel '%s') is owned by rank %d, but the run has %d rank%s",
                           t, g->kernels[g->tasks[t].kernel].name, o, P, P == 1 ? "" : "s");
    }
    owner[t] = o;
  }
  return TSR_OK;
}

static bool runs_on(int32_t owner, int rank) { return owner == rank || owner == TSR_OWNER_ALL; }

tsr_status tsr__xfer_init(tsr__run *run) {
  tsr_ctx *ctx = run->ctx;
  const tsr_taskgraph *g = run->g;
  uint32_t n = g->n_tasks;
  TSR_TRY(tsr_calloc(ctx, n + 1, sizeof *run->role, (void **)&run->role));
  if (g->local) { /* every task here, nothing sent (tsr__taskgraph_set_local) */
    for (uint32_t t = 0; t < n; t++)
      run->role[t] = tsr__task_culled(g, t) ? TSR__ROLE_SKIP : TSR__ROLE_RUN;
    return TSR_OK;
  }
  tsr__dist *d = tsr__dist_get(ctx);
  if (d == NULL)
    return TSR_EMPI;
  int P = tsr__dist_size(d), me = tsr__dist_rank(d);
  if (P == 1) {
    int32_t *owner = NULL;
    tsr_status status = TSR_OK;
    /* Owners beyond rank 0 are an error here too: the same program must
     * run on one rank. */
    for (uint32_t t = 0; t < n; t++)
      if (g->tasks[t].owner != TSR__OWNER_UNSET && g->tasks[t].owner >= 1) {
        TSR_TRY(tsr__alloc_array(ctx, n + 1, sizeof *owner, "owners", (void **)&owner));
        status = resolve_owners(run, owner, 1);
        tsr_free(ctx, owner);
        TSR_TRY(status);
        break;
      }
    for (uint32_t t = 0; t < n; t++)
      run->role[t] = tsr__task_culled(g, t) ? TSR__ROLE_SKIP : TSR__ROLE_RUN;
    return TSR_OK;
  }
  TSR_CHECK(run->threads == 1 || tsr__dist_thread_serialized(d), TSR_EMPI,
            "MPI was initialised below MPI_THREAD_SERIALIZED, but a rank runs %d threads that "
            "drive its messages: initialise MPI with MPI_Init_thread(MPI_THREAD_MULTIPLE), or "
            "run one thread per rank",
            run->threads);
  tsr__xfer *x;
  TSR_TRY(tsr_calloc(ctx, 1, sizeof *x, (void **)&x));
  run->xfer = x;
  x->d = d;
  x->me = me;
  x->P = P;
  pthread_mutex_init(&x->queue_lock, NULL);
  pthread_mutex_init(&x->lock, NULL);
  TSR_TRY(tsr__alloc_array(ctx, n + 1, sizeof *x->owner, "owners", (void **)&x->owner));
  TSR_TRY(resolve_owners(run, x->owner, P));
  TSR_CHECK(n < (uint32_t)tsr__dist_tag_ub(d), TSR_ENOTSUP,
            "a graph of %u tasks needs message tags up to %u, but MPI allows %d", n, n,
            tsr__dist_tag_ub(d));
  const int32_t *owner = x->owner;

  /* Roles and the send lists; `mark` dedups destinations per task. */
  int32_t *mark;
  TSR_TRY(tsr__alloc_array(ctx, (size_t)P, sizeof *mark, "rank marks", (void **)&mark));
  for (int p = 0; p < P; p++)
    mark[p] = -1;
  tsr_status status = tsr_calloc(ctx, n + 1, sizeof *x->dest_off, (void **)&x->dest_off);
  uint64_t n_dests = 0;
  for (int pass = 0; pass < 2 && status == TSR_OK; pass++) {
    for (uint32_t t = 0; t < n; t++) {
      if (pass == 1)
        x->dest_off[t] = (uint32_t)n_dests;
      if (tsr__task_culled(g, t))
        continue;
      bool readers = owner[t] == TSR__OWNER_READERS;
      bool mine = runs_on(owner[t], me);
      if (pass == 0)
        run->role[t] = mine ? TSR__ROLE_RUN : TSR__ROLE_SKIP;
      if (readers) { /* runs here when read here (or read nowhere: rank 0); never sent */
        bool read_here = false, read = false;
        for (uint32_t e = g->succ_off[t]; pass == 0 && e < g->succ_off[t + 1]; e++)
          if (!tsr__task_culled(g, g->succ[e])) {
            read = true;
            read_here |= runs_on(owner[g->succ[e]], me);
          }
        if (pass == 0 && (read_here || (!read && me == 0)))
          run->role[t] = TSR__ROLE_RUN;
        continue;
      }
      for (uint32_t e = g->succ_off[t]; e < g->succ_off[t + 1]; e++) {
        uint32_t s = g->succ[e];
        if (tsr__task_culled(g, s))
          continue;
        if (!mine) {
          if (pass == 0 && runs_on(owner[s], me))
            run->role[t] = TSR__ROLE_RECV;
          continue;
        }
        if (owner[t] == TSR_OWNER_ALL || owner[s] == me)
          continue; /* every rank has it, or it is read here */
        for (int p = owner[s] == TSR_OWNER_ALL ? 0 : owner[s];
             p < (owner[s] == TSR_OWNER_ALL ? P : owner[s] + 1); p++) {
          if (p == me || mark[p] == (int32_t)t)
            continue;
          mark[p] = (int32_t)t;
          if (pass == 1)
            x->dests[n_dests] = p;
          n_dests++;
        }
      }
    }
    if (pass == 0) {
      x->dest_off[n] = (uint32_t)n_dests;
      TSR_CHECK(n_dests < UINT32_MAX, TSR_ENOTSUP, "a run with %llu chunk messages",
                (unsigned long long)n_dests);
      status =
          tsr__alloc_array(ctx, n_dests + 1, sizeof *x->dests, "send lists", (void **)&x->dests);
      n_dests = 0;
      for (int p = 0; p < P; p++)
        mark[p] = -1;
    }
  }
  if (status == TSR_OK) /* dest_off may have failed to allocate */
    x->dest_off[n] = (uint32_t)n_dests;
  tsr_free(ctx, mark);
  TSR_TRY(status);

  uint32_t n_senders = 0;
  for (uint32_t t = 0; t < n; t++)
    n_senders += x->dest_off[t + 1] > x->dest_off[t];
  TSR_TRY(tsr__alloc_array(ctx, n_senders + 1, sizeof *x->queue, "send queue", (void **)&x->queue));
  TSR_TRY(tsr__alloc_array(ctx, n_dests + 1, sizeof *x->sends, "sends", (void **)&x->sends));
  TSR_TRY(tsr_calloc(ctx, (size_t)P, sizeof *x->sent_to, (void **)&x->sent_to));
  TSR_TRY(tsr_calloc(ctx, (size_t)P, sizeof *x->n_sent_to, (void **)&x->n_sent_to));
  {
    uint32_t *per_rank;
    TSR_TRY(tsr_calloc(ctx, (size_t)P, sizeof *per_rank, (void **)&per_rank));
    for (uint64_t i = 0; i < n_dests; i++)
      per_rank[x->dests[i]]++;
    for (int p = 0; p < P && status == TSR_OK; p++)
      status = tsr__alloc_array(ctx, (size_t)per_rank[p] + 1, sizeof **x->sent_to, "sent ids",
                                (void **)&x->sent_to[p]);
    tsr_free(ctx, per_rank);
    TSR_TRY(status);
  }

  for (uint32_t t = 0; t < n; t++)
    x->n_recv += run->role[t] == TSR__ROLE_RECV;
  TSR_TRY(tsr__alloc_array(ctx, x->n_recv + 1, sizeof *x->recv_tasks, "receives",
                           (void **)&x->recv_tasks));
  uint32_t k = 0;
  for (uint32_t i = 0; i < n; i++)
    if (run->role[g->order[i]] == TSR__ROLE_RECV)
      x->recv_tasks[k++] = g->order[i];
  TSR_TRY(tsr__alloc_array(ctx, x->n_recv + 1, sizeof *x->recvs, "receives", (void **)&x->recvs));
  TSR_TRY(tsr_calloc(ctx, x->n_recv + 1, sizeof *x->recv_bufs, (void **)&x->recv_bufs));
  TSR_TRY(tsr__alloc_array(ctx, (size_t)P, sizeof *x->abort_sends, "abort notices",
                           (void **)&x->abort_sends));
  uint64_t limit = tsr_ctx_memory_limit(ctx);
  x->recv_window = limit > 0 ? limit / 4 : DEFAULT_RECV_WINDOW;
  return TSR_OK;
}

/* A hash of everything that decides what runs where: ranks that built
 * different graphs (a call made on one rank only) are caught before they
 * exchange a single chunk.  What the tasks compute is compared too, through
 * the graph's parameter hash: lowering mixes in every expression node's
 * op, dtype, shape, chunks and parameters (constants, fused programs, axes,
 * file and dataset names; graph/lower.c).  Not the contents of user
 * buffers or input files: SPMD requires them equal as it requires the
 * calls equal, and hashing them would cost a pass over the data. */
static uint64_t name_hash(const char *name) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const char *c = name; *c; c++)
    h = (h ^ (unsigned char)*c) * 0x100000001b3ull;
  return h;
}

/* Kernels are compared by name: ranks may register one kernel name more
 * than once (with other user pointers) and number them differently. */
static tsr_status graph_hash(const tsr__run *run, uint64_t *out) {
  const tsr_taskgraph *g = run->g;
  uint64_t *names;
  TSR_TRY(tsr__alloc_array(run->ctx, (size_t)g->n_kernels + 1, sizeof *names, "kernel hashes",
                           (void **)&names));
  for (uint32_t k = 0; k < g->n_kernels; k++)
    names[k] = name_hash(g->kernels[k].name);
  uint64_t h = 0xcbf29ce484222325ull ^ g->n_tasks;
#define MIX(v) (h = (h ^ (uint64_t)(v)) * 0x100000001b3ull)
  for (uint32_t t = 0; t < g->n_tasks; t++) {
    const tsr__task *task = &g->tasks[t];
    MIX(task->out_bytes);
    MIX(names[task->kernel]);
    MIX(((uint64_t)(uint32_t)run->xfer->owner[t] << 1) | ((task->flags & TSR__TASK_CULLED) != 0));
    for (uint32_t e = g->in_off[t]; e < g->in_off[t + 1]; e++)
      MIX(g->inputs[e]);
  }
#undef MIX
  tsr_free(run->ctx, names);
  *out = h;
  return TSR_OK;
}

/* The op of the first expression node whose description differs between
 * ranks (log2(nodes) collective steps, on the error path only), or NULL. */
static tsr_status first_difference(const tsr__run *run, tsr__dist *d, const char **op) {
  const tsr_taskgraph *g = run->g;
  uint64_t lo, hi;
  *op = NULL;
  TSR_TRY(tsr__dist_minmax_u64(d, g->n_nodes, &lo, &hi));
  /* The hash after node i differs from i on: find the first such i. */
  uint64_t a = 0, b = lo; /* the first difference is in [a, b], b = none */
  while (a < b) {
    uint64_t mid = a + (b - a) / 2, mlo, mhi;
    TSR_TRY(tsr__dist_minmax_u64(d, g->node_hash[mid], &mlo, &mhi));
    if (mlo != mhi)
      b = mid;
    else
      a = mid + 1;
  }
  if (a < lo)
    *op = g->node_op[a];
  return TSR_OK;
}

tsr_status tsr__xfer_start(tsr__run *run, tsr_ctx *ctx, tsr_status status) {
  tsr__dist *d = tsr__dist_get(ctx);
  if (d == NULL || tsr__dist_size(d) == 1)
    return status;
  uint64_t lo, hi, h = 0, both = 0;
  if (status == TSR_OK)
    status = graph_hash(run, &h);
  if (status == TSR_OK) /* (a failed set-up may have no graph) */
    both = (h ^ run->g->param_hash) * 0x100000001b3ull;
  /* One collective agrees on the status and compares the graphs; on a
   * mismatch, more say what differs: their shapes, or only their
   * parameters. */
  TSR_TRY(tsr__dist_agree_minmax(d, status, &both, 1, &lo, &hi));
  tsr__xfer *x = run->xfer;
  if (lo != hi) {
    TSR_TRY(tsr__dist_minmax_u64(d, h, &lo, &hi));
    TSR_CHECK(lo == hi, TSR_EINVAL,
              "the ranks built different task graphs (%u tasks on rank %d): every rank must make "
              "the same tessera calls in the same order",
              run->g->n_tasks, x->me);
    const char *op = NULL;
    TSR_TRY(first_difference(run, d, &op));
    return tsr_error_set(TSR_EINVAL,
                         "the ranks built different task graphs: the same operations with "
                         "different arguments (first in a '%s' operation: a constant, an axis, "
                         "a shape, a chunking, a dtype, a file or dataset name); every rank must "
                         "make the same tessera calls with the same arguments",
                         op != NULL ? op : "?");
  }
  TSR_TRY(tsr__dist_irecv(d, &x->abort_payload, sizeof x->abort_payload, TSR__DIST_ANY_SOURCE,
                          ABORT_TAG, &x->abort_req));
  x->abort_posted = true;
  return TSR_OK;
}

uint32_t tsr__xfer_n_dests(const tsr__run *run, uint32_t t) {
  const tsr__xfer *x = run->xfer;
  return x == NULL ? 0 : x->dest_off[t + 1] - x->dest_off[t];
}

void tsr__xfer_produced(tsr__run *run, uint32_t t) {
  tsr__xfer *x = run->xfer;
  pthread_mutex_lock(&x->queue_lock);
  x->queue[x->queue_tail++] = t;
  pthread_mutex_unlock(&x->queue_lock);
  atomic_fetch_add_explicit(&x->queued, 1, memory_order_relaxed);
}

/* ---- progress ---------------------------------------------------------------- */

static bool post_sends(tsr__run *run, tsr__xfer *x) {
  for (;;) {
    pthread_mutex_lock(&x->queue_lock);
    bool empty = x->queue_head == x->queue_tail;
    uint32_t t = empty ? 0 : x->queue[x->queue_head++];
    pthread_mutex_unlock(&x->queue_lock);
    if (empty)
      return true;
    atomic_fetch_sub_explicit(&x->queued, 1, memory_order_relaxed);
    size_t bytes = run->g->tasks[t].out_bytes;
    for (uint32_t i = x->dest_off[t]; i < x->dest_off[t + 1]; i++) {
      int p = x->dests[i];
      active_req *a = &x->sends[x->n_sends];
      tsr_status status = tsr__dist_isend(x->d, run->bufs[t], bytes, p, (int)t + 1, &a->req);
      if (status != TSR_OK) {
        tsr_error_set(status, "sending the chunk of task %u to rank %d: %s", t, p,
                      tsr_last_error());
        tsr__run_fail(run, status);
        /* Counted as sent: its reader is released with the others. */
        tsr__run_sent(run, t);
        continue;
      }
      a->task = t;
      a->peer = p;
      x->n_sends++;
      x->sent_to[p][x->n_sent_to[p]++] = t;
      x->bytes_sent += bytes;
      x->messages_sent++;
    }
  }
}

static void post_recvs(tsr__run *run, tsr__xfer *x, bool stalled) {
  while (x->next_recv < x->n_recv && !atomic_load_explicit(&run->stop, memory_order_relaxed)) {
    uint32_t t = x->recv_tasks[x->next_recv];
    size_t bytes = run->g->tasks[t].out_bytes;
    if (x->n_recvs > 0 && x->recv_bytes_posted + bytes > x->recv_window)
      return;
    void *buf = NULL;
    tsr_status status = tsr__spill_try_alloc(run, bytes, &buf);
    if (status == TSR_OK) {
      status =
          tsr__dist_irecv(x->d, buf, bytes, x->owner[t], (int)t + 1, &x->recvs[x->n_recvs].req);
      if (status != TSR_OK)
        tsr_free(run->ctx, buf);
    }
    if (status != TSR_OK) {
      /* Under a memory limit, room comes back as chunks arrive, as sends
       * complete and as tasks run; when none of that happens while the
       * caller has long found nothing to run, the chunk does not fit. */
      if (status == TSR_ENOMEM && run->spill != NULL &&
          (!stalled || x->n_recvs > 0 || x->n_sends > 0 ||
           atomic_load_explicit(&run->running, memory_order_relaxed) > 0))
        return;
      tsr_error_set(status, "receiving the chunk of task %u from rank %d: %s", t, x->owner[t],
                    tsr_last_error());
      tsr__run_fail(run, status);
      return;
    }
    x->recvs[x->n_recvs].task = t;
    x->recvs[x->n_recvs].peer = x->owner[t];
    x->recv_bufs[x->n_recvs] = buf;
    x->n_recvs++;
    x->recv_bytes_posted += bytes;
    x->next_recv++;
  }
}

static void test_sends(tsr__run *run, tsr__xfer *x) {
  uint32_t kept = 0;
  for (uint32_t i = 0; i < x->n_sends; i++) {
    bool done = false;
    tsr_status status = tsr__dist_test(&x->sends[i].req, &done, NULL);
    if (status != TSR_OK) {
      tsr__run_fail(run, status);
      done = false;
    }
    if (done)
      tsr__run_sent(run, x->sends[i].task);
    else
      x->sends[kept++] = x->sends[i];
  }
  x->n_sends = kept;
}

static uint32_t test_recvs(tsr__run *run, tsr__xfer *x, uint32_t *arrived, uint32_t cap) {
  uint32_t n = 0, kept = 0;
  for (uint32_t i = 0; i < x->n_recvs; i++) {
    bool done = false;
    if (n < cap) {
      tsr_status status = tsr__dist_test(&x->recvs[i].req, &done, NULL);
      if (status != TSR_OK) {
        tsr__run_fail(run, status);
        done = false;
      }
    }
    if (done) {
      uint32_t t = x->recvs[i].task;
      size_t bytes = run->g->tasks[t].out_bytes;
      run->bufs[t] = x->recv_bufs[i];
      tsr__spill_hold(run, t);
      x->recv_bytes_posted -= bytes;
      x->bytes_received += bytes;
      x->messages_received++;
      arrived[n++] = t;
    } else {
      x->recvs[kept] = x->recvs[i];
      x->recv_bufs[kept] = x->recv_bufs[i];
      kept++;
    }
  }
  x->n_recvs = kept;
  return n;
}

static void send_aborts(tsr__run *run, tsr__xfer *x) {
  if (x->abort_sent)
    return;
  x->abort_sent = true;
  static const int notice = 1;
  for (int p = 0; p < x->P; p++) {
    if (p == x->me)
      continue;
    if (tsr__dist_isend(x->d, &notice, sizeof notice, p, ABORT_TAG, &x->abort_sends[p].req) !=
        TSR_OK)
      tsr__run_fail(run, TSR_EMPI);
  }
}

uint32_t tsr__xfer_progress(tsr__run *run, uint32_t *arrived, uint32_t cap, bool idle,
                            bool stalled) {
  tsr__xfer *x = run->xfer;
  if (!idle && atomic_load_explicit(&x->queued, memory_order_relaxed) == 0) {
    double now = tsr__now();
    if (now < atomic_load_explicit(&x->next_poll, memory_order_relaxed))
      return 0;
    atomic_store_explicit(&x->next_poll, now + POLL_INTERVAL, memory_order_relaxed);
  }
  if (pthread_mutex_trylock(&x->lock) != 0)
    return 0;
  uint32_t n = 0;
  post_sends(run, x);
  post_recvs(run, x, stalled);
  test_sends(run, x);
  n = test_recvs(run, x, arrived, cap);
  if (x->abort_posted) {
    bool done = false;
    int source = -1;
    if (tsr__dist_test(&x->abort_req, &done, &source) == TSR_OK && done) {
      x->abort_posted = false;
      x->aborted_by_peer = true;
      tsr_error_set(TSR_ECANCELED, "stopped because rank %d failed", source);
      tsr__run_fail(run, TSR_ECANCELED);
    }
  }
  if (atomic_load_explicit(&run->failed, memory_order_acquire) && !x->aborted_by_peer)
    send_aborts(run, x);
  pthread_mutex_unlock(&x->lock);
  return n;
}

/* ---- the end of a run -------------------------------------------------------- */

/* After a failure somewhere: completes or cancels every request.  Each
 * rank learns which chunks the others really sent it; it waits for those
 * (receiving into a scratch buffer the ones it had not posted yet) and
 * cancels its other receives. */
static tsr_status drain(tsr__run *run, tsr__xfer *x) {
  tsr_ctx *ctx = run->ctx;
  const tsr_taskgraph *g = run->g;
  int P = x->P;
  uint64_t *counts = calloc((size_t)P * 2, sizeof *counts);
  uint8_t *incoming = calloc((size_t)g->n_tasks + 1, 1);
  uint32_t *flat = NULL, *got = NULL;
  uint64_t total = 0;
  for (int p = 0; counts != NULL && p < P; p++)
    total += counts[p] = x->n_sent_to[p];
  flat = calloc(total + 1, sizeof *flat);
  tsr_status status = TSR_OK;
  if (counts == NULL || incoming == NULL || flat == NULL) {
    status = tsr_error_set(TSR_ENOMEM, "failure drain: out of memory");
    goto fail;
  }
  for (int p = 0, k = 0; p < P; p++)
    for (uint32_t i = 0; i < x->n_sent_to[p]; i++)
      flat[k++] = x->sent_to[p][i];
  uint64_t *got_counts = counts + P;
  TSR__TRY_GOTO(status, tsr__dist_alltoallv_u32(x->d, flat, counts, &got, got_counts));
  uint64_t n_got = 0;
  for (int p = 0; p < P; p++)
    n_got += got_counts[p];
  for (uint64_t j = 0; j < n_got; j++)
    incoming[got[j]] = 1;
  for (uint32_t i = 0; i < x->n_recvs; i++) {
    uint32_t t = x->recvs[i].task;
    if (incoming[t]) {
      (void)tsr__dist_wait(&x->recvs[i].req);
    } else {
      bool cancelled;
      (void)tsr__dist_cancel(&x->recvs[i].req, &cancelled);
    }
    tsr_free(ctx, x->recv_bufs[i]);
  }
  x->n_recvs = 0;
  /* Sent but not posted here yet (receives are posted in recv_tasks order). */
  for (uint32_t i = x->next_recv; i < x->n_recv; i++) {
    uint32_t t = x->recv_tasks[i];
    if (!incoming[t])
      continue;
    void *buf = malloc(g->tasks[t].out_bytes + 1);
    tsr__dist_req r;
    if (buf == NULL) {
      status = tsr_error_set(TSR_ENOMEM, "failure drain: out of memory");
      break;
    }
    if (tsr__dist_irecv(x->d, buf, g->tasks[t].out_bytes, x->owner[t], (int)t + 1, &r) == TSR_OK)
      (void)tsr__dist_wait(&r);
    free(buf);
  }
fail:
  free(got);
  free(flat);
  free(incoming);
  free(counts);
  return status;
}

tsr_status tsr__xfer_finish(tsr__run *run) {
  tsr__xfer *x = run->xfer;
  if (x == NULL)
    return atomic_load(&run->failed) ? run->status : TSR_OK;
  /* Everything queued goes out (its readers are waiting for it); a rank
   * that failed tells the others before it blocks in the agreement. */
  pthread_mutex_lock(&x->lock);
  post_sends(run, x);
  bool failed_here = atomic_load(&run->failed) && !x->aborted_by_peer;
  if (failed_here)
    send_aborts(run, x);
  pthread_mutex_unlock(&x->lock);

  if (failed_here)
    tsr_error_set(run->status, "%s", run->message);
  tsr_status agreed = tsr__dist_agree(x->d, failed_here ? run->status : TSR_OK);
  char message[TSR__MESSAGE_BYTES];
  snprintf(message, sizeof message, "%s", tsr_last_error());

  if (agreed != TSR_OK) {
    tsr_status status = drain(run, x);
    uint64_t aborters = 0;
    if (status == TSR_OK)
      status = tsr__dist_sum_u64(x->d, x->abort_sent, &aborters);
    if (status == TSR_OK) {
      uint64_t expected = aborters - x->abort_sent;
      if (x->aborted_by_peer && expected > 0)
        expected--; /* the posted notice already arrived */
      if (x->abort_posted) {
        if (expected > 0) {
          (void)tsr__dist_wait(&x->abort_req);
          expected--;
        } else {
          bool cancelled;
          (void)tsr__dist_cancel(&x->abort_req, &cancelled);
        }
        x->abort_posted = false;
      }
      for (; expected > 0; expected--) {
        tsr__dist_req r;
        if (tsr__dist_irecv(x->d, &x->abort_payload, sizeof x->abort_payload, TSR__DIST_ANY_SOURCE,
                            ABORT_TAG, &r) == TSR_OK)
          (void)tsr__dist_wait(&r);
      }
    }
  }
  /* Sends all have matching receives now: wait for them. */
  for (uint32_t i = 0; i < x->n_sends; i++) {
    (void)tsr__dist_wait(&x->sends[i].req);
    tsr__run_sent(run, x->sends[i].task);
  }
  x->n_sends = 0;
  if (x->abort_sent)
    for (int p = 0; p < x->P; p++)
      if (p != x->me)
        (void)tsr__dist_wait(&x->abort_sends[p].req);
  if (x->abort_posted) {
    bool cancelled;
    (void)tsr__dist_cancel(&x->abort_req, &cancelled);
    x->abort_posted = false;
  }
  if (agreed != TSR_OK) {
    atomic_store(&run->failed, 1);
    run->status = agreed;
    snprintf(run->message, sizeof run->message, "%s", message);
    return agreed;
  }
  return TSR_OK;
}

void tsr__xfer_stats(const tsr__run *run, tsr_run_stats *s) {
  const tsr__xfer *x = run->xfer;
  s->rank = x ? x->me : 0;
  s->ranks = x ? x->P : 1;
  if (x == NULL)
    return;
  s->bytes_sent = x->bytes_sent;
  s->bytes_received = x->bytes_received;
  s->messages_sent = x->messages_sent;
  s->messages_received = x->messages_received;
}

void tsr__xfer_free(tsr__run *run) {
  tsr_ctx *ctx = run->ctx;
  tsr_free(ctx, run->role);
  run->role = NULL;
  tsr__xfer *x = run->xfer;
  if (x == NULL)
    return;
  for (uint32_t i = 0; i < x->n_recvs; i++) /* none after a finish: it drains them */
    tsr_free(ctx, x->recv_bufs[i]);
  pthread_mutex_destroy(&x->queue_lock);
  pthread_mutex_destroy(&x->lock);
  tsr_free(ctx, x->owner);
  tsr_free(ctx, x->dest_off);
  tsr_free(ctx, x->dests);
  tsr_free(ctx, x->queue);
  tsr_free(ctx, x->sends);
  if (x->sent_to != NULL)
    for (int p = 0; p < x->P; p++)
      tsr_free(ctx, x->sent_to[p]);
  tsr_free(ctx, x->sent_to);
  tsr_free(ctx, x->n_sent_to);
  tsr_free(ctx, x->recv_tasks);
  tsr_free(ctx, x->recvs);
  tsr_free(ctx, x->recv_bufs);
  tsr_free(ctx, x->abort_sends);
  tsr_free(ctx, x);
  run->xfer = NULL;
}

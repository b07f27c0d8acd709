/* observe.c — a context's run observer (tsr_ctx_set_run_observer): the
 * progress callback, the statistics callback and the Chrome trace for every
 * task graph the context runs without options of its own, so that a job
 * whose pipeline breakers (group-by, join, sort) compute inside their calls
 * shows all of its runs, not only the last.  The trace puts every run in one
 * file, one process track per run on one time line; it is written when the
 * observer is replaced or removed (or the context destroyed). */
#include <stdlib.h>
#include <string.h>

#include "run_impl.h"

static tsr_status observer_close(tsr__observer *o) {
  tsr_status status = tsr__trace_close(&o->log);
  free((char *)o->run.trace_path);
  free(o);
  return status;
}

static void observer_free(void *p) {
  if (observer_close(p) != TSR_OK)
    fprintf(stderr, "tessera: the run observer's trace was not written: %s\n", tsr_last_error());
}

tsr__observer *tsr__observer_of(tsr_ctx *ctx) {
  return ctx->observer_free == observer_free ? ctx->observer : NULL;
}

tsr_status tsr_ctx_set_run_observer(tsr_ctx *ctx, const tsr_run_options *run,
                                    void (*on_stats)(const tsr_run_stats *stats, void *user),
                                    void *user) {
  TSR_CHECK(ctx != NULL, TSR_EINVAL, "tsr_ctx_set_run_observer: ctx is NULL");
  TSR_CHECK(run == NULL || run->trace_path == NULL || run->trace_path[0] != '\0', TSR_EINVAL,
            "tsr_ctx_set_run_observer: run->trace_path is empty");
  tsr_status status = TSR_OK;
  tsr__observer *old = tsr__observer_of(ctx);
  if (old != NULL) {
    ctx->observer = NULL;
    ctx->observer_free = NULL;
    status = observer_close(old);
  }
  if (run == NULL && on_stats == NULL)
    return status;
  tsr__observer *o = calloc(1, sizeof *o);
  TSR_CHECK(o != NULL, TSR_ENOMEM, "tsr_ctx_set_run_observer: out of memory");
  if (run != NULL)
    o->run = *run;
  if (o->run.trace_path != NULL && (o->run.trace_path = strdup(run->trace_path)) == NULL) {
    free(o);
    return tsr_error_set(TSR_ENOMEM, "tsr_ctx_set_run_observer: out of memory");
  }
  o->on_stats = on_stats;
  o->user = user;
  ctx->observer = o;
  ctx->observer_free = observer_free;
  return status;
}

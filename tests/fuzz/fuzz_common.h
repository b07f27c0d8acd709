/* fuzz_common.h — what the fuzz targets share: a fresh context per input
 * (small memory limit, one thread, small chunks), a progress callback that
 * cancels runs too large to be quick, and a check that every byte the
 * context accounted was freed.  A target is one LLVMFuzzerTestOneInput; it
 * is linked either with libFuzzer (TESSERA_FUZZ=ON, clang) or with
 * replay_main.c (every build: CI replays the corpus and the regressions). */
#ifndef TSR_FUZZ_COMMON_H
#define TSR_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <tessera/tessera.h>

/* Bounds that keep one input quick: the context's memory limit (every
 * chunk, graph and buffer is accounted against it), the chunk size that
 * automatic chunking aims for, and the most tasks a run may have before the
 * progress callback cancels it (so `sum(ones((10**9,)))` is cut short, not
 * run for minutes). */
#define FUZZ_MEMORY_LIMIT (32u << 20)
#define FUZZ_CHUNK_BYTES (64u << 10)
#define FUZZ_MAX_TASKS 4096u

/* Any status is fine for a fuzz target: it is looked at, not acted on.  (A
 * cast to void does not silence GCC's warn_unused_result.) */
#define FUZZ_IGNORE(expr)              \
  do {                                 \
    tsr_status fuzz_ignored_ = (expr); \
    (void)fuzz_ignored_;               \
  } while (0)

static inline int fuzz_progress(uint64_t done, uint64_t total, void *user) {
  (void)done;
  (void)user;
  return total > FUZZ_MAX_TASKS;
}

static inline tsr_compute_options fuzz_compute_options(void) {
  tsr_compute_options co = {0};
  co.run.progress = fuzz_progress;
  co.run.progress_interval = 1e-9; /* after every task */
  return co;
}

/* A context for one input; aborts when it cannot be made (not a finding). */
static inline tsr_ctx *fuzz_ctx(void) {
  tsr_ctx *ctx = NULL;
  if (tsr_ctx_create(&ctx) != TSR_OK || tsr_ctx_set_threads(ctx, 1) != TSR_OK ||
      tsr_ctx_set_memory_limit(ctx, FUZZ_MEMORY_LIMIT) != TSR_OK ||
      tsr_ctx_set_chunk_bytes(ctx, FUZZ_CHUNK_BYTES) != TSR_OK ||
      tsr_ctx_set_log_level(ctx, TSR_LOG_ERROR) != TSR_OK) {
    fprintf(stderr, "fuzz: cannot create a context: %s\n", tsr_last_error());
    abort();
  }
  return ctx;
}

/* Destroys the context after checking that everything allocated through it
 * was freed: a leak of accounted memory is a finding (abort). */
static inline void fuzz_ctx_done(tsr_ctx **ctx) {
  tsr_memory_stats st;
  if (tsr_ctx_memory_stats(*ctx, &st) == TSR_OK && st.current_bytes != 0) {
    fprintf(stderr, "fuzz: %llu bytes still allocated after the input was done\n",
            (unsigned long long)st.current_bytes);
    abort();
  }
  tsr_ctx_destroy(ctx);
}

/* /dev/null, for what the targets print (formatting is exercised, not shown). */
static inline FILE *fuzz_devnull(void) {
  static FILE *devnull;
  if (devnull == NULL && (devnull = fopen("/dev/null", "w")) == NULL) {
    perror("fuzz: /dev/null");
    abort();
  }
  return devnull;
}

#endif /* TSR_FUZZ_COMMON_H */

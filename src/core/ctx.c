/* ctx.c — the context: defaults from the environment, explicit setters,
 * byte-size parsing and formatting, logging, the clock.
 *
 * The context is created before any allocator exists, so it is the one
 * object allocated with plain malloc; its own bytes are not accounted. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <omp.h>

#include "core_impl.h"

/* ---- byte sizes ------------------------------------------------------- */

typedef struct unit {
  const char *name;
  uint64_t factor;
} unit;

/* Dask's dask.utils.parse_bytes table; compared case-insensitively. */
static const unit units[] = {
    {"", 1},
    {"b", 1},
    {"k", 1000ull},
    {"kb", 1000ull},
    {"kib", 1ull << 10},
    {"m", 1000000ull},
    {"mb", 1000000ull},
    {"mib", 1ull << 20},
    {"g", 1000000000ull},
    {"gb", 1000000000ull},
    {"gib", 1ull << 30},
    {"t", 1000000000000ull},
    {"tb", 1000000000000ull},
    {"tib", 1ull << 40},
    {"p", 1000000000000000ull},
    {"pb", 1000000000000000ull},
    {"pib", 1ull << 50},
};

tsr_status tsr_parse_bytes(const char *text, uint64_t *out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "tsr_parse_bytes: out is NULL");
  *out = 0;
  TSR_CHECK(text != NULL, TSR_EINVAL, "tsr_parse_bytes: text is NULL");
  const char *p = text;
  while (isspace((unsigned char)*p))
    p++;
  TSR_CHECK(isdigit((unsigned char)*p) || *p == '.', TSR_EINVAL,
            "'%s' is not a byte size: expected a number such as 512MB, 2GiB or 1.5G", text);
  /* Whole and fractional parts by hand: strtod would accept "inf", "1e400",
   * hex and locale-dependent commas. */
  uint64_t whole = 0;
  while (isdigit((unsigned char)*p)) {
    uint64_t digit = (uint64_t)(*p - '0');
    TSR_CHECK(whole <= (UINT64_MAX - digit) / 10, TSR_EINVAL, "byte size '%s' is too large", text);
    whole = whole * 10 + digit;
    p++;
  }
  double fraction = 0, scale = 0.1;
  bool any_fraction_digit = false;
  if (*p == '.') {
    p++;
    while (isdigit((unsigned char)*p)) {
      fraction += scale * (*p - '0');
      scale /= 10;
      any_fraction_digit = true;
      p++;
    }
    TSR_CHECK(any_fraction_digit || p - text > 1, TSR_EINVAL, "'%s' is not a byte size", text);
  }
  while (*p == ' ')
    p++;
  char suffix[8];
  size_t n = 0;
  while (*p != '\0' && !isspace((unsigned char)*p) && n < sizeof suffix - 1)
    suffix[n++] = (char)tolower((unsigned char)*p++);
  suffix[n] = '\0';
  while (isspace((unsigned char)*p))
    p++;
  TSR_CHECK(*p == '\0', TSR_EINVAL, "'%s' is not a byte size: unexpected text after the unit",
            text);
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (strcmp(suffix, units[i].name) != 0)
      continue;
    uint64_t bytes;
    TSR_CHECK(tsr__mul_u64(whole, units[i].factor, &bytes), TSR_EINVAL,
              "byte size '%s' is too large", text);
    uint64_t extra = (uint64_t)floor(fraction * (double)units[i].factor);
    TSR_CHECK(bytes <= UINT64_MAX - extra, TSR_EINVAL, "byte size '%s' is too large", text);
    *out = bytes + extra;
    return TSR_OK;
  }
  return tsr_error_set(TSR_EINVAL,
                       "'%s' has an unknown unit '%s': use B, kB, MB, GB, TB, PB, KiB, MiB, "
                       "GiB, TiB, PiB (or k, M, G, T, P)",
                       text, suffix);
}

char *tsr_format_bytes(uint64_t bytes, char *buf, size_t buf_size) {
  static const char *names[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (buf == NULL || buf_size == 0)
    return buf;
  if (bytes < 1024) {
    snprintf(buf, buf_size, "%llu B", (unsigned long long)bytes);
    return buf;
  }
  double value = (double)bytes;
  int i = 0;
  while (value >= 1024 && i < 6) {
    value /= 1024;
    i++;
  }
  snprintf(buf, buf_size, "%.*f %s", value < 10 ? 2 : (value < 100 ? 1 : 0), value, names[i]);
  return buf;
}

/* ---- environment ------------------------------------------------------ */

/* Parses a whole decimal integer in [lo, hi]; false otherwise. */
static bool parse_int(const char *text, long lo, long hi, long *out) {
  errno = 0;
  char *end;
  long v = strtol(text, &end, 10);
  while (isspace((unsigned char)*end))
    end++;
  if (errno != 0 || end == text || *end != '\0' || v < lo || v > hi)
    return false;
  *out = v;
  return true;
}

static tsr_status threads_from_env(int *threads) {
  const char *v = getenv("TESSERA_NUM_THREADS");
  long n;
  if (v != NULL && *v != '\0') {
    TSR_CHECK(parse_int(v, 1, TSR_MAX_THREADS, &n), TSR_EINVAL,
              "TESSERA_NUM_THREADS='%s' is not a whole number from 1 to %d", v, TSR_MAX_THREADS);
    *threads = (int)n;
    return TSR_OK;
  }
  v = getenv("OMP_NUM_THREADS");
  if (v != NULL && *v != '\0') {
    /* OMP_NUM_THREADS may be a list for nested levels ("4,2"): take the first. */
    char first[32];
    size_t len = strcspn(v, ",");
    TSR_CHECK(len < sizeof first, TSR_EINVAL,
              "OMP_NUM_THREADS='%.40s...' does not start with a whole number from 1 to %d", v,
              TSR_MAX_THREADS);
    memcpy(first, v, len);
    first[len] = '\0';
    TSR_CHECK(parse_int(first, 1, TSR_MAX_THREADS, &n), TSR_EINVAL,
              "OMP_NUM_THREADS='%s' does not start with a whole number from 1 to %d", v,
              TSR_MAX_THREADS);
    *threads = (int)n;
    return TSR_OK;
  }
  int procs = omp_get_num_procs();
  *threads = procs < 1 ? 1 : (procs > TSR_MAX_THREADS ? TSR_MAX_THREADS : procs);
  return TSR_OK;
}

static tsr_status size_from_env(const char *name, uint64_t *value) {
  const char *v = getenv(name);
  if (v == NULL || *v == '\0')
    return TSR_OK;
  tsr_status status = tsr_parse_bytes(v, value);
  if (status != TSR_OK) {
    /* Re-wrap the parser's message so it names the variable. */
    return tsr_error_set(status, "%s='%s': %s", name, v, tsr_last_error());
  }
  return TSR_OK;
}

static tsr_status log_level_from_env(tsr_log_level *level) {
  static const char *names[] = {"off", "error", "warn", "info", "debug"};
  const char *v = getenv("TESSERA_LOG");
  if (v == NULL || *v == '\0')
    return TSR_OK;
  for (int i = 0; i < 5; i++) {
    if (strcasecmp(v, names[i]) == 0) {
      *level = (tsr_log_level)i;
      return TSR_OK;
    }
  }
  return tsr_error_set(TSR_EINVAL, "TESSERA_LOG='%s': use off, error, warn, info or debug", v);
}

static tsr_status executor_from_env(tsr_executor *executor) {
  const char *v = getenv("TESSERA_EXECUTOR");
  if (v == NULL || *v == '\0')
    return TSR_OK;
  if (strcasecmp(v, "omp") == 0)
    *executor = TSR_EXECUTOR_OMP;
  else if (strcasecmp(v, "serial") == 0)
    *executor = TSR_EXECUTOR_SERIAL;
  else
    return tsr_error_set(TSR_EINVAL, "TESSERA_EXECUTOR='%s': use omp or serial", v);
  return TSR_OK;
}

/* TESSERA_BROADCAST_JOIN_LIMIT: "auto" (by volume) or a size. */
static tsr_status join_limit_from_env(int64_t *limit) {
  const char *v = getenv("TESSERA_BROADCAST_JOIN_LIMIT");
  if (v == NULL || *v == '\0')
    return TSR_OK;
  if (strcasecmp(v, "auto") == 0) {
    *limit = TSR_BROADCAST_JOIN_AUTO;
    return TSR_OK;
  }
  uint64_t bytes;
  if (tsr_parse_bytes(v, &bytes) != TSR_OK)
    return tsr_error_set(TSR_EINVAL,
                         "TESSERA_BROADCAST_JOIN_LIMIT='%s': use a size such as 0, 64MiB or 2GB "
                         "(the right side's bytes up to which a join broadcasts it) or auto",
                         v);
  *limit = bytes > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)bytes;
  return TSR_OK;
}

/* The variables the distribution layer and the spiller read later, checked
 * here so that a bad value fails tsr_ctx_create on the rank that has it
 * (a context is then still possible without it: see the CLI). */
static tsr_status check_other_env(void) {
  const char *v = getenv("TESSERA_MPI");
  if (v != NULL && *v != '\0')
    TSR_CHECK(strcmp(v, "0") == 0 || strcmp(v, "1") == 0, TSR_EINVAL,
              "TESSERA_MPI='%s': use 1 (use MPI) or 0 (never)", v);
  v = getenv("TESSERA_OWNER_BLOCK");
  long long block;
  if (v != NULL && *v != '\0')
    TSR_CHECK(tsr__parse_owner_block(v, &block), TSR_EINVAL,
              "TESSERA_OWNER_BLOCK='%s': use a whole number of chunks >= 1 (block-cyclic) or 0 "
              "(balanced contiguous runs)",
              v);
  v = getenv("TESSERA_SHARE_INTERMEDIATES"); /* read by array/share.c */
  if (v != NULL && *v != '\0')
    TSR_CHECK(strcmp(v, "0") == 0 || strcmp(v, "1") == 0, TSR_EINVAL,
              "TESSERA_SHARE_INTERMEDIATES='%s': use 1 or 0", v);
  v = getenv("TESSERA_MALLOC_TUNING"); /* read by alloc.c */
  if (v != NULL && *v != '\0')
    TSR_CHECK(strcmp(v, "0") == 0 || strcmp(v, "1") == 0, TSR_EINVAL,
              "TESSERA_MALLOC_TUNING='%s': use 1 (malloc keeps freed memory) or 0 (glibc's "
              "defaults)",
              v);
  v = getenv("TESSERA_SPILL_DIR");
  struct stat st;
  if (v != NULL && *v != '\0') {
    TSR_CHECK(stat(v, &st) == 0, TSR_EINVAL, "TESSERA_SPILL_DIR='%s': %s", v, strerror(errno));
    TSR_CHECK(S_ISDIR(st.st_mode), TSR_EINVAL, "TESSERA_SPILL_DIR='%s' is not a directory", v);
  }
  return TSR_OK;
}

bool tsr__parse_owner_block(const char *text, long long *out) {
  errno = 0;
  char *end;
  long long b = strtoll(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || b < 0 || text[0] == '+' || text[0] == ' ')
    return false;
  *out = b;
  return true;
}

/* ---- create / destroy / setters ---------------------------------------- */

tsr_status tsr_ctx_create(tsr_ctx **out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "tsr_ctx_create: out is NULL");
  *out = NULL;
  int threads = 1;
  uint64_t limit = 0, chunk_bytes = TSR_DEFAULT_CHUNK_BYTES;
  tsr_log_level level = TSR_LOG_WARN;
  tsr_executor executor = TSR_EXECUTOR_OMP;
  int64_t join_limit = TSR_BROADCAST_JOIN_AUTO;
  TSR_TRY(threads_from_env(&threads));
  TSR_TRY(size_from_env("TESSERA_MEMORY_LIMIT", &limit));
  TSR_TRY(size_from_env("TESSERA_CHUNK_BYTES", &chunk_bytes));
  TSR_CHECK(chunk_bytes >= 1, TSR_EINVAL, "TESSERA_CHUNK_BYTES='%s': must be at least 1 byte",
            getenv("TESSERA_CHUNK_BYTES"));
  TSR_TRY(log_level_from_env(&level));
  TSR_TRY(executor_from_env(&executor));
  TSR_TRY(join_limit_from_env(&join_limit));
  TSR_TRY(check_other_env());
  tsr__alloc_tune_malloc();
  tsr_ctx *ctx = calloc(1, sizeof *ctx);
  TSR_CHECK(ctx != NULL, TSR_ENOMEM, "out of memory creating a context");
  tsr__alloc_open(&ctx->alloc);
  ctx->threads = threads;
  ctx->alloc.limit = limit;
  ctx->chunk_bytes = chunk_bytes;
  ctx->log_level = level;
  ctx->executor = executor;
  ctx->broadcast_join_limit = join_limit;
  *out = ctx;
  return TSR_OK;
}

void tsr_ctx_destroy(tsr_ctx **ctx) {
  if (ctx == NULL || *ctx == NULL)
    return;
  if ((*ctx)->observer_free != NULL)
    (*ctx)->observer_free((*ctx)->observer);
  if ((*ctx)->dist_free != NULL)
    (*ctx)->dist_free((*ctx)->dist);
  uint64_t leaked = atomic_load(&(*ctx)->alloc.current);
  if (leaked != 0)
    tsr__log(*ctx, TSR_LOG_WARN, "context destroyed with %llu bytes still allocated",
             (unsigned long long)leaked);
  tsr__alloc_close(&(*ctx)->alloc);
  free(*ctx);
  *ctx = NULL;
}

tsr_status tsr_ctx_set_threads(tsr_ctx *ctx, int threads) {
  TSR_CHECK(ctx != NULL, TSR_EINVAL, "tsr_ctx_set_threads: ctx is NULL");
  TSR_CHECK(threads >= 1 && threads <= TSR_MAX_THREADS, TSR_EINVAL,
            "tsr_ctx_set_threads: threads = %d must be from 1 to %d", threads, TSR_MAX_THREADS);
  ctx->threads = threads;
  return TSR_OK;
}

tsr_status tsr_ctx_set_memory_limit(tsr_ctx *ctx, uint64_t bytes) {
  TSR_CHECK(ctx != NULL, TSR_EINVAL, "tsr_ctx_set_memory_limit: ctx is NULL");
  ctx->alloc.limit = bytes;
  return TSR_OK;
}

tsr_status tsr_ctx_set_chunk_bytes(tsr_ctx *ctx, uint64_t bytes) {
  TSR_CHECK(ctx != NULL, TSR_EINVAL, "tsr_ctx_set_chunk_bytes: ctx is NULL");
  TSR_CHECK(bytes >= 1, TSR_EINVAL, "tsr_ctx_set_chunk_bytes: bytes must be at least 1");
  ctx->chunk_bytes = bytes;
  return TSR_OK;
}

tsr_status tsr_ctx_set_log_level(tsr_ctx *ctx, tsr_log_level level) {
  TSR_CHECK(ctx != NULL, TSR_EINVAL, "tsr_ctx_set_log_level: ctx is NULL");
  TSR_CHECK(level >= TSR_LOG_OFF && level <= TSR_LOG_DEBUG, TSR_EINVAL,
            "tsr_ctx_set_log_level: level = %d is not a tsr_log_level", (int)level);
  ctx->log_level = level;
  return TSR_OK;
}

tsr_status tsr_ctx_set_executor(tsr_ctx *ctx, tsr_executor executor) {
  TSR_CHECK(ctx != NULL, TSR_EINVAL, "tsr_ctx_set_executor: ctx is NULL");
  TSR_CHECK(executor == TSR_EXECUTOR_OMP || executor == TSR_EXECUTOR_SERIAL, TSR_EINVAL,
            "tsr_ctx_set_executor: executor = %d is not a tsr_executor", (int)executor);
  ctx->executor = executor;
  return TSR_OK;
}

tsr_status tsr_ctx_set_broadcast_join_limit(tsr_ctx *ctx, int64_t bytes) {
  TSR_CHECK(ctx != NULL, TSR_EINVAL, "tsr_ctx_set_broadcast_join_limit: ctx is NULL");
  ctx->broadcast_join_limit = bytes < 0 ? TSR_BROADCAST_JOIN_AUTO : bytes;
  return TSR_OK;
}

int64_t tsr_ctx_broadcast_join_limit(const tsr_ctx *ctx) {
  return ctx ? ctx->broadcast_join_limit : TSR_BROADCAST_JOIN_AUTO;
}

int tsr_ctx_threads(const tsr_ctx *ctx) { return ctx ? ctx->threads : 0; }
uint64_t tsr_ctx_memory_limit(const tsr_ctx *ctx) { return ctx ? ctx->alloc.limit : 0; }
uint64_t tsr_ctx_chunk_bytes(const tsr_ctx *ctx) { return ctx ? ctx->chunk_bytes : 0; }
tsr_log_level tsr_ctx_log_level(const tsr_ctx *ctx) { return ctx ? ctx->log_level : TSR_LOG_OFF; }
tsr_executor tsr_ctx_executor(const tsr_ctx *ctx) { return ctx ? ctx->executor : TSR_EXECUTOR_OMP; }

/* ---- logging and time --------------------------------------------------- */

void tsr__log(const tsr_ctx *ctx, tsr_log_level level, const char *fmt, ...) {
  static const char *names[] = {"off", "error", "warning", "info", "debug"};
  tsr_log_level allowed = ctx ? ctx->log_level : TSR_LOG_WARN;
  if (level == TSR_LOG_OFF || level > allowed)
    return;
  char line[1200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fprintf(stderr, "tessera: %s: %s\n", names[level], line);
}

double tsr__now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The memory limit shrinks the target only when it could not hold
 * TSR__CHUNKS_IN_LIMIT chunks of it (a task's inputs and output on each of
 * a few threads, with room to spill): a limit that fits the chunks leaves
 * them, and so every result, as they are without one. */
#define TSR__CHUNKS_IN_LIMIT 8

uint64_t tsr__chunk_target(const tsr_ctx *ctx) {
  uint64_t target = tsr_ctx_chunk_bytes(ctx), limit = tsr_ctx_memory_limit(ctx);
  if (limit != 0 && limit / TSR__CHUNKS_IN_LIMIT < target)
    target = limit / TSR__CHUNKS_IN_LIMIT > 0 ? limit / TSR__CHUNKS_IN_LIMIT : 1;
  return target;
}

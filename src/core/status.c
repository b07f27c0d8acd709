/* status.c — status names and descriptions (generated from TSR_STATUS_MAP)
 * and the per-thread detailed error message.  The message lives in a
 * thread-local fixed buffer so that reporting an error never allocates and
 * so cannot fail, even when the failure is an out-of-memory. */
#include <stdio.h>
#include <string.h>

#include "core_impl.h"

#define TSR__ERROR_BYTES 1024

static _Thread_local char error_message[TSR__ERROR_BYTES];

const char *tsr_strerror(tsr_status status) {
  switch (status) {
#define TSR__STATUS_TEXT(name, code, text) \
  case TSR_##name:                         \
    return text;
    TSR_STATUS_MAP(TSR__STATUS_TEXT)
#undef TSR__STATUS_TEXT
  }
  return "unknown status";
}

const char *tsr_status_name(tsr_status status) {
  switch (status) {
#define TSR__STATUS_NAME(name, code, text) \
  case TSR_##name:                         \
    return "TSR_" #name;
    TSR_STATUS_MAP(TSR__STATUS_NAME)
#undef TSR__STATUS_NAME
  }
  return "TSR_UNKNOWN";
}

bool tsr__status_known(tsr_status status) {
  switch (status) {
#define TSR__STATUS_CASE(name, code, text) case TSR_##name:
    TSR_STATUS_MAP(TSR__STATUS_CASE)
#undef TSR__STATUS_CASE
    return true;
  }
  return false;
}

const char *tsr_last_error(void) { return error_message; }

tsr_status tsr_error_setv(tsr_status status, const char *fmt, va_list ap) {
  if (fmt == NULL) {
    snprintf(error_message, sizeof error_message, "%s", tsr_strerror(status));
    return status;
  }
  /* Format into a scratch buffer first: fmt's arguments may point into
   * error_message itself (re-wrapping the previous message). */
  char scratch[TSR__ERROR_BYTES];
  vsnprintf(scratch, sizeof scratch, fmt, ap);
  memcpy(error_message, scratch, sizeof scratch);
  return status;
}

tsr_status tsr_error_set(tsr_status status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  tsr_status result = tsr_error_setv(status, fmt, ap);
  va_end(ap);
  return result;
}

void tsr_error_clear(void) { error_message[0] = '\0'; }

/* error.c — error messages that point into the program text:
 *     line 2, column 7: expected ')'
 *       y = (x + 1
 *             ^
 * Lines and columns count from 1 in bytes; tabs of the source line are
 * kept in the caret line so the caret stays aligned.  A long line is shown
 * as a window of about 100 bytes around the column, marked with "...", so
 * the message fits the 1023 bytes of tsr_error_set. */
#include <stdarg.h>
#include <string.h>

#include "query_impl.h"

#define WINDOW 100

tsr_status tsr__query_fail(const char *source, int32_t pos, tsr_status status, const char *fmt,
                           ...) {
  char msg[640];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (source == NULL)
    return tsr_error_set(status, "%s", msg);
  size_t total = strlen(source);
  size_t at = pos < 0 ? 0 : (size_t)pos > total ? total : (size_t)pos;
  int line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < at; i++)
    if (source[i] == '\n') {
      line++;
      line_start = i + 1;
    }
  size_t line_end = line_start;
  while (source[line_end] != '\0' && source[line_end] != '\n')
    line_end++;
  size_t column = at - line_start + 1;
  /* The shown part of the line: [from, to), with "..." where clipped. */
  size_t from = line_start, to = line_end;
  if (to - from > WINDOW) {
    if (at > from + WINDOW / 2)
      from = at - WINDOW / 2;
    to = from + WINDOW < line_end ? from + WINDOW : line_end;
    if (to - from < WINDOW && line_end - line_start > WINDOW)
      from = to - WINDOW;
  }
  bool left = from > line_start, right = to < line_end;
  char shown[WINDOW + 8], caret[WINDOW + 8];
  size_t n = 0, c = 0;
  if (left) {
    memcpy(shown, "...", 3);
    memcpy(caret, "   ", 3);
    n = c = 3;
  }
  for (size_t i = from; i < to; i++) {
    char ch = source[i];
    if (ch == '\r')
      ch = ' ';
    shown[n++] = ch;
    if (i < at)
      caret[c++] = ch == '\t' ? '\t' : ' ';
  }
  if (right) {
    memcpy(shown + n, "...", 3);
    n += 3;
  }
  shown[n] = '\0';
  caret[c++] = '^';
  caret[c] = '\0';
  return tsr_error_set(status, "line %d, column %zu: %s\n  %s\n  %s", line, column, msg, shown,
                       caret);
}

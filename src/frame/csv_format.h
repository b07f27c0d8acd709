/* csv_format.h — the CSV writer's value formatting (csv_write.c), shared
 * with the data generators and the tests.  Each writes at most the width
 * its comment gives (no NUL) and returns the bytes written. */
#ifndef TSR_FRAME_CSV_FORMAT_H
#define TSR_FRAME_CSV_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include <tessera/frame.h>

size_t tsr__fmt_u64(char *out, uint64_t v); /* 20 */
size_t tsr__fmt_i64(char *out, int64_t v);  /* 20 */
/* The shortest text strtod reads back to x, as Python's repr writes it
 * (0.1, 100.0, 1e+16, 1e-05, 5e-324, -0.0, nan, inf, -inf): 26. */
size_t tsr__fmt_f64(char *out, double x);
/* The same for a float32 (shortest for strtof): 16. */
size_t tsr__fmt_f32(char *out, float x);
/* YYYY-MM-DD (days since 1970-01-01): 16. */
size_t tsr__fmt_date(char *out, int64_t days);
/* YYYY-MM-DD HH:MM:SS[.fraction without trailing zeros]: 48. */
size_t tsr__fmt_timestamp(char *out, int64_t v, tsr_time_unit unit);
/* s[0..n) as one CSV field: quoted (quotes doubled) when empty, holding
 * the delimiter, a quote, CR or LF, or starting or ending with a space:
 * at most 2 n + 2. */
size_t tsr__fmt_field(char *out, const char *s, size_t n, char delim);

#endif /* TSR_FRAME_CSV_FORMAT_H */

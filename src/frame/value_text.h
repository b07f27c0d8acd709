/* value_text.h — one column value to text and back (value_text.c), as the
 * frame operations that convert (cast, fill_null) and print need them:
 * numbers, booleans, dates and timestamps in the text DuckDB prints and
 * reads ("true", "-12", "1.5", "2024-01-31", "2024-01-31 12:34:56.5"). */
#ifndef TSR_FRAME_VALUE_TEXT_H
#define TSR_FRAME_VALUE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tessera/frame.h>

/* Longest text tsr__vt_format writes (a timestamp[ns] with its sign). */
#define TSR__VT_MAX 48

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
int64_t tsr__vt_days_from_civil(int64_t y, unsigned m, unsigned d);
void tsr__vt_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

/* Formatters: each writes at most the width its comment gives (no NUL)
 * and returns the bytes written (the CSV writer's and tsr__vt_format's). */
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

/* Writes value i of a fixed-width chunk `values` of `type` (not strings or
 * dictionaries) into buf (TSR__VT_MAX bytes) and returns its length:
 * integers in decimal, floats in the shortest text that reads back exactly
 * ("1.0", "0.1", "1e+300", "inf", "nan"), bool "true"/"false", dates
 * "YYYY-MM-DD" (Python's repr for floats: "1e+16", "1e-05"), timestamps "YYYY-MM-DD
 * HH:MM:SS[.fraction]" (the fraction without trailing zeros). */
size_t tsr__vt_format(tsr_type type, const void *values, int64_t i, char *buf);
/* The longest text of tsr__vt_format for the type. */
size_t tsr__vt_max_len(tsr_type type);

/* Parsers of n bytes at s (not NUL-terminated); leading and trailing
 * spaces and tabs are allowed.  false when the text is not a value of the
 * kind or out of range. */
bool tsr__vt_parse_i64(const char *s, size_t n, int64_t *out);
bool tsr__vt_parse_u64(const char *s, size_t n, uint64_t *out);
bool tsr__vt_parse_f64(const char *s, size_t n, double *out);
bool tsr__vt_parse_f32(const char *s, size_t n, float *out);
/* true/false, t/f, 1/0, yes/no (any case). */
bool tsr__vt_parse_bool(const char *s, size_t n, bool *out);
/* YYYY-MM-DD (days since the epoch). */
bool tsr__vt_parse_date(const char *s, size_t n, int32_t *out);
/* YYYY-MM-DD[( |T)HH:MM[:SS[.fraction]]][Z], in `unit`s since the epoch;
 * digits beyond the unit's resolution are truncated. */
bool tsr__vt_parse_timestamp(const char *s, size_t n, tsr_time_unit unit, int64_t *out);

/* Parses text as one value of a fixed-width type (not string/dict) into
 * out (tsr_type_width bytes).  false when it does not parse or fit. */
bool tsr__vt_parse(tsr_type type, const char *s, size_t n, void *out);

#endif /* TSR_FRAME_VALUE_TEXT_H */

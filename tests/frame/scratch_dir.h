/* scratch_dir.h — a temporary directory per test program (made by the
 * group setup, removed with its files by the group teardown) and a writer
 * of test files into it, for the CSV tests. */
#ifndef TSR_TEST_SCRATCH_DIR_H
#define TSR_TEST_SCRATCH_DIR_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "test_util.h"

static char dir[256];

static int group_setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "%s/tsr_test_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  return mkdtemp(dir) ? 0 : -1;
}

static int group_teardown(void **state) {
  (void)state;
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* Writes n bytes of text to dir/name; the path (valid until the next call). */
static const char *write_file(const char *name, const char *text, size_t n) {
  static char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
  return path;
}

#endif /* TSR_TEST_SCRATCH_DIR_H */

/* replay_main.c — runs a fuzz target's LLVMFuzzerTestOneInput once on each
 * input, without libFuzzer, so that any C compiler builds it: CI replays
 * every target's seed corpus and regression inputs (ctest fuzz.<target>).
 *   fuzz_replay_<target> PATH...   a PATH is a file or a directory, whose
 *                                  regular files are run in name order
 * Deterministic: the same inputs in the same order.  Exit 0 when every
 * input ran (the target aborts or a sanitizer stops the process on a
 * finding), 1 when an input cannot be read, 2 on usage errors. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
    return 1;
  }
  size_t cap = 4096, n = 0;
  uint8_t *buf = malloc(cap);
  for (;;) {
    if (buf == NULL) {
      fprintf(stderr, "replay: %s: out of memory\n", path);
      fclose(f);
      return 1;
    }
    n += fread(buf + n, 1, cap - n, f);
    if (n < cap)
      break;
    uint8_t *bigger = realloc(buf, cap * 2);
    if (bigger == NULL)
      free(buf);
    buf = bigger;
    cap *= 2;
  }
  int failed = ferror(f);
  fclose(f);
  if (failed) {
    fprintf(stderr, "replay: %s: read error\n", path);
    free(buf);
    return 1;
  }
  fprintf(stderr, "replay: %s (%zu bytes)\n", path, n);
  /* The input in a buffer of exactly its size, so ASan sees overreads. */
  uint8_t *exact = malloc(n ? n : 1);
  if (exact == NULL) {
    free(buf);
    return 1;
  }
  memcpy(exact, buf, n);
  free(buf);
  LLVMFuzzerTestOneInput(exact, n);
  free(exact);
  return 0;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir, int *count) {
  DIR *d = opendir(dir);
  if (d == NULL) {
    fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
    return 1;
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.' || strcmp(e->d_name, "README.md") == 0)
      continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 64;
      char **bigger = realloc(names, cap * sizeof *names);
      if (bigger == NULL)
        abort();
      names = bigger;
    }
    size_t len = strlen(dir) + strlen(e->d_name) + 2;
    if ((names[n] = malloc(len)) == NULL)
      abort();
    snprintf(names[n++], len, "%s/%s", dir, e->d_name);
  }
  closedir(d);
  if (n > 0)
    qsort(names, n, sizeof *names, by_name);
  int status = 0;
  for (size_t i = 0; i < n; i++) {
    struct stat st;
    if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
      status |= run_file(names[i]);
      ++*count;
    }
    free(names[i]);
  }
  free(names);
  return status;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
    return 2;
  }
  int status = 0, count = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
      status = 1;
    } else if (S_ISDIR(st.st_mode)) {
      status |= run_dir(argv[i], &count);
    } else {
      status |= run_file(argv[i]);
      count++;
    }
  }
  printf("replay: %d inputs run\n", count);
  return status;
}

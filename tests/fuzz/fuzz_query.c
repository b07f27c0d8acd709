/* fuzz_query.c — fuzz target for the expression language (query.h): the
 * input is a program text.  It is parsed, run with three small inputs bound
 * (x: float64 (3, 4), i: int64 (5,), b: bool (3, 4)), and its last value is
 * computed and printed as `tessera eval` prints it (a value over the print
 * limit is cut to its first 3 elements per axis first).  Any status is
 * fine; a crash, a sanitizer report, a leak of accounted memory or a hang
 * is a finding.  The memory limit and the task cap of fuzz_common.h keep
 * programs such as `ones((10**9,))` cheap. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static tsr_status bind_inputs(tsr_ctx *ctx, tsr_program *prog) {
  static const double x[12] = {0.5, -1, 2, 3, 4, 5, -0.0, 7, 1e300, -8, 9, 10};
  static const int64_t i[5] = {3, -2, 0, INT64_MAX, 7};
  static const bool b[12] = {true, false, true, true,  false, false,
                             true, false, true, false, false, true};
  static const int64_t x_shape[2] = {3, 4}, i_shape[1] = {5};
  static const int64_t x_chunks[2] = {2, 3}, i_chunks[1] = {2};
  struct {
    const char *name;
    tsr_dtype dtype;
    int ndim;
    const int64_t *shape, *chunks;
    const void *data;
  } in[3] = {{"x", TSR_FLOAT64, 2, x_shape, x_chunks, x},
             {"i", TSR_INT64, 1, i_shape, i_chunks, i},
             {"b", TSR_BOOL, 2, x_shape, NULL, b}};
  for (int k = 0; k < 3; k++) {
    tsr_array *a = NULL;
    tsr_status s = tsr_array_from_buffer(ctx, in[k].dtype, in[k].ndim, in[k].shape, in[k].chunks,
                                         (void *)in[k].data, TSR_BUFFER_COPY, NULL, NULL, &a);
    if (s == TSR_OK)
      s = tsr_program_bind(prog, in[k].name, a);
    tsr_array_destroy(&a);
    if (s != TSR_OK)
      return s;
  }
  return TSR_OK;
}

/* Prints `value`, or its first 3 elements per axis when it is over the
 * print limit. */
static void print_value(tsr_array *value) {
  tsr_compute_options co = fuzz_compute_options();
  tsr_array *shown = NULL;
  if (tsr_array_size(value) > TSR_PROGRAM_PRINT_MAX) {
    tsr_index index[TSR_MAX_NDIM];
    int nd = tsr_array_ndim(value);
    for (int d = 0; d < nd; d++)
      index[d] = TSR_SLICE(0, 3, 1);
    if (tsr_slice(value, nd, index, &shown) != TSR_OK)
      return;
    value = shown;
  }
  FUZZ_IGNORE(tsr_program_format_value(value, &co, fuzz_devnull()));
  tsr_array_destroy(&shown);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *source = malloc(size + 1);
  if (source == NULL)
    return 0;
  memcpy(source, data, size);
  source[size] = '\0';

  tsr_ctx *ctx = fuzz_ctx();
  tsr_program *prog = NULL;
  tsr_array *last = NULL;
  if (tsr_program_parse(ctx, source, &prog) == TSR_OK) {
    const char *const *names = NULL;
    size_t n = tsr_program_inputs(prog, &names);
    for (size_t k = 0; k < n; k++)
      (void)strlen(names[k]);
    if (bind_inputs(ctx, prog) == TSR_OK && tsr_program_run(prog, &last) == TSR_OK && last != NULL)
      print_value(last);
    tsr_array_destroy(&last);
    /* A second run starts afresh (query.h): it must behave the same. */
    if (tsr_program_run(prog, &last) == TSR_OK && last != NULL)
      (void)tsr_array_size(last);
    tsr_array_destroy(&last);
  }
  tsr_program_destroy(&prog);
  fuzz_ctx_done(&ctx);
  free(source);
  return 0;
}

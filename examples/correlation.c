/* correlation.c — the correlation matrix of stations' series (np.corrcoef
 * of the transposed data: one row per station), and the most correlated
 * pair of distinct stations.
 *
 *   correlation IN.h5 DATASET        (DATASET is time x stations)
 *
 * corrcoef centres each row and multiplies the matrix by its transpose;
 * tessera hands the transposed operand to BLAS with its transpose flag
 * instead of copying it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <tessera/tessera.h>

static void check(tsr_status s, const char *what) {
  if (s != TSR_OK) {
    fprintf(stderr, "correlation: %s: %s\n", what, tsr_last_error());
    exit(1);
  }
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: correlation IN.h5 DATASET\n");
    return 2;
  }
  tsr_ctx *ctx = NULL;
  check(tsr_ctx_create(&ctx), "context");
  tsr_array *x = NULL, *xt = NULL, *corr = NULL;
  check(tsr_array_from_hdf5(ctx, argv[1], argv[2], NULL, &x), "input");
  check(tsr_transpose(x, NULL, &xt), "transpose");
  check(tsr_corrcoef(xt, &corr), "corrcoef");
  int64_t n = tsr_array_shape(corr)[0];
  double *c = malloc((size_t)(n * n) * sizeof *c);
  if (c == NULL)
    return 1;
  check(tsr_array_to_buffer(corr, c, (size_t)(n * n) * sizeof *c), "compute");
  int64_t bi = 0, bj = 1;
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = i + 1; j < n; j++)
      if (c[i * n + j] > c[bi * n + bj])
        bi = i, bj = j;
  printf("correlation: %lld stations; most correlated pair: %lld and %lld (r = %.4f)\n",
         (long long)n, (long long)bi, (long long)bj, c[bi * n + bj]);
  free(c);
  tsr_array_destroy(&corr);
  tsr_array_destroy(&xt);
  tsr_array_destroy(&x);
  tsr_ctx_destroy(&ctx);
  return 0;
}

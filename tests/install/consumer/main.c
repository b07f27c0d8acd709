/* A program outside tessera, linked against the installed library: the sum
 * of squares 0..999 through a fused elementwise program and a reduction,
 * and the sum of a small matrix product (OpenBLAS underneath). */
#include <stdio.h>
#include <tessera/tessera.h>

int main(void) {
  tsr_ctx *ctx = NULL;
  tsr_array *x = NULL, *sq = NULL, *s = NULL, *a = NULL, *b = NULL, *ab = NULL, *t = NULL;
  double squares = 0, product = 0;
  int status = 1;
  if (tsr_ctx_create(&ctx) ||
      tsr_array_arange(ctx, TSR_FLOAT64, 0, 1000, 1, 64, &x) ||
      tsr_binary(TSR_OP_MUL, x, x, &sq) || tsr_sum(sq, (int[]){0}, 1, false, &s) ||
      tsr_array_to_buffer(s, &squares, sizeof squares))
    goto done;
  /* ones(4, 3) @ full(3, 2, 2): every element is 6, the sum 48. */
  if (tsr_array_ones(ctx, TSR_FLOAT64, 2, (int64_t[]){4, 3}, (int64_t[]){2, 2}, &a) ||
      tsr_array_full(ctx, TSR_FLOAT64, 2, (int64_t[]){3, 2}, (int64_t[]){2, 1}, 2, &b) ||
      tsr_matmul(a, b, &ab) || tsr_sum(ab, (int[]){0, 1}, 2, false, &t) ||
      tsr_array_to_buffer(t, &product, sizeof product))
    goto done;
  printf("tessera %s: sum of squares %.17g, sum of product %.17g\n", TSR_VERSION_STRING, squares,
         product);
  status = 0;
done:
  if (status)
    fprintf(stderr, "error: %s\n", tsr_last_error());
  tsr_array_destroy(&x);
  tsr_array_destroy(&sq);
  tsr_array_destroy(&s);
  tsr_array_destroy(&a);
  tsr_array_destroy(&b);
  tsr_array_destroy(&ab);
  tsr_array_destroy(&t);
  tsr_ctx_destroy(&ctx);
  return status;
}

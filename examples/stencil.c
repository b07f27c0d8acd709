/* stencil.c — heat diffusion on a periodic 2-D grid with map_overlap: each
 * step is a 5-point stencil that needs one cell of each neighbouring chunk
 * (the halo), which tessera hands the kernel.
 *
 *   stencil [N] [STEPS]      (default 512 x 512 cells, 40 steps)
 *
 * The grid (random heat, 0 to 100 per cell) is split into 4 x 4 chunks;
 * the steps are chained lazily and computed every 10 steps
 * (tsr_array_persist keeps the result in memory, so the graph stays small).  With periodic boundaries heat is conserved: the
 * program prints the total before and after and fails when they differ by
 * more than rounding. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <tessera/tessera.h>

#define ALPHA 0.2 /* diffusion number: stable below 0.25 */

static void check(tsr_status s, const char *what) {
  if (s != TSR_OK) {
    fprintf(stderr, "stencil: %s: %s\n", what, tsr_last_error());
    exit(1);
  }
}

/* One explicit step: u' = u + ALPHA * (sum of the 4 neighbours - 4 u).  The
 * input block is the chunk extended by one cell on each side. */
static tsr_status diffuse(void *out, const tsr_block_info *oi, const void *const *in,
                          const tsr_block_info *ii, size_t n_in, void *user) {
  (void)n_in;
  (void)user;
  const double *u = in[0];
  double *v = out;
  int64_t rows = oi->shape[0], cols = oi->shape[1], w = ii[0].shape[1];
  for (int64_t i = 0; i < rows; i++)
    for (int64_t j = 0; j < cols; j++) {
      const double *c = u + (i + 1) * w + (j + 1);
      v[i * cols + j] = *c + ALPHA * (c[-1] + c[1] + c[-w] + c[w] - 4 * *c);
    }
  return TSR_OK;
}

static double total(tsr_array *a) {
  tsr_array *s = NULL;
  double v = 0;
  check(tsr_sum(a, NULL, 0, false, &s), "sum");
  check(tsr_array_to_buffer(s, &v, sizeof v), "compute the sum");
  tsr_array_destroy(&s);
  return v;
}

int main(int argc, char **argv) {
  int64_t n = argc > 1 ? atoll(argv[1]) : 512;
  int steps = argc > 2 ? atoi(argv[2]) : 40;
  if (n < 8 || steps < 0) {
    fprintf(stderr, "usage: stencil [N >= 8] [STEPS >= 0]\n");
    return 2;
  }
  tsr_ctx *ctx = NULL;
  check(tsr_ctx_create(&ctx), "context");
  /* Random heat, 0 to 100 per cell. */
  int64_t shape[2] = {n, n}, chunks[2] = {n / 4, n / 4};
  tsr_array *r = NULL, *u = NULL;
  check(tsr_array_random(ctx, TSR_RANDOM_UNIFORM, 1, 2, shape, chunks, &r), "initial field");
  check(tsr_binary_scalar(TSR_OP_MUL, r, 100.0, &u), "scale");
  tsr_array_destroy(&r);
  double before = total(u);
  const int64_t depth[2] = {1, 1};
  for (int s = 1; s <= steps; s++) {
    tsr_array *next = NULL;
    check(tsr_map_overlap(u, depth, TSR_BOUNDARY_PERIODIC, 0, diffuse, NULL, TSR_FLOAT64, &next),
          "map_overlap");
    tsr_array_destroy(&u);
    u = next;
    if (s % 10 == 0) { /* compute the chain so far, keep the result */
      tsr_array *kept = NULL;
      check(tsr_array_persist(u, &kept), "persist");
      tsr_array_destroy(&u);
      u = kept;
    }
  }
  double after = total(u);
  bool conserved = fabs(after - before) <= 1e-9 * fabs(before);
  printf("stencil: %lld x %lld cells, %d steps: total heat %.6f before, %.6f after: %s\n",
         (long long)n, (long long)n, steps, before, after,
         conserved ? "conserved" : "NOT conserved");
  tsr_array_destroy(&u);
  tsr_ctx_destroy(&ctx);
  return conserved ? 0 : 1;
}

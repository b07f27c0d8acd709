/* array_workloads.c — see array_workloads.h. */
#include "array_workloads.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const ids[N_WORKLOADS] = {"A1", "A2", "A3", "A4", "A5", "A6"};

/* ---- sizes (arrays_peers.py's scaled()) ----------------------------------- */

sizes scaled(int w, double scale) {
  static const int64_t full[N_WORKLOADS][2][2] = {
      {{100000, 0}, {1, 0}},         {{100000000, 0}, {10000000, 0}},
      {{20000, 5000}, {2000, 5000}}, {{4000, 4000}, {1000, 1000}},
      {{8000, 8000}, {2000, 2000}},  {{10000, 10000}, {2000, 2000}}};
  sizes s = {w <= 1 ? 1 : 2, {0, 0}, {0, 0}};
  double f = pow(scale, 1.0 / s.ndim);
  for (int d = 0; d < s.ndim; d++) {
    int64_t side = full[w][0][d], chunk = full[w][1][d];
    if (chunk == 1) {
      s.shape[d] = llround(side * f) > 0 ? llround(side * f) : 1;
      s.chunks[d] = 1;
    } else {
      int64_t c = llround(chunk * f) > 0 ? llround(chunk * f) : 1;
      s.shape[d] = c * (side / chunk);
      s.chunks[d] = c;
    }
  }
  return s;
}

int64_t nelem(const sizes *s) {
  int64_t n = 1;
  for (int d = 0; d < s->ndim; d++)
    n *= s->shape[d];
  return n;
}

/* The least bytes each workload must move (arrays_peers.py's bytes_touched). */
double bytes_touched(int w, const sizes *s) {
  static const double per_elem[N_WORKLOADS] = {0, 16, 8, 16, 8, 8};
  return per_elem[w] * (double)nelem(s);
}

/* ---- inputs ---------------------------------------------------------------- */

double *random_buffer(int64_t n, uint64_t seed) {
  double *p = malloc((size_t)n * sizeof *p);
  if (p == NULL) {
    fprintf(stderr, "error: cannot allocate %lld doubles for the inputs\n", (long long)n);
    if (bench_die_hook != NULL)
      bench_die_hook();
    exit(1);
  }
  tsr_random_fill_uniform(seed, 0, (size_t)n, p);
  return p;
}

inputs make_inputs(tsr_ctx *ctx, int w, const sizes *s) {
  inputs in = {0};
  if (w == 0)
    return in;
  int64_t n = nelem(s);
  in.x = random_buffer(n, 20240611);
  CHECK(tsr_array_from_buffer(ctx, TSR_FLOAT64, s->ndim, s->shape, s->chunks, in.x,
                              TSR_BUFFER_BORROW, NULL, NULL, &in.ax));
  if (w == 1 || w == 3) {
    in.y = random_buffer(n, 20240612);
    CHECK(tsr_array_from_buffer(ctx, TSR_FLOAT64, s->ndim, s->shape, s->chunks, in.y,
                                TSR_BUFFER_BORROW, NULL, NULL, &in.ay));
  }
  return in;
}

void free_inputs(inputs *in) {
  tsr_array_destroy(&in->ax);
  tsr_array_destroy(&in->ay);
  free(in->x);
  free(in->y);
}

/* ---- the workloads --------------------------------------------------------- */

/* Each builds the workload's expression (a 0-d float64 array). */
static tsr_array *a1(tsr_ctx *ctx, const sizes *s, inputs *in) {
  (void)in;
  tsr_array *ones, *plus, *sum;
  CHECK(tsr_array_ones(ctx, TSR_FLOAT64, 1, s->shape, s->chunks, &ones));
  CHECK(tsr_binary_scalar(TSR_OP_ADD, ones, 1, &plus));
  CHECK(tsr_sum(plus, NULL, 0, false, &sum));
  tsr_array_destroy(&ones);
  tsr_array_destroy(&plus);
  return sum;
}

static tsr_array *a2(tsr_ctx *ctx, const sizes *s, inputs *in) {
  (void)ctx;
  (void)s;
  tsr_array *xx, *yy, *h, *r, *half, *plus, *sum;
  CHECK(tsr_mul(in->ax, in->ax, &xx));
  CHECK(tsr_mul(in->ay, in->ay, &yy));
  CHECK(tsr_add(xx, yy, &h));
  CHECK(tsr_unary(TSR_OP_SQRT, h, &r));
  CHECK(tsr_binary_scalar(TSR_OP_MUL, r, 0.5, &half));
  CHECK(tsr_binary_scalar(TSR_OP_ADD, half, 1, &plus));
  CHECK(tsr_sum(plus, NULL, 0, false, &sum));
  tsr_array *tmp[] = {xx, yy, h, r, half, plus};
  for (size_t i = 0; i < sizeof tmp / sizeof *tmp; i++)
    tsr_array_destroy(&tmp[i]);
  return sum;
}

static tsr_array *a3(tsr_ctx *ctx, const sizes *s, inputs *in) {
  (void)ctx;
  (void)s;
  tsr_array *m, *sm, *sd, *r;
  CHECK(tsr_mean(in->ax, (int[]){0}, 1, false, &m));
  CHECK(tsr_sum(m, NULL, 0, false, &sm));
  CHECK(tsr_std(in->ax, NULL, 0, 0, false, &sd));
  CHECK(tsr_add(sm, sd, &r));
  tsr_array_destroy(&m);
  tsr_array_destroy(&sm);
  tsr_array_destroy(&sd);
  return r;
}

/* The 5-point Laplacian of the interior points; the array's edge rows and
 * columns get 0 (they lack neighbours), as in arrays_peers.py. */
static tsr_status laplacian5(void *out, const tsr_block_info *oi, const void *const *in,
                             const tsr_block_info *ii, size_t n_in, void *user) {
  (void)n_in;
  (void)user;
  const double *x = in[0];
  double *o = out;
  int64_t rows = oi->shape[0], cols = oi->shape[1], width = ii->shape[1];
  int64_t n0 = oi->array_shape[0], n1 = oi->array_shape[1];
  int64_t r0 = oi->offset[0] - ii->offset[0], c0 = oi->offset[1] - ii->offset[1];
  int64_t jlo = oi->offset[1] == 0 ? 1 : 0;
  int64_t jhi = oi->offset[1] + cols == n1 ? cols - 1 : cols;
  for (int64_t i = 0; i < rows; i++) {
    double *orow = o + i * cols;
    int64_t gi = oi->offset[0] + i;
    if (gi == 0 || gi == n0 - 1 || jhi <= jlo) {
      memset(orow, 0, (size_t)cols * sizeof *orow);
      continue;
    }
    const double *mid = x + (r0 + i) * width + c0;
    const double *up = mid - width, *down = mid + width;
    for (int64_t j = 0; j < jlo; j++)
      orow[j] = 0;
    for (int64_t j = jlo; j < jhi; j++)
      orow[j] = up[j] + down[j] + mid[j - 1] + mid[j + 1] - 4 * mid[j];
    for (int64_t j = jhi; j < cols; j++)
      orow[j] = 0;
  }
  return TSR_OK;
}

static tsr_array *a4(tsr_ctx *ctx, const sizes *s, inputs *in) {
  (void)ctx;
  (void)s;
  tsr_array *p, *sum;
  CHECK(tsr_matmul(in->ax, in->ay, &p));
  CHECK(tsr_sum(p, NULL, 0, false, &sum));
  tsr_array_destroy(&p);
  return sum;
}

static tsr_array *a5(tsr_ctx *ctx, const sizes *s, inputs *in) {
  (void)ctx;
  (void)s;
  tsr_array *lap, *sum;
  CHECK(tsr_map_overlap(in->ax, (int64_t[]){1, 1}, TSR_BOUNDARY_NONE, 0, laplacian5, NULL,
                        TSR_FLOAT64, &lap));
  CHECK(tsr_sum(lap, NULL, 0, false, &sum));
  tsr_array_destroy(&lap);
  return sum;
}

static tsr_array *a6(tsr_ctx *ctx, const sizes *s, inputs *in) {
  (void)ctx;
  (void)s;
  tsr_array *t, *plus, *sum;
  CHECK(tsr_transpose(in->ax, NULL, &t));
  CHECK(tsr_add(in->ax, t, &plus));
  CHECK(tsr_sum(plus, NULL, 0, false, &sum));
  tsr_array_destroy(&t);
  tsr_array_destroy(&plus);
  return sum;
}

const workload_fn workloads[N_WORKLOADS] = {a1, a2, a3, a4, a5, a6};

double parse_scale(const char *v) {
  char *end;
  double scale = strtod(v, &end);
  if (*end != '\0' || !(scale > 0)) {
    fprintf(stderr, "error: --scale '%s' is not a positive number\n", v);
    exit(2);
  }
  return scale;
}

void parse_workload_list(const char *list, bool run[N_WORKLOADS]) {
  char copy[256];
  snprintf(copy, sizeof copy, "%s", list);
  for (char *tok = strtok(copy, ","); tok != NULL; tok = strtok(NULL, ",")) {
    int w = 0;
    while (w < N_WORKLOADS && strcmp(tok, ids[w]) != 0)
      w++;
    if (w == N_WORKLOADS || workloads[w] == NULL) {
      fprintf(stderr, "error: --workloads: '%s' is not a workload (A1-A6)\n", tok);
      exit(2);
    }
    run[w] = true;
  }
}

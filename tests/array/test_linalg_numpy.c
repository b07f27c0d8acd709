/* test_linalg_numpy.c — the factorizations against numpy.linalg run by
 * /usr/bin/python3 on the same matrices (raw float64 files in a scratch
 * directory): qr (|Q| and |R|, since NumPy leaves LAPACK's signs and
 * tessera makes R's diagonal non-negative), svd with full_matrices=False
 * (S, and |U|, |Vt|: singular vectors are unique up to sign for distinct
 * singular values), lstsq's x, solve, inv and cholesky, within 1e-10
 * relative.  The program is skipped (exit 77) when /usr/bin/python3 cannot
 * import numpy; test_linalg_qr checks the same functions against C
 * references without it. */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define PYTHON "/usr/bin/python3"

static char dir[64];

static void path_of(char *buf, size_t size, const char *name) {
  snprintf(buf, size, "%s/%s.bin", dir, name);
}

static void write_raw(const char *name, const double *v, int64_t n) {
  char path[128];
  path_of(path, sizeof path, name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(v, sizeof *v, (size_t)n, f), (size_t)n);
  fclose(f);
}

static double *read_raw(const char *name, int64_t n) {
  char path[128];
  path_of(path, sizeof path, name);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  double *v = malloc((size_t)(n + 1) * sizeof *v);
  assert_non_null(v);
  assert_int_equal(fread(v, sizeof *v, (size_t)n, f), (size_t)n);
  fclose(f);
  unlink(path);
  return v;
}

static double *compute(tsr_array **a, int64_t n) {
  double *v = malloc((size_t)(n + 1) * sizeof *v);
  assert_non_null(v);
  assert_ok(tsr_array_to_buffer(*a, v, (size_t)n * sizeof *v));
  tsr_array_destroy(a);
  return v;
}

/* Every |ours| (or ours) within tol of NumPy's, relative to NumPy's largest. */
static void expect_close(const char *what, const double *ours, const double *np, int64_t n,
                         bool abs_values, double tol) {
  double scale = 0;
  for (int64_t i = 0; i < n; i++)
    scale = fmax(scale, fabs(np[i]));
  for (int64_t i = 0; i < n; i++) {
    double x = abs_values ? fabs(ours[i]) : ours[i], y = abs_values ? fabs(np[i]) : np[i];
    if (!(fabs(x - y) <= tol * (scale > 1 ? scale : 1)))
      print_error("%s[%lld]: ours %.17g, numpy %.17g\n", what, (long long)i, ours[i], np[i]);
    assert_true(fabs(x - y) <= tol * (scale > 1 ? scale : 1));
  }
}

static void test_linalg_numpy__matches_numpy_linalg(void **state) {
  tsr_ctx *ctx = *state;
  enum { M = 120, N = 5, K = 2, S = 9 };
  static double a[M * N], b[M * K], sq[S * S], spd[S * S];
  for (int i = 0; i < M * N; i++)
    a[i] = sin(0.37 * i + 1.0) + 0.01 * (i % 7);
  for (int i = 0; i < M * K; i++)
    b[i] = cos(0.11 * i) * 3.0;
  for (int i = 0; i < S * S; i++)
    sq[i] = sin(1.3 * i * i + 0.5) + (i % (S + 1) == 0 ? 4.0 : 0.0);
  for (int i = 0; i < S; i++)
    for (int j = 0; j < S; j++) {
      double v = 0;
      for (int t = 0; t < S; t++)
        v += sq[i * S + t] * sq[j * S + t];
      spd[i * S + j] = v;
    }
  write_raw("a", a, M * N);
  write_raw("b", b, M * K);
  write_raw("sq", sq, S * S);
  write_raw("spd", spd, S * S);
  char cmd[2048];
  snprintf(cmd, sizeof cmd,
           PYTHON " -c \"\n"
                  "import numpy as np\n"
                  "d = '%s'\n"
                  "r = lambda n, s: np.fromfile(d + '/' + n + '.bin').reshape(s)\n"
                  "w = lambda n, v: np.ascontiguousarray(v, dtype='f8').tofile(d + '/np_' + n + "
                  "'.bin')\n"
                  "a = r('a', (%d, %d)); b = r('b', (%d, %d)); sq = r('sq', (%d, %d)); spd = "
                  "r('spd', (%d, %d))\n"
                  "q, R = np.linalg.qr(a); w('q', q); w('r', R)\n"
                  "u, s, vt = np.linalg.svd(a, full_matrices=False); w('u', u); w('s', s); "
                  "w('vt', vt)\n"
                  "w('lstsq', np.linalg.lstsq(a, b, rcond=None)[0])\n"
                  "w('solve', np.linalg.solve(sq, b[:%d])); w('inv', np.linalg.inv(sq))\n"
                  "w('cholesky', np.linalg.cholesky(spd))\n"
                  "\"",
           dir, M, N, M, K, S, S, S, S, S);
  assert_int_equal(system(cmd), 0);

  tsr_array *x = NULL, *y = NULL, *xs = NULL, *xp = NULL, *ys = NULL;
  assert_ok(tsr_array_from_buffer(ctx, TSR_FLOAT64, 2, (int64_t[]){M, N}, (int64_t[]){17, 3}, a,
                                  TSR_BUFFER_BORROW, NULL, NULL, &x));
  assert_ok(tsr_array_from_buffer(ctx, TSR_FLOAT64, 2, (int64_t[]){M, K}, (int64_t[]){31, 1}, b,
                                  TSR_BUFFER_BORROW, NULL, NULL, &y));
  assert_ok(tsr_array_from_buffer(ctx, TSR_FLOAT64, 2, (int64_t[]){S, S}, (int64_t[]){4, 4}, sq,
                                  TSR_BUFFER_BORROW, NULL, NULL, &xs));
  assert_ok(tsr_array_from_buffer(ctx, TSR_FLOAT64, 2, (int64_t[]){S, S}, NULL, spd,
                                  TSR_BUFFER_BORROW, NULL, NULL, &xp));
  assert_ok(tsr_slice(y, 1, (tsr_index[]){TSR_SLICE(0, S, 1)}, &ys));
  tsr_array *q = NULL, *r = NULL, *u = NULL, *s = NULL, *vt = NULL, *ls = NULL, *so = NULL,
            *inv = NULL, *ch = NULL;
  assert_ok(tsr_qr(x, &q, &r));
  assert_ok(tsr_svd(x, &u, &s, &vt));
  assert_ok(tsr_lstsq(x, y, &ls));
  assert_ok(tsr_solve(xs, ys, &so));
  assert_ok(tsr_inv(xs, &inv));
  assert_ok(tsr_cholesky(xp, &ch));
  struct {
    const char *name;
    tsr_array **arr;
    int64_t n;
    bool abs_values;
  } checks[] = {
      {"q", &q, M * N, true},       {"r", &r, N * N, true},      {"u", &u, M * N, true},
      {"s", &s, N, false},          {"vt", &vt, N * N, true},    {"lstsq", &ls, N * K, false},
      {"solve", &so, S * K, false}, {"inv", &inv, S * S, false}, {"cholesky", &ch, S * S, false},
  };
  for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
    char name[32];
    snprintf(name, sizeof name, "np_%s", checks[i].name);
    double *ours = compute(checks[i].arr, checks[i].n), *np = read_raw(name, checks[i].n);
    expect_close(checks[i].name, ours, np, checks[i].n, checks[i].abs_values, 1e-10);
    free(ours);
    free(np);
  }
  tsr_array_destroy(&x);
  tsr_array_destroy(&y);
  tsr_array_destroy(&xs);
  tsr_array_destroy(&xp);
  tsr_array_destroy(&ys);
  static const char *const inputs[] = {"a", "b", "sq", "spd"};
  for (int i = 0; i < 4; i++) {
    char path[128];
    path_of(path, sizeof path, inputs[i]);
    unlink(path);
  }
}

int main(void) {
  if (system(PYTHON " -c 'import numpy' >/dev/null 2>&1") != 0) {
    printf("numpy is not importable by " PYTHON ": skipped (install python3-numpy)\n");
    return 77;
  }
  snprintf(dir, sizeof dir, "/tmp/tessera_linalg_np_XXXXXX");
  if (mkdtemp(dir) == NULL)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_linalg_numpy__matches_numpy_linalg, test_ctx_setup,
                                      test_ctx_teardown),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  rmdir(dir);
  return failed;
}

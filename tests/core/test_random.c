/* test_random.c — the counter-based generator: Philox4x32-10 against the
 * Random123 known-answer vectors; the per-element mapping (u64, uniform,
 * Box-Muller normal) against a reference Philox written here from the paper;
 * fills equal to per-index calls, bit for bit, for any split of a range;
 * statistical sanity at a fixed seed with bounds many sigmas wide; and
 * distinct streams for distinct seeds. */
#include "test_util.h"

#include <math.h>
#include <stdlib.h>

/* ---- reference ------------------------------------------------------------ */

/* Philox4x32-10 from the paper, written independently of the library: all
 * ten round keys first, then the rounds with a 64-bit product split by hand. */
static void ref_philox(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
  uint32_t rk[10][2];
  for (int r = 0; r < 10; r++) {
    rk[r][0] = key[0] + (uint32_t)r * 0x9E3779B9u;
    rk[r][1] = key[1] + (uint32_t)r * 0xBB67AE85u;
  }
  uint32_t x[4] = {ctr[0], ctr[1], ctr[2], ctr[3]};
  for (int r = 0; r < 10; r++) {
    uint64_t a = 0xD2511F53ull * x[0], b = 0xCD9E8D57ull * x[2];
    uint32_t a_hi = (uint32_t)(a / 4294967296ull), a_lo = (uint32_t)(a % 4294967296ull);
    uint32_t b_hi = (uint32_t)(b / 4294967296ull), b_lo = (uint32_t)(b % 4294967296ull);
    uint32_t y[4] = {b_hi ^ x[1] ^ rk[r][0], b_lo, a_hi ^ x[3] ^ rk[r][1], a_lo};
    memcpy(x, y, sizeof x);
  }
  memcpy(out, x, sizeof x);
}

static void ref_element(uint64_t seed, uint64_t index, uint32_t out[4]) {
  const uint32_t ctr[4] = {(uint32_t)(index & 0xffffffffu), (uint32_t)(index >> 32), 0, 0};
  const uint32_t key[2] = {(uint32_t)(seed & 0xffffffffu), (uint32_t)(seed >> 32)};
  ref_philox(ctr, key, out);
}

static const struct {
  uint32_t ctr[4], key[2], out[4];
} known_answers[] = {
    {{0x00000000, 0x00000000, 0x00000000, 0x00000000},
     {0x00000000, 0x00000000},
     {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
     {0xffffffff, 0xffffffff},
     {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
     {0xa4093822, 0x299f31d0},
     {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
};

/* ---- tests ---------------------------------------------------------------- */

static void test_random__philox_known_answers(void **state) {
  (void)state;
  for (size_t v = 0; v < sizeof known_answers / sizeof known_answers[0]; v++) {
    uint32_t out[4] = {0, 0, 0, 0}, ref[4];
    tsr_philox4x32_10(known_answers[v].ctr, known_answers[v].key, out);
    ref_philox(known_answers[v].ctr, known_answers[v].key, ref);
    for (int w = 0; w < 4; w++) {
      if (out[w] != known_answers[v].out[w])
        print_error("vector %zu word %d: %08x, expected %08x\n", v, w, out[w],
                    known_answers[v].out[w]);
      assert_int_equal(out[w], known_answers[v].out[w]);
      assert_int_equal(ref[w], known_answers[v].out[w]); /* the reference is right too */
    }
  }
}

static void test_random__mapping_follows_the_spec(void **state) {
  (void)state;
  /* Seed 0, index 0 is the all-zero known-answer block. */
  assert_true(tsr_random_u64(0, 0) == 0xe169c58d6627e8d5ull);
  assert_true(tsr_random_uniform(0, 0) == (double)(0xe169c58d6627e8d5ull >> 11) * 0x1.0p-53);

  const uint64_t seeds[] = {0,         1, 42, 0xffffffffull, 0x100000000ull, 0x299f31d0a4093822ull,
                            UINT64_MAX};
  const uint64_t indices[] = {
      0, 1, 2, 1000, 0xffffffffull, 0x100000000ull, 0x123456789abcdefull, UINT64_MAX};
  for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
    for (size_t i = 0; i < sizeof indices / sizeof indices[0]; i++) {
      uint32_t w[4];
      ref_element(seeds[s], indices[i], w);
      uint64_t lo = (uint64_t)w[1] * 4294967296ull + w[0];
      uint64_t hi = (uint64_t)w[3] * 4294967296ull + w[2];
      assert_true(tsr_random_u64(seeds[s], indices[i]) == lo);
      double u = tsr_random_uniform(seeds[s], indices[i]);
      assert_true(u == (double)(lo >> 11) / 9007199254740992.0); /* 2^53 */
      double u1 = (double)(lo >> 11) / 9007199254740992.0;
      double u2 = (double)(hi >> 11) / 9007199254740992.0;
      double z = sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2);
      double got = tsr_random_normal(seeds[s], indices[i]);
      assert_true(fabs(got - z) <= 1e-12 * (1.0 + fabs(z)));
    }
  }
}

static void test_random__fill_equals_single_values(void **state) {
  (void)state;
  const uint64_t firsts[] = {0, 1, 15, 17, 0xffffffffull - 20, UINT64_MAX - 20};
  const size_t counts[] = {0, 1, 15, 16, 17, 33, 100, 1000};
  double *u = malloc(1000 * sizeof *u), *z = malloc(1000 * sizeof *z);
  assert_non_null(u);
  assert_non_null(z);
  for (size_t f = 0; f < sizeof firsts / sizeof firsts[0]; f++) {
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
      size_t n = counts[c];
      const uint64_t seed = 0x5eed0000ull + f;
      tsr_random_fill_uniform(seed, firsts[f], n, u);
      tsr_random_fill_normal(seed, firsts[f], n, z);
      for (size_t i = 0; i < n; i++) {
        double eu = tsr_random_uniform(seed, firsts[f] + i);
        double ez = tsr_random_normal(seed, firsts[f] + i);
        /* Bit for bit, not just equal as doubles. */
        assert_memory_equal(&u[i], &eu, sizeof eu);
        assert_memory_equal(&z[i], &ez, sizeof ez);
      }
    }
  }
  free(u);
  free(z);
}

/* Fills [first, first + n) in pieces cut at `cuts` (sorted, within 0..n). */
static void fill_in_pieces(bool normal, uint64_t seed, uint64_t first, size_t n, const size_t *cuts,
                           size_t ncuts, double *out) {
  size_t start = 0;
  for (size_t k = 0; k <= ncuts; k++) {
    size_t end = k < ncuts ? cuts[k] : n;
    if (normal)
      tsr_random_fill_normal(seed, first + start, end - start, out + start);
    else
      tsr_random_fill_uniform(seed, first + start, end - start, out + start);
    start = end;
  }
}

static void test_random__independent_of_chunking(void **state) {
  (void)state;
  enum { N = 10007 };
  const uint64_t seed = 2024, first = 123456789;
  double *whole = malloc(N * sizeof *whole), *pieces = malloc(N * sizeof *pieces);
  size_t *cuts = malloc(N * sizeof *cuts);
  assert_non_null(whole);
  assert_non_null(pieces);
  assert_non_null(cuts);
  for (int normal = 0; normal < 2; normal++) {
    fill_in_pieces(normal, seed, first, N, NULL, 0, whole);
    /* Chunkings: one-element chunks, chunks of 7, 16 and 1000 (ragged last),
     * random cuts (some empty pieces), and one chunk. */
    for (int chunking = 0; chunking < 6; chunking++) {
      size_t ncuts = 0;
      if (chunking == 0) {
        for (size_t i = 1; i < N; i++)
          cuts[ncuts++] = i;
      } else if (chunking <= 3) {
        size_t step = chunking == 1 ? 7 : (chunking == 2 ? 16 : 1000);
        for (size_t i = step; i < N; i += step)
          cuts[ncuts++] = i;
      } else if (chunking == 4) {
        uint64_t s = 99;
        size_t at = 0;
        while (ncuts < 200) {
          s = s * 6364136223846793005ull + 1442695040888963407ull;
          at += (size_t)((s >> 33) % 97); /* steps of 0 make empty pieces */
          if (at > N)
            break;
          cuts[ncuts++] = at;
        }
      }
      memset(pieces, 0, N * sizeof *pieces);
      fill_in_pieces(normal, seed, first, N, cuts, ncuts, pieces);
      assert_memory_equal(whole, pieces, N * sizeof *whole);
    }
  }
  free(whole);
  free(pieces);
  free(cuts);
}

static void test_random__statistics(void **state) {
  (void)state;
  enum { N = 1000000 };
  double *x = malloc(N * sizeof *x);
  assert_non_null(x);
  /* Uniform: sd of the mean is 0.289 / 1000, so 0.002 is about 7 sigma. */
  tsr_random_fill_uniform(7, 0, N, x);
  double sum = 0;
  for (size_t i = 0; i < N; i++) {
    assert_true(x[i] >= 0.0 && x[i] < 1.0);
    sum += x[i];
  }
  double mean = sum / N;
  if (fabs(mean - 0.5) >= 0.002)
    print_error("uniform mean %.6f\n", mean);
  assert_true(fabs(mean - 0.5) < 0.002);
  /* Normal: sd of the sample variance is sqrt(2 / N) = 0.0014, of the mean
   * 0.001; 0.01 is 7 and 10 sigma. */
  tsr_random_fill_normal(7, 0, N, x);
  sum = 0;
  for (size_t i = 0; i < N; i++) {
    assert_true(isfinite(x[i]));
    sum += x[i];
  }
  mean = sum / N;
  double ss = 0;
  for (size_t i = 0; i < N; i++)
    ss += (x[i] - mean) * (x[i] - mean);
  double variance = ss / (N - 1);
  if (fabs(mean) >= 0.01 || fabs(variance - 1.0) >= 0.01)
    print_error("normal mean %.6f variance %.6f\n", mean, variance);
  assert_true(fabs(mean) < 0.01);
  assert_true(fabs(variance - 1.0) < 0.01);
  free(x);
}

static void test_random__seeds_give_different_streams(void **state) {
  (void)state;
  /* Seeds differing in the low word, in the high word only, and extremes. */
  const uint64_t seeds[] = {0, 1, 2, 0x100000000ull, 0x100000001ull, UINT64_MAX};
  const size_t nseeds = sizeof seeds / sizeof seeds[0];
  enum { N = 1000 };
  for (size_t a = 0; a < nseeds; a++) {
    for (size_t b = a + 1; b < nseeds; b++) {
      int same = 0;
      for (uint64_t i = 0; i < N; i++)
        same += tsr_random_u64(seeds[a], i) == tsr_random_u64(seeds[b], i);
      assert_int_equal(same, 0);
    }
  }
  /* Indices differing only in the high word give different values too. */
  for (uint64_t i = 0; i < N; i++)
    assert_true(tsr_random_u64(5, i) != tsr_random_u64(5, i + 0x100000000ull));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_random__philox_known_answers),
      cmocka_unit_test(test_random__mapping_follows_the_spec),
      cmocka_unit_test(test_random__fill_equals_single_values),
      cmocka_unit_test(test_random__independent_of_chunking),
      cmocka_unit_test(test_random__statistics),
      cmocka_unit_test(test_random__seeds_give_different_streams),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

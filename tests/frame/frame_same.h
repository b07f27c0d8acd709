/* frame_same.h — asserts that two frames compute to the same thing: column
 * names and types, dictionaries (entries by text), row chunks (how many and
 * the rows of each) and values (strings by text, nulls at the same rows,
 * other values bit for bit).  For tests of rewrites that must not change a
 * result, such as a WHERE pushed into the CSV reader. */
#ifndef TSR_TEST_FRAME_SAME_H
#define TSR_TEST_FRAME_SAME_H

#include <string.h>

#include <tessera/tessera.h>

#include "test_util.h"

static inline void frames_assert_same(tsr_frame *want_f, tsr_frame *got_f) {
  tsr_frame_result *want = NULL, *got = NULL;
  assert_int_equal(tsr_frame_compute(want_f, NULL, &want), TSR_OK);
  tsr_status st = tsr_frame_compute(got_f, NULL, &got);
  if (st != TSR_OK)
    fail_msg("compute: %s: %s", tsr_status_name(st), tsr_last_error());
  int n = tsr_frame_result_ncols(want);
  assert_int_equal(tsr_frame_result_ncols(got), n);
  int64_t nchunks = tsr_frame_result_nchunks(want);
  assert_int_equal(tsr_frame_result_nchunks(got), nchunks);
  assert_int_equal(tsr_frame_result_nrows(got), tsr_frame_result_nrows(want));
  for (int c = 0; c < n; c++) {
    assert_string_equal(tsr_frame_result_col_name(got, c), tsr_frame_result_col_name(want, c));
    tsr_type t = tsr_frame_result_col_type(want, c), u = tsr_frame_result_col_type(got, c);
    assert_int_equal(u.id, t.id);
    assert_int_equal(u.unit, t.unit);
    if (t.id == TSR_COL_DICT) {
      int64_t ws, gs;
      const int64_t *wo, *go;
      const char *wd, *gd;
      assert_int_equal(tsr_frame_result_dict(want, c, &ws, &wo, &wd), TSR_OK);
      assert_int_equal(tsr_frame_result_dict(got, c, &gs, &go, &gd), TSR_OK);
      assert_int_equal(gs, ws);
      assert_memory_equal(go, wo, (size_t)(ws + 1) * sizeof *wo);
      if (wo[ws] > 0)
        assert_memory_equal(gd, wd, (size_t)wo[ws]);
    }
    size_t w = tsr_type_width(t);
    int64_t row0 = 0;
    for (int64_t k = 0; k < nchunks; k++) {
      tsr_column_chunk a, b;
      assert_int_equal(tsr_frame_result_chunk(want, c, k, &a), TSR_OK);
      assert_int_equal(tsr_frame_result_chunk(got, c, k, &b), TSR_OK);
      if (b.rows != a.rows)
        fail_msg("column %d chunk %lld: %lld rows, want %lld", c, (long long)k, (long long)b.rows,
                 (long long)a.rows);
      assert_int_equal(b.null_count, a.null_count);
      for (int64_t r = 0; r < a.rows; r++) {
        bool av = a.validity == NULL || ((a.validity[r / 8] >> (r % 8)) & 1);
        bool bv = b.validity == NULL || ((b.validity[r / 8] >> (r % 8)) & 1);
        if (av != bv)
          fail_msg("column %d chunk %lld row %lld: null differs", c, (long long)k, (long long)r);
        if (!av)
          continue;
        if (t.id == TSR_COL_STRING || t.id == TSR_COL_DICT) {
          const char *sa, *sb;
          size_t la, lb;
          bool na, nb;
          assert_int_equal(tsr_frame_result_string(want, c, row0 + r, &sa, &la, &na), TSR_OK);
          assert_int_equal(tsr_frame_result_string(got, c, row0 + r, &sb, &lb, &nb), TSR_OK);
          if (la != lb || (la > 0 && memcmp(sa, sb, la) != 0))
            fail_msg("column %d row %lld: '%.*s', want '%.*s'", c, (long long)(row0 + r), (int)lb,
                     sb, (int)la, sa);
        } else if (memcmp((const char *)a.values + (size_t)r * w,
                          (const char *)b.values + (size_t)r * w, w) != 0) {
          fail_msg("column %d chunk %lld row %lld: values differ", c, (long long)k, (long long)r);
        }
      }
      row0 += a.rows;
    }
  }
  tsr_frame_result_destroy(&want);
  tsr_frame_result_destroy(&got);
}

#endif /* TSR_TEST_FRAME_SAME_H */

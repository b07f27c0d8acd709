/* test_arrow.c — the Arrow C stream export and import (tessera/arrow.h):
 * random frames of every type (nulls, empty and unicode strings, every
 * timestamp unit, >= 64 ragged chunks, zero rows) through export then
 * import compared with the naive reference; the exported buffers checked
 * against the spec's layouts by hand (bit-packed bools, string views,
 * dictionaries, validity) and for zero-copy; the release rules (children
 * moved out and released after their parent, arrays outliving the stream:
 * the context's teardown checks every byte came back, ASan every access);
 * a hand-made producer with non-zero offsets in batches and children,
 * "u"/"U"/"vu" strings over several data buffers, a different dictionary
 * per batch with a null entry; unsupported formats and producer errors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "frame/frame_util.h"

/* ---- a random frame through export and import ----------------------------------------- */

/* Checks batch `a` (schema s) against rows [r0, r0 + a->length) of ref. */
static void check_batch(const struct ArrowSchema *s, const struct ArrowArray *a,
                        const ref_frame *ref, int64_t r0) {
  assert_string_equal(s->format, "+s");
  assert_int_equal(a->n_children, ref->ncols);
  assert_int_equal(a->offset, 0);
  for (int i = 0; i < ref->ncols; i++) {
    const ref_col *c = &ref->cols[i];
    const struct ArrowArray *ch = a->children[i];
    const struct ArrowSchema *cs = s->children[i];
    assert_string_equal(cs->name, c->name);
    assert_int_equal(ch->length, a->length);
    assert_non_null(ch->release);
    int64_t nulls = 0;
    const uint8_t *valid = ch->buffers[0];
    for (int64_t r = 0; r < ch->length; r++) {
      bool v = valid == NULL || ((valid[r / 8] >> (r % 8)) & 1);
      assert_int_equal(v, c->valid[r0 + r]);
      nulls += !v;
    }
    assert_int_equal(ch->null_count, nulls);
    if (valid == NULL)
      assert_int_equal(nulls, 0);
    for (int64_t r = 0; r < ch->length; r++) {
      if (!c->valid[r0 + r])
        continue;
      switch (c->type.id) {
      case TSR_COL_BOOL: {
        assert_string_equal(cs->format, "b");
        const uint8_t *bits = ch->buffers[1];
        assert_int_equal((bits[r / 8] >> (r % 8)) & 1, c->values[r0 + r]);
        break;
      }
      case TSR_COL_STRING: {
        /* The spec's view: length, then inline bytes zero-padded or a
         * prefix, buffer index and offset into buffers[2 + index]. */
        assert_string_equal(cs->format, "vu");
        assert_int_equal(ch->n_buffers, 4);
        const unsigned char *v = (const unsigned char *)ch->buffers[1] + 16 * r;
        int32_t len, bi, off;
        memcpy(&len, v, 4);
        const char *want = c->str[r0 + r];
        assert_int_equal(len, (int32_t)strlen(want));
        if (len <= 12) {
          assert_memory_equal(v + 4, want, (size_t)len);
          for (int k = len; k < 12; k++)
            assert_int_equal(v[4 + k], 0);
        } else {
          memcpy(&bi, v + 8, 4);
          memcpy(&off, v + 12, 4);
          assert_memory_equal(v + 4, want, 4);
          assert_int_equal(bi, 0);
          assert_true(off + len <= ((const int64_t *)ch->buffers[3])[0]);
          assert_memory_equal((const char *)ch->buffers[2] + off, want, (size_t)len);
        }
        break;
      }
      case TSR_COL_DICT: {
        assert_string_equal(cs->format, "i");
        assert_non_null(cs->dictionary);
        assert_string_equal(cs->dictionary->format, "U");
        const struct ArrowArray *d = ch->dictionary;
        int32_t code = ((const int32_t *)ch->buffers[1])[r];
        assert_true(code >= 0 && code < d->length);
        const int64_t *o = d->buffers[1];
        const char *want = c->str[r0 + r];
        assert_int_equal(o[code + 1] - o[code], (int64_t)strlen(want));
        assert_memory_equal((const char *)d->buffers[2] + o[code], want, strlen(want));
        break;
      }
      default: {
        size_t w = tsr_type_width(c->type);
        assert_memory_equal((const char *)ch->buffers[1] + w * (size_t)r,
                            c->values + w * (size_t)(r0 + r), w);
      }
      }
    }
  }
}

static const char *expected_format(tsr_type t) {
  static const char *const f[] = {"b", "c", "s", "i", "l",  "C", "S",
                                  "I", "L", "f", "g", "vu", "i", "tdD"};
  static const char *const ts[] = {"tss:", "tsm:", "tsu:", "tsn:"};
  return t.id == TSR_COL_TIMESTAMP ? ts[t.unit] : f[t.id];
}

static void roundtrip(tsr_ctx *ctx, int64_t n, int min_chunks, uint64_t seed) {
  enum { NC = TSR_NUM_COLTYPES + 3 };
  tsr_type types[NC];
  memcpy(types, fu_types, sizeof fu_types);
  types[TSR_NUM_COLTYPES] = (tsr_type){TSR_COL_TIMESTAMP, TSR_TIME_S};
  types[TSR_NUM_COLTYPES + 1] = (tsr_type){TSR_COL_TIMESTAMP, TSR_TIME_MS};
  types[TSR_NUM_COLTYPES + 2] = (tsr_type){TSR_COL_TIMESTAMP, TSR_TIME_NS};
  ref_frame ref;
  ref_frame_random(&ref, NC, types, n, 15, seed);
  /* Empty strings and longer unicode among the strings. */
  ref_col *sc = &ref.cols[TSR_COL_STRING];
  for (int64_t r = 0; r < n; r++) {
    if (!sc->valid[r])
      continue;
    const char *repl = r % 7 == 0 ? "" : r % 11 == 0 ? "日本語のテキスト ∑ ünïcödé" : NULL;
    if (repl != NULL) {
      free(sc->str[r]);
      sc->str[r] = fu_strdup(repl);
    }
  }
  tsr_frame *f = NULL;
  assert_ok(ref_frame_to_frame(ctx, &ref, min_chunks, seed + 1, &f));
  int64_t nchunks = tsr_frame_nchunks(f);
  if (n >= min_chunks)
    assert_true(nchunks >= min_chunks);

  struct ArrowArrayStream stream;
  assert_ok(tsr_frame_to_arrow_stream(f, NULL, &stream));
  tsr_frame_destroy(&f); /* the stream keeps what it needs */
  struct ArrowSchema schema;
  assert_int_equal(stream.get_schema(&stream, &schema), 0);
  assert_int_equal(schema.n_children, NC);
  for (int i = 0; i < NC; i++) {
    assert_string_equal(schema.children[i]->format, expected_format(types[i]));
    assert_true(schema.children[i]->flags & ARROW_FLAG_NULLABLE);
  }
  int64_t r0 = 0, batches = 0;
  for (;;) {
    struct ArrowArray a;
    assert_int_equal(stream.get_next(&stream, &a), 0);
    if (a.release == NULL)
      break;
    check_batch(&schema, &a, &ref, r0);
    r0 += a.length;
    batches++;
    a.release(&a);
    assert_null(a.release);
  }
  assert_int_equal(batches, nchunks);
  assert_int_equal(r0, n);
  assert_null(stream.get_last_error(&stream));
  schema.release(&schema);
  assert_null(schema.release);
  stream.release(&stream);
  assert_null(stream.release);

  /* Export, then import: the same frame. */
  assert_ok(ref_frame_to_frame(ctx, &ref, min_chunks, seed + 1, &f));
  assert_ok(tsr_frame_to_arrow_stream(f, NULL, &stream));
  tsr_frame *g = NULL;
  assert_ok(tsr_frame_from_arrow_stream(ctx, &stream, &g));
  assert_null(stream.release); /* consumed */
  assert_int_equal(tsr_frame_nchunks(g), nchunks);
  for (int i = 0; i < NC; i++) {
    assert_int_equal(tsr_frame_col_type(g, i).id, types[i].id);
    assert_int_equal(tsr_frame_col_type(g, i).unit, types[i].unit);
  }
  ref_frame got;
  ref_frame_compute(g, &got);
  ref_frame_assert_equal(&ref, &got);
  ref_frame_free(&got);
  tsr_frame_destroy(&g);
  tsr_frame_destroy(&f);
  ref_frame_free(&ref);
}

static void test_arrow__roundtrip_random(void **state) { roundtrip(*state, 20000, 64, 42); }
static void test_arrow__roundtrip_small(void **state) {
  roundtrip(*state, 1, 1, 7);
  roundtrip(*state, 100, 3, 8);
}
static void test_arrow__roundtrip_zero_rows(void **state) { roundtrip(*state, 0, 1, 9); }

/* ---- zero-copy and the release rules ----------------------------------------------------- */

static void test_arrow__zero_copy_and_release_order(void **state) {
  tsr_ctx *ctx = *state;
  ref_frame ref;
  ref_frame_random(&ref, TSR_NUM_COLTYPES, fu_types, 5000, 10, 3);
  tsr_frame *f = NULL, *p = NULL;
  assert_ok(ref_frame_to_frame(ctx, &ref, 4, 5, &f));
  assert_ok(tsr_frame_persist(f, NULL, &p));
  tsr_frame_destroy(&f);
  tsr_frame_result *res = NULL;
  assert_ok(tsr_frame_compute(p, NULL, &res)); /* reads the persisted chunks in place */

  struct ArrowArrayStream stream;
  assert_ok(tsr_frame_to_arrow_stream(p, NULL, &stream));
  tsr_frame_destroy(&p);
  struct ArrowArray a;
  assert_int_equal(stream.get_next(&stream, &a), 0);
  assert_non_null(a.release);
  /* Zero-copy: numbers, strings' views and data, validity and
   * dictionaries are the persisted chunk's own buffers; bools copied. */
  for (int i = 0; i < TSR_NUM_COLTYPES; i++) {
    tsr_column_chunk ch;
    assert_ok(tsr_frame_result_chunk(res, i, 0, &ch));
    if (i == TSR_COL_BOOL)
      assert_ptr_not_equal(a.children[i]->buffers[1], ch.values);
    else
      assert_ptr_equal(a.children[i]->buffers[1], ch.values);
    if (ch.null_count > 0)
      assert_ptr_equal(a.children[i]->buffers[0], ch.validity);
    if (i == TSR_COL_STRING && ch.data_bytes > 0)
      assert_ptr_equal(a.children[i]->buffers[2], ch.data);
  }
  tsr_frame_result_destroy(&res);

  /* Move a string child and a dictionary out, release the parent and the
   * stream first: what was moved stays readable until released. */
  struct ArrowArray str = *a.children[TSR_COL_STRING];
  a.children[TSR_COL_STRING]->release = NULL;
  struct ArrowArray dict = *a.children[TSR_COL_DICT]->dictionary;
  a.children[TSR_COL_DICT]->dictionary->release = NULL;
  struct ArrowSchema schema;
  assert_int_equal(stream.get_schema(&stream, &schema), 0);
  struct ArrowSchema field = *schema.children[TSR_COL_DICT];
  schema.children[TSR_COL_DICT]->release = NULL;
  schema.release(&schema);
  a.release(&a);
  stream.release(&stream);
  assert_string_equal(field.name, ref.cols[TSR_COL_DICT].name);
  assert_string_equal(field.dictionary->format, "U");
  field.release(&field);
  assert_null(field.release);
  const int64_t *o = dict.buffers[1];
  assert_int_equal(dict.length, ref.cols[TSR_COL_DICT].dict_size);
  for (int64_t k = 0; k < dict.length; k++)
    assert_memory_equal((const char *)dict.buffers[2] + o[k], ref.cols[TSR_COL_DICT].dict[k],
                        (size_t)(o[k + 1] - o[k]));
  dict.release(&dict);
  for (int64_t r = 0; r < str.length; r++) {
    if (!ref.cols[TSR_COL_STRING].valid[r])
      continue;
    const tsr_string_view *v = (const tsr_string_view *)str.buffers[1] + r;
    assert_memory_equal(tsr_string_view_data(v, str.buffers[2]), ref.cols[TSR_COL_STRING].str[r],
                        v->length);
  }
  str.release(&str);
  assert_null(str.release);
  ref_frame_free(&ref);
  /* test_ctx_teardown: every byte back to the context. */
}

/* ---- a hand-made producer ------------------------------------------------------------------ */

typedef struct hand {
  int nbatches, next;
  struct ArrowSchema *schema;
  struct ArrowArray *batches;
  int released_batches, released_schemas, released_streams;
  int fail_at; /* get_next fails (EIO) at this batch; -1: never */
} hand;

static void hand_schema_release(struct ArrowSchema *s) {
  ((hand *)s->private_data)->released_schemas++;
  s->release = NULL;
}
static void hand_child_schema_release(struct ArrowSchema *s) { s->release = NULL; }
static void hand_array_release(struct ArrowArray *a) {
  ((hand *)a->private_data)->released_batches++;
  a->release = NULL;
}
static int hand_get_schema(struct ArrowArrayStream *st, struct ArrowSchema *out) {
  hand *h = st->private_data;
  *out = *h->schema;
  out->release = hand_schema_release;
  out->private_data = h;
  return 0;
}
static int hand_get_next(struct ArrowArrayStream *st, struct ArrowArray *out) {
  hand *h = st->private_data;
  if (h->next == h->fail_at)
    return EIO;
  if (h->next >= h->nbatches) {
    memset(out, 0, sizeof *out);
    return 0;
  }
  *out = h->batches[h->next++];
  out->release = hand_array_release;
  out->private_data = h;
  return 0;
}
static const char *hand_last_error(struct ArrowArrayStream *st) {
  (void)st;
  return "the disk caught fire";
}
static void hand_stream_release(struct ArrowArrayStream *st) {
  ((hand *)st->private_data)->released_streams++;
  st->release = NULL;
}
static struct ArrowArrayStream hand_stream(hand *h) {
  struct ArrowArrayStream s = {hand_get_schema, hand_get_next, hand_last_error, hand_stream_release,
                               h};
  return s;
}

#define NCOLS_HAND 8
#define SCHEMA_CHILD(fmt, nm) \
  { fmt, nm, NULL, ARROW_FLAG_NULLABLE, 0, NULL, NULL, hand_child_schema_release, NULL }
#define ARR(len, nulls, off, nbuf, bufs) \
  { len, nulls, off, nbuf, 0, (const void **)(bufs), NULL, NULL, NULL, NULL }

static void test_arrow__import_offsets_views_dictionaries(void **state) {
  tsr_ctx *ctx = *state;
  static struct ArrowSchema dict_values = SCHEMA_CHILD("u", NULL);
  static struct ArrowSchema kids[NCOLS_HAND] = {
      SCHEMA_CHILD("i", "a"),    SCHEMA_CHILD("b", "flag"), SCHEMA_CHILD("u", "s"),
      SCHEMA_CHILD("U", "L"),    SCHEMA_CHILD("vu", "v"),   SCHEMA_CHILD("c", "d"),
      SCHEMA_CHILD("tsn:", "t"), SCHEMA_CHILD("tdD", "dt")};
  kids[5].dictionary = &dict_values;
  static struct ArrowSchema *kid_ptrs[NCOLS_HAND];
  for (int i = 0; i < NCOLS_HAND; i++)
    kid_ptrs[i] = &kids[i];
  struct ArrowSchema root = {"+s", "", NULL, 0, NCOLS_HAND, kid_ptrs, NULL, NULL, NULL};

  /* Batch 0: 3 rows at struct offset 1; each child adds its own offset. */
  static const int32_t a_vals[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  static const uint8_t a_valid[1] = {0xef}; /* element 4 null */
  static const void *a_bufs[2] = {a_valid, a_vals};
  static const uint8_t flag_bits[1] = {0x16}; /* 0b10110 */
  static const void *flag_bufs[2] = {NULL, flag_bits};
  static const int32_t s_off[6] = {0, 1, 3, 3, 20, 26};
  static const char s_data[] = "xyzabcdefghijklmnopqh\xc3\xa9llo";
  static const void *s_bufs[3] = {NULL, s_off, s_data};
  static const int64_t L_off[5] = {0, 2, 2, 4, 30};
  static const char L_data[] = "abcdABCDEFGHIJKLMNOPQRSTUVWXYZ";
  static const uint8_t L_valid[1] = {0xfb}; /* element 2 null */
  static const void *L_bufs[3] = {L_valid, L_off, L_data};
  static const char vb0[] = "HELLO-WORLD-LONG-STRING";
  static const char vb1[] = "zzzzzzzzzzzzzzzzzz-second";
  static const int64_t v_sizes[2] = {23, 25};
  static tsr_string_view views[5];
  memset(views, 0, sizeof views);
  views[0].length = 5;
  memcpy(views[0].u.inline_data, "short", 5);
  views[1].length = 23;
  memcpy(views[1].u.ref.prefix, vb0, 4);
  views[1].u.ref.buffer = 0;
  views[1].u.ref.offset = 0;
  views[2].length = 0;
  views[3].length = 16;
  memcpy(views[3].u.ref.prefix, vb1 + 2, 4);
  views[3].u.ref.buffer = 1;
  views[3].u.ref.offset = 2;
  views[4].length = 12;
  memcpy(views[4].u.inline_data, "twelve-chars", 12);
  static const void *v_bufs[5] = {NULL, views, vb0, vb1, v_sizes};
  static const int8_t d_idx[4] = {2, 0, 1, 2};
  static const int32_t dict0_off[4] = {0, 3, 8, 12};
  static const uint8_t dict0_valid[1] = {0x05}; /* "green" null */
  static const void *dict0_bufs[3] = {dict0_valid, dict0_off, "redgreenblue"};
  static struct ArrowArray dict0 = ARR(3, 1, 0, 3, dict0_bufs);
  static const void *d_bufs[2] = {NULL, d_idx};
  static const int64_t t_vals[4] = {10, 20, 30, 40};
  static const void *t_bufs[2] = {NULL, t_vals};
  static const int32_t dt_vals[4] = {100, 200, 300, 400};
  static const void *dt_bufs[2] = {NULL, dt_vals};
  static struct ArrowArray b0_kids[NCOLS_HAND] = {
      ARR(6, -1, 2, 2, a_bufs), ARR(4, 0, 0, 2, flag_bufs), ARR(4, 0, 1, 3, s_bufs),
      ARR(4, 1, 0, 3, L_bufs),  ARR(5, 0, 0, 5, v_bufs),    ARR(4, 0, 0, 2, d_bufs),
      ARR(4, 0, 0, 2, t_bufs),  ARR(4, 0, 0, 2, dt_bufs)};
  b0_kids[5].dictionary = &dict0;
  /* Batch 1: 2 rows, offsets 0, another dictionary ("yellow", "blue"). */
  static const int32_t a1[2] = {-5, 6};
  static const void *a1_bufs[2] = {NULL, a1};
  static const uint8_t flag1[1] = {0x02};
  static const void *flag1_bufs[2] = {NULL, flag1};
  static const int32_t s1_off[3] = {0, 0, 2};
  static const void *s1_bufs[3] = {NULL, s1_off, "ok"};
  static const int64_t L1_off[3] = {0, 1, 2};
  static const void *L1_bufs[3] = {NULL, L1_off, "pq"};
  static tsr_string_view views1[2];
  memset(views1, 0, sizeof views1);
  views1[0].length = 1;
  views1[0].u.inline_data[0] = 'm';
  views1[1].length = 2;
  memcpy(views1[1].u.inline_data, "no", 2);
  static const int64_t v1_sizes[1] = {0};
  static const void *v1_bufs[3] = {NULL, views1, v1_sizes};
  static const int8_t d1_idx[2] = {0, 1};
  static const int32_t dict1_off[3] = {0, 6, 10};
  static const void *dict1_bufs[3] = {NULL, dict1_off, "yellowblue"};
  static struct ArrowArray dict1 = ARR(2, 0, 0, 3, dict1_bufs);
  static const void *d1_bufs[2] = {NULL, d1_idx};
  static const int64_t t1[2] = {-1, 0};
  static const void *t1_bufs[2] = {NULL, t1};
  static const int32_t dt1[2] = {-1, 0};
  static const void *dt1_bufs[2] = {NULL, dt1};
  static struct ArrowArray b1_kids[NCOLS_HAND] = {
      ARR(2, 0, 0, 2, a1_bufs), ARR(2, 0, 0, 2, flag1_bufs), ARR(2, 0, 0, 3, s1_bufs),
      ARR(2, 0, 0, 3, L1_bufs), ARR(2, 0, 0, 3, v1_bufs),    ARR(2, 0, 0, 2, d1_bufs),
      ARR(2, 0, 0, 2, t1_bufs), ARR(2, 0, 0, 2, dt1_bufs)};
  b1_kids[5].dictionary = &dict1;
  static struct ArrowArray *b0_ptrs[NCOLS_HAND], *b1_ptrs[NCOLS_HAND];
  for (int i = 0; i < NCOLS_HAND; i++) {
    b0_ptrs[i] = &b0_kids[i];
    b1_ptrs[i] = &b1_kids[i];
  }
  static const void *no_bufs[1] = {NULL};
  struct ArrowArray batches[2] = {{3, 0, 1, 1, NCOLS_HAND, no_bufs, b0_ptrs, NULL, NULL, NULL},
                                  {2, 0, 0, 1, NCOLS_HAND, no_bufs, b1_ptrs, NULL, NULL, NULL}};

  hand h = {2, 0, &root, batches, 0, 0, 0, -1};
  struct ArrowArrayStream st = hand_stream(&h);
  tsr_frame *f = NULL;
  assert_ok(tsr_frame_from_arrow_stream(ctx, &st, &f));
  assert_int_equal(h.released_batches, 2);
  assert_int_equal(h.released_schemas, 1);
  assert_int_equal(h.released_streams, 1);
  assert_int_equal(tsr_frame_nchunks(f), 2);
  assert_int_equal(tsr_frame_col_type(f, 5).id, TSR_COL_DICT);
  assert_int_equal(tsr_frame_col_type(f, 6).id, TSR_COL_TIMESTAMP);
  assert_int_equal(tsr_frame_col_type(f, 6).unit, TSR_TIME_NS);
  tsr_frame_result *r = NULL;
  assert_ok(tsr_frame_compute(f, NULL, &r));
  assert_int_equal(tsr_frame_result_nrows(r), 5);
  /* By hand: row i of batch 0 is element 1 + child offset + i. */
  int32_t a[5];
  uint8_t valid[1];
  assert_ok(tsr_frame_result_values(r, 0, a, sizeof a, valid));
  assert_int_equal(valid[0] & 0x1f, 0x1d); /* row 1 (element 4) null */
  assert_int_equal(a[0], 3);
  assert_int_equal(a[2], 5);
  assert_int_equal(a[3], -5);
  assert_int_equal(a[4], 6);
  uint8_t flags[5];
  assert_ok(tsr_frame_result_values(r, 1, flags, sizeof flags, NULL));
  const uint8_t want_flags[5] = {1, 1, 0, 0, 1};
  assert_memory_equal(flags, want_flags, 5);
  int64_t t[5];
  const int64_t want_t[5] = {20, 30, 40, -1, 0};
  assert_ok(tsr_frame_result_values(r, 6, t, sizeof t, NULL));
  assert_memory_equal(t, want_t, sizeof t);
  int32_t dt[5];
  const int32_t want_dt[5] = {200, 300, 400, -1, 0};
  assert_ok(tsr_frame_result_values(r, 7, dt, sizeof dt, NULL));
  assert_memory_equal(dt, want_dt, sizeof dt);
  const char *want_str[4][5] = {{"", "abcdefghijklmnopq", "h\xc3\xa9llo", "", "ok"},
                                {"", NULL, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "p", "q"},
                                {"HELLO-WORLD-LONG-STRING", "", "zzzzzzzzzzzzzzzz", "m", "no"},
                                {"red", NULL, "blue", "yellow", "blue"}};
  const int cols[4] = {2, 3, 4, 5};
  for (int k = 0; k < 4; k++)
    for (int64_t row = 0; row < 5; row++) {
      const char *text;
      size_t len;
      bool is_null;
      assert_ok(tsr_frame_result_string(r, cols[k], row, &text, &len, &is_null));
      if (want_str[k][row] == NULL) {
        assert_true(is_null);
        continue;
      }
      assert_false(is_null);
      assert_int_equal(len, strlen(want_str[k][row]));
      assert_memory_equal(text, want_str[k][row], len);
    }
  /* The dictionary is the sorted union: blue, red, yellow ("green" was null). */
  int64_t size;
  const int64_t *off;
  const char *data;
  assert_ok(tsr_frame_result_dict(r, 5, &size, &off, &data));
  assert_int_equal(size, 3);
  assert_memory_equal(data, "blueredyellow", 13);
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&f);

  /* A producer's error: TSR_EIO with its message; the stream released. */
  hand h2 = {2, 0, &root, batches, 0, 0, 0, 1};
  st = hand_stream(&h2);
  assert_fails(tsr_frame_from_arrow_stream(ctx, &st, &f), TSR_EIO, "the disk caught fire");
  assert_null(f);
  assert_int_equal(h2.released_batches, 1);
  assert_int_equal(h2.released_schemas, 1);
  assert_int_equal(h2.released_streams, 1);

  /* A code outside its dictionary. */
  static const int8_t bad_idx[4] = {2, 3, 1, 2};
  b0_kids[5].buffers = (const void **)(const void *[]){NULL, bad_idx};
  hand h3 = {2, 0, &root, batches, 0, 0, 0, -1};
  st = hand_stream(&h3);
  assert_fails(tsr_frame_from_arrow_stream(ctx, &st, &f), TSR_EINVAL, "outside its dictionary");
  assert_int_equal(h3.released_batches, 1);
  assert_int_equal(h3.released_streams, 1);
}

static void test_arrow__unsupported_formats(void **state) {
  tsr_ctx *ctx = *state;
  const char *bad[] = {"e", "tsu:UTC", "z", "+l", "d:10,2", "n", "tdm"};
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    struct ArrowSchema kids[2] = {SCHEMA_CHILD("l", "ok"), SCHEMA_CHILD(bad[k], "weird")};
    struct ArrowSchema *ptrs[2] = {&kids[0], &kids[1]};
    struct ArrowSchema root = {"+s", "", NULL, 0, 2, ptrs, NULL, NULL, NULL};
    hand h = {0, 0, &root, NULL, 0, 0, 0, -1};
    struct ArrowArrayStream st = hand_stream(&h);
    tsr_frame *f = NULL;
    char needle[64];
    snprintf(needle, sizeof needle, "column 'weird' has Arrow format '%s'", bad[k]);
    assert_fails(tsr_frame_from_arrow_stream(ctx, &st, &f), TSR_ENOTSUP, needle);
    assert_int_equal(h.released_schemas, 1);
    assert_int_equal(h.released_streams, 1);
  }
  /* Not a struct at the root. */
  struct ArrowSchema root = {"l", "", NULL, 0, 0, NULL, NULL, NULL, NULL};
  hand h = {0, 0, &root, NULL, 0, 0, 0, -1};
  struct ArrowArrayStream st = hand_stream(&h);
  tsr_frame *f = NULL;
  assert_fails(tsr_frame_from_arrow_stream(ctx, &st, &f), TSR_EINVAL, "not a struct");
  assert_int_equal(h.released_streams, 1);
}

/* Every allocation of export and import failing in turn: the call fails
 * with TSR_ENOMEM (get_next with ENOMEM and a message), everything handed
 * out is released, and no byte stays held (test_ctx_teardown). */
static void test_arrow__allocation_failures(void **state) {
  tsr_ctx *ctx = *state;
  ref_frame ref;
  ref_frame_random(&ref, TSR_NUM_COLTYPES, fu_types, 100, 20, 77);
  tsr_frame *f = NULL;
  assert_ok(ref_frame_to_frame(ctx, &ref, 2, 78, &f));
  int failures = 0;
  for (uint64_t n = 1;; n++) {
    struct ArrowArrayStream stream;
    assert_ok(tsr_frame_to_arrow_stream(f, NULL, &stream));
    tsr_frame *g = NULL;
    assert_ok(tsr_ctx_set_fail_allocation(ctx, n));
    tsr_status st = tsr_frame_from_arrow_stream(ctx, &stream, &g);
    assert_ok(tsr_ctx_set_fail_allocation(ctx, 0));
    assert_null(stream.release);
    if (st == TSR_OK) {
      ref_frame got;
      ref_frame_compute(g, &got);
      ref_frame_assert_equal(&ref, &got);
      ref_frame_free(&got);
      tsr_frame_destroy(&g);
      break;
    }
    assert_true(st == TSR_ENOMEM || st == TSR_EIO); /* EIO: get_next's ENOMEM */
    assert_null(g);
    failures++;
  }
  assert_true(failures > 20);
  /* get_next alone: ENOMEM with a message, then the same batch again. */
  for (uint64_t n = 1; n < 40; n++) {
    struct ArrowArrayStream stream;
    assert_ok(tsr_frame_to_arrow_stream(f, NULL, &stream));
    struct ArrowArray a;
    assert_ok(tsr_ctx_set_fail_allocation(ctx, n));
    int rc = stream.get_next(&stream, &a);
    assert_ok(tsr_ctx_set_fail_allocation(ctx, 0));
    if (rc != 0) {
      assert_int_equal(rc, ENOMEM);
      assert_non_null(stream.get_last_error(&stream));
      assert_null(a.release);
      assert_int_equal(stream.get_next(&stream, &a), 0);
    }
    assert_non_null(a.release);
    assert_int_equal(a.n_children, TSR_NUM_COLTYPES);
    a.release(&a);
    stream.release(&stream);
  }
  tsr_frame_destroy(&f);
  ref_frame_free(&ref);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_arrow__roundtrip_random, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_arrow__roundtrip_small, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_arrow__roundtrip_zero_rows, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_arrow__zero_copy_and_release_order, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_arrow__import_offsets_views_dictionaries, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_arrow__unsupported_formats, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_arrow__allocation_failures, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

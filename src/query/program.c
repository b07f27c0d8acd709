/* program.c — the public tsr_program API: parse once, bind inputs, run
 * (lazily) any number of times, read results; plus the free-name scan and
 * the s-expression dump the tests use to check precedence.
 *
 * Invariants: the arena owns the source copy, tokens and tree for the
 * program's whole life; `inputs` holds the caller's bindings across runs,
 * `vars` the assignments of the latest run only. */
#include <ctype.h>
#include <string.h>

#include "query_impl.h"

struct tsr_program {
  tsr_ctx *ctx;
  tsr__qarena arena;
  const char *source;
  tsr__qstmt *stmts;
  int32_t nstmts;
  tsr__qenv inputs, vars;
  const char **free_names;
  size_t nfree;
  const char *text; /* the last run's result when it is a string (static or arena) */
};

static bool is_constant(const char *name) {
  static const char *const names[] = {"inf",   "nan",   "pi",   "e",       "True",    "true",
                                      "False", "false", "None", "newaxis", "Ellipsis"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(name, names[i]) == 0)
      return true;
  return false;
}

/* ---- free names ------------------------------------------------------- */

/* Names are looked up in hash indexes (names.c), so the scan is linear in
 * the program's size. */
typedef struct name_list {
  const char **names;
  int32_t n, cap;
  tsr__qmap map;
} name_list;

static const char *list_name(const void *owner, int32_t i) {
  return ((const name_list *)owner)->names[i];
}

static bool list_has(const name_list *l, const char *name) {
  return tsr__query_map_find(&l->map, name, list_name, l) >= 0;
}

/* Appends name (not in the list yet); the array lives in the arena. */
static tsr_status list_add(tsr_program *p, name_list *l, const char *name) {
  if (l->n == l->cap) {
    int32_t cap = l->cap ? 2 * l->cap : 8;
    const char **names = tsr__query_arena_alloc(&p->arena, (size_t)cap * sizeof *names);
    if (names == NULL)
      return TSR_ENOMEM;
    if (l->n)
      memcpy(names, l->names, (size_t)l->n * sizeof *names);
    l->names = names;
    l->cap = cap;
  }
  l->names[l->n] = name;
  TSR_TRY(tsr__query_map_add(p->ctx, &l->map, l->n, list_name, l));
  l->n++;
  return TSR_OK;
}

typedef struct name_scan {
  tsr_program *p;
  name_list free_names; /* in order of first use */
  name_list assigned;   /* targets of the statements before the current one */
} name_scan;

/* Pre-order, kids left to right, with a heap stack (trees may be a
 * million deep). */
static tsr_status scan(name_scan *s, const tsr__qnode *root) {
  tsr_ctx *ctx = s->p->ctx;
  const tsr__qnode **stack = NULL;
  size_t n = 0, cap = 0;
  tsr_status st = TSR_OK;
  const tsr__qnode *node = root;
  for (;;) {
    if (node != NULL) {
      if (node->kind == QN_NAME && !is_constant(node->text) &&
          !list_has(&s->assigned, node->text) && !list_has(&s->free_names, node->text) &&
          (st = list_add(s->p, &s->free_names, node->text)) != TSR_OK)
        break;
      size_t k = (size_t)node->nkids;
      if (n + k > cap) {
        size_t c = cap ? 2 * cap : 64;
        while (c < n + k)
          c *= 2;
        st = tsr__grow_array(ctx, (void **)&stack, n, c, sizeof *stack, "the free-name scan");
        if (st != TSR_OK)
          break;
        cap = c;
      }
      for (size_t i = k; i > 0; i--)
        stack[n++] = node->kids[i - 1];
    }
    if (n == 0)
      break;
    node = stack[--n];
  }
  tsr_free(ctx, stack);
  return st;
}

/* Sets p->free_names. */
static tsr_status scan_program(tsr_program *p) {
  name_scan ns;
  memset(&ns, 0, sizeof ns);
  ns.p = p;
  tsr_status s = TSR_OK;
  for (int32_t i = 0; i < p->nstmts && s == TSR_OK; i++) {
    const tsr__qstmt *st = &p->stmts[i];
    s = scan(&ns, st->expr);
    if (s == TSR_OK && st->target != NULL && !list_has(&ns.assigned, st->target))
      s = list_add(p, &ns.assigned, st->target);
  }
  if (s == TSR_OK) {
    p->free_names = ns.free_names.names;
    p->nfree = (size_t)ns.free_names.n;
  }
  tsr__query_map_free(p->ctx, &ns.free_names.map);
  tsr__query_map_free(p->ctx, &ns.assigned.map);
  return s;
}

/* ---- parse / destroy -------------------------------------------------- */

tsr_status tsr_program_parse(tsr_ctx *ctx, const char *source, tsr_program **out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "tsr_program_parse: out is NULL");
  *out = NULL;
  TSR_CHECK(source != NULL, TSR_EINVAL, "tsr_program_parse: source is NULL");
  return tsr_program_parse_buffer(ctx, source, strlen(source), out);
}

tsr_status tsr_program_parse_buffer(tsr_ctx *ctx, const char *source, size_t size,
                                    tsr_program **out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "tsr_program_parse: out is NULL");
  *out = NULL;
  TSR_CHECK(ctx != NULL, TSR_EINVAL, "tsr_program_parse: ctx is NULL");
  TSR_CHECK(source != NULL || size == 0, TSR_EINVAL, "tsr_program_parse: source is NULL");
  if (size == 0)
    source = "";
  /* The parser reads NUL-terminated text: a NUL byte inside would end the
   * program early and silently. */
  const char *nul = memchr(source, '\0', size);
  if (nul != NULL)
    return tsr__query_fail(source, (int32_t)(nul - source > INT32_MAX ? INT32_MAX : nul - source),
                           TSR_EPARSE, "NUL byte in the program (byte %zu); a program is text",
                           (size_t)(nul - source) + 1);
  tsr_program *p = NULL;
  TSR_TRY(tsr_calloc(ctx, 1, sizeof *p, (void **)&p));
  p->ctx = ctx;
  p->arena.ctx = ctx;
  p->inputs.ctx = ctx;
  p->vars.ctx = ctx;
  tsr_status s = TSR_ENOMEM;
  if ((p->source = tsr__query_arena_strndup(&p->arena, source, size)) == NULL)
    goto fail;
  if ((s = tsr__query_parse(&p->arena, p->source, &p->stmts, &p->nstmts)) != TSR_OK)
    goto fail;
  if ((s = scan_program(p)) != TSR_OK)
    goto fail;
  *out = p;
  return TSR_OK;
fail:
  tsr_program_destroy(&p);
  return s;
}

void tsr_program_destroy(tsr_program **program) {
  if (program == NULL || *program == NULL)
    return;
  tsr_program *p = *program;
  tsr__query_env_clear(&p->inputs);
  tsr__query_env_clear(&p->vars);
  tsr__query_arena_free(&p->arena);
  tsr_free(p->ctx, p);
  *program = NULL;
}

size_t tsr_program_inputs(const tsr_program *program, const char *const **names) {
  if (names != NULL)
    *names = program ? program->free_names : NULL;
  return program ? program->nfree : 0;
}

/* ---- bind / run / get ------------------------------------------------- */

static bool is_identifier(const char *s) {
  if (!(isalpha((unsigned char)*s) || *s == '_'))
    return false;
  for (s++; *s; s++)
    if (!(isalnum((unsigned char)*s) || *s == '_'))
      return false;
  return true;
}

tsr_status tsr_program_bind(tsr_program *p, const char *name, tsr_array *array) {
  TSR_CHECK(p != NULL && name != NULL && array != NULL, TSR_EINVAL,
            "tsr_program_bind: program, name and array must not be NULL");
  TSR_CHECK(is_identifier(name), TSR_EINVAL,
            "tsr_program_bind: '%s' is not a name (letters, digits and '_', not starting "
            "with a digit)",
            name);
  TSR_CHECK(tsr__query_array_ctx(array) == p->ctx, TSR_EINVAL,
            "tsr_program_bind: array '%s' belongs to another context", name);
  tsr__qvalue v = {0};
  v.kind = QV_ARRAY;
  TSR_TRY(tsr__query_array_ref(array, &v.array));
  return tsr__query_env_set(&p->inputs, name, &v);
}

/* Whether value_array takes v: an array, a number or a tuple of numbers. */
static bool convertible(const tsr__qvalue *v) {
  if (v->kind == QV_TUPLE) {
    for (int i = 0; i < v->n; i++)
      if (v->items[i].kind != QV_BOOL && v->items[i].kind != QV_INT &&
          v->items[i].kind != QV_UINT && v->items[i].kind != QV_FLOAT)
        return false;
    return true;
  }
  return v->kind == QV_ARRAY || v->kind == QV_BOOL || v->kind == QV_INT || v->kind == QV_UINT ||
         v->kind == QV_FLOAT;
}

/* A value as a (new) array, for values that are convertible(). */
static tsr_status value_array(tsr_program *p, const tsr__qvalue *v, tsr_array **out) {
  if (v->kind == QV_ARRAY)
    return tsr__query_array_ref(v->array, out);
  if (v->kind == QV_BOOL)
    return tsr_array_full(p->ctx, TSR_BOOL, 0, NULL, NULL, v->b, out);
  if (v->kind == QV_INT)
    return tsr_array_full_i64(p->ctx, TSR_INT64, 0, NULL, NULL, v->i, out);
  if (v->kind == QV_UINT)
    return tsr_array_full_u64(p->ctx, TSR_UINT64, 0, NULL, NULL, (uint64_t)v->i, out);
  if (v->kind == QV_FLOAT)
    return tsr_array_full(p->ctx, TSR_FLOAT64, 0, NULL, NULL, v->f, out);
  if (v->kind != QV_TUPLE)
    return TSR_EINVAL;
  /* A tuple of numbers (such as x.shape) is a 1-d array, as np.asarray:
   * float64 if any is a float, else uint64 if any integer is above int64
   * (then none may be negative), else int64, else bool. */
  tsr_dtype t = TSR_BOOL;
  bool any_uint = false, any_negative = false;
  for (int i = 0; i < v->n; i++) {
    const tsr__qvalue *it = &v->items[i];
    if (it->kind == QV_FLOAT)
      t = TSR_FLOAT64;
    else if ((it->kind == QV_INT || it->kind == QV_UINT) && t == TSR_BOOL)
      t = TSR_INT64;
    else if (it->kind != QV_BOOL && it->kind != QV_INT && it->kind != QV_UINT)
      return TSR_EINVAL;
    any_uint |= it->kind == QV_UINT;
    any_negative |= it->kind == QV_INT && it->i < 0;
  }
  if (t == TSR_INT64 && any_uint) {
    TSR_CHECK(!any_negative, TSR_EINVAL,
              "a tuple mixes negative integers and integers above 9223372036854775807 "
              "(no integer dtype holds both)");
    t = TSR_UINT64;
  }
  void *data = NULL;
  TSR_TRY(tsr_alloc(p->ctx, (size_t)v->n * 8, &data));
  for (int i = 0; i < v->n; i++) {
    const tsr__qvalue *it = &v->items[i];
    if (t == TSR_FLOAT64)
      ((double *)data)[i] = it->kind == QV_FLOAT  ? it->f
                            : it->kind == QV_INT  ? (double)it->i
                            : it->kind == QV_UINT ? (double)(uint64_t)it->i
                                                  : it->b;
    else if (t == TSR_INT64 || t == TSR_UINT64)
      ((int64_t *)data)[i] = it->kind == QV_INT || it->kind == QV_UINT ? it->i : it->b;
    else
      ((bool *)data)[i] = it->b;
  }
  tsr_status s = tsr_array_from_buffer(p->ctx, t, 1, (int64_t[]){v->n}, NULL, data, TSR_BUFFER_COPY,
                                       NULL, NULL, out);
  tsr_free(p->ctx, data);
  return s;
}

tsr_status tsr_program_run(tsr_program *p, tsr_array **last) {
  if (last != NULL)
    *last = NULL;
  TSR_CHECK(p != NULL, TSR_EINVAL, "tsr_program_run: program is NULL");
  p->text = NULL;
  tsr__query_env_clear(&p->vars);
  tsr__qeval ev = {p->ctx, p->source, &p->inputs, &p->vars};
  tsr__qvalue value = {0};
  const tsr__qstmt *final = NULL;
  tsr_status s = TSR_OK;
  for (int32_t i = 0; i < p->nstmts && s == TSR_OK; i++) {
    const tsr__qstmt *st = &p->stmts[i];
    tsr__query_value_clear(p->ctx, &value);
    final = st;
    s = tsr__query_eval(&ev, st->expr, &value);
    if (s == TSR_OK && st->target != NULL) {
      s = tsr__query_env_set(&p->vars, st->target, &value);
      if (s != TSR_OK)
        s = tsr__query_fail(p->source, st->target_pos, s, "%s", "out of memory");
    }
  }
  if (s == TSR_OK && final != NULL && final->target == NULL && last != NULL) {
    if (value.kind == QV_STRING)
      p->text = value.s; /* e.g. x.dtype: *last stays NULL */
    else if (!convertible(&value))
      s = tsr__query_fail(p->source, final->expr->pos, TSR_EINVAL,
                          "the result is a %s, not an array or a number",
                          tsr__query_value_kind_name(&value));
    else
      s = value_array(p, &value, last);
  }
  tsr__query_value_clear(p->ctx, &value);
  return s;
}

const char *tsr_program_text(const tsr_program *p) { return p != NULL ? p->text : NULL; }

tsr_status tsr_program_get(tsr_program *p, const char *name, tsr_array **out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "tsr_program_get: out is NULL");
  *out = NULL;
  TSR_CHECK(p != NULL && name != NULL, TSR_EINVAL, "tsr_program_get: program or name is NULL");
  const tsr__qvalue *v = tsr__query_env_find(&p->vars, name);
  if (v == NULL)
    v = tsr__query_env_find(&p->inputs, name);
  TSR_CHECK(v != NULL, TSR_EINVAL, "the program has no variable named '%s'", name);
  TSR_CHECK(convertible(v), TSR_EINVAL, "variable '%s' is a %s, not an array or a number", name,
            tsr__query_value_kind_name(v));
  return value_array(p, v, out);
}

/* ---- dump ------------------------------------------------------------- */

typedef struct dumper {
  char *buf;
  size_t size, len;
} dumper;

static void put(dumper *d, const char *fmt, ...) TSR_PRINTF(2, 3);
static void put(dumper *d, const char *fmt, ...) {
  if (d->size == 0 || d->len >= d->size - 1)
    return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(d->buf + d->len, d->size - d->len, fmt, ap);
  va_end(ap);
  if (n > 0)
    d->len = d->len + (size_t)n < d->size ? d->len + (size_t)n : d->size - 1;
}

/* Writes the opening of n ("(+" or a whole leaf); returns whether kids
 * and a closing parenthesis follow. */
static bool dump_open(dumper *d, const tsr__qnode *n) {
  if (n == NULL) {
    put(d, "_");
    return false;
  }
  const char *desc = tsr__query_token_desc((tsr__qtok_kind)n->op);
  int oplen = (int)strlen(desc) - 2; /* without the quotes */
  switch (n->kind) {
  case QN_NUMBER:
    if (n->is_uint)
      put(d, "%llu", (unsigned long long)n->ival);
    else if (n->is_int)
      put(d, "%lld", (long long)n->ival);
    else
      put(d, "%.17g", n->fval);
    return false;
  case QN_STRING:
    put(d, "\"%s\"", n->text);
    return false;
  case QN_NAME:
    put(d, "%s", n->text);
    return false;
  case QN_TUPLE:
    put(d, "(tuple");
    break;
  case QN_UNARY:
    put(d, "(%s", n->op == QT_MINUS ? "neg" : n->op == QT_PLUS ? "pos" : "~");
    break;
  case QN_BINARY:
    put(d, "(%.*s", oplen, desc + 1);
    break;
  case QN_ATTR:
    put(d, "(.%s", n->text);
    break;
  case QN_INDEX:
    put(d, "(index");
    break;
  case QN_SLICE:
    put(d, "(slice");
    break;
  case QN_CALL:
    put(d, "(%s", n->text);
    break;
  case QN_KWARG:
    put(d, "%s=", n->text);
    return true;
  }
  return true;
}

/* Iterative (trees may be a million deep); stops early once the buffer is
 * full, so the stack never holds more frames than characters fit. */
static void dump_node(dumper *d, const tsr__qnode *root, tsr_ctx *ctx) {
  typedef struct {
    const tsr__qnode *n;
    int32_t next;
  } dframe;
  dframe *stack = NULL;
  size_t n = 0, cap = 0;
  if (d->size == 0 || !dump_open(d, root))
    return;
  for (dframe f = {root, 0};;) {
    const tsr__qnode *node = f.n;
    if (f.next < node->nkids && d->len < d->size - 1) {
      const tsr__qnode *kid = node->kids[f.next++];
      if (node->kind != QN_KWARG)
        put(d, " ");
      if (n == cap) {
        size_t c = cap ? 2 * cap : 64;
        if (tsr__grow_array(ctx, (void **)&stack, n, c, sizeof *stack, "the dump") != TSR_OK)
          break;
        cap = c;
      }
      if (dump_open(d, kid)) {
        stack[n++] = f;
        f = (dframe){kid, 0};
      }
      continue;
    }
    if (node->kind != QN_KWARG)
      put(d, ")");
    if (n == 0)
      break;
    f = stack[--n];
  }
  tsr_free(ctx, stack);
}

void tsr__query_dump(const tsr_program *p, char *buf, size_t size) {
  dumper d = {buf, size, 0};
  if (size > 0)
    buf[0] = '\0';
  for (int32_t i = 0; i < p->nstmts; i++) {
    if (i > 0)
      put(&d, "; ");
    if (p->stmts[i].target != NULL)
      put(&d, "(= %s ", p->stmts[i].target);
    dump_node(&d, p->stmts[i].expr, p->ctx);
    if (p->stmts[i].target != NULL)
      put(&d, ")");
  }
}

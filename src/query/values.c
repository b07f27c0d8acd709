/* values.c — evaluation values (numbers, strings, tuples, arrays) and the
 * name tables holding a program's inputs and variables (hashed by name,
 * names.c).  A value owns its
 * array reference and its tuple items; copies take new references. */
#include <string.h>

#include "array/array_impl.h"
#include "query_impl.h"

tsr_status tsr__query_array_ref(tsr_array *a, tsr_array **out) {
  tsr__expr_retain(a->expr);
  tsr__expr *e = a->expr;
  return tsr__array_wrap(e, out);
}

tsr_ctx *tsr__query_array_ctx(const tsr_array *a) { return a->expr->ctx; }

void tsr__query_value_clear(tsr_ctx *ctx, tsr__qvalue *v) {
  if (v->kind == QV_TUPLE) {
    for (int i = 0; i < v->n; i++)
      tsr__query_value_clear(ctx, &v->items[i]);
    tsr_free(ctx, v->items);
  } else if (v->kind == QV_ARRAY) {
    tsr_array_destroy(&v->array);
  }
  memset(v, 0, sizeof *v);
}

tsr_status tsr__query_value_copy(tsr_ctx *ctx, const tsr__qvalue *src, tsr__qvalue *dst) {
  *dst = *src;
  if (src->kind == QV_ARRAY) {
    dst->array = NULL;
    tsr_status s = tsr__query_array_ref(src->array, &dst->array);
    if (s != TSR_OK)
      memset(dst, 0, sizeof *dst);
    return s;
  }
  if (src->kind == QV_TUPLE) {
    dst->items = NULL;
    dst->n = 0;
    if (src->n > 0) {
      tsr_status s = tsr_calloc(ctx, (size_t)src->n, sizeof *dst->items, (void **)&dst->items);
      if (s != TSR_OK) {
        memset(dst, 0, sizeof *dst);
        return s;
      }
    }
    for (int i = 0; i < src->n; i++) {
      tsr_status s = tsr__query_value_copy(ctx, &src->items[i], &dst->items[i]);
      dst->n = i + (s == TSR_OK);
      if (s != TSR_OK) {
        tsr__query_value_clear(ctx, dst);
        return s;
      }
    }
  }
  return TSR_OK;
}

const char *tsr__query_value_kind_name(const tsr__qvalue *v) {
  switch (v->kind) {
  case QV_NONE:
    return "None";
  case QV_BOOL:
    return "bool";
  case QV_INT:
    return "int";
  case QV_FLOAT:
    return "float";
  case QV_STRING:
    return "string";
  case QV_TUPLE:
    return "tuple";
  case QV_ARRAY:
    return "array";
  }
  return "value";
}

static const char *var_name(const void *owner, int32_t i) {
  return ((const tsr__qenv *)owner)->vars[i].name;
}

tsr__qvalue *tsr__query_env_find(tsr__qenv *env, const char *name) {
  int32_t i = tsr__query_map_find(&env->map, name, var_name, env);
  return i < 0 ? NULL : &env->vars[i].value;
}

tsr_status tsr__query_env_set(tsr__qenv *env, const char *name, tsr__qvalue *value) {
  tsr__qvalue *old = tsr__query_env_find(env, name);
  if (old != NULL) {
    tsr__query_value_clear(env->ctx, old);
    *old = *value;
    memset(value, 0, sizeof *value);
    return TSR_OK;
  }
  tsr_status s = TSR_OK;
  if (env->n == env->cap) {
    int cap = env->cap ? 2 * env->cap : 8;
    tsr__qvar *vars = NULL;
    s = tsr_alloc(env->ctx, (size_t)cap * sizeof *vars, (void **)&vars);
    if (s != TSR_OK)
      goto fail;
    if (env->n)
      memcpy(vars, env->vars, (size_t)env->n * sizeof *vars);
    tsr_free(env->ctx, env->vars);
    env->vars = vars;
    env->cap = cap;
  }
  size_t len = strlen(name);
  char *copy = NULL;
  s = tsr_alloc(env->ctx, len + 1, (void **)&copy);
  if (s != TSR_OK)
    goto fail;
  memcpy(copy, name, len + 1);
  env->vars[env->n].name = copy;
  s = tsr__query_map_add(env->ctx, &env->map, env->n, var_name, env);
  if (s != TSR_OK) {
    tsr_free(env->ctx, copy);
    goto fail;
  }
  env->vars[env->n].value = *value;
  env->n++;
  memset(value, 0, sizeof *value);
  return TSR_OK;
fail:
  tsr__query_value_clear(env->ctx, value);
  return s;
}

void tsr__query_env_clear(tsr__qenv *env) {
  for (int i = 0; i < env->n; i++) {
    tsr_free(env->ctx, env->vars[i].name);
    tsr__query_value_clear(env->ctx, &env->vars[i].value);
  }
  tsr_free(env->ctx, env->vars);
  tsr__query_map_free(env->ctx, &env->map);
  env->vars = NULL;
  env->n = env->cap = 0;
}

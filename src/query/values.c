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

/* Tuples may nest as deeply as the program does, so neither clearing nor
 * copying recurses.  Clearing needs no memory either (it cannot fail): the
 * way back up is kept in the slot of each tuple being descended into,
 * whose value has been taken out (link reversal). */
void tsr__query_value_clear(tsr_ctx *ctx, tsr__qvalue *v) {
  if (v->kind == QV_ARRAY)
    tsr_array_destroy(&v->array);
  if (v->kind != QV_TUPLE) {
    memset(v, 0, sizeof *v);
    return;
  }
  tsr__qvalue *cur = v->items, *up = NULL;
  int n = v->n, up_n = 0;
  memset(v, 0, sizeof *v);
  for (;;) {
    if (n > 0) {
      tsr__qvalue e = cur[--n];
      if (e.kind == QV_ARRAY) {
        tsr_array_destroy(&e.array);
      } else if (e.kind == QV_TUPLE) {
        cur[n].items = up; /* the way back: the parent's array and count */
        cur[n].n = up_n;
        up = cur;
        up_n = n;
        cur = e.items;
        n = e.n;
      }
      continue;
    }
    tsr_free(ctx, cur);
    if (up == NULL)
      return;
    cur = up;
    n = up_n;
    up = cur[n].items;
    up_n = cur[n].n;
  }
}

/* One copy still to make: *dst = a copy of *src. */
typedef struct copy_job {
  const tsr__qvalue *src;
  tsr__qvalue *dst;
} copy_job;

tsr_status tsr__query_value_copy(tsr_ctx *ctx, const tsr__qvalue *src, tsr__qvalue *dst) {
  memset(dst, 0, sizeof *dst);
  copy_job *jobs = NULL;
  size_t n = 0, cap = 0;
  tsr_status s = TSR_OK;
  copy_job job = {src, dst};
  for (;;) {
    *job.dst = *job.src;
    if (job.src->kind == QV_ARRAY) {
      job.dst->array = NULL;
      s = tsr__query_array_ref(job.src->array, &job.dst->array);
      if (s != TSR_OK) {
        memset(job.dst, 0, sizeof *job.dst);
        break;
      }
    } else if (job.src->kind == QV_TUPLE) {
      /* Items start as None, so a failure anywhere leaves dst clearable. */
      job.dst->items = NULL;
      job.dst->n = 0;
      int m = job.src->n;
      if (m > 0) {
        s = tsr_calloc(ctx, (size_t)m, sizeof *job.dst->items, (void **)&job.dst->items);
        if (s != TSR_OK)
          break;
        job.dst->n = m;
        if (n + (size_t)m > cap) {
          size_t c = cap ? 2 * cap : 64;
          while (c < n + (size_t)m)
            c *= 2;
          s = tsr__grow_array(ctx, (void **)&jobs, n, c, sizeof *jobs, "tuple copies");
          if (s != TSR_OK)
            break;
          cap = c;
        }
        for (int i = m - 1; i >= 0; i--)
          jobs[n++] = (copy_job){&job.src->items[i], &job.dst->items[i]};
      }
    }
    if (n == 0)
      break;
    job = jobs[--n];
  }
  tsr_free(ctx, jobs);
  if (s != TSR_OK)
    tsr__query_value_clear(ctx, dst);
  return s;
}

const char *tsr__query_value_kind_name(const tsr__qvalue *v) {
  switch (v->kind) {
  case QV_NONE:
    return "None";
  case QV_BOOL:
    return "bool";
  case QV_INT:
    return "int";
  case QV_UINT:
    return "int above the int64 range";
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

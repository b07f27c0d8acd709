/* session.c — SQL sessions (sql.h): the catalog of named tables (frames,
 * files opened on first use, views kept as syntax trees) and the statement
 * loop of tsr_sql_run.  Every statement binds into a plan in an arena of
 * its own (bind.c) and runs as frame operations (exec.c); a statement that
 * fails changes nothing in the catalog. */
#include <stdlib.h>
#include <string.h>

#include <tessera/query.h>

#include "plan.h"

typedef struct entry {
  char *name;
  tsr_frame *frame;           /* a table, or a path once opened */
  char *path;                 /* a path registered, NULL otherwise */
  const tsr__sql_query *view; /* a view: its query, in a kept script */
} entry;

struct tsr_sql_session {
  tsr_ctx *ctx;
  int n, cap;
  entry *entries;
  int nscripts, script_cap;
  tsr__sql_script **scripts; /* scripts whose views are in the catalog */
  bool join_order_off;       /* tsr__sql_session_set_join_order */
};

struct tsr__sql_catalog {
  tsr_sql_session *s;
};

tsr_status tsr_sql_session_create(tsr_ctx *ctx, tsr_sql_session **out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "tsr_sql_session_create: out is NULL");
  *out = NULL;
  TSR_CHECK(ctx != NULL, TSR_EINVAL, "tsr_sql_session_create: ctx is NULL");
  tsr_sql_session *s;
  TSR_TRY(tsr_calloc(ctx, 1, sizeof *s, (void **)&s));
  s->ctx = ctx;
  *out = s;
  return TSR_OK;
}

static void entry_clear(tsr_ctx *ctx, entry *e) {
  tsr_free(ctx, e->name);
  tsr_free(ctx, e->path);
  tsr_frame_destroy(&e->frame);
  memset(e, 0, sizeof *e);
}

void tsr_sql_session_destroy(tsr_sql_session **session) {
  if (session == NULL || *session == NULL)
    return;
  tsr_sql_session *s = *session;
  for (int i = 0; i < s->n; i++)
    entry_clear(s->ctx, &s->entries[i]);
  for (int i = 0; i < s->nscripts; i++)
    tsr__sql_script_destroy(&s->scripts[i]);
  tsr_free(s->ctx, s->entries);
  tsr_free(s->ctx, s->scripts);
  tsr_free(s->ctx, s);
  *session = NULL;
}

static int find(const tsr_sql_session *s, const char *name, bool quoted) {
  for (int i = 0; i < s->n; i++)
    if (quoted ? strcmp(s->entries[i].name, name) == 0 : tsr__sql_name_eq(s->entries[i].name, name))
      return i;
  return -1;
}

static tsr_status strdup_ctx(tsr_ctx *ctx, const char *s, char **out) {
  size_t n = strlen(s) + 1;
  TSR_TRY(tsr_alloc(ctx, n, (void **)out));
  memcpy(*out, s, n);
  return TSR_OK;
}

/* Puts entry e (taken over) under its name, replacing one of that name. */
static tsr_status put(tsr_sql_session *s, entry *e) {
  int at = find(s, e->name, false);
  if (at >= 0) {
    entry_clear(s->ctx, &s->entries[at]);
    s->entries[at] = *e;
    return TSR_OK;
  }
  if (s->n == s->cap) {
    int cap = s->cap ? 2 * s->cap : 8;
    entry *grown;
    tsr_status st = tsr_calloc(s->ctx, (size_t)cap, sizeof *grown, (void **)&grown);
    if (st != TSR_OK) {
      entry_clear(s->ctx, e);
      return st;
    }
    if (s->n)
      memcpy(grown, s->entries, (size_t)s->n * sizeof *grown);
    tsr_free(s->ctx, s->entries);
    s->entries = grown;
    s->cap = cap;
  }
  s->entries[s->n++] = *e;
  return TSR_OK;
}

static tsr_status check_name(const char *fn, const char *name) {
  TSR_CHECK(name != NULL && name[0] != '\0', TSR_EINVAL, "%s: the table name is NULL or empty", fn);
  return TSR_OK;
}

tsr_status tsr_sql_register(tsr_sql_session *s, const char *name, tsr_frame *frame) {
  static const char fn[] = "tsr_sql_register";
  TSR_CHECK(s != NULL && frame != NULL, TSR_EINVAL, "%s: session or frame is NULL", fn);
  TSR_TRY(check_name(fn, name));
  entry e = {0};
  int n = tsr_frame_ncols(frame);
  const char **names;
  TSR_TRY(tsr_calloc(s->ctx, (size_t)n + 1, sizeof *names, (void **)&names));
  for (int i = 0; i < n; i++)
    names[i] = tsr_frame_col_name(frame, i);
  tsr_status st = tsr_frame_select(frame, n, names, &e.frame);
  tsr_free(s->ctx, names);
  if (st == TSR_OK)
    st = strdup_ctx(s->ctx, name, &e.name);
  if (st != TSR_OK) {
    entry_clear(s->ctx, &e);
    return st;
  }
  return put(s, &e);
}

tsr_status tsr_sql_register_path(tsr_sql_session *s, const char *name, const char *path) {
  static const char fn[] = "tsr_sql_register_path";
  TSR_CHECK(s != NULL && path != NULL && path[0] != '\0', TSR_EINVAL,
            "%s: session or path is NULL or empty", fn);
  TSR_TRY(check_name(fn, name));
  entry e = {0};
  tsr_status st = strdup_ctx(s->ctx, name, &e.name);
  if (st == TSR_OK)
    st = strdup_ctx(s->ctx, path, &e.path);
  if (st != TSR_OK) {
    entry_clear(s->ctx, &e);
    return st;
  }
  return put(s, &e);
}

/* ---- files ------------------------------------------------------------------------------- */

tsr_status tsr__sql_catalog_lookup(tsr__sql_binder *b, const tsr__sql_ident *name,
                                   tsr_frame **frame, const tsr__sql_query **view,
                                   const char **path) {
  tsr_sql_session *s = b->catalog->s;
  *frame = NULL;
  *view = NULL;
  *path = NULL;
  int at = find(s, name->name, name->quoted);
  if (at < 0) {
    const char *best = NULL;
    int best_d = 3;
    for (int i = 0; i < s->n; i++) {
      int d = tsr__sql_distance(s->entries[i].name, name->name);
      if (d < best_d) {
        best_d = d;
        best = s->entries[i].name;
      }
    }
    if (best != NULL)
      return tsr__query_fail(b->source, name->pos, TSR_EINVAL,
                             "unknown table \"%s\" (did you mean \"%s\"?)", name->name, best);
    return tsr__query_fail(b->source, name->pos, TSR_EINVAL,
                           "unknown table \"%s\" (name a file in quotes: FROM 'data.csv')",
                           name->name);
  }
  entry *e = &s->entries[at];
  if (e->view != NULL) {
    *view = e->view;
    return TSR_OK;
  }
  if (e->frame == NULL) { /* a file: opened by each statement, with the columns it reads */
    *path = e->path;
    return TSR_OK;
  }
  int n = tsr_frame_ncols(e->frame);
  const char **names = tsr__query_arena_alloc(b->arena, (size_t)(n + 1) * sizeof *names);
  if (names == NULL)
    return TSR_ENOMEM;
  for (int i = 0; i < n; i++)
    names[i] = tsr_frame_col_name(e->frame, i);
  return tsr_frame_select(e->frame, n, names, frame);
}

/* ---- statements -------------------------------------------------------------------------- */

/* A frame of one string column `plan`, one row per line of text. */
static tsr_status lines_frame(tsr_ctx *ctx, const char *text, size_t len, tsr_frame **out) {
  int64_t rows = 0;
  for (size_t i = 0; i < len; i++)
    rows += text[i] == '\n';
  int64_t *off;
  TSR_TRY(tsr_calloc(ctx, (size_t)rows + 1, sizeof *off, (void **)&off));
  char *data;
  tsr_status st = tsr_alloc(ctx, len + 1, (void **)&data);
  if (st != TSR_OK) {
    tsr_free(ctx, off);
    return st;
  }
  size_t n = 0;
  int64_t r = 0;
  for (size_t i = 0; i < len; i++) {
    if (text[i] == '\n')
      off[++r] = (int64_t)n;
    else
      data[n++] = text[i];
  }
  tsr_column_data c = {
      .name = "plan", .type = {TSR_COL_STRING, 0}, .length = rows, .offsets = off, .data = data};
  st = tsr_frame_from_columns(ctx, 1, &c, 0, TSR_BUFFER_COPY, NULL, NULL, out);
  tsr_free(ctx, off);
  tsr_free(ctx, data);
  return st;
}

static tsr_status copy_to(tsr__sql_binder *b, const tsr__sql_stmt *st, tsr_frame *f) {
  char delim = ',';
  for (int i = 0; i < st->noptions; i++) {
    const tsr__sql_option *o = &st->options[i];
    const char *v = o->value ? o->value : "true";
    if (strcmp(o->name, "format") == 0) {
      if (!tsr__sql_name_eq(v, "csv"))
        return tsr__query_fail(b->source, o->pos, TSR_ENOTSUP,
                               "COPY writes FORMAT csv, or an HDF5 table when the path is "
                               "'file.h5:/group'");
    } else if (strcmp(o->name, "delimiter") == 0 || strcmp(o->name, "delim") == 0 ||
               strcmp(o->name, "sep") == 0) {
      if (strlen(v) != 1)
        return tsr__query_fail(b->source, o->pos, TSR_EINVAL,
                               "the delimiter must be one character");
      delim = v[0];
    } else if (strcmp(o->name, "header") == 0) {
      if (!tsr__sql_name_eq(v, "true") && strcmp(v, "1") != 0)
        return tsr__query_fail(b->source, o->pos, TSR_ENOTSUP, "COPY always writes a header row");
    } else
      return tsr__query_fail(b->source, o->pos, TSR_ENOTSUP,
                             "unknown COPY option \"%s\" (FORMAT, DELIMITER, HEADER)", o->name);
  }
  const char *colon = tsr__sql_hdf5_colon(st->path);
  tsr_status s;
  if (colon == NULL)
    s = tsr_frame_write_csv(f, st->path, delim, true, NULL);
  else {
    size_t n = (size_t)(colon - st->path);
    char *file = tsr__query_arena_strndup(b->arena, st->path, n);
    if (file == NULL)
      return TSR_ENOMEM;
    tsr_frame_hdf5_options o;
    memset(&o, 0, sizeof o);
    o.mode = TSR_HDF5_OVERWRITE;
    s = tsr_frame_write_hdf5(f, file, colon + 1, &o);
  }
  if (s != TSR_OK && s != TSR_ENOMEM)
    return tsr__query_fail(b->source, st->path_pos, s, "COPY: %s", tsr_last_error());
  return s;
}

void tsr__sql_session_set_join_order(tsr_sql_session *s, bool on) { s->join_order_off = !on; }

/* A query bound to its plan, inner joins ordered and their build sides
 * chosen, filters over CSV scans pushed into their readers, and the columns
 * each operator uses marked. */
static tsr_status bind(tsr__sql_binder *b, const tsr__sql_query *q, tsr__sql_plan **plan) {
  TSR_TRY(tsr__sql_bind_query(b, q, plan));
  TSR_TRY(tsr__sql_order_joins(b, plan));
  TSR_TRY(tsr__sql_choose_build_sides(b, plan));
  TSR_TRY(tsr__sql_push_into_scans(b, plan));
  return tsr__sql_prune(b, *plan);
}

static tsr_status run_stmt(tsr_sql_session *s, tsr__sql_script *script, int k, bool *keep_script,
                           tsr_frame **result) {
  const tsr__sql_stmt *st = script->stmts[k];
  tsr__qarena arena = {.ctx = s->ctx, .head = NULL};
  tsr__sql_catalog cat = {s};
  tsr__sql_binder b = {.ctx = s->ctx,
                       .arena = &arena,
                       .source = script->source,
                       .catalog = &cat,
                       .join_order_off = s->join_order_off};
  tsr__sql_plan *plan = NULL;
  tsr_frame *f = NULL;
  tsr_status rc = TSR_OK;
  *result = NULL;
  switch (st->kind) {
  case SQL_S_QUERY:
    rc = bind(&b, st->query, &plan);
    if (rc == TSR_OK)
      rc = tsr__sql_exec_result(&b, plan, false, result);
    break;
  case SQL_S_CREATE_TABLE:
  case SQL_S_CREATE_VIEW: {
    int at = find(s, st->name.name, st->name.quoted);
    if (at >= 0 && !st->or_replace) {
      rc = tsr__query_fail(script->source, st->name.pos, TSR_EINVAL,
                           "table \"%s\" exists (CREATE OR REPLACE replaces it)", st->name.name);
      break;
    }
    rc = bind(&b, st->query, &plan);
    entry e = {0};
    if (rc == TSR_OK && st->kind == SQL_S_CREATE_TABLE) {
      rc = tsr__sql_exec_result(&b, plan, false, &f);
      if (rc == TSR_OK)
        rc = tsr_frame_persist(f, NULL, &e.frame);
    } else if (rc == TSR_OK) {
      e.view = st->query;
      *keep_script = true;
    }
    if (rc == TSR_OK)
      rc = strdup_ctx(s->ctx, st->name.name, &e.name);
    if (rc == TSR_OK)
      rc = put(s, &e);
    else
      entry_clear(s->ctx, &e);
    break;
  }
  case SQL_S_DROP: {
    int at = find(s, st->name.name, st->name.quoted);
    if (at < 0) {
      if (!st->if_exists)
        rc = tsr__query_fail(script->source, st->name.pos, TSR_EINVAL,
                             "unknown table \"%s\" (DROP ... IF EXISTS ignores it)", st->name.name);
      break;
    }
    if ((s->entries[at].view != NULL) != st->drop_view) {
      rc = tsr__query_fail(script->source, st->name.pos, TSR_EINVAL, "\"%s\" is a %s, not a %s",
                           st->name.name, st->drop_view ? "table" : "view",
                           st->drop_view ? "view" : "table");
      break;
    }
    entry_clear(s->ctx, &s->entries[at]);
    s->entries[at] = s->entries[--s->n];
    break;
  }
  case SQL_S_COPY:
    rc = bind(&b, st->query, &plan);
    if (rc == TSR_OK)
      rc = tsr__sql_exec_result(&b, plan, false, &f);
    if (rc == TSR_OK)
      rc = copy_to(&b, st, f);
    break;
  case SQL_S_EXPLAIN: {
    rc = bind(&b, st->query, &plan);
    if (rc == TSR_OK && st->analyze)
      rc = tsr__sql_exec_result(&b, plan, true, &f);
    char *text = NULL;
    size_t len = 0;
    if (rc == TSR_OK)
      rc = tsr__sql_explain(&b, plan, st->analyze, &text, &len);
    if (rc == TSR_OK)
      rc = lines_frame(s->ctx, text, len, result);
    free(text);
    break;
  }
  }
  tsr_frame_destroy(&f);
  tsr__sql_binder_release(&b);
  tsr__query_arena_free(&arena);
  return rc;
}

tsr_status tsr_sql_run(tsr_sql_session *s, const char *sql, tsr_frame **out) {
  static const char fn[] = "tsr_sql_run";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(s != NULL && sql != NULL, TSR_EINVAL, "%s: session or SQL text is NULL", fn);
  tsr__sql_script *script = NULL;
  TSR_TRY(tsr__sql_parse(s->ctx, sql, &script));
  bool keep = false;
  tsr_status rc = TSR_OK;
  for (int k = 0; k < script->nstmts && rc == TSR_OK; k++) {
    tsr_frame *result = NULL;
    rc = run_stmt(s, script, k, &keep, &result);
    tsr_frame_destroy(out);
    *out = result;
  }
  if (rc != TSR_OK)
    tsr_frame_destroy(out);
  if (keep) {
    if (s->nscripts == s->script_cap) {
      int cap = s->script_cap ? 2 * s->script_cap : 4;
      tsr__sql_script **grown;
      tsr_status st = tsr_calloc(s->ctx, (size_t)cap, sizeof *grown, (void **)&grown);
      if (st != TSR_OK) {
        /* the views would point into freed memory: drop them */
        for (int i = s->n - 1; i >= 0; i--)
          if (s->entries[i].view != NULL && s->entries[i].frame == NULL) {
            bool ours = false;
            for (int k = 0; k < script->nstmts; k++)
              ours |= script->stmts[k]->query == s->entries[i].view;
            if (ours) {
              entry_clear(s->ctx, &s->entries[i]);
              s->entries[i] = s->entries[--s->n];
            }
          }
        tsr__sql_script_destroy(&script);
        tsr_frame_destroy(out);
        return st;
      }
      if (s->nscripts)
        memcpy(grown, s->scripts, (size_t)s->nscripts * sizeof *grown);
      tsr_free(s->ctx, s->scripts);
      s->scripts = grown;
      s->script_cap = cap;
    }
    s->scripts[s->nscripts++] = script;
  } else
    tsr__sql_script_destroy(&script);
  return rc;
}

/* fuzz_sql.c — fuzz target for the SQL parser (src/sql/ast.h): the input is
 * a script's bytes, NUL bytes included (tsr__sql_parse_len).  It is parsed
 * and every statement printed as an S-expression to /dev/null.  Besides a
 * crash, a sanitizer report, a leak of accounted memory or a hang, these
 * are findings (abort): a status other than OK, EPARSE or ENOMEM; a syntax
 * error whose message does not point into the text ("line L, column C:");
 * a node whose source bytes [pos, end) are not inside the text. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "sql/ast.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_span(int32_t pos, int32_t end, size_t size) {
  if (pos < 0 || end < pos || (size_t)end > size) {
    fprintf(stderr, "fuzz_sql: node at [%d, %d) outside the text of %zu bytes\n", (int)pos,
            (int)end, size);
    abort();
  }
}

static void check_query(const tsr__sql_query *q, size_t size);

static void check_expr(const tsr__sql_expr *e, size_t size) {
  if (e == NULL)
    return;
  check_span(e->pos, e->end, size);
  for (int k = 0; k < e->nargs; k++)
    check_expr(e->args[k], size);
  check_expr(e->operand, size);
  check_expr(e->else_expr, size);
  if (e->over != NULL) {
    for (int k = 0; k < e->over->npartition; k++)
      check_expr(e->over->partition[k], size);
    for (int k = 0; k < e->over->norder; k++)
      check_expr(e->over->order[k].expr, size);
  }
  if (e->subquery != NULL)
    check_query(e->subquery, size);
}

static void check_table(const tsr__sql_table *t, size_t size) {
  if (t == NULL)
    return;
  check_span(t->pos, t->pos, size);
  if (t->subquery != NULL)
    check_query(t->subquery, size);
  check_table(t->left, size);
  check_table(t->right, size);
  check_expr(t->on, size);
}

static void check_query(const tsr__sql_query *q, size_t size) {
  if (q == NULL)
    return;
  check_span(q->pos, q->pos, size);
  for (int k = 0; k < q->nctes; k++)
    check_query(q->ctes[k].query, size);
  if (q->select != NULL) {
    const tsr__sql_select *s = q->select;
    for (int k = 0; k < s->nitems; k++)
      check_expr(s->items[k].expr, size);
    check_table(s->from, size);
    check_expr(s->where, size);
    for (int k = 0; k < s->ngroup; k++)
      check_expr(s->group[k], size);
    check_expr(s->having, size);
  }
  check_query(q->left, size);
  check_query(q->right, size);
  for (int k = 0; k < q->norder; k++)
    check_expr(q->order[k].expr, size);
  check_expr(q->limit, size);
  check_expr(q->offset, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tsr_ctx *ctx = fuzz_ctx();
  tsr__sql_script *script = NULL;
  tsr_status s = tsr__sql_parse_len(ctx, (const char *)data, size, &script);
  if (s == TSR_OK) {
    for (int k = 0; k < script->nstmts; k++) {
      const tsr__sql_stmt *st = script->stmts[k];
      check_span(st->pos, st->end, size);
      check_query(st->query, size);
      tsr__sql_stmt_print(st, fuzz_devnull());
    }
  } else if (s == TSR_EPARSE) {
    if (strncmp(tsr_last_error(), "line ", 5) != 0) {
      fprintf(stderr, "fuzz_sql: a syntax error without its place: %s\n", tsr_last_error());
      abort();
    }
  } else if (s != TSR_ENOMEM) {
    fprintf(stderr, "fuzz_sql: unexpected status %s: %s\n", tsr_status_name(s), tsr_last_error());
    abort();
  }
  tsr__sql_script_destroy(&script);
  fuzz_ctx_done(&ctx);
  return 0;
}

/* pushdown.c — WHERE filters pushed into CSV readers.  After binding has
 * moved each WHERE conjunct as far down as joins allow (bind.c), a FILTER
 * left directly over the scan of a CSV file reads that scan's columns
 * alone; it becomes the scan's `pushed` predicate, which the reader runs on
 * each block right after parsing it (frame/csv_where.h), so rows it rejects
 * are never held.  Conjuncts over several tables stay FILTERs above their
 * join.  HDF5 tables keep the FILTER: they are read in whole chunks with
 * nothing to convert, and the filter node already runs on each chunk as it
 * is read; .csv.gz files are opened whole while binding (files.c), so their
 * scans hold a frame, not a path, and keep it too. */
#include "plan.h"

static bool csv_scan(const tsr__sql_plan *p) {
  return p->kind == SQL_P_SCAN && p->path != NULL && p->frame == NULL && p->pushed == NULL &&
         tsr__sql_hdf5_colon(p->path) == NULL;
}

static tsr_status push(tsr__sql_binder *b, tsr__sql_plan **pp) {
  tsr__sql_plan *p = *pp;
  if (p == NULL)
    return TSR_OK;
  if (p->kind == SQL_P_FILTER && csv_scan(p->left) && p->ncols == p->left->ncols) {
    tsr__sql_plan *scan = p->left;
    scan->pushed = p->pred;
    /* the FILTER's time and rows are the scan's now (EXPLAIN ANALYZE) */
    *pp = scan;
    return TSR_OK;
  }
  TSR_TRY(push(b, &p->left));
  return push(b, &p->right);
}

tsr_status tsr__sql_push_into_scans(tsr__sql_binder *b, tsr__sql_plan **root) {
  return push(b, root);
}

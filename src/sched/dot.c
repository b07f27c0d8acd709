/* dot.c — Graphviz DOT export of a task graph: a node per task labelled
 * "kernel #id", an edge from each input to its consumer, inputs drawn below
 * (rankdir=BT, as Dask's visualize).  Written atomically. */
#include "core/atomic_file.h"
#include "taskgraph_impl.h"

tsr_status tsr_taskgraph_write_dot(const tsr_taskgraph *g, const char *path) {
  TSR_CHECK(g != NULL, TSR_EINVAL, "tsr_taskgraph_write_dot: graph is NULL");
  TSR_CHECK(path != NULL, TSR_EINVAL, "tsr_taskgraph_write_dot: path is NULL");
  tsr__atomic_file af;
  TSR_TRY(tsr__atomic_file_open(&af, path));
  FILE *f = af.fp;
  fprintf(f, "digraph tessera {\n  rankdir=BT;\n  node [shape=box, fontname=\"Helvetica\"];\n");
  for (uint32_t t = 0; t < g->n_tasks; t++) /* culled tasks are drawn dashed */
    fprintf(f, "  t%u [label=\"%s\\n#%u\"%s];\n", t, g->kernels[g->tasks[t].kernel].name, t,
            tsr__task_culled(g, t) ? ", style=dashed" : "");
  for (uint32_t t = 0; t < g->n_tasks; t++)
    for (uint32_t e = g->in_off[t]; e < g->in_off[t + 1]; e++)
      fprintf(f, "  t%u -> t%u;\n", g->inputs[e], t);
  fprintf(f, "}\n");
  return tsr__atomic_file_commit(&af);
}

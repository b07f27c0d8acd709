/* linalg_impl.h — what the linear algebra files share (linalg.c: products;
 * qr.c: TSQR, SVD, least squares; linalg_small.c: solve, inv, cholesky):
 * OpenBLAS's thread count held at one while a BLAS or LAPACK task runs, and
 * the small nodes the factorizations are assembled from. */
#ifndef TSR_LINALG_IMPL_H
#define TSR_LINALG_IMPL_H

#include "array_impl.h"

/* Around every BLAS / LAPACK call made by a task (linalg.c): the first
 * task to enter sets OpenBLAS's process-wide thread count to 1, the last to
 * leave restores it, so tasks stay single-threaded and bitwise stable. */
void tsr__blas_enter(void);
void tsr__blas_leave(void);

/* An internal node of `op` (its chunks are task outputs of any size, never
 * read as an array) with `nchunks` chunks, over n inputs, with params
 * (taken, even on failure). */
tsr_status tsr__linalg_node(tsr_ctx *ctx, const tsr__op *op, int64_t nchunks, uint32_t n,
                            tsr__expr *const *inputs, void *params, tsr__expr **out);
/* A float64 array of `ndim` axes of `shape` in one chunk holding the
 * elements [offset, offset + prod(shape)) of chunk `chunk` of the internal
 * node `from` (a copy task): one result of a factorization task. */
tsr_status tsr__linalg_part(tsr__expr *from, int64_t chunk, int64_t offset, int ndim,
                            const int64_t *shape, tsr_array **out);
/* a as float64 (a new handle: a itself, or its conversion). */
tsr_status tsr__linalg_float64(tsr_array *a, tsr_array **out);
/* a with one chunk along `axis` (a rechunk when it has more), the other
 * axes as they are. */
tsr_status tsr__linalg_whole_axis(tsr_array *a, int axis, tsr_array **out);

#endif /* TSR_LINALG_IMPL_H */

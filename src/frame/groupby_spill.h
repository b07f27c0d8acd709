/* groupby_spill.h — the group-by's two engines as groupby.c's entry point
 * chooses between them: in memory (groupby.c), and out of core by spilled
 * hash partitions (groupby_spill.c) when the first runs out of memory
 * under a memory limit. */
#ifndef TSR_FRAME_GROUPBY_SPILL_H
#define TSR_FRAME_GROUPBY_SPILL_H

#include "frame_impl.h"

/* tsr_frame_groupby computed in memory (groupby.c); the same contract. */
tsr_status tsr__groupby_memory(tsr_frame *f, int nkeys, const char *const *keys, int naggs,
                               const tsr_agg *aggs, const tsr_groupby_options *options,
                               tsr_frame **out);
/* The same, with the parts (the runs of chunks grouped as one, which fix
 * the order float sums are added in) those of parts_of, a frame with f's
 * chunk count: the out-of-core engine groups each partition with its
 * input's parts, so that every group adds its values as in memory. */
tsr_status tsr__groupby_memory_as(tsr_frame *f, const tsr_frame *parts_of, int nkeys,
                                  const char *const *keys, int naggs, const tsr_agg *aggs,
                                  const tsr_groupby_options *options, tsr_frame **out);

/* Whether the out-of-core path computes this group-by: one or more keys,
 * first-seen order, no largest/smallest. */
bool tsr__groupby_spill_applies(const tsr_frame *f, int nkeys, int naggs, const tsr_agg *aggs,
                                const tsr_groupby_options *options);

/* tsr_frame_groupby (first-seen order) computed out of core: the input's
 * key and aggregated columns hash-partitioned into `npartitions` spill
 * files' worth of partitions (0: as many as the memory limit needs, a
 * power of two), each aggregated in memory by tsr__groupby_memory, the
 * result a lazy frame read back from a spill file.  *used (may be NULL)
 * receives the partition count.  Same rows, values and order as
 * tsr__groupby_memory. */
tsr_status tsr__groupby_spill(tsr_frame *f, int nkeys, const char *const *keys, int naggs,
                              const tsr_agg *aggs, int npartitions, int *used, tsr_frame **out);

#endif /* TSR_FRAME_GROUPBY_SPILL_H */

/* station_pipeline.h — workload A9 (docs/benchmarks.md): the station
 * analysis of 1000 x 20000 float64 readings from HDF5, every result stored
 * by one compute (station_pipeline.c; the peers: peers/station_peers.py). */
#ifndef TSR_BENCH_STATION_PIPELINE_H
#define TSR_BENCH_STATION_PIPELINE_H

#include <tessera/tessera.h>

#define A9_STATIONS 1000
#define A9_STEPS 20000

/* Writes the input (dataset /t) to path unless the file exists. */
tsr_status a9_make_input(tsr_ctx *ctx, const char *path);
/* The pipeline: reads in_path:/t, replaces out_path with the results. */
tsr_status a9_run(tsr_ctx *ctx, const char *in_path, const char *out_path,
                  const tsr_compute_options *copt);

#endif /* TSR_BENCH_STATION_PIPELINE_H */

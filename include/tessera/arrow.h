/* tessera/arrow.h — frames to and from other tools without a file, through
 * the Arrow C Data and C Stream interfaces (docs/frames.md, "Arrow"):
 * DuckDB, Polars, pyarrow and nanoarrow all read and write an
 * ArrowArrayStream.
 *
 * The three structs are the ABI of the Arrow specification
 * (https://arrow.apache.org/docs/format/CDataInterface.html and
 * CStreamInterface.html), declared here exactly as the specification
 * declares them, behind its ARROW_C_DATA_INTERFACE and
 * ARROW_C_STREAM_INTERFACE guards, so that this header and any other
 * header declaring them (nanoarrow.h, arrow/c/abi.h, duckdb.h) can be
 * included together. */
#ifndef TESSERA_ARROW_H
#define TESSERA_ARROW_H

#include <stdint.h>

#include <tessera/core.h>
#include <tessera/frame.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE

#define ARROW_FLAG_DICTIONARY_ORDERED 1
#define ARROW_FLAG_NULLABLE 2
#define ARROW_FLAG_MAP_KEYS_SORTED 4

struct ArrowSchema {
  /* Array type description */
  const char *format;
  const char *name;
  const char *metadata;
  int64_t flags;
  int64_t n_children;
  struct ArrowSchema **children;
  struct ArrowSchema *dictionary;

  /* Release callback */
  void (*release)(struct ArrowSchema *);
  /* Opaque producer-specific data */
  void *private_data;
};

struct ArrowArray {
  /* Array data description */
  int64_t length;
  int64_t null_count;
  int64_t offset;
  int64_t n_buffers;
  int64_t n_children;
  const void **buffers;
  struct ArrowArray **children;
  struct ArrowArray *dictionary;

  /* Release callback */
  void (*release)(struct ArrowArray *);
  /* Opaque producer-specific data */
  void *private_data;
};

#endif /* ARROW_C_DATA_INTERFACE */

#ifndef ARROW_C_STREAM_INTERFACE
#define ARROW_C_STREAM_INTERFACE

struct ArrowArrayStream {
  /* Callbacks providing stream functionality */
  int (*get_schema)(struct ArrowArrayStream *, struct ArrowSchema *out);
  int (*get_next)(struct ArrowArrayStream *, struct ArrowArray *out);
  const char *(*get_last_error)(struct ArrowArrayStream *);

  /* Release callback */
  void (*release)(struct ArrowArrayStream *);

  /* Opaque producer-specific data */
  void *private_data;
};

#endif /* ARROW_C_STREAM_INTERFACE */

/* Exports the frame as a stream of record batches (struct arrays "+s"),
 * one per row chunk, into *out (which the caller releases with
 * out->release(out)).  The frame is computed now (collective, `options` as
 * for tsr_frame_compute; a persisted frame is read in place) and the
 * stream holds the computed chunks: the frame may be destroyed at once.
 *
 * Types: bool "b" (bit-packed: the only copied values), int8..uint64
 * "c s i l C S I L", float32/64 "f g", date "tdD", timestamp "tss:" "tsm:"
 * "tsu:" "tsn:" (no time zone), string "vu" (string views: tessera's own
 * layout, one data buffer per batch, zero-copy), dictionary as an int32
 * "i" index with an ordered large-string "U" dictionary (zero-copy).
 * Every column is nullable; validity bitmaps are the chunks' own.
 *
 * Every schema and array the stream hands out is released independently
 * of the stream and of each other (children and dictionaries too, also
 * when moved out of their parent); each array keeps the computed chunks
 * alive until released.  Memory comes from the frame's context: release
 * everything before tsr_ctx_destroy.  A frame with no columns is
 * TSR_EINVAL. */
TSR_API TSR_NODISCARD tsr_status tsr_frame_to_arrow_stream(tsr_frame *frame,
                                                           const tsr_compute_options *options,
                                                           struct ArrowArrayStream *out);

/* A frame read from an Arrow stream of struct arrays (record batches): one
 * row chunk per batch, every buffer copied (the stream may go away), so the
 * stream is consumed and released by this call, also when it fails.
 * Reads bool "b", integers "c s i l C S I L", floats "f g", "tdD",
 * "tss:" "tsm:" "tsu:" "tsn:" (no time zone), strings "u" "U" "vu"
 * (any number of data buffers), and dictionaries of any integer index over
 * "u" "U" "vu" values (each batch may have its own dictionary: the
 * column's dictionary is their sorted union); validity bitmaps and
 * offsets (non-zero offsets in the batch and in its children) as the
 * specification gives them.  Any other format is TSR_ENOTSUP naming the
 * column and its format string; a malformed stream (a batch that is not a
 * struct of the schema's columns, a code outside its dictionary, a batch
 * with null rows) TSR_EINVAL; the producer's own error TSR_EIO with its
 * get_last_error message.  The caller owns *out. */
TSR_API TSR_NODISCARD tsr_status tsr_frame_from_arrow_stream(tsr_ctx *ctx,
                                                             struct ArrowArrayStream *stream,
                                                             tsr_frame **out);

#ifdef __cplusplus
}
#endif

#endif /* TESSERA_ARROW_H */

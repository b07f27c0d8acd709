/* fuzz_csv.c — fuzz target for the CSV reader (tsr_frame_read_csv): the
 * first two bytes of the input choose the options, the rest is the file's
 * bytes, written to a private temporary file (named .csv, or .csv.gz when
 * chosen, so the gzip path sees the bytes too).
 *   byte 0: bits 0-2 the delimiter (sniffed, ',', ';', TAB, '|'; 5-7
 *           sniffed), bits 3-4 the header (auto, yes, no, auto), bits 5-6
 *           block_bytes (7, 64, 1000, 64), bit 7 a given schema (three
 *           columns "a:int64,b:string,c:float64") instead of sniffing
 *   byte 1: bits 0-1 bad_rows (error, null, skip, skip), bit 2 replace
 *           invalid UTF-8, bit 3 nulls "NA,NULL", bit 4 never dictionaries,
 *           bit 5 .csv.gz
 * The file is read twice, with the chosen block_bytes and with the default
 * (8 MiB: one block), computed, and every cell of every chunk is read
 * (csv_cells.h: string views must lie within their chunk's data, codes
 * within the dictionary, null counts must match the bitmaps, chunks must
 * hold the rows).  Findings: a crash, a sanitizer report, a leak, a hang; a
 * status other than TSR_OK, TSR_EPARSE, TSR_EINVAL or TSR_EIO; a result
 * that cannot be read back; and two readings that differ (in status, cells,
 * types or bad-row count), since row chunks must not change what is read. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../frame/csv_cells.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool status_allowed(tsr_status s) {
  return s == TSR_OK || s == TSR_EPARSE || s == TSR_EINVAL || s == TSR_EIO;
}

/* Reads, computes and walks the file; returns the status and, when OK, the
 * table's dump (types included) in *dump. */
static tsr_status read_once(const char *path, const tsr_csv_options *o, char **dump, int64_t *bad) {
  tsr_ctx *ctx = fuzz_ctx();
  *dump = NULL;
  *bad = 0;
  tsr_frame *f = NULL;
  tsr_frame_result *r = NULL;
  tsr_status s = tsr_frame_read_csv(ctx, path, o, &f);
  if (s == TSR_OK) {
    *bad = tsr_frame_csv_bad_rows(f);
    int64_t known = tsr_frame_nrows_known(f);
    s = tsr_frame_compute(f, NULL, &r);
    if (s == TSR_OK) {
      csv_table t;
      tsr_status rs = csv_table_from_result(r, &t);
      if (rs != TSR_OK || (known >= 0 && known != t.nrows) || t.ncols != tsr_frame_ncols(f)) {
        fprintf(stderr,
                "fuzz: the computed result does not read back (%s: %s; %lld rows known, "
                "%lld computed)\n",
                tsr_status_name(rs), tsr_last_error(), (long long)known, (long long)t.nrows);
        abort();
      }
      *dump = csv_table_dump(&t, true);
      csv_table_free(&t);
    }
  }
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&f);
  if (!status_allowed(s)) {
    fprintf(stderr, "fuzz: status %s (%s)\n", tsr_status_name(s), tsr_last_error());
    abort();
  }
  fuzz_ctx_done(&ctx);
  return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char delimiters[8] = {0, ',', ';', '\t', '|', 0, 0, 0};
  static const int headers[4] = {TSR_CSV_HEADER_AUTO, TSR_CSV_HEADER_YES, TSR_CSV_HEADER_NO,
                                 TSR_CSV_HEADER_AUTO};
  static const int64_t blocks[4] = {7, 64, 1000, 64};
  static const tsr_csv_bad_rows bad_modes[4] = {TSR_CSV_BAD_ERROR, TSR_CSV_BAD_NULL,
                                                TSR_CSV_BAD_SKIP, TSR_CSV_BAD_SKIP};
  uint8_t b0 = size > 0 ? data[0] : 0, b1 = size > 1 ? data[1] : 0;
  const uint8_t *bytes = data + (size > 2 ? 2 : size);
  size_t n = size > 2 ? size - 2 : 0;

  tsr_csv_options o = {0};
  o.delimiter = delimiters[b0 & 7];
  o.header = headers[(b0 >> 3) & 3];
  o.block_bytes = blocks[(b0 >> 5) & 3];
  if (b0 & 0x80)
    o.schema = "a:int64,b:string,c:float64";
  o.bad_rows = bad_modes[b1 & 3];
  o.replace_invalid_utf8 = (b1 >> 2) & 1;
  if (b1 & 8)
    o.nulls = "NA,NULL";
  if (b1 & 16)
    o.dict_max = -1;

  char path[96];
  const char *tmp = getenv("TMPDIR");
  snprintf(path, sizeof path, "%s/tessera-fuzz-%ld.csv%s", tmp && strlen(tmp) < 48 ? tmp : "/tmp",
           (long)getpid(), b1 & 32 ? ".gz" : "");
  FILE *f = fopen(path, "wb");
  if (f == NULL || fwrite(bytes, 1, n, f) != n || fclose(f) != 0) {
    perror(path);
    abort();
  }

  char *small = NULL, *whole = NULL;
  int64_t bad_small = 0, bad_whole = 0;
  tsr_status s_small = read_once(path, &o, &small, &bad_small);
  o.block_bytes = 0;
  tsr_status s_whole = read_once(path, &o, &whole, &bad_whole);
  /* One block or many: the same reading (unless the small block size
     itself is refused, TSR_EINVAL). */
  bool differ = s_small == TSR_OK && s_whole == TSR_OK
                    ? bad_small != bad_whole || strcmp(small, whole) != 0
                    : s_small != s_whole && s_small != TSR_EINVAL && s_whole != TSR_EINVAL;
  if (differ) {
    fprintf(stderr,
            "fuzz: block_bytes %lld and the default read differently: %s / %s, bad rows %lld / "
            "%lld\n--- small blocks:\n%s\n--- one block:\n%s\n",
            (long long)blocks[(b0 >> 5) & 3], tsr_status_name(s_small), tsr_status_name(s_whole),
            (long long)bad_small, (long long)bad_whole, small ? small : "(error)",
            whole ? whole : "(error)");
    abort();
  }
  free(small);
  free(whole);
  unlink(path);
  return 0;
}

/* sort_kernels.c — keys of array values for the array order functions
 * (see sort_kernels.h): strided, per tsr_dtype, reversible (the sorting
 * and selection themselves are core/order.h's).  Typed loops per dtype; no
 * allocation. */
#include "sort_kernels.h"

#define FOR_INT_DTYPES(X)    \
  X(TSR_INT8, int8_t, 1)     \
  X(TSR_INT16, int16_t, 1)   \
  X(TSR_INT32, int32_t, 1)   \
  X(TSR_INT64, int64_t, 1)   \
  X(TSR_UINT8, uint8_t, 0)   \
  X(TSR_UINT16, uint16_t, 0) \
  X(TSR_UINT32, uint32_t, 0) \
  X(TSR_UINT64, uint64_t, 0) \
  X(TSR_BOOL, uint8_t, 0)

void tsr__keys_from(tsr_dtype dtype, const void *in, int64_t stride, int64_t n, bool canon,
                    uint64_t *keys) {
  switch (dtype) {
#define X(D, T, S)                                                                  \
  case D: {                                                                         \
    const T *p = in;                                                                \
    for (int64_t i = 0; i < n; i++)                                                 \
      keys[i] = S ? (uint64_t)(int64_t)p[i * stride] ^ (UINT64_C(1) << 63)          \
                  : (uint64_t)p[i * stride];                                        \
    break;                                                                          \
  }
    FOR_INT_DTYPES(X)
#undef X
  case TSR_FLOAT32: {
    const float *p = in;
    for (int64_t i = 0; i < n; i++)
      keys[i] = tsr__key_f64((double)p[i * stride], canon);
    break;
  }
  default: {
    const double *p = in;
    for (int64_t i = 0; i < n; i++)
      keys[i] = tsr__key_f64(p[i * stride], canon);
    break;
  }
  }
}

void tsr__keys_to(tsr_dtype dtype, const uint64_t *keys, int64_t n, void *out, int64_t stride) {
  switch (dtype) {
#define X(D, T, S)                                                                     \
  case D: {                                                                            \
    T *p = out;                                                                        \
    for (int64_t i = 0; i < n; i++)                                                    \
      p[i * stride] = S ? (T)(int64_t)(keys[i] ^ (UINT64_C(1) << 63)) : (T)keys[i];    \
    break;                                                                             \
  }
    FOR_INT_DTYPES(X)
#undef X
  case TSR_FLOAT32: {
    float *p = out;
    for (int64_t i = 0; i < n; i++)
      p[i * stride] = (float)tsr__key_to_f64(keys[i]);
    break;
  }
  default: {
    double *p = out;
    for (int64_t i = 0; i < n; i++)
      p[i * stride] = tsr__key_to_f64(keys[i]);
    break;
  }
  }
}

void tsr__values_f64(tsr_dtype dtype, const void *in, int64_t stride, int64_t n, double *out) {
  switch (dtype) {
#define X(D, T, S)                      \
  case D: {                             \
    const T *p = in;                    \
    for (int64_t i = 0; i < n; i++)     \
      out[i] = (double)p[i * stride];   \
    break;                              \
  }
    FOR_INT_DTYPES(X)
#undef X
  case TSR_FLOAT32: {
    const float *p = in;
    for (int64_t i = 0; i < n; i++)
      out[i] = (double)p[i * stride];
    break;
  }
  default: {
    const double *p = in;
    for (int64_t i = 0; i < n; i++)
      out[i] = p[i * stride];
    break;
  }
  }
}

/* program.h — fused elementwise programs (docs/architecture.md, "Two graphs": fusion).
 *
 * A chain of elementwise operations is not a chain of tasks: it is one
 * program, a list of instructions in SSA form (instruction i defines
 * register i) over a few leaves (the arrays the chain reads).  A task runs
 * the program over its chunk in blocks of TSR__BLOCK elements, so every
 * register is a small L1/L2-resident buffer and no chunk-sized temporary
 * exists (numexpr's design).  Reductions run a program too: the
 * elementwise expression they reduce is evaluated block by block and fed
 * straight into the accumulators.
 *
 * Every instruction computes in one dtype: the builder inserts explicit
 * casts, so the typed loops (program_ops.c) only ever see operands of the
 * instruction's own dtype. */
#ifndef TSR_ARRAY_PROGRAM_H
#define TSR_ARRAY_PROGRAM_H

#include "array_impl.h"

/* Elements per block: 256 doubles = 2 KiB per register. */
#define TSR__BLOCK 256
/* Longest program fused into one kernel; a longer chain materializes its
 * input (bounding scratch memory at TSR__MAX_INSTRS x 2 KiB per task). */
#define TSR__MAX_INSTRS 128
/* Instructions kept free when a program is inlined into another: enough
 * for any one operation's casts, constants and result. */
#define TSR__HEADROOM 16
/* Most leaves one fused node reads. */
#define TSR__MAX_LEAVES 32

typedef enum tsr__icode {
  TSR__I_LOAD = 0, /* register = leaf `a` (in the leaf's dtype) */
  TSR__I_CONST,    /* register = imm splatted (dtype) */
  TSR__I_CAST,     /* register = reg a converted from src_dtype to dtype */
  TSR__I_UNARY,    /* register = op(reg a), operands in src_dtype */
  TSR__I_BINARY,   /* register = op(reg a, reg b), operands in src_dtype */
  TSR__I_WHERE,    /* register = reg a (bool) ? reg b : reg c, all in dtype */
} tsr__icode;

typedef struct tsr__instr {
  uint8_t code;      /* tsr__icode */
  uint8_t op;        /* tsr_unary_op / tsr_binary_op */
  uint8_t dtype;     /* result dtype */
  uint8_t src_dtype; /* operand dtype (CAST, UNARY, BINARY) */
  uint16_t a, b, c;  /* operand registers; LOAD: a = leaf */
  uint64_t imm;      /* CONST: the value's bytes in dtype */
} tsr__instr;

typedef struct tsr__program {
  uint32_t n;
  tsr__instr code[TSR__MAX_INSTRS];
} tsr__program;

/* Instruction `in` copied into another program: its leaf (a load) through
 * leaf_map, its operand registers through reg_map. */
static inline tsr__instr tsr__instr_renumber(tsr__instr in, const uint16_t *leaf_map,
                                             const uint16_t *reg_map) {
  if (in.code == TSR__I_LOAD) {
    in.a = leaf_map[in.a];
  } else if (in.code != TSR__I_CONST) {
    in.a = reg_map[in.a];
    if (in.code == TSR__I_BINARY || in.code == TSR__I_WHERE)
      in.b = reg_map[in.b];
    if (in.code == TSR__I_WHERE)
      in.c = reg_map[in.c];
  }
  return in;
}

/* Whether two programs are the same instructions (field by field). */
bool tsr__program_equal(const tsr__program *a, const tsr__program *b);
/* Appends an instruction, reusing an identical earlier one (CSE within the
 * program); *reg is its register.  TSR_ENOTSUP when the program is full. */
tsr_status tsr__program_emit(tsr__program *p, tsr__instr in, uint16_t *reg);
/* Makes register r the program's result (its last register, which
 * evaluation returns), appending a copy when an earlier instruction holds
 * it (CSE).  TSR_ENOTSUP when the program is full. */
tsr_status tsr__program_result_last(tsr__program *p, uint16_t r);
/* Emits a cast of register r (dtype `from`) to `to`, or returns r. */
tsr_status tsr__program_cast(tsr__program *p, uint16_t r, tsr_dtype to, uint16_t *out);
/* Emits a constant of dtype `dtype` holding `value` (converted as a C cast). */
tsr_status tsr__program_const(tsr__program *p, tsr_dtype dtype, double value, uint16_t *out);

/* Emits a constant of dtype `dtype` holding the integer `bits` (an int64,
 * or a uint64 when is_unsigned), converted as a C cast (exact for any
 * integer dtype that holds it: the caller range-checks). */
tsr_status tsr__program_const_int(tsr__program *p, tsr_dtype dtype, uint64_t bits, bool is_unsigned,
                                  uint16_t *out);

/* Whether an integer (int64 v, or uint64 (uint64_t)v when is_unsigned) is
 * a value of dtype: exact range checks for integer dtypes; float and bool
 * dtypes take any integer (rounded, or != 0). */
static inline bool tsr__int_fits(tsr_dtype dtype, uint64_t bits, bool is_unsigned) {
  int64_t v = (int64_t)bits;
  bool neg = !is_unsigned && v < 0;
  uint64_t mag = is_unsigned ? bits : (uint64_t)v; /* when !neg */
  switch (dtype) {
  case TSR_INT8:
    return neg ? v >= INT8_MIN : mag <= INT8_MAX;
  case TSR_INT16:
    return neg ? v >= INT16_MIN : mag <= INT16_MAX;
  case TSR_INT32:
    return neg ? v >= INT32_MIN : mag <= INT32_MAX;
  case TSR_INT64:
    return neg || mag <= (uint64_t)INT64_MAX;
  case TSR_UINT8:
    return !neg && mag <= UINT8_MAX;
  case TSR_UINT16:
    return !neg && mag <= UINT16_MAX;
  case TSR_UINT32:
    return !neg && mag <= UINT32_MAX;
  case TSR_UINT64:
    return !neg;
  default:
    return tsr_dtype_valid(dtype);
  }
}

/* One leaf as a task sees it: its block's first element and the element
 * stride along the run being evaluated (0 for a broadcast axis). */
typedef struct tsr__leaf_run {
  const unsigned char *ptr;
  int64_t stride;
} tsr__leaf_run;

/* Per-task evaluation state: register pointers and scratch. */
typedef struct tsr__eval {
  const tsr__program *p;
  const void *reg[TSR__MAX_INSTRS];
  size_t block;           /* most elements per block, <= TSR__BLOCK */
  tsr_status status;      /* why tsr__eval_block returned NULL */
  unsigned char *scratch; /* n instructions x block x 8 bytes, 64-aligned */
  bool on_stack;          /* scratch is `small` (tiny chunks: no allocation per task) */
  _Alignas(64) unsigned char small[4096];
} tsr__eval;

/* Allocates scratch for p (for blocks of at most `block` elements) from ctx. */
tsr_status tsr__eval_init(tsr__eval *ev, tsr_ctx *ctx, const tsr__program *p, size_t block);
void tsr__eval_free(tsr__eval *ev, tsr_ctx *ctx);
/* Evaluates the program on n <= block elements whose leaves start at
 * leaves[k].ptr; returns the last register (n elements of its dtype), or
 * NULL with an error set (an integer raised to a negative power). */
const void *tsr__eval_block(tsr__eval *ev, const tsr__leaf_run *leaves, size_t n);

/* The typed loops (program_ops.c). */
void tsr__cast_loop(tsr_dtype to, tsr_dtype from, void *dst, const void *src, int64_t src_stride,
                    size_t n);
bool tsr__unary_loop(tsr_unary_op op, tsr_dtype dtype, void *dst, const void *x, size_t n);
/* Returns false (with an error set) for an integer to a negative power. */
bool tsr__binary_loop(tsr_binary_op op, tsr_dtype dtype, void *dst, const void *x, const void *y,
                      size_t n);
void tsr__where_loop(tsr_dtype dtype, void *dst, const uint8_t *cond, const void *x, const void *y,
                     size_t n);
/* dst = value splatted n times (itemsize bytes each). */
void tsr__splat(void *dst, const void *value, size_t itemsize, size_t n);

#endif /* TSR_ARRAY_PROGRAM_H */

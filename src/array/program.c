/* program.c — building fused programs (with common-subexpression reuse) and
 * evaluating them block by block.
 *
 * Evaluation walks the instructions once per block.  A load of a leaf that
 * is contiguous in memory costs nothing: its register points into the
 * leaf's chunk.  Broadcast leaves (stride 0) are splatted and strided ones
 * gathered into the instruction's scratch block. */
#include <string.h>

#include "program.h"

static bool same_instr(const tsr__instr *x, const tsr__instr *y) {
  return x->code == y->code && x->op == y->op && x->dtype == y->dtype &&
         x->src_dtype == y->src_dtype && x->a == y->a && x->b == y->b && x->c == y->c &&
         x->imm == y->imm;
}

bool tsr__program_equal(const tsr__program *a, const tsr__program *b) {
  if (a->n != b->n)
    return false;
  for (uint32_t i = 0; i < a->n; i++)
    if (!same_instr(&a->code[i], &b->code[i]))
      return false;
  return true;
}

tsr_status tsr__program_emit(tsr__program *p, tsr__instr in, uint16_t *reg) {
  for (uint32_t i = 0; i < p->n; i++)
    if (same_instr(&p->code[i], &in)) {
      *reg = (uint16_t)i;
      return TSR_OK;
    }
  if (p->n == TSR__MAX_INSTRS)
    return tsr_error_set(TSR_ENOTSUP, "fused program longer than %d instructions", TSR__MAX_INSTRS);
  p->code[p->n] = in;
  *reg = (uint16_t)p->n++;
  return TSR_OK;
}

tsr_status tsr__program_result_last(tsr__program *p, uint16_t r) {
  if (r + 1u == p->n)
    return TSR_OK;
  if (p->n == TSR__MAX_INSTRS)
    return tsr_error_set(TSR_ENOTSUP, "fused program longer than %d instructions", TSR__MAX_INSTRS);
  tsr_dtype t = (tsr_dtype)p->code[r].dtype; /* a copy: a cast to its own dtype */
  p->code[p->n++] =
      (tsr__instr){.code = TSR__I_CAST, .dtype = (uint8_t)t, .src_dtype = (uint8_t)t, .a = r};
  return TSR_OK;
}

tsr_status tsr__program_cast(tsr__program *p, uint16_t r, tsr_dtype to, uint16_t *out) {
  tsr_dtype from = (tsr_dtype)p->code[r].dtype;
  if (from == to) {
    *out = r;
    return TSR_OK;
  }
  tsr__instr in = {.code = TSR__I_CAST, .dtype = (uint8_t)to, .src_dtype = (uint8_t)from, .a = r};
  return tsr__program_emit(p, in, out);
}

tsr_status tsr__program_const(tsr__program *p, tsr_dtype dtype, double value, uint16_t *out) {
  tsr__instr in = {.code = TSR__I_CONST, .dtype = (uint8_t)dtype, .src_dtype = (uint8_t)dtype};
  unsigned char bytes[8] = {0};
  tsr__cast_loop(dtype, TSR_FLOAT64, bytes, &value, 1, 1);
  memcpy(&in.imm, bytes, sizeof bytes);
  return tsr__program_emit(p, in, out);
}

tsr_status tsr__program_const_int(tsr__program *p, tsr_dtype dtype, uint64_t bits, bool is_unsigned,
                                  uint16_t *out) {
  tsr__instr in = {.code = TSR__I_CONST, .dtype = (uint8_t)dtype, .src_dtype = (uint8_t)dtype};
  unsigned char bytes[8] = {0};
  tsr__cast_loop(dtype, is_unsigned ? TSR_UINT64 : TSR_INT64, bytes, &bits, 1, 1);
  memcpy(&in.imm, bytes, sizeof bytes);
  return tsr__program_emit(p, in, out);
}

tsr_status tsr__eval_init(tsr__eval *ev, tsr_ctx *ctx, const tsr__program *p, size_t block) {
  ev->p = p;
  ev->scratch = NULL;
  ev->status = TSR_OK;
  ev->block = block < TSR__BLOCK ? (block > 0 ? block : 1) : TSR__BLOCK;
  size_t bytes = (size_t)p->n * ev->block * 8;
  ev->on_stack = bytes <= sizeof ev->small;
  if (ev->on_stack)
    ev->scratch = ev->small;
  else
    TSR_TRY(tsr_alloc(ctx, bytes, (void **)&ev->scratch));
  /* Constants are the same in every block: splat them once. */
  for (uint32_t i = 0; i < p->n; i++)
    if (p->code[i].code == TSR__I_CONST) {
      unsigned char *mine = ev->scratch + (size_t)i * ev->block * 8;
      tsr__splat(mine, &p->code[i].imm, tsr_dtype_size((tsr_dtype)p->code[i].dtype), ev->block);
      ev->reg[i] = mine;
    }
  return TSR_OK;
}

void tsr__eval_free(tsr__eval *ev, tsr_ctx *ctx) {
  if (!ev->on_stack)
    tsr_free(ctx, ev->scratch);
  ev->scratch = NULL;
}

const void *tsr__eval_block(tsr__eval *ev, const tsr__leaf_run *leaves, size_t n) {
  const tsr__program *p = ev->p;
  for (uint32_t i = 0; i < p->n; i++) {
    const tsr__instr *in = &p->code[i];
    unsigned char *mine = ev->scratch + (size_t)i * ev->block * 8;
    tsr_dtype dtype = (tsr_dtype)in->dtype, src = (tsr_dtype)in->src_dtype;
    const void *x = ev->reg[in->a];
    switch ((tsr__icode)in->code) {
    case TSR__I_LOAD: {
      const tsr__leaf_run *l = &leaves[in->a];
      if (l->stride == 1) {
        ev->reg[i] = l->ptr;
        continue;
      }
      if (l->stride == 0)
        tsr__splat(mine, l->ptr, tsr_dtype_size(dtype), n);
      else
        tsr__cast_loop(dtype, dtype, mine, l->ptr, l->stride, n);
      break;
    }
    case TSR__I_CONST: /* splatted by tsr__eval_init */
      continue;
    case TSR__I_CAST:
      tsr__cast_loop(dtype, src, mine, x, 1, n);
      break;
    case TSR__I_UNARY:
      if (!tsr__unary_loop((tsr_unary_op)in->op, src, mine, x, n)) {
        ev->status = tsr_error_set(TSR_EINTERNAL, "%s on %s has no loop",
                                   tsr_unary_op_name((tsr_unary_op)in->op), tsr_dtype_name(src));
        return NULL;
      }
      break;
    case TSR__I_BINARY:
      if (!tsr__binary_loop((tsr_binary_op)in->op, src, mine, x, ev->reg[in->b], n)) {
        ev->status = in->op == TSR_OP_POW ? TSR_EINVAL : TSR_EINTERNAL;
        return NULL;
      }
      break;
    case TSR__I_WHERE:
      tsr__where_loop(dtype, mine, x, ev->reg[in->b], ev->reg[in->c], n);
      break;
    }
    ev->reg[i] = mine;
  }
  return ev->reg[p->n - 1];
}

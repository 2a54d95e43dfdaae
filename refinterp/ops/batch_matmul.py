"""BATCH_MATMUL: float32, int8 (int8 or int32 output), int16 (int16x16 and int16x8) and hybrid (float32 LHS with
int8 RHS), as LiteRT 2.3.0's reference kernel computes them; TFLM's kernel under profile "tflm".

Sources: ``tensorflow/lite/kernels/batch_matmul.cc`` (Prepare, Eval, EvalHybrid, EvalInt8Int8, EvalInt8Int32,
EvalInt16, EvalInt16Int8) and ``reference_ops::BatchMatMul`` (``kernels/internal/reference/batch_matmul.h``);
TFLM: ``tensorflow/lite/micro/kernels/batch_matmul.cc`` and ``batch_matmul_common.cc``.

Shapes. LHS ``[..., A, B]`` (``adj_x``: ``[..., B, A]``, transposed first), RHS ``[..., B, C]`` (``adj_y``:
``[..., C, B]``); ranks 2 to 5; the batch dimensions (all but the last two, aligned from the right) broadcast
where one side is 1. The output is ``[broadcast batch..., A, C]`` of rank ``max(rank_lhs, rank_rhs)``.

float32 (``reference_ops::BatchMatMul`` for float): per output element ``total = 0.0f``, then
``total += lhs[i, k] * rhs[k, j]`` for k = 0, 1, ... in float32, each product and sum rounded.

int8 with int8 output (``BatchMatMul<int8_t, int32_t>``), per output element, in int32 (wrapping)::

    acc = sum_k (rhs[k, j] - zp_rhs) * (lhs[i, k] - zp_lhs)
    y   = clamp(MultiplyByQuantizedMultiplier(acc, M, shift) + zp_out, -128, 127)

with ``M, shift = QuantizeMultiplier(f64(f32(s_lhs * s_rhs)) / f64(s_out))`` (GetQuantizedConvolutionMultipler:
the float32 product; no bias, no fused activation). int8 with int32 output (``BatchMatMul<int8, int8, int32>``):
``y = sum_k rhs[k, j] * lhs[i, k]`` in int32 (wrapping), zero points and scales not read.

int16 (``BatchMatMul<int16_t, int64_t>``; int16 x int8 ``BatchMatMul<int8_t, int64_t, int16_t, int16_t>``,
LiteRT only): the int8 rule with an int64 accumulator, every zero point 0 (Prepare checks LHS, RHS and output),
the int64 overload of MultiplyByQuantizedMultiplier (a Q15 multiplier, one rounding)::

    y = clamp(int32((acc * ((M + 2**15) >> 16) + 2**(14 - shift)) >> (15 - shift)), -32768, 32767)

(``(M + 2**15) >> 16`` is 0x7FFF for M >= 0x7FFF0000).

hybrid (float32 LHS, int8 RHS with per-tensor or per-channel scales; ``EvalHybrid``, LiteRT only). Eval first
*compresses* a RHS of shape ``[..., 1, X, Y]`` with a LHS of rank > 2 (``adj_x`` false) to RHS ``[..., X, Y]``
and LHS ``[..., Q * R, S]``; the reference kernel then sees the filter (the RHS, transposed unless ``adj_y``) as
matrices ``F[f][u, k]`` and the input (the LHS, transposed if ``adj_x``) as rows ``x[r, k]``, each batch
dimension d of both extended to rank 5. Every input row is quantized by itself (``BatchQuantizeFloats``, the
rules of ``refinterp/ops/hybrid.py``): ``q[r], sf[r], zp[r]``; per-tensor filters fold ``sf[r] = f32(sf[r] *
s_w)``. Row sums ``rs[m, u] = sum_k F[m][u, k]`` (``ReductionSumVector``, SSE: int16 lanes) are computed for the
first ``F5[1] * F5[2]`` matrices. For each output batch ``(b0, b1, b2)``, row j, unit i::

    total   = sum_k F[f][i, k] * q[r, k]                        (int32, exact products)
    total   = int32(f32(total) - f32(f32(rs[m, i]) * f32(zp[s + j])))    (``total -= row_sum * batch_offset``)
    scale   = sf[s + j]  (per channel: f32(sf[s + j] * s_w[i]))
    y       = 0.0f + f32(scale * f32(total))

where f and r address the data by the usual broadcasting, but the scale/offset index ``s = (sum of b_d over
the input's batch dimensions that are not 1) * rows`` and the row-sum matrix ``m = sum of b_d over the filter's
batch dimensions that are not 1`` (``ioff_ext``, ``woff_ext``: offsets, not strides). With two or more non-1
batch dimensions this reads another batch's scale (and another matrix's row sums) than the one it multiplies:
LiteRT's rule, followed. A matrix index m past the computed row sums reads memory LiteRT never wrote: refused
(asymmetric inputs only; symmetric inputs multiply the row sums by 0).

Prepare (both runtimes): 2 inputs, 1 output; LHS and RHS float32, int8 or int16, of the same type, or (LiteRT)
float32 x int8 (hybrid) and int16 x int8; ranks 2 to 5; batch dimensions broadcastable; the accumulation
dimensions equal; int16: zero points 0; ``f32(s_lhs * s_rhs) >= 0``. TFLM also requires the output type to be
the LHS type (no int32 output) and rejects hybrid and int16 x int8.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from refinterp.errors import shown
from refinterp.ops.common import OpContext, checked_quantize_multiplier, per_tensor_qparams
from refinterp.ops.hybrid import explain_hybrid_dot, explain_quantize_row, quantize_rows, sse_row_sums
from refinterp.quant import (
    cast_to_int32,
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_int64,
    wrap_int32,
)

KINDS = ("float32", "int8", "int8->int32", "int16", "hybrid")


@dataclass(frozen=True)
class BatchMatMulParams:
    kind: str  # one of KINDS
    adj_x: bool
    adj_y: bool
    output_shape: tuple[int, ...]
    rows: int  # A
    depth: int  # B
    units: int  # C
    lhs_zero_point: int = 0
    rhs_zero_point: int = 0
    output_zero_point: int = 0
    multiplier: int = 0
    shift: int = 0
    act_min: int = 0
    act_max: int = 0
    # hybrid
    asymmetric: bool = False
    filter_scales: np.ndarray | None = None  # float32: [s_w] per tensor, [units] per channel
    per_channel: bool = False
    # the reference kernel's view after Eval's compression (hybrid): batch dimensions extended to 3
    input_batch: tuple[int, int, int] = (1, 1, 1)
    filter_batch: tuple[int, int, int] = (1, 1, 1)
    row_sum_matrices: int = 1  # F5[1] * F5[2]: the matrices ReductionSumVector covers
    view_rows: int = 0  # the input rows per input batch (Q * A after the compression)

    @property
    def output_batch(self) -> tuple[int, int, int]:
        # broadcast_dim (reference batch_matmul.h): the LHS's unless it is 1 (a 0 beats a 1 either way)
        return tuple(b if a == 1 else a for a, b in zip(self.input_batch, self.filter_batch))  # type: ignore


def _extend3(batch: tuple[int, ...]) -> tuple[int, int, int]:
    padded = (1,) * (3 - len(batch)) + tuple(batch)
    return padded[0], padded[1], padded[2]


def compressed_shapes(lhs: tuple[int, ...], rhs: tuple[int, ...], adj_x: bool) -> tuple[tuple[int, ...],
                                                                                      tuple[int, ...]]:
    """Eval's compression (batch_matmul.cc): RHS ``[..., 1, X, Y]`` with LHS ``[..., Q, R, S]`` (ranks > 2,
    ``adj_x`` false) become RHS ``[..., X, Y]`` and LHS ``[..., Q * R, S]``."""
    if not adj_x and len(rhs) > 2 and len(lhs) > 2 and rhs[-3] == 1:
        lhs = (*lhs[:-3], lhs[-3] * lhs[-2], lhs[-1])
        rhs = (*rhs[:-3], rhs[-2], rhs[-1])
    return lhs, rhs


def batch_index_tables(p: BatchMatMulParams) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per output batch (flattened ``(b0, b1, b2)``): the input batch and filter matrix it reads (broadcast
    strides), the scale index base ``s / rows`` and the row-sum matrix m (offsets, as the reference computes them).
    """
    d0, d1, d2 = p.output_batch
    b = np.indices((d0, d1, d2)).reshape(3, -1).T.astype(np.int64)
    ib, fb = np.array(p.input_batch), np.array(p.filter_batch)
    input_index = np.ravel_multi_index(tuple((b * (ib != 1)).T), tuple(ib)) if b.size else np.zeros(0, np.int64)
    filter_index = np.ravel_multi_index(tuple((b * (fb != 1)).T), tuple(fb)) if b.size else np.zeros(0, np.int64)
    scale_base = (b * (ib != 1)).sum(axis=1)
    row_sum_matrix = (b * (fb != 1)).sum(axis=1)
    return (np.asarray(input_index, np.int64), np.asarray(filter_index, np.int64),
            np.asarray(scale_base, np.int64), np.asarray(row_sum_matrix, np.int64))


# ------------------------------------------------------------------------------------------------
# Prepare


def prepare_batch_matmul(ctx: OpContext) -> BatchMatMulParams:
    ctx.check_inputs(2, 2)
    if len(ctx.op.outputs) != 1:
        raise ctx.fail(f"has {len(ctx.op.outputs)} outputs, expected 1")
    lhs, rhs, out = ctx.require_input(0), ctx.require_input(1), ctx.output(0)
    adj_x = bool(ctx.options.get("adj_x", False))
    adj_y = bool(ctx.options.get("adj_y", False))
    lt, rt, ot = lhs.type_name, rhs.type_name, out.type_name
    tflm = ctx.profile == "tflm"
    for tensor, role in ((lhs, "LHS"), (rhs, "RHS")):
        if tensor.type_name not in ("float32", "int8", "int16"):
            raise ctx.fail(f"{role} type {tensor.type_name} (TFLite takes float32, int8, int16)")
    if lt != rt and not (not tflm and (lt, rt) in (("float32", "int8"), ("int16", "int8"))):
        raise ctx.fail(f"LHS {lt} with RHS {rt}" + (" (TFLM requires the same type)" if tflm else ""))
    if tflm and ot != lt:
        raise ctx.fail(f"{lt} LHS with {ot} output (TFLM requires the LHS type)")
    lhs_shape, rhs_shape = ctx.shape(lhs), ctx.shape(rhs)
    for shape, role in ((lhs_shape, "LHS"), (rhs_shape, "RHS")):
        if not 2 <= len(shape) <= 5:
            raise ctx.fail(f"{role} has rank {len(shape)} (TFLite takes 2 to 5)")
    rank = max(len(lhs_shape), len(rhs_shape))
    lx = (1,) * (rank - len(lhs_shape)) + tuple(lhs_shape)
    rx = (1,) * (rank - len(rhs_shape)) + tuple(rhs_shape)
    batch = []
    for i, (a, b) in enumerate(zip(lx[:-2], rx[:-2])):
        if a != b and a != 1 and b != 1:
            raise ctx.fail(f"batch dimension {i}: LHS {a} and RHS {b} do not broadcast")
        batch.append(b if (a != b and a == 1) else a)
    rows, depth = (lx[-1], lx[-2]) if adj_x else (lx[-2], lx[-1])
    rhs_depth, units = (rx[-1], rx[-2]) if adj_y else (rx[-2], rx[-1])
    if depth != rhs_depth:
        raise ctx.fail(f"LHS accumulation dimension {depth} differs from the RHS's {rhs_depth}")
    output_shape = (*batch, rows, units)
    ctx.set_output_shape(0, output_shape)
    lhs_c, rhs_c = compressed_shapes(tuple(lhs_shape), tuple(rhs_shape), adj_x)
    input_batch, filter_batch = _extend3(lhs_c[:-2]), _extend3(rhs_c[:-2])
    common = dict(adj_x=adj_x, adj_y=adj_y, output_shape=output_shape, rows=rows, depth=depth, units=units,
                  input_batch=input_batch, filter_batch=filter_batch,
                  row_sum_matrices=filter_batch[1] * filter_batch[2],
                  view_rows=lhs_c[-1] if adj_x else lhs_c[-2])

    if lt == "float32" and rt == "float32":
        if ot != "float32":
            raise ctx.unsupported(f"float32 inputs with {ot} output (the kernel writes float32)")
        return BatchMatMulParams(kind="float32", **common)
    if lt == "float32":
        return _prepare_hybrid(ctx, rhs_shape, common)
    if lt == "int8" and ot == "int32":
        return BatchMatMulParams(kind="int8->int32", **common)
    if ot != lt:
        raise ctx.unsupported(f"{lt} inputs with {ot} output (the kernel writes {lt})")
    s_lhs, zp_lhs = per_tensor_qparams(ctx, lhs, "LHS")
    s_rhs, zp_rhs = per_tensor_qparams(ctx, rhs, "RHS")
    s_out, zp_out = per_tensor_qparams(ctx, out, "output")
    if lt == "int16" and (zp_lhs, zp_rhs, zp_out) != (0, 0, 0):
        raise ctx.fail(f"int16 zero points must be 0 (LHS {zp_lhs}, RHS {zp_rhs}, output {zp_out})")
    product = float(np.float32(s_lhs) * np.float32(s_rhs))  # GetQuantizedConvolutionMultipler: float32 product
    if not product >= 0:
        raise ctx.fail("LHS scale x RHS scale is negative")
    if s_out == 0:
        raise ctx.fail("output scale is 0")
    multiplier, shift = checked_quantize_multiplier(ctx, product / s_out, "LHS scale x RHS scale / output scale")
    if lt == "int16" and shift > 14:
        # the int64 MultiplyByQuantizedMultiplier shifts right by 15 - shift: undefined from shift 15 on
        raise ctx.fail(f"scale ratio {product / s_out:.6g} is 2**14 or more (the int16 requantization would "
                       "shift by a negative amount)")
    info = np.iinfo(np.int8 if lt == "int8" else np.int16)
    return BatchMatMulParams(kind=lt, lhs_zero_point=zp_lhs, rhs_zero_point=zp_rhs, output_zero_point=zp_out,
                             multiplier=multiplier, shift=shift, act_min=int(info.min), act_max=int(info.max),
                             **common)


def _prepare_hybrid(ctx: OpContext, rhs_shape: tuple[int, ...], common: dict) -> BatchMatMulParams:
    rhs, out = ctx.require_input(1), ctx.output(0)
    if out.type_name != "float32":
        raise ctx.unsupported(f"hybrid BATCH_MATMUL with {out.type_name} output (the kernel writes float32)")
    q = rhs.quantization
    if q is None:
        raise ctx.unsupported(f"hybrid BATCH_MATMUL with an unquantized int8 RHS {shown(rhs.name, 32)} (LiteRT "
                              "would read scale 0)")
    scales = np.asarray(q.scale, dtype=np.float32)
    per_channel = scales.size > 1  # VerifyPerChannelQuantization
    units = common["units"]
    if per_channel:
        if scales.size != rhs_shape[q.quantized_dimension]:
            raise ctx.fail(f"{scales.size} RHS scales for dimension {q.quantized_dimension} of size "
                           f"{rhs_shape[q.quantized_dimension]}")
        if scales.size < units:
            raise ctx.unsupported(f"{scales.size} RHS scales for {units} output columns (LiteRT reads a scale per "
                                  "column, past the end)")
        scales = scales[:units]
    asymmetric = bool(ctx.options.get("asymmetric_quantize_inputs", False))
    p = BatchMatMulParams(kind="hybrid", asymmetric=asymmetric, filter_scales=scales, per_channel=per_channel,
                          **common)
    if asymmetric:
        if not rhs.is_constant:
            raise ctx.unsupported("asymmetric hybrid BATCH_MATMUL with a non-constant RHS (LiteRT computes its row "
                                  "sums once, at the first invoke)")
        # the largest row-sum matrix batch_index_tables reads, in closed form (the tables of a huge batch are big)
        largest = sum(d - 1 for d, f in zip(p.output_batch, p.filter_batch) if f != 1)
        if math.prod(p.output_batch) and largest >= p.row_sum_matrices:
            raise ctx.unsupported(f"RHS batch dimensions {list(p.filter_batch)}: LiteRT's hybrid kernel would read "
                                  "row sums it never computed")
    return p


# ------------------------------------------------------------------------------------------------
# Spec kernels: readable NumPy


def _operands(p: BatchMatMulParams, lhs: np.ndarray, rhs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LHS as ``[..., A, B]`` and RHS as ``[..., B, C]`` (the adjoints applied)."""
    x = np.swapaxes(lhs, -1, -2) if p.adj_x else lhs
    y = np.swapaxes(rhs, -1, -2) if p.adj_y else rhs
    return x, y


def batch_matmul_spec(p: BatchMatMulParams, lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    if p.kind == "hybrid":
        return _hybrid_spec(p, lhs, rhs)
    x, y = _operands(p, lhs, rhs)
    if p.kind == "float32":
        x = x.astype(np.float32)
        y = y.astype(np.float32)
        total = np.zeros(p.output_shape, np.float32)
        for k in range(p.depth):  # float32, in k order, each product and sum rounded
            total = (total + (x[..., :, k:k + 1] * y[..., k:k + 1, :]).astype(np.float32)).astype(np.float32)
        return np.broadcast_to(total, p.output_shape).astype(np.float32)
    xs = x.astype(np.int64) - p.lhs_zero_point
    ys = y.astype(np.int64) - p.rhs_zero_point
    acc = np.broadcast_to(np.matmul(xs, ys), p.output_shape)  # exact in int64
    if p.kind == "int8->int32":
        return wrap_int32(acc).astype(np.int32)
    if p.kind == "int8":
        scaled = multiply_by_quantized_multiplier(wrap_int32(acc), p.multiplier, p.shift)
        out_dtype = np.int8
    else:  # int16: int64 accumulator
        scaled = multiply_by_quantized_multiplier_int64(acc, p.multiplier, p.shift)
        out_dtype = np.int16
    out = wrap_int32(scaled + p.output_zero_point)
    return np.clip(out, p.act_min, p.act_max).astype(out_dtype)


def reference_views(p: BatchMatMulParams, lhs: np.ndarray, rhs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reference kernel's operands, dtypes kept: input rows ``[input batches, rows, B]`` and filter
    matrices ``[filter batches, C, B]``, in memory order after the transposes and Eval's compression."""
    x = np.swapaxes(lhs, -1, -2) if p.adj_x else lhs
    w = rhs if p.adj_y else np.swapaxes(rhs, -1, -2)
    x = np.ascontiguousarray(x).reshape(math.prod(p.input_batch), p.view_rows, p.depth)
    w = np.ascontiguousarray(w).reshape(math.prod(p.filter_batch), p.units, p.depth)
    return x, w


def hybrid_row_sums(p: BatchMatMulParams, w: np.ndarray) -> np.ndarray:
    """ReductionSumVector over the first ``F5[1] * F5[2]`` filter matrices (int64 ``[filter batches, C]``; the
    rows past them, which LiteRT never writes, are 0 here: read only with symmetric inputs, times offset 0)."""
    covered = min(p.row_sum_matrices, w.shape[0])
    sums = np.zeros((max(w.shape[0], 1), p.units), np.int64)
    if covered and p.units and p.depth:
        sums[:covered] = sse_row_sums(w[:covered].reshape(-1, p.depth)).reshape(covered, p.units)
    return sums


def hybrid_quantize(p: BatchMatMulParams, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BatchQuantizeFloats of every input row: (int64 q ``[input batches, A, B]``, float32 scales with the
    per-tensor filter scale folded in, float32 offsets), scales and offsets flat by row."""
    q, scales, zero_points = quantize_rows(x.reshape(x.shape[0] * x.shape[1], p.depth), p.asymmetric)
    if not p.per_channel:
        scales = (scales * p.filter_scales[0]).astype(np.float32)  # scaling_factors_ptr[b] *= filter scale
    return q.reshape(x.shape), scales, zero_points.astype(np.float32)


def _hybrid_spec(p: BatchMatMulParams, lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    x, w = reference_views(p, lhs.astype(np.float32), rhs.astype(np.int64))
    q, scales, offsets = hybrid_quantize(p, x)
    row_sums = hybrid_row_sums(p, w).astype(np.float32)
    input_index, filter_index, scale_base, row_sum_matrix = batch_index_tables(p)
    rows = p.view_rows  # A, or Q * A after Eval's compression
    out = np.zeros((input_index.size, rows, p.units), np.float32)
    for n in range(input_index.size):
        total = wrap_int32(q[input_index[n]] @ w[filter_index[n]].T)  # [rows, C], int32
        s = scale_base[n] * rows
        offset = offsets[s:s + rows, None]  # batch_offset of row j
        correction = (row_sums[row_sum_matrix[n]][None, :] * offset).astype(np.float32)
        total = cast_to_int32((total.astype(np.float32) - correction).astype(np.float32))
        scale = scales[s:s + rows, None]
        if p.per_channel:
            scale = (scale * p.filter_scales[None, :]).astype(np.float32)
        out[n] = np.float32(0.0) + (scale * total.astype(np.float32)).astype(np.float32)
    return out.reshape(p.output_shape)


# ------------------------------------------------------------------------------------------------
# explain: one output element, step by step (``refinterp explain``; refinterp/ops/trace.py)


def explain_batch_matmul(ctx: OpContext, p: BatchMatMulParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """BATCH_MATMUL output ``index`` = (batch..., i, j): LHS row i times RHS column j of the broadcast batch, by the
    rule of the module docstring (float32, int8, int8 -> int32, int16; hybrid: the reference kernel's views)."""
    if p.kind == "hybrid":
        return _explain_hybrid(ctx, p, inputs, index, trace)
    x, y = _operands(p, inputs[0], inputs[1])
    batch, i, j = tuple(int(v) for v in index[:-2]), int(index[-2]), int(index[-1])
    batch_shape = tuple(p.output_shape[:-2])
    row = np.broadcast_to(x, (*batch_shape, p.rows, p.depth))[batch][i]
    column = np.broadcast_to(y, (*batch_shape, p.depth, p.units))[batch][:, j]
    trace.add("output element", [*batch, i, j], f"batch {list(batch)} (each side's batch dimensions broadcast), "
              f"row {i} of the LHS{' (adj_x: transposed)' if p.adj_x else ''} times column {j} of the RHS"
              f"{' (adj_y: transposed)' if p.adj_y else ''}, {p.depth} terms")
    positions = [(k,) for k in range(p.depth)]
    if p.kind == "float32":
        total = trace.float_dot(positions, ("k",), row, column, weight_names=("k",), what="LHS row")
        trace.approximates(float(np.dot(row.astype(np.float64), column.astype(np.float64))))
        return total
    lhs_q, rhs_q = ctx.require_input(0).quantization, ctx.require_input(1).quantization
    s_lhs = float(lhs_q.scale[0]) if lhs_q is not None and lhs_q.scale.size else 1.0
    s_rhs = float(rhs_q.scale[0]) if rhs_q is not None and rhs_q.scale.size else 1.0
    total, real = trace.dot(positions, ("k",), row, p.lhs_zero_point, s_lhs, column, p.rhs_zero_point, s_rhs,
                            what="LHS row", weight_names=("k",))
    if p.kind == "int8->int32":
        value = trace.wrap(total, "int32 output")
        trace.add("output", value, "the int32 sum itself (int32 output: no requantization, scales not read)")
        return value
    s_out = float(ctx.output(0).quantization.scale[0])
    trace.add("accumulator", total, "int32 (wrapping)" if p.kind == "int8" else "int64 (the int16 kernels)")
    multiplier, shift = trace.conv_multiplier(s_lhs, s_rhs, s_out, True, "s_rhs", (p.multiplier, p.shift), source="")
    value = trace.conv_output(total, multiplier, shift, p.kind == "int16", p.output_zero_point, p.act_min, p.act_max)
    trace.approximates(real, s_out, p.output_zero_point, (p.act_min, p.act_max))
    return value


def _explain_hybrid(ctx: OpContext, p: BatchMatMulParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """The hybrid rule at one element: the reference kernel's views, batch tables and row quantization (the
    spec's own functions), then the integer dot, the zero-point correction and the float rescale."""
    x, w = reference_views(p, np.asarray(inputs[0], np.float32), np.asarray(inputs[1]).astype(np.int64))
    input_index, filter_index, scale_base, row_sum_matrix = batch_index_tables(p)
    rows = p.view_rows
    flat = int(np.ravel_multi_index(index, p.output_shape))
    n, rest = divmod(flat, rows * p.units)
    j, unit = divmod(rest, p.units)
    trace.add("output element", [n, j, unit], f"output batch {n} (flat, batch dimensions extended to 3 after Eval's "
              f"compression), input row {j} of input batch {int(input_index[n])}, unit {unit} of filter matrix "
              f"{int(filter_index[n])} (the RHS{'' if p.adj_y else ' transposed'})")
    s = int(scale_base[n]) * rows
    # every row is quantized by itself; the scale/offset read is row s + j (LiteRT's offsets, not strides)
    q_rows, scales, offsets = hybrid_quantize(p, x)
    read_batch, read_row = divmod(s + j, rows)
    if (read_batch, read_row) != (int(input_index[n]), j):
        trace.notes.append(f"the scale and offset are those of input row {s + j} (batch {read_batch}, row "
                           f"{read_row}), not of the row multiplied: LiteRT's ioff_ext sums batch indices")
    q_row, _, _ = explain_quantize_row(trace, x[int(input_index[n]), j], p.asymmetric)
    if not np.array_equal(q_row, q_rows[int(input_index[n]), j]):
        raise AssertionError("the quantized row differs from hybrid_quantize's")
    total = explain_hybrid_dot(trace, w[int(filter_index[n]), unit], q_row, "weights", sse=False)
    offset = np.float32(offsets[s + j])
    if p.asymmetric:
        row_sum = np.float32(hybrid_row_sums(p, w).astype(np.float32)[int(row_sum_matrix[n]), unit])
        trace.add("weight row sum", row_sum, f"sum of unit {unit}'s weights of matrix {int(row_sum_matrix[n])} "
                  "(SseReductionSumVector: int16 lanes, wrapping)")
        correction = np.float32(row_sum * offset)
        corrected = int(cast_to_int32(np.float32(np.float32(total) - correction)))
        trace.add("minus row sum x zero point", corrected, f"int32(f32(f32({total}) - f32({float(row_sum)!r} * "
                  f"{float(offset)!r}))): the input zero point's share, in float32", rule="truncate toward zero")
        total = corrected
    scale = np.float32(scales[s + j])
    if p.per_channel:
        trace.add("scale", np.float32(scale * p.filter_scales[unit]),
                  f"f32(row scale {float(scale)!r} * s_w[{unit}] {float(p.filter_scales[unit])!r})")
        scale = np.float32(scale * p.filter_scales[unit])
    else:
        trace.add("scale", scale, f"f32(row scale * s_w), s_w = {float(p.filter_scales[0])!r} (folded in per row)")
    value = np.float32(np.float32(0.0) + np.float32(scale * np.float32(total)))
    trace.add("output", value, f"f32({float(scale)!r} * f32({total}))", rule="round to nearest, ties to even")
    filter_scale = float(p.filter_scales[unit if p.per_channel else 0])
    trace.approximates(float(np.dot(x[int(input_index[n]), j].astype(np.float64),
                                    w[int(filter_index[n]), unit].astype(np.float64))) * filter_scale)
    return value

"""MEAN and REDUCE_MAX: int8, uint8 and float32, any axes, keep_dims or not.

Axes come from the constant int32 input 1: each in [-rank, rank), negative values count from the end,
duplicates are ignored (``ResolveAxis``). The output keeps the reduced dimensions as 1 with ``keep_dims``,
drops them otherwise. For each output element the reduced elements are visited in the input's row-major order
(``ReduceSumImpl`` / ``ReduceGeneric`` walk the input once and add into the output element they map to).

MEAN int8/uint8 (``reference_ops::QuantizedMeanOrSum``: LiteRT BUILTIN_REF and TFLM, any axes)::

    M, shift = QuantizeMultiplier(f64(s_in) / f64(s_out))                        (Prepare)
    k  = min(floor(log2 N), 32, 31 + shift)                                      (N = reduced elements)
    M' = int32((int64(M) << k) / N)      (truncating)      shift' = shift - k
    S  = int32 sum of the raw stored values over the reduced elements
    y  = clamp(MultiplyByQuantizedMultiplier(int32(S - zp_in * N), M', shift') + zp_out)

MEAN float32 (``reference_ops::Mean``): ``sum`` starts at 0.0f and adds the reduced elements in row-major order
in float32; the output is ``sum / (float)N``.

REDUCE_MAX: the maximum, starting from the type's lowest value (``numeric_limits::lowest``) and replacing the
running value only when ``in > current`` (so of -0.0 and +0.0 the first one seen is kept). Quantized values are
copied, not rescaled: LiteRT requires the input and output scale and zero point to be equal.
An input with no elements gives 0 for int8 MEAN, NaN for float MEAN, ``lowest`` for REDUCE_MAX.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from refinterp.ops.common import OpContext, per_tensor_qparams, type_lowest
from refinterp.quant import DTYPE_RANGES, multiply_by_quantized_multiplier, quantize_multiplier, wrap_int32


@dataclass(frozen=True)
class ReduceParams:
    axes: tuple[int, ...]  # resolved: sorted, unique, non-negative
    keep_dims: bool
    output_shape: tuple[int, ...]
    reduced_count: int
    quantized: bool
    input_zero_point: int = 0
    output_zero_point: int = 0
    output_multiplier: int = 0  # MEAN: M' (already divided by N)
    output_shift: int = 0  # MEAN: shift'
    qmin: int = 0
    qmax: int = 0


def _prepare_reduce(ctx: OpContext, is_mean: bool) -> ReduceParams:
    ctx.check_inputs(2, 2)
    x, axis_tensor, y = ctx.require_input(0), ctx.require_input(1), ctx.output(0)
    ctx.check_dtype(x, ("int8", "uint8", "float32"), "input")
    ctx.check_same_type(x, y)
    if axis_tensor.type_name != "int32":
        raise ctx.fail(f"axis tensor must be int32, got {axis_tensor.type_name}")
    axis_values = axis_tensor.data
    if axis_values is None:
        if math.prod(ctx.shape(axis_tensor)) != 0:
            raise ctx.unsupported("a non-constant axis tensor (dynamic output shape)")
        axis_values = np.zeros(0, dtype=np.int32)  # an empty axis list has no buffer to hold
    x_shape = ctx.shape(x)
    rank = len(x_shape)
    axes: list[int] = []
    for value in np.asarray(axis_values).reshape(-1).tolist():
        if not -rank <= value < rank:
            raise ctx.fail(f"axis {value} is out of range for a rank-{rank} input")
        resolved = value + rank if value < 0 else value
        if resolved not in axes:
            axes.append(resolved)
    axes.sort()
    keep_dims = bool(ctx.options.get("keep_dims", False))
    if keep_dims:
        output_shape = tuple(1 if d in axes else n for d, n in enumerate(x_shape))
    else:
        output_shape = tuple(n for d, n in enumerate(x_shape) if d not in axes)
    reduced_count = math.prod(x_shape[d] for d in axes)
    common = dict(axes=tuple(axes), keep_dims=keep_dims, output_shape=output_shape, reduced_count=reduced_count)
    if x.type_name == "float32":
        return ReduceParams(**common, quantized=False)

    input_scale, input_zero_point = per_tensor_qparams(ctx, x, "input")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    qmin, qmax = DTYPE_RANGES[x.dtype]
    if not is_mean:
        # EvalType: TF_LITE_ENSURE_EQ on the float scale and on the zero point (TFLM checks the same).
        if np.float32(input_scale) != np.float32(output_scale) or input_zero_point != output_zero_point:
            raise ctx.fail("input and output quantization must be equal for REDUCE_MAX")
        return ReduceParams(**common, quantized=True, input_zero_point=input_zero_point,
                            output_zero_point=output_zero_point, qmin=qmin, qmax=qmax)

    multiplier, shift = quantize_multiplier(float(input_scale) / float(output_scale))
    if reduced_count > 0:
        # Fold 1/N into the multiplier (QuantizedMeanOrSum): as many bits as N has, within MBQM's range.
        # QuantizeMultiplier never returns shift < -31, so k >= 0; the quotient is < 2**31 since 2**k <= N.
        k = min(reduced_count.bit_length() - 1, 32, 31 + shift)
        multiplier = (multiplier << k) // reduced_count
        shift -= k
    return ReduceParams(**common, quantized=True, input_zero_point=input_zero_point,
                        output_zero_point=output_zero_point, output_multiplier=multiplier, output_shift=shift,
                        qmin=qmin, qmax=qmax)


def prepare_mean(ctx: OpContext) -> ReduceParams:
    return _prepare_reduce(ctx, is_mean=True)


def prepare_reduce_max(ctx: OpContext) -> ReduceParams:
    return _prepare_reduce(ctx, is_mean=False)


def reduction_rows(p: ReduceParams, x: np.ndarray) -> np.ndarray:
    """The input as [outputs, N]: kept axes first, reduced axes last, each group in its original order.

    Row r holds the reduced elements of output element r in the input's row-major order.
    """
    kept = [d for d in range(x.ndim) if d not in p.axes]
    return np.ascontiguousarray(np.transpose(x, kept + list(p.axes))).reshape(-1, p.reduced_count)


# ------------------------------------------------------------------------------------------------
# Spec kernels: readable NumPy


def mean_spec(p: ReduceParams, x: np.ndarray, axis: np.ndarray | None = None) -> np.ndarray:
    if x.size == 0:
        fill = np.nan if not p.quantized else 0
        return np.full(p.output_shape, fill, dtype=x.dtype)
    rows = reduction_rows(p, x)
    if p.quantized:
        total = wrap_int32(rows.astype(np.int64).sum(axis=1))  # the C++ temp_sum is int32
        shifted = wrap_int32(total - p.input_zero_point * p.reduced_count)
        y = multiply_by_quantized_multiplier(shifted, p.output_multiplier, p.output_shift) + p.output_zero_point
        return np.clip(y, p.qmin, p.qmax).astype(x.dtype).reshape(p.output_shape)
    total = np.zeros(rows.shape[0], dtype=np.float32)
    for i in range(p.reduced_count):
        total += rows[:, i]  # float32 adds in the reference's order
    return (total / np.float32(p.reduced_count)).astype(np.float32).reshape(p.output_shape)


def reduce_max_spec(p: ReduceParams, x: np.ndarray, axis: np.ndarray | None = None) -> np.ndarray:
    if x.size == 0:
        return np.full(p.output_shape, type_lowest(x.dtype), dtype=x.dtype)
    rows = reduction_rows(p, x)
    current = np.full(rows.shape[0], type_lowest(x.dtype), dtype=x.dtype)
    for i in range(p.reduced_count):
        current = np.where(rows[:, i] > current, rows[:, i], current)  # the reducer: (in > current) ? in : current
    return current.reshape(p.output_shape)

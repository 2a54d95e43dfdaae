"""QUANTIZE and DEQUANTIZE.

QUANTIZE float32 -> int8/uint8 (``reference_ops::AffineQuantize``, per channel ``PerChannelQuantize``)::

    q = clamp(int32(round_half_away(f32(x / f32(scale)))) + zp, qmin, qmax)

QUANTIZE int8/uint8 -> int8/uint8 (``reference_ops::Requantize``; Prepare in ``quantize.cc``)::

    M, shift = QuantizeMultiplier(f64(s_in) / f64(s_out))
    q = clamp(MBQM(x - zp_in, M, shift) + zp_out, qmin, qmax)

DEQUANTIZE (``reference_ops::Dequantize``): ``y = float32(f64(scale) * (q - zp))``, per channel along
``quantized_dimension``; float16 -> float32 is a plain conversion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from refinterp.ops.common import OpContext, checked_quantize_multiplier, per_tensor_qparams
from refinterp.quant import (
    DTYPE_RANGES,
    cast_to_int32,
    multiply_by_quantized_multiplier,
    round_half_away_f32,
)


@dataclass(frozen=True)
class QuantizeParams:
    mode: str  # "affine" (float -> int) or "requantize" (int -> int)
    output_dtype: np.dtype
    scale: np.ndarray | None = None  # affine: float32 scales, shaped to broadcast along the axis
    zero_point: np.ndarray | int = 0
    input_zero_point: int = 0
    multiplier: int = 0
    shift: int = 0


def _axis_shaped(values: np.ndarray, rank: int, axis: int, per_channel: bool) -> np.ndarray:
    if not per_channel:
        return values.reshape(())
    shape = [1] * rank
    shape[axis] = values.size
    return values.reshape(shape)


def prepare_quantize(ctx: OpContext) -> QuantizeParams:
    ctx.check_inputs(1, 1)
    x, y = ctx.require_input(0), ctx.output(0)
    ctx.set_output_shape(0, ctx.shape(x))  # elementwise: the input's shape
    ctx.check_dtype(y, ("int8", "uint8"), "output")
    ctx.check_dtype(x, ("float32", "int8", "uint8"), "input")
    q = y.quantization
    if q is None:
        raise ctx.fail("output is not quantized")
    if x.type_name == "float32":
        rank = len(ctx.shape(y))
        return QuantizeParams("affine", y.dtype,
                              scale=_axis_shaped(q.scale.astype(np.float32), rank, q.quantized_dimension,
                                                 q.per_channel),
                              zero_point=_axis_shaped(q.zero_point.astype(np.int64), rank, q.quantized_dimension,
                                                      q.per_channel))
    input_scale, input_zero_point = per_tensor_qparams(ctx, x, "input")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    multiplier, shift = checked_quantize_multiplier(ctx, float(input_scale) / float(output_scale),
                                                    "input scale / output scale")
    return QuantizeParams("requantize", y.dtype, zero_point=output_zero_point, input_zero_point=input_zero_point,
                          multiplier=multiplier, shift=shift)


def quantize_spec(p: QuantizeParams, x: np.ndarray) -> np.ndarray:
    qmin, qmax = DTYPE_RANGES[p.output_dtype]
    if p.mode == "affine":
        value = cast_to_int32(round_half_away_f32(x.astype(np.float32) / p.scale)) + p.zero_point
        return np.clip(value, qmin, qmax).astype(p.output_dtype)
    value = multiply_by_quantized_multiplier(x.astype(np.int64) - p.input_zero_point, p.multiplier, p.shift)
    return np.clip(value + p.zero_point, qmin, qmax).astype(p.output_dtype)


@dataclass(frozen=True)
class DequantizeParams:
    scale: np.ndarray | None  # float64, shaped to broadcast; None for float16 -> float32
    zero_point: np.ndarray | None


def prepare_dequantize(ctx: OpContext) -> DequantizeParams:
    ctx.check_inputs(1, 1)
    x, y = ctx.require_input(0), ctx.output(0)
    ctx.set_output_shape(0, ctx.shape(x))  # elementwise: the input's shape
    ctx.check_dtype(x, ("int8", "uint8", "int16", "float16"), "input")
    ctx.check_dtype(y, ("float32",), "output")
    if x.type_name == "float16":
        return DequantizeParams(None, None)
    q = x.quantization
    if q is None:
        raise ctx.fail("input is not quantized")
    rank = len(ctx.shape(x))
    return DequantizeParams(_axis_shaped(q.scale.astype(np.float64), rank, q.quantized_dimension, q.per_channel),
                            _axis_shaped(q.zero_point.astype(np.int64), rank, q.quantized_dimension,
                                         q.per_channel))


def dequantize_spec(p: DequantizeParams, x: np.ndarray) -> np.ndarray:
    if p.scale is None:
        return x.astype(np.float32)
    return (p.scale * (x.astype(np.int64) - p.zero_point)).astype(np.float32)

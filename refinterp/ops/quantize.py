"""QUANTIZE and DEQUANTIZE.

QUANTIZE float32 -> int8/uint8/int16 (``reference_ops::AffineQuantize``, per channel ``PerChannelQuantize``)::

    q = clamp(int32(round_half_away(f32(x / f32(scale)))) + zp, qmin, qmax)

QUANTIZE between integer types (``reference_ops::Requantize``; Prepare in ``quantize.cc``)::

    M, shift = QuantizeMultiplier(f64(s_in) / f64(s_out))
    q = clamp(wrap32(MBQM(wrap32(x - zp_in), M, shift) + zp_out), qmin, qmax)

LiteRT's pairs (ai-edge-litert 2.3.0, measured): int8/uint8 -> int8/uint8/int16, int16 -> int8/int16/int32, int32 ->
int8/int16; int16 -> int16 requires
both zero points to be 0. TFLM (``quantize_common.cc``, profile "tflm") has int16 -> int8/int16/int32, int32 ->
int8/int16, int8 -> int8/uint8/int16/int32 and uint8 -> int8, per-tensor output quantization only, and no zero
point check. The int32 arithmetic wraps as in C++ (an int32 input minus its zero point, the sum with the output
zero point).

DEQUANTIZE (``reference_ops::Dequantize``): ``y = float32(f64(scale) * (q - zp))``, per channel along
``quantized_dimension``; float16 -> float32 is a plain conversion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from refinterp.ops.common import (
    OpContext,
    checked_quantize_multiplier,
    per_tensor_qparams,
    per_tensor_qparams_or_identity,
)
from refinterp.quant import (
    DTYPE_RANGES,
    cast_to_int32,
    multiply_by_quantized_multiplier,
    round_half_away_f32,
    wrap_int32,
)

# (input, output) pairs of the requantizing QUANTIZE, by profile (quantize.cc; TFLM's quantize_common.cc)
REQUANTIZE_PAIRS = {
    "litert-ref": {("int8", "int8"), ("int8", "uint8"), ("uint8", "int8"), ("uint8", "uint8"), ("int8", "int16"),
                   ("uint8", "int16"), ("int16", "int8"),
                   ("int16", "int16"), ("int16", "int32"), ("int32", "int8"), ("int32", "int16")},
    "tflm": {("int8", "int8"), ("int8", "uint8"), ("uint8", "int8"), ("int8", "int16"), ("int8", "int32"),
             ("int16", "int8"), ("int16", "int16"), ("int16", "int32"), ("int32", "int8"), ("int32", "int16")},
}


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
    ctx.check_dtype(y, ("int8", "uint8", "int16", "int32"), "output")
    ctx.check_dtype(x, ("float32", "int8", "uint8", "int16", "int32"), "input")
    q = y.quantization
    if q is None:
        raise ctx.fail("output is not quantized")
    tflm = ctx.profile == "tflm"
    if tflm and q.per_channel:
        raise ctx.fail("per-channel output quantization (TFLM's QUANTIZE takes one scale)")
    if x.type_name == "float32":
        if y.type_name == "int32" or (tflm and y.type_name == "uint8"):
            raise ctx.fail(f"float32 -> {y.type_name} (not a quantizing pair of this runtime)")
        rank = len(ctx.shape(y))
        return QuantizeParams("affine", y.dtype,
                              scale=_axis_shaped(q.scale.astype(np.float32), rank, q.quantized_dimension,
                                                 q.per_channel),
                              zero_point=_axis_shaped(q.zero_point.astype(np.int64), rank, q.quantized_dimension,
                                                      q.per_channel))
    if (x.type_name, y.type_name) not in REQUANTIZE_PAIRS["tflm" if tflm else "litert-ref"]:
        raise ctx.fail(f"{x.type_name} -> {y.type_name} (not a requantizing pair of this runtime)")
    input_scale, input_zero_point = per_tensor_qparams(ctx, x, "input")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    if x.type_name == "int16" and y.type_name == "int16" and not tflm:
        for role, zero_point in (("input", input_zero_point), ("output", output_zero_point)):
            if zero_point != 0:
                raise ctx.fail(f"int16 -> int16 with {role} zero point {zero_point} (LiteRT requires 0)")
    multiplier, shift = checked_quantize_multiplier(ctx, float(input_scale) / float(output_scale),
                                                    "input scale / output scale")
    return QuantizeParams("requantize", y.dtype, zero_point=output_zero_point, input_zero_point=input_zero_point,
                          multiplier=multiplier, shift=shift)


def quantize_spec(p: QuantizeParams, x: np.ndarray) -> np.ndarray:
    qmin, qmax = DTYPE_RANGES[p.output_dtype]
    if p.mode == "affine":
        # static_cast<int32_t>(TfLiteRound(x / scale)) + zero_point: x86's INT32_MIN out of range, and the
        # int32 addition wraps (measured: a huge quantized value with zero point -127 gives the maximum)
        value = wrap_int32(cast_to_int32(round_half_away_f32(x.astype(np.float32) / p.scale)) + p.zero_point)
        return np.clip(value, qmin, qmax).astype(p.output_dtype)
    value = multiply_by_quantized_multiplier(wrap_int32(x.astype(np.int64) - p.input_zero_point), p.multiplier,
                                             p.shift)
    return np.clip(wrap_int32(value + p.zero_point), qmin, qmax).astype(p.output_dtype)


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
    q = x.quantization
    if q is not None and q.per_channel and x.type_name != "int8" and ctx.profile == "litert-ref":
        # dequantize.cc Eval: per-channel for int8 only ("Type 7 (10) not supported for per-channel", measured
        # for int16 and float16)
        raise ctx.fail(f"per-channel {x.type_name} input (LiteRT dequantizes per channel int8 only)")
    if x.type_name == "float16":
        return DequantizeParams(None, None)
    if q is None:
        raise ctx.fail("input is not quantized")
    if x.type_name == "int16" and ctx.profile == "litert-ref":
        # dequantize.cc Prepare: int16 must be symmetric (measured: TFLM dequantizes any zero point)
        if per_tensor_qparams_or_identity(x)[1] != 0:
            raise ctx.fail(f"int16 input zero point {per_tensor_qparams_or_identity(x)[1]} (LiteRT requires 0)")
    rank = len(ctx.shape(x))
    return DequantizeParams(_axis_shaped(q.scale.astype(np.float64), rank, q.quantized_dimension, q.per_channel),
                            _axis_shaped(q.zero_point.astype(np.int64), rank, q.quantized_dimension,
                                         q.per_channel))


def dequantize_spec(p: DequantizeParams, x: np.ndarray) -> np.ndarray:
    if p.scale is None:
        return x.astype(np.float32)
    return (p.scale * (x.astype(np.int64) - p.zero_point)).astype(np.float32)


# ------------------------------------------------------------------------------------------------
# explain: one output element, step by step (``refinterp explain``; refinterp/ops/trace.py)


def explain_quantize(ctx: OpContext, p: QuantizeParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """QUANTIZE output ``index``: the affine rule (float32 in) or the requantization (integer in)."""
    x = np.asarray(inputs[0])[index]
    qmin, qmax = DTYPE_RANGES[p.output_dtype]
    if p.mode == "affine":
        scale = np.float32(np.broadcast_to(p.scale, inputs[0].shape)[index])
        zero_point = int(np.broadcast_to(p.zero_point, inputs[0].shape)[index])
        trace.add("input", float(x), f"float32 input at {list(index)}")
        quotient = trace.add("divided by the scale", float(np.float32(np.float32(x) / scale)),
                             f"f32({float(x)!r} / {float(scale)!r}), in float32")
        rounded = int(cast_to_int32(round_half_away_f32(np.float32(quotient))))
        trace.add("rounded", rounded, f"TfLiteRound({quotient!r}), then (int32)", rule="round to nearest, ties away "
                  "from zero")
        shifted = int(wrap_int32(rounded + zero_point))
        trace.add("plus zero point", shifted, f"{rounded} + {zero_point}")
        value = int(trace.clamp(shifted, qmin, qmax, f"the {p.output_dtype} range"))
        trace.approximates(float(x), float(scale), zero_point, (qmin, qmax))
        return value
    input_scale, _ = per_tensor_qparams(ctx, ctx.require_input(0), "input")
    output_scale, _ = per_tensor_qparams(ctx, ctx.output(0), "output")
    trace.add("input", int(x), f"input at {list(index)}; real value {input_scale * (int(x) - p.input_zero_point)!r}")
    d = int(wrap_int32(int(x) - p.input_zero_point))
    trace.add("input minus zero point", d, f"{int(x)} - {p.input_zero_point}")
    multiplier, shift = trace.quantize_multiplier(float(input_scale) / float(output_scale),
                                                  "f64(s_in) / f64(s_out)", (p.multiplier, p.shift))
    scaled = trace.mbqm(d, multiplier, shift)
    shifted = int(wrap_int32(scaled + int(p.zero_point)))
    trace.add("plus output zero point", shifted, f"{scaled} + {int(p.zero_point)}")
    value = int(trace.clamp(shifted, qmin, qmax, f"the {p.output_dtype} range"))
    trace.approximates(input_scale * d, output_scale, int(p.zero_point), (qmin, qmax))
    return value


def explain_dequantize(ctx: OpContext, p: DequantizeParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """DEQUANTIZE output ``index``: ``float32(f64(scale) * (q - zp))``."""
    x = np.asarray(inputs[0])[index]
    if p.scale is None:
        value = np.float32(x)
        trace.add("input", float(x), "float16 input")
        trace.add("output", float(value), "converted to float32 (exact)")
        return value
    scale = float(np.broadcast_to(p.scale, inputs[0].shape)[index])
    zero_point = int(np.broadcast_to(p.zero_point, inputs[0].shape)[index])
    trace.add("input", int(x), f"input at {list(index)}")
    d = trace.add("input minus zero point", int(x) - zero_point, f"{int(x)} - {zero_point}")
    product = trace.add("times the scale", scale * d, f"f64({scale!r}) * {d}, in double")
    value = np.float32(product)
    trace.add("output", float(value), "rounded to float32", rule="round to nearest, ties to even")
    trace.approximates(scale * d)
    return value

"""Elementwise activations: LEAKY_RELU (int8, uint8, int16, float32), RELU, RELU6, RELU_N1_TO_1.

LEAKY_RELU 8-bit and int16 (``reference_ops::QuantizeLeakyRelu``; Prepare in ``activations.cc``)::

    identity: M_id, shift_id = QuantizeMultiplier(f32(s_in / s_out))
    alpha:    M_a,  shift_a  = QuantizeMultiplier(f32(f32(s_in * alpha) / s_out))
    d = q - zp_in
    y = clamp(zp_out + MBQM(d, M_id, shift_id) if d >= 0 else zp_out + MBQM(d, M_a, shift_a), qmin, qmax)

LiteRT computes both multipliers in float32 before QuantizeMultiplier widens them to double; TFLM
(``leaky_relu_common.cc``, profile "tflm") in double: ``f64(s_in) * f64(alpha) / f64(s_out)`` and
``f64(s_in) / f64(s_out)``. int16: LiteRT requires both zero points to be 0 (TFLM does not check). A negative
alpha gives a negative multiplier, which the current kernel applies as ``-MBQM(d, -M_a, shift_a)``.
float32: ``x > 0 ? x : x * alpha`` in float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from refinterp.ops.common import OpContext, checked_quantize_multiplier, per_tensor_qparams
from refinterp.quant import DTYPE_RANGES, multiply_by_quantized_multiplier


@dataclass(frozen=True)
class LeakyReluParams:
    alpha: np.float32
    quantized: bool
    input_zero_point: int = 0
    output_zero_point: int = 0
    identity_multiplier: int = 0
    identity_shift: int = 0
    alpha_multiplier: int = 0
    alpha_shift: int = 0
    qmin: int = 0
    qmax: int = 0


def prepare_leaky_relu(ctx: OpContext) -> LeakyReluParams:
    ctx.check_inputs(1, 1)
    x, y = ctx.require_input(0), ctx.output(0)
    ctx.set_output_shape(0, ctx.shape(x))  # elementwise: the input's shape
    ctx.check_dtype(x, ("int8", "uint8", "int16", "float32"), "input")
    ctx.check_same_type(x, y)
    alpha = np.float32(ctx.options.get("alpha", 0.0))
    if x.type_name == "float32":
        return LeakyReluParams(alpha=alpha, quantized=False)
    input_scale, input_zero_point = per_tensor_qparams(ctx, x, "input")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    if x.type_name == "int16" and ctx.profile != "tflm":
        _require_int16_zero_points(ctx, input_zero_point, output_zero_point)
    if ctx.profile == "tflm":
        identity_real = float(input_scale) / float(output_scale)
        alpha_real = float(input_scale) * float(alpha) / float(output_scale)
    else:
        identity_real = np.float32(input_scale) / np.float32(output_scale)
        alpha_real = (np.float32(input_scale) * alpha) / np.float32(output_scale)
    identity_multiplier, identity_shift = checked_quantize_multiplier(ctx, float(identity_real),
                                                                      "input scale / output scale")
    alpha_multiplier, alpha_shift = checked_quantize_multiplier(ctx, float(alpha_real),
                                                                "input scale * alpha / output scale")
    qmin, qmax = DTYPE_RANGES[x.dtype]
    return LeakyReluParams(alpha, True, input_zero_point, output_zero_point, identity_multiplier, identity_shift,
                           alpha_multiplier, alpha_shift, qmin, qmax)


def _require_int16_zero_points(ctx: OpContext, input_zero_point: int, output_zero_point: int) -> None:
    """activations.cc (LEAKY_RELU, RELU, RELU6 Prepare; TFLM's RELU too): int16 is symmetric."""
    for role, zero_point in (("input", input_zero_point), ("output", output_zero_point)):
        if zero_point != 0:
            raise ctx.fail(f"int16 {role} zero point {zero_point}: LiteRT requires 0")


def _signed_mbqm(d: np.ndarray, multiplier: int, shift: int) -> np.ndarray:
    if multiplier < 0:  # negative alpha: the kernel negates around a positive multiplier
        return -multiply_by_quantized_multiplier(d, -multiplier, shift)
    return multiply_by_quantized_multiplier(d, multiplier, shift)


def leaky_relu_spec(p: LeakyReluParams, x: np.ndarray) -> np.ndarray:
    if not p.quantized:
        return np.where(x > 0, x, x * p.alpha).astype(np.float32)
    d = x.astype(np.int64) - p.input_zero_point
    y = p.output_zero_point + np.where(d >= 0, _signed_mbqm(d, p.identity_multiplier, p.identity_shift),
                                       _signed_mbqm(d, p.alpha_multiplier, p.alpha_shift))
    return np.clip(y, p.qmin, p.qmax).astype(x.dtype)


# ------------------------------------------------------------------------------------------------
# RELU, RELU6 (and RELU_N1_TO_1, which shares LiteRT's kernel)
#
# LiteRT (activations.cc ReluPrepare + QuantizedReluX -> optimized_ops::ReluX; the same code under
# BUILTIN_REF), 8-bit, and int16 for RELU and RELU6 (zero points must be 0; RELU_N1_TO_1 has no int16 kernel:
# Relu1Eval fails):
#
#     M, shift = QuantizeMultiplier(f32(s_in / s_out))            # float32 division, then widened
#     lo = max(qmin, zp_out + (int)roundf(f32(act_lo / s_out)))
#     hi = qmax for RELU, else min(qmax, zp_out + (int)roundf(f32(act_hi / s_out)))
#     y  = clamp(zp_out + MBQM(q - zp_in, M, shift), lo, hi)
#
# TFLM (int8 and int16) differs by design (profile "tflm"): RELU's multiplier is f64(s_in) / f64(s_out); RELU6 does not
# requantize at all, it clamps the raw input to [zp_in, six] with six = clamp(round(f32(6 / s_in)) + zp_in)
# computed from the *input* parameters (activations_common.cc Relu6Prepare, Relu6Quantized).
#
# float32: RELU is ``x < 0 ? 0 : x``; RELU6 and RELU_N1_TO_1 are ``x > hi ? hi : x < lo ? lo : x``, so NaN
# and -0.0 pass through (measured: ai-edge-litert 2.3.0 BUILTIN_REF keeps both, as TFLM's Relu6Float does).

RELU_BOUNDS = {"RELU": (0.0, None), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0)}


@dataclass(frozen=True)
class ReluParams:
    op: str
    quantized: bool
    profile: str
    input_zero_point: int = 0
    output_zero_point: int = 0
    multiplier: int = 0
    shift: int = 0
    requantize: bool = True  # False: TFLM's RELU6 (clamp the raw input)
    act_min: int = 0
    act_max: int = 0


def _cast_to_int32(value: np.float32) -> int:
    """``static_cast<int32>(float)`` on x86: out-of-range values (and NaN) become INT32_MIN."""
    if not abs(float(value)) < 2.0**31:
        return -(2**31)
    return int(value)


def _relu_bound(bound: float, scale: float, zero_point: int) -> int:
    """``zp + (int32)roundf(f32(bound) / f32(scale))`` (QuantizedReluX), in int32 arithmetic."""
    quotient = np.float32(bound) / np.float32(scale)
    rounded = np.float32(np.sign(quotient) * np.floor(np.abs(quotient) + np.float32(0.5)))  # roundf
    total = zero_point + _cast_to_int32(rounded)
    return ((total + 2**31) & 0xFFFFFFFF) - 2**31


def prepare_relu(ctx: OpContext) -> ReluParams:
    ctx.check_inputs(1, 1)
    x, y = ctx.require_input(0), ctx.output(0)
    ctx.set_output_shape(0, ctx.shape(x))  # elementwise: the input's shape
    op = ctx.op.name
    ctx.check_dtype(x, ("int8", "uint8", "int16", "float32"), "input")
    ctx.check_same_type(x, y)
    if op == "RELU_N1_TO_1" and x.type_name == "int16":
        raise ctx.fail("RELU_N1_TO_1 on int16 (LiteRT's Relu1Eval takes float32, uint8 and int8)")
    if x.type_name == "float32":
        return ReluParams(op, False, ctx.profile)
    input_scale, input_zero_point = per_tensor_qparams(ctx, x, "input")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    if x.type_name == "int16" and (ctx.profile != "tflm" or op == "RELU"):  # TFLM checks RELU's, not RELU6's
        _require_int16_zero_points(ctx, input_zero_point, output_zero_point)
    qmin, qmax = DTYPE_RANGES[x.dtype]
    lower, upper = RELU_BOUNDS[op]
    if ctx.profile == "tflm":
        if x.type_name not in ("int8", "int16") or op == "RELU_N1_TO_1":
            raise ctx.unsupported(f"{op} on {x.type_name} (TFLM implements RELU and RELU6 for int8 and int16)")
        if op == "RELU6":
            six = min(max(_relu_bound(6.0, input_scale, input_zero_point), qmin), qmax)  # FloatToQuantizedType
            return ReluParams(op, True, ctx.profile, input_zero_point, output_zero_point, requantize=False,
                              act_min=input_zero_point, act_max=six)
        multiplier, shift = checked_quantize_multiplier(ctx, float(input_scale) / float(output_scale),
                                                        "input scale / output scale")
    else:
        multiplier, shift = checked_quantize_multiplier(ctx, float(np.float32(input_scale) / np.float32(output_scale)),
                                                        "input scale / output scale")
    act_min = max(qmin, _relu_bound(lower, output_scale, output_zero_point))
    act_max = qmax if upper is None else min(qmax, _relu_bound(upper, output_scale, output_zero_point))
    return ReluParams(op, True, ctx.profile, input_zero_point, output_zero_point, multiplier, shift,
                      act_min=act_min, act_max=act_max)


def relu_spec(p: ReluParams, x: np.ndarray) -> np.ndarray:
    if not p.quantized:
        lower, upper = (np.float32(b) if b is not None else None for b in RELU_BOUNDS[p.op])
        if p.op == "RELU":
            return np.where(x < lower, lower, x).astype(np.float32)
        # val > upper ? upper : val < lower ? lower : val  (NaN and -0.0 pass through)
        return np.where(x > upper, upper, np.where(x < lower, lower, x)).astype(np.float32)
    if not p.requantize:
        return np.clip(x, p.act_min, p.act_max).astype(x.dtype)
    y = p.output_zero_point + multiply_by_quantized_multiplier(x.astype(np.int64) - p.input_zero_point,
                                                               p.multiplier, p.shift)
    return np.clip(y, p.act_min, p.act_max).astype(x.dtype)

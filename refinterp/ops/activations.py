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


# ------------------------------------------------------------------------------------------------
# explain: one output element, step by step (``refinterp explain``; refinterp/ops/trace.py)


def explain_leaky_relu(ctx: OpContext, p: LeakyReluParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """LEAKY_RELU output ``index`` (module docstring's rules)."""
    q = inputs[0][index]
    if not p.quantized:
        x = trace.add("input", np.float32(q), f"input at {list(index)}")
        if x > 0:
            value = trace.add("x > 0: output x", x, "x > 0 ? x : x * alpha")
        else:
            value = trace.add("x <= 0: x * alpha", np.float32(x * p.alpha),
                              f"{float(x)!r} * alpha {float(p.alpha)!r}, rounded to float32")
        trace.approximates(float(x) if x > 0 else float(x) * float(p.alpha))
        return np.float32(value)
    input_scale, _ = per_tensor_qparams(ctx, ctx.require_input(0), "input")
    output_scale, _ = per_tensor_qparams(ctx, ctx.output(0), "output")
    q = int(q)
    trace.add("input", q, f"input at {list(index)}; real value s_in * (q - zp_in) = {input_scale!r} * "
              f"({q} - {p.input_zero_point}) = {input_scale * (q - p.input_zero_point)!r}")
    d = trace.add("input minus zero point", q - p.input_zero_point, f"{q} - {p.input_zero_point}")
    if ctx.profile == "tflm":
        in_double = "in double (TFLM leaky_relu_common.cc)"
        identity_real = float(input_scale) / float(output_scale)
        alpha_real = float(input_scale) * float(p.alpha) / float(output_scale)
    else:
        in_double = "in float32, then widened to double (LiteRT activations.cc)"
        identity_real = float(np.float32(input_scale) / np.float32(output_scale))
        alpha_real = float((np.float32(input_scale) * p.alpha) / np.float32(output_scale))
    if d >= 0:
        trace.add("branch", "identity", f"{d} >= 0: the identity multiplier (s_in / s_out)")
        multiplier, shift = trace.quantize_multiplier(identity_real, f"s_in / s_out {in_double}",
                                                      (p.identity_multiplier, p.identity_shift))
    else:
        trace.add("branch", "alpha", f"{d} < 0: the alpha multiplier (s_in * alpha / s_out, alpha = "
                  f"{float(p.alpha)!r})")
        multiplier, shift = trace.quantize_multiplier(alpha_real, f"s_in * alpha / s_out {in_double}",
                                                      (p.alpha_multiplier, p.alpha_shift))
    if multiplier < 0:  # a negative alpha: the kernel negates around a positive multiplier
        scaled = -trace.mbqm(d, -multiplier, shift)
        trace.add("negate", scaled, "a negative alpha: -MultiplyByQuantizedMultiplier(d, -M, shift)")
    else:
        scaled = trace.mbqm(d, multiplier, shift)
    shifted = trace.add("plus output zero point", scaled + p.output_zero_point, f"{scaled} + {p.output_zero_point}")
    value = int(trace.clamp(shifted, p.qmin, p.qmax, f"the {inputs[0].dtype} range"))
    real = input_scale * d
    trace.approximates(real if real > 0 else real * float(p.alpha), output_scale, p.output_zero_point,
                       (p.qmin, p.qmax))
    return value


def explain_relu(ctx: OpContext, p: ReluParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """RELU / RELU6 / RELU_N1_TO_1 output ``index``: LiteRT requantizes then clamps; TFLM's RELU6 clamps the raw
    input (module notes above)."""
    q = np.asarray(inputs[0])[index]
    if not p.quantized:
        x = trace.add("input", float(q), f"input at {list(index)}")
        value = np.asarray(relu_spec(p, np.asarray([q], np.float32)))[0]  # the float rule is one comparison
        lower, upper = RELU_BOUNDS[p.op]
        trace.add("output", float(value), f"x < {lower} ? {lower} : x" + (f", then x > {upper} ? {upper} : x"
                                                                           if upper is not None else "")
                  + " (NaN and -0.0 pass through)")
        trace.approximates(min(max(x, lower), upper) if upper is not None else max(x, lower))
        return value
    q = int(q)
    input_scale, _ = per_tensor_qparams(ctx, ctx.require_input(0), "input")
    output_scale, _ = per_tensor_qparams(ctx, ctx.output(0), "output")
    trace.add("input", q, f"input at {list(index)}; real value {input_scale * (q - p.input_zero_point)!r}")
    real = input_scale * (q - p.input_zero_point)
    lower, upper = RELU_BOUNDS[p.op]
    real = max(real, lower) if upper is None else min(max(real, lower), upper)
    if not p.requantize:
        value = int(trace.clamp(q, p.act_min, p.act_max, "TFLM's RELU6: [zp_in, quantized 6], on the raw input, no "
                                "requantization"))
        trace.approximates(real, input_scale, p.input_zero_point)
        return value
    d = trace.add("input minus zero point", q - p.input_zero_point, f"{q} - {p.input_zero_point}")
    if p.profile == "tflm":
        multiplier, shift = trace.quantize_multiplier(float(input_scale) / float(output_scale),
                                                      "f64(s_in) / f64(s_out), in double (TFLM)",
                                                      (p.multiplier, p.shift))
    else:
        multiplier, shift = trace.quantize_multiplier(float(np.float32(input_scale) / np.float32(output_scale)),
                                                      "f32(s_in / s_out), in float32 (LiteRT activations.cc)",
                                                      (p.multiplier, p.shift))
    value = trace.requantize(d, multiplier, shift, p.output_zero_point, p.act_min, p.act_max,
                             f"{p.op}'s bounds quantized with the output scale, and the output type")
    trace.approximates(real, output_scale, p.output_zero_point, (p.act_min, p.act_max))
    return value

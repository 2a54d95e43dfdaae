"""Binary elementwise operators: ADD, SUB, MUL (with fused activations), MINIMUM, MAXIMUM.

All five broadcast like NumPy (TFLite's CalculateShapeForBroadcast; ai-edge-litert 2.3.0 broadcasts 7-D and
8-D shapes correctly too, measured). Each output element depends only on the two input elements it reads,
so the kernels broadcast the inputs and then apply the per-element rule below.

ADD / SUB, 8-bit (``reference_integer_ops::Add``, ``reference_ops::Sub``; Prepare in ``add.cc`` /
``sub.cc``, identical in TFLM)::

    left_shift = 20
    twice      = 2 * f64(max(s1, s2))
    M1, sh1    = QuantizeMultiplierSmallerThanOneExp(f64(s1) / twice)
    M2, sh2    = QuantizeMultiplierSmallerThanOneExp(f64(s2) / twice)
    Mo, sho    = QuantizeMultiplierSmallerThanOneExp(twice / (2**20 * f64(s_out)))
    a = MBQM((q1 - zp1) << 20, M1, sh1);  b = MBQM((q2 - zp2) << 20, M2, sh2)
    y = clamp(MBQM(a + b, Mo, sho) + zp_out, act_min, act_max)          (SUB: a - b)

``...SmallerThanOneExp`` is MBQM restricted to shifts <= 0; ADD's Prepare aborts the process (TFLITE_CHECK)
when the output multiplier is >= 1. SUB instead switches to ``QuantizeMultiplierGreaterThanOne`` there, but
its kernel then right-shifts by a negative amount (undefined behaviour in C++): refinterp refuses that case.
LiteRT's SUB Prepare also requires every zero point to fit the output type (TFLM's does not).

ADD / SUB, int16 (int16x8; Prepare in ``add.cc`` / ``sub.cc``). LiteRT requires every zero point to be 0, then
picks one of two paths:

* general (the option ``pot_scale_int16`` false, or a scale that is not a power of two by ``CheckedLog2``,
  float32 ``logf`` within 1e-3 of an integer in log2): the 8-bit rule above with ``left_shift = 15``
  (``AddElementwise`` / ``SubElementwise`` on int16; ``(q - zp) << 15`` still fits int32);
* power of two (``pot_scale_int16`` true, as the schema's default, and all three scales powers of two:
  ``reference_ops::Add`` int16 / ``Sub16``, the LSTM path). With ``k = log2`` of each scale,
  ``shift_i = k_i - k_out`` must be <= 0 and one of them 0 (else Prepare fails); the shifted input is
  ``RoundingDivideByPOT<int16>(q, -shift)`` (gemmlowp, the mask truncated to int16) and
  ``y = clamp(sat16(a + b), act_min, act_max)`` (SUB: ``sat16(q1' - q2')``). The kernel does not broadcast:
  it reads the flat size of input 1 (``MatchingElementsSize`` aborts unless the three sizes are equal; refinterp
  refuses such a model).

TFLM (profile "tflm") has the general path only (``add_common.cc`` / ``sub_common.cc``: ``left_shift`` 15,
no zero point check, ``pot_scale_int16`` ignored).

MUL, 8-bit and int16 (``reference_integer_ops::Mul``; int16 zero points must be 0: LiteRT's ``mul.cc`` checks
at Eval, TFLM's ``mul_common.cc`` at Prepare)::

    M, sh = QuantizeMultiplier(real)
    y = clamp(MBQM((q1 - zp1) * (q2 - zp2), M, sh) + zp_out, act_min, act_max)

where ``real`` is where the two runtimes differ by design: LiteRT computes ``s1 * s2 / s_out`` in float32
(profile "litert-ref"), TFLM ``f64(s1) * f64(s2) / f64(s_out)`` in double (profile "tflm").

MUL, int16 inputs with an int8 or uint8 output (``mul.cc`` -> ``reference_integer_ops::Mul`` int16 -> int8,
``reference_ops::Mul`` int16 -> uint8): the scales are not used at all (the product is read as Q0.15 x Q0.15)
and the input zero points neither; per element, in gemmlowp's int16 fixed point::

    r = RoundingDivideByPOT<int16>(SaturatingRoundingDoublingHighMul<int16>(q1, q2), 8)
    y = zp_out + max(act_min - zp_out, min(act_max - zp_out, r))

The kernel does not broadcast: it reads the flat size of input 1 (``MatchingElementsSize`` aborts unless the
three sizes are equal; refinterp refuses such a model). TFLM has no such kernel: its int16 path writes int16
results into the 8-bit output buffer (measured), so profile "tflm" refuses it.

float32 ADD / SUB / MUL: one float32 operation, then ``min(max(v, act_min), act_max)`` with the float range
of the activation; with no activation that range is [lowest(), max()] of float32, so an infinite result
becomes +-FLT_MAX (``CalculateActivationRange<float>``). int32/int64: the same, with integer wrap-around.

MINIMUM / MAXIMUM (``maximum_minimum.cc``): ``a < b ? a : b`` / ``a > b ? a : b`` on the raw values, for
every type; quantization parameters are not used (TFLite assumes they are equal).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from refinterp.ops.common import OpContext, checked_quantize_multiplier, per_tensor_qparams
from refinterp.quant import (
    ACT_NONE,
    ACT_RELU,
    ACT_RELU6,
    ACT_RELU_N1_TO_1,
    DTYPE_RANGES,
    activation_range,
    checked_log2,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    rounding_divide_by_pot_int16,
    saturate_int16,
    wrap_int16,
    wrap_int32,
)

ADD_LEFT_SHIFT = 20  # the 8-bit path of add.cc / sub.cc
ADD_LEFT_SHIFT_INT16 = 15  # the int16 general path
QUANTIZED_TYPES = ("int8", "uint8", "int16")
ARITHMETIC_TYPES = ("int8", "uint8", "int16", "float32", "int32", "int64")
MIN_MAX_TYPES = ("int8", "uint8", "int16", "int32", "int64", "float32")


@dataclass(frozen=True)
class BinaryParams:
    op: str  # "ADD", "SUB", "MUL", "MINIMUM", "MAXIMUM"
    # "quantized" (8/16-bit with requantization), "pot_int16" (ADD/SUB int16 power-of-two scales),
    # "int16_to_8bit" (MUL int16 inputs, int8/uint8 output), "float" (float32), "raw" (plain integers)
    kind: str
    dtype: np.dtype
    output_shape: tuple[int, ...]
    act_min: float | int = 0
    act_max: float | int = 0
    # quantized ADD / SUB / MUL
    input1_offset: int = 0  # -zp1, as ArithmeticParams stores it
    input2_offset: int = 0
    output_offset: int = 0
    input1_multiplier: int = 0
    input1_shift: int = 0
    input2_multiplier: int = 0
    input2_shift: int = 0
    output_multiplier: int = 0
    output_shift: int = 0
    left_shift: int = ADD_LEFT_SHIFT  # quantized ADD / SUB: 20 (8-bit) or 15 (int16)


def _broadcast_shape(ctx: OpContext, shape1: tuple[int, ...], shape2: tuple[int, ...]) -> tuple[int, ...]:
    try:
        shape = np.broadcast_shapes(shape1, shape2)
    except ValueError:
        raise ctx.fail(f"input shapes {list(shape1)} and {list(shape2)} do not broadcast") from None
    return tuple(int(d) for d in shape)


def _float_activation_range(activation: int) -> tuple[np.float32, np.float32]:
    """CalculateActivationRange<float>: NONE (and TANH, SIGN_BIT) is [lowest(), max()], not +-inf."""
    finfo = np.finfo(np.float32)
    if activation == ACT_RELU:
        return np.float32(0.0), finfo.max
    if activation == ACT_RELU6:
        return np.float32(0.0), np.float32(6.0)
    if activation == ACT_RELU_N1_TO_1:
        return np.float32(-1.0), np.float32(1.0)
    return finfo.min, finfo.max


def _integer_activation_range(activation: int, dtype: np.dtype) -> tuple[int, int]:
    """CalculateActivationRange<int32/int64>: the same literals as the float one, in the integer type."""
    info = np.iinfo(dtype)
    if activation == ACT_RELU:
        return 0, int(info.max)
    if activation == ACT_RELU6:
        return 0, 6
    if activation == ACT_RELU_N1_TO_1:
        return -1, 1
    return int(info.min), int(info.max)


def _prepare_binary(ctx: OpContext, allowed: tuple[str, ...]):
    ctx.check_inputs(2, 2)
    x1, x2, y = ctx.require_input(0), ctx.require_input(1), ctx.output(0)
    ctx.check_dtype(x1, allowed, "input")
    if x2.type_name != x1.type_name:
        raise ctx.fail(f"inputs are {x1.type_name} and {x2.type_name}; TFLite requires the same type")
    if y.type_name != x1.type_name:
        raise ctx.unsupported(f"{x1.type_name} inputs with a {y.type_name} output")
    return x1, x2, y, _broadcast_shape(ctx, ctx.shape(x1), ctx.shape(x2))


def _nonquantized_params(ctx: OpContext, op: str, dtype: np.dtype, shape: tuple[int, ...]) -> BinaryParams:
    activation = int(ctx.options.get("fused_activation_function", ACT_NONE))
    if dtype == np.float32:
        lo, hi = _float_activation_range(activation)
        return BinaryParams(op, "float", dtype, shape, lo, hi)
    lo, hi = _integer_activation_range(activation, dtype)
    return BinaryParams(op, "raw", dtype, shape, lo, hi)


def _quantized_activation(ctx: OpContext, y, dtype: np.dtype) -> tuple[int, int]:
    scale, zero_point = per_tensor_qparams(ctx, y, "output")
    activation = int(ctx.options.get("fused_activation_function", ACT_NONE))
    return activation_range(activation, scale, zero_point, dtype)


def _smaller_than_one(ctx: OpContext, real: float, what: str) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp: TFLITE_CHECKs 0 < real < 1 and shift <= 0 (else LiteRT aborts)."""
    if not 0.0 < real < 1.0:
        raise ctx.fail(f"{what} multiplier {real!r} is outside (0, 1) (LiteRT aborts in "
                       f"QuantizeMultiplierSmallerThanOneExp)")
    multiplier, shift = quantize_multiplier(real)
    if shift > 0:
        raise ctx.fail(f"{what} multiplier {real!r} rounds up to 1.0 (LiteRT aborts: shift > 0)")
    return multiplier, shift


def _require_zero_points_zero(ctx: OpContext, tensors: tuple, what: str) -> None:
    for role, tensor in zip(("input 1", "input 2", "output"), tensors):
        _, zero_point = per_tensor_qparams(ctx, tensor, role)
        if zero_point != 0:
            raise ctx.fail(f"{role} zero point {zero_point}: {what} requires 0 for int16")


def _prepare_pot_int16(ctx: OpContext, op: str, x1, x2, y, shape, log2s: list[int]) -> BinaryParams:
    """The power-of-two int16 path of add.cc / sub.cc (reference_ops::Add int16, Sub16)."""
    input1_shift, input2_shift = log2s[0] - log2s[2], log2s[1] - log2s[2]
    if not (input1_shift == 0 or input2_shift == 0) or input1_shift > 0 or input2_shift > 0:
        raise ctx.fail(f"power-of-two int16 {op}: input shifts {input1_shift} and {input2_shift} (LiteRT requires "
                       "both <= 0 and one of them 0)")
    if min(input1_shift, input2_shift) < -31:
        raise ctx.unsupported(f"power-of-two int16 {op}: a right shift of {-min(input1_shift, input2_shift)} "
                              "(undefined behaviour in gemmlowp's RoundingDivideByPOT)")
    sizes = {int(np.prod(ctx.shape(t), dtype=np.int64)) for t in (x1, x2)} | {int(np.prod(shape, dtype=np.int64))}
    if len(sizes) != 1:
        raise ctx.unsupported(f"power-of-two int16 {op} with broadcasting: LiteRT's kernel aborts "
                              "(MatchingElementsSize)")
    act_min, act_max = _quantized_activation(ctx, y, y.dtype)
    return BinaryParams(op, "pot_int16", y.dtype, shape, act_min, act_max, input1_shift=input1_shift,
                        input2_shift=input2_shift)


def _prepare_add_sub(ctx: OpContext, op: str) -> BinaryParams:
    x1, x2, y, shape = _prepare_binary(ctx, ARITHMETIC_TYPES)
    if x1.type_name not in QUANTIZED_TYPES:
        return _nonquantized_params(ctx, op, x1.dtype, shape)
    scale1, zero_point1 = per_tensor_qparams(ctx, x1, "input 1")
    scale2, zero_point2 = per_tensor_qparams(ctx, x2, "input 2")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    int16 = x1.type_name == "int16"
    if int16 and ctx.profile != "tflm":
        _require_zero_points_zero(ctx, (x1, x2, y), f"LiteRT's {op}")
        if ctx.options.get("pot_scale_int16", False):
            checked = [checked_log2(s) for s in (scale1, scale2, output_scale)]
            if all(pot for pot, _ in checked):
                return _prepare_pot_int16(ctx, op, x1, x2, y, shape, [k for _, k in checked])
    qmin, qmax = DTYPE_RANGES[y.dtype]
    if op == "SUB" and ctx.profile != "tflm":  # LiteRT's PrepareGeneralSubOp checks them; TFLM does not
        for role, zp in (("input 1", zero_point1), ("input 2", zero_point2), ("output", output_zero_point)):
            if not qmin <= zp <= qmax:
                raise ctx.fail(f"{role} zero point {zp} outside the {y.type_name} range")
    for role, scale in (("input 1", scale1), ("input 2", scale2), ("output", output_scale)):
        if not scale > 0:
            raise ctx.fail(f"{role} scale {scale!r} must be positive")
    left_shift = ADD_LEFT_SHIFT_INT16 if int16 else ADD_LEFT_SHIFT
    # add.cc: doubles formed from the float32 scales (2 * max is exact)
    twice_max_input_scale = 2.0 * float(max(np.float32(scale1), np.float32(scale2)))
    m1, sh1 = _smaller_than_one(ctx, float(scale1) / twice_max_input_scale, "input 1")
    m2, sh2 = _smaller_than_one(ctx, float(scale2) / twice_max_input_scale, "input 2")
    real_output = twice_max_input_scale / (float(1 << left_shift) * float(output_scale))
    if op == "SUB" and real_output > 1.0:
        raise ctx.unsupported(f"output multiplier {real_output!r} > 1: LiteRT's SUB kernel then shifts by a "
                              f"negative amount (undefined behaviour)")
    mo, sho = _smaller_than_one(ctx, real_output, "output")
    act_min, act_max = _quantized_activation(ctx, y, y.dtype)
    return BinaryParams(op, "quantized", y.dtype, shape, act_min, act_max, -zero_point1, -zero_point2,
                        output_zero_point, m1, sh1, m2, sh2, mo, sho, left_shift)


def prepare_add(ctx: OpContext) -> BinaryParams:
    return _prepare_add_sub(ctx, "ADD")


def prepare_sub(ctx: OpContext) -> BinaryParams:
    return _prepare_add_sub(ctx, "SUB")


def mul_real_multiplier(scale1: float, scale2: float, output_scale: float, profile: str) -> float:
    """The MUL requantization factor: float32 arithmetic in LiteRT's mul.cc, double in TFLM's mul_common.cc."""
    if profile == "tflm":
        return float(scale1) * float(scale2) / float(output_scale)
    return float(np.float32(np.float32(scale1) * np.float32(scale2)) / np.float32(output_scale))


def _prepare_mul_int16_to_8bit(ctx: OpContext) -> BinaryParams:
    """MUL with int16 inputs and an int8/uint8 output (mul.cc EvalQuantized's mixed-type branch)."""
    x1, x2, y = ctx.require_input(0), ctx.require_input(1), ctx.output(0)
    if x2.type_name != x1.type_name:
        raise ctx.fail(f"inputs are {x1.type_name} and {x2.type_name}; TFLite requires the same type")
    if ctx.profile == "tflm":
        raise ctx.unsupported(f"MUL int16 -> {y.type_name} under profile tflm (TFLite Micro has no such kernel: "
                              "it writes int16 results into the 8-bit output)")
    shape = _broadcast_shape(ctx, ctx.shape(x1), ctx.shape(x2))
    sizes = {math.prod(ctx.shape(x1)), math.prod(ctx.shape(x2)), math.prod(shape)}
    if len(sizes) != 1:
        raise ctx.unsupported(f"MUL int16 -> {y.type_name} with broadcasting: LiteRT's kernel aborts "
                              "(MatchingElementsSize)")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    if not output_scale > 0:
        raise ctx.fail(f"output scale {output_scale!r} must be positive")
    act_min, act_max = _quantized_activation(ctx, y, y.dtype)
    return BinaryParams("MUL", "int16_to_8bit", y.dtype, shape, act_min, act_max, output_offset=output_zero_point)


def prepare_mul(ctx: OpContext) -> BinaryParams:
    ctx.check_inputs(2, 2)
    if ctx.require_input(0).type_name == "int16" and ctx.output(0).type_name in ("int8", "uint8"):
        return _prepare_mul_int16_to_8bit(ctx)
    x1, x2, y, shape = _prepare_binary(ctx, ARITHMETIC_TYPES)
    if x1.type_name not in QUANTIZED_TYPES:
        return _nonquantized_params(ctx, "MUL", x1.dtype, shape)
    scale1, zero_point1 = per_tensor_qparams(ctx, x1, "input 1")
    scale2, zero_point2 = per_tensor_qparams(ctx, x2, "input 2")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    if not output_scale > 0:
        raise ctx.fail(f"output scale {output_scale!r} must be positive")
    if x1.type_name == "int16":
        # mul.cc checks it at Eval, TFLM's mul_common.cc at Prepare: (q1 - zp1) * (q2 - zp2) could overflow int32
        _require_zero_points_zero(ctx, (x1, x2, y), "MUL")
    real = mul_real_multiplier(scale1, scale2, output_scale, ctx.profile)
    multiplier, shift = checked_quantize_multiplier(ctx, real, "s1 * s2 / s_out")
    act_min, act_max = _quantized_activation(ctx, y, y.dtype)
    return BinaryParams("MUL", "quantized", y.dtype, shape, act_min, act_max, -zero_point1, -zero_point2,
                        output_zero_point, output_multiplier=multiplier, output_shift=shift)


def _prepare_min_max(ctx: OpContext, op: str) -> BinaryParams:
    x1, x2, y, shape = _prepare_binary(ctx, MIN_MAX_TYPES)
    return BinaryParams(op, "raw", x1.dtype, shape)


def prepare_minimum(ctx: OpContext) -> BinaryParams:
    return _prepare_min_max(ctx, "MINIMUM")


def prepare_maximum(ctx: OpContext) -> BinaryParams:
    return _prepare_min_max(ctx, "MAXIMUM")


# ------------------------------------------------------------------------------------------------
# Spec kernel: readable NumPy


def _clamp(v: np.ndarray, lo, hi) -> np.ndarray:
    """``std::min(std::max(v, lo), hi)`` exactly, NaN and signed zeros included (np.clip is not)."""
    v = np.where(v < lo, lo, v)
    return np.where(hi < v, hi, v)


def _requantized(p: BinaryParams, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    d1 = x1.astype(np.int64) + p.input1_offset
    d2 = x2.astype(np.int64) + p.input2_offset
    if p.op == "MUL":
        raw = multiply_by_quantized_multiplier(d1 * d2, p.output_multiplier, p.output_shift)
    else:
        scaled1 = multiply_by_quantized_multiplier(d1 << p.left_shift, p.input1_multiplier, p.input1_shift)
        scaled2 = multiply_by_quantized_multiplier(d2 << p.left_shift, p.input2_multiplier, p.input2_shift)
        total = wrap_int32(scaled1 + scaled2 if p.op == "ADD" else scaled1 - scaled2)
        raw = multiply_by_quantized_multiplier(total, p.output_multiplier, p.output_shift)
    return np.clip(raw + p.output_offset, p.act_min, p.act_max)


def _pot_int16(p: BinaryParams, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """reference_ops::Add (int16) / Sub16: one input right-shifted (RoundingDivideByPOT), saturating sum."""
    x1, x2 = x1.reshape(-1).astype(np.int64), x2.reshape(-1).astype(np.int64)
    if p.input1_shift == 0:
        ready, shifted, right_shift = x1, x2, -p.input2_shift
    else:
        ready, shifted, right_shift = x2, x1, -p.input1_shift
    scaled = rounding_divide_by_pot_int16(shifted, right_shift)
    if p.op == "ADD":
        total = saturate_int16(scaled + ready)
    elif p.input1_shift == 0:
        total = saturate_int16(ready - scaled)
    else:
        total = saturate_int16(scaled - ready)
    return np.clip(total, p.act_min, p.act_max).astype(p.dtype).reshape(p.output_shape)


def srdhm_int16(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """gemmlowp SaturatingRoundingDoublingHighMul(int16, int16): ``int16((a * b + nudge) / 2**15)`` (C division
    truncates; nudge ``2**14`` or ``1 - 2**14`` by the product's sign), and 32767 for -32768 * -32768."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    product = a * b
    total = product + np.where(product >= 0, 1 << 14, 1 - (1 << 14))
    high = np.where(total >= 0, total >> 15, -((-total) >> 15))
    return np.where((a == -32768) & (b == -32768), 32767, wrap_int16(high))


def _mul_int16_to_8bit(p: BinaryParams, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """reference_integer_ops::Mul (int16 -> int8) / reference_ops::Mul (int16 -> uint8), flat."""
    rescaled = rounding_divide_by_pot_int16(srdhm_int16(x1.reshape(-1), x2.reshape(-1)), 8)
    clamped = np.maximum(p.act_min - p.output_offset, np.minimum(p.act_max - p.output_offset, rescaled))
    return (clamped + p.output_offset).astype(p.dtype).reshape(p.output_shape)


def binary_spec(p: BinaryParams, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    if p.kind == "pot_int16":
        return _pot_int16(p, x1, x2)
    if p.kind == "int16_to_8bit":
        return _mul_int16_to_8bit(p, x1, x2)
    x1, x2 = np.broadcast_arrays(x1, x2)
    if p.op == "MINIMUM":
        return np.where(x1 < x2, x1, x2).astype(p.dtype)
    if p.op == "MAXIMUM":
        return np.where(x1 > x2, x1, x2).astype(p.dtype)
    if p.kind == "quantized":
        return _requantized(p, x1, x2).astype(p.dtype)
    with np.errstate(over="ignore", invalid="ignore"):  # IEEE float32 / two's-complement wrap, as in C++
        if p.op == "ADD":
            value = x1 + x2
        elif p.op == "SUB":
            value = x1 - x2
        else:
            value = x1 * x2
    lo, hi = np.array(p.act_min, p.dtype), np.array(p.act_max, p.dtype)
    return _clamp(value, lo, hi).astype(p.dtype)


# ------------------------------------------------------------------------------------------------
# explain: one output element, step by step (``refinterp explain``; refinterp/ops/trace.py)


def broadcast_position(shape: tuple[int, ...], index: tuple[int, ...]) -> tuple[int, ...]:
    """The element of an input of ``shape`` that output ``index`` reads under NumPy broadcasting."""
    tail = index[len(index) - len(shape):] if shape else ()
    return tuple(0 if d == 1 else int(i) for d, i in zip(shape, tail))


def explain_common_scale(trace, differences: tuple[int, int], scales: tuple[float, float],
                         prepared: tuple[tuple[int, int], tuple[int, int]], left_shift: int,
                         show_common: bool = True) -> tuple[float, list[int]]:
    """The 8-bit inputs brought to one scale, as ADD/SUB (``left_shift`` from Prepare: 20 for 8-bit) and
    SQUARED_DIFFERENCE (its constant 7) do: twice the larger input scale (in float32, widened), each input minus its
    zero point (``differences``) shifted left by ``left_shift``, then MultiplyByQuantizedMultiplier by
    ``s_k / (2 * max(s1, s2))``. ``prepared``: the (multiplier, shift) pairs Prepare computed, checked against the
    derived ones. ``show_common``: also a step "input k on the common scale" per input. Returns (the common scale
    twice, the two rescaled inputs)."""
    scale1, scale2 = scales
    twice = 2.0 * float(max(np.float32(scale1), np.float32(scale2)))
    trace.add("twice the larger input scale", twice, f"2 * max(s1, s2) = 2 * max({scale1!r}, {scale2!r}): both "
              f"inputs are brought to this common scale, with {left_shift} extra bits of precision")
    scaled = []
    for k, (d, scale, expected) in enumerate(zip(differences, scales, prepared), 1):
        shifted = trace.add(f"input {k} shifted left", d << left_shift, f"{d} * 2^{left_shift}")
        multiplier, shift = trace.quantize_multiplier(float(scale) / twice, f"s{k} / (2 * max(s1, s2))", expected,
                                                      name=f"input {k} multiplier")
        scaled.append(trace.mbqm(shifted, multiplier, shift))
        if show_common:
            trace.add(f"input {k} on the common scale", scaled[-1], f"input {k} in units of 2 * max(s1, s2) / "
                      f"2^{left_shift}")
    return twice, scaled


def explain_binary(ctx: OpContext, p: BinaryParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """ADD / SUB / MUL / MINIMUM / MAXIMUM output ``index``: the two operands it reads (broadcast), then the rule of
    the module docstring (8-bit and int16 general path, float32, plain integers)."""
    if p.kind in ("pot_int16", "int16_to_8bit"):
        return _explain_flat_int16(ctx, p, inputs, index, trace)
    if p.kind not in ("quantized", "float", "raw"):
        raise trace.not_detailed(f"the {p.kind} rule")
    operands = []
    for k, x in enumerate(inputs[:2]):
        at = broadcast_position(x.shape, index)
        operands.append(np.asarray(x)[at])
        tensor = ctx.require_input(k)
        q = tensor.quantization
        real = (f"; real value {float(q.scale[0]) * (int(operands[-1]) - int(q.zero_point[0]))!r}"
                if p.kind == "quantized" and q is not None else "")
        trace.add(f"input {k + 1}", operands[-1].item(), f"input {k + 1} at {list(at)}"
                  + (" (broadcast)" if tuple(x.shape) != tuple(p.output_shape) else "") + real)
    a, b = operands
    if p.op in ("MINIMUM", "MAXIMUM"):
        value = (a if a < b else b) if p.op == "MINIMUM" else (a if a > b else b)
        trace.add("output", value.item(), f"{'a < b ? a : b' if p.op == 'MINIMUM' else 'a > b ? a : b'} on the "
                  "stored values (no requantization: TFLite assumes equal scales)")
        return value.item()
    if p.kind != "quantized":
        with np.errstate(over="ignore", invalid="ignore"):
            raw = {"ADD": a + b, "SUB": a - b, "MUL": a * b}[p.op]
        trace.add({"ADD": "sum", "SUB": "difference", "MUL": "product"}[p.op], raw.item(),
                  f"in {p.dtype} ({'IEEE float32 rounding' if p.kind == 'float' else 'wrapping'})",
                  rule="round to nearest, ties to even" if p.kind == "float" else "")
        lo, hi = np.array(p.act_min, p.dtype), np.array(p.act_max, p.dtype)
        value = raw if not raw < lo else lo
        value = value if not hi < value else hi
        trace.add("clamp", value.item(), f"to [{lo.item()}, {hi.item()}] (the fused activation)")
        if p.kind == "float":
            trace.approximates({"ADD": float(a) + float(b), "SUB": float(a) - float(b),
                                "MUL": float(a) * float(b)}[p.op])
        return value.item()
    scale1, _ = per_tensor_qparams(ctx, ctx.require_input(0), "input 1")
    scale2, _ = per_tensor_qparams(ctx, ctx.require_input(1), "input 2")
    output_scale, _ = per_tensor_qparams(ctx, ctx.output(0), "output")
    d1 = trace.add("input 1 minus zero point", int(a) + p.input1_offset, f"{int(a)} - {-p.input1_offset}")
    d2 = trace.add("input 2 minus zero point", int(b) + p.input2_offset, f"{int(b)} - {-p.input2_offset}")
    real1, real2 = scale1 * d1, scale2 * d2
    if p.op == "MUL":
        product = trace.add("product", d1 * d2, f"{d1} * {d2}")
        if ctx.profile == "tflm":
            formula = "f64(s1) * f64(s2) / f64(s_out), in double (TFLM mul_common.cc)"
        else:
            formula = "f32(f32(s1 * s2) / s_out), in float32 (LiteRT mul.cc), then widened"
        multiplier, shift = trace.quantize_multiplier(mul_real_multiplier(scale1, scale2, output_scale, ctx.profile),
                                                      formula, (p.output_multiplier, p.output_shift))
        raw = trace.mbqm(product, multiplier, shift)
        real = real1 * real2
    else:
        twice, scaled = explain_common_scale(trace, (d1, d2), (scale1, scale2),
                                             ((p.input1_multiplier, p.input1_shift),
                                              (p.input2_multiplier, p.input2_shift)), p.left_shift)
        total = scaled[0] + scaled[1] if p.op == "ADD" else scaled[0] - scaled[1]
        total = trace.add("sum" if p.op == "ADD" else "difference", int(wrap_int32(total)),
                          f"{scaled[0]} {'+' if p.op == 'ADD' else '-'} {scaled[1]} (int32)")
        multiplier, shift = trace.quantize_multiplier(twice / (float(1 << p.left_shift) * float(output_scale)),
                                                      f"2 * max(s1, s2) / (2^{p.left_shift} * s_out)",
                                                      (p.output_multiplier, p.output_shift), name="output multiplier")
        raw = trace.mbqm(total, multiplier, shift)
        real = real1 + real2 if p.op == "ADD" else real1 - real2
    shifted = trace.add("plus output zero point", raw + p.output_offset, f"{raw} + {p.output_offset}")
    value = int(trace.clamp(shifted, int(p.act_min), int(p.act_max), "the fused activation and the output type"))
    trace.approximates(real, output_scale, p.output_offset, (p.act_min, p.act_max))
    return value


def _explain_flat_int16(ctx: OpContext, p: BinaryParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """The two int16 kernels that do not broadcast (they read the flat position): ADD/SUB with power-of-two
    scales (``reference_ops::Add`` int16 / ``Sub16``) and MUL int16 -> int8/uint8 (Q0.15 x Q0.15)."""
    flat = int(np.ravel_multi_index(index, p.output_shape)) if p.output_shape else 0
    a, b = (int(np.asarray(x).reshape(-1)[flat]) for x in inputs[:2])
    scales = []
    for k, q in enumerate((a, b), 1):
        quantization = ctx.require_input(k - 1).quantization
        scale = float(quantization.scale[0]) if quantization is not None and quantization.scale.size else None
        scales.append(scale)
        trace.add(f"input {k}", q, f"input {k} at flat position {flat} (the kernel does not broadcast: it reads the "
                  "flat position)" + (f"; real value {scale * q!r}" if scale is not None else ""))
    output = ctx.output(0).quantization
    output_scale = float(output.scale[0]) if output is not None and output.scale.size else None
    if p.kind == "int16_to_8bit":
        product = a * b
        high = int(srdhm_int16(a, b))
        trace.add("SaturatingRoundingDoublingHighMul<int16>", high,
                  f"{a} * {b} / 2^15 = {product / 32768.0!r} -> {high} (gemmlowp int16: the product read as Q0.15 x "
                  "Q0.15; the scales and zero points are not used)", rule="round to nearest, ties away from zero")
        rescaled = int(rounding_divide_by_pot_int16(high, 8))
        trace.add("RoundingDivideByPOT<int16>", rescaled, f"{high} / 2^8 = {high / 256.0!r} -> {rescaled}",
                  rule="round to nearest, ties away from zero")
        clamped = trace.add("clamp", max(int(p.act_min) - p.output_offset, min(int(p.act_max) - p.output_offset,
                                                                              rescaled)),
                            f"to [{int(p.act_min) - p.output_offset}, {int(p.act_max) - p.output_offset}] (the "
                            "activation range minus the output zero point)")
        value = trace.add("plus output zero point", clamped + p.output_offset, f"{clamped} + {p.output_offset}")
        if output_scale:
            trace.approximates(a * b / float(1 << 30), output_scale, p.output_offset, (p.act_min, p.act_max))
        return value
    if p.input1_shift == 0:
        ready, shifted, right_shift, which = a, b, -p.input2_shift, 2
    else:
        ready, shifted, right_shift, which = b, a, -p.input1_shift, 1
    trace.add("power-of-two scales", [p.input1_shift, p.input2_shift],
              "log2(s1) - log2(s_out), log2(s2) - log2(s_out): one is 0, the other input is shifted right")
    scaled = int(rounding_divide_by_pot_int16(shifted, right_shift))
    trace.add(f"input {which} shifted right", scaled, f"{shifted} / 2^{right_shift} -> {scaled} "
              "(gemmlowp RoundingDivideByPOT<int16>)" if right_shift else f"{shifted} (shift 0)",
              rule="round to nearest, ties away from zero" if right_shift else "")
    if p.op == "ADD":
        raw, said = scaled + ready, f"{scaled} + {ready}"
    elif p.input1_shift == 0:
        raw, said = ready - scaled, f"{ready} - {scaled}"
    else:
        raw, said = scaled - ready, f"{scaled} - {ready}"
    total = int(saturate_int16(raw))
    trace.add("saturating sum" if p.op == "ADD" else "saturating difference", total,
              said + (" (saturates to int16)" if total != raw else " (int16, saturating)"))
    value = int(trace.clamp(total, int(p.act_min), int(p.act_max), "the fused activation"))
    if output_scale and None not in scales:
        real = scales[0] * a + scales[1] * b if p.op == "ADD" else scales[0] * a - scales[1] * b
        trace.approximates(real, output_scale, 0, (p.act_min, p.act_max))
    return value

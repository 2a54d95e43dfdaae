"""Binary math: DIV, FLOOR_DIV, FLOOR_MOD, SQUARED_DIFFERENCE, POW (NumPy broadcasting), ADD_N (equal shapes).

DIV (``div.cc``, ``reference_ops::Div`` / ``BroadcastDivSlow``):

* float32: ``a / b`` in float32, then ``min(max(v, act_min), act_max)`` with the float activation range
  (no activation: [lowest, max], so a division by zero gives +-FLT_MAX; NaN passes).
* int32: every divisor must differ from the divisor tensor's ``params.zero_point`` (``CheckNonZero``, 0
  unless the tensor carries one-scale quantization; else Eval fails), and from 0 (C's division traps); C's
  truncating ``a / b``, then the integer activation range. INT32_MIN / -1 traps in C: refinterp refuses it.
* int8/uint8 (``DivElementwise``): every divisor must differ from its zero point (else Eval fails)::

      M, shift = QuantizeMultiplier(f32(s1 / f32(s2 * s_out)))                         (Prepare, float32)
      a = q1 - zp1;  b = q2 - zp2;  if b < 0: a, b = -a, -b
      r, recip_shift = GetReciprocal(b, 31)       (1/b in Q0.31 and its exponent, see ``reciprocal``)
      h = CountLeadingSignBits(a)
      y = clamp(zp_out + RDBPOT(SRDHM(SRDHM(a << h, r), M), -(shift - recip_shift - h)), act_min, act_max)

FLOOR_DIV (``floor_div.cc``): every divisor must be non-zero, float32 included (else Eval fails);
``floor(f64(a) / f64(b))`` converted back to the type (int32 INT_MIN / -1 gives INT_MIN; int8 -128 / -1 is
refused, see ``_check_traps``). Raw values, no quantization, for int8 too.

FLOOR_MOD (``floor_mod.cc``): integer divisors must be non-zero (else Eval fails); ``m = a % b`` (C) or
``fmodf(a, b)``; ``m != 0 and (b < 0) != (m < 0) ? m + b : m``. Raw values for int8. INT_MIN % -1 traps
in C (int32, int64): refinterp refuses it at invoke.

SQUARED_DIFFERENCE (``squared_difference.cc``): float32 and int32 ``(a - b) * (a - b)`` (int32 wraps); int8::

    twice = 2 * f32(max(s1, s2));  left_shift = 7
    M1, sh1 = QMSmallerThanOne(s1 / twice);  M2, sh2 = QMSmallerThanOne(s2 / twice)
    Mo, sho = QMSmallerThanOne(twice**2 / (2**14 * s_out))              (each must be < 1, else LiteRT aborts)
    d = MBQM((q1 - zp1) << 7, M1, sh1) - MBQM((q2 - zp2) << 7, M2, sh2)
    y = clamp(MBQM(d * d, Mo, sho) + zp_out, -128, 127)

POW (``pow.cc``): float32 ``powf(a, b)`` (C library); int32: every exponent must be >= 0 (else Eval fails),
``int32(pow(f64(a), f64(b)))`` with x86's conversion (out of range gives INT32_MIN). When the shapes differ
and the exponent is one element within 1e-5 of an integer n >= 1, ``optimized_ops::BroadcastPow4D`` computes
a**n by repeated squaring instead (float32 products clamped to +-FLT_MAX, int32 products wrapping; see
``integer_pow``).

ADD_N (``add_n.cc``): float32 and int32, at least 2 inputs of one shape, summed in input order starting from
the first input (so -0.0 + -0.0 stays -0.0), each float32 sum clamped to [lowest, max] (an infinite partial
sum becomes +-FLT_MAX; NaN passes): measured with ai-edge-litert 2.3.0. int32 wraps.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import math
from dataclasses import dataclass

import numpy as np

from refinterp.errors import EvalError
from refinterp.ops.common import OpContext, per_tensor_qparams, per_tensor_qparams_or_identity
from refinterp.ops.elementwise import explain_common_scale
from refinterp.ops.softmax_logistic import one_over_one_plus_x_for_x_in_0_1
from refinterp.ops.unary_math import count_leading_zeros_u32
from refinterp.quant import (
    ACT_NONE,
    ACT_RELU,
    ACT_RELU6,
    ACT_RELU_N1_TO_1,
    DTYPE_RANGES,
    activation_range,
    activation_range_float,
    cast_to_int32,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    round_half_away_f32,
    saturating_rounding_doubling_high_mul,
    wrap_int32,
)

BINARY_TYPES = {
    "DIV": ("int8", "uint8", "int32", "float32"),
    "FLOOR_DIV": ("int8", "int32", "float32"),
    "FLOOR_MOD": ("int8", "int32", "int64", "float32"),
    "SQUARED_DIFFERENCE": ("int8", "int32", "float32"),
    "POW": ("int32", "float32"),
}
# dtypes TFLite Micro's kernels take (profile "tflm"; measured with the pinned tflite-micro; no POW there)
TFLM_TYPES = {
    "DIV": ("int8", "int32", "float32"), "FLOOR_DIV": ("float32",), "FLOOR_MOD": ("float32",),
    "SQUARED_DIFFERENCE": ("int8", "int32", "float32"), "POW": (), "ADD_N": ("float32",),
}
SQUARED_DIFFERENCE_LEFT_SHIFT = 7
DIV_MAX_OUTPUT_SHIFT = 23  # above it DivElementwise right-shifts by a negative amount for some inputs


@dataclass(frozen=True)
class BinaryMathParams:
    op: str
    kind: str  # "float", "int" (raw integers) or "quantized"
    dtype: np.dtype
    output_shape: tuple[int, ...]
    act_min: float | int = 0
    act_max: float | int = 0
    input1_zero_point: int = 0
    input2_zero_point: int = 0
    output_zero_point: int = 0
    input1_multiplier: int = 0
    input1_shift: int = 0
    input2_multiplier: int = 0
    input2_shift: int = 0
    output_multiplier: int = 0
    output_shift: int = 0


def _integer_activation_range(activation: int, dtype: np.dtype) -> tuple[int, int]:
    """CalculateActivationRange<int32>: the float activation's literals in the integer type."""
    info = np.iinfo(dtype)
    if activation == ACT_RELU:
        return 0, int(info.max)
    if activation == ACT_RELU6:
        return 0, 6
    if activation == ACT_RELU_N1_TO_1:
        return -1, 1
    return int(info.min), int(info.max)


def _smaller_than_one(ctx: OpContext, real: float, what: str) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp: TFLITE_CHECKs 0 < real < 1 (LiteRT aborts otherwise)."""
    if not 0.0 < real < 1.0:
        raise ctx.fail(f"{what} multiplier {real!r} is outside (0, 1) (LiteRT aborts in "
                       f"QuantizeMultiplierSmallerThanOneExp)")
    multiplier, shift = quantize_multiplier(real)
    if shift > 0:
        raise ctx.fail(f"{what} multiplier {real!r} rounds up to 1.0 (LiteRT aborts: shift > 0)")
    return multiplier, shift


def prepare_binary_math(ctx: OpContext) -> BinaryMathParams:
    op = ctx.op.name
    ctx.check_inputs(2, 2)
    x1, x2, y = ctx.require_input(0), ctx.require_input(1), ctx.output(0)
    if x1.type_name == "int16":
        raise ctx.unsupported(f"{op} on int16 (refinterp's int16 kernels are not written yet)")
    ctx.check_dtype(x1, BINARY_TYPES[op], "input")
    if ctx.profile == "tflm" and x1.type_name not in TFLM_TYPES[op]:
        raise ctx.unsupported(f"{op} on {x1.type_name} under profile tflm (TFLite Micro has no such kernel)")
    if x2.type_name != x1.type_name:
        raise ctx.fail(f"inputs are {x1.type_name} and {x2.type_name}; TFLite requires the same type")
    if y.type_name != x1.type_name:
        raise ctx.unsupported(f"{x1.type_name} inputs with a {y.type_name} output")
    shape1, shape2 = ctx.shape(x1), ctx.shape(x2)
    try:
        shape = tuple(int(d) for d in np.broadcast_shapes(shape1, shape2))
    except ValueError:
        raise ctx.fail(f"input shapes {list(shape1)} and {list(shape2)} do not broadcast") from None
    activation = int(ctx.options.get("fused_activation_function", ACT_NONE)) if op == "DIV" else ACT_NONE
    if x1.type_name == "float32":
        lo, hi = activation_range_float(activation)
        return BinaryMathParams(op, "float", x1.dtype, shape, np.float32(lo), np.float32(hi))
    if op == "DIV" and x2.buffer_data is not None:
        # div.cc checks input 2 for its zero point over tensor->bytes, which for a constant is its whole buffer,
        # however much longer than the shape it is (measured with 2.3.0: Eval fails on a zero past the shape)
        divisor_zero = per_tensor_qparams_or_identity(x2)[1]
        every = np.frombuffer(x2.buffer_data, x2.dtype, count=x2.buffer_data.size // x2.dtype.itemsize)
        if np.any(every == divisor_zero):
            raise ctx.fail(f"input 2's buffer ({every.size} values, the shape uses {math.prod(shape2)}) holds "
                           f"the divisor zero point {divisor_zero}: LiteRT's division-by-zero check fails")
    quantized = x1.type_name in ("int8", "uint8") and op in ("DIV", "SQUARED_DIFFERENCE")
    if not quantized:
        lo, hi = _integer_activation_range(activation, x1.dtype)
        # div.cc's CheckNonZero compares every divisor with input2->params.zero_point, whatever the type: an
        # int32 divisor carrying quantization (zero point 3) fails on a 3 (measured with 2.3.0)
        divisor_zero_point = per_tensor_qparams_or_identity(x2)[1] if op == "DIV" else 0
        return BinaryMathParams(op, "int", x1.dtype, shape, lo, hi, input2_zero_point=divisor_zero_point)
    scale1, zero_point1 = per_tensor_qparams(ctx, x1, "input 1")
    scale2, zero_point2 = per_tensor_qparams(ctx, x2, "input 2")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    common = dict(input1_zero_point=zero_point1, input2_zero_point=zero_point2,
                  output_zero_point=output_zero_point)
    if op == "DIV":
        act_min, act_max = activation_range(activation, output_scale, output_zero_point, x1.dtype)
        real = np.float32(scale1) / np.float32(np.float32(scale2) * np.float32(output_scale))
        multiplier, shift = quantize_multiplier(float(real))
        if shift > DIV_MAX_OUTPUT_SHIFT:
            raise ctx.unsupported(f"multiplier s1 / (s2 * s_out) = {float(real):g} is 2**23 or more: LiteRT's "
                                  f"kernel then shifts by a negative amount (undefined behaviour)")
        return BinaryMathParams(op, "quantized", x1.dtype, shape, act_min, act_max, output_multiplier=multiplier,
                                output_shift=shift, **common)
    qmin, qmax = DTYPE_RANGES[x1.dtype]
    for role, zp in (("input 1", zero_point1), ("input 2", zero_point2), ("output", output_zero_point)):
        if not qmin <= zp <= qmax:
            raise ctx.fail(f"{role} zero point {zp} outside the {x1.type_name} range")
    twice_max_input_scale = 2.0 * float(max(np.float32(scale1), np.float32(scale2)))
    m1, sh1 = _smaller_than_one(ctx, float(scale1) / twice_max_input_scale, "input 1")
    m2, sh2 = _smaller_than_one(ctx, float(scale2) / twice_max_input_scale, "input 2")
    real_output = twice_max_input_scale * twice_max_input_scale / (
        float(1 << (2 * SQUARED_DIFFERENCE_LEFT_SHIFT)) * float(output_scale))
    mo, sho = _smaller_than_one(ctx, real_output, "output")
    return BinaryMathParams(op, "quantized", x1.dtype, shape, qmin, qmax, input1_multiplier=m1, input1_shift=sh1,
                            input2_multiplier=m2, input2_shift=sh2, output_multiplier=mo, output_shift=sho,
                            **common)


# ------------------------------------------------------------------------------------------------
# Spec kernels


def count_leading_sign_bits(x: np.ndarray) -> np.ndarray:
    """CountLeadingSignBits(int32): redundant sign bits; 31 for 0 and -1."""
    x = np.asarray(x, dtype=np.int64)
    return count_leading_zeros_u32(np.where(x >= 0, x, ~x)) - 1


def reciprocal(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GetReciprocal(x, 31): (1/x as Q0.31 of the normalized x, num_bits_over_unit) for x >= 1."""
    headroom_plus_one = count_leading_zeros_u32(x)
    shifted_minus_one = wrap_int32(((np.asarray(x, dtype=np.int64) << headroom_plus_one) & 0xFFFFFFFF) - (1 << 31))
    return one_over_one_plus_x_for_x_in_0_1(shifted_minus_one), 31 - headroom_plus_one


def _clamp(v: np.ndarray, lo, hi) -> np.ndarray:
    """``std::min(std::max(v, lo), hi)`` exactly (NaN passes)."""
    v = np.where(v < lo, lo, v)
    return np.where(hi < v, hi, v)


def _check_divisors(p: BinaryMathParams, x2: np.ndarray) -> None:
    if p.kind == "float" and p.op != "FLOOR_DIV":
        return
    zero = p.input2_zero_point if p.kind == "quantized" or p.op == "DIV" else 0
    if p.op in ("DIV", "FLOOR_DIV", "FLOOR_MOD") and np.any(x2 == zero):
        raise EvalError(f"{p.op}: division by zero (a divisor equals {zero}); LiteRT fails at invoke")
    if p.kind == "int" and p.op == "DIV" and zero != 0 and np.any(x2 == 0):
        # the zero-point check passes a 0 when the zero point is not 0: C's integer division then traps
        raise EvalError(f"{p.op}: an integer division by 0 (the C++ kernel traps)")
    if p.op == "POW" and np.any(x2 < 0):
        raise EvalError("POW: a negative exponent for an int32 base; LiteRT fails at invoke")


def _check_traps(p: BinaryMathParams, x1: np.ndarray, x2: np.ndarray) -> None:
    """INT_MIN / -1 and INT_MIN % -1 trap on x86 (SIGFPE): LiteRT would crash. FLOOR_DIV int8 -128 / -1 gives
    128.0, whose conversion back to int8 is undefined in C++: LiteRT returns -128 from its scalar loop and
    127 from its vectorized one (measured), depending on the tensor's length; refinterp refuses it."""
    if p.kind != "int":
        return
    if (p.op in ("DIV", "FLOOR_MOD") and p.dtype in (np.int32, np.int64)) or (p.op == "FLOOR_DIV" and
                                                                              p.dtype == np.int8):
        if np.any((x1 == np.iinfo(p.dtype).min) & (x2 == -1)):
            what = "traps" if p.op != "FLOOR_DIV" else "has no defined int8 result"
            raise EvalError(f"{p.op}: {np.iinfo(p.dtype).min} by -1 overflows (the C++ kernel {what})")


def rounding_divide_by_pot_x86(x: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    """gemmlowp RoundingDivideByPOT on int32 as x86 runs it for any exponent >= 0.

    DivElementwise reaches exponents above 31 (tiny multipliers): C++ leaves them undefined, x86 computes
    ``mask = int32((1ll << (e & 63)) - 1)`` and ``x >> (e & 31)`` (measured: matches ai-edge-litert 2.3.0).
    """
    x = np.asarray(x, dtype=np.int64)
    exponent = np.asarray(exponent, dtype=np.int64)
    mask = wrap_int32((np.int64(1) << (exponent & 63)) - 1)
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return wrap_int32((x >> (exponent & 31)) + (remainder > threshold))


def div_8bit_rule(p: BinaryMathParams, q1: np.ndarray, q2: np.ndarray) -> np.ndarray:
    """DivElementwise on divisors that passed the zero check."""
    a = q1.astype(np.int64) - p.input1_zero_point
    b = q2.astype(np.int64) - p.input2_zero_point
    negative = b < 0
    a, b = np.where(negative, -a, a), np.where(negative, -b, b)
    b = np.where(b == 0, 1, b)  # refused before; keeps the table of every pair defined
    inverse, recip_shift = reciprocal(b)
    headroom = count_leading_sign_bits(a)
    unscaled = saturating_rounding_doubling_high_mul(wrap_int32(a << headroom), inverse)
    total_shift = p.output_shift - recip_shift - headroom
    scaled = rounding_divide_by_pot_x86(saturating_rounding_doubling_high_mul(unscaled, p.output_multiplier),
                                        -total_shift)
    return np.clip(p.output_zero_point + scaled, p.act_min, p.act_max).astype(p.dtype)


def squared_difference_8bit_rule(p: BinaryMathParams, q1: np.ndarray, q2: np.ndarray) -> np.ndarray:
    scaled1 = multiply_by_quantized_multiplier((q1.astype(np.int64) - p.input1_zero_point)
                                               << SQUARED_DIFFERENCE_LEFT_SHIFT, p.input1_multiplier, p.input1_shift)
    scaled2 = multiply_by_quantized_multiplier((q2.astype(np.int64) - p.input2_zero_point)
                                               << SQUARED_DIFFERENCE_LEFT_SHIFT, p.input2_multiplier, p.input2_shift)
    diff = scaled1 - scaled2
    raw = multiply_by_quantized_multiplier(wrap_int32(diff * diff), p.output_multiplier, p.output_shift)
    return np.clip(raw + p.output_zero_point, -128, 127).astype(p.dtype)


def binary_8bit_rule(p: BinaryMathParams, q1: np.ndarray, q2: np.ndarray) -> np.ndarray:
    """The 8-bit rule of one element pair (inputs already broadcast), checks done."""
    if p.op == "DIV":
        return div_8bit_rule(p, q1, q2)
    if p.op == "SQUARED_DIFFERENCE":
        return squared_difference_8bit_rule(p, q1, q2)
    return integer_rule(p, q1, q2)


@functools.cache
def _libm_powf():
    name = ctypes.util.find_library("m")
    library = ctypes.CDLL(name) if name is not None else ctypes.CDLL(None)
    function = library.powf
    function.restype, function.argtypes = ctypes.c_float, [ctypes.c_float, ctypes.c_float]
    return function


def powf(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """C ``powf`` elementwise (bit-exact with the C++ kernel's ``std::pow(float, float)``)."""
    a, b = np.broadcast_arrays(np.asarray(a, np.float32), np.asarray(b, np.float32))
    if a.size == 0:
        return np.empty(a.shape, np.float32)
    return np.array(np.frompyfunc(_libm_powf(), 2, 1)(a, b), dtype=np.float32).reshape(a.shape)


POW_INTEGER_EXPONENT_EPSILON = np.float32(1e-5)


def pow_scalar_integer_exponent(p: BinaryMathParams, x1: np.ndarray, x2: np.ndarray) -> int | None:
    """The exponent n when BroadcastPow4D takes its integer path: the shapes differ, the exponent tensor has one
    element, and it is within 1e-5 of an integer n >= 1 (measured with ai-edge-litert 2.3.0)."""
    if p.op != "POW" or x1.shape == x2.shape or x2.size != 1:
        return None
    e = x2.reshape(-1)[0]
    if p.kind == "int":
        return int(e) if e >= 1 else None
    if not np.isfinite(e):
        return None
    rounded = float(round_half_away_f32(e))
    # static_cast<int>(std::round(exponent)) on x86: out of int32 range gives INT32_MIN (so powf is used)
    n = int(rounded) if -(2.0**31) <= rounded < 2.0**31 else -(2**31)
    return n if n >= 1 and abs(np.float32(e - np.float32(n))) < POW_INTEGER_EXPONENT_EPSILON else None


def integer_pow(p: BinaryMathParams, a: np.ndarray, n: int) -> np.ndarray:
    """a**n by squaring from the highest bit down; float32 products clamped to [lowest, max] (an infinite
    product becomes +-FLT_MAX), int32 products wrapping (measured with ai-edge-litert 2.3.0)."""
    finfo = np.finfo(np.float32)

    def multiply(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        if p.kind == "int":
            return wrap_int32(u.astype(np.int64) * v)
        with np.errstate(all="ignore"):
            return _clamp((u * v).astype(np.float32), finfo.min, finfo.max)

    result = a.copy()
    for bit in bin(n)[3:]:
        result = multiply(result, result)
        if bit == "1":
            result = multiply(result, a)
    return result.astype(p.dtype)


def float_rule(p: BinaryMathParams, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        if p.op == "DIV":
            return _clamp(a / b, p.act_min, p.act_max).astype(np.float32)
        if p.op == "FLOOR_DIV":
            return np.floor(a.astype(np.float64) / b.astype(np.float64)).astype(np.float32)
        if p.op == "FLOOR_MOD":
            m = np.fmod(a, b)
            return np.where((m != 0) & ((b < 0) != (m < 0)), m + b, m).astype(np.float32)
        if p.op == "SQUARED_DIFFERENCE":
            d = a - b
            return (d * d).astype(np.float32)
        return powf(a, b)


def integer_rule(p: BinaryMathParams, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Raw integers; divisors and traps already checked."""
    safe_b = np.where(b == 0, 1, b).astype(np.int64) if p.op in ("DIV", "FLOOR_DIV", "FLOOR_MOD") else b
    if p.op == "DIV":
        a64 = a.astype(np.int64)
        quotient = np.sign(a64) * np.sign(safe_b) * (np.abs(a64) // np.abs(safe_b))  # C truncation
        return np.clip(quotient, p.act_min, p.act_max).astype(p.dtype)
    if p.op == "FLOOR_DIV":
        quotient = np.floor(a.astype(np.float64) / safe_b.astype(np.float64))
        return cast_to_int32(quotient).astype(p.dtype)  # x86 conversion to int32, then C's narrowing (wraps)
    if p.op == "FLOOR_MOD":
        a64, b64 = a.astype(np.int64), np.asarray(safe_b, np.int64)
        m = np.fmod(a64, b64)  # C's % (sign of the dividend)
        return np.where((m != 0) & ((b64 < 0) != (m < 0)), m + b64, m).astype(p.dtype)
    if p.op == "SQUARED_DIFFERENCE":
        d = wrap_int32(a.astype(np.int64) - b)
        return wrap_int32(d * d).astype(np.int32)
    # POW int32: std::pow(int, int) is pow(double, double), then the conversion to int32
    return cast_to_int32(np.power(a.astype(np.float64), b.astype(np.float64))).astype(np.int32)


def check_binary_inputs(p: BinaryMathParams, x1: np.ndarray, x2: np.ndarray) -> None:
    """What LiteRT checks at Eval (divisors, exponents), and the C traps refinterp refuses."""
    _check_divisors(p, x2)
    _check_traps(p, *np.broadcast_arrays(x1, x2))


def binary_math_spec(p: BinaryMathParams, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    check_binary_inputs(p, x1, x2)
    exponent = pow_scalar_integer_exponent(p, x1, x2)
    if exponent is not None:
        return integer_pow(p, np.broadcast_to(x1, p.output_shape), exponent)
    a, b = np.broadcast_arrays(x1, x2)
    if p.kind == "float":
        return float_rule(p, a, b).reshape(p.output_shape)
    if p.kind == "int":
        return integer_rule(p, a, b).reshape(p.output_shape)
    return binary_8bit_rule(p, a, b).reshape(p.output_shape)


# ------------------------------------------------------------------------------------------------
# ADD_N


@dataclass(frozen=True)
class AddNParams:
    dtype: np.dtype
    count: int


def prepare_add_n(ctx: OpContext) -> AddNParams:
    if ctx.num_inputs < 2:
        raise ctx.fail(f"has {ctx.num_inputs} inputs, ADD_N needs at least 2")
    inputs = [ctx.require_input(i) for i in range(ctx.num_inputs)]
    y = ctx.output(0)
    first = inputs[0]
    if first.type_name == "int16":
        raise ctx.unsupported("ADD_N on int16 (LiteRT has no int16 kernel either)")
    ctx.check_dtype(first, ("int32", "float32"), "input")
    if ctx.profile == "tflm" and first.type_name not in TFLM_TYPES["ADD_N"]:
        raise ctx.unsupported(f"ADD_N on {first.type_name} under profile tflm (TFLite Micro has no such kernel)")
    for i, tensor in enumerate(inputs[1:], start=1):
        if tensor.type_name != first.type_name:
            raise ctx.fail(f"input {i} is {tensor.type_name}, input 0 is {first.type_name}")
        if ctx.shape(tensor) != ctx.shape(first):
            raise ctx.fail(f"input {i} has shape {list(ctx.shape(tensor))}, input 0 {list(ctx.shape(first))}")
    ctx.check_same_type(first, y)
    return AddNParams(first.dtype, len(inputs))


def add_n_spec(p: AddNParams, *xs: np.ndarray) -> np.ndarray:
    total = xs[0].copy()
    finfo = np.finfo(np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        for x in xs[1:]:
            total = (total + x).astype(p.dtype)  # in input order; int32 wraps
            if p.dtype == np.float32:
                total = _clamp(total, finfo.min, finfo.max)
    return total.astype(p.dtype)


# ------------------------------------------------------------------------------------------------
# explain: one output element, step by step (``refinterp explain``; refinterp/ops/trace.py)

_TIES_UP = "round to nearest, ties toward +infinity"
_TIES_AWAY = "round to nearest, ties away from zero"


def _explain_operands(ctx: OpContext, p: BinaryMathParams, inputs: list, index: tuple[int, ...], trace
                      ) -> tuple[np.ndarray, np.ndarray]:
    """The two operands of output ``index`` (each input read at its broadcast position), as steps."""
    operands = []
    for k, x in enumerate(inputs[:2]):
        x = np.asarray(x)
        at = tuple(0 if d == 1 else int(i) for d, i in zip(x.shape, index[len(index) - x.ndim:]))
        operands.append(x[at])
        q = ctx.require_input(k).quantization
        real = (f"; real value {float(q.scale[0]) * (int(operands[-1]) - int(q.zero_point[0]))!r}"
                if p.kind == "quantized" and q is not None and q.scale.size else "")
        trace.add(f"input {k + 1}", operands[-1].item(), f"input {k + 1} at {list(at)}"
                  + (" (broadcast)" if tuple(x.shape) != tuple(p.output_shape) else "") + real)
    return operands[0], operands[1]


def explain_binary_math(ctx: OpContext, p: BinaryMathParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """DIV, FLOOR_DIV, FLOOR_MOD, SQUARED_DIFFERENCE, POW output ``index`` (module docstring): the 8-bit rules of
    DIV and SQUARED_DIFFERENCE step by step, the float32 and raw integer rules as one operation."""
    x1, x2 = np.asarray(inputs[0]), np.asarray(inputs[1])
    try:  # the kernel's Eval checks: inputs it refuses have no element to explain
        check_binary_inputs(p, x1, x2)
    except EvalError as exc:
        raise trace.not_detailed(f"inputs the kernel refuses ({exc})") from None
    exponent = pow_scalar_integer_exponent(p, x1, x2)
    a, b = _explain_operands(ctx, p, inputs, index, trace)
    if exponent is not None:
        value = integer_pow(p, np.asarray([a]), exponent)[0]
        trace.add("power", value.item(), f"a^{exponent} by repeated squaring (BroadcastPow4D's integer path: one "
                  "exponent element within 1e-5 of an integer), " + ("int32, wrapping" if p.kind == "int" else
                                                                     "float32 products clamped to +-FLT_MAX"))
        return value.item()
    if p.kind == "float":
        value = float_rule(p, np.asarray([a]), np.asarray([b]))[0]
        said = {"DIV": "a / b in float32, then the fused activation's clamp",
                "FLOOR_DIV": "floor(f64(a) / f64(b)), as float32", "FLOOR_MOD": "m = fmodf(a, b); m + b when m != 0 "
                "and the signs of m and b differ", "SQUARED_DIFFERENCE": "d = a - b; d * d, float32",
                "POW": "powf(a, b), the C library's"}[p.op]
        trace.add("output", value, said, rule="round to nearest, ties to even")
        with np.errstate(all="ignore"):
            fa, fb = float(a), float(b)
            real = {"DIV": lambda: fa / fb, "SQUARED_DIFFERENCE": lambda: (fa - fb) ** 2,
                    "FLOOR_DIV": lambda: math.floor(fa / fb), "FLOOR_MOD": lambda: fa - fb * math.floor(fa / fb),
                    "POW": lambda: np.power(np.float64(fa), np.float64(fb))}
            try:
                exact = float(real[p.op]())
            except (ZeroDivisionError, OverflowError, ValueError):
                exact = None
        if exact is not None and math.isfinite(exact):
            trace.approximates(exact)
        return value
    if p.kind == "int":
        value = integer_rule(p, np.asarray([a]), np.asarray([b]))[0]
        said = {"DIV": f"C's truncating a / b, clamped to [{p.act_min}, {p.act_max}] (the fused activation)",
                "FLOOR_DIV": "floor(f64(a) / f64(b)), converted to the type", "FLOOR_MOD": "m = a % b (C); m + b when "
                "m != 0 and the signs of m and b differ", "SQUARED_DIFFERENCE": "d = a - b; d * d (int32, wrapping)",
                "POW": "int32(pow(f64(a), f64(b))) (x86: out of range gives INT32_MIN)"}[p.op]
        trace.add("output", value.item(), said)
        return value.item()
    scale1, _ = per_tensor_qparams(ctx, ctx.require_input(0), "input 1")
    scale2, _ = per_tensor_qparams(ctx, ctx.require_input(1), "input 2")
    output_scale, _ = per_tensor_qparams(ctx, ctx.output(0), "output")
    d1 = trace.add("input 1 minus zero point", int(a) - p.input1_zero_point, f"{int(a)} - {p.input1_zero_point}")
    d2 = trace.add("input 2 minus zero point", int(b) - p.input2_zero_point, f"{int(b)} - {p.input2_zero_point}")
    if p.op == "DIV":
        value = _explain_div_8bit(p, d1, d2, scale1, scale2, output_scale, trace)
        if d2:
            trace.approximates(scale1 * d1 / (scale2 * d2), output_scale, p.output_zero_point, (p.act_min, p.act_max))
        return value
    twice, scaled = explain_common_scale(trace, (d1, d2), (scale1, scale2),
                                         ((p.input1_multiplier, p.input1_shift), (p.input2_multiplier, p.input2_shift)),
                                         SQUARED_DIFFERENCE_LEFT_SHIFT, show_common=False)
    diff = trace.add("difference", scaled[0] - scaled[1], f"{scaled[0]} - {scaled[1]}")
    square = trace.add("square", int(wrap_int32(diff * diff)), f"{diff} * {diff} (int32)")
    multiplier, shift = trace.quantize_multiplier(
        twice * twice / (float(1 << (2 * SQUARED_DIFFERENCE_LEFT_SHIFT)) * float(output_scale)),
        f"(2 * max(s1, s2))^2 / (2^{2 * SQUARED_DIFFERENCE_LEFT_SHIFT} * s_out)", (p.output_multiplier, p.output_shift),
        name="output multiplier")
    value = trace.requantize(square, multiplier, shift, p.output_zero_point, -128, 127, "int8")
    trace.approximates((scale1 * d1 - scale2 * d2) ** 2, output_scale, p.output_zero_point, (-128, 127))
    return value


def _explain_div_8bit(p: BinaryMathParams, a: int, b: int, scale1: float, scale2: float, output_scale: float,
                      trace) -> int:
    """DivElementwise (module docstring) on one pair, with this module's reciprocal and rounding functions."""
    if b < 0:
        a, b = -a, -b
        trace.add("signs moved to the dividend", [a, b], "b < 0: both negated, so the divisor is positive")
    real = np.float32(scale1) / np.float32(np.float32(scale2) * np.float32(output_scale))
    multiplier, shift = trace.quantize_multiplier(float(real), "f32(s1 / f32(s2 * s_out)) (div.cc, float32)",
                                                  (p.output_multiplier, p.output_shift))
    inverse, recip_shift = (int(np.asarray(v).reshape(-1)[0]) for v in reciprocal(np.asarray([b], np.int64)))
    headroom_b = int(count_leading_zeros_u32(np.asarray([b]))[0])
    trace.add("reciprocal of the divisor", [inverse, recip_shift], f"GetReciprocal({b}, 31): {b} shifted left by its "
              f"{headroom_b} leading zeros into [1, 2) is {b * 2.0 ** (headroom_b - 31)!r}, 1/that in Q0.31 = "
              f"{inverse / 2**31!r} (Newton-Raphson), num_bits_over_unit = {recip_shift}")
    headroom = int(count_leading_sign_bits(np.asarray([a]))[0])
    shifted = trace.add("dividend shifted left", int(wrap_int32(a << headroom)), f"{a} << {headroom} (its "
                        "redundant sign bits, for precision)")
    unscaled = int(saturating_rounding_doubling_high_mul(np.int64(shifted), np.int64(inverse)))
    trace.add("times the reciprocal", unscaled, f"SaturatingRoundingDoublingHighMul({shifted}, {inverse})",
              rule=_TIES_UP)
    high = int(saturating_rounding_doubling_high_mul(np.int64(unscaled), np.int64(multiplier)))
    trace.add("times the multiplier", high, f"SaturatingRoundingDoublingHighMul({unscaled}, {multiplier})",
              rule=_TIES_UP)
    total_shift = shift - recip_shift - headroom
    scaled = int(rounding_divide_by_pot_x86(np.int64(high), np.int64(-total_shift)))
    trace.add("RoundingDivideByPOT", scaled, f"{high} / 2^{-total_shift} (shift {shift} - {recip_shift} - {headroom})"
              + (" (an exponent above 31: x86's shift rules)" if -total_shift > 31 else ""), rule=_TIES_AWAY)
    shifted_out = trace.add("plus output zero point", p.output_zero_point + scaled, f"{p.output_zero_point} + {scaled}")
    return int(trace.clamp(shifted_out, int(p.act_min), int(p.act_max), "the fused activation and the output type"))


def explain_add_n(ctx: OpContext, p: AddNParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """ADD_N output ``index``: the inputs' elements summed in input order (float32: each sum clamped to
    [lowest, max]; int32 wraps)."""
    values = [np.asarray(x)[index] for x in inputs]
    trace.add("operands", [v.item() for v in values], f"the {len(values)} inputs at {list(index)}")
    total = values[0].copy()
    finfo = np.finfo(np.float32)
    items = []
    with np.errstate(over="ignore", invalid="ignore"):
        for k, v in enumerate(values[1:], 1):
            total = (total + v).astype(p.dtype)
            if p.dtype == np.float32:
                total = _clamp(total, finfo.min, finfo.max).astype(np.float32)
            items.append({"input": k, "in": v.item(), "running": total.item()})
    trace.add("sum", total.item(), "in input order from the first, " + (
        "float32, each sum clamped to [lowest, max]" if p.dtype == np.float32 else "int32, wrapping"), items=items)
    if p.dtype == np.float32:
        trace.approximates(float(sum(float(v) for v in values)))
    return total.item()

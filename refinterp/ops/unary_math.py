"""Unary math: ABS, NEG, SQRT, RSQRT, EXP, LOG, SIN, COS, SQUARE, FLOOR, CEIL, ROUND, ELU, HARD_SWISH, PRELU,
L2_NORMALIZATION, LOG_SOFTMAX.

float32 (``elementwise.cc``, ``exp.cc``, ``floor.cc``, ``ceil.cc``, ``round.cc``, ``activations.cc``): one
float32 operation per element, with the C library's single-precision functions where the kernel calls
``std::exp(float)`` and friends (``expf``, ``logf``, ``sinf``, ``cosf``, ``expm1f``; called through ctypes
here, one element at a time: NumPy's own float32 transcendental functions may differ in the last bit).
``sqrt`` is IEEE correctly rounded, so NumPy's is the same. Specific rules:

* RSQRT: ``1.f / sqrtf(x)``; SQUARE: ``x * x``; ABS: ``fabsf``; NEG: ``-x``.
* ROUND (``reference_ops::Round``, ``RoundToNearest``): half to even, written as
  ``f = floor(x); d = x - f; d < 0.5 or (d == 0.5 and int(f) % 2 == 0) ? f : f + 1`` (so -0.5 gives +0.0).
* ELU: ``x < 0 ? expm1f(x) : x``.
* HARD_SWISH (``reference_ops::HardSwish``): ``x * min(6, max(0, x + 3)) / 6`` in float32, in that order.
* PRELU: ``x >= 0 ? x : x * alpha`` (alpha broadcast to the input's shape).
* L2_NORMALIZATION (``reference_ops::L2Normalization``): per row of the last axis,
  ``n = max(sqrtf(sum of x*x, added in order in float32), 1e-6f)``, ``y = x / n``.
* LOG_SOFTMAX (``reference_ops::LogSoftmax``): per row, ``max``, ``sum += expf(x - max)`` in order,
  ``log_sum = logf(sum)``, ``y = x - max - log_sum``.

Integer rules (8-bit, and the int16 kinds of ABS, NEG and PRELU; the other operators' int16 kinds are refused
by name):

* ABS int8 (``AbsEvalQuantized``): ``v = |q - zp_in|``; scales equal (float32 compare):
  ``clamp(v + zp_out)``; else ``clamp(MBQM(v, M, shift) + zp_out)`` with ``M, shift =
  QuantizeMultiplier(f32(s_in / s_out))`` (TFLM, profile "tflm": ``f64(s_in) / f64(s_out)``). int32:
  ``std::abs`` (INT32_MIN stays INT32_MIN).
* ABS int16 (``elementwise.cc``): quantized (``AbsEvalQuantized<int16_t>``): both zero points must be 0 (Prepare
  fails otherwise, LiteRT and TFLM alike), then the int8 rule above clamped to int16 (``|-32768| = 32768``
  rescaled, or 32767 when the scales are equal). Without quantization parameters (``AbsInt16EvalImpl``):
  ``int16(|int32(q)|)``, so -32768 stays -32768.
* NEG int8 / int16 / int32 / int64 (``reference_ops::Negate``): ``-q`` on the raw values, wrapping (no
  requantization; any quantization parameters are ignored: measured, ai-edge-litert 2.3.0).
* RSQRT int8 (``RsqrtEvalQuantizedInt8``): every input must be >= zp_in (else the kernel fails at Eval);
  ``v = q - zp_in``; ``v == 0`` gives 127; else ``(m, s) = GetInvSqrtQuantizedMultiplierExp(v, -1)``,
  ``data = MBQM(1, m, s + 20)``, ``y = clamp(MBQM(data, M, shift - 20) + zp_out)`` with
  ``M, shift = QuantizeMultiplier(1 / f64(f32(sqrtf(s_in) * s_out)))`` (TFLM, profile "tflm":
  ``1 / (sqrt(f64(s_in)) * f64(s_out))``, all in double).
* SQRT int8: every input must be >= zp_in (else Eval fails); ``y = clamp(trunc(sqrtf(f32(s_in * (q - zp_in))) /
  f32(s_out)) + zp_out)`` (truncated, not rounded: measured with ai-edge-litert 2.3.0, whose source is not
  public at this writing; truncating the exact value agrees on every case tried).
* EXP, LOG, ELU int8 (``LUTPopulate<int8_t>`` at Prepare): for each q,
  ``y = clamp(roundf(f(f32(s_in * (q - zp_in))) * f32(1 / s_out)) + zp_out)``, saturating (an infinite
  ``f`` gives the type's maximum).
  LOG maps ``x <= 0`` to ``f32((-128 - zp_out) * s_out)``.
* HARD_SWISH int8/uint8 (``reference_ops::HardSwish`` with HardSwishParams from ``HardSwishPrepare``):
  16-bit fixed point, see ``hard_swish_spec``.
* PRELU int8/uint8, and int16 with an int8 alpha (``reference_ops::BroadcastPrelu4DSlow``/``Prelu``; Prepare in
  ``activations.cc``): ``d = q - zp_in``; ``d >= 0: MBQM(d, M1, s1)``, else ``MBQM(d * (a - zp_alpha), M2, s2)``;
  ``y = clamp(. + zp_out)`` with ``M1 = QM(f32(s_in / s_out))``, ``M2 = QM(f32(f32(s_in * s_alpha) / s_out))``
  (TFLM, profile "tflm": the same ratios in double, ``prelu_common.cc``). int16: neither runtime checks the zero
  points (all are applied); an int16 alpha is refused (TFLM rejects it, LiteRT reads its bytes as int8).
* L2_NORMALIZATION int8 (``reference_integer_ops::L2Normalization``): per row, ``acc = Σ (q - zp)^2`` (int32);
  ``(m, s) = GetInvSqrtQuantizedMultiplierExp(acc, -1)``; ``y = clamp(MBQM(q - zp, m, s + 7))``. uint8
  (``reference_ops::L2Normalization``): ``y = clamp(128 + MBQM(128 * (q - zp), m, s), 0, 255)``. Output
  scale must be 1/128, zero point 0 (int8) or 128 (uint8).
* LOG_SOFTMAX int8 (``reference_integer_ops::LogSoftmax``): gemmlowp fixed point, see ``log_softmax_spec``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from refinterp.errors import EvalError
from refinterp.ops.common import MAX_MULTIPLIER_SHIFT, OpContext, checked_quantize_multiplier, per_tensor_qparams
from refinterp.ops.softmax_logistic import (
    calculate_input_radius,
    exp_on_negative_values,
    one_over_one_plus_x_for_x_in_0_1,
)
from refinterp.quant import (
    DTYPE_RANGES,
    INT32_MAX,
    INT32_MIN,
    cast_to_int32,
    lut_entries_int8,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    round_half_away_f32,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
    saturating_rounding_doubling_high_mul_int16,
    wrap_int32,
)

QUANTIZED_8BIT = ("int8", "uint8")

# ------------------------------------------------------------------------------------------------
# The C library's single-precision functions (what ``std::exp(float)`` etc. call), through ctypes


@functools.cache
def _libm_function(name: str):
    library_name = ctypes.util.find_library("m")
    library = ctypes.CDLL(library_name) if library_name is not None else ctypes.CDLL(None)
    function = getattr(library, name)
    function.restype, function.argtypes = ctypes.c_float, [ctypes.c_float]
    return function


def libm(name: str, x: np.ndarray) -> np.ndarray:
    """C ``name(float)`` (e.g. "expf", "logf", "sinf") elementwise on float32, bit-exact with the C++ kernels."""
    x = np.asarray(x, dtype=np.float32)
    if x.size == 0:
        return np.empty(x.shape, np.float32)
    return np.array(np.frompyfunc(_libm_function(name), 1, 1)(x), dtype=np.float32).reshape(x.shape)


# ------------------------------------------------------------------------------------------------
# LUTPopulate<int8_t / uint8_t> (kernels/internal/common.h): the 8-bit table of a float function


def lut_populate(transform: Callable[[np.ndarray], np.ndarray], input_scale: float, input_zero_point: int,
                 output_scale: float, output_zero_point: int, dtype: np.dtype, rounding: str = "half away"
                 ) -> np.ndarray:
    """``table[q - lowest]`` for every q of the 8-bit ``dtype``, as LUTPopulate computes it in float32::

        x = f32(s_in) * f32(q - zp_in);  t = transform(x)
        y = clamp(roundf(t * f32(1 / f32(s_out))) + zp_out, qmin, qmax)

    The clamp saturates (an infinite ``t`` gives qmax: measured with ai-edge-litert 2.3.0, EXP int8); an int8
    NaN entry is 0, a uint8 one 0 (the type's minimum).
    ``rounding="truncate"``: ``clamp(static_cast<int32>(t / f32(s_out)) + zp_out)`` instead (SQRT int8,
    measured), with x86's cast (INT32_MIN out of range) and int32 wrapping.
    """
    info = np.iinfo(dtype)
    values = np.arange(info.min, info.max + 1, dtype=np.int64)
    with np.errstate(all="ignore"):
        dequantized = np.float32(input_scale) * (values - input_zero_point).astype(np.float32)
        transformed = np.asarray(transform(dequantized), dtype=np.float32)
        inverse_scale = np.float32(1.0) / np.float32(output_scale)
        scaled = transformed * inverse_scale
        if rounding == "truncate":
            # SQRT divides by the output scale (measured: with a subnormal scale, 1 / s_out is inf in float32
            # and 0 * inf NaN, while LiteRT maps sqrt(0) = 0 to zp_out; the division agrees on every case tried)
            scaled = transformed / np.float32(output_scale)
            # static_cast<int32_t> then + zp in int32: out of range gives x86's INT32_MIN, and the addition
            # wraps (measured: SQRT int8 with an output scale of 1e-12 gives the type's minimum)
            quantized = wrap_int32(cast_to_int32(scaled) + output_zero_point)
        else:
            quantized = round_half_away_f32(scaled) + np.float32(output_zero_point)
    if info.min < 0:  # int8: a NaN entry (exp underflowing, log of 1, times inf) is 0 (quant.lut_entries_int8)
        return lut_entries_int8(quantized).astype(dtype)
    return np.clip(np.nan_to_num(quantized, nan=float(info.min)), info.min, info.max).astype(dtype)


def lookup(table: np.ndarray, x: np.ndarray) -> np.ndarray:
    return table[x.astype(np.int64) - int(np.iinfo(x.dtype).min)]


# ------------------------------------------------------------------------------------------------
# GetInvSqrtQuantizedMultiplierExp (kernels/internal/common.h), vectorized over int64 arrays of int32 values.
# gemmlowp fixed point: FixedPoint<int32, I> * FixedPoint<int32, J> is SRDHM of the raws (I + J integer bits),
# Rescale<K> from I bits is a saturating left shift by I - K (or RDBPOT by K - I).

_srdhm = saturating_rounding_doubling_high_mul


def saturating_shift_left(x: np.ndarray, exponent: int) -> np.ndarray:
    """gemmlowp SaturatingRoundingMultiplyByPOT<exponent > 0> on int32 raws."""
    threshold = (1 << (31 - exponent)) - 1
    x = np.asarray(x, dtype=np.int64)
    return np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, x << exponent))


def count_leading_zeros_u32(x: np.ndarray) -> np.ndarray:
    """CountLeadingZeros(uint32(x)); 32 for 0."""
    u = np.asarray(x, dtype=np.int64) & 0xFFFFFFFF
    bits = np.zeros(u.shape, dtype=np.int64)
    remaining = u.copy()
    for step in (16, 8, 4, 2, 1):
        big = remaining >= (1 << step)
        bits = np.where(big, bits + step, bits)
        remaining = np.where(big, remaining >> step, remaining)
    return np.where(u == 0, 32, 31 - bits)


def inv_sqrt_multiplier_exp(value: np.ndarray, reverse_shift: int) -> tuple[np.ndarray, np.ndarray]:
    """GetInvSqrtQuantizedMultiplierExp: (multiplier, shift) with 1/sqrt(value) = multiplier * 2**(shift - 31).

    ``value <= 1`` gives (INT32_MAX, 0). Else the value is scaled by powers of 4 into [2**27, 2**29), five
    Newton-Raphson steps run in Q3.28, and a negative shift is folded into the multiplier (an int32 shift).
    """
    value = np.asarray(value, dtype=np.int64)
    small = value <= 1
    v = np.where(small, 1 << 28, value)
    shift = np.full(v.shape, 11, dtype=np.int64)
    for _ in range(2):  # while (input >= 2**29) { input /= 4; ++shift }: at most twice for an int32
        big = v >= (1 << 29)
        v = np.where(big, v // 4, v)
        shift = np.where(big, shift + 1, shift)
    max_left_shift_bits = count_leading_zeros_u32(v) - 1
    left_shift_bit_pairs = max_left_shift_bits // 2 - 1
    shift = shift - left_shift_bit_pairs
    v = v << (2 * left_shift_bit_pairs)
    fixedpoint_input = v >> 1  # Q3.28
    fixedpoint_half_input = rounding_divide_by_pot(fixedpoint_input, 1)
    half_three = (1 << 28) + (1 << 27)
    x = np.full(v.shape, 1 << 28, dtype=np.int64)  # F3::One()
    for _ in range(5):
        x3 = saturating_shift_left(_srdhm(_srdhm(x, x), x), 6)  # Rescale<3>(x * x * x): Q9 -> Q3
        x = saturating_shift_left(wrap_int32(_srdhm(half_three, x) - _srdhm(fixedpoint_half_input, x3)), 3)
    x = _srdhm(x, 1518500250)  # * sqrt(2)/2 in Q0.31
    negative = shift < 0
    x = np.where(negative, wrap_int32(x << np.where(negative, -shift, 0)), x)
    shift = np.where(negative, 0, shift) * reverse_shift
    return np.where(small, INT32_MAX, x), np.where(small, 0, shift)


# ------------------------------------------------------------------------------------------------
# ABS, NEG, SQRT, RSQRT, EXP, LOG, SIN, COS, SQUARE, FLOOR, CEIL, ROUND, ELU

# dtypes LiteRT's kernels take, per operator (int16 only where refinterp has the rule; the rest is refused by name)
UNARY_TYPES = {
    "ABS": ("int8", "int16", "int32", "float32"),
    "NEG": ("int8", "int16", "int32", "int64", "float32"),
    "SQRT": ("int8", "float32"),
    "RSQRT": ("int8", "float32"),
    "EXP": ("int8", "float32"),
    "LOG": ("int8", "float32"),
    "SIN": ("float32",),
    "COS": ("float32",),
    "SQUARE": ("float32",),
    "FLOOR": ("float32",),
    "CEIL": ("float32",),
    "ROUND": ("float32",),
    "ELU": ("int8", "float32"),
}
# dtypes TFLite Micro's kernels take (profile "tflm"; measured with the pinned tflite-micro)
TFLM_TYPES = {
    "ABS": ("int8", "int16", "float32"), "NEG": ("float32",), "SQRT": ("float32",), "RSQRT": ("int8", "float32"),
    "EXP": ("float32",), "LOG": ("float32",), "SIN": ("float32",), "COS": ("float32",), "SQUARE": ("float32",),
    "FLOOR": ("float32",), "CEIL": ("float32",), "ROUND": ("float32",), "ELU": ("int8", "float32"),
    "HARD_SWISH": ("int8", "float32"), "PRELU": ("int8", "int16", "float32"),
    "L2_NORMALIZATION": ("int8", "float32"),
    "LOG_SOFTMAX": ("int8", "float32"),
}
UNQUANTIZED_INT8_OPS = ("NEG",)  # raw values, no (scale, zero point)
INT16_OPS = ("ABS", "NEG")  # the unary operators whose int16 kind refinterp has


def check_tflm_type(ctx: OpContext, type_name: str) -> None:
    """Profile "tflm": refuse the dtypes TFLite Micro has no kernel for."""
    if ctx.profile == "tflm" and type_name not in TFLM_TYPES[ctx.op.name]:
        raise ctx.unsupported(f"{ctx.op.name} on {type_name} under profile tflm (TFLite Micro has no such kernel)")


RSQRT_SHIFT = 20  # RsqrtEvalQuantizedInt8: kShift


@dataclass(frozen=True)
class UnaryParams:
    op: str
    kind: str  # "float", "int" (raw integers) or "quantized" (an 8-bit rule)
    dtype: np.dtype
    input_zero_point: int = 0
    output_zero_point: int = 0
    multiplier: int = 0
    shift: int = 0
    needs_rescale: bool = False  # ABS: the scales differ
    table: np.ndarray | None = None  # EXP/LOG/ELU/SQRT int8: LiteRT's own table (built at Prepare)
    qmin: int = 0
    qmax: int = 0


def _log_transform(output_min: np.float32) -> Callable[[np.ndarray], np.ndarray]:
    def transform(x: np.ndarray) -> np.ndarray:
        positive = x > 0
        return np.where(positive, libm("logf", np.where(positive, x, 1.0)), output_min)
    return transform


def _elu_float(x: np.ndarray) -> np.ndarray:
    return np.where(x < 0, libm("expm1f", x), x).astype(np.float32)


def _lut_transform(op: str, output_scale: float, output_zero_point: int) -> Callable[[np.ndarray], np.ndarray]:
    if op == "EXP":
        return lambda x: libm("expf", x)
    if op == "SQRT":
        return lambda x: np.sqrt(x)
    if op == "ELU":
        return _elu_float
    output_min = np.float32(np.float32(-128 - output_zero_point) * np.float32(output_scale))
    return _log_transform(output_min)


def prepare_unary(ctx: OpContext) -> UnaryParams:
    op = ctx.op.name
    ctx.check_inputs(1, 1)
    x, y = ctx.require_input(0), ctx.output(0)
    if x.type_name == "int16" and op not in INT16_OPS:
        raise ctx.unsupported(f"{op} on int16 (refinterp's int16 kernels are not written yet)")
    ctx.check_dtype(x, UNARY_TYPES[op], "input")
    check_tflm_type(ctx, x.type_name)
    if y.type_name != x.type_name:
        raise ctx.fail(f"input is {x.type_name} but output is {y.type_name}")
    if x.type_name == "float32":
        return UnaryParams(op, "float", x.dtype)
    # ABS int16 without quantization parameters is AbsInt16EvalImpl: the raw rule, like int32
    raw_int16 = x.type_name == "int16" and x.quantization is None
    if x.type_name not in ("int8", "int16") or op in UNQUANTIZED_INT8_OPS or raw_int16:
        return UnaryParams(op, "int", x.dtype)
    input_scale, input_zero_point = per_tensor_qparams(ctx, x, "input")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    if x.type_name == "int16" and (input_zero_point != 0 or output_zero_point != 0):
        # GenericPrepare (LiteRT's elementwise.cc and TFLM's alike)
        raise ctx.fail(f"int16 zero points must be 0, got input {input_zero_point}, output {output_zero_point}")
    qmin, qmax = DTYPE_RANGES[x.dtype]
    common = dict(input_zero_point=input_zero_point, output_zero_point=output_zero_point, qmin=qmin, qmax=qmax)
    if op == "ABS":
        needs_rescale = bool(np.float32(input_scale) != np.float32(output_scale))
        # SetAbsOutputMultiplier: the ratio in float32 (LiteRT's elementwise.cc), in double (TFLM's)
        ratio = float(input_scale) / float(output_scale) if ctx.profile == "tflm" else \
            float(np.float32(input_scale) / np.float32(output_scale))
        multiplier, shift = checked_quantize_multiplier(ctx, ratio, "input/output scale ratio") \
            if needs_rescale else (0, 0)
        return UnaryParams(op, "quantized", x.dtype, multiplier=multiplier, shift=shift,
                           needs_rescale=needs_rescale, **common)
    if op == "RSQRT":
        if ctx.profile == "tflm":
            # TFLM's SetRsqrtOutputMultiplier (micro/kernels/elementwise.cc): sqrt and product in double
            product = float(np.sqrt(np.float64(input_scale))) * float(output_scale)
        else:
            # LiteRT's SetRsqrtOutputMultiplier (elementwise.cc): sqrt and product in float32, the reciprocal
            # in double
            product = float(np.float32(np.sqrt(np.float32(input_scale)) * np.float32(output_scale)))
        if not product > 0:  # 1 / 0 is infinite: QuantizeMultiplier of it is undefined
            raise ctx.fail(f"sqrt(input scale) * output scale underflows to 0 ({input_scale:.6g}, {output_scale:.6g}): "
                           "the multiplier of 1 / 0 is undefined")
        multiplier, shift = quantize_multiplier(1.0 / product)
        # the kernel's MBQM(data, M, shift - 20) shifts left by more than 30 or right by more than 31 bits:
        # undefined in C++ (measured: LiteRT's results follow no rule there)
        if not -31 <= shift - RSQRT_SHIFT <= MAX_MULTIPLIER_SHIFT:
            raise ctx.fail(f"input and output scales {input_scale:.6g}, {output_scale:.6g} make a rescale of "
                           f"2**{shift - RSQRT_SHIFT - 1}: TFLite's int32 arithmetic would shift by "
                           f"{abs(shift - RSQRT_SHIFT)} bits (undefined)")
        return UnaryParams(op, "quantized", x.dtype, multiplier=multiplier, shift=shift, **common)
    table = lut_populate(_lut_transform(op, output_scale, output_zero_point), input_scale, input_zero_point,
                         output_scale, output_zero_point, x.dtype, "truncate" if op == "SQRT" else "half away")
    return UnaryParams(op, "quantized", x.dtype, table=table, **common)


def _round_to_nearest_even(x: np.ndarray) -> np.ndarray:
    """RoundToNearest (round.h): floor, then up when the rest is over 0.5, or 0.5 and floor is odd."""
    floor = np.floor(x)
    diff = x - floor
    floor_is_even = cast_to_int32(floor) % 2 == 0  # static_cast<int>(floor) % 2 (INT32_MIN is even)
    keep = (diff < np.float32(0.5)) | ((diff == np.float32(0.5)) & floor_is_even)
    return np.where(keep, floor, floor + np.float32(1.0)).astype(np.float32)


def unary_float(op: str, x: np.ndarray, c: Callable[[str, np.ndarray], np.ndarray] = libm) -> np.ndarray:
    """The float32 rule of ``op``; ``c(name, x)`` is the C library function (the fast kernel passes numba's)."""
    x = np.asarray(x, dtype=np.float32)
    with np.errstate(all="ignore"):
        if op == "ABS":
            return np.abs(x)
        if op == "NEG":
            return -x
        if op == "SQRT":
            return np.sqrt(x)
        if op == "RSQRT":
            return (np.float32(1.0) / np.sqrt(x)).astype(np.float32)
        if op == "SQUARE":
            return x * x
        if op == "FLOOR":
            return np.floor(x)
        if op == "CEIL":
            return np.ceil(x)
        if op == "ROUND":
            return _round_to_nearest_even(x)
        if op == "ELU":
            return np.where(x < 0, c("expm1f", x), x).astype(np.float32)
        return c({"EXP": "expf", "LOG": "logf", "SIN": "sinf", "COS": "cosf"}[op], x)


def check_unary_domain(p: UnaryParams, x: np.ndarray) -> None:
    """SQRT and RSQRT int8 fail at Eval on an input below the zero point (a negative real value)."""
    if p.kind == "quantized" and p.op in ("SQRT", "RSQRT") and x.size and int(x.min()) < p.input_zero_point:
        what = "non-negative" if p.op == "SQRT" else "positive"
        raise EvalError(f"{p.op}: an input is below the zero point {p.input_zero_point}; LiteRT's kernel is only "
                        f"defined for {what} values")


def unary_rule_8bit(p: UnaryParams, q: np.ndarray) -> np.ndarray:
    """The int8 rule (and ABS int16's) on values that passed ``check_unary_domain``."""
    if p.table is not None:
        return lookup(p.table, q)
    v = q.astype(np.int64) - p.input_zero_point
    if p.op == "ABS":
        v = np.abs(v)
        y = multiply_by_quantized_multiplier(v, p.multiplier, p.shift) if p.needs_rescale else v
    else:  # RSQRT
        safe = np.where(v > 0, v, 2)  # v == 0 gives the maximum below; v < 0 was refused
        inv_multiplier, inv_shift = inv_sqrt_multiplier_exp(safe, -1)
        data = multiply_by_quantized_multiplier(1, inv_multiplier, inv_shift + RSQRT_SHIFT)
        y = multiply_by_quantized_multiplier(data, p.multiplier, p.shift - RSQRT_SHIFT)
        y = np.where(v == 0, p.qmax - p.output_zero_point, y)
    return np.clip(y + p.output_zero_point, p.qmin, p.qmax).astype(p.dtype)


def unary_spec(p: UnaryParams, x: np.ndarray) -> np.ndarray:
    if p.kind == "float":
        return unary_float(p.op, x)
    if p.kind == "int":
        if p.op == "NEG":
            return np.negative(x)  # wraps: -(-128) is -128
        return np.abs(x)  # ABS int32: std::abs, INT32_MIN stays
    check_unary_domain(p, x)
    return unary_rule_8bit(p, x)


# ------------------------------------------------------------------------------------------------
# HARD_SWISH


@dataclass(frozen=True)
class HardSwishParams:
    quantized: bool
    dtype: np.dtype
    input_zero_point: int = 0
    output_zero_point: int = 0
    output_multiplier_fixedpoint_int16: int = 0
    output_multiplier_exponent: int = 0
    reluish_multiplier_fixedpoint_int16: int = 0
    reluish_multiplier_exponent: int = 0


def down_scale_int32_to_int16_multiplier(multiplier: int) -> int:
    """DownScaleInt32ToInt16Multiplier: round a Q31 multiplier to Q15."""
    if multiplier >= INT32_MAX - (1 << 15):
        return 32767
    return (multiplier + (1 << 15)) >> 16


def prepare_hard_swish(ctx: OpContext) -> HardSwishParams:
    ctx.check_inputs(1, 1)
    x, y = ctx.require_input(0), ctx.output(0)
    if x.type_name == "int16":
        raise ctx.unsupported("HARD_SWISH on int16 (refinterp's int16 kernels are not written yet)")
    ctx.check_dtype(x, ("int8", "uint8", "float32"), "input")
    check_tflm_type(ctx, x.type_name)
    ctx.check_same_type(x, y)
    if x.type_name == "float32":
        return HardSwishParams(False, x.dtype)
    input_scale, input_zero_point = per_tensor_qparams(ctx, x, "input")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    # HardSwishPrepare, in float32
    hires_input_scale = np.float32(np.float32(1.0 / 128.0) * np.float32(input_scale))
    reluish_scale = np.float32(3.0 / 32768.0)
    output_multiplier, output_exponent = checked_quantize_multiplier(
        ctx, float(hires_input_scale / np.float32(output_scale)), "input scale / 128 / output scale")
    if output_exponent > 0:
        raise ctx.fail(f"output multiplier {float(hires_input_scale / np.float32(output_scale))!r} is 1 or more "
                       f"(the output scale is below input scale / 128): HardSwishPrepare requires exponent <= 0")
    reluish_multiplier, reluish_exponent = checked_quantize_multiplier(
        ctx, float(hires_input_scale / reluish_scale), "input scale / 128 / (3 / 32768)")
    return HardSwishParams(True, x.dtype, input_zero_point, output_zero_point,
                           down_scale_int32_to_int16_multiplier(output_multiplier), output_exponent,
                           down_scale_int32_to_int16_multiplier(reluish_multiplier), reluish_exponent)


# 16-bit fixed point (gemmlowp's int16 overloads and hard_swish.h), on int64 arrays holding int16 values


def _wrap_int16(x: np.ndarray) -> np.ndarray:
    return ((np.asarray(x, dtype=np.int64) + (1 << 15)) & 0xFFFF) - (1 << 15)


def _sdhm16(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SaturatingDoublingHighMul (hard_swish.h): like SRDHM but truncating toward zero."""
    product = np.asarray(a, dtype=np.int64) * np.asarray(b, dtype=np.int64)
    high = np.where(product >= 0, product >> 15, -((-product) >> 15))
    return np.where((a == -32768) & (b == -32768), 32767, _wrap_int16(high))


def _rdbpot16(x: np.ndarray, exponent: int) -> np.ndarray:
    """gemmlowp RoundingDivideByPOT on int16: the mask is (1 << exponent) - 1 converted to int16."""
    x = np.asarray(x, dtype=np.int64)
    mask = int(_wrap_int16((1 << exponent) - 1))
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return _wrap_int16((x >> exponent) + (remainder > threshold))


def _saturating_left_shift16(x: np.ndarray, amount: int) -> np.ndarray:
    return np.clip(np.asarray(x, dtype=np.int64) * (1 << amount), -32768, 32767)


def hard_swish_rule_8bit(p: HardSwishParams, q: np.ndarray) -> np.ndarray:
    input_value = _wrap_int16(q.astype(np.int64) - p.input_zero_point)
    hires = _wrap_int16(input_value * (1 << 7))
    preshift_output_scale = saturating_rounding_doubling_high_mul_int16(hires, p.output_multiplier_fixedpoint_int16)
    reluish = hires
    if p.reluish_multiplier_exponent > 0:
        reluish = _saturating_left_shift16(reluish, p.reluish_multiplier_exponent - 1)
    reluish = saturating_rounding_doubling_high_mul_int16(reluish, p.reluish_multiplier_fixedpoint_int16)
    if p.reluish_multiplier_exponent > 0:
        reluish = _saturating_left_shift16(reluish, 1)
    if p.reluish_multiplier_exponent < 0:
        reluish = _rdbpot16(reluish, -p.reluish_multiplier_exponent)
    reluish = _wrap_int16((reluish + (1 << 15)) >> 1)  # [-1, 1] -> [0, 1]
    preshift_output = _sdhm16(reluish, preshift_output_scale)
    output = _wrap_int16(_rdbpot16(preshift_output, -p.output_multiplier_exponent) + p.output_zero_point)
    qmin, qmax = DTYPE_RANGES[np.dtype(p.dtype)]
    return np.clip(output, qmin, qmax).astype(p.dtype)


def hard_swish_float(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    with np.errstate(all="ignore"):
        plus_three = x + np.float32(3.0)
        # std::min(6, std::max(0, in + 3)): max(0, NaN) is 0 (the first argument when the compare fails)
        relu6 = np.where(np.float32(0.0) < plus_three, plus_three, np.float32(0.0))
        relu6 = np.where(relu6 < np.float32(6.0), relu6, np.float32(6.0))
        return ((x * relu6) / np.float32(6.0)).astype(np.float32)


def hard_swish_spec(p: HardSwishParams, x: np.ndarray) -> np.ndarray:
    """float32 or the 8-bit rule of ``reference_ops::HardSwish`` (hard_swish.h)::

        v = q - zp_in;  hires = v * 128                                   (int16)
        pre = SRDHM16(hires, Mo16)                                         (the output scale, before its shift)
        r = hires; r = SatShl(r, er - 1) if er > 0; r = SRDHM16(r, Mr16); r = SatShl(r, 1) if er > 0
        r = RDBPOT16(r, -er) if er < 0;  r = (r + 2**15) >> 1               ([-3, 3] -> [0, 1] in Q0.15)
        y = clamp(int16(RDBPOT16(SDHM16(r, pre), -eo) + zp_out))

    ``Mo``/``eo`` = QuantizeMultiplier(f32(f32(s_in / 128) / s_out)) (eo must be <= 0), ``Mr``/``er`` =
    QuantizeMultiplier(f32(f32(s_in / 128) / f32(3 / 32768))), each rounded to Q15 (DownScaleInt32ToInt16).
    """
    if not p.quantized:
        return hard_swish_float(x)
    return hard_swish_rule_8bit(p, x)


# ------------------------------------------------------------------------------------------------
# PRELU


@dataclass(frozen=True)
class PreluParams:
    quantized: bool
    dtype: np.dtype
    output_shape: tuple[int, ...]
    input_zero_point: int = 0
    alpha_zero_point: int = 0
    output_zero_point: int = 0
    multiplier_1: int = 0
    shift_1: int = 0
    multiplier_2: int = 0
    shift_2: int = 0


def prepare_prelu(ctx: OpContext) -> PreluParams:
    ctx.check_inputs(2, 2)
    x, alpha, y = ctx.require_input(0), ctx.require_input(1), ctx.output(0)
    ctx.check_dtype(x, ("int8", "uint8", "int16", "float32"), "input")
    check_tflm_type(ctx, x.type_name)
    if x.type_name == "int16":
        # int16x8: int8 alpha (a weight). TFLM's PreluPrepare requires it; LiteRT accepts an int16 alpha but
        # its kernel reads the alpha's bytes as int8 (measured, ai-edge-litert 2.3.0): nothing to copy
        if alpha.type_name == "int16" and ctx.profile != "tflm":
            raise ctx.unsupported("PRELU int16 with an int16 alpha (LiteRT reads the alpha's bytes as int8)")
        if alpha.type_name != "int8":
            raise ctx.fail(f"input is int16 but alpha is {alpha.type_name} (int8 required)")
    elif alpha.type_name != x.type_name:
        raise ctx.fail(f"input is {x.type_name} but alpha is {alpha.type_name}")
    ctx.check_same_type(x, y)
    x_shape, alpha_shape = ctx.shape(x), ctx.shape(alpha)
    try:
        shape = tuple(int(d) for d in np.broadcast_shapes(x_shape, alpha_shape))
    except ValueError:
        raise ctx.fail(f"input shape {list(x_shape)} and alpha shape {list(alpha_shape)} do not broadcast") from None
    if shape != tuple(x_shape):
        raise ctx.fail(f"alpha {list(alpha_shape)} broadcasts the output to {list(shape)}, not the input's shape")
    if x.type_name == "float32":
        return PreluParams(False, x.dtype, shape)
    input_scale, input_zero_point = per_tensor_qparams(ctx, x, "input")
    alpha_scale, alpha_zero_point = per_tensor_qparams(ctx, alpha, "alpha")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    s_in, s_alpha, s_out = np.float32(input_scale), np.float32(alpha_scale), np.float32(output_scale)
    if ctx.profile == "tflm":  # CalculatePreluParams (prelu_common.cc): in double
        real_1 = float(s_in) / float(s_out)
        real_2 = float(s_in) * float(s_alpha) / float(s_out)
    else:  # PreluPrepare (activations.cc): in float32
        real_1, real_2 = float(s_in / s_out), float(np.float32(s_in * s_alpha) / s_out)
    multiplier_1, shift_1 = checked_quantize_multiplier(ctx, real_1, "input scale / output scale")
    multiplier_2, shift_2 = checked_quantize_multiplier(ctx, real_2, "input scale x alpha scale / output scale")
    return PreluParams(True, x.dtype, shape, input_zero_point, alpha_zero_point, output_zero_point,
                       multiplier_1, shift_1, multiplier_2, shift_2)


def prelu_spec(p: PreluParams, x: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    x, alpha = np.broadcast_arrays(x, alpha)
    if not p.quantized:
        with np.errstate(all="ignore"):
            return np.where(x >= 0, x, x * alpha).astype(np.float32)
    d = x.astype(np.int64) - p.input_zero_point
    a = alpha.astype(np.int64) - p.alpha_zero_point
    positive = multiply_by_quantized_multiplier(d, p.multiplier_1, p.shift_1)
    negative = multiply_by_quantized_multiplier(d * a, p.multiplier_2, p.shift_2)  # |d * a| < 2**24: int32
    qmin, qmax = DTYPE_RANGES[np.dtype(p.dtype)]
    return np.clip(np.where(d >= 0, positive, negative) + p.output_zero_point, qmin, qmax).astype(p.dtype)


# ------------------------------------------------------------------------------------------------
# L2_NORMALIZATION

L2_NORM_EPSILON = np.float32(1e-6)


@dataclass(frozen=True)
class L2NormParams:
    dtype: np.dtype
    input_zero_point: int = 0


def prepare_l2_normalization(ctx: OpContext) -> L2NormParams:
    ctx.check_inputs(1, 1)
    x, y = ctx.require_input(0), ctx.output(0)
    if x.type_name == "int16":
        raise ctx.unsupported("L2_NORMALIZATION on int16 (LiteRT has no int16 kernel either)")
    ctx.check_dtype(x, ("int8", "uint8", "float32"), "input")
    check_tflm_type(ctx, x.type_name)
    ctx.check_same_type(x, y)
    if len(ctx.shape(x)) < 1:
        raise ctx.fail("input must have at least one dimension")
    if int(ctx.options.get("fused_activation_function", 0)) != 0:
        raise ctx.fail("a fused activation is not supported (l2norm.cc requires NONE)")
    if x.type_name == "float32":
        return L2NormParams(x.dtype)
    _, input_zero_point = per_tensor_qparams(ctx, x, "input")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    if np.float32(output_scale) != np.float32(1.0 / 128.0):
        raise ctx.fail(f"output scale must be 1/128, got {output_scale!r}")
    expected_zero_point = 0 if x.type_name == "int8" else 128
    if output_zero_point != expected_zero_point:
        raise ctx.fail(f"output zero point must be {expected_zero_point}, got {output_zero_point}")
    return L2NormParams(x.dtype, input_zero_point)


def l2_normalization_spec(p: L2NormParams, x: np.ndarray) -> np.ndarray:
    if x.size == 0:
        return np.empty(x.shape, dtype=x.dtype)
    if p.dtype == np.float32:
        rows = x.reshape(-1, x.shape[-1]).astype(np.float32)
        squared = np.zeros(rows.shape[0], dtype=np.float32)
        with np.errstate(all="ignore"):
            for c in range(rows.shape[1]):
                squared += rows[:, c] * rows[:, c]  # float32 adds in order
            norm = np.sqrt(squared)
            norm = np.where(norm < L2_NORM_EPSILON, L2_NORM_EPSILON, norm)  # std::max(l2_norm, epsilon)
            return (rows / norm[:, None]).astype(np.float32).reshape(x.shape)
    d = x.reshape(-1, x.shape[-1]).astype(np.int64) - p.input_zero_point
    acc = wrap_int32((d * d).sum(axis=1))  # int32 accumulator
    multiplier, shift = inv_sqrt_multiplier_exp(acc, -1)
    if p.dtype == np.int8:
        y = multiply_by_quantized_multiplier(d, multiplier[:, None], shift[:, None] + 7)
        return np.clip(y, -128, 127).astype(np.int8).reshape(x.shape)
    y = 128 + multiply_by_quantized_multiplier(128 * d, multiplier[:, None], shift[:, None])
    return np.clip(y, 0, 255).astype(np.uint8).reshape(x.shape)


# ------------------------------------------------------------------------------------------------
# LOG_SOFTMAX

LOG_SOFTMAX_INPUT_INTEGER_BITS = 5
LOG_SOFTMAX_ACCUMULATION_INTEGER_BITS = 12
LOG_SOFTMAX_OUTPUT_INTEGER_BITS = 4


@dataclass(frozen=True)
class LogSoftmaxParams:
    quantized: bool
    input_multiplier: int = 0
    input_left_shift: int = 0
    reverse_scaling_divisor: int = 0
    reverse_scaling_left_shift: int = 0  # <= 0 (LiteRT stores its negation and negates it back)
    diff_min: int = 0


def prepare_log_softmax(ctx: OpContext) -> LogSoftmaxParams:
    ctx.check_inputs(1, 1)
    x, y = ctx.require_input(0), ctx.output(0)
    if x.type_name == "int16":
        raise ctx.unsupported("LOG_SOFTMAX on int16 (LiteRT has no int16 kernel either)")
    ctx.check_dtype(x, ("int8", "uint8", "float32"), "input")
    check_tflm_type(ctx, x.type_name)
    ctx.check_same_type(x, y)
    if len(ctx.shape(x)) < 1:
        raise ctx.fail("input must have at least one dimension")
    if x.type_name == "float32":
        return LogSoftmaxParams(False)
    input_scale, _ = per_tensor_qparams(ctx, x, "input")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    if float(np.float32(output_scale)) != 16.0 / 256:
        raise ctx.fail(f"output scale must be 16/256, got {output_scale!r}")
    wanted_zero_point = 255 if x.type_name == "uint8" else 127
    if output_zero_point != wanted_zero_point:
        raise ctx.fail(f"output zero point must be {wanted_zero_point}, got {output_zero_point}")
    # PreprocessLogSoftmaxScalingExp (quantization_util.cc), beta = 1
    input_beta_real = min(float(input_scale) * float(1 << (31 - LOG_SOFTMAX_INPUT_INTEGER_BITS)),
                          float((1 << 31) - 1))
    if not input_beta_real > 1.0:
        raise ctx.fail(f"input scale {input_scale!r} is below 2**-26 (QuantizeMultiplierGreaterThanOne would "
                       f"abort in TFLite)")
    input_multiplier, input_left_shift = quantize_multiplier(input_beta_real)
    real_reverse = float(1 << (31 - input_left_shift)) / float(input_multiplier)
    if not 0.0 < real_reverse < 1.0:
        raise ctx.fail(f"input scale {input_scale!r} is below 2**-25: the reverse scaling divisor "
                       f"{real_reverse!r} is not below 1 (QuantizeMultiplierSmallerThanOneExp would abort)")
    reverse_multiplier, reverse_left_shift = quantize_multiplier(real_reverse)
    diff_min = -calculate_input_radius(LOG_SOFTMAX_INPUT_INTEGER_BITS, input_left_shift)
    return LogSoftmaxParams(True, input_multiplier, input_left_shift, reverse_multiplier, reverse_left_shift,
                            diff_min)


def log_softmax_float(x: np.ndarray, c: Callable[[str, np.ndarray], np.ndarray] = libm) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.size == 0:
        return x.copy()
    with np.errstate(all="ignore"):
        row_max = x.max(axis=-1, keepdims=True)
        exps = c("expf", x - row_max)
        total = np.zeros(x.shape[:-1] + (1,), dtype=np.float32)
        for i in range(x.shape[-1]):
            total += exps[..., i:i + 1]
        log_sum = c("logf", total)
        return ((x - row_max) - log_sum).astype(np.float32)


def _saturating_add(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    return np.clip(np.asarray(a, dtype=np.int64) + b, INT32_MIN, INT32_MAX)


def _multiply_by_pot_param(x: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    """SaturatingRoundingMultiplyByPOTParam with exponent >= 0: a saturating left shift (0: unchanged)."""
    x = np.asarray(x, dtype=np.int64)
    exponent = np.asarray(exponent, dtype=np.int64)
    threshold = (np.int64(1) << (31 - exponent)) - 1
    shifted = wrap_int32(x << exponent)
    return np.where(exponent == 0, x, np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, shifted)))


def log_x_for_x_greater_than_or_equal_to_1(value: np.ndarray, input_integer_bits: int,
                                           output_integer_bits: int) -> np.ndarray:
    """log_x_for_x_greater_than_or_equal_to_1_impl (kernels/internal/common.h): log of a Q(input) value, as
    Q(output); a rational approximation around 2**k * sqrt(2)**(+-1/2), gemmlowp fixed point."""
    accum_bits = output_integer_bits + 1
    log_2, sqrt_sqrt_half, sqrt_half, one_quarter = 1488522236, 1805811301, 1518500250, 536870912
    alpha_n, alpha_d, alpha_i, alpha_f = 117049297, 127690142, 1057819769, 638450708
    shifted_quarter = rounding_divide_by_pot(one_quarter, accum_bits)  # Rescale<accum>(one_quarter)
    z_a = np.asarray(value, dtype=np.int64)
    z_a_headroom_plus_1 = count_leading_zeros_u32(z_a)
    r_a_tmp = _multiply_by_pot_param(z_a, z_a_headroom_plus_1 - 1)
    r_a_raw = _multiply_by_pot_param(_srdhm(r_a_tmp, sqrt_half), np.int64(1))
    z_a_pow_2_adj = _saturating_add(_multiply_by_pot_param(input_integer_bits - z_a_headroom_plus_1,
                                                           np.int64(31 - accum_bits)), shifted_quarter)
    z_b = _srdhm(z_a, sqrt_half)
    z_b_headroom = count_leading_zeros_u32(z_b) - 1
    r_b_raw = _multiply_by_pot_param(z_a, z_b_headroom)
    z_b_pow_2_adj = _saturating_add(_multiply_by_pot_param(input_integer_bits - z_b_headroom,
                                                           np.int64(31 - accum_bits)), -shifted_quarter)
    r = np.minimum(r_a_raw, r_b_raw)
    z_pow_2_adj = np.maximum(z_a_pow_2_adj, z_b_pow_2_adj)
    total = r + sqrt_sqrt_half  # gemmlowp RoundingHalfSum: (a + b + sign) / 2, truncating
    p = np.where(total >= 0, (total + 1) // 2, -((-(total - 1)) // 2))
    q = wrap_int32(r - sqrt_sqrt_half)
    q = wrap_int32(q + q)
    common_sq = _srdhm(q, q)
    num = wrap_int32(_srdhm(q, r) + _srdhm(_srdhm(q, common_sq), alpha_n))
    denom_minus_one = wrap_int32(_srdhm(p, wrap_int32(alpha_i + q + _srdhm(alpha_d, common_sq)))
                                 + _srdhm(alpha_f, q))
    recip_denom = one_over_one_plus_x_for_x_in_0_1(denom_minus_one)
    num_scaled = rounding_divide_by_pot(num, accum_bits)  # Rescale<accum>(num) from Q0
    result = wrap_int32(_srdhm(z_pow_2_adj, log_2) + _srdhm(num_scaled, recip_denom))
    return saturating_shift_left(result, accum_bits - output_integer_bits)  # Rescale<output> from Q(accum)


def log_softmax_spec(p: LogSoftmaxParams, x: np.ndarray) -> np.ndarray:
    """float32, or int8 (``reference_integer_ops::LogSoftmax``; uint8: the same rule moved by 128), per row of
    the last axis::

        d = q - max(row)                        (only d >= diff_min count in the sum)
        S = Σ RDBPOT(exp_on_negative_values(Q5.26: MBQM(d, M, left_shift)), 12)      (Q12.19, int32 wrap)
        L = log_x_for_x_greater_than_or_equal_to_1(S) as Q5.26
        lo = max(diff_min - 1, MBQM(L + INT32_MIN, Mrev, shift_rev))
        y = d > lo ? clamp(RDBPOT(MBQM(d, M, left_shift) - L, 22) + 127) : -128

    with ``M, left_shift`` from ``PreprocessLogSoftmaxScalingExp`` (beta 1) and the reverse scaling
    ``Mrev, shift_rev = QuantizeMultiplier(2**(31 - left_shift) / M)``.
    """
    if not p.quantized:
        return log_softmax_float(x)
    if x.size == 0:
        return x.copy()
    if x.dtype == np.uint8:
        # reference_ops::LogSoftmax (uint8): the same fixed-point rule on the differences, output zero point
        # 255 instead of 127 and the clamp [0, 255]: the int8 rule on q - 128, plus 128 (200 random cases
        # against LiteRT BUILTIN_REF)
        shifted = log_softmax_spec(p, (x.astype(np.int16) - 128).astype(np.int8))
        return (shifted.astype(np.int16) + 128).astype(np.uint8)
    q = x.astype(np.int64)
    diff = q - q.max(axis=-1, keepdims=True)
    diff_q5 = multiply_by_quantized_multiplier(diff, p.input_multiplier, p.input_left_shift)
    counted = diff >= p.diff_min
    exps = rounding_divide_by_pot(exp_on_negative_values(np.where(counted, diff_q5, 0),
                                                         LOG_SOFTMAX_INPUT_INTEGER_BITS),
                                  LOG_SOFTMAX_ACCUMULATION_INTEGER_BITS)
    sum_of_exps = wrap_int32(np.where(counted, exps, 0).sum(axis=-1, keepdims=True))
    log_sum = log_x_for_x_greater_than_or_equal_to_1(sum_of_exps, LOG_SOFTMAX_ACCUMULATION_INTEGER_BITS,
                                                    LOG_SOFTMAX_INPUT_INTEGER_BITS)
    reverse = multiply_by_quantized_multiplier(wrap_int32(log_sum + INT32_MIN), p.reverse_scaling_divisor,
                                               p.reverse_scaling_left_shift)
    adjusted_diff_min = np.maximum(p.diff_min - 1, reverse)
    shift = 31 - LOG_SOFTMAX_INPUT_INTEGER_BITS - LOG_SOFTMAX_OUTPUT_INTEGER_BITS
    y = np.clip(rounding_divide_by_pot(wrap_int32(diff_q5 - log_sum), shift) + 127, -128, 127)
    return np.where(diff > adjusted_diff_min, y, -128).astype(np.int8)



# ------------------------------------------------------------------------------------------------
# explain: one output element, step by step (``refinterp explain``; refinterp/ops/trace.py)


def explain_hard_swish(ctx: OpContext, p: HardSwishParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """HARD_SWISH output ``index``: the 8-bit 16-bit-fixed-point rule of ``hard_swish_spec``, one step each."""
    x = np.asarray(inputs[0])[index]
    if not p.quantized:
        x = trace.add("input", np.float32(x), f"input at {list(index)}")
        with np.errstate(all="ignore"):
            plus_three = trace.add("x + 3", np.float32(x + np.float32(3.0)), "float32")
            relu6 = plus_three if np.float32(0.0) < plus_three else np.float32(0.0)  # max(0, NaN) is 0
            relu6 = trace.add("min(6, max(0, x + 3))", relu6 if relu6 < np.float32(6.0) else np.float32(6.0),
                              "std::min(6, std::max(0, x + 3))")
            value = hard_swish_float(np.asarray([x], np.float32))[0]
        trace.add("output", value, f"x * {float(relu6)!r} / 6, in float32 (that order)")
        trace.approximates(float(x) * min(6.0, max(0.0, float(x) + 3.0)) / 6.0)
        return value
    q = int(x)
    input_scale, _ = per_tensor_qparams(ctx, ctx.require_input(0), "input")
    output_scale, _ = per_tensor_qparams(ctx, ctx.output(0), "output")
    trace.add("input", q, f"input at {list(index)}; real value {input_scale * (q - p.input_zero_point)!r}")
    v = trace.add("input minus zero point", int(_wrap_int16(q - p.input_zero_point)), f"{q} - {p.input_zero_point}")
    hires = trace.add("high-resolution input", int(_wrap_int16(v * 128)), f"{v} * 128 (int16): scale s_in / 128")
    trace.add("output multiplier (Q15) and exponent", [p.output_multiplier_fixedpoint_int16,
                                                       p.output_multiplier_exponent],
              "QuantizeMultiplier(f32(f32(s_in / 128) / s_out)) rounded to Q15 (DownScaleInt32ToInt16Multiplier)")
    pre = trace.add("pre-shift output scale", int(saturating_rounding_doubling_high_mul_int16(
        hires, p.output_multiplier_fixedpoint_int16)), f"SaturatingRoundingDoublingHighMul<int16>({hires}, "
        f"{p.output_multiplier_fixedpoint_int16})", rule="round to nearest, ties toward +infinity")
    trace.add("reluish multiplier (Q15) and exponent", [p.reluish_multiplier_fixedpoint_int16,
                                                        p.reluish_multiplier_exponent],
              "QuantizeMultiplier(f32(f32(s_in / 128) / f32(3 / 32768))) rounded to Q15: the input in units of 3")
    reluish = hires
    if p.reluish_multiplier_exponent > 0:
        reluish = trace.add("reluish: saturating left shift", int(_saturating_left_shift16(
            reluish, p.reluish_multiplier_exponent - 1)), f"{reluish} * 2^{p.reluish_multiplier_exponent - 1}, "
            "saturating to int16")
    reluish = trace.add("reluish: times the multiplier", int(saturating_rounding_doubling_high_mul_int16(
        reluish, p.reluish_multiplier_fixedpoint_int16)), f"SaturatingRoundingDoublingHighMul<int16>({reluish}, "
        f"{p.reluish_multiplier_fixedpoint_int16})", rule="round to nearest, ties toward +infinity")
    if p.reluish_multiplier_exponent > 0:
        reluish = trace.add("reluish: saturating doubling", int(_saturating_left_shift16(reluish, 1)),
                            f"{reluish} * 2, saturating")
    if p.reluish_multiplier_exponent < 0:
        reluish = trace.add("reluish: RoundingDivideByPOT", int(_rdbpot16(reluish, -p.reluish_multiplier_exponent)),
                            f"{reluish} / 2^{-p.reluish_multiplier_exponent}", rule="round to nearest, ties away "
                            "from zero")
    reluish = trace.add("reluish in [0, 1]", int(_wrap_int16((reluish + (1 << 15)) >> 1)),
                        f"({reluish} + 2^15) >> 1: relu6(x + 3) / 6 in Q0.15 = {((reluish + 32768) >> 1) / 32768!r}")
    product = trace.add("times the scaled input", int(_sdhm16(reluish, pre)), f"SaturatingDoublingHighMul({reluish}, "
                        f"{pre}): truncating", rule="truncate toward zero")
    shifted = int(_rdbpot16(product, -p.output_multiplier_exponent))
    trace.add("RoundingDivideByPOT", shifted, f"{product} / 2^{-p.output_multiplier_exponent}",
              rule="round to nearest, ties away from zero")
    total = trace.add("plus output zero point", int(_wrap_int16(shifted + p.output_zero_point)),
                      f"{shifted} + {p.output_zero_point} (int16)")
    qmin, qmax = DTYPE_RANGES[np.dtype(p.dtype)]
    value = int(trace.clamp(total, qmin, qmax, f"the {np.dtype(p.dtype)} range"))
    real_x = input_scale * (q - p.input_zero_point)
    trace.approximates(real_x * min(6.0, max(0.0, real_x + 3.0)) / 6.0, output_scale, p.output_zero_point,
                       (qmin, qmax))
    return value


def explain_unary(ctx: OpContext, p: UnaryParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """ABS, NEG, SQRT, RSQRT, EXP, LOG, SIN, COS, SQUARE, FLOOR, CEIL, ROUND, ELU output ``index``: the float32
    function, the raw integer rule, ABS's rescale, or the 8-bit table entry (LiteRT builds it at Prepare)."""
    x = np.asarray(inputs[0])[index]
    if p.kind == "float":
        trace.add("input", np.float32(x), f"input at {list(index)}")
        value = unary_float(p.op, np.asarray([x], np.float32))[0]
        trace.add("output", value, f"{p.op.lower()}(x) in float32 (the C library's function where there is one)")
        return value
    if p.kind == "int":
        trace.add("input", x.item(), f"input at {list(index)}")
        value = unary_spec(p, np.asarray([x]))[0]
        trace.add("output", value.item(), "-x, wrapping (the type's minimum stays)" if p.op == "NEG" else
                  "|x| (std::abs: the type's minimum stays)")
        return value.item()
    q = int(x)
    input_scale, _ = per_tensor_qparams(ctx, ctx.require_input(0), "input")
    output_scale, _ = per_tensor_qparams(ctx, ctx.output(0), "output")
    real_x = input_scale * (q - p.input_zero_point)
    trace.add("input", q, f"input at {list(index)}; real value {real_x!r}")
    if p.table is not None:
        value = int(lookup(p.table, np.asarray([x]))[0])
        trace.add("table entry", value, f"table[{q}], built at Prepare (LUTPopulate, float32): "
                  f"round({p.op.lower()}(f32(s_in * (q - zp_in))) / s_out) + zp_out, clamped"
                  + (" (SQRT truncates)" if p.op == "SQRT" else ""))
        functions = {"EXP": np.exp, "SQRT": np.sqrt, "LOG": np.log, "ELU": lambda v: np.expm1(v) if v < 0 else v}
        with np.errstate(all="ignore"):
            real = float(functions[p.op](np.float64(real_x))) if p.op in functions else float("nan")
        if np.isfinite(real):
            trace.approximates(real, output_scale, p.output_zero_point, (p.qmin, p.qmax))
        return value
    if p.op == "RSQRT":
        return _explain_rsqrt_int8(ctx, p, q, real_x, trace)
    if p.op != "ABS":
        raise trace.not_detailed(f"the {p.op} integer rule")
    v = trace.add("input minus zero point", q - p.input_zero_point, f"{q} - {p.input_zero_point}")
    v = trace.add("absolute value", abs(v), f"|{v}|")
    if p.needs_rescale:
        ratio = float(input_scale) / float(output_scale) if ctx.profile == "tflm" else \
            float(np.float32(input_scale) / np.float32(output_scale))
        multiplier, shift = trace.quantize_multiplier(ratio, "s_in / s_out" + (", in double (TFLM)" if ctx.profile ==
                                                      "tflm" else ", in float32 (LiteRT)"), (p.multiplier, p.shift))
        v = trace.mbqm(v, multiplier, shift)
    else:
        trace.add("no rescale", v, "input and output scales are equal")
    shifted = trace.add("plus output zero point", v + p.output_zero_point, f"{v} + {p.output_zero_point}")
    value = int(trace.clamp(shifted, p.qmin, p.qmax, f"the {p.dtype} range"))
    trace.approximates(abs(real_x), output_scale, p.output_zero_point, (p.qmin, p.qmax))
    return value


def explain_prelu(ctx: OpContext, p: PreluParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """PRELU output ``index``: x >= 0 ? x : alpha * x, alpha broadcast to the input (float32), or the two
    requantizations of the 8-bit / int16 rule (``prelu_spec``)."""
    x, alpha = np.asarray(inputs[0]), np.asarray(inputs[1])
    alpha_at = tuple(0 if d == 1 else int(i) for d, i in zip(alpha.shape, index[len(index) - alpha.ndim:]))
    xv, av = x[index], alpha[alpha_at]
    trace.add("input", xv.item(), f"input at {list(index)}")
    trace.add("alpha", av.item(), f"alpha at {list(alpha_at)} (broadcast to the input's shape)")
    if not p.quantized:
        with np.errstate(all="ignore"):
            value = xv if xv >= 0 else np.float32(xv * av)
        trace.add("output", value, "x >= 0: x" if xv >= 0 else "x < 0: x * alpha, float32")
        return np.float32(value)
    input_scale, _ = per_tensor_qparams(ctx, ctx.require_input(0), "input")
    alpha_scale, _ = per_tensor_qparams(ctx, ctx.require_input(1), "alpha")
    output_scale, _ = per_tensor_qparams(ctx, ctx.output(0), "output")
    d = trace.add("input minus zero point", int(xv) - p.input_zero_point, f"{int(xv)} - {p.input_zero_point}")
    s_in, s_alpha, s_out = np.float32(input_scale), np.float32(alpha_scale), np.float32(output_scale)
    tflm = ctx.profile == "tflm"
    if d >= 0:
        real = float(s_in) / float(s_out) if tflm else float(s_in / s_out)
        multiplier, shift = trace.quantize_multiplier(real, "s_in / s_out" + (" in double (TFLM)" if tflm else
                                                                              " in float32 (LiteRT)"),
                                                      (p.multiplier_1, p.shift_1))
        scaled = trace.mbqm(d, multiplier, shift)
        real_value = input_scale * d
    else:
        a = trace.add("alpha minus zero point", int(av) - p.alpha_zero_point, f"{int(av)} - {p.alpha_zero_point}")
        product = trace.add("product", d * a, f"{d} * {a}")
        real = (float(s_in) * float(s_alpha) / float(s_out)) if tflm else float(np.float32(s_in * s_alpha) / s_out)
        multiplier, shift = trace.quantize_multiplier(real, "s_in * s_alpha / s_out" + (
            " in double (TFLM)" if tflm else " in float32 (LiteRT)"), (p.multiplier_2, p.shift_2))
        scaled = trace.mbqm(product, multiplier, shift)
        real_value = input_scale * d * alpha_scale * a
    qmin, qmax = DTYPE_RANGES[np.dtype(p.dtype)]
    shifted = trace.add("plus output zero point", scaled + p.output_zero_point, f"{scaled} + {p.output_zero_point}")
    value = int(trace.clamp(shifted, qmin, qmax, f"the {np.dtype(p.dtype)} range"))
    trace.approximates(real_value, output_scale, p.output_zero_point, (qmin, qmax))
    return value


def _explain_rsqrt_int8(ctx: OpContext, p: UnaryParams, q: int, real_x: float, trace) -> int:
    """RSQRT int8 (``RsqrtEvalQuantizedInt8``, module docstring): 1/sqrt(v) as a multiplier and exponent
    (:func:`inv_sqrt_multiplier_exp`, Newton-Raphson in Q3.28), then two MultiplyByQuantizedMultiplier steps."""
    input_scale, _ = per_tensor_qparams(ctx, ctx.require_input(0), "input")
    output_scale, _ = per_tensor_qparams(ctx, ctx.output(0), "output")
    v = trace.add("input minus zero point", q - p.input_zero_point, f"{q} - {p.input_zero_point}")
    if v < 0:
        raise trace.not_detailed("an input below the zero point (the kernel fails at Eval)")
    if v == 0:
        scaled = trace.add("zero input", p.qmax - p.output_zero_point, f"v = 0: 1/sqrt(0) is infinite, the kernel "
                           f"outputs the maximum {p.qmax} (minus the output zero point here)")
    else:
        inv_multiplier, inv_shift = (int(a[0]) for a in inv_sqrt_multiplier_exp(np.asarray([v], np.int64), -1))
        trace.add("1/sqrt(v) as multiplier and shift", [inv_multiplier, inv_shift],
                  f"GetInvSqrtQuantizedMultiplierExp({v}, -1): {v} scaled by powers of 4 into [2^27, 2^29), five "
                  f"Newton-Raphson steps in Q3.28, times sqrt(2)/2: {inv_multiplier} * 2^({inv_shift} - 31) = "
                  f"{inv_multiplier * 2.0 ** (inv_shift - 31)!r} (1/sqrt({v}) = {1 / float(np.sqrt(float(v)))!r})")
        trace.add("fixed-point one", 1, f"data = MBQM(1, {inv_multiplier}, {inv_shift} + {RSQRT_SHIFT}): 1/sqrt(v) "
                  f"in units of 2^-{RSQRT_SHIFT}")
        data = trace.mbqm(1, inv_multiplier, inv_shift + RSQRT_SHIFT)
        formula = ("1 / (sqrt(f64(s_in)) * f64(s_out)), in double (TFLM)" if ctx.profile == "tflm" else
                   "1 / f64(f32(sqrtf(s_in) * s_out)) (LiteRT: sqrt and product in float32)")
        if ctx.profile == "tflm":
            product = float(np.sqrt(np.float64(input_scale))) * float(output_scale)
        else:
            product = float(np.float32(np.sqrt(np.float32(input_scale)) * np.float32(output_scale)))
        multiplier, shift = trace.quantize_multiplier(1.0 / product, formula, (p.multiplier, p.shift))
        trace.add("output rescale", [multiplier, shift - RSQRT_SHIFT], f"MBQM(data, M, shift - {RSQRT_SHIFT}): "
                  f"undoes the 2^{RSQRT_SHIFT} and applies 1 / (sqrt(s_in) * s_out)")
        scaled = trace.mbqm(data, multiplier, shift - RSQRT_SHIFT)
    shifted = trace.add("plus output zero point", scaled + p.output_zero_point, f"{scaled} + {p.output_zero_point}")
    value = int(trace.clamp(shifted, p.qmin, p.qmax, f"the {p.dtype} range"))
    if real_x > 0:
        trace.approximates(1.0 / float(np.sqrt(real_x)), output_scale, p.output_zero_point, (p.qmin, p.qmax))
    return value


def explain_l2_normalization(ctx: OpContext, p: L2NormParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """L2_NORMALIZATION output ``index`` (module docstring): the row's sum of squares, 1/sqrt of it as a multiplier
    and exponent (:func:`inv_sqrt_multiplier_exp`), the element times it; float32: sqrt and one division."""
    x = np.asarray(inputs[0])
    row = x.reshape(-1, x.shape[-1])[int(np.ravel_multi_index(index[:-1], x.shape[:-1])) if x.ndim > 1 else 0]
    position = int(index[-1])
    trace.add("row", row.tolist(), f"the last axis at {list(index[:-1])} ({row.size} values); this element is "
              f"position {position}")
    if p.dtype == np.float32:
        rows = row.astype(np.float32)
        squared = np.float32(0.0)
        with np.errstate(all="ignore"):
            for v in rows:
                squared = np.float32(squared + np.float32(v * v))
            trace.add("sum of squares", squared, "x * x added in order, float32", rule="round to nearest, ties to even")
            norm = np.float32(np.sqrt(squared))
            trace.add("norm", norm, "sqrtf(sum)")
            if norm < L2_NORM_EPSILON:
                norm = trace.add("norm at least epsilon", L2_NORM_EPSILON, "std::max(norm, 1e-6)")
            value = np.float32(rows[position] / norm)
        trace.add("output", value, f"{float(rows[position])!r} / {float(norm)!r}, float32")
        length = float(np.sqrt(np.sum(rows.astype(np.float64) ** 2)))
        trace.approximates(float(rows[position]) / max(length, 1e-6))
        return value
    d = row.astype(np.int64) - p.input_zero_point
    trace.add("row minus zero point", d.tolist(), f"q - {p.input_zero_point}")
    acc = trace.add("sum of squares", int(wrap_int32(int((d * d).sum()))), "(q - zp)^2 added in int32")
    multiplier, shift = (int(v[0]) for v in inv_sqrt_multiplier_exp(np.asarray([acc], np.int64), -1))
    trace.add("1/sqrt(sum) as multiplier and shift", [multiplier, shift],
              f"GetInvSqrtQuantizedMultiplierExp({acc}, -1): {multiplier} * 2^({shift} - 31) = "
              f"{multiplier * 2.0 ** (shift - 31)!r}" + (f" (1/sqrt({acc}) = {1 / float(np.sqrt(acc))!r})" if acc > 0
                                                          else ""))
    element = int(d[position])
    if p.dtype == np.int8:
        trace.add("element", element, f"the element minus the zero point; times 2^7 for the output scale 1/128: "
                  f"MBQM({element}, M, shift + 7)")
        scaled = trace.mbqm(element, multiplier, shift + 7)
        value = int(trace.clamp(scaled, -128, 127, "int8 (zero point 0)"))
        output_zero_point = 0
    else:
        trace.add("element times 128", 128 * element, f"128 * {element} (the output scale 1/128)")
        scaled = trace.mbqm(128 * element, multiplier, shift)
        shifted = trace.add("plus output zero point", 128 + scaled, f"128 + {scaled}")
        value = int(trace.clamp(shifted, 0, 255, "uint8"))
        output_zero_point = 128
    if acc > 0:
        trace.approximates(element / float(np.sqrt(float((d * d).sum()))), 1.0 / 128, output_zero_point,
                           (-128, 127) if p.dtype == np.int8 else (0, 255))
    return value


def explain_log_softmax(ctx: OpContext, p: LogSoftmaxParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """LOG_SOFTMAX output ``index`` (``log_softmax_spec``): the row's maximum, the Q5.26 difference, the sum of
    fixed-point exps, its fixed-point log, the output; float32: expf, the sum in order, logf."""
    x = np.asarray(inputs[0])
    position = int(index[-1])
    row = x[index[:-1]]
    trace.add("row", row.tolist(), f"the last axis at {list(index[:-1])} ({row.size} values); this element is "
              f"position {position}")
    if not p.quantized:
        rows = row.astype(np.float32)
        with np.errstate(all="ignore"):
            row_max = trace.add("row maximum", np.float32(rows.max()), "subtracted first")
            exps = libm("expf", rows - row_max)
            trace.add("exps", exps.tolist(), "expf(x - max), the C library's, float32")
            total = np.float32(0.0)
            for e in exps:
                total = np.float32(total + e)
            trace.add("sum of exps", total, "added in order, float32", rule="round to nearest, ties to even")
            log_sum = trace.add("log of the sum", np.float32(libm("logf", np.asarray([total], np.float32))[0]),
                                "logf(sum)")
            value = np.float32(np.float32(rows[position] - row_max) - log_sum)
        trace.add("output", value, f"({float(rows[position])!r} - {float(row_max)!r}) - {float(log_sum)!r}, float32")
        shifted64 = rows.astype(np.float64) - float(rows.max())
        trace.approximates(float(shifted64[position] - np.log(np.exp(shifted64).sum())))
        return value
    uint8 = x.dtype == np.uint8
    q = row.astype(np.int64) - (128 if uint8 else 0)
    if uint8:
        trace.add("minus 128", q.tolist(), "uint8: the int8 rule runs on q - 128 and adds 128 back")
    input_scale, _ = per_tensor_qparams(ctx, ctx.require_input(0), "input")
    row_max = trace.add("row maximum", int(q.max()), "the differences from it are <= 0")
    d = trace.add("difference", int(q[position]) - row_max, f"{int(q[position])} - {row_max}")
    trace.add("multiplier and shift", [p.input_multiplier, p.input_left_shift],
              f"QuantizeMultiplierGreaterThanOne(s_in * 2^26), s_in = {input_scale!r}: differences to Q5.26")
    diff_q5 = trace.mbqm(d, p.input_multiplier, p.input_left_shift)
    trace.add("difference in Q5.26", diff_q5, f"{diff_q5} / 2^26 = {diff_q5 / 2**26!r}")
    diffs = q - row_max
    counted = diffs >= p.diff_min
    diffs_q5 = multiply_by_quantized_multiplier(diffs, p.input_multiplier, p.input_left_shift)
    exps = rounding_divide_by_pot(exp_on_negative_values(np.where(counted, diffs_q5, 0),
                                                         LOG_SOFTMAX_INPUT_INTEGER_BITS),
                                  LOG_SOFTMAX_ACCUMULATION_INTEGER_BITS)
    total = int(wrap_int32(np.where(counted, exps, 0).sum()))
    trace.add("sum of exps", total, f"exp_on_negative_values of each difference >= diff_min ({p.diff_min}), Q0.31 "
              f"rounded to Q12.19 and added in int32: {total / 2**19!r}", rule="round to nearest, ties away from zero",
              items=[{"position": k, "counted": bool(c), "exp": int(e) if c else 0}
                     for k, (c, e) in enumerate(zip(counted, exps))])
    log_sum = int(log_x_for_x_greater_than_or_equal_to_1(np.asarray([total], np.int64),
                                                         LOG_SOFTMAX_ACCUMULATION_INTEGER_BITS,
                                                         LOG_SOFTMAX_INPUT_INTEGER_BITS)[0])
    trace.add("log of the sum", log_sum, f"log_x_for_x_greater_than_or_equal_to_1 (gemmlowp fixed point), Q5.26: "
              f"{log_sum / 2**26!r}")
    reverse = int(multiply_by_quantized_multiplier(np.int64(int(wrap_int32(log_sum + INT32_MIN))),
                                                   p.reverse_scaling_divisor, p.reverse_scaling_left_shift))
    adjusted = max(p.diff_min - 1, reverse)
    trace.add("smallest difference kept", adjusted, f"max(diff_min - 1, MBQM(log + INT32_MIN, "
              f"{p.reverse_scaling_divisor}, {p.reverse_scaling_left_shift})): below it the output is the minimum")
    if not d > adjusted:
        value = trace.add("below the range", -128, f"{d} <= {adjusted}: the output is -128")
    else:
        shift = 31 - LOG_SOFTMAX_INPUT_INTEGER_BITS - LOG_SOFTMAX_OUTPUT_INTEGER_BITS
        difference = trace.add("difference minus log", int(wrap_int32(diff_q5 - log_sum)), f"{diff_q5} - {log_sum} "
                               "(Q5.26)")
        scaled = int(rounding_divide_by_pot(np.int64(difference), shift))
        trace.add("RoundingDivideByPOT", scaled, f"{difference} / 2^{shift}: Q5.26 to the output's 16/256 units",
                  rule="round to nearest, ties away from zero")
        shifted = trace.add("plus output zero point", scaled + 127, f"{scaled} + 127")
        value = int(trace.clamp(shifted, -128, 127, "int8"))
    if uint8:
        value = trace.add("plus 128", value + 128, f"{value} + 128 (uint8)")
    logits = input_scale * diffs.astype(np.float64)
    zero_point = 255 if uint8 else 127
    trace.approximates(float(logits[position] - np.log(np.exp(logits).sum())), 16.0 / 256, zero_point,
                       (0, 255) if uint8 else (-128, 127))
    return value

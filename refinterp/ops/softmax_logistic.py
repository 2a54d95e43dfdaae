"""SOFTMAX (int8/uint8 -> same/int16, int16, float32), LOGISTIC and TANH (int8, uint8, int16, float32).

The int16 (int16x8) rules are in their own section below (interpolated tables).

SOFTMAX int8 (``reference_ops::Softmax``, LiteRT BUILTIN_REF and TFLM alike), per row of the last axis::

    Prepare: real = min(f64(beta) * f64(s_in) * 2**26, 2**31 - 1)            (PreprocessSoftmaxScaling)
             M, left_shift = QuantizeMultiplierGreaterThanOne(real)
             diff_min = -floor((2**5 - 1) * 2**26 / 2**left_shift)          (CalculateInputRadius(5, ...))
    Eval:    d = q - max(row); elements with d < diff_min output the type's minimum
             e = exp_on_negative_values(Q5.26: MBQM(d, M, left_shift))        (Q0.31)
             sum = Σ Rescale<12>(e) = Σ RDBPOT(e, 12)                          (Q12.19, int32 wrap)
             h = clz(sum); r = one_over_one_plus_x_for_x_in_0_1((sum << h) - 2**31); bits = 12 - h
             y = clamp(RDBPOT(SRDHM(r, e), bits + 31 - out_bits) + type_min)   (out_bits 8 or 16)

SOFTMAX uint8 (LiteRT only, ``reference_ops::Softmax<uint8_t, uint8_t|int16_t>``): the same rule with the output
type's minimum as offset (0 for uint8, -32768 for int16); LiteRT's Prepare checks neither the output scale nor
its zero point there.

Prepare checks: int8 output needs zp -128 and ``|s_out - 1/256| <= 0.001/256`` in LiteRT, exactly 1/256 in TFLM;
an int16 output needs zp -32768 and ``s_out`` near 1/65536 in TFLM (LiteRT checks nothing there).
``real`` must be > 1 (LiteRT aborts otherwise: ``beta * s_in < 2**-26``); refinterp refuses it. A row whose
exps sum to 512 or more gives an output shift above 31, which aborts both runtimes (TFLITE_CHECK); refinterp
raises an EvalError.

LOGISTIC int8 differs by design between the runtimes (they agree on almost every input):

* ``litert-ref``: a 256-entry table built at Prepare (``LUTPopulate<int8_t>``): for each q,
  ``x = f32(s_in * (q - zp_in))``, ``t = f32(1 / (1 + expf(-x)))``,
  ``entry = clamp(int(round_half_away(f32(t * f32(1 / s_out))) + zp_out))``; requires ``s_out == 1/256``.
* ``tflm``: ``reference_integer_ops::Logistic``: ``M = round(frexp(f64(s_in) * 2**27).q * 2**31)``,
  ``left_shift`` = the frexp exponent, ``radius = CalculateInputRadius(4, left_shift)``;
  ``d = q - zp_in``; ``d <= -radius`` gives -128, ``d >= radius`` 127; otherwise
  ``clamp(RDBPOT(gemmlowp::logistic(Q4.27: MBQM(d, M, left_shift)), 23) - 128)``; requires zp_out == -128.

LOGISTIC uint8 (LiteRT only): the same table, ``LUTPopulate<uint8_t>``, indexed by the input value; output scale
exactly 1/256.

TANH int8 and uint8:

* ``litert-ref``: a 256-entry table (``LUTPopulate``, TanhPrepare) of ``tanhf``: for each q,
  ``x = f32(s_in * (q - zp_in))``, ``entry = clamp(int(round_half_away(f32(tanhf(x) * f32(1 / s_out))) + zp_out))``.
  No constraint on the output scale or zero point.
* ``tflm`` (int8 only; ``reference_integer_ops::Tanh``): ``M = int32(round(frexp(f64(s_in) * 2**27).q * 2**31))``,
  ``left_shift`` = the frexp exponent, ``radius = CalculateInputRadius(4, left_shift)``; ``d = q - zp_in``;
  ``d <= -radius`` gives -128, ``d >= radius`` 127; otherwise
  ``clamp(RDBPOT(gemmlowp::tanh(Q4.27: MBQM(d, M, left_shift)), 24), -128, 127)`` (the output zero point is
  ignored: the kernel assumes 0 and scale 1/128).

float32 (``reference_ops::Softmax`` / ``Logistic`` / ``Tanh``), with ``expf`` and ``tanhf`` = the C library's
(called through ctypes here, one element at a time; NumPy's own float32 functions differ in the last bit):

* SOFTMAX: ``e = expf((x - max) * beta)`` in float32, ``sum`` added in order, ``y = e / sum``.
* LOGISTIC: ``x > 16.619047164916992 -> 1``, ``x < -9 -> expf(x)``, else ``1 / (1 + expf(-x))``.
* TANH: ``tanhf(x)``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from refinterp.errors import EvalError
from refinterp.ops.common import OpContext, checked_quantize_multiplier, per_tensor_qparams
from refinterp.quant import (
    INT32_MIN,
    cast_to_int32,
    lut_entries_int8,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    round_half_away,
    round_half_away_f32,
    rounding_divide_by_pot,
    rounding_divide_by_pot_int16,
    saturating_rounding_doubling_high_mul,
    saturating_rounding_doubling_high_mul_int16,
    wrap_int16,
    wrap_int32,
)

SCALED_DIFF_INTEGER_BITS = 5  # softmax: exp's input is Q5.26
ACCUMULATION_INTEGER_BITS = 12  # softmax: the sum of exps is Q12.19
LOGISTIC_INPUT_INTEGER_BITS = 4  # TFLM logistic: input Q4.27
INT8 = np.dtype(np.int8)


# ------------------------------------------------------------------------------------------------
# gemmlowp fixed point (fixedpoint/fixedpoint.h), vectorized over int64 arrays holding the raw values of
# FixedPoint<tRawType, I>: tRawType int32 (``raw_bits=32``, the default) or int16 (``raw_bits=16``: the integer
# LSTM's gates). A value is raw / 2**(raw_bits - 1 - I). Multiplication is SRDHM on the raw values (integer bits
# add up), + and - wrap to the raw type, and constants are the header's raw int32 literals, rounded to 16 bits
# for int16 (RescaleConstantInitializer: RDBPOT(c, 16)).


def _wrap(x: np.ndarray, raw_bits: int) -> np.ndarray:
    return wrap_int16(x) if raw_bits == 16 else wrap_int32(x)


def _srdhm(a: np.ndarray, b: np.ndarray | int, raw_bits: int = 32) -> np.ndarray:
    if raw_bits == 16:
        return saturating_rounding_doubling_high_mul_int16(a, b)
    return saturating_rounding_doubling_high_mul(a, b)


def _rdbpot(x: np.ndarray, exponent: int, raw_bits: int) -> np.ndarray:
    return rounding_divide_by_pot_int16(x, exponent) if raw_bits == 16 else rounding_divide_by_pot(x, exponent)


def _constant(value32: int, raw_bits: int) -> int:
    """A raw int32 constant of the header for the raw type (RescaleConstantInitializer)."""
    return int(wrap_int16(rounding_divide_by_pot(np.int64(value32), 16))) if raw_bits == 16 else value32


def _one(raw_bits: int) -> int:
    """One() of Q0: the raw type's maximum."""
    return (1 << (raw_bits - 1)) - 1


def _saturating_shift_left(x: np.ndarray, exponent: int, raw_bits: int = 32) -> np.ndarray:
    """SaturatingRoundingMultiplyByPOT<exponent > 0>: a left shift that saturates to the raw type's range."""
    threshold = (1 << (raw_bits - 1 - exponent)) - 1
    x = np.asarray(x, dtype=np.int64)
    one = _one(raw_bits)
    return np.where(x > threshold, one, np.where(x < -threshold, -one - 1, _wrap(x << exponent, raw_bits)))


def _rescale(x: np.ndarray, src_integer_bits: int, dst_integer_bits: int, raw_bits: int = 32) -> np.ndarray:
    """gemmlowp::Rescale: change the number of integer bits, saturating up or rounding (RDBPOT) down."""
    exponent = src_integer_bits - dst_integer_bits
    if exponent > 0:
        return _saturating_shift_left(x, exponent, raw_bits)
    if exponent < 0:
        return _rdbpot(x, -exponent, raw_bits)
    return np.asarray(x, dtype=np.int64)


def _exp_on_interval_between_negative_one_quarter_and_0_excl(a: np.ndarray, raw_bits: int) -> np.ndarray:
    """exp(a) for a in [-1/4, 0): Taylor series around -1/8. Q0 in and out."""
    constant_term = _constant(1895147668, raw_bits)  # exp(-1/8)
    constant_1_over_3 = _constant(715827883, raw_bits)
    x = _wrap(a + (1 << (raw_bits - 4)), raw_bits)  # a + 1/8 (ConstantPOT<-3>)
    x2 = _srdhm(x, x, raw_bits)
    x3 = _srdhm(x2, x, raw_bits)
    x4 = _srdhm(x2, x2, raw_bits)
    x4_over_4 = _rdbpot(x4, 2, raw_bits)
    x4_over_24_plus_x3_over_6_plus_x2_over_2 = _rdbpot(
        _wrap(_srdhm(_wrap(x4_over_4 + x3, raw_bits), constant_1_over_3, raw_bits) + x2, raw_bits), 1, raw_bits)
    total = constant_term + _srdhm(constant_term, _wrap(x + x4_over_24_plus_x3_over_6_plus_x2_over_2, raw_bits),
                                   raw_bits)
    # AddSaturatingIf16Bit: a saturating add for int16 raws, a wrapping one for int32
    return np.clip(total, -32768, 32767) if raw_bits == 16 else wrap_int32(total)


# exp(-2**k) in Q0.31, for k = -2 .. 4 (GEMMLOWP_EXP_BARREL_SHIFTER)
_EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535), (3, 720401),
               (4, 242))


def exp_on_negative_values(a: np.ndarray, integer_bits: int, raw_bits: int = 32) -> np.ndarray:
    """gemmlowp exp_on_negative_values: exp(a) for a <= 0 given as Q(integer_bits); the result is Q0."""
    fractional_bits = raw_bits - 1 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    a = np.asarray(a, dtype=np.int64)
    a_mod_quarter_minus_one_quarter = (a & (one_quarter - 1)) - one_quarter
    result = _exp_on_interval_between_negative_one_quarter_and_0_excl(
        _rescale(a_mod_quarter_minus_one_quarter, integer_bits, 0, raw_bits), raw_bits)
    remainder = _wrap(a_mod_quarter_minus_one_quarter - a, raw_bits)
    for exponent, multiplier in _EXP_BARREL:
        if integer_bits > exponent:
            bit = 1 << (fractional_bits + exponent)
            result = np.where(remainder & bit, _srdhm(result, _constant(multiplier, raw_bits), raw_bits), result)
    if integer_bits > 5:  # exp(x < -32) = 0
        result = np.where(a < _constant(-(1 << (36 - integer_bits)), raw_bits), 0, result)
    return np.where(a == 0, _one(raw_bits), result)


def _reciprocal_of_half_denominator(a: np.ndarray, raw_bits: int) -> np.ndarray:
    """gemmlowp's Newton-Raphson: 1 / d for d = RoundingHalfSum(a, One()) = (1 + a) / 2, Q0 in, Q2 out."""
    a = np.asarray(a, dtype=np.int64)
    total = a + _one(raw_bits)
    half_denominator = np.where(total >= 0, (total + 1) // 2, -((-(total - 1)) // 2))  # RoundingHalfSum
    # 48/17 - 32/17 * d, Q2
    x = _wrap(_constant(1515870810, raw_bits) + _srdhm(half_denominator, _constant(-1010580540, raw_bits), raw_bits),
              raw_bits)
    one_q2 = 1 << (raw_bits - 3)
    for _ in range(3):
        half_denominator_times_x = _srdhm(half_denominator, x, raw_bits)
        one_minus_half_denominator_times_x = _wrap(one_q2 - half_denominator_times_x, raw_bits)
        x = _wrap(x + _rescale(_srdhm(x, one_minus_half_denominator_times_x, raw_bits), 4, 2, raw_bits), raw_bits)
    return x


def one_over_one_plus_x_for_x_in_0_1(a: np.ndarray, raw_bits: int = 32) -> np.ndarray:
    """gemmlowp: 1 / (1 + a) for a in [0, 1), Q0 in and out; three Newton-Raphson steps in Q2."""
    # ExactMulByPot<-1> relabels the Q2 reciprocal 2/(1+a) as Q1, then Rescale<0>
    return _rescale(_reciprocal_of_half_denominator(a, raw_bits), 1, 0, raw_bits)


def one_minus_x_over_one_plus_x_for_x_in_0_1(a: np.ndarray, raw_bits: int = 32) -> np.ndarray:
    """gemmlowp: (1 - a) / (1 + a) for a in [0, 1), Q0 in and out: Rescale<0>(2/(1+a) - 1) from Q2."""
    one_q2 = 1 << (raw_bits - 3)
    return _rescale(_wrap(_reciprocal_of_half_denominator(a, raw_bits) - one_q2, raw_bits), 2, 0, raw_bits)


def tanh_fixed_point(a: np.ndarray, integer_bits: int, raw_bits: int = 32) -> np.ndarray:
    """gemmlowp::tanh: Q(integer_bits) in, Q0 out; -tanh(x) = (1 - exp(2x)) / (1 + exp(2x)) for x < 0."""
    a = np.asarray(a, dtype=np.int64)
    negative = a < 0
    abs_a = np.where(negative, _wrap(-a, raw_bits), a)
    # neg_tanh_on_negative_values(-|a|): ExactMulByPot<1> reads the same raw value with one more integer bit
    result = one_minus_x_over_one_plus_x_for_x_in_0_1(
        exp_on_negative_values(_wrap(-abs_a, raw_bits), integer_bits + 1, raw_bits), raw_bits)
    return np.where(a == 0, 0, np.where(negative, _wrap(-result, raw_bits), result))


def logistic_fixed_point(a: np.ndarray, integer_bits: int, raw_bits: int = 32) -> np.ndarray:
    """gemmlowp::logistic: 1 / (1 + exp(-a)), Q(integer_bits) in, Q0 out."""
    a = np.asarray(a, dtype=np.int64)
    positive = a > 0
    abs_input = np.where(positive, a, _wrap(-a, raw_bits))
    result_if_positive = one_over_one_plus_x_for_x_in_0_1(
        exp_on_negative_values(_wrap(-abs_input, raw_bits), integer_bits, raw_bits), raw_bits)
    result_if_negative = _wrap(_one(raw_bits) - result_if_positive, raw_bits)
    return np.where(a == 0, 1 << (raw_bits - 2), np.where(positive, result_if_positive, result_if_negative))


def calculate_input_radius(input_integer_bits: int, input_left_shift: int, total_signed_bits: int = 31) -> int:
    """CalculateInputRadius (quantization_util.cc), in double as there."""
    max_input_rescaled = (1.0 * ((1 << input_integer_bits) - 1) * float(1 << (total_signed_bits - input_integer_bits))
                          / float(1 << input_left_shift))
    return int(math.floor(max_input_rescaled))


# ------------------------------------------------------------------------------------------------
# expf, tanhf: the C library's (the fast kernels call the same functions through numba: math.exp / math.tanh
# on a float32)


@functools.cache
def _libm_function(name: str):
    """libm's ``float name(float)`` through ctypes."""
    library_name = ctypes.util.find_library("m")
    library = ctypes.CDLL(library_name) if library_name is not None else ctypes.CDLL(None)  # None: own symbols
    function = getattr(library, name)
    function.restype, function.argtypes = ctypes.c_float, [ctypes.c_float]
    return function


def _libm_elementwise(name: str, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    with np.errstate(all="ignore"):  # NaN in, NaN out: no warning
        return np.array(np.frompyfunc(_libm_function(name), 1, 1)(x), dtype=np.float32).reshape(x.shape)


def expf(x: np.ndarray) -> np.ndarray:
    """C ``expf`` elementwise on float32 (bit-exact with what the C++ kernels call)."""
    return _libm_elementwise("expf", x)


def tanhf(x: np.ndarray) -> np.ndarray:
    """C ``tanhf`` elementwise on float32 (``std::tanh(float)`` in the C++ kernels)."""
    return _libm_elementwise("tanhf", x)


def lut_populate(transform: Callable[[np.ndarray], np.ndarray], input_scale: float, input_zero_point: int,
                 output_scale: float, output_zero_point: int, dtype: np.dtype) -> np.ndarray:
    """LUTPopulate<int8_t / uint8_t> (lut.h) in float32: the entry for each value q of ``dtype``, at ``q & 0xFF``.

    ``v = round_half_away(f32(transform(f32(s_in * (q - zp_in))) * f32(1 / s_out))) + zp_out``, then the source's
    ``clamp(static_cast<int32_t>(v))``, whose out-of-range cast is undefined. What the x86-64 build does with it
    (measured on TANH with output scales down to 1e-45, ai-edge-litert 2.3.0; LOGISTIC's fixed output scale never
    reaches it):

    * uint8: the cast as written: a ``v`` outside int32 or NaN becomes INT32_MIN (``cast_to_int32``), clamped to
      0, so a large positive value gives 0 (not 255);
    * int8: the clamp done in float first: ``v`` saturates to [-128, 127]; a NaN (``0 * inf`` at tanh(0) with a
      subnormal output scale) casts to INT32_MIN, whose low byte is 0.
    """
    info = np.iinfo(dtype)
    values = np.arange(info.min, info.max + 1, dtype=np.int64)
    dequantized = np.float32(input_scale) * (values - input_zero_point).astype(np.float32)
    with np.errstate(all="ignore"):
        transformed = transform(dequantized).astype(np.float32)
        inverse_scale = np.float32(1.0) / np.float32(output_scale)
        rescaled = round_half_away_f32(transformed * inverse_scale)
        quantized = (rescaled + np.float32(output_zero_point)).astype(np.float32)
    if info.min == 0:  # uint8
        entries = np.clip(cast_to_int32(quantized), info.min, info.max)
    else:
        entries = lut_entries_int8(quantized)
    table = np.empty(256, dtype=dtype)
    table[values & 0xFF] = entries
    return table


# ------------------------------------------------------------------------------------------------
# int16 (int16x8: symmetric, zero point 0): LOGISTIC, TANH and SOFTMAX
#
# LOGISTIC and TANH int16 (``reference_integer_ops::Logistic`` / ``Tanh``, int16 overloads; the same kernels
# in LiteRT BUILTIN_REF and TFLM). Prepare (activations.cc SigmoidPrepare/TanhPrepare, TFLM
# logistic_common.cc / tanh.cc): zero points 0; ``pot, k = CheckedLog2(s_in)`` (float32 ``logf``, |fraction|
# < 1e-3); ``left_shift = 12 + k`` (LOGISTIC: 3 integer bits; TANH the same); the scale counts as a power of
# two only when left_shift is 0 (LOGISTIC) or 0 or 1 (TANH), and then ``multiplier = 0``. Otherwise, in
# double, ``m = s_in * 4096 * 3``, doubled (left_shift += 1) while ``m <= 32767 / 2`` and left_shift <= 30,
# ``multiplier = int(m)`` (truncated). The output scale must have ``CheckedLog2 == -15``; LiteRT's LOGISTIC
# also requires ``s_out == 1/32768`` exactly (TFLM does not). Eval, per element (int32 arithmetic, wrapping):
#
#     multiplier == 0:  multiplier = 3 << left_shift, left_shift = 0
#     x = (q * multiplier + round(left_shift)) >> left_shift        round(s) = 2**(s-1) if s > 0 else 0
#     a = |x| (uint32); T = sigmoid_table_uint16 (sigmoid(i/24) in 0.16, 256 entries)
#     LOGISTIC: uh = a >> 9; r = 0x7FFF << 10 if uh >= 255 else (T[uh] << 9) + (a & 0x1FF) * (T[uh+1] - T[uh])
#               y = (r + 512 if x >= 0 else 2**25 - r + 511) >> 10
#     TANH:     uh = a >> 8; r = 0xFFFF << 8 if uh >= 255 else (T[uh] << 8) + (a & 0xFF) * (T[uh+1] - T[uh])
#               y = (r - 2**23 + 128 if x >= 0 else -r + 2**23 + 127) >> 8   (arithmetic shift)
#
# SOFTMAX int16 -> int16 (``reference_ops::SoftmaxInt16``, softmax.h), per row of the last axis:
#
#     Prepare: M, shift = QuantizeMultiplier(s_in * beta / (10 / 65535))   (s_in * beta: a float32 product in
#              LiteRT, double in TFLM)
#              exp_lut = 513 entries of exp on [-10, 0], one_over_one_plus_x_lut of 1/(1+x) on [0, 1], outputs
#              on [-1, 1] (LUTPopulateInt16: 512 samples with a midpoint-error bias, plus the end point)
#     Eval:    e = LUTLookup(clamp(MBQM(q - max, M, shift) + 32767, int16), exp_lut)          (Q0.15)
#              sum = Σ e (int32); h = clz(uint32(sum))
#              s = ((int64(sum) << (h - 1)) + 2**13) >> 14;  r = LUTLookup(clamp(s - 98304, int16), 1/(1+x) lut)
#              y = clamp((e * r + 2**(30 - h)) >> (31 - h), 0, 32767)
#     LUTLookup(v, lut): i = 256 + (v >> 7), f = v & 0x7F, lut[i] + ((lut[i+1] - lut[i]) * f + 64) >> 7
#
# The tables differ by runtime: LiteRT builds them in double (``LUTPopulate<int16_t>(double ...)`` with
# input scale ``10/65535``, zero point 32767, output scale ``2/65535``: std::exp in double); TFLM in float
# (``gen_lut<float, int16_t, int16_t>(expf, -10, 0, -1, 1)``, and ``1/(1+x)`` in float on [0, 1]).
# Both Prepares require zero points 0 and ``|s_out - 1/32768| <= 0.001/32768`` (any rank: 5-D runs on LiteRT,
# measured with ai-edge-litert 2.3.0).

SIGMOID_TABLE_UINT16 = np.array([
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149, 40794, 41432, 42064, 42688,
    43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369, 47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409,
    51865, 52311, 52745, 53169, 53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433,
    57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370, 60565, 60753, 60935, 61110,
    61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302, 62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186,
    63279, 63368, 63454, 63536, 63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308,
    64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786, 64816, 64845, 64873, 64900,
    64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079, 65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208,
    65221, 65234, 65246, 65258, 65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367,
    65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433, 65438, 65442, 65445, 65449,
    65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474, 65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491,
    65493, 65495, 65497, 65498, 65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513,
    65514, 65515, 65516, 65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524,
    65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530,
    65530, 65530, 65531, 65531, 65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
    65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65535,
], dtype=np.int64)
INT16_INPUT_INTEGER_BITS = 3  # LOGISTIC/TANH int16: 15 - 3 = 12, the POT input scale is 2**-12
INT16_OUTPUT_FRACTIONAL_BITS = 15


def checked_log2(x: float) -> tuple[bool, int]:
    """CheckedLog2 (quantization_util.h), in float32 with C's ``logf``: (|log2(x) - round| < 1e-3, round)."""
    logf = _libm_function("logf")
    x_log2 = np.float32(logf(np.float32(x))) * (np.float32(1.0) / np.float32(logf(np.float32(2.0))))
    rounded = np.float32(round_half_away(float(x_log2))) if np.isfinite(x_log2) else x_log2
    if not np.isfinite(rounded):
        return False, 0
    return bool(abs(np.float32(x_log2 - rounded)) < np.float32(1e-3)), int(rounded)


def int16_sigmoid_input_rule(input_scale: float, pot_shifts: tuple[int, ...]) -> tuple[int, int]:
    """(input_multiplier, input_left_shift) of SigmoidPrepare / TanhPrepare for int16 (0 multiplier: the POT
    case, whose shift is one of ``pot_shifts``)."""
    pot, log2_rounded = checked_log2(input_scale)
    left_shift = (15 - INT16_INPUT_INTEGER_BITS) + log2_rounded
    if pot and left_shift in pot_shifts:
        return 0, left_shift
    multiplier = float(input_scale) * 4096.0 * 3.0
    left_shift = 0
    while multiplier <= 32767.0 / 2.0 and left_shift <= 30:
        left_shift += 1
        multiplier *= 2.0
    # static_cast<int32_t>: truncation (scales below 2**-44 never get here); beyond int32 (an input scale of
    # about 2**17 and up) x86 gives INT32_MIN (measured: LiteRT's outputs follow it)
    return int(cast_to_int32(np.float64(multiplier))), left_shift


def _int16_sigmoid_input(q: np.ndarray, multiplier: int, left_shift: int) -> np.ndarray:
    """``(q * multiplier + round) >> left_shift`` in int32 (wrapping), the POT case folded in as the kernels do."""
    if multiplier == 0:
        multiplier, left_shift = 3 << left_shift, 0
    rounding = (1 << (left_shift - 1)) if left_shift > 0 else 0
    return wrap_int32(q.astype(np.int64) * multiplier + rounding) >> left_shift


def logistic_int16(q: np.ndarray, multiplier: int, left_shift: int) -> np.ndarray:
    """reference_integer_ops::Logistic, int16 (see the section comment)."""
    x = _int16_sigmoid_input(q, multiplier, left_shift)
    a = np.abs(x)  # abs(INT32_MIN) read as uint32 is 2**31: the same in int64
    uh = a >> 9
    inside = uh < 255
    index = np.where(inside, uh, 0)
    low, high = SIGMOID_TABLE_UINT16[index], SIGMOID_TABLE_UINT16[index + 1]
    r = np.where(inside, (low << 9) + (a & 0x1FF) * (high - low), 0x7FFF << 10)
    r = np.where(x >= 0, r + (1 << 9), (1 << 25) - r + (1 << 9) - 1)
    return (r >> 10).astype(np.int16)


def tanh_int16(q: np.ndarray, multiplier: int, left_shift: int) -> np.ndarray:
    """reference_integer_ops::Tanh, int16 (see the section comment)."""
    x = _int16_sigmoid_input(q, multiplier, left_shift)
    a = np.abs(x)
    uh = a >> 8
    inside = uh < 255
    index = np.where(inside, uh, 0)
    low, high = SIGMOID_TABLE_UINT16[index], SIGMOID_TABLE_UINT16[index + 1]
    r = np.where(inside, (low << 8) + (a & 0xFF) * (high - low), 0xFFFF << 8)
    r = np.where(x >= 0, r - (1 << 23) + (1 << 7), -r + (1 << 23) + (1 << 7) - 1)
    return (r >> 8).astype(np.int16)


def prepare_int16_sigmoid_like(ctx: OpContext, exact_output_scale: bool,
                               pot_shifts: tuple[int, ...]) -> tuple[int, int]:
    """The int16 checks of SigmoidPrepare / TanhPrepare (LiteRT) and TFLM's CalculateArithmeticOpData."""
    x, y = ctx.require_input(0), ctx.output(0)
    input_scale, input_zero_point = per_tensor_qparams(ctx, x, "input")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    if exact_output_scale and float(np.float32(output_scale)) != 1.0 / 32768:
        raise ctx.fail(f"int16 output scale must be exactly 1/32768, got {output_scale!r}")
    if input_zero_point != 0 or output_zero_point != 0:
        raise ctx.fail(f"int16 zero points must be 0, got input {input_zero_point}, output {output_zero_point}")
    if not (np.isfinite(input_scale) and input_scale > 0):
        raise ctx.fail(f"int16 input scale must be positive and finite, got {input_scale!r}")
    pot, log2_rounded = checked_log2(output_scale)
    if not pot or log2_rounded != -INT16_OUTPUT_FRACTIONAL_BITS:
        raise ctx.fail(f"int16 output scale must be 2**-15, got {output_scale!r}")
    return int16_sigmoid_input_rule(input_scale, pot_shifts)


def _round_half_away_scalar(value: float) -> float:
    """TfLiteRound (std::round) of one float32 or double value, exactly."""
    truncated = math.trunc(value)
    if abs(value - truncated) >= 0.5:
        truncated += 1 if value > 0 else -1
    return float(truncated)


def lut_populate_int16(transform: Callable[[np.floating], np.floating], input_min: float, input_max: float,
                       output_min: float, output_max: float, float_type: type) -> np.ndarray:
    """LUTPopulateInt16<FloatT> / gen_lut<FloatT, int16_t, int16_t>: 513 int16 entries, every operation in
    ``float_type`` (np.float64 for LiteRT's softmax tables, np.float32 for TFLM's)."""
    ft = float_type
    input_min, input_max, output_min, output_max = ft(input_min), ft(input_max), ft(output_min), ft(output_max)
    steps = 512
    step = (input_max - input_min) / ft(steps)
    half_step = step / ft(2)
    scaling_inv = ft(65536) / (output_max - output_min)

    def rnd(v: np.floating) -> np.floating:
        return ft(_round_half_away_scalar(float(v)))

    lut = np.empty(steps + 1, dtype=np.int16)
    for i in range(steps):
        val = ft(transform(input_min + ft(i) * step))
        val_midpoint = ft(transform(input_min + ft(i) * step + half_step))
        val_next = ft(transform(input_min + ft(i + 1) * step))
        sample_val = rnd(val * scaling_inv)
        midpoint_interp_val = rnd((val_next * scaling_inv + rnd(val * scaling_inv)) / ft(2))
        midpoint_val = rnd(val_midpoint * scaling_inv)
        bias = rnd((midpoint_interp_val - midpoint_val) / ft(2))
        lut[i] = int(min(max(sample_val - bias, ft(-32768)), ft(32767)))
    lut[steps] = int(min(max(rnd(ft(transform(input_max)) * scaling_inv), ft(-32768)), ft(32767)))
    return lut


def lut_lookup_int16(value: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """LUTLookup(int16, lut[513]): linear interpolation on the top 9 bits, rounding the 7-bit fraction."""
    value = value.astype(np.int64)
    index = 256 + (value >> 7)
    offset = value & 0x7F
    table = lut.astype(np.int64)
    base = table[index]
    slope = wrap_int16(table[index + 1] - base)
    return wrap_int16(base + ((slope * offset + 64) >> 7))


def _expf_scalar(v: np.float32) -> np.float32:
    return np.float32(_libm_function("expf")(np.float32(v)))


def softmax_int16_tables(profile: str) -> tuple[np.ndarray, np.ndarray]:
    """(exp_lut, one_over_one_plus_x_lut) as each runtime builds them at Prepare."""
    return _softmax_int16_tables_cached(profile == "tflm")


@functools.cache
def _softmax_int16_tables_cached(tflm: bool) -> tuple[np.ndarray, np.ndarray]:
    if tflm:  # gen_lut<float, int16_t, int16_t>
        exp_lut = lut_populate_int16(_expf_scalar, -10.0, 0.0, -1.0, 1.0, np.float32)
        one_over = lut_populate_int16(lambda v: np.float32(1.0) / (np.float32(1.0) + np.float32(v)),
                                      0.0, 1.0, -1.0, 1.0, np.float32)
    else:  # LUTPopulate<int16_t>(double input_scale, zp, double output_scale, 0, double (*)(double))
        value_range = 65535
        exp_scale, one_scale, out_scale = 10.0 / value_range, 1.0 / value_range, 2.0 / value_range
        exp_lut = lut_populate_int16(lambda v: np.float64(math.exp(float(v))),
                                     exp_scale * (-32768 - 32767), exp_scale * (32767 - 32767),
                                     out_scale * -32768, out_scale * 32767, np.float64)
        one_over = lut_populate_int16(lambda v: np.float64(1.0 / (1.0 + float(v))),
                                      one_scale * (-32768 + 32768), one_scale * (32767 + 32768),
                                      out_scale * -32768, out_scale * 32767, np.float64)
    exp_lut.setflags(write=False)
    one_over.setflags(write=False)
    return exp_lut, one_over


def softmax_int16(q: np.ndarray, multiplier: int, shift: int, exp_lut: np.ndarray,
                  one_over_lut: np.ndarray) -> np.ndarray:
    """reference_ops::SoftmaxInt16 along the last axis (see the section comment)."""
    q = q.astype(np.int64)
    if q.size == 0:
        return q.astype(np.int16)
    diff = q - q.max(axis=-1, keepdims=True)
    scaled = multiply_by_quantized_multiplier(diff, multiplier, shift)
    exps = lut_lookup_int16(np.clip(scaled + 32767, -32768, 32767), exp_lut)
    sums = wrap_int32(exps.sum(axis=-1, keepdims=True))
    sums_u32 = sums & 0xFFFFFFFF
    bit_length = np.vectorize(lambda v: int(v).bit_length(), otypes=[np.int64])(sums_u32)
    headroom_plus_one = 32 - bit_length
    shifted = ((sums << (headroom_plus_one - 1)) + (1 << 13)) >> 14
    reciprocal = lut_lookup_int16(np.clip(shifted - ((1 << 15) + (1 << 16)), -32768, 32767), one_over_lut)
    right_shift = 31 - headroom_plus_one
    result = (exps * reciprocal + (np.int64(1) << (right_shift - 1))) >> right_shift
    return np.clip(result, 0, 32767).astype(np.int16)


# ------------------------------------------------------------------------------------------------
# SOFTMAX


@dataclass(frozen=True)
class SoftmaxParams:
    quantized: bool
    beta: np.float32
    input_multiplier: int = 0
    input_left_shift: int = 0
    diff_min: int = 0
    output_bits: int = 8
    output_min: int = -128
    output_max: int = 127
    output_dtype: np.dtype = np.dtype(np.int8)
    int16: bool = False  # int16 -> int16: reference_ops::SoftmaxInt16 with the two tables below
    exp_lut: np.ndarray | None = None
    one_over_one_plus_x_lut: np.ndarray | None = None


def prepare_softmax(ctx: OpContext) -> SoftmaxParams:
    ctx.check_inputs(1, 1)
    x, y = ctx.require_input(0), ctx.output(0)
    ctx.check_dtype(x, ("int8", "uint8", "int16", "float32"), "input")
    if len(ctx.shape(x)) < 1:
        raise ctx.fail("input must have at least one dimension")
    ctx.set_output_shape(0, ctx.shape(x))  # softmax.cc ResizeTensor: the input's shape
    beta = np.float32(ctx.options.get("beta", 1.0))
    if x.type_name == "float32":
        if y.type_name != "float32":
            raise ctx.fail(f"float32 input with {y.type_name} output")
        return SoftmaxParams(quantized=False, beta=beta)
    if x.type_name == "int16":
        return _prepare_softmax_int16(ctx, beta)
    tflm = ctx.profile == "tflm"
    if x.type_name == "uint8" and tflm:
        raise ctx.fail("uint8 input: TFLM's SOFTMAX has no uint8 kernel")
    if y.type_name not in (x.type_name, "int16"):
        raise ctx.fail(f"{x.type_name} input needs a {x.type_name} or int16 output, got {y.type_name}")
    input_scale, _ = per_tensor_qparams(ctx, x, "input")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    if y.type_name == "uint8":
        output_bits, output_min, output_max = 8, 0, 255  # no Prepare check on the uint8 output's parameters
    elif y.type_name == "int16" and x.type_name == "uint8":
        output_bits, output_min, output_max = 16, -32768, 32767
    elif y.type_name == "int8":
        if output_zero_point != -128:
            raise ctx.fail(f"int8 output zero point must be -128, got {output_zero_point}")
        target = np.float32(1.0 / 256)
        if tflm and np.float32(output_scale) != target:
            raise ctx.fail(f"int8 output scale must be exactly 1/256 (TFLM), got {output_scale!r}")
        # TF_LITE_ENSURE_NEAR in float32
        if not tflm and abs(np.float32(output_scale) - target) > np.float32(0.001) * target:
            raise ctx.fail(f"int8 output scale must be 1/256 (within 0.1%), got {output_scale!r}")
        output_bits, output_min, output_max = 8, -128, 127
    else:
        if tflm:
            target = np.float32(1.0 / 65536)
            if output_zero_point != -32768:
                raise ctx.fail(f"int16 output zero point must be -32768 (TFLM), got {output_zero_point}")
            if abs(np.float32(output_scale) - target) > np.float32(0.001) * target:
                raise ctx.fail(f"int16 output scale must be 1/65536 (TFLM), got {output_scale!r}")
        output_bits, output_min, output_max = 16, -32768, 32767
    # PreprocessSoftmaxScaling (double rounding build: cap at 2**31 - 1)
    real = min(float(beta) * float(input_scale) * float(1 << (31 - SCALED_DIFF_INTEGER_BITS)), float((1 << 31) - 1))
    if not real > 1.0:
        raise ctx.fail(f"beta * input scale = {float(beta) * input_scale:g} is below 2**-26 "
                       "(QuantizeMultiplierGreaterThanOne would abort in TFLite)")
    multiplier, left_shift = quantize_multiplier(real)
    diff_min = -calculate_input_radius(SCALED_DIFF_INTEGER_BITS, left_shift)
    return SoftmaxParams(True, beta, multiplier, left_shift, diff_min, output_bits, output_min, output_max,
                         np.dtype(y.type_name))


def _prepare_softmax_int16(ctx: OpContext, beta: np.float32) -> SoftmaxParams:
    x, y = ctx.require_input(0), ctx.output(0)
    if y.type_name != "int16":
        raise ctx.fail(f"int16 input needs an int16 output, got {y.type_name}")
    input_scale, input_zero_point = per_tensor_qparams(ctx, x, "input")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    if output_zero_point != 0:
        raise ctx.fail(f"int16 output zero point must be 0, got {output_zero_point}")
    target = np.float32(1.0 / 32768)
    if abs(np.float32(output_scale) - target) > np.float32(0.001) * target:  # TF_LITE_ENSURE_NEAR in float32
        raise ctx.fail(f"int16 output scale must be 1/32768 (within 0.1%), got {output_scale!r}")
    if input_zero_point != 0:
        raise ctx.fail(f"int16 input zero point must be 0, got {input_zero_point}")
    if ctx.profile == "tflm":  # static_cast<double>(scale) * static_cast<double>(beta)
        scale_times_beta = float(input_scale) * float(beta)
    else:  # LiteRT: input->params.scale * params->beta is a float32 product, then widened
        scale_times_beta = float(np.float32(input_scale) * np.float32(beta))
    multiplier, shift = checked_quantize_multiplier(ctx, scale_times_beta / (10.0 / 65535.0),
                                                    "input scale * beta / (10/65535)")
    exp_lut, one_over = softmax_int16_tables(ctx.profile)
    return SoftmaxParams(True, beta, multiplier, shift, output_bits=16, output_min=0, output_max=32767,
                         output_dtype=np.dtype(np.int16), int16=True, exp_lut=exp_lut, one_over_one_plus_x_lut=one_over)


def softmax_spec(p: SoftmaxParams, x: np.ndarray) -> np.ndarray:
    if x.size == 0:  # no rows, or rows of no element: the reference loops compute nothing
        return np.empty(x.shape, p.output_dtype if p.quantized else np.float32)
    if not p.quantized:
        return softmax_float(p, x)
    if p.int16:
        return softmax_int16(x, p.input_multiplier, p.input_left_shift, p.exp_lut, p.one_over_one_plus_x_lut)
    q = x.astype(np.int64)
    diff = q - q.max(axis=-1, keepdims=True)
    kept = diff >= p.diff_min
    # MultiplyByQuantizedMultiplierGreaterThanOne: the left shift cannot overflow for kept differences
    scaled_diff = multiply_by_quantized_multiplier(np.where(kept, diff, 0), p.input_multiplier, p.input_left_shift)
    exps = exp_on_negative_values(scaled_diff, SCALED_DIFF_INTEGER_BITS)
    rescaled = np.where(kept, _rescale(exps, 0, ACCUMULATION_INTEGER_BITS), 0)
    sum_of_exps = wrap_int32(rescaled.sum(axis=-1, keepdims=True))  # int32 adds, wrapping
    # GetReciprocal(sum, 12): normalize the sum to [1, 2) and take 1/x of the fraction
    sum_as_uint32 = sum_of_exps & 0xFFFFFFFF
    bit_length = np.vectorize(lambda v: int(v).bit_length(), otypes=[np.int64])(sum_as_uint32)
    headroom_plus_one = 32 - bit_length  # CountLeadingZeros(uint32(sum)); the sum is never 0 (max's exp is 1)
    shifted_sum_minus_one = wrap_int32(((sum_as_uint32 << headroom_plus_one) & 0xFFFFFFFF) - (1 << 31))
    shifted_scale = one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one)
    num_bits_over_unit = ACCUMULATION_INTEGER_BITS - headroom_plus_one
    exponent = num_bits_over_unit + 31 - p.output_bits
    if np.any(exponent > 31):
        # TFLITE_CHECK(0 <= exponent && exponent <= 31) aborts both runtimes: a row whose exps sum to 512 or
        # more (over 511 elements within a rounding of the maximum) has no int8 output shift.
        raise EvalError("SOFTMAX: a row's sum of exponentials reaches 512, beyond the int8 kernel's range "
                        "(TFLite aborts on this input)")
    unsat = rounding_divide_by_pot(_srdhm(shifted_scale, exps), exponent)
    y = np.clip(unsat + p.output_min, p.output_min, p.output_max)
    return np.where(kept, y, p.output_min).astype(p.output_dtype)


def softmax_float(p: SoftmaxParams, x: np.ndarray, exp: Callable[[np.ndarray], np.ndarray] = expf) -> np.ndarray:
    """float32 SOFTMAX; ``exp`` is C's expf, elementwise (the fast kernel passes numba's call of it)."""
    x = x.astype(np.float32)
    if x.size == 0:  # rows of no element (a last dimension of 0): the reference loops compute nothing
        return x.copy()
    row_max = x.max(axis=-1, keepdims=True)  # the reference starts from lowest(); the maximum is the same
    exps = exp((x - row_max) * p.beta)
    # float32 adds in order, from 0.0f: add.accumulate is sequential (unlike np.sum's pairwise sums)
    total = np.add.accumulate(exps, axis=-1, dtype=np.float32)[..., -1:]
    return (exps / total).astype(np.float32)


# ------------------------------------------------------------------------------------------------
# LOGISTIC

LOGISTIC_CUTOFF_UPPER = np.float32(16.619047164916992188)
LOGISTIC_CUTOFF_LOWER = np.float32(-9.0)


@dataclass(frozen=True)
class LogisticParams:
    quantized: bool
    table: np.ndarray | None = None  # litert-ref: int8/uint8 [256], indexed by the input byte (uint8 view)
    input_zero_point: int = 0
    input_multiplier: int = 0  # tflm fixed point
    input_left_shift: int = 0
    input_range_radius: int = 0
    int16: bool = False  # reference_integer_ops::Logistic int16 (input_multiplier/left_shift of that rule)


def _sigmoid_f32(x: np.ndarray) -> np.ndarray:
    """``1.0f / (1.0f + std::exp(-value))`` (the LUTPopulate lambda of SigmoidPrepare)."""
    return (np.float32(1.0) / (np.float32(1.0) + expf(-x))).astype(np.float32)


def logistic_table(input_scale: float, input_zero_point: int, output_scale: float, output_zero_point: int,
                   dtype: np.dtype = INT8) -> np.ndarray:
    """LUTPopulate<int8_t|uint8_t> with ``1.0f / (1.0f + std::exp(-x))``: entry [q & 0xFF] for each q."""
    return lut_populate(_sigmoid_f32, input_scale, input_zero_point, output_scale, output_zero_point, dtype)


def prepare_logistic(ctx: OpContext) -> LogisticParams:
    ctx.check_inputs(1, 1)
    x, y = ctx.require_input(0), ctx.output(0)
    ctx.check_dtype(x, ("int8", "uint8", "int16", "float32"), "input")
    ctx.check_same_type(x, y)
    if x.type_name == "float32":
        return LogisticParams(quantized=False)
    if x.type_name == "int16":
        # LiteRT's kReference SigmoidPrepare also requires s_out == 1/32768 exactly; TFLM only its log2
        multiplier, left_shift = prepare_int16_sigmoid_like(ctx, exact_output_scale=ctx.profile != "tflm",
                                                            pot_shifts=(0,))
        return LogisticParams(True, input_multiplier=multiplier, input_left_shift=left_shift, int16=True)
    if x.type_name == "uint8" and ctx.profile == "tflm":
        raise ctx.fail("uint8 input: TFLM's LOGISTIC has no uint8 kernel")
    input_scale, input_zero_point = per_tensor_qparams(ctx, x, "input")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    if ctx.profile == "tflm":
        if output_zero_point != -128:
            raise ctx.fail(f"int8 output zero point must be -128 (TFLM), got {output_zero_point}")
        real = float(input_scale) * float(1 << (31 - LOGISTIC_INPUT_INTEGER_BITS))
        q, left_shift = math.frexp(real)
        if left_shift < 0:  # CalculateInputRadius shifts 1 by it: undefined in C++
            raise ctx.fail(f"input scale {input_scale:g} is below 2**-28 (TFLM's fixed point is undefined there)")
        multiplier = round_half_away(q * (1 << 31))
        if multiplier == 1 << 31:  # static_cast<int32_t> of 2**31 on x86-64
            multiplier = INT32_MIN
        radius = calculate_input_radius(LOGISTIC_INPUT_INTEGER_BITS, left_shift)
        return LogisticParams(True, input_zero_point=input_zero_point, input_multiplier=multiplier,
                              input_left_shift=left_shift, input_range_radius=radius)
    if np.float32(output_scale) != np.float32(1.0 / 256):
        raise ctx.fail(f"{y.type_name} output scale must be exactly 1/256, got {output_scale!r}")
    return LogisticParams(True, table=logistic_table(input_scale, input_zero_point, output_scale, output_zero_point,
                                                     np.dtype(x.type_name)))


def logistic_float(x: np.ndarray, exp: Callable[[np.ndarray], np.ndarray] = expf) -> np.ndarray:
    """float32 LOGISTIC; ``exp`` is C's expf, elementwise (the fast kernel passes numba's call of it)."""
    x = x.astype(np.float32)
    with np.errstate(over="ignore"):
        middle = np.float32(1.0) / (np.float32(1.0) + exp(-x))
    out = np.where(x > LOGISTIC_CUTOFF_UPPER, np.float32(1.0), np.where(x < LOGISTIC_CUTOFF_LOWER, exp(x), middle))
    return out.astype(np.float32)


def logistic_spec(p: LogisticParams, x: np.ndarray) -> np.ndarray:
    if not p.quantized:
        return logistic_float(x)
    if p.int16:
        return logistic_int16(x, p.input_multiplier, p.input_left_shift)
    if p.table is not None:
        return p.table[x.view(np.uint8)]
    d = x.astype(np.int64) - p.input_zero_point
    inside = (d > -p.input_range_radius) & (d < p.input_range_radius)
    q4 = multiply_by_quantized_multiplier(np.where(inside, d, 0), p.input_multiplier, p.input_left_shift)
    q0 = logistic_fixed_point(q4, LOGISTIC_INPUT_INTEGER_BITS)
    y = np.clip(rounding_divide_by_pot(q0, 31 - 8) - 128, -128, 127)
    return np.where(d <= -p.input_range_radius, -128, np.where(d >= p.input_range_radius, 127, y)).astype(np.int8)


# ------------------------------------------------------------------------------------------------
# TANH

TANH_INPUT_INTEGER_BITS = 4  # TFLM int8 tanh: input Q4.27
TANH_OUTPUT_SCALE_BITS = 7  # TFLM int8 tanh: the output is Q0.7 (scale 1/128, zero point 0)


@dataclass(frozen=True)
class TanhParams:
    quantized: bool
    table: np.ndarray | None = None  # litert-ref: int8/uint8 [256], indexed by the input byte (uint8 view)
    input_zero_point: int = 0
    input_multiplier: int = 0  # tflm fixed point
    input_left_shift: int = 0
    input_range_radius: int = 0
    int16: bool = False  # reference_integer_ops::Tanh int16 (input_multiplier/left_shift of that rule)


def tanh_table(input_scale: float, input_zero_point: int, output_scale: float, output_zero_point: int,
               dtype: np.dtype) -> np.ndarray:
    """LUTPopulate<int8_t|uint8_t> with ``std::tanh(value)`` (tanhf): entry [q & 0xFF] for each q."""
    return lut_populate(tanhf, input_scale, input_zero_point, output_scale, output_zero_point, dtype)


def prepare_tanh(ctx: OpContext) -> TanhParams:
    ctx.check_inputs(1, 1)
    x, y = ctx.require_input(0), ctx.output(0)
    ctx.check_dtype(x, ("int8", "uint8", "int16", "float32"), "input")
    ctx.check_same_type(x, y)
    if x.type_name == "float32":
        return TanhParams(quantized=False)
    if x.type_name == "int16":
        multiplier, left_shift = prepare_int16_sigmoid_like(ctx, exact_output_scale=False, pot_shifts=(0, 1))
        return TanhParams(True, input_multiplier=multiplier, input_left_shift=left_shift, int16=True)
    input_scale, input_zero_point = per_tensor_qparams(ctx, x, "input")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    if ctx.profile == "tflm":
        if x.type_name == "uint8":
            raise ctx.fail("uint8 input: TFLM's TANH has no uint8 kernel")
        real = float(input_scale) * float(1 << (31 - TANH_INPUT_INTEGER_BITS))
        q, left_shift = math.frexp(real)
        if left_shift < 0:  # CalculateInputRadius shifts 1 by it: undefined in C++
            raise ctx.fail(f"input scale {input_scale:g} is below 2**-28 (TFLM's fixed point is undefined there)")
        multiplier = round_half_away(q * (1 << 31))
        if multiplier == 1 << 31:  # static_cast<int32_t> of 2**31 on x86-64
            multiplier = INT32_MIN
        radius = calculate_input_radius(TANH_INPUT_INTEGER_BITS, left_shift)
        return TanhParams(True, input_zero_point=input_zero_point, input_multiplier=multiplier,
                          input_left_shift=left_shift, input_range_radius=radius)
    return TanhParams(True, table=tanh_table(input_scale, input_zero_point, output_scale, output_zero_point,
                                             np.dtype(x.type_name)))


def tanh_float(x: np.ndarray, tanh: Callable[[np.ndarray], np.ndarray] = tanhf) -> np.ndarray:
    """float32 TANH (``reference_ops::Tanh``): ``std::tanh`` of each float, i.e. C's tanhf."""
    return tanh(np.asarray(x, dtype=np.float32)).astype(np.float32)


def tanh_spec(p: TanhParams, x: np.ndarray) -> np.ndarray:
    if not p.quantized:
        return tanh_float(x)
    if p.int16:
        return tanh_int16(x, p.input_multiplier, p.input_left_shift)
    if p.table is not None:
        return p.table[x.view(np.uint8)]
    d = x.astype(np.int64) - p.input_zero_point
    inside = (d > -p.input_range_radius) & (d < p.input_range_radius)
    q4 = multiply_by_quantized_multiplier(np.where(inside, d, 0), p.input_multiplier, p.input_left_shift)
    q0 = tanh_fixed_point(q4, TANH_INPUT_INTEGER_BITS)
    y = np.clip(rounding_divide_by_pot(q0, 31 - TANH_OUTPUT_SCALE_BITS), -128, 127)
    return np.where(d <= -p.input_range_radius, -128, np.where(d >= p.input_range_radius, 127, y)).astype(np.int8)


# ------------------------------------------------------------------------------------------------
# explain: one output element, step by step (``refinterp explain``; refinterp/ops/trace.py)


def _explain_lut_entry(ctx: OpContext, trace, q: int, transform: Callable[[np.ndarray], np.ndarray], what: str,
                       table: np.ndarray, dtype: np.dtype) -> int:
    """The table entry of an 8-bit LUTPopulate (module docstring), computed for one input value as Prepare does."""
    input_scale, input_zero_point = per_tensor_qparams(ctx, ctx.require_input(0), "input")
    output_scale, output_zero_point = per_tensor_qparams(ctx, ctx.output(0), "output")
    trace.add("input", q, f"the stored input value; the kernel reads table[{q & 0xFF}], built at Prepare as "
              "below (LUTPopulate, float32)")
    x = trace.add("dequantized", float(np.float32(input_scale) * np.float32(q - input_zero_point)),
                  f"f32(s_in * (q - zp_in)) = f32({input_scale!r} * {q - input_zero_point})")
    with np.errstate(all="ignore"):
        y = float(np.asarray(transform(np.asarray([x], np.float32)), np.float32)[0])
        trace.add(what, y, f"{what} of {x!r}, in float32 (the C library's expf / tanhf)")
        rescaled = float(np.float32(np.float32(y) * (np.float32(1.0) / np.float32(output_scale))))
        trace.add("divided by the output scale", rescaled, f"f32({y!r} * f32(1 / {output_scale!r}))")
        rounded = float(round_half_away_f32(np.float32(rescaled)))
        trace.add("rounded", rounded, f"round({rescaled!r})", rule="round to nearest, ties away from zero")
        shifted = trace.add("plus output zero point", float(np.float32(rounded + np.float32(output_zero_point))),
                            f"{rounded!r} + {output_zero_point}")
    info = np.iinfo(dtype)
    value = int(trace.clamp(int(np.nan_to_num(shifted, nan=info.min, posinf=info.max, neginf=info.min)),
                            info.min, info.max, f"the {dtype} range"))
    entry = int(table[q & 0xFF])
    if entry != value:  # the steps above are LUTPopulate's own: this cannot differ
        raise AssertionError(f"table entry {entry} != traced {value}")
    return value


def _explain_fixed_point_sigmoid(ctx: OpContext, trace, q: int, p, fixed_point: Callable, what: str,
                                 output_bits: int, offset: int) -> int:
    """TFLM's int8 LOGISTIC / TANH (module docstring): Q4.27 input, gemmlowp's fixed-point function, Q0.31 out."""
    d = trace.add("input minus zero point", q - p.input_zero_point, f"{q} - {p.input_zero_point}")
    trace.add("input radius", p.input_range_radius, "CalculateInputRadius(4, left_shift): beyond it the output "
              "saturates")
    if d <= -p.input_range_radius:
        return int(trace.add("saturated", -128, f"{d} <= -radius: the output is -128"))
    if d >= p.input_range_radius:
        return int(trace.add("saturated", 127, f"{d} >= radius: the output is 127"))
    trace.add("multiplier and shift", [p.input_multiplier, p.input_left_shift],
              "round(frexp(f64(s_in) * 2^27).fraction * 2^31) and the frexp exponent: d to Q4.27")
    q4 = trace.mbqm(d, p.input_multiplier, p.input_left_shift)
    trace.add("input in Q4.27", q4, f"{q4} / 2^27 = {q4 / 2**27!r}")
    q0 = int(fixed_point(np.int64(q4), 4))
    trace.add(f"gemmlowp {what}", q0, f"Q0.31: {q0} / 2^31 = {q0 / 2**31!r} (gemmlowp fixed point: "
              "exp_on_negative_values and Newton-Raphson division)")
    shifted = int(rounding_divide_by_pot(np.int64(q0), 31 - output_bits))
    trace.add("RoundingDivideByPOT", shifted, f"{q0} / 2^{31 - output_bits} = {q0 / 2 ** (31 - output_bits):.6f}",
              rule="round to nearest, ties away from zero")
    if offset:
        shifted = trace.add("plus output offset", shifted + offset, f"{shifted} + {offset}")
    return int(trace.clamp(shifted, -128, 127, "int8"))


def explain_logistic(ctx: OpContext, p: LogisticParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """LOGISTIC output ``index``: the litert-ref table entry or TFLM's fixed point (8-bit), float32."""
    x = np.asarray(inputs[0])[index]
    if not p.quantized:
        trace.add("input", float(x), f"input at {list(index)}")
        value = logistic_float(np.asarray([x]))[0]
        rule = ("x > 16.619...: 1" if x > LOGISTIC_CUTOFF_UPPER else "x < -9: expf(x)" if x < LOGISTIC_CUTOFF_LOWER
                else "1 / (1 + expf(-x)) in float32")
        trace.add("output", float(value), rule)
        trace.approximates(1.0 / (1.0 + math.exp(-float(x))) if float(x) > -700 else 0.0)
        return value
    if p.int16:
        return _explain_int16_sigmoid_like(ctx, trace, int(x), p, "LOGISTIC")
    q = int(x)
    if p.table is not None:
        value = _explain_lut_entry(ctx, trace, q, _sigmoid_f32, "sigmoid", p.table, x.dtype)
    else:
        value = _explain_fixed_point_sigmoid(ctx, trace, q, p, logistic_fixed_point, "logistic", 8, -128)
    input_scale, input_zero_point = per_tensor_qparams(ctx, ctx.require_input(0), "input")
    output_scale, output_zero_point = per_tensor_qparams(ctx, ctx.output(0), "output")
    real_x = input_scale * (q - input_zero_point)
    info = np.iinfo(x.dtype)
    trace.approximates(1.0 / (1.0 + math.exp(-real_x)) if real_x > -700 else 0.0, output_scale,
                       output_zero_point if p.table is not None else -128, (info.min, info.max))
    return value


def explain_tanh(ctx: OpContext, p: TanhParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """TANH output ``index``: the litert-ref table entry or TFLM's fixed point (8-bit), float32."""
    x = np.asarray(inputs[0])[index]
    if not p.quantized:
        trace.add("input", float(x), f"input at {list(index)}")
        value = tanh_float(np.asarray([x]))[0]
        trace.add("output", float(value), "tanhf(x), the C library's, in float32")
        trace.approximates(math.tanh(float(x)))
        return value
    if p.int16:
        return _explain_int16_sigmoid_like(ctx, trace, int(x), p, "TANH")
    q = int(x)
    if p.table is not None:
        value = _explain_lut_entry(ctx, trace, q, tanhf, "tanh", p.table, x.dtype)
        output_scale, output_zero_point = per_tensor_qparams(ctx, ctx.output(0), "output")
    else:
        value = _explain_fixed_point_sigmoid(ctx, trace, q, p, tanh_fixed_point, "tanh", TANH_OUTPUT_SCALE_BITS, 0)
        output_scale, output_zero_point = 1.0 / 128, 0  # the kernel assumes Q0.7
    input_scale, input_zero_point = per_tensor_qparams(ctx, ctx.require_input(0), "input")
    info = np.iinfo(x.dtype)
    trace.approximates(math.tanh(input_scale * (q - input_zero_point)), output_scale, output_zero_point,
                       (info.min, info.max))
    return value


TIES_EVEN_RULE = "round to nearest, ties to even"


def explain_softmax(ctx: OpContext, p: SoftmaxParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """SOFTMAX output ``index``, 8-bit input (module docstring): its row's maximum, its scaled difference, the
    fixed-point exp, the row's sum of exps, the reciprocal, the output."""
    if p.int16:
        return _explain_softmax_int16(ctx, p, inputs, index, trace)
    x = np.asarray(inputs[0])
    position = int(index[-1])
    if not p.quantized:
        row32 = x[index[:-1]].astype(np.float32)
        trace.add("row", row32.tolist(), f"the last axis at {list(index[:-1])} ({row32.size} values); this element "
                  f"is position {position}")
        row_max = trace.add("row maximum", np.float32(row32.max()), "subtracted first, so that no exp overflows")
        exps = expf((row32 - row_max) * p.beta)
        trace.add("exps", exps.tolist(), f"expf((x - max) * beta), beta = {float(p.beta)!r}, float32 (the C "
                  "library's expf)")
        total = np.float32(0.0)
        for e in exps:
            total = np.float32(total + e)
        trace.add("sum of exps", total, "added one by one in float32, in order", rule=TIES_EVEN_RULE)
        value = np.float32(exps[position] / total)
        trace.add("output", value, f"{float(exps[position])!r} / {float(total)!r}, float32")
        logits = float(p.beta) * (row32.astype(np.float64) - float(row_max))
        trace.approximates(float(np.exp(logits)[position] / np.exp(logits).sum()))
        return value
    row = x[index[:-1]].astype(np.int64)
    input_scale, _ = per_tensor_qparams(ctx, ctx.require_input(0), "input")
    output_scale, output_zero_point = per_tensor_qparams(ctx, ctx.output(0), "output")
    trace.add("row", row.tolist(), f"the last axis at {list(index[:-1])} ({row.size} values); this element is "
              f"position {position}")
    row_max = trace.add("row maximum", int(row.max()), "softmax is computed on differences from it")
    d = trace.add("difference", int(row[position]) - row_max, f"{int(row[position])} - {row_max}")
    trace.add("multiplier and shift", [p.input_multiplier, p.input_left_shift],
              f"QuantizeMultiplierGreaterThanOne(beta * s_in * 2^26), beta = {float(p.beta)!r}, s_in = "
              f"{input_scale!r}: differences to Q5.26")
    trace.add("diff_min", p.diff_min, "CalculateInputRadius(5, shift): smaller differences give exp 0")
    kept = row - row_max >= p.diff_min
    scaled = multiply_by_quantized_multiplier(np.where(kept, row - row_max, 0), p.input_multiplier,
                                              p.input_left_shift)
    exps = exp_on_negative_values(scaled, SCALED_DIFF_INTEGER_BITS)
    rescaled = np.where(kept, _rescale(exps, 0, ACCUMULATION_INTEGER_BITS), 0)
    if not kept[position]:
        trace.add("below diff_min", p.output_min, f"{d} < {p.diff_min}: the output is the type's minimum")
        value = p.output_min
    else:
        trace.mbqm(d, p.input_multiplier, p.input_left_shift)
        trace.add("difference in Q5.26", int(scaled[position]), f"{int(scaled[position])} / 2^26 = "
                  f"{int(scaled[position]) / 2**26!r} (= beta * s_in * difference)")
        e = trace.add("exp", int(exps[position]), f"exp_on_negative_values, Q0.31: {int(exps[position]) / 2**31!r} "
                      "(gemmlowp fixed point)")
        total = int(wrap_int32(rescaled.sum()))
        trace.add("sum of exps", total, f"each row element's exp (Q0.31) rounded to Q12.19 (RoundingDivideByPOT by "
                  f"2^12) and added: {total / 2**19!r}", rule="round to nearest, ties away from zero")
        headroom = 32 - (total & 0xFFFFFFFF).bit_length()
        shifted_sum = int(wrap_int32(((total << headroom) & 0xFFFFFFFF) - (1 << 31)))
        trace.add("normalized sum minus one", shifted_sum, f"the sum shifted left by its {headroom} leading zeros "
                  f"into [1, 2), minus 1: {shifted_sum / 2**31!r}")
        reciprocal = int(one_over_one_plus_x_for_x_in_0_1(np.int64(shifted_sum)))
        trace.add("reciprocal", reciprocal, f"1 / (1 + {shifted_sum / 2**31!r}) in Q0.31 (Newton-Raphson): "
                  f"{reciprocal / 2**31!r}")
        product = int(_srdhm(np.int64(reciprocal), np.int64(e)))
        trace.add("SaturatingRoundingDoublingHighMul", product, f"{reciprocal} * {e} / 2^31", rule="round to "
                  "nearest, ties toward +infinity")
        exponent = ACCUMULATION_INTEGER_BITS - headroom + 31 - p.output_bits
        unsat = int(rounding_divide_by_pot(np.int64(product), exponent))
        trace.add("RoundingDivideByPOT", unsat, f"{product} / 2^{exponent} = {product / 2**exponent:.6f}",
                  rule="round to nearest, ties away from zero")
        shifted = trace.add("plus output offset", unsat + p.output_min, f"{unsat} + {p.output_min} (the output "
                            "type's minimum: the output zero point the kernel assumes)")
        value = int(trace.clamp(shifted, p.output_min, p.output_max, f"the {p.output_dtype} range"))
    logits = float(p.beta) * input_scale * (row - row_max).astype(np.float64)
    probabilities = np.exp(logits) / np.exp(logits).sum()
    trace.approximates(float(probabilities[position]), output_scale, output_zero_point,
                       (p.output_min, p.output_max))
    return value


def _explain_int16_sigmoid_like(ctx: OpContext, trace, q: int, p, op: str) -> int:
    """int16 LOGISTIC / TANH (``reference_integer_ops::Logistic`` / ``Tanh`` int16, the section comment above
    :data:`SIGMOID_TABLE_UINT16`): the input rescaled to Q3.12-ish by the prepared multiplier, then linear
    interpolation in the 256-entry uint16 sigmoid table."""
    input_scale, _ = per_tensor_qparams(ctx, ctx.require_input(0), "input")
    trace.add("input", q, f"the stored int16 value; real value {input_scale * q!r} (zero point 0)")
    multiplier, left_shift = p.input_multiplier, p.input_left_shift
    if multiplier == 0:
        trace.add("power-of-two input scale", left_shift, f"s_in is 2^{left_shift - 12} (CheckedLog2): the multiplier "
                  f"is 3 << {left_shift}, no shift (the kernel's fold)")
        multiplier, left_shift = 3 << left_shift, 0
    else:
        trace.add("input multiplier and shift", [multiplier, left_shift], f"int32(s_in * 4096 * 3 * 2^{left_shift}) "
                  "(truncated; the shift doubles it while it is <= 32767 / 2): x = q * M >> shift is the input in "
                  "units of 1/(4096 * 3)", rule="truncate toward zero")
    rounding = (1 << (left_shift - 1)) if left_shift > 0 else 0
    x = int(_int16_sigmoid_input(np.asarray([q], np.int64), p.input_multiplier, p.input_left_shift)[0])
    trace.add("scaled input", x, f"({q} * {multiplier} + {rounding}) >> {left_shift} (int32)"
              + (" (wraps)" if int(wrap_int32(q * multiplier + rounding)) != q * multiplier + rounding else ""),
              rule="round to nearest, ties toward +infinity" if left_shift else "")
    a = abs(x)
    logistic = op == "LOGISTIC"
    bits = 9 if logistic else 8
    uh = a >> bits
    if uh >= 255:
        r = (0x7FFF << 10) if logistic else (0xFFFF << 8)
        trace.add("table position", uh, f"|x| >> {bits} = {uh} >= 255: past the table, the saturated value {r}")
    else:
        low, high = int(SIGMOID_TABLE_UINT16[uh]), int(SIGMOID_TABLE_UINT16[uh + 1])
        fraction = a & ((1 << bits) - 1)
        trace.add("table position", [uh, fraction], f"|x| = {a}: entry {uh} (|x| >> {bits}), fraction {fraction} / "
                  f"2^{bits}")
        trace.add("table entries", [low, high], f"sigmoid({uh}/24) and sigmoid({uh + 1}/24) in 0.16 "
                  "(sigmoid_table_uint16)")
        r = (low << bits) + fraction * (high - low)
        trace.add("interpolated", r, f"({low} << {bits}) + {fraction} * ({high} - {low})")
    if logistic:
        if x >= 0:
            total, said = r + (1 << 9), f"{r} + 2^9"
        else:
            total, said = (1 << 25) - r + (1 << 9) - 1, f"2^25 - {r} + 2^9 - 1 (x < 0: sigmoid(-x) = 1 - sigmoid(x))"
        value = total >> 10
        trace.add("output", value, f"({said}) >> 10: Q0.15", rule="round to nearest, ties toward +infinity"
                  if x >= 0 else "")
        real = 1.0 / (1.0 + math.exp(-input_scale * q)) if input_scale * q > -700 else 0.0
    else:
        if x >= 0:
            total, said = r - (1 << 23) + (1 << 7), f"{r} - 2^23 + 2^7 (tanh = 2 sigmoid(2x) - 1)"
        else:
            total, said = -r + (1 << 23) + (1 << 7) - 1, f"-{r} + 2^23 + 2^7 - 1 (x < 0: tanh(-x) = -tanh(x))"
        value = total >> 8
        trace.add("output", value, f"({said}) >> 8 (arithmetic shift): Q0.15")
        real = math.tanh(input_scale * q)
    spec = int((logistic_int16 if logistic else tanh_int16)(np.asarray([q], np.int64), p.input_multiplier,
                                                              p.input_left_shift)[0])
    if spec != value:  # the steps above are the kernel's own: this cannot differ
        raise AssertionError(f"traced int16 {op} {value} != {spec}")
    output_scale, _ = per_tensor_qparams(ctx, ctx.output(0), "output")
    trace.approximates(real, output_scale, 0, (-32768, 32767))
    return value


def _explain_lut_lookup_int16(trace, value: int, lut: np.ndarray, name: str) -> int:
    """LUTLookup(int16, lut[513]) of one value, step by step (:func:`lut_lookup_int16`)."""
    index = 256 + (value >> 7)
    offset = value & 0x7F
    base, following = int(lut[index]), int(lut[index + 1])
    slope = int(wrap_int16(following - base))
    result = int(wrap_int16(base + ((slope * offset + 64) >> 7)))
    trace.add(f"{name} lookup", result, f"entry {index} = 256 + ({value} >> 7), fraction {offset}/128: {base} + "
              f"(({following} - {base}) * {offset} + 64) >> 7", rule="round to nearest, ties toward +infinity")
    if result != int(lut_lookup_int16(np.asarray([value]), lut)[0]):
        raise AssertionError("traced LUTLookup differs from lut_lookup_int16")
    return result


def _explain_softmax_int16(ctx: OpContext, p: SoftmaxParams, inputs: list, index: tuple[int, ...], trace) -> int:
    """SOFTMAX int16 -> int16 (``reference_ops::SoftmaxInt16``, the section comment above): the row's maximum, the
    scaled difference, the exp table, the sum, the 1/(1+x) table, the output."""
    x = np.asarray(inputs[0])
    position = int(index[-1])
    row = x[index[:-1]].astype(np.int64)
    input_scale, _ = per_tensor_qparams(ctx, ctx.require_input(0), "input")
    trace.add("row", row.tolist(), f"the last axis at {list(index[:-1])} ({row.size} values); this element is "
              f"position {position}")
    row_max = trace.add("row maximum", int(row.max()), "softmax is computed on differences from it")
    d = trace.add("difference", int(row[position]) - row_max, f"{int(row[position])} - {row_max}")
    formula = ("f64(s_in) * f64(beta)" if ctx.profile == "tflm" else "f32(s_in * beta)") + " / (10 / 65535)"
    trace.add("multiplier and shift", [p.input_multiplier, p.input_left_shift], f"QuantizeMultiplier({formula}), "
              f"beta = {float(p.beta)!r}, s_in = {input_scale!r}: differences to the exp table's input scale 10/65535")
    scaled = trace.mbqm(d, p.input_multiplier, p.input_left_shift)
    table_input = trace.clamp(scaled + 32767, -32768, 32767, "int16: the exp table covers [-10, 0]")
    trace.add("exp table", "LiteRT: std::exp in double (LUTPopulate<int16_t>)" if ctx.profile != "tflm" else
              "TFLM: expf in float (gen_lut)", "513 entries on [-10, 0], outputs on [-1, 1] in int16 (built at "
              "Prepare)")
    e = _explain_lut_lookup_int16(trace, int(table_input), p.exp_lut, "exp")
    diffs = multiply_by_quantized_multiplier(row - row_max, p.input_multiplier, p.input_left_shift)
    exps = lut_lookup_int16(np.clip(diffs + 32767, -32768, 32767), p.exp_lut)
    total = int(wrap_int32(exps.sum()))
    trace.add("sum of exps", total, f"the row's {row.size} exps (each looked up as above) added in int32",
              items=[{"position": k, "exp": int(v)} for k, v in enumerate(exps)])
    headroom = 32 - (total & 0xFFFFFFFF).bit_length()
    trace.add("leading zeros", headroom, f"CountLeadingZeros(uint32({total}))")
    shifted = ((total << (headroom - 1)) + (1 << 13)) >> 14
    trace.add("normalized sum", shifted, f"(({total} << {headroom - 1}) + 2^13) >> 14: the sum as 1 + x, x in [0, 1)",
              rule="round to nearest, ties toward +infinity")
    reciprocal_input = trace.clamp(shifted - ((1 << 15) + (1 << 16)), -32768, 32767,
                                   "int16: minus 98304 = 1.5 * 2^16, the 1/(1+x) table's zero")
    reciprocal = _explain_lut_lookup_int16(trace, int(reciprocal_input), p.one_over_one_plus_x_lut, "1/(1+x)")
    right_shift = 31 - headroom
    unsat = (e * reciprocal + (1 << (right_shift - 1))) >> right_shift
    trace.add("scaled exp", unsat, f"({e} * {reciprocal} + 2^{right_shift - 1}) >> {right_shift}",
              rule="round to nearest, ties toward +infinity")
    value = int(trace.clamp(unsat, 0, 32767, "[0, 32767]"))
    output_scale, output_zero_point = per_tensor_qparams(ctx, ctx.output(0), "output")
    logits = float(p.beta) * input_scale * (row - row_max).astype(np.float64)
    probabilities = np.exp(logits) / np.exp(logits).sum()
    trace.approximates(float(probabilities[position]), output_scale, output_zero_point, (0, 32767))
    return value

"""TFLite's integer arithmetic, exactly.

Two forms of each primitive: a vectorized NumPy one (used by the spec kernels, reads like the math) and a
scalar numba one (``*_nb``, inlined into the fast kernels). Everything works on int64 holding int32 values,
and wraps to int32 where TFLite's C++ does.

Sources: gemmlowp ``fixedpoint/fixedpoint.h`` (SaturatingRoundingDoublingHighMul, RoundingDivideByPOT),
TFLite ``kernels/internal/common.{h,cc}`` (MultiplyByQuantizedMultiplier, double rounding: the default in
every official build, TFLITE_SINGLE_ROUNDING unset), ``quantization_util.cc`` (QuantizeMultiplier) and
``kernel_util.cc`` (CalculateActivationRangeQuantized).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math

import numba
import numpy as np

from refinterp.errors import PrepareError

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1

# ActivationFunctionType values of the schema.
ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6, ACT_TANH, ACT_SIGN_BIT = 0, 1, 2, 3, 4, 5

DTYPE_RANGES = {
    np.dtype(np.int8): (-128, 127),
    np.dtype(np.uint8): (0, 255),
    np.dtype(np.int16): (-32768, 32767),
    np.dtype(np.int32): (INT32_MIN, INT32_MAX),
}


# ------------------------------------------------------------------------------------------------
# Prepare-time helpers (Python scalars, double precision unless stated)


def round_half_away(value: float) -> int:
    """C ``round``/``std::round``/``TfLiteRound`` of a double: ties away from zero (Python's round is half-even).

    Truncate, then step away from zero when the dropped part is at least 0.5: exact for every double
    (``floor(v + 0.5)`` is wrong for 0.49999999999999994, where ``v + 0.5`` rounds up to 1).
    """
    truncated = math.trunc(value)
    return truncated + (int(math.copysign(1, value)) if abs(value - truncated) >= 0.5 else 0)


def round_half_away_f32(value: np.ndarray) -> np.ndarray:
    """``std::round``/``roundf`` of float32 values, vectorized and exact (result float32)."""
    value = np.asarray(value, dtype=np.float32)
    truncated = np.trunc(value)
    with np.errstate(invalid="ignore"):  # inf - inf is NaN: no step, and inf stays inf
        step = np.where(np.abs(value - truncated) >= np.float32(0.5), np.sign(value), np.float32(0.0))
    return (truncated + step).astype(np.float32)


def round_half_away_f64(value: np.ndarray) -> np.ndarray:
    """``std::round`` of doubles, vectorized and exact (result float64)."""
    value = np.asarray(value, dtype=np.float64)
    truncated = np.trunc(value)
    with np.errstate(invalid="ignore"):  # inf - inf is NaN: no step, and inf stays inf
        return truncated + np.where(np.abs(value - truncated) >= 0.5, np.sign(value), 0.0)


def cast_to_int32(value: np.ndarray) -> np.ndarray:
    """``static_cast<int32_t>`` of a float or double as x86-64 does it (cvttss2si/cvttsd2si).

    In range it truncates; out of range or NaN it gives the "integer indefinite" INT32_MIN (UB in C++,
    but what the official x86 wheels do). Result int64.
    """
    value = np.asarray(value, dtype=np.float64)
    inside = (value > -2147483649.0) & (value < 2147483648.0)  # NaN compares false: outside
    return np.where(inside, np.trunc(np.where(inside, value, 0.0)), INT32_MIN).astype(np.int64)


def lut_entries_int8(value: np.ndarray) -> np.ndarray:
    """An int8 LUTPopulate entry from its float ``round(t / s_out) + zp`` on LiteRT's x86-64 build (measured on
    TANH, EXP and LOG): saturated to [-128, 127] (the clamp is done in float), and a NaN (``0 * inf`` with a
    subnormal output scale) cast to INT32_MIN, whose low byte is 0. Result int64."""
    value = np.asarray(value, dtype=np.float64)
    return np.where(np.isnan(value), 0, np.clip(np.nan_to_num(value), -128, 127)).astype(np.int64)


def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """QuantizeMultiplier (quantization_util.cc): ``real = multiplier * 2**(shift - 31)``.

    ``multiplier`` is a Q31 value in [2**30, 2**31), ``shift`` the power of two (positive: left shift).
    """
    if real_multiplier == 0.0:
        return 0, 0
    if not math.isfinite(real_multiplier):
        # frexp of an infinity or NaN is unspecified in C++, and TfLiteRound of it cast to int64 undefined
        raise PrepareError(f"a scale ratio of {real_multiplier} has no fixed-point multiplier")
    q, shift = math.frexp(real_multiplier)
    q_fixed = round_half_away(q * (1 << 31))  # exact in double: q has 53 bits, times a power of two
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:  # "flush tiny multipliers to zero": the product is then always 0
        return 0, 0
    return int(q_fixed), int(shift)


def activation_range(activation: int, scale: float, zero_point: int, dtype: np.dtype) -> tuple[int, int]:
    """CalculateActivationRangeQuantized (kernel_util.cc): the fused activation as an integer clamp.

    ``Q(f) = zero_point + (int32)round(f32(f / scale))``; TANH and SIGN_BIT are not handled there and leave
    the full range. LiteRT's ``Quantize`` fails Prepare unless ``INT32_MIN <= round(f / scale) <= f32(INT32_MAX)``
    (a NaN or infinite quotient from a tiny or zero scale fails it; refinterp raises PrepareError); 2**31 itself
    passes and the x86 cast makes it INT32_MIN, and ``zero_point +`` wraps in int32 as on x86.
    """
    qmin, qmax = DTYPE_RANGES[np.dtype(dtype)]

    def quantize(f: float) -> int:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            rounded = round_half_away_f32(np.float32(f) / np.float32(scale))
        if not -2147483648.0 <= float(rounded) <= 2147483648.0:
            raise PrepareError(f"the fused activation's bound {f:g} / output scale {scale:g} is {float(rounded):g}, "
                               "outside int32 (LiteRT's Quantize fails Prepare)")
        total = zero_point + int(cast_to_int32(rounded))
        return ((total + 2**31) & 0xFFFFFFFF) - 2**31

    if activation == ACT_RELU:
        return max(qmin, quantize(0.0)), qmax
    if activation == ACT_RELU6:
        return max(qmin, quantize(0.0)), min(qmax, quantize(6.0))
    if activation == ACT_RELU_N1_TO_1:
        return max(qmin, quantize(-1.0)), min(qmax, quantize(1.0))
    return qmin, qmax


FLOAT32_LOWEST = float(np.finfo(np.float32).min)
FLOAT32_MAX = float(np.finfo(np.float32).max)


def activation_range_float(activation: int) -> tuple[float, float]:
    """CalculateActivationRange<float>: the fused activation of a float op as a clamp.

    "No activation" is [lowest(), max()] of float32, not +-inf: TFLite's float kernels clamp an infinite
    result to +-FLT_MAX (NaN passes, since std::min/std::max keep it).
    """
    if activation == ACT_RELU:
        return 0.0, FLOAT32_MAX
    if activation == ACT_RELU6:
        return 0.0, 6.0
    if activation == ACT_RELU_N1_TO_1:
        return -1.0, 1.0
    return FLOAT32_LOWEST, FLOAT32_MAX


# ------------------------------------------------------------------------------------------------
# NumPy forms (int64 arrays holding int32 values; multiplier and shift may be arrays that broadcast)


def wrap_int32(x: np.ndarray) -> np.ndarray:
    """Two's-complement wrap to int32, as TFLite's C++ does (TFLITE_NO_SANITIZE_INTEGER_OVERFLOW)."""
    return ((np.asarray(x, dtype=np.int64) + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def saturating_rounding_doubling_high_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """gemmlowp SRDHM: ``round(a * b / 2**31)`` with ties toward +infinity, saturating INT32_MIN**2."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    product = a * b
    nudge = np.where(product >= 0, 1 << 30, 1 - (1 << 30))
    total = product + nudge
    # C++ integer division truncates toward zero; >> would floor negative values.
    high = np.where(total >= 0, total >> 31, -((-total) >> 31))
    return np.where((a == INT32_MIN) & (b == INT32_MIN), INT32_MAX, high)


def rounding_divide_by_pot(x: np.ndarray, exponent: np.ndarray | int) -> np.ndarray:
    """gemmlowp RoundingDivideByPOT: ``x / 2**exponent`` rounded to nearest, ties away from zero."""
    x = np.asarray(x, dtype=np.int64)
    exponent = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def multiply_by_quantized_multiplier(x: np.ndarray, multiplier: np.ndarray | int,
                                     shift: np.ndarray | int) -> np.ndarray:
    """MultiplyByQuantizedMultiplier, double rounding (common.cc, TFLITE_SINGLE_ROUNDING unset).

    ``RDBPOT(SRDHM(x * 2**left, multiplier), right)`` with ``left = max(shift, 0)``, ``right = max(-shift, 0)``;
    ``x * 2**left`` wraps as int32 multiplication does.
    """
    shift = np.asarray(shift, dtype=np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    shifted = wrap_int32(np.asarray(x, dtype=np.int64) << left)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, multiplier), right)


# ------------------------------------------------------------------------------------------------
# numba scalar forms, inlined into the fast kernels. Same rules as above, one value at a time.


@numba.njit(cache=True, inline="always")
def wrap_int32_nb(x: int) -> int:
    return ((x + 2147483648) & 0xFFFFFFFF) - 2147483648


@numba.njit(cache=True, inline="always")
def srdhm_nb(a: int, b: int) -> int:
    if a == -2147483648 and b == -2147483648:
        return 2147483647
    product = np.int64(a) * np.int64(b)
    total = product + (np.int64(1 << 30) if product >= 0 else np.int64(1 - (1 << 30)))
    return (total >> 31) if total >= 0 else -((-total) >> 31)


@numba.njit(cache=True, inline="always")
def rdbpot_nb(x: int, exponent: int) -> int:
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


@numba.njit(cache=True, inline="always")
def saturating_shift_left_nb(x: int, exponent: int) -> int:
    """gemmlowp SaturatingRoundingMultiplyByPOT<exponent > 0> on an int32 value: a left shift that saturates."""
    threshold = (np.int64(1) << (31 - exponent)) - 1
    if x > threshold:
        return np.int64(2147483647)
    if x < -threshold:
        return np.int64(-2147483648)
    return x << exponent


@numba.njit(cache=True, inline="always")
def mbqm_nb(x: int, multiplier: int, shift: int) -> int:
    left = shift if shift > 0 else 0
    right = -shift if shift < 0 else 0
    return rdbpot_nb(srdhm_nb(wrap_int32_nb(np.int64(x) << left), multiplier), right)


# ------------------------------------------------------------------------------------------------
# Power-of-two scales and 16-bit fixed point (the int16 ADD / SUB "pot_scale_int16" path)


def _libm_logf():
    """libm's ``float logf(float)`` through ctypes (NumPy's float32 log may differ in the last bit)."""
    library_name = ctypes.util.find_library("m")
    library = ctypes.CDLL(library_name) if library_name is not None else ctypes.CDLL(None)
    function = library.logf
    function.restype, function.argtypes = ctypes.c_float, [ctypes.c_float]
    return function


def checked_log2(x: float) -> tuple[bool, int]:
    """CheckedLog2 (quantization_util.h), in float32: ``l = logf(x) * (1.0f / logf(2.0f))``,
    ``r = roundf(l)``; returns (``|l - r| < 1e-3f``, ``(int)r``). A scale within 0.1% of a power of two in
    log2 counts as that power of two."""
    logf = _libm_logf()
    x_log2 = np.float32(np.float32(logf(np.float32(x))) * (np.float32(1.0) / np.float32(logf(np.float32(2.0)))))
    if not np.isfinite(x_log2):
        return False, 0
    rounded = np.float32(round_half_away(float(x_log2)))
    return bool(abs(np.float32(x_log2 - rounded)) < np.float32(1e-3)), int(rounded)


def wrap_int16(x: np.ndarray) -> np.ndarray:
    """Two's-complement truncation to int16 (``static_cast<int16_t>``), as int64."""
    return ((np.asarray(x, dtype=np.int64) + (1 << 15)) & 0xFFFF) - (1 << 15)


def rounding_divide_by_pot_int16(x: np.ndarray, exponent: int) -> np.ndarray:
    """gemmlowp ``RoundingDivideByPOT<int16_t>``: as :func:`rounding_divide_by_pot`, but the mask
    ``(1 << exponent) - 1`` is truncated to int16 (-1 for exponents of 16 and more) and the sums are int16."""
    x = np.asarray(x, dtype=np.int64)
    mask = int(wrap_int16((1 << exponent) - 1))
    remainder = wrap_int16(x & mask)
    threshold = wrap_int16((mask >> 1) + (x < 0))
    return wrap_int16((x >> exponent) + (remainder > threshold))


def saturating_rounding_doubling_high_mul_int16(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    """gemmlowp ``SaturatingRoundingDoublingHighMul<int16_t>``: ``(a*b + nudge) / 2**15`` (C division),
    INT16_MIN**2 saturates."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    product = a * b
    total = product + np.where(product >= 0, 1 << 14, 1 - (1 << 14))
    high = np.where(total >= 0, total >> 15, -((-total) >> 15))
    return np.where((a == -32768) & (b == -32768), 32767, wrap_int16(high))


def saturate_int16(x: np.ndarray) -> np.ndarray:
    """gemmlowp ``SaturatingAdd`` / TFLite ``SaturatingSub`` on int16: the int32 result clamped to int16."""
    return np.clip(np.asarray(x, dtype=np.int64), -32768, 32767)


@numba.njit(cache=True, inline="always")
def rdbpot_int16_nb(x: int, exponent: int) -> int:
    full = (np.int64(1) << exponent) - 1
    mask = ((full + 32768) & 0xFFFF) - 32768
    remainder = (((x & mask) + 32768) & 0xFFFF) - 32768
    threshold = (((mask >> 1) + (1 if x < 0 else 0) + 32768) & 0xFFFF) - 32768
    total = (x >> exponent) + (1 if remainder > threshold else 0)
    return ((total + 32768) & 0xFFFF) - 32768


# ------------------------------------------------------------------------------------------------
# MultiplyByQuantizedMultiplier with an int64 accumulator (the 16x8 kernels: CONV_2D, DEPTHWISE_CONV_2D,
# TRANSPOSE_CONV, FULLY_CONNECTED under TFLM). common.cc, double rounding (TFLITE_SINGLE_ROUNDING unset):
#
#     reduced = multiplier < 0x7FFF0000 ? (multiplier + 2**15) >> 16 : 0x7FFF
#     total_shift = 15 - shift
#     result = (x * reduced + (1 << (total_shift - 1))) >> total_shift        (int64, wrapping)
#     return (int32) result
#
# The multiplier keeps 15 bits, so the result differs from the int32 form in the last place now and then.
# ``total_shift`` must be in [1, 63]: shift <= MBQM64_MAX_SHIFT (shift >= -31 holds: quantize_multiplier flushes
# smaller multipliers to 0); a larger shift is a negative shift count in C++ (undefined).

#: the largest ``shift`` the int64 form handles with defined C++ (``1 << (total_shift - 1)`` needs total_shift >= 1)
MBQM64_MAX_SHIFT = 14


def multiply_by_quantized_multiplier_int64(x: np.ndarray, multiplier: np.ndarray | int,
                                           shift: np.ndarray | int) -> np.ndarray:
    """``MultiplyByQuantizedMultiplier(int64_t x, int32_t multiplier, int shift)`` (common.cc), vectorized.

    ``x`` holds int64 values; the product wraps in int64 as the C++ does on x86 (NumPy int64 arrays wrap),
    the result is truncated to int32 (``static_cast<int32_t>``). Result int64 holding int32 values.
    """
    x = np.asarray(x, dtype=np.int64)
    multiplier = np.asarray(multiplier, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    reduced = np.where(multiplier < 0x7FFF0000, (multiplier + (1 << 15)) >> 16, 0x7FFF)
    total_shift = 15 - shift
    with np.errstate(over="ignore"):
        result = x * reduced + (np.int64(1) << (total_shift - 1))
    return wrap_int32(result >> total_shift)


@numba.njit(cache=True, inline="always")
def mbqm64_nb(x: int, multiplier: int, shift: int) -> int:
    """multiply_by_quantized_multiplier_int64 for one value (int64 wrap, int32 truncation)."""
    reduced = (np.int64(multiplier) + 32768) >> 16 if multiplier < 0x7FFF0000 else np.int64(0x7FFF)
    total_shift = 15 - np.int64(shift)
    result = np.int64(x) * reduced + (np.int64(1) << (total_shift - 1))
    return wrap_int32_nb(result >> total_shift)

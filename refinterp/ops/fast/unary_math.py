"""Fast kernels of the unary math operators (the rules: ``refinterp/ops/unary_math.py``).

8-bit inputs (and ABS int16 with quantization parameters): the spec rule evaluated once for each of the 256
(65,536) values at fast-prepare time (``table_of_8bit_rule``), gathered by numba. PRELU (8-bit and int16): the
spec's integer steps per element in numba. float32: the spec's arithmetic in numba, whose ``math.exp`` (and
log, sin, cos, expm1) on a float32 compiles to a call of the C library's single-precision function, the one the
spec calls through ctypes. L2_NORMALIZATION int8/uint8: one row per iteration, in parallel, with a scalar
GetInvSqrtQuantizedMultiplierExp.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from refinterp.ops.common import OpContext, table_of_8bit_rule
from refinterp.ops.fast.common import TableParams, lookup_8bit
from refinterp.ops.unary_math import (
    L2NormParams,
    LogSoftmaxParams,
    PreluParams,
    UnaryParams,
    check_unary_domain,
    hard_swish_rule_8bit,
    hard_swish_spec,
    l2_normalization_spec,
    log_softmax_spec,
    prelu_spec,
    prepare_hard_swish,
    prepare_unary,
    unary_rule_8bit,
    unary_spec,
)
from refinterp.quant import mbqm_nb, rdbpot_nb, saturating_shift_left_nb, srdhm_nb, wrap_int32_nb

# float32 operations by code, for one numba loop
_FLOAT_CODES = {"ABS": 0, "NEG": 1, "SQRT": 2, "RSQRT": 3, "SQUARE": 4, "FLOOR": 5, "CEIL": 6, "ROUND": 7,
                "ELU": 8, "EXP": 9, "LOG": 10, "SIN": 11, "COS": 12, "HARD_SWISH": 13}


@numba.njit(cache=True, nogil=True)
def _round_to_nearest_even_nb(v):
    floor = np.float32(np.floor(v))
    diff = np.float32(v - floor)
    if floor > -2147483649.0 and floor < 2147483648.0:
        floor_int = np.int64(floor)
    else:
        floor_int = np.int64(-2147483648)  # x86's out-of-range conversion (and NaN)
    if diff < np.float32(0.5) or (diff == np.float32(0.5) and floor_int % 2 == 0):
        return floor
    return np.float32(floor + np.float32(1.0))


@numba.njit(cache=True, parallel=True, nogil=True)
def _float_unary_nb(x, code, out):
    for i in numba.prange(x.size):
        v = x[i]
        if code == 0:
            r = np.float32(abs(v))
        elif code == 1:
            r = -v
        elif code == 2:
            r = np.float32(math.sqrt(v))
        elif code == 3:
            r = np.float32(1.0) / np.float32(math.sqrt(v))
        elif code == 4:
            r = v * v
        elif code == 5:
            r = np.float32(np.floor(v))
        elif code == 6:
            r = np.float32(np.ceil(v))
        elif code == 7:
            r = _round_to_nearest_even_nb(v)
        elif code == 8:
            r = np.float32(math.expm1(v)) if v < np.float32(0.0) else v
        elif code == 9:
            r = np.float32(math.exp(v))
        elif code == 10:
            r = np.float32(math.log(v))
        elif code == 11:
            r = np.float32(math.sin(v))
        elif code == 12:
            r = np.float32(math.cos(v))
        else:
            plus_three = v + np.float32(3.0)
            relu6 = plus_three if np.float32(0.0) < plus_three else np.float32(0.0)
            relu6 = relu6 if relu6 < np.float32(6.0) else np.float32(6.0)
            r = (v * relu6) / np.float32(6.0)
        out[i] = r


def float_unary_fast(op: str, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    out = np.empty(x.shape, np.float32)
    _float_unary_nb(np.ascontiguousarray(x).reshape(-1), _FLOAT_CODES[op], out.reshape(-1))
    return out


@numba.njit(cache=True, nogil=True)
def _c_function_nb(x, code, out):
    for i in range(x.size):
        v = x[i]
        if code == 0:
            out[i] = np.float32(math.exp(v))
        elif code == 1:
            out[i] = np.float32(math.log(v))
        else:
            out[i] = np.float32(math.expm1(v))


def c_function_fast(name: str, x: np.ndarray) -> np.ndarray:
    """The spec's ``libm(name, x)`` through numba (expf, logf, expm1f)."""
    x = np.asarray(x, dtype=np.float32)
    out = np.empty(x.shape, np.float32)
    _c_function_nb(np.ascontiguousarray(x).reshape(-1), {"expf": 0, "logf": 1, "expm1f": 2}[name], out.reshape(-1))
    return out


# ------------------------------------------------------------------------------------------------
# ABS ... ELU


def prepare_unary_fast(ctx: OpContext) -> TableParams:
    spec = prepare_unary(ctx)
    if spec.kind != "quantized":
        return TableParams(spec)
    return TableParams(spec, table_of_8bit_rule(unary_rule_8bit, spec, spec.dtype))


def unary_fast(p: TableParams, x: np.ndarray) -> np.ndarray:
    spec: UnaryParams = p.spec
    if p.table is not None:
        check_unary_domain(spec, x)
        return lookup_8bit(p.table, x)
    if spec.kind == "float":
        return float_unary_fast(spec.op, x)
    return unary_spec(spec, x)  # NEG/ABS on raw integers: one vectorized NumPy pass


# ------------------------------------------------------------------------------------------------
# HARD_SWISH


def prepare_hard_swish_fast(ctx: OpContext) -> TableParams:
    spec = prepare_hard_swish(ctx)
    if not spec.quantized:
        return TableParams(spec)
    return TableParams(spec, table_of_8bit_rule(hard_swish_rule_8bit, spec, spec.dtype))


def hard_swish_fast(p: TableParams, x: np.ndarray) -> np.ndarray:
    if p.table is not None:
        return lookup_8bit(p.table, x)
    if p.spec.quantized:
        return hard_swish_spec(p.spec, x)
    return float_unary_fast("HARD_SWISH", x)


# ------------------------------------------------------------------------------------------------
# PRELU


@numba.njit(cache=True, parallel=True, nogil=True)
def _prelu_float_nb(x, alpha, out):
    for i in numba.prange(x.size):
        v = x[i]
        out[i] = v if v >= np.float32(0.0) else v * alpha[i]


@numba.njit(cache=True, parallel=True, nogil=True)
def _prelu_8bit_nb(x, alpha, out, input_zero_point, alpha_zero_point, output_zero_point, multiplier_1, shift_1,
                   multiplier_2, shift_2, qmin, qmax):
    for i in numba.prange(x.size):
        d = np.int64(x[i]) - input_zero_point
        if d >= 0:
            v = mbqm_nb(d, multiplier_1, shift_1)
        else:
            v = mbqm_nb(d * (np.int64(alpha[i]) - alpha_zero_point), multiplier_2, shift_2)
        out[i] = min(max(v + output_zero_point, qmin), qmax)


def prelu_fast(p: PreluParams, x: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    if x.size == 0:
        return prelu_spec(p, x, alpha)
    flat_x = np.ascontiguousarray(x).reshape(-1)
    flat_alpha = np.ascontiguousarray(np.broadcast_to(alpha, x.shape)).reshape(-1)
    out = np.empty(flat_x.size, dtype=p.dtype)
    if not p.quantized:
        _prelu_float_nb(flat_x, flat_alpha, out)
    else:
        info = np.iinfo(p.dtype)
        _prelu_8bit_nb(flat_x, flat_alpha, out, p.input_zero_point, p.alpha_zero_point, p.output_zero_point,
                       p.multiplier_1, p.shift_1, p.multiplier_2, p.shift_2, int(info.min), int(info.max))
    return out.reshape(x.shape)


# ------------------------------------------------------------------------------------------------
# L2_NORMALIZATION


@numba.njit(cache=True, inline="always")
def _clz32_nb(x):
    u = np.int64(x) & 0xFFFFFFFF
    n = 0
    while n < 32 and (u & (np.int64(1) << (31 - n))) == 0:
        n += 1
    return n


@numba.njit(cache=True, nogil=True)
def inv_sqrt_multiplier_exp_nb(value, reverse_shift):
    """GetInvSqrtQuantizedMultiplierExp (the spec's ``inv_sqrt_multiplier_exp``), one value."""
    if value <= 1:
        return np.int64(2147483647), np.int64(0)
    v = np.int64(value)
    shift = np.int64(11)
    while v >= (1 << 29):
        v //= 4
        shift += 1
    left_shift_bit_pairs = (_clz32_nb(v) - 1) // 2 - 1
    shift -= left_shift_bit_pairs
    v <<= 2 * left_shift_bit_pairs
    fixedpoint_input = v >> 1
    half_input = rdbpot_nb(fixedpoint_input, 1)
    half_three = np.int64((1 << 28) + (1 << 27))
    x = np.int64(1 << 28)
    for _ in range(5):
        x3 = saturating_shift_left_nb(srdhm_nb(srdhm_nb(x, x), x), 6)
        x = saturating_shift_left_nb(wrap_int32_nb(srdhm_nb(half_three, x) - srdhm_nb(half_input, x3)), 3)
    x = srdhm_nb(x, 1518500250)
    if shift < 0:
        x = wrap_int32_nb(x << (-shift))
        shift = 0
    return x, shift * reverse_shift


@numba.njit(cache=True, parallel=True, nogil=True)
def _l2_norm_8bit_nb(rows, input_zero_point, is_int8, out):
    outputs, depth = rows.shape
    for r in numba.prange(outputs):
        acc = np.int64(0)
        for c in range(depth):
            d = np.int64(rows[r, c]) - input_zero_point
            acc += d * d
        multiplier, shift = inv_sqrt_multiplier_exp_nb(wrap_int32_nb(acc), -1)
        for c in range(depth):
            d = np.int64(rows[r, c]) - input_zero_point
            if is_int8:
                out[r, c] = min(max(mbqm_nb(d, multiplier, shift + 7), -128), 127)
            else:
                out[r, c] = min(max(128 + mbqm_nb(128 * d, multiplier, shift), 0), 255)


@numba.njit(cache=True, parallel=True, nogil=True)
def _l2_norm_float_nb(rows, epsilon, out):
    outputs, depth = rows.shape
    for r in numba.prange(outputs):
        squared = np.float32(0.0)
        for c in range(depth):
            squared += rows[r, c] * rows[r, c]
        norm = np.float32(math.sqrt(squared))
        if norm < epsilon:
            norm = epsilon
        for c in range(depth):
            out[r, c] = rows[r, c] / norm


def l2_normalization_fast(p: L2NormParams, x: np.ndarray) -> np.ndarray:
    if x.size == 0:
        return l2_normalization_spec(p, x)
    rows = np.ascontiguousarray(x).reshape(-1, x.shape[-1])
    out = np.empty(rows.shape, dtype=x.dtype)
    if p.dtype == np.float32:
        _l2_norm_float_nb(rows, np.float32(1e-6), out)
    else:
        _l2_norm_8bit_nb(rows, p.input_zero_point, p.dtype == np.int8, out)
    return out.reshape(x.shape)


# ------------------------------------------------------------------------------------------------
# LOG_SOFTMAX


@numba.njit(cache=True, nogil=True)
def _row_sums_f32(values, out):
    """Each row's float32 sum, added in order (the spec's loop over the last axis)."""
    for row in range(values.shape[0]):
        total = np.float32(0.0)
        for i in range(values.shape[1]):
            total = np.float32(total + values[row, i])
        out[row] = total


def log_softmax_fast(p: LogSoftmaxParams, x: np.ndarray) -> np.ndarray:
    if p.quantized:
        return log_softmax_spec(p, x)
    if x.size == 0:
        return np.array(x, dtype=np.float32)
    rows = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, x.shape[-1])
    with np.errstate(all="ignore"):
        shifted = rows - rows.max(axis=1, keepdims=True)
        totals = np.empty(rows.shape[0], np.float32)
        _row_sums_f32(c_function_fast("expf", shifted), totals)
        return (shifted - c_function_fast("logf", totals)[:, None]).reshape(x.shape)


"""SOFTMAX, LOGISTIC and TANH fast kernels (the rules: ``refinterp/ops/softmax_logistic.py``).

float32: the spec's own arithmetic (``softmax_float``, ``logistic_float``, ``tanh_float``) with C's ``expf`` and
``tanhf`` called through numba (``math.exp`` / ``math.tanh`` on a float32 compile to calls of the C library's
expf / tanhf, the functions the spec calls through ctypes) instead of once per element through ctypes.
int8/uint8: LiteRT's LOGISTIC and TANH tables gathered by numba (``lookup_8bit`` on the input's bytes, the spec's
``table[x.view(uint8)]``); TFLM's fixed-point int8 rule: the spec kernel (vectorized NumPy).
int16: numba loops of the same integer rules (``logistic_int16``, ``tanh_int16``, ``softmax_int16``), one element
(or one row) at a time. SOFTMAX int8/uint8: the gemmlowp fixed-point rule of ``softmax_spec`` in numba, row by row
(scalar forms of ``exp_on_negative_values`` and ``one_over_one_plus_x_for_x_in_0_1``).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from refinterp.errors import EvalError
from refinterp.ops.fast.common import lookup_8bit
from refinterp.ops.softmax_logistic import (
    SIGMOID_TABLE_UINT16,
    LogisticParams,
    SoftmaxParams,
    TanhParams,
    logistic_float,
    logistic_spec,
    softmax_float,
    tanh_float,
    tanh_spec,
)
from refinterp.quant import mbqm_nb, rdbpot_nb, saturating_shift_left_nb, srdhm_nb, wrap_int32_nb


@numba.njit(cache=True, nogil=True)
def _expf_nb(flat_in, flat_out):
    for i in range(flat_in.size):
        flat_out[i] = math.exp(flat_in[i])


def expf_fast(x: np.ndarray) -> np.ndarray:
    """C ``expf`` elementwise on float32, through numba."""
    x = np.asarray(x, dtype=np.float32)  # not ascontiguousarray: it would make a 0-d input 1-d
    out = np.empty(x.shape, np.float32)
    _expf_nb(np.ascontiguousarray(x.reshape(-1)), out.reshape(-1))
    return out


def softmax_fast(p: SoftmaxParams, x: np.ndarray) -> np.ndarray:
    if p.int16:
        return _softmax_int16_fast(p, x)
    if p.quantized:
        return _softmax_8bit_fast(p, x)
    return softmax_float(p, x, exp=expf_fast)


def logistic_fast(p: LogisticParams, x: np.ndarray) -> np.ndarray:
    if p.int16:
        return _sigmoid_like_int16_fast(x, p.input_multiplier, p.input_left_shift, is_tanh=False)
    if p.table is not None:  # the spec's p.table[x.view(np.uint8)]
        return lookup_8bit(p.table, x.view(np.uint8))
    if p.quantized:
        return logistic_spec(p, x)
    return logistic_float(x, exp=expf_fast)


@numba.njit(cache=True, nogil=True)
def _tanhf_nb(flat_in, flat_out):
    for i in range(flat_in.size):
        flat_out[i] = math.tanh(flat_in[i])


def tanhf_fast(x: np.ndarray) -> np.ndarray:
    """C ``tanhf`` elementwise on float32, through numba."""
    x = np.asarray(x, dtype=np.float32)
    out = np.empty(x.shape, np.float32)
    _tanhf_nb(np.ascontiguousarray(x.reshape(-1)), out.reshape(-1))
    return out


def tanh_fast(p: TanhParams, x: np.ndarray) -> np.ndarray:
    if p.int16:
        return _sigmoid_like_int16_fast(x, p.input_multiplier, p.input_left_shift, is_tanh=True)
    if p.table is not None:  # the spec's p.table[x.view(np.uint8)]
        return lookup_8bit(p.table, x.view(np.uint8))
    if p.quantized:
        return tanh_spec(p, x)
    return tanh_float(x, tanh=tanhf_fast)


# ------------------------------------------------------------------------------------------------
# int16


@numba.njit(cache=True, nogil=True)
def _sigmoid_like_int16_nb(flat_in, multiplier, left_shift, table, is_tanh, flat_out):
    """reference_integer_ops::Logistic / Tanh int16, per element (rule: softmax_logistic.py)."""
    if multiplier == 0:
        multiplier = np.int64(3) << left_shift
        left_shift = 0
    rounding = (np.int64(1) << (left_shift - 1)) if left_shift > 0 else np.int64(0)
    fraction_bits = 8 if is_tanh else 9
    for i in range(flat_in.size):
        x = wrap_int32_nb(np.int64(flat_in[i]) * multiplier + rounding) >> left_shift
        a = -x if x < 0 else x
        uh = a >> fraction_bits
        if is_tanh:
            if uh >= 255:
                r = np.int64(0xFFFF) << 8
            else:
                r = (table[uh] << 8) + (a & 0xFF) * (table[uh + 1] - table[uh])
            r = r - (1 << 23) + (1 << 7) if x >= 0 else -r + (1 << 23) + (1 << 7) - 1
            flat_out[i] = r >> 8
        else:
            if uh >= 255:
                r = np.int64(0x7FFF) << 10
            else:
                r = (table[uh] << 9) + (a & 0x1FF) * (table[uh + 1] - table[uh])
            r = r + (1 << 9) if x >= 0 else (1 << 25) - r + (1 << 9) - 1
            flat_out[i] = r >> 10


def _sigmoid_like_int16_fast(x: np.ndarray, multiplier: int, left_shift: int, is_tanh: bool) -> np.ndarray:
    out = np.empty(x.shape, np.int16)
    _sigmoid_like_int16_nb(np.ascontiguousarray(x).reshape(-1), np.int64(multiplier), np.int64(left_shift),
                           SIGMOID_TABLE_UINT16, is_tanh, out.reshape(-1))
    return out


@numba.njit(cache=True, inline="always")
def _lut_lookup_int16_nb(value, lut):
    index = 256 + (value >> 7)
    base = np.int64(lut[index])
    slope = np.int64(np.int16(np.int64(lut[index + 1]) - base))
    return np.int64(np.int16(base + ((slope * (value & 0x7F) + 64) >> 7)))


@numba.njit(cache=True, nogil=True)
def _softmax_int16_nb(rows, multiplier, shift, exp_lut, one_over_lut, out):
    """reference_ops::SoftmaxInt16, row by row (rule: softmax_logistic.py)."""
    depth = rows.shape[1]
    exps = np.empty(depth, np.int64)
    for i in range(rows.shape[0]):
        row_max = np.int64(-32768)
        for c in range(depth):
            row_max = max(row_max, np.int64(rows[i, c]))
        total = np.int64(0)
        for c in range(depth):
            scaled = mbqm_nb(np.int64(rows[i, c]) - row_max, multiplier, shift) + 32767
            scaled = min(max(scaled, -32768), 32767)
            exps[c] = _lut_lookup_int16_nb(scaled, exp_lut)
            total += exps[c]
        total = wrap_int32_nb(total)
        total_u32 = total & 0xFFFFFFFF
        headroom_plus_one = 32
        while total_u32 > 0:
            total_u32 >>= 1
            headroom_plus_one -= 1
        shifted = ((total << (headroom_plus_one - 1)) + (1 << 13)) >> 14
        sym = min(max(shifted - ((1 << 15) + (1 << 16)), -32768), 32767)
        reciprocal = _lut_lookup_int16_nb(sym, one_over_lut)
        right_shift = 31 - headroom_plus_one
        rounding = np.int64(1) << (right_shift - 1)
        for c in range(depth):
            out[i, c] = min(max((exps[c] * reciprocal + rounding) >> right_shift, 0), 32767)


def _softmax_int16_fast(p: SoftmaxParams, x: np.ndarray) -> np.ndarray:
    out = np.empty(x.shape, np.int16)
    if x.size == 0:
        return out
    depth = x.shape[-1]
    _softmax_int16_nb(np.ascontiguousarray(x).reshape(-1, depth), np.int64(p.input_multiplier),
                      np.int64(p.input_left_shift), p.exp_lut, p.one_over_one_plus_x_lut, out.reshape(-1, depth))
    return out


# ------------------------------------------------------------------------------------------------
# SOFTMAX int8/uint8 (gemmlowp fixed point; the rule and the constants: softmax_logistic.py)


@numba.njit(cache=True, inline="always")
def _exp_on_interval_nb(a):
    constant_term = np.int64(1895147668)
    x = wrap_int32_nb(a + (1 << 28))
    x2 = srdhm_nb(x, x)
    x3 = srdhm_nb(x2, x)
    x4 = srdhm_nb(x2, x2)
    x4_over_4 = rdbpot_nb(x4, 2)
    polynomial = rdbpot_nb(wrap_int32_nb(srdhm_nb(wrap_int32_nb(x4_over_4 + x3), 715827883) + x2), 1)
    return wrap_int32_nb(constant_term + srdhm_nb(constant_term, wrap_int32_nb(x + polynomial)))


@numba.njit(cache=True, inline="always")
def _exp_on_negative_values_q5_nb(a):
    """exp_on_negative_values for Q5.26 input (SOFTMAX's 5 integer bits), Q0.31 out."""
    one_quarter = np.int64(1) << 24
    a_mod_quarter_minus_one_quarter = (a & (one_quarter - 1)) - one_quarter
    result = _exp_on_interval_nb(saturating_shift_left_nb(a_mod_quarter_minus_one_quarter, 5))
    remainder = wrap_int32_nb(a_mod_quarter_minus_one_quarter - a)
    # exp(-2**k) for k = -2 .. 4: the barrel shifter
    if remainder & (np.int64(1) << 24):
        result = srdhm_nb(result, 1672461947)
    if remainder & (np.int64(1) << 25):
        result = srdhm_nb(result, 1302514674)
    if remainder & (np.int64(1) << 26):
        result = srdhm_nb(result, 790015084)
    if remainder & (np.int64(1) << 27):
        result = srdhm_nb(result, 290630308)
    if remainder & (np.int64(1) << 28):
        result = srdhm_nb(result, 39332535)
    if remainder & (np.int64(1) << 29):
        result = srdhm_nb(result, 720401)
    if remainder & (np.int64(1) << 30):
        result = srdhm_nb(result, 242)
    if a == 0:
        return np.int64(2147483647)
    return result


@numba.njit(cache=True, inline="always")
def _one_over_one_plus_x_nb(a):
    total = a + 2147483647
    half_denominator = (total + 1) // 2 if total >= 0 else -((-(total - 1)) // 2)
    x = wrap_int32_nb(1515870810 + srdhm_nb(half_denominator, -1010580540))
    for _ in range(3):
        half_denominator_times_x = srdhm_nb(half_denominator, x)
        one_minus = wrap_int32_nb((1 << 29) - half_denominator_times_x)
        x = wrap_int32_nb(x + saturating_shift_left_nb(srdhm_nb(x, one_minus), 2))
    return saturating_shift_left_nb(x, 1)


@numba.njit(cache=True, nogil=True)
def _softmax_8bit_nb(rows, multiplier, left_shift, diff_min, output_bits, output_min, output_max, out):
    """reference_ops::Softmax (int8/uint8 input), row by row; returns False where TFLite would abort."""
    depth = rows.shape[1]
    exps = np.empty(depth, np.int64)
    for i in range(rows.shape[0]):
        row_max = np.int64(rows[i, 0])
        for c in range(1, depth):
            row_max = max(row_max, np.int64(rows[i, c]))
        total = np.int64(0)
        for c in range(depth):
            diff = np.int64(rows[i, c]) - row_max
            if diff >= diff_min:
                exps[c] = _exp_on_negative_values_q5_nb(mbqm_nb(diff, multiplier, left_shift))
                total += rdbpot_nb(exps[c], 12)
            else:
                exps[c] = 0
        total_u32 = wrap_int32_nb(total) & 0xFFFFFFFF
        headroom_plus_one = 32
        probe = total_u32
        while probe > 0:
            probe >>= 1
            headroom_plus_one -= 1
        shifted_sum_minus_one = wrap_int32_nb(((total_u32 << headroom_plus_one) & 0xFFFFFFFF) - (np.int64(1) << 31))
        shifted_scale = _one_over_one_plus_x_nb(shifted_sum_minus_one)
        exponent = 12 - headroom_plus_one + 31 - output_bits
        if exponent > 31:
            return False
        for c in range(depth):
            diff = np.int64(rows[i, c]) - row_max
            if diff >= diff_min:
                y = rdbpot_nb(srdhm_nb(shifted_scale, exps[c]), exponent) + output_min
                out[i, c] = min(max(y, output_min), output_max)
            else:
                out[i, c] = output_min
    return True


def _softmax_8bit_fast(p: SoftmaxParams, x: np.ndarray) -> np.ndarray:
    out = np.empty(x.shape, p.output_dtype)
    if x.size == 0:
        return out
    depth = x.shape[-1]
    # Python ints: numba types them int64, as np.int64 (one signature), without a NumPy scalar per argument
    ok = _softmax_8bit_nb(np.ascontiguousarray(x).reshape(-1, depth), int(p.input_multiplier),
                          int(p.input_left_shift), int(p.diff_min), int(p.output_bits), int(p.output_min),
                          int(p.output_max), out.reshape(-1, depth))
    if not ok:
        raise EvalError("SOFTMAX: a row's sum of exponentials reaches 512, beyond the int8 kernel's range "
                        "(TFLite aborts on this input)")
    return out

"""FULLY_CONNECTED fast kernels (the rules: ``refinterp/ops/fully_connected.py``).

numba, rows x units in parallel. int16x8: exact int64 sums, then the accumulator's width and the profile's
requantization, one numba loop. int8: an int64 sum wrapped to int32 once (integer sums wrap the same in any
order), then the profile's requantization (C ``round`` of the double product, or MBQM); float32: the spec's
order of float32 operations (d = 0, 1, ...).

uint8 and hybrid: the integer sums come from a float64 GEMM (every product and partial sum is an integer below
``depth * 255 * 255 < 2**53``: exact in any summation order), wrapped to int32; the hybrid SSE sign trick
(``refinterp/ops/hybrid.py``) is a second GEMM over the weights of -128, only when there are any. The rest is
the spec's own vectorized code (requantization, input quantization, float32 rescale, activation).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from refinterp.ops.fast.conv_uint8_hybrid import single_thread_blas
from refinterp.ops.fully_connected import FullyConnectedParams, fully_connected_hybrid, requantize_uint8
from refinterp.ops.hybrid import DOT_BLOCK, hybrid_weights
from refinterp.quant import mbqm64_nb, mbqm_nb, wrap_int32


@numba.njit(cache=True, parallel=True, nogil=True)
def _fc_int8_nb(x, w, bias, input_zero_point, weight_zero_point, float_requant, effective_scale, multipliers,
                shifts, output_zero_point, act_min, act_max):
    rows, depth = x.shape
    units = w.shape[0]
    y = np.empty((rows, units), dtype=np.int8)
    for job in numba.prange(rows * units):
        b = job // units
        u = job % units
        acc = np.int64(bias[u])
        for d in range(depth):
            acc += (np.int64(w[u, d]) - weight_zero_point) * (np.int64(x[b, d]) - input_zero_point)
        acc = ((acc + 2147483648) & 0xFFFFFFFF) - 2147483648  # the C++ accumulator is int32
        if float_requant:
            v = np.float64(acc) * effective_scale[u]
            t = math.trunc(v)
            if abs(v - t) >= 0.5:
                t += 1.0 if v > 0 else -1.0
            if t >= -2147483648.0 and t <= 2147483647.0:
                scaled = np.int64(t)
            else:
                scaled = np.int64(-2147483648)
        else:
            scaled = mbqm_nb(acc, multipliers[u], shifts[u])
        out = ((scaled + output_zero_point + 2147483648) & 0xFFFFFFFF) - 2147483648
        y[b, u] = min(max(out, act_min), act_max)
    return y


@numba.njit(cache=True, parallel=True, nogil=True)
def _fc_int16_nb(x, w, bias, weight_zero_point, accumulator_bits, float_requant, effective_scale, multipliers, shifts,
                 act_min, act_max):
    """int16x8: exact int64 sums, the accumulator's width, the profile's requantization (module docstring)."""
    rows, depth = x.shape
    units = w.shape[0]
    y = np.empty((rows, units), dtype=np.int16)
    for job in numba.prange(rows * units):
        b = job // units
        u = job % units
        acc = bias[u]
        for d in range(depth):
            acc += (np.int64(w[u, d]) - weight_zero_point) * np.int64(x[b, d])
        if accumulator_bits == 32:
            acc = ((acc + 2147483648) & 0xFFFFFFFF) - 2147483648
        if float_requant:
            v = np.float64(acc) * effective_scale[u]
            t = math.trunc(v)
            if abs(v - t) >= 0.5:
                t += 1.0 if v > 0 else -1.0
            scaled = np.int64(t) if t >= -2147483648.0 and t <= 2147483647.0 else np.int64(-2147483648)
        elif accumulator_bits == 32:
            scaled = mbqm_nb(acc, multipliers[u], shifts[u])
        else:
            scaled = mbqm64_nb(acc, multipliers[u], shifts[u])
        y[b, u] = min(max(scaled, act_min), act_max)
    return y


@numba.njit(cache=True, parallel=True, nogil=True)
def _fc_float_nb(x, w, bias, act_min, act_max):
    rows, depth = x.shape
    units = w.shape[0]
    y = np.empty((rows, units), dtype=np.float32)
    for job in numba.prange(rows * units):
        b = job // units
        u = job % units
        total = np.float32(0.0)
        for d in range(depth):
            total += x[b, d] * w[u, d]
        v = total + bias[u]
        y[b, u] = min(max(v, act_min), act_max)
    return y


def _exact_int_gemm(a: np.ndarray, b_t: np.ndarray) -> np.ndarray:
    """``a @ b_t`` of integer-valued float64 matrices (exact, see the module docstring), as int64."""
    single_thread_blas()  # see conv_uint8_hybrid.py
    return (a @ b_t).astype(np.int64)


def _hybrid_dot(p: FullyConnectedParams, w: np.ndarray):
    """sse_dot through float64 GEMMs: ``q [rows, depth] -> int32 [rows, units]``."""
    weights = hybrid_weights(w).reshape(p.units, p.depth)
    weights_t = np.ascontiguousarray(weights.T, dtype=np.float64)
    k16 = p.depth & ~(DOT_BLOCK - 1)
    minus128 = weights[:, :k16] == -128
    mask_t = np.ascontiguousarray(minus128.T, dtype=np.float64) if minus128.any() else None

    def dot(q: np.ndarray) -> np.ndarray:
        qf = q.astype(np.float64)
        acc = _exact_int_gemm(qf, weights_t)
        if mask_t is not None:  # -128 * |q| instead of 128 * |q| where q < 0
            acc += 256 * _exact_int_gemm(np.minimum(qf[:, :k16], 0.0), mask_t)
        return wrap_int32(acc)

    return dot


def fully_connected_fast(p: FullyConnectedParams, x: np.ndarray, w: np.ndarray,
                         bias: np.ndarray | None = None) -> np.ndarray:
    rows = np.ascontiguousarray(x.reshape(-1, p.depth))
    if p.rule == "hybrid":
        return fully_connected_hybrid(p, rows, w, bias, _hybrid_dot(p, w)).reshape(p.output_shape)
    if p.rule == "uint8":
        acc = _exact_int_gemm(rows.astype(np.float64) - p.input_zero_point,
                              np.ascontiguousarray(w.T, dtype=np.float64) - p.weight_zero_point)
        return requantize_uint8(p, acc, bias).reshape(p.output_shape)
    if p.rule == "int16":
        bias64 = bias.astype(np.int64).reshape(-1) if bias is not None else np.zeros(p.units, np.int64)
        y = _fc_int16_nb(rows, np.ascontiguousarray(w), bias64, np.int64(p.weight_zero_point), p.accumulator_bits,
                         p.float_requant, p.effective_scale, p.output_multiplier, p.output_shift, int(p.act_min),
                         int(p.act_max))
        return y.reshape(p.output_shape)
    if p.quantized:
        bias32 = bias.astype(np.int32).reshape(-1) if bias is not None else np.zeros(p.units, np.int32)
        y = _fc_int8_nb(rows, np.ascontiguousarray(w), bias32, np.int32(p.input_zero_point),
                        np.int32(p.weight_zero_point), p.float_requant, p.effective_scale, p.output_multiplier,
                        p.output_shift, p.output_zero_point, int(p.act_min), int(p.act_max))
        return y.reshape(p.output_shape)
    bias32 = bias.astype(np.float32).reshape(-1) if bias is not None else np.zeros(p.units, np.float32)
    y = _fc_float_nb(rows.astype(np.float32), np.ascontiguousarray(w, dtype=np.float32), bias32,
                     np.float32(p.act_min), np.float32(p.act_max))
    return y.reshape(p.output_shape)

"""FULLY_CONNECTED fast kernels (the rules: ``refinterp/ops/fully_connected.py``).

``prepare_fully_connected_fast`` (the registry's ``fast_prepare``) calls the spec prepare, then packs what does
not depend on the activations once, when the weights (and the bias, if any) are constants; otherwise the same
packing runs at each call. A call is then one numba entry with prepared operands: the per-call cost of a small
product is the dispatch and the arithmetic, no NumPy temporaries.

int8: the weights less their zero point as int16 ``w' = w - zp_w`` and the input zero point folded into the bias,
``bias' = bias - zp_in * sum_d w'[u, d]`` (int64). ``sum_d w'[u, d] * x[b, d] + bias'`` equals the reference's
``sum_d w'[u, d] * (x[b, d] - zp_in) + bias`` exactly, and so does its int32 wrap (every step is a ring operation
modulo 2^32, which is what the C++ int32 accumulator computes); then the profile's requantization (litert-ref:
C ``round`` of the double product; tflm: MBQM). Serial below ``PARALLEL_MACS`` multiply-adds (waking numba's
worker threads costs more than a small product), rows x units in parallel above.

int16x8: the weights less their zero point (per-tensor) at prepare, exact int64 sums, then the accumulator's width
and the profile's requantization. float32: the spec's order of float32 operations (d = 0, 1, ...) for each output,
over the transposed weights so that the units, not the sum, run in vector lanes. Both serial or parallel as int8.

uint8: the integer sums come from a float64 GEMM (every product and partial sum is an integer below
``depth * 255 * 255 < 2**53``: exact in any summation order), wrapped to int32; the rest is the spec's code.

hybrid (float32 input, int8 weights): one serial numba call runs EvalHybridDense as ``refinterp/ops/hybrid.py``
states it: NeonIsZeroVector over the whole input, the row's symmetric or asymmetric quantization (every float32
operation one float32 operation, in the same order), the int8 dot products with the SSE sign trick (a weight of
-128 meeting a negative input adds ``256 * q`` to the exact product: the columns where the first ``K & ~15``
hold -128 are listed at prepare), the asymmetric correction by the SSE row sums (at prepare), the float32 rescale
``f32(bias + f32(f32(dot) * row_scale))`` and ApplyActivationToVector.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from refinterp.errors import EvalError
from refinterp.ops.common import OpContext
from refinterp.ops.fast.conv_uint8_hybrid import single_thread_blas
from refinterp.ops.fully_connected import FullyConnectedParams, prepare_fully_connected, requantize_uint8
from refinterp.ops.hybrid import DOT_BLOCK, QUANT_BLOCK, hybrid_weights, sse_row_sums
from refinterp.quant import ACT_RELU, ACT_RELU6, ACT_RELU_N1_TO_1, ACT_SIGN_BIT, mbqm64_nb, mbqm_nb

#: multiply-adds from which the int8 kernel runs rows x units on numba's worker threads
PARALLEL_MACS = 1 << 20

# the int8 and int16 kernels' integer settings, one int64 array (fewer arguments: a shorter numba dispatch)
_FLOAT_REQUANT, _OUTPUT_ZERO_POINT, _ACT_MIN, _ACT_MAX, _ACCUMULATOR_BITS = range(5)
# the hybrid kernel's settings
_ASYMMETRIC, _PER_CHANNEL, _ACTIVATION = range(3)
# the hybrid kernels' outcomes besides 0 (done): a non-finite input, an asymmetric range past float32
NON_FINITE, RANGE_OVERFLOW = 1, 2


@dataclass(frozen=True)
class FullyConnectedFastParams:
    """The spec's params and the operands packed once (None: packed at each call, the weights are not constant)."""

    spec: FullyConnectedParams
    packed: tuple | None = None


# ------------------------------------------------------------------------------------------------
# int8


@numba.njit(cache=True, nogil=True, inline="always")
def _fc_int8_unit(x, w, bias, scale, multipliers, shifts, settings, b, u):
    depth = x.shape[1]
    acc32 = np.int32(0)
    for d in range(depth):  # int32 lanes, wrapping: what the C++ int32 accumulator computes (2.5x int64's speed)
        acc32 = np.int32(acc32 + np.int32(w[u, d]) * np.int32(x[b, d]))
    acc = ((np.int64(acc32) + bias[u] + 2147483648) & 0xFFFFFFFF) - 2147483648
    if settings[_FLOAT_REQUANT]:
        v = np.float64(acc) * scale[u]
        t = math.trunc(v)
        if abs(v - t) >= 0.5:
            t += 1.0 if v > 0 else -1.0
        scaled = np.int64(t) if t >= -2147483648.0 and t <= 2147483647.0 else np.int64(-2147483648)
    else:
        scaled = mbqm_nb(acc, multipliers[u], shifts[u])
    out = ((scaled + settings[_OUTPUT_ZERO_POINT] + 2147483648) & 0xFFFFFFFF) - 2147483648
    return min(max(out, settings[_ACT_MIN]), settings[_ACT_MAX])


@numba.njit(cache=True, nogil=True)
def _fc_int8_serial_nb(x, w, bias, scale, multipliers, shifts, settings):
    rows = x.shape[0]
    units = w.shape[0]
    y = np.empty((rows, units), dtype=np.int8)
    for b in range(rows):
        for u in range(units):
            y[b, u] = _fc_int8_unit(x, w, bias, scale, multipliers, shifts, settings, b, u)
    return y


@numba.njit(cache=True, parallel=True, nogil=True)
def _fc_int8_parallel_nb(x, w, bias, scale, multipliers, shifts, settings):
    rows = x.shape[0]
    units = w.shape[0]
    y = np.empty((rows, units), dtype=np.int8)
    for job in numba.prange(rows * units):
        b = job // units
        u = job % units
        y[b, u] = _fc_int8_unit(x, w, bias, scale, multipliers, shifts, settings, b, u)
    return y


def _pack_int8(p: FullyConnectedParams, w: np.ndarray, bias: np.ndarray | None) -> tuple:
    """(w' int16 [units, depth], bias' int64 [units], scale, multipliers, shifts, settings): module docstring."""
    weights = (np.asarray(w, dtype=np.int16) - np.int16(p.weight_zero_point)).reshape(p.units, p.depth)
    folded = -np.int64(p.input_zero_point) * weights.astype(np.int64).sum(axis=1)
    if bias is not None:
        folded = folded + np.asarray(bias, dtype=np.int64).reshape(-1)
    settings = np.array([int(p.float_requant), p.output_zero_point, int(p.act_min), int(p.act_max)], np.int64)
    scale = (np.asarray(p.effective_scale, dtype=np.float64) if p.effective_scale is not None
             else np.zeros(p.units, np.float64))
    return (np.ascontiguousarray(weights), np.ascontiguousarray(folded), np.ascontiguousarray(scale),
            np.ascontiguousarray(p.output_multiplier, dtype=np.int64),
            np.ascontiguousarray(p.output_shift, dtype=np.int64), settings)


# ------------------------------------------------------------------------------------------------
# int16x8 and float32


@numba.njit(cache=True, nogil=True, inline="always")
def _fc_int16_unit(x, w, bias, scale, multipliers, shifts, settings, b, u):
    """int16x8: exact int64 sums, the accumulator's width, the profile's requantization (module docstring)."""
    depth = x.shape[1]
    acc = bias[u]
    for d in range(depth):
        acc += np.int64(w[u, d]) * np.int64(x[b, d])
    accumulator_bits = settings[_ACCUMULATOR_BITS]
    if accumulator_bits == 32:
        acc = ((acc + 2147483648) & 0xFFFFFFFF) - 2147483648
    if settings[_FLOAT_REQUANT]:
        v = np.float64(acc) * scale[u]
        t = math.trunc(v)
        if abs(v - t) >= 0.5:
            t += 1.0 if v > 0 else -1.0
        scaled = np.int64(t) if t >= -2147483648.0 and t <= 2147483647.0 else np.int64(-2147483648)
    elif accumulator_bits == 32:
        scaled = mbqm_nb(acc, multipliers[u], shifts[u])
    else:
        scaled = mbqm64_nb(acc, multipliers[u], shifts[u])
    return min(max(scaled, settings[_ACT_MIN]), settings[_ACT_MAX])


@numba.njit(cache=True, nogil=True)
def _fc_int16_serial_nb(x, w, bias, scale, multipliers, shifts, settings):
    rows = x.shape[0]
    units = w.shape[0]
    y = np.empty((rows, units), dtype=np.int16)
    for b in range(rows):
        for u in range(units):
            y[b, u] = _fc_int16_unit(x, w, bias, scale, multipliers, shifts, settings, b, u)
    return y


@numba.njit(cache=True, parallel=True, nogil=True)
def _fc_int16_parallel_nb(x, w, bias, scale, multipliers, shifts, settings):
    rows = x.shape[0]
    units = w.shape[0]
    y = np.empty((rows, units), dtype=np.int16)
    for job in numba.prange(rows * units):
        b = job // units
        u = job % units
        y[b, u] = _fc_int16_unit(x, w, bias, scale, multipliers, shifts, settings, b, u)
    return y


@numba.njit(cache=True, nogil=True, inline="always")
def _fc_float_row(x, w_t, bias, act_min, act_max, y, b, total):
    """One row in the spec's order: total[u] += x[b, d] * w[u, d] for d = 0, 1, ... (float32), over the
    transposed weights ``w_t [depth, units]`` so that the units vectorize (each total keeps its own order)."""
    depth, units = w_t.shape
    total[:] = 0.0
    for d in range(depth):
        xd = x[b, d]
        for u in range(units):
            total[u] += xd * w_t[d, u]
    for u in range(units):
        v = total[u] + bias[u]
        y[b, u] = min(max(v, act_min), act_max)


@numba.njit(cache=True, nogil=True)
def _fc_float_serial_nb(x, w_t, bias, act_min, act_max):
    rows = x.shape[0]
    units = w_t.shape[1]
    y = np.empty((rows, units), dtype=np.float32)
    total = np.empty(units, dtype=np.float32)
    for b in range(rows):
        _fc_float_row(x, w_t, bias, act_min, act_max, y, b, total)
    return y


@numba.njit(cache=True, parallel=True, nogil=True)
def _fc_float_parallel_nb(x, w_t, bias, act_min, act_max):
    rows = x.shape[0]
    units = w_t.shape[1]
    y = np.empty((rows, units), dtype=np.float32)
    for b in numba.prange(rows):
        _fc_float_row(x, w_t, bias, act_min, act_max, y, b, np.empty(units, dtype=np.float32))
    return y


def _pack_int16(p: FullyConnectedParams, w: np.ndarray, bias: np.ndarray | None) -> tuple:
    """(w' int16 [units, depth] (per-tensor weights less their zero point), int64 bias, scale, multipliers,
    shifts, settings)."""
    weights = (np.asarray(w, dtype=np.int16) - np.int16(p.weight_zero_point)).reshape(p.units, p.depth)
    bias64 = np.asarray(bias, dtype=np.int64).reshape(-1) if bias is not None else np.zeros(p.units, np.int64)
    settings = np.zeros(5, np.int64)
    settings[[_FLOAT_REQUANT, _ACT_MIN, _ACT_MAX, _ACCUMULATOR_BITS]] = (int(p.float_requant), int(p.act_min),
                                                                        int(p.act_max), p.accumulator_bits)
    scale = (np.asarray(p.effective_scale, dtype=np.float64) if p.effective_scale is not None
             else np.zeros(p.units, np.float64))
    return (np.ascontiguousarray(weights), np.ascontiguousarray(bias64), np.ascontiguousarray(scale),
            np.ascontiguousarray(p.output_multiplier, dtype=np.int64),
            np.ascontiguousarray(p.output_shift, dtype=np.int64), settings)


def _pack_float(p: FullyConnectedParams, w: np.ndarray, bias: np.ndarray | None) -> tuple:
    """(float32 w^T [depth, units], float32 bias (zeros when absent: the reference adds 0.0f), act_min, act_max)."""
    bias32 = np.asarray(bias, dtype=np.float32).reshape(-1) if bias is not None else np.zeros(p.units, np.float32)
    w_t = np.ascontiguousarray(np.asarray(w, dtype=np.float32).reshape(p.units, p.depth).T)
    return (w_t, np.ascontiguousarray(bias32), np.float32(p.act_min), np.float32(p.act_max))


def _pack_uint8(p: FullyConnectedParams, w: np.ndarray, bias: np.ndarray | None) -> tuple:
    weights_t = np.ascontiguousarray(np.asarray(w).reshape(p.units, p.depth).T, dtype=np.float64)
    return (weights_t - p.weight_zero_point, None if bias is None else np.asarray(bias).copy())


# ------------------------------------------------------------------------------------------------
# hybrid


@numba.njit(cache=True, nogil=True, inline="always")
def _cvtt_int32(v):
    """static_cast<int32_t> on x86 (cvttss2si): truncate; out of range or NaN -> INT32_MIN."""
    if v > -2147483649.0 and v < 2147483648.0:
        return np.int64(math.trunc(v))
    return np.int64(-2147483648)


@numba.njit(cache=True, nogil=True, inline="always")
def _round_half_away_f32(v):
    """roundf of a float32, as a float32."""
    t = np.float32(math.trunc(v))
    if abs(np.float32(v - t)) >= np.float32(0.5):
        return np.float32(t + (np.float32(1.0) if v > 0 else np.float32(-1.0)))
    return t


@numba.njit(cache=True, nogil=True)
def quantize_row_nb(row, asymmetric, q):
    """NeonSymmetric/AsymmetricQuantizeFloats of one finite row into ``q``: (float32 scale, zero point, outcome)."""
    n = row.shape[0]
    if n == 0:  # an empty row: scale 1, zero point 0 (a hybrid BATCH_MATMUL of depth 0)
        return np.float32(1.0), 0, 0
    low = row[0]
    high = row[0]
    for i in range(1, n):
        if row[i] < low:
            low = row[i]
        if row[i] > high:
            high = row[i]
    blocks = n & ~(QUANT_BLOCK - 1)
    if not asymmetric:
        value_range = max(abs(low), abs(high))
        if value_range == 0:
            q[:] = 0
            return np.float32(1.0), 0, 0
        scale = np.float32(value_range / np.float32(127.0))
        inverse = np.float32(np.float32(127.0) / value_range)
        for i in range(n):
            v = np.float32(row[i] * inverse)
            if i < blocks:  # RoundToNearest: trunc(f32(v + (v < 0 ? -0.5f : 0.5f)))
                r = _cvtt_int32(np.float32(v + (np.float32(-0.5) if v < 0 else np.float32(0.5))))
            else:
                r = _cvtt_int32(_round_half_away_f32(v))
            q[i] = min(max(r, -127), 127)
        return scale, 0, 0
    rmin = low if low < np.float32(0.0) else np.float32(0.0)
    rmax = high if high > np.float32(0.0) else np.float32(0.0)
    if rmin == rmax:
        q[:] = 0
        return np.float32(1.0), 0, 0
    scale_f64 = np.float64(np.float32(rmax - rmin)) / 255.0
    if not math.isfinite(scale_f64):
        return np.float32(1.0), 0, RANGE_OVERFLOW
    zero_point_from_min = -128.0 - np.float64(rmin) / scale_f64
    zero_point_from_max = 127.0 - np.float64(rmax) / scale_f64
    error_from_min = 128.0 + abs(np.float64(rmin) / scale_f64)
    error_from_max = 127.0 + abs(np.float64(rmax) / scale_f64)
    zero_point_f64 = zero_point_from_min if error_from_min < error_from_max else zero_point_from_max
    if zero_point_f64 <= -128.0:
        zero_point = -128
    elif zero_point_f64 >= 127.0:
        zero_point = 127
    else:
        truncated = math.trunc(zero_point_f64)
        zero_point = int(truncated)
        if abs(zero_point_f64 - truncated) >= 0.5:
            zero_point += 1 if zero_point_f64 > 0 else -1
    scale = np.float32(scale_f64)
    inverse = np.float32(0.0) if scale == 0 else np.float32(1.0 / np.float64(scale))
    zero_point_f32 = np.float32(zero_point)
    for i in range(n):
        v = np.float32(row[i] * inverse)
        if i < blocks:
            r = _cvtt_int32(np.float32(v + (np.float32(-0.5) if v < 0 else np.float32(0.5)))) + zero_point
        else:
            r = _cvtt_int32(np.float32(zero_point_f32 + _round_half_away_f32(v)))
        q[i] = min(max(r, -128), 127)
    return scale, zero_point, 0


@numba.njit(cache=True, nogil=True)
def _fc_hybrid_nb(x, w, minus128_starts, minus128_columns, row_sums, bias, filter_scales, settings):
    """EvalHybridDense (module docstring): (float32 [rows, units], outcome)."""
    rows, depth = x.shape
    units = w.shape[0]
    asymmetric = settings[_ASYMMETRIC] != 0
    per_channel = settings[_PER_CHANNEL] != 0
    activation = settings[_ACTIVATION]
    out = np.empty((rows, units), dtype=np.float32)
    # NeonIsZeroVector over the whole tensor: blocks of 4 test |v| > 0 (a NaN counts as zero), the tail v != 0
    total = rows * depth
    blocks4 = total & ~3
    nonzero = False
    finite = True
    for i in range(total):
        v = x[i // depth, i % depth]
        if (i < blocks4 and abs(v) > 0) or (i >= blocks4 and v != 0):
            nonzero = True
        if not math.isfinite(v):
            finite = False
    if not nonzero:
        for b in range(rows):
            out[b, :] = bias
    else:
        if not finite:
            return out, NON_FINITE
        q = np.empty(depth, dtype=np.int32)
        for b in range(rows):
            input_scale, zero_point, outcome = quantize_row_nb(x[b], asymmetric, q)
            if outcome != 0:
                return out, outcome
            for u in range(units):
                acc32 = np.int32(0)
                for d in range(depth):  # int32 lanes, wrapping (the int32 sum wraps)
                    acc32 = np.int32(acc32 + np.int32(w[u, d]) * q[d])
                acc = np.int64(acc32)
                for k in range(minus128_starts[u], minus128_starts[u + 1]):  # the SSE sign trick
                    acc += 256 * min(np.int64(q[minus128_columns[k]]), 0)
                acc = ((acc + 2147483648) & 0xFFFFFFFF) - 2147483648
                if asymmetric:
                    correction = ((zero_point * row_sums[u] + 2147483648) & 0xFFFFFFFF) - 2147483648
                    acc = ((acc - correction + 2147483648) & 0xFFFFFFFF) - 2147483648
                if per_channel:
                    row_scale = np.float32(filter_scales[u] * input_scale)
                else:
                    row_scale = np.float32(input_scale * filter_scales[0])
                out[b, u] = np.float32(bias[u] + np.float32(np.float32(acc) * row_scale))
    # ApplyActivationToVector with std::max/std::min: max(a, b) = a < b ? b : a
    zero, one, six = np.float32(0.0), np.float32(1.0), np.float32(6.0)
    if activation == ACT_RELU or activation == ACT_RELU6 or activation == ACT_RELU_N1_TO_1 or \
            activation == ACT_SIGN_BIT:
        for b in range(rows):
            for u in range(units):
                v = out[b, u]
                if activation == ACT_RELU:
                    v = v if zero < v else zero
                elif activation == ACT_RELU6:
                    v = six if six < v else v
                    v = v if zero < v else zero
                elif activation == ACT_RELU_N1_TO_1:
                    v = one if one < v else v
                    v = v if -one < v else -one
                else:
                    v = one if math.copysign(1.0, v) < 0 else zero
                out[b, u] = v
    return out, 0


def _pack_hybrid(p: FullyConnectedParams, w: np.ndarray, bias: np.ndarray | None) -> tuple:
    """(int8 weights [units, depth], the -128 columns within the first K & ~15 as CSR starts and columns, SSE row
    sums, float32 bias (zeros when absent: 0.0f + y is the spec's start), filter scales, settings)."""
    weights = np.ascontiguousarray(hybrid_weights(w).reshape(p.units, p.depth))
    k16 = p.depth & ~(DOT_BLOCK - 1)
    units, columns = np.nonzero(weights[:, :k16] == -128)
    starts = np.zeros(p.units + 1, np.int64)
    np.cumsum(np.bincount(units, minlength=p.units), out=starts[1:])
    row_sums = sse_row_sums(weights).astype(np.int64) if p.asymmetric else np.zeros(p.units, np.int64)
    bias32 = np.asarray(bias, dtype=np.float32).reshape(-1).copy() if bias is not None else np.zeros(p.units,
                                                                                                    np.float32)
    settings = np.array([int(p.asymmetric), int(p.filter_scales.size > 1), p.activation], np.int64)
    return (weights, starts, columns.astype(np.int64), np.ascontiguousarray(row_sums), bias32,
            np.ascontiguousarray(p.filter_scales, dtype=np.float32), settings)


def hybrid_outcome_error(outcome: int) -> EvalError:
    """The EvalError of a hybrid kernel's outcome (``quantize_rows``'s messages)."""
    if outcome == NON_FINITE:
        return EvalError("hybrid input quantization: the input holds an infinity or a NaN (LiteRT's min/max search "
                         "and quantization are undefined for them)")
    return EvalError("hybrid input quantization: the input's range overflows float32 (LiteRT's zero point is then "
                     "NaN, undefined)")


def _run_hybrid(packed: tuple, rows: np.ndarray) -> np.ndarray:
    y, outcome = _fc_hybrid_nb(rows, *packed)
    if outcome != 0:
        raise hybrid_outcome_error(outcome)
    return y


# ------------------------------------------------------------------------------------------------
# Prepare and entry point (the registry's FULLY_CONNECTED ``fast_prepare`` and ``fast``)

_PACKERS = {"int8": _pack_int8, "int16": _pack_int16, "float32": _pack_float, "uint8": _pack_uint8,
            "hybrid": _pack_hybrid}


def prepare_fully_connected_fast(ctx: OpContext) -> FullyConnectedFastParams:
    spec = prepare_fully_connected(ctx)
    w, bias = ctx.require_input(1), ctx.input(2)
    if not w.is_constant or (bias is not None and not bias.is_constant):
        return FullyConnectedFastParams(spec)
    return FullyConnectedFastParams(spec, _PACKERS[spec.rule](spec, w.data, None if bias is None else bias.data))


def fully_connected_fast(params: FullyConnectedFastParams, x: np.ndarray, w: np.ndarray,
                         bias: np.ndarray | None = None) -> np.ndarray:
    p = params.spec
    packed = params.packed if params.packed is not None else _PACKERS[p.rule](p, w, bias)
    rows = np.ascontiguousarray(x).reshape(-1, p.depth)
    if p.rule == "int8":
        kernel = _fc_int8_parallel_nb if rows.shape[0] * p.units * p.depth >= PARALLEL_MACS else _fc_int8_serial_nb
        return kernel(rows, *packed).reshape(p.output_shape)
    if p.rule == "hybrid":
        return _run_hybrid(packed, rows.astype(np.float32, copy=False)).reshape(p.output_shape)
    if p.rule == "uint8":
        weights_t, bias_values = packed
        single_thread_blas()  # see conv_uint8_hybrid.py
        acc = ((rows.astype(np.float64) - p.input_zero_point) @ weights_t).astype(np.int64)
        return requantize_uint8(p, acc, bias_values).reshape(p.output_shape)
    if p.rule == "int16":
        kernel = _fc_int16_parallel_nb if rows.shape[0] * p.units * p.depth >= PARALLEL_MACS else _fc_int16_serial_nb
        return kernel(rows, *packed).reshape(p.output_shape)
    kernel = _fc_float_parallel_nb if rows.shape[0] * p.units * p.depth >= PARALLEL_MACS else _fc_float_serial_nb
    return kernel(rows.astype(np.float32, copy=False), *packed).reshape(p.output_shape)

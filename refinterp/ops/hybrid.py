"""What LiteRT's hybrid (dynamic-range) kernels share: on-the-fly input quantization and their int8 dot products.

A hybrid CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED has float32 activations and int8 weights (uint8 weights
are read as int8: ``GetTensorData<int8_t>(filter)``, the zero point ignored). At each invoke the float input is
quantized to int8, one scale (and zero point) per batch row, the integer products are summed in int32, and the
sum is rescaled in float32. These are the rules the ai-edge-litert 2.3.0 x86-64 wheel follows under
BUILTIN_REF; the build compiles ``neon_tensor_utils.cc`` through the NEON_2_SSE translator (USE_NEON) and
``sse_tensor_utils.cc`` (SSSE3/SSE4.1), so the optimized tensor_utils run even in the reference kernels.
Each rule below was measured against that wheel (0 mismatches); the sources are ``neon_tensor_utils.cc``
(``NeonSymmetricQuantizeFloats``, ``NeonAsymmetricQuantizeFloats``, ``NeonMinMax``, ``RoundToNearest``,
``NeonIsZeroVector``) and ``sse_tensor_utils.cc`` (``DotProdInt8x4x4``, ``SseReductionSumVector``).

Symmetric quantization of one row ``x`` (``SymmetricQuantizeFloats``)::

    range = max(|min x|, |max x|)                       (range 0: q = 0, scale = 1)
    scale = f32(range / 127);  inv = f32(127 / range)
    q[i]  = clamp(RoundToNearest(f32(x[i] * inv)), -127, 127)   for i < n & ~7 (blocks of 8)
            clamp(round_half_away(f32(inv * x[i])), -127, 127)   for the last n % 8

with ``RoundToNearest(v) = trunc(f32(v + (v < 0 ? -0.5f : 0.5f)))`` (the float add rounds: 0.49999997 gives 1).

Asymmetric quantization (``AsymmetricQuantizeFloats``)::

    rmin = min(0, min x); rmax = max(0, max x)           (rmin == rmax: q = 0, scale = 1, zero point 0)
    s    = f64(f32(rmax - rmin)) / 255                   (the subtraction is float32, the division double)
    zp   = the TFLite nudged zero point in double: -128 - rmin/s or 127 - rmax/s, whichever has the smaller
           error |qmin| + |rmin/s| vs |qmax| + |rmax/s|; clamped to [-128, 127], else round half away
    scale = f32(s);  inv = f32(1.0 / f64(scale))
    q[i]  = clamp(RoundToNearest(f32(x[i] * inv)) + zp, -128, 127)       (blocks of 8)
            clamp(int(f32(zp + round_half_away(f32(inv * x[i])))), -128, 127)   (the last n % 8)

The dot product of a weight row ``w`` with a quantized row ``q`` in ``SseMatrixBatchVectorMultiplyAccumulateImpl``
runs the first ``K & ~15`` columns through ``_mm_maddubs_epi16(abs(q), sign(w, q))``: ``sign(w, q)`` is the
wrapping int8 negation ``-w`` where ``q < 0``, so a weight of -128 meeting a negative input contributes
``-128 * |q|`` instead of ``128 * |q|``; every other product (and the remaining columns) is exact. Pair sums
never saturate (``|q| <= 128``, ``|sign(w, q)| <= 128``, never two +128s). The int32 sum wraps.

A non-finite input (or a range that overflows float32: ``rmax - rmin`` of +-3e38) is an EvalError: LiteRT's
min/max search (``std::minmax_element``) and its conversion of a NaN zero point to int8 are not defined for
them.

Row sums for the asymmetric zero-point correction (``SseReductionSumVector``) add pairs of weights into eight
int16 lanes, wrapping, over the blocks of 16 and one block of 8; then the lanes and the remaining columns in
int32.
"""

from __future__ import annotations

import math

import numpy as np

from refinterp.errors import EvalError
from refinterp.quant import INT32_MIN, round_half_away_f32, wrap_int32

QUANT_BLOCK = 8  # NeonSymmetric/AsymmetricQuantizeFloats: 2 * 4 floats per vector iteration
DOT_BLOCK = 16  # SseMatrixBatchVectorMultiplyAccumulateImpl: 16 int8 per DotProdInt8x4x4


def _cvtt_int32(values: np.ndarray) -> np.ndarray:
    """``vcvtq_s32_f32`` through NEON_2_SSE / ``static_cast<int32_t>`` on x86: truncate, out of range -> INT32_MIN."""
    values = np.asarray(values, dtype=np.float64)
    inside = (values > -2147483649.0) & (values < 2147483648.0)  # NaN compares false
    return np.where(inside, np.trunc(np.where(inside, values, 0.0)), INT32_MIN).astype(np.int64)


def round_to_nearest_neon(v: np.ndarray) -> np.ndarray:
    """``RoundToNearest`` (neon_tensor_utils.cc, non-ARMv8): ``trunc(f32(v + (v < 0 ? -0.5f : 0.5f)))``."""
    v = np.asarray(v, dtype=np.float32)
    half = np.where(v < 0, np.float32(-0.5), np.float32(0.5)).astype(np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        return _cvtt_int32((v + half).astype(np.float32))


def _round_half_away_int(v: np.ndarray) -> np.ndarray:
    """``static_cast<int32_t>(TfLiteRound(v))`` of float32 values."""
    with np.errstate(invalid="ignore"):
        return _cvtt_int32(round_half_away_f32(v))


def symmetric_quantize(x: np.ndarray) -> tuple[np.ndarray, np.float32]:
    """NeonSymmetricQuantizeFloats of one row: (int64 values in [-127, 127], float32 scale)."""
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    if x.size == 0:
        return np.zeros(0, np.int64), np.float32(1.0)
    low, high = np.float32(x.min()), np.float32(x.max())
    value_range = max(abs(low), abs(high))
    if value_range == 0:
        return np.zeros(x.size, np.int64), np.float32(1.0)
    scale = np.float32(value_range / np.float32(127))
    inverse = np.float32(np.float32(127) / value_range)
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = (x * inverse).astype(np.float32)
    blocks = x.size & ~(QUANT_BLOCK - 1)
    q = np.concatenate([round_to_nearest_neon(scaled[:blocks]), _round_half_away_int(scaled[blocks:])])
    return np.clip(q, -127, 127), scale


def asymmetric_quantize(x: np.ndarray) -> tuple[np.ndarray, np.float32, int]:
    """NeonAsymmetricQuantizeFloats of one row: (int64 values in [-128, 127], float32 scale, zero point)."""
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    rmin = min(np.float32(0.0), np.float32(x.min())) if x.size else np.float32(0.0)
    rmax = max(np.float32(0.0), np.float32(x.max())) if x.size else np.float32(0.0)
    if rmin == rmax:
        return np.zeros(x.size, np.int64), np.float32(1.0), 0
    with np.errstate(over="ignore"):
        scale_f64 = float(np.float32(rmax - rmin)) / 255.0
    if not math.isfinite(scale_f64):
        raise EvalError("hybrid input quantization: the input's range overflows float32 (LiteRT's zero point is "
                        "then NaN, undefined)")
    zero_point_from_min = -128.0 - float(rmin) / scale_f64
    zero_point_from_max = 127.0 - float(rmax) / scale_f64
    error_from_min = 128.0 + abs(float(rmin) / scale_f64)
    error_from_max = 127.0 + abs(float(rmax) / scale_f64)
    zero_point_f64 = zero_point_from_min if error_from_min < error_from_max else zero_point_from_max
    if zero_point_f64 <= -128.0:
        zero_point = -128
    elif zero_point_f64 >= 127.0:
        zero_point = 127
    else:
        truncated = int(zero_point_f64)
        zero_point = truncated + (int(np.sign(zero_point_f64)) if abs(zero_point_f64 - truncated) >= 0.5 else 0)
    scale = np.float32(scale_f64)
    inverse = np.float32(0.0) if scale == 0 else np.float32(1.0 / float(scale))
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = (x * inverse).astype(np.float32)
        blocks = x.size & ~(QUANT_BLOCK - 1)
        tail = _cvtt_int32((np.float32(zero_point) + round_half_away_f32(scaled[blocks:])).astype(np.float32))
    q = np.concatenate([round_to_nearest_neon(scaled[:blocks]) + zero_point, tail])
    return np.clip(q, -128, 127), scale, zero_point


def quantize_rows(rows: np.ndarray, asymmetric: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quantize each row of a [batches, n] float32 array: (int64 q [batches, n], float32 scales, int64 zps)."""
    if not np.all(np.isfinite(rows)):
        raise EvalError("hybrid input quantization: the input holds an infinity or a NaN (LiteRT's min/max search "
                        "and quantization are undefined for them)")
    q = np.zeros(rows.shape, np.int64)
    scales = np.ones(rows.shape[0], np.float32)
    zero_points = np.zeros(rows.shape[0], np.int64)
    for b in range(rows.shape[0]):
        if asymmetric:
            q[b], scales[b], zero_points[b] = asymmetric_quantize(rows[b])
        else:
            q[b], scales[b] = symmetric_quantize(rows[b])
    return q, scales, zero_points


def is_zero_vector(x: np.ndarray) -> bool:
    """NeonIsZeroVector: blocks of 4 test ``|v| > 0`` (a NaN counts as zero there), the tail ``v != 0``."""
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    blocks = x.size & ~3
    with np.errstate(invalid="ignore"):
        return not (np.any(np.abs(x[:blocks]) > 0) or np.any(x[blocks:] != 0))


def sse_dot(weights: np.ndarray, q: np.ndarray) -> np.ndarray:
    """int32 dot products of int8 weight rows ``[rows, K]`` with int8 vectors ``q [n, K]``: ``[n, rows]``.

    The first ``K & ~15`` columns use the sign trick of DotProdInt8x4x4 (see the module docstring).
    """
    w = np.asarray(weights, dtype=np.int64)
    q = np.asarray(q, dtype=np.int64)
    k16 = w.shape[1] & ~(DOT_BLOCK - 1)
    exact = q @ w.T
    # the trick differs from the exact product only where w == -128 and q < 0: -128|q| instead of 128|q|
    minus128 = (w[:, :k16] == -128).astype(np.int64)
    if minus128.any():
        exact = exact + 256 * (np.minimum(q[:, :k16], 0) @ minus128.T)
    return wrap_int32(exact)


def sse_row_sums(weights: np.ndarray) -> np.ndarray:
    """SseReductionSumVector: row sums of int8 weights ``[rows, K]`` through eight wrapping int16 lanes (int64)."""
    w = np.asarray(weights, dtype=np.int64)
    rows, depth = w.shape
    k16 = depth & ~(DOT_BLOCK - 1)
    pair_sums = w[:, :k16].reshape(rows, -1, 8, 2).sum(axis=3)  # [rows, blocks, lane]
    lanes = np.zeros((rows, 8), np.int64)
    for block in range(pair_sums.shape[1]):
        lanes = ((lanes + pair_sums[:, block] + 32768) & 0xFFFF) - 32768
    column = k16
    if column < (depth & ~7):  # the SSE4.1 postamble: eight more columns, one per lane
        lanes = ((lanes + w[:, column:column + 8] + 32768) & 0xFFFF) - 32768
        column += 8
    return wrap_int32(lanes.sum(axis=1) + w[:, column:].sum(axis=1))


def hybrid_weights(w: np.ndarray) -> np.ndarray:
    """The weights as the hybrid kernels read them: int8 (uint8 bytes reinterpreted, zero point ignored)."""
    return np.ascontiguousarray(w).view(np.int8) if w.dtype == np.uint8 else np.asarray(w, dtype=np.int8)

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
from refinterp.quant import (
    ACT_NONE,
    ACT_RELU,
    ACT_RELU6,
    ACT_RELU_N1_TO_1,
    ACT_SIGN_BIT,
    INT32_MIN,
    round_half_away_f32,
    wrap_int32,
)

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


# ------------------------------------------------------------------------------------------------
# explain: the shared steps of the hybrid rules (``refinterp explain``; refinterp/ops/trace.py)


def explain_quantize_row(trace, row: np.ndarray, asymmetric: bool, what: str = "input row", listed: bool = True
                         ) -> tuple[np.ndarray, np.float32, int]:
    """The on-the-fly quantization of one float32 row, step by step, with this module's own functions
    (:func:`symmetric_quantize` / :func:`asymmetric_quantize`): (int64 q, float32 scale, zero point).
    ``listed``: show every value (a dot product's row); False for a whole image (its range and scale only)."""
    row = np.asarray(row, dtype=np.float32).reshape(-1)
    if listed:
        trace.add(what, row, f"{row.size} float32 values, quantized to int8 at each invoke (the whole row, one "
                  "scale)", items=[{"k": k, "x": v} for k, v in enumerate(row)])
    else:
        trace.add(what, int(row.size), f"{row.size} float32 values, quantized to int8 at each invoke with one scale")
    blocks = row.size & ~(QUANT_BLOCK - 1)
    rounding = (f"the first {blocks} values (blocks of {QUANT_BLOCK}) with RoundToNearest: trunc(f32(v +- 0.5f)); "
                f"the last {row.size - blocks} with round half away from zero")
    if asymmetric:
        q, scale, zero_point = asymmetric_quantize(row)
        rmin = min(np.float32(0.0), np.float32(row.min())) if row.size else np.float32(0.0)
        rmax = max(np.float32(0.0), np.float32(row.max())) if row.size else np.float32(0.0)
        trace.add("row range", [rmin, rmax], "rmin = min(0, min x), rmax = max(0, max x) (AsymmetricQuantizeFloats)")
        if rmin == rmax:
            trace.add("row scale", scale, "an all-zero range: q = 0, scale 1, zero point 0")
        else:
            trace.add("row scale", scale, f"f32(f64(f32(rmax - rmin)) / 255) = {float(scale)!r}")
            trace.add("row zero point", zero_point, "TFLite's nudged zero point, in double: -128 - rmin/s or "
                      "127 - rmax/s (the smaller error), clamped to [-128, 127], rounded half away from zero",
                      rule="round to nearest, ties away from zero")
            inverse = np.float32(1.0 / float(scale)) if scale else np.float32(0.0)
            trace.add("inverse scale", inverse, "f32(1.0 / f64(scale))")
        trace.add("quantized row", q, f"clamp(round(f32(x * inverse)) + zp, -128, 127): {rounding}",
                  rule="round to nearest, ties away from zero")
        return q, scale, int(zero_point)
    q, scale = symmetric_quantize(row)
    value_range = max(abs(np.float32(row.min())), abs(np.float32(row.max()))) if row.size else np.float32(0.0)
    trace.add("row range", value_range, "max(|min x|, |max x|) (SymmetricQuantizeFloats)")
    if value_range == 0:
        trace.add("row scale", scale, "an all-zero row: q = 0, scale 1")
    else:
        trace.add("row scale", scale, f"f32(range / 127) = {float(scale)!r}")
        trace.add("inverse scale", np.float32(np.float32(127) / value_range), "f32(127 / range)")
    if listed:
        trace.add("quantized row", q, f"clamp(round(f32(x * inverse)), -127, 127): {rounding}",
                  rule="round to nearest, ties away from zero")
    return q, scale, 0


def explain_hybrid_dot(trace, weights: np.ndarray, q: np.ndarray, what: str = "weights", sse: bool = True) -> int:
    """The int32 dot product of one int8 weight row with one quantized row, step by step: with ``sse`` as
    :func:`sse_dot` computes it (the -128 sign trick of DotProdInt8x4x4 on the first ``K & ~15`` columns), else
    exact products (a reference loop, as BATCH_MATMUL's)."""
    w = np.asarray(weights, dtype=np.int64).reshape(-1)
    q = np.asarray(q, dtype=np.int64).reshape(-1)
    trace.add(what, w, "int8 weights (uint8 bytes read as int8, the zero point ignored)",
              items=[{"k": k, "w": v} for k, v in enumerate(w)])
    products = w * q
    k16 = w.size & ~(DOT_BLOCK - 1) if sse else 0
    tricked = [k for k in range(k16) if w[k] == -128 and q[k] < 0]
    for k in tricked:  # _mm_maddubs_epi16(|q|, sign(w, q)): -(-128) wraps to -128 in int8
        products[k] = -128 * abs(int(q[k]))
    trace.add("products", products, "w * q, exact" + (
        f"; at k = {tricked}: w = -128 meets q < 0 in the SSE block, sign(w, q) wraps to -128, the product is "
        "-128 * |q| (DotProdInt8x4x4)" if tricked else ""))
    total = int(sse_dot(w[None, :], q[None, :])[0, 0]) if sse else int(wrap_int32(int(w @ q)))
    if total != int(wrap_int32(products.sum())):  # the parts above are sse_dot's own: this cannot differ
        raise AssertionError(f"traced hybrid dot {int(wrap_int32(products.sum()))} != {total}")
    trace.add("sum of products", total, f"{w.size} products added in int32" + (
        " (wraps)" if total != int(products.sum()) else ""))
    return total


def explain_activation_to_vector(trace, value: np.float32, activation: int) -> np.float32:
    """ApplyActivationToVector (the hybrid FULLY_CONNECTED's activation) on one value, with std::max/std::min
    (``max(a, b) = a < b ? b : a``: -0.0 and NaN become +0.0 under RELU)."""
    v = np.float32(value)
    zero, one, six = np.float32(0.0), np.float32(1.0), np.float32(6.0)
    if activation == ACT_NONE:
        return v
    if activation == ACT_RELU:
        out, said = (v if zero < v else zero), "std::max(0, y)"
    elif activation == ACT_RELU6:
        low = six if six < v else v
        out, said = (low if zero < low else zero), "std::max(0, std::min(y, 6))"
    elif activation == ACT_RELU_N1_TO_1:
        low = one if one < v else v
        out, said = (low if -one < low else -one), "std::max(-1, std::min(y, 1))"
    elif activation == ACT_SIGN_BIT:
        out, said = np.float32(1.0 if np.signbit(v) else 0.0), "signbit(y) ? 1 : 0"
    else:
        raise trace.not_detailed(f"the fused activation {activation}")
    return trace.add("activation", np.float32(out), f"{said} (ApplyActivationToVector)")


def explain_hybrid_fully_connected(ctx, p, inputs: list, index: tuple[int, ...], trace) -> object:
    """The hybrid FULLY_CONNECTED (``EvalHybridDense``, refinterp/ops/fully_connected.py ``fully_connected_hybrid``)
    at one element: row b quantized by itself, the SSE int8 dot with unit u's weights, the zero-point correction
    (asymmetric inputs), the float rescale, the bias, the activation."""
    x, w, bias = inputs[0], inputs[1], inputs[2] if len(inputs) > 2 else None
    rows = np.asarray(x, dtype=np.float32).reshape(-1, p.depth)
    flat = int(np.ravel_multi_index(index, p.output_shape))
    row, unit = divmod(flat, p.units)
    trace.add("output element", [row, unit], f"row {row} of the input (read as [{rows.shape[0]}, {p.depth}]) times "
              f"the int8 weights of unit {unit}; LiteRT's hybrid rule (float input, int8 weights)")
    start = np.float32(0.0) if bias is None else np.float32(np.asarray(bias, np.float32).reshape(-1)[unit])
    if is_zero_vector(rows):
        trace.add("all-zero input", start, "the whole input is zero (NeonIsZeroVector): the output is the bias"
                  + ("" if bias is None else f" bias[{unit}]") + ", no quantization")
        value = explain_activation_to_vector(trace, start, p.activation)
        trace.approximates(float(value))
        return value
    weights = hybrid_weights(w).reshape(p.units, p.depth)
    q, row_scale, zero_point = explain_quantize_row(trace, rows[row], p.asymmetric)
    total = explain_hybrid_dot(trace, weights[unit], q, "weights", sse=True)
    if p.asymmetric:
        row_sum = int(sse_row_sums(weights)[unit])
        trace.add("weight row sum", row_sum, f"sum of unit {unit}'s weights (SseReductionSumVector: int16 lanes, "
                  "wrapping)")
        total = trace.add("minus zero point x row sum", int(wrap_int32(total - int(wrap_int32(zero_point * row_sum)))),
                          f"{total} - {zero_point} * {row_sum} (int32)")
    if p.filter_scales.size > 1:
        scale = np.float32(p.filter_scales[unit] * row_scale)
        trace.add("scale", scale, f"f32(s_w[{unit}] {float(p.filter_scales[unit])!r} * row scale {float(row_scale)!r})")
    else:
        scale = np.float32(row_scale * p.filter_scales[0])
        trace.add("scale", scale, f"f32(row scale {float(row_scale)!r} * s_w {float(p.filter_scales[0])!r})")
    with np.errstate(over="ignore", invalid="ignore"):
        product = trace.add("rescaled", np.float32(np.float32(total) * scale), f"f32(f32({total}) * "
                            f"{float(scale)!r})", rule="round to nearest, ties to even")
        value = trace.add("plus bias", np.float32(start + product), f"{float(start)!r} + {float(product)!r}, float32"
                          + (" (no bias: 0)" if bias is None else f" (bias[{unit}])"), rule="round to nearest, "
                          "ties to even")
    value = explain_activation_to_vector(trace, value, p.activation)
    filter_scale = float(p.filter_scales[unit if p.filter_scales.size > 1 else 0])
    real = float(np.dot(rows[row].astype(np.float64), weights[unit].astype(np.float64))) * filter_scale + float(start)
    if p.activation in (ACT_RELU, ACT_RELU6, ACT_RELU_N1_TO_1):
        real = min(max(real, float(p.act_min)), float(p.act_max))
    trace.approximates(real)
    return value


def _window_taps(p, in_h: int, in_w: int, filter_h: int, filter_w: int, oy: int, ox: int
                 ) -> list[tuple[int, int, int, int, bool]]:
    """Every tap of output (oy, ox) in the filter's (ky, kx) order: (ky, kx, iy, ix, inside the image), from the
    params' window (``p.stride_*``, ``p.dilation_*``, ``p.window.pad_*``) as the convolutions' padded views."""
    taps = []
    for ky in range(filter_h):
        for kx in range(filter_w):
            iy = oy * p.stride_h - p.window.pad_h + ky * p.dilation_h
            ix = ox * p.stride_w - p.window.pad_w + kx * p.dilation_w
            taps.append((ky, kx, iy, ix, 0 <= iy < in_h and 0 <= ix < in_w))
    return taps


def _explain_float_tail(trace, acc_scaled: np.float32, bias: np.ndarray | None, oc: int, act_min: float,
                        act_max: float) -> np.float32:
    """The hybrid convolutions' last steps: + bias[oc] in float32, then ActivationFunctionWithMinMax."""
    value = np.float32(acc_scaled)
    with np.errstate(over="ignore", invalid="ignore"):
        if bias is not None:
            value = trace.add("plus bias", np.float32(value + np.float32(np.asarray(bias).reshape(-1)[oc])),
                              f"+ bias[{oc}] = {float(np.asarray(bias).reshape(-1)[oc])!r}, float32",
                              rule="round to nearest, ties to even")
    value = np.clip(np.float32(value), np.float32(act_min), np.float32(act_max)).astype(np.float32)[()]
    trace.add("clamp", value, f"to [{act_min:g}, {act_max:g}] (the fused activation; none: +-FLT_MAX)")
    return value


def explain_hybrid_conv2d(ctx, p, inputs: list, index: tuple[int, ...], trace) -> object:
    """The hybrid CONV_2D rules (refinterp/ops/conv.py ``_conv2d_hybrid`` / ``_conv2d_hybrid_per_channel``) at
    output (b, oy, ox, oc): the whole image b quantized (symmetric per tensor, asymmetric per channel), the
    window's int8 products, the float rescale, the bias, the clamp."""
    x, w, bias = inputs[0], inputs[1], inputs[2] if len(inputs) > 2 else None
    b, oy, ox, oc = (int(v) for v in index)
    channels_out, filter_h, filter_w, channels_in = w.shape
    per_channel = p.kind == "hybrid_per_channel"
    trace.add("output element", [b, oy, ox, oc], f"batch {b}, row {oy}, column {ox}, output channel {oc}; LiteRT's "
              "hybrid rule (float input, int8 weights), " + ("per-channel scales (HybridConvPerChannel)" if per_channel
                                                            else "per-tensor scale (HybridConv)"))
    image = np.asarray(x, np.float32).reshape(x.shape[0], -1)
    q_all, _, _ = quantize_rows(image, per_channel)
    q, row_scale, zero_point = explain_quantize_row(trace, image[b], per_channel, what=f"input image {b}",
                                                    listed=False)
    if not np.array_equal(q, q_all[b]):
        raise AssertionError("the quantized image differs from quantize_rows'")
    q = q.reshape(x.shape[1:])
    weights = hybrid_weights(w).astype(np.int64)[oc]
    taps = _window_taps(p, x.shape[1], x.shape[2], filter_h, filter_w, oy, ox)
    # the im2col row: (ky, kx, ic) order, a tap outside the image reads 0 (per channel: zp_b, minus zp_b = 0)
    first_channel = oc // (channels_out // p.groups) * channels_in  # a grouped filter reads its group's channels
    column = np.array([q[iy, ix, first_channel + ic] - zero_point if inside else 0 for ky, kx, iy, ix, inside in taps
                       for ic in range(channels_in)], np.int64)
    outside = sum(not t[4] for t in taps)
    trace.add("input window", column, f"{len(taps)} taps x {channels_in} channels of the quantized image"
              + (f" minus its zero point {zero_point}" if per_channel else "") + (
                  f"; {outside} taps fall outside the image and read 0" if outside else ""),
              items=[{"ky": ky, "kx": kx, "iy": iy, "ix": ix, "ic": first_channel + ic,
                      "q": int(column[k * channels_in + ic])}
                     for k, (ky, kx, iy, ix, _) in enumerate(taps) for ic in range(channels_in)])
    sse = not per_channel and not p.exact_dot
    total = explain_hybrid_dot(trace, weights.reshape(-1), column, f"weights of channel {oc}", sse=sse)
    if not per_channel:
        trace.notes.append("the dot product runs " + ("through the SSE kernel (Cout % 4 != 0: the -128 sign trick)"
                                                      if sse else "in the int8 GEMM (exact, Cout % 4 == 0)"))
    with np.errstate(over="ignore", invalid="ignore"):
        if per_channel:
            first = trace.add("times s_w", np.float32(np.float32(total) * p.filter_scales[oc]),
                              f"f32(f32({total}) * s_w[{oc}] {float(p.filter_scales[oc])!r})",
                              rule="round to nearest, ties to even")
            scaled = trace.add("times image scale", np.float32(first * np.float32(row_scale)),
                               f"f32({float(first)!r} * {float(row_scale)!r})", rule="round to nearest, ties to even")
        else:
            combined = trace.add("scale", np.float32(np.float32(row_scale) * p.filter_scales[0]),
                                 f"f32(image scale {float(row_scale)!r} * s_w {float(p.filter_scales[0])!r})")
            scaled = trace.add("rescaled", np.float32(np.float32(total) * combined),
                               f"f32(f32({total}) * {float(combined)!r})", rule="round to nearest, ties to even")
    value = _explain_float_tail(trace, scaled, bias, oc, float(p.act_min), float(p.act_max))
    real_x = np.array([image[b].reshape(x.shape[1:])[iy, ix, first_channel + ic] if inside else 0.0
                       for ky, kx, iy, ix, inside in taps for ic in range(channels_in)], np.float64)
    real = float(real_x @ weights.reshape(-1).astype(np.float64)) * float(p.filter_scales[oc])
    real += 0.0 if bias is None else float(np.asarray(bias).reshape(-1)[oc])
    trace.approximates(min(max(real, float(p.act_min)), float(p.act_max)))
    return value


def explain_hybrid_depthwise_conv2d(ctx, p, inputs: list, index: tuple[int, ...], trace) -> object:
    """The hybrid DEPTHWISE_CONV_2D rule (refinterp/ops/depthwise_conv.py ``_depthwise_hybrid``,
    DepthwiseConvHybridPerChannel) at output (b, oy, ox, oc): image b quantized asymmetrically, the in-image taps'
    products ``w * (q - zp_b)``, then ``f32(f32(acc) * f32(s_w[oc] * scale_b))``, the bias, the clamp."""
    x, w, bias = inputs[0], inputs[1], inputs[2] if len(inputs) > 2 else None
    b, oy, ox, oc = (int(v) for v in index)
    _, filter_h, filter_w, _ = w.shape
    ic = oc // p.depth_multiplier
    trace.add("output element", [b, oy, ox, oc], f"batch {b}, row {oy}, column {ox}, output channel {oc} (input "
              f"channel {ic}); LiteRT's hybrid rule (float input, int8 weights, DepthwiseConvHybridPerChannel)")
    image = np.asarray(x, np.float32).reshape(x.shape[0], -1)
    q_all, _, _ = quantize_rows(image, True)
    q, row_scale, zero_point = explain_quantize_row(trace, image[b], True, what=f"input image {b}", listed=False)
    if not np.array_equal(q, q_all[b]):
        raise AssertionError("the quantized image differs from quantize_rows'")
    q = q.reshape(x.shape[1:])
    taps = [t for t in _window_taps(p, x.shape[1], x.shape[2], filter_h, filter_w, oy, ox) if t[4]]
    skipped = filter_h * filter_w - len(taps)
    shifted = np.array([q[iy, ix, ic] - zero_point for _, _, iy, ix, _ in taps], np.int64)
    trace.add("input window", shifted, f"{len(taps)} in-image taps of channel {ic}, quantized, minus the image zero "
              f"point {zero_point}" + (f"; {skipped} taps fall outside the image and are skipped" if skipped else ""),
              items=[{"ky": ky, "kx": kx, "iy": iy, "ix": ix, "q - zp": int(v)}
                     for (ky, kx, iy, ix, _), v in zip(taps, shifted)])
    weights = np.array([int(w[0, ky, kx, oc]) for ky, kx, _, _, _ in taps], np.int64)
    total = explain_hybrid_dot(trace, weights, shifted, f"weights of channel {oc}", sse=False)
    with np.errstate(over="ignore", invalid="ignore"):
        scale = trace.add("scale", np.float32(p.filter_scales[oc] * np.float32(row_scale)),
                          f"f32(s_w[{oc}] {float(p.filter_scales[oc])!r} * image scale {float(row_scale)!r})")
        scaled = trace.add("rescaled", np.float32(np.float32(total) * scale), f"f32(f32({total}) * {float(scale)!r})",
                           rule="round to nearest, ties to even")
    value = _explain_float_tail(trace, scaled, bias, oc, float(p.act_min), float(p.act_max))
    real_x = np.array([image[b].reshape(x.shape[1:])[iy, ix, ic] for _, _, iy, ix, _ in taps], np.float64)
    real = float(real_x @ weights.astype(np.float64)) * float(p.filter_scales[oc])
    real += 0.0 if bias is None else float(np.asarray(bias).reshape(-1)[oc])
    trace.approximates(min(max(real, float(p.act_min)), float(p.act_max)))
    return value

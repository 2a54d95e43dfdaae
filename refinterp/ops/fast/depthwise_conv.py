"""DEPTHWISE_CONV_2D fast kernels (the rules: ``refinterp/ops/depthwise_conv.py``).

numba, output rows in parallel, the inner loop over output channels (it vectorizes). int8: the int32 sums of a
whole output row (wrapping, like the reference's), tap by tap over the columns where the tap is inside the
image, then MultiplyByQuantizedMultiplier vectorized over channels (``requantize.requantize_lanes``, the CONV_2D
micro-kernels' requantization); small convolutions run on the calling thread. float32: the spec's order of
float32 operations (taps ky, kx; out-of-image taps skipped).

int16x8: one numba loop with exact int64 sums per output pixel, the int64 MultiplyByQuantizedMultiplier fused.

uint8: the int8 row kernel on uint8 values, with the weights' zero point subtracted from the weights first (int32
weights ``w - zp_w``; the legacy rule's int32 bias and single multiplier are the per-channel operands repeated).
hybrid: one numba kernel forms the int32 sums ``sum w * (x - zp_b)`` (a zero point per batch image: the hybrid
rule quantizes each image on its own), then NumPy float32 operations in the spec's order.
"""

from __future__ import annotations

import numba
import numpy as np

from refinterp.ops.conv import clamp_float
from refinterp.ops.depthwise_conv import DepthwiseConv2DParams
from refinterp.ops.fast.requantize import REQUANT_LANES, requantize_lanes
from refinterp.ops.hybrid import quantize_rows
from refinterp.quant import mbqm64_nb

#: a depthwise convolution gets one more thread per this many multiply-adds (see conv.MACS_PER_THREAD; a
#: depthwise multiply-add costs about ten times a conv micro-kernel's)
MACS_PER_THREAD = 1 << 18


@numba.njit(cache=True, parallel=True, nogil=True)
def _depthwise_int8_nb(x, w, depth_multiplier, stride_h, stride_w, dilation_h, dilation_w, pad_h, pad_w, out_h,
                       out_w, input_zero_point, bias32, multipliers, left, right, output_zero_point, act_min, act_max,
                       y, nthreads):
    """y for int8 (and uint8: x and y uint8, w = w - zp_w as int32): threads take contiguous ranges of output
    rows; a row's int32 sums, then requantization.

    Per output row, each in-image tap (ky, kx) adds ``(x - zp_in) * w[ky, kx]`` to the row's sums over the range
    of output columns whose input column is inside the image (no test per pixel), the inner loop over the
    output channels (unsigned indices, so that LLVM vectorizes it). The int32 sums wrap as the reference's do.
    Requantization: ``requantize_lanes``, REQUANT_LANES channels at a time (bias added there, int32 wrap).
    """
    batches, in_h, in_w, channels_in = x.shape
    filter_h, filter_w, channels_out = w.shape
    full = channels_out // REQUANT_LANES * REQUANT_LANES
    rows = batches * out_h
    per_thread = (rows + nthreads - 1) // nthreads
    y_flat = y.reshape(-1)
    zero_point = np.int32(input_zero_point)
    for t in numba.prange(nthreads):
        acc = np.empty(out_w * channels_out + REQUANT_LANES, np.int32)
        spare = np.empty(REQUANT_LANES, y.dtype)
        for row in range(t * per_thread, min(rows, (t + 1) * per_thread)):
            b = row // out_h
            oy = row - b * out_h
            acc[:] = 0
            for ky in range(filter_h):
                iy = oy * stride_h - pad_h + ky * dilation_h
                if iy < 0 or iy >= in_h:
                    continue
                line = x[b, iy].reshape(-1)
                for kx in range(filter_w):
                    shift = kx * dilation_w - pad_w  # ix = ox * stride_w + shift
                    first = 0 if shift >= 0 else (-shift + stride_w - 1) // stride_w
                    last = min(out_w, (in_w - 1 - shift) // stride_w + 1) if in_w - 1 - shift >= 0 else 0
                    weights = w[ky, kx]
                    for ox in range(first, last):
                        a0 = np.uint64(ox * channels_out)
                        x0 = np.uint64((ox * stride_w + shift) * channels_in)
                        if depth_multiplier == 1:
                            for c in range(channels_out):
                                k = np.uint64(c)
                                acc[a0 + k] += (np.int32(line[x0 + k]) - zero_point) * weights[k]
                        else:  # output channel ic * dm + m reads input channel ic
                            for ic in range(channels_in):
                                value = np.int32(line[x0 + np.uint64(ic)]) - zero_point
                                for m in range(depth_multiplier):
                                    k = np.uint64(ic * depth_multiplier + m)
                                    acc[a0 + k] += value * weights[k]
            for ox in range(out_w):
                base = (row * out_w + ox) * channels_out
                for c in range(0, full, REQUANT_LANES):
                    requantize_lanes(acc, ox * channels_out + c, bias32, multipliers, left, right, c, y_flat,
                                     base + c, output_zero_point, act_min, act_max)
                if full < channels_out:  # the last lanes go through a spare vector
                    requantize_lanes(acc, ox * channels_out + full, bias32, multipliers, left, right, full, spare, 0,
                                     output_zero_point, act_min, act_max)
                    for c in range(channels_out - full):
                        y_flat[np.uint64(base + full + c)] = spare[np.uint64(c)]


#: requantization operands by operator: (params, bias, int32 [4, padded channels]); the same op reuses them
_operands_cache: dict[int, tuple[DepthwiseConv2DParams, np.ndarray | None, np.ndarray]] = {}


def _int8_operands(p: DepthwiseConv2DParams, bias: np.ndarray | None, channels: int) -> np.ndarray:
    """bias32, multipliers, left, right as int32 [4, channels padded to REQUANT_LANES] (padding: zeros)."""
    cached = _operands_cache.get(id(p))
    if cached is not None and cached[0] is p and cached[1] is bias:
        return cached[2]
    operands = np.zeros((4, -(-channels // REQUANT_LANES) * REQUANT_LANES), np.int32)
    if bias is not None:
        operands[0, :channels] = bias
    # uint8's legacy multiplier has no bound on its left shift: from 32 on, (v << left) wrapped to int32 is 0 and
    # so is SRDHM(0, M); multiplier 0 with left 0 gives the same (int8's shifts stay below 31)
    left = np.maximum(p.output_shift, 0)
    operands[1, :channels] = np.where(left >= 32, 0, p.output_multiplier)
    operands[2, :channels] = np.where(left >= 32, 0, left)
    operands[3, :channels] = np.maximum(-p.output_shift, 0)
    if len(_operands_cache) >= 1024:  # many models in one process: keep the cache bounded
        _operands_cache.clear()
    _operands_cache[id(p)] = (p, bias, operands)
    return operands


def _depthwise_int8(p: DepthwiseConv2DParams, x: np.ndarray, w: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """int8, and uint8 (``sum (w - zp_w) * (x - zp_in)``: the same int32 sums with the weights' zero point
    subtracted first, an int32 bias and one multiplier; the clamp keeps the outputs in [0, 255])."""
    win = p.window
    channels_out = w.shape[3]
    bias32, multipliers, left, right = _int8_operands(p, bias, channels_out)
    uint8 = p.rule == "uint8"
    y = np.empty((x.shape[0], win.out_h, win.out_w, channels_out), np.uint8 if uint8 else np.int8)
    weights = np.ascontiguousarray(w[0], dtype=np.int32)
    if uint8:
        weights -= np.int32(p.filter_zero_point)
    all_threads = numba.get_num_threads()
    threads = max(1, min(all_threads, y.size * w.shape[1] * w.shape[2] // MACS_PER_THREAD))
    if threads != all_threads:  # numba's parallel region then runs on the calling thread alone: no wake-up
        numba.set_num_threads(threads)
    try:
        _depthwise_int8_nb(np.ascontiguousarray(x), weights, p.depth_multiplier,
                           p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, win.pad_h, win.pad_w, win.out_h,
                           win.out_w, p.input_zero_point, bias32, multipliers, left, right, p.output_zero_point,
                           int(p.act_min), int(p.act_max), y, threads)
    finally:
        if threads != all_threads:
            numba.set_num_threads(all_threads)
    return y


@numba.njit(cache=True, parallel=True, nogil=True)
def _depthwise_float_nb(x, w, bias, depth_multiplier, stride_h, stride_w, dilation_h, dilation_w, pad_h, pad_w,
                        out_h, out_w, act_min, act_max):
    batches, in_h, in_w, _ = x.shape
    filter_h, filter_w, channels_out = w.shape
    y = np.empty((batches, out_h, out_w, channels_out), dtype=np.float32)
    for row in numba.prange(batches * out_h):
        b = row // out_h
        oy = row % out_h
        total = np.empty(channels_out, dtype=np.float32)
        for ox in range(out_w):
            total[:] = 0.0
            for ky in range(filter_h):
                iy = oy * stride_h - pad_h + ky * dilation_h
                if iy < 0 or iy >= in_h:
                    continue
                for kx in range(filter_w):
                    ix = ox * stride_w - pad_w + kx * dilation_w
                    if ix < 0 or ix >= in_w:
                        continue
                    for oc in range(channels_out):
                        total[oc] += x[b, iy, ix, oc // depth_multiplier] * w[ky, kx, oc]
            for oc in range(channels_out):
                v = total[oc] + bias[oc]
                y[b, oy, ox, oc] = min(max(v, act_min), act_max)
    return y


@numba.njit(cache=True, parallel=True, nogil=True)
def _depthwise_sums_nb(x, w, zero_points, depth_multiplier, stride_h, stride_w, dilation_h, dilation_w, pad_h,
                       pad_w, out_h, out_w):
    """int32 (wrapping) sums of w[ky, kx, oc] * (x[b, iy, ix, oc // dm] - zero_points[b]) over in-image taps."""
    batches, in_h, in_w, channels_in = x.shape
    filter_h, filter_w, channels_out = w.shape
    acc = np.empty((batches, out_h, out_w, channels_out), dtype=np.int32)
    for row in numba.prange(batches * out_h):
        b = row // out_h
        oy = row % out_h
        zero_point = np.int32(zero_points[b])
        total = np.empty(channels_out, dtype=np.int32)
        shifted = np.empty(channels_out, dtype=np.int32)
        for ox in range(out_w):
            total[:] = 0
            for ky in range(filter_h):
                iy = oy * stride_h - pad_h + ky * dilation_h
                if iy < 0 or iy >= in_h:
                    continue
                for kx in range(filter_w):
                    ix = ox * stride_w - pad_w + kx * dilation_w
                    if ix < 0 or ix >= in_w:
                        continue
                    if depth_multiplier == 1:
                        for oc in range(channels_out):
                            total[oc] += (np.int32(x[b, iy, ix, oc]) - zero_point) * w[ky, kx, oc]
                    else:
                        for ic in range(channels_in):
                            v = np.int32(x[b, iy, ix, ic]) - zero_point
                            for m in range(depth_multiplier):
                                shifted[ic * depth_multiplier + m] = v
                        for oc in range(channels_out):
                            total[oc] += shifted[oc] * w[ky, kx, oc]
            for oc in range(channels_out):
                acc[b, oy, ox, oc] = total[oc]
    return acc


def _sums(p: DepthwiseConv2DParams, x: np.ndarray, w32: np.ndarray, zero_points: np.ndarray) -> np.ndarray:
    win = p.window
    return _depthwise_sums_nb(np.ascontiguousarray(x), w32, zero_points.astype(np.int64), p.depth_multiplier,
                              p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, win.pad_h, win.pad_w, win.out_h,
                              win.out_w)


def _depthwise_hybrid(p: DepthwiseConv2DParams, x: np.ndarray, w: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    batches = x.shape[0]
    q, input_scales, zero_points = quantize_rows(x.reshape(batches, -1), asymmetric=True)
    acc = _sums(p, q.reshape(x.shape), np.ascontiguousarray(w[0], dtype=np.int32), zero_points)
    combined = (p.filter_scales[None, :] * input_scales[:, None]).astype(np.float32)  # s_w[oc] * scale_b
    scaled = (acc.astype(np.float32) * combined[:, None, None, :]).astype(np.float32)
    if bias is not None:
        scaled = (scaled + bias.astype(np.float32)).astype(np.float32)
    return clamp_float(scaled, p.act_min, p.act_max)


@numba.njit(cache=True, parallel=True, nogil=True)
def _depthwise_int16_nb(x, w, bias, depth_multiplier, stride_h, stride_w, dilation_h, dilation_w, pad_h, pad_w,
                        out_h, out_w, multipliers, shifts, act_min, act_max):
    """int16x8, output rows in parallel: exact int64 sums of w[ky, kx, oc] * x[b, iy, ix, oc // dm] over the
    in-image taps, + the int64 bias, then the int64 MultiplyByQuantizedMultiplier and the clamp."""
    batches, in_h, in_w, channels_in = x.shape
    filter_h, filter_w, channels_out = w.shape
    y = np.empty((batches, out_h, out_w, channels_out), dtype=np.int16)
    for row in numba.prange(batches * out_h):
        b = row // out_h
        oy = row % out_h
        total = np.empty(channels_out, dtype=np.int64)
        for ox in range(out_w):
            total[:] = bias
            for ky in range(filter_h):
                iy = oy * stride_h - pad_h + ky * dilation_h
                if iy < 0 or iy >= in_h:
                    continue
                for kx in range(filter_w):
                    ix = ox * stride_w - pad_w + kx * dilation_w
                    if ix < 0 or ix >= in_w:
                        continue
                    for oc in range(channels_out):
                        total[oc] += np.int64(x[b, iy, ix, oc // depth_multiplier]) * np.int64(w[ky, kx, oc])
            for oc in range(channels_out):
                v = mbqm64_nb(total[oc], multipliers[oc], shifts[oc])
                y[b, oy, ox, oc] = min(max(v, act_min), act_max)
    return y


def depthwise_conv2d_fast(p: DepthwiseConv2DParams, x: np.ndarray, w: np.ndarray,
                          bias: np.ndarray | None = None) -> np.ndarray:
    win = p.window
    channels_out = w.shape[3]
    if p.rule == "hybrid":
        return _depthwise_hybrid(p, x, w, bias)
    if p.rule == "int16":
        bias64 = bias.astype(np.int64) if bias is not None else np.zeros(channels_out, np.int64)
        return _depthwise_int16_nb(np.ascontiguousarray(x), np.ascontiguousarray(w[0]), bias64, p.depth_multiplier,
                                   p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, win.pad_h, win.pad_w,
                                   win.out_h, win.out_w, p.output_multiplier, p.output_shift, int(p.act_min),
                                   int(p.act_max))
    if p.quantized:  # int8 and uint8
        return _depthwise_int8(p, x, w, bias)
    bias32 = bias.astype(np.float32) if bias is not None else np.zeros(channels_out, np.float32)
    return _depthwise_float_nb(np.ascontiguousarray(x, dtype=np.float32), np.ascontiguousarray(w[0], np.float32),
                               bias32, p.depth_multiplier, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w,
                               win.pad_h, win.pad_w, win.out_h, win.out_w, np.float32(p.act_min),
                               np.float32(p.act_max))

"""DEPTHWISE_CONV_2D fast kernels (the rules: ``refinterp/ops/depthwise_conv.py``).

numba, output rows in parallel, the inner loop over output channels (it vectorizes). int8: an int32
accumulator per channel (wrapping, like the reference's), then MultiplyByQuantizedMultiplier; float32: the
spec's order of float32 operations (taps ky, kx; out-of-image taps skipped).
"""

from __future__ import annotations

import numba
import numpy as np

from refinterp.ops.depthwise_conv import DepthwiseConv2DParams
from refinterp.quant import mbqm_nb


@numba.njit(cache=True, parallel=True, nogil=True)
def _depthwise_int8_nb(x, w, bias, depth_multiplier, stride_h, stride_w, dilation_h, dilation_w, pad_h, pad_w,
                       out_h, out_w, input_zero_point, multipliers, shifts, output_zero_point, act_min, act_max):
    batches, in_h, in_w, channels_in = x.shape
    filter_h, filter_w, channels_out = w.shape
    y = np.empty((batches, out_h, out_w, channels_out), dtype=np.int8)
    for row in numba.prange(batches * out_h):
        b = row // out_h
        oy = row % out_h
        acc = np.empty(channels_out, dtype=np.int32)
        shifted = np.empty(channels_out, dtype=np.int32)
        for ox in range(out_w):
            for oc in range(channels_out):
                acc[oc] = bias[oc]
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
                            acc[oc] += (np.int32(x[b, iy, ix, oc]) - input_zero_point) * w[ky, kx, oc]
                    else:
                        for ic in range(channels_in):
                            v = np.int32(x[b, iy, ix, ic]) - input_zero_point
                            for m in range(depth_multiplier):
                                shifted[ic * depth_multiplier + m] = v
                        for oc in range(channels_out):
                            acc[oc] += shifted[oc] * w[ky, kx, oc]
            for oc in range(channels_out):
                v = mbqm_nb(acc[oc], multipliers[oc], shifts[oc]) + output_zero_point
                y[b, oy, ox, oc] = min(max(v, act_min), act_max)
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


def depthwise_conv2d_fast(p: DepthwiseConv2DParams, x: np.ndarray, w: np.ndarray,
                          bias: np.ndarray | None = None) -> np.ndarray:
    win = p.window
    channels_out = w.shape[3]
    if p.quantized:
        w32 = np.ascontiguousarray(w[0], dtype=np.int32)
        bias32 = bias.astype(np.int32) if bias is not None else np.zeros(channels_out, np.int32)
        return _depthwise_int8_nb(np.ascontiguousarray(x), w32, bias32, p.depth_multiplier, p.stride_h, p.stride_w,
                                  p.dilation_h, p.dilation_w, win.pad_h, win.pad_w, win.out_h, win.out_w,
                                  np.int32(p.input_zero_point), p.output_multiplier, p.output_shift,
                                  p.output_zero_point, int(p.act_min), int(p.act_max))
    bias32 = bias.astype(np.float32) if bias is not None else np.zeros(channels_out, np.float32)
    return _depthwise_float_nb(np.ascontiguousarray(x, dtype=np.float32), np.ascontiguousarray(w[0], np.float32),
                               bias32, p.depth_multiplier, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w,
                               win.pad_h, win.pad_w, win.out_h, win.out_w, np.float32(p.act_min),
                               np.float32(p.act_max))

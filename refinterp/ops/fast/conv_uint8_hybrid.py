"""CONV_2D fast kernels for uint8 and hybrid models (the rules: ``refinterp/ops/conv.py``).

All three rules sum integer products; here the sums come from one float64 GEMM per group over an im2col matrix
(built by numba, a block of output pixels at a time): every product and every partial sum is an integer of
magnitude below ``K * 255 * 255 < 2**53``, which float64 holds exactly, so the GEMM's order of summation (BLAS
blocks, FMA) cannot change the result. The sums are then wrapped to int32 as the reference's accumulator.

* uint8: the im2col rows hold ``x - zp_in`` (0 outside the image), the weights ``w - zp_w``; then
  MultiplyByQuantizedMultiplier, zp_out and the clamp in numba.
* hybrid per-tensor: rows of the symmetrically quantized input (0 outside the image); with ``Cout % 4 != 0``
  the SSE sign trick of ``refinterp/ops/hybrid.py`` is applied as a correction, ``256 * min(q, 0)`` for each
  weight of -128 in the first ``K & ~15`` columns (a second, small GEMM, only when such weights exist).
* hybrid per-channel: rows of ``q - zp_b`` (0 outside the image).

The float32 rescales are elementwise NumPy float32 operations in the spec's order (each rounds once, as C does).

NumPy's BLAS runs single-threaded here (``single_thread_blas``, through threadpoolctl when installed, as the
int8 backends of ``conv.py`` do): OpenBLAS's own worker threads busy-wait after each call and fight numba's
threads for the cores; on two shared cores a skinny GEMM ran 30 to 50 times slower with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numba
import numpy as np

from refinterp.ops.common import OpContext
from refinterp.ops.conv import (
    KIND_HYBRID,
    KIND_HYBRID_PER_CHANNEL,
    KIND_UINT8,
    Conv2DParams,
    clamp_float,
)
from refinterp.ops.hybrid import DOT_BLOCK, hybrid_weights, quantize_rows
from refinterp.quant import mbqm_nb

KINDS = (KIND_UINT8, KIND_HYBRID, KIND_HYBRID_PER_CHANNEL)
#: bytes of the float64 im2col buffer (a block of output pixels at a time)
IM2COL_BYTES = 1 << 25


@cache
def single_thread_blas() -> bool:
    """Limit NumPy's BLAS to one thread, once per process; False when threadpoolctl is missing."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return False
    threadpool_limits(limits=1, user_api="blas")
    return True


@dataclass(frozen=True)
class ConvUint8HybridPlan:
    """Weights as the GEMM reads them, made once at prepare from constant weights."""

    gemm_weights: tuple[np.ndarray, ...]  # per group: float64 [K, out_per_group]
    minus128_mask: np.ndarray | None = None  # hybrid, SSE trick: float64 [K16, Cout], 1 where w == -128


def plan_for(p: Conv2DParams, w: np.ndarray) -> ConvUint8HybridPlan:
    channels_out = w.shape[0]
    out_per_group = channels_out // p.groups
    if p.rule == KIND_UINT8:
        weights = w.reshape(channels_out, -1).astype(np.float64) - p.filter_zero_point
    else:
        weights = hybrid_weights(w).reshape(channels_out, -1).astype(np.float64)
    gemm_weights = tuple(np.ascontiguousarray(weights[g * out_per_group:(g + 1) * out_per_group].T)
                         for g in range(p.groups))
    mask = None
    if p.rule == KIND_HYBRID and not p.exact_dot:
        k16 = weights.shape[1] & ~(DOT_BLOCK - 1)
        minus128 = weights[:, :k16] == -128
        if minus128.any():
            mask = np.ascontiguousarray(minus128.T.astype(np.float64))
    return ConvUint8HybridPlan(gemm_weights, mask)


def prepare_plan(ctx: OpContext, p: Conv2DParams) -> ConvUint8HybridPlan | None:
    w = ctx.require_input(1)
    return plan_for(p, w.data) if w.is_constant else None


@numba.njit(cache=True, nogil=True)
def _im2col_nb(x, offsets, out, first_pixel, group_start, channels, filter_h, filter_w, stride_h, stride_w,
               dilation_h, dilation_w, pad_h, pad_w, out_h, out_w):
    """out[m, (ky*KW + kx)*C + c] = x[b, iy, ix, group_start + c] - offsets[b] for pixel first_pixel + m; 0 outside."""
    batches, in_h, in_w, _ = x.shape
    rows = out.shape[0]
    for m in range(rows):  # serial: memory-bound, and numba's thread start-up costs more than it saves here
        pixel = first_pixel + m
        b = pixel // (out_h * out_w)
        oy = (pixel // out_w) % out_h
        ox = pixel % out_w
        offset = offsets[b]
        k = 0
        for ky in range(filter_h):
            iy = oy * stride_h - pad_h + ky * dilation_h
            for kx in range(filter_w):
                ix = ox * stride_w - pad_w + kx * dilation_w
                if 0 <= iy < in_h and 0 <= ix < in_w:
                    for c in range(channels):
                        out[m, k + c] = np.float64(x[b, iy, ix, group_start + c]) - offset
                else:
                    for c in range(channels):
                        out[m, k + c] = 0.0
                k += channels


@numba.njit(cache=True, parallel=True, nogil=True)
def _requantize_nb(acc, bias, multiplier, shift, output_zero_point, act_min, act_max, y2d):
    pixels, channels = acc.shape
    for m in numba.prange(pixels):
        for oc in range(channels):
            total = np.int64(acc[m, oc]) + bias[oc]
            total = ((total + 2147483648) & 0xFFFFFFFF) - 2147483648  # the int32 accumulator wraps
            v = mbqm_nb(total, multiplier[oc], shift[oc]) + output_zero_point
            y2d[m, oc] = min(max(v, act_min), act_max)


def _integer_sums(p: Conv2DParams, plan: ConvUint8HybridPlan, x: np.ndarray, offsets: np.ndarray,
                  channels_in_group: int, filter_h: int, filter_w: int) -> np.ndarray:
    """float64 [pixels, Cout] holding the exact integer sums of ``w * (x - offset_b)`` (in-image taps), unwrapped."""
    single_thread_blas()
    win = p.window
    pixels = x.shape[0] * win.out_h * win.out_w
    out_per_group = plan.gemm_weights[0].shape[1]
    k = filter_h * filter_w * channels_in_group
    acc = np.empty((pixels, out_per_group * p.groups), np.float64)
    block_rows = max(1, min(pixels, IM2COL_BYTES // (8 * max(k, 1))))
    columns = np.empty((block_rows, k), np.float64)
    x = np.ascontiguousarray(x)
    offsets = np.ascontiguousarray(offsets, dtype=np.float64)
    for start in range(0, pixels, block_rows):
        count = min(block_rows, pixels - start)
        block = columns[:count]
        for g in range(p.groups):
            _im2col_nb(x, offsets, block, start, g * channels_in_group, channels_in_group, filter_h, filter_w,
                       p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, win.pad_h, win.pad_w, win.out_h,
                       win.out_w)
            np.matmul(block, plan.gemm_weights[g],
                      out=acc[start:start + count, g * out_per_group:(g + 1) * out_per_group])
            if plan.minus128_mask is not None:  # the SSE sign trick (groups is 1 for hybrid)
                k16 = plan.minus128_mask.shape[0]
                acc[start:start + count] += 256.0 * (np.minimum(block[:, :k16], 0.0) @ plan.minus128_mask)
    return acc


def _wrap_int32(values: np.ndarray) -> np.ndarray:
    return ((values + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def conv2d_uint8_hybrid_fast(p: Conv2DParams, plan: ConvUint8HybridPlan | None, x: np.ndarray, w: np.ndarray,
                             bias: np.ndarray | None) -> np.ndarray:
    channels_out, filter_h, filter_w, channels_in_group = w.shape
    win = p.window
    batches = x.shape[0]
    out_shape = (batches, win.out_h, win.out_w, channels_out)
    if win.out_h == 0 or win.out_w == 0 or batches == 0:
        return np.zeros(out_shape, p.output_dtype)
    if plan is None:  # weights computed at run time
        plan = plan_for(p, w)
    if p.rule == KIND_UINT8:
        offsets = np.full(batches, p.input_zero_point, np.float64)
        acc = _integer_sums(p, plan, x, offsets, channels_in_group, filter_h, filter_w)
        y = np.empty(out_shape, np.uint8)
        bias64 = bias.astype(np.int64) if bias is not None else np.zeros(channels_out, np.int64)
        _requantize_nb(acc, bias64, p.output_multiplier, p.output_shift, p.output_zero_point, int(p.act_min),
                       int(p.act_max), y.reshape(-1, channels_out))
        return y

    asymmetric = p.rule == KIND_HYBRID_PER_CHANNEL
    q, input_scales, zero_points = quantize_rows(x.reshape(batches, -1), asymmetric)
    q = q.reshape(x.shape)
    sums = _integer_sums(p, plan, q, zero_points.astype(np.float64), channels_in_group, filter_h, filter_w)
    acc = _wrap_int32(sums.astype(np.int64)).reshape(out_shape).astype(np.float32)
    if asymmetric:  # f32(f32(acc * s_w[oc]) * scale_b)
        scaled = (acc * p.filter_scales).astype(np.float32) * input_scales[:, None, None, None]
    else:  # f32(acc * f32(scale_b * s_w))
        scaled = acc * (input_scales * p.filter_scales[0]).astype(np.float32)[:, None, None, None]
    scaled = scaled.astype(np.float32)
    if bias is not None:
        scaled = (scaled + bias.astype(np.float32)).astype(np.float32)
    return clamp_float(scaled, p.act_min, p.act_max)

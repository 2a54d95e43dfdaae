"""CONV_2D fast kernels for uint8 and hybrid models (the rules: ``refinterp/ops/conv.py``).

All three rules sum integer products of 8-bit values in a wrapping int32 accumulator; here the sums come from the
exact int8 backends of ``conv.py`` (vnni, avxvnni, avx2, blas32, blas64: ``int8_sums``, which computes
``S(w, x, z) = sum w * (x - z)`` over the in-image taps, modulo 2^32, for int8 ``w``, ``x`` and ``z``; see its
module docstring for why each backend is exact). conv.py imports this module, so it hands its backends in
(``Int8Convolution``) rather than this module importing conv.py. Every identity below holds in the integers, so it
holds modulo 2^32, and the reference's int32 result only depends on its sum modulo 2^32.

* uint8: with ``w' = w - 128``, ``x' = x - 128`` (int8: the sign bit flipped), ``a = zp_w - 128`` and
  ``b = zp_in - 128`` (both in [-128, 127])::

      sum (w - zp_w)(x - zp_in) = sum (w' - a)(x' - b) = S(w', x', b) - a * sum (x - zp_in)

  over the in-image taps. The last sum (``window_sums``) is a per-pixel sum of the receptive field's input
  (this group's channels, in-image taps only): exact in int64, skipped when ``zp_w = 128``. Then ``+ bias``,
  the int32 wrap, MultiplyByQuantizedMultiplier, ``zp_out`` and the clamp in numba (``_requantize_uint8_nb``).
* hybrid per-tensor: ``S(w, q, 0)`` over the symmetrically quantized input (int8 in [-127, 127]; 0 outside the
  image, as the reference's im2col pads). With ``Cout % 4 != 0`` the SSE sign trick of
  ``refinterp/ops/hybrid.py`` adds ``256 * min(q, 0)`` for each weight of -128 in the first ``K & ~15``
  columns (K in the im2col order ky, kx, c): that is ``256 * S(m, min(q, 0), 0)`` for the 0/1 weights ``m``
  marking those weights, a second int8 convolution, made only when such weights exist.
* hybrid per-channel: ``S(w, q_b, zp_b)`` per image ``b`` (asymmetric quantization, one zero point per image).

The input quantization (``quantize_rows_fast``) is ``refinterp.ops.hybrid.quantize_rows`` in numba: the row's
scale and zero point come from the spec's own functions applied to the row's minimum and maximum (they depend on
nothing else), the per-element rounding is the spec's float32 arithmetic (numba without fastmath: one IEEE
rounding per operation, no FMA contraction). A non-finite input goes to the spec, which refuses it.

The float32 rescales are elementwise NumPy float32 operations in the spec's order (each rounds once, as C does).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

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
from refinterp.ops.hybrid import DOT_BLOCK, QUANT_BLOCK, asymmetric_quantize, hybrid_weights, quantize_rows

KINDS = (KIND_UINT8, KIND_HYBRID, KIND_HYBRID_PER_CHANNEL)


@cache
def single_thread_blas() -> bool:
    """Limit NumPy's BLAS to one thread, once per process; False when threadpoolctl is missing.

    OpenBLAS's own worker threads busy-wait after each call and fight numba's threads for the cores (used by
    the hybrid FULLY_CONNECTED kernel, and by conv.py's BLAS backends in their own way).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return False
    threadpool_limits(limits=1, user_api="blas")
    return True


@dataclass(frozen=True)
class Int8Convolution:
    """conv.py's exact int8 convolution backends, as this module uses them."""

    #: ``plan(weights int8 [Cout, KH, KW, Cin_g], groups, in_h, in_w, dilation_w)`` -> a plan
    plan: Callable[..., Any]
    #: ``sums(plan, p, x int8 NHWC, z)`` -> ``(sums, offsets)``: ``sum w * (x - z)`` over the in-image taps is
    #: ``sums[m, oc] - offsets[oc]`` modulo 2^32 (int32 ``[pixels, Cout]``, int64 ``[Cout]``; ``p``: the geometry)
    sums: Callable[..., np.ndarray]


@dataclass(frozen=True)
class ConvUint8HybridPlan:
    """The int8 weights planned for the int8 backend, made once at prepare from constant weights."""

    int8_plan: Any  # the weights as int8 (uint8: w - 128; hybrid: the bytes read as int8)
    in_h: int
    in_w: int
    weight_offset: int = 0  # uint8: a = zp_w - 128
    filter_hw: tuple[int, int] = (1, 1)
    minus128_plan: Any = None  # hybrid per-tensor, SSE trick: the 0/1 weights marking -128 in the first K & ~15


def plan_for(p: Conv2DParams, w: np.ndarray, in_h: int, in_w: int, int8: Int8Convolution) -> ConvUint8HybridPlan:
    if p.rule == KIND_UINT8:
        weights = (np.ascontiguousarray(w, np.uint8) ^ np.uint8(0x80)).view(np.int8)  # w - 128
        return ConvUint8HybridPlan(int8.plan(weights, p.groups, in_h, in_w, p.dilation_w), in_h, in_w,
                                   weight_offset=int(p.filter_zero_point) - 128, filter_hw=w.shape[1:3])
    weights = np.ascontiguousarray(hybrid_weights(w))
    minus128_plan = None
    if p.rule == KIND_HYBRID and not p.exact_dot:
        flat = weights.reshape(weights.shape[0], -1)
        k16 = flat.shape[1] & ~(DOT_BLOCK - 1)
        mask = np.zeros(flat.shape, np.int8)
        mask[:, :k16] = flat[:, :k16] == -128
        if mask.any():
            minus128_plan = int8.plan(mask.reshape(weights.shape), 1, in_h, in_w, p.dilation_w)
    return ConvUint8HybridPlan(int8.plan(weights, p.groups, in_h, in_w, p.dilation_w), in_h, in_w,
                               filter_hw=w.shape[1:3], minus128_plan=minus128_plan)


def prepare_plan(ctx: OpContext, p: Conv2DParams, int8: Int8Convolution) -> ConvUint8HybridPlan | None:
    w = ctx.require_input(1)
    if not w.is_constant:
        return None
    x_shape = ctx.shape(ctx.require_input(0))
    return plan_for(p, w.data, x_shape[1], x_shape[2], int8)


# ------------------------------------------------------------------------------------------------
# uint8


@numba.njit(cache=True, parallel=True, nogil=True)
def _window_sums_nb(x, zero_point, groups, filter_h, filter_w, stride_h, stride_w, dilation_h, dilation_w, pad_h,
                    pad_w, out_h, out_w):
    """int64 [pixels, groups]: sum of x - zero_point over each output pixel's in-image taps and group channels."""
    batches, in_h, in_w, channels = x.shape
    per_group = channels // groups
    channel_sums = np.empty((batches, in_h, in_w, groups), np.int64)
    for row in numba.prange(batches * in_h):
        b = row // in_h
        iy = row - b * in_h
        for ix in range(in_w):
            for g in range(groups):
                total = np.int64(0)
                for c in range(g * per_group, (g + 1) * per_group):
                    total += np.int64(x[b, iy, ix, c])
                channel_sums[b, iy, ix, g] = total - per_group * np.int64(zero_point)
    out = np.zeros((batches * out_h * out_w, groups), np.int64)
    for row in numba.prange(batches * out_h):
        b = row // out_h
        oy = row - b * out_h
        for ox in range(out_w):
            m = row * out_w + ox
            for ky in range(filter_h):
                iy = oy * stride_h - pad_h + ky * dilation_h
                if iy < 0 or iy >= in_h:
                    continue
                for kx in range(filter_w):
                    ix = ox * stride_w - pad_w + kx * dilation_w
                    if 0 <= ix < in_w:
                        for g in range(groups):
                            out[m, g] += channel_sums[b, iy, ix, g]
    return out


@numba.njit(cache=True, parallel=True, nogil=True)
def _requantize_uint8_nb(sums, window_sums, weight_offset, bias, multipliers, left, right, output_zero_point, act_min,
                         act_max, per_group, y2d):
    """y2d[m, oc] = clamp(MBQM(int32(sums - a * window_sum + bias)) + zp_out), branch-free (vectorizes over oc).

    MultiplyByQuantizedMultiplier with double rounding, as quant.mbqm_nb: ``(v << left)`` wrapped to int32, SRDHM
    (ties toward +inf, C truncation), RoundingDivideByPOT by ``right`` (ties away from zero). SRDHM's
    INT32_MIN * INT32_MIN saturation is left out: QuantizeMultiplier's multipliers lie in [0, 2^31).
    """
    pixels = sums.shape[0]
    chunk = 256
    for c in numba.prange((pixels + chunk - 1) // chunk):
        rows = slice(c * chunk, min(pixels, (c + 1) * chunk))
        # a call, not inlined: numba vectorizes the loop of a function of its own, not inside a parfor body
        _requantize_uint8_rows_nb(sums[rows], window_sums[rows], weight_offset, bias, multipliers, left, right,
                                  output_zero_point, act_min, act_max, per_group, y2d[rows])


@numba.njit(cache=True, nogil=True)
def _requantize_uint8_rows_nb(sums, window_sums, weight_offset, bias, multipliers, left, right, output_zero_point,
                              act_min, act_max, per_group, y2d):
    pixels, channels = sums.shape
    groups = channels // per_group
    for m in range(pixels):
        for g in range(groups):
            correction = weight_offset * window_sums[m, g]
            for oc in range(g * per_group, (g + 1) * per_group):
                y2d[m, oc] = _requantize_one_nb(np.int64(sums[m, oc]) - correction + bias[oc], multipliers[oc],
                                                left[oc], right[oc], output_zero_point, act_min, act_max)


@numba.njit(cache=True, nogil=True, inline="always")
def _requantize_one_nb(v, multiplier, left, right, output_zero_point, act_min, act_max):
    v = ((v + 2147483648) & 0xFFFFFFFF) - 2147483648  # the int32 accumulator wraps
    v = (((v << left) + 2147483648) & 0xFFFFFFFF) - 2147483648
    product = v * multiplier
    total = product + (np.int64(1 << 30) if product >= 0 else np.int64(1 - (1 << 30)))
    high = (total + (np.int64(2147483647) if total < 0 else np.int64(0))) >> 31  # C division: toward zero
    mask = (np.int64(1) << right) - 1
    threshold = (mask >> 1) + (np.int64(1) if high < 0 else np.int64(0))
    out = (high >> right) + (np.int64(1) if (high & mask) > threshold else np.int64(0)) + output_zero_point
    return np.uint8(min(max(out, act_min), act_max))


def _conv_uint8(p: Conv2DParams, plan: ConvUint8HybridPlan, x: np.ndarray, bias: np.ndarray | None,
                int8: Int8Convolution, out_shape: tuple[int, ...]) -> np.ndarray:
    channels_out = out_shape[3]
    shifted = (np.ascontiguousarray(x, np.uint8) ^ np.uint8(0x80)).view(np.int8)  # x - 128
    sums, offsets = int8.sums(plan.int8_plan, p, shifted, int(p.input_zero_point) - 128)  # S(w', x', b) + offsets
    win = p.window
    if plan.weight_offset:
        filter_h, filter_w = plan.filter_hw
        window_sums = _window_sums_nb(x, int(p.input_zero_point), p.groups, filter_h, filter_w, p.stride_h,
                                      p.stride_w, p.dilation_h, p.dilation_w, win.pad_h, win.pad_w, win.out_h,
                                      win.out_w)
    else:
        window_sums = np.zeros((sums.shape[0], p.groups), np.int64)
    y = np.empty(out_shape, np.uint8)
    bias64 = bias.astype(np.int64) if bias is not None else np.zeros(channels_out, np.int64)
    bias64 = bias64 - offsets  # modulo 2^32, like everything before the wrap
    shift = np.asarray(p.output_shift, np.int64)
    _requantize_uint8_nb(sums, window_sums, np.int64(plan.weight_offset), bias64,
                         np.ascontiguousarray(p.output_multiplier, np.int64), np.maximum(shift, 0),
                         np.maximum(-shift, 0), p.output_zero_point, int(p.act_min), int(p.act_max),
                         channels_out // p.groups, y.reshape(-1, channels_out))
    return y


# ------------------------------------------------------------------------------------------------
# hybrid: the input quantization of refinterp/ops/hybrid.py in numba


@numba.njit(cache=True, nogil=True, inline="always")
def _cvtt_int32_nb(v):
    """``static_cast<int32_t>`` on x86 (cvttss2si): truncate; out of range or NaN -> INT32_MIN."""
    if v > -2147483649.0 and v < 2147483648.0:
        return np.int64(np.trunc(np.float64(v)))
    return np.int64(-2147483648)


@numba.njit(cache=True, nogil=True, inline="always")
def _round_half_away_f32_nb(v):
    """``roundf``: quant.round_half_away_f32 on one float32 value (NaN and infinities pass)."""
    truncated = np.float32(np.trunc(v))
    step = np.float32(0.0)
    if abs(np.float32(v - truncated)) >= np.float32(0.5):
        step = np.float32(1.0) if v > 0 else np.float32(-1.0)
    return np.float32(truncated + step)


@numba.njit(cache=True, nogil=True)
def _min_max_finite_nb(x):
    """(min, max, all finite) of a float32 row."""
    low, high = x[0], x[0]
    finite = True
    for v in x:
        if not np.isfinite(v):
            finite = False
        low = min(low, v)
        high = max(high, v)
    return low, high, finite


@numba.njit(cache=True, parallel=True, nogil=True)
def _quantize_row_nb(x, inverse, zero_point, q_min, q_max, out):
    """hybrid.py's per-element rule: ``RoundToNearest(f32(x * inv)) + zp`` in blocks of QUANT_BLOCK, then
    ``cvtt(f32(zp + roundf(f32(inv * x))))`` for the rest; clamped to [q_min, q_max]."""
    n = x.size
    blocks = n - n % 8  # QUANT_BLOCK
    chunk = 1 << 14
    for c in numba.prange((blocks + chunk - 1) // chunk):
        for i in range(c * chunk, min(blocks, (c + 1) * chunk)):
            v = np.float32(x[i] * inverse)
            half = np.float32(-0.5) if v < 0 else np.float32(0.5)
            r = _cvtt_int32_nb(np.float32(v + half)) + zero_point
            out[i] = np.int8(min(max(r, q_min), q_max))
    for i in range(blocks, n):
        v = np.float32(inverse * x[i])
        r = _cvtt_int32_nb(np.float32(np.float32(zero_point) + _round_half_away_f32_nb(v)))
        out[i] = np.int8(min(max(r, q_min), q_max))


def quantize_rows_fast(rows: np.ndarray, asymmetric: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``hybrid.quantize_rows`` with int8 values: (int8 q [batches, n], float32 scales, int64 zero points)."""
    rows = np.ascontiguousarray(rows, np.float32)
    batches, n = rows.shape
    q = np.zeros(rows.shape, np.int8)
    scales = np.ones(batches, np.float32)
    zero_points = np.zeros(batches, np.int64)
    if n == 0:
        return q, scales, zero_points
    for b in range(batches):
        low, high, finite = _min_max_finite_nb(rows[b])
        if not finite:
            quantize_rows(rows, asymmetric)  # the spec's one-line EvalError
            raise AssertionError("quantize_rows accepted a non-finite input")
        extremes = np.array([low, high], np.float32)  # the scale and zero point depend on nothing else
        if asymmetric:
            _, scale, zero_point = asymmetric_quantize(extremes)
            if min(np.float32(0.0), low) == max(np.float32(0.0), high):
                continue  # rmin == rmax: q = 0, scale 1, zero point 0
            inverse = np.float32(0.0) if scale == 0 else np.float32(1.0 / float(scale))
            q_min = -128
        else:
            value_range = max(abs(np.float32(low)), abs(np.float32(high)))
            if value_range == 0:
                continue
            scale = np.float32(value_range / np.float32(127))
            inverse = np.float32(np.float32(127) / value_range)
            zero_point, q_min = 0, -127
        _quantize_row_nb(rows[b], inverse, np.int64(zero_point), q_min, 127, q[b])
        scales[b], zero_points[b] = scale, zero_point
    return q, scales, zero_points


assert QUANT_BLOCK == 8  # _quantize_row_nb's blocks


def _exact_sums(int8: Int8Convolution, plan: Any, p: Conv2DParams, x: np.ndarray, zero_point: int) -> np.ndarray:
    """int64 [pixels, Cout] equal to ``sum w * (x - zero_point)`` over the in-image taps modulo 2^32."""
    sums, offsets = int8.sums(plan, p, x, zero_point)
    return sums.astype(np.int64) - offsets


def _wrap_int32(values: np.ndarray) -> np.ndarray:
    return ((values + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def _conv_hybrid(p: Conv2DParams, plan: ConvUint8HybridPlan, x: np.ndarray, bias: np.ndarray | None,
                 int8: Int8Convolution, out_shape: tuple[int, ...]) -> np.ndarray:
    batches = x.shape[0]
    asymmetric = p.rule == KIND_HYBRID_PER_CHANNEL
    q, input_scales, zero_points = quantize_rows_fast(x.reshape(batches, -1), asymmetric)
    q = q.reshape(x.shape)
    if asymmetric:  # one zero point per image: one int8 convolution each
        acc = np.concatenate([_exact_sums(int8, plan.int8_plan, p, q[b:b + 1], int(zero_points[b]))
                              for b in range(batches)])
    else:
        acc = _exact_sums(int8, plan.int8_plan, p, q, 0)
        if plan.minus128_plan is not None:  # the SSE sign trick: 256 * min(q, 0) per marked weight
            acc = acc + 256 * _exact_sums(int8, plan.minus128_plan, p, np.minimum(q, np.int8(0)), 0)
    acc = _wrap_int32(acc).reshape(out_shape).astype(np.float32)
    if asymmetric:  # f32(f32(acc * s_w[oc]) * scale_b)
        scaled = (acc * p.filter_scales).astype(np.float32) * input_scales[:, None, None, None]
    else:  # f32(acc * f32(scale_b * s_w))
        scaled = acc * (input_scales * p.filter_scales[0]).astype(np.float32)[:, None, None, None]
    scaled = scaled.astype(np.float32)
    if bias is not None:
        scaled = (scaled + bias.astype(np.float32)).astype(np.float32)
    return clamp_float(scaled, p.act_min, p.act_max)


def conv2d_uint8_hybrid_fast(p: Conv2DParams, plan: ConvUint8HybridPlan | None, x: np.ndarray, w: np.ndarray,
                             bias: np.ndarray | None, int8: Int8Convolution) -> np.ndarray:
    channels_out = w.shape[0]
    win = p.window
    batches = x.shape[0]
    out_shape = (batches, win.out_h, win.out_w, channels_out)
    if win.out_h == 0 or win.out_w == 0 or batches == 0:
        return np.zeros(out_shape, p.output_dtype)
    if plan is None or (plan.in_h, plan.in_w) != x.shape[1:3]:  # weights computed at run time, or a resized input
        plan = plan_for(p, w, x.shape[1], x.shape[2], int8)
    x = np.ascontiguousarray(x)
    if p.rule == KIND_UINT8:
        return _conv_uint8(p, plan, x, bias, int8, out_shape)
    return _conv_hybrid(p, plan, x, bias, int8, out_shape)

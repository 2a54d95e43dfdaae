"""CONV_2D fast kernels for uint8 and hybrid models (the rules: ``refinterp/ops/conv.py``).

All three rules sum integer products of 8-bit values in a wrapping int32 accumulator; here the sums come from the
exact int8 backends of ``conv.py`` (vnni, avxvnni, avx2, blas32, blas64: ``int8_sums``, which computes
``S(w, x, z) = sum w * (x - z)`` over the in-image taps, modulo 2^32, for int8 ``w``, ``x`` and ``z``; see its
module docstring for why each backend is exact). conv.py imports this module, so it hands its backends in
(``Int8Convolution``) rather than this module importing conv.py. Every identity below holds in the integers, so it
holds modulo 2^32, and the reference's int32 result only depends on its sum modulo 2^32.

* uint8: with ``w' = w - 128``, ``x' = x - 128`` (int8: the sign bit flipped), ``a = zp_w - 128`` and
  ``b = zp_in - 128`` (both in [-128, 127])::

      sum (w - zp_w)(x - zp_in) = sum (w' - a)(x' - b) = S(w', x', b) - a * S(1, x', b)

  over the in-image taps. The last sum (the window sum ``sum (x - zp_in)`` over the receptive field's taps and the
  group's channels) is one more output channel of the same int8 convolution, its weights all 1: the plan packs
  one such channel after each group's (only when ``a != 0``, i.e. ``zp_w != 128``). Then ``+ bias``, the int32 wrap,
  MultiplyByQuantizedMultiplier, ``zp_out`` and the clamp in numba on int32 lanes (``_requantize_uint8_nb``).
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

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import numba
import numpy as np

from refinterp.ops.common import OpContext, Window2D
from refinterp.ops.conv import (
    KIND_HYBRID,
    KIND_HYBRID_PER_CHANNEL,
    KIND_UINT8,
    Conv2DParams,
    clamp_float,
)
from refinterp.ops.fast.requantize import REQUANT_LANES, requantize_lanes
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
    weight_offset: int = 0  # uint8: a = zp_w - 128 (not 0: the int8 plan has one window-sum channel per group)
    filter_hw: tuple[int, int] = (1, 1)
    minus128_plan: Any = None  # hybrid per-tensor, SSE trick: the 0/1 weights marking -128 in the first K & ~15


def plan_for(p: Conv2DParams, w: np.ndarray, in_h: int, in_w: int, int8: Int8Convolution) -> ConvUint8HybridPlan:
    if p.rule == KIND_UINT8:
        weights = (np.ascontiguousarray(w, np.uint8) ^ np.uint8(0x80)).view(np.int8)  # w - 128
        weight_offset = int(p.filter_zero_point) - 128
        if weight_offset:  # after each group's channels, one of weights 1: its sums are the window sums
            grouped = weights.reshape(p.groups, -1, *weights.shape[1:])
            ones = np.ones((p.groups, 1, *weights.shape[1:]), np.int8)
            weights = np.concatenate([grouped, ones], axis=1).reshape(-1, *weights.shape[1:])
        return ConvUint8HybridPlan(int8.plan(weights, p.groups, in_h, in_w, p.dilation_w), in_h, in_w,
                                   weight_offset=weight_offset, filter_hw=w.shape[1:3])
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
# Bands of output rows: the int32 sums of a whole layer would take 4 bytes per output (16 MiB on DeepLabV3's
# largest), and the copies of its input (x - 128, then the backend's padded copy) 2 or 3 bytes per input element,
# so the uint8 and hybrid convolutions run band by band, each band from the input rows it reads: the transient
# memory stays near BAND_BYTES, and the sums are still in cache when they are requantized.

#: the transient bytes a band may take: ``bytes_per_output`` per output (uint8: its int32 sums; hybrid: also its
#: float32 rescale), or the input's copies (about 2 bytes per element read), whichever is more
BAND_BYTES = 1 << 20


def row_bands(p: Conv2DParams, x_shape: tuple[int, ...], filter_h: int, channels_out: int,
              bytes_per_output: int = 4) -> Iterator[tuple[int, int, int, slice, Conv2DParams]]:
    """``(b, oy0, oy1, rows, p_band)``: output rows ``[oy0, oy1)`` of image ``b`` are the convolution ``p_band``
    of ``x[b:b + 1, rows]`` (the input rows they read; the taps above and below them are padding).

    With ``top = oy0 * stride_h - pad_h`` the band's first tap row, ``rows`` starts at ``max(top, 0)`` and the
    padding at the top is ``max(-top, 0)``: every output of the band then reads the same input rows (and the same
    padding) as in the whole convolution. A band that reads no row of the image gets no rows.
    """
    win = p.window
    batches, in_h, in_w, channels_in = x_shape
    row_bytes = max(bytes_per_output * win.out_w * channels_out, 2 * p.stride_h * in_w * channels_in, 1)
    rows = max(1, BAND_BYTES // row_bytes)
    for b in range(batches):
        for oy0 in range(0, win.out_h, rows):
            oy1 = min(win.out_h, oy0 + rows)
            if batches == 1 and oy0 == 0 and oy1 == win.out_h:
                yield 0, 0, oy1, slice(0, in_h), p
                continue
            top = oy0 * p.stride_h - win.pad_h
            bottom = (oy1 - 1) * p.stride_h - win.pad_h + (filter_h - 1) * p.dilation_h + 1
            first, last = max(top, 0), min(bottom, in_h)
            if last <= first:  # only padding: no row of the image
                first = last = pad_top = 0
            else:
                pad_top = first - top
            window = Window2D(oy1 - oy0, win.out_w, pad_top, win.pad_w)
            yield b, oy0, oy1, slice(first, last), replace(p, window=window)


# ------------------------------------------------------------------------------------------------
# uint8


@numba.njit(cache=True, parallel=True, nogil=True)
def _requantize_uint8_nb(sums, weight_offset, window_offsets, bias32, multipliers, left, right, output_zero_point,
                         act_min, act_max, per_group, y2d):
    """y2d[m, oc] = clamp(MBQM(int32(sums - a * window_sum + bias)) + zp_out), REQUANT_LANES channels at a time
    (``requantize_lanes``), rows in parallel.

    ``sums`` [pixels, groups * (per_group + 1)] when ``weight_offset`` (a) is not 0: after each group's channels its
    window-sum channel, whose true sum is ``sums - window_offsets[g]`` modulo 2^32; else [pixels, Cout]. Each row
    is copied to a buffer laid out as y's row, minus the correction ``a * window_sum`` (wrapped to int32: every term
    is added modulo 2^32), padded to whole vectors (``sums`` may be a view with a row stride); the operands are
    padded alike (``uint8_requantize_operands``); the last vector of a row is stored through a spare buffer.
    """
    pixels, columns = sums.shape
    channels = y2d.shape[1]
    groups = channels // per_group
    stride = per_group + (1 if weight_offset != 0 else 0)  # the columns of one group in sums
    full = channels // REQUANT_LANES * REQUANT_LANES
    chunk = 64
    for c in numba.prange((pixels + chunk - 1) // chunk):
        row = np.zeros(bias32.size, np.int32)
        spare = np.empty(REQUANT_LANES, np.uint8)
        for m in range(c * chunk, min(pixels, (c + 1) * chunk)):
            for g in range(groups):
                correction = np.int64(0)
                if weight_offset != 0:
                    window = np.int32(sums[m, g * stride + per_group] - window_offsets[g])
                    correction = np.int64(weight_offset) * np.int64(window)
                source = sums[m, g * stride:g * stride + per_group]
                target = row[g * per_group:(g + 1) * per_group]
                for i in range(per_group):
                    target[i] = np.int32(source[i] - correction)
            out = y2d[m]
            for oc in range(0, full, REQUANT_LANES):
                requantize_lanes(row, oc, bias32, multipliers, left, right, oc, out, oc, output_zero_point, act_min,
                                 act_max)
            if full < channels:
                requantize_lanes(row, full, bias32, multipliers, left, right, full, spare, 0, output_zero_point,
                                 act_min, act_max)
                for i in range(channels - full):
                    out[full + i] = spare[i]


def uint8_requantize_operands(p: Conv2DParams, bias: np.ndarray | None,
                              offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """int32 bias32 = int32(bias - offsets), multipliers, left, right for ``_requantize_uint8_nb``, [Cout] padded
    with zeros to whole REQUANT_LANES vectors.

    The legacy uint8 multiplier has no bound on its left shift (QuantizeMultiplier alone): from 32 on, ``v <<
    left`` wrapped to int32 is 0, and so is ``SRDHM(0, M)``; multiplier 0 with left 0 gives the same 0.
    """
    channels_out = len(offsets)
    bias64 = bias.astype(np.int64) if bias is not None else np.zeros(channels_out, np.int64)
    shift = np.asarray(p.output_shift, np.int64)
    left = np.maximum(shift, 0)
    operands = np.zeros((4, -(-channels_out // REQUANT_LANES) * REQUANT_LANES), np.int32)
    for row, values in enumerate(((((bias64 - offsets) + (1 << 31)) & 0xFFFFFFFF) - (1 << 31),
                                  np.where(left >= 32, 0, np.asarray(p.output_multiplier, np.int64)),
                                  np.where(left >= 32, 0, left), np.maximum(-shift, 0))):
        operands[row, :channels_out] = values
    return operands[0], operands[1], operands[2], operands[3]


def _conv_uint8(p: Conv2DParams, plan: ConvUint8HybridPlan, x: np.ndarray, bias: np.ndarray | None,
                int8: Int8Convolution, out_shape: tuple[int, ...]) -> np.ndarray:
    channels_out = out_shape[3]
    per_group = channels_out // p.groups
    y = np.empty(out_shape, np.uint8)
    operands = None
    for b, oy0, oy1, rows, p_band in row_bands(p, x.shape, plan.filter_hw[0], channels_out):
        shifted = (x[b:b + 1, rows] ^ np.uint8(0x80)).view(np.int8)  # x - 128
        # S(w', x', b) + offsets[oc], and the window sums after each group's channels (a != 0)
        sums, offsets = int8.sums(plan.int8_plan, p_band, shifted, int(p.input_zero_point) - 128)
        if operands is None:  # the offsets only depend on the weights and the zero point
            grouped = offsets.reshape(p.groups, -1)
            window_offsets = ((grouped[:, per_group:].sum(axis=1) + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)
            operands = (window_offsets.astype(np.int32),
                        *uint8_requantize_operands(p, bias, grouped[:, :per_group].reshape(-1)))
        _requantize_uint8_nb(sums, np.int32(plan.weight_offset), *operands, np.int32(p.output_zero_point),
                             np.int32(p.act_min), np.int32(p.act_max), per_group,
                             y[b, oy0:oy1].reshape(-1, channels_out))
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
    """int32 [pixels, Cout]: ``sum w * (x - zero_point)`` over the in-image taps, wrapped to int32 (NumPy's int32
    array arithmetic wraps modulo 2^32)."""
    sums, offsets = int8.sums(plan, p, x, zero_point)
    return sums - _wrap_int32(offsets).astype(np.int32)


def _wrap_int32(values: np.ndarray) -> np.ndarray:
    return ((values + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def _conv_hybrid(p: Conv2DParams, plan: ConvUint8HybridPlan, x: np.ndarray, bias: np.ndarray | None,
                 int8: Int8Convolution, out_shape: tuple[int, ...]) -> np.ndarray:
    """Band by band (``row_bands``); every float32 operation is elementwise, so a band's are the whole's."""
    batches = x.shape[0]
    asymmetric = p.rule == KIND_HYBRID_PER_CHANNEL
    q, input_scales, zero_points = quantize_rows_fast(x.reshape(batches, -1), asymmetric)
    q = q.reshape(x.shape)
    negative = np.minimum(q, np.int8(0)) if plan.minus128_plan is not None else None
    factors = (input_scales * p.filter_scales[0]).astype(np.float32)  # per-tensor: f32(scale_b * s_w)
    bias32 = bias.astype(np.float32) if bias is not None else None
    y = np.empty(out_shape, np.float32)
    # per output: the int32 sums (and their padding), acc, its float32 form, the clamp's result and copy
    for b, oy0, oy1, rows, p_band in row_bands(p, x.shape, plan.filter_hw[0], out_shape[3], bytes_per_output=24):
        q_band = q[b:b + 1, rows]
        band_shape = (1, oy1 - oy0, out_shape[2], out_shape[3])
        if asymmetric:  # one zero point per image
            acc = _exact_sums(int8, plan.int8_plan, p_band, q_band, int(zero_points[b]))
        else:
            acc = _exact_sums(int8, plan.int8_plan, p_band, q_band, 0)
            if negative is not None:  # the SSE sign trick: 256 * min(q, 0) per marked weight (wrapping int32)
                acc += np.int32(256) * _exact_sums(int8, plan.minus128_plan, p_band, negative[b:b + 1, rows], 0)
        scaled = acc.reshape(band_shape).astype(np.float32)
        # in place: each float32 operation rounds its float32 (or, for float64 scales, float64) result once
        if asymmetric:  # f32(f32(acc * s_w[oc]) * scale_b)
            np.multiply(scaled, p.filter_scales, out=scaled)
            np.multiply(scaled, input_scales[b], out=scaled)
        else:  # f32(acc * f32(scale_b * s_w))
            np.multiply(scaled, factors[b], out=scaled)
        if bias32 is not None:
            np.add(scaled, bias32, out=scaled)
        y[b:b + 1, oy0:oy1] = clamp_float(scaled, p.act_min, p.act_max)
    return y


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

"""TRANSPOSE_CONV fast kernels (the rules: ``refinterp/ops/transpose_conv.py``).

numba, output rows in parallel. The reference scatters input pixels into the output; here each thread *gathers*
the contributions of one output row (b, oy) in exactly the order the scatter delivers them to each element:
input rows iy ascending (that is, taps ky descending, for the ky with ``oy + pad_h - ky`` a multiple of the
stride), then input columns ix ascending, then input channels ic ascending, the inner loop over output channels.
float32: one float32 product and one float32 add per step (numba does not contract them to a fused multiply-add
without fastmath), so the result is bit-exact. int8/uint8: exact int64 sums reduced modulo 2**32 with the bias
(the reference's wrapping int32 scratch buffer), then MultiplyByQuantizedMultiplier per channel. int16x8: the same
exact int64 sums, then the accumulator's requantization (wrap + int32 MBQM, or the int64 MBQM). hybrid: the
per-image asymmetric quantization of the spec (``refinterp.ops.hybrid.quantize_rows``), then the float32 gather
with one term ``f32(f32(f32(d * w) * s_w[oc]) * s[b])`` per step, in the same order.
"""

from __future__ import annotations

import numba
import numpy as np

from refinterp.errors import EvalError
from refinterp.ops.conv import clamp_float
from refinterp.ops.hybrid import quantize_rows
from refinterp.ops.transpose_conv import (
    KIND_HYBRID,
    KIND_INT16,
    KIND_UINT8,
    TransposeConvParams,
    check_input_size,
    output_shape_of,
    transpose_conv_padding,
)
from refinterp.quant import mbqm64_nb, mbqm_nb, wrap_int32_nb


@numba.njit(cache=True, parallel=True, nogil=True)
def _gather_rows_f32(x, taps, stride_h, stride_w, pad_h, pad_w, out):
    """out[b, oy] for float32: ``taps`` is [KH, KW, Cin, Cout]; ``out`` zeroed by the caller."""
    batches, in_h, in_w, channels_in = x.shape
    filter_h, filter_w, _, channels_out = taps.shape
    out_h, out_w = out.shape[1], out.shape[2]
    for row in numba.prange(batches * out_h):
        b = row // out_h
        oy = row - b * out_h
        line = out[b, oy]
        for ky in range(filter_h - 1, -1, -1):
            shifted = oy + pad_h - ky
            if shifted < 0 or shifted % stride_h != 0:
                continue
            iy = shifted // stride_h
            if iy >= in_h:
                continue
            for ix in range(in_w):
                ox0 = ix * stride_w - pad_w
                for ic in range(channels_in):
                    value = x[b, iy, ix, ic]
                    for kx in range(filter_w):
                        ox = ox0 + kx
                        if ox < 0 or ox >= out_w:
                            continue
                        for oc in range(channels_out):
                            line[ox, oc] += value * taps[ky, kx, ic, oc]


@numba.njit(cache=True, parallel=True, nogil=True)
def _gather_rows_hybrid(offsets, taps, filter_scales, input_scales, stride_h, stride_w, pad_h, pad_w, out):
    """out[b, oy] for hybrid: ``offsets`` int64 [N, H, W, Cin] (q - zp[b]), ``taps`` int64 [KH, KW, Cin, Cout],
    float32 ``filter_scales`` [Cout] and ``input_scales`` [N]; ``out`` float32, zeroed by the caller."""
    batches, in_h, in_w, channels_in = offsets.shape
    filter_h, filter_w, _, channels_out = taps.shape
    out_h, out_w = out.shape[1], out.shape[2]
    for row in numba.prange(batches * out_h):
        b = row // out_h
        oy = row - b * out_h
        line = out[b, oy]
        input_scale = input_scales[b]
        for ky in range(filter_h - 1, -1, -1):
            shifted = oy + pad_h - ky
            if shifted < 0 or shifted % stride_h != 0:
                continue
            iy = shifted // stride_h
            if iy >= in_h:
                continue
            for ix in range(in_w):
                ox0 = ix * stride_w - pad_w
                for ic in range(channels_in):
                    value = offsets[b, iy, ix, ic]
                    for kx in range(filter_w):
                        ox = ox0 + kx
                        if ox < 0 or ox >= out_w:
                            continue
                        for oc in range(channels_out):
                            # every step rounds to float32 (an int64 times a float32 would be float64 in numba)
                            product = np.float32(value * taps[ky, kx, ic, oc])
                            scaled = np.float32(product * filter_scales[oc])
                            line[ox, oc] += np.float32(scaled * input_scale)


@numba.njit(cache=True, parallel=True, nogil=True)
def _gather_rows_int(x, taps, input_zero_point, stride_h, stride_w, pad_h, pad_w, bias, multipliers, shifts,
                     accumulator_bits, output_zero_point, act_min, act_max, out):
    """out[b, oy] for int8/uint8 and int16x8: exact int64 sums of ``(x - input_zero_point) * taps`` (``taps``
    int64 [KH, KW, Cin, Cout] with the weight offset applied) + the bias; the 32-bit accumulator wraps and takes
    the int32 MBQM, the 64-bit one (int16x8 only) the int64 MBQM; then the output zero point and the clamp."""
    batches, in_h, in_w, channels_in = x.shape
    filter_h, filter_w, _, channels_out = taps.shape
    out_h, out_w = out.shape[1], out.shape[2]
    for row in numba.prange(batches * out_h):
        b = row // out_h
        oy = row - b * out_h
        acc = np.zeros((out_w, channels_out), np.int64)
        for ky in range(filter_h - 1, -1, -1):
            shifted = oy + pad_h - ky
            if shifted < 0 or shifted % stride_h != 0:
                continue
            iy = shifted // stride_h
            if iy >= in_h:
                continue
            for ix in range(in_w):
                ox0 = ix * stride_w - pad_w
                for ic in range(channels_in):
                    value = np.int64(x[b, iy, ix, ic]) - input_zero_point
                    for kx in range(filter_w):
                        ox = ox0 + kx
                        if ox < 0 or ox >= out_w:
                            continue
                        for oc in range(channels_out):
                            acc[ox, oc] += value * taps[ky, kx, ic, oc]
        for ox in range(out_w):
            for oc in range(channels_out):
                total = acc[ox, oc] + bias[oc]
                if accumulator_bits == 32:
                    scaled = mbqm_nb(wrap_int32_nb(total), multipliers[oc], shifts[oc])
                else:
                    scaled = mbqm64_nb(total, multipliers[oc], shifts[oc])
                out[b, oy, ox, oc] = min(max(scaled + output_zero_point, act_min), act_max)


def transpose_conv_fast(p: TransposeConvParams, shape_values: np.ndarray | None, w: np.ndarray, x: np.ndarray,
                        bias: np.ndarray | None = None) -> np.ndarray:
    channels_out, filter_h, filter_w, _ = w.shape
    shape = output_shape_of(p, shape_values, x.shape[0])
    if p.output_shape is None:
        check_input_size(p, shape[1:3], (filter_h, filter_w), x.shape[1:3], EvalError)
    pad_h = transpose_conv_padding(p.padding, shape[1], filter_h, p.stride_h)
    pad_w = transpose_conv_padding(p.padding, shape[2], filter_w, p.stride_w)
    if p.kind == KIND_INT16:
        taps = np.ascontiguousarray(np.transpose(w, (1, 2, 3, 0)).astype(np.int64))
        bias64 = np.zeros(channels_out, np.int64) if bias is None else bias.reshape(-1).astype(np.int64)
        out = np.empty(shape, np.int16)
        _gather_rows_int(np.ascontiguousarray(x), taps, np.int64(0), p.stride_h, p.stride_w, pad_h, pad_w, bias64,
                         p.output_multiplier.astype(np.int64), p.output_shift.astype(np.int64), p.accumulator_bits,
                         np.int64(0), np.int64(p.act_min), np.int64(p.act_max), out)
        return out
    if p.kind in ("int8", KIND_UINT8):
        taps = np.ascontiguousarray(np.transpose(w, (1, 2, 3, 0)).astype(np.int64))
        if p.kind == KIND_UINT8:
            taps -= p.filter_zero_point
        bias64 = np.zeros(channels_out, np.int64) if bias is None else bias.reshape(-1).astype(np.int64)
        out = np.empty(shape, np.int64)
        _gather_rows_int(np.ascontiguousarray(x), taps, np.int64(p.input_zero_point), p.stride_h, p.stride_w,
                         pad_h, pad_w, bias64, p.output_multiplier.astype(np.int64),
                         p.output_shift.astype(np.int64), 32, np.int64(p.output_zero_point), np.int64(p.act_min),
                         np.int64(p.act_max), out)
        return out.astype(p.output_dtype)
    if p.kind == KIND_HYBRID:
        batches = x.shape[0]
        q, input_scales, zero_points = quantize_rows(np.asarray(x, np.float32).reshape(batches, -1), asymmetric=True)
        offsets = np.ascontiguousarray((q - zero_points[:, None]).reshape(x.shape))
        taps = np.ascontiguousarray(np.transpose(w, (1, 2, 3, 0)).astype(np.int64))
        out = np.zeros(shape, np.float32)
        _gather_rows_hybrid(offsets, taps, p.filter_scales.astype(np.float32), input_scales.astype(np.float32),
                            p.stride_h, p.stride_w, pad_h, pad_w, out)
        if bias is not None:
            out = out + bias.reshape(-1).astype(np.float32)
        return clamp_float(out, p.act_min, p.act_max)
    taps = np.ascontiguousarray(np.transpose(w, (1, 2, 3, 0)).astype(np.float32))
    out = np.zeros(shape, np.float32)
    _gather_rows_f32(np.ascontiguousarray(x, dtype=np.float32), taps, p.stride_h, p.stride_w, pad_h, pad_w, out)
    if bias is not None:
        out = out + bias.reshape(-1).astype(np.float32)
    return clamp_float(out, p.act_min, p.act_max)

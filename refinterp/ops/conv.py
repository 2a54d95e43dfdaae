"""CONV_2D: int8 (per-channel or per-tensor weights) and float32.

int8 rule (``reference_integer_ops::ConvPerChannel``, TFLite and TFLM alike), for each output
(b, oy, ox, oc) in group g::

    acc = sum over in-image taps (ky, kx) and ic of  w[oc, ky, kx, ic] * (x[b, iy, ix, g*Cin_g + ic] - zp_in)
    acc = int32(acc + bias[oc])
    y   = clamp(MultiplyByQuantizedMultiplier(acc, M[oc], shift[oc]) + zp_out, act_min, act_max)

with ``iy = oy*stride_h - pad_h + ky*dilation_h`` (likewise x), taps outside the image skipped (the same
as padding with zp_in), and ``M[oc], shift[oc] = QuantizeMultiplier(f64(s_in) * f64(s_w[oc]) / f64(s_out))``
(PopulateConvolutionQuantizationParams: a per-tensor filter scale is broadcast to every channel).

float32 rule (``reference_ops::Conv``): ``total`` starts at 0.0f and adds ``x * w`` in float32 in the order
ky, kx, ic; then ``clamp(total + bias[oc])``. Summation order matters for floats, so both kernels keep it.

The fast kernels (exact int8 VNNI / BLAS backends, numba float32) are in ``refinterp/ops/fast/conv.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from refinterp.ops.common import OpContext, Window2D, per_tensor_qparams, window_2d
from refinterp.quant import (
    activation_range,
    activation_range_float,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    wrap_int32,
)


@dataclass(frozen=True)
class Conv2DParams:
    stride_h: int
    stride_w: int
    dilation_h: int
    dilation_w: int
    window: Window2D
    groups: int
    quantized: bool
    input_zero_point: int = 0
    output_zero_point: int = 0
    output_multiplier: np.ndarray | None = None  # int64 [Cout], Q31
    output_shift: np.ndarray | None = None  # int64 [Cout], positive = left shift
    act_min: float = 0
    act_max: float = 0


def per_channel_multipliers(input_scale: float, filter_scales: np.ndarray, output_scale: float,
                            channels: int) -> tuple[np.ndarray, np.ndarray]:
    """PopulateConvolutionQuantizationParams: one (multiplier, shift) per output channel, in double."""
    scales = np.broadcast_to(np.asarray(filter_scales, dtype=np.float32), (channels,))
    multipliers = np.empty(channels, dtype=np.int64)
    shifts = np.empty(channels, dtype=np.int64)
    for c in range(channels):
        effective_scale = float(input_scale) * float(scales[c]) / float(output_scale)
        multipliers[c], shifts[c] = quantize_multiplier(effective_scale)
    return multipliers, shifts


def prepare_conv2d(ctx: OpContext) -> Conv2DParams:
    ctx.check_inputs(2, 3)
    x, w, bias, y = ctx.require_input(0), ctx.require_input(1), ctx.input(2), ctx.output(0)
    ctx.check_dtype(x, ("int8", "float32"), "input")
    x_shape, w_shape = ctx.shape(x), ctx.shape(w)
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise ctx.fail(f"input and filter must be 4-D, got {list(x_shape)} and {list(w_shape)}")
    channels_out, filter_h, filter_w, channels_in_group = w_shape
    channels_in = x_shape[3]
    if channels_in_group == 0 or channels_in % channels_in_group:
        raise ctx.fail(f"input depth {channels_in} is not a multiple of the filter depth {channels_in_group}")
    groups = channels_in // channels_in_group
    if channels_out % groups:
        raise ctx.fail(f"{channels_out} output channels do not split into {groups} groups")
    if bias is None and ctx.profile == "litert-ref":
        # conv.cc Prepare: TF_LITE_ENSURE(context, has_bias); TFLM (and the reference kernel) take no bias as 0
        raise ctx.fail("has no bias: LiteRT's CONV_2D requires one (TFLM accepts it: profile 'tflm')")
    if bias is not None and ctx.shape(bias) != (channels_out,):
        raise ctx.fail(f"bias shape {list(ctx.shape(bias))} does not match {channels_out} output channels")
    o = ctx.options
    stride_h, stride_w = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    dilation_h, dilation_w = int(o.get("dilation_h_factor", 1)), int(o.get("dilation_w_factor", 1))
    window = window_2d(ctx, x_shape[1], x_shape[2], filter_h, filter_w, stride_h, stride_w, dilation_h, dilation_w)
    activation = int(o.get("fused_activation_function", 0))
    common = dict(stride_h=stride_h, stride_w=stride_w, dilation_h=dilation_h, dilation_w=dilation_w,
                  window=window, groups=groups)

    if x.type_name == "float32":
        if w.type_name != "float32" or y.type_name != "float32":
            raise ctx.unsupported(f"float32 input with {w.type_name} filter and {y.type_name} output (hybrid)")
        lo, hi = activation_range_float(activation)
        return Conv2DParams(**common, quantized=False, act_min=lo, act_max=hi)

    if w.type_name != "int8" or y.type_name != "int8":
        raise ctx.unsupported(f"int8 input with {w.type_name} filter and {y.type_name} output")
    if bias is not None and bias.type_name != "int32":
        raise ctx.unsupported(f"int8 convolution with {bias.type_name} bias (TFLite requires int32)")
    input_scale, input_zero_point = per_tensor_qparams(ctx, x, "input")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    wq = w.quantization
    if wq is None:
        raise ctx.fail("int8 filter is not quantized")
    if np.any(wq.zero_point != 0):
        raise ctx.fail("int8 filter zero points must be 0")  # PopulateConvolutionQuantizationParams
    if wq.per_channel and (wq.quantized_dimension != 0 or wq.scale.size != channels_out):
        raise ctx.fail(f"per-channel filter must have {channels_out} scales on dimension 0")
    multipliers, shifts = per_channel_multipliers(input_scale, wq.scale, output_scale, channels_out)
    act_min, act_max = activation_range(activation, output_scale, output_zero_point, np.int8)
    return Conv2DParams(**common, quantized=True, input_zero_point=input_zero_point,
                        output_zero_point=output_zero_point, output_multiplier=multipliers,
                        output_shift=shifts, act_min=act_min, act_max=act_max)


# ------------------------------------------------------------------------------------------------
# Spec kernel: readable NumPy


def _padded_input(p: Conv2DParams, x: np.ndarray, filter_h: int, filter_w: int, pad_value: float) -> np.ndarray:
    """Pad so every tap reads inside the array; taps TFLite skips read ``pad_value`` (zp_in: contributes 0)."""
    win = p.window
    need_h = (win.out_h - 1) * p.stride_h + (filter_h - 1) * p.dilation_h + 1
    need_w = (win.out_w - 1) * p.stride_w + (filter_w - 1) * p.dilation_w + 1
    pad_bottom = max(0, need_h - win.pad_h - x.shape[1])
    pad_right = max(0, need_w - win.pad_w - x.shape[2])
    return np.pad(x, ((0, 0), (win.pad_h, pad_bottom), (win.pad_w, pad_right), (0, 0)), constant_values=pad_value)


def _tap(p: Conv2DParams, padded: np.ndarray, ky: int, kx: int) -> np.ndarray:
    """The input pixels that tap (ky, kx) reads for every output position: [N, out_h, out_w, C]."""
    y0, x0 = ky * p.dilation_h, kx * p.dilation_w
    return padded[:, y0:y0 + (p.window.out_h - 1) * p.stride_h + 1:p.stride_h,
                  x0:x0 + (p.window.out_w - 1) * p.stride_w + 1:p.stride_w, :]


def conv2d_spec(p: Conv2DParams, x: np.ndarray, w: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    channels_out, filter_h, filter_w, channels_in_group = w.shape
    if p.window.out_h == 0 or p.window.out_w == 0:
        empty_shape = (x.shape[0], p.window.out_h, p.window.out_w, channels_out)
        return np.zeros(empty_shape, np.int8 if p.quantized else np.float32)
    out_per_group = channels_out // p.groups
    if p.quantized:
        padded = _padded_input(p, x, filter_h, filter_w, p.input_zero_point).astype(np.int64) - p.input_zero_point
        acc = np.zeros((x.shape[0], p.window.out_h, p.window.out_w, channels_out), dtype=np.int64)
        for g in range(p.groups):
            ins = slice(g * channels_in_group, (g + 1) * channels_in_group)
            outs = slice(g * out_per_group, (g + 1) * out_per_group)
            for ky in range(filter_h):
                for kx in range(filter_w):
                    # integer sums are exact in any order: one matmul per tap
                    acc[..., outs] += _tap(p, padded, ky, kx)[..., ins] @ w[outs, ky, kx, :].astype(np.int64).T
        if bias is not None:
            acc += bias.astype(np.int64)
        acc = wrap_int32(acc)  # the C++ accumulator is int32
        y = multiply_by_quantized_multiplier(acc, p.output_multiplier, p.output_shift) + p.output_zero_point
        return np.clip(y, p.act_min, p.act_max).astype(np.int8)

    padded = _padded_input(p, x, filter_h, filter_w, 0.0)
    total = np.zeros((x.shape[0], p.window.out_h, p.window.out_w, channels_out), dtype=np.float32)
    for g in range(p.groups):
        outs = slice(g * out_per_group, (g + 1) * out_per_group)
        for ky in range(filter_h):
            for kx in range(filter_w):
                tap = _tap(p, padded, ky, kx)
                for ic in range(channels_in_group):
                    # one float32 multiply and one add per step, in reference_ops::Conv's order
                    total[..., outs] += tap[..., g * channels_in_group + ic, None] * w[outs, ky, kx, ic]
    if bias is not None:
        total = total + bias.astype(np.float32)
    return np.clip(total, np.float32(p.act_min), np.float32(p.act_max)).astype(np.float32)

"""Profile "litert-opt": LiteRT 2.3.0's optimized hybrid (float32 activations, constant int8 weights) kernels.

The input quantization is the reference profile's (``refinterp/ops/hybrid.py``: the NEON_2_SSE
``NeonAsymmetricQuantizeFloats`` of each whole batch image, scale_b and zero point zp_b), and the integer sums are
exact int32 (modulo 2**32) in both kernels; what the optimized kernels change is the float32 rescaling order. The
rules, each measured bit for bit against the ai-edge-litert 2.3.0 x86-64 wheel (BUILTIN_WITHOUT_DEFAULT_DELEGATES):

* CONV_2D with per-channel scales that differ (``conv.cc`` EvalHybridPerChannel, kGenericOptimized ->
  ``optimized_ops::HybridConvPerChannel``, optimized_ops.h): im2col pads with the image's zero point zp_b, the int8
  GEMM (cpu_backend_gemm, ruy) gives the raw sums ``raw = sum w * q`` over every tap, the filter's row sums
  ``rs[oc]`` come from ``tensor_utils::ReductionSumVector`` (SseReductionSumVector, int16 lanes), and the Eigen
  expression ``((raw - rs * zp_b).cast<float>() * (s_w * scale_b) + bias).cwiseMin(max).cwiseMax(min)`` gives::

      acc = int32(raw - int32(rs[oc] * zp_b))                 (= sum over in-image taps of w * (q - zp_b))
      y   = max(min(f32(f32(f32(acc) * f32(s_w[oc] * scale_b)) + bias[oc]), act_max), act_min)

  The reference kernel (reference_ops::HybridConvPerChannel) multiplies left to right instead,
  ``f32(f32(acc) * s_w[oc]) * scale_b``: the two differ by an ulp in about one output in ten. A grouped
  convolution keeps the reference kernel (conv.cc runs only it for groups), and so does a per-tensor (or all
  scales equal) hybrid convolution: ``optimized_ops::HybridConv`` is what both kernel types run.
* DEPTHWISE_CONV_2D (``depthwise_conv.cc`` EvalHybridPerChannel, kGenericOptimized ->
  ``optimized_integer_ops::DepthwiseConvHybridPerChannel`` -> ``DepthwiseConvHybridGeneral``,
  depthwise_conv_hybrid.h): ``acc = sum over in-image taps of w * (q - zp_b)`` (exact), then the output channels
  in blocks of 4 (the USE_NEON store loop: ``vmulq_f32`` by the channel scales, then by the image scale, then
  ``vaddq_f32`` the bias, ``vmaxq_f32`` / ``vminq_f32``) and the last ``C_out % 4`` channels in the scalar loop
  (``acc * input_scale * per_channel_scales[c]``, left to right, ``+= bias``)::

      y = f32(f32(f32(acc) * s_w[oc]) * scale_b) + bias[oc]    for oc < C_out & ~3
      y = f32(f32(f32(acc) * scale_b) * s_w[oc]) + bias[oc]    for the last C_out % 4
      y = min(max(y, act_min), act_max)   (a NaN: act_min in the channel blocks, _mm_max_ps(y, min); NaN in the rest)

  The reference kernel scales by ``f32(s_w[oc] * scale_b)`` once. No bias: LiteRT's optimized kernel reads
  ``bias_data`` without checking (a segmentation fault, measured); refinterp refuses the model under litert-opt.
* FULLY_CONNECTED: ``fully_connected.cc`` runs the same EvalHybrid under both kernel types, the reference rule
  holds (measured on random cases); nothing to emulate.

NaN and infinite biases were measured (the convolution's Eigen clamp keeps a NaN and its payload, the depthwise
blocks replace it by act_min). Not emulated: an im2col buffer of 1 GiB or more (conv.cc then falls back to the
reference per-channel kernel; not measured). Non-finite inputs are refused as in the reference profile
(hybrid.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from refinterp.ops.common import OpContext
from refinterp.ops.conv import padded_input, window_tap
from refinterp.ops.hybrid import hybrid_weights, quantize_rows, sse_row_sums
from refinterp.quant import wrap_int32

#: DepthwiseConvHybridGeneral's USE_NEON store loop handles the output channels 4 at a time
DEPTHWISE_CHANNEL_BLOCK = 4


@dataclass(frozen=True)
class HybridConvPerChannel:
    """A per-channel hybrid CONV_2D (the reference Conv2DParams) computed as optimized_ops::HybridConvPerChannel."""

    base: Any


@dataclass(frozen=True)
class HybridDepthwise:
    """A hybrid DEPTHWISE_CONV_2D (the reference DepthwiseConv2DParams) computed as DepthwiseConvHybridGeneral."""

    base: Any


def prepare_conv_hybrid(ctx: OpContext, params: Any) -> HybridConvPerChannel | None:
    """The per-channel, ungrouped hybrid CONV_2D; None (the reference kernel) for every other hybrid case."""
    if params.rule == "hybrid_per_channel" and params.groups == 1:
        return HybridConvPerChannel(params)
    return None


def prepare_depthwise_hybrid(ctx: OpContext, params: Any) -> HybridDepthwise | None:
    """The hybrid DEPTHWISE_CONV_2D; without a bias LiteRT's optimized kernel dereferences the absent bias."""
    if params.rule != "hybrid":
        return None
    if ctx.input(2) is None:
        raise ctx.fail("hybrid depthwise convolution without a bias: LiteRT's optimized kernel reads the absent "
                       "bias (a segmentation fault, measured; the reference profile takes it as 0)")
    return HybridDepthwise(params)


def _clamp_min_then_max(values: np.ndarray, act_min: float, act_max: float) -> np.ndarray:
    """Eigen's ``.cwiseMin(act_max).cwiseMax(act_min)`` (finite values: the same as any clamp)."""
    return np.maximum(np.minimum(values, np.float32(act_max)), np.float32(act_min)).astype(np.float32)


def _quantized_images(p: Any, x: np.ndarray, filter_h: int, filter_w: int):
    """Each image quantized with its own asymmetric parameters (``quantize_rows``, as both optimized hybrid kernels
    do) and padded with its zero point (a tap outside the image contributes nothing): yields (padded image
    [1, H', W', C] int8, zero point, input scale)."""
    batches = x.shape[0]
    quantized, input_scales, zero_points = quantize_rows(x.reshape(batches, -1), asymmetric=True)
    for b in range(batches):
        zero_point = int(zero_points[b])
        yield (padded_input(p, quantized[b].reshape(1, *x.shape[1:]), filter_h, filter_w, zero_point), zero_point,
               np.float32(input_scales[b]))


def conv2d_hybrid_per_channel(q: HybridConvPerChannel, x: np.ndarray, w: np.ndarray,
                              bias: np.ndarray | None) -> np.ndarray:
    """optimized_ops::HybridConvPerChannel (module docstring): raw int8 GEMM sums over the zp_b-padded im2col,
    minus ``row_sums * zp_b``, times ``f32(s_w[oc] * scale_b)``, plus the bias, then the clamp."""
    p = q.base
    channels_out, filter_h, filter_w, _ = w.shape
    out = np.zeros((x.shape[0], p.window.out_h, p.window.out_w, channels_out), np.float32)
    if out.size == 0:
        return out
    weights = hybrid_weights(w).astype(np.int64)
    row_sums = sse_row_sums(weights.reshape(channels_out, -1))  # tensor_utils::ReductionSumVector
    bias_values = np.zeros(channels_out, np.float32) if bias is None else bias.astype(np.float32)
    # Im2col / DilatedIm2col write the image's zero point where a tap falls outside it
    for b, (padded, zero_point, input_scale) in enumerate(_quantized_images(p, x, filter_h, filter_w)):
        raw = np.zeros(out.shape[1:], np.int64)
        for ky in range(filter_h):
            for kx in range(filter_w):
                raw += (window_tap(p, padded, ky, kx)[0] @ weights[:, ky, kx, :].T)  # exact: one matmul per tap
        # Eigen: (in_mat.col(c) - row_sums_vec * zero_point), int32 arithmetic
        acc = wrap_int32(wrap_int32(raw) - wrap_int32(row_sums * zero_point))
        scale = (p.filter_scales * input_scale).astype(np.float32)  # per_channel_scale * input_scale
        with np.errstate(over="ignore", invalid="ignore"):
            scaled = (acc.astype(np.float32) * scale).astype(np.float32)
            out[b] = (scaled + bias_values).astype(np.float32)
    return _clamp_min_then_max(out, p.act_min, p.act_max)


def depthwise_conv2d_hybrid(q: HybridDepthwise, x: np.ndarray, w: np.ndarray,
                            bias: np.ndarray | None) -> np.ndarray:
    """DepthwiseConvHybridGeneral (module docstring): exact sums of ``w * (q - zp_b)`` over the in-image taps, the
    channel blocks of 4 scaled ``* s_w * scale_b``, the other channels ``* scale_b * s_w``, plus the bias, clamp."""
    p = q.base
    _, filter_h, filter_w, channels_out = w.shape
    out = np.zeros((x.shape[0], p.window.out_h, p.window.out_w, channels_out), np.float32)
    if out.size == 0:
        return out
    weights = hybrid_weights(w).astype(np.int64)
    head = channels_out // DEPTHWISE_CHANNEL_BLOCK * DEPTHWISE_CHANNEL_BLOCK
    bias_values = np.zeros(channels_out, np.float32) if bias is None else bias.astype(np.float32)
    # a tap outside the image is skipped: padding with zp_b makes it contribute 0
    for b, (padded, zero_point, input_scale) in enumerate(_quantized_images(p, x, filter_h, filter_w)):
        acc = np.zeros(out.shape[1:], np.int64)
        for ky in range(filter_h):
            for kx in range(filter_w):
                shifted = np.repeat(window_tap(p, padded, ky, kx)[0] - zero_point, p.depth_multiplier, axis=2)
                acc += shifted * weights[0, ky, kx, :]
        acc_float = wrap_int32(acc).astype(np.float32)
        with np.errstate(over="ignore", invalid="ignore"):
            vector = ((acc_float[..., :head] * p.filter_scales[:head]).astype(np.float32) * input_scale)
            scalar = ((acc_float[..., head:] * input_scale).astype(np.float32) * p.filter_scales[head:])
            scaled = np.concatenate([vector.astype(np.float32), scalar.astype(np.float32)], axis=-1)
            out[b] = (scaled + bias_values).astype(np.float32)
    act_min, act_max = np.float32(p.act_min), np.float32(p.act_max)
    with np.errstate(invalid="ignore"):
        # vmaxq_f32 is _mm_max_ps(acc, min): a NaN gives the bound; the scalar std::max(acc, min) keeps the NaN
        vector = np.where(out[..., :head] > act_min, out[..., :head], act_min)
        scalar = np.where(out[..., head:] < act_min, act_min, out[..., head:])
        clamped = np.concatenate([vector, scalar], axis=-1)
        # vminq_f32 / std::min(v, max): only the scalar channels can still hold a NaN, and it stays
        return np.where(act_max < clamped, act_max, clamped).astype(np.float32)

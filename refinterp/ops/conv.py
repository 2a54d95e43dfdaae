"""CONV_2D: int8 (per-channel or per-tensor weights), int16x8, uint8, hybrid (float32 with int8/uint8 weights), float32.

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

uint8 rule (``reference_ops::Conv`` for uint8, LiteRT only; legacy TF1 quantization-aware models): the int8
rule with the filter zero point subtracted, ``acc = sum (w - zp_w) * (x - zp_in) + bias``, and one per-tensor
``M, shift = QuantizeMultiplier(f64(f32(s_in * s_w)) / f64(s_out))`` (``GetQuantizedConvolutionMultipler``: the
product is float32; Prepare also needs ``|f64(s_in)*f64(s_w) - f64(s_bias)| / s_out <= 0.02``). Per-channel
scales with a uint8 input fail Prepare.

Hybrid rules (float32 input and output, int8 weights; uint8 weights read as int8; LiteRT only; the quantization
and dot-product rules are in ``refinterp/ops/hybrid.py``):

* per-tensor weights, or per-channel scales all equal (``conv.cc`` EvalHybrid -> ``optimized_ops::HybridConv``
  even under BUILTIN_REF): each batch image is quantized symmetrically, ``S_b = f32(scale_b * s_w[0])``; the
  im2col rows (padding 0) times the weights give ``acc``, exactly when ``Cout % 4 == 0`` (the int8 GEMM of
  cpu_backend_gemm) and with the SSE sign trick otherwise (``SseMatrixBatchVectorMultiplyAccumulateImpl``);
  ``y = clamp(f32(f32(f32(acc) * S_b) + bias[oc]))``.
* per-channel scales that differ, int8 weights (``EvalHybridPerChannel`` -> ``reference_ops::HybridConvPerChannel``):
  each batch image is quantized asymmetrically (scale_b, zp_b); ``acc = sum w * (q - zp_b)`` over the in-image
  taps, exact in int32; ``y = clamp(f32(f32(f32(acc) * s_w[oc]) * scale_b) + bias[oc])``.

int16x8 rule (int16 input and output with zero point 0, int8 weights with zero point 0, per-channel or per-tensor;
``reference_integer_ops::ConvPerChannel`` for int16, ``conv.cc`` EvalQuantizedPerChannel16x8), with M, shift as for
int8 and ``acc = sum over in-image taps of w * x + bias[oc]`` (no input offset: it is 0), then one of two
accumulators, chosen as the runtime chooses it:

* 64-bit (an int64 bias): ``acc`` is exact in int64, ``y = clamp(MultiplyByQuantizedMultiplier(int64 acc, M, shift))``
  with the int64 form (``refinterp.quant.multiply_by_quantized_multiplier_int64``: a 15-bit multiplier);
* 32-bit (an int32 bias): ``acc`` wraps in int32 (``ConvPerChannel<int32_t>``), and the int32 form of
  MultiplyByQuantizedMultiplier (the int8 rule's) requantizes it.

LiteRT picks the accumulator from the options' ``quantized_bias_type``, not from the bias: INT32 -> 32-bit, INT64 or
unset (FLOAT32, the default) -> 64-bit; Prepare requires the bias to be int32 or int64 and, when the option is set,
of that type. An int32 bias with the option unset is read by the int64 kernel as int64 (past its end): refinterp
refuses it. TFLM (measured) picks by the bias's type (int32 -> 32-bit, int64 -> 64-bit), and without a bias by the
option (INT32 -> 32-bit, else 64-bit). Prepare (both): input and output zero points 0; LiteRT also needs the bias
(TFLM takes none as 0).

The fast kernels (exact int8 VNNI / BLAS backends, numba float32) are in ``refinterp/ops/fast/conv.py``; the
uint8 and hybrid ones in ``refinterp/ops/fast/conv_uint8_hybrid.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from refinterp.ops.common import (
    OpContext,
    Window2D,
    bias_channel_scale,
    checked_quantize_multiplier,
    conv_scales,
    per_tensor_qparams,
    per_tensor_qparams_or_identity,
    window_2d,
)
from refinterp.ops.hybrid import hybrid_weights, quantize_rows, sse_dot
from refinterp.quant import (
    MBQM64_MAX_SHIFT,
    activation_range,
    activation_range_float,
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_int64,
    quantize_multiplier,
    wrap_int32,
)

#: Conv2DParams.kind values: which rule of the module docstring runs
KIND_FLOAT32, KIND_INT8, KIND_UINT8 = "float32", "int8", "uint8"
KIND_HYBRID, KIND_HYBRID_PER_CHANNEL = "hybrid", "hybrid_per_channel"
KIND_INT16 = "int16"

#: TensorType values of the options' quantized_bias_type (schema): unset reads as FLOAT32 (0) or, with no options
#: table, refinterp's TENSOR_TYPE_NONE (-1)
_BIAS_TYPE_UNSET, _BIAS_TYPE_INT32, _BIAS_TYPE_INT64 = (0, -1), 2, 4


@dataclass(frozen=True)
class Conv2DParams:
    stride_h: int
    stride_w: int
    dilation_h: int
    dilation_w: int
    window: Window2D
    groups: int
    quantized: bool  # an integer kernel (int8, uint8); False for float32 and hybrid
    input_zero_point: int = 0
    output_zero_point: int = 0
    output_multiplier: np.ndarray | None = None  # int64 [Cout], Q31
    output_shift: np.ndarray | None = None  # int64 [Cout], positive = left shift
    act_min: float = 0
    act_max: float = 0
    kind: str = ""  # one of KIND_*; "" = int8 when quantized, else float32 (params built before the field)
    filter_zero_point: int = 0  # uint8: subtracted from every weight
    filter_scales: np.ndarray | None = None  # hybrid: float32 [Cout] (per-tensor: every entry s_w[0])
    exact_dot: bool = True  # hybrid per-tensor: the int8 GEMM (Cout % 4 == 0) or the SSE sign trick
    accumulator_bits: int = 32  # int16: 32 (int32 bias: wraps, int32 MBQM) or 64 (int64 bias: int64 MBQM)

    @property
    def rule(self) -> str:
        return self.kind or (KIND_INT8 if self.quantized else KIND_FLOAT32)

    @property
    def output_dtype(self) -> np.dtype:
        return {KIND_INT8: np.dtype(np.int8), KIND_UINT8: np.dtype(np.uint8),
                KIND_INT16: np.dtype(np.int16)}.get(self.rule, np.dtype(np.float32))


def int16_accumulator_bits(ctx: OpContext, bias, what: str) -> int:
    """The 16x8 kernels' accumulator (32 or 64 bits) for CONV_2D, TRANSPOSE_CONV and FULLY_CONNECTED, with their
    Prepare checks on the bias type: LiteRT (conv.cc, transpose_conv.cc, fully_connected.cc) by the options'
    quantized_bias_type, TFLM by the bias's type (see the module docstring)."""
    if bias is not None and bias.type_name not in ("int32", "int64"):
        raise ctx.fail(f"int16 {what} with {bias.type_name} bias (TFLite takes int32 or int64)")
    option = int(ctx.options.get("quantized_bias_type", 0))
    if ctx.profile == "tflm":
        # TFLM (measured): the bias's type decides; without a bias, quantized_bias_type INT32 -> the int32 kernel
        if bias is not None:
            return 32 if bias.type_name == "int32" else 64
        return 32 if option == _BIAS_TYPE_INT32 else 64
    if option == -1 and what == "fully connected":
        # no FullyConnectedOptions table: LiteRT's params keep kTfLiteNoType, which fully_connected.cc's int16
        # Prepare refuses (only FLOAT32, the schema's default when the table exists, passes; measured)
        raise ctx.fail("int16 fully connected without options: LiteRT requires quantized_bias_type INT32 or INT64")
    if option in _BIAS_TYPE_UNSET:
        if bias is not None and bias.type_name == "int32":
            raise ctx.unsupported(f"int16 {what} with an int32 bias and no quantized_bias_type INT32 option: "
                                  "LiteRT's int64 kernel would read the int32 bias as int64 (past its end)")
        return 64
    if option not in (_BIAS_TYPE_INT32, _BIAS_TYPE_INT64):
        raise ctx.fail(f"quantized_bias_type {option} (TFLite takes INT32 or INT64)")
    wanted = "int32" if option == _BIAS_TYPE_INT32 else "int64"
    if bias is not None and bias.type_name != wanted:
        raise ctx.fail(f"{bias.type_name} bias with quantized_bias_type {wanted.upper()}")
    return 32 if option == _BIAS_TYPE_INT32 else 64


def int16_requantization_checks(ctx: OpContext, x, y, shifts: np.ndarray, accumulator_bits: int) -> None:
    """The 16x8 Prepare checks every such kernel shares: symmetric int16 input and output (zero point 0), and a
    multiplier the int64 MultiplyByQuantizedMultiplier applies with defined C++ (shift <= 14)."""
    for tensor, role in ((x, "input"), (y, "output")):
        if int(per_tensor_qparams(ctx, tensor, role)[1]) != 0:
            raise ctx.fail(f"int16 {role} zero point must be 0 (16x8 quantization is symmetric)")
    if accumulator_bits == 64 and shifts.size and int(shifts.max()) > MBQM64_MAX_SHIFT:
        raise ctx.fail(f"an effective scale of 2**{int(shifts.max()) - 1} or more: the int64 "
                       "MultiplyByQuantizedMultiplier would shift by a negative count (undefined)")


def int16_requantize(acc: np.ndarray, multipliers: np.ndarray, shifts: np.ndarray, accumulator_bits: int,
                     act_min: float, act_max: float) -> np.ndarray:
    """The 16x8 kernels' last step from exact int64 sums (bias included): wrap and the int32 MBQM (32-bit
    accumulator) or the int64 MBQM (64-bit), then the activation clamp; int16."""
    if accumulator_bits == 32:
        scaled = multiply_by_quantized_multiplier(wrap_int32(acc), multipliers, shifts)
    else:
        scaled = multiply_by_quantized_multiplier_int64(acc, multipliers, shifts)
    return np.clip(scaled, act_min, act_max).astype(np.int16)


def per_channel_multipliers(ctx: OpContext, input_scale: float, filter_scales: np.ndarray, output_scale: float,
                            channels: int) -> tuple[np.ndarray, np.ndarray]:
    """PopulateConvolutionQuantizationParams: one (multiplier, shift) per output channel, in double; a ratio
    TFLite cannot apply with defined results (not finite, 2**30 or more) fails Prepare."""
    scales = np.asarray(filter_scales, dtype=np.float32).reshape(-1)
    if scales.size == 1:  # one ratio for every channel, computed once: the channels may be a filter input's 2^31
        effective_scale = float(input_scale) * float(scales[0]) / float(output_scale)
        multiplier, shift = checked_quantize_multiplier(ctx, effective_scale,
                                                        "input scale x filter scale[0] / output scale")
        return np.full(channels, multiplier, np.int64), np.full(channels, shift, np.int64)
    scales = np.broadcast_to(scales, (channels,))
    multipliers = np.empty(channels, dtype=np.int64)
    shifts = np.empty(channels, dtype=np.int64)
    for c in range(channels):
        effective_scale = float(input_scale) * float(scales[c]) / float(output_scale)
        multipliers[c], shifts[c] = checked_quantize_multiplier(ctx, effective_scale,
                                                                f"input scale x filter scale[{c}] / output scale")
    return multipliers, shifts


def legacy_uint8_multiplier(ctx: OpContext, input_scale: float, filter_scale: float, output_scale: float,
                            bias_scale: float | None) -> tuple[int, int]:
    """GetQuantizedConvolutionMultipler (kernel_util.cc) for uint8 CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED.

    With a bias, ``|f64(s_in) * f64(s_w) - f64(s_bias)| / f64(s_out) <= 0.02`` (an unquantized bias has scale 0);
    the multiplier itself uses the float32 product: ``QuantizeMultiplier(f64(f32(s_in * s_w)) / f64(s_out))``.
    """
    if bias_scale is not None:
        difference = abs(float(input_scale) * float(filter_scale) - float(bias_scale))
        if not difference / float(output_scale) <= 0.02:
            raise ctx.fail(f"bias scale {bias_scale:g} does not match input scale x filter scale "
                           f"{float(input_scale) * float(filter_scale):g} (TFLite allows 2% of the output scale)")
    product = float(np.float32(input_scale) * np.float32(filter_scale))
    if not product >= 0:
        raise ctx.fail("input scale x filter scale is negative")
    return quantize_multiplier(product / float(output_scale))

def uint8_requantization(ctx: OpContext, x, w, bias, y, channels_out: int, activation: int,
                         what: str) -> dict[str, Any]:
    """The legacy uint8 rule's parameters, shared by CONV_2D and DEPTHWISE_CONV_2D (their Prepare and
    PopulateConvolutionQuantizationParams): an int32 bias with zero point 0, a per-tensor uint8 filter whose zero
    point the kernel subtracts, and one multiplier for every output channel."""
    if bias is not None:
        if bias.type_name != "int32":
            raise ctx.fail(f"uint8 {what} with {bias.type_name} bias (TFLite requires int32)")
        if bias.quantization is not None and int(bias.quantization.zero_point[0]) != 0:
            raise ctx.fail("bias zero point must be 0")
    input_scale, input_zero_point = per_tensor_qparams(ctx, x, "input")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    wq = w.quantization
    if wq is None:
        raise ctx.fail("uint8 filter is not quantized")
    if wq.scale.size not in (1, channels_out):
        raise ctx.fail(f"filter has {wq.scale.size} scales, expected 1 or {channels_out}")
    if wq.scale.size > 1:
        # PopulateConvolutionQuantizationParams: per-channel quantization needs an int8/int16 input
        raise ctx.fail("per-channel filter scales need an int8 input (uint8 is per-tensor only)")
    multiplier, shift = legacy_uint8_multiplier(ctx, input_scale, float(wq.scale[0]), output_scale,
                                                bias_scale_of(bias))
    act_min, act_max = activation_range(activation, output_scale, output_zero_point, np.uint8)
    return dict(quantized=True, input_zero_point=input_zero_point, output_zero_point=output_zero_point,
                output_multiplier=np.full(channels_out, multiplier, np.int64),
                output_shift=np.full(channels_out, shift, np.int64), act_min=act_min, act_max=act_max,
                filter_zero_point=int(wq.zero_point[0]))


def bias_scale_of(bias) -> float | None:
    """``bias->params.scale`` for the uint8 bias check (0 for an unquantized bias and, GetLegacyQuantization, for
    one with several scales), None without a bias."""
    if bias is None:
        return None
    return per_tensor_qparams_or_identity(bias)[0]


def prepare_conv2d(ctx: OpContext) -> Conv2DParams:
    ctx.check_inputs(2, 3)
    x, w, bias, y = ctx.require_input(0), ctx.require_input(1), ctx.input(2), ctx.output(0)
    ctx.check_dtype(x, ("int8", "uint8", "int16", "float32"), "input")
    x_shape, w_shape = ctx.shape(x), ctx.shape(w)
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise ctx.fail(f"input and filter must be 4-D, got {list(x_shape)} and {list(w_shape)}")
    channels_out, filter_h, filter_w, channels_in_group = w_shape
    channels_in = x_shape[3]
    if x_shape[1] == 0 or x_shape[2] == 0:
        # conv.cc Prepare: TF_LITE_ENSURE(input->dims->data[1] > 0) and (data[2] > 0), every type (an empty
        # batch passes)
        raise ctx.fail(f"input height and width must be positive (LiteRT refuses), got {list(x_shape)}")
    if channels_out == 0:  # conv.cc Prepare: TF_LITE_ENSURE(context, filter->dims->data[0] > 0), every type
        raise ctx.fail("filter has 0 output channels")
    if channels_in_group == 0 or channels_in % channels_in_group:
        raise ctx.fail(f"input depth {channels_in} is not a multiple of the filter depth {channels_in_group}")
    groups = channels_in // channels_in_group
    if groups == 0:
        # conv.cc computes filter->dims->data[0] % groups: a division by zero there (SIGFPE)
        raise ctx.fail(f"input depth {channels_in} makes 0 groups of filter depth {channels_in_group}")
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
    ctx.set_output_shape(0, (x_shape[0], window.out_h, window.out_w, channels_out))  # conv.cc ResizeTensor
    activation = int(o.get("fused_activation_function", 0))
    common = dict(stride_h=stride_h, stride_w=stride_w, dilation_h=dilation_h, dilation_w=dilation_w,
                  window=window, groups=groups)

    if x.type_name == "float32":
        if y.type_name != "float32":
            raise ctx.fail(f"float32 input with {y.type_name} output (TFLite requires the same type)")
        if w.type_name in ("int8", "uint8"):
            return _prepare_hybrid(ctx, w, bias, common, activation, groups, channels_out)
        if w.type_name != "float32":
            raise ctx.unsupported(f"float32 input with {w.type_name} filter")
        if bias is not None and bias.type_name != "float32":
            raise ctx.fail(f"float32 convolution with {bias.type_name} bias")
        lo, hi = activation_range_float(activation)
        return Conv2DParams(**common, quantized=False, act_min=lo, act_max=hi, kind=KIND_FLOAT32)

    if x.type_name == "uint8":
        return _prepare_uint8(ctx, x, w, bias, y, common, activation, channels_out)
    if x.type_name == "int16":
        return _prepare_int16(ctx, x, w, bias, y, common, activation, channels_out)

    if w.type_name != "int8" or y.type_name != "int8":
        raise ctx.unsupported(f"int8 input with {w.type_name} filter and {y.type_name} output")
    if bias is not None and bias.type_name != "int32":
        raise ctx.unsupported(f"int8 convolution with {bias.type_name} bias (TFLite requires int32)")
    if bias is not None and bias.quantization is not None and np.any(bias.quantization.zero_point != 0):
        raise ctx.fail("bias zero point must be 0")  # conv.cc Prepare: TF_LITE_ENSURE_EQ(bias zero_point, 0)
    input_scale, input_zero_point = per_tensor_qparams(ctx, x, "input")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    wq = w.quantization
    if wq is None:
        raise ctx.fail("int8 filter is not quantized")
    if np.any(wq.zero_point != 0):
        raise ctx.fail("int8 filter zero points must be 0")  # PopulateConvolutionQuantizationParams
    if wq.per_channel and (wq.quantized_dimension != 0 or wq.scale.size != channels_out):
        raise ctx.fail(f"per-channel filter must have {channels_out} scales on dimension 0")
    multipliers, shifts = per_channel_multipliers(ctx, input_scale, wq.scale, output_scale, channels_out)
    act_min, act_max = activation_range(activation, output_scale, output_zero_point, np.int8)
    return Conv2DParams(**common, quantized=True, input_zero_point=input_zero_point,
                        output_zero_point=output_zero_point, output_multiplier=multipliers,
                        output_shift=shifts, act_min=act_min, act_max=act_max, kind=KIND_INT8)


def _prepare_int16(ctx: OpContext, x, w, bias, y, common: dict, activation: int, channels_out: int) -> Conv2DParams:
    """int16x8 (see the module docstring): conv.cc Prepare and PopulateConvolutionQuantizationParams."""
    if y.type_name != "int16":
        raise ctx.fail(f"int16 input with {y.type_name} output (TFLite requires the same type)")
    if w.type_name != "int8":
        raise ctx.unsupported(f"int16 input with {w.type_name} filter (refinterp has the 16x8 rule: int8 weights)")
    bits = int16_accumulator_bits(ctx, bias, "convolution")
    if bias is not None and bias.quantization is not None and np.any(bias.quantization.zero_point != 0):
        raise ctx.fail("bias zero point must be 0")
    wq = w.quantization
    if wq is None:
        raise ctx.fail("int8 filter is not quantized")
    if np.any(wq.zero_point != 0):
        raise ctx.fail("int8 filter zero points must be 0")
    if wq.per_channel and (wq.quantized_dimension != 0 or wq.scale.size != channels_out):
        raise ctx.fail(f"per-channel filter must have {channels_out} scales on dimension 0")
    input_scale, _ = per_tensor_qparams(ctx, x, "input")
    output_scale, _ = per_tensor_qparams(ctx, y, "output")
    multipliers, shifts = per_channel_multipliers(ctx, input_scale, wq.scale, output_scale, channels_out)
    int16_requantization_checks(ctx, x, y, shifts, bits)
    act_min, act_max = activation_range(activation, output_scale, 0, np.int16)
    return Conv2DParams(**common, quantized=True, output_multiplier=multipliers, output_shift=shifts,
                        act_min=act_min, act_max=act_max, kind=KIND_INT16, accumulator_bits=bits)


def _prepare_uint8(ctx: OpContext, x, w, bias, y, common: dict, activation: int, channels_out: int) -> Conv2DParams:
    if ctx.profile == "tflm":
        raise ctx.fail("uint8 input: TFLM's CONV_2D has no uint8 kernel")
    if y.type_name != "uint8":
        raise ctx.fail(f"uint8 input with {y.type_name} output (TFLite requires the same type)")
    if w.type_name != "uint8":
        raise ctx.unsupported(f"uint8 input with {w.type_name} filter (the uint8 kernel would read it as uint8)")
    return Conv2DParams(**common, **uint8_requantization(ctx, x, w, bias, y, channels_out, activation, "convolution"),
                        kind=KIND_UINT8)


def _prepare_hybrid(ctx: OpContext, w, bias, common: dict, activation: int, groups: int,
                    channels_out: int) -> Conv2DParams:
    if ctx.profile == "tflm":
        raise ctx.fail(f"float32 input with {w.type_name} filter: TFLM does not run hybrid models")
    if bias is not None and bias.type_name != "float32":
        raise ctx.fail(f"hybrid convolution with {bias.type_name} bias (TFLite requires float32)")
    wq = w.quantization
    if wq is None:
        raise ctx.unsupported(f"{w.type_name} filter without quantization scales")
    scales = np.asarray(wq.scale, dtype=np.float32)
    # conv.cc Prepare: per-channel only for int8 weights whose scales differ; otherwise scale[0] for all
    per_channel = w.type_name == "int8" and scales.size > 1 and bool(np.any(scales[1:] != scales[0]))
    lo, hi = activation_range_float(activation)
    if per_channel:
        if scales.size != ctx.shape(w)[wq.quantized_dimension]:
            raise ctx.fail(f"{scales.size} filter scales for dimension {wq.quantized_dimension} of size "
                           f"{ctx.shape(w)[wq.quantized_dimension]}")
        if wq.quantized_dimension != 0:
            raise ctx.unsupported("per-channel hybrid filter scales on a dimension other than 0 (LiteRT indexes "
                                  "them by output channel and would read outside the scales)")
        return Conv2DParams(**common, quantized=False, act_min=lo, act_max=hi, kind=KIND_HYBRID_PER_CHANNEL,
                            filter_scales=scales)
    if groups != 1:
        raise ctx.unsupported("grouped hybrid convolution (LiteRT's HybridConv ignores the groups)")
    return Conv2DParams(**common, quantized=False, act_min=lo, act_max=hi, kind=KIND_HYBRID,
                        filter_scales=np.full(channels_out, scales[0], np.float32),
                        exact_dot=channels_out % 4 == 0)


# ------------------------------------------------------------------------------------------------
# Spec kernel: readable NumPy


def padded_input(p: Conv2DParams, x: np.ndarray, filter_h: int, filter_w: int, pad_value: float) -> np.ndarray:
    """Pad so every tap reads inside the array; taps TFLite skips read ``pad_value`` (zp_in: contributes 0)."""
    win = p.window
    need_h = (win.out_h - 1) * p.stride_h + (filter_h - 1) * p.dilation_h + 1
    need_w = (win.out_w - 1) * p.stride_w + (filter_w - 1) * p.dilation_w + 1
    pad_bottom = max(0, need_h - win.pad_h - x.shape[1])
    pad_right = max(0, need_w - win.pad_w - x.shape[2])
    return np.pad(x, ((0, 0), (win.pad_h, pad_bottom), (win.pad_w, pad_right), (0, 0)), constant_values=pad_value)


def window_tap(p: Conv2DParams, padded: np.ndarray, ky: int, kx: int) -> np.ndarray:
    """The input pixels that tap (ky, kx) reads for every output position: [N, out_h, out_w, C]."""
    y0, x0 = ky * p.dilation_h, kx * p.dilation_w
    return padded[:, y0:y0 + (p.window.out_h - 1) * p.stride_h + 1:p.stride_h,
                  x0:x0 + (p.window.out_w - 1) * p.stride_w + 1:p.stride_w, :]


def _integer_sums(p: Conv2DParams, shifted: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``sum over taps and input channels of w * shifted`` (int64, exact) for every output, group by group.

    ``shifted`` is the padded input minus its zero point (padding then contributes 0), ``w`` int64 weights.
    """
    channels_out, filter_h, filter_w, channels_in_group = w.shape
    out_per_group = channels_out // p.groups
    acc = np.zeros((shifted.shape[0], p.window.out_h, p.window.out_w, channels_out), dtype=np.int64)
    for g in range(p.groups):
        ins = slice(g * channels_in_group, (g + 1) * channels_in_group)
        outs = slice(g * out_per_group, (g + 1) * out_per_group)
        for ky in range(filter_h):
            for kx in range(filter_w):
                # integer sums are exact in any order: one matmul per tap
                acc[..., outs] += window_tap(p, shifted, ky, kx)[..., ins] @ w[outs, ky, kx, :].T
    return acc


def im2col(p: Conv2DParams, padded: np.ndarray, filter_h: int, filter_w: int) -> np.ndarray:
    """[N, out_h, out_w, KH*KW*C]: each output's receptive field in the filter's (ky, kx, c) order (groups 1)."""
    taps = [window_tap(p, padded, ky, kx) for ky in range(filter_h) for kx in range(filter_w)]
    return np.concatenate(taps, axis=3) if taps else padded[:, :0, :0, :]


def conv2d_spec(p: Conv2DParams, x: np.ndarray, w: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    channels_out, filter_h, filter_w, channels_in_group = w.shape
    if p.window.out_h == 0 or p.window.out_w == 0:
        return np.zeros((x.shape[0], p.window.out_h, p.window.out_w, channels_out), p.output_dtype)
    rule = p.rule
    if rule in (KIND_INT8, KIND_UINT8):
        shifted = padded_input(p, x, filter_h, filter_w, p.input_zero_point).astype(np.int64) - p.input_zero_point
        acc = _integer_sums(p, shifted, w.astype(np.int64) - p.filter_zero_point)
        if bias is not None:
            acc += bias.astype(np.int64)
        acc = wrap_int32(acc)  # the C++ accumulator is int32
        y = multiply_by_quantized_multiplier(acc, p.output_multiplier, p.output_shift) + p.output_zero_point
        return np.clip(y, p.act_min, p.act_max).astype(p.output_dtype)
    if rule == KIND_INT16:
        # zero points are 0: taps outside the image read 0 and contribute nothing
        acc = _integer_sums(p, padded_input(p, x, filter_h, filter_w, 0).astype(np.int64), w.astype(np.int64))
        if bias is not None:
            acc += bias.astype(np.int64)
        return int16_requantize(acc, p.output_multiplier, p.output_shift, p.accumulator_bits, p.act_min, p.act_max)
    if rule == KIND_HYBRID:
        return _conv2d_hybrid(p, x, w, bias)
    if rule == KIND_HYBRID_PER_CHANNEL:
        return _conv2d_hybrid_per_channel(p, x, w, bias)

    out_per_group = channels_out // p.groups
    padded = padded_input(p, x, filter_h, filter_w, 0.0)
    # the taps reference_ops::Conv skips (outside the image): adding +0.0 there is the same as skipping (a float32
    # sum that starts at +0.0 is never -0.0), but 0 * an infinite weight would add a NaN
    inside = padded_input(p, np.ones(x.shape[:3] + (1,), dtype=bool), filter_h, filter_w, False)
    total = np.zeros((x.shape[0], p.window.out_h, p.window.out_w, channels_out), dtype=np.float32)
    for g in range(p.groups):
        outs = slice(g * out_per_group, (g + 1) * out_per_group)
        for ky in range(filter_h):
            for kx in range(filter_w):
                tap, read = window_tap(p, padded, ky, kx), window_tap(p, inside, ky, kx)
                for ic in range(channels_in_group):
                    # one float32 multiply and one add per step, in reference_ops::Conv's order
                    with np.errstate(invalid="ignore"):  # 0 * inf outside the image: masked out
                        product = tap[..., g * channels_in_group + ic, None] * w[outs, ky, kx, ic]
                    total[..., outs] += np.where(read, product, np.float32(0.0))
    if bias is not None:
        total = total + bias.astype(np.float32)
    return clamp_float(total, p.act_min, p.act_max)


def clamp_float(values: np.ndarray, act_min: float, act_max: float) -> np.ndarray:
    """ActivationFunctionWithMinMax: ``min(max(v, lo), hi)`` in float32 (NaN passes)."""
    return np.clip(values, np.float32(act_min), np.float32(act_max)).astype(np.float32)


def _conv2d_hybrid(p: Conv2DParams, x: np.ndarray, w: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """Per-tensor hybrid (optimized_ops::HybridConv): symmetric per-image quantization, int8 GEMM, float rescale."""
    channels_out, filter_h, filter_w, _ = w.shape
    batches = x.shape[0]
    q, input_scales, _ = quantize_rows(x.reshape(batches, -1), asymmetric=False)
    combined = (input_scales * p.filter_scales[0]).astype(np.float32)  # scaling_factors[b] *= filter scale
    columns = im2col(p, padded_input(p, q.reshape(x.shape), filter_h, filter_w, 0), filter_h, filter_w)
    rows = columns.reshape(-1, columns.shape[3])
    weights = hybrid_weights(w).reshape(channels_out, -1)
    acc = wrap_int32(rows @ weights.astype(np.int64).T) if p.exact_dot else sse_dot(weights, rows)
    acc = acc.reshape(batches, p.window.out_h, p.window.out_w, channels_out)
    scaled = (acc.astype(np.float32) * combined[:, None, None, None]).astype(np.float32)
    if bias is not None:
        scaled = (scaled + bias.astype(np.float32)).astype(np.float32)
    return clamp_float(scaled, p.act_min, p.act_max)


def _conv2d_hybrid_per_channel(p: Conv2DParams, x: np.ndarray, w: np.ndarray,
                               bias: np.ndarray | None) -> np.ndarray:
    """reference_ops::HybridConvPerChannel: asymmetric per-image quantization, exact int32 sums, float rescale."""
    channels_out, filter_h, filter_w, _ = w.shape
    batches = x.shape[0]
    q, input_scales, zero_points = quantize_rows(x.reshape(batches, -1), asymmetric=True)
    weights = hybrid_weights(w).astype(np.int64)
    out = np.empty((batches, p.window.out_h, p.window.out_w, channels_out), np.float32)
    for b in range(batches):
        image = q[b].reshape(1, *x.shape[1:])
        shifted = padded_input(p, image, filter_h, filter_w, int(zero_points[b])) - zero_points[b]
        acc = wrap_int32(_integer_sums(p, shifted, weights))[0]
        # acc * per_channel_scale[oc] * scaling_factors[b], left to right in float32
        scaled = ((acc.astype(np.float32) * p.filter_scales).astype(np.float32) * input_scales[b]).astype(np.float32)
        if bias is not None:
            scaled = (scaled + bias.astype(np.float32)).astype(np.float32)
        out[b] = scaled
    return clamp_float(out, p.act_min, p.act_max)


# ------------------------------------------------------------------------------------------------
# explain: one output element, step by step (``refinterp explain``; refinterp/ops/trace.py)


def conv_window(p: Conv2DParams, in_h: int, in_w: int, filter_h: int, filter_w: int, oy: int, ox: int
                ) -> tuple[list[tuple[int, int, int, int]], int]:
    """The taps of output (oy, ox) in reference_ops order (ky, kx): (ky, kx, iy, ix) of those inside the image,
    and how many fall outside (skipped)."""
    inside, skipped = [], 0
    for ky in range(filter_h):
        for kx in range(filter_w):
            iy = oy * p.stride_h - p.window.pad_h + ky * p.dilation_h
            ix = ox * p.stride_w - p.window.pad_w + kx * p.dilation_w
            if 0 <= iy < in_h and 0 <= ix < in_w:
                inside.append((ky, kx, iy, ix))
            else:
                skipped += 1
    return inside, skipped


def explain_float_output(trace, total: np.float32, bias: Any, label: str, act_min: float, act_max: float,
                         real: float) -> np.float32:
    """The float32 convolutions' last steps: plus the bias in float32 (when there is one), then the fused
    activation's clamp (:func:`clamp_float`, as the spec kernels); ``real``: the float64 sum of products, to which
    the bias is added and the same clamp applied."""
    if bias is not None:
        total = trace.add("plus bias", np.float32(total + np.float32(bias)), f"+ {label} = {float(bias)!r}, float32")
        real += float(bias)
    value = clamp_float(np.asarray(total), act_min, act_max)[()]
    trace.add("clamp", value, f"to [{act_min:g}, {act_max:g}] (the fused activation; none: +-FLT_MAX)")
    trace.approximates(min(max(real, act_min), act_max))
    return value


def explain_conv2d(ctx: OpContext, p: Conv2DParams, inputs: list, index: tuple[int, ...], trace) -> Any:
    """CONV_2D output ``index`` = (b, oy, ox, oc), int8 / uint8 / int16x8 rules (module docstring)."""
    rule = p.rule
    if rule not in (KIND_INT8, KIND_UINT8, KIND_INT16, KIND_FLOAT32):
        raise trace.not_detailed(f"the {rule} rule")
    x, w, bias = inputs[0], inputs[1], inputs[2] if len(inputs) > 2 else None
    b, oy, ox, oc = (int(v) for v in index)
    channels_out, filter_h, filter_w, channels_in_group = w.shape
    group = oc // (channels_out // p.groups)
    taps, skipped = conv_window(p, x.shape[1], x.shape[2], filter_h, filter_w, oy, ox)
    positions = [(ky, kx, iy, ix, group * channels_in_group + ic) for ky, kx, iy, ix in taps
                 for ic in range(channels_in_group)]
    if rule == KIND_FLOAT32:
        trace.add("output element", [b, oy, ox, oc], f"batch {b}, row {oy}, column {ox}, output channel {oc}")
        total = trace.float_dot(positions, ("ky", "kx", "iy", "ix", "ic"),
                                [x[b, iy, ix, ic] for _, _, iy, ix, ic in positions],
                                [w[oc, ky, kx, ic - group * channels_in_group] for ky, kx, _, _, ic in positions],
                                skipped * channels_in_group)
        real = sum(float(x[b, iy, ix, ic]) * float(w[oc, ky, kx, ic - group * channels_in_group])
                   for ky, kx, iy, ix, ic in positions)
        return explain_float_output(trace, total, None if bias is None else bias[oc], f"bias[{oc}]", p.act_min,
                                    p.act_max, real)
    input_scale, output_scale, filter_scale = conv_scales(ctx, oc)
    trace.add("output element", [b, oy, ox, oc],
              f"batch {b}, row {oy}, column {ox}, output channel {oc}"
              + (f" (group {group} of {p.groups})" if p.groups > 1 else "")
              + f"; its window starts at input row {oy * p.stride_h - p.window.pad_h}, column "
              f"{ox * p.stride_w - p.window.pad_w} (stride {p.stride_h}x{p.stride_w}, padding {p.window.pad_h}x"
              f"{p.window.pad_w}, dilation {p.dilation_h}x{p.dilation_w}), filter {filter_h}x{filter_w}x"
              f"{channels_in_group}")
    total, real = trace.dot(positions, ("ky", "kx", "iy", "ix", "ic"),
                            [x[b, iy, ix, ic] for _, _, iy, ix, ic in positions], p.input_zero_point, input_scale,
                            [w[oc, ky, kx, ic - group * channels_in_group] for ky, kx, _, _, ic in positions],
                            p.filter_zero_point, filter_scale, skipped * channels_in_group)
    total, real = trace.bias(total, real, None if bias is None else bias[oc],
                             bias_channel_scale(ctx.input(2), oc), input_scale * filter_scale, f"bias[{oc}]")
    multiplier, shift = trace.conv_multiplier(input_scale, filter_scale, output_scale, rule == KIND_UINT8,
                                              f"s_w[{oc}]", (int(p.output_multiplier[oc]), int(p.output_shift[oc])))
    value = trace.conv_output(total, multiplier, shift, rule == KIND_INT16 and p.accumulator_bits == 64,
                              p.output_zero_point, p.act_min, p.act_max)
    trace.approximates(real, output_scale, p.output_zero_point, (p.act_min, p.act_max))
    return value

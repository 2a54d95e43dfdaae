"""DEPTHWISE_CONV_2D: int8 (per-channel or per-tensor weights), int16x8, uint8, hybrid (float32 with int8 weights),
float32.

Layout: input NHWC ``[N, H, W, C_in]``, filter ``[1, KH, KW, C_out]``, bias ``[C_out]``, output
``[N, OH, OW, C_out]`` with ``C_out = C_in * depth_multiplier``. Output channel ``oc = ic * dm + m`` reads input
channel ``ic = oc // dm``. The depth multiplier is recomputed from the shapes, ``dm = C_out / C_in``
(``ComputeDepthMultiplier``) in LiteRT, which ignores the redundant options field ``depth_multiplier``. TFLM's
kernel loops over the options field instead; profile "tflm" therefore refuses a model where the two differ.

int8 rule (``reference_integer_ops::DepthwiseConvPerChannel``, LiteRT BUILTIN_REF and TFLM alike), for each
output (b, oy, ox, oc)::

    acc = sum over in-image taps (ky, kx) of  w[0, ky, kx, oc] * (x[b, iy, ix, oc // dm] - zp_in)
    acc = int32(acc + bias[oc])
    y   = clamp(MultiplyByQuantizedMultiplier(acc, M[oc], shift[oc]) + zp_out, act_min, act_max)

with ``iy = oy*stride_h - pad_h + ky*dilation_h`` (likewise x); taps outside the image are skipped (the same as
padding with zp_in). ``M[oc], shift[oc] = QuantizeMultiplier(f64(s_in) * f64(s_w[oc]) / f64(s_out))``
(PopulateConvolutionQuantizationParams; a single filter scale is broadcast to every channel). The per-channel
kernel passes ``weights_offset = 0``: a filter zero point is ignored, never subtracted.

int16x8 rule (``reference_integer_ops::DepthwiseConvPerChannel`` for int16, ``depthwise_conv.cc``
EvalQuantizedPerChannel16x8; LiteRT and TFLM alike): int16 input and output with zero point 0, int8 weights (their
zero point ignored), an int64 bias or none (LiteRT's Prepare takes only int64; TFLM reads the bias as int64)::

    acc = sum over in-image taps of w[0, ky, kx, oc] * x[b, iy, ix, oc // dm] + bias[oc]      (int64, exact)
    y   = clamp(MultiplyByQuantizedMultiplier(int64 acc, M[oc], shift[oc]), act_min, act_max)

with the int64 form of MultiplyByQuantizedMultiplier (``refinterp.quant.multiply_by_quantized_multiplier_int64``).
This kernel loops over the *options'* depth_multiplier (LiteRT's too, unlike its int8 kernel): both profiles refuse
a model where it differs from ``C_out / C_in`` (the kernel would read and write outside the tensors).

float32 rule (``reference_ops::DepthwiseConv``): ``total`` starts at 0.0f and adds ``x * w`` in float32 over the
in-image taps in the order ky, kx; then ``clamp(total + bias[oc])`` (bias 0.0f when absent).

uint8 rule (``reference_ops::DepthwiseConv`` for uint8, ``depthwiseconv_uint8.h``, LiteRT only): the int8 rule
with the filter zero point subtracted, ``acc = sum (w - zp_w) * (x - zp_in) + bias``, requantized with one
per-tensor ``M, shift = QuantizeMultiplier(f64(f32(s_in * s_w)) / f64(s_out))`` (GetQuantizedConvolutionMultipler,
as CONV_2D's uint8 rule; per-channel scales fail Prepare).

hybrid rule (float32 input and output, int8 weights; ``EvalHybridPerChannel`` ->
``reference_integer_ops::DepthwiseConvHybridPerChannel``, LiteRT only): each batch image is quantized
asymmetrically (``refinterp/ops/hybrid.py``: scale_b, zp_b); ``acc = sum w * (q - zp_b)`` over the in-image taps
(int32); ``y = clamp(f32(f32(acc) * f32(s_w[oc] * scale_b)) + bias[oc])``. The filter scales are indexed by
output channel: LiteRT requires as many as the filter's quantized dimension has entries, refinterp also needs
one per output channel (fewer would be read past their end).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from refinterp.ops.common import OpContext, Window2D, bias_channel_scale, conv_scales, per_tensor_qparams, window_2d
from refinterp.ops.conv import (
    clamp_float,
    conv_window,
    explain_float_output,
    int16_requantization_checks,
    int16_requantize,
    per_channel_multipliers,
    uint8_requantization,
)
from refinterp.ops.hybrid import quantize_rows
from refinterp.quant import (
    activation_range,
    activation_range_float,
    multiply_by_quantized_multiplier,
    wrap_int32,
)


@dataclass(frozen=True)
class DepthwiseConv2DParams:
    stride_h: int
    stride_w: int
    dilation_h: int
    dilation_w: int
    window: Window2D
    depth_multiplier: int
    quantized: bool
    input_zero_point: int = 0
    output_zero_point: int = 0
    output_multiplier: np.ndarray | None = None  # int64 [C_out], Q31
    output_shift: np.ndarray | None = None  # int64 [C_out], positive = left shift
    act_min: float = 0
    act_max: float = 0
    kind: str = ""  # "float32", "int8", "uint8" or "hybrid"; "" = int8 when quantized, else float32
    filter_zero_point: int = 0  # uint8: subtracted from every weight
    filter_scales: np.ndarray | None = None  # hybrid: float32 [C_out]

    @property
    def rule(self) -> str:
        return self.kind or ("int8" if self.quantized else "float32")

    @property
    def output_dtype(self) -> np.dtype:
        return {"int8": np.dtype(np.int8), "uint8": np.dtype(np.uint8),
                "int16": np.dtype(np.int16)}.get(self.rule, np.dtype(np.float32))


def prepare_depthwise_conv2d(ctx: OpContext) -> DepthwiseConv2DParams:
    ctx.check_inputs(2, 3)
    x, w, y = ctx.require_input(0), ctx.require_input(1), ctx.output(0)
    if ctx.num_inputs == 3 and ctx.input(2) is None:
        # Both runtimes count inputs: with 3 of them LiteRT fetches the bias with GetInputSafe, which refuses
        # index -1, and TFLM dereferences it (a segmentation fault). Leaving the bias out means 2 inputs.
        raise ctx.fail("bias input is -1 (absent) but the operator lists 3 inputs; TFLite rejects this")
    bias = ctx.input(2)
    ctx.check_dtype(x, ("int8", "uint8", "int16", "float32"), "input")
    ctx.check_same_type(x, y)
    x_shape, w_shape = ctx.shape(x), ctx.shape(w)
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise ctx.fail(f"input and filter must be 4-D, got {list(x_shape)} and {list(w_shape)}")
    if w_shape[0] != 1:
        raise ctx.fail(f"filter must have shape [1, KH, KW, C_out], got {list(w_shape)}")
    _, filter_h, filter_w, channels_out = w_shape
    channels_in = x_shape[3]
    if x_shape[1] == 0 or x_shape[2] == 0:
        # depthwise_conv.cc Prepare: TF_LITE_ENSURE(SizeOfDimension(input, 1) > 0) and (input, 2), every type
        raise ctx.fail(f"input height and width must be positive (LiteRT refuses), got {list(x_shape)}")
    # ComputeDepthMultiplier (runs in Eval in LiteRT, so a bad ratio fails at invoke there).
    if channels_in == 0 or channels_out % channels_in:
        raise ctx.fail(f"filter channels {channels_out} are not a multiple of the input channels {channels_in}")
    depth_multiplier = channels_out // channels_in
    options_multiplier = int(ctx.options.get("depth_multiplier", 0))
    if (ctx.profile == "tflm" or x.type_name == "int16") and options_multiplier != depth_multiplier:
        # TFLM's kernel loops over the options' depth_multiplier instead of recomputing it: with any other
        # value it reads and writes outside the channels (no error status, garbage or memory corruption).
        # so does LiteRT's int16 kernel (depthwise_conv.cc EvalQuantizedPerChannel16x8)
        raise ctx.fail(f"options depth_multiplier {options_multiplier} != {channels_out} / {channels_in} "
                       f"({'TFLM' if ctx.profile == 'tflm' else 'the int16 kernel'} uses the options field and "
                       "would index outside the tensors)")
    if bias is not None:
        bias_shape = ctx.shape(bias)
        if len(bias_shape) != 1 or bias_shape[0] != channels_out:
            raise ctx.fail(f"bias shape {list(bias_shape)} does not match {channels_out} output channels")
    o = ctx.options
    stride_h, stride_w = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    dilation_h, dilation_w = int(o.get("dilation_h_factor", 1)), int(o.get("dilation_w_factor", 1))
    if stride_h > 0xFFFF or stride_w > 0xFFFF:
        raise ctx.fail(f"stride ({stride_h}, {stride_w}) exceeds 65535")
    window = window_2d(ctx, x_shape[1], x_shape[2], filter_h, filter_w, stride_h, stride_w, dilation_h, dilation_w)
    ctx.set_output_shape(0, (x_shape[0], window.out_h, window.out_w, channels_out))  # depthwise_conv.cc
    activation = int(o.get("fused_activation_function", 0))
    common = dict(stride_h=stride_h, stride_w=stride_w, dilation_h=dilation_h, dilation_w=dilation_w,
                  window=window, depth_multiplier=depth_multiplier)

    if x.type_name == "float32":
        if bias is not None and bias.type_name != "float32":
            raise ctx.fail(f"float32 depthwise convolution with {bias.type_name} bias")
        lo, hi = activation_range_float(activation)
        if w.type_name == "int8":
            return _prepare_hybrid(ctx, w, channels_out, common, lo, hi)
        if w.type_name == "int4":
            raise ctx.unsupported("float32 input with an int4 filter")
        if w.type_name != "float32":
            raise ctx.fail(f"float32 input with {w.type_name} filter (LiteRT takes float32 or int8 weights)")
        return DepthwiseConv2DParams(**common, quantized=False, act_min=lo, act_max=hi, kind="float32")

    if x.type_name == "uint8":
        return _prepare_uint8(ctx, x, w, bias, y, channels_out, common, activation)
    if x.type_name == "int16":
        return _prepare_int16(ctx, x, w, bias, y, channels_out, common, activation)

    if w.type_name != "int8":
        raise ctx.unsupported(f"int8 input with {w.type_name} filter")
    _check_bias(ctx, bias, "int8", "int32")
    input_scale, input_zero_point = per_tensor_qparams(ctx, x, "input")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    multipliers, shifts = _int8_filter_multipliers(ctx, w, channels_out, input_scale, output_scale)
    act_min, act_max = activation_range(activation, output_scale, output_zero_point, np.int8)
    return DepthwiseConv2DParams(**common, quantized=True, input_zero_point=input_zero_point,
                                 output_zero_point=output_zero_point, output_multiplier=multipliers,
                                 output_shift=shifts, act_min=act_min, act_max=act_max, kind="int8")


def _prepare_int16(ctx: OpContext, x, w, bias, y, channels_out: int, common: dict,
                   activation: int) -> DepthwiseConv2DParams:
    """int16x8: depthwise_conv.cc Prepare (int64 bias with zero point 0, input and output zero points 0) and
    PopulateConvolutionQuantizationParams."""
    if w.type_name != "int8":
        # LiteRT's Prepare lets any filter type through for int16 data, and its kernel reads it as int8
        raise ctx.unsupported(f"int16 input with {w.type_name} filter (the 16x8 kernel reads int8 weights)")
    _check_bias(ctx, bias, "int16", "int64")
    input_scale, _ = per_tensor_qparams(ctx, x, "input")
    output_scale, _ = per_tensor_qparams(ctx, y, "output")
    multipliers, shifts = _int8_filter_multipliers(ctx, w, channels_out, input_scale, output_scale)
    int16_requantization_checks(ctx, x, y, shifts, 64)
    act_min, act_max = activation_range(activation, output_scale, 0, np.int16)
    return DepthwiseConv2DParams(**common, quantized=True, output_multiplier=multipliers, output_shift=shifts,
                                 act_min=act_min, act_max=act_max, kind="int16")


def _check_bias(ctx: OpContext, bias, data_type: str, bias_type: str) -> None:
    """The bias of the int8 (int32 bias) and int16x8 (int64 bias) kernels: zero point 0."""
    if bias is not None:
        if bias.type_name != bias_type:
            raise ctx.fail(f"{data_type} depthwise convolution with {bias.type_name} bias (TFLite requires "
                           f"{bias_type})")
        if bias.quantization is not None and int(bias.quantization.zero_point[0]) != 0:
            raise ctx.fail("bias zero point must be 0")


def _int8_filter_multipliers(ctx: OpContext, w, channels_out: int, input_scale: float,
                             output_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """PopulateConvolutionQuantizationParams for an int8 filter, per-tensor or per-channel on dimension 3."""
    wq = w.quantization
    if wq is None:
        raise ctx.fail("int8 filter is not quantized")
    if wq.per_channel and (wq.scale.size != channels_out or ctx.shape(w)[wq.quantized_dimension] != channels_out):
        raise ctx.fail(f"per-channel filter must have {channels_out} scales on dimension 3")
    return per_channel_multipliers(ctx, input_scale, wq.scale if wq.per_channel else wq.scale[:1], output_scale,
                                   channels_out)


def _prepare_uint8(ctx: OpContext, x, w, bias, y, channels_out: int, common: dict,
                   activation: int) -> DepthwiseConv2DParams:
    if ctx.profile == "tflm":
        raise ctx.fail("uint8 input: TFLM's DEPTHWISE_CONV_2D has no uint8 kernel")
    if w.type_name != "uint8":
        raise ctx.fail(f"uint8 input with {w.type_name} filter (TFLite requires the same type)")
    return DepthwiseConv2DParams(**common, **uint8_requantization(ctx, x, w, bias, y, channels_out, activation,
                                                                  "depthwise convolution"), kind="uint8")


def _prepare_hybrid(ctx: OpContext, w, channels_out: int, common: dict, lo: float, hi: float
                    ) -> DepthwiseConv2DParams:
    if ctx.profile == "tflm":
        raise ctx.fail("float32 input with int8 filter: TFLM does not run hybrid models")
    wq = w.quantization
    if wq is None:
        raise ctx.fail("int8 filter of a hybrid depthwise convolution is not quantized")
    dimension_size = ctx.shape(w)[wq.quantized_dimension]
    if wq.scale.size != dimension_size:
        raise ctx.fail(f"{wq.scale.size} filter scales for dimension {wq.quantized_dimension} of size "
                       f"{dimension_size}")
    if wq.scale.size != channels_out:
        raise ctx.unsupported(f"{wq.scale.size} filter scales for {channels_out} output channels (LiteRT's hybrid "
                              "kernel reads one per output channel, past the end of these)")
    return DepthwiseConv2DParams(**common, quantized=False, act_min=lo, act_max=hi, kind="hybrid",
                                 filter_scales=np.asarray(wq.scale, dtype=np.float32))


# ------------------------------------------------------------------------------------------------
# Spec kernel: readable NumPy, one vectorized step per filter tap


def _taps(p: DepthwiseConv2DParams, x: np.ndarray, filter_h: int, filter_w: int, pad_value: float):
    """Yield (ky, kx, pixels) with pixels[b, oy, ox, ic] = the input that tap (ky, kx) reads.

    The input is padded with ``pad_value`` so every tap reads inside the array; a padded pixel stands for a
    tap TFLite skips (zp_in contributes 0 to an int8 sum; 0.0 adds +0.0 to a float sum that is never -0.0).
    """
    win = p.window
    need_h = (win.out_h - 1) * p.stride_h + (filter_h - 1) * p.dilation_h + 1
    need_w = (win.out_w - 1) * p.stride_w + (filter_w - 1) * p.dilation_w + 1
    pad_bottom = max(0, need_h - win.pad_h - x.shape[1])
    pad_right = max(0, need_w - win.pad_w - x.shape[2])
    padded = np.pad(x, ((0, 0), (win.pad_h, pad_bottom), (win.pad_w, pad_right), (0, 0)),
                    constant_values=pad_value)
    for ky in range(filter_h):
        for kx in range(filter_w):
            y0, x0 = ky * p.dilation_h, kx * p.dilation_w
            yield ky, kx, padded[:, y0:y0 + (win.out_h - 1) * p.stride_h + 1:p.stride_h,
                                 x0:x0 + (win.out_w - 1) * p.stride_w + 1:p.stride_w, :]


def _integer_sums(p: DepthwiseConv2DParams, x: np.ndarray, w: np.ndarray, input_zero_point: int) -> np.ndarray:
    """int64 ``sum over in-image taps of w * (x - zp_in)`` per output (padding reads zp_in: contributes 0)."""
    _, filter_h, filter_w, channels_out = w.shape
    acc = np.zeros((x.shape[0], p.window.out_h, p.window.out_w, channels_out), dtype=np.int64)
    for ky, kx, pixels in _taps(p, x, filter_h, filter_w, input_zero_point):
        # output channel oc reads input channel oc // dm: repeat each input channel dm times
        shifted = np.repeat(pixels.astype(np.int64) - input_zero_point, p.depth_multiplier, axis=3)
        acc += shifted * w[0, ky, kx, :]
    return acc


def depthwise_conv2d_spec(p: DepthwiseConv2DParams, x: np.ndarray, w: np.ndarray,
                          bias: np.ndarray | None = None) -> np.ndarray:
    _, filter_h, filter_w, channels_out = w.shape
    out_shape = (x.shape[0], p.window.out_h, p.window.out_w, channels_out)
    if 0 in out_shape:  # an empty output (a VALID window larger than the input): nothing to compute
        return np.zeros(out_shape, p.output_dtype)
    if p.rule == "int16":
        acc = _integer_sums(p, x, w.astype(np.int64), 0)  # exact int64; the weights' zero point is ignored
        if bias is not None:
            acc += bias.astype(np.int64)
        return int16_requantize(acc, p.output_multiplier, p.output_shift, 64, p.act_min, p.act_max)
    if p.quantized:
        acc = _integer_sums(p, x, w.astype(np.int64) - p.filter_zero_point, p.input_zero_point)
        if bias is not None:
            acc += bias.astype(np.int64)
        acc = wrap_int32(acc)  # the C++ accumulator is int32; integer sums wrap the same in any order
        y = multiply_by_quantized_multiplier(acc, p.output_multiplier, p.output_shift) + p.output_zero_point
        return np.clip(y, p.act_min, p.act_max).astype(p.output_dtype)
    if p.rule == "hybrid":
        return _depthwise_hybrid(p, x, w, bias)

    total = np.zeros(out_shape, dtype=np.float32)
    # the taps the reference skips (outside the image) add +0.0 instead of 0 * w: the same, except for an
    # infinite weight, where 0 * w would be NaN
    inside = _taps(p, np.ones(x.shape[:3] + (1,), dtype=bool), filter_h, filter_w, False)
    for (ky, kx, pixels), (_, _, read) in zip(_taps(p, x.astype(np.float32), filter_h, filter_w, 0.0), inside):
        # one float32 multiply and one float32 add per tap, in the reference's order (ky outer, kx inner)
        with np.errstate(invalid="ignore"):  # 0 * inf outside the image: masked out
            product = np.repeat(pixels, p.depth_multiplier, axis=3) * w[0, ky, kx, :]
        total += np.where(read, product, np.float32(0.0))
    if bias is not None:
        total = total + bias.astype(np.float32)
    return np.minimum(np.maximum(total, np.float32(p.act_min)), np.float32(p.act_max)).astype(np.float32)


def _depthwise_hybrid(p: DepthwiseConv2DParams, x: np.ndarray, w: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """DepthwiseConvHybridPerChannel: asymmetric per-image quantization, int32 sums, float32 rescale."""
    batches = x.shape[0]
    q, input_scales, zero_points = quantize_rows(x.reshape(batches, -1), asymmetric=True)
    weights = w.astype(np.int64)
    out = np.empty((batches, p.window.out_h, p.window.out_w, w.shape[3]), np.float32)
    for b in range(batches):
        acc = wrap_int32(_integer_sums(p, q[b].reshape(1, *x.shape[1:]), weights, int(zero_points[b])))[0]
        # acc_float *= per_channel_scale[oc] * scaling_factors[b]: the scale product first, in float32
        scaled = (acc.astype(np.float32) * (p.filter_scales * input_scales[b]).astype(np.float32)).astype(np.float32)
        if bias is not None:
            scaled = (scaled + bias.astype(np.float32)).astype(np.float32)
        out[b] = scaled
    return clamp_float(out, p.act_min, p.act_max)


# ------------------------------------------------------------------------------------------------
# explain: one output element, step by step (``refinterp explain``; refinterp/ops/trace.py)


def explain_depthwise_conv2d(ctx: OpContext, p: DepthwiseConv2DParams, inputs: list, index: tuple[int, ...],
                             trace) -> object:
    """DEPTHWISE_CONV_2D output ``index`` = (b, oy, ox, oc), int8 / uint8 / int16x8 rules (module docstring)."""
    if p.rule not in ("int8", "uint8", "int16", "float32"):
        raise trace.not_detailed(f"the {p.rule} rule")
    x, w, bias = inputs[0], inputs[1], inputs[2] if len(inputs) > 2 else None
    b, oy, ox, oc = (int(v) for v in index)
    _, filter_h, filter_w, _ = w.shape
    ic = oc // p.depth_multiplier
    taps, skipped = conv_window(p, x.shape[1], x.shape[2], filter_h, filter_w, oy, ox)
    if p.rule == "float32":
        trace.add("output element", [b, oy, ox, oc], f"batch {b}, row {oy}, column {ox}, output channel {oc} (input "
                  f"channel {ic})")
        total = trace.float_dot(taps, ("ky", "kx", "iy", "ix"), [x[b, iy, ix, ic] for _, _, iy, ix in taps],
                                [w[0, ky, kx, oc] for ky, kx, _, _ in taps], skipped, weight_names=("ky", "kx"))
        real = sum(float(x[b, iy, ix, ic]) * float(w[0, ky, kx, oc]) for ky, kx, iy, ix in taps)
        return explain_float_output(trace, total, None if bias is None else bias[oc], f"bias[{oc}]", p.act_min,
                                    p.act_max, real)
    input_scale, output_scale, filter_scale = conv_scales(ctx, oc)
    trace.add("output element", [b, oy, ox, oc],
              f"batch {b}, row {oy}, column {ox}, output channel {oc}, which reads input channel {ic} "
              f"(depth multiplier {p.depth_multiplier}); window at input row {oy * p.stride_h - p.window.pad_h}, "
              f"column {ox * p.stride_w - p.window.pad_w} (stride {p.stride_h}x{p.stride_w}, padding "
              f"{p.window.pad_h}x{p.window.pad_w}, dilation {p.dilation_h}x{p.dilation_w}), filter "
              f"{filter_h}x{filter_w}")
    total, real = trace.dot([(ky, kx, iy, ix) for ky, kx, iy, ix in taps], ("ky", "kx", "iy", "ix"),
                            [x[b, iy, ix, ic] for _, _, iy, ix in taps], p.input_zero_point, input_scale,
                            [w[0, ky, kx, oc] for ky, kx, _, _ in taps], p.filter_zero_point, filter_scale, skipped,
                            weight_names=("ky", "kx"))
    total, real = trace.bias(total, real, None if bias is None else bias[oc],
                             bias_channel_scale(ctx.input(2), oc), input_scale * filter_scale, f"bias[{oc}]")
    multiplier, shift = trace.conv_multiplier(input_scale, filter_scale, output_scale, p.rule == "uint8",
                                              f"s_w[{oc}]", (int(p.output_multiplier[oc]), int(p.output_shift[oc])))
    # int16x8 always accumulates in int64 here (module docstring: DepthwiseConvPerChannel for int16)
    value = trace.conv_output(total, multiplier, shift, p.rule == "int16", p.output_zero_point, p.act_min,
                              p.act_max)
    trace.approximates(real, output_scale, p.output_zero_point, (p.act_min, p.act_max))
    return value

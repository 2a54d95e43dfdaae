"""TRANSPOSE_CONV: int8 (per-channel or per-tensor int8 weights), int16x8, uint8 (LiteRT only), float32 and hybrid.

Inputs: 0 the output shape (int32 ``[4]``, constant or computed), 1 the weights ``[Cout, KH, KW, Cin]`` (OHWI),
2 the data ``[N, H, W, Cin]``, 3 the bias ``[Cout]`` (optional).

The reference kernels (``tensorflow/lite/kernels/internal/reference/transpose_conv.h`` and
``reference/integer_ops/transpose_conv.h``, run by ``kernels/transpose_conv.cc`` under BUILTIN_REF and by TFLM's
``micro/kernels/transpose_conv.cc``) *scatter*: every input pixel (b, iy, ix) and input channel ic adds its
product with each tap (ky, kx) to the output pixel

    oy = iy * stride_h - pad_h + ky,   ox = ix * stride_w - pad_w + kx

(products that land outside the output are dropped), looping ``b, iy, ix, ic, ky, kx, oc``. The padding is
``ComputePaddingHeightWidth`` (padding.h) applied with the *output* size in the role of the input size and a
dilation of 1: ``out' = ComputeOutSize(padding, out, K, stride)`` (SAME: ``ceil(out / stride)``; VALID:
``(out + stride - K) / stride``, truncated), ``pad = max(0, (out' - 1) * stride + K - out) // 2``; the odd
pixel of the total (the offset) is ignored by the reference kernels.

float32 rule: the output starts at 0.0f and each product ``f32(x * w)`` is added in float32 in the scatter order,
so for one output element the products arrive in the order of (iy, ix) ascending, then ic ascending. Then
``y = clamp(f32(y + bias[oc]))`` with the fused activation's range.

int8 rule (``reference_integer_ops::TransposeConv``): an int32 scratch buffer (it wraps) accumulates
``(x - zp_in) * w``; then ``acc = int32(acc + bias[oc])``,
``y = clamp(MultiplyByQuantizedMultiplier(acc, M[oc], shift[oc]) + zp_out, act_min, act_max)`` with
``M[oc], shift[oc] = QuantizeMultiplier(f64(s_in) * f64(s_w[oc]) / f64(s_out))``
(``PopulateConvolutionQuantizationParams``; a per-tensor weight scale serves every channel). The int8 kernel
never reads the weights' zero point.

int16x8 rule (``reference_integer_ops::TransposeConv`` for int16 data, int8 weights; ``transpose_conv.cc``
EvalQuantizedPerChannel16x8): data and output zero points 0, the int8 rule's M, shift, and the scatter sums
``acc = sum x * w + bias[oc]`` in a scratch buffer of the accumulator's type, chosen as CONV_2D's int16 rule chooses
it (``conv.int16_accumulator_bits``; LiteRT: the options' quantized_bias_type INT32 -> int32, wrapping, and the
int32 MultiplyByQuantizedMultiplier; INT64 or unset -> exact int64 and the int64 form). TFLM's int16 kernel always
accumulates in int64 and reads the bias as int64: profile "tflm" refuses an int32 bias.

uint8 rule (``reference_ops::TransposeConv`` for uint8, LiteRT only): ``acc = sum (x - zp_in) * (w - zp_w)``,
then the same with one per-tensor ``M, shift`` from ``GetQuantizedConvolutionMultipler`` (the float32 product
``s_in * s_w``, and the 2% bias-scale check; see ``conv.legacy_uint8_multiplier``).

hybrid rule (float32 data and output, int8 weights, per-tensor or per-channel scales; ``transpose_conv.cc``
EvalHybrid -> ``reference_ops::HybridTransposeConv``, LiteRT only; measured against the ai-edge-litert 2.3.0
wheel, 0 mismatches): each batch image ``x[b]`` (all its H*W*Cin values, one row) is quantized at every invoke
with ``AsymmetricQuantizeFloats`` (always asymmetric: TransposeConvOptions has no asymmetric_quantize_inputs;
the NEON-via-SSE rules of ``refinterp/ops/hybrid.py``) into int8 values ``q`` (the input_quantized scratch
tensor), a float32 scale ``s[b]`` (scaling_factors) and a zero point ``zp[b]`` (input_offsets). The weights'
zero point is never read. Then the float32 scatter of the float rule, one term per product::

    y[b, oy, ox, oc] += f32(f32(f32((q - zp[b]) * w) * s_w[oc]) * s[b])

(the int32 product converted to float32, times the weight scale, times the input scale, each rounded to float32;
a per-tensor scale serves every channel; per-channel scales are read by output channel), in the scatter order;
then ``y = clamp(f32(y + bias[oc]))`` with the float activation range. An all-zero image quantizes to q = 0
(scale 1, zero point 0): its output is the bias. A NaN or infinite input is an EvalError (LiteRT's quantization
is undefined for it).

Output shape: LiteRT takes it from input 0 (at Prepare when constant, else at Eval); TFLM ignores input 0 and
keeps the output tensor's declared shape. The reference kernels take the batch from the data and the depth from
the weights (a mismatch with the output shape is a debug-only check there): refinterp refuses one.

The fast kernels are in ``refinterp/ops/fast/transpose_conv.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from refinterp.errors import EvalError
from refinterp.ops.common import (
    MAX_CONV_FACTOR,
    PADDING_SAME,
    PADDING_VALID,
    OpContext,
    compute_output_size,
    compute_padding,
    conv_scales,
    per_tensor_qparams,
)
from refinterp.ops.conv import (
    bias_scale_of,
    clamp_float,
    explain_float_output,
    int16_accumulator_bits,
    int16_requantization_checks,
    int16_requantize,
    legacy_uint8_multiplier,
    per_channel_multipliers,
)
from refinterp.ops.hybrid import quantize_rows
from refinterp.quant import activation_range, activation_range_float, multiply_by_quantized_multiplier, wrap_int32

KIND_FLOAT32, KIND_INT8, KIND_UINT8, KIND_INT16, KIND_HYBRID = "float32", "int8", "uint8", "int16", "hybrid"

#: Largest output refinterp allocates for a computed output shape (elements); larger values are refused.
MAX_OUTPUT_ELEMENTS = 1 << 28


@dataclass(frozen=True)
class TransposeConvParams:
    kind: str  # KIND_*
    padding: int  # PADDING_SAME or PADDING_VALID
    stride_h: int
    stride_w: int
    channels_out: int
    #: the output shape when known at prepare (a constant input 0, or TFLM's declared shape); None: from input 0
    output_shape: tuple[int, int, int, int] | None
    input_zero_point: int = 0
    filter_zero_point: int = 0  # uint8 only (the int8 kernel ignores the weights' zero point)
    output_zero_point: int = 0
    output_multiplier: np.ndarray | None = None  # int64 [Cout], Q31
    output_shift: np.ndarray | None = None  # int64 [Cout], positive = left shift
    act_min: float = 0
    act_max: float = 0
    accumulator_bits: int = 32  # int16: 32 (int32 scratch, wraps) or 64
    filter_scales: np.ndarray | None = None  # hybrid: float32 [Cout], the weight scale of each output channel

    @property
    def output_dtype(self) -> np.dtype:
        return np.dtype({KIND_INT8: np.int8, KIND_UINT8: np.uint8, KIND_INT16: np.int16}.get(self.kind, np.float32))


def transpose_conv_padding(padding: int, out_size: int, filter_size: int, stride: int) -> int:
    """ComputePaddingHeightWidth as transpose_conv.cc calls it: the output size plays the input size."""
    return compute_padding(stride, 1, out_size, filter_size,
                           compute_output_size(padding, out_size, filter_size, stride))


def output_shape_of(p: TransposeConvParams, shape_values: np.ndarray | None, batches: int) -> tuple[int, ...]:
    """The output shape: the one prepare knew, else input 0's values, checked (EvalError) as at Prepare."""
    if p.output_shape is not None:
        return p.output_shape
    return _checked_shape(_ints(shape_values), batches, p.channels_out, EvalError, "output shape input")


def _ints(values: np.ndarray | Sequence[int] | None) -> tuple[int, ...]:
    return tuple(int(v) for v in np.asarray(values).reshape(-1))


def check_input_size(p: TransposeConvParams, out_hw: tuple[int, int], filter_hw: tuple[int, int],
                     in_hw: tuple[int, int], error) -> None:
    """transpose_conv.cc (Prepare for a constant output shape, else Eval): the input size ComputeOutSize
    gives for the output size must be the data's (``computed_input_height != SizeOfDimension(input, 1)``)."""
    computed = tuple(compute_output_size(p.padding, size, k, s)
                     for size, k, s in zip(out_hw, filter_hw, (p.stride_h, p.stride_w)))
    if computed != tuple(in_hw):
        raise error(f"an output of {out_hw[0]}x{out_hw[1]} comes from a {computed[0]}x{computed[1]} input with "
                    f"this filter, stride and padding, not from the data's {in_hw[0]}x{in_hw[1]}")


def _checked_shape(shape: tuple[int, ...], batches: int, channels_out: int, error, what: str) -> tuple[int, ...]:
    if len(shape) != 4:
        raise error(f"{what} has {len(shape)} values {list(shape)}, expected 4 (NHWC)")
    if min(shape) < 0:
        raise error(f"{what} {list(shape)} has a negative dimension")
    if shape[0] != batches or shape[3] != channels_out:
        # MatchingDim is a debug-only check in the reference kernels: LiteRT would index the output with the
        # data's batch count and the weights' depth (reading and writing outside it)
        raise error(f"{what} {list(shape)} does not match the data's batch {batches} and the weights' "
                    f"{channels_out} output channels")
    if int(np.prod(shape, dtype=np.int64)) > MAX_OUTPUT_ELEMENTS:
        raise error(f"{what} {list(shape)} has more than {MAX_OUTPUT_ELEMENTS} elements")
    return shape


def prepare_transpose_conv(ctx: OpContext) -> TransposeConvParams:
    ctx.check_inputs(3, 4)
    if len(ctx.op.outputs) != 1:
        raise ctx.fail(f"has {len(ctx.op.outputs)} outputs, expected 1")
    shape_tensor, w, x, y = ctx.require_input(0), ctx.require_input(1), ctx.require_input(2), ctx.output(0)
    bias = ctx.input(3)
    ctx.check_dtype(x, ("int8", "uint8", "int16", "float32"), "input")
    if len(ctx.shape(shape_tensor)) != 1:
        raise ctx.fail(f"output shape input must be 1-D, got shape {list(ctx.shape(shape_tensor))}")
    x_shape, w_shape = ctx.shape(x), ctx.shape(w)
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise ctx.fail(f"data and weights must be 4-D, got {list(x_shape)} and {list(w_shape)}")
    hybrid = x.type_name == "float32" and w.type_name == "int8"
    if hybrid:
        # transpose_conv.cc Prepare: float32 data takes float32 or int8 weights (int8: EvalHybrid)
        if ctx.profile == "tflm":
            raise ctx.fail("float32 data with int8 weights: TFLM does not run hybrid models")
    elif x.type_name == "int16":
        if w.type_name != "int8":
            raise ctx.fail(f"int16 data with {w.type_name} weights (TFLite requires int8)")
    elif w.type_name != x.type_name:
        raise ctx.fail(f"{x.type_name} data with {w.type_name} weights (TFLite requires the same type)")
    if y.type_name != x.type_name:
        raise ctx.fail(f"{x.type_name} data with {y.type_name} output (TFLite requires the same type)")
    channels_out, filter_h, filter_w, channels_in = w_shape
    if x_shape[3] != channels_in:
        raise ctx.fail(f"data depth {x_shape[3]} differs from the weights' input depth {channels_in}")
    accumulator_bits = 32
    if x.type_name == "int16":
        accumulator_bits = int16_accumulator_bits(ctx, bias, "transposed convolution")
        if ctx.profile == "tflm" and bias is not None and bias.type_name != "int64":
            raise ctx.fail(f"int16 data with {bias.type_name} bias: TFLM's kernel reads the bias as int64")
        accumulator_bits = 64 if ctx.profile == "tflm" else accumulator_bits
    if bias is not None:
        wanted = {"float32": "float32", "int16": bias.type_name}.get(x.type_name, "int32")
        if bias.type_name != wanted:
            raise ctx.fail(f"{x.type_name} data with {bias.type_name} bias (TFLite requires {wanted})")
        if x.type_name in ("int8", "int16") and bias.quantization is not None \
                and int(bias.quantization.zero_point[0]) != 0:
            raise ctx.fail("bias zero point must be 0")
        if int(np.prod(ctx.shape(bias))) != channels_out:
            raise ctx.fail(f"bias has {int(np.prod(ctx.shape(bias)))} elements, expected {channels_out}")

    o = ctx.options
    padding = int(o.get("padding", PADDING_SAME))
    if padding not in (PADDING_SAME, PADDING_VALID):
        raise ctx.unsupported(f"padding {padding} (neither SAME nor VALID)")
    stride_h, stride_w = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    if stride_h < 1 or stride_w < 1:
        raise ctx.unsupported(f"strides {stride_h}x{stride_w} (TFLite divides by them)")
    if max(stride_h, stride_w) > MAX_CONV_FACTOR and ctx.profile == "litert-ref":
        # transpose_conv.cc Prepare (ai-edge-litert 2.3.0, measured): strides <= INT16_MAX
        raise ctx.fail(f"strides {stride_h}x{stride_w}: more than {MAX_CONV_FACTOR} (LiteRT keeps them in int16)")
    if filter_h < 1 or filter_w < 1:
        raise ctx.unsupported(f"empty {filter_h}x{filter_w} filter")
    activation = int(o.get("fused_activation_function", 0))

    output_shape: tuple[int, ...] | None
    if ctx.profile == "tflm":
        output_shape = _checked_shape(ctx.shape(y), x_shape[0], channels_out, ctx.fail, "output")
    else:
        if shape_tensor.type_name != "int32":
            raise ctx.fail(f"output shape input is {shape_tensor.type_name}, not int32")
        if shape_tensor.is_constant:
            output_shape = _checked_shape(_ints(shape_tensor.data), x_shape[0], channels_out, ctx.fail,
                                          "output shape input")
        else:
            output_shape = None
    if output_shape is not None and ctx.profile != "tflm":
        sizes = dict(out_hw=output_shape[1:3], filter_hw=(filter_h, filter_w), in_hw=x_shape[1:3])
        check_input_size(TransposeConvParams(KIND_FLOAT32, padding, stride_h, stride_w, channels_out, None),
                         error=ctx.fail, **sizes)
    if output_shape is not None:
        ctx.set_output_shape(0, output_shape)
    else:
        pending = TransposeConvParams(KIND_FLOAT32, padding, stride_h, stride_w, channels_out, None)

        def computed_shape(inputs: Sequence[np.ndarray | None]) -> tuple[int, ...]:
            shape = _checked_shape(_ints(inputs[0]), x_shape[0], channels_out, EvalError, "output shape input")
            check_input_size(pending, shape[1:3], (filter_h, filter_w), x_shape[1:3], EvalError)
            return shape

        ctx.set_output_shape(0, computed_shape)
    common = dict(padding=padding, stride_h=stride_h, stride_w=stride_w, channels_out=channels_out,
                  output_shape=output_shape)

    if hybrid:
        return TransposeConvParams(kind=KIND_HYBRID, filter_scales=_hybrid_filter_scales(ctx, w, channels_out),
                                   act_min=activation_range_float(activation)[0],
                                   act_max=activation_range_float(activation)[1], **common)
    if x.type_name == "float32":
        lo, hi = activation_range_float(activation)
        return TransposeConvParams(kind=KIND_FLOAT32, act_min=lo, act_max=hi, **common)

    input_scale, input_zero_point = per_tensor_qparams(ctx, x, "input")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    wq = w.quantization
    if wq is None or wq.scale.size == 0:
        raise ctx.fail(f"{w.type_name} weights are not quantized")
    if x.type_name == "uint8":
        if ctx.profile == "tflm":
            raise ctx.fail("uint8 data: TFLM's TRANSPOSE_CONV has no uint8 kernel")
        if wq.scale.size > 1:
            raise ctx.fail("per-channel weight scales need int8 data (uint8 is per-tensor only)")
        multiplier, shift = legacy_uint8_multiplier(ctx, input_scale, float(wq.scale[0]), output_scale,
                                                    bias_scale_of(bias))
        act_min, act_max = activation_range(activation, output_scale, output_zero_point, np.uint8)
        return TransposeConvParams(kind=KIND_UINT8, input_zero_point=input_zero_point,
                                   filter_zero_point=int(wq.zero_point[0]), output_zero_point=output_zero_point,
                                   output_multiplier=np.full(channels_out, multiplier, np.int64),
                                   output_shift=np.full(channels_out, shift, np.int64),
                                   act_min=act_min, act_max=act_max, **common)
    if wq.scale.size > 1:
        # PopulateConvolutionQuantizationParams: as many scales as the quantized dimension has entries; the
        # kernel reads them by output channel (dimension 0)
        if wq.quantized_dimension != 0 or wq.scale.size != channels_out:
            raise ctx.fail(f"per-channel weights must have {channels_out} scales on dimension 0, got "
                           f"{wq.scale.size} on dimension {wq.quantized_dimension}")
    multipliers, shifts = per_channel_multipliers(ctx, input_scale, wq.scale if wq.scale.size > 1 else wq.scale[:1],
                                                  output_scale, channels_out)
    if x.type_name == "int16":
        int16_requantization_checks(ctx, x, y, shifts, accumulator_bits)
        act_min, act_max = activation_range(activation, output_scale, 0, np.int16)
        return TransposeConvParams(kind=KIND_INT16, output_multiplier=multipliers, output_shift=shifts,
                                   act_min=act_min, act_max=act_max, accumulator_bits=accumulator_bits, **common)
    act_min, act_max = activation_range(activation, output_scale, output_zero_point, np.int8)
    return TransposeConvParams(kind=KIND_INT8, input_zero_point=input_zero_point,
                               output_zero_point=output_zero_point, output_multiplier=multipliers,
                               output_shift=shifts, act_min=act_min, act_max=act_max, **common)


def _hybrid_filter_scales(ctx: OpContext, w, channels_out: int) -> np.ndarray:
    """The weight scale of each output channel, as EvalHybrid reads ``affine_quantization->scale``: one scale for
    every channel, else the scale of index ``oc`` whatever the quantized dimension (measured)."""
    wq = w.quantization
    if wq is None or wq.scale.size == 0:
        # transpose_conv.cc Prepare: TF_LITE_ENSURE(context, affine_quantization)
        raise ctx.fail("int8 weights of a hybrid transposed convolution are not quantized")
    scales = np.asarray(wq.scale, dtype=np.float32)
    if scales.size == 1:
        return np.full(channels_out, scales[0], np.float32)
    if scales.size < channels_out:
        raise ctx.unsupported(f"{scales.size} per-channel weight scales on dimension {wq.quantized_dimension} for "
                              f"{channels_out} output channels (LiteRT would read past the scales)")
    return scales[:channels_out].copy()


# ------------------------------------------------------------------------------------------------
# Spec kernel: the reference's scatter loop, one input pixel at a time


def transpose_conv_spec(p: TransposeConvParams, shape_values: np.ndarray | None, w: np.ndarray, x: np.ndarray,
                        bias: np.ndarray | None = None) -> np.ndarray:
    batches, in_h, in_w, channels_in = x.shape
    channels_out, filter_h, filter_w, _ = w.shape
    shape = output_shape_of(p, shape_values, batches)
    out_h, out_w = shape[1], shape[2]
    if p.output_shape is None:
        check_input_size(p, (out_h, out_w), (filter_h, filter_w), (in_h, in_w), EvalError)
    pad_h = transpose_conv_padding(p.padding, out_h, filter_h, p.stride_h)
    pad_w = transpose_conv_padding(p.padding, out_w, filter_w, p.stride_w)
    quantized = p.kind in (KIND_INT8, KIND_UINT8, KIND_INT16)
    # the weights as [KH, KW, Cout, Cin]: one input channel's taps for every output channel
    taps = np.transpose(w, (1, 2, 0, 3))
    if p.kind == KIND_HYBRID:
        return _transpose_conv_hybrid(p, shape, (pad_h, pad_w), taps, x, bias)
    if quantized:
        values = x.astype(np.int64) - p.input_zero_point
        taps = taps.astype(np.int64) - (p.filter_zero_point if p.kind == KIND_UINT8 else 0)
        total = np.zeros(shape, np.int64)  # the int32 scratch buffer, reduced modulo 2**32 below
    else:
        values = x
        total = np.zeros(shape, np.float32)
    for iy in range(in_h):
        for ix in range(in_w):
            # the output window this input pixel reaches, cut to the output (products outside are dropped)
            oy0, ox0 = iy * p.stride_h - pad_h, ix * p.stride_w - pad_w
            ky_lo, ky_hi = max(0, -oy0), min(filter_h, out_h - oy0)
            kx_lo, kx_hi = max(0, -ox0), min(filter_w, out_w - ox0)
            if ky_lo >= ky_hi or kx_lo >= kx_hi:
                continue
            window = total[:, oy0 + ky_lo:oy0 + ky_hi, ox0 + kx_lo:ox0 + kx_hi, :]
            reach = taps[ky_lo:ky_hi, kx_lo:kx_hi]  # [ky, kx, Cout, Cin]
            if quantized:
                # integer sums are exact in any order: all input channels at once
                window += np.einsum("bc,yxoc->byxo", values[:, iy, ix, :], reach)
            else:
                for ic in range(channels_in):
                    # one float32 product and one float32 add per output element, channel after channel
                    window += values[:, iy, ix, ic, None, None, None] * reach[None, :, :, :, ic]
    if not quantized:
        if bias is not None:
            total = total + bias.reshape(-1).astype(np.float32)  # any shape with Cout elements
        return clamp_float(total, p.act_min, p.act_max)
    if bias is not None:
        total += bias.reshape(-1).astype(np.int64)
    if p.kind == KIND_INT16:
        return int16_requantize(total, p.output_multiplier, p.output_shift, p.accumulator_bits, p.act_min, p.act_max)
    acc = wrap_int32(total)
    y = multiply_by_quantized_multiplier(acc, p.output_multiplier, p.output_shift) + p.output_zero_point
    return np.clip(y, p.act_min, p.act_max).astype(p.output_dtype)


def _transpose_conv_hybrid(p: TransposeConvParams, shape: tuple[int, ...], pads: tuple[int, int], taps: np.ndarray,
                           x: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """reference_ops::HybridTransposeConv: the float32 scatter of ``f32(f32(f32(d * w) * s_w[oc]) * s[b])`` with
    ``d = q - zp[b]`` from the per-image asymmetric quantization (module docstring)."""
    batches, in_h, in_w, channels_in = x.shape
    filter_h, filter_w = taps.shape[:2]
    out_h, out_w = shape[1], shape[2]
    q, scales, zero_points = quantize_rows(np.asarray(x, np.float32).reshape(batches, -1), asymmetric=True)
    offsets = (q - zero_points[:, None]).reshape(x.shape)  # |q - zp| <= 255
    taps = taps.astype(np.int64)  # [KH, KW, Cout, Cin]
    filter_scales = p.filter_scales.astype(np.float32)
    total = np.zeros(shape, np.float32)
    for iy in range(in_h):
        for ix in range(in_w):
            oy0, ox0 = iy * p.stride_h - pads[0], ix * p.stride_w - pads[1]
            ky_lo, ky_hi = max(0, -oy0), min(filter_h, out_h - oy0)
            kx_lo, kx_hi = max(0, -ox0), min(filter_w, out_w - ox0)
            if ky_lo >= ky_hi or kx_lo >= kx_hi:
                continue
            window = total[:, oy0 + ky_lo:oy0 + ky_hi, ox0 + kx_lo:ox0 + kx_hi, :]
            reach = taps[ky_lo:ky_hi, kx_lo:kx_hi]
            for ic in range(channels_in):
                # the int32 product (exact in float32: |d * w| <= 255 * 128), times s_w[oc], times s[b]
                products = (offsets[:, iy, ix, ic, None, None, None] * reach[None, :, :, :, ic]).astype(np.float32)
                with np.errstate(over="ignore", invalid="ignore"):  # huge scales overflow to inf, as in LiteRT
                    terms = (products * filter_scales).astype(np.float32) * scales[:, None, None, None]
                    window += terms.astype(np.float32)
    if bias is not None:
        with np.errstate(over="ignore", invalid="ignore"):
            total = total + bias.reshape(-1).astype(np.float32)
    return clamp_float(total, p.act_min, p.act_max)  # an infinite sum becomes +-FLT_MAX (measured)


# ------------------------------------------------------------------------------------------------
# explain: one output element, step by step (``refinterp explain``; refinterp/ops/trace.py)


def explain_transpose_conv(ctx: OpContext, p: TransposeConvParams, inputs: list, index: tuple[int, ...],
                           trace) -> object:
    """TRANSPOSE_CONV output ``index`` = (b, oy, ox, oc): the input pixels whose scatter reaches it, in the kernel's
    order (iy, ix, then input channel), then the int8 / uint8 / int16x8 / float32 rule of the module docstring."""
    if p.kind not in (KIND_INT8, KIND_UINT8, KIND_INT16, KIND_FLOAT32):
        raise trace.not_detailed(f"the {p.kind} rule")
    shape_values, w, x = inputs[0], inputs[1], inputs[2]
    bias = inputs[3] if len(inputs) > 3 else None
    b, oy, ox, oc = (int(v) for v in index)
    _, in_h, in_w, channels_in = x.shape
    _, filter_h, filter_w, _ = w.shape
    shape = output_shape_of(p, shape_values, x.shape[0])
    pad_h = transpose_conv_padding(p.padding, shape[1], filter_h, p.stride_h)
    pad_w = transpose_conv_padding(p.padding, shape[2], filter_w, p.stride_w)
    positions = []
    for iy in range(in_h):
        ky = oy - (iy * p.stride_h - pad_h)
        if not 0 <= ky < filter_h:
            continue
        for ix in range(in_w):
            kx = ox - (ix * p.stride_w - pad_w)
            if 0 <= kx < filter_w:
                positions += [(iy, ix, ic, ky, kx) for ic in range(channels_in)]
    trace.add("output element", [b, oy, ox, oc], f"batch {b}, row {oy}, column {ox}, output channel {oc}: reached by "
              f"input pixels (iy, ix) with oy = iy * {p.stride_h} - {pad_h} + ky (likewise x), taps ky < {filter_h}, "
              f"kx < {filter_w}; {len(positions) // max(channels_in, 1)} pixels, {channels_in} channels each")
    xs = [x[b, iy, ix, ic] for iy, ix, ic, _, _ in positions]
    ws = [w[oc, ky, kx, ic] for _, _, ic, ky, kx in positions]
    names = ("iy", "ix", "ic", "ky", "kx")
    if p.kind == KIND_FLOAT32:
        total = trace.float_dot(positions, names, xs, ws, weight_names=("ky", "kx", "ic"), what="input pixels")
        return explain_float_output(trace, total, None if bias is None else bias.reshape(-1)[oc], f"bias[{oc}]",
                                    p.act_min, p.act_max, sum(float(a) * float(c) for a, c in zip(xs, ws)))
    input_scale, output_scale, filter_scale = conv_scales(ctx, oc, input_index=2)
    total, real = trace.dot(positions, names, xs, p.input_zero_point, input_scale, ws,
                            p.filter_zero_point if p.kind == KIND_UINT8 else 0, filter_scale,
                            what="input pixels", weight_names=("ky", "kx", "ic"))
    # the kernel adds the int32 bias as it is; its real value is taken as s_in * s_w * bias
    total, real = trace.bias(total, real, None if bias is None else bias.reshape(-1)[oc], None,
                             input_scale * filter_scale, f"bias[{oc}]")
    multiplier, shift = trace.conv_multiplier(input_scale, filter_scale, output_scale, p.kind == KIND_UINT8,
                                              f"s_w[{oc}]", (int(p.output_multiplier[oc]), int(p.output_shift[oc])))
    value = trace.conv_output(total, multiplier, shift, p.kind == KIND_INT16 and p.accumulator_bits == 64,
                              p.output_zero_point, p.act_min, p.act_max)
    trace.approximates(real, output_scale, p.output_zero_point, (p.act_min, p.act_max))
    return value

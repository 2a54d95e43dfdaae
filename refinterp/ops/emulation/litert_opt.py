"""Profile "litert-opt": LiteRT 2.3.0's optimized builtin kernels on x86-64 (BUILTIN_WITHOUT_DEFAULT_DELEGATES).

Only the operators whose optimized kernel computes differently from the reference kernel are listed in
``TABLE``; every other operator runs the "litert-ref" kernels. On x86 TFLite compiles its NEON paths through
NEON_2_SSE, so the vector blocks of the optimized kernels round like NEON: ``vqrdmulhq`` then ``vrshlq``, i.e.
SRDHM then a rounding right shift with ties toward +infinity (int8-semantics §2.5,
:func:`~refinterp.ops.emulation.arithmetic.multiply_by_quantized_multiplier_upward`), while their scalar tails keep
the reference rule. The rules, with their source files (docs/profiles.md, "Emulation profiles"):

* CONV_2D (groups 1), FULLY_CONNECTED (int8, uint8): ruy's x86 kernels, §2.5 on every element;
* DEPTHWISE_CONV_2D, TRANSPOSE_CONV (int8): ``optimized_ops::Quantize``, §2.5 for the channels in blocks of 8, the
  reference for the others; TRANSPOSE_CONV uint8: §2.5 on every element;
* ADD (8-bit, same shapes), MEAN (4-D over H and W, keep_dims), QUANTIZE, DEQUANTIZE: vector blocks and a scalar tail;
* SOFTMAX (8-bit input): a float lookup table;
* float32 CONV_2D, FULLY_CONNECTED, DEPTHWISE_CONV_2D, TRANSPOSE_CONV, HARD_SWISH: the optimized kernels' float32
  orders (Eigen's SSE GEMM, the depthwise row accumulation, Col2im, the NEON HardSwish), litert_opt_float.py;
* float32 LOGISTIC, TANH, SOFTMAX, LOG_SOFTMAX: Eigen's SSE packet functions (scalar_logistic_op, ptanh_float,
  pexp_float and the row reductions), MEAN (Eigen's row sums, MeanGeneral); RESIZE_BILINEAR:
  ResizeBilinear2x2 / ResizeBilinearGeneric's order; litert_opt_float.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from refinterp.ops.common import OpContext, per_tensor_qparams
from refinterp.ops.emulation import EmulatedOp, litert_opt_float, litert_opt_hybrid
from refinterp.ops.emulation.arithmetic import (
    conv_accumulators,
    depthwise_accumulators,
    fully_connected_accumulators,
    multiply_by_quantized_multiplier_upward,
    transpose_conv_accumulators,
)
from refinterp.ops.softmax_logistic import expf
from refinterp.ops.transpose_conv import output_shape_of, transpose_conv_padding
from refinterp.quant import (
    DTYPE_RANGES,
    cast_to_int32,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    round_half_away_f32,
    round_half_away_f64,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
    wrap_int32,
)


@dataclass(frozen=True)
class UpwardRequantization:
    """A reference operator's params (its accumulator geometry, multipliers, zero points, clamp) whose final
    requantization is the x86 optimized one."""

    base: Any

    @property
    def output_dtype(self) -> np.dtype:
        return np.dtype(self.base.output_dtype)


def _conv_rule(ctx: OpContext, reference_prepare) -> UpwardRequantization | Any | None:
    """CONV_2D: a grouped convolution runs LiteRT's reference kernel (conv.cc: only it supports groups; measured
    on deepfilternet and lyragan), the others the ruy GEMM; float32: Eigen's GEMM (litert_opt_float.py)."""
    params = reference_prepare(ctx)
    if params.rule == "float32":
        return litert_opt_float.prepare_gemm_float(ctx, params)
    if params.rule.startswith("hybrid"):  # per-channel: HybridConvPerChannel's order (litert_opt_hybrid.py)
        return litert_opt_hybrid.prepare_conv_hybrid(ctx, params)
    return UpwardRequantization(params) if params.rule in ("int8", "uint8") and params.groups == 1 else None


def _transpose_conv_rule(ctx: OpContext, reference_prepare) -> UpwardRequantization | Any | None:
    """TRANSPOSE_CONV: int8 and uint8 the optimized requantization, float32 TransposeConvV2's order."""
    params = reference_prepare(ctx)
    if params.kind == "float32":
        return litert_opt_float.prepare_transpose_conv_float(ctx, params)
    return UpwardRequantization(params) if params.kind in ("int8", "uint8") else None


def _fully_connected_rule(ctx: OpContext, reference_prepare) -> UpwardRequantization | Any | None:
    """FULLY_CONNECTED: int8 and uint8 the ruy requantization, float32 Eigen's GEMM (litert_opt_float.py)."""
    params = reference_prepare(ctx)
    if params.rule == "float32":
        return litert_opt_float.prepare_gemm_float(ctx, params)
    return UpwardRequantization(params) if params.rule in ("int8", "uint8") else None


def _requantize(p: Any, acc: np.ndarray, dtype: np.dtype) -> np.ndarray:
    scaled = multiply_by_quantized_multiplier_upward(acc, p.output_multiplier, p.output_shift)
    return np.clip(scaled + p.output_zero_point, p.act_min, p.act_max).astype(dtype)


#: optimized_ops::Quantize (the output stage of the int8 depthwise and transpose convolutions) requantizes the
#: channels in blocks of 8 with the NEON rule and the remaining ``depth % 8`` channels with the reference one
CHANNEL_BLOCK = 8


def _requantize_channel_blocks(p: Any, acc: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """optimized_ops.h ``Quantize`` (per-channel int8): for the first ``depth // 8 * 8`` channels ``vqrdmulhq``
    then ``vrshlq`` (§2.5, ties toward +inf), for the last ``depth % 8`` the reference
    MultiplyByQuantizedMultiplier; then ``+ zp_out`` and the clamp."""
    head = acc.shape[-1] // CHANNEL_BLOCK * CHANNEL_BLOCK
    multipliers, shifts = np.asarray(p.output_multiplier), np.asarray(p.output_shift)
    scaled = np.concatenate([
        multiply_by_quantized_multiplier_upward(acc[..., :head], multipliers[:head], shifts[:head]),
        multiply_by_quantized_multiplier(acc[..., head:], multipliers[head:], shifts[head:])], axis=-1)
    return np.clip(scaled + p.output_zero_point, p.act_min, p.act_max).astype(dtype)


def conv2d_upward(q: UpwardRequantization, x: np.ndarray, w: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """CONV_2D int8/uint8, ruy's x86 requantization; float32: litert_opt_float.conv2d_float."""
    if isinstance(q, litert_opt_float.FloatGemm):
        return litert_opt_float.conv2d_float(q, x, w, bias)
    if isinstance(q, litert_opt_hybrid.HybridConvPerChannel):
        return litert_opt_hybrid.conv2d_hybrid_per_channel(q, x, w, bias)
    return _requantize(q.base, conv_accumulators(q.base, x, w, bias), q.output_dtype)


def _depthwise_rule(ctx: OpContext, reference_prepare) -> UpwardRequantization | Any | None:
    """DEPTHWISE_CONV_2D: int8 the channel-block requantization, float32 optimized_ops::DepthwiseConv's order
    (litert_opt_float.py)."""
    params = reference_prepare(ctx)
    if params.rule == "int8":
        return UpwardRequantization(params)
    if params.rule == "float32":
        return litert_opt_float.prepare_depthwise_float(ctx, params)
    if params.rule == "hybrid":  # DepthwiseConvHybridGeneral's channel blocks (litert_opt_hybrid.py)
        return litert_opt_hybrid.prepare_depthwise_hybrid(ctx, params)
    return None


def depthwise_conv2d_upward(q: UpwardRequantization, x: np.ndarray, w: np.ndarray,
                            bias: np.ndarray | None = None) -> np.ndarray:
    """DEPTHWISE_CONV_2D int8 (DepthwiseConvGeneral, then optimized_ops::Quantize by channel blocks); float32:
    litert_opt_float.depthwise_float."""
    if isinstance(q, litert_opt_float.FloatDepthwise):
        return litert_opt_float.depthwise_float(q, x, w, bias)
    if isinstance(q, litert_opt_hybrid.HybridDepthwise):
        return litert_opt_hybrid.depthwise_conv2d_hybrid(q, x, w, bias)
    return _requantize_channel_blocks(q.base, depthwise_accumulators(q.base, x, w, bias), q.output_dtype)


def fully_connected_upward(q: UpwardRequantization, x: np.ndarray, w: np.ndarray,
                           bias: np.ndarray | None = None) -> np.ndarray:
    """FULLY_CONNECTED int8/uint8, ruy's x86 requantization; float32: litert_opt_float.fully_connected_float."""
    if isinstance(q, litert_opt_float.FloatGemm):
        return litert_opt_float.fully_connected_float(q, x, w, bias)
    p = q.base
    return _requantize(p, fully_connected_accumulators(p, x, w, bias), q.output_dtype).reshape(p.output_shape)


def transpose_conv_geometry(p: Any, shape_values: np.ndarray | None, w: np.ndarray,
                            x: np.ndarray) -> tuple[tuple[int, ...], tuple[int, int]]:
    """The output shape and the (height, width) paddings of a TRANSPOSE_CONV, as the reference kernel takes them."""
    shape = tuple(output_shape_of(p, shape_values, x.shape[0]))
    pads = (transpose_conv_padding(p.padding, shape[1], w.shape[1], p.stride_h),
            transpose_conv_padding(p.padding, shape[2], w.shape[2], p.stride_w))
    return shape, pads


def transpose_conv_upward(q: UpwardRequantization, shape_values: np.ndarray | None, w: np.ndarray, x: np.ndarray,
                          bias: np.ndarray | None = None) -> np.ndarray:
    """TRANSPOSE_CONV (optimized_ops::TransposeConvV2: GEMM, col2im, then the requantization): uint8 with the x86
    rule on every element (measured), int8 through optimized_ops::Quantize by channel blocks; float32:
    litert_opt_float.transpose_conv_float."""
    p = q.base
    shape, pads = transpose_conv_geometry(p, shape_values, w, x)
    if isinstance(q, litert_opt_float.FloatTransposeConv):
        return litert_opt_float.transpose_conv_float(q, shape, pads, w, x, bias)
    acc = transpose_conv_accumulators(p, shape, pads, w, x, bias)
    if q.output_dtype == np.int8:
        return _requantize_channel_blocks(p, acc, q.output_dtype)
    return _requantize(p, acc, q.output_dtype)


# ------------------------------------------------------------------------------------------------
# QUANTIZE and DEQUANTIZE: NEON blocks (through NEON_2_SSE on x86) and a scalar tail


#: optimized_ops AffineQuantize and Dequantize work in blocks of 8 elements, Requantize in blocks of 16; the
#: ``size % block`` last elements (of the flattened tensor) take the scalar loop.
AFFINE_BLOCK, REQUANTIZE_BLOCK = 8, 16


@dataclass(frozen=True)
class OptimizedQuantize:
    """A per-tensor QUANTIZE (the reference params) as optimized_ops computes it."""

    base: Any


def prepare_quantize(ctx: OpContext, reference_prepare) -> OptimizedQuantize | None:
    params = reference_prepare(ctx)
    x, y = ctx.require_input(0), ctx.output(0)
    if y.quantization.scale.size != 1:
        return None  # per-channel: reference_ops::PerChannelQuantize
    if params.mode == "affine" and y.type_name in ("int8", "uint8", "int16"):
        return OptimizedQuantize(params)
    if params.mode == "requantize" and x.type_name in ("int8", "uint8") and y.type_name in ("int8", "uint8"):
        return OptimizedQuantize(params)
    return None


def _split(size: int, block: int) -> int:
    """How many leading elements the vector loop handles (``for (; i <= size - block; i += block)``)."""
    return size // block * block


def quantize_optimized(q: OptimizedQuantize, x: np.ndarray) -> np.ndarray:
    """optimized_ops.h ``AffineQuantize`` (float input): the vector blocks multiply by ``f32(1.0 / f64(s))`` and
    round half to even (``vcvtnq_s32_f32``); the tail is ``TfLiteRound(f64(x) / f64(s))`` (half away from zero).
    ``Requantize`` (8-bit input): the vector blocks use ``MultiplyByQuantizedMultiplier4Rows`` (ties toward
    +infinity), the tail the reference ``MultiplyByQuantizedMultiplier``. Then ``+ zp`` and the clamp."""
    p = q.base
    qmin, qmax = DTYPE_RANGES[p.output_dtype]
    flat = x.reshape(-1)
    if p.mode == "affine":
        scale = float(np.asarray(p.scale).reshape(()))
        head = _split(flat.size, AFFINE_BLOCK)
        inverse = np.float32(1.0 / scale)
        vector = np.rint((flat[:head].astype(np.float32) * inverse).astype(np.float32)).astype(np.int64)
        tail = cast_to_int32(round_half_away_f64(flat[head:].astype(np.float64) / scale))
        value = np.concatenate([vector, tail]) + int(np.asarray(p.zero_point).reshape(()))
        return np.clip(wrap_int32(value), qmin, qmax).astype(p.output_dtype).reshape(x.shape)
    head = _split(flat.size, REQUANTIZE_BLOCK)
    shifted = flat.astype(np.int64) - p.input_zero_point
    vector = multiply_by_quantized_multiplier_upward(shifted[:head], p.multiplier, p.shift)
    tail = multiply_by_quantized_multiplier(shifted[head:], p.multiplier, p.shift)
    value = np.concatenate([vector, tail]) + p.zero_point
    return np.clip(value, qmin, qmax).astype(p.output_dtype).reshape(x.shape)


@dataclass(frozen=True)
class OptimizedDequantize:
    scale: float  # double
    zero_point: int


def prepare_dequantize(ctx: OpContext, reference_prepare) -> OptimizedDequantize | None:
    reference_prepare(ctx)
    x = ctx.require_input(0)
    q = x.quantization
    if x.type_name not in ("int8", "uint8") or q is None or q.scale.size != 1:
        return None
    return OptimizedDequantize(float(q.scale[0]), int(q.zero_point[0]))


def dequantize_optimized(p: OptimizedDequantize, x: np.ndarray) -> np.ndarray:
    """optimized_ops.h ``Dequantize`` (8-bit): the vector blocks compute ``f32(f32(q) * f32(s)) + f32(-zp * s)``
    in float32 (multiply, then add: no FMA on x86); the tail ``f32(f64(s) * (q - zp))`` as the reference."""
    flat = x.reshape(-1).astype(np.int64)
    head = _split(flat.size, AFFINE_BLOCK)
    offset = np.float32(-p.zero_point * p.scale)
    vector = (flat[:head].astype(np.float32) * np.float32(p.scale)).astype(np.float32) + offset
    tail = (p.scale * (flat[head:] - p.zero_point)).astype(np.float32)
    return np.concatenate([vector.astype(np.float32), tail]).reshape(x.shape)


# ------------------------------------------------------------------------------------------------
# ADD of two same-shape 8-bit tensors: optimized_integer_ops::AddElementwise / optimized_ops::AddElementwise


@dataclass(frozen=True)
class AddElementwise:
    base: Any  # the reference BinaryParams


def prepare_add(ctx: OpContext, reference_prepare) -> AddElementwise | None:
    params = reference_prepare(ctx)
    a, b = ctx.require_input(0), ctx.require_input(1)
    if params.kind != "quantized" or a.type_name not in ("int8", "uint8") or ctx.shape(a) != ctx.shape(b):
        return None  # broadcasting ADD: the optimized broadcast kernels are not emulated (reference)
    return AddElementwise(params)


def _shift_left_or_floor(x: np.ndarray, shift: int) -> np.ndarray:
    """``vshlq_s32`` by a signed count: a wrapping left shift, or a flooring right shift."""
    return wrap_int32(x << shift) if shift >= 0 else x >> -shift


def add_elementwise(q: AddElementwise, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """optimized AddElementwise (8-bit, same shapes): in blocks of 16 each input is shifted left by
    ``20 + input_shift`` at once and multiplied with SRDHM (no rounding divide of its own), the sum by SRDHM then
    gemmlowp's RoundingDivideByPOT (ties away); the ``size % 16`` tail takes the reference rule."""
    p = q.base
    x1 = a.reshape(-1).astype(np.int64) + p.input1_offset
    x2 = b.reshape(-1).astype(np.int64) + p.input2_offset
    head = _split(x1.size, REQUANTIZE_BLOCK)
    v1 = saturating_rounding_doubling_high_mul(_shift_left_or_floor(x1[:head], p.left_shift + p.input1_shift),
                                               p.input1_multiplier)
    v2 = saturating_rounding_doubling_high_mul(_shift_left_or_floor(x2[:head], p.left_shift + p.input2_shift),
                                               p.input2_multiplier)
    vector = rounding_divide_by_pot(saturating_rounding_doubling_high_mul(wrap_int32(v1 + v2), p.output_multiplier),
                                    -p.output_shift)
    t1 = multiply_by_quantized_multiplier(wrap_int32(x1[head:] << p.left_shift), p.input1_multiplier, p.input1_shift)
    t2 = multiply_by_quantized_multiplier(wrap_int32(x2[head:] << p.left_shift), p.input2_multiplier, p.input2_shift)
    tail = multiply_by_quantized_multiplier(wrap_int32(t1 + t2), p.output_multiplier, p.output_shift)
    out = np.concatenate([vector, tail]) + p.output_offset
    return np.clip(out, p.act_min, p.act_max).astype(p.dtype).reshape(p.output_shape)


# ------------------------------------------------------------------------------------------------
# MEAN over height and width (4-D, keep_dims): optimized_integer_ops::Mean / optimized_ops::Mean


@dataclass(frozen=True)
class Mean4D:
    multiplier: int
    shift: int
    bias: int
    qmin: int
    qmax: int


def prepare_mean(ctx: OpContext, reference_prepare) -> Mean4D | None:
    params = reference_prepare(ctx)
    x, y = ctx.require_input(0), ctx.output(0)
    axes = ctx.require_input(1)
    if x.type_name == "float32":  # Eigen's row sums or MeanGeneral<float, float> (litert_opt_float.py)
        return litert_opt_float.prepare_mean_float(params, ctx.shape(x))
    if not params.quantized or x.type_name not in ("int8", "uint8") or not params.keep_dims \
            or len(ctx.shape(x)) != 4 or int(np.prod(ctx.shape(axes))) != 2 or params.axes != (1, 2):
        return None
    input_scale, input_zero_point = per_tensor_qparams(ctx, x, "input")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    count = np.float32(ctx.shape(x)[1] * ctx.shape(x)[2])  # num_elements_in_axis is a float
    # bias = zp_out - static_cast<int32>(zp_in * s_in / s_out): float arithmetic, truncated
    shifted = np.float32(np.float32(np.float32(input_zero_point) * np.float32(input_scale)) / np.float32(output_scale))
    bias = output_zero_point - int(np.trunc(shifted))
    real_scale = np.float32(np.float32(input_scale) / np.float32(count * np.float32(output_scale)))
    multiplier, shift = quantize_multiplier(float(real_scale))
    qmin, qmax = DTYPE_RANGES[x.dtype]
    return Mean4D(multiplier, shift, bias, qmin, qmax)


def mean_4d(p: Mean4D | litert_opt_float.FloatMean, x: np.ndarray, axes: np.ndarray | None = None) -> np.ndarray:
    """The optimized 4-D MEAN over axes 1 and 2 (keep_dims): ``S = sum q`` (no zero point removed) per batch and
    channel; channels in blocks of 16 take MultiplyByQuantizedMultiplier4Rows (ties toward +infinity), the
    remaining ``depth % 16`` the reference MultiplyByQuantizedMultiplier; ``+ bias``, clamp. (One thread: LiteRT's
    default; with several threads each thread's channel range has its own blocks.) float32:
    litert_opt_float.mean_float."""
    if isinstance(p, litert_opt_float.FloatMean):
        return litert_opt_float.mean_float(p, x)
    sums = x.astype(np.int64).sum(axis=(1, 2))  # [batch, depth]
    head = _split(sums.shape[1], REQUANTIZE_BLOCK)
    scaled = np.concatenate([multiply_by_quantized_multiplier_upward(sums[:, :head], p.multiplier, p.shift),
                             multiply_by_quantized_multiplier(sums[:, head:], p.multiplier, p.shift)], axis=1)
    out = np.clip(scaled + p.bias, p.qmin, p.qmax).astype(x.dtype)
    return out.reshape(x.shape[0], 1, 1, x.shape[3])


# ------------------------------------------------------------------------------------------------
# SOFTMAX (8-bit input): a float lookup table


@dataclass(frozen=True)
class SoftmaxTable:
    table: np.ndarray  # float32 [256]: table[255 - v] = expf(f32(-s_in * beta) * v)
    output_scale: np.float32
    output_zero_point: int
    output_dtype: np.dtype


def prepare_softmax(ctx: OpContext, reference_prepare) -> SoftmaxTable | None:
    params = reference_prepare(ctx)
    x, y = ctx.require_input(0), ctx.output(0)
    if not params.quantized:  # float32: optimized_ops::Softmax's Eigen order (litert_opt_float.py)
        return litert_opt_float.prepare_softmax_float(params)
    if x.type_name not in ("int8", "uint8"):
        return None
    input_scale, _ = per_tensor_qparams(ctx, x, "input")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    scale = np.float32(-np.float32(input_scale) * np.float32(params.beta))
    values = np.arange(256, dtype=np.int64)
    table = np.empty(256, np.float32)
    table[255 - values] = expf((scale * values.astype(np.float32)).astype(np.float32))
    return SoftmaxTable(table, np.float32(output_scale), output_zero_point, y.dtype)


def softmax_table(p: SoftmaxTable | litert_opt_float.FloatSoftmax, x: np.ndarray) -> np.ndarray:
    """optimized_ops.h ``Softmax`` (8-bit, PopulateSoftmaxLookupTable): per row, ``sum`` of
    ``table[255 - (max - q)]`` added in order in float32, ``inv = 1 / f32(sum * s_out)``, ``p = f32(e * inv)``;
    the output is ``(int)(p + 0.5f)`` for uint8 (x86 build) and ``round(p) + zp`` (half away) otherwise.
    float32: litert_opt_float.softmax_float."""
    if isinstance(p, litert_opt_float.FloatSoftmax):
        return litert_opt_float.softmax_float(p, x)
    rows = x.reshape(-1, x.shape[-1]).astype(np.int64)
    exps = p.table[255 - (rows.max(axis=1, keepdims=True) - rows)]
    total = np.zeros(rows.shape[0], np.float32)
    for j in range(rows.shape[1]):  # sequential float32 sum
        total = (total + exps[:, j]).astype(np.float32)
    inverse = (np.float32(1.0) / (total * p.output_scale).astype(np.float32)).astype(np.float32)
    probabilities = (exps * inverse[:, None]).astype(np.float32)
    if p.output_dtype == np.uint8:
        quantized = (probabilities + np.float32(0.5)).astype(np.float32).astype(np.int64)
    else:
        quantized = cast_to_int32(round_half_away_f32(probabilities)) + p.output_zero_point
    qmin, qmax = DTYPE_RANGES[p.output_dtype]
    return np.clip(quantized, qmin, qmax).astype(p.output_dtype).reshape(x.shape)


_UPWARD = "SRDHM, then a rounding right shift with ties toward +inf (ruy x86 / MultiplyByQuantizedMultiplier4Rows)"

TABLE: dict[str, EmulatedOp] = {
    "CONV_2D": EmulatedOp(_conv_rule, conv2d_upward, _UPWARD + " (groups 1; grouped: reference); float32: "
                          "im2col, Eigen's SSE GEMM order, then bias and clamp; hybrid per channel: "
                          "f32(f32(acc) * f32(s_w * s_in)) + bias (litert_opt_hybrid.py)"),
    "DEPTHWISE_CONV_2D": EmulatedOp(_depthwise_rule, depthwise_conv2d_upward,
                                    "blocks of 8 channels: " + _UPWARD + "; the rest: reference; float32: from "
                                    "the bias, the taps (ky, kx) inside the image, f32(acc + f32(x w)); hybrid: "
                                    "channel blocks of 4 acc * s_w * s_in, the rest acc * s_in * s_w"),
    "FULLY_CONNECTED": EmulatedOp(_fully_connected_rule, fully_connected_upward,
                                  _UPWARD + "; float32: Eigen's SSE GEMM order, then bias and clamp"),
    "TRANSPOSE_CONV": EmulatedOp(_transpose_conv_rule, transpose_conv_upward,
                                 "uint8: " + _UPWARD + "; int8: blocks of 8 channels so, the rest: reference; "
                                 "float32: Eigen's GEMM, Col2im from 0 in input-pixel order, then the bias"),
    "QUANTIZE": EmulatedOp(prepare_quantize, quantize_optimized,
                           "blocks: x * f32(1/s) half to even, or MultiplyByQuantizedMultiplier4Rows; tail: reference"),
    "ADD": EmulatedOp(prepare_add, add_elementwise, "same shapes, blocks of 16: the input shift folded into one "
                      "left shift, SRDHM; tail: reference"),
    "MEAN": EmulatedOp(prepare_mean, mean_4d, "4-D over H and W (keep_dims): float bias, blocks of 16 channels "
                       "with MultiplyByQuantizedMultiplier4Rows, tail: reference; float32: a trailing reduced block: "
                       "Eigen's row sum (SSE redux) / f32(L); else from the first element in order, / f32(N)"),
    "SOFTMAX": EmulatedOp(prepare_softmax, softmax_table, "8-bit: a float lookup table (optimized_ops Softmax); "
                          "float32: Eigen's row max, f32(f32(x - max) * beta), SSE pexp (tail: expf), row sum, "
                          "e * (1 / sum)"),
    "LOGISTIC": EmulatedOp(litert_opt_float.prepare_logistic_float, litert_opt_float.logistic_float,
                           "float32: Eigen's scalar_logistic_op, SSE packets of 4: (2^m p(r))^2 / (1 + ...); "
                           "tail: expf(min(x, 16.635532)) / (1 + e)"),
    "LOG_SOFTMAX": EmulatedOp(litert_opt_float.prepare_log_softmax_float, litert_opt_float.log_softmax_float,
                              "float32: Eigen's row max, the sum of the lazy exp(x - max) (SSE pexp packets from "
                              "the row start, expf for the rest), logf, (x - max) - log_sum"),
    "RESIZE_BILINEAR": EmulatedOp(litert_opt_float.prepare_resize_bilinear_float,
                                  litert_opt_float.resize_bilinear_float,
                                  "float32: 2x upsampling: (a + b) * 0.5 and (bl + (c + d) * 0.5) * 0.5; else from 0, "
                                  "out += v * f32(wy * wx) for (y0,x0), (y0,x1), (y1,x0), (y1,x1)"),
    "TANH": EmulatedOp(litert_opt_float.prepare_tanh_float, litert_opt_float.tanh_float,
                       "float32: Eigen's ptanh_float (clamp 7.9073896, rational 9/8) on every element"),
    "HARD_SWISH": EmulatedOp(litert_opt_float.prepare_hard_swish_float, litert_opt_float.hard_swish_float,
                             "float32: blocks of 4: f32(f32(x * f32(1/6)) * relu6(x + 3)); tail: "
                             "f32(f32(x * relu6(x + 3)) * f32(1/6))"),
    "DEQUANTIZE": EmulatedOp(prepare_dequantize, dequantize_optimized,
                             "blocks of 8: f32(q * s) + f32(-zp * s); tail: reference"),
}

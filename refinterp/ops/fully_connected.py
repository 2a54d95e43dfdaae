"""FULLY_CONNECTED: int8 (per-tensor or per-channel weights), int16x8, uint8, hybrid (float32 with int8/uint8 weights),
float32.

Layout: weights ``[units, depth]``; the input is read as ``[numel / depth, depth]`` rows; bias ``[units]``
(optional: absent as a missing third input or as index -1). The output is ``[rows, units]``, or with
``keep_num_dims`` the input's shape with the last dimension replaced by ``units``.

int8 accumulation (``reference_integer_ops::FullyConnected`` / ``FullyConnectedPerChannel``), per row b and
unit u, in int32 (wrapping)::

    acc = sum_d (w[u, d] - zp_w) * (x[b, d] - zp_in) + bias[u]

where ``zp_w`` is the weight zero point for per-tensor weights (the per-tensor kernel subtracts it, "for
backward compatibility") and 0 for per-channel weights (the per-channel kernel ignores it).

The requantization is where the two profiles differ by design:

* ``litert-ref`` (LiteRT BUILTIN_REF since TF 2.20 / ai-edge-litert 2.3.0, "do requant in float")::

      y = clamp(int32(round(f64(acc) * (f64(s_in) * f64(s_w[u]) / f64(s_out)))) + zp_out, act_min, act_max)

  with C ``round`` (half away from zero) and the double product for per-tensor weights too.
* ``tflm`` (TFLite Micro, double rounding)::

      y = clamp(MultiplyByQuantizedMultiplier(acc, M, shift) + zp_out, act_min, act_max)

  with ``M, shift = QuantizeMultiplier(f64(f32(s_in * s_w)) / f64(s_out))`` for per-tensor weights (the
  product is float32: GetQuantizedConvolutionMultipler) and ``QuantizeMultiplier(f64(s_in) * f64(s_w[u]) /
  f64(s_out))`` per channel.

Prepare: LiteRT allows only the NONE/RELU/RELU_N1_TO_1/RELU6 activations, TFLM any (TANH and SIGN_BIT then
clamp nothing); in both, per-tensor weights with a bias need ``|f64(s_in)*f64(s_w) - f64(s_bias)| / f64(s_out)
<= 0.02``.

int16x8 rule (int16 input and output with zero point 0, int8 weights, an int32 or int64 bias or none;
``reference_integer_ops::FullyConnected`` / ``FullyConnectedPerChannel`` with int16 data): the int8 accumulation
(per-tensor weights subtract their zero point, per-channel ones ignore it) in the accumulator the runtime picks as
CONV_2D's int16 rule does (``conv.int16_accumulator_bits``: LiteRT by the options' quantized_bias_type, INT32 ->
int32 wrapping, INT64 or unset -> int64; TFLM by the bias type, int32 -> int32, int64 or none -> int64), then

* ``litert-ref``: the float requantization of the int8 rule, ``y = clamp(int32(round(f64(acc) * effective_scale)))``;
* ``tflm``: MultiplyByQuantizedMultiplier, its int32 form for the int32 accumulator and its int64 form
  (``refinterp.quant.multiply_by_quantized_multiplier_int64``) for the int64 one, multipliers as for int8.

float32 rule (``reference_ops::FullyConnected``): ``total`` starts at 0.0f and adds ``x[b, d] * w[u, d]`` in
float32 for d = 0, 1, ...; then ``clamp(total + bias[u])``.

uint8 rule (``reference_ops::FullyConnected`` for uint8, LiteRT only; uint8 input and weights, uint8 or int16
output): the int8 per-tensor accumulation with the weight zero point subtracted, and the same float requant::

    y = clamp(int32(round(f64(acc) * (f64(s_in) * f64(s_w) / f64(s_out)))) + zp_out, act_min, act_max)

(the int16 output clamps to ``[act_min - zp_out, act_max - zp_out]`` before adding ``zp_out``; its bias is
required: the kernel starts the sum from it). Per-channel scales fail Prepare; the 2% bias-scale check holds.

hybrid rule (float32 input and output, int8 weights, uint8 weights read as int8; ``EvalHybridDense``, LiteRT
only; the quantization and dot-product rules are in ``refinterp/ops/hybrid.py``), per row b of the input:

* an input of all zeros (NeonIsZeroVector over the whole tensor) outputs the bias (or 0), then the activation;
* otherwise the row is quantized, symmetrically or (``asymmetric_quantize_inputs``) asymmetrically: q_b,
  scale_b, zp_b; per-tensor weights fold ``scale_b = f32(scale_b * s_w[0])``;
* ``dot = sse_dot(w[u], q_b) - zp_b * row_sum[u]`` in int32 (SSE sign trick, int16 row-sum lanes);
* ``y = f32(bias[u] + f32(f32(dot) * row_scale))`` with ``row_scale = f32(s_w[u] * scale_b)`` per channel,
  ``scale_b`` per tensor; then the activation (``ApplyActivationToVector``): RELU ``max(0, y)``, RELU_N1_TO_1
  ``max(-1, min(y, 1))``, RELU6 ``max(0, min(y, 6))`` with std::max/min (so -0.0 and NaN become +0.0 under
  RELU), SIGN_BIT ``signbit(y) ? 1 : 0``, none for NONE (an infinity stays). Any activation passes LiteRT's
  Prepare for a hybrid model; TANH goes through Eigen's tanh, which refinterp does not have.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from refinterp.ops.common import (
    OpContext,
    bias_channel_scale,
    conv_scales,
    per_tensor_qparams,
    per_tensor_qparams_or_identity,
)
from refinterp.ops.conv import (
    bias_scale_of,
    explain_float_output,
    int16_accumulator_bits,
    int16_requantization_checks,
    legacy_uint8_multiplier,
)
from refinterp.ops.hybrid import hybrid_weights, is_zero_vector, quantize_rows, sse_dot, sse_row_sums
from refinterp.quant import (
    ACT_NONE,
    ACT_RELU,
    ACT_RELU6,
    ACT_RELU_N1_TO_1,
    ACT_SIGN_BIT,
    activation_range,
    activation_range_float,
    cast_to_int32,
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_int64,
    quantize_multiplier,
    round_half_away_f64,
    wrap_int32,
)


@dataclass(frozen=True)
class FullyConnectedParams:
    depth: int
    units: int
    output_shape: tuple[int, ...]
    quantized: bool
    float_requant: bool = False  # litert-ref: round(f64(acc) * effective_scale); tflm: MBQM
    input_zero_point: int = 0
    weight_zero_point: int = 0  # subtracted for per-tensor weights only
    output_zero_point: int = 0
    effective_scale: np.ndarray | None = None  # float64 [units]: f64(s_in) * f64(s_w[u]) / f64(s_out)
    output_multiplier: np.ndarray | None = None  # int64 [units], Q31
    output_shift: np.ndarray | None = None  # int64 [units]
    act_min: float = 0
    act_max: float = 0
    kind: str = ""  # "float32", "int8", "uint8", "hybrid"; "" = int8 when quantized, else float32
    output_dtype: np.dtype = np.dtype(np.int8)  # the integer kernels' output type (int8, uint8, int16)
    filter_scales: np.ndarray | None = None  # hybrid per-channel: float32 [units]; per-tensor: [s_w[0]]
    asymmetric: bool = False  # hybrid: asymmetric_quantize_inputs
    activation: int = 0  # hybrid: the fused activation, applied by ApplyActivationToVector
    accumulator_bits: int = 32  # int16: 32 (int32 bias: wraps) or 64 (int64 bias or, under TFLM, none)

    @property
    def rule(self) -> str:
        return self.kind or ("int8" if self.quantized else "float32")


HYBRID_ACTIVATIONS = (ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6, ACT_SIGN_BIT)


def prepare_fully_connected(ctx: OpContext) -> FullyConnectedParams:
    ctx.check_inputs(2, 3)
    x, w, bias, y = ctx.require_input(0), ctx.require_input(1), ctx.input(2), ctx.output(0)
    ctx.check_dtype(x, ("int8", "uint8", "int16", "float32"), "input")
    o = ctx.options
    activation = int(o.get("fused_activation_function", 0))
    hybrid = x.type_name == "float32" and w.type_name in ("int8", "uint8", "int4", "int2")
    if (activation not in (ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6) and ctx.profile == "litert-ref"
            and not hybrid):
        # LiteRT's Prepare allows only the clipping activations (any for a hybrid model); TFLM takes any and
        # leaves TANH and SIGN_BIT unclamped (CalculateActivationRange has no case for them).
        raise ctx.fail(f"fused activation {activation} is not supported (only NONE, RELU, RELU_N1_TO_1, RELU6)")
    if int(o.get("weights_format", 0)) != 0:
        if x.type_name == "uint8" and w.type_name == "uint8" and y.type_name == "int16":
            raise ctx.unsupported("shuffled weights (SHUFFLED4x16INT8)")
        raise ctx.fail("shuffled weights (SHUFFLED4x16INT8) need uint8 input and int16 output")
    if len(ctx.op.outputs) != 1:
        raise ctx.fail(f"has {len(ctx.op.outputs)} outputs, expected 1")
    x_shape, w_shape = ctx.shape(x), ctx.shape(w)
    if len(w_shape) != 2:
        raise ctx.fail(f"weights must be 2-D, got {list(w_shape)}")
    units, depth = w_shape
    numel = math.prod(x_shape)
    if depth == 0 or numel % depth:
        raise ctx.unsupported(f"input of {numel} elements does not split into rows of depth {depth}")
    rows = numel // depth
    keep_num_dims = bool(o.get("keep_num_dims", False))
    if keep_num_dims:
        if not x_shape or x_shape[-1] != depth:
            raise ctx.fail(f"keep_num_dims needs the input's last dimension to be {depth}, got {list(x_shape)}")
        output_shape = (*x_shape[:-1], units)
    else:
        output_shape = (rows, units)
    if bias is not None and math.prod(ctx.shape(bias)) != units:
        raise ctx.fail(f"bias has {math.prod(ctx.shape(bias))} elements, expected {units}")

    if hybrid:
        return _prepare_hybrid(ctx, w, bias, y, depth, units, output_shape, activation)
    if x.type_name == "uint8":
        return _prepare_uint8(ctx, x, w, bias, y, depth, units, output_shape, activation)
    if x.type_name == "float32":
        if w.type_name != "float32" or y.type_name != "float32":
            raise ctx.unsupported(f"float32 input with {w.type_name} weights and {y.type_name} output")
        if bias is not None and bias.type_name != "float32":
            raise ctx.fail(f"float32 fully connected with {bias.type_name} bias")
        lo, hi = activation_range_float(activation)
        return FullyConnectedParams(depth, units, output_shape, quantized=False, act_min=lo, act_max=hi)

    if x.type_name == "int16":
        return _prepare_int16(ctx, x, w, bias, y, depth, units, output_shape, activation)
    if w.type_name != "int8":
        raise ctx.unsupported(f"int8 input with {w.type_name} weights")
    if y.type_name != "int8":
        raise ctx.unsupported(f"int8 input with {y.type_name} output")
    if bias is not None and bias.type_name != "int32":
        raise ctx.unsupported(f"int8 fully connected with {bias.type_name} bias")
    input_scale, input_zero_point = per_tensor_qparams(ctx, x, "input")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    weight_zero_point, multipliers, shifts, effective = _int8_weight_requantization(ctx, w, bias, units,
                                                                                     input_scale, output_scale)
    act_min, act_max = activation_range(activation, output_scale, output_zero_point, np.int8)
    return FullyConnectedParams(
        depth, units, output_shape, quantized=True, float_requant=ctx.profile == "litert-ref",
        input_zero_point=input_zero_point, weight_zero_point=weight_zero_point,
        output_zero_point=output_zero_point, effective_scale=effective, output_multiplier=multipliers,
        output_shift=shifts, act_min=act_min, act_max=act_max, kind="int8")


def _int8_weight_requantization(ctx: OpContext, w, bias, units: int, input_scale: float,
                                output_scale: float) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """int8 weights (fully_connected.cc Prepare): (weight zero point, QuantizeMultiplier of ``s_in * s_w / s_out``
    per unit as multipliers and shifts, that real multiplier per unit in double). Per-channel scales on dimension
    0 have zero point 0; per-tensor ones take the f32 product ``s_in * s_w`` and GetQuantizedConvolutionMultipler's
    bias check, computed once (the units may come from a weights input's shape: 2^31 of them)."""
    wq = w.quantization
    if wq is None:
        raise ctx.fail("int8 weights are not quantized")
    if wq.per_channel:
        if wq.quantized_dimension != 0 or wq.scale.size != units:
            raise ctx.unsupported(f"per-channel weights must have {units} scales on dimension 0")
        weight_zero_point = 0
        effective = np.array([float(input_scale) * float(s) / float(output_scale) for s in wq.scale], np.float64)
        multipliers, shifts = (np.array(column, np.int64)
                               for column in zip(*(quantize_multiplier(float(e)) for e in effective)))
        return weight_zero_point, multipliers, shifts, effective
    weight_scale = float(wq.scale[0])
    weight_zero_point = int(wq.zero_point[0])
    if bias is not None:
        # GetQuantizedConvolutionMultipler: the bias scale must match s_in * s_w, within 2% of s_out. It reads
        # bias->params.scale: 0 for an unquantized bias and for one with several scales (GetLegacyQuantization)
        bias_scale = per_tensor_qparams_or_identity(bias)[0]
        if abs(input_scale * weight_scale - bias_scale) / output_scale > 0.02:
            raise ctx.fail(f"bias scale {bias_scale:g} does not match input scale x weight scale "
                           f"{input_scale * weight_scale:g} (TFLite allows 2% of the output scale)")
    product_f32 = float(np.float32(input_scale) * np.float32(weight_scale))
    multiplier, shift = quantize_multiplier(product_f32 / float(output_scale))
    effective = np.full(units, float(input_scale) * weight_scale / float(output_scale), np.float64)
    return weight_zero_point, np.full(units, multiplier, np.int64), np.full(units, shift, np.int64), effective


def _prepare_int16(ctx: OpContext, x, w, bias, y, depth: int, units: int, output_shape: tuple[int, ...],
                   activation: int) -> FullyConnectedParams:
    """int16x8 (see the module docstring): fully_connected.cc CheckTypes and Prepare."""
    if y.type_name != "int16":
        raise ctx.unsupported(f"int16 input with {y.type_name} output (LiteRT would read the input as {y.type_name})")
    if w.type_name != "int8":
        raise ctx.unsupported(f"int16 input with {w.type_name} weights (refinterp has the 16x8 rule: int8 weights)")
    bits = int16_accumulator_bits(ctx, bias, "fully connected")
    input_scale, _ = per_tensor_qparams(ctx, x, "input")
    output_scale, _ = per_tensor_qparams(ctx, y, "output")
    wq = w.quantization
    if wq is not None and wq.per_channel and wq.scale.size != ctx.shape(w)[wq.quantized_dimension]:
        raise ctx.fail(f"{wq.scale.size} weight scales for dimension {wq.quantized_dimension} of size "
                       f"{ctx.shape(w)[wq.quantized_dimension]}")
    weight_zero_point, multipliers, shifts, effective = _int8_weight_requantization(ctx, w, bias, units,
                                                                                     input_scale, output_scale)
    float_requant = ctx.profile == "litert-ref"
    int16_requantization_checks(ctx, x, y, shifts, 32 if float_requant else bits)
    act_min, act_max = activation_range(activation, output_scale, 0, np.int16)
    return FullyConnectedParams(
        depth, units, output_shape, quantized=True, float_requant=float_requant,
        weight_zero_point=weight_zero_point, effective_scale=effective,
        output_multiplier=multipliers, output_shift=shifts, act_min=act_min, act_max=act_max, kind="int16",
        output_dtype=np.dtype(np.int16), accumulator_bits=bits)


def _prepare_uint8(ctx: OpContext, x, w, bias, y, depth: int, units: int, output_shape: tuple[int, ...],
                   activation: int) -> FullyConnectedParams:
    if ctx.profile == "tflm":
        raise ctx.fail("uint8 input: TFLM's FULLY_CONNECTED has no uint8 kernel")
    if y.type_name not in ("uint8", "int16"):
        raise ctx.unsupported(f"uint8 input with {y.type_name} output (LiteRT would read the input as int8)")
    if w.type_name != "uint8":
        raise ctx.unsupported(f"uint8 input with {w.type_name} weights (the uint8 kernel reads them as uint8)")
    if bias is not None and bias.type_name not in ("int32", "int64"):
        raise ctx.fail(f"uint8 fully connected with {bias.type_name} bias (TFLite requires int32)")
    if bias is not None and bias.type_name != "int32":
        raise ctx.unsupported("uint8 fully connected with an int64 bias (LiteRT would read it as int32)")
    if y.type_name == "int16" and bias is None:
        raise ctx.unsupported("uint8 input with int16 output and no bias (LiteRT's kernel reads the bias anyway)")
    input_scale, input_zero_point = per_tensor_qparams(ctx, x, "input")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    wq = w.quantization
    if wq is None:
        raise ctx.fail("uint8 weights are not quantized")
    if wq.scale.size > 1:
        raise ctx.fail("per-channel weight scales need an int8 or int16 input")
    weight_scale = float(wq.scale[0])
    multiplier, shift = legacy_uint8_multiplier(ctx, input_scale, weight_scale, output_scale, bias_scale_of(bias))
    output_dtype = np.dtype(np.uint8) if y.type_name == "uint8" else np.dtype(np.int16)
    act_min, act_max = activation_range(activation, output_scale, output_zero_point, output_dtype)
    effective = np.full(units, float(input_scale) * weight_scale / float(output_scale), dtype=np.float64)
    return FullyConnectedParams(
        depth, units, output_shape, quantized=True, float_requant=True, input_zero_point=input_zero_point,
        weight_zero_point=int(wq.zero_point[0]), output_zero_point=output_zero_point, effective_scale=effective,
        output_multiplier=np.full(units, multiplier, np.int64), output_shift=np.full(units, shift, np.int64),
        act_min=act_min, act_max=act_max, kind="uint8", output_dtype=output_dtype)


def _prepare_hybrid(ctx: OpContext, w, bias, y, depth: int, units: int, output_shape: tuple[int, ...],
                    activation: int) -> FullyConnectedParams:
    if ctx.profile == "tflm":
        raise ctx.fail(f"float32 input with {w.type_name} weights: TFLM does not run hybrid models")
    if w.type_name not in ("int8", "uint8"):
        raise ctx.unsupported(f"hybrid fully connected with {w.type_name} weights")
    if y.type_name != "float32":
        raise ctx.fail(f"hybrid fully connected with {y.type_name} output (TFLite requires float32)")
    if bias is not None and bias.type_name != "float32":
        raise ctx.fail(f"hybrid fully connected with {bias.type_name} bias (TFLite requires float32)")
    if activation not in HYBRID_ACTIVATIONS:
        raise ctx.unsupported(f"hybrid fused activation {activation} (LiteRT applies it with Eigen's tanh/logistic)")
    wq = w.quantization
    if wq is None:
        raise ctx.unsupported(f"hybrid fully connected with unquantized {w.type_name} weights")
    scales = np.asarray(wq.scale, dtype=np.float32)
    if scales.size > 1:  # VerifyPerChannelQuantization: more than one scale is per-channel
        if scales.size != ctx.shape(w)[wq.quantized_dimension]:
            raise ctx.fail(f"{scales.size} weight scales for dimension {wq.quantized_dimension} of size "
                           f"{ctx.shape(w)[wq.quantized_dimension]}")
        if wq.quantized_dimension != 0:
            raise ctx.unsupported("per-channel hybrid weight scales on dimension 1 (LiteRT indexes them by unit)")
    lo, hi = activation_range_float(activation) if activation != ACT_SIGN_BIT else (0.0, 0.0)
    return FullyConnectedParams(depth, units, output_shape, quantized=False, act_min=lo, act_max=hi, kind="hybrid",
                                output_dtype=np.dtype(np.float32), filter_scales=scales,
                                asymmetric=bool(ctx.options.get("asymmetric_quantize_inputs", False)),
                                activation=activation)


# ------------------------------------------------------------------------------------------------
# Spec kernel: readable NumPy


def fully_connected_spec(p: FullyConnectedParams, x: np.ndarray, w: np.ndarray,
                         bias: np.ndarray | None = None) -> np.ndarray:
    rows = x.reshape(-1, p.depth)
    if p.rule == "hybrid":
        return fully_connected_hybrid(p, rows, w, bias, hybrid_dot(p, w)).reshape(p.output_shape)
    if p.rule == "uint8":
        return _fully_connected_uint8(p, rows, w, bias).reshape(p.output_shape)
    if p.rule == "int16":
        acc = rows.astype(np.int64) @ (w.astype(np.int64) - p.weight_zero_point).T  # exact in int64
        if bias is not None:
            acc = acc + bias.astype(np.int64).reshape(-1)
        return requantize_int16(p, acc).reshape(p.output_shape)
    if p.quantized:
        xs = rows.astype(np.int64) - p.input_zero_point
        ws = w.astype(np.int64) - p.weight_zero_point
        acc = xs @ ws.T  # integer sums are exact in any order
        if bias is not None:
            acc = acc + bias.astype(np.int64)
        acc = wrap_int32(acc)  # the C++ accumulator is int32
        if p.float_requant:
            scaled = cast_to_int32(round_half_away_f64(acc.astype(np.float64) * p.effective_scale))
        else:
            scaled = multiply_by_quantized_multiplier(acc, p.output_multiplier, p.output_shift)
        out = wrap_int32(scaled + p.output_zero_point)
        return np.clip(out, p.act_min, p.act_max).astype(np.int8).reshape(p.output_shape)

    rows = rows.astype(np.float32)
    total = np.zeros((rows.shape[0], p.units), dtype=np.float32)
    for d in range(p.depth):
        # one float32 multiply and one add per step, in reference_ops::FullyConnected's order
        total += rows[:, d:d + 1] * w[:, d]
    if bias is not None:
        total = total + bias.astype(np.float32).reshape(-1)
    out = np.minimum(np.maximum(total, np.float32(p.act_min)), np.float32(p.act_max))
    return out.astype(np.float32).reshape(p.output_shape)


def requantize_int16(p: FullyConnectedParams, acc: np.ndarray) -> np.ndarray:
    """The int16x8 rule after the exact int64 sums (bias included): the accumulator's width, then the profile's
    requantization and the clamp (the output zero point is 0)."""
    if p.accumulator_bits == 32:
        acc = wrap_int32(acc)
    if p.float_requant:
        scaled = cast_to_int32(round_half_away_f64(acc.astype(np.float64) * p.effective_scale))
    elif p.accumulator_bits == 32:
        scaled = multiply_by_quantized_multiplier(acc, p.output_multiplier, p.output_shift)
    else:
        scaled = multiply_by_quantized_multiplier_int64(acc, p.output_multiplier, p.output_shift)
    return np.clip(scaled, p.act_min, p.act_max).astype(np.int16)


def _fully_connected_uint8(p: FullyConnectedParams, rows: np.ndarray, w: np.ndarray,
                           bias: np.ndarray | None) -> np.ndarray:
    """reference_ops::FullyConnected for uint8 (float requant; uint8 or int16 output)."""
    acc = (rows.astype(np.int64) - p.input_zero_point) @ (w.astype(np.int64) - p.weight_zero_point).T
    return requantize_uint8(p, acc, bias)


def requantize_uint8(p: FullyConnectedParams, acc: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """The uint8 rule after the sums: bias, int32 wrap, float requant, output offset and clamp."""
    if bias is not None:
        acc = acc + bias.astype(np.int64).reshape(-1)
    acc = wrap_int32(acc)
    scaled = cast_to_int32(round_half_away_f64(acc.astype(np.float64) * p.effective_scale))
    if p.output_dtype == np.uint8:
        return np.clip(wrap_int32(scaled + p.output_zero_point), p.act_min, p.act_max).astype(np.uint8)
    # the int16 variant clamps before adding the output offset
    clamped = np.clip(scaled, p.act_min - p.output_zero_point, p.act_max - p.output_zero_point)
    return wrap_int32(clamped + p.output_zero_point).astype(np.int16)


def hybrid_dot(p: FullyConnectedParams, w: np.ndarray):
    """The dot-product function of the hybrid rule: ``q [rows, depth] -> int32 [rows, units]`` (sse_dot)."""
    weights = hybrid_weights(w).reshape(p.units, p.depth)
    return lambda q: sse_dot(weights, q)


def fully_connected_hybrid(p: FullyConnectedParams, rows: np.ndarray, w: np.ndarray, bias: np.ndarray | None,
                           dot) -> np.ndarray:
    """EvalHybridDense (see the module docstring); ``dot(q)`` gives the int32 sums (spec: sse_dot)."""
    rows = rows.astype(np.float32)
    out = np.zeros((rows.shape[0], p.units), np.float32)
    if bias is not None:
        out[:] = bias.astype(np.float32).reshape(-1)
    if not is_zero_vector(rows):
        q, input_scales, zero_points = quantize_rows(rows, p.asymmetric)
        if p.filter_scales.size > 1:  # per_channel_scale[row] * batch_scaling_factor
            row_scale = (p.filter_scales[None, :] * input_scales[:, None]).astype(np.float32)
        else:  # scaling_factors[b] *= filter->params.scale
            row_scale = (input_scales * p.filter_scales[0]).astype(np.float32)[:, None]
        sums = dot(q)
        if p.asymmetric:
            row_sums = sse_row_sums(hybrid_weights(w).reshape(p.units, p.depth))
            sums = wrap_int32(sums - wrap_int32(zero_points[:, None] * row_sums[None, :]))
        with np.errstate(over="ignore", invalid="ignore"):
            out = (out + (sums.astype(np.float32) * row_scale).astype(np.float32)).astype(np.float32)
    return apply_activation_to_vector(out, p.activation)


def apply_activation_to_vector(v: np.ndarray, activation: int) -> np.ndarray:
    """tensor_utils::ApplyActivationToVector with std::max/std::min: ``max(a, b) = a < b ? b : a``."""
    v = np.asarray(v, dtype=np.float32)
    zero, one, six = np.float32(0.0), np.float32(1.0), np.float32(6.0)
    with np.errstate(invalid="ignore"):
        if activation == ACT_RELU:
            return np.where(zero < v, v, zero).astype(np.float32)
        if activation == ACT_RELU6:
            low = np.where(six < v, six, v)
            return np.where(zero < low, low, zero).astype(np.float32)
        if activation == ACT_RELU_N1_TO_1:
            low = np.where(one < v, one, v)
            return np.where(-one < low, low, -one).astype(np.float32)
        if activation == ACT_SIGN_BIT:
            return np.signbit(v).astype(np.float32)
    return v


# ------------------------------------------------------------------------------------------------
# explain: one output element, step by step (``refinterp explain``; refinterp/ops/trace.py)


def explain_fully_connected(ctx: OpContext, p: FullyConnectedParams, inputs: list, index: tuple[int, ...],
                            trace) -> object:
    """FULLY_CONNECTED output ``index``: row b (the input read as [rows, depth]) times unit u's weights; the
    int8 / int16x8 / uint8 rules of the module docstring (litert-ref: requant in float; tflm: MBQM)."""
    if p.rule not in ("int8", "int16", "uint8", "float32"):
        raise trace.not_detailed(f"the {p.rule} rule")
    x, w, bias = inputs[0], inputs[1], inputs[2] if len(inputs) > 2 else None
    flat = int(np.ravel_multi_index(index, p.output_shape))
    row, unit = divmod(flat, p.units)
    if p.rule == "float32":
        rows = x.reshape(-1, p.depth)
        trace.add("output element", [row, unit], f"row {row} of the input (read as [{rows.shape[0]}, {p.depth}]) "
                  f"times the weights of unit {unit}")
        total = trace.float_dot([(d,) for d in range(p.depth)], ("k",), rows[row], w[unit], what="input row")
        return explain_float_output(trace, total, None if bias is None else np.asarray(bias).reshape(-1)[unit],
                                    f"bias[{unit}]", p.act_min, p.act_max,
                                    float(np.dot(rows[row].astype(np.float64), w[unit].astype(np.float64))))
    input_scale, output_scale, filter_scale = conv_scales(ctx, unit)
    wq = ctx.require_input(1).quantization
    trace.add("output element", [row, unit], f"output {list(index)} is row {row} of the input (read as "
              f"[{x.size // p.depth}, {p.depth}]) times the weights of unit {unit}")
    rows = x.reshape(-1, p.depth)
    total, real = trace.dot([(d,) for d in range(p.depth)], ("k",), rows[row], p.input_zero_point, input_scale,
                            w[unit], p.weight_zero_point, filter_scale, what="input row")
    total, real = trace.bias(total, real, None if bias is None else np.asarray(bias).reshape(-1)[unit],
                             bias_channel_scale(ctx.input(2), unit), input_scale * filter_scale, f"bias[{unit}]")
    if p.rule != "int16" or p.accumulator_bits == 32:
        total = trace.wrap(total)
    if p.float_requant:
        scaled = trace.float_requant(total, float(p.effective_scale[unit] if np.ndim(p.effective_scale) else
                                                  p.effective_scale),
                                     f"f64(s_in) * f64(s_w[{unit}]) / f64(s_out) (LiteRT's FULLY_CONNECTED requantizes "
                                     "in double since TF 2.20, not with MultiplyByQuantizedMultiplier)")
    else:
        multiplier, shift = trace.conv_multiplier(
            input_scale, filter_scale, output_scale, not (wq.scale.size > 1 or p.rule == "int16"), f"s_w[{unit}]",
            (int(p.output_multiplier[unit]), int(p.output_shift[unit])), source="")
        if p.rule == "int16" and p.accumulator_bits == 64:
            scaled = trace.mbqm_int64(total, multiplier, shift)
        else:
            scaled = trace.mbqm(total, multiplier, shift)
    if p.rule == "uint8" and p.output_dtype == np.int16:
        clamped = trace.clamp(scaled, p.act_min - p.output_zero_point, p.act_max - p.output_zero_point,
                              "the activation range minus the output zero point (int16 output)")
        value = int(wrap_int32(trace.add("plus output zero point", clamped + p.output_zero_point,
                                         f"{clamped} + {p.output_zero_point}")))
    else:
        shifted = int(wrap_int32(trace.add("plus output zero point", scaled + p.output_zero_point,
                                           f"{scaled} + {p.output_zero_point}")))
        value = int(trace.clamp(shifted, int(p.act_min), int(p.act_max), "the fused activation and the output type"))
    trace.approximates(real, output_scale, p.output_zero_point, (p.act_min, p.act_max))
    return value

"""FULLY_CONNECTED: int8 (per-tensor or per-channel weights) and float32.

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

float32 rule (``reference_ops::FullyConnected``): ``total`` starts at 0.0f and adds ``x[b, d] * w[u, d]`` in
float32 for d = 0, 1, ...; then ``clamp(total + bias[u])``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from refinterp.ops.common import OpContext, per_tensor_qparams
from refinterp.quant import (
    ACT_NONE,
    ACT_RELU,
    ACT_RELU6,
    ACT_RELU_N1_TO_1,
    activation_range,
    activation_range_float,
    cast_to_int32,
    multiply_by_quantized_multiplier,
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


def prepare_fully_connected(ctx: OpContext) -> FullyConnectedParams:
    ctx.check_inputs(2, 3)
    x, w, bias, y = ctx.require_input(0), ctx.require_input(1), ctx.input(2), ctx.output(0)
    ctx.check_dtype(x, ("int8", "float32"), "input")
    o = ctx.options
    activation = int(o.get("fused_activation_function", 0))
    if activation not in (ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6) and ctx.profile == "litert-ref":
        # LiteRT's Prepare allows only the clipping activations; TFLM takes any and leaves TANH and SIGN_BIT
        # unclamped (CalculateActivationRange has no case for them).
        raise ctx.fail(f"fused activation {activation} is not supported (only NONE, RELU, RELU_N1_TO_1, RELU6)")
    if int(o.get("weights_format", 0)) != 0:
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

    if x.type_name == "float32":
        if w.type_name != "float32" or y.type_name != "float32":
            raise ctx.unsupported(f"float32 input with {w.type_name} weights and {y.type_name} output (hybrid)")
        if bias is not None and bias.type_name != "float32":
            raise ctx.fail(f"float32 fully connected with {bias.type_name} bias")
        lo, hi = activation_range_float(activation)
        return FullyConnectedParams(depth, units, output_shape, quantized=False, act_min=lo, act_max=hi)

    if w.type_name != "int8":
        raise ctx.unsupported(f"int8 input with {w.type_name} weights")
    if y.type_name != "int8":
        raise ctx.unsupported(f"int8 input with {y.type_name} output")
    if bias is not None and bias.type_name != "int32":
        raise ctx.unsupported(f"int8 fully connected with {bias.type_name} bias")
    input_scale, input_zero_point = per_tensor_qparams(ctx, x, "input")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    wq = w.quantization
    if wq is None:
        raise ctx.fail("int8 weights are not quantized")
    if wq.per_channel:
        if wq.quantized_dimension != 0 or wq.scale.size != units:
            raise ctx.unsupported(f"per-channel weights must have {units} scales on dimension 0")
        scales = [float(s) for s in wq.scale]
        weight_zero_point = 0
        multipliers = [quantize_multiplier(float(input_scale) * s / float(output_scale)) for s in scales]
    else:
        weight_scale = float(wq.scale[0])
        weight_zero_point = int(wq.zero_point[0])
        if bias is not None:
            # GetQuantizedConvolutionMultipler: the bias scale must match s_in * s_w, within 2% of s_out.
            bias_scale = float(bias.quantization.scale[0]) if bias.quantization is not None else 0.0
            if abs(input_scale * weight_scale - bias_scale) / output_scale > 0.02:
                raise ctx.fail(f"bias scale {bias_scale:g} does not match input scale x weight scale "
                               f"{input_scale * weight_scale:g} (TFLite allows 2% of the output scale)")
        scales = [weight_scale] * units
        product_f32 = float(np.float32(input_scale) * np.float32(weight_scale))
        multipliers = [quantize_multiplier(product_f32 / float(output_scale))] * units
    effective = np.array([float(input_scale) * s / float(output_scale) for s in scales], dtype=np.float64)
    act_min, act_max = activation_range(activation, output_scale, output_zero_point, np.int8)
    return FullyConnectedParams(
        depth, units, output_shape, quantized=True, float_requant=ctx.profile == "litert-ref",
        input_zero_point=input_zero_point, weight_zero_point=weight_zero_point,
        output_zero_point=output_zero_point, effective_scale=effective,
        output_multiplier=np.array([m for m, _ in multipliers], dtype=np.int64),
        output_shift=np.array([s for _, s in multipliers], dtype=np.int64),
        act_min=act_min, act_max=act_max)


# ------------------------------------------------------------------------------------------------
# Spec kernel: readable NumPy


def fully_connected_spec(p: FullyConnectedParams, x: np.ndarray, w: np.ndarray,
                         bias: np.ndarray | None = None) -> np.ndarray:
    rows = x.reshape(-1, p.depth)
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

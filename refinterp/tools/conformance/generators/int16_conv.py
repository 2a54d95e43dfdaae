"""Random single-operator cases for the int16x8 kernels (issue 12): CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV and
FULLY_CONNECTED with int16 activations (zero point 0), int8 weights and an int64 or int32 bias.

Drawn: batch 1 to 3, every window geometry of the int8 generators (strides, dilation, SAME/VALID, kernels up to
7x7, groups for CONV_2D, depth multipliers), per-channel or per-tensor weight scales, weights with -128 now and then,
inputs over the whole int16 range or a narrow one, every clipping activation. Output scales: typical, saturating
(a tenth of the typical accumulator), multipliers above 1 (effective scales up to 2**13) and tiny ones (2**-30).
Bias: int64 with the options' quantized_bias_type unset or INT64 (the int64 accumulator and the int64
MultiplyByQuantizedMultiplier), int32 with quantized_bias_type INT32 (the wrapping int32 accumulator; biases near the
int32 limits make it wrap), or absent; int64 biases from small to 2**40 (whole channels saturate).

Probes (LiteRT rejects at Prepare): a CONV_2D without a bias (TFLM takes it as 0: valid there), a nonzero input or
output zero point (TFLM not run: undefined there, profile tflm refuses it), a bias whose type is not the options'
quantized_bias_type or a quantized_bias_type other than INT32/INT64 (TFLM ignores the option: valid there), an int32
bias for DEPTHWISE_CONV_2D (LiteRT takes only int64; TFLM would read it as int64: undefined). TRANSPOSE_CONV with an
int32 bias is valid for LiteRT and undefined for TFLM (its int16 kernel reads the bias as int64).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from refinterp.modelbuilder import TensorSpec, single_op_model
from refinterp.tools.conformance.generators.core import (
    ACTIVATIONS,
    TFLM_AS_LITERT,
    TFLM_NOT_COMPARED,
    TFLM_UNDEFINED,
    TFLM_VALID,
    Case,
    Generator,
    case,
    choice,
    declared_out_hw,
    f32,
    int_values,
    join,
    log_uniform,
    window_edge,
    window_geometry,
    window_options,
)

#: the standard deviation of a uniform int16 value and of a uniform int8 weight
INT16_STD, INT8_STD = 18918.0, 74.0


def _input_values(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[np.ndarray, str]:
    """Uniform over int16, or (a third of the time) over a narrow range, as a real activation often is."""
    if rng.random() < 0.35:
        bound = int(2 ** rng.integers(4, 15))
        return rng.integers(-bound, bound + 1, size=shape).astype(np.int16), f"|x| <= {bound}"
    return int_values(rng, shape, "int16"), "full int16 range"


def _weights(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    low = -128 if rng.random() < 0.1 else -127
    return rng.integers(low, 128, size=shape).astype(np.int8)


def _weight_scales(rng: np.random.Generator, channels: int, per_channel: bool) -> list[float]:
    base = log_uniform(rng, 1e-3, 1e-1)
    return [f32(base * 2.0 ** rng.uniform(-2, 2)) for _ in range(channels)] if per_channel else [base] * channels


def _output_scale(rng: np.random.Generator, input_scale: float, weight_scales: list[float], taps: int,
                  input_std: float) -> tuple[float, str]:
    """Typical (the accumulator's std near 2**13 of the output), saturating, a multiplier above 1, or tiny; never
    below 2**-28, where a fused RELU6's bound 6 / s_out leaves int32 (LiteRT fails Prepare)."""
    scale, note = _raw_output_scale(rng, input_scale, weight_scales, taps, max(input_std, 1.0))
    return max(scale, f32(2.0 ** -28)), note


def _raw_output_scale(rng: np.random.Generator, input_scale: float, weight_scales: list[float], taps: int,
                      input_std: float) -> tuple[float, str]:
    product = input_scale * math.exp(float(np.mean(np.log(weight_scales))))
    draw = rng.random()
    if draw < 0.06:
        # effective scale s_in * s_w / s_out up to 2**13 for every channel (the int64 MBQM needs shift <= 14)
        return f32(input_scale * max(weight_scales) / 2.0 ** rng.uniform(0.1, 12.5)), ">1"
    if draw < 0.09:
        return f32(product * 2.0 ** rng.uniform(20, 30)), "tiny multiplier"
    typical = product * INT8_STD * input_std * math.sqrt(max(taps, 1))
    if draw < 0.2:
        return f32(typical / 8192.0 / 2.0 ** rng.uniform(3, 6)), "saturating"
    return f32(typical / 8192.0 * 2.0 ** rng.uniform(-3, 3)), "typical"


def _bias(rng: np.random.Generator, channels: int, dtype: str, typical_acc: float) -> tuple[np.ndarray, str]:
    draw = rng.random()
    if dtype == "int32" and draw < 0.08:
        # acc + bias wraps around int32 for the outputs whose sum has the bias's sign
        sign = np.where(rng.random(channels) < 0.5, 1, -1)
        return (sign * (2**31 - 1 - rng.integers(0, int(2 * typical_acc) + 1, channels))).astype(np.int32), \
            "near the int32 limits (wraps)"
    if draw < 0.16:
        magnitude = int(2 ** rng.integers(20, 31 if dtype == "int32" else 41))
    else:
        magnitude = max(1, int(typical_acc * 2.0 ** rng.uniform(-8, 1)))
    return rng.integers(-magnitude, magnitude + 1, size=channels).astype(dtype), f"up to {magnitude}"


def _bias_plan(rng: np.random.Generator, absent_rate: float) -> dict[str, Any]:
    """The bias form, its type and the options' quantized_bias_type (None: unset)."""
    draw = rng.random()
    if draw < absent_rate:
        return {"form": "absent(2 inputs)" if rng.random() < 0.5 else "absent(-1)", "dtype": None,
                "option": choice(rng, (None, None, "INT32", "INT64"))}
    if draw < absent_rate + 0.35:
        return {"form": "present", "dtype": "int32", "option": "INT32"}
    return {"form": "present", "dtype": "int64", "option": choice(rng, (None, "INT64"))}


def _bias_probe(rng: np.random.Generator, plan: dict[str, Any]) -> str | None:
    """Now and then break LiteRT's quantized_bias_type rules (TFLM ignores the option)."""
    if plan["form"] != "present" or rng.random() >= 0.04:
        return None
    if rng.random() < 0.5:
        plan["option"] = "INT64" if plan["dtype"] == "int32" else "INT32"
        return "bias type differs from quantized_bias_type"
    plan["option"] = choice(rng, ("INT8", "INT16", "FLOAT16"))
    return f"quantized_bias_type {plan['option']}"


def _zero_point_probe(rng: np.random.Generator) -> tuple[int, int, str | None]:
    if rng.random() < 0.03:
        if rng.random() < 0.5:
            return int(rng.integers(1, 50)), 0, "nonzero int16 input zero point"
        return 0, -int(rng.integers(1, 50)), "nonzero int16 output zero point"
    return 0, 0, None


def _quant_specs(rng: np.random.Generator, channels: int, per_channel: bool, input_scale: float,
                 weight_scales: list[float], plan: dict[str, Any], typical_acc: float,
                 params: dict[str, Any]) -> TensorSpec | None:
    """The bias tensor (or None when absent) of the plan."""
    if plan["form"] != "present":
        return None
    values, note = _bias(rng, channels, plan["dtype"], typical_acc)
    params["bias_values"] = note
    bias_scales = [f32(input_scale * s) for s in weight_scales]
    return TensorSpec((channels,), plan["dtype"], bias_scales if per_channel else bias_scales[0],
                      [0] * channels if per_channel else 0, data=values)


def _with_option(options: dict[str, Any], plan: dict[str, Any]) -> dict[str, Any]:
    if plan["option"] is not None:
        options["quantized_bias_type"] = plan["option"]
    return options


# ------------------------------------------------------------------------------------------------
# CONV_2D


def gen_conv2d_int16(rng: np.random.Generator) -> Case:
    g = window_geometry(rng, dilate=True, empty_rate=0.05, large_kernel_rate=0.08)
    groups = 1 if rng.random() < 0.8 else int(rng.integers(2, 4))
    wide = rng.random() < 0.2
    group_in = int(rng.integers(1, 9 if wide else 5))
    out_c = groups * int(rng.integers(1, 17 if wide else 6))
    in_c = group_in * groups
    batch = int(choice(rng, (1, 1, 2, 3)))
    kh, kw = g["kernel"]
    activation = choice(rng, ACTIVATIONS)
    plan = _bias_plan(rng, absent_rate=0.05)
    probes = ["conv without bias" if plan["form"] != "present" else None]
    bias_probe = _bias_probe(rng, plan)
    input_zp, output_zp, zp_probe = _zero_point_probe(rng)
    edge = window_edge(g)
    probes += [bias_probe, zp_probe, edge if edge and "negative" in edge else None]
    probe = join(*probes)
    if edge:
        tflm = TFLM_NOT_COMPARED
    elif zp_probe:
        tflm = TFLM_UNDEFINED
    elif plan["form"] != "present" or bias_probe:
        tflm = TFLM_VALID  # TFLM takes a missing bias as 0 and ignores quantized_bias_type
    else:
        tflm = TFLM_AS_LITERT
    per_channel = bool(rng.random() < 0.6)
    input_scale = log_uniform(rng, 1e-5, 1e-2)
    weight_scales = _weight_scales(rng, out_c, per_channel)
    x, x_note = _input_values(rng, (batch, g["height"], g["width"], in_c))
    taps = kh * kw * group_in
    input_std = float(np.std(x)) if x.size else INT16_STD
    output_scale, scale_note = _output_scale(rng, input_scale, weight_scales, taps, input_std)
    typical_acc = INT8_STD * max(input_std, 1.0) * math.sqrt(taps)
    weights = _weights(rng, (out_c, kh, kw, group_in))
    params: dict[str, Any] = {**g, "batch": batch, "groups": groups, "in_channels": in_c, "out_channels": out_c,
                              "activation": activation, "bias": plan["form"], "bias_type": plan["dtype"],
                              "quantized_bias_type": plan["option"], "input": x_note,
                              "weights": "per-channel" if per_channel else "per-tensor",
                              "input_q": (input_scale, input_zp), "output_q": (output_scale, output_zp),
                              "output_scale": scale_note}
    specs: list[TensorSpec | None] = [
        TensorSpec(x.shape, "int16", input_scale, input_zp),
        TensorSpec(weights.shape, "int8", weight_scales if per_channel else weight_scales[0],
                   [0] * out_c if per_channel else 0, data=weights)]
    bias_spec = _quant_specs(rng, out_c, per_channel, input_scale, weight_scales, plan, typical_acc, params)
    if bias_spec is not None:
        specs.append(bias_spec)
    elif plan["form"] == "absent(-1)":
        specs.append(None)
    output_shape = (batch, *declared_out_hw(g), out_c)
    model = single_op_model("CONV_2D", specs, [TensorSpec(output_shape, "int16", output_scale, output_zp)],
                            _with_option(window_options(g, activation), plan), version=4)
    return case("CONV_2D", "int16", model, [x], params, probe, None if probe else edge, tflm)


# ------------------------------------------------------------------------------------------------
# DEPTHWISE_CONV_2D


def gen_depthwise_int16(rng: np.random.Generator) -> Case:
    g = window_geometry(rng, dilate=True, empty_rate=0.05, large_kernel_rate=0.08)
    batch = int(choice(rng, (1, 1, 2, 3)))
    channels_in = int(rng.integers(1, 13 if rng.random() < 0.2 else 7))
    depth_multiplier = int(choice(rng, (1, 1, 1, 2, 3)))
    channels_out = channels_in * depth_multiplier
    kh, kw = g["kernel"]
    activation = choice(rng, ACTIVATIONS)
    draw = rng.random()
    bias_form = "present" if draw < 0.9 else "absent(2 inputs)"
    bias_dtype = "int64"
    probes: list[str | None] = []
    tflm = TFLM_AS_LITERT
    if bias_form == "present" and rng.random() < 0.04:
        bias_dtype = "int32"
        probes.append("int32 bias (LiteRT's int16 depthwise takes int64)")
        tflm = TFLM_UNDEFINED
    input_zp, output_zp, zp_probe = _zero_point_probe(rng)
    if zp_probe:
        probes.append(zp_probe)
        tflm = TFLM_UNDEFINED
    edge = window_edge(g)
    if edge and "negative" in edge:
        probes.append(edge)
    if edge and tflm != TFLM_UNDEFINED:
        tflm = TFLM_NOT_COMPARED
    probe = join(*probes)
    per_channel = bool(rng.random() < 0.7)
    input_scale = log_uniform(rng, 1e-5, 1e-2)
    weight_scales = _weight_scales(rng, channels_out, per_channel)
    x, x_note = _input_values(rng, (batch, g["height"], g["width"], channels_in))
    input_std = float(np.std(x)) if x.size else INT16_STD
    output_scale, scale_note = _output_scale(rng, input_scale, weight_scales, kh * kw, input_std)
    typical_acc = INT8_STD * max(input_std, 1.0) * math.sqrt(kh * kw)
    weights = _weights(rng, (1, kh, kw, channels_out))
    weight_zps: int | list[int] = [0] * channels_out if per_channel else 0
    if rng.random() < 0.04:  # the int16 kernel ignores the weights' zero point
        weight_zps = [int(v) for v in rng.integers(-5, 6, channels_out)] if per_channel else int(rng.integers(1, 6))
    options = window_options(g, activation)
    options["depth_multiplier"] = depth_multiplier
    params: dict[str, Any] = {**g, "batch": batch, "channels_in": channels_in, "channels_out": channels_out,
                              "activation": activation, "bias": bias_form, "bias_type": bias_dtype, "input": x_note,
                              "weights": "per-channel" if per_channel else "per-tensor", "weight_zp": weight_zps,
                              "input_q": (input_scale, input_zp), "output_q": (output_scale, output_zp),
                              "output_scale": scale_note}
    specs = [TensorSpec(x.shape, "int16", input_scale, input_zp),
             TensorSpec(weights.shape, "int8", weight_scales if per_channel else weight_scales[0], weight_zps,
                        quantized_dimension=3, data=weights)]
    plan = {"form": bias_form, "dtype": bias_dtype, "option": None}
    bias_spec = _quant_specs(rng, channels_out, per_channel, input_scale, weight_scales, plan, typical_acc, params)
    if bias_spec is not None:
        specs.append(bias_spec)
    output_shape = (batch, *declared_out_hw(g), channels_out)
    model = single_op_model("DEPTHWISE_CONV_2D", specs,
                            [TensorSpec(output_shape, "int16", output_scale, output_zp)], options, version=5)
    return case("DEPTHWISE_CONV_2D", "int16", model, [x], params, probe, None if probe else edge, tflm)


# ------------------------------------------------------------------------------------------------
# TRANSPOSE_CONV


def gen_transpose_conv_int16(rng: np.random.Generator) -> Case:
    batch = int(choice(rng, (1, 1, 2, 3)))
    in_h, in_w = (int(s) for s in rng.integers(1, 7, 2))
    kernel = (1, 1) if rng.random() < 0.1 else tuple(int(k) for k in rng.integers(1, 6, 2))
    stride = tuple(int(s) for s in rng.integers(1, 4, 2))
    padding = choice(rng, ("SAME", "VALID"))
    out_hw = [s * st if padding == "SAME" else (s - 1) * st + k for s, k, st in zip((in_h, in_w), kernel, stride)]
    if rng.random() < 0.3:
        # another output size with the same ComputeOutSize (the kernels crop the scatter or leave bias-only pixels)
        out_hw = [int(rng.integers(n - st + 1, n + 1)) if padding == "SAME" else int(rng.integers(n, n + st))
                  for n, st in zip(out_hw, stride)]
    wide = rng.random() < 0.15
    in_c = int(rng.integers(1, 17 if wide else 6))
    out_c = int(rng.integers(1, 17 if wide else 6))
    activation = choice(rng, ACTIVATIONS)
    plan = _bias_plan(rng, absent_rate=0.15)
    bias_probe = _bias_probe(rng, plan)
    input_zp, output_zp, zp_probe = _zero_point_probe(rng)
    probe = join(bias_probe, zp_probe)
    edge = None
    if zp_probe or plan["dtype"] == "int32" and not bias_probe:
        tflm = TFLM_UNDEFINED  # TFLM's int16 kernel reads any bias as int64
        edge = None if zp_probe else "int32 bias (TFLM's int16 kernel reads it as int64)"
    elif bias_probe:
        tflm = TFLM_VALID if plan["dtype"] == "int64" else TFLM_UNDEFINED
    else:
        tflm = TFLM_AS_LITERT
    input_shape = (batch, in_h, in_w, in_c)
    output_shape = (batch, out_hw[0], out_hw[1], out_c)
    per_channel = bool(rng.random() < 0.6)
    input_scale = log_uniform(rng, 1e-5, 1e-2)
    weight_scales = _weight_scales(rng, out_c, per_channel)
    x, x_note = _input_values(rng, input_shape)
    taps = max(1, (kernel[0] * kernel[1] * in_c) // (stride[0] * stride[1]))
    output_scale, scale_note = _output_scale(rng, input_scale, weight_scales, taps, float(np.std(x)))
    typical_acc = INT8_STD * max(float(np.std(x)), 1.0) * math.sqrt(taps)
    weights = _weights(rng, (out_c, kernel[0], kernel[1], in_c))
    params: dict[str, Any] = {"input": input_shape, "output": output_shape, "kernel": kernel, "stride": stride,
                              "padding": padding, "activation": activation, "bias": plan["form"],
                              "bias_type": plan["dtype"], "quantized_bias_type": plan["option"], "values": x_note,
                              "weights": "per-channel" if per_channel else "per-tensor",
                              "input_q": (input_scale, input_zp), "output_q": (output_scale, output_zp),
                              "output_scale": scale_note}
    specs: list[TensorSpec | None] = [
        TensorSpec((4,), "int32", data=np.array(output_shape, np.int32)),
        TensorSpec(weights.shape, "int8", weight_scales if per_channel else weight_scales[0],
                   [0] * out_c if per_channel else 0, data=weights),
        TensorSpec(input_shape, "int16", input_scale, input_zp)]
    bias_spec = _quant_specs(rng, out_c, per_channel, input_scale, weight_scales, plan, typical_acc, params)
    if bias_spec is not None:
        specs.append(bias_spec)
    elif plan["form"] == "absent(-1)":
        specs.append(None)
    options = _with_option({"padding": padding, "stride_h": stride[0], "stride_w": stride[1],
                            "fused_activation_function": activation}, plan)
    model = single_op_model("TRANSPOSE_CONV", specs, [TensorSpec(output_shape, "int16", output_scale, output_zp)],
                            options, version=3)
    return case("TRANSPOSE_CONV", "int16", model, [x], params, probe, None if probe else edge, tflm)


# ------------------------------------------------------------------------------------------------
# FULLY_CONNECTED


def gen_fully_connected_int16(rng: np.random.Generator) -> Case:
    depth = int(rng.integers(1, 41)) if rng.random() < 0.85 else int(rng.integers(41, 700))
    units = int(rng.integers(1, 17))
    rank = int(choice(rng, (1, 2, 2, 2, 3, 4)))
    lead = tuple(int(d) for d in rng.integers(1, 4, rank - 1))
    input_shape = (*lead, depth)
    keep_num_dims = bool(rng.random() < 0.3)
    output_shape = (*lead, units) if keep_num_dims else (math.prod(lead), units)
    activation = choice(rng, ACTIVATIONS)
    plan = _bias_plan(rng, absent_rate=0.12)
    bias_probe = _bias_probe(rng, plan)
    input_zp, output_zp, zp_probe = _zero_point_probe(rng)
    probe = join(bias_probe, zp_probe)
    tflm = TFLM_UNDEFINED if zp_probe else TFLM_VALID if bias_probe else TFLM_AS_LITERT
    per_channel = bool(rng.random() < 0.4)
    input_scale = log_uniform(rng, 1e-5, 1e-2)
    weight_scales = _weight_scales(rng, units, per_channel)
    weight_zp: int | list[int] = [0] * units if per_channel else 0
    if not per_channel and rng.random() < 0.15:
        weight_zp = int(rng.integers(-20, 21))  # the per-tensor kernel subtracts it
    weights = _weights(rng, (units, depth))
    x, x_note = _input_values(rng, input_shape)
    input_std = float(np.std(x))
    output_scale, scale_note = _output_scale(rng, input_scale, weight_scales, depth, input_std)
    typical_acc = INT8_STD * max(input_std, 1.0) * math.sqrt(depth)
    params: dict[str, Any] = {"input_shape": input_shape, "units": units, "keep_num_dims": keep_num_dims,
                              "activation": activation, "bias": plan["form"], "bias_type": plan["dtype"],
                              "quantized_bias_type": plan["option"], "values": x_note,
                              "weights": "per-channel" if per_channel else "per-tensor", "weight_zp": weight_zp,
                              "input_q": (input_scale, input_zp), "output_q": (output_scale, output_zp),
                              "output_scale": scale_note}
    specs: list[TensorSpec | None] = [
        TensorSpec(input_shape, "int16", input_scale, input_zp),
        TensorSpec(weights.shape, "int8", weight_scales if per_channel else weight_scales[0], weight_zp,
                   data=weights)]
    bias_spec = _quant_specs(rng, units, per_channel, input_scale, weight_scales, plan, typical_acc, params)
    if bias_spec is not None:
        specs.append(bias_spec)
    elif plan["form"] == "absent(-1)":
        specs.append(None)
    options = _with_option({"fused_activation_function": activation, "keep_num_dims": keep_num_dims}, plan)
    model = single_op_model("FULLY_CONNECTED", specs, [TensorSpec(output_shape, "int16", output_scale, output_zp)],
                            options, version=7)
    return case("FULLY_CONNECTED", "int16", model, [x], params, probe, None, tflm)


GENERATORS: dict[tuple[str, str], Generator] = {
    ("CONV_2D", "int16"): gen_conv2d_int16,
    ("DEPTHWISE_CONV_2D", "int16"): gen_depthwise_int16,
    ("TRANSPOSE_CONV", "int16"): gen_transpose_conv_int16,
    ("FULLY_CONNECTED", "int16"): gen_fully_connected_int16,
}
# TFLM has an int16x8 kernel for each of them.
TFLM_KINDS: frozenset[tuple[str, str]] = frozenset(GENERATORS)

__all__ = ["GENERATORS", "TFLM_KINDS", "Case"]

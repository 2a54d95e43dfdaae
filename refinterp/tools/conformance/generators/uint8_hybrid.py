"""Random single-operator cases for legacy uint8 models, hybrid (dynamic-range) models, TANH, ARG_MAX/ARG_MIN.

Written against core.py (Case, case, the drawing helpers): :data:`GENERATORS` maps (operator, kind)
to ``generator(rng) -> Case`` exactly like opcases.GENERATORS, and :data:`TFLM_KINDS` lists the kinds also
compared against TFLite Micro. The rules each generator draws from are in its docstring; the operators' rules
are in refinterp/ops/{conv,depthwise_conv,fully_connected,hybrid,softmax_logistic,arg_minmax}.py.

The "hybrid" kinds compute in floating point (float32 activations, int8 weights): is_float_kind should count
them as float kinds (50 cases).

Never drawn: cases on which LiteRT reads outside a tensor or aborts (a grouped per-tensor hybrid convolution, a
hybrid depthwise filter with one scale on dimension 0 for several channels, a uint8 FULLY_CONNECTED with an
int16 output and no bias, SOFTMAX rows whose exps sum to 512 or more); hybrid activations LiteRT computes with
Eigen (TANH, SIGMOID), and NaN inputs to ARG_MAX/ARG_MIN (refinterp refuses those at invoke: LiteRT's answer
depends on how its loop was vectorized).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from refinterp.modelbuilder import TensorSpec, single_op_model
from refinterp.tools.conformance.generators.core import (
    ACTIVATIONS,
    TFLM_AS_LITERT,
    TFLM_INVALID,
    TFLM_NOT_COMPARED,
    TFLM_UNDEFINED,
    Case,
    case,
    choice,
    declared_out_hw,
    f32,
    float_values,
    int_values,
    join,
    log_uniform,
    window_edge,
    window_geometry,
    window_options,
    zero_point,
)

UINT8_SECOND_MOMENT = 255.0**2 / 12  # variance of a uniform byte; plus (mean - zp)**2 for a zero point


def _uint8_typical(zero_point_value: int) -> float:
    """RMS of ``q - zp`` for a uniform byte q."""
    return math.sqrt(UINT8_SECOND_MOMENT + (127.5 - zero_point_value) ** 2)


def _uint8_output_scale(rng: np.random.Generator, product_scale: float, taps: int, input_zp: int,
                        weight_zp: int) -> tuple[float, str]:
    """An output scale putting a typical accumulator near the uint8 range; 5% with a multiplier above 1."""
    if rng.random() < 0.05:
        return f32(product_scale * rng.uniform(0.2, 0.95)), ">1"
    typical = product_scale * _uint8_typical(input_zp) * _uint8_typical(weight_zp) * math.sqrt(max(taps, 1))
    return f32(typical / 100.0 * 2.0 ** rng.uniform(-3, 3)), "typical"


def _uint8_bias(rng: np.random.Generator, channels: int, input_q: tuple[float, int], weight_q: tuple[float, int],
                output_scale: float, typical_acc: float) -> tuple[np.ndarray, float, str | None, str]:
    """(bias values, bias scale, probe, note): the scale s_in * s_w, or within LiteRT's 2% of the output scale
    of it, now and then 5% away (a probe); values typical, large, or near the int32 limits (acc + bias wraps)."""
    scale = f32(input_q[0] * weight_q[0])
    probe = None
    draw = rng.random()
    if draw < 0.04:
        scale, probe = f32(scale + 0.05 * output_scale), "bias scale != input scale x filter scale"
    elif draw < 0.1:
        scale = f32(scale + 0.01 * output_scale)
    draw = rng.random()
    if draw < 0.05:
        sign = np.where(rng.random(channels) < 0.5, 1, -1)
        values = sign * (2**31 - 1 - rng.integers(0, int(2 * typical_acc) + 1, channels))
        note = "near the int32 limits (wraps)"
    else:
        magnitude = int(typical_acc * 2.0 ** rng.uniform(-6, 1)) if draw < 0.9 else int(2 ** rng.integers(0, 25))
        values, note = rng.integers(-magnitude, magnitude + 1, channels), f"up to {magnitude}"
    return np.asarray(values, np.int32), scale, probe, note


def _hybrid_input(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[np.ndarray, str]:
    """float32 activations for a hybrid operator: normal at random spreads, now and then all zeros, one
    repeated value, a batch row of zeros or many signed zeros (the quantizers' special cases)."""
    draw = rng.random()
    spread = float(2.0 ** rng.uniform(-6, 6))
    x = float_values(rng, shape, spread)
    if draw < 0.05:
        return np.zeros(shape, np.float32), "all zeros"
    if draw < 0.08:
        return np.full(shape, f32(rng.uniform(-3, 3)), np.float32), "one value"
    if draw < 0.12 and shape and shape[0] > 1:
        x[0] = 0.0
        return x, "first batch row zero"
    if draw < 0.16:
        x[rng.random(shape) < 0.5] = -0.0
        return x, "half -0.0"
    if draw < 0.2:
        return np.abs(x), "non-negative"
    return x, f"normal x {spread:.3g}"


def _int8_weights(rng: np.random.Generator, shape: tuple[int, ...],
                  uint8_storage: bool = False) -> tuple[np.ndarray, str]:
    """Hybrid weights: int8 with -128 now and then (LiteRT's SSE dot product mishandles it: see hybrid.py),
    sometimes many -128s; ``uint8_storage``: raw bytes (LiteRT reads them as int8)."""
    if uint8_storage:
        return rng.integers(0, 256, size=shape).astype(np.uint8), "uint8 bytes"
    draw = rng.random()
    weights = rng.integers(-127, 128, size=shape)
    if draw < 0.3:
        weights = np.where(rng.random(shape) < 0.3, -128, weights)
        return weights.astype(np.int8), "30% -128"
    if draw < 0.4:
        weights = rng.integers(-128, 128, size=shape)
        return weights.astype(np.int8), "full range"
    return weights.astype(np.int8), "[-127, 127]"


# ------------------------------------------------------------------------------------------------
# CONV_2D


def gen_conv2d(rng: np.random.Generator, kind: str) -> Case:
    """CONV_2D uint8 and hybrid.

    uint8 (legacy quantization-aware models): any zero points on input, filter and output; one filter scale;
    groups; biases whose scale is within 2% (of the output scale) of s_in * s_w, sometimes not (a probe), some
    near the int32 limits. Probes: a missing bias, per-channel scales with a uint8 input, a negative VALID
    output size. hybrid: float32 input and output, int8 weights (per-tensor, per-channel, per-channel all equal)
    or uint8 weights read as int8; Cout a multiple of 4 (LiteRT's exact GEMM) or not (its SSE dot product);
    groups only with per-channel scales. Probes: a missing bias, an int32 bias.
    """
    g = window_geometry(rng, dilate=True, empty_rate=0.05, large_kernel_rate=0.0)
    kh, kw = g["kernel"]
    batch = int(choice(rng, (1, 1, 2)))
    activation = choice(rng, ACTIVATIONS)
    options = window_options(g, activation)
    edge = window_edge(g)
    probes = [edge] if edge and "negative" in edge else []
    edges = [edge] if edge and "negative" not in edge else []
    if kind == "uint8":
        groups = 1 if rng.random() < 0.8 else int(rng.integers(2, 4))
        group_in = int(rng.integers(1, 6))
        out_c = groups * int(rng.integers(1, 5)) if groups > 1 else int(rng.integers(1, 20))
        in_c = group_in * groups
        input_q = (log_uniform(rng, 5e-3, 0.5), zero_point(rng, "uint8"))
        weight_q = (log_uniform(rng, 1e-3, 0.1), zero_point(rng, "uint8"))
        taps = kh * kw * group_in
        output_scale, multiplier = _uint8_output_scale(rng, input_q[0] * weight_q[0], taps, input_q[1], weight_q[1])
        output_q = (output_scale, zero_point(rng, "uint8"))
        typical_acc = _uint8_typical(input_q[1]) * _uint8_typical(weight_q[1]) * math.sqrt(taps)
        bias, bias_scale, bias_probe, bias_note = _uint8_bias(rng, out_c, input_q, weight_q, output_scale,
                                                              typical_acc)
        weights = rng.integers(0, 256, size=(out_c, kh, kw, group_in)).astype(np.uint8)
        weight_scale: Any = weight_q[0]
        if rng.random() < 0.03 and out_c > 1:
            weight_scale = [f32(weight_q[0] * (1 + 0.1 * i)) for i in range(out_c)]
            probes.append("per-channel filter scales with a uint8 input")
        specs: list[TensorSpec | None] = [
            TensorSpec((batch, g["height"], g["width"], in_c), "uint8", *input_q),
            TensorSpec(weights.shape, "uint8", weight_scale, weight_q[1], data=weights)]
        if rng.random() < 0.03:
            probes.append("no bias")
        else:
            specs.append(TensorSpec((out_c,), "int32", bias_scale, 0, data=bias))
            if bias_probe:
                probes.append(bias_probe)
        model = single_op_model("CONV_2D", specs, [TensorSpec((batch, *declared_out_hw(g), out_c), "uint8",
                                                              *output_q)], options)
        params = {**g, "batch": batch, "groups": groups, "in_channels": in_c, "out_channels": out_c,
                  "activation": activation, "input_q": input_q, "weight_q": weight_q, "output_q": output_q,
                  "multiplier": multiplier, "bias_values": bias_note}
        x = int_values(rng, (batch, g["height"], g["width"], in_c), "uint8")
        return case("CONV_2D", kind, model, [x], params, join(*probes), None if probes else join(*edges),
                    TFLM_INVALID)

    mode = choice(rng, ("per-tensor", "per-tensor", "per-channel", "per-channel", "per-channel equal", "uint8"))
    groups = int(rng.integers(2, 4)) if mode == "per-channel" and rng.random() < 0.2 else 1
    group_in = int(rng.integers(1, 12)) if rng.random() < 0.8 else int(rng.integers(12, 40))
    out_c = groups * int(rng.integers(1, 4)) if groups > 1 else int(choice(rng, (1, 2, 3, 4, 5, 7, 8, 12, 16)))
    in_c = group_in * groups
    weights, weight_note = _int8_weights(rng, (out_c, kh, kw, group_in), uint8_storage=mode == "uint8")
    if mode == "per-channel" and out_c > 1:
        scales: Any = [log_uniform(rng, 1e-3, 0.1) for _ in range(out_c)]
    elif mode == "per-channel equal":
        scales = [log_uniform(rng, 1e-3, 0.1)] * out_c
    else:
        scales = log_uniform(rng, 1e-3, 0.1)
    weight_zp = zero_point(rng, "uint8") if mode == "uint8" else ([0] * out_c if isinstance(scales, list) else 0)
    specs = [TensorSpec((batch, g["height"], g["width"], in_c), "float32"),
             TensorSpec(weights.shape, "uint8" if mode == "uint8" else "int8", scales, weight_zp, data=weights)]
    draw = rng.random()
    if draw < 0.03:
        probes.append("no bias")
    elif draw < 0.05:
        specs.append(TensorSpec((out_c,), "int32", 0.001, 0, data=np.zeros(out_c, np.int32)))
        probes.append("int32 bias in a hybrid convolution")
    else:
        specs.append(TensorSpec((out_c,), "float32", data=float_values(rng, (out_c,), float(rng.uniform(0.1, 5)))))
    model = single_op_model("CONV_2D", specs, [TensorSpec((batch, *declared_out_hw(g), out_c), "float32")], options)
    x, input_note = _hybrid_input(rng, (batch, g["height"], g["width"], in_c))
    params = {**g, "batch": batch, "groups": groups, "in_channels": in_c, "out_channels": out_c,
              "activation": activation, "weights": mode, "weight_values": weight_note, "input": input_note}
    return case("CONV_2D", kind, model, [x], params, join(*probes), None if probes else join(*edges), TFLM_INVALID)


# ------------------------------------------------------------------------------------------------
# DEPTHWISE_CONV_2D


def gen_depthwise(rng: np.random.Generator, kind: str) -> Case:
    """DEPTHWISE_CONV_2D uint8 and hybrid.

    uint8: any zero points, one filter scale, depth multipliers 1-3, the options' depth_multiplier now and then
    different from C_out / C_in (LiteRT ignores it), a bias or none. Probes: per-channel scales with a uint8
    input, a bias scale far from s_in * s_w, the bias as index -1 among 3 inputs, a negative VALID output size.
    hybrid: int8 weights with one scale per output channel on dimension 3 (one channel: one scale), asymmetric
    per-image input quantization. Probes: one scale for several channels (LiteRT: the scale count must equal
    the quantized dimension), a uint8 filter (the filter type must match the input's).
    """
    g = window_geometry(rng, dilate=True)
    kh, kw = g["kernel"]
    batch = int(choice(rng, (1, 1, 2)))
    channels_in = int(rng.integers(1, 8))
    depth_multiplier = int(choice(rng, (1, 1, 1, 2, 3)))
    channels_out = channels_in * depth_multiplier
    activation = choice(rng, ACTIVATIONS)
    options = window_options(g, activation)
    options["depth_multiplier"] = depth_multiplier if rng.random() < 0.85 else int(rng.integers(0, 5))
    edge = window_edge(g)
    probes = [edge] if edge and "negative" in edge else []
    edges = [edge] if edge and "negative" not in edge else []
    draw = rng.random()
    bias_form = "present" if draw < 0.88 else ("absent(2 inputs)" if draw < 0.96 else "absent(-1)")
    if bias_form == "absent(-1)":
        probes.append("bias index -1 with 3 inputs")
    input_shape = (batch, g["height"], g["width"], channels_in)
    output_shape = (batch, *declared_out_hw(g), channels_out)
    params: dict[str, Any] = {**g, "batch": batch, "channels_in": channels_in, "channels_out": channels_out,
                              "options_dm": options["depth_multiplier"], "activation": activation, "bias": bias_form}
    if kind == "uint8":
        input_q = (log_uniform(rng, 5e-3, 0.5), zero_point(rng, "uint8"))
        weight_q = (log_uniform(rng, 1e-3, 0.1), zero_point(rng, "uint8"))
        output_scale, multiplier = _uint8_output_scale(rng, input_q[0] * weight_q[0], kh * kw, input_q[1],
                                                       weight_q[1])
        output_q = (output_scale, zero_point(rng, "uint8"))
        typical_acc = _uint8_typical(input_q[1]) * _uint8_typical(weight_q[1]) * math.sqrt(kh * kw)
        bias, bias_scale, bias_probe, bias_note = _uint8_bias(rng, channels_out, input_q, weight_q, output_scale,
                                                              typical_acc)
        weights = rng.integers(0, 256, size=(1, kh, kw, channels_out)).astype(np.uint8)
        weight_scale: Any = weight_q[0]
        if rng.random() < 0.03 and channels_out > 1:
            weight_scale = [f32(weight_q[0] * (1 + 0.1 * i)) for i in range(channels_out)]
            probes.append("per-channel filter scales with a uint8 input")
        specs: list[TensorSpec | None] = [
            TensorSpec(input_shape, "uint8", *input_q),
            TensorSpec(weights.shape, "uint8", weight_scale, weight_q[1], quantized_dimension=3, data=weights)]
        if bias_form == "present":
            specs.append(TensorSpec((channels_out,), "int32", bias_scale, 0, data=bias))
            if bias_probe:
                probes.append(bias_probe)
        elif bias_form == "absent(-1)":
            specs.append(None)
        model = single_op_model("DEPTHWISE_CONV_2D", specs, [TensorSpec(output_shape, "uint8", *output_q)],
                                options)
        params.update(input_q=input_q, weight_q=weight_q, output_q=output_q, multiplier=multiplier,
                      bias_values=bias_note)
        return case("DEPTHWISE_CONV_2D", kind, model, [int_values(rng, input_shape, "uint8")], params,
                    join(*probes), None if probes else join(*edges), TFLM_INVALID)

    weights, weight_note = _int8_weights(rng, (1, kh, kw, channels_out))
    filter_type = "int8"
    scales: Any = [log_uniform(rng, 1e-3, 0.1) for _ in range(channels_out)]
    if channels_out == 1:
        scales = scales[0]
    draw = rng.random()
    if draw < 0.03 and channels_out > 1:
        scales = scales[0]
        probes.append("one filter scale for several channels")
    elif draw < 0.05:
        filter_type, weights = "uint8", weights.view(np.uint8)
        probes.append("uint8 filter with a float32 input")
    specs = [TensorSpec(input_shape, "float32"),
             TensorSpec(weights.shape, filter_type, scales, 0, quantized_dimension=3, data=weights)]
    if bias_form == "present":
        specs.append(TensorSpec((channels_out,), "float32",
                                data=float_values(rng, (channels_out,), float(rng.uniform(0.1, 5)))))
    elif bias_form == "absent(-1)":
        specs.append(None)
    model = single_op_model("DEPTHWISE_CONV_2D", specs, [TensorSpec(output_shape, "float32")], options)
    x, input_note = _hybrid_input(rng, input_shape)
    params.update(weight_values=weight_note, input=input_note)
    return case("DEPTHWISE_CONV_2D", kind, model, [x], params, join(*probes), None if probes else join(*edges),
                TFLM_INVALID)


# ------------------------------------------------------------------------------------------------
# FULLY_CONNECTED


def gen_fully_connected(rng: np.random.Generator, kind: str) -> Case:
    """FULLY_CONNECTED uint8->uint8, uint8->int16 and hybrid, ranks 1 to 4, keep_num_dims.

    uint8: any zero points, the float requant; an int16 output takes any zero point (LiteRT clamps before adding
    it) and always a bias (LiteRT's kernel reads it). Probes: per-channel scales with a uint8 input, a bias
    scale far from s_in * s_w, a TANH activation.
    hybrid: int8 or uint8 weights, per-tensor or per-channel (dimension 0) scales, asymmetric_quantize_inputs
    on or off, every activation but TANH (Eigen's), depths across the SSE blocks (16, 8, 4) and up to 2100 (the
    int16 row-sum lanes wrap with many -128 weights), all-zero inputs. Probes: an int32 bias, an int8 output.
    """
    probes: list[str] = []
    depth = int(rng.integers(1, 70)) if rng.random() < 0.85 else int(rng.integers(70, 2100))
    units = int(rng.integers(1, 17))
    rank = int(choice(rng, (1, 2, 2, 2, 3, 4)))
    lead = tuple(int(d) for d in rng.integers(1, 4, rank - 1))
    input_shape = (*lead, depth)
    rows = math.prod(lead)
    keep_num_dims = bool(rng.random() < 0.3)
    output_shape = (*lead, units) if keep_num_dims else (rows, units)
    activation = choice(rng, ACTIVATIONS)
    draw = rng.random()
    bias_form = "present" if draw < 0.85 else ("absent(2 inputs)" if draw < 0.92 else "absent(-1)")
    params: dict[str, Any] = {"input_shape": input_shape, "units": units, "keep_num_dims": keep_num_dims,
                              "bias": bias_form}
    if kind.startswith("uint8"):
        output_type = kind.split("->")[1]
        if rng.random() < 0.03:
            activation = "TANH"
            probes.append("activation TANH")
        if output_type == "int16":
            bias_form = "present"
        input_q = (log_uniform(rng, 5e-3, 0.5), zero_point(rng, "uint8"))
        weight_q = (log_uniform(rng, 1e-3, 0.1), zero_point(rng, "uint8"))
        typical_acc = _uint8_typical(input_q[1]) * _uint8_typical(weight_q[1]) * math.sqrt(depth)
        if output_type == "uint8":
            output_scale, multiplier = _uint8_output_scale(rng, input_q[0] * weight_q[0], depth, input_q[1],
                                                           weight_q[1])
            output_q = (output_scale, zero_point(rng, "uint8"))
        else:
            output_scale = f32(input_q[0] * weight_q[0] * typical_acc / 8000.0 * 2.0 ** rng.uniform(-3, 3))
            multiplier = "typical"
            output_q = (output_scale, 0 if rng.random() < 0.8 else int(rng.integers(-300, 301)))
        bias, bias_scale, bias_probe, bias_note = _uint8_bias(rng, units, input_q, weight_q, output_scale,
                                                              typical_acc)
        weights = rng.integers(0, 256, size=(units, depth)).astype(np.uint8)
        weight_scale: Any = weight_q[0]
        if rng.random() < 0.03 and units > 1:
            weight_scale = [f32(weight_q[0] * (1 + 0.1 * i)) for i in range(units)]
            probes.append("per-channel weight scales with a uint8 input")
        specs: list[TensorSpec | None] = [TensorSpec(input_shape, "uint8", *input_q),
                                          TensorSpec(weights.shape, "uint8", weight_scale, weight_q[1], data=weights)]
        if bias_form == "present":
            specs.append(TensorSpec((units,), "int32", bias_scale, 0, data=bias))
            if bias_probe:
                probes.append(bias_probe)
        elif bias_form == "absent(-1)":
            specs.append(None)
        options = {"fused_activation_function": activation, "keep_num_dims": keep_num_dims}
        model = single_op_model("FULLY_CONNECTED", specs, [TensorSpec(output_shape, output_type, *output_q)], options)
        params.update(activation=activation, input_q=input_q, weight_q=weight_q, output_q=output_q,
                      multiplier=multiplier, bias_values=bias_note)
        return case("FULLY_CONNECTED", kind, model, [int_values(rng, input_shape, "uint8")], params,
                    join(*probes), tflm=TFLM_INVALID)

    activation = choice(rng, (*ACTIVATIONS, "SIGN_BIT"))
    uint8_storage = rng.random() < 0.15
    weights, weight_note = _int8_weights(rng, (units, depth), uint8_storage)
    if depth > 1000 and rng.random() < 0.5:
        weights = np.full((units, depth), 0x80 if uint8_storage else -128, weights.dtype)
        weight_note = "all -128 (row-sum lanes wrap)"
    per_channel = units > 1 and rng.random() < 0.4
    scales: Any = [log_uniform(rng, 1e-3, 0.1) for _ in range(units)] if per_channel else log_uniform(rng, 1e-3, 0.1)
    weight_zp = zero_point(rng, "uint8") if uint8_storage else ([0] * units if per_channel else 0)
    asymmetric = bool(rng.random() < 0.5)
    specs = [TensorSpec(input_shape, "float32"),
             TensorSpec(weights.shape, "uint8" if uint8_storage else "int8", scales, weight_zp, data=weights)]
    output_type = "float32"
    draw = rng.random()
    if bias_form == "present":
        if draw < 0.03:
            specs.append(TensorSpec((units,), "int32", 0.001, 0, data=np.zeros(units, np.int32)))
            probes.append("int32 bias in a hybrid fully connected")
        else:
            specs.append(TensorSpec((units,), "float32", data=float_values(rng, (units,), float(rng.uniform(0.1, 5)))))
    elif bias_form == "absent(-1)":
        specs.append(None)
    if rng.random() < 0.02:
        output_type = "int8"
        probes.append("int8 output of a hybrid fully connected")
    options = {"fused_activation_function": activation, "keep_num_dims": keep_num_dims,
               "asymmetric_quantize_inputs": asymmetric}
    output_spec = TensorSpec(output_shape, output_type, *((0.1, 0) if output_type == "int8" else ()))
    model = single_op_model("FULLY_CONNECTED", specs, [output_spec], options)
    x, input_note = _hybrid_input(rng, (rows, depth))
    params.update(activation=activation, weights="per-channel" if per_channel else "per-tensor",
                  weight_values=weight_note, asymmetric=asymmetric, input=input_note)
    return case("FULLY_CONNECTED", kind, model, [x.reshape(input_shape)], params, join(*probes), tflm=TFLM_INVALID)


# ------------------------------------------------------------------------------------------------
# SOFTMAX, LOGISTIC, TANH


def _activation_shape(rng: np.random.Generator, max_last: int = 40) -> tuple[int, ...]:
    rank = int(rng.integers(1, 5))
    shape = [int(d) for d in rng.integers(1, 6, rank)]
    shape[-1] = int(rng.integers(1, max_last))
    return tuple(shape)


def _eight_bit_values(rng: np.random.Generator, dtype: str, shape: tuple[int, ...]) -> tuple[np.ndarray, str]:
    """Every value of the type once (half the time) or random values of ``shape``."""
    if rng.random() < 0.5:
        low = -128 if dtype == "int8" else 0
        values = np.arange(low, low + 256).astype(dtype)
        rng.shuffle(values)
        return values.reshape(16, 16), "all 256"
    return int_values(rng, shape, dtype), f"random {shape}"


def gen_softmax(rng: np.random.Generator, kind: str) -> Case:
    """SOFTMAX uint8->uint8 and uint8->int16: LiteRT checks neither output's scale nor zero point; beta from
    0.05 to 5; narrow value spreads (many elements near the row maximum). Rows stay under 512 elements (a sum
    of exps reaching 512 aborts LiteRT). Probe: an int8 output for a uint8 input."""
    shape = _activation_shape(rng)
    beta = 1.0 if rng.random() < 0.6 else log_uniform(rng, 0.05, 5.0)
    output_type = kind.split("->")[1]
    input_q = (log_uniform(rng, 1e-3, 1.0) if rng.random() < 0.9 else log_uniform(rng, 1.0, 50.0),
               zero_point(rng, "uint8"))
    if output_type == "uint8":
        output_q = (1.0 / 256, 0) if rng.random() < 0.8 else (log_uniform(rng, 1e-3, 0.1), zero_point(rng, "uint8"))
    else:
        output_q = (1.0 / 32768, 0) if rng.random() < 0.8 else (1.0 / 65536, -32768)
    probe = None
    if rng.random() < 0.03:
        output_type, output_q, probe = "int8", (1.0 / 256, -128), "int8 output for a uint8 input"
    x = int_values(rng, shape, "uint8")
    params: dict[str, Any] = {"shape": shape, "beta": beta, "input_q": input_q, "output_q": output_q}
    if rng.random() < 0.3:
        x = rng.integers(215, 256, size=shape).astype(np.uint8)
        params["values"] = "narrow"
    model = single_op_model("SOFTMAX", [TensorSpec(shape, "uint8", *input_q)],
                            [TensorSpec(shape, output_type, *output_q)], {"beta": beta})
    return case("SOFTMAX", kind, model, [x], params, probe, tflm=TFLM_INVALID)


def gen_logistic(rng: np.random.Generator, kind: str) -> Case:
    """LOGISTIC uint8: LiteRT requires s_out == 1/256 exactly (probed: 1.0005/256) and takes any zero point."""
    x, note = _eight_bit_values(rng, "uint8", _activation_shape(rng))
    input_q = (log_uniform(rng, 1e-3, 0.5), zero_point(rng, "uint8"))
    output_q = (1.0 / 256, 0 if rng.random() < 0.7 else zero_point(rng, "uint8"))
    probe = None
    if rng.random() < 0.04:
        output_q, probe = (f32(1.0 / 256 * 1.0005), 0), "output scale not exactly 1/256"
    model = single_op_model("LOGISTIC", [TensorSpec(x.shape, "uint8", *input_q)],
                            [TensorSpec(x.shape, "uint8", *output_q)])
    return case("LOGISTIC", kind, model, [x], {"values": note, "input_q": input_q, "output_q": output_q}, probe,
                tflm=TFLM_INVALID)


def gen_tanh(rng: np.random.Generator, kind: str) -> Case:
    """TANH int8, uint8 and float32. 8-bit: LiteRT's tanhf table takes any output scale and zero point (the
    usual (1/128, 0) for int8 and (1/128, 128) for uint8 half the time); TFLM's int8 fixed point ignores the
    output parameters (compared as they are). float32: spreads up to 20, values near 0 and at the saturation
    of tanhf (|x| about 9)."""
    if kind == "float32":
        shape = _activation_shape(rng)
        x = float_values(rng, shape, float(2.0 ** rng.uniform(-8, 4)))
        params: dict[str, Any] = {"shape": shape}
        if rng.random() < 0.2:
            special = np.array([9.0, -9.0, 9.1, 1e-8, -1e-30, 0.55, 20.0, -0.0], np.float32)
            x.reshape(-1)[:special.size] = special[: x.size]
            params["values"] = "special"
        model = single_op_model("TANH", [TensorSpec(shape, "float32")], [TensorSpec(shape, "float32")])
        return case("TANH", kind, model, [x], params)
    x, note = _eight_bit_values(rng, kind, _activation_shape(rng))
    input_q = (log_uniform(rng, 1e-4, 1.0) if rng.random() < 0.9 else log_uniform(rng, 1.0, 10.0),
               zero_point(rng, kind))
    if rng.random() < 0.5:
        output_q = (1.0 / 128, 0 if kind == "int8" else 128)
    else:
        output_q = (log_uniform(rng, 1e-3, 0.1), zero_point(rng, kind))
    model = single_op_model("TANH", [TensorSpec(x.shape, kind, *input_q)], [TensorSpec(x.shape, kind, *output_q)])
    return case("TANH", kind, model, [x], {"values": note, "input_q": input_q, "output_q": output_q},
                tflm=TFLM_AS_LITERT if kind == "int8" else TFLM_INVALID)


# ------------------------------------------------------------------------------------------------
# ARG_MAX, ARG_MIN


def gen_arg_min_max(rng: np.random.Generator, op: str, dtype: str) -> Case:
    """ARG_MAX / ARG_MIN: ranks 1 to 5, any axis (negative too), an int32 or int64 axis tensor of shape [],
    [1] or [1, 1], constant or given at run time, int32 or int64 output; values with many ties (the first
    index wins), -0.0 and +0.0, infinities, zero-size dimensions besides the axis.

    Probes: an axis outside [-rank, rank) (LiteRT rejects a constant one at Prepare, a run-time one at Eval),
    an empty axis, an axis tensor with two elements. TFLM (float32, int8 only): an int32 axis and output or it
    rejects the model; it checks no axis: an out-of-range or empty axis reads outside the tensor there, and a
    two-element axis tensor is read by its first element (not run there: profile tflm refuses all three, as
    LiteRT does); zero-element tensors are not compared.
    """
    rank = int(rng.integers(1, 6))
    shape = [int(d) for d in rng.integers(1, 6, rank)]
    axis = int(rng.integers(-rank, rank))
    normalized = axis % rank
    probes: list[str] = []
    edges: list[str] = []
    tflm = TFLM_AS_LITERT
    constant = bool(rng.random() < 0.7)
    if rng.random() < 0.04 and rank > 1 and constant:  # (LiteRT's Python API fails to set a zero-size input
        other = int(choice(rng, [i for i in range(rank) if i != normalized]))  # of a dynamic-output model)
        shape[other] = 0
        edges.append("a zero-size dimension besides the axis")
        tflm = TFLM_NOT_COMPARED
    axis_type = "int64" if rng.random() < 0.1 else "int32"
    output_type = "int64" if rng.random() < 0.1 else "int32"
    axis_shape = choice(rng, ((), (1,), (1, 1)))
    draw = rng.random()
    if draw < 0.03:
        axis = int(choice(rng, (rank, rank + 2, -rank - 1)))
        probes.append("axis out of range")
        tflm = TFLM_UNDEFINED
    elif draw < 0.05:
        shape[normalized] = 0
        probes.append("empty axis")
        tflm = TFLM_UNDEFINED
    elif draw < 0.06:
        axis_shape = (2,)
        probes.append("axis with two elements")
        tflm = TFLM_UNDEFINED  # TFLM reads the first element; profile tflm refuses it as LiteRT does
    if tflm not in (TFLM_UNDEFINED, TFLM_NOT_COMPARED) and (axis_type != "int32" or output_type != "int32"):
        tflm = TFLM_INVALID
    shape_t = tuple(shape)
    output_shape = tuple(d for i, d in enumerate(shape) if i != axis % rank) if -rank <= axis < rank else shape_t[1:]
    axis_values = np.full(axis_shape, axis, dtype=axis_type)
    x = _arg_values(rng, dtype, shape_t)
    q = (log_uniform(rng, 1e-3, 1.0), zero_point(rng, dtype)) if dtype in ("int8", "uint8") else ()
    axis_spec = TensorSpec(axis_shape, axis_type, data=axis_values) if constant else TensorSpec(axis_shape, axis_type)
    model = single_op_model(op, [TensorSpec(shape_t, dtype, *q), axis_spec], [TensorSpec(output_shape, output_type)],
                            {"output_type": output_type.upper()})
    params = {"shape": shape_t, "axis": axis, "axis_type": axis_type, "axis_shape": axis_shape,
              "constant_axis": constant, "output_type": output_type}
    inputs = [x] if constant else [x, axis_values]
    return case(op, dtype, model, inputs, params, join(*probes), None if probes else join(*edges), tflm)


def _arg_values(rng: np.random.Generator, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    """Values with ties half the time (a few distinct values), else spread over the type."""
    few = rng.random() < 0.5
    if dtype == "bool":
        return rng.random(shape) < (0.5 if few else 0.9)
    if dtype == "float32":
        if few:
            values = np.array([-np.inf, -1.0, -0.0, 0.0, 2.5, np.inf], np.float32)
            return values[rng.integers(0, values.size, shape)]
        return float_values(rng, shape, float(2.0 ** rng.uniform(-4, 8)))
    if few:
        base = int(rng.integers(-100, 100)) if dtype != "uint8" else int(rng.integers(0, 250))
        return (base + rng.integers(0, 4, shape)).astype(dtype)
    return int_values(rng, shape, dtype)


# ------------------------------------------------------------------------------------------------
# The table


def _table() -> dict[tuple[str, str], Callable[[np.random.Generator], Case]]:
    table: dict[tuple[str, str], Callable[[np.random.Generator], Case]] = {}

    def add(op: str, kinds: tuple[str, ...], make: Callable[[np.random.Generator, str], Case]) -> None:
        for kind in kinds:
            table[(op, kind)] = (lambda k: lambda rng: make(rng, k))(kind)

    add("CONV_2D", ("uint8", "hybrid"), gen_conv2d)
    add("DEPTHWISE_CONV_2D", ("uint8", "hybrid"), gen_depthwise)
    add("FULLY_CONNECTED", ("uint8->uint8", "uint8->int16", "hybrid"), gen_fully_connected)
    add("SOFTMAX", ("uint8->uint8", "uint8->int16"), gen_softmax)
    add("LOGISTIC", ("uint8",), gen_logistic)
    add("TANH", ("int8", "uint8", "float32"), gen_tanh)
    for op in ("ARG_MAX", "ARG_MIN"):
        add(op, ("float32", "uint8", "int8", "int32", "bool"), lambda rng, k, op=op: gen_arg_min_max(rng, op, k))
    return table


GENERATORS: dict[tuple[str, str], Callable[[np.random.Generator], Case]] = _table()

# Compared against TFLite Micro too: TANH's fixed point and the ARG_MAX/ARG_MIN types TFLM runs. (uint8 and
# hybrid kinds: TFLM has no such kernels; their cases carry TFLM_INVALID for a harness that runs them there.)
TFLM_KINDS = frozenset({("TANH", "int8"), ("TANH", "float32"), ("ARG_MAX", "float32"), ("ARG_MAX", "int8"),
                        ("ARG_MIN", "float32"), ("ARG_MIN", "int8")})

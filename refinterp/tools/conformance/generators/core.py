"""Seeded random single-operator test cases: the Case type, the drawing helpers, and the generators of the
core operators.

A *kind* is an operator and a dtype kind as refinterp.registry names it: ``("CONV_2D", "int8")``,
``("QUANTIZE", "float32->int8")``, ``("SOFTMAX", "int8->int16")``. :data:`GENERATORS` maps kinds to
generators ``generator(rng) -> Case``: a .tflite model (bytes, from refinterp.modelbuilder), its input
arrays and the drawn parameters. The modules tests/opcases_*.py add the generators of further operators
with the same helpers; generators/__init__.py joins them into the one table (make_case, the command line).

Most cases are valid models, drawn to reach the edges the kernels must get right (saturation, rounding ties,
empty outputs, wrapping int32 accumulators, every value of a type). A few percent are *probes*: built on
purpose to break one rule the runtime checks (a missing bias, a mismatched scale, an axis out of range). A
probe must be rejected, by LiteRT and by refinterp alike; an ordinary case must run. Where TFLite Micro treats
a case differently from LiteRT, :attr:`Case.tflm` says how (the rules are in the generators' docstrings).

Adding a kind to refinterp.registry means adding its generator (tests/test_op_cases.py fails for a kind
without one): a function ``gen_x(rng, dtype) -> Case`` and a line in a ``_table()``.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from refinterp.modelbuilder import TensorSpec, single_op_model

# How TFLite Micro treats a case (Case.tflm), for the kinds compared against it.
TFLM_AS_LITERT = "as litert"  # valid for TFLM exactly when valid for LiteRT
TFLM_VALID = "valid"  # TFLM runs it although LiteRT rejects it
TFLM_INVALID = "invalid"  # TFLM rejects it although LiteRT runs it
TFLM_UNDEFINED = "undefined"  # TFLM crashes, reads outside the tensors or runs it unchecked: not run there;
# profile tflm must refuse it
TFLM_NOT_COMPARED = "not compared"  # a whole-model TFLM rule refinterp does not copy (zero-element tensors, >4-D)

ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")
INT_RANGES = {
    "int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767), "uint16": (0, 65535),
    "int32": (-(2**31), 2**31 - 1), "uint32": (0, 2**32 - 1), "int64": (-(2**63), 2**63 - 1),
}
QUANTIZED = ("int8", "uint8")  # the dtypes whose kernels read (scale, zero point)
QUANTIZED_STORAGE = ("int8", "uint8", "int16")  # data movement: quantized tensors whose values are only moved
# What "any" means in refinterp.registry (RESHAPE, TRANSPOSE, ...): the dtypes tested for those operators.
# LiteRT's kernels also take uint16, uint32 and float16 there (not drawn).
ANY_DTYPES = ("int8", "uint8", "int16", "int32", "int64", "float32", "bool")
FLOAT_DTYPES = ("float32", "float16", "float64")


@dataclass
class Case:
    """One generated single-operator test case."""

    op: str
    kind: str  # dtype kind, as refinterp.registry names it
    model: bytes
    inputs: list[np.ndarray]
    params: dict[str, Any]  # everything drawn, for the failure message
    seed: int = -1
    probe: bool = False  # built on purpose to be invalid: LiteRT and refinterp must both reject it
    tflm: str = TFLM_AS_LITERT  # how TFLite Micro treats it (kinds compared against TFLM only)

    def describe(self) -> str:
        """One line naming the case and everything drawn for it."""
        drawn = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.op}/{self.kind} seed={self.seed}{' (probe)' if self.probe else ''}: {drawn}"

    def rebuild_command(self) -> str:
        return f"python tests/opcase_table.py {self.op} {shlex.quote(self.kind)} {self.seed} --save /tmp/case"


Generator = Callable[[np.random.Generator], Case]


# ------------------------------------------------------------------------------------------------
# Drawing helpers


def f32(value: float) -> float:
    """The float32 value the .tflite file will hold (scales are float32)."""
    return float(np.float32(value))


def log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return f32(math.exp(rng.uniform(math.log(low), math.log(high))))


def choice(rng: np.random.Generator, options: tuple | list) -> Any:
    return options[int(rng.integers(len(options)))]


def zero_point(rng: np.random.Generator, dtype: str) -> int:
    low, high = INT_RANGES[dtype]
    return int(rng.integers(low, high + 1))


def int_values(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """Uniform over the whole range of an integer type."""
    low, high = INT_RANGES[dtype]
    return rng.integers(low, high, size=shape, dtype=np.dtype(dtype), endpoint=True)


def float_values(rng: np.random.Generator, shape: tuple[int, ...], spread: float = 1.0,
                 dtype: str = "float32") -> np.ndarray:
    """Normal values with some exact zeros of both signs (the sign of zero is part of bit-exactness)."""
    with np.errstate(over="ignore"):  # a huge spread overflows to +-inf on purpose
        values = np.asarray(rng.standard_normal(shape) * spread).astype(dtype)
    mask = rng.random(shape) < 0.05
    values[mask] = np.where(rng.random(int(np.sum(mask))) < 0.5, 0.0, -0.0)
    return values


def values_of(rng: np.random.Generator, shape: tuple[int, ...], dtype: str, spread: float = 1.0) -> np.ndarray:
    """Random tensor values of any dtype: 8/16-bit integers over their whole range, wider ones mostly
    within +-1000 (arithmetic) and now and then over their whole range, floats normal, bools fair."""
    if dtype in FLOAT_DTYPES:
        return float_values(rng, shape, spread, dtype)
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype in ("int32", "int64", "uint32") and rng.random() < 0.8:
        low = 0 if dtype == "uint32" else -1000
        return rng.integers(low, 1001, size=shape).astype(dtype)
    return int_values(rng, shape, dtype)


def all_values_or_random(rng: np.random.Generator, dtype: str) -> tuple[np.ndarray, str]:
    """Half the time every value of an 8-bit type once (shuffled), else a random tensor."""
    if rng.random() < 0.5 and dtype in ("int8", "uint8"):
        low, high = INT_RANGES[dtype]
        values = np.arange(low, high + 1).astype(dtype)
        rng.shuffle(values)
        return values, "all values"
    return int_values(rng, random_shape(rng, max_dim=6), dtype), "random"


def random_shape(rng: np.random.Generator, min_rank: int = 1, max_rank: int = 4, max_dim: int = 5) -> tuple:
    rank = int(rng.integers(min_rank, max_rank + 1))
    return tuple(int(d) for d in rng.integers(1, max_dim + 1, rank))


def quant(rng: np.random.Generator, dtype: str, low: float = 1e-3, high: float = 1.0,
          storage: bool = False) -> tuple[Any, Any]:
    """(scale, zero_point) for a quantized dtype (with ``storage``: int16 too), (None, None) otherwise."""
    if dtype not in (QUANTIZED_STORAGE if storage else QUANTIZED):
        return None, None
    return log_uniform(rng, low, high), (0 if dtype == "int16" else zero_point(rng, dtype))


def case(op: str, kind: str, model: bytes, inputs: list[np.ndarray], params: dict[str, Any],
         probe: str | None = None, edge: str | None = None, tflm: str = TFLM_AS_LITERT) -> Case:
    """A Case; ``probe`` names the rule a deliberately invalid case breaks, ``edge`` an unusual valid one."""
    if probe:
        params["probe"] = probe
    if edge:
        params["edge"] = edge
    return Case(op, kind, model, list(inputs), params, probe=bool(probe), tflm=tflm)


def join(*reasons: str | None) -> str | None:
    named = [r for r in reasons if r]
    return "; ".join(named) if named else None


# ------------------------------------------------------------------------------------------------
# 2-D windows: CONV_2D, DEPTHWISE_CONV_2D, MAX_POOL_2D, AVERAGE_POOL_2D


def raw_out_size(padding: str, size: int, kernel: int, stride: int, dilation: int = 1) -> int:
    """TFLite's ComputeOutSize (padding.h) with C's truncating division: negative when a VALID window
    outgrows the input by at least a stride, 0 when by less."""
    effective = (kernel - 1) * dilation + 1
    if padding == "SAME":
        return (size + stride - 1) // stride
    return int((size + stride - effective) / stride)


def window_geometry(rng: np.random.Generator, dilate: bool, empty_rate: float = 0.05,
                    large_kernel_rate: float = 0.08) -> dict[str, Any]:
    """Padding, kernel, stride, dilation and input size; now and then a VALID window outgrows the input."""
    padding = choice(rng, ("SAME", "VALID"))
    kernel = (1, 1) if rng.random() < 0.15 else tuple(int(k) for k in rng.integers(1, 5, 2))
    if rng.random() < large_kernel_rate:
        kernel = tuple(int(k) for k in rng.integers(1, 8, 2))
    stride = tuple(int(s) for s in rng.integers(1, 4, 2))
    dilation = tuple(int(d) for d in rng.integers(1, 4, 2)) if dilate and rng.random() < 0.35 else (1, 1)
    effective = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
    allow_empty = rng.random() < empty_rate
    sizes = [int(rng.integers(e, e + 7)) if padding == "VALID" and not allow_empty else int(rng.integers(1, 10))
             for e in effective]
    raw = tuple(raw_out_size(padding, s, k, st, d) for s, k, st, d in zip(sizes, kernel, stride, dilation))
    return {"padding": padding, "kernel": kernel, "stride": stride, "dilation": dilation,
            "height": sizes[0], "width": sizes[1], "raw_out": raw}


def window_edge(g: dict[str, Any]) -> str | None:
    """The VALID-window-larger-than-input edge, by whether the output size is 0 or negative."""
    if min(g["raw_out"]) < 0:
        return "VALID window larger than the input: negative output size"
    if min(g["raw_out"]) == 0:
        return "VALID window larger than the input: empty output"
    return None


def declared_out_hw(g: dict[str, Any]) -> tuple[int, int]:
    return max(g["raw_out"][0], 0), max(g["raw_out"][1], 0)


def window_options(g: dict[str, Any], activation: str, dilation: bool = True) -> dict[str, Any]:
    options = {"padding": g["padding"], "stride_h": g["stride"][0], "stride_w": g["stride"][1],
               "fused_activation_function": activation}
    if dilation:
        options.update(dilation_h_factor=g["dilation"][0], dilation_w_factor=g["dilation"][1])
    else:
        options.update(filter_height=g["kernel"][0], filter_width=g["kernel"][1])
    return options


def typical_output_scale(rng: np.random.Generator, product_scale: float, taps: int, input_zp: int = 0,
                         spread: tuple[float, float] = (-3, 3),
                         above_one_scale: float | None = None) -> tuple[float, str]:
    """An output scale that puts a typical accumulator near the int8 range; 5% give a multiplier above 1
    (below ``above_one_scale``, default ``product_scale``: a left shift inside MultiplyByQuantizedMultiplier).

    The typical accumulator is the std of a sum of ``taps`` products w * (x - zp_in) with uniform int8 w
    and x: 74 * sqrt(74^2 + zp_in^2) * sqrt(taps)."""
    if rng.random() < 0.05:
        return f32((above_one_scale or product_scale) * rng.uniform(0.2, 0.95)), ">1"
    typical = product_scale * 74.0 * math.hypot(74.0, input_zp) * math.sqrt(max(taps, 1))
    return f32(typical / 64.0 * 2.0 ** rng.uniform(*spread)), "typical"


# ------------------------------------------------------------------------------------------------
# CONV_2D


def gen_conv2d(rng: np.random.Generator, dtype: str) -> Case:
    """CONV_2D: grouped convolutions, up to 30 output channels, dilation, both paddings, every activation.

    LiteRT requires a bias (conv.cc: ``has_bias``; both ways of leaving it out are rejected at Prepare),
    TFLM takes none as zero. A VALID window that outgrows the input gives an empty output when the size
    is 0 and is rejected when negative; TFLM refuses every zero-element tensor (not compared there).
    int8: per-channel or per-tensor weights, output scales that saturate, multipliers above 1, and biases
    near the int32 limits so that ``acc + bias`` wraps (int32 arithmetic, as in the C++ kernels).
    """
    g = window_geometry(rng, dilate=True, empty_rate=0.08, large_kernel_rate=0.0)
    groups = 1 if rng.random() < 0.75 else int(rng.integers(2, 5))
    wide = rng.random() < 0.2
    group_in = int(rng.integers(1, 6)) if groups == 1 else int(rng.integers(1, 4))
    if groups == 1:
        out_c = int(rng.integers(6, 31)) if wide else int(rng.integers(1, 6))
    else:
        out_c = groups * (int(rng.integers(2, 8)) if wide else int(rng.integers(1, 3)))
    in_c = group_in * groups
    batch = int(choice(rng, (1, 1, 2)))
    kh, kw = g["kernel"]
    draw = rng.random()
    bias_form = "present" if draw >= 0.08 else ("absent(2 inputs)" if draw < 0.04 else "absent(-1)")
    activation = choice(rng, ACTIVATIONS)
    params: dict[str, Any] = {**g, "batch": batch, "groups": groups, "in_channels": in_c, "out_channels": out_c,
                              "activation": activation, "bias": bias_form}
    input_shape = (batch, g["height"], g["width"], in_c)
    output_shape = (batch, *declared_out_hw(g), out_c)
    edge = window_edge(g)
    probe = join("conv without bias" if bias_form != "present" else None,
                 edge if edge and "negative" in edge else None)
    if edge:
        tflm = TFLM_NOT_COMPARED
    elif bias_form != "present":
        tflm = TFLM_VALID  # TFLM takes a missing bias as zero
    else:
        tflm = TFLM_AS_LITERT
    options = window_options(g, activation)
    if dtype == "float32":
        weights = float_values(rng, (out_c, kh, kw, group_in))
        specs: list[TensorSpec | None] = [TensorSpec(input_shape, "float32"),
                                          TensorSpec(weights.shape, "float32", data=weights)]
        if bias_form == "present":
            specs.append(TensorSpec((out_c,), "float32", data=float_values(rng, (out_c,))))
        elif bias_form == "absent(-1)":
            specs.append(None)
        model = single_op_model("CONV_2D", specs, [TensorSpec(output_shape, "float32")], options)
        return case("CONV_2D", dtype, model, [float_values(rng, input_shape)], params, probe,
                    None if probe else edge, tflm)

    per_channel = bool(rng.random() < 0.5)
    input_scale, input_zp = log_uniform(rng, 1e-3, 1e-1), zero_point(rng, "int8")
    base_scale = log_uniform(rng, 1e-3, 1e-1)
    # Channel scales of one layer spread over a factor of ~16.
    weight_scales = [f32(base_scale * 2.0 ** rng.uniform(-2, 2)) for _ in range(out_c)] if per_channel \
        else [base_scale] * out_c
    # Converter weights are symmetric in [-127, 127]; -128 is legal too, so draw it now and then.
    low = -128 if rng.random() < 0.1 else -127
    weights = rng.integers(low, 128, size=(out_c, kh, kw, group_in))
    taps = kh * kw * group_in
    mean_scale = math.exp(float(np.mean(np.log(weight_scales))))
    output_scale, multiplier = typical_output_scale(rng, input_scale * mean_scale, taps, input_zp, (-0.5, 3.5),
                                                    above_one_scale=input_scale * min(weight_scales))
    output_zp = zero_point(rng, "int8")
    typical_acc = 74.0 * math.hypot(74.0, input_zp) * math.sqrt(taps)
    draw = rng.random()
    if draw < 0.06:
        # acc + bias wraps around int32 for the outputs whose accumulator has the bias's sign
        sign = np.where(rng.random(out_c) < 0.5, 1, -1)
        bias = sign * (2**31 - 1 - rng.integers(0, int(2 * typical_acc) + 1, out_c))
        bias_note = "near the int32 limits (wraps)"
    elif draw < 0.16:
        # far larger than an accumulator (up to 2^24): whole channels pushed to a bound
        magnitude = int(2 ** rng.integers(0, 25))
        bias, bias_note = rng.integers(-magnitude, magnitude + 1, out_c), f"up to {magnitude}"
    else:
        magnitude = int(typical_acc * 2.0 ** rng.uniform(-8, 0))
        bias, bias_note = rng.integers(-magnitude, magnitude + 1, out_c), f"up to {magnitude}"
    specs = [TensorSpec(input_shape, "int8", input_scale, input_zp),
             TensorSpec(weights.shape, "int8", weight_scales if per_channel else weight_scales[0],
                        [0] * out_c if per_channel else 0, data=weights)]
    if bias_form == "present":
        bias_scales = [f32(input_scale * s) for s in weight_scales]
        specs.append(TensorSpec((out_c,), "int32", bias_scales if per_channel else bias_scales[0],
                                [0] * out_c if per_channel else 0, data=np.asarray(bias, np.int32)))
    elif bias_form == "absent(-1)":
        specs.append(None)
    model = single_op_model("CONV_2D", specs, [TensorSpec(output_shape, "int8", output_scale, output_zp)], options)
    params.update(weights="per-channel" if per_channel else "per-tensor", input_q=(input_scale, input_zp),
                  weight_scales=weight_scales if per_channel else weight_scales[0],
                  output_q=(output_scale, output_zp), multiplier=multiplier, bias_values=bias_note)
    return case("CONV_2D", dtype, model, [int_values(rng, input_shape, "int8")], params, probe,
                None if probe else edge, tflm)


# ------------------------------------------------------------------------------------------------
# DEPTHWISE_CONV_2D


def gen_depthwise(rng: np.random.Generator, dtype: str) -> Case:
    """DEPTHWISE_CONV_2D. Probes: filter channels not a multiple of the input's, the bias given as index -1
    among 3 inputs, a negative VALID output size (LiteRT rejects all three; TFLM crashes or indexes outside
    the tensors on the first two, so they are not run there and profile tflm must refuse them). An options
    depth_multiplier that differs from C_out / C_in: LiteRT ignores it (a valid case), TFLM uses it (garbage;
    undefined there). A bias left out (2 inputs) is valid; so is a non-zero weight zero point (ignored)."""
    g = window_geometry(rng, dilate=True)
    batch = int(choice(rng, (1, 1, 2)))
    channels_in = int(rng.integers(1, 7))
    depth_multiplier = int(choice(rng, (1, 1, 1, 2, 3)))
    channels_out = channels_in * depth_multiplier
    probes, edges, tflm = [], [], TFLM_AS_LITERT
    if channels_in > 1 and rng.random() < 0.03:
        channels_out += 1
        probes.append("filter channels not a multiple of the input channels")
        tflm = TFLM_UNDEFINED
    kh, kw = g["kernel"]
    activation = choice(rng, ACTIVATIONS)
    draw = rng.random()
    bias_form = "present" if draw < 0.9 else ("absent(2 inputs)" if draw < 0.95 else "absent(-1)")
    if bias_form == "absent(-1)":
        probes.append("bias index -1 with 3 inputs")
        tflm = TFLM_UNDEFINED
    options_dm = depth_multiplier if rng.random() < 0.8 else int(rng.integers(0, 9))
    if options_dm != depth_multiplier:
        edges.append("options depth_multiplier differs from C_out / C_in")
        tflm = TFLM_UNDEFINED
    edge = window_edge(g)
    if edge and "negative" in edge:
        probes.append(edge)
    elif edge:
        edges.append(edge)
    if edge and tflm != TFLM_UNDEFINED:
        tflm = TFLM_NOT_COMPARED
    options = window_options(g, activation)
    options["depth_multiplier"] = options_dm
    input_shape = (batch, g["height"], g["width"], channels_in)
    output_shape = (batch, *declared_out_hw(g), channels_out)
    params: dict[str, Any] = {**g, "batch": batch, "channels_in": channels_in, "channels_out": channels_out,
                              "options_dm": options_dm, "activation": activation, "bias": bias_form}
    probe, edge_note = join(*probes), None if probes else join(*edges)
    if dtype == "float32":
        weights = float_values(rng, (1, kh, kw, channels_out))
        specs: list[TensorSpec | None] = [TensorSpec(input_shape, "float32"),
                                          TensorSpec(weights.shape, "float32", data=weights)]
        if bias_form == "present":
            specs.append(TensorSpec((channels_out,), "float32", data=float_values(rng, (channels_out,))))
        elif bias_form == "absent(-1)":
            specs.append(None)
        model = single_op_model("DEPTHWISE_CONV_2D", specs, [TensorSpec(output_shape, "float32")], options)
        return case("DEPTHWISE_CONV_2D", dtype, model, [float_values(rng, input_shape)], params, probe,
                    edge_note, tflm)

    per_channel = bool(rng.random() < 0.7)
    input_scale, input_zp = log_uniform(rng, 1e-3, 1e-1), zero_point(rng, "int8")
    scales = [log_uniform(rng, 1e-3, 1e-1) for _ in range(channels_out)] if per_channel else \
        [log_uniform(rng, 1e-3, 1e-1)] * channels_out
    weight_zps: int | list[int] = [0] * channels_out if per_channel else 0
    if rng.random() < 0.04:
        weight_zps = [int(v) for v in rng.integers(-5, 6, channels_out)] if per_channel else int(rng.integers(1, 6))
        params["weight_zp"] = weight_zps
    low = -128 if rng.random() < 0.1 else -127
    weights = rng.integers(low, 128, size=(1, kh, kw, channels_out))
    output_scale, multiplier = typical_output_scale(rng, input_scale * float(np.mean(scales)), kh * kw)
    output_zp = zero_point(rng, "int8")
    bias_magnitude = int(2 ** rng.integers(0, 21))
    specs = [TensorSpec(input_shape, "int8", input_scale, input_zp),
             TensorSpec(weights.shape, "int8", scales if per_channel else scales[0], weight_zps,
                        quantized_dimension=3, data=weights)]
    if bias_form == "present":
        bias_scales = [f32(input_scale * s) for s in scales]
        specs.append(TensorSpec((channels_out,), "int32", bias_scales if per_channel else bias_scales[0],
                                [0] * channels_out if per_channel else 0,
                                data=rng.integers(-bias_magnitude, bias_magnitude + 1, channels_out)))
    elif bias_form == "absent(-1)":
        specs.append(None)
    model = single_op_model("DEPTHWISE_CONV_2D", specs,
                            [TensorSpec(output_shape, "int8", output_scale, output_zp)], options)
    params.update(weights="per-channel" if per_channel else "per-tensor", input_q=(input_scale, input_zp),
                  output_q=(output_scale, output_zp), multiplier=multiplier, bias_magnitude=bias_magnitude)
    return case("DEPTHWISE_CONV_2D", dtype, model, [int_values(rng, input_shape, "int8")], params, probe,
                edge_note, tflm)


# ------------------------------------------------------------------------------------------------
# FULLY_CONNECTED


def gen_fully_connected(rng: np.random.Generator, dtype: str) -> Case:
    """FULLY_CONNECTED, ranks 1 to 4, keep_num_dims, depths up to 700. Probes: a TANH or SIGN_BIT activation
    (LiteRT rejects; TFLM accepts and clamps nothing), a bias scale away from s_in * s_w (both reject).
    int8: 30% coarse outputs, where LiteRT's float64 requantization and TFLM's double rounding differ."""
    probes, tflm = [], TFLM_AS_LITERT
    depth = int(rng.integers(1, 41)) if rng.random() < 0.85 else int(rng.integers(41, 700))
    units = int(rng.integers(1, 17))
    rank = int(choice(rng, (1, 2, 2, 2, 3, 4)))
    lead = tuple(int(d) for d in rng.integers(1, 4, rank - 1))
    input_shape = (*lead, depth)
    rows = math.prod(lead)
    keep_num_dims = bool(rng.random() < 0.3)
    output_shape = (*lead, units) if keep_num_dims else (rows, units)
    activation = choice(rng, ACTIVATIONS)
    if rng.random() < 0.03:
        activation = choice(rng, ("TANH", "SIGN_BIT"))
        probes.append(f"activation {activation}")
        tflm = TFLM_VALID
    draw = rng.random()
    bias_form = "present" if draw < 0.85 else ("absent(2 inputs)" if draw < 0.92 else "absent(-1)")
    options = {"fused_activation_function": activation, "keep_num_dims": keep_num_dims}
    params: dict[str, Any] = {"input_shape": input_shape, "units": units, "keep_num_dims": keep_num_dims,
                              "activation": activation, "bias": bias_form}
    if dtype == "float32":
        weights = float_values(rng, (units, depth))
        specs: list[TensorSpec | None] = [TensorSpec(input_shape, "float32"),
                                          TensorSpec(weights.shape, "float32", data=weights)]
        if bias_form == "present":
            specs.append(TensorSpec((units,), "float32", data=float_values(rng, (units,))))
        elif bias_form == "absent(-1)":
            specs.append(None)
        model = single_op_model("FULLY_CONNECTED", specs, [TensorSpec(output_shape, "float32")], options)
        return case("FULLY_CONNECTED", dtype, model, [float_values(rng, input_shape)], params, join(*probes),
                    tflm=tflm)

    per_channel = bool(rng.random() < 0.4)
    input_scale, input_zp = log_uniform(rng, 1e-3, 1e-1), zero_point(rng, "int8")
    if per_channel:
        scales = [log_uniform(rng, 1e-3, 1e-1) for _ in range(units)]
        weight_zp: int | list[int] = [0] * units
        weights = rng.integers(-127, 128, size=(units, depth))
    else:
        scales = [log_uniform(rng, 1e-3, 1e-1)] * units
        weight_zp = int(rng.integers(-20, 21)) if rng.random() < 0.3 else 0
        weights = rng.integers(-128, 128, size=(units, depth))
    output_scale, multiplier = typical_output_scale(rng, input_scale * float(np.mean(scales)), depth)
    if rng.random() < 0.3:
        # A coarse output (effective scale 0.05..0.5, as in ADD-like layers): the litert-ref float64
        # requantization and TFLM's double rounding then differ in a few percent of the outputs.
        output_scale = f32(input_scale * float(np.mean(scales)) / rng.uniform(0.05, 0.5))
        multiplier = "coarse"
        weights = rng.integers(-3, 4, size=weights.shape)
    output_zp = zero_point(rng, "int8")
    bias_magnitude = int(2 ** rng.integers(0, 21)) if multiplier != "coarse" else int(rng.integers(0, 50))
    specs = [TensorSpec(input_shape, "int8", input_scale, input_zp),
             TensorSpec(weights.shape, "int8", scales if per_channel else scales[0], weight_zp, data=weights)]
    if bias_form == "present":
        bias_scales = [f32(input_scale * s) for s in scales]
        if not per_channel and rng.random() < 0.04:
            bias_scales = [f32(bias_scales[0] * 1.5 + 0.1 * output_scale)]
            probes.append("bias scale != input scale x weight scale")
            tflm = TFLM_AS_LITERT
        specs.append(TensorSpec((units,), "int32", bias_scales if per_channel else bias_scales[0],
                                [0] * units if per_channel else 0,
                                data=rng.integers(-bias_magnitude, bias_magnitude + 1, units)))
    elif bias_form == "absent(-1)":
        specs.append(None)
    model = single_op_model("FULLY_CONNECTED", specs, [TensorSpec(output_shape, "int8", output_scale, output_zp)],
                            options)
    params.update(weights="per-channel" if per_channel else "per-tensor", weight_zp=weight_zp,
                  input_q=(input_scale, input_zp), output_q=(output_scale, output_zp), multiplier=multiplier,
                  bias_magnitude=bias_magnitude)
    return case("FULLY_CONNECTED", dtype, model, [int_values(rng, input_shape, "int8")], params, join(*probes),
                tflm=tflm)


# ------------------------------------------------------------------------------------------------
# MAX_POOL_2D, AVERAGE_POOL_2D


def gen_pool(rng: np.random.Generator, op: str, dtype: str) -> Case:
    """MAX_POOL_2D and AVERAGE_POOL_2D. A VALID window larger than the input is valid for LiteRT: the output
    is empty (a negative width is reported as both sizes 0); TFLM refuses zero-element tensors (not compared
    there). TANH now and then: no quantized clamp (the full range). MAX_POOL: 3% of the cases give the
    output another (scale, zero point): LiteRT copies raw values (valid), TFLM rejects it."""
    g = window_geometry(rng, dilate=False, empty_rate=0.05, large_kernel_rate=0.1)
    batch, channels = int(choice(rng, (1, 1, 2))), int(rng.integers(1, 6))
    activation = choice(rng, ACTIVATIONS) if rng.random() < 0.95 else "TANH"
    input_shape = (batch, g["height"], g["width"], channels)
    output_shape = (batch, *declared_out_hw(g), channels)
    options = window_options(g, activation, dilation=False)
    params: dict[str, Any] = {**g, "batch": batch, "channels": channels, "activation": activation}
    del params["dilation"]
    edges = [window_edge(g)]
    tflm = TFLM_NOT_COMPARED if edges[0] else TFLM_AS_LITERT
    if dtype == "float32":
        model = single_op_model(op, [TensorSpec(input_shape, "float32")], [TensorSpec(output_shape, "float32")],
                                options)
        x = float_values(rng, input_shape, spread=float(rng.uniform(0.5, 8)))
        return case(op, dtype, model, [x], params, edge=join(*edges), tflm=tflm)
    in_q = (log_uniform(rng, 1e-2, 1e-1), zero_point(rng, dtype))
    out_q = in_q
    if op == "MAX_POOL_2D" and rng.random() < 0.03:
        out_q = (log_uniform(rng, 1e-2, 1e-1), zero_point(rng, dtype))
        edges.append("output quantization differs from the input's")
        tflm = TFLM_NOT_COMPARED if tflm == TFLM_NOT_COMPARED else TFLM_INVALID
    params.update(input_q=in_q, output_q=out_q)
    model = single_op_model(op, [TensorSpec(input_shape, dtype, *in_q)], [TensorSpec(output_shape, dtype, *out_q)],
                            options)
    return case(op, dtype, model, [int_values(rng, input_shape, dtype)], params, edge=join(*edges), tflm=tflm)


# ------------------------------------------------------------------------------------------------
# MEAN, REDUCE_MAX


def gen_reduce(rng: np.random.Generator, op: str, dtype: str) -> Case:
    """MEAN and REDUCE_MAX over any axes (negative, repeated), keep_dims or not, big reductions that exercise
    MEAN's fold of 1/N into the multiplier. Probes: an axis out of range (LiteRT rejects; TFLM reads outside
    the shape: undefined there), REDUCE_MAX with output quantization != input's (both reject)."""
    probes, tflm = [], TFLM_AS_LITERT
    rank = int(rng.integers(1, 5))
    shape = tuple(int(d) for d in rng.integers(1, 8, rank))
    if rng.random() < 0.1:
        shape, rank = (1, int(rng.integers(10, 60)), int(rng.integers(10, 60)), int(rng.integers(1, 5))), 4
    axes = [int(a) for a in rng.choice(rank, size=int(rng.integers(1, rank + 1)), replace=False)]
    axes = [a - rank if rng.random() < 0.3 else a for a in axes]  # negative axes count from the end
    if rng.random() < 0.1:
        axes.append(axes[0] + (rank if axes[0] < 0 else -rank))  # the same axis twice
    if rng.random() < 0.02:
        axes.append(rank + int(rng.integers(0, 2)))
        probes.append("axis out of range")
        tflm = TFLM_UNDEFINED
    keep_dims = bool(rng.random() < 0.5)
    resolved = {a % rank for a in axes if -rank <= a < rank}
    output_shape = tuple(1 if d in resolved else n for d, n in enumerate(shape)) if keep_dims else \
        tuple(n for d, n in enumerate(shape) if d not in resolved)
    params: dict[str, Any] = {"shape": shape, "axes": axes, "keep_dims": keep_dims}
    axis_spec = TensorSpec((len(axes),), "int32", data=np.array(axes, dtype=np.int32))
    options = {"keep_dims": keep_dims}
    if dtype == "float32":
        model = single_op_model(op, [TensorSpec(shape, "float32"), axis_spec], [TensorSpec(output_shape, "float32")],
                                options)
        x = float_values(rng, shape, spread=float(rng.uniform(0.5, 50)))
        return case(op, dtype, model, [x], params, join(*probes), tflm=tflm)
    input_q = (log_uniform(rng, 1e-3, 1.0), zero_point(rng, dtype))
    draw = rng.random()
    if op == "REDUCE_MAX":
        output_q = input_q
        if draw < 0.05:
            output_q = (log_uniform(rng, 1e-3, 1.0), zero_point(rng, dtype))
            probes.append("output quantization differs from the input's")
    elif draw < 0.2:
        output_q, params["scales"] = input_q, "same"
    elif draw < 0.25:
        output_q, params["scales"] = (f32(input_q[0] * 2.0 ** rng.uniform(8, 24)), zero_point(rng, dtype)), "tiny"
    else:
        output_q, params["scales"] = (f32(input_q[0] * 2.0 ** rng.uniform(-3, 3)), zero_point(rng, dtype)), "random"
    params.update(input_q=input_q, output_q=output_q)
    model = single_op_model(op, [TensorSpec(shape, dtype, *input_q), axis_spec],
                            [TensorSpec(output_shape, dtype, *output_q)], options)
    x = int_values(rng, shape, dtype)
    if rng.random() < 0.2:  # values near one end: sums far from zero, outputs that saturate
        low, high = (-128, -100) if rng.random() < 0.5 else (100, 127)
        offset = 0 if dtype == "int8" else 128
        x = rng.integers(low + offset, high + offset + 1, size=shape).astype(dtype)
        params["values"] = "near one end"
    return case(op, dtype, model, [x], params, join(*probes), tflm=tflm)


# ------------------------------------------------------------------------------------------------
# SOFTMAX, LOGISTIC


def _activation_shape(rng: np.random.Generator) -> tuple[int, ...]:
    rank = int(rng.integers(1, 5))
    shape = [int(d) for d in rng.integers(1, 6, rank)]
    # At most 511 classes: a row whose int8 exps sum to 512 or more makes SOFTMAX abort both runtimes.
    shape[-1] = int(rng.integers(1, 40)) if rng.random() < 0.9 else int(rng.integers(100, 512))
    return tuple(shape)


def gen_softmax(rng: np.random.Generator, kind: str) -> Case:
    """SOFTMAX float32, int8->int8 (output (1/256, -128)) and int8->int16 (output (1/65536, -32768)).
    int8->int8 probes: an output zero point of 0, a scale 1% off 1/256 (both reject); a scale within 0.1% of
    1/256 but not exact is valid for LiteRT, rejected by TFLM. Not drawn, because they abort the runtimes:
    rows whose int8 exps sum to 512 or more, beta * s_in below 2**-26."""
    shape = _activation_shape(rng)
    beta = 1.0 if rng.random() < 0.7 else f32(log_uniform(rng, 0.05, 5.0))
    params: dict[str, Any] = {"shape": shape, "beta": beta}
    if kind == "float32":
        model = single_op_model("SOFTMAX", [TensorSpec(shape, "float32")], [TensorSpec(shape, "float32")],
                                {"beta": beta})
        return case("SOFTMAX", kind, model, [float_values(rng, shape, spread=float(rng.uniform(0.5, 20)))], params)
    draw = rng.random()
    input_scale = log_uniform(rng, 1e-3, 1.0) if draw < 0.9 else (
        log_uniform(rng, 1.0, 80.0) if draw < 0.95 else log_uniform(rng, 1e-5, 1e-3))
    input_q = (input_scale, zero_point(rng, "int8"))
    probe, edge, tflm = None, None, TFLM_AS_LITERT
    if kind == "int8->int16":
        output_type, output_q = "int16", (1.0 / 65536, -32768)
    else:
        output_type, output_q = "int8", (1.0 / 256, -128)
        draw = rng.random()
        if draw < 0.03:
            output_q, edge, tflm = (f32(1.0 / 256 * (1 + 0.0005)), -128), "output scale 1/256 within 0.1%", \
                TFLM_INVALID
        elif draw < 0.06:
            output_q, probe = (f32(1.0 / 256 * 1.01), -128), "output scale 1% off 1/256"
        elif draw < 0.08:
            output_q, probe = (1.0 / 256, 0), "output zero point 0"
    params.update(input_q=input_q, output_q=output_q)
    model = single_op_model("SOFTMAX", [TensorSpec(shape, "int8", *input_q)],
                            [TensorSpec(shape, output_type, *output_q)], {"beta": beta})
    x = int_values(rng, shape, "int8")
    if rng.random() < 0.3:  # a narrow spread: many elements within diff_min of the row maximum
        x = rng.integers(90, 128, size=shape).astype(np.int8)
        params["values"] = "narrow"
    return case("SOFTMAX", kind, model, [x], params, probe, edge, tflm)


def gen_logistic(rng: np.random.Generator, dtype: str) -> Case:
    """LOGISTIC. int8: LiteRT requires s_out == 1/256 exactly and takes any zero point; TFLM requires zero
    point -128 and takes any scale: each rule is probed, valid for the other runtime. float32: values at
    the reference's cut-offs (-9 and 16.619047)."""
    params: dict[str, Any] = {}
    if dtype == "float32":
        shape = _activation_shape(rng)
        x = float_values(rng, shape, spread=float(rng.uniform(0.5, 30)))
        if rng.random() < 0.2:
            cutoffs = [-9.0, np.nextafter(np.float32(-9), np.float32(0)), 16.619047164916992,
                       np.nextafter(np.float32(16.619047164916992), np.float32(20))]
            x.reshape(-1)[:4] = np.array(cutoffs, dtype=np.float32)[: x.size]
            params["values"] = "cut-offs"
        params["shape"] = shape
        model = single_op_model("LOGISTIC", [TensorSpec(shape, "float32")], [TensorSpec(shape, "float32")])
        return case("LOGISTIC", dtype, model, [x], params)
    if rng.random() < 0.5:
        x, params["values"] = np.arange(-128, 128, dtype=np.int8), "all 256"
        rng.shuffle(x)
    else:
        x = int_values(rng, _activation_shape(rng), "int8")
        params["values"] = f"random {x.shape}"
    input_q = (log_uniform(rng, 1e-3, 0.5), zero_point(rng, "int8"))
    output_q = (1.0 / 256, -128)
    probe, edge, tflm = None, None, TFLM_AS_LITERT
    draw = rng.random()
    if draw < 0.04:
        output_q, edge, tflm = (1.0 / 256, int(rng.integers(-127, 128))), "output zero point != -128", TFLM_INVALID
    elif draw < 0.08:
        output_q, probe, tflm = (f32(1.0 / 256 * 1.0005), -128), "output scale not exactly 1/256", TFLM_VALID
    params.update(input_q=input_q, output_q=output_q)
    model = single_op_model("LOGISTIC", [TensorSpec(x.shape, "int8", *input_q)],
                            [TensorSpec(x.shape, "int8", *output_q)])
    return case("LOGISTIC", dtype, model, [x], params, probe, edge, tflm)


# ------------------------------------------------------------------------------------------------
# LEAKY_RELU, RELU, RELU6, RELU_N1_TO_1


def gen_leaky_relu(rng: np.random.Generator, dtype: str) -> Case:
    """LEAKY_RELU with any alpha: in [0, 1), above 1, negative, exactly 0, 1 and 0.2 (all valid)."""
    draw = rng.random()
    alpha, alpha_kind = ((f32(rng.uniform(0, 1)), "[0,1)") if draw < 0.55 else
                         (f32(rng.uniform(1, 5)), ">1") if draw < 0.70 else
                         (f32(rng.uniform(-2, 0)), "negative") if draw < 0.85 else
                         (0.0, "0") if draw < 0.90 else (1.0, "1") if draw < 0.95 else (0.2, "0.2"))
    params: dict[str, Any] = {"alpha": alpha, "alpha_kind": alpha_kind}
    if dtype == "float32":
        shape = random_shape(rng, max_dim=6)
        x = float_values(rng, shape, spread=float(rng.uniform(0.1, 100)))
        model = single_op_model("LEAKY_RELU", [TensorSpec(shape, "float32")], [TensorSpec(shape, "float32")],
                                {"alpha": alpha})
        return case("LEAKY_RELU", dtype, model, [x], {**params, "shape": shape})
    x, layout = all_values_or_random(rng, dtype)
    input_q = (log_uniform(rng, 1e-3, 1.0), zero_point(rng, dtype))
    output_q = (log_uniform(rng, 1e-3, 1.0), zero_point(rng, dtype))
    params.update(shape=x.shape, values=layout, input_q=input_q, output_q=output_q)
    model = single_op_model("LEAKY_RELU", [TensorSpec(x.shape, dtype, *input_q)],
                            [TensorSpec(x.shape, dtype, *output_q)], {"alpha": alpha})
    return case("LEAKY_RELU", dtype, model, [x], params)


def gen_relu(rng: np.random.Generator, op: str, dtype: str) -> Case:
    """RELU, RELU6, RELU_N1_TO_1: float32 with a NaN, a signed zero or a bound among the values; int8/uint8
    over every value of the type, output parameters equal to the input's (30%) or not."""
    if dtype == "float32":
        shape = random_shape(rng)
        x = float_values(rng, shape, spread=float(rng.uniform(0.5, 10)))
        x.reshape(-1)[0] = choice(rng, (np.nan, -0.0, 0.0, 6.0, 1.0, -1.0))
        model = single_op_model(op, [TensorSpec(shape, dtype)], [TensorSpec(shape, dtype)])
        return case(op, dtype, model, [x], {"shape": shape, "first": float(x.reshape(-1)[0])})
    low, high = INT_RANGES[dtype]
    x = np.arange(low, high + 1).astype(dtype)
    rng.shuffle(x)
    if rng.random() < 0.3:  # the usual case in real models: the output keeps the input's parameters
        in_q = quant(rng, dtype, 1e-3, 0.2)
        out_q = in_q
    else:
        in_q = quant(rng, dtype, 1e-3, 0.5)
        out_q = quant(rng, dtype, 1e-3, 0.5)
    model = single_op_model(op, [TensorSpec(x.shape, dtype, *in_q)], [TensorSpec(x.shape, dtype, *out_q)])
    return case(op, dtype, model, [x], {"input_q": in_q, "output_q": out_q})


# ------------------------------------------------------------------------------------------------
# ADD, SUB, MUL, MINIMUM, MAXIMUM


def broadcast_pair(rng: np.random.Generator, max_rank: int = 8) -> tuple[tuple, tuple]:
    """Two input shapes: half the time equal, otherwise NumPy-broadcastable (ranks may differ)."""
    out = random_shape(rng, 1, max_rank, 3) if rng.random() < 0.2 else random_shape(rng, 1, min(max_rank, 4), 4)
    if rng.random() < 0.5:
        return out, out

    def reduce(shape: tuple) -> tuple:
        shape = list(shape)
        while len(shape) > 1 and rng.random() < 0.3:
            shape.pop(0)
        return tuple(1 if rng.random() < 0.4 else d for d in shape)

    return reduce(out), reduce(out)


def gen_binary(rng: np.random.Generator, op: str, dtype: str) -> Case:
    """ADD, SUB, MUL, MINIMUM, MAXIMUM with NumPy broadcasting up to 8-D (TFLM broadcasts up to 4-D only:
    not compared there), a constant second input now and then, every activation and rarely TANH (no clamp).
    int8/uint8: equal or power-of-two related scales (rounding ties). float32: NaN, values that overflow to
    inf. int32/int64: the whole range (wraps like the C++ integer ops). Probes: int8 with a uint8 second
    input (LiteRT rejects; TFLM does not check: undefined there), SUB with a zero point outside the type
    (LiteRT rejects; TFLM runs it unchecked: undefined there)."""
    shape1, shape2 = broadcast_pair(rng)
    out_shape = tuple(int(d) for d in np.broadcast_shapes(shape1, shape2))
    probe, tflm = None, TFLM_AS_LITERT
    quantized = dtype in QUANTIZED
    if quantized and rng.random() < 0.15:  # equal (or power-of-two related) scales: rounding ties
        scale = log_uniform(rng, 1e-3, 1.0)
        scales = [scale, f32(scale * choice(rng, (1, 2, 0.5))), f32(scale * choice(rng, (1, 2, 0.5, 4)))]
    else:
        scales = [log_uniform(rng, 1e-3, 1.0) for _ in range(3)]
    zps = [zero_point(rng, dtype) if quantized else None for _ in range(3)]
    if quantized and op == "SUB" and rng.random() < 0.04:
        zps[int(rng.integers(3))] = choice(rng, (-300, 300))
        # TFLM does not check it; refinterp refuses such a zero point when it loads the model
        probe, tflm = "zero point outside the type range", TFLM_UNDEFINED
    if not quantized:
        scales = [None] * 3
    activation = choice(rng, ACTIVATIONS) if op in ("ADD", "SUB", "MUL") else None
    if activation is not None and rng.random() < 0.03:
        activation = "TANH"
    options = {"fused_activation_function": activation} if activation else {}
    if dtype == "float32" and op in ("ADD", "SUB", "MUL") and rng.random() < 0.1:
        # overflow to +-inf, which TFLite's [lowest, max] clamp maps to +-FLT_MAX
        x1, x2, values_note = values_of(rng, shape1, dtype, 1e38), values_of(rng, shape2, dtype, 1e38), "huge"
    elif dtype in ("int32", "int64") and rng.random() < 0.15:
        x1, x2, values_note = int_values(rng, shape1, dtype), int_values(rng, shape2, dtype), "full range"
    else:
        x1, x2 = values_of(rng, shape1, dtype), values_of(rng, shape2, dtype)
        values_note = "random"
    if dtype == "float32" and rng.random() < 0.2:
        x1.reshape(-1)[0] = np.nan
        values_note += "+nan"
    second_constant = rng.random() < 0.2
    dtype2 = dtype
    if dtype == "int8" and rng.random() < 0.03:
        dtype2, zps[1], probe, tflm = "uint8", zps[1] + 128, "inputs of different types", TFLM_UNDEFINED
        x2 = (x2.astype(np.int16) + 128).astype(np.uint8)
    edge = None
    if tflm == TFLM_AS_LITERT and max(len(shape1), len(shape2)) > 4:
        tflm, edge = TFLM_NOT_COMPARED, "rank above 4"
    inputs = [TensorSpec(shape1, dtype, scales[0], zps[0]),
              TensorSpec(shape2, dtype2, scales[1], zps[1], data=x2 if second_constant else None)]
    model = single_op_model(op, inputs, [TensorSpec(out_shape, dtype, scales[2], zps[2])], options)
    params = {"shapes": (shape1, shape2), "scales": scales, "zero_points": zps, "activation": activation,
              "values": values_note, "second_constant": second_constant}
    return case(op, dtype, model, [x1] if second_constant else [x1, x2], params, probe, edge, tflm)


# ------------------------------------------------------------------------------------------------
# CONCATENATION, PACK


def gen_concatenation(rng: np.random.Generator, dtype: str) -> Case:
    """CONCATENATION of 2 to 4 inputs along any axis (negative too). Probes: a fused activation (TFLite's
    kernel takes NONE only); int8: an input or output whose (scale, zero point) differs from the others'
    (concatenation.cc requires them equal); int16: a zero point other than 0 (required). Valid: int16 with
    differing scales (raw values are copied), uint8 with differing parameters (inputs are requantized; 30%
    of the cases keep them all equal)."""
    rank = int(rng.integers(1, 5))
    base = [int(d) for d in rng.integers(1, 5, rank)]
    count = int(rng.integers(2, 5))
    axis = int(rng.integers(-rank, rank))
    shapes = []
    for size in rng.integers(1, 5, count):
        shape = list(base)
        shape[axis] = int(size)
        shapes.append(tuple(shape))
    output_shape = list(base)
    output_shape[axis] = sum(s[axis] for s in shapes)
    probes, edge = [], None
    activation = "NONE" if rng.random() < 0.95 else choice(rng, ACTIVATIONS[1:])
    if activation != "NONE":
        probes.append("fused activation on CONCATENATION")
    params: dict[str, Any] = {"axis": axis, "input_shapes": shapes, "activation": activation}
    out_q: tuple = (None, None)
    in_qs: list[tuple] = [(None, None)] * count
    if dtype in QUANTIZED_STORAGE:
        out_q = quant(rng, dtype, storage=True)
        in_qs = [out_q] * count
        if dtype == "uint8" and rng.random() < 0.7:
            in_qs = [out_q if rng.random() < 0.25 else (f32(out_q[0] * 2 ** rng.uniform(-3, 3)),
                                                          zero_point(rng, "uint8")) for _ in shapes]
            params["scaling"] = "mixed"
        elif dtype != "uint8" and rng.random() < 0.08:
            mismatch = choice(rng, ("input scale", "input zero point", "output scale"))
            victim = int(rng.integers(count))
            if mismatch == "input scale":
                in_qs[victim] = (f32(out_q[0] * rng.uniform(1.01, 3)), out_q[1])
            elif mismatch == "input zero point":
                in_qs[victim] = (out_q[0], out_q[1] + 1 if out_q[1] < 127 else out_q[1] - 1)
            else:
                out_q = (f32(out_q[0] * rng.uniform(0.3, 0.99)), out_q[1])
            if dtype == "int16" and mismatch != "input zero point":
                edge = f"int16 scales differ ({mismatch})"
            else:
                probes.append(f"{dtype} quantization mismatch ({mismatch})")
        params.update(input_qs=in_qs, output_q=out_q)
    model = single_op_model("CONCATENATION", [TensorSpec(s, dtype, *q) for s, q in zip(shapes, in_qs)],
                            [TensorSpec(tuple(output_shape), dtype, *out_q)],
                            {"axis": axis, "fused_activation_function": activation})
    return case("CONCATENATION", dtype, model, [values_of(rng, s, dtype) for s in shapes], params, join(*probes),
                None if probes else edge)


def gen_pack(rng: np.random.Generator, dtype: str) -> Case:
    """PACK of 1 to 4 inputs (scalars too) along any axis. Probe (quantized): an input whose scale differs."""
    probe = None
    shape = random_shape(rng, 0 if rng.random() < 0.1 else 1, 4, 4)
    count = int(rng.integers(1, 5))
    axis = int(rng.integers(-len(shape) - 1, len(shape) + 1))
    q = quant(rng, dtype, storage=True)
    in_qs = [q] * count
    if dtype in QUANTIZED_STORAGE and count > 1 and rng.random() < 0.05:
        in_qs = [q] * (count - 1) + [(f32(q[0] * 2), q[1])]
        probe = "an input's scale differs from the output's"
    out_shape = list(shape)
    out_shape.insert(axis if axis >= 0 else axis + len(shape) + 1, count)
    model = single_op_model("PACK", [TensorSpec(shape, dtype, *iq) for iq in in_qs],
                            [TensorSpec(tuple(out_shape), dtype, *q)], {"axis": axis, "values_count": count})
    inputs = [values_of(rng, shape, dtype) for _ in range(count)]
    return case("PACK", dtype, model, inputs, {"shape": shape, "count": count, "axis": axis, "q": q}, probe)


# ------------------------------------------------------------------------------------------------
# PAD, PADV2, TRANSPOSE, STRIDED_SLICE, SHAPE, TILE, RESHAPE


def gen_pad(rng: np.random.Generator, op: str, dtype: str) -> Case:
    """PAD and PADV2 up to 5-D with int32 or int64 paddings. Probes: rank 6, a negative padding, and (PADV2,
    quantized) a constant_values scale different from the output's."""
    probe = None
    rank = int(rng.integers(1, 6))
    if rng.random() < 0.03:
        rank, probe = 6, "rank 6"
    shape = random_shape(rng, rank, rank, 4)
    paddings = rng.integers(0, 3, size=(rank, 2))
    if rng.random() < 0.03:
        paddings[int(rng.integers(rank)), int(rng.integers(2))] = -1
        probe = "negative padding"
    padding_type = choice(rng, ("int32", "int64"))
    paddings = paddings.astype(padding_type)
    out_shape = tuple(int(d + a + b) for d, (a, b) in zip(shape, paddings))
    q = quant(rng, dtype, storage=True)
    inputs = [TensorSpec(shape, dtype, *q), TensorSpec(paddings.shape, padding_type, data=paddings)]
    constant_note = None
    if op == "PADV2":
        c_q = q
        if dtype in QUANTIZED_STORAGE and rng.random() < 0.05:
            c_q, probe = (f32(q[0] * 2), q[1]), "constant_values scale differs from the output's"
        constant = values_of(rng, (), dtype)
        constant_note = constant.item()
        inputs.append(TensorSpec((), dtype, *c_q, data=np.asarray(constant, dtype=dtype).reshape(())))
    model = single_op_model(op, inputs, [TensorSpec(out_shape, dtype, *q)])
    params = {"shape": shape, "paddings": paddings.tolist(), "padding_type": padding_type, "q": q,
              "constant": constant_note}
    return case(op, dtype, model, [values_of(rng, shape, dtype)], params, probe)


def gen_transpose(rng: np.random.Generator, dtype: str) -> Case:
    """TRANSPOSE up to 8-D, negative perm entries now and then. Probe: rank 9."""
    probe = None
    shape = random_shape(rng, 1, 8, 3) if rng.random() < 0.3 else random_shape(rng, 1, 5, 4)
    if rng.random() < 0.03:
        shape, probe = (1, 2, 1, 2, 1, 2, 1, 2, 1), "rank 9"
    rank = len(shape)
    perm = [int(v) for v in rng.permutation(rank)]
    if rng.random() < 0.3:  # negative entries count from the end
        perm = [v - rank if rng.random() < 0.5 else v for v in perm]
    out_shape = tuple(shape[(v + rank) % rank] for v in perm)
    q = quant(rng, dtype, storage=True)
    model = single_op_model("TRANSPOSE", [TensorSpec(shape, dtype, *q),
                                          TensorSpec((rank,), "int32", data=np.array(perm, np.int32))],
                            [TensorSpec(out_shape, dtype, *q)])
    return case("TRANSPOSE", dtype, model, [values_of(rng, shape, dtype)], {"shape": shape, "perm": perm}, probe)


def strided_slice_shape(shape: tuple, begin: list, end: list, strides: list, masks: dict) -> tuple[int, ...]:
    """The output shape, by NumPy indexing with the masks turned into an index (``offset``: end is a size).
    Only the declared output shape: both runtimes compute their own and their outputs are compared."""
    index: list[Any] = []
    for i in range(len(begin)):
        bit = 1 << i
        if masks["ellipsis_mask"] & bit:
            index.append(Ellipsis)
        elif masks["new_axis_mask"] & bit:
            index.append(None)
        elif masks["shrink_axis_mask"] & bit:
            index.append(begin[i])
        else:
            b = None if masks["begin_mask"] & bit else begin[i]
            e = None if masks["end_mask"] & bit else (begin[i] + end[i] if masks["offset"] else end[i])
            index.append(slice(b, e, strides[i]))
    try:
        return np.empty(shape)[tuple(index)].shape
    except IndexError:
        return (1,)


def gen_strided_slice(rng: np.random.Generator, dtype: str) -> Case:
    """STRIDED_SLICE with begin/end out of range, negative strides, and every mask: begin, end, shrink_axis,
    ellipsis, new_axis, and offset (end counts from begin)."""
    shape = random_shape(rng, 1, 5, 6)
    rank = len(shape)
    masks: dict[str, Any] = {k: 0 for k in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask",
                                            "shrink_axis_mask")}
    masks["offset"] = False
    count = rank if rng.random() < 0.8 else int(rng.integers(1, rank + 1))
    begin, end, strides = [], [], []
    for i in range(count):
        n = shape[i]
        begin.append(int(rng.integers(-n - 2, n + 2)))
        end.append(int(rng.integers(-n - 2, n + 2)))
        strides.append(int(choice(rng, (1, 1, 1, 2, 3, -1, -2))))
        if rng.random() < 0.2:
            masks["begin_mask"] |= 1 << i
        if rng.random() < 0.2:
            masks["end_mask"] |= 1 << i
    style = rng.random()
    if style < 0.15:  # shrink some axes, with an index inside the axis
        for i in range(count):
            if rng.random() < 0.5:
                masks["shrink_axis_mask"] |= 1 << i
                begin[i] = int(rng.integers(-shape[i], shape[i]))
                strides[i] = 1
                masks["begin_mask"] &= ~(1 << i)
    elif style < 0.25:  # one ellipsis
        masks["ellipsis_mask"] = 1 << int(rng.integers(count))
    elif style < 0.35:  # new axes (the shape gets extra 1s; begin/end/strides grow with them)
        for _ in range(int(rng.integers(1, 3))):
            position = int(rng.integers(len(begin) + 1))
            for values, value in ((begin, 0), (end, 1), (strides, 1)):
                values.insert(position, value)
            for key in ("begin_mask", "end_mask", "shrink_axis_mask", "new_axis_mask"):
                low = masks[key] & ((1 << position) - 1)
                masks[key] = low | ((masks[key] >> position) << (position + 1))
            masks["new_axis_mask"] |= 1 << position
    elif style < 0.45:  # offset: end is a size, begin inside the axis, the slice within bounds
        masks = {k: 0 for k in masks}
        masks["offset"] = True
        begin, end, strides = [], [], []
        for n in shape:
            b = int(rng.integers(0, n))
            begin.append(b)
            end.append(int(rng.integers(0, n - b + 1)))
            strides.append(int(choice(rng, (1, 1, 2))))
    out_shape = strided_slice_shape(shape, begin, end, strides, masks)
    q = quant(rng, dtype, storage=True)
    consts = [TensorSpec((len(v),), "int32", data=np.array(v, np.int32)) for v in (begin, end, strides)]
    model = single_op_model("STRIDED_SLICE", [TensorSpec(shape, dtype, *q), *consts],
                            [TensorSpec(out_shape, dtype, *q)], dict(masks))
    params = {"shape": shape, "begin": begin, "end": end, "strides": strides, **{k: v for k, v in masks.items() if v}}
    return case("STRIDED_SLICE", dtype, model, [values_of(rng, shape, dtype)], params)


def gen_shape(rng: np.random.Generator, dtype: str) -> Case:
    """SHAPE, out_type int32 or int64 (a rank-0 input gives a 0-element output LiteRT's Python API cannot
    read: not drawn)."""
    shape = random_shape(rng, 1, 5, 5)
    out_type = choice(rng, ("int32", "int64"))
    q = quant(rng, dtype, storage=True)
    model = single_op_model("SHAPE", [TensorSpec(shape, dtype, *q)], [TensorSpec((len(shape),), out_type)],
                            {"out_type": out_type.upper()})
    return case("SHAPE", dtype, model, [values_of(rng, shape, dtype)], {"shape": shape, "out_type": out_type})


def gen_tile(rng: np.random.Generator, dtype: str) -> Case:
    """TILE up to 5-D, int32 or int64 multiples, a multiple of 0 now and then (an empty output)."""
    shape = random_shape(rng, 1, 5, 4)
    multiples = [int(v) for v in rng.integers(0 if rng.random() < 0.1 else 1, 4, len(shape))]
    multiples_type = choice(rng, ("int32", "int64"))
    q = quant(rng, dtype, storage=True)
    out_shape = tuple(d * m for d, m in zip(shape, multiples))
    model = single_op_model("TILE", [TensorSpec(shape, dtype, *q),
                                     TensorSpec((len(shape),), multiples_type,
                                                data=np.array(multiples, multiples_type))],
                            [TensorSpec(out_shape, dtype, *q)])
    params = {"shape": shape, "multiples": multiples, "multiples_type": multiples_type}
    return case("TILE", dtype, model, [values_of(rng, shape, dtype)], params)


def _factorize(rng: np.random.Generator, total: int, rank: int) -> list[int]:
    """A random shape of ``rank`` dims whose product is ``total``."""
    dims, remaining, factor, primes = [1] * rank, total, 2, []
    while remaining > 1:
        while remaining % factor == 0:
            primes.append(factor)
            remaining //= factor
        factor += 1
    for prime in primes:
        dims[int(rng.integers(rank))] *= prime
    return dims


def gen_reshape(rng: np.random.Generator, dtype: str) -> Case:
    """RESHAPE with the new shape in the options, in a shape input or both (the input wins), a -1 entry,
    the legacy scalar form new_shape [0]. Probes: two -1 entries, an element count that does not match."""
    input_shape = random_shape(rng, max_rank=4, max_dim=5)
    total = math.prod(input_shape)
    output_rank = int(rng.integers(1, 5))
    output_shape = _factorize(rng, total, output_rank)
    requested = list(output_shape)
    if rng.random() < 0.4:
        requested[int(rng.integers(output_rank))] = -1
    source = choice(rng, ("options", "options", "input", "input", "both"))
    probe = None
    if rng.random() < 0.04:
        if rng.random() < 0.5:
            probe, requested = "two -1 entries", [-1, -1, *requested[1:]] if output_rank > 1 else [-1, -1]
        else:
            probe, requested = "element count does not match", [*output_shape, 2]
    if total == 1 and probe is None and rng.random() < 0.3:
        output_shape, requested = [], ([0] if source == "options" else [])  # legacy models write [0] for a scalar
    q = quant(rng, dtype, storage=True)
    inputs_spec = [TensorSpec(input_shape, dtype, *q)]
    options: dict[str, Any] = {}
    if source in ("options", "both"):
        options["new_shape"] = requested
    if source in ("input", "both"):
        inputs_spec.append(TensorSpec((len(requested),), "int32", data=np.array(requested, np.int64)))
        if source == "both":
            options["new_shape"] = [total]  # another valid shape, so that a mix-up shows
    model = single_op_model("RESHAPE", inputs_spec, [TensorSpec(tuple(max(d, 0) for d in output_shape), dtype, *q)],
                            options)
    params = {"input_shape": input_shape, "requested": requested, "source": source,
              "expected_shape": tuple(output_shape)}
    return case("RESHAPE", dtype, model, [values_of(rng, input_shape, dtype)], params, probe)


# ------------------------------------------------------------------------------------------------
# RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR


def gen_resize_nearest(rng: np.random.Generator, dtype: str) -> Case:
    """RESIZE_NEAREST_NEIGHBOR up or down, every align_corners / half_pixel_centers combination (both true is
    valid). 5% give the output another (scale, zero point): values are copied, LiteRT does not check."""
    batch = int(choice(rng, (1, 1, 2)))
    height, width, channels = int(rng.integers(1, 9)), int(rng.integers(1, 9)), int(rng.integers(1, 4))
    new_h, new_w = (int(v) for v in rng.integers(1, 17, 2))
    align_corners, half_pixel_centers = bool(rng.random() < 0.5), bool(rng.random() < 0.5)
    in_q = quant(rng, dtype, storage=True)
    out_q, edge = in_q, None
    if dtype in QUANTIZED_STORAGE and rng.random() < 0.05:
        out_q, edge = quant(rng, dtype, storage=True), "output quantization differs from the input's"
    shape = (batch, height, width, channels)
    model = single_op_model("RESIZE_NEAREST_NEIGHBOR",
                            [TensorSpec(shape, dtype, *in_q), TensorSpec((2,), "int32", data=np.array([new_h, new_w]))],
                            [TensorSpec((batch, new_h, new_w, channels), dtype, *out_q)],
                            {"align_corners": align_corners, "half_pixel_centers": half_pixel_centers})
    params = {"input_shape": shape, "size": (new_h, new_w), "align_corners": align_corners,
              "half_pixel_centers": half_pixel_centers, "input_q": in_q, "output_q": out_q}
    return case("RESIZE_NEAREST_NEIGHBOR", dtype, model, [values_of(rng, shape, dtype)], params, edge=edge)


def gen_resize_bilinear(rng: np.random.Generator, dtype: str) -> Case:
    """RESIZE_BILINEAR up or down. Probe: align_corners and half_pixel_centers both true."""
    probe = None
    batch, channels = int(rng.integers(1, 3)), int(rng.integers(1, 4))
    in_h, in_w = (int(v) for v in rng.integers(1, 9, 2))
    out_h, out_w = (int(v) for v in rng.integers(1, 17, 2))
    flags = choice(rng, ((False, False), (True, False), (False, True), (False, True)))
    if rng.random() < 0.03:
        flags, probe = (True, True), "align_corners and half_pixel_centers"
    q = quant(rng, dtype)
    model = single_op_model("RESIZE_BILINEAR", [TensorSpec((batch, in_h, in_w, channels), dtype, *q),
                                                TensorSpec((2,), "int32", data=np.array([out_h, out_w], np.int32))],
                            [TensorSpec((batch, out_h, out_w, channels), dtype, *q)],
                            {"align_corners": flags[0], "half_pixel_centers": flags[1]})
    params = {"in": (batch, in_h, in_w, channels), "out": (out_h, out_w), "align_corners": flags[0],
              "half_pixel_centers": flags[1], "q": q}
    return case("RESIZE_BILINEAR", dtype, model, [values_of(rng, (batch, in_h, in_w, channels), dtype)], params,
                probe)


# ------------------------------------------------------------------------------------------------
# QUANTIZE, DEQUANTIZE


def gen_quantize_float(rng: np.random.Generator, out_dtype: str) -> Case:
    """QUANTIZE float32 -> int8/uint8: values inside the range, exact ties (k + 0.5) * scale (half away from
    zero vs half even), values far outside (saturation); 20% per-channel along a random axis."""
    shape = random_shape(rng)
    size = math.prod(shape)
    low, high = INT_RANGES[out_dtype]
    per_channel = rng.random() < 0.2
    axis = int(rng.integers(len(shape)))
    channels = shape[axis] if per_channel else 1
    scales = [log_uniform(rng, 1e-3, 1.0) for _ in range(channels)]
    zps = [zero_point(rng, out_dtype) for _ in range(channels)] if not per_channel or out_dtype == "uint8" \
        else [0] * channels
    q_float = rng.uniform(low - 32, high + 33, size).reshape(shape)
    ties = rng.random(shape) < 0.3
    q_float[ties] = np.floor(q_float[ties]) + 0.5
    bshape = [1] * len(shape)
    bshape[axis] = channels
    scale_b = np.array(scales).reshape(bshape) if per_channel else scales[0]
    zp_b = np.array(zps).reshape(bshape) if per_channel else zps[0]
    x = (q_float - zp_b) * scale_b
    far = rng.random(shape) < 0.05
    x[far] = (rng.uniform(-1e3, 1e3, shape) * scale_b)[far]
    x = x.astype(np.float32)
    if per_channel:
        out = TensorSpec(shape, out_dtype, scales, zps, quantized_dimension=axis)
    else:
        out = TensorSpec(shape, out_dtype, scales[0], zps[0])
    model = single_op_model("QUANTIZE", [TensorSpec(shape, "float32")], [out])
    params = {"shape": shape, "per_channel_axis": axis if per_channel else None, "scales": scales, "zero_points": zps}
    return case("QUANTIZE", f"float32->{out_dtype}", model, [x], params)


def gen_requantize(rng: np.random.Generator, in_dtype: str, out_dtype: str) -> Case:
    """QUANTIZE int8/uint8 -> int8/uint8: the same scale with zero points 128 apart (TFLite's XOR-0x80 fast
    path), the same scale, scale ratios from 1/100 to 100 (multipliers below and above 1), independent
    scales; every value of the input type (half the cases) or a random tensor."""
    in_q = (log_uniform(rng, 1e-3, 1.0), zero_point(rng, in_dtype))
    draw = rng.random()
    shift = 128 if out_dtype == "uint8" else -128
    if draw < 0.2 and in_dtype != out_dtype:
        out_q, mode = (in_q[0], in_q[1] + shift), "same scale, zero points 128 apart"
    elif draw < 0.3:
        out_q, mode = (in_q[0], zero_point(rng, out_dtype)), "same scale"
    elif draw < 0.65:
        out_q, mode = (f32(in_q[0] * 10 ** rng.uniform(-2, 2)), zero_point(rng, out_dtype)), "ratio"
    else:
        out_q, mode = (log_uniform(rng, 1e-3, 1.0), zero_point(rng, out_dtype)), "independent"
    x, layout = all_values_or_random(rng, in_dtype)
    model = single_op_model("QUANTIZE", [TensorSpec(x.shape, in_dtype, *in_q)],
                            [TensorSpec(x.shape, out_dtype, *out_q)])
    params = {"shape": x.shape, "values": layout, "mode": mode, "input_q": in_q, "output_q": out_q}
    return case("QUANTIZE", f"{in_dtype}->{out_dtype}", model, [x], params)


def gen_dequantize(rng: np.random.Generator, dtype: str) -> Case:
    """DEQUANTIZE int8/uint8/int16 (every value or random; int8 20% per-channel along a random axis) and
    float16 -> float32 (normals, subnormals, infinities, NaN, signed zeros)."""
    if dtype == "float16":
        shape = random_shape(rng, max_dim=6)
        x = float_values(rng, shape, spread=float(10 ** rng.uniform(-6, 4)), dtype="float16")
        specials = np.array([np.inf, -np.inf, np.nan, -0.0, 6e-8, -6e-8, 65504, 1e-5], np.float16)
        x.reshape(-1)[: min(x.size, specials.size)] = rng.permutation(specials)[: min(x.size, specials.size)]
        model = single_op_model("DEQUANTIZE", [TensorSpec(shape, "float16")], [TensorSpec(shape, "float32")])
        return case("DEQUANTIZE", dtype, model, [x], {"shape": shape})
    x, layout = all_values_or_random(rng, dtype)
    if dtype == "int16" and layout == "random" and rng.random() < 0.5:
        x, layout = np.arange(-32768, 32768, 7).astype(np.int16), "every 7th value"
    per_channel = dtype == "int8" and x.ndim > 1 and rng.random() < 0.4
    if per_channel:
        axis = int(rng.integers(x.ndim))
        scales = [log_uniform(rng, 1e-4, 10.0) for _ in range(x.shape[axis])]
        spec = TensorSpec(x.shape, dtype, scales, [0] * len(scales), quantized_dimension=axis)
        params = {"shape": x.shape, "values": layout, "per_channel_axis": axis, "scales": scales}
    else:
        q = (log_uniform(rng, 1e-4, 10.0), 0 if dtype == "int16" else zero_point(rng, dtype))
        spec = TensorSpec(x.shape, dtype, *q)
        params = {"shape": x.shape, "values": layout, "input_q": q}
    model = single_op_model("DEQUANTIZE", [spec], [TensorSpec(x.shape, "float32")])
    return case("DEQUANTIZE", dtype, model, [x], params)


# ------------------------------------------------------------------------------------------------
# Elementwise math: ABS, NEG, SQRT, RSQRT, EXP, LOG, SIN, COS, SQUARE, FLOOR, CEIL, ROUND, ELU, HARD_SWISH,
# PRELU, L2_NORMALIZATION, LOG_SOFTMAX; DIV, FLOOR_DIV, FLOOR_MOD, SQUARED_DIFFERENCE, POW, ADD_N

FLOAT_SPECIALS = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, -1e-40, 3.4e38, -3.4e38, 1.0, -1.0, 0.5,
                           -0.5, 2.5, -2.5, 88.8, -104.0], np.float32)
SQRT_LIKE = ("SQRT", "RSQRT")
# RSQRT int8 (input scale, output scale) pairs, zero points -128, whose outputs differ between LiteRT's float32
# multiplier and TFLM's double one (SetRsqrtOutputMultiplier; found by measuring both runtimes)
RSQRT_SCALES_LITERT_TFLM_DIFFER = (
    (0.002654329175129533, 0.008693529292941093), (0.004126346204429865, 0.03340764716267586),
    (0.03529881685972214, 0.003256402211263776), (0.002460577990859747, 0.023975368589162827),
    (0.058235276490449905, 0.0026694333646446466), (0.00110265938565135, 0.5961924195289612),
    (0.0082569420337677, 0.008152108639478683), (0.0029724184423685074, 0.07267066836357117),
    (0.0003042891912627965, 0.022518612444400787), (0.00041968419100157917, 0.03034408576786518),
    (0.007733233273029327, 0.0060452669858932495), (0.002712532877922058, 0.346617192029953),
    (0.002157616661861539, 0.0113463643938303), (0.004901524633169174, 0.012609776109457016),
    (0.11600619554519653, 0.008344979956746101), (0.0006568897515535355, 0.02921769954264164),
)


def float_math_values(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """float32 over many magnitudes, with specials (signed zeros, infinities, NaN, subnormals, ties)."""
    x = float_values(rng, shape, spread=float(10 ** rng.uniform(-3, 3)))
    count = min(x.size, int(rng.integers(0, 6)))
    if count:
        x.reshape(-1)[rng.choice(x.size, count, replace=False)] = rng.choice(FLOAT_SPECIALS, count)
    return x


def gen_unary(rng: np.random.Generator, op: str, dtype: str) -> Case:
    """Elementwise unary math. float32: values over many magnitudes with specials. int8 (quantized): every
    value or a random tensor, any input and output parameters; SQRT and RSQRT are defined only for inputs at
    or above the zero point (probe: an input below it, which LiteRT rejects at invoke). NEG int8 and the
    int32/int64 kinds take raw values (the most negative value included: it wraps)."""
    if dtype == "float32":
        shape = random_shape(rng, max_dim=6)
        model = single_op_model(op, [TensorSpec(shape, dtype)], [TensorSpec(shape, dtype)])
        return case(op, dtype, model, [float_math_values(rng, shape)], {"shape": shape})
    if dtype in ("int32", "int64"):
        shape = random_shape(rng, max_dim=6)
        x = values_of(rng, shape, dtype)
        x.reshape(-1)[0] = INT_RANGES[dtype][0] if rng.random() < 0.3 else x.reshape(-1)[0]
        model = single_op_model(op, [TensorSpec(shape, dtype)], [TensorSpec(shape, dtype)])
        return case(op, dtype, model, [x], {"shape": shape})
    x, layout = all_values_or_random(rng, dtype)
    in_q, out_q = quant(rng, dtype), quant(rng, dtype)
    if op == "HARD_SWISH":  # HardSwishPrepare needs s_out >= s_in / 128 (an output exponent <= 0)
        out_q = (f32(in_q[0] * 2.0 ** rng.uniform(-6, 3)), out_q[1])
    if op == "RSQRT" and rng.random() < 0.15:
        # scales whose multiplier LiteRT (float32) and TFLM (double) round to different outputs
        scales = RSQRT_SCALES_LITERT_TFLM_DIFFER[int(rng.integers(len(RSQRT_SCALES_LITERT_TFLM_DIFFER)))]
        in_q, out_q = (scales[0], -128), (scales[1], -128)
    params: dict[str, Any] = {"shape": x.shape, "values": layout, "input_q": in_q, "output_q": out_q}
    probe = None
    if op in SQRT_LIKE:
        low = in_q[1]
        x = np.maximum(x, np.int8(low)) if layout == "random" else \
            rng.permutation(np.arange(low, 128)).astype(np.int8)
        if rng.random() < 0.05 and low > -128:
            x.reshape(-1)[int(rng.integers(x.size))] = int(rng.integers(-128, low))
            probe = "an input below the zero point"
    model = single_op_model(op, [TensorSpec(x.shape, dtype, *in_q)], [TensorSpec(x.shape, dtype, *out_q)])
    return case(op, dtype, model, [x], params, probe)


def gen_prelu(rng: np.random.Generator, dtype: str) -> Case:
    """PRELU with alpha of any shape that broadcasts to the input's (constant, or an input 20% of the time);
    8-bit: independent parameters for input, alpha and output."""
    shape = random_shape(rng, 1, 4, 5)
    alpha_shape = tuple(1 if rng.random() < 0.5 else d for d in shape[int(rng.integers(len(shape))):])
    constant = rng.random() < 0.8
    in_q, alpha_q, out_q = quant(rng, dtype), quant(rng, dtype), quant(rng, dtype)
    alpha = values_of(rng, alpha_shape, dtype, spread=0.5)
    model = single_op_model("PRELU", [TensorSpec(shape, dtype, *in_q),
                                      TensorSpec(alpha_shape, dtype, *alpha_q, data=alpha if constant else None)],
                            [TensorSpec(shape, dtype, *out_q)])
    x = values_of(rng, shape, dtype, spread=float(rng.uniform(0.5, 10)))
    params = {"shape": shape, "alpha_shape": alpha_shape, "alpha_constant": constant, "input_q": in_q,
              "alpha_q": alpha_q, "output_q": out_q}
    return case("PRELU", dtype, model, [x] if constant else [x, alpha], params)


def gen_l2_normalization(rng: np.random.Generator, dtype: str) -> Case:
    """L2_NORMALIZATION along the last axis, ranks 1 to 4; 8-bit output (1/128, 0) for int8, (1/128, 128)
    for uint8 (l2norm.cc requires them); rows at the zero point (a zero norm) now and then."""
    shape = random_shape(rng, 1, 4, 6)
    if rng.random() < 0.1:
        shape = (*shape[:-1], int(rng.integers(50, 300)))
    in_q = quant(rng, dtype)
    out_q = (None, None) if dtype == "float32" else (1.0 / 128, 0 if dtype == "int8" else 128)
    x = values_of(rng, shape, dtype)
    if rng.random() < 0.1:
        x[..., :] = in_q[1] if dtype != "float32" else 0.0
        x.reshape(-1, shape[-1])[1:] = values_of(rng, shape, dtype).reshape(-1, shape[-1])[1:]
    model = single_op_model("L2_NORMALIZATION", [TensorSpec(shape, dtype, *in_q)], [TensorSpec(shape, dtype, *out_q)],
                            {"fused_activation_function": "NONE"})
    return case("L2_NORMALIZATION", dtype, model, [x], {"shape": shape, "input_q": in_q})


def gen_log_softmax(rng: np.random.Generator, dtype: str) -> Case:
    """LOG_SOFTMAX float32 along the last axis."""
    shape = _activation_shape(rng)
    model = single_op_model("LOG_SOFTMAX", [TensorSpec(shape, dtype)], [TensorSpec(shape, dtype)])
    x = float_values(rng, shape, spread=float(rng.uniform(0.5, 30)))
    return case("LOG_SOFTMAX", dtype, model, [x], {"shape": shape})


def gen_binary_math(rng: np.random.Generator, op: str, dtype: str) -> Case:
    """DIV, FLOOR_DIV, FLOOR_MOD, SQUARED_DIFFERENCE, POW with broadcasting up to 4-D. Probes: a zero divisor
    (DIV/FLOOR_DIV/FLOOR_MOD on integers, FLOOR_DIV on floats; quantized DIV: a divisor at the zero point)
    and a negative int32 POW exponent, all rejected by LiteRT at invoke. Never drawn, because the C++ kernel
    traps: the most negative integer divided by -1."""
    shape1, shape2 = broadcast_pair(rng, max_rank=4)
    out_shape = tuple(int(d) for d in np.broadcast_shapes(shape1, shape2))
    quantized = dtype in QUANTIZED and op in ("DIV", "SQUARED_DIFFERENCE")
    q1, q2, q_out = quant(rng, dtype), quant(rng, dtype), quant(rng, dtype)
    if dtype in QUANTIZED and not quantized:  # raw 8-bit values (FLOOR_DIV, FLOOR_MOD): any parameters
        q_out = q2 = q1
    if quantized and op == "SQUARED_DIFFERENCE":  # a typical squared difference near the output range
        q_out = (f32(128 * max(q1[0], q2[0]) ** 2 * 2.0 ** rng.uniform(-4, 4)), q_out[1])
    options: dict[str, Any] = {}
    if op == "DIV":
        options["fused_activation_function"] = choice(rng, ACTIVATIONS)
    if dtype == "float32":
        x1, x2 = float_math_values(rng, shape1), float_math_values(rng, shape2)
    elif op == "POW":
        x1 = rng.integers(-10, 11, shape1).astype(dtype)
        x2 = rng.integers(0, 10, shape2).astype(dtype)
    elif dtype in ("int32", "int64") and op != "SQUARED_DIFFERENCE" and rng.random() < 0.2:
        x1, x2 = int_values(rng, shape1, dtype), values_of(rng, shape2, dtype)
    else:
        x1, x2 = values_of(rng, shape1, dtype), values_of(rng, shape2, dtype)
    if dtype in ("int32", "int64") or (dtype == "int8" and op == "FLOOR_DIV"):
        # INT_MIN / -1 traps (int32, int64); int8 FLOOR_DIV gives -128 or 127 by vector-loop position in LiteRT,
        # which refinterp refuses at invoke: neither is drawn as an ordinary case
        x1[x1 == INT_RANGES[dtype][0]] += 1
    zero = q2[1] if quantized else 0
    probe = None
    if op in ("DIV", "FLOOR_DIV", "FLOOR_MOD") and (dtype != "float32" or op == "FLOOR_DIV"):
        x2[x2 == zero] = zero + 1 if zero < INT_RANGES.get(dtype, (0, 2**31))[1] else zero - 1
        if rng.random() < 0.04:
            x2.reshape(-1)[int(rng.integers(x2.size))] = zero
            probe = "a zero divisor"
    if op == "POW" and dtype == "int32" and rng.random() < 0.04:
        x2.reshape(-1)[int(rng.integers(x2.size))] = -1
        probe = "a negative exponent"
    second_constant = rng.random() < 0.2
    model = single_op_model(op, [TensorSpec(shape1, dtype, *q1),
                                 TensorSpec(shape2, dtype, *q2, data=x2 if second_constant else None)],
                            [TensorSpec(out_shape, dtype, *q_out)], options)
    params = {"shapes": (shape1, shape2), "qs": (q1, q2, q_out), "second_constant": second_constant, **options}
    return case(op, dtype, model, [x1] if second_constant else [x1, x2], params, probe)


def gen_add_n(rng: np.random.Generator, dtype: str) -> Case:
    """ADD_N of 2 to 5 inputs of one shape (int32 wraps)."""
    shape = random_shape(rng, 1, 4, 5)
    count = int(rng.integers(2, 6))
    model = single_op_model("ADD_N", [TensorSpec(shape, dtype)] * count, [TensorSpec(shape, dtype)])
    inputs = [float_math_values(rng, shape) if dtype == "float32" else values_of(rng, shape, dtype)
              for _ in range(count)]
    return case("ADD_N", dtype, model, inputs, {"shape": shape, "count": count})


# ------------------------------------------------------------------------------------------------
# The table


def _table() -> dict[tuple[str, str], Generator]:
    table: dict[tuple[str, str], Generator] = {}

    def add(op: str, kinds: tuple[str, ...], make: Callable[[np.random.Generator, str], Case]) -> None:
        for kind in kinds:
            table[(op, kind)] = (lambda k: lambda rng: make(rng, k))(kind)

    add("CONV_2D", ("int8", "float32"), gen_conv2d)
    add("DEPTHWISE_CONV_2D", ("int8", "float32"), gen_depthwise)
    add("FULLY_CONNECTED", ("int8", "float32"), gen_fully_connected)
    for op in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        add(op, ("int8", "uint8", "float32"), lambda rng, k, op=op: gen_pool(rng, op, k))
    for op in ("MEAN", "REDUCE_MAX"):
        add(op, ("int8", "uint8", "float32"), lambda rng, k, op=op: gen_reduce(rng, op, k))
    add("SOFTMAX", ("int8->int8", "int8->int16", "float32"), gen_softmax)
    add("LOGISTIC", ("int8", "float32"), gen_logistic)
    add("LEAKY_RELU", ("int8", "uint8", "float32"), gen_leaky_relu)
    for op in ("RELU", "RELU6", "RELU_N1_TO_1"):
        add(op, ("int8", "uint8", "float32"), lambda rng, k, op=op: gen_relu(rng, op, k))
    for op in ("ADD", "SUB", "MUL"):
        add(op, ("int8", "uint8", "float32", "int32", "int64"), lambda rng, k, op=op: gen_binary(rng, op, k))
    for op in ("MINIMUM", "MAXIMUM"):
        add(op, ("int8", "uint8", "int16", "int32", "int64", "float32"),
            lambda rng, k, op=op: gen_binary(rng, op, k))
    add("CONCATENATION", ("int8", "uint8", "int16", "int32", "int64", "float32", "bool"), gen_concatenation)
    add("PACK", ("int8", "uint8", "int16", "int32", "uint32", "int64", "float32"), gen_pack)
    for op in ("PAD", "PADV2"):
        add(op, ("int8", "uint8", "int16", "int32", "int64", "float32"), lambda rng, k, op=op: gen_pad(rng, op, k))
    add("TRANSPOSE", ANY_DTYPES, gen_transpose)
    add("STRIDED_SLICE", ANY_DTYPES, gen_strided_slice)
    add("SHAPE", ANY_DTYPES, gen_shape)
    add("TILE", ANY_DTYPES, gen_tile)
    add("RESHAPE", ANY_DTYPES, gen_reshape)
    add("RESIZE_NEAREST_NEIGHBOR", ("int8", "uint8", "int16", "float32"), gen_resize_nearest)
    add("RESIZE_BILINEAR", ("int8", "uint8", "float32"), gen_resize_bilinear)
    for out_dtype in ("int8", "uint8"):
        table[("QUANTIZE", f"float32->{out_dtype}")] = (lambda o: lambda rng: gen_quantize_float(rng, o))(out_dtype)
    for in_dtype in ("int8", "uint8"):
        for out_dtype in ("int8", "uint8"):
            table[("QUANTIZE", f"{in_dtype}->{out_dtype}")] = (
                lambda i, o: lambda rng: gen_requantize(rng, i, o))(in_dtype, out_dtype)
    add("DEQUANTIZE", ("int8", "uint8", "int16", "float16"), gen_dequantize)
    unary_kinds = {"ABS": ("int8", "int32", "float32"), "NEG": ("int8", "int32", "int64", "float32"),
                   "SQRT": ("int8", "float32"), "RSQRT": ("int8", "float32"), "EXP": ("int8", "float32"),
                   "LOG": ("int8", "float32"), "SIN": ("float32",), "COS": ("float32",), "SQUARE": ("float32",),
                   "FLOOR": ("float32",), "CEIL": ("float32",), "ROUND": ("float32",), "ELU": ("int8", "float32"),
                   "HARD_SWISH": ("int8", "uint8", "float32")}
    for op, kinds in unary_kinds.items():
        add(op, kinds, lambda rng, k, op=op: gen_unary(rng, op, k))
    add("PRELU", ("int8", "uint8", "float32"), gen_prelu)
    add("L2_NORMALIZATION", ("int8", "uint8", "float32"), gen_l2_normalization)
    add("LOG_SOFTMAX", ("float32",), gen_log_softmax)
    binary_kinds = {"DIV": ("int8", "uint8", "int32", "float32"), "FLOOR_DIV": ("int8", "int32", "float32"),
                    "FLOOR_MOD": ("int8", "int32", "int64", "float32"),
                    "SQUARED_DIFFERENCE": ("int8", "int32", "float32"), "POW": ("int32", "float32")}
    for op, kinds in binary_kinds.items():
        add(op, kinds, lambda rng, k, op=op: gen_binary_math(rng, op, k))
    add("ADD_N", ("int32", "float32"), gen_add_n)
    return table


GENERATORS: dict[tuple[str, str], Generator] = _table()

# The kinds also compared against TFLite Micro (profile "tflm"): where the runtimes differ by design (MUL's
# and RELU's multipliers, RELU6, FULLY_CONNECTED's requantization, LOGISTIC) and every int8 kind of the
# arithmetic-heavy operators.
TFLM_KINDS = frozenset({
    ("CONV_2D", "int8"), ("DEPTHWISE_CONV_2D", "int8"), ("FULLY_CONNECTED", "int8"), ("AVERAGE_POOL_2D", "int8"),
    ("MEAN", "int8"), ("REDUCE_MAX", "int8"), ("SOFTMAX", "int8->int8"), ("SOFTMAX", "int8->int16"),
    ("LOGISTIC", "int8"), ("MUL", "int8"), ("MUL", "float32"), ("RELU", "int8"), ("RELU", "float32"),
    ("RELU6", "int8"), ("RELU6", "float32"), ("ADD", "int8"), ("SUB", "int8"), ("RSQRT", "int8"),
})

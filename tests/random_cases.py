"""Seeded generators of random single-op test cases.

A *case kind* is an (op, dtype) pair such as ``("CONV_2D", "int8")`` or
``("QUANTIZE", "float32->int8")``. :func:`make_case` turns a kind and a seed
into a :class:`Case`: a .tflite model (bytes, from refinterp.modelbuilder), the
input arrays, and a dict of the drawn parameters for failure messages. The same
(kind, seed) always gives the same case, on any machine.

Most cases are valid models. A few percent are drawn on purpose outside what
LiteRT accepts (conv without bias, fused activation on CONCATENATION, two -1 in a
RESHAPE shape, ...) so the tests also check that refinterp rejects what LiteRT
rejects. Which cases LiteRT rejects is decided by running LiteRT, not here.

Reproduce a case from the command line::

    python -m tests.random_cases CONV_2D int8 17 --save /tmp/case
    # writes /tmp/case.tflite and /tmp/case.npz (inputs), prints the parameters
"""

from __future__ import annotations

import argparse
import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from refinterp.modelbuilder import TensorSpec, single_op_model

ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")
INT_RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767)}
FLOAT32_EPSILON = float(np.finfo(np.float32).eps)


@dataclass
class Case:
    """One generated test case."""

    op: str
    dtype: str
    seed: int
    params: dict[str, Any]
    model: bytes
    inputs: list[np.ndarray]
    # Per-output elementwise bound on |refinterp - LiteRT| for float outputs
    # whose value depends on summation order; None means bit-exact is required.
    float_tolerance: list[np.ndarray] | None = None

    def describe(self) -> str:
        """One line that identifies the case and everything drawn for it."""
        params = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.op}/{self.dtype} seed={self.seed}: {params}"


# A generator draws (params, model bytes, input arrays, float tolerance or None).
Generator = Callable[
    [np.random.Generator],
    tuple[dict[str, Any], bytes, list[np.ndarray], list[np.ndarray] | None],
]


# ---------------------------------------------------------------------------
# Drawing helpers
# ---------------------------------------------------------------------------


def _f32(value: float) -> float:
    """The float32 value the .tflite file will hold (scales are float32)."""
    return float(np.float32(value))


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return _f32(math.exp(rng.uniform(math.log(low), math.log(high))))


def _zero_point(rng: np.random.Generator, dtype: str) -> int:
    low, high = INT_RANGES[dtype]
    return int(rng.integers(low, high + 1))


def _int_values(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    low, high = INT_RANGES[dtype]
    return rng.integers(low, high + 1, size=shape).astype(dtype)


def _float_values(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    values = rng.standard_normal(shape).astype(np.float32)
    # Sprinkle exact zeros and negative zeros: the sign of zero is part of
    # bit-exactness and activations treat 0 specially.
    mask = rng.random(shape) < 0.05
    values[mask] = np.where(rng.random(int(mask.sum())) < 0.5, 0.0, -0.0)
    return values


def _choice(rng: np.random.Generator, options: tuple | list) -> Any:
    return options[int(rng.integers(len(options)))]


def _out_size(padding: str, size: int, kernel: int, stride: int, dilation: int) -> int:
    """TFLite's output size (padding.h), truncating division as in C."""
    effective = (kernel - 1) * dilation + 1
    if padding == "SAME":
        return (size + stride - 1) // stride
    return int((size + stride - effective) / stride)


def _pad_before(padding: str, size: int, kernel: int, stride: int, dilation: int) -> int:
    """TFLite's leading padding (padding.h: the smaller half of the total)."""
    out = _out_size(padding, size, kernel, stride, dilation)
    effective = (kernel - 1) * dilation + 1
    return max(0, ((out - 1) * stride + effective - size) // 2)


def _spatial_size(rng: np.random.Generator, padding: str, effective: int, allow_empty: bool) -> int:
    """An input size; VALID gets one that fits the window unless empty is allowed."""
    if padding == "VALID" and not allow_empty:
        return int(rng.integers(effective, effective + 7))
    return int(rng.integers(1, 10))


def _window_probe(padding: str, sizes: tuple[int, int], effective: tuple[int, int]) -> list[str]:
    """Names the edge case of a VALID window larger than the input (empty or
    negative output size), which LiteRT treats differently per op."""
    if padding == "VALID" and any(e > s for s, e in zip(sizes, effective, strict=True)):
        return ["VALID window larger than input"]
    return []


def rejection_probe(case: Case) -> str | None:
    """Why the case was drawn outside the always-valid space, or None.

    Only such cases may be rejected by LiteRT; a rejection of any other case
    means a generator bug (the test of the generators checks this).
    """
    return case.params.get("probe")


def _with_probes(params: dict[str, Any], probes: list[str]) -> dict[str, Any]:
    if probes:
        params["probe"] = "; ".join(probes)
    return params


# ---------------------------------------------------------------------------
# CONV_2D
# ---------------------------------------------------------------------------


def _conv_geometry(rng: np.random.Generator) -> dict[str, Any]:
    padding = _choice(rng, ("SAME", "VALID"))
    one_by_one = rng.random() < 0.15
    kernel_h, kernel_w = (1, 1) if one_by_one else tuple(int(k) for k in rng.integers(1, 5, 2))
    stride_h, stride_w = (int(s) for s in rng.integers(1, 4, 2))
    dilated = rng.random() < 0.35
    dilation_h, dilation_w = (int(d) for d in rng.integers(1, 4, 2)) if dilated else (1, 1)
    # About 4% of cases (8% x VALID) let the window outgrow the input: LiteRT
    # then makes an empty output, or rejects a negative size.
    allow_empty = rng.random() < 0.08
    effective = ((kernel_h - 1) * dilation_h + 1, (kernel_w - 1) * dilation_w + 1)
    height = _spatial_size(rng, padding, effective[0], allow_empty)
    width = _spatial_size(rng, padding, effective[1], allow_empty)
    return {
        "batch": int(_choice(rng, (1, 1, 2))),
        "height": height,
        "width": width,
        "in_channels": int(rng.integers(1, 6)),
        "out_channels": int(rng.integers(1, 6)),
        "kernel": (kernel_h, kernel_w),
        "stride": (stride_h, stride_w),
        "dilation": (dilation_h, dilation_w),
        "padding": padding,
        "activation": _choice(rng, ACTIVATIONS),
    }


def raw_output_hw(params: dict[str, Any]) -> tuple[int, int]:
    """(out_h, out_w) of a CONV_2D or MAX_POOL_2D case by TFLite's formula,
    before any clamping: negative when a VALID window outgrows the input."""
    kernel = params.get("kernel", params.get("filter"))
    dilation = params.get("dilation", (1, 1))
    return (
        _out_size(params["padding"], params["height"], kernel[0], params["stride"][0], dilation[0]),
        _out_size(params["padding"], params["width"], kernel[1], params["stride"][1], dilation[1]),
    )


def _conv_output_shape(geometry: dict[str, Any]) -> tuple[int, int, int, int]:
    out_h, out_w = raw_output_hw(geometry)
    return (geometry["batch"], max(out_h, 0), max(out_w, 0), geometry["out_channels"])


def _conv_options(geometry: dict[str, Any]) -> dict[str, Any]:
    return {
        "padding": geometry["padding"],
        "stride_h": geometry["stride"][0],
        "stride_w": geometry["stride"][1],
        "dilation_h_factor": geometry["dilation"][0],
        "dilation_w_factor": geometry["dilation"][1],
        "fused_activation_function": geometry["activation"],
    }


def _conv_probes(geometry: dict[str, Any], bias_form: str) -> list[str]:
    effective = tuple((k - 1) * d + 1 for k, d in zip(geometry["kernel"], geometry["dilation"], strict=True))
    probes = _window_probe(geometry["padding"], (geometry["height"], geometry["width"]), effective)
    if bias_form != "present":
        probes.append("conv without bias")
    return probes


def _conv_bias_form(rng: np.random.Generator) -> str:
    """BUILTIN_REF's conv.cc requires a bias (TF_LITE_ENSURE(has_bias)): both ways
    of leaving it out (2 inputs, or input index -1) are rejected at Prepare."""
    draw = rng.random()
    if draw < 0.04:
        return "absent(2 inputs)"
    if draw < 0.08:
        return "absent(-1)"
    return "present"


def conv2d_f64(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray | None,
    geometry: dict[str, Any],
    absolute: bool = False,
) -> np.ndarray:
    """Float64 conv without activation; ``absolute``: Σ|x·w| + |bias| instead.

    Straightforward NHWC loops over the kernel taps; taps outside the image
    are skipped, as in TFLite's reference conv. The absolute form gives the
    float error bound of the float32 kernels.
    """
    batch, out_h, out_w, out_c = _conv_output_shape(geometry)
    (kernel_h, kernel_w), (stride_h, stride_w) = geometry["kernel"], geometry["stride"]
    dilation_h, dilation_w = geometry["dilation"]
    pad_h = _pad_before(geometry["padding"], geometry["height"], kernel_h, stride_h, dilation_h)
    pad_w = _pad_before(geometry["padding"], geometry["width"], kernel_w, stride_w, dilation_w)
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    if absolute:
        x64, w64 = np.abs(x64), np.abs(w64)
    total = np.zeros((batch, out_h, out_w, out_c))
    for oy in range(out_h):
        for ox in range(out_w):
            for ky in range(kernel_h):
                iy = oy * stride_h - pad_h + ky * dilation_h
                if not 0 <= iy < geometry["height"]:
                    continue
                for kx in range(kernel_w):
                    ix = ox * stride_w - pad_w + kx * dilation_w
                    if not 0 <= ix < geometry["width"]:
                        continue
                    total[:, oy, ox, :] += x64[:, iy, ix, :] @ w64[:, ky, kx, :].T
    if bias is not None:
        b64 = bias.astype(np.float64)
        total += np.abs(b64) if absolute else b64
    return total


def gen_conv2d_int8(rng: np.random.Generator):
    geometry = _conv_geometry(rng)
    in_c, out_c = geometry["in_channels"], geometry["out_channels"]
    kernel_h, kernel_w = geometry["kernel"]
    per_channel = bool(rng.random() < 0.5)
    bias_form = _conv_bias_form(rng)

    input_scale = _log_uniform(rng, 1e-3, 1e-1)
    input_zp = _zero_point(rng, "int8")
    base_weight_scale = _log_uniform(rng, 1e-3, 1e-1)
    if per_channel:
        # Channel scales of one layer spread over a factor of ~16.
        weight_scales = [_f32(base_weight_scale * 2.0 ** rng.uniform(-2, 2)) for _ in range(out_c)]
    else:
        weight_scales = [base_weight_scale] * out_c
    # Weights are symmetric in [-127, 127] in converter output; -128 is legal
    # too, so draw it now and then.
    low = -128 if rng.random() < 0.1 else -127
    weights = rng.integers(low, 128, size=(out_c, kernel_h, kernel_w, in_c))
    taps = kernel_h * kernel_w * in_c

    # Output scale: put a typical accumulator near a random fraction of the
    # int8 range, so outputs spread out and sometimes saturate. The typical
    # accumulator is the std of a sum of `taps` products w * (x - zp_in) with
    # uniform int8 w and x: 74 * sqrt(74^2 + zp_in^2) * sqrt(taps). 5% of
    # cases use an effective multiplier above 1 (a left shift inside MBQM).
    typical_accumulator = 74.0 * math.hypot(74.0, input_zp) * math.sqrt(taps)
    mean_weight_scale = math.exp(float(np.mean(np.log(weight_scales))))
    if rng.random() < 0.05:
        output_scale = _f32(input_scale * min(weight_scales) * rng.uniform(0.2, 0.95))
        multiplier_mode = ">1"
    else:
        typical = input_scale * mean_weight_scale * typical_accumulator
        output_scale = _f32(typical / 64.0 * 2.0 ** rng.uniform(-0.5, 3.5))
        multiplier_mode = "typical"
    output_zp = _zero_point(rng, "int8")

    # Bias in accumulator units: mostly up to about a typical accumulator,
    # now and then far larger (up to 2^24) to push whole channels to a bound.
    if rng.random() < 0.1:
        bias_magnitude = int(2 ** rng.integers(0, 25))
    else:
        bias_magnitude = int(typical_accumulator * 2.0 ** rng.uniform(-8, 0))
    bias = rng.integers(-bias_magnitude, bias_magnitude + 1, size=out_c)
    bias_scales = [_f32(input_scale * s) for s in weight_scales]

    inputs_spec: list[TensorSpec | None] = [
        TensorSpec(
            (geometry["batch"], geometry["height"], geometry["width"], in_c),
            "int8",
            input_scale,
            input_zp,
        ),
        TensorSpec(
            (out_c, kernel_h, kernel_w, in_c),
            "int8",
            weight_scales if per_channel else weight_scales[0],
            [0] * out_c if per_channel else 0,
            data=weights,
        ),
    ]
    if bias_form == "present":
        inputs_spec.append(
            TensorSpec(
                (out_c,),
                "int32",
                bias_scales if per_channel else bias_scales[0],
                [0] * out_c if per_channel else 0,
                data=bias,
            )
        )
    elif bias_form == "absent(-1)":
        inputs_spec.append(None)
    output = TensorSpec(_conv_output_shape(geometry), "int8", output_scale, output_zp)
    model = single_op_model("CONV_2D", inputs_spec, [output], _conv_options(geometry))
    x = _int_values(rng, (geometry["batch"], geometry["height"], geometry["width"], in_c), "int8")
    params = {
        **geometry,
        "weights": "per-channel" if per_channel else "per-tensor",
        "bias": bias_form,
        "input_q": (input_scale, input_zp),
        "weight_scales": weight_scales if per_channel else weight_scales[0],
        "output_q": (output_scale, output_zp),
        "multiplier": multiplier_mode,
        "bias_magnitude": bias_magnitude,
    }
    return _with_probes(params, _conv_probes(geometry, bias_form)), model, [x], None


def gen_conv2d_float32(rng: np.random.Generator):
    geometry = _conv_geometry(rng)
    in_c, out_c = geometry["in_channels"], geometry["out_channels"]
    kernel_h, kernel_w = geometry["kernel"]
    bias_form = _conv_bias_form(rng)
    input_shape = (geometry["batch"], geometry["height"], geometry["width"], in_c)
    weights = _float_values(rng, (out_c, kernel_h, kernel_w, in_c))
    bias = _float_values(rng, (out_c,))
    inputs_spec: list[TensorSpec | None] = [
        TensorSpec(input_shape, "float32"),
        TensorSpec(weights.shape, "float32", data=weights),
    ]
    if bias_form == "present":
        inputs_spec.append(TensorSpec((out_c,), "float32", data=bias))
    elif bias_form == "absent(-1)":
        inputs_spec.append(None)
    output = TensorSpec(_conv_output_shape(geometry), "float32")
    model = single_op_model("CONV_2D", inputs_spec, [output], _conv_options(geometry))
    x = _float_values(rng, input_shape)
    # Float conv results depend on the summation order. Any order's result is
    # within gamma_n * Σ|x·w| of the exact sum (n = terms incl. bias; Higham,
    # "Accuracy and Stability of Numerical Algorithms", §3.1), so two orders
    # are within 2*gamma_n of each other. Clamping activations only shrink it.
    terms = kernel_h * kernel_w * in_c + 1
    gamma = terms * FLOAT32_EPSILON / (1 - terms * FLOAT32_EPSILON)
    abs_sum = conv2d_f64(x, weights, bias if bias_form == "present" else None, geometry, absolute=True)
    tolerance = 2.0 * gamma * abs_sum
    params = _with_probes({**geometry, "bias": bias_form}, _conv_probes(geometry, bias_form))
    return params, model, [x], [tolerance]


# ---------------------------------------------------------------------------
# MAX_POOL_2D
# ---------------------------------------------------------------------------


def _pool_geometry(rng: np.random.Generator) -> dict[str, Any]:
    padding = _choice(rng, ("SAME", "VALID"))
    filter_h, filter_w = (int(k) for k in rng.integers(1, 5, 2))
    if rng.random() < 0.1:
        filter_h, filter_w = (int(k) for k in rng.integers(1, 8, 2))
    stride_h, stride_w = (int(s) for s in rng.integers(1, 4, 2))
    allow_empty = rng.random() < 0.04
    # TANH and SIGN_BIT have no quantized clamp in TFLite (full range); draw
    # them rarely to check that refinterp treats them the same way.
    activation = _choice(rng, ACTIVATIONS) if rng.random() < 0.95 else "TANH"
    return {
        "batch": int(_choice(rng, (1, 1, 2))),
        "height": _spatial_size(rng, padding, filter_h, allow_empty),
        "width": _spatial_size(rng, padding, filter_w, allow_empty),
        "channels": int(rng.integers(1, 5)),
        "filter": (filter_h, filter_w),
        "stride": (stride_h, stride_w),
        "padding": padding,
        "activation": activation,
    }


def _pool_model(geometry: dict[str, Any], dtype: str, in_q: Any, out_q: Any) -> bytes:
    out_h, out_w = raw_output_hw(geometry)
    input_shape = (geometry["batch"], geometry["height"], geometry["width"], geometry["channels"])
    output_shape = (geometry["batch"], max(out_h, 0), max(out_w, 0), geometry["channels"])
    return single_op_model(
        "MAX_POOL_2D",
        [TensorSpec(input_shape, dtype, *in_q)],
        [TensorSpec(output_shape, dtype, *out_q)],
        {
            "padding": geometry["padding"],
            "stride_h": geometry["stride"][0],
            "stride_w": geometry["stride"][1],
            "filter_height": geometry["filter"][0],
            "filter_width": geometry["filter"][1],
            "fused_activation_function": geometry["activation"],
        },
    )


def _pool_probes(geometry: dict[str, Any]) -> list[str]:
    return _window_probe(geometry["padding"], (geometry["height"], geometry["width"]), geometry["filter"])


def gen_max_pool_int8(rng: np.random.Generator):
    geometry = _pool_geometry(rng)
    scale, zp = _log_uniform(rng, 1e-2, 1e-1), _zero_point(rng, "int8")
    out_q = (scale, zp)
    probes = _pool_probes(geometry)
    # LiteRT only debug-checks that input and output share (scale, zp) and
    # copies raw values (TFLM rejects at Prepare); 3% of cases probe that.
    if rng.random() < 0.03:
        out_q = (_log_uniform(rng, 1e-2, 1e-1), _zero_point(rng, "int8"))
        probes.append("output quantization differs from input")
    model = _pool_model(geometry, "int8", (scale, zp), out_q)
    input_shape = (geometry["batch"], geometry["height"], geometry["width"], geometry["channels"])
    params = _with_probes({**geometry, "input_q": (scale, zp), "output_q": out_q}, probes)
    return params, model, [_int_values(rng, input_shape, "int8")], None


def gen_max_pool_float32(rng: np.random.Generator):
    geometry = _pool_geometry(rng)
    model = _pool_model(geometry, "float32", (), ())
    input_shape = (geometry["batch"], geometry["height"], geometry["width"], geometry["channels"])
    x = _float_values(rng, input_shape) * np.float32(rng.uniform(0.5, 8))
    return _with_probes(dict(geometry), _pool_probes(geometry)), model, [x], None


# ---------------------------------------------------------------------------
# LEAKY_RELU
# ---------------------------------------------------------------------------


def _random_shape(rng: np.random.Generator, max_rank: int = 4, max_dim: int = 6) -> tuple:
    rank = int(rng.integers(1, max_rank + 1))
    return tuple(int(d) for d in rng.integers(1, max_dim + 1, rank))


def _leaky_alpha(rng: np.random.Generator) -> tuple[float, str]:
    draw = rng.random()
    if draw < 0.55:
        return _f32(rng.uniform(0, 1)), "[0,1)"
    if draw < 0.70:
        return _f32(rng.uniform(1, 5)), ">1"
    if draw < 0.85:
        return _f32(rng.uniform(-2, 0)), "negative"
    if draw < 0.90:
        return 0.0, "0"
    if draw < 0.95:
        return 1.0, "1"
    return 0.2, "0.2"


def _all_int_values_or_random(rng: np.random.Generator, dtype: str) -> tuple[np.ndarray, str]:
    """Half the time every value of the type once (shuffled), else a random tensor."""
    low, high = INT_RANGES[dtype]
    if rng.random() < 0.5:
        values = np.arange(low, high + 1).astype(dtype)
        rng.shuffle(values)
        return values, "all values"
    shape = _random_shape(rng)
    return _int_values(rng, shape, dtype), "random"


def gen_leaky_relu_int8(rng: np.random.Generator):
    alpha, alpha_kind = _leaky_alpha(rng)
    x, layout = _all_int_values_or_random(rng, "int8")
    input_q = (_log_uniform(rng, 1e-3, 1.0), _zero_point(rng, "int8"))
    output_q = (_log_uniform(rng, 1e-3, 1.0), _zero_point(rng, "int8"))
    model = single_op_model(
        "LEAKY_RELU",
        [TensorSpec(x.shape, "int8", *input_q)],
        [TensorSpec(x.shape, "int8", *output_q)],
        {"alpha": alpha},
    )
    params = {
        "shape": x.shape,
        "values": layout,
        "alpha": alpha,
        "alpha_kind": alpha_kind,
        "input_q": input_q,
        "output_q": output_q,
    }
    return params, model, [x], None


def gen_leaky_relu_float32(rng: np.random.Generator):
    alpha, alpha_kind = _leaky_alpha(rng)
    shape = _random_shape(rng)
    x = _float_values(rng, shape) * np.float32(rng.uniform(0.1, 100))
    model = single_op_model(
        "LEAKY_RELU",
        [TensorSpec(shape, "float32")],
        [TensorSpec(shape, "float32")],
        {"alpha": alpha},
    )
    return {"shape": shape, "alpha": alpha, "alpha_kind": alpha_kind}, model, [x], None


# ---------------------------------------------------------------------------
# CONCATENATION
# ---------------------------------------------------------------------------


def _concat_layout(rng: np.random.Generator) -> dict[str, Any]:
    rank = int(rng.integers(1, 5))
    base = [int(d) for d in rng.integers(1, 5, rank)]
    count = int(rng.integers(2, 5))
    axis = int(rng.integers(-rank, rank))
    sizes = [int(s) for s in rng.integers(1, 5, count)]
    shapes = []
    for size in sizes:
        shape = list(base)
        shape[axis] = size
        shapes.append(tuple(shape))
    output_shape = list(base)
    output_shape[axis] = sum(sizes)
    # TFLite's concatenation.cc Prepare requires activation NONE; 5% probe it.
    activation = "NONE" if rng.random() < 0.95 else _choice(rng, ACTIVATIONS[1:])
    return {
        "axis": axis,
        "input_shapes": shapes,
        "output_shape": tuple(output_shape),
        "activation": activation,
    }


def _concat_probes(layout: dict[str, Any]) -> list[str]:
    return [] if layout["activation"] == "NONE" else ["fused activation on CONCATENATION"]


def _concat_model(layout: dict[str, Any], dtype: str, in_qs: list, out_q: Any) -> bytes:
    return single_op_model(
        "CONCATENATION",
        [TensorSpec(s, dtype, *q) for s, q in zip(layout["input_shapes"], in_qs, strict=True)],
        [TensorSpec(layout["output_shape"], dtype, *out_q)],
        {"axis": layout["axis"], "fused_activation_function": layout["activation"]},
    )


def gen_concatenation_int8(rng: np.random.Generator, mismatch: str | None = None):
    """int8 concat: TFLite requires every input's (scale, zp) == the output's.

    ``mismatch`` ("input_scale", "input_zp" or "output_scale") breaks that rule
    on purpose, for the rejection test.
    """
    layout = _concat_layout(rng)
    if mismatch is not None:
        layout["activation"] = "NONE"
    q = (_log_uniform(rng, 1e-3, 1.0), _zero_point(rng, "int8"))
    in_qs = [q] * len(layout["input_shapes"])
    out_q = q
    if mismatch == "input_scale":
        victim = int(rng.integers(len(in_qs)))
        in_qs[victim] = (_f32(q[0] * rng.uniform(1.01, 3)), q[1])
    elif mismatch == "input_zp":
        victim = int(rng.integers(len(in_qs)))
        in_qs[victim] = (q[0], q[1] + 1 if q[1] < 127 else q[1] - 1)
    elif mismatch == "output_scale":
        out_q = (_f32(q[0] * rng.uniform(0.3, 0.99)), q[1])
    model = _concat_model(layout, "int8", in_qs, out_q)
    xs = [_int_values(rng, s, "int8") for s in layout["input_shapes"]]
    params = {**layout, "input_qs": in_qs, "output_q": out_q}
    probes = _concat_probes(layout)
    if mismatch:
        params["mismatch"] = mismatch
        probes.append(f"int8 quantization mismatch ({mismatch})")
    return _with_probes(params, probes), model, xs, None


def gen_concatenation_uint8(rng: np.random.Generator):
    """uint8 concat: inputs whose (scale, zp) differ from the output's are
    requantized (ConcatenationWithScaling); 30% of cases keep them all equal."""
    layout = _concat_layout(rng)
    out_q = (_log_uniform(rng, 1e-3, 1.0), _zero_point(rng, "uint8"))
    if rng.random() < 0.3:
        in_qs = [out_q] * len(layout["input_shapes"])
        scaling = "all equal"
    else:
        in_qs = [
            out_q if rng.random() < 0.25 else (_f32(out_q[0] * 2 ** rng.uniform(-3, 3)), _zero_point(rng, "uint8"))
            for _ in layout["input_shapes"]
        ]
        scaling = "mixed"
    model = _concat_model(layout, "uint8", in_qs, out_q)
    xs = [_int_values(rng, s, "uint8") for s in layout["input_shapes"]]
    params = {**layout, "scaling": scaling, "input_qs": in_qs, "output_q": out_q}
    return _with_probes(params, _concat_probes(layout)), model, xs, None


def gen_concatenation_float32(rng: np.random.Generator):
    layout = _concat_layout(rng)
    model = _concat_model(layout, "float32", [()] * len(layout["input_shapes"]), ())
    xs = [_float_values(rng, s) for s in layout["input_shapes"]]
    return _with_probes(dict(layout), _concat_probes(layout)), model, xs, None


# ---------------------------------------------------------------------------
# RESIZE_NEAREST_NEIGHBOR
# ---------------------------------------------------------------------------


def _resize_model(rng: np.random.Generator, dtype: str):
    batch = int(_choice(rng, (1, 1, 2)))
    height, width, channels = (int(v) for v in (rng.integers(1, 9), rng.integers(1, 9), rng.integers(1, 4)))
    new_h, new_w = (int(v) for v in rng.integers(1, 17, 2))
    align_corners = bool(rng.random() < 0.5)
    half_pixel_centers = bool(rng.random() < 0.5)
    in_q: tuple = ()
    out_q: tuple = ()
    probes: list[str] = []
    if dtype != "float32":
        in_q = (_log_uniform(rng, 1e-3, 1.0), _zero_point(rng, dtype))
        out_q = in_q
        # Values are copied without requantization: LiteRT does not check
        # that output params equal input params; 5% of cases differ.
        if rng.random() < 0.05:
            out_q = (_log_uniform(rng, 1e-3, 1.0), _zero_point(rng, dtype))
            probes.append("output quantization differs from input")
    model = single_op_model(
        "RESIZE_NEAREST_NEIGHBOR",
        [
            TensorSpec((batch, height, width, channels), dtype, *in_q),
            TensorSpec((2,), "int32", data=np.array([new_h, new_w])),
        ],
        [TensorSpec((batch, new_h, new_w, channels), dtype, *out_q)],
        {"align_corners": align_corners, "half_pixel_centers": half_pixel_centers},
    )
    shape = (batch, height, width, channels)
    x = _float_values(rng, shape) if dtype == "float32" else _int_values(rng, shape, dtype)
    params = {
        "input_shape": shape,
        "size": (new_h, new_w),
        "align_corners": align_corners,
        "half_pixel_centers": half_pixel_centers,
    }
    if in_q:
        params.update(input_q=in_q, output_q=out_q)
    return _with_probes(params, probes), model, [x], None


def gen_resize_nearest_int8(rng: np.random.Generator):
    return _resize_model(rng, "int8")


def gen_resize_nearest_float32(rng: np.random.Generator):
    return _resize_model(rng, "float32")


# ---------------------------------------------------------------------------
# RESHAPE
# ---------------------------------------------------------------------------


def _factorize(rng: np.random.Generator, total: int, rank: int) -> list[int]:
    """A random shape of ``rank`` dims whose product is ``total``."""
    dims = [1] * rank
    remaining = total
    factor = 2
    primes = []
    while remaining > 1:
        while remaining % factor == 0:
            primes.append(factor)
            remaining //= factor
        factor += 1
    for prime in primes:
        dims[int(rng.integers(rank))] *= prime
    return dims


def _reshape_model(rng: np.random.Generator, dtype: str):
    input_shape = _random_shape(rng, max_rank=4, max_dim=5)
    total = math.prod(input_shape)
    output_rank = int(rng.integers(1, 5))
    output_shape = _factorize(rng, total, output_rank)
    requested = list(output_shape)
    if rng.random() < 0.4:
        requested[int(rng.integers(output_rank))] = -1
    source = _choice(rng, ("options", "options", "input", "input", "both"))
    invalid = None
    if rng.random() < 0.04:
        # Invalid requests LiteRT rejects in Prepare (reshape_utils.h).
        invalid = _choice(rng, ("two -1", "wrong count"))
        if invalid == "two -1":
            requested = [-1, -1, *requested[1:]] if output_rank > 1 else [-1, -1]
        else:
            requested = [*output_shape, 2]
    if total == 1 and invalid is None and rng.random() < 0.3:
        # A scalar output; legacy models write new_shape [0] for it.
        output_shape, requested = [], ([0] if source == "options" else [])
    q: tuple = ()
    if dtype != "float32":
        q = (_log_uniform(rng, 1e-3, 1.0), _zero_point(rng, dtype))
    inputs_spec = [TensorSpec(input_shape, dtype, *q)]
    options: dict[str, Any] = {}
    if source in ("options", "both"):
        options["new_shape"] = requested
    if source in ("input", "both"):
        inputs_spec.append(TensorSpec((len(requested),), "int32", data=np.array(requested, np.int64)))
        if source == "both":
            # The shape input wins over the option; give the option a
            # different (but valid) shape so a mix-up shows.
            options["new_shape"] = [total]
    model = single_op_model(
        "RESHAPE",
        inputs_spec,
        [TensorSpec(tuple(max(d, 0) for d in output_shape), dtype, *q)],
        options,
    )
    x = _float_values(rng, input_shape) if dtype == "float32" else _int_values(rng, input_shape, dtype)
    params = {
        "input_shape": input_shape,
        "requested": requested,
        "source": source,
        "expected_shape": tuple(output_shape),
    }
    return _with_probes(params, [f"invalid shape ({invalid})"] if invalid else []), model, [x], None


def gen_reshape_int8(rng: np.random.Generator):
    return _reshape_model(rng, "int8")


def gen_reshape_float32(rng: np.random.Generator):
    return _reshape_model(rng, "float32")


# ---------------------------------------------------------------------------
# QUANTIZE / DEQUANTIZE
# ---------------------------------------------------------------------------


def gen_quantize_float_to_int8(rng: np.random.Generator):
    scale = _log_uniform(rng, 1e-3, 1.0)
    zp = _zero_point(rng, "int8")
    shape = _random_shape(rng)
    size = math.prod(shape)
    # Mostly values inside the representable range, then exact ties at
    # (k + 0.5) * scale (round half away from zero vs half even), then values
    # far outside the range (saturation).
    q_float = rng.uniform(-160, 160, size)
    ties = rng.random(size) < 0.3
    q_float[ties] = np.floor(q_float[ties]) + 0.5
    x = (q_float - zp) * scale
    far = rng.random(size) < 0.05
    x[far] = rng.uniform(-1e3, 1e3, int(far.sum())) * scale
    x = x.astype(np.float32).reshape(shape)
    model = single_op_model(
        "QUANTIZE",
        [TensorSpec(shape, "float32")],
        [TensorSpec(shape, "int8", scale, zp)],
    )
    return {"shape": shape, "output_q": (scale, zp)}, model, [x], None


def _gen_requantize(rng: np.random.Generator, in_dtype: str, out_dtype: str):
    in_q = (_log_uniform(rng, 1e-3, 1.0), _zero_point(rng, in_dtype))
    draw = rng.random()
    if draw < 0.2 and in_dtype != out_dtype:
        # Same scale and zero points 128 apart: TFLite's int8<->uint8 fast
        # path (a XOR with 0x80).
        shift = 128 if out_dtype == "uint8" else -128
        out_q = (in_q[0], in_q[1] + shift)
        mode = "same scale, zp+-128"
    elif draw < 0.3:
        out_q = (in_q[0], _zero_point(rng, out_dtype))
        mode = "same scale"
    else:
        # Ratios from 1/100 to 100: multipliers below and above 1.
        out_q = (_f32(in_q[0] * 10 ** rng.uniform(-2, 2)), _zero_point(rng, out_dtype))
        mode = "random"
    x, layout = _all_int_values_or_random(rng, in_dtype)
    model = single_op_model(
        "QUANTIZE",
        [TensorSpec(x.shape, in_dtype, *in_q)],
        [TensorSpec(x.shape, out_dtype, *out_q)],
    )
    params = {"shape": x.shape, "values": layout, "mode": mode, "input_q": in_q, "output_q": out_q}
    return params, model, [x], None


def gen_dequantize(rng: np.random.Generator, dtype: str):
    q = (_log_uniform(rng, 1e-4, 10.0), _zero_point(rng, dtype))
    x, layout = _all_int_values_or_random(rng, dtype)
    model = single_op_model(
        "DEQUANTIZE",
        [TensorSpec(x.shape, dtype, *q)],
        [TensorSpec(x.shape, "float32")],
    )
    return {"shape": x.shape, "values": layout, "input_q": q}, model, [x], None


# ---------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------

GENERATORS: dict[tuple[str, str], Generator] = {
    ("CONV_2D", "int8"): gen_conv2d_int8,
    ("CONV_2D", "float32"): gen_conv2d_float32,
    ("MAX_POOL_2D", "int8"): gen_max_pool_int8,
    ("MAX_POOL_2D", "float32"): gen_max_pool_float32,
    ("LEAKY_RELU", "int8"): gen_leaky_relu_int8,
    ("LEAKY_RELU", "float32"): gen_leaky_relu_float32,
    ("CONCATENATION", "int8"): gen_concatenation_int8,
    ("CONCATENATION", "uint8"): gen_concatenation_uint8,
    ("CONCATENATION", "float32"): gen_concatenation_float32,
    ("RESIZE_NEAREST_NEIGHBOR", "int8"): gen_resize_nearest_int8,
    ("RESIZE_NEAREST_NEIGHBOR", "float32"): gen_resize_nearest_float32,
    ("RESHAPE", "int8"): gen_reshape_int8,
    ("RESHAPE", "float32"): gen_reshape_float32,
    ("QUANTIZE", "float32->int8"): gen_quantize_float_to_int8,
    ("QUANTIZE", "int8->int8"): lambda rng: _gen_requantize(rng, "int8", "int8"),
    ("QUANTIZE", "uint8->int8"): lambda rng: _gen_requantize(rng, "uint8", "int8"),
    ("QUANTIZE", "int8->uint8"): lambda rng: _gen_requantize(rng, "int8", "uint8"),
    ("DEQUANTIZE", "int8"): lambda rng: gen_dequantize(rng, "int8"),
    ("DEQUANTIZE", "uint8"): lambda rng: gen_dequantize(rng, "uint8"),
}

# Kinds whose op computes in float32 (fewer cases by default: float paths are
# not the project's focus, and CONV_2D float needs a tolerance).
FLOAT_KINDS = frozenset(k for k in GENERATORS if k[1] == "float32")


def kind_stream(op: str, dtype: str) -> int:
    """A stable per-kind number, so kinds draw independent random streams."""
    return zlib.crc32(f"{op}/{dtype}".encode())


def _rng(op: str, dtype: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([kind_stream(op, dtype), seed])


def make_case(op: str, dtype: str, seed: int) -> Case:
    """The case number ``seed`` of kind (op, dtype): deterministic."""
    generate = GENERATORS[(op, dtype)]
    params, model, inputs, tolerance = generate(_rng(op, dtype, seed))
    return Case(op, dtype, seed, params, model, inputs, tolerance)


CONCAT_MISMATCHES = ("input_scale", "input_zp", "output_scale")


def make_concat_mismatch_case(seed: int) -> Case:
    """An int8 CONCATENATION whose quantization params do not all match."""
    dtype = "int8-mismatched"
    rng = _rng("CONCATENATION", dtype, seed)
    mismatch = CONCAT_MISMATCHES[seed % len(CONCAT_MISMATCHES)]
    params, model, inputs, tolerance = gen_concatenation_int8(rng, mismatch)
    return Case("CONCATENATION", dtype, seed, params, model, inputs, tolerance)


def case_cli(make: Callable[[str, str, int], Case], description: str) -> None:
    """Rebuild one case from the command line: print its parameters, optionally save model and inputs."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("op")
    parser.add_argument("dtype")
    parser.add_argument("seed", type=int)
    parser.add_argument("--save", type=Path, help="write <save>.tflite and <save>.npz")
    args = parser.parse_args()
    case = make(args.op, args.dtype, args.seed)
    print(case.describe())
    if args.save:
        args.save.with_suffix(".tflite").write_bytes(case.model)
        np.savez(args.save.with_suffix(".npz"), *case.inputs)
        print(f"wrote {args.save.with_suffix('.tflite')} and {args.save.with_suffix('.npz')}")


def _make_any_case(op: str, dtype: str, seed: int) -> Case:
    if (op, dtype) == ("CONCATENATION", "int8-mismatched"):
        return make_concat_mismatch_case(seed)
    return make_case(op, dtype, seed)


if __name__ == "__main__":
    case_cli(_make_any_case, __doc__.split("\n\n")[0])

"""Random single-operator cases for TRANSPOSE_CONV (issue 11): int8, uint8 (LiteRT only), float32 and hybrid.

Drawn: batch 1 to 3, strides 1 to 3, kernels 1x1 to 5x5, SAME and VALID padding, output sizes around the
natural ``in * stride`` (SAME) / ``(in - 1) * stride + K`` (VALID) and now and then a few pixels off it (the
kernels crop or leave zeros: both runtimes accept any output size), the output shape constant or a model input
(int32), the bias present, absent (3 inputs) or -1, every fused activation. int8: per-channel or per-tensor
weight scales, weights with -128 now and then, output scales that saturate, multipliers above 1 and biases that
make the int32 scratch sum wrap; 3% of the cases give the int8 weights a nonzero zero point (the int8 kernel
never reads it). uint8: weight zero points, per-tensor, the bias scale ``f32(s_in * s_w)``.

hybrid (float32 data, int8 weights; LiteRT only): per-channel or per-tensor weight scales (now and then huge ones
whose products overflow to inf, clamped to +-FLT_MAX), weights with many -128s, a nonzero weight zero point (never
read), the bias float32 or absent, inputs at random spreads with all-zero images, a zero first image (batch > 1),
one repeated value, signed zeros and non-negative images (the per-image asymmetric quantization's special cases).
TransposeConvOptions has no asymmetric_quantize_inputs: LiteRT always quantizes asymmetrically. Probes: uint8
weights (LiteRT takes only int8 or float32 weights with float32 data), unquantized int8 weights, an int32 bias.

Probes: the data's depth differs from the weights' (LiteRT rejects; TFLM does not check it and reads outside
the weights: undefined there). TFLM ignores input 0 and keeps the declared output shape, which the cases keep
equal to the output shape input.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from refinterp.modelbuilder import TensorSpec, single_op_model
from refinterp.tools.conformance.generators.core import (
    ACTIVATIONS,
    TFLM_AS_LITERT,
    TFLM_UNDEFINED,
    TFLM_VALID,
    Case,
    Generator,
    case,
    choice,
    f32,
    float_values,
    int_values,
    join,
    log_uniform,
    typical_output_scale,
    zero_point,
)


def _natural_size(padding: str, size: int, kernel: int, stride: int) -> int:
    return size * stride if padding == "SAME" else (size - 1) * stride + kernel


def gen_transpose_conv(rng: np.random.Generator, dtype: str) -> Case:
    """TRANSPOSE_CONV of any dtype kind; see the module docstring for what is drawn."""
    batch = int(choice(rng, (1, 1, 2, 3)))
    in_h, in_w = (int(s) for s in rng.integers(1, 7, 2))
    kernel = (1, 1) if rng.random() < 0.1 else tuple(int(k) for k in rng.integers(1, 6, 2))
    stride = tuple(int(s) for s in rng.integers(1, 4, 2))
    padding = choice(rng, ("SAME", "VALID"))
    out_hw = [_natural_size(padding, s, k, st) for s, k, st in zip((in_h, in_w), kernel, stride)]
    probes, edges, tflm = [], [], TFLM_AS_LITERT
    if rng.random() < 0.3:
        # any output size whose ComputeOutSize is the input size: SAME ceil(out / s) == in, VALID
        # (out + s - K) / s == in; the reference crops the scatter or leaves the last pixels at the bias
        out_hw = [int(rng.integers(n - st + 1, n + 1)) if padding == "SAME" else int(rng.integers(n, n + st))
                  for n, st in zip(out_hw, stride)]
    elif rng.random() < 0.03:
        # one stride more (either padding), or one pixel less (VALID): ComputeOutSize gives another input size
        out_hw = [n - 1 if padding == "VALID" and n > 1 and rng.random() < 0.5 else n + st
                  for n, st in zip(out_hw, stride)]
        probes.append("output size not made by the input size")
        tflm = TFLM_VALID
    wide = rng.random() < 0.15
    in_c = int(rng.integers(1, 13 if wide else 6))
    out_c = int(rng.integers(1, 17 if wide else 6))
    activation = choice(rng, ACTIVATIONS)
    draw = rng.random()
    bias_form = "present" if draw >= 0.25 else ("absent(3 inputs)" if draw < 0.15 else "absent(-1)")
    shape_form = "input" if rng.random() < 0.15 else "constant"
    weight_in_c = in_c
    if rng.random() < 0.03:
        weight_in_c = in_c + int(rng.integers(1, 3))
        probes.append("data depth differs from the weights' input depth")
        tflm = TFLM_UNDEFINED
    input_shape = (batch, in_h, in_w, in_c)
    output_shape = (batch, out_hw[0], out_hw[1], out_c)
    weight_shape = (out_c, kernel[0], kernel[1], weight_in_c)
    params: dict[str, Any] = {"input": input_shape, "output": output_shape, "kernel": kernel, "stride": stride,
                              "padding": padding, "activation": activation, "bias": bias_form,
                              "output_shape": shape_form}
    options = {"padding": padding, "stride_h": stride[0], "stride_w": stride[1],
               "fused_activation_function": activation}
    shape_values = np.array(output_shape, np.int32)
    shape_spec = TensorSpec((4,), "int32", data=shape_values) if shape_form == "constant" else \
        TensorSpec((4,), "int32")
    # taps that reach one output element, for the output scale
    taps = max(1, (kernel[0] * kernel[1] * in_c) // (stride[0] * stride[1]))

    if dtype == "hybrid":
        w_spec, b_spec, x, version = _hybrid_parts(rng, weight_shape, input_shape, params, probes,
                                                     bias_form == "present")
        x_spec, y_spec = TensorSpec(input_shape, "float32"), TensorSpec(output_shape, "float32")
    elif dtype == "float32":
        weights = float_values(rng, weight_shape)
        bias = float_values(rng, (out_c,))
        w_spec = TensorSpec(weight_shape, "float32", data=weights)
        b_spec = TensorSpec((out_c,), "float32", data=bias)
        x_spec, y_spec = TensorSpec(input_shape, "float32"), TensorSpec(output_shape, "float32")
        x = float_values(rng, input_shape, spread=float(rng.uniform(0.5, 4)))
        version = 1
    elif dtype == "int8":
        per_channel = bool(rng.random() < 0.6)
        input_q = (log_uniform(rng, 1e-3, 1e-1), zero_point(rng, "int8"))
        base = log_uniform(rng, 1e-3, 1e-1)
        scales = [f32(base * 2.0 ** rng.uniform(-2, 2)) for _ in range(out_c)] if per_channel else [base] * out_c
        low = -128 if rng.random() < 0.1 else -127
        weights = rng.integers(low, 128, size=weight_shape).astype(np.int8)
        weight_zp = int(rng.integers(-5, 6)) if rng.random() < 0.03 else 0
        if weight_zp:
            edges.append("int8 weights with a nonzero zero point (ignored)")
        output_scale, multiplier = typical_output_scale(rng, input_q[0] * float(np.mean(scales)), taps, input_q[1])
        output_q = (output_scale, zero_point(rng, "int8"))
        bias_magnitude = int(2 ** rng.integers(0, 31)) if rng.random() < 0.1 else int(2 ** rng.integers(0, 16))
        bias = rng.integers(-bias_magnitude, bias_magnitude, size=out_c, endpoint=True).astype(np.int32)
        w_spec = TensorSpec(weight_shape, "int8", scales if per_channel else scales[0],
                            [weight_zp] * out_c if per_channel else weight_zp, data=weights)
        bias_scales = [f32(input_q[0] * s) for s in scales]
        b_spec = TensorSpec((out_c,), "int32", bias_scales if per_channel else bias_scales[0],
                            [0] * out_c if per_channel else 0, data=bias)
        x_spec = TensorSpec(input_shape, "int8", *input_q)
        y_spec = TensorSpec(output_shape, "int8", *output_q)
        x = int_values(rng, input_shape, "int8")
        params.update(weights="per-channel" if per_channel else "per-tensor", input_q=input_q, output_q=output_q,
                      multiplier=multiplier, bias_magnitude=bias_magnitude)
        version = 2
    else:  # uint8
        input_q = (log_uniform(rng, 1e-3, 1e-1), zero_point(rng, "uint8"))
        weight_q = (log_uniform(rng, 1e-3, 1e-1), zero_point(rng, "uint8"))
        weights = int_values(rng, weight_shape, "uint8")
        output_scale, multiplier = typical_output_scale(rng, input_q[0] * weight_q[0], taps, 128)
        output_q = (output_scale, zero_point(rng, "uint8"))
        bias_magnitude = int(2 ** rng.integers(0, 20))
        bias = rng.integers(-bias_magnitude, bias_magnitude, size=out_c, endpoint=True).astype(np.int32)
        w_spec = TensorSpec(weight_shape, "uint8", *weight_q, data=weights)
        b_spec = TensorSpec((out_c,), "int32", f32(input_q[0] * weight_q[0]), 0, data=bias)
        x_spec = TensorSpec(input_shape, "uint8", *input_q)
        y_spec = TensorSpec(output_shape, "uint8", *output_q)
        x = int_values(rng, input_shape, "uint8")
        params.update(input_q=input_q, weight_q=weight_q, output_q=output_q, multiplier=multiplier,
                      bias_magnitude=bias_magnitude)
        version = 2
    specs: list[TensorSpec | None] = [shape_spec, w_spec, x_spec]
    if bias_form == "present":
        specs.append(b_spec)
        version = 3
    elif bias_form == "absent(-1)":
        specs.append(None)
    model = single_op_model("TRANSPOSE_CONV", specs, [y_spec], options, version=version)
    inputs = [x] if shape_form == "constant" else [shape_values, x]
    return case("TRANSPOSE_CONV", dtype, model, inputs, params, join(*probes), join(*edges), tflm)


def _hybrid_input(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[np.ndarray, str]:
    """float32 data for the hybrid rule: normal at random spreads, or the quantizer's special cases."""
    draw = rng.random()
    spread = float(2.0 ** rng.uniform(-6, 6))
    x = float_values(rng, shape, spread)
    if draw < 0.06:
        return np.zeros(shape, np.float32), "all zeros"
    if draw < 0.1:
        return np.full(shape, f32(rng.uniform(-3, 3)), np.float32), "one value"
    if draw < 0.2 and shape[0] > 1:
        x[int(rng.integers(shape[0]))] = 0.0
        return x, "one image zero"
    if draw < 0.25:
        x[rng.random(shape) < 0.5] = -0.0
        return x, "half -0.0"
    if draw < 0.32:
        return np.abs(x), "non-negative"
    if draw < 0.36:
        return -np.abs(x), "non-positive"
    return x, f"normal x {spread:.3g}"


def _hybrid_parts(rng: np.random.Generator, weight_shape: tuple[int, ...], input_shape: tuple[int, ...],
                  params: dict[str, Any], probes: list[str],
                  bias_present: bool) -> tuple[TensorSpec, TensorSpec, np.ndarray, int]:
    """The weights, bias and data of a hybrid case (float32 data, int8 weights)."""
    out_c = weight_shape[0]
    per_channel = bool(rng.random() < 0.5)
    if rng.random() < 0.03:
        scales = [f32(10.0 ** rng.uniform(30, 38)) for _ in range(out_c)]
        scale_note = "huge"
    else:
        base = log_uniform(rng, 1e-4, 1.0)
        scales = [f32(base * 2.0 ** rng.uniform(-3, 3)) for _ in range(out_c)] if per_channel else [base] * out_c
        scale_note = "typical"
    draw = rng.random()
    weights = rng.integers(-127, 128, size=weight_shape)
    if draw < 0.25:
        weights = np.where(rng.random(weight_shape) < 0.3, -128, weights)
    elif draw < 0.35:
        weights = rng.integers(-128, 128, size=weight_shape)
    weights = weights.astype(np.int8)
    weight_zp = int(rng.integers(-5, 6)) if rng.random() < 0.05 else 0
    weight_dtype, weight_quantized = "int8", True
    if rng.random() < 0.03:
        weight_dtype, weights = "uint8", weights.view(np.uint8)
        probes.append("uint8 weights with float32 data")
    elif rng.random() < 0.02:
        weight_quantized = False
        probes.append("int8 weights without quantization")
    if not weight_quantized:
        w_spec = TensorSpec(weight_shape, weight_dtype, data=weights)
    elif per_channel:
        w_spec = TensorSpec(weight_shape, weight_dtype, scales, [weight_zp] * out_c, data=weights)
    else:
        w_spec = TensorSpec(weight_shape, weight_dtype, scales[0], weight_zp, data=weights)
    if bias_present and rng.random() < 0.02:
        b_spec = TensorSpec((out_c,), "int32", data=rng.integers(-100, 100, out_c).astype(np.int32))
        probes.append("int32 bias with float32 data")
    else:
        b_spec = TensorSpec((out_c,), "float32", data=float_values(rng, (out_c,), float(2.0 ** rng.uniform(-4, 4))))
    x, input_note = _hybrid_input(rng, input_shape)
    params.update(weights="per-channel" if per_channel else "per-tensor", scales=scale_note, weight_zp=weight_zp,
                  data=input_note)
    return w_spec, b_spec, x, 2


def _table() -> dict[tuple[str, str], Generator]:
    def bound(dtype: str) -> Generator:
        return lambda rng: gen_transpose_conv(rng, dtype)

    return {("TRANSPOSE_CONV", dtype): bound(dtype) for dtype in ("int8", "uint8", "float32", "hybrid")}


GENERATORS: dict[tuple[str, str], Generator] = _table()
# TFLM has int8 and float32 kernels (no uint8, no hybrid).
TFLM_KINDS = frozenset({("TRANSPOSE_CONV", "int8"), ("TRANSPOSE_CONV", "float32")})

__all__ = ["GENERATORS", "TFLM_KINDS", "Case"]

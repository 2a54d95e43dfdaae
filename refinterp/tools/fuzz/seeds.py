"""The fuzzer's seed models: built by the project itself, plus the committed golden model and small shared models.

* One or more single-operator models per operator of :data:`refinterp.registry.REGISTRY`, drawn with small
  random shapes and quantization by :mod:`refinterp.modelbuilder` (mostly int8, a few uint8/float32 forms).
* A small int8 chain (CONV_2D -> DEPTHWISE_CONV_2D -> RESHAPE -> FULLY_CONNECTED -> SOFTMAX), so that shapes
  flow from one operator into the next.
* ``golden/yolov3_tiny_int8.tflite`` (committed) and every ``../shared/models/**/*.tflite`` under a size
  limit, when present: third-party files are read by path, never copied into the repository.

Every seed is a valid model meant to run in both LiteRT and refinterp; the campaign runs each one
unmutated first, so a seed that does not agree shows up in the counts like any other mutant.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from flatbuffers import flexbuffers

import refinterp
from refinterp.modelbuilder import (
    OP_OPTIONS,
    OpSpec,
    SubgraphSpec,
    TensorSpec,
    build_model,
    single_op_model,
    sparsify,
)
from refinterp.registry import REGISTRY
from refinterp.tools.fuzz import mutators

#: the repository's root when refinterp runs from a checkout (golden/ and ../shared/ are found from here)
PROJECT_ROOT = Path(refinterp.__file__).resolve().parents[1]
GOLDEN_MODEL = PROJECT_ROOT / "golden" / "yolov3_tiny_int8.tflite"
SHARED_MODELS = PROJECT_ROOT.parent / "shared" / "models"
#: third-party seeds larger than this are left out (their mutants are slow to run and to save)
DEFAULT_MAX_SEED_BYTES = 2 << 20


@dataclass(frozen=True)
class Seed:
    """One seed model: its name (op/dtype#variant, or a file path) and its bytes."""

    name: str
    content: bytes
    origin: str  # "builder", "golden" or "shared"


INT_RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767)}
ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")


def _f32(value: float) -> float:
    return float(np.float32(value))


def _scale(rng: np.random.Generator, low: float = 1e-3, high: float = 1e-1) -> float:
    return _f32(math.exp(rng.uniform(math.log(low), math.log(high))))


def _zp(rng: np.random.Generator, dtype: str) -> int:
    low, high = INT_RANGES[dtype]
    return int(rng.integers(low, high + 1))


def _q(rng: np.random.Generator, dtype: str) -> tuple[float | None, int | None]:
    """(scale, zero point) of an activation of ``dtype``; float and 32/64-bit tensors are not quantized; int16
    (int16x8) activations are symmetric, with the small scales 16-bit tensors have."""
    if dtype not in INT_RANGES:
        return None, None
    if dtype == "int16":
        return _scale(rng, 1e-5, 1e-2), 0
    return _scale(rng), _zp(rng, dtype)


def _act(rng: np.random.Generator, dtype: str, shape: tuple[int, ...], q: tuple) -> TensorSpec:
    return TensorSpec(tuple(shape), dtype, q[0], q[1])


def _shape(rng: np.random.Generator, rank: int | None = None, max_dim: int = 5) -> tuple[int, ...]:
    rank = int(rng.integers(1, 5)) if rank is None else rank
    return tuple(int(d) for d in rng.integers(1, max_dim + 1, rank))


def _const_i32(values: list[int] | np.ndarray, shape: tuple[int, ...] | None = None) -> TensorSpec:
    array = np.asarray(values, dtype=np.int64)
    return TensorSpec(array.shape if shape is None else shape, "int32", data=array.reshape(shape or array.shape))


def _int_data(rng: np.random.Generator, shape: tuple[int, ...], dtype: str = "int8") -> np.ndarray:
    low, high = INT_RANGES[dtype]
    return rng.integers(low, high + 1, size=shape)


def _out_size(padding: str, size: int, kernel: int, stride: int, dilation: int) -> int:
    effective = (kernel - 1) * dilation + 1
    if padding == "SAME":
        return (size + stride - 1) // stride
    return (size - effective + stride) // stride


#: the standard deviations of a uniform int16 input (the fuzzer's seeded inputs) and of a uniform int8 weight
INT16_STD, INT8_STD = 18918.0, 74.0


def _bias(rng: np.random.Generator, dtype: str, scales: float | list[float], channels: int) -> TensorSpec:
    """The bias of a quantized convolution or FULLY_CONNECTED: int32 for 8-bit activations, int64 for int16x8
    (the type LiteRT's int16 kernels take when the options leave quantized_bias_type unset)."""
    zero_points = [0] * channels if isinstance(scales, list) else 0
    if dtype == "int16":
        return TensorSpec((channels,), "int64", scales, zero_points, data=rng.integers(-(1 << 20), 1 << 20, channels))
    return TensorSpec((channels,), "int32", scales, zero_points, data=rng.integers(-1000, 1000, channels))


def _int16_out_q(rng: np.random.Generator, in_scale: float, w_scales: list[float], taps: int) -> tuple[float, int]:
    """An int16 output quantization that puts a typical accumulator (uniform int16 inputs, int8 weights) near
    2**13, give or take a factor 8 (some saturation, never all)."""
    typical = in_scale * float(np.mean(w_scales)) * INT8_STD * INT16_STD * math.sqrt(max(taps, 1))
    return _f32(typical / 8192.0 * 2.0 ** rng.uniform(-3, 3)), 0


def _window(rng: np.random.Generator) -> dict:
    """Geometry of a 2-D window whose VALID output is never empty."""
    kernel = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    dilation = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) if rng.random() < 0.3 else (1, 1)
    size = tuple(int((k - 1) * d + 1 + rng.integers(0, 5)) for k, d in zip(kernel, dilation))
    padding = "SAME" if rng.random() < 0.5 else "VALID"
    out = tuple(_out_size(padding, s, k, st, d) for s, k, st, d in zip(size, kernel, stride, dilation))
    return {"kernel": kernel, "stride": stride, "dilation": dilation, "size": size, "padding": padding,
            "out": out, "batch": int(rng.integers(1, 3))}


# ------------------------------------------------------------------------------------------ operators


def conv2d(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    g = _window(rng)
    in_c, out_c = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    (kh, kw), batch = g["kernel"], g["batch"]
    in_q, out_q = _q(rng, dtype), _q(rng, dtype)
    if dtype == "float32":
        weights = TensorSpec((out_c, kh, kw, in_c), "float32", data=rng.standard_normal((out_c, kh, kw, in_c)))
        bias = TensorSpec((out_c,), "float32", data=rng.standard_normal(out_c))
    else:
        w_scales = [_scale(rng, 1e-3, 1e-2) for _ in range(out_c)]
        weights = TensorSpec((out_c, kh, kw, in_c), "int8", w_scales, [0] * out_c,
                             data=rng.integers(-127, 128, (out_c, kh, kw, in_c)))
        bias = _bias(rng, dtype, [_f32(in_q[0] * s) for s in w_scales], out_c)
        if dtype == "int16":
            out_q = _int16_out_q(rng, in_q[0], w_scales, kh * kw * in_c)
    return single_op_model(
        "CONV_2D",
        [_act(rng, dtype, (batch, *g["size"], in_c), in_q), weights, bias],
        [_act(rng, dtype, (batch, *g["out"], out_c), out_q)],
        {"padding": g["padding"], "stride_h": g["stride"][0], "stride_w": g["stride"][1],
         "dilation_h_factor": g["dilation"][0], "dilation_w_factor": g["dilation"][1],
         "fused_activation_function": ACTIVATIONS[int(rng.integers(len(ACTIVATIONS)))]},
    )


def transpose_conv(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    """TRANSPOSE_CONV: output_shape (constant), OHWI weights, the data, a bias; SAME or VALID, stride 1 or 2."""
    batch, in_h, in_w = int(rng.integers(1, 3)), int(rng.integers(1, 6)), int(rng.integers(1, 6))
    in_c, out_c = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    stride = int(rng.integers(1, 3))
    padding = "SAME" if rng.random() < 0.5 else "VALID"
    out_h, out_w = ((in_h * stride, in_w * stride) if padding == "SAME"
                    else ((in_h - 1) * stride + kh, (in_w - 1) * stride + kw))
    in_q, out_q = _q(rng, dtype), _q(rng, dtype)
    w_scales = [_scale(rng, 1e-3, 1e-2) for _ in range(out_c)]
    weights = TensorSpec((out_c, kh, kw, in_c), "int8", w_scales, [0] * out_c,
                         data=rng.integers(-127, 128, (out_c, kh, kw, in_c)))
    bias = _bias(rng, dtype, [_f32(in_q[0] * s) for s in w_scales], out_c)
    if dtype == "int16":
        out_q = _int16_out_q(rng, in_q[0], w_scales, kh * kw * in_c // (stride * stride))
    output_shape = TensorSpec((4,), "int32", data=np.array([batch, out_h, out_w, out_c], np.int32))
    return single_op_model(
        "TRANSPOSE_CONV",
        [output_shape, weights, _act(rng, dtype, (batch, in_h, in_w, in_c), in_q), bias],
        [_act(rng, dtype, (batch, out_h, out_w, out_c), out_q)],
        {"padding": padding, "stride_h": stride, "stride_w": stride},
    )


def depthwise_conv2d(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    g = _window(rng)
    in_c, multiplier = int(rng.integers(1, 5)), int(rng.integers(1, 3))
    out_c = in_c * multiplier
    (kh, kw), batch = g["kernel"], g["batch"]
    in_q, out_q = _q(rng, dtype), _q(rng, dtype)
    w_scales = [_scale(rng, 1e-3, 1e-2) for _ in range(out_c)]
    weights = TensorSpec((1, kh, kw, out_c), "int8", w_scales, [0] * out_c, quantized_dimension=3,
                         data=rng.integers(-127, 128, (1, kh, kw, out_c)))
    bias = _bias(rng, dtype, [_f32(in_q[0] * s) for s in w_scales], out_c)
    if dtype == "int16":
        out_q = _int16_out_q(rng, in_q[0], w_scales, kh * kw)
    return single_op_model(
        "DEPTHWISE_CONV_2D",
        [_act(rng, dtype, (batch, *g["size"], in_c), in_q), weights, bias],
        [_act(rng, dtype, (batch, *g["out"], out_c), out_q)],
        {"padding": g["padding"], "stride_h": g["stride"][0], "stride_w": g["stride"][1],
         "dilation_h_factor": g["dilation"][0], "dilation_w_factor": g["dilation"][1],
         "depth_multiplier": multiplier,
         "fused_activation_function": ACTIVATIONS[int(rng.integers(len(ACTIVATIONS)))]},
    )


def fully_connected(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    batch, depth, units = int(rng.integers(1, 4)), int(rng.integers(1, 9)), int(rng.integers(1, 6))
    in_q, out_q = _q(rng, dtype), _q(rng, dtype)
    w_scale = _scale(rng, 1e-3, 1e-2)
    inputs = [
        _act(rng, dtype, (batch, depth), in_q),
        TensorSpec((units, depth), "int8", w_scale, 0, data=rng.integers(-127, 128, (units, depth))),
        _bias(rng, dtype, _f32(in_q[0] * w_scale), units),
    ]
    if dtype == "int16":
        out_q = _int16_out_q(rng, in_q[0], [w_scale], depth)
    return single_op_model("FULLY_CONNECTED", inputs, [_act(rng, dtype, (batch, units), out_q)],
                           {"fused_activation_function": ACTIVATIONS[int(rng.integers(len(ACTIVATIONS)))]})


def _pool(op: str) -> Callable[..., bytes]:
    def build(rng: np.random.Generator, dtype: str = "int8") -> bytes:
        g = _window(rng)
        g["dilation"] = (1, 1)
        g["out"] = tuple(_out_size(g["padding"], s, k, st, 1)
                         for s, k, st in zip(g["size"], g["kernel"], g["stride"]))
        channels = int(rng.integers(1, 5))
        q = _q(rng, dtype)
        return single_op_model(
            op,
            [_act(rng, dtype, (g["batch"], *g["size"], channels), q)],
            [_act(rng, dtype, (g["batch"], *g["out"], channels), q)],
            {"padding": g["padding"], "stride_h": g["stride"][0], "stride_w": g["stride"][1],
             "filter_height": g["kernel"][0], "filter_width": g["kernel"][1]},
        )

    return build


def _reduce(op: str, same_quant: bool) -> Callable[..., bytes]:
    def build(rng: np.random.Generator, dtype: str = "int8") -> bytes:
        shape = _shape(rng, 4, 4)
        axes = sorted(int(a) for a in rng.choice(4, size=int(rng.integers(1, 3)), replace=False))
        keep = bool(rng.random() < 0.5)
        out = tuple(1 if i in axes else d for i, d in enumerate(shape)) if keep else tuple(
            d for i, d in enumerate(shape) if i not in axes)
        in_q = _q(rng, dtype)
        out_q = in_q if same_quant else _q(rng, dtype)
        return single_op_model(op, [_act(rng, dtype, shape, in_q), _const_i32(axes)],
                               [_act(rng, dtype, out, out_q)], {"keep_dims": keep})

    return build


#: the output quantization LiteRT's Prepare requires of SOFTMAX and LOGISTIC (and int16 TANH)
_FIXED_ACTIVATION_OUTPUT = {"int8": (_f32(1 / 256), -128), "int16": (1 / 32768, 0)}


def softmax(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    shape = _shape(rng, int(rng.integers(1, 4)), 6)
    out_q = _FIXED_ACTIVATION_OUTPUT.get(dtype, (None, None))
    return single_op_model("SOFTMAX", [_act(rng, dtype, shape, _q(rng, dtype))], [_act(rng, dtype, shape, out_q)],
                           {"beta": float(rng.choice([1.0, 0.5, 2.0]))})


def logistic(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    shape = _shape(rng)
    out_q = _FIXED_ACTIVATION_OUTPUT.get(dtype, (None, None))
    return single_op_model("LOGISTIC", [_act(rng, dtype, shape, _q(rng, dtype))], [_act(rng, dtype, shape, out_q)])


def leaky_relu(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    shape = _shape(rng)
    return single_op_model("LEAKY_RELU", [_act(rng, dtype, shape, _q(rng, dtype))],
                           [_act(rng, dtype, shape, _q(rng, dtype))], {"alpha": _f32(rng.uniform(0.01, 0.5))})


def concatenation(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    base = list(_shape(rng, int(rng.integers(1, 5)), 4))
    axis = int(rng.integers(len(base)))
    q = _q(rng, dtype)
    shapes = []
    for _ in range(int(rng.integers(2, 4))):
        shape = list(base)
        shape[axis] = int(rng.integers(1, 4))
        shapes.append(tuple(shape))
    out = list(base)
    out[axis] = sum(s[axis] for s in shapes)
    if rng.random() < 0.3:
        axis -= len(base)  # negative axes count from the end in TFLite too
    return single_op_model("CONCATENATION", [_act(rng, dtype, s, q) for s in shapes],
                           [_act(rng, dtype, tuple(out), q)], {"axis": axis})


def _resize(op: str) -> Callable[..., bytes]:
    def build(rng: np.random.Generator, dtype: str = "int8") -> bytes:
        batch, h, w, c = int(rng.integers(1, 3)), int(rng.integers(1, 6)), int(rng.integers(1, 6)), int(
            rng.integers(1, 4))
        new_h, new_w = int(rng.integers(1, 11)), int(rng.integers(1, 11))
        q = _q(rng, dtype)
        align = bool(rng.random() < 0.3)
        half = (not align) and bool(rng.random() < 0.5)
        return single_op_model(op, [_act(rng, dtype, (batch, h, w, c), q), _const_i32([new_h, new_w])],
                               [_act(rng, dtype, (batch, new_h, new_w, c), q)],
                               {"align_corners": align, "half_pixel_centers": half})

    return build


def reshape(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    shape = _shape(rng, int(rng.integers(1, 5)), 4)
    total = math.prod(shape)
    out = [total]
    for _ in range(int(rng.integers(0, 3))):  # split off factors
        last = out[-1]
        divisors = [d for d in range(1, last + 1) if last % d == 0]
        d = int(rng.choice(divisors))
        out[-1:] = [d, last // d]
    requested = list(out)
    if rng.random() < 0.3:
        requested[int(rng.integers(len(requested)))] = -1
    q = _q(rng, dtype)
    inputs = [_act(rng, dtype, shape, q)]
    options = {}
    if rng.random() < 0.7:
        inputs.append(_const_i32(requested))
    else:
        options["new_shape"] = requested
    return single_op_model("RESHAPE", inputs, [_act(rng, dtype, tuple(out), q)], options)


def quantize(rng: np.random.Generator, dtype: str = "float32->int8") -> bytes:
    source, target = dtype.split("->")
    shape = _shape(rng)
    return single_op_model("QUANTIZE", [_act(rng, source, shape, _q(rng, source))],
                           [_act(rng, target, shape, _q(rng, target))])


def dequantize(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    shape = _shape(rng)
    return single_op_model("DEQUANTIZE", [_act(rng, dtype, shape, _q(rng, dtype))],
                           [TensorSpec(shape, "float32")])


def _broadcast_pair(rng: np.random.Generator) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    full = _shape(rng, int(rng.integers(1, 5)), 4)

    def operand() -> tuple[int, ...]:
        dims = [1 if rng.random() < 0.3 else d for d in full]
        return tuple(dims[int(rng.integers(0, len(dims) + 1)) if rng.random() < 0.2 else 0:])

    a, b = operand(), operand()
    return a, b, tuple(int(d) for d in np.broadcast_shapes(a, b))


def _binary(op: str, same_quant: bool = False) -> Callable[..., bytes]:
    def build(rng: np.random.Generator, dtype: str = "int8") -> bytes:
        a, b, out = _broadcast_pair(rng)
        qa = _q(rng, dtype)
        qb, qo = (qa, qa) if same_quant else (_q(rng, dtype), _q(rng, dtype))
        options = {} if op in ("MINIMUM", "MAXIMUM") else {
            "fused_activation_function": ACTIVATIONS[int(rng.integers(3))]}
        if dtype == "int16" and op in ("ADD", "SUB"):
            options["pot_scale_int16"] = bool(rng.random() < 0.5)
            if rng.random() < 0.35:
                # LiteRT's power-of-two path: equal shapes, power-of-two scales, one input shifted right
                a = b = out
                k_out, shift = int(rng.integers(-14, -5)), int(rng.choice([0, 1, 2, 5]))
                logs = [k_out, k_out - shift] if rng.random() < 0.5 else [k_out - shift, k_out]
                qa, qb, qo = (2.0 ** logs[0], 0), (2.0 ** logs[1], 0), (2.0 ** k_out, 0)
                options["pot_scale_int16"] = True
            # the general path needs an output multiplier 2 max(s1, s2) / (2**15 s_out) below 1 (LiteRT aborts)
            qo = (max(qo[0], _f32(2 * max(qa[0], qb[0]) / 32768 * 1.01)), 0)
        elif dtype == "int16" and op == "MUL":
            qo = (_f32(qa[0] * qb[0] * 2.0 ** (14 + rng.uniform(-4, 4))), 0)  # a typical product near 2**14
        if rng.random() < 0.2 and dtype != "float32":  # a constant operand, as converters write biases
            second = TensorSpec(b, dtype, qb[0], qb[1], data=_int_data(rng, b, dtype))
        else:
            second = _act(rng, dtype, b, qb)
        return single_op_model(op, [_act(rng, dtype, a, qa), second], [_act(rng, dtype, out, qo)], options)

    return build


def _relu(op: str) -> Callable[..., bytes]:
    def build(rng: np.random.Generator, dtype: str = "int8") -> bytes:
        shape = _shape(rng)
        return single_op_model(op, [_act(rng, dtype, shape, _q(rng, dtype))],
                               [_act(rng, dtype, shape, _q(rng, dtype))])

    return build


def _pad(op: str) -> Callable[..., bytes]:
    def build(rng: np.random.Generator, dtype: str = "int8") -> bytes:
        shape = _shape(rng, int(rng.integers(1, 5)), 4)
        paddings = rng.integers(0, 3, (len(shape), 2))
        out = tuple(int(d + p.sum()) for d, p in zip(shape, paddings))
        q = _q(rng, dtype)
        inputs = [_act(rng, dtype, shape, q), _const_i32(paddings, (len(shape), 2))]
        if op == "PADV2":
            value = _int_data(rng, (1,), dtype) if dtype != "float32" else rng.standard_normal(1)
            inputs.append(TensorSpec((1,), dtype, q[0], q[1], data=value))
        return single_op_model(op, inputs, [_act(rng, dtype, out, q)])

    return build


def transpose(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    shape = _shape(rng, int(rng.integers(1, 6)), 4)
    perm = [int(p) for p in rng.permutation(len(shape))]
    q = _q(rng, dtype)
    return single_op_model("TRANSPOSE", [_act(rng, dtype, shape, q), _const_i32(perm)],
                           [_act(rng, dtype, tuple(shape[p] for p in perm), q)])


def strided_slice(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    shape = _shape(rng, int(rng.integers(1, 5)), 6)
    begin, end, strides, out = [], [], [], []
    for d in shape:
        b = int(rng.integers(0, d))
        e = int(rng.integers(b + 1, d + 1))
        s = int(rng.integers(1, 3))
        begin.append(b)
        end.append(e)
        strides.append(s)
        out.append(len(range(b, e, s)))
    q = _q(rng, dtype)
    return single_op_model(
        "STRIDED_SLICE",
        [_act(rng, dtype, shape, q), _const_i32(begin), _const_i32(end), _const_i32(strides)],
        [_act(rng, dtype, tuple(out), q)],
    )


def shape_op(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    shape = _shape(rng)
    return single_op_model("SHAPE", [_act(rng, dtype, shape, _q(rng, dtype))],
                           [TensorSpec((len(shape),), "int32")], {"out_type": "INT32"})


def pack(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    shape = _shape(rng, int(rng.integers(1, 4)), 4)
    count = int(rng.integers(1, 4))
    axis = int(rng.integers(0, len(shape) + 1))
    out = list(shape)
    out.insert(axis, count)
    q = _q(rng, dtype)
    return single_op_model("PACK", [_act(rng, dtype, shape, q) for _ in range(count)],
                           [_act(rng, dtype, tuple(out), q)], {"values_count": count, "axis": axis})


def tile(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    shape = _shape(rng, int(rng.integers(1, 5)), 3)
    multiples = [int(m) for m in rng.integers(1, 4, len(shape))]
    q = _q(rng, dtype)
    return single_op_model("TILE", [_act(rng, dtype, shape, q), _const_i32(multiples)],
                           [_act(rng, dtype, tuple(d * m for d, m in zip(shape, multiples)), q)])


def _single(op: str, inputs: list[TensorSpec | None], outputs: list[TensorSpec],
            options: dict | None = None, version: int = 1) -> bytes:
    """single_op_model, also for an operator refinterp.modelbuilder has no options entry for: the model is
    built as ABS (no options), then its operator code and options table (the schema's ``<Op>Options`` table,
    found by name) are written through LiteRT's object API."""
    if op in OP_OPTIONS:
        return single_op_model(op, inputs, outputs, options, version)
    model = mutators.unpack(single_op_model("ABS", inputs, outputs, version=version))
    code = mutators.builtin_codes()[op]
    model.operatorCodes[0].builtinCode = code
    model.operatorCodes[0].deprecatedBuiltinCode = min(code, 127)
    wanted = op.replace("_", "").lower() + "options"
    table = next((name for name in mutators.options_tags() if name.lower() == wanted), None)
    if table is None and options:
        raise ValueError(f"{op}: no options table in the schema for {sorted(options)}")
    if table is not None:
        values = getattr(mutators.schema(), table + "T")()
        for name, value in (options or {}).items():
            camel = re.sub(r"_(\w)", lambda m: m.group(1).upper(), name)
            if not hasattr(values, camel):
                raise ValueError(f"{op}: {table} has no field {name}")
            setattr(values, camel, value)
        operator = model.subgraphs[0].operators[0]
        operator.builtinOptions, operator.builtinOptionsType = values, mutators.options_tags()[table]
    return mutators.pack(model)


#: (scale, zero point) an 8-bit output must have (LiteRT's Prepare requires it)
_FIXED_OUTPUT_QUANT = {("L2_NORMALIZATION", "int8"): (1 / 128, 0), ("L2_NORMALIZATION", "uint8"): (1 / 128, 128),
                       ("TANH", "int16"): (1 / 32768, 0)}
#: operators whose 8-bit input must stay at or above the zero point (negative inputs fail at invoke)
_NON_NEGATIVE_INPUT = ("SQRT", "RSQRT", "LOG")


def _unary(op: str) -> Callable[..., bytes]:
    def build(rng: np.random.Generator, dtype: str = "int8") -> bytes:
        shape = _shape(rng)
        in_q, out_q = _q(rng, dtype), _q(rng, dtype)
        if op in _NON_NEGATIVE_INPUT and dtype in INT_RANGES:
            in_q = (in_q[0], INT_RANGES[dtype][0])
        if (op, dtype) in _FIXED_OUTPUT_QUANT:
            out_q = tuple(_f32(v) if isinstance(v, float) else v for v in _FIXED_OUTPUT_QUANT[(op, dtype)])
        if op == "NEG":
            out_q = in_q  # raw values, no requantization
        return _single(op, [_act(rng, dtype, shape, in_q)], [_act(rng, dtype, shape, out_q)])

    return build


def prelu(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    batch, h, w, c = int(rng.integers(1, 3)), int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 5))
    alpha_shape = (c,) if rng.random() < 0.5 else (1, 1, c)
    if dtype == "float32":
        alpha = TensorSpec(alpha_shape, "float32", data=rng.uniform(-1, 1, alpha_shape))
    else:
        alpha_dtype = "int8" if dtype == "int16" else dtype  # int16x8: int8 alpha
        alpha = TensorSpec(alpha_shape, alpha_dtype, _scale(rng, 1e-3, 1e-2), _zp(rng, alpha_dtype),
                           data=_int_data(rng, alpha_shape, alpha_dtype))
    return _single("PRELU", [_act(rng, dtype, (batch, h, w, c), _q(rng, dtype)), alpha],
                   [_act(rng, dtype, (batch, h, w, c), _q(rng, dtype))])


# ------------------------------------------------------------------------------------------ more operators


def _data(rng: np.random.Generator, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    if dtype == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    if dtype in INT_RANGES:
        return _int_data(rng, shape, dtype)
    if dtype in ("int32", "int64"):
        return rng.integers(-100, 100, shape)
    return rng.standard_normal(shape)


def _const(rng: np.random.Generator, dtype: str, shape: tuple[int, ...], q: tuple = (None, None),
           data: np.ndarray | None = None) -> TensorSpec:
    return TensorSpec(shape, dtype, q[0], q[1], data=_data(rng, dtype, shape) if data is None else data)


def _const_scalar_i32(value: int) -> TensorSpec:
    return TensorSpec((), "int32", data=np.array(value, np.int64))


def _compare(op: str) -> Callable[..., bytes]:
    def build(rng: np.random.Generator, dtype: str = "int8") -> bytes:
        a, b, out = _broadcast_pair(rng)
        q = _q(rng, dtype)
        qb = q if rng.random() < 0.5 else _q(rng, dtype)
        return _single(op, [_act(rng, dtype, a, q), _act(rng, dtype, b, qb)], [TensorSpec(out, "bool")])

    return build


def _elementwise(op: str, broadcast: bool = True, same_quant: bool = False) -> Callable[..., bytes]:
    def build(rng: np.random.Generator, dtype: str = "int8") -> bytes:
        if broadcast:
            a, b, out = _broadcast_pair(rng)
        else:
            a = b = out = _shape(rng)
        qa = _q(rng, dtype)
        qb, qo = (qa, qa) if same_quant else (_q(rng, dtype), _q(rng, dtype))
        second = _act(rng, dtype, b, qb)
        if op in ("DIV", "FLOOR_DIV", "FLOOR_MOD", "POW"):
            # a constant divisor away from zero (and small non-negative exponents): invoke does not fail
            values = rng.integers(1, 4, b) * (1 if op == "POW" else rng.choice([-1, 1], b))
            if dtype in INT_RANGES and op == "DIV":
                values = np.array(np.clip(values + qb[1], *INT_RANGES[dtype]))  # an array also when 0-D
                values[values == qb[1]] = qb[1] + 1 if qb[1] < INT_RANGES[dtype][1] else qb[1] - 1
            second = _const(rng, dtype, b, qb, values if dtype != "float32" else values.astype(np.float32))
        return _single(op, [_act(rng, dtype, a, qa), second], [_act(rng, dtype, out, qo)])

    return build


def add_n(rng: np.random.Generator, dtype: str = "int32") -> bytes:
    shape = _shape(rng)
    return _single("ADD_N", [_act(rng, dtype, shape, (None, None)) for _ in range(int(rng.integers(2, 4)))],
                   [_act(rng, dtype, shape, (None, None))])


def _logical(op: str) -> Callable[..., bytes]:
    def build(rng: np.random.Generator, dtype: str = "bool") -> bytes:
        if op == "LOGICAL_NOT":
            shape = _shape(rng)
            return _single(op, [TensorSpec(shape, "bool")], [TensorSpec(shape, "bool")])
        a, b, out = _broadcast_pair(rng)
        return _single(op, [TensorSpec(a, "bool"), TensorSpec(b, "bool")], [TensorSpec(out, "bool")])

    return build


def _arg(op: str) -> Callable[..., bytes]:
    def build(rng: np.random.Generator, dtype: str = "int8") -> bytes:
        shape = _shape(rng)
        axis = int(rng.integers(len(shape)))
        out = tuple(d for i, d in enumerate(shape) if i != axis)
        return _single(op, [_act(rng, dtype, shape, _q(rng, dtype)), _const_i32([axis])],
                       [TensorSpec(out, "int32")], {"output_type": "INT32"})

    return build


def _space_batch(op: str) -> Callable[..., bytes]:
    def build(rng: np.random.Generator, dtype: str = "int8") -> bytes:
        block = [int(rng.integers(1, 3)), int(rng.integers(1, 3))]
        c, q = int(rng.integers(1, 4)), _q(rng, dtype)
        zeros = _const_i32(np.zeros((2, 2), np.int64), (2, 2))
        n, a, b = (int(v) for v in rng.integers(1, 4, 3))
        if op == "SPACE_TO_BATCH_ND":
            batch, h, w = n, block[0] * a, block[1] * b
            out = (batch * block[0] * block[1], h // block[0], w // block[1], c)
        else:
            batch, h, w = block[0] * block[1] * n, a, b
            out = (n, h * block[0], w * block[1], c)
        inputs = [_act(rng, dtype, (batch, h, w, c), q), _const_i32(block), zeros]
        return _single(op, inputs, [_act(rng, dtype, out, q)])

    return build


def broadcast_args(rng: np.random.Generator, dtype: str = "int32") -> bytes:
    a, b, out = _broadcast_pair(rng)
    return _single("BROADCAST_ARGS", [_const_i32(list(a)), _const_i32(list(b))], [TensorSpec((len(out),), "int32")])


def broadcast_to(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    a, _, _ = _broadcast_pair(rng)
    out = tuple(int(rng.integers(1, 4)) if d == 1 else d for d in a)
    out = (int(rng.integers(1, 3)),) * int(rng.integers(0, 2)) + out
    q = _q(rng, dtype)
    # LiteRT registers BROADCAST_TO from version 2 on
    return _single("BROADCAST_TO", [_act(rng, dtype, a, q), _const_i32(list(out))], [_act(rng, dtype, out, q)],
                   version=2)


def cast(rng: np.random.Generator, dtype: str = "int8->int32") -> bytes:
    source, target = dtype.split("->")
    shape = _shape(rng)
    return _single("CAST", [TensorSpec(shape, source)], [TensorSpec(shape, target)],
                   {"in_data_type": source.upper(), "out_data_type": target.upper()})


def cumsum(rng: np.random.Generator, dtype: str = "int32") -> bytes:
    shape = _shape(rng)
    return _single("CUMSUM", [_act(rng, dtype, shape, (None, None)), _const_scalar_i32(int(rng.integers(len(shape))))],
                   [_act(rng, dtype, shape, (None, None))],
                   {"exclusive": bool(rng.random() < 0.5), "reverse": bool(rng.random() < 0.5)})


def _depth_space(op: str) -> Callable[..., bytes]:
    def build(rng: np.random.Generator, dtype: str = "int8") -> bytes:
        block, q = int(rng.integers(2, 4)), _q(rng, dtype)
        batch, h, w, c = (int(v) for v in rng.integers(1, 4, 4))
        small, large = (batch, h, w, c * block * block), (batch, h * block, w * block, c)
        shapes = (small, large) if op == "DEPTH_TO_SPACE" else (large, small)
        return _single(op, [_act(rng, dtype, shapes[0], q)], [_act(rng, dtype, shapes[1], q)], {"block_size": block})

    return build


def embedding_lookup(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    rows, width = int(rng.integers(2, 6)), int(rng.integers(1, 5))
    ids = rng.integers(0, rows, int(rng.integers(1, 5)))
    q = _q(rng, dtype)
    return _single("EMBEDDING_LOOKUP", [_const_i32(ids), _act(rng, dtype, (rows, width), q)],
                   [_act(rng, dtype, (len(ids), width), q)])


def expand_dims(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    shape = _shape(rng)
    axis = int(rng.integers(0, len(shape) + 1))
    out = list(shape)
    out.insert(axis, 1)
    q = _q(rng, dtype)
    return _single("EXPAND_DIMS", [_act(rng, dtype, shape, q), _const_i32([axis])], [_act(rng, dtype, tuple(out), q)])


def fill(rng: np.random.Generator, dtype: str = "int32") -> bytes:
    dims = _shape(rng)
    q = _q(rng, dtype)
    return _single("FILL", [_const_i32(list(dims)), _act(rng, dtype, (), q)], [_act(rng, dtype, dims, q)])


def gather(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    shape = _shape(rng)
    axis = int(rng.integers(len(shape)))
    indices = rng.integers(0, shape[axis], int(rng.integers(1, 4)))
    out = (*shape[:axis], len(indices), *shape[axis + 1:])
    q = _q(rng, dtype)
    return _single("GATHER", [_act(rng, dtype, shape, q), _const_i32(indices)], [_act(rng, dtype, out, q)],
                   {"axis": axis})


def gather_nd(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    shape = _shape(rng, int(rng.integers(2, 4)))
    depth = int(rng.integers(1, len(shape) + 1))
    count = int(rng.integers(1, 4))
    indices = np.stack([rng.integers(0, shape[k], count) for k in range(depth)], axis=1)
    q = _q(rng, dtype)
    return _single("GATHER_ND", [_act(rng, dtype, shape, q), _const_i32(indices, (count, depth))],
                   [_act(rng, dtype, (count, *shape[depth:]), q)])


def mirror_pad(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    shape = _shape(rng, int(rng.integers(1, 5)), 4)
    paddings = np.array([[int(rng.integers(0, d)), int(rng.integers(0, d))] for d in shape])
    out = tuple(int(d + p.sum()) for d, p in zip(shape, paddings))
    q = _q(rng, dtype)
    return _single("MIRROR_PAD", [_act(rng, dtype, shape, q), _const_i32(paddings, (len(shape), 2))],
                   [_act(rng, dtype, out, q)], {"mode": "REFLECT"})


def one_hot(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    count, depth = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    indices = rng.integers(-1, depth + 1, count)
    q = _q(rng, dtype)
    on, off = _const(rng, dtype, (), q), _const(rng, dtype, (), q)
    return _single("ONE_HOT", [_const_i32(indices), _const_scalar_i32(depth), on, off],
                   [_act(rng, dtype, (count, depth), q)], {"axis": -1})


def reverse_v2(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    shape = _shape(rng)
    q = _q(rng, dtype)
    return _single("REVERSE_V2", [_act(rng, dtype, shape, q), _const_i32([int(rng.integers(len(shape)))])],
                   [_act(rng, dtype, shape, q)])


def scatter_nd(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    shape = _shape(rng, int(rng.integers(1, 4)))
    count = int(rng.integers(1, 4))
    indices = np.stack([rng.integers(0, shape[0], count)], axis=1)
    q = _q(rng, dtype)
    return _single("SCATTER_ND", [_const_i32(indices, (count, 1)), _act(rng, dtype, (count, *shape[1:]), q),
                                  _const_i32(list(shape))], [_act(rng, dtype, shape, q)])


def _select(op: str) -> Callable[..., bytes]:
    def build(rng: np.random.Generator, dtype: str = "int8") -> bytes:
        if op == "SELECT":
            shape = _shape(rng)
            condition, x, out = shape, shape, shape
        else:
            condition, x, out = _broadcast_pair(rng)
        q = _q(rng, dtype)
        return _single(op, [TensorSpec(condition, "bool"), _act(rng, dtype, x, q), _act(rng, dtype, out, q)],
                       [_act(rng, dtype, out, q)])

    return build


def slice_op(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    shape = _shape(rng)
    begin = [int(rng.integers(0, d)) for d in shape]
    size = [int(rng.integers(1, d - b + 1)) for d, b in zip(shape, begin)]
    q = _q(rng, dtype)
    return _single("SLICE", [_act(rng, dtype, shape, q), _const_i32(begin), _const_i32(size)],
                   [_act(rng, dtype, tuple(size), q)])


def dynamic_update_slice(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    shape = _shape(rng)
    update = tuple(int(rng.integers(1, d + 1)) for d in shape)
    starts = [int(rng.integers(-2, d - u + 3)) for d, u in zip(shape, update)]  # some clamped
    q = _q(rng, dtype)
    start_spec = _const_i32(starts) if rng.random() < 0.5 else TensorSpec((len(shape),), "int32")
    return _single("DYNAMIC_UPDATE_SLICE", [_act(rng, dtype, shape, q), _act(rng, dtype, update, q), start_spec],
                   [_act(rng, dtype, shape, q)])


def _logical_reduce(op: str) -> Callable[..., bytes]:
    def build(rng: np.random.Generator, dtype: str = "bool") -> bytes:
        shape = _shape(rng)
        axes = sorted(int(a) for a in rng.choice(len(shape), size=int(rng.integers(1, len(shape) + 1)),
                                                  replace=False))
        out = tuple(d for i, d in enumerate(shape) if i not in axes)
        # no options table (keep_dims false): modelbuilder.OP_OPTIONS has no ReducerOptions entry for these yet
        return _single(op, [TensorSpec(shape, "bool"), _const_i32(axes)], [TensorSpec(out, "bool")])

    return build


def split(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    shape = list(_shape(rng))
    axis, parts = int(rng.integers(len(shape))), int(rng.integers(1, 4))
    shape[axis] *= parts
    out = list(shape)
    out[axis] //= parts
    q = _q(rng, dtype)
    return _single("SPLIT", [_const_scalar_i32(axis), _act(rng, dtype, tuple(shape), q)],
                   [_act(rng, dtype, tuple(out), q) for _ in range(parts)], {"num_splits": parts})


def split_v(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    shape = list(_shape(rng))
    axis = int(rng.integers(len(shape)))
    sizes = [int(v) for v in rng.integers(1, 4, int(rng.integers(1, 4)))]
    shape[axis] = sum(sizes)
    q = _q(rng, dtype)
    outputs = []
    for size in sizes:
        out = list(shape)
        out[axis] = size
        outputs.append(_act(rng, dtype, tuple(out), q))
    return _single("SPLIT_V", [_act(rng, dtype, tuple(shape), q), _const_i32(sizes), _const_scalar_i32(axis)],
                   outputs, {"num_splits": len(sizes)})


def squeeze(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    shape = list(_shape(rng))
    for _ in range(int(rng.integers(1, 3))):
        shape.insert(int(rng.integers(0, len(shape) + 1)), 1)
    ones = [i for i, d in enumerate(shape) if d == 1]
    dims = ones if rng.random() < 0.5 else []
    out = tuple(d for i, d in enumerate(shape) if not (d == 1 and (not dims or i in dims)))
    q = _q(rng, dtype)
    return _single("SQUEEZE", [_act(rng, dtype, tuple(shape), q)], [_act(rng, dtype, out, q)], {"squeeze_dims": dims})


def topk(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    shape = _shape(rng)
    k = int(rng.integers(1, shape[-1] + 1))
    q = _q(rng, dtype)
    out = (*shape[:-1], k)
    return _single("TOPK_V2", [_act(rng, dtype, shape, q), _const_scalar_i32(k)],
                   [_act(rng, dtype, out, q), TensorSpec(out, "int32")])


def unpack(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    shape = _shape(rng)
    axis = int(rng.integers(len(shape)))
    out = tuple(d for i, d in enumerate(shape) if i != axis)
    q = _q(rng, dtype)
    return _single("UNPACK", [_act(rng, dtype, shape, q)], [_act(rng, dtype, out, q) for _ in range(shape[axis])],
                   {"num": shape[axis], "axis": axis})


def zeros_like(rng: np.random.Generator, dtype: str = "int32") -> bytes:
    shape = _shape(rng)
    return _single("ZEROS_LIKE", [_act(rng, dtype, shape, (None, None))], [_act(rng, dtype, shape, (None, None))])


# ------------------------------------------------------------------------------------------ matmul, recurrent, sparse


def batch_matmul(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    """BATCH_MATMUL: ranks 2 to 4, batch dimensions that broadcast (a 1, or a lower-rank RHS), adj_x / adj_y, a
    constant RHS or a second input; int8 (any RHS zero point), int16 (RHS int16 or int8, zero points 0),
    float32, hybrid (float32 x constant int8)."""
    rank = int(rng.integers(2, 5))
    batch = [int(rng.integers(1, 4)) for _ in range(rank - 2)]
    lhs_batch = [b if rng.random() < 0.75 else 1 for b in batch]
    rhs_batch = [b if rng.random() < 0.75 else 1 for b in batch]
    if rhs_batch and rng.random() < 0.3:
        rhs_batch = rhs_batch[1:]
    rows, depth, units = (int(v) for v in rng.integers(1, 7, 3))
    adj_x, adj_y = bool(rng.random() < 0.3), bool(rng.random() < 0.3)
    lhs_shape = (*lhs_batch, *((depth, rows) if adj_x else (rows, depth)))
    rhs_shape = (*rhs_batch, *((units, depth) if adj_y else (depth, units)))
    padded = [1] * (len(lhs_batch) - len(rhs_batch)) + rhs_batch
    out_shape = (*(max(a, b) for a, b in zip(lhs_batch, padded)), rows, units)
    constant = dtype == "hybrid" or rng.random() < 0.6
    options: dict = {"adj_x": adj_x, "adj_y": adj_y}
    version = 1
    if dtype in ("float32", "hybrid"):
        lhs, out = TensorSpec(lhs_shape, "float32"), TensorSpec(out_shape, "float32")
        if dtype == "float32":
            rhs = TensorSpec(rhs_shape, "float32", data=rng.standard_normal(rhs_shape) if constant else None)
        else:
            options["asymmetric_quantize_inputs"] = bool(rng.random() < 0.5)
            version = 4 if options["asymmetric_quantize_inputs"] else 1
            rhs = TensorSpec(rhs_shape, "int8", _scale(rng, 1e-3, 1e-1), 0, data=rng.integers(-127, 128, rhs_shape))
    elif dtype == "int8":
        lhs_q, rhs_q = _q(rng, "int8"), (_scale(rng), _zp(rng, "int8") if rng.random() < 0.5 else 0)
        out_q = (_f32(lhs_q[0] * rhs_q[0] * 100 * math.sqrt(depth) * 2.0 ** rng.uniform(-3, 3)), _zp(rng, "int8"))
        lhs, out = TensorSpec(lhs_shape, "int8", *lhs_q), TensorSpec(out_shape, "int8", *out_q)
        rhs = TensorSpec(rhs_shape, "int8", *rhs_q, data=_int_data(rng, rhs_shape) if constant else None)
        version = 2
    else:  # int16: int16 LHS and output, an int16 or (LiteRT only) int8 RHS
        rhs_dtype = "int8" if rng.random() < 0.3 else "int16"
        lhs_q = _q(rng, "int16")
        rhs_q = (_scale(rng, 1e-3, 1e-1) if rhs_dtype == "int8" else _scale(rng, 1e-6, 1e-3), 0)
        rhs_std = INT8_STD if rhs_dtype == "int8" else INT16_STD
        out_q = (_f32(lhs_q[0] * rhs_q[0] * INT16_STD * rhs_std * math.sqrt(depth) / 16000 * 2.0 ** rng.uniform(-3, 3)),
                 0)
        lhs, out = TensorSpec(lhs_shape, "int16", *lhs_q), TensorSpec(out_shape, "int16", *out_q)
        rhs = TensorSpec(rhs_shape, rhs_dtype, *rhs_q,
                         data=_int_data(rng, rhs_shape, rhs_dtype) if constant else None)
        version = 3
    return single_op_model("BATCH_MATMUL", [lhs, rhs], [out], options, version=version)


def lstm(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    """UNIDIRECTIONAL_SEQUENCE_LSTM int8x8_16 (LiteRT's integer LSTM): int8 input, weights and output state,
    int16 cell state, int32 biases, the five intermediates carrying the gate scales and the hidden scale; CIFG,
    peephole, projection and layer norm drawn, time-major or batch-major."""
    n_batch, max_time = int(rng.integers(1, 3)), int(rng.integers(1, 4))
    n_input, n_cell = int(rng.integers(1, 6)), int(rng.integers(1, 6))
    projection, peephole = bool(rng.random() < 0.35), bool(rng.random() < 0.35)
    n_output = (int(rng.integers(1, n_cell + 1)) if peephole else int(rng.integers(1, 6))) if projection else n_cell
    cifg, layer_norm, time_major = bool(rng.random() < 0.3), bool(rng.random() < 0.35), bool(rng.random() < 0.5)
    input_q = (_scale(rng, 1e-3, 0.5), _zp(rng, "int8"))
    state_q = (_scale(rng, 2e-3, 0.05), _zp(rng, "int8"))
    hidden_q = (_scale(rng, 2e-3, 0.05), _zp(rng, "int8")) if projection else state_q

    def weights(shape: tuple[int, ...], scale: float, kind: str = "int8") -> TensorSpec:
        low, high = (-4096, 4097) if kind == "int16" else (-127, 128)
        return TensorSpec(shape, kind, _f32(scale), 0, data=rng.integers(low, high, shape))

    specs: list[TensorSpec | None] = [None] * 24
    shape = (max_time, n_batch, n_input) if time_major else (n_batch, max_time, n_input)
    specs[0] = TensorSpec(shape, "int8", *input_q)
    for gate in range(4):
        if gate == 0 and cifg:
            continue
        scale_x = _scale(rng) * 2 ** -12 / (input_q[0] * 8 * math.sqrt(n_input))
        scale_h = _scale(rng) * 2 ** -12 / (state_q[0] * 8 * math.sqrt(n_output))
        specs[1 + gate] = weights((n_cell, n_input), scale_x)
        specs[5 + gate] = weights((n_cell, n_output), scale_h)
        specs[12 + gate] = TensorSpec((n_cell,), "int32", _f32(_f32(scale_x) * input_q[0]), 0,
                                      data=rng.integers(-(1 << 12), 1 << 12, n_cell))
        if peephole and gate != 2:
            specs[9 + min(gate, 2)] = weights((n_cell,), _scale(rng, 1e-4, 1e-2), "int16")
        if layer_norm:
            specs[20 + gate] = weights((n_cell,), _scale(rng, 1e-5, 1e-3), "int16")
    if projection:
        proj_scale = _scale(rng) * state_q[0] / (hidden_q[0] * math.sqrt(n_cell) * 8)
        specs[16] = weights((n_output, n_cell), proj_scale)
        if rng.random() < 0.5:
            specs[17] = TensorSpec((n_output,), "int32", _f32(_f32(proj_scale) * hidden_q[0]), 0,
                                   data=rng.integers(-(1 << 12), 1 << 12, n_output))
    specs[18] = TensorSpec((n_batch, n_output), "int8", *state_q, is_variable=True)
    specs[19] = TensorSpec((n_batch, n_cell), "int16", 2.0 ** int(rng.integers(-15, -8)), 0, is_variable=True)
    intermediates = [TensorSpec((0,), "int16", _scale(rng, 2 ** -14, 2 ** -10), 0) if layer_norm
                     else TensorSpec((0,), "float32") for _ in range(4)]
    intermediates.append(TensorSpec((0,), "int8", *hidden_q))
    options = {"fused_activation_function": "TANH", "cell_clip": float(rng.choice([0.0, 0.0, 2.5])),
               "proj_clip": float(rng.choice([0.0, 0.5])) if projection else 0.0, "time_major": time_major}
    output = TensorSpec((*shape[:2], n_output), "int8", *state_q)
    return single_op_model("UNIDIRECTIONAL_SEQUENCE_LSTM", specs, [output], options, intermediates=intermediates)


def bidirectional_lstm(rng: np.random.Generator, dtype: str = "float32") -> bytes:
    """BIDIRECTIONAL_SEQUENCE_LSTM float32 (or hybrid: int8 weights), time-major, batch 1 (a float time-major
    batch > 1 is refused: Eigen's GEMM order), the two cells of one size, merged outputs or two, CIFG drawn."""
    max_time, n_input, n_cell = int(rng.integers(1, 4)), int(rng.integers(1, 6)), int(rng.integers(1, 6))
    cifg, merge = bool(rng.random() < 0.3), bool(rng.random() < 0.5)

    def weights(*shape: int) -> TensorSpec:
        values = rng.standard_normal(shape).astype(np.float32) * np.float32(0.5)
        if dtype == "float32":
            return TensorSpec(shape, "float32", data=values)
        return TensorSpec(shape, "int8", _f32(0.5 / 127), 0, data=rng.integers(-127, 128, shape))

    specs: list[TensorSpec | None] = [None] * 48
    specs[0] = TensorSpec((max_time, 1, n_input), "float32")
    for base in (0, 17):
        for gate in range(4):
            if gate == 0 and cifg:
                continue
            specs[base + 1 + gate] = weights(n_cell, n_input)
            specs[base + 5 + gate] = weights(n_cell, n_cell)
            specs[base + 12 + gate] = TensorSpec((n_cell,), "float32", data=rng.standard_normal(n_cell))
    for position in (35, 36, 37, 38):  # forward and backward output and cell states
        specs[position] = TensorSpec((1, n_cell), "float32", is_variable=True)
    outputs = ([TensorSpec((max_time, 1, 2 * n_cell), "float32")] if merge else
               [TensorSpec((max_time, 1, n_cell), "float32"), TensorSpec((max_time, 1, n_cell), "float32")])
    options = {"fused_activation_function": "TANH", "cell_clip": 0.0, "proj_clip": 0.0, "merge_outputs": merge,
               "time_major": True, "asymmetric_quantize_inputs": dtype == "hybrid" and bool(rng.random() < 0.5)}
    return single_op_model("BIDIRECTIONAL_SEQUENCE_LSTM", specs, outputs, options)


def svdf(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    """SVDF (one step; the state is a variable tensor): int8 (int16 state and time weights, RELU as LiteRT's
    int8 kernel requires), float32, hybrid (int8 weights, float input); the bias present or absent."""
    batch, input_size, rank = int(rng.integers(1, 3)), int(rng.integers(1, 17)), int(rng.integers(1, 3))
    units, memory = int(rng.integers(1, 6)), int(rng.integers(1, 6))
    filters = rank * units
    with_bias = rng.random() < 0.85
    options: dict = {"rank": rank}
    if dtype == "int8":
        input_q = (_scale(rng), _zp(rng, "int8"))
        feature_scale = _scale(rng)
        typical_dot = INT8_STD * math.hypot(INT8_STD, input_q[1]) * math.sqrt(input_size)
        state_scale = _f32(input_q[0] * feature_scale * typical_dot / 2.0 ** rng.uniform(8, 14))
        time_scale = _scale(rng, 1e-4, 1e-1)
        typical_acc = 2.0 ** 11 * 2 ** 12 * math.sqrt(memory * rank)
        output_q = (_f32(state_scale * time_scale * typical_acc / 64.0 * 2.0 ** rng.uniform(-3, 3)), _zp(rng, "int8"))
        constants: list[TensorSpec | None] = [
            TensorSpec((filters, input_size), "int8", feature_scale, 0, data=_int_data(rng, (filters, input_size))),
            TensorSpec((filters, memory), "int16", time_scale, 0, data=rng.integers(-(1 << 12), 1 << 12,
                                                                                     (filters, memory))),
            TensorSpec((units,), "int32", _f32(state_scale * time_scale), 0,
                       data=rng.integers(-(1 << 16), 1 << 16, units)) if with_bias else None]
        x = TensorSpec((batch, input_size), "int8", *input_q)
        state = TensorSpec((batch, memory * filters), "int16", state_scale, 0, is_variable=True)
        output = TensorSpec((batch, units), "int8", *output_q)
        options["fused_activation_function"] = "RELU"
        version = 3
    else:
        if dtype == "float32":
            constants = [TensorSpec((filters, input_size), "float32", data=rng.standard_normal((filters, input_size))),
                         TensorSpec((filters, memory), "float32", data=rng.standard_normal((filters, memory)))]
            version = 1
        else:
            constants = [TensorSpec((filters, input_size), "int8", _scale(rng), 0,
                                    data=_int_data(rng, (filters, input_size))),
                         TensorSpec((filters, memory), "int8", _scale(rng), 0, data=_int_data(rng, (filters, memory)))]
            options["asymmetric_quantize_inputs"] = bool(rng.random() < 0.5)
            version = 2
        constants.append(TensorSpec((units,), "float32", data=rng.standard_normal(units)) if with_bias else None)
        x, output = TensorSpec((batch, input_size), "float32"), TensorSpec((batch, units), "float32")
        state = TensorSpec((batch, memory * filters), "float32", is_variable=True)
        options["fused_activation_function"] = ACTIVATIONS[int(rng.integers(len(ACTIVATIONS)))]
    return single_op_model("SVDF", [x, *constants[:3], state], [output], options, version=version)


def _rnn(op: str) -> Callable[..., bytes]:
    """RNN, UNIDIRECTIONAL_SEQUENCE_RNN (time-major or not) and BIDIRECTIONAL_SEQUENCE_RNN (merged outputs or
    not, no auxiliary input): float32, or hybrid (int8 weights, float input); hidden states are variable tensors."""

    def build(rng: np.random.Generator, dtype: str = "float32") -> bytes:
        batch, time, input_size = int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(1, 9))
        time_major = bool(rng.random() < 0.5)
        options: dict = {"fused_activation_function": ("NONE", "RELU", "RELU6", "TANH")[int(rng.integers(4))]}
        if op != "RNN":
            options["time_major"] = time_major
        if dtype == "hybrid":
            options["asymmetric_quantize_inputs"] = bool(rng.random() < 0.5)

        def weights(shape: tuple[int, ...]) -> TensorSpec:
            if dtype == "float32":
                return TensorSpec(shape, "float32", data=rng.uniform(-0.5, 0.5, shape))
            return TensorSpec(shape, "int8", _scale(rng, 1e-3, 3e-2), 0, data=_int_data(rng, shape))

        def cell(units: int) -> list[TensorSpec]:
            return [weights((units, input_size)), weights((units, units)),
                    TensorSpec((units,), "float32", data=rng.standard_normal(units)),
                    TensorSpec((batch, units), "float32", is_variable=True)]

        def sequence(width: int) -> tuple[int, ...]:
            return (time, batch, width) if time_major else (batch, time, width)

        version = 1 if dtype == "float32" else 2
        units = int(rng.integers(1, 7))
        if op == "RNN":
            return single_op_model(op, [TensorSpec((batch, input_size), "float32"), *cell(units)],
                                   [TensorSpec((batch, units), "float32")], options, version=version)
        if op == "UNIDIRECTIONAL_SEQUENCE_RNN":
            return single_op_model(op, [TensorSpec(sequence(input_size), "float32"), *cell(units)],
                                   [TensorSpec(sequence(units), "float32")], options, version=version)
        bw_units = int(rng.integers(1, 7))
        merge = bool(rng.random() < 0.5)
        options["merge_outputs"] = merge
        if dtype == "hybrid" and time_major and merge and batch > 1:
            options["asymmetric_quantize_inputs"] = True  # symmetric: LiteRT reads a null zero-point array (crash)
        inputs = [TensorSpec(sequence(input_size), "float32"), *cell(units), *cell(bw_units), None, None, None]
        outputs = [TensorSpec(sequence(units + bw_units if merge else units), "float32")]
        if not merge:
            outputs.append(TensorSpec(sequence(bw_units), "float32"))
        return single_op_model(op, inputs, outputs, options, version=version)

    return build


def densify(rng: np.random.Generator, dtype: str = "float32") -> bytes:
    """DENSIFY of a sparse constant (refinterp.modelbuilder.sparsify, as TFLite's converter writes it): rank 1
    to 4, any traversal order, DENSE or SPARSE_CSR levels, now and then a block dimension; int8 quantized."""
    rank = int(rng.integers(1, 5))
    shape = [int(d) for d in rng.integers(1, 6, rank)]
    block_map, block_sizes = [], []
    if rng.random() < 0.3:
        block_map, block_sizes = [int(rng.integers(rank))], [int(rng.integers(1, 4))]
        shape[block_map[0]] *= block_sizes[0]
    dense = _data(rng, dtype, tuple(shape)) if dtype != "float16" else rng.standard_normal(shape).astype(np.float16)
    dense[rng.random(tuple(shape)) < rng.uniform(0.2, 0.9)] = 0
    traversal = [int(d) for d in rng.permutation(rank)] + [rank + k for k in range(len(block_map))]
    formats = [("DENSE", "SPARSE_CSR")[int(rng.integers(2))] for _ in range(rank)] + ["DENSE"] * len(block_map)
    values, sparsity = sparsify(dense, traversal, block_map, block_sizes, formats)
    q = _q(rng, dtype)
    return single_op_model("DENSIFY", [TensorSpec(tuple(shape), dtype, *q, data=values, sparsity=sparsity)],
                           [TensorSpec(tuple(shape), dtype, *q)])


# ------------------------------------------------------------------------------------------ detection


def detection_postprocess(rng: np.random.Generator, dtype: str = "float32") -> bytes:
    """CUSTOM:TFLite_Detection_PostProcess, fast or regular NMS. The anchors and class scores are constants,
    the box encodings the model's input: anchors sit in clusters 0.6 apart (boxes of different clusters never
    overlap, whatever the encodings in [-1, 1) or uint8) and every cluster has a box of score 1, so that
    max_detections boxes are always found (LiteRT leaves the rows of missing detections unwritten)."""
    regular = bool(rng.random() < 0.4)
    num_classes, background = int(rng.integers(1, 5)), int(rng.integers(0, 2))
    columns = num_classes + background
    max_detections = int(rng.integers(1, 6))
    clusters = int(rng.integers(max_detections, max_detections + 3))
    owner = np.repeat(np.arange(clusters), rng.integers(1, 4, clusters))
    num_boxes = len(owner)
    cells = rng.permutation(16)[:clusters][owner]
    max_classes = 1 if regular else int(rng.integers(1, num_classes + 1))
    options = {"max_detections": max_detections, "max_classes_per_detection": max_classes,
               "nms_iou_threshold": _f32(rng.uniform(0.1, 1.0)), "num_classes": num_classes,
               "nms_score_threshold": _f32(rng.uniform(0.0, 0.3)), "use_regular_nms": regular,
               "y_scale": 10.0, "x_scale": 10.0, "h_scale": 5.0, "w_scale": 5.0}
    anchors = np.stack([0.2 + 0.6 * (cells // 4) + rng.uniform(-0.02, 0.02, num_boxes),
                        0.2 + 0.6 * (cells % 4) + rng.uniform(-0.02, 0.02, num_boxes),
                        rng.uniform(0.05, 0.1, num_boxes), rng.uniform(0.05, 0.1, num_boxes)], 1)
    scores = rng.uniform(0.0, 1.0, (num_boxes, columns))
    first = np.searchsorted(owner, np.arange(clusters))
    scores[first, rng.integers(background, columns, clusters)] = 1.0
    box_shape = (1, num_boxes, 4)
    if dtype == "float32":
        specs = [TensorSpec(box_shape, "float32"), TensorSpec((1, num_boxes, columns), "float32", data=scores[None]),
                 TensorSpec((num_boxes, 4), "float32", data=anchors)]
    else:
        score_scale = _f32(1 / 255)
        specs = [TensorSpec(box_shape, "uint8", _scale(rng, 0.005, 0.03), int(rng.integers(100, 156))),
                 TensorSpec((1, num_boxes, columns), "uint8", score_scale, 0,
                            data=np.round(scores / score_scale)[None].clip(0, 255)),
                 TensorSpec((num_boxes, 4), "uint8", 0.01, 0, data=np.round(anchors / 0.01).clip(0, 255))]
    count = max_detections * max_classes
    outputs = [TensorSpec((1, count, 4), "float32"), TensorSpec((1, count), "float32"),
               TensorSpec((1, count), "float32"), TensorSpec((1,), "float32")]
    return single_op_model("CUSTOM:TFLite_Detection_PostProcess", specs, outputs,
                           custom_options=flexbuffers.Dumps(options))


def _non_max_suppression(op: str) -> Callable[..., bytes]:
    """NON_MAX_SUPPRESSION_V4 / V5 (soft NMS with sigma): boxes and scores are inputs; max_output_size, the IoU
    and score thresholds (and sigma) constants."""

    def build(rng: np.random.Generator, dtype: str = "float32") -> bytes:
        num_boxes = int(rng.integers(1, 20))
        size = int(rng.integers(1, num_boxes + 3))
        specs = [TensorSpec((num_boxes, 4), "float32"), TensorSpec((num_boxes,), "float32"),
                 TensorSpec((), "int32", data=np.array(size)),
                 TensorSpec((), "float32", data=np.array(_f32(rng.uniform(0.1, 0.9)))),
                 TensorSpec((), "float32", data=np.array(_f32(rng.uniform(-0.5, 0.5))))]
        outputs = [TensorSpec((size,), "int32")]
        if op == "NON_MAX_SUPPRESSION_V5":
            specs.append(TensorSpec((), "float32", data=np.array(_f32(rng.choice([0.0, 0.5, 1.5])))))
            outputs.append(TensorSpec((size,), "float32"))
        outputs.append(TensorSpec((), "int32"))
        return single_op_model(op, specs, outputs)

    return build


# ------------------------------------------------------------------------------------------ control flow


def _cf_tensor(shape: tuple[int, ...], dtype: str, name: str, data: list | np.ndarray | None = None,
               q: tuple = (None, None)) -> TensorSpec:
    return TensorSpec(tuple(shape), dtype, q[0], q[1], name=name, data=None if data is None else np.asarray(data))


def while_loop(rng: np.random.Generator, dtype: str = "float32") -> bytes:
    """WHILE (i < n): i += 1; x = x + c (float32, or int8 with the loop variable's quantization). The bounds
    come from the input, i = ARG_MIN(x) and n = ARG_MAX(x) over its 2 to 4 elements, not from constants: a
    mutated constant would make a loop of billions of iterations, which neither runtime ends in time."""
    shape = (int(rng.integers(2, 5)),)
    q = _q(rng, dtype)
    c = rng.uniform(-1, 1, shape) if dtype == "float32" else _int_data(rng, shape, dtype)
    main = ([_cf_tensor(shape, dtype, "x", q=q), _cf_tensor((1,), "int32", "axis", [0]),
             _cf_tensor((), "int32", "i"), _cf_tensor((), "int32", "n"),
             _cf_tensor((), "int32", "i_out"), _cf_tensor((), "int32", "n_out"),
             _cf_tensor(shape, dtype, "x_out", q=q)],
            [OpSpec("ARG_MIN", [0, 1], [2], {"output_type": "INT32"}),
             OpSpec("ARG_MAX", [0, 1], [3], {"output_type": "INT32"}),
             OpSpec("WHILE", [2, 3, 0], [4, 5, 6], {"cond_subgraph_index": 1, "body_subgraph_index": 2})],
            [0], [4, 5, 6])
    cond = SubgraphSpec([_cf_tensor((), "int32", "ci"), _cf_tensor((), "int32", "cn"),
                         _cf_tensor(shape, dtype, "cx", q=q), _cf_tensor((), "bool", "go")],
                        [OpSpec("LESS", [0, 1], [3])], [0, 1, 2], [3], "cond")
    body = SubgraphSpec([_cf_tensor((), "int32", "bi"), _cf_tensor((), "int32", "bn"),
                         _cf_tensor(shape, dtype, "bx", q=q), _cf_tensor((), "int32", "one", [1]),
                         _cf_tensor(shape, dtype, "c", c, q=_q(rng, dtype)), _cf_tensor((), "int32", "bi_next"),
                         _cf_tensor(shape, dtype, "bx_next", q=q)],
                        [OpSpec("ADD", [0, 3], [5]), OpSpec("ADD", [2, 4], [6])], [0, 1, 2], [5, 1, 6], "body")
    return build_model(*main, subgraphs=[cond, body])


def if_branches(rng: np.random.Generator, dtype: str = "float32") -> bytes:
    """IF c: y = x + k (then) else y = x * x (else); float32, or int8 with their own quantization."""
    shape = _shape(rng, int(rng.integers(1, 4)), 4)
    qx, qy = _q(rng, dtype), _q(rng, dtype)
    k = rng.uniform(-1, 1, (1,)) if dtype == "float32" else _int_data(rng, (1,), dtype)
    main = ([_cf_tensor((), "bool", "c"), _cf_tensor(shape, dtype, "x", q=qx), _cf_tensor(shape, dtype, "y", q=qy)],
            [OpSpec("IF", [0, 1], [2], {"then_subgraph_index": 1, "else_subgraph_index": 2})], [0, 1], [2])
    then = SubgraphSpec([_cf_tensor(shape, dtype, "tx", q=qx), _cf_tensor((1,), dtype, "k", k, q=_q(rng, dtype)),
                         _cf_tensor(shape, dtype, "ty", q=qy)], [OpSpec("ADD", [0, 1], [2])], [0], [2], "then")
    other = SubgraphSpec([_cf_tensor(shape, dtype, "ex", q=qx), _cf_tensor(shape, dtype, "ey", q=qy)],
                         [OpSpec("MUL", [0, 0], [1])], [0], [1], "else")
    return build_model(*main, subgraphs=[then, other])


def resource_variable(rng: np.random.Generator, dtype: str = "float32") -> bytes:
    """A state in a resource variable: CALL_ONCE runs the init subgraph (VAR_HANDLE, ASSIGN_VARIABLE of a
    constant), then main reads it (READ_VARIABLE), adds the input and assigns the sum back; float32 or int32."""
    shape = _shape(rng, int(rng.integers(1, 4)), 4)
    initial = rng.uniform(-1, 1, shape) if dtype == "float32" else rng.integers(-100, 100, shape)
    name = f"v{int(rng.integers(100))}"
    tensors = [_cf_tensor(shape, dtype, "x"), _cf_tensor((), "resource", "handle"), _cf_tensor(shape, dtype, "state"),
               _cf_tensor(shape, dtype, "y")]
    operators = [OpSpec("CALL_ONCE", [], [], {"init_subgraph_index": 1}),
                 OpSpec("VAR_HANDLE", [], [1], {"container": "", "shared_name": name}),
                 OpSpec("READ_VARIABLE", [1], [2]), OpSpec("ADD", [2, 0], [3]), OpSpec("ASSIGN_VARIABLE", [1, 3], [])]
    init = SubgraphSpec([_cf_tensor((), "resource", "init_handle"), _cf_tensor(shape, dtype, "initial", initial)],
                        [OpSpec("VAR_HANDLE", [], [0], {"container": "", "shared_name": name}),
                         OpSpec("ASSIGN_VARIABLE", [0, 1], [])], [], [], "init")
    return build_model(tensors, operators, [0], [3], subgraphs=[init])


def small_chain(rng: np.random.Generator, dtype: str = "int8") -> bytes:
    """CONV_2D -> DEPTHWISE_CONV_2D -> RESHAPE -> FULLY_CONNECTED -> SOFTMAX, int8, shapes flowing through."""
    h, w, c_in, c = int(rng.integers(3, 7)), int(rng.integers(3, 7)), int(rng.integers(1, 4)), int(rng.integers(1, 5))
    units = int(rng.integers(2, 6))
    qs = [_q(rng, "int8") for _ in range(4)]
    w1 = [_scale(rng, 1e-3, 1e-2) for _ in range(c)]
    w2 = [_scale(rng, 1e-3, 1e-2) for _ in range(c)]
    w3 = _scale(rng, 1e-3, 1e-2)
    flat = h * w * c
    tensors = [
        TensorSpec((1, h, w, c_in), "int8", *qs[0], name="input"),
        TensorSpec((c, 3, 3, c_in), "int8", w1, [0] * c, data=rng.integers(-127, 128, (c, 3, 3, c_in))),
        TensorSpec((c,), "int32", [_f32(qs[0][0] * s) for s in w1], [0] * c, data=rng.integers(-500, 500, c)),
        TensorSpec((1, h, w, c), "int8", *qs[1], name="conv"),
        TensorSpec((1, 3, 3, c), "int8", w2, [0] * c, quantized_dimension=3,
                   data=rng.integers(-127, 128, (1, 3, 3, c))),
        TensorSpec((c,), "int32", [_f32(qs[1][0] * s) for s in w2], [0] * c, data=rng.integers(-500, 500, c)),
        TensorSpec((1, h, w, c), "int8", *qs[2], name="depthwise"),
        TensorSpec((2,), "int32", data=np.array([1, flat])),
        TensorSpec((1, flat), "int8", *qs[2], name="flat"),
        TensorSpec((units, flat), "int8", w3, 0, data=rng.integers(-127, 128, (units, flat))),
        TensorSpec((units,), "int32", _f32(qs[2][0] * w3), 0, data=rng.integers(-500, 500, units)),
        TensorSpec((1, units), "int8", *qs[3], name="logits"),
        TensorSpec((1, units), "int8", _f32(1 / 256), -128, name="probabilities"),
    ]
    operators = [
        OpSpec("CONV_2D", [0, 1, 2], [3], {"padding": "SAME", "fused_activation_function": "RELU"}),
        OpSpec("DEPTHWISE_CONV_2D", [3, 4, 5], [6], {"padding": "SAME", "depth_multiplier": 1}),
        OpSpec("RESHAPE", [6, 7], [8]),
        OpSpec("FULLY_CONNECTED", [8, 9, 10], [11]),
        OpSpec("SOFTMAX", [11], [12], {"beta": 1.0}),
    ]
    return build_model(tensors, operators, [0], [12])


#: operator -> (builder, the dtypes it is drawn in); the first dtype is the main one
SEED_BUILDERS: dict[str, tuple[Callable[..., bytes], tuple[str, ...]]] = {
    "CONV_2D": (conv2d, ("int8", "int16")),
    "DEPTHWISE_CONV_2D": (depthwise_conv2d, ("int8", "int16")),
    "TRANSPOSE_CONV": (transpose_conv, ("int8", "int16")),
    "FULLY_CONNECTED": (fully_connected, ("int8", "int16")),
    "MAX_POOL_2D": (_pool("MAX_POOL_2D"), ("int8", "float32", "int16")),
    "AVERAGE_POOL_2D": (_pool("AVERAGE_POOL_2D"), ("int8", "uint8", "int16")),
    "MEAN": (_reduce("MEAN", same_quant=False), ("int8", "int16")),
    "REDUCE_MAX": (_reduce("REDUCE_MAX", same_quant=True), ("int8", "int16")),
    "SOFTMAX": (softmax, ("int8", "int16")),
    "LOGISTIC": (logistic, ("int8", "int16")),
    "LEAKY_RELU": (leaky_relu, ("int8", "int16")),
    "CONCATENATION": (concatenation, ("int8", "float32")),
    "RESIZE_NEAREST_NEIGHBOR": (_resize("RESIZE_NEAREST_NEIGHBOR"), ("int8", "int16")),
    "RESIZE_BILINEAR": (_resize("RESIZE_BILINEAR"), ("int8", "int16")),
    "RESHAPE": (reshape, ("int8", "float32")),
    "QUANTIZE": (quantize, ("float32->int8", "int8->int8", "uint8->int8", "float32->int16", "int16->int8",
                          "int16->int16", "int8->int16")),
    "DEQUANTIZE": (dequantize, ("int8", "int16")),
    "ADD": (_binary("ADD"), ("int8", "uint8", "float32", "int16")),
    "SUB": (_binary("SUB"), ("int8", "int16")),
    "MUL": (_binary("MUL"), ("int8", "int16")),
    "MINIMUM": (_binary("MINIMUM", same_quant=True), ("int8",)),
    "MAXIMUM": (_binary("MAXIMUM", same_quant=True), ("int8",)),
    "RELU": (_relu("RELU"), ("int8", "int16")),
    "RELU6": (_relu("RELU6"), ("int8", "int16")),
    "RELU_N1_TO_1": (_relu("RELU_N1_TO_1"), ("int8",)),
    "PAD": (_pad("PAD"), ("int8", "float32")),
    "PADV2": (_pad("PADV2"), ("int8",)),
    "TRANSPOSE": (transpose, ("int8",)),
    "STRIDED_SLICE": (strided_slice, ("int8",)),
    "SHAPE": (shape_op, ("int8",)),
    "PACK": (pack, ("int8",)),
    "TILE": (tile, ("int8",)),
    "PRELU": (prelu, ("int8", "uint8", "float32", "int16")),
    "L2_POOL_2D": (_pool("L2_POOL_2D"), ("float32",)),
    "REDUCE_MIN": (_reduce("REDUCE_MIN", same_quant=True), ("int8", "float32", "int16")),
    "REDUCE_PROD": (_reduce("REDUCE_PROD", same_quant=False), ("int8", "float32", "int16")),
    "SUM": (_reduce("SUM", same_quant=False), ("int8", "int32")),
    "ADD_N": (add_n, ("int32", "float32")),
    "DIV": (_elementwise("DIV"), ("int8", "float32", "int32")),
    "FLOOR_DIV": (_elementwise("FLOOR_DIV"), ("int32", "float32")),
    "FLOOR_MOD": (_elementwise("FLOOR_MOD"), ("int32", "float32")),
    "POW": (_elementwise("POW"), ("float32", "int32")),
    "SQUARED_DIFFERENCE": (_elementwise("SQUARED_DIFFERENCE"), ("int8", "float32")),
    **{op: (_compare(op), ("int8", "int32", "float32")) for op in (
        "EQUAL", "NOT_EQUAL", "GREATER", "GREATER_EQUAL", "LESS", "LESS_EQUAL")},
    **{op: (_logical(op), ("bool",)) for op in ("LOGICAL_AND", "LOGICAL_OR", "LOGICAL_NOT")},
    "TANH": (_unary("TANH"), ("int8", "float32", "int16")),
    "ZEROS_LIKE": (zeros_like, ("int32", "float32")),
    "ARG_MAX": (_arg("ARG_MAX"), ("int8", "float32")),
    "ARG_MIN": (_arg("ARG_MIN"), ("int8", "float32")),
    "BATCH_TO_SPACE_ND": (_space_batch("BATCH_TO_SPACE_ND"), ("int8", "float32")),
    "SPACE_TO_BATCH_ND": (_space_batch("SPACE_TO_BATCH_ND"), ("int8", "float32")),
    "BROADCAST_ARGS": (broadcast_args, ("int32",)),
    "BROADCAST_TO": (broadcast_to, ("int8", "float32")),
    "CAST": (cast, ("int8->int32", "float32->int8", "int32->float32", "uint8->bool")),
    "CUMSUM": (cumsum, ("int32", "float32")),
    "DEPTH_TO_SPACE": (_depth_space("DEPTH_TO_SPACE"), ("int8", "float32")),
    "SPACE_TO_DEPTH": (_depth_space("SPACE_TO_DEPTH"), ("int8", "float32")),
    "EMBEDDING_LOOKUP": (embedding_lookup, ("int8", "float32")),
    "EXPAND_DIMS": (expand_dims, ("int8",)),
    "FILL": (fill, ("int32", "float32")),
    "GATHER": (gather, ("int8", "float32")),
    "GATHER_ND": (gather_nd, ("int8", "float32")),
    "MIRROR_PAD": (mirror_pad, ("int8", "float32")),
    "ONE_HOT": (one_hot, ("int32", "float32")),
    "REVERSE_V2": (reverse_v2, ("int8", "float32")),
    "SCATTER_ND": (scatter_nd, ("int32", "float32")),
    "SELECT": (_select("SELECT"), ("int8", "float32")),
    "SELECT_V2": (_select("SELECT_V2"), ("int8", "float32")),
    "SLICE": (slice_op, ("int8", "float32")),
    "DYNAMIC_UPDATE_SLICE": (dynamic_update_slice, ("int8", "float32", "int32", "bool")),
    "REDUCE_ALL": (_logical_reduce("REDUCE_ALL"), ("bool",)),
    "REDUCE_ANY": (_logical_reduce("REDUCE_ANY"), ("bool",)),
    "SPLIT": (split, ("int8", "float32")),
    "SPLIT_V": (split_v, ("int8", "float32")),
    "SQUEEZE": (squeeze, ("int8",)),
    "TOPK_V2": (topk, ("int8", "float32")),
    "UNPACK": (unpack, ("int8", "float32")),
    **{op: (_unary(op), dtypes) for op, dtypes in (
        ("ABS", ("int8", "int32", "float32", "int16")),
        ("NEG", ("int8", "int32", "float32", "int16")),
        ("SQRT", ("int8", "float32")),
        ("RSQRT", ("int8", "float32")),
        ("EXP", ("int8", "float32")),
        ("LOG", ("int8", "float32")),
        ("ELU", ("int8", "float32")),
        ("HARD_SWISH", ("int8", "uint8", "float32")),
        ("L2_NORMALIZATION", ("int8", "uint8", "float32")),
        ("SIN", ("float32",)),
        ("COS", ("float32",)),
        ("SQUARE", ("float32",)),
        ("FLOOR", ("float32",)),
        ("CEIL", ("float32",)),
        ("ROUND", ("float32",)),
        ("LOG_SOFTMAX", ("float32",)),
    )},
    "BATCH_MATMUL": (batch_matmul, ("int8", "float32", "int16", "hybrid")),
    "UNIDIRECTIONAL_SEQUENCE_LSTM": (lstm, ("int8",)),
    "BIDIRECTIONAL_SEQUENCE_LSTM": (bidirectional_lstm, ("float32", "hybrid")),
    "SVDF": (svdf, ("int8", "float32", "hybrid")),
    **{op: (_rnn(op), ("float32", "hybrid")) for op in (
        "RNN", "UNIDIRECTIONAL_SEQUENCE_RNN", "BIDIRECTIONAL_SEQUENCE_RNN")},
    "DENSIFY": (densify, ("float32", "int8", "float16")),
    "CUSTOM:TFLite_Detection_PostProcess": (detection_postprocess, ("float32", "uint8")),
    "NON_MAX_SUPPRESSION_V4": (_non_max_suppression("NON_MAX_SUPPRESSION_V4"), ("float32",)),
    "NON_MAX_SUPPRESSION_V5": (_non_max_suppression("NON_MAX_SUPPRESSION_V5"), ("float32",)),
    "WHILE": (while_loop, ("float32", "int8")),
    "IF": (if_branches, ("float32", "int8")),
    **{op: (resource_variable, ("float32", "int32")) for op in (
        "CALL_ONCE", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE")},
}


def ops_without_builder() -> list[str]:
    """Operators of the registry the fuzzer has no seed builder for (a new operator needs one)."""
    return sorted(set(REGISTRY) - set(SEED_BUILDERS))


def builder_seeds(seed: int, variants: int = 2) -> list[Seed]:
    """``variants`` models of each (operator, dtype), drawn from ``seed``; plus the small chain."""
    seeds = []
    for op in sorted(REGISTRY):
        if op not in SEED_BUILDERS:
            continue
        build, dtypes = SEED_BUILDERS[op]
        for dtype_index, dtype in enumerate(dtypes):
            for variant in range(variants if dtype_index == 0 else 1):
                rng = np.random.default_rng([seed, len(seeds)])
                seeds.append(Seed(f"{op}/{dtype}#{variant}", build(rng, dtype), "builder"))
    for variant in range(variants):
        rng = np.random.default_rng([seed, len(seeds)])
        seeds.append(Seed(f"chain/int8#{variant}", small_chain(rng), "builder"))
    return seeds


def file_seeds(shared_dir: Path | None = SHARED_MODELS, max_bytes: int = DEFAULT_MAX_SEED_BYTES,
               golden: Path | None = GOLDEN_MODEL) -> list[Seed]:
    """The committed golden model and the shared models under ``max_bytes`` (those present)."""
    seeds = []
    if golden is not None and golden.is_file():
        seeds.append(Seed(f"golden/{golden.name}", golden.read_bytes(), "golden"))
    if shared_dir is not None and shared_dir.is_dir():
        for path in sorted(shared_dir.rglob("*.tflite")):
            if path.is_file() and path.stat().st_size <= max_bytes:
                seeds.append(Seed(f"shared/{path.relative_to(shared_dir)}", path.read_bytes(), "shared"))
    return seeds

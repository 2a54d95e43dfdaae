"""Seeded generators of random single-op cases for the operators of issue 4, part B.

Same contract as tests/random_cases.py (which covers the ops of part A): a kind is an (op, dtype) pair,
:func:`make_case` turns a kind and a seed into a :class:`random_cases.Case` (model bytes, inputs, drawn
parameters), deterministically. A few percent of the cases are drawn on purpose outside what LiteRT
accepts; they carry ``params["probe"]`` naming why, and LiteRT itself decides whether they are rejected.

Reproduce a case::

    python tests/random_cases_b.py ADD int8 17 --save /tmp/case
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
from random_cases import Case, case_cli

from refinterp.modelbuilder import TensorSpec, single_op_model

ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")
INT_RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767), "int32": (-(2**31), 2**31 - 1)}
QUANTIZED = ("int8", "uint8")


def f32(value: float) -> float:
    return float(np.float32(value))


def log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return f32(math.exp(rng.uniform(math.log(low), math.log(high))))


def choice(rng: np.random.Generator, options: tuple | list) -> Any:
    return options[int(rng.integers(len(options)))]


def zero_point(rng: np.random.Generator, dtype: str) -> int:
    low, high = INT_RANGES[dtype]
    return int(rng.integers(low, high + 1))


def values_of(rng: np.random.Generator, shape: tuple[int, ...], dtype: str, scale: float = 1.0) -> np.ndarray:
    """Random tensor values: the full integer range, or float32 normals with some exact and signed zeros."""
    if dtype == "float32":
        values = np.asarray(rng.standard_normal(shape) * scale, dtype=np.float32)
        mask = rng.random(shape) < 0.05
        values[mask] = np.where(rng.random(int(np.sum(mask))) < 0.5, 0.0, -0.0)
        return values
    if dtype == "int32":
        return rng.integers(-1000, 1001, size=shape).astype(np.int32)
    if dtype == "int64":
        return rng.integers(-1000, 1001, size=shape).astype(np.int64)
    low, high = INT_RANGES[dtype]
    return rng.integers(low, high + 1, size=shape).astype(dtype)


def random_shape(rng: np.random.Generator, min_rank: int = 1, max_rank: int = 4, max_dim: int = 5) -> tuple:
    rank = int(rng.integers(min_rank, max_rank + 1))
    return tuple(int(d) for d in rng.integers(1, max_dim + 1, rank))


def quant(rng: np.random.Generator, dtype: str, low: float = 1e-3, high: float = 1.0) -> tuple[Any, Any]:
    """(scale, zero_point) for a quantized dtype, (None, None) otherwise."""
    if dtype not in QUANTIZED:
        return None, None
    return log_uniform(rng, low, high), zero_point(rng, dtype)


def with_probe(params: dict[str, Any], probe: str | None) -> dict[str, Any]:
    if probe:
        params["probe"] = probe
    return params


# ---------------------------------------------------------------------------
# ADD, SUB, MUL, MINIMUM, MAXIMUM
# ---------------------------------------------------------------------------


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


def gen_binary(op: str, dtype: str, rng: np.random.Generator, max_rank: int = 8):
    shape1, shape2 = broadcast_pair(rng, max_rank)
    out_shape = tuple(int(d) for d in np.broadcast_shapes(shape1, shape2))
    probe = None
    draw = rng.random()
    if dtype in QUANTIZED and draw < 0.15:  # equal (or power-of-two related) scales: rounding ties
        scale = log_uniform(rng, 1e-3, 1.0)
        scales = [scale, f32(scale * choice(rng, (1, 2, 0.5))), f32(scale * choice(rng, (1, 2, 0.5, 4)))]
    else:
        scales = [log_uniform(rng, 1e-3, 1.0) for _ in range(3)]
    zps = [zero_point(rng, dtype) if dtype in QUANTIZED else None for _ in range(3)]
    if dtype in QUANTIZED and op == "SUB" and rng.random() < 0.04:
        zps[int(rng.integers(3))] = choice(rng, (-300, 300))
        probe = "zero point outside the type range"
    if dtype not in QUANTIZED:
        scales = [None] * 3
    activation = choice(rng, ACTIVATIONS) if op in ("ADD", "SUB", "MUL") else None
    if activation is not None and rng.random() < 0.03:
        activation = "TANH"
    options = {"fused_activation_function": activation} if activation else {}
    if dtype == "float32" and op in ("ADD", "SUB", "MUL") and rng.random() < 0.1:
        # overflow to +-inf, which TFLite's [lowest, max] clamp maps to +-FLT_MAX
        x1 = values_of(rng, shape1, dtype, 1e38)
        x2 = values_of(rng, shape2, dtype, 1e38)
        values_note = "huge"
    elif dtype in ("int32", "int64") and rng.random() < 0.15:  # wrap-around, as the C++ integer ops do
        info = np.iinfo(dtype)
        x1 = rng.integers(info.min, info.max, size=shape1, dtype=dtype, endpoint=True)
        x2 = rng.integers(info.min, info.max, size=shape2, dtype=dtype, endpoint=True)
        values_note = "full range"
    else:
        x1 = values_of(rng, shape1, dtype)
        x2 = values_of(rng, shape2, dtype)
        values_note = "random"
    if dtype == "float32" and rng.random() < 0.2:
        x1.reshape(-1)[0] = np.nan
        values_note += "+nan"
    second_constant = rng.random() < 0.2
    dtype2 = dtype
    if dtype == "int8" and rng.random() < 0.03:
        dtype2, zps[1], probe = "uint8", zps[1] + 128, "inputs of different types"
        x2 = (x2.astype(np.int16) + 128).astype(np.uint8)
    inputs = [TensorSpec(shape1, dtype, scales[0], zps[0]),
              TensorSpec(shape2, dtype2, scales[1], zps[1], data=x2 if second_constant else None)]
    model = single_op_model(op, inputs, [TensorSpec(out_shape, dtype, scales[2], zps[2])], options)
    params = {"shapes": (shape1, shape2), "scales": scales, "zero_points": zps, "activation": activation,
              "values": values_note, "second_constant": second_constant}
    return with_probe(params, probe), model, [x1] if second_constant else [x1, x2], None


def find_mul_profile_split(rng: np.random.Generator) -> tuple[list[float], list[int]]:
    """Scales and zero points for which LiteRT's float32 MUL multiplier and TFLM's double one give a
    different int8 result for some input pair (found by brute force over all 65 536 pairs; the expected
    outputs then still come from the two runtimes)."""
    from refinterp.quant import multiply_by_quantized_multiplier, quantize_multiplier

    while True:
        scales = [log_uniform(rng, 1e-3, 1.0) for _ in range(3)]
        zps = [zero_point(rng, "int8") for _ in range(3)]
        s1, s2, so = (np.float32(s) for s in scales)
        real_f32 = float(np.float32(np.float32(s1 * s2) / so))
        real_f64 = float(s1) * float(s2) / float(so)
        m32, m64 = quantize_multiplier(real_f32), quantize_multiplier(real_f64)
        if m32 == m64:
            continue
        q = np.arange(-128, 128, dtype=np.int64)
        products = ((q[:, None] - zps[0]) * (q[None, :] - zps[1])).reshape(-1)
        y32 = np.clip(multiply_by_quantized_multiplier(products, *m32) + zps[2], -128, 127)
        y64 = np.clip(multiply_by_quantized_multiplier(products, *m64) + zps[2], -128, 127)
        if np.any(y32 != y64):
            return scales, zps


def mul_all_pairs_case(scales: list[float], zps: list[int]) -> tuple[bytes, list[np.ndarray]]:
    """An int8 MUL over every (q1, q2) pair: a 256 x 256 model and its two inputs."""
    q = np.arange(-128, 128, dtype=np.int8)
    x1, x2 = np.repeat(q, 256).reshape(256, 256), np.tile(q, 256).reshape(256, 256)
    model = single_op_model("MUL", [TensorSpec((256, 256), "int8", scales[0], zps[0]),
                                    TensorSpec((256, 256), "int8", scales[1], zps[1])],
                            [TensorSpec((256, 256), "int8", scales[2], zps[2])])
    return model, [x1, x2]


# ---------------------------------------------------------------------------
# RELU, RELU6, RELU_N1_TO_1
# ---------------------------------------------------------------------------


def gen_relu(op: str, dtype: str, rng: np.random.Generator):
    if dtype == "float32":
        shape = random_shape(rng)
        x = values_of(rng, shape, dtype, float(rng.uniform(0.5, 10)))
        x.reshape(-1)[0] = choice(rng, (np.nan, -0.0, 0.0, 6.0, 1.0, -1.0))
        model = single_op_model(op, [TensorSpec(shape, dtype)], [TensorSpec(shape, dtype)])
        return {"shape": shape}, model, [x], None
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
    return {"input_q": in_q, "output_q": out_q}, model, [x], None


# ---------------------------------------------------------------------------
# PAD, PADV2
# ---------------------------------------------------------------------------


def gen_pad(op: str, dtype: str, rng: np.random.Generator):
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
    q = quant(rng, dtype)
    inputs = [TensorSpec(shape, dtype, *q), TensorSpec(paddings.shape, padding_type, data=paddings)]
    constant_note = None
    if op == "PADV2":
        c_q = q
        if dtype in QUANTIZED and rng.random() < 0.05:
            c_q = (f32(q[0] * 2), q[1])
            probe = "constant_values scale differs from the output's"
        constant = values_of(rng, (), dtype) if dtype != "float32" else np.array(rng.normal(), np.float32)
        constant_note = constant.item()
        inputs.append(TensorSpec((), dtype, *c_q, data=np.asarray(constant, dtype=dtype).reshape(())))
    x = values_of(rng, shape, dtype)
    model = single_op_model(op, inputs, [TensorSpec(out_shape, dtype, *q)])
    params = {"shape": shape, "paddings": paddings.tolist(), "padding_type": padding_type, "q": q,
              "constant": constant_note}
    return with_probe(params, probe), model, [x], None


# ---------------------------------------------------------------------------
# TRANSPOSE
# ---------------------------------------------------------------------------


def gen_transpose(dtype: str, rng: np.random.Generator):
    probe = None
    shape = random_shape(rng, 1, 8, 3) if rng.random() < 0.3 else random_shape(rng, 1, 5, 4)
    if rng.random() < 0.03:
        shape, probe = (1, 2, 1, 2, 1, 2, 1, 2, 1), "rank 9"
    rank = len(shape)
    perm = [int(v) for v in rng.permutation(rank)]
    if rng.random() < 0.3:  # negative entries count from the end
        perm = [v - rank if rng.random() < 0.5 else v for v in perm]
    out_shape = tuple(shape[(v + rank) % rank] for v in perm)
    q = quant(rng, dtype)
    model = single_op_model("TRANSPOSE", [TensorSpec(shape, dtype, *q),
                                          TensorSpec((rank,), "int32", data=np.array(perm, np.int32))],
                            [TensorSpec(out_shape, dtype, *q)])
    return with_probe({"shape": shape, "perm": perm}, probe), model, [values_of(rng, shape, dtype)], None


# ---------------------------------------------------------------------------
# STRIDED_SLICE
# ---------------------------------------------------------------------------


def strided_slice_expected_shape(shape, begin, end, strides, masks) -> tuple[int, ...] | None:
    """The output shape by NumPy's own slicing semantics (None when the masks are too exotic to say)."""
    rank = len(shape)
    if masks["ellipsis_mask"] or masks["new_axis_mask"] or masks["offset"]:
        return None
    index = []
    for i in range(rank):
        if i >= len(begin):
            index.append(slice(None))
            continue
        if masks["shrink_axis_mask"] >> i & 1:
            index.append(begin[i])
            continue
        b = None if masks["begin_mask"] >> i & 1 else begin[i]
        e = None if masks["end_mask"] >> i & 1 else end[i]
        index.append(slice(b, e, strides[i]))
    return np.empty(shape)[tuple(index)].shape


def gen_strided_slice(dtype: str, rng: np.random.Generator):
    shape = random_shape(rng, 1, 5, 6)
    rank = len(shape)
    masks = {k: 0 for k in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")}
    masks["offset"] = False
    count = rank if rng.random() < 0.8 else int(rng.integers(1, rank + 1))
    begin, end, strides = [], [], []
    for i in range(count):
        n = shape[i]
        stride = int(choice(rng, (1, 1, 1, 2, 3, -1, -2)))
        begin.append(int(rng.integers(-n - 2, n + 2)))
        end.append(int(rng.integers(-n - 2, n + 2)))
        strides.append(stride)
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
        extra = int(rng.integers(1, 3))
        for _ in range(extra):
            position = int(rng.integers(len(begin) + 1))
            for lst, value in ((begin, 0), (end, 1), (strides, 1)):
                lst.insert(position, value)
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
    out_shape = strided_slice_expected_shape(shape, begin, end, strides, masks)
    q = quant(rng, dtype)
    consts = [TensorSpec((len(v),), "int32", data=np.array(v, np.int32)) for v in (begin, end, strides)]
    options = dict(masks)
    x = values_of(rng, shape, dtype)
    if out_shape is None:  # ellipsis / new_axis / offset: take the output shape LiteRT itself computes
        out_shape = _litert_output_shape("STRIDED_SLICE", shape, dtype, q, consts, options, x)
    model = single_op_model("STRIDED_SLICE", [TensorSpec(shape, dtype, *q), *consts],
                            [TensorSpec(out_shape, dtype, *q)], options)
    params = {"shape": shape, "begin": begin, "end": end, "strides": strides,
              **{k: v for k, v in masks.items() if v}}
    return params, model, [x], None


def _litert_output_shape(op: str, shape, dtype, q, consts, options, x) -> tuple[int, ...]:
    """The output shape LiteRT computes for a model whose declared output shape is a placeholder."""
    from oracle import Rejected, run_litert_ref

    model = single_op_model(op, [TensorSpec(shape, dtype, *q), *consts], [TensorSpec((1,), dtype, *q)], options)
    try:
        return tuple(run_litert_ref(model, [x])[0].shape)
    except Rejected:
        return (1,)


# ---------------------------------------------------------------------------
# SHAPE, PACK, TILE
# ---------------------------------------------------------------------------


def gen_shape(dtype: str, rng: np.random.Generator):
    shape = random_shape(rng, 1, 5, 5)  # (a rank-0 input gives a 0-element output LiteRT's Python API cannot read)
    out_type = choice(rng, ("int32", "int64"))
    q = quant(rng, dtype)
    model = single_op_model("SHAPE", [TensorSpec(shape, dtype, *q)], [TensorSpec((len(shape),), out_type)],
                            {"out_type": out_type.upper()})
    return {"shape": shape, "out_type": out_type}, model, [values_of(rng, shape, dtype)], None


def gen_pack(dtype: str, rng: np.random.Generator):
    probe = None
    shape = random_shape(rng, 0 if rng.random() < 0.1 else 1, 4, 4)
    count = int(rng.integers(1, 5))
    axis = int(rng.integers(-len(shape) - 1, len(shape) + 1))
    q = quant(rng, dtype)
    in_qs = [q] * count
    if dtype in QUANTIZED and count > 1 and rng.random() < 0.05:
        in_qs = [q] * (count - 1) + [(f32(q[0] * 2), q[1])]
        probe = "an input's scale differs from the output's"
    out_shape = list(shape)
    out_shape.insert(axis if axis >= 0 else axis + len(shape) + 1, count)
    model = single_op_model("PACK", [TensorSpec(shape, dtype, *iq) for iq in in_qs],
                            [TensorSpec(tuple(out_shape), dtype, *q)], {"axis": axis, "values_count": count})
    inputs = [values_of(rng, shape, dtype) for _ in range(count)]
    return with_probe({"shape": shape, "count": count, "axis": axis}, probe), model, inputs, None


def gen_tile(dtype: str, rng: np.random.Generator):
    shape = random_shape(rng, 1, 5, 4)
    multiples = [int(v) for v in rng.integers(0 if rng.random() < 0.1 else 1, 4, len(shape))]
    multiples_type = choice(rng, ("int32", "int64"))
    q = quant(rng, dtype)
    out_shape = tuple(d * m for d, m in zip(shape, multiples))
    model = single_op_model("TILE", [TensorSpec(shape, dtype, *q),
                                     TensorSpec((len(shape),), multiples_type,
                                                data=np.array(multiples, multiples_type))],
                            [TensorSpec(out_shape, dtype, *q)])
    params = {"shape": shape, "multiples": multiples, "multiples_type": multiples_type}
    return params, model, [values_of(rng, shape, dtype)], None


# ---------------------------------------------------------------------------
# RESIZE_BILINEAR
# ---------------------------------------------------------------------------


def gen_resize_bilinear(dtype: str, rng: np.random.Generator):
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
    x = values_of(rng, (batch, in_h, in_w, channels), dtype)
    params = {"in": (batch, in_h, in_w, channels), "out": (out_h, out_w), "align_corners": flags[0],
              "half_pixel_centers": flags[1]}
    return with_probe(params, probe), model, [x], None


# ---------------------------------------------------------------------------
# QUANTIZE to uint8 (the older models' input path)
# ---------------------------------------------------------------------------


def gen_quantize_float_to_uint8(rng: np.random.Generator):
    shape = random_shape(rng)
    scale, zp = log_uniform(rng, 1e-3, 1.0), zero_point(rng, "uint8")
    x = (rng.standard_normal(shape) * scale * 100).astype(np.float32)
    ties = (rng.integers(-200, 200, shape) + 0.5).astype(np.float32) * np.float32(scale)
    x = np.where(rng.random(shape) < 0.3, ties, x).astype(np.float32)
    model = single_op_model("QUANTIZE", [TensorSpec(shape, "float32")], [TensorSpec(shape, "uint8", scale, zp)])
    return {"shape": shape, "output_q": (scale, zp)}, model, [x], None


def gen_requantize(in_dtype: str, out_dtype: str, rng: np.random.Generator):
    low, high = INT_RANGES[in_dtype]
    x = np.arange(low, high + 1).astype(in_dtype)
    in_q = (log_uniform(rng, 1e-3, 1.0), zero_point(rng, in_dtype))
    out_q = (log_uniform(rng, 1e-3, 1.0), zero_point(rng, out_dtype))
    shift = {("int8", "uint8"): 128, ("uint8", "int8"): -128}.get((in_dtype, out_dtype))
    if shift is not None and rng.random() < 0.3:  # the XOR-0x80 fast path: equal scales, zero points 128 apart
        out_zp = in_q[1] + shift
        if INT_RANGES[out_dtype][0] <= out_zp <= INT_RANGES[out_dtype][1]:
            out_q = (in_q[0], out_zp)
    model = single_op_model("QUANTIZE", [TensorSpec(x.shape, in_dtype, *in_q)],
                            [TensorSpec(x.shape, out_dtype, *out_q)])
    return {"input_q": in_q, "output_q": out_q}, model, [x], None


# ---------------------------------------------------------------------------
# Registry of kinds
# ---------------------------------------------------------------------------

Generator = Callable[[np.random.Generator], tuple[dict[str, Any], bytes, list[np.ndarray], Any]]


def _binary(op: str, dtype: str, max_rank: int = 8) -> Generator:
    return lambda rng: gen_binary(op, dtype, rng, max_rank)


GENERATORS: dict[tuple[str, str], Generator] = {}
for _op in ("ADD", "SUB", "MUL"):
    for _dtype in ("int8", "uint8", "float32", "int32", "int64"):
        GENERATORS[(_op, _dtype)] = _binary(_op, _dtype)
for _op in ("MINIMUM", "MAXIMUM"):
    for _dtype in ("int8", "uint8", "float32", "int32"):
        GENERATORS[(_op, _dtype)] = _binary(_op, _dtype)
for _op in ("RELU", "RELU6", "RELU_N1_TO_1"):
    for _dtype in ("int8", "uint8", "float32"):
        GENERATORS[(_op, _dtype)] = (lambda op, dt: lambda rng: gen_relu(op, dt, rng))(_op, _dtype)
for _op in ("PAD", "PADV2"):
    for _dtype in ("int8", "uint8", "float32", "int32"):
        GENERATORS[(_op, _dtype)] = (lambda op, dt: lambda rng: gen_pad(op, dt, rng))(_op, _dtype)
for _dtype in ("int8", "uint8", "float32", "int32"):
    GENERATORS[("TRANSPOSE", _dtype)] = (lambda dt: lambda rng: gen_transpose(dt, rng))(_dtype)
    GENERATORS[("STRIDED_SLICE", _dtype)] = (lambda dt: lambda rng: gen_strided_slice(dt, rng))(_dtype)
    GENERATORS[("PACK", _dtype)] = (lambda dt: lambda rng: gen_pack(dt, rng))(_dtype)
    GENERATORS[("TILE", _dtype)] = (lambda dt: lambda rng: gen_tile(dt, rng))(_dtype)
for _dtype in ("int8", "float32"):
    GENERATORS[("SHAPE", _dtype)] = (lambda dt: lambda rng: gen_shape(dt, rng))(_dtype)
for _dtype in ("int8", "uint8", "float32"):
    GENERATORS[("RESIZE_BILINEAR", _dtype)] = (lambda dt: lambda rng: gen_resize_bilinear(dt, rng))(_dtype)
GENERATORS[("QUANTIZE", "float32->uint8")] = gen_quantize_float_to_uint8
GENERATORS[("QUANTIZE", "uint8->int8")] = lambda rng: gen_requantize("uint8", "int8", rng)
GENERATORS[("QUANTIZE", "int8->uint8")] = lambda rng: gen_requantize("int8", "uint8", rng)
GENERATORS[("QUANTIZE", "uint8->uint8")] = lambda rng: gen_requantize("uint8", "uint8", rng)


def kind_stream(op: str, dtype: str) -> int:
    return zlib.crc32(f"part-b/{op}/{dtype}".encode())


def make_case(op: str, dtype: str, seed: int) -> Case:
    rng = np.random.default_rng([kind_stream(op, dtype), seed])
    params, model, inputs, tolerance = GENERATORS[(op, dtype)](rng)
    return Case(op, dtype, seed, params, model, inputs, tolerance)


if __name__ == "__main__":
    case_cli(make_case, __doc__.split("\n\n")[0])

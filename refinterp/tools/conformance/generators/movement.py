"""Random single-operator cases for data movement, indexing, comparison, logical and select operators.

Written against core.py (Case, case, the drawing helpers): :data:`GENERATORS` maps (operator, kind)
to ``generator(rng) -> Case`` exactly like opcases.GENERATORS, and :data:`TFLM_KINDS` lists the kinds also
compared against TFLite Micro. The rules each generator draws from are in its docstring; the operators'
rules are in refinterp/ops/{rearrange,cast,indexing,logical}.py.

Never drawn: cases on which LiteRT aborts or crashes the process (a quantized comparison whose scale is 0,
1 or invalid, BROADCAST_ARGS of incompatible shapes, REVERSE_V2 with no axis): refinterp refuses them, and
tests/test_bad_input.py-style tests check that without running LiteRT.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from refinterp.model import parse_model
from refinterp.modelbuilder import TensorSpec, single_op_model
from refinterp.tools.conformance.generators.core import (
    ANY_DTYPES,
    INT_RANGES,
    QUANTIZED,
    TFLM_AS_LITERT,
    TFLM_NOT_COMPARED,
    TFLM_UNDEFINED,
    TFLM_VALID,
    Case,
    broadcast_pair,
    case,
    choice,
    f32,
    float_values,
    int_values,
    log_uniform,
    quant,
    random_shape,
    values_of,
    zero_point,
)

QUANTIZED_STORAGE = ("int8", "uint8", "int16")

def _index_tensor(values: Any, dtype: str, constant: bool) -> tuple[TensorSpec, list[np.ndarray]]:
    """A shape/index input: a constant of the model, or a model input (returned as the runtime value)."""
    array = np.asarray(values, dtype=dtype)
    if constant:
        return TensorSpec(array.shape, dtype, data=array), []
    return TensorSpec(array.shape, dtype), [array]


def _q(rng: np.random.Generator, dtype: str) -> tuple[Any, Any]:
    """(scale, zero point) for 8/16-bit storage types (int16: zero point 0), (None, None) otherwise."""
    return quant(rng, dtype, storage=True)


def _other_q(rng: np.random.Generator, q: tuple[Any, Any], dtype: str) -> tuple[Any, Any]:
    """Different quantization parameters (scale or zero point moved)."""
    if dtype == "int16" or rng.random() < 0.5:
        return f32(q[0] * rng.uniform(1.1, 3.0)), q[1]
    low, high = INT_RANGES[dtype]
    return q[0], q[1] + 1 if q[1] < high else q[1] - 1


def _shape_with_zero(rng: np.random.Generator, shape: tuple[int, ...], rate: float = 0.05) -> tuple[int, ...]:
    if shape and rng.random() < rate:
        shape = list(shape)
        shape[int(rng.integers(len(shape)))] = 0
        return tuple(shape)
    return shape


# ------------------------------------------------------------------------------------------------
# SPLIT, SPLIT_V, UNPACK


def gen_split(rng: np.random.Generator, dtype: str) -> Case:
    """SPLIT into 1 to 5 equal parts along any axis (negative too); the axis a constant (int32, now and then
    int64) or a model input (resolved at eval). The outputs' quantization may differ from the input's (raw
    values are copied; LiteRT checks nothing). Probe: an axis size that num_splits does not divide."""
    shape = list(random_shape(rng, 1, 5, 4))
    rank = len(shape)
    axis = int(rng.integers(-rank, rank))
    num = int(rng.integers(1, 6))
    constant = rng.random() < 0.8
    # empty parts only when the outputs' shapes are static (see gen_split_v)
    shape[axis] = num * int(rng.integers(0 if constant and rng.random() < 0.05 else 1, 4))
    probe = None
    if rng.random() < 0.05:
        shape[axis] = num * int(rng.integers(1, 3)) + 1 if num > 1 else shape[axis]
        probe = "axis size not a multiple of num_splits" if num > 1 else None
    shape = tuple(shape)
    q = _q(rng, dtype)
    out_q = _other_q(rng, q, dtype) if dtype in QUANTIZED_STORAGE and rng.random() < 0.2 else q
    part = list(shape)
    part[axis] = shape[axis] // num
    axis_dtype = "int64" if rng.random() < 0.1 else "int32"
    axis_spec, runtime = _index_tensor(axis, axis_dtype, constant)
    x = values_of(rng, shape, dtype)
    model = single_op_model("SPLIT", [axis_spec, TensorSpec(shape, dtype, *q)],
                            [TensorSpec(tuple(part), dtype, *out_q)] * num, {"num_splits": num})
    params = {"shape": shape, "axis": axis, "num_splits": num, "axis_input": "constant" if constant else "input",
              "q": q, "output_q": out_q}
    return case("SPLIT", dtype, model, runtime + [x], params, probe)


def gen_split_v(rng: np.random.Generator, dtype: str) -> Case:
    """SPLIT_V into 1 to 5 parts of random sizes (zero-size parts too), one of them -1 now and then;
    size_splits int32 or int64, constant or a model input, the axis likewise. Probes: sizes that do not add
    up to the axis, two -1 entries."""
    shape = list(random_shape(rng, 1, 5, 4))
    rank = len(shape)
    axis = int(rng.integers(-rank, rank))
    num = int(rng.integers(1, 6))
    sizes_constant = rng.random() < 0.75
    axis_constant = rng.random() < 0.8
    # a zero-size part only when the outputs' shapes are static: LiteRT's Python API cannot read an empty
    # dynamic tensor
    sizes = [int(v) for v in rng.integers(0 if sizes_constant and axis_constant else 1, 4, num)]
    if num == 1 or sum(sizes) == 0:
        sizes[0] = max(sizes[0], 1)
    shape[axis] = sum(sizes)
    shape = tuple(shape)
    spec_sizes = list(sizes)
    if rng.random() < 0.3:
        spec_sizes[int(rng.integers(num))] = -1
    probe = None
    draw = rng.random()
    if draw < 0.04:
        changed = list(spec_sizes)
        changed[int(rng.integers(num))] += 1
        known = sum(s for s in changed if s != -1)
        valid = known <= shape[axis] if changed.count(-1) == 1 else known == shape[axis]
        if not valid and changed.count(-1) <= 1:
            spec_sizes, probe = changed, "size_splits do not add up to the axis size"
    elif draw < 0.07 and num > 1:
        spec_sizes[0], spec_sizes[1] = -1, -1
        probe = "size_splits with two -1"
    q = _q(rng, dtype)
    sizes_spec, sizes_runtime = _index_tensor(spec_sizes, choice(rng, ("int32", "int64")), sizes_constant)
    axis_spec, axis_runtime = _index_tensor(axis, "int32", axis_constant)
    outputs = []
    for s in sizes:
        part = list(shape)
        part[axis] = s
        outputs.append(TensorSpec(tuple(part), dtype, *q))
    x = values_of(rng, shape, dtype)
    model = single_op_model("SPLIT_V", [TensorSpec(shape, dtype, *q), sizes_spec, axis_spec], outputs,
                            {"num_splits": num})
    params = {"shape": shape, "axis": axis, "size_splits": spec_sizes, "sizes_constant": sizes_constant,
              "axis_constant": axis_constant}
    return case("SPLIT_V", dtype, model, [x] + sizes_runtime + axis_runtime, params, probe)


def gen_unpack(rng: np.random.Generator, dtype: str) -> Case:
    """UNPACK along any axis (negative too), 1-D to 5-D. Probes: num different from the axis size, an
    output whose quantization differs (LiteRT requires it equal), an empty input."""
    shape = random_shape(rng, 1, 5, 4)
    rank = len(shape)
    axis = int(rng.integers(-rank, rank))
    num = shape[axis]
    q = _q(rng, dtype)
    out_q = q
    probe, tflm = None, TFLM_AS_LITERT
    draw = rng.random()
    if draw < 0.03:
        num += 1
        probe, tflm = "num differs from the axis size", TFLM_UNDEFINED  # TFLM does not check it
    elif draw < 0.07 and dtype in QUANTIZED_STORAGE:
        out_q = _other_q(rng, q, dtype)
        probe, tflm = "output quantization differs", TFLM_VALID  # TFLM copies the raw values unchecked
    elif draw < 0.09 and rank > 1:
        other = (axis + 1) % rank
        shape = tuple(0 if i == other else d for i, d in enumerate(shape))
        probe = "empty input"
    out_shape = tuple(d for i, d in enumerate(shape) if i != axis % rank)
    model = single_op_model("UNPACK", [TensorSpec(shape, dtype, *q)], [TensorSpec(out_shape, dtype, *out_q)] * num,
                            {"num": num, "axis": axis})
    params = {"shape": shape, "axis": axis, "num": num, "q": q, "output_q": out_q}
    return case("UNPACK", dtype, model, [values_of(rng, shape, dtype)], params, probe, tflm=tflm)


# ------------------------------------------------------------------------------------------------
# SQUEEZE, EXPAND_DIMS, SLICE, REVERSE_V2


def gen_squeeze(rng: np.random.Generator, dtype: str) -> Case:
    """SQUEEZE of the listed size-1 dimensions (negative, repeated) or of all of them (empty list), up to
    8-D; the output's quantization may differ (LiteRT copies bytes). Probes: a listed dimension that is not
    1, rank 9."""
    rank = int(rng.integers(1, 9))
    shape = [1 if rng.random() < 0.45 else int(rng.integers(1, 4)) for _ in range(rank)]
    ones = [i for i, d in enumerate(shape) if d == 1]
    probe = None
    if ones and rng.random() < 0.7:
        picked = [i for i in ones if rng.random() < 0.6] or [ones[0]]
        dims = [i - rank if rng.random() < 0.4 else i for i in picked]
        if rng.random() < 0.2:
            dims.append(dims[0])
        squeezed = {d % rank for d in dims}
    else:
        dims, squeezed = [], set(ones)
    if rng.random() < 0.04:
        non_ones = [i for i, d in enumerate(shape) if d != 1]
        if non_ones:
            dims, probe = dims + [non_ones[0]], "a squeezed dimension is not 1"
    elif rng.random() < 0.03:
        shape, dims, squeezed, probe = [1] * 9, [], set(range(9)), "rank 9"
    shape = tuple(shape)
    out_shape = tuple(d for i, d in enumerate(shape) if i not in squeezed)
    q = _q(rng, dtype)
    out_q = _other_q(rng, q, dtype) if dtype in QUANTIZED_STORAGE and rng.random() < 0.2 else q
    model = single_op_model("SQUEEZE", [TensorSpec(shape, dtype, *q)], [TensorSpec(out_shape, dtype, *out_q)],
                            {"squeeze_dims": dims} if dims else {})
    return case("SQUEEZE", dtype, model, [values_of(rng, shape, dtype)], {"shape": shape, "squeeze_dims": dims},
                probe)


def gen_expand_dims(rng: np.random.Generator, dtype: str) -> Case:
    """EXPAND_DIMS at any axis in [-rank-1, rank] (scalars too), the axis an int32 or int64 constant or a
    model input. Probes: an axis out of range, an output whose scale or zero point differs (LiteRT 2.3.0
    requires them equal)."""
    shape = random_shape(rng, 0 if rng.random() < 0.1 else 1, 5, 4)
    rank = len(shape)
    axis = int(rng.integers(-rank - 1, rank + 1))
    q = _q(rng, dtype)
    out_q = q
    probe = None
    draw = rng.random()
    if draw < 0.04:
        axis, probe = choice(rng, (rank + 1, -rank - 2)), "axis out of range"
    elif draw < 0.08 and dtype in QUANTIZED_STORAGE:
        out_q, probe = _other_q(rng, q, dtype), "output quantization differs"
    position = axis + rank + 1 if axis < 0 else axis
    out_shape = list(shape)
    out_shape.insert(min(max(position, 0), rank), 1)
    constant = rng.random() < 0.8
    axis_spec, runtime = _index_tensor(axis if rng.random() < 0.7 else [axis], choice(rng, ("int32", "int64")),
                                       constant)
    model = single_op_model("EXPAND_DIMS", [TensorSpec(shape, dtype, *q), axis_spec],
                            [TensorSpec(tuple(out_shape), dtype, *out_q)])
    params = {"shape": shape, "axis": axis, "axis_constant": constant}
    return case("EXPAND_DIMS", dtype, model, [values_of(rng, shape, dtype)] + runtime, params, probe)


def gen_slice(rng: np.random.Generator, dtype: str) -> Case:
    """SLICE up to 5-D (scalars too) with begin/size int32 or int64, size -1 now and then, empty slices,
    begin and size constants or model inputs; the output's quantization may differ (raw copy). Probes: a
    slice past the end, a negative begin, a declared output shape the slice does not have (LiteRT 2.3.0
    checks it)."""
    shape = _shape_with_zero(rng, random_shape(rng, 0 if rng.random() < 0.05 else 1, 5, 5))
    begin, size, out_shape = [], [], []
    for d in shape:
        b = int(rng.integers(0, d + 1))
        n = int(rng.integers(0, d - b + 1))
        if rng.random() < 0.2:
            size.append(-1)
            n = d - b
        else:
            size.append(n)
        begin.append(b)
        out_shape.append(n)
    probe = None
    declared = list(out_shape)
    if shape and rng.random() < 0.06:
        i = int(rng.integers(len(shape)))
        kind = choice(rng, ("past the end", "negative begin", "declared shape"))
        if kind == "past the end":
            size[i] = shape[i] - begin[i] + 1
            probe = "slice past the end"
        elif kind == "negative begin":
            begin[i] = -1
            probe = "negative begin"
        else:
            declared[i] += 1
            probe = "declared output shape differs from the slice"
    index_dtype = choice(rng, ("int32", "int64"))
    constant = rng.random() < 0.75
    begin_spec, begin_runtime = _index_tensor(begin, index_dtype, constant)
    size_spec, size_runtime = _index_tensor(size, index_dtype, constant or rng.random() < 0.5)
    q = _q(rng, dtype)
    out_q = _other_q(rng, q, dtype) if dtype in QUANTIZED_STORAGE and rng.random() < 0.2 else q
    model = single_op_model("SLICE", [TensorSpec(shape, dtype, *q), begin_spec, size_spec],
                            [TensorSpec(tuple(declared), dtype, *out_q)])
    params = {"shape": shape, "begin": begin, "size": size, "index_dtype": index_dtype, "constant": constant}
    return case("SLICE", dtype, model, [values_of(rng, shape, dtype)] + begin_runtime + size_runtime, params,
                probe)


def gen_reverse(rng: np.random.Generator, dtype: str) -> Case:
    """REVERSE_V2 of one block of adjacent axes (negative, any order), 1-D to 8-D, the axes a constant or a
    model input. Probes (LiteRT fails at invoke): non-adjacent axes, a repeated axis, an axis out of range."""
    # no empty tensors: LiteRT 2.3.0 writes past an empty output when the reversed block is not innermost
    shape = random_shape(rng, 1, 8 if rng.random() < 0.2 else 4, 4)
    rank = len(shape)
    first = int(rng.integers(rank))
    count = int(rng.integers(1, rank - first + 1))
    axes = [a - rank if rng.random() < 0.3 else a for a in range(first, first + count)]
    rng.shuffle(axes)
    probe = None
    draw = rng.random()
    if draw < 0.03 and rank >= 3:
        axes, probe = [0, 2], "non-adjacent axes"
    elif draw < 0.06:
        axes, probe = axes + [axes[0]], "a repeated axis"
    elif draw < 0.08:
        axes, probe = [rank], "axis out of range"
    if len(axes) > rank:
        axes, probe = axes[:rank], None
    constant = rng.random() < 0.8
    axis_spec, runtime = _index_tensor(axes, "int32", constant)
    q = _q(rng, dtype)
    model = single_op_model("REVERSE_V2", [TensorSpec(shape, dtype, *q), axis_spec], [TensorSpec(shape, dtype, *q)])
    params = {"shape": shape, "axes": axes, "constant": constant}
    return case("REVERSE_V2", dtype, model, [values_of(rng, shape, dtype)] + runtime, params, probe)


# ------------------------------------------------------------------------------------------------
# DEPTH_TO_SPACE, SPACE_TO_DEPTH, BATCH_TO_SPACE_ND, SPACE_TO_BATCH_ND


def gen_depth_space(rng: np.random.Generator, op: str, dtype: str) -> Case:
    """DEPTH_TO_SPACE / SPACE_TO_DEPTH, block size 1 to 4, batch up to 2; the output's quantization may
    differ (raw values moved; LiteRT checks nothing). Probes: channels (D2S) or height/width (S2D) not a
    multiple of the block, block size 0."""
    block = int(rng.integers(1, 5))
    batch = int(choice(rng, (1, 1, 2)))
    probe = None
    if op == "DEPTH_TO_SPACE":
        h, w, c_out = (int(v) for v in rng.integers(1, 5, 3))
        shape, out_shape = (batch, h, w, c_out * block * block), (batch, h * block, w * block, c_out)
        if block > 1 and rng.random() < 0.05:
            shape, probe = (batch, h, w, c_out * block * block + 1), "channels not a multiple of block^2"
    else:
        h, w, c = (int(v) for v in rng.integers(1, 4, 3))
        shape, out_shape = (batch, h * block, w * block, c), (batch, h, w, c * block * block)
        if block > 1 and rng.random() < 0.05:
            shape, probe = (batch, h * block + 1, w * block, c), "height not a multiple of the block"
    if rng.random() < 0.02:
        block, probe = 0, "block size 0"
    q = _q(rng, dtype)
    out_q = _other_q(rng, q, dtype) if dtype in QUANTIZED_STORAGE and rng.random() < 0.2 else q
    model = single_op_model(op, [TensorSpec(shape, dtype, *q)], [TensorSpec(out_shape, dtype, *out_q)],
                            {"block_size": block})
    return case(op, dtype, model, [values_of(rng, shape, dtype)], {"shape": shape, "block": block}, probe)


def gen_space_batch(rng: np.random.Generator, op: str, dtype: str) -> Case:
    """BATCH_TO_SPACE_ND (crops >= 0) and SPACE_TO_BATCH_ND (paddings, now and then negative: a crop),
    3-D and 4-D, blocks 1 to 3, block and crops/paddings constants or model inputs; 8-bit types padded with
    the zero point. Probes: an output quantization that differs, a batch (B2S) or padded size (S2B) that
    the block does not divide."""
    rank = int(choice(rng, (3, 4, 4)))
    spatial = rank - 2
    block = [int(v) for v in rng.integers(1, 4, spatial)]
    depth = int(rng.integers(1, 4))
    probe = None
    constant = rng.random() < 0.8
    if op == "BATCH_TO_SPACE_ND":
        out_batch = int(rng.integers(1, 3))
        in_spatial = [int(v) for v in rng.integers(1, 4, spatial)]
        crops = []
        for d, b in zip(in_spatial, block):
            # an empty output only when static: LiteRT's Python API cannot read an empty dynamic tensor
            total = int(rng.integers(0, d * b + (1 if constant else 0))) if rng.random() < 0.5 else 0
            top = int(rng.integers(0, total + 1))
            crops.append([top, total - top])
        shape = (out_batch * math.prod(block), *in_spatial, depth)
        out_shape = (out_batch, *[d * b - sum(c) for d, b, c in zip(in_spatial, block, crops)], depth)
        pairs = crops
        if rng.random() < 0.04 and math.prod(block) > 1:
            shape, probe = (shape[0] + 1, *shape[1:]), "batch not a multiple of the block"
    else:
        batch = int(rng.integers(1, 3))
        pairs, in_spatial, out_spatial = [], [], []
        for b in block:
            out = int(rng.integers(1, 4))
            padded = out * b
            before = int(rng.integers(-1, 3)) if rng.random() < 0.6 else 0
            after = int(rng.integers(-1, 3)) if rng.random() < 0.6 else 0
            d = padded - before - after
            if d < 1:
                before, after, d = 0, 0, padded
            pairs.append([before, after])
            in_spatial.append(d)
            out_spatial.append(out)
        shape = (batch, *in_spatial, depth)
        out_shape = (batch * math.prod(block), *out_spatial, depth)
        if rng.random() < 0.04 and block[0] > 1:
            shape, probe = (batch, shape[1] + 1, *shape[2:]), "padded size not a multiple of the block"
    q = _q(rng, dtype)
    out_q = q
    if probe is None and dtype in QUANTIZED_STORAGE and rng.random() < 0.04:
        out_q, probe = _other_q(rng, q, dtype), "output quantization differs"
    block_spec, block_runtime = _index_tensor(block, "int32", constant)
    pairs_spec, pairs_runtime = _index_tensor(np.array(pairs, np.int32).reshape(spatial, 2), "int32", constant)
    model = single_op_model(op, [TensorSpec(shape, dtype, *q), block_spec, pairs_spec],
                            [TensorSpec(out_shape, dtype, *out_q)])
    params = {"shape": shape, "block": block, "crops" if op == "BATCH_TO_SPACE_ND" else "paddings": pairs,
              "q": q, "constant": constant}
    return case(op, dtype, model, [values_of(rng, shape, dtype)] + block_runtime + pairs_runtime, params, probe)


# ------------------------------------------------------------------------------------------------
# MIRROR_PAD, BROADCAST_TO, BROADCAST_ARGS, FILL, ZEROS_LIKE


def gen_mirror_pad(rng: np.random.Generator, dtype: str) -> Case:
    """MIRROR_PAD REFLECT or SYMMETRIC up to 5-D, paddings int32/int64 up to the mode's limit, constant or a
    model input. Probes: a padding above the limit, a negative padding, an output quantization that differs."""
    shape = random_shape(rng, 1, 5, 4)
    mode = choice(rng, ("REFLECT", "SYMMETRIC"))
    offset = 1 if mode == "REFLECT" else 0
    pads = [[int(rng.integers(0, d - offset + 1)), int(rng.integers(0, d - offset + 1))] for d in shape]
    probe, tflm = None, TFLM_AS_LITERT
    q = _q(rng, dtype)
    out_q = q
    draw = rng.random()
    if draw < 0.04:
        i = int(rng.integers(len(shape)))
        pads[i][int(rng.integers(2))] = shape[i] - offset + 1
        probe, tflm = "padding above the mode's limit", TFLM_UNDEFINED  # TFLM does not check: reads outside
    elif draw < 0.06:
        pads[0][0] = -1
        probe, tflm = "negative padding", TFLM_UNDEFINED
    elif draw < 0.09 and dtype in QUANTIZED_STORAGE:
        out_q, probe = _other_q(rng, q, dtype), "output quantization differs"
        tflm = TFLM_VALID  # TFLM's MIRROR_PAD does not check it: it copies the raw values
    out_shape = tuple(d + max(a, 0) + max(b, 0) for d, (a, b) in zip(shape, pads))
    constant = rng.random() < 0.8
    pads_spec, runtime = _index_tensor(np.array(pads).reshape(len(shape), 2), choice(rng, ("int32", "int64")),
                                       constant)
    model = single_op_model("MIRROR_PAD", [TensorSpec(shape, dtype, *q), pads_spec],
                            [TensorSpec(out_shape, dtype, *out_q)], {"mode": mode})
    params = {"shape": shape, "mode": mode, "paddings": pads, "constant": constant}
    return case("MIRROR_PAD", dtype, model, [values_of(rng, shape, dtype)] + runtime, params, probe, tflm=tflm)


def gen_broadcast_to(rng: np.random.Generator, dtype: str) -> Case:
    """BROADCAST_TO (version 2) up to 8-D, new leading dimensions, 1s expanded (to 0 too), the shape int32 or
    int64, constant or a model input; the output's quantization may differ. Probe: a dimension that does
    not broadcast."""
    target = list(random_shape(rng, 1, 8 if rng.random() < 0.15 else 5, 4))
    constant = rng.random() < 0.8
    if constant and rng.random() < 0.05:  # empty outputs only when static (see gen_split_v)
        target[int(rng.integers(len(target)))] = 0
    keep = int(rng.integers(0, len(target) + 1))
    shape = tuple(1 if rng.random() < 0.4 else d for d in target[len(target) - keep:])
    probe = None
    if rng.random() < 0.05:
        i = int(rng.integers(len(target)))
        if i >= len(target) - keep and target[i] != 1 and shape[i - (len(target) - keep)] != 1:
            target[i] += 1
            probe = "shapes do not broadcast"
    q = _q(rng, dtype)
    out_q = _other_q(rng, q, dtype) if dtype in QUANTIZED_STORAGE and rng.random() < 0.2 else q
    shape_spec, runtime = _index_tensor(target, choice(rng, ("int32", "int64")), constant)
    out_shape = tuple(target) if probe is None else tuple(np.maximum(target, 1))
    model = single_op_model("BROADCAST_TO", [TensorSpec(shape, dtype, *q), shape_spec],
                            [TensorSpec(out_shape, dtype, *out_q)], version=2)
    params = {"shape": shape, "target": target, "constant": constant}
    return case("BROADCAST_TO", dtype, model, [values_of(rng, shape, dtype)] + runtime, params, probe)


def gen_broadcast_args(rng: np.random.Generator, dtype: str) -> Case:
    """BROADCAST_ARGS of two broadcastable shapes (ranks 0 to 6, zeros and 1s; both constants now and then,
    folded at prepare). Incompatible shapes are never drawn: LiteRT aborts the process on them."""
    full = [int(d) for d in rng.integers(0, 5, int(rng.integers(1, 7)))]

    def part() -> list[int]:
        keep = int(rng.integers(0, len(full) + 1))
        return [1 if rng.random() < 0.3 else d for d in full[len(full) - keep:]]

    a, b = part(), part()
    if not a and not b:  # an empty output: LiteRT's Python API cannot read it
        a = full
    out = list(np.broadcast_shapes(tuple(a), tuple(b)))
    constant = rng.random() < 0.15
    a_spec, a_runtime = _index_tensor(a, dtype, constant)
    b_spec, b_runtime = _index_tensor(b, dtype, constant)
    model = single_op_model("BROADCAST_ARGS", [a_spec, b_spec], [TensorSpec((len(out),), dtype)])
    return case("BROADCAST_ARGS", dtype, model, a_runtime + b_runtime, {"a": a, "b": b, "constant": constant})


def gen_fill(rng: np.random.Generator, dtype: str) -> Case:
    """FILL of 0-D to 5-D shapes (empty ones too) with a scalar value (a constant or a model input), dims
    int32 or int64, constant or a model input. Probes: a negative dimension, an output quantization that
    differs from the value's, an int16 value with a non-zero zero point."""
    dims_constant = rng.random() < 0.8
    dims = list(random_shape(rng, 0 if rng.random() < 0.1 else 1, 5, 4))
    if dims_constant:  # empty outputs only when static (see gen_split_v)
        dims = list(_shape_with_zero(rng, tuple(dims)))
    q = _q(rng, dtype)
    out_q = q
    probe = None
    draw = rng.random()
    if draw < 0.04 and dims:
        dims[0], probe = -1, "negative dimension"
    elif draw < 0.08 and dtype in QUANTIZED_STORAGE:
        out_q, probe = _other_q(rng, q, dtype), "output quantization differs"
    elif draw < 0.1 and dtype == "int16":
        q = out_q = (q[0], 3)
        probe = "int16 zero point not 0"
    value = values_of(rng, (), dtype)
    value_constant = rng.random() < 0.3
    dims_spec, dims_runtime = _index_tensor(dims, choice(rng, ("int32", "int64")), dims_constant)
    value_spec = TensorSpec((), dtype, *q, data=value if value_constant else None)
    model = single_op_model("FILL", [dims_spec, value_spec], [TensorSpec(tuple(max(d, 0) for d in dims), dtype,
                                                                         *out_q)])
    params = {"dims": dims, "value": value.tolist(), "dims_constant": dims_constant}
    return case("FILL", dtype, model, dims_runtime + ([] if value_constant else [value]), params, probe)


def gen_zeros_like(rng: np.random.Generator, dtype: str) -> Case:
    """ZEROS_LIKE of any shape (scalars, empty tensors; float inputs with NaN and -0.0)."""
    shape = _shape_with_zero(rng, random_shape(rng, 0 if rng.random() < 0.1 else 1, 5, 4))
    x = values_of(rng, shape, dtype)
    if dtype == "float32" and x.size:
        x.reshape(-1)[0] = np.nan
    model = single_op_model("ZEROS_LIKE", [TensorSpec(shape, dtype)], [TensorSpec(shape, dtype)])
    return case("ZEROS_LIKE", dtype, model, [x], {"shape": shape})


# ------------------------------------------------------------------------------------------------
# CAST

CAST_TYPES = ("int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "float16", "float32", "float64",
              "bool")
_FLOAT_SPECIALS = [0.0, -0.0, 0.5, -0.5, 1.5, -2.5, 127.5, 128.0, -128.5, -129.0, 255.9, 256.0, 32767.5, 32768.0,
                   -32769.0, 65535.9, 65536.0, 2147483520.0, 2147483648.0, -2147483904.0, 4294967296.0, 9.3e18,
                   -9.3e18, 1e30, np.inf, -np.inf, np.nan, -np.nan, 6e-8, 1e-40, 65504.0, 65520.0, 2049.0,
                   16777217.0]


def _cast_input(rng: np.random.Generator, dtype: str) -> np.ndarray:
    shape = random_shape(rng, 1, 3, 6)
    if dtype in ("float16", "float32", "float64"):
        values = float_values(rng, shape, float(10 ** rng.uniform(-2, 10)), "float64")
        flat = values.reshape(-1)
        specials = rng.permutation(np.array(_FLOAT_SPECIALS))[: min(flat.size, 12)]
        flat[: specials.size] = specials
        with np.errstate(over="ignore"):
            return values.astype(dtype)
    if dtype == "bool":
        return rng.random(shape) < 0.5
    values = int_values(rng, shape, dtype)
    info = np.iinfo(dtype)
    edges = np.array([info.min, info.max, 0, 1], dtype=np.int64)
    flat = values.reshape(-1)
    flat[: min(flat.size, 4)] = edges[: min(flat.size, 4)].astype(dtype)
    return values


def gen_cast(rng: np.random.Generator, in_dtype: str) -> Case:
    """CAST from the kind's type to a random one of the 11 types CAST takes: integer extremes, float
    specials (signed zeros, ties, values just inside and outside every integer range, infinities, NaN,
    half subnormals and overflow, doubles that round twice on the way to half). Quantization parameters,
    when drawn, are ignored by LiteRT and by refinterp."""
    out_dtype = choice(rng, CAST_TYPES)
    x = _cast_input(rng, in_dtype)
    in_q = _q(rng, in_dtype) if rng.random() < 0.2 else (None, None)
    model = single_op_model("CAST", [TensorSpec(x.shape, in_dtype, *in_q)], [TensorSpec(x.shape, out_dtype)],
                            {"in_data_type": in_dtype.upper(), "out_data_type": out_dtype.upper()})
    return case("CAST", in_dtype, model, [x], {"out": out_dtype, "shape": x.shape, "input_q": in_q})


# ------------------------------------------------------------------------------------------------
# GATHER, GATHER_ND, EMBEDDING_LOOKUP, SCATTER_ND, TOPK_V2, ONE_HOT


def gen_gather(rng: np.random.Generator, dtype: str) -> Case:
    """GATHER along any axis (negative too) with batch_dims (negative too) and int16/int32/int64 positions of
    rank 0 to 3 (repeats, empty ones); the input and/or the positions constants now and then (both: folded
    at prepare). The output's quantization may differ (raw copy). Probes: a position past the axis, a
    negative position (LiteRT fails at invoke, or at prepare when folded)."""
    shape = _shape_with_zero(rng, random_shape(rng, 1, 4, 4), 0.03)
    rank = len(shape)
    axis = int(rng.integers(rank))
    batch_dims = int(rng.integers(0, axis + 1)) if rng.random() < 0.3 else 0
    pos_shape = shape[:batch_dims] + random_shape(rng, 0, 2, 3)
    if rng.random() < 0.03:
        pos_shape = pos_shape[:batch_dims] + (0,)
    axis_size = shape[axis]
    positions = rng.integers(0, max(axis_size, 1), pos_shape) if axis_size else np.zeros(pos_shape, np.int64)
    probe = None
    if positions.size and rng.random() < 0.06:
        positions.reshape(-1)[int(rng.integers(positions.size))] = choice(rng, (axis_size, axis_size + 3, -1))
        if math.prod(shape[:axis]) or positions.min() < 0:
            probe = "position out of range"
    elif axis_size == 0 and positions.size and math.prod(shape[:axis]):
        probe = "position into an empty axis"
    out_shape = shape[:axis] + pos_shape[batch_dims:] + shape[axis + 1:]
    pos_dtype = choice(rng, ("int16", "int32", "int32", "int64"))
    options = {"axis": axis - rank if rng.random() < 0.3 else axis,
               "batch_dims": batch_dims - len(pos_shape) if 0 < batch_dims < len(pos_shape) and rng.random() < 0.3
               else batch_dims}
    q = _q(rng, dtype)
    out_q = _other_q(rng, q, dtype) if dtype in QUANTIZED_STORAGE and rng.random() < 0.15 else q
    x = values_of(rng, shape, dtype)
    x_constant = rng.random() < 0.2
    # both constant: LiteRT gathers at Prepare into a persistent tensor, which its Python API cannot read
    # when empty
    pos_constant = rng.random() < 0.3 and not (x_constant and 0 in out_shape)
    pos_spec, pos_runtime = _index_tensor(positions, pos_dtype, pos_constant)
    model = single_op_model("GATHER", [TensorSpec(shape, dtype, *q, data=x if x_constant else None), pos_spec],
                            [TensorSpec(out_shape, dtype, *out_q)], options)
    params = {"shape": shape, "positions_shape": pos_shape, **options, "positions_dtype": pos_dtype,
              "constants": (x_constant, pos_constant)}
    return case("GATHER", dtype, model, ([] if x_constant else [x]) + pos_runtime, params, probe)


def gen_gather_nd(rng: np.random.Generator, dtype: str) -> Case:
    """GATHER_ND with index depth 1 to the params' rank, int16/int32/int64 indices of rank 1 to 3 (repeats,
    no slices at all); indices constant now and then. Probes: a coordinate past its dimension, a negative
    one, depth 0 with slices from a non-constant indices tensor (LiteRT 2.3.0 fails; with constant indices
    it runs)."""
    shape = random_shape(rng, 1, 4, 4)
    nd = int(rng.integers(1, len(shape) + 1))
    outer = random_shape(rng, 0, 2, 3)
    if rng.random() < 0.03:
        outer = (0,)
    indices = np.stack([rng.integers(0, d, outer) for d in shape[:nd]], axis=-1).reshape(outer + (nd,))
    probe = None
    draw = rng.random()
    if indices.size and draw < 0.05:
        j = int(rng.integers(nd))
        flat = indices.reshape(-1, nd)
        flat[int(rng.integers(flat.shape[0])), j] = choice(rng, (shape[j], -1))
        probe = "index out of range"
    elif draw < 0.07 and math.prod(outer):
        nd, indices, probe = 0, np.zeros(outer + (0,), np.int64), "index depth 0"
    out_shape = outer + shape[nd:]
    q = _q(rng, dtype)
    constant = rng.random() < 0.2
    if nd == 0 and constant:  # runs (a constant's zero-byte data pointer is not null): a valid edge case
        probe = None
    idx_spec, idx_runtime = _index_tensor(indices, choice(rng, ("int16", "int32", "int64")), constant)
    model = single_op_model("GATHER_ND", [TensorSpec(shape, dtype, *q), idx_spec], [TensorSpec(out_shape, dtype, *q)])
    params = {"shape": shape, "indices_shape": indices.shape}
    return case("GATHER_ND", dtype, model, [values_of(rng, shape, dtype)] + idx_runtime, params, probe)


def gen_embedding_lookup(rng: np.random.Generator, kind: str) -> Case:
    """EMBEDDING_LOOKUP of a 2-D or 3-D table (a constant, or a model input) by a 1-D int32 lookup (repeats,
    empty). Kinds "int8->float32"/"uint8->float32": hybrid, per-tensor or per-row scales, zero point 0
    (uint8 values above 127 included: LiteRT reads them as int8). Probe: an index out of range."""
    hybrid = "->" in kind
    dtype = kind.split("->")[0]
    rows = int(rng.integers(1, 6))
    shape = (rows,) + random_shape(rng, 1, 2, 4)
    count = int(rng.integers(0, 6))
    lookup = rng.integers(0, rows, count).astype(np.int32)
    probe = None
    if count and rng.random() < 0.06:
        lookup[int(rng.integers(count))] = choice(rng, (rows, -1))
        probe = "index out of range"
    table = values_of(rng, shape, dtype)
    out_shape = (count,) + shape[1:]
    if hybrid:
        per_row = rng.random() < 0.4
        scales = [log_uniform(rng, 1e-4, 10.0) for _ in range(rows)] if per_row else log_uniform(rng, 1e-4, 10.0)
        table_spec = TensorSpec(shape, dtype, scales, [0] * rows if per_row else 0, data=table)
        out_spec = TensorSpec(out_shape, "float32")
        params: dict[str, Any] = {"shape": shape, "lookup": lookup.tolist(), "per_row": per_row}
        inputs = [lookup]
    else:
        q = _q(rng, dtype)
        constant = rng.random() < 0.5
        table_spec = TensorSpec(shape, dtype, *q, data=table if constant else None)
        out_spec = TensorSpec(out_shape, dtype, *q)
        params = {"shape": shape, "lookup": lookup.tolist(), "constant": constant}
        inputs = [lookup] if constant else [lookup, table]
    model = single_op_model("EMBEDDING_LOOKUP", [TensorSpec((count,), "int32"), table_spec], [out_spec])
    return case("EMBEDDING_LOOKUP", kind, model, inputs, params, probe)


def gen_scatter_nd(rng: np.random.Generator, dtype: str) -> Case:
    """SCATTER_ND into an output of rank 1 to 4 with index depth 1 to its rank, many duplicate indices (they
    add up: float32 in index order, integers wrapping, bool OR), the shape a constant or a model input.
    Probes: an index past its dimension, a negative index."""
    out_shape = random_shape(rng, 1, 4, 4)
    nd = int(rng.integers(1, len(out_shape) + 1))
    outer = random_shape(rng, 0, 2, 4)
    if not outer and nd == len(out_shape):
        outer = (int(rng.integers(1, 4)),)  # updates must be at least 1-D (LiteRT's CheckShapes)
    indices = np.stack([rng.integers(0, d, outer) for d in out_shape[:nd]], axis=-1).reshape(outer + (nd,))
    probe = None
    if indices.size and rng.random() < 0.06:
        flat = indices.reshape(-1, nd)
        j = int(rng.integers(nd))
        flat[int(rng.integers(flat.shape[0])), j] = choice(rng, (out_shape[j], -1))
        probe = "index out of range"
    updates_shape = outer + out_shape[nd:]
    updates = values_of(rng, updates_shape, dtype)
    shape_spec, shape_runtime = _index_tensor(list(out_shape), "int32", rng.random() < 0.8)
    model = single_op_model("SCATTER_ND", [TensorSpec(indices.shape, "int32"), TensorSpec(updates_shape, dtype),
                                           shape_spec], [TensorSpec(out_shape, dtype)])
    params = {"output_shape": out_shape, "indices_shape": indices.shape}
    return case("SCATTER_ND", dtype, model, [indices.astype(np.int32), updates] + shape_runtime, params, probe)


def gen_topk(rng: np.random.Generator, dtype: str) -> Case:
    """TOPK_V2 over the last dimension of 1-D to 4-D inputs, k from 1 to the row size (k <= 0 gives empty
    outputs, which LiteRT's Python API cannot read), k int32 or int16, constant or a model input, int32 or
    int16 indices; values from a small range half the time (many ties: the smaller index first), float -0.0
    and +0.0 ties. Probe: k above the row size."""
    shape = random_shape(rng, 1, 4, 6)
    row = shape[-1]
    # k >= 1: with k <= 0 the outputs are empty and LiteRT's Python API cannot read them
    k = int(rng.integers(1, row + 1))
    probe = None
    if rng.random() < 0.04:
        k, probe = row + 1, "k above the row size"
    if rng.random() < 0.5:
        x = rng.integers(0, 4, shape).astype(dtype)
        if dtype == "float32":
            x = np.where(rng.random(shape) < 0.3, np.float32(-0.0), x).astype(np.float32)
    else:
        x = values_of(rng, shape, dtype)
        if dtype == "float32":
            x = np.nan_to_num(x)
    q = _q(rng, dtype)
    index_dtype = choice(rng, ("int32", "int16"))
    k_spec, k_runtime = _index_tensor(k, choice(rng, ("int32", "int16")), rng.random() < 0.8)
    out = shape[:-1] + (max(k, 0) if probe is None else row,)
    model = single_op_model("TOPK_V2", [TensorSpec(shape, dtype, *q), k_spec],
                            [TensorSpec(out, dtype, *q), TensorSpec(out, index_dtype)])
    return case("TOPK_V2", dtype, model, [x] + k_runtime, {"shape": shape, "k": k, "index_dtype": index_dtype},
                probe)


def gen_one_hot(rng: np.random.Generator, dtype: str) -> Case:
    """ONE_HOT of int32 or int64 indices (rank 0 to 3, values from -2 to depth + 1: out-of-range ones give
    a row of off values) at any axis (-1 too), depth 1 to 5 (a constant or a model input), on/off values of
    the kind's type."""
    shape = random_shape(rng, 0 if rng.random() < 0.1 else 1, 3, 4)
    depth = int(rng.integers(1, 6))  # depth 0: an empty output, which LiteRT's Python API cannot read
    indices = rng.integers(-2, depth + 2, shape)
    axis = int(rng.integers(-1, len(shape) + 1))
    position = len(shape) if axis == -1 else axis
    out_shape = shape[:position] + (depth,) + shape[position:]
    on, off = values_of(rng, (), dtype), values_of(rng, (), dtype)
    index_dtype = choice(rng, ("int32", "int64"))
    depth_spec, depth_runtime = _index_tensor(depth, "int32", rng.random() < 0.8)
    model = single_op_model("ONE_HOT", [TensorSpec(shape, index_dtype), depth_spec,
                                        TensorSpec((), dtype, data=on), TensorSpec((), dtype, data=off)],
                            [TensorSpec(out_shape, dtype)], {"axis": axis})
    indices = indices.astype(index_dtype)
    params = {"shape": shape, "depth": depth, "axis": axis}
    return case("ONE_HOT", dtype, model, [indices] + depth_runtime, params)


# ------------------------------------------------------------------------------------------------
# Comparisons, logical operators, SELECT


def _comparison_scale(rng: np.random.Generator, dtype: str) -> float:
    """A scale for which LiteRT's quantized comparison is defined: below 1 (mostly), or between 1 and 128
    (the x86 sign rule of refinterp/ops/logical.py). Never 0 or exactly 1: LiteRT aborts on those."""
    if rng.random() < 0.1:
        scale = f32(rng.uniform(1.01, 100.0) if dtype != "int16" else rng.uniform(1.01, 60.0))
    else:
        scale = log_uniform(rng, 1e-6, 0.99)
    return scale if scale != 1.0 else 0.5


def gen_comparison(rng: np.random.Generator, op: str, dtype: str) -> Case:
    """EQUAL, NOT_EQUAL, LESS, LESS_EQUAL, GREATER, GREATER_EQUAL with NumPy broadcasting up to 6-D, a
    constant second input now and then. int8/uint8 (and int16 for EQUAL/NOT_EQUAL): scales equal, related
    by powers of two, or independent, zero points anywhere, so that rescaled values tie; a few scales above
    1. float32: NaN, infinities, signed zeros. Other integers: small ranges for ties."""
    shape1, shape2 = broadcast_pair(rng, 6)
    out_shape = tuple(int(d) for d in np.broadcast_shapes(shape1, shape2))
    quantized = dtype in QUANTIZED or (dtype == "int16" and op in ("EQUAL", "NOT_EQUAL"))
    q1 = q2 = (None, None)
    if quantized:
        s1 = _comparison_scale(rng, dtype)
        draw = rng.random()
        s2 = s1 if draw < 0.3 else (f32(s1 * choice(rng, (2.0, 0.5, 4.0))) if draw < 0.5 else
                                    _comparison_scale(rng, dtype))
        if s2 == 1.0 or s2 >= 128.0:
            s2 = s1
        zp = (lambda: 0) if dtype == "int16" else (lambda: zero_point(rng, dtype))
        q1, q2 = (s1, zp()), (s2, zp())
    if dtype in ("int8", "uint8", "int16") or dtype == "bool":
        x1, x2 = values_of(rng, shape1, dtype), values_of(rng, shape2, dtype)
    elif dtype == "float32":
        x1, x2 = (rng.integers(-2, 3, shape1).astype(np.float32), rng.integers(-2, 3, shape2).astype(np.float32))
        specials = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0], np.float32)
        for x in (x1, x2):
            mask = rng.random(x.shape) < 0.2
            x[mask] = rng.choice(specials, int(mask.sum()))
    else:
        x1, x2 = rng.integers(-3, 4, shape1).astype(dtype), rng.integers(-3, 4, shape2).astype(dtype)
        if rng.random() < 0.2:
            x1, x2 = int_values(rng, shape1, dtype), int_values(rng, shape2, dtype)
    second_constant = rng.random() < 0.15
    # TFLM's comparison Prepare aborts on a scale >= 1 (QuantizeMultiplierSmallerThanOneExp): not run there
    tflm = TFLM_UNDEFINED if quantized and max(q1[0], q2[0]) >= 1.0 else TFLM_AS_LITERT
    edge = "a scale >= 1 (TFLM aborts on it)" if tflm == TFLM_UNDEFINED else None
    model = single_op_model(op, [TensorSpec(shape1, dtype, *q1),
                                 TensorSpec(shape2, dtype, *q2, data=x2 if second_constant else None)],
                            [TensorSpec(out_shape, "bool")])
    params = {"shapes": (shape1, shape2), "q": (q1, q2), "second_constant": second_constant}
    return case(op, dtype, model, [x1] if second_constant else [x1, x2], params, edge=edge, tflm=tflm)


def gen_logical(rng: np.random.Generator, op: str, dtype: str) -> Case:
    """LOGICAL_AND / LOGICAL_OR with broadcasting up to 6-D; LOGICAL_NOT of any shape. Probe: int32 inputs
    (bool only)."""
    probe, tflm = None, TFLM_AS_LITERT
    in_dtype = "bool"
    if rng.random() < 0.03:
        in_dtype, probe, tflm = "int32", "non-bool inputs", TFLM_UNDEFINED  # TFLM does not check the type
    if op == "LOGICAL_NOT":
        shape = _shape_with_zero(rng, random_shape(rng, 0 if rng.random() < 0.1 else 1, 5, 4))
        model = single_op_model(op, [TensorSpec(shape, in_dtype)], [TensorSpec(shape, in_dtype)])
        return case(op, dtype, model, [values_of(rng, shape, in_dtype)], {"shape": shape}, probe, tflm=tflm)
    shape1, shape2 = broadcast_pair(rng, 6)
    out_shape = tuple(int(d) for d in np.broadcast_shapes(shape1, shape2))
    model = single_op_model(op, [TensorSpec(shape1, in_dtype), TensorSpec(shape2, in_dtype)],
                            [TensorSpec(out_shape, "bool")])
    inputs = [values_of(rng, shape1, in_dtype), values_of(rng, shape2, in_dtype)]
    return case(op, dtype, model, inputs, {"shapes": (shape1, shape2)}, probe, tflm=tflm)


def gen_select(rng: np.random.Generator, op: str, dtype: str) -> Case:
    """SELECT: same shapes, a scalar condition, or a 1-D condition along x's first dimension; SELECT_V2:
    the three inputs broadcast (up to 8-D); both: all-one-element tensors of mixed ranks (the output keeps
    its declared shape). x, y and the output may have different quantization (raw copy). Probes: SELECT
    with a broadcasting condition (SELECT_V2 only broadcasts), SELECT_V2 shapes that do not broadcast."""
    probe = None
    draw = rng.random()
    if draw < 0.06:
        ranks = [int(rng.integers(0, 4)) for _ in range(4)]
        c_shape, x_shape, y_shape, out_shape = ((1,) * r for r in ranks)
        mode = "one element"
    elif op == "SELECT":
        x_shape = _shape_with_zero(rng, random_shape(rng, 1, 4, 4), 0.03)
        y_shape = x_shape
        form = choice(rng, ("same", "same", "scalar", "row"))
        c_shape = {"same": x_shape, "scalar": (), "row": x_shape[:1]}[form]
        out_shape, mode = x_shape, form
        if rng.random() < 0.04 and len(x_shape) > 1 and x_shape[0] != 1:
            c_shape, probe = (1,) + x_shape[1:], "SELECT with a broadcasting condition"
    else:
        base = random_shape(rng, 1, 8 if rng.random() < 0.1 else 4, 3)

        def part() -> tuple[int, ...]:
            keep = int(rng.integers(0, len(base) + 1))
            return tuple(1 if rng.random() < 0.4 else d for d in base[len(base) - keep:])

        c_shape, x_shape, y_shape = part(), part(), part()
        out_shape = tuple(int(d) for d in np.broadcast_shapes(c_shape, x_shape, y_shape))
        mode = "broadcast"
        if rng.random() < 0.03 and base[-1] > 1:
            wider = x_shape[:-1] + (base[-1] + 1,)
            try:
                out_shape = tuple(int(d) for d in np.broadcast_shapes(c_shape, wider, y_shape))
            except ValueError:
                probe = "shapes do not broadcast"
            x_shape = wider
    cond = rng.random(c_shape) < 0.5
    x, y = values_of(rng, x_shape, dtype), values_of(rng, y_shape, dtype)
    qs = [_q(rng, dtype) for _ in range(3)] if rng.random() < 0.5 else [_q(rng, dtype)] * 3
    model = single_op_model(op, [TensorSpec(c_shape, "bool"), TensorSpec(x_shape, dtype, *qs[0]),
                                 TensorSpec(y_shape, dtype, *qs[1])], [TensorSpec(out_shape, dtype, *qs[2])])
    params = {"mode": mode, "shapes": (c_shape, x_shape, y_shape), "output": out_shape}
    return case(op, dtype, model, [cond, x, y], params, probe)


# ------------------------------------------------------------------------------------------------
# The table


def _tflm_flagged(drawn: Case) -> Case:
    """A case with a zero-element tensor is not run on TFLM (TFLM refuses every one at allocation)."""
    if drawn.tflm == TFLM_AS_LITERT and any(0 in t.shape for t in parse_model(drawn.model).subgraphs[0].tensors):
        drawn.tflm = TFLM_NOT_COMPARED
        drawn.params.setdefault("edge", "a zero-element tensor (TFLM refuses them)")
    return drawn


def _table() -> dict[tuple[str, str], Callable[[np.random.Generator], Case]]:
    table: dict[tuple[str, str], Callable[[np.random.Generator], Case]] = {}

    def add(op: str, kinds: tuple[str, ...], make: Callable[[np.random.Generator, str], Case]) -> None:
        for kind in kinds:
            table[(op, kind)] = (lambda k: lambda rng: _tflm_flagged(make(rng, k)))(kind)

    split_types = ("int8", "uint8", "int16", "int32", "int64", "float32")
    add("SPLIT", split_types, gen_split)
    add("SPLIT_V", split_types, gen_split_v)
    add("UNPACK", ("int8", "uint8", "int16", "int32", "float32", "bool"), gen_unpack)
    add("SQUEEZE", ANY_DTYPES, gen_squeeze)
    add("EXPAND_DIMS", ANY_DTYPES, gen_expand_dims)
    add("SLICE", ANY_DTYPES, gen_slice)
    add("REVERSE_V2", ANY_DTYPES, gen_reverse)
    for op in ("DEPTH_TO_SPACE", "SPACE_TO_DEPTH"):
        add(op, ("int8", "uint8", "int32", "int64", "float32"), lambda rng, k, op=op: gen_depth_space(rng, op, k))
    for op in ("BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND"):
        add(op, ANY_DTYPES, lambda rng, k, op=op: gen_space_batch(rng, op, k))
    add("MIRROR_PAD", ANY_DTYPES, gen_mirror_pad)
    add("BROADCAST_TO", ANY_DTYPES, gen_broadcast_to)
    add("BROADCAST_ARGS", ("int32", "int64"), gen_broadcast_args)
    add("FILL", ANY_DTYPES, gen_fill)
    add("ZEROS_LIKE", ("int32", "int64", "float32"), gen_zeros_like)
    add("CAST", CAST_TYPES, gen_cast)
    add("GATHER", ANY_DTYPES, gen_gather)
    add("GATHER_ND", ANY_DTYPES, gen_gather_nd)
    add("EMBEDDING_LOOKUP", ANY_DTYPES + ("int8->float32", "uint8->float32"), gen_embedding_lookup)
    add("SCATTER_ND", ("int8", "uint8", "int32", "int64", "float32", "bool"), gen_scatter_nd)
    add("TOPK_V2", ("int8", "uint8", "int16", "int32", "int64", "float32"), gen_topk)
    add("ONE_HOT", ("int8", "uint8", "int32", "int64", "float32", "bool"), gen_one_hot)
    for op in ("EQUAL", "NOT_EQUAL"):
        add(op, ANY_DTYPES, lambda rng, k, op=op: gen_comparison(rng, op, k))
    for op in ("LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL"):
        add(op, ("int8", "uint8", "int16", "int32", "int64", "float32"),
            lambda rng, k, op=op: gen_comparison(rng, op, k))
    for op in ("LOGICAL_AND", "LOGICAL_OR", "LOGICAL_NOT"):
        add(op, ("bool",), lambda rng, k, op=op: gen_logical(rng, op, k))
    for op in ("SELECT", "SELECT_V2"):
        add(op, ANY_DTYPES, lambda rng, k, op=op: gen_select(rng, op, k))
    return table


GENERATORS = _table()

#: Kinds also compared against TFLite Micro: those whose every drawn case TFLM treats as LiteRT does (or as
#: the case's ``tflm`` field says). TFLM refuses many of the other kinds' dtypes (uint8, int64, bool for most
#: of these operators) or non-constant shape inputs, so they are compared against LiteRT only.
TFLM_KINDS: frozenset[tuple[str, str]] = frozenset(
    [("SQUEEZE", k) for k in ANY_DTYPES]
    + [("UNPACK", k) for k in ("int8", "int32", "float32")]
    + [(op, k) for op in ("DEPTH_TO_SPACE", "SPACE_TO_DEPTH") for k in ("int8", "float32")]
    + [("MIRROR_PAD", "int8"), ("EMBEDDING_LOOKUP", "int8"), ("EMBEDDING_LOOKUP", "float32")]
    + [("ZEROS_LIKE", k) for k in ("int32", "int64", "float32")]
    + [("BROADCAST_ARGS", k) for k in ("int32", "int64")]
    + [(op, k) for op in ("EQUAL", "NOT_EQUAL") for k in ("int8", "int32", "int64", "float32", "bool")]
    + [(op, k) for op in ("LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL") for k in ("int8", "int32", "int64",
                                                                                     "float32")]
    + [(op, "bool") for op in ("LOGICAL_AND", "LOGICAL_OR", "LOGICAL_NOT")]
)


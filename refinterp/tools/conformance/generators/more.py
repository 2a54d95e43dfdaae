"""Random single-operator cases for DYNAMIC_UPDATE_SLICE, REDUCE_ALL and REDUCE_ANY (issue 11).

Written against core.py (Case, case, the drawing helpers): :data:`GENERATORS` maps (operator, kind) to
``generator(rng) -> Case`` and :data:`TFLM_KINDS` lists the kinds also compared against TFLite Micro.

DYNAMIC_UPDATE_SLICE: operands of rank 0 to 5 (now and then a zero dimension), updates of any shape within the
operand's (empty ones, the whole operand), start indices int32 or int64, constants or model inputs, in range,
past the end, negative or huge (both runtimes clamp each to [0, dim - update_dim]); quantized operands and updates
whose parameters differ (a raw copy: neither runtime reads them). Probes: an update larger than the operand, an
update of another rank or type, start indices of the wrong length or type (both runtimes reject each at Prepare).

REDUCE_ALL / REDUCE_ANY: bool inputs of rank 1 to 5 (zero dimensions now and then; scalars, whose axes
LiteRT never reads), all true, all false or mixed,
axes negative, repeated or none, the axis tensor a constant or a model input, keep_dims or not. Probes: an axis
out of range (LiteRT rejects it at Prepare, or at Invoke when the axes are a model input), an int64 axis tensor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from refinterp.model import parse_model
from refinterp.modelbuilder import TensorSpec, single_op_model
from refinterp.tools.conformance.generators.core import (
    ANY_DTYPES,
    INT_RANGES,
    QUANTIZED_STORAGE,
    TFLM_AS_LITERT,
    TFLM_INVALID,
    TFLM_NOT_COMPARED,
    TFLM_UNDEFINED,
    Case,
    case,
    choice,
    f32,
    join,
    quant,
    values_of,
)


def _index_tensor(values: Any, dtype: str, constant: bool) -> tuple[TensorSpec, list[np.ndarray]]:
    """An index input: a constant of the model, or a model input (returned as the runtime value)."""
    array = np.asarray(values, dtype=dtype)
    if constant:
        return TensorSpec(array.shape, dtype, data=array), []
    return TensorSpec(array.shape, dtype), [array]


# ------------------------------------------------------------------------------------------------
# DYNAMIC_UPDATE_SLICE


def _start_index(rng: np.random.Generator, dim: int, update_dim: int, index_type: str) -> tuple[int, str | None]:
    """A start index: mostly in range, else past the end, negative or huge (each clamped by the kernels)."""
    room = dim - update_dim
    draw = rng.random()
    if draw < 0.6:
        return int(rng.integers(0, room + 1)), None
    if draw < 0.75:
        return int(rng.integers(room + 1, room + 6)), "start past the end (clamped)"
    if draw < 0.9:
        return -int(rng.integers(1, 6)), "negative start (clamped to 0)"
    low, high = INT_RANGES[index_type]
    return int(choice(rng, (low, high, low + 1, high - 1))), "extreme start (clamped)"


def gen_dynamic_update_slice(rng: np.random.Generator, dtype: str) -> Case:
    """DYNAMIC_UPDATE_SLICE; see the module docstring for what is drawn."""
    rank = 0 if rng.random() < 0.03 else int(rng.integers(1, 6))
    shape = [int(d) for d in rng.integers(1, 6, rank)]
    if rank and rng.random() < 0.05:
        shape[int(rng.integers(rank))] = 0
    draw = rng.random()
    if draw < 0.1:
        update_shape, edge = list(shape), "update is the whole operand"
    elif draw < 0.18 and rank:
        update_shape = [int(rng.integers(0, d + 1)) for d in shape]
        update_shape[int(rng.integers(rank))] = 0
        edge = "empty update"
    else:
        update_shape, edge = [int(rng.integers(0 if rng.random() < 0.02 else min(d, 1), d + 1)) for d in shape], None
    index_type = choice(rng, ("int32", "int64"))
    starts, notes = [], [edge]
    for d, u in zip(shape, update_shape):
        s, note = _start_index(rng, d, u, index_type)
        starts.append(s)
        notes.append(note if note not in notes else None)
    q = quant(rng, dtype, storage=True)
    update_q = q
    if dtype in QUANTIZED_STORAGE and rng.random() < 0.2:
        update_q = (f32(q[0] * rng.uniform(1.1, 3.0)), q[1])
        notes.append("update quantization differs (raw copy)")
    update_dtype = dtype
    probe = None
    draw = rng.random()
    if draw < 0.02 and rank:
        axis = int(rng.integers(rank))
        update_shape[axis] = shape[axis] + 1
        probe = "update larger than the operand"
    elif draw < 0.04:
        update_shape = update_shape + [1]
        probe = "update of another rank"
    elif draw < 0.06:
        starts = starts + [0]
        probe = "start indices of the wrong length"
    elif draw < 0.08:
        update_dtype = "int32" if dtype != "int32" else "float32"
        update_q = (None, None)
        probe = "update of another type"
    elif draw < 0.09:
        index_type = "int16"
        probe = "start indices int16"
    if probe:
        starts = [int(np.clip(s, *INT_RANGES[index_type])) for s in starts]
    constant = rng.random() < 0.3
    start_spec, runtime = _index_tensor(starts, index_type, constant)
    model = single_op_model("DYNAMIC_UPDATE_SLICE",
                            [TensorSpec(tuple(shape), dtype, *q), TensorSpec(tuple(update_shape), update_dtype,
                                                                             *update_q), start_spec],
                            [TensorSpec(tuple(shape), dtype, *q)])
    inputs = [values_of(rng, tuple(shape), dtype), values_of(rng, tuple(update_shape), update_dtype)] + runtime
    params = {"shape": tuple(shape), "update_shape": tuple(update_shape), "starts": starts,
              "index_type": index_type, "starts_constant": constant}
    # TFLM's Prepare takes ranks 1 to 6 only
    tflm = TFLM_AS_LITERT if rank or probe else TFLM_INVALID
    if not rank:
        notes.append("scalar operand (TFLM refuses rank 0)")
    return case("DYNAMIC_UPDATE_SLICE", dtype, model, inputs, params, probe, join(*notes), tflm=tflm)


# ------------------------------------------------------------------------------------------------
# REDUCE_ALL, REDUCE_ANY


def gen_logical_reduce(rng: np.random.Generator, op: str, dtype: str) -> Case:
    """REDUCE_ALL / REDUCE_ANY; see the module docstring for what is drawn."""
    rank = int(rng.integers(1, 6))
    shape = [int(d) for d in rng.integers(1, 5, rank)]
    if rng.random() < 0.05:
        shape[int(rng.integers(rank))] = 0
    shape_t = tuple(shape)
    if rng.random() < 0.08:
        axes: list[int] = []
    else:
        axes = [int(a) for a in rng.choice(rank, size=int(rng.integers(1, rank + 1)), replace=False)]
        axes = [a - rank if rng.random() < 0.3 else a for a in axes]
        if rng.random() < 0.1:
            axes.append(axes[0] + (rank if axes[0] < 0 else -rank))  # the same axis twice
    probes, tflm = [], TFLM_AS_LITERT
    axis_type = "int32"
    scalar = rng.random() < 0.05
    if scalar:  # a scalar input: LiteRT reads no axis at all (any values pass) and makes a scalar
        shape, shape_t, rank = [], (), 0
        axes = [int(a) for a in rng.integers(-3, 4, int(rng.integers(1, 3)))]
    elif rng.random() < 0.03:
        axes.append(rank + int(rng.integers(0, 2)))
        probes.append("axis out of range")
        tflm = TFLM_UNDEFINED
    elif rng.random() < 0.02:
        axis_type = "int64"
        probes.append("int64 axis tensor")
    keep_dims = bool(rng.random() < 0.5)
    resolved = {a % rank for a in axes if -rank <= a < rank} if rank else set()
    output_shape = tuple(1 if d in resolved else n for d, n in enumerate(shape)) if keep_dims else \
        tuple(n for d, n in enumerate(shape) if d not in resolved)
    # LiteRT's Python API cannot set an empty input tensor, nor read an empty dynamic output
    constant = rng.random() < 0.7 or not axes or 0 in shape
    axis_spec, runtime = _index_tensor(axes, axis_type, constant)
    model = single_op_model(op, [TensorSpec(shape_t, "bool"), axis_spec], [TensorSpec(output_shape, "bool")],
                            {"keep_dims": keep_dims})
    draw = rng.random()
    if draw < 0.15:
        x, values = np.ones(shape_t, dtype=bool), "all true"
    elif draw < 0.3:
        x, values = np.zeros(shape_t, dtype=bool), "all false"
    else:
        density = float(choice(rng, (0.05, 0.5, 0.95)))
        x, values = np.asarray(rng.random(shape_t) < density), f"true with p={density}"
    edges = ["scalar input (axes not read)" if scalar else None]
    if not constant:  # TFLM reads the axes at Prepare, where a model input holds no values yet
        tflm = TFLM_UNDEFINED if tflm == TFLM_UNDEFINED else TFLM_NOT_COMPARED
        edges.append("axes a model input")
    edge = join(*edges)
    params = {"shape": shape_t, "axes": axes, "keep_dims": keep_dims, "axes_constant": constant, "values": values}
    return case(op, dtype, model, [x] + runtime, params, join(*probes), edge, tflm=tflm)


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

    add("DYNAMIC_UPDATE_SLICE", ANY_DTYPES, gen_dynamic_update_slice)
    for op in ("REDUCE_ALL", "REDUCE_ANY"):
        add(op, ("bool",), lambda rng, k, op=op: gen_logical_reduce(rng, op, k))
    return table


GENERATORS = _table()

#: Kinds also compared against TFLite Micro (its DYNAMIC_UPDATE_SLICE takes int8, int16, int32 and float32; it has
#: REDUCE_ALL but no REDUCE_ANY).
TFLM_KINDS: frozenset[tuple[str, str]] = frozenset(
    [("DYNAMIC_UPDATE_SLICE", k) for k in ("int8", "int16", "int32", "float32")] + [("REDUCE_ALL", "bool")]
)

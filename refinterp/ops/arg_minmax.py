"""ARG_MAX and ARG_MIN: the index of the largest (smallest) value along one axis.

Rule (``arg_min_max.cc`` -> ``optimized_ops::ArgMinMax`` / ``reference_ops::ArgMinMax``, LiteRT and TFLM alike),
for every position outside the axis::

    best = x[..., 0, ...];  index = 0
    for i = 1 .. n - 1:  if cmp(x[..., i, ...], best):  best = x[..., i, ...];  index = i

with ``cmp`` the strict ``>`` (ARG_MAX) or ``<`` (ARG_MIN) of the stored values: ties keep the first index; for
bool, false < true. Quantized inputs compare their raw values (the scale is positive, so the order is the real
one). A float input holding a NaN is an EvalError: the ai-edge-litert 2.3.0 wheel gives answers no comparison
rule explains (its float loop is evidently compiled with finite-math assumptions and vectorized: with the
axis last, ``[nan, 1, 0, 2]`` gives 0 but ``[nan, 1, 2, 0, 0]`` gives 4, for ARG_MAX and ARG_MIN alike).

Inputs: the tensor (float32, uint8, int8, int32, bool; rank >= 1) and the axis, a one-element int32 or int64
tensor, constant or computed at run time, in ``[-rank, rank)`` (negative counts from the end). The output holds
``output_type`` (the options: int32 or int64) and has the input's shape without the axis. LiteRT checks a
constant axis at Prepare and a run-time one at Eval (an out-of-range one fails there: an EvalError here).

TFLM runs float32 and int8 inputs with an int32 axis and an int32 output only, and does not check the axis
(profile "tflm" refuses what it would read outside the tensor with).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from refinterp.errors import EvalError
from refinterp.ops.common import OpContext

LITERT_INPUT_TYPES = ("float32", "uint8", "int8", "int32", "bool")
TFLM_INPUT_TYPES = ("float32", "int8")
TENSOR_TYPE_NAMES = {2: "int32", 4: "int64"}  # schema TensorType codes an ArgMax/ArgMinOptions may name


@dataclass(frozen=True)
class ArgMinMaxParams:
    is_arg_max: bool
    output_dtype: np.dtype
    axis: int | None  # normalized; None: read from the axis tensor at invoke
    op_label: str = "ARG_MAX"


def prepare_arg_max(ctx: OpContext) -> ArgMinMaxParams:
    return _prepare(ctx, is_arg_max=True)


def prepare_arg_min(ctx: OpContext) -> ArgMinMaxParams:
    return _prepare(ctx, is_arg_max=False)


def _prepare(ctx: OpContext, is_arg_max: bool) -> ArgMinMaxParams:
    ctx.check_inputs(2, 2)
    if len(ctx.op.outputs) != 1:
        raise ctx.fail(f"has {len(ctx.op.outputs)} outputs, expected 1")
    x, axis, y = ctx.require_input(0), ctx.require_input(1), ctx.output(0)
    if int(np.prod(ctx.shape(axis), dtype=np.int64)) != 1:
        raise ctx.fail(f"axis must have exactly one element, got shape {list(ctx.shape(axis))}")
    if axis.type_name not in ("int32", "int64"):
        raise ctx.fail(f"axis type {axis.type_name} (must be int32 or int64)")
    output_type = TENSOR_TYPE_NAMES.get(int(ctx.options.get("output_type", -1)))
    if output_type is None:
        raise ctx.fail(f"unknown index output type {ctx.options.get('output_type')!r} (int32 or int64)")
    if y.type_name != output_type:
        # LiteRT sets the output's type to the options' output_type whatever the file declares
        raise ctx.unsupported(f"output declared {y.type_name} but the options name {output_type}")
    if x.type_name not in LITERT_INPUT_TYPES:
        raise ctx.fail(f"input type {x.type_name} (supported: {', '.join(LITERT_INPUT_TYPES)})")
    rank = len(ctx.shape(x))
    if rank < 1:
        raise ctx.fail("input must have at least one dimension")
    if ctx.profile == "tflm":
        if x.type_name not in TFLM_INPUT_TYPES or axis.type_name != "int32" or output_type != "int32":
            raise ctx.fail(f"TFLM runs float32/int8 inputs with an int32 axis and int32 output only, got "
                           f"{x.type_name} input, {axis.type_name} axis, {output_type} output")
    label = "ARG_MAX" if is_arg_max else "ARG_MIN"
    normalized = None
    if axis.is_constant:
        value = int(np.asarray(axis.data).reshape(-1)[0])
        normalized = value + rank if value < 0 else value
        if not 0 <= normalized < rank:
            raise ctx.fail(f"axis {value} is outside [-{rank}, {rank})")
        if ctx.shape(x)[normalized] == 0:
            raise ctx.fail(f"cannot compute {label} over the empty axis {value}")
    return ArgMinMaxParams(is_arg_max, np.dtype(output_type), normalized, label)


def resolve_axis(p: ArgMinMaxParams, x: np.ndarray, axis: np.ndarray) -> int:
    """The normalized axis: from Prepare (constant), or read and checked now (ReadAndNormalizeAxis at Eval)."""
    if p.axis is not None:
        return p.axis
    value = int(np.asarray(axis).reshape(-1)[0])
    normalized = value + x.ndim if value < 0 else value
    if not 0 <= normalized < x.ndim:
        raise EvalError(f"{p.op_label}: axis {value} is outside [-{x.ndim}, {x.ndim}) (LiteRT fails at Eval)")
    if x.shape[normalized] == 0:
        raise EvalError(f"{p.op_label}: cannot compute over the empty axis {value}")
    return normalized


def check_no_nan(p: ArgMinMaxParams, x: np.ndarray) -> None:
    if x.dtype.kind == "f" and np.isnan(x).any():
        raise EvalError(f"{p.op_label}: the input holds a NaN; LiteRT's result then depends on how its compiler "
                        "vectorized the loop, which refinterp does not reproduce")


def arg_min_max_spec(p: ArgMinMaxParams, x: np.ndarray, axis: np.ndarray) -> np.ndarray:
    a = resolve_axis(p, x, axis)
    check_no_nan(p, x)
    moved = np.moveaxis(x, a, 0)
    best = moved[0].copy()
    index = np.zeros(best.shape, dtype=np.int64)
    with np.errstate(invalid="ignore"):
        for i in range(1, moved.shape[0]):
            # the strict comparison of the reference loop: ties keep the first index
            better = moved[i] > best if p.is_arg_max else moved[i] < best
            best = np.where(better, moved[i], best)
            index = np.where(better, i, index)
    return index.astype(p.output_dtype)


# ------------------------------------------------------------------------------------------------
# explain: one output element, step by step (``refinterp explain``; refinterp/ops/trace.py)


def explain_arg_min_max(ctx: OpContext, p: ArgMinMaxParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """ARG_MAX / ARG_MIN output ``index``: the values along the axis at that position, and the first index of the
    largest (smallest) stored value."""
    x = np.asarray(inputs[0])
    a = resolve_axis(p, x, inputs[1])
    check_no_nan(p, x)
    position = tuple(int(i) for i in index[:a]) + (slice(None),) + tuple(int(i) for i in index[a:])
    line = x[position]
    trace.add("values along the axis", line.tolist(), f"input{[*index[:a], ':', *index[a:]]} (axis {a}, "
              f"{line.size} values); quantized values compare as stored: the scale is positive, the order is the same")
    best, best_index = line[0], 0
    for i in range(1, line.size):
        if (line[i] > best) if p.is_arg_max else (line[i] < best):
            best, best_index = line[i], i
    trace.add("largest value" if p.is_arg_max else "smallest value", best.item(),
              f"first at position {best_index}" + (f" (also at {[int(i) for i in np.nonzero(line == best)[0][1:]]}: "
                                                   "a tie keeps the first)" if np.sum(line == best) > 1 else ""))
    trace.add("output", best_index, f"its index along axis {a}, as {p.output_dtype}")
    return best_index

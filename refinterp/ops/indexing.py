"""Indexing: GATHER, GATHER_ND, EMBEDDING_LOOKUP, SCATTER_ND, TOPK_V2, ONE_HOT, DYNAMIC_UPDATE_SLICE.

Index values are data: an index out of range is an EvalError at invoke, where LiteRT's Eval fails (and at
prepare where LiteRT evaluates the operator in Prepare: GATHER and BROADCAST_ARGS-style constant folding).
Where LiteRT reads outside a tensor or leaves an output unwritten instead of failing, refinterp refuses the
model with the reason (each section says where). Values are moved raw: no scale or zero point is checked or
applied, except EMBEDDING_LOOKUP's hybrid form (int8 table, float32 output), which dequantizes.
Sources: ``tflite/kernels/{gather,gather_nd,embedding_lookup,scatter_nd,topk_v2,one_hot}.cc`` and
``reference_ops.h`` (GatherNd, ScatterNd), LiteRT 2.3.0 (checks measured).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from refinterp.errors import EvalError, RefinterpError
from refinterp.model import Tensor
from refinterp.ops.common import OpContext, per_tensor_qparams_or_identity

Fail = Callable[[str], RefinterpError]

INDEX_TYPES = ("int16", "int32", "int64")
GATHER_TYPES = ("int8", "uint8", "int16", "int32", "int64", "float32", "float16", "bool")
SCATTER_TYPES = ("int8", "uint8", "int32", "int64", "float32", "bool")
TOPK_TYPES = ("int8", "uint8", "int16", "int32", "int64", "float32")
ONE_HOT_TYPES = ("int8", "uint8", "int32", "int64", "float32", "bool")


def _require_output_type(ctx: OpContext, output: Tensor, type_name: str) -> None:
    if output.type_name != type_name:
        raise ctx.unsupported(f"output {output.index} is declared {output.type_name}; LiteRT makes it "
                              f"{type_name} (refinterp runs the declared types only)")


# ------------------------------------------------------------------------------------------------
# GATHER (gather.cc, reference/gather.h): along `axis` (negative counts from the end), with `batch_dims`
# leading dimensions shared by input and positions (negative counts from the positions' rank):
#
#     out[b..., o..., i..., n...] = x[b..., o..., positions[b..., i...], n...]
#     shape: x.shape[:axis] + positions.shape[batch_dims:] + x.shape[axis + 1:]
#
# Positions are int16, int32 or int64. A negative position fails (LiteRT checks them all first); one at or
# beyond the axis size fails when the gather loop reaches it, i.e. unless the batch or outer size is 0.
# When both inputs are constants LiteRT gathers at Prepare, and so does refinterp.


@dataclass(frozen=True)
class GatherParams:
    axis: int
    batch_dims: int


def check_gather_positions(p: GatherParams, x_shape: tuple[int, ...], positions: np.ndarray, fail: Fail) -> None:
    """reference_ops::Gather's index check: every position within the axis (none read when the input is empty)."""
    positions = np.asarray(positions)
    if positions.size and positions.min() < 0:
        raise fail(f"gather index {int(positions.min())} is negative")
    if math.prod(x_shape[:p.axis]) and positions.size and positions.max() >= x_shape[p.axis]:
        raise fail(f"gather index {int(positions.max())} is out of bounds for an axis of size {x_shape[p.axis]}")


def gather_values(p: GatherParams, x: np.ndarray, positions: np.ndarray, fail: Fail) -> np.ndarray:
    positions = np.asarray(positions)
    check_gather_positions(p, x.shape, positions, fail)
    batch_size = math.prod(x.shape[:p.batch_dims])
    outer_size = math.prod(x.shape[p.batch_dims:p.axis])
    axis_size = x.shape[p.axis]
    inner_size = math.prod(x.shape[p.axis + 1:])
    coord_size = math.prod(positions.shape[p.batch_dims:])
    output_shape = x.shape[:p.axis] + positions.shape[p.batch_dims:] + x.shape[p.axis + 1:]
    x4 = x.reshape(batch_size, outer_size, axis_size, inner_size)
    coords = positions.reshape(batch_size, coord_size).astype(np.int64)
    gathered = x4[np.arange(batch_size)[:, None, None], np.arange(outer_size)[None, :, None], coords[:, None, :]]
    return np.ascontiguousarray(gathered).reshape(output_shape)


def prepare_gather(ctx: OpContext) -> GatherParams:
    ctx.check_inputs(2, 2)
    x, positions, y = ctx.require_input(0), ctx.require_input(1), ctx.output(0)
    if positions.type_name not in INDEX_TYPES:
        raise ctx.fail(f"positions of type {positions.type_name} (LiteRT takes {', '.join(INDEX_TYPES)})")
    if x.type_name not in GATHER_TYPES:
        raise ctx.fail(f"input type {x.type_name} (LiteRT's GATHER takes {', '.join(GATHER_TYPES)})")
    _require_output_type(ctx, y, x.type_name)
    x_shape, p_shape = ctx.shape(x), ctx.shape(positions)
    axis = int(ctx.options.get("axis", 0))
    axis = axis + len(x_shape) if axis < 0 else axis
    if not 0 <= axis < len(x_shape):
        raise ctx.fail(f"axis {ctx.options.get('axis', 0)} is outside a rank-{len(x_shape)} input")
    batch_dims = int(ctx.options.get("batch_dims", 0))
    batch_dims = batch_dims + len(p_shape) if batch_dims < 0 else batch_dims
    if not (batch_dims <= axis and 0 <= batch_dims < len(x_shape) and batch_dims <= len(p_shape)):
        raise ctx.fail(f"batch_dims {ctx.options.get('batch_dims', 0)} is invalid for axis {axis}, input rank "
                       f"{len(x_shape)} and positions rank {len(p_shape)}")
    if x_shape[:batch_dims] != p_shape[:batch_dims]:
        raise ctx.fail(f"the first {batch_dims} dimensions of {list(x_shape)} and {list(p_shape)} differ")
    params = GatherParams(axis, batch_dims)
    ctx.set_output_shape(0, x_shape[:axis] + p_shape[batch_dims:] + x_shape[axis + 1:])
    if x.is_constant and positions.is_constant:
        # LiteRT evaluates a GATHER of constants at Prepare, so a bad position fails there; the values are
        # computed by the kernel, after the output's size has been checked against the limits
        check_gather_positions(params, x_shape, positions.data, ctx.fail)
    return params


def gather_spec(p: GatherParams, x: np.ndarray, positions: np.ndarray) -> np.ndarray:
    return gather_values(p, x, positions, EvalError)


# ------------------------------------------------------------------------------------------------
# GATHER_ND (gather_nd.cc, reference_ops::GatherNd): indices [..., nd] (int16/int32/int64, nd <= params'
# rank) pick slices params[i_0, ..., i_nd-1, ...]: output shape indices.shape[:-1] + params.shape[nd:].
# Fails at invoke on: a negative index (all are checked first), a coordinate outside its dimension,
# non-empty indices into empty params. nd == 0 (every slice is all of params) runs only when the
# zero-byte indices tensor is a constant of the model: as a model input or intermediate its data pointer is
# null and GatherNd returns an error (measured with LiteRT 2.3.0); refinterp follows both.


@dataclass(frozen=True)
class GatherNdParams:
    nd: int
    constant_indices: bool
    #: a constant indices tensor's whole buffer, when longer than its shape (the negative-index scan reads it)
    whole_buffer: np.ndarray | None = None


def prepare_gather_nd(ctx: OpContext) -> GatherNdParams:
    ctx.check_inputs(2, 2)
    params, indices, y = ctx.require_input(0), ctx.require_input(1), ctx.output(0)
    if params.type_name not in GATHER_TYPES:
        raise ctx.fail(f"params type {params.type_name} (LiteRT's GATHER_ND takes {', '.join(GATHER_TYPES)})")
    if indices.type_name not in INDEX_TYPES:
        raise ctx.fail(f"indices of type {indices.type_name} (LiteRT takes {', '.join(INDEX_TYPES)})")
    p_shape, i_shape = ctx.shape(params), ctx.shape(indices)
    if len(p_shape) < 1:
        raise ctx.fail("params must be at least a vector")
    if len(i_shape) < 1:
        raise ctx.fail("indices must be at least a vector")
    nd = i_shape[-1]
    if not 0 <= nd <= len(p_shape):
        raise ctx.fail(f"the innermost index dimension {nd} must be in [0, {len(p_shape)}]")
    _require_output_type(ctx, y, params.type_name)
    ctx.set_output_shape(0, i_shape[:-1] + p_shape[nd:])
    # gather_nd.cc scans ``indices->bytes / sizeof(IndicesT)`` values for a negative one: for a constant that
    # is its whole buffer, which may be longer than its shape needs
    whole_buffer = None
    if indices.buffer_data is not None:
        itemsize = indices.dtype.itemsize
        whole_buffer = np.frombuffer(indices.buffer_data, indices.dtype, count=indices.buffer_data.size // itemsize)
    # a zero-element constant whose buffer has no data vector has a null data pointer in LiteRT: GatherNd then
    # fails even where it reads no index
    constant_indices = indices.is_constant and not indices.null_data
    return GatherNdParams(nd, constant_indices, whole_buffer)


def gather_nd_spec(p: GatherNdParams, params: np.ndarray, indices: np.ndarray) -> np.ndarray:
    output_shape = indices.shape[:-1] + params.shape[p.nd:]
    if params.size == 0 and indices.size != 0:
        raise EvalError("gather_nd from empty params")
    scanned = p.whole_buffer if p.whole_buffer is not None else indices
    if scanned.size and scanned.min() < 0:
        raise EvalError(f"gather_nd index {int(scanned.min())} is negative")
    n_slices = math.prod(indices.shape[:-1])
    if n_slices == 0:
        return np.zeros(output_shape, dtype=params.dtype)
    if p.nd == 0:
        if not p.constant_indices:
            raise EvalError("gather_nd with empty index vectors from a non-constant tensor (LiteRT's data "
                            "pointer is null there: it fails)")
        return np.ascontiguousarray(np.broadcast_to(params, output_shape))
    coords = indices.reshape(n_slices, p.nd).astype(np.int64)
    limits = np.array(params.shape[:p.nd], dtype=np.int64)
    if np.any(coords >= limits):
        bad = coords[np.any(coords >= limits, axis=1)][0]
        raise EvalError(f"gather_nd index {bad.tolist()} is out of bounds for params of shape {list(params.shape)}")
    return np.ascontiguousarray(params[tuple(coords.T)]).reshape(output_shape)


# ------------------------------------------------------------------------------------------------
# EMBEDDING_LOOKUP (embedding_lookup.cc): rows of the table (input 1, rank >= 2) picked by the 1-D int32
# lookup (input 0); output [len(lookup)] + table.shape[1:]. An index outside [0, rows) fails at invoke.
#
# * same type in and out: the rows' raw values;
# * hybrid: an int8 (or uint8) table and a float32 output: out = f32(f32(int8(q)) * scale), with the
#   per-tensor scale or, quantized along dimension 0, the row's own scale; the zero point must be 0. LiteRT
#   reads a uint8 table through an int8 pointer, so uint8 values above 127 count as q - 256 (reproduced).
#
# Refused: other type pairs (LiteRT copies raw bytes of one type into the other) and an empty table with a
# non-empty lookup (LiteRT returns without writing the output).


@dataclass(frozen=True)
class EmbeddingParams:
    hybrid: bool
    scales: np.ndarray | None  # hybrid: float32 scale per row, or one (per-tensor) for every row


def prepare_embedding_lookup(ctx: OpContext) -> EmbeddingParams:
    ctx.check_inputs(2, 2)
    lookup, value, y = ctx.require_input(0), ctx.require_input(1), ctx.output(0)
    if len(ctx.shape(lookup)) != 1 or lookup.type_name != "int32":
        raise ctx.fail(f"lookup must be a 1-D int32 tensor, got {lookup.type_name}{list(ctx.shape(lookup))}")
    v_shape = ctx.shape(value)
    if len(v_shape) < 2:
        raise ctx.fail(f"value must be at least 2-D, got shape {list(v_shape)}")
    ctx.set_output_shape(0, (ctx.shape(lookup)[0],) + v_shape[1:])
    q = value.quantization
    hybrid = value.type_name != y.type_name and y.type_name in ("float32", "float16")
    if q is not None:
        if value.type_name in ("int8", "uint8") and y.type_name == "float32" and int(q.zero_point[0]) != 0:
            raise ctx.fail("a hybrid lookup (int8 table, float output) needs zero point 0")
        if q.per_channel:
            if value.type_name not in ("int8", "uint8") or y.type_name not in ("float32", "float16"):
                raise ctx.fail("per-row scales are for a hybrid lookup only (int8/uint8 table, float output)")
            if q.quantized_dimension != 0 or q.scale.size != v_shape[0] or q.zero_point.size not in (1, v_shape[0]):
                raise ctx.fail("per-row quantization must be along dimension 0 with one scale per row")
    if not hybrid:
        if value.dtype is None or value.type_name != y.type_name:
            raise ctx.unsupported(f"table {value.type_name}, output {y.type_name}: LiteRT copies raw bytes "
                                  "between different types")
        return EmbeddingParams(False, None)
    if value.type_name not in ("int8", "uint8") or y.type_name != "float32":
        raise ctx.unsupported(f"hybrid lookup of a {value.type_name} table into {y.type_name} (refinterp has "
                              "int8/uint8 into float32)")
    if q is not None and q.per_channel:
        if ctx.profile == "tflm":  # TFLM's hybrid lookup has no per-row scales (its values differ: measured)
            raise ctx.unsupported("a hybrid lookup with per-row scales under profile tflm")
        scales = q.scale.astype(np.float32)
    else:
        # one value, not one per row: a table that is a model input may have 2^31 rows, not allocated yet
        scales = np.full(1, np.float32(per_tensor_qparams_or_identity(value)[0]), np.float32)
    return EmbeddingParams(True, scales)


def embedding_lookup_spec(p: EmbeddingParams, lookup: np.ndarray, value: np.ndarray) -> np.ndarray:
    rows = value.shape[0]
    if rows == 0 and lookup.size:
        raise EvalError("lookup into an empty table (LiteRT leaves the output unwritten)")
    if lookup.size and (lookup.min() < 0 or lookup.max() >= rows):
        bad = lookup[(lookup < 0) | (lookup >= rows)][0]
        raise EvalError(f"embedding lookup index {int(bad)} is out of bounds [0, {rows - 1}]")
    picked = value[lookup.astype(np.int64)]
    if not p.hybrid:
        return np.ascontiguousarray(picked)
    as_int8 = picked.view(np.int8) if picked.dtype == np.uint8 else picked
    row_scales = p.scales[lookup.astype(np.int64)] if p.scales.size > 1 else np.broadcast_to(p.scales, lookup.shape)
    scale = row_scales.reshape((-1,) + (1,) * (value.ndim - 1))
    return (as_int8.astype(np.float32) * scale).astype(np.float32)


# ------------------------------------------------------------------------------------------------
# SCATTER_ND (scatter_nd.cc, reference_ops::ScatterNd): a zero tensor of `shape` (int32, as the indices)
# into which each update slice is *added* at its index: duplicates accumulate, in index order (float32 adds
# round one at a time; integers wrap; bool is OR). Shapes: indices [..., nd], updates indices.shape[:-1] +
# shape[nd:]. An index outside the output fails at invoke.


@dataclass(frozen=True)
class ScatterNdParams:
    shape: tuple[int, ...] | None  # None: from a non-constant shape input at eval


def _scatter_shape(indices_shape: tuple[int, ...], updates_shape: tuple[int, ...], shape_shape: tuple[int, ...],
                   shape_values: tuple[int, ...], fail: Fail) -> tuple[int, ...]:
    if len(indices_shape) < 1 or len(updates_shape) < 1 or len(shape_shape) != 1:
        raise fail(f"indices {list(indices_shape)}, updates {list(updates_shape)} and shape {list(shape_shape)} "
                   "must be at least 1-D (shape exactly 1-D)")
    outer = len(indices_shape) - 1
    if indices_shape[:outer] != updates_shape[:outer]:
        raise fail(f"indices {list(indices_shape)} and updates {list(updates_shape)} differ in the outer dimensions")
    nd = indices_shape[outer]
    if len(updates_shape) - outer != shape_shape[0] - nd or \
            tuple(updates_shape[outer:]) != tuple(shape_values[nd:nd + len(updates_shape) - outer]):
        raise fail(f"updates {list(updates_shape)} do not fit slices of shape {list(shape_values)} at depth {nd}")
    if any(d < 0 for d in shape_values):
        raise fail(f"shape {list(shape_values)} has a negative dimension")
    return shape_values


def prepare_scatter_nd(ctx: OpContext) -> ScatterNdParams:
    ctx.check_inputs(3, 3)
    indices, updates, shape, y = ctx.require_input(0), ctx.require_input(1), ctx.require_input(2), ctx.output(0)
    if updates.type_name not in SCATTER_TYPES:
        raise ctx.fail(f"updates of type {updates.type_name} (LiteRT's SCATTER_ND takes {', '.join(SCATTER_TYPES)})")
    if indices.type_name != shape.type_name:
        raise ctx.fail(f"indices are {indices.type_name} but shape is {shape.type_name}")
    if indices.type_name != "int32":
        raise ctx.fail(f"indices of type {indices.type_name} (LiteRT takes int32)")
    _require_output_type(ctx, y, updates.type_name)
    if not shape.is_constant:
        ctx.set_output_shape(0, lambda inputs: _scatter_shape(inputs[0].shape, inputs[1].shape, inputs[2].shape,
                                                              tuple(int(v) for v in inputs[2].reshape(-1)),
                                                              EvalError))
        return ScatterNdParams(None)
    values = tuple(int(v) for v in np.asarray(shape.data).reshape(-1))
    output_shape = _scatter_shape(ctx.shape(indices), ctx.shape(updates), ctx.shape(shape), values, ctx.fail)
    ctx.set_output_shape(0, output_shape)
    return ScatterNdParams(output_shape)


def _scatter_coordinates(p: ScatterNdParams, indices: np.ndarray, updates: np.ndarray,
                         shape: np.ndarray) -> tuple[tuple[int, ...], int, np.ndarray, list[int] | None]:
    """The output shape, the index depth nd, the slices' coordinates (int64, one row per slice) and the first
    coordinate out of bounds (None when all are in bounds: scatter_nd.cc checks them all before writing)."""
    output_shape = p.shape
    if output_shape is None:
        output_shape = _scatter_shape(indices.shape, updates.shape, np.shape(shape),
                                      tuple(int(v) for v in np.reshape(shape, -1)), EvalError)
    nd = indices.shape[-1]
    n_slices = math.prod(indices.shape[:-1])
    coords = indices.reshape(n_slices, nd).astype(np.int64)
    limits = np.array(output_shape[:nd], dtype=np.int64)
    bad = np.any((coords < 0) | (coords >= limits), axis=1)
    return output_shape, nd, coords, (coords[bad][0].tolist() if bad.any() else None)


def scatter_nd_spec(p: ScatterNdParams, indices: np.ndarray, updates: np.ndarray, shape: np.ndarray) -> np.ndarray:
    output_shape, nd, coords, out_of_bounds = _scatter_coordinates(p, indices, updates, shape)
    if out_of_bounds is not None:
        raise EvalError(f"scatter_nd index {out_of_bounds} is out of bounds for shape {list(output_shape)}")
    slices = math.prod(output_shape[:nd])
    slice_size = math.prod(output_shape[nd:])
    out = np.zeros((slices, slice_size), dtype=updates.dtype)
    if len(coords):
        rows = np.ravel_multi_index(tuple(coords.T), output_shape[:nd]) if nd else np.zeros(len(coords), np.int64)
        slabs = updates.reshape(len(coords), slice_size)
        if out.dtype == np.bool_:
            np.logical_or.at(out, rows, slabs)
        else:
            with np.errstate(over="ignore"):
                np.add.at(out, rows, slabs)  # in index order, in the output type (float32 rounding, int wrap)
    return out.reshape(output_shape)


# ------------------------------------------------------------------------------------------------
# TOPK_V2 (topk_v2.cc): the k largest values of each last-dimension row, sorted by value descending, ties
# by the smaller index (TopContainer's comparator orders the elements totally). k (one int32 or int16
# value) <= the row size; k <= 0 gives empty rows. Outputs: values (the input type) and indices (int32 or
# int16). A NaN breaks the comparator's order, and LiteRT's heap then decides where it lands: refinterp
# refuses a float row holding a NaN (EvalError).


TOPK_BLOCK_ELEMENTS = 1 << 20  # rows sorted together: a bound on the int64 temporaries


@dataclass(frozen=True)
class TopKParams:
    k: int | None  # None: from a non-constant input at eval
    index_dtype: np.dtype


def _top_k_value(values: tuple[int, ...], row: int, fail: Fail) -> int:
    k = values[0]
    if k > row:
        raise fail(f"k {k} is larger than the last dimension {row}")
    return max(k, 0)


def prepare_topk_v2(ctx: OpContext) -> TopKParams:
    ctx.check_inputs(2, 2)
    if len(ctx.op.outputs) != 2:
        raise ctx.fail(f"has {len(ctx.op.outputs)} outputs, expected 2")
    x, k, values, indices = ctx.require_input(0), ctx.require_input(1), ctx.output(0), ctx.output(1)
    ctx.check_same_type(x, values)
    if x.type_name not in TOPK_TYPES:
        raise ctx.fail(f"type {x.type_name} (LiteRT's TOPK_V2 takes {', '.join(TOPK_TYPES)})")
    if indices.type_name not in ("int32", "int16"):
        raise ctx.fail(f"index output of type {indices.type_name} (LiteRT takes int32, int16)")
    if k.type_name not in ("int32", "int16"):
        raise ctx.fail(f"k of type {k.type_name} (LiteRT takes int32, int16)")
    if math.prod(ctx.shape(k)) != 1:
        raise ctx.fail(f"k has {math.prod(ctx.shape(k))} elements, expected 1")
    shape = ctx.shape(x)
    if len(shape) < 1:
        raise ctx.fail("the input must have at least one dimension")
    fixed = None
    if k.is_constant:
        fixed = _top_k_value(tuple(int(v) for v in np.asarray(k.data).reshape(-1)), shape[-1], ctx.fail)
        for i in (0, 1):
            ctx.set_output_shape(i, shape[:-1] + (fixed,))
    else:
        for i in (0, 1):
            ctx.set_output_shape(i, lambda inputs: inputs[0].shape[:-1] + (_top_k_value(
                tuple(int(v) for v in inputs[1].reshape(-1)), inputs[0].shape[-1], EvalError),))
    return TopKParams(fixed, indices.dtype)


def topk_v2_spec(p: TopKParams, x: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per block of rows: a stable ascending sort of an order-reversing key (``~x`` for integers, exact and
    without overflow; ``-x`` for floats) puts values descending and equal values by the smaller index first,
    TopContainer's order. Memory: the block's int64 sort order (at most a few MiB of rows at a time, or one
    row), never several full-size int64 temporaries."""
    count = p.k if p.k is not None else _top_k_value(tuple(int(v) for v in np.reshape(k, -1)), x.shape[-1],
                                                     EvalError)
    if x.dtype.kind == "f" and count and np.isnan(x).any():
        raise EvalError("TOPK_V2 input holds a NaN: LiteRT's order for it is not reproducible")
    row_size = x.shape[-1]
    rows = np.reshape(x, (math.prod(x.shape[:-1]), row_size))
    values = np.empty((rows.shape[0], count), x.dtype)
    indices = np.empty((rows.shape[0], count), p.index_dtype)
    if count and row_size > TOPK_BLOCK_ELEMENTS:  # one long row at a time
        for r in range(rows.shape[0]):
            order = _top_k_of_long_row(_topk_key(rows[r]), count)
            values[r] = rows[r][order]
            indices[r] = order.astype(p.index_dtype)  # int16 indices: C's narrowing cast
    elif count:
        block = max(1, TOPK_BLOCK_ELEMENTS // row_size)
        for start in range(0, rows.shape[0], block):
            chunk = rows[start:start + block]
            order = np.argsort(_topk_key(chunk), axis=-1, kind="stable")[:, :count]
            values[start:start + block] = np.take_along_axis(chunk, order, axis=-1)
            indices[start:start + block] = order.astype(p.index_dtype)
    return values.reshape(x.shape[:-1] + (count,)), indices.reshape(x.shape[:-1] + (count,))


def _topk_key(x: np.ndarray) -> np.ndarray:
    """A key whose ascending order is x's descending order: ~x for integers (exact, no overflow), -x for
    floats (no NaN here; -0.0 and 0.0 stay equal, as under C++'s comparison)."""
    return -x if x.dtype.kind == "f" else ~x


def _top_k_of_long_row(key: np.ndarray, count: int) -> np.ndarray:
    """The positions of the ``count`` smallest keys, ascending key then ascending position, without a
    full-length int64 temporary: every key below the count-th smallest, then the first equal ones."""
    kth = np.partition(key, count - 1)[count - 1]
    better = np.flatnonzero(key < kth)  # fewer than count
    needed = count - better.size
    equal = []
    for start in range(0, key.size, TOPK_BLOCK_ELEMENTS):
        if needed <= 0:
            break
        found = np.flatnonzero(key[start:start + TOPK_BLOCK_ELEMENTS] == kth)[:needed] + start
        equal.append(found)
        needed -= found.size
    chosen = np.sort(np.concatenate([better, *equal]))  # ascending position: the stable sort keeps it for ties
    return chosen[np.argsort(key[chosen], kind="stable")]


# ------------------------------------------------------------------------------------------------
# ONE_HOT (one_hot.cc): out[..., j, ...] = on_value if int32(indices[...]) == j else off_value, the new axis
# of size depth at `axis` (-1: last). indices int32 or int64 (an int64 index is truncated to int32 first, as
# LiteRT's static_cast<int>); depth, on_value, off_value one element each; LiteRT reads depth as int32.


@dataclass(frozen=True)
class OneHotParams:
    axis: int
    depth: int | None  # None: from a non-constant input at eval


def _one_hot_depth(value: int, fail: Fail) -> int:
    if value < 0:
        raise fail(f"depth {value} is negative")
    return value


def prepare_one_hot(ctx: OpContext) -> OneHotParams:
    ctx.check_inputs(4, 4)
    indices, depth, on, off, y = (ctx.require_input(0), ctx.require_input(1), ctx.require_input(2),
                                  ctx.require_input(3), ctx.output(0))
    if on.type_name not in ONE_HOT_TYPES:
        raise ctx.fail(f"on_value type {on.type_name} (LiteRT's ONE_HOT computes {', '.join(ONE_HOT_TYPES)})")
    _require_output_type(ctx, y, on.type_name)
    if indices.type_name not in ("int32", "int64"):
        raise ctx.fail(f"indices of type {indices.type_name} (LiteRT takes int32, int64)")
    rank = len(ctx.shape(indices))
    axis = int(ctx.options.get("axis", -1))
    axis = rank if axis == -1 else axis
    if not 0 <= axis <= rank:
        raise ctx.fail(f"axis {ctx.options.get('axis', -1)} is outside [0, {rank}] (or -1)")
    for role, t in (("depth", depth), ("on_value", on), ("off_value", off)):
        if math.prod(ctx.shape(t)) != 1:
            raise ctx.fail(f"{role} has {math.prod(ctx.shape(t))} elements, expected 1")
    if off.type_name != on.type_name:
        raise ctx.fail(f"on_value is {on.type_name} but off_value is {off.type_name}")
    if depth.type_name not in ("int32", "int64"):
        raise ctx.unsupported(f"depth of type {depth.type_name} (LiteRT reads it as int32)")
    fixed = None
    shape = ctx.shape(indices)
    if depth.is_constant:
        fixed = _one_hot_depth(int(np.asarray(depth.data).reshape(-1)[0]), ctx.fail)
        ctx.set_output_shape(0, shape[:axis] + (fixed,) + shape[axis:])
    else:
        ctx.set_output_shape(0, lambda inputs: shape[:axis] + (
            _one_hot_depth(int(inputs[1].reshape(-1)[0]), EvalError),) + shape[axis:])
    return OneHotParams(axis, fixed)


def one_hot_spec(p: OneHotParams, indices: np.ndarray, depth: np.ndarray, on_value: np.ndarray,
                 off_value: np.ndarray) -> np.ndarray:
    size = p.depth if p.depth is not None else _one_hot_depth(int(np.reshape(depth, -1)[0]), EvalError)
    index32 = indices.astype(np.int64).astype(np.int32)  # static_cast<int>: the low 32 bits
    classes = np.arange(size, dtype=np.int32).reshape((size,) + (1,) * (indices.ndim - p.axis))
    hot = np.expand_dims(index32, p.axis) == classes
    return np.where(hot, np.reshape(on_value, -1)[0], np.reshape(off_value, -1)[0]).astype(on_value.dtype)


# ------------------------------------------------------------------------------------------------
# DYNAMIC_UPDATE_SLICE (dynamic_update_slice.cc; TFLM: micro/kernels/dynamic_update_slice.cc): XLA's
# DynamicUpdateSlice. The output is the operand (input 0) with the update (input 1, the same rank, each dimension
# at most the operand's) copied in at the start indices (input 2: int32 or int64, one per dimension), each
# clamped first to [0, operand_dim - update_dim]:
#
#     start[i] = min(max(0, start_indices[i]), operand.shape[i] - update.shape[i])      (in int64)
#     out = operand;  out[start[0]:start[0] + update.shape[0], ...] = update
#
# so no start index is ever out of range. An update as large as the operand replaces it whatever the indices.
# Values are copied raw (no scale or zero point is read). Operand and update must be of one type; LiteRT copies
# any fixed-size type up to rank 8 (checked at Eval), TFLM (the pinned tflite-micro, measured) float32, int8,
# int16 and int32 of rank 1 to 6 (checked at Prepare).

DYNAMIC_UPDATE_SLICE_TYPES = ("int8", "uint8", "int16", "int32", "int64", "float32", "bool")
DYNAMIC_UPDATE_SLICE_TFLM_TYPES = ("int8", "int16", "int32", "float32")
DYNAMIC_UPDATE_SLICE_MAX_RANK = 8  # dynamic_update_slice.cc kMaxRank (checked at Eval)
DYNAMIC_UPDATE_SLICE_TFLM_MAX_RANK = 6  # TFLM kMaxDimensions


@dataclass(frozen=True)
class DynamicUpdateSliceParams:
    output_shape: tuple[int, ...]


def prepare_dynamic_update_slice(ctx: OpContext) -> DynamicUpdateSliceParams:
    ctx.check_inputs(3, 3)
    operand, update, start = ctx.require_input(0), ctx.require_input(1), ctx.require_input(2)
    y = ctx.output(0)
    operand_shape, update_shape, start_shape = ctx.shape(operand), ctx.shape(update), ctx.shape(start)
    if len(start_shape) != 1 or start_shape[0] != len(operand_shape):
        raise ctx.fail(f"start indices have shape {list(start_shape)}, expected [{len(operand_shape)}]")
    if len(update_shape) != len(operand_shape):
        raise ctx.fail(f"update has rank {len(update_shape)}, the operand {len(operand_shape)}")
    if any(u > o for u, o in zip(update_shape, operand_shape)):
        raise ctx.fail(f"update shape {list(update_shape)} is larger than the operand's {list(operand_shape)}")
    if update.type_name != operand.type_name:
        raise ctx.fail(f"operand is {operand.type_name} but update is {update.type_name}")
    if start.type_name not in ("int32", "int64"):
        raise ctx.fail(f"start indices of type {start.type_name} (LiteRT takes int32, int64)")
    ctx.check_dtype(operand, DYNAMIC_UPDATE_SLICE_TYPES, "operand")
    _require_output_type(ctx, y, operand.type_name)
    if ctx.profile == "tflm":
        if operand.type_name not in DYNAMIC_UPDATE_SLICE_TFLM_TYPES:
            raise ctx.unsupported(f"operand type {operand.type_name} under profile tflm (TFLite Micro's kernel "
                                  f"takes {', '.join(DYNAMIC_UPDATE_SLICE_TFLM_TYPES)})")
        if not 1 <= len(operand_shape) <= DYNAMIC_UPDATE_SLICE_TFLM_MAX_RANK:
            raise ctx.fail(f"rank {len(operand_shape)} is outside TFLite Micro's 1 to "
                           f"{DYNAMIC_UPDATE_SLICE_TFLM_MAX_RANK}")
    elif len(operand_shape) > DYNAMIC_UPDATE_SLICE_MAX_RANK:
        raise ctx.fail(f"rank {len(operand_shape)} is above LiteRT's {DYNAMIC_UPDATE_SLICE_MAX_RANK}")
    ctx.set_output_shape(0, operand_shape)
    return DynamicUpdateSliceParams(operand_shape)


def dynamic_update_slice_spec(p: DynamicUpdateSliceParams, operand: np.ndarray, update: np.ndarray,
                              start_indices: np.ndarray) -> np.ndarray:
    out = np.array(operand, copy=True)
    if update.size == operand.size:  # the whole operand replaced (the indices are not read)
        return np.array(update, copy=True).reshape(operand.shape)
    if update.size == 0:
        return out
    starts = [min(max(0, int(s)), o - u)
              for s, o, u in zip(np.asarray(start_indices).reshape(-1), operand.shape, update.shape)]
    out[tuple(slice(s, s + u) for s, u in zip(starts, update.shape))] = update
    return out


# ------------------------------------------------------------------------------------------------
# explain: one output element, step by step (``refinterp explain``; refinterp/ops/trace.py)


def explain_scatter_nd(ctx: OpContext, p: ScatterNdParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """SCATTER_ND output ``index``: the update slices whose index names the element's slice, added in index order
    to a zero of the output type (float32 rounding each sum, integers wrapping, bool OR)."""
    indices, updates, shape = np.asarray(inputs[0]), np.asarray(inputs[1]), inputs[2]
    output_shape, nd, coords, out_of_bounds = _scatter_coordinates(p, indices, updates, shape)
    if out_of_bounds is not None:  # the kernel fails at invoke: no element to explain
        raise trace.not_detailed(f"an index out of bounds ({out_of_bounds} for shape {list(output_shape)})")
    target, within = tuple(int(i) for i in index[:nd]), tuple(int(i) for i in index[nd:])
    slice_shape = tuple(output_shape[nd:])
    offset = int(np.ravel_multi_index(within, slice_shape)) if slice_shape else 0
    trace.add("output slice", list(target), f"the element's first {nd} coordinates (the index depth) name its slice "
              f"of shape {list(slice_shape)}; position {list(within)} in it (flat {offset})")
    slabs = updates.reshape(len(coords), math.prod(slice_shape))
    hits = [int(i) for i in np.flatnonzero(np.all(coords == np.array(target, dtype=np.int64), axis=1))]
    outer = indices.shape[:-1]
    total = np.zeros(1, dtype=updates.dtype)  # the zero tensor the kernel starts from
    items = []
    with np.errstate(over="ignore"):
        for i in hits:
            if total.dtype == np.bool_:
                total = np.logical_or(total, slabs[i, offset:offset + 1])
            else:
                total = (total + slabs[i, offset:offset + 1]).astype(updates.dtype)
            items.append({"update": [int(v) for v in np.unravel_index(i, outer)] if outer else [],
                          "value": slabs[i, offset].item(), "running": total[0].item()})
    trace.add("updates scattered here", [slabs[i, offset].item() for i in hits],
              f"{len(hits)} of the {len(coords)} indices name slice {list(target)}, in index order; each update's "
              f"element at position {list(within)} of its slice (items: the running result after each)", items=items)
    how = ("OR of the values (bool)" if updates.dtype == np.bool_ else
           "added in float32, one rounding per sum" if updates.dtype.kind == "f" else f"added in {updates.dtype}, "
           "wrapping")
    trace.add("output", total[0].item(), f"zero, then each update {how}: duplicates accumulate"
              + ("" if hits else " (no index names this slice: the output keeps zero)"),
              rule="round to nearest, ties to even" if updates.dtype.kind == "f" and len(hits) > 1 else "")
    return total[0].item()


def explain_topk_v2(ctx: OpContext, p: TopKParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """TOPK_V2 output ``index`` (values: output 0, indices: output 1): the element's row, its values ordered
    descending with ties by the smaller position (the spec kernel's stable sort of ``_topk_key``), and the entry at
    the element's rank."""
    x = np.asarray(inputs[0])
    count = p.k if p.k is not None else _top_k_value(tuple(int(v) for v in np.reshape(inputs[1], -1)), x.shape[-1],
                                                     EvalError)
    if x.dtype.kind == "f" and count and np.isnan(x).any():
        raise trace.not_detailed("an input holding a NaN (the kernel refuses it)")
    rank = int(index[-1])
    row_at = tuple(int(i) for i in index[:-1])
    row = x[row_at]
    trace.add("row", row.tolist(), f"input{[*row_at, ':']}: the last dimension ({row.size} values)")
    trace.add("k", count, "constant, from Prepare" if p.k is not None else "read from input 1 at Eval")
    order = np.argsort(_topk_key(row), kind="stable")[:rank + 1]
    trace.add("largest values in order", [row[i].item() for i in order],
              f"the row's {rank + 1} largest values, descending; equal values by the smaller position (TopContainer's "
              "comparator)",
              items=[{"rank": r, "position": int(i), "value": row[i].item()} for r, i in enumerate(order)])
    position = int(order[rank])
    if trace.output == 0:
        value = row[position]
        trace.add("output", value.item(), f"the value of rank {rank}: input{[*row_at, position]} (stored as is)")
        return value.item()
    value = np.asarray(position).astype(p.index_dtype)
    trace.add("output", value.item(), f"the position of rank {rank}, as {p.index_dtype}"
              + (" (C's narrowing cast)" if value.item() != position else ""))
    return value.item()


def explain_one_hot(ctx: OpContext, p: OneHotParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """ONE_HOT output ``index``: the index the element reads (its position without the new axis), truncated to
    int32, compared with the element's coordinate on the new axis: on_value when equal, off_value otherwise."""
    indices = np.asarray(inputs[0])
    at = tuple(int(i) for i in index[:p.axis] + index[p.axis + 1:])
    stored = indices[at]
    trace.add("index", stored.item(), f"indices{list(at)}: the element's position without axis {p.axis}")
    index32 = np.asarray(stored).astype(np.int64).astype(np.int32)  # static_cast<int>: the low 32 bits
    if indices.dtype != np.int32:
        trace.add("as int32", index32.item(), "static_cast<int>: the low 32 bits of the int64 index")
    position = int(index[p.axis])
    hot = bool(index32 == np.int32(position))
    trace.add("equals the coordinate", hot, f"{index32.item()} == {position} (the element's coordinate on axis "
              f"{p.axis}, of depth {np.asarray(inputs[1]).reshape(-1)[0].item() if p.depth is None else p.depth})")
    value = np.asarray(np.reshape(inputs[2] if hot else inputs[3], -1)[0]).astype(np.asarray(inputs[2]).dtype)
    trace.add("output", value.item(), "on_value" if hot else "off_value")
    return value.item()

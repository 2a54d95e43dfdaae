"""DENSIFY: expand a sparse constant into its dense form.

The format (schema ``SparsityParameters``; LiteRT's ``TfLiteSparsity``, read by interpreter_builder.cc
ParseSparsity into :class:`refinterp.model.Sparsity`). A tensor of rank ``r`` is seen as an *expanded* tensor of
``r + b`` dimensions: dimension ``d < r`` is the block number along original dimension ``d`` (its size divided by
the block size when ``block_map`` names it), dimension ``r + k`` the position inside block ``k``, which splits
original dimension ``block_map[k]``. ``traversal_order`` lists the expanded dimensions outermost first, and
``dim_metadata[j]`` says how level ``j`` is stored: DENSE (every index ``0 .. dense_size - 1``) or SPARSE_CSR
(only the indices ``array_indices[array_segments[p] : array_segments[p + 1]]``, where ``p`` is the position of
the enclosing path: ``p * dense_size + i`` below a dense level, the position in ``array_indices`` below a sparse
one). The stored values are the leaves of that walk, in order; every element not reached is zero.

The rule, as LiteRT's reference kernel computes it (tensorflow/lite/kernels/densify.cc, which calls
``FormatConverter<T>::SparseToDense`` of tensorflow/lite/kernels/internal/utils/sparsity_format_converter.cc):

* ``InitSparseToDenseConverter``: walking the original dimensions ``i`` in order, the ``k``-th one equal to
  ``block_map[k]`` gets the block size ``dense_size[traversal_order[r + k]]`` (the dense size of the *level*
  numbered like that expanded dimension, read literally).
* ``Populate``: the leaf reached by the level indices ``idx`` is the original element whose coordinate along
  ``d = traversal_order[j]`` (``j < r``) is ``idx[j]``, then, for each block level ``j >= r``,
  ``orig[block_map[k]] = orig[block_map[k]] * block_size[k] + idx[j]`` with ``k = traversal_order[j] - r``;
  it receives the next stored value. A later leaf that reaches the same element overwrites it.
* Prepare (densify.cc) takes one constant, sparse, non-string input and gives the output the input's type and
  shape; Eval expands float32, float16 and int8 (other types: "Type %d not supported" at invoke).

LiteRT checks none of the indices: a segment or index outside its level, or fewer stored values than leaves,
makes it read or write outside its buffers. refinterp refuses such a tensor at prepare instead
(PrepareError, one line), as well as every set of parameters whose walk LiteRT would not make as written
(levels and traversal order that do not cover the expanded dimensions, block sizes below 1, a ``block_map``
that is not increasing, segments that decrease or do not cover a level). The input being constant, the dense
result is computed once, at prepare; the kernel returns it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from refinterp.errors import PrepareError, shown
from refinterp.model import Sparsity
from refinterp.ops.common import OpContext

#: the element types densify.cc's Eval expands
DENSIFY_TYPES = ("float32", "float16", "int8")


@dataclass(frozen=True)
class DensifyParams:
    """Where each stored value lands; the dense array is made by the kernel, after the interpreter has checked
    the output's size against its memory limits (a sparse file can describe a huge tensor in a few bytes)."""

    shape: tuple[int, ...]
    dtype: np.dtype
    targets: np.ndarray  # flat positions in the dense array, each once
    values: np.ndarray  # the value that lands there (the last one written, as Populate does)


def _block_sizes(sparsity: Sparsity, rank: int, fail: Callable[[str], Exception]) -> list[int]:
    """InitSparseToDenseConverter's ``block_size_``: the dense size of level ``traversal_order[rank + k]``."""
    order, block_map, levels = sparsity.traversal_order, sparsity.block_map, sparsity.dim_metadata
    if list(block_map) != sorted(set(block_map)) or any(not 0 <= d < rank for d in block_map):
        # LiteRT assigns block sizes walking the original dimensions in order: another block_map leaves some at 0
        raise fail(f"block_map {list(block_map)} is not an increasing list of dimensions below the rank {rank}")
    sizes = []
    for k in range(len(block_map)):
        size = levels[order[rank + k]].dense_size
        if size < 1:  # LiteRT divides the dimension by it
            raise fail(f"block {k} has size {size} (the dense size of level {order[rank + k]})")
        sizes.append(size)
    return sizes


def densify(sparsity: Sparsity, shape: tuple[int, ...], values: np.ndarray,
            fail: Callable[[str], Exception]) -> tuple[np.ndarray, np.ndarray]:
    """(flat positions, values) of the dense array of ``shape`` that ``sparsity`` and the stored ``values``
    describe (FormatConverter's SparseToDense; every other element is 0), or ``fail(reason)`` raised for
    parameters LiteRT would read or write outside its buffers with (see the module docstring). The work is
    bounded by the stored values, not by the dense size."""
    rank = len(shape)
    order, block_map, levels = sparsity.traversal_order, sparsity.block_map, sparsity.dim_metadata
    n_levels = rank + len(block_map)
    if len(order) != n_levels or len(levels) != n_levels:
        raise fail(f"sparsity has a traversal order of {len(order)} and {len(levels)} dimension metadata for "
                   f"{n_levels} expanded dimensions (rank {rank} + {len(block_map)} blocks)")
    if sorted(order[:rank]) != list(range(rank)) or sorted(order[rank:]) != list(range(rank, n_levels)):
        # Populate takes the first `rank` levels for original dimensions and the others for blocks
        raise fail(f"traversal_order {list(order)} does not list the {rank} original dimensions first, then "
                   f"the {len(block_map)} block dimensions")
    block_sizes = _block_sizes(sparsity, rank, fail)
    # how far the index of each expanded dimension may go
    extent = list(shape) + block_sizes
    for k, d in enumerate(block_map):
        extent[d] = -(-shape[d] // block_sizes[k])

    # A valid tensor reaches at most every element once (its expanded shape) at every level; repeated indices
    # reach more only as far as there are stored values. More would only grow the walk's arrays. The paths of
    # a level are distinct, so before a sparse level they index its segments, after one they are at most its
    # indices, and after the last level at most the stored values: a level reaching more than the longest of
    # those vectors (the file's own sizes, not the dense size) is refused before its arrays are made.
    stored = max([values.size] + [max(level.array_segments.size, level.array_indices.size)
                                  for level in levels if level.format != "DENSE"])
    most_paths = min(max(math.prod(extent), values.size), stored)

    def check_paths(j: int, count: int) -> None:
        if count > most_paths:
            raise fail(f"level {j} reaches {count} positions, more than the {most_paths} the shape and the stored "
                       "values allow")

    # Walk the levels breadth-first: `position` is each path's p, `index[j]` its index at level j.
    position = np.zeros(1, dtype=np.int64)
    index: list[np.ndarray] = []
    for j, level in enumerate(levels):
        d = order[j]
        if level.format == "DENSE":
            size = level.dense_size
            if not 0 <= size <= extent[d]:
                raise fail(f"dense level {j} has size {size}, outside 0..{extent[d]} (expanded dimension {d})")
            check_paths(j, position.size * size)
            index = [np.repeat(ix, size) for ix in index]
            index.append(np.tile(np.arange(size, dtype=np.int64), position.size))
            position = (np.repeat(position, size) * size + index[-1])
            continue
        segments, indices = level.array_segments, level.array_indices
        assert segments is not None and indices is not None
        if position.size and int(position.max()) + 1 >= segments.size:
            raise fail(f"sparse level {j} has {segments.size} segment bounds for {int(position.max()) + 1} "
                       "enclosing positions")
        if segments.size and (segments[0] < 0 or segments[-1] > indices.size or np.any(np.diff(segments) < 0)):
            raise fail(f"sparse level {j}: array_segments are not non-decreasing within 0..{indices.size} "
                       "(the length of array_indices)")
        bad = (indices < 0) | (indices >= extent[d])
        if bad.any():
            k = int(np.argmax(bad))
            raise fail(f"sparse level {j}: array_indices[{k}] = {int(indices[k])} is outside 0..{extent[d] - 1} "
                       f"(expanded dimension {d})")
        starts, stops = segments[position], segments[position + 1]
        counts = stops - starts
        total = int(counts.sum())
        check_paths(j, total)
        # the positions starts[p] .. stops[p] - 1 of every path p, in order
        offsets = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(total, dtype=np.int64)
        index = [np.repeat(ix, counts) for ix in index]
        index.append(indices[offsets])
        position = offsets

    leaves = position.size
    if leaves > values.size:
        raise fail(f"the sparsity parameters reach {leaves} elements but the tensor stores {values.size} values")
    coordinates = [np.zeros(leaves, dtype=np.int64) for _ in range(rank)]
    for j in range(rank):
        coordinates[order[j]] = index[j]
    for j in range(rank, n_levels):
        k = order[j] - rank
        d = block_map[k]
        coordinates[d] = coordinates[d] * block_sizes[k] + index[j]
    for d in range(rank):
        bad = coordinates[d] >= shape[d]
        if bad.any():
            raise fail(f"a stored value lands at coordinate {int(coordinates[d][np.argmax(bad)])} of dimension {d} "
                       f"of size {shape[d]}")
    if not leaves:
        return np.zeros(0, dtype=np.int64), values[:0]
    flat = np.ravel_multi_index(coordinates, shape) if rank else np.zeros(leaves, dtype=np.int64)
    # Populate writes the leaves in order: where two reach one element, the last one stays
    targets, first = np.unique(flat[::-1], return_index=True)
    return targets, values[:leaves][::-1][first]


def prepare_densify(ctx: OpContext) -> DensifyParams:
    """densify.cc Prepare: one input, one output; the input constant, sparse and not a string; the output
    takes the input's type and shape. Eval's types are checked here too (LiteRT refuses others at invoke)."""
    ctx.check_inputs(1, 1)
    if len(ctx.op.outputs) != 1:
        raise ctx.fail(f"has {len(ctx.op.outputs)} outputs, expected 1")
    x = ctx.require_input(0)
    y = ctx.output(0)
    if x.type_name == "string":
        raise ctx.fail("input is a string tensor")
    if not x.is_constant:
        raise ctx.fail("input is not a constant tensor")
    if x.sparsity is None:
        raise ctx.fail("input is not a sparse tensor")
    if x.type_name not in DENSIFY_TYPES:
        raise ctx.fail(f"input type {x.type_name} is not expanded by LiteRT's DENSIFY "
                       f"({', '.join(DENSIFY_TYPES)})")
    if y.type_name != x.type_name:  # LiteRT retypes the output; refinterp keeps the declared types
        raise ctx.unsupported(f"output is {y.type_name} but the input is {x.type_name} (LiteRT gives the output "
                              "the input's type)")
    assert x.dtype is not None and x.data is not None
    shape = ctx.shape(x)
    raw = x.data
    values = np.frombuffer(raw.tobytes()[:raw.size - raw.size % x.dtype.itemsize], dtype=x.dtype)

    def fail(reason: str) -> PrepareError:
        return ctx.fail(f"input tensor {x.index} {shown(x.name)}: {reason}")

    targets, landed = densify(x.sparsity, shape, values, fail)
    ctx.set_output_shape(0, shape)
    return DensifyParams(tuple(shape), x.dtype, targets, landed)


def densify_spec(p: DensifyParams, x: np.ndarray) -> np.ndarray:
    """The dense array: zeros, and each stored value at its place (LiteRT's Eval expands it on the first
    invoke only; the result is the same every time)."""
    dense = np.zeros(math.prod(p.shape), dtype=p.dtype)
    dense[p.targets] = p.values
    return dense.reshape(p.shape)


# ------------------------------------------------------------------------------------------------
# explain: one output element, step by step (``refinterp explain``; refinterp/ops/trace.py)


def explain_densify(ctx: OpContext, p: DensifyParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """DENSIFY output ``index``: its coordinates in the expanded tensor (block number and position in the block
    along each blocked dimension), the index each traversed level needs, then Populate's walk (module docstring)
    to the stored value that lands there (the last one, when several do), or "not stored": 0. The walk is that of
    :func:`densify`, kept level by level here (the tensor passed :func:`densify`'s checks at prepare), and the
    value is checked against the kernel's dense array."""
    x = ctx.require_input(0)
    sparsity = x.sparsity
    assert sparsity is not None and x.dtype is not None and x.data is not None
    raw = x.data
    stored = np.frombuffer(raw.tobytes()[:raw.size - raw.size % x.dtype.itemsize], dtype=x.dtype)
    shape, rank = p.shape, len(p.shape)
    order, block_map, levels = sparsity.traversal_order, sparsity.block_map, sparsity.dim_metadata
    block_sizes = _block_sizes(sparsity, rank, lambda reason: AssertionError(reason))
    coordinate = [int(v) for v in index]
    trace.add("output element", coordinate, f"of the dense {x.type_name} tensor {list(shape)}; the sparse input "
              f"stores {stored.size} values, traversal order {list(order)}, block map {list(block_map)}")
    expanded = list(coordinate) + [0] * len(block_map)
    for k, d in enumerate(block_map):
        expanded[d], expanded[rank + k] = divmod(coordinate[d], block_sizes[k])
    if block_map:
        trace.add("expanded coordinates", expanded, "; ".join(
            f"dimension {d} in blocks of {block_sizes[k]}: block {expanded[d]}, position {expanded[rank + k]} in "
            f"it (expanded dimension {rank + k})" for k, d in enumerate(block_map)))
    wanted = [expanded[order[j]] for j in range(len(levels))]
    trace.add("level indices", wanted, "the index each level must reach: level j walks expanded dimension "
              "traversal_order[j]")

    # Populate's walk, breadth-first: every path's position and index at each level
    position = np.zeros(1, dtype=np.int64)
    positions: list[np.ndarray] = []
    parents: list[np.ndarray] = []
    indices: list[np.ndarray] = []
    for level in levels:
        parent = np.arange(position.size, dtype=np.int64)
        if level.format == "DENSE":
            size = level.dense_size
            parent = np.repeat(parent, size)
            level_index = np.tile(np.arange(size, dtype=np.int64), position.size)
            position = np.repeat(position, size) * size + level_index
        else:
            segments, array_indices = level.array_segments, level.array_indices
            assert segments is not None and array_indices is not None
            starts, stops = segments[position], segments[position + 1]
            counts = stops - starts
            parent = np.repeat(parent, counts)
            position = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(int(counts.sum()),
                                                                                           dtype=np.int64)
            level_index = array_indices[position]
        parents.append(parent)
        indices.append(level_index)
        positions.append(position)
    leaves = position.size
    # the paths whose indices are the element's, level by level (a leaf's path back through its parents)
    reaching = np.ones(leaves, dtype=bool)
    path = np.arange(leaves, dtype=np.int64)
    for j in range(len(levels) - 1, -1, -1):
        reaching &= indices[j][path] == wanted[j]
        path = parents[j][path]
    found = np.flatnonzero(reaching)
    flat = int(np.ravel_multi_index(coordinate, shape)) if rank else 0
    at = np.searchsorted(p.targets, flat)
    dense = p.values[at] if at < p.targets.size and p.targets[at] == flat else p.dtype.type(0)
    if not found.size:
        value = p.dtype.type(0)
        trace.add("not stored", value, f"none of the walk's {leaves} leaves has these level indices: the "
                  "element is 0 (SparseToDense fills the dense buffer with zeros first)")
    else:
        leaf = int(found[-1])
        steps, node = [], leaf
        for j in range(len(levels) - 1, -1, -1):
            steps.append((j, node))
            node = int(parents[j][node])
        items = []
        for j, node in reversed(steps):
            level = levels[j]
            item: dict = {"level": j, "expanded dimension": int(order[j]), "format": level.format,
                          "index": int(indices[j][node]), "position": int(positions[j][node])}
            if level.format == "DENSE":
                item["rule"] = f"dense: every index 0..{level.dense_size - 1}; position = parent * " \
                               f"{level.dense_size} + index"
            else:
                before = int(positions[j - 1][parents[j][node]]) if j else 0
                segments = level.array_segments
                assert segments is not None
                item["rule"] = f"sparse: parent position {before}, array_indices[{int(segments[before])}:" \
                               f"{int(segments[before + 1])}] (array_segments[{before}], [{before + 1}]) lists " \
                               f"the indices; this one is array_indices[{int(positions[j][node])}]"
            items.append(item)
        trace.add("path", [item["index"] for item in items], "Populate's walk to the element, level by level",
                  items=items)
        value = stored[leaf]
        trace.add("stored value", value, f"the walk's leaf number {leaf} (Populate takes the stored values in "
                  f"order): values[{leaf}]" + (f"; {found.size} leaves reach this element, the last one written "
                                               "stays" if found.size > 1 else ""))
    if dense != value and not (dense != dense and value != value):
        raise AssertionError(f"traced DENSIFY element {value} != the kernel's {dense}")
    trace.approximates_stored(value, x.quantization)
    return value

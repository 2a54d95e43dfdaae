"""Random single-operator cases for DENSIFY (issue 11): float32, float16 and int8, LiteRT only (TFLM has no
DENSIFY).

Drawn: a dense tensor of rank 0 to 4 (dimensions 1 to 6, times a block size where blocked), a share of zeros
from none to nearly all (exact zeros and, for floats, -0.0, which the converter drops like 0.0), then its
sparse form as TFLite's converter writes it (refinterp.modelbuilder.sparsify, FormatConverter::DenseToSparse):
up to two blocked dimensions (block sizes 1 to 4, each block level DENSE, as LiteRT requires), the original
dimensions traversed in any order and the block dimensions after them in either order, each original level
DENSE or SPARSE_CSR, each index vector int32, uint16 or uint8 (when its values fit), and now and then explicit
zeros kept in sparse levels. Sometimes the innermost sparse level lists its indices out of order within a
segment (the values follow them), or repeats one (LiteRT writes both; the later value stays). int8 tensors
carry a per-tensor or per-channel quantization now and then (DENSIFY only moves the values).

Now and then the tensor is all zero with its original levels sparse: nothing is stored, the buffer is empty
(LiteRT 2.3.0 still reads it as a constant). Probes: a sparse model input (not a constant); a sparse constant
of a type LiteRT's DENSIFY does not expand (uint8, int16, int32: LiteRT refuses at invoke, refinterp at
prepare).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from refinterp.modelbuilder import TensorSpec, single_op_model, sparsify
from refinterp.tools.conformance.generators.core import (
    Case,
    Generator,
    case,
    choice,
    float_values,
    int_values,
    log_uniform,
)

INDEX_TYPES = ("int32", "uint16", "uint8")
INDEX_LIMITS = {"int32": 2**31 - 1, "uint16": 65535, "uint8": 255}


def _values(rng: np.random.Generator, shape: tuple[int, ...], dtype: str, zero_share: float) -> np.ndarray:
    if dtype == "int8":
        values = int_values(rng, shape, "int8")
    else:
        values = float_values(rng, shape, spread=float(rng.uniform(0.1, 100)), dtype=dtype)
    zeros = rng.random(shape) < zero_share
    values[zeros] = 0
    if dtype != "int8":  # a few -0.0: the converter drops them like 0.0; kept as explicit zeros they stay
        negative = rng.random(shape) < 0.05
        values[negative] = -0.0
    return np.asarray(values)


def _index_types(rng: np.random.Generator, sparsity: Any) -> None:
    """Each sparse level's segments and indices get a vector type their values fit."""
    for dim in sparsity.dim_metadata:
        if dim.format != "SPARSE_CSR":
            continue
        kinds = []
        for values in (dim.segments, dim.indices):
            largest = max(values) if len(values) else 0
            kinds.append(choice(rng, [k for k in INDEX_TYPES if largest <= INDEX_LIMITS[k]]))
        dim.segments_type, dim.indices_type = kinds


def _shuffle_innermost(rng: np.random.Generator, sparsity: Any, values: np.ndarray, duplicate: bool) -> bool:
    """The innermost level, when sparse, lists its indices (and their values) in another order within each
    segment, or (``duplicate``) repeats an index in one; False when the innermost level is dense."""
    if not sparsity.dim_metadata:
        return False
    dim = sparsity.dim_metadata[-1]
    if dim.format != "SPARSE_CSR" or len(dim.indices) < 2:
        return False
    indices = list(dim.indices)
    changed = False
    for start, stop in zip(dim.segments[:-1], dim.segments[1:]):
        if stop - start < 2:
            continue
        if duplicate:
            k = int(rng.integers(start, stop - 1))
            indices[k + 1] = indices[k]
            dim.indices = indices
            return True
        order = rng.permutation(stop - start) + start
        values[start:stop] = values[order]
        indices[start:stop] = [indices[i] for i in order]
        changed = True
    dim.indices = indices
    return changed


def gen_densify(rng: np.random.Generator, dtype: str) -> Case:
    """DENSIFY of a sparse constant; see the module docstring for what is drawn."""
    rank = 0 if rng.random() < 0.04 else int(rng.integers(1, 5))
    base = [int(d) for d in rng.integers(1, 7, rank)]
    block_map: list[int] = []
    block_sizes: list[int] = []
    if rank and rng.random() < 0.4:
        n_blocks = int(rng.integers(1, min(rank, 2) + 1))
        block_map = sorted(int(d) for d in rng.choice(rank, n_blocks, replace=False))
        block_sizes = [int(rng.integers(1, 5)) for _ in block_map]
    shape = list(base)
    for d, size in zip(block_map, block_sizes):
        shape[d] = base[d] * size
    shape_t = tuple(shape)
    zero_share = float(choice(rng, (0.0, rng.uniform(0, 1), rng.uniform(0.5, 1), 0.97)))
    params: dict[str, Any] = {"shape": shape_t, "dtype": dtype, "zeros": round(zero_share, 2)}
    probe = None
    edges = []
    value_dtype = dtype
    if rng.random() < 0.03:
        value_dtype = choice(rng, ("uint8", "int16", "int32"))
        probe = f"a sparse {value_dtype} constant (DENSIFY expands float32, float16, int8)"
    if value_dtype in ("uint8", "int16", "int32"):
        dense = int_values(rng, shape_t, value_dtype)
        dense[rng.random(shape_t) < zero_share] = 0
    else:
        dense = _values(rng, shape_t, dtype, zero_share)
    originals = list(range(rank))
    if rng.random() < 0.5:
        originals = [int(d) for d in rng.permutation(rank)]
    blocks = [rank + k for k in range(len(block_map))]
    if len(blocks) == 2 and rng.random() < 0.5:
        blocks.reverse()
    traversal = originals + blocks
    formats = [choice(rng, ("DENSE", "SPARSE_CSR")) for _ in originals] + ["DENSE"] * len(blocks)
    if rank and rng.random() < 0.3:
        formats[rank - 1] = "SPARSE_CSR"  # the face detection models' form: CSR innermost original level
    keep_zero = float(choice(rng, (0.0, 0.0, 0.1, 0.5)))
    if rank and rng.random() < 0.04:
        dense = np.zeros(shape_t, dense.dtype)
        formats = ["SPARSE_CSR" if j < rank else f for j, f in enumerate(formats)]
        if not blocks:
            formats[-1] = "SPARSE_CSR"
        keep_zero = 0.0
    values, sparsity = sparsify(dense, traversal, block_map, block_sizes, formats, keep_zero=keep_zero, rng=rng)
    _index_types(rng, sparsity)
    draw = rng.random()
    if draw < 0.15 and _shuffle_innermost(rng, sparsity, values, duplicate=False):
        edges.append("innermost indices out of order")
    elif draw > 0.93 and _shuffle_innermost(rng, sparsity, values, duplicate=True):
        edges.append("an innermost index repeated (the later value stays)")
    if values.size == 0:
        edges.append("nothing stored (an empty buffer)")
    params.update(traversal=traversal, block_map=block_map, block_sizes=block_sizes, formats=formats,
                  index_types=[(d.segments_type, d.indices_type) for d in sparsity.dim_metadata
                               if d.format == "SPARSE_CSR"],
                  stored=int(values.size), keep_zero=keep_zero)
    scale: Any = None
    zero_point: Any = None
    axis = 0
    if dtype == "int8" and rng.random() < 0.5:
        if rank and rng.random() < 0.5:
            axis = int(rng.integers(rank))
            scale = [log_uniform(rng, 1e-3, 1.0) for _ in range(shape_t[axis])]
            zero_point = [0] * shape_t[axis]
        else:
            scale, zero_point = log_uniform(rng, 1e-3, 1.0), int(rng.integers(-128, 128))
        params["quantized"] = "per-channel" if isinstance(scale, list) else "per-tensor"
    inputs: list[np.ndarray] = []
    constant = True
    if probe is None and rng.random() < 0.03:
        constant = False
        probe = "the sparse tensor is a model input, not a constant"
        inputs.append(np.asarray(dense, dense.dtype))
    x = TensorSpec(shape_t, value_dtype, scale, zero_point, axis, data=values if constant else None,
                   sparsity=sparsity)
    y = TensorSpec(shape_t, value_dtype, scale, zero_point, axis)
    model = single_op_model("DENSIFY", [x], [y])
    return case("DENSIFY", dtype, model, inputs, params, probe=probe, edge="; ".join(edges) or None)


def _table() -> dict[tuple[str, str], Generator]:
    return {("DENSIFY", dtype): (lambda rng, dtype=dtype: gen_densify(rng, dtype))
            for dtype in ("float32", "float16", "int8")}


GENERATORS: dict[tuple[str, str], Generator] = _table()
#: TFLite Micro has no DENSIFY
TFLM_KINDS: frozenset[tuple[str, str]] = frozenset()

__all__ = ["GENERATORS", "TFLM_KINDS", "Case"]

"""Random single-operator cases for the math kinds core.py does not draw yet (issue 11).

SUM, REDUCE_MIN, REDUCE_PROD and REDUCE_MAX int32/int64, CUMSUM, L2_POOL_2D and LOG_SOFTMAX int8, written
against the harness's Case type and drawing helpers. :data:`MATH_GENERATORS` maps each kind to its
generator, to be merged into ``opcases.GENERATORS`` (``GENERATORS.update(MATH_GENERATORS)``), and
:data:`MATH_TFLM_KINDS` names the kinds also compared against TFLite Micro.

Not drawn (LiteRT 2.3.0's BUILTIN_REF resolver has no kernel, so LiteRT cannot be the oracle): CEIL, ROUND
and ELU; their rules were checked against LiteRT's builtin resolver and TFLM instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from refinterp.modelbuilder import TensorSpec, single_op_model
from refinterp.tools.conformance.generators.core import (
    ACTIVATIONS,
    INT_RANGES,
    TFLM_AS_LITERT,
    TFLM_NOT_COMPARED,
    TFLM_UNDEFINED,
    Case,
    Generator,
    _activation_shape,
    case,
    declared_out_hw,
    f32,
    float_values,
    int_values,
    join,
    log_uniform,
    window_edge,
    window_geometry,
    window_options,
    zero_point,
)

FLOAT_EDGES = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 3e38, -3e38], np.float32)


def _with_edges(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """A few signed zeros, NaN, infinities and huge values among float values."""
    count = min(x.size, int(rng.integers(0, 4)))
    if count:
        x.reshape(-1)[rng.choice(x.size, count, replace=False)] = rng.choice(FLOAT_EDGES, count)
    return x


def _axes_case(rng: np.random.Generator, empty: bool = True) -> tuple[tuple[int, ...], list[int], list[str]]:
    """A shape (now and then with a zero dimension, unless not ``empty``, or one large row) and axes (negative,
    repeated; 2% out of range, a probe)."""
    rank = int(rng.integers(1, 5))
    shape = tuple(int(d) for d in rng.integers(1, 7, rank))
    if rng.random() < 0.1:
        shape, rank = (1, int(rng.integers(10, 40)), int(rng.integers(10, 40)), int(rng.integers(1, 4))), 4
    if rng.random() < 0.05 and empty:
        shape = tuple(0 if i == int(rng.integers(rank)) else d for i, d in enumerate(shape))
    axes = [int(a) for a in rng.choice(rank, size=int(rng.integers(1, rank + 1)), replace=False)]
    axes = [a - rank if rng.random() < 0.3 else a for a in axes]
    if rng.random() < 0.1:
        axes.append(axes[0] + (rank if axes[0] < 0 else -rank))  # the same axis twice
    probes = []
    if rng.random() < 0.02:
        axes.append(rank + int(rng.integers(0, 2)))
        probes.append("axis out of range")
    return shape, axes, probes


def gen_reduction(rng: np.random.Generator, op: str, dtype: str) -> Case:
    """SUM, REDUCE_MIN, REDUCE_PROD, REDUCE_MAX over any axes (every axis too: LiteRT's ReduceAllDims starts
    from the first element), keep_dims or not, empty inputs. 8-bit SUM: equal input and output quantization
    (a raw wrapping sum) 20% of the time, else independent (LiteRT reads int8 bytes as uint8 there; TFLM does
    not: profile tflm). REDUCE_PROD int8: output scales near s_in**N so that products stay in range.
    REDUCE_MIN/MAX 8-bit probe: output quantization != input's. float32: NaN, infinities, signed zeros."""
    # quantized REDUCE_PROD of an empty input: LiteRT leaves the output unwritten (refinterp refuses it)
    shape, axes, probes = _axes_case(rng, empty=not (op == "REDUCE_PROD" and dtype == "int8"))
    rank = len(shape)
    keep_dims = bool(rng.random() < 0.5)
    resolved = {a % rank for a in axes if -rank <= a < rank}
    output_shape = tuple(1 if d in resolved else n for d, n in enumerate(shape)) if keep_dims else \
        tuple(n for d, n in enumerate(shape) if d not in resolved)
    params: dict[str, Any] = {"shape": shape, "axes": axes, "keep_dims": keep_dims}
    axis_spec = TensorSpec((len(axes),), "int32", data=np.array(axes, dtype=np.int32))
    tflm = TFLM_UNDEFINED if probes else (TFLM_NOT_COMPARED if 0 in shape else TFLM_AS_LITERT)
    reduced = int(np.prod([shape[a] for a in resolved])) if resolved else 1
    if dtype == "float32":
        x = _with_edges(rng, float_values(rng, shape, spread=float(rng.uniform(0.5, 50))))
        if op == "REDUCE_PROD":
            x = (np.sign(x) * np.abs(x) ** (1.0 / max(reduced, 1))).astype(np.float32)
        q_in: tuple = (None, None)
        q_out: tuple = (None, None)
    elif dtype in ("int32", "int64"):
        low, high = (-5, 5) if op == "REDUCE_PROD" else (-1000, 1000)
        x = rng.integers(low, high + 1, size=shape).astype(dtype)
        if rng.random() < 0.2:
            x, params["values"] = int_values(rng, shape, dtype), "full range (wraps)"
        q_in = q_out = (None, None)
    else:
        q_in = (log_uniform(rng, 1e-3, 1.0), zero_point(rng, dtype))
        x = int_values(rng, shape, dtype)
        if op in ("REDUCE_MIN", "REDUCE_MAX"):
            q_out = q_in
            if rng.random() < 0.05:
                q_out = (log_uniform(rng, 1e-3, 1.0), zero_point(rng, dtype))
                probes.append("output quantization differs from the input's")
        elif op == "SUM" and rng.random() < 0.2:
            q_out, params["scales"] = q_in, "same"
        elif op == "REDUCE_PROD":
            q_in = (log_uniform(rng, 1e-2, 0.2), q_in[1])
            q_out = (f32(q_in[0] * 100 * 2.0 ** rng.uniform(-3, 3) * max(reduced, 1) ** 0.5), zero_point(rng, dtype))
        else:
            q_out = (f32(q_in[0] * 2.0 ** rng.uniform(-3, 5)), zero_point(rng, dtype))
        params.update(input_q=q_in, output_q=q_out)
    model = single_op_model(op, [TensorSpec(shape, dtype, *q_in), axis_spec],
                            [TensorSpec(output_shape, dtype, *q_out)], {"keep_dims": keep_dims})
    return case(op, dtype, model, [x], params, join(*probes), tflm=tflm)


def gen_cumsum(rng: np.random.Generator, dtype: str) -> Case:
    """CUMSUM along any axis (negative too), exclusive and reverse in every combination; int32 and int64
    wrap. Probe: an axis out of range."""
    rank = int(rng.integers(1, 5))
    shape = tuple(int(d) for d in rng.integers(1, 7, rank))
    axis = int(rng.integers(-rank, rank))
    probe = None
    if rng.random() < 0.03:
        axis, probe = rank + int(rng.integers(0, 2)), "axis out of range"
    options = {"exclusive": bool(rng.random() < 0.5), "reverse": bool(rng.random() < 0.5)}
    if dtype == "float32":
        x = _with_edges(rng, float_values(rng, shape, spread=float(rng.uniform(0.5, 50))))
    else:
        x = rng.integers(-1000, 1001, size=shape).astype(dtype) if rng.random() < 0.8 else int_values(rng, shape,
                                                                                                   dtype)
    model = single_op_model("CUMSUM", [TensorSpec(shape, dtype), TensorSpec((), "int32", data=np.array(axis,
                                                                                                      np.int32))],
                            [TensorSpec(shape, dtype)], options)
    return case("CUMSUM", dtype, model, [x], {"shape": shape, "axis": axis, **options}, probe,
                tflm=TFLM_UNDEFINED if probe else TFLM_AS_LITERT)


def gen_l2_pool(rng: np.random.Generator, dtype: str) -> Case:
    """L2_POOL_2D float32: both paddings, windows larger than the input (an empty output), every activation,
    NaN and infinities among the values."""
    g = window_geometry(rng, dilate=False, empty_rate=0.05, large_kernel_rate=0.1)
    batch, channels = int(rng.choice((1, 1, 2))), int(rng.integers(1, 6))
    activation = str(rng.choice(ACTIVATIONS))
    input_shape = (batch, g["height"], g["width"], channels)
    output_shape = (batch, *declared_out_hw(g), channels)
    edge = window_edge(g)
    model = single_op_model("L2_POOL_2D", [TensorSpec(input_shape, dtype)], [TensorSpec(output_shape, dtype)],
                            window_options(g, activation, dilation=False))
    x = _with_edges(rng, float_values(rng, input_shape, spread=float(rng.uniform(0.5, 8))))
    params = {**g, "batch": batch, "channels": channels, "activation": activation}
    del params["dilation"]
    return case("L2_POOL_2D", dtype, model, [x], params, edge=edge,
                tflm=TFLM_NOT_COMPARED if edge else TFLM_AS_LITERT)


def gen_log_softmax_int8(rng: np.random.Generator, dtype: str) -> Case:
    """LOG_SOFTMAX int8: output (16/256, 127) as LiteRT requires (probes: zero point 0, scale 1/256), input
    scales from 1e-4 to 2, narrow rows (many elements near the maximum) now and then."""
    shape = _activation_shape(rng)
    input_q = (log_uniform(rng, 1e-4, 2.0), zero_point(rng, "int8"))
    output_q: tuple = (16.0 / 256, 127)
    probe = None
    draw = rng.random()
    if draw < 0.03:
        output_q, probe = (16.0 / 256, 0), "output zero point 0"
    elif draw < 0.06:
        output_q, probe = (1.0 / 256, 127), "output scale 1/256"
    x = int_values(rng, shape, "int8")
    params: dict[str, Any] = {"shape": shape, "input_q": input_q, "output_q": output_q}
    if rng.random() < 0.3:
        x, params["values"] = rng.integers(100, 128, size=shape).astype(np.int8), "narrow"
    model = single_op_model("LOG_SOFTMAX", [TensorSpec(shape, "int8", *input_q)],
                            [TensorSpec(shape, "int8", *output_q)])
    return case("LOG_SOFTMAX", dtype, model, [x], params, probe)


def _math_table() -> dict[tuple[str, str], Generator]:
    table: dict[tuple[str, str], Generator] = {}

    def add(op: str, kinds: tuple[str, ...], make) -> None:
        for kind in kinds:
            table[(op, kind)] = (lambda k: lambda rng: make(rng, k))(kind)

    for op, kinds in {"SUM": ("int8", "uint8", "int32", "int64", "float32"),
                      "REDUCE_MIN": ("int8", "uint8", "int32", "int64", "float32"),
                      "REDUCE_PROD": ("int8", "int32", "int64", "float32"),
                      "REDUCE_MAX": ("int32", "int64")}.items():
        add(op, kinds, lambda rng, k, op=op: gen_reduction(rng, op, k))
    add("CUMSUM", ("int32", "int64", "float32"), gen_cumsum)
    add("L2_POOL_2D", ("float32",), gen_l2_pool)
    add("LOG_SOFTMAX", ("int8",), gen_log_softmax_int8)
    return table


MATH_GENERATORS: dict[tuple[str, str], Generator] = _math_table()

# Also compared against TFLite Micro (refinterp's profile tflm): SUM int8 is where the runtimes differ by design
# (LiteRT's reference reads the bytes as uint8); the others share TFLM's kernels.
MATH_TFLM_KINDS = frozenset({("SUM", "int8"), ("SUM", "float32"), ("REDUCE_MIN", "int8"), ("CUMSUM", "float32"),
                             ("L2_POOL_2D", "float32"), ("LOG_SOFTMAX", "int8")})

__all__ = ["INT_RANGES", "MATH_GENERATORS", "MATH_TFLM_KINDS"]

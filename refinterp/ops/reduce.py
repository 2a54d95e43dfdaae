"""MEAN, SUM, REDUCE_MAX, REDUCE_MIN, REDUCE_PROD, REDUCE_ALL, REDUCE_ANY (any axes, keep_dims or not) and CUMSUM.

Axes come from the constant int32 input 1: each in [-rank, rank), negative values count from the end,
duplicates are ignored (``ResolveAxis``). The output keeps the reduced dimensions as 1 with ``keep_dims``,
drops them otherwise. For each output element the reduced elements are visited in the input's row-major order
(``ReduceSumImpl`` / ``ReduceGeneric`` walk the input once and add into the output element they map to).

MEAN int8/uint8/int16 (``reference_ops::QuantizedMeanOrSum``: LiteRT BUILTIN_REF and TFLM, any axes; int16:
LiteRT requires zero points 0, TFLM checks nothing and applies them; the same rule otherwise)::

    M, shift = QuantizeMultiplier(f64(s_in) / f64(s_out))                        (Prepare)
    k  = min(floor(log2 N), 32, 31 + shift)                                      (N = reduced elements)
    M' = int32((int64(M) << k) / N)      (truncating)      shift' = shift - k
    S  = int32 sum of the raw stored values over the reduced elements
    y  = clamp(MultiplyByQuantizedMultiplier(int32(S - zp_in * N), M', shift') + zp_out)

MEAN float32 (``reference_ops::Mean``): ``sum`` starts at 0.0f and adds the reduced elements in row-major order
in float32; the output is ``sum / (float)N``.

REDUCE_MAX: the maximum, starting from the type's lowest value (``numeric_limits::lowest``) and replacing the
running value only when ``in > current`` (so of -0.0 and +0.0 the first one seen is kept). Quantized values are
copied, not rescaled: LiteRT requires the input and output scale and zero point to be equal.
An input with no elements gives 0 for int8 MEAN, NaN for float MEAN, ``lowest`` for REDUCE_MAX.

REDUCE_MIN: the same with ``highest`` and ``in < current``.

SUM (``reduce.cc`` EvalSum -> ``reference_ops::QuantizedMeanOrSum`` with compute_sum) int8/uint8, equal input
and output quantization included (measured: no raw-sum shortcut; int16 refused: see ``_prepare_reduce``)::

    M, shift = QuantizeMultiplier(f64(s_in) / f64(s_out))                        (Prepare)
    S  = int32 sum of the stored bytes as uint8 over the reduced elements (int8 too: see ``sum_spec``)
    y  = clamp(MultiplyByQuantizedMultiplier(int32(S - zp_in * N), M, shift) + zp_out, 0, 255)

float32, int32/int64: ``0`` plus the reduced elements in row-major order, in the type
(wrapping). SUM, REDUCE_MAX, REDUCE_MIN and REDUCE_PROD that reduce every axis (``ReduceAllDims``) start from
the first element instead of the initial value (so a float SUM of one -0.0 is -0.0, and a NaN first element
survives REDUCE_MAX/REDUCE_MIN).

REDUCE_PROD int8 and int16 (``reference_ops::QuantizedReduceProd<T>``; int16: zero points 0, as every int16
reduction's Prepare requires): each multiplication is rescaled so that the product stays in int32::

    M, shift = QuantizeMultiplier(f64(s_in) / pow(f64(s_out), 1.0 / N))           (Prepare; N = in / out size)
    p = q_0 - zp_in;  p = MBQM64(int64(p) * (q_i - zp_in), M, shift) for i = 1 .. N-1
    y = clamp(int32(MBQM64(p, M, shift) + zp_out))

where ``p`` is int32 (``temp_prod``), so every MBQM64 result wraps to int32, and the zero-point addition is
int32 arithmetic that wraps too (a product that lands on -2**31 plus a negative zero point becomes a large
positive value and saturates at qmax, as LiteRT computes with an input scale of 11,064). MBQM64 is the
int64 overload of MultiplyByQuantizedMultiplier (one rounding:
``(x * ((M + 2**15) >> 16) + 2**(14 - shift)) >> (15 - shift)``). float32/int32/int64: the product in
row-major order starting from the first element (1 for an empty reduction); integers wrap.

CUMSUM (``cumsum.cc``, ``reference_ops::CumSum``) float32/int32/int64: along one axis (constant int32 input
1), a running sum in the type (``exclusive``: the sum before the element; ``reverse``: from the end).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from refinterp.errors import EvalError
from refinterp.ops.common import MAX_MULTIPLIER_SHIFT, OpContext, per_tensor_qparams
from refinterp.quant import (
    DTYPE_RANGES,
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_int64,
    quantize_multiplier,
    wrap_int32,
)

REDUCE_TYPES = {
    "MEAN": ("int8", "uint8", "int16", "float32"),
    "REDUCE_MAX": ("int8", "uint8", "int16", "int32", "int64", "float32"),
    "REDUCE_MIN": ("int8", "uint8", "int16", "int32", "int64", "float32"),
    "SUM": ("int8", "uint8", "int32", "int64", "float32"),
    "REDUCE_PROD": ("int8", "int16", "int32", "int64", "float32"),
}
# dtypes TFLite Micro's kernels take (profile "tflm"; measured with the pinned tflite-micro; no REDUCE_PROD)
TFLM_TYPES = {
    "MEAN": ("int8", "uint8", "int16", "float32"), "REDUCE_MAX": ("int8", "float32"),
    "REDUCE_MIN": ("int8", "float32"), "SUM": ("int8", "float32"), "REDUCE_PROD": (), "CUMSUM": ("float32",),
}
REDUCE_PROD_MAX_SHIFT = 14  # MBQM64 rounds with 1 << (14 - shift): a larger shift is undefined in C++


def type_lowest(dtype: np.dtype) -> float | int:
    """``std::numeric_limits<T>::lowest()``: where a running maximum starts (-FLT_MAX for float, not -inf)."""
    dtype = np.dtype(dtype)
    return float(np.finfo(dtype).min) if dtype.kind == "f" else int(np.iinfo(dtype).min)


def type_highest(dtype: np.dtype) -> float | int:
    """``std::numeric_limits<T>::max()``: where a running minimum starts."""
    dtype = np.dtype(dtype)
    return float(np.finfo(dtype).max) if dtype.kind == "f" else int(np.iinfo(dtype).max)


@dataclass(frozen=True)
class ReduceParams:
    op: str
    axes: tuple[int, ...]  # resolved: sorted, unique, non-negative
    keep_dims: bool
    output_shape: tuple[int, ...]
    reduced_count: int
    quantized: bool
    input_zero_point: int = 0
    output_zero_point: int = 0
    output_multiplier: int = 0  # MEAN: M' (already divided by N); SUM: M; REDUCE_PROD: M per multiplication
    output_shift: int = 0  # MEAN: shift'
    qmin: int = 0
    qmax: int = 0
    reduces_all: bool = False  # every axis reduced: LiteRT's ReduceAllDims starts from the first element
    bytes_as_uint8: bool = False  # SUM int8 under litert-ref: the bytes read as uint8 (see sum_spec)


def resolve_axes(shape: tuple[int, ...], values: np.ndarray, keep_dims: bool,
                 fail: Callable[[str], Exception]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """reduce.cc ResolveAxis: every axis value in [-rank, rank) (the first one outside is the error), negative
    ones counted from the end, duplicates ignored; the sorted axes and the output shape (ResizeOutputTensor: a
    reduced dimension is 1 with keep_dims, else dropped). Vectorized: an axis list may hold millions of values."""
    rank = len(shape)
    values = np.asarray(values).reshape(-1).astype(np.int64)
    outside = np.flatnonzero((values < -rank) | (values >= rank))
    if outside.size:
        raise fail(f"axis {int(values[outside[0]])} is out of range for a rank-{rank} input")
    reduced = np.zeros(rank, dtype=bool)
    reduced[np.where(values < 0, values + rank, values)] = True
    axes = tuple(int(d) for d in np.flatnonzero(reduced))
    if keep_dims:
        return axes, tuple(1 if reduced[d] else n for d, n in enumerate(shape))
    return axes, tuple(n for d, n in enumerate(shape) if not reduced[d])


def _prepare_reduce(ctx: OpContext, op: str) -> ReduceParams:
    ctx.check_inputs(2, 2)
    x, axis_tensor, y = ctx.require_input(0), ctx.require_input(1), ctx.output(0)
    if x.type_name == "int16" and op == "SUM":
        # measured: ai-edge-litert 2.3.0's reference EvalSum runs its uint8 rule over the int16 buffer's first
        # bytes and leaves the outputs' high bytes unwritten (255 where the int16 sum is 9700): nothing to copy
        raise ctx.unsupported("SUM on int16 (LiteRT 2.3.0's reference kernel reads int16 tensors as uint8 bytes)")
    ctx.check_dtype(x, REDUCE_TYPES[op], "input")
    if ctx.profile == "tflm" and x.type_name not in TFLM_TYPES[op]:
        raise ctx.unsupported(f"{op} on {x.type_name} under profile tflm (TFLite Micro has no such kernel)")
    ctx.check_same_type(x, y)
    if axis_tensor.type_name != "int32":
        raise ctx.fail(f"axis tensor must be int32, got {axis_tensor.type_name}")
    axis_values = axis_tensor.data
    if axis_values is None:
        if math.prod(ctx.shape(axis_tensor)) != 0:
            raise ctx.unsupported("a non-constant axis tensor (dynamic output shape)")
        axis_values = np.zeros(0, dtype=np.int32)  # an empty axis list has no buffer to hold
    x_shape = ctx.shape(x)
    keep_dims = bool(ctx.options.get("keep_dims", False))
    axes, output_shape = resolve_axes(x_shape, axis_values, keep_dims, ctx.fail)
    reduced_count = math.prod(x_shape[d] for d in axes)
    if op == "REDUCE_PROD" and x.type_name not in ("int8", "int16") and x.quantization is not None:
        # reduce.cc PrepareProd refuses quantization parameters on any other type (measured, float32:
        # "Unsupported quantized data type: 1")
        raise ctx.fail(f"{x.type_name} input with quantization parameters")
    common = dict(op=op, axes=tuple(axes), keep_dims=keep_dims, output_shape=output_shape,
                  # LiteRT's ReduceAllDims shortcut; TFLM always starts from the initial value (a SUM of -0.0
                  # is +0.0 there)
                  reduced_count=reduced_count, reduces_all=len(axes) == len(x_shape) and ctx.profile != "tflm")
    if x.type_name not in ("int8", "uint8", "int16"):
        return ReduceParams(**common, quantized=False)

    input_scale, input_zero_point = per_tensor_qparams(ctx, x, "input")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    if x.type_name == "int16" and ctx.profile != "tflm" and (input_zero_point != 0 or output_zero_point != 0):
        # PrepareSimple (every reduction) and PrepareMeanOrSum; TFLM checks nothing and applies the zero points
        raise ctx.fail(f"int16 zero points must be 0, got input {input_zero_point}, output {output_zero_point}")
    qmin, qmax = DTYPE_RANGES[x.dtype]
    if op in ("REDUCE_MAX", "REDUCE_MIN"):
        # EvalType: TF_LITE_ENSURE_EQ on the float scale and on the zero point (TFLM checks the same).
        if np.float32(input_scale) != np.float32(output_scale) or input_zero_point != output_zero_point:
            raise ctx.fail(f"input and output quantization must be equal for {op}")
        return ReduceParams(**common, quantized=True, input_zero_point=input_zero_point,
                            output_zero_point=output_zero_point, qmin=qmin, qmax=qmax)
    if op == "REDUCE_PROD":
        multiplier, shift = 0, 0
        input_size = math.prod(x_shape)
        output_size = math.prod(output_shape)
        if input_size == 0:
            raise ctx.unsupported("quantized REDUCE_PROD of an empty input: LiteRT leaves the output unwritten "
                                  "(its values are whatever the buffer held)")
        if output_size != 0:
            scaling = float(input_scale) / math.pow(float(output_scale), 1.0 / (input_size // output_size))
            multiplier, shift = quantize_multiplier(scaling)
            if shift > REDUCE_PROD_MAX_SHIFT:
                raise ctx.unsupported(f"scaling {scaling:g} needs a left shift of {shift}: LiteRT's int64 "
                                      f"MultiplyByQuantizedMultiplier then shifts by a negative amount")
        return ReduceParams(**common, quantized=True, input_zero_point=input_zero_point,
                            output_zero_point=output_zero_point, output_multiplier=multiplier, output_shift=shift,
                            qmin=qmin, qmax=qmax)

    multiplier, shift = quantize_multiplier(float(input_scale) / float(output_scale))
    if op == "MEAN" and reduced_count > 0:
        # Fold 1/N into the multiplier (QuantizedMeanOrSum): as many bits as N has, within MBQM's range.
        # QuantizeMultiplier never returns shift < -31, so k >= 0; the quotient is < 2**31 since 2**k <= N.
        k = min(reduced_count.bit_length() - 1, 32, 31 + shift)
        multiplier = (multiplier << k) // reduced_count
        shift -= k
    if shift > MAX_MULTIPLIER_SHIFT:  # MultiplyByQuantizedMultiplier would shift an int32 by 31 bits or more
        raise ctx.fail(f"input/output scale ratio {float(input_scale) / float(output_scale):.6g} needs a left "
                       f"shift of {shift} bits: undefined in TFLite's int32 arithmetic")
    return ReduceParams(**common, quantized=True, input_zero_point=input_zero_point,
                        output_zero_point=output_zero_point, output_multiplier=multiplier, output_shift=shift,
                        qmin=qmin, qmax=qmax,
                        bytes_as_uint8=op == "SUM" and x.type_name != "int16" and ctx.profile != "tflm")


def prepare_mean(ctx: OpContext) -> ReduceParams:
    return _prepare_reduce(ctx, "MEAN")


def prepare_reduce_max(ctx: OpContext) -> ReduceParams:
    return _prepare_reduce(ctx, "REDUCE_MAX")


def prepare_reduce(ctx: OpContext) -> ReduceParams:
    """SUM, REDUCE_MIN, REDUCE_PROD (and MEAN, REDUCE_MAX): the operator's own name picks the rule."""
    return _prepare_reduce(ctx, ctx.op.name)


def reduction_rows(p: ReduceParams, x: np.ndarray) -> np.ndarray:
    """The input as [outputs, N]: kept axes first, reduced axes last, each group in its original order.

    Row r holds the reduced elements of output element r in the input's row-major order.
    """
    kept = [d for d in range(x.ndim) if d not in p.axes]
    return np.ascontiguousarray(np.transpose(x, kept + list(p.axes))).reshape(-1, p.reduced_count)


def _reduce_start(p: ReduceParams, rows: np.ndarray, init: float | int) -> tuple[np.ndarray, int]:
    """Where EvalType's reducer starts: ``init`` for each output (ReduceGeneric), or, when every axis is
    reduced (ReduceAllDims), the first element itself (so a NaN first element stays)."""
    if p.reduces_all:
        return rows[:, 0].copy(), 1
    return np.full(rows.shape[0], init, dtype=rows.dtype), 0


# ------------------------------------------------------------------------------------------------
# Spec kernels: readable NumPy


def mean_spec(p: ReduceParams, x: np.ndarray, axis: np.ndarray | None = None) -> np.ndarray:
    if x.size == 0:
        fill = np.nan if not p.quantized else 0
        return np.full(p.output_shape, fill, dtype=x.dtype)
    rows = reduction_rows(p, x)
    if p.quantized:
        total = wrap_int32(rows.astype(np.int64).sum(axis=1))  # the C++ temp_sum is int32
        shifted = wrap_int32(total - p.input_zero_point * p.reduced_count)
        y = multiply_by_quantized_multiplier(shifted, p.output_multiplier, p.output_shift) + p.output_zero_point
        return np.clip(y, p.qmin, p.qmax).astype(x.dtype).reshape(p.output_shape)
    total = np.zeros(rows.shape[0], dtype=np.float32)
    for i in range(p.reduced_count):
        total += rows[:, i]  # float32 adds in the reference's order
    return (total / np.float32(p.reduced_count)).astype(np.float32).reshape(p.output_shape)


def reduce_max_spec(p: ReduceParams, x: np.ndarray, axis: np.ndarray | None = None) -> np.ndarray:
    if x.size == 0:
        return np.full(p.output_shape, type_lowest(x.dtype), dtype=x.dtype)
    rows = reduction_rows(p, x)
    current, start = _reduce_start(p, rows, type_lowest(x.dtype))
    for i in range(start, p.reduced_count):
        current = np.where(rows[:, i] > current, rows[:, i], current)  # the reducer: (in > current) ? in : current
    return current.reshape(p.output_shape)


def reduce_min_spec(p: ReduceParams, x: np.ndarray, axis: np.ndarray | None = None) -> np.ndarray:
    if x.size == 0:
        return np.full(p.output_shape, type_highest(x.dtype), dtype=x.dtype)
    rows = reduction_rows(p, x)
    current, start = _reduce_start(p, rows, type_highest(x.dtype))
    for i in range(start, p.reduced_count):
        current = np.where(rows[:, i] < current, rows[:, i], current)  # (in < current) ? in : current
    return current.reshape(p.output_shape)


def sum_spec(p: ReduceParams, x: np.ndarray, axis: np.ndarray | None = None) -> np.ndarray:
    """SUM. 8-bit: the uint8 QuantizedMeanOrSum, also for int8
    under litert-ref (LiteRT's reference EvalSum reads int8 tensors as uint8: measured with ai-edge-litert 2.3.0,
    the ``GetTensorData<uint8_t>`` of reduce.cc), so int8 values count as ``q & 0xFF`` and the result is clamped
    to [0, 255] and stored back as int8 bytes; TFLM (profile "tflm") reads them as int8, always requantizes and
    clamps to [-128, 127]. float32/int32/int64: the values are added in the type (wrapping)."""
    if x.size == 0:
        return np.zeros(p.output_shape, dtype=x.dtype)
    if p.quantized:
        data, qmin, qmax = (x.view(np.uint8), 0, 255) if p.bytes_as_uint8 else (x, p.qmin, p.qmax)
        rows = reduction_rows(p, data)
        total = wrap_int32(rows.astype(np.int64).sum(axis=1))  # the C++ temp_sum is int32
        shifted = wrap_int32(total - p.input_zero_point * p.reduced_count)
        y = multiply_by_quantized_multiplier(shifted, p.output_multiplier, p.output_shift) + p.output_zero_point
        return np.clip(y, qmin, qmax).astype(data.dtype).view(x.dtype).reshape(p.output_shape)
    rows = reduction_rows(p, x)
    total, start = _reduce_start(p, rows, 0)
    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(start, p.reduced_count):
            # the reducer ``in + current``, which x86 computes as current + in: of two NaNs, the running
            # value's payload is kept (measured with ai-edge-litert 2.3.0)
            total = (total + rows[:, i]).astype(x.dtype)
    return total.reshape(p.output_shape)


def reduce_prod_spec(p: ReduceParams, x: np.ndarray, axis: np.ndarray | None = None) -> np.ndarray:
    if x.size == 0 or p.reduced_count == 0:
        if p.quantized:  # refused at prepare (LiteRT leaves the output unwritten); kept total
            return np.zeros(p.output_shape, dtype=x.dtype)
        return np.ones(p.output_shape, dtype=x.dtype)
    rows = reduction_rows(p, x)
    if p.quantized:
        product = rows[:, 0].astype(np.int64) - p.input_zero_point
        for i in range(1, p.reduced_count):
            product = multiply_by_quantized_multiplier_int64(
                product * (rows[:, i].astype(np.int64) - p.input_zero_point), p.output_multiplier, p.output_shift)
        # the zero point is added in int32 (``int32_t result = MBQM(...) + output_zero_point``): it wraps
        y = wrap_int32(multiply_by_quantized_multiplier_int64(product, p.output_multiplier, p.output_shift)
                       + p.output_zero_point)
        return np.clip(y, p.qmin, p.qmax).astype(x.dtype).reshape(p.output_shape)
    product = rows[:, 0].copy()  # 1 * x0 == x0 exactly, as the generic reducer starts
    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(1, p.reduced_count):
            product = product * rows[:, i]  # in order; integers wrap
    return product.astype(x.dtype).reshape(p.output_shape)


# ------------------------------------------------------------------------------------------------
# CUMSUM


@dataclass(frozen=True)
class CumsumParams:
    axis: int
    exclusive: bool
    reverse: bool


def prepare_cumsum(ctx: OpContext) -> CumsumParams:
    ctx.check_inputs(2, 2)
    x, axis_tensor, y = ctx.require_input(0), ctx.require_input(1), ctx.output(0)
    if x.type_name == "int16":
        raise ctx.unsupported("CUMSUM on int16 (LiteRT has no int16 kernel either)")
    ctx.check_dtype(x, ("int32", "int64", "float32"), "input")
    if ctx.profile == "tflm" and x.type_name not in TFLM_TYPES["CUMSUM"]:
        raise ctx.unsupported(f"CUMSUM on {x.type_name} under profile tflm (TFLite Micro has no such kernel)")
    ctx.check_same_type(x, y)
    if axis_tensor.type_name != "int32":
        raise ctx.fail(f"axis tensor must be int32, got {axis_tensor.type_name}")
    if axis_tensor.data is None:
        raise ctx.unsupported("a non-constant axis tensor")
    if axis_tensor.data.size != 1:
        raise ctx.fail(f"axis must be a scalar, got {axis_tensor.data.size} values")
    rank = len(ctx.shape(x))
    axis = int(axis_tensor.data.reshape(-1)[0])
    if not -rank <= axis < rank:
        raise ctx.fail(f"axis {axis} is out of range for a rank-{rank} input")
    return CumsumParams(axis + rank if axis < 0 else axis, bool(ctx.options.get("exclusive", False)),
                        bool(ctx.options.get("reverse", False)))


def cumsum_spec(p: CumsumParams, x: np.ndarray, axis: np.ndarray | None = None) -> np.ndarray:
    if x.size == 0:  # nothing to add up, however long the axis (the loop below runs over it)
        return np.empty(x.shape, dtype=x.dtype)
    moved = np.moveaxis(x, p.axis, -1)
    if p.reverse:
        moved = moved[..., ::-1]
    out = np.empty(moved.shape, dtype=x.dtype)
    running = np.zeros(moved.shape[:-1], dtype=x.dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(moved.shape[-1]):
            if p.exclusive:
                out[..., i] = running
                running = running + moved[..., i]
            else:
                running = running + moved[..., i]
                out[..., i] = running
    if p.reverse:
        out = out[..., ::-1]
    return np.ascontiguousarray(np.moveaxis(out, -1, p.axis))


# ------------------------------------------------------------------------------------------------
# REDUCE_ALL, REDUCE_ANY (``reduce.cc`` PrepareAllOrAny / EvalLogic, ``reference_ops::ReduceGeneric<bool>``):
# bool input and output, axes from input 1 (int32, constant or not: a non-constant axis tensor makes LiteRT's
# output dynamic and resolves the axes at Eval, with the same checks), each in [-rank, rank), duplicates ignored,
# keep_dims as the other reducers. Each output element is the logical AND (REDUCE_ALL, starting from true) or OR
# (REDUCE_ANY, starting from false) of its reduced elements: an empty reduction gives true / false. The order of
# the reduction cannot change a boolean result.


@dataclass(frozen=True)
class LogicalReduceParams:
    op: str
    keep_dims: bool
    axes: tuple[int, ...] | None  # resolved (sorted, unique, non-negative); None: from the axis input at eval
    output_shape: tuple[int, ...] | None


def _logical_reduce_plan(shape: tuple[int, ...], values: np.ndarray, keep_dims: bool,
                         fail: Callable[[str], Exception]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """ResolveAxis: the sorted unique axes and the output shape (ResizeOutputTensor)."""
    if len(shape) == 0:  # ResolveAxis' scalar case: no axis is read (any value is accepted), the output is a scalar
        return (), ()
    return resolve_axes(shape, values, keep_dims, fail)


def prepare_logical_reduce(ctx: OpContext) -> LogicalReduceParams:
    """REDUCE_ALL and REDUCE_ANY: the operator's own name picks the rule."""
    ctx.check_inputs(2, 2)
    x, axis_tensor, y = ctx.require_input(0), ctx.require_input(1), ctx.output(0)
    ctx.check_dtype(x, ("bool",), "input")
    ctx.check_same_type(x, y)
    if axis_tensor.type_name != "int32":
        raise ctx.fail(f"axis tensor must be int32, got {axis_tensor.type_name}")
    keep_dims = bool(ctx.options.get("keep_dims", False))
    op = ctx.op.name
    if op == "REDUCE_ANY" and ctx.profile == "tflm":
        raise ctx.unsupported("REDUCE_ANY under profile tflm (TFLite Micro registers REDUCE_ALL only)")
    if axis_tensor.data is not None or math.prod(ctx.shape(axis_tensor)) == 0:
        values = np.zeros(0, np.int32) if axis_tensor.data is None else axis_tensor.data
        axes, output_shape = _logical_reduce_plan(ctx.shape(x), values, keep_dims, ctx.fail)
        ctx.set_output_shape(0, output_shape)
        return LogicalReduceParams(op, keep_dims, axes, output_shape)
    ctx.set_output_shape(0, lambda inputs: _logical_reduce_plan(
        inputs[0].shape, inputs[1], keep_dims, EvalError)[1])
    return LogicalReduceParams(op, keep_dims, None, None)


def logical_reduce_spec(p: LogicalReduceParams, x: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """REDUCE_ALL: AND over the reduced axes (true when none); REDUCE_ANY: OR (false when none)."""
    axes, output_shape = p.axes, p.output_shape
    if axes is None or output_shape is None:
        axes, output_shape = _logical_reduce_plan(x.shape, axis, p.keep_dims, EvalError)
    reducer = np.all if p.op == "REDUCE_ALL" else np.any
    return np.asarray(reducer(x.astype(bool), axis=axes), dtype=bool).reshape(output_shape)


# ------------------------------------------------------------------------------------------------
# explain: one output element, step by step (``refinterp explain``; refinterp/ops/trace.py)


def _explained_row(p: ReduceParams, inputs: list, index: tuple[int, ...], trace) -> tuple[np.ndarray, np.ndarray]:
    """The input and the reduced elements of output ``index`` (in row-major order), recorded as the first step."""
    x = np.asarray(inputs[0])
    if x.size == 0:
        raise trace.not_detailed("an empty input")
    r = int(np.ravel_multi_index(index, p.output_shape)) if p.output_shape else 0
    row = reduction_rows(p, x)[r]
    trace.add("reduced elements", row.tolist(), f"the {p.reduced_count} input elements of output {list(index)} "
              f"(axes {list(p.axes)}), in row-major order")
    return x, row


def explain_mean(ctx: OpContext, p: ReduceParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """MEAN output ``index``: the reduced elements, their int32 sum, the zero point times N, the multiplier with
    1/N folded in (module docstring), or the float32 rule."""
    _, row = _explained_row(p, inputs, index, trace)
    if not p.quantized:
        total = np.float32(0.0)
        for v in row:
            total = np.float32(total + v)
        trace.add("sum", float(total), "added in float32, in order")
        value = np.float32(total / np.float32(p.reduced_count))
        trace.add("output", float(value), f"sum / {p.reduced_count} in float32")
        trace.approximates(float(np.mean(row.astype(np.float64))))
        return value
    input_scale, _ = per_tensor_qparams(ctx, ctx.require_input(0), "input")
    output_scale, _ = per_tensor_qparams(ctx, ctx.output(0), "output")
    total = trace.add("sum", int(wrap_int32(int(row.astype(np.int64).sum()))), "the stored values added in int32")
    count = p.reduced_count
    shifted = trace.add("minus zero point times N", int(wrap_int32(total - p.input_zero_point * count)),
                        f"{total} - ({p.input_zero_point} * {count})")
    multiplier, shift = quantize_multiplier(float(input_scale) / float(output_scale))
    trace.quantize_multiplier(float(input_scale) / float(output_scale), "f64(s_in) / f64(s_out)")
    k = min(count.bit_length() - 1, 32, 31 + shift)
    trace.add("multiplier divided by N", [p.output_multiplier, p.output_shift],
              f"1/N folded in: k = min(floor(log2 {count}), 32, 31 + {shift}) = {k}; (M << k) / N = ({multiplier} << "
              f"{k}) / {count} (truncating), shift - k = {shift - k}", rule="truncate toward zero")
    value = trace.requantize(shifted, p.output_multiplier, p.output_shift, p.output_zero_point, p.qmin, p.qmax,
                             "the output type")
    trace.approximates(input_scale * shifted / count, output_scale, p.output_zero_point, (p.qmin, p.qmax))
    return value


def explain_reduce_extreme(ctx: OpContext, p: ReduceParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """REDUCE_MAX / REDUCE_MIN output ``index``: the running maximum (minimum) of the reduced elements, stored values
    copied (LiteRT requires equal input and output quantization)."""
    x, row = _explained_row(p, inputs, index, trace)
    current, start = _reduce_start(p, row[None, :], type_lowest(x.dtype) if p.op == "REDUCE_MAX"
                                   else type_highest(x.dtype))
    current = current[0]
    for v in row[start:]:
        current = (v if v > current else current) if p.op == "REDUCE_MAX" else (v if v < current else current)
    rule = "in > current ? in : current" if p.op == "REDUCE_MAX" else "in < current ? in : current"
    start_text = "the first element" if start else f"the type's {'lowest' if p.op == 'REDUCE_MAX' else 'highest'}"
    trace.add("maximum" if p.op == "REDUCE_MAX" else "minimum", current.item(), f"from {start_text}, then {rule} "
              "for each element: no arithmetic")
    trace.approximates_stored(current, ctx.output(0).quantization)
    return current.item()


def _explain_raw_reduction(p: ReduceParams, x: np.ndarray, row: np.ndarray, trace, init: int, operation: str
                           ) -> object:
    """The unquantized SUM / REDUCE_PROD of one row in the type (float32 rounding, integer wrap), from where the
    reducer starts (:func:`_reduce_start`), each running value an item."""
    current, start = _reduce_start(p, row[None, :], init)
    current = current[0]
    items = []
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(start, row.size):
            current = (current + row[k] if operation == "+" else current * row[k]).astype(x.dtype)
            items.append({"k": k, "in": row[k].item(), "running": current.item()})
    start_text = "the first element (every axis reduced: ReduceAllDims)" if start else f"{init}"
    kind = "float32 (each result rounded)" if np.issubdtype(x.dtype, np.floating) else f"{x.dtype} (wrapping)"
    name = "sum" if operation == "+" else "product"
    trace.add(name, current.item(), f"from {start_text}, each element {'added' if operation == '+' else 'multiplied'}"
              f" in row-major order, in {kind}", rule="round to nearest, ties to even"
              if np.issubdtype(x.dtype, np.floating) else "", items=items)
    if np.issubdtype(x.dtype, np.floating):
        with np.errstate(all="ignore"):
            trace.approximates(float(np.sum(row.astype(np.float64)) if operation == "+" else
                                     np.prod(row.astype(np.float64))))
    return current.item()


def explain_sum(ctx: OpContext, p: ReduceParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """SUM output ``index`` (module docstring): 8-bit QuantizedMeanOrSum (int8 bytes read as uint8 under
    litert-ref), or the sum in the type."""
    x = np.asarray(inputs[0])
    if x.size == 0:
        value = np.zeros((), x.dtype).item()
        trace.add("empty input", value, "no element to add: the output is 0")
        return value
    if not p.quantized:
        _, row = _explained_row(p, inputs, index, trace)
        return _explain_raw_reduction(p, x, row, trace, 0, "+")
    data, qmin, qmax = (x.view(np.uint8), 0, 255) if p.bytes_as_uint8 else (x, p.qmin, p.qmax)
    _, row = _explained_row(p, [data], index, trace)
    as_bytes = p.bytes_as_uint8 and x.dtype == np.int8
    if as_bytes:
        trace.notes.append("LiteRT's reference SUM reads int8 tensors as uint8 bytes (GetTensorData<uint8_t>): the "
                           "values above are the bytes, and the result is clamped to [0, 255] and stored as a byte")
    input_scale, _ = per_tensor_qparams(ctx, ctx.require_input(0), "input")
    output_scale, _ = per_tensor_qparams(ctx, ctx.output(0), "output")
    total = trace.add("sum", int(wrap_int32(int(row.astype(np.int64).sum()))), "the stored values added in int32")
    count = p.reduced_count
    shifted = trace.add("minus zero point times N", int(wrap_int32(total - p.input_zero_point * count)),
                        f"{total} - ({p.input_zero_point} * {count})")
    multiplier, shift = trace.quantize_multiplier(float(input_scale) / float(output_scale), "f64(s_in) / f64(s_out)",
                                                  (p.output_multiplier, p.output_shift))
    value = trace.requantize(shifted, multiplier, shift, p.output_zero_point, qmin, qmax,
                             "[0, 255]: the uint8 kernel" if p.bytes_as_uint8 else "the output type")
    if as_bytes:
        value = trace.add("stored", int(np.array(value, np.uint8).view(np.int8)), f"the byte {value} read as int8")
        trace.notes.append("the real value below is that of the sum of the bytes' values, not of the int8 values")
    trace.approximates(input_scale * shifted, output_scale, p.output_zero_point, (qmin, qmax))
    return value


def explain_reduce_prod(ctx: OpContext, p: ReduceParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """REDUCE_PROD output ``index`` (module docstring): QuantizedReduceProd's rescaled running product, or the
    product in the type."""
    x, row = _explained_row(p, inputs, index, trace)
    if not p.quantized:
        return _explain_raw_reduction(p, x, row, trace, 1, "*")
    input_scale, _ = per_tensor_qparams(ctx, ctx.require_input(0), "input")
    output_scale, _ = per_tensor_qparams(ctx, ctx.output(0), "output")
    count = p.reduced_count
    formula = f"f64(s_in) / pow(f64(s_out), 1.0 / {count})"
    trace.quantize_multiplier(float(input_scale) / math.pow(float(output_scale), 1.0 / count), formula,
                              (p.output_multiplier, p.output_shift))
    trace.add("multiplier, 15 bits", (p.output_multiplier + (1 << 15)) >> 16 if p.output_multiplier <
                        0x7FFF0000 else 0x7FFF, "each multiplication below is MultiplyByQuantizedMultiplier(int64): "
                        f"(x * this + 2^({14 - p.output_shift})) >> {15 - p.output_shift}, as int32 (wrapping)",
                        rule="round to nearest, ties toward +infinity")
    product = int(row[0]) - p.input_zero_point
    trace.add("first element minus zero point", product, f"{int(row[0])} - {p.input_zero_point}")
    items = []
    for k in range(1, count):
        factor = int(row[k]) - p.input_zero_point
        product = int(multiply_by_quantized_multiplier_int64(np.int64(product * factor), p.output_multiplier,
                                                             p.output_shift))
        items.append({"k": k, "q - zp": factor, "running": product})
    if items:
        trace.add("running product", product, "p = MBQM64(p * (q_k - zp_in), M, shift) for each further element "
                  "(int32 p: each result wraps)", rule="round to nearest, ties toward +infinity", items=items)
    scaled = int(multiply_by_quantized_multiplier_int64(np.int64(product), p.output_multiplier, p.output_shift))
    trace.add("rescaled", scaled, f"MBQM64({product}, M, shift): the last of the N scalings", rule="round to "
              "nearest, ties toward +infinity")
    shifted = trace.add("plus output zero point", int(wrap_int32(scaled + p.output_zero_point)),
                        f"{scaled} + {p.output_zero_point} (int32, wrapping)")
    value = int(trace.clamp(shifted, p.qmin, p.qmax, "the output type"))
    with np.errstate(all="ignore"):
        real = float(np.prod(input_scale * (row.astype(np.float64) - p.input_zero_point)))
    if math.isfinite(real):
        trace.approximates(real, output_scale, p.output_zero_point, (p.qmin, p.qmax))
    return value


def explain_cumsum(ctx: OpContext, p: CumsumParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """CUMSUM output ``index``: the running sum along the axis up to the element (``exclusive``: before it;
    ``reverse``: from the end), in the type."""
    x = np.asarray(inputs[0])
    position = int(index[p.axis])
    line = np.moveaxis(x, p.axis, -1)[tuple(i for d, i in enumerate(index) if d != p.axis)]
    order = list(range(line.size))[::-1] if p.reverse else list(range(line.size))
    taken = order[:order.index(position) + (0 if p.exclusive else 1)]
    trace.add("axis values", line.tolist(), f"the {line.size} values along axis {p.axis} through {list(index)}; this "
              f"element is position {position}")
    running = np.zeros((), dtype=x.dtype)
    items = []
    with np.errstate(over="ignore", invalid="ignore"):
        for k in taken:
            running = (running + line[k]).astype(x.dtype)
            items.append({"position": k, "in": line[k].item(), "running": running.item()})
    kind = "float32 (each result rounded)" if np.issubdtype(x.dtype, np.floating) else f"{x.dtype} (wrapping)"
    positions = taken if len(taken) <= 8 else f"{taken[0]}..{taken[-1]}"
    trace.add("sum", running.item(), f"0 plus positions {positions}" + (" (reverse: from the end)" if p.reverse else "")
              + (" (exclusive: the element itself not)" if p.exclusive else "") + f", in {kind}", items=items)
    if np.issubdtype(x.dtype, np.floating):
        trace.approximates(float(np.sum(line[taken].astype(np.float64))) if taken else 0.0)
    return running.item()


def explain_logical_reduce(ctx: OpContext, p: LogicalReduceParams, inputs: list, index: tuple[int, ...], trace
                           ) -> object:
    """REDUCE_ALL / REDUCE_ANY output ``index``: the reduced elements and their AND (true when none) or OR (false
    when none)."""
    x = np.asarray(inputs[0]).astype(bool)
    axes, output_shape = p.axes, p.output_shape
    if axes is None or output_shape is None:
        axes, output_shape = _logical_reduce_plan(x.shape, tuple(int(v) for v in np.asarray(inputs[1]).reshape(-1)),
                                                  p.keep_dims, EvalError)
    kept = [d for d in range(x.ndim) if d not in axes]
    count = int(np.prod([x.shape[d] for d in axes], dtype=np.int64)) if axes else 1
    outputs = int(np.prod([x.shape[d] for d in kept], dtype=np.int64))
    rows = np.transpose(x, kept + list(axes)).reshape(outputs, count) if x.ndim else x.reshape(1, 1)
    row = rows[int(np.ravel_multi_index(index, output_shape)) if output_shape else 0]
    trace.add("reduced elements", row.tolist(), f"the {row.size} input elements of output {list(index)} (axes "
              f"{list(axes)}), in row-major order")
    value = bool(row.all() if p.op == "REDUCE_ALL" else row.any())
    trace.add("output", value, "every one true (AND; true when there is none)" if p.op == "REDUCE_ALL" else
              "any one true (OR; false when there is none)")
    return value

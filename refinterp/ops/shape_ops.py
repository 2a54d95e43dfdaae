"""Data movement: RESHAPE, CONCATENATION, PAD/PADV2, TRANSPOSE, STRIDED_SLICE, SHAPE, PACK, TILE.

Values are copied, never rescaled (except uint8 concat); each section below states its rule. Every prepare
says its output shape (``ctx.set_output_shape``), as a function of the input values when it depends on them
(a non-constant shape, paddings, multiples, perm, begin/end/strides), so the interpreter checks it against the
model and the memory limits before the kernel allocates it (PAD of 2**31-1, TILE by huge multiples).

RESHAPE (``reshape.cc``): the new shape comes from input 1 when it is a 1-D int32 tensor, otherwise from
``ReshapeOptions.new_shape`` (the legacy ``[0]`` there means a scalar); one ``-1`` is inferred. LiteRT copies
the input's bytes without looking at the types: an output of another type of the same size gets the input's
bits reinterpreted (int8 -> uint8, float32 -> int32), which refinterp reproduces under "litert-ref"; types of
different sizes (LiteRT would copy past or short of the output) and, under "tflm", any type change are refused.

CONCATENATION (``concatenation.cc``): ``axis`` may be negative (``axis + rank``). For int8 every input's scale
and zero point must equal the output's (Prepare fails otherwise, in LiteRT and TFLM); for int16 every zero
point, the inputs' and the output's, must be 0 and the scales may differ (the values are copied unchanged,
measured with ai-edge-litert 2.3.0). For uint8, inputs whose parameters differ are rescaled per element
(``ConcatenationWithScaling``)::

    scale = f32(s_i * f32(1 / s_out));  bias = f32(-zp_i * scale)
    y = clamp(round_half_away(f32(q * scale + bias)) + zp_out, 0, 255)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from refinterp.errors import EvalError
from refinterp.ops.common import OpContext, per_tensor_qparams_or_identity
from refinterp.quant import DTYPE_RANGES, round_half_away_f32


@dataclass(frozen=True)
class ReshapeParams:
    output_shape: tuple[int, ...] | None  # None: computed at eval from a non-constant shape input
    new_shape_spec: tuple[int, ...] | None
    output_dtype: np.dtype | None = None  # the output's type when it differs from the input's (same size)


def _resolve_shape(new_shape: tuple[int, ...], count: int, fail) -> tuple[int, ...]:
    unknown = [i for i, d in enumerate(new_shape) if d == -1]
    if len(unknown) > 1:
        raise fail(f"new shape {list(new_shape)} has more than one -1")
    if any(d < -1 for d in new_shape):
        raise fail(f"new shape {list(new_shape)} has a negative dimension")
    known = math.prod(d for d in new_shape if d != -1)
    if unknown:
        if known == 0 or count % known:
            raise fail(f"cannot infer -1 in {list(new_shape)} for {count} elements")
        new_shape = tuple(count // known if d == -1 else d for d in new_shape)
    if math.prod(new_shape) != count:
        raise fail(f"new shape {list(new_shape)} holds {math.prod(new_shape)} elements, the input {count}")
    return new_shape


def prepare_reshape(ctx: OpContext) -> ReshapeParams:
    ctx.check_inputs(1, 2)
    x, shape_tensor, y = ctx.require_input(0), ctx.input(1), ctx.output(0)
    count = math.prod(ctx.shape(x))
    output_dtype = None
    if y.type_name != x.type_name:
        if x.dtype is None or y.dtype is None or x.dtype.itemsize != y.dtype.itemsize or ctx.profile != "litert-ref":
            raise ctx.fail(f"input is {x.type_name} but output is {y.type_name}"
                           + (" (LiteRT would copy the input's bytes into an output of another size)"
                              if ctx.profile == "litert-ref" else ""))
        output_dtype = y.dtype
    if shape_tensor is not None and len(ctx.shape(shape_tensor)) == 1 and shape_tensor.type_name == "int32":
        if not shape_tensor.is_constant:  # dynamic: resolved at eval, from the shape input's values
            ctx.set_output_shape(0, lambda inputs: _resolve_shape(tuple(int(v) for v in inputs[1]), count,
                                                                  EvalError))
            return ReshapeParams(None, None, output_dtype)
        spec = tuple(int(v) for v in shape_tensor.data)
    else:
        spec = tuple(int(v) for v in ctx.options.get("new_shape", ()))
        if spec == (0,):
            spec = ()  # legacy: new_shape [0] means a scalar
        if not spec and ctx.options.get("new_shape", None) is None and shape_tensor is None:
            spec = ctx.output(0).shape
    output_shape = _resolve_shape(spec, count, ctx.fail)
    ctx.set_output_shape(0, output_shape)
    return ReshapeParams(output_shape, spec, output_dtype)


def reshape_spec(p: ReshapeParams, x: np.ndarray, shape: np.ndarray | None = None) -> np.ndarray:
    output_shape = p.output_shape
    if output_shape is None:
        output_shape = _resolve_shape(tuple(int(v) for v in shape), x.size, EvalError)
    y = np.array(x).reshape(output_shape)
    return y.view(p.output_dtype) if p.output_dtype is not None else y


@dataclass(frozen=True)
class ConcatenationParams:
    axis: int
    rescale: tuple[tuple[np.float32, np.float32] | None, ...]  # uint8 only: (scale, bias) per input
    output_zero_point: int


def prepare_concatenation(ctx: OpContext) -> ConcatenationParams:
    if ctx.num_inputs < 1:
        raise ctx.fail("needs at least one input")
    inputs = [ctx.require_input(i) for i in range(ctx.num_inputs)]
    y = ctx.output(0)
    ctx.check_dtype(y, ("int8", "uint8", "int16", "int32", "int64", "float32", "bool"), "output")
    if int(ctx.options.get("fused_activation_function", 0)) != 0:
        raise ctx.unsupported("a fused activation on CONCATENATION (TFLite's kernel supports NONE only)")
    rank = len(ctx.shape(inputs[0]))
    if rank == 0:  # concatenation.cc Prepare: t0->dims->size > 0 (measured: TFLM crashes on it)
        raise ctx.fail("rank-0 inputs (TFLite concatenates along an axis of rank 1 or more)")
    axis = int(ctx.options.get("axis", 0))
    if axis < 0:
        axis += rank
    if not 0 <= axis < rank:
        raise ctx.fail(f"axis {ctx.options.get('axis', 0)} outside rank {rank}")
    for t in inputs:
        if t.type_name != y.type_name:
            raise ctx.fail(f"input {t.index} is {t.type_name} but the output is {y.type_name}")
        shape = ctx.shape(t)
        if len(shape) != rank or any(a != b for d, (a, b) in enumerate(zip(shape, ctx.shape(inputs[0])))
                                     if d != axis):
            raise ctx.fail(f"input shapes {[list(ctx.shape(i)) for i in inputs]} differ off axis {axis}")
    output_shape = list(ctx.shape(inputs[0]))
    output_shape[axis] = sum(ctx.shape(t)[axis] for t in inputs)
    ctx.set_output_shape(0, output_shape)
    output_scale, output_zero_point = per_tensor_qparams_or_identity(y)
    rescale: list[tuple[np.float32, np.float32] | None] = []
    for t in inputs:
        scale, zero_point = per_tensor_qparams_or_identity(t)
        same = np.float32(scale) == np.float32(output_scale) and zero_point == output_zero_point
        if y.type_name == "int8" and not same:
            # concatenation.cc Prepare: TF_LITE_ENSURE_EQ on scale and zero point for int8
            raise ctx.fail(f"input {t.index} has scale {scale:g} zero point {zero_point}, the output "
                           f"{output_scale:g}/{output_zero_point}; TFLite requires them equal for int8")
        if y.type_name == "int16" and (zero_point != 0 or output_zero_point != 0):
            # concatenation.cc Prepare: TF_LITE_ENSURE_EQ(t->params.zero_point, 0), and the output's
            raise ctx.fail(f"int16 zero points must be 0 (input {t.index}: {zero_point}, output: "
                           f"{output_zero_point})")
        if y.type_name == "uint8" and not same:
            inverse_output_scale = np.float32(1.0) / np.float32(output_scale)
            input_scale = np.float32(scale) * inverse_output_scale
            bias = np.float32(-zero_point) * input_scale
            rescale.append((input_scale, bias))
        else:
            rescale.append(None)
    return ConcatenationParams(axis, tuple(rescale), output_zero_point)


def concatenation_spec(p: ConcatenationParams, *inputs: np.ndarray) -> np.ndarray:
    parts = []
    for x, rescale in zip(inputs, p.rescale):
        if rescale is not None:
            scale, bias = rescale
            value = round_half_away_f32(x.astype(np.float32) * scale + bias).astype(np.int64) + p.output_zero_point
            x = np.clip(value, 0, 255).astype(np.uint8)
        parts.append(x)
    return np.concatenate(parts, axis=p.axis)


# ------------------------------------------------------------------------------------------------
# PAD, PADV2 (pad.cc): the paddings tensor is [rank, 2] (int32 or int64), every entry >= 0. The pad value
# is, for quantized int8/uint8 without constant_values, the output zero point (which must fit the type);
# otherwise the raw value of the one-element constant_values tensor (whose scale and zero point must equal
# the output's when quantized), or 0. Values are copied, never rescaled.

PAD_MAX_RANK = 5  # reference_ops::PadKernelMaxDimensionCount()
PAD_TYPES = ("int8", "uint8", "int16", "int32", "int64", "float32")


@dataclass(frozen=True)
class PadParams:
    paddings: tuple[tuple[int, int], ...] | None  # None: from a non-constant paddings input at eval
    pad_value: int | float | None  # None: read the constant_values input at eval
    dtype: np.dtype


def _check_paddings(values: np.ndarray, rank: int, fail) -> tuple[tuple[int, int], ...]:
    values = np.asarray(values)
    if values.shape != (rank, 2):
        raise fail(f"paddings shape {list(values.shape)} is not [{rank}, 2]")
    if np.any(values < 0):
        raise fail(f"paddings {values.tolist()} has a negative entry")
    if np.any(values > np.iinfo(np.int32).max):
        raise fail(f"paddings {values.tolist()} overflow int32")
    return tuple((int(a), int(b)) for a, b in values)


def _padded_shape(shape: tuple[int, ...], paddings: tuple[tuple[int, int], ...]) -> tuple[int, ...]:
    """The output shape: each dimension plus its two paddings (a scalar input stays a scalar)."""
    return tuple(d + before + after for d, (before, after) in zip(shape, paddings)) if shape else ()


def prepare_pad(ctx: OpContext) -> PadParams:
    ctx.check_inputs(2, 3)
    x, paddings, y = ctx.require_input(0), ctx.require_input(1), ctx.output(0)
    constant_values = ctx.input(2)
    ctx.check_dtype(x, PAD_TYPES, "input")
    ctx.check_same_type(x, y)
    if paddings.type_name not in ("int32", "int64"):
        raise ctx.unsupported(f"paddings of type {paddings.type_name} (supported: int32, int64)")
    rank = len(ctx.shape(x))
    if rank > PAD_MAX_RANK:
        raise ctx.fail(f"input rank {rank} exceeds {PAD_MAX_RANK}")
    padding_shape = ctx.shape(paddings)
    if len(padding_shape) != 2 or padding_shape[1] != 2 or (rank and padding_shape[0] != rank):
        raise ctx.fail(f"paddings shape {list(padding_shape)} is not [{rank}, 2]")
    x_shape = ctx.shape(x)
    if paddings.is_constant:
        fixed = _check_paddings(paddings.data, rank, ctx.fail)
        ctx.set_output_shape(0, _padded_shape(x_shape, fixed))
    else:
        fixed = None
        ctx.set_output_shape(0, lambda inputs: _padded_shape(x_shape, _check_paddings(inputs[1], rank, EvalError)))
    # the kernel reads the output's (and constant_values') tensor->params: (0, 0) when unquantized or per-channel
    # LiteRT pads with the output's zero point only when the input is quantized (measured with 2.3.0: an
    # unquantized int8 input pads with 0 whatever the output's zero point); TFLM always takes the output's
    quantized = x.type_name in ("int8", "uint8", "int16") and (
        y.quantization is not None if ctx.profile == "tflm" else x.quantization is not None)
    output_scale, output_zero_point = per_tensor_qparams_or_identity(y)
    pad_value: int | float | None
    if constant_values is None:
        if quantized:
            lo, hi = DTYPE_RANGES[y.dtype]
            if not lo <= output_zero_point <= hi:
                raise ctx.fail(f"output zero point {output_zero_point} outside the {y.type_name} range")
            pad_value = output_zero_point
        else:
            pad_value = 0
    else:
        if constant_values.type_name != x.type_name:
            raise ctx.fail(f"constant_values is {constant_values.type_name}, the input {x.type_name}")
        if math.prod(ctx.shape(constant_values)) != 1:
            raise ctx.fail(f"constant_values has shape {list(ctx.shape(constant_values))}, expected 1 element")
        if x.type_name in ("int8", "uint8", "int16"):  # pad.cc compares params, set or not (then 0.0, 0)
            c_scale, c_zero_point = per_tensor_qparams_or_identity(constant_values)
            if np.float32(c_scale) != np.float32(output_scale) or c_zero_point != output_zero_point:
                raise ctx.fail("constant_values must have the output's scale and zero point")
        pad_value = constant_values.data.reshape(-1)[0].item() if constant_values.is_constant else None
    return PadParams(fixed, pad_value, y.dtype)


def pad_spec(p: PadParams, x: np.ndarray, paddings: np.ndarray,
             constant_values: np.ndarray | None = None) -> np.ndarray:
    widths = p.paddings if p.paddings is not None else _check_paddings(paddings, x.ndim, EvalError)
    value = p.pad_value if p.pad_value is not None else np.asarray(constant_values).reshape(-1)[0]
    if x.ndim == 0:
        return np.array(x, dtype=p.dtype)
    return np.pad(x, widths, mode="constant", constant_values=np.array(value, dtype=p.dtype)).astype(p.dtype)


# ------------------------------------------------------------------------------------------------
# TRANSPOSE (transpose.cc): perm is a 1-D int32 permutation of [0, rank); negative entries count from the
# end. Up to 8-D.

TRANSPOSE_MAX_RANK = 8  # transpose.cc kTransposeMaxDimensions (ai-edge-litert 2.3.0 too)


@dataclass(frozen=True)
class TransposeParams:
    perm: tuple[int, ...] | None  # None: from a non-constant perm input at eval


def _check_perm(values: np.ndarray, rank: int, fail) -> tuple[int, ...]:
    values = np.asarray(values).reshape(-1)
    if values.size != rank:
        raise fail(f"perm has {values.size} entries for a rank-{rank} input")
    perm = []
    for v in values.tolist():
        if not -rank <= v < rank:
            raise fail(f"perm {values.tolist()} is out of bounds for rank {rank}")
        perm.append(v + rank if v < 0 else v)
    if len(set(perm)) != rank:
        raise fail(f"perm {values.tolist()} repeats an axis")
    return tuple(perm)


def prepare_transpose(ctx: OpContext) -> TransposeParams:
    ctx.check_inputs(2, 2)
    x, perm, y = ctx.require_input(0), ctx.require_input(1), ctx.output(0)
    ctx.check_same_type(x, y)
    if x.dtype is None:
        raise ctx.unsupported(f"input type {x.type_name}")
    rank = len(ctx.shape(x))
    if rank > TRANSPOSE_MAX_RANK:
        raise ctx.fail(f"input rank {rank} exceeds {TRANSPOSE_MAX_RANK}")
    if perm.type_name != "int32":
        raise ctx.unsupported(f"perm of type {perm.type_name} (TFLite reads it as int32)")
    if len(ctx.shape(perm)) != 1:
        raise ctx.fail(f"perm must be 1-D, got shape {list(ctx.shape(perm))}")
    x_shape = ctx.shape(x)
    if perm.is_constant:
        fixed = _check_perm(perm.data, rank, ctx.fail)
        ctx.set_output_shape(0, tuple(x_shape[a] for a in fixed))
        return TransposeParams(fixed)
    ctx.set_output_shape(0, lambda inputs: tuple(x_shape[a] for a in _check_perm(inputs[1], rank, EvalError)))
    return TransposeParams(None)


def transpose_spec(p: TransposeParams, x: np.ndarray, perm: np.ndarray) -> np.ndarray:
    axes = p.perm if p.perm is not None else _check_perm(perm, x.ndim, EvalError)
    return np.ascontiguousarray(np.transpose(x, axes))


# ------------------------------------------------------------------------------------------------
# STRIDED_SLICE (strided_slice.cc BuildStridedSliceParams + reference_ops::StridedSlice): the masks are
# first folded into an "effective" input shape (new_axis adds a dim of 1, ellipsis expands to full
# ranges), then per effective axis, for stride s and axis size n:
#
#     start = begin (+n if < 0), clamped to [0, n] (s > 0) or [-1, n-1] (s < 0); begin_mask: 0 or n-1
#     stop  = end (+start with `offset`) (+n if < 0), clamped likewise; end_mask: n or -1
#     shrink_axis: stop = start + 1 (the axis is dropped from the output)
#
# and the output takes the elements start, start+s, ... before stop along every axis.


@dataclass(frozen=True)
class StridedSliceParams:
    begin_mask: int
    end_mask: int
    ellipsis_mask: int
    new_axis_mask: int
    shrink_axis_mask: int
    offset: bool
    begin: tuple[int, ...] | None  # None: non-constant, read at eval
    end: tuple[int, ...] | None
    strides: tuple[int, ...] | None


def _bit(mask: int, i: int) -> bool:
    return bool(mask & (1 << i))


def _clamp_index(v: int, lo: int, hi: int) -> int:
    return hi if hi < v else (lo if v < lo else v)


def strided_slice_plan(p: StridedSliceParams, input_shape: tuple[int, ...], begin: tuple[int, ...],
                       end: tuple[int, ...], strides: tuple[int, ...], fail):
    """(effective input shape, per-axis index ranges (``range`` objects), output shape), as LiteRT computes
    them."""
    input_dims = len(input_shape)
    begin_count = len(begin)
    num_add_axis = sum(1 for i in range(begin_count)
                       if not _bit(p.ellipsis_mask, i) and _bit(p.new_axis_mask, i))
    effective_dims = input_dims + num_add_axis
    effective_ellipsis, effective_new_axis = 0, 0
    ellipsis_start, expanded_ellipsis = effective_dims, 0
    i = 0
    while i < effective_dims:
        if _bit(p.ellipsis_mask, i):
            ellipsis_start = i
            ellipsis_end = max(i + 1, min(i + 1 + num_add_axis + input_dims - begin_count, effective_dims))
            expanded_ellipsis = ellipsis_end - ellipsis_start - 1
            while i < ellipsis_end:
                effective_ellipsis |= 1 << i
                i += 1
            continue
        if _bit(p.new_axis_mask, i - expanded_ellipsis):
            effective_new_axis |= 1 << i
        i += 1
    starts, stops, steps, shape, keep = [], [], [], [], []
    added_ellipsis, added_axes = 0, 0

    def input_dim(k: int) -> int:
        if not 0 <= k < input_dims:  # input_shape.Dims(k) past the input's rank: LiteRT reads garbage
            raise fail(f"the masks make the slice read dimension {k} of a rank-{input_dims} input (undefined in "
                       "LiteRT)")
        return input_shape[k]

    for i in range(effective_dims):
        begin_masked = end_masked = shrink = False
        if _bit(effective_ellipsis, i):
            added_ellipsis = max(0, i - ellipsis_start)
            start_index, stop_index, stride = 0, 0, 1
            begin_masked = end_masked = True
            size = input_dim(i - added_axes)
        elif _bit(effective_new_axis, i):
            start_index, stop_index, stride = 0, 1, 1
            size = 1
            added_axes += 1
        elif i >= begin_count + expanded_ellipsis:
            start_index, stop_index, stride = 0, 0, 1
            begin_masked = end_masked = True
            size = input_dim(i - added_axes)
        else:
            original = i - added_ellipsis
            if original >= begin_count:  # strided_slice.cc reads begin_data[orig_idx] past the tensor
                raise fail(f"the masks make axis {i} read begin, end and strides element {original} of "
                           f"{begin_count}: LiteRT reads past those tensors (undefined)")
            start_index, stop_index, stride = begin[original], end[original], strides[original]
            begin_masked = _bit(p.begin_mask, original)
            end_masked = _bit(p.end_mask, original)
            shrink = _bit(p.shrink_axis_mask, original)
            size = input_dim(i - added_axes)
        if stride == 0:
            raise fail("stride value has to be non-zero")
        if stride == -(1 << 31):  # strided_slice.cc: at Prepare for constant strides, at Invoke otherwise
            raise fail("stride value INT32_MIN is not supported")
        lo, hi = (0, size) if stride > 0 else (-1, size - 1)
        start = start_index + size if start_index < 0 else start_index
        start = _clamp_index(start, lo, hi)
        if begin_masked:
            start = 0 if stride > 0 else size - 1
        if shrink:
            if not 0 <= start < size:
                raise fail(f"shrink_axis index {start_index} is out of range for an axis of {size}")
            stop = start + 1
        else:
            stop = stop_index + start if p.offset else stop_index
            stop = stop + size if stop < 0 else stop
            stop = _clamp_index(stop, lo, hi)
            if end_masked:
                stop = size if stride > 0 else -1
        starts.append(start)
        stops.append(stop)
        steps.append(stride)
        shape.append(size)
        count = len(range(start, stop, stride))
        if not shrink:
            if p.offset and _strided_count(stop_index, stride) != count:  # the size comes from `end` itself
                    raise fail(f"offset slice of {stop_index} from {start_index} leaves the axis of {size} "
                               "(LiteRT would not fill its output)")
            keep.append(count)
    # ranges, not index arrays: Prepare needs only the output shape, which may be far over the memory limit
    # (checked after Prepare); the kernel makes the index arrays once the output's size has been allowed
    ranges = [range(s, e, k) for s, e, k in zip(starts, stops, steps)]
    return tuple(shape), ranges, tuple(keep)


def _strided_count(extent: int, stride: int) -> int:
    """ResizeOutputTensor: how many elements a span of ``extent`` (end - begin) holds at ``stride``."""
    if (extent < 0) != (stride < 0):
        return 0
    if stride < 0:
        return (extent + 1) // stride + 1  # both negative: the quotient is >= 0, floor == C truncation
    return 0 if extent == 0 else (extent - 1) // stride + 1


def _int_tuple(tensor) -> tuple[int, ...] | None:
    return tuple(int(v) for v in tensor.data.reshape(-1)) if tensor.is_constant else None


def prepare_strided_slice(ctx: OpContext) -> StridedSliceParams:
    ctx.check_inputs(4, 4)
    x, begin, end, strides, y = (ctx.require_input(0), ctx.require_input(1), ctx.require_input(2),
                                 ctx.require_input(3), ctx.output(0))
    ctx.check_same_type(x, y)
    if x.dtype is None:
        raise ctx.unsupported(f"input type {x.type_name}")
    for role, t in (("begin", begin), ("end", end), ("strides", strides)):
        if len(ctx.shape(t)) != 1:
            raise ctx.fail(f"{role} must be 1-D, got shape {list(ctx.shape(t))}")
        if t.type_name != "int32":
            raise ctx.fail(f"{role} is {t.type_name}; TFLite supports int32 only")
    count = ctx.shape(begin)[0]
    if ctx.shape(end)[0] != count or ctx.shape(strides)[0] != count:
        raise ctx.fail("begin, end and strides must have the same number of elements")
    if count > 31:
        raise ctx.fail("StridedSlice supports up to 31 indices")
    o = ctx.options
    p = StridedSliceParams(int(o.get("begin_mask", 0)), int(o.get("end_mask", 0)), int(o.get("ellipsis_mask", 0)),
                           int(o.get("new_axis_mask", 0)), int(o.get("shrink_axis_mask", 0)),
                           bool(o.get("offset", False)), _int_tuple(begin), _int_tuple(end), _int_tuple(strides))
    if p.offset and (p.ellipsis_mask or p.new_axis_mask or count != len(ctx.shape(x))):
        raise ctx.unsupported("offset=True with ellipsis/new_axis masks or fewer indices than the input rank")
    x_shape = ctx.shape(x)
    if p.begin is not None and p.end is not None and p.strides is not None:
        ctx.set_output_shape(0, strided_slice_plan(p, x_shape, p.begin, p.end, p.strides, ctx.fail)[2])
    else:
        def output_shape(inputs) -> tuple[int, ...]:
            def indices(fixed: tuple[int, ...] | None, value: np.ndarray) -> tuple[int, ...]:
                return fixed if fixed is not None else tuple(int(v) for v in np.reshape(value, -1))
            return strided_slice_plan(p, x_shape, indices(p.begin, inputs[1]), indices(p.end, inputs[2]),
                                      indices(p.strides, inputs[3]), EvalError)[2]
        ctx.set_output_shape(0, output_shape)
    return p


def strided_slice_spec(p: StridedSliceParams, x: np.ndarray, begin: np.ndarray, end: np.ndarray,
                       strides: np.ndarray) -> np.ndarray:
    def indices(fixed: tuple[int, ...] | None, value: np.ndarray) -> tuple[int, ...]:
        return fixed if fixed is not None else tuple(int(v) for v in np.reshape(value, -1))

    shape, ranges, output_shape = strided_slice_plan(p, x.shape, indices(p.begin, begin), indices(p.end, end),
                                                     indices(p.strides, strides), EvalError)
    if not shape:  # a scalar input: LiteRT writes its one element
        return np.array(x).reshape(output_shape)
    selected = np.reshape(x, shape)[np.ix_(*(np.arange(r.start, r.stop, r.step, dtype=np.int64) for r in ranges))]
    return np.ascontiguousarray(selected).reshape(output_shape)


# ------------------------------------------------------------------------------------------------
# SHAPE (shape.cc): the input's shape as a 1-D tensor of ShapeOptions.out_type (int32 or int64).

SHAPE_OUT_TYPES = {2: np.dtype(np.int32), 4: np.dtype(np.int64)}  # TensorType INT32, INT64


@dataclass(frozen=True)
class ShapeParams:
    dtype: np.dtype


def prepare_shape(ctx: OpContext) -> ShapeParams:
    ctx.check_inputs(1, 1)
    out_type = int(ctx.options.get("out_type", -1))
    dtype = SHAPE_OUT_TYPES.get(out_type)
    if dtype is None:
        raise ctx.fail(f"out_type {out_type} is not INT32 or INT64")
    if ctx.output(0).dtype != dtype:
        raise ctx.fail(f"output is {ctx.output(0).type_name} but out_type is {dtype}")
    ctx.set_output_shape(0, (len(ctx.shape(ctx.require_input(0))),))
    return ShapeParams(dtype)


def shape_spec(p: ShapeParams, x: np.ndarray) -> np.ndarray:
    return np.array(x.shape, dtype=p.dtype)


# ------------------------------------------------------------------------------------------------
# PACK (pack.cc): stack `values_count` same-shape, same-type inputs along a new `axis` (negative: counts
# from the end of the output rank). Every input's scale and zero point must equal the output's.

PACK_TYPES = ("int8", "uint8", "int16", "int32", "uint32", "int64", "float32")


@dataclass(frozen=True)
class PackParams:
    axis: int


def prepare_pack(ctx: OpContext) -> PackParams:
    values_count = int(ctx.options.get("values_count", 0))
    if ctx.num_inputs != values_count or values_count < 1:
        raise ctx.fail(f"has {ctx.num_inputs} inputs but values_count {values_count}")
    inputs = [ctx.require_input(i) for i in range(values_count)]
    y = ctx.output(0)
    ctx.check_dtype(inputs[0], PACK_TYPES, "input")
    rank = len(ctx.shape(inputs[0]))
    axis = int(ctx.options.get("axis", 0))
    if axis < 0:
        axis += rank + 1
    if not 0 <= axis <= rank:
        raise ctx.fail(f"axis {ctx.options.get('axis', 0)} outside [-{rank + 1}, {rank}]")
    for t in inputs[1:]:
        if ctx.shape(t) != ctx.shape(inputs[0]) or t.type_name != inputs[0].type_name:
            raise ctx.fail("inputs must have the same shape and type")
    ctx.check_same_type(inputs[0], y)
    output_q = per_tensor_qparams_or_identity(y)
    for t in inputs:
        scale, zero_point = per_tensor_qparams_or_identity(t)
        if zero_point != output_q[1] or np.float32(scale) != np.float32(output_q[0]):
            raise ctx.fail(f"input {t.index} quantization differs from the output's (TFLite requires equal)")
    shape = ctx.shape(inputs[0])
    ctx.set_output_shape(0, (*shape[:axis], values_count, *shape[axis:]))
    return PackParams(axis)


def pack_spec(p: PackParams, *inputs: np.ndarray) -> np.ndarray:
    return np.stack(inputs, axis=p.axis)


# ------------------------------------------------------------------------------------------------
# TILE (tile.cc): repeat the input `multiples[i]` times along axis i; multiples is int32 or int64 with one
# entry per input dimension.


@dataclass(frozen=True)
class TileParams:
    multiples: tuple[int, ...] | None  # None: from a non-constant input at eval


def _check_multiples(values: np.ndarray, rank: int, fail) -> tuple[int, ...]:
    values = np.asarray(values).reshape(-1)
    if values.size != rank:
        raise fail(f"multiples has {values.size} entries for a rank-{rank} input")
    if np.any(values < 0):
        raise fail(f"multiples {values.tolist()} has a negative entry")
    return tuple(int(v) for v in values)


def _tiled_shape(shape: tuple[int, ...], multiples: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(d * m for d, m in zip(shape, multiples))


def prepare_tile(ctx: OpContext) -> TileParams:
    ctx.check_inputs(2, 2)
    x, multiples, y = ctx.require_input(0), ctx.require_input(1), ctx.output(0)
    ctx.check_same_type(x, y)
    if x.dtype is None:
        raise ctx.unsupported(f"input type {x.type_name}")
    if multiples.type_name not in ("int32", "int64"):
        raise ctx.fail(f"multiples of type {multiples.type_name} (TFLite supports int32, int64)")
    x_shape = ctx.shape(x)
    rank = len(x_shape)
    if multiples.is_constant:
        fixed = _check_multiples(multiples.data, rank, ctx.fail)
        ctx.set_output_shape(0, _tiled_shape(x_shape, fixed))
        return TileParams(fixed)
    ctx.set_output_shape(0, lambda inputs: _tiled_shape(x_shape, _check_multiples(inputs[1], rank, EvalError)))
    return TileParams(None)


def tile_spec(p: TileParams, x: np.ndarray, multiples: np.ndarray) -> np.ndarray:
    reps = p.multiples if p.multiples is not None else _check_multiples(multiples, x.ndim, EvalError)
    if x.ndim == 0:
        return np.array(x)
    return np.tile(x, reps)


# ------------------------------------------------------------------------------------------------
# explain: one output element, step by step (``refinterp explain``; refinterp/ops/trace.py)


def explain_reshape(ctx: OpContext, p: ReshapeParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """RESHAPE output ``index``: the element at the same position in row-major order."""
    x = inputs[0]
    shape = p.output_shape if p.output_shape is not None else _resolve_shape(
        tuple(int(v) for v in inputs[1]), x.size, EvalError)
    flat = trace.add("row-major position", int(np.ravel_multi_index(index, shape)) if shape else 0,
                     f"element {list(index)} of shape {list(shape)}, counted in row-major order")
    source = tuple(int(i) for i in np.unravel_index(flat, x.shape)) if x.shape else ()
    trace.add("input element", list(source), f"position {flat} of the input's shape {list(x.shape)}")
    value = np.asarray(x)[source]
    if p.output_dtype is not None:
        value = np.asarray(value).view(p.output_dtype)[()]
        trace.add("output", value.item(), f"the bytes of input{list(source)} read as {p.output_dtype}")
    else:
        trace.add("output", value.item(), f"input{list(source)} copied (no arithmetic)")
    trace.approximates_stored(value, ctx.output(0).quantization)
    return value.item()


def explain_concatenation(ctx: OpContext, p: ConcatenationParams, inputs: list, index: tuple[int, ...],
                          trace) -> object:
    """CONCATENATION output ``index``: which input it comes from, at which position; uint8 inputs of another scale
    are rescaled (``round(f32(q * scale + bias)) + zp_out``)."""
    offset = int(index[p.axis])
    start, position = 0, 0
    while offset >= start + inputs[position].shape[p.axis]:
        start += inputs[position].shape[p.axis]
        position += 1
    x, rescale = inputs[position], p.rescale[position]
    source = tuple(int(i) - (start if axis == p.axis else 0) for axis, i in enumerate(index))
    trace.add("source input", position, f"along axis {p.axis}, input {position} covers positions {start} to "
              f"{start + x.shape[p.axis] - 1} (tensor {ctx.op.inputs[position]})")
    q = np.asarray(x)[source]
    trace.add("input element", q.item(), f"input {position} at {list(source)}")
    if rescale is None:
        trace.add("output", q.item(), "copied: the input shares the output's scale and zero point (int8 and int16 "
                  "require it)" if x.dtype != np.uint8 else "copied: same scale and zero point")
        trace.approximates_stored(q, ctx.output(0).quantization)
        return q.item()
    scale, bias = rescale
    exact = np.float32(np.float32(q) * scale + bias)
    trace.add("rescaled", float(exact), f"f32({int(q)} * {float(scale)!r} + {float(bias)!r}): s_in / s_out and "
              "-zp_in * s_in / s_out, in float32")
    rounded = int(round_half_away_f32(exact)) + p.output_zero_point
    trace.add("rounded plus output zero point", rounded, f"round({float(exact)!r}) + {p.output_zero_point}",
              rule="round to nearest, ties away from zero")
    value = trace.clamp(rounded, 0, 255, "uint8")
    in_scale, in_zero_point = per_tensor_qparams_or_identity(ctx.require_input(position))
    out_scale = per_tensor_qparams_or_identity(ctx.output(0))[0]
    trace.approximates(in_scale * (int(q) - in_zero_point), out_scale, p.output_zero_point, (0, 255))
    return int(value)


def explain_pad(ctx: OpContext, p: PadParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """PAD / PADV2 output ``index``: inside the input, the input element; in the padding, the pad value."""
    x = inputs[0]
    widths = p.paddings if p.paddings is not None else _check_paddings(inputs[1], x.ndim, EvalError)
    source = tuple(int(i) - before for i, (before, _) in zip(index, widths))
    trace.add("paddings", [list(w) for w in widths], "(before, after) per dimension")
    inside = all(0 <= s < d for s, d in zip(source, x.shape))
    if inside:
        value = np.asarray(x)[source]
        trace.add("input element", list(source), f"output {list(index)} minus the paddings before: inside the input")
        trace.add("output", value.item(), "copied")
    else:
        pad_value = p.pad_value if p.pad_value is not None else np.asarray(inputs[2]).reshape(-1)[0]
        value = np.array(pad_value, dtype=p.dtype)
        trace.add("in the padding", list(source), f"output {list(index)} minus the paddings before is outside the "
                  f"input {list(x.shape)}")
        trace.add("output", value.item(), "the pad value: constant_values, or the output zero point (quantized) or 0")
    trace.approximates_stored(value, ctx.output(0).quantization)
    return value.item()


def explain_shape(ctx: OpContext, p: ShapeParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """SHAPE output ``index``: the size of input dimension ``index[0]`` (shape.cc), as out_type."""
    shape = list(np.asarray(inputs[0]).shape)
    trace.add("input shape", shape, f"the input's {len(shape)} dimensions")
    value = np.asarray(shape[int(index[0])], dtype=p.dtype).item()
    trace.add("output", value, f"dimension {int(index[0])}, as {np.dtype(p.dtype).name}")
    return value

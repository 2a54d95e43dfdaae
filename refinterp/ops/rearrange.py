"""Data movement II: SPLIT, SPLIT_V, UNPACK, SQUEEZE, EXPAND_DIMS, SLICE, REVERSE_V2, DEPTH_TO_SPACE,
SPACE_TO_DEPTH, BATCH_TO_SPACE_ND, SPACE_TO_BATCH_ND, MIRROR_PAD, BROADCAST_TO, BROADCAST_ARGS, FILL, ZEROS_LIKE.

Every operator here copies raw values: no rescaling, ever. Where LiteRT's Prepare requires an input's and
output's scale and zero point to be equal (UNPACK, EXPAND_DIMS, BATCH_TO_SPACE_ND, SPACE_TO_BATCH_ND,
MIRROR_PAD, FILL) refinterp refuses the model as LiteRT does; the others (SPLIT, SPLIT_V, SQUEEZE, SLICE,
REVERSE_V2, DEPTH_TO_SPACE, SPACE_TO_DEPTH, BROADCAST_TO) copy the raw values whatever the output's
parameters say, as LiteRT does. Each section names the TFLite source it follows (``tflite/kernels/<op>.cc``,
LiteRT 2.3.0, whose checks were measured where they differ from older TensorFlow sources).

A shape that depends on an input's values (SPLIT's axis, SPLIT_V's sizes, EXPAND_DIMS' axis, SLICE's begin
and size, the block and padding tensors, MIRROR_PAD's paddings, BROADCAST_TO's shape, FILL's dims) is
resolved at prepare when that input is a constant and at eval otherwise, with the same checks (a refusal at
eval is an EvalError, as LiteRT fails at invoke). Every prepare says its outputs' shapes
(``ctx.set_output_shape``: a tuple, or a function of the input values for those known only at invoke), so
that the interpreter checks them against the model and its memory limits before a kernel allocates anything.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from refinterp.errors import EvalError, RefinterpError, shown
from refinterp.model import Tensor
from refinterp.ops.common import OpContext, per_tensor_qparams_or_identity

Fail = Callable[[str], RefinterpError]

# The dtypes each kernel takes (LiteRT 2.3.0, measured: the other types are refused at Prepare or Eval).
SPLIT_TYPES = ("int8", "uint8", "int16", "int32", "int64", "float32")
UNPACK_TYPES = ("int8", "uint8", "int16", "int32", "float32", "bool", "float16")
REVERSE_TYPES = ("int8", "uint8", "int16", "int32", "int64", "float32", "bool", "float16")
DEPTH_SPACE_TYPES = ("int8", "uint8", "int32", "int64", "float32")
ZEROS_LIKE_TYPES = ("int32", "int64", "float32")
SHAPE_TYPES = ("int32", "int64")


def _require_holdable(ctx: OpContext, tensor: Tensor, role: str) -> None:
    if tensor.dtype is None:
        raise ctx.unsupported(f"{role} type {tensor.type_name}")


def _require_output_type(ctx: OpContext, output: Tensor, type_name: str) -> None:
    """LiteRT sets the output's type itself; refinterp keeps the declared one, so they must agree."""
    if output.type_name != type_name:
        raise ctx.unsupported(f"output {output.index} is declared {output.type_name}; LiteRT makes it "
                              f"{type_name} (refinterp runs the declared types only)")


def _require_same_qparams(ctx: OpContext, x: Tensor, y: Tensor) -> None:
    """TF_LITE_ENSURE_EQ on ``params.scale`` (float) and ``params.zero_point``."""
    x_scale, x_zero_point = per_tensor_qparams_or_identity(x)
    y_scale, y_zero_point = per_tensor_qparams_or_identity(y)
    if np.float32(x_scale) != np.float32(y_scale) or x_zero_point != y_zero_point:
        raise ctx.fail(f"tensor {y.index} has scale {y_scale:g} and zero point {y_zero_point}, tensor {x.index} "
                       f"{x_scale:g} and {x_zero_point}: LiteRT requires them equal")


def _int16_zero_point_zero(ctx: OpContext, *tensors: Tensor) -> None:
    for t in tensors:
        if t.type_name == "int16" and per_tensor_qparams_or_identity(t)[1] != 0:
            raise ctx.fail(f"int16 tensor {t.index} has a non-zero zero point")


def _constant_ints(tensor: Tensor) -> tuple[int, ...] | None:
    return tuple(int(v) for v in np.asarray(tensor.data).reshape(-1)) if tensor.is_constant else None


def _ints(value: np.ndarray) -> tuple[int, ...]:
    return tuple(int(v) for v in np.asarray(value).reshape(-1))


def _check_axis_tensor(ctx: OpContext, tensor: Tensor, role: str) -> None:
    """An axis tensor LiteRT reads as ``GetTensorData<int>(tensor)[0]``: int32, or int64 (whose low word is the
    value for any axis in int32 range); not empty."""
    if tensor.type_name not in SHAPE_TYPES:
        raise ctx.unsupported(f"{role} of type {tensor.type_name} (LiteRT reads it as int32)")
    if math.prod(ctx.shape(tensor)) < 1:
        raise ctx.fail(f"{role} tensor is empty")


def _output_is_static(tensor: Tensor) -> bool:
    return all(d >= 0 for d in tensor.shape_signature)


# ------------------------------------------------------------------------------------------------
# SPLIT (split.cc): input 0 is the axis (one int32, negative counts from the end), input 1 the tensor, cut
# into `num_splits` equal parts along the axis (the axis size must be a multiple of num_splits).


@dataclass(frozen=True)
class SplitParams:
    num_splits: int
    axis: int | None  # None: from a non-constant axis input at eval


def _split_axis(value: int, rank: int, size_of: Callable[[int], int], num_splits: int, fail: Fail) -> int:
    axis = value + rank if value < 0 else value
    if not 0 <= axis < rank:
        raise fail(f"axis {value} is outside a rank-{rank} input")
    if num_splits == 0 or size_of(axis) % num_splits:
        raise fail(f"not an even split: dimension {axis} of size {size_of(axis)} into {num_splits} parts")
    return axis


def prepare_split(ctx: OpContext) -> SplitParams:
    ctx.check_inputs(2, 2)
    axis_tensor, x = ctx.require_input(0), ctx.require_input(1)
    num_splits = int(ctx.options.get("num_splits", 0))
    if len(ctx.op.outputs) != num_splits:
        raise ctx.fail(f"has {len(ctx.op.outputs)} outputs but num_splits {num_splits}")
    if x.type_name not in SPLIT_TYPES:
        raise ctx.fail(f"input type {x.type_name} (LiteRT's SPLIT takes {', '.join(SPLIT_TYPES)})")
    for i in range(num_splits):
        _require_output_type(ctx, ctx.output(i), x.type_name)
    _check_axis_tensor(ctx, axis_tensor, "axis")
    shape = ctx.shape(x)
    axis = None
    if axis_tensor.is_constant:
        axis = _split_axis(_constant_ints(axis_tensor)[0], len(shape), lambda a: shape[a], num_splits, ctx.fail)
    for i in range(num_splits):
        if axis is not None:
            ctx.set_output_shape(i, _split_part_shape(shape, axis, num_splits))
        else:
            ctx.set_output_shape(i, lambda inputs: _split_part_shape(
                inputs[1].shape, _split_axis(_ints(inputs[0])[0], inputs[1].ndim, lambda d: inputs[1].shape[d],
                                             num_splits, EvalError), num_splits))
    return SplitParams(num_splits, axis)


def _split_part_shape(shape: tuple[int, ...], axis: int, num_splits: int) -> tuple[int, ...]:
    return tuple(d // num_splits if i == axis else d for i, d in enumerate(shape))


def split_spec(p: SplitParams, axis: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, ...]:
    a = p.axis
    if a is None:
        a = _split_axis(_ints(axis)[0], x.ndim, lambda d: x.shape[d], p.num_splits, EvalError)
    return tuple(np.ascontiguousarray(part) for part in np.split(x, p.num_splits, axis=a))


# ------------------------------------------------------------------------------------------------
# SPLIT_V (split_v.cc): inputs (tensor, size_splits, axis). size_splits (1-D int32/int64, one entry per
# output) gives each part's size along the axis; one entry may be -1 (the rest of the axis). The sizes must
# add up to the axis size exactly.


@dataclass(frozen=True)
class SplitVParams:
    sizes: tuple[int, ...] | None  # resolved sizes, None: at eval
    axis: int | None


def _split_v_plan(sizes: tuple[int, ...], axis_value: int, shape: tuple[int, ...],
                  fail: Fail) -> tuple[tuple[int, ...], int]:
    rank = len(shape)
    axis = axis_value + rank if axis_value < 0 else axis_value
    if not 0 <= axis < rank:
        raise fail(f"axis {axis_value} is outside a rank-{rank} input")
    unknown = [i for i, s in enumerate(sizes) if s == -1]
    if len(unknown) > 1:
        raise fail(f"size_splits {list(sizes)} contains more than one -1")
    known = sum(s for s in sizes if s != -1)
    if unknown:
        if known > shape[axis]:
            raise fail(f"size_splits {list(sizes)} add up to more than the axis size {shape[axis]}")
        sizes = tuple(shape[axis] - known if s == -1 else s for s in sizes)
    elif known != shape[axis]:
        raise fail(f"size_splits {list(sizes)} do not add up to the axis size {shape[axis]}")
    if any(s < 0 for s in sizes):
        raise fail(f"size_splits {list(sizes)} has a negative size")
    return sizes, axis


def prepare_split_v(ctx: OpContext) -> SplitVParams:
    ctx.check_inputs(3, 3)
    x, size_splits, axis_tensor = ctx.require_input(0), ctx.require_input(1), ctx.require_input(2)
    num_splits = int(ctx.options.get("num_splits", 0))
    if len(ctx.op.outputs) != num_splits:
        raise ctx.fail(f"has {len(ctx.op.outputs)} outputs but num_splits {num_splits}")
    if x.type_name not in SPLIT_TYPES:
        raise ctx.fail(f"input type {x.type_name} (LiteRT's SPLIT_V takes {', '.join(SPLIT_TYPES)})")
    for i in range(num_splits):
        _require_output_type(ctx, ctx.output(i), x.type_name)
    if len(ctx.shape(size_splits)) != 1 or ctx.shape(size_splits)[0] != num_splits:
        raise ctx.fail(f"size_splits has shape {list(ctx.shape(size_splits))}, expected [{num_splits}]")
    if size_splits.type_name not in SHAPE_TYPES:
        raise ctx.fail(f"size_splits of type {size_splits.type_name} (LiteRT takes int32, int64)")
    _check_axis_tensor(ctx, axis_tensor, "axis")
    shape = ctx.shape(x)
    if size_splits.is_constant and axis_tensor.is_constant:
        sizes, axis = _split_v_plan(_constant_ints(size_splits), _constant_ints(axis_tensor)[0], shape, ctx.fail)
        for i, size in enumerate(sizes):
            ctx.set_output_shape(i, _with_dim(shape, axis, size))
        return SplitVParams(sizes, axis)
    for i in range(num_splits):
        ctx.set_output_shape(i, lambda inputs, i=i: _split_v_output(inputs, i))
    return SplitVParams(None, None)


def _with_dim(shape: tuple[int, ...], axis: int, size: int) -> tuple[int, ...]:
    return tuple(size if d == axis else n for d, n in enumerate(shape))


def _split_v_output(inputs, i: int) -> tuple[int, ...]:
    x, size_splits, axis = inputs
    sizes, a = _split_v_plan(_ints(size_splits), _ints(axis)[0], x.shape, EvalError)
    return _with_dim(x.shape, a, sizes[i])


def split_v_spec(p: SplitVParams, x: np.ndarray, size_splits: np.ndarray,
                 axis: np.ndarray) -> tuple[np.ndarray, ...]:
    sizes, a = p.sizes, p.axis
    if sizes is None or a is None:
        sizes, a = _split_v_plan(_ints(size_splits), _ints(axis)[0], x.shape, EvalError)
    bounds = np.cumsum(sizes)[:-1]
    return tuple(np.ascontiguousarray(part) for part in np.split(x, bounds, axis=a))


# ------------------------------------------------------------------------------------------------
# UNPACK (unpack.cc): `num` outputs, the slices of the input along `axis` (negative: counts from the end);
# num must equal that axis' size and the input must not be empty. Each output's type, scale and zero point
# must equal the input's (TFLM, profile "tflm", does not check the scale and zero point).


@dataclass(frozen=True)
class UnpackParams:
    axis: int


def prepare_unpack(ctx: OpContext) -> UnpackParams:
    ctx.check_inputs(1, 1)
    x = ctx.require_input(0)
    num = int(ctx.options.get("num", 0))
    if len(ctx.op.outputs) != num:
        raise ctx.fail(f"has {len(ctx.op.outputs)} outputs but num {num}")
    shape = ctx.shape(x)
    if math.prod(shape) < 1:
        raise ctx.fail("the input is empty (LiteRT requires at least one element)")
    axis = int(ctx.options.get("axis", 0))
    axis = axis + len(shape) if axis < 0 else axis
    if not 0 <= axis < len(shape):
        raise ctx.fail(f"axis {ctx.options.get('axis', 0)} is outside a rank-{len(shape)} input")
    if x.type_name not in UNPACK_TYPES:
        raise ctx.fail(f"input type {x.type_name} (LiteRT's UNPACK takes {', '.join(UNPACK_TYPES)})")
    if num != shape[axis]:
        raise ctx.fail(f"num {num} differs from the size {shape[axis]} of axis {axis}")
    for i in range(num):
        ctx.check_same_type(x, ctx.output(i))
        if ctx.profile != "tflm":  # TFLM does not check it: it copies the raw values
            _require_same_qparams(ctx, x, ctx.output(i))
        ctx.set_output_shape(i, shape[:axis] + shape[axis + 1:])
    return UnpackParams(axis)


def unpack_spec(p: UnpackParams, x: np.ndarray) -> tuple[np.ndarray, ...]:
    return tuple(np.array(np.take(x, i, axis=p.axis)) for i in range(x.shape[p.axis]))


# ------------------------------------------------------------------------------------------------
# SQUEEZE (squeeze.cc): drop the listed dimensions of size 1 (`squeeze_dims`, negative counting from the
# end, repeats allowed), or every dimension of size 1 when the list is empty. Up to 8-D. A byte copy: the
# output's scale and zero point are not checked.

SQUEEZE_MAX_RANK = 8


@dataclass(frozen=True)
class SqueezeParams:
    output_shape: tuple[int, ...]


def prepare_squeeze(ctx: OpContext) -> SqueezeParams:
    ctx.check_inputs(1, 1)
    x, y = ctx.require_input(0), ctx.output(0)
    _require_holdable(ctx, x, "input")
    if y.type_name != x.type_name:
        raise ctx.unsupported(f"input is {x.type_name} but output is {y.type_name} (LiteRT copies the bytes)")
    shape = ctx.shape(x)
    if len(shape) > SQUEEZE_MAX_RANK:
        raise ctx.fail(f"input rank {len(shape)} exceeds {SQUEEZE_MAX_RANK}")
    dims = tuple(int(d) for d in ctx.options.get("squeeze_dims", ()) or ())
    if not dims:
        squeezed = {i for i, d in enumerate(shape) if d == 1}
    else:
        squeezed = set()
        for d in dims:
            axis = d + len(shape) if d < 0 else d
            if not 0 <= axis < len(shape) or shape[axis] != 1:
                raise ctx.fail(f"squeeze_dims {list(dims)}: dimension {d} is not a dimension of size 1 of "
                               f"shape {list(shape)}")
            squeezed.add(axis)
    return SqueezeParams(tuple(d for i, d in enumerate(shape) if i not in squeezed))


def squeeze_spec(p: SqueezeParams, x: np.ndarray) -> np.ndarray:
    return np.array(x).reshape(p.output_shape)


# ------------------------------------------------------------------------------------------------
# EXPAND_DIMS (expand_dims.cc): insert a dimension of size 1 at `axis` (input 1: one int32 or int64 value;
# negative counts from the end of the output rank, i.e. axis + rank + 1). The output's scale and zero point
# must equal the input's (LiteRT 2.3.0 checks both, whatever the type).


@dataclass(frozen=True)
class ExpandDimsParams:
    axis: int | None  # None: from a non-constant axis input at eval


def _expand_axis(value: int, rank: int, fail: Fail) -> int:
    axis = value + rank + 1 if value < 0 else value
    if not 0 <= axis <= rank:
        raise fail(f"axis {value} is outside [-{rank + 1}, {rank}] for a rank-{rank} input")
    return axis


def prepare_expand_dims(ctx: OpContext) -> ExpandDimsParams:
    ctx.check_inputs(2, 2)
    x, axis_tensor, y = ctx.require_input(0), ctx.require_input(1), ctx.output(0)
    _require_holdable(ctx, x, "input")
    _require_output_type(ctx, y, x.type_name)
    _require_same_qparams(ctx, x, y)
    if math.prod(ctx.shape(axis_tensor)) != 1:
        raise ctx.fail(f"axis has {math.prod(ctx.shape(axis_tensor))} elements, expected 1")
    if axis_tensor.type_name not in SHAPE_TYPES:
        raise ctx.fail(f"axis of type {axis_tensor.type_name} (LiteRT takes int32, int64)")
    shape = ctx.shape(x)
    if axis_tensor.is_constant:
        axis = _expand_axis(_constant_ints(axis_tensor)[0], len(shape), ctx.fail)
        ctx.set_output_shape(0, shape[:axis] + (1,) + shape[axis:])
        return ExpandDimsParams(axis)
    ctx.set_output_shape(0, lambda inputs: _expanded_shape(inputs[0].shape, _ints(inputs[1])[0]))
    return ExpandDimsParams(None)


def _expanded_shape(shape: tuple[int, ...], value: int) -> tuple[int, ...]:
    axis = _expand_axis(value, len(shape), EvalError)
    return shape[:axis] + (1,) + shape[axis:]


def expand_dims_spec(p: ExpandDimsParams, x: np.ndarray, axis: np.ndarray) -> np.ndarray:
    a = p.axis if p.axis is not None else _expand_axis(_ints(axis)[0], x.ndim, EvalError)
    return np.expand_dims(np.array(x), a)


# ------------------------------------------------------------------------------------------------
# SLICE (slice.cc): out = x[begin[0]:begin[0]+size[0], ...]. begin and size are 1-D, of one type (int32 or
# int64), one entry per input dimension; begin >= 0; size -1 means "to the end", any other size must be
# >= 0 and fit. LiteRT 2.3.0 then requires the result to match a static output shape exactly (at Prepare
# when begin and size are constants, at Eval otherwise).


@dataclass(frozen=True)
class SliceParams:
    begin: tuple[int, ...] | None  # None: from non-constant inputs at eval
    size: tuple[int, ...] | None  # resolved (no -1 left)
    declared: tuple[int, ...] | None  # the static output shape LiteRT checks the result against


def _slice_plan(shape: tuple[int, ...], begin: tuple[int, ...], size: tuple[int, ...],
                declared: tuple[int, ...] | None, fail: Fail) -> tuple[int, ...]:
    sizes = []
    for dim, b, s in zip(shape, begin, size):
        if b < 0:
            raise fail(f"invalid begin {list(begin)} (negative)")
        if s < 0:
            if s != -1:
                raise fail(f"invalid size {list(size)}")
            if dim < b:
                raise fail(f"invalid begin {list(begin)} for shape {list(shape)}")
            s = dim - b
        elif dim < b or dim - b < s:
            raise fail(f"begin {list(begin)} and size {list(size)} leave shape {list(shape)}")
        sizes.append(s)
    if declared is not None and tuple(sizes) != declared:
        raise fail(f"the slice has shape {sizes}, the model declares {list(declared)}")
    return tuple(sizes)


def prepare_slice(ctx: OpContext) -> SliceParams:
    ctx.check_inputs(3, 3)
    x, begin, size, y = ctx.require_input(0), ctx.require_input(1), ctx.require_input(2), ctx.output(0)
    _require_holdable(ctx, x, "input")
    ctx.check_same_type(x, y)
    for role, t in (("begin", begin), ("size", size)):
        if t.type_name not in SHAPE_TYPES:
            raise ctx.fail(f"{role} of type {t.type_name} (LiteRT takes int32, int64)")
        if len(ctx.shape(t)) != 1 or ctx.shape(t)[0] != len(ctx.shape(x)):
            raise ctx.fail(f"{role} has shape {list(ctx.shape(t))}, expected [{len(ctx.shape(x))}]")
    if begin.type_name != size.type_name:
        raise ctx.fail(f"begin is {begin.type_name} but size is {size.type_name}")
    declared = y.shape if _output_is_static(y) else None
    if begin.is_constant and size.is_constant:
        b = _constant_ints(begin)
        sizes = _slice_plan(ctx.shape(x), b, _constant_ints(size), declared, ctx.fail)
        ctx.set_output_shape(0, sizes)
        return SliceParams(b, sizes, declared)
    ctx.set_output_shape(0, lambda inputs: _slice_plan(inputs[0].shape, _ints(inputs[1]), _ints(inputs[2]),
                                                       declared, EvalError))
    return SliceParams(None, None, declared)


def slice_spec(p: SliceParams, x: np.ndarray, begin: np.ndarray, size: np.ndarray) -> np.ndarray:
    b, s = p.begin, p.size
    if b is None or s is None:
        b = _ints(begin)
        s = _slice_plan(x.shape, b, _ints(size), p.declared, EvalError)
    return np.array(x[tuple(slice(start, start + n) for start, n in zip(b, s))])


# ------------------------------------------------------------------------------------------------
# REVERSE_V2 (reverse.cc): reverse the listed axes (input 1, int32; negative counts from the end). Up to
# 8-D. The axes are checked at Eval: in range, and, once sorted, contiguous (LiteRT reverses one block of
# adjacent axes; a repeated axis counts as non-contiguous). Refused by refinterp, because LiteRT crashes on
# them: an empty axis list (it reads axes[-1]), and an empty tensor whose reversed block is followed by an
# empty dimension while the block itself is not (it copies rows past the end of the output).

REVERSE_MAX_RANK = 8


@dataclass(frozen=True)
class ReverseParams:
    axes: tuple[int, ...] | None  # None: from a non-constant axis input at eval


def _reverse_axes(values: tuple[int, ...], rank: int, fail: Fail) -> tuple[int, ...]:
    if not values:
        raise fail("an empty axis list (LiteRT crashes on it)")
    if len(values) > REVERSE_MAX_RANK:
        raise fail(f"{len(values)} axes (at most {REVERSE_MAX_RANK})")
    axes = []
    for v in values:
        a = v + rank if v < 0 else v
        if not 0 <= a < rank:
            raise fail(f"axis {v} is outside a rank-{rank} input")
        axes.append(a)
    axes.sort()
    if any(b != a + 1 for a, b in zip(axes, axes[1:])):
        raise fail(f"axes {list(values)} are not contiguous (LiteRT supports one block of adjacent axes)")
    return tuple(axes)


def prepare_reverse_v2(ctx: OpContext) -> ReverseParams:
    ctx.check_inputs(2, 2)
    x, axis, y = ctx.require_input(0), ctx.require_input(1), ctx.output(0)
    if len(ctx.shape(axis)) != 1:
        raise ctx.fail(f"axis must be 1-D, got shape {list(ctx.shape(axis))}")
    rank = len(ctx.shape(x))
    if rank > REVERSE_MAX_RANK:
        raise ctx.fail(f"input rank {rank} exceeds {REVERSE_MAX_RANK}")
    if rank < ctx.shape(axis)[0]:
        raise ctx.fail(f"{ctx.shape(axis)[0]} axes for a rank-{rank} input")
    if x.type_name not in REVERSE_TYPES:
        raise ctx.fail(f"input type {x.type_name} (LiteRT's REVERSE_V2 takes {', '.join(REVERSE_TYPES)})")
    if axis.type_name != "int32":
        raise ctx.fail(f"axis of type {axis.type_name} (LiteRT takes int32)")
    ctx.check_same_type(x, y)
    if ctx.shape(axis)[0] == 0:
        raise ctx.fail("an empty axis list (LiteRT crashes on it)")
    # LiteRT checks the axis values at Eval, even when they are constants: so does refinterp
    ctx.set_output_shape(0, ctx.shape(x))
    return ReverseParams(_constant_ints(axis))


def reverse_v2_spec(p: ReverseParams, x: np.ndarray, axis: np.ndarray) -> np.ndarray:
    axes = _reverse_axes(p.axes if p.axes is not None else _ints(axis), x.ndim, EvalError)
    whole = axes[0] == 0 and axes[-1] == x.ndim - 1
    if not whole and x.size == 0 and math.prod(x.shape[axes[-1] + 1:]) == 0 and \
            math.prod(x.shape[:axes[-1] + 1]) > 0:
        # reference Reverse copies the reversed block row by row, past the end of an empty output: a crash
        raise EvalError(f"reversing axes {list(axes)} of an empty {list(x.shape)} tensor (LiteRT writes outside it)")
    return np.ascontiguousarray(np.flip(x, axis=axes))


# ------------------------------------------------------------------------------------------------
# DEPTH_TO_SPACE (depth_to_space.cc) and SPACE_TO_DEPTH (space_to_depth.cc), NHWC, block size b > 0:
#
#     depth_to_space: out[n, h*b + i, w*b + j, c] = in[n, h, w, (i*b + j)*C_out + c]   (C_in = b*b*C_out)
#     space_to_depth: the inverse (H and W must be multiples of b)
#
# No scale or zero point is checked: the raw values are moved.


@dataclass(frozen=True)
class BlockParams:
    block_size: int


def _prepare_depth_space(ctx: OpContext) -> tuple[int, tuple[int, ...]]:
    ctx.check_inputs(1, 1)
    x, y = ctx.require_input(0), ctx.output(0)
    shape = ctx.shape(x)
    if len(shape) != 4:
        raise ctx.fail(f"input must be 4-D, got shape {list(shape)}")
    if y.type_name not in DEPTH_SPACE_TYPES:
        raise ctx.fail(f"type {y.type_name} (LiteRT takes {', '.join(DEPTH_SPACE_TYPES)})")
    ctx.check_same_type(x, y)
    block = int(ctx.options.get("block_size", 0))
    if block <= 0:
        raise ctx.fail(f"block_size {block} must be positive")
    return block, shape


def prepare_depth_to_space(ctx: OpContext) -> BlockParams:
    block, (batch, height, width, channels) = _prepare_depth_space(ctx)
    if channels % (block * block):
        raise ctx.fail(f"{channels} input channels are not a multiple of block_size^2 = {block * block}")
    ctx.set_output_shape(0, (batch, height * block, width * block, channels // (block * block)))
    return BlockParams(block)


def depth_to_space_spec(p: BlockParams, x: np.ndarray) -> np.ndarray:
    n, h, w, c = x.shape
    b = p.block_size
    blocks = x.reshape(n, h, w, b, b, c // (b * b)).transpose(0, 1, 3, 2, 4, 5)
    return np.ascontiguousarray(blocks).reshape(n, h * b, w * b, c // (b * b))


def prepare_space_to_depth(ctx: OpContext) -> BlockParams:
    block, (batch, height, width, channels) = _prepare_depth_space(ctx)
    if height % block or width % block:
        raise ctx.fail(f"height {height} and width {width} must be multiples of block_size {block}")
    ctx.set_output_shape(0, (batch, height // block, width // block, channels * block * block))
    return BlockParams(block)


def space_to_depth_spec(p: BlockParams, x: np.ndarray) -> np.ndarray:
    n, h, w, c = x.shape
    b = p.block_size
    blocks = x.reshape(n, h // b, b, w // b, b, c).transpose(0, 1, 3, 2, 4, 5)
    return np.ascontiguousarray(blocks).reshape(n, h // b, w // b, b * b * c)


# ------------------------------------------------------------------------------------------------
# BATCH_TO_SPACE_ND (batch_to_space_nd.cc) and SPACE_TO_BATCH_ND (space_to_batch_nd.cc): 3-D (NHC, read as
# NH1C) or 4-D NHWC; block_shape (int32, one entry per spatial dimension, each >= 1) and crops / paddings
# (int32, [spatial, 2]). The input's and output's scale and zero point must be equal (int8, uint8, int16; an
# int16 zero point must be 0).
#
#     batch_to_space: in[(sh*b_w + sw)*B_out + b, h, w] goes to out[b, h*b_h + sh - crop_top, w*b_w + sw -
#                     crop_left] (crops >= 0; the output keeps what lands inside)
#     space_to_batch: out[(sh*b_w + sw)*B_in + b, h, w] = padded[b, h*b_h + sh, w*b_w + sw], where `padded`
#                     is the input with pad_top/pad_bottom (pad_left/right) rows of the pad value around it
#                     (a negative padding crops); the padded size must be a multiple of the block.
#
# The pad value is what LiteRT memsets each padded element's bytes to: the output zero point's low byte for
# 8- and 16-bit types, 0 for 32- and 64-bit types.


@dataclass(frozen=True)
class SpaceBatchParams:
    block: tuple[int, ...] | None  # None: from non-constant inputs at eval
    pads: tuple[tuple[int, int], ...] | None  # crops (BATCH_TO_SPACE_ND) or paddings (SPACE_TO_BATCH_ND)
    pad_value: np.ndarray | None  # SPACE_TO_BATCH_ND's pad element, as a 0-D array of the output type


def _prepare_space_batch(ctx: OpContext, role: str) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    ctx.check_inputs(3, 3)
    x, block, pads, y = ctx.require_input(0), ctx.require_input(1), ctx.require_input(2), ctx.output(0)
    _require_holdable(ctx, x, "input")
    rank = len(ctx.shape(x))
    if not 3 <= rank <= 4:
        raise ctx.fail(f"input must be 3-D or 4-D, got shape {list(ctx.shape(x))}")
    ctx.check_same_type(x, y)
    if x.type_name in ("int8", "uint8", "int16"):
        _require_same_qparams(ctx, x, y)
    _int16_zero_point_zero(ctx, x, y)
    for name, t in (("block_shape", block), (role, pads)):
        if t.type_name != "int32":
            raise ctx.unsupported(f"{name} of type {t.type_name} (LiteRT reads it as int32)")
        if ctx.profile == "tflm" and not t.is_constant:
            # TFLM keeps the declared output shape and computes garbage from non-constant ones (measured)
            raise ctx.unsupported(f"a non-constant {name} under profile tflm")
    return x, block, pads, y


def _space_batch_geometry(block_values: tuple[int, ...], pad_values: tuple[int, ...], block_shape: tuple[int, ...],
                          pads_shape: tuple[int, ...], rank: int, role: str,
                          fail: Fail) -> tuple[tuple[int, ...], tuple[tuple[int, int], ...]]:
    spatial = rank - 2
    if block_shape != (spatial,):
        raise fail(f"block_shape has shape {list(block_shape)}, expected [{spatial}]")
    if pads_shape != (spatial, 2):
        raise fail(f"{role} has shape {list(pads_shape)}, expected [{spatial}, 2]")
    if any(b < 1 for b in block_values):
        raise fail(f"block_shape {list(block_values)} must be positive")
    pairs = tuple((pad_values[2 * i], pad_values[2 * i + 1]) for i in range(spatial))
    return block_values, pairs


def _as_4d(x: np.ndarray) -> np.ndarray:
    return x if x.ndim == 4 else x.reshape(x.shape[0], x.shape[1], 1, x.shape[2])


def _batch_to_space_shape(shape: tuple[int, ...], block: tuple[int, ...], crops: tuple[tuple[int, int], ...],
                          fail: Fail) -> tuple[int, ...]:
    if any(c < 0 for pair in crops for c in pair):
        raise fail(f"crops {[list(c) for c in crops]} has a negative entry")
    if shape[0] % math.prod(block):
        raise fail(f"batch {shape[0]} is not a multiple of the block {list(block)}")
    spatial = [d * b - top - bottom for d, b, (top, bottom) in zip(shape[1:-1], block, crops)]
    if any(d < 0 for d in spatial):
        raise fail(f"crops {[list(c) for c in crops]} are larger than the blocked input {list(shape)}")
    return (shape[0] // math.prod(block), *spatial, shape[-1])


def prepare_batch_to_space_nd(ctx: OpContext) -> SpaceBatchParams:
    x, block, crops, _ = _prepare_space_batch(ctx, "crops")
    if not (block.is_constant and crops.is_constant):
        ctx.set_output_shape(0, lambda inputs: _batch_to_space_shape(inputs[0].shape, *_space_batch_geometry(
            _ints(inputs[1]), _ints(inputs[2]), inputs[1].shape, inputs[2].shape, inputs[0].ndim, "crops",
            EvalError), EvalError))
        return SpaceBatchParams(None, None, None)
    b, c = _space_batch_geometry(_constant_ints(block), _constant_ints(crops), ctx.shape(block), ctx.shape(crops),
                                 len(ctx.shape(x)), "crops", ctx.fail)
    ctx.set_output_shape(0, _batch_to_space_shape(ctx.shape(x), b, c, ctx.fail))
    return SpaceBatchParams(b, c, None)


def batch_to_space_nd_spec(p: SpaceBatchParams, x: np.ndarray, block_shape: np.ndarray,
                           crops: np.ndarray) -> np.ndarray:
    block, pairs = p.block, p.pads
    if block is None or pairs is None:
        block, pairs = _space_batch_geometry(_ints(block_shape), _ints(crops), np.shape(block_shape),
                                             np.shape(crops), x.ndim, "crops", EvalError)
    output_shape = _batch_to_space_shape(x.shape, block, pairs, EvalError)
    b_h, b_w = block[0], (block[1] if x.ndim == 4 else 1)
    (top, _), (left, _) = pairs[0], (pairs[1] if x.ndim == 4 else (0, 0))
    x4 = _as_4d(x)
    batch, height, width, depth = x4.shape
    out_batch = batch // (b_h * b_w)
    full = x4.reshape(b_h, b_w, out_batch, height, width, depth).transpose(2, 3, 0, 4, 1, 5)
    full = full.reshape(out_batch, height * b_h, width * b_w, depth)
    out_h, out_w = output_shape[1], (output_shape[2] if x.ndim == 4 else 1)
    return np.ascontiguousarray(full[:, top:top + out_h, left:left + out_w, :]).reshape(output_shape)


def _space_to_batch_shape(shape: tuple[int, ...], block: tuple[int, ...], paddings: tuple[tuple[int, int], ...],
                          fail: Fail) -> tuple[int, ...]:
    spatial = []
    for d, b, (before, after) in zip(shape[1:-1], block, paddings):
        padded = d + before + after
        if padded < 0 or padded % b:  # C's % with a negative size: a negative output dimension, refused
            raise fail(f"padded size {padded} is not a non-negative multiple of the block {b}")
        spatial.append(padded // b)
    return (shape[0] * math.prod(block), *spatial, shape[-1])


def _pad_element(dtype: np.dtype, zero_point: int) -> np.ndarray:
    """What ``memset(out, pad_value, ...)`` leaves in one element: zero_point's low byte in every byte (8- and
    16-bit types) or zero bytes (LiteRT passes 0 for 32- and 64-bit types)."""
    byte = zero_point & 0xFF if dtype.itemsize <= 2 else 0
    return np.full(dtype.itemsize, byte, dtype=np.uint8).view(dtype).reshape(())


def prepare_space_to_batch_nd(ctx: OpContext) -> SpaceBatchParams:
    x, block, paddings, y = _prepare_space_batch(ctx, "paddings")
    pad_value = _pad_element(y.dtype, per_tensor_qparams_or_identity(y)[1])
    if not (block.is_constant and paddings.is_constant):
        ctx.set_output_shape(0, lambda inputs: _space_to_batch_shape(inputs[0].shape, *_space_batch_geometry(
            _ints(inputs[1]), _ints(inputs[2]), inputs[1].shape, inputs[2].shape, inputs[0].ndim, "paddings",
            EvalError), EvalError))
        return SpaceBatchParams(None, None, pad_value)
    b, pads = _space_batch_geometry(_constant_ints(block), _constant_ints(paddings), ctx.shape(block),
                                    ctx.shape(paddings), len(ctx.shape(x)), "paddings", ctx.fail)
    ctx.set_output_shape(0, _space_to_batch_shape(ctx.shape(x), b, pads, ctx.fail))
    return SpaceBatchParams(b, pads, pad_value)


def space_to_batch_nd_spec(p: SpaceBatchParams, x: np.ndarray, block_shape: np.ndarray,
                           paddings: np.ndarray) -> np.ndarray:
    block, pairs = p.block, p.pads
    if block is None or pairs is None:
        block, pairs = _space_batch_geometry(_ints(block_shape), _ints(paddings), np.shape(block_shape),
                                             np.shape(paddings), x.ndim, "paddings", EvalError)
    output_shape = _space_to_batch_shape(x.shape, block, pairs, EvalError)
    b_h, b_w = block[0], (block[1] if x.ndim == 4 else 1)
    (top, bottom), (left, right) = pairs[0], (pairs[1] if x.ndim == 4 else (0, 0))
    x4 = _as_4d(x)
    batch, height, width, depth = x4.shape
    padded_h, padded_w = height + top + bottom, width + left + right
    padded = np.full((batch, padded_h, padded_w, depth), p.pad_value, dtype=x.dtype)
    # rows/columns of the input that land inside the padded frame (a negative padding crops)
    h0, w0 = max(0, -top), max(0, -left)
    h1, w1 = min(height, padded_h - top), min(width, padded_w - left)
    if h1 > h0 and w1 > w0:
        padded[:, h0 + top:h1 + top, w0 + left:w1 + left, :] = x4[:, h0:h1, w0:w1, :]
    blocks = padded.reshape(batch, padded_h // b_h, b_h, padded_w // b_w, b_w, depth).transpose(2, 4, 0, 1, 3, 5)
    return np.ascontiguousarray(blocks).reshape(output_shape)


# ------------------------------------------------------------------------------------------------
# MIRROR_PAD (mirror_pad.cc): pad every dimension by reflection. paddings is [rank, 2] (int32 or int64),
# every entry >= 0 and at most dim - 1 (REFLECT: the edge is not repeated) or dim (SYMMETRIC: it is).
# int8/uint8/int16: the input's and output's scale and zero point must be equal (int16: zero point 0);
# TFLM (profile "tflm") checks neither and copies the raw values.

MIRROR_REFLECT, MIRROR_SYMMETRIC = 0, 1


@dataclass(frozen=True)
class MirrorPadParams:
    paddings: tuple[tuple[int, int], ...] | None  # None: from a non-constant input at eval
    mode: str  # NumPy's name: "reflect" or "symmetric"


def _mirror_paddings(values: tuple[int, ...], shape: tuple[int, ...], offset: int,
                     fail: Fail) -> tuple[tuple[int, int], ...]:
    pairs = tuple((values[2 * i], values[2 * i + 1]) for i in range(len(shape)))
    for d, (before, after) in enumerate(pairs):
        if before < 0 or after < 0:
            raise fail(f"paddings {[list(p) for p in pairs]} must be non-negative")
        if max(before, after) > shape[d] - offset:
            raise fail(f"paddings {[list(p) for p in pairs]}: dimension {d} of size {shape[d]} allows at most "
                       f"{shape[d] - offset}")
    return pairs


def prepare_mirror_pad(ctx: OpContext) -> MirrorPadParams:
    ctx.check_inputs(2, 2)
    x, paddings, y = ctx.require_input(0), ctx.require_input(1), ctx.output(0)
    _require_holdable(ctx, x, "input")
    ctx.check_same_type(x, y)
    rank = len(ctx.shape(x))
    if ctx.shape(paddings) != (rank, 2):
        raise ctx.fail(f"paddings has shape {list(ctx.shape(paddings))}, expected [{rank}, 2]")
    if paddings.type_name not in SHAPE_TYPES:
        raise ctx.unsupported(f"paddings of type {paddings.type_name} (LiteRT takes int32, int64)")
    if x.type_name in ("int8", "uint8", "int16") and ctx.profile != "tflm":  # TFLM checks neither
        _require_same_qparams(ctx, x, y)
        _int16_zero_point_zero(ctx, x, y)
    mode = int(ctx.options.get("mode", MIRROR_REFLECT))
    if mode not in (MIRROR_REFLECT, MIRROR_SYMMETRIC):
        raise ctx.unsupported(f"mirror pad mode {mode}")
    offset = 1 if mode == MIRROR_REFLECT else 0
    pairs = None
    if paddings.is_constant:
        pairs = _mirror_paddings(_constant_ints(paddings), ctx.shape(x), offset, ctx.fail)
        ctx.set_output_shape(0, _padded_shape(ctx.shape(x), pairs))
    else:
        ctx.set_output_shape(0, lambda inputs: _padded_shape(inputs[0].shape, _mirror_paddings(
            _ints(inputs[1]), inputs[0].shape, offset, EvalError)))
    return MirrorPadParams(pairs, "reflect" if mode == MIRROR_REFLECT else "symmetric")


def _padded_shape(shape: tuple[int, ...], pairs: tuple[tuple[int, int], ...]) -> tuple[int, ...]:
    return tuple(d + before + after for d, (before, after) in zip(shape, pairs))


def mirror_pad_spec(p: MirrorPadParams, x: np.ndarray, paddings: np.ndarray) -> np.ndarray:
    pairs = p.paddings
    if pairs is None:
        pairs = _mirror_paddings(_ints(paddings), x.shape, 1 if p.mode == "reflect" else 0, EvalError)
    if x.ndim == 0 or not any(a or b for a, b in pairs):
        return np.array(x)
    return np.pad(x, pairs, mode=p.mode)


# ------------------------------------------------------------------------------------------------
# BROADCAST_TO (broadcast_to.cc): broadcast the input to `shape` (1-D int32 or int64, at least the input's
# rank, every entry >= 0); each input dimension is 1 or equal to the matching (right-aligned) output one.


@dataclass(frozen=True)
class BroadcastToParams:
    shape: tuple[int, ...] | None  # None: from a non-constant input at eval


def _broadcast_to_shape(values: tuple[int, ...], input_shape: tuple[int, ...], fail: Fail) -> tuple[int, ...]:
    if len(values) < len(input_shape):
        raise fail(f"shape {shown(list(values))} has fewer dimensions than the input {shown(list(input_shape))}")
    extra = len(values) - len(input_shape)
    for i, d in enumerate(input_shape):
        if d != 1 and d != values[extra + i]:
            raise fail(f"input shape {shown(list(input_shape))} does not broadcast to {shown(list(values))}")
    if any(v < 0 or v > np.iinfo(np.int32).max for v in values):
        raise fail(f"shape {shown(list(values))} has a dimension outside [0, int32 max]")
    return values


def prepare_broadcast_to(ctx: OpContext) -> BroadcastToParams:
    ctx.check_inputs(2, 2)
    x, shape, y = ctx.require_input(0), ctx.require_input(1), ctx.output(0)
    if shape.type_name not in SHAPE_TYPES:
        raise ctx.fail(f"shape of type {shape.type_name} (LiteRT takes int32, int64)")
    ctx.check_same_type(x, y)
    _require_holdable(ctx, x, "input")
    if len(ctx.shape(shape)) != 1:
        raise ctx.fail(f"shape must be 1-D, got shape {list(ctx.shape(shape))}")
    if shape.is_constant:
        target = _broadcast_to_shape(_constant_ints(shape), ctx.shape(x), ctx.fail)
        ctx.set_output_shape(0, target)
        return BroadcastToParams(target)
    ctx.set_output_shape(0, lambda inputs: _broadcast_to_shape(_ints(inputs[1]), inputs[0].shape, EvalError))
    return BroadcastToParams(None)


def broadcast_to_spec(p: BroadcastToParams, x: np.ndarray, shape: np.ndarray) -> np.ndarray:
    target = p.shape if p.shape is not None else _broadcast_to_shape(_ints(shape), x.shape, EvalError)
    return np.array(np.broadcast_to(x, target))


# ------------------------------------------------------------------------------------------------
# BROADCAST_ARGS (broadcast_args.cc): the broadcast shape of two 1-D shapes (int32 or int64, the output the
# same type), right-aligned: where one dimension is 1 the other is taken, otherwise they must be equal
# (LiteRT aborts the process otherwise: refinterp refuses). A negative or zero dimension is passed through
# like any other value.


@dataclass(frozen=True)
class BroadcastArgsParams:
    dtype: np.dtype
    result: np.ndarray | None  # both inputs constant: computed at prepare, as LiteRT does


def _broadcast_args(a: tuple[int, ...], b: tuple[int, ...], fail: Fail) -> tuple[int, ...]:
    n = max(len(a), len(b))
    out = []
    for i in range(n):
        lhs = a[i - n + len(a)] if i - n + len(a) >= 0 else 1
        rhs = b[i - n + len(b)] if i - n + len(b) >= 0 else 1
        if lhs == 1:
            out.append(rhs)
        elif rhs == 1 or lhs == rhs:
            out.append(lhs)
        else:
            raise fail(f"shapes {list(a)} and {list(b)} do not broadcast (LiteRT aborts on them)")
    return tuple(out)


def prepare_broadcast_args(ctx: OpContext) -> BroadcastArgsParams:
    ctx.check_inputs(2, 2)
    a, b, y = ctx.require_input(0), ctx.require_input(1), ctx.output(0)
    if a.type_name not in SHAPE_TYPES:
        raise ctx.fail(f"shape of type {a.type_name} (LiteRT takes int32, int64)")
    if b.type_name != a.type_name or y.type_name != a.type_name:
        raise ctx.fail(f"types {a.type_name}, {b.type_name} -> {y.type_name} differ")
    for t in (a, b):
        if len(ctx.shape(t)) != 1:
            raise ctx.fail(f"shapes must be 1-D, got shape {list(ctx.shape(t))}")
    result = None
    if a.is_constant and b.is_constant:
        result = np.array(_broadcast_args(_constant_ints(a), _constant_ints(b), ctx.fail), dtype=y.dtype)
    ctx.set_output_shape(0, (max(ctx.shape(a)[0], ctx.shape(b)[0]),))
    return BroadcastArgsParams(y.dtype, result)


def broadcast_args_spec(p: BroadcastArgsParams, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if p.result is not None:
        return p.result.copy()
    return np.array(_broadcast_args(_ints(a), _ints(b), EvalError), dtype=p.dtype)


# ------------------------------------------------------------------------------------------------
# FILL (fill.cc): an output of shape `dims` (1-D int32 or int64, entries >= 0) filled with the scalar
# `value`; the output has the value's type, scale and zero point (an int16 zero point must be 0).


@dataclass(frozen=True)
class FillParams:
    dims: tuple[int, ...] | None  # None: from a non-constant input at eval


def _fill_dims(values: tuple[int, ...], fail: Fail) -> tuple[int, ...]:
    if any(v < 0 for v in values):
        raise fail(f"fill dimensions {list(values)} must be >= 0")
    return values


def prepare_fill(ctx: OpContext) -> FillParams:
    ctx.check_inputs(2, 2)
    dims, value, y = ctx.require_input(0), ctx.require_input(1), ctx.output(0)
    if len(ctx.shape(dims)) != 1:
        raise ctx.fail(f"dims must be 1-D, got shape {list(ctx.shape(dims))}")
    if dims.type_name not in SHAPE_TYPES:
        raise ctx.fail(f"dims of type {dims.type_name} (LiteRT takes int32, int64)")
    if len(ctx.shape(value)) != 0:
        raise ctx.fail(f"value must be a scalar, got shape {list(ctx.shape(value))}")
    _require_holdable(ctx, value, "value")
    _require_output_type(ctx, y, value.type_name)
    _require_same_qparams(ctx, value, y)
    if value.type_name == "int16" and per_tensor_qparams_or_identity(value)[1] != 0:
        raise ctx.fail("an int16 value must have zero point 0")
    if dims.is_constant:
        shape = _fill_dims(_constant_ints(dims), ctx.fail)
        ctx.set_output_shape(0, shape)
        return FillParams(shape)
    ctx.set_output_shape(0, lambda inputs: _fill_dims(_ints(inputs[0]), EvalError))
    return FillParams(None)


def fill_spec(p: FillParams, dims: np.ndarray, value: np.ndarray) -> np.ndarray:
    shape = p.dims if p.dims is not None else _fill_dims(_ints(dims), EvalError)
    return np.full(shape, value, dtype=np.asarray(value).dtype)


# ------------------------------------------------------------------------------------------------
# ZEROS_LIKE (zeros_like.cc): zeros of the input's shape and type (int32, int64 or float32; +0.0).


@dataclass(frozen=True)
class ZerosLikeParams:
    dtype: np.dtype


def prepare_zeros_like(ctx: OpContext) -> ZerosLikeParams:
    ctx.check_inputs(1, 1)
    x, y = ctx.require_input(0), ctx.output(0)
    if x.type_name not in ZEROS_LIKE_TYPES:
        raise ctx.fail(f"input type {x.type_name} (LiteRT's ZEROS_LIKE takes {', '.join(ZEROS_LIKE_TYPES)}; "
                       "it refuses the others at invoke)")
    _require_output_type(ctx, y, x.type_name)
    ctx.set_output_shape(0, ctx.shape(x))
    return ZerosLikeParams(x.dtype)


def zeros_like_spec(p: ZerosLikeParams, x: np.ndarray) -> np.ndarray:
    return np.zeros(x.shape, dtype=p.dtype)


# ------------------------------------------------------------------------------------------------
# explain (refinterp/tools/explain.py): the value-producing operators without arithmetic


def explain_broadcast_args(ctx: OpContext, p: BroadcastArgsParams, inputs: list, index: tuple[int, ...],
                           trace) -> object:
    """BROADCAST_ARGS output ``index``: the two shapes aligned at the right (a missing dimension counts as 1);
    a 1 takes the other side's size, otherwise the two must be equal (broadcast_args.cc)."""
    a, b = _ints(inputs[0]), _ints(inputs[1])
    n = max(len(a), len(b))
    i = int(index[0])
    lhs = a[i - n + len(a)] if i - n + len(a) >= 0 else 1
    rhs = b[i - n + len(b)] if i - n + len(b) >= 0 else 1
    trace.add("shapes, aligned at the right", [list(a), list(b)], f"output dimension {i} of {n} reads {lhs} and {rhs}"
              " (a dimension a shape lacks counts as 1)")
    value = _broadcast_args(a, b, EvalError)[i]
    trace.add("output", value, "the other size when one is 1, else the common size")
    return np.asarray(value, dtype=p.dtype).item()


def explain_fill(ctx: OpContext, p: FillParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """FILL output ``index``: every element is the scalar ``value`` (fill.cc), stored unchanged (the output keeps
    the value's type, scale and zero point)."""
    value = np.asarray(inputs[1]).reshape(-1)[0]
    trace.add("value", value.item(), "the scalar input 1, copied to every element of the output")
    return value.item()


def explain_zeros_like(ctx: OpContext, p: ZerosLikeParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """ZEROS_LIKE output ``index``: 0 of the input's type (+0.0 for float32), whatever the input holds."""
    value = np.zeros((), dtype=p.dtype).item()
    trace.add("output", value, f"zero of {np.dtype(p.dtype).name}, at every position of the input's shape")
    return value

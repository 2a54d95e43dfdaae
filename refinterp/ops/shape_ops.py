"""Data movement: RESHAPE and CONCATENATION. Values are copied, never rescaled (except uint8 concat).

RESHAPE (``reshape.cc``): the new shape comes from input 1 when it is a 1-D int32 tensor, otherwise from
``ReshapeOptions.new_shape`` (the legacy ``[0]`` there means a scalar); one ``-1`` is inferred.

CONCATENATION (``concatenation.cc``): ``axis`` may be negative (``axis + rank``). For int8 and int16 every
input's scale and zero point must equal the output's (Prepare fails otherwise, in LiteRT and TFLM). For
uint8, inputs whose parameters differ are rescaled per element (``ConcatenationWithScaling``)::

    scale = f32(s_i * f32(1 / s_out));  bias = f32(-zp_i * scale)
    y = clamp(round_half_away(f32(q * scale + bias)) + zp_out, 0, 255)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from refinterp.ops.common import OpContext, per_tensor_qparams_or_identity
from refinterp.quant import round_half_away_f32


@dataclass(frozen=True)
class ReshapeParams:
    output_shape: tuple[int, ...] | None  # None: computed at eval from a non-constant shape input
    new_shape_spec: tuple[int, ...] | None


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
    x, shape_tensor = ctx.require_input(0), ctx.input(1)
    count = math.prod(ctx.shape(x))
    if shape_tensor is not None and len(shape_tensor.shape) == 1 and shape_tensor.type_name == "int32":
        if not shape_tensor.is_constant:
            return ReshapeParams(None, None)  # dynamic: resolved at eval
        spec = tuple(int(v) for v in shape_tensor.data)
    else:
        spec = tuple(int(v) for v in ctx.options.get("new_shape", ()))
        if spec == (0,):
            spec = ()  # legacy: new_shape [0] means a scalar
        if not spec and ctx.options.get("new_shape", None) is None and shape_tensor is None:
            spec = ctx.output(0).shape
    return ReshapeParams(_resolve_shape(spec, count, ctx.fail), spec)


def reshape_spec(p: ReshapeParams, x: np.ndarray, shape: np.ndarray | None = None) -> np.ndarray:
    output_shape = p.output_shape
    if output_shape is None:
        from refinterp.errors import EvalError

        output_shape = _resolve_shape(tuple(int(v) for v in shape), x.size, EvalError)
    return np.array(x).reshape(output_shape)


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
    axis = int(ctx.options.get("axis", 0))
    if axis < 0:
        axis += rank
    if not 0 <= axis < max(rank, 1):
        raise ctx.fail(f"axis {ctx.options.get('axis', 0)} outside rank {rank}")
    for t in inputs:
        if t.type_name != y.type_name:
            raise ctx.fail(f"input {t.index} is {t.type_name} but the output is {y.type_name}")
        shape = ctx.shape(t)
        if len(shape) != rank or any(a != b for d, (a, b) in enumerate(zip(shape, ctx.shape(inputs[0])))
                                     if d != axis):
            raise ctx.fail(f"input shapes {[list(ctx.shape(i)) for i in inputs]} differ off axis {axis}")
    output_scale, output_zero_point = per_tensor_qparams_or_identity(y)
    rescale: list[tuple[np.float32, np.float32] | None] = []
    for t in inputs:
        scale, zero_point = per_tensor_qparams_or_identity(t)
        same = np.float32(scale) == np.float32(output_scale) and zero_point == output_zero_point
        if y.type_name in ("int8", "int16") and not same:
            # concatenation.cc Prepare: TF_LITE_ENSURE_EQ on scale and zero point for int8/int16
            raise ctx.fail(f"input {t.index} has scale {scale:g} zero point {zero_point}, the output "
                           f"{output_scale:g}/{output_zero_point}; TFLite requires them equal for {y.type_name}")
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

"""The one table from builtin operator to kernel.

Each row: the operator, its prepare function, its NumPy spec kernel, its numba fast kernel (None where
the spec kernel is already fast enough: data movement), and the activation dtypes it supports. The
interpreter looks operators up here and nowhere else; ``refinterp ops`` prints this table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from refinterp.ops import activations, conv, pooling, quantize, resize, shape_ops
from refinterp.ops.common import PROFILES


@dataclass(frozen=True)
class OpDef:
    name: str
    prepare: Callable[..., Any]
    spec: Callable[..., Any]
    fast: Callable[..., Any] | None
    dtypes: tuple[str, ...]
    profiles: tuple[str, ...] = PROFILES
    notes: str = ""


_TABLE = (
    OpDef("CONV_2D", conv.prepare_conv2d, conv.conv2d_spec, conv.conv2d_fast, ("int8", "float32"),
          notes="per-channel and per-tensor int8 weights, groups, dilation"),
    OpDef("MAX_POOL_2D", pooling.prepare_pool2d, pooling.max_pool2d_spec, pooling.max_pool2d_fast,
          ("int8", "uint8", "float32")),
    OpDef("LEAKY_RELU", activations.prepare_leaky_relu, activations.leaky_relu_spec, activations.leaky_relu_fast,
          ("int8", "uint8", "float32")),
    OpDef("CONCATENATION", shape_ops.prepare_concatenation, shape_ops.concatenation_spec, None,
          ("int8", "uint8", "int16", "int32", "int64", "float32", "bool"),
          notes="int8/int16 inputs must share the output's scale (as TFLite requires); uint8 rescales"),
    OpDef("RESIZE_NEAREST_NEIGHBOR", resize.prepare_resize_nearest, resize.resize_nearest_spec, None,
          ("int8", "uint8", "int16", "float32")),
    OpDef("RESHAPE", shape_ops.prepare_reshape, shape_ops.reshape_spec, None, ("any",)),
    OpDef("QUANTIZE", quantize.prepare_quantize, quantize.quantize_spec, None,
          ("float32->int8", "float32->uint8", "int8->int8", "uint8->int8", "int8->uint8", "uint8->uint8")),
    OpDef("DEQUANTIZE", quantize.prepare_dequantize, quantize.dequantize_spec, None,
          ("int8", "uint8", "int16", "float16")),
)

REGISTRY: dict[str, OpDef] = {row.name: row for row in _TABLE}


def lookup(name: str) -> OpDef | None:
    return REGISTRY.get(name)

"""The one table from builtin operator to kernel.

Each row: the operator, its prepare function and NumPy spec kernel (``refinterp/ops/<family>.py``), its numba
fast kernel (``refinterp/ops/fast/<family>.py``; None where the spec kernel is already fast enough: data
movement), optionally the fast kernel's own prepare (which wraps the spec prepare and adds what only the fast
kernel needs, such as packed weights or a lookup table), and the activation dtypes it supports. The
interpreter looks operators up here and nowhere else; ``refinterp ops`` prints this table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from refinterp.ops import (
    activations,
    conv,
    depthwise_conv,
    elementwise,
    fully_connected,
    pooling,
    quantize,
    reduce,
    resize,
    shape_ops,
    softmax_logistic,
)
from refinterp.ops.common import PROFILES
from refinterp.ops.fast import activations as activations_fast
from refinterp.ops.fast import conv as conv_fast
from refinterp.ops.fast import depthwise_conv as depthwise_conv_fast
from refinterp.ops.fast import elementwise as elementwise_fast
from refinterp.ops.fast import fully_connected as fully_connected_fast
from refinterp.ops.fast import pooling as pooling_fast
from refinterp.ops.fast import quantize as quantize_fast
from refinterp.ops.fast import reduce as reduce_fast
from refinterp.ops.fast import resize as resize_fast
from refinterp.ops.fast import softmax_logistic as softmax_logistic_fast


@dataclass(frozen=True)
class OpDef:
    name: str
    prepare: Callable[..., Any]
    spec: Callable[..., Any]
    fast: Callable[..., Any] | None
    dtypes: tuple[str, ...]
    profiles: tuple[str, ...] = PROFILES
    notes: str = ""
    #: prepare for the fast kernel (wraps ``prepare``); None: the fast kernel takes ``prepare``'s params
    fast_prepare: Callable[..., Any] | None = None

    def prepare_for(self, kernels: str) -> Callable[..., Any]:
        """The prepare function whose params the chosen kernel set ("fast" or "spec") reads."""
        if kernels == "fast" and self.fast is not None and self.fast_prepare is not None:
            return self.fast_prepare
        return self.prepare

    def kernel_for(self, kernels: str) -> Callable[..., Any]:
        return self.fast if (kernels == "fast" and self.fast is not None) else self.spec


_TABLE = (
    OpDef("CONV_2D", conv.prepare_conv2d, conv.conv2d_spec, conv_fast.conv2d_fast, ("int8", "float32"),
          notes="per-channel and per-tensor int8 weights, groups, dilation",
          fast_prepare=conv_fast.prepare_conv2d_fast),
    OpDef("MAX_POOL_2D", pooling.prepare_pool2d, pooling.max_pool2d_spec, pooling_fast.max_pool2d_fast,
          ("int8", "uint8", "float32")),
    OpDef("DEPTHWISE_CONV_2D", depthwise_conv.prepare_depthwise_conv2d, depthwise_conv.depthwise_conv2d_spec,
          depthwise_conv_fast.depthwise_conv2d_fast, ("int8", "float32"),
          notes="per-channel (dim 3) and per-tensor int8 weights; depth multiplier from the shapes; dilation"),
    OpDef("FULLY_CONNECTED", fully_connected.prepare_fully_connected, fully_connected.fully_connected_spec,
          fully_connected_fast.fully_connected_fast, ("int8", "float32"),
          notes="requant: f64 round half away (litert-ref), MBQM (tflm); per-tensor weight zp subtracted"),
    OpDef("AVERAGE_POOL_2D", pooling.prepare_pool2d, pooling.average_pool2d_spec,
          pooling_fast.average_pool2d_fast, ("int8", "uint8", "float32"),
          notes="padding not counted; half-away integer division"),
    OpDef("MEAN", reduce.prepare_mean, reduce.mean_spec, reduce_fast.mean_fast, ("int8", "uint8", "float32"),
          notes="QuantizedMeanOrSum (1/N folded into the multiplier), any axes"),
    OpDef("REDUCE_MAX", reduce.prepare_reduce_max, reduce.reduce_max_spec, reduce_fast.reduce_max_fast,
          ("int8", "uint8", "float32"), notes="input and output quantization must be equal"),
    OpDef("SOFTMAX", softmax_logistic.prepare_softmax, softmax_logistic.softmax_spec,
          softmax_logistic_fast.softmax_fast,
          ("int8->int8", "int8->int16", "float32"), notes="gemmlowp fixed point; float uses libm expf"),
    OpDef("LOGISTIC", softmax_logistic.prepare_logistic, softmax_logistic.logistic_spec,
          softmax_logistic_fast.logistic_fast,
          ("int8", "float32"), notes="int8: float LUT (litert-ref), gemmlowp fixed point (tflm)"),
    OpDef("LEAKY_RELU", activations.prepare_leaky_relu, activations.leaky_relu_spec,
          activations_fast.leaky_relu_fast, ("int8", "uint8", "float32"),
          fast_prepare=activations_fast.prepare_leaky_relu_fast),
    OpDef("CONCATENATION", shape_ops.prepare_concatenation, shape_ops.concatenation_spec, None,
          ("int8", "uint8", "int16", "int32", "int64", "float32", "bool"),
          notes="int8/int16 inputs must share the output's scale (as TFLite requires); uint8 rescales"),
    OpDef("RESIZE_NEAREST_NEIGHBOR", resize.prepare_resize_nearest, resize.resize_nearest_spec,
          resize_fast.resize_nearest_fast,
          ("int8", "uint8", "int16", "float32")),
    OpDef("RESHAPE", shape_ops.prepare_reshape, shape_ops.reshape_spec, None, ("any",)),
    OpDef("QUANTIZE", quantize.prepare_quantize, quantize.quantize_spec, quantize_fast.quantize_fast,
          ("float32->int8", "float32->uint8", "int8->int8", "uint8->int8", "int8->uint8", "uint8->uint8"),
          fast_prepare=quantize_fast.prepare_quantize_fast),
    OpDef("DEQUANTIZE", quantize.prepare_dequantize, quantize.dequantize_spec, quantize_fast.dequantize_fast,
          ("int8", "uint8", "int16", "float16"), fast_prepare=quantize_fast.prepare_dequantize_fast),
    OpDef("ADD", elementwise.prepare_add, elementwise.binary_spec, elementwise_fast.binary_fast,
          ("int8", "uint8", "float32", "int32", "int64"), notes="NumPy broadcasting; 20-bit left shift"),
    OpDef("SUB", elementwise.prepare_sub, elementwise.binary_spec, elementwise_fast.binary_fast,
          ("int8", "uint8", "float32", "int32", "int64"), notes="NumPy broadcasting; output multiplier <= 1"),
    OpDef("MUL", elementwise.prepare_mul, elementwise.binary_spec, elementwise_fast.binary_fast,
          ("int8", "uint8", "float32", "int32", "int64"),
          notes="multiplier s1*s2/s_out: float32 (litert-ref), double (tflm)"),
    OpDef("MINIMUM", elementwise.prepare_minimum, elementwise.binary_spec, None,
          ("int8", "uint8", "int16", "int32", "int64", "float32"), notes="raw values, no requantization"),
    OpDef("MAXIMUM", elementwise.prepare_maximum, elementwise.binary_spec, None,
          ("int8", "uint8", "int16", "int32", "int64", "float32"), notes="raw values, no requantization"),
    OpDef("RELU", activations.prepare_relu, activations.relu_spec, None, ("int8", "uint8", "float32"),
          notes="requantizes; multiplier f32(s_in/s_out) (litert-ref), double (tflm)"),
    OpDef("RELU6", activations.prepare_relu, activations.relu_spec, None, ("int8", "uint8", "float32"),
          notes="litert-ref requantizes; tflm clamps the raw input to [zp_in, q(6)]"),
    OpDef("RELU_N1_TO_1", activations.prepare_relu, activations.relu_spec, None, ("int8", "uint8", "float32"),
          profiles=("litert-ref",), notes="requantizes like RELU"),
    OpDef("PAD", shape_ops.prepare_pad, shape_ops.pad_spec, None,
          ("int8", "uint8", "int16", "int32", "int64", "float32"), notes="pads with zp_out; up to 5-D"),
    OpDef("PADV2", shape_ops.prepare_pad, shape_ops.pad_spec, None,
          ("int8", "uint8", "int16", "int32", "int64", "float32"), notes="pads with constant_values"),
    OpDef("TRANSPOSE", shape_ops.prepare_transpose, shape_ops.transpose_spec, None, ("any",), notes="up to 8-D"),
    OpDef("STRIDED_SLICE", shape_ops.prepare_strided_slice, shape_ops.strided_slice_spec, None, ("any",),
          notes="begin/end/ellipsis/new_axis/shrink_axis masks, offset"),
    OpDef("SHAPE", shape_ops.prepare_shape, shape_ops.shape_spec, None, ("any",), notes="out_type int32 or int64"),
    OpDef("PACK", shape_ops.prepare_pack, shape_ops.pack_spec, None,
          ("int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "float32")),
    OpDef("TILE", shape_ops.prepare_tile, shape_ops.tile_spec, None, ("any",),
          notes="any version (the SSD models use TILE v3)"),
    OpDef("RESIZE_BILINEAR", resize.prepare_resize_bilinear, resize.resize_bilinear_spec, None,
          ("int8", "uint8", "float32"), notes="int8: 10-bit integer rule; uint8/float32: float32 rule"),
)

REGISTRY: dict[str, OpDef] = {row.name: row for row in _TABLE}


def lookup(name: str) -> OpDef | None:
    return REGISTRY.get(name)

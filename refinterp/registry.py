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
    arg_minmax,
    batch_matmul,
    binary_math,
    cast,
    control_flow,
    conv,
    depthwise_conv,
    detection,
    elementwise,
    fully_connected,
    indexing,
    logical,
    lstm,
    pooling,
    quantize,
    rearrange,
    reduce,
    resize,
    rnn,
    shape_ops,
    softmax_logistic,
    sparse,
    svdf,
    transpose_conv,
    unary_math,
    variables,
)
from refinterp.ops.common import PROFILES, OpContext
from refinterp.ops.emulation import EmulatedOp
from refinterp.ops.emulation import litert_opt as litert_opt_emulation
from refinterp.ops.emulation import tflm_cmsis_nn as tflm_cmsis_nn_emulation
from refinterp.ops.emulation import xnnpack as xnnpack_emulation
from refinterp.ops.fast import activations as activations_fast
from refinterp.ops.fast import arg_minmax as arg_minmax_fast
from refinterp.ops.fast import batch_matmul as batch_matmul_fast
from refinterp.ops.fast import binary_math as binary_math_fast
from refinterp.ops.fast import conv as conv_fast
from refinterp.ops.fast import depthwise_conv as depthwise_conv_fast
from refinterp.ops.fast import elementwise as elementwise_fast
from refinterp.ops.fast import fully_connected as fully_connected_fast
from refinterp.ops.fast import lstm as lstm_fast
from refinterp.ops.fast import pooling as pooling_fast
from refinterp.ops.fast import quantize as quantize_fast
from refinterp.ops.fast import reduce as reduce_fast
from refinterp.ops.fast import resize as resize_fast
from refinterp.ops.fast import softmax_logistic as softmax_logistic_fast
from refinterp.ops.fast import svdf as svdf_fast
from refinterp.ops.fast import transpose_conv as transpose_conv_fast
from refinterp.ops.fast import unary_math as unary_math_fast

#: The operator versions LiteRT 2.3.0's reference resolver registers, as (min, max) for every builtin it has
#: (``register_ref.cc``: ``AddBuiltin(BuiltinOperator_X, Register_X_REF(), min, max)``; measured with
#: ai-edge-litert 2.3.0 by loading a file whose operator code table lists the code at versions 0..20, unused).
#: LiteRT resolves every entry of a file's operator code table when it loads the file, used or not, and refuses
#: the file for a builtin code or version it has no kernel for; refinterp does the same under "litert-ref".
LITERT_REF_VERSIONS: dict[str, tuple[int, int]] = {
    "ADD": (1, 5), "AVERAGE_POOL_2D": (1, 3), "CONCATENATION": (1, 7), "CONV_2D": (1, 8), "DEPTHWISE_CONV_2D": (1, 6),
    "DEPTH_TO_SPACE": (1, 1), "DEQUANTIZE": (1, 9), "EMBEDDING_LOOKUP": (1, 5), "FLOOR": (1, 1),
    "FULLY_CONNECTED": (1, 14), "HASHTABLE_LOOKUP": (1, 1), "L2_NORMALIZATION": (1, 2), "L2_POOL_2D": (1, 1),
    "LOCAL_RESPONSE_NORMALIZATION": (1, 1), "LOGISTIC": (1, 3), "LSH_PROJECTION": (1, 1), "LSTM": (1, 4),
    "MAX_POOL_2D": (1, 3), "MUL": (1, 7), "RELU": (1, 3), "RELU_N1_TO_1": (1, 1), "RELU6": (1, 3), "RESHAPE": (1, 1),
    "RESIZE_BILINEAR": (1, 4), "RNN": (1, 3), "SOFTMAX": (1, 3), "SPACE_TO_DEPTH": (1, 2), "SVDF": (1, 4),
    "TANH": (1, 3), "SKIP_GRAM": (1, 1), "EMBEDDING_LOOKUP_SPARSE": (1, 1), "PAD": (1, 6),
    "UNIDIRECTIONAL_SEQUENCE_RNN": (1, 3), "GATHER": (1, 8), "BATCH_TO_SPACE_ND": (1, 4), "SPACE_TO_BATCH_ND": (1, 4),
    "TRANSPOSE": (1, 8), "MEAN": (1, 3), "SUB": (1, 5), "DIV": (1, 2), "SQUEEZE": (1, 1),
    "UNIDIRECTIONAL_SEQUENCE_LSTM": (1, 3), "STRIDED_SLICE": (1, 4), "BIDIRECTIONAL_SEQUENCE_RNN": (1, 3),
    "EXP": (1, 2), "TOPK_V2": (1, 3), "SPLIT": (1, 5), "LOG_SOFTMAX": (1, 2), "BIDIRECTIONAL_SEQUENCE_LSTM": (1, 3),
    "CAST": (1, 9), "PRELU": (1, 1), "MAXIMUM": (1, 4), "ARG_MAX": (1, 2), "MINIMUM": (1, 4), "LESS": (1, 3),
    "NEG": (1, 1), "PADV2": (1, 6), "GREATER": (1, 2), "GREATER_EQUAL": (1, 3), "LESS_EQUAL": (1, 2),
    "SELECT": (1, 4), "SLICE": (1, 8), "SIN": (1, 1), "TRANSPOSE_CONV": (1, 5), "SPARSE_TO_DENSE": (1, 3),
    "TILE": (1, 2), "EXPAND_DIMS": (1, 1), "EQUAL": (1, 5), "NOT_EQUAL": (1, 4), "LOG": (1, 2), "SUM": (1, 2),
    "SQRT": (1, 2), "RSQRT": (1, 3), "SHAPE": (1, 1), "POW": (1, 1), "ARG_MIN": (1, 2), "FAKE_QUANT": (1, 2),
    "REDUCE_PROD": (1, 2), "REDUCE_MAX": (1, 3), "PACK": (1, 5), "LOGICAL_OR": (1, 1), "ONE_HOT": (1, 1),
    "LOGICAL_AND": (1, 1), "LOGICAL_NOT": (1, 1), "UNPACK": (1, 6), "REDUCE_MIN": (1, 3), "FLOOR_DIV": (1, 3),
    "REDUCE_ANY": (1, 1), "SQUARE": (1, 1), "ZEROS_LIKE": (1, 1), "FILL": (1, 5), "FLOOR_MOD": (1, 2),
    "RANGE": (1, 1), "RESIZE_NEAREST_NEIGHBOR": (1, 4), "LEAKY_RELU": (1, 2), "SQUARED_DIFFERENCE": (1, 2),
    "MIRROR_PAD": (1, 3), "ABS": (1, 3), "SPLIT_V": (1, 3), "UNIQUE": (1, 1), "REVERSE_V2": (1, 4), "ADD_N": (1, 1),
    "GATHER_ND": (1, 6), "COS": (1, 1), "WHERE": (1, 2), "RANK": (1, 1), "REVERSE_SEQUENCE": (1, 1),
    "MATRIX_DIAG": (1, 1), "QUANTIZE": (1, 6), "MATRIX_SET_DIAG": (1, 1), "HARD_SWISH": (1, 1), "IF": (1, 1),
    "WHILE": (1, 1), "NON_MAX_SUPPRESSION_V4": (1, 1), "NON_MAX_SUPPRESSION_V5": (1, 1), "SCATTER_ND": (1, 1),
    "SELECT_V2": (1, 2), "DENSIFY": (1, 1), "BATCH_MATMUL": (1, 4), "CUMSUM": (1, 1), "CALL_ONCE": (1, 1),
    "BROADCAST_TO": (2, 4), "RFFT2D": (1, 1), "CONV_3D": (1, 1), "IMAG": (1, 1), "REAL": (1, 1),
    "COMPLEX_ABS": (1, 1), "REDUCE_ALL": (1, 1), "CONV_3D_TRANSPOSE": (1, 1), "VAR_HANDLE": (1, 1),
    "READ_VARIABLE": (1, 1), "ASSIGN_VARIABLE": (1, 1), "BROADCAST_ARGS": (1, 1), "RANDOM_STANDARD_NORMAL": (1, 1),
    "BUCKETIZE": (1, 1), "RANDOM_UNIFORM": (1, 1), "MULTINOMIAL": (1, 1), "GELU": (1, 2),
    "DYNAMIC_UPDATE_SLICE": (1, 6), "RELU_0_TO_1": (1, 1), "UNSORTED_SEGMENT_PROD": (1, 1),
    "UNSORTED_SEGMENT_MAX": (1, 1), "UNSORTED_SEGMENT_SUM": (1, 1), "ATAN2": (1, 1), "UNSORTED_SEGMENT_MIN": (1, 1),
    "SIGN": (1, 2), "BITCAST": (1, 1), "BITWISE_XOR": (1, 1), "RIGHT_SHIFT": (1, 1), "STABLEHLO_ADD": (1, 1),
    "STABLEHLO_MULTIPLY": (1, 1), "STABLEHLO_MAXIMUM": (1, 1), "STABLEHLO_MINIMUM": (1, 1),
    "STABLEHLO_SCATTER": (1, 1), "STABLEHLO_PAD": (1, 1), "STABLEHLO_REDUCE_WINDOW": (1, 1),
    "STABLEHLO_GATHER": (1, 1), "DILATE": (1, 1), "STABLEHLO_RNG_BIT_GENERATOR": (1, 1), "REDUCE_WINDOW": (1, 1),
    "STABLEHLO_COMPOSITE": (1, 1),
}
#: Versions refinterp runs beyond the reference resolver's: those LiteRT's default (BUILTIN) resolver registers
#: for operators whose rule does not depend on the version (data movement) or that only that resolver has.
LITERT_BUILTIN_EXTRA_VERSIONS: dict[str, tuple[int, int]] = {
    "TILE": (1, 3),  # the SSD MobileNet models of ../shared use TILE v3 (int8 data: the same copy)
    "DEPTH_TO_SPACE": (1, 2),  # EDSR uses v2 (int8 data: the same copy)
    "CEIL": (1, 1), "ROUND": (1, 1), "ELU": (1, 1),  # not in the reference resolver at all
}
#: The versions an operator row accepts when it does not list its own (``OpDef.versions``).
OP_VERSIONS: dict[str, tuple[int, ...]] = {
    name: tuple(range(low, high + 1))
    for name, (low, high) in {**LITERT_REF_VERSIONS, **LITERT_BUILTIN_EXTRA_VERSIONS}.items()
}


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
    #: the operator versions refinterp runs under "litert-ref" (TFLM ignores versions); None: ``OP_VERSIONS``
    versions: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.versions is None:
            object.__setattr__(self, "versions", OP_VERSIONS.get(self.name, ()))

    def prepare_for(self, kernels: str) -> Callable[..., Any]:
        """The prepare function whose params the chosen kernel set ("fast" or "spec") reads."""
        if kernels == "fast" and self.fast is not None and self.fast_prepare is not None:
            return self.fast_prepare
        return self.prepare

    def kernel_for(self, kernels: str) -> Callable[..., Any]:
        return self.fast if (kernels == "fast" and self.fast is not None) else self.spec


_TABLE = (
    OpDef("CONV_2D", conv.prepare_conv2d, conv.conv2d_spec, conv_fast.conv2d_fast,
          ("int8", "uint8", "float32", "hybrid", "int16"),
          notes="per-channel and per-tensor int8 weights, groups, dilation; uint8: filter zp, per-tensor; "
                "int16x8: int64 bias (int64 MBQM) or int32 bias with quantized_bias_type INT32 (tflm: by bias type); "
                "hybrid: float32 with int8/uint8 weights (litert-ref only)",
          fast_prepare=conv_fast.prepare_conv2d_fast),
    OpDef("TRANSPOSE_CONV", transpose_conv.prepare_transpose_conv, transpose_conv.transpose_conv_spec,
          transpose_conv_fast.transpose_conv_fast, ("int8", "uint8", "float32", "int16", "hybrid"),
          notes="scatter order kept for float32; per-channel or per-tensor int8 weights; output shape constant "
                "or computed (tflm: the declared shape); uint8 litert-ref only; int16x8: int64 bias, or int32 "
                "with quantized_bias_type INT32 (litert-ref only); hybrid: float32 x int8 weights, per-image "
                "asymmetric input quantization, float32 scatter (litert-ref only)"),
    OpDef("MAX_POOL_2D", pooling.prepare_pool2d, pooling.max_pool2d_spec, pooling_fast.max_pool2d_fast,
          ("int8", "uint8", "int16", "float32")),
    OpDef("DEPTHWISE_CONV_2D", depthwise_conv.prepare_depthwise_conv2d, depthwise_conv.depthwise_conv2d_spec,
          depthwise_conv_fast.depthwise_conv2d_fast, ("int8", "uint8", "float32", "hybrid", "int16"),
          notes="per-channel (dim 3) and per-tensor int8 weights; depth multiplier from the shapes; dilation; "
                "uint8: filter zp; hybrid: float32 with int8 weights (litert-ref only); int16x8: int64 bias, "
                "options depth_multiplier must match"),
    OpDef("FULLY_CONNECTED", fully_connected.prepare_fully_connected, fully_connected.fully_connected_spec,
          fully_connected_fast.fully_connected_fast,
          ("int8", "uint8->uint8", "uint8->int16", "float32", "hybrid", "int16"),
          notes="requant: f64 round half away (litert-ref), MBQM (tflm); per-tensor weight zp subtracted; "
                "hybrid: float32 with int8/uint8 weights, asymmetric_quantize_inputs (litert-ref only); "
                "int16x8: int64 or int32 (quantized_bias_type INT32) bias",
          fast_prepare=fully_connected_fast.prepare_fully_connected_fast),
    OpDef("BATCH_MATMUL", batch_matmul.prepare_batch_matmul, batch_matmul.batch_matmul_spec,
          batch_matmul_fast.batch_matmul_fast, ("float32", "int8", "int8->int32", "int16", "hybrid"),
          notes="adj_x/adj_y, batch dims broadcast (rank 2-5); int8: MBQM, int32 output raw (litert-ref only); "
                "int16: int16 or int8 RHS (int8 litert-ref only), int64 MBQM; hybrid: float32 x int8 RHS, "
                "per-tensor/per-channel, asymmetric_quantize_inputs, LiteRT's scale/row-sum indexing "
                "(litert-ref only)",
          fast_prepare=batch_matmul_fast.prepare_batch_matmul_fast),
    OpDef("AVERAGE_POOL_2D", pooling.prepare_pool2d, pooling.average_pool2d_spec,
          pooling_fast.average_pool2d_fast, ("int8", "uint8", "int16", "float32"),
          notes="padding not counted; half-away integer division"),
    OpDef("L2_POOL_2D", pooling.prepare_pool2d, pooling.l2_pool2d_spec, pooling_fast.l2_pool2d_fast, ("float32",),
          notes="sqrtf of the mean square over the in-image cells"),
    OpDef("MEAN", reduce.prepare_mean, reduce.mean_spec, reduce_fast.mean_fast,
          ("int8", "uint8", "int16", "float32"),
          notes="QuantizedMeanOrSum (1/N folded into the multiplier), any axes"),
    OpDef("REDUCE_MAX", reduce.prepare_reduce_max, reduce.reduce_max_spec, reduce_fast.reduce_max_fast,
          ("int8", "uint8", "int16", "int32", "int64", "float32"), notes="input and output quantization must be equal"),
    OpDef("REDUCE_MIN", reduce.prepare_reduce, reduce.reduce_min_spec, reduce_fast.reduce_min_fast,
          ("int8", "uint8", "int16", "int32", "int64", "float32"), notes="input and output quantization must be equal"),
    OpDef("SUM", reduce.prepare_reduce, reduce.sum_spec, reduce_fast.sum_fast,
          ("int8", "uint8", "int32", "int64", "float32"),
          notes="8-bit: int32 sum requantized by s_in/s_out; litert-ref reads int8 bytes as uint8"),
    OpDef("REDUCE_PROD", reduce.prepare_reduce, reduce.reduce_prod_spec, reduce_fast.reduce_prod_fast,
          ("int8", "int16", "int32", "int64", "float32"),
          notes="int8/int16: each multiplication rescaled (int64 MBQM); int16 zero points 0"),
    OpDef("CUMSUM", reduce.prepare_cumsum, reduce.cumsum_spec, reduce_fast.cumsum_fast,
          ("int32", "int64", "float32"), notes="exclusive, reverse"),
    OpDef("REDUCE_ALL", reduce.prepare_logical_reduce, reduce.logical_reduce_spec, None, ("bool",),
          notes="axes int32, constant or not; keep_dims"),
    OpDef("REDUCE_ANY", reduce.prepare_logical_reduce, reduce.logical_reduce_spec, None, ("bool",),
          profiles=("litert-ref",), notes="axes int32, constant or not; keep_dims (TFLM has no REDUCE_ANY)"),
    OpDef("SOFTMAX", softmax_logistic.prepare_softmax, softmax_logistic.softmax_spec,
          softmax_logistic_fast.softmax_fast,
          ("int8->int8", "int8->int16", "uint8->uint8", "uint8->int16", "int16->int16", "float32"),
          notes="gemmlowp fixed point; int16: exp and 1/(1+x) tables (double in litert-ref, float in tflm); "
                "float uses libm expf; uint8 litert-ref only"),
    OpDef("LOGISTIC", softmax_logistic.prepare_logistic, softmax_logistic.logistic_spec,
          softmax_logistic_fast.logistic_fast,
          ("int8", "uint8", "int16", "float32"),
          notes="int8: float LUT (litert-ref), gemmlowp fixed point (tflm); uint8 LUT (litert-ref only); "
                "int16: interpolated sigmoid table"),
    OpDef("TANH", softmax_logistic.prepare_tanh, softmax_logistic.tanh_spec, softmax_logistic_fast.tanh_fast,
          ("int8", "uint8", "int16", "float32"),
          notes="8-bit: tanhf LUT (litert-ref), gemmlowp fixed point (tflm, int8); int16: interpolated sigmoid "
                "table; float uses libm tanhf"),
    OpDef("ARG_MAX", arg_minmax.prepare_arg_max, arg_minmax.arg_min_max_spec, arg_minmax_fast.arg_min_max_fast,
          ("float32", "uint8", "int8", "int32", "bool"),
          notes="output int32/int64; axis int32/int64, constant or computed; ties take the first index"),
    OpDef("ARG_MIN", arg_minmax.prepare_arg_min, arg_minmax.arg_min_max_spec, arg_minmax_fast.arg_min_max_fast,
          ("float32", "uint8", "int8", "int32", "bool"),
          notes="output int32/int64; axis int32/int64, constant or computed; ties take the first index"),
    OpDef("LEAKY_RELU", activations.prepare_leaky_relu, activations.leaky_relu_spec,
          activations_fast.leaky_relu_fast, ("int8", "uint8", "int16", "float32"),
          notes="multipliers in float32 (litert-ref), double (tflm); int16: zero points 0 (litert-ref)",
          fast_prepare=activations_fast.prepare_leaky_relu_fast),
    OpDef("CONCATENATION", shape_ops.prepare_concatenation, shape_ops.concatenation_spec, None,
          ("int8", "uint8", "int16", "int32", "int64", "float32", "bool"),
          notes="int8/int16 inputs must share the output's scale (as TFLite requires); uint8 rescales"),
    OpDef("RESIZE_NEAREST_NEIGHBOR", resize.prepare_resize_nearest, resize.resize_nearest_spec, None,
          ("int8", "uint8", "int16", "float32"),
          notes="one NumPy gather of whole channel vectors (faster than a compiled kernel)"),
    OpDef("RESHAPE", shape_ops.prepare_reshape, shape_ops.reshape_spec, None, ("any",)),
    OpDef("QUANTIZE", quantize.prepare_quantize, quantize.quantize_spec, quantize_fast.quantize_fast,
          ("float32->int8", "float32->uint8", "int8->int8", "uint8->int8", "int8->uint8", "uint8->uint8",
           "float32->int16", "int16->int8", "int16->int16", "int16->int32", "int32->int8", "int32->int16",
           "int8->int16", "uint8->int16"),
          notes="requantize: QuantizeMultiplier(f64 ratio); int16->int16 zero points 0 (litert-ref); "
                "TFLM's int8->int16/int32 under profile tflm",
          fast_prepare=quantize_fast.prepare_quantize_fast),
    OpDef("DEQUANTIZE", quantize.prepare_dequantize, quantize.dequantize_spec, quantize_fast.dequantize_fast,
          ("int8", "uint8", "int16", "float16"), fast_prepare=quantize_fast.prepare_dequantize_fast),
    OpDef("DENSIFY", sparse.prepare_densify, sparse.densify_spec, None, sparse.DENSIFY_TYPES,
          profiles=("litert-ref",), notes="sparse constant expanded once at prepare (FormatConverter SparseToDense)"),
    OpDef("ADD", elementwise.prepare_add, elementwise.binary_spec, elementwise_fast.binary_fast,
          ("int8", "uint8", "int16", "float32", "int32", "int64"),
          notes="NumPy broadcasting; left shift 20 (8-bit), 15 (int16); int16 power-of-two path (pot_scale_int16)",
          fast_prepare=elementwise_fast.prepare_add_fast),
    OpDef("SUB", elementwise.prepare_sub, elementwise.binary_spec, elementwise_fast.binary_fast,
          ("int8", "uint8", "int16", "float32", "int32", "int64"),
          notes="NumPy broadcasting; output multiplier <= 1; int16 as ADD",
          fast_prepare=elementwise_fast.prepare_sub_fast),
    OpDef("MUL", elementwise.prepare_mul, elementwise.binary_spec, elementwise_fast.binary_fast,
          ("int8", "uint8", "int16", "float32", "int32", "int64", "int16->int8", "int16->uint8"),
          notes="multiplier s1*s2/s_out: float32 (litert-ref), double (tflm); int16 -> int8/uint8: Q0.15 product "
                ">> 8, scales unused, no broadcasting (litert-ref only)",
          fast_prepare=elementwise_fast.prepare_mul_fast),
    OpDef("MINIMUM", elementwise.prepare_minimum, elementwise.binary_spec, None,
          ("int8", "uint8", "int16", "int32", "int64", "float32"), notes="raw values, no requantization"),
    OpDef("MAXIMUM", elementwise.prepare_maximum, elementwise.binary_spec, None,
          ("int8", "uint8", "int16", "int32", "int64", "float32"), notes="raw values, no requantization"),
    OpDef("RELU", activations.prepare_relu, activations.relu_spec, activations_fast.relu_fast,
          ("int8", "uint8", "int16", "float32"),
          notes="requantizes; multiplier f32(s_in/s_out) (litert-ref), double (tflm); int16 litert-ref only",
          fast_prepare=activations_fast.prepare_relu_fast),
    OpDef("RELU6", activations.prepare_relu, activations.relu_spec, activations_fast.relu_fast,
          ("int8", "uint8", "int16", "float32"),
          notes="litert-ref requantizes; tflm clamps the raw input to [zp_in, q(6)]",
          fast_prepare=activations_fast.prepare_relu_fast),
    OpDef("RELU_N1_TO_1", activations.prepare_relu, activations.relu_spec, activations_fast.relu_fast,
          ("int8", "uint8", "float32"),
          profiles=("litert-ref",), notes="requantizes like RELU",
          fast_prepare=activations_fast.prepare_relu_fast),
    OpDef("PAD", shape_ops.prepare_pad, shape_ops.pad_spec, None,
          ("int8", "uint8", "int16", "int32", "int64", "float32"), notes="pads with zp_out; up to 5-D"),
    OpDef("PADV2", shape_ops.prepare_pad, shape_ops.pad_spec, None,
          ("int8", "uint8", "int16", "int32", "int64", "float32"), notes="pads with constant_values"),
    OpDef("TRANSPOSE", shape_ops.prepare_transpose, shape_ops.transpose_spec, None, ("any",), notes="up to 8-D"),
    OpDef("STRIDED_SLICE", shape_ops.prepare_strided_slice, shape_ops.strided_slice_spec, None, ("any",),
          notes="begin/end/ellipsis/new_axis/shrink_axis masks, offset"),
    OpDef("SHAPE", shape_ops.prepare_shape, shape_ops.shape_spec, None, ("any",), notes="out_type int32 or int64"),
    OpDef("PACK", shape_ops.prepare_pack, shape_ops.pack_spec, None,
          ("int8", "uint8", "int16", "int32", "uint32", "int64", "float32")),
    OpDef("TILE", shape_ops.prepare_tile, shape_ops.tile_spec, None, ("any",),
          notes="any version (the SSD models use TILE v3)"),
    OpDef("RESIZE_BILINEAR", resize.prepare_resize_bilinear, resize.resize_bilinear_spec,
          resize_fast.resize_bilinear_fast,
          ("int8", "uint8", "int16", "float32"), notes="int8/int16: 10-bit integer rule; uint8/float32: float32 rule"),
    # data movement II (refinterp/ops/rearrange.py, cast.py): raw values, never rescaled
    OpDef("SPLIT", rearrange.prepare_split, rearrange.split_spec, None, rearrange.SPLIT_TYPES,
          notes="axis input (constant or not); equal parts"),
    OpDef("SPLIT_V", rearrange.prepare_split_v, rearrange.split_v_spec, None, rearrange.SPLIT_TYPES,
          notes="size_splits int32/int64, one -1 allowed"),
    OpDef("UNPACK", rearrange.prepare_unpack, rearrange.unpack_spec, None,
          ("int8", "uint8", "int16", "int32", "float32", "bool"), notes="outputs keep the input's quantization"),
    OpDef("SQUEEZE", rearrange.prepare_squeeze, rearrange.squeeze_spec, None, ("any",), notes="up to 8-D"),
    OpDef("EXPAND_DIMS", rearrange.prepare_expand_dims, rearrange.expand_dims_spec, None, ("any",),
          notes="axis int32/int64, constant or not; output quantization must equal the input's"),
    OpDef("SLICE", rearrange.prepare_slice, rearrange.slice_spec, None, ("any",),
          notes="begin/size int32 or int64, size -1; result must match a static output shape"),
    OpDef("REVERSE_V2", rearrange.prepare_reverse_v2, rearrange.reverse_v2_spec, None,
          ("int8", "uint8", "int16", "int32", "int64", "float32", "bool"), notes="contiguous axes, up to 8-D"),
    OpDef("DEPTH_TO_SPACE", rearrange.prepare_depth_to_space, rearrange.depth_to_space_spec, None,
          rearrange.DEPTH_SPACE_TYPES, notes="NHWC; any version"),
    OpDef("SPACE_TO_DEPTH", rearrange.prepare_space_to_depth, rearrange.space_to_depth_spec, None,
          rearrange.DEPTH_SPACE_TYPES, notes="NHWC"),
    OpDef("BATCH_TO_SPACE_ND", rearrange.prepare_batch_to_space_nd, rearrange.batch_to_space_nd_spec, None,
          ("any",), notes="3-D or 4-D; block and crops int32"),
    OpDef("SPACE_TO_BATCH_ND", rearrange.prepare_space_to_batch_nd, rearrange.space_to_batch_nd_spec, None,
          ("any",), notes="3-D or 4-D; pads with the zero point's byte (8/16-bit) or 0"),
    OpDef("MIRROR_PAD", rearrange.prepare_mirror_pad, rearrange.mirror_pad_spec, None, ("any",),
          notes="REFLECT and SYMMETRIC; paddings int32/int64"),
    OpDef("BROADCAST_TO", rearrange.prepare_broadcast_to, rearrange.broadcast_to_spec, None, ("any",),
          notes="shape int32/int64, constant or not"),
    OpDef("BROADCAST_ARGS", rearrange.prepare_broadcast_args, rearrange.broadcast_args_spec, None,
          ("int32", "int64")),
    OpDef("FILL", rearrange.prepare_fill, rearrange.fill_spec, None, ("any",),
          notes="dims int32/int64, constant or not; the value's quantization"),
    OpDef("ZEROS_LIKE", rearrange.prepare_zeros_like, rearrange.zeros_like_spec, None, rearrange.ZEROS_LIKE_TYPES),
    OpDef("CAST", cast.prepare_cast, cast.cast_spec, None, cast.CAST_TYPES,
          notes="from the listed type to any of them; float to int saturates (NaN: max); quantization ignored"),
    # indexing (refinterp/ops/indexing.py): an index out of range fails at invoke
    OpDef("GATHER", indexing.prepare_gather, indexing.gather_spec, None,
          ("int8", "uint8", "int16", "int32", "int64", "float32", "bool"),
          notes="axis, batch_dims; int16/int32/int64 positions; constant positions checked at prepare"),
    OpDef("GATHER_ND", indexing.prepare_gather_nd, indexing.gather_nd_spec, None,
          ("int8", "uint8", "int16", "int32", "int64", "float32", "bool"), notes="int16/int32/int64 indices"),
    OpDef("EMBEDDING_LOOKUP", indexing.prepare_embedding_lookup, indexing.embedding_lookup_spec, None,
          ("int8", "uint8", "int16", "int32", "int64", "float32", "bool", "int8->float32", "uint8->float32"),
          notes="hybrid int8/uint8 table -> float32 (per-tensor or per-row scale)"),
    OpDef("SCATTER_ND", indexing.prepare_scatter_nd, indexing.scatter_nd_spec, None, indexing.SCATTER_TYPES,
          notes="duplicates accumulate in index order"),
    OpDef("TOPK_V2", indexing.prepare_topk_v2, indexing.topk_v2_spec, None, indexing.TOPK_TYPES,
          notes="ties: smaller index first; int32 or int16 indices; NaN refused"),
    OpDef("ONE_HOT", indexing.prepare_one_hot, indexing.one_hot_spec, None, indexing.ONE_HOT_TYPES),
    OpDef("DYNAMIC_UPDATE_SLICE", indexing.prepare_dynamic_update_slice, indexing.dynamic_update_slice_spec, None,
          indexing.DYNAMIC_UPDATE_SLICE_TYPES,
          notes="start indices int32/int64, clamped to [0, dim - update_dim]; tflm: int8/int16/int32/float32, "
                "rank 1-6"),
    # comparisons, logical, select (refinterp/ops/logical.py)
    OpDef("EQUAL", logical.prepare_comparison, logical.comparison_spec, None,
          ("int8", "uint8", "int16", "int32", "int64", "float32", "bool"),
          notes="int8/uint8 (and quantized int16) compare rescaled values"),
    OpDef("NOT_EQUAL", logical.prepare_comparison, logical.comparison_spec, None,
          ("int8", "uint8", "int16", "int32", "int64", "float32", "bool"),
          notes="int8/uint8/int16 compare rescaled values (unquantized int16 refused)"),
    OpDef("LESS", logical.prepare_comparison, logical.comparison_spec, None,
          ("int8", "uint8", "int16", "int32", "int64", "float32"), notes="int8/uint8 compare rescaled values"),
    OpDef("LESS_EQUAL", logical.prepare_comparison, logical.comparison_spec, None,
          ("int8", "uint8", "int16", "int32", "int64", "float32"), notes="int8/uint8 compare rescaled values"),
    OpDef("GREATER", logical.prepare_comparison, logical.comparison_spec, None,
          ("int8", "uint8", "int16", "int32", "int64", "float32"), notes="int8/uint8 compare rescaled values"),
    OpDef("GREATER_EQUAL", logical.prepare_comparison, logical.comparison_spec, None,
          ("int8", "uint8", "int16", "int32", "int64", "float32"), notes="int8/uint8 compare rescaled values"),
    OpDef("LOGICAL_AND", logical.prepare_logical_binary, logical.logical_binary_spec, None, ("bool",)),
    OpDef("LOGICAL_OR", logical.prepare_logical_binary, logical.logical_binary_spec, None, ("bool",)),
    OpDef("LOGICAL_NOT", logical.prepare_logical_not, logical.logical_not_spec, None, ("bool",)),
    OpDef("SELECT", logical.prepare_select, logical.select_spec, None, ("any",),
          notes="scalar, row (1-D) or same-shape condition; raw values"),
    OpDef("SELECT_V2", logical.prepare_select, logical.select_spec, None, ("any",),
          notes="broadcasting up to 8-D; raw values"),
    # unary math (refinterp/ops/unary_math.py)
    OpDef("ABS", unary_math.prepare_unary, unary_math.unary_spec, unary_math_fast.unary_fast,
          ("int8", "int16", "int32", "float32"),
          notes="int8/int16 requantize when the scales differ (int16: zero points 0; unquantized int16: raw)",
          fast_prepare=unary_math_fast.prepare_unary_fast),
    OpDef("NEG", unary_math.prepare_unary, unary_math.unary_spec, unary_math_fast.unary_fast,
          ("int8", "int16", "int32", "int64", "float32"), notes="raw values (no requantization), wrapping",
          fast_prepare=unary_math_fast.prepare_unary_fast),
    OpDef("SQRT", unary_math.prepare_unary, unary_math.unary_spec, unary_math_fast.unary_fast,
          ("int8", "float32"), notes="int8: LUT; inputs below the zero point fail at invoke",
          fast_prepare=unary_math_fast.prepare_unary_fast),
    OpDef("RSQRT", unary_math.prepare_unary, unary_math.unary_spec, unary_math_fast.unary_fast,
          ("int8", "float32"), notes="int8: fixed-point inverse sqrt; inputs below the zero point fail at invoke",
          fast_prepare=unary_math_fast.prepare_unary_fast),
    OpDef("EXP", unary_math.prepare_unary, unary_math.unary_spec, unary_math_fast.unary_fast,
          ("int8", "float32"), notes="int8: LUTPopulate with expf; float: libm expf",
          fast_prepare=unary_math_fast.prepare_unary_fast),
    OpDef("LOG", unary_math.prepare_unary, unary_math.unary_spec, unary_math_fast.unary_fast,
          ("int8", "float32"), notes="int8: LUTPopulate with logf; float: libm logf",
          fast_prepare=unary_math_fast.prepare_unary_fast),
    OpDef("SIN", unary_math.prepare_unary, unary_math.unary_spec, unary_math_fast.unary_fast, ("float32",),
          notes="libm sinf", fast_prepare=unary_math_fast.prepare_unary_fast),
    OpDef("COS", unary_math.prepare_unary, unary_math.unary_spec, unary_math_fast.unary_fast, ("float32",),
          notes="libm cosf", fast_prepare=unary_math_fast.prepare_unary_fast),
    OpDef("SQUARE", unary_math.prepare_unary, unary_math.unary_spec, unary_math_fast.unary_fast, ("float32",),
          fast_prepare=unary_math_fast.prepare_unary_fast),
    OpDef("FLOOR", unary_math.prepare_unary, unary_math.unary_spec, unary_math_fast.unary_fast, ("float32",),
          fast_prepare=unary_math_fast.prepare_unary_fast),
    OpDef("CEIL", unary_math.prepare_unary, unary_math.unary_spec, unary_math_fast.unary_fast, ("float32",),
          notes="not in LiteRT's reference resolver (rule of its builtin resolver and TFLM)",
          fast_prepare=unary_math_fast.prepare_unary_fast),
    OpDef("ROUND", unary_math.prepare_unary, unary_math.unary_spec, unary_math_fast.unary_fast, ("float32",),
          notes="half to even; not in LiteRT's reference resolver (rule of its builtin resolver and TFLM)",
          fast_prepare=unary_math_fast.prepare_unary_fast),
    OpDef("ELU", unary_math.prepare_unary, unary_math.unary_spec, unary_math_fast.unary_fast, ("int8", "float32"),
          notes="expm1f; int8 LUT; not in LiteRT's reference resolver (rule of its builtin resolver and TFLM)",
          fast_prepare=unary_math_fast.prepare_unary_fast),
    OpDef("HARD_SWISH", unary_math.prepare_hard_swish, unary_math.hard_swish_spec, unary_math_fast.hard_swish_fast,
          ("int8", "uint8", "float32"), notes="8-bit: 16-bit fixed point of reference_ops::HardSwish",
          fast_prepare=unary_math_fast.prepare_hard_swish_fast),
    OpDef("PRELU", unary_math.prepare_prelu, unary_math.prelu_spec, unary_math_fast.prelu_fast,
          ("int8", "uint8", "int16", "float32"),
          notes="alpha broadcast to the input's shape; two multipliers (float32 litert-ref, double "
                "tflm); int16: int8 alpha"),
    OpDef("L2_NORMALIZATION", unary_math.prepare_l2_normalization, unary_math.l2_normalization_spec,
          unary_math_fast.l2_normalization_fast, ("int8", "uint8", "float32"),
          notes="last axis; 8-bit output (1/128, 0 or 128)"),
    OpDef("LOG_SOFTMAX", unary_math.prepare_log_softmax, unary_math.log_softmax_spec,
          unary_math_fast.log_softmax_fast, ("int8", "uint8", "float32"),
          notes="int8/uint8: gemmlowp fixed point (output 16/256, 127/255); float: libm expf/logf"),
    # binary math (refinterp/ops/binary_math.py)
    OpDef("DIV", binary_math.prepare_binary_math, binary_math.binary_math_spec, binary_math_fast.binary_math_fast,
          ("int8", "uint8", "int32", "float32"), notes="8-bit: GetReciprocal fixed point; divisor = zp fails at invoke",
          fast_prepare=binary_math_fast.prepare_binary_math_fast),
    OpDef("FLOOR_DIV", binary_math.prepare_binary_math, binary_math.binary_math_spec,
          binary_math_fast.binary_math_fast, ("int8", "int32", "float32"),
          notes="raw values; floor of the double quotient; divisor 0 fails at invoke",
          fast_prepare=binary_math_fast.prepare_binary_math_fast),
    OpDef("FLOOR_MOD", binary_math.prepare_binary_math, binary_math.binary_math_spec,
          binary_math_fast.binary_math_fast, ("int8", "int32", "int64", "float32"),
          notes="raw values; integer divisor 0 fails at invoke",
          fast_prepare=binary_math_fast.prepare_binary_math_fast),
    OpDef("SQUARED_DIFFERENCE", binary_math.prepare_binary_math, binary_math.binary_math_spec,
          binary_math_fast.binary_math_fast, ("int8", "int32", "float32"), notes="int8: 7-bit left shift rule",
          fast_prepare=binary_math_fast.prepare_binary_math_fast),
    OpDef("POW", binary_math.prepare_binary_math, binary_math.binary_math_spec, binary_math_fast.binary_math_fast,
          ("int32", "float32"), notes="libm powf; int32 via double pow, negative exponents fail at invoke",
          fast_prepare=binary_math_fast.prepare_binary_math_fast),
    OpDef("ADD_N", binary_math.prepare_add_n, binary_math.add_n_spec, binary_math_fast.add_n_fast,
          ("int32", "float32"), notes="equal shapes; summed from the first input"),
    # detection post-processing (refinterp/ops/detection.py): sorts and selects, no fast kernel
    OpDef("CUSTOM:TFLite_Detection_PostProcess", detection.prepare_detection_postprocess,
          detection.detection_postprocess_spec, None, ("float32", "uint8"), profiles=("litert-ref",),
          versions=(1,),
          notes="flexbuffer options; fast and regular NMS; ties as std::stable_sort / libstdc++ partial_sort"),
    OpDef("NON_MAX_SUPPRESSION_V4", detection.prepare_non_max_suppression, detection.non_max_suppression_spec,
          None, ("float32",), profiles=("litert-ref",),
          notes="libstdc++ priority_queue order; max_output_size constant or computed"),
    OpDef("NON_MAX_SUPPRESSION_V5", detection.prepare_non_max_suppression, detection.non_max_suppression_spec,
          None, ("float32",), profiles=("litert-ref",),
          notes="soft NMS (Gaussian, libm expf); max_output_size constant or computed"),
    # stateful (refinterp/ops/svdf.py): the state input is a variable tensor, returned in a KernelResult
    OpDef("SVDF", svdf.prepare_svdf, svdf.svdf_spec, svdf_fast.svdf_fast, ("int8", "float32", "hybrid"),
          notes="int8: int16 state (tflm: int8 too), RELU required and not applied (litert-ref); float32: NEON "
                "lane sums (litert-ref), plain order (tflm); hybrid litert-ref only"),
    OpDef("RNN", rnn.prepare_rnn, rnn.rnn_spec, None, ("float32", "hybrid"), profiles=("litert-ref",),
          notes="hidden state variable; NEON lane sums; TANH = Eigen's tanh; TFLM has no kernel"),
    OpDef("UNIDIRECTIONAL_SEQUENCE_RNN", rnn.prepare_rnn, rnn.rnn_spec, None, ("float32", "hybrid"),
          profiles=("litert-ref",),
          notes="time_major or batch-major; NEON lane sums; TANH = Eigen's tanh; TFLM has no kernel"),
    OpDef("BIDIRECTIONAL_SEQUENCE_RNN", rnn.prepare_bidirectional_rnn, rnn.bidirectional_rnn_spec, None,
          ("float32", "hybrid"), profiles=("litert-ref",),
          notes="two hidden states; merge_outputs, aux input (cross links / backward input), LiteRT's pointer "
                "arithmetic and hybrid time-major T passes followed; TANH = Eigen's tanh; TFLM has no kernel"),
    # recurrent (refinterp/ops/lstm.py): the two state inputs are variable tensors, returned in a KernelResult
    OpDef("UNIDIRECTIONAL_SEQUENCE_LSTM", lstm.prepare_unidirectional_sequence_lstm,
          lstm.unidirectional_sequence_lstm_spec, lstm_fast.unidirectional_sequence_lstm_fast,
          ("int8", "float32", "hybrid"),
          fast_prepare=lstm_fast.prepare_unidirectional_sequence_lstm_fast,
          notes="int8x8 with int16 cell (LiteRT's 8x8_16: CIFG, peephole, projection, layer norm; tflm: TFLM's "
                "own, standard LSTM only, also int16x8); float32 (Eigen GEMV; time-major batch > 1 refused); hybrid "
                "(int8 weights, per-row input quantization, symmetric or asymmetric)"),
    OpDef("BIDIRECTIONAL_SEQUENCE_LSTM", lstm.prepare_bidirectional_sequence_lstm,
          lstm.bidirectional_sequence_lstm_spec, None, ("float32", "hybrid"), profiles=("litert-ref",),
          notes="two LSTM cells (the backward one from the last step), merge_outputs; no auxiliary input; float32 "
                "time-major batch > 1 and batch-major hybrid refused; TFLM has no kernel"),
)

# Control flow and resource variables move values of every type between subgraphs and variables without
# computing on them: their dtypes entry "all" says so; tests/test_control_flow.py holds them to LiteRT (multi-
# subgraph models over several invokes), not the single-operator harness.
_SUBGRAPH_ROWS = (
    OpDef("CALL_ONCE", control_flow.prepare_call_once, control_flow.call_once_spec, None, ("all",),
          ("litert-ref",), notes="init subgraph once per interpreter (not again after reset_all_variables)"),
    OpDef("WHILE", control_flow.prepare_while, control_flow.while_spec, None, ("all",), ("litert-ref",),
          notes="loop variables may change shape; max_while_iterations (default 1e6) then EvalError"),
    OpDef("IF", control_flow.prepare_if, control_flow.if_spec, None, ("all",), ("litert-ref",),
          notes="bool condition; branches may give different shapes"),
    OpDef("VAR_HANDLE", variables.prepare_var_handle, variables.var_handle_spec, None, ("all",), ("litert-ref",),
          notes="resource id by (container, shared_name), shared by all subgraphs"),
    OpDef("READ_VARIABLE", variables.prepare_read_variable, variables.read_variable_spec, None, ("all",),
          ("litert-ref",), notes="read before any assignment: EvalError"),
    OpDef("ASSIGN_VARIABLE", variables.prepare_assign_variable, variables.assign_variable_spec, None, ("all",),
          ("litert-ref",), notes="the variable takes the value's type and shape"),
)

REGISTRY: dict[str, OpDef] = {row.name: row for row in (*_TABLE, *_SUBGRAPH_ROWS)}


def lookup(name: str) -> OpDef | None:
    return REGISTRY.get(name)


#: The emulation profiles' tables (refinterp/ops/emulation/): operator name -> the emulated rule.
EMULATIONS: dict[str, dict[str, EmulatedOp]] = {"litert-opt": litert_opt_emulation.TABLE,
                                                "xnnpack": xnnpack_emulation.TABLE,
                                                "tflm-cmsis-nn": tflm_cmsis_nn_emulation.TABLE}


def prepare_kernel(opdef: OpDef, ctx: OpContext, kernels: str, profile: str) -> tuple[Any, Callable[..., Any]]:
    """(params, kernel) of one operator under ``profile``: the emulated rule where the emulation profile's
    table has one that applies to this case (its prepare returns params), else the reference kernel set."""
    emulated = EMULATIONS.get(profile, {}).get(opdef.name)
    if emulated is not None:
        params = emulated.prepare(ctx, opdef.prepare)
        if params is not None:
            return params, emulated.kernel
    return opdef.prepare_for(kernels)(ctx), opdef.kernel_for(kernels)

"""Profile "xnnpack": LiteRT 2.3.0 with the XNNPACK delegate, one delegate node per operator, on x86-64.

``TABLE`` lists the operators whose result under the delegate differs from the reference kernel's. Each entry
first decides whether the delegate takes the operator (``xnnpack_delegate.cc``'s checks: types, quantization,
scale ratios XNNPACK accepts); an operator it leaves to LiteRT runs LiteRT's optimized builtin kernel there, so
it follows profile "litert-opt" (``litert_opt.TABLE``, else the reference kernel). The rules
(docs/profiles.md, "Emulation profiles"):

* CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED (int8, uint8): fp32 requantization (XNNPACK
  ``src/xnnpack/requantization.h`` ``xnn_qs8_requantize_fp32``; scales from ``src/operators/convolution-nhwc.c``
  and ``fully-connected-nc.c``): ``scale[c] = f32(f32(s_in * s_w[c]) / s_out)``, then
  ``rne(clamp(f32(acc) * scale[c], qmin - zp, qmax - zp)) + zp``.
* LEAKY_RELU (int8, uint8): 8.8 fixed point (``src/microparams-init.c`` ``xnn_init_qs8_lrelu_scalar_params``,
  ``src/qs8-vlrelu``): ``pos = lrintf(256 * f32(s_in / s_out))``, ``neg = lrintf(256 * f32(f32(s_in / s_out) *
  alpha))``, ``y = clamp((zp_out * 256 + 128 + (q - zp_in) * (pos or neg)) >> 8)``.
* ADD (int8, uint8): ``xnn_init_qs8_add_minmax_scalar_params`` (src/microparams-init.c) and ``src/qs8-vadd``: two
  multipliers of at most 21 bits and one rounding right shift, ties toward +infinity.
* SUB (int8, uint8): the ADD rule with the second input's multiplier negated.
* MUL (int8, uint8): ``src/qs8-vmul`` fp32: ``rne(clamp(f32((a - zp_a) * (b - zp_b)) * f32(f32(s_a * s_b) / s_out)))``.
* TRANSPOSE_CONV (int8, uint8): the fp32 requantization of the convolutions (``deconvolution-nhwc.c``).
* MEAN (int8, uint8): ``rne(clamp(f32(f32(sum - N zp_in) * f32(f32(s_in / s_out) * f32(1/N))) + zp_out))``
  (``reduce-nd.c``; the zero point is added before the rounding).
* QUANTIZE: float input ``rne(clamp(x * f32(1/s))) + zp``; 8-bit input an 8.8 multiplier (``src/qs8-vcvt``).
* RESIZE_BILINEAR (int8, uint8): 11-bit fixed-point weights (``src/s8-ibilinear``, ``indirection.c``).
* BATCH_MATMUL (int8, symmetric right-hand side): the fp32 requantization.
* CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, TRANSPOSE_CONV (float32): XNNPACK's f32 FMA chains; hybrid
  FULLY_CONNECTED, CONV_2D and BATCH_MATMUL: XNNPACK's qd8 kernels (``xnnpack_float.py``).
* LOGISTIC, TANH (float32): XNNPACK's AVX-512 vsigmoid and rational 9/8 vtanh microkernels, with denormals
  flushed (``xnnpack_float.py``).
* SOFTMAX (float32, beta 1): XNNPACK's avx512f rmax, rr2-p5 raddstoreexpminusmax and ``(1 / sum) * f``, with
  denormals flushed (``xnnpack_float_math.py``); the 8-bit kinds: litert-opt's rule, as before.
* RELU, RELU6, RELU_N1_TO_1, CEIL, FLOOR, ROUND, SQUARE, NEG (float32): XNNPACK's clamp / round / square / negate
  under DAZ + FTZ (``xnnpack_float_math.py``).
* ADD, SUB, MUL, DIV, MAXIMUM, MINIMUM, SQUARED_DIFFERENCE (float32): XNNPACK's vbinary microkernels under DAZ /
  FTZ, no clamp without an activation, x86 NaN operand order (``xnnpack_float_binary.py``).
* AVERAGE_POOL_2D, MEAN, RESIZE_BILINEAR, HARD_SWISH (float32): XNNPACK's f32 avgpool 9p, rsum / rdsum,
  ibilinear and vhswish microkernels, with denormals flushed (``xnnpack_float_reduce.py``).
* EXP, LOG, SQRT, RSQRT, SIN, COS, ELU, LEAKY_RELU (float32): XNNPACK's avx512f rational vexp / vlog,
  vrsqrt14ps + Newton vsqrt / vrsqrt, rational 5/4 vsin / vcos, rr1-p6 velu and vlrelu under DAZ / FTZ
  (``xnnpack_float_transcendental.py``).

The fused activation becomes XNNPACK's output_min/output_max (``xnn_qs8_quantize``: ``lrintf`` of
``f32(v / s_out) + zp`` clamped to the type), not LiteRT's half-away rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from refinterp.ops.common import PADDING_SAME, OpContext, per_tensor_qparams
from refinterp.ops.emulation import (
    EmulatedOp,
    litert_opt,
    xnnpack_float,
    xnnpack_float_binary,
    xnnpack_float_math,
    xnnpack_float_reduce,
    xnnpack_float_transcendental,
)
from refinterp.ops.emulation.arithmetic import (
    conv_accumulators,
    depthwise_accumulators,
    fp32_requantize,
    fully_connected_accumulators,
    transpose_conv_accumulators,
)
from refinterp.quant import DTYPE_RANGES, wrap_int32

ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6 = 0, 1, 2, 3
#: fused activation -> the float (output_min, output_max) the delegate gives XNNPACK
_ACTIVATION_BOUNDS = {ACT_NONE: (-math.inf, math.inf), ACT_RELU: (0.0, math.inf), ACT_RELU_N1_TO_1: (-1.0, 1.0),
                      ACT_RELU6: (0.0, 6.0)}


def xnnpack_activation_range(activation: int, scale: float, zero_point: int, dtype: np.dtype) -> tuple[int, int] | None:
    """``xnn_qs8_quantize`` / ``xnn_qu8_quantize`` (src/xnnpack/quantization.h) of the delegate's float bounds:
    ``lrintf(min(max(f32(v / s) + zp, qmin), qmax))``; None for an activation the delegate refuses."""
    bounds = _ACTIVATION_BOUNDS.get(activation)
    if bounds is None:
        return None
    qmin, qmax = DTYPE_RANGES[np.dtype(dtype)]
    out = []
    for value in bounds:
        with np.errstate(over="ignore"):
            v = np.float32(np.float32(value) / np.float32(scale)) + np.float32(zero_point)
        out.append(int(np.rint(np.float32(min(max(v, np.float32(qmin)), np.float32(qmax))))))
    return out[0], out[1]


#: XNN_MAX_TENSOR_DIMS: the delegate refuses a tensor of more dimensions
MAX_DIMS = 6


def shapes_delegable(ctx: OpContext) -> bool:
    """The delegate's CheckTensorShape on every input and output: at most 6 dimensions, none of size 0
    (measured: an empty output stays with LiteRT)."""
    tensors = [ctx.input(i) for i in range(ctx.num_inputs)] + [ctx.output(i) for i in range(len(ctx.op.outputs))]
    shapes = [ctx.shape(t) for t in tensors if t is not None]
    return all(len(shape) <= MAX_DIMS and 0 not in shape for shape in shapes)


def per_tensor_delegable(tensor) -> bool:
    """The delegate's CheckTensorQInt8OrQUInt8Type for an 8-bit activation: affine quantization with one scale
    and quantized_dimension 0 (a single scale on another axis stays with LiteRT)."""
    q = tensor.quantization
    return q is not None and q.scale.size == 1 and q.quantized_dimension == 0


def _fallback(op: str):
    """What LiteRT runs where the delegate leaves the operator: litert-opt's rule, or None (the reference)."""
    entry = litert_opt.TABLE.get(op)
    return entry


# ------------------------------------------------------------------------------------------------
# CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED: fp32 requantization


@dataclass(frozen=True)
class Fp32Requantization:
    base: Any  # the reference params (accumulator geometry, zero points)
    scale: np.ndarray  # float32 [channels]
    qmin: int
    qmax: int


def _fp32_scales(input_scale: float, filter_scales: np.ndarray, output_scale: float, channels: int) -> np.ndarray:
    """``f32(f32(s_in * s_w[c]) / s_out)`` (convolution-nhwc.c, fully-connected-nc.c: float arithmetic)."""
    scales = np.broadcast_to(np.asarray(filter_scales, np.float32), (channels,))
    return ((np.float32(input_scale) * scales).astype(np.float32) / np.float32(output_scale)).astype(np.float32)


def _prepare_fp32(op: str, rules: tuple[str, ...], channel_axis: int):
    fallback = _fallback(op)

    def prepare(ctx: OpContext, reference_prepare) -> Any:
        params = reference_prepare(ctx)
        # the delegate takes a float or hybrid TRANSPOSE_CONV only with a constant output shape its deconvolution
        # gives
        takes = op != "TRANSPOSE_CONV" or (ctx.require_input(0).is_constant and _deconvolution_fits(
            ctx, params, ctx.require_input(2), ctx.require_input(1)))
        if _rule(params) in ("hybrid", "hybrid_per_channel") and op in ("FULLY_CONNECTED", "CONV_2D",
                                                                         "TRANSPOSE_CONV"):
            # None: LiteRT's hybrid kernel (the reference's)
            return xnnpack_float.prepare_hybrid(ctx, params) if takes else None
        if _rule(params) == "float32":
            delegated = xnnpack_float.prepare_float(ctx, params) if takes else None
        else:
            delegated = _fp32_params(ctx, params, rules, channel_axis)
        if delegated is not None:
            return delegated
        if fallback is not None:  # left to LiteRT: its optimized builtin kernel, litert-opt's rule
            return fallback.prepare(ctx, lambda _ctx: params)
        return None
    return prepare


def _rule(params: Any) -> str:
    return params.rule if hasattr(params, "rule") else params.kind


def _fp32_params(ctx: OpContext, params: Any, rules: tuple[str, ...], channel_axis: int) -> Fp32Requantization | None:
    rule = _rule(params)
    if rule not in rules or not shapes_delegable(ctx):
        return None
    x, w, y = ctx.require_input(0), ctx.require_input(1), ctx.output(0)
    bias = ctx.input(2)
    if ctx.op.name == "TRANSPOSE_CONV":
        # inputs: output shape, weights, input, bias; the delegate needs a constant output shape
        if not ctx.require_input(0).is_constant:
            return None
        x, bias = ctx.require_input(2), ctx.input(3)
        if not _deconvolution_fits(ctx, params, x, w):
            return None
    if ctx.op.name == "DEPTHWISE_CONV_2D":
        # the delegate passes the options' depth_multiplier to XNNPACK (input channels = C_out / it)
        multiplier = int(ctx.options.get("depth_multiplier", 0))
        if multiplier <= 0 or ctx.shape(x)[3] * multiplier != ctx.shape(w)[3] or bias is None:
            return None
    if not w.is_constant or (bias is not None and not bias.is_constant):
        return None  # the delegate needs static weights and bias
    if y.type_name not in ("int8", "uint8"):
        return None
    wq = w.quantization
    if x.type_name == "int8" and np.any(wq.zero_point != 0):
        return None  # qs8 weights must be symmetric
    if x.type_name == "uint8" and wq.quantized_dimension != 0:
        return None  # measured: a uint8 filter whose (single) scale names another dimension stays with LiteRT
    input_scale, _ = per_tensor_qparams(ctx, x, "input")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    channels = ctx.shape(w)[channel_axis]
    scale = _fp32_scales(input_scale, wq.scale, output_scale, channels)
    if np.any(scale >= 256.0):
        return None  # XNNPACK refuses such a requantization scale (measured: tiny ones, below 2**-32, it takes)
    bounds = xnnpack_activation_range(int(ctx.options.get("fused_activation_function", 0)), output_scale,
                                      output_zero_point, y.dtype)
    if bounds is None:
        return None
    return Fp32Requantization(params, scale, bounds[0], bounds[1])


def _deconvolution_fits(ctx: OpContext, params: Any, x: Any, w: Any) -> bool:
    """Whether XNNPACK's deconvolution gives the TRANSPOSE_CONV's output size (measured on random cases): its
    size is ``(in - 1) * stride + kernel - padding + adjustment``; with SAME padding the delegate leaves no room
    for an adjustment, with VALID one below the stride. SAME also needs every kernel size at least its stride
    (``xnnpack_delegate.cc`` ``CalculateTransposeConvPaddings``: "strides larger than effective kernel
    dimensions unsupported")."""
    out_shape = params.output_shape
    if out_shape is None:
        return False
    for axis, stride in ((1, params.stride_h), (2, params.stride_w)):
        size_in, size_out, kernel = ctx.shape(x)[axis], out_shape[axis], ctx.shape(w)[axis]
        full = (size_in - 1) * stride + kernel
        padding = max(0, full - size_out) if params.padding == PADDING_SAME else 0
        adjustment = size_out - (full - padding)
        if adjustment < 0 or adjustment >= stride or (params.padding == PADDING_SAME and adjustment != 0):
            return False
        if params.padding == PADDING_SAME and kernel < stride:
            return False
    return True


def _fp32_output(q: Fp32Requantization, acc: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return fp32_requantize(acc, q.scale, q.base.output_zero_point, q.qmin, q.qmax).astype(dtype)


def conv2d_fp32(q: Fp32Requantization, x: np.ndarray, w: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """CONV_2D under XNNPACK (qs8-qc8w / qu8 IGEMM, fp32 requantization)."""
    if isinstance(q, xnnpack_float.FloatGemm):  # float32 (xnnpack_float.py)
        return xnnpack_float.run(q, x, w, bias)
    if isinstance(q, xnnpack_float.HybridGemm):  # int8 weights, float32 activations (xnnpack_float.py)
        return xnnpack_float.run_hybrid(q, x, w, bias)
    if not isinstance(q, Fp32Requantization):  # the delegate left it to LiteRT
        return litert_opt.TABLE["CONV_2D"].kernel(q, x, w, bias)
    return _fp32_output(q, conv_accumulators(q.base, x, w, bias), x.dtype)


def depthwise_conv2d_fp32(q: Fp32Requantization, x: np.ndarray, w: np.ndarray,
                          bias: np.ndarray | None = None) -> np.ndarray:
    """DEPTHWISE_CONV_2D under XNNPACK (qs8-qc8w / qu8 DWCONV, fp32 requantization)."""
    if isinstance(q, xnnpack_float.FloatGemm):  # float32 (xnnpack_float.py)
        return xnnpack_float.run(q, x, w, bias)
    if isinstance(q, xnnpack_float.HybridGemm):  # int8 weights, float32 activations (xnnpack_float.py)
        return xnnpack_float.run_hybrid(q, x, w, bias)
    if not isinstance(q, Fp32Requantization):
        return litert_opt.TABLE["DEPTHWISE_CONV_2D"].kernel(q, x, w, bias)
    return _fp32_output(q, depthwise_accumulators(q.base, x, w, bias), x.dtype)


def fully_connected_fp32(q: Fp32Requantization, x: np.ndarray, w: np.ndarray,
                         bias: np.ndarray | None = None) -> np.ndarray:
    """FULLY_CONNECTED under XNNPACK (qs8-qc8w / qu8 GEMM, fp32 requantization)."""
    if isinstance(q, xnnpack_float.FloatGemm):  # float32 (xnnpack_float.py)
        return xnnpack_float.run(q, x, w, bias)
    if isinstance(q, xnnpack_float.HybridGemm):  # int8 weights, float32 activations (xnnpack_float.py)
        return xnnpack_float.run_hybrid(q, x, w, bias)
    if not isinstance(q, Fp32Requantization):
        return litert_opt.TABLE["FULLY_CONNECTED"].kernel(q, x, w, bias)
    p = q.base
    return _fp32_output(q, fully_connected_accumulators(p, x, w, bias), x.dtype).reshape(p.output_shape)


def transpose_conv_fp32(q: Fp32Requantization, shape_values: np.ndarray | None, w: np.ndarray, x: np.ndarray,
                       bias: np.ndarray | None = None) -> np.ndarray:
    """TRANSPOSE_CONV under XNNPACK (qs8-qc8w / qu8 deconvolution, fp32 requantization)."""
    if isinstance(q, xnnpack_float.FloatGemm):  # float32 (xnnpack_float.py)
        shape, pads = litert_opt.transpose_conv_geometry(q.base, shape_values, w, x)
        return xnnpack_float.run_transpose_conv(q, shape, pads, w, x, bias)
    if isinstance(q, xnnpack_float.HybridGemm):  # int8 weights, float32 activations (xnnpack_float.py)
        shape, pads = litert_opt.transpose_conv_geometry(q.base, shape_values, w, x)
        return xnnpack_float.run_hybrid_transpose_conv(q, shape, pads, w, x, bias)
    if not isinstance(q, Fp32Requantization):
        return litert_opt.TABLE["TRANSPOSE_CONV"].kernel(q, shape_values, w, x, bias)
    shape, pads = litert_opt.transpose_conv_geometry(q.base, shape_values, w, x)
    return _fp32_output(q, transpose_conv_accumulators(q.base, shape, pads, w, x, bias), x.dtype)


# ------------------------------------------------------------------------------------------------
# BATCH_MATMUL (int8): fp32 requantization when the right-hand side is symmetric


@dataclass(frozen=True)
class BatchMatMulFp32:
    base: Any  # the reference BatchMatMulParams
    scale: np.float32


def prepare_batch_matmul(ctx: OpContext, reference_prepare) -> BatchMatMulFp32 | BatchMatMulQd8 | None:
    params = reference_prepare(ctx)
    if params.kind == "hybrid":
        return _prepare_batch_matmul_hybrid(ctx, params)
    if params.kind != "int8" or params.rhs_zero_point != 0 or not shapes_delegable(ctx):
        return None  # measured: the delegate takes an int8 BATCH_MATMUL exactly when the RHS zero point is 0
    lhs, rhs, y = ctx.require_input(0), ctx.require_input(1), ctx.output(0)
    scales = [per_tensor_qparams(ctx, t, role)[0] for t, role in ((lhs, "lhs"), (rhs, "rhs"), (y, "output"))]
    scale = np.float32(np.float32(np.float32(scales[0]) * np.float32(scales[1])) / np.float32(scales[2]))
    if scale >= 256.0:
        return None
    return BatchMatMulFp32(params, scale)


@dataclass(frozen=True)
class BatchMatMulQd8:
    base: Any  # the reference BatchMatMulParams (hybrid)
    weight_scale: np.ndarray  # float32 [units] (one scale repeated, or per output column)


def _prepare_batch_matmul_hybrid(ctx: OpContext, params: Any) -> BatchMatMulQd8 | None:
    """A hybrid BATCH_MATMUL (float32 left, constant int8 right, symmetric, one scale or one per output column):
    XNNPACK's qd8 batch matrix multiply (measured on deepfilternet's dfnet2_stateful_dynamic and generated cases;
    a transposed left-hand side is left to the reference)."""
    rhs = ctx.require_input(1)
    quant = rhs.quantization
    if not rhs.is_constant or quant is None or len(quant.scale) not in (1, params.units) or \
            np.any(np.asarray(quant.zero_point) != 0) or params.adj_x or not shapes_delegable(ctx):
        return None
    return BatchMatMulQd8(params, np.broadcast_to(np.asarray(quant.scale, np.float32), (params.units,)).copy())


def batch_matmul_qd8(q: BatchMatMulQd8, lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Each left-hand row quantized with its own qd8 parameters (xnnpack_float.qd8_parameters), the exact int32
    sums with the right-hand int8 matrix, then ``f32(f32(acc) * f32(1 / scale)) * s_w`` (the qd8 GEMM's
    ``fma(., s_w, 0)``)."""
    p = q.base
    rows = lhs.reshape(-1, lhs.shape[-1]).astype(np.float32)
    scale, zero = xnnpack_float.qd8_parameters(rows.min(axis=1, initial=np.inf), rows.max(axis=1, initial=-np.inf))
    shifted = (xnnpack_float.qd8_quantize(rows, scale[:, None], zero[:, None]) - zero[:, None]).reshape(lhs.shape)
    y = np.swapaxes(rhs, -1, -2) if p.adj_y else rhs
    acc = wrap_int32(np.matmul(shifted.astype(np.float64), y.astype(np.float64)).astype(np.int64))
    inverse = (np.float32(1) / scale).astype(np.float32).reshape(lhs.shape[:-1] + (1,))
    out = ((acc.astype(np.float32) * inverse).astype(np.float32) * q.weight_scale).astype(np.float32)
    return np.ascontiguousarray(np.broadcast_to(out, p.output_shape))


def batch_matmul_fp32(q: BatchMatMulFp32, lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """XNNPACK qs8 batch matrix multiply: the exact int32 sums, then the fp32 requantization."""
    if isinstance(q, BatchMatMulQd8):
        return batch_matmul_qd8(q, lhs, rhs)
    p = q.base
    x = np.swapaxes(lhs, -1, -2) if p.adj_x else lhs
    y = np.swapaxes(rhs, -1, -2) if p.adj_y else rhs
    acc = np.matmul(x.astype(np.float64) - p.lhs_zero_point, y.astype(np.float64)).astype(np.int64)  # exact
    acc = np.broadcast_to(wrap_int32(acc), p.output_shape)
    return fp32_requantize(acc, q.scale, p.output_zero_point, p.act_min, p.act_max).astype(np.int8)


# ------------------------------------------------------------------------------------------------
# LEAKY_RELU: 8.8 fixed point


@dataclass(frozen=True)
class LeakyReluFixed:
    input_zero_point: int
    output_zero_point: int
    positive_multiplier: int
    negative_multiplier: int
    qmin: int
    qmax: int


def _lrintf(value: np.float32) -> int:
    return int(np.rint(np.float32(value)))


def prepare_leaky_relu(ctx: OpContext, reference_prepare) -> LeakyReluFixed | Any:
    if ctx.require_input(0).type_name == "float32":  # xnnpack_float_transcendental.py
        return xnnpack_float_transcendental.prepare_leaky_relu(ctx, reference_prepare)
    params = reference_prepare(ctx)
    x, y = ctx.require_input(0), ctx.output(0)
    if not params.quantized or x.type_name not in ("int8", "uint8") or not shapes_delegable(ctx):
        return None
    input_scale, input_zero_point = per_tensor_qparams(ctx, x, "input")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    positive_scale = np.float32(np.float32(input_scale) / np.float32(output_scale))
    negative_scale = np.float32(positive_scale * np.float32(params.alpha))
    # the delegate's and XNNPACK's range checks (xnn_init_qs8_lrelu_scalar_params asserts)
    if not (2.0 ** -8 <= positive_scale <= 2.0 ** 7 and -float.fromhex("0x1.FFFC00p+6") <= negative_scale <= 2.0 ** 7
            and abs(negative_scale) >= 2.0 ** -8):
        return None
    positive = _lrintf(np.float32(256.0) * positive_scale)
    negative = _lrintf(np.float32(256.0) * negative_scale)
    qmin, qmax = DTYPE_RANGES[x.dtype]
    return LeakyReluFixed(input_zero_point, output_zero_point, positive, negative, qmin, qmax)


def leaky_relu_fixed(p: LeakyReluFixed, x: np.ndarray) -> np.ndarray:
    """XNNPACK qs8/qu8 vlrelu: ``((zp_out << 8) + 128 + d * multiplier) >> 8`` (arithmetic shift), clamped."""
    if isinstance(p, xnnpack_float_transcendental.FloatLeakyRelu):
        return xnnpack_float_transcendental.run_leaky_relu(p, x)
    d = x.astype(np.int64) - p.input_zero_point
    acc = (p.output_zero_point << 8) + 128 + d * np.where(d >= 0, p.positive_multiplier, p.negative_multiplier)
    return np.clip(acc >> 8, p.qmin, p.qmax).astype(x.dtype)


# ------------------------------------------------------------------------------------------------
# LOGISTIC, TANH (float32): XNNPACK's vsigmoid / vtanh (xnnpack_float.py); the quantized kinds: the reference


def prepare_float_unary(ctx: OpContext, reference_prepare) -> xnnpack_float.FloatUnary | None:
    params = reference_prepare(ctx)
    if params.quantized:
        return None
    return xnnpack_float.prepare_unary(ctx)


def float_unary(q: xnnpack_float.FloatUnary, x: np.ndarray) -> np.ndarray:
    return xnnpack_float.run_unary(q, x)


# ------------------------------------------------------------------------------------------------
# SOFTMAX (float32): XNNPACK's rmax / raddstoreexpminusmax / vmulc (xnnpack_float_math.py); 8-bit: LiteRT's
# optimized kernel, where the delegate leaves it (litert-opt's rule, as before)

_SOFTMAX_FALLBACK = _fallback("SOFTMAX")


def prepare_softmax(ctx: OpContext, reference_prepare) -> Any:
    params = reference_prepare(ctx)
    if not params.quantized:
        delegated = xnnpack_float_math.prepare_softmax(ctx)
        if delegated is not None:
            return delegated
    # left to LiteRT (8-bit, or a float beta other than 1): its optimized kernel, litert-opt's rule
    return _SOFTMAX_FALLBACK.prepare(ctx, lambda _ctx: params) if _SOFTMAX_FALLBACK is not None else None


def softmax_xnn(p: Any, x: np.ndarray) -> np.ndarray:
    if isinstance(p, xnnpack_float_math.FloatSoftmax):
        return xnnpack_float_math.run_softmax(p, x)
    return _SOFTMAX_FALLBACK.kernel(p, x)


# ------------------------------------------------------------------------------------------------
# ADD: 21-bit multipliers, one rounding shift


@dataclass(frozen=True)
class AddFixed:
    a_multiplier: int
    b_multiplier: int
    bias: int
    shift: int
    output_zero_point: int
    qmin: int
    qmax: int
    output_shape: tuple[int, ...]


def _float_bits(value: np.float32) -> int:
    return int(np.array(value, np.float32).view(np.uint32))


def _bits_float(bits: int) -> np.float32:
    return np.array(bits & 0xFFFFFFFF, np.uint32).view(np.float32)[()]


def _binary_quantization(ctx: OpContext):
    a, b, y = ctx.require_input(0), ctx.require_input(1), ctx.output(0)
    if a.type_name not in ("int8", "uint8") or b.type_name != a.type_name or y.type_name != a.type_name \
            or not shapes_delegable(ctx):
        return None
    return (per_tensor_qparams(ctx, a, "input 1"), per_tensor_qparams(ctx, b, "input 2"),
            per_tensor_qparams(ctx, y, "output"), y.dtype)


def prepare_add(ctx: OpContext, reference_prepare) -> AddFixed | xnnpack_float_binary.FloatBinary | None:
    if ctx.require_input(0).type_name == "float32":  # xnnpack_float_binary.py
        return xnnpack_float_binary.prepare_binary(ctx, reference_prepare)
    params = reference_prepare(ctx)
    quantization = _binary_quantization(ctx)
    if quantization is None:
        return None
    (sa, za), (sb, zb), (so, zo), dtype = quantization
    a_scale = np.float32(np.float32(sa) / np.float32(so))
    b_scale = np.float32(np.float32(sb) / np.float32(so))
    if not all(2.0 ** -10 <= s < 2.0 ** 8 for s in (a_scale, b_scale)):
        return None  # XNNPACK refuses the ratio: LiteRT's builtin ADD runs
    exponent = (_float_bits(max(a_scale, b_scale)) >> 23) - 127
    shift = 20 - exponent
    a_multiplier = _lrintf(_bits_float(_float_bits(a_scale) + (shift << 23)))
    b_multiplier = _lrintf(_bits_float(_float_bits(b_scale) + (shift << 23)))
    if ctx.op.name == "SUB":  # XNNPACK subtracts by adding with the second input's scale negated
        b_multiplier = -b_multiplier
    bias = (1 << (shift - 1)) - a_multiplier * za - b_multiplier * zb
    bounds = xnnpack_activation_range(int(ctx.options.get("fused_activation_function", 0)), so, zo, dtype)
    if bounds is None:
        return None
    return AddFixed(a_multiplier, b_multiplier, bias, shift, zo, bounds[0], bounds[1], _output_shape(params))


def _output_shape(params: Any) -> tuple[int, ...] | None:
    return getattr(params, "output_shape", None)


def add_fixed(p: AddFixed, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """XNNPACK qs8/qu8 vadd: ``(bias + a * ma + b * mb) >> shift`` (arithmetic, in int32) + zp_out, clamped."""
    if isinstance(p, xnnpack_float_binary.FloatBinary):
        return xnnpack_float_binary.run_binary(p, a, b)
    acc = p.bias + a.astype(np.int64) * p.a_multiplier + b.astype(np.int64) * p.b_multiplier
    out = np.clip((acc >> p.shift) + p.output_zero_point, p.qmin, p.qmax).astype(a.dtype)
    return out if p.output_shape is None else out.reshape(p.output_shape)


# ------------------------------------------------------------------------------------------------
# MUL: fp32


@dataclass(frozen=True)
class MulFp32:
    a_zero_point: int
    b_zero_point: int
    scale: np.float32
    output_zero_point: int
    qmin: int
    qmax: int
    output_shape: tuple[int, ...] | None


def prepare_mul(ctx: OpContext, reference_prepare) -> MulFp32 | xnnpack_float_binary.FloatBinary | None:
    if ctx.require_input(0).type_name == "float32":  # xnnpack_float_binary.py
        return xnnpack_float_binary.prepare_binary(ctx, reference_prepare)
    params = reference_prepare(ctx)
    quantization = _binary_quantization(ctx)
    if quantization is None:
        return None
    (sa, za), (sb, zb), (so, zo), dtype = quantization
    scale = np.float32(np.float32(np.float32(sa) * np.float32(sb)) / np.float32(so))
    if not 2.0 ** -16 <= scale < 2.0 ** 8:
        return None
    bounds = xnnpack_activation_range(int(ctx.options.get("fused_activation_function", 0)), so, zo, dtype)
    if bounds is None:
        return None
    return MulFp32(za, zb, scale, zo, bounds[0], bounds[1], _output_shape(params))


def mul_fp32(p: MulFp32, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """XNNPACK qs8/qu8 vmul fp32: ``rne(clamp(f32((a - zp_a)(b - zp_b)) * scale)) + zp_out``."""
    if isinstance(p, xnnpack_float_binary.FloatBinary):
        return xnnpack_float_binary.run_binary(p, a, b)
    product = (a.astype(np.int64) - p.a_zero_point) * (b.astype(np.int64) - p.b_zero_point)
    out = fp32_requantize(product, p.scale, p.output_zero_point, p.qmin, p.qmax).astype(a.dtype)
    return out if p.output_shape is None else out.reshape(p.output_shape)


# ------------------------------------------------------------------------------------------------
# MEAN: an fp32 rescale of the integer sum


@dataclass(frozen=True)
class MeanFp32:
    axes: tuple[int, ...]
    count: int
    scale: np.float32
    input_zero_point: int
    output_zero_point: int
    qmin: int
    qmax: int
    output_shape: tuple[int, ...]


def prepare_mean(ctx: OpContext, reference_prepare) -> MeanFp32 | None:
    params = reference_prepare(ctx)
    if not params.quantized and ctx.require_input(0).type_name == "float32":
        return xnnpack_float_reduce.prepare_mean(ctx, params)  # float32: xnnpack_float_reduce.py
    x, y = ctx.require_input(0), ctx.output(0)
    if not params.quantized or x.type_name not in ("int8", "uint8") or y.type_name != x.type_name \
            or not ctx.require_input(1).is_constant or not shapes_delegable(ctx) or params.reduced_count < 1:
        return None
    input_scale, input_zero_point = per_tensor_qparams(ctx, x, "input")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    # reduce-nd.c (create: input_scale / output_scale; update_params_mean_qs8: scale *= 1.0f / num_elements)
    ratio = np.float32(np.float32(input_scale) / np.float32(output_scale))
    scale = np.float32(ratio * np.float32(np.float32(1.0) / np.float32(params.reduced_count)))
    qmin, qmax = DTYPE_RANGES[x.dtype]
    return MeanFp32(params.axes, params.reduced_count, scale, input_zero_point, output_zero_point, qmin, qmax,
                    params.output_shape)


def mean_fp32(p: MeanFp32, x: np.ndarray, axes: np.ndarray | None = None) -> np.ndarray:
    """XNNPACK qs8/qu8 mean: ``rne(clamp(f32(f32(sum q - N * zp_in) * scale) + zp_out))`` with
    ``scale = f32(f32(s_in / s_out) * f32(1 / N))``."""
    if isinstance(p, xnnpack_float_reduce.FloatMean):  # float32: xnnpack_float_reduce.py
        return xnnpack_float_reduce.mean_rsum(p, x)
    total = x.astype(np.int64).sum(axis=p.axes) - p.count * p.input_zero_point
    # the output zero point is added in float, before the rounding (measured: ties land on the even sum)
    scaled = (total.astype(np.float32) * p.scale).astype(np.float32) + np.float32(p.output_zero_point)
    clamped = np.minimum(np.maximum(scaled.astype(np.float32), np.float32(p.qmin)), np.float32(p.qmax))
    return np.rint(clamped).astype(x.dtype).reshape(p.output_shape)


# ------------------------------------------------------------------------------------------------
# QUANTIZE: float -> int8/uint8 by the reciprocal; int8 -> int8 (uint8 -> uint8) by an 8.8 multiplier


@dataclass(frozen=True)
class QuantizeXnn:
    from_float: bool
    inverse_scale: np.float32  # float input: f32(1 / s_out)
    multiplier: int  # 8-bit input: lrintf(256 * f32(s_in / s_out))
    input_zero_point: int
    output_zero_point: int
    qmin: int
    qmax: int


def prepare_quantize(ctx: OpContext, reference_prepare) -> QuantizeXnn | None:
    reference_prepare(ctx)
    x, y = ctx.require_input(0), ctx.output(0)
    if y.type_name not in ("int8", "uint8") or not shapes_delegable(ctx) or not per_tensor_delegable(y) \
            or (x.type_name != "float32" and not per_tensor_delegable(x)):
        return None
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    qmin, qmax = DTYPE_RANGES[y.dtype]
    if x.type_name == "float32":
        inverse = np.float32(np.float32(1.0) / np.float32(output_scale))
        return QuantizeXnn(True, inverse, 0, 0, output_zero_point, qmin, qmax)
    if x.type_name != y.type_name:
        return None  # int8 <-> uint8 stays with LiteRT
    input_scale, input_zero_point = per_tensor_qparams(ctx, x, "input")
    ratio = np.float32(np.float32(input_scale) / np.float32(output_scale))
    if not 2.0 ** -8 <= ratio <= 2.0 ** 7:
        return None
    return QuantizeXnn(False, np.float32(0), _lrintf(np.float32(256.0) * ratio), input_zero_point, output_zero_point,
                       qmin, qmax)


def quantize_xnn(p: QuantizeXnn, x: np.ndarray) -> np.ndarray:
    """XNNPACK f32-qs8/qu8 vcvt (``rne(clamp(x * f32(1/s))) + zp``) or qs8/qu8 vcvt
    (``((zp_out << 8) + 128 + (q - zp_in) * multiplier) >> 8``, clamped)."""
    dtype = np.int8 if p.qmin < 0 else np.uint8
    if p.from_float:
        scaled = (x.astype(np.float32) * p.inverse_scale).astype(np.float32)
        clamped = np.minimum(np.maximum(scaled, np.float32(p.qmin - p.output_zero_point)),
                             np.float32(p.qmax - p.output_zero_point))
        return (np.rint(clamped).astype(np.int64) + p.output_zero_point).astype(dtype)
    acc = (p.output_zero_point << 8) + 128 + (x.astype(np.int64) - p.input_zero_point) * p.multiplier
    return np.clip(acc >> 8, p.qmin, p.qmax).astype(dtype)


# ------------------------------------------------------------------------------------------------
# RESIZE_BILINEAR: 11-bit fixed-point weights


@dataclass(frozen=True)
class BilinearQ11:
    align_corners: bool
    half_pixel_centers: bool
    size: tuple[int, int]


def prepare_resize_bilinear(ctx: OpContext, reference_prepare) -> BilinearQ11 | None:
    params = reference_prepare(ctx)
    x = ctx.require_input(0)
    if x.type_name == "float32":
        return xnnpack_float_reduce.prepare_resize_bilinear(ctx, params)  # float32: xnnpack_float_reduce.py
    if x.type_name not in ("int8", "uint8") or params.size is None or not shapes_delegable(ctx):
        return None
    if len(ctx.shape(x)) != 4:
        return None
    return BilinearQ11(params.align_corners, params.half_pixel_centers, params.size)


def _q11_coordinates(in_size: int, out_size: int, align_corners: bool, legacy: bool):
    """xnn_indirection_init_resize_bilinear2d_hwc_q11 along one axis: (first index, second index, Q11 weight)."""
    adjustment = 1 if align_corners and out_size != 1 else 0
    scale = np.float32(np.float32(in_size - adjustment) / np.float32(out_size - adjustment))
    positions = np.arange(out_size, dtype=np.int64).astype(np.float32) * scale
    if not (legacy or align_corners):
        offset = np.float32(np.float32(0.5) * scale - np.float32(0.5))
        positions = np.minimum(np.maximum((positions + offset).astype(np.float32), np.float32(0)),
                               np.float32(in_size - 1))
    first = positions.astype(np.int64)  # (uint32_t)(int32_t) of a non-negative float: truncation
    second = np.minimum(first + 1, in_size - 1)
    alpha = (positions - first.astype(np.float32)).astype(np.float32)
    weight = np.rint((alpha * np.float32(2048.0)).astype(np.float32)).astype(np.int64)
    return first, second, weight


def resize_bilinear_q11(p: BilinearQ11, x: np.ndarray, size: np.ndarray | None = None) -> np.ndarray:
    """XNNPACK s8/u8 ibilinear: ``t = (tl << 11) + (tr - tl) * a_h`` (likewise b), then
    ``((t << 11) + (b - t) * a_v + 2**21) >> 22`` (arithmetic shift); no requantization."""
    if isinstance(p, xnnpack_float_reduce.FloatBilinear):  # float32: xnnpack_float_reduce.py
        return xnnpack_float_reduce.resize_bilinear_ibilinear(p, x, size)
    out_h, out_w = p.size
    legacy = not p.half_pixel_centers  # the delegate's TENSORFLOW_LEGACY_MODE (or ALIGN_CORNERS)
    top, bottom, alpha_v = _q11_coordinates(x.shape[1], out_h, p.align_corners, legacy)
    left, right, alpha_h = _q11_coordinates(x.shape[2], out_w, p.align_corners, legacy)
    v = x.astype(np.int64)
    tl, tr = v[:, top][:, :, left], v[:, top][:, :, right]
    bl, br = v[:, bottom][:, :, left], v[:, bottom][:, :, right]
    ah = alpha_h[None, None, :, None]
    av = alpha_v[None, :, None, None]
    t = (tl << 11) + (tr - tl) * ah
    b = (bl << 11) + (br - bl) * ah
    acc = (t << 11) + (b - t) * av
    return ((acc + (1 << 21)) >> 22).astype(x.dtype)


_FP32 = "fp32 requantization, round half to even (XNNPACK requantization.h)"
_FP32_AND_FLOAT = _FP32 + "; float32: " + xnnpack_float.RULE
_WITH_HYBRID = _FP32_AND_FLOAT + "; hybrid: " + xnnpack_float.HYBRID_RULE

TABLE: dict[str, EmulatedOp] = {
    "CONV_2D": EmulatedOp(_prepare_fp32("CONV_2D", ("int8", "uint8"), 0), conv2d_fp32, _WITH_HYBRID),
    "DEPTHWISE_CONV_2D": EmulatedOp(_prepare_fp32("DEPTHWISE_CONV_2D", ("int8", "uint8"), 3),
                                    depthwise_conv2d_fp32, _FP32_AND_FLOAT),
    "FULLY_CONNECTED": EmulatedOp(_prepare_fp32("FULLY_CONNECTED", ("int8", "uint8"), 0), fully_connected_fp32,
                                  _WITH_HYBRID),
    "TRANSPOSE_CONV": EmulatedOp(_prepare_fp32("TRANSPOSE_CONV", ("int8", "uint8"), 0), transpose_conv_fp32,
                                 _FP32_AND_FLOAT),
    "BATCH_MATMUL": EmulatedOp(prepare_batch_matmul, batch_matmul_fp32,
                               _FP32 + " (RHS zero point 0); hybrid: " + xnnpack_float.HYBRID_RULE),
    "LEAKY_RELU": EmulatedOp(prepare_leaky_relu, leaky_relu_fixed, "8.8 fixed-point multipliers (XNNPACK vlrelu); "
                             + xnnpack_float_transcendental.LEAKY_RELU_RULE),
    "ADD": EmulatedOp(prepare_add, add_fixed, "21-bit multipliers, one rounding shift ties up (XNNPACK vadd); "
                      + xnnpack_float_binary.RULE["ADD"]),
    "SUB": EmulatedOp(prepare_add, add_fixed, "the ADD rule with the second multiplier negated (XNNPACK vadd); "
                      + xnnpack_float_binary.RULE["SUB"]),
    "MUL": EmulatedOp(prepare_mul, mul_fp32, _FP32 + "; " + xnnpack_float_binary.RULE["MUL"]),
    **{op: EmulatedOp(xnnpack_float_binary.prepare_binary, xnnpack_float_binary.run_binary,
                      xnnpack_float_binary.RULE[op]) for op in ("DIV", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE")},
    "MEAN": EmulatedOp(prepare_mean, mean_fp32, "fp32 rescale of the integer sum (XNNPACK qs8 mean); float32: "
                       + xnnpack_float_reduce.MEAN_RULE),
    "QUANTIZE": EmulatedOp(prepare_quantize, quantize_xnn,
                           "float: x * f32(1/s), half to even; 8-bit: 8.8 multiplier (XNNPACK vcvt)"),
    "RESIZE_BILINEAR": EmulatedOp(prepare_resize_bilinear, resize_bilinear_q11,
                                  "11-bit fixed-point weights (XNNPACK ibilinear); float32: "
                                  + xnnpack_float_reduce.BILINEAR_RULE),
    "LOGISTIC": EmulatedOp(prepare_float_unary, float_unary, xnnpack_float.UNARY_RULE["LOGISTIC"]),
    "TANH": EmulatedOp(prepare_float_unary, float_unary, xnnpack_float.UNARY_RULE["TANH"]),
    "AVERAGE_POOL_2D": EmulatedOp(xnnpack_float_reduce.prepare_average_pool,
                                  xnnpack_float_reduce.average_pool_avgpool9p,
                                  "float32: 9-tap sum trees times f32(1/count) (XNNPACK f32-avgpool 9p)"),
    "SOFTMAX": EmulatedOp(prepare_softmax, softmax_xnn, xnnpack_float_math.SOFTMAX_RULE + "; 8-bit: "
                          + litert_opt.TABLE["SOFTMAX"].rule),
    **{op: EmulatedOp(xnnpack_float_math.prepare_elementwise, xnnpack_float_math.run_elementwise,
                      xnnpack_float_math.ELEMENTWISE_RULE[op]) for op in xnnpack_float_math.ELEMENTWISE},
    "HARD_SWISH": EmulatedOp(xnnpack_float_reduce.prepare_hard_swish, xnnpack_float_reduce.hard_swish_vhswish,
                             "float32: min(max(fma(x, f32(1/6), 0.5), 0), 1) * x (XNNPACK f32-vhswish)"),
    **{op: EmulatedOp(xnnpack_float_transcendental.prepare_transcendental,
                      xnnpack_float_transcendental.run_transcendental,
                      xnnpack_float_transcendental.TRANSCENDENTAL_RULE[op])
       for op in xnnpack_float_transcendental.TRANSCENDENTAL},
}

# operators the delegate never takes (measured) run LiteRT's optimized kernels: litert-opt's rules
TABLE.update({op: litert_opt.TABLE[op] for op in ("LOG_SOFTMAX",)})

#: the params of an operator the delegate takes (the others run LiteRT's builtin kernels)
DELEGATED_PARAMS = (Fp32Requantization, LeakyReluFixed, AddFixed, MulFp32, MeanFp32, QuantizeXnn, BilinearQ11,
                    BatchMatMulFp32, xnnpack_float.FloatGemm, xnnpack_float.HybridGemm, BatchMatMulQd8,
                    xnnpack_float.FloatUnary, xnnpack_float_reduce.FloatAveragePool,
                    xnnpack_float_reduce.FloatHardSwish, xnnpack_float_reduce.FloatMean,
                    xnnpack_float_reduce.FloatBilinear, xnnpack_float_math.FloatSoftmax,
                    xnnpack_float_math.FloatElementwise, xnnpack_float_binary.FloatBinary,
                    xnnpack_float_transcendental.FloatTranscendental, xnnpack_float_transcendental.FloatLeakyRelu)


def is_delegated(params: Any) -> bool:
    """Whether an operator prepared under profile "xnnpack" (its params) is one the delegate takes."""
    return isinstance(params, DELEGATED_PARAMS)

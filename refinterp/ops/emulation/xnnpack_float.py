"""Profile "xnnpack", float32 and hybrid: XNNPACK's f32 GEMM, IGEMM and DWCONV microkernels (x86-64, AVX-512)
and its qd8 (dynamically quantized) GEMM / IGEMM.

Every float32 output of these kernels is one chain of fused multiply-adds (one rounding each, ``vfmadd``) that
starts from the bias, then the min/max clamp (measured bit for bit against LiteRT + XNNPACK on this CPU, and read
in google/XNNPACK):

* FULLY_CONNECTED (``src/operators/fully-connected-nc.c`` -> f32 GEMM, e.g. ``src/f32-gemm/gen/
  f32-gemm-7x16-minmax-avx512f-broadcast.c``): ``acc = b[n]; for k in 0..K-1: acc = fma(x[m, k], w[n, k], acc)``.
  The packed weights (``xnn_pack_f32_gemm_goi_w``) put the bias first; the kernel broadcasts one input value per
  step over K in order.
* CONV_2D (``convolution-nhwc.c`` -> f32 IGEMM ``src/f32-igemm``, or the GEMM for 1x1 kernels): the same chain
  over the taps in ``(ky, kx, c)`` order (``xnn_pack_f32_conv_goki_w``; the indirection buffer's pointers in
  kernel-row-major order), a padding tap reading XNNPACK's zero buffer (``fma(0, w, acc)``, which only matters
  for the sign of a zero). Groups: each group its own GEMM.
* DEPTHWISE_CONV_2D with depth multiplier 1 (f32 DWCONV, ``src/f32-dwconv/gen/
  f32-dwconv-*p16c-minmax-avx512f.c``): the chain over the taps in *column-major* order ``(kx, ky)``
  (``xnn_pack_f32_dwconv_ghw_w`` and ``xnn_indirection_init_dwconv2d``: kernel_x outer, kernel_y inner),
  padding taps from the zero buffer. A depth multiplier above 1 is a grouped convolution with one input channel
  per group (``group_output_channels != 1``: no DWCONV microkernel), so the IGEMM order ``(ky, kx)``.
* TRANSPOSE_CONV (``deconvolution-nhwc.c``: subconvolutions over the f32 IGEMM): per output pixel the chain
  from the bias over the taps (ky, kx) in order that reach it, then the input channels; an output no tap reaches
  is ``b + 0`` (a bias of -0 gives +0, measured).
* The clamp ``max(vmin, acc)`` then ``min(vmax, acc)`` (``_mm512_max_ps(vmin, vacc)``: a NaN or a zero equal
  to the bound keeps the accumulator), with the delegate's bounds of the fused activation (NONE: +-inf).

Hybrid FULLY_CONNECTED / CONV_2D (int8 weights, float32 activations) run XNNPACK's dynamically quantized qd8
kernels (``HybridGemm``, ``run_hybrid``; BATCH_MATMUL's in xnnpack.py): the input quantized at run time per row
(per pixel for a 1x1 stride-1 convolution, the GEMM) or per image (the IGEMM) with
``xnn_f32_qd8_asymmetric_quantization_params``, exact int32 sums, ``fma(f32(acc) * f32(1 / scale), s_w, b)``.

LOGISTIC and TANH (float32, elementwise): XNNPACK's ``avx512f_rr2_lut32_p2_perm2_scalef_div`` sigmoid and its
``rational_9_8_div`` tanh, each element's float32 operations reproduced (``sigmoid_avx512``, ``tanh_rational_9_8``),
with the MXCSR FTZ + DAZ XNNPACK runs under (``flush_denormals``; measured). Held bit for bit on 2^24 bit patterns
each (tests/test_xnnpack_float_unary.py). An AVX2-only CPU runs another sigmoid (not emulated).

Which operators the delegate takes: float32 (or hybrid) input, weights, bias and output, static weights and bias
(a constant, or a DEQUANTIZE / DENSIFY of constants the delegate folds: ``static_dequantize``), at most 6
dimensions, a known fused activation; the rest runs LiteRT's own kernels (not emulated: the reference runs).

numba has no fma: ``fma32`` is LLVM's ``llvm.fma.f32`` (one rounding on every target). ``fma32_numpy`` is the same
operation in NumPy for the spec kernels (the exact product in float64, the float64 sum and its error, rounded to
odd, then to float32: correct because float64 carries more than 24 + 2 bits).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from refinterp.ops.common import OpContext
from refinterp.ops.emulation.arithmetic import conv_accumulators, transpose_conv_accumulators
from refinterp.quant import wrap_int32

ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6 = 0, 1, 2, 3
_FLOAT_BOUNDS = {ACT_NONE: (-math.inf, math.inf), ACT_RELU: (0.0, math.inf), ACT_RELU_N1_TO_1: (-1.0, 1.0),
                 ACT_RELU6: (0.0, 6.0)}
#: XNN_MAX_TENSOR_DIMS
MAX_DIMS = 6


@intrinsic
def fma32(typingctx, a, b, c):
    """float32 ``a * b + c`` rounded once (``llvm.fma.f32``)."""
    signature = types.float32(types.float32, types.float32, types.float32)

    def codegen(context, builder, sig, args):
        f32 = ir.FloatType()
        function = builder.module.declare_intrinsic("llvm.fma", [f32], ir.FunctionType(f32, [f32, f32, f32]))
        return builder.call(function, args)
    return signature, codegen


def fma32_numpy(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """float32 ``a * b + c`` rounded once, elementwise, in NumPy: the product is exact in float64; the float64 sum
    ``s`` and its error ``e`` (TwoSum) are exact; rounding ``s`` to odd (``s`` with an even last bit moves one ulp
    toward ``e`` when ``e != 0``) and then to float32 rounds the exact sum correctly (53 >= 24 + 2 bits)."""
    return _fma_odd64(a, b, c).astype(np.float32)


def _fma_odd64(a: Any, b: Any, c: Any) -> np.ndarray:
    """The exact ``a * b + c`` rounded to odd in float64 (``fma32_numpy``): it rounds to float32 as the exact sum
    does, and compares with any float64 of at most 52 significant bits as the exact sum does."""
    product = np.asarray(a, np.float64) * np.asarray(b, np.float64)
    addend = np.asarray(c, np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        total = product + addend
        bv = total - product
        error = (product - (total - bv)) + (addend - bv)
        bits = total.view(np.int64)
        inexact = np.isfinite(total) & (error != 0) & ((bits & 1) == 0)
        return np.where(inexact, np.nextafter(total, np.where(error > 0, np.inf, -np.inf)), total)


#: x86 detects tininess after rounding (to 24 bits, the exponent unbounded): a result is tiny, and FTZ writes a
#: zero of its sign, when its exact magnitude is below ``2^-126 - 2^-151`` (measured: ``fma(2^-76, -2^-76, 2^-126)``
#: gives ``2^-126``, ``fma(3 * 2^-76, -2^-76, 2^-126)`` gives +0)
_TININESS_BOUND = float.fromhex("0x1.ffffffp-127")


def fma32_ftz_numpy(a: Any, b: Any, c: Any) -> np.ndarray:
    """``vfmadd`` under MXCSR DAZ + FTZ, elementwise in NumPy: subnormal operands read as zeros of their sign
    (DAZ), a tiny result (``_TININESS_BOUND``) written as a zero of its sign (FTZ), else ``fma32_numpy``."""
    exact = _fma_odd64(flush_denormals(a), flush_denormals(b), flush_denormals(c))
    rounded = exact.astype(np.float32)
    return np.where(np.abs(exact) < _TININESS_BOUND, np.copysign(np.float32(0), rounded), rounded).astype(np.float32)


@njit(cache=True, nogil=True)
def fma32_ftz(a, b, c):
    """``fma32`` under FTZ (the operands already flushed: DAZ is applied to the arrays): a result of exact
    magnitude below ``2^-126 - 2^-151`` (``_TININESS_BOUND``) is a zero of its sign. Only a result of magnitude at
    most 2^-126 needs the exact sum: the float64 product is exact, TwoSum gives the sum's error."""
    r = fma32(a, b, c)
    if not (abs(r) <= np.float32(1.1754943508222875e-38)) or r == 0:
        return r
    product = np.float64(a) * np.float64(b)
    addend = np.float64(c)
    total = product + addend
    bv = total - product
    error = (product - (total - bv)) + (addend - bv)
    if total < 0:
        total, error = -total, -error
    if total < 1.1754943157898259e-38 or (total == 1.1754943157898259e-38 and error < 0):
        return np.float32(math.copysign(0.0, r))
    return r


@njit(cache=True, nogil=True)
def _clamp(acc: np.float32, lo: np.float32, hi: np.float32) -> np.float32:
    if lo > acc:  # _mm512_max_ps(vmin, vacc)
        acc = lo
    if acc > hi:  # _mm512_min_ps(vmax, vacc)
        acc = hi
    return acc


@njit(cache=True, nogil=True)
def gemm_fma(x, w_kn, b, lo, hi):
    """x [M, K], w_kn [K, N] (the weights transposed, as XNNPACK packs them), b [N] (float32) -> [M, N]: per
    output the FMA chain over K from the bias, clamped (the chains of one row advance together, as the
    microkernel's vector lanes do)."""
    rows, depth = x.shape
    units = w_kn.shape[1]
    out = np.empty((rows, units), np.float32)
    acc = np.empty(units, np.float32)
    for m in range(rows):
        acc[:] = b
        for k in range(depth):
            value = x[m, k]
            for n in range(units):
                acc[n] = fma32_ftz(value, w_kn[k, n], acc[n])
        for n in range(units):
            out[m, n] = _clamp(acc[n], lo, hi)
    return out


@njit(cache=True, nogil=True)
def conv_fma(x, w_gtco, b, geometry, kernel_w, lo, hi):
    """x [N, H, W, C], w_gtco [groups, taps, C / groups, O / groups] (the weights [O, KH, KW, C / groups] per
    group with the taps in (ky, kx) order first), b [O] (float32); geometry = (stride_h, stride_w, dilation_h,
    dilation_w, pad_h, pad_w, out_h, out_w). Per output the FMA chain from the bias over the taps in (ky, kx)
    order, then the channels of the tap (a tap outside the image reads 0), clamped."""
    batch, height, width, _ = x.shape
    groups, taps, group_in, out_per_group = w_gtco.shape
    stride_h, stride_w, dilation_h, dilation_w, pad_h, pad_w, out_h, out_w = geometry
    out = np.empty((batch, out_h, out_w, groups * out_per_group), np.float32)
    acc = np.empty((groups, out_per_group), np.float32)
    bias = b.reshape(groups, out_per_group)
    zeros = np.zeros(x.shape[3], np.float32)
    for n in range(batch):
        for oy in range(out_h):
            for ox in range(out_w):
                acc[:] = bias
                for t in range(taps):
                    iy = oy * stride_h - pad_h + (t // kernel_w) * dilation_h
                    ix = ox * stride_w - pad_w + (t % kernel_w) * dilation_w
                    pixel = x[n, iy, ix] if 0 <= iy < height and 0 <= ix < width else zeros
                    for g in range(groups):
                        _fma_rows(acc[g], pixel[g * group_in:(g + 1) * group_in], w_gtco[g, t])
                for g in range(groups):
                    for o in range(out_per_group):
                        out[n, oy, ox, g * out_per_group + o] = _clamp(acc[g, o], lo, hi)
    return out


@njit(cache=True, nogil=True)
def _fma_rows(acc, values, weights):
    """``acc[o] = fma(values[c], weights[c, o], acc[o])`` for c in order: one step of every chain per c."""
    for c in range(values.shape[0]):
        value = values[c]
        row = weights[c]
        for o in range(acc.shape[0]):
            acc[o] = fma32_ftz(value, row[o], acc[o])


@njit(cache=True, nogil=True)
def transpose_conv_fma(x, w_tco, b, strides, pads, out_shape, kernel_w, lo, hi):
    """x [N, H, W, C], w_tco [taps, C, O] (the weights [O, KH, KW, C], taps in (ky, kx) order first), b [O]:
    per output pixel (oy, ox) the FMA chain from the bias over the taps (ky, kx) in order that reach it (input
    pixel ((oy + pad_h - ky) / stride_h, (ox + pad_w - kx) / stride_w) whole and inside), then the channels;
    an output no tap reaches is ``b + 0`` (measured: a bias of -0 gives +0), clamped."""
    batch, height, width, _ = x.shape
    taps, channels_in, channels_out = w_tco.shape
    stride_h, stride_w = strides
    pad_h, pad_w = pads
    out_h, out_w = out_shape
    out = np.empty((batch, out_h, out_w, channels_out), np.float32)
    acc = np.empty(channels_out, np.float32)
    for n in range(batch):
        for oy in range(out_h):
            for ox in range(out_w):
                acc[:] = b
                reached = False
                for t in range(taps):
                    ny = oy + pad_h - t // kernel_w
                    nx = ox + pad_w - t % kernel_w
                    if ny < 0 or nx < 0 or ny % stride_h != 0 or nx % stride_w != 0:
                        continue
                    iy, ix = ny // stride_h, nx // stride_w
                    if iy >= height or ix >= width:
                        continue
                    reached = True
                    _fma_rows(acc, x[n, iy, ix], w_tco[t])
                if not reached:
                    for o in range(channels_out):
                        acc[o] = acc[o] + np.float32(0.0)
                for o in range(channels_out):
                    out[n, oy, ox, o] = _clamp(acc[o], lo, hi)
    return out


@njit(cache=True, nogil=True)
def depthwise_fma(x, w_tc, b, geometry, kernel_h, kernel_w, multiplier, column_major, lo, hi):
    """x [N, H, W, C], w_tc [KH * KW, C * m] (taps in (ky, kx) order), b [C * m]: output channel o reads input
    channel o // m; per output the FMA chain from the bias over the taps, in (kx, ky) order when
    ``column_major`` (the DWCONV) else (ky, kx) (the grouped IGEMM), a tap outside the image reading 0."""
    batch, height, width, _ = x.shape
    channels_out = w_tc.shape[1]
    stride_h, stride_w, dilation_h, dilation_w, pad_h, pad_w, out_h, out_w = geometry
    out = np.empty((batch, out_h, out_w, channels_out), np.float32)
    acc = np.empty(channels_out, np.float32)
    for n in range(batch):
        for oy in range(out_h):
            for ox in range(out_w):
                acc[:] = b
                for step in range(kernel_h * kernel_w):
                    if column_major:
                        ky, kx = step % kernel_h, step // kernel_h
                    else:
                        ky, kx = step // kernel_w, step % kernel_w
                    t = ky * kernel_w + kx
                    iy = oy * stride_h - pad_h + ky * dilation_h
                    ix = ox * stride_w - pad_w + kx * dilation_w
                    if 0 <= iy < height and 0 <= ix < width:
                        for o in range(channels_out):
                            acc[o] = fma32_ftz(x[n, iy, ix, o // multiplier], w_tc[t, o], acc[o])
                    else:
                        for o in range(channels_out):
                            acc[o] = fma32_ftz(np.float32(0.0), w_tc[t, o], acc[o])
                for o in range(channels_out):
                    out[n, oy, ox, o] = _clamp(acc[o], lo, hi)
    return out


# ------------------------------------------------------------------------------------------------
# the spec kernels (NumPy, vectorized over the outputs, the chain in the same order)


def gemm_fma_spec(x: np.ndarray, w: np.ndarray, b: np.ndarray, lo: np.float32, hi: np.float32) -> np.ndarray:
    acc = np.broadcast_to(b.astype(np.float32), (x.shape[0], w.shape[0])).copy()
    for k in range(x.shape[1]):
        acc = fma32_ftz_numpy(x[:, k:k + 1], w[None, :, k], acc)
    return _clamp_spec(acc, lo, hi)


def conv_fma_spec(x: np.ndarray, w: np.ndarray, b: np.ndarray, geometry: tuple[int, ...], groups: int,
                  column_major: bool, lo: np.float32, hi: np.float32) -> np.ndarray:
    stride_h, stride_w, dilation_h, dilation_w, pad_h, pad_w, out_h, out_w = geometry
    channels_out, kernel_h, kernel_w, group_in = w.shape
    out_per_group = channels_out // groups
    need_h = (out_h - 1) * stride_h + (kernel_h - 1) * dilation_h + 1
    need_w = (out_w - 1) * stride_w + (kernel_w - 1) * dilation_w + 1
    padded = np.pad(x, ((0, 0), (pad_h, max(0, need_h - pad_h - x.shape[1])),
                        (pad_w, max(0, need_w - pad_w - x.shape[2])), (0, 0)))
    acc = np.broadcast_to(b.astype(np.float32), (x.shape[0], out_h, out_w, channels_out)).copy()
    group_of = np.arange(channels_out) // out_per_group
    order = [(ky, kx) for kx in range(kernel_w) for ky in range(kernel_h)] if column_major else \
        [(ky, kx) for ky in range(kernel_h) for kx in range(kernel_w)]
    for ky, kx in order:
        y0, x0 = ky * dilation_h, kx * dilation_w
        pixels = padded[:, y0:y0 + (out_h - 1) * stride_h + 1:stride_h, x0:x0 + (out_w - 1) * stride_w + 1:stride_w]
        for c in range(group_in):
            acc = fma32_ftz_numpy(pixels[..., group_of * group_in + c], w[:, ky, kx, c], acc)
    return _clamp_spec(acc, lo, hi)


def transpose_conv_fma_spec(x: np.ndarray, w: np.ndarray, b: np.ndarray, strides: tuple[int, int],
                            pads: tuple[int, int], out_shape: tuple[int, int], lo: np.float32,
                            hi: np.float32) -> np.ndarray:
    channels_out, kernel_h, kernel_w, channels_in = w.shape
    out_h, out_w = out_shape
    acc = np.broadcast_to(b.astype(np.float32), (x.shape[0], out_h, out_w, channels_out)).copy()
    reached = np.zeros((out_h, out_w), bool)
    for ky in range(kernel_h):
        for kx in range(kernel_w):
            for oy in range(out_h):
                ny = oy + pads[0] - ky
                if ny < 0 or ny % strides[0] or ny // strides[0] >= x.shape[1]:
                    continue
                oxs = [ox for ox in range(out_w) if (nx := ox + pads[1] - kx) >= 0 and nx % strides[1] == 0
                       and nx // strides[1] < x.shape[2]]
                if not oxs:
                    continue
                ixs = [(ox + pads[1] - kx) // strides[1] for ox in oxs]
                pixels = x[:, ny // strides[0], ixs, :]
                reached[oy, oxs] = True
                for c in range(channels_in):
                    acc[:, oy, oxs, :] = fma32_ftz_numpy(pixels[..., c:c + 1], w[:, ky, kx, c], acc[:, oy, oxs, :])
    acc = np.where(reached[None, :, :, None], acc, acc + np.float32(0.0))
    return _clamp_spec(acc, lo, hi)


def _clamp_spec(acc: np.ndarray, lo: np.float32, hi: np.float32) -> np.ndarray:
    acc = np.where(lo > acc, lo, acc)
    return np.where(acc > hi, hi, acc).astype(np.float32)


# ------------------------------------------------------------------------------------------------
# the delegate's choice and the operators


#: the largest depthwise (unipass) kernel LiteRT 2.3.0 holds: ``xnn_f32_dwconv_minmax_ukernel_25p16c__avx512f`` (its
#: other f32 ones: 3p, 4p, 9p; no multipass kernel). A larger kernel runs as the grouped IGEMM (measured: 28 to 81
#: taps follow the (ky, kx) order)
DWCONV_MAX_TAPS = 25


def _runs_dwconv(multiplier: int, taps: int) -> bool:
    """Whether XNNPACK runs a depthwise convolution (one input channel per group) with its DWCONV kernel (the taps
    in (kx, ky) order) rather than the grouped IGEMM ((ky, kx)): depth multiplier 1 and at most 25 taps."""
    return multiplier == 1 and taps <= DWCONV_MAX_TAPS


@dataclass(frozen=True)
class FloatGemm:
    """A float32 CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED the delegate takes."""
    op: str
    base: Any  # the reference params
    #: conv: stride_h, stride_w, dilation_h, dilation_w, pad_h, pad_w, out_h, out_w; TRANSPOSE_CONV: unused
    geometry: tuple[int, ...]
    groups: int
    column_major: bool  # DWCONV tap order
    lo: np.float32
    hi: np.float32


def _delegable_shapes(ctx: OpContext) -> bool:
    tensors = [ctx.input(i) for i in range(ctx.num_inputs)] + [ctx.output(i) for i in range(len(ctx.op.outputs))]
    shapes = [ctx.shape(t) for t in tensors if t is not None]
    return all(len(shape) <= MAX_DIMS and 0 not in shape for shape in shapes)


def static_dequantize(subgraph: Any, op: Any) -> bool:
    """Whether the delegate folds ``op`` into static weights: a DENSIFY of a constant, or a DEQUANTIZE of a
    float16 tensor that is constant or such a DENSIFY's output. The delegate converts them once, at delegation
    (``xnnpack_delegate.cc``: the output becomes a static float32 tensor of the XNNPACK graph), so the operator
    that reads it sees constant weights, and LiteRT never writes the folded operator's own output tensor (it
    reads zeros; measured on mediapipe/face_landmark and face_detection_full_range_sparse)."""
    if op.name not in ("DENSIFY", "DEQUANTIZE") or not op.inputs or op.inputs[0] < 0:
        return False
    source = subgraph.tensors[op.inputs[0]]
    if op.name == "DENSIFY":
        return source.is_constant
    if source.type_name != "float16":
        return False
    if source.is_constant:
        return True
    producer = next((p for p in subgraph.operators if source.index in p.outputs), None)
    return producer is not None and producer.name == "DENSIFY" and static_dequantize(subgraph, producer)


def is_static(ctx: OpContext, tensor: Any) -> bool:
    """A constant, or the output of an operator the delegate folds into static weights (``static_dequantize``)."""
    if tensor.is_constant:
        return True
    producer = next((op for op in ctx.subgraph.operators if tensor.index in op.outputs), None)
    return producer is not None and static_dequantize(ctx.subgraph, producer)


def prepare_float(ctx: OpContext, params: Any) -> FloatGemm | None:
    """The float32 rule when the delegate takes the operator (float32 input, weights, bias and output; constant
    weights and bias (``is_static``); a fused activation it knows; DEPTHWISE_CONV_2D: a bias and the options'
    depth_multiplier consistent with the shapes, as the quantized rule), else None (LiteRT's own float kernel:
    not emulated)."""
    op = ctx.op.name
    x, w, y = ctx.require_input(0), ctx.require_input(1), ctx.output(0)
    bias = ctx.input(2)
    if op == "TRANSPOSE_CONV":  # output shape, weights, input, bias (the caller checked the shape and geometry)
        x, bias = ctx.require_input(2), ctx.input(3)
    tensors = [x, w, y] + ([bias] if bias is not None else [])
    if any(t.type_name != "float32" for t in tensors) or not _delegable_shapes(ctx):
        return None
    if not is_static(ctx, w) or (bias is not None and not is_static(ctx, bias)):
        return None
    bounds = _FLOAT_BOUNDS.get(int(ctx.options.get("fused_activation_function", 0)))
    if bounds is None:
        return None
    lo, hi = np.float32(bounds[0]), np.float32(bounds[1])
    if op in ("FULLY_CONNECTED", "TRANSPOSE_CONV"):
        return FloatGemm(op, params, (), 1, False, lo, hi)
    win = params.window
    geometry = (params.stride_h, params.stride_w, params.dilation_h, params.dilation_w, win.pad_h, win.pad_w,
                win.out_h, win.out_w)
    if op == "CONV_2D":
        return FloatGemm(op, params, geometry, params.groups, False, lo, hi)
    multiplier = int(ctx.options.get("depth_multiplier", 0))
    if multiplier <= 0 or ctx.shape(x)[3] * multiplier != ctx.shape(w)[3] or bias is None:
        return None
    return FloatGemm(op, params, geometry, ctx.shape(x)[3], _runs_dwconv(multiplier, ctx.shape(w)[1] * ctx.shape(w)[2]),
                     lo, hi)


def _bias(b: np.ndarray | None, channels: int) -> np.ndarray:
    return np.zeros(channels, np.float32) if b is None else flush_denormals(np.ascontiguousarray(b).reshape(-1))


def run_transpose_conv(q: FloatGemm, shape: tuple[int, ...], pads: tuple[int, int], w: np.ndarray, x: np.ndarray,
                       bias: np.ndarray | None, spec: bool = False) -> np.ndarray:
    """TRANSPOSE_CONV's float32 output of ``shape`` with paddings ``pads`` (``spec``: NumPy, else numba). Input,
    weights and bias under DAZ (``flush_denormals``), every FMA under FTZ (``fma32_ftz``)."""
    x = np.ascontiguousarray(flush_denormals(x))
    w = flush_denormals(w)
    channels_out, kernel_h, kernel_w, channels_in = w.shape
    b = _bias(bias, channels_out)
    strides = (q.base.stride_h, q.base.stride_w)
    if spec:
        return transpose_conv_fma_spec(x, w, b, strides, pads, (shape[1], shape[2]), q.lo, q.hi)
    w_tco = np.ascontiguousarray(np.transpose(w, (1, 2, 3, 0)).reshape(kernel_h * kernel_w, channels_in, channels_out))
    return transpose_conv_fma(x, w_tco, b, strides, tuple(pads), (shape[1], shape[2]), kernel_w, q.lo, q.hi)


def run(q: FloatGemm, x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, spec: bool = False) -> np.ndarray:
    """The operator's float32 output (``spec``: the NumPy kernels, else numba). XNNPACK runs with MXCSR DAZ + FTZ:
    input, weights and bias read with subnormals as zeros (``flush_denormals``), every FMA result that is tiny
    written as a zero (``fma32_ftz``; measured: an exact result of 1e-40, or an input of 1e-39, gives 0)."""
    x = np.ascontiguousarray(flush_denormals(x))
    w = flush_denormals(w)
    if q.op == "FULLY_CONNECTED":
        rows = x.reshape(-1, q.base.depth)
        b = _bias(bias, w.shape[0])
        if spec:
            out = gemm_fma_spec(rows, w, b, q.lo, q.hi)
        else:
            out = gemm_fma(rows, np.ascontiguousarray(w.T), b, q.lo, q.hi)
        return out.reshape(q.base.output_shape)
    if q.op == "DEPTHWISE_CONV_2D":
        _, kernel_h, kernel_w, channels_out = w.shape
        b = _bias(bias, channels_out)
        if spec:  # as a grouped convolution: [O, KH, KW, 1]
            return conv_fma_spec(x, np.transpose(w, (3, 1, 2, 0)), b, q.geometry, q.groups, q.column_major, q.lo,
                                 q.hi)
        w_tc = np.ascontiguousarray(w.reshape(kernel_h * kernel_w, channels_out))
        return depthwise_fma(x, w_tc, b, q.geometry, kernel_h, kernel_w, channels_out // q.groups, q.column_major,
                             q.lo, q.hi)
    channels_out, kernel_h, kernel_w, group_in = w.shape
    if q.groups > 1 and group_in == 1 and channels_out == q.groups:
        # one input and one output channel per group: XNNPACK runs the depthwise kernels
        # (convolution-nhwc.c: group_input_channels == 1 && group_output_channels == 1), their tap order
        depthwise = replace(q, op="DEPTHWISE_CONV_2D", column_major=_runs_dwconv(1, kernel_h * kernel_w))
        return run(depthwise, x, np.transpose(w, (3, 1, 2, 0)), bias, spec)
    b = _bias(bias, channels_out)
    if spec:
        return conv_fma_spec(x, w, b, q.geometry, q.groups, False, q.lo, q.hi)
    w_gtco = np.ascontiguousarray(np.transpose(w.reshape(q.groups, channels_out // q.groups, kernel_h * kernel_w,
                                                         group_in), (0, 2, 3, 1)))
    return conv_fma(x, w_gtco, b, q.geometry, kernel_w, q.lo, q.hi)


# ------------------------------------------------------------------------------------------------
# hybrid (int8 weights, float32 activations): XNNPACK's dynamically quantized qd8 kernels


@dataclass(frozen=True)
class HybridGemm:
    """A hybrid FULLY_CONNECTED / CONV_2D the delegate takes: the input quantized at run time (qd8), an int8
    GEMM / IGEMM, the float32 output (``xnn_qd8_f32_qc8w_gemm`` / ``igemm``)."""
    op: str
    base: Any  # the reference params
    per_row: bool  # quantization parameters per row (FULLY_CONNECTED, 1x1 CONV_2D: the GEMM) or per image
    weight_scales: np.ndarray  # float32 [units]
    lo: np.float32
    hi: np.float32


def qd8_parameters(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``xnn_f32_qd8_asymmetric_quantization_params`` (src/xnnpack/quantization.h) of each row's minimum and
    maximum, in float32: ``rmin = min(0, min)``, ``rmax = max(0, max)``, ``scale = 255 / (rmax - rmin)`` (1 when
    equal); the zero point ``-128 - rmin * scale`` when ``(-128 + rmin * scale) + (127 + rmax * scale) > 0``,
    else ``127 - rmax * scale``, clamped to [-128, 127] and rounded half to even. (scale, zero point) per row."""
    f32 = np.float32
    rmin = np.minimum(f32(0), flush_denormals(low))  # DAZ
    rmax = np.maximum(f32(0), flush_denormals(high))
    with np.errstate(divide="ignore", over="ignore"):  # FTZ on every result
        scale = np.where(rmin == rmax, f32(1), flush_denormals(f32(255) / flush_denormals(rmax - rmin))).astype(f32)
    rmin_scale = flush_denormals(rmin * scale)
    rmax_scale = flush_denormals(rmax * scale)
    from_min = (f32(-128) + rmin_scale).astype(f32)
    from_max = (f32(127) + rmax_scale).astype(f32)
    zero = np.where((from_min + from_max).astype(f32) > 0, f32(-128) - rmin_scale, f32(127) - rmax_scale)
    zero = np.minimum(np.maximum(zero.astype(f32), f32(-128)), f32(127))
    return scale, np.rint(zero).astype(np.int64)


def qd8_quantize(x: np.ndarray, scale: np.ndarray, zero_point: np.ndarray) -> np.ndarray:
    """``src/f32-qs8-vcvt`` (the qd8 convert): ``sat8(rint(min(x * scale, 127 - zp)) + zp)`` (int64), ``scale``
    and ``zero_point`` broadcast against ``x``."""
    scaled = np.minimum(flush_denormals(flush_denormals(x) * scale), (127 - zero_point).astype(np.float32))
    return np.clip(np.rint(scaled).astype(np.int64) + zero_point, -128, 127)


def qd8_output(acc: np.ndarray, inverse_scale: np.ndarray, q: HybridGemm, bias: np.ndarray | None) -> np.ndarray:
    """``fma(f32(acc) * f32(1 / scale), w_scale[n], bias[n])``, clamped (``acc`` the exact int32 sums of
    ``(q - zp) * w``; measured)."""
    b = _bias(bias, q.weight_scales.shape[0])
    scaled = flush_denormals(acc.astype(np.float32) * inverse_scale)  # FTZ (DAZ, FTZ below: MXCSR)
    return _clamp_spec(fma32_ftz_numpy(scaled, q.weight_scales, b), q.lo, q.hi)


def prepare_hybrid(ctx: OpContext, params: Any) -> HybridGemm | None:
    """A hybrid FULLY_CONNECTED, CONV_2D or TRANSPOSE_CONV the delegate takes: float32 input and output,
    constant symmetric int8 weights (per tensor or per output channel), a static float32 bias or none, an
    activation it knows; else None (LiteRT's hybrid kernel, which the reference follows). (A TRANSPOSE_CONV's
    output-shape condition is the caller's: the float32 one.)"""
    op = ctx.op.name
    x, w, y = ctx.require_input(0), ctx.require_input(1), ctx.output(0)
    bias = ctx.input(2)
    if op == "TRANSPOSE_CONV":  # inputs: output shape, weights, input, bias
        x, bias = ctx.require_input(2), ctx.input(3)
    if op not in ("FULLY_CONNECTED", "CONV_2D", "TRANSPOSE_CONV") or x.type_name != "float32" \
            or y.type_name != "float32":
        return None
    if w.type_name != "int8" or not w.is_constant or w.quantization is None or not _delegable_shapes(ctx):
        return None
    if bias is not None and (bias.type_name != "float32" or not is_static(ctx, bias)):
        return None
    quant = w.quantization
    # the delegate takes a TRANSPOSE_CONV's nonzero per-tensor weight zero point and ignores it (measured)
    ignores_zero_point = op == "TRANSPOSE_CONV" and len(quant.scale) == 1
    if (np.any(np.asarray(quant.zero_point) != 0) and not ignores_zero_point) or \
            (len(quant.scale) > 1 and quant.quantized_dimension != 0):
        return None
    bounds = _FLOAT_BOUNDS.get(int(ctx.options.get("fused_activation_function", 0)))
    if bounds is None:
        return None
    units = ctx.shape(w)[0]
    scales = np.broadcast_to(np.asarray(quant.scale, np.float32), (units,)).copy()
    lo, hi = np.float32(bounds[0]), np.float32(bounds[1])
    if op == "FULLY_CONNECTED":
        return HybridGemm(op, params, True, scales, lo, hi)
    if op == "TRANSPOSE_CONV":
        return HybridGemm(op, params, False, scales, lo, hi)  # the deconvolution: per image
    _, kernel_h, kernel_w, _ = ctx.shape(w)
    win = params.window
    gemm = kernel_h == 1 and kernel_w == 1 and params.stride_h == 1 and params.stride_w == 1 and \
        win.pad_h == 0 and win.pad_w == 0
    return HybridGemm(op, params, gemm, scales, lo, hi)


def run_hybrid(q: HybridGemm, x: np.ndarray, w: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """The hybrid operator's float32 output: each row (FULLY_CONNECTED, a 1x1 CONV_2D: each pixel) or each image
    quantized with its own qd8 parameters, the exact int32 sums (a padding tap reads the zero point: it adds
    nothing), then ``qd8_output``."""
    x = flush_denormals(x)  # DAZ
    weights = w.astype(np.float64)
    if q.per_row:
        rows = x.reshape(-1, x.shape[-1]) if q.op == "CONV_2D" else x.reshape(-1, q.base.depth)
        scale, zero = qd8_parameters(rows.min(axis=1, initial=np.inf), rows.max(axis=1, initial=-np.inf))
        quantized = qd8_quantize(rows, scale[:, None], zero[:, None])
        shifted = (quantized - zero[:, None]).astype(np.float64)
        groups = 1 if q.op == "FULLY_CONNECTED" else q.base.groups
        flat = weights.reshape(w.shape[0], -1)
        per_in, per_out = flat.shape[1], w.shape[0] // groups
        acc = np.concatenate([shifted[:, g * per_in:(g + 1) * per_in] @ flat[g * per_out:(g + 1) * per_out].T
                              for g in range(groups)], axis=1)
        acc = wrap_int32(acc.astype(np.int64))
        out = qd8_output(acc, flush_denormals(np.float32(1) / scale)[:, None], q, bias)
        shape = q.base.output_shape if q.op == "FULLY_CONNECTED" else x.shape[:-1] + (w.shape[0],)
        return out.reshape(shape)
    images = x.reshape(x.shape[0], -1)
    scale, zero = qd8_parameters(images.min(axis=1, initial=np.inf), images.max(axis=1, initial=-np.inf))
    outputs = []
    for n in range(x.shape[0]):
        quantized = qd8_quantize(x[n:n + 1], scale[n], zero[n]).astype(np.int8)
        p = _QuantizedGeometry(q.base.window, q.base.stride_h, q.base.stride_w, q.base.dilation_h,
                               q.base.dilation_w, q.base.groups, int(zero[n]), 0)
        acc = conv_accumulators(p, quantized, w, None)
        outputs.append(qd8_output(acc, flush_denormals(np.float32(1) / scale[n]), q, bias))
    return np.concatenate(outputs, axis=0)


def run_hybrid_transpose_conv(q: HybridGemm, shape: tuple[int, ...], pads: tuple[int, int], w: np.ndarray,
                              x: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """A hybrid TRANSPOSE_CONV under the delegate (``xnn_qd8_f32_qc8w`` deconvolution): each image quantized with
    its own qd8 parameters, the exact int32 sums of ``(q - zp) * w`` over the taps that land in the output, then
    ``qd8_output`` (measured on deepfilternet's dfnet2_stateful_dynamic and random cases)."""
    x = flush_denormals(x)  # DAZ
    images = x.reshape(x.shape[0], -1)
    scale, zero = qd8_parameters(images.min(axis=1, initial=np.inf), images.max(axis=1, initial=-np.inf))
    outputs = []
    for n in range(x.shape[0]):
        quantized = qd8_quantize(x[n:n + 1], scale[n], zero[n])
        p = _QuantizedGeometry(None, q.base.stride_h, q.base.stride_w, 1, 1, 1, int(zero[n]), 0)
        acc = transpose_conv_accumulators(p, (1,) + tuple(shape[1:]), pads, w, quantized, None)
        outputs.append(qd8_output(acc, flush_denormals(np.float32(1) / scale[n]), q, bias))
    return np.concatenate(outputs, axis=0).reshape(shape)


@dataclass(frozen=True)
class _QuantizedGeometry:
    """What ``conv_accumulators`` reads of a convolution's params."""
    window: Any
    stride_h: int
    stride_w: int
    dilation_h: int
    dilation_w: int
    groups: int
    input_zero_point: int
    filter_zero_point: int


HYBRID_RULE = "qd8: the input quantized per row / image at run time, int8 sums, fma(f32(acc) / s, s_w, b) (XNNPACK)"
RULE = "f32 FMA chain from the bias in XNNPACK's K / tap order, then min/max (XNNPACK f32 gemm/igemm/dwconv)"


# ------------------------------------------------------------------------------------------------
# LOGISTIC and TANH (float32): XNNPACK's vsigmoid / vtanh microkernels, elementwise


@dataclass(frozen=True)
class FloatUnary:
    """A float32 LOGISTIC or TANH the delegate takes (``xnn_define_unary`` -> ``xnn_unary_sigmoid`` /
    ``xnn_unary_tanh``, the default (not "consistent arithmetic") ``src/configs/unary-elementwise-config.c``)."""
    op: str


def prepare_unary(ctx: OpContext) -> FloatUnary | None:
    """The delegate takes a float32 LOGISTIC / TANH whose shapes it accepts (at most 6 dimensions, none 0);
    None otherwise (the quantized kinds: the reference kernel, as before)."""
    x, y = ctx.require_input(0), ctx.output(0)
    if x.type_name != "float32" or y is None or y.type_name != "float32" or not _delegable_shapes(ctx):
        return None
    return FloatUnary(ctx.op.name)


_F32 = np.float32
_SIGN = np.uint32(0x80000000)
#: the default NaN x86 produces for an invalid operation (inf - inf, inf / inf): "real indefinite"
_DEFAULT_NAN_BITS = np.uint32(0xFFC00000)
_QUIET_BIT = np.uint32(0x00400000)
_MIN_NORMAL = np.finfo(np.float32).tiny


def _hexf(text: str) -> np.float32:
    return _F32(float.fromhex(text))


def flush_denormals(a: np.ndarray) -> np.ndarray:
    """MXCSR FTZ + DAZ: a subnormal float32 becomes a zero of its sign. XNNPACK runs its operators with
    denormals disabled (``xnn_run_operator`` -> ``pthreadpool`` ``PTHREADPOOL_FLAG_DISABLE_DENORMALS``);
    measured: sigmoid(-88) is +0 (not 6.05e-39), tanh(1e-38) is +0."""
    a = np.asarray(a, _F32)
    return np.where(np.abs(a) < _MIN_NORMAL, np.copysign(_F32(0), a), a).astype(_F32)


def _fma_ftz(a: Any, b: Any, c: Any) -> np.ndarray:
    return flush_denormals(fma32_numpy(a, b, c))


#: 2^(k/32), k = 0..31 (``xnn_f32_vsigmoid_ukernel__avx512f_rr2_lut32_p2_perm2_scalef_div_u64``'s table)
_SIGMOID_TABLE = np.array([float.fromhex(v) for v in (
    "0x1.000000p+0 0x1.059B0Ep+0 0x1.0B5586p+0 0x1.11301Ep+0 0x1.172B84p+0 0x1.1D4874p+0 0x1.2387A6p+0 "
    "0x1.29E9E0p+0 0x1.306FE0p+0 0x1.371A74p+0 0x1.3DEA64p+0 0x1.44E086p+0 0x1.4BFDAEp+0 0x1.5342B6p+0 "
    "0x1.5AB07Ep+0 0x1.6247ECp+0 0x1.6A09E6p+0 0x1.71F75Ep+0 0x1.7A1148p+0 0x1.82589Ap+0 0x1.8ACE54p+0 "
    "0x1.93737Cp+0 0x1.9C4918p+0 0x1.A5503Cp+0 0x1.AE89FAp+0 0x1.B7F770p+0 0x1.C199BEp+0 0x1.CB720Ep+0 "
    "0x1.D5818Ep+0 0x1.DFC974p+0 0x1.EA4AFAp+0 0x1.F50766p+0").split()], np.float32)
_SIGMOID_MAGIC_BIAS = _hexf("0x1.800000p18")
_SIGMOID_LOG2E = _hexf("0x1.715476p0")
_SIGMOID_MINUS_LN2_HI = _hexf("-0x1.62E430p-1")
_SIGMOID_MINUS_LN2_LO = _hexf("0x1.05C61p-29")
_SIGMOID_C2 = _hexf("0x1.000000p-1")
_SIGMOID_C1 = _hexf("0x1.0000F6p-0")


def _scalef(p: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``vscalefps(p, n)`` = ``p * 2^floor(n)`` for ``n <= 0`` (the sigmoid's range), then FTZ: exact when normal
    (a float32 times a power of two), else 0. Intel's special cases: ``n = -inf``: a NaN or finite ``p`` gives
    +-0 (QNaN(src1) with src2 -inf is +0), an infinite ``p`` the default NaN; a NaN ``n``: NaN."""
    with np.errstate(invalid="ignore", over="ignore"):
        finite_n = np.isfinite(n)
        exponent = np.clip(np.floor(np.where(finite_n, n, 0)).astype(np.float64), -400, 0).astype(np.int64)
        scaled = np.ldexp(p.astype(np.float64), exponent).astype(_F32)
        minus_inf = np.isneginf(n)
        scaled = np.where(minus_inf, np.where(np.isinf(p), _F32(np.nan), np.where(np.isnan(p), _F32(0),
                                                                                   np.copysign(_F32(0), p))), scaled)
        scaled = np.where(np.isnan(n) | (np.isnan(p) & ~minus_inf), _F32(np.nan), scaled)
    return flush_denormals(scaled)


def sigmoid_avx512(x: np.ndarray) -> np.ndarray:
    """``xnn_f32_vsigmoid_ukernel__avx512f_rr2_lut32_p2_perm2_scalef_div_u64`` (XNNPACK
    ``src/f32-vsigmoid/gen/f32-vsigmoid-avx512f-rr2-lut32-p2-perm2-scalef-div-u64.c``), per element, with FTZ/DAZ:
    ``z = -|x|`` (the sign bit set); ``n = fma(z, log2e, 0x1.8p18)`` (rounded to 1/32), ``l = table[bits(n) & 31]``,
    ``n -= 0x1.8p18``; ``t = fma(n, -ln2_lo', fma(n, -ln2_hi, z))``; ``p = fma(t * l, fma(t, c2, c1), l)``;
    ``e = scalef(p, n)``; ``f = e / (e + 1)``; ``1 - f`` where x's sign bit is clear. A NaN input gives its own NaN,
    quieted, with the sign bit set (measured); an invalid operation inside (many ``|x|`` in [4.290705e26,
    2.3586576e38): ``p`` overflows, ``inf / inf``) x86's default NaN; from 2.3586576e38 on ``z * log2e`` is -inf,
    ``t`` NaN and ``scalef(NaN, -inf) = +0``: 1 or 0 again."""
    x = np.asarray(x, _F32)
    bits = x.view(np.uint32)
    z = flush_denormals((bits | _SIGN).view(_F32))
    with np.errstate(all="ignore"):
        n = fma32_numpy(z, _SIGMOID_LOG2E, _SIGMOID_MAGIC_BIAS)
        l = _SIGMOID_TABLE[n.view(np.uint32) & np.uint32(31)]
        n = (n - _SIGMOID_MAGIC_BIAS).astype(_F32)  # exact
        t = _fma_ftz(n, _SIGMOID_MINUS_LN2_HI, z)
        t = _fma_ftz(n, _SIGMOID_MINUS_LN2_LO, t)
        p = _fma_ftz(t, _SIGMOID_C2, _SIGMOID_C1)
        t = flush_denormals(t * l)
        p = _fma_ftz(t, p, l)
        e = _scalef(p, n)
        f = flush_denormals(e / (e + _F32(1)).astype(_F32))
        f = np.where((bits & _SIGN) == 0, flush_denormals(_F32(1) - f), f).astype(_F32)
    out = f.view(np.uint32)
    out = np.where(np.isnan(f), _DEFAULT_NAN_BITS, out)
    out = np.where(np.isnan(x), bits | _SIGN | _QUIET_BIT, out)
    return out.astype(np.uint32).view(_F32)


#: ``src/f32-vtanh/rational-9-8.c.in`` with native FMA and DIV: the clamp and the coefficients
_TANH_MAX_X = _F32(7.9807181358e+00)
_TANH_ALPHA = tuple(_F32(v) for v in (1.3412411511e-01, 3.5330520477e-03, 2.1235626264e-05, 1.4248920266e-08))
_TANH_BETA = tuple(_F32(v) for v in (4.6745735407e-01, 2.6018999517e-02, 3.3472978976e-04, 8.1365948290e-07))


def tanh_rational_9_8(x: np.ndarray) -> np.ndarray:
    """``xnn_f32_vtanh_ukernel__avx512f_rational_9_8_div_u32`` (XNNPACK ``src/f32-vtanh/rational-9-8.c.in``, the
    FMA3 kernel ``fma3_rational_9_8_div_u16`` is the same arithmetic), per element, with FTZ/DAZ:
    ``x = max(-7.9807181358, min(7.9807181358, x))`` (a NaN passes), ``x2 = x * x``,
    ``p = x * fma(x2, fma(x2, fma(x2, fma(x2, a9, a7), a5), a3), 1)``,
    ``q = fma(x2, fma(x2, fma(x2, fma(x2, b8, b6), b4), b2), 1)``, ``y = p / q``. A NaN input gives its own NaN,
    quieted (measured)."""
    x = np.asarray(x, _F32)
    bits = x.view(np.uint32)
    a3, a5, a7, a9 = _TANH_ALPHA
    b2, b4, b6, b8 = _TANH_BETA
    one = _F32(1)
    with np.errstate(all="ignore"):
        v = flush_denormals(np.clip(np.where(np.isnan(x), _F32(0), x), -_TANH_MAX_X, _TANH_MAX_X))
        x2 = flush_denormals(v * v)
        p = _fma_ftz(x2, a9, a7)
        p = _fma_ftz(x2, p, a5)
        p = _fma_ftz(x2, p, a3)
        p = _fma_ftz(x2, p, one)
        p = flush_denormals(v * p)
        q = _fma_ftz(x2, b8, b6)
        q = _fma_ftz(x2, q, b4)
        q = _fma_ftz(x2, q, b2)
        q = _fma_ftz(x2, q, one)
        y = flush_denormals(p / q)
    out = np.where(np.isnan(x), bits | _QUIET_BIT, y.view(np.uint32))
    return out.astype(np.uint32).view(_F32)


def run_unary(q: FloatUnary, x: np.ndarray) -> np.ndarray:
    """The float32 LOGISTIC / TANH output under the delegate (elementwise: the same for every layout)."""
    return sigmoid_avx512(x) if q.op == "LOGISTIC" else tanh_rational_9_8(x)


UNARY_RULE = {"LOGISTIC": "float32: XNNPACK avx512f rr2-lut32-p2 scalef sigmoid, FTZ/DAZ (vsigmoid)",
              "TANH": "float32: XNNPACK rational 9/8 with division, FTZ/DAZ (vtanh)"}

"""Profile "litert-opt", float32: LiteRT 2.3.0's optimized builtin float kernels on x86-64.

Each rule names the order of the float32 operations of the kernel it follows (measured bit for bit against
``get_runtime("litert")``, BUILTIN_WITHOUT_DEFAULT_DELEGATES, on this CPU; docs/profiles.md, "litert-opt"):

* DEPTHWISE_CONV_2D (``optimized_ops::DepthwiseConv``, ``optimized/depthwiseconv_float.h``,
  ``DepthwiseConvImpl``): the accumulator buffer starts from the bias (``DepthwiseConvInitAccBuffer``), then the
  kernel rows ``ky`` in order (only the rows inside the image: ``filter_y_start .. filter_y_end``), each row
  through ``FloatDepthwiseConvAccumRow`` with the taps ``kx`` in order (only the pixels inside the image);
  every tap ``acc = f32(acc + f32(x * w))`` (``FUSED``: one FMA instead); then
  ``min(max(acc, act_min), act_max)``.
* HARD_SWISH (``optimized_ops::HardSwish``, float): the vector blocks (16 then 4 elements, NEON through
  NEON_2_SSE) compute ``f32(f32(x * f32(1/6)) * relu6(x + 3))``; the scalar tail (``size % 4``)
  ``f32(f32(x * relu6(x + 3)) * f32(1/6))`` (measured: not the reference's division by 6).
* FULLY_CONNECTED, CONV_2D (groups 1; CONV_2D through ``Im2col``): ``cpu_backend_gemm`` -> Eigen
  (``cpu_backend_gemm_eigen.cc``; not ruy on this x86 build), SSE packets of 4 and no FMA: a single output
  element Eigen's inner product (four packet accumulators, read from the machine code: ``_inner_product``), the
  coefficient-based product for tiny sizes, GEMV for one row or one unit, else GEBP (``eigen_gemm``); then
  ``BiasAndClamp``. Not matched: CONV_2D with several threads (``multithreaded_conv.h``).
* TRANSPOSE_CONV (``optimized_ops::TransposeConvV2``): the same GEMM, ``Col2im`` from 0, then the bias.
* LOGISTIC, TANH (``optimized_ops::Logistic`` / ``Tanh``, inlined in activations.cc ``SigmoidEval`` /
  ``TanhEval``): Eigen's ``scalar_logistic_op<float>`` (packets of 4, then the scalar form with glibc's expf for
  the ``size % 4`` tail) and ``ptanh_float`` (one formula everywhere), refinterp/ops/eigen_math.py.
* SOFTMAX (``optimized_ops::SoftmaxImpl``, one thread): per row Eigen's ``maxCoeff`` (``_redux``: the row's
  16-byte alignment decides the scalar head), ``f32(f32(x - max) * beta)``, ``exp`` over the whole buffer
  (``pexp_float`` on packets of 4 with its pldexp fallback when a lane has ``|x| > 87``, glibc's expf on the
  ``size % 4`` tail), per row the sum (``_redux``), ``1 / sum``, ``e * inv``.
* LOG_SOFTMAX (``optimized_ops::LogSoftmax``): per row the max, the sum of the lazy ``exp(x - max)`` (packets of
  4 from the row start, expf for the rest), ``logf``, ``f32(f32(x - max) - log_sum)``.
* RESIZE_BILINEAR (``optimized_ops::ResizeBilinear``): the exact 2x upsampling (``ResizeBilinearKernel2x2``:
  ``(a + b) * 0.5``, ``(bl + (c + d) * 0.5) * 0.5``), else ``ResizeBilinearGeneric``: from 0, ``out = f32(v *
  f32(wy * wx)) + out`` for the corners (y0, x0), (y0, x1), (y1, x0), (y1, x1).

NaN payloads follow the SSE instructions' operand order (``x86_nan``: a NaN dst wins; minps/maxps return src).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from refinterp.ops.common import OpContext
from refinterp.ops.eigen_math import eigen_logistic, eigen_tanh
from refinterp.ops.emulation.xnnpack_float import fma32_numpy
from refinterp.ops.emulation.xnnpack_float_math import _quiet, x86_nan
from refinterp.ops.resize import _float_axis
from refinterp.ops.softmax_logistic import _libm_elementwise, expf

F32 = np.float32

#: whether the compiled scalar ``acc += x * w`` of the float depthwise kernel is contracted to one FMA
#: (measured on the runtime: see docs/profiles.md)
FUSED = False


@dataclass(frozen=True)
class FloatDepthwise:
    """A float32 DEPTHWISE_CONV_2D as optimized_ops::DepthwiseConv computes it."""
    base: Any  # the reference DepthwiseConv2DParams
    lo: np.float32
    hi: np.float32


def prepare_depthwise_float(ctx: OpContext, params: Any) -> FloatDepthwise | None:
    """The float32 rule (input, weights, output float32), else None."""
    x, w, y = ctx.require_input(0), ctx.require_input(1), ctx.output(0)
    bias = ctx.input(2)
    tensors = [x, w, y] + ([bias] if bias is not None else [])
    if any(t.type_name != "float32" for t in tensors):
        return None
    return FloatDepthwise(params, np.float32(params.act_min), np.float32(params.act_max))


def _step(acc: np.ndarray, x: np.ndarray, w: np.ndarray, fused: bool) -> np.ndarray:
    if fused:
        return fma32_numpy(x, w, acc)
    return (acc + (x * w).astype(np.float32)).astype(np.float32)


def depthwise_float(q: FloatDepthwise, x: np.ndarray, w: np.ndarray, bias: np.ndarray | None = None,
                    fused: bool | None = None) -> np.ndarray:
    """optimized_ops::DepthwiseConv (float): per output, from the bias, the taps (ky, kx) in row-major order that
    fall inside the image, ``acc = f32(acc + f32(x * w))``; then the activation clamp."""
    fused = FUSED if fused is None else fused
    p = q.base
    win = p.window
    x = np.asarray(x, np.float32)
    _, kernel_h, kernel_w, channels_out = w.shape
    w = np.asarray(w, np.float32)
    batch, height, width, _ = x.shape
    out_h, out_w = win.out_h, win.out_w
    b = np.zeros(channels_out, np.float32) if bias is None else np.asarray(bias, np.float32).reshape(-1)
    acc = np.broadcast_to(b, (batch, out_h, out_w, channels_out)).copy()
    if acc.size == 0:
        return acc
    oy = np.arange(out_h)
    ox = np.arange(out_w)
    # output channel o reads input channel o // depth_multiplier
    pixels = np.repeat(x, p.depth_multiplier, axis=3) if p.depth_multiplier != 1 else x
    for ky in range(kernel_h):
        iy = oy * p.stride_h - win.pad_h + ky * p.dilation_h
        rows = (iy >= 0) & (iy < height)
        if not rows.any():
            continue
        for kx in range(kernel_w):
            ix = ox * p.stride_w - win.pad_w + kx * p.dilation_w
            cols = (ix >= 0) & (ix < width)
            if not cols.any():
                continue
            ry, rx = np.nonzero(rows)[0], np.nonzero(cols)[0]
            values = pixels[:, iy[ry]][:, :, ix[rx]]
            block = acc[:, ry][:, :, rx]
            acc[np.ix_(np.arange(batch), ry, rx, np.arange(channels_out))] = _step(block, values, w[0, ky, kx], fused)
    # ActivationFunctionWithMinMax: std::min(std::max(x, lo), hi)
    acc = np.where(acc < q.lo, q.lo, acc)
    return np.where(q.hi < acc, q.hi, acc).astype(np.float32)


# ------------------------------------------------------------------------------------------------
# HARD_SWISH float32


#: optimized_ops::HardSwish: a 16-element unrolled loop, then a 4-element loop, then the scalar tail
HARD_SWISH_VECTOR = 4


@dataclass(frozen=True)
class FloatHardSwish:
    pass


def prepare_hard_swish_float(ctx: OpContext, reference_prepare) -> FloatHardSwish | None:
    params = reference_prepare(ctx)
    return FloatHardSwish() if not params.quantized else None


def hard_swish_float(q: FloatHardSwish, x: np.ndarray) -> np.ndarray:
    """optimized_ops::HardSwish (float): the first ``size // 4 * 4`` elements (the NEON blocks of 16, then 4,
    through NEON_2_SSE) ``f32(f32(x * f32(1/6)) * min(6, max(0, f32(x + 3))))`` (``_mm_max_ps(zero, v)`` and
    ``_mm_min_ps(six, v)``: a NaN passes); the scalar tail ``f32(f32(x * min(6, max(0, f32(x + 3)))) * f32(1/6))``
    (``std::max(0, v)``: a NaN gives 0; measured: the compiled tail multiplies by 1/6 instead of dividing by 6)."""
    f32 = np.float32
    flat = np.asarray(x, f32).reshape(-1)
    head = flat.size // HARD_SWISH_VECTOR * HARD_SWISH_VECTOR
    sixth = f32(1.0 / 6.0)
    with np.errstate(all="ignore"):
        vector = flat[:head]
        plus_three = (vector + f32(3.0)).astype(f32)
        relu = np.where(plus_three > f32(0.0), plus_three, np.where(np.isnan(plus_three), plus_three, f32(0.0)))
        relu = np.where(relu < f32(6.0), relu, np.where(np.isnan(relu), relu, f32(6.0)))
        vector_out = ((vector * sixth).astype(f32) * relu).astype(f32)
        tail = flat[head:]
        plus_three = (tail + f32(3.0)).astype(f32)
        relu6 = np.where(f32(0.0) < plus_three, plus_three, f32(0.0))
        relu6 = np.where(relu6 < f32(6.0), relu6, f32(6.0))
        tail_out = ((tail * relu6).astype(f32) * sixth).astype(f32)
    return np.concatenate([vector_out, tail_out]).reshape(np.shape(x))


# ------------------------------------------------------------------------------------------------
# FULLY_CONNECTED and CONV_2D float32: cpu_backend_gemm -> Eigen (cpu_backend_gemm_eigen.cc), SSE packets of 4


#: Eigen's float packet on this build (SSE: Packet4f; measured: 4-lane reductions), GEBP's nr, mr (2 packets:
#: no FMA, so not 3), the k peeling, and the L1 size Eigen's blocking reads (32 KiB on this CPU)
PACKET, NR, MR, K_PEELING, L1_BYTES = 4, 4, 8, 8, 32 * 1024
#: EIGEN_GEMM_TO_COEFFBASED_THRESHOLD: below it (depth + rows + cols) the product is coefficient-based (lazy)
COEFF_BASED_THRESHOLD = 20


def _products(lhs: np.ndarray, rhs: np.ndarray, k: int) -> np.ndarray:
    """The float32 products ``lhs[k, n] * rhs[k, m]``, [N, M] (the operands are kept depth-major: [D, N], [D, M])."""
    return (lhs[k][:, None] * rhs[k][None, :]).astype(F32)


def _sequential(lhs: np.ndarray, rhs: np.ndarray, ks: range) -> np.ndarray:
    """From 0: ``acc = f32(acc + f32(l * r))`` over ``ks`` in order (Eigen's accumulators start at pset1(0))."""
    acc = np.zeros((lhs.shape[1], rhs.shape[1]), F32)
    for k in ks:
        acc = (acc + _products(lhs, rhs, k)).astype(F32)
    return acc


def _predux(lanes: list[np.ndarray]) -> np.ndarray:
    """SSE ``predux<Packet4f>``: ``(l0 + l2) + (l1 + l3)``."""
    return ((lanes[0] + lanes[2]).astype(F32) + (lanes[1] + lanes[3]).astype(F32)).astype(F32)


def _coefficient_based(lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """The lazy product: each coefficient a redux (``redux_impl``, LinearVectorizedTraversal) of the float32
    products: two packet accumulators over pairs of packets (the first packets themselves, no zero), their sum,
    one more packet when the count is odd, predux, then the tail in order; fewer than 4 terms: in order."""
    depth = lhs.shape[0]
    aligned, aligned2 = depth // PACKET * PACKET, depth // (2 * PACKET) * (2 * PACKET)
    if not aligned:
        res = _products(lhs, rhs, 0)
        for k in range(1, depth):
            res = (res + _products(lhs, rhs, k)).astype(F32)
        return res
    r0 = [_products(lhs, rhs, k) for k in range(PACKET)]
    if aligned > PACKET:
        r1 = [_products(lhs, rhs, PACKET + k) for k in range(PACKET)]
        for start in range(2 * PACKET, aligned2, 2 * PACKET):
            r0 = [(r0[j] + _products(lhs, rhs, start + j)).astype(F32) for j in range(PACKET)]
            r1 = [(r1[j] + _products(lhs, rhs, start + PACKET + j)).astype(F32) for j in range(PACKET)]
        r0 = [(r0[j] + r1[j]).astype(F32) for j in range(PACKET)]
        if aligned > aligned2:
            r0 = [(r0[j] + _products(lhs, rhs, aligned2 + j)).astype(F32) for j in range(PACKET)]
    res = _predux(r0)
    for k in range(aligned, depth):
        res = (res + _products(lhs, rhs, k)).astype(F32)
    return res


def _gemv(lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Eigen's row-major GEMV (``general_matrix_vector_product``, one output column or row): per output one packet
    accumulator from 0 over the whole packets of the depth (``pmadd``: multiply, then add), predux, the tail in
    order; ``res += cc`` (res 0)."""
    depth = lhs.shape[0]
    full = depth // PACKET * PACKET
    lanes = [np.zeros((lhs.shape[1], rhs.shape[1]), F32) for _ in range(PACKET)]
    for start in range(0, full, PACKET):
        lanes = [(lanes[j] + _products(lhs, rhs, start + j)).astype(F32) for j in range(PACKET)]
    res = _predux(lanes)
    for k in range(full, depth):
        res = (res + _products(lhs, rhs, k)).astype(F32)
    return (F32(0.0) + res).astype(F32)


def _inner_product(lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """A 1x1 destination: ``generic_product_impl_base<..., GemvProduct>::evalTo`` (machine code at 0x7f82b0 of
    libpywrap_litert_common.so) zeroes dst, then ``dst(0) += lhs.row(0).dot(rhs.col(0))`` inlined (Eigen's
    ``inner_product_impl``, unaligned loads, no alignment peeling). Depth below 4: ``f32(l0 * r0)``, then
    ``acc + f32(l * r)`` in order. Else packets of 4 products (``mulps``, no FMA): accumulator j starts at packet
    j (j < 4, as many as there are whole packets); the loop adds packets 4i + j to accumulator j; the remaining
    whole packets (1 to 3) go to accumulators 0, 1, 2; then ``a0 + (a1 + (a2 + a3))`` (only the accumulators that
    exist), the reduction ``(l1 + l3) + (l0 + l2)`` (``unpckhpd``, ``movshdup``), the scalar tail in order; last
    ``acc + 0`` (dst). lhs, rhs [D, 1] -> [1, 1]."""
    left, right = lhs[:, 0], rhs[:, 0]
    depth = left.size
    if depth < PACKET:
        acc = _sse_mul(left[0], right[0])
        for k in range(1, depth):
            acc = _sse_add(acc, _sse_mul(left[k], right[k]))
    else:
        whole = depth // PACKET

        def packet(index: int) -> np.ndarray:  # mulps lhs, rhs: the rhs load is dst
            span = slice(index * PACKET, (index + 1) * PACKET)
            return _sse_mul(right[span], left[span])

        accumulators = [packet(j) for j in range(min(whole, 4))]
        for index in range(4, whole):
            accumulators[index % 4] = _sse_add(accumulators[index % 4], packet(index))
        # the remaining 1 to 3 packets after the blocks of 4 go to accumulators 0, 1, 2: index % 4 again
        acc4 = accumulators[-1]
        for j in range(len(accumulators) - 2, -1, -1):  # addps a3, a2; addps a2, a1; addps a1, a0
            acc4 = _sse_add(accumulators[j], acc4)
        pair = _sse_add(acc4[2:4], acc4[0:2])  # unpckhpd + addps: [l2 + l0, l3 + l1]
        acc = _sse_add(pair[1], pair[0])  # movshdup + addss
        for k in range(whole * PACKET, depth):  # mulss lhs (dst), rhs; addss: the accumulator is dst
            acc = _sse_add(acc, _sse_mul(left[k], right[k]))
    return _sse_add(np.asarray(acc, F32), F32(0.0)).reshape(1, 1)  # dst(0) += dot: dst was zeroed


def depth_block(rows: int, cols: int, depth: int) -> int:
    """``computeProductBlockingSizes`` (one thread): kc, the depth of one GEBP pass."""
    if max(depth, rows, cols) < 48:
        return depth
    max_kc = max(((L1_BYTES - MR * NR * 4) // (MR * 4 + NR * 4)) & ~(K_PEELING - 1), 1)
    if depth > max_kc:
        remainder = depth % max_kc
        return max_kc if remainder == 0 else \
            max_kc - K_PEELING * ((max_kc - 1 - remainder) // (K_PEELING * (depth // max_kc + 1)))
    return depth


def _gebp(lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Eigen's GEBP (``gebp_kernel``, SSE, mr 8, nr 4) per depth block of ``depth_block``, ``res += C`` (res 0):
    rows in blocks of 8 (two packets): every column in order from 0; rows in one packet (4): in panels of 4
    columns the even and odd steps of the peeled depth (a multiple of 8) in two accumulators, added, then the
    rest; the other columns in order; the last ``rows % 4`` rows one at a time: in panels of 4 columns four
    accumulators by ``k % 4`` (over a multiple of 4), ``(C0 + C1) + (C2 + C3)``, then the rest; the other
    columns in order."""
    depth, rows = lhs.shape
    cols = rhs.shape[1]
    kc = depth_block(rows, cols, depth)
    cols4 = cols // NR * NR
    packet_rows = rows // PACKET * PACKET
    pair_rows = rows // (2 * PACKET) * (2 * PACKET)
    res = np.zeros((rows, cols), F32)
    for k0 in range(0, depth, kc):
        k1 = min(depth, k0 + kc)
        peeled = k0 + (k1 - k0) // K_PEELING * K_PEELING
        by4 = k0 + (k1 - k0) // 4 * 4
        block = np.empty((rows, cols), F32)
        if pair_rows:
            block[:pair_rows] = _sequential(lhs[:, :pair_rows], rhs, range(k0, k1))
        if packet_rows > pair_rows:
            part = lhs[:, pair_rows:packet_rows]
            if cols4:
                panel = rhs[:, :cols4]
                even = _sequential(part, panel, range(k0, peeled, 2))
                odd = _sequential(part, panel, range(k0 + 1, peeled, 2))
                acc = (even + odd).astype(F32)
                for k in range(peeled, k1):
                    acc = (acc + _products(part, panel, k)).astype(F32)
                block[pair_rows:packet_rows, :cols4] = acc
            block[pair_rows:packet_rows, cols4:] = _sequential(part, rhs[:, cols4:], range(k0, k1))
        if rows > packet_rows:
            part = lhs[:, packet_rows:]
            if cols4:
                panel = rhs[:, :cols4]
                c0, c1, c2, c3 = (_sequential(part, panel, range(k0 + j, by4, 4)) for j in range(4))
                acc = ((c0 + c1).astype(F32) + (c2 + c3).astype(F32)).astype(F32)  # padd(padd(C0,C1),padd(C2,C3))
                for k in range(by4, k1):
                    acc = (acc + _products(part, panel, k)).astype(F32)
                block[packet_rows:, :cols4] = acc
            block[packet_rows:, cols4:] = _sequential(part, rhs[:, cols4:], range(k0, k1))
        res = (res + block).astype(F32)
    return res


def eigen_gemm(lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """``dst = lhs * rhs^T`` as cpu_backend_gemm_eigen.cc computes it: lhs [N, D] (the weights, row-major), rhs
    [M, D] (the input rows / im2col columns) -> [N, M] float32. Eigen's ``generic_product_impl::evalTo``:
    one element: the inner product; ``D + N + M < 20``: the coefficient-based product; one column or one row:
    GEMV; else GEBP."""
    rows, depth = lhs.shape
    cols = rhs.shape[0]
    lhs = np.ascontiguousarray(np.asarray(lhs, F32).T)  # [D, N]
    rhs = np.ascontiguousarray(np.asarray(rhs, F32).T)  # [D, M]
    if rows == 0 or cols == 0:
        return np.zeros((rows, cols), F32)
    if depth == 0:
        return np.zeros((rows, cols), F32)
    if rows == 1 and cols == 1:  # Run's one-column branch is a GemvProduct: no coefficient-based path
        return _inner_product(lhs, rhs)
    if depth + rows + cols < COEFF_BASED_THRESHOLD:
        return _coefficient_based(lhs, rhs)
    if cols == 1 or rows == 1:
        return _gemv(lhs, rhs)
    return _gebp(lhs, rhs)


def bias_and_clamp(acc: np.ndarray, bias: np.ndarray | None, lo: np.float32, hi: np.float32) -> np.ndarray:
    """``BiasAndClamp`` (optimized/common.h; bias present): ``f32(acc + b)`` then ``min(max(x, lo), hi)``; no
    bias: Eigen's ``cwiseMin(hi).cwiseMax(lo)``. acc [..., channels]."""
    x = acc if bias is None else (acc + np.asarray(bias, F32)).astype(F32)
    x = np.where(x < lo, lo, x)
    return np.where(hi < x, hi, x).astype(F32)


@dataclass(frozen=True)
class FloatGemm:
    """A float32 FULLY_CONNECTED / CONV_2D (groups 1) through cpu_backend_gemm (Eigen)."""
    op: str
    base: Any  # the reference params
    lo: np.float32
    hi: np.float32


def _all_float(ctx: OpContext, indices: tuple[int, ...]) -> bool:
    tensors = [ctx.input(i) for i in indices] + [ctx.output(0)]
    return all(t is None or t.type_name == "float32" for t in tensors)


def prepare_gemm_float(ctx: OpContext, params: Any) -> FloatGemm | None:
    """float32 input, weights, bias and output (a grouped CONV_2D runs LiteRT's reference kernel: None)."""
    if not _all_float(ctx, (0, 1, 2)):
        return None
    if ctx.op.name == "CONV_2D" and params.groups != 1:
        return None
    return FloatGemm(ctx.op.name, params, F32(params.act_min), F32(params.act_max))


def fully_connected_float(q: FloatGemm, x: np.ndarray, w: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """optimized_ops::FullyConnected (float): Eigen's product of the weights [units, depth] and the input rows,
    then BiasAndClamp."""
    p = q.base
    rows = np.asarray(x, F32).reshape(-1, p.depth)
    acc = eigen_gemm(np.asarray(w, F32), rows).T
    return bias_and_clamp(acc, bias, q.lo, q.hi).reshape(p.output_shape)


def im2col(x: np.ndarray, kernel_h: int, kernel_w: int, geometry: tuple[int, ...]) -> np.ndarray:
    """optimized_ops Im2col / DilatedIm2col: [N * out_h * out_w, KH * KW * C], each row the taps (ky, kx, c) of
    one output pixel, 0 outside the image (the zero byte; a 1x1 stride-1 convolution reads the input itself,
    the same values)."""
    stride_h, stride_w, dilation_h, dilation_w, pad_h, pad_w, out_h, out_w = geometry
    batch, height, width, channels = x.shape
    need_h = (out_h - 1) * stride_h + (kernel_h - 1) * dilation_h + 1
    need_w = (out_w - 1) * stride_w + (kernel_w - 1) * dilation_w + 1
    padded = np.zeros((batch, max(height + pad_h, need_h), max(width + pad_w, need_w), channels), F32)
    padded[:, pad_h:pad_h + height, pad_w:pad_w + width] = x
    taps = []
    for ky in range(kernel_h):
        for kx in range(kernel_w):
            y0, x0 = ky * dilation_h, kx * dilation_w
            taps.append(padded[:, y0:y0 + (out_h - 1) * stride_h + 1:stride_h,
                               x0:x0 + (out_w - 1) * stride_w + 1:stride_w])
    return np.stack(taps, axis=3).reshape(batch * out_h * out_w, kernel_h * kernel_w * channels)


def conv2d_float(q: FloatGemm, x: np.ndarray, w: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """optimized_ops::Conv (float): im2col, Eigen's product of the weights [O, KH * KW * C] and the columns, then
    BiasAndClamp."""
    p = q.base
    win = p.window
    channels_out, kernel_h, kernel_w, _ = w.shape
    x = np.asarray(x, F32)
    if 0 in (x.shape[0], win.out_h, win.out_w):  # an empty output (a VALID window larger than the input)
        return np.zeros((x.shape[0], win.out_h, win.out_w, channels_out), F32)
    geometry = (p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, win.pad_h, win.pad_w, win.out_h, win.out_w)
    columns = im2col(x, kernel_h, kernel_w, geometry)
    acc = eigen_gemm(np.asarray(w, F32).reshape(channels_out, -1), columns).T
    out = bias_and_clamp(acc, bias, q.lo, q.hi)
    return out.reshape(x.shape[0], win.out_h, win.out_w, channels_out)


# ------------------------------------------------------------------------------------------------
# TRANSPOSE_CONV float32: optimized_ops::TransposeConvV2 (GEMM, Col2im, then the bias)


@dataclass(frozen=True)
class FloatTransposeConv:
    base: Any  # the reference TransposeConvParams
    lo: np.float32
    hi: np.float32


def prepare_transpose_conv_float(ctx: OpContext, params: Any) -> FloatTransposeConv | None:
    """float32 weights, input, bias and output (inputs 1, 2, 3), else None."""
    if not _all_float(ctx, (1, 2, 3)):
        return None
    return FloatTransposeConv(params, F32(params.act_min), F32(params.act_max))


def transpose_conv_float(q: FloatTransposeConv, shape: tuple[int, ...], pads: tuple[int, int], w: np.ndarray,
                         x: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """optimized_ops::TransposeConvV2 (float): per image the Eigen product ``col = W_hwoi [KH * KW * O, C] x
    input [C, H * W]`` (``eigen_gemm``), then ``Col2im``: the output starts at 0 and each input pixel, in raster
    order, adds its taps (ky, kx) that land inside the output (``im += col``); so per output the contributions
    in the order of their input pixels (ky, kx descending). Then ``f32(out + b)`` and the activation clamp."""
    p = q.base
    x = np.asarray(x, F32)
    w = np.asarray(w, F32)
    channels_out, kernel_h, kernel_w, channels_in = w.shape
    batch, height, width, _ = x.shape
    out_h, out_w = shape[1], shape[2]
    out = np.zeros((batch, out_h, out_w, channels_out), F32)
    if out.size == 0:
        return out
    lhs = np.transpose(w, (1, 2, 0, 3)).reshape(kernel_h * kernel_w * channels_out, channels_in)
    for n in range(batch):
        col = eigen_gemm(lhs, x[n].reshape(height * width, channels_in))  # [(ky, kx, o), (iy, ix)]
        col = col.reshape(kernel_h, kernel_w, channels_out, height, width)
        image = np.zeros((out_h, out_w, channels_out), F32)
        for ky in reversed(range(kernel_h)):
            oy = np.arange(height) * p.stride_h - pads[0] + ky
            ys = np.nonzero((oy >= 0) & (oy < out_h))[0]
            for kx in reversed(range(kernel_w)):
                ox = np.arange(width) * p.stride_w - pads[1] + kx
                xs = np.nonzero((ox >= 0) & (ox < out_w))[0]
                if ys.size == 0 or xs.size == 0:
                    continue
                target = np.ix_(oy[ys], ox[xs])
                contribution = np.transpose(col[ky, kx][:, ys][:, :, xs], (1, 2, 0))
                image[target] = (image[target] + contribution).astype(F32)
        out[n] = image
    return bias_and_clamp(out, bias, q.lo, q.hi)


# ------------------------------------------------------------------------------------------------
# LOGISTIC, TANH, SOFTMAX, LOG_SOFTMAX float32: Eigen's SSE packet math (Packet4f, no FMA)


def _bits(value: int) -> np.float32:
    return np.array([value], np.uint32).view(F32)[0]


def _sse_min(constant: np.float32, x: np.ndarray) -> np.ndarray:
    """``minps x, c`` (c < x ? c : x): a NaN x passes."""
    return np.where(constant < x, constant, x).astype(F32)


def _pow2(exponent_plus_bias: np.ndarray) -> np.ndarray:
    """``cvttps2dq`` then ``pslld 23``: the float whose biased exponent field is the integer (0 gives +0)."""
    return (exponent_plus_bias.astype(np.int64).astype(np.uint32) << np.uint32(23)).view(F32)


#: Eigen's pexp_float constants shared with scalar_logistic_op: Cody-Waite's log2(e), ln2 split, the zero below -104
EXP_LOG2E, EXP_LN2_HI, EXP_LN2_LO = _bits(0x3FB8AA3B), _bits(0xBF318000), _bits(0x395E8083)
EXP_ZERO_BELOW = F32(-104.0)
#: Eigen's dense assignment and reductions on this build: packets of 4 (Packet4f), 16-byte alignment
EIGEN_PACKET = 4


@dataclass(frozen=True)
class FloatUnaryEigen:
    op: str


def prepare_logistic_float(ctx: OpContext, reference_prepare) -> FloatUnaryEigen | None:
    params = reference_prepare(ctx)
    return FloatUnaryEigen("LOGISTIC") if not params.quantized else None


def prepare_tanh_float(ctx: OpContext, reference_prepare) -> FloatUnaryEigen | None:
    params = reference_prepare(ctx)
    return FloatUnaryEigen("TANH") if not params.quantized else None


def logistic_float(q: FloatUnaryEigen, x: np.ndarray) -> np.ndarray:
    """optimized_ops::Logistic (float): ``unaryExpr(scalar_logistic_op<float>())`` over the (64-byte aligned)
    tensor: the first ``size // 4 * 4`` elements through the packet form (``(2^m p(r))^2 / (1 + ...)`` of
    ``min(x, 16.635532) / 2``, 0 below -104), the ``size % 4`` last through the scalar form
    (``e = expf(min(x, 16.635532))``, ``e / (1 + e)``): refinterp/ops/eigen_math.py, the same functions LiteRT's
    recurrent kernels use (measured again here on the LOGISTIC operator)."""
    return eigen_logistic(np.asarray(x, F32), offset=0)


def tanh_float(q: FloatUnaryEigen, x: np.ndarray) -> np.ndarray:
    """optimized_ops::Tanh (float): ``array().tanh()``, Eigen's ``ptanh_float`` on every element (packets and the
    scalar tail compute alike, machine code checked): the clamp to +-7.9073896, the 9/8 rational, every operation
    a float32 mulps/addps (no FMA), no small-|x| shortcut, a NaN stays: refinterp/ops/eigen_math.py."""
    return eigen_tanh(np.asarray(x, F32))


#: Eigen's pexp_float (GenericPacketMathFunctions.h) on Packet4f: the clamp, Cody-Waite, the polynomial, the
#: |x| above which pldexp (four factors) replaces the fast 2^m, pldexp's exponent clamp, the zero below -104
EXP_HI, EXP_FAST_LIMIT, EXP_LDEXP_LIMIT = _bits(0x42B1722D), F32(87.0), F32(278.0)
EXP_POLY = (_bits(0x3C091DE6), _bits(0x3E2AAA47), _bits(0x3AB42872), _bits(0x3D2AADCC), _bits(0x3EFFFFFC))


def _sse_add(dst: np.ndarray, src: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return x86_nan(dst, src, (dst + src).astype(F32))


def _sse_mul(dst: np.ndarray, src: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return x86_nan(dst, src, (dst * src).astype(F32))


def _sse_sub(dst: np.ndarray, src: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return x86_nan(dst, src, (dst - src).astype(F32))


def _sse_maxps(dst: np.ndarray, src: np.ndarray) -> np.ndarray:
    """``maxps src, dst``: dst > src ? dst : src (a NaN either side gives src, unchanged)."""
    return np.where(dst > src, dst, src).astype(F32)


def _exp_packets(x: np.ndarray) -> np.ndarray:
    """Eigen's pexp_float on packets of 4 (x.size a multiple of 4): ``c = min(x, 88.72283)``;
    ``m = floor(c * log2e + 0.5)``; ``r = (m * -0.6933594 + c) + m * 2.1219444e-4``; ``r2 = r * r``;
    ``p = ((r2 c0 + c1) r + ((r2 c2 + c3) r2 + c4)) r2 + (r + 1)``; a packet with every ``|c| <= 87``:
    ``p * 2^m`` (``m + 127`` clamped to [0, 255]); else pldexp: ``e = clamp(m, -278, 278)``, ``b = e >> 2``,
    ``2^(e - 3b) * (((p * 2^b) * 2^b) * 2^b)``; then ``max(x, y)`` (a NaN x: the computed NaN) and 0 where
    ``x < -104``."""
    one, half = F32(1.0), F32(0.5)
    with np.errstate(all="ignore"):
        c = _sse_min(EXP_HI, x)
        m = np.floor(((c * EXP_LOG2E).astype(F32) + half).astype(F32))
        r = ((m * EXP_LN2_HI).astype(F32) + c).astype(F32)
        r = ((m * EXP_LN2_LO).astype(F32) + r).astype(F32)
        r2 = (r * r).astype(F32)
        inner = ((((r2 * EXP_POLY[2]).astype(F32) + EXP_POLY[3]).astype(F32) * r2).astype(F32) + EXP_POLY[4])
        p = ((((r2 * EXP_POLY[0]).astype(F32) + EXP_POLY[1]).astype(F32) * r).astype(F32) + inner.astype(F32))
        p = ((p.astype(F32) * r2).astype(F32) + (r + one).astype(F32)).astype(F32)
        fast = (p * _pow2(np.clip(np.nan_to_num((m + F32(127.0)).astype(F32), nan=0.0), 0.0, 255.0))).astype(F32)
        e = np.where(np.isnan(m), -2.0 ** 31, np.clip(m, -EXP_LDEXP_LIMIT, EXP_LDEXP_LIMIT)).astype(np.int64)
        b = e >> 2
        bias = np.int64(127)

        def factor(k: np.ndarray) -> np.ndarray:
            return (((k + bias) << 23) & 0xFFFFFFFF).astype(np.uint32).view(F32)

        slow = (((p * factor(b)).astype(F32) * factor(b)).astype(F32) * factor(b)).astype(F32)
        slow = (factor(e - 3 * b) * slow).astype(F32)
    packets = (np.abs(c) > EXP_FAST_LIMIT).reshape(-1, EIGEN_PACKET).any(axis=1)
    y = np.where(np.repeat(packets, EIGEN_PACKET), slow, fast)
    y = np.where(np.isnan(x), _quiet(x), _sse_maxps(x, y))
    return np.where(x < EXP_ZERO_BELOW, F32(0.0), y).astype(F32)


def _redux(a: np.ndarray, head: int, op, accumulator_is_dst: bool) -> np.ndarray:
    """Eigen's redux (LinearVectorizedTraversal) of each row of ``a`` [R, L] whose first ``head`` elements lie
    before the 16-byte boundary: fewer than 4 aligned elements: from a[0] in order; else two packet accumulators
    over pairs of packets, ``p1 op p0``, one more packet, predux ``(l1 op l3) op (l0 op l2)``, then the head and
    the tail elements in order. ``op(dst, src)`` is the SSE instruction; in the loops the accumulator is its dst
    (addps) or its src (maxps: the new value is dst)."""
    def step(acc: np.ndarray, new: np.ndarray) -> np.ndarray:
        return op(acc, new) if accumulator_is_dst else op(new, acc)

    length = a.shape[1]
    n = length - head
    if n < EIGEN_PACKET:
        acc = a[:, 0]
        for i in range(1, length):
            acc = step(acc, a[:, i])
        return acc
    aligned4, aligned8 = n // 4 * 4, n // 8 * 8
    p0 = a[:, head:head + 4]
    if n >= 8:
        p1 = a[:, head + 4:head + 8]
        for start in range(head + 8, head + aligned8, 8):
            p0 = step(p0, a[:, start:start + 4])
            p1 = step(p1, a[:, start + 4:start + 8])
        p0 = op(p1, p0)
        if aligned4 > aligned8:
            p0 = step(p0, a[:, head + aligned8:head + aligned8 + 4])
    pair = op(p0[:, 2:4], p0[:, 0:2])
    acc = op(pair[:, 1], pair[:, 0])
    for i in list(range(head)) + list(range(head + aligned4, length)):
        acc = step(acc, a[:, i])
    return acc


def _row_redux(rows: np.ndarray, op, accumulator_is_dst: bool) -> np.ndarray:
    """``_redux`` of every row: row r starts at element r * L of a 16-byte aligned buffer."""
    count, length = rows.shape
    out = np.empty(count, F32)
    heads = np.minimum((-(np.arange(count) * length)) % EIGEN_PACKET, length)
    for head in np.unique(heads):
        selected = heads == head
        out[selected] = _redux(rows[selected], int(head), op, accumulator_is_dst)
    return out


@dataclass(frozen=True)
class FloatSoftmax:
    beta: np.float32


def prepare_softmax_float(params: Any) -> FloatSoftmax:
    return FloatSoftmax(F32(params.beta))


def softmax_float(q: FloatSoftmax, x: np.ndarray) -> np.ndarray:
    """optimized_ops::Softmax (float, ``SoftmaxImpl``, one thread), Eigen on the [L, rows] column-major map:
    per row the max (``_redux`` with maxps/maxss); ``d = f32(f32(x - max) * beta)``; exp over the whole buffer
    (``_exp_packets`` on the first ``size // 4 * 4`` elements, glibc's expf on the rest); per row the sum
    (``_redux``, addps); ``inv = 1 / sum``; ``e * inv``."""
    x = np.asarray(x, F32)
    length = x.shape[-1] if x.ndim else 1
    if x.size == 0:
        return x.copy()
    rows = x.reshape(-1, length)
    maxima = _row_redux(rows, _sse_maxps, accumulator_is_dst=False)
    d = _sse_mul(_sse_sub(rows, maxima[:, None]), q.beta)
    flat = d.reshape(-1)
    head = flat.size // EIGEN_PACKET * EIGEN_PACKET
    with np.errstate(all="ignore"):
        e = np.concatenate([_exp_packets(flat[:head]), expf(flat[head:]).astype(F32)]).reshape(rows.shape)
    sums = _row_redux(e, _sse_add, accumulator_is_dst=True)
    with np.errstate(all="ignore"):
        inverse = np.where(np.isnan(sums), _quiet(sums), (F32(1.0) / sums).astype(F32)).astype(F32)
    # the compiled scale loop: blocks of 8 (mulps: e is dst) when L >= 8, then the scalar rest (mulss: inv is dst)
    vector = length // 8 * 8 if length >= 8 else 0
    inverse = np.broadcast_to(inverse[:, None], rows.shape)
    out = np.concatenate([_sse_mul(e[:, :vector], inverse[:, :vector]),
                          _sse_mul(inverse[:, vector:], e[:, vector:])], axis=1)
    return out.reshape(x.shape)


# ------------------------------------------------------------------------------------------------
# RESIZE_BILINEAR float32: optimized_ops::ResizeBilinear (ResizeBilinear2x2 or ResizeBilinearGeneric)


@dataclass(frozen=True)
class FloatResizeBilinear:
    base: Any  # the reference ResizeParams


def prepare_resize_bilinear_float(ctx: OpContext, reference_prepare) -> FloatResizeBilinear | None:
    params = reference_prepare(ctx)
    return FloatResizeBilinear(params) if ctx.require_input(0).type_name == "float32" else None


def resize_bilinear_float(q: FloatResizeBilinear, x: np.ndarray, size: np.ndarray) -> np.ndarray:
    """optimized_ops::ResizeBilinear (float). An exact 2x upsampling without align_corners / half_pixel_centers
    (``ResizeBilinear2x2`` / ``ResizeBilinearKernel2x2``): per input pixel (y0, x0), x1 = min(x0 + 1, W - 1),
    y1 likewise: out(2y, 2x) = v00, out(2y, 2x+1) = (v00 + v01) * 0.5, out(2y+1, 2x) = bl = (v00 + v10) * 0.5,
    out(2y+1, 2x+1) = (bl + (v01 + v11) * 0.5) * 0.5. Otherwise ``ResizeBilinearGeneric``: the output from 0,
    then ``out += v * scale`` for the corners (y0, x0), (y0, x1), (y1, x0), (y1, x1) in that order, each scale a
    float32 product of the two weights ``(1 - dy) * (1 - dx)``, ``(1 - dy) * dx``, ``dy * (1 - dx)``, ``dy * dx``
    (the NEON blocks of ResizeBilinearKernel through NEON_2_SSE: mul then add, the same order)."""
    p = q.base
    out_h, out_w = p.size if p.size is not None else (int(size[0]), int(size[1]))
    x = np.asarray(x, F32)
    batch, in_h, in_w, channels = x.shape
    if not p.align_corners and not p.half_pixel_centers and out_h == 2 * in_h and out_w == 2 * in_w:
        half = F32(0.5)
        x1 = np.minimum(np.arange(in_w) + 1, in_w - 1)
        y1 = np.minimum(np.arange(in_h) + 1, in_h - 1)
        v00, v01 = x, x[:, :, x1]
        v10, v11 = x[:, y1], x[:, y1][:, :, x1]
        top_right = _sse_mul(_sse_add(v00, v01), half)
        bottom_left = _sse_mul(_sse_add(v00, v10), half)
        bottom_right = _sse_mul(_sse_add(bottom_left, _sse_mul(_sse_add(v01, v11), half)), half)
        out = np.empty((batch, out_h, out_w, channels), F32)
        out[:, 0::2, 0::2], out[:, 0::2, 1::2] = v00, top_right
        out[:, 1::2, 0::2], out[:, 1::2, 1::2] = bottom_left, bottom_right
        return out
    y0, y1, dy = _float_axis(in_h, out_h, p.align_corners, p.half_pixel_centers)
    x0, x1, dx = _float_axis(in_w, out_w, p.align_corners, p.half_pixel_centers)
    one = F32(1.0)
    wy0, wy1 = (one - dy).astype(F32)[:, None], dy[:, None]
    wx0, wx1 = (one - dx).astype(F32)[None, :], dx[None, :]
    acc = np.zeros((batch, out_h, out_w, channels), F32)
    for rows, cols, weight in ((y0, x0, wy0 * wx0), (y0, x1, wy0 * wx1), (y1, x0, wy1 * wx0), (y1, x1, wy1 * wx1)):
        scale = weight.astype(F32)[None, :, :, None]
        # the blocks of 32, 16, 8, 4 channels (vmlaq_n_f32 through NEON_2_SSE) and the scalar rest compile alike:
        # mulps/mulss, then addps/addss with the product as dst (its NaN wins when both are NaN)
        acc = _sse_add(_sse_mul(x[:, rows][:, :, cols], scale), acc)
    return acc


# ------------------------------------------------------------------------------------------------
# LOG_SOFTMAX float32: optimized_ops::LogSoftmax (Eigen per row)


@dataclass(frozen=True)
class FloatLogSoftmax:
    pass


def prepare_log_softmax_float(ctx: OpContext, reference_prepare) -> FloatLogSoftmax | None:
    params = reference_prepare(ctx)
    return FloatLogSoftmax() if not params.quantized else None


def log_softmax_float(q: FloatLogSoftmax, x: np.ndarray) -> np.ndarray:
    """optimized_ops::LogSoftmax (float), per row (a VectorMap): ``max = maxCoeff()`` (``_redux``, the row's own
    16-byte alignment); ``sum = (x - max).exp().sum()``: a redux of the lazy expression, which Eigen treats as
    aligned from element 0 (packets of 4 from the row start: ``f32(x - max)`` then ``_exp_packets``; the last
    ``L % 4`` and rows shorter than 4: ``expf`` of the scalar difference, added in order); ``log_sum =
    logf(sum)``; ``y = f32(f32(x - max) - log_sum)``."""
    x = np.asarray(x, F32)
    if x.size == 0:
        return x.copy()
    length = x.shape[-1] if x.ndim else 1
    rows = x.reshape(-1, length)
    maxima = _row_redux(rows, _sse_maxps, accumulator_is_dst=False)
    d = _sse_sub(rows, maxima[:, None])
    packed = length // EIGEN_PACKET * EIGEN_PACKET if length >= EIGEN_PACKET else 0
    with np.errstate(all="ignore"):
        e = np.concatenate([_exp_packets(d[:, :packed].reshape(-1)).reshape(d.shape[0], packed),
                            expf(d[:, packed:]).astype(F32)], axis=1)
    sums = _redux(e, 0, _sse_add, accumulator_is_dst=True)
    log_sum = _libm_elementwise("logf", sums).astype(F32)
    return _sse_sub(d, log_sum[:, None]).reshape(x.shape)


# ------------------------------------------------------------------------------------------------
# MEAN float32: reduce.cc's optimized float mean (Eigen over a trailing reduced block, else MeanGeneral)


@dataclass(frozen=True)
class FloatMean:
    output_shape: tuple[int, ...]
    axes: tuple[int, ...]  # resolved, sorted
    last_block: int  # > 0: the reduced axes are one trailing block of this many elements (size-1 dims aside)


def _trailing_reduced_block(shape: tuple[int, ...], axes: tuple[int, ...]) -> int:
    """The element count of the reduced axes when, size-1 dimensions dropped and neighbours of the same kind
    merged (reduce_utils ResolveAxis), they form the one last dimension after a kept one; else 0 (every
    remaining dimension reduced: measured, the sequential rule)."""
    kept = [(size, axis in axes) for axis, size in enumerate(shape) if size != 1]
    if not kept or not kept[-1][1]:
        return 0
    first_reduced = next(i for i, (_, reduced) in enumerate(kept) if reduced)
    if first_reduced == 0 or not all(reduced for _, reduced in kept[first_reduced:]):
        return 0
    return int(np.prod([size for size, _ in kept[first_reduced:]]))


def prepare_mean_float(params: Any, shape: tuple[int, ...]) -> FloatMean | None:
    """A float32 MEAN that does not reduce every axis (reduce.cc's all-axes shortcut is the reference's rule) and
    has something to reduce."""
    if params.quantized or params.reduces_all or params.reduced_count == 0 or not params.axes:
        return None
    return FloatMean(tuple(params.output_shape), tuple(params.axes), _trailing_reduced_block(shape, params.axes))


def mean_float(q: FloatMean, x: np.ndarray) -> np.ndarray:
    """The reduced axes a trailing block of L elements (dp_net's MEAN over the last axis): Eigen's
    ``in_mat.colwise().sum() / float(L)`` on the [L, rows] column-major map (``MeanLastDim/Float``): per row
    Eigen's redux (``_redux`` with addps, the row's 16-byte alignment deciding the scalar head), then
    ``f32(sum / f32(L))``. Otherwise ``MeanGeneral<float, float>``: ``ReduceImpl`` with ``CastSumOp``, per output
    from its first element (not from 0: a sum of -0 stays -0), then ``acc + x`` in memory order, then
    ``f32(sum / f32(count))``; reduced axes all of size 1: the input copied (measured: no division)."""
    x = np.asarray(x, F32)
    if x.size == 0:
        return np.zeros(q.output_shape, F32)
    if all(x.shape[axis] == 1 for axis in q.axes):  # nothing to reduce: a copy (a signalling NaN stays so)
        return x.reshape(q.output_shape).copy()
    if q.last_block:
        rows = x.reshape(-1, q.last_block)
        sums = _row_redux(rows, _sse_add, accumulator_is_dst=True)
        count = F32(q.last_block)
    else:
        kept = [axis for axis in range(x.ndim) if axis not in q.axes]
        rows = np.transpose(x, kept + list(q.axes)).reshape(-1, int(np.prod([x.shape[a] for a in q.axes])))
        sums = rows[:, 0].copy()
        for i in range(1, rows.shape[1]):
            sums = _sse_add(sums, rows[:, i])
        count = F32(rows.shape[1])
    with np.errstate(all="ignore"):
        means = x86_nan(sums, count, (sums / count).astype(F32))
    return means.reshape(q.output_shape)

"""What the emulated rules share: exact integer accumulators of the convolutions and fully connected layers, and
the optimized runtimes' requantization primitives (NumPy, vectorized).

The accumulators are exact: the sums run in float64, whose 53-bit mantissa holds every partial sum of 8-bit
products (|w - zp_w| * |x - zp_in| <= 255 * 255) for up to 2**37 terms, then wrap to int32 with the bias as the
C++ int32 accumulators do. They follow the reference kernels' definitions (refinterp/ops/conv.py,
depthwise_conv.py, fully_connected.py): taps outside the image contribute nothing.
"""

from __future__ import annotations

import numpy as np

from refinterp.quant import saturating_rounding_doubling_high_mul, wrap_int32


def _padded(x: np.ndarray, zero_point: int, window, need_h: int, need_w: int) -> np.ndarray:
    """``x - zero_point`` in float64, padded with 0 (a skipped tap) so every tap reads inside the array."""
    pad_bottom = max(0, need_h - window.pad_h - x.shape[1])
    pad_right = max(0, need_w - window.pad_w - x.shape[2])
    shifted = x.astype(np.float64) - zero_point
    return np.pad(shifted, ((0, 0), (window.pad_h, pad_bottom), (window.pad_w, pad_right), (0, 0)))


def _taps(p, x: np.ndarray, zero_point: int, filter_h: int, filter_w: int):
    """(ky, kx, the input pixels tap (ky, kx) reads for every output [N, out_h, out_w, C]) in float64."""
    win = p.window
    need_h = (win.out_h - 1) * p.stride_h + (filter_h - 1) * p.dilation_h + 1
    need_w = (win.out_w - 1) * p.stride_w + (filter_w - 1) * p.dilation_w + 1
    padded = _padded(x, zero_point, win, need_h, need_w)
    for ky in range(filter_h):
        for kx in range(filter_w):
            y0, x0 = ky * p.dilation_h, kx * p.dilation_w
            yield ky, kx, padded[:, y0:y0 + (win.out_h - 1) * p.stride_h + 1:p.stride_h,
                                 x0:x0 + (win.out_w - 1) * p.stride_w + 1:p.stride_w, :]


def conv_accumulators(p, x: np.ndarray, w: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """CONV_2D (Conv2DParams ``p``, int8 or uint8): ``int32(sum (w - zp_w) * (x - zp_in) + bias)`` per output, int64."""
    channels_out, filter_h, filter_w, channels_in_group = w.shape
    out_per_group = channels_out // p.groups
    weights = w.astype(np.float64) - p.filter_zero_point
    acc = np.zeros((x.shape[0], p.window.out_h, p.window.out_w, channels_out), np.float64)
    for ky, kx, pixels in _taps(p, x, p.input_zero_point, filter_h, filter_w):
        for g in range(p.groups):
            ins = slice(g * channels_in_group, (g + 1) * channels_in_group)
            outs = slice(g * out_per_group, (g + 1) * out_per_group)
            acc[..., outs] += pixels[..., ins] @ weights[outs, ky, kx, :].T
    return _with_bias(acc, bias)


def depthwise_accumulators(p, x: np.ndarray, w: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """DEPTHWISE_CONV_2D (DepthwiseConv2DParams ``p``, int8 or uint8): output channel ``c`` reads input channel
    ``c // depth_multiplier``; ``int32(sum (w - zp_w) * (x - zp_in) + bias)``, int64."""
    _, filter_h, filter_w, channels_out = w.shape
    weights = w.astype(np.float64) - p.filter_zero_point
    acc = np.zeros((x.shape[0], p.window.out_h, p.window.out_w, channels_out), np.float64)
    for ky, kx, pixels in _taps(p, x, p.input_zero_point, filter_h, filter_w):
        acc += np.repeat(pixels, p.depth_multiplier, axis=3) * weights[0, ky, kx, :]
    return _with_bias(acc, bias)


def fully_connected_accumulators(p, x: np.ndarray, w: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """FULLY_CONNECTED (FullyConnectedParams ``p``): ``int32(sum (w - zp_w) * (x - zp_in) + bias)``, [rows, units]."""
    rows = x.reshape(-1, p.depth).astype(np.float64) - p.input_zero_point
    acc = rows @ (w.astype(np.float64) - p.weight_zero_point).T
    return _with_bias(acc, bias)


def transpose_conv_accumulators(p, shape: tuple[int, ...], pads: tuple[int, int], w: np.ndarray, x: np.ndarray,
                                bias: np.ndarray | None) -> np.ndarray:
    """TRANSPOSE_CONV (TransposeConvParams ``p``, int8 or uint8) into an output of ``shape`` with paddings ``pads``:
    every input pixel scatters ``(x - zp_in) * (w - zp_w)`` into its output window (products outside the output
    dropped); ``int32(sum + bias)`` per output, int64. The uint8 kernel subtracts the weights' zero point, the
    int8 one does not (transpose_conv.py)."""
    _, in_h, in_w, _ = x.shape
    _, filter_h, filter_w, _ = w.shape
    out_h, out_w = shape[1], shape[2]
    values = x.astype(np.float64) - p.input_zero_point
    taps = np.transpose(w, (1, 2, 0, 3)).astype(np.float64) - (p.filter_zero_point if w.dtype == np.uint8 else 0)
    total = np.zeros(shape, np.float64)
    for iy in range(in_h):
        for ix in range(in_w):
            oy0, ox0 = iy * p.stride_h - pads[0], ix * p.stride_w - pads[1]
            ky_lo, ky_hi = max(0, -oy0), min(filter_h, out_h - oy0)
            kx_lo, kx_hi = max(0, -ox0), min(filter_w, out_w - ox0)
            if ky_lo >= ky_hi or kx_lo >= kx_hi:
                continue
            total[:, oy0 + ky_lo:oy0 + ky_hi, ox0 + kx_lo:ox0 + kx_hi, :] += np.einsum(
                "bc,yxoc->byxo", values[:, iy, ix, :], taps[ky_lo:ky_hi, kx_lo:kx_hi])
    return _with_bias(total, bias)


def _with_bias(acc: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    total = acc.astype(np.int64)  # exact: every partial sum is an integer below 2**53
    if bias is not None:
        total = total + bias.astype(np.int64).reshape(-1)
    return wrap_int32(total)  # the C++ accumulator is int32


def multiply_by_quantized_multiplier_upward(x: np.ndarray, multiplier: np.ndarray | int,
                                            shift: np.ndarray | int) -> np.ndarray:
    """The x86 optimized requantization (int8-semantics §2.5): ``SRDHM(int32(x * 2**left), M)`` then a rounding
    right shift with ties toward +infinity, ``(t + 2**(right-1)) >> right``.

    ruy's x86 kernels (kernel_avx2_fma.cc, kernel_avx512.cc: the 64-bit product plus 2**30 shifted by 31, then a
    nudge-and-shift) and ``MultiplyByQuantizedMultiplier4Rows`` (optimized_ops.h, ``vqrdmulhq`` + ``vrshlq`` via
    NEON_2_SSE) compute it; the reference rounds the final shift half away from zero instead.
    """
    shift = np.asarray(shift, dtype=np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    high = saturating_rounding_doubling_high_mul(wrap_int32(np.asarray(x, dtype=np.int64) << left), multiplier)
    nudge = np.where(right > 0, np.int64(1) << np.maximum(right - 1, 0), 0)
    return (high + nudge) >> right


def round_half_even_f32(values: np.ndarray) -> np.ndarray:
    """``cvtps2dq`` / ``lrintf`` / the magic-bias add: float32 to the nearest integer, ties to even (int64)."""
    return np.rint(np.asarray(values, dtype=np.float32)).astype(np.int64)


def fp32_requantize(acc: np.ndarray, scale: np.ndarray | np.float32, zero_point: int, qmin: int,
                    qmax: int) -> np.ndarray:
    """XNNPACK's fp32 requantization (requantization.h ``xnn_qs8_requantize_fp32``; the qs8/qu8 GEMM, IGEMM,
    DWCONV and VMUL microkernels' "fp32" variants): ``f32(acc) * scale`` in float32, clamped to
    ``[qmin - zp, qmax - zp]`` in float, rounded half to even, plus ``zp`` (int64; the caller casts)."""
    scaled = np.asarray(acc, np.int64).astype(np.float32) * np.asarray(scale, np.float32)
    clamped = np.minimum(np.maximum(scaled, np.float32(qmin - zero_point)), np.float32(qmax - zero_point))
    return round_half_even_f32(clamped) + zero_point

"""RESIZE_BILINEAR fast kernels (the rules: ``refinterp/ops/resize.py``; RESIZE_NEAREST_NEIGHBOR's spec kernel, one
NumPy gather of whole channel vectors, is its fast kernel too).

They take the spec's per-axis source indices and weights, computed once per call in NumPy, then one numba pass
over output rows in parallel whose inner loop runs over the contiguous channels.

RESIZE_BILINEAR int8 / int16 (``reference_ops::ResizeBilinearInteger``): the four products ``v * wy * wx`` of
the spec are exact integers (|v| <= 2**15, wy, wx <= 2**10), so ``v * (wy * wx)`` is the same value; their sum
is bounded by max|v| * 2**20 (the weights of each axis add up to 2**10): 2**27 for int8, whose accumulator is
therefore int32 (it vectorizes twice as wide), 2**35 for int16 (int64). Rounding half away from zero and the
C-truncating division by 2**20 are the spec's.

RESIZE_BILINEAR uint8 / float32 (``reference_ops::ResizeBilinear<T>``): float32 arithmetic with one rounding
per operation in the C++ expression's order, ``((v00*(1-dy))*(1-dx) + (v10*dy)*(1-dx)) + ...``, nothing
reassociated or fused (numba compiles without fastmath, and LLVM contracts no multiply-add without it); the
per-axis ``1 - d`` and ``d`` are the spec's float32 values.
"""

from __future__ import annotations

import numba
import numpy as np

from refinterp.errors import EvalError
from refinterp.ops.resize import ResizeParams, _float_axis, _integer_axis


@numba.njit(cache=True, parallel=True, nogil=True)
def _bilinear_integer_nb(x, y0s, y1s, wy0s, wy1s, x0s, x1s, wx0s, wx1s, acc_zero):
    """ResizeBilinearInteger; ``acc_zero`` (0 of int32 or int64) sets the accumulator type, the weights come
    in that type already."""
    batches, _, _, depth = x.shape
    out_h, out_w = y0s.size, x0s.size
    y = np.empty((batches, out_h, out_w, depth), dtype=x.dtype)
    half = acc_zero + (1 << 19)
    for row in numba.prange(batches * out_h):
        b = row // out_h
        oy = row % out_h
        iy0, iy1, wy0, wy1 = y0s[oy], y1s[oy], wy0s[oy], wy1s[oy]
        for ox in range(out_w):
            ix0, ix1 = x0s[ox], x1s[ox]
            w00 = wy0 * wx0s[ox]
            w10 = wy1 * wx0s[ox]
            w01 = wy0 * wx1s[ox]
            w11 = wy1 * wx1s[ox]
            for c in range(depth):
                acc = (x[b, iy0, ix0, c] * w00 + x[b, iy1, ix0, c] * w10
                       + x[b, iy0, ix1, c] * w01 + x[b, iy1, ix1, c] * w11)
                # (acc + (acc > 0 ? 2**19 : -2**19)) / 2**20 with C's truncating division
                if acc > 0:
                    q = (acc + half) >> 20
                else:
                    q = -((half - acc) >> 20)
                y[b, oy, ox, c] = q
    return y


@numba.njit(cache=True, parallel=True, nogil=True)
def _bilinear_float_nb(x, y0s, y1s, dys, one_minus_dys, x0s, x1s, dxs, one_minus_dxs, to_uint8):
    """ResizeBilinear<T> in float32, the C++ expression's order; uint8 adds 0.5f and truncates."""
    batches, _, _, depth = x.shape
    out_h, out_w = y0s.size, x0s.size
    y = np.empty((batches, out_h, out_w, depth), dtype=x.dtype)
    for row in numba.prange(batches * out_h):
        b = row // out_h
        oy = row % out_h
        iy0, iy1, dy, ry = y0s[oy], y1s[oy], dys[oy], one_minus_dys[oy]
        for ox in range(out_w):
            ix0, ix1, dx, rx = x0s[ox], x1s[ox], dxs[ox], one_minus_dxs[ox]
            for c in range(depth):
                total = np.float32(x[b, iy0, ix0, c]) * ry * rx
                total = total + np.float32(x[b, iy1, ix0, c]) * dy * rx
                total = total + np.float32(x[b, iy0, ix1, c]) * ry * dx
                total = total + np.float32(x[b, iy1, ix1, c]) * dy * dx
                if to_uint8:
                    total = total + np.float32(0.5)
                    y[b, oy, ox, c] = np.int64(total)  # static_cast<uint8_t>: truncates; the value is in [0, 256)
                else:
                    y[b, oy, ox, c] = total + np.float32(0.0)  # as the spec: -0.0 + 0.0f is +0.0
    return y


def resize_bilinear_fast(p: ResizeParams, x: np.ndarray, size: np.ndarray) -> np.ndarray:
    """The spec's per-axis indices and weights, then one numba pass (int32 accumulators for int8)."""
    out_h, out_w = p.size if p.size is not None else (int(size[0]), int(size[1]))
    if min(out_h, out_w) < 1:
        raise EvalError(f"RESIZE_BILINEAR output size {[out_h, out_w]} must be positive")
    in_h, in_w = x.shape[1], x.shape[2]
    x = np.ascontiguousarray(x)
    if x.dtype in (np.int8, np.int16):
        acc = np.int32 if x.dtype == np.int8 else np.int64
        rows = _integer_axis(in_h, out_h, p.align_corners, p.half_pixel_centers)
        cols = _integer_axis(in_w, out_w, p.align_corners, p.half_pixel_centers)
        y0, y1, wy0, wy1 = rows[0], rows[1], rows[2].astype(acc), rows[3].astype(acc)
        x0, x1, wx0, wx1 = cols[0], cols[1], cols[2].astype(acc), cols[3].astype(acc)
        return _bilinear_integer_nb(x, y0, y1, wy0, wy1, x0, x1, wx0, wx1, acc(0))
    y0, y1, dy = _float_axis(in_h, out_h, p.align_corners, p.half_pixel_centers)
    x0, x1, dx = _float_axis(in_w, out_w, p.align_corners, p.half_pixel_centers)
    one = np.float32(1.0)
    return _bilinear_float_nb(x, y0, y1, dy, (one - dy).astype(np.float32), x0, x1, dx,
                              (one - dx).astype(np.float32), x.dtype == np.uint8)

"""MAX_POOL_2D, AVERAGE_POOL_2D and L2_POOL_2D fast kernels (the rules: ``refinterp/ops/pooling.py``).

numba, output rows in parallel, each window clipped to the image as the reference clips it. AVERAGE_POOL_2D
int8/uint8 sums in int32 and divides with the spec's rounding (half away from zero, C truncation); float32 adds
in the spec's order (fy, fx) and divides by the count in float32.
"""

from __future__ import annotations

import numba
import numpy as np

from refinterp.ops.common import type_highest, type_lowest
from refinterp.ops.pooling import Pool2DParams


@numba.njit(cache=True, parallel=True, nogil=True)
def _max_pool2d_nb(x, filter_h, filter_w, stride_h, stride_w, pad_h, pad_w, out_h, out_w, lowest, act_min,
                   act_max):
    batches, in_h, in_w, depth = x.shape
    y = np.empty((batches, out_h, out_w, depth), dtype=x.dtype)
    for row in numba.prange(batches * out_h):
        b = row // out_h
        oy = row % out_h
        y0 = oy * stride_h - pad_h
        fy0, fy1 = max(0, -y0), min(filter_h, in_h - y0)
        best = np.empty(depth, dtype=x.dtype)
        for ox in range(out_w):
            x0 = ox * stride_w - pad_w
            fx0, fx1 = max(0, -x0), min(filter_w, in_w - x0)
            best[:] = lowest
            for fy in range(fy0, fy1):
                for fx in range(fx0, fx1):
                    for c in range(depth):
                        # std::max(best, v): v only if v > best (ties and NaN keep best). A select and an
                        # unconditional store, so that LLVM vectorizes over the channels without the masked
                        # stores that only AVX-512 has (the conditional store ran 5x slower on AVX2).
                        v = x[b, y0 + fy, x0 + fx, c]
                        kept = best[c]
                        best[c] = v if v > kept else kept
            for c in range(depth):
                y[b, oy, ox, c] = min(max(best[c], act_min), act_max)
    return y


def max_pool2d_fast(p: Pool2DParams, x: np.ndarray) -> np.ndarray:
    win = p.window
    cast = x.dtype.type
    return _max_pool2d_nb(x, p.filter_h, p.filter_w, p.stride_h, p.stride_w, win.pad_h, win.pad_w, win.out_h,
                          win.out_w, cast(type_lowest(p.dtype)), cast(max(p.act_min, type_lowest(p.dtype))),
                          cast(min(p.act_max, type_highest(p.dtype))))


@numba.njit(cache=True, parallel=True, nogil=True)
def _average_pool2d_int_nb(x, filter_h, filter_w, stride_h, stride_w, pad_h, pad_w, out_h, out_w, act_min,
                           act_max):
    batches, in_h, in_w, depth = x.shape
    y = np.empty((batches, out_h, out_w, depth), dtype=x.dtype)
    for row in numba.prange(batches * out_h):
        b = row // out_h
        oy = row % out_h
        y0 = oy * stride_h - pad_h
        fy0, fy1 = max(0, -y0), min(filter_h, in_h - y0)
        total = np.empty(depth, dtype=np.int32)
        for ox in range(out_w):
            x0 = ox * stride_w - pad_w
            fx0, fx1 = max(0, -x0), min(filter_w, in_w - x0)
            count = (fy1 - fy0) * (fx1 - fx0)
            total[:] = 0
            for fy in range(fy0, fy1):
                for fx in range(fx0, fx1):
                    for c in range(depth):
                        total[c] += x[b, y0 + fy, x0 + fx, c]
            for c in range(depth):
                s = np.int64(total[c])
                if s > 0:
                    v = (s + count // 2) // count
                else:
                    v = -((-(s - count // 2)) // count)  # truncating division of a value <= 0
                y[b, oy, ox, c] = min(max(v, act_min), act_max)
    return y


@numba.njit(cache=True, parallel=True, nogil=True)
def _average_pool2d_float_nb(x, filter_h, filter_w, stride_h, stride_w, pad_h, pad_w, out_h, out_w, act_min,
                             act_max):
    batches, in_h, in_w, depth = x.shape
    y = np.empty((batches, out_h, out_w, depth), dtype=np.float32)
    for row in numba.prange(batches * out_h):
        b = row // out_h
        oy = row % out_h
        y0 = oy * stride_h - pad_h
        fy0, fy1 = max(0, -y0), min(filter_h, in_h - y0)
        total = np.empty(depth, dtype=np.float32)
        for ox in range(out_w):
            x0 = ox * stride_w - pad_w
            fx0, fx1 = max(0, -x0), min(filter_w, in_w - x0)
            count = np.float32((fy1 - fy0) * (fx1 - fx0))
            total[:] = 0.0
            for fy in range(fy0, fy1):
                for fx in range(fx0, fx1):
                    for c in range(depth):
                        total[c] += x[b, y0 + fy, x0 + fx, c]
            for c in range(depth):
                y[b, oy, ox, c] = min(max(total[c] / count, act_min), act_max)
    return y


def average_pool2d_fast(p: Pool2DParams, x: np.ndarray) -> np.ndarray:
    win = p.window
    args = (p.filter_h, p.filter_w, p.stride_h, p.stride_w, win.pad_h, win.pad_w, win.out_h, win.out_w)
    if p.dtype == np.float32:
        return _average_pool2d_float_nb(np.ascontiguousarray(x), *args, np.float32(p.act_min),
                                        np.float32(p.act_max))
    return _average_pool2d_int_nb(np.ascontiguousarray(x), *args, int(p.act_min), int(p.act_max))


@numba.njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def _l2_pool2d_nb(x, filter_h, filter_w, stride_h, stride_w, pad_h, pad_w, out_h, out_w, act_min, act_max):
    batches, in_h, in_w, depth = x.shape
    y = np.empty((batches, out_h, out_w, depth), dtype=np.float32)
    for row in numba.prange(batches * out_h):
        b = row // out_h
        oy = row % out_h
        y0 = oy * stride_h - pad_h
        fy0, fy1 = max(0, -y0), min(filter_h, in_h - y0)
        total = np.empty(depth, dtype=np.float32)
        for ox in range(out_w):
            x0 = ox * stride_w - pad_w
            fx0, fx1 = max(0, -x0), min(filter_w, in_w - x0)
            count = np.float32((fy1 - fy0) * (fx1 - fx0))
            total[:] = 0.0
            for fy in range(fy0, fy1):
                for fx in range(fx0, fx1):
                    for c in range(depth):
                        v = x[b, y0 + fy, x0 + fx, c]
                        total[c] += v * v
            for c in range(depth):
                r = np.float32(np.sqrt(total[c] / count))
                if r < act_min:
                    r = act_min
                if act_max < r:
                    r = act_max
                y[b, oy, ox, c] = r
    return y


def l2_pool2d_fast(p: Pool2DParams, x: np.ndarray) -> np.ndarray:
    win = p.window
    return _l2_pool2d_nb(np.ascontiguousarray(x), p.filter_h, p.filter_w, p.stride_h, p.stride_w, win.pad_h,
                         win.pad_w, win.out_h, win.out_w, np.float32(p.act_min), np.float32(p.act_max))

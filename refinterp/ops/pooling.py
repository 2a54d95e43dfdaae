"""MAX_POOL_2D (int8, uint8, float32); the pooling family.

MAX_POOL_2D rule (``reference_integer_ops::MaxPool`` / ``reference_ops::MaxPool``): the window of output
(oy, ox) starts at ``oy*stride_h - pad_h`` and is clipped to the image; the output is the maximum of the
in-image values (no requantization: input and output share scale and zero point), clamped to the fused
activation range computed from the output's quantization.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from refinterp.ops.common import OpContext, Window2D, per_tensor_qparams, window_2d
from refinterp.quant import DTYPE_RANGES, FLOAT32_LOWEST, FLOAT32_MAX, activation_range, activation_range_float


@dataclass(frozen=True)
class Pool2DParams:
    filter_h: int
    filter_w: int
    stride_h: int
    stride_w: int
    window: Window2D
    act_min: float
    act_max: float
    dtype: np.dtype


def prepare_pool2d(ctx: OpContext) -> Pool2DParams:
    ctx.check_inputs(1, 1)
    x, y = ctx.require_input(0), ctx.output(0)
    ctx.check_dtype(x, ("int8", "uint8", "float32"), "input")
    ctx.check_same_type(x, y)
    shape = ctx.shape(x)
    if len(shape) != 4:
        raise ctx.fail(f"input must be 4-D, got {list(shape)}")
    o = ctx.options
    filter_h, filter_w = int(o.get("filter_height", 1)), int(o.get("filter_width", 1))
    stride_h, stride_w = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    window = window_2d(ctx, shape[1], shape[2], filter_h, filter_w, stride_h, stride_w, pooling=True)
    activation = int(o.get("fused_activation_function", 0))
    if x.type_name == "float32":
        act_min, act_max = activation_range_float(activation)
    else:
        scale, zero_point = per_tensor_qparams(ctx, y, "output")
        act_min, act_max = activation_range(activation, scale, zero_point, x.dtype)
    return Pool2DParams(filter_h, filter_w, stride_h, stride_w, window, act_min, act_max, x.dtype)


def _lowest(dtype: np.dtype) -> float:
    """The running maximum's start: numeric_limits<T>::lowest() (-FLT_MAX for float, not -inf)."""
    return FLOAT32_LOWEST if dtype == np.float32 else DTYPE_RANGES[dtype][0]


def max_pool2d_spec(p: Pool2DParams, x: np.ndarray) -> np.ndarray:
    win = p.window
    if win.out_h == 0 or win.out_w == 0:
        return np.zeros((x.shape[0], win.out_h, win.out_w, x.shape[3]), dtype=x.dtype)
    # Padding with the type's lowest value is the same as clipping the window to the image.
    pad_bottom = max(0, (win.out_h - 1) * p.stride_h + p.filter_h - win.pad_h - x.shape[1])
    pad_right = max(0, (win.out_w - 1) * p.stride_w + p.filter_w - win.pad_w - x.shape[2])
    padded = np.pad(x, ((0, 0), (win.pad_h, pad_bottom), (win.pad_w, pad_right), (0, 0)),
                    constant_values=_lowest(p.dtype))
    out = np.full((x.shape[0], win.out_h, win.out_w, x.shape[3]), _lowest(p.dtype), dtype=x.dtype)
    for ky in range(p.filter_h):
        for kx in range(p.filter_w):
            tap = padded[:, ky:ky + (win.out_h - 1) * p.stride_h + 1:p.stride_h,
                         kx:kx + (win.out_w - 1) * p.stride_w + 1:p.stride_w, :]
            # std::max(max, value) keeps the running maximum on ties (+0.0 before -0.0) and ignores NaN
            out = np.where(tap > out, tap, out)
    return np.clip(out, p.act_min, p.act_max).astype(x.dtype)


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
                        v = x[b, y0 + fy, x0 + fx, c]
                        if v > best[c]:
                            best[c] = v
            for c in range(depth):
                y[b, oy, ox, c] = min(max(best[c], act_min), act_max)
    return y


def max_pool2d_fast(p: Pool2DParams, x: np.ndarray) -> np.ndarray:
    win = p.window
    cast = x.dtype.type
    return _max_pool2d_nb(x, p.filter_h, p.filter_w, p.stride_h, p.stride_w, win.pad_h, win.pad_w, win.out_h,
                          win.out_w, cast(_lowest(p.dtype)), cast(max(p.act_min, _lowest(p.dtype))),
                          cast(min(p.act_max, FLOAT32_MAX if p.dtype == np.float32 else DTYPE_RANGES[p.dtype][1])))


# ------------------------------------------------------------------------------------------------
# AVERAGE_POOL_2D
#
# int8/uint8 rule (``reference_integer_ops::AveragePool`` / ``reference_ops::AveragePool``, LiteRT and TFLM):
# the window of output (oy, ox) is clipped to the image exactly as for MAX_POOL_2D; padding cells are not
# counted. ``sum`` adds the raw stored values (no zero point removed: input and output share scale and zero
# point), ``count`` is the number of in-image cells, and
#
#     avg = (sum + count/2) / count  if sum > 0  else  (sum - count/2) / count      (C truncating division)
#
# i.e. the average rounded half away from zero, then clamped to the fused activation range.
# float32 rule (``reference_ops::AveragePool``): ``total`` starts at 0.0f and adds the in-image values in the
# order fy, fx; the output is ``clamp(total / (float)count)``.


def _clipped_window_sum(p: Pool2DParams, x: np.ndarray, accumulate_dtype: type) -> tuple[np.ndarray, np.ndarray]:
    """(sum, count) over each output's window clipped to the image, taps added in the order fy, fx."""
    win = p.window
    pad_bottom = max(0, (win.out_h - 1) * p.stride_h + p.filter_h - win.pad_h - x.shape[1])
    pad_right = max(0, (win.out_w - 1) * p.stride_w + p.filter_w - win.pad_w - x.shape[2])
    pads = ((0, 0), (win.pad_h, pad_bottom), (win.pad_w, pad_right), (0, 0))
    padded = np.pad(x.astype(accumulate_dtype), pads)  # padding cells add 0 (+0.0: the sum is never -0.0)
    inside = np.pad(np.ones((1,) + x.shape[1:3] + (1,), dtype=np.int64), pads)
    total = np.zeros((x.shape[0], win.out_h, win.out_w, x.shape[3]), dtype=accumulate_dtype)
    count = np.zeros((1, win.out_h, win.out_w, 1), dtype=np.int64)
    for ky in range(p.filter_h):
        for kx in range(p.filter_w):
            rows = slice(ky, ky + (win.out_h - 1) * p.stride_h + 1, p.stride_h)
            cols = slice(kx, kx + (win.out_w - 1) * p.stride_w + 1, p.stride_w)
            total += padded[:, rows, cols, :]
            count += inside[:, rows, cols, :]
    return total, count


def average_pool2d_spec(p: Pool2DParams, x: np.ndarray) -> np.ndarray:
    total, count = _clipped_window_sum(p, x, np.float32 if p.dtype == np.float32 else np.int64)
    if p.dtype == np.float32:
        average = total / count.astype(np.float32)
        return np.minimum(np.maximum(average, np.float32(p.act_min)), np.float32(p.act_max)).astype(np.float32)
    half = count // 2
    numerator = np.where(total > 0, total + half, total - half)
    # C division truncates toward zero; NumPy's // floors
    average = np.sign(numerator) * (np.abs(numerator) // count)
    return np.clip(average, p.act_min, p.act_max).astype(x.dtype)


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

"""MAX_POOL_2D, AVERAGE_POOL_2D (int8, uint8, int16, float32) and L2_POOL_2D (float32): the pooling family.

int16 (int16x8) follows the same integer rules as int8 (``reference_integer_ops::MaxPool16`` /
``AveragePool16``: the int16 values summed in int32). Neither runtime checks the zero points (measured: a
nonzero one runs, moving only the fused activation's clamp).

MAX_POOL_2D rule (``reference_integer_ops::MaxPool`` / ``reference_ops::MaxPool``): the window of output
(oy, ox) starts at ``oy*stride_h - pad_h`` and is clipped to the image; the output is the maximum of the
in-image values (no requantization: input and output share scale and zero point), clamped to the fused
activation range computed from the output's quantization.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from refinterp.ops.common import OpContext, Window2D, per_tensor_qparams, type_lowest, window_2d
from refinterp.quant import activation_range, activation_range_float


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
    ctx.check_dtype(x, ("float32",) if ctx.op.name == "L2_POOL_2D" else ("int8", "uint8", "int16", "float32"),
                    "input")
    ctx.check_same_type(x, y)
    shape = ctx.shape(x)
    if len(shape) != 4:
        raise ctx.fail(f"input must be 4-D, got {list(shape)}")
    o = ctx.options
    filter_h, filter_w = int(o.get("filter_height", 1)), int(o.get("filter_width", 1))
    stride_h, stride_w = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    window = window_2d(ctx, shape[1], shape[2], filter_h, filter_w, stride_h, stride_w, pooling=True)
    ctx.set_output_shape(0, (shape[0], window.out_h, window.out_w, shape[3]))  # pooling.cc ResizeTensor
    activation = int(o.get("fused_activation_function", 0))
    if x.type_name == "float32":
        act_min, act_max = activation_range_float(activation)
    else:
        scale, zero_point = per_tensor_qparams(ctx, y, "output")
        act_min, act_max = activation_range(activation, scale, zero_point, x.dtype)
    return Pool2DParams(filter_h, filter_w, stride_h, stride_w, window, act_min, act_max, x.dtype)


def max_pool2d_spec(p: Pool2DParams, x: np.ndarray) -> np.ndarray:
    win = p.window
    if win.out_h == 0 or win.out_w == 0:
        return np.zeros((x.shape[0], win.out_h, win.out_w, x.shape[3]), dtype=x.dtype)
    # Padding with the type's lowest value (where the running maximum starts) is the same as clipping the
    # window to the image.
    pad_bottom = max(0, (win.out_h - 1) * p.stride_h + p.filter_h - win.pad_h - x.shape[1])
    pad_right = max(0, (win.out_w - 1) * p.stride_w + p.filter_w - win.pad_w - x.shape[2])
    padded = np.pad(x, ((0, 0), (win.pad_h, pad_bottom), (win.pad_w, pad_right), (0, 0)),
                    constant_values=type_lowest(p.dtype))
    out = np.full((x.shape[0], win.out_h, win.out_w, x.shape[3]), type_lowest(p.dtype), dtype=x.dtype)
    for ky in range(p.filter_h):
        for kx in range(p.filter_w):
            tap = padded[:, ky:ky + (win.out_h - 1) * p.stride_h + 1:p.stride_h,
                         kx:kx + (win.out_w - 1) * p.stride_w + 1:p.stride_w, :]
            # std::max(max, value) keeps the running maximum on ties (+0.0 before -0.0) and ignores NaN
            out = np.where(tap > out, tap, out)
    return np.clip(out, p.act_min, p.act_max).astype(x.dtype)


# ------------------------------------------------------------------------------------------------
# AVERAGE_POOL_2D
#
# int8/uint8/int16 rule (``reference_integer_ops::AveragePool`` / ``reference_ops::AveragePool``, LiteRT and TFLM):
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
    total = np.zeros((x.shape[0], win.out_h, win.out_w, x.shape[3]), dtype=accumulate_dtype)
    count = np.zeros((1, win.out_h, win.out_w, 1), dtype=np.int64)
    if win.out_h == 0 or win.out_w == 0:
        # an empty output (pooling.cc runs a window larger than the input into one): the slices below would
        # wrap around with out_h - 1 < 0
        return total, count
    pad_bottom = max(0, (win.out_h - 1) * p.stride_h + p.filter_h - win.pad_h - x.shape[1])
    pad_right = max(0, (win.out_w - 1) * p.stride_w + p.filter_w - win.pad_w - x.shape[2])
    pads = ((0, 0), (win.pad_h, pad_bottom), (win.pad_w, pad_right), (0, 0))
    padded = np.pad(x.astype(accumulate_dtype), pads)  # padding cells add 0 (+0.0: the sum is never -0.0)
    inside = np.pad(np.ones((1,) + x.shape[1:3] + (1,), dtype=np.int64), pads)
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


# ------------------------------------------------------------------------------------------------
# L2_POOL_2D (float32; ``reference_ops::L2Pool``): the window clipped to the image as above;
# ``sum_squares`` starts at 0.0f and adds ``v * v`` in the order fy, fx; ``count`` is the number of in-image
# cells; the output is ``clamp(sqrtf(sum_squares / (float)count))``.


def l2_pool2d_spec(p: Pool2DParams, x: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        squares = (x * x).astype(np.float32)
        total, count = _clipped_window_sum(p, squares, np.float32)
        result = np.sqrt(total / count.astype(np.float32)).astype(np.float32)
    lo, hi = np.float32(p.act_min), np.float32(p.act_max)
    result = np.where(result < lo, lo, result)  # std::min(std::max(v, lo), hi): NaN passes
    return np.where(hi < result, hi, result).astype(np.float32)


# ------------------------------------------------------------------------------------------------
# explain: one output element, step by step (``refinterp explain``; refinterp/ops/trace.py)


def pool_window(p: Pool2DParams, in_h: int, in_w: int, oy: int, ox: int) -> tuple[list[tuple[int, int]], int]:
    """The in-image cells (iy, ix) of output (oy, ox)'s window in the order fy, fx, and how many are outside."""
    cells, outside = [], 0
    for fy in range(p.filter_h):
        for fx in range(p.filter_w):
            iy, ix = oy * p.stride_h - p.window.pad_h + fy, ox * p.stride_w - p.window.pad_w + fx
            if 0 <= iy < in_h and 0 <= ix < in_w:
                cells.append((iy, ix))
            else:
                outside += 1
    return cells, outside


def _pool_start(trace, p: Pool2DParams, x: np.ndarray, index: tuple[int, ...]):
    b, oy, ox, c = (int(v) for v in index)
    cells, outside = pool_window(p, x.shape[1], x.shape[2], oy, ox)
    values = [x[b, iy, ix, c] for iy, ix in cells]
    trace.add("window", [v.item() for v in values],
              f"output row {oy}, column {ox}, channel {c}: the {p.filter_h}x{p.filter_w} window at input row "
              f"{oy * p.stride_h - p.window.pad_h}, column {ox * p.stride_w - p.window.pad_w} (stride "
              f"{p.stride_h}x{p.stride_w}, padding {p.window.pad_h}x{p.window.pad_w})"
              + (f"; {outside} cells outside the image are not read" if outside else ""),
              items=[{"iy": iy, "ix": ix, "q": v.item()} for (iy, ix), v in zip(cells, values)])
    return values


def explain_max_pool2d(ctx: OpContext, p: Pool2DParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """MAX_POOL_2D output ``index`` = (b, oy, ox, c): the maximum of the in-image window, clamped."""
    values = _pool_start(trace, p, inputs[0], index)
    best = type_lowest(p.dtype)
    for v in values:
        best = v if v > best else best  # std::max keeps the running maximum on ties, ignores NaN
    best = trace.add("maximum", best.item() if hasattr(best, "item") else best,
                     "the largest stored value: the same scale and zero point in and out, so no arithmetic")
    value = trace.clamp(best, p.act_min, p.act_max, "the fused activation")
    y = ctx.output(0)
    if p.dtype == np.float32:
        trace.approximates(float(max(values)) if values else float(type_lowest(p.dtype)))
        return np.float32(value)
    scale, zero_point = per_tensor_qparams(ctx, y, "output")
    if values:
        trace.approximates(scale * (int(max(values)) - zero_point), scale, zero_point, (p.act_min, p.act_max))
    return int(value)


def explain_average_pool2d(ctx: OpContext, p: Pool2DParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """AVERAGE_POOL_2D output ``index`` = (b, oy, ox, c): the integer rule (sum of the in-image cells, rounded
    division by their count, half away from zero) or the float32 one."""
    values = _pool_start(trace, p, inputs[0], index)
    count = trace.add("count", len(values), "cells inside the image (padding is not counted)")
    if p.dtype == np.float32:
        total = np.float32(0.0)
        for v in values:
            total = np.float32(total + v)
        trace.add("sum", float(total), "added in float32 in the order fy, fx")
        average = trace.add("average", float(np.float32(total / np.float32(count))), "sum / count in float32")
        value = np.float32(trace.clamp(average, p.act_min, p.act_max, "the fused activation"))
        trace.approximates(float(np.mean(np.asarray(values, np.float64))) if values else 0.0)
        return value
    total = trace.add("sum", int(sum(int(v) for v in values)), "the stored values added (no zero point removed: "
                      "input and output share scale and zero point)")
    half = count // 2
    numerator = trace.add("plus or minus half the count", total + half if total > 0 else total - half,
                          f"{total} {'+' if total > 0 else '-'} {half}: to round half away from zero")
    average = abs(numerator) // count * (1 if numerator >= 0 else -1)
    trace.add("divided by the count", average, f"{numerator} / {count} = {numerator / count:.6g}, C division "
              "(truncates toward zero)", rule="round to nearest, ties away from zero (both steps together)")
    value = int(trace.clamp(average, p.act_min, p.act_max, "the fused activation"))
    scale, zero_point = per_tensor_qparams(ctx, ctx.output(0), "output")
    trace.approximates(scale * (total / count - zero_point), scale, zero_point, (p.act_min, p.act_max))
    return value


def explain_l2_pool2d(ctx: OpContext, p: Pool2DParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """L2_POOL_2D output ``index`` = (b, oy, ox, c) (float32, ``reference_ops::L2Pool``): each in-image cell squared
    in float32, the squares added from 0.0f in the order fy, fx, divided by their count, the float32 square root,
    clamped (a NaN passes the clamp)."""
    values = _pool_start(trace, p, inputs[0], index)
    count = trace.add("count", len(values), "cells inside the image (padding is not counted)")
    with np.errstate(all="ignore"):
        squares = [np.float32(v * v) for v in values]
        trace.add("squares", [float(s) for s in squares], "v * v in float32, each rounded",
                  rule="round to nearest, ties to even")
        total = np.float32(0.0)
        for s in squares:
            total = np.float32(total + s)
        trace.add("sum of squares", float(total), "from 0.0f, added in float32 in the order fy, fx",
                  rule="round to nearest, ties to even")
        mean = np.float32(total / np.float32(count))
        trace.add("mean square", float(mean), f"{float(total)!r} / {count} in float32",
                  rule="round to nearest, ties to even")
        root = np.float32(np.sqrt(mean))
    trace.add("square root", float(root), "sqrtf (IEEE: correctly rounded)", rule="round to nearest, ties to even")
    lo, hi = np.float32(p.act_min), np.float32(p.act_max)
    value = lo if root < lo else root  # std::min(std::max(v, lo), hi): a NaN passes
    value = hi if hi < value else value
    trace.add("clamp", float(value), f"to [{float(lo)}, {float(hi)}] (the fused activation; a NaN passes)")
    if values:
        with np.errstate(all="ignore"):
            exact = math.sqrt(math.fsum(float(v) * float(v) for v in values) / len(values)) \
                if all(math.isfinite(float(v)) for v in values) else None
        if exact is not None and math.isfinite(exact):
            trace.approximates(exact)
    return np.float32(value)

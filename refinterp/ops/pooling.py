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

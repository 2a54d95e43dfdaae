"""RESIZE_NEAREST_NEIGHBOR (int8, uint8, int16, float32). Values are copied, not rescaled.

Source index of output coordinate ``o`` (``reference_ops::ResizeNearestNeighbor``), float math in float32::

    scale = f32((in - 1) / f32(out - 1))  if align_corners and out > 1  else  f32(in / f32(out))
    v     = f32(f32(o + (0.5 if half_pixel_centers else 0)) * scale)
    idx   = min(round_half_away(v) if align_corners else floor(v), in - 1)
    idx   = max(idx, 0)  if half_pixel_centers
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from refinterp.ops.common import OpContext
from refinterp.quant import round_half_away_f32


@dataclass(frozen=True)
class ResizeParams:
    align_corners: bool
    half_pixel_centers: bool
    size: tuple[int, int] | None  # None: from a non-constant size input at eval


def prepare_resize_nearest(ctx: OpContext) -> ResizeParams:
    ctx.check_inputs(2, 2)
    x, size = ctx.require_input(0), ctx.require_input(1)
    ctx.check_dtype(x, ("int8", "uint8", "int16", "float32"), "input")
    if len(ctx.shape(x)) != 4:
        raise ctx.fail(f"input must be 4-D, got {list(ctx.shape(x))}")
    if size.type_name != "int32" or ctx.shape(size) != (2,):
        raise ctx.fail("size must be an int32 tensor of 2 elements")
    o = ctx.options
    fixed = None
    if size.is_constant:
        fixed = (int(size.data[0]), int(size.data[1]))
        if min(fixed) < 1:
            raise ctx.fail(f"output size {list(fixed)} must be positive")
    return ResizeParams(bool(o.get("align_corners", False)), bool(o.get("half_pixel_centers", False)), fixed)


def nearest_source_index(in_size: int, out_size: int, align_corners: bool, half_pixel_centers: bool) -> np.ndarray:
    """GetNearestNeighbor for every output coordinate at once."""
    if align_corners and out_size > 1:
        scale = np.float32(in_size - 1) / np.float32(out_size - 1)
    else:
        scale = np.float32(in_size) / np.float32(out_size)
    offset = np.float32(0.5 if half_pixel_centers else 0.0)
    value = (np.arange(out_size, dtype=np.float32) + offset) * scale
    index = round_half_away_f32(value) if align_corners else np.floor(value)
    index = np.minimum(index.astype(np.int64), in_size - 1)
    if half_pixel_centers:
        index = np.maximum(index, 0)
    return index


def resize_nearest_spec(p: ResizeParams, x: np.ndarray, size: np.ndarray) -> np.ndarray:
    out_h, out_w = p.size if p.size is not None else (int(size[0]), int(size[1]))
    rows = nearest_source_index(x.shape[1], out_h, p.align_corners, p.half_pixel_centers)
    cols = nearest_source_index(x.shape[2], out_w, p.align_corners, p.half_pixel_centers)
    return np.ascontiguousarray(x[:, rows][:, :, cols])

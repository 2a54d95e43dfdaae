"""RESIZE_NEAREST_NEIGHBOR fast kernel (the rule: ``refinterp/ops/resize.py``).

The spec's source indices (``nearest_source_index``), then one numba pass that copies whole channel vectors.
RESIZE_BILINEAR has no fast kernel.
"""

from __future__ import annotations

import numba
import numpy as np

from refinterp.ops.resize import ResizeParams, nearest_source_index


@numba.njit(cache=True, parallel=True, nogil=True)
def _gather_rows_cols_nb(x, rows, cols):
    batches, _, _, depth = x.shape
    y = np.empty((batches, rows.size, cols.size, depth), dtype=x.dtype)
    for row in numba.prange(batches * rows.size):
        b = row // rows.size
        oy = row % rows.size
        for ox in range(cols.size):
            y[b, oy, ox, :] = x[b, rows[oy], cols[ox], :]
    return y


def resize_nearest_fast(p: ResizeParams, x: np.ndarray, size: np.ndarray) -> np.ndarray:
    """The spec's source indices, then one numba pass that copies whole channel vectors."""
    out_h, out_w = p.size if p.size is not None else (int(size[0]), int(size[1]))
    rows = nearest_source_index(x.shape[1], out_h, p.align_corners, p.half_pixel_centers)
    cols = nearest_source_index(x.shape[2], out_w, p.align_corners, p.half_pixel_centers)
    return _gather_rows_cols_nb(np.ascontiguousarray(x), rows, cols)

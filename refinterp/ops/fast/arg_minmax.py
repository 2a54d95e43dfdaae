"""ARG_MAX / ARG_MIN fast kernel (the rule: ``refinterp/ops/arg_minmax.py``).

numba, one pass over the axis for every (outer, inner) position, outer positions in parallel, with the
reference's strict comparison (ties as the spec describes; NaN inputs are refused there).
"""

from __future__ import annotations

import numba
import numpy as np

from refinterp.ops.arg_minmax import ArgMinMaxParams, check_no_nan, resolve_axis


@numba.njit(cache=True, parallel=True, nogil=True)
def _arg_min_max_nb(x3, is_arg_max, out2):
    outer, axis_size, inner = x3.shape
    for o in numba.prange(outer):
        for i in range(inner):
            best = x3[o, 0, i]
            index = 0
            for a in range(1, axis_size):
                value = x3[o, a, i]
                if (is_arg_max and value > best) or (not is_arg_max and value < best):
                    best = value
                    index = a
            out2[o, i] = index


def arg_min_max_fast(p: ArgMinMaxParams, x: np.ndarray, axis: np.ndarray) -> np.ndarray:
    a = resolve_axis(p, x, axis)
    check_no_nan(p, x)
    outer = int(np.prod(x.shape[:a], dtype=np.int64))
    inner = int(np.prod(x.shape[a + 1:], dtype=np.int64))
    out = np.empty(x.shape[:a] + x.shape[a + 1:], p.output_dtype)
    if out.size:
        _arg_min_max_nb(np.ascontiguousarray(x).reshape(outer, x.shape[a], inner), p.is_arg_max,
                        out.reshape(outer, inner))
    return out

"""MEAN and REDUCE_MAX fast kernels (the rules: ``refinterp/ops/reduce.py``).

numba over the spec's ``[outputs, N]`` view (``reduction_rows``: each row holds one output's reduced elements
in the input's row-major order), one output per iteration, in parallel.
"""

from __future__ import annotations

import numba
import numpy as np

from refinterp.ops.common import type_lowest
from refinterp.ops.reduce import ReduceParams, mean_spec, reduce_max_spec, reduction_rows
from refinterp.quant import mbqm_nb


@numba.njit(cache=True, parallel=True, nogil=True)
def _mean_int_nb(rows, input_zero_point, multiplier, shift, output_zero_point, qmin, qmax, out):
    outputs, count = rows.shape
    for r in numba.prange(outputs):
        total = np.int64(0)
        for i in range(count):
            total += rows[r, i]
        shifted = total - np.int64(input_zero_point) * count
        shifted = ((shifted + 2147483648) & 0xFFFFFFFF) - 2147483648
        v = mbqm_nb(shifted, multiplier, shift) + output_zero_point
        out[r] = min(max(v, qmin), qmax)


@numba.njit(cache=True, parallel=True, nogil=True)
def _mean_float_nb(rows, out):
    outputs, count = rows.shape
    for r in numba.prange(outputs):
        total = np.float32(0.0)
        for i in range(count):
            total += rows[r, i]
        out[r] = total / np.float32(count)


@numba.njit(cache=True, parallel=True, nogil=True)
def _max_nb(rows, lowest, out):
    outputs, count = rows.shape
    for r in numba.prange(outputs):
        current = lowest
        for i in range(count):
            v = rows[r, i]
            if v > current:
                current = v
        out[r] = current


def mean_fast(p: ReduceParams, x: np.ndarray, axis: np.ndarray | None = None) -> np.ndarray:
    if x.size == 0:
        return mean_spec(p, x)
    rows = reduction_rows(p, x)
    out = np.empty(rows.shape[0], dtype=x.dtype)
    if p.quantized:
        _mean_int_nb(rows, p.input_zero_point, p.output_multiplier, p.output_shift, p.output_zero_point, p.qmin,
                     p.qmax, out)
    else:
        _mean_float_nb(rows, out)
    return out.reshape(p.output_shape)


def reduce_max_fast(p: ReduceParams, x: np.ndarray, axis: np.ndarray | None = None) -> np.ndarray:
    if x.size == 0:
        return reduce_max_spec(p, x)
    rows = reduction_rows(p, x)
    out = np.empty(rows.shape[0], dtype=x.dtype)
    _max_nb(rows, x.dtype.type(type_lowest(x.dtype)), out)
    return out.reshape(p.output_shape)

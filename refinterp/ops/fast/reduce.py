"""MEAN, SUM, REDUCE_MAX, REDUCE_MIN, REDUCE_PROD and CUMSUM fast kernels (the rules: ``refinterp/ops/reduce.py``).

numba over the spec's ``[outputs, N]`` view (``reduction_rows``: each row holds one output's reduced elements
in the input's row-major order), one output per iteration, in parallel.
"""

from __future__ import annotations

import numba
import numpy as np

from refinterp.ops.reduce import (
    CumsumParams,
    ReduceParams,
    cumsum_spec,
    mean_spec,
    reduce_max_spec,
    reduce_min_spec,
    reduce_prod_spec,
    reduction_rows,
    sum_spec,
    type_highest,
    type_lowest,
)
from refinterp.quant import mbqm64_nb, mbqm_nb, wrap_int32_nb


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
    if x.size == 0 or p.reduces_all:  # ReduceAllDims: one output, the spec's pass
        return reduce_max_spec(p, x)
    rows = reduction_rows(p, x)
    out = np.empty(rows.shape[0], dtype=x.dtype)
    _max_nb(rows, x.dtype.type(type_lowest(x.dtype)), out)
    return out.reshape(p.output_shape)


@numba.njit(cache=True, parallel=True, nogil=True)
def _min_nb(rows, highest, out):
    outputs, count = rows.shape
    for r in numba.prange(outputs):
        current = highest
        for i in range(count):
            v = rows[r, i]
            if v < current:
                current = v
        out[r] = current


def reduce_min_fast(p: ReduceParams, x: np.ndarray, axis: np.ndarray | None = None) -> np.ndarray:
    if x.size == 0 or p.reduces_all:  # ReduceAllDims: one output, the spec's pass
        return reduce_min_spec(p, x)
    rows = reduction_rows(p, x)
    out = np.empty(rows.shape[0], dtype=x.dtype)
    _min_nb(rows, x.dtype.type(type_highest(x.dtype)), out)
    return out.reshape(p.output_shape)


@numba.njit(cache=True, parallel=True, nogil=True)
def _sum_nb(rows, out):
    outputs, count = rows.shape
    for r in numba.prange(outputs):
        total = out.dtype.type(0)
        for i in range(count):
            total += rows[r, i]
        out[r] = total


def sum_fast(p: ReduceParams, x: np.ndarray, axis: np.ndarray | None = None) -> np.ndarray:
    if x.size == 0 or (p.reduces_all and not p.quantized):
        return sum_spec(p, x)  # ReduceAllDims starts from the first element: one output, the spec's pass
    if p.quantized:
        # the MEAN kernel with the undivided multiplier, on the bytes as uint8 (see sum_spec)
        data, qmin, qmax = (x.view(np.uint8), 0, 255) if p.bytes_as_uint8 else (x, p.qmin, p.qmax)
        rows = reduction_rows(p, data)
        out = np.empty(rows.shape[0], dtype=data.dtype)
        _mean_int_nb(rows, p.input_zero_point, p.output_multiplier, p.output_shift, p.output_zero_point, qmin, qmax,
                     out)
        return out.view(x.dtype).reshape(p.output_shape)
    rows = reduction_rows(p, x)
    out = np.empty(rows.shape[0], dtype=x.dtype)
    _sum_nb(rows, out)
    return out.reshape(p.output_shape)


@numba.njit(cache=True, parallel=True, nogil=True)
def _prod_8bit_nb(rows, input_zero_point, multiplier, shift, output_zero_point, qmin, qmax, out):
    outputs, count = rows.shape
    for r in numba.prange(outputs):
        product = np.int64(rows[r, 0]) - input_zero_point
        for i in range(1, count):
            product = mbqm64_nb(product * (np.int64(rows[r, i]) - input_zero_point), multiplier, shift)
        v = wrap_int32_nb(mbqm64_nb(product, multiplier, shift) + output_zero_point)  # int32 addition wraps
        out[r] = min(max(v, qmin), qmax)


@numba.njit(cache=True, parallel=True, nogil=True)
def _prod_nb(rows, out):
    outputs, count = rows.shape
    for r in numba.prange(outputs):
        product = rows[r, 0]
        for i in range(1, count):
            product = product * rows[r, i]
        out[r] = product


def reduce_prod_fast(p: ReduceParams, x: np.ndarray, axis: np.ndarray | None = None) -> np.ndarray:
    if x.size == 0 or p.reduced_count == 0:
        return reduce_prod_spec(p, x)
    rows = reduction_rows(p, x)
    out = np.empty(rows.shape[0], dtype=x.dtype)
    if p.quantized:
        _prod_8bit_nb(rows, p.input_zero_point, p.output_multiplier, p.output_shift, p.output_zero_point, p.qmin,
                      p.qmax, out)
    else:
        _prod_nb(rows, out)
    return out.reshape(p.output_shape)


@numba.njit(cache=True, parallel=True, nogil=True)
def _cumsum_nb(lines, exclusive, out):
    outer, count = lines.shape
    for r in numba.prange(outer):
        running = out.dtype.type(0)
        for i in range(count):
            if exclusive:
                out[r, i] = running
                running += lines[r, i]
            else:
                running += lines[r, i]
                out[r, i] = running


def cumsum_fast(p: CumsumParams, x: np.ndarray, axis: np.ndarray | None = None) -> np.ndarray:
    if x.size == 0:
        return cumsum_spec(p, x)
    moved = np.moveaxis(x, p.axis, -1)
    if p.reverse:
        moved = moved[..., ::-1]
    lines = np.ascontiguousarray(moved).reshape(-1, moved.shape[-1])
    out = np.empty(lines.shape, dtype=x.dtype)
    _cumsum_nb(lines, p.exclusive, out)
    out = out.reshape(moved.shape)
    if p.reverse:
        out = out[..., ::-1]
    return np.ascontiguousarray(np.moveaxis(out, -1, p.axis))

"""BATCH_MATMUL fast kernels (the rules: ``refinterp/ops/batch_matmul.py``).

numba, output batches x rows in parallel, over the reference kernel's own operand views (input rows
``[input batches, rows, B]``, filter matrices ``[filter batches, C, B]``, broadcast per output batch as the spec's
``batch_index_tables``, each entry computed in the kernel from ``batch_geometry``).
float32: the spec's order of float32 operations (k = 0, 1, ...). int8/int16: exact int64 sums, then the kind's
accumulator width and requantization.

hybrid: ``prepare_batch_matmul_fast`` (the registry's ``fast_prepare``) keeps the batch geometry and, for a constant
RHS, the filter matrices and their SSE row sums; a call is one serial numba entry that quantizes every
input row (``refinterp/ops/fast/fully_connected.py``'s numba form of ``refinterp/ops/hybrid.py``'s rules: the
same float32 operations in the same order), then computes the int32 dot products (exact: this kernel has no
SSE sign trick), the float32 offset correction and the rescale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from refinterp.ops.batch_matmul import (
    BatchMatMulParams,
    hybrid_row_sums,
    prepare_batch_matmul,
    reference_views,
)
from refinterp.ops.common import OpContext
from refinterp.ops.fast.fully_connected import NON_FINITE, hybrid_outcome_error, quantize_row_nb
from refinterp.quant import mbqm64_nb, mbqm_nb, wrap_int32_nb

MODE_INT8, MODE_INT16, MODE_INT32 = 0, 1, 2


@numba.njit(cache=True, nogil=True, inline="always")
def _batch_indices(n, geometry):
    """Output batch ``n``'s input batch, filter matrix, scale index base and row-sum matrix: the spec's
    ``batch_index_tables`` entry n, computed from ``batch_geometry`` instead of read from tables (tables of a
    16 Mi-batch output would take gigabytes)."""
    d1, d2, ib1, ib2, fb1, fb2 = geometry[0], geometry[1], geometry[2], geometry[3], geometry[4], geometry[5]
    b0 = n // (d1 * d2)
    b1 = (n // d2) % d1
    b2 = n % d2
    x0, x1, x2 = b0 * geometry[6], b1 * geometry[7], b2 * geometry[8]  # a batch dimension of 1 broadcasts
    w0, w1, w2 = b0 * geometry[9], b1 * geometry[10], b2 * geometry[11]
    return (x0 * ib1 + x1) * ib2 + x2, (w0 * fb1 + w1) * fb2 + w2, x0 + x1 + x2, w0 + w1 + w2


def batch_geometry(p: BatchMatMulParams) -> np.ndarray:
    """int64 [d1, d2, ib1, ib2, fb1, fb2, ib0 != 1, ib1 != 1, ib2 != 1, fb0 != 1, fb1 != 1, fb2 != 1, batches]
    for ``_batch_indices`` (d: the output batch dimensions, ib / fb: the input's and the filter's)."""
    d0, d1, d2 = p.output_batch
    ib, fb = p.input_batch, p.filter_batch
    return np.array([d1, d2, ib[1], ib[2], fb[1], fb[2], *(int(v != 1) for v in (*ib, *fb)), d0 * d1 * d2],
                    np.int64)


@numba.njit(cache=True, parallel=True, nogil=True)
def _bmm_float_nb(x, w, geometry):
    batches = geometry[12]
    rows, depth = x.shape[1], x.shape[2]
    units = w.shape[1]
    out = np.empty((batches, rows, units), dtype=np.float32)
    for job in numba.prange(batches * rows):
        n = job // rows
        r = job % rows
        xb, wb, _, _ = _batch_indices(n, geometry)
        for u in range(units):
            total = np.float32(0.0)
            for k in range(depth):
                total += x[xb, r, k] * w[wb, u, k]
            out[n, r, u] = total
    return out


@numba.njit(cache=True, parallel=True, nogil=True)
def _bmm_int_nb(x, w, geometry, x_zero_point, w_zero_point, mode, multiplier, shift, output_zero_point, act_min,
                act_max):
    batches = geometry[12]
    rows, depth = x.shape[1], x.shape[2]
    units = w.shape[1]
    out = np.empty((batches, rows, units), dtype=np.int64)
    for job in numba.prange(batches * rows):
        n = job // rows
        r = job % rows
        xb, wb, _, _ = _batch_indices(n, geometry)
        for u in range(units):
            acc = np.int64(0)
            for k in range(depth):
                acc += (np.int64(w[wb, u, k]) - w_zero_point) * (np.int64(x[xb, r, k]) - x_zero_point)
            if mode == MODE_INT32:
                out[n, r, u] = wrap_int32_nb(acc)
                continue
            if mode == MODE_INT8:
                scaled = mbqm_nb(wrap_int32_nb(acc), multiplier, shift)  # the int32 accumulator wraps
            else:
                scaled = mbqm64_nb(acc, multiplier, shift)
            value = wrap_int32_nb(scaled + output_zero_point)
            out[n, r, u] = min(max(value, act_min), act_max)
    return out


@numba.njit(cache=True, nogil=True)
def _bmm_hybrid_nb(x, w, geometry, row_sums, filter_scales, asymmetric, per_channel):
    """EvalHybrid after the views: (float32 [output batches, rows, units], outcome of the quantization)."""
    batches = geometry[12]
    input_batches, rows, depth = x.shape
    units = w.shape[1]
    out = np.empty((batches, rows, units), dtype=np.float32)
    for xb in range(input_batches):  # BatchQuantizeFloats checks the whole input first
        for j in range(rows):
            for k in range(depth):
                if not math.isfinite(x[xb, j, k]):
                    return out, NON_FINITE
    q = np.empty((input_batches, rows, depth), dtype=np.int32)
    scales = np.empty(input_batches * rows, dtype=np.float32)
    offsets = np.empty(input_batches * rows, dtype=np.float32)
    for xb in range(input_batches):
        for j in range(rows):
            scale, zero_point, outcome = quantize_row_nb(x[xb, j], asymmetric, q[xb, j])
            if outcome != 0:
                return out, outcome
            if not per_channel:  # scaling_factors_ptr[b] *= filter scale
                scale = np.float32(scale * filter_scales[0])
            scales[xb * rows + j] = scale
            offsets[xb * rows + j] = np.float32(zero_point)
    for n in range(batches):
        xb, wb, scale_base, row_sum_matrix = _batch_indices(n, geometry)
        for j in range(rows):
            s = scale_base * rows + j
            offset = offsets[s]
            for i in range(units):
                total32 = np.int32(0)
                for k in range(depth):  # int32 lanes, wrapping (the int32 sum wraps)
                    total32 = np.int32(total32 + np.int32(w[wb, i, k]) * q[xb, j, k])
                total = np.int64(total32)
                # total -= row_sum * batch_offset: float32 arithmetic, truncated back to int32 (cvttss2si)
                corrected = np.float32(np.float32(total) - np.float32(np.float32(row_sums[row_sum_matrix, i]) *
                                                                      offset))
                if corrected > -2147483649.0 and corrected < 2147483648.0:
                    total = np.int64(corrected)
                else:
                    total = np.int64(-2147483648)
                scale = scales[s]
                if per_channel:
                    scale = np.float32(scale * filter_scales[i])
                out[n, j, i] = np.float32(np.float32(0.0) + np.float32(scale * np.float32(total)))
    return out, 0


@dataclass(frozen=True)
class BatchMatMulFastParams:
    """The spec's params, the batch geometry and (hybrid, constant RHS) the filter matrices and row sums."""

    spec: BatchMatMulParams
    geometry: np.ndarray
    hybrid_filter: tuple | None = None


def _input_view(p: BatchMatMulParams, lhs: np.ndarray) -> np.ndarray:
    """The input rows of ``reference_views``: ``[input batches, rows, B]``."""
    x = np.swapaxes(lhs, -1, -2) if p.adj_x else lhs
    return np.ascontiguousarray(x).reshape(math.prod(p.input_batch), p.view_rows, p.depth)


def _hybrid_filter(p: BatchMatMulParams, rhs: np.ndarray) -> tuple:
    """(int8 filter matrices [filter batches, C, B] as ``reference_views`` makes them, int64 row sums, float32
    filter scales)."""
    w = rhs if p.adj_y else np.swapaxes(rhs, -1, -2)
    w = np.ascontiguousarray(w, dtype=np.int8).reshape(math.prod(p.filter_batch), p.units, p.depth)
    return (w, np.ascontiguousarray(hybrid_row_sums(p, w.astype(np.int64))),
            np.ascontiguousarray(p.filter_scales, dtype=np.float32))


def prepare_batch_matmul_fast(ctx: OpContext) -> BatchMatMulFastParams:
    spec = prepare_batch_matmul(ctx)
    geometry = batch_geometry(spec)
    rhs = ctx.require_input(1)
    if spec.kind == "hybrid" and rhs.is_constant:
        return BatchMatMulFastParams(spec, geometry, _hybrid_filter(spec, rhs.data))
    return BatchMatMulFastParams(spec, geometry)


def batch_matmul_fast(params: BatchMatMulFastParams, lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    p = params.spec
    geometry = params.geometry
    if p.kind == "hybrid":
        w, row_sums, filter_scales = (params.hybrid_filter if params.hybrid_filter is not None
                                      else _hybrid_filter(p, rhs))
        out, outcome = _bmm_hybrid_nb(_input_view(p, lhs.astype(np.float32, copy=False)), w, geometry, row_sums,
                                      filter_scales, p.asymmetric, p.per_channel)
        if outcome != 0:
            raise hybrid_outcome_error(outcome)
        return out.reshape(p.output_shape)
    x, w = reference_views(p, lhs, rhs)
    if p.kind == "float32":
        return _bmm_float_nb(x.astype(np.float32), w.astype(np.float32), geometry).reshape(p.output_shape)
    mode = {"int8": MODE_INT8, "int16": MODE_INT16, "int8->int32": MODE_INT32}[p.kind]
    out = _bmm_int_nb(x, w, geometry, p.lhs_zero_point, p.rhs_zero_point, mode, p.multiplier, p.shift,
                      p.output_zero_point, p.act_min, p.act_max)
    dtype = {"int8": np.int8, "int16": np.int16, "int8->int32": np.int32}[p.kind]
    return out.astype(dtype).reshape(p.output_shape)

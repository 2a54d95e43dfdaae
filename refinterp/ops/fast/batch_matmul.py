"""BATCH_MATMUL fast kernels (the rules: ``refinterp/ops/batch_matmul.py``).

numba, output batches x rows in parallel, over the reference kernel's own operand views (input rows
``[input batches, rows, B]``, filter matrices ``[filter batches, C, B]``, broadcast by per-batch index tables).
float32: the spec's order of float32 operations (k = 0, 1, ...). int8/int16: exact int64 sums, then the kind's
accumulator width and requantization. hybrid: the input quantization and row sums are the spec's NumPy code
(``refinterp/ops/hybrid.py``); the int32 dot products, the float32 offset correction and rescale are numba.
"""

from __future__ import annotations

import numba
import numpy as np

from refinterp.ops.batch_matmul import (
    BatchMatMulParams,
    batch_index_tables,
    hybrid_quantize,
    hybrid_row_sums,
    reference_views,
)
from refinterp.quant import mbqm64_nb, mbqm_nb, wrap_int32_nb

MODE_INT8, MODE_INT16, MODE_INT32 = 0, 1, 2


@numba.njit(cache=True, parallel=True, nogil=True)
def _bmm_float_nb(x, w, input_index, filter_index):
    batches = input_index.shape[0]
    rows, depth = x.shape[1], x.shape[2]
    units = w.shape[1]
    out = np.empty((batches, rows, units), dtype=np.float32)
    for job in numba.prange(batches * rows):
        n = job // rows
        r = job % rows
        xb = input_index[n]
        wb = filter_index[n]
        for u in range(units):
            total = np.float32(0.0)
            for k in range(depth):
                total += x[xb, r, k] * w[wb, u, k]
            out[n, r, u] = total
    return out


@numba.njit(cache=True, parallel=True, nogil=True)
def _bmm_int_nb(x, w, input_index, filter_index, x_zero_point, w_zero_point, mode, multiplier, shift,
                output_zero_point, act_min, act_max):
    batches = input_index.shape[0]
    rows, depth = x.shape[1], x.shape[2]
    units = w.shape[1]
    out = np.empty((batches, rows, units), dtype=np.int64)
    for job in numba.prange(batches * rows):
        n = job // rows
        r = job % rows
        xb = input_index[n]
        wb = filter_index[n]
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


@numba.njit(cache=True, parallel=True, nogil=True)
def _bmm_hybrid_nb(q, w, input_index, filter_index, scale_base, row_sum_matrix, scales, offsets, row_sums,
                   channel_scales, per_channel):
    batches = input_index.shape[0]
    rows, depth = q.shape[1], q.shape[2]
    units = w.shape[1]
    out = np.empty((batches, rows, units), dtype=np.float32)
    for job in numba.prange(batches * rows):
        n = job // rows
        j = job % rows
        xb = input_index[n]
        wb = filter_index[n]
        s = scale_base[n] * rows + j
        offset = offsets[s]
        for i in range(units):
            total = np.int64(0)
            for k in range(depth):
                total += np.int64(w[wb, i, k]) * np.int64(q[xb, j, k])
            total = wrap_int32_nb(total)
            # total -= row_sum * batch_offset: float32 arithmetic, truncated back to int32 (cvttss2si)
            corrected = np.float32(total) - np.float32(row_sums[row_sum_matrix[n], i]) * offset
            if corrected > -2147483649.0 and corrected < 2147483648.0:
                total = np.int64(corrected)
            else:
                total = np.int64(-2147483648)
            scale = scales[s]
            if per_channel:
                scale = scale * channel_scales[i]
            out[n, j, i] = np.float32(0.0) + scale * np.float32(total)
    return out


def batch_matmul_fast(p: BatchMatMulParams, lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    input_index, filter_index, scale_base, row_sum_matrix = batch_index_tables(p)
    if p.kind == "hybrid":
        x, w = reference_views(p, lhs.astype(np.float32), rhs.astype(np.int8))
        q, scales, offsets = hybrid_quantize(p, x)
        row_sums = hybrid_row_sums(p, w.astype(np.int64))
        out = _bmm_hybrid_nb(q.astype(np.int8), w, input_index, filter_index, scale_base, row_sum_matrix, scales,
                             offsets, row_sums, p.filter_scales.astype(np.float32), p.per_channel)
        return out.reshape(p.output_shape)
    x, w = reference_views(p, lhs, rhs)
    if p.kind == "float32":
        return _bmm_float_nb(x.astype(np.float32), w.astype(np.float32), input_index,
                             filter_index).reshape(p.output_shape)
    mode = {"int8": MODE_INT8, "int16": MODE_INT16, "int8->int32": MODE_INT32}[p.kind]
    out = _bmm_int_nb(x, w, input_index, filter_index, p.lhs_zero_point, p.rhs_zero_point, mode, p.multiplier,
                      p.shift, p.output_zero_point, p.act_min, p.act_max)
    dtype = {"int8": np.int8, "int16": np.int16, "int8->int32": np.int32}[p.kind]
    return out.astype(dtype).reshape(p.output_shape)

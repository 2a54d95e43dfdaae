"""SVDF fast kernel (the rules: ``refinterp/ops/svdf.py``).

int8: one numba pass per invoke (state shift, feature dot products with MBQM, time dot products, rank
reduction, output MBQM), integer sums in int64 wrapped to int32 where the C++ accumulator is int32 (integer
sums wrap the same in any order). float32 and hybrid run the spec kernel (their float32 sums keep its order).
"""

from __future__ import annotations

import numba
import numpy as np

from refinterp.ops.common import KernelResult
from refinterp.ops.svdf import SvdfParams, bias_values, svdf_spec
from refinterp.quant import mbqm_nb


@numba.njit(cache=True, nogil=True)
def _svdf_int8_nb(x, weights_feature, weights_time, bias, has_bias, state, rank, memory, multiplier_1, shift_1,
                  multiplier_2, shift_2, input_zero_point, output_zero_point, state_zero_point, state_min,
                  state_max):
    batch, input_size = x.shape
    filters = weights_feature.shape[0]
    units = filters // rank
    rows = state.reshape(batch, filters, memory).astype(np.int64)
    output = np.empty((batch, units), np.int8)
    new_state = np.empty((batch, filters, memory), state.dtype)
    for b in range(batch):
        for u in range(units):
            acc = np.int64(bias[u]) if has_bias else np.int64(0)
            for r in range(rank):
                f = u * rank + r
                dot = np.int64(0)
                for c in range(input_size):
                    dot += np.int64(weights_feature[f, c]) * (np.int64(x[b, c]) - input_zero_point)
                dot = ((dot + 2147483648) & 0xFFFFFFFF) - 2147483648
                activation = mbqm_nb(dot, multiplier_1, shift_1) + state_zero_point
                activation = min(max(activation, state_min), state_max)
                time_sum = np.int64(0)
                for m in range(memory - 1):
                    value = rows[b, f, m + 1]
                    new_state[b, f, m] = value
                    time_sum += np.int64(weights_time[f, m]) * (value - state_zero_point)
                new_state[b, f, memory - 1] = activation
                time_sum += np.int64(weights_time[f, memory - 1]) * (activation - state_zero_point)
                acc += ((time_sum + 2147483648) & 0xFFFFFFFF) - 2147483648
            acc = ((acc + 2147483648) & 0xFFFFFFFF) - 2147483648
            scaled = mbqm_nb(acc, multiplier_2, shift_2) + output_zero_point
            output[b, u] = min(max(scaled, -128), 127)
    return output, new_state.reshape(batch, filters * memory)


def svdf_fast(p: SvdfParams, x: np.ndarray, weights_feature: np.ndarray, weights_time: np.ndarray,
              bias: np.ndarray | None, state: np.ndarray) -> KernelResult:
    if p.kind != "int8":
        return svdf_spec(p, x, weights_feature, weights_time, bias, state)
    info = np.iinfo(p.state_dtype)
    bias_vector = bias_values(p, bias, np.int32) if bias is not None else np.zeros(1, np.int32)
    output, new_state = _svdf_int8_nb(
        x, weights_feature, weights_time, bias_vector, bias is not None, state, p.rank, p.memory, p.multiplier_1,
        p.shift_1, p.multiplier_2, p.shift_2, p.input_zero_point, p.output_zero_point, p.state_zero_point,
        int(info.min), int(info.max))
    return KernelResult(outputs=(output,), variable_updates={4: new_state})

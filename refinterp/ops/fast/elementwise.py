"""ADD, SUB and MUL fast kernels for 8-bit inputs (the rules: ``refinterp/ops/elementwise.py``).

numba, one pass over the broadcast and flattened inputs, with the spec's integer steps (MBQM, int32 wrap).
The other kinds (float32, int32/int64, MINIMUM/MAXIMUM) run the spec kernel: it is one vectorized pass.
"""

from __future__ import annotations

import numba
import numpy as np

from refinterp.ops.elementwise import ADD_LEFT_SHIFT, BinaryParams, binary_spec
from refinterp.quant import mbqm_nb


@numba.njit(cache=True, nogil=True)
def _add_sub_8bit_nb(x1, x2, out, subtract, input1_offset, input2_offset, left_shift, input1_multiplier,
                     input1_shift, input2_multiplier, input2_shift, output_multiplier, output_shift,
                     output_offset, act_min, act_max):
    for i in range(out.size):
        scaled1 = mbqm_nb((np.int64(x1[i]) + input1_offset) << left_shift, input1_multiplier, input1_shift)
        scaled2 = mbqm_nb((np.int64(x2[i]) + input2_offset) << left_shift, input2_multiplier, input2_shift)
        total = scaled1 - scaled2 if subtract else scaled1 + scaled2
        total = ((total + 2147483648) & 0xFFFFFFFF) - 2147483648
        v = mbqm_nb(total, output_multiplier, output_shift) + output_offset
        out[i] = min(max(v, act_min), act_max)


@numba.njit(cache=True, nogil=True)
def _mul_8bit_nb(x1, x2, out, input1_offset, input2_offset, output_multiplier, output_shift, output_offset,
                 act_min, act_max):
    for i in range(out.size):
        product = (np.int64(x1[i]) + input1_offset) * (np.int64(x2[i]) + input2_offset)
        v = mbqm_nb(product, output_multiplier, output_shift) + output_offset
        out[i] = min(max(v, act_min), act_max)


def _flat(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return np.ascontiguousarray(np.broadcast_to(x, shape)).reshape(-1)


def binary_fast(p: BinaryParams, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    if p.kind != "quantized":  # float32, plain integers, MINIMUM/MAXIMUM: the spec is one vectorized pass
        return binary_spec(p, x1, x2)
    shape = np.broadcast_shapes(x1.shape, x2.shape)
    flat1, flat2 = _flat(x1, shape), _flat(x2, shape)
    out = np.empty(flat1.size, dtype=p.dtype)
    if p.op == "MUL":
        _mul_8bit_nb(flat1, flat2, out, p.input1_offset, p.input2_offset, p.output_multiplier, p.output_shift,
                     p.output_offset, int(p.act_min), int(p.act_max))
    else:
        _add_sub_8bit_nb(flat1, flat2, out, p.op == "SUB", p.input1_offset, p.input2_offset, ADD_LEFT_SHIFT,
                         p.input1_multiplier, p.input1_shift, p.input2_multiplier, p.input2_shift,
                         p.output_multiplier, p.output_shift, p.output_offset, int(p.act_min), int(p.act_max))
    return out.reshape(shape)

"""ADD, SUB and MUL fast kernels for 8-bit and int16 inputs, and MUL int16 -> int8/uint8 (the rules:
``refinterp/ops/elementwise.py``).

numba, one pass over the broadcast and flattened inputs, with the spec's integer steps (MBQM, int32 wrap).
The other kinds (float32, int32/int64, MINIMUM/MAXIMUM, the power-of-two int16 ADD/SUB path) run the spec
kernel: it is one vectorized pass.
"""

from __future__ import annotations

import numba
import numpy as np

from refinterp.ops.elementwise import BinaryParams, binary_spec
from refinterp.quant import mbqm_nb, rdbpot_int16_nb


@numba.njit(cache=True, nogil=True)
def _add_sub_quantized_nb(x1, x2, out, subtract, input1_offset, input2_offset, left_shift, input1_multiplier,
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
def _mul_quantized_nb(x1, x2, out, input1_offset, input2_offset, output_multiplier, output_shift, output_offset,
                 act_min, act_max):
    for i in range(out.size):
        product = (np.int64(x1[i]) + input1_offset) * (np.int64(x2[i]) + input2_offset)
        v = mbqm_nb(product, output_multiplier, output_shift) + output_offset
        out[i] = min(max(v, act_min), act_max)


@numba.njit(cache=True, nogil=True)
def _mul_int16_to_8bit_nb(x1, x2, out, output_offset, act_min, act_max):
    low, high = act_min - output_offset, act_max - output_offset
    for i in range(out.size):
        a, b = np.int64(x1[i]), np.int64(x2[i])
        if a == -32768 and b == -32768:
            high_mul = np.int64(32767)
        else:  # gemmlowp SaturatingRoundingDoublingHighMul<int16>: C division truncates toward zero
            total = a * b + (np.int64(1 << 14) if a * b >= 0 else np.int64(1 - (1 << 14)))
            high_mul = total >> 15 if total >= 0 else -((-total) >> 15)
        r = rdbpot_int16_nb(high_mul, 8)
        out[i] = min(max(r, low), high) + output_offset


def _flat(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return np.ascontiguousarray(np.broadcast_to(x, shape)).reshape(-1)


def binary_fast(p: BinaryParams, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    if p.kind == "int16_to_8bit":  # MUL int16 -> int8/uint8: equal flat sizes, no broadcasting
        out = np.empty(p.output_shape, dtype=p.dtype)
        _mul_int16_to_8bit_nb(np.ascontiguousarray(x1).reshape(-1), np.ascontiguousarray(x2).reshape(-1),
                              out.reshape(-1), p.output_offset, int(p.act_min), int(p.act_max))
        return out
    if p.kind != "quantized":  # float32, plain integers, MINIMUM/MAXIMUM, pot int16: one vectorized pass
        return binary_spec(p, x1, x2)
    shape = np.broadcast_shapes(x1.shape, x2.shape)
    flat1, flat2 = _flat(x1, shape), _flat(x2, shape)
    out = np.empty(flat1.size, dtype=p.dtype)
    if p.op == "MUL":
        _mul_quantized_nb(flat1, flat2, out, p.input1_offset, p.input2_offset, p.output_multiplier, p.output_shift,
                     p.output_offset, int(p.act_min), int(p.act_max))
    else:
        _add_sub_quantized_nb(flat1, flat2, out, p.op == "SUB", p.input1_offset, p.input2_offset, p.left_shift,
                         p.input1_multiplier, p.input1_shift, p.input2_multiplier, p.input2_shift,
                         p.output_multiplier, p.output_shift, p.output_offset, int(p.act_min), int(p.act_max))
    return out.reshape(shape)

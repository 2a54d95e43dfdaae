"""ADD, SUB and MUL fast kernels for 8-bit and int16 inputs, and MUL int16 -> int8/uint8 (the rules:
``refinterp/ops/elementwise.py``).

numba, one pass over the broadcast and flattened inputs, with the spec's integer steps (MBQM, int32 wrap).
ADD and SUB run ``_add_sub_lanes_nb``: the same steps written branch-free (selects, as conv.py's requantization)
so that LLVM vectorizes them, in parallel chunks of the flat array when it is large. Its MBQM leaves out SRDHM's
``INT32_MIN * INT32_MIN`` saturation, which needs a multiplier of INT32_MIN: QuantizeMultiplier's lie in
[0, 2^31), and any other multiplier takes the scalar loop (``_add_sub_quantized_nb``, quant.mbqm_nb).
An 8-bit ADD or SUB of at least ``ADD_SUB_TABLE_MIN`` elements first evaluates that rule on all 65536 pairs of
input values (a 64 KiB table) and then looks each element's pair up: the result of each element depends on its
two input values alone, so the lookup returns exactly what the rule computes, three times faster than computing it.
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


@numba.njit(cache=True, nogil=True, inline="always")
def _mbqm_lane_nb(x, multiplier, left, right):
    """quant.mbqm_nb for a multiplier other than INT32_MIN, branch-free: ``x << left`` wrapped to int32, SRDHM
    (nudge by the product's sign, C division by 2^31 truncating toward zero), RoundingDivideByPOT by ``right``
    (ties away from zero)."""
    v = (((x << left) + 2147483648) & 0xFFFFFFFF) - 2147483648
    product = v * multiplier
    total = product + (np.int64(1 << 30) if product >= 0 else np.int64(1 - (1 << 30)))
    high = (total + (np.int64(2147483647) if total < 0 else np.int64(0))) >> 31
    mask = (np.int64(1) << right) - 1
    threshold = (mask >> 1) + (np.int64(1) if high < 0 else np.int64(0))
    return (high >> right) + (np.int64(1) if (high & mask) > threshold else np.int64(0))


@numba.njit(cache=True, nogil=True)
def _add_sub_range_nb(x1, x2, out, start, stop, sign, input1_offset, input2_offset, left_shift, input1_multiplier,
                      left1, right1, input2_multiplier, left2, right2, output_multiplier, left_out, right_out,
                      output_offset, act_min, act_max):
    for i in range(start, stop):
        scaled1 = _mbqm_lane_nb((np.int64(x1[i]) + input1_offset) << left_shift, input1_multiplier, left1, right1)
        scaled2 = _mbqm_lane_nb((np.int64(x2[i]) + input2_offset) << left_shift, input2_multiplier, left2, right2)
        total = scaled1 + sign * scaled2
        total = ((total + 2147483648) & 0xFFFFFFFF) - 2147483648  # raw_sum is an int32
        v = _mbqm_lane_nb(total, output_multiplier, left_out, right_out) + output_offset
        out[i] = min(max(v, act_min), act_max)


#: elements per parallel chunk of ADD / SUB; an array of at most one chunk stays on the calling thread
ADD_SUB_CHUNK = 1 << 16


@numba.njit(cache=True, nogil=True)
def _add_sub_lanes_serial_nb(x1, x2, out, sign, input1_offset, input2_offset, left_shift, input1_multiplier, left1,
                             right1, input2_multiplier, left2, right2, output_multiplier, left_out, right_out,
                             output_offset, act_min, act_max):
    _add_sub_range_nb(x1, x2, out, 0, out.size, sign, input1_offset, input2_offset, left_shift, input1_multiplier,
                      left1, right1, input2_multiplier, left2, right2, output_multiplier, left_out, right_out,
                      output_offset, act_min, act_max)


@numba.njit(cache=True, parallel=True, nogil=True)
def _add_sub_lanes_nb(x1, x2, out, sign, input1_offset, input2_offset, left_shift, input1_multiplier, left1, right1,
                      input2_multiplier, left2, right2, output_multiplier, left_out, right_out, output_offset,
                      act_min, act_max):
    n = out.size
    for chunk in numba.prange((n + ADD_SUB_CHUNK - 1) // ADD_SUB_CHUNK):
        start = chunk * ADD_SUB_CHUNK
        stop = min(n, start + ADD_SUB_CHUNK)
        # a call, not inlined: numba vectorizes the loop of a function of its own, not inside a parfor body
        _add_sub_range_nb(x1[start:stop], x2[start:stop], out[start:stop], 0, stop - start, sign, input1_offset,
                          input2_offset, left_shift, input1_multiplier, left1, right1, input2_multiplier, left2,
                          right2, output_multiplier, left_out, right_out, output_offset, act_min, act_max)


#: an 8-bit ADD / SUB on at least this many elements goes through the table of all 65536 input pairs
ADD_SUB_TABLE_MIN = 1 << 17


@numba.njit(cache=True, nogil=True)
def _lookup_pairs_range_nb(x1, x2, table, out):
    """out[i] = table[256 * byte(x1[i]) + byte(x2[i])] (the bytes of int8 or uint8 values)."""
    u1, u2 = x1.view(np.uint8), x2.view(np.uint8)
    for i in range(out.size):
        out[i] = table[(np.int64(u1[i]) << 8) | np.int64(u2[i])]


@numba.njit(cache=True, parallel=True, nogil=True)
def _lookup_pairs_nb(x1, x2, table, out):
    n = out.size
    for chunk in numba.prange((n + ADD_SUB_CHUNK - 1) // ADD_SUB_CHUNK):
        start = chunk * ADD_SUB_CHUNK
        stop = min(n, start + ADD_SUB_CHUNK)
        _lookup_pairs_range_nb(x1[start:stop], x2[start:stop], table, out[start:stop])


def _add_sub(p: BinaryParams, flat1: np.ndarray, flat2: np.ndarray, out: np.ndarray) -> None:
    if out.size >= ADD_SUB_TABLE_MIN and flat1.dtype == flat2.dtype == out.dtype and out.dtype.itemsize == 1:
        pairs = np.arange(1 << 16, dtype=np.uint16)
        first = (pairs >> 8).astype(np.uint8).view(out.dtype)  # every byte value of x1, each with every x2
        second = (pairs & 0xFF).astype(np.uint8).view(out.dtype)
        table = np.empty(1 << 16, out.dtype)
        _add_sub_direct(p, first, second, table)
        _lookup_pairs_nb(flat1, flat2, table, out)
        return
    _add_sub_direct(p, flat1, flat2, out)


def _add_sub_direct(p: BinaryParams, flat1: np.ndarray, flat2: np.ndarray, out: np.ndarray) -> None:
    multipliers = (p.input1_multiplier, p.input2_multiplier, p.output_multiplier)
    if any(m == -(1 << 31) for m in multipliers):  # SRDHM's saturating corner: the scalar loop keeps it
        _add_sub_quantized_nb(flat1, flat2, out, p.op == "SUB", p.input1_offset, p.input2_offset, p.left_shift,
                              p.input1_multiplier, p.input1_shift, p.input2_multiplier, p.input2_shift,
                              p.output_multiplier, p.output_shift, p.output_offset, int(p.act_min), int(p.act_max))
        return
    shifts = []
    for shift in (p.input1_shift, p.input2_shift, p.output_shift):
        shifts += [max(int(shift), 0), max(-int(shift), 0)]
    left1, right1, left2, right2, left_out, right_out = shifts
    kernel = _add_sub_lanes_nb if out.size > ADD_SUB_CHUNK else _add_sub_lanes_serial_nb
    kernel(flat1, flat2, out, -1 if p.op == "SUB" else 1, int(p.input1_offset), int(p.input2_offset),
           int(p.left_shift), int(p.input1_multiplier), left1, right1, int(p.input2_multiplier), left2, right2,
           int(p.output_multiplier), left_out, right_out, int(p.output_offset), int(p.act_min), int(p.act_max))


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
        _add_sub(p, flat1, flat2, out)
    return out.reshape(shape)

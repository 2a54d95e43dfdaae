"""ADD, SUB and MUL fast kernels for 8-bit and int16 inputs, and MUL int16 -> int8/uint8 (the rules:
``refinterp/ops/elementwise.py``).

numba, one pass over the broadcast and flattened inputs, with the spec's integer steps (MBQM, int32 wrap).
ADD and SUB run ``_add_sub_lanes_nb``: the same steps written branch-free (selects, as conv.py's requantization)
so that LLVM vectorizes them, in parallel chunks of the flat array when it is large. Its MBQM leaves out SRDHM's
``INT32_MIN * INT32_MIN`` saturation, which needs a multiplier of INT32_MIN: QuantizeMultiplier's lie in
[0, 2^31), and any other multiplier takes the scalar loop (``_add_sub_quantized_nb``, quant.mbqm_nb).
For an 8-bit ADD, SUB or MUL of at least ``PAIR_TABLE_MIN`` elements the fast prepare evaluates the rule once on
all 65536 pairs of input values (a 64 KiB table, by the same kernel) and eval looks each element's pair up: the
result of each element depends on its two input values alone, so the lookup returns exactly what the rule
computes, several times faster than computing it.
The fast prepare also fixes, once, everything eval would otherwise work out per call (the path, the numba kernel
and its scalar arguments, whether the inputs need broadcasting): a call on a small tensor costs about a
microsecond around its numba loop.
The other kinds (float32, int32/int64, MINIMUM/MAXIMUM, the power-of-two int16 ADD/SUB path) run the spec
kernel: it is one vectorized pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from refinterp.ops.common import OpContext
from refinterp.ops.elementwise import BinaryParams, binary_spec, prepare_add, prepare_mul, prepare_sub
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


#: an 8-bit ADD / SUB / MUL on at least this many elements looks its elements up in the table of all 65536
#: input pairs that its fast prepare computes
PAIR_TABLE_MIN = 1 << 12


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


@dataclass(frozen=True)
class BinaryFastParams:
    """The spec params, plus how eval runs, decided once at prepare."""

    spec: BinaryParams
    #: the numba kernel, called as ``kernel(flat1, flat2, out, *args)``; None: the spec kernel, or the table
    kernel: Callable[..., Any] | None = None
    args: tuple = ()
    #: every input has as many elements as the output: no broadcasting (the flat orders coincide)
    same_size: bool = False
    size: int = 0
    #: the rule's output for each pair of 8-bit input values, at ``256 * byte(x1) + byte(x2)``
    table: np.ndarray | None = None


def _add_sub_kernel(p: BinaryParams, size: int) -> tuple[Callable[..., Any], tuple]:
    """ADD / SUB: the numba kernel and its scalar arguments."""
    if any(m == -(1 << 31) for m in (p.input1_multiplier, p.input2_multiplier, p.output_multiplier)):
        # SRDHM's saturating corner: the scalar loop keeps it
        return _add_sub_quantized_nb, (p.op == "SUB", int(p.input1_offset), int(p.input2_offset),
                                       int(p.left_shift), int(p.input1_multiplier), int(p.input1_shift),
                                       int(p.input2_multiplier), int(p.input2_shift), int(p.output_multiplier),
                                       int(p.output_shift), int(p.output_offset), int(p.act_min), int(p.act_max))
    shifts = []
    for shift in (p.input1_shift, p.input2_shift, p.output_shift):
        shifts += [max(int(shift), 0), max(-int(shift), 0)]
    left1, right1, left2, right2, left_out, right_out = shifts
    kernel = _add_sub_lanes_nb if size > ADD_SUB_CHUNK else _add_sub_lanes_serial_nb
    return kernel, (-1 if p.op == "SUB" else 1, int(p.input1_offset), int(p.input2_offset), int(p.left_shift),
                    int(p.input1_multiplier), left1, right1, int(p.input2_multiplier), left2, right2,
                    int(p.output_multiplier), left_out, right_out, int(p.output_offset), int(p.act_min),
                    int(p.act_max))


def _mul_kernel(p: BinaryParams) -> tuple[Callable[..., Any], tuple]:
    return _mul_quantized_nb, (int(p.input1_offset), int(p.input2_offset), int(p.output_multiplier),
                               int(p.output_shift), int(p.output_offset), int(p.act_min), int(p.act_max))


def _pair_table(kernel: Callable[..., Any], args: tuple, dtype: np.dtype) -> np.ndarray:
    """The kernel's output for every pair of 8-bit values: entry ``256 * byte(a) + byte(b)`` for (a, b)."""
    pairs = np.arange(1 << 16, dtype=np.uint16)
    first = (pairs >> 8).astype(np.uint8).view(dtype)  # every byte value of x1, each with every x2
    second = (pairs & 0xFF).astype(np.uint8).view(dtype)
    table = np.empty(1 << 16, dtype)
    kernel(first, second, table, *args)
    return table


def prepare_binary_fast(spec: BinaryParams, ctx: OpContext) -> BinaryFastParams:
    """The spec params of ADD, SUB or MUL, plus the path eval takes (see the module docstring)."""
    size = int(np.prod(spec.output_shape, dtype=np.int64))
    same_size = all(int(np.prod(ctx.shape(ctx.require_input(i)), dtype=np.int64)) == size for i in (0, 1))
    if spec.kind == "int16_to_8bit":
        return BinaryFastParams(spec, _mul_int16_to_8bit_nb, (int(spec.output_offset), int(spec.act_min),
                                                              int(spec.act_max)), True, size)
    if spec.kind != "quantized":  # float32, plain integers, pot int16: one vectorized pass of the spec kernel
        return BinaryFastParams(spec)
    table = size >= PAIR_TABLE_MIN and spec.dtype.itemsize == 1
    kernel, args = _mul_kernel(spec) if spec.op == "MUL" else _add_sub_kernel(spec, 1 << 16 if table else size)
    if table:
        return BinaryFastParams(spec, None, (), same_size, size, _pair_table(kernel, args, spec.dtype))
    return BinaryFastParams(spec, kernel, args, same_size, size)


def prepare_add_fast(ctx: OpContext) -> BinaryFastParams:
    return prepare_binary_fast(prepare_add(ctx), ctx)


def prepare_sub_fast(ctx: OpContext) -> BinaryFastParams:
    return prepare_binary_fast(prepare_sub(ctx), ctx)


def prepare_mul_fast(ctx: OpContext) -> BinaryFastParams:
    return prepare_binary_fast(prepare_mul(ctx), ctx)


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


def binary_fast(p: BinaryFastParams, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    spec = p.spec
    if p.kernel is None and p.table is None:
        return binary_spec(spec, x1, x2)
    if p.same_size:  # no broadcasting: the flat orders coincide (a stretched axis would change the size)
        flat1, flat2 = np.ascontiguousarray(x1).reshape(-1), np.ascontiguousarray(x2).reshape(-1)
    else:
        flat1, flat2 = _flat(x1, spec.output_shape), _flat(x2, spec.output_shape)
    out = np.empty(p.size, dtype=spec.dtype)
    if p.table is not None:
        if p.size > ADD_SUB_CHUNK:
            _lookup_pairs_nb(flat1, flat2, p.table, out)
        else:
            _lookup_pairs_range_nb(flat1, flat2, p.table, out)
    else:
        p.kernel(flat1, flat2, out, *p.args)
    return out.reshape(spec.output_shape)

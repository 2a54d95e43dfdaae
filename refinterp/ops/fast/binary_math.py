"""Fast kernels of DIV, FLOOR_DIV, FLOOR_MOD, SQUARED_DIFFERENCE, POW and ADD_N (rules: ``ops/binary_math.py``).

8-bit inputs: the output depends only on the pair (q1, q2), so the fast prepare evaluates the spec rule once
on all 256 x 256 pairs (a 64 KiB table) and numba gathers from the broadcast inputs. float32: the spec's
arithmetic in numba (``math.pow`` on float32 compiles to the C library's ``powf``, the function the spec calls
through ctypes). Raw int32/int64: the spec kernel (one vectorized NumPy pass).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from refinterp.ops.binary_math import (
    AddNParams,
    BinaryMathParams,
    add_n_spec,
    binary_8bit_rule,
    binary_math_spec,
    check_binary_inputs,
    pow_scalar_integer_exponent,
    prepare_binary_math,
)
from refinterp.ops.common import OpContext
from refinterp.ops.fast.common import TableParams

_FLOAT_CODES = {"DIV": 0, "FLOOR_DIV": 1, "FLOOR_MOD": 2, "SQUARED_DIFFERENCE": 3, "POW": 4}


def pair_table(p: BinaryMathParams) -> np.ndarray:
    """``table[(q1 - lowest) * 256 + (q2 - lowest)]``: the spec's 8-bit rule on every pair of values."""
    info = np.iinfo(p.dtype)
    values = np.arange(info.min, info.max + 1).astype(p.dtype)
    q1, q2 = np.meshgrid(values, values, indexing="ij")
    return np.ascontiguousarray(binary_8bit_rule(p, q1, q2).reshape(-1))


def prepare_binary_math_fast(ctx: OpContext) -> TableParams:
    spec = prepare_binary_math(ctx)
    if spec.dtype in (np.int8, np.uint8):
        return TableParams(spec, pair_table(spec))
    return TableParams(spec)


@numba.njit(cache=True, parallel=True, nogil=True)
def _pair_lookup_nb(table, x1, x2, lowest, out):
    for i in numba.prange(out.size):
        out[i] = table[(np.int64(x1[i]) - lowest) * 256 + (np.int64(x2[i]) - lowest)]


@numba.njit(cache=True, parallel=True, nogil=True, error_model="numpy")  # IEEE division by zero
def _float_binary_nb(x1, x2, code, act_min, act_max, out):
    for i in numba.prange(out.size):
        a = x1[i]
        b = x2[i]
        if code == 0:
            v = a / b
            if v < act_min:
                v = act_min
            if act_max < v:
                v = act_max
            out[i] = v
        elif code == 1:
            out[i] = np.float32(np.floor(np.float64(a) / np.float64(b)))
        elif code == 2:
            m = np.float32(np.fmod(a, b))
            out[i] = m + b if (m != 0 and ((b < 0) != (m < 0))) else m
        elif code == 3:
            d = a - b
            out[i] = d * d
        else:
            out[i] = np.float32(math.pow(a, b))


def _flat(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return np.ascontiguousarray(np.broadcast_to(x, shape)).reshape(-1)


def binary_math_fast(p: TableParams, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    spec: BinaryMathParams = p.spec
    if (spec.kind == "int" and p.table is None) or pow_scalar_integer_exponent(spec, x1, x2) is not None:
        return binary_math_spec(spec, x1, x2)  # one vectorized NumPy pass (or a few, for POW's squarings)
    check_binary_inputs(spec, x1, x2)
    shape = spec.output_shape
    flat1, flat2 = _flat(x1, shape), _flat(x2, shape)
    out = np.empty(flat1.size, dtype=spec.dtype)
    if p.table is not None:
        _pair_lookup_nb(p.table, flat1, flat2, int(np.iinfo(spec.dtype).min), out)
    else:
        _float_binary_nb(flat1, flat2, _FLOAT_CODES[spec.op], np.float32(spec.act_min), np.float32(spec.act_max),
                         out)
    return out.reshape(shape)


@numba.njit(cache=True, parallel=True, nogil=True)
def _add_n_float_nb(stacked, lowest, highest, out):
    count, size = stacked.shape
    for i in numba.prange(size):
        total = stacked[0, i]
        for j in range(1, count):
            total = total + stacked[j, i]
            if total < lowest:
                total = lowest
            if highest < total:
                total = highest
        out[i] = total


def add_n_fast(p: AddNParams, *xs: np.ndarray) -> np.ndarray:
    if p.dtype != np.float32:
        return add_n_spec(p, *xs)  # int32: one vectorized NumPy pass per input
    stacked = np.ascontiguousarray(np.stack([x.reshape(-1) for x in xs]))
    out = np.empty(stacked.shape[1], dtype=p.dtype)
    finfo = np.finfo(np.float32)
    _add_n_float_nb(stacked, finfo.min, finfo.max, out)
    return out.reshape(xs[0].shape)

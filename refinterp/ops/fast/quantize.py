"""QUANTIZE and DEQUANTIZE fast kernels (the rules: ``refinterp/ops/quantize.py``).

An 8-bit input has only 256 values, an int16 one 65536: the fast prepare evaluates the spec rule once on each
(requantize from 8/16 bits, per-tensor 8-bit dequantize) and eval gathers (numba). float32 -> int8/uint8/int16:
numba, with the spec's float32 division, C ``round`` and x86 cast. int32 -> int8/int16 runs the spec kernel
(one vectorized pass).
"""

from __future__ import annotations

import numba
import numpy as np

from refinterp.ops.common import OpContext, table_of_8bit_rule
from refinterp.ops.fast.common import TableParams, lookup_8bit
from refinterp.ops.quantize import dequantize_spec, prepare_dequantize, prepare_quantize, quantize_spec
from refinterp.quant import DTYPE_RANGES, wrap_int32_nb


def prepare_quantize_fast(ctx: OpContext) -> TableParams:
    """The spec params, plus (requantization from 8 or 16 bits) the spec's output for each input value."""
    spec = prepare_quantize(ctx)
    if spec.mode != "requantize" or ctx.require_input(0).dtype.itemsize > 2:
        return TableParams(spec)
    return TableParams(spec, table_of_8bit_rule(quantize_spec, spec, ctx.require_input(0).dtype))


def prepare_dequantize_fast(ctx: OpContext) -> TableParams:
    """The spec params, plus (per-tensor int8/uint8 input) the spec's output for each of the 256 values."""
    spec = prepare_dequantize(ctx)
    x = ctx.require_input(0)
    if spec.scale is None or spec.scale.ndim != 0 or x.dtype.itemsize != 1:
        return TableParams(spec)  # float16, per-channel or int16: the vectorized spec kernel serves
    return TableParams(spec, table_of_8bit_rule(dequantize_spec, spec, x.dtype))


@numba.njit(cache=True, nogil=True, inline="always")
def _affine_quantize_one_nb(value, scale, zero_point, qmin, qmax):
    scaled = np.float32(value) / scale  # float32 / float32 stays float32, as in AffineQuantize
    truncated = np.float32(np.trunc(scaled))
    if abs(scaled - truncated) >= np.float32(0.5):  # std::round: ties away from zero
        truncated += np.float32(1.0) if scaled > 0 else np.float32(-1.0)
    if truncated > -2147483649.0 and truncated < 2147483648.0:
        rounded = np.int64(truncated)
    else:  # x86 cvttss2si: out of range or NaN is INT32_MIN
        rounded = np.int64(-2147483648)
    return min(max(wrap_int32_nb(rounded + zero_point), qmin), qmax)  # int32 addition wraps


@numba.njit(cache=True, parallel=True, nogil=True)
def _affine_quantize_nb(flat_in, scale, zero_point, qmin, qmax, flat_out):
    for i in numba.prange(flat_in.size):
        flat_out[i] = _affine_quantize_one_nb(flat_in[i], scale, zero_point, qmin, qmax)


@numba.njit(cache=True, nogil=True)
def _affine_quantize_serial_nb(flat_in, scale, zero_point, qmin, qmax, flat_out):
    for i in range(flat_in.size):
        flat_out[i] = _affine_quantize_one_nb(flat_in[i], scale, zero_point, qmin, qmax)


#: a QUANTIZE from float32 of fewer elements stays on the calling thread (starting the pool costs more)
AFFINE_PARALLEL_MIN = 1 << 15


def quantize_fast(p: TableParams, x: np.ndarray) -> np.ndarray:
    spec = p.spec
    if p.table is not None:  # requantize from 8 or 16 bits
        return lookup_8bit(p.table, x)
    if spec.mode == "requantize":  # from int32
        return quantize_spec(spec, x)
    if spec.scale.ndim:  # per-channel output quantization: rare, the spec kernel is fine
        return quantize_spec(spec, x)
    qmin, qmax = DTYPE_RANGES[spec.output_dtype]
    flat_in = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    out = np.empty(flat_in.size, dtype=spec.output_dtype)
    kernel = _affine_quantize_nb if flat_in.size >= AFFINE_PARALLEL_MIN else _affine_quantize_serial_nb
    kernel(flat_in, np.float32(spec.scale), int(spec.zero_point), qmin, qmax, out)
    return out.reshape(x.shape)


def dequantize_fast(p: TableParams, x: np.ndarray) -> np.ndarray:
    if p.table is None:
        return dequantize_spec(p.spec, x)  # float16, per-channel or int16: the spec kernel is already vectorized
    return lookup_8bit(p.table, x)

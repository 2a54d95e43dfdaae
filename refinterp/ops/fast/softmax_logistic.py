"""SOFTMAX, LOGISTIC and TANH fast kernels (the rules: ``refinterp/ops/softmax_logistic.py``).

float32: the spec's own arithmetic (``softmax_float``, ``logistic_float``, ``tanh_float``) with C's ``expf`` and
``tanhf`` called through numba (``math.exp`` / ``math.tanh`` on a float32 compile to calls of the C library's
expf / tanhf, the functions the spec calls through ctypes) instead of once per element through ctypes.
int8/uint8: the spec kernels (vectorized NumPy, or a table for LiteRT's LOGISTIC and TANH).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from refinterp.ops.softmax_logistic import (
    LogisticParams,
    SoftmaxParams,
    TanhParams,
    logistic_float,
    logistic_spec,
    softmax_float,
    softmax_spec,
    tanh_float,
    tanh_spec,
)


@numba.njit(cache=True, nogil=True)
def _expf_nb(flat_in, flat_out):
    for i in range(flat_in.size):
        flat_out[i] = math.exp(flat_in[i])


def expf_fast(x: np.ndarray) -> np.ndarray:
    """C ``expf`` elementwise on float32, through numba."""
    x = np.asarray(x, dtype=np.float32)  # not ascontiguousarray: it would make a 0-d input 1-d
    out = np.empty(x.shape, np.float32)
    _expf_nb(np.ascontiguousarray(x.reshape(-1)), out.reshape(-1))
    return out


def softmax_fast(p: SoftmaxParams, x: np.ndarray) -> np.ndarray:
    if p.quantized:
        return softmax_spec(p, x)
    return softmax_float(p, x, exp=expf_fast)


def logistic_fast(p: LogisticParams, x: np.ndarray) -> np.ndarray:
    if p.quantized:
        return logistic_spec(p, x)
    return logistic_float(x, exp=expf_fast)


@numba.njit(cache=True, nogil=True)
def _tanhf_nb(flat_in, flat_out):
    for i in range(flat_in.size):
        flat_out[i] = math.tanh(flat_in[i])


def tanhf_fast(x: np.ndarray) -> np.ndarray:
    """C ``tanhf`` elementwise on float32, through numba."""
    x = np.asarray(x, dtype=np.float32)
    out = np.empty(x.shape, np.float32)
    _tanhf_nb(np.ascontiguousarray(x.reshape(-1)), out.reshape(-1))
    return out


def tanh_fast(p: TanhParams, x: np.ndarray) -> np.ndarray:
    if p.quantized:
        return tanh_spec(p, x)
    return tanh_float(x, tanh=tanhf_fast)

"""Eigen's float32 tanh and logistic in numba (the rules and their measurement: ``refinterp/ops/eigen_math.py``).

Scalar functions (``eigen_tanh_nb``, ``eigen_logistic_packet_nb``, ``eigen_logistic_scalar_nb``) for use inside
other numba kernels (every operand a float32, so numba computes in float32 without contraction into FMA), and
array wrappers equal to the spec functions. ``math.exp`` on a float32 is the C library's ``expf``.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from refinterp.ops.eigen_math import eigen_packet_mask

_F = np.float32


@numba.njit(cache=True, nogil=True)
def eigen_tanh_nb(a):
    """``ptanh_float`` (non-FMA) on one float32."""
    c = np.float32(7.90738964080810547)
    x = c if c < a else a
    x = -c if x < -c else x
    x2 = np.float32(x * x)
    x3 = np.float32(x2 * x)
    p = np.float32(np.float32(1.394553628e-8) * x2 + np.float32(2.102733560e-5))
    p = np.float32(np.float32(p * x2) + np.float32(3.520756727e-3))
    p = np.float32(np.float32(p * x2) + np.float32(1.340216100e-1))
    q = np.float32(np.float32(8.015776984e-7) * x2 + np.float32(3.326951409e-4))
    q = np.float32(np.float32(q * x2) + np.float32(2.597254514e-2))
    q = np.float32(np.float32(q * x2) + np.float32(4.673548340e-1))
    q = np.float32(np.float32(q * x2) + np.float32(1.0))
    p = np.float32(np.float32(x3 * p) + x)
    return np.float32(p / q)


@numba.njit(cache=True, nogil=True)
def eigen_logistic_packet_nb(a):
    """``scalar_logistic_op<float>::packetOp`` (non-FMA SSE) on one float32."""
    if a < np.float32(-104.0):
        return np.float32(0.0)
    hi = np.float32(16.6355324)
    x = np.float32((hi if hi < a else a) * np.float32(0.5))
    m = np.float32(math.floor(np.float32(np.float32(x * np.float32(1.44269504088896341)) + np.float32(0.5))))
    r = np.float32(np.float32(m * np.float32(-0.693359375)) + x)
    r = np.float32(np.float32(m * np.float32(2.12194440e-4)) + r)
    r2 = np.float32(r * r)
    p_even = np.float32(np.float32(r2 * np.float32(4.1898667812347412109375e-2)) + np.float32(0.49999141693115234375))
    p_odd = np.float32(np.float32(r2 * np.float32(8.33471305668354034423828125e-3))
                       + np.float32(0.16666877269744873046875))
    p_low = np.float32(r + np.float32(1.0))
    p = np.float32(np.float32(r * p_odd) + p_even)
    p = np.float32(np.float32(r2 * p) + p_low)
    biased = np.float32(m + np.float32(127.0))
    biased = np.float32(0.0) if biased < np.float32(0.0) else biased
    biased = np.float32(255.0) if np.float32(255.0) < biased else biased
    if biased != biased:  # NaN: cvttps gives INT_MIN, whose exponent bits are 0
        scale = np.float32(0.0)
    elif biased == np.float32(0.0):
        scale = np.float32(0.0)
    elif biased == np.float32(255.0):
        scale = np.float32(np.inf)
    else:
        scale = np.float32(2.0 ** (int(biased) - 127))
    e = np.float32(p * scale)
    e = np.float32(e * e)
    return np.float32(e / np.float32(np.float32(1.0) + e))


@numba.njit(cache=True, nogil=True)
def eigen_logistic_scalar_nb(a):
    """``scalar_logistic_op<float>::operator()``: ``e = expf(min(a, 16.6355324f))``, ``e / (1 + e)``."""
    hi = np.float32(16.6355324)
    e = np.float32(math.exp(hi if hi < a else a))
    return np.float32(e / np.float32(np.float32(1.0) + e))


@numba.njit(cache=True, nogil=True)
def _tanh_flat(flat_in, flat_out):
    for i in range(flat_in.size):
        flat_out[i] = eigen_tanh_nb(flat_in[i])


@numba.njit(cache=True, nogil=True)
def _logistic_flat(flat_in, packet, flat_out):
    for i in range(flat_in.size):
        if packet[i]:
            flat_out[i] = eigen_logistic_packet_nb(flat_in[i])
        else:
            flat_out[i] = eigen_logistic_scalar_nb(flat_in[i])


def eigen_tanh_fast(x: np.ndarray) -> np.ndarray:
    """:func:`refinterp.ops.eigen_math.eigen_tanh` through numba."""
    a = np.asarray(x, np.float32)
    out = np.empty(a.shape, np.float32)
    _tanh_flat(np.ascontiguousarray(a).reshape(-1), out.reshape(-1))
    return out


def eigen_logistic_fast(x: np.ndarray, offset: int = 0) -> np.ndarray:
    """:func:`refinterp.ops.eigen_math.eigen_logistic` through numba."""
    a = np.asarray(x, np.float32)
    out = np.empty(a.shape, np.float32)
    _logistic_flat(np.ascontiguousarray(a).reshape(-1), eigen_packet_mask(a.size, offset), out.reshape(-1))
    return out

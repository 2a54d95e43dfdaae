"""Eigen's float32 tanh and logistic as ai-edge-litert 2.3.0 computes them on x86-64 (the recurrent kernels'
``tensor_utils::ApplyTanhToVector`` / ``ApplySigmoidToVector``, i.e. ``ApplyActivationToVector`` with TANH or
SIGMOID, and the optimized TANH / LOGISTIC kernels: ``Eigen::Map<Vector<float>>(...).array().tanh()`` and
``.logistic()``; LiteRT ``tflite/kernels/internal/tensor_utils.h``, ``optimized/optimized_ops.h``).

The wheel is built for plain x86-64 SSE: Eigen's packet is ``Packet4f`` (four floats, 16-byte aligned), there is
no FMA, so every ``pmadd(a, b, c)`` is ``f32(f32(a * b) + c)``, and ``EIGEN_FAST_MATH`` is on. Sources: Eigen
``Eigen/src/Core/arch/Default/GenericPacketMathFunctions.h`` (``ptanh_float``) and
``Eigen/src/Core/functors/UnaryFunctors.h`` (``scalar_logistic_op<float>``), the version TensorFlow/LiteRT pins in
2025 (the 9/8 rminimax tanh; not Eigen 3.3/3.4's 13/6 tanh with its ``|x| < 0.0004 -> x`` shortcut, nor its 9/10
logistic).

tanh (``ptanh_float``, one formula for packets and scalars, so the result of an element does not depend on where
it sits in the vector; measured)::

    c  = 7.90738964080810547f                          (the non-FMA clamp; 8.01773357391357422f with FMA)
    x  = max(min(a, c), -c)                            (NaN stays NaN: std::min/max argument order)
    x2 = x * x;  x3 = x2 * x
    p  = ((1.394553628e-8f * x2 + 2.102733560e-5f) * x2 + 3.520756727e-3f) * x2 + 1.340216100e-1f
    q  = (((8.015776984e-7f * x2 + 3.326951409e-4f) * x2 + 2.597254514e-2f) * x2 + 4.673548340e-1f) * x2 + 1.0f
    tanh = (x3 * p + x) / q                            (every operation rounded to float32)

logistic: Eigen's packet and scalar forms differ (measured), and Eigen's vectorized assignment of a
``Map<VectorXf>`` (``dense_assignment_loop`` with ``LinearVectorizedTraversal``) computes with the scalar form the
elements before the first 16-byte-aligned one and the ``(size - head) % 4`` last ones, the packet form in between.

* packet (``scalar_logistic_op<float>::packetOp``)::

      zero = a < -104.0f
      x  = min(a, 16.6355324f) * 0.5f
      m  = floor(x * 1.44269504088896341f + 0.5f)
      r  = m * -0.693359375f + x;   r = m * 2.12194440e-4f + r
      r2 = r * r
      p  = r2 * ((r * (r2 * 8.33471305668354034423828125e-3f + 0.16666877269744873046875f)
                  + (r2 * 4.1898667812347412109375e-2f + 0.49999141693115234375f))) + (r + 1.0f)
      e  = p * 2^m  (pldexp_fast: the biased exponent m + 127 clamped to [0, 255] put in a float's exponent bits)
      e  = e * e
      logistic = zero ? 0.0f : e / (1.0f + e)

* scalar (``scalar_logistic_op<float>::operator()``): ``e = expf(min(a, 16.6355324f))``, ``e / (1.0f + e)``,
  with the C library's ``expf``.

Verified against ai-edge-litert 2.3.0 bit for bit (NaN payloads included) on every 4099th float32 bit pattern
(1,047,809 values: zeros, denormals, infinities, NaNs, every binade) and dense samples near the clamps: tanh through
RNN's fused TANH (BUILTIN_REF) and the optimized TANH kernel, at every offset; logistic through the optimized
LOGISTIC kernel, the packet form on aligned vectors, the scalar form on vectors of fewer than four elements and on
tails (tests/test_stateful_svdf.py).
"""

from __future__ import annotations

import numpy as np

from refinterp.ops.softmax_logistic import expf

EIGEN_PACKET_FLOATS = 4  # Packet4f (SSE): the alignment unit of Eigen's vectorized loops, 16 bytes

TANH_CLAMP = np.float32(7.90738964080810547)
TANH_ALPHA = tuple(np.float32(v) for v in (1.394553628e-8, 2.102733560e-5, 3.520756727e-3, 1.340216100e-1))
TANH_BETA = tuple(np.float32(v) for v in (8.015776984e-7, 3.326951409e-4, 2.597254514e-2, 4.673548340e-1, 1.0))

LOGISTIC_EXP_HI = np.float32(16.6355324)
LOGISTIC_EXP_LO = np.float32(-104.0)
LOG2EF = np.float32(1.44269504088896341)
EXP_C1 = np.float32(-0.693359375)
EXP_C2 = np.float32(2.12194440e-4)
EXP_P2 = np.float32(0.49999141693115234375)
EXP_P3 = np.float32(0.16666877269744873046875)
EXP_P4 = np.float32(4.1898667812347412109375e-2)
EXP_P5 = np.float32(8.33471305668354034423828125e-3)

_F = np.float32


def _std_min(a: np.ndarray, b: np.float32) -> np.ndarray:
    """``std::min(a, b) = b < a ? b : a`` (a NaN ``a`` stays)."""
    return np.where(b < a, b, a).astype(np.float32)


def _std_max(a: np.ndarray, b: np.float32) -> np.ndarray:
    """``std::max(a, b) = a < b ? b : a`` (a NaN ``a`` stays)."""
    return np.where(a < b, b, a).astype(np.float32)


def eigen_tanh(x: np.ndarray) -> np.ndarray:
    """``ptanh_float`` (non-FMA) elementwise on a float32 array of any shape."""
    a = np.asarray(x, np.float32)
    with np.errstate(all="ignore"):
        v = _std_max(_std_min(a, TANH_CLAMP), -TANH_CLAMP)
        x2 = (v * v).astype(_F)
        x3 = (x2 * v).astype(_F)
        p = np.full(a.shape, TANH_ALPHA[0], _F)
        for coefficient in TANH_ALPHA[1:]:
            p = ((p * x2).astype(_F) + coefficient).astype(_F)
        q = np.full(a.shape, TANH_BETA[0], _F)
        for coefficient in TANH_BETA[1:]:
            q = ((q * x2).astype(_F) + coefficient).astype(_F)
        p = ((x3 * p).astype(_F) + v).astype(_F)
        return (p / q).astype(_F)


def eigen_logistic_packet(x: np.ndarray) -> np.ndarray:
    """``scalar_logistic_op<float>::packetOp`` (non-FMA SSE) elementwise on a float32 array of any shape."""
    a = np.asarray(x, np.float32)
    with np.errstate(all="ignore"):
        zero = a < LOGISTIC_EXP_LO
        v = (_std_min(a, LOGISTIC_EXP_HI) * _F(0.5)).astype(_F)
        m = np.floor(((v * LOG2EF).astype(_F) + _F(0.5)).astype(_F)).astype(_F)
        r = ((m * EXP_C1).astype(_F) + v).astype(_F)
        r = ((m * EXP_C2).astype(_F) + r).astype(_F)
        r2 = (r * r).astype(_F)
        p_even = ((r2 * EXP_P4).astype(_F) + EXP_P2).astype(_F)
        p_odd = ((r2 * EXP_P5).astype(_F) + EXP_P3).astype(_F)
        p_low = (r + _F(1.0)).astype(_F)
        p = ((r * p_odd).astype(_F) + p_even).astype(_F)
        p = ((r2 * p).astype(_F) + p_low).astype(_F)
        e = (p * _pldexp_scale(m)).astype(_F)
        e = (e * e).astype(_F)
        return np.where(zero, _F(0.0), (e / (_F(1.0) + e)).astype(_F)).astype(_F)


def _pldexp_scale(m: np.ndarray) -> np.ndarray:
    """``pldexp_fast``'s factor: ``2^m`` built from the biased exponent ``min(max(m + 127, 0), 255)`` (a float
    clamp; 0 gives 0.0f, 255 gives inf); a NaN ``m`` converts to INT_MIN (``cvttps``), whose shifted bits are 0."""
    with np.errstate(all="ignore"):
        biased = (m + _F(127.0)).astype(_F)
        biased = _std_min(_std_max(biased, _F(0.0)), _F(255.0))
        integer = np.where(np.isnan(biased), 0, np.nan_to_num(biased)).astype(np.uint32)
    return (integer << np.uint32(23)).view(np.float32)


def eigen_logistic_scalar(x: np.ndarray) -> np.ndarray:
    """``scalar_logistic_op<float>::operator()``: ``e = expf(std::min(a, 16.6355324f))``, ``e / (1 + e)``."""
    a = np.asarray(x, np.float32)
    e = expf(_std_min(a, LOGISTIC_EXP_HI))
    with np.errstate(all="ignore"):
        return (e / (_F(1.0) + e)).astype(_F)


def eigen_packet_mask(size: int, offset: int = 0) -> np.ndarray:
    """Which elements of a ``size``-float vector Eigen's linear vectorized loop computes with packets: the vector
    starts ``offset`` floats past a 16-byte boundary (LiteRT's arena aligns every tensor to 64 bytes, so
    ``offset`` is the vector's element offset within its tensor); ``head = min((-offset) % 4, size)`` scalar
    elements, then whole packets of four, then the ``(size - head) % 4`` last elements scalar."""
    head = min((-offset) % EIGEN_PACKET_FLOATS, size)
    packets_end = head + (size - head) // EIGEN_PACKET_FLOATS * EIGEN_PACKET_FLOATS
    mask = np.zeros(size, bool)
    mask[head:packets_end] = True
    return mask


def eigen_logistic(x: np.ndarray, offset: int = 0) -> np.ndarray:
    """``Map<VectorXf>(x, x.size).array().logistic()`` (``ApplySigmoidToVector``) on the C-order elements of
    ``x`` as one vector starting ``offset`` floats past a 16-byte boundary (see :func:`eigen_packet_mask`)."""
    a = np.asarray(x, np.float32)
    flat = a.reshape(-1)
    packet = eigen_packet_mask(flat.size, offset)
    out = eigen_logistic_packet(flat)
    scalar = ~packet
    if scalar.any():
        out[scalar] = eigen_logistic_scalar(flat[scalar])
    return out.reshape(a.shape)

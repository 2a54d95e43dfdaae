"""Profile "xnnpack", float32 EXP, LOG, SQRT, RSQRT, SIN, COS, ELU and LEAKY_RELU: the microkernels XNNPACK runs on
x86-64 with AVX-512F (``src/configs/unary-elementwise-config.c``; the names are the symbols in LiteRT 2.3.0's
``libpywrap_litert_common.so``, whose machine code settles what the stored XNNPACK sources leave open), bit for bit,
under the MXCSR FTZ + DAZ XNNPACK runs with. NumPy only: every step an elementwise float32 operation (``mul_ftz`` /
``add_ftz`` / ``sub_ftz`` / ``div_ftz`` and ``fma``: one rounding, DAZ on the operands, FTZ with tininess after
rounding, x86's NaN rules). Measured against LiteRT 2.3.0 + the XNNPACK delegate on this CPU
(tests/test_xnnpack_float_transcendental.py: 2^16 random bit patterns, every 2^12-th bit pattern, normals, the edges
and NaN payloads, an odd size: the vector tail; every kernel is elementwise).

* EXP: ``xnn_f32_vexp_ukernel__avx512f_rational_3_2_div_u16`` as compiled in 2.3.0 (its machine code: another form
  and other constants than the stored ``src/f32-vexp/rational-3-2.c.in``, whose ``p / q`` differs in 5.5% of
  values): ``z' = min(max(log2e * x, -127), 128)`` (a NaN gives -127: exp(NaN) = 0),
  ``z = (z' + 1.5 * 2^23) - 1.5 * 2^23``, ``r = z' - z``, ``p = fma(r, fma(r, p2, p1), p0)``,
  ``q = fma(r, fma(r, q2, q1), 1)``, ``y = (r * p / q + 1) * 2^z`` with ``2^z = bits(z + 8388735) << 23``
  (z = -127: 0; z = 128: inf).
* LOG: ``xnn_f32_vlog_ukernel__avx512f_rational_3_3_div_u16`` (``src/f32-vlog/rational-3-3.c.in``):
  ``v = x * sqrt2'``; the exponent ``e`` from v's bits (``srai(bits & 0xff800000, 8) | 256.0`` minus 383; a zero
  gets the sign bit first: -inf); ``m = (bits & 0x7fffff | 1.0) * sqrt1_2' - 1``;
  ``p = m * fma(m, fma(m, a3, 1), 1)``, ``q = fma(m, fma(m, fma(m, b3, b2), b1), 1)``; ``y = fma(e, ln2, p / q)``.
  Then (measured, the 2.3.0 kernel's special cases): +inf where ``v`` is +inf (x * sqrt2' overflowing, x = +inf),
  0x7FC00001 for a negative x, a NaN x quieted; +-0 (and a subnormal: DAZ) give -inf.
* SQRT: ``xnn_f32_vsqrt_ukernel__avx512f_rsqrt_u16`` (``src/f32-vsqrt/simd-rsqrt.c.in``): ``t0 = rsqrt14(x)``,
  ``t = t0 - (x * (t0 * t0) - 1) * (0.5 * t0)`` (every step rounded: no FMA, measured), ``y = x * (x != 0 ? t :
  0)``, +inf for +inf; a negative x gives the default NaN.
* RSQRT: ``xnn_f32_vrsqrt_ukernel__avx512f_rsqrt_u32`` (``src/f32-vrsqrt/simd-rsqrt.c.in``): the same ``t``;
  +inf gives +0 (measured), +-0 the default NaN (``0 * inf``).
* ``rsqrt14``: ``vrsqrt14ps`` (``_mm512_rsqrt14_ps``), exactly: x scaled by ``4^-n`` into [1, 4); per 1/32 of
  [1, 2) (1/16 of [2, 4)) a line ``c - d * 2^8 * (x' - y)`` (``2^7`` in [2, 4)) with ``x'`` x truncated to 15
  mantissa bits, ``y`` the interval's midpoint, exact in float64, truncated to 17 significant bits, times
  ``2^-19`` and ``2^-n``; 1.0 gives 1.0. The lines (``_RSQRT14_C``, ``_RSQRT14_D``) are measured: fitted to this
  CPU's ``vrsqrt14ps`` over all 2^24 inputs in [1, 4) (one line per interval fits every input, uniquely); they equal
  Intel's published reference implementation of VRSQRT14 (as in valgrind's RECIP14.c).
* SIN and COS: ``xnn_f32_vsin_ukernel__avx512f_rational_5_4_div_u32`` / ``xnn_f32_vcos_...``
  (``src/f32-vsin/rational-5-4.c.in``): ``k = roundscale(x * (1/2pi))``, ``x = fma(k, -6.28125, x)``,
  ``x = fma(-1.9353072e-3, k, x)``; COS then ``x = (pi/2 - x) + -4.371139e-8`` (pi/2's low part: in the 2.3.0
  machine code, not in the stored source, without it 3.4% of values differ); folded into
  [-pi/2, pi/2] by ``min(x, pi - x)``, ``max(x, -pi - x)``, ``min(x, pi - x)``;
  ``y = x * fma(x2, fma(x2, a5, a3), 1) / fma(x2, fma(x2, b4, b2), 1)``.
* ELU (the delegate's alpha 1, prescale 1, beta 1): ``xnn_f32_velu_ukernel__avx512f_rr1_p6_u64``
  (``src/f32-velu/avx512f-rr1-p6.c.in``): ``z = max(-0x1.154246p4, x)``, ``n = fma(z, log2e, 0x1.8000FEp23)``,
  ``s = bits(n) << 23``, ``t = fma(n - magic, -ln2, z)``, ``p = fma(fma(fma(fma(c6, t, c5), t, c4), t, c3), t,
  c2) * t``, ``y = fma(fma(p, t * s, t * s), 1, fmsub(s, 1, 1))``; ``x * 1`` where ``!(x < 0)`` (a NaN too).
* LEAKY_RELU (float32): ``xnn_f32_vlrelu_ukernel__avx512f_u16``: ``x * alpha`` where ``x < 0`` (DAZ compare),
  else x's own bits (a subnormal passes unflushed: no arithmetic touches it).

An AVX2-only CPU runs other kernels (fma3/avx, ``rsqrt`` 12-bit estimates; not emulated: the tests skip there).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from refinterp.ops.common import OpContext
from refinterp.ops.emulation.xnnpack_float import flush_denormals, fma32_ftz_numpy
from refinterp.ops.emulation.xnnpack_float_math import (
    _DEFAULT_NAN,
    _QUIET_BIT,
    ELEMENTWISE,
    _hexf,
    add_ftz,
    div_ftz,
    max_x86,
    min_x86,
    mul_ftz,
    prepare_elementwise,
    sub_ftz,
)

F32 = np.float32


def _bits(x: Any) -> np.ndarray:
    return np.asarray(x, F32).view(np.uint32)


def _from_bits(bits: Any) -> np.ndarray:
    return np.asarray(bits, np.uint32).view(F32)


def fma(a: Any, b: Any, c: Any) -> np.ndarray:
    """``vfmadd``: ``a * b + c`` rounded once, DAZ / FTZ; a NaN operand's bits (quieted; the first of a, b, c)
    come out, else an invalid operation's default NaN."""
    a, b, c = (np.asarray(v, F32) for v in (a, b, c))
    with np.errstate(all="ignore"):
        result = fma32_ftz_numpy(a, b, c)
    bits = np.where(np.isnan(result), _DEFAULT_NAN, _bits(result))
    for operand in (c, b, a):  # the first NaN operand wins: applied last
        bits = np.where(np.isnan(operand), _bits(operand) | _QUIET_BIT, bits)
    return _from_bits(bits.astype(np.uint32))


# ------------------------------------------------------------------------------------------------
# EXP: 2^z times 1 + r p(r) / q(r) (the 2.3.0 kernel's form and constants, read from its machine code)

_LOG2E = _hexf("0x1.715476p+0")
_ROUND_MAGIC = F32(12582912.0)  # 1.5 * 2^23
_EXPONENT_MAGIC = F32(8388735.0)  # 2^23 + 127
_EXP_P = (_hexf("0x1.6ae8e6p-8"), _hexf("0x1.89daf6p-5"), _hexf("0x1.62e430p-1"))
_EXP_Q = (_hexf("0x1.89034ep-6"), _hexf("-0x1.1bdd2ap-2"))


def exp_rational_3_2(x: np.ndarray) -> np.ndarray:
    """``xnn_f32_vexp_ukernel__avx512f_rational_3_2_div_u16`` as LiteRT 2.3.0 compiled it (module docstring), per
    element: ``z' = min(max(log2e * x, -127), 128)`` (a NaN: -127), ``z = (z' + 1.5 * 2^23) - 1.5 * 2^23``,
    ``r = z' - z``, ``y = (r * fma(r, fma(r, p2, p1), p0) / fma(r, fma(r, q2, q1), 1) + 1) * 2^z`` with
    ``2^z = bits(z + 8388735) << 23`` (0 for z = -127, inf for z = 128)."""
    x = flush_denormals(np.asarray(x, F32))
    p2, p1, p0 = _EXP_P
    q2, q1 = _EXP_Q
    one = F32(1)
    with np.errstate(all="ignore"):
        z_prime = min_x86(max_x86(mul_ftz(_LOG2E, x), F32(-127)), F32(128))
        z = add_ftz(add_ftz(z_prime, _ROUND_MAGIC), -_ROUND_MAGIC)
        r = sub_ftz(z_prime, z)
        p = fma(r, fma(r, p2, p1), p0)
        q = fma(r, fma(r, q2, q1), one)
        two_z = _from_bits((_bits(add_ftz(z, _EXPONENT_MAGIC)) << np.uint32(23)).astype(np.uint32))
        return mul_ftz(add_ftz(div_ftz(mul_ftz(r, p), q), one), two_z)


# ------------------------------------------------------------------------------------------------
# LOG: exponent from the bits, rational 3/3 of log(1 + m)

_SQRT2 = F32(1.4142134190e+00)
_SQRT1_2 = F32(7.0710688829e-01)
_LN2 = F32(0.69314718055994531)
_LOG_ALPHA3 = F32(1.824996918440e-01)
_LOG_BETA = (F32(1.5), F32(0.599170029163), F32(0.049584995955))
#: the NaN LOG writes for a negative input (measured)
_LOG_NEGATIVE_NAN = np.uint32(0x7FC00001)


def _signed_getexp(a: np.ndarray) -> np.ndarray:
    """``xnn_signed_getexp_f32``: the unbiased exponent as a float; -inf for a zero (DAZ: a subnormal compares
    equal to 0), a NaN holding the exponent bits for a negative value."""
    bits = _bits(a)
    with np.errstate(invalid="ignore"):
        zero = flush_denormals(a) == 0
    bits = np.where(zero, bits | np.uint32(0x80000000), bits)
    shifted = ((bits & np.uint32(0xFF800000)).view(np.int32) >> 8).view(np.uint32)
    return sub_ftz(_from_bits((shifted | _bits(F32(256.0))).astype(np.uint32)), F32(383.0))


def log_rational_3_3(x: np.ndarray) -> np.ndarray:
    """``xnn_f32_vlog_ukernel__avx512f_rational_3_3_div_u16`` (module docstring), per element."""
    x = flush_denormals(np.asarray(x, F32))
    one = F32(1)
    b1, b2, b3 = _LOG_BETA
    with np.errstate(all="ignore"):
        v = mul_ftz(x, _SQRT2)
        exponent = _signed_getexp(v)
        m = _from_bits(((_bits(v) & np.uint32(0x007FFFFF)) | _bits(one)).astype(np.uint32))
        m = sub_ftz(mul_ftz(m, _SQRT1_2), one)
        p = fma(m, _LOG_ALPHA3, one)
        p = fma(m, p, one)
        p = mul_ftz(m, p)
        q = fma(m, b3, b2)
        q = fma(m, q, b1)
        q = fma(m, q, one)
        y = fma(exponent, _LN2, div_ftz(p, q))
        # the 2.3.0 kernel's special cases (measured): x * sqrt2' overflowing (x >= 0x1.6a09e8p127, +inf) gives
        # +inf, a negative x 0x7FC00001, a NaN x itself quieted
        y = np.where(np.isposinf(v), F32(np.inf), y).astype(F32)
        y_bits = np.where(x < 0, _LOG_NEGATIVE_NAN, _bits(y))
        y_bits = np.where(np.isnan(x), _bits(x) | _QUIET_BIT, y_bits)
        return _from_bits(y_bits.astype(np.uint32))


# ------------------------------------------------------------------------------------------------
# SQRT, RSQRT: vrsqrt14ps and one Newton-Raphson step

#: (c, d) per interval: [1, 2) in 32 intervals of 1/32, then [2, 4) in 32 intervals of 1/16 (module docstring)
_RSQRT14_C = np.array([
    520261, 512437, 504953, 497790, 490922, 484331, 478001, 471909, 466046, 460397, 454947, 449688, 444606, 439694,
    434939, 430335, 425875, 421551, 417355, 413284, 409329, 405487, 401748, 398111, 394571, 391127, 387770, 384498,
    381307, 378194, 375155, 372190,
    367881, 362349, 357056, 351992, 347136, 342475, 337997, 333693, 329545, 325551, 321697, 317977, 314385, 310910,
    307549, 304295, 301139, 298079, 295115, 292237, 289439, 286722, 284080, 281508, 279006, 276569, 274195, 271882,
    269625, 267425, 265276, 263178], np.float64)
_RSQRT14_D = np.array([
    1001, 955, 915, 877, 841, 807, 775, 747, 719, 693, 669, 647, 625, 603, 585, 567, 549, 533, 517, 501, 487, 473,
    461, 449, 437, 425, 415, 403, 393, 385, 375, 367,
    707, 675, 647, 619, 595, 571, 549, 527, 509, 491, 473, 457, 441, 427, 413, 401, 389, 377, 365, 355, 345, 335,
    325, 317, 309, 301, 293, 285, 279, 271, 265, 259], np.float64)


def rsqrt14(x: np.ndarray) -> np.ndarray:
    """``vrsqrt14ps`` under DAZ, exactly (module docstring): NaN -> the NaN quieted, negative -> the default NaN,
    +-0 (a subnormal too) -> +-inf, +inf -> +0."""
    x = flush_denormals(np.asarray(x, F32))
    bits = _bits(x).astype(np.int64)
    exponent = ((bits >> 23) & 0xFF) - 127
    mantissa = bits & 0x7FFFFF
    odd = (exponent & 1).astype(bool)  # odd exponent: x scaled into [2, 4)
    half_exponent = (exponent - odd) // 2
    segment = (mantissa >> 18) + 32 * odd
    base = np.where(odd, 2.0, 1.0)
    truncated = base * (1.0 + (mantissa >> 8) * 2.0 ** -15)
    midpoint = base * (1.0 + 1.0 / 64 + (mantissa >> 18) / 32.0)
    slope = _RSQRT14_D[segment] * np.where(odd, 128.0, 256.0)
    line = _RSQRT14_C[segment] - slope * (truncated - midpoint)  # exact in float64
    line = (line.view(np.int64) & ~np.int64((1 << 36) - 1)).view(np.float64)  # 17 significant bits
    estimate = np.where((mantissa == 0) & ~odd, 1.0, line * 2.0 ** -19)  # 1.0 (an even power of 2) is exact
    result = np.ldexp(estimate, np.clip(-half_exponent, -200, 200)).astype(F32)
    with np.errstate(invalid="ignore"):
        result = np.where(x == 0, np.copysign(F32(np.inf), x), result)
        result = np.where(np.isposinf(x), F32(0), result)
        result_bits = np.where(x < 0, _DEFAULT_NAN, _bits(result.astype(F32)))
    result_bits = np.where(np.isnan(x), _bits(x) | _QUIET_BIT, result_bits)
    return _from_bits(result_bits.astype(np.uint32))


def _newton_rsqrt(x: np.ndarray) -> np.ndarray:
    """``t0 = rsqrt14(x)``; ``t0 - (x * (t0 * t0) - 1) * (0.5 * t0)``, every step rounded (no FMA: measured,
    ``src/f32-vrsqrt/simd-rsqrt.c.in``)."""
    one = F32(1)
    t0 = rsqrt14(x)
    t3 = sub_ftz(mul_ftz(x, mul_ftz(t0, t0)), one)
    return sub_ftz(t0, mul_ftz(t3, mul_ftz(F32(0.5), t0)))


def sqrt_rsqrt_nr(x: np.ndarray) -> np.ndarray:
    """``xnn_f32_vsqrt_ukernel__avx512f_rsqrt_u16`` (``src/f32-vsqrt/simd-rsqrt.c.in``): ``x * t`` with ``t`` the
    Newton-refined rsqrt14, 0 where ``x == 0`` (``cmpneq`` mask), +inf where ``x == +inf``."""
    x = flush_denormals(np.asarray(x, F32))
    with np.errstate(all="ignore"):
        t = np.where(x != 0, _newton_rsqrt(x), F32(0)).astype(F32)  # a NaN compares unequal: kept
        y = mul_ftz(x, t)
        return np.where(np.isposinf(x), F32(np.inf), y).astype(F32)


def rsqrt_nr(x: np.ndarray) -> np.ndarray:
    """``xnn_f32_vrsqrt_ukernel__avx512f_rsqrt_u32`` (``src/f32-vrsqrt/simd-rsqrt.c.in``): the Newton-refined
    rsqrt14; +0 for +inf (measured; the formula alone gives NaN), the default NaN for +-0 (``0 * inf``)."""
    x = flush_denormals(np.asarray(x, F32))
    with np.errstate(all="ignore"):
        return np.where(np.isposinf(x), F32(0), _newton_rsqrt(x)).astype(F32)


# ------------------------------------------------------------------------------------------------
# SIN, COS: reduction by 2pi, folding into [-pi/2, pi/2], rational 5/4

_PI = F32(3.1415927)
_INV_2PI = F32(0.15915494)
_HALF_PI = F32(1.5707964)
_HALF_PI_LO = _hexf("-0x1.777a5cp-25")
_2PI_HI = F32(6.28125)
_2PI_LO = F32(1.9353072e-3)
_SIN_ALPHA = (F32(-1.3314664364e-01), F32(3.2340581529e-03))
_SIN_BETA = (F32(3.3519912511e-02), F32(4.8770775902e-04))


def sin_cos_rational_5_4(x: np.ndarray, cosine: bool = False) -> np.ndarray:
    """``xnn_f32_vsin_ukernel__avx512f_rational_5_4_div_u32`` (``cosine``: ``xnn_f32_vcos_...``, which takes
    ``(pi/2 - x) + -4.371139e-8`` after the reduction: pi/2's low part, read from the 2.3.0 machine code), per
    element (module docstring)."""
    x = flush_denormals(np.asarray(x, F32))
    a3, a5 = _SIN_ALPHA
    b2, b4 = _SIN_BETA
    one = F32(1)
    with np.errstate(all="ignore"):
        k = ELEMENTWISE["ROUND"](mul_ftz(x, _INV_2PI))  # vrndscaleps to nearest even (the product is flushed)
        v = fma(k, -_2PI_HI, x)
        v = fma(-_2PI_LO, k, v)
        if cosine:
            v = add_ftz(sub_ftz(_HALF_PI, v), _HALF_PI_LO)
        v = min_x86(v, sub_ftz(_PI, v))
        v = max_x86(v, sub_ftz(-_PI, v))
        v = min_x86(v, sub_ftz(_PI, v))
        v2 = mul_ftz(v, v)
        p = mul_ftz(v, fma(v2, fma(v2, a5, a3), one))
        q = fma(v2, fma(v2, b4, b2), one)
        return div_ftz(p, q)


# ------------------------------------------------------------------------------------------------
# ELU: rr1-p6 expm1

_ELU_SAT_CUTOFF = _hexf("-0x1.154246p+4")
_ELU_MAGIC = _hexf("0x1.8000FEp23")
_ELU_LOG2E = _hexf("0x1.715476p+0")
_ELU_MINUS_LN2 = _hexf("-0x1.62E430p-1")
_ELU_C = tuple(_hexf(v) for v in ("0x1.6B7338p-10", "0x1.12278Ep-7", "0x1.555716p-5", "0x1.5554B0p-3",
                                  "0x1.FFFFFEp-2"))


def elu_rr1_p6(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """``xnn_f32_velu_ukernel__avx512f_rr1_p6_u64`` with prescale 1, beta 1 (module docstring), per element."""
    x = flush_denormals(np.asarray(x, F32))
    alpha32 = F32(alpha)
    c6, c5, c4, c3, c2 = _ELU_C
    with np.errstate(all="ignore"):
        z = max_x86(_ELU_SAT_CUTOFF, mul_ftz(x, F32(1)))
        n = fma(z, _ELU_LOG2E, _ELU_MAGIC)
        s = _from_bits((_bits(n) << np.uint32(23)).astype(np.uint32))
        n = sub_ftz(n, _ELU_MAGIC)
        t = fma(n, _ELU_MINUS_LN2, z)
        p = fma(c6, t, c5)
        p = fma(p, t, c4)
        p = fma(p, t, c3)
        p = fma(p, t, c2)
        p = mul_ftz(p, t)
        t = mul_ftz(t, s)
        s = fma(s, alpha32, -alpha32)  # fmsub(s, alpha, alpha)
        p = fma(p, t, t)
        y = fma(p, alpha32, s)
        negative = x < 0  # _CMP_NLT_US: a NaN takes the x * beta lane
        return np.where(negative, y, mul_ftz(x, F32(1))).astype(F32)


# ------------------------------------------------------------------------------------------------
# LEAKY_RELU (float32)


def leaky_relu_avx512(x: np.ndarray, alpha: float) -> np.ndarray:
    """``xnn_f32_vlrelu_ukernel__avx512f_u16``: ``mask_mul(x, x < 0, x, slope)`` (module docstring)."""
    x = np.asarray(x, F32)
    with np.errstate(invalid="ignore"):
        negative = flush_denormals(x) < 0  # _CMP_LT_OQ under DAZ
        return np.where(negative, mul_ftz(x, F32(alpha)), x).astype(F32)


# ------------------------------------------------------------------------------------------------
# the delegate's decision and the kernels


TRANSCENDENTAL = {
    "LOG": log_rational_3_3,
    "SQRT": sqrt_rsqrt_nr,
    "RSQRT": rsqrt_nr,
    "EXP": exp_rational_3_2,
    "SIN": lambda x: sin_cos_rational_5_4(x, cosine=False),
    "COS": lambda x: sin_cos_rational_5_4(x, cosine=True),
    "ELU": elu_rr1_p6,
}
TRANSCENDENTAL_RULE = {
    "LOG": "float32: XNNPACK avx512f rational 3/3 log with division, exponent from the bits, FTZ/DAZ (f32-vlog)",
    "SQRT": "float32: x * (vrsqrt14ps + one Newton-Raphson step), 0 at +-0, FTZ/DAZ (XNNPACK f32-vsqrt rsqrt)",
    "RSQRT": "float32: vrsqrt14ps + one Newton-Raphson step, +0 at +inf, FTZ/DAZ (XNNPACK f32-vrsqrt rsqrt)",
    "EXP": "float32: XNNPACK avx512f 2^z * (1 + r p(r) / q(r)), r = f32(x * log2e) - z, FTZ/DAZ (f32-vexp)",
    "SIN": "float32: XNNPACK avx512f rational 5/4 sine after a 2pi reduction, FTZ/DAZ (f32-vsin)",
    "COS": "float32: XNNPACK avx512f rational 5/4 sine of (pi/2 - reduced x) + pi/2's low part, FTZ/DAZ (f32-vcos)",
    "ELU": "float32: XNNPACK avx512f rr1-p6 expm1, x where x >= 0, FTZ/DAZ (f32-velu)",
}
LEAKY_RELU_RULE = "float32: x * alpha where x < 0 under DAZ, else x's bits (XNNPACK f32-vlrelu)"


@dataclass(frozen=True)
class FloatTranscendental:
    """A float32 EXP / LOG / SQRT / RSQRT / SIN / COS / ELU the delegate takes (``xnn_define_unary``)."""
    op: str


def prepare_transcendental(ctx: OpContext, reference_prepare: Any) -> FloatTranscendental | None:
    """The delegate takes the float32 operator whose shapes it accepts (``prepare_elementwise``: at most 6
    dimensions, none 0); None otherwise (the reference kernel)."""
    decided = prepare_elementwise(ctx, reference_prepare)
    return None if decided is None else FloatTranscendental(decided.op)


def run_transcendental(q: FloatTranscendental, x: np.ndarray) -> np.ndarray:
    return TRANSCENDENTAL[q.op](np.asarray(x, F32)).astype(F32)


@dataclass(frozen=True)
class FloatLeakyRelu:
    """A float32 LEAKY_RELU the delegate takes (``xnn_define_leaky_relu`` with the operator's alpha)."""
    alpha: float


def prepare_leaky_relu(ctx: OpContext, reference_prepare: Any) -> FloatLeakyRelu | None:
    """float32: ``FloatLeakyRelu`` where the delegate takes it (``prepare_elementwise``, a normal alpha), else
    None (LiteRT's kernel)."""
    decided = prepare_elementwise(ctx, reference_prepare)
    alpha = F32(ctx.options.get("alpha", 0.2))
    # the delegate takes a normal alpha only (measured: 0, a subnormal, inf and NaN stay with LiteRT)
    if decided is None or not (np.isfinite(alpha) and abs(alpha) >= np.finfo(F32).tiny):
        return None
    return FloatLeakyRelu(float(alpha))


def run_leaky_relu(q: FloatLeakyRelu, x: np.ndarray) -> np.ndarray:
    return leaky_relu_avx512(x, q.alpha)

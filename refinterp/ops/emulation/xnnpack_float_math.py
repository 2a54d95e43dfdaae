"""Profile "xnnpack", float32 SOFTMAX: XNNPACK's microkernels on x86-64 with AVX-512F, bit for bit, under the MXCSR
FTZ + DAZ XNNPACK runs with (measured against LiteRT 2.3.0 + the XNNPACK delegate on this CPU;
tests/test_xnnpack_float_math.py). NumPy only: every step is an elementwise float32 operation over the rows.

SOFTMAX (``src/operators/softmax-nc.c``, ``src/operator-run.c`` ``xnn_compute_floating_point_softmax``), per row (the
last dimension):

* the maximum: ``xnn_f32_rmax_ukernel__avx512f_u64_acc4`` (``src/f32-rminmax/avx512f.c.in``) from -inf,
  ``maxps(acc, x)`` in its lane order (``rmax_avx512``);
* ``raddstoreexpminusmax`` (``src/f32-raddstoreexpminusmax/avx512f-rr2-p5.c.in``, u64 acc2) stores
  ``f = exp(x - max)`` and sums it. The exp: ``x = i - max``; ``n = fma(x, log2e, 0x1.8000FEp23)``,
  ``s = bits(n) << 23``, ``n -= magic``; ``t = fma(n, -ln2_hi, x)``, ``t = fma(n, -ln2_lo, t)``;
  ``p = fma(c5, t, c4)``, ``p = fma(p, t, c3)``, ``fma(p, t, c2)``, ``fma(p, t, c1)``; ``f = fma(t * s, p, s)``;
  ``f = 0`` where ``x < -0x1.5D589Ep6``. Every step an FMA (measured: the template version read writes ``mul`` then
  ``add``, the 2.3.0 kernel computes FMAs; the unfused form differs in the last bit of many outputs). The sum: the
  row in blocks of 64 (vector ``j`` of four into accumulator ``j % 2``), ``acc0 + acc1``, the remaining 16-float
  vectors, the zero-padded tail (masked add), then ``_mm512_reduce_add_ps`` (lanes halved 16 -> 8 -> 4 -> 2 -> 1);
* ``y = f32(1 / sum) * f`` (measured: not ``f / sum``; the reciprocal is the first operand, so a NaN sum's bits win).

Every operation is emulated with x86's NaN propagation (``x86_nan``) and FTZ with tininess after rounding
(``mul_ftz``, ``add_ftz``, ``div_ftz``, ``fma32_ftz_numpy``). Not reproduced: which NaN's bits come out of a row
holding a NaN when rmax's ``maxps`` lane order keeps that NaN from the maximum (the row is all NaN either way).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from refinterp.ops.common import OpContext
from refinterp.ops.emulation.xnnpack_float import _TININESS_BOUND, flush_denormals, fma32_ftz_numpy

F32 = np.float32


def _hexf(text: str) -> np.float32:
    return F32(float.fromhex(text))


_QUIET_BIT = np.uint32(0x00400000)
#: x86's default NaN ("real indefinite"), the result of an invalid operation (inf - inf, 0 * inf, 0 / 0)
_DEFAULT_NAN = np.uint32(0xFFC00000)


def x86_nan(a: Any, b: Any, result: np.ndarray) -> np.ndarray:
    """SSE/AVX NaN propagation for ``result = a op b``: a NaN first operand (quieted), else a NaN second operand
    (quieted), else a NaN the operation made is the default NaN."""
    a_bits = np.asarray(a, F32).view(np.uint32) | _QUIET_BIT
    b_bits = np.asarray(b, F32).view(np.uint32) | _QUIET_BIT
    bits = np.where(np.isnan(result), _DEFAULT_NAN, np.asarray(result, F32).view(np.uint32))
    bits = np.where(np.isnan(b), b_bits, bits)
    return np.where(np.isnan(a), a_bits, bits).astype(np.uint32).view(F32)


def _flush_tiny(exact: np.ndarray) -> np.ndarray:
    rounded = exact.astype(F32)
    with np.errstate(invalid="ignore"):
        return np.where(np.abs(exact) < _TININESS_BOUND, np.copysign(F32(0), rounded), rounded).astype(F32)


def mul_ftz(a: Any, b: Any) -> np.ndarray:
    """float32 ``a * b`` under DAZ + FTZ: the float64 product is exact; a tiny result (tininess after rounding,
    ``_TININESS_BOUND``) is a zero of its sign; x86 NaNs."""
    a, b = flush_denormals(a), flush_denormals(b)
    with np.errstate(all="ignore"):
        return x86_nan(a, b, _flush_tiny(a.astype(np.float64) * b.astype(np.float64)))


def add_ftz(a: Any, b: Any) -> np.ndarray:
    """float32 ``a + b`` under DAZ + FTZ (a sum below 2^-126 is exact: the rounded result tells tininess)."""
    a, b = flush_denormals(a), flush_denormals(b)
    with np.errstate(invalid="ignore", over="ignore"):
        return x86_nan(a, b, flush_denormals(a + b))


def sub_ftz(a: Any, b: Any) -> np.ndarray:
    """float32 ``a - b`` under DAZ + FTZ."""
    a, b = flush_denormals(a), flush_denormals(b)
    with np.errstate(invalid="ignore", over="ignore"):
        return x86_nan(a, b, flush_denormals(a - b))


def div_ftz(a: Any, b: Any) -> np.ndarray:
    """float32 ``a / b`` under DAZ + FTZ: the float64 quotient rounds to float32 correctly (53 >= 2 * 24 + 2) and
    compares with the 25-bit tininess bound as the exact quotient does."""
    a, b = flush_denormals(a), flush_denormals(b)
    with np.errstate(all="ignore"):
        return x86_nan(a, b, _flush_tiny(a.astype(np.float64) / b.astype(np.float64)))


# ------------------------------------------------------------------------------------------------
# SOFTMAX

_LOG2E = _hexf("0x1.715476p+0")
_MAGIC_BIAS = _hexf("0x1.8000FEp23")
_MINUS_LN2_HI = _hexf("-0x1.62E400p-1")
_MINUS_LN2_LO = _hexf("-0x1.7F7D1Cp-20")
_C5 = _hexf("0x1.0F9F9Cp-7")
_C4 = _hexf("0x1.573A1Ap-5")
_C3 = _hexf("0x1.555A80p-3")
_C2 = _hexf("0x1.FFFDC6p-2")
_C1 = _hexf("0x1.FFFFF6p-1")
_DENORM_CUTOFF = _hexf("-0x1.5D589Ep6")


def _muladd(a: Any, b: Any, c: Any, fused: bool) -> np.ndarray:
    return fma32_ftz_numpy(a, b, c) if fused else add_ftz(mul_ftz(a, b), c)


def expminus_rr2_p5(vx: np.ndarray, fused: bool = True) -> np.ndarray:
    """``exp(x)`` for ``x = i - max <= 0`` as ``f32-raddstoreexpminusmax/avx512f-rr2-p5.c.in`` computes it."""
    with np.errstate(all="ignore"):
        n = _muladd(vx, _LOG2E, _MAGIC_BIAS, fused)
        s = (n.view(np.uint32) << np.uint32(23)).astype(np.uint32).view(F32)
        n = sub_ftz(n, _MAGIC_BIAS)
        t = _muladd(n, _MINUS_LN2_HI, vx, fused)
        t = _muladd(n, _MINUS_LN2_LO, t, fused)
        p = _muladd(_C5, t, _C4, fused)
        p = _muladd(p, t, _C3, fused)
        p = _muladd(p, t, _C2, fused)
        p = _muladd(p, t, _C1, fused)
        t = mul_ftz(t, s)
        f = _muladd(t, p, s, fused)
        f = np.where(vx < _DENORM_CUTOFF, F32(0), f).astype(F32)
    # a NaN x carries its payload through every step (x86 propagates the NaN operand)
    return np.where(np.isnan(vx), (vx.view(np.uint32) | _QUIET_BIT).view(F32), f).astype(F32)


def _reduce_add_512(acc: np.ndarray) -> np.ndarray:
    """``_mm512_reduce_add_ps`` over the last axis (16 lanes): halves added, 16 -> 8 -> 4 -> 2 -> 1."""
    while acc.shape[-1] > 1:
        half = acc.shape[-1] // 2
        acc = add_ftz(acc[..., :half], acc[..., half:])
    return acc[..., 0]


def lane_sum_avx512(f: np.ndarray, tile: int = 64, accumulators: int = 2) -> np.ndarray:
    """The rows' sums (last axis) as the avx512f raddstoreexpminusmax ``u{tile}_acc{accumulators}`` adds them."""
    rows, n = f.shape
    lanes = 16
    vectors = tile // lanes
    acc = np.zeros((accumulators, rows, lanes), F32)
    position = 0
    while n - position >= tile:
        for j in range(vectors):
            start = position + j * lanes
            acc[j % accumulators] = add_ftz(acc[j % accumulators], f[:, start:start + lanes])
        position += tile
    slice_ = 1
    while slice_ < accumulators:
        for a in range(0, accumulators, 2 * slice_):
            if a + slice_ < accumulators:
                acc[a] = add_ftz(acc[a], acc[a + slice_])
        slice_ *= 2
    total = acc[0]
    while n - position >= lanes:
        total = add_ftz(total, f[:, position:position + lanes])
        position += lanes
    if position < n:
        tail = f[:, position:]
        total = total.copy()
        total[:, :tail.shape[1]] = add_ftz(total[:, :tail.shape[1]], tail)
    return _reduce_add_512(total)


def max_x86(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``maxps(a, b)``: ``a`` where ``a > b``, else ``b`` (a NaN on either side, or equal values: ``b``)."""
    with np.errstate(invalid="ignore"):
        return np.where(a > b, a, b).astype(F32)


def rmax_avx512(rows: np.ndarray, init: np.float32) -> np.ndarray:
    """Each row's maximum as ``xnn_f32_rmax_ukernel__avx512f_u64_acc4`` (``src/f32-rminmax/avx512f.c.in``) takes it
    from ``init``: 64-float blocks into four 16-lane accumulators, ``max(max(a0, a1), max(a2, a3))``, 16-float
    vectors, the masked tail, then lanes halved 16 -> 8 -> 4 -> 2 -> 1; every step ``maxps(acc, value)``."""
    count, n = rows.shape
    acc = np.full((4, count, 16), init, F32)
    position = 0
    while n - position >= 64:
        for j in range(4):
            acc[j] = max_x86(acc[j], rows[:, position + 16 * j:position + 16 * (j + 1)])
        position += 64
    total = max_x86(max_x86(acc[0], acc[1]), max_x86(acc[2], acc[3]))
    while n - position >= 16:
        total = max_x86(total, rows[:, position:position + 16])
        position += 16
    if position < n:
        rest = n - position
        total[:, :rest] = max_x86(total[:, :rest], rows[:, position:])
    while total.shape[1] > 1:
        half = total.shape[1] // 2
        total = max_x86(total[:, :half], total[:, half:])
    return total[:, 0]


@dataclass(frozen=True)
class FloatSoftmax:
    """A float32 SOFTMAX the delegate takes (``xnnpack_delegate.cc`` ``VisitSoftmaxNode``: beta exactly 1, float32
    input and output; ``xnn_define_softmax`` over the last dimension)."""
    beta: float = 1.0


def prepare_softmax(ctx: OpContext) -> FloatSoftmax | None:
    """The delegate takes a float32 SOFTMAX with beta 1 whose shapes it accepts (at most 6 dimensions, none 0;
    measured: beta 0.5 stays with LiteRT); None otherwise (LiteRT's float kernel: the reference)."""
    x, y = ctx.require_input(0), ctx.output(0)
    if x.type_name != "float32" or y is None or y.type_name != "float32":
        return None
    if np.float32(ctx.options.get("beta", 1.0)) != np.float32(1.0):
        return None
    shapes = [ctx.shape(x), ctx.shape(y)]
    if any(not 1 <= len(shape) <= 6 or 0 in shape for shape in shapes):
        return None
    return FloatSoftmax()


def run_softmax(q: FloatSoftmax, x: np.ndarray) -> np.ndarray:
    return softmax_avx512(np.asarray(x, F32))


SOFTMAX_RULE = ("float32: XNNPACK avx512f rmax, rr2-p5 exp(x - max) summed in 2 x 16 lanes, f * f32(1 / sum), "
                "FTZ/DAZ (raddstoreexpminusmax)")


def softmax_avx512(x: np.ndarray) -> np.ndarray:
    """The float32 SOFTMAX output over the last axis (module docstring): DAZ on the input, the row's maximum
    (``rmax_avx512`` from -inf), ``x - max``, ``expminus_rr2_p5`` (FMA), ``lane_sum_avx512``, ``1 / sum`` and
    ``(1 / sum) * f`` (the NaN of the sum wins: the reciprocal is the first operand)."""
    x = flush_denormals(x)
    rows = x.reshape(-1, x.shape[-1])
    row_max = rmax_avx512(rows, F32(-np.inf))[:, None]
    vx = sub_ftz(rows, row_max)
    f = expminus_rr2_p5(vx)
    total = lane_sum_avx512(f)[:, None]
    return mul_ftz(div_ftz(F32(1), total), f).reshape(x.shape)



# ------------------------------------------------------------------------------------------------
# float32 elementwise operators whose only difference from the reference is XNNPACK's DAZ / FTZ and zero signs


def _clamp_x86(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``minps(hi, maxps(lo, x))`` (``xnn_f32_vclamp``): a NaN x passes, a zero equal to a bound keeps x's sign."""
    return min_x86(F32(hi), max_x86(F32(lo), x))


def min_x86(a: Any, b: Any) -> np.ndarray:
    """``minps(a, b)``: ``a`` where ``a < b``, else ``b`` (a NaN on either side, or equal values: ``b``)."""
    with np.errstate(invalid="ignore"):
        return np.where(np.asarray(a, F32) < np.asarray(b, F32), a, b).astype(F32)


def _quiet(x: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(x), (x.view(np.uint32) | _QUIET_BIT).view(F32), x).astype(F32)


def _rounded(function):
    def rule(x: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):  # a signaling NaN comes out quieted, as roundscale gives it
            return _quiet(function(x))
    return rule


#: operator -> its float32 rule on the flushed input (DAZ); every result is flushed (FTZ). Measured bit for bit on
#: 2^16 random bit patterns, every 2^12-th bit pattern, normals, the edges and NaN payloads
#: (tests/test_xnnpack_float_math.py). The reference differs on subnormal inputs or results (RELU of -1e-38: -0, not
#: the subnormal; CEIL of 1.8e-39: +0, not 1; SQUARE of 1e-22: +0), on NaN payloads (NEG: ``0 - x`` keeps the
#: NaN's sign) and on zero signs (ROUND of -7.8e-18: -0, ``vrndscaleps``; NEG of +0: +0).
ELEMENTWISE = {
    "RELU": lambda x: _clamp_x86(x, 0.0, np.inf),
    "RELU6": lambda x: _clamp_x86(x, 0.0, 6.0),
    "RELU_N1_TO_1": lambda x: _clamp_x86(x, -1.0, 1.0),
    "CEIL": _rounded(np.ceil),
    "FLOOR": _rounded(np.floor),
    "ROUND": _rounded(np.rint),
    "SQUARE": lambda x: mul_ftz(x, x),
    "NEG": lambda x: sub_ftz(F32(0), x),
}
ELEMENTWISE_RULE = {
    "RELU": "float32: minps(inf, maxps(0, x)) under DAZ (XNNPACK f32-vclamp)",
    "RELU6": "float32: minps(6, maxps(0, x)) under DAZ (XNNPACK f32-vclamp)",
    "RELU_N1_TO_1": "float32: minps(1, maxps(-1, x)) under DAZ (XNNPACK f32-vclamp)",
    "CEIL": "float32: roundscale toward +inf under DAZ (XNNPACK f32-vrndu)",
    "FLOOR": "float32: roundscale toward -inf under DAZ (XNNPACK f32-vrndd)",
    "ROUND": "float32: roundscale to nearest even, the zero keeping x's sign, under DAZ (XNNPACK f32-vrndne)",
    "SQUARE": "float32: x * x under DAZ / FTZ (XNNPACK f32-vsqr)",
    "NEG": "float32: 0 - x under DAZ (XNNPACK f32-vneg, measured)",
}


@dataclass(frozen=True)
class FloatElementwise:
    """A float32 RELU / RELU6 / RELU_N1_TO_1 / CEIL / FLOOR / ROUND / SQUARE / NEG the delegate takes."""
    op: str


def prepare_elementwise(ctx: OpContext, reference_prepare: Any) -> FloatElementwise | None:
    """The delegate takes the float32 operator whose shapes it accepts (at most 6 dimensions, none 0); None
    otherwise (the other kinds: the reference kernel, as before)."""
    reference_prepare(ctx)
    x, y = ctx.require_input(0), ctx.output(0)
    if x.type_name != "float32" or y is None or y.type_name != "float32":
        return None
    if any(len(shape) > 6 or 0 in shape for shape in (ctx.shape(x), ctx.shape(y))):
        return None
    return FloatElementwise(ctx.op.name)


def run_elementwise(q: FloatElementwise, x: np.ndarray) -> np.ndarray:
    return flush_denormals(ELEMENTWISE[q.op](flush_denormals(x)))

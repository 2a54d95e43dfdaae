"""Profile "xnnpack", float32 AVERAGE_POOL_2D, MEAN, RESIZE_BILINEAR and HARD_SWISH: XNNPACK's f32 avgpool,
rsum / rdsum, ibilinear and vhswish microkernels on x86-64 with AVX-512F, bit for bit (measured against LiteRT
2.3.0 + the XNNPACK delegate on this CPU; tests/test_xnnpack_float_reduce.py). XNNPACK runs with denormals
disabled (FTZ + DAZ, ``ftz``). On an AVX2-only CPU the avgpool, ibilinear and vhswish (fma3) kernels do the same
arithmetic, but MEAN's rsum is an 8-lane AVX kernel (``src/configs/reduce-config.c``; other last bits, not
emulated, not measured here).

* AVERAGE_POOL_2D (``src/operators/average-pooling-nhwc.c`` -> ``src/f32-avgpool/gen/
  f32-avgpool-9p-minmax-avx512f-u16.c``): the pooling taps of one output pixel go in groups of nine; each
  group is summed as the tree ``((i2 + i3) + (i4 + i5)) + (((i0 + i1) + i8) + (i6 + i7))`` and added to the
  running sum (``prev + group``, the first ``prev`` the zero buffer: +0); a tap outside the image (SAME padding)
  and a missing tap of the last group read the zero buffer (+0). The taps are in indirection-buffer order:
  column by column (kx outer, ky inner). The sum is multiplied (one rounding) by ``f32(1 / count)``, the count of
  the taps inside the image, then clamped to the delegate's bounds of the fused activation (+-inf without one;
  ``_mm512_max_ps(acc, min)`` then ``min``: a NaN becomes the lower bound). A stride above the pooling size is
  refused by ``average-pooling-nhwc.c``: LiteRT's kernel runs. A 1x1 pooling (stride 1) is the delegate's clamp:
  without an activation a copy, else ``max(lo, x)``, ``min(hi, .)`` on the flushed input (a tie or NaN keeps x).
* MEAN (``src/operators/reduce-nd.c``, ``xnn_normalize_reduction``, ``operator-run.c``
  ``xnn_compute_contiguous_reduce`` / ``xnn_compute_discontiguous_reduce``): neighbouring reduced (kept)
  dimensions merged (size-1 dimensions stay), right-aligned on six dimensions. The output starts at +0; for each
  index of the outer reduced dimensions (in order) one microkernel call sums the innermost reduced dimension and
  adds ``sum * f32(1 / N)`` into the output: innermost dimension reduced: ``f32-rsum`` avx512f u32/u64 acc2
  (``src/f32-rsum/simd.c.in``: the i-th 16-float vector into accumulator ``i % 2``, ``acc0 + acc1``, the
  zero-padded tail, lanes halved 16 -> 8 -> 4 -> 2 -> 1), then ``fma(sum, 1/N, out)`` (the compiler contracts
  ``*output += vresult * vscale``); else ``f32-rdsum`` 7p7x (``src/f32-rdsum/simd.c.in``: row by row from +0
  per channel), then ``out + f32(sum * 1/N)``.
* RESIZE_BILINEAR (``src/operators/resize-bilinear-nhwc.c``, ``indirection.c``
  ``xnn_indirection_init_resize_bilinear2d_hwc_f32``, ``src/f32-ibilinear/gen/f32-ibilinear-sse-c8.c``: the x86
  kernel at every ISA level): float weights ``alpha = pos - trunc(pos)``, then ``t = tl + (tr - tl) * a_h``,
  ``b = bl + (br - bl) * a_h``, ``y = t + (b - t) * a_v``, every step rounded (no FMA).
* HARD_SWISH (``src/f32-vhswish/gen/f32-vhswish-avx512f.c``, ``simd.c.in``): ``t = fma(x, 0x1.555556p-3, 0.5)``
  (one rounding), ``t = min(max(t, 0), 1)`` (a NaN ``t`` becomes 0 there), ``y = t * x``.

Which operators the delegate takes (measured: ``delegated_operators`` agrees on every test case): float32 input
and output of at most 6 dimensions, none empty; AVERAGE_POOL_2D with strides at most the pooling size and a fused
activation NONE, RELU, RELU_N1_TO_1 or RELU6; MEAN with constant axes; RESIZE_BILINEAR 4-D with a constant size.
The rest runs LiteRT's builtin kernels (the reference's rule).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from refinterp.ops.common import OpContext
from refinterp.ops.emulation.xnnpack_float import _FLOAT_BOUNDS, fma32_numpy

F32 = np.float32
_TINY = F32(np.finfo(F32).tiny)
#: f32-vhswish: 1/6 rounded to float32
SIXTH = F32(float.fromhex("0x1.555556p-3"))


def ftz(a: np.ndarray) -> np.ndarray:
    """MXCSR FTZ + DAZ (XNNPACK runs with denormals disabled): a subnormal float32 is a zero of its sign, as an
    operand and as a result."""
    a = np.asarray(a, F32)
    return np.where(np.abs(a) < _TINY, np.copysign(F32(0), a), a).astype(F32)


MEAN_RULE = "rsum 2x16-lane sums, fma(sum, 1/N, out) / rdsum row sums (XNNPACK f32 rsum, rdsum)"
BILINEAR_RULE = "t = tl + (tr - tl) * a, rounded each step, no FMA (XNNPACK f32-ibilinear sse)"


_QUIET = np.uint32(0x00400000)
_DEFAULT_NAN = np.array(0xFFC00000, np.uint32).view(F32)


def _x86(result: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """An SSE/AVX arithmetic result with x86's NaN rule (NumPy's own loops pick either operand): the first
    operand's NaN (quieted), else the second's, else the default NaN (0xFFC00000) for an invalid operation."""
    first, second = np.broadcast_arrays(np.asarray(first, F32), np.asarray(second, F32))
    quiet_first = (first.view(np.uint32) | _QUIET).view(F32)
    quiet_second = (second.view(np.uint32) | _QUIET).view(F32)
    out = np.where(np.isnan(result), _DEFAULT_NAN, result)
    out = np.where(np.isnan(second), quiet_second, out)
    return ftz(np.where(np.isnan(first), quiet_first, out))


def _add(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``first + second`` as x86 adds them. The operand order is the compiled code's (a load folded into the add
    is its second operand): it decides which of two NaNs comes out (measured with NaN payloads)."""
    return _x86(first + second, first, second)


def _float_delegable(ctx: OpContext) -> bool:
    tensors = [ctx.input(i) for i in range(ctx.num_inputs)] + [ctx.output(i) for i in range(len(ctx.op.outputs))]
    tensors = [t for t in tensors if t is not None]
    if ctx.require_input(0).type_name != "float32" or ctx.output(0).type_name != "float32":
        return False
    shapes = [ctx.shape(t) for t in tensors]
    return all(len(shape) <= 6 and 0 not in shape for shape in shapes)


# ------------------------------------------------------------------------------------------------
# HARD_SWISH


@dataclass(frozen=True)
class FloatHardSwish:
    pass


def prepare_hard_swish(ctx: OpContext, reference_prepare) -> FloatHardSwish | None:
    reference_prepare(ctx)
    return FloatHardSwish() if _float_delegable(ctx) else None


def hard_swish_vhswish(p: FloatHardSwish, x: np.ndarray) -> np.ndarray:
    """f32-vhswish: ``min(max(fma(x, f32(1/6), 0.5), 0), 1) * x`` (``_mm512_max_ps(t, 0)``: NaN -> 0)."""
    x = ftz(x)
    with np.errstate(invalid="ignore", over="ignore"):
        t = ftz(fma32_numpy(x, SIXTH, F32(0.5)))
        t = np.where(t > F32(0), t, F32(0)).astype(F32)
        t = np.where(t < F32(1), t, F32(1)).astype(F32)
        return ftz(t * x)


# ------------------------------------------------------------------------------------------------
# AVERAGE_POOL_2D


@dataclass(frozen=True)
class FloatAveragePool:
    filter_h: int
    filter_w: int
    stride_h: int
    stride_w: int
    pad_h: int
    pad_w: int
    out_h: int
    out_w: int
    lo: np.float32
    hi: np.float32


def prepare_average_pool(ctx: OpContext, reference_prepare) -> FloatAveragePool | None:
    params = reference_prepare(ctx)
    # average-pooling-nhwc.c (create) refuses a stride above the pooling size; the delegate then leaves it
    if not _float_delegable(ctx) or params.stride_h > params.filter_h or params.stride_w > params.filter_w:
        return None
    w = params.window
    bounds = _FLOAT_BOUNDS.get(int(ctx.options.get("fused_activation_function", 0)))
    if bounds is None:
        return None
    # the delegate's output_min / output_max: +-inf without an activation (LiteRT's kernel: +-FLT_MAX)
    return FloatAveragePool(params.filter_h, params.filter_w, params.stride_h, params.stride_w, w.pad_h, w.pad_w,
                            w.out_h, w.out_w, F32(bounds[0]), F32(bounds[1]))


def _group_sum(taps: list[np.ndarray], zero: np.ndarray) -> np.ndarray:
    """One pass of the 9p microkernel over nine taps (missing taps: the zero buffer)."""
    i = taps + [zero] * (9 - len(taps))
    s018 = ftz(ftz(i[0] + i[1]) + i[8])
    s23 = ftz(i[2] + i[3])
    s45 = ftz(i[4] + i[5])
    s67 = ftz(i[6] + i[7])
    return ftz(ftz(s23 + s45) + ftz(s018 + s67))


def average_pool_avgpool9p(p: FloatAveragePool, x: np.ndarray) -> np.ndarray:
    """f32-avgpool 9p: groups of nine taps summed as a tree and accumulated, times ``f32(1 / count)``, clamped."""
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf, overflow: the IEEE results are wanted
        return _avgpool9p(p, x)


def _avgpool9p(p: FloatAveragePool, x: np.ndarray) -> np.ndarray:
    if p.filter_h == 1 and p.filter_w == 1:
        # the delegate defines a clamp, not a pooling (xnn_define_clamp): without an activation a copy (a
        # subnormal and -0 pass), else f32-vclamp ``max(vmin, x)``, ``min(vmax, .)`` on the flushed input (a tie
        # or a NaN keeps x) (measured)
        if p.lo == -np.inf and p.hi == np.inf:
            return np.array(x, F32, copy=True)
        v = ftz(x)
        v = np.where(p.lo > v, p.lo, v)
        return np.where(p.hi < v, p.hi, v).astype(F32)
    x = ftz(x)
    batch, height, width, channels = x.shape
    zero = np.zeros((batch, p.out_h, p.out_w, channels), F32)
    oy = np.arange(p.out_h) * p.stride_h - p.pad_h
    ox = np.arange(p.out_w) * p.stride_w - p.pad_w
    # the indirection buffer lists the taps column by column (kx outer, ky inner; measured: row order differs)
    order = [(ky, kx) for kx in range(p.filter_w) for ky in range(p.filter_h)]
    count = np.zeros((p.out_h, p.out_w), np.int64)
    taps = []
    for ky, kx in order:
        iy, ix = oy + ky, ox + kx
        inside_y, inside_x = (iy >= 0) & (iy < height), (ix >= 0) & (ix < width)
        inside = inside_y[:, None] & inside_x[None, :]
        count += inside
        gathered = x[:, np.clip(iy, 0, height - 1)][:, :, np.clip(ix, 0, width - 1)]
        taps.append(np.where(inside[None, :, :, None], gathered, F32(0)).astype(F32))
    total = zero
    for start in range(0, max(len(taps), 1), 9):
        total = ftz(total + _group_sum(taps[start:start + 9], zero))
    multiplier = (F32(1) / np.maximum(count, 1).astype(F32)).astype(F32)
    acc = ftz(total * multiplier[None, :, :, None])
    acc = np.where(acc > p.lo, acc, p.lo)  # _mm512_max_ps(vacc, vmin): vacc > vmin ? vacc : vmin (NaN -> vmin)
    acc = np.where(acc < p.hi, acc, p.hi)  # _mm512_min_ps(vacc, vmax)
    return acc.astype(F32)


# ------------------------------------------------------------------------------------------------
# MEAN


@dataclass(frozen=True)
class FloatMean:
    #: the input reshaped to six dimensions (``xnn_normalize_reduction``: neighbouring reduced, or kept, dimensions
    #: merged; right-aligned on the pattern below)
    dims6: tuple[int, ...]
    #: True: the innermost dimension is reduced (rsum; reduced dimensions 1, 3, 5), else rdsum (0, 2, 4)
    contiguous: bool
    scale: np.float32
    output_shape: tuple[int, ...]


def prepare_mean(ctx: OpContext, params: Any) -> FloatMean | None:
    """``params``: the reference ReduceParams of a float32 MEAN."""
    if not _float_delegable(ctx) or not ctx.require_input(1).is_constant or params.reduced_count < 1:
        return None
    shape = ctx.shape(ctx.require_input(0))
    groups: list[list] = []  # [size, reduced]
    for axis, size in enumerate(shape):  # xnn_normalize_reduction: size-1 dimensions stay
        reduced = axis in params.axes
        if groups and groups[-1][1] == reduced:
            groups[-1][0] *= size
        else:
            groups.append([size, reduced])
    contiguous = bool(groups) and groups[-1][1]
    dims6 = [1] * 6
    index = 5
    for size, reduced in reversed(groups):
        while ((index % 2 == 1) if contiguous else (index % 2 == 0)) != reduced:
            index -= 1
        dims6[index] = size
        index -= 1
    scale = F32(F32(1) / F32(params.reduced_count))
    return FloatMean(tuple(dims6), contiguous, scale, params.output_shape)


def _rsum_avx512(rows: np.ndarray) -> np.ndarray:
    """f32-rsum (``simd.c.in``) avx512f, two accumulators, over the last axis of ``rows`` [..., n]: the i-th full
    16-lane vector into accumulator ``i % 2``, then ``acc0 + acc1``, the zero-padded tail added, and the lanes
    halved 16 -> 8 -> 4 -> 2 -> 1 (``_mm512_reduce_add_ps``)."""
    n = rows.shape[-1]
    lead = rows.shape[:-1]
    acc = [np.zeros(lead + (16,), F32), np.zeros(lead + (16,), F32)]
    full = n // 16
    for i in range(full):
        acc[i % 2] = _add(acc[i % 2], rows[..., 16 * i:16 * (i + 1)])
    acc0 = _add(acc[1], acc[0])  # the compiled operand order (measured)
    if 16 * full < n:
        tail = np.zeros(lead + (16,), F32)
        tail[..., :n - 16 * full] = rows[..., 16 * full:]
        acc0 = _add(acc0, tail)
    while acc0.shape[-1] > 1:
        half = acc0.shape[-1] // 2
        acc0 = _add(acc0[..., :half], acc0[..., half:])
    return acc0[..., 0]


def mean_rsum(p: FloatMean, x: np.ndarray) -> np.ndarray:
    """XNNPACK f32 mean (``reduce-nd.c``, ``operator-run.c`` ``xnn_compute_(dis)contiguous_reduce``): the output
    starts at +0; for each index of the two outer reduced dimensions (in order) a microkernel sums the innermost
    reduced dimension (rsum's lane tree, or rdsum's running sum row by row from +0), multiplies it by
    ``f32(1 / N)`` and adds it to the output."""
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf, overflow: the IEEE results are wanted
        return _mean(p, x)


def _mean(p: FloatMean, x: np.ndarray) -> np.ndarray:
    v = ftz(x).reshape(p.dims6)
    if p.contiguous:
        out = np.zeros((p.dims6[0], p.dims6[2], p.dims6[4]), F32)
        for a in range(p.dims6[1]):
            for b in range(p.dims6[3]):
                total = _rsum_avx512(v[:, a, :, b, :, :])
                # ``*output += vresult * vscale``: contracted to one FMA in the AVX-512F build (measured)
                out = _x86(fma32_numpy(total, p.scale, out), total, out)
    else:
        out = np.zeros((p.dims6[1], p.dims6[3], p.dims6[5]), F32)
        # the channels past the last full block of 64 take the kernel's remainder path
        remainder = np.arange(p.dims6[5]) >= 64 * (p.dims6[5] // 64)
        for a in range(p.dims6[0]):
            for b in range(p.dims6[2]):
                acc = np.zeros_like(out)
                for r in range(p.dims6[4]):
                    row = v[a, :, b, :, r, :]
                    if r % 7 == 0:  # the remainder path adds the first row of a pass as (row + acc), else acc + row
                        acc = np.where(remainder, _add(row, acc), _add(acc, row))
                    else:
                        acc = _add(acc, row)
                scaled = _x86(acc * p.scale, acc, p.scale)
                # blocks of 64: ``vacc + [output]``; the remainder path: ``output + vacc``
                out = np.where(remainder, _add(out, scaled), _add(scaled, out))
    return out.reshape(p.output_shape)


# ------------------------------------------------------------------------------------------------
# RESIZE_BILINEAR


@dataclass(frozen=True)
class FloatBilinear:
    align_corners: bool
    half_pixel_centers: bool
    size: tuple[int, int]


def prepare_resize_bilinear(ctx: OpContext, params: Any) -> FloatBilinear | None:
    """``params``: the reference params of a float32 RESIZE_BILINEAR (a constant size, 4-D)."""
    x = ctx.require_input(0)
    if not _float_delegable(ctx) or params.size is None or len(ctx.shape(x)) != 4:
        return None
    return FloatBilinear(params.align_corners, params.half_pixel_centers, tuple(params.size))


def _bilinear_coordinates(in_size: int, out_size: int, align_corners: bool, legacy: bool):
    """``xnn_indirection_init_resize_bilinear2d_hwc_f32`` along one axis (float32, no FMA: indirection.c is built
    for the baseline ISA): (first index, second index, alpha)."""
    adjustment = 1 if align_corners and out_size != 1 else 0
    scale = F32(F32(in_size - adjustment) / F32(out_size - adjustment))
    positions = (np.arange(out_size, dtype=np.int64).astype(F32) * scale).astype(F32)
    if not (legacy or align_corners):
        offset = F32(F32(F32(0.5) * scale) - F32(0.5))
        positions = np.minimum(np.maximum((positions + offset).astype(F32), F32(0)), F32(in_size - 1))
    first = positions.astype(np.int64)  # (uint32_t)(int32_t) of a non-negative float: truncation
    second = np.minimum(first + 1, in_size - 1)
    alpha = (positions - first.astype(F32)).astype(F32)
    return first, second, alpha


def resize_bilinear_ibilinear(p: FloatBilinear, x: np.ndarray, size: np.ndarray | None = None) -> np.ndarray:
    """f32-ibilinear sse c8 (``src/f32-ibilinear/sse.c.in``; the x86 kernel whatever the ISA level, no FMA):
    ``t = tl + (tr - tl) * a_h``, ``b = bl + (br - bl) * a_h``, ``y = t + (b - t) * a_v``, each step rounded."""
    out_h, out_w = p.size
    legacy = not p.half_pixel_centers  # the delegate's TENSORFLOW_LEGACY_MODE (or ALIGN_CORNERS)
    top, bottom, alpha_v = _bilinear_coordinates(x.shape[1], out_h, p.align_corners, legacy)
    left, right, alpha_h = _bilinear_coordinates(x.shape[2], out_w, p.align_corners, legacy)
    v = ftz(x)
    tl, tr = v[:, top][:, :, left], v[:, top][:, :, right]
    bl, br = v[:, bottom][:, :, left], v[:, bottom][:, :, right]
    ah = alpha_h[None, None, :, None]
    av = alpha_v[None, :, None, None]
    with np.errstate(invalid="ignore", over="ignore"):
        # the product is the first operand of each addition (the compiled code; it decides which of two NaNs
        # comes out: measured)
        dt, db = _x86(tr - tl, tr, tl), _x86(br - bl, br, bl)
        pt, pb = _x86(dt * ah, dt, ah), _x86(db * ah, db, ah)
        t, b = _x86(pt + tl, pt, tl), _x86(pb + bl, pb, bl)
        d = _x86(b - t, b, t)
        product = _x86(d * av, d, av)
        return _x86(product + t, product, t)

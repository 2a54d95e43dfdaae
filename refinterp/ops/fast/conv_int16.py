"""CONV_2D int16x8 fast kernel: int16 activations (zero point 0) times int8 weights, summed exactly.

The rule is the spec's (``refinterp/ops/conv.py``, ``reference_integer_ops::ConvPerChannel`` for int16 with
LiteRT's ``conv.cc`` EvalQuantizedPerChannel16x8): ``acc = sum over in-image taps of w * x + bias[oc]``, exact in
int64 for the 64-bit accumulator (int64 bias) and wrapped to int32 for the 32-bit one (int32 bias), then
MultiplyByQuantizedMultiplier (the int64 or the int32 form), the clamp, int16.

How the sum is formed: one numba loop nest (no im2col; every group in one call, where the float64 GEMM it replaces
made one im2col + GEMM + requantization call per group, 64 calls for DeepFilterNet's grouped convolutions). The
weights are packed once at prepare as int8 ``[KH, KW, Cin_g, Cout]``; the input is copied once into a
zero-bordered int16 buffer (every tap then reads inside it). Output pixels go in tiles of up to 4 of one row;
for each input element of a receptive field, the innermost loop runs over a group's output channels
(contiguous weights) for the 4 pixels at once, which LLVM vectorizes as sign-extend + 32-bit multiply + 32-bit
add (16 lanes on AVX-512, 8 on AVX2; portable, no intrinsics). The elements are walked in runs of adjacent input
elements: a whole filter row (``KW * Cin``) when groups is 1 and dilation_w 1, else one tap's ``Cin_g``.
Exactness:

* Every product fits int32 exactly: ``x`` is in [-2^15, 2^15 - 1] and ``w`` in [-2^7, 2^7 - 1], so
  ``-2^22 < -2^15 * 127 <= x * w <= (-2^15) * (-2^7) = 2^22``; widened to int32, the multiply is exact.
* A block of at most ``k_block`` products per output channel is summed in an int32 lane. Any partial sum of
  ``n`` products lies in [-n * 2^22, n * 2^22]; with ``n <= K_BLOCK = 511``, ``511 * 2^22 = 2^31 - 2^22 <= 2^31 - 1``
  and ``-511 * 2^22 > -2^31``: no partial sum overflows int32, in any order of the additions, so the block's
  int32 sum is its exact sum. The K loop counts the products each lane has received since the last flush (a run
  adds its length, taken in chunks of at most ``k_block`` elements) and, before a chunk would push the count
  past ``k_block``, adds the int32 block sums into int64 accumulators and restarts the block.
* int64 then holds the exact total (|total| <= K * 2^22 < 2^63 for any K that fits in memory), as the
  reference's int64 accumulator does; the bias is added in int64. For the 32-bit accumulator the exact total
  plus bias is wrapped modulo 2^32 at the end, which equals the reference's int32 wrapping sum (two's-complement
  addition is associative modulo 2^32).
* The reference skips the taps outside the image; here they read the border's 0 (the input zero point is 0) and
  add ``w * 0 = 0``: the same sum (such zeros still count toward a block, which only flushes earlier).
* The requantization is the spec's, per output: ``mbqm64_nb`` on the int64 accumulator, or ``wrap_int32_nb`` then
  ``mbqm_nb`` on the 32-bit one; then the clamp.

Groups with one input and one output channel each (a depthwise convolution written as a grouped CONV_2D, as
DeepFilterNet's are) take a loop over all output channels at once (``x[c] * w[c]``), which vectorizes too.
When the zero-bordered copy would take more than ``PADDED_EXTRA_BYTES`` beyond the input (a dilation far larger
than the image), a direct kernel runs instead: pixel by pixel over the unpadded input, skipping the taps outside
the image, with the same blocks. Threads: the tiles are split into ``threads`` contiguous ranges, one thread per
``MACS_PER_THREAD`` multiply-adds; a small layer runs on the calling thread alone (numba's pool is not woken).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from refinterp.ops.conv import Conv2DParams
from refinterp.ops.fast.common import readonly
from refinterp.quant import mbqm64_nb, mbqm_nb, wrap_int32_nb

#: products summed in one int32 block: 511 * 2^22 = 2^31 - 2^22 is the largest multiple of 2^22 below 2^31
K_BLOCK = 511
#: the largest magnitude of one int16 x int8 product: (-2^15) * (-2^7)
MAX_PRODUCT = 1 << 22
#: one more thread per this many multiply-adds (below it waking a worker costs more than it saves)
MACS_PER_THREAD = 1 << 20
#: the zero-bordered input copy may take this many bytes more than the input; beyond (dilations far larger than
#: the image), the direct kernel skips the taps outside the image instead
PADDED_EXTRA_BYTES = 1 << 26


@dataclass(frozen=True)
class Int16ConvPlan:
    """int16x8 weights packed once: int8 ``[KH, KW, Cin_g, Cout]`` (a group's output channels are contiguous)."""

    groups: int
    packed_weights: np.ndarray

    @property
    def channels_out(self) -> int:
        return self.packed_weights.shape[3]


def plan_conv2d_int16(weights: np.ndarray, groups: int) -> Int16ConvPlan:
    """Pack ``[Cout, KH, KW, Cin_g]`` int8 weights as ``[KH, KW, Cin_g, Cout]`` (read-only)."""
    return Int16ConvPlan(groups, readonly(np.ascontiguousarray(np.transpose(weights, (1, 2, 3, 0)), dtype=np.int8)))


@numba.njit(cache=True, parallel=True, nogil=True)
def _conv_int16_nb(xp, w_runs, runs_per_row, bias64, multipliers, shifts, accumulator_bits, groups, stride_h,
                   stride_w, dilation_h, dilation_w, act_min, act_max, k_block, parts, y):
    """y[b, oy, ox, oc] over the zero-bordered input ``xp`` (every tap reads inside it), in tiles of up to 4
    output pixels of one row that share each weight load; ``parts`` contiguous ranges of tiles run in parallel.

    ``w_runs[ky * runs_per_row + kx, r, oc]``: the weights of one run of adjacent input elements, ``r`` along the
    run: a whole filter row (``KW * Cin``, ``runs_per_row`` 1) when groups is 1 and dilation_w 1, else one tap's
    ``Cin_g`` channels (``runs_per_row`` = KW). Sums in int32 blocks of at most ``k_block`` products per output
    channel, flushed into int64 (module docstring).
    """
    batches, _, padded_w, channels_in = xp.shape
    _, out_h, out_w, channels_out = y.shape
    run_length = w_runs.shape[1]
    filter_h = w_runs.shape[0] // runs_per_row
    out_per_group = channels_out // groups
    channels_in_group = channels_in // groups
    pixel_step = stride_w * channels_in  # from one output pixel's run to the next one's, in a flat input row
    tiles_per_row = (out_w + 3) // 4
    tiles = batches * out_h * tiles_per_row
    # one input and one output channel per group: output channel c reads input channel c
    depthwise = run_length == 1 and out_per_group == 1
    for part in numba.prange(parts):
        acc64 = np.zeros((4, channels_out), np.int64)
        acc32 = np.zeros((4, channels_out), np.int32)
        for tile in range(part * tiles // parts, (part + 1) * tiles // parts):
            row = tile // tiles_per_row
            b = row // out_h
            oy = row % out_h
            ox0 = (tile % tiles_per_row) * 4
            width = min(4, out_w - ox0)
            acc64[:] = 0
            acc32[:] = 0
            count = 0  # products each lane of acc32 holds: at most k_block
            for ky in range(filter_h):
                flat = xp[b, oy * stride_h + ky * dilation_h].reshape(padded_w * channels_in)
                for kx in range(runs_per_row):
                    runs = w_runs[ky * runs_per_row + kx]
                    start = (ox0 * stride_w + kx * dilation_w) * channels_in
                    if depthwise:
                        if count + 1 > k_block:
                            for t in range(4):
                                for oc in range(channels_out):
                                    acc64[t, oc] += acc32[t, oc]
                                    acc32[t, oc] = 0
                            count = 0
                        count += 1
                        tap = runs[0]
                        for t in range(width):
                            pixel = flat[start + t * pixel_step:start + t * pixel_step + channels_out]
                            lane = acc32[t]
                            for oc in range(channels_out):
                                lane[oc] += np.int32(pixel[oc]) * np.int32(tap[oc])
                        continue
                    for r0 in range(0, run_length, k_block):
                        r1 = min(r0 + k_block, run_length)
                        if count + (r1 - r0) > k_block:
                            for t in range(4):
                                for oc in range(channels_out):
                                    acc64[t, oc] += acc32[t, oc]
                                    acc32[t, oc] = 0
                            count = 0
                        count += r1 - r0
                        for g in range(groups):
                            o0 = g * out_per_group
                            s0 = start + g * channels_in_group
                            if width == 4:
                                a0 = acc32[0, o0:o0 + out_per_group]
                                a1 = acc32[1, o0:o0 + out_per_group]
                                a2 = acc32[2, o0:o0 + out_per_group]
                                a3 = acc32[3, o0:o0 + out_per_group]
                                for r in range(r0, r1):
                                    tap = runs[r, o0:o0 + out_per_group]
                                    x0 = np.int32(flat[s0 + r])
                                    x1 = np.int32(flat[s0 + pixel_step + r])
                                    x2 = np.int32(flat[s0 + 2 * pixel_step + r])
                                    x3 = np.int32(flat[s0 + 3 * pixel_step + r])
                                    for j in range(out_per_group):
                                        wv = np.int32(tap[j])
                                        a0[j] += x0 * wv
                                        a1[j] += x1 * wv
                                        a2[j] += x2 * wv
                                        a3[j] += x3 * wv
                            else:
                                for t in range(width):
                                    lane = acc32[t, o0:o0 + out_per_group]
                                    s = s0 + t * pixel_step
                                    for r in range(r0, r1):
                                        tap = runs[r, o0:o0 + out_per_group]
                                        xv = np.int32(flat[s + r])
                                        for j in range(out_per_group):
                                            lane[j] += xv * np.int32(tap[j])
            for t in range(width):
                for oc in range(channels_out):
                    acc = acc64[t, oc] + np.int64(acc32[t, oc]) + bias64[oc]
                    if accumulator_bits == 32:
                        scaled = mbqm_nb(wrap_int32_nb(acc), multipliers[oc], shifts[oc])
                    else:
                        scaled = mbqm64_nb(acc, multipliers[oc], shifts[oc])
                    y[b, oy, ox0 + t, oc] = min(max(scaled, act_min), act_max)


@numba.njit(cache=True, nogil=True)
def _conv_int16_direct_nb(x, w_packed, bias64, multipliers, shifts, accumulator_bits, groups, stride_h, stride_w,
                          dilation_h, dilation_w, pad_h, pad_w, act_min, act_max, k_block, y):
    """The same sums pixel by pixel over the unpadded input, skipping the taps outside the image as the reference
    does: for geometries whose zero-bordered copy would be far larger than the input (huge dilations)."""
    batches, in_h, in_w, _ = x.shape
    _, out_h, out_w, channels_out = y.shape
    filter_h, filter_w, channels_in_group, _ = w_packed.shape
    out_per_group = channels_out // groups
    acc64 = np.zeros(channels_out, np.int64)
    acc32 = np.zeros(channels_out, np.int32)
    for m in range(batches * out_h * out_w):
        b = m // (out_h * out_w)
        oy = (m // out_w) % out_h
        ox = m % out_w
        acc64[:] = 0
        acc32[:] = 0
        count = 0  # products each lane of acc32 holds: at most k_block
        for ky in range(filter_h):
            iy = oy * stride_h - pad_h + ky * dilation_h
            if iy < 0 or iy >= in_h:
                continue
            for kx in range(filter_w):
                ix = ox * stride_w - pad_w + kx * dilation_w
                if ix < 0 or ix >= in_w:
                    continue
                pixel = x[b, iy, ix]
                for ic0 in range(0, channels_in_group, k_block):
                    ic1 = min(ic0 + k_block, channels_in_group)
                    if count + (ic1 - ic0) > k_block:
                        for oc in range(channels_out):
                            acc64[oc] += acc32[oc]
                            acc32[oc] = 0
                        count = 0
                    count += ic1 - ic0
                    for g in range(groups):
                        lane = acc32[g * out_per_group:(g + 1) * out_per_group]
                        for ic in range(ic0, ic1):
                            xv = np.int32(pixel[g * channels_in_group + ic])
                            tap = w_packed[ky, kx, ic, g * out_per_group:(g + 1) * out_per_group]
                            for j in range(out_per_group):
                                lane[j] += xv * np.int32(tap[j])
        for oc in range(channels_out):
            acc = acc64[oc] + np.int64(acc32[oc]) + bias64[oc]
            if accumulator_bits == 32:
                scaled = mbqm_nb(wrap_int32_nb(acc), multipliers[oc], shifts[oc])
            else:
                scaled = mbqm64_nb(acc, multipliers[oc], shifts[oc])
            y[b, oy, ox, oc] = min(max(scaled, act_min), act_max)


def _zero_bordered(x: np.ndarray, pad_h: int, pad_w: int, need_h: int, need_w: int) -> np.ndarray:
    """The input as ``[B, need_h, need_w, C]`` int16, image row ``iy`` at ``iy + pad_h``, zeros elsewhere: a tap
    outside the image reads 0 (the zero point) and adds ``w * 0 = 0``, as the reference's skipped tap adds
    nothing. ``x`` itself when it already is that array."""
    batches, in_h, in_w, channels = x.shape
    if pad_h == 0 and pad_w == 0 and in_h == need_h and in_w == need_w:
        return np.ascontiguousarray(x, dtype=np.int16)
    xp = np.zeros((batches, need_h, need_w, channels), np.int16)
    y0, y1 = max(0, pad_h), min(need_h, pad_h + in_h)
    x0, x1 = max(0, pad_w), min(need_w, pad_w + in_w)
    if y1 > y0 and x1 > x0:
        xp[:, y0:y1, x0:x1] = x[:, y0 - pad_h:y1 - pad_h, x0 - pad_w:x1 - pad_w]
    return xp


def conv2d_int16(p: Conv2DParams, plan: Int16ConvPlan, x: np.ndarray, bias: np.ndarray | None,
                 k_block: int = K_BLOCK, threads: int | None = None) -> np.ndarray:
    """CONV_2D int16x8 through ``plan``; ``k_block`` (<= K_BLOCK) and ``threads`` are for tests."""
    if not 1 <= k_block <= K_BLOCK:
        raise ValueError(f"k_block must be in [1, {K_BLOCK}], not {k_block}")
    win = p.window
    channels_out = plan.channels_out
    y = np.empty((x.shape[0], win.out_h, win.out_w, channels_out), np.int16)
    if y.size == 0:
        return y
    filter_h, filter_w, channels_in_group, _ = plan.packed_weights.shape
    need_h = (win.out_h - 1) * p.stride_h + (filter_h - 1) * p.dilation_h + 1
    need_w = (win.out_w - 1) * p.stride_w + (filter_w - 1) * p.dilation_w + 1
    multipliers = readonly(np.ascontiguousarray(p.output_multiplier, dtype=np.int64))
    shifts = readonly(np.ascontiguousarray(p.output_shift, dtype=np.int64))
    bias64 = readonly(bias.astype(np.int64) if bias is not None else np.zeros(channels_out, np.int64))
    if 2 * x.shape[0] * need_h * need_w * x.shape[3] > 2 * x.size + PADDED_EXTRA_BYTES:
        _conv_int16_direct_nb(readonly(np.ascontiguousarray(x, dtype=np.int16)), plan.packed_weights, bias64,
                              multipliers, shifts, p.accumulator_bits, plan.groups, p.stride_h, p.stride_w,
                              p.dilation_h, p.dilation_w, win.pad_h, win.pad_w, int(p.act_min), int(p.act_max),
                              k_block, y)
        return y
    xp = readonly(_zero_bordered(x, win.pad_h, win.pad_w, need_h, need_w))
    # a filter row's KW * Cin elements are adjacent in the input when the taps of a row are (dilation_w 1) and a
    # pixel's channels all belong to the one group: one run per filter row, else one run per tap
    runs_per_row = 1 if plan.groups == 1 and p.dilation_w == 1 else filter_w
    w_runs = plan.packed_weights.reshape(filter_h * runs_per_row, -1, channels_out)
    all_threads = numba.get_num_threads()
    if threads is None:
        macs = y.size * filter_h * filter_w * channels_in_group
        threads = max(1, min(all_threads, macs // MACS_PER_THREAD))
    threads = max(1, min(threads, all_threads, y.shape[0] * y.shape[1] * (-(-y.shape[2] // 4))))
    if threads != all_threads:  # numba's parallel region then runs on the calling thread alone: no wake-up
        numba.set_num_threads(threads)
    try:
        _conv_int16_nb(xp, w_runs, runs_per_row, bias64, multipliers, shifts, p.accumulator_bits, plan.groups,
                       p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, int(p.act_min), int(p.act_max), k_block,
                       threads, y)
    finally:
        if threads != all_threads:
            numba.set_num_threads(all_threads)
    return y

"""CONV_2D fast kernels, kept apart from the spec (``refinterp/ops/conv.py``) as onnx keeps its optimized ops.

Every backend computes exactly the integer rule written in ``conv.py``'s docstring; what differs is how the
sum ``acc = sum w * (x - zp_in)`` is formed. Two facts make that freedom safe:

* TFLite's accumulator is an int32 that wraps (two's complement), so the result only depends on the true
  sum modulo 2^32. Any exact integer evaluation that is reduced modulo 2^32 at the end gives the same bits.
* ``sum w * (x - zp_in) = sum w * x' - (c + zp_in) * sum w`` for ``x' = x + c`` whenever the taps outside the
  image read ``x' = zp_in + c`` (they then contribute exactly 0, as the reference's skipped taps do). The
  second term only depends on the weights, so it is folded into an ``int64`` bias at run time:
  ``bias_eff[oc] = bias[oc] - (c + zp_in) * sum_k w[oc, k]``.

int8 backends (``prepare_conv2d_fast`` calls the spec prepare, then ``plan_conv2d``, which picks one and packs
the weights for it; ``REFINTERP_CONV_BACKEND=vnni|blas32|blas64`` forces one):

``vnni``
    x86 AVX-512 VNNI ``vpdpbusd``: 64 products uint8 x int8 -> int32 per instruction. The input is shifted
    to uint8 (``x' = x + 128``, i.e. ``c = 128``) and copied once into a padded buffer whose border holds
    ``zp_in + 128``; the weights are packed at prepare into ``[channel block][K/4][16*cols][4]`` int8 panels.
    A micro-kernel written in LLVM IR (a numba ``@intrinsic``) keeps ``rows x cols`` vectors of 16 int32
    accumulators in registers and walks K through a table of byte offsets (one entry per 4 bytes of a run:
    a filter row's KW * Cin_g adjacent bytes when dilation_w is 1, else one tap's Cin_g bytes; runs are
    padded to 4 bytes with zero weights), so no im2col matrix is built ("indirect GEMM", as XNNPACK does).
    ``vpdpbusd`` sums each group of four products exactly (|sum| < 2^17) and adds it modulo 2^32, like the
    reference's int32 accumulator: exact for every K. Used when numba compiles for the host CPU, the host
    has avx512f/bw/vnni and a self-test against the spec passes (else: a warning and ``blas32``).
``blas32``
    Portable fallback: im2col in float32 (raw ``x``, so ``c = 0``; the border holds ``zp_in``), one float32
    GEMM per K-chunk. float32 holds every integer up to 2^24 exactly, so a chunk's sum is exact in any
    summation order (BLAS reorders and uses FMA) if every partial sum stays below 2^24. The chunks are
    fixed at prepare from the weights: K is cut greedily so that, for every output channel,
    ``128 * sum_{k in chunk} |w[oc, k]| < 2^24`` (|x| <= 128). The chunk sums are then added in int64.
``blas64``
    float64 im2col and one float64 GEMM: exact while ``K * 128 * 128 < 2^53``, i.e. always in practice.
    Half the speed of float32; kept for comparison (``refinterp bench --compare-conv``).

Requantization (double-rounding MultiplyByQuantizedMultiplier, zero point, clamp) runs in numba on int64,
fused into the vnni kernel per tile, a separate parallel pass for the BLAS backends.

float32: a numba loop with the spec's summation order (ky, kx, ic, one float32 multiply and add each), output
rows in parallel, over weights packed at prepare as ``[KH, KW, Cin_g, Cout]`` (the inner loop runs over Cout).
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from refinterp.errors import RefinterpError
from refinterp.ops.common import OpContext, Window2D
from refinterp.ops.conv import Conv2DParams, conv2d_spec, prepare_conv2d

BACKENDS = ("vnni", "blas32", "blas64")
BACKEND_ENV = "REFINTERP_CONV_BACKEND"

#: float32 represents every integer of magnitude <= 2^24 exactly; partial sums must stay strictly below
FLOAT32_EXACT_LIMIT = 1 << 24
#: the largest |x| of an int8 activation
INT8_MAX_ABS = 128
#: VNNI tiles: (rows of output pixels, vectors of 16 output channels) per micro-kernel call. rows * cols
#: accumulators + cols weight vectors + 1 broadcast must fit in the 32 zmm registers.
VNNI_TILES = ((8, 1), (8, 2), (6, 4))
#: the per-thread int32 tile of one super block of rows stays within this many bytes (L2-resident)
TILE_BYTES = 1 << 18


# ------------------------------------------------------------------------------------------------
# The plan: everything that depends only on the weights and shapes, computed once at prepare


@dataclass(frozen=True)
class ConvPlan:
    backend: str
    groups: int
    filter_h: int
    filter_w: int
    channels_in_group: int
    out_per_group: int
    in_h: int
    in_w: int
    #: sum of the weights of every output channel (int64 [Cout]): the zero-point correction's factor
    weight_sums: np.ndarray
    # vnni
    rows: int = 0
    cols: int = 0
    variant: int = 0
    dilation_w: int = 1
    segments: int = 0  # contiguous runs of input bytes per receptive field: KH (dilation_w 1) or KH * KW
    segment_bytes: int = 0  # bytes of one run: KW * Cin_g (dilation_w 1) or Cin_g
    segment_padded: int = 0  # segment_bytes rounded up to 4: the extra bytes meet zero weights
    out_padded: int = 0  # output channels per group, padded to a multiple of 16 * cols
    k_groups: int = 0  # K / 4 after padding: the micro-kernel's trip count
    panels: tuple[np.ndarray, ...] = ()  # per group: int8 [out_padded/(16 cols) * k_groups * 64 * cols]
    # blas
    gemm_weights: tuple[np.ndarray, ...] = ()  # per group: float [K, out_per_group]
    k_chunks: tuple[tuple[int, int], ...] = ()  # blas32: [k0, k1) ranges, the same for every group


def host_has_vnni() -> bool:
    """Whether the vnni micro-kernel can run: numba compiles for this CPU and it has AVX-512 VNNI."""
    return _vnni_works()


@cache
def _vnni_works() -> bool:
    if numba.config.DISABLE_JIT or numba.config.CPU_NAME not in (None, "host"):
        return False  # a portable (generic CPU) build may run on a machine without the instructions
    try:
        from llvmlite import binding

        features = binding.get_host_cpu_features()
    except Exception:  # noqa: BLE001 - any failure to ask means "don't use it"
        return False
    if not all(features.get(name, False) for name in ("avx512f", "avx512bw", "avx512vnni")):
        return False
    try:  # the CPU has the instructions: check that this LLVM compiles the micro-kernels and they are exact
        failure = _vnni_self_test()
    except Exception as exc:  # noqa: BLE001 - e.g. an LLVM whose vpdpbusd intrinsic has another signature
        failure = f"{type(exc).__name__}: {exc}"
    if failure:
        warnings.warn(f"refinterp: the AVX-512 VNNI conv kernel is not usable ({failure}); using blas32",
                      RuntimeWarning, stacklevel=2)
        return False
    return True


def _vnni_self_test() -> str | None:
    """Run the vnni kernel on small convolutions (every tile shape) against the spec; a reason if it fails."""
    rng = np.random.default_rng(20261124)
    x = rng.integers(-128, 128, (2, 5, 7, 6), dtype=np.int8)
    for channels in (16, 32, 64):  # VNNI_TILES: 1, 2 and 4 blocks of 16 channels
        w = rng.integers(-128, 128, (channels, 3, 3, 6), dtype=np.int8)
        bias = rng.integers(-(1 << 20), 1 << 20, channels).astype(np.int32)
        params = Conv2DParams(stride_h=1, stride_w=1, dilation_h=1, dilation_w=1, window=Window2D(5, 7, 1, 1),
                              groups=1, quantized=True, input_zero_point=-3, output_zero_point=2,
                              output_multiplier=np.full(channels, 1 << 30, np.int64),
                              output_shift=np.full(channels, -10, np.int64), act_min=-128, act_max=127)
        plan = plan_conv2d(w, 1, 5, 7, backend="vnni")
        if not np.array_equal(_conv_vnni(plan, params, x, bias.astype(np.int64)), conv2d_spec(params, x, w, bias)):
            return f"wrong results with {channels} output channels"
    return None


def choose_backend() -> str:
    forced = os.environ.get(BACKEND_ENV, "").strip().lower()
    if forced and forced != "auto":
        if forced not in BACKENDS:
            raise RefinterpError(f"{BACKEND_ENV}={forced!r} is not one of auto, {', '.join(BACKENDS)}")
        if forced == "vnni" and not host_has_vnni():
            raise RefinterpError(f"{BACKEND_ENV}=vnni but this CPU (or numba's target) has no AVX-512 VNNI")
        return forced
    return "vnni" if host_has_vnni() else "blas32"


def plan_conv2d(weights: np.ndarray, groups: int, in_h: int, in_w: int, dilation_w: int = 1,
                backend: str | None = None) -> ConvPlan:
    """Pack int8 weights ``[Cout, KH, KW, Cin_g]`` for ``backend`` (default: the best this host runs)."""
    backend = backend or choose_backend()
    if backend not in BACKENDS:
        raise RefinterpError(f"unknown conv backend {backend!r}")
    w = np.asarray(weights)
    channels_out, filter_h, filter_w, channels_in_group = w.shape
    out_per_group = channels_out // groups
    weight_sums = w.reshape(channels_out, -1).sum(axis=1, dtype=np.int64)  # no int64 copy of the weights
    common = dict(groups=groups, filter_h=filter_h, filter_w=filter_w, channels_in_group=channels_in_group,
                  out_per_group=out_per_group, in_h=in_h, in_w=in_w, weight_sums=weight_sums, dilation_w=dilation_w)
    if backend == "vnni":
        n16 = -(-out_per_group // 16) * 16
        # the widest tile whose channel block divides the channels (padded to 16): no extra padding
        variant = max((i for i, (_, c) in enumerate(VNNI_TILES) if n16 % (16 * c) == 0), key=lambda i: VNNI_TILES[i][1])
        rows, cols = VNNI_TILES[variant]
        # With dilation_w 1 the KW taps of one filter row read KW * Cin_g adjacent input bytes (NHWC): one run.
        segments, segment_bytes = (filter_h, filter_w * channels_in_group) if dilation_w == 1 else \
            (filter_h * filter_w, channels_in_group)
        segment_padded = -(-segment_bytes // 4) * 4
        k_groups = segments * segment_padded // 4
        panels = []
        for g in range(groups):
            wg = np.zeros((n16, segments, segment_padded), np.int8)
            wg[:out_per_group, :, :segment_bytes] = w[g * out_per_group:(g + 1) * out_per_group].reshape(
                out_per_group, segments, segment_bytes)
            # [n16, K] -> [block, K/4, 16*cols, 4]: one 64-byte vector per (k group, 16 channels)
            t = wg.reshape(n16 // (16 * cols), 16 * cols, k_groups, 4).transpose(0, 2, 1, 3)
            panels.append(np.ascontiguousarray(t).reshape(-1))
        return ConvPlan("vnni", **common, rows=rows, cols=cols, variant=variant, segments=segments,
                        segment_bytes=segment_bytes, segment_padded=segment_padded, out_padded=n16,
                        k_groups=k_groups, panels=tuple(panels))
    dtype = np.float32 if backend == "blas32" else np.float64
    gemm_weights = tuple(
        np.ascontiguousarray(w[g * out_per_group:(g + 1) * out_per_group].reshape(out_per_group, -1).T.astype(dtype))
        for g in range(groups))
    k = filter_h * filter_w * channels_in_group
    chunks = exact_float32_chunks(w.reshape(channels_out, -1)) if backend == "blas32" else ((0, k),)
    return ConvPlan(backend, **common, gemm_weights=gemm_weights, k_chunks=chunks)


def exact_float32_chunks(weights_2d: np.ndarray, max_abs_x: int = INT8_MAX_ABS) -> tuple[tuple[int, int], ...]:
    """Cut K into ranges where every output channel's ``max_abs_x * sum |w|`` stays below 2^24.

    Then every partial sum a float32 GEMM can form inside one range (any order, with or without FMA) is an
    integer of magnitude < 2^24, which float32 represents exactly: the range's sum is exact.
    """
    if weights_2d.shape[1] == 0:
        return ((0, 0),)
    largest = max(abs(int(weights_2d.min())), abs(int(weights_2d.max())))  # np.abs(int8 -128) would stay -128
    if largest * max_abs_x >= FLOAT32_EXACT_LIMIT:
        raise RefinterpError(f"a weight times {max_abs_x} reaches 2^24: the float32 backend cannot be exact")
    starts = _greedy_chunk_starts_nb(np.ascontiguousarray(weights_2d), max_abs_x, FLOAT32_EXACT_LIMIT)
    ends = [*starts[1:], weights_2d.shape[1]]
    return tuple((int(a), int(b)) for a, b in zip(starts, ends))


@numba.njit(cache=True, nogil=True)
def _greedy_chunk_starts_nb(weights_2d, max_abs_x, limit):
    channels, k_total = weights_2d.shape
    running = np.zeros(channels, np.int64)
    starts = [0]
    for k in range(k_total):
        overflow = False
        for oc in range(channels):
            if running[oc] + abs(np.int64(weights_2d[oc, k])) * max_abs_x >= limit:
                overflow = True
                break
        if overflow:  # column k starts a new chunk
            starts.append(k)
            running[:] = 0
        for oc in range(channels):
            running[oc] += abs(np.int64(weights_2d[oc, k])) * max_abs_x
    return np.array(starts, dtype=np.int64)


# ------------------------------------------------------------------------------------------------
# The VNNI micro-kernel, in LLVM IR


def _make_vnni_microkernel(rows: int, cols: int):
    """An intrinsic computing a ``rows x (16*cols)`` int32 tile with ``vpdpbusd``.

    Arguments: ``xp`` (uint8 padded input, flat), ``bases``/``bases_off`` (byte offset of each of the rows'
    pixels in xp), ``taps`` (byte offset, relative to a pixel, of each group of 4 input bytes; length k),
    ``panel``/``panel_off`` (the packed weights of one block of 16*cols channels), ``tile``/``tile_off``/
    ``ldc`` (where the int32 sums go), ``k`` (trip count).
    """

    @intrinsic
    def microkernel(typingctx, xp, bases, bases_off, taps, panel, panel_off, tile, tile_off, ldc, k):
        sig = types.void(xp, bases, bases_off, taps, panel, panel_off, tile, tile_off, ldc, k)

        def codegen(context, builder, signature, args):
            argtypes = signature.args
            xp_a, bases_a, taps_a, panel_a, tile_a = (
                context.make_array(argtypes[i])(context, builder, args[i]) for i in (0, 1, 3, 4, 6))
            intp_t = context.get_value_type(types.intp)
            bases_off_v, panel_off_v, tile_off_v, ldc_v, k_v = (
                context.cast(builder, args[i], argtypes[i], types.intp) for i in (2, 5, 7, 8, 9))
            i8, i32 = ir.IntType(8), ir.IntType(32)
            v16 = ir.VectorType(i32, 16)
            vpdpbusd = cgutils.get_or_insert_function(builder.module, ir.FunctionType(v16, [v16, v16, v16]),
                                                      "llvm.x86.avx512.vpdpbusd.512")

            def const(value):
                return ir.Constant(intp_t, value)

            xp_ptr = builder.bitcast(xp_a.data, i8.as_pointer())
            panel_ptr = builder.gep(builder.bitcast(panel_a.data, i8.as_pointer()), [panel_off_v])
            tile_ptr = builder.gep(tile_a.data, [tile_off_v])
            row_bases = [builder.load(builder.gep(bases_a.data, [builder.add(bases_off_v, const(r))]))
                         for r in range(rows)]
            zero = ir.Constant(v16, None)
            entry = builder.block
            loop = builder.append_basic_block("vnni.loop")
            done = builder.append_basic_block("vnni.done")
            builder.cbranch(builder.icmp_signed(">", k_v, const(0)), loop, done)

            builder.position_at_end(loop)
            kk = builder.phi(intp_t)
            kk.add_incoming(const(0), entry)
            acc = [[builder.phi(v16) for _ in range(cols)] for _ in range(rows)]
            for row in acc:
                for phi in row:
                    phi.add_incoming(zero, entry)
            weights = []
            for c in range(cols):
                offset = builder.add(builder.mul(kk, const(64 * cols)), const(64 * c))
                weights.append(builder.load(builder.bitcast(builder.gep(panel_ptr, [offset]), v16.as_pointer()),
                                            align=1))
            tap = builder.load(builder.gep(taps_a.data, [kk]))
            updated = []
            for r in range(rows):
                address = builder.gep(xp_ptr, [builder.add(row_bases[r], tap)])
                four_bytes = builder.load(builder.bitcast(address, i32.as_pointer()), align=1)
                broadcast = builder.shuffle_vector(
                    builder.insert_element(ir.Constant(v16, ir.Undefined), four_bytes, ir.Constant(i32, 0)),
                    ir.Constant(v16, ir.Undefined), ir.Constant(v16, None))
                updated.append([builder.call(vpdpbusd, [acc[r][c], broadcast, weights[c]]) for c in range(cols)])
            k_next = builder.add(kk, const(1))
            body_end = builder.block
            kk.add_incoming(k_next, body_end)
            for r in range(rows):
                for c in range(cols):
                    acc[r][c].add_incoming(updated[r][c], body_end)
            builder.cbranch(builder.icmp_signed("<", k_next, k_v), loop, done)

            builder.position_at_end(done)
            finals = [[builder.phi(v16) for _ in range(cols)] for _ in range(rows)]  # phis first in a block
            for r in range(rows):
                for c in range(cols):
                    finals[r][c].add_incoming(zero, entry)
                    finals[r][c].add_incoming(updated[r][c], body_end)
                    offset = builder.add(builder.mul(const(r), ldc_v), const(16 * c))
                    builder.store(finals[r][c], builder.bitcast(builder.gep(tile_ptr, [offset]), v16.as_pointer()),
                                  align=4)
            return context.get_dummy_value()

        return sig, codegen

    return microkernel


_vnni_8x1 = _make_vnni_microkernel(*VNNI_TILES[0])
_vnni_8x2 = _make_vnni_microkernel(*VNNI_TILES[1])
_vnni_6x4 = _make_vnni_microkernel(*VNNI_TILES[2])


@numba.njit(cache=True, nogil=True, inline="always")
def _requantize_nb(acc, bias32, multiplier, left, right, output_zero_point, act_min, act_max):
    """clamp(MultiplyByQuantizedMultiplier(int32(acc + bias), multiplier, shift) + zp_out), branch-free.

    The same arithmetic as quant.mbqm_nb (double rounding), written with selects so that LLVM vectorizes the
    loop over output channels: ``bias32`` is the bias already wrapped to int32, ``left = max(shift, 0)``,
    ``right = max(-shift, 0)``. SRDHM's INT32_MIN * INT32_MIN saturation is left out: QuantizeMultiplier's
    multipliers lie in [0, 2^31), so the multiplier is never INT32_MIN.
    """
    v = np.int64(acc) + bias32
    v = ((v + 2147483648) & 0xFFFFFFFF) - 2147483648  # the int32 accumulator wraps
    v = (((v << left) + 2147483648) & 0xFFFFFFFF) - 2147483648  # x * 2^left in int32, wrapping
    product = v * multiplier
    total = product + ((1 << 30) if product >= 0 else (1 - (1 << 30)))  # SRDHM: ties toward +inf
    high = (total + (2147483647 if total < 0 else 0)) >> 31  # C division by 2^31: truncates toward zero
    mask = (np.int64(1) << right) - 1  # RDBPOT: ties away from zero
    threshold = (mask >> 1) + (1 if high < 0 else 0)
    out = (high >> right) + (1 if (high & mask) > threshold else 0) + output_zero_point
    return np.int8(min(max(out, act_min), act_max))


class _Requant:
    """Per-channel requantization operands of one conv call, in the form ``_requantize_nb`` takes."""

    def __init__(self, p: Conv2DParams, bias_eff: np.ndarray):
        self.bias32 = ((bias_eff + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)
        self.multipliers = np.ascontiguousarray(p.output_multiplier, dtype=np.int64)
        self.left = np.maximum(p.output_shift, 0).astype(np.int64)
        self.right = np.maximum(-p.output_shift, 0).astype(np.int64)


@numba.njit(cache=True, parallel=True, nogil=True)
def _pad_shift_u8_nb(x, group_start, channels, pad_top, pad_left, padded_h, padded_w, fill):
    """Flat uint8 [B, padded_h, padded_w, channels] of one group's channels, x + 128, border = fill.

    4 bytes of slack at the end: a micro-kernel's last 4-byte read may pass the last run by up to 3 bytes
    (those bytes meet zero weights).
    """
    batches, in_h, in_w, depth = x.shape
    row_bytes = padded_w * channels
    xp = np.empty(batches * padded_h * row_bytes + 4, np.uint8)
    xp[batches * padded_h * row_bytes:] = fill
    source = x.reshape(batches, in_h, in_w * depth).view(np.uint8)
    for row in numba.prange(batches * padded_h):
        b = row // padded_h
        iy = row - b * padded_h - pad_top
        target = xp[row * row_bytes:(row + 1) * row_bytes]
        if iy < 0 or iy >= in_h:
            target[:] = fill
            continue
        target[:pad_left * channels] = fill
        target[(pad_left + in_w) * channels:] = fill
        interior = target[pad_left * channels:(pad_left + in_w) * channels]
        line = source[b, iy]
        if channels == depth:  # one group: a plain row copy, flipping the sign bit
            for i in range(in_w * depth):
                interior[i] = line[i] ^ 0x80  # int8 bits XOR 0x80 = the int8 value + 128, as uint8
        else:
            for ix in range(in_w):
                for c in range(channels):
                    interior[ix * channels + c] = line[ix * depth + group_start + c] ^ 0x80
    return xp


@numba.njit(cache=True, nogil=True)
def _requantize_tile_nb(tile, count, out_padded, y2d, start, channel_start, channels, bias32, multipliers, left,
                        right, output_zero_point, act_min, act_max):
    # its own function (not inlined into the parallel loop), so that LLVM vectorizes the loop over channels
    # unsigned indices: numba then drops its negative-index handling, which would block LLVM's vectorizer
    y_flat = y2d.reshape(-1)
    row_length = np.uint64(y2d.shape[1])
    for r in range(count):
        out_base = np.uint64(start + r) * row_length + np.uint64(channel_start)
        tile_base = np.uint64(r) * np.uint64(out_padded)
        for oc in range(channels):
            c = np.uint64(oc)
            y_flat[out_base + c] = _requantize_nb(tile[tile_base + c], bias32[c], multipliers[c], left[c], right[c],
                                                  output_zero_point, act_min, act_max)


@numba.njit(cache=True, parallel=True, nogil=True)
def _conv_vnni_nb(xp, padded_h, padded_w, in_channels, taps, panel, variant, rows, cols, out_padded, k_groups, out_h,
                  out_w, stride_h, stride_w, bias32, multipliers, left, right, output_zero_point, act_min, act_max, y,
                  channel_start, channels, tile_rows, nthreads):
    """y[b, oy, ox, channel_start + oc] for one group; xp is the group's padded uint8 input, flat."""
    batches = y.shape[0]
    y2d = y.reshape(batches * out_h * out_w, y.shape[3])
    pixels = batches * out_h * out_w
    image_bytes = padded_h * padded_w * in_channels
    row_bytes = padded_w * in_channels
    blocks = (pixels + rows - 1) // rows
    per_thread = ((blocks + nthreads - 1) // nthreads) * rows
    n_blocks = out_padded // (16 * cols)
    panel_stride = k_groups * 64 * cols
    for t in numba.prange(nthreads):
        first = t * per_thread
        last = min(pixels, first + per_thread)
        tile = np.empty(tile_rows * out_padded, np.int32)
        bases = np.empty(tile_rows, np.int64)
        for start in range(first, last, tile_rows):
            count = min(tile_rows, last - start)
            padded_count = ((count + rows - 1) // rows) * rows
            b = start // (out_h * out_w)  # walk (b, oy, ox) from the block's first pixel: no division per pixel
            oy = (start - b * out_h * out_w) // out_w
            ox = start - b * out_h * out_w - oy * out_w
            for r in range(count):
                bases[r] = b * image_bytes + oy * stride_h * row_bytes + ox * stride_w * in_channels
                ox += 1
                if ox == out_w:
                    ox = 0
                    oy += 1
                    if oy == out_h:
                        oy = 0
                        b += 1
            for r in range(count, padded_count):
                bases[r] = bases[count - 1]  # rows past the end re-read the last pixel; never stored
            # channel blocks outside, pixel blocks inside: one weight panel serves the whole super block
            for nb in range(n_blocks):
                for r0 in range(0, padded_count, rows):
                    tile_off = r0 * out_padded + nb * 16 * cols
                    if variant == 0:
                        _vnni_8x1(xp, bases, r0, taps, panel, nb * panel_stride, tile, tile_off, out_padded,
                                  k_groups)
                    elif variant == 1:
                        _vnni_8x2(xp, bases, r0, taps, panel, nb * panel_stride, tile, tile_off, out_padded,
                                  k_groups)
                    else:
                        _vnni_6x4(xp, bases, r0, taps, panel, nb * panel_stride, tile, tile_off, out_padded,
                                  k_groups)
            _requantize_tile_nb(tile, count, out_padded, y2d, start, channel_start, channels, bias32, multipliers,
                                left, right, output_zero_point, act_min, act_max)


def _tap_offsets(plan: ConvPlan, padded_w: int, dilation_h: int) -> np.ndarray:
    """Byte offset of each 4-byte group of the receptive field, relative to the pixel, in K order."""
    channels = plan.channels_in_group
    if plan.dilation_w == 1:  # one run per filter row
        run_starts = np.arange(plan.filter_h) * dilation_h * padded_w * channels
    else:  # one run per tap
        ky, kx = np.meshgrid(np.arange(plan.filter_h), np.arange(plan.filter_w), indexing="ij")
        run_starts = ((ky * dilation_h * padded_w + kx * plan.dilation_w) * channels).reshape(-1)
    offsets = run_starts[:, None] + 4 * np.arange(plan.segment_padded // 4)[None, :]
    return np.ascontiguousarray(offsets.reshape(-1), dtype=np.int64)


def _conv_vnni(plan: ConvPlan, p: Conv2DParams, x: np.ndarray, bias64: np.ndarray) -> np.ndarray:
    win = p.window
    batches = x.shape[0]
    need_h = (win.out_h - 1) * p.stride_h + (plan.filter_h - 1) * p.dilation_h + 1
    need_w = (win.out_w - 1) * p.stride_w + (plan.filter_w - 1) * p.dilation_w + 1
    padded_h = max(need_h, win.pad_h + x.shape[1])
    padded_w = max(need_w, win.pad_w + x.shape[2])
    fill = np.uint8(p.input_zero_point + 128)  # a border pixel contributes w * (zp_in - zp_in) = 0
    rq = _Requant(p, bias64 - (128 + p.input_zero_point) * plan.weight_sums)
    channels_out = plan.out_per_group * plan.groups
    y = np.empty((batches, win.out_h, win.out_w, channels_out), np.int8)
    taps = _tap_offsets(plan, padded_w, p.dilation_h)
    tile_rows = max(plan.rows, (TILE_BYTES // (4 * plan.out_padded)) // plan.rows * plan.rows)
    nthreads = numba.get_num_threads()  # asked here: numba.get_num_threads() inside a kernel blocks caching
    for g in range(plan.groups):
        xp = _pad_shift_u8_nb(x, g * plan.channels_in_group, plan.channels_in_group, win.pad_h, win.pad_w, padded_h,
                              padded_w, fill)
        outs = slice(g * plan.out_per_group, (g + 1) * plan.out_per_group)
        _conv_vnni_nb(xp, padded_h, padded_w, plan.channels_in_group, taps, plan.panels[g], plan.variant,
                      plan.rows, plan.cols, plan.out_padded, plan.k_groups, win.out_h, win.out_w, p.stride_h,
                      p.stride_w, rq.bias32[outs], rq.multipliers[outs], rq.left[outs], rq.right[outs],
                      p.output_zero_point, int(p.act_min), int(p.act_max), y, g * plan.out_per_group,
                      plan.out_per_group, tile_rows, nthreads)
    return y


# ------------------------------------------------------------------------------------------------
# BLAS backends: im2col + GEMM in floating point (exact, see the module docstring)


@numba.njit(cache=True, parallel=True, nogil=True)
def _im2col_nb(x, out, group_start, channels, filter_h, filter_w, stride_h, stride_w, dilation_h, dilation_w,
               pad_h, pad_w, out_h, out_w, fill):
    """out[m, (ky*KW + kx)*C + c] = x[b, iy, ix, group_start + c], or ``fill`` outside the image."""
    batches, in_h, in_w, _ = x.shape
    for row in numba.prange(batches * out_h):
        b = row // out_h
        oy = row - b * out_h
        for ox in range(out_w):
            m = row * out_w + ox
            k = 0
            for ky in range(filter_h):
                iy = oy * stride_h - pad_h + ky * dilation_h
                for kx in range(filter_w):
                    ix = ox * stride_w - pad_w + kx * dilation_w
                    if 0 <= iy < in_h and 0 <= ix < in_w:
                        for c in range(channels):
                            out[m, k + c] = x[b, iy, ix, group_start + c]
                    else:
                        for c in range(channels):
                            out[m, k + c] = fill
                    k += channels


@numba.njit(cache=True, parallel=True, nogil=True)
def _requantize_matrix_nb(acc, bias32, multipliers, left, right, output_zero_point, act_min, act_max, y2d,
                          channel_start):
    """y2d[m, channel_start + oc] from exact integer sums acc[m, oc] (any numeric dtype holding integers)."""
    pixels, channels = acc.shape
    for m in numba.prange(pixels):
        for oc in range(channels):
            y2d[m, channel_start + oc] = _requantize_nb(np.int64(acc[m, oc]), bias32[oc], multipliers[oc], left[oc],
                                                        right[oc], output_zero_point, act_min, act_max)


def _conv_blas(plan: ConvPlan, p: Conv2DParams, x: np.ndarray, bias64: np.ndarray) -> np.ndarray:
    win = p.window
    batches = x.shape[0]
    pixels = batches * win.out_h * win.out_w
    dtype = np.float32 if plan.backend == "blas32" else np.float64
    # raw x (c = 0): the border holds zp_in, and the correction is zp_in * sum w
    rq = _Requant(p, bias64 - p.input_zero_point * plan.weight_sums)
    channels_out = plan.out_per_group * plan.groups
    y = np.empty((batches, win.out_h, win.out_w, channels_out), np.int8)
    y2d = y.reshape(pixels, channels_out)
    k = plan.filter_h * plan.filter_w * plan.channels_in_group
    columns = np.empty((pixels, k), dtype)
    for g in range(plan.groups):
        _im2col_nb(x, columns, g * plan.channels_in_group, plan.channels_in_group, plan.filter_h, plan.filter_w,
                   p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, win.pad_h, win.pad_w, win.out_h, win.out_w,
                   dtype(p.input_zero_point))
        acc = _gemm_exact(columns, plan.gemm_weights[g], plan.k_chunks, numba.get_num_threads())
        outs = slice(g * plan.out_per_group, (g + 1) * plan.out_per_group)
        _requantize_matrix_nb(acc, rq.bias32[outs], rq.multipliers[outs], rq.left[outs], rq.right[outs],
                              p.output_zero_point, int(p.act_min), int(p.act_max), y2d, g * plan.out_per_group)
    return y


def _gemm_exact(columns: np.ndarray, weights: np.ndarray, chunks: tuple[tuple[int, int], ...],
                num_threads: int) -> np.ndarray:
    """columns @ weights, one GEMM per K chunk (each exact), chunks added as int64; rows split over threads.

    The BLAS library runs single-threaded and the rows are split over a pool of Python threads (BLAS
    releases the GIL) instead: OpenBLAS's own workers busy-wait after each call and would then fight numba's
    workers for the cores in the kernels around the GEMM.
    """
    pixels = columns.shape[0]
    out = np.empty((pixels, weights.shape[1]), columns.dtype if len(chunks) == 1 else np.int64)

    def rows(start: int, stop: int) -> None:
        if len(chunks) == 1:
            np.matmul(columns[start:stop], weights, out=out[start:stop])
            return
        out[start:stop] = 0
        for k0, k1 in chunks:
            out[start:stop] += (columns[start:stop, k0:k1] @ weights[k0:k1]).astype(np.int64)

    # a thread per 16 M multiply-adds at most: below that, handing work to a pool thread costs more than it saves
    parts = min(num_threads, max(1, pixels * columns.shape[1] * weights.shape[1] // (16 << 20)))
    if parts == 1 or not set_blas_threads(1):
        rows(0, pixels)
        return out
    bounds = np.linspace(0, pixels, parts + 1).astype(int)
    pool = _thread_pool(parts)
    futures = [pool.submit(rows, int(a), int(b)) for a, b in zip(bounds[1:-1], bounds[2:])]
    rows(int(bounds[0]), int(bounds[1]))  # the calling thread takes the first part
    for future in futures:
        future.result()
    return out


_pools: dict[int, ThreadPoolExecutor] = {}


def _thread_pool(parts: int) -> ThreadPoolExecutor:
    if parts not in _pools:
        _pools[parts] = ThreadPoolExecutor(max_workers=parts - 1, thread_name_prefix="refinterp-gemm")
    return _pools[parts]


_blas_threads: list[int] = []  # the thread count last given to the BLAS library (empty: never set)


def set_blas_threads(num_threads: int) -> bool:
    """Limit NumPy's BLAS to ``num_threads`` (via threadpoolctl when installed); False when it cannot."""
    if _blas_threads and _blas_threads[0] == num_threads:
        return True
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the BLAS library then uses its own default (all cores)
        return False
    threadpool_limits(limits=num_threads, user_api="blas")
    _blas_threads[:] = [num_threads]
    return True


# ------------------------------------------------------------------------------------------------
# float32: the spec's order of operations in numba


def _pack_float(weights: np.ndarray) -> np.ndarray:
    """[Cout, KH, KW, Cin_g] -> contiguous float32 [KH, KW, Cin_g, Cout]: the inner loop runs over Cout."""
    return np.ascontiguousarray(np.transpose(weights, (1, 2, 3, 0)).astype(np.float32))


@numba.njit(cache=True, parallel=True, nogil=True)
def _conv2d_float_nb(x, w_packed, bias, groups, stride_h, stride_w, dilation_h, dilation_w, pad_h, pad_w,
                     out_h, out_w, act_min, act_max):
    batches, in_h, in_w, _ = x.shape
    filter_h, filter_w, channels_in_group, channels_out = w_packed.shape
    out_per_group = channels_out // groups
    y = np.empty((batches, out_h, out_w, channels_out), dtype=np.float32)
    for row in numba.prange(batches * out_h):
        b = row // out_h
        oy = row % out_h
        total = np.empty(channels_out, dtype=np.float32)
        for ox in range(out_w):
            total[:] = 0.0
            for ky in range(filter_h):
                iy = oy * stride_h - pad_h + ky * dilation_h
                if iy < 0 or iy >= in_h:
                    continue
                for kx in range(filter_w):
                    ix = ox * stride_w - pad_w + kx * dilation_w
                    if ix < 0 or ix >= in_w:
                        continue
                    for g in range(groups):
                        for ic in range(channels_in_group):
                            xv = x[b, iy, ix, g * channels_in_group + ic]
                            for oc in range(g * out_per_group, (g + 1) * out_per_group):
                                total[oc] += xv * w_packed[ky, kx, ic, oc]
            for oc in range(channels_out):
                v = total[oc] + bias[oc]
                y[b, oy, ox, oc] = min(max(v, act_min), act_max)
    return y


def _conv_float(p: Conv2DParams, packed: np.ndarray, x: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    win = p.window
    channels_out = packed.shape[3]
    bias32 = bias.astype(np.float32) if bias is not None else np.zeros(channels_out, np.float32)
    return _conv2d_float_nb(np.ascontiguousarray(x, dtype=np.float32), packed, bias32, p.groups, p.stride_h,
                            p.stride_w, p.dilation_h, p.dilation_w, win.pad_h, win.pad_w, win.out_h, win.out_w,
                            np.float32(p.act_min), np.float32(p.act_max))


# ------------------------------------------------------------------------------------------------
# Prepare and entry point (the registry's CONV_2D ``fast_prepare`` and ``fast``)


@dataclass(frozen=True)
class ConvFastParams:
    """The spec's params plus what only the fast kernels read, made once at prepare from constant weights."""

    spec: Conv2DParams
    plan: ConvPlan | None = None  # int8: the weights packed for the chosen backend
    packed_weights: np.ndarray | None = None  # float32: [KH, KW, Cin_g, Cout]


def prepare_conv2d_fast(ctx: OpContext) -> ConvFastParams:
    spec = prepare_conv2d(ctx)
    w = ctx.require_input(1)
    if not w.is_constant:  # packed at run time, from the weights the kernel is given
        return ConvFastParams(spec)
    if not spec.quantized:
        return ConvFastParams(spec, packed_weights=_pack_float(w.data))
    x_shape = ctx.shape(ctx.require_input(0))
    return ConvFastParams(spec, plan=plan_conv2d(w.data, spec.groups, x_shape[1], x_shape[2], spec.dilation_w))


def conv2d_fast(p: ConvFastParams, x: np.ndarray, w: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """CONV_2D fast kernel: int8 through the plan made at prepare; float32 through the numba loop."""
    spec = p.spec
    if not spec.quantized:
        return _conv_float(spec, p.packed_weights if p.packed_weights is not None else _pack_float(w), x, bias)
    plan = p.plan
    if plan is None or (plan.in_h, plan.in_w) != x.shape[1:3]:  # non-constant weights, or a resized input
        plan = plan_conv2d(w, spec.groups, x.shape[1], x.shape[2], spec.dilation_w,
                           backend=plan.backend if plan is not None else None)
    channels_out = w.shape[0]
    bias64 = bias.astype(np.int64) if bias is not None else np.zeros(channels_out, np.int64)
    x = np.ascontiguousarray(x)
    if plan.backend == "vnni":
        return _conv_vnni(plan, spec, x, bias64)
    return _conv_blas(plan, spec, x, bias64)

"""CONV_2D fast kernels, kept apart from the spec (``refinterp/ops/conv.py``) as onnx keeps its optimized ops.

Every backend computes exactly the integer rule written in ``conv.py``'s docstring; what differs is how the
sum ``acc = sum w * (x - zp_in)`` is formed. Two facts make that freedom safe:

* TFLite's accumulator is an int32 that wraps (two's complement), so the result only depends on the true
  sum modulo 2^32. Any exact integer evaluation that is reduced modulo 2^32 at the end gives the same bits.
* ``sum w * (x - zp_in) = sum w * x' - (c + zp_in) * sum w`` for ``x' = x + c`` whenever the taps outside the
  image read ``x' = zp_in + c`` (they then contribute exactly 0, as the reference's skipped taps do). The
  second term only depends on the weights, so it is folded into an ``int64`` bias at run time:
  ``bias_eff[oc] = bias[oc] - (c + zp_in) * sum_k w[oc, k]``.

int8 backends (``prepare_conv2d_fast`` calls the spec prepare, then ``plan_conv2d``, which packs the weights for
the backend ``choose_backend`` picks: the first of ``vnni > avxvnni > avx2 > blas32 > blas64`` whose CPU features
numba's target and the host both have and whose self-test passes; ``explain_backend`` says which and why;
``REFINTERP_CONV_BACKEND=vnni|avxvnni|avx2|blas32|blas64`` forces one, an error if it cannot run here).

The three micro-kernel backends share one design ("indirect GEMM", as XNNPACK does; no im2col matrix): the
group's input is copied once into a padded buffer, the weights are packed at prepare into panels
``[channel block][K step][lanes*cols][step]``, and a micro-kernel written in LLVM IR (a numba ``@intrinsic``)
keeps ``rows x cols`` vectors of int32 accumulators in registers while it walks K through a table of byte
offsets: one 4-byte broadcast per K step and row, from a run of adjacent input elements (a filter row's
KW * Cin_g elements when dilation_w is 1, else one tap's Cin_g), runs padded to whole steps with zero weights.

``vnni``
    x86 AVX-512 VNNI ``vpdpbusd`` (512-bit): 64 products uint8 x int8 per instruction, 16 lanes. The input is
    shifted to uint8 (``x' = x + 128``, ``c = 128``; the border holds ``zp_in + 128``). ``vpdpbusd`` sums each
    lane's four products exactly (|sum| <= 4 * 255 * 128 < 2^17) and adds the sum to the lane modulo 2^32,
    like the reference's int32 accumulator: exact for every K.
``avxvnni``
    The same with 256-bit ``vpdpbusd`` (8 lanes): AVX-VNNI (Intel Alder Lake and later cores without
    AVX-512), or AVX-512 VNNI with AVX-512 VL, where it is encoded as EVEX.
``avx2``
    Any x86-64 CPU with AVX2 (and, slower, any CPU LLVM targets). The input is widened to int16 (``c = 0``: the
    raw ``x``, the border holds ``zp_in``), the weights are packed as int16, and each K step covers 2 input
    channels: per lane ``acc += x0 * w0 + x1 * w1``. The products of int8 values are exact in int32
    (|x * w| <= 128 * 128 = 2^14) and so is the pair's sum (<= 2^15, far from the int16 x int16 corner case
    ``2 * (-2^15)^2 = 2^31`` that ``vpmaddwd`` wraps); the pair's sum is added to the lane modulo 2^32, like
    the reference's accumulator: exact for every K. The kernel is portable LLVM vector IR (``sext``, ``mul``,
    an even/odd ``shufflevector`` and ``add`` on ``<16 x i16>``); LLVM selects ``vpmaddwd`` + ``vpaddd`` for it
    on AVX2 (checked in the assembly for ``-mcpu=haswell`` and ``znver3``), ``vpdpwssd`` where AVX-512 VNNI or
    AVX-VNNI exists (``znver4``), SSE2 ``pmaddwd`` on a generic x86-64, and NEON ``smull`` + ``uzp`` + ``add``
    for aarch64 (assembly only: choose_backend picks avx2 only on CPUs with AVX2). ``vpmaddubsw`` (uint8 x int8 ->
    int16, twice the products per instruction) is not used: a pair's sum reaches 2 * 255 * 128 = 65280 and
    saturates int16, so it is exact only for weights with ``|w0| + |w1| <= 128`` in every pair.
``blas32``
    Portable fallback: im2col in float32 (raw ``x``, so ``c = 0``; the border holds ``zp_in``), one float32
    GEMM per K-chunk. float32 holds every integer up to 2^24 exactly, so a chunk's sum is exact in any
    summation order (BLAS reorders and uses FMA) if every partial sum stays below 2^24. The chunks are
    fixed at prepare from the weights: K is cut greedily so that, for every output channel,
    ``128 * sum_{k in chunk} |w[oc, k]| < 2^24`` (|x| <= 128). The chunk sums are then added in int64.
``blas64``
    float64 im2col and one float64 GEMM: exact while ``K * 128 * 128 < 2^53``, i.e. always in practice.
    Half the speed of float32; kept for comparison (``refinterp bench --compare-conv``).

Self-tests: the first time a process asks for a backend (``backend_unavailable``), it runs small convolutions
(every tile shape, a strided dilated grouped one, one at the extreme values) against the spec; a failure is a
RuntimeWarning and the next backend is used (or, when forced, a RefinterpError). The self-test calls the kernels
with the argument types a model's calls have (read-only inputs, Python ints): the kernels it compiles, or loads
from numba's cache, are the ones the model then runs, and a cold start compiles each of them once.

Requantization (double-rounding MultiplyByQuantizedMultiplier, zero point, clamp) is fused into the
micro-kernel backends per tile, 8 channels at a time in portable vector IR on int32 lanes
(``requantize_lanes``), and a separate parallel numba pass on int64 for the BLAS backends.

float32: numba loops with the spec's summation order (ky, kx, ic, one float32 multiply and add each), output
rows in parallel, over weights packed at prepare as ``[KH, KW, Cin_g, Cout]``. With finite weights (checked at
prepare) the input is copied to a zero-padded planar buffer and the inner loop runs over a row of output pixels
(why the padding is exact: ``_conv_float``); otherwise a pixel-major loop that skips the taps outside the image.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from refinterp.errors import RefinterpError
from refinterp.ops.common import OpContext, Window2D, compute_padding
from refinterp.ops.conv import KIND_INT16, Conv2DParams, conv2d_spec, prepare_conv2d
from refinterp.ops.fast import conv_uint8_hybrid
from refinterp.ops.fast.common import readonly
from refinterp.ops.fast.conv_int16 import Int16ConvPlan, conv2d_int16, plan_conv2d_int16
from refinterp.ops.fast.requantize import REQUANT_LANES, requantize_lanes

#: every int8 backend, in choose_backend's order of preference (blas64 only if blas32 fails its self-test)
BACKENDS = ("vnni", "avxvnni", "avx2", "blas32", "blas64")
#: the backends that run an integer micro-kernel written in LLVM IR (the others: im2col + a BLAS GEMM)
MICROKERNEL_BACKENDS = ("vnni", "avxvnni", "avx2")
BACKEND_ENV = "REFINTERP_CONV_BACKEND"

#: float32 represents every integer of magnitude <= 2^24 exactly; partial sums must stay strictly below
FLOAT32_EXACT_LIMIT = 1 << 24
#: the largest |x| of an int8 activation
INT8_MAX_ABS = 128
#: the per-thread int32 tile of one super block of rows stays within this many bytes (L2-resident)
TILE_BYTES = 1 << 18
#: a convolution gets one more thread per this many multiply-adds: below it, waking a worker (or waiting for
#: one that the OS has descheduled on a busy machine) costs more than the thread saves
MACS_PER_THREAD = 1 << 21


@dataclass(frozen=True)
class MicroKernelIsa:
    """The shape of one micro-kernel backend's arithmetic."""

    lanes: int  # int32 accumulators per vector register
    step: int  # input elements per K step: one 4-byte broadcast (4 uint8 for vpdpbusd, 2 int16 for vpmaddwd)
    input_dtype: type  # the padded input's element type: uint8 (x + 128) or int16 (x)
    weight_dtype: type  # the packed weights' element type: int8 or int16
    tiles: tuple[tuple[int, int], ...]  # (rows of output pixels, vectors of `lanes` channels) per call
    #: CPU features the instructions need, in numba's target and in the host: any one of these sets
    features: tuple[tuple[str, ...], ...]


#: Tiles: rows * cols accumulators + cols weight vectors + a broadcast (+ a product for avx2) must fit in the
#: registers: 32 zmm for vnni, 16 ymm for the 256-bit backends.
MICROKERNEL_ISAS = {
    "vnni": MicroKernelIsa(16, 4, np.uint8, np.int8, ((8, 1), (8, 2), (6, 4)),
                           (("avx512f", "avx512bw", "avx512vnni"),)),
    "avxvnni": MicroKernelIsa(8, 4, np.uint8, np.int8, ((8, 1), (6, 2), (4, 3)),
                              (("avxvnni",), ("avx512vnni", "avx512vl"))),
    # avx2 is portable LLVM IR: it builds for any CPU (SSE2 pmaddwd without AVX2); the feature decides the choice
    # (4, 3) would need 12 accumulators + 3 weights + a broadcast + a product: 17 ymm, and LLVM spills
    "avx2": MicroKernelIsa(8, 2, np.int16, np.int16, ((8, 1), (6, 2)), (("avx2",),)),
}


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
    # micro-kernel backends (vnni, avxvnni, avx2)
    rows: int = 0
    cols: int = 0
    variant: int = 0  # index of (rows, cols) in the backend's tiles
    dilation_w: int = 1
    segments: int = 0  # contiguous runs of input elements per receptive field: KH (dilation_w 1) or KH * KW
    segment_length: int = 0  # elements of one run: KW * Cin_g (dilation_w 1) or Cin_g
    segment_padded: int = 0  # segment_length rounded up to whole K steps: the extra elements meet zero weights
    out_padded: int = 0  # output channels per group, padded to a multiple of lanes * cols
    k_groups: int = 0  # K steps after padding: the micro-kernel's trip count
    panels: tuple[np.ndarray, ...] = ()  # per group: [out_padded/(lanes cols), k_groups, lanes cols, step], flat
    #: the last call's derived data (_MicroKernelCall): the same op runs with the same params and bias each time
    last_call: list = field(default_factory=list, compare=False, repr=False)
    # blas
    gemm_weights: tuple[np.ndarray, ...] = ()  # per group: float [K, out_per_group]
    k_chunks: tuple[tuple[int, int], ...] = ()  # blas32: [k0, k1) ranges, the same for every group


# ------------------------------------------------------------------------------------------------
# Backend choice: CPU features, the environment variable, and a self-test at first use


def _feature_map(text: str) -> dict[str, bool]:
    return {item[1:]: item[0] == "+" for item in text.split(",") if len(item) > 1 and item[0] in "+-"}


@cache
def _host_cpu() -> tuple[str, dict[str, bool]]:
    """The host CPU's LLVM name and features (empty when llvmlite cannot tell)."""
    try:
        from llvmlite import binding

        return binding.get_host_cpu_name(), dict(binding.get_host_cpu_features())
    except Exception:  # noqa: BLE001 - any failure to ask means "no features"
        return "unknown", {}


def _target_features() -> dict[str, bool]:
    """The features numba compiles for: NUMBA_CPU_FEATURES when set, else the host's (numba's own rule)."""
    if numba.config.CPU_FEATURES is not None:
        return _feature_map(numba.config.CPU_FEATURES)
    return _host_cpu()[1]


def missing_cpu_features(backend: str) -> tuple[str, ...]:
    """The CPU features the micro-kernel ``backend`` needs that the host or numba's target lacks (() = none).

    Of the backend's alternative feature sets, the one that misses fewest; () for the BLAS backends.
    """
    if backend not in MICROKERNEL_BACKENDS:
        return ()
    host, target = _host_cpu()[1], _target_features()
    gaps = [tuple(f for f in wanted if not (host.get(f) and target.get(f)))
            for wanted in MICROKERNEL_ISAS[backend].features]
    return min(gaps, key=len)


def backend_unavailable(backend: str) -> str | None:
    """Why the int8 ``backend`` cannot be used here (a CPU feature, no JIT, its self-test), or None if it can.

    Runs (and caches for the process) the backend's self-test the first time it is asked about a backend
    whose requirements are met: that compiles the backend's kernels, or loads them from numba's cache.
    """
    if backend not in BACKENDS:
        raise RefinterpError(f"unknown conv backend {backend!r} (one of {', '.join(BACKENDS)})")
    if backend in MICROKERNEL_BACKENDS:
        if numba.config.DISABLE_JIT:
            return "numba's JIT is disabled (NUMBA_DISABLE_JIT)"
        missing = missing_cpu_features(backend) if backend != "avx2" else ()  # avx2's IR is portable
        if missing:
            return _lacks(missing)
    failure = _self_test_failure(backend)
    return f"its self-test failed: {failure}" if failure else None


def _lacks(missing: tuple[str, ...]) -> str:
    return f"cpu lacks {', '.join(missing)}" + ("" if numba.config.CPU_FEATURES is None else " (in NUMBA_CPU_FEATURES)")


def host_has_vnni() -> bool:
    """Whether the vnni micro-kernel runs here: numba compiles for AVX-512 VNNI and the self-test passes."""
    return backend_unavailable("vnni") is None


@cache
def _self_test_failure(backend: str) -> str | None:
    try:
        failure = _self_test(backend)
    except Exception as exc:  # noqa: BLE001 - e.g. an LLVM whose intrinsic has another signature
        failure = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
    if failure and (backend not in MICROKERNEL_BACKENDS or not missing_cpu_features(backend)):
        warnings.warn(f"refinterp: the {backend} conv backend is not usable ({failure})", RuntimeWarning,
                      stacklevel=3)
    return failure


def _self_test(backend: str) -> str | None:
    """Run ``backend`` on small convolutions against the spec: a reason if any output differs, else None.

    One convolution per tile shape (the channel count picks it), a strided, dilated, grouped one (per-tap runs,
    two panels), and one at the extremes: every ``x - zp_in`` is -255 and every weight -128.
    """
    rng = np.random.default_rng(20261124)
    isa = MICROKERNEL_ISAS.get(backend)
    tiles = isa.tiles if isa is not None else ((1, 1),)
    lanes = isa.lanes if isa is not None else 8
    # (input shape, output channels, groups, stride, dilation, zp_in, output shift)
    cases = [((2, 5, 7, 6), lanes * cols, 1, 1, 1, -3, -12) for _, cols in tiles]
    cases += [((1, 9, 8, 10), 2 * lanes + 2, 2, 2, 2, 100, -12), ((1, 4, 4, 200), 3, 1, 1, 1, 127, -20)]
    for shape, channels, groups, stride, dilation, zp_in, shift in cases:
        extreme = zp_in == 127
        x = np.full(shape, -128, np.int8) if extreme else rng.integers(-128, 128, shape, dtype=np.int8)
        x.flags.writeable = False  # as the interpreter's tensors: the kernels compile for the types a model uses
        w_shape = (channels, 3, 3, shape[3] // groups)
        w = np.full(w_shape, -128, np.int8) if extreme else rng.integers(-128, 128, w_shape, dtype=np.int8)
        bias = rng.integers(-(1 << 20), 1 << 20, channels).astype(np.int32)
        out_h, out_w = (-(-shape[i] // stride) for i in (1, 2))
        window = Window2D(out_h, out_w, compute_padding(stride, dilation, shape[1], 3, out_h),
                          compute_padding(stride, dilation, shape[2], 3, out_w))
        params = Conv2DParams(stride_h=stride, stride_w=stride, dilation_h=dilation, dilation_w=dilation,
                              window=window, groups=groups, quantized=True, input_zero_point=zp_in,
                              output_zero_point=2, output_multiplier=np.full(channels, 1 << 30, np.int64),
                              output_shift=np.full(channels, shift, np.int64), act_min=-128, act_max=127)
        plan = plan_conv2d(w, groups, shape[1], shape[2], dilation, backend=backend)
        expected = conv2d_spec(params, x, w, bias)
        if not np.array_equal(_run_plan(plan, params, x, bias), expected):
            return f"wrong results on a 3x3 convolution with {channels} output channels"
    return None


def _requested_backend() -> str | None:
    forced = os.environ.get(BACKEND_ENV, "").strip().lower()
    if not forced or forced == "auto":
        return None
    if forced not in BACKENDS:
        raise RefinterpError(f"{BACKEND_ENV}={forced!r} is not one of auto, {', '.join(BACKENDS)}")
    return forced


def explain_backend() -> tuple[str, str]:
    """The int8 CONV_2D backend that ``plan_conv2d`` uses by default, and one line saying why.

    ``REFINTERP_CONV_BACKEND`` (``BACKEND_ENV``) forces one (a RefinterpError if it cannot run here);
    otherwise the first of ``BACKENDS`` that this CPU has the instructions for and that passes its self-test
    (avx2 is chosen only when the CPU has AVX2, though its portable code would run anywhere).
    """
    forced = _requested_backend()
    cpu = _host_cpu()[0]
    target = "" if numba.config.CPU_NAME in (None, "host") else f", numba targets {numba.config.CPU_NAME}"
    if forced is not None:
        why = backend_unavailable(forced)
        if why is not None:
            raise RefinterpError(f"{BACKEND_ENV}={forced} but {why}")
        return forced, f"forced by {BACKEND_ENV}={forced} ({cpu} CPU{target})"
    passed_over = []
    for backend in BACKENDS:
        # avx2 would run anywhere, but is chosen only on a CPU with AVX2
        why = _lacks(missing_cpu_features(backend)) if backend == "avx2" and missing_cpu_features(backend) else \
            backend_unavailable(backend)
        if why is None:
            if backend in MICROKERNEL_BACKENDS:
                wanted = next(w for w in MICROKERNEL_ISAS[backend].features
                              if all(_host_cpu()[1].get(f) and _target_features().get(f) for f in w))
                reason = f"the {cpu} CPU has {', '.join(wanted)}{target}"
            else:
                reason = f"the {cpu} CPU{target}"
            if passed_over:
                reason += "; " + "; ".join(passed_over)
            return backend, reason
        passed_over.append(f"not {backend}: {why}")
    raise RefinterpError("no exact int8 CONV_2D backend works here: " + "; ".join(passed_over))


def choose_backend() -> str:
    """The int8 CONV_2D backend used by default here (see :func:`explain_backend`)."""
    return explain_backend()[0]


def plan_conv2d(weights: np.ndarray, groups: int, in_h: int, in_w: int, dilation_w: int = 1,
                backend: str | None = None) -> ConvPlan:
    """Pack int8 weights ``[Cout, KH, KW, Cin_g]`` for ``backend`` (default: :func:`choose_backend`'s)."""
    backend = backend or choose_backend()
    if backend not in BACKENDS:
        raise RefinterpError(f"unknown conv backend {backend!r}")
    w = np.asarray(weights)
    channels_out, filter_h, filter_w, channels_in_group = w.shape
    out_per_group = channels_out // groups
    weight_sums = w.reshape(channels_out, -1).sum(axis=1, dtype=np.int64)  # no int64 copy of the weights
    common = dict(groups=groups, filter_h=filter_h, filter_w=filter_w, channels_in_group=channels_in_group,
                  out_per_group=out_per_group, in_h=in_h, in_w=in_w, weight_sums=weight_sums, dilation_w=dilation_w)
    if backend in MICROKERNEL_BACKENDS:
        isa = MICROKERNEL_ISAS[backend]
        padded = -(-out_per_group // isa.lanes) * isa.lanes
        # the widest tile whose channel block divides the channels (padded to lanes): no extra padding
        variant = max((i for i, (_, c) in enumerate(isa.tiles) if padded % (isa.lanes * c) == 0),
                      key=lambda i: isa.tiles[i][1])
        rows, cols = isa.tiles[variant]
        block = isa.lanes * cols
        # With dilation_w 1 the KW taps of one filter row read KW * Cin_g adjacent input elements (NHWC): one run.
        segments, segment_length = (filter_h, filter_w * channels_in_group) if dilation_w == 1 else \
            (filter_h * filter_w, channels_in_group)
        segment_padded = -(-segment_length // isa.step) * isa.step
        k_groups = segments * segment_padded // isa.step
        panels = []
        for g in range(groups):
            wg = np.zeros((padded, segments, segment_padded), isa.weight_dtype)  # int8 -> int16 sign-extends
            wg[:out_per_group, :, :segment_length] = w[g * out_per_group:(g + 1) * out_per_group].reshape(
                out_per_group, segments, segment_length)
            # [padded, K] -> [block, K steps, lanes*cols, step]: one vector per (K step, lanes channels)
            t = wg.reshape(padded // block, block, k_groups, isa.step).transpose(0, 2, 1, 3)
            panels.append(np.ascontiguousarray(t).reshape(-1))
        return ConvPlan(backend, **common, rows=rows, cols=cols, variant=variant, segments=segments,
                        segment_length=segment_length, segment_padded=segment_padded, out_padded=padded,
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
    starts = _greedy_chunk_starts_nb(readonly(np.ascontiguousarray(weights_2d)), max_abs_x, FLOAT32_EXACT_LIMIT)
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
# The micro-kernels, in LLVM IR


def _make_microkernel(backend: str, rows: int, cols: int):
    """An intrinsic computing a ``rows x (lanes*cols)`` int32 tile of ``backend`` (vnni, avxvnni or avx2).

    Arguments: ``xp`` (the padded input, flat), ``bases``/``bases_off`` (byte offset of each of the rows'
    pixels in xp), ``taps`` (byte offset, relative to a pixel, of each K step's 4 input bytes; length k),
    ``panel``/``panel_off`` (the packed weights of one block of lanes*cols channels; offset in bytes),
    ``tile``/``tile_off``/``ldc`` (where the int32 sums go, in int32 elements), ``k`` (trip count).

    Each K step loads ``cols`` weight vectors and, for each row, broadcasts the pixel's 4 input bytes to every
    lane; then per (row, col): vnni/avxvnni ``acc = vpdpbusd(acc, bytes, weights)`` (the 512- or 256-bit
    intrinsic); avx2, in portable IR, ``acc += even + odd`` of ``sext(int16 pair) * sext(int16 weights)``
    as <2*lanes x i32>: LLVM selects ``vpmaddwd`` + ``vpaddd`` for it (``vpdpwssd`` where VNNI exists,
    SSE2 ``pmaddwd`` without AVX2; on aarch64 NEON ``smull`` + ``uzp1``/``uzp2`` + ``add``, seen in the
    assembly for neoverse-n1 but never run on ARM hardware, where choose_backend does not pick it).
    """
    isa = MICROKERNEL_ISAS[backend]
    lanes = isa.lanes
    vector_bytes = 4 * lanes  # one weight vector: lanes channels x one K step (4 bytes each)

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
            i8, i16, i32 = ir.IntType(8), ir.IntType(16), ir.IntType(32)
            vacc = ir.VectorType(i32, lanes)
            if backend == "avx2":
                vweights = ir.VectorType(i16, 2 * lanes)
                wide = ir.VectorType(i32, 2 * lanes)
                even = ir.Constant(ir.VectorType(i32, lanes), [2 * i for i in range(lanes)])
                odd = ir.Constant(ir.VectorType(i32, lanes), [2 * i + 1 for i in range(lanes)])

                def step(acc, broadcast, weights):
                    # |int8 * int8| <= 2^14 and a pair's sum <= 2^15: exact in i32 (nsw); acc wraps (no flag)
                    products = builder.mul(builder.sext(builder.bitcast(broadcast, vweights), wide),
                                           builder.sext(weights, wide), flags=("nsw",))
                    pairs = builder.add(builder.shuffle_vector(products, ir.Constant(wide, ir.Undefined), even),
                                        builder.shuffle_vector(products, ir.Constant(wide, ir.Undefined), odd),
                                        flags=("nsw",))
                    return builder.add(acc, pairs)
            else:
                vweights = vacc
                name = "llvm.x86.avx512.vpdpbusd.512" if lanes == 16 else "llvm.x86.avx512.vpdpbusd.256"
                vpdpbusd = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vacc, [vacc] * 3), name)

                def step(acc, broadcast, weights):
                    return builder.call(vpdpbusd, [acc, broadcast, weights])

            def const(value):
                return ir.Constant(intp_t, value)

            xp_ptr = builder.bitcast(xp_a.data, i8.as_pointer())
            panel_ptr = builder.gep(builder.bitcast(panel_a.data, i8.as_pointer()), [panel_off_v])
            tile_ptr = builder.gep(tile_a.data, [tile_off_v])
            row_bases = [builder.load(builder.gep(bases_a.data, [builder.add(bases_off_v, const(r))]))
                         for r in range(rows)]
            zero = ir.Constant(vacc, None)
            entry = builder.block
            loop = builder.append_basic_block("microkernel.loop")
            done = builder.append_basic_block("microkernel.done")
            builder.cbranch(builder.icmp_signed(">", k_v, const(0)), loop, done)

            builder.position_at_end(loop)
            kk = builder.phi(intp_t)
            kk.add_incoming(const(0), entry)
            acc = [[builder.phi(vacc) for _ in range(cols)] for _ in range(rows)]
            for row in acc:
                for phi in row:
                    phi.add_incoming(zero, entry)
            weights = []
            for c in range(cols):
                offset = builder.add(builder.mul(kk, const(vector_bytes * cols)), const(vector_bytes * c))
                weights.append(builder.load(builder.bitcast(builder.gep(panel_ptr, [offset]),
                                                            vweights.as_pointer()), align=1))
            tap = builder.load(builder.gep(taps_a.data, [kk]))
            updated = []
            for r in range(rows):
                address = builder.gep(xp_ptr, [builder.add(row_bases[r], tap)])
                four_bytes = builder.load(builder.bitcast(address, i32.as_pointer()), align=1)
                broadcast = builder.shuffle_vector(
                    builder.insert_element(ir.Constant(vacc, ir.Undefined), four_bytes, ir.Constant(i32, 0)),
                    ir.Constant(vacc, ir.Undefined), ir.Constant(vacc, None))
                updated.append([step(acc[r][c], broadcast, weights[c]) for c in range(cols)])
            k_next = builder.add(kk, const(1))
            body_end = builder.block
            kk.add_incoming(k_next, body_end)
            for r in range(rows):
                for c in range(cols):
                    acc[r][c].add_incoming(updated[r][c], body_end)
            builder.cbranch(builder.icmp_signed("<", k_next, k_v), loop, done)

            builder.position_at_end(done)
            finals = [[builder.phi(vacc) for _ in range(cols)] for _ in range(rows)]  # phis first in a block
            for r in range(rows):
                for c in range(cols):
                    finals[r][c].add_incoming(zero, entry)
                    finals[r][c].add_incoming(updated[r][c], body_end)
                    offset = builder.add(builder.mul(const(r), ldc_v), const(lanes * c))
                    builder.store(finals[r][c], builder.bitcast(builder.gep(tile_ptr, [offset]), vacc.as_pointer()),
                                  align=4)
            return context.get_dummy_value()

        return sig, codegen

    return microkernel


_vnni_8x1, _vnni_8x2, _vnni_6x4 = (_make_microkernel("vnni", *t) for t in MICROKERNEL_ISAS["vnni"].tiles)
_avxvnni_8x1, _avxvnni_6x2, _avxvnni_4x3 = (_make_microkernel("avxvnni", *t) for t in MICROKERNEL_ISAS["avxvnni"].tiles)
_avx2_8x1, _avx2_6x2 = (_make_microkernel("avx2", *t) for t in MICROKERNEL_ISAS["avx2"].tiles)


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


def _pad_group(x: np.ndarray, group_start: int, channels: int, pad_top: int, pad_left: int, padded_h: int,
               padded_w: int, fill: np.uint8 | np.int16) -> np.ndarray:
    """Flat [B, padded_h, padded_w, channels] of one group's channels of an int8 ``x``, border = ``fill``.

    ``fill``'s dtype says the element: uint8 holds ``x + 128`` (the int8 bits XOR 0x80), int16 holds ``x``.
    Slack at the end (4 bytes: 4 uint8 or 2 int16), filled too: a micro-kernel's last 4-byte read may pass the
    last run by up to 3 bytes (those bytes meet zero weights).

    NumPy, not numba: the parallel numba kernel it replaces took over a third of the golden model's cold-start compile
    time (compiled twice: the self-test's writable input, the model's read-only one), and NumPy's copy was faster
    (0.17 against 0.33 ms for every input of the golden model's convolutions, 2 threads).
    """
    batches, in_h, in_w, _ = x.shape
    slack = 4 // fill.dtype.itemsize
    flat = np.empty(batches * padded_h * padded_w * channels + slack, fill.dtype)
    flat[-slack:] = fill
    xp = flat[:-slack].reshape(batches, padded_h, padded_w, channels)
    bottom, right = pad_top + in_h, pad_left + in_w
    xp[:, :pad_top] = fill
    xp[:, bottom:] = fill
    xp[:, pad_top:bottom, :pad_left] = fill
    xp[:, pad_top:bottom, right:] = fill
    interior = xp[:, pad_top:bottom, pad_left:right]
    source = x[:, :, :, group_start:group_start + channels]
    if fill.dtype == np.uint8:
        np.bitwise_xor(source.view(np.uint8), np.uint8(0x80), out=interior)  # int8 bits ^ 0x80 = x + 128, as uint8
    else:
        np.copyto(interior, source)  # int8 -> int16 sign-extends
    return flat


def _requant_lanes_operands(p: Conv2DParams, bias_eff: np.ndarray, groups: int, out_padded: int):
    """bias32, multipliers, left, right as int32 [groups, out_padded] (padding: zeros) for requantize_lanes."""
    per_group = len(bias_eff) // groups
    operands = np.zeros((4, groups, out_padded), np.int32)
    for row, values in enumerate((((bias_eff + (1 << 31)) & 0xFFFFFFFF) - (1 << 31), p.output_multiplier,
                                  np.maximum(p.output_shift, 0), np.maximum(-p.output_shift, 0))):
        operands[row, :, :per_group] = np.asarray(values, np.int64).reshape(groups, per_group)
    return operands


@numba.njit(cache=True, nogil=True)
def _requantize_tile_nb(tile, count, out_padded, y2d, start, channel_start, channels, bias32, multipliers, left,
                        right, output_zero_point, act_min, act_max):
    """y2d[start + r, channel_start + oc] from the int32 tile rows r < count (row stride out_padded)."""
    y_flat = y2d.reshape(-1)
    row_length = y2d.shape[1]
    full = channels // REQUANT_LANES * REQUANT_LANES
    spare = np.empty(REQUANT_LANES, np.int8)
    for r in range(count):
        out_base = (start + r) * row_length + channel_start
        tile_base = r * out_padded
        for oc in range(0, full, REQUANT_LANES):
            requantize_lanes(tile, tile_base + oc, bias32, multipliers, left, right, oc, y_flat, out_base + oc,
                              output_zero_point, act_min, act_max)
        if full < channels:  # the last lanes go through a spare vector: only `channels` outputs are stored
            requantize_lanes(tile, tile_base + full, bias32, multipliers, left, right, full, spare, 0,
                              output_zero_point, act_min, act_max)
            for oc in range(channels - full):
                y_flat[np.uint64(out_base + full + oc)] = spare[np.uint64(oc)]


@numba.njit(cache=True, nogil=True, inline="always")
def _pixel_bases_nb(bases, start, count, padded_count, out_h, out_w, image_length, row_length, stride_h, stride_w,
                    in_channels, element_bytes):
    """bases[r] = byte offset in the padded input of output pixel start + r's receptive field (r < count)."""
    b = start // (out_h * out_w)  # walk (b, oy, ox) from the block's first pixel: no division per pixel
    oy = (start - b * out_h * out_w) // out_w
    ox = start - b * out_h * out_w - oy * out_w
    for r in range(count):
        bases[r] = (b * image_length + oy * stride_h * row_length + ox * stride_w * in_channels) * element_bytes
        ox += 1
        if ox == out_w:
            ox = 0
            oy += 1
            if oy == out_h:
                oy = 0
                b += 1
    for r in range(count, padded_count):
        bases[r] = bases[count - 1]  # rows past the end re-read the last pixel; never stored


# One driver per backend, each calling only its own micro-kernels: compiling a vpdpbusd intrinsic for a CPU
# without it would abort LLVM, so the AVX2 driver must not contain them. Threads take equal contiguous ranges
# of output pixels and walk them in super blocks of tile_rows pixels (an int32 tile within TILE_BYTES);
# channel blocks outside, pixel blocks inside, so one weight panel serves the whole super block.


@numba.njit(cache=True, parallel=True, nogil=True)
def _conv_vnni_nb(xp, padded_h, padded_w, in_channels, taps, panel, variant, rows, cols, out_padded, k_groups, out_h,
                  out_w, stride_h, stride_w, bias32, multipliers, left, right, output_zero_point, act_min, act_max, y,
                  channel_start, channels, tile_rows, nthreads):
    """y[b, oy, ox, channel_start + oc] for one group; xp is the group's padded uint8 input (x + 128), flat."""
    lanes = 16
    batches = y.shape[0]
    y2d = y.reshape(batches * out_h * out_w, y.shape[3])
    pixels = batches * out_h * out_w
    blocks = (pixels + rows - 1) // rows
    per_thread = ((blocks + nthreads - 1) // nthreads) * rows
    n_blocks = out_padded // (lanes * cols)
    panel_stride = k_groups * 4 * lanes * cols
    for t in numba.prange(nthreads):
        first = t * per_thread
        last = min(pixels, first + per_thread)
        tile = np.empty(tile_rows * out_padded, np.int32)
        bases = np.empty(tile_rows, np.int64)
        for start in range(first, last, tile_rows):
            count = min(tile_rows, last - start)
            padded_count = ((count + rows - 1) // rows) * rows
            _pixel_bases_nb(bases, start, count, padded_count, out_h, out_w, padded_h * padded_w * in_channels,
                            padded_w * in_channels, stride_h, stride_w, in_channels, 1)
            for nb in range(n_blocks):
                for r0 in range(0, padded_count, rows):
                    tile_off = r0 * out_padded + nb * lanes * cols
                    if variant == 0:
                        _vnni_8x1(xp, bases, r0, taps, panel, nb * panel_stride, tile, tile_off, out_padded, k_groups)
                    elif variant == 1:
                        _vnni_8x2(xp, bases, r0, taps, panel, nb * panel_stride, tile, tile_off, out_padded, k_groups)
                    else:
                        _vnni_6x4(xp, bases, r0, taps, panel, nb * panel_stride, tile, tile_off, out_padded, k_groups)
            _requantize_tile_nb(tile, count, out_padded, y2d, start, channel_start, channels, bias32, multipliers,
                                left, right, output_zero_point, act_min, act_max)


@numba.njit(cache=True, parallel=True, nogil=True)
def _conv_avxvnni_nb(xp, padded_h, padded_w, in_channels, taps, panel, variant, rows, cols, out_padded, k_groups,
                     out_h, out_w, stride_h, stride_w, bias32, multipliers, left, right, output_zero_point, act_min,
                     act_max, y, channel_start, channels, tile_rows, nthreads):
    """_conv_vnni_nb with 256-bit vpdpbusd (8 lanes)."""
    lanes = 8
    batches = y.shape[0]
    y2d = y.reshape(batches * out_h * out_w, y.shape[3])
    pixels = batches * out_h * out_w
    blocks = (pixels + rows - 1) // rows
    per_thread = ((blocks + nthreads - 1) // nthreads) * rows
    n_blocks = out_padded // (lanes * cols)
    panel_stride = k_groups * 4 * lanes * cols
    for t in numba.prange(nthreads):
        first = t * per_thread
        last = min(pixels, first + per_thread)
        tile = np.empty(tile_rows * out_padded, np.int32)
        bases = np.empty(tile_rows, np.int64)
        for start in range(first, last, tile_rows):
            count = min(tile_rows, last - start)
            padded_count = ((count + rows - 1) // rows) * rows
            _pixel_bases_nb(bases, start, count, padded_count, out_h, out_w, padded_h * padded_w * in_channels,
                            padded_w * in_channels, stride_h, stride_w, in_channels, 1)
            for nb in range(n_blocks):
                for r0 in range(0, padded_count, rows):
                    tile_off = r0 * out_padded + nb * lanes * cols
                    if variant == 0:
                        _avxvnni_8x1(xp, bases, r0, taps, panel, nb * panel_stride, tile, tile_off, out_padded,
                                     k_groups)
                    elif variant == 1:
                        _avxvnni_6x2(xp, bases, r0, taps, panel, nb * panel_stride, tile, tile_off, out_padded,
                                     k_groups)
                    else:
                        _avxvnni_4x3(xp, bases, r0, taps, panel, nb * panel_stride, tile, tile_off, out_padded,
                                     k_groups)
            _requantize_tile_nb(tile, count, out_padded, y2d, start, channel_start, channels, bias32, multipliers,
                                left, right, output_zero_point, act_min, act_max)


@numba.njit(cache=True, parallel=True, nogil=True)
def _conv_avx2_nb(xp, padded_h, padded_w, in_channels, taps, panel, variant, rows, cols, out_padded, k_groups, out_h,
                  out_w, stride_h, stride_w, bias32, multipliers, left, right, output_zero_point, act_min, act_max, y,
                  channel_start, channels, tile_rows, nthreads):
    """_conv_vnni_nb with the int16 (vpmaddwd) micro-kernels: xp is the group's padded int16 input (x), flat."""
    lanes = 8
    batches = y.shape[0]
    y2d = y.reshape(batches * out_h * out_w, y.shape[3])
    pixels = batches * out_h * out_w
    blocks = (pixels + rows - 1) // rows
    per_thread = ((blocks + nthreads - 1) // nthreads) * rows
    n_blocks = out_padded // (lanes * cols)
    panel_stride = k_groups * 4 * lanes * cols
    for t in numba.prange(nthreads):
        first = t * per_thread
        last = min(pixels, first + per_thread)
        tile = np.empty(tile_rows * out_padded, np.int32)
        bases = np.empty(tile_rows, np.int64)
        for start in range(first, last, tile_rows):
            count = min(tile_rows, last - start)
            padded_count = ((count + rows - 1) // rows) * rows
            _pixel_bases_nb(bases, start, count, padded_count, out_h, out_w, padded_h * padded_w * in_channels,
                            padded_w * in_channels, stride_h, stride_w, in_channels, 2)
            for nb in range(n_blocks):
                for r0 in range(0, padded_count, rows):
                    tile_off = r0 * out_padded + nb * lanes * cols
                    if variant == 0:
                        _avx2_8x1(xp, bases, r0, taps, panel, nb * panel_stride, tile, tile_off, out_padded, k_groups)
                    else:
                        _avx2_6x2(xp, bases, r0, taps, panel, nb * panel_stride, tile, tile_off, out_padded, k_groups)
            _requantize_tile_nb(tile, count, out_padded, y2d, start, channel_start, channels, bias32, multipliers,
                                left, right, output_zero_point, act_min, act_max)


_MICROKERNEL_DRIVERS = {"vnni": _conv_vnni_nb, "avxvnni": _conv_avxvnni_nb, "avx2": _conv_avx2_nb}


# The same micro-kernels writing the raw int32 sums instead of requantizing them (``int8_sums``, for the uint8 and
# hybrid convolutions of conv_uint8_hybrid.py): the tile is the output itself, ``sums`` [pixels rounded up to
# whole row blocks, ldc] flat, this group's channels from column ``channel_start``. Threads own disjoint pixel
# ranges; only the last thread's last block runs past the pixels, into the rounding rows.


@numba.njit(cache=True, parallel=True, nogil=True)
def _sums_vnni_nb(xp, padded_h, padded_w, in_channels, taps, panel, variant, rows, cols, out_padded, k_groups, out_h,
                  out_w, stride_h, stride_w, sums, ldc, channel_start, batches, tile_rows,
                  nthreads):
    lanes = 16
    pixels = batches * out_h * out_w
    blocks = (pixels + rows - 1) // rows
    per_thread = ((blocks + nthreads - 1) // nthreads) * rows
    n_blocks = out_padded // (lanes * cols)
    panel_stride = k_groups * 4 * lanes * cols
    for t in numba.prange(nthreads):
        first = t * per_thread
        last = min(pixels, first + per_thread)
        bases = np.empty(tile_rows, np.int64)
        for start in range(first, last, tile_rows):  # super blocks: their input stays in cache across channels
            count = min(tile_rows, last - start)
            padded_count = ((count + rows - 1) // rows) * rows
            _pixel_bases_nb(bases, start, count, padded_count, out_h, out_w, padded_h * padded_w * in_channels,
                            padded_w * in_channels, stride_h, stride_w, in_channels, 1)
            for nb in range(n_blocks):
                for r0 in range(0, padded_count, rows):
                    tile_off = (start + r0) * ldc + channel_start + nb * lanes * cols
                    if variant == 0:
                        _vnni_8x1(xp, bases, r0, taps, panel, nb * panel_stride, sums, tile_off, ldc, k_groups)
                    elif variant == 1:
                        _vnni_8x2(xp, bases, r0, taps, panel, nb * panel_stride, sums, tile_off, ldc, k_groups)
                    else:
                        _vnni_6x4(xp, bases, r0, taps, panel, nb * panel_stride, sums, tile_off, ldc, k_groups)


@numba.njit(cache=True, parallel=True, nogil=True)
def _sums_avxvnni_nb(xp, padded_h, padded_w, in_channels, taps, panel, variant, rows, cols, out_padded, k_groups,
                     out_h, out_w, stride_h, stride_w, sums, ldc, channel_start, batches, tile_rows,
                  nthreads):
    lanes = 8
    pixels = batches * out_h * out_w
    blocks = (pixels + rows - 1) // rows
    per_thread = ((blocks + nthreads - 1) // nthreads) * rows
    n_blocks = out_padded // (lanes * cols)
    panel_stride = k_groups * 4 * lanes * cols
    for t in numba.prange(nthreads):
        first = t * per_thread
        last = min(pixels, first + per_thread)
        bases = np.empty(tile_rows, np.int64)
        for start in range(first, last, tile_rows):  # super blocks: their input stays in cache across channels
            count = min(tile_rows, last - start)
            padded_count = ((count + rows - 1) // rows) * rows
            _pixel_bases_nb(bases, start, count, padded_count, out_h, out_w, padded_h * padded_w * in_channels,
                            padded_w * in_channels, stride_h, stride_w, in_channels, 1)
            for nb in range(n_blocks):
                for r0 in range(0, padded_count, rows):
                    tile_off = (start + r0) * ldc + channel_start + nb * lanes * cols
                    if variant == 0:
                        _avxvnni_8x1(xp, bases, r0, taps, panel, nb * panel_stride, sums, tile_off, ldc, k_groups)
                    elif variant == 1:
                        _avxvnni_6x2(xp, bases, r0, taps, panel, nb * panel_stride, sums, tile_off, ldc, k_groups)
                    else:
                        _avxvnni_4x3(xp, bases, r0, taps, panel, nb * panel_stride, sums, tile_off, ldc, k_groups)


@numba.njit(cache=True, parallel=True, nogil=True)
def _sums_avx2_nb(xp, padded_h, padded_w, in_channels, taps, panel, variant, rows, cols, out_padded, k_groups, out_h,
                  out_w, stride_h, stride_w, sums, ldc, channel_start, batches, tile_rows,
                  nthreads):
    lanes = 8
    pixels = batches * out_h * out_w
    blocks = (pixels + rows - 1) // rows
    per_thread = ((blocks + nthreads - 1) // nthreads) * rows
    n_blocks = out_padded // (lanes * cols)
    panel_stride = k_groups * 4 * lanes * cols
    for t in numba.prange(nthreads):
        first = t * per_thread
        last = min(pixels, first + per_thread)
        bases = np.empty(tile_rows, np.int64)
        for start in range(first, last, tile_rows):  # super blocks: their input stays in cache across channels
            count = min(tile_rows, last - start)
            padded_count = ((count + rows - 1) // rows) * rows
            _pixel_bases_nb(bases, start, count, padded_count, out_h, out_w, padded_h * padded_w * in_channels,
                            padded_w * in_channels, stride_h, stride_w, in_channels, 2)
            for nb in range(n_blocks):
                for r0 in range(0, padded_count, rows):
                    tile_off = (start + r0) * ldc + channel_start + nb * lanes * cols
                    if variant == 0:
                        _avx2_8x1(xp, bases, r0, taps, panel, nb * panel_stride, sums, tile_off, ldc, k_groups)
                    else:
                        _avx2_6x2(xp, bases, r0, taps, panel, nb * panel_stride, sums, tile_off, ldc, k_groups)


_SUMS_DRIVERS = {"vnni": _sums_vnni_nb, "avxvnni": _sums_avxvnni_nb, "avx2": _sums_avx2_nb}


def _tap_offsets(plan: ConvPlan, padded_w: int, dilation_h: int, element_bytes: int) -> np.ndarray:
    """Byte offset of each K step's 4 input bytes, relative to the pixel, in K order."""
    channels = plan.channels_in_group
    if plan.dilation_w == 1:  # one run per filter row
        run_starts = np.arange(plan.filter_h) * dilation_h * padded_w * channels
    else:  # one run per tap
        ky, kx = np.meshgrid(np.arange(plan.filter_h), np.arange(plan.filter_w), indexing="ij")
        run_starts = ((ky * dilation_h * padded_w + kx * plan.dilation_w) * channels).reshape(-1)
    step = MICROKERNEL_ISAS[plan.backend].step
    offsets = run_starts[:, None] * element_bytes + 4 * np.arange(plan.segment_padded // step)[None, :]
    return np.ascontiguousarray(offsets.reshape(-1), dtype=np.int64)


@dataclass(frozen=True)
class _MicroKernelCall:
    """What a micro-kernel convolution needs besides x, made at its first call and kept in the plan."""

    params: Conv2DParams  # the params, bias and input shape it was made for (checked by identity)
    bias: np.ndarray | None
    input_shape: tuple[int, ...]
    padded_h: int
    padded_w: int
    taps: np.ndarray
    tile_rows: int
    operands: np.ndarray  # int32 [4, groups, out_padded]: bias32, multipliers, left, right
    fill: np.uint8 | np.int16  # the padded input's border element: zp_in + c
    max_threads: int  # one thread per MACS_PER_THREAD multiply-adds


def _microkernel_call(plan: ConvPlan, p: Conv2DParams, x: np.ndarray, bias: np.ndarray | None) -> _MicroKernelCall:
    last = plan.last_call
    if last and last[0].params is p and last[0].bias is bias and last[0].input_shape == x.shape:
        return last[0]
    isa = MICROKERNEL_ISAS[plan.backend]
    win = p.window
    need_h = (win.out_h - 1) * p.stride_h + (plan.filter_h - 1) * p.dilation_h + 1
    need_w = (win.out_w - 1) * p.stride_w + (plan.filter_w - 1) * p.dilation_w + 1
    padded_h = max(need_h, win.pad_h + x.shape[1])
    padded_w = max(need_w, win.pad_w + x.shape[2])
    shift = 128 if isa.input_dtype == np.uint8 else 0  # the c of the module docstring
    channels_out = plan.out_per_group * plan.groups
    bias64 = bias.astype(np.int64) if bias is not None else np.zeros(channels_out, np.int64)
    operands = _requant_lanes_operands(p, bias64 - (shift + p.input_zero_point) * plan.weight_sums, plan.groups,
                                       plan.out_padded)
    # a border element holds zp_in + c: it contributes w * (zp_in - zp_in) = 0, as a skipped tap does
    fill = np.uint8(p.input_zero_point + 128) if shift else np.int16(p.input_zero_point)
    taps = _tap_offsets(plan, padded_w, p.dilation_h, np.dtype(isa.input_dtype).itemsize)
    tile_rows = max(plan.rows, (TILE_BYTES // (4 * plan.out_padded)) // plan.rows * plan.rows)
    macs = x.shape[0] * win.out_h * win.out_w * channels_out * plan.filter_h * plan.filter_w * plan.channels_in_group
    call = _MicroKernelCall(p, bias, x.shape, padded_h, padded_w, taps, tile_rows, operands, fill,
                            max(1, macs // MACS_PER_THREAD))
    plan.last_call[:] = [call]
    return call


def _conv_microkernel(plan: ConvPlan, p: Conv2DParams, x: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    call = _microkernel_call(plan, p, x, bias)
    win = p.window
    y = np.empty((x.shape[0], win.out_h, win.out_w, plan.out_per_group * plan.groups), np.int8)
    driver = _MICROKERNEL_DRIVERS[plan.backend]
    bias32, multipliers, left, right = call.operands
    all_threads = numba.get_num_threads()
    threads = min(all_threads, call.max_threads)
    if threads != all_threads:  # numba's parallel regions then run on the calling thread alone: no wake-up
        numba.set_num_threads(threads)
    try:
        for g in range(plan.groups):
            start = g * plan.channels_in_group
            xp = _pad_group(x, start, plan.channels_in_group, win.pad_h, win.pad_w, call.padded_h, call.padded_w,
                            call.fill)
            # every scalar as a Python int: one compiled signature whatever types the params hold
            driver(xp, call.padded_h, call.padded_w, plan.channels_in_group, call.taps, plan.panels[g], plan.variant,
                   plan.rows, plan.cols, plan.out_padded, plan.k_groups, win.out_h, win.out_w, int(p.stride_h),
                   int(p.stride_w), bias32[g], multipliers[g], left[g], right[g], int(p.output_zero_point),
                   int(p.act_min), int(p.act_max), y, g * plan.out_per_group, plan.out_per_group, call.tile_rows,
                   threads)
    finally:
        if threads != all_threads:
            numba.set_num_threads(all_threads)
    return y


def _run_plan(plan: ConvPlan, p: Conv2DParams, x: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """The int8 convolution of a C-contiguous ``x`` through ``plan``'s backend."""
    if plan.backend in MICROKERNEL_BACKENDS:
        return _conv_microkernel(plan, p, x, bias)
    channels_out = plan.out_per_group * plan.groups
    return _conv_blas(plan, p, x, bias.astype(np.int64) if bias is not None else np.zeros(channels_out, np.int64))


def int8_sums(plan: ConvPlan, p: Conv2DParams, x: np.ndarray, input_zero_point: int) -> tuple[np.ndarray, np.ndarray]:
    """The exact sums ``sum w * (x - input_zero_point)`` over the in-image taps of an int8 ``x`` (C-contiguous),
    through ``plan``'s backend, as ``(sums, offsets)``: the sum of pixel ``m``, channel ``oc`` is
    ``sums[m, oc] - offsets[oc]`` modulo 2^32 (``sums`` int32 ``[pixels, Cout]``, possibly a strided view;
    ``offsets`` int64 ``[Cout]``, the zero-point correction, for the caller to fold into its bias). Only ``p``'s
    geometry (window, strides, dilations) is read.

    The same arithmetic as the int8 convolution without its requantization (the module docstring's exactness
    argument, with ``zp_in = input_zero_point`` in [-128, 127]): conv_uint8_hybrid.py routes the uint8 and
    hybrid convolutions through it.
    """
    win = p.window
    batches = x.shape[0]
    pixels = batches * win.out_h * win.out_w
    channels_out = plan.out_per_group * plan.groups
    if plan.backend not in MICROKERNEL_BACKENDS:
        out = np.empty((pixels, channels_out), np.int32)
        dtype = np.float32 if plan.backend == "blas32" else np.float64
        k = plan.filter_h * plan.filter_w * plan.channels_in_group
        columns = np.empty((pixels, k), dtype)
        correction = input_zero_point * plan.weight_sums  # raw x (c = 0): the border holds zp_in
        source = readonly(x)
        for g in range(plan.groups):
            _im2col_nb(source, columns, g * plan.channels_in_group, plan.channels_in_group, plan.filter_h,
                       plan.filter_w, int(p.stride_h), int(p.stride_w), int(p.dilation_h), int(p.dilation_w),
                       win.pad_h, win.pad_w, win.out_h, win.out_w, dtype(input_zero_point))
            outs = slice(g * plan.out_per_group, (g + 1) * plan.out_per_group)
            acc = _gemm_exact(columns, plan.gemm_weights[g], plan.k_chunks, numba.get_num_threads())
            out[:, outs] = ((acc.astype(np.int64) + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)
        return out, correction
    isa = MICROKERNEL_ISAS[plan.backend]
    need_h = (win.out_h - 1) * p.stride_h + (plan.filter_h - 1) * p.dilation_h + 1
    need_w = (win.out_w - 1) * p.stride_w + (plan.filter_w - 1) * p.dilation_w + 1
    padded_h = max(need_h, win.pad_h + x.shape[1])
    padded_w = max(need_w, win.pad_w + x.shape[2])
    taps = _tap_offsets(plan, padded_w, p.dilation_h, np.dtype(isa.input_dtype).itemsize)
    ldc = plan.out_padded * plan.groups
    tile_rows = max(plan.rows, (TILE_BYTES // (4 * plan.out_padded)) // plan.rows * plan.rows)
    sums = np.empty((-(-pixels // plan.rows) * plan.rows + plan.rows) * ldc, np.int32)
    macs = pixels * channels_out * plan.filter_h * plan.filter_w * plan.channels_in_group
    all_threads = numba.get_num_threads()
    threads = min(all_threads, max(1, macs // MACS_PER_THREAD))
    if threads != all_threads:  # numba's parallel regions then run on the calling thread alone: no wake-up
        numba.set_num_threads(threads)
    try:
        for g in range(plan.groups):
            start = g * plan.channels_in_group
            # a border element holds zp_in + c: it contributes w * (zp_in - zp_in) = 0, as a skipped tap does
            fill = np.uint8(input_zero_point + 128) if isa.input_dtype == np.uint8 else np.int16(input_zero_point)
            xp = _pad_group(x, start, plan.channels_in_group, win.pad_h, win.pad_w, padded_h, padded_w, fill)
            _SUMS_DRIVERS[plan.backend](xp, padded_h, padded_w, plan.channels_in_group, taps, plan.panels[g],
                                        plan.variant, plan.rows, plan.cols, plan.out_padded, plan.k_groups,
                                        win.out_h, win.out_w, int(p.stride_h), int(p.stride_w), sums, ldc,
                                        g * plan.out_padded, batches, tile_rows, threads)
    finally:
        if threads != all_threads:
            numba.set_num_threads(all_threads)
    # the micro-kernel sums are sum w * (x + c) with c = 128 (vnni, avxvnni) or 0 (avx2): remove (c + zp_in) sum w
    correction = ((128 if isa.input_dtype == np.uint8 else 0) + input_zero_point) * plan.weight_sums
    table = sums[:pixels * ldc].reshape(pixels, ldc)
    if plan.out_padded != plan.out_per_group:  # drop each group's padding channels (a strided view for one group)
        table = table.reshape(pixels, plan.groups, plan.out_padded)[:, :, :plan.out_per_group]
        table = table.reshape(pixels, channels_out) if plan.groups == 1 else np.ascontiguousarray(table).reshape(
            pixels, channels_out)
    return table, correction


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
    source = readonly(x)
    for g in range(plan.groups):
        _im2col_nb(source, columns, g * plan.channels_in_group, plan.channels_in_group, plan.filter_h,
                   plan.filter_w, int(p.stride_h), int(p.stride_w), int(p.dilation_h), int(p.dilation_w), win.pad_h,
                   win.pad_w, win.out_h, win.out_w, dtype(p.input_zero_point))
        acc = _gemm_exact(columns, plan.gemm_weights[g], plan.k_chunks, numba.get_num_threads())
        outs = slice(g * plan.out_per_group, (g + 1) * plan.out_per_group)
        # int64 sums whatever the chunking (float with one chunk, int64 with several): one compiled signature
        _requantize_matrix_nb(acc.astype(np.int64, copy=False), rq.bias32[outs], rq.multipliers[outs],
                              rq.left[outs], rq.right[outs], int(p.output_zero_point), int(p.act_min),
                              int(p.act_max), y2d, g * plan.out_per_group)
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

    # BLAS single-threaded first, also for a GEMM that stays on this thread: a BLAS call with its own default
    # thread count would leave OpenBLAS's workers spinning next to numba's (3 busy threads on 2 cores)
    single_blas = set_blas_threads(1)
    # a thread per 16 M multiply-adds at most: below that, handing work to a pool thread costs more than it saves
    parts = min(num_threads, max(1, pixels * columns.shape[1] * weights.shape[1] // (16 << 20)))
    if parts == 1 or not single_blas:
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


@numba.njit(cache=True, parallel=True, nogil=True)
def _conv2d_float_planar_nb(xp, w_packed, bias, groups, stride_h, dilation_h, dilation_w, out_h, out_w, act_min,
                            act_max):
    """The same sums over a zero-padded planar input ``xp[b, c, y, phase, j]`` (padded column ``j * stride_w +
    phase``): per output row an accumulator ``acc[oc, ox]``, loops ky, kx, ic outside and ox innermost, so
    that each (oc, ox) still adds its products in the order ky, kx, ic while the inner loop reads a contiguous
    run of ``xp`` (column ``kx * dilation_w + ox * stride_w``): it vectorizes whatever Cout is (Cout = 8 left the
    pixel-major loop scalar). Exact only for finite weights (see ``_conv_float``)."""
    batches = xp.shape[0]
    stride_w = xp.shape[3]
    filter_h, filter_w, channels_in_group, channels_out = w_packed.shape
    out_per_group = channels_out // groups
    y = np.empty((batches, out_h, out_w, channels_out), dtype=np.float32)
    for row in numba.prange(batches * out_h):
        b = row // out_h
        oy = row % out_h
        acc = np.zeros((channels_out, out_w), dtype=np.float32)
        for oc in range(channels_out):
            channel_start = (oc // out_per_group) * channels_in_group
            total = acc[oc]
            for ky in range(filter_h):
                iy = oy * stride_h + ky * dilation_h
                for kx in range(filter_w):
                    phase = (kx * dilation_w) % stride_w
                    start = (kx * dilation_w) // stride_w
                    for ic in range(channels_in_group):
                        wv = w_packed[ky, kx, ic, oc]
                        source = xp[b, channel_start + ic, iy, phase, start:start + out_w]
                        for ox in range(out_w):
                            total[ox] += source[ox] * wv
        for ox in range(out_w):
            for oc in range(channels_out):
                v = acc[oc, ox] + bias[oc]
                y[b, oy, ox, oc] = min(max(v, act_min), act_max)
    return y


@numba.njit(cache=True, parallel=True, nogil=True)
def _pad_planar_nb(x, pad_top, pad_left, padded_h, padded_w, stride_w):
    """NHWC -> zero-padded ``[batch, channel, padded_h, stride_w, ceil(padded_w / stride_w)]``, padded column X
    at ``[X % stride_w, X // stride_w]``: a strided convolution then reads contiguous runs too."""
    batches, in_h, in_w, channels = x.shape
    xp = np.zeros((batches, channels, padded_h, stride_w, (padded_w + stride_w - 1) // stride_w), dtype=np.float32)
    rows = max(0, min(in_h, padded_h - pad_top))
    cols = max(0, min(in_w, padded_w - pad_left))
    for row in numba.prange(batches * rows):
        b = row // rows
        iy = row % rows
        for ix in range(cols):
            column = pad_left + ix
            for c in range(channels):
                xp[b, c, pad_top + iy, column % stride_w, column // stride_w] = x[b, iy, ix, c]
    return xp


def _conv_float(p: Conv2DParams, packed: np.ndarray, x: np.ndarray, bias: np.ndarray | None,
                finite_weights: bool | None = None) -> np.ndarray:
    """float32 CONV_2D in the reference's order. With finite weights, over a zero-padded planar copy of the
    input: a tap outside the image then adds ``0 * w = +-0.0`` where the reference skips it, and that changes
    nothing: ``total`` starts at +0.0 and an IEEE sum is -0.0 only when both terms are, so ``total`` is never
    -0.0, and adding +-0.0 to any other value (NaN and infinities included) returns it unchanged. An infinite or
    NaN weight would make ``0 * w`` NaN: such weights take the pixel-major loop, which skips those taps."""
    win = p.window
    channels_out = packed.shape[3]
    bias32 = bias.astype(np.float32) if bias is not None else np.zeros(channels_out, np.float32)
    if finite_weights is None:
        finite_weights = bool(np.isfinite(packed).all())
    if finite_weights and win.out_h > 0 and win.out_w > 0:
        filter_h, filter_w = packed.shape[0], packed.shape[1]
        padded_h = (win.out_h - 1) * p.stride_h + (filter_h - 1) * p.dilation_h + 1
        padded_w = (win.out_w - 1) * p.stride_w + (filter_w - 1) * p.dilation_w + 1
        xp = _pad_planar_nb(np.ascontiguousarray(x, dtype=np.float32), win.pad_h, win.pad_w, padded_h, padded_w,
                            p.stride_w)
        return _conv2d_float_planar_nb(xp, packed, bias32, p.groups, p.stride_h, p.dilation_h, p.dilation_w,
                                       win.out_h, win.out_w, np.float32(p.act_min), np.float32(p.act_max))
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
    finite_weights: bool | None = None  # float32: every packed weight finite (the planar kernel is exact)
    uint8_hybrid_plan: conv_uint8_hybrid.ConvUint8HybridPlan | None = None  # uint8 / hybrid (conv_uint8_hybrid.py)
    int16_plan: Int16ConvPlan | None = None  # int16x8: packed int8 weights (conv_int16.py)


#: the int8 backends as conv_uint8_hybrid.py uses them for the uint8 and hybrid sums (it cannot import this module)
INT8_CONVOLUTION = conv_uint8_hybrid.Int8Convolution(plan=plan_conv2d, sums=int8_sums)


def prepare_conv2d_fast(ctx: OpContext) -> ConvFastParams:
    spec = prepare_conv2d(ctx)
    if spec.rule in conv_uint8_hybrid.KINDS:  # uint8 and hybrid: their sums through the int8 backends
        return ConvFastParams(spec, uint8_hybrid_plan=conv_uint8_hybrid.prepare_plan(ctx, spec, INT8_CONVOLUTION))
    w = ctx.require_input(1)
    if not w.is_constant:  # packed at run time, from the weights the kernel is given
        return ConvFastParams(spec)
    if not spec.quantized:
        packed = _pack_float(w.data)
        return ConvFastParams(spec, packed_weights=packed, finite_weights=bool(np.isfinite(packed).all()))
    if spec.rule == KIND_INT16:
        return ConvFastParams(spec, int16_plan=plan_conv2d_int16(w.data, spec.groups))
    x_shape = ctx.shape(ctx.require_input(0))
    return ConvFastParams(spec, plan=plan_conv2d(w.data, spec.groups, x_shape[1], x_shape[2], spec.dilation_w))


def conv2d_fast(p: ConvFastParams, x: np.ndarray, w: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """CONV_2D fast kernel: int8 through the plan made at prepare; int16x8 through conv_int16.py's exact integer
    loop; float32 through the numba loop."""
    spec = p.spec
    if spec.rule in conv_uint8_hybrid.KINDS:
        return conv_uint8_hybrid.conv2d_uint8_hybrid_fast(spec, p.uint8_hybrid_plan, x, w, bias,
                                                          INT8_CONVOLUTION)
    if not spec.quantized:
        if p.packed_weights is not None:
            return _conv_float(spec, p.packed_weights, x, bias, p.finite_weights)
        return _conv_float(spec, _pack_float(w), x, bias)
    if spec.rule == KIND_INT16:
        plan16 = p.int16_plan if p.int16_plan is not None else plan_conv2d_int16(w, spec.groups)
        return conv2d_int16(spec, plan16, x, bias)
    plan = p.plan
    if plan is None or (plan.in_h, plan.in_w) != x.shape[1:3]:  # non-constant weights, or a resized input
        plan = plan_conv2d(w, spec.groups, x.shape[1], x.shape[2], spec.dilation_w,
                           backend=plan.backend if plan is not None else None)
    return _run_plan(plan, spec, np.ascontiguousarray(x), bias)

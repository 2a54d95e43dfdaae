"""The FULLY_CONNECTED fast kernels (refinterp/ops/fast/fully_connected.py) against the spec kernels.

The spec kernels are held to LiteRT BUILTIN_REF and TFLM by tests/test_op_cases.py; here the fast path, whose
operands are packed at prepare (the int8 input zero point folded into the bias, the hybrid -128 columns and row
sums listed once), must give the spec's output bit for bit, or refuse the same way:

* many generated cases of every FULLY_CONNECTED kind, under both profiles (cheap: no oracle runs);
* the hybrid kernel on inputs the generators rarely draw: rounding ties of the symmetric and asymmetric input
  quantization (in the blocks of 8 and in the tail), weights of -128 meeting negative inputs within and past the
  first ``K & ~15`` columns, all-zero inputs (NaN counts as zero in NeonIsZeroVector's blocks of 4), signed
  zeros, overflowing rescales, every activation, per-tensor and per-channel scales; with the operands packed at
  prepare and at the call (non-constant weights);
* the int8 kernel with zero points at their limits, wrapping accumulators, both requantizations, both the
  serial and the parallel kernel.
"""

from __future__ import annotations

import numpy as np
import pytest
from oracle import run_refinterp

from refinterp.errors import EvalError
from refinterp.ops.fast import fully_connected as fast
from refinterp.ops.fully_connected import FullyConnectedParams, fully_connected_spec
from refinterp.quant import ACT_NONE, ACT_RELU, ACT_RELU6, ACT_RELU_N1_TO_1, ACT_SIGN_BIT, quantize_multiplier
from refinterp.tools.conformance.generators import make_case

FC_KINDS = ("int8", "float32", "uint8->uint8", "uint8->int16", "hybrid", "int16")
SEEDS = range(40)
NEAR_HALF = np.array([0.49999997, -0.49999997, 0.5, -0.5, 1.5, -2.5, 0.0, -0.0], np.float32)


def _outcome(model: bytes, inputs, **options):
    try:
        return run_refinterp(model, inputs, **options)
    except Exception as error:  # a refusal must be the same on both paths
        return type(error).__name__


def _same(a, b) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return len(a) == len(b) and all(x.dtype == y.dtype and x.shape == y.shape and
                                    np.array_equal(x.view(np.uint8), y.view(np.uint8)) for x, y in zip(a, b))


@pytest.mark.parametrize("kind", FC_KINDS)
@pytest.mark.parametrize("profile", ["litert-ref", "tflm"])
def test_generated_cases_fast_equals_spec(kind: str, profile: str) -> None:
    for seed in SEEDS:
        case = make_case("FULLY_CONNECTED", kind, seed)
        spec = _outcome(case.model, case.inputs, kernels="spec", profile=profile)
        fast_out = _outcome(case.model, case.inputs, kernels="fast", profile=profile)
        assert _same(spec, fast_out), f"{case.describe()} ({profile}): spec {spec!r}, fast {fast_out!r}"


# ------------------------------------------------------------------------------------------------
# hybrid, kernel level


def _hybrid_params(depth: int, units: int, rows: int, scales: np.ndarray, asymmetric: bool,
                   activation: int) -> FullyConnectedParams:
    return FullyConnectedParams(depth, units, (rows, units), quantized=False, kind="hybrid",
                                output_dtype=np.dtype(np.float32), filter_scales=scales.astype(np.float32),
                                asymmetric=asymmetric, activation=activation)


def _tie_rows(rng: np.random.Generator, rows: int, depth: int) -> np.ndarray:
    """Rows whose quantized values land on .5 ties and near them (range 127 or 255/2 scales by ~1)."""
    x = rng.integers(-254, 255, size=(rows, depth)).astype(np.float32) / np.float32(2.0)
    x[:, 0] = np.float32(127.0)  # symmetric: inverse 1.0, so x * inverse keeps the .5
    nudge = rng.random((rows, depth)) < 0.2
    x[nudge] = np.nextafter(x[nudge], np.float32(np.inf) * rng.choice([-1, 1], size=int(nudge.sum())))
    # RoundToNearest's float add: 0.49999997 + 0.5 rounds to 1.0 (round half away gives 0)
    picks = rng.integers(0, depth, size=(rows, min(depth, 6)))
    x[np.arange(rows)[:, None], picks] = rng.choice(NEAR_HALF, size=picks.shape)
    x[:, 0] = np.float32(127.0)
    return x


def _hybrid_inputs(rng: np.random.Generator, rows: int, depth: int, draw: int) -> np.ndarray:
    if draw == 0:
        return _tie_rows(rng, rows, depth)
    if draw == 1:
        x = rng.standard_normal((rows, depth)).astype(np.float32)
        x[rng.random((rows, depth)) < 0.2] = -0.0
        return x
    if draw == 2:  # all non-negative or all non-positive rows (asymmetric zero point at its limits)
        x = np.abs(rng.standard_normal((rows, depth))).astype(np.float32)
        return -x if rng.random() < 0.5 else x
    if draw == 3:  # large magnitudes: the float32 rescale may overflow to infinity
        return (rng.standard_normal((rows, depth)) * 1e30).astype(np.float32)
    x = rng.uniform(-1, 1, (rows, depth)).astype(np.float32)
    x[rng.integers(0, rows)] = 0.0  # one all-zero row among others
    return x


@pytest.mark.parametrize("asymmetric", [False, True])
@pytest.mark.parametrize("per_channel", [False, True])
def test_hybrid_kernel_equals_spec(asymmetric: bool, per_channel: bool) -> None:
    rng = np.random.default_rng(1300 + 2 * asymmetric + per_channel)
    for trial in range(60):
        depth = int(rng.choice([1, 3, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 48, 65]))
        units = int(rng.integers(1, 12))
        rows = int(rng.integers(1, 4))
        w = rng.integers(-128, 128, size=(units, depth), dtype=np.int8)
        w[rng.random((units, depth)) < 0.25] = -128
        if rng.random() < 0.3:
            w[:, -1] = 127  # row sums reaching the int16 lanes' limits
        scales = (rng.uniform(0.001, 0.1, units if per_channel else 1)).astype(np.float32)
        if rng.random() < 0.2:
            scales[:] = np.float32(3e38)
        activation = int(rng.choice([ACT_NONE, ACT_RELU, ACT_RELU6, ACT_RELU_N1_TO_1, ACT_SIGN_BIT]))
        bias = None if rng.random() < 0.3 else rng.standard_normal(units).astype(np.float32)
        if bias is not None and rng.random() < 0.3:
            bias[:] = -0.0
        x = _hybrid_inputs(rng, rows, depth, trial % 5)
        p = _hybrid_params(depth, units, rows, scales, asymmetric, activation)
        _check_hybrid(p, x, w, bias, f"trial {trial}")


def _check_hybrid(p: FullyConnectedParams, x: np.ndarray, w: np.ndarray, bias, what: str) -> None:
    def run(f):
        try:
            return f()
        except EvalError as error:
            return str(error)

    with np.errstate(over="ignore"):  # the spec's float32 row scale may overflow, as LiteRT's does
        want = run(lambda: fully_connected_spec(p, x, w, bias))
    for packed in (fast._pack_hybrid(p, w, bias), None):  # packed at prepare, then at the call
        have = run(lambda packed=packed: fast.fully_connected_fast(fast.FullyConnectedFastParams(p, packed), x,
                                                                    w, bias))
        if isinstance(want, str) or isinstance(have, str):
            assert want == have, what
        else:
            assert have.dtype == np.float32 and have.shape == want.shape, what
            assert np.array_equal(have.view(np.uint32), want.view(np.uint32)), f"{what}: {have} != {want}"


def test_hybrid_zero_vector_and_non_finite() -> None:
    w = np.full((3, 20), -128, np.int8)
    bias = np.array([-0.0, 1.5, -2.0], np.float32)
    for activation in (ACT_NONE, ACT_RELU, ACT_SIGN_BIT):
        p = _hybrid_params(20, 3, 2, np.array([0.5], np.float32), False, activation)
        zeros = np.zeros((2, 20), np.float32)
        zeros[0, 1] = np.nan  # within the blocks of 4: |NaN| > 0 is false, the input still counts as zero
        zeros[1, 3] = -0.0
        _check_hybrid(p, zeros, w, bias, "zero vector with a NaN in a block")
        tail = np.zeros((2, 20), np.float32)
        tail[1, 19] = np.nan  # past the blocks of 4 (40 = 10 blocks: no tail) -> a non-finite input
        _check_hybrid(p, tail, w, bias, "NaN")
        odd = _hybrid_params(19, 3, 1, np.array([0.5], np.float32), True, activation)
        x = np.zeros((1, 19), np.float32)
        x[0, 18] = np.inf  # the tail of 3 tests v != 0
        _check_hybrid(odd, x, w[:, :19], bias, "infinity in the tail")
        x = np.zeros((1, 19), np.float32)
        x[0, 0], x[0, 1] = np.float32(3e38), np.float32(-3e38)  # the asymmetric range overflows float32
        _check_hybrid(odd, x, w[:, :19], bias, "range overflow")


# ------------------------------------------------------------------------------------------------
# int8, kernel level


@pytest.mark.parametrize("float_requant", [True, False])
def test_int8_kernel_equals_spec(float_requant: bool) -> None:
    rng = np.random.default_rng(1313 + float_requant)
    for trial in range(80):
        depth = int(rng.integers(1, 300))
        units = int(rng.integers(1, 40))
        rows = int(rng.integers(1, 5))
        per_channel = rng.random() < 0.5
        zp_in = int(rng.choice([-128, 127, 0, int(rng.integers(-128, 128))]))
        zp_w = 0 if per_channel else int(rng.choice([-128, 127, 0, int(rng.integers(-128, 128))]))
        zp_out = int(rng.integers(-128, 128))
        x = rng.integers(-128, 128, size=(rows, depth), dtype=np.int8)
        w = rng.integers(-128, 128, size=(units, depth), dtype=np.int8)
        bias = None if rng.random() < 0.3 else rng.integers(-2**31, 2**31, size=units, dtype=np.int64).astype(np.int32)
        scale = rng.uniform(1e-6, 2.0, units if per_channel else 1).repeat(1 if per_channel else units)
        multipliers = [quantize_multiplier(float(s)) for s in scale]
        act_min, act_max = sorted(int(v) for v in rng.integers(-128, 128, size=2))
        p = FullyConnectedParams(depth, units, (rows, units), quantized=True, float_requant=float_requant,
                                 input_zero_point=zp_in, weight_zero_point=zp_w, output_zero_point=zp_out,
                                 effective_scale=scale.astype(np.float64),
                                 output_multiplier=np.array([m for m, _ in multipliers], np.int64),
                                 output_shift=np.array([s for _, s in multipliers], np.int64),
                                 act_min=act_min, act_max=act_max)
        want = fully_connected_spec(p, x, w, bias)
        packed = fast._pack_int8(p, w, bias)
        for kernel in (fast._fc_int8_serial_nb, fast._fc_int8_parallel_nb):
            have = kernel(x, *packed)
            assert np.array_equal(have, want), f"trial {trial}, {kernel.__name__}"
        have = fast.fully_connected_fast(fast.FullyConnectedFastParams(p), x, w, bias)
        assert np.array_equal(have, want), f"trial {trial}, packed at the call"


# ------------------------------------------------------------------------------------------------
# BATCH_MATMUL (refinterp/ops/fast/batch_matmul.py): generated cases, and hybrid ones with drawn LHS values


BMM_KINDS = ("float32", "int8", "int8->int32", "int16", "hybrid")


#: a hybrid case of depth 0 (empty input rows: the numba quantization must not read row[0])
EMPTY_DEPTH_SEED = 1916477301


@pytest.mark.parametrize("kind", BMM_KINDS)
def test_batch_matmul_generated_cases_fast_equals_spec(kind: str) -> None:
    for seed in (*range(25), EMPTY_DEPTH_SEED):
        case = make_case("BATCH_MATMUL", kind, seed)
        for profile in ("litert-ref", "tflm"):
            spec = _outcome(case.model, case.inputs, kernels="spec", profile=profile)
            fast_out = _outcome(case.model, case.inputs, kernels="fast", profile=profile)
            assert _same(spec, fast_out), f"{case.describe()} ({profile}): spec {spec!r}, fast {fast_out!r}"


def test_batch_matmul_hybrid_drawn_inputs() -> None:
    rng = np.random.default_rng(1399)
    for seed in range(30):
        case = make_case("BATCH_MATMUL", "hybrid", seed)
        if case.probe or not case.inputs or case.inputs[0].dtype != np.float32 or case.inputs[0].size == 0:
            continue
        lhs = case.inputs[0]
        rows = lhs.reshape(-1, lhs.shape[-1])
        for draw in range(5):
            drawn = _hybrid_inputs(rng, rows.shape[0], rows.shape[1], draw).reshape(lhs.shape)
            if draw == 4 and rng.random() < 0.5:
                drawn.reshape(-1)[rng.integers(0, drawn.size)] = rng.choice([np.nan, np.inf])
            inputs = [drawn, *case.inputs[1:]]
            with np.errstate(over="ignore", invalid="ignore"):
                spec = _outcome(case.model, inputs, kernels="spec")
            fast_out = _outcome(case.model, inputs, kernels="fast")
            assert _same(spec, fast_out), f"{case.describe()}, draw {draw}: spec {spec!r}, fast {fast_out!r}"


def test_int16_and_float_kernels_equal_spec() -> None:
    rng = np.random.default_rng(1314)
    for trial in range(60):
        depth, units, rows = int(rng.integers(1, 200)), int(rng.integers(1, 30)), int(rng.integers(1, 4))
        scale = rng.uniform(1e-6, 2.0, units)
        multipliers = [quantize_multiplier(float(s)) for s in scale]
        bits = int(rng.choice([32, 64]))
        p = FullyConnectedParams(depth, units, (rows, units), quantized=True, float_requant=bool(trial % 2),
                                 weight_zero_point=int(rng.integers(-128, 128)) if trial % 3 else 0,
                                 effective_scale=scale, output_multiplier=np.array([m for m, _ in multipliers]),
                                 output_shift=np.array([s for _, s in multipliers]), act_min=-32768, act_max=32767,
                                 kind="int16", output_dtype=np.dtype(np.int16), accumulator_bits=bits)
        x = rng.integers(-32768, 32768, size=(rows, depth), dtype=np.int16)
        w = rng.integers(-128, 128, size=(units, depth), dtype=np.int8)
        bias = None if trial % 4 == 0 else rng.integers(-2**40, 2**40, size=units, dtype=np.int64)
        want = fully_connected_spec(p, x, w, bias)
        packed = fast._pack_int16(p, w, bias)
        for kernel in (fast._fc_int16_serial_nb, fast._fc_int16_parallel_nb):
            assert np.array_equal(kernel(x, *packed), want), f"int16 trial {trial}, {kernel.__name__}"

        lo, hi = sorted(rng.standard_normal(2).astype(np.float32)) if trial % 2 else (-np.inf, np.inf)
        pf = FullyConnectedParams(depth, units, (rows, units), quantized=False, act_min=float(lo), act_max=float(hi))
        xf = (rng.standard_normal((rows, depth)) * 10.0 ** rng.integers(-3, 4)).astype(np.float32)
        wf = rng.standard_normal((units, depth)).astype(np.float32)
        bias_f = rng.standard_normal(units).astype(np.float32)
        want = fully_connected_spec(pf, xf, wf, bias_f)
        packed = fast._pack_float(pf, wf, bias_f)
        for kernel in (fast._fc_float_serial_nb, fast._fc_float_parallel_nb):
            have = kernel(xf, *packed)
            assert np.array_equal(have.view(np.uint32), want.view(np.uint32)), f"float trial {trial}, {kernel.__name__}"

"""Profile "xnnpack", float32, held bit for bit to LiteRT with the XNNPACK delegate on single-operator models:

* the MXCSR DAZ + FTZ XNNPACK runs under, in the FMA chains of CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED /
  TRANSPOSE_CONV and the hybrid (qd8) kernels (refinterp/ops/emulation/xnnpack_float.py: ``fma32_ftz``,
  ``fma32_ftz_numpy``): inputs, weights, biases and results around the smallest normal float32 (2^-126), in both
  kernel sets (numba and NumPy);
* SOFTMAX (refinterp/ops/emulation/xnnpack_float_math.py: avx512f rmax, rr2-p5 raddstoreexpminusmax, 1 / sum);
  needs AVX-512F (XNNPACK picks 8-lane kernels on an AVX2 CPU: the tests skip there, "cpu lacks avx512f");
* RELU, RELU6, RELU_N1_TO_1, CEIL, FLOOR, ROUND, SQUARE, NEG (xnnpack_float_math.ELEMENTWISE).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import CPU_SKIP_PREFIX, cpu_flags

from refinterp.modelbuilder import TensorSpec, single_op_model
from refinterp.ops.emulation import xnnpack_float

IN_CI = bool(os.environ.get("CI"))
if not IN_CI:
    pytest.importorskip("ai_edge_litert.interpreter")

from test_emulation_profiles import assert_same, delegated_operators, run_profile, run_runtime  # noqa: E402

F32 = np.float32
TINY = float(np.finfo(F32).tiny)


def near_tiny(rng: np.random.Generator, shape: tuple[int, ...], exponent: float) -> np.ndarray:
    """Values of magnitude about 2^exponent (products and sums land near 2^-126), some zeros, subnormals and
    the smallest normals."""
    values = rng.standard_normal(shape) * np.exp2(exponent + rng.uniform(-4, 4, shape))
    pick = rng.random(shape)
    values = np.where(pick < 0.08, 0.0, values)
    values = np.where((pick >= 0.08) & (pick < 0.2), rng.standard_normal(shape) * 1e-39, values)
    values = np.where((pick >= 0.2) & (pick < 0.25), np.sign(rng.standard_normal(shape)) * TINY, values)
    return values.astype(F32)


def _denormal_case(op: str, rng: np.random.Generator) -> tuple[bytes, list[np.ndarray]]:
    if op == "FULLY_CONNECTED":
        w = near_tiny(rng, (13, 37), -65)
        b = near_tiny(rng, (13,), -125)
        model = single_op_model(op, [TensorSpec((5, 37), "float32"), TensorSpec(w.shape, "float32", data=w),
                                     TensorSpec(b.shape, "float32", data=b)], [TensorSpec((5, 13), "float32")], {})
        return model, [near_tiny(rng, (5, 37), -65)]
    if op == "CONV_2D":
        w = near_tiny(rng, (7, 3, 3, 5), -65)
        b = near_tiny(rng, (7,), -125)
        model = single_op_model(op, [TensorSpec((1, 6, 7, 5), "float32"), TensorSpec(w.shape, "float32", data=w),
                                     TensorSpec(b.shape, "float32", data=b)], [TensorSpec((1, 6, 7, 7), "float32")],
                                {"padding": "SAME"})
        return model, [near_tiny(rng, (1, 6, 7, 5), -65)]
    if op == "DEPTHWISE_CONV_2D":
        w = near_tiny(rng, (1, 3, 3, 19), -65)
        b = near_tiny(rng, (19,), -125)
        model = single_op_model(op, [TensorSpec((1, 7, 6, 19), "float32"), TensorSpec(w.shape, "float32", data=w),
                                     TensorSpec(b.shape, "float32", data=b)], [TensorSpec((1, 7, 6, 19), "float32")],
                                {"padding": "SAME", "depth_multiplier": 1})
        return model, [near_tiny(rng, (1, 7, 6, 19), -65)]
    if op == "TRANSPOSE_CONV":
        w = near_tiny(rng, (6, 3, 3, 4), -65)
        b = near_tiny(rng, (6,), -125)
        shape = np.array([1, 9, 9, 6], np.int32)
        model = single_op_model(op, [TensorSpec((4,), "int32", data=shape), TensorSpec(w.shape, "float32", data=w),
                                     TensorSpec((1, 5, 5, 4), "float32"), TensorSpec(b.shape, "float32", data=b)],
                                [TensorSpec((1, 9, 9, 6), "float32")], {"padding": "SAME", "stride_h": 2,
                                                                         "stride_w": 2})
        return model, [near_tiny(rng, (1, 5, 5, 4), -65)]
    # hybrid FULLY_CONNECTED: int8 weights, float32 input with subnormals and tiny values, a tiny weight scale
    w = rng.integers(-127, 128, (11, 23)).astype(np.int8)
    b = near_tiny(rng, (11,), -125)
    model = single_op_model("FULLY_CONNECTED", [TensorSpec((4, 23), "float32"),
                                                TensorSpec(w.shape, "int8", scale=2.0 ** -80, zero_point=0, data=w),
                                                TensorSpec(b.shape, "float32", data=b)],
                            [TensorSpec((4, 11), "float32")], {})
    return model, [near_tiny(rng, (4, 23), -60)]


@pytest.mark.parametrize("op", ["FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV",
                                "HYBRID_FULLY_CONNECTED"])
def test_float_chains_flush_denormals_as_xnnpack_does(op):
    rng = np.random.default_rng(1500)
    for _ in range(4):
        model, inputs = _denormal_case(op, rng)
        assert delegated_operators(model) == [True]
        expected = run_runtime("xnnpack", model, inputs)
        assert np.any(expected[0] == 0), "the case reaches no flushed result"
        for kernels in ("fast", "spec"):
            assert_same(expected, run_profile("xnnpack", model, inputs, kernels), f"xnnpack {op} ({kernels})")


@pytest.mark.parametrize("op,kernel", [("DEPTHWISE_CONV_2D", (5, 5)), ("DEPTHWISE_CONV_2D", (4, 7)),
                                       ("DEPTHWISE_CONV_2D", (9, 9)), ("CONV_2D", (3, 3)), ("CONV_2D", (5, 6))])
def test_depthwise_tap_order_follows_the_kernel_xnnpack_picks(op, kernel):
    """LiteRT 2.3.0 holds f32 DWCONV kernels of up to 25 taps (taps in (kx, ky) order); a larger depthwise kernel
    runs as the grouped IGEMM ((ky, kx) order), and a grouped CONV_2D of one input and one output channel per
    group runs as a depthwise one (measured: 796 to 944 of 1152 outputs differed with the wrong order)."""
    rng = np.random.default_rng(sum(kernel) * 31 + len(op))
    channels, size = 8, 12
    if op == "DEPTHWISE_CONV_2D":
        w = rng.standard_normal((1, *kernel, channels)).astype(F32)
        options = {"padding": "SAME", "depth_multiplier": 1}
        input_channels = channels
    else:
        w = rng.standard_normal((channels, *kernel, 1)).astype(F32)
        options = {"padding": "SAME"}
        input_channels = channels  # groups = input channels / weight input channels = 8
    b = rng.standard_normal(channels).astype(F32)
    model = single_op_model(op, [TensorSpec((1, size, size, input_channels), "float32"),
                                 TensorSpec(w.shape, "float32", data=w), TensorSpec((channels,), "float32", data=b)],
                            [TensorSpec((1, size, size, channels), "float32")], options)
    inputs = [rng.standard_normal((1, size, size, input_channels)).astype(F32)]
    assert delegated_operators(model) == [True]
    expected = run_runtime("xnnpack", model, inputs)
    for kernels in ("fast", "spec"):
        assert_same(expected, run_profile("xnnpack", model, inputs, kernels), f"xnnpack {op} {kernel} ({kernels})")


def test_ftz_detects_tininess_after_rounding():
    """Measured on LiteRT + XNNPACK (FULLY_CONNECTED, K = 1): ``fma(x, w, b)`` with the exact result
    ``2^-126 - 2^-152`` gives 2^-126 (tiny only before rounding: kept), ``2^-126 - 3 * 2^-152`` gives +0 (it rounds
    to 2^-126 in the subnormal format, but to ``2^-126 - 2^-150`` with the exponent unbounded: tiny), a subnormal
    bias or input reads as 0 (DAZ)."""
    x = np.array([2.0 ** -76, 3 * 2.0 ** -76, 1.0, 1e-39, 2.0 ** -76], F32)
    w = np.array([-(2.0 ** -76), -(2.0 ** -76), 1.0, -(2.0 ** -76), -(2.0 ** -77)], F32)
    b = np.array([TINY, TINY, 1e-40, 0.0, TINY], F32)
    want = np.array([TINY, 0.0, 1.0, 0.0, TINY], F32)
    got = xnnpack_float.fma32_ftz_numpy(x, w, b)
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
    fast = np.array([xnnpack_float.fma32_ftz(*(v[i] for v in xnnpack_float.flush_denormals(np.stack([x, w, b]))))
                     for i in range(x.size)], F32)
    assert np.array_equal(fast.view(np.uint32), want.view(np.uint32))


# ------------------------------------------------------------------------------------------------
# SOFTMAX (refinterp/ops/emulation/xnnpack_float_math.py)



def _require_avx512f() -> None:
    """XNNPACK picks its AVX-512F raddstoreexpminusmax / rmax kernels only where the CPU has AVX-512F; an AVX2 CPU
    runs 8-lane kernels (other sums, other last bits: not emulated)."""
    if "avx512f" not in cpu_flags():
        pytest.skip(f"{CPU_SKIP_PREFIX} avx512f: XNNPACK runs its avx2 softmax kernels there (not emulated)")


def _softmax_model(shape: tuple[int, ...], beta: float = 1.0) -> bytes:
    return single_op_model("SOFTMAX", [TensorSpec(shape, "float32")], [TensorSpec(shape, "float32")],
                           {"beta": beta})


SPECIALS = np.array([0.0, -0.0, 1e-40, -1e-40, 1e-45, TINY, 3e38, -3e38, 88.0, -88.0, 87.3, -87.3, 100.0, -100.0,
                     np.inf, -np.inf], F32)


def softmax_rows(rng: np.random.Generator, rows: int, n: int) -> np.ndarray:
    """Rows of several scales (the exp's range, its cut-off at -87.34, the FTZ of tiny results), some with
    special values."""
    x = rng.standard_normal((rows, n)) * rng.choice([0.01, 1.0, 8.0, 40.0, 1000.0], (rows, 1))
    x = x.astype(F32)
    special = (rng.random((rows, n)) < 0.06) & (rng.random((rows, 1)) < 0.5)
    x[special] = rng.choice(SPECIALS, int(special.sum()))
    return x


def _assert_softmax_bits(want: np.ndarray, got: np.ndarray, what: str) -> None:
    """Bit for bit, except the NaN payload in rows holding a NaN input (all of such a row is NaN in both)."""
    assert want.shape == got.shape and got.dtype == np.float32, what
    nan_rows = np.isnan(want).all(axis=-1)
    assert np.array_equal(nan_rows, np.isnan(got).all(axis=-1)), what
    same = (want.view(np.uint32) == got.view(np.uint32)) | nan_rows[..., None]
    differ = np.argwhere(~same)
    assert differ.size == 0, f"{what}: {len(differ)} differ, first at {differ[0].tolist()}: " \
        f"want {want[tuple(differ[0])]!r} got {got[tuple(differ[0])]!r}"


@pytest.mark.parametrize("n", [1, 2, 3, 7, 15, 16, 17, 31, 33, 63, 64, 65, 80, 127, 129, 200, 1001])
def test_float_softmax_matches_litert_xnnpack_bit_for_bit(n):
    _require_avx512f()
    rng = np.random.default_rng(1500 + n)
    x = softmax_rows(rng, 64, n)
    model = _softmax_model(x.shape)
    assert delegated_operators(model) == [True]
    want = run_runtime("xnnpack", model, [x])[0]
    _assert_softmax_bits(want, run_profile("xnnpack", model, [x])[0], f"SOFTMAX n={n}")


def test_float_softmax_rows_with_nans_are_nan():
    _require_avx512f()
    rng = np.random.default_rng(15)
    x = softmax_rows(rng, 48, 19)
    x[::3, 5] = np.nan
    x[1::6, 18] = np.array([0xFFC12345], np.uint32).view(F32)[0]
    model = _softmax_model(x.shape)
    want = run_runtime("xnnpack", model, [x])[0]
    got = run_profile("xnnpack", model, [x])[0]
    _assert_softmax_bits(want, got, "SOFTMAX with NaNs")
    single = np.isnan(x).sum(axis=1) == 1  # one NaN: every output is that NaN, quieted (measured)
    assert np.array_equal(want[single].view(np.uint32), got[single].view(np.uint32))


@pytest.mark.parametrize("shape,beta", [((5,), 1.0), ((2, 3, 9), 1.0), ((1, 1, 1, 1, 2, 3), 1.0), ((4, 6), 0.5),
                                        ((2, 3), 2.0)])
def test_float_softmax_delegation(shape, beta):
    """The delegate takes beta 1 only (VisitSoftmaxNode); the profile decides as it does. (A SOFTMAX it leaves runs
    LiteRT's optimized float kernel, which the profile does not emulate: the reference runs.)"""
    from refinterp.interpreter import Interpreter
    from refinterp.ops.emulation.xnnpack import is_delegated

    _require_avx512f()
    model = _softmax_model(shape, beta)
    interpreter = Interpreter(model_content=model, profile="xnnpack")
    interpreter.allocate_tensors()
    delegated = is_delegated(interpreter._main.prepared[0].params)
    assert delegated_operators(model) == [delegated] and delegated == (beta == 1.0)
    if not delegated:
        return
    x = softmax_rows(np.random.default_rng(3), int(np.prod(shape[:-1])), shape[-1]).reshape(shape)
    want = run_runtime("xnnpack", model, [x])[0]
    _assert_softmax_bits(want, run_profile("xnnpack", model, [x])[0], f"SOFTMAX {shape} beta {beta}")


def test_float_softmax_generator_cases():
    """The conformance generator's float32 SOFTMAX cases: where the delegate takes the case (beta 1), bit for bit."""
    from refinterp.interpreter import Interpreter
    from refinterp.ops.emulation.xnnpack import is_delegated
    from refinterp.tools.conformance.generators import make_case

    _require_avx512f()
    compared = 0
    for seed in range(40):
        case = make_case("SOFTMAX", "float32", seed)
        if case.probe:
            continue
        interpreter = Interpreter(model_content=case.model, profile="xnnpack")
        interpreter.allocate_tensors()
        delegated = is_delegated(interpreter._main.prepared[0].params)
        assert delegated_operators(case.model) == [delegated], case.describe()
        if not delegated:
            continue
        want = run_runtime("xnnpack", case.model, case.inputs)[0]
        _assert_softmax_bits(want, run_profile("xnnpack", case.model, case.inputs)[0], case.describe())
        compared += 1
    assert compared


# ------------------------------------------------------------------------------------------------
# RELU, RELU6, RELU_N1_TO_1, CEIL, FLOOR, ROUND, SQUARE, NEG (float32): DAZ / FTZ, zero signs, NaN payloads


def unary_inputs(seed: int) -> np.ndarray:
    """2^16 random bit patterns (every class), every 2^12-th bit pattern, normals, halves and the edges, NaNs with
    payloads (odd length: the microkernels' tails)."""
    rng = np.random.default_rng(seed)
    random_bits = rng.integers(0, 1 << 32, 1 << 16, dtype=np.uint64).astype(np.uint32).view(F32)
    sweep = np.arange(0, 1 << 32, 1 << 12, dtype=np.uint64).astype(np.uint32).view(F32)
    edges = np.array([0.0, -0.0, 1e-40, -1e-40, 1e-45, -1e-45, TINY, -TINY, np.inf, -np.inf, 0.5, -0.5, 1.5, 2.5,
                      -2.5, 6.0, -1.0, 1.0, 1e-22, -7.8e-18, 3.4e38], F32)
    nans = np.array([0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF812345, 0x7FBFFFFF], np.uint32).view(F32)
    return np.concatenate([random_bits, sweep, (rng.standard_normal(1 << 14) * 3).astype(F32),
                           (rng.integers(-40, 40, 999) / 2).astype(F32), edges, nans])


def assert_unary_bits(op: str, x: np.ndarray, options: dict | None = None) -> np.ndarray:
    """A float32 unary operator on ``x``: delegated (the delegate's and the profile's decision), and the profile's
    output equal to LiteRT + XNNPACK's bit for bit; returns the runtime's output."""
    from refinterp.interpreter import Interpreter
    from refinterp.ops.emulation.xnnpack import is_delegated

    model = single_op_model(op, [TensorSpec(x.shape, "float32")], [TensorSpec(x.shape, "float32")], options or {})
    interpreter = Interpreter(model_content=model, profile="xnnpack")
    interpreter.allocate_tensors()
    assert delegated_operators(model) == [True] and is_delegated(interpreter._main.prepared[0].params)
    want = run_runtime("xnnpack", model, [x])[0]
    got = run_profile("xnnpack", model, [x])[0]
    differ = np.nonzero(want.view(np.uint32) != got.view(np.uint32))[0]
    assert differ.size == 0, f"{op}: {differ.size} differ, e.g. x={x[differ[:4]].view(np.uint32)} " \
        f"want {want[differ[:4]].view(np.uint32)} got {got[differ[:4]].view(np.uint32)}"
    return want


@pytest.mark.parametrize("op", ["RELU", "RELU6", "RELU_N1_TO_1", "CEIL", "FLOOR", "ROUND", "SQUARE", "NEG"])
def test_float_elementwise_matches_litert_xnnpack_bit_for_bit(op):
    x = unary_inputs(15)
    want = assert_unary_bits(op, x)
    model = single_op_model(op, [TensorSpec(x.shape, "float32")], [TensorSpec(x.shape, "float32")], {})
    # the case tells the rules apart: the reference differs
    reference = run_profile("litert-ref", model, [x])[0] if op not in ("CEIL", "ROUND") else None
    if reference is not None:
        assert not np.array_equal(reference.view(np.uint32), want.view(np.uint32))


@pytest.mark.parametrize("op,options", [("SOFTMAX", {"beta": 0.5}), ("LOG_SOFTMAX", {})])
def test_float_operators_the_delegate_leaves_follow_litert_optimized(op, options):
    """A float SOFTMAX with beta other than 1 and every LOG_SOFTMAX stay with LiteRT: profile "xnnpack" runs
    litert-opt's float rules for them (measured: the reference kernels differ on 79 of 111 and 1 of 111)."""
    rng = np.random.default_rng(77)
    model = single_op_model(op, [TensorSpec((3, 37), "float32")], [TensorSpec((3, 37), "float32")], options)
    inputs = [(rng.standard_normal((3, 37)) * 5).astype(F32)]
    assert delegated_operators(model) == [False]
    expected = run_runtime("xnnpack", model, inputs)
    assert_same(expected, run_profile("xnnpack", model, inputs), f"xnnpack {op}")
    assert_same(expected, run_runtime("litert-opt", model, inputs), f"{op}: LiteRT optimized")

"""The optimized CONV_2D kernels (refinterp/ops/fast/conv.py) against the spec kernel and LiteRT BUILTIN_REF.

Every int8 backend runs every case, forced with REFINTERP_CONV_BACKEND as a user would force it: vnni (AVX-512
VNNI), avxvnni (256-bit vpdpbusd: AVX-VNNI, or AVX-512 VNNI + VL), avx2 (portable int16 IR: vpmaddwd on AVX2),
blas32 and blas64 (any CPU). A backend whose CPU features are missing is skipped with a "cpu lacks ..." reason
(the one skip CI accepts). The cases hit each code path: 1x1, strides, dilation, groups, channel counts that are
not multiples of 4, 8 or 16, a K so large that the float32 backend must split it, per-tensor weights, batches,
and the most extreme values (-128/127 everywhere, int32 accumulator wrap). They, and a seeded set of random
convolutions, are also checked against LiteRT's reference kernels (expected values from the oracle).
"""

from __future__ import annotations

import dataclasses
import functools

import numba
import numpy as np
import pytest
from conftest import CPU_SKIP_PREFIX
from oracle import run_litert_ref

from refinterp.interpreter import Interpreter
from refinterp.model import parse_model
from refinterp.modelbuilder import TensorSpec, single_op_model
from refinterp.ops.common import OpContext, Window2D
from refinterp.ops.conv import KIND_UINT8, Conv2DParams, conv2d_spec, prepare_conv2d
from refinterp.ops.fast import conv as conv_fast
from refinterp.ops.fast import conv_uint8_hybrid
from refinterp.ops.fast import depthwise_conv as depthwise_fast
from refinterp.quant import multiply_by_quantized_multiplier
from refinterp.tools.conformance.generators import make_case


def _backend_param(backend: str):
    missing = conv_fast.missing_cpu_features(backend)
    return pytest.param(backend, marks=pytest.mark.skipif(
        bool(missing), reason=f"{CPU_SKIP_PREFIX} {', '.join(missing)} (the {backend} conv backend needs them)"))


BACKENDS = [_backend_param(b) for b in conv_fast.BACKENDS]


@dataclasses.dataclass
class ConvCase:
    name: str
    input_shape: tuple[int, int, int, int]
    filter_shape: tuple[int, int, int, int]  # [Cout, KH, KW, Cin / groups]
    stride: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)
    padding: str = "SAME"
    per_channel: bool = True
    input_zero_point: int = 3
    output_zero_point: int = -5
    activation: str = "NONE"
    values: str = "random"  # "min" / "max": every input and weight at -128 / 127; "large": x = 127, w in [100, 127]
    bias: str = "random"  # "random", "none", "wrap" (the int32 accumulator wraps), or "cancel" (see below)


CASES = [
    ConvCase("3x3_same", (1, 9, 11, 8), (16, 3, 3, 8)),
    ConvCase("1x1", (1, 7, 5, 32), (48, 1, 1, 32)),
    ConvCase("1x1_stride2_valid", (1, 8, 9, 16), (16, 1, 1, 16), stride=(2, 2), padding="VALID"),
    ConvCase("stride2_odd", (1, 13, 10, 3), (17, 3, 3, 3), stride=(2, 2)),
    ConvCase("stride_3x1_5x2", (2, 12, 11, 5), (20, 5, 2, 5), stride=(3, 1), padding="VALID"),
    ConvCase("dilation2", (1, 14, 12, 6), (33, 3, 3, 6), dilation=(2, 2)),
    ConvCase("dilation_2x3_stride2", (1, 15, 16, 4), (8, 3, 2, 4), stride=(2, 1), dilation=(2, 3), padding="VALID"),
    ConvCase("groups2", (1, 6, 6, 8), (32, 3, 3, 4), activation="RELU"),
    ConvCase("groups3_odd_channels", (1, 5, 7, 15), (9, 3, 3, 5)),
    ConvCase("one_output_channel", (1, 6, 6, 7), (1, 3, 3, 7), bias="none"),
    ConvCase("channels_255", (1, 4, 4, 64), (255, 1, 1, 64), activation="RELU6"),
    ConvCase("many_pixels_and_channels", (1, 23, 29, 24), (1024, 1, 1, 24)),  # several tiles per thread
    ConvCase("per_tensor_weights", (1, 8, 8, 12), (24, 3, 3, 12), per_channel=False),
    # float32 partial sums reach 1.3e8 > 2^24, so only a split keeps them exact; the bias cancels the interior
    # sum and the output scale is 1, so every accumulator error of one unit shows in the output
    ConvCase("huge_k_forces_split", (1, 6, 6, 1024), (32, 3, 3, 1024), values="large", per_channel=False,
             bias="cancel"),
    ConvCase("worst_min", (1, 6, 6, 64), (32, 3, 3, 64), values="min", input_zero_point=127),
    ConvCase("worst_max", (1, 6, 6, 64), (32, 3, 3, 64), values="max", input_zero_point=-128),
    ConvCase("zero_point_extremes", (1, 5, 5, 9), (16, 3, 3, 9), input_zero_point=-128, output_zero_point=127),
    ConvCase("int32_wrap", (1, 5, 5, 64), (16, 3, 3, 64), values="max", input_zero_point=-128, bias="wrap"),
    ConvCase("batch3", (3, 7, 6, 4), (16, 3, 3, 4), stride=(2, 2)),
    ConvCase("filter_larger_than_input", (1, 3, 2, 4), (16, 5, 5, 4)),
]


def _case_model(case: ConvCase, seed: int = 0) -> tuple[bytes, np.ndarray]:
    rng = np.random.default_rng(seed)
    cout, kh, kw, cin_g = case.filter_shape
    if case.values == "random":
        x = rng.integers(-128, 128, case.input_shape, dtype=np.int8)
        w = rng.integers(-127, 128, case.filter_shape, dtype=np.int8)
    elif case.values == "large":
        x = np.full(case.input_shape, 127, np.int8)
        w = rng.integers(100, 128, case.filter_shape, dtype=np.int8)
    else:
        fill = -128 if case.values == "min" else 127
        x = np.full(case.input_shape, fill, np.int8)
        w = np.full(case.filter_shape, fill, np.int8)
    k = kh * kw * cin_g
    input_scale = 0.02
    filter_scales = [float(s) for s in rng.uniform(0.5, 2.0, cout) * 1e-3] if case.per_channel else [1e-3]
    # an output scale that keeps typical sums inside int8, so that the outputs are not all clamped
    output_scale = input_scale * 1e-3 * 128 * 60 * np.sqrt(k) / 30
    if case.bias == "cancel":
        output_scale = input_scale * filter_scales[0]  # effective scale 1: output = accumulator + zero point
    if case.bias == "none":
        bias = None
    else:
        if case.bias == "wrap":
            values = np.full(cout, 2**31 - 1000, np.int64)  # plus a positive sum: wraps past INT32_MAX
        elif case.bias == "cancel":  # interior pixels: accumulator = the small random part
            interior_sums = w.reshape(cout, -1).astype(np.int64).sum(axis=1) * (int(x.flat[0]) - case.input_zero_point)
            values = -interior_sums + rng.integers(-100, 100, cout)
        else:
            values = rng.integers(-50_000, 50_000, cout)
        bias_scales = [input_scale * s for s in (filter_scales * cout if not case.per_channel else filter_scales)]
        bias = TensorSpec((cout,), "int32", scale=bias_scales, zero_point=[0] * cout, data=values.astype(np.int32))
    weights = TensorSpec(case.filter_shape, "int8", scale=filter_scales, zero_point=[0] * len(filter_scales),
                         data=w)
    out_h, out_w = (_out_size(case.padding, case.input_shape[i + 1], case.filter_shape[i + 1], case.stride[i],
                              case.dilation[i]) for i in range(2))
    model = single_op_model(
        "CONV_2D",
        inputs=[TensorSpec(case.input_shape, "int8", scale=input_scale, zero_point=case.input_zero_point), weights,
                bias],
        outputs=[TensorSpec((case.input_shape[0], out_h, out_w, cout), "int8", scale=float(output_scale),
                            zero_point=case.output_zero_point)],
        options={"padding": case.padding, "stride_h": case.stride[0], "stride_w": case.stride[1],
                 "dilation_h_factor": case.dilation[0], "dilation_w_factor": case.dilation[1],
                 "fused_activation_function": case.activation},
    )
    return model, x


def _out_size(padding: str, size: int, kernel: int, stride: int, dilation: int) -> int:
    effective = (kernel - 1) * dilation + 1
    return -(-size // stride) if padding == "SAME" else (size - effective + stride) // stride


def _prepared(model_bytes: bytes):
    model = parse_model(model_bytes)
    subgraph = model.subgraphs[0]
    op = subgraph.operators[0]
    has_bias = len(op.inputs) > 2 and op.inputs[2] >= 0
    # LiteRT's CONV_2D requires a bias, TFLM's does not: a bias-less case is prepared under the tflm profile
    params = prepare_conv2d(OpContext(op, subgraph, profile="litert-ref" if has_bias else "tflm"))
    weights = subgraph.tensors[op.inputs[1]].data
    bias = subgraph.tensors[op.inputs[2]].data if has_bias else None
    return params, weights, bias


def _run_fast(backend: str, params, x: np.ndarray, weights: np.ndarray, bias: np.ndarray | None,
              monkeypatch: pytest.MonkeyPatch) -> np.ndarray:
    """The fast kernel with ``backend`` forced through REFINTERP_CONV_BACKEND (self-test included)."""
    monkeypatch.setenv(conv_fast.BACKEND_ENV, backend)
    plan = conv_fast.plan_conv2d(weights, params.groups, x.shape[1], x.shape[2], params.dilation_w)
    assert plan.backend == backend
    return conv_fast.conv2d_fast(conv_fast.ConvFastParams(params, plan=plan), x, weights, bias)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_fast_equals_spec(case: ConvCase, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every thread numba has on every case (the LiteRT cases run small convolutions on one thread)."""
    monkeypatch.setattr(conv_fast, "MACS_PER_THREAD", 1)
    model, x = _case_model(case)
    params, weights, bias = _prepared(model)
    expected = conv2d_spec(params, x, weights, bias)
    got = _run_fast(backend, params, x, weights, bias, monkeypatch)
    assert got.dtype == np.int8 and got.shape == expected.shape
    mismatches = np.flatnonzero(got != expected)
    assert mismatches.size == 0, f"{mismatches.size} of {got.size} outputs differ, first at {mismatches[:5]}"
    if case.values == "random":  # a useful case: the outputs are not all clamped to one value
        assert np.unique(expected).size > 10


def test_cases_reach_what_they_claim() -> None:
    """The edge cases are real: the huge K is split, the wrap case wraps, the worst cases sit at the limits."""
    model, x = _case_model(next(c for c in CASES if c.name == "huge_k_forces_split"))
    params, weights, bias = _prepared(model)
    chunks = conv_fast.exact_float32_chunks(weights.reshape(weights.shape[0], -1))
    assert len(chunks) > 1
    interior = conv2d_spec(params, x, weights, bias)[0, 1:-1, 1:-1]
    assert -128 < interior.min() and interior.max() < 127  # not clamped: accumulator errors would show
    wrap = next(c for c in CASES if c.name == "int32_wrap")
    model, x = _case_model(wrap)
    params, weights, bias = _prepared(model)
    true_sum = int(weights[0].astype(np.int64).sum()) * (127 + 128) + int(bias[0])  # interior pixel: all taps
    assert true_sum > 2**31 - 1


def _random_cases(count: int, seed: int) -> list[ConvCase]:
    """Seeded random convolutions: groups, more than 5 output channels, any filter, stride, dilation and padding,
    zero points often at -128 or 127, and a bias near INT32_MAX in some (their int32 accumulators wrap)."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(count):
        groups = int(rng.choice([1, 1, 2, 3, 4]))
        channels_in_group = int(rng.integers(1, 14))
        channels_out = groups * int(rng.integers(6 // groups + 1, 40 // groups + 2))
        kernel = tuple(int(k) for k in rng.integers(1, 6, 2))
        stride = tuple(int(s) for s in rng.integers(1, 4, 2))
        dilation = tuple(int(d) for d in rng.integers(1, 4, 2))
        size = tuple((kernel[j] - 1) * dilation[j] + 1 + int(rng.integers(0, 10)) for j in range(2))
        zero_points = [int(rng.choice([-128, 127, int(rng.integers(-128, 128))])) for _ in range(2)]
        cases.append(ConvCase(
            f"random{i}_g{groups}_{kernel[0]}x{kernel[1]}", (int(rng.choice([1, 1, 2])), *size, groups *
                                                             channels_in_group),
            (channels_out, *kernel, channels_in_group), stride=stride, dilation=dilation,
            padding=str(rng.choice(["SAME", "VALID"])), per_channel=bool(rng.random() < 0.7),
            input_zero_point=zero_points[0], output_zero_point=zero_points[1],
            activation=str(rng.choice(["NONE", "RELU", "RELU6", "RELU_N1_TO_1"], p=[0.5, 0.3, 0.1, 0.1])),
            values=str(rng.choice(["random", "min", "max"], p=[0.8, 0.1, 0.1])),
            bias=str(rng.choice(["random", "wrap"], p=[0.75, 0.25]))))
    return cases


RANDOM_CASES = _random_cases(20, seed=13)
LITERT_CASES = [c for c in CASES if c.name in
                ("stride2_odd", "dilation2", "groups3_odd_channels", "per_tensor_weights", "huge_k_forces_split",
                 "worst_min", "worst_max", "zero_point_extremes", "int32_wrap", "batch3", "channels_255")]
LITERT_CASES += RANDOM_CASES


@functools.cache
def _litert_case(name: str) -> tuple[bytes, np.ndarray, np.ndarray]:
    """The case's model, input and LiteRT BUILTIN_REF's output (computed once for all backends)."""
    case = next(c for c in LITERT_CASES if c.name == name)
    model, x = _case_model(case, seed=1)
    (expected,) = run_litert_ref(model, [x])
    return model, x, expected


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", LITERT_CASES, ids=lambda c: c.name)
def test_fast_matches_litert_reference(case: ConvCase, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    model, x, expected = _litert_case(case.name)
    params, weights, bias = _prepared(model)
    got = _run_fast(backend, params, x, weights, bias, monkeypatch)
    assert got.shape == expected.shape
    assert np.array_equal(got, expected), f"{np.count_nonzero(got != expected)} of {got.size} outputs differ"


def test_random_cases_cover_what_they_claim() -> None:
    """The random set has groups, wrapping accumulators, extreme zero points, and outputs that are not all clamped."""
    assert {c.filter_shape[0] > 5 for c in RANDOM_CASES} == {True}
    assert sum(c.input_shape[3] != c.filter_shape[3] for c in RANDOM_CASES) >= 4  # grouped
    assert sum(c.bias == "wrap" for c in RANDOM_CASES) >= 3
    assert sum(c.input_zero_point in (-128, 127) for c in RANDOM_CASES) >= 4
    assert sum(c.output_zero_point in (-128, 127) for c in RANDOM_CASES) >= 4
    typical = [c for c in RANDOM_CASES if c.values == "random" and c.bias == "random"]
    assert len(typical) >= len(RANDOM_CASES) // 2
    varied = sum(np.unique(_litert_case(c.name)[2]).size > 10 for c in typical)
    assert varied >= len(typical) * 3 // 4


def test_float32_chunks_keep_every_partial_sum_exact() -> None:
    rng = np.random.default_rng(3)
    weights = rng.integers(-128, 128, (40, 9000))
    weights[7] = 127  # one channel at the extreme decides the cuts
    chunks = conv_fast.exact_float32_chunks(weights)
    assert chunks[0][0] == 0 and chunks[-1][1] == weights.shape[1]
    assert all(a[1] == b[0] for a, b in zip(chunks, chunks[1:]))
    for k0, k1 in chunks:
        assert (128 * np.abs(weights[:, k0:k1]).sum(axis=1)).max() < 2**24
    # greedy cuts are as coarse as allowed: adding the next column to any chunk would break the bound
    for (k0, k1), _ in zip(chunks, chunks[1:]):
        assert (128 * np.abs(weights[:, k0:k1 + 1]).sum(axis=1)).max() >= 2**24


def test_float32_without_split_would_be_inexact() -> None:
    """Why the split exists: one float32 sum over this K is not exact, the chunked sums are."""
    k = 3 * 3 * 1024
    x = np.full((1, k), 127, np.float32)
    w = np.full((k, 1), 127, np.float32)  # odd products: past 2^24 a float32 sum cannot hold them exactly
    exact = int((x.astype(np.int64) @ w.astype(np.int64))[0, 0])
    chunks = conv_fast.exact_float32_chunks(w.T.astype(np.int64))
    chunked = sum(int((x[:, a:b] @ w[a:b])[0, 0]) for a, b in chunks)
    assert chunked == exact
    naive = np.cumsum(x[0] * w[:, 0], dtype=np.float32)[-1]  # sequential float32 sum, one rounding per add
    assert int(naive) != exact


def test_backend_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(conv_fast.BACKEND_ENV, "blas64")
    backend, why = conv_fast.explain_backend()
    assert backend == "blas64" and why.startswith(f"forced by {conv_fast.BACKEND_ENV}=blas64 (")
    monkeypatch.setenv(conv_fast.BACKEND_ENV, "auto")
    assert conv_fast.choose_backend() == next(b for b in conv_fast.BACKENDS if not conv_fast.missing_cpu_features(b))
    monkeypatch.setenv(conv_fast.BACKEND_ENV, "gpu")
    with pytest.raises(conv_fast.RefinterpError, match="REFINTERP_CONV_BACKEND"):
        conv_fast.choose_backend()


def test_explanation_names_the_cpu_features(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(conv_fast.BACKEND_ENV, raising=False)
    backend, why = conv_fast.explain_backend()
    assert backend == conv_fast.choose_backend()
    if backend in conv_fast.MICROKERNEL_BACKENDS:
        assert any(all(f in why for f in wanted) for wanted in conv_fast.MICROKERNEL_ISAS[backend].features)


NO_AVX512 = "-avx512f,-avx512bw,-avx512vl,-avx512vnni,-avxvnni"


@pytest.mark.parametrize("features, expected, passed_over", [
    (f"+avx2,+fma,{NO_AVX512}", "avx2", "not vnni: cpu lacks avx512f, avx512bw, avx512vnni"),
    (f"-avx2,{NO_AVX512}", "blas32", "not avx2: cpu lacks avx2"),
])
def test_choice_follows_the_cpu_features(features: str, expected: str, passed_over: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """What an AVX2-only CPU and an older one get: NUMBA_CPU_FEATURES narrows what numba (and the choice) targets."""
    monkeypatch.delenv(conv_fast.BACKEND_ENV, raising=False)
    conv_fast.choose_backend()  # numba's target is set up with the host's features before they are narrowed
    monkeypatch.setattr(numba.config, "CPU_FEATURES", features)
    backend, why = conv_fast.explain_backend()
    assert backend == expected and passed_over in why and "NUMBA_CPU_FEATURES" in why
    monkeypatch.setenv(conv_fast.BACKEND_ENV, "vnni")
    with pytest.raises(conv_fast.RefinterpError, match="REFINTERP_CONV_BACKEND=vnni but cpu lacks avx512"):
        conv_fast.choose_backend()


def test_a_failed_self_test_falls_back_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(conv_fast.BACKEND_ENV, raising=False)
    best = conv_fast.choose_backend()
    real_self_test = conv_fast._self_test
    monkeypatch.setattr(conv_fast, "_self_test", lambda b: "simulated failure" if b == best else real_self_test(b))
    conv_fast._self_test_failure.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match=f"the {best} conv backend is not usable"):
            backend, why = conv_fast.explain_backend()
        assert backend != best and f"not {best}: its self-test failed: simulated failure" in why
        monkeypatch.setenv(conv_fast.BACKEND_ENV, best)
        with pytest.raises(conv_fast.RefinterpError, match=f"={best} but its self-test failed"):
            conv_fast.choose_backend()
    finally:
        conv_fast._self_test_failure.cache_clear()


def test_non_constant_weights_are_planned_at_run_time() -> None:
    case = CASES[0]
    model, x = _case_model(case)
    params, weights, bias = _prepared(model)
    expected = conv2d_spec(params, x, weights, bias)
    got = conv_fast.conv2d_fast(conv_fast.ConvFastParams(params), x, weights, bias)
    assert np.array_equal(got, expected)


def test_fast_prepare_wraps_the_spec_prepare() -> None:
    """The registry's fast_prepare: the spec's params untouched, plus the plan for the host's backend."""
    model, x = _case_model(CASES[0])
    subgraph = parse_model(model).subgraphs[0]
    ctx = OpContext(subgraph.operators[0], subgraph)
    fast = conv_fast.prepare_conv2d_fast(ctx)
    spec = prepare_conv2d(ctx)
    assert fast.spec.window == spec.window and np.array_equal(fast.spec.output_multiplier, spec.output_multiplier)
    assert fast.plan is not None and fast.plan.backend == conv_fast.choose_backend()
    params, weights, bias = _prepared(model)
    assert np.array_equal(conv_fast.conv2d_fast(fast, x, weights, bias), conv2d_spec(spec, x, weights, bias))


# ------------------------------------------------------------------------------------------------
# DEPTHWISE_CONV_2D int8 (refinterp/ops/fast/depthwise_conv.py): the row kernel and its vector requantization,
# on channel counts the operator-case generator rarely draws (many lanes, a partial last vector)


def _depthwise_case(seed: int) -> tuple[bytes, np.ndarray]:
    rng = np.random.default_rng(seed)
    channels_in = int(rng.choice([1, 3, 8, 20, 33, 96]))
    depth_multiplier = int(rng.choice([1, 1, 1, 2, 3]))
    channels_out = channels_in * depth_multiplier
    kernel = tuple(int(k) for k in rng.integers(1, 6, 2))
    stride = tuple(int(s) for s in rng.integers(1, 4, 2))
    dilation = tuple(int(d) for d in rng.integers(1, 3, 2))
    size = tuple((kernel[j] - 1) * dilation[j] + 1 + int(rng.integers(0, 12)) for j in range(2))
    input_shape = (int(rng.choice([1, 2])), *size, channels_in)
    padding = str(rng.choice(["SAME", "VALID"]))
    zp_in, zp_out = (int(rng.choice([-128, 127, int(rng.integers(-128, 128))])) for _ in range(2))
    weights = rng.integers(-127, 128, (1, *kernel, channels_out)).astype(np.int8)
    scales = [float(s) for s in rng.uniform(0.5, 2.0, channels_out) * 1e-2]
    input_scale = 0.02
    output_scale = input_scale * 1e-2 * 128 * 60 * np.sqrt(kernel[0] * kernel[1]) / 30
    bias = rng.integers(-3000, 3000, channels_out).astype(np.int32)
    if seed % 4 == 3:  # the int32 sum wraps past INT32_MAX
        bias[:] = 2**31 - 1000
    out_h, out_w = (_out_size(padding, input_shape[i + 1], kernel[i], stride[i], dilation[i]) for i in range(2))
    model = single_op_model(
        "DEPTHWISE_CONV_2D",
        inputs=[TensorSpec(input_shape, "int8", scale=input_scale, zero_point=zp_in),
                TensorSpec(weights.shape, "int8", scale=scales, zero_point=[0] * channels_out, quantized_dimension=3,
                           data=weights),
                TensorSpec((channels_out,), "int32", scale=[input_scale * s for s in scales],
                           zero_point=[0] * channels_out, data=bias)],
        outputs=[TensorSpec((input_shape[0], out_h, out_w, channels_out), "int8", scale=float(output_scale),
                            zero_point=zp_out)],
        options={"padding": padding, "stride_h": stride[0], "stride_w": stride[1], "dilation_h_factor": dilation[0],
                 "dilation_w_factor": dilation[1], "depth_multiplier": depth_multiplier,
                 "fused_activation_function": str(rng.choice(["NONE", "RELU", "RELU6"]))})
    return model, rng.integers(-128, 128, input_shape).astype(np.int8)


@pytest.mark.parametrize("seed", range(16))
@pytest.mark.parametrize("threads", [1, 2])
def test_depthwise_fast_matches_litert_reference(seed: int, threads: int, monkeypatch: pytest.MonkeyPatch) -> None:
    model, x = _depthwise_case(seed)
    (expected,) = run_litert_ref(model, [x])
    interpreter = Interpreter(model_content=model, num_threads=min(threads, numba.config.NUMBA_NUM_THREADS))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    monkeypatch.setattr(depthwise_fast, "MACS_PER_THREAD", 1)  # every case on every thread asked for
    interpreter.invoke()
    got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    assert np.array_equal(got, expected), f"{np.count_nonzero(got != expected)} of {got.size} outputs differ"


# ------------------------------------------------------------------------------------------------
# uint8 and hybrid CONV_2D (refinterp/ops/fast/conv_uint8_hybrid.py: their sums through each int8 backend, forced
# with REFINTERP_CONV_BACKEND) and uint8 DEPTHWISE_CONV_2D, on the operator-case generator's random cases (groups,
# strides, dilations, zero points at the limits, weights' zero point 128 or not, batches) against LiteRT
# BUILTIN_REF: whole, and in bands of one output row (BAND_BYTES = 1), the banding's every edge


def _ordinary_seeds(op: str, kind: str, count: int) -> list[int]:
    """The first ``count`` seeds whose generated case is not a probe (an invalid case built on purpose)."""
    return [s for s in range(4 * count) if not make_case(op, kind, s).probe][:count]


@functools.cache
def _generated_case(op: str, kind: str, seed: int) -> tuple[bytes, list[np.ndarray], list[np.ndarray]]:
    case = make_case(op, kind, seed)
    return case.model, case.inputs, run_litert_ref(case.model, case.inputs)


def _run_interpreter(model: bytes, inputs: list[np.ndarray]) -> list[np.ndarray]:
    interpreter = Interpreter(model_content=model)
    interpreter.allocate_tensors()
    for detail, value in zip(interpreter.get_input_details(), inputs):
        interpreter.set_tensor(detail["index"], value)
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


def _assert_same_bits(got: list[np.ndarray], expected: list[np.ndarray]) -> None:
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype and g.shape == e.shape
        differ = np.count_nonzero(g.view(np.uint8) != e.view(np.uint8))  # float32 outputs: every bit
        assert differ == 0, f"{differ} of {g.nbytes} output bytes differ"


UINT8_HYBRID_CASES = [(kind, seed) for kind in ("uint8", "hybrid") for seed in _ordinary_seeds("CONV_2D", kind, 10)]


@pytest.mark.parametrize("bands", ["whole", "rows"])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind, seed", UINT8_HYBRID_CASES, ids=lambda v: str(v))
def test_uint8_and_hybrid_conv_match_litert_reference(kind: str, seed: int, backend: str, bands: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    model, inputs, expected = _generated_case("CONV_2D", kind, seed)
    monkeypatch.setenv(conv_fast.BACKEND_ENV, backend)
    assert conv_fast.choose_backend() == backend
    if bands == "rows":
        monkeypatch.setattr(conv_uint8_hybrid, "BAND_BYTES", 1)
    _assert_same_bits(_run_interpreter(model, inputs), expected)


def _uint8_conv_model(weight_zero_point: int, groups: int) -> tuple[bytes, np.ndarray]:
    """A uint8 CONV_2D, 3x3 stride 2 SAME, 2 images, ``groups`` groups of 7 input and 21 output channels."""
    rng = np.random.default_rng(weight_zero_point + groups)
    shape, filter_shape = (2, 11, 13, 7 * groups), (21 * groups, 3, 3, 7)
    x = rng.integers(0, 256, shape).astype(np.uint8)
    w = rng.integers(0, 256, filter_shape).astype(np.uint8)
    input_scale, filter_scale = 0.03, 0.004
    model = single_op_model(
        "CONV_2D",
        inputs=[TensorSpec(shape, "uint8", scale=input_scale, zero_point=131),
                TensorSpec(filter_shape, "uint8", scale=filter_scale, zero_point=weight_zero_point, data=w),
                TensorSpec((filter_shape[0],), "int32", scale=input_scale * filter_scale, zero_point=0,
                           data=rng.integers(-20_000, 20_000, filter_shape[0]).astype(np.int32))],
        outputs=[TensorSpec((2, 6, 7, filter_shape[0]), "uint8", scale=0.25, zero_point=120)],
        options={"padding": "SAME", "stride_h": 2, "stride_w": 2})
    return model, x


@pytest.mark.parametrize("bands", ["whole", "rows"])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("weight_zero_point, groups", [(128, 1), (128, 2), (0, 2), (255, 1)])
def test_uint8_conv_weight_zero_points(weight_zero_point: int, groups: int, backend: str, bands: str,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """zp_w = 128 (no window-sum channel) and not, grouped and not, against LiteRT BUILTIN_REF."""
    model, x = _uint8_conv_model(weight_zero_point, groups)
    (expected,) = run_litert_ref(model, [x])
    assert np.unique(expected).size > 20  # not all clamped
    monkeypatch.setenv(conv_fast.BACKEND_ENV, backend)
    if bands == "rows":
        monkeypatch.setattr(conv_uint8_hybrid, "BAND_BYTES", 1)
    _assert_same_bits(_run_interpreter(model, [x]), [expected])


@pytest.mark.parametrize("seed", _ordinary_seeds("DEPTHWISE_CONV_2D", "uint8", 12))
@pytest.mark.parametrize("threads", [1, 2])
def test_uint8_depthwise_matches_litert_reference(seed: int, threads: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """uint8 DEPTHWISE_CONV_2D runs the int8 row kernel (weights minus their zero point, the uint8 clamp)."""
    model, inputs, expected = _generated_case("DEPTHWISE_CONV_2D", "uint8", seed)
    monkeypatch.setattr(depthwise_fast, "MACS_PER_THREAD", 1)  # every case on every thread asked for
    previous = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        _assert_same_bits(_run_interpreter(model, inputs), expected)
    finally:
        numba.set_num_threads(previous)


def test_uint8_requantization_lanes_follow_the_int64_rule() -> None:
    """The int32-lane requantization against MultiplyByQuantizedMultiplier in int64 (quant.py's NumPy form of
    common.cc), over wrapping sums, every right shift 0..31 and the legacy uint8 rule's unbounded left shifts
    (from 32 on, ``x << left`` wrapped to int32 is 0), with 3 groups, each followed by its window-sum column."""
    rng = np.random.default_rng(5)
    pixels, groups, per_group = 64, 3, 37
    channels = groups * per_group
    shifts = np.concatenate([-np.arange(32), np.arange(1, 41), rng.integers(-31, 3, channels - 72)])
    multipliers = rng.integers(1 << 30, 1 << 31, channels)
    multipliers[:4] = (0, 1 << 30, (1 << 31) - 1, 1)
    p = Conv2DParams(stride_h=1, stride_w=1, dilation_h=1, dilation_w=1, window=Window2D(pixels, 1, 0, 0),
                     groups=groups, quantized=True, output_multiplier=multipliers.astype(np.int64),
                     output_shift=shifts.astype(np.int64), kind=KIND_UINT8)
    sums = rng.integers(-(1 << 31), 1 << 31, (pixels, groups, per_group + 1)).astype(np.int32)
    sums[:, 0, :8] = np.array([-(1 << 31), (1 << 31) - 1, 0, -1, 1, 1 << 30, -(1 << 30), 12345])
    window_offsets = rng.integers(-(1 << 31), 1 << 31, groups).astype(np.int32)
    bias = rng.integers(-(1 << 31), 1 << 31, channels).astype(np.int32)
    offsets = rng.integers(-(1 << 40), 1 << 40, channels)
    weight_offset = -77
    y = np.empty((pixels, channels), np.uint8)
    operands = conv_uint8_hybrid.uint8_requantize_operands(p, bias, offsets)
    conv_uint8_hybrid._requantize_uint8_nb(sums.reshape(pixels, -1), np.int32(weight_offset), window_offsets,
                                           *operands, np.int32(9), np.int32(0), np.int32(255), per_group, y)
    window_sums = sums[:, :, per_group].astype(np.int64) - window_offsets
    acc = (sums[:, :, :per_group].astype(np.int64) - weight_offset * window_sums[:, :, None]).reshape(pixels, -1)
    acc = acc + bias.astype(np.int64) - offsets
    acc = ((acc + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)
    expected = np.clip(multiply_by_quantized_multiplier(acc, multipliers, shifts) + 9, 0, 255)
    assert np.array_equal(y, expected)

"""The optimized CONV_2D kernels (refinterp/ops/fast/conv.py) against the spec kernel and LiteRT BUILTIN_REF.

Every backend this machine can run (vnni needs AVX-512 VNNI; blas32 and blas64 run anywhere) must give the
spec's int8 output bit for bit on convolutions chosen to hit each code path: 1x1, strides, dilation, groups,
channel counts that are not multiples of 4 or 16, a K so large that the float32 backend must split it,
per-tensor weights, batches, and the most extreme values (-128/127 everywhere, int32 accumulator wrap).
A few of them are also checked against LiteRT's reference kernels (expected values from the oracle).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from oracle import run_litert_ref

from refinterp.model import parse_model
from refinterp.modelbuilder import TensorSpec, single_op_model
from refinterp.ops.common import OpContext
from refinterp.ops.conv import conv2d_spec, prepare_conv2d
from refinterp.ops.fast import conv as conv_fast

BACKENDS = [pytest.param("vnni", marks=pytest.mark.skipif(not conv_fast.host_has_vnni(),
                                                          reason="this CPU (or numba's target) has no AVX-512 VNNI")),
            "blas32", "blas64"]


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


def _run_fast(backend: str, params, x: np.ndarray, weights: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    plan = conv_fast.plan_conv2d(weights, params.groups, x.shape[1], x.shape[2], params.dilation_w, backend=backend)
    assert plan.backend == backend
    return conv_fast.conv2d_fast(conv_fast.ConvFastParams(params, plan=plan), x, weights, bias)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_fast_equals_spec(case: ConvCase, backend: str) -> None:
    model, x = _case_model(case)
    params, weights, bias = _prepared(model)
    expected = conv2d_spec(params, x, weights, bias)
    got = _run_fast(backend, params, x, weights, bias)
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


@pytest.mark.parametrize("case", [c for c in CASES if c.name in
                                  ("stride2_odd", "dilation2", "groups3_odd_channels", "per_tensor_weights",
                                   "huge_k_forces_split", "worst_min", "worst_max", "batch3", "channels_255")],
                         ids=lambda c: c.name)
def test_fast_matches_litert_reference(case: ConvCase) -> None:
    model, x = _case_model(case, seed=1)
    (expected,) = run_litert_ref(model, [x])
    params, weights, bias = _prepared(model)
    for backend in ("vnni", "blas32", "blas64"):
        if backend == "vnni" and not conv_fast.host_has_vnni():
            continue
        got = _run_fast(backend, params, x, weights, bias)
        assert np.array_equal(got, expected), f"{backend}: {np.count_nonzero(got != expected)} outputs differ"


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
    assert conv_fast.choose_backend() == "blas64"
    monkeypatch.setenv(conv_fast.BACKEND_ENV, "auto")
    assert conv_fast.choose_backend() == ("vnni" if conv_fast.host_has_vnni() else "blas32")
    monkeypatch.setenv(conv_fast.BACKEND_ENV, "gpu")
    with pytest.raises(conv_fast.RefinterpError, match="REFINTERP_CONV_BACKEND"):
        conv_fast.choose_backend()


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

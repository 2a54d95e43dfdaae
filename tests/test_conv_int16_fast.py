"""The int16x8 CONV_2D fast kernel (refinterp/ops/fast/conv_int16.py) against LiteRT BUILTIN_REF and the spec kernel.

Expected values come from LiteRT's reference kernels (ConvPerChannel for int16 with the int64 or the int32
accumulator) and, for the extreme accumulators, from arithmetic worked out by hand in the comments. The cases reach
every path of the kernel: groups = 1, grouped, one input and one output channel per group (the depthwise loop),
tiles of 1 to 4 pixels, strides, dilation, SAME padding, per-channel and per-tensor weights, int64 and int32 biases,
inputs at -32768 / 32767 and weights at -128 / 127, K far past one int32 block (511 products) and a single tap whose
input channels span several blocks. The kernel is also run with tiny blocks (every tap flushes) and one or two
threads, all equal to the spec.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest
from oracle import run_litert_ref, run_refinterp

from refinterp.model import parse_model
from refinterp.modelbuilder import TensorSpec, single_op_model
from refinterp.ops.common import OpContext
from refinterp.ops.conv import conv2d_spec, prepare_conv2d
from refinterp.ops.fast import conv as conv_fast
from refinterp.ops.fast import conv_int16


@dataclasses.dataclass(frozen=True)
class Int16Case:
    name: str
    input_shape: tuple[int, int, int, int]
    filter_shape: tuple[int, int, int, int]  # [Cout, KH, KW, Cin / groups]
    stride: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)
    padding: str = "SAME"
    per_channel: bool = True
    bias_type: str = "int64"  # int64: the 64-bit accumulator; int32 (quantized_bias_type INT32): the wrapping one
    activation: str = "NONE"
    values: str = "random"  # "random", or "extreme": inputs and weights mostly at their limits


def _out_size(padding: str, size: int, kernel: int, stride: int, dilation: int) -> int:
    effective = (kernel - 1) * dilation + 1
    return -(-size // stride) if padding == "SAME" else (size - effective + stride) // stride


def _model(case: Int16Case, x: np.ndarray, w: np.ndarray, bias: np.ndarray, input_scale: float,
           filter_scales: list[float], output_scale: float) -> bytes:
    cout = case.filter_shape[0]
    scales = filter_scales if case.per_channel else filter_scales[:1]
    out_h, out_w = (_out_size(case.padding, case.input_shape[i + 1], case.filter_shape[i + 1], case.stride[i],
                              case.dilation[i]) for i in range(2))
    options = {"padding": case.padding, "stride_h": case.stride[0], "stride_w": case.stride[1],
               "dilation_h_factor": case.dilation[0], "dilation_w_factor": case.dilation[1],
               "fused_activation_function": case.activation}
    if case.bias_type == "int32":
        options["quantized_bias_type"] = "INT32"
    return single_op_model(
        "CONV_2D",
        [TensorSpec(x.shape, "int16", input_scale, 0),
         TensorSpec(w.shape, "int8", scales, [0] * len(scales), data=w),
         TensorSpec((cout,), case.bias_type, [input_scale * s for s in scales], [0] * len(scales),
                    data=bias.astype(case.bias_type))],
        [TensorSpec((case.input_shape[0], out_h, out_w, cout), "int16", output_scale, 0)],
        options, version=4)


def _draw(case: Int16Case, seed: int) -> tuple[bytes, np.ndarray]:
    rng = np.random.default_rng(seed)
    cout, kh, kw, cin_g = case.filter_shape
    if case.values == "extreme":
        x = rng.choice(np.array([-32768, 32767, -32768, 0, -1], np.int16), case.input_shape)
        w = rng.choice(np.array([-128, 127, -128, 0, 1], np.int8), case.filter_shape)
    else:
        x = rng.integers(-32768, 32768, case.input_shape).astype(np.int16)
        w = rng.integers(-128, 128, case.filter_shape).astype(np.int8)
        x.flat[rng.integers(0, x.size, 1 + x.size // 50)] = -32768
    input_scale = 2.0 ** -12
    filter_scales = [float(s) for s in rng.uniform(0.5, 2.0, cout) * 1e-2]
    k = kh * kw * cin_g
    typical = input_scale * 1e-2 * 74 * 18918 * np.sqrt(k)  # std of a sum of k uniform int16 x int8 products
    output_scale = float(typical / 8192)
    limit = 2**40 if case.bias_type == "int64" else 2**31 - 1
    bias = rng.integers(-min(limit, int(typical / input_scale / 1e-2)), min(limit, int(typical / input_scale / 1e-2)),
                        cout)
    if case.bias_type == "int32":  # some channels near the int32 limits: their accumulators wrap
        bias[::3] = np.where(rng.random(bias[::3].size) < 0.5, 2**31 - 1 - rng.integers(0, 2**20), -2**31 + 5)
    return _model(case, x, w, bias, input_scale, filter_scales, output_scale), x


CASES = [
    Int16Case("3x3_same", (1, 9, 11, 8), (16, 3, 3, 8)),
    Int16Case("1x1_dense_64", (1, 1, 96, 64), (64, 1, 1, 64), padding="VALID"),
    Int16Case("stride2_odd_width", (2, 13, 10, 3), (17, 3, 3, 3), stride=(2, 2)),
    Int16Case("stride_3x1_5x2", (1, 12, 11, 5), (20, 5, 2, 5), stride=(3, 1), padding="VALID"),
    Int16Case("dilation_2x3", (1, 15, 16, 4), (8, 3, 2, 4), stride=(2, 1), dilation=(2, 3)),
    Int16Case("groups3", (1, 5, 7, 15), (9, 3, 3, 5), activation="RELU"),
    Int16Case("groups2_wide", (1, 6, 9, 16), (32, 3, 3, 8), bias_type="int32"),
    # DeepFilterNet's grouped convolutions: one input and one output channel per group (the depthwise loop)
    Int16Case("depthwise_as_groups", (1, 1, 35, 64), (64, 1, 3, 1), padding="VALID"),
    Int16Case("depthwise_as_groups_stride2", (1, 4, 34, 24), (24, 3, 3, 1), stride=(2, 2), dilation=(1, 2)),
    Int16Case("depthwise_as_groups_int32", (1, 6, 7, 12), (12, 3, 3, 1), bias_type="int32"),
    Int16Case("groups_one_input_two_outputs", (1, 6, 7, 6), (12, 3, 3, 1)),
    Int16Case("per_tensor", (1, 8, 8, 12), (24, 3, 3, 12), per_channel=False, activation="RELU6"),
    Int16Case("int32_accumulator", (1, 7, 6, 40), (16, 3, 3, 40), bias_type="int32", values="extreme"),
    # K = 9 * 700 = 6300 products per output: 13 int32 blocks; one tap's 700 channels span two blocks
    Int16Case("large_k_extreme", (1, 5, 5, 700), (8, 3, 3, 700), values="extreme"),
    Int16Case("large_k_extreme_int32", (1, 4, 5, 700), (6, 3, 3, 700), values="extreme", bias_type="int32"),
    Int16Case("large_k_groups2", (1, 4, 4, 1200), (6, 2, 2, 600), values="extreme"),
    Int16Case("filter_larger_than_input", (1, 3, 2, 4), (16, 5, 5, 4)),
    Int16Case("batch3", (3, 7, 6, 4), (16, 3, 3, 4), stride=(2, 2)),
]


def _random_cases(count: int, seed: int) -> list[Int16Case]:
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(count):
        groups = int(rng.choice([1, 1, 2, 3, 8]))
        cin_g = int(rng.choice([1, 1, 3, 7, 16, 40]))
        cout = groups * int(rng.integers(1, 12))
        kernel = tuple(int(k) for k in rng.integers(1, 6, 2))
        stride = tuple(int(s) for s in rng.integers(1, 4, 2))
        dilation = tuple(int(d) for d in rng.integers(1, 3, 2))
        size = tuple((kernel[j] - 1) * dilation[j] + 1 + int(rng.integers(0, 9)) for j in range(2))
        cases.append(Int16Case(
            f"random{i}_g{groups}_{kernel[0]}x{kernel[1]}", (int(rng.choice([1, 1, 2])), *size, groups * cin_g),
            (cout, *kernel, cin_g), stride=stride, dilation=dilation, padding=str(rng.choice(["SAME", "VALID"])),
            per_channel=bool(rng.random() < 0.7), bias_type=str(rng.choice(["int64", "int32"])),
            activation=str(rng.choice(["NONE", "RELU", "RELU6"], p=[0.6, 0.3, 0.1])),
            values=str(rng.choice(["random", "extreme"], p=[0.7, 0.3]))))
    return cases


ALL_CASES = CASES + _random_cases(16, seed=1616)


def _prepared(model: bytes):
    parsed = parse_model(model)
    subgraph = parsed.subgraphs[0]
    op = subgraph.operators[0]
    params = prepare_conv2d(OpContext(op, subgraph, profile="litert-ref"))
    return params, subgraph.tensors[op.inputs[1]].data, subgraph.tensors[op.inputs[2]].data


@functools.cache
def _case(name: str) -> tuple[bytes, np.ndarray, np.ndarray]:
    """The case's model, input and LiteRT BUILTIN_REF's output (computed once)."""
    case = next(c for c in ALL_CASES if c.name == name)
    model, x = _draw(case, seed=len(name))
    (expected,) = run_litert_ref(model, [x])
    return model, x, expected


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.name)
def test_fast_equals_litert_and_spec(case: Int16Case) -> None:
    model, x, expected = _case(case.name)
    params, weights, bias = _prepared(model)
    assert params.accumulator_bits == (64 if case.bias_type == "int64" else 32)
    spec = conv2d_spec(params, x, weights, bias)
    assert np.array_equal(spec, expected), f"spec: {np.count_nonzero(spec != expected)} of {spec.size} differ"
    (fast,) = run_refinterp(model, [x])  # the interpreter's fast kernel: the plan made at prepare
    assert fast.dtype == np.int16 and fast.shape == expected.shape
    assert np.array_equal(fast, expected), f"fast: {np.count_nonzero(fast != expected)} of {fast.size} differ"
    # weights that are not constant: the plan is made at run time
    runtime_plan = conv_fast.conv2d_fast(conv_fast.ConvFastParams(params), x, weights, bias)
    assert np.array_equal(runtime_plan, expected)


@pytest.mark.parametrize("case", [c for c in ALL_CASES if c.input_shape[3] * c.filter_shape[1] < 2000][:12] +
                         [c for c in CASES if c.name.startswith("large_k")], ids=lambda c: c.name)
def test_small_blocks_and_threads_equal_litert(case: Int16Case) -> None:
    """Blocks of 1, 2 and 5 products (a flush before nearly every tap) and 1 or 2 threads: still LiteRT's output."""
    model, x, expected = _case(case.name)
    params, weights, bias = _prepared(model)
    plan = conv_int16.plan_conv2d_int16(weights, params.groups)
    for k_block in (1, 2, 5, conv_int16.K_BLOCK):
        for threads in (1, 2):
            got = conv_int16.conv2d_int16(params, plan, x, bias, k_block=k_block, threads=threads)
            assert np.array_equal(got, expected), f"k_block {k_block}, {threads} threads"


@pytest.mark.parametrize("case", [c for c in ALL_CASES if c.input_shape[3] * c.filter_shape[1] < 2000][:12] +
                         [c for c in CASES if c.name.startswith("large_k")], ids=lambda c: c.name)
def test_direct_kernel_equals_litert(case: Int16Case, monkeypatch: pytest.MonkeyPatch) -> None:
    """The unpadded kernel (taken when the zero-bordered copy would be too large), forced on every case."""
    monkeypatch.setattr(conv_int16, "PADDED_EXTRA_BYTES", -(1 << 62))
    model, x, expected = _case(case.name)
    params, weights, bias = _prepared(model)
    plan = conv_int16.plan_conv2d_int16(weights, params.groups)
    for k_block in (1, 3, conv_int16.K_BLOCK):
        got = conv_int16.conv2d_int16(params, plan, x, bias, k_block=k_block)
        assert np.array_equal(got, expected), f"k_block {k_block}"


def test_huge_dilation_takes_the_direct_kernel() -> None:
    """A 3x3 filter dilated by 2500 over a 2x3 image (SAME): the zero-bordered copy would take 150 MB; the direct
    kernel skips the taps outside the image, as LiteRT does (the spec kernel, which pads in int64, is not run)."""
    case = Int16Case("huge_dilation", (1, 2, 3, 3), (5, 3, 3, 3), dilation=(2500, 2500))
    model, x = _draw(case, seed=7)
    (expected,) = run_litert_ref(model, [x])
    params, weights, bias = _prepared(model)
    need = [(o - 1) + 2 * 2500 + 1 for o in expected.shape[1:3]]
    assert 2 * need[0] * need[1] * 3 > conv_int16.PADDED_EXTRA_BYTES  # the direct kernel runs
    (fast,) = run_refinterp(model, [x])
    assert np.array_equal(fast, expected)


def test_random_cases_cover_what_they_claim() -> None:
    """Grouped, depthwise-like, int32-wrapping and unclamped outputs are all in the set."""
    assert sum(c.filter_shape[3] != c.input_shape[3] for c in ALL_CASES) >= 8
    assert sum(c.filter_shape[3] == 1 and c.filter_shape[0] == c.input_shape[3] for c in ALL_CASES) >= 3
    assert sum(c.bias_type == "int32" for c in ALL_CASES) >= 6
    varied = [c for c in ALL_CASES if np.unique(_case(c.name)[2]).size > 10]
    assert len(varied) >= len(ALL_CASES) * 2 // 3


# ------------------------------------------------------------------------------------------------
# Extreme accumulators worked out by hand
#
# One 3x3 VALID window over 512 input channels: K = 4608 = 9 * 2^9 products per output, x = -32768 everywhere.
# Scales s_in = 2^-10, s_w = 2^-5, s_out = 2^6: the effective scale is 2^-21 exactly, so QuantizeMultiplier gives
# M = 2^30, shift = -20 (y = acc / 2^21, rounded), and the bias scale is 2^-15.
#   w = -128: acc = 4608 * 2^22 = 9 * 2^31 (past int32 by far, and past float32's 2^24).
#   w = 127:  acc = -4608 * 127 * 2^15 = -1143 * 2^24.
# 64-bit accumulator (int64 bias), int64 MBQM: y = floor(acc * 2^14 / 2^35 + 1/2) = floor(acc / 2^21 + 1/2):
#   w = -128, bias 0:          9 * 2^31 / 2^21 = 9216
#   w = 127, bias 0:           -1143 * 2^24 / 2^21 = -9144
#   w = -128, bias 2^20:       9216 + 1/2 -> 9217 (a half rounds up)
#   w = -128, bias 2^20 - 1:   9216 + 1/2 - 2^-21 -> 9216
# 32-bit accumulator (int32 bias): acc wraps modulo 2^32, then the int32 MBQM (SRDHM by 2^30 = halving, exact for
# even values; then a rounding right shift by 20):
#   w = -128, bias 0:          9 * 2^31 = 2^31 (mod 2^32) = -2^31 -> -2^30 -> -1024
#   w = 127, bias 0:           -1143 * 2^24 + 4 * 2^32 = -119 * 2^24 -> -119 * 2^23 -> -952
#   w = -128, bias 2^20:       -2^31 + 2^20 -> -2^30 + 2^19 -> -1023.5, a negative half rounds away: -1024
#   w = -128, bias 2^21:       -2^31 + 2^21 -> -2^30 + 2^20 -> -1023

EXTREME_WEIGHTS = (-128, 127, -128, -128)
EXTREME_BIASES = {"int64": (0, 0, 2**20, 2**20 - 1), "int32": (0, 0, 2**20, 2**21)}
EXTREME_EXPECTED = {"int64": (9216, -9144, 9217, 9216), "int32": (-1024, -952, -1024, -1023)}


@pytest.mark.parametrize("bias_type", ["int64", "int32"])
def test_hand_checked_extreme_accumulators(bias_type: str) -> None:
    case = Int16Case(f"extreme_{bias_type}", (1, 3, 3, 512), (4, 3, 3, 512), padding="VALID", bias_type=bias_type)
    x = np.full(case.input_shape, -32768, np.int16)
    w = np.array(EXTREME_WEIGHTS, np.int8)[:, None, None, None] * np.ones(case.filter_shape, np.int8)
    bias = np.array(EXTREME_BIASES[bias_type], np.int64)
    model = _model(case, x, w, bias, 2.0**-10, [2.0**-5] * 4, 2.0**6)
    params, weights, bias_data = _prepared(model)
    assert (params.output_multiplier.tolist(), params.output_shift.tolist()) == ([2**30] * 4, [-20] * 4)
    expected = np.array(EXTREME_EXPECTED[bias_type], np.int16).reshape(1, 1, 1, 4)
    (litert,) = run_litert_ref(model, [x])
    assert np.array_equal(litert, expected), litert.ravel().tolist()
    assert np.array_equal(conv2d_spec(params, x, weights, bias_data), expected)
    (fast,) = run_refinterp(model, [x])
    assert np.array_equal(fast, expected), fast.ravel().tolist()
    plan = conv_int16.plan_conv2d_int16(weights, params.groups)
    for k_block in (1, 3, conv_int16.K_BLOCK):
        got = conv_int16.conv2d_int16(params, plan, x, bias_data, k_block=k_block, threads=1)
        assert np.array_equal(got, expected), (k_block, got.ravel().tolist())


def test_block_bound() -> None:
    """K_BLOCK products of the largest magnitude still fit int32; one more would not."""
    assert conv_int16.MAX_PRODUCT == (-(2**15)) * (-(2**7))
    assert conv_int16.K_BLOCK * conv_int16.MAX_PRODUCT <= 2**31 - 1
    assert (conv_int16.K_BLOCK + 1) * conv_int16.MAX_PRODUCT > 2**31 - 1
    with pytest.raises(ValueError):
        conv_int16.conv2d_int16(None, None, None, None, k_block=conv_int16.K_BLOCK + 1)  # type: ignore[arg-type]


def test_one_compiled_signature() -> None:
    """Read-only tensors from the interpreter, padded or not, and writable arrays from a direct call all reach the
    kernel as one argument type: one compilation on a cold start."""
    for name in ("3x3_same", "1x1_dense_64"):  # a zero-bordered copy, and the interpreter's read-only input itself
        model, x, expected = _case(name)
        assert np.array_equal(run_refinterp(model, [x])[0], expected)
        params, weights, bias = _prepared(model)
        plan = conv_int16.plan_conv2d_int16(weights.copy(), params.groups)
        assert np.array_equal(conv_int16.conv2d_int16(params, plan, x.copy(), bias.copy()), expected)
    assert len(conv_int16._conv_int16_nb.signatures) == 1

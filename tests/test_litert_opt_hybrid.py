"""Profile "litert-opt", hybrid kernels (refinterp/ops/emulation/litert_opt_hybrid.py) against LiteRT 2.3.0's
optimized builtin kernels on this CPU (``get_runtime("litert")``, BUILTIN_WITHOUT_DEFAULT_DELEGATES), bit for bit.

* random single-operator hybrid cases of the generators (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED), both
  kernel sets;
* per-channel CONV_2D (optimized_ops::HybridConvPerChannel): 1x1 without im2col (deepfilternet's shape), im2col
  with strides and SAME padding (the padding reads the image's zero point), dilations, batch > 1, every clamping
  activation, inputs with zeros, all zeros, non-negative inputs, large ranges, -128 weights, deep filters whose
  row sums wrap in SseReductionSumVector's int16 lanes (the runtime keeps the wrapped sum); per-tensor and
  all-scales-equal CONV_2D (HybridConv: the reference rule) and a grouped per-channel one (the reference kernel);
* DEPTHWISE_CONV_2D (DepthwiseConvHybridGeneral): channel counts with and without a scalar rest (C_out % 4),
  depth multipliers, strides, dilations, padding, batch > 1; NaN and infinite biases (both convolutions); no bias
  is refused (LiteRT's kernel crashes);
* FULLY_CONNECTED (the reference rule under both kernel types): per-tensor and per-channel, symmetric and
  asymmetric input quantization;
* the hand-built convolution cases tell the rules apart: the reference order differs from the runtime's on them;
* two threads compute the same.
"""

from __future__ import annotations

import faulthandler
import os
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import IN_CI

from refinterp.errors import PrepareError
from refinterp.interpreter import Interpreter
from refinterp.modelbuilder import TensorSpec, single_op_model
from refinterp.tools.conformance.generators import make_case

litert = pytest.importorskip("ai_edge_litert.interpreter") if not IN_CI else __import__(
    "ai_edge_litert.interpreter", fromlist=["Interpreter"])

from test_emulation_profiles import RuntimeRefused, _forked, assert_same, run_profile  # noqa: E402

from refinterp.runtimes import get_runtime  # noqa: E402

CASES = int(os.environ.get("REFINTERP_RANDOM_CASES") or 12)
F32 = np.float32


def run_litert(model: bytes, inputs: list[np.ndarray], threads: int | None = None) -> list[np.ndarray]:
    """LiteRT's optimized kernels (in a forked child), with ``threads`` (None: LiteRT's default, one)."""
    def run() -> list[np.ndarray]:
        faulthandler.disable()  # a crash (no depthwise bias) is the expected outcome: no traceback dump
        return get_runtime("litert", num_threads=threads).run(str(path), inputs).outputs

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(model)
        return _forked(run)


def differ(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.count_nonzero(a.view(np.uint32) != b.view(np.uint32)))


def check(model: bytes, inputs: list[np.ndarray], what: str, threads: tuple[int | None, ...] = (None,)) -> int:
    """The profile against the runtime (both kernel sets); returns how many outputs the reference rule
    (profile "litert-ref") gets wrong against the runtime."""
    expected = run_litert(model, inputs)
    for kernels in ("fast", "spec"):
        assert_same(expected, run_profile("litert-opt", model, inputs, kernels), f"litert-opt ({kernels}): {what}")
    for count in threads:
        if count is not None:
            assert_same(run_litert(model, inputs, count), expected, f"{what}: {count} threads")
    return differ(run_profile("litert-ref", model, inputs)[0], expected[0])


@pytest.mark.parametrize("op", ["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"])
def test_random_hybrid_cases_match_litert_optimized(op):
    compared = 0
    for seed in range(CASES):
        case = make_case(op, "hybrid", seed)
        if case.probe:
            continue
        try:
            expected = run_litert(case.model, case.inputs)
        except RuntimeRefused:
            continue  # a depthwise case without a bias: LiteRT's optimized kernel crashes (see below)
        for kernels in ("fast", "spec"):
            assert_same(expected, run_profile("litert-opt", case.model, case.inputs, kernels),
                        f"litert-opt ({kernels}): {case.describe()}")
        compared += 1
    assert compared, f"no {op}/hybrid case ran under litert"


# ------------------------------------------------------------------------------------------------
# inputs


def hybrid_input(rng: np.random.Generator, shape: tuple[int, ...], mode: str) -> np.ndarray:
    """float32 activations: ``normal``, ``zeros`` (40% exact zeros), ``all zeros``, ``relu`` (non-negative: the
    zero point is -128), ``large`` (magnitudes from 1e-30 to 1e30 in one image), ``tiny`` (around 1e-20)."""
    values = rng.standard_normal(shape).astype(F32)
    if mode == "zeros":
        values[rng.random(shape) < 0.4] = 0
    elif mode == "all zeros":
        values[...] = 0
    elif mode == "relu":
        values = np.maximum(values, F32(0))
    elif mode == "large":
        values = (values * np.power(F32(10), rng.integers(-30, 31, shape)).astype(F32)).astype(F32)
    elif mode == "tiny":
        values = (values * F32(1e-20)).astype(F32)
    return values


def int8_weights(rng: np.random.Generator, shape: tuple[int, ...], minus128: bool = False) -> np.ndarray:
    weights = rng.integers(-127, 128, shape).astype(np.int8)
    if minus128:
        weights[rng.random(shape) < 0.3] = -128
    return weights


# ------------------------------------------------------------------------------------------------
# CONV_2D


def conv_model(rng: np.random.Generator, batch: int, size: tuple[int, int], cin: int, cout: int,
               kernel: tuple[int, int], stride: tuple[int, int] = (1, 1), dilation: tuple[int, int] = (1, 1),
               padding: str = "SAME", activation: str = "NONE", scales: str = "per-channel", input_mode: str = "normal",
               minus128: bool = False, bias_scale: float = 1.0, weight_scale: float = 0.02,
               groups: int = 1) -> tuple[bytes, list[np.ndarray]]:
    """A hybrid CONV_2D: float32 input, int8 weights (``scales``: per-channel, per-tensor, equal), float32 bias."""
    weights = int8_weights(rng, (cout, *kernel, cin // groups), minus128)
    if scales == "per-channel":
        scale = [float(F32(weight_scale * v)) for v in rng.uniform(0.2, 5.0, cout)]
    elif scales == "equal":
        scale = [weight_scale] * cout
    else:
        scale = weight_scale
    bias = (rng.standard_normal(cout) * bias_scale).astype(F32)
    height, width = size
    out_h, out_w = _out_size(height, kernel[0], stride[0], dilation[0], padding), \
        _out_size(width, kernel[1], stride[1], dilation[1], padding)
    model = single_op_model("CONV_2D", [
        TensorSpec((batch, height, width, cin), "float32"),
        TensorSpec(weights.shape, "int8", scale, [0] * cout if isinstance(scale, list) else 0, data=weights),
        TensorSpec((cout,), "float32", data=bias)], [TensorSpec((batch, out_h, out_w, cout), "float32")],
        {"padding": padding, "stride_h": stride[0], "stride_w": stride[1], "dilation_h_factor": dilation[0],
         "dilation_w_factor": dilation[1], "fused_activation_function": activation})
    return model, [hybrid_input(rng, (batch, height, width, cin), input_mode)]


def _out_size(size: int, kernel: int, stride: int, dilation: int, padding: str) -> int:
    effective = (kernel - 1) * dilation + 1
    return (size + stride - 1) // stride if padding == "SAME" else (size - effective + stride) // stride


#: (batch, (H, W), Cin, Cout, kernel, stride, dilation, padding, activation, input mode, -128 weights)
CONV_CASES = [
    (1, (1, 16), 64, 64, (1, 1), (1, 1), (1, 1), "SAME", "RELU", "zeros", False),  # deepfilternet's 1x1
    (1, (1, 48), 64, 64, (1, 1), (1, 1), (1, 1), "SAME", "RELU", "relu", False),
    (2, (5, 7), 6, 8, (3, 3), (1, 1), (1, 1), "SAME", "NONE", "normal", False),
    (1, (9, 8), 5, 12, (3, 2), (2, 1), (1, 1), "SAME", "RELU6", "normal", True),
    (3, (6, 6), 3, 7, (2, 2), (2, 2), (1, 1), "VALID", "RELU_N1_TO_1", "zeros", False),
    (1, (10, 9), 4, 5, (3, 3), (1, 1), (2, 3), "SAME", "NONE", "normal", False),
    (2, (8, 11), 7, 9, (2, 3), (1, 2), (3, 1), "VALID", "RELU", "large", True),
    (1, (4, 4), 16, 16, (1, 1), (2, 2), (1, 1), "SAME", "NONE", "tiny", False),
    (2, (3, 3), 2, 3, (3, 3), (1, 1), (1, 1), "SAME", "NONE", "all zeros", False),
    (1, (7, 5), 33, 10, (2, 2), (1, 1), (1, 1), "SAME", "NONE", "relu", True),
    (1, (3, 4), 300, 6, (3, 3), (1, 1), (1, 1), "SAME", "NONE", "normal", True),  # 2700 columns
    (4, (2, 3), 9, 4, (1, 2), (1, 1), (1, 1), "SAME", "RELU", "large", False),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=[f"conv{k}" for k in range(len(CONV_CASES))])
def test_conv_per_channel_follows_hybrid_conv_per_channel(case):
    batch, size, cin, cout, kernel, stride, dilation, padding, activation, mode, minus128 = case
    rng = np.random.default_rng(zlib.crc32(str(case).encode()))
    model, inputs = conv_model(rng, batch, size, cin, cout, kernel, stride, dilation, padding, activation,
                               input_mode=mode, minus128=minus128)
    check(model, inputs, f"CONV_2D per-channel {case}", threads=(None, 2) if batch > 1 else (None,))


def test_conv_per_channel_cases_tell_the_orders_apart():
    """The reference kernel's ``f32(f32(acc) * s_w) * scale_b`` differs from the runtime's ``f32(acc) *
    f32(s_w * scale_b)`` on many outputs of the hand-built cases."""
    reference_differs = total = 0
    for case in CONV_CASES[:4]:
        batch, size, cin, cout, kernel, stride, dilation, padding, activation, mode, minus128 = case
        rng = np.random.default_rng(zlib.crc32(str(case).encode()))
        model, inputs = conv_model(rng, batch, size, cin, cout, kernel, stride, dilation, padding, "NONE",
                                   input_mode=mode, minus128=minus128)
        expected = run_litert(model, inputs)[0]
        reference_differs += differ(run_profile("litert-ref", model, inputs)[0], expected)
        total += expected.size
    assert reference_differs > total // 30


@pytest.mark.parametrize("low", [100, -128])
def test_conv_row_sums_wrap_in_int16_lanes(low):
    """2700 filter columns of one sign: SseReductionSumVector's eight int16 lanes wrap, and the runtime subtracts
    that wrapped row sum times the zero point (-128 for a non-negative input); the reference kernel, which sums
    ``w * (q - zp)``, misses it on every output."""
    rng = np.random.default_rng(low + 200)
    cin, cout = 300, 6
    weights = rng.integers(low, low + 28, (cout, 3, 3, cin)).astype(np.int8)
    scale = [float(F32(0.02 * v)) for v in rng.uniform(0.2, 5.0, cout)]
    model = single_op_model("CONV_2D", [
        TensorSpec((1, 3, 4, cin), "float32"), TensorSpec(weights.shape, "int8", scale, [0] * cout, data=weights),
        TensorSpec((cout,), "float32", data=rng.standard_normal(cout).astype(F32))],
        [TensorSpec((1, 3, 4, cout), "float32")], {"padding": "SAME"})
    assert check(model, [hybrid_input(rng, (1, 3, 4, cin), "relu")], f"CONV_2D row sums from {low}") == 72


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")  # the reference profile's kernel overflows too
def test_conv_large_scales_saturate_like_the_runtime():
    """Huge weight scales and biases: the products overflow to infinity and the clamp (cwiseMin(FLT_MAX)) folds
    them to +-FLT_MAX; cancelling biases."""
    rng = np.random.default_rng(7)
    model, inputs = conv_model(rng, 2, (4, 5), 6, 8, (2, 2), padding="SAME", input_mode="large",
                               weight_scale=1e8, bias_scale=1e37)
    check(model, inputs, "CONV_2D per-channel, huge scales")


@pytest.mark.parametrize("scales", ["per-tensor", "equal"])
@pytest.mark.parametrize("cout", [4, 7])
def test_conv_per_tensor_keeps_the_reference_rule(scales, cout):
    """Per-tensor (or all scales equal) weights: conv.cc runs optimized_ops::HybridConv under every kernel type,
    the reference profile's rule (the exact GEMM for Cout % 4 == 0, the SSE sign trick otherwise)."""
    rng = np.random.default_rng(cout * 10 + len(scales))
    model, inputs = conv_model(rng, 2, (6, 5), 9, cout, (3, 2), (2, 1), padding="SAME", scales=scales,
                               minus128=True, activation="RELU6")
    assert check(model, inputs, f"CONV_2D {scales} Cout {cout}") == 0


def test_grouped_per_channel_conv_keeps_the_reference_kernel():
    rng = np.random.default_rng(3)
    model, inputs = conv_model(rng, 2, (5, 5), 6, 4, (3, 3), padding="SAME", groups=2)
    assert check(model, inputs, "CONV_2D per-channel, 2 groups") == 0


# ------------------------------------------------------------------------------------------------
# DEPTHWISE_CONV_2D


def depthwise_model(rng: np.random.Generator, batch: int, size: tuple[int, int], cin: int, multiplier: int,
                    kernel: tuple[int, int], stride: tuple[int, int] = (1, 1), dilation: tuple[int, int] = (1, 1),
                    padding: str = "SAME", activation: str = "NONE", input_mode: str = "normal",
                    bias: bool = True) -> tuple[bytes, list[np.ndarray]]:
    """A hybrid DEPTHWISE_CONV_2D: one scale per output channel on dimension 3."""
    cout = cin * multiplier
    weights = int8_weights(rng, (1, *kernel, cout), minus128=True)
    scale = [float(F32(0.02 * v)) for v in rng.uniform(0.2, 5.0, cout)]
    height, width = size
    out_h, out_w = _out_size(height, kernel[0], stride[0], dilation[0], padding), \
        _out_size(width, kernel[1], stride[1], dilation[1], padding)
    specs = [TensorSpec((batch, height, width, cin), "float32"),
             TensorSpec(weights.shape, "int8", scale, [0] * cout, quantized_dimension=3, data=weights)]
    if bias:
        specs.append(TensorSpec((cout,), "float32", data=rng.standard_normal(cout).astype(F32)))
    model = single_op_model("DEPTHWISE_CONV_2D", specs, [TensorSpec((batch, out_h, out_w, cout), "float32")],
                            {"padding": padding, "stride_h": stride[0], "stride_w": stride[1],
                             "dilation_h_factor": dilation[0], "dilation_w_factor": dilation[1],
                             "depth_multiplier": multiplier, "fused_activation_function": activation}, version=6)
    return model, [hybrid_input(rng, (batch, height, width, cin), input_mode)]


#: (batch, (H, W), Cin, depth multiplier, kernel, stride, dilation, padding, activation, input mode): output
#: channel counts 1, 3 (scalar only), 4, 8 (blocks only), 5, 6, 9, 15 (blocks and a rest)
DEPTHWISE_CASES = [
    (1, (6, 6), 1, 1, (3, 3), (1, 1), (1, 1), "SAME", "NONE", "normal"),
    (2, (7, 5), 3, 1, (3, 3), (2, 2), (1, 1), "SAME", "RELU", "zeros"),
    (1, (8, 8), 4, 1, (3, 3), (1, 1), (1, 1), "SAME", "NONE", "normal"),
    (1, (9, 7), 8, 1, (2, 3), (1, 2), (2, 1), "VALID", "RELU6", "relu"),
    (2, (6, 9), 5, 1, (3, 3), (1, 1), (1, 1), "SAME", "NONE", "large"),
    (1, (5, 5), 2, 3, (3, 3), (1, 1), (1, 1), "SAME", "RELU_N1_TO_1", "normal"),
    (1, (10, 6), 3, 3, (4, 2), (2, 1), (1, 2), "SAME", "NONE", "normal"),
    (3, (4, 4), 15, 1, (2, 2), (1, 1), (1, 1), "VALID", "NONE", "zeros"),
    (1, (3, 3), 6, 1, (3, 3), (1, 1), (1, 1), "SAME", "NONE", "all zeros"),
]


@pytest.mark.parametrize("case", DEPTHWISE_CASES, ids=[f"dw{k}" for k in range(len(DEPTHWISE_CASES))])
def test_depthwise_follows_the_channel_blocks(case):
    batch, size, cin, multiplier, kernel, stride, dilation, padding, activation, mode = case
    rng = np.random.default_rng(zlib.crc32(str(case).encode()))
    model, inputs = depthwise_model(rng, batch, size, cin, multiplier, kernel, stride, dilation, padding,
                                    activation, mode)
    check(model, inputs, f"DEPTHWISE_CONV_2D {case}", threads=(None, 2) if batch > 1 else (None,))


def test_depthwise_cases_tell_the_orders_apart():
    """Both orders of the optimized store loop (channel blocks: ``* s_w * scale_b``, the rest: ``* scale_b *
    s_w``) differ from the reference's ``* f32(s_w * scale_b)``; a rule that swaps them fails too."""
    for cin, multiplier in ((8, 1), (3, 1)):  # blocks only, scalar only
        rng = np.random.default_rng(cin)
        model, inputs = depthwise_model(rng, 2, (12, 12), cin, multiplier, (3, 3))
        expected = run_litert(model, inputs)[0]
        assert differ(run_profile("litert-ref", model, inputs)[0], expected) > expected.size // 40


@pytest.mark.parametrize("activation", ["NONE", "RELU"])
def test_non_finite_biases(activation):
    """NaN (with a payload) and infinite biases: the depthwise channel blocks clamp a NaN to act_min
    (``_mm_max_ps(acc, min)``), its scalar channels and the convolution's Eigen clamp keep it."""
    rng = np.random.default_rng(11)
    bias = np.array([np.nan, np.inf, -np.inf, 1.0, np.uint32(0x7FC12345).view(F32), -np.inf], F32)
    cin = cout = 6
    scale = [float(F32(0.02 * v)) for v in rng.uniform(0.2, 5.0, cout)]
    x = [hybrid_input(rng, (2, 4, 4, cin), "normal")]
    for op, shape, extra in (("DEPTHWISE_CONV_2D", (1, 3, 3, cout), {"depth_multiplier": 1}),
                             ("CONV_2D", (cout, 1, 1, cin), {})):
        weights = int8_weights(rng, shape)
        model = single_op_model(op, [
            TensorSpec(x[0].shape, "float32"),
            TensorSpec(shape, "int8", scale, [0] * cout, quantized_dimension=3 if op != "CONV_2D" else 0,
                       data=weights),
            TensorSpec((cout,), "float32", data=bias)], [TensorSpec((2, 4, 4, cout), "float32")],
            {"padding": "SAME", "fused_activation_function": activation, **extra}, version=6 if extra else 1)
        check(model, x, f"{op} with non-finite biases, {activation}")


def test_depthwise_without_bias_is_refused_like_the_runtime_crashes():
    rng = np.random.default_rng(5)
    model, inputs = depthwise_model(rng, 1, (5, 5), 3, 1, (3, 3), bias=False)
    with pytest.raises(RuntimeRefused, match="crashed"):
        run_litert(model, inputs)
    with pytest.raises(PrepareError, match="bias"):
        Interpreter(model_content=model, profile="litert-opt").allocate_tensors()
    Interpreter(model_content=model, profile="litert-ref").allocate_tensors()  # the reference kernel takes it


# ------------------------------------------------------------------------------------------------
# FULLY_CONNECTED: the reference rule holds


@pytest.mark.parametrize("asymmetric", [False, True])
@pytest.mark.parametrize("per_channel", [False, True])
def test_fully_connected_keeps_the_reference_rule(per_channel, asymmetric):
    rng = np.random.default_rng(per_channel * 2 + asymmetric)
    for batch, units, depth, mode in ((3, 7, 40, "normal"), (2, 16, 67, "zeros"), (1, 5, 300, "large"),
                                      (4, 9, 33, "relu")):
        weights = int8_weights(rng, (units, depth), minus128=True)
        scale = [float(F32(0.01 * v)) for v in rng.uniform(0.2, 5.0, units)] if per_channel else 0.01
        model = single_op_model("FULLY_CONNECTED", [
            TensorSpec((batch, depth), "float32"),
            TensorSpec(weights.shape, "int8", scale, [0] * units if per_channel else 0, data=weights),
            TensorSpec((units,), "float32", data=rng.standard_normal(units).astype(F32))],
            [TensorSpec((batch, units), "float32")],
            {"fused_activation_function": "RELU" if mode == "relu" else "NONE",
             "asymmetric_quantize_inputs": asymmetric})
        assert check(model, [hybrid_input(rng, (batch, depth), mode)],
                     f"FULLY_CONNECTED {batch}x{units}x{depth} {mode}", threads=(None, 2)) == 0

"""Profile "litert-opt", float32 (refinterp/ops/emulation/litert_opt_float.py) against LiteRT 2.3.0's optimized
builtin kernels on this CPU (``get_runtime("litert")``, BUILTIN_WITHOUT_DEFAULT_DELEGATES), bit for bit.

* random single-operator cases of the generators (``REFINTERP_RANDOM_CASES`` seeds each);
* hand-built cases that reach every path of each rule: Eigen's coefficient-based product, GEMV and GEBP (the row
  blocks of 8 and 4, the last rows one at a time, panels of 4 columns and the other columns, depth blocks above
  680), the inner product of a single output element (FULLY_CONNECTED and CONV_2D, depths 1 to 1001), the
  depthwise kernel with depth multipliers, strides, dilations and padding, HARD_SWISH's vector blocks, scalar tail
  and special values; on each the reference order differs from the runtime's (so the case tells the
  rules apart);
* TRANSPOSE_CONV (GEMM, Col2im, bias) with strides, paddings, activations, one and two images;
* FULLY_CONNECTED, DEPTHWISE_CONV_2D and TRANSPOSE_CONV with 2 threads as well (the order does not depend on
  the thread count);
* LOGISTIC and TANH on a sweep of bit patterns (every 65537th, +-0, +-inf, NaN payloads, subnormals, huge values)
  with sizes that leave a scalar tail; SOFTMAX and LOG_SOFTMAX rows of every length class of Eigen's reductions
  (fewer than 4 aligned elements, one packet, pairs of packets, an odd packet, heads before the 16-byte boundary),
  exp's pldexp path, NaN and infinities; RESIZE_BILINEAR's 2x path and the generic one with both flags, channel
  counts with and without a scalar rest, NaN payloads; MEAN over trailing blocks (Eigen) and other axis sets
  (MeanGeneral), with -0 and NaNs;
  CONV_2D with several threads runs another kernel (multithreaded_conv.h, not emulated: docs/profiles.md).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from conftest import IN_CI

from refinterp.modelbuilder import TensorSpec, single_op_model
from refinterp.ops.emulation import litert_opt_float
from refinterp.tools.conformance.generators import make_case

litert = pytest.importorskip("ai_edge_litert.interpreter") if not IN_CI else __import__(
    "ai_edge_litert.interpreter", fromlist=["Interpreter"])

from test_emulation_profiles import RuntimeRefused, _forked, assert_same, run_profile, run_runtime  # noqa: E402

from refinterp.runtimes import get_runtime  # noqa: E402

CASES = int(os.environ.get("REFINTERP_RANDOM_CASES") or 8)
F32 = np.float32


def run_litert(model: bytes, inputs: list[np.ndarray], threads: int | None = None) -> list[np.ndarray]:
    """LiteRT's optimized kernels (in a forked child), with ``threads`` (None: LiteRT's default, one)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(model)
        return _forked(lambda: get_runtime("litert", num_threads=threads).run(str(path), inputs).outputs)


def differ(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.count_nonzero(a.view(np.uint32) != b.view(np.uint32)))


@pytest.mark.parametrize("op", ["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "HARD_SWISH", "TRANSPOSE_CONV",
                                "LOGISTIC", "TANH", "SOFTMAX", "LOG_SOFTMAX", "RESIZE_BILINEAR", "MEAN"])
def test_random_float_cases_match_litert_optimized(op):
    compared = 0
    for seed in range(CASES):
        case = make_case(op, "float32", seed)
        if case.probe:
            continue
        try:
            expected = run_litert(case.model, case.inputs)
        except RuntimeRefused:
            continue
        for kernels in ("fast", "spec"):
            assert_same(expected, run_profile("litert-opt", case.model, case.inputs, kernels),
                        f"litert-opt ({kernels}): {case.describe()}")
        compared += 1
    assert compared, f"no {op}/float32 case ran under litert"


def _fully_connected(rng: np.random.Generator, batch: int, units: int, depth: int, bias: bool = True,
                     activation: str = "NONE") -> tuple[bytes, list[np.ndarray]]:
    w = rng.standard_normal((units, depth)).astype(F32)
    tensors = [TensorSpec((batch, depth), "float32"), TensorSpec(w.shape, "float32", data=w)]
    if bias:
        tensors.append(TensorSpec((units,), "float32", data=rng.standard_normal(units).astype(F32)))
    model = single_op_model("FULLY_CONNECTED", tensors, [TensorSpec((batch, units), "float32")],
                            {"fused_activation_function": activation})
    return model, [rng.standard_normal((batch, depth)).astype(F32)]


#: (batch, units, depth): the coefficient-based product (depth + units + batch < 20), GEMV (one row or one unit),
#: GEBP with units in blocks of 8, a packet of 4 and single rows, batches in panels of 4 and the rest, depths
#: with peeled and remaining steps, and depths above Eigen's depth block (680 on this CPU's 32 KiB L1)
FC_SHAPES = [(2, 3, 14), (5, 3, 11), (1, 3, 15), (1, 3, 16), (1, 7, 300), (6, 1, 257), (2, 3, 40), (5, 3, 63),
             (4, 2, 27), (9, 15, 40), (8, 8, 64), (7, 13, 129), (17, 12, 33), (3, 9, 700), (5, 17, 1000),
             (4, 4, 1361)]


@pytest.mark.parametrize("batch,units,depth", FC_SHAPES)
def test_fully_connected_float_follows_eigen(batch, units, depth):
    rng = np.random.default_rng(batch * 10000 + units * 100 + depth)
    model, inputs = _fully_connected(rng, batch, units, depth, bias=depth % 2 == 0,
                                     activation="RELU" if depth % 3 == 0 else "NONE")
    got = run_profile("litert-opt", model, inputs)
    for threads in (None, 2):
        assert_same(run_litert(model, inputs, threads), got, f"FULLY_CONNECTED {batch}x{units}x{depth} ({threads})")


def test_fully_connected_float_cases_tell_the_orders_apart():
    """Over the shapes above the reference's order (and the XNNPACK-like chain from the bias) differ from the
    runtime's on many elements, so the test above holds the order itself."""
    reference_differs = total = 0
    for batch, units, depth in FC_SHAPES[4:]:
        rng = np.random.default_rng(batch * 10000 + units * 100 + depth)
        model, inputs = _fully_connected(rng, batch, units, depth)
        expected = run_litert(model, inputs)[0]
        reference_differs += differ(run_profile("litert-ref", model, inputs)[0], expected)
        total += expected.size
    assert reference_differs > total // 10


def test_eigen_depth_block():
    """computeProductBlockingSizes with mr 8, nr 4, float, L1 32 KiB: max_kc 680; a larger depth is split into
    blocks as even as the k peeling (8) allows."""
    assert litert_opt_float.depth_block(3, 5, 40) == 40
    assert litert_opt_float.depth_block(3, 5, 680) == 680
    assert litert_opt_float.depth_block(3, 5, 1000) == 504
    assert litert_opt_float.depth_block(3, 5, 1360) == 680


def _conv(rng: np.random.Generator, batch: int, size: tuple[int, int], cin: int, cout: int, kernel: tuple[int, int],
          stride: tuple[int, int], dilation: tuple[int, int], padding: str, activation: str):
    w = rng.standard_normal((cout, *kernel, cin)).astype(F32)
    b = rng.standard_normal(cout).astype(F32)
    height, width = size
    if padding == "SAME":
        out = (-(-height // stride[0]), -(-width // stride[1]))
    else:
        out = ((height - (kernel[0] - 1) * dilation[0] - 1) // stride[0] + 1,
               (width - (kernel[1] - 1) * dilation[1] - 1) // stride[1] + 1)
    model = single_op_model("CONV_2D", [TensorSpec((batch, height, width, cin), "float32"),
                                        TensorSpec(w.shape, "float32", data=w), TensorSpec((cout,), "float32", data=b)],
                            [TensorSpec((batch, *out, cout), "float32")],
                            {"padding": padding, "stride_h": stride[0], "stride_w": stride[1],
                             "dilation_h_factor": dilation[0], "dilation_w_factor": dilation[1],
                             "fused_activation_function": activation})
    return model, [rng.standard_normal((batch, height, width, cin)).astype(F32)]


CONV_CASES = [
    (1, (12, 12), 16, 24, (3, 3), (1, 1), (1, 1), "SAME", "NONE"),
    (2, (9, 7), 5, 13, (3, 2), (2, 1), (1, 1), "VALID", "RELU6"),
    (1, (10, 11), 8, 1, (3, 3), (1, 2), (1, 1), "SAME", "NONE"),  # one output channel: GEMV
    (1, (8, 8), 32, 9, (1, 1), (1, 1), (1, 1), "SAME", "RELU"),  # 1x1: the input is the matrix
    (2, (11, 9), 3, 7, (3, 3), (1, 1), (2, 2), "SAME", "NONE"),  # dilated im2col
    (1, (9, 9), 80, 12, (3, 3), (1, 1), (1, 1), "SAME", "NONE"),  # depth 720: two depth blocks
]


@pytest.mark.parametrize("index", range(len(CONV_CASES)))
def test_conv2d_float_follows_im2col_and_eigen(index):
    rng = np.random.default_rng(index)
    model, inputs = _conv(rng, *CONV_CASES[index])
    expected = run_litert(model, inputs)
    assert_same(expected, run_profile("litert-opt", model, inputs), f"CONV_2D case {index}")
    if CONV_CASES[index][3] % 8:  # output channels in blocks of 8 sum in the reference's order (then the bias)
        assert differ(run_profile("litert-ref", model, inputs)[0], expected[0]) > 0


#: depths of a single-output product: the scalar path (below 4), 1 to 3 accumulators, the blocks of 4 packets with
#: 0 to 3 packets and 0 to 3 scalars after them, and depths below COEFF_BASED_THRESHOLD (not taken for one column)
SINGLE_OUTPUT_DEPTHS = list(range(1, 41)) + [47, 63, 64, 65, 99, 128, 131, 288, 401, 1001]
#: (input size, channels, kernel, stride, padding) of a CONV_2D with one output channel and one output pixel
SINGLE_OUTPUT_CONVS = [((3, 3), 32, (3, 3), (1, 1), "VALID"), ((3, 3), 1, (3, 3), (1, 1), "VALID"),
                       ((3, 3), 5, (3, 3), (1, 1), "VALID"), ((2, 2), 7, (3, 3), (2, 2), "SAME"),
                       ((1, 1), 19, (1, 1), (1, 1), "VALID"), ((1, 1), 64, (1, 1), (1, 1), "SAME"),
                       ((4, 2), 3, (4, 2), (1, 1), "VALID")]


def _single_output_fully_connected(depth: int) -> tuple[bytes, list[np.ndarray]]:
    rng = np.random.default_rng(2000 + depth)
    return _fully_connected(rng, 1, 1, depth, bias=depth % 2 == 0, activation="RELU" if depth % 5 == 0 else "NONE")


def test_single_output_products_follow_eigen_inner_product():
    """One unit and one row (and a CONV_2D with one output channel and one output pixel): Eigen's inner product
    (four packet accumulators, ``_inner_product``), bit for bit, whatever the depth."""
    for depth in SINGLE_OUTPUT_DEPTHS:
        model, inputs = _single_output_fully_connected(depth)
        expected = run_runtime("litert-opt", model, inputs)
        for kernels in ("fast", "spec"):
            assert_same(expected, run_profile("litert-opt", model, inputs, kernels),
                        f"FULLY_CONNECTED 1x1x{depth} ({kernels})")
    for index, (size, cin, kernel, stride, padding) in enumerate(SINGLE_OUTPUT_CONVS):
        model, inputs = _conv(np.random.default_rng(2100 + index), 1, size, cin, 1, kernel, stride, (1, 1),
                              padding, "NONE")
        assert_same(run_runtime("litert-opt", model, inputs), run_profile("litert-opt", model, inputs),
                    f"CONV_2D single output {SINGLE_OUTPUT_CONVS[index]}")


def test_single_output_product_adds_to_a_zeroed_destination():
    """No bias, every product -0: the dot is -0 and ``dst(0) += dot`` on the zeroed destination gives +0."""
    depth = 24
    w = np.ones((1, depth), F32)
    model = single_op_model("FULLY_CONNECTED", [TensorSpec((1, depth), "float32"),
                                                TensorSpec(w.shape, "float32", data=w)],
                            [TensorSpec((1, 1), "float32")], {})
    inputs = [np.full((1, depth), -0.0, F32)]
    expected = run_runtime("litert-opt", model, inputs)
    assert expected[0].view(np.uint32)[0, 0] == 0
    assert_same(expected, run_profile("litert-opt", model, inputs), "FULLY_CONNECTED of -0 products")


def test_single_output_cases_tell_the_orders_apart():
    """On the depths above, the GEMV rule (one packet accumulator) and the coefficient-based one (two) differ from
    the runtime on many depths: the test above holds the four-accumulator order itself."""
    gemv_differs = coefficient_differs = 0
    for depth in SINGLE_OUTPUT_DEPTHS:
        model, inputs = _single_output_fully_connected(depth)
        expected = run_runtime("litert-opt", model, inputs)[0]
        rng = np.random.default_rng(2000 + depth)  # _fully_connected's draws: the weights, then the bias
        weights = np.ascontiguousarray(rng.standard_normal((1, depth)).astype(F32).T)  # [D, 1]
        bias = rng.standard_normal(1).astype(F32) if depth % 2 == 0 else None
        lo = F32(0.0) if depth % 5 == 0 else F32(-np.inf)
        column = np.ascontiguousarray(inputs[0].T)  # [D, 1]
        gemv = litert_opt_float.bias_and_clamp(litert_opt_float._gemv(weights, column), bias, lo, F32(np.inf))
        coefficient = litert_opt_float.bias_and_clamp(litert_opt_float._coefficient_based(weights, column), bias,
                                                      lo, F32(np.inf))
        gemv_differs += differ(gemv, expected)
        coefficient_differs += differ(coefficient, expected)
    assert gemv_differs >= 10 and coefficient_differs >= 10, (gemv_differs, coefficient_differs)


DEPTHWISE_CASES = [
    (1, (11, 11), 32, 1, (5, 5), (1, 1), (1, 1), "SAME", "NONE"),
    (2, (9, 8), 3, 4, (3, 3), (2, 1), (1, 2), "SAME", "RELU6"),
    (1, (13, 10), 8, 2, (3, 4), (1, 2), (2, 1), "VALID", "NONE"),
    (1, (7, 7), 17, 1, (5, 3), (2, 2), (1, 1), "SAME", "RELU_N1_TO_1"),
]


@pytest.mark.parametrize("index", range(len(DEPTHWISE_CASES)))
def test_depthwise_conv2d_float_follows_the_row_accumulation(index):
    batch, (height, width), cin, multiplier, kernel, stride, dilation, padding, activation = DEPTHWISE_CASES[index]
    rng = np.random.default_rng(100 + index)
    cout = cin * multiplier
    w = rng.standard_normal((1, *kernel, cout)).astype(F32)
    b = rng.standard_normal(cout).astype(F32)
    if padding == "SAME":
        out = (-(-height // stride[0]), -(-width // stride[1]))
    else:
        out = ((height - (kernel[0] - 1) * dilation[0] - 1) // stride[0] + 1,
               (width - (kernel[1] - 1) * dilation[1] - 1) // stride[1] + 1)
    model = single_op_model("DEPTHWISE_CONV_2D", [TensorSpec((batch, height, width, cin), "float32"),
                                                  TensorSpec(w.shape, "float32", data=w),
                                                  TensorSpec((cout,), "float32", data=b)],
                            [TensorSpec((batch, *out, cout), "float32")],
                            {"padding": padding, "depth_multiplier": multiplier, "stride_h": stride[0],
                             "stride_w": stride[1], "dilation_h_factor": dilation[0],
                             "dilation_w_factor": dilation[1], "fused_activation_function": activation})
    inputs = [rng.standard_normal((batch, height, width, cin)).astype(F32)]
    got = run_profile("litert-opt", model, inputs)
    for threads in (None, 2):
        expected = run_litert(model, inputs, threads)
        assert_same(expected, got, f"DEPTHWISE_CONV_2D case {index} ({threads} threads)")
    assert differ(run_profile("litert-ref", model, inputs)[0], expected[0]) > 0
    # the compiled ``acc += x * w`` is not contracted to an FMA: the fused chain in the same order differs
    try:
        litert_opt_float.FUSED = True
        fused = run_profile("litert-opt", model, inputs)
    finally:
        litert_opt_float.FUSED = False
    assert differ(fused[0], expected[0]) > 0


def test_hard_swish_float_vector_blocks_and_tail():
    specials = np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, -3.0, 3.0, -3.0000002, 1e-45, -1e-45, 3e38,
                         -3e38, 1e-39, -1e-39, 6.0, -6.0, 2.9999998], F32)
    rng = np.random.default_rng(7)
    for size in (3, 4, 21, 23, 37, 64 + 3):
        x = np.concatenate([specials, (rng.standard_normal(max(0, size - 21)) * 4).astype(F32), specials[:3]])[:size]
        model = single_op_model("HARD_SWISH", [TensorSpec((size,), "float32")], [TensorSpec((size,), "float32")], {})
        expected = run_litert(model, [x])
        for kernels in ("fast", "spec"):
            assert_same(expected, run_profile("litert-opt", model, [x], kernels), f"HARD_SWISH {size} ({kernels})")
    x = (rng.standard_normal(4003) * 4).astype(F32)
    model = single_op_model("HARD_SWISH", [TensorSpec((4003,), "float32")], [TensorSpec((4003,), "float32")], {})
    expected = run_litert(model, [x])
    assert_same(expected, run_profile("litert-opt", model, [x]), "HARD_SWISH 4003")
    assert differ(run_profile("litert-ref", model, [x])[0], expected[0]) > 100


TRANSPOSE_CASES = [  # batch, (in_h, in_w), cin, cout, kernel, stride, padding, activation
    (1, (8, 8), 6, 12, (3, 3), (2, 2), "SAME", "NONE"),
    (2, (5, 7), 17, 3, (4, 3), (2, 1), "VALID", "RELU6"),
    (1, (9, 6), 3, 9, (3, 3), (2, 2), "SAME", "RELU"),
    (1, (6, 6), 40, 1, (3, 3), (1, 1), "SAME", "NONE"),
]


@pytest.mark.parametrize("index", range(len(TRANSPOSE_CASES)))
def test_transpose_conv_float_follows_gemm_and_col2im(index):
    batch, (height, width), cin, cout, kernel, stride, padding, activation = TRANSPOSE_CASES[index]
    rng = np.random.default_rng(200 + index)
    out_h, out_w = (height * stride[0], width * stride[1]) if padding == "SAME" else \
        ((height - 1) * stride[0] + kernel[0], (width - 1) * stride[1] + kernel[1])
    w = rng.standard_normal((cout, *kernel, cin)).astype(F32)
    b = rng.standard_normal(cout).astype(F32)
    shape = TensorSpec((4,), "int32", data=np.array([batch, out_h, out_w, cout], np.int32))
    model = single_op_model("TRANSPOSE_CONV", [shape, TensorSpec(w.shape, "float32", data=w),
                                               TensorSpec((batch, height, width, cin), "float32"),
                                               TensorSpec((cout,), "float32", data=b)],
                            [TensorSpec((batch, out_h, out_w, cout), "float32")],
                            {"padding": padding, "stride_h": stride[0], "stride_w": stride[1],
                             "fused_activation_function": activation})
    inputs = [rng.standard_normal((batch, height, width, cin)).astype(F32)]
    got = run_profile("litert-opt", model, inputs)
    for threads in (None, 2):
        expected = run_litert(model, inputs, threads)
        assert_same(expected, got, f"TRANSPOSE_CONV case {index} ({threads} threads)")
    assert differ(run_profile("litert-ref", model, inputs)[0], expected[0]) > 0


def test_a_transpose_conv_xnnpack_leaves_runs_litert_optimized_float_kernel():
    """XNNPACK takes a TRANSPOSE_CONV only with a constant output shape; one whose shape is an input (as in
    xmos-ai-tools/denoise_float32) stays with LiteRT's optimized kernel, so profile "xnnpack" follows litert-opt's
    float rule there (the reference kernel's order differs)."""
    from test_emulation_profiles import delegated_operators
    from test_emulation_profiles import run_runtime as run_emulated_runtime

    rng = np.random.default_rng(210)
    w = rng.standard_normal((5, 3, 3, 17)).astype(F32)
    b = rng.standard_normal(5).astype(F32)
    model = single_op_model("TRANSPOSE_CONV", [TensorSpec((4,), "int32"), TensorSpec(w.shape, "float32", data=w),
                                               TensorSpec((1, 6, 7, 17), "float32"),
                                               TensorSpec((5,), "float32", data=b)],
                            [TensorSpec((1, 12, 14, 5), "float32")],
                            {"padding": "SAME", "stride_h": 2, "stride_w": 2})
    inputs = [np.array([1, 12, 14, 5], np.int32), rng.standard_normal((1, 6, 7, 17)).astype(F32)]
    assert delegated_operators(model) == [False]
    expected = run_emulated_runtime("xnnpack", model, inputs)
    assert_same(expected, run_profile("xnnpack", model, inputs), "TRANSPOSE_CONV left to LiteRT")
    assert differ(run_profile("litert-ref", model, inputs)[0], expected[0]) > 0


# ------------------------------------------------------------------------------------------------
# LOGISTIC, TANH, SOFTMAX, LOG_SOFTMAX, RESIZE_BILINEAR float32


def _edge_values() -> np.ndarray:
    """+-0, +-inf, quiet and signalling NaNs with payloads of both signs, subnormals, huge values, the clamps."""
    bits = [0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000, 0x7FC12345, 0xFFC54321,
            0x7F812345, 0xFF800001, 0x00000001, 0x80000001, 0x007FFFFF, 0x807FFFFF, 0x00800000, 0x7F7FFFFF,
            0xFF7FFFFF, 0x41851592, 0x41851593, 0xC2D00000, 0xC2CFFFFF, 0x40FD0956, 0xC0FD0957, 0x42B1722D,
            0xC2AE0000, 0xC2B00000, 0x39000000, 0xB9000000]
    return np.array(bits, np.uint32).view(F32)


def _unary(op: str, x: np.ndarray) -> tuple[bytes, list[np.ndarray]]:
    return single_op_model(op, [TensorSpec(x.shape, "float32")], [TensorSpec(x.shape, "float32")], {}), [x]


@pytest.mark.parametrize("op", ["LOGISTIC", "TANH"])
def test_logistic_tanh_float_bit_pattern_sweep(op):
    """Every 65537th float32 bit pattern, the edge values and a dense range: Eigen's packets (and, for LOGISTIC,
    glibc's expf in the scalar tail: 3 elements) bit for bit, NaN payloads included."""
    rng = np.random.default_rng(15)
    sweep = np.arange(0, 2 ** 32, 65537, dtype=np.uint64).astype(np.uint32).view(F32)
    dense = rng.uniform(-20, 20, 30001).astype(F32)
    x = np.concatenate([_edge_values(), sweep, dense])
    x = x[:x.size // 4 * 4 + 3]
    model, inputs = _unary(op, x)
    expected = run_litert(model, inputs)
    assert_same(expected, run_profile("litert-opt", model, inputs), f"{op} sweep")
    assert_same(expected, run_profile("litert-opt", model, inputs, "spec"), f"{op} sweep (spec)")
    assert differ(run_profile("litert-ref", model, inputs)[0], expected[0]) > 0


@pytest.mark.parametrize("size", [1, 2, 3, 5, 6, 7, 9])
def test_logistic_float_scalar_tail(size):
    """The last ``size % 4`` elements go through the scalar operator (expf(min(x, 16.635532)) / (1 + e)): the
    edge values land both in the packets and in the tail."""
    values = _edge_values()
    for start in range(0, values.size, size):
        x = np.resize(np.roll(values, -start), size).astype(F32)
        for op in ("LOGISTIC", "TANH"):
            model, inputs = _unary(op, x)
            got = run_profile("litert-opt", model, inputs)
            assert_same(run_litert(model, inputs), got, f"{op} {x.view(np.uint32)}")


def _softmax_inputs(rng: np.random.Generator, shape: tuple[int, ...], scale: float, special: float) -> np.ndarray:
    x = (rng.standard_normal(shape) * scale).astype(F32)
    flat = x.reshape(-1)
    edge = _edge_values()
    chosen = rng.random(flat.size) < special
    flat[chosen] = edge[rng.integers(0, edge.size, int(chosen.sum()))]
    return x


#: (shape, scale, share of edge values): row lengths 1-3 (scalar), 4-7 (one packet), 8-15 (two), 9, 13, 17 (an odd
#: packet), rows whose start is not 16-byte aligned (L % 4 != 0), exp's pldexp path (scale 40: |x - max| > 87)
SOFTMAX_CASES = [((5, 1), 3.0, 0.0), ((4, 2), 3.0, 0.0), ((7, 3), 3.0, 0.0), ((3, 4), 3.0, 0.0), ((6, 5), 3.0, 0.0),
                 ((5, 7), 3.0, 0.0), ((4, 8), 3.0, 0.0), ((5, 9), 10.0, 0.0), ((3, 13), 10.0, 0.0),
                 ((2, 3, 17), 10.0, 0.0), ((3, 33), 40.0, 0.0), ((2, 1001), 5.0, 0.0), ((400, 8), 40.0, 0.0),
                 ((11, 5), 10.0, 0.15), ((11, 12), 10.0, 0.15), ((11, 19), 10.0, 0.1), ((9, 3), 10.0, 0.2)]


@pytest.mark.parametrize("index", range(len(SOFTMAX_CASES)))
def test_softmax_float_follows_eigen(index):
    shape, scale, special = SOFTMAX_CASES[index]
    rng = np.random.default_rng(1500 + index)
    x = _softmax_inputs(rng, shape, scale, special)
    for beta in (1.0, 0.7):
        model = single_op_model("SOFTMAX", [TensorSpec(shape, "float32")], [TensorSpec(shape, "float32")],
                                {"beta": beta})
        expected = run_litert(model, [x])
        for kernels in ("fast", "spec"):
            assert_same(expected, run_profile("litert-opt", model, [x], kernels), f"SOFTMAX {shape} beta {beta}")


@pytest.mark.parametrize("index", range(len(SOFTMAX_CASES)))
def test_log_softmax_float_follows_eigen(index):
    shape, scale, special = SOFTMAX_CASES[index]
    rng = np.random.default_rng(1600 + index)
    model, inputs = _unary("LOG_SOFTMAX", _softmax_inputs(rng, shape, scale, special))
    expected = run_litert(model, inputs)
    for kernels in ("fast", "spec"):
        assert_same(expected, run_profile("litert-opt", model, inputs, kernels), f"LOG_SOFTMAX {shape}")


def test_softmax_float_cases_tell_the_orders_apart():
    """The reference kernels (expf on every element, sums in order, a division) differ from the runtime's."""
    rng = np.random.default_rng(17)
    x = _softmax_inputs(rng, (64, 37), 5.0, 0.0)
    for op in ("SOFTMAX", "LOG_SOFTMAX"):
        model, inputs = _unary(op, x)
        assert differ(run_profile("litert-ref", model, inputs)[0], run_litert(model, inputs)[0]) > 0


#: (input shape, output size, align_corners, half_pixel_centers): the 2x path (ResizeBilinear2x2, channels in
#: blocks of 8, 4 and single ones), the generic path with each flag, channel counts with a scalar rest (37, 6)
RESIZE_CASES = [((1, 4, 5, 3), (8, 10), False, False), ((2, 3, 3, 13), (6, 6), False, False),
                ((1, 8, 8, 32), (16, 16), False, False), ((1, 1, 1, 5), (2, 2), False, False),
                ((1, 4, 5, 3), (7, 11), False, False), ((1, 4, 5, 9), (8, 10), False, True),
                ((1, 4, 5, 9), (8, 10), True, False), ((1, 5, 4, 37), (3, 9), False, True),
                ((1, 6, 6, 6), (13, 5), True, False), ((2, 3, 7, 4), (6, 14), False, True)]


@pytest.mark.parametrize("index", range(len(RESIZE_CASES)))
def test_resize_bilinear_float_follows_optimized_ops(index):
    shape, out, align_corners, half_pixel_centers = RESIZE_CASES[index]
    rng = np.random.default_rng(1700 + index)
    x = _softmax_inputs(rng, shape, 10.0, 0.08)
    size = np.array(out, np.int32)
    model = single_op_model("RESIZE_BILINEAR", [TensorSpec(shape, "float32"), TensorSpec((2,), "int32", data=size)],
                            [TensorSpec((shape[0], *out, shape[3]), "float32")],
                            {"align_corners": align_corners, "half_pixel_centers": half_pixel_centers})
    expected = run_litert(model, [x])
    for kernels in ("fast", "spec"):
        assert_same(expected, run_profile("litert-opt", model, [x], kernels), f"RESIZE_BILINEAR {RESIZE_CASES[index]}")
    if shape[1] > 1:
        assert differ(run_profile("litert-ref", model, [x])[0], expected[0]) > 0


#: (shape, axes, keep_dims): MEAN whose reduced axes form a trailing block (Eigen's row sums: dp_net's last-axis
#: MEAN, size-1 dimensions aside, merged neighbours), and the others (MeanGeneral: from the first element)
MEAN_CASES = [((1, 32, 128), [2], True), ((1, 32, 1, 128), [3], True), ((3, 7, 13), [-1], False),
              ((6, 4, 1), [1], True), ((6, 1, 37), [2], False), ((5, 4, 5), [-2, 2], False),
              ((6, 3, 4, 6), [2, 3, 1], False), ((6, 1001), [1], True), ((1, 43, 14, 1), [3, 0], True),
              ((1, 3, 6), [0], False), ((2, 3, 4, 5), [0], True), ((4, 6, 5), [0, 2], True),
              ((7, 4, 7, 1), [-2, 1, 0], False), ((9,), [0], False)]


@pytest.mark.parametrize("index", range(len(MEAN_CASES)))
def test_mean_float_follows_optimized_reduce(index):
    shape, axes, keep_dims = MEAN_CASES[index]
    rng = np.random.default_rng(1800 + index)
    x = _softmax_inputs(rng, shape, 10.0, 0.05)
    x.reshape(-1)[rng.random(x.size) < 0.1] = F32(-0.0)
    resolved = sorted({a % len(shape) for a in axes})
    out = tuple(1 if i in resolved else s for i, s in enumerate(shape)) if keep_dims else \
        tuple(s for i, s in enumerate(shape) if i not in resolved)
    axis = np.array(axes, np.int32)
    model = single_op_model("MEAN", [TensorSpec(shape, "float32"), TensorSpec(axis.shape, "int32", data=axis)],
                            [TensorSpec(out, "float32")], {"keep_dims": keep_dims})
    expected = run_litert(model, [x])
    for kernels in ("fast", "spec"):
        assert_same(expected, run_profile("litert-opt", model, [x], kernels), f"MEAN {MEAN_CASES[index]}")


def test_mean_float_cases_tell_the_orders_apart():
    """dp_net's MEAN shape: Eigen's row sums differ from the reference's sums in order."""
    x = np.random.default_rng(19).standard_normal((1, 32, 128)).astype(F32)
    axis = np.array([2], np.int32)
    model = single_op_model("MEAN", [TensorSpec(x.shape, "float32"), TensorSpec((1,), "int32", data=axis)],
                            [TensorSpec((1, 32, 1), "float32")], {"keep_dims": True})
    assert differ(run_profile("litert-ref", model, [x])[0], run_litert(model, [x])[0]) > 0

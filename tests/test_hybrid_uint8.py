"""Pinned cases for hybrid (dynamic-range) and legacy uint8 kernels: the rules the random cases reach rarely.

Expected values come from LiteRT BUILTIN_REF (ai-edge-litert 2.3.0) at run time; each case is built so that
the rule it pins changes the answer (the plain product where LiteRT's SSE dot product differs, an int16 row-sum
lane that wraps, a rounding the NEON quantizer makes differently from round()). The random cases of every
kind are in refinterp/tools/conformance/generators/uint8_hybrid.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from oracle import Rejected, run_litert_ref, run_refinterp

from refinterp.modelbuilder import TensorSpec, single_op_model
from refinterp.ops.hybrid import asymmetric_quantize, sse_dot, sse_row_sums, symmetric_quantize


def bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(np.uint32) if a.dtype == np.float32 else a


def assert_matches_litert(model: bytes, inputs: list[np.ndarray]) -> list[np.ndarray]:
    expected = run_litert_ref(model, inputs)
    for kernels in ("spec", "fast"):
        got = run_refinterp(model, inputs, kernels=kernels)
        for want, have in zip(expected, got, strict=True):
            assert have.dtype == want.dtype and have.shape == want.shape
            assert np.array_equal(bits(want), bits(have)), f"{kernels} kernels differ from LiteRT"
    return expected


def hybrid_fc(weights: np.ndarray, x: np.ndarray, asymmetric: bool, scales: float | list[float] = 0.01) -> bytes:
    units, depth = weights.shape
    return single_op_model("FULLY_CONNECTED", [
        TensorSpec(x.shape, "float32"),
        TensorSpec(weights.shape, "int8", scales, 0 if not isinstance(scales, list) else [0] * units,
                   data=weights),
        TensorSpec((units,), "float32", data=np.linspace(-1, 1, units).astype(np.float32))],
        [TensorSpec((x.shape[0], units), "float32")], {"asymmetric_quantize_inputs": asymmetric})


def test_sse_sign_trick_on_minus_128_weights() -> None:
    """A weight of -128 meeting a negative input in the first 16 columns adds -128|q|, not 128|q|."""
    weights = np.full((3, 20), 5, np.int8)
    weights[:, 3] = -128  # inside the first block of 16: the trick
    weights[:, 18] = -128  # in the tail: exact
    x = np.linspace(-1, 1, 20, dtype=np.float32)[None, :]
    q, _ = symmetric_quantize(x[0])
    assert q[3] < 0 and q[18] > 0
    exact = weights.astype(np.int64) @ q
    assert not np.array_equal(sse_dot(weights, q[None, :])[0], exact)
    assert_matches_litert(hybrid_fc(weights, x, asymmetric=False), [x])


def test_row_sum_lanes_wrap_in_int16() -> None:
    """4104 weights of -128: the eight int16 lanes of SseReductionSumVector wrap (row sum 0, not -525312)."""
    weights = np.full((2, 4104), -128, np.int8)
    assert sse_row_sums(weights)[0] != weights[0].astype(np.int64).sum()
    x = np.random.default_rng(1).standard_normal((2, 4104)).astype(np.float32) + 0.5
    assert_matches_litert(hybrid_fc(weights, x, asymmetric=True), [x])


@pytest.mark.parametrize("asymmetric", [False, True])
def test_per_channel_and_batches(asymmetric: bool) -> None:
    rng = np.random.default_rng(7)
    weights = rng.integers(-128, 128, (5, 37)).astype(np.int8)
    x = (rng.standard_normal((4, 37)) * 3).astype(np.float32)
    x[1] = 0.0  # a zero batch row (asymmetric: scale 1, zero point 0)
    assert_matches_litert(hybrid_fc(weights, x, asymmetric, [0.01, 0.02, 0.005, 0.03, 0.011]), [x])


def test_neon_rounding_of_the_quantizers() -> None:
    """RoundToNearest adds 0.5 in float32: a product just below k + 0.5 can round up (not so in the tail)."""
    # 0.49999997 * inv rounds up through trunc(v + 0.5f) in the blocks of 8 and down through round() after
    x = np.full(9, np.float32(0.49999997), np.float32)
    x[0] = np.float32(127.0)  # range 127: inv = 1
    q, scale = symmetric_quantize(x)
    assert scale == 1.0 and q[1] == 1 and q[8] == 0
    _, scale, zero_point = asymmetric_quantize(np.array([-1.0, 3.0] * 5, np.float32))
    assert scale == np.float32(np.float32(4.0) / np.float32(255.0)) and -128 <= zero_point <= 127
    weights = np.ones((2, 9), np.int8)
    assert_matches_litert(hybrid_fc(weights, x[None, :], asymmetric=False), [x[None, :]])


def test_hybrid_conv_gemm_exact_when_channels_divisible_by_4() -> None:
    """Cout % 4 == 0 goes through the int8 GEMM (exact products); otherwise the SSE sign trick."""
    rng = np.random.default_rng(3)
    for channels_out in (8, 7):
        weights = np.where(rng.random((channels_out, 3, 3, 4)) < 0.3, -128,
                           rng.integers(-127, 128, (channels_out, 3, 3, 4))).astype(np.int8)
        x = rng.standard_normal((1, 6, 6, 4)).astype(np.float32)
        model = single_op_model("CONV_2D", [
            TensorSpec(x.shape, "float32"), TensorSpec(weights.shape, "int8", 0.02, 0, data=weights),
            TensorSpec((channels_out,), "float32", data=np.zeros(channels_out, np.float32))],
            [TensorSpec((1, 6, 6, channels_out), "float32")], {"padding": "SAME"})
        assert_matches_litert(model, [x])


def test_hybrid_non_finite_input_is_refused() -> None:
    """LiteRT's quantization of an infinity or NaN is undefined: refinterp refuses it at invoke."""
    x = np.zeros((1, 8), np.float32)
    x[0, 2] = np.inf
    model = hybrid_fc(np.ones((2, 8), np.int8), x, asymmetric=True)
    for kernels in ("spec", "fast"):
        with pytest.raises(Rejected, match="infinity or a NaN"):
            run_refinterp(model, [x], kernels=kernels)


def test_arg_max_nan_is_refused() -> None:
    x = np.array([[np.nan, 1.0, 0.0, 2.0]], np.float32)
    model = single_op_model("ARG_MAX", [TensorSpec((1, 4), "float32"),
                                        TensorSpec((), "int32", data=np.array(1, np.int32))],
                            [TensorSpec((1,), "int32")], {"output_type": "INT32"})
    for kernels in ("spec", "fast"):
        with pytest.raises(Rejected, match="NaN"):
            run_refinterp(model, [x], kernels=kernels)


def test_uint8_fully_connected_int16_output_clamps_before_the_offset() -> None:
    """uint8 -> int16: clamp to [act_min - zp, act_max - zp], then add zp (the zero point is not checked)."""
    rng = np.random.default_rng(5)
    weights = rng.integers(0, 256, (4, 30)).astype(np.uint8)
    model = single_op_model("FULLY_CONNECTED", [
        TensorSpec((3, 30), "uint8", 0.05, 120), TensorSpec((4, 30), "uint8", 0.01, 130, data=weights),
        TensorSpec((4,), "int32", float(np.float32(0.05 * 0.01)), 0, data=np.array([0, 9000, -9000, 50], np.int32))],
        [TensorSpec((3, 4), "int16", 2e-5, 200)], {"fused_activation_function": "RELU"})
    x = rng.integers(0, 256, (3, 30)).astype(np.uint8)
    assert_matches_litert(model, [x])

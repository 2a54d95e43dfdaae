"""Profile "xnnpack", float32 ADD, SUB, MUL, DIV, MAXIMUM, MINIMUM, SQUARED_DIFFERENCE held bit for bit to LiteRT
with the XNNPACK delegate (refinterp/ops/emulation/xnnpack_float_binary.py): subnormal inputs and results (DAZ /
FTZ), infinities (no clamp to +-FLT_MAX without an activation), the fused activations' zero signs, and NaN payloads
on every broadcast pattern (which input is the instruction's first operand)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import cpu_flags

from refinterp.modelbuilder import TensorSpec, single_op_model

IN_CI = bool(os.environ.get("CI"))
if not IN_CI:
    pytest.importorskip("ai_edge_litert.interpreter")

from test_emulation_profiles import assert_same, delegated_operators, run_profile, run_runtime  # noqa: E402

F32 = np.float32
OPS = ("ADD", "SUB", "MUL", "DIV", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE")
WITH_ACTIVATION = ("ADD", "SUB", "MUL", "DIV")
#: broadcast patterns: same shape, the second or the first input broadcast innermost (the constant kernels), a
#: broadcast that is not innermost, both broadcast, 5-D, scalars
SHAPES = [((2, 3, 37), (2, 3, 37)), ((2, 3, 37), (1,)), ((1,), (2, 3, 37)), ((3, 1), (1, 4)), ((3, 4), (3, 1)),
          ((2, 3, 1), (2, 3, 5)), ((2, 1, 5), (2, 3, 5)), ((1, 40), (3, 1)), ((2, 1, 3, 1, 5), (2, 4, 1, 6, 1)),
          ((1,), (1,))]
SPECIALS = np.array([0.0, -0.0, np.inf, -np.inf, 1e-39, -1e-39, 1.1754942e-38, 3e38, -3e38, 1.0, -1.0, 6.0],
                    F32)
NAN_PAYLOADS = np.array([0x7FC00000, 0xFFC00000, 0x7FA00001, 0x7FC00123, 0xFFE00042], np.uint32).view(F32)


def values(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Magnitudes near 2^-64 (products below 2^-126, quotients huge), the specials and NaN payloads (which NaN
    comes out was measured on XNNPACK's AVX-512 kernels: another CPU runs other kernels, and gets none)."""
    v = (rng.standard_normal(shape) * 1e-19).astype(F32)
    pick = rng.random(shape)
    v = np.where(pick < 0.35, SPECIALS[rng.integers(0, SPECIALS.size, shape)], v)
    if "avx512f" not in cpu_flags():
        return v.astype(F32)
    return np.where(pick > 0.93, NAN_PAYLOADS[rng.integers(0, NAN_PAYLOADS.size, shape)], v).astype(F32)


@pytest.mark.parametrize("op", OPS)
def test_float_binary_matches_xnnpack_on_every_broadcast_pattern(op):
    rng = np.random.default_rng(sum(map(ord, op)))
    activations = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1") if op in WITH_ACTIVATION else ("NONE",)
    for a_shape, b_shape in SHAPES:
        for activation in activations:
            options = {"fused_activation_function": activation} if op in WITH_ACTIVATION else {}
            output = tuple(np.broadcast_shapes(a_shape, b_shape))
            model = single_op_model(op, [TensorSpec(a_shape, "float32"), TensorSpec(b_shape, "float32")],
                                    [TensorSpec(output, "float32")], options)
            assert delegated_operators(model) == [True], f"{op} {a_shape} {b_shape}: the delegate left it"
            for _ in range(3):
                inputs = [values(rng, a_shape), values(rng, b_shape)]
                expected = run_runtime("xnnpack", model, inputs)
                for kernels in ("fast", "spec"):
                    assert_same(expected, run_profile("xnnpack", model, inputs, kernels),
                                f"{op} {a_shape} x {b_shape} {activation} kernels={kernels}")


def test_an_infinite_sum_is_not_clamped_to_the_largest_float_without_an_activation():
    """The hand-derived case: XNNPACK gets the range (-inf, +inf) for NONE; the reference kernel clamps to
    [lowest, max], so LiteRT BUILTIN_REF gives 3.4028235e38 where the delegate gives inf."""
    model = single_op_model("ADD", [TensorSpec((4,), "float32"), TensorSpec((4,), "float32")],
                            [TensorSpec((4,), "float32")], {"fused_activation_function": "NONE"})
    a = np.array([np.inf, -np.inf, 3e38, 1e-39], F32)
    b = np.array([1.0, 1.0, 3e38, 0.0], F32)
    want = np.array([np.inf, -np.inf, np.inf, 0.0], F32)
    assert_same([want], run_profile("xnnpack", model, [a, b]), "xnnpack profile")
    assert_same([want], run_runtime("xnnpack", model, [a, b]), "LiteRT + XNNPACK")
    reference = run_profile("litert-ref", model, [a, b])[0]
    assert reference[0] == np.finfo(F32).max and reference[3] == F32(1e-39)

"""Profile "xnnpack", float32 EXP, LOG, SQRT, RSQRT, SIN, COS, ELU, LEAKY_RELU (refinterp/ops/emulation/
xnnpack_float_transcendental.py) bit for bit against LiteRT 2.3.0 + the XNNPACK delegate: every bit-pattern class
(random bits, a sweep, normals, the edges, NaN payloads) in one odd-sized tensor (the vector tail), and the
``vrsqrt14ps`` model against the CPU's own results over [1, 4) through SQRT and RSQRT."""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import CPU_SKIP_PREFIX, cpu_flags

from refinterp.modelbuilder import TensorSpec, single_op_model

IN_CI = bool(os.environ.get("CI"))
if not IN_CI:
    pytest.importorskip("ai_edge_litert.interpreter")

from test_emulation_profiles import delegated_operators, run_profile  # noqa: E402
from test_xnnpack_float_math import assert_unary_bits, unary_inputs  # noqa: E402

F32 = np.float32
EDGES = np.array([0.0, -0.0, 1e-40, -1e-40, 1.1754944e-38, -1.1754944e-38, np.inf, -np.inf, 1.0, 4.0, 2.0, 0.25,
                  -1.0, 3.4e38, 2.4061596e38, 2.4061598e38, 1e-30, 88.7, -88.7, 3.1415927, 1.5707964, 6.2831855,
                  -6.2831855, 1e7, -1e7, 1e20, -17.33, -16.0], F32)


def _require_avx512f() -> None:
    """XNNPACK picks these AVX-512F microkernels only where the CPU has AVX-512F (an AVX2 CPU runs others)."""
    if "avx512f" not in cpu_flags():
        pytest.skip(f"{CPU_SKIP_PREFIX} avx512f: XNNPACK runs other f32 unary kernels there (not emulated)")


@pytest.mark.parametrize("op", ["EXP", "LOG", "SQRT", "RSQRT", "SIN", "COS", "ELU"])
def test_float_transcendental_matches_litert_xnnpack_bit_for_bit(op):
    _require_avx512f()
    x = np.concatenate([unary_inputs(1515), EDGES])
    want = assert_unary_bits(op, x)
    # the case tells the rules apart: the reference kernel differs
    model = single_op_model(op, [TensorSpec(x.shape, "float32")], [TensorSpec(x.shape, "float32")], {})
    assert not np.array_equal(run_profile("litert-ref", model, [x])[0].view(np.uint32), want.view(np.uint32))


def test_float_transcendental_edges():
    """The special cases measured on the runtime (module docstring)."""
    _require_avx512f()
    x = np.array([0.0, -0.0, 1e-40, -2.0, np.inf, 2.5e38, 4.0], F32)
    log = assert_unary_bits("LOG", x)
    assert log.view(np.uint32)[3] == 0x7FC00001 and np.isneginf(log[:3]).all() and np.isposinf(log[4:6]).all()
    sqrt = assert_unary_bits("SQRT", x)
    assert sqrt.view(np.uint32)[3] == 0xFFC00000 and np.isposinf(sqrt[4]) and sqrt[6] == 2.0
    assert np.signbit(sqrt[1]) and not np.signbit(sqrt[0])
    rsqrt = assert_unary_bits("RSQRT", x)
    assert rsqrt.view(np.uint32)[0] == 0xFFC00000 and rsqrt[4] == 0 and rsqrt[6] == 0.5
    nan = np.array([0x7FC12345, 0xFF812345], np.uint32).view(F32)
    exp = assert_unary_bits("EXP", np.concatenate([np.array([88.8, -87.5, -88.0, 0.0, -0.0], F32), nan]))
    assert np.isposinf(exp[0]) and (exp[2:5] == [0.0, 1.0, 1.0]).all() and (exp[5:] == 0).all()


def test_rsqrt14_model_over_one_to_four():
    """Every 7th float in [1, 4) (about 2.4 million, each of the 64 lines and both exponent parities) through SQRT
    and RSQRT, which expose ``vrsqrt14ps`` through one Newton step."""
    _require_avx512f()
    x = (np.arange(0x3F800000, 0x40800000, 7, dtype=np.uint32)).view(F32)
    assert_unary_bits("RSQRT", x)
    assert_unary_bits("SQRT", x * F32(2.0 ** -40))


@pytest.mark.parametrize("alpha", [0.2, -1.5, 3e38, 1.0])
def test_float_leaky_relu_matches_litert_xnnpack_bit_for_bit(alpha):
    x = np.concatenate([unary_inputs(15), EDGES])
    assert_unary_bits("LEAKY_RELU", x, {"alpha": alpha})


@pytest.mark.parametrize("alpha,taken", [(0.0, False), (1e-40, False), (float("inf"), False), (float("nan"), False),
                                         (0.5, True), (-2.0, True)])
def test_float_leaky_relu_delegation(alpha, taken):
    """The delegate takes a normal alpha only (measured); the profile decides as it does."""
    from refinterp.interpreter import Interpreter
    from refinterp.ops.emulation.xnnpack import is_delegated

    model = single_op_model("LEAKY_RELU", [TensorSpec((7,), "float32")], [TensorSpec((7,), "float32")],
                            {"alpha": alpha})
    interpreter = Interpreter(model_content=model, profile="xnnpack")
    interpreter.allocate_tensors()
    assert delegated_operators(model) == [taken] == [is_delegated(interpreter._main.prepared[0].params)]

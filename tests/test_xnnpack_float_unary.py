"""Profile "xnnpack", float32 LOGISTIC and TANH: XNNPACK's vsigmoid / vtanh microkernels
(refinterp/ops/emulation/xnnpack_float.py: ``sigmoid_avx512``, ``tanh_rational_9_8``) held bit for bit to LiteRT
with the XNNPACK delegate on single-operator models: random bit patterns (every class of float32), a sweep of
every 2^12-th bit pattern, and the edge values (+-0, subnormals and the smallest normals, the saturation and
cut-off thresholds and their neighbours, large magnitudes, +-inf, NaNs with payloads).

The AVX-512 sigmoid is the kernel XNNPACK picks where the CPU has AVX-512F (``src/configs/
unary-elementwise-config.c``); an AVX2-only CPU runs ``avx2_rr1_p5_div`` (other last bits: docs/profiles.md),
so the sigmoid comparison needs AVX-512F. The tanh kernel is the same arithmetic on AVX-512F and FMA3.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from conftest import CPU_SKIP_PREFIX, cpu_flags

from refinterp import Interpreter
from refinterp.modelbuilder import TensorSpec, single_op_model
from refinterp.ops.emulation import xnnpack_float
from refinterp.ops.emulation.xnnpack import is_delegated

IN_CI = bool(os.environ.get("CI"))
if not IN_CI:
    pytest.importorskip("ai_edge_litert.interpreter")

from refinterp.runtimes import get_runtime  # noqa: E402

F32 = np.float32




def _around(value: float, steps: int = 3) -> list[np.float32]:
    """``value`` as float32 and its ``steps`` neighbours on each side, both signs."""
    out = []
    for sign in (1.0, -1.0):
        center = F32(sign * value)
        lower = upper = center
        out.append(center)
        for _ in range(steps):
            lower, upper = np.nextafter(lower, F32(-np.inf)), np.nextafter(upper, F32(np.inf))
            out += [lower, upper]
    return out


def edge_values() -> np.ndarray:
    tiny = float(np.finfo(F32).tiny)
    values = [0.0, -0.0, np.inf, -np.inf, 1e-45, -1e-45, 1e-40, -1e-40, 1e-10, 1.0, 0.5, 2.0, 3.4028235e38,
              -3.4028235e38, 1e30, -1e30, 1e19, -1e19]
    values += _around(tiny) + _around(tiny / 2) + _around(float(np.nextafter(F32(tiny), F32(0))))
    # sigmoid: e underflows below -87.33654 (FTZ); scalef's exponent; |x| where p overflows (NaN) and where
    # z * log2(e) overflows (2.36e38: 0 / 1 again); the table index wrap
    values += _around(87.33654) + _around(88.72284) + _around(103.97208) + _around(126 * np.log(2))
    values += _around(2.3592e38, 8) + _around(1.5e19, 2) + _around(float(np.log(2) / 64))
    # tanh: the clamp 7.9807181358 and 9 (1.0)
    values += _around(7.9807181358, 8) + _around(9.0)
    values = np.array(values, F32)
    nans = np.array([0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001, 0x7FBFFFFF, 0x7FC12345, 0xFF8ABCDE],
                    np.uint32).view(F32)
    return np.concatenate([values, nans])


def inputs(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    random_bits = rng.integers(0, 1 << 32, 1 << 16, dtype=np.uint64).astype(np.uint32).view(F32)
    sweep = (np.arange(0, 1 << 32, 1 << 12, dtype=np.uint64)).astype(np.uint32).view(F32)
    return np.concatenate([edge_values(), random_bits, (rng.standard_normal(1 << 15) * 8).astype(F32),
                           rng.uniform(-100, 100, 1 << 15).astype(F32), sweep])


def _run_both(op: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    model = single_op_model(op, [TensorSpec(x.shape, "float32")], [TensorSpec(x.shape, "float32")], {})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(model)
        runtime = get_runtime("xnnpack")
        assert runtime.delegated_operators(str(path)) == [True]
        expected = runtime.run(str(path), [x]).outputs[0]
    interpreter = Interpreter(model_content=model, profile="xnnpack")
    interpreter.allocate_tensors()
    delegated = is_delegated(interpreter._main.prepared[0].params)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return expected, interpreter.get_tensor(interpreter.get_output_details()[0]["index"]), delegated


@pytest.mark.parametrize("op", ["LOGISTIC", "TANH"])
def test_float_logistic_and_tanh_match_litert_xnnpack_bit_for_bit(op):
    if op == "LOGISTIC" and "avx512f" not in cpu_flags():
        pytest.skip(f"{CPU_SKIP_PREFIX} avx512f: XNNPACK runs its AVX2 sigmoid here; the profile emulates the "
                    "AVX-512 one")
    x = inputs(15)
    expected, got, delegated = _run_both(op, x)
    assert delegated
    differ = np.nonzero(expected.view(np.uint32) != got.view(np.uint32))[0]
    assert differ.size == 0, f"{op}: {differ.size}/{x.size} differ, e.g. x={x[differ[:5]]!r} " \
        f"want {expected[differ[:5]].view(np.uint32)} got {got[differ[:5]].view(np.uint32)}"


def test_the_edge_values_the_runtime_showed():
    """Hand-checked values (measured on LiteRT + XNNPACK): denormals flushed, infinities saturate, the sigmoid's
    NaN band for large finite |x|, NaN payloads."""
    sigmoid, tanh = xnnpack_float.sigmoid_avx512, xnnpack_float.tanh_rational_9_8
    x = np.array([0.0, -0.0, np.inf, -np.inf, -88.0, -87.33, 3.4e38, -3.4e38, 5e34], F32)
    s = sigmoid(x)
    assert s[:4].tolist() == [0.5, 0.5, 1.0, 0.0]
    assert s[4].view(np.uint32) == 0  # 6.05e-39 flushed to +0
    assert s[5] == F32(1.1832107e-38)
    assert s[6] == 1.0 and s[7].view(np.uint32) == 0
    assert s[8].view(np.uint32) == 0xFFC00000  # inf / inf inside: x86's default NaN
    assert sigmoid(np.array([0x7F8CFC76], np.uint32).view(F32)).view(np.uint32)[0] == 0xFFCCFC76
    t = tanh(np.array([0.0, -0.0, 1e-38, -1e-38, 1e-10, 9.0, -np.inf], F32))
    assert t.view(np.uint32).tolist()[:4] == [0, 0x80000000, 0, 0x80000000]
    assert t[4] == F32(1e-10) and t[5] == 1.0 and t[6] == -1.0
    assert tanh(np.array([0x7F8CFC76], np.uint32).view(F32)).view(np.uint32)[0] == 0x7FCCFC76


@pytest.mark.parametrize("kind", ["int8", "uint8", "int16"])
def test_quantized_logistic_and_tanh_keep_the_reference_rule(kind):
    """Only float32 is emulated: the quantized kinds run the reference kernels under "xnnpack" as before."""
    from refinterp.tools.conformance.generators import make_case

    for op in ("LOGISTIC", "TANH"):
        case = make_case(op, kind, 0)
        interpreter = Interpreter(model_content=case.model, profile="xnnpack")
        interpreter.allocate_tensors()
        assert not isinstance(interpreter._main.prepared[0].params, xnnpack_float.FloatUnary)

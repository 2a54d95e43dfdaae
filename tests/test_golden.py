"""The committed YOLOv3-tiny int8 model: every tensor bit-exact against LiteRT BUILTIN_REF.

The stored tensors in golden/yolov3_tiny_int8/ were produced by LiteRT BUILTIN_REF and confirmed equal by
TFLM (see its manifest.json); the first tests need no runtime. The live tests run the official runtimes on the
stored inputs (the stored tensors are what they compute today) and on fresh seeded inputs nobody stored.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import GOLDEN_DIR

import refinterp
from refinterp.runtimes import get_runtime

MODEL = GOLDEN_DIR / "yolov3_tiny_int8.tflite"
GOLDEN = GOLDEN_DIR / "yolov3_tiny_int8"
MANIFEST = json.loads((GOLDEN / "manifest.json").read_text())
CASES = [case["name"] for case in MANIFEST["cases"]]

def run_refinterp(x: np.ndarray, kernels: str = "fast") -> refinterp.Interpreter:
    interpreter = refinterp.Interpreter(model_path=str(MODEL), kernels=kernels)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return interpreter


def assert_all_equal(actual: refinterp.Interpreter | dict[int, np.ndarray], expected: dict[int, np.ndarray]) -> None:
    """Every expected tensor equal, exactly; ``actual`` is an interpreter after invoke or {index: value}."""
    mismatches = []
    for index, value in expected.items():
        got = actual[index] if isinstance(actual, dict) else actual.get_tensor(index)
        if got.shape != value.shape or got.dtype != value.dtype or not np.array_equal(got, value):
            mismatches.append(f"tensor {index}: {int(np.sum(got != value)) if got.shape == value.shape else 'shape'}")
    assert not mismatches, "; ".join(mismatches)


@pytest.mark.parametrize("kernels", ["fast", "spec"])
@pytest.mark.parametrize("case", CASES)
def test_every_tensor_equals_stored_builtin_ref(case, kernels):
    x = np.load(GOLDEN / "inputs" / f"{case}.npy")
    stored = np.load(GOLDEN / "tensors" / f"{case}.npz")
    expected = {int(key[1:]): stored[key] for key in stored.files}
    assert len(expected) == 35  # the input and all 34 operator outputs
    assert_all_equal(run_refinterp(x, kernels), expected)


def _litert_ref_tensors(x: np.ndarray) -> dict[int, np.ndarray]:
    litert = pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert is not installed")
    interpreter = litert.Interpreter(
        model_path=str(MODEL),
        experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF,
        experimental_preserve_all_tensors=True,
    )
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    model = refinterp.load_model(MODEL)
    return {t.index: interpreter.get_tensor(t.index) for t in model.main.tensors if not t.is_constant}


@pytest.mark.parametrize("case", CASES)
def test_stored_tensors_are_litert_builtin_ref_run_now(case):
    """The committed golden tensors are what the oracle computes today, not a record of what it once did."""
    x = np.load(GOLDEN / "inputs" / f"{case}.npy")
    stored = np.load(GOLDEN / "tensors" / f"{case}.npz")
    assert_all_equal({int(key[1:]): stored[key] for key in stored.files}, _litert_ref_tensors(x))


@pytest.mark.parametrize("case", CASES)
def test_stored_tensors_are_tflm_run_now(case):
    pytest.importorskip("tflite_micro", reason="tflite-micro is not installed")
    x = np.load(GOLDEN / "inputs" / f"{case}.npy")
    stored = np.load(GOLDEN / "tensors" / f"{case}.npz")
    tflm = get_runtime("tflm").run(str(MODEL), [x]).tensors
    assert_all_equal({int(key[1:]): stored[key] for key in stored.files},
                     {i: tflm[i] for i in (int(key[1:]) for key in stored.files)})


def test_live_every_tensor_equals_litert_builtin_ref_on_a_new_input():
    x = np.random.default_rng(20261124).integers(-128, 128, (1, 416, 416, 3), dtype=np.int8)
    assert_all_equal(run_refinterp(x), _litert_ref_tensors(x))


def test_live_every_tensor_equals_tflm_on_a_new_input():
    pytest.importorskip("tflite_micro", reason="tflite-micro is not installed")
    x = np.random.default_rng(7).integers(-128, 128, (1, 416, 416, 3), dtype=np.int8)
    tflm = get_runtime("tflm").run(str(MODEL), [x])
    model = refinterp.load_model(MODEL)
    expected = {i: v for i, v in tflm.tensors.items() if not model.main.tensors[i].is_constant}
    assert len(expected) == 35
    assert_all_equal(run_refinterp(x), expected)

"""The fast kernels' prepared call paths agree with the spec kernels bit for bit: the per-call paths chosen at
prepare (no broadcasting, broadcasting, a precomputed 65536-pair table for 8-bit ADD / SUB / MUL from
``PAIR_TABLE_MIN`` elements on, its parallel lookup past one chunk), and the 8-bit lookup tables of the
activations, on small, large and 0-d tensors. The spec kernels are held to LiteRT by
tests/test_op_cases.py; here the fast path is held to the spec on the shapes where each path starts."""

from __future__ import annotations

import numpy as np
import pytest

import refinterp
from refinterp.modelbuilder import TensorSpec, single_op_model
from refinterp.ops.fast.elementwise import ADD_SUB_CHUNK, PAIR_TABLE_MIN


def _run(model: bytes, inputs: list[np.ndarray], kernels: str) -> np.ndarray:
    interpreter = refinterp.Interpreter(model_content=model, kernels=kernels, num_threads=1)
    interpreter.allocate_tensors()
    for detail, value in zip(interpreter.get_input_details(), inputs):
        interpreter.set_tensor(detail["index"], value)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


SHAPES = [
    ((1, 472), (472,)),  # equal sizes, different ranks: no broadcasting in flat order
    ((PAIR_TABLE_MIN - 1,), (PAIR_TABLE_MIN - 1,)),  # the largest direct call
    ((PAIR_TABLE_MIN,), (PAIR_TABLE_MIN,)),  # the smallest table lookup
    ((2, 1, 64), (1, 3, 1)),  # broadcasting, direct
    ((4, 1, 2048), (1, 3, 1)),  # broadcasting, table
    ((ADD_SUB_CHUNK + 5,), (1,)),  # a one-element operand, parallel lookup past one chunk
    ((), (3, 5)),  # a scalar
]


@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL"])
@pytest.mark.parametrize("dtype", ["int8", "uint8"])
@pytest.mark.parametrize("shapes", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_binary_8bit_fast_paths_equal_the_spec(op: str, dtype: str, shapes) -> None:
    rng = np.random.default_rng(abs(hash((op, dtype, shapes))) % (1 << 32))
    info = np.iinfo(dtype)
    shape1, shape2 = shapes
    out_shape = np.broadcast_shapes(shape1, shape2)
    zero = lambda: int(rng.integers(info.min, info.max + 1))  # noqa: E731
    specs = [TensorSpec(shape1, dtype, float(rng.uniform(0.01, 0.1)), zero()),
             TensorSpec(shape2, dtype, float(rng.uniform(0.01, 0.1)), zero())]
    output_scale = float(rng.uniform(0.05, 0.2)) if op != "MUL" else float(rng.uniform(0.002, 0.02))
    model = single_op_model(op, specs, [TensorSpec(out_shape, dtype, output_scale, zero())],
                            {"fused_activation_function": "RELU6" if op == "SUB" else "NONE"})
    values = [rng.integers(info.min, info.max + 1, size=s).astype(dtype) for s in (shape1, shape2)]
    fast, spec = _run(model, values, "fast"), _run(model, values, "spec")
    assert fast.dtype == spec.dtype and fast.shape == spec.shape == out_shape
    np.testing.assert_array_equal(fast, spec)


@pytest.mark.parametrize("op", ["ADD", "MUL"])
def test_binary_int16_fast_path_equals_the_spec(op: str) -> None:
    rng = np.random.default_rng(7)
    specs = [TensorSpec((3, 200), "int16", 0.001, 0), TensorSpec((200,), "int16", 0.002, 0)]
    model = single_op_model(op, specs, [TensorSpec((3, 200), "int16", 0.003 if op == "ADD" else 0.0001, 0)])
    values = [rng.integers(-32768, 32768, size=s.shape).astype(np.int16) for s in specs]
    np.testing.assert_array_equal(_run(model, values, "fast"), _run(model, values, "spec"))


UNARY_8BIT_CASES = [(op, shape) for op in ("LOGISTIC", "TANH", "RELU", "RELU6", "QUANTIZE", "DEQUANTIZE", "SOFTMAX")
                    for shape in ((1, 118), (3, 70000), ()) if not (op == "SOFTMAX" and shape == ())]  # rank >= 1


@pytest.mark.parametrize("dtype", ["int8", "uint8"])
@pytest.mark.parametrize(("op", "shape"), UNARY_8BIT_CASES, ids=lambda v: str(v))
def test_8bit_unary_fast_paths_equal_the_spec(op: str, dtype: str, shape) -> None:
    if op == "SOFTMAX" and shape == (3, 70000):
        shape = (2100, 100)  # rows of 70000 values can sum past what the int8 kernel holds (refused)
    info = np.iinfo(dtype)
    rng = np.random.default_rng(3)
    x = TensorSpec(shape, dtype, 0.05, int(rng.integers(info.min // 2, info.max // 2)))
    if op == "DEQUANTIZE":
        y = TensorSpec(shape, "float32")
    elif op in ("LOGISTIC", "SOFTMAX"):
        y = TensorSpec(shape, dtype, 1 / 256, -128 if dtype == "int8" else 0)
    elif op == "TANH":
        y = TensorSpec(shape, dtype, 1 / 128, 0 if dtype == "int8" else 128)
    else:
        y = TensorSpec(shape, dtype, 0.07, int(rng.integers(info.min // 2, info.max // 2)))
    options = {"beta": 1.0} if op == "SOFTMAX" else None
    model = single_op_model(op, [x], [y], options)
    value = rng.integers(info.min, info.max + 1, size=shape).astype(dtype)
    fast, spec = _run(model, [value], "fast"), _run(model, [value], "spec")
    assert fast.dtype == spec.dtype and fast.shape == spec.shape
    np.testing.assert_array_equal(fast, spec)


@pytest.mark.parametrize("shape", [(1, 118), (2, 70000), ()], ids=str)
def test_quantize_from_float_fast_path_equals_the_spec(shape) -> None:
    rng = np.random.default_rng(5)
    model = single_op_model("QUANTIZE", [TensorSpec(shape, "float32")], [TensorSpec(shape, "int8", 0.03, -5)])
    value = (rng.standard_normal(shape) * 3).astype(np.float32)
    np.testing.assert_array_equal(_run(model, [value], "fast"), _run(model, [value], "spec"))

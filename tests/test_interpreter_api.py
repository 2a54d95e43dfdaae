"""refinterp.Interpreter is a drop-in for LiteRT's Python Interpreter: same calls, same details dicts."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import GOLDEN_DIR

import refinterp
from refinterp import InputError
from refinterp.modelbuilder import TensorSpec, single_op_model

MODEL = GOLDEN_DIR / "yolov3_tiny_int8.tflite"


def litert_interpreter(**kwargs):
    litert = pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert is not installed")
    return litert.Interpreter(experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF, **kwargs)


def assert_same_details(ours: dict, theirs: dict) -> None:
    for key in ("name", "index", "dtype", "quantization"):
        assert ours[key] == theirs[key], key
    for key in ("shape", "shape_signature"):
        assert np.array_equal(ours[key], theirs[key]), key
    for key in ("scales", "zero_points"):
        assert np.array_equal(ours["quantization_parameters"][key], theirs["quantization_parameters"][key]), key
    assert (
        ours["quantization_parameters"]["quantized_dimension"]
        == theirs["quantization_parameters"]["quantized_dimension"]
    )


def test_details_match_litert_on_the_golden_model():
    theirs = litert_interpreter(model_path=str(MODEL))
    ours = refinterp.Interpreter(model_path=str(MODEL))
    theirs.allocate_tensors()
    ours.allocate_tensors()
    for a, b in zip(ours.get_input_details(), theirs.get_input_details()):
        assert_same_details(a, b)
    for a, b in zip(ours.get_output_details(), theirs.get_output_details()):
        assert_same_details(a, b)
    ours_by_index = {d["index"]: d for d in ours.get_tensor_details()}
    for detail in theirs.get_tensor_details():
        assert_same_details(ours_by_index[detail["index"]], detail)
    assert ours.get_signature_list() == theirs.get_signature_list()


def test_signature_runner_matches_invoke():
    interpreter = refinterp.Interpreter(model_path=str(MODEL))
    runner = interpreter.get_signature_runner()
    (input_name,) = runner.get_input_details()
    x = np.load(GOLDEN_DIR / "yolov3_tiny_int8" / "inputs" / "smooth.npy")
    outputs = runner(**{input_name: x})
    stored = np.load(GOLDEN_DIR / "yolov3_tiny_int8" / "tensors" / "smooth.npz")
    for name, detail in runner.get_output_details().items():
        assert np.array_equal(outputs[name], stored[f"t{detail['index']}"])
    with pytest.raises(InputError, match="missing"):
        runner()
    with pytest.raises(InputError, match="no signature"):
        interpreter.get_signature_runner("nope")


def test_get_tensor_returns_copies_and_intermediates():
    model = single_op_model(
        "LEAKY_RELU",
        [TensorSpec((1, 3), "int8", scale=0.1, zero_point=0)],
        [TensorSpec((1, 3), "int8", scale=0.1, zero_point=0)],
        {"alpha": 0.5},
    )
    interpreter = refinterp.Interpreter(model_content=model)
    interpreter.allocate_tensors()
    interpreter.set_tensor(0, np.array([[-4, 0, 4]], np.int8))
    with pytest.raises(InputError, match="no value yet"):
        interpreter.get_tensor(1)
    interpreter.invoke()
    y = interpreter.get_tensor(1)
    # LEAKY_RELU with equal scales and alpha 0.5: -4 -> -2 exactly, positives unchanged (hand arithmetic)
    assert y.tolist() == [[-2, 0, 4]]
    y[0, 0] = 100
    assert interpreter.get_tensor(1)[0, 0] == -2


def test_litert_keyword_arguments_are_accepted_and_typos_are_not():
    refinterp.Interpreter(
        model_path=str(MODEL), experimental_preserve_all_tensors=True, experimental_op_resolver_type=None, num_threads=1
    )
    with pytest.raises(TypeError, match="unexpected"):
        refinterp.Interpreter(model_path=str(MODEL), experimental_preserve_al_tensors=True)
    with pytest.raises(InputError, match="profile"):
        refinterp.Interpreter(model_path=str(MODEL), profile="xnnpack")
    with pytest.raises(InputError, match="exactly one"):
        refinterp.Interpreter()


def test_constant_data_are_read_only_views_not_copies():
    model = refinterp.load_model(MODEL)
    weights = [t for t in model.main.tensors if t.is_constant and t.type_name == "int8"]
    assert weights
    content = model._buffer
    for tensor in weights:
        assert not tensor.data.flags.writeable
        assert np.shares_memory(tensor.data, np.frombuffer(content, dtype=np.uint8))


def test_resize_tensor_input_to_the_declared_shape_only():
    interpreter = refinterp.Interpreter(model_path=str(MODEL))
    interpreter.resize_tensor_input(0, [1, 416, 416, 3])
    with pytest.raises(refinterp.UnsupportedOpError, match="declared shapes only"):
        interpreter.resize_tensor_input(0, [2, 416, 416, 3])
    with pytest.raises(InputError, match="not an input"):
        interpreter.resize_tensor_input(5, [1])

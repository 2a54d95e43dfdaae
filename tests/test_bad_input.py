"""Bad input: a refinterp exception with a one-line reason; from the CLI one line on stderr and exit 2."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import rawmodel
from conftest import ROOT, shared_model

import refinterp
from refinterp import InputError, ModelFormatError, PrepareError, RefinterpError, UnsupportedOpError
from refinterp.cli import main
from refinterp.modelbuilder import TensorSpec, single_op_model

VALID = rawmodel.write(rawmodel.reshape_model())


def parse_error(content: bytes) -> str:
    with pytest.raises(ModelFormatError) as info:
        refinterp.Interpreter(model_content=content).allocate_tensors()
    message = str(info.value)
    assert "\n" not in message and message
    return message


def test_valid_raw_model_parses():
    """The raw RESHAPE has neither a ReshapeOptions table nor a shape input: LiteRT's ParseReshape then leaves
    ``num_dimensions`` 0 (a scalar) and its Prepare refuses 6 elements into 1 (measured with ai-edge-litert
    2.3.0); refinterp reads the same empty ``new_shape`` and refuses the same way, at allocation."""
    model = refinterp.parse_model(VALID)
    assert model.main.operators[0].options["new_shape"] == ()
    with pytest.raises(PrepareError, match="RESHAPE"):
        refinterp.Interpreter(model_content=VALID).allocate_tensors()


def test_empty_file():
    assert "empty" in parse_error(b"")


def test_random_bytes():
    rng = np.random.default_rng(0)
    for size in (3, 8, 100, 4096):
        parse_error(rng.integers(0, 256, size, dtype=np.uint8).tobytes())


def test_wrong_identifier():
    assert "TFL3" in parse_error(VALID[:4] + b"ABCD" + VALID[8:])


def test_wrong_version():
    assert "version 2" in parse_error(rawmodel.write(rawmodel.reshape_model(version=2)))


def _summary(model: refinterp.Model) -> tuple:
    sg = model.main
    return (tuple((t.name, t.type_name, t.shape, t.buffer, repr(t.quantization)) for t in sg.tensors),
            tuple((op.name, op.inputs, op.outputs, tuple(op.options.items())) for op in sg.operators),
            sg.inputs, sg.outputs)


def test_every_truncation_fails_cleanly_or_loses_nothing():
    """Cut the model at every length: ModelFormatError, or (when only unread tail bytes went) the same model.

    The tail of a flatbuffer can hold bytes no reader touches (the sentinel buffer's vtable, padding);
    losing them changes nothing, so the only wrong outcome would be a parse that differs from the whole file.
    """
    whole = _summary(refinterp.parse_model(VALID))
    failures = 0
    for length in range(len(VALID)):
        try:
            parsed = refinterp.parse_model(VALID[:length])
        except ModelFormatError as exc:
            assert "\n" not in str(exc)
            failures += 1
            continue
        assert _summary(parsed) == whole, f"truncated to {length} bytes parses to a different model"
    assert failures >= len(VALID) - 16


def test_random_corruption_never_escapes_as_another_exception():
    """Flip bytes of a valid model: either it still parses, or a one-line RefinterpError; nothing else."""
    rng = np.random.default_rng(1)
    for _ in range(400):
        corrupt = bytearray(VALID)
        for position in rng.integers(8, len(corrupt), size=rng.integers(1, 4)):
            corrupt[position] = int(rng.integers(0, 256))
        try:
            interpreter = refinterp.Interpreter(model_content=bytes(corrupt))
            interpreter.allocate_tensors()
        except RefinterpError as exc:
            assert "\n" not in str(exc)


def test_buffer_shorter_than_shape():
    model = rawmodel.reshape_model(buffers=[b"", b"\x01\x02\x03"])
    model.tensors[0].buffer = 1  # 2x3 int8 needs 6 bytes
    message = parse_error(rawmodel.write(model))
    assert "tensor 0" in message and "3 bytes" in message and "needs 6" in message


def test_out_of_range_tensor_index():
    message = parse_error(rawmodel.write(rawmodel.reshape_model(op_inputs=[7])))
    assert "operator 0" in message and "tensor index 7" in message


def test_out_of_range_subgraph_input():
    assert "tensor index 5" in parse_error(rawmodel.write(rawmodel.reshape_model(inputs=[5])))


def test_out_of_range_buffer_index():
    model = rawmodel.reshape_model()
    model.tensors[0].buffer = 9
    assert "buffer index 9" in parse_error(rawmodel.write(model))


def test_out_of_range_opcode_index():
    assert "opcode_index 3" in parse_error(rawmodel.write(rawmodel.reshape_model(opcode_index=3)))


def test_absurd_declared_shape_is_refused_without_allocating():
    model = rawmodel.reshape_model()
    model.tensors[1].shape = [100000, 100000, 100000]
    assert "declares" in parse_error(rawmodel.write(model))


def test_negative_dimension():
    model = rawmodel.reshape_model()
    model.tensors[1].shape = [3, -2]
    assert "negative" in parse_error(rawmodel.write(model))


def test_scale_and_zero_point_counts_differ():
    model = rawmodel.reshape_model()
    model.tensors[0].scale, model.tensors[0].zero_point = [0.5, 0.25], [0]
    assert "zero points" in parse_error(rawmodel.write(model))


def test_unsupported_op_names_op_and_index():
    model = rawmodel.write(rawmodel.reshape_model(opcode=10))  # HASHTABLE_LOOKUP: never implemented
    interpreter = refinterp.Interpreter(model_content=model)
    with pytest.raises(UnsupportedOpError, match=r"operator 0: HASHTABLE_LOOKUP"):
        interpreter.allocate_tensors()


def test_unsupported_op_in_a_real_model():
    # int16 CONV_2D with int32 biases and no quantized_bias_type option: refused, naming the operator
    path = shared_model("xmos-ai-tools/denoise_16x8.tflite")
    with pytest.raises(UnsupportedOpError, match=r"operator 4 \(CONV_2D\): int16 convolution with an int32 bias"):
        refinterp.Interpreter(model_path=str(path)).allocate_tensors()


def _leaky_model() -> bytes:
    return single_op_model("LEAKY_RELU", [TensorSpec((1, 4), "int8", scale=0.1, zero_point=0)],
                           [TensorSpec((1, 4), "int8", scale=0.1, zero_point=0)], {"alpha": 0.1})


def test_wrong_input_dtype_and_shape():
    interpreter = refinterp.Interpreter(model_content=_leaky_model())
    interpreter.allocate_tensors()
    index = interpreter.get_input_details()[0]["index"]
    with pytest.raises(InputError, match="expects int8, got float32"):
        interpreter.set_tensor(index, np.zeros((1, 4), np.float32))
    with pytest.raises(InputError, match=r"expects shape \[1, 4\], got \[1, 5\]"):
        interpreter.set_tensor(index, np.zeros((1, 5), np.int8))
    with pytest.raises(InputError, match="out of range"):
        interpreter.get_tensor(99)
    with pytest.raises(InputError, match="was not set"):
        interpreter.invoke()


def test_missing_file():
    with pytest.raises(ModelFormatError, match="no such file"):
        refinterp.Interpreter(model_path="/nonexistent/model.tflite")


# ------------------------------------------------------------------------------------------ CLI


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "refinterp", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("refinterp: error:"), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize("content, fragment", [
    (b"", "empty"),
    (b"\x00" * 64, "TFL3"),
    (VALID[: len(VALID) // 2], "past the end"),
], ids=["empty", "zeros", "truncated"])
def test_cli_bad_files(tmp_path, content, fragment):
    path = tmp_path / "bad.tflite"
    path.write_bytes(content)
    for command in ("run", "inspect"):
        assert_one_line_error(run_cli(command, str(path)), fragment)


def test_cli_missing_file_and_unsupported_op(tmp_path):
    assert_one_line_error(run_cli("run", str(tmp_path / "missing.tflite")), "no such file")
    path = tmp_path / "hashtable.tflite"
    path.write_bytes(rawmodel.write(rawmodel.reshape_model(opcode=10)))
    assert_one_line_error(run_cli("run", str(path)), "operator 0: HASHTABLE_LOOKUP")


def test_cli_wrong_input(tmp_path):
    model = tmp_path / "leaky.tflite"
    model.write_bytes(_leaky_model())
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((2, 2), np.int8))
    assert_one_line_error(run_cli("run", str(model), "--input", str(wrong)), "expects shape")
    not_npy = tmp_path / "x.npy"
    not_npy.write_bytes(b"garbage")
    assert_one_line_error(run_cli("run", str(model), "--input", str(not_npy)), "not a readable .npy")
    assert_one_line_error(run_cli("run", str(model), "--input", str(wrong), "--input", str(wrong)), "1 inputs")


def test_cli_usage_errors_exit_2(capsys):
    assert main(["frobnicate"]) == 2
    assert main(["run"]) == 2
    assert "one of the arguments" in capsys.readouterr().err or True

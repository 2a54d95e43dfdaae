"""The committed golden/ files are self-consistent. No runtime needed: only numpy and refinterp.model.

Also covers the golden machinery that needs no runtime (refinterp.io, refinterp.tools.golden): the deterministic
.npz writer, load_golden's errors, and the `refinterp golden` argument handling.
"""

from __future__ import annotations

import json
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from refinterp.cli import main as cli_main
from refinterp.errors import RefinterpError
from refinterp.io import GOLDEN_FORMAT, load_golden, save_npz_deterministic, sha256_of_file
from refinterp.model import load_model

GOLDEN_ROOT = Path(__file__).resolve().parent.parent / "golden"
INT8_MODEL = GOLDEN_ROOT / "yolov3_tiny_int8.tflite"
FLOAT_MODEL = GOLDEN_ROOT / "yolov3_tiny_float.tflite"
GOLDEN_DIR = GOLDEN_ROOT / "yolov3_tiny_int8"

# The ML-zoo yolo_v3_tiny backbone, op for op (golden/README.md).
EXPECTED_OPS = {
    "CONV_2D": 13,
    "MAX_POOL_2D": 6,
    "LEAKY_RELU": 11,
    "CONCATENATION": 1,
    "RESIZE_NEAREST_NEIGHBOR": 1,
    "RESHAPE": 2,
}
INPUT_SHAPE = (1, 416, 416, 3)
OUTPUT_SHAPES = [(1, 13, 13, 3, 85), (1, 26, 26, 3, 85)]

pytestmark = pytest.mark.skipif(not (GOLDEN_DIR / "manifest.json").is_file(), reason="golden/ is not present")


@pytest.fixture(scope="module")
def golden():
    return load_golden(GOLDEN_DIR)


@pytest.fixture(scope="module")
def int8_model():
    return load_model(INT8_MODEL)


def test_manifest_fields(golden) -> None:
    manifest = golden.manifest
    assert manifest["format"] == GOLDEN_FORMAT
    assert manifest["model"] == "../yolov3_tiny_int8.tflite"
    assert manifest["runtime"] == "litert-ref"
    assert manifest["runtime_version"].startswith("ai-edge-litert ")
    assert "T" in manifest["created"]
    assert [c.name for c in golden.cases] == ["random", "smooth"]


def test_manifest_sha256_matches_the_model(golden) -> None:
    assert golden.model_path == INT8_MODEL.resolve()
    assert sha256_of_file(INT8_MODEL) == golden.model_sha256


def test_manifest_names_its_confirming_runtime(golden) -> None:
    # What the manifest records is only a record; tests/test_golden.py checks the stored tensors live against
    # LiteRT BUILTIN_REF and TFLM.
    (tflm,) = [c for c in golden.confirmed_by if c["runtime"] == "tflm"]
    assert tflm["version"].startswith("tflite-micro ")


def test_int8_model_ops_and_io(int8_model) -> None:
    subgraph = int8_model.subgraphs[0]
    assert Counter(op.name for op in subgraph.operators) == EXPECTED_OPS
    (input_index,) = subgraph.inputs
    assert subgraph.tensors[input_index].name == "serving_default_input:0"
    assert subgraph.tensors[input_index].shape == INPUT_SHAPE
    assert [subgraph.tensors[i].shape for i in subgraph.outputs] == OUTPUT_SHAPES
    assert [subgraph.tensors[i].name for i in subgraph.outputs] == [
        "StatefulPartitionedCall:0",
        "StatefulPartitionedCall:1",
    ]
    assert all(subgraph.tensors[i].type_name == "int8" for i in (*subgraph.inputs, *subgraph.outputs))


def test_float_twin_has_the_same_graph(int8_model) -> None:
    float_model = load_model(FLOAT_MODEL)
    subgraph = float_model.subgraphs[0]
    assert Counter(op.name for op in subgraph.operators) == EXPECTED_OPS
    assert [subgraph.tensors[i].shape for i in subgraph.inputs] == [INPUT_SHAPE]
    assert [subgraph.tensors[i].shape for i in subgraph.outputs] == OUTPUT_SHAPES
    assert all(subgraph.tensors[i].type_name == "float32" for i in (*subgraph.inputs, *subgraph.outputs))


def test_inputs_have_the_model_input_shape_and_dtype(golden, int8_model) -> None:
    subgraph = int8_model.subgraphs[0]
    (input_tensor,) = [subgraph.tensors[i] for i in subgraph.inputs]
    for case in golden.cases:
        assert case.input_files == [f"inputs/{case.name}.npy"]
        (array,) = case.inputs()
        assert array.dtype == np.int8 == input_tensor.dtype
        assert array.shape == INPUT_SHAPE
    random_input, smooth_input = golden.case("random").inputs()[0], golden.case("smooth").inputs()[0]
    assert random_input.min() == -128 and random_input.max() == 127  # uniform over the whole int8 range
    # The smooth image is quantized with the input's scale 1/255 and zero point -128: neighbours are close.
    assert np.abs(np.diff(smooth_input.astype(np.int16), axis=2)).mean() < 4


def test_tensor_files_hold_every_activation_and_no_constant(golden, int8_model) -> None:
    subgraph = int8_model.subgraphs[0]
    non_constant = {t.index for t in subgraph.tensors if not t.is_constant}
    for case in golden.cases:
        assert case.tensors_file == f"tensors/{case.name}.npz"
        assert set(case.tensor_indices()) == non_constant
        tensors = case.tensors()
        for index, value in tensors.items():
            tensor = subgraph.tensors[index]
            assert value.dtype == tensor.dtype, index
            assert value.shape == tensor.shape, index
        assert case.output_indices == list(subgraph.outputs)
        assert [o.shape for o in case.outputs()] == OUTPUT_SHAPES
        (input_index,) = subgraph.inputs
        assert np.array_equal(tensors[input_index], case.inputs()[0])


def test_every_operator_output_is_consistent_with_its_kind(golden, int8_model) -> None:
    """Cheap structural checks of the stored values (not a re-implementation of the kernels)."""
    subgraph = int8_model.subgraphs[0]
    tensors = golden.case("smooth").tensors()
    for op in subgraph.operators:
        out = tensors[op.outputs[0]]
        if op.name == "RESHAPE":
            assert np.array_equal(out.reshape(-1), tensors[op.inputs[0]].reshape(-1))
        elif op.name == "MAX_POOL_2D" and op.options["stride_h"] == 2:
            x = tensors[op.inputs[0]]
            n, h, w, c = x.shape
            assert np.array_equal(out, x.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4)))
        elif op.name == "RESIZE_NEAREST_NEIGHBOR":
            x = tensors[op.inputs[0]]
            assert np.array_equal(out, x.repeat(2, axis=1).repeat(2, axis=2))
        # Every activation uses a good part of the int8 range on the smooth image.
        assert len(np.unique(out)) > 100, op


def test_no_stray_files_in_the_golden_dir(golden) -> None:
    listed = {"manifest.json"} | {f for c in golden.cases for f in [*c.input_files, c.tensors_file]}
    present = {p.relative_to(GOLDEN_DIR).as_posix() for p in GOLDEN_DIR.rglob("*") if p.is_file()}
    assert present == listed


def test_manifest_is_plain_json_with_relative_paths() -> None:
    manifest = json.loads((GOLDEN_DIR / "manifest.json").read_text())
    for case in manifest["cases"]:
        for relative in [*case["inputs"], case["tensors"]]:
            assert not Path(relative).is_absolute() and ".." not in Path(relative).parts


# --------------------------------------------------------------------------------------------------
# refinterp.golden machinery that needs no runtime


def test_npz_writer_is_deterministic_and_numpy_readable(tmp_path: Path) -> None:
    arrays = {"t1": np.arange(12, dtype=np.int8).reshape(3, 4), "t7": np.array([1.5], dtype=np.float32)}
    save_npz_deterministic(tmp_path / "a.npz", arrays)
    save_npz_deterministic(tmp_path / "b.npz", arrays)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    with np.load(tmp_path / "a.npz") as loaded:
        assert sorted(loaded.files) == ["t1", "t7"]
        assert np.array_equal(loaded["t1"], arrays["t1"]) and loaded["t1"].dtype == np.int8
    with zipfile.ZipFile(tmp_path / "a.npz") as archive:
        assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in archive.infolist())


def test_load_golden_errors(tmp_path: Path) -> None:
    with pytest.raises(RefinterpError, match="not a golden DIR"):
        load_golden(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(RefinterpError, match="format"):
        load_golden(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(RefinterpError, match="cannot read"):
        load_golden(tmp_path)


def test_find_case_matches_exact_inputs_only(golden) -> None:
    smooth = golden.case("smooth").inputs()[0]
    assert golden.find_case([smooth]).name == "smooth"
    assert golden.find_case([smooth.astype(np.int16)]) is None
    changed = smooth.copy()
    changed[0, 1, 2, 0] ^= 1
    assert golden.find_case([changed]) is None
    with pytest.raises(RefinterpError, match="no case 'absent'"):
        golden.case("absent")


def test_golden_main_usage_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["golden"]) == 2  # a subcommand is required
    assert cli_main(["golden", "check", str(tmp_path)]) == 2  # not a golden DIR
    assert "not a golden DIR" in capsys.readouterr().err
    assert cli_main(["golden", "make", str(tmp_path / "absent.tflite"), "--out", str(tmp_path / "g")]) == 2

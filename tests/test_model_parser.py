"""The parser: what each field means (as TFLite's loader reads it), on built and real models."""

from __future__ import annotations

import numpy as np
import pytest
import rawmodel
from conftest import GOLDEN_DIR, shared_model

import refinterp
from refinterp import ModelFormatError
from refinterp.modelbuilder import OpSpec, TensorSpec, build_model


def test_golden_model_structure():
    model = refinterp.load_model(GOLDEN_DIR / "yolov3_tiny_int8.tflite")
    assert model.version == 3 and len(model.subgraphs) == 1
    sg = model.main
    assert len(sg.operators) == 34
    assert [s.key for s in model.signature_defs] == ["serving_default"]
    assert "min_runtime_version" in model.metadata
    conv = sg.operators[0]
    assert conv.name == "CONV_2D" and conv.options_type == "Conv2DOptions"
    # every option present with the schema's defaults filled in
    assert conv.options["dilation_h_factor"] == 1 and conv.options["stride_w"] == 1
    weights = sg.tensors[conv.inputs[1]]
    assert weights.is_constant and weights.quantization.per_channel
    assert weights.quantization.scale.size == weights.shape[0] and weights.quantization.quantized_dimension == 0
    assert weights.data.dtype == np.int8 and weights.data.shape == weights.shape


def test_buffer_with_offset_and_size_outside_the_flatbuffer():
    """Schema 3c (models over 2 GB): data located by offset/size from the start of the file."""
    payload = bytes(range(6))
    base = rawmodel.write(rawmodel.reshape_model())
    # placeholder of the same encoded size (flatbuffers omits fields equal to their default, 0)
    model = rawmodel.reshape_model(buffers=[b"", (99, 99)])
    model.tensors[0].buffer = 1
    probe = rawmodel.write(model)
    model = rawmodel.reshape_model(buffers=[b"", (len(probe), len(payload))], appended=payload)
    model.tensors[0].buffer = 1
    parsed = refinterp.parse_model(rawmodel.write(model))
    assert parsed.main.tensors[0].data.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert len(base) < len(probe) + len(payload)
    # an offset/size that runs past the end of the file is an error, not a short read
    model.appended = payload[:3]
    with pytest.raises(ModelFormatError, match="past the end"):
        refinterp.parse_model(rawmodel.write(model))


def test_effective_opcode_is_the_larger_of_the_two_fields():
    """schema_utils.cc GetBuiltinCode: ops >= 127 set only builtin_code and leave 127 in the byte field."""
    model = refinterp.parse_model(rawmodel.write(rawmodel.reshape_model(opcode=150)))
    assert model.main.operators[0].opcode == 150
    assert model.main.operators[0].name == refinterp.model.BUILTIN_OPERATOR_NAMES[150]


def test_absent_optional_input_is_minus_one():
    x = TensorSpec((1, 4, 4, 2), "int8", scale=0.1, zero_point=0)
    w = TensorSpec((3, 1, 1, 2), "int8", scale=[0.1] * 3, zero_point=[0] * 3, data=np.ones((3, 1, 1, 2), np.int8))
    y = TensorSpec((1, 4, 4, 3), "int8", scale=0.1, zero_point=0)
    content = build_model([x, w, y], [OpSpec("CONV_2D", [0, 1, -1], [2], {"padding": "VALID"})], [0], [2])
    op = refinterp.parse_model(content).main.operators[0]
    assert op.inputs == (0, 1, -1)


def test_out_of_range_axis_on_1d_per_channel_tensor_is_accepted_like_tflm():
    """person_detect carries quantized_dimension 3 on 1-D per-channel biases: TFLM accepts, LiteRT refuses."""
    path = shared_model("tflite-micro/person_detect.tflite")
    model = refinterp.load_model(path)
    biases = [t for t in model.main.tensors if t.quantization and len(t.shape) == 1 and t.quantization.per_channel]
    assert biases and all(t.quantization.quantized_dimension == 0 for t in biases)
    # recorded for an interpreter that follows LiteRT, whose ParseQuantization refuses the file
    assert model.litert_refusals and all("quantized_dimension 3" in reason for reason in model.litert_refusals)


def test_per_channel_scale_count_must_match_the_axis():
    model = rawmodel.reshape_model()
    model.tensors[0].scale, model.tensors[0].zero_point = [0.5, 0.5], [0, 0]
    model.tensors[0].quantized_dimension = 1  # axis 1 has 3 elements, not 2
    with pytest.raises(ModelFormatError, match="2 scales for dimension 1 of size 3"):
        refinterp.parse_model(rawmodel.write(model))


def test_every_shared_model_parses():
    root = shared_model("MANIFEST.tsv").parent
    paths = sorted(root.rglob("*.tflite"))
    assert len(paths) >= 170
    for path in paths:
        model = refinterp.load_model(path)
        assert model.main.operators, path

"""Untrusted models: the flatbuffer verifier and the parser's LiteRT rules, each failure class against LiteRT.

Every model here is built by the project (refinterp.modelbuilder, or the raw tflite builder functions for
what modelbuilder refuses to write) and then corrupted; where LiteRT gives a verdict, the test asserts it too,
so that "refinterp refuses exactly what LiteRT refuses" is measured, not assumed.
"""

from __future__ import annotations

import inspect
import pickle
import re
import struct
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import flatbuffers
import numpy as np
import pytest
import rawmodel
import tflite
from conftest import ROOT, SHARED_MODELS, shared_model
from oracle import Rejected, run_litert_ref, run_refinterp

import refinterp
from refinterp import ModelFormatError, RefinterpError, UnsupportedOpError
from refinterp import flatbuffer_verifier as fv
from refinterp.errors import shown
from refinterp.model import LITERT_NO_OPTIONS, LITERT_OPTIONS, PADDING_UNKNOWN, TENSOR_TYPE_NONE
from refinterp.modelbuilder import (
    DimensionMetadataSpec,
    OpSpec,
    SparsitySpec,
    TensorSpec,
    build_model,
    single_op_model,
    sparsify,
)
from refinterp.registry import REGISTRY

MESSAGE_LIMIT = 300
SCHEMA_SCRIPT = ROOT / "schema" / "gen_verifier_layout.py"


# ------------------------------------------------------------------------------------------------ helpers


def litert_module():
    return pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert (the LiteRT oracle) is absent")


def litert_load(content: bytes) -> str:
    """LiteRT's verdict at load: "verifier" (its flatbuffer verifier refused), "refused" (anything else), "ok"."""
    module = litert_module()
    try:
        module.Interpreter(model_content=content)
    except ValueError as exc:
        return "verifier" if "not a valid Flatbuffer" in str(exc) else "refused"
    return "ok"


def refinterp_verifier(content: bytes) -> str:
    try:
        fv.verify_model(content)
    except ModelFormatError as exc:
        assert_one_line(str(exc))
        return "verifier"
    return "ok"


def assert_one_line(message: str) -> None:
    assert message and "\n" not in message and "\r" not in message, message
    assert len(message) <= MESSAGE_LIMIT, f"{len(message)} characters: {message[:200]}..."


def patched(content: bytes, position: int, fmt: str, value: int) -> bytes:
    out = bytearray(content)
    struct.pack_into(fmt, out, position, value)
    return bytes(out)


def field_at(obj, voffset: int) -> int:
    """Position of a present field of a bindings object (the model is valid)."""
    o = obj._tab.Offset(voffset)
    assert o, f"field {voffset} is absent"
    return obj._tab.Pos + o


def vtable_at(obj) -> int:
    return obj._tab.Pos - struct.unpack_from("<i", obj._tab.Bytes, obj._tab.Pos)[0]


def root(content: bytes):
    return tflite.Model.GetRootAs(content, 0)


def conv_model() -> bytes:
    """An int8 CONV_2D with per-channel weights, a bias, names, options and a signature def."""
    x = TensorSpec((1, 4, 4, 2), "int8", scale=0.05, zero_point=-3, name="input")
    w = TensorSpec((3, 1, 1, 2), "int8", scale=[0.01, 0.02, 0.03], zero_point=[0, 0, 0],
                   data=np.arange(6).reshape(3, 1, 1, 2), name="weights")
    b = TensorSpec((3,), "int32", scale=[0.0005, 0.001, 0.0015], zero_point=[0, 0, 0], data=np.array([1, 2, 3]),
                   name="bias")
    y = TensorSpec((1, 4, 4, 3), "int8", scale=0.1, zero_point=2, name="output")
    return build_model([x, w, b, y], [OpSpec("CONV_2D", [0, 1, 2], [3], {"padding": "VALID"})], [0], [3])


CONV = conv_model()


def outcome(run, model: bytes, inputs: list[np.ndarray]):
    try:
        return run(model, inputs)
    except Rejected as rejected:
        return rejected


def assert_same_or_refused(model: bytes, inputs: list[np.ndarray]) -> str:
    """refinterp computes LiteRT's (BUILTIN_REF) outputs bit for bit, or refuses with one line: never differs."""
    litert_module()
    expected = outcome(run_litert_ref, model, inputs)
    got = outcome(run_refinterp, model, inputs)
    if isinstance(got, Rejected):
        assert_one_line(str(got.cause))
        return f"refinterp refuses ({got.cause})"
    assert not isinstance(expected, Rejected), f"LiteRT refuses ({expected}) but refinterp runs"
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_array_equal(g, e)
    return "same outputs"


# ------------------------------------------------------------------------------------------------ the layout


def test_layout_is_the_one_derived_from_litert_schema():
    """The embedded layout is what schema/gen_verifier_layout.py derives from LiteRT's own bindings."""
    pytest.importorskip("ai_edge_litert.schema_py_generated", reason="ai-edge-litert (the LiteRT oracle) is absent")
    result = subprocess.run([sys.executable, str(SCHEMA_SCRIPT), "--check"], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr


def test_layout_covers_every_table_and_field_of_the_tflite_bindings():
    """Every table the bindings refinterp reads with define is verified, with every field they access."""
    tables = {name: cls for name, cls in vars(tflite).items()
              if isinstance(cls, type) and "Init" in vars(cls) and "GetRootAs" in vars(cls)}
    assert len(tables) > 150
    for name, cls in tables.items():
        assert name in fv.LAYOUT_TABLES, f"table {name} is not verified"
        verified = {voffset for _, voffset, _ in fv.LAYOUT_TABLES[name]}
        read = {int(v) for v in re.findall(r"self\._tab\.Offset\((\d+)\)", inspect.getsource(cls))}
        assert read <= verified, f"{name} reads fields {sorted(read - verified)} that are not verified"


def test_every_union_member_and_target_is_a_verified_table():
    for union, members in fv.LAYOUT_UNIONS.items():
        assert members and all(table in fv.LAYOUT_TABLES for table in members.values()), union
    assert fv.LAYOUT_UNIONS["BuiltinOptions"][_options_code("ConcatenationOptions")] == "ConcatenationOptions"


def _options_code(name: str) -> int:
    return getattr(tflite.BuiltinOptions, name)


# ------------------------------------------------------------------------------------------------ (a) verifier


def _first_tensor(content: bytes):
    return root(content).Subgraphs(0).Tensors(0)


def _conv_options(content: bytes):
    return root(content).Subgraphs(0).Operators(0)


CORRUPTIONS = {
    "shorter than 12 bytes": lambda c: c[:11],
    "identifier": lambda c: c[:4] + b"TFL2" + c[8:],
    "root offset zero": lambda c: patched(c, 0, "<I", 0),
    "root offset past the end": lambda c: patched(c, 0, "<I", len(c) + 8),
    "misaligned table": lambda c: patched(c, _vector_element(c, "tensors", 0), "<I",
                                          struct.unpack_from("<I", c, _vector_element(c, "tensors", 0))[0] + 1),
    "vtable outside the buffer": lambda c: patched(c, _first_tensor(c)._tab.Pos, "<i", -len(c)),
    "odd vtable size": lambda c: patched(c, vtable_at(_first_tensor(c)), "<H",
                                         struct.unpack_from("<H", c, vtable_at(_first_tensor(c)))[0] + 1),
    "vtable past the end": lambda c: patched(c, vtable_at(_first_tensor(c)), "<H", 0xFFFE),
    "misaligned int32 field": lambda c: patched(c, vtable_at(_conv_options_table(c)) + 6, "<H",
                                                struct.unpack_from("<H", c, vtable_at(_conv_options_table(c)) + 6)[0]
                                                + 1),
    "offset field zero": lambda c: patched(c, field_at(_first_tensor(c), 10), "<I", 0),
    "offset field not below 2^31": lambda c: patched(c, field_at(_first_tensor(c), 10), "<I", 0x80000004),
    "offset field past the end": lambda c: patched(c, field_at(_first_tensor(c), 10), "<I", len(c)),
    "misaligned vector": lambda c: patched(c, field_at(_first_tensor(c), 4), "<I",
                                           struct.unpack_from("<I", c, field_at(_first_tensor(c), 4))[0] + 1),
    "vector past the end": lambda c: patched(c, _target(c, field_at(_first_tensor(c), 4)), "<I", 0x1000000),
    "vector length overflow": lambda c: patched(c, _target(c, field_at(_first_tensor(c), 4)), "<I", 0xFFFFFFFF),
    "string without NUL": lambda c: _unterminated_name(c),
    "string past the end": lambda c: patched(c, _target(c, field_at(_first_tensor(c), 10)), "<I", len(c)),
    "union value read as its declared type": lambda c: patched(
        c, field_at(_conv_options(c), 10), "<B", _options_code("ConcatEmbeddingsOptions")),
}


def _target(content: bytes, position: int) -> int:
    return position + struct.unpack_from("<I", content, position)[0]


def _vector_element(content: bytes, vector: str, index: int) -> int:
    subgraph = root(content).Subgraphs(0)
    voffset = {"tensors": 4, "operators": 10}[vector]
    return _target(content, field_at(subgraph, voffset)) + 4 + 4 * index


def _conv_options_table(content: bytes):
    table = root(content).Subgraphs(0).Operators(0).BuiltinOptions()
    options = tflite.Conv2DOptions()
    options.Init(table.Bytes, table.Pos)
    return options


def _unterminated_name(content: bytes) -> bytes:
    name = _target(content, field_at(_first_tensor(content), 10))
    length = struct.unpack_from("<I", content, name)[0]
    return patched(content, name + 4 + length, "<B", ord("x"))


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_verifier_refuses_what_litert_verifier_refuses(corruption):
    assert refinterp_verifier(CONV) == "ok" and litert_load(CONV) == "ok"
    content = CORRUPTIONS[corruption](CONV)
    assert litert_load(content) == "verifier", "the corruption does not exercise LiteRT's verifier"
    assert refinterp_verifier(content) == "verifier"
    with pytest.raises(ModelFormatError) as info:
        refinterp.Interpreter(model_content=content)
    assert_one_line(str(info.value))


def test_verifier_messages_say_where():
    content = CORRUPTIONS["string without NUL"](CONV)
    with pytest.raises(ModelFormatError, match=r"Model\.subgraphs\[0\]\.tensors\[0\]\.name: .*NUL"):
        fv.verify_model(content)
    content = CORRUPTIONS["misaligned int32 field"](CONV)
    with pytest.raises(ModelFormatError, match=r"operators\[0\]\.builtin_options\.stride_w: 4-byte field"):
        fv.verify_model(content)


def test_unknown_union_type_passes_like_litert():
    """flatc's union verifier accepts a type it does not know (and NONE) without looking at the value."""
    content = patched(CONV, field_at(_conv_options(CONV), 10), "<B", 200)
    assert refinterp_verifier(content) == "ok"
    assert litert_load(content) != "verifier"


def test_eight_byte_scalar_must_be_eight_byte_aligned():
    """Buffer.offset is a ulong: the verifier checks its alignment against its own size, 8."""
    model = rawmodel.reshape_model(buffers=[b"", (99, 99)])
    model.tensors[0].buffer = 1
    content = rawmodel.write(model)
    buffer = root(content).Buffers(1)
    entry = vtable_at(buffer) + 6
    assert (buffer._tab.Pos + struct.unpack_from("<H", content, entry)[0]) % 8 == 0
    moved = patched(content, entry, "<H", struct.unpack_from("<H", content, entry)[0] + 4)
    assert litert_load(moved) == "verifier"
    assert refinterp_verifier(moved) == "verifier"


def test_vector_elements_alignment_is_not_checked_like_cpp():
    """C++ checks the alignment of a vector's length, not of its 8-byte elements: an int64 zero_point vector
    at 4 mod 8 passes both verifiers (and NumPy reads it unaligned)."""
    for padding in (0, 1):
        content = _misaligned_zero_point_model(padding)
        zp = root(content).Subgraphs(0).Tensors(0).Quantization()
        if zp._tab.Vector(zp._tab.Offset(10)) % 8 == 4:
            break
    else:
        raise AssertionError("could not place the int64 vector at 4 mod 8")
    assert litert_load(content) != "verifier"
    assert refinterp_verifier(content) == "ok"
    assert refinterp.parse_model(content).main.tensors[0].quantization.zero_point.tolist() == [-3]


def _misaligned_zero_point_model(padding: int) -> bytes:
    b = flatbuffers.Builder(256)
    name = b.CreateString("t")
    for _ in range(padding):
        b.PrependInt32(0)
    b.StartVector(8, 1, 4)  # one int64 element, written without the 8-byte alignment PrependInt64 would add
    b.head -= 8
    b.Bytes[b.head:b.head + 8] = np.asarray([-3], "<i8").tobytes()
    zero_point = b.EndVector()
    scale = b.CreateNumpyVector(np.asarray([0.5], "<f4"))
    tflite.QuantizationParametersStart(b)
    tflite.QuantizationParametersAddScale(b, scale)
    tflite.QuantizationParametersAddZeroPoint(b, zero_point)
    quant = tflite.QuantizationParametersEnd(b)
    shape = b.CreateNumpyVector(np.asarray([2], "<i4"))
    tflite.TensorStart(b)
    tflite.TensorAddShape(b, shape)
    tflite.TensorAddType(b, 9)
    tflite.TensorAddName(b, name)
    tflite.TensorAddQuantization(b, quant)
    tensor = tflite.TensorEnd(b)
    return _model_around(b, [tensor], inputs=[0], outputs=[0])


def _model_around(b: flatbuffers.Builder, tensors: list[int], inputs: list[int], outputs: list[int],
                  buffers: int = 1, extra_buffers: list[int] | None = None) -> bytes:
    """Finish a model of one subgraph holding ``tensors`` (offsets in ``b``), no operators."""
    tflite.SubGraphStartTensorsVector(b, len(tensors))
    for t in reversed(tensors):
        b.PrependUOffsetTRelative(t)
    tensors_vector = b.EndVector()
    inputs_vector = b.CreateNumpyVector(np.asarray(inputs, "<i4"))
    outputs_vector = b.CreateNumpyVector(np.asarray(outputs, "<i4"))
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, tensors_vector)
    tflite.SubGraphAddInputs(b, inputs_vector)
    tflite.SubGraphAddOutputs(b, outputs_vector)
    subgraph = tflite.SubGraphEnd(b)
    buffer_offsets = list(extra_buffers or [])
    for _ in range(buffers - len(buffer_offsets)):
        tflite.BufferStart(b)
        buffer_offsets.insert(0, tflite.BufferEnd(b))
    tflite.ModelStartSubgraphsVector(b, 1)
    b.PrependUOffsetTRelative(subgraph)
    subgraphs = b.EndVector()
    tflite.ModelStartBuffersVector(b, len(buffer_offsets))
    for offset in reversed(buffer_offsets):
        b.PrependUOffsetTRelative(offset)
    buffers_vector = b.EndVector()
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddSubgraphs(b, subgraphs)
    tflite.ModelAddBuffers(b, buffers_vector)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _shared_buffer_model(references: int) -> bytes:
    """A model whose buffers vector holds ``references`` offsets to one Buffer table (NumPy-written)."""
    b = flatbuffers.Builder(references * 4 + 1024)
    tflite.SubGraphStartTensorsVector(b, 0)
    tensors_vector = b.EndVector()
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, tensors_vector)
    subgraph = tflite.SubGraphEnd(b)
    tflite.BufferStart(b)
    buffer = tflite.BufferEnd(b)
    tflite.ModelStartSubgraphsVector(b, 1)
    b.PrependUOffsetTRelative(subgraph)
    subgraphs = b.EndVector()
    b.StartVector(4, references, 4)
    b.head -= 4 * references
    body_end = b.Offset()  # distance from the end of the buffer to element 0
    elements = body_end - 4 * np.arange(references, dtype=np.int64)  # element i, measured from the end
    b.Bytes[b.head:b.head + 4 * references] = (elements - buffer).astype("<u4").tobytes()
    buffers_vector = b.EndVector()
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddSubgraphs(b, subgraphs)
    tflite.ModelAddBuffers(b, buffers_vector)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def test_table_count_limit_is_one_million_visits_like_cpp():
    """Model + SubGraph + N visits of one shared Buffer: C++ counts every visit; 1,000,000 is the last allowed."""
    at_limit = _shared_buffer_model(fv.MAX_TABLES - 2)
    over = _shared_buffer_model(fv.MAX_TABLES - 1)
    assert refinterp_verifier(at_limit) == "ok"
    assert refinterp_verifier(over) == "verifier"
    assert litert_load(at_limit) != "verifier"
    assert litert_load(over) == "verifier"
    with pytest.raises(ModelFormatError, match="1,000,000 tables"):
        fv.verify_model(over)


def test_depth_limit_is_64_nested_tables(monkeypatch):
    """The TFLite schema nests tables at most a few deep, so the depth limit is checked on a chain of tables
    under a layout that makes Model recursive (the C++ rule: a table at depth 65 fails)."""
    monkeypatch.setitem(fv._LAYOUT, "Model", (("next", 4, fv._TABLE, "Model"),))

    def chain(depth: int) -> bytes:
        b = flatbuffers.Builder(64 * depth)
        inner = 0
        for _ in range(depth):
            b.StartObject(1)
            if inner:
                b.PrependUOffsetTRelativeSlot(0, inner, 0)
            inner = b.EndObject()
        b.Finish(inner, file_identifier=b"TFL3")
        return bytes(b.Output())

    fv.verify_model(chain(fv.MAX_DEPTH))
    with pytest.raises(ModelFormatError, match="deeper than"):
        fv.verify_model(chain(fv.MAX_DEPTH + 1))


def test_files_over_2gb_verify_their_first_2gb_like_litert(tmp_path):
    """Schema 3c: constant data after the flatbuffer, past 2 GB. LiteRT verifies the first 2^31 - 2 bytes and
    reads the buffer by offset; so does refinterp (the file is sparse on disk, and memory-mapped)."""
    payload = np.arange(6, dtype=np.int8).tobytes()
    offset = (1 << 31) + 4096
    model = rawmodel.reshape_model(buffers=[b"", (offset, len(payload))])
    model.tensors[0].buffer = 1
    content = rawmodel.write(model)
    path = tmp_path / "big.tflite"
    with open(path, "wb") as f:
        f.write(content)
        f.truncate(offset + len(payload) + 16)
        f.seek(offset)
        f.write(payload)
    parsed = refinterp.load_model(path)
    assert parsed.main.tensors[0].data.tolist() == [[0, 1, 2], [3, 4, 5]]
    module = litert_module()
    module.Interpreter(model_path=str(path))  # loads: its verifier passes too


# ------------------------------------------------------------------------------------------------ (b) opcode


def test_raw_builtin_code_wins_over_deprecated_code_like_litert():
    """builtin_code MINIMUM (57) with deprecated_builtin_code MAXIMUM (55): LiteRT takes the max of the raw
    fields, MINIMUM. The bindings' BuiltinCode() would have returned 55 (it prefers the byte below 127)."""
    spec = TensorSpec((1, 8), "int8", scale=0.1, zero_point=0)
    content = build_model([spec, TensorSpec((1, 8), "int8", scale=0.1, zero_point=0, name="b"),
                           TensorSpec((1, 8), "int8", scale=0.1, zero_point=0, name="y")],
                          [OpSpec("MINIMUM", [0, 1], [2])], [0, 1], [2])
    code = root(content).OperatorCodes(0)
    content = patched(content, field_at(code, 4), "<b", 55)
    assert tflite.Model.GetRootAs(content, 0).OperatorCodes(0).BuiltinCode() == 55  # the trap
    assert refinterp.parse_model(content).main.operators[0].name == "MINIMUM"
    rng = np.random.default_rng(0)
    inputs = [rng.integers(-128, 128, (1, 8), dtype=np.int8) for _ in range(2)]
    assert assert_same_or_refused(content, inputs) == "same outputs"
    np.testing.assert_array_equal(run_refinterp(content, inputs)[0], np.minimum(*inputs))


def test_builtin_code_out_of_range_is_refused_at_load_like_litert():
    for code, reason in ((fv.LAYOUT_MAX_BUILTIN_OPERATOR + 1, "out of range"), (250, "out of range"),
                         (127, "placeholder")):
        content = rawmodel.write(rawmodel.reshape_model(opcode=code))
        assert litert_load(content) == "refused"
        with pytest.raises(ModelFormatError, match=f"builtin code {code} is .*{reason}"):
            refinterp.parse_model(content)


# ------------------------------------------------------------------------------------------------ (c), (d) options


def _set_options_type(content: bytes, table: str | None) -> bytes:
    """Rewrite the first operator's builtin_options_type (None: NONE, the table then counts as absent)."""
    return patched(content, field_at(_conv_options(content), 10), "<B", 0 if table is None else _options_code(table))


def test_options_table_of_another_type_counts_as_absent():
    """A GatherOptions table on CONCATENATION: LiteRT's builtin_options_as_ConcatenationOptions() is null, so
    the axis is its zeroed struct's 0, not the 1 written in the foreign table."""
    q = {"scale": 0.1, "zero_point": 0}
    content = single_op_model("CONCATENATION", [TensorSpec((1, 2), "int8", **q), TensorSpec((1, 2), "int8", **q)],
                              [TensorSpec((2, 2), "int8", **q)], {"axis": 1})
    foreign = _set_options_type(content, "GatherOptions")
    op = refinterp.parse_model(foreign).main.operators[0]
    assert op.options_type == "GatherOptions" and op.options["axis"] == 0
    rng = np.random.default_rng(1)
    inputs = [rng.integers(-128, 128, (1, 2), dtype=np.int8) for _ in range(2)]
    assert assert_same_or_refused(foreign, inputs) == "same outputs"


def test_absent_options_are_litert_zeroed_structs_not_schema_defaults():
    content = _set_options_type(CONV, None)
    options = dict(refinterp.parse_model(content).main.operators[0].options)
    assert options == {"padding": PADDING_UNKNOWN, "stride_w": 0, "stride_h": 0, "fused_activation_function": 0,
                       "dilation_w_factor": 0, "dilation_h_factor": 0, "quantized_bias_type": TENSOR_TYPE_NONE}
    present = dict(refinterp.parse_model(CONV).main.operators[0].options)
    assert present["dilation_h_factor"] == 1 and present["padding"] == 1 and present["quantized_bias_type"] == 0


def _without_options(op: str, options: dict, shape: tuple[int, ...]) -> bytes:
    q = {"scale": 0.05, "zero_point": -2}
    out_q = {"scale": 1 / 256, "zero_point": -128} if op == "SOFTMAX" else q
    inputs = [TensorSpec(shape, "int8", **q)] * (2 if op == "ADD" else 1)
    return _set_options_type(single_op_model(op, inputs, [TensorSpec(shape, "int8", **out_q)], options), None)


def test_absent_softmax_options_mean_beta_zero():
    """SOFTMAX without options: LiteRT's beta is 0.0 (the table's default 1.0 is never read), and its Prepare
    then aborts the whole process (QuantizeMultiplierGreaterThanOne; measured with ai-edge-litert 2.3.0, so
    LiteRT is not run here). refinterp reads beta 0.0 too and refuses with one line."""
    content = _without_options("SOFTMAX", {"beta": 1.0}, (1, 16))
    assert refinterp.parse_model(content).main.operators[0].options["beta"] == 0.0
    with pytest.raises(RefinterpError, match="beta") as info:
        refinterp.Interpreter(model_content=content).allocate_tensors()
    assert_one_line(str(info.value))


@pytest.mark.parametrize("op, options", [("LEAKY_RELU", {"alpha": 0.3}),
                                         ("ADD", {"fused_activation_function": "RELU"})])
def test_absent_options_compute_what_litert_computes(op, options):
    """LEAKY_RELU without options has LiteRT's alpha 0.0, ADD no activation (and pot_scale_int16 false, not
    the table's default true): refinterp computes LiteRT's outputs from the same values, or refuses."""
    content = _without_options(op, options, (1, 16))
    parsed = refinterp.parse_model(content).main.operators[0].options
    assert parsed == ({"alpha": 0.0} if op == "LEAKY_RELU" else
                      {"fused_activation_function": 0, "pot_scale_int16": False})
    rng = np.random.default_rng(2)
    inputs = [rng.integers(-128, 128, (1, 16), dtype=np.int8) for _ in range(2 if op == "ADD" else 1)]
    assert assert_same_or_refused(content, inputs) == "same outputs"


def test_every_implemented_operator_reads_its_options_as_litert():
    # custom operators read a flexbuffer of their own (custom_options), not a builtin options table
    missing = {op for op in REGISTRY if not op.startswith("CUSTOM:")} - set(LITERT_OPTIONS) - set(LITERT_NO_OPTIONS)
    assert not missing, f"operators without a ParseOpData rule in refinterp.model: {sorted(missing)}"
    assert not set(LITERT_OPTIONS) & LITERT_NO_OPTIONS
    for op, (table, fields) in LITERT_OPTIONS.items():
        cls = getattr(tflite, table)
        for _key, accessor, _, _ in fields:
            assert hasattr(cls, accessor), f"{op}: {table}.{accessor} is missing from the bindings"


def test_option_values_litert_refuses_refuse_the_model():
    """ParseFullyConnected fails on a weights_format it does not know, and LiteRT with it; so does refinterp."""
    q = {"scale": 0.1, "zero_point": 0}
    w = TensorSpec((2, 4), "int8", scale=0.1, zero_point=0, data=np.ones((2, 4)))
    content = build_model([TensorSpec((1, 4), "int8", **q), w, TensorSpec((1, 2), "int8", **q)],
                          [OpSpec("FULLY_CONNECTED", [0, 1, -1], [2], {"weights_format": 1})], [0],
                          [2])
    options = root(content).Subgraphs(0).Operators(0).BuiltinOptions()
    fc = tflite.FullyConnectedOptions()
    fc.Init(options.Bytes, options.Pos)
    bad = patched(content, field_at(fc, 6), "<b", 7)
    assert litert_load(bad) == "refused"
    with pytest.raises(ModelFormatError, match="weights_format 7"):
        refinterp.parse_model(bad)


def test_buffer_longer_than_the_tensor_is_read_from_its_start_like_litert():
    """subgraph.cc checks ``required_bytes <= bytes`` (ai-edge-litert 2.3.0): a longer buffer loads, and the
    tensor is its first bytes."""
    model = rawmodel.reshape_model(buffers=[b"", bytes(range(10))])
    model.tensors[0].buffer = 1
    content = rawmodel.write(model)
    assert litert_load(content) == "ok"
    assert refinterp.parse_model(content).main.tensors[0].data.tolist() == [[0, 1, 2], [3, 4, 5]]


def test_signature_names_must_be_utf8_like_litert_python():
    content = build_model([TensorSpec((1, 2), "int8", scale=0.1, zero_point=0, name="x\u00e9"),
                           TensorSpec((1, 2), "int8", scale=0.1, zero_point=0, name="y")],
                          [OpSpec("RELU", [0], [1])], [0], [1])
    position = content.index("x\u00e9".encode())  # the tensor name and the signature input name
    bad = content[:position + 1] + b"\xff" + content[position + 2:]
    while "x\u00e9".encode() in bad:
        position = bad.index("x\u00e9".encode())
        bad = bad[:position + 1] + b"\xff" + bad[position + 2:]
    assert litert_load(bad) == "refused"
    with pytest.raises(ModelFormatError, match="not UTF-8"):
        refinterp.parse_model(bad)


# ------------------------------------------------------------------------------------------------ (e) quantization


def _quantized(scale, zero_point, quantized_dimension: int = 0, type_code: int = 9, shape=(2, 3)) -> bytes:
    model = rawmodel.reshape_model()
    model.tensors[0].shape = list(shape)
    model.tensors[0].type_code = type_code
    model.tensors[0].scale, model.tensors[0].zero_point = scale, zero_point
    model.tensors[0].quantized_dimension = quantized_dimension
    return rawmodel.write(model)


@pytest.mark.parametrize("case, content, fragment", [
    ("scale count != zero points", _quantized([0.5, 0.5], [0]), "zero points"),
    ("per-channel count != dimension", _quantized([0.5, 0.5], [0, 0], quantized_dimension=1), "2 scales"),
    ("per-channel axis out of range", _quantized([0.5, 0.5], [0, 0], quantized_dimension=2), "quantized_dimension"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_quantization_litert_refuses_at_load(case, content, fragment):
    assert litert_load(content) == "refused"
    with pytest.raises(ModelFormatError, match=fragment) as info:
        refinterp.parse_model(content)
    assert_one_line(str(info.value))


def test_out_of_range_axis_of_a_per_tensor_quantization_is_a_litert_refusal():
    """LiteRT refuses quantized_dimension 5 even with one scale; TFLM never reads it: the model parses and
    records the refusal for an interpreter following LiteRT."""
    content = _quantized([0.5], [0], quantized_dimension=5)
    assert litert_load(content) == "refused"
    model = refinterp.parse_model(content)
    assert model.litert_refusals and "quantized_dimension 5" in model.litert_refusals[0]
    assert model.main.tensors[0].quantization.quantized_dimension == 0
    assert not refinterp.parse_model(_quantized([0.5], [0])).litert_refusals


@pytest.mark.parametrize("scale", [0.0, -0.5, float("nan"), float("inf")])
def test_non_finite_or_non_positive_scale_is_refused(scale):
    with pytest.raises(ModelFormatError, match=r"tensor 0 'x': quantization scale\[0\] is .* not a finite positive"):
        refinterp.parse_model(_quantized([scale], [0]))
    # a float tensor's quantization is never used by a kernel: kept as written
    assert refinterp.parse_model(_quantized([scale], [0], type_code=0)).main.tensors[0].quantization is not None


@pytest.mark.parametrize("type_code, zero_point", [(9, 128), (9, -129), (3, -1), (7, 40000), (2, 1 << 31),
                                                   (0, 1 << 33)])
def test_zero_point_outside_the_type_or_int32_is_refused(type_code, zero_point):
    with pytest.raises(ModelFormatError, match="zero_point"):
        refinterp.parse_model(_quantized([0.5], [zero_point], type_code=type_code))


def test_zero_point_inside_the_type_is_kept():
    tensor = refinterp.parse_model(_quantized([0.5], [127])).main.tensors[0]
    assert tensor.quantization.zero_point.tolist() == [127]


# ------------------------------------------------------------------------------------------------ (f) sparsity


def _sparse_model(consumer: str = "DENSIFY", valid: bool = True) -> bytes:
    """A 2x2 float32 constant [[1, 0], [0, 2]] stored sparse (row DENSE, column CSR), fed to ``consumer``."""
    b = flatbuffers.Builder(1024)

    def int32_vector(values):
        vector = b.CreateNumpyVector(np.asarray(values, "<i4"))
        tflite.Int32VectorStart(b)
        tflite.Int32VectorAddValues(b, vector)
        return tflite.Int32VectorEnd(b)

    segments, indices = int32_vector([0, 1, 2]), int32_vector([0, 1])
    tflite.DimensionMetadataStart(b)
    tflite.DimensionMetadataAddFormat(b, 0)
    tflite.DimensionMetadataAddDenseSize(b, 2)
    dense = tflite.DimensionMetadataEnd(b)
    tflite.DimensionMetadataStart(b)
    tflite.DimensionMetadataAddFormat(b, 1)
    tflite.DimensionMetadataAddArraySegmentsType(b, 1)
    tflite.DimensionMetadataAddArraySegments(b, segments)
    tflite.DimensionMetadataAddArrayIndicesType(b, 1)
    tflite.DimensionMetadataAddArrayIndices(b, indices)
    csr = tflite.DimensionMetadataEnd(b)
    tflite.SparsityParametersStartDimMetadataVector(b, 2)
    b.PrependUOffsetTRelative(csr)
    b.PrependUOffsetTRelative(dense)
    dim_metadata = b.EndVector()
    traversal = b.CreateNumpyVector(np.asarray([0, 1], "<i4"))
    tflite.SparsityParametersStart(b)
    if valid:
        tflite.SparsityParametersAddTraversalOrder(b, traversal)
    tflite.SparsityParametersAddDimMetadata(b, dim_metadata)
    sparsity = tflite.SparsityParametersEnd(b)

    def tensor(name, buffer=0, sparse=False):
        name_offset = b.CreateString(name)
        shape = b.CreateNumpyVector(np.asarray([2, 2], "<i4"))
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, shape)
        tflite.TensorAddType(b, 0)
        tflite.TensorAddBuffer(b, buffer)
        tflite.TensorAddName(b, name_offset)
        if sparse:
            tflite.TensorAddSparsity(b, sparsity)
        return tflite.TensorEnd(b)

    tensors = [tensor("sparse weights", 1, sparse=True), tensor("x"), tensor("y")]
    inputs, op_inputs, op_outputs = ([], [0], [2]) if consumer == "DENSIFY" else ([1], [0, 1], [2])
    data = b.CreateNumpyVector(np.asarray([1.0, 2.0], "<f4").view(np.uint8))
    tflite.BufferStart(b)
    tflite.BufferAddData(b, data)
    data_buffer = tflite.BufferEnd(b)
    op_in, op_out = b.CreateNumpyVector(np.asarray(op_inputs, "<i4")), b.CreateNumpyVector(np.asarray(op_outputs,
                                                                                                      "<i4"))
    tflite.OperatorStart(b)
    tflite.OperatorAddInputs(b, op_in)
    tflite.OperatorAddOutputs(b, op_out)
    operator = tflite.OperatorEnd(b)
    tflite.OperatorCodeStart(b)
    tflite.OperatorCodeAddBuiltinCode(b, getattr(tflite.BuiltinOperator, consumer))
    tflite.OperatorCodeAddDeprecatedBuiltinCode(b, getattr(tflite.BuiltinOperator, consumer))
    tflite.OperatorCodeAddVersion(b, 1)
    code = tflite.OperatorCodeEnd(b)
    tflite.SubGraphStartTensorsVector(b, 3)
    for t in reversed(tensors):
        b.PrependUOffsetTRelative(t)
    tensors_vector = b.EndVector()
    tflite.SubGraphStartOperatorsVector(b, 1)
    b.PrependUOffsetTRelative(operator)
    operators_vector = b.EndVector()
    sg_inputs, sg_outputs = b.CreateNumpyVector(np.asarray(inputs, "<i4")), b.CreateNumpyVector(np.asarray([2],
                                                                                                          "<i4"))
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, tensors_vector)
    tflite.SubGraphAddOperators(b, operators_vector)
    tflite.SubGraphAddInputs(b, sg_inputs)
    tflite.SubGraphAddOutputs(b, sg_outputs)
    subgraph = tflite.SubGraphEnd(b)
    tflite.BufferStart(b)
    sentinel = tflite.BufferEnd(b)
    tflite.ModelStartOperatorCodesVector(b, 1)
    b.PrependUOffsetTRelative(code)
    codes = b.EndVector()
    tflite.ModelStartSubgraphsVector(b, 1)
    b.PrependUOffsetTRelative(subgraph)
    subgraphs = b.EndVector()
    tflite.ModelStartBuffersVector(b, 2)
    b.PrependUOffsetTRelative(data_buffer)
    b.PrependUOffsetTRelative(sentinel)
    buffers = b.EndVector()
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, codes)
    tflite.ModelAddSubgraphs(b, subgraphs)
    tflite.ModelAddBuffers(b, buffers)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def test_sparse_constant_into_densify_runs_like_litert():
    content = _sparse_model("DENSIFY")
    litert = litert_module()
    interpreter = litert.Interpreter(model_content=content,  # LiteRT runs it: the dense [[1, 0], [0, 2]]
                                     experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    interpreter.invoke()
    np.testing.assert_array_equal(interpreter.get_tensor(2), [[1, 0], [0, 2]])
    model = refinterp.parse_model(content)  # the 8 sparse bytes are not held against the dense 16
    tensor = model.main.tensors[0]
    assert tensor.has_sparsity and tensor.data.nbytes == 8
    assert tensor.sparsity.traversal_order == (0, 1) and tensor.sparsity.block_map == ()
    assert [d.format for d in tensor.sparsity.dim_metadata] == ["DENSE", "SPARSE_CSR"]
    assert tensor.sparsity.dim_metadata[1].array_segments.tolist() == [0, 1, 2]
    ours = refinterp.Interpreter(model_content=content)
    ours.allocate_tensors()
    ours.invoke()
    out = ours.get_tensor(2)
    assert out.dtype == np.float32 and out.tobytes() == interpreter.get_tensor(2).tobytes()


def test_sparse_constant_into_another_operator_is_refused_naming_the_tensor():
    with pytest.raises(UnsupportedOpError, match=r"operator 0 \(ADD\): input tensor 0 'sparse weights' is sparse.*"
                                                 r"DENSIFY") as info:
        refinterp.parse_model(_sparse_model("ADD"))
    assert_one_line(str(info.value))


def test_sparse_fully_connected_weights_are_refused_although_litert_ref_reads_them():
    """LiteRT's reference FULLY_CONNECTED has a float sparse-weights path (FullyConnectedSparseWeight); refinterp
    does not: it refuses the model rather than read the stored values as dense weights."""
    weights = np.array([[1, 0, 0, 3], [0, 0, 0, 0], [0, 5, 6, 0]], np.float32)
    values, sparsity = sparsify(weights, formats=["DENSE", "SPARSE_CSR"])
    content = single_op_model("FULLY_CONNECTED", [
        TensorSpec((1, 4), "float32"), TensorSpec((3, 4), "float32", data=values, sparsity=sparsity,
                                                  name="w"), None], [TensorSpec((1, 3), "float32")])
    np.testing.assert_array_equal(run_litert_ref(content, [np.ones((1, 4), np.float32)])[0], [[4, 0, 11]])
    with pytest.raises(UnsupportedOpError, match=r"FULLY_CONNECTED\).*'w' is sparse") as info:
        refinterp.parse_model(content)
    assert_one_line(str(info.value))


def test_invalid_sparsity_is_refused_at_load_like_litert():
    content = _sparse_model("DENSIFY", valid=False)
    assert litert_load(content) == "refused"
    with pytest.raises(ModelFormatError, match="traversal_order"):
        refinterp.parse_model(content)


def _densify_model(sparsity, values, shape=(2, 3), dtype="float32") -> bytes:
    return single_op_model("DENSIFY", [TensorSpec(shape, dtype, data=np.asarray(values, dtype), sparsity=sparsity,
                                                  name="w")], [TensorSpec(shape, dtype)])


def _csr(segments, indices, **kwargs):
    return DimensionMetadataSpec("SPARSE_CSR", 0, segments, indices, **kwargs)


def _dense(size):
    return DimensionMetadataSpec("DENSE", size)


def _malformed_sparsity():
    """(what is wrong, SparsitySpec, stored values, message pattern) for a 2x3 float32 constant."""
    good = [_dense(2), _csr([0, 1, 2], [0, 2])]
    return [
        ("an index past its dimension", SparsitySpec([0, 1], [_dense(2), _csr([0, 1, 2], [0, 3])]), [1, 2],
         r"array_indices\[1\] = 3 is outside 0\.\.2"),
        ("a negative int32 index", SparsitySpec([0, 1], [_dense(2), _csr([0, 1, 2], [0, -1])]), [1, 2],
         r"array_indices\[1\] = -1"),
        ("decreasing segments", SparsitySpec([0, 1], [_dense(2), _csr([0, 2, 1], [0, 2])]), [1, 2],
         "non-decreasing"),
        ("segments past the indices", SparsitySpec([0, 1], [_dense(2), _csr([0, 1, 5], [0, 2])]), [1, 2],
         "non-decreasing"),
        ("too few segment bounds", SparsitySpec([0, 1], [_dense(2), _csr([0, 1], [0, 2])]), [1, 2],
         "segment bounds"),
        ("fewer stored values than leaves", SparsitySpec([0, 1], good), [1], "stores 1 values"),
        ("a dense level larger than its dimension", SparsitySpec([0, 1], [_dense(3), _csr([0, 1, 2, 2], [0, 2])]),
         [1, 2], "dense level 0 has size 3"),
        ("a traversal order that is not a permutation", SparsitySpec([0, 0], good), [1, 2], "traversal_order"),
        ("too few dimension metadata", SparsitySpec([0, 1], good[:1]), [1, 2], "dimension metadata"),
        ("a block of size 0", SparsitySpec([0, 1, 2], [*good, _dense(0)], block_map=[1]), [1, 2],
         "block 0 has size 0"),
        ("a block_map beyond the rank", SparsitySpec([0, 1, 2], [*good, _dense(1)], block_map=[2]), [1, 2],
         "block_map"),
    ]


@pytest.mark.parametrize("what", [m[0] for m in _malformed_sparsity()])
def test_malformed_sparse_constant_is_refused_at_allocation(what):
    """LiteRT checks none of these (its FormatConverter reads or writes outside its buffers): one-line refusal."""
    _, sparsity, values, pattern = next(m for m in _malformed_sparsity() if m[0] == what)
    content = _densify_model(sparsity, values)
    refinterp.parse_model(content)  # the reader accepts it, as LiteRT's does
    with pytest.raises(refinterp.PrepareError, match=r"operator 0 \(DENSIFY\): input tensor 0 'w': .*" + pattern) \
            as info:
        refinterp.Interpreter(model_content=content).allocate_tensors()
    assert_one_line(str(info.value))


def test_sparse_index_vector_of_no_known_type_is_refused_at_load_like_litert():
    content = _densify_model(SparsitySpec([0, 1], [_dense(2), _csr([0, 1, 2], [0, 2], indices_type=None)]), [1, 2])
    assert litert_load(content) == "refused"
    with pytest.raises(ModelFormatError, match="sparse dimension 1 has no valid array indices") as info:
        refinterp.parse_model(content)
    assert_one_line(str(info.value))


@pytest.mark.parametrize("dtype", ["uint8", "int32"])
def test_densify_of_a_type_litert_does_not_expand_is_refused(dtype):
    content = _densify_model(SparsitySpec([0, 1], [_dense(2), _csr([0, 1, 2], [0, 2])]), [1, 2], dtype=dtype)
    with pytest.raises(Rejected, match="not supported"):  # LiteRT: "Type %d not supported" at invoke
        run_litert_ref(content, [])
    with pytest.raises(refinterp.PrepareError, match=f"input type {dtype}") as info:
        refinterp.Interpreter(model_content=content).allocate_tensors()
    assert_one_line(str(info.value))


def test_sparse_shared_model_runs_like_litert():
    """mediapipe's face detection with float16 sparse weights (DENSIFY -> DEQUANTIZE -> CONV_2D): every
    output bit-exact against LiteRT BUILTIN_REF (benchmarks/corpus_table.py compares every tensor)."""
    path = shared_model("mediapipe/face_detection_full_range_sparse.tflite")
    content = path.read_bytes()
    model = refinterp.parse_model(content)
    densify = [op for op in model.main.operators if op.name == "DENSIFY"]
    assert len(densify) == 46
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, model.main.tensors[model.main.inputs[0]].shape).astype(np.float32)
    expected = run_litert_ref(content, [x])
    got = run_refinterp(content, [x])
    assert len(expected) == len(got)
    for e, g in zip(expected, got):
        assert e.dtype == g.dtype and e.shape == g.shape and e.tobytes() == g.tobytes()


# ------------------------------------------------------------------------------------------------ (g) messages


HOSTILE_NAME = "line one\nline two\r\x00\x1b[31m" + "x" * 500


def test_names_from_the_file_are_escaped_and_truncated():
    model = rawmodel.reshape_model(buffers=[b"", b"\x01\x02\x03"])
    model.tensors[0].buffer = 1
    model.tensors[0].name = HOSTILE_NAME
    with pytest.raises(ModelFormatError) as info:
        refinterp.parse_model(rawmodel.write(model))
    message = str(info.value)
    assert_one_line(message)
    assert "line one\\nline two\\r\\x00\\x1b[31m" in message and "needs 6" in message


def test_garbage_shapes_make_short_messages():
    model = rawmodel.reshape_model()
    model.tensors[1].shape = [7] * 4000 + [-1]
    with pytest.raises(ModelFormatError, match=r"negative dimension in shape \[7, 7, .* more\]") as info:
        refinterp.parse_model(rawmodel.write(model))
    assert_one_line(str(info.value))
    model.tensors[1].shape = [100000] * 4000
    with pytest.raises(ModelFormatError, match="overflows") as info:
        refinterp.parse_model(rawmodel.write(model))
    assert_one_line(str(info.value))


def test_shown_helper():
    assert shown("a\nb\x00") == "'a\\nb\\x00'"
    assert len(shown("x" * 10_000)) < 70
    assert shown(list(range(5000))).endswith("+4983 more]")
    assert shown(b"\xffok") == "'\ufffdok'"


def test_repr_of_a_hostile_tensor_is_one_line():
    model = rawmodel.reshape_model()
    model.tensors[0].name = HOSTILE_NAME
    tensor = refinterp.parse_model(rawmodel.write(model)).main.tensors[0]
    assert_one_line(repr(tensor))


# ------------------------------------------------------------------------------------------------ real models


def test_every_shared_model_passes_the_verifier():
    paths = sorted(SHARED_MODELS.rglob("*.tflite")) if SHARED_MODELS.is_dir() else []
    if not paths:
        shared_model("MANIFEST.tsv")  # skips (fails under CI) with the reason
    for path in paths:
        fv.verify_model(path.read_bytes())


_LITERT_CHILD = r"""
import pickle, sys
from ai_edge_litert.interpreter import Interpreter
mutants = pickle.load(open(sys.argv[1], "rb"))
with open(sys.argv[3], "a", buffering=1) as out:
    for i in range(int(sys.argv[2]), len(mutants)):
        out.write(f"{i} start\n")
        try:
            Interpreter(model_content=mutants[i])
            verdict = "ok"
        except ValueError as exc:
            verdict = "verifier" if "not a valid Flatbuffer" in str(exc) else "refused"
        except Exception:
            verdict = "refused"
        out.write(f"{i} {verdict}\n")
"""


def _litert_verdicts(mutants: list[bytes], workdir: Path) -> list[str]:
    """LiteRT's load verdict on each mutant, in a child process (restarted after a crash: "crash")."""
    batch, log = workdir / "mutants.pkl", workdir / "verdicts.txt"
    batch.write_bytes(pickle.dumps(mutants))
    verdicts: dict[int, str] = {}
    start = 0
    while len(verdicts) < len(mutants):
        subprocess.run([sys.executable, "-c", _LITERT_CHILD, str(batch), str(start), str(log)],
                       capture_output=True, timeout=300)
        started = None
        for line in log.read_text().splitlines():
            index, verdict = line.split()
            if verdict == "start":
                started = int(index)
            else:
                verdicts[int(index)] = verdict
        if len(verdicts) < len(mutants):
            assert started is not None
            verdicts[started] = "crash"
            start = started + 1
    return [verdicts[i] for i in range(len(mutants))]


def _structure_positions(content: bytes) -> np.ndarray:
    """Byte positions outside the constant-data vectors (flipping weights exercises nothing)."""
    keep = np.ones(len(content), bool)
    model = root(content)
    for i in range(model.BuffersLength()):
        buffer = model.Buffers(i)
        if not buffer.DataIsNone() and buffer.DataLength() > 16:
            start = buffer._tab.Vector(buffer._tab.Offset(4))
            keep[start:start + buffer.DataLength()] = False
    return np.flatnonzero(keep)


def _mutants(content: bytes, rng: np.random.Generator, count: int) -> list[bytes]:
    positions = _structure_positions(content)
    interesting = [0, 1, 2, 4, 8, 0xFFFFFFFF, 0xFFFFFFFC, 0x7FFFFFFF, 0x80000000, len(content), len(content) - 4]
    out = []
    for _ in range(count):
        mutant = bytearray(content)
        kind = rng.random()
        if kind < 0.5:  # byte flips
            for position in rng.choice(positions, int(rng.integers(1, 4))):
                mutant[position] = int(rng.integers(0, 256))
        elif kind < 0.9:  # a 4-byte word (an offset, a length, a vtable entry pair) set to an edge value
            position = int(rng.choice(positions)) & ~3
            value = int(rng.choice(interesting)) if rng.random() < 0.7 else int(rng.integers(0, 1 << 32))
            mutant[position:position + 4] = value.to_bytes(4, "little")
        else:  # truncation
            del mutant[int(rng.integers(0, len(mutant))):]
        out.append(bytes(mutant))
    return out


def test_litert_and_refinterp_agree_on_acceptance_of_mutants(tmp_path):
    """Bounded: a few hundred structure mutants of real and built models. The verifier verdicts must be
    identical (0 disagreements either way); refinterp must not run what LiteRT refuses at load."""
    litert_module()
    sources = [CONV]
    for relative in ("tflite-micro/hello_world_int8.tflite", "seanet-int16/conv2.tflite",
                     "stm32-model-zoo/human_activity_recognition__gmp_wl_24_int8.tflite"):
        if (SHARED_MODELS / relative).exists():
            sources.append((SHARED_MODELS / relative).read_bytes())
        else:
            shared_model(relative)
    rng = np.random.default_rng(10)
    mutants = [m for content in sources for m in _mutants(content, rng, 100)]
    started = time.perf_counter()
    litert = _litert_verdicts(mutants, tmp_path)
    ours = []
    for mutant in mutants:
        try:
            refinterp.parse_model(mutant)
            ours.append("ok")
        except ModelFormatError as exc:
            assert_one_line(str(exc))
            ours.append("verifier" if str(exc).startswith("flatbuffer verifier") else "refused")
        except UnsupportedOpError as exc:
            assert_one_line(str(exc))
            ours.append("refused")
    counts = Counter(zip(litert, ours))
    print(f"\n{len(mutants)} mutants in {time.perf_counter() - started:.1f}s (LiteRT, refinterp): {dict(counts)}")
    assert counts[("crash", "ok")] == 0
    verifier_disagreements = [(i, a, b) for i, (a, b) in enumerate(zip(litert, ours))
                              if (a == "verifier") != (b == "verifier")]
    assert not verifier_disagreements, verifier_disagreements[:5]
    # LiteRT refused at load for another reason (an operator version or code it cannot resolve, an option it
    # cannot parse) and refinterp parsed: counted, for the interpreter's checks to bring down
    later = Counter()
    for mutant, a, b in zip(mutants, litert, ours):
        if a == "refused" and b == "ok":
            try:
                interpreter = refinterp.Interpreter(model_content=mutant)
                interpreter.allocate_tensors()
                later["refinterp allocates"] += 1
            except RefinterpError as exc:
                assert_one_line(str(exc))
                later["refinterp refuses at allocation"] += 1
    print(f"LiteRT refused at load, refinterp parsed: {dict(later)}")


def test_parser_checks_that_need_no_litert():
    """Structure LiteRT's reader refuses after its verifier: tensors vector absent, no buffers vector."""
    b = flatbuffers.Builder(256)
    tflite.SubGraphStart(b)
    subgraph = tflite.SubGraphEnd(b)
    tflite.ModelStartSubgraphsVector(b, 1)
    b.PrependUOffsetTRelative(subgraph)
    subgraphs = b.EndVector()
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddSubgraphs(b, subgraphs)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    content = bytes(b.Output())
    assert refinterp_verifier(content) == "ok"
    with pytest.raises(ModelFormatError, match="no buffers vector"):
        refinterp.parse_model(content)


def test_input_and_output_overlap_is_refused_like_litert():
    content = rawmodel.write(rawmodel.reshape_model(op_outputs=[0], outputs=[0]))
    with pytest.raises(ModelFormatError, match="both an input and an output"):
        refinterp.parse_model(content)
    litert = litert_module()
    with pytest.raises(RuntimeError, match="both input"):
        litert.Interpreter(model_content=content).allocate_tensors()

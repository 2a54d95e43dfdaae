"""Memory safety by construction: every shape planned and checked before a kernel runs, every size under a limit.

Each model is built with refinterp.modelbuilder, then mutated the way a broken converter or an attacker would
(a declared shape that disagrees with the data, -1 batch signatures, paddings / resize sizes / tile multiples of
2**31-1, a huge broadcast, an operator version no runtime has). refinterp must answer with one short line, a
RefinterpError other than KernelError, and allocate nothing large on the way (tracemalloc peak under
``SMALL_PEAK``); where LiteRT's verdict is meaningful (it does not itself allocate gigabytes), it is asserted
alongside, from ai-edge-litert 2.3.0 BUILTIN_REF (tests/oracle.py).

Shape signatures and extra operator codes are written through LiteRT's own generated object API
(``ai_edge_litert.schema_py_generated``), as the fuzzer does: modelbuilder writes neither.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from oracle import Rejected, run_litert_ref

import refinterp
from refinterp.errors import (
    EvalError,
    InputError,
    KernelError,
    ModelFormatError,
    PrepareError,
    RefinterpError,
    UnsupportedOpError,
)
from refinterp.interpreter import MAX_TENSOR_BYTES_ENV, MAX_TOTAL_BYTES_ENV, parse_byte_size
from refinterp.modelbuilder import OpSpec, TensorSpec, build_model, single_op_model

BIG = 2**31 - 1
SMALL_PEAK = 64 << 20  # bytes tracemalloc may see at most while refinterp refuses a model
KERNELS = ("fast", "spec")
Q = {"scale": 0.1, "zero_point": 0}


# ------------------------------------------------------------------------------------------------ helpers


def _schema():
    return pytest.importorskip("ai_edge_litert.schema_py_generated", reason="ai-edge-litert is not installed")


def _repack(model) -> bytes:
    import flatbuffers

    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def with_signatures(content: bytes, signatures: dict[int, tuple[int, ...]]) -> bytes:
    """The model with these tensors' shape_signature set (tensor index -> signature)."""
    model = _schema().ModelT.InitFromPackedBuf(content, 0)
    for index, signature in signatures.items():
        model.subgraphs[0].tensors[index].shapeSignature = list(signature)
    return _repack(model)


def with_batch_signatures(content: bytes) -> bytes:
    """-1 for the batch of every tensor without data: what converters write."""
    model = _schema().ModelT.InitFromPackedBuf(content, 0)
    for tensor in model.subgraphs[0].tensors:
        if len(tensor.shape) and model.buffers[tensor.buffer].data is None:
            tensor.shapeSignature = [-1, *list(tensor.shape)[1:]]
    return _repack(model)


def with_extra_operator_code(content: bytes, code: int, version: int) -> bytes:
    """The model with one more, unused, entry in its operator code table."""
    schema = _schema()
    model = schema.ModelT.InitFromPackedBuf(content, 0)
    entry = schema.OperatorCodeT()
    entry.builtinCode, entry.deprecatedBuiltinCode, entry.version = code, min(code, 127), version
    model.operatorCodes.append(entry)
    return _repack(model)


def run(content: bytes, inputs, **options) -> list[np.ndarray]:
    interpreter = refinterp.Interpreter(model_content=content, **options)
    interpreter.allocate_tensors()
    for detail, value in zip(interpreter.get_input_details(), inputs, strict=True):
        interpreter.set_tensor(detail["index"], value)
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


def refuse(content: bytes, inputs, error: type[RefinterpError], fragment: str, **options) -> str:
    """refinterp refuses with ``error`` (never a KernelError), one short line containing ``fragment``, and
    without a large allocation on the way."""
    tracemalloc.start()
    try:
        with pytest.raises(error) as caught:
            run(content, inputs, **options)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = str(caught.value)
    assert not isinstance(caught.value, KernelError), message
    assert fragment in message, message
    assert "\n" not in message and len(message) <= 300 and message.isprintable(), message
    assert peak < SMALL_PEAK, f"peak {peak} bytes while refusing: {message}"
    return message


def litert_verdict(content: bytes, inputs) -> str | list[np.ndarray]:
    """LiteRT BUILTIN_REF's outputs, or the stage at which it refused the model."""
    pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert is not installed")
    try:
        return run_litert_ref(content, inputs)
    except Rejected as rejected:
        return rejected.stage


def quantized_filter(shape, axis: int) -> TensorSpec:
    channels = shape[axis]
    return TensorSpec(shape, "int8", scale=[0.05] * channels, zero_point=[0] * channels, quantized_dimension=axis,
                      data=np.ones(shape, np.int8))


def bias(channels: int) -> TensorSpec:
    return TensorSpec((channels,), "int32", scale=[0.005] * channels, zero_point=[0] * channels,
                      data=np.arange(channels, dtype=np.int32))


SAME_1 = {"padding": "SAME", "stride_w": 1, "stride_h": 1}


def conv_then_depthwise(conv_channels: int, declared_channels: int) -> bytes:
    """CONV_2D making ``conv_channels`` channels into a tensor declared with ``declared_channels``, read by a
    DEPTHWISE_CONV_2D prepared for ``declared_channels``; every activation's batch is -1 in its signature."""
    tensors = [TensorSpec((1, 4, 4, 8), "int8", **Q, name="x"), quantized_filter((conv_channels, 1, 1, 8), 0),
               bias(conv_channels), TensorSpec((1, 4, 4, declared_channels), "int8", **Q, name="t"),
               quantized_filter((1, 3, 3, declared_channels), 3), bias(declared_channels),
               TensorSpec((1, 4, 4, declared_channels), "int8", scale=0.5, zero_point=0, name="y")]
    operators = [OpSpec("CONV_2D", [0, 1, 2], [3], SAME_1),
                 OpSpec("DEPTHWISE_CONV_2D", [3, 4, 5], [6], {**SAME_1, "depth_multiplier": 1})]
    return with_batch_signatures(build_model(tensors, operators, [0], [6]))


X8 = np.arange(128, dtype=np.int8).reshape(1, 4, 4, 8)


# ------------------------------------------------------------------------------------------------ shapes


@pytest.mark.parametrize("kernels", KERNELS)
def test_batch_minus_one_signatures_run_like_litert(kernels):
    content = conv_then_depthwise(8, 8)
    expected = litert_verdict(content, [X8])
    assert isinstance(expected, list)
    (got,) = run(content, [X8], kernels=kernels)
    assert got.shape == expected[0].shape and np.array_equal(got, expected[0])


@pytest.mark.parametrize("kernels", KERNELS)
def test_depthwise_never_sees_more_channels_than_declared(kernels):
    """The heap overflow of issue 10: 16 channels reach a depthwise convolution prepared for 8. The CONV_2D
    output shape CONV_2D says at allocate is checked against the declared [1, 4, 4, 8] although its signature is
    [-1, 4, 4, 8], before any kernel runs (LiteRT resizes the tensor to 16 channels and refuses at the depthwise
    Prepare)."""
    content = conv_then_depthwise(16, 8)
    assert litert_verdict(content, [X8]) == "prepare"
    refuse(content, [X8], PrepareError, "operator 0 (CONV_2D): output 0 (tensor 3 't') gets shape [1, 4, 4, 16] from "
           "its inputs, the model declares [1, 4, 4, 8]", kernels=kernels)


def test_an_output_prepare_computes_is_checked_at_allocate():
    """CONCATENATION says its output shape: the disagreement is found by allocate_tensors, nothing runs."""
    tensors = [TensorSpec((1, 4, 4, 8), "int8", **Q, name="x"), TensorSpec((1, 4, 4, 8), "int8", **Q, name="t"),
               quantized_filter((1, 3, 3, 8), 3), bias(8), TensorSpec((1, 4, 4, 8), "int8", scale=0.5, name="y")]
    operators = [OpSpec("CONCATENATION", [0, 0], [1], {"axis": 3}),
                 OpSpec("DEPTHWISE_CONV_2D", [1, 2, 3], [4], {**SAME_1, "depth_multiplier": 1})]
    content = with_batch_signatures(build_model(tensors, operators, [0], [4]))
    assert litert_verdict(content, [X8]) == "prepare"
    interpreter = refinterp.Interpreter(model_content=content)
    with pytest.raises(PrepareError, match=r"operator 0 \(CONCATENATION\): output 0 \(tensor 1 't'\) gets shape "
                                           r"\[1, 4, 4, 16\] from its inputs, the model declares \[1, 4, 4, 8\]"):
        interpreter.allocate_tensors()


def test_inputs_must_be_what_prepare_planned():
    """run_operator (compare --isolate) hands a kernel arrays from elsewhere: shape and dtype are checked."""
    interpreter = refinterp.Interpreter(model_content=conv_then_depthwise(8, 8))
    interpreter.allocate_tensors()
    weights = [interpreter.get_tensor(i) for i in (4, 5)]
    with pytest.raises(InputError, match=r"input 0 \(tensor 3 't'\) is int8 \[1, 4, 4, 16\], prepared for "
                                         r"int8 \[1, 4, 4, 8\]"):
        interpreter.run_operator(1, [np.zeros((1, 4, 4, 16), np.int8), *weights])
    with pytest.raises(InputError, match="is int16"):
        interpreter.run_operator(1, [np.zeros((1, 4, 4, 8), np.int16), *weights])
    (y,) = interpreter.run_operator(1, [X8, *weights])
    assert y.shape == (1, 4, 4, 8)


def dynamic_reshape_model(signature: tuple[int, ...] | None) -> bytes:
    """RESHAPE by a shape given at run time, then ADD reading the result (prepared again on its shape)."""
    tensors = [TensorSpec((1, 6), "int8", **Q, name="x"), TensorSpec((2,), "int32", name="shape"),
               TensorSpec((1, 6), "int8", **Q, name="r"), TensorSpec((1, 6), "int8", scale=0.2, name="z")]
    content = build_model(tensors, [OpSpec("RESHAPE", [0, 1], [2]), OpSpec("ADD", [2, 2], [3])], [0, 1], [3])
    return with_signatures(content, {2: signature, 3: signature}) if signature else content


@pytest.mark.parametrize("new_shape", [(1, 6), (2, 3), (3, 2), (6, 1), (-1, 2)])
def test_value_dependent_shapes_are_planned_again_downstream(new_shape):
    content = dynamic_reshape_model((-1, -1))
    inputs = [np.arange(-3, 3, dtype=np.int8).reshape(1, 6), np.array(new_shape, np.int32)]
    expected = litert_verdict(content, inputs)
    assert isinstance(expected, list)
    interpreter = refinterp.Interpreter(model_content=content)
    interpreter.allocate_tensors()
    for _ in range(2):  # a second invoke starts again from the plan
        for detail, value in zip(interpreter.get_input_details(), inputs):
            interpreter.set_tensor(detail["index"], value)
        interpreter.invoke()
        got = interpreter.get_tensor(3)
        assert got.shape == expected[0].shape and np.array_equal(got, expected[0])
        assert list(interpreter.get_output_details()[0]["shape"]) == list(expected[0].shape)


def test_value_dependent_shape_refused_before_the_kernel():
    inputs = [np.zeros((1, 6), np.int8), np.array([3, 3], np.int32)]
    assert litert_verdict(dynamic_reshape_model((-1, -1)), inputs) == "invoke"
    refuse(dynamic_reshape_model((-1, -1)), inputs, EvalError, "operator 0 (RESHAPE): new shape [3, 3] holds 9")
    # a static signature: refinterp holds the file to it (LiteRT resizes the tensor and runs)
    inputs = [np.zeros((1, 6), np.int8), np.array([2, 3], np.int32)]
    refuse(dynamic_reshape_model(None), inputs, EvalError,
           "output 0 (tensor 2 'r') would get shape [2, 3], which does not fit its shape signature [1, 6]")


# ------------------------------------------------------------------------------------------------ sizes


X = np.arange(4, dtype=np.int8).reshape(1, 2, 2, 1)


def pad_model(paddings, output_shape, constant: bool = True) -> bytes:
    values = np.array(paddings, np.int32) if constant else None
    return single_op_model("PAD", [TensorSpec((1, 2, 2, 1), "int8", **Q), TensorSpec((4, 2), "int32", data=values)],
                           [TensorSpec(output_shape, "int8", **Q)])


HUGE_PADDINGS = [[0, 0], [0, BIG - 2], [0, 0], [0, 0]]


def test_pad_of_huge_paddings_is_refused_before_allocating():
    refuse(pad_model(HUGE_PADDINGS, (1, 4, 4, 1)), [X], PrepareError,
           "operator 0 (PAD): output 0 (tensor 2 'output_0') gets shape [1, 2147483647, 2, 1] from its inputs, "
           "the model declares [1, 4, 4, 1]")
    message = refuse(pad_model(HUGE_PADDINGS, (1, BIG, 2, 1)), [X], PrepareError,
                     "output tensor 2 'output_0' of shape [1, 2147483647, 2, 1] int8 needs 4.0 GiB, over the limit "
                     "of 2.0 GiB for one tensor")
    assert "max_tensor_bytes=" in message and MAX_TENSOR_BYTES_ENV in message
    dynamic = with_signatures(pad_model(None, (1, 4, 4, 1), constant=False), {2: (-1, -1, -1, -1)})
    refuse(dynamic, [X, np.array(HUGE_PADDINGS, np.int32)], EvalError, "over the limit of 2.0 GiB for one tensor")
    negative = np.array([[0, 0], [0, -5], [0, 0], [0, 0]], np.int32)
    assert litert_verdict(dynamic, [X, negative]) == "invoke"
    refuse(dynamic, [X, negative], EvalError, "operator 0 (PAD): paddings")
    ordinary = np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32)
    (expected,) = litert_verdict(dynamic, [X, ordinary])
    assert np.array_equal(run(dynamic, [X, ordinary])[0], expected)


def resize_model(op: str, size, output_shape) -> bytes:
    values = np.array(size, np.int32) if size is not None else None
    return single_op_model(op, [TensorSpec((1, 2, 2, 1), "int8", **Q), TensorSpec((2,), "int32", data=values)],
                           [TensorSpec(output_shape, "int8", **Q)])


@pytest.mark.parametrize("op", ["RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR"])
def test_resize_to_two_to_the_31_is_refused_before_allocating(op):
    refuse(resize_model(op, [BIG, 1], (1, 4, 4, 1)), [X], PrepareError, "gets shape [1, 2147483647, 1, 1]")
    # a declared shape that agrees: the limit refuses it (here lowered: 2 GiB - 1 byte fits the default)
    refuse(resize_model(op, [BIG, 1], (1, BIG, 1, 1)), [X], PrepareError,
           "needs 2.0 GiB, over the limit of 1.0 GiB for one tensor", max_tensor_bytes="1GiB")
    dynamic = with_signatures(resize_model(op, None, (1, 4, 4, 1)), {2: (1, -1, -1, 1)})
    refuse(dynamic, [X, np.array([BIG, BIG], np.int32)], EvalError, "needs about 2^61 bytes, over the limit")
    ordinary = [X, np.array([3, 5], np.int32)]
    (expected,) = litert_verdict(dynamic, ordinary)
    (got,) = run(dynamic, ordinary)
    assert got.shape == expected.shape == (1, 3, 5, 1) and np.array_equal(got, expected)


def tile_model(multiples, output_shape) -> bytes:
    values = np.array(multiples, np.int32) if multiples is not None else None
    return single_op_model("TILE", [TensorSpec((1, 2, 2, 1), "int8", **Q), TensorSpec((4,), "int32", data=values)],
                           [TensorSpec(output_shape, "int8", **Q)])


def test_tile_by_huge_multiples_is_refused_before_allocating():
    refuse(tile_model([1, 1 << 20, 1 << 20, 1], (1, 4, 4, 1)), [X], PrepareError,
           "gets shape [1, 2097152, 2097152, 1] from its inputs")
    refuse(tile_model([1, 1 << 15, 1 << 15, 1], (1, 1 << 16, 1 << 16, 1)), [X], PrepareError,
           "needs 4.0 GiB, over the limit of 2.0 GiB")
    dynamic = with_signatures(tile_model(None, (1, 4, 4, 1)), {2: (-1, -1, -1, -1)})
    refuse(dynamic, [X, np.array([1, BIG, BIG, 1], np.int32)], EvalError, "over the limit of 2.0 GiB")
    ordinary = [X, np.array([2, 1, 3, 1], np.int32)]
    (expected,) = litert_verdict(dynamic, ordinary)
    (got,) = run(dynamic, ordinary)
    assert got.shape == expected.shape == (2, 2, 6, 1) and np.array_equal(got, expected)


def add_model(shape1, shape2, output_shape) -> bytes:
    return single_op_model("ADD", [TensorSpec(shape1, "int8", **Q), TensorSpec(shape2, "int8", **Q)],
                           [TensorSpec(output_shape, "int8", **Q)])


def test_huge_or_impossible_broadcasts_are_refused():
    a, b = np.zeros((1, 1 << 16, 1, 1), np.int8), np.zeros((1, 1, 1 << 16, 1), np.int8)
    refuse(add_model(a.shape, b.shape, (1, 4, 4, 1)), [a, b], PrepareError, "gets shape [1, 65536, 65536, 1]")
    refuse(add_model(a.shape, b.shape, (1, 1 << 16, 1 << 16, 1)), [a, b], PrepareError,
           "operator 0 (ADD): output tensor 2 'output_0' of shape [1, 65536, 65536, 1] int8 needs 4.0 GiB")
    a, b = np.zeros((1, 4, 1, 3), np.int8), np.zeros((1, 1, 4, 5), np.int8)
    content = add_model(a.shape, b.shape, (1, 4, 4, 5))
    assert litert_verdict(content, [a, b]) == "prepare"
    refuse(content, [a, b], PrepareError, "do not broadcast")


def test_messages_stay_short_with_hostile_names_and_shapes():
    """A 5000-character name with a newline, shapes of 40 dimensions: still one line of at most 300 characters."""
    name = "evil\n" + "x" * 5000
    new_shape = np.array([1] * 40 + [6], np.int32)
    content = single_op_model("RESHAPE", [TensorSpec((1, 6), "int8", **Q), TensorSpec((41,), "int32", data=new_shape)],
                              [TensorSpec((6,) + (1,) * 39, "int8", **Q, name=name)])
    refuse(content, [np.zeros((1, 6), np.int8)], PrepareError, "(tensor 2 'evil\\nxxx")
    content = single_op_model("RESHAPE", [TensorSpec((1, 6), "int8", **Q), TensorSpec((41,), "int32", data=new_shape)],
                              [TensorSpec((1,) * 40 + (6,), "int8", **Q, name=name)])
    refuse(content, [np.zeros((1, 6), np.int8)], PrepareError, "over the limit of 1 bytes", max_total_bytes=1)
    refuse(content, [np.zeros((1, 6), np.int8)], PrepareError, "over the limit of 5 bytes", max_tensor_bytes=5)


# ------------------------------------------------------------------------------------------------ limits


def two_pads() -> bytes:
    """x [1,2,2,1] -> PAD -> [1,4,4,1] (16 bytes) -> PAD -> [1,6,6,1] (36 bytes)."""
    paddings = np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32)
    tensors = [TensorSpec((1, 2, 2, 1), "int8", **Q, name="x"), TensorSpec((4, 2), "int32", data=paddings),
               TensorSpec((1, 4, 4, 1), "int8", **Q, name="p1"), TensorSpec((1, 6, 6, 1), "int8", **Q, name="p2")]
    return build_model(tensors, [OpSpec("PAD", [0, 1], [2]), OpSpec("PAD", [2, 1], [3])], [0], [3])


def test_limits_name_the_operator_the_tensor_and_the_way_to_raise_them(monkeypatch):
    content = two_pads()
    assert run(content, [X])[0].shape == (1, 6, 6, 1)
    message = refuse(content, [X], PrepareError, "operator 1 (PAD): output tensor 3 'p2' of shape [1, 6, 6, 1] int8 "
                     "needs 36 bytes, over the limit of 20 bytes for one tensor", max_tensor_bytes=20)
    assert "raise it: max_tensor_bytes=, --max-tensor-bytes or REFINTERP_MAX_TENSOR_BYTES" in message
    # the total counts every tensor kept: 4 (x) + 16 (p1) + 36 (p2) = 56 bytes
    message = refuse(content, [X], PrepareError, "bringing the tensors kept to 56 bytes, over the limit of 55 bytes",
                     max_total_bytes=55)
    assert "raise it: max_total_bytes=, --max-total-bytes or REFINTERP_MAX_TOTAL_BYTES" in message
    assert run(content, [X], max_total_bytes=56)[0].shape == (1, 6, 6, 1)
    monkeypatch.setenv(MAX_TOTAL_BYTES_ENV, "50")
    refuse(content, [X], PrepareError, "over the limit of 50 bytes")
    assert run(content, [X], max_total_bytes="1KiB")[0].shape == (1, 6, 6, 1)  # the argument wins over the env
    monkeypatch.setenv(MAX_TENSOR_BYTES_ENV, "a lot")
    with pytest.raises(InputError, match=f"{MAX_TENSOR_BYTES_ENV}: 'a lot' is not a size in bytes"):
        refinterp.Interpreter(model_content=content)


@pytest.mark.parametrize(("text", "size"), [(4096, 4096), ("4096", 4096), ("512MiB", 512 << 20), ("4G", 4 << 30),
                                            ("1.5 GiB", 3 << 29), ("2kb", 2048)])
def test_byte_sizes(text, size):
    assert parse_byte_size(text, "max_tensor_bytes") == size


@pytest.mark.parametrize("text", ["", "-1", "0", "4 parsecs", "1e9", "9" * 400 + ".5", True, None, 2.5])
def test_bad_byte_sizes(text):
    with pytest.raises(InputError, match="max_tensor_bytes"):
        refinterp.Interpreter(model_content=two_pads(), max_tensor_bytes=text if text is not None else "none")


# ------------------------------------------------------------------------------------------------ LiteRT acceptance


def fc_model(version: int = 1, bias_dimension: int = 0) -> bytes:
    return single_op_model(
        "FULLY_CONNECTED",
        [TensorSpec((1, 4), "int8", **Q), TensorSpec((3, 4), "int8", scale=0.05, data=np.ones((3, 4), np.int8)),
         TensorSpec((3,), "int32", scale=0.005, quantized_dimension=bias_dimension, data=np.zeros(3, np.int32))],
        [TensorSpec((1, 3), "int8", scale=0.2)], version=version)


FC_INPUT = [np.ones((1, 4), np.int8)]


def test_operator_versions_litert_has_no_kernel_for_refuse_the_model_at_load():
    assert isinstance(litert_verdict(fc_model(14), FC_INPUT), list)
    run(fc_model(14), FC_INPUT)
    assert litert_verdict(fc_model(15), FC_INPUT) == "load"
    refuse(fc_model(15), FC_INPUT, ModelFormatError,
           "operator code 0: FULLY_CONNECTED version 15: LiteRT's reference resolver has versions 1-14")
    assert litert_verdict(fc_model(0), FC_INPUT) == "load"
    refuse(fc_model(0), FC_INPUT, ModelFormatError, "FULLY_CONNECTED version 0")
    run(fc_model(15), FC_INPUT, profile="tflm")  # TFLM ignores operator versions


def test_every_operator_code_is_resolved_used_or_not():
    lstm, hashtable = 16, 136  # LSTM: LiteRT has versions 1-4, refinterp none; HASHTABLE: not in BUILTIN_REF
    content = with_extra_operator_code(fc_model(), lstm, 4)
    assert isinstance(litert_verdict(content, FC_INPUT), list)
    run(content, FC_INPUT)  # unused, and LiteRT has a kernel for it: accepted
    for code, version in ((lstm, 5), (hashtable, 1)):
        content = with_extra_operator_code(fc_model(), code, version)
        assert litert_verdict(content, FC_INPUT) == "load"
        refuse(content, FC_INPUT, ModelFormatError, "operator code 1: ")
        run(content, FC_INPUT, profile="tflm")


def test_what_litert_refuses_at_load_is_refused_under_litert_ref():
    """A 1-D bias with quantized_dimension 3 (person_detect's): LiteRT refuses the model, TFLM runs it."""
    content = fc_model(bias_dimension=3)
    assert refinterp.model.parse_model(content).litert_refusals  # the parser records the reason, refuses nothing
    assert litert_verdict(content, FC_INPUT) == "load"
    refuse(content, FC_INPUT, ModelFormatError, "quantized_dimension 3")
    run(content, FC_INPUT, profile="tflm")


def test_an_unsupported_operator_stays_an_unsupported_op_error():
    content = single_op_model("HASHTABLE_LOOKUP", [TensorSpec((2,), "int32"), TensorSpec((3,), "int32"),
                                                   TensorSpec((3,), "float32")],
                              [TensorSpec((2,), "float32"), TensorSpec((2,), "uint8")])
    with pytest.raises(UnsupportedOpError, match=r"operator 0: HASHTABLE_LOOKUP"):
        refinterp.Interpreter(model_content=content).allocate_tensors()


# ------------------------------------------------------------------------------------------------ kernel bugs


def test_a_kernel_exception_is_a_kernel_error_not_a_refusal():
    interpreter = refinterp.Interpreter(model_content=two_pads())
    interpreter.allocate_tensors()

    def broken(params, *inputs):
        raise IndexError("index 9 is out of bounds\nfor axis 0")

    interpreter._prepared[0].kernel = broken
    interpreter.set_tensor(0, X)
    with pytest.raises(KernelError, match=r"^operator 0 \(PAD\) kernel crashed: IndexError: index 9 is out of "
                                          r"bounds for axis 0$"):
        interpreter.invoke()


@pytest.mark.parametrize(("source", "target"), [("int8", "uint8"), ("uint8", "int8"), ("float32", "int32"),
                                                ("int32", "float32"), ("int8", "float32"), ("float64", "float32")])
def test_reshape_between_types_copies_bytes_like_litert(source, target):
    """LiteRT's RESHAPE copies the input's bytes whatever the types: same size, the bits reinterpreted; another
    size, refinterp refuses (LiteRT would copy past or short of the output)."""
    values = {"int8": [-100, 1, 127, 5], "uint8": [255, 0, 128, 7], "int32": [-1, 1, 127, 1 << 30],
              "float32": [-3.0, 1.5, 200.0, -7e8], "float64": [1.0, 2.0, 3.0, 4.0]}[source]
    x = np.array(values, source).reshape(1, 4)
    content = single_op_model("RESHAPE", [TensorSpec((1, 4), source), TensorSpec((2,), "int32", data=np.array([2, 2],
                                          np.int32))], [TensorSpec((2, 2), target)])
    if np.dtype(source).itemsize != np.dtype(target).itemsize:
        refuse(content, [x], PrepareError, f"input is {source} but output is {target}")
        return
    (expected,) = litert_verdict(content, [x])
    (got,) = run(content, [x])
    assert got.dtype == expected.dtype and np.array_equal(got.view(np.uint8), expected.view(np.uint8))
    refuse(content, [x], PrepareError, f"input is {source} but output is {target}", profile="tflm")


# ------------------------------------------------------------------------------------------------ found by fuzzing


@pytest.mark.parametrize("op", ["RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR"])
def test_resize_of_an_input_without_pixels_is_refused(op):
    """Every output pixel would read input pixels that do not exist (LiteRT 2.3.0 dies with SIGSEGV: not run)."""
    content = single_op_model(op, [TensorSpec((2, 0, 2, 2), "int8", **Q),
                                   TensorSpec((2,), "int32", data=np.array([3, 3], np.int32))],
                              [TensorSpec((2, 3, 3, 2), "int8", **Q)], {"align_corners": True})
    refuse(content, [np.zeros((2, 0, 2, 2), np.int8)], PrepareError, "input [2, 0, 2, 2] has no pixels")


@pytest.mark.parametrize(("op", "options", "output_scale"), [("LEAKY_RELU", {"alpha": 3.4e38}, 0.1),
                                                              ("QUANTIZE", {}, 1e-45), ("RELU", {}, 1e-40)])
def test_scale_ratios_whose_integer_rule_is_undefined_are_refused(op, options, output_scale):
    """A multiplier of 2**30 or more makes TFLite shift an int32 by more than 30 bits (undefined behaviour: LiteRT
    runs such files, with results no rule reproduces); refinterp refuses them."""
    content = single_op_model(op, [TensorSpec((1, 5), "int8", scale=0.0155, zero_point=3)],
                              [TensorSpec((1, 5), "int8", scale=output_scale, zero_point=0)], options)
    refuse(content, [np.arange(-2, 3, dtype=np.int8).reshape(1, 5)], PrepareError, f"operator 0 ({op}): input scale")


@pytest.mark.parametrize("op", ["AVERAGE_POOL_2D", "MAX_POOL_2D"])
@pytest.mark.parametrize("kernels", KERNELS)
def test_pooling_with_an_unknown_padding_has_an_empty_output_like_litert(op, kernels):
    """ComputeOutSize gives 0 for a padding LiteRT does not know: pooling resizes its output to [1, 0, 0, C]."""
    options = {"padding": 7, "stride_w": 1, "stride_h": 1, "filter_width": 2, "filter_height": 2}
    x = np.ones((1, 4, 4, 2), np.int8)
    content = single_op_model(op, [TensorSpec((1, 4, 4, 2), "int8", **Q)], [TensorSpec((1, 0, 0, 2), "int8", **Q)],
                              options)
    (expected,) = litert_verdict(content, [x])
    (got,) = run(content, [x], kernels=kernels)
    assert got.shape == expected.shape == (1, 0, 0, 2)
    refuse(content, [x], PrepareError, "unknown padding -1", profile="tflm", kernels=kernels)
    declared = single_op_model(op, [TensorSpec((1, 4, 4, 2), "int8", **Q)], [TensorSpec((1, 4, 4, 2), "int8", **Q)],
                               options)
    refuse(declared, [x], PrepareError, "output 0 (tensor 1 'output_0') gets shape [1, 0, 0, 2] from its inputs, the "
           "model declares [1, 4, 4, 2]", kernels=kernels)


@pytest.mark.parametrize("op", ["MAX_POOL_2D", "AVERAGE_POOL_2D", "CONV_2D", "DEPTHWISE_CONV_2D"])
def test_paddings_beyond_int16_are_refused_like_litert(op):
    """LiteRT 2.3.0's Prepare fails for a 2-D window padding of 32768 or more (measured; a filter of 65537
    with SAME padding and stride 1); 65536 runs. A dilation of 2**24 (fuzzing: 16 GiB of im2col) is refused
    earlier: LiteRT's convolutions take strides and dilations up to 32767 only."""
    x = np.arange(6, dtype=np.float32).reshape(1, 1, 6, 1)

    def model(filter_width: int, dilation: int = 1) -> bytes:
        options = {"padding": "SAME", "stride_w": 1, "stride_h": 1}
        if op.endswith("POOL_2D"):
            return single_op_model(op, [TensorSpec((1, 1, 6, 1), "float32")], [TensorSpec((1, 1, 6, 1), "float32")],
                                   {**options, "filter_width": filter_width, "filter_height": 1})
        weights = TensorSpec((1, 1, filter_width, 1), "float32", data=np.ones((1, 1, filter_width, 1), np.float32))
        options["dilation_w_factor"] = dilation
        if op == "DEPTHWISE_CONV_2D":
            options["depth_multiplier"] = 1
        return single_op_model(op, [TensorSpec((1, 1, 6, 1), "float32"), weights,
                                    TensorSpec((1,), "float32", data=np.zeros(1, np.float32))],
                               [TensorSpec((1, 1, 6, 1), "float32")], options)

    (expected,) = litert_verdict(model(65536), [x])
    assert np.array_equal(run(model(65536), [x])[0], expected)
    assert litert_verdict(model(65537), [x]) == "prepare"
    refuse(model(65537), [x], PrepareError, "padding 32768 exceeds 32767")
    if not op.endswith("POOL_2D"):
        refuse(model(3, dilation=1 << 24), [x], PrepareError, "dilation_w is 16777216, more than 32767")


# ------------------------------------------------------------------------------------------------ op modules (fuzzing)


def fill_model(dims, output_shape) -> bytes:
    values = np.array(dims, np.int32) if dims is not None else None
    return single_op_model("FILL", [TensorSpec((2,), "int32", data=values),
                                    TensorSpec((), "int8", **Q, data=np.array(3, np.int8))],
                           [TensorSpec(output_shape, "int8", **Q)])


def test_fill_of_non_constant_huge_dims_is_refused_before_allocating():
    huge = np.array([BIG, BIG], np.int32)
    refuse(fill_model(None, (2, 2)), [huge], EvalError, "would get shape [2147483647, 2147483647], which does not "
           "fit its shape signature [2, 2]")
    dynamic = with_signatures(fill_model(None, (2, 2)), {2: (-1, -1)})
    refuse(dynamic, [huge], EvalError, "operator 0 (FILL): output tensor 2 'output_0' of shape")
    ordinary = [np.array([2, 3], np.int32)]
    (expected,) = litert_verdict(dynamic, ordinary)
    (got,) = run(dynamic, ordinary)
    assert got.shape == expected.shape == (2, 3) and np.array_equal(got, expected)


def int8_conv(x_shape=(1, 2, 2, 1), bias_zero_point: int = 0, output_scale: float = 0.1, activation: str = "NONE",
              output_shape=(1, 2, 2, 1), filter_depth: int = 1) -> bytes:
    weights = TensorSpec((1, 1, 1, filter_depth), "int8", scale=[0.05], zero_point=[0], quantized_dimension=0,
                         data=np.ones((1, 1, 1, filter_depth), np.int8))
    bias_spec = TensorSpec((1,), "int32", scale=[0.005], zero_point=[bias_zero_point], data=np.full(1, 7, np.int32))
    return single_op_model("CONV_2D", [TensorSpec(x_shape, "int8", **Q), weights, bias_spec],
                           [TensorSpec(output_shape, "int8", scale=output_scale, zero_point=0)],
                           {**SAME_1, "fused_activation_function": activation})


X1 = np.arange(4, dtype=np.int8).reshape(1, 2, 2, 1)


def test_conv_int8_bias_zero_point_must_be_0_like_litert():
    assert litert_verdict(int8_conv(bias_zero_point=3), [X1]) == "prepare"
    refuse(int8_conv(bias_zero_point=3), [X1], PrepareError, "operator 0 (CONV_2D): bias zero point must be 0")
    (expected,) = litert_verdict(int8_conv(), [X1])
    assert np.array_equal(run(int8_conv(), [X1])[0], expected)


def test_conv_with_no_input_channels_is_refused_not_divided_by_zero():
    """groups = input depth / filter depth is 0: LiteRT's Prepare computes ``Cout % groups`` (SIGFPE)."""
    refuse(int8_conv(x_shape=(1, 2, 2, 0)), [np.zeros((1, 2, 2, 0), np.int8)], PrepareError,
           "input depth 0 makes 0 groups of filter depth 1")


@pytest.mark.parametrize("kernels", KERNELS)
def test_conv_output_shape_is_planned_at_allocate(kernels):
    refuse(int8_conv(output_shape=(1, 2, 2, 5)), [X1], PrepareError,
           "output 0 (tensor 3 'output_0') gets shape [1, 2, 2, 1] from its inputs, the model declares [1, 2, 2, 5]",
           kernels=kernels)


@pytest.mark.parametrize("op", ["MAX_POOL_2D", "AVERAGE_POOL_2D"])
def test_activation_bound_outside_int32_fails_prepare_like_litert(op):
    """CalculateActivationRangeQuantized: 6 / 1e-38 is infinite in float32 and LiteRT's Quantize fails; pooling.cc
    ignores that status (measured: LiteRT runs, clamping with bounds it never set), so refinterp refuses."""
    options = {**SAME_1, "filter_width": 1, "filter_height": 1, "fused_activation_function": "RELU6"}
    content = single_op_model(op, [TensorSpec((1, 2, 2, 1), "int8", **Q)],
                              [TensorSpec((1, 2, 2, 1), "int8", scale=1e-38, zero_point=0)], options)
    refuse(content, [X1], PrepareError, "the fused activation's bound 6 / output scale 1e-38 is inf")


def test_conv_scale_ratio_of_2_to_the_30_or_more_is_refused():
    refuse(int8_conv(output_scale=1e-38, activation="RELU6"), [X1], PrepareError,
           "operator 0 (CONV_2D): input scale x filter scale[0] / output scale 5e+35 is 2**30 or more")


def test_prelu_scale_ratio_of_2_to_the_30_or_more_is_refused():
    content = single_op_model("PRELU", [TensorSpec((1, 4), "int8", **Q),
                                        TensorSpec((4,), "int8", scale=0.5, zero_point=0, data=np.ones(4, np.int8))],
                              [TensorSpec((1, 4), "int8", scale=1e-36, zero_point=0)])
    refuse(content, [np.arange(4, dtype=np.int8).reshape(1, 4)], PrepareError,
           "operator 0 (PRELU): input scale / output scale")

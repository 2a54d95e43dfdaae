"""Write deliberately malformed .tflite files: the tflite builder functions, with no validation at all.

refinterp.modelbuilder refuses bad indices and sizes; the parser tests need exactly those, so this writer
takes every field as given.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import flatbuffers
import numpy as np
import tflite


@dataclass
class RawTensor:
    shape: list[int]
    type_code: int = 9  # INT8
    buffer: int = 0
    name: str = "t"
    scale: list[float] | None = None
    zero_point: list[int] | None = None
    quantized_dimension: int = 0


@dataclass
class RawModel:
    tensors: list[RawTensor]
    op_inputs: list[int]
    op_outputs: list[int]
    inputs: list[int]
    outputs: list[int]
    opcode: int = 22  # RESHAPE
    opcode_index: int = 0
    buffers: list[bytes | tuple[int, int]] = field(default_factory=lambda: [b""])  # (offset, size): schema 3c
    appended: bytes = b""  # bytes written after the flatbuffer, for (offset, size) buffers to point at
    version: int = 3
    identifier: bytes = b"TFL3"


def _vector(builder: flatbuffers.Builder, values: list[int], dtype: str = "<i4") -> int:
    return builder.CreateNumpyVector(np.asarray(values, dtype=dtype))


def write(model: RawModel) -> bytes:
    b = flatbuffers.Builder(1024)
    buffer_offsets = []
    for data in model.buffers:
        external = isinstance(data, tuple)
        data_offset = b.CreateNumpyVector(np.frombuffer(data, dtype=np.uint8)) if data and not external else None
        tflite.BufferStart(b)
        if data_offset is not None:
            tflite.BufferAddData(b, data_offset)
        if external:
            tflite.BufferAddOffset(b, data[0])
            tflite.BufferAddSize(b, data[1])
        buffer_offsets.append(tflite.BufferEnd(b))
    tensor_offsets = []
    for t in model.tensors:
        quant = None
        if t.scale is not None:
            scale = b.CreateNumpyVector(np.asarray(t.scale, dtype="<f4"))
            zero_point = b.CreateNumpyVector(np.asarray(t.zero_point or [0] * len(t.scale), dtype="<i8"))
            tflite.QuantizationParametersStart(b)
            tflite.QuantizationParametersAddScale(b, scale)
            tflite.QuantizationParametersAddZeroPoint(b, zero_point)
            tflite.QuantizationParametersAddQuantizedDimension(b, t.quantized_dimension)
            quant = tflite.QuantizationParametersEnd(b)
        name = b.CreateString(t.name)
        shape = _vector(b, t.shape)
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, shape)
        tflite.TensorAddType(b, t.type_code)
        tflite.TensorAddBuffer(b, t.buffer)
        tflite.TensorAddName(b, name)
        if quant is not None:
            tflite.TensorAddQuantization(b, quant)
        tensor_offsets.append(tflite.TensorEnd(b))
    op_inputs, op_outputs = _vector(b, model.op_inputs), _vector(b, model.op_outputs)
    tflite.OperatorStart(b)
    tflite.OperatorAddOpcodeIndex(b, model.opcode_index)
    tflite.OperatorAddInputs(b, op_inputs)
    tflite.OperatorAddOutputs(b, op_outputs)
    operator = tflite.OperatorEnd(b)

    def table_vector(start, offsets):
        start(b, len(offsets))
        for offset in reversed(offsets):
            b.PrependUOffsetTRelative(offset)
        return b.EndVector()

    tensors = table_vector(tflite.SubGraphStartTensorsVector, tensor_offsets)
    operators = table_vector(tflite.SubGraphStartOperatorsVector, [operator])
    sg_inputs, sg_outputs = _vector(b, model.inputs), _vector(b, model.outputs)
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, tensors)
    tflite.SubGraphAddOperators(b, operators)
    tflite.SubGraphAddInputs(b, sg_inputs)
    tflite.SubGraphAddOutputs(b, sg_outputs)
    subgraph = tflite.SubGraphEnd(b)
    tflite.OperatorCodeStart(b)
    tflite.OperatorCodeAddBuiltinCode(b, model.opcode)
    tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(model.opcode, 127))
    tflite.OperatorCodeAddVersion(b, 1)
    opcode = tflite.OperatorCodeEnd(b)
    opcodes = table_vector(tflite.ModelStartOperatorCodesVector, [opcode])
    subgraphs = table_vector(tflite.ModelStartSubgraphsVector, [subgraph])
    buffers = table_vector(tflite.ModelStartBuffersVector, buffer_offsets)
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, model.version)
    tflite.ModelAddOperatorCodes(b, opcodes)
    tflite.ModelAddSubgraphs(b, subgraphs)
    tflite.ModelAddBuffers(b, buffers)
    b.Finish(tflite.ModelEnd(b), file_identifier=model.identifier)
    return bytes(b.Output()) + model.appended


def reshape_model(**changes) -> RawModel:
    """A valid int8 RESHAPE (2, 3) -> (3, 2) model; keyword arguments replace fields."""
    model = RawModel(
        tensors=[RawTensor([2, 3], name="x", scale=[0.5], zero_point=[0]),
                 RawTensor([3, 2], name="y", scale=[0.5], zero_point=[0])],
        op_inputs=[0], op_outputs=[1], inputs=[0], outputs=[1],
    )
    for key, value in changes.items():
        setattr(model, key, value)
    return model

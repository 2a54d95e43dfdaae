"""Read a .tflite flatbuffer into an immutable graph.

The parser follows TFLite's own loader (``interpreter_builder.cc``, ``schema_utils.cc``) where it decides
what a field means, and checks everything the file could get wrong before the interpreter trusts it: the
``TFL3`` identifier, the schema version, every index (operator code, buffer, tensor, subgraph), the size
of every constant buffer against its tensor's shape, and the quantization parameters. Constant data are
read-only NumPy views into the file's bytes, never copies.

A failure raises :class:`~refinterp.errors.ModelFormatError` with one line saying where parsing stopped.
"""

from __future__ import annotations

import math
import mmap
import os
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import flatbuffers
import numpy as np
import tflite

from refinterp.errors import ModelFormatError

#: The schema version this parser reads (``Model.version``); TFLite refuses any other.
SCHEMA_VERSION = 3
FILE_IDENTIFIER = b"TFL3"
#: A single tensor larger than this is treated as a corrupt file rather than allocated.
MAX_TENSOR_BYTES = 1 << 32
#: Files larger than this are memory-mapped instead of read.
MMAP_THRESHOLD_BYTES = 256 << 20

# TensorType -> NumPy dtype (little-endian, as every .tflite is). None: no NumPy equivalent we compute on.
_TENSOR_TYPES: dict[int, tuple[str, np.dtype | None]] = {
    0: ("float32", np.dtype("<f4")),
    1: ("float16", np.dtype("<f2")),
    2: ("int32", np.dtype("<i4")),
    3: ("uint8", np.dtype("u1")),
    4: ("int64", np.dtype("<i8")),
    5: ("string", None),
    6: ("bool", np.dtype("?")),
    7: ("int16", np.dtype("<i2")),
    8: ("complex64", np.dtype("<c8")),
    9: ("int8", np.dtype("i1")),
    10: ("float64", np.dtype("<f8")),
    11: ("complex128", np.dtype("<c16")),
    12: ("uint64", np.dtype("<u8")),
    13: ("resource", None),
    14: ("variant", None),
    15: ("uint32", np.dtype("<u4")),
    16: ("uint16", np.dtype("<u2")),
    17: ("int4", None),  # packed two per byte, low nibble first
    18: ("bfloat16", None),
    19: ("int2", None),
    20: ("uint4", None),
}

BUILTIN_OPERATOR_NAMES: dict[int, str] = {
    value: name for name, value in vars(tflite.BuiltinOperator).items() if not name.startswith("_")
}
BUILTIN_OPERATOR_CODES: dict[str, int] = {name: value for value, name in BUILTIN_OPERATOR_NAMES.items()}
_OPTIONS_NAMES: dict[int, str] = {
    value: name for name, value in vars(tflite.BuiltinOptions).items() if not name.startswith("_")
}
_OPTIONS2_NAMES: dict[int, str] = {
    value: name for name, value in vars(tflite.BuiltinOptions2).items() if not name.startswith("_")
}
_CUSTOM = BUILTIN_OPERATOR_CODES["CUSTOM"]


@dataclass(frozen=True)
class Quantization:
    """Affine quantization: ``real = scale * (q - zero_point)``, per tensor or along one axis."""

    scale: np.ndarray  # float32, length 1 (per tensor) or dims[quantized_dimension]
    zero_point: np.ndarray  # int64, same length as scale
    quantized_dimension: int
    min: np.ndarray | None = None
    max: np.ndarray | None = None

    @property
    def per_channel(self) -> bool:
        return self.scale.size > 1

    def __repr__(self) -> str:
        if self.per_channel:
            return (f"Quantization(per-channel axis {self.quantized_dimension}, {self.scale.size} scales, "
                    f"scale[0]={self.scale[0]:.6g}, zero_point[0]={int(self.zero_point[0])})")
        return f"Quantization(scale={float(self.scale[0]):.6g}, zero_point={int(self.zero_point[0])})"


@dataclass(frozen=True)
class Tensor:
    """One tensor of a subgraph, as declared in the file."""

    index: int
    name: str
    type_name: str  # "int8", "float32", ... (TensorType in lower case)
    dtype: np.dtype | None  # None for types refinterp cannot hold as a NumPy array
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...]  # -1 for a dynamic dimension
    quantization: Quantization | None
    buffer: int
    data: np.ndarray | None  # read-only view into the model bytes for constant tensors
    is_variable: bool = False
    has_sparsity: bool = False

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def nbytes(self) -> int:
        itemsize = self.dtype.itemsize if self.dtype is not None else 1
        return math.prod(self.shape) * itemsize

    def __repr__(self) -> str:
        return f"Tensor({self.index}, {self.name!r}, {self.type_name}{list(self.shape)})"


@dataclass(frozen=True)
class Operator:
    """One operator of a subgraph, in execution order."""

    index: int
    opcode: int  # BuiltinOperator value: max(builtin_code, deprecated_builtin_code)
    name: str  # "CONV_2D"; "CUSTOM:<custom_code>" for custom operators
    version: int
    inputs: tuple[int, ...]  # -1 marks an absent optional input
    outputs: tuple[int, ...]
    options: Mapping[str, Any]  # decoded builtin options, schema defaults filled in, snake_case keys
    options_type: str  # "Conv2DOptions", or "" when the operator has none
    custom_code: str | None = None
    intermediates: tuple[int, ...] = ()

    def __repr__(self) -> str:
        return f"Operator({self.index}, {self.name}, in={list(self.inputs)}, out={list(self.outputs)})"


@dataclass(frozen=True)
class Subgraph:
    index: int
    name: str
    tensors: tuple[Tensor, ...]
    operators: tuple[Operator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


@dataclass(frozen=True)
class SignatureDef:
    key: str
    subgraph_index: int
    inputs: Mapping[str, int]  # signature input name -> tensor index in that subgraph
    outputs: Mapping[str, int]


@dataclass(frozen=True)
class Model:
    version: int
    description: str
    subgraphs: tuple[Subgraph, ...]
    signature_defs: tuple[SignatureDef, ...]
    metadata: Mapping[str, bytes]
    operator_codes: tuple[tuple[int, str, int], ...]  # (opcode, name, version) per operator_codes entry
    size_bytes: int = 0
    _buffer: Any = field(default=None, repr=False, compare=False)  # keeps the bytes alive for the views

    @property
    def main(self) -> Subgraph:
        return self.subgraphs[0]


# --------------------------------------------------------------------------------------------------
# Reading helpers: every access to the flatbuffer goes through these, so any garbage becomes a
# ModelFormatError that names where we were.


class _Reader:
    def __init__(self, buffer: Any):
        self.buffer = buffer
        self.size = len(buffer)

    def vector_length(self, obj: Any, method: str, where: str, element_bytes: int = 4) -> int:
        """The length of a vector field, checked against the file size so garbage cannot make us loop."""
        n = getattr(obj, method + "Length")()
        if n < 0 or n * element_bytes > self.size:
            raise ModelFormatError(f"{where}: vector '{method}' declares {n} elements, more than the file holds")
        return n

    def int_vector(self, obj: Any, method: str, where: str, element_bytes: int = 4) -> tuple[int, ...]:
        if getattr(obj, method + "IsNone")():
            return ()
        self.vector_length(obj, method, where, element_bytes)
        return tuple(int(v) for v in getattr(obj, method + "AsNumpy")())

    def string(self, value: bytes | None) -> str:
        if value is None:
            return ""
        return value.decode("utf-8", errors="replace")


def _snake_case(name: str) -> str:
    # flatc writes the schema's snake_case fields in CamelCase (dilation_h_factor -> DilationHFactor):
    # an underscore before every capital but the first undoes it.
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _decode_options_table(table: Any, class_name: str, reader: _Reader, where: str) -> dict[str, Any]:
    """Decode a builtin-options table generically; absent fields take the schema's defaults."""
    cls = getattr(tflite, class_name, None)
    if cls is None:  # an options table newer than our bindings: keep the operator, without options
        return {}
    options_obj = cls()
    options_obj.Init(table.Bytes, table.Pos)
    decoded: dict[str, Any] = {}
    skip_suffixes = ("IsNone", "Length", "AsNumpy", "BufferHasIdentifier")
    for attr in dir(cls):
        if attr.startswith("_") or attr in ("Init",) or attr.startswith("GetRootAs") or attr.endswith(skip_suffixes):
            continue
        if hasattr(cls, attr + "Length"):
            if getattr(options_obj, attr + "IsNone")():
                value: Any = ()
            elif hasattr(cls, attr + "AsNumpy"):
                # keep each element's own type: most option vectors are int32, Bucketize's boundaries float
                reader.vector_length(options_obj, attr, where)
                value = tuple(v.item() for v in getattr(options_obj, attr + "AsNumpy")())
            else:
                value = ()
        else:
            value = getattr(options_obj, attr)()
            if isinstance(value, bytes):
                value = reader.string(value)
            elif not isinstance(value, (int, float, bool)) and value is not None:
                continue  # nested tables (StableHLO options) are not used by refinterp
        decoded[_snake_case(attr)] = value
    return decoded


def _decode_operator_options(op: Any, reader: _Reader, where: str) -> tuple[dict[str, Any], str]:
    options: dict[str, Any] = {}
    type_name = ""
    for type_getter, table_getter, names in (
        ("BuiltinOptionsType", "BuiltinOptions", _OPTIONS_NAMES),
        ("BuiltinOptions2Type", "BuiltinOptions2", _OPTIONS2_NAMES),
    ):
        tag = getattr(op, type_getter)()
        if tag == 0:
            continue
        class_name = names.get(tag)
        if class_name is None:
            raise ModelFormatError(f"{where}: unknown builtin options type {tag}")
        table = getattr(op, table_getter)()
        if table is None:
            continue
        options.update(_decode_options_table(table, class_name, reader, where))
        type_name = type_name or class_name
    return options, type_name


def _read_quantization(t: Any, shape: tuple[int, ...], reader: _Reader, where: str) -> Quantization | None:
    q = t.Quantization()
    if q is None or q.ScaleIsNone() or q.ScaleLength() == 0:
        return None  # interpreter_builder: no scale vector means "not quantized"
    n = reader.vector_length(q, "Scale", where)
    scale = np.array(q.ScaleAsNumpy(), dtype=np.float32)
    if q.ZeroPointIsNone():
        raise ModelFormatError(f"{where}: quantization has {n} scales but no zero_point")
    if reader.vector_length(q, "ZeroPoint", where, 8) != n:
        raise ModelFormatError(f"{where}: quantization has {n} scales but {q.ZeroPointLength()} zero points")
    zero_point = np.array(q.ZeroPointAsNumpy(), dtype=np.int64)
    axis = int(q.QuantizedDimension())
    if n > 1 and not 0 <= axis < len(shape) and len(shape) == 1 and shape[0] == n:
        # person_detect's 1-D per-channel biases carry quantized_dimension 3: LiteRT refuses them, TFLM
        # never checks the axis of a bias. A 1-D tensor has one axis, so we read it as axis 0, like TFLM.
        axis = 0
    if n > 1:
        # Per-axis quantization must name a real axis whose size matches the number of scales
        # (interpreter_builder.cc ParseQuantization). With one scale the axis means nothing.
        if not 0 <= axis < len(shape):
            raise ModelFormatError(f"{where}: quantized_dimension {axis} outside the tensor's rank {len(shape)}")
        if shape[axis] != n:
            raise ModelFormatError(f"{where}: {n} scales for dimension {axis} of size {shape[axis]}")
    qmin = np.array(q.MinAsNumpy(), dtype=np.float32) if not q.MinIsNone() else None
    qmax = np.array(q.MaxAsNumpy(), dtype=np.float32) if not q.MaxIsNone() else None
    for arr in (scale, zero_point, qmin, qmax):
        if arr is not None:
            arr.setflags(write=False)
    return Quantization(scale, zero_point, axis, qmin, qmax)


def _buffer_bytes(model_fb: Any, index: int, reader: _Reader, where: str) -> memoryview | None:
    """The bytes of buffer ``index``: inline ``data``, or ``offset``/``size`` for models over 2 GB."""
    buf = model_fb.Buffers(index)
    if buf is None:
        return None
    offset, size = int(buf.Offset()), int(buf.Size())
    if offset > 1:  # schema 3c: data lives outside the flatbuffer, relative to the start of the file
        if offset + size > reader.size:
            raise ModelFormatError(f"{where}: buffer {index} spans bytes {offset}..{offset + size}, "
                                   f"past the end of the {reader.size}-byte file")
        return memoryview(reader.buffer)[offset:offset + size]
    if buf.DataIsNone():
        return None
    n = reader.vector_length(buf, "Data", where, 1)
    if n == 0:
        return None
    start = buf._tab.Vector(buf._tab.Offset(4))
    if start + n > reader.size:
        raise ModelFormatError(f"{where}: buffer {index} runs past the end of the file")
    return memoryview(reader.buffer)[start:start + n]


def _read_tensor(model_fb: Any, t: Any, index: int, n_buffers: int, reader: _Reader, sg_where: str) -> Tensor:
    where = f"{sg_where} tensor {index}"
    name = reader.string(t.Name())
    if name:
        where += f" '{name}'"
    type_code = int(t.Type())
    if type_code not in _TENSOR_TYPES:
        raise ModelFormatError(f"{where}: unknown tensor type {type_code}")
    type_name, dtype = _TENSOR_TYPES[type_code]
    shape = reader.int_vector(t, "Shape", where)
    signature = reader.int_vector(t, "ShapeSignature", where) or shape
    if any(d < 0 for d in shape):
        raise ModelFormatError(f"{where}: negative dimension in shape {list(shape)}")
    itemsize = dtype.itemsize if dtype is not None else 1
    nbytes = math.prod(shape) * itemsize
    if nbytes > MAX_TENSOR_BYTES:
        raise ModelFormatError(f"{where}: shape {list(shape)} declares {nbytes} bytes, "
                               f"over refinterp's limit of {MAX_TENSOR_BYTES} for one tensor")
    buffer_index = int(t.Buffer())
    if buffer_index >= n_buffers:
        raise ModelFormatError(f"{where}: buffer index {buffer_index} out of range (the model has {n_buffers})")
    quantization = _read_quantization(t, shape, reader, where)
    data = None
    raw = _buffer_bytes(model_fb, buffer_index, reader, where) if buffer_index > 0 else None
    if raw is not None:
        if dtype is None:
            data = np.frombuffer(raw, dtype=np.uint8)  # packed or string data, kept as raw bytes
        else:
            if len(raw) != nbytes:
                raise ModelFormatError(f"{where}: buffer {buffer_index} holds {len(raw)} bytes but shape "
                                       f"{list(shape)} of {type_name} needs {nbytes}")
            data = np.frombuffer(raw, dtype=dtype).reshape(shape)
        data.flags.writeable = False
    elif buffer_index > 0 and nbytes == 0 and dtype is not None and not t.IsVariable():
        # A zero-element constant (MEAN over an empty axis list) has a buffer with no bytes. Old converters
        # also give activations empty buffers of their own, so only a tensor with no elements is a constant.
        data = np.zeros(shape, dtype=dtype)
        data.flags.writeable = False
    return Tensor(
        index=index, name=name, type_name=type_name, dtype=dtype, shape=tuple(shape),
        shape_signature=tuple(signature), quantization=quantization, buffer=buffer_index, data=data,
        is_variable=bool(t.IsVariable()), has_sparsity=t.Sparsity() is not None,
    )


def _check_indices(indices: tuple[int, ...], n_tensors: int, where: str, allow_absent: bool) -> None:
    for i in indices:
        if i == -1 and allow_absent:
            continue
        if not 0 <= i < n_tensors:
            raise ModelFormatError(f"{where}: tensor index {i} out of range (the subgraph has {n_tensors})")


def parse_model(content: bytes | bytearray | memoryview | mmap.mmap) -> Model:
    """Parse .tflite bytes into a :class:`Model`; raise ModelFormatError on anything malformed."""
    reader = _Reader(content)
    if reader.size == 0:
        raise ModelFormatError("empty file: not a .tflite model")
    if reader.size < 8:
        raise ModelFormatError(f"file of {reader.size} bytes is too short to be a .tflite model")
    identifier = bytes(content[4:8])
    if identifier != FILE_IDENTIFIER:
        raise ModelFormatError(f"file identifier is {identifier!r}, not {FILE_IDENTIFIER!r}: not a .tflite model")
    try:
        return _parse(content, reader)
    except ModelFormatError:
        raise
    except struct.error:
        raise ModelFormatError(f"corrupt or truncated flatbuffer: a field points past the end of the "
                               f"{reader.size}-byte file") from None
    except (IndexError, ValueError, TypeError, OverflowError, UnicodeDecodeError,
            flatbuffers.builder.OffsetArithmeticError) as exc:
        raise ModelFormatError(f"corrupt or truncated flatbuffer ({type(exc).__name__}: {exc})") from None


def _parse(content: Any, reader: _Reader) -> Model:
    root_offset = struct.unpack_from("<I", content, 0)[0]
    if root_offset + 4 > reader.size:
        raise ModelFormatError(f"root table offset {root_offset} lies past the end of the {reader.size}-byte file")
    model_fb = tflite.Model.GetRootAs(content, 0)
    version = int(model_fb.Version())
    if version != SCHEMA_VERSION:
        raise ModelFormatError(f"schema version {version}, refinterp reads version {SCHEMA_VERSION}")

    n_buffers = reader.vector_length(model_fb, "Buffers", "model")
    operator_codes = []
    for i in range(reader.vector_length(model_fb, "OperatorCodes", "model")):
        code = model_fb.OperatorCodes(i)
        # schema_utils.cc GetBuiltinCode: the larger of the two fields (old files only set the byte one;
        # ops >= 127 only set the int32 one and leave 127 in the byte field).
        opcode = max(int(code.BuiltinCode()), int(code.DeprecatedBuiltinCode()))
        if opcode == _CUSTOM:
            name = "CUSTOM:" + reader.string(code.CustomCode())
        else:
            name = BUILTIN_OPERATOR_NAMES.get(opcode, f"BUILTIN_{opcode}")
        operator_codes.append((opcode, name, int(code.Version())))

    n_subgraphs = reader.vector_length(model_fb, "Subgraphs", "model")
    if n_subgraphs == 0:
        raise ModelFormatError("the model has no subgraph")
    subgraphs = []
    for s in range(n_subgraphs):
        sg = model_fb.Subgraphs(s)
        sg_where = f"subgraph {s}"
        n_tensors = reader.vector_length(sg, "Tensors", sg_where)
        tensors = tuple(_read_tensor(model_fb, sg.Tensors(i), i, n_buffers, reader, sg_where)
                        for i in range(n_tensors))
        inputs = reader.int_vector(sg, "Inputs", sg_where)
        outputs = reader.int_vector(sg, "Outputs", sg_where)
        _check_indices(inputs, n_tensors, f"{sg_where} inputs", allow_absent=False)
        _check_indices(outputs, n_tensors, f"{sg_where} outputs", allow_absent=False)
        operators = []
        for i in range(reader.vector_length(sg, "Operators", sg_where)):
            op = sg.Operators(i)
            where = f"{sg_where} operator {i}"
            opcode_index = int(op.OpcodeIndex())
            if opcode_index >= len(operator_codes):
                raise ModelFormatError(f"{where}: opcode_index {opcode_index} out of range "
                                       f"(the model has {len(operator_codes)} operator codes)")
            opcode, name, op_version = operator_codes[opcode_index]
            where += f" ({name})"
            op_inputs = reader.int_vector(op, "Inputs", where)
            op_outputs = reader.int_vector(op, "Outputs", where)
            intermediates = reader.int_vector(op, "Intermediates", where)
            _check_indices(op_inputs, n_tensors, where + " inputs", allow_absent=True)
            _check_indices(op_outputs, n_tensors, where + " outputs", allow_absent=False)
            _check_indices(intermediates, n_tensors, where + " intermediates", allow_absent=False)
            options, options_type = _decode_operator_options(op, reader, where)
            operators.append(Operator(
                index=i, opcode=opcode, name=name, version=op_version, inputs=op_inputs, outputs=op_outputs,
                options=MappingProxyType(options), options_type=options_type,
                custom_code=name[len("CUSTOM:"):] if opcode == _CUSTOM else None, intermediates=intermediates,
            ))
        subgraphs.append(Subgraph(s, reader.string(sg.Name()), tensors, tuple(operators), inputs, outputs))

    signature_defs = []
    for i in range(reader.vector_length(model_fb, "SignatureDefs", "model")):
        sd = model_fb.SignatureDefs(i)
        where = f"signature_def {i}"
        sg_index = int(sd.SubgraphIndex())
        if not 0 <= sg_index < n_subgraphs:
            raise ModelFormatError(f"{where}: subgraph_index {sg_index} out of range")
        n_tensors = len(subgraphs[sg_index].tensors)
        maps = []
        for method in ("Inputs", "Outputs"):
            entries = {}
            for j in range(reader.vector_length(sd, method, where)):
                tm = getattr(sd, method)(j)
                _check_indices((int(tm.TensorIndex()),), n_tensors, f"{where} {method.lower()}", False)
                entries[reader.string(tm.Name())] = int(tm.TensorIndex())
            maps.append(MappingProxyType(entries))
        signature_defs.append(SignatureDef(reader.string(sd.SignatureKey()), sg_index, maps[0], maps[1]))

    metadata = {}
    for i in range(reader.vector_length(model_fb, "Metadata", "model")):
        md = model_fb.Metadata(i)
        b = int(md.Buffer())
        if not 0 <= b < n_buffers:
            raise ModelFormatError(f"metadata {i}: buffer index {b} out of range")
        raw = _buffer_bytes(model_fb, b, reader, f"metadata {i}")
        metadata[reader.string(md.Name())] = bytes(raw) if raw is not None else b""

    return Model(
        version=version, description=reader.string(model_fb.Description()), subgraphs=tuple(subgraphs),
        signature_defs=tuple(signature_defs), metadata=MappingProxyType(metadata),
        operator_codes=tuple(operator_codes), size_bytes=reader.size, _buffer=content,
    )


def load_model(path: str | os.PathLike) -> Model:
    """Read and parse a .tflite file (memory-mapped when large)."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            if size > MMAP_THRESHOLD_BYTES:
                content: Any = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            else:
                content = f.read()
    except FileNotFoundError:
        raise ModelFormatError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ModelFormatError(f"{path}: is a directory, not a .tflite file") from None
    except OSError as exc:
        raise ModelFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return parse_model(content)

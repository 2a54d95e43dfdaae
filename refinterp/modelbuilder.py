"""Build small .tflite models in memory, one operator (or a few) at a time.

This is the test-model factory of refinterp: the property tests use it to make
thousands of random single-op models that are then run on LiteRT and on
refinterp. It writes the same FlatBuffer a converter would, using the builder
functions that the ``tflite`` package generated from TFLite's ``schema.fbs``.

A model is described with two plain dataclasses:

* :class:`TensorSpec`: shape, dtype, quantization and (for constants) data;
* :class:`OpSpec`: a builtin operator name, tensor indices and an options dict.

Example: an int8 ReLU6 convolution::

    from refinterp.modelbuilder import TensorSpec, single_op_model

    model = single_op_model(
        "CONV_2D",
        inputs=[
            TensorSpec((1, 8, 8, 3), "int8", scale=0.02, zero_point=-3),
            TensorSpec((4, 3, 3, 3), "int8", scale=[0.01] * 4, zero_point=[0] * 4,
                       data=np.ones((4, 3, 3, 3), np.int8)),
            TensorSpec((4,), "int32", scale=[0.0002] * 4, zero_point=[0] * 4,
                       data=np.zeros(4, np.int32)),
        ],
        outputs=[TensorSpec((1, 8, 8, 4), "int8", scale=0.05, zero_point=5)],
        options={"padding": "SAME", "stride_w": 1, "stride_h": 1,
                 "fused_activation_function": "RELU6"},
    )

Options are given with the schema's snake_case field names (``stride_w``,
``fused_activation_function``, ``new_shape`` ...). Enum fields take either the
enum member's name ("SAME", "RELU6", "INT32") or its integer value. The
mapping from operator to options table is the one table :data:`OP_OPTIONS`.

File-format facts this module follows (see the schema):

* file identifier ``"TFL3"``, ``Model.version == 3``;
* ``buffers[0]`` is the empty sentinel; tensors without data point at it;
* ``OperatorCode.builtin_code`` holds the real code and
  ``deprecated_builtin_code`` holds ``min(code, 127)``
  (127 = PLACEHOLDER_FOR_GREATER_OP_CODES), so old and new readers agree;
* operator input index ``-1`` marks an absent optional input.
"""

from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

import flatbuffers
import numpy as np
import tflite
from tflite.ActivationFunctionType import ActivationFunctionType
from tflite.BuiltinOperator import BuiltinOperator
from tflite.BuiltinOptions import BuiltinOptions
from tflite.CombinerType import CombinerType
from tflite.FullyConnectedOptionsWeightsFormat import FullyConnectedOptionsWeightsFormat
from tflite.LSHProjectionType import LSHProjectionType
from tflite.LSTMKernelType import LSTMKernelType
from tflite.MirrorPadMode import MirrorPadMode
from tflite.Padding import Padding
from tflite.ReduceWindowFunction import ReduceWindowFunction
from tflite.TensorType import TensorType

__all__ = [
    "DTYPES",
    "OP_OPTIONS",
    "DimensionMetadataSpec",
    "OpSpec",
    "SparsitySpec",
    "SubgraphSpec",
    "TensorSpec",
    "build_model",
    "single_op_model",
    "sparsify",
]

TFLITE_FILE_IDENTIFIER = b"TFL3"
#: ``OpSpec.op`` of a custom operator: this prefix and its custom_code ("CUSTOM:TFLite_Detection_PostProcess")
CUSTOM_PREFIX = "CUSTOM:"
TFLITE_SCHEMA_VERSION = 3
# OperatorCode.deprecated_builtin_code is an int8 field; codes above this
# value are stored as this placeholder there (PLACEHOLDER_FOR_GREATER_OP_CODES).
DEPRECATED_BUILTIN_CODE_MAX = 127
# schema.fbs declares Buffer.data with force_align: 16; the generated Python
# builder ignores that attribute, so constant data is aligned here by hand.
BUFFER_DATA_ALIGNMENT = 16

# dtype name -> (TensorType value, NumPy dtype). Little-endian, as the format requires.
DTYPES: dict[str, tuple[int, np.dtype]] = {
    "float32": (TensorType.FLOAT32, np.dtype("<f4")),
    "float16": (TensorType.FLOAT16, np.dtype("<f2")),
    "float64": (TensorType.FLOAT64, np.dtype("<f8")),
    "int8": (TensorType.INT8, np.dtype("i1")),
    "uint8": (TensorType.UINT8, np.dtype("u1")),
    "int16": (TensorType.INT16, np.dtype("<i2")),
    "uint16": (TensorType.UINT16, np.dtype("<u2")),
    "int32": (TensorType.INT32, np.dtype("<i4")),
    "uint32": (TensorType.UINT32, np.dtype("<u4")),
    "int64": (TensorType.INT64, np.dtype("<i8")),
    "bool": (TensorType.BOOL, np.dtype("?")),
}
#: Tensor types without values a NumPy dtype holds: a RESOURCE tensor holds a resource variable's handle (the
#: output of VAR_HANDLE), a VARIANT tensor a TensorList. Such tensors never have data.
HANDLE_TYPES: dict[str, int] = {"resource": TensorType.RESOURCE, "variant": TensorType.VARIANT}

# Builtin operator -> name of its options table in the BuiltinOptions union (None: the operator has no
# options), where the schema's naming convention does not give it (conventional_options_table). One table,
# like Vela's tflite_mapping.
OP_OPTIONS: dict[str, str | None] = {
    "ABS": None,
    "ADD": "AddOptions",
    "ARG_MAX": "ArgMaxOptions",
    "ARG_MIN": "ArgMinOptions",
    "AVERAGE_POOL_2D": "Pool2DOptions",
    "BATCH_MATMUL": "BatchMatMulOptions",
    "BATCH_TO_SPACE_ND": "BatchToSpaceNDOptions",
    "CAST": "CastOptions",
    "CONCATENATION": "ConcatenationOptions",
    "CONV_2D": "Conv2DOptions",
    "DEPTH_TO_SPACE": "DepthToSpaceOptions",
    "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
    "DEQUANTIZE": "DequantizeOptions",
    "DIV": "DivOptions",
    "ELU": None,
    "EQUAL": "EqualOptions",
    "EXP": "ExpOptions",
    "EXPAND_DIMS": "ExpandDimsOptions",
    "FULLY_CONNECTED": "FullyConnectedOptions",
    "GATHER": "GatherOptions",
    "GELU": "GeluOptions",
    "GREATER": "GreaterOptions",
    "HARD_SWISH": "HardSwishOptions",
    "L2_NORMALIZATION": "L2NormOptions",
    "L2_POOL_2D": "Pool2DOptions",
    "LEAKY_RELU": "LeakyReluOptions",
    "LESS": "LessOptions",
    "LOG_SOFTMAX": "LogSoftmaxOptions",
    "LOGISTIC": None,
    "MAX_POOL_2D": "Pool2DOptions",
    "MAXIMUM": "MaximumMinimumOptions",
    "MEAN": "ReducerOptions",
    "MINIMUM": "MaximumMinimumOptions",
    "MIRROR_PAD": "MirrorPadOptions",
    "MUL": "MulOptions",
    "NEG": "NegOptions",
    "PACK": "PackOptions",
    "PAD": "PadOptions",
    "PADV2": "PadV2Options",
    "PRELU": None,
    "QUANTIZE": "QuantizeOptions",
    "REDUCE_MAX": "ReducerOptions",
    "REDUCE_ALL": "ReducerOptions",
    "REDUCE_ANY": "ReducerOptions",
    "REDUCE_MIN": "ReducerOptions",
    "REDUCE_PROD": "ReducerOptions",
    "RELU": None,
    "RELU6": None,
    "RELU_N1_TO_1": None,
    "RESHAPE": "ReshapeOptions",
    "RESIZE_BILINEAR": "ResizeBilinearOptions",
    "RESIZE_NEAREST_NEIGHBOR": "ResizeNearestNeighborOptions",
    "RSQRT": None,
    "SELECT_V2": "SelectV2Options",
    "SHAPE": "ShapeOptions",
    "SLICE": "SliceOptions",
    "SOFTMAX": "SoftmaxOptions",
    "SPACE_TO_BATCH_ND": "SpaceToBatchNDOptions",
    "SPACE_TO_DEPTH": "SpaceToDepthOptions",
    "SPLIT": "SplitOptions",
    "SPLIT_V": "SplitVOptions",
    "SQRT": None,
    "SQUARED_DIFFERENCE": "SquaredDifferenceOptions",
    "SQUEEZE": "SqueezeOptions",
    "STRIDED_SLICE": "StridedSliceOptions",
    "SUB": "SubOptions",
    "SUM": "ReducerOptions",
    "SVDF": "SVDFOptions",
    "RNN": "RNNOptions",
    "UNIDIRECTIONAL_SEQUENCE_RNN": "SequenceRNNOptions",
    "BIDIRECTIONAL_SEQUENCE_RNN": "BidirectionalSequenceRNNOptions",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "UnidirectionalSequenceLSTMOptions",
    "BIDIRECTIONAL_SEQUENCE_LSTM": "BidirectionalSequenceLSTMOptions",
    "LSTM": "LSTMOptions",
    "TANH": None,
    "TILE": "TileOptions",
    "TOPK_V2": "TopKV2Options",
    "TRANSPOSE": "TransposeOptions",
    "TRANSPOSE_CONV": "TransposeConvOptions",
    "UNPACK": "UnpackOptions",
}

# Fields whose schema default (0) is never a valid value: the builder fills
# these in unless the caller gives them, so that a minimal options dict works.
OP_OPTION_DEFAULTS: dict[str, dict[str, Any]] = {
    "CONV_2D": {"stride_w": 1, "stride_h": 1},
    "DEPTHWISE_CONV_2D": {"stride_w": 1, "stride_h": 1},
    "TRANSPOSE_CONV": {"stride_w": 1, "stride_h": 1},
    "AVERAGE_POOL_2D": {"stride_w": 1, "stride_h": 1},
    "MAX_POOL_2D": {"stride_w": 1, "stride_h": 1},
    "L2_POOL_2D": {"stride_w": 1, "stride_h": 1},
    "SOFTMAX": {"beta": 1.0},
}

# Options fields that hold an enum, by snake_case field name -> enum class.
# A string value for such a field is looked up as a member name.
ENUM_FIELDS: dict[str, type] = {
    "padding": Padding,
    "fused_activation_function": ActivationFunctionType,
    "weights_format": FullyConnectedOptionsWeightsFormat,
    "mode": MirrorPadMode,
    "kernel_type": LSTMKernelType,
    "type": LSHProjectionType,
    "combiner": CombinerType,
    "reduce_function": ReduceWindowFunction,
    "quantized_bias_type": TensorType,
    "out_type": TensorType,
    "output_type": TensorType,
    "in_data_type": TensorType,
    "out_data_type": TensorType,
    "idx_out_type": TensorType,
    "key_dtype": TensorType,
    "value_dtype": TensorType,
}


@dataclass
class TensorSpec:
    """One tensor of the model.

    Attributes:
        shape: static shape; ``()`` is a scalar.
        dtype: one of the keys of :data:`DTYPES` ("int8", "float32", ...).
        scale: quantization scale; a list means per-channel (per-axis) quantization
            along ``quantized_dimension``. ``None``: the tensor is not quantized.
        zero_point: zero point(s); ``None`` means 0 for every scale. A single int
            is repeated for every channel.
        quantized_dimension: the channel axis of per-channel quantization.
        data: constant contents; the tensor gets its own buffer. ``None``: the
            tensor is an activation (input, output or intermediate).
        name: tensor name; a default like ``"t3"`` is used when ``None``.
        is_variable: a variable tensor (the state of SVDF, RNN, LSTM: ``Tensor.is_variable``); it has no
            data and is not a model input (``single_op_model`` leaves it out of the model's inputs).
    """

    shape: tuple[int, ...]
    dtype: str
    scale: float | list[float] | None = None
    zero_point: int | list[int] | None = None
    quantized_dimension: int = 0
    data: np.ndarray | None = None
    name: str | None = None
    is_variable: bool = False
    #: a sparse constant (``Tensor.sparsity``): ``data`` then holds the stored values only (any count, 1-D), in
    #: the order the sparsity parameters enumerate them (:func:`sparsify` makes both from a dense array)
    sparsity: SparsitySpec | None = None
    #: ``QuantizationParameters.details_type`` written with no ``details`` table (files from other tools and
    #: the fuzzer's edits carry such types: LiteRT refuses some); 0 writes none
    quantization_details_type: int = 0


@dataclass
class DimensionMetadataSpec:
    """One level of a sparse tensor (schema ``DimensionMetadata``), in traversal order.

    ``format`` "DENSE" stores ``dense_size``; "SPARSE_CSR" stores ``segments`` and ``indices``, each written as
    the ``SparseIndexVector`` union member named by ``segments_type`` / ``indices_type`` ("int32", "uint16" or
    "uint8"; None leaves the union out, for tests of malformed files). ``format`` may also be a raw int.
    """

    format: str | int
    dense_size: int = 0
    segments: Any = None
    indices: Any = None
    segments_type: str | None = "int32"
    indices_type: str | None = "int32"


@dataclass
class SparsitySpec:
    """Schema ``SparsityParameters``: the traversal order of the expanded dimensions (original, then block
    dimensions), which original dimension each block dimension splits (``block_map``), one
    :class:`DimensionMetadataSpec` per traversed dimension. ``traversal_order`` None leaves it out."""

    traversal_order: list[int] | None
    dim_metadata: list[DimensionMetadataSpec]
    block_map: list[int] | None = None


@dataclass
class OpSpec:
    """One operator of the model.

    Attributes:
        op: builtin operator name as in ``BuiltinOperator`` ("CONV_2D").
        inputs: tensor indices into the model's tensor list; ``-1`` = absent
            optional input.
        outputs: tensor indices of the outputs.
        options: option fields by snake_case schema name, e.g.
            ``{"padding": "SAME", "stride_w": 2, "fused_activation_function": "RELU"}``.
        version: the operator version written into the OperatorCode.
        custom_options: for a custom operator (``op`` = ``"CUSTOM:<custom_code>"``): the raw bytes of
            ``Operator.custom_options`` (a flexbuffer, e.g. ``flatbuffers.flexbuffers.Dumps({...})``).
    """

    op: str
    inputs: list[int]
    outputs: list[int]
    options: dict[str, Any] = field(default_factory=dict)
    version: int = 1
    custom_options: bytes | None = None
    #: ``Operator.intermediates``: tensor indices the kernel reads quantization from (integer LSTM gate scales)
    intermediates: list[int] = field(default_factory=list)


@dataclass
class SubgraphSpec:
    """A subgraph after the first (main) one: what CALL_ONCE, WHILE and IF run (``build_model(subgraphs=)``).
    Its tensor indices are its own; subgraph k of ``subgraphs`` is subgraph k + 1 of the model."""

    tensors: list[TensorSpec]
    operators: list[OpSpec]
    inputs: list[int]
    outputs: list[int]
    name: str = ""


def _enum_members(enum_class: type) -> dict[str, int]:
    """Name -> value of a flatc-generated enum class (plain int class attributes)."""
    return {
        name: value for name, value in vars(enum_class).items() if not name.startswith("_") and isinstance(value, int)
    }


def builtin_code(op: str) -> int:
    """The BuiltinOperator value of an operator name, e.g. ``"CONV_2D" -> 3``."""
    codes = _enum_members(BuiltinOperator)
    if op not in codes:
        raise ValueError(f"unknown builtin operator {op!r}")
    return codes[op]


def _enum_value(enum_class: type, value: int | str, what: str) -> int:
    if isinstance(value, str):
        members = _enum_members(enum_class)
        if value.upper() not in members:
            raise ValueError(f"{what}: {value!r} is not one of {sorted(members)}")
        return members[value.upper()]
    return int(value)


@dataclass(frozen=True)
class _OptionField:
    """How to write one field of an options table, read off the generated code."""

    add: Any  # <Table>Add<Field>(builder, value)
    kind: str  # "scalar", "vector" or "string"
    slot_type: str  # flatbuffers number type, e.g. "Int32", "Float32", "Bool"
    start_vector: Any = None  # <Table>Start<Field>Vector(builder, n), vectors only


@cache
def _options_fields(table: str) -> dict[str, _OptionField]:
    """Introspect the generated module ``tflite.<table>`` for its fields.

    The generated Python code carries the field types only in its method bodies
    (``PrependInt32Slot``, ``number_types.Float32Flags``), so we read them from there;
    that keeps this encoder generic over every options table of the schema.
    """
    module = importlib.import_module(f"tflite.{table}")
    reader_class = getattr(module, table)
    fields: dict[str, _OptionField] = {}
    for name, function in vars(module).items():
        match = re.fullmatch(rf"{table}Add(\w+)", name)
        if not match:
            continue
        camel = match.group(1)
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()
        source = inspect.getsource(function)
        scalar = re.search(r"Prepend(\w+)Slot", source)
        if scalar is None:
            raise RuntimeError(f"cannot parse generated {name}")
        if scalar.group(1) != "UOffsetTRelative":
            fields[snake] = _OptionField(function, "scalar", scalar.group(1))
            continue
        start_vector = getattr(module, f"{table}Start{camel}Vector", None)
        if start_vector is None:
            fields[snake] = _OptionField(function, "string", "String")
            continue
        # The element accessor reads the vector's offset (UOffsetT) and then
        # the element itself; the element's type is the other Flags named.
        reader_source = inspect.getsource(getattr(reader_class, camel))
        element_types = [t for t in re.findall(r"number_types\.(\w+)Flags", reader_source) if t != "UOffsetT"]
        if not element_types:
            raise RuntimeError(f"cannot find the element type of {table}.{camel}")
        fields[snake] = _OptionField(function, "vector", element_types[0], start_vector)
    # The regex split gives the schema's own names ("DilationWFactor" ->
    # "dilation_w_factor", "PotScaleInt16" -> "pot_scale_int16").
    return fields


def conventional_options_table(op: str) -> str | None:
    """The schema's naming convention for the operators OP_OPTIONS does not list: FLOOR_DIV -> FloorDivOptions
    when the BuiltinOptions union has such a table, else None (the operator has no options)."""
    name = "".join(part.capitalize() for part in op.split("_")) + "Options"
    return name if hasattr(BuiltinOptions, name) else None


def _encode_options(builder: flatbuffers.Builder, op: str, options: dict[str, Any]) -> tuple[int, int]:
    """Write the options table of ``op``; returns (BuiltinOptions type, table offset)."""
    table = OP_OPTIONS[op] if op in OP_OPTIONS else conventional_options_table(op)
    values = {**OP_OPTION_DEFAULTS.get(op, {}), **options}
    if table is None:
        if options:
            raise ValueError(f"{op} has no options, got {sorted(options)}")
        return BuiltinOptions.NONE, 0
    fields = _options_fields(table)
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValueError(f"{op} ({table}) has no fields {unknown}; fields: {sorted(fields)}")

    # Vectors and strings must be written before the table is started
    # (FlatBuffers forbids nesting), so do them first and remember offsets.
    offsets: dict[str, int] = {}
    for name, value in values.items():
        spec = fields[name]
        if spec.kind == "string":
            offsets[name] = builder.CreateString(str(value))
        elif spec.kind == "vector":
            elements = list(value)
            spec.start_vector(builder, len(elements))
            prepend = getattr(builder, f"Prepend{spec.slot_type}")
            for element in reversed(elements):
                prepend(element)
            offsets[name] = builder.EndVector()

    module = importlib.import_module(f"tflite.{table}")
    getattr(module, f"{table}Start")(builder)
    for name, value in values.items():
        spec = fields[name]
        if spec.kind != "scalar":
            spec.add(builder, offsets[name])
            continue
        if name in ENUM_FIELDS:
            value = _enum_value(ENUM_FIELDS[name], value, f"{op}.{name}")
        elif spec.slot_type == "Bool":
            value = bool(value)
        elif spec.slot_type.startswith("Float"):
            value = float(value)
        else:
            value = int(value)
        spec.add(builder, value)
    table_offset = getattr(module, f"{table}End")(builder)
    return getattr(BuiltinOptions, table), table_offset


def _int_vector(builder: flatbuffers.Builder, values: list[int] | tuple[int, ...]) -> int:
    return builder.CreateNumpyVector(np.asarray(values, dtype="<i4"))


def _quant_vectors(spec: TensorSpec) -> tuple[list[float], list[int]] | None:
    """Normalized (scales, zero_points), or None for an unquantized tensor."""
    if spec.scale is None:
        if spec.zero_point is not None:
            raise ValueError(f"tensor {spec.name!r}: zero_point without scale")
        return None
    scales = [float(s) for s in np.atleast_1d(spec.scale)]
    if spec.zero_point is None:
        zero_points = [0] * len(scales)
    else:
        zero_points = [int(z) for z in np.atleast_1d(spec.zero_point)]
        if len(zero_points) == 1 and len(scales) > 1:
            zero_points = zero_points * len(scales)
    if len(zero_points) != len(scales):
        raise ValueError(f"tensor {spec.name!r}: {len(scales)} scales but {len(zero_points)} zero points")
    return scales, zero_points


def _constant_bytes(spec: TensorSpec) -> bytes:
    """The little-endian bytes of a constant tensor, checked against shape and dtype."""
    _, np_dtype = DTYPES[spec.dtype]
    array = np.asarray(spec.data)
    if spec.sparsity is not None:  # the stored values of a sparse constant: not held against the dense shape
        return np.ascontiguousarray(array.astype(np_dtype).reshape(-1)).tobytes()
    if array.size != int(np.prod(spec.shape, dtype=np.int64)):
        raise ValueError(
            f"tensor {spec.name!r}: data has {array.size} elements, shape {spec.shape} needs {int(np.prod(spec.shape))}"
        )
    converted = array.astype(np_dtype)
    # Refuse silent wrap-around (e.g. 200 stored into int8): it hides test bugs.
    if np_dtype.kind in "iub" and not np.array_equal(converted, array):
        raise ValueError(f"tensor {spec.name!r}: data does not fit {spec.dtype}")
    return np.ascontiguousarray(converted.reshape(spec.shape)).tobytes()


#: ``SparseIndexVector`` union members: name -> (union value, its table's module, NumPy element type)
_SPARSE_INDEX_VECTORS: dict[str, tuple[int, str, str]] = {
    "int32": (1, "Int32Vector", "<i4"), "uint16": (2, "Uint16Vector", "<u2"), "uint8": (3, "Uint8Vector", "u1"),
}
_DIMENSION_TYPES = {"DENSE": 0, "SPARSE_CSR": 1}


def _write_sparse_index_vector(builder: flatbuffers.Builder, kind: str, values: Any) -> int:
    _, table, element = _SPARSE_INDEX_VECTORS[kind]
    array = np.asarray(values if values is not None else [], dtype=np.int64)
    converted = array.astype(element)
    if not np.array_equal(converted, array):
        raise ValueError(f"sparse index values do not fit {kind}")
    vector = builder.CreateNumpyVector(converted)
    getattr(tflite, f"{table}Start")(builder)
    getattr(tflite, f"{table}AddValues")(builder, vector)
    return getattr(tflite, f"{table}End")(builder)


def _write_sparsity(builder: flatbuffers.Builder, sparsity: SparsitySpec) -> int:
    """A ``SparsityParameters`` table."""
    dims = []
    for dim in sparsity.dim_metadata:
        dim_format = _DIMENSION_TYPES[dim.format] if isinstance(dim.format, str) else int(dim.format)
        unions = {}
        for part, kind, values in (("Segments", dim.segments_type, dim.segments),
                                   ("Indices", dim.indices_type, dim.indices)):
            if kind is not None and (values is not None or dim_format == 1):
                unions[part] = (_SPARSE_INDEX_VECTORS[kind][0],
                                _write_sparse_index_vector(builder, kind, values))
        tflite.DimensionMetadataStart(builder)
        tflite.DimensionMetadataAddFormat(builder, dim_format)
        tflite.DimensionMetadataAddDenseSize(builder, int(dim.dense_size))
        for part, (union_type, offset) in unions.items():
            getattr(tflite, f"DimensionMetadataAddArray{part}Type")(builder, union_type)
            getattr(tflite, f"DimensionMetadataAddArray{part}")(builder, offset)
        dims.append(tflite.DimensionMetadataEnd(builder))
    dim_vector = _offset_vector(builder, tflite.SparsityParametersStartDimMetadataVector, dims)
    traversal = _int_vector(builder, sparsity.traversal_order) if sparsity.traversal_order is not None else 0
    block_map = _int_vector(builder, sparsity.block_map) if sparsity.block_map is not None else 0
    tflite.SparsityParametersStart(builder)
    if traversal:
        tflite.SparsityParametersAddTraversalOrder(builder, traversal)
    if block_map:
        tflite.SparsityParametersAddBlockMap(builder, block_map)
    tflite.SparsityParametersAddDimMetadata(builder, dim_vector)
    return tflite.SparsityParametersEnd(builder)


def sparsify(dense: np.ndarray, traversal_order: list[int] | None = None, block_map: list[int] | None = None,
             block_sizes: list[int] | None = None, formats: list[str] | None = None,
             index_types: list[tuple[str, str]] | None = None, keep_zero: float = 0.0,
             rng: np.random.Generator | None = None) -> tuple[np.ndarray, SparsitySpec]:
    """Compress a dense array into (stored values, :class:`SparsitySpec`), as TFLite's converter does
    (``FormatConverter::DenseToSparse``, tensorflow/lite/kernels/internal/utils/sparsity_format_converter.cc).

    The expanded dimensions are the original ones (each divided by its block size when ``block_map`` names it)
    followed by one dimension per block (``block_sizes[k]`` elements of dimension ``block_map[k]``);
    ``traversal_order`` orders them (default: as they are), ``formats`` gives each traversed level "DENSE" or
    "SPARSE_CSR" (default: all dense), ``index_types`` each level's (segments, indices) vector types. A sparse
    level keeps an index when the values below it are not all zero, or (``keep_zero``: a probability, drawn
    with ``rng``) now and then also when they are: LiteRT's reader accepts explicit zeros. Test input only:
    the expected dense value always comes from the runtime that reads it back."""
    dense = np.asarray(dense)
    rank = dense.ndim
    block_map = list(block_map or [])
    block_sizes = list(block_sizes or [])
    if len(block_sizes) != len(block_map):
        raise ValueError("one block size per block_map entry")
    n_levels = rank + len(block_map)
    traversal_order = list(range(n_levels)) if traversal_order is None else list(traversal_order)
    formats = formats or ["DENSE"] * n_levels
    index_types = index_types or [("int32", "int32")] * n_levels
    # the expanded array: dimension d < rank is the block number along d, rank + k the position in block k
    blocked = [dense.shape[d] for d in range(rank)]
    for d, size in zip(block_map, block_sizes):
        if size < 1 or dense.shape[d] % size:
            raise ValueError(f"block size {size} does not divide dimension {d} of size {dense.shape[d]}")
        blocked[d] = dense.shape[d] // size
    split_shape, split_axes = [], {}
    for d in range(rank):
        if d in block_map:
            k = block_map.index(d)
            split_axes[d], split_axes[rank + k] = len(split_shape), len(split_shape) + 1
            split_shape += [blocked[d], block_sizes[k]]
        else:
            split_axes[d] = len(split_shape)
            split_shape.append(dense.shape[d])
    expanded = dense.reshape(split_shape).transpose([split_axes[e] for e in range(n_levels)])
    ordered = expanded.transpose(traversal_order)
    nonzero = ordered != 0
    sizes = ordered.shape
    dims = [DimensionMetadataSpec("DENSE", dense_size=sizes[j]) if formats[j] == "DENSE" else
            DimensionMetadataSpec("SPARSE_CSR", 0, [0], [], *index_types[j]) for j in range(n_levels)]
    values: list[Any] = []

    def walk(level: int, prefix: tuple[int, ...]) -> None:
        if level == n_levels:
            values.append(ordered[prefix])
            return
        dim = dims[level]
        for i in range(sizes[level]):
            here = (*prefix, i)
            if dim.format == "SPARSE_CSR" and not nonzero[here].any():
                if rng is None or rng.random() >= keep_zero:
                    continue
            if dim.format == "SPARSE_CSR":
                dim.indices.append(i)
            walk(level + 1, here)
        if dim.format == "SPARSE_CSR":
            dim.segments.append(len(dim.indices))

    walk(0, ())
    return np.array(values, dtype=dense.dtype), SparsitySpec(traversal_order, dims, block_map or None)


def _write_tensor(builder: flatbuffers.Builder, spec: TensorSpec, name: str, buffer_index: int) -> int:
    tensor_type = DTYPES[spec.dtype][0] if spec.dtype in DTYPES else HANDLE_TYPES[spec.dtype]
    sparsity_offset = _write_sparsity(builder, spec.sparsity) if spec.sparsity is not None else 0
    quantization = _quant_vectors(spec)
    quant_offset = 0
    if quantization is not None:
        scales, zero_points = quantization
        scale_vector = builder.CreateNumpyVector(np.asarray(scales, dtype="<f4"))
        zero_point_vector = builder.CreateNumpyVector(np.asarray(zero_points, dtype="<i8"))
        tflite.QuantizationParametersStart(builder)
        tflite.QuantizationParametersAddScale(builder, scale_vector)
        tflite.QuantizationParametersAddZeroPoint(builder, zero_point_vector)
        tflite.QuantizationParametersAddQuantizedDimension(builder, spec.quantized_dimension)
        if spec.quantization_details_type:
            tflite.QuantizationParametersAddDetailsType(builder, spec.quantization_details_type)
        quant_offset = tflite.QuantizationParametersEnd(builder)
    name_offset = builder.CreateString(name)
    shape_offset = _int_vector(builder, tuple(int(d) for d in spec.shape))
    tflite.TensorStart(builder)
    tflite.TensorAddShape(builder, shape_offset)
    tflite.TensorAddType(builder, tensor_type)
    tflite.TensorAddBuffer(builder, buffer_index)
    tflite.TensorAddName(builder, name_offset)
    if quant_offset:
        tflite.TensorAddQuantization(builder, quant_offset)
    # has_rank distinguishes a scalar (shape []) from an unknown-rank tensor.
    tflite.TensorAddHasRank(builder, True)
    if spec.is_variable:
        tflite.TensorAddIsVariable(builder, True)
    if sparsity_offset:
        tflite.TensorAddSparsity(builder, sparsity_offset)
    return tflite.TensorEnd(builder)


def _write_buffer(builder: flatbuffers.Builder, data: bytes | None) -> int:
    """A Buffer table; ``None`` (the sentinel) has no data vector, while a
    zero-element constant gets an empty one, the closest the format has to
    "a constant with no bytes"."""
    data_offset = 0
    if data is not None:
        builder.StartVector(1, len(data), BUFFER_DATA_ALIGNMENT)
        builder.head -= len(data)
        builder.Bytes[builder.head : builder.head + len(data)] = data
        data_offset = builder.EndVector()
    tflite.BufferStart(builder)
    if data_offset:
        tflite.BufferAddData(builder, data_offset)
    return tflite.BufferEnd(builder)


def _offset_vector(builder: flatbuffers.Builder, start: Any, offsets: list[int]) -> int:
    start(builder, len(offsets))
    for offset in reversed(offsets):
        builder.PrependUOffsetTRelative(offset)
    return builder.EndVector()


def _write_tensor_maps(builder: flatbuffers.Builder, indices: list[int], names: list[str]) -> list[int]:
    maps = []
    for index in indices:
        name_offset = builder.CreateString(names[index])
        tflite.TensorMapStart(builder)
        tflite.TensorMapAddName(builder, name_offset)
        tflite.TensorMapAddTensorIndex(builder, index)
        maps.append(tflite.TensorMapEnd(builder))
    return maps


def build_model(
    tensors: list[TensorSpec],
    operators: list[OpSpec],
    inputs: list[int],
    outputs: list[int],
    *,
    description: str = "refinterp modelbuilder",
    signature_def: bool = True,
    subgraphs: list[SubgraphSpec] | tuple[SubgraphSpec, ...] = (),
) -> bytes:
    """Serialize a model to .tflite bytes: one subgraph, and the further ``subgraphs`` given.

    Args:
        tensors: every tensor of the subgraph; operators refer to them by index.
        operators: the operators, in execution order.
        inputs: tensor indices of the subgraph inputs.
        outputs: tensor indices of the subgraph outputs.
        description: ``Model.description``.
        signature_def: also write a ``"serving_default"`` SignatureDef whose
            inputs and outputs are named after the tensors.
        subgraphs: the model's subgraphs 1, 2, ... (:class:`SubgraphSpec`), for control flow.

    Returns:
        The model as bytes, ready for ``Interpreter(model_content=...)``.
    """
    names = [spec.name if spec.name is not None else f"t{i}" for i, spec in enumerate(tensors)]
    if len(set(names)) != len(names):
        raise ValueError("tensor names must be unique")
    extra_tensors = [spec for subgraph in subgraphs for spec in subgraph.tensors]
    for spec in [*tensors, *extra_tensors]:
        if spec.dtype not in DTYPES and spec.dtype not in HANDLE_TYPES:
            raise ValueError(f"unknown dtype {spec.dtype!r}; known: {sorted([*DTYPES, *HANDLE_TYPES])}")
        if spec.dtype in HANDLE_TYPES and spec.data is not None:
            raise ValueError(f"a {spec.dtype} tensor has no data")
    for number, subgraph in enumerate(subgraphs, start=1):
        for op in subgraph.operators:
            for index in [*op.inputs, *op.outputs]:
                if not -1 <= index < len(subgraph.tensors) or (index == -1 and index in op.outputs):
                    raise ValueError(f"subgraph {number} {op.op}: tensor index {index} out of range")
    extra_operators = [op for subgraph in subgraphs for op in subgraph.operators]
    for op in operators:
        for index in [*op.inputs, *op.outputs]:
            if not -1 <= index < len(tensors) or (index == -1 and index in op.outputs):
                raise ValueError(f"{op.op}: tensor index {index} out of range")

    builder = flatbuffers.Builder(1024)

    # Buffers: index 0 is the empty sentinel; each constant gets its own buffer.
    buffer_data: list[bytes | None] = [None]
    buffer_of_tensor: list[int] = []  # the main subgraph's tensors, then those of the others in order
    for spec in [*tensors, *extra_tensors]:
        if spec.data is None:
            buffer_of_tensor.append(0)
        else:
            buffer_data.append(_constant_bytes(spec))
            buffer_of_tensor.append(len(buffer_data) - 1)
    # Write the (big) data first so that it sits at the end of the file, like
    # the converter's output; 16-byte alignment is relative to the buffer end,
    # which Finish keeps aligned because the builder's minalign grows to 16.
    buffer_offsets = [_write_buffer(builder, data) for data in buffer_data]

    tensor_offsets = [_write_tensor(builder, spec, names[i], buffer_of_tensor[i]) for i, spec in enumerate(tensors)]

    # Operator codes: one per distinct (op, version), in order of first use.
    opcode_index: dict[tuple[str, int], int] = {}
    for op in [*operators, *extra_operators]:
        opcode_index.setdefault((op.op, op.version), len(opcode_index))
    opcode_offsets = []
    for op_name, version in opcode_index:
        custom_code = op_name[len(CUSTOM_PREFIX):] if op_name.startswith(CUSTOM_PREFIX) else None
        code = builtin_code("CUSTOM" if custom_code is not None else op_name)
        custom_code_offset = builder.CreateString(custom_code) if custom_code is not None else 0
        tflite.OperatorCodeStart(builder)
        if custom_code is not None:
            tflite.OperatorCodeAddCustomCode(builder, custom_code_offset)
        tflite.OperatorCodeAddDeprecatedBuiltinCode(builder, min(code, DEPRECATED_BUILTIN_CODE_MAX))
        tflite.OperatorCodeAddBuiltinCode(builder, code)
        tflite.OperatorCodeAddVersion(builder, version)
        opcode_offsets.append(tflite.OperatorCodeEnd(builder))

    operator_offsets = []  # the main subgraph's operators, then those of the others in order
    for op in [*operators, *extra_operators]:
        is_custom = op.op.startswith(CUSTOM_PREFIX)
        if is_custom and op.options:
            raise ValueError(f"{op.op}: a custom operator takes custom_options bytes, not options")
        options_type, options_offset = (BuiltinOptions.NONE, 0) if is_custom else \
            _encode_options(builder, op.op, op.options)
        custom_options_offset = 0
        if op.custom_options is not None:
            custom_options_offset = builder.CreateByteVector(bytes(op.custom_options))
        inputs_offset = _int_vector(builder, op.inputs)
        outputs_offset = _int_vector(builder, op.outputs)
        intermediates_offset = _int_vector(builder, op.intermediates) if op.intermediates else 0
        tflite.OperatorStart(builder)
        tflite.OperatorAddOpcodeIndex(builder, opcode_index[(op.op, op.version)])
        tflite.OperatorAddInputs(builder, inputs_offset)
        tflite.OperatorAddOutputs(builder, outputs_offset)
        if intermediates_offset:
            tflite.OperatorAddIntermediates(builder, intermediates_offset)
        if custom_options_offset:
            tflite.OperatorAddCustomOptions(builder, custom_options_offset)  # format FLEXBUFFERS (0), the default
        if options_type != BuiltinOptions.NONE:
            tflite.OperatorAddBuiltinOptionsType(builder, options_type)
            tflite.OperatorAddBuiltinOptions(builder, options_offset)
        operator_offsets.append(tflite.OperatorEnd(builder))

    extra_operator_offsets = operator_offsets[len(operators):]
    operator_offsets = operator_offsets[:len(operators)]
    tensors_vector = _offset_vector(builder, tflite.SubGraphStartTensorsVector, tensor_offsets)
    operators_vector = _offset_vector(builder, tflite.SubGraphStartOperatorsVector, operator_offsets)
    inputs_vector = _int_vector(builder, inputs)
    outputs_vector = _int_vector(builder, outputs)
    subgraph_name = builder.CreateString("main")
    tflite.SubGraphStart(builder)
    tflite.SubGraphAddTensors(builder, tensors_vector)
    tflite.SubGraphAddInputs(builder, inputs_vector)
    tflite.SubGraphAddOutputs(builder, outputs_vector)
    tflite.SubGraphAddOperators(builder, operators_vector)
    tflite.SubGraphAddName(builder, subgraph_name)
    subgraph_offset = tflite.SubGraphEnd(builder)
    subgraph_offsets = [subgraph_offset]
    first_tensor, first_operator = len(tensors), 0
    for number, subgraph in enumerate(subgraphs, start=1):
        sub_names = [spec.name if spec.name is not None else f"t{i}" for i, spec in enumerate(subgraph.tensors)]
        if len(set(sub_names)) != len(sub_names):
            raise ValueError(f"subgraph {number}: tensor names must be unique")
        sub_tensors = [_write_tensor(builder, spec, sub_names[i], buffer_of_tensor[first_tensor + i])
                       for i, spec in enumerate(subgraph.tensors)]
        sub_operators = extra_operator_offsets[first_operator:first_operator + len(subgraph.operators)]
        first_tensor += len(subgraph.tensors)
        first_operator += len(subgraph.operators)
        sub_tensors_vector = _offset_vector(builder, tflite.SubGraphStartTensorsVector, sub_tensors)
        sub_operators_vector = _offset_vector(builder, tflite.SubGraphStartOperatorsVector, sub_operators)
        sub_inputs_vector = _int_vector(builder, subgraph.inputs)
        sub_outputs_vector = _int_vector(builder, subgraph.outputs)
        sub_name = builder.CreateString(subgraph.name or f"subgraph{number}")
        tflite.SubGraphStart(builder)
        tflite.SubGraphAddTensors(builder, sub_tensors_vector)
        tflite.SubGraphAddInputs(builder, sub_inputs_vector)
        tflite.SubGraphAddOutputs(builder, sub_outputs_vector)
        tflite.SubGraphAddOperators(builder, sub_operators_vector)
        tflite.SubGraphAddName(builder, sub_name)
        subgraph_offsets.append(tflite.SubGraphEnd(builder))

    signature_vector = 0
    if signature_def:
        input_maps = _write_tensor_maps(builder, inputs, names)
        output_maps = _write_tensor_maps(builder, outputs, names)
        input_maps_vector = _offset_vector(builder, tflite.SignatureDefStartInputsVector, input_maps)
        output_maps_vector = _offset_vector(builder, tflite.SignatureDefStartOutputsVector, output_maps)
        key = builder.CreateString("serving_default")
        tflite.SignatureDefStart(builder)
        tflite.SignatureDefAddInputs(builder, input_maps_vector)
        tflite.SignatureDefAddOutputs(builder, output_maps_vector)
        tflite.SignatureDefAddSignatureKey(builder, key)
        tflite.SignatureDefAddSubgraphIndex(builder, 0)
        signature_offset = tflite.SignatureDefEnd(builder)
        signature_vector = _offset_vector(builder, tflite.ModelStartSignatureDefsVector, [signature_offset])

    opcodes_vector = _offset_vector(builder, tflite.ModelStartOperatorCodesVector, opcode_offsets)
    subgraphs_vector = _offset_vector(builder, tflite.ModelStartSubgraphsVector, subgraph_offsets)
    buffers_vector = _offset_vector(builder, tflite.ModelStartBuffersVector, buffer_offsets)
    description_offset = builder.CreateString(description)
    tflite.ModelStart(builder)
    tflite.ModelAddVersion(builder, TFLITE_SCHEMA_VERSION)
    tflite.ModelAddOperatorCodes(builder, opcodes_vector)
    tflite.ModelAddSubgraphs(builder, subgraphs_vector)
    tflite.ModelAddDescription(builder, description_offset)
    tflite.ModelAddBuffers(builder, buffers_vector)
    if signature_vector:
        tflite.ModelAddSignatureDefs(builder, signature_vector)
    model_offset = tflite.ModelEnd(builder)
    builder.Finish(model_offset, file_identifier=TFLITE_FILE_IDENTIFIER)
    return bytes(builder.Output())


def single_op_model(
    op: str,
    inputs: list[TensorSpec | None],
    outputs: list[TensorSpec],
    options: dict[str, Any] | None = None,
    version: int = 1,
    *,
    description: str = "refinterp modelbuilder",
    custom_options: bytes | None = None,
    intermediates: list[TensorSpec] | None = None,
) -> bytes:
    """A model with exactly one operator.

    Inputs with ``data`` become constants (weights, bias, shape tensors); the
    others become model inputs, in order. ``None`` in ``inputs`` writes ``-1``
    (an absent optional input, e.g. a missing bias). Unnamed tensors are named
    ``input_<k>``, ``const_<k>`` and ``output_<k>``.
    ``intermediates`` become the operator's intermediate tensors (``Operator.intermediates``: the integer
    LSTM reads its gate and hidden scales from them), named ``intermediate_<k>``.
    """
    tensors: list[TensorSpec] = []
    op_inputs: list[int] = []
    model_inputs: list[int] = []
    for position, spec in enumerate(inputs):
        if spec is None:
            op_inputs.append(-1)
            continue
        if spec.name is None:
            prefix = "state" if spec.is_variable else ("input" if spec.data is None else "const")
            spec = replace(spec, name=f"{prefix}_{position}")
        op_inputs.append(len(tensors))
        if spec.data is None and not spec.is_variable:
            model_inputs.append(len(tensors))
        tensors.append(spec)
    op_outputs: list[int] = []
    for position, spec in enumerate(outputs):
        if spec.name is None:
            spec = replace(spec, name=f"output_{position}")
        op_outputs.append(len(tensors))
        tensors.append(spec)
    op_intermediates: list[int] = []
    for position, spec in enumerate(intermediates or []):
        if spec.name is None:
            spec = replace(spec, name=f"intermediate_{position}")
        op_intermediates.append(len(tensors))
        tensors.append(spec)
    operator = OpSpec(op, op_inputs, op_outputs, dict(options or {}), version, custom_options, op_intermediates)
    return build_model(tensors, [operator], model_inputs, op_outputs, description=description)

"""Read a .tflite flatbuffer into an immutable graph, accepting what LiteRT accepts.

Three layers, in the order LiteRT applies them:

1. **The flatbuffer verifier** (:mod:`refinterp.flatbuffer_verifier`): every offset, vector, string, table and
   union of the file in bounds and aligned, as ``flatbuffers::Verifier`` checks before LiteRT reads anything.
   Only then are the ``tflite`` schema bindings used to read fields.
2. **LiteRT's model reader** (``interpreter_builder.cc``, ``schema_utils.cc``): the schema version, the
   operator code (the raw ``builtin_code`` field, max with ``deprecated_builtin_code``; the bindings'
   ``BuiltinCode()`` would hide it), every index, the size of every constant buffer against its tensor's
   shape (sparse tensors excepted), quantization parameters (``ParseQuantization``), sparsity parameters
   (``ParseSparsity``), variable and external-buffer tensors, signature defs.
3. **LiteRT's options parser** (``flatbuffer_conversions.cc`` ``ParseOpData``): for every operator with a rule in
   :data:`LITERT_OPTIONS` or :data:`LITERT_NO_OPTIONS` (every operator refinterp implements has one; a test holds
   the registry to it), :attr:`Operator.options` holds what LiteRT's C struct holds: the options table is used only
   when its type is the one the operator takes (a table of another type counts as absent), and an absent
   table leaves LiteRT's zeroed struct (``beta`` 0.0, strides 0, padding unknown), not the schema's defaults;
   enum values LiteRT does not know become its "unknown"/"none" values, and those it refuses refuse the file.

On top of LiteRT, refinterp refuses what it cannot compute identically (block-wise quantization, external
buffers, sparse tensors other than DENSIFY's input, non-finite or non-positive scales and zero points outside
the tensor type on integer tensors) and records in :attr:`Model.litert_refusals` what LiteRT refuses but TFLM
runs (an out-of-range ``quantized_dimension``: person_detect's 1-D biases carry 3).

Constant data are read-only NumPy views into the file's bytes, never copies. A failure raises
:class:`~refinterp.errors.ModelFormatError` (or :class:`~refinterp.errors.UnsupportedOpError` for a feature
refinterp lacks) with one line saying where parsing stopped; names and values from the file are escaped and
truncated (:func:`refinterp.errors.shown`).
"""

from __future__ import annotations

import math
import mmap
import os
import re
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import flatbuffers
import flatbuffers.flexbuffers
import numpy as np
import tflite

from refinterp.errors import ModelFormatError, RefinterpError, UnsupportedOpError, shown
from refinterp.flatbuffer_verifier import LAYOUT_MAX_BUILTIN_OPERATOR, verify_model

#: The schema version this parser reads (``Model.version``); TFLite refuses any other.
SCHEMA_VERSION = 3
FILE_IDENTIFIER = b"TFL3"
#: A single tensor larger than this is treated as a corrupt file rather than allocated.
MAX_TENSOR_BYTES = 1 << 32
#: Files larger than this are memory-mapped instead of read.
MMAP_THRESHOLD_BYTES = 256 << 20

# TensorType -> NumPy dtype (little-endian, as every .tflite is). None: no NumPy equivalent we compute on.
# These are the types LiteRT's ConvertTensorType accepts (ai-edge-litert 2.3.0); any other refuses the file.
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
    21: ("float8_e4m3fn", None),
    22: ("float8_e5m2", None),
}
#: Bytes per element of the types refinterp keeps no array of, whose buffer size LiteRT checks against the
#: shape all the same (SetTensorParametersReadOnly; measured: a bfloat16 retype of int8 weights is refused)
_RAW_ELEMENT_BYTES = {"bfloat16": 2, "float8_e4m3fn": 1, "float8_e5m2": 1}
#: Integer types: a quantization on these is used by the kernels, so its scale and zero point must be sane.
_INTEGER_TYPES = frozenset({"int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "int4",
                            "uint4", "int2"})
#: The zero point range of the narrow integer types.
_ZERO_POINT_RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767), "uint16": (0, 65535),
                      "int4": (-8, 7), "uint4": (0, 15), "int2": (-2, 1)}
_INT32_RANGE = (-(1 << 31), (1 << 31) - 1)

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
_OPTIONS_CODES: dict[str, int] = {name: value for value, name in _OPTIONS_NAMES.items()}
_CUSTOM = BUILTIN_OPERATOR_CODES["CUSTOM"]
_DENSIFY = BUILTIN_OPERATOR_CODES["DENSIFY"]
_PLACEHOLDER_FOR_GREATER_OP_CODES = BUILTIN_OPERATOR_CODES["PLACEHOLDER_FOR_GREATER_OP_CODES"]
#: ``QuantizationDetails`` union values LiteRT gives a meaning to (interpreter_builder.cc ParseQuantization)
_BLOCKWISE_QUANTIZATION = 2
_MULTI_AXIS_QUANTIZATION = 3
#: ``Tensor.external_buffer`` (schema 3d): vtable offset of a field the ``tflite`` 2.18 bindings do not read
_TENSOR_EXTERNAL_BUFFER_VOFFSET = 24

#: Option values standing for LiteRT's "unknown" enum values (and for the zeroed struct of an absent table):
#: ``kTfLitePaddingUnknown`` (a padding other than SAME 0 / VALID 1) and ``kTfLiteNoType`` (no tensor type).
PADDING_UNKNOWN = -1
TENSOR_TYPE_NONE = -1


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


@dataclass(frozen=True, eq=False)
class DimensionMetadata:
    """One traversed level of a sparse tensor, as LiteRT's ``TfLiteDimensionMetadata`` holds it: a DENSE level
    its ``dense_size`` (0 for a SPARSE_CSR level, whose file value LiteRT never reads), a SPARSE_CSR level its
    ``array_segments`` and ``array_indices`` (int64, read-only; LiteRT copies the int32/uint16/uint8 vectors
    into ints)."""

    format: str  # "DENSE" or "SPARSE_CSR"
    dense_size: int
    array_segments: np.ndarray | None = None
    array_indices: np.ndarray | None = None


@dataclass(frozen=True)
class Sparsity:
    """A constant tensor's sparsity parameters (``TfLiteSparsity``; interpreter_builder.cc ParseSparsity):
    the traversal order of the expanded dimensions (the original ones, then one per block), the original
    dimension each block dimension splits, and one :class:`DimensionMetadata` per traversed level. Only
    what the reader checks is checked here; DENSIFY's prepare (refinterp/ops/sparse.py) checks the rest
    against the dense shape and the stored values."""

    traversal_order: tuple[int, ...]
    block_map: tuple[int, ...]
    dim_metadata: tuple[DimensionMetadata, ...]


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
    data: np.ndarray | None  # read-only view into the model bytes for constant tensors (raw bytes if sparse)
    is_variable: bool = False
    has_sparsity: bool = False
    #: a sparse constant's parsed sparsity parameters (``data`` then holds its stored values as raw bytes)
    sparsity: Sparsity | None = field(default=None, compare=False, repr=False)
    #: a constant's whole buffer (read-only bytes) when it is longer than the shape needs: LiteRT's
    #: ``tensor->bytes`` is the buffer's size, and a few kernels read all of it (DIV's zero-divisor check)
    buffer_data: np.ndarray | None = field(default=None, compare=False, repr=False)
    #: a zero-element constant whose buffer has no data vector at all: LiteRT's ParseTensors then makes it a
    #: read-write tensor with a null data pointer, which a few kernels refuse (GATHER_ND)
    null_data: bool = False

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def nbytes(self) -> int:
        itemsize = self.dtype.itemsize if self.dtype is not None else 1
        return math.prod(self.shape) * itemsize

    def reset_fill(self, tflm: bool = False) -> int:
        """The value a variable tensor is reset to, byte by byte (ResetVariableTensor memsets ``tensor->bytes``
        with it): the zero point of an int8 tensor, else 0. LiteRT reads ``params.zero_point``, which
        GetLegacyQuantization sets for a per-tensor quantization only (a per-channel variable resets to 0);
        TFLM copies ``zero_point[0]`` into its params either way. Both measured on a model builder file."""
        q = self.quantization
        if self.type_name != "int8" or q is None or (q.per_channel and not tflm):
            return 0
        return int(q.zero_point[0])

    def __repr__(self) -> str:
        return f"Tensor({self.index}, {shown(self.name)}, {self.type_name}{shown(list(self.shape))})"


@dataclass(frozen=True)
class Operator:
    """One operator of a subgraph, in execution order."""

    index: int
    opcode: int  # BuiltinOperator value: max(builtin_code, deprecated_builtin_code)
    name: str  # "CONV_2D"; "CUSTOM:<custom_code>" for custom operators
    version: int
    inputs: tuple[int, ...]  # -1 marks an absent optional input
    outputs: tuple[int, ...]
    #: the options as LiteRT's ParseOpData leaves them (see the module docstring), snake_case keys named after
    #: the schema's fields; for an operator without a ParseOpData rule here, the table the file declares, decoded
    options: Mapping[str, Any]
    options_type: str  # the options table the file declares ("Conv2DOptions"), "" when none
    custom_code: str | None = None
    intermediates: tuple[int, ...] = ()
    #: a custom operator's raw ``custom_options`` bytes (b"" when absent); for a custom operator in
    #: :data:`FLEXBUFFER_CUSTOM_OPS`, :attr:`options` holds them decoded (a flexbuffer map)
    custom_options: bytes = b""

    def __repr__(self) -> str:
        return f"Operator({self.index}, {self.name}, in={shown(list(self.inputs))}, out={shown(list(self.outputs))})"


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
    #: one-line reasons LiteRT's model reader refuses this file although TFLM reads it (an interpreter
    #: following LiteRT refuses the model with the first one)
    litert_refusals: tuple[str, ...] = ()
    _buffer: Any = field(default=None, repr=False, compare=False)  # keeps the bytes alive for the views

    @property
    def main(self) -> Subgraph:
        return self.subgraphs[0]


# --------------------------------------------------------------------------------------------------
# Reading helpers. The verifier has checked every offset before these run, so the bindings cannot read out
# of bounds; what remains is meaning.


class _Reader:
    def __init__(self, buffer: Any):
        self.buffer = buffer
        self.size = len(buffer)
        self.litert_refusals: list[str] = []

    def int_vector(self, obj: Any, method: str) -> tuple[int, ...]:
        if getattr(obj, method + "IsNone")():
            return ()
        return tuple(getattr(obj, method + "AsNumpy")().tolist())

    @staticmethod
    def string(value: bytes | None) -> str:
        if value is None:
            return ""
        return value.decode("utf-8", errors="replace")


def _raw_field(obj: Any, voffset: int, fmt: str, default: Any) -> Any:
    """A scalar field the bindings have no accessor for (newer than the ``tflite`` package)."""
    o = obj._tab.Offset(voffset)
    if o == 0:
        return default
    return struct.unpack_from(fmt, obj._tab.Bytes, obj._tab.Pos + o)[0]


def _utf8(value: bytes, where: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelFormatError(f"{where} {shown(value)} is not UTF-8 (LiteRT's Python Interpreter refuses "
                               "it)") from None


def _snake_case(name: str) -> str:
    # flatc writes the schema's snake_case fields in CamelCase (dilation_h_factor -> DilationHFactor):
    # an underscore before every capital but the first undoes it.
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# --------------------------------------------------------------------------------------------------
# Options as LiteRT's ParseOpData reads them (flatbuffer_conversions.cc), for the operators refinterp runs.


class _OptionValueError(Exception):
    """A value LiteRT's parser refuses (it fails ParseOpData, and so the whole model)."""


def _activation(value: int) -> int:
    """ConvertActivation: NONE..SIGN_BIT keep their value, anything else is NONE."""
    return int(value) if 0 <= value <= 5 else 0


def _padding(value: int) -> int:
    """ConvertPadding: SAME (0) and VALID (1); anything else is kTfLitePaddingUnknown."""
    return int(value) if value in (0, 1) else PADDING_UNKNOWN


def _string(value: bytes | None) -> str:
    """A string option (ParseVarHandle's container and shared_name): its bytes, one character each."""
    return value.decode("latin-1") if value else ""


def _tensor_type(value: int) -> int:
    """ConvertTensorType: a known TensorType keeps its schema value; any other fails the model."""
    if value not in _TENSOR_TYPES:
        raise _OptionValueError(f"tensor type {value} in the options, which LiteRT does not know")
    return int(value)


def _weights_format(value: int) -> int:
    """ParseFullyConnected: DEFAULT (0) or SHUFFLED4x16INT8 (1); any other fails the model."""
    if value not in (0, 1):
        raise _OptionValueError(f"fully-connected weights_format {value}, which LiteRT does not know")
    return int(value)


def _reshape_dimensions(values: tuple[int, ...]) -> tuple[int, ...]:
    """ParseReshape copies new_shape into an int[8]: more dimensions fail the model."""
    if len(values) > 8:
        raise _OptionValueError(f"RESHAPE new_shape of {len(values)} dimensions (LiteRT's parser takes at most 8)")
    return tuple(int(v) for v in values)


#: (key, bindings accessor, conversion, value LiteRT's zeroed struct holds when the table is absent)
_OptionField = tuple[str, str, Callable[[Any], Any], Any]

_ACTIVATION = ("fused_activation_function", "FusedActivationFunction", _activation, 0)
_POOL = ("Pool2DOptions", (
    ("padding", "Padding", _padding, PADDING_UNKNOWN), ("stride_w", "StrideW", int, 0),
    ("stride_h", "StrideH", int, 0), ("filter_width", "FilterWidth", int, 0),
    ("filter_height", "FilterHeight", int, 0), _ACTIVATION))
_REDUCER = ("ReducerOptions", (("keep_dims", "KeepDims", bool, False),))
_RESIZE = (("align_corners", "AlignCorners", bool, False), ("half_pixel_centers", "HalfPixelCenters", bool, False))
_ONLY_ACTIVATION = (_ACTIVATION,)


def _mirror_pad_mode(value: int) -> int:
    """ConvertMirrorPadding: REFLECT (0) and SYMMETRIC (1); anything else is kTfLiteMirrorPaddingUnknown."""
    return int(value) if value in (0, 1) else PADDING_UNKNOWN


def _squeeze_dimensions(values: tuple[int, ...]) -> tuple[int, ...]:
    """ParseSqueeze copies squeeze_dims into an int[8]: more fail the model."""
    if len(values) > 8:
        raise _OptionValueError(f"SQUEEZE squeeze_dims of {len(values)} entries (LiteRT's parser takes at most 8)")
    return tuple(int(v) for v in values)


#: operator -> (the options table ParseOpData reads, its fields), for every operator with options that refinterp
#: implements or may soon (a test holds the registry to this table). LiteRT reads
#: ``op->builtin_options_as_<Table>()``: null unless the declared type is that table, and a null table leaves
#: the zeroed struct.
LITERT_OPTIONS: dict[str, tuple[str, tuple[_OptionField, ...]]] = {
    "CONV_2D": ("Conv2DOptions", (
        ("padding", "Padding", _padding, PADDING_UNKNOWN), ("stride_w", "StrideW", int, 0),
        ("stride_h", "StrideH", int, 0), _ACTIVATION, ("dilation_w_factor", "DilationWFactor", int, 0),
        ("dilation_h_factor", "DilationHFactor", int, 0),
        ("quantized_bias_type", "QuantizedBiasType", _tensor_type, TENSOR_TYPE_NONE))),
    "DEPTHWISE_CONV_2D": ("DepthwiseConv2DOptions", (
        ("padding", "Padding", _padding, PADDING_UNKNOWN), ("stride_w", "StrideW", int, 0),
        ("stride_h", "StrideH", int, 0), ("depth_multiplier", "DepthMultiplier", int, 0), _ACTIVATION,
        ("dilation_w_factor", "DilationWFactor", int, 0), ("dilation_h_factor", "DilationHFactor", int, 0))),
    "TRANSPOSE_CONV": ("TransposeConvOptions", (
        ("padding", "Padding", _padding, PADDING_UNKNOWN), ("stride_w", "StrideW", int, 0),
        ("stride_h", "StrideH", int, 0), _ACTIVATION,
        ("quantized_bias_type", "QuantizedBiasType", _tensor_type, TENSOR_TYPE_NONE))),
    "FULLY_CONNECTED": ("FullyConnectedOptions", (
        _ACTIVATION, ("keep_num_dims", "KeepNumDims", bool, False),
        ("asymmetric_quantize_inputs", "AsymmetricQuantizeInputs", bool, False),
        ("quantized_bias_type", "QuantizedBiasType", _tensor_type, TENSOR_TYPE_NONE),
        ("weights_format", "WeightsFormat", _weights_format, 0))),
    "SVDF": ("SVDFOptions", (("rank", "Rank", int, 0), _ACTIVATION,
                             ("asymmetric_quantize_inputs", "AsymmetricQuantizeInputs", bool, False))),
    "RNN": ("RNNOptions", (_ACTIVATION, ("asymmetric_quantize_inputs", "AsymmetricQuantizeInputs", bool, False))),
    "UNIDIRECTIONAL_SEQUENCE_RNN": ("SequenceRNNOptions", (
        ("time_major", "TimeMajor", bool, False), _ACTIVATION,
        ("asymmetric_quantize_inputs", "AsymmetricQuantizeInputs", bool, False))),
    "BIDIRECTIONAL_SEQUENCE_RNN": ("BidirectionalSequenceRNNOptions", (
        ("time_major", "TimeMajor", bool, False), _ACTIVATION, ("merge_outputs", "MergeOutputs", bool, False),
        ("asymmetric_quantize_inputs", "AsymmetricQuantizeInputs", bool, False))),
    "BIDIRECTIONAL_SEQUENCE_LSTM": ("BidirectionalSequenceLSTMOptions", (
        _ACTIVATION, ("cell_clip", "CellClip", float, 0.0), ("proj_clip", "ProjClip", float, 0.0),
        ("merge_outputs", "MergeOutputs", bool, False),
        # The schema's default is true, but an absent table leaves ParseOpData's zeroed struct: false.
        ("time_major", "TimeMajor", bool, False),
        ("asymmetric_quantize_inputs", "AsymmetricQuantizeInputs", bool, False))),
    "UNIDIRECTIONAL_SEQUENCE_LSTM": ("UnidirectionalSequenceLSTMOptions", (
        _ACTIVATION, ("cell_clip", "CellClip", float, 0.0), ("proj_clip", "ProjClip", float, 0.0),
        ("time_major", "TimeMajor", bool, False),
        ("asymmetric_quantize_inputs", "AsymmetricQuantizeInputs", bool, False),
        ("diagonal_recurrent_tensors", "DiagonalRecurrentTensors", bool, False))),
    "CALL_ONCE": ("CallOnceOptions", (("init_subgraph_index", "InitSubgraphIndex", int, 0),)),
    "WHILE": ("WhileOptions", (("cond_subgraph_index", "CondSubgraphIndex", int, 0),
                               ("body_subgraph_index", "BodySubgraphIndex", int, 0))),
    "IF": ("IfOptions", (("then_subgraph_index", "ThenSubgraphIndex", int, 0),
                         ("else_subgraph_index", "ElseSubgraphIndex", int, 0))),
    "VAR_HANDLE": ("VarHandleOptions", (("container", "Container", _string, ""),
                                        ("shared_name", "SharedName", _string, ""))),
    "AVERAGE_POOL_2D": _POOL,
    "MAX_POOL_2D": _POOL,
    "L2_POOL_2D": _POOL,
    "MEAN": _REDUCER,
    "SUM": _REDUCER,
    "REDUCE_MAX": _REDUCER,
    "REDUCE_MIN": _REDUCER,
    "REDUCE_PROD": _REDUCER,
    "REDUCE_ANY": _REDUCER,
    "REDUCE_ALL": _REDUCER,
    "SOFTMAX": ("SoftmaxOptions", (("beta", "Beta", float, 0.0),)),
    "LEAKY_RELU": ("LeakyReluOptions", (("alpha", "Alpha", float, 0.0),)),
    "L2_NORMALIZATION": ("L2NormOptions", _ONLY_ACTIVATION),
    "LOCAL_RESPONSE_NORMALIZATION": ("LocalResponseNormalizationOptions", (
        ("radius", "Radius", int, 0), ("bias", "Bias", float, 0.0), ("alpha", "Alpha", float, 0.0),
        ("beta", "Beta", float, 0.0))),
    "CONCATENATION": ("ConcatenationOptions", (("axis", "Axis", int, 0), _ACTIVATION)),
    "RESIZE_NEAREST_NEIGHBOR": ("ResizeNearestNeighborOptions", _RESIZE),
    "RESIZE_BILINEAR": ("ResizeBilinearOptions", _RESIZE),
    "RESHAPE": ("ReshapeOptions", (("new_shape", "NewShape", _reshape_dimensions, ()),)),
    "SQUEEZE": ("SqueezeOptions", (("squeeze_dims", "SqueezeDims", _squeeze_dimensions, ()),)),
    "ADD": ("AddOptions", (_ACTIVATION, ("pot_scale_int16", "PotScaleInt16", bool, False))),
    "SUB": ("SubOptions", (_ACTIVATION, ("pot_scale_int16", "PotScaleInt16", bool, False))),
    "MUL": ("MulOptions", _ONLY_ACTIVATION),
    "DIV": ("DivOptions", _ONLY_ACTIVATION),
    "STRIDED_SLICE": ("StridedSliceOptions", (
        ("begin_mask", "BeginMask", int, 0), ("end_mask", "EndMask", int, 0),
        ("ellipsis_mask", "EllipsisMask", int, 0), ("new_axis_mask", "NewAxisMask", int, 0),
        ("shrink_axis_mask", "ShrinkAxisMask", int, 0), ("offset", "Offset", bool, False))),
    "SHAPE": ("ShapeOptions", (("out_type", "OutType", _tensor_type, TENSOR_TYPE_NONE),)),
    "ARG_MAX": ("ArgMaxOptions", (("output_type", "OutputType", _tensor_type, TENSOR_TYPE_NONE),)),
    "ARG_MIN": ("ArgMinOptions", (("output_type", "OutputType", _tensor_type, TENSOR_TYPE_NONE),)),
    "CAST": ("CastOptions", (("in_data_type", "InDataType", _tensor_type, TENSOR_TYPE_NONE),
                             ("out_data_type", "OutDataType", _tensor_type, TENSOR_TYPE_NONE))),
    "PACK": ("PackOptions", (("values_count", "ValuesCount", int, 0), ("axis", "Axis", int, 0))),
    "UNPACK": ("UnpackOptions", (("num", "Num", int, 0), ("axis", "Axis", int, 0))),
    "SPLIT": ("SplitOptions", (("num_splits", "NumSplits", int, 0),)),
    "SPLIT_V": ("SplitVOptions", (("num_splits", "NumSplits", int, 0),)),
    "GATHER": ("GatherOptions", (("axis", "Axis", int, 0), ("batch_dims", "BatchDims", int, 0))),
    "SPACE_TO_DEPTH": ("SpaceToDepthOptions", (("block_size", "BlockSize", int, 0),)),
    "DEPTH_TO_SPACE": ("DepthToSpaceOptions", (("block_size", "BlockSize", int, 0),)),
    "MIRROR_PAD": ("MirrorPadOptions", (("mode", "Mode", _mirror_pad_mode, PADDING_UNKNOWN),)),
    "BATCH_MATMUL": ("BatchMatMulOptions", (
        ("adj_x", "AdjX", bool, False), ("adj_y", "AdjY", bool, False),
        ("asymmetric_quantize_inputs", "AsymmetricQuantizeInputs", bool, False))),
    "CUMSUM": ("CumsumOptions", (("exclusive", "Exclusive", bool, False), ("reverse", "Reverse", bool, False))),
    "GELU": ("GeluOptions", (("approximate", "Approximate", bool, False),)),
    "ONE_HOT": ("OneHotOptions", (("axis", "Axis", int, 0),)),
}
#: Operators whose ParseOpData reads no options at all (flatbuffer_conversions.cc: their Parse function returns
#: without builtin data): a table in the file is ignored, ``options`` is empty.
LITERT_NO_OPTIONS = frozenset({
    "ABS", "ADD_N", "ASSIGN_VARIABLE", "ATAN2", "BATCH_TO_SPACE_ND", "BITCAST", "BITWISE_XOR", "BROADCAST_ARGS",
    "BROADCAST_TO", "CEIL", "COS", "DENSIFY", "DEQUANTIZE", "DILATE", "DYNAMIC_UPDATE_SLICE", "ELU",
    "EMBEDDING_LOOKUP", "EQUAL", "EXP", "EXPAND_DIMS", "FILL", "FLOOR", "FLOOR_DIV", "FLOOR_MOD", "GATHER_ND",
    "GREATER", "GREATER_EQUAL", "HARD_SWISH", "LESS", "LESS_EQUAL", "LOG", "LOGICAL_AND", "LOGICAL_NOT", "LOGICAL_OR",
    "LOGISTIC", "LOG_SOFTMAX", "MATRIX_DIAG", "MATRIX_SET_DIAG", "MAXIMUM", "MINIMUM", "NEG",
    "NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5", "NOT_EQUAL", "PAD", "PADV2", "POW", "PRELU", "QUANTIZE",
    "RANGE", "RANK", "READ_VARIABLE", "RELU", "RELU6", "RELU_0_TO_1", "RELU_N1_TO_1", "REVERSE_V2", "RIGHT_SHIFT",
    "ROUND", "RSQRT", "SCATTER_ND", "SEGMENT_SUM", "SELECT", "SELECT_V2", "SIGN", "SIN", "SLICE", "SPACE_TO_BATCH_ND",
    "SQRT", "SQUARE", "SQUARED_DIFFERENCE", "TANH", "TILE", "TOPK_V2", "TRANSPOSE", "UNSORTED_SEGMENT_MAX",
    "UNSORTED_SEGMENT_MIN", "UNSORTED_SEGMENT_PROD", "UNSORTED_SEGMENT_SUM", "WHERE", "ZEROS_LIKE",
})


def _options_object(op: Any, class_name: str) -> Any:
    table = op.BuiltinOptions()
    if table is None:
        return None
    options_obj = getattr(tflite, class_name)()
    options_obj.Init(table.Bytes, table.Pos)
    return options_obj


def _litert_options(op: Any, name: str, where: str) -> dict[str, Any]:
    """``Operator.options`` for an operator with a ParseOpData rule: exactly what LiteRT's parser yields."""
    if name in LITERT_NO_OPTIONS:
        return {}
    table_name, fields = LITERT_OPTIONS[name]
    options_obj = None
    if op.BuiltinOptionsType() == _OPTIONS_CODES[table_name]:  # builtin_options_as_<Table>()
        options_obj = _options_object(op, table_name)
    if options_obj is None:
        return {key: absent for key, _, _, absent in fields}
    options = {}
    for key, accessor, convert, _ in fields:
        if hasattr(type(options_obj), accessor + "Length"):  # a vector: absent reads as empty
            raw: Any = () if getattr(options_obj, accessor + "IsNone")() else tuple(
                getattr(options_obj, accessor + "AsNumpy")().tolist())
        else:
            raw = getattr(options_obj, accessor)()
        try:
            options[key] = convert(raw)
        except _OptionValueError as exc:
            raise ModelFormatError(f"{where}: {exc}") from None
    return options


def _decode_options_table(table: Any, class_name: str, reader: _Reader) -> dict[str, Any]:
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
                value = tuple(getattr(options_obj, attr + "AsNumpy")().tolist())
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


def _declared_options(op: Any, reader: _Reader) -> tuple[dict[str, Any], str]:
    """The options table(s) the file declares, decoded as they are (for operators refinterp does not run)."""
    options: dict[str, Any] = {}
    type_name = ""
    for type_getter, table_getter, names in (
        ("BuiltinOptionsType", "BuiltinOptions", _OPTIONS_NAMES),
        ("BuiltinOptions2Type", "BuiltinOptions2", _OPTIONS2_NAMES),
    ):
        tag = getattr(op, type_getter)()
        class_name = names.get(tag)
        if tag == 0 or class_name is None:  # an unknown union type is not an error: LiteRT ignores it too
            continue
        type_name = type_name or class_name
        table = getattr(op, table_getter)()
        if table is not None:
            options.update(_decode_options_table(table, class_name, reader))
    return options, type_name


def _operator_options(op: Any, name: str, reader: _Reader, where: str) -> tuple[dict[str, Any], str]:
    """(options, the options table the file declares)."""
    if name in LITERT_OPTIONS or name in LITERT_NO_OPTIONS:
        tag = op.BuiltinOptionsType()
        return _litert_options(op, name, where), (_OPTIONS_NAMES.get(tag, "") if tag else "")
    return _declared_options(op, reader)


# --------------------------------------------------------------------------------------------------
# Tensors: interpreter_builder.cc ParseTensors / ParseQuantization / ParseSparsity


def _read_quantization(t: Any, shape: tuple[int, ...], type_name: str, reader: _Reader,
                       where: str) -> Quantization | None:
    q = t.Quantization()
    if q is None:
        return None
    if q.DetailsType() == _BLOCKWISE_QUANTIZATION:
        raise UnsupportedOpError(f"{where}: block-wise quantization is not supported")
    if q.DetailsType() == _MULTI_AXIS_QUANTIZATION:
        # LiteRT 2.3.0 refuses the type without its details table ("Invalid MultiAxisQuantization parameters"),
        # measured; with one, the scales live in the table, which no reference kernel reads: not run here.
        if q.Details() is None:
            raise ModelFormatError(f"{where}: multi-axis quantization without its details table")
        raise UnsupportedOpError(f"{where}: multi-axis quantization is not supported")
    if q.ScaleIsNone() or q.ScaleLength() == 0:
        return None  # interpreter_builder: no scale vector means "not quantized"
    n = q.ScaleLength()
    scale = np.array(q.ScaleAsNumpy(), dtype=np.float32)
    if q.ZeroPointIsNone():
        raise ModelFormatError(f"{where}: quantization has {n} scales but no zero_point")
    if q.ZeroPointLength() != n:
        raise ModelFormatError(f"{where}: quantization has {n} scales but {q.ZeroPointLength()} zero points")
    zero_point = np.array(q.ZeroPointAsNumpy(), dtype=np.int64)
    axis = int(q.QuantizedDimension())
    rank = len(shape)
    if axis < 0 or (rank and axis >= rank):
        # LiteRT's ParseQuantization refuses this whatever the number of scales; TFLM never looks at the axis
        # of a per-tensor quantization, nor at that of a 1-D tensor (person_detect's per-channel biases carry
        # quantized_dimension 3). With one axis or one scale there is only one reading: axis 0.
        if n > 1 and not (rank == 1 and shape[0] == n):
            raise ModelFormatError(f"{where}: quantized_dimension {axis} outside the tensor's rank {rank}")
        reader.litert_refusals.append(f"{where}: quantized_dimension {axis} outside the tensor's rank {rank} "
                                      "(LiteRT refuses the model; TFLM ignores it)")
        axis = 0
    if n > 1:
        if rank == 0:
            raise ModelFormatError(f"{where}: {n} per-channel scales on a scalar")
        if shape[axis] != n:
            raise ModelFormatError(f"{where}: {n} scales for dimension {axis} of size {shape[axis]}")
    if type_name in _INTEGER_TYPES:
        # LiteRT's reader takes any float; its kernels then divide by it, take its logarithm or call frexp on
        # it with results that differ from kernel to kernel. A scale no converter writes is refused instead.
        bad = ~(np.isfinite(scale) & (scale > 0))
        if bad.any():
            k = int(np.argmax(bad))
            raise ModelFormatError(f"{where}: quantization scale[{k}] is {shown(float(scale[k]))}, "
                                   "not a finite positive number")
        # LiteRT keeps zero points in int32 (a wider one wraps around), and a zero point outside the type's
        # range is computed with differently by different kernels: refused.
        low, high = _ZERO_POINT_RANGES.get(type_name, _INT32_RANGE)
        bad = (zero_point < low) | (zero_point > high)
        if bad.any():
            k = int(np.argmax(bad))
            raise ModelFormatError(f"{where}: quantization zero_point[{k}] {int(zero_point[k])} is outside "
                                   f"[{low}, {high}] for {type_name}")
    else:
        wrapped = (zero_point < _INT32_RANGE[0]) | (zero_point > _INT32_RANGE[1])
        if wrapped.any():
            k = int(np.argmax(wrapped))
            raise ModelFormatError(f"{where}: quantization zero_point[{k}] {int(zero_point[k])} does not fit "
                                   "in int32")
    qmin = np.array(q.MinAsNumpy(), dtype=np.float32) if not q.MinIsNone() else None
    qmax = np.array(q.MaxAsNumpy(), dtype=np.float32) if not q.MaxIsNone() else None
    for arr in (scale, zero_point, qmin, qmax):
        if arr is not None:
            arr.setflags(write=False)
    return Quantization(scale, zero_point, axis, qmin, qmax)


_SPARSE_INDEX_VECTORS = {1: tflite.Int32Vector, 2: tflite.Uint16Vector, 3: tflite.Uint8Vector}


def _read_sparsity(sparsity: Any, reader: _Reader, where: str) -> Sparsity:
    """interpreter_builder.cc ParseSparsity / ParseSparseIndexVector: a constant tensor's sparsity parameters,
    refused where LiteRT's reader refuses them (no traversal_order or dim_metadata, an unknown dimension format,
    a SPARSE_CSR level without a segments or indices vector of a known type)."""
    if sparsity.TraversalOrderIsNone() or sparsity.DimMetadataIsNone():
        raise ModelFormatError(f"{where}: sparsity parameters without traversal_order or dim_metadata")
    levels = []
    for i in range(sparsity.DimMetadataLength()):
        dim = sparsity.DimMetadata(i)
        dim_format = dim.Format()
        if dim_format == 0:  # DENSE
            levels.append(DimensionMetadata("DENSE", int(dim.DenseSize())))
            continue
        if dim_format != 1:  # SPARSE_CSR
            raise ModelFormatError(f"{where}: sparsity dimension {i} has unknown format {dim_format}")
        arrays = []
        for kind, type_getter, table_getter in (("segments", "ArraySegmentsType", "ArraySegments"),
                                                ("indices", "ArrayIndicesType", "ArrayIndices")):
            table = getattr(dim, table_getter)()
            vector_class = _SPARSE_INDEX_VECTORS.get(getattr(dim, type_getter)())
            if table is None or vector_class is None:
                raise ModelFormatError(f"{where}: sparse dimension {i} has no valid array {kind}")
            values = vector_class()
            values.Init(table.Bytes, table.Pos)
            if values.ValuesIsNone():
                raise ModelFormatError(f"{where}: sparse dimension {i} has no array {kind} values")
            array = np.array(values.ValuesAsNumpy(), dtype=np.int64).reshape(-1)
            array.setflags(write=False)
            arrays.append(array)
        levels.append(DimensionMetadata("SPARSE_CSR", 0, arrays[0], arrays[1]))
    return Sparsity(reader.int_vector(sparsity, "TraversalOrder"), reader.int_vector(sparsity, "BlockMap"),
                    tuple(levels))


def _buffer_bytes(model_fb: Any, index: int, reader: _Reader, where: str) -> memoryview | None:
    """The bytes of buffer ``index``, located as LiteRT's ParseTensors does: the ``data`` vector when it is
    present (even empty), otherwise ``offset``/``size`` from the start of the file when offset > 1 (models
    over 2 GB, schema 3c), otherwise none."""
    buf = model_fb.Buffers(index)
    if not buf.DataIsNone():
        start = buf._tab.Vector(buf._tab.Offset(4))
        return memoryview(reader.buffer)[start:start + buf.DataLength()]
    offset, size = int(buf.Offset()), int(buf.Size())
    if offset > 1:
        if offset + size > reader.size:
            raise ModelFormatError(f"{where}: buffer {index} spans bytes {offset}..{offset + size}, "
                                   f"past the end of the {reader.size}-byte file")
        return memoryview(reader.buffer)[offset:offset + size]
    return None


_SIZE_MAX = (1 << 64) - 1
_INT64_MAX = (1 << 63) - 1


def _read_tensor(model_fb: Any, t: Any, index: int, n_buffers: int, reader: _Reader, sg_where: str) -> Tensor:
    where = f"{sg_where} tensor {index}"
    name = reader.string(t.Name())
    if name:
        where += f" {shown(name)}"
    type_code = int(t.Type())
    if type_code not in _TENSOR_TYPES:
        raise ModelFormatError(f"{where}: unknown tensor type {type_code}")
    type_name, dtype = _TENSOR_TYPES[type_code]
    shape = reader.int_vector(t, "Shape")
    signature = reader.int_vector(t, "ShapeSignature") or shape
    if any(d < 0 for d in shape):
        raise ModelFormatError(f"{where}: negative dimension in shape {shown(list(shape))}")
    itemsize = dtype.itemsize if dtype is not None else 1
    count = 1
    for d in (*shape, itemsize):  # util.cc BytesRequired: left to right in size_t, refusing an overflow
        count *= d
        if count > _SIZE_MAX:
            raise ModelFormatError(f"{where}: shape {shown(list(shape))}: the number of elements overflows "
                                   "(LiteRT refuses the model)")
    if math.prod(d for d in shape if d) > _INT64_MAX:  # NumPy computes an array's size in int64, zeros aside
        raise UnsupportedOpError(f"{where}: shape {shown(list(shape))} is beyond what NumPy can hold")
    nbytes = math.prod(shape) * itemsize
    if nbytes > MAX_TENSOR_BYTES:
        raise ModelFormatError(f"{where}: shape {shown(list(shape))} declares {shown(nbytes, 20)} bytes, "
                               f"over refinterp's limit of {MAX_TENSOR_BYTES} for one tensor")
    buffer_index = int(t.Buffer())
    if buffer_index != 0 and buffer_index >= n_buffers:
        raise ModelFormatError(f"{where}: buffer index {buffer_index} out of range (the model has {n_buffers})")
    quantization = _read_quantization(t, shape, type_name, reader, where)
    external_buffer = _raw_field(t, _TENSOR_EXTERNAL_BUFFER_VOFFSET, "<I", 0)
    raw = _buffer_bytes(model_fb, buffer_index, reader, where) if buffer_index > 0 else None
    sparsity = t.Sparsity()
    parsed_sparsity = None
    is_variable = bool(t.IsVariable())
    data = None
    if raw is not None:
        if is_variable or external_buffer != 0:
            raise ModelFormatError(f"{where}: a variable tensor or one with an external buffer also has "
                                   f"constant data in buffer {buffer_index} (LiteRT refuses it)")
        if sparsity is not None:
            # LiteRT keeps a sparse constant as it is (DENSIFY or a sparse-aware kernel expands it); its size
            # is not checked against the dense shape.
            parsed_sparsity = _read_sparsity(sparsity, reader, where)
            data = np.frombuffer(raw, dtype=np.uint8)
        elif dtype is None:
            needed = math.prod(shape) * _RAW_ELEMENT_BYTES.get(type_name, 0)
            if len(raw) < needed:
                raise ModelFormatError(f"{where}: buffer {buffer_index} holds {len(raw)} bytes but shape "
                                       f"{shown(list(shape))} of {type_name} needs {needed}")
            data = np.frombuffer(raw, dtype=np.uint8)  # packed or string data, kept as raw bytes
        else:
            # subgraph.cc SetTensorParametersReadOnly: ``required_bytes <= bytes`` (ai-edge-litert 2.3.0); the
            # tensor reads the first bytes of a longer buffer
            if len(raw) < nbytes:
                raise ModelFormatError(f"{where}: buffer {buffer_index} holds {len(raw)} bytes but shape "
                                       f"{shown(list(shape))} of {type_name} needs {nbytes}")
            data = np.frombuffer(raw, dtype=dtype, count=math.prod(shape)).reshape(shape)
        data.flags.writeable = False
    elif external_buffer != 0:
        raise UnsupportedOpError(f"{where}: data in an external buffer (schema 3d) is not supported")
    elif buffer_index > 0 and nbytes == 0 and dtype is not None and not is_variable:
        # A zero-element constant (MEAN over an empty axis list) has a buffer with no bytes. Old converters
        # also give activations empty buffers of their own, so only a tensor with no elements is a constant.
        data = np.zeros(shape, dtype=dtype)
        data.flags.writeable = False
    return Tensor(
        index=index, name=name, type_name=type_name, dtype=dtype, shape=tuple(shape),
        shape_signature=tuple(signature), quantization=quantization, buffer=buffer_index, data=data,
        is_variable=is_variable, has_sparsity=sparsity is not None, sparsity=parsed_sparsity,
        null_data=raw is None and data is not None,
        buffer_data=np.frombuffer(raw, np.uint8) if raw is not None and data is not None and len(raw) > data.nbytes
        else None,
    )


#: custom operators whose ``custom_options`` are a flexbuffer map that refinterp decodes into ``Operator.options``
#: (their kernels' Init reads it with ``flexbuffers::GetRoot(buffer, length).AsMap()``)
FLEXBUFFER_CUSTOM_OPS = frozenset({"CUSTOM:TFLite_Detection_PostProcess"})


def _custom_options(name: str, raw: bytes, where: str) -> dict[str, Any]:
    """A custom operator's flexbuffer map, decoded (``flatbuffers.flexbuffers.Loads``); {} for other custom ops."""
    if name not in FLEXBUFFER_CUSTOM_OPS:
        return {}
    if not raw:
        raise ModelFormatError(f"{where}: no custom_options (the kernel reads its options from a flexbuffer map)")
    try:
        decoded = flatbuffers.flexbuffers.Loads(raw)
    except Exception as exc:  # the decoder raises anything on a malformed buffer (IndexError, struct.error, ...)
        raise ModelFormatError(f"{where}: custom_options are not a valid flexbuffer ({type(exc).__name__}: "
                               f"{shown(str(exc), 80)})") from None
    if not isinstance(decoded, dict):
        raise ModelFormatError(f"{where}: custom_options hold a flexbuffer {type(decoded).__name__}, not a map")
    return decoded


def _check_indices(indices: tuple[int, ...], n_tensors: int, where: str, allow_absent: bool) -> None:
    for i in indices:
        if i == -1 and allow_absent:
            continue
        if not 0 <= i < n_tensors:
            raise ModelFormatError(f"{where}: tensor index {i} out of range (the subgraph has {n_tensors})")


# --------------------------------------------------------------------------------------------------


def parse_model(content: bytes | bytearray | memoryview | mmap.mmap) -> Model:
    """Parse .tflite bytes into a :class:`Model`; raise ModelFormatError on anything LiteRT would refuse."""
    reader = _Reader(content)
    if reader.size == 0:
        raise ModelFormatError("empty file: not a .tflite model")
    verify_model(content)
    try:
        return _parse(content, reader)
    except RefinterpError:
        raise
    except (struct.error, IndexError, ValueError, TypeError, OverflowError, UnicodeDecodeError,
            flatbuffers.builder.OffsetArithmeticError) as exc:
        # cannot happen on a verified file; kept so that a reader bug still ends in one line, not a traceback
        raise ModelFormatError(f"corrupt flatbuffer ({type(exc).__name__}: {shown(str(exc), 120)})") from None


def _operator_codes(model_fb: Any, reader: _Reader) -> list[tuple[int, str, int]]:
    operator_codes = []
    for i in range(model_fb.OperatorCodesLength()):
        code = model_fb.OperatorCodes(i)
        # schema_utils.cc GetBuiltinCode: the larger of the two fields (old files only set the byte one; ops
        # >= 127 only set the int32 one and leave 127 in the byte field). Read the int32 field raw: the
        # bindings' BuiltinCode() returns the byte field whenever the int32 one is below 127.
        builtin_code = _raw_field(code, 10, "<i", 0)
        opcode = max(builtin_code, int(code.DeprecatedBuiltinCode()))
        # interpreter_builder.cc resolves every operator code, used or not, and refuses the model for one it has
        # no kernel for: a code beyond the schema, or the placeholder 127 that only marks "see builtin_code"
        if not 0 <= opcode <= LAYOUT_MAX_BUILTIN_OPERATOR:
            raise ModelFormatError(f"operator code {i}: builtin code {opcode} is out of range "
                                   f"(LiteRT knows 0..{LAYOUT_MAX_BUILTIN_OPERATOR})")
        if opcode == _PLACEHOLDER_FOR_GREATER_OP_CODES:
            raise ModelFormatError(f"operator code {i}: builtin code {opcode} is the placeholder "
                                   "PLACEHOLDER_FOR_GREATER_OP_CODES, not an operator")
        if opcode == _CUSTOM:
            if code.CustomCode() is None:
                raise ModelFormatError(f"operator code {i}: a CUSTOM operator without custom_code")
            name = "CUSTOM:" + reader.string(code.CustomCode())
        else:
            name = BUILTIN_OPERATOR_NAMES.get(opcode, f"BUILTIN_{opcode}")
        operator_codes.append((opcode, name, int(code.Version())))
    return operator_codes


def _parse_subgraph(model_fb: Any, s: int, operator_codes: list[tuple[int, str, int]], n_buffers: int,
                    reader: _Reader) -> Subgraph:
    sg = model_fb.Subgraphs(s)
    sg_where = f"subgraph {s}"
    if sg.TensorsIsNone():
        raise ModelFormatError(f"{sg_where} has no tensors vector")
    n_tensors = sg.TensorsLength()
    tensors = tuple(_read_tensor(model_fb, sg.Tensors(i), i, n_buffers, reader, sg_where) for i in range(n_tensors))
    inputs = reader.int_vector(sg, "Inputs")
    outputs = reader.int_vector(sg, "Outputs")
    _check_indices(inputs, n_tensors, f"{sg_where} inputs", allow_absent=False)
    _check_indices(outputs, n_tensors, f"{sg_where} outputs", allow_absent=False)
    operators = []
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        where = f"{sg_where} operator {i}"
        opcode_index = int(op.OpcodeIndex())
        if opcode_index >= len(operator_codes):
            raise ModelFormatError(f"{where}: opcode_index {opcode_index} out of range "
                                   f"(the model has {len(operator_codes)} operator codes)")
        opcode, name, op_version = operator_codes[opcode_index]
        where += f" ({shown(name)})" if opcode == _CUSTOM else f" ({name})"
        op_inputs = reader.int_vector(op, "Inputs")
        op_outputs = reader.int_vector(op, "Outputs")
        intermediates = reader.int_vector(op, "Intermediates")
        _check_indices(op_inputs, n_tensors, where + " inputs", allow_absent=True)
        _check_indices(op_outputs, n_tensors, where + " outputs", allow_absent=False)
        _check_indices(intermediates, n_tensors, where + " intermediates", allow_absent=False)
        for t in op_outputs:
            if tensors[t].is_variable:
                # variable tensors are state an operator reads and updates in place (LSTM, SVDF): LiteRT fails at
                # invoke when one is written as an operator's output ("Input tensor lacks data")
                raise UnsupportedOpError(f"{where}: output tensor {t} {shown(tensors[t].name)} is a variable tensor")
            if tensors[t].is_constant:
                # LiteRT keeps such a tensor read-only and fixed-size: resizing it fails in some kernels (ARG_MAX,
                # WHILE: "Attempting to resize a fixed-size tensor"), others write into the model's buffer, which
                # another tensor may read too (REDUCE_MAX then fails at invoke) - measured; refinterp refuses it
                raise UnsupportedOpError(f"{where}: output tensor {t} {shown(tensors[t].name)} has constant data "
                                         f"(buffer {tensors[t].buffer})")
        if opcode != _CUSTOM:
            # subgraph.cc AddNodeWithParameters: a builtin operator may not write a tensor it reads
            overlap = sorted(set(op_inputs) & set(op_outputs) - {-1})
            if overlap:
                raise ModelFormatError(f"{where}: tensor {overlap[0]} is both an input and an output")
        if opcode != _DENSIFY:
            for t in op_inputs:
                if t >= 0 and tensors[t].has_sparsity and tensors[t].is_constant:
                    # LiteRT's other kernels, custom ones included, read the stored values as if dense (measured:
                    # ADD reads past them); its reference FULLY_CONNECTED has a float sparse-weights path
                    # refinterp lacks
                    raise UnsupportedOpError(f"{where}: input tensor {t} {shown(tensors[t].name)} is sparse: "
                                             "refinterp reads sparse tensors only in DENSIFY")
        custom_options = b""
        if opcode == _CUSTOM:
            custom_options = op.CustomOptionsAsNumpy().tobytes() if not op.CustomOptionsIsNone() else b""
            options, options_type = _custom_options(name, custom_options, where), ""
        else:
            options, options_type = _operator_options(op, name, reader, where)
        operators.append(Operator(
            index=i, opcode=opcode, name=name, version=op_version, inputs=op_inputs, outputs=op_outputs,
            options=MappingProxyType(options), options_type=options_type,
            custom_code=name[len("CUSTOM:"):] if opcode == _CUSTOM else None, intermediates=intermediates,
            custom_options=custom_options,
        ))
    for t in outputs:
        if tensors[t].has_sparsity:
            # LiteRT hands out a sparse constant's stored values as if they were the dense tensor's
            raise UnsupportedOpError(f"{sg_where}: output tensor {t} {shown(tensors[t].name)} is a sparse constant")
    written = {t: op.index for op in operators for t in op.outputs if t >= 0}
    for t in inputs:
        if t in written:
            # LiteRT keeps whichever value was written last (an operator it evaluates at Prepare, such as
            # SHAPE, loses to set_tensor; others win): refinterp refuses the ambiguity
            raise UnsupportedOpError(f"{sg_where}: tensor {t} {shown(tensors[t].name)} is both an input of the "
                                     f"subgraph and the output of operator {written[t]}")
    return Subgraph(s, reader.string(sg.Name()), tensors, tuple(operators), inputs, outputs)


def _parse(content: Any, reader: _Reader) -> Model:
    model_fb = tflite.Model.GetRootAs(content, 0)
    version = int(model_fb.Version())
    if version != SCHEMA_VERSION:
        raise ModelFormatError(f"schema version {version}, refinterp reads version {SCHEMA_VERSION}")
    operator_codes = _operator_codes(model_fb, reader)
    n_subgraphs = model_fb.SubgraphsLength()
    if n_subgraphs == 0:
        raise ModelFormatError("the model has no subgraph")
    if model_fb.BuffersIsNone():
        raise ModelFormatError("the model has no buffers vector")
    n_buffers = model_fb.BuffersLength()
    subgraphs = tuple(_parse_subgraph(model_fb, s, operator_codes, n_buffers, reader) for s in range(n_subgraphs))

    # interpreter_builder.cc ParseSignatureDefs refuses a signature without a key; LiteRT's Python Interpreter
    # then decodes every key and name as UTF-8 when it is created, and fails on anything else.
    signature_defs = []
    for i in range(model_fb.SignatureDefsLength()):
        sd = model_fb.SignatureDefs(i)
        where = f"signature_def {i}"
        if sd.SignatureKey() is None:
            raise ModelFormatError(f"{where} has no signature_key")
        key = _utf8(sd.SignatureKey(), f"{where} signature_key")
        sg_index = int(sd.SubgraphIndex())
        if not 0 <= sg_index < n_subgraphs:
            raise ModelFormatError(f"{where}: subgraph_index {sg_index} out of range")
        n_tensors = len(subgraphs[sg_index].tensors)
        maps = []
        for method in ("Inputs", "Outputs"):
            entries = {}
            for j in range(getattr(sd, method + "Length")()):
                tm = getattr(sd, method)(j)
                if tm.Name() is None:
                    continue  # GetMapFromTensorMap skips unnamed entries
                _check_indices((int(tm.TensorIndex()),), n_tensors, f"{where} {method.lower()}", False)
                entries[_utf8(tm.Name(), f"{where} {method.lower()} {j} name")] = int(tm.TensorIndex())
            maps.append(MappingProxyType(entries))
        signature_defs.append(SignatureDef(key, sg_index, maps[0], maps[1]))

    # FlatBufferModelBase::ReadAllMetadata: entries whose buffer is out of range, has no data, or no name are
    # skipped, never an error.
    metadata = {}
    for i in range(model_fb.MetadataLength()):
        md = model_fb.Metadata(i)
        b = int(md.Buffer())
        if md.Name() is None or not 0 <= b < n_buffers or model_fb.Buffers(b).DataIsNone():
            continue
        raw = _buffer_bytes(model_fb, b, reader, f"metadata {i}")
        if raw is not None and len(raw):
            metadata[reader.string(md.Name())] = bytes(raw)

    return Model(
        version=version, description=reader.string(model_fb.Description()), subgraphs=subgraphs,
        signature_defs=tuple(signature_defs), metadata=MappingProxyType(metadata),
        operator_codes=tuple(operator_codes), size_bytes=reader.size,
        litert_refusals=tuple(reader.litert_refusals), _buffer=content,
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
        raise ModelFormatError(f"{shown(str(path), 200)}: no such file") from None
    except IsADirectoryError:
        raise ModelFormatError(f"{shown(str(path), 200)}: is a directory, not a .tflite file") from None
    except OSError as exc:
        raise ModelFormatError(f"{shown(str(path), 200)}: cannot read ({exc.strerror or exc})") from None
    return parse_model(content)

"""What every operator's Prepare shares: the context it reads, quantization lookups, padding arithmetic.

An operator is three functions (see ``registry.py``):

* ``prepare(ctx) -> params``: validates the operator like TFLite's Prepare does, raises ``ctx.fail(...)``
  for what the official runtimes reject, and precomputes everything the rule needs that does not depend on
  the activations (multipliers, clamps, padding) into an immutable params object. It reads shapes with
  ``ctx.shape(tensor)`` (the planned shapes, which differ from the declared ones after a value-dependent
  output) and says what shape each output will have with ``ctx.set_output_shape`` (TFLite's ResizeTensor),
  so that the interpreter checks it against the model and the memory limits before any kernel allocates it.
* ``spec(params, *inputs) -> output | tuple of outputs``: the readable NumPy kernel, the teaching path.
* ``fast(params, *inputs)``: the numba kernel in ``refinterp/ops/fast/``, optional; tests hold it equal to
  ``spec``. When it needs more than ``prepare`` makes (packed weights, a lookup table), its own
  ``fast_prepare(ctx)`` calls ``prepare`` and returns those params extended; the spec never sees that data.

Inputs arrive as NumPy arrays in the operator's input order (``None`` for an absent optional input).
A stateful kernel (LSTM, RNN, SVDF: LiteRT's kernels write their state inputs, variable tensors, in place)
returns a :class:`KernelResult` naming the new value of each variable input it writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from refinterp.errors import PrepareError, UnsupportedOpError, shown
from refinterp.model import Operator, Quantization, Subgraph, Tensor
from refinterp.quant import DTYPE_RANGES, FLOAT32_LOWEST, FLOAT32_MAX, quantize_multiplier

PADDING_SAME, PADDING_VALID = 0, 1
MAX_PADDING = 32767  # the largest padding of a 2-D window LiteRT accepts (int16)
MAX_CONV_FACTOR = 32767  # the largest stride or dilation of LiteRT's CONV_2D / DEPTHWISE_CONV_2D (int16)
PROFILES = ("litert-ref", "tflm")
#: Emulation profiles (docs/profiles.md "Emulation profiles"): another runtime's arithmetic where it differs
#: from the reference kernels (refinterp/ops/emulation/), each on top of the reference profile it names; every
#: operator without an emulated rule runs that reference profile's kernels, and ``OpContext.profile`` is it.
EMULATION_PROFILES = {"litert-opt": "litert-ref", "xnnpack": "litert-ref", "tflm-cmsis-nn": "tflm"}
#: every profile ``Interpreter(profile=...)`` accepts
ALL_PROFILES = PROFILES + tuple(EMULATION_PROFILES)


def base_profile(profile: str) -> str:
    """The reference profile whose kernels and checks ``profile`` runs (itself for a reference profile)."""
    return EMULATION_PROFILES.get(profile, profile)

#: An output shape that depends on input values (a non-constant shape, size or paddings input): called with
#: the operator's input arrays (``None`` for an absent one) before its kernel runs; raises EvalError on bad values.
ShapeFunction = Callable[[Sequence[Any]], tuple[int, ...]]


class _KnownAfterKernel:
    """The marker of an output whose shape only its kernel knows (``OpContext.set_output_dynamic``)."""

    def __repr__(self) -> str:
        return "KNOWN_AFTER_KERNEL"


#: What ``OpContext.output_shapes`` holds for an output whose shape is known only once its kernel has run
#: (READ_VARIABLE: the variable's shape; WHILE and IF whose subgraphs change shapes): LiteRT's dynamic tensor.
KNOWN_AFTER_KERNEL = _KnownAfterKernel()


class SubgraphHost(Protocol):
    """What control-flow and resource-variable operators reach through ``OpContext.host``: the interpreter's
    other subgraphs and its resource variables (LiteRT's ``Subgraph::GetSubgraphs``, ``resources()``,
    ``resource_ids()`` and ``initialization_status_map()``, shared by every subgraph of one interpreter).
    The interpreter implements it; the operators (ops/control_flow.py, ops/variables.py) only see this."""

    #: the most times a WHILE may run its body in one invoke (then an EvalError, never a hang)
    max_while_iterations: int

    def model_subgraph(self, index: int) -> Subgraph:
        """Subgraph ``index`` of the model (the caller has checked the index)."""
        ...

    def subgraph_count(self) -> int: ...

    def prepare_subgraph(self, index: int, input_shapes: Sequence[tuple[int, ...]],
                         caller: int) -> tuple[tuple[int, ...] | None, ...]:
        """Prepare subgraph ``index`` for inputs of these shapes (LiteRT's ResizeInputTensor + AllocateTensors)
        on behalf of subgraph ``caller``; the shape of each of its outputs (None: known only when it runs).
        Raises PrepareError, also when the subgraph would (indirectly) call itself."""
        ...

    def remove_unused_inputs(self, index: int) -> None:
        """From now on, subgraph ``index`` takes no value for an input no operator of it reads (LiteRT's
        ``Subgraph::RemoveUnusedInputs``, which WHILE applies to its condition subgraph)."""
        ...

    def run_subgraph(self, index: int, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Run subgraph ``index`` on these input values (prepared again first when their shapes changed);
        its output values. Raises EvalError (recursion, limits, its operators' errors)."""
        ...

    def show_inputs(self, index: int, values: Sequence[np.ndarray]) -> None:
        """Let subgraph ``index``'s input tensors hold these values without running it (LiteRT's WHILE body
        inputs share memory with the WHILE outputs: after the loop they read as its final values)."""
        ...

    def resource_id(self, container: str, shared_name: str) -> int:
        """The id of the resource variable named (container, shared_name): one per name and interpreter,
        numbered in order of first use (var_handle.cc Init)."""
        ...

    def read_variable(self, resource_id: int) -> np.ndarray:
        """The value last assigned to the variable; EvalError when it never was."""
        ...

    def assign_variable(self, resource_id: int, value: np.ndarray) -> None: ...

    def is_initialized(self, subgraph_index: int) -> bool:
        """Whether CALL_ONCE already ran this init subgraph in this interpreter."""
        ...

    def mark_initialized(self, subgraph_index: int) -> None: ...


@dataclass(frozen=True)
class KernelResult:
    """A kernel's outputs plus the new values of variable tensors among its inputs.

    LiteRT's stateful kernels (LSTM, RNN, SVDF) overwrite their state inputs, which the file marks
    ``is_variable``, in place; refinterp's kernels never write an input: they return the new state here and the
    interpreter stores it as that tensor's value, so it carries to the next ``invoke()`` as LiteRT's does."""

    outputs: tuple[np.ndarray, ...]
    #: input position -> the variable tensor's new value (same dtype and shape as before)
    variable_updates: Mapping[int, np.ndarray]


@dataclass(frozen=True)
class OpContext:
    """What a prepare function may look at: the operator, its tensors, the options, the profile."""

    op: Operator
    subgraph: Subgraph
    profile: str = "litert-ref"
    shapes: Mapping[int, tuple[int, ...]] | None = None  # current (resized) shapes, when not declared
    #: what prepare said about its outputs' shapes (``set_output_shape``), by output position
    output_shapes: dict[int, tuple[int, ...] | ShapeFunction] = field(default_factory=dict, compare=False,
                                                                      repr=False)
    #: the interpreter's subgraphs and resource variables, for the operators that use them (None: not given)
    host: SubgraphHost | None = field(default=None, compare=False, repr=False)
    #: the emulation profile being run ("litert-opt", "xnnpack"; ``profile`` is then its reference profile),
    #: or None under a reference profile
    emulation: str | None = None

    @property
    def options(self) -> Mapping[str, Any]:
        return self.op.options

    @property
    def num_inputs(self) -> int:
        return len(self.op.inputs)

    def input(self, i: int) -> Tensor | None:
        """Input tensor ``i``, or None when absent (index -1 or beyond the operator's inputs)."""
        if i >= len(self.op.inputs) or self.op.inputs[i] < 0:
            return None
        return self.subgraph.tensors[self.op.inputs[i]]

    def require_input(self, i: int) -> Tensor:
        tensor = self.input(i)
        if tensor is None:
            raise self.fail(f"input {i} is required")
        return tensor

    def output(self, i: int = 0) -> Tensor:
        if i >= len(self.op.outputs):
            raise self.fail(f"output {i} is required")
        return self.subgraph.tensors[self.op.outputs[i]]

    def shape(self, tensor: Tensor) -> tuple[int, ...]:
        if self.shapes is not None and tensor.index in self.shapes:
            return self.shapes[tensor.index]
        return tensor.shape

    def set_output_shape(self, i: int, shape: Sequence[int] | ShapeFunction) -> None:
        """Say the shape output ``i`` will have, as TFLite's Prepare resizes it: a sequence of ints, or a
        :data:`ShapeFunction` of the input arrays when it depends on input values (evaluated at invoke before
        the kernel). The interpreter checks it against the model's shape and the memory limits before any
        kernel runs; an output not set here keeps the declared shape (checked after its kernel)."""
        self.output_shapes[i] = shape if callable(shape) else tuple(int(d) for d in shape)

    def set_output_dynamic(self, i: int) -> None:
        """Say output ``i``'s shape is known only after the kernel ran (LiteRT's ``SetTensorToDynamic``): the
        interpreter then checks the kernel's result against the tensor's shape signature and the limits."""
        self.output_shapes[i] = KNOWN_AFTER_KERNEL  # type: ignore[assignment]

    def fail(self, reason: str) -> PrepareError:
        return PrepareError(f"operator {self.op.index} ({self.op.name}): {reason}")

    def unsupported(self, reason: str) -> UnsupportedOpError:
        return UnsupportedOpError(f"operator {self.op.index} ({self.op.name}): {reason}")

    def check_inputs(self, minimum: int, maximum: int | None = None) -> None:
        n = len(self.op.inputs)
        if n < minimum or (maximum is not None and n > maximum):
            expected = str(minimum) if maximum == minimum else f"{minimum} to {maximum}"
            raise self.fail(f"has {n} inputs, expected {expected}")

    def check_same_type(self, x: Tensor, y: Tensor) -> None:
        """Input and output of the same type: the kernels copy or compare values, they do not convert."""
        if y.type_name != x.type_name:
            raise self.fail(f"input is {x.type_name} but output is {y.type_name}")

    def check_dtype(self, tensor: Tensor, allowed: tuple[str, ...], role: str) -> None:
        if tensor.type_name not in allowed:
            raise self.unsupported(f"{role} type {tensor.type_name} (supported: {', '.join(allowed)})")


#: The largest left shift TFLite's ``MultiplyByQuantizedMultiplier`` computes with defined behaviour: it forms
#: ``x * (1 << shift)`` in int32, so a real multiplier of 2**30 or more (shift 31 and up) is undefined there.
MAX_MULTIPLIER_SHIFT = 30


def checked_quantize_multiplier(ctx: OpContext, real_multiplier: float, what: str) -> tuple[int, int]:
    """QuantizeMultiplier for a ratio of scales, refusing one TFLite cannot apply with defined results: not
    finite, or 2**30 and more (a left shift past 30 bits). LiteRT runs such a file into undefined behaviour
    (measured: results that no rule reproduces); no real model has such a ratio."""
    if not np.isfinite(real_multiplier):
        raise ctx.fail(f"{what} {real_multiplier} is not finite")
    multiplier, shift = quantize_multiplier(float(real_multiplier))
    if shift > MAX_MULTIPLIER_SHIFT:
        raise ctx.fail(f"{what} {real_multiplier:.6g} is 2**30 or more: TFLite's int32 arithmetic would shift by "
                       f"{shift} bits (undefined)")
    return multiplier, shift


def per_tensor_qparams(ctx: OpContext, tensor: Tensor, role: str) -> tuple[float, int]:
    """The per-tensor (scale, zero_point) a kernel reads: TFLite's ``tensor->params``.

    LiteRT fills ``params`` only for a tensor with exactly one scale and zero point (``GetLegacyQuantization``):
    a kernel reading it from a per-channel tensor sees scale 0 and zero point 0, and divides by that scale.
    refinterp refuses such a tensor where a kernel needs one scale.
    """
    q = tensor.quantization
    if q is None:
        raise ctx.fail(f"{role} tensor {tensor.index} {shown(tensor.name, 32)} is {tensor.type_name} but not "
                       "quantized")
    if q.scale.size != 1:
        raise ctx.fail(f"{role} tensor {tensor.index} {shown(tensor.name, 32)} has {q.scale.size} scales where "
                       "the kernel reads one (LiteRT would read scale 0 and zero point 0)")
    return float(q.scale[0]), int(q.zero_point[0])


def channel_scale(quantization: Quantization, channel: int) -> float:
    """The scale of output channel ``channel``: its own under per-channel quantization, else the tensor's one."""
    return float(quantization.scale[channel] if quantization.scale.size > 1 else quantization.scale[0])


def bias_channel_scale(bias: Tensor | None, channel: int) -> float | None:
    """The bias tensor's scale for ``channel`` (:func:`channel_scale`); None without a bias or its quantization."""
    return channel_scale(bias.quantization, channel) if bias is not None and bias.quantization is not None else None


def conv_scales(ctx: OpContext, channel: int, input_index: int = 0, filter_index: int = 1
                ) -> tuple[float, float, float]:
    """(s_in, s_out, s_w for output ``channel``) of a convolution-like operator: one input and one output scale
    (:func:`per_tensor_qparams`), the filter's per-channel or single scale."""
    input_scale, _ = per_tensor_qparams(ctx, ctx.require_input(input_index), "input")
    output_scale, _ = per_tensor_qparams(ctx, ctx.output(0), "output")
    return input_scale, output_scale, channel_scale(ctx.require_input(filter_index).quantization, channel)


def per_tensor_qparams_or_identity(tensor: Tensor) -> tuple[float, int]:
    """(scale, zero_point) as TFLite's ``tensor->params`` holds them: (0.0, 0) for an unquantized tensor and
    for one with several scales (``GetLegacyQuantization``)."""
    q = tensor.quantization
    if q is None or q.scale.size != 1:
        return 0.0, 0
    return float(q.scale[0]), int(q.zero_point[0])


def compute_output_size(padding: int, in_size: int, filter_size: int, stride: int, dilation: int = 1) -> int:
    """ComputeOutSize (padding.h): SAME is ceil(in/stride); VALID is (in - effective + stride)/stride."""
    effective = (filter_size - 1) * dilation + 1
    if padding == PADDING_SAME:
        return (in_size + stride - 1) // stride
    if padding == PADDING_VALID:
        # C++ truncating division; negative when the filter is larger than the input
        numerator = in_size + stride - effective
        return numerator // stride if numerator >= 0 else -((-numerator) // stride)
    return 0


def compute_padding(stride: int, dilation: int, in_size: int, filter_size: int, out_size: int) -> int:
    """ComputePaddingWithOffset (padding.h): the smaller half goes before; the extra pixel after."""
    effective = (filter_size - 1) * dilation + 1
    total = max(0, (out_size - 1) * stride + effective - in_size)
    return total // 2


@dataclass(frozen=True)
class Window2D:
    """Output size and padding of a 2-D sliding window (conv, pooling), as padding.h computes them."""

    out_h: int
    out_w: int
    pad_h: int
    pad_w: int


def window_2d(ctx: OpContext, in_h: int, in_w: int, filter_h: int, filter_w: int, stride_h: int, stride_w: int,
              dilation_h: int = 1, dilation_w: int = 1, pooling: bool = False) -> Window2D:
    """Output size and padding; a negative VALID output size fails Prepare, except for pooling.

    Pooling (pooling.cc) resizes its output to whatever ComputeOutSize gives; LiteRT then reports a negative
    width as both spatial sizes 0, and a negative height as height 0 (measured with ai-edge-litert 2.3.0). An
    unknown padding (``PADDING_UNKNOWN``: absent options, or a value LiteRT does not know) makes ComputeOutSize
    return 0: LiteRT's pooling gets an empty output, its convolutions refuse it (their Prepare fails in 2.3.0);
    under "tflm" refinterp refuses it everywhere.
    """
    padding = int(ctx.options.get("padding", PADDING_SAME))
    if padding not in (PADDING_SAME, PADDING_VALID) and not (pooling and ctx.profile == "litert-ref"):
        raise ctx.fail(f"unknown padding {padding}")
    for name, value in (("stride_h", stride_h), ("stride_w", stride_w),
                        ("dilation_h", dilation_h), ("dilation_w", dilation_w),
                        ("filter height", filter_h), ("filter width", filter_w)):
        if value < 1:
            raise ctx.fail(f"{name} is {value}, must be at least 1")
        if value > MAX_CONV_FACTOR and not pooling and ctx.profile == "litert-ref" and "filter" not in name:
            # conv.cc and depthwise_conv.cc (ai-edge-litert 2.3.0) Prepare: strides and dilations <= INT16_MAX
            raise ctx.fail(f"{name} is {value}, more than {MAX_CONV_FACTOR} (LiteRT keeps it in int16)")
    out_h = compute_output_size(padding, in_h, filter_h, stride_h, dilation_h)
    out_w = compute_output_size(padding, in_w, filter_w, stride_w, dilation_w)
    if min(out_h, out_w) < 0:
        if not pooling:
            raise ctx.fail(f"VALID padding gives an output of {out_h}x{out_w}: the filter is larger than the input")
        out_h, out_w = (0, 0) if out_w < 0 else (0, out_w)
    pad_h = compute_padding(stride_h, dilation_h, in_h, filter_h, out_h)
    pad_w = compute_padding(stride_w, dilation_w, in_w, filter_w, out_w)
    if max(pad_h, pad_w) > MAX_PADDING:
        # measured with ai-edge-litert 2.3.0: Prepare fails ("failed to prepare", no message) for CONV_2D,
        # DEPTHWISE_CONV_2D and the pooling operators from a padding of 32768 on; TFLM keeps paddings in int16
        raise ctx.fail(f"padding {max(pad_h, pad_w)} exceeds {MAX_PADDING} (TFLite keeps paddings in int16)")
    return Window2D(out_h, out_w, pad_h, pad_w)


def type_lowest(dtype: np.dtype) -> float | int:
    """``std::numeric_limits<T>::lowest()``: where a running maximum starts (-FLT_MAX for float, not -inf)."""
    return FLOAT32_LOWEST if dtype == np.float32 else DTYPE_RANGES[np.dtype(dtype)][0]


def type_highest(dtype: np.dtype) -> float | int:
    """``std::numeric_limits<T>::max()``."""
    return FLOAT32_MAX if dtype == np.float32 else DTYPE_RANGES[np.dtype(dtype)][1]


# ------------------------------------------------------------------------------------------------
# 8-bit lookup tables: an int8/uint8 input has only 256 values, so an elementwise rule can be evaluated once
# per value at prepare and gathered at eval.


def table_of_8bit_rule(rule: Any, params: Any, input_dtype: np.dtype) -> np.ndarray:
    """``rule(params, q)`` for every value q of the 8-bit ``input_dtype``, lowest first."""
    info = np.iinfo(input_dtype)
    return rule(params, np.arange(info.min, info.max + 1, dtype=input_dtype))

"""refinterp.Interpreter: a drop-in for LiteRT's Python ``Interpreter`` that keeps every tensor.

The loop is plain on purpose: operators run in the order the file lists them (TFLite's execution order),
each one reads its input tensors' values and writes its outputs' values. Every intermediate value is kept,
so ``get_tensor`` works for any tensor index after ``invoke`` with no option needed.

Memory safety comes from a shape plan, as in TFLite (``AllocateTensors`` runs every Prepare, which resizes
the outputs; a tensor whose shape depends on values is resized again at ``Invoke``):

* ``allocate_tensors`` prepares the operators in order on the planned shapes. Each prepare may say its
  outputs' shapes (``OpContext.set_output_shape``; else ``params.output_shape``); a said shape must equal the
  model's declared one (whatever its shape signature says) and fit the memory limits before anything runs.
  An output not said keeps its declared shape; one that depends on input values (a non-constant shape, size,
  paddings...) gets its shape from the op's shape function at invoke, before its kernel.
* ``invoke`` checks, before each kernel, that every input array has exactly the shape and dtype its prepare
  planned (so no kernel indexes out of bounds), and after it, that each output has the planned shape (the
  declared one; for a value-dependent output, the shape signature's pattern, -1 matching any size). When a
  value-dependent output differs from its declared shape, the operators that read it are prepared again on
  the new shape (checked against their signatures and the limits), as TFLite does for dynamic tensors.
* Subgraphs: the interpreter runs subgraph 0 (or the one it is given); CALL_ONCE, WHILE and IF run the others
  through the :class:`refinterp.ops.common.SubgraphHost` the interpreter passes to every prepare
  (``OpContext.host``). Each subgraph keeps the values of its last run (``get_tensor(i, subgraph_index)``,
  ``tensor_values(subgraph_index)``); resource variables (VAR_HANDLE) and CALL_ONCE's initialization belong
  to the interpreter and survive ``reset_all_variables()``, as in LiteRT. A subgraph may not run inside
  itself (refused at allocate, or at invoke), and one WHILE runs its body at most ``max_while_iterations``
  times per invoke.
* Resizing: ``resize_tensor_input`` plans the graph again for the new input shape; every shape an operator
  computes must then fit its tensor's shape signature (a dimension declared static, not -1, stays as
  declared). An operator fed by a tensor whose shape is known only at invoke is prepared again at invoke.
* Limits: no tensor may exceed ``max_tensor_bytes`` and all the tensors kept (inputs, intermediates, outputs;
  constants are views into the file) together ``max_total_bytes``; sizes are checked before the kernel that
  would allocate them. Defaults: :data:`DEFAULT_MAX_TENSOR_BYTES` and :func:`default_max_total_bytes`; the
  environment variables :data:`MAX_TENSOR_BYTES_ENV` and :data:`MAX_TOTAL_BYTES_ENV` override them.
"""

from __future__ import annotations

import math
import os
import re
import time
import warnings
from collections.abc import Callable, Sequence
from types import MappingProxyType
from typing import Any, NoReturn

import numba
import numpy as np

from refinterp.errors import (
    EvalError,
    InputError,
    KernelError,
    ModelFormatError,
    PrepareError,
    RefinterpError,
    UnsupportedOpError,
    shown,
)
from refinterp.model import Model, Operator, Subgraph, Tensor, load_model, parse_model
from refinterp.ops.common import (
    ALL_PROFILES,
    KNOWN_AFTER_KERNEL,
    KernelResult,
    OpContext,
    ShapeFunction,
    base_profile,
)
from refinterp.ops.variables import HANDLE_DTYPE
from refinterp.registry import OP_VERSIONS, OpDef, lookup, prepare_kernel

KERNEL_CHOICES = ("fast", "spec")
#: LiteRT's keyword arguments that refinterp accepts and ignores (it has one resolver, its own, no delegates,
#: and always keeps every tensor); ``experimental_delegates`` is also accepted, with a warning
LITERT_IGNORED_OPTIONS = frozenset({
    "experimental_op_resolver_type", "experimental_preserve_all_tensors", "experimental_disable_delegate_clustering",
    "experimental_default_delegate_latest_features", "experimental_compress_quantization_zero_points",
    "experimental_disable_delegate_node_fusion", "experimental_force_delegate_node_profiling",
})
#: ``progress(stage, position, total, operator)``: called before each operator is prepared ("prepare") or run
#: ("invoke"); position counts from 0
ProgressCallback = Callable[[str, int, int, Operator], None]


#: One tensor may not hold more than this many bytes unless raised (Interpreter(max_tensor_bytes=...)).
DEFAULT_MAX_TENSOR_BYTES = 2 << 30
#: The most bytes all kept tensors may hold by default: 8 GiB, or half the physical memory when less.
DEFAULT_MAX_TOTAL_BYTES_CAP = 8 << 30
MAX_TENSOR_BYTES_ENV = "REFINTERP_MAX_TENSOR_BYTES"
MAX_TOTAL_BYTES_ENV = "REFINTERP_MAX_TOTAL_BYTES"
#: The most times one WHILE operator may run its body in one invoke unless raised
#: (Interpreter(max_while_iterations=...) or the environment variable below): a loop whose condition never
#: turns false stops with an EvalError instead of hanging. A million runs of a small body take about a minute.
DEFAULT_MAX_WHILE_ITERATIONS = 1_000_000
MAX_WHILE_ITERATIONS_ENV = "REFINTERP_MAX_WHILE_ITERATIONS"
#: The deepest subgraphs may nest (a WHILE inside an IF inside ...): each level is a Python call chain
MAX_SUBGRAPH_NESTING = 64
_HOW_TO_RAISE = {  # short: a message is one line of at most 300 characters (docs/robustness.md)
    "max_tensor_bytes": f"max_tensor_bytes=, --max-tensor-bytes or {MAX_TENSOR_BYTES_ENV}",
    "max_total_bytes": f"max_total_bytes=, --max-total-bytes or {MAX_TOTAL_BYTES_ENV}",
}
_BYTE_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20,
               "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tb": 1 << 40,
               "tib": 1 << 40}


def default_max_total_bytes() -> int:
    """8 GiB, or half the machine's physical memory when that is less."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return DEFAULT_MAX_TOTAL_BYTES_CAP
    return min(DEFAULT_MAX_TOTAL_BYTES_CAP, max(physical // 2, 1 << 30))


def parse_byte_size(value: int | str, what: str) -> int:
    """A positive size in bytes: an int, or text such as ``4294967296``, ``512MiB``, ``4G`` (units of 1024)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        size = int(value)
    elif isinstance(value, str) and (match := re.fullmatch(r"\s*(\d{1,30}(?:\.\d{1,9})?)\s*([a-zA-Z]*)\s*", value)) \
            and match.group(2).lower() in _BYTE_UNITS:
        number, unit = match.group(1), _BYTE_UNITS[match.group(2).lower()]
        size = int(number) * unit if "." not in number else int(float(number) * unit)  # no float for long digits
    else:
        raise InputError(f"{what}: {shown(value)} is not a size in bytes (examples: 4294967296, 512MiB, 4GiB)")
    if size < 1:
        raise InputError(f"{what}: {shown(value)} must be at least 1 byte")
    return size


def format_bytes(size: int) -> str:
    """``6.0 GiB``; an absurd size as a power of two (a shape read from a file can hold any number)."""
    if size >= 1 << 60:
        return f"about 2^{size.bit_length() - 1} bytes"
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{size} bytes"


def _limit(value: int | str | None, env: str, default: int, what: str) -> int:
    if value is not None:
        return parse_byte_size(value, what)
    if os.environ.get(env):
        return parse_byte_size(os.environ[env], env)
    return default


def tensor_bytes(tensor: Tensor, shape: Sequence[int]) -> int:
    """Bytes of ``tensor`` at ``shape`` (one byte per element for types NumPy cannot hold)."""
    return math.prod(shape) * (tensor.dtype.itemsize if tensor.dtype is not None else 1)


def matches_signature(shape: Sequence[int], tensor: Tensor) -> bool:
    """``shape`` fits the tensor's shape signature: same rank, equal where the signature is not -1."""
    signature = tensor.shape_signature if len(tensor.shape_signature) == len(tensor.shape) else tensor.shape
    return len(shape) == len(signature) and all(s < 0 or s == d for s, d in zip(signature, shape))


def _shapeless_custom_output(op: Operator, tensor: Tensor) -> bool:
    """An output of a custom operator declared without a shape or signature: old converters wrote shape [] for
    TFLite_Detection_PostProcess's outputs, which LiteRT's Prepare resizes; the shape prepare says is taken."""
    return op.custom_code is not None and tensor.shape == () and tensor.shape_signature == ()


def _same_shape(shape: Sequence[int], declared: Sequence[int]) -> bool:
    """Equal shapes; two shapes without elements count as equal (LiteRT allocates nothing for either)."""
    return tuple(shape) == tuple(declared) or (math.prod(shape) == 0 and math.prod(declared) == 0)


def _params_output_shape(params: Any) -> tuple[int, ...] | None:
    """The ``output_shape`` most prepares compute into their params (or their fast params' ``spec``)."""
    for candidate in (params, getattr(params, "spec", None)):
        shape = getattr(candidate, "output_shape", None)
        if isinstance(shape, tuple) and all(isinstance(d, (int, np.integer)) and d >= 0 for d in shape):
            return tuple(int(d) for d in shape)
    return None


def _version_ranges(versions: Sequence[int]) -> str:
    if not versions:
        return "none"
    runs: list[list[int]] = []
    for v in sorted(versions):
        if runs and v == runs[-1][1] + 1:
            runs[-1][1] = v
        else:
            runs.append([v, v])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def check_litert_operator_codes(model: Model) -> None:
    """Refuse the model as LiteRT's InterpreterBuilder does: every builtin operator code of the file, used or
    not, needs a kernel at its version (``GetRegistrationFromOpCode``); unresolved custom codes are left to
    Prepare. A version LiteRT knows but refinterp does not implement is refused only when an operator uses it."""
    for position, (_, name, version) in enumerate(model.operator_codes):
        if name.startswith("CUSTOM:"):
            continue
        opdef = lookup(name)
        versions = set(OP_VERSIONS.get(name, ())) | set(opdef.versions if opdef is not None else ())
        if version not in versions:
            known = f"versions {_version_ranges(sorted(versions))}" if versions else "no kernel at all"
            raise ModelFormatError(f"operator code {position}: {name} version {version}: LiteRT's reference "
                                   f"resolver has {known}, and refuses the model at load")


def _op_name(op: Operator) -> str:
    return shown(op.name, 40) if op.custom_code is not None else op.name


def _name(tensor: Tensor) -> str:
    """A tensor's name for a message: quoted, escaped, short (messages are one line of at most 300 characters)."""
    return shown(tensor.name, 32)


def _shape(shape: Sequence[int]) -> str:
    return shown(list(shape), 48)


def _one_line(exc: BaseException, limit: int = 200) -> str:
    """An exception's text on one line, printable, at most ``limit`` characters."""
    text = "".join(c if c.isprintable() else " " for c in " ".join(str(exc).split()))
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _value_dtype(tensor: Tensor) -> np.dtype | None:
    """The dtype of the array refinterp keeps for a tensor: its own, or the int32 resource id of a RESOURCE
    tensor (ops/variables.py); None for the types refinterp holds no value of (variant, string)."""
    if tensor.dtype is not None:
        return tensor.dtype
    return HANDLE_DTYPE if tensor.type_name == "resource" else None


def _positive_count(value: int | str | None, env: str, default: int, what: str) -> int:
    if value is None:
        value = os.environ.get(env) or default
    try:
        count = int(value)
    except (TypeError, ValueError):
        raise InputError(f"{what}: {shown(value)} is not a whole number") from None
    if isinstance(value, (bool, float)) or count < 1:
        raise InputError(f"{what}: {shown(value)} must be a whole number of at least 1")
    return count


class _PreparedOp:
    """An operator prepared on given input shapes, with what its prepare said about its outputs' shapes."""

    __slots__ = ("op", "opdef", "params", "kernel", "input_shapes", "output_plan", "deferred")

    def __init__(self, op: Operator, opdef: OpDef | None, params: Any, kernel: Any,
                 input_shapes: tuple[tuple[int, ...] | None, ...],
                 output_plan: tuple[tuple[int, ...] | ShapeFunction | None, ...], deferred: bool = False):
        self.op, self.opdef, self.params, self.kernel = op, opdef, params, kernel
        #: the shape of each input (None: absent) the operator was prepared for: invoke insists on exactly these
        self.input_shapes = input_shapes
        #: per output: the shape prepare said, a function of the input values, KNOWN_AFTER_KERNEL, or None
        self.output_plan = output_plan
        #: not prepared yet: an input's shape is known only at invoke (LiteRT prepares such an operator when
        #: the invoke reaches it)
        self.deferred = deferred

    @classmethod
    def later(cls, op: Operator) -> _PreparedOp:
        """An operator to prepare at invoke, once its inputs' shapes are known."""
        return cls(op, None, None, None, tuple(_UNKNOWN_SHAPE for _ in op.inputs), tuple(None for _ in op.outputs),
                   deferred=True)


#: the planned shape of an input whose shape is known only at invoke: equal to no shape
_UNKNOWN_SHAPE: Any = ("unknown until invoke",)


class _Step:
    """What invoke needs of one prepared operator, worked out once at allocate (the per-operator cost of the
    loop is then a few list lookups and comparisons; the checks stay, made against precomputed values).

    ``planned`` holds while no tensor's shape differs from the plan in an invoke: then the operator's inputs
    have the shapes it was prepared for (no prepare again), and each output's expected shape is the one
    ``expected`` holds, as ``expected_shapes`` would compute it. An operator prepared at invoke (deferred), or
    one whose output shape is a function of its input values, or any operator after a shape changed, takes the
    general path."""

    __slots__ = ("prepared", "inputs", "checks", "expected", "outputs", "fitting", "planned", "stores")

    def __init__(self, run: _SubgraphRun, prepared: _PreparedOp, shapes: dict[int, tuple[int, ...]]):
        op = prepared.op
        tensors = run.subgraph.tensors
        self.prepared = prepared
        #: tensor indices of the inputs (-1: absent)
        self.inputs = tuple(op.inputs)
        #: (position, dtype, planned shape) of each input check_inputs checks
        self.checks = tuple((position, _value_dtype(tensors[index]), planned)
                            for position, (index, planned) in enumerate(zip(op.inputs, prepared.input_shapes))
                            if index >= 0 and tensors[index].sparsity is None)
        #: (tensor index, dtype) of each output (index -1: absent, dtype None)
        self.outputs = tuple((index, _value_dtype(tensors[index]) if index >= 0 else None) for index in op.outputs)
        #: per output, a shape known to fit its shape signature (its planned one, when it does), or None: an
        #: output whose shape is checked against the signature after the kernel skips the check at that shape
        self.fitting = tuple(shapes.get(index) if index >= 0 and matches_signature(shapes[index], tensors[index])
                             else None for index in op.outputs)
        expected: list[tuple[int, ...] | None] = []
        planned = not prepared.deferred and all(
            index < 0 or shapes[index] == shape for index, shape in zip(op.inputs, prepared.input_shapes))
        for index, said in zip(op.outputs, prepared.output_plan):
            if said is KNOWN_AFTER_KERNEL:
                expected.append(None)
            elif callable(said):
                planned = False  # computed from the input values at every invoke
            elif isinstance(said, tuple):
                expected.append(said)
            elif index < 0 or index in run.dynamic:
                expected.append(None)
            else:
                expected.append(shapes[index])
        self.expected = expected if planned else None
        self.planned = planned
        #: per output, (tensor index, dtype, shape) when the kernel makes every output as planned: the shape is
        #: the expected one, or else the planned one when it fits the signature (an output of that dtype and
        #: shape passes checked_outputs and changes no shape); None: some output has no such shape
        stores = []
        for (index, dtype), said, fits in zip(self.outputs, expected if planned else (), self.fitting):
            shape = said if said is not None else fits
            if index < 0 or shape is None or shape != shapes[index]:
                break
            stores.append((index, dtype, shape))
        self.stores = tuple(stores) if planned and stores and len(stores) == len(op.outputs) else None


class _Budget:
    """Bytes held by the tensors one subgraph keeps (non-constant), checked against both limits; the total
    limit counts the bytes the interpreter's other subgraphs hold too."""

    def __init__(self, run: _SubgraphRun, sizes: dict[int, int] | None = None):
        self.run = run
        self.sizes: dict[int, int] = dict(sizes or {})
        self.total = sum(self.sizes.values())

    def copy(self) -> _Budget:
        return _Budget(self.run, self.sizes)

    def claim(self, where: str, role: str, tensor: Tensor, shape: Sequence[int], error: type[RefinterpError]) -> None:
        """Record ``tensor`` at ``shape``; raise ``error`` when it would pass a limit (nothing is allocated yet)."""
        if tensor.is_constant:
            return
        limits = self.run.owner
        nbytes = tensor_bytes(tensor, shape)

        def what() -> str:
            return (f"{where}: {role} tensor {tensor.index} {_name(tensor)} of shape {_shape(shape)} "
                    f"{tensor.type_name} needs {format_bytes(nbytes)}")

        if nbytes > limits.max_tensor_bytes:
            raise error(f"{what()}, over the limit of {format_bytes(limits.max_tensor_bytes)} for one tensor "
                        f"(raise it: {_HOW_TO_RAISE['max_tensor_bytes']})")
        total = self.total - self.sizes.get(tensor.index, 0) + nbytes
        everything = total + limits._bytes_held_outside(self.run)
        if everything > limits.max_total_bytes:
            raise error(f"{what()}, bringing the tensors kept to {format_bytes(everything)}, over the limit of "
                        f"{format_bytes(limits.max_total_bytes)} (raise it: {_HOW_TO_RAISE['max_total_bytes']})")
        self.sizes[tensor.index] = nbytes
        self.total = total


class _SubgraphRun:
    """One subgraph inside an interpreter: its plan (prepared operators, planned shapes, bytes) and the value
    of every tensor it holds. The interpreter runs its entry subgraph; control-flow operators run the others
    (LiteRT keeps one ``Subgraph`` object per index too: a subgraph that runs several times keeps the values of
    its last run)."""

    def __init__(self, owner: Interpreter, subgraph: Subgraph, entry: bool):
        self.owner = owner
        self.subgraph = subgraph
        self.entry = entry
        #: how messages name this subgraph's operators: "operator 3 (ADD)" or "subgraph 2 operator 3 (ADD)"
        self.prefix = "" if entry else f"subgraph {subgraph.index} "
        self.prepared: list[_PreparedOp] | None = None
        #: one per prepared operator: what invoke needs of it, precomputed
        self.steps: list[_Step] = []
        #: after allocate: every tensor's planned shape, and the bytes the kept tensors will hold
        self.planned_shapes: dict[int, tuple[int, ...]] = {}
        self.planned_budget: _Budget | None = None
        #: the budget of the invoke in progress (or the last one)
        self.budget: _Budget | None = None
        #: the shape of each input tensor when it differs from the declared one (resize_tensor_input, or the
        #: values a control-flow operator passes in); the plan is made for these
        self.input_shapes: dict[int, tuple[int, ...]] = {}
        #: tensors whose shape is known only at invoke (value-dependent, dynamic outputs, and what they feed)
        self.dynamic: set[int] = set()
        #: inputs that take no value (RemoveUnusedInputs: no operator reads them)
        self.unused_inputs: set[int] = set()
        self.values: list[np.ndarray | None] = [t.data for t in subgraph.tensors]
        #: seconds spent in each operator during the last invoke, by operator index
        self.op_seconds: list[float] = []

    # ------------------------------------------------------------------------------- names in messages

    def where(self, op: Operator) -> str:
        return f"{self.prefix}operator {op.index} ({_op_name(op)})"

    def located(self, exc: RefinterpError, op: Operator) -> RefinterpError:
        """The error, its message starting with the operator that raised it (kernels raise without one; a
        prepare names its operator but not the subgraph)."""
        text = str(exc)
        if text.startswith(f"{self.prefix}operator "):
            return exc
        if self.prefix and text.startswith("operator "):
            return type(exc)(f"{self.prefix}{text}")
        return type(exc)(f"{self.where(op)}: {text}")

    @property
    def resized(self) -> bool:
        tensors = self.subgraph.tensors
        return any(shape != tensors[index].shape for index, shape in self.input_shapes.items())

    def held_bytes(self) -> int:
        budget = self.budget or self.planned_budget
        return budget.total if budget is not None else 0

    # ------------------------------------------------------------------------------- preparation

    def allocate(self) -> None:
        """Prepare every operator on the planned shapes (see the module docstring). In a graph whose inputs
        have their declared shapes, a shape an operator says must equal the declared one; in a resized graph
        (resize_tensor_input, or a control-flow operator's inputs) it must fit the tensor's shape signature:
        a dimension declared static (not -1) stays what the file says."""
        owner = self.owner
        tensors = self.subgraph.tensors
        resized = self.resized
        shapes = {t.index: t.shape for t in tensors}
        shapes.update(self.input_shapes)
        dynamic: set[int] = set()
        self.prepared = None
        budget = _Budget(self)
        for index in self.subgraph.inputs:
            if index >= 0:
                budget.claim(f"{self.prefix}model input".lstrip(), "input", tensors[index], shapes[index],
                             PrepareError)
        for index in self.subgraph.outputs:
            if index >= 0 and tensors[index].dtype is None and tensors[index].type_name != "resource":
                # int4, bfloat16, float8...: refinterp keeps such a tensor as raw bytes, which is not the array
                # LiteRT's get_tensor gives (an int8 view of a float8 tensor, for one)
                raise UnsupportedOpError(f"{self.prefix}model output tensor {index} {_name(tensors[index])} is "
                                         f"{tensors[index].type_name}: refinterp holds no array of that type")
        prepared = []
        operators = self.subgraph.operators
        for step, op in enumerate(operators):
            if self.entry and owner.progress is not None:
                owner.progress("prepare", step, len(operators), op)
            fed_by_dynamic = any(i in dynamic for i in op.inputs if i >= 0)
            if fed_by_dynamic:
                # LiteRT prepares an operator that reads a dynamic tensor when the invoke reaches it; refinterp
                # prepares it now on the planned (declared) shapes, so that what is wrong whatever the shapes
                # is refused now, and prepares it again at invoke if the shapes differ then. When the declared
                # shapes do not make sense to it, only the invoke prepares it.
                prepared_op = self.prepare_provisionally(op, shapes)
            else:
                prepared_op = self.prepare_operator(op, shapes)
            for position, (index, said) in enumerate(zip(op.outputs, prepared_op.output_plan)):
                if index < 0:
                    continue
                tensor = tensors[index]
                shape = tensor.shape  # not said, or known at invoke only: the declared shape until then
                if isinstance(said, tuple) and _shapeless_custom_output(op, tensor):
                    shape = said  # LiteRT's Prepare resizes it to what it computes
                elif isinstance(said, tuple):
                    if resized or fed_by_dynamic:
                        if not matches_signature(said, tensor):
                            raise PrepareError(f"{self.where(op)}: output {position} (tensor {index} "
                                               f"{_name(tensor)}) gets shape {_shape(said)} from its inputs, which "
                                               f"does not fit its shape signature "
                                               f"{_shape(self.signature_of(tensor))}")
                    elif not _same_shape(said, tensor.shape):
                        raise PrepareError(f"{self.where(op)}: output {position} (tensor {index} {_name(tensor)}) "
                                           f"gets shape {_shape(said)} from its inputs, the model declares "
                                           f"{_shape(tensor.shape)}")
                    shape = said
                if not isinstance(said, tuple) and (said is not None or resized) or fed_by_dynamic:
                    dynamic.add(index)
                budget.claim(self.where(op), "output", tensor, shape, PrepareError)
                shapes[index] = shape
            prepared.append(prepared_op)
        for tensor in tensors:
            if tensor.is_variable and tensor.dtype is not None:
                budget.claim(f"{self.prefix}variable tensors".lstrip(), "variable", tensor, tensor.shape,
                             PrepareError)
        self.planned_shapes = shapes
        self.planned_budget = budget
        self.budget = None
        self.dynamic = dynamic
        self.steps = [_Step(self, prepared_op, shapes) for prepared_op in prepared]
        self.prepared = prepared
        self.reset_variables()  # as LiteRT's Subgraph::AllocateTensors does

    @staticmethod
    def signature_of(tensor: Tensor) -> tuple[int, ...]:
        return tensor.shape_signature if len(tensor.shape_signature) == len(tensor.shape) else tensor.shape

    def prepare_operator(self, op: Operator, shapes: dict[int, tuple[int, ...]]) -> _PreparedOp:
        """Run the operator's prepare on the current shapes; what it says about its outputs is checked by the
        caller."""
        owner = self.owner
        opdef = lookup(op.name)
        if opdef is None:
            raise UnsupportedOpError(f"{self.prefix}operator {op.index}: {_op_name(op)} (version {op.version}) is "
                                     f"not supported by refinterp (see `refinterp ops`)")
        profile = base_profile(owner.profile)  # an emulation profile runs on its reference profile
        if profile not in opdef.profiles:
            raise UnsupportedOpError(f"{self.prefix}operator {op.index}: {op.name} has no {profile} profile")
        if profile == "litert-ref" and op.version not in opdef.versions:  # TFLM ignores versions
            raise UnsupportedOpError(f"{self.prefix}operator {op.index}: {op.name} version {op.version} is not "
                                     f"supported by refinterp (it runs versions {_version_ranges(opdef.versions)})")
        ctx = OpContext(op, self.subgraph, profile, shapes=MappingProxyType(shapes), host=owner,
                        emulation=None if profile == owner.profile else owner.profile)
        try:
            params, kernel = prepare_kernel(opdef, ctx, owner.kernels, owner.profile)
        except RefinterpError as exc:  # helpers below the ops (quant.py) raise without naming the operator
            raise self.located(exc, op) from None
        missing = sorted(position for position in ctx.output_shapes if position >= len(op.outputs))
        if missing:  # the kernel would compute an output the file does not give the operator (LiteRT's
            # Prepare fails on GetOutput): refused before the kernel sizes anything from its inputs
            raise PrepareError(f"{self.where(op)}: has {len(op.outputs)} outputs, its output {missing[0]} is "
                               "missing")
        said_outputs = max(ctx.output_shapes, default=0) + 1
        if len(op.outputs) > said_outputs:  # LiteRT's kernels check NumOutputs (add.cc: NumOutputs(node) == 1);
            # an output the kernel never writes would be left as garbage there, unchecked here (an untaken IF
            # branch is prepared but never run)
            raise PrepareError(f"{self.where(op)}: has {len(op.outputs)} outputs, its kernel writes "
                               f"{said_outputs}")
        plan: list[tuple[int, ...] | ShapeFunction | None] = []
        for position in range(len(op.outputs)):
            said = ctx.output_shapes.get(position)
            if said is None and len(op.outputs) == 1:
                said = _params_output_shape(params)
            plan.append(said)
        input_shapes = tuple(shapes[i] if i >= 0 else None for i in op.inputs)
        return _PreparedOp(op, opdef, params, kernel, input_shapes, tuple(plan))

    def prepare_provisionally(self, op: Operator, shapes: dict[int, tuple[int, ...]]) -> _PreparedOp:
        """An operator fed by a tensor whose shape is known only at invoke, prepared on the planned shapes, or
        left to the invoke when they do not suit it (an unsupported operator is refused either way)."""
        try:
            prepared = self.prepare_operator(op, shapes)
        except PrepareError:
            return _PreparedOp.later(op)
        for index, said in zip(op.outputs, prepared.output_plan):
            if index >= 0 and isinstance(said, tuple) and not matches_signature(said, self.subgraph.tensors[index]) \
                    and not _shapeless_custom_output(op, self.subgraph.tensors[index]):
                return _PreparedOp.later(op)
        return prepared

    def require_allocated(self) -> list[_PreparedOp]:
        if self.prepared is None:
            self.allocate()
        assert self.prepared is not None
        return self.prepared

    def reset_variables(self) -> None:
        """Every variable tensor (the state of LSTM, RNN and SVDF) back to its initial value: the zero point
        for int8, zero bytes otherwise (tensor_utils.cc ResetVariableTensor, ``Tensor.reset_fill``: a variable's
        buffer data is not used)."""
        for tensor in self.subgraph.tensors:
            if tensor.is_variable and tensor.dtype is not None:
                fill = tensor.reset_fill(tflm=base_profile(self.owner.profile) == "tflm")
                # memset with the zero point's low byte, as LiteRT does
                value = np.full(tensor.nbytes, fill & 0xFF, np.uint8).view(tensor.dtype).reshape(tensor.shape)
                value.flags.writeable = False
                self.values[tensor.index] = value

    # ------------------------------------------------------------------------------- running

    def replan(self, prepared: _PreparedOp, shapes: dict[int, tuple[int, ...]], budget: _Budget) -> _PreparedOp:
        """The operator prepared again because an input's shape changed (a value-dependent output upstream),
        as TFLite prepares the nodes after a dynamic tensor again; its outputs now need only fit their shape
        signatures."""
        op = prepared.op
        try:
            prepared = self.prepare_operator(op, shapes)
        except PrepareError as exc:
            raise EvalError(f"{exc} (prepared again for shapes computed at invoke)") from None
        for position, (index, said) in enumerate(zip(op.outputs, prepared.output_plan)):
            if index >= 0 and isinstance(said, tuple):
                self.check_signature(op, position, self.subgraph.tensors[index], said, "gets")
                budget.claim(self.where(op), "output", self.subgraph.tensors[index], said, EvalError)
        return prepared

    def check_signature(self, op: Operator, position: int, tensor: Tensor, shape: tuple[int, ...],
                        verb: str) -> None:
        if not matches_signature(shape, tensor) and not _shapeless_custom_output(op, tensor):
            raise EvalError(f"{self.where(op)}: output {position} (tensor {tensor.index} {_name(tensor)}) {verb} "
                            f"shape {_shape(shape)}, which does not fit its shape signature "
                            f"{_shape(self.signature_of(tensor))}")

    def check_inputs(self, prepared: _PreparedOp, inputs: list[np.ndarray | None],
                     error: type[RefinterpError]) -> None:
        """Every input array exactly as prepare planned it: present, its shape, its dtype (the kernels, numba
        ones included, index their inputs by the planned shapes)."""
        op = prepared.op
        if len(inputs) != len(op.inputs):
            raise error(f"{self.where(op)}: {len(inputs)} input values for {len(op.inputs)} inputs")
        for position, (index, value, planned) in enumerate(zip(op.inputs, inputs, prepared.input_shapes)):
            if index < 0:
                continue
            tensor = self.subgraph.tensors[index]
            if tensor.sparsity is not None:
                continue  # a sparse constant's value is its stored bytes (model.py); only DENSIFY reads them
            if value is None:
                raise error(f"{self.where(op)}: input {position} (tensor {index}) has no value")
            if not isinstance(value, np.ndarray) or value.dtype != _value_dtype(tensor) or value.shape != planned:
                got = (f"{value.dtype} {_shape(value.shape)}" if isinstance(value, np.ndarray)
                       else type(value).__name__)
                raise error(f"{self.where(op)}: input {position} (tensor {index} {_name(tensor)}) is {got}, "
                            f"prepared for {tensor.type_name} {_shape(planned)}")

    def expected_shapes(self, prepared: _PreparedOp, inputs: list[np.ndarray | None], replanned: bool,
                        shapes: dict[int, tuple[int, ...]], budget: _Budget) -> list[tuple[int, ...] | None]:
        """Each output's shape before its kernel runs (None: known only from the kernel's result). A shape
        that depends on input values is computed here and checked against the signature and the limits, so a
        huge or malformed one is refused before anything is allocated."""
        op = prepared.op
        expected: list[tuple[int, ...] | None] = []
        for position, (index, said) in enumerate(zip(op.outputs, prepared.output_plan)):
            if said is KNOWN_AFTER_KERNEL:
                expected.append(None)
            elif callable(said):
                try:
                    shape = tuple(said(inputs))
                except RefinterpError as exc:
                    raise self.located(exc, op) from None
                except Exception as exc:  # a shape rule that did not foresee a value: a bug, never a refusal
                    raise KernelError(f"{self.where(op)} output shape rule crashed: {type(exc).__name__}: "
                                      f"{_one_line(exc)}") from exc
                if not all(isinstance(d, (int, np.integer)) and d >= 0 for d in shape):
                    raise KernelError(f"{self.where(op)}: output shape rule gave {_shape(shape)}")
                shape = tuple(int(d) for d in shape)
                if index >= 0:
                    tensor = self.subgraph.tensors[index]
                    self.check_signature(op, position, tensor, shape, "would get")
                    budget.claim(self.where(op), "output", tensor, shape, EvalError)
                expected.append(shape)
            elif isinstance(said, tuple):
                expected.append(said)
            elif replanned or index < 0 or index in self.dynamic:
                expected.append(None)
            else:
                expected.append(shapes[index])  # the declared shape: the kernel must produce exactly that
        return expected

    def run_kernel(self, prepared: _PreparedOp, inputs: list[np.ndarray | None],
                   expected: list[tuple[int, ...] | None],
                   step: _Step | None = None) -> tuple[list[np.ndarray], dict[int, np.ndarray]]:
        """The kernel's outputs, checked against the plan, and the new values of the variable tensors it
        writes (by tensor index). ``step``: the operator's output dtypes and signature-fitting shapes, precomputed
        (properties of its tensors, whatever shapes it was prepared for)."""
        try:
            result = prepared.kernel(prepared.params, *inputs)
        except Exception as exc:
            self.kernel_failed(prepared.op, exc)
        return self.checked_outputs(prepared, inputs, result, expected, step)

    def kernel_failed(self, op: Operator, exc: Exception) -> NoReturn:
        """Raise what a kernel's exception means (called in the ``except`` block around the kernel)."""
        if isinstance(exc, RefinterpError):
            raise self.located(exc, op) from None
        if isinstance(exc, RecursionError):  # subgraphs nested past Python's stack (the nesting limit normally
            # stops it)
            raise EvalError(f"{self.where(op)}: subgraphs nested too deeply") from None
        # a kernel bug or a shape the prepare step did not foresee: never a refusal
        raise KernelError(f"{self.where(op)} kernel crashed: {type(exc).__name__}: {_one_line(exc)}") from exc

    def checked_outputs(self, prepared: _PreparedOp, inputs: list[np.ndarray | None], result: Any,
                        expected: list[tuple[int, ...] | None],
                        step: _Step | None = None) -> tuple[list[np.ndarray], dict[int, np.ndarray]]:
        """A kernel's result as its outputs, checked against the plan, and the variable updates it carries."""
        op = prepared.op
        updates: dict[int, np.ndarray] = {}
        if isinstance(result, KernelResult):
            for position, value in result.variable_updates.items():
                index = op.inputs[position] if 0 <= position < len(op.inputs) else -1
                before = inputs[position] if index >= 0 else None
                if index < 0 or before is None or not self.subgraph.tensors[index].is_variable:
                    raise KernelError(f"{self.where(op)} wrote input {position}, which is not a variable tensor")
                if op.inputs.count(index) > 1:
                    # LiteRT's kernel updates the state in place while it still reads the same tensor at its other
                    # position (measured: a sequence RNN whose recurrent weights are its own state)
                    raise EvalError(f"{self.where(op)}: variable tensor {index} is read at two input positions "
                                    "and updated in place by LiteRT, an order refinterp does not follow")
                value = np.asarray(value)
                if value.dtype != before.dtype or value.shape != before.shape:
                    raise KernelError(f"{self.where(op)} wrote variable input {position} as {value.dtype} "
                                      f"{_shape(value.shape)}, it is {before.dtype} {_shape(before.shape)}")
                updates[index] = value
            result = result.outputs
        if result.__class__ is np.ndarray:  # the common case, one array
            outputs = [result]
        else:
            outputs = [np.asarray(v) for v in (result if isinstance(result, (tuple, list)) else [result])]
        if len(outputs) != len(op.outputs):
            # a file that gives the operator more or fewer outputs than it has (LiteRT's Prepare refuses it)
            raise EvalError(f"{self.where(op)} produced {len(outputs)} outputs, the model declares "
                            f"{len(op.outputs)}")
        tensors = self.subgraph.tensors
        fitting = step.fitting if step is not None else None
        for position, (value, index, shape) in enumerate(zip(outputs, op.outputs, expected)):
            if index < 0:
                continue
            tensor = tensors[index]
            if value.dtype != (step.outputs[position][1] if step is not None else _value_dtype(tensor)):
                raise EvalError(f"{self.where(op)} produced {value.dtype} for tensor {index}, the model declares "
                                f"{tensor.type_name}")
            if shape is None:
                if fitting is None or value.shape != fitting[position]:
                    self.check_signature(op, position, tensor, value.shape, "produced")
            elif value.shape != shape and not _same_shape(value.shape, shape):
                # TFLite resizes outputs to what Prepare computes; refinterp checks what the kernel made against
                # the plan: a difference means a broken file (an op that does not say its shape) or a bug
                raise EvalError(f"{self.where(op)} produced shape {_shape(value.shape)} for tensor {index} "
                                f"{_name(tensor)}, the model declares {_shape(shape)}")
        return outputs, updates

    def invoke(self) -> None:
        """Run every operator once, in order, on the values the inputs hold.

        While every tensor keeps its planned shape, an operator's checks are made against what allocate
        worked out (``_Step``): its inputs' dtypes and shapes, its outputs' expected shapes. Once a tensor's
        shape differs from the plan (a value-dependent output), each later operator is checked as planned
        again: prepared again when an input's shape changed, its output shapes computed anew."""
        owner = self.owner
        self.require_allocated()
        steps = self.steps
        shapes = dict(self.planned_shapes)
        assert self.planned_budget is not None
        budget = self.planned_budget.copy()
        self.budget = budget
        values = self.values
        progress = owner.progress if self.entry else None
        clock = time.perf_counter
        reshaped = False  # some tensor's shape differs from the plan: later operators take the general path
        op_seconds = []
        for step_index, step in enumerate(steps):
            prepared = step.prepared
            op = prepared.op
            if progress is not None:
                progress("invoke", step_index, len(steps), op)
            started = clock()
            inputs = [values[i] if i >= 0 else None for i in step.inputs]
            if step.planned and not reshaped:
                for position, dtype, shape in step.checks:
                    value = inputs[position]
                    if value is None or value.__class__ is not np.ndarray or value.dtype != dtype \
                            or value.shape != shape:
                        self.check_inputs(prepared, inputs, EvalError)  # raises, saying what differs
                        break
                try:
                    result = prepared.kernel(prepared.params, *inputs)
                except Exception as exc:
                    self.kernel_failed(op, exc)
                stores = step.stores
                if stores is not None:
                    made = (result,) if len(stores) == 1 else result
                    if made.__class__ in (tuple, list) and len(made) == len(stores) and all(
                            value.__class__ is np.ndarray and value.shape == shape and value.dtype == dtype
                            for value, (_, dtype, shape) in zip(made, stores)):
                        # every output of its planned dtype and shape (checked_outputs would accept them and no
                        # shape changes): stored as the general path stores them
                        for value, (index, _, _) in zip(made, stores):
                            if value.flags.writeable:
                                value.flags.writeable = False
                            values[index] = value
                        op_seconds.append(clock() - started)
                        continue
                outputs, variable_updates = self.checked_outputs(prepared, inputs, result, step.expected, step)
            else:
                replanned = any(i >= 0 and shapes[i] != planned
                                for i, planned in zip(op.inputs, prepared.input_shapes))
                if replanned:
                    prepared = self.replan(prepared, shapes, budget)
                self.check_inputs(prepared, inputs, EvalError)
                expected = self.expected_shapes(prepared, inputs, replanned, shapes, budget)
                outputs, variable_updates = self.run_kernel(prepared, inputs, expected, step)
            for index, value in zip(op.outputs, outputs):
                if index < 0:
                    continue
                if value.shape != shapes[index]:
                    budget.claim(self.where(op), "output", self.subgraph.tensors[index], value.shape, EvalError)
                    shapes[index] = value.shape
                    reshaped = True
                if value.flags.writeable:
                    value.flags.writeable = False
                values[index] = value
            for index, value in variable_updates.items():  # LiteRT's kernel wrote its state input in place
                value.flags.writeable = False
                values[index] = value
            op_seconds.append(clock() - started)
        self.op_seconds = op_seconds


def tensor_details(tensor: Tensor, shape: Sequence[int] | None = None) -> dict[str, Any]:
    """A tensor described with LiteRT's dict keys (``Interpreter._get_tensor_details``)."""
    q = tensor.quantization
    if q is None:
        quantization: tuple[float, int] = (0.0, 0)
        parameters = {"scales": np.zeros(0, np.float32), "zero_points": np.zeros(0, np.int32),
                      "quantized_dimension": 0, "block_size": 0}
    else:
        quantization = (float(q.scale[0]), int(q.zero_point[0])) if not q.per_channel else (0.0, 0)
        parameters = {"scales": q.scale.astype(np.float32), "zero_points": q.zero_point.astype(np.int32),
                      "quantized_dimension": q.quantized_dimension, "block_size": 0}
    return {
        "name": tensor.name,
        "index": tensor.index,
        "shape": np.array(shape if shape is not None else tensor.shape, dtype=np.int32),
        "shape_signature": np.array(tensor.shape_signature, dtype=np.int32),
        "dtype": tensor.dtype.type if tensor.dtype is not None else np.object_,
        "quantization": quantization,
        "quantization_parameters": parameters,
        "sparsity_parameters": {},
    }



class Interpreter:
    """Run a .tflite model bit-exactly under TFLite's integer rules.

    Args:
        model_path: path of a .tflite file.
        model_content: the model's bytes (instead of a path).
        experimental_delegates: LiteRT's delegates; ignored with a warning (refinterp runs its own kernels;
            check a delegate with ``refinterp compare --against delegate:PATH.so``).
        num_threads: threads for the fast kernels, an int >= 1 (LiteRT raises ValueError otherwise, and so
            does refinterp); default all the cores numba sees.
        profile: whose rules to follow where the official runtimes differ by design: "litert-ref"
            (LiteRT's reference kernels, the default) or "tflm" (TFLite Micro); or an emulation profile:
            "litert-opt" (LiteRT's optimized x86-64 builtin kernels) or "xnnpack" (LiteRT with the XNNPACK
            delegate), see refinterp/ops/emulation/.
        kernels: "fast" (numba, the default) or "spec" (the readable NumPy kernels).
        progress: optional :data:`ProgressCallback`, called before each operator is prepared and run (the
            ``refinterp run`` progress line); it may also be set later as the ``progress`` attribute.
        max_tensor_bytes: the most bytes one tensor may hold (an int, or text such as "4GiB"); default the
            environment variable ``REFINTERP_MAX_TENSOR_BYTES``, else :data:`DEFAULT_MAX_TENSOR_BYTES` (2 GiB).
        max_total_bytes: the most bytes all the tensors kept may hold together; default
            ``REFINTERP_MAX_TOTAL_BYTES``, else :func:`default_max_total_bytes` (8 GiB or half the memory).
        max_while_iterations: the most times one WHILE operator may run its body in one invoke; default
            ``REFINTERP_MAX_WHILE_ITERATIONS``, else :data:`DEFAULT_MAX_WHILE_ITERATIONS` (one million).
        subgraph_index: the subgraph to run (refinterp's own option; LiteRT runs subgraph 0 or a signature's).

    Under profile "litert-ref" the model is refused at load as LiteRT refuses it: any reason the parser
    recorded in ``Model.litert_refusals``, and any builtin operator code (used or not) at a version LiteRT's
    reference resolver has no kernel for.

    The positional order is LiteRT's. LiteRT's other ``experimental_*`` keyword arguments are accepted and
    ignored: refinterp has one resolver (its own), no delegates, and always preserves every tensor.
    """


    def __init__(self, model_path: str | os.PathLike | None = None, model_content: bytes | None = None,
                 experimental_delegates: Sequence[Any] | None = None, num_threads: int | None = None, *,
                 profile: str = "litert-ref", kernels: str = "fast", subgraph_index: int = 0,
                 progress: ProgressCallback | None = None, max_tensor_bytes: int | str | None = None,
                 max_total_bytes: int | str | None = None, max_while_iterations: int | None = None,
                 **litert_options: Any):
        unknown = set(litert_options) - LITERT_IGNORED_OPTIONS
        if unknown:
            raise TypeError(f"Interpreter() got unexpected keyword arguments: {', '.join(sorted(unknown))}")
        if experimental_delegates:
            warnings.warn("refinterp.Interpreter ignores experimental_delegates: it always runs its own kernels "
                          "(to check a delegate: refinterp compare MODEL --against delegate:PATH.so)",
                          UserWarning, stacklevel=2)
        if (model_path is None) == (model_content is None):
            raise InputError("give exactly one of model_path and model_content")
        if profile not in ALL_PROFILES:
            raise InputError(f"profile {profile!r} is not one of {', '.join(ALL_PROFILES)}")
        if kernels not in KERNEL_CHOICES:
            raise InputError(f"kernels {kernels!r} is not one of {', '.join(KERNEL_CHOICES)}")
        self.max_tensor_bytes = _limit(max_tensor_bytes, MAX_TENSOR_BYTES_ENV, DEFAULT_MAX_TENSOR_BYTES,
                                       "max_tensor_bytes")
        self.max_total_bytes = _limit(max_total_bytes, MAX_TOTAL_BYTES_ENV, default_max_total_bytes(),
                                      "max_total_bytes")
        #: the most times one WHILE operator may run its body in one invoke (SubgraphHost)
        self.max_while_iterations = _positive_count(max_while_iterations, MAX_WHILE_ITERATIONS_ENV,
                                                    DEFAULT_MAX_WHILE_ITERATIONS, "max_while_iterations")
        self.model: Model = load_model(model_path) if model_path is not None else parse_model(model_content)
        if base_profile(profile) == "litert-ref":
            if self.model.litert_refusals:
                raise ModelFormatError(self.model.litert_refusals[0])
            check_litert_operator_codes(self.model)
        if not 0 <= subgraph_index < len(self.model.subgraphs):
            raise InputError(f"subgraph {subgraph_index} does not exist (the model has {len(self.model.subgraphs)})")
        self.subgraph: Subgraph = self.model.subgraphs[subgraph_index]
        self.profile = profile
        self.kernels = kernels
        self.num_threads = self._set_threads(num_threads)
        self.progress: ProgressCallback | None = progress
        #: the subgraphs this interpreter has prepared or run, by index; the entry subgraph first
        self._runs: dict[int, _SubgraphRun] = {}
        self._main = _SubgraphRun(self, self.subgraph, entry=True)
        self._runs[self.subgraph.index] = self._main
        #: resource variables (LiteRT's resource_ids and resources, one map per interpreter): ids in the order
        #: LiteRT's VAR_HANDLE Init creates them (every subgraph's operators, in order, at load)
        self._resource_ids: dict[tuple[str, str], int] = {}
        for subgraph in self.model.subgraphs:
            for op in subgraph.operators:
                if op.name == "VAR_HANDLE":
                    self.resource_id(str(op.options.get("container") or ""), str(op.options.get("shared_name") or ""))
        self._variables: dict[int, np.ndarray] = {}
        #: init subgraphs CALL_ONCE has run (LiteRT's initialization_status_map)
        self._initialized: set[int] = set()
        #: the subgraphs being prepared and being run, innermost last (a subgraph may not call itself)
        self._preparing: list[int] = []
        self._running: list[int] = []

    @staticmethod
    def _set_threads(num_threads: int | None) -> int:
        available = numba.config.NUMBA_NUM_THREADS
        if num_threads is None:
            num_threads = available
        elif not isinstance(num_threads, int):  # LiteRT's own checks and messages (interpreter.py, 2.3.0)
            raise InputError(f"type of num_threads should be int, got {type(num_threads).__name__}")
        elif num_threads < 1:
            raise InputError(f"num_threads should >= 1, got {num_threads}")
        num_threads = min(int(num_threads), available)
        numba.set_num_threads(num_threads)
        return num_threads

    # -------------------------------------------------------------------------------- the entry subgraph's state

    @property
    def _values(self) -> list[np.ndarray | None]:
        return self._main.values

    @property
    def _prepared(self) -> list[_PreparedOp] | None:
        return self._main.prepared

    @property
    def _planned_shapes(self) -> dict[int, tuple[int, ...]]:
        return self._main.planned_shapes

    @property
    def _planned_budget(self) -> _Budget | None:
        return self._main.planned_budget

    @property
    def op_seconds(self) -> list[float]:
        """Seconds spent in each operator of the entry subgraph during the last invoke(), by operator index."""
        return self._main.op_seconds

    def _bytes_held_outside(self, run: _SubgraphRun) -> int:
        return sum(other.held_bytes() for other in self._runs.values() if other is not run)

    # -------------------------------------------------------------------------------- preparation

    def allocate_tensors(self) -> None:
        """Prepare every operator (validate, precompute multipliers, pack weights) once, planning every
        tensor's shape and checking it against the model and the memory limits (see the module docstring).
        The subgraphs that WHILE and IF run are prepared with them; a CALL_ONCE init subgraph when it runs."""
        if self._main.prepared is not None:
            return
        self._preparing.append(self.subgraph.index)
        try:
            self._main.allocate()
        finally:
            self._preparing.pop()

    def _require_allocated(self) -> list[_PreparedOp]:
        if self._main.prepared is None:
            self.allocate_tensors()
        assert self._main.prepared is not None
        return self._main.prepared

    # -------------------------------------------------------------------------------- SubgraphHost

    def subgraph_count(self) -> int:
        return len(self.model.subgraphs)

    def model_subgraph(self, index: int) -> Subgraph:
        return self.model.subgraphs[index]

    def _run_of(self, index: int) -> _SubgraphRun:
        run = self._runs.get(index)
        if run is None:
            run = self._runs[index] = _SubgraphRun(self, self.model.subgraphs[index], entry=False)
        return run

    def _refuse_recursion(self, index: int, error: type[RefinterpError]) -> None:
        if index in self._preparing or index in self._running:
            chain = " -> ".join(str(i) for i in (*self._running, *self._preparing, index))
            raise error(f"subgraph {index} would run inside itself ({chain}): recursion is not supported")
        if len(self._preparing) + len(self._running) >= MAX_SUBGRAPH_NESTING:
            raise error(f"subgraphs nested more than {MAX_SUBGRAPH_NESTING} deep")

    def prepare_subgraph(self, index: int, input_shapes: Sequence[tuple[int, ...]],
                         caller: int) -> tuple[tuple[int, ...] | None, ...]:
        """SubgraphHost: prepare subgraph ``index`` for inputs of these shapes; its outputs' planned shapes
        (None where known only at invoke)."""
        self._refuse_recursion(index, PrepareError)
        run = self._run_of(index)
        subgraph = run.subgraph
        if len(input_shapes) != len(subgraph.inputs):
            raise PrepareError(f"subgraph {index} has {len(subgraph.inputs)} inputs, {len(input_shapes)} given")
        run.input_shapes = {i: tuple(int(d) for d in shape) for i, shape in zip(subgraph.inputs, input_shapes)
                            if i >= 0}
        self._preparing.append(index)
        try:
            run.allocate()
        finally:
            self._preparing.pop()
        return tuple(None if i < 0 or i in run.dynamic else run.planned_shapes[i] for i in subgraph.outputs)

    def remove_unused_inputs(self, index: int) -> None:
        """SubgraphHost: subgraph ``index`` takes no value for an input no operator reads (subgraph.cc
        RemoveUnusedInputs; its variable tensors count as read)."""
        subgraph = self.model.subgraphs[index]
        read = {i for op in subgraph.operators for i in op.inputs}
        read |= {t.index for t in subgraph.tensors if t.is_variable}
        self._run_of(index).unused_inputs = {i for i in subgraph.inputs if i >= 0 and i not in read}

    def run_subgraph(self, index: int, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """SubgraphHost: run subgraph ``index`` on these values (prepared again first when their shapes are
        not those it was prepared for, as LiteRT's control-flow kernels resize and allocate it)."""
        self._refuse_recursion(index, EvalError)
        run = self._run_of(index)
        subgraph = run.subgraph
        if len(inputs) != len(subgraph.inputs):
            raise EvalError(f"subgraph {index} has {len(subgraph.inputs)} inputs, {len(inputs)} values given")
        shapes: dict[int, tuple[int, ...]] = {}
        for position, (tensor_index, value) in enumerate(zip(subgraph.inputs, inputs)):
            if tensor_index < 0:
                continue
            tensor = subgraph.tensors[tensor_index]
            if value is None or value.dtype != _value_dtype(tensor):
                got = "no value" if value is None else str(value.dtype)
                raise EvalError(f"subgraph {index} input {position} (tensor {tensor_index} {_name(tensor)}) is "
                                f"{tensor.type_name}, given {got}")
            shapes[tensor_index] = tuple(value.shape)
        planned = {i: run.planned_shapes.get(i) for i in shapes}
        if run.prepared is None or planned != shapes:
            run.input_shapes = shapes
            self._preparing.append(index)
            try:
                run.allocate()
            except PrepareError as exc:
                raise EvalError(f"{exc} (subgraph {index} prepared at invoke for input shapes "
                                f"{_shape([list(s) for s in shapes.values()])})") from None
            finally:
                self._preparing.pop()
        for tensor_index, value in zip(subgraph.inputs, inputs):
            if tensor_index >= 0 and tensor_index not in run.unused_inputs:
                if value.flags.writeable:
                    value = value.view()
                    value.flags.writeable = False
                run.values[tensor_index] = value
        self._running.append(index)
        try:
            run.invoke()
        finally:
            self._running.pop()
        outputs = []
        for position, tensor_index in enumerate(subgraph.outputs):
            value = run.values[tensor_index] if tensor_index >= 0 else None
            if value is None:
                raise EvalError(f"subgraph {index} output {position} (tensor {tensor_index}) has no value")
            outputs.append(value)
        return outputs

    def show_inputs(self, index: int, values: Sequence[np.ndarray]) -> None:
        """SubgraphHost: subgraph ``index``'s inputs hold these values (read-only, shared), without a run."""
        run = self._run_of(index)
        for tensor_index, value in zip(run.subgraph.inputs, values):
            if tensor_index >= 0 and tensor_index not in run.unused_inputs:
                run.values[tensor_index] = value

    def resource_id(self, container: str, shared_name: str) -> int:
        """SubgraphHost: the id of the resource variable (container, shared_name), made on first use."""
        return self._resource_ids.setdefault((container, shared_name), len(self._resource_ids))

    def _variable_name(self, resource_id: int) -> str:
        for (container, shared_name), known in self._resource_ids.items():
            if known == resource_id:
                return shown(f"{container}/{shared_name}" if container else shared_name, 60)
        return "(unknown)"

    def read_variable(self, resource_id: int) -> np.ndarray:
        """SubgraphHost: the variable's value (read_variable.cc: the variable must exist)."""
        value = self._variables.get(resource_id)
        if value is None:
            raise EvalError(f"resource variable {resource_id} {self._variable_name(resource_id)} is read before "
                            "anything was assigned to it")
        return value

    def assign_variable(self, resource_id: int, value: np.ndarray) -> None:
        """SubgraphHost: the variable takes the value (a copy), its type and shape (ResourceVariable::AssignFrom)."""
        stored = np.array(value, copy=True)
        stored.flags.writeable = False
        self._variables[resource_id] = stored

    def is_initialized(self, subgraph_index: int) -> bool:
        return subgraph_index in self._initialized

    def mark_initialized(self, subgraph_index: int) -> None:
        self._initialized.add(subgraph_index)

    # -------------------------------------------------------------------------------- details

    def _tensor(self, index: int) -> Tensor:
        if not isinstance(index, (int, np.integer)) or not 0 <= int(index) < len(self.subgraph.tensors):
            raise InputError(f"tensor index {index} out of range (the subgraph has {len(self.subgraph.tensors)})")
        return self.subgraph.tensors[int(index)]

    def _current_shape(self, run: _SubgraphRun, index: int) -> tuple[int, ...]:
        value = run.values[index]
        if value is not None:
            return tuple(value.shape)
        if index in run.planned_shapes:
            return run.planned_shapes[index]
        return run.input_shapes.get(index, run.subgraph.tensors[index].shape)

    def _details(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self.subgraph.tensors):  # LiteRT allows -1 among the subgraph outputs
            raise InputError(f"tensor index {index} out of range (the subgraph has {len(self.subgraph.tensors)})")
        return tensor_details(self.subgraph.tensors[index], self._current_shape(self._main, index))

    def get_input_details(self) -> list[dict[str, Any]]:
        return [self._details(i) for i in self.subgraph.inputs]

    def get_output_details(self) -> list[dict[str, Any]]:
        return [self._details(i) for i in self.subgraph.outputs]

    def _subgraph(self, subgraph_index: int) -> Subgraph:
        count = len(self.model.subgraphs)
        if not isinstance(subgraph_index, (int, np.integer)) or not 0 <= int(subgraph_index) < count:
            raise InputError(f"subgraph_index is out of range: {subgraph_index} for the model, "
                             f"which has {count} subgraphs")
        return self.model.subgraphs[int(subgraph_index)]

    def _subgraph_tensor(self, tensor_index: int, subgraph_index: int) -> tuple[Subgraph, Tensor]:
        subgraph = self._subgraph(subgraph_index)
        if not isinstance(tensor_index, (int, np.integer)) or not 0 <= int(tensor_index) < len(subgraph.tensors):
            raise InputError(f"tensor index {tensor_index} out of range (subgraph {subgraph.index} has "
                             f"{len(subgraph.tensors)})")
        return subgraph, subgraph.tensors[int(tensor_index)]

    def _get_tensor_details(self, tensor_index: int, subgraph_index: int = 0) -> dict[str, Any]:
        """LiteRT's (private) one-tensor details; the tensors of a subgraph that ran show their current shape."""
        subgraph, tensor = self._subgraph_tensor(tensor_index, subgraph_index)
        run = self._runs.get(subgraph.index)
        return tensor_details(tensor, self._current_shape(run, tensor.index) if run is not None else None)

    def get_tensor_details(self, subgraph_index: int = 0) -> list[dict[str, Any]]:
        subgraph = self._subgraph(subgraph_index)
        return [self._get_tensor_details(i, subgraph.index) for i in range(len(subgraph.tensors))]

    def num_subgraphs(self) -> int:
        return len(self.model.subgraphs)

    def _get_op_details(self, op_index: int) -> dict[str, Any]:
        """LiteRT's (experimental) operator dict: index, op_name, inputs, outputs, operand_types, result_types."""
        operators = self.subgraph.operators
        if not isinstance(op_index, (int, np.integer)) or not 0 <= int(op_index) < len(operators):
            raise InputError(f"operator index {op_index} out of range (the subgraph has {len(operators)})")
        op = operators[int(op_index)]

        def dtypes(indices: Sequence[int]) -> list[Any]:
            return [self._details(i)["dtype"] for i in indices if i != -1]

        name = op.custom_code if op.custom_code is not None else op.name  # LiteRT names a custom op by its code
        return {"index": int(op_index), "op_name": name, "inputs": np.array(op.inputs, dtype=np.int32),
                "outputs": np.array(op.outputs, dtype=np.int32), "operand_types": dtypes(op.inputs),
                "result_types": dtypes(op.outputs)}

    def _get_ops_details(self) -> list[dict[str, Any]]:
        """LiteRT's (experimental) list of operator dicts, in execution order."""
        return [self._get_op_details(i) for i in range(len(self.subgraph.operators))]

    def get_signature_list(self) -> dict[str, dict[str, list[str]]]:
        return {s.key: {"inputs": list(s.inputs), "outputs": list(s.outputs)} for s in self.model.signature_defs}

    def get_signature_runner(self, signature_key: str | None = None) -> SignatureRunner:
        signatures = self.model.signature_defs
        if signature_key is None:
            if len(signatures) != 1:
                raise InputError(f"SignatureDef signature_key is None and model has {len(signatures)} Signatures. "
                                 f"None is only allowed when the model has 1 SignatureDef"
                                 + (f" (it has {', '.join(s.key for s in signatures)})" if signatures else ""))
            signature_key = signatures[0].key
        return SignatureRunner(interpreter=self, signature_key=signature_key)

    def _for_subgraph(self, subgraph_index: int) -> Interpreter:
        """This interpreter when it runs that subgraph, else a new one on the same model and options."""
        if subgraph_index == self.subgraph.index:
            return self
        return Interpreter(model_content=self.model._buffer, num_threads=self.num_threads, profile=self.profile,
                           kernels=self.kernels, subgraph_index=subgraph_index, progress=self.progress,
                           max_tensor_bytes=self.max_tensor_bytes, max_total_bytes=self.max_total_bytes,
                           max_while_iterations=self.max_while_iterations)

    # -------------------------------------------------------------------------------- values

    def set_tensor(self, tensor_index: int, value: Any) -> None:
        tensor = self._tensor(tensor_index)
        if tensor.is_constant:
            raise InputError(f"tensor {tensor.index} {_name(tensor)} is a constant of the model")
        value = np.asarray(value)
        if tensor.dtype is None or value.dtype != tensor.dtype:
            raise InputError(f"tensor {tensor.index} {_name(tensor)} expects {tensor.type_name}, got {value.dtype}")
        expected = self._main.input_shapes.get(tensor.index, tensor.shape)
        if value.shape != expected:
            raise InputError(f"tensor {tensor.index} {_name(tensor)} expects shape {_shape(expected)}, "
                             f"got {_shape(value.shape)}")
        stored = np.array(value, copy=True)
        stored.flags.writeable = False
        self._main.values[tensor.index] = stored

    def resize_tensor_input(self, input_index: int, tensor_size: Sequence[int], strict: bool = False) -> None:
        """LiteRT API: give an input of the model a new shape; the graph is prepared again for it at the next
        allocate_tensors() (or invoke()), every shape following from it as the operators' rules compute them.

        ``strict=True`` (LiteRT's ResizeInputTensorStrict) changes only the dimensions the input's shape
        signature leaves unknown (-1). Either way the shapes computed downstream must fit the shape signatures
        the model declares: a dimension declared static (not -1) that would change is refused at
        allocate_tensors() with the operator and the tensor."""
        tensor = self._tensor(input_index)
        if tensor.index not in self.subgraph.inputs:
            raise InputError(f"tensor {input_index} {_name(tensor)} is not an input of the model")
        if isinstance(tensor_size, np.ndarray):
            tensor_size = tensor_size.tolist()
        if isinstance(tensor_size, (str, bytes)) or not isinstance(tensor_size, Sequence) or not all(
                isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in tensor_size):
            raise InputError(f"resize_tensor_input: the shape must be a list of ints, got {shown(tensor_size, 60)}")
        shape = tuple(int(d) for d in tensor_size)
        if any(d < 0 for d in shape):
            raise InputError(f"resize_tensor_input: input {input_index} {_name(tensor)}: shape {_shape(shape)} has "
                             "a negative dimension")
        if strict:
            signature = _SubgraphRun.signature_of(tensor)
            if len(shape) != len(signature) or any(s != -1 and s != d for s, d in zip(signature, shape)):
                # interpreter.cc ResizeInputTensorStrict: only the dimensions identified by -1 may change
                raise InputError(f"resize_tensor_input(strict=True): input {input_index} {_name(tensor)} has shape "
                                 f"signature {_shape(signature)}: only its -1 dimensions may change, not to "
                                 f"{_shape(shape)}")
        current = self._main.input_shapes.get(tensor.index, tensor.shape)
        if shape == current:
            return  # LiteRT: an unchanged shape leaves the plan as it is
        if shape == tensor.shape:
            self._main.input_shapes.pop(tensor.index, None)
        else:
            self._main.input_shapes[tensor.index] = shape
        self._main.values[tensor.index] = None  # its old value no longer fits: set it again
        self._main.prepared = None

    def tensor(self, tensor_index: int) -> Callable[[], np.ndarray]:
        """LiteRT API: a function that returns a NumPy view (no copy) of the tensor's current value.

        As with LiteRT, an input's view is writable: fill it in place (``interpreter.tensor(i)().fill(3)``),
        then ``invoke()``. invoke() runs on a snapshot of the inputs, so call the function again for a fresh
        view after each invoke (LiteRT forbids holding the array across invoke). Every other tensor's view is
        read-only: refinterp never writes a kernel's output or a constant in place.
        """
        index = self._tensor(tensor_index).index
        return lambda: self._tensor_view(index)

    def _tensor_view(self, index: int) -> np.ndarray:
        tensor = self.subgraph.tensors[index]
        values = self._main.values
        value = values[index]
        if index in self.subgraph.inputs and not tensor.is_constant and tensor.dtype is not None:
            if value is None:  # LiteRT's buffer exists once allocated; its contents are unspecified
                value = np.zeros(self._main.input_shapes.get(index, tensor.shape), dtype=tensor.dtype)
            elif not value.flags.writeable:
                value = np.array(value, copy=True)
            values[index] = value
            return value
        if value is None or tensor.type_name == "resource":
            raise InputError(f"tensor {index} {_name(tensor)} has no value yet: set the inputs and invoke()"
                             if value is None else self._handle_message(tensor))
        return value

    @staticmethod
    def _handle_message(tensor: Tensor) -> str:
        return (f"tensor {tensor.index} {_name(tensor)} is a resource handle, not data (LiteRT cannot read it "
                "either): read the variable's value where READ_VARIABLE outputs it")

    def get_tensor(self, tensor_index: int, subgraph_index: int = 0) -> np.ndarray:
        """A copy of any tensor's current value: inputs, constants, intermediates, outputs, in any subgraph
        that ran (``subgraph_index`` as in LiteRT: the model's subgraph number; a subgraph that ran several
        times in one invoke, a WHILE body say, holds the values of its last run)."""
        if subgraph_index == 0 and self.subgraph.index == 0:
            subgraph, tensor = self.subgraph, self._tensor(tensor_index)
        else:
            subgraph, tensor = self._subgraph_tensor(tensor_index, subgraph_index)
        run = self._runs.get(subgraph.index)
        value = run.values[tensor.index] if run is not None else tensor.data
        if tensor.type_name == "resource":
            raise InputError(self._handle_message(tensor))
        if value is None:
            where = f" of subgraph {subgraph.index}" if subgraph.index != 0 else ""
            raise InputError(f"tensor {tensor.index} {_name(tensor)}{where} has no value yet: set the inputs and "
                             "invoke()" + (" (its subgraph has not run)" if run is None else ""))
        return np.array(value, copy=True)

    def tensor_values(self, subgraph_index: int | None = None) -> dict[int, np.ndarray]:
        """Every tensor of a subgraph that has a value, by index (read-only arrays, no copies); resource handles
        are left out. Default: the subgraph the interpreter runs (subgraph 0 unless told otherwise)."""
        index = self.subgraph.index if subgraph_index is None else self._subgraph(subgraph_index).index
        run = self._runs.get(index)
        if run is None:
            return {t.index: t.data for t in self.model.subgraphs[index].tensors if t.data is not None}
        tensors = run.subgraph.tensors
        return {i: v for i, v in enumerate(run.values) if v is not None and tensors[i].type_name != "resource"}

    def subgraphs_run(self) -> list[int]:
        """The indices of the subgraphs this interpreter has prepared or run, in increasing order."""
        return sorted(self._runs)

    # -------------------------------------------------------------------------------- running

    def invoke(self) -> None:
        prepared_ops = self._require_allocated()
        del prepared_ops
        # numba's thread count belongs to the calling thread, not to this interpreter: set it every time
        numba.set_num_threads(self.num_threads)
        values = self._main.values
        for index in self.subgraph.inputs:
            value = values[index]
            if value is None:
                tensor = self.subgraph.tensors[index]
                raise InputError(f"input tensor {index} {_name(tensor)} was not set (set_tensor before invoke)")
            if value.flags.writeable:  # filled in place through tensor(): run on a snapshot no one can change
                value = np.array(value, copy=True)
                value.flags.writeable = False
                values[index] = value
        self._running.append(self.subgraph.index)
        try:
            self._main.invoke()
        finally:
            self._running.clear()
            self._preparing.clear()

    def run_operator(self, op_index: int, inputs: Sequence[np.ndarray | None]) -> list[np.ndarray]:
        """Run one operator of the entry subgraph on given input values (compare --isolate): nothing stored.
        The values must have the shapes and dtypes the operator was prepared for."""
        prepared_ops = self._require_allocated()
        if not 0 <= op_index < len(prepared_ops):
            raise InputError(f"operator index {op_index} out of range (the subgraph has {len(prepared_ops)})")
        prepared = prepared_ops[op_index]
        values = list(inputs)
        main = self._main
        if prepared.deferred:  # prepared for the shapes given, as invoke would
            shapes = dict(main.planned_shapes)
            shapes.update({i: v.shape for i, v in zip(prepared.op.inputs, values)
                           if i >= 0 and isinstance(v, np.ndarray)})
            try:
                prepared = main.prepare_operator(prepared.op, shapes)
            except PrepareError as exc:
                raise InputError(str(exc)) from None
        main.check_inputs(prepared, values, InputError)
        assert main.planned_budget is not None
        expected = main.expected_shapes(prepared, values, False, main.planned_shapes, main.planned_budget.copy())
        self._running.append(self.subgraph.index)
        try:
            return main.run_kernel(prepared, values, expected)[0]
        finally:
            self._running.clear()

    def reset_all_variables(self) -> None:
        """LiteRT API: every variable tensor (the state of LSTM, RNN and SVDF) of every subgraph back to its
        initial value: the zero point for int8, zero bytes otherwise (tensor_utils.cc ResetVariableTensor: a
        variable's buffer data is not used). As in LiteRT, resource variables (VAR_HANDLE) keep their values
        and CALL_ONCE does not run its init subgraph again: only ``is_variable`` tensors are reset."""
        for run in self._runs.values():
            run.reset_variables()


class SignatureRunner:
    """LiteRT's SignatureRunner: call with the signature's input names, get a dict by output name.

    ``SignatureRunner(interpreter, signature_key)`` as in LiteRT (usually through
    ``Interpreter.get_signature_runner``). ``allocate_tensors()`` and ``invoke(**inputs)`` follow LiteRT's
    C++ SignatureRunner (AllocateTensors, Invoke); ``invoke(**inputs)`` is the same as calling the runner.
    """

    def __init__(self, interpreter: Interpreter | None = None, signature_key: str | None = None):
        if not interpreter:
            raise InputError("None interpreter provided.")
        if not signature_key:
            raise InputError("None signature_key provided.")
        signature = next((s for s in interpreter.model.signature_defs if s.key == signature_key), None)
        if signature is None:
            keys = ", ".join(s.key for s in interpreter.model.signature_defs) or "none"
            raise InputError(f'Invalid signature_key provided: "{signature_key}" (the model has: {keys})')
        self._signature_key = signature_key
        self._interpreter = interpreter._for_subgraph(signature.subgraph_index)
        self._inputs = dict(signature.inputs)
        self._outputs = dict(signature.outputs)

    def get_input_details(self) -> dict[str, dict[str, Any]]:
        return {name: self._interpreter._details(i) for name, i in self._inputs.items()}

    def get_output_details(self) -> dict[str, dict[str, Any]]:
        return {name: self._interpreter._details(i) for name, i in self._outputs.items()}

    def allocate_tensors(self) -> None:
        self._interpreter.allocate_tensors()

    def invoke(self, **inputs: Any) -> dict[str, np.ndarray]:
        missing = set(self._inputs) - set(inputs)
        extra = set(inputs) - set(self._inputs)
        if missing or extra:
            raise InputError(f"signature {self._signature_key!r} inputs are {sorted(self._inputs)}; "
                             f"missing {sorted(missing)}, unexpected {sorted(extra)}")
        self._interpreter.allocate_tensors()
        for name, value in inputs.items():
            self._interpreter.set_tensor(self._inputs[name], value)
        self._interpreter.invoke()
        subgraph_index = self._interpreter.subgraph.index
        return {name: self._interpreter.get_tensor(i, subgraph_index) for name, i in self._outputs.items()}

    def __call__(self, **inputs: Any) -> dict[str, np.ndarray]:
        return self.invoke(**inputs)

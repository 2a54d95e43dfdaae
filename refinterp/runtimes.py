"""Runtime adapters: "run this model on these inputs and give me every tensor".

Every adapter returns a :class:`RunResult` holding the value of every tensor of subgraph 0 that the
runtime can give after ``invoke`` (inputs, activations, outputs; constants may be included) and the
outputs in the model's subgraph-0 output order. :func:`get_runtime` builds one from a spec string:

==================  ==========================================================================================
spec                what runs
==================  ==========================================================================================
``litert-ref``      LiteRT (ai-edge-litert) with ``OpResolverType.BUILTIN_REF``: the reference kernels, no
                    delegate. This is the runtime refinterp is bit-exact against by default.
``litert``          LiteRT with ``BUILTIN_WITHOUT_DEFAULT_DELEGATES``: the optimized builtin kernels.
``xnnpack``         LiteRT with ``AUTO`` (the default XNNPACK delegate applied),
                    ``experimental_disable_delegate_node_fusion=True`` so that every delegated operator is
                    its own delegate node and writes its output tensor.
``tflm``            TensorFlow Lite Micro (tflite-micro) with ``kPreserveAllTensors``; the arena size is
                    found automatically.
``golden:DIR``      the tensors stored in a golden DIR (see :mod:`refinterp.golden`) for the case whose
                    inputs equal the given ones.
``refinterp``       refinterp's own :class:`refinterp.Interpreter`.
``delegate:PATH``   LiteRT with the delegate library PATH (``load_delegate``) and all tensors preserved.
==================  ==========================================================================================

All LiteRT-based adapters pass ``experimental_preserve_all_tensors=True``: without it the arena planner
reuses activation memory and intermediate tensors read back as garbage.

What each runtime gives, measured on golden/yolov3_tiny_int8.tflite (see golden/README.md):
litert-ref, litert and tflm return every tensor; xnnpack delegates 33 of the 34 operators (not
RESIZE_NEAREST_NEIGHBOR), one delegate node per operator, and every intermediate is written (checked:
each MAX_POOL_2D output equals the max-pool of its LEAKY_RELU input as xnnpack wrote it).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from refinterp.errors import InputError, RefinterpError, RuntimeUnavailableError

RUNTIME_NAMES = ("litert-ref", "litert", "xnnpack", "tflm", "golden:DIR", "refinterp", "delegate:PATH.so")

LITERT_PACKAGE = "ai-edge-litert"
TFLM_PACKAGE = "tflite-micro"


@dataclass
class RunResult:
    """What one run of a model gave."""

    #: every tensor index of subgraph 0 the runtime could give after invoke -> its value (a copy)
    tensors: dict[int, np.ndarray]
    #: the model's outputs, in subgraph-0 output order
    outputs: list[np.ndarray]
    #: wall-clock seconds of the invoke call alone (no loading, no tensor copies)
    invoke_seconds: float | None = field(default=None, compare=False)


@runtime_checkable
class Runtime(Protocol):
    name: str

    def version(self) -> str: ...

    def run(self, model_path: str, inputs: list[np.ndarray]) -> RunResult: ...


# --------------------------------------------------------------------------------------------------
# Helpers shared by the adapters


def _package_version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        raise RuntimeUnavailableError(
            f"the {distribution} package is not installed: pip install {distribution}"
        ) from None


def _import_litert_interpreter(runtime_name: str) -> Any:
    try:
        from ai_edge_litert import interpreter as litert_interpreter
    except ImportError as exc:
        raise RuntimeUnavailableError(
            f"runtime {runtime_name!r} needs the {LITERT_PACKAGE} package: pip install {LITERT_PACKAGE} ({exc})"
        ) from None
    return litert_interpreter


def _import_tflm_runtime() -> Any:
    try:
        from tflite_micro.python.tflite_micro import runtime as tflm_runtime
    except ImportError as exc:
        raise RuntimeUnavailableError(
            f"runtime 'tflm' needs the {TFLM_PACKAGE} package: pip install {TFLM_PACKAGE} ({exc})"
        ) from None
    return tflm_runtime


def _load_model(model_path: str | os.PathLike) -> Any:
    """The parsed model (refinterp.model), used to validate inputs and bound tensor indices."""
    from refinterp.model import load_model

    return load_model(model_path)


def check_inputs(model: Any, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The inputs as arrays, after checking count, shape and dtype against subgraph 0's inputs.

    No runtime is allowed to resize or cast: a golden must be made from exactly the tensors the model
    declares, so anything else is an :class:`InputError`.
    """
    if isinstance(inputs, np.ndarray) or not isinstance(inputs, Sequence):
        raise InputError(f"inputs must be a list of arrays (one per model input), got {type(inputs).__name__}")
    subgraph = model.subgraphs[0]
    if len(inputs) != len(subgraph.inputs):
        raise InputError(f"the model has {len(subgraph.inputs)} input(s), {len(inputs)} given")
    checked = []
    for position, (tensor_index, value) in enumerate(zip(subgraph.inputs, inputs, strict=True)):
        tensor = subgraph.tensors[tensor_index]
        if not isinstance(value, np.ndarray):
            raise InputError(f"input {position} must be a numpy array, got {type(value).__name__}")
        if tensor.dtype is None or value.dtype != tensor.dtype:
            raise InputError(f"input {position} (tensor {tensor_index} '{tensor.name}') expects "
                             f"{tensor.type_name}, got {value.dtype}")
        if tuple(value.shape) != tuple(tensor.shape):
            raise InputError(f"input {position} (tensor {tensor_index} '{tensor.name}') expects shape "
                             f"{list(tensor.shape)}, got {list(value.shape)}")
        checked.append(np.ascontiguousarray(value))
    return checked


def _outputs_of(model: Any, tensors: dict[int, np.ndarray], runtime_name: str) -> list[np.ndarray]:
    outputs = []
    for tensor_index in model.subgraphs[0].outputs:
        if tensor_index not in tensors:
            raise RefinterpError(f"{runtime_name} gave no value for output tensor {tensor_index}")
        outputs.append(tensors[tensor_index])
    return outputs


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# --------------------------------------------------------------------------------------------------
# LiteRT (ai-edge-litert): litert-ref, litert, xnnpack, delegate:PATH


class LiteRTRuntime:
    """ai_edge_litert.interpreter.Interpreter with one op resolver and all tensors preserved."""

    def __init__(self, name: str, resolver: str, *, num_threads: int | None = None,
                 disable_delegate_node_fusion: bool = False, delegate_path: str | None = None,
                 delegate_options: dict[str, Any] | None = None):
        self.name = name
        self.resolver = resolver  # an OpResolverType member name
        self.num_threads = num_threads
        self.disable_delegate_node_fusion = disable_delegate_node_fusion
        self.delegate_path = delegate_path
        self.delegate_options = delegate_options

    def version(self) -> str:
        version = f"{LITERT_PACKAGE} {_package_version(LITERT_PACKAGE)}"
        if self.delegate_path is not None:
            version += f" + delegate {self.delegate_path}"
        return version

    def _make_interpreter(self, litert: Any, model_path: str) -> Any:
        options: dict[str, Any] = {
            "experimental_op_resolver_type": getattr(litert.OpResolverType, self.resolver),
            # Without this the arena planner reuses activation buffers and intermediates read as garbage.
            "experimental_preserve_all_tensors": True,
        }
        if self.num_threads is not None:
            options["num_threads"] = self.num_threads
        if self.disable_delegate_node_fusion:
            # One delegate node per operator, so each delegated op writes its own output tensor.
            options["experimental_disable_delegate_node_fusion"] = True
        if self.delegate_path is not None:
            try:
                delegate = litert.load_delegate(self.delegate_path, self.delegate_options)
            except (ValueError, RuntimeError, OSError) as exc:
                raise RuntimeUnavailableError(
                    f"cannot load delegate {self.delegate_path}: {_one_line(exc)}") from None
            options["experimental_delegates"] = [delegate]
        with warnings.catch_warnings():
            # LiteRT warns that preserve_all_tensors is for debugging: that is exactly our use.
            warnings.simplefilter("ignore")
            try:
                interpreter = litert.Interpreter(model_path=str(model_path), **options)
                interpreter.allocate_tensors()
            except (ValueError, RuntimeError) as exc:
                raise RefinterpError(f"{self.name} cannot load {model_path}: {_one_line(exc)}") from None
        return interpreter

    def run(self, model_path: str, inputs: list[np.ndarray]) -> RunResult:
        model = _load_model(model_path)
        arrays = check_inputs(model, inputs)
        litert = _import_litert_interpreter(self.name)
        interpreter = self._make_interpreter(litert, model_path)
        try:
            for detail, value in zip(interpreter.get_input_details(), arrays, strict=True):
                interpreter.set_tensor(detail["index"], value)
            started = time.perf_counter()
            interpreter.invoke()
            invoke_seconds = time.perf_counter() - started
        except (ValueError, RuntimeError) as exc:
            raise RefinterpError(f"{self.name} failed to run {model_path}: {_one_line(exc)}") from None
        tensors: dict[int, np.ndarray] = {}
        # Only the model's own tensors: LiteRT appends kernel temporaries (im2col, ...) after them.
        for tensor_index in range(len(model.subgraphs[0].tensors)):
            try:
                value = interpreter.get_tensor(tensor_index)
            except ValueError:  # no data: e.g. a tensor the delegate kept internal
                continue
            tensors[tensor_index] = np.array(value, copy=True)
        return RunResult(tensors, _outputs_of(model, tensors, self.name), invoke_seconds)


# --------------------------------------------------------------------------------------------------
# TensorFlow Lite Micro


@contextlib.contextmanager
def _native_stderr_captured() -> Iterator[list[str]]:
    """Capture file descriptor 2 while TFLM runs: it prints why it failed there, not in the exception.

    The list yielded receives the captured text when the block ends ("Failed to resize buffer" means the
    arena was too small; "Didn't find op for builtin opcode" an operator TFLM lacks).
    """
    captured: list[str] = []
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr (embedded interpreter): nothing to capture
        yield captured
        return
    with tempfile.TemporaryFile() as sink:
        try:
            os.dup2(sink.fileno(), 2)
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            captured.append(sink.read().decode("utf-8", errors="replace"))


class TFLMRuntime:
    """tflite_micro.runtime.Interpreter with kPreserveAllTensors (GetTensor works for every index)."""

    name = "tflm"
    #: the largest arena tried before giving up
    MAX_ARENA_BYTES = 8 << 30

    def __init__(self, *, arena_size: int | None = None):
        self.arena_size = arena_size
        self._arena_by_model: dict[tuple[str, int, int], int] = {}

    def version(self) -> str:
        return f"{TFLM_PACKAGE} {_package_version(TFLM_PACKAGE)}"

    @staticmethod
    def _arena_estimate(model: Any) -> int:
        # kPreserveAllTensors gives every non-constant tensor its own slice of the arena; add the
        # 16-byte alignment of each, plus room for kernel scratch and persistent buffers (per-channel
        # multipliers and shifts): those stay small next to the activations.
        activations = sum(((t.nbytes + 15) // 16) * 16 for t in model.subgraphs[0].tensors if not t.is_constant)
        return int(activations * 1.25) + (1 << 20)

    def _interpreter(self, tflm: Any, model: Any, model_path: str) -> Any:
        stat = os.stat(model_path)
        key = (os.path.abspath(model_path), stat.st_size, stat.st_mtime_ns)
        arena = self.arena_size or self._arena_by_model.get(key) or self._arena_estimate(model)
        config = tflm.InterpreterConfig.kPreserveAllTensors
        last_error: BaseException | None = None
        while arena <= self.MAX_ARENA_BYTES:
            native_messages: list[str] = []
            try:
                with _native_stderr_captured() as native_messages:
                    # The keyword really is spelled "intrepreter_config" in tflite-micro.
                    interpreter = tflm.Interpreter.from_file(model_path, arena_size=arena, intrepreter_config=config)
            except RuntimeError as exc:
                native = " ".join(" ".join(native_messages).split())
                last_error = RuntimeError(f"{exc}: {native}" if native else str(exc))
                # Grow the arena only when it was too small; any other failure (a missing operator) is final.
                if self.arena_size or "Failed to resize buffer" not in native:
                    break
                arena = int(arena * 1.5)
                continue
            except ValueError as exc:
                raise RefinterpError(f"tflm cannot load {model_path}: {_one_line(exc)}") from None
            self._arena_by_model[key] = arena
            return interpreter
        raise RefinterpError(f"tflm could not allocate tensors for {model_path} (arena {arena} bytes): "
                             f"{_one_line(last_error) if last_error else 'unknown error'}")

    def run(self, model_path: str, inputs: list[np.ndarray]) -> RunResult:
        model = _load_model(model_path)
        arrays = check_inputs(model, inputs)
        tflm = _import_tflm_runtime()
        interpreter = self._interpreter(tflm, model, str(model_path))
        try:
            for position, value in enumerate(arrays):
                interpreter.set_input(value, position)
            started = time.perf_counter()
            interpreter.invoke()
            invoke_seconds = time.perf_counter() - started
        except (ValueError, RuntimeError) as exc:
            raise RefinterpError(f"tflm failed to run {model_path}: {_one_line(exc)}") from None
        tensors: dict[int, np.ndarray] = {}
        # GetTensor on an index past the subgraph's tensor count crashes the process: stay in range.
        for tensor_index in range(len(model.subgraphs[0].tensors)):
            try:
                found = interpreter.GetTensor(tensor_index, 0)
            except (ValueError, RuntimeError):
                continue
            data = found.get("tensor_data") if isinstance(found, dict) else found
            if data is None:
                continue
            tensors[tensor_index] = np.array(data, copy=True)
        return RunResult(tensors, _outputs_of(model, tensors, self.name), invoke_seconds)


# --------------------------------------------------------------------------------------------------
# refinterp itself


class RefinterpRuntime:
    """refinterp.Interpreter through its LiteRT drop-in API (get_tensor works for every index)."""

    name = "refinterp"

    def __init__(self, **interpreter_options: Any):
        self.interpreter_options = interpreter_options  # e.g. profile="tflm", kernels="spec", num_threads=1

    def version(self) -> str:
        import refinterp

        return f"refinterp {refinterp.__version__}"

    def run(self, model_path: str, inputs: list[np.ndarray]) -> RunResult:
        from refinterp.interpreter import Interpreter

        model = _load_model(model_path)
        arrays = check_inputs(model, inputs)
        interpreter = Interpreter(model_path=str(model_path), **self.interpreter_options)
        interpreter.allocate_tensors()
        for detail, value in zip(interpreter.get_input_details(), arrays, strict=True):
            interpreter.set_tensor(detail["index"], value)
        started = time.perf_counter()
        interpreter.invoke()
        invoke_seconds = time.perf_counter() - started
        tensors: dict[int, np.ndarray] = {}
        for detail in interpreter.get_tensor_details():
            try:
                tensors[int(detail["index"])] = np.array(interpreter.get_tensor(detail["index"]), copy=True)
            except RefinterpError:  # a tensor with no value (an unused optional, say)
                continue
        return RunResult(tensors, _outputs_of(model, tensors, self.name), invoke_seconds)


# --------------------------------------------------------------------------------------------------
# golden:DIR


class GoldenRuntime:
    """The stored tensors of a golden DIR, for the case whose inputs equal the given ones."""

    def __init__(self, golden_dir: str | os.PathLike):
        self.golden_dir = Path(golden_dir)
        self.name = f"golden:{golden_dir}"

    def version(self) -> str:
        from refinterp.golden import load_golden

        golden = load_golden(self.golden_dir)
        return f"golden {self.golden_dir} ({golden.runtime} / {golden.runtime_version})"

    def run(self, model_path: str, inputs: list[np.ndarray]) -> RunResult:
        from refinterp.golden import load_golden, sha256_of_file

        golden = load_golden(self.golden_dir)
        digest = sha256_of_file(model_path)
        if digest != golden.model_sha256:
            raise RefinterpError(f"golden {self.golden_dir} was made from a model with sha256 "
                                 f"{golden.model_sha256[:12]}..., {model_path} has {digest[:12]}...")
        model = _load_model(model_path)
        arrays = check_inputs(model, inputs)
        case = golden.find_case(arrays)
        if case is None:
            raise RefinterpError(f"no case of golden {self.golden_dir} has these inputs "
                                 f"(cases: {', '.join(c.name for c in golden.cases)})")
        tensors = case.tensors()
        return RunResult(tensors, [tensors[i] for i in case.output_indices], None)


# --------------------------------------------------------------------------------------------------


def get_runtime(spec: str, **kw: Any) -> Runtime:
    """The runtime named by ``spec`` (one of :data:`RUNTIME_NAMES`); ``kw`` goes to its constructor.

    Accepted keywords: ``num_threads`` (LiteRT-based), ``arena_size`` (tflm), ``delegate_options``
    (delegate:PATH), anything refinterp.Interpreter accepts (refinterp: ``profile``, ``kernels``,
    ``num_threads``).
    """
    if not isinstance(spec, str):
        raise RefinterpError(f"runtime spec must be a string, got {type(spec).__name__}")

    def reject_unknown(allowed: set[str]) -> None:
        unknown = set(kw) - allowed
        if unknown:
            raise RefinterpError(f"runtime {spec!r} does not take option(s) {', '.join(sorted(unknown))}")

    if spec == "litert-ref":
        reject_unknown({"num_threads"})
        return LiteRTRuntime("litert-ref", "BUILTIN_REF", **kw)
    if spec == "litert":
        reject_unknown({"num_threads"})
        return LiteRTRuntime("litert", "BUILTIN_WITHOUT_DEFAULT_DELEGATES", **kw)
    if spec == "xnnpack":
        reject_unknown({"num_threads"})
        return LiteRTRuntime("xnnpack", "AUTO", disable_delegate_node_fusion=True, **kw)
    if spec == "tflm":
        reject_unknown({"arena_size"})
        return TFLMRuntime(**kw)
    if spec == "refinterp":
        return RefinterpRuntime(**kw)
    if spec.startswith("golden:"):
        reject_unknown(set())
        golden_dir = spec[len("golden:"):]
        if not golden_dir:
            raise RefinterpError("golden:DIR needs a directory, e.g. golden:golden/yolov3_tiny_int8")
        return GoldenRuntime(golden_dir)
    if spec.startswith("delegate:"):
        reject_unknown({"num_threads", "delegate_options"})
        library = spec[len("delegate:"):]
        if not library:
            raise RefinterpError("delegate:PATH needs the path of a delegate library, e.g. delegate:./libdelegate.so")
        if not os.path.isfile(library):
            raise RuntimeUnavailableError(f"delegate library {library} does not exist")
        return LiteRTRuntime(f"delegate:{library}", "BUILTIN_WITHOUT_DEFAULT_DELEGATES", delegate_path=library, **kw)
    raise RefinterpError(f"unknown runtime {spec!r}; choose one of {', '.join(RUNTIME_NAMES)}")

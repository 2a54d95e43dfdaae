"""What every runtime adapter shares: the result type, the protocol, input checks, package imports."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from refinterp.errors import InputError, RefinterpError, RuntimeUnavailableError

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
    #: the tensors of the other subgraphs (those CALL_ONCE, WHILE and IF ran): (subgraph, tensor index) -> value
    subgraph_tensors: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)


@runtime_checkable
class Runtime(Protocol):
    name: str

    def version(self) -> str: ...

    def run(self, model_path: str, inputs: list[np.ndarray]) -> RunResult: ...

    def run_series(self, model_path: str, series: list[list[np.ndarray]]) -> list[RunResult]:
        """One interpreter invoked once per input list, in order (state such as LSTM/SVDF variables and resource
        variables carries from one invoke to the next); what it held after each invoke."""
        ...






def package_version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        raise RuntimeUnavailableError(
            f"the {distribution} package is not installed: pip install {distribution}"
        ) from None


def import_litert_interpreter(runtime_name: str) -> Any:
    try:
        from ai_edge_litert import interpreter as litert_interpreter
    except ImportError as exc:
        raise RuntimeUnavailableError(
            f"runtime {runtime_name!r} needs the {LITERT_PACKAGE} package: pip install {LITERT_PACKAGE} ({exc})"
        ) from None
    return litert_interpreter


def import_tflm_runtime() -> Any:
    try:
        from tflite_micro.python.tflite_micro import runtime as tflm_runtime
    except ImportError as exc:
        raise RuntimeUnavailableError(
            f"runtime 'tflm' needs the {TFLM_PACKAGE} package: pip install {TFLM_PACKAGE} ({exc})"
        ) from None
    return tflm_runtime


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
        checked.append(np.ascontiguousarray(value).reshape(value.shape))  # ascontiguousarray makes a 0-d array 1-d
    return checked


def outputs_of(model: Any, tensors: dict[int, np.ndarray], runtime_name: str) -> list[np.ndarray]:
    outputs = []
    for tensor_index in model.subgraphs[0].outputs:
        if tensor_index not in tensors:
            raise RefinterpError(f"{runtime_name} gave no value for output tensor {tensor_index}")
        outputs.append(tensors[tensor_index])
    return outputs


def result_of_tensors(model: Any, values: dict[tuple[int, int], np.ndarray], invoke_seconds: float | None,
                      runtime_name: str) -> RunResult:
    """The RunResult of the (subgraph, tensor) -> value a runtime gave after one invoke."""
    tensors = {index: value for (subgraph, index), value in values.items() if subgraph == 0}
    others = {key: value for key, value in values.items() if key[0] != 0}
    return RunResult(tensors, outputs_of(model, tensors, runtime_name), invoke_seconds, others)


def has_values(tensor: Any) -> bool:
    """A tensor a runtime can give a value of: not a resource or variant handle (LiteRT's get_tensor crashes on
    those; refinterp's refuses them)."""
    return tensor.dtype is not None


def undefined_tensors(model: Any) -> set[tuple[int, int]]:
    """(subgraph, tensor) pairs whose value LiteRT leaves undefined: the inputs of a WHILE condition subgraph
    that no operator reads (while.cc calls RemoveUnusedInputs: nothing is ever copied into them)."""
    undefined = set()
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            index = op.options.get("cond_subgraph_index") if op.name == "WHILE" else None
            if isinstance(index, int) and 0 <= index < len(model.subgraphs):
                cond = model.subgraphs[index]
                read = {i for cond_op in cond.operators for i in cond_op.inputs}
                undefined |= {(index, i) for i in cond.inputs if i >= 0 and i not in read}
    return undefined


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__

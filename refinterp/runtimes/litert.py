"""LiteRT (ai-edge-litert): ``litert-ref``, ``litert``, ``xnnpack`` and ``delegate:PATH``."""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from refinterp.errors import RefinterpError, RuntimeUnavailableError
from refinterp.model import load_model
from refinterp.runtimes.base import (
    LITERT_PACKAGE,
    RunResult,
    check_inputs,
    has_values,
    import_litert_interpreter,
    one_line,
    package_version,
    result_of_tensors,
    undefined_tensors,
)


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
        version = f"{LITERT_PACKAGE} {package_version(LITERT_PACKAGE)}"
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
                    f"cannot load delegate {self.delegate_path}: {one_line(exc)}") from None
            options["experimental_delegates"] = [delegate]
        with warnings.catch_warnings():
            # LiteRT warns that preserve_all_tensors is for debugging: that is exactly our use.
            warnings.simplefilter("ignore")
            try:
                interpreter = litert.Interpreter(model_path=str(model_path), **options)
                interpreter.allocate_tensors()
            except (ValueError, RuntimeError) as exc:
                raise RefinterpError(f"{self.name} cannot load {model_path}: {one_line(exc)}") from None
        return interpreter

    def delegated_operators(self, model_path: str) -> list[bool]:
        """Which operators of subgraph 0 the delegate takes: with delegate node fusion disabled, LiteRT appends
        one DELEGATE node per delegated operator, writing that operator's outputs."""
        if not self.disable_delegate_node_fusion:
            raise RefinterpError(f"{self.name} fuses delegated operators into one node: which operators it took "
                                 "cannot be told apart")
        interpreter = self._make_interpreter(import_litert_interpreter(self.name), model_path)
        ops = [op for op in interpreter._get_ops_details() if op["op_name"] != "DELEGATE"]
        written: set[int] = set()
        for node in range(len(ops), interpreter._interpreter.NumNodes()):
            written.update(int(t) for t in interpreter._interpreter.NodeOutputs(node))
        return [any(int(t) in written for t in op["outputs"]) for op in ops]

    def run(self, model_path: str, inputs: list[np.ndarray]) -> RunResult:
        return self.run_series(model_path, [inputs])[0]

    def run_series(self, model_path: str, series: list[list[np.ndarray]]) -> list[RunResult]:
        model = load_model(model_path)
        litert = import_litert_interpreter(self.name)
        interpreter = self._make_interpreter(litert, model_path)
        # Only the model's own tensors: LiteRT appends kernel temporaries (im2col, ...) after them. Never a
        # resource or variant tensor: get_tensor on one crashes the process. Nor a tensor LiteRT never writes.
        undefined = undefined_tensors(model)
        results = []
        for inputs in series:
            arrays = check_inputs(model, inputs)
            try:
                for detail, value in zip(interpreter.get_input_details(), arrays, strict=True):
                    interpreter.set_tensor(detail["index"], value)
                started = time.perf_counter()
                interpreter.invoke()
                invoke_seconds = time.perf_counter() - started
            except (ValueError, RuntimeError) as exc:
                raise RefinterpError(f"{self.name} failed to run {model_path}: {one_line(exc)}") from None
            found: dict[tuple[int, int], np.ndarray] = {}
            for subgraph in model.subgraphs:
                for tensor in subgraph.tensors:
                    if not has_values(tensor) or (subgraph.index, tensor.index) in undefined:
                        continue
                    try:
                        value = interpreter.get_tensor(tensor.index, subgraph.index)
                    except ValueError:  # no data: a tensor the delegate kept internal, a WHILE output no one reads
                        continue
                    found[subgraph.index, tensor.index] = np.array(value, copy=True)
            results.append(result_of_tensors(model, found, invoke_seconds, self.name))
        return results

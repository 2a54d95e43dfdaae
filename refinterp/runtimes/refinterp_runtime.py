"""refinterp's own Interpreter as a runtime (``refinterp``)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from refinterp.errors import RefinterpError
from refinterp.interpreter import Interpreter
from refinterp.model import load_model
from refinterp.runtimes.base import (
    RunResult,
    check_inputs,
    outputs_of,
)


class RefinterpRuntime:
    """refinterp.Interpreter through its LiteRT drop-in API (get_tensor works for every index)."""

    name = "refinterp"

    def __init__(self, **interpreter_options: Any):
        self.interpreter_options = interpreter_options  # e.g. profile="tflm", kernels="spec", num_threads=1

    def version(self) -> str:
        import refinterp

        return f"refinterp {refinterp.__version__}"

    def run(self, model_path: str, inputs: list[np.ndarray]) -> RunResult:
        return self.run_series(model_path, [inputs])[0]

    def run_series(self, model_path: str, series: list[list[np.ndarray]]) -> list[RunResult]:
        model = load_model(model_path)
        interpreter = Interpreter(model_path=str(model_path), **self.interpreter_options)
        interpreter.allocate_tensors()
        results = []
        for inputs in series:
            arrays = check_inputs(model, inputs)
            for detail, value in zip(interpreter.get_input_details(), arrays, strict=True):
                interpreter.set_tensor(detail["index"], value)
            started = time.perf_counter()
            interpreter.invoke()
            invoke_seconds = time.perf_counter() - started
            tensors: dict[int, np.ndarray] = {}
            for detail in interpreter.get_tensor_details():
                try:
                    tensors[int(detail["index"])] = np.array(interpreter.get_tensor(detail["index"]), copy=True)
                except RefinterpError:  # a tensor with no value (an unused optional, a resource handle)
                    continue
            others = {(subgraph, index): np.array(value, copy=True)
                      for subgraph in interpreter.subgraphs_run() if subgraph != 0
                      for index, value in interpreter.tensor_values(subgraph).items()}
            results.append(RunResult(tensors, outputs_of(model, tensors, self.name), invoke_seconds, others))
        return results

"""The float side: a float model (twin or shadow) run by refinterp's float32 kernels, or by LiteRT BUILTIN_REF."""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path

import numpy as np

from refinterp.errors import UnsupportedOpError
from refinterp.interpreter import Interpreter
from refinterp.model import Subgraph, parse_model
from refinterp.runtimes import get_runtime


def litert_available() -> bool:
    """ai-edge-litert is installed (the float side's fallback for ops refinterp has no float32 kernel for)."""
    return importlib.util.find_spec("ai_edge_litert") is not None


class FloatReference:
    """Runs the float model on each case and gives every tensor's value.

    refinterp's float32 kernels run it when they cover every operator; otherwise LiteRT's BUILTIN_REF
    kernels do (from a temporary .tflite, removed by :meth:`close`), and :attr:`note` says so.
    """

    def __init__(self, model_bytes: bytes, label: str, kind: str):
        self.model = parse_model(model_bytes)
        self.label = label
        self.kind = kind  # "float twin" or "float shadow"
        self.runtime = "refinterp"
        self.note = ""
        self._bytes = model_bytes
        self._path: str | None = None
        self._interpreter: Interpreter | None = Interpreter(model_content=model_bytes)
        try:
            self._interpreter.allocate_tensors()
        except UnsupportedOpError as exc:
            self._interpreter = None
            if not litert_available():
                raise UnsupportedOpError(f"{kind}: {exc}; install ai-edge-litert to run the float side on "
                                         f"LiteRT's reference kernels instead") from None
            self.runtime = "litert-ref"
            self.note = (f"the {kind} needs an operator refinterp has no float32 kernel for ({exc}): "
                         f"its float side ran on LiteRT BUILTIN_REF")

    @property
    def subgraph(self) -> Subgraph:
        return self.model.main

    def run(self, inputs: list[np.ndarray]) -> dict[int, np.ndarray]:
        if self._interpreter is not None:
            for index, value in zip(self.subgraph.inputs, inputs):
                self._interpreter.set_tensor(index, value)
            self._interpreter.invoke()
            return self._interpreter.tensor_values()
        if self._path is None:
            handle, self._path = tempfile.mkstemp(suffix=".tflite", prefix="refinterp-qerror-")
            with os.fdopen(handle, "wb") as f:
                f.write(self._bytes)
        return get_runtime("litert-ref").run(self._path, inputs).tensors

    def close(self) -> None:
        if self._path is not None:
            Path(self._path).unlink(missing_ok=True)
            self._path = None

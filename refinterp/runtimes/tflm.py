"""TensorFlow Lite Micro (tflite-micro): ``tflm``."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from refinterp.errors import RefinterpError
from refinterp.model import load_model
from refinterp.runtimes.base import (
    TFLM_PACKAGE,
    RunResult,
    check_inputs,
    has_values,
    import_tflm_runtime,
    one_line,
    package_version,
    result_of_tensors,
)


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
        return f"{TFLM_PACKAGE} {package_version(TFLM_PACKAGE)}"

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
                raise RefinterpError(f"tflm cannot load {model_path}: {one_line(exc)}") from None
            self._arena_by_model[key] = arena
            return interpreter
        raise RefinterpError(f"tflm could not allocate tensors for {model_path} (arena {arena} bytes): "
                             f"{one_line(last_error) if last_error else 'unknown error'}")

    def run(self, model_path: str, inputs: list[np.ndarray]) -> RunResult:
        return self.run_series(model_path, [inputs])[0]

    def run_series(self, model_path: str, series: list[list[np.ndarray]]) -> list[RunResult]:
        model = load_model(model_path)
        tflm = import_tflm_runtime()
        interpreter = self._interpreter(tflm, model, str(model_path))
        results = []
        for inputs in series:
            arrays = check_inputs(model, inputs)
            try:
                for position, value in enumerate(arrays):
                    interpreter.set_input(value, position)
                started = time.perf_counter()
                interpreter.invoke()
                invoke_seconds = time.perf_counter() - started
            except (ValueError, RuntimeError) as exc:
                raise RefinterpError(f"tflm failed to run {model_path}: {one_line(exc)}") from None
            values: dict[tuple[int, int], np.ndarray] = {}
            # GetTensor on an index past the subgraph's tensor count crashes the process: stay in range; and skip
            # resource handles, which hold no data.
            for subgraph in model.subgraphs:
                for tensor in subgraph.tensors:
                    if not has_values(tensor):
                        continue
                    try:
                        found = interpreter.GetTensor(tensor.index, subgraph.index)
                    except (ValueError, RuntimeError):
                        continue
                    data = found.get("tensor_data") if isinstance(found, dict) else found
                    if data is None:
                        continue
                    values[subgraph.index, tensor.index] = np.array(data, copy=True)
            results.append(result_of_tensors(model, values, invoke_seconds, self.name))
        return results

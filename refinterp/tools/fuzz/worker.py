"""The child side of the fuzzer: one long-lived process per runtime, each running one mutant at a time.

A worker is started by the campaign (``multiprocessing`` forkserver context, so the parent's state, threads
and numba thread pools never leak into it), limits its own address space (``RLIMIT_AS``), sends its stderr to a
file the parent reads after a crash, and then answers jobs from its pipe:

* role ``"refinterp"``: ``refinterp.Interpreter(model_content=...)``, ``allocate_tensors``, seeded inputs,
  ``invoke``, outputs; optionally with line coverage of the ``refinterp`` package (tools excluded);
* role ``"litert"``: the same on ``ai_edge_litert`` with ``OpResolverType.BUILTIN_REF``.

The result is a plain dict: ``status`` ("ok", "refused", "traceback", "oom", "skipped"), ``stage`` ("load",
"prepare", "inputs", "invoke", "outputs"), the exception's type and message, and a summary of each output.
A crash (signal) or hang is not reported by the worker: the parent sees the pipe close or the deadline pass.
"""

from __future__ import annotations

import hashlib
import os
import resource
import signal
import sys
import time
import traceback
from typing import Any

import numpy as np

import refinterp
from refinterp.errors import KernelError, RefinterpError
from refinterp.interpreter import Interpreter
from refinterp.io import seeded_inputs

try:  # imported here so that the forkserver preloads it; the campaign refuses to start without it
    from ai_edge_litert.interpreter import Interpreter as LiteRTInterpreter
    from ai_edge_litert.interpreter import OpResolverType
except ImportError:  # pragma: no cover - reported by the campaign
    LiteRTInterpreter = None
    OpResolverType = None

#: inputs larger than this in total are not generated (the harness would be the one allocating)
MAX_INPUT_BYTES = 64 << 20
MAX_WHILE_ITERATIONS = 10_000
#: outputs up to this size travel back whole (for the comparison's detail); larger ones as digests
MAX_OUTPUT_BYTES = 4 << 20

_PACKAGE_DIR = os.path.dirname(os.path.abspath(refinterp.__file__)) + os.sep
_TOOLS_DIR = os.path.join(_PACKAGE_DIR, "tools") + os.sep
#: lines this worker has already reported: each job sends only the new ones
_REPORTED_LINES: set[tuple[str, int]] = set()


class LineCoverage:
    """Lines of the refinterp package (tools excluded) executed while active, as "relative/path.py:line"."""

    def __init__(self) -> None:
        self.lines: set[tuple[str, int]] = set()

    def _global(self, frame: Any, event: str, arg: Any) -> Any:
        filename = frame.f_code.co_filename
        if filename.startswith(_PACKAGE_DIR) and not filename.startswith(_TOOLS_DIR):
            return self._local
        return None

    def _local(self, frame: Any, event: str, arg: Any) -> Any:
        if event == "line":
            self.lines.add((frame.f_code.co_filename, frame.f_lineno))
        return self._local

    def __enter__(self) -> LineCoverage:
        sys.settrace(self._global)
        return self

    def __exit__(self, *exc: Any) -> None:
        sys.settrace(None)


def _memory_kib(field: str) -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _reset_peak() -> None:
    try:  # Linux: writing 5 resets VmHWM, the peak resident set size
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def summarize_outputs(outputs: list[np.ndarray]) -> list[dict[str, Any]]:
    summaries = []
    for value in outputs:
        # (not np.ascontiguousarray: it makes a 0-d output 1-d, which hid a scalar's shape and its unwritten mask)
        value = np.asarray(value)
        value = value if value.flags.c_contiguous else value.copy(order="C")
        summaries.append({
            "dtype": str(value.dtype), "shape": [int(d) for d in value.shape],
            "sha256": hashlib.sha256(value.tobytes()).hexdigest(),
            "array": value if value.nbytes <= MAX_OUTPUT_BYTES else None,
        })
    return summaries


def _input_arrays(details: list[dict[str, Any]], seed: int) -> list[np.ndarray] | None:
    specs = [(tuple(int(d) for d in detail["shape"]), detail["dtype"]) for detail in details]
    total = 0
    for shape, dtype in specs:
        itemsize = np.dtype(dtype).itemsize if dtype is not None else 1
        total += int(np.prod(shape, dtype=np.float64)) * itemsize
    if total > MAX_INPUT_BYTES:
        return None
    return seeded_inputs(specs, seed)


def _run_hook(hook: str | None) -> None:
    """Test hooks: make the child misbehave on purpose, to test the parent's classification."""
    if hook == "abort":
        os.abort()
    elif hook == "sleep":
        time.sleep(3600)
    elif hook == "memory":
        np.ones(1 << 40, np.uint8)  # a MemoryError under RLIMIT_AS
    elif hook == "raise":
        raise ZeroDivisionError("test hook")


def _innermost_refinterp_frame(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        if frame.filename.startswith(_PACKAGE_DIR) and not frame.filename.startswith(_TOOLS_DIR):
            return f"{os.path.relpath(frame.filename, os.path.dirname(_PACKAGE_DIR[:-1]))}:{frame.lineno} {frame.name}"
    return frames[-1].name if frames else "?"


def run_refinterp(job: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"status": "ok", "stage": "load"}
    coverage = LineCoverage() if job.get("coverage") else None
    started = time.perf_counter()
    rss_before = _memory_kib("VmRSS")
    _reset_peak()
    try:
        if coverage is not None:
            coverage.__enter__()
        _run_hook(job.get("hook"))
        # a WHILE whose condition a mutation made never false: refinterp's limit stops it (and says so) well
        # inside the time limit; LiteRT, which has none, then hangs (a litert-crash, not refinterp's)
        interpreter = Interpreter(model_content=job["content"], num_threads=1,
                                  max_while_iterations=MAX_WHILE_ITERATIONS)
        result["stage"] = "prepare"
        # variable tensors (LSTM/SVDF state) are allocated by allocate_tensors at their declared size, as
        # LiteRT does: a file that declares a large one is a large input, not a huge allocation
        if sum(t.nbytes for t in interpreter.subgraph.tensors if t.is_variable) > MAX_INPUT_BYTES:
            result.update(status="skipped", message="variable tensors larger than the harness allows")
            return result
        interpreter.allocate_tensors()
        result["stage"] = "inputs"
        details = interpreter.get_input_details()
        inputs = _input_arrays(details, job["input_seed"])
        if inputs is None:
            result.update(status="skipped", message="inputs larger than the harness generates")
            return result
        for detail, value in zip(details, inputs):
            interpreter.set_tensor(detail["index"], value)
        result["stage"] = "invoke"
        interpreter.invoke()
        result["stage"] = "outputs"
        result["outputs"] = summarize_outputs([interpreter.get_tensor(d["index"])
                                               for d in interpreter.get_output_details()])
    except RefinterpError as exc:
        cause = exc.__cause__
        if isinstance(cause, MemoryError):
            result.update(status="oom", error=type(cause).__name__, message=str(exc))
        else:
            result.update(status="refused", error=type(exc).__name__, message=str(exc),
                          kernel_error=isinstance(exc, KernelError),
                          cause=type(cause).__name__ if cause is not None else None)
    except MemoryError as exc:
        result.update(status="oom", error=type(exc).__name__, message=str(exc))
    except Exception as exc:  # noqa: BLE001 - anything that is not a RefinterpError is the finding
        result.update(status="traceback", error=type(exc).__name__, message=str(exc),
                      where=_innermost_refinterp_frame(exc),
                      traceback="".join(traceback.format_exception(exc))[-4000:])
    finally:
        if coverage is not None:
            coverage.__exit__()
            new_lines = coverage.lines - _REPORTED_LINES
            _REPORTED_LINES.update(new_lines)
            result["coverage"] = new_lines
        result["seconds"] = time.perf_counter() - started
        result["peak_growth_bytes"] = max(0, _memory_kib("VmHWM") - rss_before) * 1024
    return result


def _fill_outputs(interpreter: Any, byte: int) -> None:
    """Fill the outputs with one byte pattern before invoke (where the API lets us), so that elements the
    kernel never writes show up as differences between two runs. Only outputs that an operator writes and
    nothing reads: a model output may also be a model input, a constant or an operator's input (mutants make
    such files), and filling those would change what LiteRT computes."""
    try:
        ops = interpreter._get_ops_details()
    except Exception:  # noqa: BLE001 - without the graph, fill nothing
        return
    written = {int(i) for op in ops for i in op["outputs"]}
    read = {int(i) for op in ops for i in op["inputs"]} | {int(d["index"]) for d in interpreter.get_input_details()}
    for detail in interpreter.get_output_details():
        if int(detail["index"]) not in written or int(detail["index"]) in read:
            continue
        try:
            shape, dtype = tuple(detail["shape"]), np.dtype(detail["dtype"])
            pattern = np.full(int(np.prod(shape)) * dtype.itemsize, byte, np.uint8).view(dtype).reshape(shape)
            interpreter.set_tensor(detail["index"], pattern)
        except Exception:  # noqa: BLE001 - an unallocated, dynamic or string output: leave it as it is
            continue


def _mark_unwritten(summaries: list[dict[str, Any]], outputs: list[np.ndarray], content: bytes, resolver: Any,
                    inputs: list[np.ndarray]) -> None:
    """Run the model once more in a fresh interpreter, its outputs filled with another pattern: elements that
    differ between the two runs were never written by LiteRT's kernel (e.g. TFLite_Detection_PostProcess leaves
    the slots past num_detections as the arena held them). They are undefined, and the classifier does not
    compare them; the summary records them as ``unwritten`` (a boolean mask)."""
    try:
        again = LiteRTInterpreter(model_content=content, experimental_op_resolver_type=resolver, num_threads=1)
        again.allocate_tensors()
        for detail, value in zip(again.get_input_details(), inputs):
            again.set_tensor(detail["index"], value)
        _fill_outputs(again, 0xA5)
        again.invoke()
        second = [again.get_tensor(d["index"]) for d in again.get_output_details()]
    except Exception:  # noqa: BLE001 - the first run decides refusals; the second only marks unwritten elements
        return
    for summary, first, other in zip(summaries, outputs, second):
        if first.shape != other.shape or first.dtype != other.dtype:
            continue
        # byte views of the flattened copies, back in the output's own shape (a 0-d output included)
        a = np.array(first).reshape(-1).view(np.uint8).reshape(*first.shape, first.dtype.itemsize)
        b = np.array(other).reshape(-1).view(np.uint8).reshape(*other.shape, other.dtype.itemsize)
        unwritten = np.any(a != b, axis=-1)
        if unwritten.any():
            summary["unwritten"] = unwritten


def run_litert(job: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"status": "ok", "stage": "load"}
    started = time.perf_counter()
    try:
        content = job["content"]
        resolver = OpResolverType.BUILTIN_REF
        try:
            interpreter = LiteRTInterpreter(model_content=content, experimental_op_resolver_type=resolver,
                                            num_threads=1)
        except ValueError as exc:
            # A few operators (CEIL, ROUND, ELU) are only in LiteRT's builtin resolver: refinterp follows that
            # resolver's kernels for them, so the fuzzer does too (without its default XNNPACK delegate).
            if "Didn't find op for builtin opcode" not in str(exc):
                raise
            resolver = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
            interpreter = LiteRTInterpreter(model_content=content, num_threads=1,
                                            experimental_op_resolver_type=resolver)
            result["resolver"] = "BUILTIN_WITHOUT_DEFAULT_DELEGATES"
        result["stage"] = "prepare"
        interpreter.allocate_tensors()
        result["stage"] = "inputs"
        details = interpreter.get_input_details()
        inputs = _input_arrays(details, job["input_seed"])
        if inputs is None:
            result.update(status="skipped", message="inputs larger than the harness generates")
            return result
        for detail, value in zip(details, inputs):
            interpreter.set_tensor(detail["index"], value)
        _fill_outputs(interpreter, 0x5A)
        result["stage"] = "invoke"
        interpreter.invoke()
        result["stage"] = "outputs"
        outputs = [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]
        result["outputs"] = summarize_outputs(outputs)
        _mark_unwritten(result["outputs"], outputs, content, resolver, inputs)
    except MemoryError as exc:
        result.update(status="oom", error=type(exc).__name__, message=str(exc))
    except UnicodeDecodeError as exc:  # the Python wrapper cannot decode a tensor name: not the runtime's refusal
        result.update(status="unreadable", error=type(exc).__name__, message=str(exc))
    except Exception as exc:  # noqa: BLE001 - LiteRT reports refusals as ValueError/RuntimeError
        result.update(status="refused", error=type(exc).__name__, message=str(exc))
    finally:
        result["seconds"] = time.perf_counter() - started
    return result


def _setup(settings: dict[str, Any]) -> None:
    memory = int(settings.get("memory_bytes") or 0)
    if memory > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # crashes are expected: no core files
    stderr_path = settings.get("stderr_path")
    if stderr_path:
        fd = os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        os.dup2(fd, 2)
        os.close(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def worker_main(conn: Any, role: str, settings: dict[str, Any]) -> None:
    """The worker loop: receive a job dict, answer with a result dict; ``None`` ends the loop."""
    _setup(settings)
    # Ctrl-C reaches the whole process group: the parent ends the run, the workers finish their mutant
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    run = run_refinterp if role == "refinterp" else run_litert
    conn.send({"ready": True, "pid": os.getpid()})
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        try:
            os.ftruncate(2, 0)  # stderr of this job only, for the crash report
        except OSError:
            pass
        conn.send(run(job))

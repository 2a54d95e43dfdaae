"""``refinterp bench``: refinterp's speed next to the official runtimes, on one model or on many, in one run.

One model (``--model``, default the golden YOLOv3-tiny), in order:

1. Picks the input: the golden DIR's ``random`` case when the model has one beside it, else seeded random.
2. Runs refinterp once (compiling or loading its numba kernels) and compares **every tensor** with the exact
   oracle (:func:`verify_refinterp`): LiteRT BUILTIN_REF; where LiteRT refuses the model, TFLite Micro (and
   refinterp's ``tflm`` profile), as ``benchmarks/corpus_table.py`` decides; without ai-edge-litert, the
   golden DIR beside the model. Any difference: it reports nothing and exits 1.
3. Measures refinterp's peak memory with tracemalloc (numba's allocations go through Python's raw allocator,
   so they are counted) from model load to the end of the first invoke, next to the model's tensor sizes.
4. Optionally (``--startup``) times the start-up in fresh processes: cold (an empty numba cache directory,
   new for the probe: everything compiles) and warm (the same directory again: the cache is loaded): import,
   load, allocate and the first invoke.
5. Warms every runtime up, then invokes them in turn (refinterp, LiteRT BUILTIN_REF, LiteRT optimized
   builtin, LiteRT + XNNPACK, TFLM) ``--runs`` times, alternating one invoke each, so that they share the
   machine's noise; median, min and max of the invoke call alone, and each median's ratio to refinterp's.
   The turns are cut into ``--rounds`` consecutive groups: the largest over the smallest of the per-round
   medians is the run-to-run spread. ``--processes N`` also times refinterp alone in N fresh processes (warm
   numba cache): the largest over the smallest of their medians is the process-to-process spread.
6. Writes JSON and a markdown table (with the machine: CPU model and features, the CONV_2D backend and why,
   cores, load average, versions).

Many models (``--models DIR_OR_FILE ...``; directories are searched recursively for ``*.tflite``): steps 1,
2, 3 and 5 for each model, one after the other, each in a fresh process (``--in-process``: all in this one),
so that a runtime that crashes on one model (LiteRT does on some models with resource variables) is
reported for that model and the run goes on. A model refinterp refuses is reported as unsupported with
the operator (before any oracle runs it); one that no exact oracle runs is reported as not verified; one
whose tensors differ is reported as a mismatch (and the exit status is 1); none of these is timed. The table
gives each timed model's medians, the ratio of each runtime's median to refinterp's, and the geometric mean
of each ratio over the timed models.

LiteRT runs in its normal mode (no preserve-all-tensors, so its arenas are reused); TFLM with
kPreserveAllTensors (refinterp's TFLM adapter; it only changes where tensors live). refinterp always keeps
every tensor. A runtime that is not installed is reported as "not installed"; one that cannot load or run
the model as "cannot run: REASON".
"""

from __future__ import annotations

import contextlib
import datetime
import gc
import json
import math
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numba
import numpy as np

from refinterp.errors import (
    InputError,
    ModelFormatError,
    RefinterpError,
    RuntimeUnavailableError,
    UnsupportedOpError,
)
from refinterp.interpreter import Interpreter
from refinterp.io import load_golden, model_input_specs, seeded_inputs
from refinterp.model import load_model
from refinterp.ops.fast.conv import BACKEND_ENV, backend_unavailable, explain_backend
from refinterp.runtimes import get_runtime
from refinterp.runtimes.tflm import TFLMRuntime, import_tflm_runtime
from refinterp.tools.arguments import EXIT_MISMATCH, EXIT_OK, ArgumentParser

DEFAULT_MODEL = "golden/yolov3_tiny_int8.tflite"

#: the contenders, in the order they are invoked in every turn
RUNTIMES = ("refinterp", "litert-ref", "litert", "xnnpack", "tflm")
LABELS = {
    "refinterp": "refinterp (fast kernels)",
    "litert-ref": "LiteRT BUILTIN_REF",
    "litert": "LiteRT optimized builtin",
    "xnnpack": "LiteRT + XNNPACK",
    "tflm": "TFLite Micro",
}
SHORT_LABELS = {"refinterp": "refinterp", "litert-ref": "BUILTIN_REF", "litert": "optimized",
                "xnnpack": "XNNPACK", "tflm": "TFLM"}
#: a pause after each other runtime's invoke, before the next runtime's: the thread pools of LiteRT (ruy,
#: pthreadpool) spin-wait for a moment after a parallel region, and should not compete with the next invoke
PAUSE_BETWEEN_RUNTIMES_S = 0.002
#: environment variables that change what is measured; recorded in the header
RECORDED_ENV = ("REFINTERP_CONV_BACKEND", "NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES", "NUMBA_CACHE_DIR",
                "NUMBA_NUM_THREADS", "NUMBA_THREADING_LAYER", "OMP_WAIT_POLICY", "OMP_NUM_THREADS")


@dataclass
class Timing:
    name: str
    label: str
    status: str = "ok"  # "ok", "not installed", or "cannot run: <reason>"
    version: str = ""
    threads: int | None = None
    seconds: list[float] = field(default_factory=list)
    #: the round (group of consecutive turns) of each entry of ``seconds``
    round_of: list[int] = field(default_factory=list)

    def round_medians(self) -> list[float]:
        by_round: dict[int, list[float]] = {}
        for r, s in zip(self.round_of, self.seconds):
            by_round.setdefault(r, []).append(s)
        return [statistics.median(v) for _, v in sorted(by_round.items())]

    def summary(self, reference_median: float | None) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "label": self.label, "status": self.status,
                               "version": self.version, "threads": self.threads}
        if self.seconds:
            median = statistics.median(self.seconds)
            rounds = self.round_medians()
            out.update(runs=len(self.seconds), median_ms=median * 1e3, min_ms=min(self.seconds) * 1e3,
                       max_ms=max(self.seconds) * 1e3, round_medians_ms=[r * 1e3 for r in rounds],
                       round_spread=max(rounds) / min(rounds) if len(rounds) > 1 and min(rounds) > 0 else None,
                       ratio_to_refinterp=(median / reference_median) if reference_median else None)
        return out


# --------------------------------------------------------------------------------------------------
# Machine description

#: the CPU flags (/proc/cpuinfo spelling) that decide which kernels run, for the header
SIMD_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "bmi2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
              "avx512_bf16", "avx_vnni", "amx_int8", "asimd", "asimddp", "sve")


def machine_info() -> dict[str, Any]:
    cpu_model, family, model_number = platform.processor() or "unknown", None, None
    flags: list[str] = []
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = (part.strip() for part in line.partition(":"))
            if key == "model name" and cpu_model in ("unknown", platform.processor()):
                cpu_model = value
            elif key == "cpu family" and family is None:
                family = value
            elif key == "model" and model_number is None:
                model_number = value
            elif key in ("flags", "Features") and not flags:
                flags = value.split()
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpu_model": cpu_model,
        "cpu_family": family,
        "cpu_model_number": model_number,
        "simd_flags": [f for f in SIMD_FLAGS if f in flags],
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": _versions(),
        "environment": {k: os.environ[k] for k in RECORDED_ENV if k in os.environ},
    }
    info.update(_numba_target())
    try:
        info["conv_backend"], info["conv_backend_reason"] = explain_backend()
    except RefinterpError as exc:
        info["conv_backend"], info["conv_backend_reason"] = "error", str(exc)
    return info


def _numba_target() -> dict[str, Any]:
    """LLVM's name of the host CPU, what numba compiles for, and the host features NUMBA_CPU_FEATURES removes."""
    try:
        from llvmlite import binding

        host_name, host_features = binding.get_host_cpu_name(), dict(binding.get_host_cpu_features())
    except Exception:  # noqa: BLE001 - any failure to ask means "unknown"
        host_name, host_features = "unknown", {}
    target = numba.config.CPU_NAME if numba.config.CPU_NAME not in (None, "host") else host_name
    removed: list[str] = []
    if numba.config.CPU_FEATURES:
        asked = {f[1:]: f[0] == "+" for f in numba.config.CPU_FEATURES.split(",") if f[:1] in "+-" and len(f) > 1}
        removed = sorted(f for f, on in host_features.items() if on and not asked.get(f, False))
    return {"llvm_host_cpu": host_name, "numba_target_cpu": target,
            "numba_cpu_features_removed": removed if numba.config.CPU_FEATURES else None}


def _versions() -> dict[str, str]:
    import importlib.metadata

    versions = {}
    for dist in ("refinterp", "numpy", "numba", "llvmlite", "ai-edge-litert", "tflite-micro", "threadpoolctl"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    return versions


# --------------------------------------------------------------------------------------------------
# Inputs and the bit-exactness gate


def golden_dir_of(model_path: Path) -> Path | None:
    candidate = model_path.with_suffix("")
    return candidate if (candidate / "manifest.json").is_file() else None


def bench_inputs(model_path: Path, seed: int) -> tuple[list[np.ndarray], str]:
    golden = golden_dir_of(model_path)
    if golden is not None:
        cases = load_golden(golden).cases
        case = next((c for c in cases if c.name == "random"), cases[0] if cases else None)
        if case is not None:
            return [np.asarray(a) for a in case.inputs()], f"golden case {golden.name}/{case.name}"
    return seeded_inputs(model_input_specs(load_model(model_path)), seed), f"seeded random (seed {seed})"


def _same_bits(expected: np.ndarray, got: np.ndarray) -> bool:
    if expected.shape != got.shape or expected.dtype != got.dtype:
        return False
    if expected.dtype.kind in "fc":  # bit for bit (NaN payloads included), not by value
        return np.ascontiguousarray(expected).tobytes() == np.ascontiguousarray(got).tobytes()
    return bool(np.array_equal(expected, got))


def _reason(exc: BaseException) -> str:
    """A runtime's refusal without the model path (``cannot load PATH: reason``), on one line."""
    text = " ".join(str(exc).split())
    for marker in (".tflite: ", " bytes: "):
        if marker in text:
            text = text.split(marker, 1)[1]
    return text[:160] or type(exc).__name__


def _oracle(model_path: Path, inputs: list[np.ndarray]) -> tuple[dict[int, np.ndarray] | None, str, str, str]:
    """(tensors, against, refinterp profile, why not) of the exact oracle, as benchmarks/corpus_table.py picks
    it: LiteRT BUILTIN_REF; where LiteRT refuses the model, TFLite Micro with refinterp's tflm profile;
    without ai-edge-litert, the golden DIR beside the model. tensors None: no oracle (``why not`` says why)."""
    notes = []
    try:
        return get_runtime("litert-ref").run(str(model_path), inputs).tensors, "LiteRT BUILTIN_REF", "litert-ref", ""
    except RuntimeUnavailableError:
        golden = golden_dir_of(model_path)
        if golden is not None:
            return (get_runtime(f"golden:{golden}").run(str(model_path), inputs).tensors, f"golden {golden}",
                    "litert-ref", "")
        notes.append("ai-edge-litert is not installed and the model has no golden DIR beside it")
    except RefinterpError as exc:
        notes.append(f"LiteRT BUILTIN_REF refuses it ({_reason(exc)})")
    try:
        return get_runtime("tflm").run(str(model_path), inputs).tensors, "TFLite Micro", "tflm", ""
    except RefinterpError as exc:
        notes.append(f"TFLM {'is not installed' if isinstance(exc, RuntimeUnavailableError) else 'refuses it'} "
                     f"({_reason(exc)})")
    return None, "", "", "; ".join(notes)


def verify_refinterp(model_path: Path, inputs: list[np.ndarray], num_threads: int) -> dict[str, Any]:
    """Every tensor of refinterp (fast kernels) against the exact oracle (see :func:`_oracle`).

    ``equal`` is True when at least one tensor was compared and all are bit-identical; ``against`` is None
    (and ``reason`` says why) when no oracle runs the model. refinterp's UnsupportedOpError propagates.
    """
    reference, against, profile, why_not = _oracle(model_path, inputs)
    if reference is None:
        return {"against": None, "profile": None, "reason": why_not, "tensors_compared": 0,
                "differing_tensors": [], "equal": False, "reference_tensors": {}}
    mine = get_runtime("refinterp", num_threads=num_threads, profile=profile).run(str(model_path), inputs)
    compared = 0
    differing = []
    for index, expected in reference.items():
        if index not in mine.tensors:
            continue
        compared += 1
        if not _same_bits(expected, mine.tensors[index]):
            differing.append(int(index))
    return {"against": against, "profile": profile, "tensors_compared": compared, "differing_tensors": differing,
            "equal": compared > 0 and not differing,
            "reference_tensors": {i: v for i, v in reference.items() if i in mine.tensors}}


def unsupported_operator(message: str) -> str:
    """The operator an UnsupportedOpError message names (``OP #index``), else the message's first words."""
    found = re.match(r"operator (\d+)[: (]+'?([A-Za-z0-9_:]+)", message)
    if found:
        return f"{found.group(2)} #{found.group(1)}"
    return " ".join(message.split())[:80]


# --------------------------------------------------------------------------------------------------
# Contenders: each gives a zero-argument invoke() after loading and setting the input


def _refinterp_invoker(model_path: Path, inputs: list[np.ndarray], threads: int,
                       profile: str = "litert-ref") -> tuple[Callable[[], None], Any]:
    interpreter = Interpreter(model_path=str(model_path), num_threads=threads, profile=profile)
    interpreter.allocate_tensors()
    for detail, value in zip(interpreter.get_input_details(), inputs):
        interpreter.set_tensor(detail["index"], value)
    return interpreter.invoke, interpreter


def _litert_invoker(model_path: Path, inputs: list[np.ndarray], resolver: str,
                    threads: int | None) -> Callable[[], None]:
    try:
        from ai_edge_litert import interpreter as litert
    except ImportError as exc:
        raise RuntimeUnavailableError(str(exc)) from None
    options: dict[str, Any] = {"experimental_op_resolver_type": getattr(litert.OpResolverType, resolver)}
    if threads is not None:
        options["num_threads"] = threads
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interpreter = litert.Interpreter(model_path=str(model_path), **options)
    interpreter.allocate_tensors()
    for detail, value in zip(interpreter.get_input_details(), inputs):
        interpreter.set_tensor(detail["index"], value)
    return interpreter.invoke


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """TFLM prints to file descriptor 2 why it refuses a model; the reason is in the exception we report."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as sink:
            os.dup2(sink.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _tflm_invoker(model_path: Path, inputs: list[np.ndarray]) -> Callable[[], None]:
    tflm = import_tflm_runtime()
    interpreter = TFLMRuntime()._interpreter(tflm, load_model(model_path), str(model_path))
    for position, value in enumerate(inputs):
        interpreter.set_input(value, position)
    return interpreter.invoke


def _runtime_version(name: str) -> str:
    versions = _versions()
    if name == "refinterp":
        return f"refinterp {versions['refinterp']}"
    if name == "tflm":
        return f"tflite-micro {versions['tflite-micro']}"
    return f"ai-edge-litert {versions['ai-edge-litert']}"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


# --------------------------------------------------------------------------------------------------
# Peak memory and start-up


def tensor_bytes(model_path: Path) -> dict[str, int]:
    subgraph = load_model(model_path).subgraphs[0]
    activations = sum(t.nbytes for t in subgraph.tensors if not t.is_constant)
    weights = sum(t.nbytes for t in subgraph.tensors if t.is_constant)
    return {"activations": activations, "weights": weights, "file": model_path.stat().st_size}


def measure_peak_memory(model_path: Path, inputs: list[np.ndarray], threads: int,
                        profile: str = "litert-ref") -> dict[str, Any]:
    """tracemalloc peak from Interpreter() to the end of the first invoke (kernels already compiled)."""
    tracemalloc.start()
    try:
        interpreter = Interpreter(model_path=str(model_path), num_threads=threads, profile=profile)
        interpreter.allocate_tensors()
        after_allocate = tracemalloc.get_traced_memory()[0]
        for detail, value in zip(interpreter.get_input_details(), inputs):
            interpreter.set_tensor(detail["index"], value)
        interpreter.invoke()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    sizes = tensor_bytes(model_path)
    budget = 2 * sizes["activations"] + sizes["weights"]
    return {"peak_bytes": peak, "after_allocate_bytes": after_allocate, "after_invoke_bytes": current,
            "activation_bytes": sizes["activations"], "weight_bytes": sizes["weights"],
            "budget_bytes": budget, "within_budget": peak <= budget,
            "budget_rule": "peak <= 2 * (all non-constant tensors) + weights"}


_STARTUP_SCRIPT = r"""
import sys, time
started = time.perf_counter()
import numpy as np
import refinterp
imported = time.perf_counter()
interpreter = refinterp.Interpreter(model_path=sys.argv[1], num_threads=int(sys.argv[2]), profile=sys.argv[3])
interpreter.allocate_tensors()
allocated = time.perf_counter()
for detail, path in zip(interpreter.get_input_details(), sys.argv[4:]):
    interpreter.set_tensor(detail["index"], np.load(path))
interpreter.invoke()
interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
done = time.perf_counter()
print(imported - started, allocated - imported, done - allocated)
"""


def _save_inputs(inputs: list[np.ndarray], directory: str) -> list[str]:
    paths = []
    for k, value in enumerate(inputs):
        path = os.path.join(directory, f"input{k}.npy")
        np.save(path, value)
        paths.append(path)
    return paths


def measure_startup(model_path: Path, inputs: list[np.ndarray], threads: int,
                    profile: str = "litert-ref") -> dict[str, Any]:
    """Fresh processes with a new, empty numba cache directory (cold: compile everything), then the same
    directory again (warm: the kernels are loaded from it). The directory is removed afterwards."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="refinterp-bench-") as tmp:
        input_paths = _save_inputs(inputs, tmp)
        cache_dir = os.path.join(tmp, "numba-cache")
        os.mkdir(cache_dir)  # empty: nothing of an earlier run (or of NUMBA_CACHE_DIR's own value) is reused
        env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
        for phase in ("cold", "warm"):
            cached_files = sum(len(files) for _, _, files in os.walk(cache_dir))
            started = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", _STARTUP_SCRIPT, str(model_path), str(threads), profile,
                                   *input_paths], env=env, capture_output=True, text=True, check=False)
            wall = time.perf_counter() - started
            if proc.returncode != 0:
                raise RefinterpError(f"start-up probe failed: {_one_line(Exception(proc.stderr[-400:]))}")
            import_s, allocate_s, invoke_s = (float(v) for v in proc.stdout.split()[-3:])
            results[phase] = {"process_wall_s": wall, "import_s": import_s, "load_allocate_s": allocate_s,
                              "first_invoke_s": invoke_s, "import_to_first_result_s": import_s + allocate_s + invoke_s,
                              "cache_files_before": cached_files}
    return results


_ALONE_SCRIPT = r"""
import json, sys, time
import numpy as np
import refinterp
model, threads, profile, warmup, runs = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
interpreter = refinterp.Interpreter(model_path=model, num_threads=threads, profile=profile)
interpreter.allocate_tensors()
for detail, path in zip(interpreter.get_input_details(), sys.argv[6:]):
    interpreter.set_tensor(detail["index"], np.load(path))
for _ in range(warmup):
    interpreter.invoke()
seconds = []
for _ in range(runs):
    started = time.perf_counter()
    interpreter.invoke()
    seconds.append(time.perf_counter() - started)
print(json.dumps(seconds))
"""


def measure_processes(model_path: Path, inputs: list[np.ndarray], threads: int, profile: str, processes: int,
                      warmup: int, runs: int) -> dict[str, Any]:
    """refinterp alone in ``processes`` fresh processes, one after the other (numba's cache as it is: warm)."""
    medians = []
    with tempfile.TemporaryDirectory(prefix="refinterp-bench-") as tmp:
        input_paths = _save_inputs(inputs, tmp)
        for _ in range(processes):
            proc = subprocess.run([sys.executable, "-c", _ALONE_SCRIPT, str(model_path), str(threads), profile,
                                   str(max(warmup, 1)), str(runs), *input_paths],
                                  capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise RefinterpError(f"process probe failed: {_one_line(Exception(proc.stderr[-400:]))}")
            medians.append(statistics.median(json.loads(proc.stdout.strip().splitlines()[-1])))
    return {"processes": processes, "runs_each": runs, "medians_ms": [m * 1e3 for m in medians],
            "spread": max(medians) / min(medians) if min(medians) > 0 else None}


# --------------------------------------------------------------------------------------------------
# The other processes: how busy they keep the machine


#: the share of all cores the other processes may keep busy for the machine to count as quiet (--wait-idle)
IDLE_THRESHOLD = 0.15
#: how long the other processes' CPU use is sampled
IDLE_SAMPLE_S = 1.0


def others_cpu_busy(seconds: float | None = None) -> float | None:
    """The share of all cores' time spent busy over ``seconds`` while this process sleeps: what the other
    processes use (None where /proc/stat cannot be read). Unlike the load average, this does not count the
    benchmark's own work of the last minute."""
    def read() -> tuple[int, int]:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
        return sum(values), values[3] + values[4]  # all, idle + iowait

    try:
        total_before, idle_before = read()
        time.sleep(IDLE_SAMPLE_S if seconds is None else seconds)
        total_after, idle_after = read()
    except (OSError, ValueError, IndexError):
        return None
    total = total_after - total_before
    return (total - (idle_after - idle_before)) / total if total > 0 else None


def wait_until_idle(max_wait_s: float, log: Callable[[str], None]) -> dict[str, Any]:
    """Measure the other processes' CPU use; while it is above IDLE_THRESHOLD, wait (up to ``max_wait_s``)."""
    started = time.monotonic()
    while True:
        busy = others_cpu_busy()
        waited = time.monotonic() - started
        if busy is None or busy <= IDLE_THRESHOLD or waited >= max_wait_s:
            if busy is not None and busy > IDLE_THRESHOLD and max_wait_s > 0:
                log(f"  other processes keep {busy:.0%} of the cores busy after {waited:.0f} s: timing anyway")
            return {"others_cpu_busy": busy, "waited_s": waited, "load_average": os.getloadavg()}
        log(f"  other processes keep {busy:.0%} of the cores busy: waiting ...")
        time.sleep(min(20.0, max(0.0, max_wait_s - waited)))


# --------------------------------------------------------------------------------------------------
# The exact conv strategies against each other (--compare-conv)


CONV_STRATEGIES = ("vnni", "avxvnni", "avx2", "blas32", "blas64")


def compare_conv_strategies(model_path: Path, inputs: list[np.ndarray], threads: int, runs: int,
                            expected: dict[int, np.ndarray], profile: str = "litert-ref") -> list[dict[str, Any]]:
    """refinterp with each CONV_2D backend (ops/fast/conv.py): all tensors checked against ``expected``, timed."""
    rows = []
    saved = os.environ.get(BACKEND_ENV)
    try:
        for strategy in CONV_STRATEGIES:
            row: dict[str, Any] = {"strategy": strategy}
            rows.append(row)
            unavailable = backend_unavailable(strategy)
            if unavailable is not None:
                row["status"] = f"not available: {unavailable}"
                continue
            os.environ[BACKEND_ENV] = strategy
            interpreter = Interpreter(model_path=str(model_path), num_threads=threads, profile=profile)
            interpreter.allocate_tensors()
            for detail, value in zip(interpreter.get_input_details(), inputs):
                interpreter.set_tensor(detail["index"], value)
            interpreter.invoke()
            values = interpreter.tensor_values()
            row["equal"] = all(index in values and _same_bits(v, values[index]) for index, v in expected.items())
            totals, convs = [], []
            for _ in range(runs):
                started = time.perf_counter()
                interpreter.invoke()
                totals.append(time.perf_counter() - started)
                convs.append(sum(t for op, t in zip(interpreter.subgraph.operators, interpreter.op_seconds)
                                 if op.name == "CONV_2D"))
            row.update(status="ok", invoke_median_ms=statistics.median(totals) * 1e3,
                       conv_median_ms=statistics.median(convs) * 1e3)
    finally:
        if saved is None:
            os.environ.pop(BACKEND_ENV, None)
        else:
            os.environ[BACKEND_ENV] = saved
    return rows


# --------------------------------------------------------------------------------------------------
# Timing: every runtime, alternating


def time_runtimes(model_path: Path, inputs: list[np.ndarray], threads: int, runtimes: Sequence[str], runs: int,
                  warmup: int, rounds: int, profile: str = "litert-ref", budget_s: float | None = None,
                  log: Callable[[str], None] = print) -> dict[str, Any]:
    """Load every runtime, warm it up, then ``runs`` turns of one invoke each (in ``runtimes`` order).

    ``budget_s``: a runtime whose invoke takes longer than ``budget_s / runs`` is invoked only
    ``budget_s / (its first invoke's time)`` times (at least once), and warmed up once (TFLM takes 30 s and
    more per invoke of the largest models); its row says how many invokes it had.

    Returns the runtime summaries (ratios to refinterp's median), refinterp's per-operator medians and their
    sum per operator type, and the time refinterp spends outside its operators (the interpreter loop).
    """
    timings: dict[str, Timing] = {}
    invokers: dict[str, Callable[[], None]] = {}
    refinterp_interpreter = None
    for name in runtimes:
        timing = Timing(name, LABELS[name])
        timings[name] = timing
        try:
            timing.version = _runtime_version(name)
            if name == "refinterp":
                invokers[name], refinterp_interpreter = _refinterp_invoker(model_path, inputs, threads, profile)
                timing.threads = threads
            elif name == "litert-ref":
                invokers[name] = _litert_invoker(model_path, inputs, "BUILTIN_REF", None)
                timing.threads = 1  # the reference kernels are single-threaded
            elif name == "litert":
                invokers[name] = _litert_invoker(model_path, inputs, "BUILTIN_WITHOUT_DEFAULT_DELEGATES", threads)
                timing.threads = threads
            elif name == "xnnpack":
                invokers[name] = _litert_invoker(model_path, inputs, "AUTO", threads)  # XNNPACK applied
                timing.threads = threads
            elif name == "tflm":
                with _quiet_stderr():
                    invokers[name] = _tflm_invoker(model_path, inputs)
                timing.threads = 1
        except (RuntimeUnavailableError, ImportError):
            timing.status = "not installed"
        except Exception as exc:  # noqa: BLE001 - a runtime that cannot run the model is reported, not fatal
            timing.status = f"cannot run: {_reason(exc)}"

    limits = {name: runs for name in invokers}

    def cap(name: str, elapsed: float) -> None:
        """A runtime slower than ``budget_s / runs`` per invoke gets fewer timed invokes (at least one)."""
        if budget_s and elapsed > 0:
            limits[name] = min(limits[name], max(1, int(budget_s / elapsed)))

    for name, invoke in list(invokers.items()):
        try:
            for k in range(warmup):
                started = time.perf_counter()
                invoke()
                elapsed = time.perf_counter() - started
                if k == 0:
                    cap(name, elapsed)
                if budget_s and elapsed * (warmup + limits[name]) > budget_s:
                    break  # a slow runtime has nothing to compile: one warm-up invoke is enough
        except Exception as exc:  # noqa: BLE001
            timings[name].status = f"cannot run: {_reason(exc)}"
            del invokers[name]
    rounds = max(1, min(rounds, runs))
    capped = [f"{n} {limits[n]}" for n in invokers if limits[n] < runs]
    log(f"  timing {', '.join(invokers)}: {runs} turns, alternating"
        + (f" (time budget: {', '.join(capped)} invokes)" if capped else "") + " ...")
    op_turns: list[list[float]] = []
    for turn in range(runs):
        for name, invoke in invokers.items():
            timing = timings[name]
            if len(timing.seconds) >= limits[name]:
                continue
            started = time.perf_counter()
            invoke()
            elapsed = time.perf_counter() - started
            timing.seconds.append(elapsed)
            timing.round_of.append(turn * rounds // runs)
            if not warmup and len(timing.seconds) == 1:
                cap(name, elapsed)
            if name == "refinterp":
                op_turns.append(list(refinterp_interpreter.op_seconds))
            elif PAUSE_BETWEEN_RUNTIMES_S:
                time.sleep(PAUSE_BETWEEN_RUNTIMES_S)

    refinterp_timing = timings.get("refinterp")
    reference = statistics.median(refinterp_timing.seconds) if refinterp_timing and refinterp_timing.seconds \
        else None
    per_op = []
    if op_turns and refinterp_interpreter is not None:
        medians = np.median(np.array(op_turns), axis=0)
        for op, seconds in zip(refinterp_interpreter.subgraph.operators, medians):
            per_op.append({"index": op.index, "op": op.name, "median_ms": float(seconds) * 1e3})
        # outside the operators: the loop's own bookkeeping, per turn, then its median
        outside = [total - sum(ops) for total, ops in zip(refinterp_timing.seconds, op_turns)]
        outside_ms: float | None = statistics.median(outside) * 1e3
    else:
        outside_ms = None
    by_type: dict[str, float] = {}
    for row in per_op:
        by_type[row["op"]] = by_type.get(row["op"], 0.0) + row["median_ms"]
    invokers.clear()
    return {
        "runtimes": [timings[name].summary(reference) for name in runtimes],
        "refinterp_per_op": per_op,
        "refinterp_per_op_type_ms": dict(sorted(by_type.items(), key=lambda kv: -kv[1])),
        "refinterp_outside_operators_ms": outside_ms,
    }


# --------------------------------------------------------------------------------------------------
# One model (the golden model by default)


def _check_counts(runs: int, warmup: int, rounds: int, processes: int) -> None:
    if runs < 1 or warmup < 0 or rounds < 1 or processes < 0:
        raise InputError("--runs and --rounds must be at least 1, --warmup and --processes at least 0")


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def run_benchmark(model_path: Path, runs: int = 10, warmup: int = 2, threads: int | None = None,
                  seed: int = 0, runtimes: Sequence[str] = RUNTIMES, startup: bool = False,
                  compare_conv: bool = False, rounds: int = 5, processes: int = 0, budget_s: float | None = None,
                  wait_idle_s: float = 0.0, log: Callable[[str], None] = print) -> dict[str, Any]:
    if not model_path.is_file():
        raise InputError(f"{model_path}: no such model file")
    _check_counts(runs, warmup, rounds, processes)
    threads = threads or os.cpu_count() or 1
    load_before = os.getloadavg()
    inputs, input_source = bench_inputs(model_path, seed)

    log(f"checking every tensor of refinterp against the reference on {input_source} ...")
    verification = verify_refinterp(model_path, inputs, threads)
    if verification["against"] is None:
        raise RefinterpError(f"cannot verify refinterp on {model_path}: {verification['reason']}")
    profile = verification.get("profile") or "litert-ref"
    if not verification["equal"]:
        verification.pop("reference_tensors", None)
        return {"verification": verification, "refused": True}
    log(f"  equal: {verification['tensors_compared']} tensors against {verification['against']}")
    conv_strategies = None
    reference_tensors = verification.pop("reference_tensors", {})
    if compare_conv or startup:  # timings too: the machine should be as quiet for them as for the main one
        wait_until_idle(wait_idle_s, log)
    if compare_conv:
        log("comparing the exact CONV_2D strategies ...")
        conv_strategies = compare_conv_strategies(model_path, inputs, threads, max(3, runs // 2), reference_tensors,
                                                  profile)
    del reference_tensors

    memory = measure_peak_memory(model_path, inputs, threads, profile)
    log(f"peak memory {memory['peak_bytes'] / 2**20:.1f} MiB (budget {memory['budget_bytes'] / 2**20:.1f} MiB)")
    startup_result = None
    if startup:
        log("start-up: cold (new empty numba cache directory) and warm, in fresh processes ...")
        startup_result = measure_startup(model_path, inputs, threads, profile)

    machine_state = wait_until_idle(wait_idle_s, log)
    timed = time_runtimes(model_path, inputs, threads, runtimes, runs, warmup, rounds, profile, budget_s, log)
    process_result = None
    if processes:
        log(f"refinterp alone in {processes} fresh processes ...")
        process_result = measure_processes(model_path, inputs, threads, profile, processes, warmup,
                                           _refinterp_runs(timed, runs))

    return {
        "mode": "model",
        "date": _now(),
        "model": str(model_path),
        "input": input_source,
        "runs": runs,
        "warmup": warmup,
        "rounds": max(1, min(rounds, runs)),
        "threads": threads,
        "time_budget_s": budget_s,
        "machine": machine_info(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "verification": verification,
        "refused": False,
        "before_timing": machine_state,
        **timed,
        "refinterp_processes": process_result,
        "memory": memory,
        "startup": startup_result,
        "conv_strategies": conv_strategies,
        "process_max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


# --------------------------------------------------------------------------------------------------
# Many models


def _refinterp_runs(timed: dict[str, Any], runs: int) -> int:
    row = next((r for r in timed.get("runtimes", ()) if r["name"] == "refinterp"), None)
    return (row or {}).get("runs") or runs


def find_models(paths: Sequence[str | Path]) -> list[Path]:
    """Files as given, directories searched recursively for ``*.tflite`` (sorted); each model once."""
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            models = sorted(p for p in path.rglob("*.tflite") if p.is_file())
            if not models:
                raise InputError(f"{path}: no .tflite file in this directory")
            found.extend(models)
        elif path.is_file():
            found.append(path)
        else:
            raise InputError(f"{path}: no such model file or directory")
    unique: dict[Path, Path] = {}
    for path in found:
        unique.setdefault(path.resolve(), path)
    return list(unique.values())


def bench_model(model_path: Path, runs: int, warmup: int, threads: int, seed: int, runtimes: Sequence[str],
                rounds: int, processes: int = 0, budget_s: float | None = None, wait_idle_s: float = 0.0,
                log: Callable[[str], None] = print) -> dict[str, Any]:
    """One model of ``--models``: refused / not verified / mismatch (not timed), or timed."""
    entry: dict[str, Any] = {"model": str(model_path), "status": ""}
    started = time.perf_counter()
    try:
        model = load_model(model_path)
        entry["ops"] = len(model.subgraphs[0].operators)
        inputs, entry["input"] = bench_inputs(model_path, seed)
        # an operator refinterp lacks ends here, before any oracle runs (LiteRT crashes reading some tensors of
        # models with resource variables); a file LiteRT refuses at load may still be TFLM's (person_detect)
        with contextlib.suppress(ModelFormatError):
            Interpreter(model_path=str(model_path), num_threads=threads).allocate_tensors()
        # the oracle decides refinterp's profile (tflm where LiteRT refuses the model)
        verification = verify_refinterp(model_path, inputs, threads)
        verification.pop("reference_tensors", None)
        entry["verification"] = verification
        if verification["against"] is None:
            # no oracle runs it: say first whether refinterp refuses it too ("refused" beats "not verified")
            Interpreter(model_path=str(model_path), num_threads=threads).allocate_tensors()
            entry.update(status="not verified", detail=verification["reason"])
            return entry
        if not verification["equal"]:
            entry.update(status="mismatch", detail=f"{len(verification['differing_tensors'])} of "
                         f"{verification['tensors_compared']} tensors differ from {verification['against']}'s")
            return entry
        profile = verification["profile"]
        entry["memory"] = measure_peak_memory(model_path, inputs, threads, profile)
        entry["before_timing"] = wait_until_idle(wait_idle_s, log)
        entry.update(time_runtimes(model_path, inputs, threads, runtimes, runs, warmup, rounds, profile, budget_s,
                                   log))
        if processes:
            entry["refinterp_processes"] = measure_processes(model_path, inputs, threads, profile, processes,
                                                             warmup, _refinterp_runs(entry, runs))
        entry["status"] = "timed"
    except UnsupportedOpError as exc:
        entry.update(status="unsupported", unsupported=unsupported_operator(str(exc)), detail=_one_line(exc))
    except ModelFormatError as exc:  # refused as LiteRT refuses it (or a broken file)
        entry.update(status="refused", detail=_one_line(exc))
    except RefinterpError as exc:
        entry.update(status="error", detail=_one_line(exc))
    finally:
        entry["seconds"] = time.perf_counter() - started
        gc.collect()
    return entry


def geometric_means(entries: Sequence[dict[str, Any]], runtimes: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per runtime: the geometric mean, min and max of median / refinterp's median over the timed models."""
    out: dict[str, dict[str, Any]] = {}
    for name in runtimes:
        if name == "refinterp":
            continue
        ratios = []
        for entry in entries:
            row = next((r for r in entry.get("runtimes", ()) if r["name"] == name), None)
            if row is not None and row.get("ratio_to_refinterp"):
                ratios.append((row["ratio_to_refinterp"], entry["model"]))
        if ratios:
            values = [r for r, _ in ratios]
            worst = min(ratios)
            out[name] = {"models": len(ratios), "geomean": math.exp(statistics.fmean(math.log(v) for v in values)),
                         "min": worst[0], "min_model": worst[1], "max": max(values)}
        else:
            out[name] = {"models": 0, "geomean": None}
    return out


_CHILD_SCRIPT = r"""
import json, sys
from pathlib import Path
from refinterp.tools.bench import bench_model
arguments = json.loads(sys.argv[1])
stage = open(arguments.pop("stage_path"), "a", buffering=1)
def log(message):
    print(message, file=sys.stderr, flush=True)
    stage.write(message.strip() + "\n")
out = arguments.pop("out_path")
entry = bench_model(Path(arguments.pop("model")), log=log, **arguments)
Path(out).write_text(json.dumps(entry))
"""


def bench_model_in_child(model_path: Path, log: Callable[[str], None] = print, timeout_s: float | None = None,
                         **arguments: Any) -> dict[str, Any]:
    """:func:`bench_model` in a fresh process: a runtime that crashes (LiteRT on some models with resource
    variables) or hangs ends that process, not the run; the entry then says what it was doing."""
    with tempfile.TemporaryDirectory(prefix="refinterp-bench-") as tmp:
        out_path, stage_path = os.path.join(tmp, "entry.json"), os.path.join(tmp, "stage.txt")
        payload = json.dumps({"model": str(model_path), "out_path": out_path, "stage_path": stage_path, **arguments})
        started = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, "-c", _CHILD_SCRIPT, payload], stdout=subprocess.DEVNULL,
                                  stderr=None, timeout=timeout_s, check=False)
            failure = None if proc.returncode == 0 else (
                f"signal {-proc.returncode}" if proc.returncode < 0 else f"exit status {proc.returncode}")
        except subprocess.TimeoutExpired:
            failure = f"no result after {timeout_s:.0f} s"
        if failure is None and os.path.isfile(out_path):
            return json.loads(Path(out_path).read_text())
        stages = Path(stage_path).read_text().splitlines() if os.path.isfile(stage_path) else []
        doing = f" while: {stages[-1]}" if stages else ""
        log(f"  the process benchmarking it ended with {failure}")
        return {"model": str(model_path), "status": "error", "seconds": time.perf_counter() - started,
                "detail": f"the process benchmarking it ended with {failure or 'no result'} (a runtime crashed)"
                          f"{doing}"}


def run_models_benchmark(paths: Sequence[str | Path], runs: int = 10, warmup: int = 2, threads: int | None = None,
                         seed: int = 0, runtimes: Sequence[str] = RUNTIMES, rounds: int = 5, processes: int = 0,
                         budget_s: float | None = None, isolate: bool = False, wait_idle_s: float = 0.0,
                         log: Callable[[str], None] = print) -> dict[str, Any]:
    """Every model in turn (:func:`bench_model`); with ``isolate``, each in a fresh process."""
    models = find_models(paths)
    _check_counts(runs, warmup, rounds, processes)
    threads = threads or os.cpu_count() or 1
    load_before = os.getloadavg()
    machine = machine_info()  # before the models: the conv backend's self-test runs here, not in a timing
    entries = []
    for position, model_path in enumerate(models, 1):
        log(f"[{position}/{len(models)}] {model_path}")
        arguments = dict(runs=runs, warmup=warmup, threads=threads, seed=seed, runtimes=list(runtimes),
                         rounds=rounds, processes=processes, budget_s=budget_s, wait_idle_s=wait_idle_s)
        if isolate:
            # at most a budget per runtime for the timing, the gate and the probes, then it is taken as a hang
            timeout = max(600.0, 4 * len(runtimes) * (budget_s or 60.0)) + wait_idle_s
            entry = bench_model_in_child(model_path, log=log, timeout_s=timeout, **arguments)
        else:
            entry = bench_model(model_path, log=log, **arguments)
        log(f"  {_entry_line(entry)}")
        entries.append(entry)
    timed = [e for e in entries if e["status"] == "timed"]
    return {
        "mode": "models",
        "date": _now(),
        "runs": runs,
        "warmup": warmup,
        "rounds": max(1, min(rounds, runs)),
        "threads": threads,
        "seed": seed,
        "time_budget_s": budget_s,
        "isolated": isolate,
        "wait_idle_s": wait_idle_s,
        "runtimes_asked": list(runtimes),
        "machine": machine,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "models": entries,
        "timed_models": len(timed),
        "geometric_means": geometric_means(timed, runtimes),
        "process_max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def _entry_line(entry: dict[str, Any]) -> str:
    if entry["status"] != "timed":
        what = entry.get("unsupported") or entry.get("detail", "")
        return f"{entry['status']}: {what}"
    rows = {r["name"]: r for r in entry["runtimes"]}
    mine = rows["refinterp"]
    text = f"timed: refinterp {mine['median_ms']:.2f} ms"
    for name in ("litert-ref", "litert"):
        if rows.get(name, {}).get("ratio_to_refinterp"):
            text += f", {SHORT_LABELS[name]} / refinterp {rows[name]['ratio_to_refinterp']:.2f}"
    return text


# --------------------------------------------------------------------------------------------------
# Markdown


def _machine_lines(result: dict[str, Any]) -> list[str]:
    machine = result["machine"]
    versions = machine["versions"]
    removed = machine.get("numba_cpu_features_removed")
    target = f"numba compiles for `{machine.get('numba_target_cpu')}`"
    if removed is not None:
        target += (" with NUMBA_CPU_FEATURES = the host's minus " + ", ".join(removed)) if removed else \
            " with NUMBA_CPU_FEATURES (all of the host's)"
    env = machine.get("environment") or {}
    shown_env = {k: v for k, v in env.items() if k != "NUMBA_CPU_FEATURES"}
    lines = [
        f"Date: {result.get('date', '')}.",
        f"Machine: {machine['cpu_model']} (family {machine['cpu_family']}, model {machine['cpu_model_number']}; "
        f"LLVM: `{machine.get('llvm_host_cpu')}`), {machine['cores']} cores, SIMD "
        f"{', '.join(machine['simd_flags']) or 'n/a'}; {machine['platform']}; Python {machine['python']}.",
        f"refinterp CONV_2D backend: `{machine['conv_backend']}` ({machine.get('conv_backend_reason', '')}); "
        f"{target}.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".",
    ]
    if shown_env:
        lines.append("Environment: " + ", ".join(f"`{k}={v}`" for k, v in shown_env.items()) + ".")
    state = result.get("before_timing")
    lines.append(f"Load average (1, 5, 15 min) before: {_loads(result['load_average_before'])}, "
                 f"after: {_loads(result['load_average_after'])}"
                 + (f"; other processes kept {_busy(state)} of the cores busy just before timing" if _busy(state)
                    else "") + ".")
    return lines


def _ms(value: float) -> str:
    """Milliseconds with three significant digits or more (sub-millisecond models stay readable)."""
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}" if value >= 1 \
        else f"{value:.3f}"


def _busy(state: dict[str, Any] | None) -> str:
    busy = (state or {}).get("others_cpu_busy")
    return "" if busy is None else f"{busy:.0%}"


def _spread(value: float | None) -> str:
    return f"{value:.2f}" if value else ""


def render_markdown(result: dict[str, Any]) -> str:
    if result.get("mode") == "models":
        return render_models_markdown(result)
    lines = [f"# Benchmark: {Path(result['model']).name}", "", *_machine_lines(result),
             f"Input: {result['input']}. {result['warmup']} warm-up invokes, then {result['runs']} invokes of each "
             f"runtime, alternating; invoke() alone is timed. Run-to-run spread: the largest over the smallest "
             f"median of {result.get('rounds', 1)} rounds of consecutive turns.",
             f"Bit-exactness gate: refinterp's {result['verification']['tensors_compared']} tensors equal to "
             f"{result['verification']['against']}'s before timing.",
             "",
             "| runtime | threads | median ms | min ms | max ms | median / refinterp's | run-to-run spread | "
             "version |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for row in result["runtimes"]:
        if row["status"] != "ok" or "median_ms" not in row:
            lines.append(f"| {row['label']} | {row['threads'] or ''} | {row['status']} | | | | | {row['version']} |")
            continue
        ratio = row["ratio_to_refinterp"]
        runs = f" ({row['runs']} runs)" if row["runs"] < result["runs"] else ""
        lines.append(f"| {row['label']} | {row['threads']} | {row['median_ms']:.1f}{runs} | {row['min_ms']:.1f} | "
                     f"{row['max_ms']:.1f} | {ratio:.2f} | {_spread(row.get('round_spread'))} | {row['version']} |")
    processes = result.get("refinterp_processes")
    if processes:
        lines += ["", f"refinterp alone in {processes['processes']} fresh processes ({processes['runs_each']} invokes "
                  "each): medians " + ", ".join(f"{m:.1f}" for m in processes["medians_ms"])
                  + f" ms; process-to-process spread {_spread(processes['spread'])}."]
    memory = result["memory"]
    lines += [
        "",
        f"refinterp peak memory (tracemalloc, model load to end of first invoke): "
        f"{memory['peak_bytes'] / 2**20:.1f} MiB; non-constant tensors {memory['activation_bytes'] / 2**20:.1f} MiB, "
        f"weights {memory['weight_bytes'] / 2**20:.1f} MiB; budget 2 x tensors + weights = "
        f"{memory['budget_bytes'] / 2**20:.1f} MiB ({'within' if memory['within_budget'] else 'OVER'}). "
        f"Process max RSS with every runtime loaded: {result['process_max_rss_bytes'] / 2**20:.0f} MiB.",
    ]
    if result.get("startup"):
        lines += ["", "| start-up (fresh process) | import s | load + allocate s | first invoke s | "
                      "import to first result s | process wall s |", "|---|---:|---:|---:|---:|---:|"]
        for phase, label in (("cold", "cold: new empty numba cache directory (compiles)"),
                             ("warm", "warm: the same cache directory, second process")):
            s = result["startup"][phase]
            lines.append(f"| {label} | {s['import_s']:.2f} | {s['load_allocate_s']:.2f} | {s['first_invoke_s']:.2f} | "
                         f"{s['import_to_first_result_s']:.2f} | {s['process_wall_s']:.2f} |")
    if result.get("conv_strategies"):
        lines += ["", "| refinterp CONV_2D strategy | all tensors bit-exact | invoke median ms | "
                      "CONV_2D total median ms |", "|---|---|---:|---:|"]
        for row in result["conv_strategies"]:
            if row["status"] != "ok":
                lines.append(f"| {row['strategy']} | {row['status']} | | |")
            else:
                lines.append(f"| {row['strategy']} | {'yes' if row['equal'] else 'NO'} | "
                             f"{row['invoke_median_ms']:.1f} | {row['conv_median_ms']:.1f} |")
    if result["refinterp_per_op_type_ms"]:
        outside = result.get("refinterp_outside_operators_ms")
        lines += ["", "refinterp time per operator type (sum of per-operator medians, ms): "
                  + ", ".join(f"{k} {v:.2f}" for k, v in result["refinterp_per_op_type_ms"].items())
                  + (f"; outside the operators (the interpreter loop): {outside:.2f}" if outside is not None else "")
                  + ".", "", "| op | operator | median ms |", "|---:|---|---:|"]
        lines += [f"| {row['index']} | {row['op']} | {row['median_ms']:.2f} |" for row in result["refinterp_per_op"]]
    return "\n".join(lines) + "\n"


def _model_name(entry: dict[str, Any], common: Path | None) -> str:
    path = Path(entry["model"])
    if common is not None:
        with contextlib.suppress(ValueError):
            return str(path.resolve().relative_to(common))
    return path.name


def _common_root(entries: Sequence[dict[str, Any]]) -> Path | None:
    if not entries:
        return None
    parents = [str(Path(e["model"]).resolve().parent) for e in entries]
    return Path(os.path.commonpath(parents))


def render_models_markdown(result: dict[str, Any]) -> str:
    entries = result["models"]
    runtimes = result.get("runtimes_asked", RUNTIMES)
    others = [r for r in runtimes if r != "refinterp"]
    root = _common_root(entries)
    timed = [e for e in entries if e["status"] == "timed"]
    lines = [f"# Benchmark: {len(entries)} models", "", *_machine_lines(result),
             f"Per model: {result['warmup']} warm-up invokes, then {result['runs']} invokes of each runtime, "
             f"alternating; invoke() alone is timed; seeded random input (seed {result.get('seed', 0)}) unless a "
             f"golden DIR is beside the model. refinterp with {result['threads']} threads, LiteRT BUILTIN_REF and "
             f"TFLM with 1, LiteRT optimized and XNNPACK with {result['threads']}. Before timing, every tensor of "
             "refinterp is compared with LiteRT BUILTIN_REF's (TFLM's, with refinterp's tflm profile, where LiteRT "
             "refuses the model); a model that differs, that refinterp refuses or that no exact oracle runs is "
             "listed, not timed."
             + (f" A runtime slower than {result['time_budget_s']:g} s / {result['runs']} per invoke is invoked "
                f"{result['time_budget_s']:g} s / (its first invoke's time) times, at least once ([N runs])."
                if result.get("time_budget_s") else ""),
             f"Models: {len(entries)}{f' under {root}' if root else ''}; timed: {len(timed)}"
             + ("; each model benchmarked in a fresh process." if result.get("isolated") else "."),
             "",
             "Median invoke ms (min-max), and the run-to-run spread of refinterp (largest over smallest median of "
             f"{result.get('rounds', 1)} rounds of consecutive turns"
             + ("; and between fresh processes running refinterp alone" if any(e.get("refinterp_processes")
                                                                              for e in timed) else "")
             + "); others' CPU: the share of the cores other processes kept busy just before the model was timed"
             + (f" (waiting up to {result['wait_idle_s'] / 60:g} min for at most {IDLE_THRESHOLD:.0%})"
                if result.get("wait_idle_s") else "") + ":",
             "",
             "| model | ops | oracle | " + " | ".join(SHORT_LABELS[r] for r in runtimes)
             + " | refinterp spread | peak MiB / budget | others' CPU |",
             "|---|---:|---|" + "---:|" * len(runtimes) + "---:|---:|---:|"]
    for entry in timed:
        rows = {r["name"]: r for r in entry["runtimes"]}
        cells = []
        for name in runtimes:
            row = rows.get(name)
            if row is None or "median_ms" not in row:  # the reason is in the JSON
                cells.append("refuses" if row and row["status"].startswith("cannot run") else
                             row["status"] if row else "")
            else:
                cells.append(f"{_ms(row['median_ms'])} ({_ms(row['min_ms'])}-{_ms(row['max_ms'])})"
                             + (f" [{row['runs']} runs]" if row["runs"] < result["runs"] else ""))
        spread = _spread(rows["refinterp"].get("round_spread"))
        processes = entry.get("refinterp_processes")
        if processes:
            spread += f" / {_spread(processes['spread'])}"
        memory = entry["memory"]
        oracle = SHORT_LABELS.get("litert-ref" if entry["verification"]["profile"] == "litert-ref" else "tflm")
        lines.append(f"| {_model_name(entry, root)} | {entry['ops']} | {oracle} | " + " | ".join(cells)
                     + f" | {spread} | {memory['peak_bytes'] / 2**20:.1f} / {memory['budget_bytes'] / 2**20:.1f} | "
                     f"{_busy(entry.get('before_timing'))} |")
    lines += ["", "Speed-up of refinterp: each runtime's median over refinterp's (above 1: refinterp is faster):", "",
              "| model | " + " | ".join(f"{SHORT_LABELS[r]} / refinterp" for r in others) + " |",
              "|---|" + "---:|" * len(others)]
    for entry in timed:
        rows = {r["name"]: r for r in entry["runtimes"]}
        cells = [f"{rows[n]['ratio_to_refinterp']:.2f}" if rows.get(n, {}).get("ratio_to_refinterp") else ""
                 for n in others]
        lines.append(f"| {_model_name(entry, root)} | " + " | ".join(cells) + " |")
    means = result["geometric_means"]
    lines.append("| **geometric mean** | " + " | ".join(
        f"**{means[n]['geomean']:.2f}** ({means[n]['models']} models)" if means.get(n, {}).get("geomean") else ""
        for n in others) + " |")
    lines.append("| lowest | " + " | ".join(
        f"{means[n]['min']:.2f} ({_model_name({'model': means[n]['min_model']}, root)})"
        if means.get(n, {}).get("geomean") else "" for n in others) + " |")
    untimed = [e for e in entries if e["status"] != "timed"]
    if untimed:
        lines += ["", "Not timed:", "", "| model | ops | status | why |", "|---|---:|---|---|"]
        for entry in untimed:
            why = entry.get("unsupported") or entry.get("detail", "")
            lines.append(f"| {_model_name(entry, root)} | {entry.get('ops', '')} | {entry['status']} | "
                         f"{str(why).replace('|', '/')} |")
    if timed:
        lines += ["", "Where refinterp's time goes (sum of per-operator medians by operator type, the largest three, "
                  "and the time outside the operators), next to LiteRT BUILTIN_REF's whole invoke, slowest "
                  "relative to BUILTIN_REF first:", "",
                  "| model | refinterp ms | BUILTIN_REF ms | largest operator types, ms | outside operators ms |",
                  "|---|---:|---:|---|---:|"]

        def speedup(entry: dict[str, Any]) -> float:
            row = next((r for r in entry["runtimes"] if r["name"] == "litert-ref"), None)
            return (row or {}).get("ratio_to_refinterp") or math.inf

        for entry in sorted(timed, key=speedup):
            rows = {r["name"]: r for r in entry["runtimes"]}
            ref = rows.get("litert-ref", {}).get("median_ms")
            top = list(entry["refinterp_per_op_type_ms"].items())[:3]
            outside = entry.get("refinterp_outside_operators_ms")
            lines.append(f"| {_model_name(entry, root)} | {_ms(rows['refinterp']['median_ms'])} | "
                         f"{_ms(ref) if ref else ''} | " + ", ".join(f"{k} {_ms(v)}" for k, v in top)
                         + f" | {_ms(outside) if outside is not None else ''} |")
    return "\n".join(lines) + "\n"


def _loads(values: Sequence[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


# --------------------------------------------------------------------------------------------------


def bench_main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(
        prog="refinterp bench",
        description="Time refinterp next to the official runtimes, on one model (--model) or many (--models), "
                    "after checking that every tensor of refinterp equals LiteRT BUILTIN_REF's (TFLM's where "
                    "LiteRT refuses the model): one model that differs gives no timings and exit 1; with --models "
                    "it is listed, not timed. Prints a markdown table.")
    parser.add_argument("--model", default=None, metavar="PATH",
                        help=f"one .tflite model (default {DEFAULT_MODEL})")
    parser.add_argument("--models", nargs="+", default=None, metavar="DIR_OR_FILE",
                        help="many models: .tflite files and directories (searched recursively for *.tflite); "
                             "one table with every model, the ratios and their geometric means")
    parser.add_argument("--runs", type=int, default=10, metavar="N", help="timed invokes of each runtime (default 10)")
    parser.add_argument("--warmup", type=int, default=2, metavar="N",
                        help="untimed invokes of each runtime first (default 2)")
    parser.add_argument("--rounds", type=int, default=5, metavar="N",
                        help="cut the timed turns into N rounds for the run-to-run spread (default 5)")
    parser.add_argument("--processes", type=int, default=0, metavar="N",
                        help="also time refinterp alone in N fresh processes for the process-to-process spread "
                             "(default 0: not)")
    parser.add_argument("--time-budget", type=float, default=60.0, metavar="SECONDS",
                        help="per runtime and model: a runtime slower than SECONDS / runs per invoke gets fewer "
                             "invokes, at least one (default 60; 0: no limit)")
    parser.add_argument("--wait-idle", type=float, default=0.0, metavar="MINUTES",
                        help="before timing (each model), wait up to MINUTES while other processes keep more than "
                             f"{IDLE_THRESHOLD * 100:.0f}%% of the cores busy (default 0: measure it, do not wait)")
    parser.add_argument("--in-process", action="store_true",
                        help="with --models: benchmark every model in this process (default: each in a fresh "
                             "process, so that a runtime that crashes on one model does not end the run)")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="threads for refinterp, LiteRT optimized and XNNPACK (default: all cores)")
    parser.add_argument("--runtimes", default=",".join(RUNTIMES), metavar="LIST",
                        help=f"comma-separated subset of {','.join(RUNTIMES)} (default: all; refinterp is required)")
    parser.add_argument("--startup", action="store_true",
                        help="also time cold (new empty numba cache directory) and warm start-up in fresh processes "
                             "(one model only)")
    parser.add_argument("--compare-conv", action="store_true",
                        help="also time refinterp with each exact CONV_2D strategy (one model only)")
    parser.add_argument("--seed", type=int, default=0, metavar="N",
                        help="seed of the random input when the model has no golden DIR (default 0)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--markdown", metavar="PATH", help="also write the markdown table to a file")
    args = parser.parse_args(argv)
    runtimes = [r.strip() for r in args.runtimes.split(",") if r.strip()]
    unknown = [r for r in runtimes if r not in RUNTIMES]
    if unknown or "refinterp" not in runtimes:
        raise InputError(f"--runtimes must include refinterp and name only {', '.join(RUNTIMES)}")
    if args.threads is not None and args.threads < 1:
        raise InputError("--threads must be at least 1")
    if args.time_budget < 0 or args.wait_idle < 0:
        raise InputError("--time-budget and --wait-idle must be at least 0")
    log = lambda message: print(message, file=sys.stderr)  # noqa: E731
    if args.models is not None:
        if args.model is not None or args.startup or args.compare_conv:
            raise InputError("--models cannot be combined with --model, --startup or --compare-conv "
                             "(those measure one model)")
        result = run_models_benchmark(args.models, runs=args.runs, warmup=args.warmup, threads=args.threads,
                                      seed=args.seed, runtimes=runtimes, rounds=args.rounds,
                                      processes=args.processes, budget_s=args.time_budget or None,
                                      isolate=not args.in_process, wait_idle_s=args.wait_idle * 60, log=log)
        status = EXIT_MISMATCH if any(e["status"] == "mismatch" for e in result["models"]) else EXIT_OK
    else:
        result = run_benchmark(Path(args.model or DEFAULT_MODEL), runs=args.runs, warmup=args.warmup,
                               threads=args.threads, seed=args.seed, runtimes=runtimes, startup=args.startup,
                               compare_conv=args.compare_conv, rounds=args.rounds, processes=args.processes,
                               budget_s=args.time_budget or None, wait_idle_s=args.wait_idle * 60, log=log)
        if result["refused"]:
            v = result["verification"]
            print(f"refinterp bench: refinterp differs from {v['against']} in tensors {v['differing_tensors'][:10]}: "
                  "not reporting timings", file=sys.stderr)
            return EXIT_MISMATCH
        status = EXIT_OK
    markdown = render_markdown(result)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2, default=_json_default) + "\n")
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(markdown)
    print(markdown)
    return status


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


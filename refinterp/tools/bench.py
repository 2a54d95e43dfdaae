"""``refinterp bench``: refinterp's speed next to the official runtimes, on one model, in one run.

What it does, in order:

1. Picks the input: the golden DIR's ``random`` case when the model has one beside it, else seeded random.
2. Runs refinterp once (compiling or loading its numba kernels) and compares **every tensor** with LiteRT
   BUILTIN_REF (or, without ai-edge-litert, with the golden DIR). Any difference: it reports nothing and
   exits 1.
3. Measures refinterp's peak memory with tracemalloc (numba's allocations go through Python's raw allocator,
   so they are counted) from model load to the end of the first invoke, next to the model's tensor sizes.
4. Optionally (``--startup``) times the start-up in fresh processes: cold (an empty numba cache directory:
   everything compiles) and warm (the same directory again: the cache is loaded): import, load, allocate
   and the first invoke.
5. Warms every runtime up, then invokes them in turn (refinterp, LiteRT BUILTIN_REF, LiteRT optimized
   builtin, LiteRT + XNNPACK, TFLM) ``--runs`` times, alternating so that they share the machine's noise;
   median, min and max of the invoke call alone, and each median's ratio to refinterp's.
6. Writes JSON and a markdown table (with the machine: CPU model, cores, load average, versions).

The official runtimes run in their normal mode (no preserve-all-tensors, so their arenas are reused);
refinterp always keeps every tensor. A runtime that is not installed is reported as "not installed".
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from refinterp.errors import InputError, RefinterpError, RuntimeUnavailableError
from refinterp.interpreter import Interpreter
from refinterp.io import load_golden, model_input_specs, seeded_inputs
from refinterp.model import load_model
from refinterp.ops.fast.conv import BACKEND_ENV, backend_unavailable, choose_backend
from refinterp.runtimes import get_runtime
from refinterp.runtimes.tflm import TFLMRuntime, import_tflm_runtime
from refinterp.tools.arguments import EXIT_MISMATCH, EXIT_OK, ArgumentParser

DEFAULT_MODEL = "golden/yolov3_tiny_int8.tflite"

#: the contenders, in the order they are invoked in every round
RUNTIMES = ("refinterp", "litert-ref", "litert", "xnnpack", "tflm")
LABELS = {
    "refinterp": "refinterp (fast kernels)",
    "litert-ref": "LiteRT BUILTIN_REF",
    "litert": "LiteRT optimized builtin",
    "xnnpack": "LiteRT + XNNPACK",
    "tflm": "TFLite Micro",
}


@dataclass
class Timing:
    name: str
    label: str
    status: str = "ok"  # "ok", "not installed", or "failed: <reason>"
    version: str = ""
    threads: int | None = None
    seconds: list[float] = field(default_factory=list)

    def summary(self, reference_median: float | None) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "label": self.label, "status": self.status,
                               "version": self.version, "threads": self.threads}
        if self.seconds:
            median = statistics.median(self.seconds)
            out.update(runs=len(self.seconds), median_ms=median * 1e3, min_ms=min(self.seconds) * 1e3,
                       max_ms=max(self.seconds) * 1e3,
                       ratio_to_refinterp=(median / reference_median) if reference_median else None)
        return out


# --------------------------------------------------------------------------------------------------
# Machine description


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
            elif key == "flags" and not flags:
                flags = value.split()
    except OSError:
        pass
    wanted = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "asimddp")
    info: dict[str, Any] = {
        "cpu_model": cpu_model,
        "cpu_family": family,
        "cpu_model_number": model_number,
        "simd_flags": [f for f in wanted if f in flags],
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": _versions(),
    }
    try:
        info["conv_backend"] = choose_backend()
    except RefinterpError as exc:
        info["conv_backend"] = f"error: {exc}"
    return info


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


def verify_refinterp(model_path: Path, inputs: list[np.ndarray], num_threads: int) -> dict[str, Any]:
    """Every tensor of refinterp (fast kernels) against LiteRT BUILTIN_REF, else against the golden DIR."""
    mine = get_runtime("refinterp", num_threads=num_threads).run(str(model_path), inputs)
    try:
        reference = get_runtime("litert-ref").run(str(model_path), inputs)
        against = "LiteRT BUILTIN_REF"
    except RuntimeUnavailableError:
        golden = golden_dir_of(model_path)
        if golden is None:
            raise RefinterpError("cannot verify refinterp: ai-edge-litert is not installed and the model has no "
                                 "golden DIR beside it") from None
        reference = get_runtime(f"golden:{golden}").run(str(model_path), inputs)
        against = f"golden {golden}"
    compared = 0
    differing = []
    for index, expected in reference.tensors.items():
        if index not in mine.tensors:
            continue
        compared += 1
        if expected.shape != mine.tensors[index].shape or not np.array_equal(expected, mine.tensors[index]):
            differing.append(index)
    return {"against": against, "tensors_compared": compared, "differing_tensors": differing,
            "equal": compared > 0 and not differing,
            "reference_tensors": {i: v for i, v in reference.tensors.items() if i in mine.tensors}}


# --------------------------------------------------------------------------------------------------
# Contenders: each gives a zero-argument invoke() after loading and setting the input


def _refinterp_invoker(model_path: Path, inputs: list[np.ndarray], threads: int) -> tuple[Callable[[], None], Any]:
    interpreter = Interpreter(model_path=str(model_path), num_threads=threads)
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


def measure_peak_memory(model_path: Path, inputs: list[np.ndarray], threads: int) -> dict[str, Any]:
    """tracemalloc peak from Interpreter() to the end of the first invoke (kernels already compiled)."""
    tracemalloc.start()
    try:
        interpreter = Interpreter(model_path=str(model_path), num_threads=threads)
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
interpreter = refinterp.Interpreter(model_path=sys.argv[1], num_threads=int(sys.argv[2]))
interpreter.allocate_tensors()
allocated = time.perf_counter()
for detail, path in zip(interpreter.get_input_details(), sys.argv[3:]):
    interpreter.set_tensor(detail["index"], np.load(path))
interpreter.invoke()
interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
done = time.perf_counter()
print(imported - started, allocated - imported, done - allocated)
"""


def measure_startup(model_path: Path, inputs: list[np.ndarray], threads: int) -> dict[str, Any]:
    """Fresh processes with an empty numba cache (cold: compile everything), then the same cache (warm)."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="refinterp-bench-") as tmp:
        input_paths = []
        for k, value in enumerate(inputs):
            path = os.path.join(tmp, f"input{k}.npy")
            np.save(path, value)
            input_paths.append(path)
        env = dict(os.environ, NUMBA_CACHE_DIR=os.path.join(tmp, "numba-cache"))
        for phase in ("cold", "warm"):
            started = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", _STARTUP_SCRIPT, str(model_path), str(threads),
                                   *input_paths], env=env, capture_output=True, text=True, check=False)
            wall = time.perf_counter() - started
            if proc.returncode != 0:
                raise RefinterpError(f"start-up probe failed: {_one_line(Exception(proc.stderr[-400:]))}")
            import_s, allocate_s, invoke_s = (float(v) for v in proc.stdout.split()[-3:])
            results[phase] = {"process_wall_s": wall, "import_s": import_s, "load_allocate_s": allocate_s,
                              "first_invoke_s": invoke_s, "import_to_first_result_s": import_s + allocate_s + invoke_s}
    return results


# --------------------------------------------------------------------------------------------------
# The exact conv strategies against each other (--compare-conv)


CONV_STRATEGIES = ("vnni", "avxvnni", "avx2", "blas32", "blas64")


def compare_conv_strategies(model_path: Path, inputs: list[np.ndarray], threads: int, runs: int,
                            expected: dict[int, np.ndarray]) -> list[dict[str, Any]]:
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
            interpreter = Interpreter(model_path=str(model_path), num_threads=threads)
            interpreter.allocate_tensors()
            for detail, value in zip(interpreter.get_input_details(), inputs):
                interpreter.set_tensor(detail["index"], value)
            interpreter.invoke()
            values = interpreter.tensor_values()
            row["equal"] = all(np.array_equal(v, values.get(i)) for i, v in expected.items())
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
# The benchmark


def run_benchmark(model_path: Path, runs: int = 10, warmup: int = 2, threads: int | None = None,
                  seed: int = 0, runtimes: Sequence[str] = RUNTIMES, startup: bool = False,
                  compare_conv: bool = False, log: Callable[[str], None] = print) -> dict[str, Any]:
    if not model_path.is_file():
        raise InputError(f"{model_path}: no such model file")
    if runs < 1 or warmup < 0:
        raise InputError("--runs must be at least 1 and --warmup at least 0")
    threads = threads or os.cpu_count() or 1
    load_before = os.getloadavg()
    inputs, input_source = bench_inputs(model_path, seed)

    log(f"checking every tensor of refinterp against the reference on {input_source} ...")
    verification = verify_refinterp(model_path, inputs, threads)
    if not verification["equal"]:
        verification.pop("reference_tensors", None)
        return {"verification": verification, "refused": True}
    log(f"  equal: {verification['tensors_compared']} tensors against {verification['against']}")
    conv_strategies = None
    if compare_conv:
        log("comparing the exact CONV_2D strategies ...")
        reference_tensors = verification.pop("reference_tensors")
        conv_strategies = compare_conv_strategies(model_path, inputs, threads, max(3, runs // 2), reference_tensors)
    verification.pop("reference_tensors", None)

    memory = measure_peak_memory(model_path, inputs, threads)
    log(f"peak memory {memory['peak_bytes'] / 2**20:.1f} MiB (budget {memory['budget_bytes'] / 2**20:.1f} MiB)")
    startup_result = None
    if startup:
        log("start-up: cold and warm numba cache in fresh processes ...")
        startup_result = measure_startup(model_path, inputs, threads)

    timings: dict[str, Timing] = {}
    invokers: dict[str, Callable[[], None]] = {}
    refinterp_interpreter = None
    for name in runtimes:
        timing = Timing(name, LABELS[name])
        timings[name] = timing
        try:
            timing.version = _runtime_version(name)
            if name == "refinterp":
                invokers[name], refinterp_interpreter = _refinterp_invoker(model_path, inputs, threads)
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
                invokers[name] = _tflm_invoker(model_path, inputs)
                timing.threads = 1
        except (RuntimeUnavailableError, ImportError):
            timing.status = "not installed"
        except Exception as exc:  # noqa: BLE001 - a runtime that cannot run the model is reported, not fatal
            timing.status = f"failed: {_one_line(exc)}"

    op_rounds: list[list[float]] = []
    for name, invoke in list(invokers.items()):
        try:
            for _ in range(warmup):
                invoke()
        except Exception as exc:  # noqa: BLE001
            timings[name].status = f"failed: {_one_line(exc)}"
            del invokers[name]
    log(f"timing {', '.join(invokers)}: {runs} rounds, alternating ...")
    for _ in range(runs):
        for name, invoke in invokers.items():
            started = time.perf_counter()
            invoke()
            timings[name].seconds.append(time.perf_counter() - started)
            if name == "refinterp":
                op_rounds.append(list(refinterp_interpreter.op_seconds))

    reference = statistics.median(timings["refinterp"].seconds) if timings.get("refinterp") and \
        timings["refinterp"].seconds else None
    per_op = []
    if op_rounds and refinterp_interpreter is not None:
        medians = np.median(np.array(op_rounds), axis=0)
        for op, seconds in zip(refinterp_interpreter.subgraph.operators, medians):
            per_op.append({"index": op.index, "op": op.name, "median_ms": float(seconds) * 1e3})
    by_type: dict[str, float] = {}
    for row in per_op:
        by_type[row["op"]] = by_type.get(row["op"], 0.0) + row["median_ms"]

    return {
        "model": str(model_path),
        "input": input_source,
        "runs": runs,
        "warmup": warmup,
        "threads": threads,
        "machine": machine_info(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "verification": verification,
        "refused": False,
        "runtimes": [timings[name].summary(reference) for name in runtimes],
        "refinterp_per_op": per_op,
        "refinterp_per_op_type_ms": dict(sorted(by_type.items(), key=lambda kv: -kv[1])),
        "memory": memory,
        "startup": startup_result,
        "conv_strategies": conv_strategies,
        "process_max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


# --------------------------------------------------------------------------------------------------
# Markdown


def render_markdown(result: dict[str, Any]) -> str:
    machine = result["machine"]
    versions = machine["versions"]
    lines = [
        f"# Benchmark: {Path(result['model']).name}",
        "",
        f"Machine: {machine['cpu_model']} (family {machine['cpu_family']}, model {machine['cpu_model_number']}), "
        f"{machine['cores']} cores, SIMD {', '.join(machine['simd_flags']) or 'n/a'}; {machine['platform']}; "
        f"Python {machine['python']}.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + f"; refinterp conv backend "
        f"`{machine['conv_backend']}`.",
        f"Load average (1, 5, 15 min) before: {_loads(result['load_average_before'])}, "
        f"after: {_loads(result['load_average_after'])}.",
        f"Input: {result['input']}. {result['warmup']} warm-up invokes, then {result['runs']} invokes of each "
        f"runtime, alternating; invoke() alone is timed.",
        f"Bit-exactness gate: refinterp's {result['verification']['tensors_compared']} tensors equal to "
        f"{result['verification']['against']}'s before timing.",
        "",
        "| runtime | threads | median ms | min ms | max ms | median / refinterp's | version |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in result["runtimes"]:
        if row["status"] != "ok" or "median_ms" not in row:
            lines.append(f"| {row['label']} | {row['threads'] or ''} | {row['status']} | | | | {row['version']} |")
            continue
        ratio = row["ratio_to_refinterp"]
        lines.append(f"| {row['label']} | {row['threads']} | {row['median_ms']:.1f} | {row['min_ms']:.1f} | "
                     f"{row['max_ms']:.1f} | {ratio:.2f} | {row['version']} |")
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
        for phase, label in (("cold", "cold: empty numba cache (compiles)"), ("warm", "warm: numba cache loaded")):
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
        lines += ["", "refinterp time per operator type (sum of per-operator medians, ms): "
                  + ", ".join(f"{k} {v:.2f}" for k, v in result["refinterp_per_op_type_ms"].items()) + ".",
                  "", "| op | operator | median ms |", "|---:|---|---:|"]
        lines += [f"| {row['index']} | {row['op']} | {row['median_ms']:.2f} |" for row in result["refinterp_per_op"]]
    return "\n".join(lines) + "\n"


def _loads(values: Sequence[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


# --------------------------------------------------------------------------------------------------


def bench_main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(
        prog="refinterp bench",
        description="Time refinterp next to the official runtimes on one model, in one run, after checking that "
                    "every tensor of refinterp equals LiteRT BUILTIN_REF (else no timings, exit 1). Prints a "
                    "markdown table.")
    parser.add_argument("--model", default=DEFAULT_MODEL, metavar="PATH",
                        help=f"the .tflite model (default {DEFAULT_MODEL})")
    parser.add_argument("--runs", type=int, default=10, metavar="N", help="timed invokes of each runtime (default 10)")
    parser.add_argument("--warmup", type=int, default=2, metavar="N",
                        help="untimed invokes of each runtime first (default 2)")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="threads for refinterp, LiteRT optimized and XNNPACK (default: all cores)")
    parser.add_argument("--runtimes", default=",".join(RUNTIMES), metavar="LIST",
                        help=f"comma-separated subset of {','.join(RUNTIMES)} (default: all; refinterp is required)")
    parser.add_argument("--startup", action="store_true",
                        help="also time cold and warm start-up (fresh processes, an empty numba cache)")
    parser.add_argument("--compare-conv", action="store_true",
                        help="also time refinterp with each exact CONV_2D strategy (vnni, blas32, blas64)")
    parser.add_argument("--seed", type=int, default=0, metavar="N",
                        help="seed of the random input when the model has no golden DIR (default 0)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--markdown", metavar="PATH", help="also write the markdown table to a file")
    args = parser.parse_args(argv)
    runtimes = [r.strip() for r in args.runtimes.split(",") if r.strip()]
    unknown = [r for r in runtimes if r not in RUNTIMES]
    if unknown or "refinterp" not in runtimes:
        raise InputError(f"--runtimes must include refinterp and name only {', '.join(RUNTIMES)}")
    result = run_benchmark(Path(args.model), runs=args.runs, warmup=args.warmup, threads=args.threads,
                           seed=args.seed, runtimes=runtimes, startup=args.startup, compare_conv=args.compare_conv,
                           log=lambda m: print(m, file=sys.stderr))
    if result["refused"]:
        v = result["verification"]
        print(f"refinterp bench: refinterp differs from {v['against']} in tensors {v['differing_tensors'][:10]}: "
              "not reporting timings", file=sys.stderr)
        return EXIT_MISMATCH
    markdown = render_markdown(result)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(markdown)
    print(markdown)
    return EXIT_OK


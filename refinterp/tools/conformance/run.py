"""``refinterp conformance run``: every case of a conformance suite through a runtime under test, judged.

A suite (docs/conformance.md, written by ``refinterp conformance generate``) holds one directory per case:
``model.tflite``, ``input_<i>.npy``, ``expected_<j>.npy`` (the oracle's outputs) and ``case.json``. The
runner feeds each case to the runtime under test and compares what comes back with the expected outputs:

* ``pass``: every output has the expected dtype and shape and equal values (integers exactly; floats bit for
  bit), or differs by no more than the declared tolerance (``tolerance`` LSB for integer outputs,
  ``float_tolerance`` ULP for float outputs). The exact figures are reported either way.
* ``fail``: the runtime ran the case and gave something else: how many elements differ, the largest
  difference (LSB or ULP), the signed histogram of the differences, their mean (the bias) and the first
  differing index.
* ``error``: the runtime refused the case, crashed (a signal, an abort), or exceeded the time limit; one line
  says which and why.
* ``unsupported``: the runtime says it has no kernel for the operator (or this dtype of it).

The runtime under test never runs in the runner's process: ``command:`` runtimes are a subprocess per case,
and every other runtime runs in a long-lived worker subprocess (one per executor process) that is restarted
after a crash or a timeout, so one bad case costs one case, not the run. Cases go to the executor
(:mod:`refinterp.tools.executor`: in process, a local process pool with ``jobs``, or Ray) in batches.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import importlib
import importlib.util
import json
import math
import os
import queue
import re
import shlex
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from refinterp.errors import InputError, RefinterpError, UnsupportedOpError
from refinterp.io import load_npy
from refinterp.ops import common as ops_common
from refinterp.runtimes import LiteRTRuntime, TFLMRuntime, get_runtime
from refinterp.runtimes.base import import_litert_interpreter, import_tflm_runtime, one_line
from refinterp.tools.arguments import EXIT_ERROR, EXIT_MISMATCH, EXIT_OK, ArgumentParser
from refinterp.tools.conformance import report as reports
from refinterp.tools.conformance.generate import path_safe
from refinterp.tools.executor import EXECUTORS, add_executor_arguments, check_executor_arguments, run_tasks
from refinterp.tools.progress import StatusLine

SUITE_FORMAT = "refinterp-conformance"
SUITE_FORMAT_VERSION = 1
REPORT_FORMAT = "refinterp-conformance-run/1"
STATUSES = ("pass", "fail", "error", "unsupported")
#: the runtimes of refinterp.runtimes.get_runtime a suite can run against (golden:DIR is no runtime under test)
RUNTIME_SPECS = ("litert-ref", "litert", "xnnpack", "tflm", "refinterp", "refinterp:PROFILE", "delegate:PATH.so")
AGAINST_HELP = ", ".join(RUNTIME_SPECS) + ", command:'CMD {model} {inputs} {outputs}', python:MODULE:FUNCTION"
#: a ``command:`` runtime exits with this status to say "no kernel for this operator" (automake's "skipped")
UNSUPPORTED_EXIT_STATUS = 77
#: the placeholders a ``command:`` template may use
COMMAND_FIELDS = ("model", "inputs", "outputs")
#: the default time limit of one case, in seconds (a cold numba cache compiles a kernel module on first use)
DEFAULT_TIMEOUT_SECONDS = 120.0
#: signed differences up to this size get a histogram bin of their own; larger ones share "<-N" and ">+N"
HISTOGRAM_EXACT_LIMIT = 8
#: what LiteRT, TFLM and delegates say when they have no kernel for an operator or a dtype of it
UNSUPPORTED_MESSAGE = re.compile(
    r"didn't find op|failed to get registration|no kernel|not (?:currently |yet )?supported|unsupported|"
    r"not implemented|is not registered", re.IGNORECASE)
#: cases per batch sent to one executor task, at most (smaller batches: finer progress and balance)
MAX_BATCH_CASES = 25
#: without a terminal, progress lines start after this long and come at most this often
PROGRESS_AFTER_SECONDS = 2.0
PROGRESS_LOG_INTERVAL_SECONDS = 10.0


# --------------------------------------------------------------------------------------------------
# The suite


def load_suite(suite_dir: str | os.PathLike) -> dict[str, Any]:
    """``SUITE/suite.json``, checked: its format, and that every case it lists has its case.json and model."""
    suite = Path(suite_dir)
    index_path = suite / "suite.json"
    if not suite.is_dir():
        raise InputError(f"{suite_dir}: no such suite directory")
    if not index_path.is_file():
        raise InputError(f"{suite_dir}: not a conformance suite (no suite.json; make one with "
                         f"`refinterp conformance generate {suite_dir}`)")
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{index_path}: not readable JSON ({one_line(exc)})") from None
    if not isinstance(index, dict) or index.get("format") != SUITE_FORMAT:
        raise InputError(f"{index_path}: not a refinterp conformance suite (format {index.get('format')!r})"
                         if isinstance(index, dict) else f"{index_path}: not a refinterp conformance suite")
    if index.get("format_version") != SUITE_FORMAT_VERSION:
        raise InputError(f"{index_path}: suite format version {index.get('format_version')!r}; this refinterp "
                         f"reads version {SUITE_FORMAT_VERSION}")
    cases = index.get("cases")
    if not isinstance(cases, list) or not all(isinstance(c, str) and c.count("/") == 2 for c in cases):
        raise InputError(f"{index_path}: 'cases' must list case paths OPERATOR/KIND/ID")
    missing = [c for c in cases if not ((suite / c / "case.json").is_file() and (suite / c / "model.tflite").is_file())]
    if missing:
        raise InputError(f"{suite_dir}: {len(missing)} case(s) lack case.json or model.tflite, e.g. {missing[0]}")
    return index


def select_cases(index: dict[str, Any], ops: Sequence[str] | None = None,
                 max_cases_per_kind: int | None = None) -> list[str]:
    """The suite's case ids, in suite order, of the operators ``ops`` (all when None), at most
    ``max_cases_per_kind`` per (operator, kind) directory."""
    cases: list[str] = list(index["cases"])
    if ops:
        present = {c.split("/", 1)[0] for c in cases}
        unknown = [op for op in ops if path_safe(op) not in present]
        if unknown:
            raise InputError(f"--ops: {', '.join(unknown)} not in the suite (it has {len(present)} operators, "
                             f"e.g. {', '.join(sorted(present)[:5])})")
        wanted = {path_safe(op) for op in ops}
        cases = [c for c in cases if c.split("/", 1)[0] in wanted]
    if max_cases_per_kind is not None:
        taken: collections.Counter[str] = collections.Counter()
        kept = []
        for case in cases:
            kind_dir = case.rsplit("/", 1)[0]
            if taken[kind_dir] < max_cases_per_kind:
                taken[kind_dir] += 1
                kept.append(case)
        cases = kept
    if not cases:
        raise InputError("no case to run (the suite is empty, or the filters left nothing)")
    return cases


def _numbered_files(directory: Path, prefix: str) -> list[Path]:
    """``<prefix><i>.npy`` for i = 0, 1, ... while they exist."""
    files = []
    while (directory / f"{prefix}{len(files)}.npy").is_file():
        files.append(directory / f"{prefix}{len(files)}.npy")
    return files


# --------------------------------------------------------------------------------------------------
# The runtime under test


@dataclass(frozen=True)
class Against:
    """What ``--against`` names: a refinterp.runtimes runtime, an external command, or a Python callable."""

    spec: str
    kind: str  # "runtime" | "command" | "python"
    runtime: str | None = None  # the get_runtime spec
    profile: str | None = None  # refinterp's profile (runtime "refinterp")
    command: tuple[str, ...] = ()  # the command template, split into arguments
    module: str | None = None  # python: a module name or a .py file (made absolute)
    function: str | None = None
    #: the directory the runtime runs in: the one the run was started from (a pool or Ray worker may be elsewhere)
    cwd: str = field(default_factory=os.getcwd)

    def working_directory(self) -> str | None:
        """:attr:`cwd` where it exists (on a cluster node it may not: the node's own directory then)."""
        return self.cwd if os.path.isdir(self.cwd) else None

    @property
    def judges_messages(self) -> bool:
        """Whether a refusal's message decides "unsupported": for LiteRT, TFLM and delegates, which say it only in
        words; refinterp says it by its exception type, python: by NotImplementedError, command: by exit status."""
        return self.kind == "runtime" and self.runtime != "refinterp"


def parse_against(spec: str, suite_profile: str = "litert-ref") -> Against:
    """The runtime under test named by ``spec``; a bad spec is a one-line InputError."""
    if not isinstance(spec, str) or not spec:
        raise InputError(f"--against: name a runtime: {AGAINST_HELP}")
    if spec.startswith("command:"):
        template = spec[len("command:"):].strip()
        try:
            arguments = tuple(shlex.split(template))
        except ValueError as exc:
            raise InputError(f"--against {spec!r}: cannot split the command ({exc})") from None
        if not arguments:
            raise InputError("--against command: needs a command, e.g. command:'./run {model} {inputs} {outputs}'")
        used = set()
        for argument in arguments:
            try:
                names = {name for _, name, _, _ in string.Formatter().parse(argument) if name is not None}
            except ValueError as exc:
                raise InputError(f"--against {spec!r}: bad placeholder in {argument!r} ({exc})") from None
            unknown = names - set(COMMAND_FIELDS)
            if unknown:
                raise InputError(f"--against {spec!r}: unknown placeholder {{{sorted(unknown)[0]}}}; the command may "
                                 f"use {', '.join('{' + f + '}' for f in COMMAND_FIELDS)}")
            used |= names
        if "outputs" not in used or not used & {"inputs", "model"}:
            raise InputError(f"--against {spec!r}: the command must take {{outputs}} and {{inputs}} (or {{model}})")
        if shutil.which(arguments[0]) is None:
            raise InputError(f"--against {spec!r}: {arguments[0]}: command not found")
        return Against(spec, "command", command=arguments)
    if spec.startswith("python:"):
        target = spec[len("python:"):]
        module, _, function = target.rpartition(":")
        if not module or not function:
            raise InputError(f"--against {spec!r}: expected python:MODULE:FUNCTION (MODULE a module or a .py file)")
        if _is_file_module(module):
            module = os.path.abspath(module)
        return Against(spec, "python", module=module, function=function)
    if spec.startswith("golden:"):
        raise InputError("--against golden:DIR: a golden DIR is no runtime under test; the suite holds the "
                         "expected outputs")
    if spec == "refinterp" or spec.startswith("refinterp:"):
        profile = spec.partition(":")[2] or suite_profile
        profiles = getattr(ops_common, "ALL_PROFILES", ops_common.PROFILES)
        if profile not in profiles:
            raise InputError(f"--against {spec!r}: unknown refinterp profile {profile!r}; "
                             f"choose one of {', '.join(profiles)}")
        return Against(spec, "runtime", runtime="refinterp", profile=profile)
    if spec in ("litert-ref", "litert", "xnnpack", "tflm") or spec.startswith("delegate:"):
        if spec.startswith("delegate:") and spec != "delegate:":
            return Against(spec, "runtime", runtime="delegate:" + os.path.abspath(spec[len("delegate:"):]))
        return Against(spec, "runtime", runtime=spec)
    raise InputError(f"--against: unknown runtime {spec!r}; choose one of {AGAINST_HELP}")


def _is_file_module(name: str) -> bool:
    return name.endswith(".py") or os.sep in name


def _find_module(against: Against) -> None:
    """InputError unless the ``python:`` module exists (a .py file, or a module the worker can import)."""
    name = against.module or ""
    if _is_file_module(name):
        if not os.path.isfile(name):
            raise InputError(f"--against {against.spec!r}: {name}: no such Python file")
        return
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` would: a module in the current directory
    try:
        found = importlib.util.find_spec(name)
    except (ImportError, ValueError) as exc:
        raise InputError(f"--against {against.spec!r}: cannot import {name}: {one_line(exc)}") from None
    if found is None:
        raise InputError(f"--against {against.spec!r}: cannot import {name}: no such module")


def _load_callable(against: Against) -> Callable[[bytes, list[np.ndarray]], Any]:
    module_name = against.module or ""
    try:
        if _is_file_module(module_name):
            location = importlib.util.spec_from_file_location(Path(module_name).stem, module_name)
            if location is None or location.loader is None or not os.path.isfile(module_name):
                raise InputError(f"--against {against.spec!r}: {module_name}: no such Python file")
            module = importlib.util.module_from_spec(location)
            location.loader.exec_module(module)
        else:
            if os.getcwd() not in sys.path and "" not in sys.path:
                sys.path.insert(0, os.getcwd())  # as `python -m` would: a module in the current directory
            module = importlib.import_module(module_name)
    except RefinterpError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the user's module raises on import is one line
        raise InputError(f"--against {against.spec!r}: cannot import {module_name}: "
                         f"{type(exc).__name__}: {one_line(exc)}") from None
    function = getattr(module, against.function or "", None)
    if not callable(function):
        raise InputError(f"--against {against.spec!r}: {module_name} has no callable {against.function!r}")
    return function


def _make_runtime(against: Against) -> Any:
    if against.runtime == "refinterp":
        return get_runtime("refinterp", profile=against.profile)
    return get_runtime(against.runtime)


def check_against(against: Against) -> str | None:
    """The version of the runtime under test, after checking it can run here (RefinterpError if not)."""
    if against.kind == "command":
        return None
    if against.kind == "python":
        # Found, not imported: the user's module (an SDK that may hold a device, or crash) loads in the worker.
        _find_module(against)
        return None
    runtime = _make_runtime(against)
    version = runtime.version()
    if isinstance(runtime, LiteRTRuntime):
        import_litert_interpreter(runtime.name)
    elif isinstance(runtime, TFLMRuntime):
        import_tflm_runtime()
    if against.runtime == "refinterp":
        version += f", profile {against.profile}"
    return version


CaseRun = Callable[[Path, list[np.ndarray], "str | None"], list[np.ndarray]]


def _case_runner(against: Against) -> CaseRun:
    """``run(model_path, inputs, oracle) -> outputs`` for a runtime or a python: callable (in the worker);
    ``oracle`` is the name case.json gives its oracle."""
    if against.kind == "python":
        function = _load_callable(against)

        def run_callable(model_path: Path, inputs: list[np.ndarray], oracle: str | None) -> list[np.ndarray]:
            outputs = function(model_path.read_bytes(), inputs)
            if isinstance(outputs, np.ndarray) or not isinstance(outputs, (list, tuple)):
                raise InputError(f"{against.spec} returned {type(outputs).__name__}, not a list of arrays")
            return [np.asarray(value) for value in outputs]

        return run_callable
    runtime = _make_runtime(against)
    if against.runtime != "litert-ref":
        return lambda model_path, inputs, oracle: runtime.run(str(model_path), inputs).outputs
    # CEIL, ROUND and ELU are not in LiteRT's BUILTIN_REF resolver: their cases name LiteRT's builtin resolver
    # as the oracle (case.json), and "litert-ref" runs them there too, as the suite's oracle did.
    builtin = get_runtime("litert")

    def run_reference(model_path: Path, inputs: list[np.ndarray], oracle: str | None) -> list[np.ndarray]:
        return (builtin if oracle == "litert" else runtime).run(str(model_path), inputs).outputs

    return run_reference


def refusal_status(exc: BaseException, judges_messages: bool = True) -> str:
    """"unsupported" when a refusal says the runtime has no kernel for the operator, else "error"."""
    if isinstance(exc, (UnsupportedOpError, NotImplementedError)):
        return "unsupported"
    if judges_messages and UNSUPPORTED_MESSAGE.search(str(exc)):
        return "unsupported"
    return "error"


# --------------------------------------------------------------------------------------------------
# Judging one case's outputs


def _histogram_key(delta: int) -> str:
    if delta > HISTOGRAM_EXACT_LIMIT:
        return f">+{HISTOGRAM_EXACT_LIMIT}"
    if delta < -HISTOGRAM_EXACT_LIMIT:
        return f"<-{HISTOGRAM_EXACT_LIMIT}"
    return f"{delta:+d}"


def _float_ordinals(values: np.ndarray) -> np.ndarray:
    """Each float as an integer such that neighbouring floats are one apart (the difference counts ULPs);
    -0.0 and +0.0 are one apart too, so that a difference of 0 ULP means the same bits."""
    width = values.dtype.itemsize
    bits = values.view(np.dtype(f"i{width}")).astype(np.int64)
    magnitude = bits & np.int64((1 << (8 * width - 1)) - 1)
    return np.where(bits < 0, -magnitude - 1, magnitude)


def _scalar(value: Any) -> Any:
    """A JSON-safe Python scalar (floats that are not finite become strings)."""
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


def compare_output(position: int, expected: np.ndarray, actual: np.ndarray | None) -> dict[str, Any]:
    """How one output of the runtime under test differs from the expected one, exactly.

    ``unit`` is "lsb" for integer and bool outputs, "ulp" for floats (NaN against NaN with other bits counts as
    differing by 0 ULP; NaN against a number is unbounded: ``max_diff`` None, ``mismatch`` "nan"), None for
    other dtypes. ``bias`` is the mean signed difference over all elements, in the unit.
    """
    result: dict[str, Any] = {
        "output": position, "dtype": str(expected.dtype), "shape": list(expected.shape), "unit": None,
        "elements": int(expected.size), "differing": 0, "max_diff": 0, "bias": 0.0, "histogram": {},
        "first_difference": None, "mismatch": None, "detail": None,
    }
    if np.issubdtype(expected.dtype, np.floating):
        result["unit"] = "ulp"
    elif np.issubdtype(expected.dtype, np.integer) or expected.dtype == np.bool_:
        result["unit"] = "lsb"
    if actual is None or actual.dtype != expected.dtype or actual.shape != expected.shape:
        mismatch = "missing" if actual is None else "dtype" if actual.dtype != expected.dtype else "shape"
        detail = ("no value" if actual is None else f"{actual.dtype}{list(actual.shape)}, "
                  f"expected {expected.dtype}{list(expected.shape)}")
        result.update(mismatch=mismatch, detail=detail, differing=int(expected.size), max_diff=None, bias=None)
        return result
    flat_expected, flat_actual = expected.reshape(-1), actual.reshape(-1)
    nan_against_number = np.zeros(flat_expected.shape, bool)
    if result["unit"] == "ulp":
        differs = flat_expected.view(np.dtype(f"u{expected.dtype.itemsize}")) != \
            flat_actual.view(np.dtype(f"u{expected.dtype.itemsize}"))
        expected_nan, actual_nan = np.isnan(flat_expected), np.isnan(flat_actual)
        nan_against_number = expected_nan != actual_nan
        if expected.dtype.itemsize < 8:
            delta = _float_ordinals(flat_actual) - _float_ordinals(flat_expected)
        else:  # float64 ordinals can be 2**64 apart: Python integers, on the differing elements only
            delta = np.zeros(flat_expected.shape, object)
            delta[differs] = _float_ordinals(flat_actual[differs]).astype(object) - \
                _float_ordinals(flat_expected[differs]).astype(object)
        delta[expected_nan | actual_nan] = 0
    elif result["unit"] == "lsb":
        delta = flat_actual.astype(np.int64) - flat_expected.astype(np.int64)
        differs = delta != 0
    else:
        differs = flat_actual != flat_expected
        delta = None
    differing = int(np.count_nonzero(differs))
    result["differing"] = differing
    if not differing:
        return result
    first = int(np.flatnonzero(differs)[0])
    result["first_difference"] = {"index": [int(i) for i in np.unravel_index(first, expected.shape)],
                                  "expected": _scalar(flat_expected[first]), "actual": _scalar(flat_actual[first])}
    if delta is None:
        result.update(max_diff=None, bias=None)
        return result
    histogram: collections.Counter[str] = collections.Counter()
    nan_pairs = differs & (np.isnan(flat_expected) | np.isnan(flat_actual)) if result["unit"] == "ulp" else None
    if nan_pairs is not None and nan_pairs.any():
        histogram["nan"] = int(np.count_nonzero(nan_pairs))
    numeric = differs if nan_pairs is None else differs & ~nan_pairs
    values, counts = np.unique(delta[numeric].astype(object) if delta.dtype == object else delta[numeric],
                               return_counts=True)
    for value, count in zip(values.tolist(), counts.tolist(), strict=True):
        histogram[_histogram_key(int(value))] += int(count)
    result["histogram"] = dict(sorted(histogram.items(), key=lambda item: _histogram_order(item[0])))
    magnitudes = [abs(int(v)) for v in values.tolist()]
    result["max_diff"] = max(magnitudes) if magnitudes else 0
    result["bias"] = round(float(sum(int(v) * int(c) for v, c in zip(values.tolist(), counts.tolist(), strict=True))
                                 ) / expected.size, 6)
    if nan_against_number.any():
        result.update(max_diff=None, mismatch="nan",
                      detail=f"{int(np.count_nonzero(nan_against_number))} NaN against a number")
    return result


def _histogram_order(key: str) -> float:
    if key == "nan":
        return math.inf
    if key.startswith("<"):
        return -math.inf
    if key.startswith(">"):
        return math.inf - 1
    return int(key)


def within_tolerance(output: dict[str, Any], tolerance: int, float_tolerance: int) -> bool:
    """Whether one compared output passes: no element differs, or (a tolerance declared for its unit) every
    difference is bounded by it. A dtype, shape, missing-value or NaN mismatch never passes."""
    if output["mismatch"] is not None:
        return False
    if output["differing"] == 0:
        return True
    allowed = {"lsb": tolerance, "ulp": float_tolerance}.get(output["unit"], 0)
    return allowed > 0 and output["max_diff"] is not None and output["max_diff"] <= allowed


def judge_outputs(expected: list[np.ndarray], actual: list[np.ndarray], tolerance: int,
                  float_tolerance: int) -> tuple[str, list[dict[str, Any]], str | None]:
    """(status "pass" or "fail", one comparison per expected output, a one-line reason when it fails)."""
    compared = [compare_output(j, value, actual[j] if j < len(actual) else None) for j, value in enumerate(expected)]
    reasons = []
    if len(actual) > len(expected):
        reasons.append(f"{len(actual)} outputs given, {len(expected)} expected")
    for output in compared:
        if not within_tolerance(output, tolerance, float_tolerance):
            reasons.append(describe_output(output))
    return ("fail" if reasons else "pass"), compared, "; ".join(reasons) or None


def describe_output(output: dict[str, Any]) -> str:
    """One line: how an output differs (its exact figures)."""
    head = f"output {output['output']}"
    if output["mismatch"] in ("missing", "dtype", "shape"):
        return f"{head}: {output['mismatch']} mismatch: {output['detail']}"
    if not output["differing"]:
        return f"{head}: equal"
    unit = (output["unit"] or "").upper()
    text = f"{head}: {output['differing']} of {output['elements']} elements differ"
    if output["max_diff"] is not None:
        text += f", max {output['max_diff']} {unit}, bias {output['bias']:+.4g} {unit}"
    if output["mismatch"] == "nan":
        text += f", {output['detail']}"
    first = output["first_difference"]
    if first is not None:
        text += f", first at {first['index']}: expected {first['expected']}, got {first['actual']}"
    return text


def _case_meta(case_dir: Path, case_id: str) -> dict[str, Any]:
    try:
        meta = json.loads((case_dir / "case.json").read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{case_dir / 'case.json'}: not readable JSON ({one_line(exc)})") from None
    operator, kind_dir, _ = case_id.split("/")
    return {"operator": meta.get("operator", operator), "kind": meta.get("kind", kind_dir),
            "targets": list(meta.get("targets") or []), "seed": meta.get("seed"),
            "verify": meta.get("verify") or {"mode": "exact"}, "oracle": (meta.get("oracle") or {}).get("name"),
            "inputs": len(meta["inputs"]) if isinstance(meta.get("inputs"), list) else None}


def _base_result(case_id: str, meta: dict[str, Any]) -> dict[str, Any]:
    return {"id": case_id, "operator": meta["operator"], "kind": meta["kind"], "targets": meta["targets"],
            "seed": meta["seed"], "status": "error", "message": None, "exact": False, "seconds": None,
            "max_lsb": None, "max_ulp": None, "outputs": []}


def _finish_result(result: dict[str, Any], meta: dict[str, Any], outputs: list[np.ndarray] | None,
                   expected: list[np.ndarray], refusal: BaseException | None, tolerance: int, float_tolerance: int,
                   judges_messages: bool) -> dict[str, Any]:
    """Fill a case result in from what the runtime gave (``outputs``) or the exception it refused with."""
    mode = meta["verify"].get("mode", "exact")
    if mode == "reject":  # a case built invalid on purpose: the runtime must refuse it
        if refusal is not None:
            result.update(status="pass", exact=True, message=f"refused as expected: {one_line(refusal)}")
        else:
            result.update(status="fail", message="ran a case built to be refused (an invalid model)")
        return result
    if mode != "exact":
        result.update(status="error", message=f"case.json: unknown verify mode {mode!r}")
        return result
    if refusal is not None:
        result.update(status=refusal_status(refusal, judges_messages), message=one_line(refusal))
        return result
    assert outputs is not None
    status, compared, reason = judge_outputs(expected, outputs, tolerance, float_tolerance)
    result.update(status=status, message=reason, outputs=compared,
                  exact=len(outputs) == len(expected) and all(o["differing"] == 0 and o["mismatch"] is None
                                                              for o in compared))
    for unit in ("lsb", "ulp"):
        diffs = [o["max_diff"] for o in compared if o["unit"] == unit]
        result[f"max_{unit}"] = None if not diffs or None in diffs else max(diffs)
    if status == "pass" and not result["exact"]:
        result["message"] = "within tolerance: " + "; ".join(describe_output(o) for o in compared if o["differing"])
    return result


def judge_case(suite_dir: str, case_id: str, run: CaseRun,
               tolerance: int, float_tolerance: int, judges_messages: bool = True) -> dict[str, Any]:
    """One case through ``run(model_path, inputs) -> outputs``, judged (in the worker process)."""
    case_dir = Path(suite_dir) / case_id
    meta = _case_meta(case_dir, case_id)
    result = _base_result(case_id, meta)
    inputs = [load_npy(p) for p in _numbered_files(case_dir, "input_")]
    expected = [load_npy(p) for p in _numbered_files(case_dir, "expected_")]
    outputs, refusal = None, None
    started = time.perf_counter()
    try:
        outputs = run(case_dir / "model.tflite", inputs, meta["oracle"])
    except Exception as exc:  # noqa: BLE001 - whatever the runtime under test raises is its refusal
        refusal = exc
    result["seconds"] = round(time.perf_counter() - started, 6)
    return _finish_result(result, meta, outputs, expected, refusal, tolerance, float_tolerance, judges_messages)


# --------------------------------------------------------------------------------------------------
# The worker subprocess: runs the runtime under test; crashes and hangs stay in it


def worker_main(against_json: str) -> int:
    """The worker subprocess: one JSON request per stdin line, one JSON case result per line on the protocol
    stream (the original stdout; whatever the runtime prints goes to stderr)."""
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    against = Against(**{**json.loads(against_json), "command": ()})
    run, runner_error = None, None
    try:
        run = _case_runner(against)
    except Exception as exc:  # noqa: BLE001 - sent back in place of the first result: the run stops
        runner_error = exc
    for line in sys.stdin:
        request = json.loads(line)
        if runner_error is not None:  # the runtime cannot even be set up: the run stops (exit status 2)
            protocol.write(json.dumps({"id": request["id"], "setup_error": one_line(runner_error)}) + "\n")
            continue
        try:
            result = judge_case(request["suite"], request["id"], run, request["tolerance"],
                                request["float_tolerance"], against.judges_messages)
        except Exception as exc:  # noqa: BLE001 - a broken case file: that case errs, the worker goes on
            result = {"id": request["id"], "status": "error", "message": f"cannot read the case: {one_line(exc)}"}
        protocol.write(json.dumps(result) + "\n")
    return 0


_WORKER_CODE = "import sys; from refinterp.tools.conformance.run import worker_main; sys.exit(worker_main(sys.argv[1]))"


def _signal_text(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exited with status {returncode}"


def _last_words(lines: Sequence[str]) -> str:
    """The last line a runtime wrote that says something (LiteRT's "INFO: Created ... delegate" does not)."""
    telling = [line.strip() for line in lines if line.strip() and not line.strip().startswith("INFO:")]
    return (telling or [""])[-1][:200]


class _Worker:
    """A worker subprocess and the threads that read its streams."""

    def __init__(self, against: Against, threads: int | None):
        env = dict(os.environ)
        # the worker imports what this process imports (python: modules from the current directory too)
        env["PYTHONPATH"] = os.pathsep.join([against.working_directory() or os.getcwd(), *[p for p in sys.path if p]])
        if threads is not None:
            for name in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
                env[name] = str(threads)
        self.process = subprocess.Popen(
            [sys.executable, "-c", _WORKER_CODE, json.dumps(asdict(against))], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, bufsize=1,
            cwd=against.working_directory())
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=20)
        self.readers = [threading.Thread(target=self._read_stdout, daemon=True),
                        threading.Thread(target=self._read_stderr, daemon=True)]
        for reader in self.readers:
            reader.start()

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            if line.strip():
                self.stderr_tail.append(line.strip())

    def last_words(self) -> str:
        self.readers[1].join(timeout=2)
        return _last_words(list(self.stderr_tail))

    def ask(self, request: dict[str, Any], timeout: float) -> tuple[dict[str, Any] | None, str | None]:
        """(the case result, None), or (None, why the worker died or was killed)."""
        try:
            assert self.process.stdin is not None
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the worker is gone: the read below says how
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            self.kill()
            return None, f"timed out after {timeout:g} s (the runtime was killed)"
        if line is None:
            returncode = self.process.wait()
            words = self.last_words()
            return None, f"the runtime crashed: {_signal_text(returncode)}" + (f": {words}" if words else "")
        return json.loads(line), None

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()
        self.process.wait()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            if self.process.stdin is not None:
                self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()


#: the worker subprocess of each runtime under test in this process (a pool or Ray worker keeps its own)
_WORKERS: dict[str, _Worker] = {}


def close_workers() -> None:
    while _WORKERS:
        _WORKERS.popitem()[1].close()


atexit.register(close_workers)


# --------------------------------------------------------------------------------------------------
# command: runtimes, one subprocess per case


def _run_command_case(suite_dir: str, case_id: str, against: Against, tolerance: int, float_tolerance: int,
                      timeout: float) -> dict[str, Any]:
    case_dir = Path(suite_dir) / case_id
    meta = _case_meta(case_dir, case_id)
    result = _base_result(case_id, meta)
    expected = [load_npy(p) for p in _numbered_files(case_dir, "expected_")]
    with tempfile.TemporaryDirectory(prefix="refinterp-case-") as scratch:
        inputs_dir, outputs_dir = Path(scratch) / "inputs", Path(scratch) / "outputs"
        inputs_dir.mkdir()
        outputs_dir.mkdir()
        # only the model and the inputs: the command never sees the expected outputs
        for source in [case_dir / "model.tflite", *_numbered_files(case_dir, "input_")]:
            shutil.copyfile(source, inputs_dir / source.name)
        fields = {"model": str(inputs_dir / "model.tflite"), "inputs": str(inputs_dir), "outputs": str(outputs_dir)}
        arguments = [argument.format(**fields) for argument in against.command]
        started = time.perf_counter()
        try:
            process = subprocess.Popen(arguments, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, start_new_session=True,
                                       cwd=against.working_directory())
        except OSError as exc:
            result.update(message=f"cannot start {arguments[0]}: {exc.strerror or exc}")
            return result
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            result.update(message=f"timed out after {timeout:g} s (the command was killed)",
                          seconds=round(time.perf_counter() - started, 6))
            return result
        result["seconds"] = round(time.perf_counter() - started, 6)
        last_words = _last_words((stderr or stdout or b"").decode("utf-8", "replace").splitlines())
        refusal: BaseException | None = None
        if process.returncode == UNSUPPORTED_EXIT_STATUS:
            refusal = NotImplementedError(last_words or f"exit status {UNSUPPORTED_EXIT_STATUS}: unsupported")
        elif process.returncode < 0:  # a crash is never a refusal, even of a case built to be refused
            result.update(message=f"the command crashed: {_signal_text(process.returncode)}"
                                  + (f": {last_words}" if last_words else ""))
            return result
        elif process.returncode != 0:
            refusal = RuntimeError(f"{_signal_text(process.returncode)}" + (f": {last_words}" if last_words else ""))
        outputs: list[np.ndarray] | None = None
        if refusal is None:
            try:
                outputs = [load_npy(path) for path in _numbered_files(outputs_dir, "output_")]
            except RefinterpError as exc:
                result.update(message=f"the command wrote an unreadable output: {one_line(exc)}")
                return result
            if not outputs and expected:
                result.update(message="the command exited 0 but wrote no output_0.npy")
                return result
    return _finish_result(result, meta, outputs, expected, refusal, tolerance, float_tolerance,
                          against.judges_messages)


# --------------------------------------------------------------------------------------------------
# Batches: what one executor task runs


@dataclass(frozen=True)
class Batch:
    """Cases for one executor task (picklable: it travels to pool and Ray workers)."""

    suite_dir: str
    case_ids: tuple[str, ...]
    against: Against
    tolerance: int = 0
    float_tolerance: int = 0
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    threads: int | None = None  # threads of the worker subprocess (1 when several run in parallel)


def _error_result(suite_dir: str, case_id: str, message: str) -> dict[str, Any]:
    """An "error" result for a case the runtime never finished (its operator and kind from its case.json)."""
    try:
        meta = _case_meta(Path(suite_dir) / case_id, case_id)
    except RefinterpError:
        operator, kind_dir, _ = case_id.split("/")
        meta = {"operator": operator, "kind": kind_dir, "targets": [], "seed": None}
    return {**_base_result(case_id, meta), "message": message}


def run_batch(batch: Batch) -> list[dict[str, Any]]:
    """Every case of the batch through the runtime under test; one result per case, in order."""
    results = []
    for case_id in batch.case_ids:
        if batch.against.kind == "command":
            try:
                results.append(_run_command_case(batch.suite_dir, case_id, batch.against, batch.tolerance,
                                                 batch.float_tolerance, batch.timeout))
            except RefinterpError as exc:
                results.append(_error_result(batch.suite_dir, case_id, f"cannot read the case: {one_line(exc)}"))
            continue
        key = json.dumps([asdict(batch.against), batch.threads])
        worker = _WORKERS.get(key)
        if worker is None:
            worker = _WORKERS[key] = _Worker(batch.against, batch.threads)
        request = {"suite": batch.suite_dir, "id": case_id, "tolerance": batch.tolerance,
                   "float_tolerance": batch.float_tolerance}
        result, failure = worker.ask(request, batch.timeout)
        if result is None:
            _WORKERS.pop(key, None)
            results.append(_error_result(batch.suite_dir, case_id, failure or "the runtime failed"))
            continue
        if "setup_error" in result:
            raise InputError(result["setup_error"])
        if "outputs" not in result:  # the worker could not read the case
            result = {**_error_result(batch.suite_dir, case_id, result.get("message") or ""), **result, "outputs": []}
        results.append(result)
    return results


def _batches(case_ids: list[str], jobs: int) -> list[tuple[str, ...]]:
    """Consecutive slices of the cases: several per worker (balance, progress), at most MAX_BATCH_CASES each."""
    size = max(1, min(MAX_BATCH_CASES, math.ceil(len(case_ids) / (4 * jobs))))
    return [tuple(case_ids[i:i + size]) for i in range(0, len(case_ids), size)]


# --------------------------------------------------------------------------------------------------
# The run


class RunProgress(StatusLine):
    """``conformance: 120/5000 cases, 12 s`` on stderr on long runs; nothing on quick ones."""

    after = PROGRESS_AFTER_SECONDS
    log_after = log_interval = PROGRESS_LOG_INTERVAL_SECONDS

    def __call__(self, done: int, total: int) -> None:
        elapsed = time.monotonic() - self.started
        self.show(f"conformance: {done}/{total} cases, {elapsed:.0f} s", final=done == total)


def summarize(cases: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (operator, kind), in suite order: case counts by status and the exact figures."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for case in cases:
        key = (case["operator"], case["kind"])
        row = rows.setdefault(key, {"operator": key[0], "kind": key[1], "cases": 0, **dict.fromkeys(STATUSES, 0),
                                    "inexact": 0, "max_lsb": None, "max_ulp": None, "bias_lsb": None,
                                    "histogram_lsb": {}, "_sum": 0.0, "_elements": 0})
        row["cases"] += 1
        row[case["status"]] += 1
        if case["status"] == "pass" and not case["exact"]:
            row["inexact"] += 1
        for unit in ("lsb", "ulp"):
            value = case.get(f"max_{unit}")
            if value is not None:
                row[f"max_{unit}"] = max(row[f"max_{unit}"] or 0, value)
        for output in case.get("outputs", []):
            if output["unit"] == "lsb" and output["bias"] is not None:
                row["_sum"] += output["bias"] * output["elements"]
                row["_elements"] += output["elements"]
                for key_, count in output["histogram"].items():
                    row["histogram_lsb"][key_] = row["histogram_lsb"].get(key_, 0) + count
    for row in rows.values():
        elements, total = row.pop("_elements"), row.pop("_sum")
        row["bias_lsb"] = round(total / elements, 6) if elements else None
        row["histogram_lsb"] = dict(sorted(row["histogram_lsb"].items(), key=lambda item: _histogram_order(item[0])))
    return list(rows.values())


def exit_status(counts: dict[str, int], unsupported_fails: bool = False) -> int:
    """0: every case passed (or is unsupported, unless ``unsupported_fails``); 1: a case failed or erred."""
    bad = counts.get("fail", 0) + counts.get("error", 0) + (counts.get("unsupported", 0) if unsupported_fails else 0)
    return EXIT_MISMATCH if bad else EXIT_OK


def run_suite(suite_dir: str | os.PathLike, against: str, *, jobs: int = 1, tolerance: int = 0, ops: Sequence[str] |
              None = None, executor: str = "local", address: str | None = None,
              progress: Callable[[int, int], None] | None = None, float_tolerance: int = 0,
              timeout: float = DEFAULT_TIMEOUT_SECONDS, max_cases_per_kind: int | None = None,
              unsupported_fails: bool = False) -> dict[str, Any]:
    """Run every case of the suite (of the operators ``ops``) through the runtime ``against``; the report dict
    (its schema: docs/conformance.schema.json). ``progress(done, total)`` is called as cases finish.

    Raises a RefinterpError (one line) for a bad suite, runtime spec or argument; never for a case.
    """
    for name, value in (("tolerance", tolerance), ("float tolerance", float_tolerance)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InputError(f"{name} must be a whole number of LSB/ULP >= 0, not {value!r}")
    if not (isinstance(timeout, (int, float)) and timeout > 0):
        raise InputError(f"timeout must be a number of seconds > 0, not {timeout!r}")
    if executor not in EXECUTORS:
        raise InputError(f"unknown executor {executor!r}: expected one of {', '.join(EXECUTORS)}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise InputError(f"jobs must be a whole number >= 1, not {jobs!r}")
    suite_path = os.path.abspath(os.fspath(suite_dir))
    index = load_suite(suite_path)
    profile = index.get("profile") or "litert-ref"
    target = parse_against(against, profile)
    version = check_against(target)
    case_ids = select_cases(index, ops, max_cases_per_kind)

    parallel = jobs > 1 or executor == "ray"
    slices = _batches(case_ids, jobs)
    batches = [Batch(suite_path, ids, target, tolerance, float_tolerance, float(timeout), 1 if parallel else None)
               for ids in slices]
    sizes = [len(ids) for ids in slices]

    def counted(done_batches: int, total_batches: int) -> None:
        if progress is not None:
            progress(sum(sizes[:done_batches]), len(case_ids))

    started = time.perf_counter()
    try:
        outcome = run_tasks(run_batch, batches, jobs=jobs, executor=executor,
                            address=address, progress=counted, return_exceptions=True)
    finally:
        if not parallel:
            close_workers()
    seconds = time.perf_counter() - started

    cases: list[dict[str, Any]] = []
    setup_errors = [r for r in outcome if isinstance(r, InputError)]
    if setup_errors:  # the runtime under test could not be set up (a python: module that fails to import)
        raise setup_errors[0]
    for batch, results in zip(batches, outcome, strict=True):
        if isinstance(results, BaseException):  # the task itself failed (its worker process died)
            results = [_error_result(suite_path, case_id, f"{type(results).__name__}: {one_line(results)}")
                       for case_id in batch.case_ids]
        cases.extend(results)
    counts = {status: sum(1 for c in cases if c["status"] == status) for status in STATUSES}
    status = exit_status(counts, unsupported_fails)
    return {
        "format": REPORT_FORMAT,
        "suite": {"path": suite_path, "profile": profile, "format_version": index.get("format_version"),
                  "generator": index.get("generator"), "oracle": index.get("oracle"), "total": len(index["cases"])},
        "against": {"spec": against, "kind": target.kind, "version": version},
        "verify": {"tolerance_lsb": tolerance, "tolerance_ulp": float_tolerance, "timeout_seconds": float(timeout),
                   "unsupported_fails": bool(unsupported_fails)},
        "selection": {"ops": list(ops) if ops else None, "max_cases_per_kind": max_cases_per_kind},
        "executor": {"name": executor, "jobs": jobs, "address": address},
        "seconds": round(seconds, 3),
        "counts": {"cases": len(cases), **counts},
        "exit_status": status,
        "summary": summarize(cases),
        "cases": cases,
    }



# --------------------------------------------------------------------------------------------------
# Command line


def _build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="refinterp conformance run",
        description="Run every case of a conformance suite through a runtime under test and check its outputs "
                    "against the suite's expected ones. Exit 0: every case passed (unsupported ones allowed "
                    "unless --unsupported-fails); 1: a case failed or erred; 2: bad arguments or suite.")
    parser.add_argument("suite", metavar="SUITE", help="the suite directory (refinterp conformance generate)")
    parser.add_argument("--against", required=True, metavar="RUNTIME", help=f"the runtime under test: {AGAINST_HELP}")
    add_executor_arguments(parser)
    parser.add_argument("--tolerance", type=int, default=0, metavar="LSB",
                        help="pass integer outputs within this many LSB (default 0: exact); the report still "
                             "gives the exact figures")
    parser.add_argument("--float-tolerance", type=int, default=0, metavar="ULP",
                        help="pass float outputs within this many ULP (default 0: bit for bit)")
    parser.add_argument("--ops", action="extend", type=lambda text: [op for op in text.split(",") if op],
                        metavar="OP,...", help="run only these operators' cases")
    parser.add_argument("--max-cases-per-kind", type=int, default=None, metavar="N",
                        help="run at most the first N cases of each operator and dtype")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS, metavar="SECONDS",
                        help=f"time limit of one case (default {DEFAULT_TIMEOUT_SECONDS:g}); past it the runtime is "
                             "killed and the case is an error")
    parser.add_argument("--unsupported-fails", action="store_true",
                        help="count unsupported cases as failures in the exit status")
    parser.add_argument("--junit", metavar="PATH", help="write a JUnit XML report (one testcase per case)")
    parser.add_argument("--json", metavar="PATH", help="write the JSON report ('-': stdout, no table)")
    parser.add_argument("--html", metavar="PATH", help="write a self-contained HTML report")
    parser.add_argument("--no-progress", action="store_true", help="never show the progress line on stderr")
    return parser


def _write_text(path: str, text: str, what: str) -> None:
    if path == "-":
        sys.stdout.write(text)
        return
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write the {what} {path}: {exc.strerror or exc}") from None


def run_main(argv: Sequence[str]) -> int:
    """``refinterp conformance run``; the exit status (bad arguments raise a one-line RefinterpError: exit 2)."""
    args = _build_parser().parse_args(list(argv))
    check_executor_arguments(args)
    if args.tolerance < 0 or args.float_tolerance < 0:
        raise InputError("--tolerance and --float-tolerance must be >= 0")
    if args.max_cases_per_kind is not None and args.max_cases_per_kind < 1:
        raise InputError("--max-cases-per-kind must be >= 1")
    if not args.timeout > 0:
        raise InputError("--timeout must be > 0 seconds")
    for path, what in ((args.junit, "--junit"), (args.html, "--html"), (args.json, "--json")):
        if path and path != "-" and Path(path).is_dir():
            raise InputError(f"{what} {path}: is a directory (give a file name)")
    progress = RunProgress(enabled=not args.no_progress)
    try:
        report = run_suite(args.suite, args.against, jobs=args.jobs, tolerance=args.tolerance, ops=args.ops,
                           executor=args.executor, address=args.address, progress=progress,
                           float_tolerance=args.float_tolerance, timeout=args.timeout,
                           max_cases_per_kind=args.max_cases_per_kind, unsupported_fails=args.unsupported_fails)
    finally:
        progress.close()
    if args.json == "-":
        _write_text("-", json.dumps(report, indent=1) + "\n", "JSON report")
    else:
        print(reports.format_summary(report))
        if args.json:
            _write_text(args.json, json.dumps(report, indent=1) + "\n", "JSON report")
    if args.junit:
        _write_text(args.junit, reports.junit_xml(report), "JUnit report")
    if args.html:
        _write_text(args.html, reports.html_report(report), "HTML report")
    return report["exit_status"]


__all__ = ["EXIT_ERROR", "REPORT_FORMAT", "STATUSES", "Against", "Batch", "compare_output", "judge_outputs",
           "load_suite", "parse_against", "run_batch", "run_main", "run_suite", "summarize"]
